//! A [`Report`] as one self-contained HTML page: the KPI table, a chart of each KPI with a
//! target or goal per period, the spread of each duration KPI, the per-step table, the
//! most frequent paths and the flowchart as a heatmap.
//!
//! Everything is inline (CSS, and SVG drawn by `plotters` and by
//! [`crate::render::heatmap`]): the page loads nothing and runs no
//! script, so it can be mailed or archived as it is. Every text that comes from the SOP
//! or the store is escaped.

use std::collections::BTreeMap;
use std::fmt::Write;

use plotters::prelude::*;

use super::format::{duration, kpi_cell};
use super::heat::{HeatBy, heat_from_report};
use super::report::{DurationSummary, KpiDefinition, KpiValue, Report, VersionReport};
use crate::graph::{KpiGoal, Process};
use crate::render::{self, Format};

/// What the page says about how the report was made, beyond what the [`Report`] holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlContext {
    /// The filters the cases were selected by, as `(name, value)`: `("since",
    /// "2026-03-01")`. Shown under the title.
    pub filters: Vec<(String, String)>,
}

/// The report as one HTML page. `processes` holds the process of each SOP version of the
/// report, for the heatmaps; a version without one is shown without its flowchart.
pub fn html(report: &Report, processes: &BTreeMap<u32, Process>, context: &HtmlContext) -> String {
    let mut page = String::new();
    let title = format!("Report on SOP {}", report.sop);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    page.push_str("<dl class=\"about\">\n");
    let mut about = |name: &str, value: String| {
        let _ = writeln!(page, "<dt>{}</dt><dd>{}</dd>", escape(name), escape(&value));
    };
    about("Period", period_span(report));
    about("Zone", report.zone.clone());
    if let Some(period) = report.period {
        about("Grouped by", format!("{period:?}").to_lowercase());
    }
    if let Some(segment) = &report.segment {
        about("Segment", segment.to_string());
    }
    for (name, value) in &context.filters {
        about(name, value.clone());
    }
    if report.skipped > 0 {
        about(
            "Left out",
            format!("{} cases opened outside the period", report.skipped),
        );
    }
    page.push_str("</dl>\n");
    if report.versions.is_empty() {
        page.push_str("<p>The store holds no case of this SOP in the period.</p>\n");
    }
    for version in &report.versions {
        write_version(&mut page, version, processes.get(&version.version));
    }
    page.push_str("</body>\n</html>\n");
    page
}

const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;color:#1f2328;margin:2em auto;max-width:1200px;padding:0 1em}\
h1{font-size:1.6em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}h3{margin-top:1.5em}\
dl.about{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dl.about dt{font-weight:bold}dl.about dd{margin:0}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.met{color:#1a7f37;font-weight:bold}.missed{color:#cf222e;font-weight:bold}\
.charts{display:flex;flex-wrap:wrap;gap:1em}.charts figure{margin:0}figcaption{font-size:.9em;color:#57606a;max-width:560px}\
.flow svg{max-width:100%;height:auto}\
.legend{margin:.2em 0}.key{margin-right:1.2em;white-space:nowrap;color:#1f2328}.swatch{display:inline-block;width:22px;vertical-align:middle;margin-right:.4em}p.note{color:#57606a}";

/// The dates the report spans, as far as it knows them.
fn period_span(report: &Report) -> String {
    let days: Vec<_> = report
        .versions
        .iter()
        .flat_map(|v| v.groups.iter().filter_map(|g| g.period))
        .collect();
    match (days.iter().min(), days.iter().max()) {
        (Some(first), Some(last)) if first == last => format!("from {first}"),
        (Some(first), Some(last)) => format!("periods starting {first} to {last}"),
        _ => "every case in the store".to_owned(),
    }
}

fn write_version(page: &mut String, version: &VersionReport, process: Option<&Process>) {
    let total = &version.total;
    let _ = writeln!(
        page,
        "<h2>Version {}</h2>\n<p>{} cases: {} closed, {} cancelled, {} open (censored: counted, never judged). Resolution (closed cases): median {}, 90th percentile {}.{}</p>",
        version.version,
        total.cases,
        total.closed,
        total.cancelled,
        total.open,
        optional_duration(total.resolution.median_secs),
        optional_duration(total.resolution.p90_secs),
        version
            .calendar
            .as_ref()
            .map(|c| format!(" Working times are counted in the calendar {}.", escape(c)))
            .unwrap_or_default(),
    );
    write_kpi_table(page, version);
    write_kpi_charts(page, version);
    write_steps(page, version);
    write_variants(page, version);
    if let Some(process) = process {
        write_heatmaps(page, version, process);
    }
}

fn write_kpi_table(page: &mut String, version: &VersionReport) {
    if version.kpis.is_empty() {
        page.push_str("<p class=\"note\">This version declares no KPI.</p>\n");
        return;
    }
    page.push_str("<h3>KPIs</h3>\n<table>\n<tr><th>KPI</th><th>Measures</th><th>Target</th><th>Goal</th><th>Value</th><th>Not counted</th><th>Met</th></tr>\n");
    for (definition, result) in version.kpis.iter().zip(&version.total.kpis) {
        let (class, met) = match result.met {
            Some(true) => ("met", "met"),
            Some(false) => ("missed", "not met"),
            None => ("", ""),
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{met}</td></tr>",
            escape(&definition.title),
            escape(&definition.measures),
            escape(definition.target_label.as_deref().unwrap_or("")),
            escape(definition.goal_label.as_deref().unwrap_or("")),
            escape(&kpi_cell(&result.value, definition.target_label.as_deref())),
            escape(&not_counted(&result.value)),
        );
    }
    page.push_str("</table>\n");
}

fn not_counted(value: &KpiValue) -> String {
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

/// What a KPI's chart over periods plots: its name, the value of a group, the line to
/// compare with, and the range of the axis.
struct Plotted {
    axis: String,
    value: fn(&KpiValue) -> Option<f64>,
    line: Option<(f64, String)>,
    range: Option<(f64, f64)>,
}

fn plotted(definition: &KpiDefinition) -> Option<Plotted> {
    fn share(value: &KpiValue) -> Option<f64> {
        match value {
            KpiValue::Duration {
                share_within_target,
                ..
            } => share_within_target.map(|s| s * 100.0),
            other => other.headline().map(|s| s * 100.0),
        }
    }
    let goal_line = |goal: KpiGoal, label: &str| {
        let (KpiGoal::AtLeast(level) | KpiGoal::AtMost(level)) = goal;
        (level * 100.0, format!("goal {label}"))
    };
    match (definition.kind, definition.goal, definition.target) {
        ("duration", Some(goal), _) => Some(Plotted {
            axis: format!(
                "% within {}",
                definition.target_label.as_deref().unwrap_or("the target")
            ),
            value: share,
            line: Some(goal_line(
                goal,
                definition.goal_label.as_deref().unwrap_or(""),
            )),
            range: Some((0.0, 100.0)),
        }),
        ("duration", None, Some(target)) => Some(Plotted {
            axis: "median (hours)".to_owned(),
            value: |v| v.headline().map(|s| s / 3600.0),
            line: Some((
                target / 3600.0,
                format!(
                    "target {}",
                    definition.target_label.as_deref().unwrap_or("")
                ),
            )),
            range: None,
        }),
        ("mean", _, Some(target)) => Some(Plotted {
            axis: "mean".to_owned(),
            value: KpiValue::headline,
            line: Some((target, format!("target {target}"))),
            range: None,
        }),
        ("nps", _, Some(target)) => Some(Plotted {
            axis: "NPS".to_owned(),
            value: KpiValue::headline,
            line: Some((target, format!("target {target:+}"))),
            range: Some((-100.0, 100.0)),
        }),
        ("sla" | "rate", Some(goal), _) => Some(Plotted {
            axis: "% of cases".to_owned(),
            value: share,
            line: Some(goal_line(
                goal,
                definition.goal_label.as_deref().unwrap_or(""),
            )),
            range: Some((0.0, 100.0)),
        }),
        _ => None,
    }
}

const SERIES: [RGBColor; 6] = [
    RGBColor(0x09, 0x69, 0xda),
    RGBColor(0xbf, 0x39, 0x89),
    RGBColor(0x1a, 0x7f, 0x37),
    RGBColor(0x9a, 0x67, 0x00),
    RGBColor(0x82, 0x50, 0xdf),
    RGBColor(0x57, 0x60, 0x6a),
];
const GOAL: RGBColor = RGBColor(0xcf, 0x22, 0x2e);

fn write_kpi_charts(page: &mut String, version: &VersionReport) {
    let periods: Vec<_> = {
        let mut days: Vec<_> = version.groups.iter().filter_map(|g| g.period).collect();
        days.sort();
        days.dedup();
        days
    };
    let with_line: Vec<(usize, &KpiDefinition, Plotted)> = version
        .kpis
        .iter()
        .enumerate()
        .filter_map(|(index, d)| Some((index, d, plotted(d)?)))
        .collect();
    let durations: Vec<(usize, &KpiDefinition)> = version
        .kpis
        .iter()
        .enumerate()
        .filter(|(_, d)| d.kind == "duration")
        .collect();
    if with_line.is_empty() && durations.is_empty() {
        return;
    }
    page.push_str("<h3>KPIs over time</h3>\n");
    if periods.is_empty() {
        page.push_str("<p class=\"note\">The report is not grouped by period, so there is no chart over time: group it by day, week or month (<code>--by week</code>).</p>\n");
    } else {
        page.push_str("<div class=\"charts\">\n");
        for (index, definition, plot) in &with_line {
            let chart = kpi_over_periods(version, &periods, *index, definition, plot);
            push_figure(page, chart, &format!("{} per period", definition.title));
        }
        page.push_str("</div>\n");
    }
    if durations.is_empty() {
        return;
    }
    page.push_str("<h3>Durations</h3>\n<p class=\"note\">The report keeps percentiles, not every duration, so each chart shows the median, the 90th percentile, the mean and the longest of the cases that reached both points, against the target.</p>\n<div class=\"charts\">\n");
    for (index, definition) in durations {
        let Some(result) = version.total.kpis.get(index) else {
            continue;
        };
        let KpiValue::Duration { times, .. } = &result.value else {
            continue;
        };
        let chart = percentiles(&definition.title, times, definition.target);
        push_figure(
            page,
            chart,
            &format!(
                "{}: {} ({} cases)",
                definition.title, definition.measures, times.count
            ),
        );
    }
    page.push_str("</div>\n");
}

/// One line of a chart's legend. Legends are written in HTML under the chart rather than
/// drawn inside it, where they would hide the points behind them.
struct Key {
    color: RGBColor,
    name: String,
    dashed: bool,
}

impl Key {
    fn solid(color: RGBColor, name: String) -> Key {
        Key {
            color,
            name,
            dashed: false,
        }
    }

    fn dashed(color: RGBColor, name: String) -> Key {
        Key {
            color,
            name,
            dashed: true,
        }
    }
}

fn push_figure(page: &mut String, chart: Result<(String, Vec<Key>), String>, caption: &str) {
    match chart {
        Ok((svg, keys)) => {
            let legend: String = keys
                .iter()
                .map(|key| {
                    let RGBColor(r, g, b) = key.color;
                    format!(
                        "<span class=\"key\"><span class=\"swatch\" style=\"border-top:3px {} #{r:02x}{g:02x}{b:02x}\"></span>{}</span>",
                        if key.dashed { "dashed" } else { "solid" },
                        escape(&key.name)
                    )
                })
                .collect();
            let _ = writeln!(
                page,
                "<figure>{svg}<figcaption><div class=\"legend\">{legend}</div>{}</figcaption></figure>",
                escape(caption)
            );
        }
        Err(error) => {
            let _ = writeln!(
                page,
                "<p class=\"note\">The chart of {} could not be drawn: {}</p>",
                escape(caption),
                escape(&error)
            );
        }
    }
}

/// One series per segment value (one in all for a report not segmented), one point per
/// period with data, and the target or goal as a dashed line.
fn kpi_over_periods(
    version: &VersionReport,
    periods: &[chrono::NaiveDate],
    index: usize,
    definition: &KpiDefinition,
    plot: &Plotted,
) -> Result<(String, Vec<Key>), String> {
    let mut keys = Vec::new();
    let mut series: BTreeMap<Option<&str>, Vec<(f64, f64)>> = BTreeMap::new();
    for group in &version.groups {
        let (Some(period), Some(result)) = (group.period, group.kpis.get(index)) else {
            continue;
        };
        let Some(x) = periods.iter().position(|p| *p == period) else {
            continue;
        };
        if let Some(y) = (plot.value)(&result.value) {
            series
                .entry(group.segment.as_deref())
                .or_default()
                .push((x as f64, y));
        }
    }
    let values = series.values().flatten().map(|(_, y)| *y);
    let (low, high) = plot.range.unwrap_or_else(|| {
        let line = plot.line.as_ref().map_or(0.0, |(v, _)| *v);
        let top = values.fold(line, f64::max);
        (0.0, if top > 0.0 { top * 1.15 } else { 1.0 })
    });
    let labels: Vec<String> = periods
        .iter()
        .map(|p| p.format("%Y-%m-%d").to_string())
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&definition.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..(periods.len() as f64 - 0.5), low..high)
            .map_err(|e| e.to_string())?;
        let label_of = |x: &f64| -> String {
            let nearest = x.round();
            if (x - nearest).abs() < 1e-6 && nearest >= 0.0 {
                labels.get(nearest as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_labels(periods.len().clamp(2, 12) + 1)
            .x_label_formatter(&label_of)
            .x_desc("period starting")
            .y_label_formatter(&|v| {
                if high - low >= 20.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            })
            .label_style(("sans-serif", 13))
            .y_desc(plot.axis.as_str())
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| e.to_string())?;
        if let Some((line, label)) = &plot.line {
            chart
                .draw_series(DashedLineSeries::new(
                    [(-0.5, *line), (periods.len() as f64 - 0.5, *line)],
                    8,
                    5,
                    GOAL.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
            keys.push(Key::dashed(GOAL, label.clone()));
        }
        for (n, (segment, points)) in series.iter().enumerate() {
            let color = SERIES[n % SERIES.len()];
            let name = match (version.groups.iter().any(|g| g.segment.is_some()), segment) {
                (false, _) => "all cases".to_owned(),
                (true, Some(value)) => (*value).to_owned(),
                (true, None) => "(no value)".to_owned(),
            };
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
            keys.push(Key::solid(color, name));
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok((svg, keys))
}

/// The unit a set of durations reads best in: its name and its length in seconds.
fn unit_for(longest: f64) -> (&'static str, f64) {
    if longest >= 2.0 * 86_400.0 {
        ("days", 86_400.0)
    } else if longest >= 2.0 * 3_600.0 {
        ("hours", 3_600.0)
    } else {
        ("minutes", 60.0)
    }
}

/// Bars of the median, 90th percentile, mean and longest duration, with the target.
fn percentiles(
    title: &str,
    times: &DurationSummary,
    target: Option<f64>,
) -> Result<(String, Vec<Key>), String> {
    let mut keys = vec![Key::solid(SERIES[0], "cases".to_owned())];
    let bars = [
        ("median", times.median_secs),
        ("90th percentile", times.p90_secs),
        ("mean", times.mean_secs),
        ("longest", times.max_secs),
    ];
    let longest = bars
        .iter()
        .filter_map(|(_, v)| *v)
        .chain(target)
        .fold(0.0_f64, f64::max);
    let (unit, seconds) = unit_for(longest);
    let top = if longest > 0.0 {
        longest / seconds * 1.15
    } else {
        1.0
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d((0..bars.len() - 1).into_segmented(), 0.0..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE.mix(0.0))
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => {
                    bars.get(*i).map(|b| b.0.to_owned()).unwrap_or_default()
                }
                _ => String::new(),
            })
            .y_desc(unit)
            .y_label_formatter(&|v| {
                if top >= 20.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            })
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(SERIES[0].mix(0.8).filled())
                    .margin(18)
                    .data(
                        bars.iter()
                            .enumerate()
                            .filter_map(|(i, (_, v))| Some((i, (*v)? / seconds))),
                    ),
            )
            .map_err(|e| e.to_string())?;
        if let Some(target) = target {
            chart
                .draw_series(DashedLineSeries::new(
                    [
                        (SegmentValue::Exact(0), target / seconds),
                        (SegmentValue::Last, target / seconds),
                    ],
                    8,
                    5,
                    GOAL.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
            keys.push(Key::dashed(GOAL, format!("target {}", duration(target))));
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok((svg, keys))
}

fn write_steps(page: &mut String, version: &VersionReport) {
    if version.steps.is_empty() {
        return;
    }
    page.push_str("<h3>Steps</h3>\n<table>\n<tr><th>Step</th><th>Activations</th><th>Cases</th><th>Reworked cases</th><th>Breach rate</th><th>Median waiting</th><th>Median working</th><th>Median active</th><th>Still active</th></tr>\n");
    for step in &version.steps {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(step.step.as_str()),
            step.activations,
            step.cases,
            step.reworked_cases,
            step.breach_rate.map_or_else(
                || "–".to_owned(),
                |r| format!("{:.1}% ({}/{})", r * 100.0, step.breached, step.with_due)
            ),
            median_cell(&step.waiting),
            median_cell(&step.working),
            median_cell(&step.active),
            step.still_active,
        );
    }
    page.push_str("</table>\n");
}

fn write_variants(page: &mut String, version: &VersionReport) {
    if version.variants.is_empty() {
        return;
    }
    let _ = writeln!(
        page,
        "<h3>Paths</h3>\n<p>The most frequent paths of the {} closed cases{}.</p>\n<table>\n<tr><th>Path</th><th>Cases</th><th>Share</th><th>Median duration</th></tr>",
        version.variant_cases,
        if version.other_variants > 0 {
            format!(" ({} on paths not listed)", version.other_variants)
        } else {
            String::new()
        }
    );
    for variant in &version.variants {
        let path: Vec<&str> = variant.steps.iter().map(|s| s.as_str()).collect();
        let share = if version.variant_cases > 0 {
            format!(
                "{:.1}%",
                variant.cases as f64 * 100.0 / version.variant_cases as f64
            )
        } else {
            "–".to_owned()
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{share}</td><td class=\"n\">{}</td></tr>",
            escape(&path.join(" → ")),
            variant.cases,
            optional_duration(variant.duration.median_secs),
        );
    }
    page.push_str("</table>\n");
}

fn write_heatmaps(page: &mut String, version: &VersionReport, process: &Process) {
    let mut measures = vec![(HeatBy::Time, "median time each step is active")];
    if version.steps.iter().any(|s| s.breach_rate.is_some()) {
        measures.push((HeatBy::Breaches, "share of service levels breached"));
    }
    for (by, what) in measures {
        let drawn = heat_from_report(process, version, by)
            .map_err(|e| e.to_string())
            .and_then(|heat| {
                render::heatmap(process, Format::Svg, &heat).map_err(|e| e.to_string())
            });
        let _ = writeln!(
            page,
            "<h3>Flowchart: {what}</h3>\n<p class=\"note\">Darker steps are hotter; edges are as wide as they were often taken, with the count on each.</p>"
        );
        match drawn {
            // The renderer's SVG may start with an XML declaration, which HTML does not
            // take inline.
            Ok(svg) => {
                let start = svg.find("<svg").unwrap_or(0);
                let _ = writeln!(page, "<div class=\"flow\">{}</div>", &svg[start..]);
            }
            Err(error) => {
                let _ = writeln!(
                    page,
                    "<p class=\"note\">The flowchart could not be drawn: {}</p>",
                    escape(&error)
                );
            }
        }
    }
}

fn median_cell(summary: &DurationSummary) -> String {
    optional_duration(summary.median_secs)
}

fn optional_duration(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "–".to_owned(), duration)
}

/// Text made safe inside HTML elements and quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_elements_and_attributes() {
        assert_eq!(
            escape(r#"<b a="1">Tom & 'Jerry'</b>"#),
            "&lt;b a=&quot;1&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn durations_are_charted_in_the_unit_they_read_best_in() {
        assert_eq!(unit_for(90.0 * 60.0), ("minutes", 60.0));
        assert_eq!(unit_for(2.0 * 3_600.0), ("hours", 3_600.0));
        assert_eq!(unit_for(3.0 * 86_400.0), ("days", 86_400.0));
    }

    #[test]
    fn an_empty_report_says_so_and_draws_nothing() {
        let report = super::super::Accumulator::new(
            "t".parse().expect("an SOP id"),
            super::super::Options::default(),
        )
        .finish();
        let page = html(&report, &BTreeMap::new(), &HtmlContext::default());
        assert!(
            page.contains("The store holds no case of this SOP"),
            "{page}"
        );
        assert!(!page.contains("<svg"), "{page}");
    }
}
