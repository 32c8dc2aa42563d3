//! Events: the facts a case is made of. A case's state is the fold of its events, and the
//! event log is its audit trail.
//!
//! # JSON form (schema version 1)
//! Each event is one object: `{"v": 1, "seq": 3, "at": "2026-01-05T09:00:00Z",
//! "command": "c-17", "actor": "ana", "type": "step_completed", ...}` with the fields of
//! its [`EventKind`] flattened in. `seq` counts from 1 within a case. New kinds and new
//! optional fields may be added within version 1; anything else bumps `v`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::command::FieldValues;
use super::ids::{ActorId, CaseId, CommandId};
use crate::model::{RoleId, SopId, StepId};

mod decode;

/// The event schema version written by this crate.
pub const EVENT_SCHEMA_VERSION: u16 = 1;

/// Identifies one activation of a step (a token). A step activated again after rework
/// gets a new token, so approvals and assignments never leak between rounds.
pub type TokenId = u32;

/// One fact about a case, with when, why and by whom.
///
/// Its `Deserialize` is written by hand (in `decode.rs`) so that an event is read without
/// first being buffered; it reads the same JSON as a derived one would.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Schema version of this event.
    pub v: u16,
    /// Position in the case's log, from 1.
    pub seq: u64,
    /// When it happened (the `now` given to the engine).
    pub at: DateTime<Utc>,
    /// The command that caused it.
    pub command: CommandId,
    /// Who sent that command.
    pub actor: ActorId,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The case was opened.
    CaseStarted {
        /// Its id.
        case: CaseId,
        /// The SOP it runs.
        sop: SopId,
        /// The SOP version it runs, to the end.
        version: u32,
        /// Initial values, defaults included.
        fields: FieldValues,
        /// The case and call step this case was started for, when it is a sub-case.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<ParentLink>,
    },
    /// A step (task or approval gate) became active.
    StepActivated {
        /// The step.
        step: StepId,
        /// This activation.
        token: TokenId,
        /// The item this activation is for, when the step runs once per item
        /// (`for_each`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<String>,
        /// When its SLA is breached.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_at: Option<DateTime<Utc>>,
        /// When its deferred-choice timer fires.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_at: Option<DateTime<Utc>>,
        /// When whoever holds it is warned that it is nearly due.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warn_at: Option<DateTime<Utc>>,
        /// When each level of its escalation ladder is reached.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        levels: Vec<DateTime<Utc>>,
        /// Whether pausing the case stops its SLA clock.
        #[serde(default, skip_serializing_if = "is_false")]
        pausable: bool,
    },
    /// Someone took or was given an active step.
    StepAssigned {
        /// The step.
        step: StepId,
        /// The activation.
        token: TokenId,
        /// Who now holds it.
        assignee: ActorId,
    },
    /// An active step was handed to another role.
    StepTransferred {
        /// The step.
        step: StepId,
        /// The activation.
        token: TokenId,
        /// The role that now performs it.
        role: RoleId,
    },
    /// An active step was put on hold.
    StepPostponed {
        /// The step.
        step: StepId,
        /// The activation.
        token: TokenId,
        /// When it comes back.
        until: DateTime<Utc>,
        /// Its SLA deadline moved by the time on hold.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_at: Option<DateTime<Utc>>,
    },
    /// Field values changed.
    FieldsUpdated {
        /// The new values.
        fields: FieldValues,
    },
    /// A task was done.
    StepCompleted {
        /// The step.
        step: StepId,
        /// The activation.
        token: TokenId,
    },
    /// One approver approved a gate.
    ApprovalGranted {
        /// The gate.
        step: StepId,
        /// The activation.
        token: TokenId,
        /// The approver's remark.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// A gate got all the approvals it needs.
    GateApproved {
        /// The gate.
        step: StepId,
        /// The activation.
        token: TokenId,
    },
    /// An approver rejected a gate.
    GateRejected {
        /// The gate.
        step: StepId,
        /// The activation.
        token: TokenId,
        /// Why.
        reason: String,
    },
    /// A decision chose its path.
    DecisionTaken {
        /// The decision.
        step: StepId,
        /// The condition that held (its text), or `None` for `else`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        condition: Option<String>,
        /// Where the case went.
        target: StepId,
    },
    /// A step was escalated by its performer.
    StepEscalated {
        /// The step.
        step: StepId,
        /// The activation.
        token: TokenId,
        /// Why.
        reason: String,
    },
    /// An active step was cancelled on its own (`on_cancel`); the case went on at its
    /// `on_cancel` step.
    StepCancelled {
        /// The step.
        step: StepId,
        /// The activation.
        token: TokenId,
        /// Why.
        reason: String,
    },
    /// A call task became active and asked for a case of another SOP (a sub-case) to be
    /// started with these fields; the store starts it. The task waits for it.
    SubCaseRequested {
        /// The call task.
        step: StepId,
        /// Its activation.
        token: TokenId,
        /// The sub-case's id.
        case: CaseId,
        /// The SOP it runs.
        sop: SopId,
        /// Its initial values, mapped in from this case's fields.
        #[serde(default, skip_serializing_if = "FieldValues::is_empty")]
        fields: FieldValues,
    },
    /// The sub-case a call task asked for was started.
    SubCaseStarted {
        /// The call task.
        step: StepId,
        /// Its activation.
        token: TokenId,
        /// The sub-case.
        case: CaseId,
    },
    /// The sub-case a call task waits for closed or was cancelled. When it completed, its
    /// returned fields and the task's completion follow in the same command; when it was
    /// cancelled, the task stays with its role.
    SubCaseFinished {
        /// The call task.
        step: StepId,
        /// Its activation.
        token: TokenId,
        /// The sub-case.
        case: CaseId,
        /// How it ended.
        outcome: SubCaseOutcome,
    },
    /// This sub-case's parent case was told how it ended.
    ParentInformed {
        /// The parent case.
        parent: CaseId,
    },
    /// A step's SLA was breached.
    SlaBreached {
        /// The step.
        step: StepId,
        /// The activation.
        token: TokenId,
        /// Whether the step was left for its escalation path (`on_overdue`), or stays
        /// active, marked as breached.
        escalated: bool,
    },
    /// The case's service level started: when it is due, warned, and each level of its
    /// ladder reached.
    CaseSlaStarted {
        /// When the case is overdue.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_at: Option<DateTime<Utc>>,
        /// When whoever holds its work is warned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warn_at: Option<DateTime<Utc>>,
        /// When each level of its ladder is reached.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        levels: Vec<DateTime<Utc>>,
        /// Whether pausing the case stops the clock.
        #[serde(default, skip_serializing_if = "is_false")]
        pausable: bool,
    },
    /// A service level is nearly due: a step's (with its step and token) or the case's
    /// (without).
    SlaWarned {
        /// The step, or `None` for the case.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<StepId>,
        /// The activation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<TokenId>,
    },
    /// The case's service level was breached.
    CaseSlaBreached,
    /// A level of an escalation ladder was reached after a breach.
    SlaLevelReached {
        /// The step, or `None` for the case.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<StepId>,
        /// The activation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<TokenId>,
        /// The level, from 1.
        level: u32,
        /// The role told.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notify: Option<RoleId>,
        /// Whether the step was taken from its performer along its `overdue` path.
        #[serde(default, skip_serializing_if = "is_false")]
        escalated: bool,
    },
    /// A service level's timers moved: the field its duration depends on changed, the
    /// case resumed after a pause, or the step was postponed.
    SlaRescheduled {
        /// The step, or `None` for the case.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<StepId>,
        /// The activation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<TokenId>,
        /// The new due time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_at: Option<DateTime<Utc>>,
        /// The new warning time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warn_at: Option<DateTime<Utc>>,
        /// The new ladder times.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        levels: Vec<DateTime<Utc>>,
        /// The new deferred-choice time (steps).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_at: Option<DateTime<Utc>>,
        /// Working time the clock has been held so far (paused or postponed), in seconds.
        #[serde(default, skip_serializing_if = "is_zero")]
        held_secs: i64,
    },
    /// The case waits on someone outside (the customer): pausable SLA clocks stop.
    CasePaused {
        /// Why.
        reason: String,
    },
    /// The case stopped waiting: pausable SLA clocks go on with the time they had left.
    CaseResumed,
    /// A deferred-choice timer won the race against the performer.
    TimerFired {
        /// The step.
        step: StepId,
        /// The activation.
        token: TokenId,
    },
    /// A parallel split started its branches.
    BranchesStarted {
        /// The split.
        step: StepId,
        /// How many branches must reach the join: those that started, or the split's
        /// `wait_for` when fewer. With none, the case went straight on past the join.
        branches: u32,
        /// Branches that did not start because their `when` condition did not hold.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        skipped: Vec<StepId>,
    },
    /// A branch reached its join.
    BranchJoined {
        /// The split whose join it reached.
        split: StepId,
    },
    /// A task that runs once per item (`for_each`) started, one activation per item.
    InstancesStarted {
        /// The task.
        step: StepId,
        /// The items, in the order chosen; with none, the case went straight on.
        items: Vec<String>,
        /// How many of them must be done before the case goes on.
        needed: u32,
    },
    /// Work that was no longer needed was withdrawn: a join got the `wait_for` branches
    /// it waits for, or a task run per item got its `wait_for` items done.
    WorkWithdrawn {
        /// The split or task whose `wait_for` was met.
        by: StepId,
        /// The activations withdrawn.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        steps: Vec<WithdrawnStep>,
        /// Splits nested in the withdrawn branches, whose joins no longer wait.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        joins: Vec<StepId>,
    },
    /// A note was added.
    NoteAdded {
        /// The note.
        text: String,
        /// The step it is about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<StepId>,
    },
    /// The case reached its end.
    CaseClosed,
    /// The case was cancelled; its active steps are withdrawn.
    CaseCancelled {
        /// Why.
        reason: String,
    },
    /// A closed or cancelled case was opened again.
    CaseReopened {
        /// Why.
        reason: String,
    },
    /// The case moved onto a newer version of its SOP (`sop case migrate`): its open work
    /// goes on there, under the step ids and timers given here.
    CaseMigrated {
        /// The version it ran on until now.
        from_version: u32,
        /// The version it runs on from now.
        to_version: u32,
        /// Steps whose id changed in the new version: from here on, each old id in the
        /// case (its active work, who performed what for four-eyes checks, parallel
        /// splits it waits in) means the new one.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        renamed: Vec<StepRename>,
        /// Values given to fields the case did not have: the new version's defaults and
        /// the plan's values.
        #[serde(default, skip_serializing_if = "FieldValues::is_empty")]
        fields: FieldValues,
        /// The timers of every active step, counted again under the new version's service
        /// levels from when the step became active.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        timers: Vec<MigratedTimers>,
        /// The case's own service level under the new version; `None` when it has none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case_sla: Option<MigratedTimers>,
    },
    /// The case's clock was set back to the event's time: its latest event before this one
    /// was stamped `wrong`, in the future. Later events may be earlier than `wrong`; the
    /// active steps that started after the event's time start at it instead.
    TimeCorrected {
        /// The time of the latest event before the correction.
        wrong: DateTime<Utc>,
        /// Why.
        reason: String,
    },
}

impl EventKind {
    /// The kind's name as in its JSON `type`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::CaseStarted { .. } => "case_started",
            EventKind::StepActivated { .. } => "step_activated",
            EventKind::StepAssigned { .. } => "step_assigned",
            EventKind::StepTransferred { .. } => "step_transferred",
            EventKind::StepPostponed { .. } => "step_postponed",
            EventKind::FieldsUpdated { .. } => "fields_updated",
            EventKind::StepCompleted { .. } => "step_completed",
            EventKind::ApprovalGranted { .. } => "approval_granted",
            EventKind::GateApproved { .. } => "gate_approved",
            EventKind::GateRejected { .. } => "gate_rejected",
            EventKind::DecisionTaken { .. } => "decision_taken",
            EventKind::StepEscalated { .. } => "step_escalated",
            EventKind::StepCancelled { .. } => "step_cancelled",
            EventKind::SubCaseRequested { .. } => "sub_case_requested",
            EventKind::SubCaseStarted { .. } => "sub_case_started",
            EventKind::SubCaseFinished { .. } => "sub_case_finished",
            EventKind::ParentInformed { .. } => "parent_informed",
            EventKind::SlaBreached { .. } => "sla_breached",
            EventKind::TimerFired { .. } => "timer_fired",
            EventKind::CaseSlaStarted { .. } => "case_sla_started",
            EventKind::SlaWarned { .. } => "sla_warned",
            EventKind::CaseSlaBreached => "case_sla_breached",
            EventKind::SlaLevelReached { .. } => "sla_level_reached",
            EventKind::SlaRescheduled { .. } => "sla_rescheduled",
            EventKind::CasePaused { .. } => "case_paused",
            EventKind::CaseResumed => "case_resumed",
            EventKind::BranchesStarted { .. } => "branches_started",
            EventKind::BranchJoined { .. } => "branch_joined",
            EventKind::InstancesStarted { .. } => "instances_started",
            EventKind::WorkWithdrawn { .. } => "work_withdrawn",
            EventKind::NoteAdded { .. } => "note_added",
            EventKind::CaseClosed => "case_closed",
            EventKind::CaseCancelled { .. } => "case_cancelled",
            EventKind::CaseReopened { .. } => "case_reopened",
            EventKind::CaseMigrated { .. } => "case_migrated",
            EventKind::TimeCorrected { .. } => "time_corrected",
        }
    }
}

/// The case and call step a sub-case was started for: where it reports how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentLink {
    /// The parent case.
    pub case: CaseId,
    /// Its call task.
    pub step: StepId,
    /// The activation of the call task that asked for this sub-case.
    pub token: TokenId,
}

/// How a sub-case ended, as its parent hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubCaseOutcome {
    /// It reached its end: the call task completes with the fields it returns.
    Completed,
    /// It was cancelled: the call task stays with its role to follow up.
    Cancelled,
}

impl SubCaseOutcome {
    /// `completed` or `cancelled`.
    pub fn name(self) -> &'static str {
        match self {
            SubCaseOutcome::Completed => "completed",
            SubCaseOutcome::Cancelled => "cancelled",
        }
    }
}

/// One activation withdrawn because the work it stood for was no longer needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawnStep {
    /// The step.
    pub step: StepId,
    /// The activation.
    pub token: TokenId,
}

/// A step whose id changed from one version of an SOP to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRename {
    /// Its id in the earlier version.
    pub from: StepId,
    /// The step of the new version that takes over.
    pub to: StepId,
}

/// The timers of an active step (`token`) or of the case's service level (no token), as
/// counted under a new version of the SOP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigratedTimers {
    /// The activation, or `None` for the case's service level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenId>,
    /// Its SLA deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// When whoever holds the work is warned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<DateTime<Utc>>,
    /// When each level of the escalation ladder is reached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<DateTime<Utc>>,
    /// Its deferred-choice deadline (steps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_at: Option<DateTime<Utc>>,
    /// Whether pausing the case stops the clock.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pausable: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}
