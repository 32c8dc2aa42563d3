//! The report: what an [`Accumulator`](super::Accumulator) found, ready to print, chart or
//! serialise. Durations are in seconds.

use chrono::NaiveDate;
use serde::Serialize;

use super::digest::Digest;
use super::{GroupTally, KpiTally, Period, VersionTally};
use crate::graph::{KpiGoal, KpiMeasure, Process};
use crate::model::{FieldId, KpiId, SopId, StepId};
use crate::render::Transition;

/// Every figure of a report, per SOP version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The SOP.
    pub sop: SopId,
    /// The length of the periods the groups are by, if any.
    pub period: Option<Period>,
    /// The choice field the groups are by, if any.
    pub segment: Option<FieldId>,
    /// The time zone periods are counted in (the SOP's calendar's, or UTC).
    pub zone: String,
    /// Cases left out because they were opened outside `since`/`until`.
    pub skipped: u64,
    /// One entry per SOP version that has cases, oldest first.
    pub versions: Vec<VersionReport>,
}

/// The figures of the cases on one SOP version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionReport {
    /// The version.
    pub version: u32,
    /// The calendar working times are counted in, `None` when the SOP has none (and
    /// working times are not reported).
    pub calendar: Option<String>,
    /// The KPIs this version declares, in document order: `total.kpis` and each group's
    /// `kpis` follow this order.
    pub kpis: Vec<KpiDefinition>,
    /// Every case of the version together.
    pub total: GroupReport,
    /// Per period and segment value, in order; empty when the report is not grouped.
    pub groups: Vec<GroupReport>,
    /// Per step, in the order of the SOP's steps.
    pub steps: Vec<StepReport>,
    /// Per edge taken, in the order of the process's edges.
    pub edges: Vec<EdgeReport>,
    /// The most frequent paths of closed cases, most frequent first.
    pub variants: Vec<VariantReport>,
    /// Closed cases whose path is not among the tracked variants.
    pub other_variants: u64,
    /// Closed cases (all variants together).
    pub variant_cases: u64,
}

/// A KPI as declared, for headings and charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiDefinition {
    /// Its name under `kpis:`.
    pub id: KpiId,
    /// Its title.
    pub title: String,
    /// `duration`, `mean`, `nps`, `sla` or `rate`.
    pub kind: &'static str,
    /// What it measures, in words (`opened → receive completed`, `mean of csat`).
    pub measures: String,
    /// The target one case should meet: seconds of working time for durations (counted
    /// like the SOP's timers; `None` for business days, which have no fixed length), the
    /// value for a mean or NPS.
    pub target: Option<f64>,
    /// The target as written (`1h`, `3bd`, `4.5`).
    pub target_label: Option<String>,
    /// The goal as written (`≥ 90%`, `≤ 10%`).
    pub goal_label: Option<String>,
    /// The goal as a share: at least (`goal`) or at most (`at_most`).
    pub goal: Option<KpiGoal>,
}

/// The figures of a group of cases: a period, a segment value, both, or all cases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    /// The first day of the period, in the report's zone.
    pub period: Option<NaiveDate>,
    /// The segment value (`None`: cases without a value, or an ungrouped report).
    pub segment: Option<String>,
    /// Cases opened in the group.
    pub cases: u64,
    /// Closed at the end of their history.
    pub closed: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// Still open: censored, counted on no measure they have not finished.
    pub open: u64,
    /// Opened to (last) closed, of closed cases.
    pub resolution: DurationSummary,
    /// One result per KPI, in the order of [`VersionReport::kpis`].
    pub kpis: Vec<KpiResult>,
}

/// A KPI's value in a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiResult {
    /// The KPI.
    pub id: KpiId,
    /// Its figures.
    #[serde(flatten)]
    pub value: KpiValue,
    /// Whether it meets its goal (or, for a mean or NPS, its target); `None` without one
    /// or without data. In JSON `goal_met`, apart from an SLA's count of levels `met`.
    #[serde(rename = "goal_met")]
    pub met: Option<bool>,
}

/// The figures of one KPI.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum KpiValue {
    /// A duration between two points.
    Duration {
        /// The times of the cases that reached both points.
        times: DurationSummary,
        /// Of those, how many within the target.
        within_target: Option<u64>,
        /// `within_target / times.count`.
        share_within_target: Option<f64>,
        /// Open cases past the start and not yet at the end.
        censored: u64,
        /// Finished cases that started the clock but never reached its end (cancelled).
        not_reached: u64,
    },
    /// A mean of a number field.
    Mean {
        /// Cases with a value.
        responses: u64,
        /// The mean.
        mean: Option<f64>,
    },
    /// A net promoter score.
    Nps {
        /// Cases with a value.
        responses: u64,
        /// Ratings 9 and 10.
        promoters: u64,
        /// Ratings 7 and 8.
        passives: u64,
        /// Ratings 0 to 6.
        detractors: u64,
        /// % promoters − % detractors, from −100 to 100.
        score: Option<f64>,
    },
    /// Service levels met.
    Sla {
        /// Met (finished without a breach).
        met: u64,
        /// Breached.
        breached: u64,
        /// Still running, not breached yet.
        censored: u64,
        /// `met / (met + breached)`.
        share: Option<f64>,
    },
    /// A share of cases that took a path.
    Rate {
        /// Finished cases that took it.
        took: u64,
        /// Finished cases.
        cases: u64,
        /// Open cases, not counted.
        censored: u64,
        /// `took / cases`.
        share: Option<f64>,
    },
}

impl KpiValue {
    /// The headline figure: seconds (median) for a duration, the mean, the score, or the
    /// share (0 to 1).
    pub fn headline(&self) -> Option<f64> {
        match self {
            KpiValue::Duration { times, .. } => times.median_secs,
            KpiValue::Mean { mean, .. } => *mean,
            KpiValue::Nps { score, .. } => *score,
            KpiValue::Sla { share, .. } | KpiValue::Rate { share, .. } => *share,
        }
    }
}

/// A distribution of durations, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DurationSummary {
    /// How many.
    pub count: u64,
    /// The median wall-clock time.
    pub median_secs: Option<f64>,
    /// The 90th percentile wall-clock time.
    pub p90_secs: Option<f64>,
    /// The mean wall-clock time.
    pub mean_secs: Option<f64>,
    /// The longest wall-clock time (exact).
    pub max_secs: Option<f64>,
    /// The median working time, when the SOP has a calendar.
    pub working_median_secs: Option<f64>,
    /// The 90th percentile working time, when the SOP has a calendar.
    pub working_p90_secs: Option<f64>,
    /// Whether the percentiles are exact (otherwise within 1%).
    pub exact: bool,
}

impl DurationSummary {
    /// The summary of wall-clock durations and, if measured, working durations.
    pub fn of(wall: &Digest, working: Option<&Digest>) -> DurationSummary {
        DurationSummary {
            count: wall.count(),
            median_secs: wall.median(),
            p90_secs: wall.quantile(0.9),
            mean_secs: wall.mean(),
            max_secs: wall.max(),
            working_median_secs: working.and_then(Digest::median),
            working_p90_secs: working.and_then(|w| w.quantile(0.9)),
            exact: wall.is_exact() && working.is_none_or(Digest::is_exact),
        }
    }
}

/// The figures of one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// The step.
    pub step: StepId,
    /// Times it was activated.
    pub activations: u64,
    /// Cases that activated it at least once.
    pub cases: u64,
    /// Cases that activated it more than once (for a step run once per item: the same
    /// item more than once).
    pub reworked_cases: u64,
    /// Activations beyond the first (per item, for a step run once per item), over all
    /// cases.
    pub rework_activations: u64,
    /// Activations with a service level.
    pub with_due: u64,
    /// Of those, breached.
    pub breached: u64,
    /// `breached / with_due`.
    pub breach_rate: Option<f64>,
    /// Activations still active at the end of their history (censored).
    pub still_active: u64,
    /// Activation to first claim (or to completion, when nobody claimed it first).
    pub waiting: DurationSummary,
    /// First claim to completion.
    pub working: DurationSummary,
    /// Activation to the end of the activation, for any reason.
    pub active: DurationSummary,
}

/// How often an edge of the process was taken.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeReport {
    /// The node it leaves (`start`, a step, `join of X`).
    pub from: String,
    /// The node it enters.
    pub to: String,
    /// Its label (`approved`, a condition, `overdue 1h`), empty for a plain `next`.
    pub label: String,
    /// Every traversal.
    pub taken: u64,
    /// Cases that took it at least once.
    pub cases: u64,
    /// The edge in the process, for overlays on the flowchart.
    #[serde(skip)]
    pub transition: Transition,
}

/// A path of closed cases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantReport {
    /// The steps activated, in order.
    pub steps: Vec<StepId>,
    /// Closed cases that took it.
    pub cases: u64,
    /// Their opened-to-closed times.
    pub duration: DurationSummary,
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn definition(kpi: &crate::graph::Kpi) -> KpiDefinition {
    let (kind, measures, target, target_label) = match &kpi.measure {
        KpiMeasure::Duration { from, to, target } => (
            "duration",
            format!("{from} → {to}"),
            // Business days have no fixed length in seconds; the label says what they are.
            target
                .filter(|t| t.business_days() == 0)
                .map(|t| f64::from(t.minutes()) * 60.0),
            target.map(|t| t.to_string()),
        ),
        KpiMeasure::Mean { field, target } => (
            "mean",
            format!("mean of {field}"),
            *target,
            target.map(|t| t.to_string()),
        ),
        KpiMeasure::Nps { field, target } => (
            "nps",
            format!("NPS of {field}"),
            *target,
            target.map(|t| t.to_string()),
        ),
        KpiMeasure::Sla(count) => (
            "sla",
            match count {
                crate::graph::SlaCount::Steps => "step service levels met".to_owned(),
                crate::graph::SlaCount::Case => "case service level met".to_owned(),
                crate::graph::SlaCount::Step(step) => format!("service level of {step} met"),
            },
            None,
            None,
        ),
        KpiMeasure::Rate(path) => (
            "rate",
            match path {
                crate::graph::PathTaken::Escalated => "cases escalated".to_owned(),
                crate::graph::PathTaken::Reworked => "cases reworked".to_owned(),
                crate::graph::PathTaken::Reopened => "cases reopened".to_owned(),
                crate::graph::PathTaken::Reached(step) => format!("cases reaching {step}"),
            },
            None,
            None,
        ),
    };
    KpiDefinition {
        id: kpi.id.clone(),
        title: kpi.title.clone(),
        kind,
        measures,
        target,
        target_label,
        goal_label: kpi.goal.map(|g| g.to_string()),
        goal: kpi.goal,
    }
}

fn group_report(
    process: &Process,
    tally: &GroupTally,
    period: Option<NaiveDate>,
    segment: Option<String>,
) -> GroupReport {
    let kpis = process
        .kpis()
        .iter()
        .zip(&tally.kpis)
        .map(|(kpi, figures)| {
            let value = match figures {
                KpiTally::Duration {
                    times,
                    within_target,
                    censored,
                    not_reached,
                } => {
                    let has_target = matches!(
                        kpi.measure,
                        KpiMeasure::Duration {
                            target: Some(_),
                            ..
                        }
                    );
                    KpiValue::Duration {
                        times: times.summary(),
                        within_target: has_target.then_some(*within_target),
                        share_within_target: if has_target {
                            share(*within_target, times.wall.count())
                        } else {
                            None
                        },
                        censored: *censored,
                        not_reached: *not_reached,
                    }
                }
                KpiTally::Mean { sum, responses } => KpiValue::Mean {
                    responses: *responses,
                    mean: (*responses > 0).then(|| sum / *responses as f64),
                },
                KpiTally::Nps {
                    promoters,
                    passives,
                    detractors,
                } => {
                    let responses = promoters + passives + detractors;
                    KpiValue::Nps {
                        responses,
                        promoters: *promoters,
                        passives: *passives,
                        detractors: *detractors,
                        score: (responses > 0).then(|| {
                            100.0 * (*promoters as f64 - *detractors as f64) / responses as f64
                        }),
                    }
                }
                KpiTally::Sla {
                    met,
                    breached,
                    censored,
                } => KpiValue::Sla {
                    met: *met,
                    breached: *breached,
                    censored: *censored,
                    share: share(*met, met + breached),
                },
                KpiTally::Rate {
                    took,
                    finished,
                    open,
                } => KpiValue::Rate {
                    took: *took,
                    cases: *finished,
                    censored: *open,
                    share: share(*took, *finished),
                },
            };
            let met = match (&kpi.measure, &value) {
                (
                    KpiMeasure::Duration { .. },
                    KpiValue::Duration {
                        share_within_target,
                        ..
                    },
                ) => kpi
                    .goal
                    .zip(*share_within_target)
                    .map(|(goal, share)| goal.met_by(share)),
                (KpiMeasure::Mean { target, .. }, _) | (KpiMeasure::Nps { target, .. }, _) => {
                    target.zip(value.headline()).map(|(t, v)| v >= t)
                }
                _ => kpi
                    .goal
                    .zip(value.headline())
                    .map(|(goal, share)| goal.met_by(share)),
            };
            KpiResult {
                id: kpi.id.clone(),
                value,
                met,
            }
        })
        .collect();
    GroupReport {
        period,
        segment,
        cases: tally.cases,
        closed: tally.closed,
        cancelled: tally.cancelled,
        open: tally.open,
        resolution: tally.resolution.summary(),
        kpis,
    }
}

pub(super) fn version_report(tally: VersionTally, top: usize) -> VersionReport {
    let process = &tally.process;
    let steps = process
        .nodes()
        .filter_map(|(_, node)| node.step.clone())
        .filter_map(|step| {
            let figures = tally.steps.get(&step)?;
            Some(StepReport {
                step,
                activations: figures.activations,
                cases: figures.cases,
                reworked_cases: figures.reworked_cases,
                rework_activations: figures.rework_activations,
                with_due: figures.with_due,
                breached: figures.breached,
                breach_rate: share(figures.breached, figures.with_due),
                still_active: figures.still_active,
                waiting: figures.waiting.summary(),
                working: figures.working.summary(),
                active: figures.active.summary(),
            })
        })
        .collect();
    let mut edges = Vec::new();
    for (from, _) in process.nodes() {
        for &(kind, to) in process.successors(from) {
            let transition = Transition { from, kind, to };
            if let Some(&(taken, cases)) = tally.edges.get(&transition) {
                edges.push(EdgeReport {
                    from: process.node(from).name(),
                    to: process.node(to).name(),
                    label: process.edge_label(from, kind),
                    taken,
                    cases,
                    transition,
                });
            }
        }
    }
    let variant_cases =
        tally.variants.values().map(|d| d.wall.count()).sum::<u64>() + tally.other_variants;
    let mut variants: Vec<(Vec<StepId>, super::Durations)> = tally.variants.into_iter().collect();
    // Most frequent first; equal counts by path, so the order is stable.
    variants.sort_by(|a, b| b.1.wall.count().cmp(&a.1.wall.count()).then(a.0.cmp(&b.0)));
    let shown = variants.len().min(top);
    let other_variants = tally.other_variants
        + variants[shown..]
            .iter()
            .map(|(_, d)| d.wall.count())
            .sum::<u64>();
    variants.truncate(shown);
    VersionReport {
        version: process.version(),
        calendar: process
            .default_calendar()
            .name
            .as_ref()
            .map(ToString::to_string),
        kpis: process.kpis().iter().map(definition).collect(),
        total: group_report(process, &tally.total, None, None),
        groups: tally
            .groups
            .iter()
            .map(|((period, segment), group)| {
                group_report(process, group, *period, segment.clone())
            })
            .collect(),
        steps,
        edges,
        variants: variants
            .into_iter()
            .map(|(steps, durations)| VariantReport {
                steps,
                cases: durations.wall.count(),
                duration: durations.summary(),
            })
            .collect(),
        other_variants,
        variant_cases,
    }
}
