//! A [`Report`] as text: aligned tables for a terminal, Markdown tables, and CSV rows for
//! a spreadsheet. (JSON is the report's `serde` form.)

use std::fmt::Write;

use super::report::{DurationSummary, GroupReport, KpiValue, Report, VersionReport};
use crate::graph::KpiGoal;

/// How a report is written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// Columns aligned with spaces, for a terminal.
    Table,
    /// GitHub-flavoured Markdown tables.
    Markdown,
}

/// A duration for people: `45s`, `25m`, `1h 30m`, `2d 4h`.
pub fn duration(seconds: f64) -> String {
    let total = seconds.round().max(0.0) as u64;
    let (days, hours, minutes, secs) = (
        total / 86_400,
        total % 86_400 / 3_600,
        total % 3_600 / 60,
        total % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn optional(value: Option<f64>, show: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "–".to_owned(), show)
}

/// A median as `25m`, with working time when it was measured (`25m (work 20m)`).
fn median(summary: &DurationSummary) -> String {
    match (summary.median_secs, summary.working_median_secs) {
        (None, _) => "–".to_owned(),
        (Some(wall), Some(working)) if (wall - working).abs() >= 1.0 => {
            format!("{} (work {})", duration(wall), duration(working))
        }
        (Some(wall), _) => duration(wall),
    }
}

/// The figure of a KPI in one cell: `median 25m · 90.0% ≤ 1h`, `4.21 (n=9)`, `+22`.
pub fn kpi_cell(value: &KpiValue, target: Option<&str>) -> String {
    match value {
        KpiValue::Duration {
            times,
            share_within_target,
            ..
        } => match (share_within_target, target) {
            (Some(share), Some(target)) => {
                format!("{} · {} ≤ {target}", median(times), percent(*share))
            }
            _ => median(times),
        },
        KpiValue::Mean { responses, mean } => {
            format!("{} (n={responses})", optional(*mean, |m| format!("{m:.2}")))
        }
        KpiValue::Nps {
            responses, score, ..
        } => format!(
            "{} (n={responses})",
            optional(*score, |s| format!("{s:+.0}"))
        ),
        KpiValue::Sla {
            met,
            breached,
            share,
            ..
        } => format!("{} ({met}/{})", optional(*share, percent), met + breached),
        KpiValue::Rate {
            took, cases, share, ..
        } => format!("{} ({took}/{cases})", optional(*share, percent)),
    }
}

/// Cases not yet counted by a KPI (open, or finished without reaching its end).
fn kpi_censored(value: &KpiValue) -> String {
    match value {
        KpiValue::Duration {
            censored,
            not_reached,
            ..
        } if *not_reached > 0 => format!("{censored} open, {not_reached} never reached"),
        KpiValue::Duration { censored, .. }
        | KpiValue::Sla { censored, .. }
        | KpiValue::Rate { censored, .. } => format!("{censored} open"),
        KpiValue::Mean { .. } | KpiValue::Nps { .. } => String::new(),
    }
}

fn met(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    }
}

/// Rows of cells under a heading row; numbers right-aligned.
struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(headers: &[(&str, bool)]) -> Table {
        Table {
            headers: headers.iter().map(|(h, _)| (*h).to_owned()).collect(),
            right: headers.iter().map(|(_, r)| *r).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn write(&self, out: &mut String, format: TextFormat) {
        match format {
            TextFormat::Table => self.plain(out),
            TextFormat::Markdown => self.markdown(out),
        }
    }

    fn plain(&self, out: &mut String) {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .chain(std::iter::once(&self.headers[i]))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String], out: &mut String| {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let width = widths.get(i).copied().unwrap_or(0);
                let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
                if i > 0 {
                    text.push_str("  ");
                }
                if self.right.get(i).copied().unwrap_or(false) {
                    text.push_str(&pad);
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    text.push_str(&pad);
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.headers, out);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&rule, out);
        for row in &self.rows {
            line(row, out);
        }
    }

    fn markdown(&self, out: &mut String) {
        let escape = |cell: &str| cell.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| {} |",
            self.headers
                .iter()
                .map(|h| escape(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(
            out,
            "|{}|",
            self.right
                .iter()
                .map(|&r| if r { "---:" } else { "---" })
                .collect::<Vec<_>>()
                .join("|")
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} |",
                row.iter()
                    .map(|c| escape(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
    }
}

fn heading(out: &mut String, format: TextFormat, level: usize, text: &str) {
    match format {
        TextFormat::Table => {
            let _ = writeln!(out, "{text}");
        }
        TextFormat::Markdown => {
            let _ = writeln!(out, "{} {text}", "#".repeat(level));
        }
    }
    out.push('\n');
}

fn group_name(group: &GroupReport) -> (String, String) {
    (
        group.period.map_or_else(String::new, |p| p.to_string()),
        match (&group.segment, group.period) {
            (Some(segment), _) => segment.clone(),
            (None, _) => "(none)".to_owned(),
        },
    )
}

/// The report as aligned tables or Markdown: per version, the KPIs of every case, the
/// KPIs per group, the steps, the edges taken and the most frequent paths.
pub fn text(report: &Report, format: TextFormat) -> String {
    sections(report, format, true)
}

/// Only the KPI tables of the report (every case, then per group): the summary a run of
/// cases ends with.
pub fn kpis(report: &Report, format: TextFormat) -> String {
    sections(report, format, false)
}

fn sections(report: &Report, format: TextFormat, process: bool) -> String {
    let mut out = String::new();
    for version in &report.versions {
        version_text(&mut out, report, version, format, process);
    }
    if report.versions.is_empty() {
        let _ = writeln!(out, "no case of SOP `{}` to report on", report.sop);
    }
    out
}

fn version_text(
    out: &mut String,
    report: &Report,
    version: &VersionReport,
    format: TextFormat,
    process: bool,
) {
    let total = &version.total;
    heading(
        out,
        format,
        2,
        &format!("{} version {}", report.sop, version.version),
    );
    let clock = match &version.calendar {
        Some(calendar) => format!(
            "times are wall-clock, with working time in calendar `{calendar}` ({}) where it differs",
            report.zone
        ),
        None => "times are wall-clock (the SOP has no calendar)".to_owned(),
    };
    let _ = writeln!(
        out,
        "{} cases: {} closed, {} cancelled, {} open (censored: counted, not judged); {clock}.",
        total.cases, total.closed, total.cancelled, total.open
    );
    if report.skipped > 0 {
        let _ = writeln!(
            out,
            "{} cases opened outside --since/--until left out.",
            report.skipped
        );
    }
    out.push('\n');

    if !version.kpis.is_empty() {
        heading(out, format, 3, "KPIs");
        let mut table = Table::new(&[
            ("KPI", false),
            ("measures", false),
            ("value", true),
            ("target", true),
            ("goal", true),
            ("met", false),
            ("not counted", false),
        ]);
        for (definition, result) in version.kpis.iter().zip(&total.kpis) {
            table.row(vec![
                definition.title.clone(),
                definition.measures.clone(),
                kpi_cell(&result.value, definition.target_label.as_deref()),
                definition.target_label.clone().unwrap_or_default(),
                definition.goal_label.clone().unwrap_or_default(),
                met(result.met).to_owned(),
                kpi_censored(&result.value),
            ]);
        }
        table.write(out, format);
        out.push('\n');
    }

    if !version.groups.is_empty() {
        let by = match (report.period, &report.segment) {
            (Some(period), Some(segment)) => format!(
                "KPIs by {} and {segment}",
                serde_json::to_value(period)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
            (Some(period), None) => format!(
                "KPIs by {}",
                serde_json::to_value(period)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
            (None, Some(segment)) => format!("KPIs by {segment}"),
            (None, None) => "KPIs by group".to_owned(),
        };
        heading(out, format, 3, &by);
        let mut headers: Vec<(String, bool)> = Vec::new();
        if report.period.is_some() {
            headers.push(("period".to_owned(), false));
        }
        if let Some(segment) = &report.segment {
            headers.push((segment.to_string(), false));
        }
        headers.push(("cases".to_owned(), true));
        headers.push(("open".to_owned(), true));
        for definition in &version.kpis {
            headers.push((definition.title.clone(), true));
        }
        let header_refs: Vec<(&str, bool)> =
            headers.iter().map(|(h, r)| (h.as_str(), *r)).collect();
        let mut table = Table::new(&header_refs);
        for group in &version.groups {
            let (period, segment) = group_name(group);
            let mut cells = Vec::new();
            if report.period.is_some() {
                cells.push(period);
            }
            if report.segment.is_some() {
                cells.push(segment);
            }
            cells.push(group.cases.to_string());
            cells.push(group.open.to_string());
            for (definition, result) in version.kpis.iter().zip(&group.kpis) {
                let mark = match result.met {
                    Some(false) => " ✗",
                    _ => "",
                };
                cells.push(format!(
                    "{}{mark}",
                    kpi_cell(&result.value, definition.target_label.as_deref())
                ));
            }
            table.row(cells);
        }
        table.write(out, format);
        out.push('\n');
    }

    if !process {
        return;
    }
    if !version.steps.is_empty() {
        heading(out, format, 3, "Steps");
        let mut table = Table::new(&[
            ("step", false),
            ("activations", true),
            ("reworked cases", true),
            ("breached", true),
            ("waiting (median)", true),
            ("working (median)", true),
            ("active (median)", true),
            ("still active", true),
        ]);
        for step in &version.steps {
            table.row(vec![
                step.step.to_string(),
                step.activations.to_string(),
                step.reworked_cases.to_string(),
                step.breach_rate.map_or_else(String::new, |rate| {
                    format!("{} ({}/{})", percent(rate), step.breached, step.with_due)
                }),
                median(&step.waiting),
                median(&step.working),
                median(&step.active),
                step.still_active.to_string(),
            ]);
        }
        table.write(out, format);
        out.push('\n');
    }

    if !version.edges.is_empty() {
        heading(out, format, 3, "Edges taken");
        let mut table = Table::new(&[
            ("from", false),
            ("to", false),
            ("when", false),
            ("taken", true),
            ("cases", true),
        ]);
        for edge in &version.edges {
            table.row(vec![
                edge.from.clone(),
                edge.to.clone(),
                edge.label.clone(),
                edge.taken.to_string(),
                edge.cases.to_string(),
            ]);
        }
        table.write(out, format);
        out.push('\n');
    }

    if !version.variants.is_empty() {
        heading(out, format, 3, "Most frequent paths (closed cases)");
        let mut table = Table::new(&[
            ("cases", true),
            ("share", true),
            ("opened → closed (median)", true),
            ("steps", false),
        ]);
        for variant in &version.variants {
            table.row(vec![
                variant.cases.to_string(),
                percent(variant.cases as f64 / version.variant_cases.max(1) as f64),
                median(&variant.duration),
                variant
                    .steps
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" → "),
            ]);
        }
        table.write(out, format);
        if version.other_variants > 0 {
            let _ = writeln!(
                out,
                "\n{} more closed cases took other paths.",
                version.other_variants
            );
        }
        out.push('\n');
    }
}

/// The KPIs as CSV, one row per KPI per group (and `total` rows for every case of a
/// version), with a header row: what a spreadsheet or BI tool imports. `value` is the
/// headline figure (seconds for a duration's median, the mean, the score, or a share from
/// 0 to 1), `target` is in seconds for durations (or as written for business days), and
/// `goal` is a share with its direction (`>=0.9`, `<=0.1`).
pub fn csv(report: &Report) -> String {
    let mut out = String::from(
        "version,group,period,segment,kpi,kind,cases,open,count,value,share_within_target,target,goal,met,censored\n",
    );
    for version in &report.versions {
        let groups = std::iter::once(("total", &version.total))
            .chain(version.groups.iter().map(|g| ("group", g)));
        for (kind_of_group, group) in groups {
            for (definition, result) in version.kpis.iter().zip(&group.kpis) {
                let (count, share_within, censored) = match &result.value {
                    KpiValue::Duration {
                        times,
                        share_within_target,
                        censored,
                        ..
                    } => (times.count, *share_within_target, *censored),
                    KpiValue::Mean { responses, .. } | KpiValue::Nps { responses, .. } => {
                        (*responses, None, 0)
                    }
                    KpiValue::Sla {
                        met,
                        breached,
                        censored,
                        ..
                    } => (met + breached, None, *censored),
                    KpiValue::Rate {
                        cases, censored, ..
                    } => (*cases, None, *censored),
                };
                let cells = [
                    version.version.to_string(),
                    kind_of_group.to_owned(),
                    group.period.map_or_else(String::new, |p| p.to_string()),
                    group.segment.clone().unwrap_or_default(),
                    definition.id.to_string(),
                    definition.kind.to_owned(),
                    group.cases.to_string(),
                    group.open.to_string(),
                    count.to_string(),
                    result
                        .value
                        .headline()
                        .map_or_else(String::new, |v| format!("{v}")),
                    share_within.map_or_else(String::new, |v| format!("{v}")),
                    definition.target.map_or_else(
                        || definition.target_label.clone().unwrap_or_default(),
                        |t| format!("{t}"),
                    ),
                    match definition.goal {
                        Some(KpiGoal::AtLeast(share)) => format!(">={share}"),
                        Some(KpiGoal::AtMost(share)) => format!("<={share}"),
                        None => String::new(),
                    },
                    met(result.met).to_owned(),
                    censored.to_string(),
                ];
                let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
                let _ = writeln!(out, "{}", line.join(","));
            }
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180). A
/// field that a spreadsheet would run as a formula is prefixed with `'`.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '@'])
        || (text.starts_with('-') && text.parse::<f64>().is_err())
    {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(duration(45.0), "45s");
        assert_eq!(duration(25.0 * 60.0), "25m");
        assert_eq!(duration(90.0 * 60.0), "1h 30m");
        assert_eq!(duration(2.0 * 3600.0), "2h");
        assert_eq!(duration(64.5 * 3600.0), "2d 16h");
        assert_eq!(duration(48.0 * 3600.0), "2d");
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("High"), "High");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("-12.5"), "-12.5");
    }
}
