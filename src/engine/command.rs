//! Commands: what actors (and the clock) ask of a case.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    },
    /// Give an active step to someone.
    Assign {
        /// The step.
        step: StepId,
        /// Who gets it.
        assignee: ActorId,
    },
    /// Finish a task, filling in its fields.
    Complete {
        /// The step.
        step: StepId,
        /// Values for the fields the step collects (or any other field).
        #[serde(default)]
        fields: FieldValues,
    },
    /// Approve an approval gate.
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
        /// The role that takes it over.
        to: RoleId,
    },
    /// Put an active step on hold until a time: it leaves work queues and its SLA clock
    /// stops until then.
    Postpone {
        /// The step.
        step: StepId,
        /// When it comes back.
        until: DateTime<Utc>,
    },
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
            Action::UpdateFields { .. } => "update_fields",
            Action::AddNote { .. } => "add_note",
            Action::Transfer { .. } => "transfer",
            Action::Postpone { .. } => "postpone",
            Action::Cancel { .. } => "cancel",
            Action::Reopen { .. } => "reopen",
            Action::Tick => "tick",
            Action::CorrectTime { .. } => "correct_time",
        }
    }
}
