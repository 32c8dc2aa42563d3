//! Scenario tests for SOPs: `NAME.test.yaml` beside `NAME.yaml` says, step by step, what a
//! case does and what must follow ("a High priority ticket not answered in 1 business hour
//! goes to the team leader"), and [`run`] proves it on a virtual clock.
//!
//! A scenario file is read like an SOP ([`parse`]: located errors, unknown keys with "did
//! you mean"), checked against the compiled SOP before anything runs ([`check`]: unknown
//! steps, fields, roles, actors, refusal kinds, values that do not fit a field), then each
//! scenario runs on a fresh case ([`run`]). The clock is virtual: `wait: 2h` moves it in
//! working time of the SOP's default calendar and fires every timer that falls due on the
//! way, at its due time, as `sop case tick` would. Nothing reads the wall clock, so a run
//! is deterministic. [`Coverage`] says which steps, edges and service-level events the
//! scenarios of a file reached.
//!
//! The tests live in a file of their own, not in a `tests:` list inside the SOP: an SOP
//! version is stored with its text and cases finish on the version they started on, so a
//! new scenario must not make a new version; tests change more often than procedures; and
//! the SOP stays a document an ops lead reads.
//!
//! ```
//! use sopflow::scenario;
//! let sop = sopflow::parse::parse_sop("hello.yaml", "
//! id: hello
//! version: 1
//! title: Say hello
//! department: Customer Service
//! roles: { agent: Support team member }
//! steps:
//!   - { id: greet, title: Greet the customer, role: agent, end: true }
//! ").unwrap();
//! let process = sopflow::graph::compile(&sop).process.unwrap();
//! let file = scenario::parse("hello.test.yaml", "
//! actors: { ana: [agent] }
//! scenarios:
//!   - name: A greeting closes the case
//!     start: { as: ana }
//!     steps:
//!       - complete: greet
//!       - expect: { status: closed, path: [greet] }
//! ").unwrap();
//! assert!(scenario::check(&process, &file).is_empty());
//! let outcomes = scenario::run(&process, &file);
//! assert!(outcomes[0].failure.is_none());
//! assert_eq!(scenario::Coverage::of(&process, &outcomes).edges.percent(), 100.0);
//! ```

mod check;
mod coverage;
mod run;

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::Deserialize;

use crate::model::{FieldValue, OrderedMap, SopDuration, Spanned};
use crate::parse::ParseError;

pub use check::check;
pub use coverage::{Count, Coverage, SlaEvent};
pub use run::{DEFAULT_START, Failure, ScenarioOutcome, run};

/// The file name suffix of scenario files: `customer-support.test.yaml` tests
/// `customer-support.yaml`.
pub const SUFFIX: &str = ".test.yaml";

/// A scenario file: the actors who play the scenarios, and the scenarios.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[cfg_attr(feature = "schema", schemars(title = "sopflow scenario file"))]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Who acts, each with the SOP roles they hold (`ana: [support_agent]`).
    #[serde(default)]
    pub actors: OrderedMap<String, Vec<Spanned<String>>>,
    /// The scenarios, each run on a fresh case.
    pub scenarios: Vec<Scenario>,
}

/// One scenario: a case started, then steps that act, wait and expect.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The situation it proves, as an ops lead says it.
    pub name: Spanned<String>,
    /// How the case starts.
    pub start: Spanned<Start>,
    /// What happens, in order.
    #[serde(default)]
    pub steps: Vec<Spanned<ScenarioStep>>,
}

/// How a scenario's case starts.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Start {
    /// When, as an RFC 3339 time (`2026-01-05T09:00:00Z`); [`DEFAULT_START`] (a Monday,
    /// 09:00 UTC) when absent.
    #[serde(default)]
    pub at: Option<Spanned<String>>,
    /// Who starts it: an actor of the file.
    #[serde(rename = "as")]
    pub actor: Spanned<String>,
    /// Initial field values.
    #[serde(default)]
    pub fields: OrderedMap<String, FieldValue>,
}

/// One step of a scenario: exactly one action (`complete`, `approve`, `reject`,
/// `escalate`, `cancel_step`, `claim`, `assign`, `transfer`, `postpone`, `note`, `set`,
/// `pause`, `resume`, `cancel`, `reopen`, `sub_case_completes`, `sub_case_cancelled`),
/// a `wait` or an `expect`, with the keys that go with it.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScenarioStep {
    /// Complete this task (with `fields`).
    #[serde(default)]
    pub complete: Option<Spanned<String>>,
    /// Approve this gate (with an optional `comment`).
    #[serde(default)]
    pub approve: Option<Spanned<String>>,
    /// Reject this gate (with a `reason`).
    #[serde(default)]
    pub reject: Option<Spanned<String>>,
    /// Escalate this step (with a `reason`).
    #[serde(default)]
    pub escalate: Option<Spanned<String>>,
    /// Cancel this step on its own (with a `reason`); the step needs `on_cancel`.
    #[serde(default)]
    pub cancel_step: Option<Spanned<String>>,
    /// Take this step as one's own work item.
    #[serde(default)]
    pub claim: Option<Spanned<String>>,
    /// Give this step to the actor `to`.
    #[serde(default)]
    pub assign: Option<Spanned<String>>,
    /// Hand this step to the role `to`.
    #[serde(default)]
    pub transfer: Option<Spanned<String>>,
    /// Put this step on hold `for` this much working time.
    #[serde(default)]
    pub postpone: Option<Spanned<String>>,
    /// Add this note to the case.
    #[serde(default)]
    pub note: Option<Spanned<String>>,
    /// Change these fields outside any step.
    #[serde(default)]
    pub set: Option<Spanned<OrderedMap<String, FieldValue>>>,
    /// Pause the case's pausable clocks, for this reason.
    #[serde(default)]
    pub pause: Option<Spanned<String>>,
    /// Resume the case; the text says why, for the reader.
    #[serde(default)]
    pub resume: Option<Spanned<String>>,
    /// Cancel the case, for this reason.
    #[serde(default)]
    pub cancel: Option<Spanned<String>>,
    /// Reopen the case, for this reason.
    #[serde(default)]
    pub reopen: Option<Spanned<String>>,
    /// The sub-case this call task waits for completes, with these `fields` (the called
    /// SOP's field values, of which the call's `returns` takes back its own).
    #[serde(default)]
    pub sub_case_completes: Option<Spanned<String>>,
    /// The sub-case this call task waits for is cancelled: the task stays with its role.
    #[serde(default)]
    pub sub_case_cancelled: Option<Spanned<String>>,
    /// Move the virtual clock by this much working time, firing timers on the way.
    #[serde(default)]
    pub wait: Option<Spanned<SopDuration>>,
    /// Check the case.
    #[serde(default)]
    pub expect: Option<Spanned<Expect>>,
    /// Who acts; the actor who started the case when absent.
    #[serde(default, rename = "as")]
    pub actor: Option<Spanned<String>>,
    /// Field values sent with `complete`, or the sub-case's with `sub_case_completes`.
    #[serde(default)]
    pub fields: Option<Spanned<OrderedMap<String, FieldValue>>>,
    /// Which item of a step run once per item (`for_each`) the action is on (`complete`,
    /// `escalate`, `claim`, `assign`, `transfer`, `postpone`).
    #[serde(default)]
    pub item: Option<Spanned<String>>,
    /// Why (`reject`, `escalate`, `cancel_step`).
    #[serde(default)]
    pub reason: Option<Spanned<String>>,
    /// The approver's remark (`approve`).
    #[serde(default)]
    pub comment: Option<Spanned<String>>,
    /// Who gets the step: an actor (`assign`) or a role (`transfer`).
    #[serde(default)]
    pub to: Option<Spanned<String>>,
    /// How long the step is on hold (`postpone`), in working time of the SOP's default
    /// calendar.
    #[serde(default, rename = "for")]
    pub hold_for: Option<Spanned<SopDuration>>,
    /// The action must be refused, with this kind (see
    /// [`CommandError::kind`](crate::engine::CommandError::kind)).
    #[serde(default)]
    pub refused: Option<Spanned<String>>,
}

/// What a scenario checks at a point; every key is optional and only those written are
/// checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Exactly these steps are active (in any order).
    #[serde(default)]
    pub active: Option<Spanned<Vec<Spanned<String>>>>,
    /// The case is `open`, `closed` or `cancelled`.
    #[serde(default)]
    pub status: Option<Spanned<String>>,
    /// Exactly these steps have had their service level breached so far.
    #[serde(default)]
    pub breached: Option<Spanned<Vec<Spanned<String>>>>,
    /// Exactly these steps have been warned that they are nearly due so far.
    #[serde(default)]
    pub warned: Option<Spanned<Vec<Spanned<String>>>>,
    /// The case's own service level: `on-time`, `warned` or `breached`.
    #[serde(default)]
    pub case_sla: Option<Spanned<String>>,
    /// Whether the case is paused.
    #[serde(default)]
    pub paused: Option<Spanned<bool>>,
    /// Each of these notifications was sent since the previous `expect` (others may have
    /// been sent too).
    #[serde(default)]
    pub notified: Option<Spanned<Vec<Spanned<Notified>>>>,
    /// These fields hold these values.
    #[serde(default)]
    pub fields: Option<Spanned<OrderedMap<String, FieldValue>>>,
    /// For each active step, exactly these actors of the file may act on it now.
    #[serde(default)]
    pub may_act: Option<Spanned<OrderedMap<String, Vec<Spanned<String>>>>>,
    /// The steps left so far, in order: tasks completed, gates approved or rejected,
    /// decisions taken.
    #[serde(default)]
    pub path: Option<Spanned<Vec<Spanned<String>>>>,
}

/// A notification a scenario expects.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Notified {
    /// A role of the SOP (every holder) or an actor of the file.
    pub to: Spanned<String>,
    /// `work_waiting`, `work_assigned`, `approval_requested`, `due_soon`, `overdue`,
    /// `escalation`, `rejected` or `step_cancelled`; any kind when absent.
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    /// The step it is about; any when absent.
    #[serde(default)]
    pub step: Option<Spanned<String>>,
}

/// The notification kinds a scenario may name, as in their JSON `kind`.
pub const NOTIFICATION_KINDS: &[&str] = &[
    "work_waiting",
    "work_assigned",
    "approval_requested",
    "due_soon",
    "overdue",
    "escalation",
    "rejected",
    "step_cancelled",
];

/// Reads a scenario file from YAML text; `file` names it in errors.
///
/// ```
/// let error = sopflow::scenario::parse("t.test.yaml", "scenarios: []\nactor: {}\n").unwrap_err();
/// assert_eq!(error.span.line, 2);
/// assert!(error.help.unwrap().starts_with("did you mean `actors`?"));
/// ```
pub fn parse(file: &str, text: &str) -> Result<ScenarioFile, ParseError> {
    crate::parse::parse_yaml(file, text)
}

/// "did you mean `x`?" for the closest of `candidates`, or the list of them when none is
/// close.
pub(crate) fn suggest(name: &str, candidates: &[&str], what: &str) -> String {
    let best = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)));
    match best {
        Some((_, best)) => format!("did you mean `{best}`?"),
        None if candidates.is_empty() => format!("there are no {what}"),
        None => {
            let list: Vec<String> = candidates
                .iter()
                .take(8)
                .map(|c| format!("`{c}`"))
                .collect();
            let more = if candidates.len() > 8 { ", …" } else { "" };
            format!("the {what} are {}{more}", list.join(", "))
        }
    }
}

#[cfg(test)]
mod tests;
