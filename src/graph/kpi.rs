//! Key performance indicators as compiled: every step and field resolved, every target
//! and goal read as the number it means.

use crate::model::{FieldId, KpiId, SopDuration, StepId};

/// A KPI of the SOP (`kpis:`), checked against its steps and fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Kpi {
    /// Its name under `kpis:`.
    pub id: KpiId,
    /// How reports name it: its `title`, or its id.
    pub title: String,
    /// What it measures, with the target one case should meet.
    pub measure: KpiMeasure,
    /// The share the KPI should reach (or stay under).
    pub goal: Option<KpiGoal>,
}

/// What a KPI measures.
#[derive(Debug, Clone, PartialEq)]
pub enum KpiMeasure {
    /// The time from one point of a case to another (first response, resolution).
    Duration {
        /// Where the clock starts.
        from: CaseMoment,
        /// Where it stops.
        to: CaseMoment,
        /// How long one case may take. In working time of the SOP's calendar when it has
        /// one, like every timer of the SOP; round the clock otherwise.
        target: Option<SopDuration>,
    },
    /// The mean of a number field over the cases that hold a value (CSAT).
    Mean {
        /// The field.
        field: FieldId,
        /// The mean to reach, at least.
        target: Option<f64>,
    },
    /// The net promoter score of a 0–10 field: % promoters (9–10) − % detractors (0–6).
    Nps {
        /// The field.
        field: FieldId,
        /// The score to reach, at least.
        target: Option<f64>,
    },
    /// The share of service levels met.
    Sla(SlaCount),
    /// The share of cases that took a path.
    Rate(PathTaken),
}

/// A point in a case's life.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CaseMoment {
    /// The case started.
    Opened,
    /// The case closed: its last close, for a case reopened and closed again.
    Closed,
    /// The step first became active.
    Activated(StepId),
    /// The step was first completed (a task done, a gate approved or rejected).
    Completed(StepId),
}

impl std::fmt::Display for CaseMoment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseMoment::Opened => f.write_str("opened"),
            CaseMoment::Closed => f.write_str("closed"),
            CaseMoment::Activated(step) => write!(f, "{step} activated"),
            CaseMoment::Completed(step) => write!(f, "{step} completed"),
        }
    }
}

/// Which service levels an SLA compliance KPI counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlaCount {
    /// Every activation of every step that has a `due`.
    Steps,
    /// The case's own service level (`sla:`).
    Case,
    /// Every activation of this step.
    Step(StepId),
}

/// A path a case may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathTaken {
    /// A step was escalated by its performer or moved along its overdue path.
    Escalated,
    /// A step was activated more than once.
    Reworked,
    /// The case was reopened.
    Reopened,
    /// The case reached this step.
    Reached(StepId),
}

/// The share a KPI should reach or stay under, as a fraction (0.9 for `90%`). Its JSON
/// form is `{"at_least": 0.9}` or `{"at_most": 0.1}`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KpiGoal {
    /// At least this share (`goal: 90%`).
    AtLeast(f64),
    /// At most this share (`at_most: 10%`).
    AtMost(f64),
}

impl KpiGoal {
    /// Whether a measured share meets the goal.
    pub fn met_by(self, share: f64) -> bool {
        match self {
            KpiGoal::AtLeast(goal) => share >= goal,
            KpiGoal::AtMost(limit) => share <= limit,
        }
    }
}

impl std::fmt::Display for KpiGoal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KpiGoal::AtLeast(goal) => write!(f, "≥ {}%", percent(*goal)),
            KpiGoal::AtMost(limit) => write!(f, "≤ {}%", percent(*limit)),
        }
    }
}

/// A fraction as a percentage without trailing zeros (`0.9` → `90`, `0.955` → `95.5`).
fn percent(fraction: f64) -> String {
    let text = format!("{:.2}", fraction * 100.0);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}
