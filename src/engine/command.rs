//! Commands: what actors (and the clock) ask of a case.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::{ParentLink, SubCaseOutcome};
use super::ids::{Actor, ActorId, CaseId, CommandId};
use crate::model::{FieldId, FieldValue, RoleId, StepId};

/// Field values sent with a command (or held by a case), by field id: a plain
/// [`BTreeMap`], so build it as any map, and iterate it in field id order.
///
/// ```
/// use sopflow::engine::FieldValues;
/// use sopflow::model::FieldValue;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut fields = FieldValues::from([
///     ("priority".parse()?, FieldValue::Text("High".into())),
///     ("csat".parse()?, FieldValue::Integer(5)),
/// ]);
/// fields.insert("resolved".parse()?, FieldValue::Bool(true));
/// assert_eq!(fields.len(), 3);
/// assert_eq!(fields.keys().next().map(|id| id.as_str()), Some("csat"));
/// # Ok(()) }
/// ```
pub type FieldValues = BTreeMap<FieldId, FieldValue>;

/// A request to change a case. Its JSON form is part of the persisted format:
/// `{"id": "...", "actor": {"id": "...", "roles": [...]}, "action": {"type": "complete", ...}}`.
///
/// # Refusals
/// [`handle`](super::handle) refuses a command with a [`CommandError`](super::CommandError)
/// and no event; the case is unchanged. Those an application meets in normal use, besides
/// a step that is not active ([`StepNotActive`](super::CommandError::StepNotActive)):
///
/// - the actor lacks the step's role: [`NotAuthorized`](super::CommandError::NotAuthorized)
///   (or [`NoRoleInSop`](super::CommandError::NoRoleInSop) when they hold none of the
///   SOP's roles). Example below;
/// - the step is someone else's work item:
///   [`AssignedToSomeoneElse`](super::CommandError::AssignedToSomeoneElse);
/// - `complete` on a gate or `approve` on a task:
///   [`WrongAction`](super::CommandError::WrongAction) (ask
///   [`ActiveStep::kind`](super::ActiveStep::kind) first);
/// - fields: see [`Action::Complete`] ([`UnknownField`](super::CommandError::UnknownField),
///   [`InvalidValue`](super::CommandError::InvalidValue),
///   [`FieldNotCollected`](super::CommandError::FieldNotCollected),
///   [`MissingRequired`](super::CommandError::MissingRequired)) and
///   [`Action::UpdateFields`] ([`FieldNotEditable`](super::CommandError::FieldNotEditable));
/// - four eyes: see [`Action::Approve`]
///   ([`ReviewsOwnWork`](super::CommandError::ReviewsOwnWork),
///   [`AlreadyApproved`](super::CommandError::AlreadyApproved));
/// - a time before the case's latest event:
///   [`TimeWentBackwards`](super::CommandError::TimeWentBackwards).
///
/// A role the actor does not hold:
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use chrono::{TimeZone, Utc};
/// # use sopflow::engine::{self, Action, Actor, CaseState, Command, CommandError, FieldValues};
/// # use sopflow::model::{FieldId, RoleId, StepId};
/// # let sop = sopflow::parse::parse_sop("review.yaml", "
/// # id: review
/// # version: 1
/// # title: Answer with review
/// # department: Customer Service
/// # roles: { agent: Support agent, lead: Team lead }
/// # fields: { answer: { type: text }, csat: { type: integer } }
/// # steps:
/// #   - { id: draft, title: Draft the answer, role: agent, collects: [answer] }
/// #   - { id: check, title: Check the answer, approval: { by: lead, reviews: [draft], on_reject: draft } }
/// #   - { id: survey, title: Record satisfaction, role: agent, collects: [csat], end: true }
/// # ").unwrap();
/// # let process = sopflow::graph::compile(&sop).process.unwrap();
/// # let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
/// # let mut case = CaseState::new();
/// # let send = |case: &mut CaseState, command: Command| -> Result<(), CommandError> {
/// #     for event in engine::handle(&process, case, command, now)? { case.apply(&event); }
/// #     Ok(())
/// # };
/// let ana = Actor::new("ana", [RoleId::from_static("agent")]);
/// let lea = Actor::new("lea", [RoleId::from_static("agent"), RoleId::from_static("lead")]);
/// send(&mut case, Command::new("c1", ana.clone(), Action::Start { case: "T-1".into(), fields: FieldValues::new() }))?;
/// let leo = Actor::new("leo", [RoleId::from_static("lead")]);
/// let draft = Action::Complete { step: StepId::from_static("draft"), fields: FieldValues::new(), item: None };
/// let refused = send(&mut case, Command::new("c2", leo, draft)).unwrap_err();
/// assert!(matches!(refused, CommandError::NotAuthorized { ref role, .. } if role.as_str() == "agent"));
/// assert_eq!(refused.to_string(), "`leo` cannot act on step `draft`: it needs the role `agent`");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Unique per command; a repeated id is applied once.
    pub id: CommandId,
    /// Who sends it.
    pub actor: Actor,
    /// What is asked.
    pub action: Action,
}

impl Command {
    /// A command with the given id, actor and action.
    pub fn new(id: impl Into<String>, actor: Actor, action: Action) -> Command {
        Command {
            id: CommandId::new(id),
            actor,
            action,
        }
    }
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Open a new case on the process, with initial field values.
    Start {
        /// The new case's id.
        case: CaseId,
        /// Initial values; fields not given start at their default.
        #[serde(default)]
        fields: FieldValues,
    },
    /// Take an active step: it becomes the actor's work item.
    Claim {
        /// The step.
        step: StepId,
        /// Which item, when the step runs once per item (`for_each`) and more than one
        /// of its items is active.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<String>,
    },
    /// Give an active step to someone.
    Assign {
        /// The step.
        step: StepId,
        /// Which item, when the step runs once per item (`for_each`) and more than one
        /// of its items is active.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<String>,
        /// Who gets it.
        assignee: ActorId,
    },
    /// Finish a task, filling in its fields.
    ///
    /// Refused with [`UnknownField`](super::CommandError::UnknownField) for a field the SOP
    /// does not declare, [`InvalidValue`](super::CommandError::InvalidValue) for a value of
    /// the wrong type or outside its options or bounds,
    /// [`FieldNotCollected`](super::CommandError::FieldNotCollected) for a field this step
    /// does not collect and the actor's roles may not edit, and
    /// [`MissingRequired`](super::CommandError::MissingRequired) when a required field it
    /// collects has no value:
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use chrono::{TimeZone, Utc};
    /// # use sopflow::engine::{self, Action, Actor, CaseState, Command, CommandError, FieldValues};
    /// # use sopflow::model::{FieldId, RoleId, StepId};
    /// # let sop = sopflow::parse::parse_sop("review.yaml", "
    /// # id: review
    /// # version: 1
    /// # title: Answer with review
    /// # department: Customer Service
    /// # roles: { agent: Support agent, lead: Team lead }
    /// # fields: { answer: { type: text }, csat: { type: integer } }
    /// # steps:
    /// #   - { id: draft, title: Draft the answer, role: agent, collects: [answer] }
    /// #   - { id: check, title: Check the answer, approval: { by: lead, reviews: [draft], on_reject: draft } }
    /// #   - { id: survey, title: Record satisfaction, role: agent, collects: [csat], end: true }
    /// # ").unwrap();
    /// # let process = sopflow::graph::compile(&sop).process.unwrap();
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    /// # let mut case = CaseState::new();
    /// # let send = |case: &mut CaseState, command: Command| -> Result<(), CommandError> {
    /// #     for event in engine::handle(&process, case, command, now)? { case.apply(&event); }
    /// #     Ok(())
    /// # };
    /// let ana = Actor::new("ana", [RoleId::from_static("agent")]);
    /// let lea = Actor::new("lea", [RoleId::from_static("agent"), RoleId::from_static("lead")]);
    /// send(&mut case, Command::new("c1", ana.clone(), Action::Start { case: "T-1".into(), fields: FieldValues::new() }))?;
    /// let typo = FieldValues::from([(FieldId::from_static("answr"), "Reset your password".into())]);
    /// let draft = |fields| Action::Complete { step: StepId::from_static("draft"), fields, item: None };
    /// let refused = send(&mut case, Command::new("c2", ana.clone(), draft(typo))).unwrap_err();
    /// assert!(matches!(refused, CommandError::UnknownField { ref field } if field.as_str() == "answr"));
    /// // `csat` is collected by `survey`, not by `draft`.
    /// let early = FieldValues::from([(FieldId::from_static("csat"), 5.into())]);
    /// let refused = send(&mut case, Command::new("c3", ana.clone(), draft(early))).unwrap_err();
    /// assert!(matches!(refused, CommandError::FieldNotCollected { .. }));
    /// # Ok(()) }
    /// ```
    Complete {
        /// The step.
        step: StepId,
        /// Which item, when the step runs once per item (`for_each`) and more than one
        /// of its items is active.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<String>,
        /// Values for the fields the step collects (or any other field).
        #[serde(default)]
        fields: FieldValues,
    },
    /// Approve an approval gate.
    ///
    /// Four eyes: refused with [`ReviewsOwnWork`](super::CommandError::ReviewsOwnWork)
    /// when the approver performed a step the gate reviews, whatever roles they hold, and
    /// with [`AlreadyApproved`](super::CommandError::AlreadyApproved) when they approved
    /// this round already (a gate that needs several approvals needs several people):
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use chrono::{TimeZone, Utc};
    /// # use sopflow::engine::{self, Action, Actor, CaseState, Command, CommandError, FieldValues};
    /// # use sopflow::model::{FieldId, RoleId, StepId};
    /// # let sop = sopflow::parse::parse_sop("review.yaml", "
    /// # id: review
    /// # version: 1
    /// # title: Answer with review
    /// # department: Customer Service
    /// # roles: { agent: Support agent, lead: Team lead }
    /// # fields: { answer: { type: text }, csat: { type: integer } }
    /// # steps:
    /// #   - { id: draft, title: Draft the answer, role: agent, collects: [answer] }
    /// #   - { id: check, title: Check the answer, approval: { by: lead, reviews: [draft], on_reject: draft } }
    /// #   - { id: survey, title: Record satisfaction, role: agent, collects: [csat], end: true }
    /// # ").unwrap();
    /// # let process = sopflow::graph::compile(&sop).process.unwrap();
    /// # let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    /// # let mut case = CaseState::new();
    /// # let send = |case: &mut CaseState, command: Command| -> Result<(), CommandError> {
    /// #     for event in engine::handle(&process, case, command, now)? { case.apply(&event); }
    /// #     Ok(())
    /// # };
    /// let ana = Actor::new("ana", [RoleId::from_static("agent")]);
    /// let lea = Actor::new("lea", [RoleId::from_static("agent"), RoleId::from_static("lead")]);
    /// send(&mut case, Command::new("c1", ana.clone(), Action::Start { case: "T-1".into(), fields: FieldValues::new() }))?;
    /// let answer = FieldValues::from([(FieldId::from_static("answer"), "Reset it".into())]);
    /// // Lea drafts the answer, so she cannot approve it, although she is a lead.
    /// send(&mut case, Command::new("c2", lea.clone(), Action::Complete { step: StepId::from_static("draft"), fields: answer, item: None }))?;
    /// let approve = Action::Approve { step: StepId::from_static("check"), comment: None };
    /// let refused = send(&mut case, Command::new("c3", lea, approve)).unwrap_err();
    /// assert!(matches!(refused, CommandError::ReviewsOwnWork { ref reviewed, .. } if reviewed.as_str() == "draft"));
    /// # Ok(()) }
    /// ```
    Approve {
        /// The gate.
        step: StepId,
        /// An optional remark for the history.
        #[serde(default)]
        comment: Option<String>,
    },
    /// Reject an approval gate: the case goes back for rework.
    Reject {
        /// The gate.
        step: StepId,
        /// Why; required.
        reason: String,
    },
    /// Escalate an active step along its escalation path.
    Escalate {
        /// The step.
        step: StepId,
        /// Which item, when the step runs once per item (`for_each`) and more than one
        /// of its items is active.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<String>,
        /// Why; required.
        reason: String,
    },
    /// Cancel one active step on its own, where the SOP allows it (`on_cancel: STEP`): the
    /// step is withdrawn with a reason and the case goes on at the `on_cancel` step, while
    /// any other active step carries on.
    ///
    /// Who may: the people who may work on the step, a holder of its role (any of a
    /// gate's roles, or the role it was transferred to); a task assigned to one person
    /// only by them, until someone reassigns it. Refused with:
    /// - [`NotCancellable`](super::CommandError::NotCancellable) when the step has no
    ///   `on_cancel`;
    /// - [`ReasonRequired`](super::CommandError::ReasonRequired) for a blank reason;
    /// - [`StepNotActive`](super::CommandError::StepNotActive),
    ///   [`NotAuthorized`](super::CommandError::NotAuthorized),
    ///   [`AssignedToSomeoneElse`](super::CommandError::AssignedToSomeoneElse) as for any
    ///   work on a step.
    CancelStep {
        /// The step.
        step: StepId,
        /// Why; required.
        reason: String,
    },
    /// Change field values outside any step.
    UpdateFields {
        /// The new values.
        fields: FieldValues,
    },
    /// Add a note to the case's history.
    AddNote {
        /// The note.
        text: String,
        /// The step it is about, if any.
        #[serde(default)]
        step: Option<StepId>,
    },
    /// Hand an active step to another role.
    Transfer {
        /// The step.
        step: StepId,
        /// Which item, when the step runs once per item (`for_each`) and more than one
        /// of its items is active.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<String>,
        /// The role that takes it over.
        to: RoleId,
    },
    /// Put an active step on hold until a time: it leaves work queues and its SLA clock
    /// stops until then.
    Postpone {
        /// The step.
        step: StepId,
        /// Which item, when the step runs once per item (`for_each`) and more than one
        /// of its items is active.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<String>,
        /// When it comes back.
        until: DateTime<Utc>,
    },
    /// The case waits on someone outside (the customer): its pausable SLA clocks stop
    /// until [`Action::Resume`] (Zendesk's "pending"). Work goes on; other clocks run.
    Pause {
        /// Why; required (what the case waits for).
        reason: String,
    },
    /// The case stopped waiting: pausable SLA clocks go on with the working time they had
    /// left when it was paused.
    Resume,
    /// Cancel the case.
    Cancel {
        /// Why; required.
        reason: String,
    },
    /// Reopen a closed or cancelled case.
    Reopen {
        /// Why; required.
        reason: String,
    },
    /// Fire every timer due at `now`: SLA breaches and deferred-choice timeouts.
    Tick,
    /// Open a new case as the sub-case of a call task of another case (sent by the store
    /// when the parent's `sub_case_requested` is stored). Its fields are the ones the call
    /// maps in, set whichever step collects them; no role is needed, as the calling SOP
    /// decided to start it.
    StartSubCase {
        /// The new case's id, as the parent's request gives it.
        case: CaseId,
        /// The case and call step it reports to.
        parent: ParentLink,
        /// Initial values mapped in from the parent; fields not given start at their
        /// default.
        #[serde(default)]
        fields: FieldValues,
    },
    /// Record in a parent case that the sub-case its call task asked for was started (sent
    /// by the store after starting it). Refused with
    /// [`NotWaitingForSubCase`](super::CommandError::NotWaitingForSubCase) when no active
    /// call task of the case waits for `child`.
    SubCaseStarted {
        /// The sub-case.
        child: CaseId,
    },
    /// Tell a parent case how the sub-case its call task waits for ended (sent by the store
    /// when the sub-case closes or is cancelled). A completed sub-case completes the task,
    /// with the fields its `returns` maps back taken from `fields`; a cancelled one leaves
    /// the task with its role, who completes it by hand or cancels it. Refused with
    /// [`NotWaitingForSubCase`](super::CommandError::NotWaitingForSubCase) when no active
    /// call task waits for `child`.
    FinishSubCase {
        /// The sub-case.
        child: CaseId,
        /// How it ended.
        outcome: SubCaseOutcome,
        /// The sub-case's field values (only those the call's `returns` names are read).
        #[serde(default)]
        fields: FieldValues,
    },
    /// Record in a closed or cancelled sub-case that its parent was told how it ended
    /// (sent by the store after [`Action::FinishSubCase`]), so it is no longer due.
    ParentInformed,
    /// Restart the case's clock at `now`, earlier than its latest event: for a case that
    /// was given a time in the future by mistake, which otherwise refuses every command
    /// until then. History keeps the wrong time and says it was corrected; the timers of
    /// active steps that started "in the future" move back with them.
    CorrectTime {
        /// Why; required.
        reason: String,
    },
}

impl Action {
    /// The item the action names, on a step run once per item (`for_each`).
    pub fn item(&self) -> Option<&str> {
        match self {
            Action::Claim { item, .. }
            | Action::Assign { item, .. }
            | Action::Complete { item, .. }
            | Action::Escalate { item, .. }
            | Action::Transfer { item, .. }
            | Action::Postpone { item, .. } => item.as_deref(),
            _ => None,
        }
    }

    /// The action's name as in its JSON `type`.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Start { .. } => "start",
            Action::Claim { .. } => "claim",
            Action::Assign { .. } => "assign",
            Action::Complete { .. } => "complete",
            Action::Approve { .. } => "approve",
            Action::Reject { .. } => "reject",
            Action::Escalate { .. } => "escalate",
            Action::CancelStep { .. } => "cancel_step",
            Action::UpdateFields { .. } => "update_fields",
            Action::AddNote { .. } => "add_note",
            Action::Transfer { .. } => "transfer",
            Action::Postpone { .. } => "postpone",
            Action::Pause { .. } => "pause",
            Action::Resume => "resume",
            Action::Cancel { .. } => "cancel",
            Action::Reopen { .. } => "reopen",
            Action::Tick => "tick",
            Action::CorrectTime { .. } => "correct_time",
            Action::StartSubCase { .. } => "start_sub_case",
            Action::SubCaseStarted { .. } => "sub_case_started",
            Action::FinishSubCase { .. } => "finish_sub_case",
            Action::ParentInformed => "parent_informed",
        }
    }
}
