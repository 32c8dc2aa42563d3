//! Key performance indicators as written under `kpis:`.
//!
//! # Why this shape
//!
//! An ops lead reads a KPI as one line: what is measured, the target one case should meet,
//! and the share of cases that should meet it. So each KPI is one flat mapping whose kind
//! follows from its keys, as a step's does:
//!
//! ```yaml
//! kpis:
//!   first_response: { from: opened, to: { completed: identify }, target: 1h, goal: 90% }
//!   resolution:     { from: opened, to: closed, target: 3bd, goal: 80% }
//!   csat:           { mean: csat, target: 4.5 }
//!   nps:            { nps: recommend, target: 30 }
//!   sla_compliance: { sla: steps, goal: 95% }
//!   escalation:     { rate: escalated, at_most: 10% }
//!   resolved:       { rate: { reached: close }, goal: 85% }
//! ```
//!
//! The words are the ones the rest of the SOP uses (`opened`, `closed`, `completed`, the
//! step and field ids, durations like `1h` and `3bd`), so nothing new has to be learnt; a
//! percentage is written with `%` so that `goal: 90%` cannot be misread as 90 hours or
//! 0.9 of something. Whether a combination makes sense (a `mean` with a `from`, a `target`
//! on a rate) is the compiler's business, which reports every problem with its place.

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{FieldId, Spanned, StepId};

/// One KPI under `kpis:`. Its kind follows from its keys: `from`/`to` a duration, `mean`
/// the average of a number field, `nps` a net promoter score, `sla` the share of service
/// levels met, `rate` the share of cases that took a path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Kpi {
    /// How reports name the KPI (`First response time`); defaults to its id.
    #[serde(default)]
    pub title: Option<Spanned<String>>,
    /// Where a duration starts: `opened`, `{ activated: STEP }` or `{ completed: STEP }`.
    #[serde(default)]
    pub from: Option<Spanned<CasePoint>>,
    /// Where a duration ends: `closed`, `{ activated: STEP }` or `{ completed: STEP }`.
    #[serde(default)]
    pub to: Option<Spanned<CasePoint>>,
    /// The average of this number field over the cases that have a value (CSAT).
    #[serde(default)]
    pub mean: Option<Spanned<FieldId>>,
    /// The net promoter score of this 0–10 field: % promoters (9–10) − % detractors (0–6).
    #[serde(default)]
    pub nps: Option<Spanned<FieldId>>,
    /// The share of service levels met: `steps` (every step's `due`), `case` (the case's
    /// `sla`) or `{ step: STEP }`.
    #[serde(default)]
    pub sla: Option<Spanned<SlaScope>>,
    /// The share of cases that took a path: `escalated`, `reworked`, `reopened` or
    /// `{ reached: STEP }`.
    #[serde(default)]
    pub rate: Option<Spanned<CasePath>>,
    /// What one case should meet: a duration for `from`/`to` (`1h`, `3bd`), a number for
    /// `mean` and `nps` (the value to reach).
    #[serde(default)]
    pub target: Option<Spanned<KpiNumber>>,
    /// The share of cases (or service levels) that should meet the target, at least
    /// (`90%`).
    #[serde(default)]
    pub goal: Option<Spanned<KpiNumber>>,
    /// The share of cases that should take the path, at most (`10%`): for rates where
    /// less is better, such as escalations.
    #[serde(default)]
    pub at_most: Option<Spanned<KpiNumber>>,
}

/// A point in a case's life that a duration KPI starts or ends at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CasePoint {
    /// When the case was started.
    Opened,
    /// When the case closed (its last close, for a case reopened and closed again).
    Closed,
    /// When the step first became active.
    Activated(Spanned<StepId>),
    /// When the step was first completed (a task done, a gate decided).
    Completed(Spanned<StepId>),
}

/// Which service levels an `sla` KPI counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SlaScope {
    /// Every activation of every step with a `due`.
    Steps,
    /// The case's own `sla` (resolve within).
    Case,
    /// Every activation of one step with a `due`.
    Step(Spanned<StepId>),
}

/// A path a case may take, for a `rate` KPI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CasePath {
    /// A step was escalated by its performer or moved along its overdue path.
    Escalated,
    /// A step was activated more than once (a rejection or a loop sent work back).
    Reworked,
    /// The case was reopened after it closed or was cancelled.
    Reopened,
    /// The case reached this step.
    Reached(Spanned<StepId>),
}

/// A number or text as written for `target`, `goal` and `at_most`: the compiler reads it
/// as a duration, a number or a percentage according to the KPI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(untagged)]
pub enum KpiNumber {
    /// A plain number (`4.5`).
    Number(f64),
    /// A duration (`1h`, `3bd`) or a percentage (`90%`).
    Text(String),
}

impl std::fmt::Display for KpiNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KpiNumber::Number(number) => write!(f, "{number}"),
            KpiNumber::Text(text) => f.write_str(text),
        }
    }
}
