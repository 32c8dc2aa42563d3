//! Metrics from case histories: the SOP's KPIs per period, per segment and per SOP
//! version, and the process statistics behind them (time per step, breaches, rework, how
//! often each edge is taken, the most frequent paths).
//!
//! Every figure is computed from the events of each case, as a store returns them, or
//! from the [`CaseFacts`] read from them before: what a report needs of one case, which a
//! store may keep so that the next report need not read the events again
//! (`store::measure`, with feature `store`); no figure is stored.
//! An [`Accumulator`] takes one case at a time ([`Accumulator::push`],
//! [`Accumulator::push_facts`]) and keeps only per-group totals and [`Digest`]s, so its memory
//! grows with the number of groups (versions × periods × segment values) and steps, never
//! with the number of cases or events; [`Accumulator::finish`] gives the [`Report`].
//!
//! # What counts where
//!
//! - A case belongs to the period in which it was **opened**, in the zone of the SOP's
//!   default calendar (UTC without one); weeks start on Monday. `since`/`until` select
//!   cases by when they were opened.
//! - A case belongs to the segment of the value its segment field holds **at the end of
//!   its history** (at close for a closed case): a ticket raised as Low and escalated to
//!   High was handled, and is judged, as High. Cases without a value form the segment
//!   `None`.
//! - Open cases are **censored**: they are counted (`open`, and `censored` on each
//!   measure they have not finished), never dropped, and never counted as met or missed.
//! - Durations are wall-clock time and, when the SOP has a calendar, also working time in
//!   it ([`Calendar::working_between`](crate::calendar::Calendar::working_between)). A
//!   duration KPI's `target` is met when the end comes no later than the target after the
//!   start, counted like the SOP's timers (working time of its calendar, business days).
//! - Per step: *waiting* is from activation to the first claim (or to completion when
//!   nobody claimed it first), *working* from the first claim to completion, *active*
//!   from activation until it stopped being active for any reason.
//! - Edges are counted with
//!   [`Highlight::transitions`](crate::render::Highlight::transitions), the walk the case
//!   overlay draws: `taken` counts every traversal, `cases` the cases that took the edge at
//!   least once.
//! - Path variants are the sequences of steps activated by closed cases; the most
//!   frequent are reported. At most [`MAX_VARIANTS`] distinct ones are tracked per
//!   version, and the cases of any further ones are counted as `other_variants`.
//! - Medians and percentiles are exact up to [`digest::EXACT_LIMIT`] values per group and
//!   within 1% beyond (see [`Digest`]).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use sopflow::engine::{self, Action, Actor, CaseState, Command};
//! use sopflow::metrics::{Accumulator, Options};
//! let sop = sopflow::parse::parse_sop("t.yaml", "id: t\nversion: 1\ntitle: T\n\
//!     department: D\nroles: { agent: A }\n\
//!     kpis: { handling: { from: opened, to: closed, target: 1h, goal: 90% } }\n\
//!     steps:\n  - { id: a, title: A, role: agent, end: true }\n").unwrap();
//! let process = sopflow::graph::compile(&sop).process.unwrap();
//! let ana = Actor::new("ana", ["agent".parse().unwrap()]);
//! let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
//! let mut case = CaseState::new();
//! let mut log = Vec::new();
//! for (minutes, action) in [
//!     (0, Action::Start { case: "T-1".into(), fields: Default::default() }),
//!     (30, Action::Complete { step: "a".parse().unwrap(), fields: Default::default(), item: None }),
//! ] {
//!     let command = Command::new(format!("c{minutes}"), ana.clone(), action);
//!     let now = t0 + chrono::Duration::minutes(minutes);
//!     for event in engine::handle(&process, &case, command, now).unwrap() {
//!         case.apply(&event);
//!         log.push(event);
//!     }
//! }
//! let mut metrics = Accumulator::new(process.id().clone(), Options::default());
//! metrics.push(&process, &log).unwrap();
//! let report = metrics.finish();
//! let total = &report.versions[0].total;
//! assert_eq!(total.closed, 1);
//! assert_eq!(total.resolution.median_secs, Some(1800.0));
//! ```
//!
//! Architecture invariant: metrics read histories and the compiled process only; they
//! never read a store, the clock or YAML, and they change nothing.

mod case;
pub mod digest;
pub mod format;
mod heat;
#[cfg(feature = "html")]
pub mod html;
mod kept;
mod report;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::engine::{CaseId, Event};
use crate::graph::{KpiMeasure, NamedCalendar, Process, SlaCount};
use crate::model::{FieldId, FieldType, FieldValue, SopId, StepId};
use crate::render::Transition;

pub use case::CaseFacts;
use case::Outcome;
pub use digest::Digest;
pub use heat::{HeatBy, heat_from_report};
pub use kept::FACTS_FORMAT;
pub use report::{
    DurationSummary, EdgeReport, GroupReport, KpiDefinition, KpiResult, KpiValue, Report,
    StepReport, VariantReport, VersionReport,
};

/// The most distinct path variants tracked per SOP version.
pub const MAX_VARIANTS: usize = 1_000;

/// How long the periods of a report are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// One day, midnight to midnight.
    Day,
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Period {
    /// The first day of the period that holds `day`.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => day,
            Period::Week => {
                day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()))
            }
            Period::Month => day.with_day(1).unwrap_or(day),
        }
    }
}

impl std::str::FromStr for Period {
    type Err = String;
    fn from_str(text: &str) -> Result<Period, String> {
        match text {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            other => Err(format!(
                "`{other}` is not a period: use `day`, `week` or `month`"
            )),
        }
    }
}

/// What a report groups by and which cases it counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Group the KPIs by the period in which cases were opened.
    pub period: Option<Period>,
    /// Group the KPIs by the value of this choice field.
    pub segment: Option<FieldId>,
    /// Only cases opened at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only cases opened before this instant.
    pub until: Option<DateTime<Utc>>,
    /// How many of the most frequent path variants to report (10 when zero).
    pub variants: usize,
}

/// Why a case cannot be counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// The history does not start with the case's opening.
    #[error("the history of a case does not start with `case_started`, so it cannot be measured")]
    NotStarted,
    /// The case runs on another SOP than the report is about.
    #[error("case `{case}` runs SOP `{found}`, not `{expected}`: report on one SOP at a time")]
    OtherSop {
        /// The case.
        case: CaseId,
        /// The SOP of the report.
        expected: SopId,
        /// The case's SOP.
        found: SopId,
    },
    /// The process handed in is not the version the case runs on.
    #[error(
        "case `{case}` runs version {case_version} of its SOP, but version {process_version} was given to measure it"
    )]
    OtherVersion {
        /// The case.
        case: CaseId,
        /// The version it runs.
        case_version: u32,
        /// The version handed in.
        process_version: u32,
    },
    /// The segment field is not a choice field of the SOP.
    #[error("cannot segment by `{field}`: {reason}")]
    Segment {
        /// The field asked for.
        field: FieldId,
        /// What is wrong, with the fields that would do.
        reason: String,
    },
}

/// Checks that `field` is a choice field of `process`, so cases fall in a few segments.
pub fn check_segment(process: &Process, field: &FieldId) -> Result<(), MetricsError> {
    let choices: Vec<&str> = process
        .fields()
        .iter()
        .filter(|f| f.field_type == FieldType::Choice)
        .map(|f| f.id.as_str())
        .collect();
    let listed = if choices.is_empty() {
        format!("SOP `{}` has no choice field", process.id())
    } else {
        format!(
            "its choice fields are {}",
            choices
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let reason = match process.field(field) {
        None => format!(
            "SOP `{}` version {} has no such field; {listed}",
            process.id(),
            process.version()
        ),
        Some(spec) if spec.field_type != FieldType::Choice => {
            let kind = spec.field_type.as_str();
            let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!(
                "it is {article} {kind} field, and segments are the options of a choice field; {listed}"
            )
        }
        Some(_) => return Ok(()),
    };
    Err(MetricsError::Segment {
        field: field.clone(),
        reason,
    })
}

/// Durations in wall-clock time and, when the SOP has a calendar, in working time.
#[derive(Debug, Clone, Default)]
struct Durations {
    wall: Digest,
    working: Option<Digest>,
}

impl Durations {
    fn new(with_working_time: bool) -> Durations {
        Durations {
            wall: Digest::new(),
            working: with_working_time.then(Digest::new),
        }
    }

    fn add(&mut self, calendar: &NamedCalendar, from: DateTime<Utc>, to: DateTime<Utc>) {
        self.wall.add(seconds(to - from));
        if let Some(working) = &mut self.working {
            working.add(seconds(calendar.calendar.working_between(from, to)));
        }
    }

    fn summary(&self) -> DurationSummary {
        DurationSummary::of(&self.wall, self.working.as_ref())
    }
}

fn seconds(delta: chrono::TimeDelta) -> f64 {
    delta.num_milliseconds() as f64 / 1000.0
}

/// The running figures of one KPI in one group.
#[derive(Debug, Clone)]
enum KpiTally {
    Duration {
        times: Durations,
        within_target: u64,
        censored: u64,
        not_reached: u64,
    },
    Mean {
        sum: f64,
        responses: u64,
    },
    Nps {
        promoters: u64,
        passives: u64,
        detractors: u64,
    },
    Sla {
        met: u64,
        breached: u64,
        censored: u64,
    },
    Rate {
        took: u64,
        finished: u64,
        open: u64,
    },
}

/// The running figures of one group of cases.
#[derive(Debug, Clone)]
struct GroupTally {
    cases: u64,
    closed: u64,
    cancelled: u64,
    open: u64,
    resolution: Durations,
    kpis: Vec<KpiTally>,
}

impl GroupTally {
    fn new(process: &Process, working: bool) -> GroupTally {
        let kpis = process
            .kpis()
            .iter()
            .map(|kpi| match &kpi.measure {
                KpiMeasure::Duration { .. } => KpiTally::Duration {
                    times: Durations::new(working),
                    within_target: 0,
                    censored: 0,
                    not_reached: 0,
                },
                KpiMeasure::Mean { .. } => KpiTally::Mean {
                    sum: 0.0,
                    responses: 0,
                },
                KpiMeasure::Nps { .. } => KpiTally::Nps {
                    promoters: 0,
                    passives: 0,
                    detractors: 0,
                },
                KpiMeasure::Sla(_) => KpiTally::Sla {
                    met: 0,
                    breached: 0,
                    censored: 0,
                },
                KpiMeasure::Rate(_) => KpiTally::Rate {
                    took: 0,
                    finished: 0,
                    open: 0,
                },
            })
            .collect();
        GroupTally {
            cases: 0,
            closed: 0,
            cancelled: 0,
            open: 0,
            resolution: Durations::new(working),
            kpis,
        }
    }

    fn add(&mut self, process: &Process, facts: &CaseFacts) {
        let calendar = process.default_calendar();
        self.cases += 1;
        match facts.outcome {
            Outcome::Open => self.open += 1,
            Outcome::Closed => self.closed += 1,
            Outcome::Cancelled => self.cancelled += 1,
        }
        if let Some(closed) = facts.closed {
            self.resolution.add(calendar, facts.opened, closed);
        }
        for (kpi, tally) in process.kpis().iter().zip(&mut self.kpis) {
            match (&kpi.measure, tally) {
                (
                    KpiMeasure::Duration { from, to, target },
                    KpiTally::Duration {
                        times,
                        within_target,
                        censored,
                        not_reached,
                    },
                ) => {
                    let Some(start) = facts.moment(from, facts.opened) else {
                        // Never reached the start: the KPI does not apply to this case.
                        continue;
                    };
                    match facts.moment(to, start) {
                        Some(end) => {
                            times.add(calendar, start, end);
                            let deadline = target.and_then(|t| calendar.after(start, t));
                            if deadline.is_some_and(|deadline| end <= deadline) {
                                *within_target += 1;
                            }
                        }
                        None if facts.is_finished() => *not_reached += 1,
                        None => *censored += 1,
                    }
                }
                (KpiMeasure::Mean { field, .. }, KpiTally::Mean { sum, responses }) => {
                    if let Some(value) = number(facts.fields.get(field)) {
                        *sum += value;
                        *responses += 1;
                    }
                }
                (
                    KpiMeasure::Nps { field, .. },
                    KpiTally::Nps {
                        promoters,
                        passives,
                        detractors,
                    },
                ) => match number(facts.fields.get(field)) {
                    Some(score) if score >= 9.0 => *promoters += 1,
                    Some(score) if score >= 7.0 => *passives += 1,
                    Some(_) => *detractors += 1,
                    None => {}
                },
                (
                    KpiMeasure::Sla(count),
                    KpiTally::Sla {
                        met,
                        breached,
                        censored,
                    },
                ) => {
                    let mut tally = |was_breached: bool, finished: bool| {
                        if was_breached {
                            *breached += 1;
                        } else if finished {
                            *met += 1;
                        } else {
                            *censored += 1;
                        }
                    };
                    match count {
                        SlaCount::Case => {
                            if let Some(was_breached) = facts.case_sla {
                                tally(was_breached, facts.is_finished());
                            }
                        }
                        SlaCount::Steps | SlaCount::Step(_) => {
                            for activation in facts.activations.iter().filter(|a| {
                                a.has_due
                                    && match count {
                                        SlaCount::Step(step) => a.step == *step,
                                        _ => true,
                                    }
                            }) {
                                tally(activation.breached, activation.ended.is_some());
                            }
                        }
                    }
                }
                (
                    KpiMeasure::Rate(path),
                    KpiTally::Rate {
                        took,
                        finished,
                        open,
                    },
                ) => {
                    if facts.is_finished() {
                        *finished += 1;
                        if facts.took(path) {
                            *took += 1;
                        }
                    } else {
                        *open += 1;
                    }
                }
                // The tallies are built from the same KPIs in the same order.
                _ => {}
            }
        }
    }
}

fn number(value: Option<&FieldValue>) -> Option<f64> {
    match value? {
        FieldValue::Integer(n) => Some(*n as f64),
        FieldValue::Number(n) if n.is_finite() => Some(*n),
        _ => None,
    }
}

/// The running figures of one step.
#[derive(Debug, Clone)]
struct StepTally {
    activations: u64,
    cases: u64,
    reworked_cases: u64,
    rework_activations: u64,
    with_due: u64,
    breached: u64,
    still_active: u64,
    waiting: Durations,
    working: Durations,
    active: Durations,
}

/// The running figures of one SOP version.
struct VersionTally {
    process: Process,
    working: bool,
    total: GroupTally,
    groups: BTreeMap<(Option<NaiveDate>, Option<String>), GroupTally>,
    steps: FxHashMap<StepId, StepTally>,
    edges: FxHashMap<Transition, (u64, u64)>,
    variants: FxHashMap<Vec<StepId>, Durations>,
    other_variants: u64,
}

/// Takes case histories one at a time and keeps the running figures of a report.
pub struct Accumulator {
    sop: SopId,
    options: Options,
    versions: BTreeMap<u32, VersionTally>,
    skipped: u64,
}

impl Accumulator {
    /// An accumulator for the cases of one SOP.
    pub fn new(sop: SopId, options: Options) -> Accumulator {
        Accumulator {
            sop,
            options,
            versions: BTreeMap::new(),
            skipped: 0,
        }
    }

    /// Counts one case: its events in order, and the process of the SOP version it runs.
    ///
    /// A case opened outside `since`/`until` is left out (and counted as skipped). Fails,
    /// counting nothing, when the history does not start with the case's opening, or the
    /// case or process is not the SOP and version the report is about, or the segment
    /// field is not a choice field of that version.
    pub fn push(&mut self, process: &Process, events: &[Event]) -> Result<(), MetricsError> {
        let facts = CaseFacts::read(process, events)?;
        self.push_facts(process, &facts)
    }

    /// Counts one case from its facts, read from its events before
    /// ([`CaseFacts::read`]) or kept by a store ([`CaseFacts::decode`]): the same as
    /// [`push`](Accumulator::push) with those events.
    ///
    /// Fails, counting nothing, when the case or process is not the SOP and version the
    /// report is about, or the segment field is not a choice field of that version.
    pub fn push_facts(&mut self, process: &Process, facts: &CaseFacts) -> Result<(), MetricsError> {
        if facts.sop != self.sop || process.id() != &self.sop {
            return Err(MetricsError::OtherSop {
                case: facts.case.clone(),
                expected: self.sop.clone(),
                found: facts.sop.clone(),
            });
        }
        if facts.version != process.version() {
            return Err(MetricsError::OtherVersion {
                case: facts.case.clone(),
                case_version: facts.version,
                process_version: process.version(),
            });
        }
        if self.options.since.is_some_and(|since| facts.opened < since)
            || self
                .options
                .until
                .is_some_and(|until| facts.opened >= until)
        {
            self.skipped += 1;
            return Ok(());
        }
        if !self.versions.contains_key(&facts.version) {
            if let Some(field) = &self.options.segment {
                check_segment(process, field)?;
            }
            let working = process.default_calendar().name.is_some();
            self.versions.insert(
                facts.version,
                VersionTally {
                    process: process.clone(),
                    working,
                    total: GroupTally::new(process, working),
                    groups: BTreeMap::new(),
                    steps: FxHashMap::default(),
                    edges: FxHashMap::default(),
                    variants: FxHashMap::default(),
                    other_variants: 0,
                },
            );
        }
        let Some(tally) = self.versions.get_mut(&facts.version) else {
            return Ok(());
        };
        let process = &tally.process;
        let calendar = process.default_calendar();
        tally.total.add(process, facts);
        if self.options.period.is_some() || self.options.segment.is_some() {
            let period = self.options.period.map(|period| {
                period.start_of(
                    facts
                        .opened
                        .with_timezone(&calendar.calendar.zone())
                        .date_naive(),
                )
            });
            let segment =
                self.options
                    .segment
                    .as_ref()
                    .and_then(|field| match facts.fields.get(field) {
                        Some(FieldValue::Text(value)) => Some(value.clone()),
                        _ => None,
                    });
            tally
                .groups
                .entry((period, segment))
                .or_insert_with(|| GroupTally::new(process, tally.working))
                .add(process, facts);
        }

        // Steps: every activation, and rework per case.
        // Activations per step and item: the items of a step run once per item are one
        // round; the same item again is rework.
        let mut rounds: FxHashMap<(&StepId, Option<&str>), u64> = FxHashMap::default();
        for activation in &facts.activations {
            *rounds
                .entry((&activation.step, activation.item.as_deref()))
                .or_default() += 1;
            let step = tally
                .steps
                .entry(activation.step.clone())
                .or_insert_with(|| StepTally {
                    activations: 0,
                    cases: 0,
                    reworked_cases: 0,
                    rework_activations: 0,
                    with_due: 0,
                    breached: 0,
                    still_active: 0,
                    waiting: Durations::new(tally.working),
                    working: Durations::new(tally.working),
                    active: Durations::new(tally.working),
                });
            step.activations += 1;
            if activation.has_due {
                step.with_due += 1;
                if activation.breached {
                    step.breached += 1;
                }
            }
            let waited_until = activation.claimed.or(activation.completed);
            if let Some(until) = waited_until {
                step.waiting.add(calendar, activation.activated, until);
            }
            if let (Some(claimed), Some(completed)) = (activation.claimed, activation.completed) {
                step.working.add(calendar, claimed, completed);
            }
            match activation.ended {
                Some(ended) => step.active.add(calendar, activation.activated, ended),
                None => step.still_active += 1,
            }
        }
        let mut per_step: FxHashMap<&StepId, u64> = FxHashMap::default();
        for ((step, _), n) in rounds {
            *per_step.entry(step).or_default() += n - 1;
        }
        for (step, extra) in per_step {
            if let Some(step) = tally.steps.get_mut(step) {
                step.cases += 1;
                if extra > 0 {
                    step.reworked_cases += 1;
                    step.rework_activations += extra;
                }
            }
        }

        // Edges, each traversal and each case once.
        let mut seen: Vec<Transition> = Vec::with_capacity(facts.walk.len());
        for &transition in &facts.walk {
            let counts = tally.edges.entry(transition).or_default();
            counts.0 += 1;
            if !seen.contains(&transition) {
                seen.push(transition);
                counts.1 += 1;
            }
        }

        // Path variants of closed cases.
        if let Some(closed) = facts.closed {
            let path: Vec<StepId> = facts.activations.iter().map(|a| a.step.clone()).collect();
            let known = tally.variants.len();
            match tally.variants.get_mut(&path) {
                Some(durations) => durations.add(calendar, facts.opened, closed),
                None if known < MAX_VARIANTS => {
                    let mut durations = Durations::new(tally.working);
                    durations.add(calendar, facts.opened, closed);
                    tally.variants.insert(path, durations);
                }
                None => tally.other_variants += 1,
            }
        }
        Ok(())
    }

    /// The report of every case pushed.
    pub fn finish(self) -> Report {
        let top = if self.options.variants == 0 {
            10
        } else {
            self.options.variants
        };
        let zone = self.versions.values().next_back().map_or_else(
            || "UTC".to_owned(),
            |v| {
                v.process
                    .default_calendar()
                    .calendar
                    .zone()
                    .name()
                    .to_owned()
            },
        );
        Report {
            sop: self.sop,
            period: self.options.period,
            segment: self.options.segment,
            zone,
            skipped: self.skipped,
            versions: self
                .versions
                .into_values()
                .map(|tally| report::version_report(tally, top))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
