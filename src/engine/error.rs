//! Why the engine refused a command. A refused command yields no event.

use crate::model::{FieldId, RoleId, SopId, StepId};

use super::ids::{ActorId, CaseId};
use super::state::CaseStatus;

/// A command the engine refused, with what and why. Refusing changes nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Anything but `start` on a case with no events.
    #[error("case has not been started; send `start` first")]
    NotStarted,
    /// `start` on a case that exists.
    #[error("case `{case}` has already been started")]
    AlreadyStarted {
        /// The case.
        case: CaseId,
    },
    /// A command on a closed or cancelled case.
    #[error("case is {}: only `reopen` is accepted", .status.words())]
    CaseNotOpen {
        /// Its status.
        status: CaseStatus,
    },
    /// An id, text or value longer than the engine stores (see [`limits`](super::limits)).
    #[error("the {what} is {length} characters long; the most is {limit}")]
    TooLong {
        /// What was too long.
        what: &'static str,
        /// Its length in characters.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// More items than the engine stores (see [`limits`](super::limits)).
    #[error("{count} {what}; the most is {limit}")]
    TooMany {
        /// What there were too many of.
        what: &'static str,
        /// How many were given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A blank id, or one with control characters.
    #[error("the {what} `{id}` is blank or holds control characters")]
    InvalidId {
        /// Which id.
        what: &'static str,
        /// The id, escaped.
        id: String,
    },
    /// A time outside the range the engine works in.
    #[error("{what} {at} is outside the times sopflow accepts ({earliest} to {latest})")]
    TimeOutOfRange {
        /// Which time.
        what: &'static str,
        /// The time given.
        at: chrono::DateTime<chrono::Utc>,
        /// The earliest accepted.
        earliest: chrono::DateTime<chrono::Utc>,
        /// The latest accepted.
        latest: chrono::DateTime<chrono::Utc>,
    },
    /// A timer the command would set after the latest time the engine works in, so that
    /// no tick could ever fire it.
    #[error(
        "the timer of step `{step}` would fall due at {at}, after {latest}, the latest time sopflow accepts"
    )]
    TimerOutOfRange {
        /// The step.
        step: StepId,
        /// When it would fire.
        at: chrono::DateTime<chrono::Utc>,
        /// The latest accepted time.
        latest: chrono::DateTime<chrono::Utc>,
    },
    /// A timer whose calendar cannot reach its due time before the latest instant sopflow
    /// accepts.
    #[error("the timers of {what} would fall due after {latest}, the latest time sopflow accepts")]
    TimerPastLatest {
        /// `step `x`` or `the case's SLA`.
        what: String,
        /// The latest accepted time.
        latest: chrono::DateTime<chrono::Utc>,
    },
    /// `correct_time` on a case whose latest event is not after the command's time.
    #[error("{}", match .last {
        Some(last) => format!("the case's latest event ({last}) is not after {now}: its clock needs no correction"),
        None => "the case has no event: its clock needs no correction".to_owned(),
    })]
    ClockNotAhead {
        /// The time given.
        now: chrono::DateTime<chrono::Utc>,
        /// The latest event's time.
        last: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// `reopen` on an open case.
    #[error("case is open; only a closed or cancelled case can be reopened")]
    NotClosed,
    /// The case runs another SOP or version than the process given.
    #[error(
        "case runs `{case_sop}` version {case_version}, not `{process_sop}` version {process_version}; load the process version the case started on"
    )]
    WrongProcess {
        /// The case's SOP.
        case_sop: SopId,
        /// The case's version.
        case_version: u32,
        /// The process's SOP.
        process_sop: SopId,
        /// The process's version.
        process_version: u32,
    },
    /// A step id the SOP does not have.
    #[error("step `{step}` is not part of this SOP")]
    UnknownStep {
        /// The step.
        step: StepId,
    },
    /// A step that is not active now.
    #[error("step `{step}` is not active; active steps: {active}")]
    StepNotActive {
        /// The step.
        step: StepId,
        /// The steps that are active, for the message.
        active: String,
    },
    /// The step runs once per item and several of its items are active: the command must
    /// say which.
    #[error("step `{step}` runs once per item and several are active ({items}): say which item")]
    ItemRequired {
        /// The step.
        step: StepId,
        /// The active items, for the message.
        items: String,
    },
    /// The command names an item of the step that is not active (never chosen, or done).
    #[error("step `{step}` has no active item `{item}`; active items: {items}")]
    ItemNotActive {
        /// The step.
        step: StepId,
        /// The item named.
        item: String,
        /// The active items, for the message.
        items: String,
    },
    /// The actor does not hold the role the step needs (or any of a gate's roles).
    #[error(
        "`{actor}` cannot act on step `{step}`: it needs {}",
        needed_roles(role, other_roles)
    )]
    NotAuthorized {
        /// Who tried.
        actor: ActorId,
        /// The step.
        step: StepId,
        /// The role needed, or the first of a gate's roles.
        role: RoleId,
        /// The gate's other roles, any of which would do as well (empty for a task).
        other_roles: Vec<RoleId>,
    },
    /// The actor holds no role of this SOP at all.
    #[error("`{actor}` holds no role of this SOP")]
    NoRoleInSop {
        /// Who tried.
        actor: ActorId,
    },
    /// The step is someone else's work item.
    #[error("step `{step}` is assigned to `{assignee}`")]
    AssignedToSomeoneElse {
        /// The step.
        step: StepId,
        /// Its holder.
        assignee: ActorId,
    },
    /// The approver performed a step the gate reviews (four eyes).
    #[error(
        "`{actor}` performed `{reviewed}` and so cannot approve or reject `{step}` (four-eyes rule)"
    )]
    ReviewsOwnWork {
        /// Who tried.
        actor: ActorId,
        /// The gate.
        step: StepId,
        /// The step they performed.
        reviewed: StepId,
    },
    /// The actor performed a task this one must be kept apart from (separation of duties).
    #[error(
        "`{actor}` performed `{performed}` and so cannot perform `{step}` (separation of duties)"
    )]
    SeparateDuties {
        /// Who tried.
        actor: ActorId,
        /// The step.
        step: StepId,
        /// The task they performed.
        performed: StepId,
    },
    /// The approver already approved this round.
    #[error("`{actor}` has already approved `{step}`; it needs approvals from different people")]
    AlreadyApproved {
        /// Who tried.
        actor: ActorId,
        /// The gate.
        step: StepId,
    },
    /// `complete` on a gate, or `approve` on a task.
    #[error("step `{step}` is {actual}: use `{expected}` instead")]
    WrongAction {
        /// The step.
        step: StepId,
        /// What it is.
        actual: &'static str,
        /// The action that fits.
        expected: &'static str,
    },
    /// A field the SOP does not declare.
    #[error("`{field}` is not a field of this SOP")]
    UnknownField {
        /// The field.
        field: FieldId,
    },
    /// A value of the wrong type, or outside the options or bounds.
    #[error("invalid value for field `{field}`: {reason}")]
    InvalidValue {
        /// The field.
        field: FieldId,
        /// What is wrong.
        reason: String,
    },
    /// `complete` wrote a field the step does not collect and the actor's roles may not
    /// edit (field ownership).
    #[error("{}", not_collected(.field, .step, .collected_by, .editable_by))]
    FieldNotCollected {
        /// The field.
        field: FieldId,
        /// The step being completed.
        step: StepId,
        /// The tasks that collect the field, with their roles.
        collected_by: Vec<(StepId, RoleId)>,
        /// The roles that may change it outside its steps.
        editable_by: Vec<RoleId>,
    },
    /// `update_fields` (or `start`) wrote a field that none of the actor's roles may
    /// change outside the steps that collect it (field ownership).
    #[error("{}", not_editable(.field, .action, .collected_by, .editable_by))]
    FieldNotEditable {
        /// The field.
        field: FieldId,
        /// The action: `update_fields` or `start`.
        action: &'static str,
        /// The tasks that collect the field, with their roles.
        collected_by: Vec<(StepId, RoleId)>,
        /// The roles that may change it outside its steps.
        editable_by: Vec<RoleId>,
    },
    /// Required fields the step collects have no value.
    #[error("step `{step}` cannot complete: required {} missing", missing_list(.missing))]
    MissingRequired {
        /// The step.
        step: StepId,
        /// The fields without a value.
        missing: Vec<FieldId>,
    },
    /// An action that needs a reason (or a note's text) got none.
    #[error("`{action}` needs a reason")]
    ReasonRequired {
        /// The action.
        action: &'static str,
    },
    /// `escalate` on a step with no escalation path.
    #[error("step `{step}` has no escalation path (`on_escalate` or `on_overdue`)")]
    NoEscalationPath {
        /// The step.
        step: StepId,
    },
    /// `cancel_step` on a step the SOP does not let be cancelled on its own.
    #[error(
        "step `{step}` cannot be cancelled on its own: the SOP gives it no `on_cancel`; cancel the whole case instead, or add `on_cancel: STEP` to the step"
    )]
    NotCancellable {
        /// The step.
        step: StepId,
    },
    /// `complete` on a call task whose sub-case is still running: the sub-case completes
    /// it.
    #[error(
        "step `{step}` waits for its sub-case `{case}`: it completes when the sub-case closes; cancel the sub-case to take the step over by hand"
    )]
    WaitingForSubCase {
        /// The call task.
        step: StepId,
        /// The sub-case it waits for.
        case: CaseId,
    },
    /// A sub-case's start or finish reported to a case with no active call task waiting
    /// for it (the task was withdrawn, or already heard).
    #[error("no active step of this case waits for sub-case `{case}`")]
    NotWaitingForSubCase {
        /// The sub-case.
        case: CaseId,
    },
    /// A role the SOP does not declare.
    #[error("role `{role}` is not a role of this SOP")]
    UnknownRole {
        /// The role.
        role: RoleId,
    },
    /// `pause` on a case that is already paused.
    #[error("the case is already paused (since {since}): resume it before pausing it again")]
    AlreadyPaused {
        /// Since when.
        since: chrono::DateTime<chrono::Utc>,
    },
    /// `resume` on a case that is not paused.
    #[error("the case is not paused, so there is nothing to resume")]
    NotPaused,
    /// `postpone` to a time that is not in the future.
    #[error("cannot postpone step `{step}` to a time that is not after now")]
    PostponeNotInFuture {
        /// The step.
        step: StepId,
    },
    /// A decision's condition failed to evaluate.
    #[error("decision `{step}` could not be taken: {reason}")]
    DecisionFailed {
        /// The decision.
        step: StepId,
        /// Why.
        reason: String,
    },
    /// `now` is earlier than the case's latest event.
    #[error(
        "command time {now} is before the case's latest event at {last}; the clock passed to the engine must not run backwards"
    )]
    TimeWentBackwards {
        /// The time given.
        now: chrono::DateTime<chrono::Utc>,
        /// The latest event's time.
        last: chrono::DateTime<chrono::Utc>,
    },
    /// Decisions kept routing without reaching a step (a cycle of decisions).
    #[error(
        "routing passed {hops} decisions without reaching a step; the SOP's decisions form a cycle for these field values"
    )]
    RoutingLoop {
        /// How many hops were made.
        hops: u32,
    },
}

impl CommandError {
    /// Every refusal kind [`CommandError::kind`] returns, in declaration order.
    pub const KINDS: &'static [&'static str] = &[
        "not-started",
        "already-started",
        "case-not-open",
        "too-long",
        "too-many",
        "invalid-id",
        "time-out-of-range",
        "timer-out-of-range",
        "timer-past-latest",
        "clock-not-ahead",
        "not-closed",
        "wrong-process",
        "unknown-step",
        "step-not-active",
        "item-required",
        "item-not-active",
        "not-authorized",
        "no-role-in-sop",
        "assigned-to-someone-else",
        "four-eyes",
        "already-approved",
        "wrong-action",
        "unknown-field",
        "invalid-value",
        "field-not-collected",
        "field-not-editable",
        "missing-required",
        "reason-required",
        "no-escalation-path",
        "not-cancellable",
        "waiting-for-sub-case",
        "not-waiting-for-sub-case",
        "unknown-role",
        "already-paused",
        "not-paused",
        "postpone-not-in-future",
        "decision-failed",
        "time-went-backwards",
        "routing-loop",
    ];

    /// A stable kebab-case name for the kind of refusal, for scenario files and tools that
    /// must not depend on the wording of the message: `not-authorized`, `four-eyes` (the
    /// approver performed a reviewed step), `already-approved`, `step-not-active`,
    /// `missing-required`, `unknown-field`, `invalid-value`, … (all in [`Self::KINDS`]).
    ///
    /// ```
    /// use sopflow::engine::CommandError;
    /// assert_eq!(CommandError::NotStarted.kind(), "not-started");
    /// assert!(CommandError::KINDS.contains(&"four-eyes"));
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            CommandError::NotStarted => "not-started",
            CommandError::AlreadyStarted { .. } => "already-started",
            CommandError::CaseNotOpen { .. } => "case-not-open",
            CommandError::TooLong { .. } => "too-long",
            CommandError::TooMany { .. } => "too-many",
            CommandError::InvalidId { .. } => "invalid-id",
            CommandError::TimeOutOfRange { .. } => "time-out-of-range",
            CommandError::TimerOutOfRange { .. } => "timer-out-of-range",
            CommandError::TimerPastLatest { .. } => "timer-past-latest",
            CommandError::ClockNotAhead { .. } => "clock-not-ahead",
            CommandError::NotClosed => "not-closed",
            CommandError::WrongProcess { .. } => "wrong-process",
            CommandError::UnknownStep { .. } => "unknown-step",
            CommandError::StepNotActive { .. } => "step-not-active",
            CommandError::ItemRequired { .. } => "item-required",
            CommandError::ItemNotActive { .. } => "item-not-active",
            CommandError::NotAuthorized { .. } => "not-authorized",
            CommandError::NoRoleInSop { .. } => "no-role-in-sop",
            CommandError::AssignedToSomeoneElse { .. } => "assigned-to-someone-else",
            CommandError::ReviewsOwnWork { .. } | CommandError::SeparateDuties { .. } => {
                "four-eyes"
            }
            CommandError::AlreadyApproved { .. } => "already-approved",
            CommandError::WrongAction { .. } => "wrong-action",
            CommandError::UnknownField { .. } => "unknown-field",
            CommandError::InvalidValue { .. } => "invalid-value",
            CommandError::FieldNotCollected { .. } => "field-not-collected",
            CommandError::FieldNotEditable { .. } => "field-not-editable",
            CommandError::MissingRequired { .. } => "missing-required",
            CommandError::ReasonRequired { .. } => "reason-required",
            CommandError::NoEscalationPath { .. } => "no-escalation-path",
            CommandError::NotCancellable { .. } => "not-cancellable",
            CommandError::WaitingForSubCase { .. } => "waiting-for-sub-case",
            CommandError::NotWaitingForSubCase { .. } => "not-waiting-for-sub-case",
            CommandError::UnknownRole { .. } => "unknown-role",
            CommandError::AlreadyPaused { .. } => "already-paused",
            CommandError::NotPaused => "not-paused",
            CommandError::PostponeNotInFuture { .. } => "postpone-not-in-future",
            CommandError::DecisionFailed { .. } => "decision-failed",
            CommandError::TimeWentBackwards { .. } => "time-went-backwards",
            CommandError::RoutingLoop { .. } => "routing-loop",
        }
    }
}

fn missing_list(missing: &[FieldId]) -> String {
    let names: Vec<String> = missing.iter().map(|f| format!("`{f}`")).collect();
    let noun = if names.len() == 1 { "field" } else { "fields" };
    format!(
        "{noun} {} {}",
        names.join(", "),
        if names.len() == 1 { "is" } else { "are" }
    )
}

/// "step `a` (role `r`), step `b` (role `s`)".
fn collectors(collected_by: &[(StepId, RoleId)]) -> String {
    collected_by
        .iter()
        .map(|(step, role)| format!("step `{step}` (role `{role}`)"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// "`a`", "`a` or `b`".
fn roles(roles: &[RoleId]) -> String {
    roles
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn not_collected(
    field: &FieldId,
    step: &StepId,
    collected_by: &[(StepId, RoleId)],
    editable_by: &[RoleId],
) -> String {
    let mut message = if collected_by.is_empty() {
        format!("field `{field}` is collected by no step; `{step}` does not collect it")
    } else {
        format!(
            "field `{field}` is collected by {}; `{step}` does not collect it",
            collectors(collected_by)
        )
    };
    if !editable_by.is_empty() {
        message.push_str(&format!(
            ", and outside its step only {} may change it",
            roles(editable_by)
        ));
    }
    message
}

fn not_editable(
    field: &FieldId,
    action: &str,
    collected_by: &[(StepId, RoleId)],
    editable_by: &[RoleId],
) -> String {
    match (editable_by.is_empty(), collected_by.is_empty()) {
        (false, _) => format!(
            "field `{field}` may be changed outside its step only by {}",
            roles(editable_by)
        ),
        (true, false) if action == "start" => format!(
            "field `{field}` is collected by {}; a case cannot start with it set",
            collectors(collected_by)
        ),
        (true, false) => format!(
            "field `{field}` is collected by {} and may not be changed outside it",
            collectors(collected_by)
        ),
        (true, true) => {
            format!("field `{field}` is set when the case starts and may not be changed afterwards")
        }
    }
}

/// "the role `a`", or "one of the roles `a`, `b` or `c`".
fn needed_roles(first: &RoleId, others: &[RoleId]) -> String {
    match others.split_last() {
        None => format!("the role `{first}`"),
        Some((last, middle)) => {
            let mut listed = format!("`{first}`");
            for role in middle {
                listed.push_str(&format!(", `{role}`"));
            }
            format!("one of the roles {listed} or `{last}`")
        }
    }
}
