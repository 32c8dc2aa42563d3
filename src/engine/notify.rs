//! Notifications: what a person must hear about a case, derived from its events.
//!
//! A notification is not a fact of the case (the events are); it is a message the events
//! call for: work waiting for a role, work assigned to someone, an approval to decide, a
//! warning before a due time, a breach, a level of an escalation ladder, a rejection for
//! whoever reworks, a step cancelled from under its assignee. An approval any of several
//! roles may decide is announced to each. [`notifications`] derives them, purely, from the events a command
//! caused; a store keeps them in the same transaction as the events, so an app delivers
//! each at least once (e-mail, chat) and none is lost between a crash and a retry.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind, SubCaseOutcome, TokenId};
use super::handle::effective_roles;
use super::ids::{ActorId, CaseId};
use super::state::CaseState;
use crate::graph::{NodeKind, Process};
use crate::model::{RoleId, StepId};

/// Who a notification is for: every holder of a role, or one person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// Every holder of the role (a team's queue).
    Role(RoleId),
    /// One person.
    Actor(ActorId),
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recipient::Role(role) => write!(f, "role {role}"),
            Recipient::Actor(actor) => write!(f, "{actor}"),
        }
    }
}

/// What a notification tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotificationKind {
    /// A task is waiting for the role.
    WorkWaiting,
    /// A task was given to the person.
    WorkAssigned,
    /// An approval gate is waiting for the role's decision.
    ApprovalRequested,
    /// The step (or the case) is nearly due.
    DueSoon,
    /// The step's (or the case's) service level was breached.
    Overdue,
    /// A level of an escalation ladder was reached.
    Escalation {
        /// The level, from 1.
        level: u32,
    },
    /// An approver rejected work; the recipient reworks it.
    Rejected {
        /// The approver's reason.
        reason: String,
    },
    /// Someone else cancelled the step the recipient was assigned (`on_cancel`): it is no
    /// longer their work.
    StepCancelled {
        /// Why it was cancelled.
        reason: String,
    },
}

/// One message for one recipient, caused by one event of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The case.
    pub case: CaseId,
    /// The event that caused it.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who it is for.
    pub to: Recipient,
    /// What it tells.
    #[serde(flatten)]
    pub kind: NotificationKind,
    /// The step it is about (`None`: the case's own service level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepId>,
    /// The message in words, ready to send.
    pub message: String,
}

/// The notifications that `events` call for, on a case that was in state `before`.
///
/// Pure, like [`handle`](super::handle): the same events give the same notifications, in
/// event order. A store calls it when it appends the events, so an app that stores events
/// through [`crate::store`] need not call it.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use chrono::{TimeZone, Utc};
/// use sopflow::engine::{self, Action, Actor, CaseState, Command, FieldValues, NotificationKind, Recipient};
/// let sop = sopflow::parse::parse_sop("t.yaml", "
/// id: answer
/// version: 1
/// title: Answer
/// department: Customer Service
/// roles: { agent: Support agent }
/// steps:
///   - { id: reply, title: Reply to the customer, role: agent, end: true }
/// ")?;
/// let process = sopflow::graph::compile(&sop).process.ok_or("invalid")?;
/// let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
/// let ana = Actor::new("ana", ["agent".parse()?]);
/// let start = Command::new("c1", ana, Action::Start { case: "T-1".into(), fields: FieldValues::new() });
/// let before = CaseState::new();
/// let events = engine::handle(&process, &before, start, now)?;
/// let sent = engine::notifications(&process, &before, &events);
/// assert_eq!(sent[0].kind, NotificationKind::WorkWaiting);
/// assert_eq!(sent[0].to, Recipient::Role("agent".parse()?));
/// # Ok(()) }
/// ```
pub fn notifications(process: &Process, before: &CaseState, events: &[Event]) -> Vec<Notification> {
    let mut state = before.clone();
    let mut out = Vec::new();
    for event in events {
        notify_event(process, &state, event, &mut out);
        state.apply(event);
    }
    out
}

/// The notifications one event calls for, on a case in state `state` (before the event).
pub(crate) fn notify_event(
    process: &Process,
    state: &CaseState,
    event: &Event,
    out: &mut Vec<Notification>,
) {
    let Some(case) = state.case().cloned().or_else(|| match &event.kind {
        EventKind::CaseStarted { case, .. } => Some(case.clone()),
        _ => None,
    }) else {
        return;
    };
    let mut send =
        |to: Recipient, kind: NotificationKind, step: Option<&StepId>, message: String| {
            out.push(Notification {
                case: case.clone(),
                seq: event.seq,
                at: event.at,
                to,
                kind,
                step: step.cloned(),
                message: format!("{case}: {message}"),
            });
        };
    match &event.kind {
        EventKind::StepActivated {
            step, item, due_at, ..
        } => {
            let Some(node) = process.step(step) else {
                return;
            };
            let due = due_at.map_or_else(String::new, |at| {
                format!(", due {}", at.format("%Y-%m-%d %H:%M UTC"))
            });
            // Each item of a task run once per item is work of its own.
            let item = item
                .as_ref()
                .map_or_else(String::new, |item| format!(" for {item}"));
            match &process.node(node).kind {
                // A call task's work is its sub-case's; its role hears if that is
                // cancelled.
                NodeKind::Task(task) if task.call.is_some() => {}
                NodeKind::Task(task) => send(
                    Recipient::Role(task.role.clone()),
                    NotificationKind::WorkWaiting,
                    Some(step),
                    format!("step `{step}`{item} is waiting for {}{due}", task.role),
                ),
                // Every role that may decide hears of it: the first to act takes it.
                NodeKind::Approval(gate) => {
                    for role in &gate.by {
                        send(
                            Recipient::Role(role.clone()),
                            NotificationKind::ApprovalRequested,
                            Some(step),
                            format!(
                                "`{step}` is waiting for the approval of {}{due}",
                                gate.roles_text()
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
        EventKind::StepAssigned { step, assignee, .. } if *assignee != event.actor => send(
            Recipient::Actor(assignee.clone()),
            NotificationKind::WorkAssigned,
            Some(step),
            format!("{} gave you step `{step}`", event.actor),
        ),
        EventKind::StepTransferred { step, role, .. } => send(
            Recipient::Role(role.clone()),
            NotificationKind::WorkWaiting,
            Some(step),
            format!("step `{step}` was handed to {role} and is waiting"),
        ),
        EventKind::SlaWarned {
            step: Some(step),
            token: Some(token),
        } => {
            if let Some((recipients, due)) = holder(process, state, *token) {
                let due = due.map_or_else(String::new, |at| {
                    format!(" at {}", at.format("%Y-%m-%d %H:%M UTC"))
                });
                for to in recipients {
                    send(
                        to,
                        NotificationKind::DueSoon,
                        Some(step),
                        format!("step `{step}` is due soon{due}"),
                    );
                }
            }
        }
        EventKind::SlaWarned { step: None, .. } => {
            for to in holders(process, state) {
                send(
                    to,
                    NotificationKind::DueSoon,
                    None,
                    "the case is due soon".to_owned(),
                );
            }
        }
        EventKind::SlaBreached {
            step,
            token,
            escalated,
        } => {
            if let Some((recipients, _)) = holder(process, state, *token) {
                let then = if *escalated { "; it was escalated" } else { "" };
                for to in recipients {
                    send(
                        to,
                        NotificationKind::Overdue,
                        Some(step),
                        format!("step `{step}` is overdue{then}"),
                    );
                }
            }
        }
        EventKind::CaseSlaBreached => {
            for to in holders(process, state) {
                send(
                    to,
                    NotificationKind::Overdue,
                    None,
                    "the case is overdue".to_owned(),
                );
            }
        }
        EventKind::SlaLevelReached {
            step,
            level,
            notify: Some(role),
            ..
        } => {
            let whose = step
                .as_ref()
                .map_or_else(|| "the case".to_owned(), |s| format!("step `{s}`"));
            send(
                Recipient::Role(role.clone()),
                NotificationKind::Escalation { level: *level },
                step.as_ref(),
                format!("{whose} is overdue: escalation level {level}"),
            );
        }
        // Whoever holds a call task follows up when its sub-case is cancelled.
        EventKind::SubCaseFinished {
            step,
            token,
            case: child,
            outcome: SubCaseOutcome::Cancelled,
        } => {
            if let Some((recipients, _)) = holder(process, state, *token) {
                for to in recipients {
                    send(
                        to,
                        NotificationKind::WorkWaiting,
                        Some(step),
                        format!(
                            "sub-case {child} of step `{step}` was cancelled: complete the step by hand or cancel it"
                        ),
                    );
                }
            }
        }
        // The person who held the step hears it is gone; a role's queue simply loses it.
        EventKind::StepCancelled {
            step,
            token,
            reason,
        } => {
            let assignee = state
                .active_steps()
                .iter()
                .find(|a| a.token == *token)
                .and_then(|a| a.assignee.clone());
            if let Some(assignee) = assignee
                && assignee != event.actor
            {
                send(
                    Recipient::Actor(assignee),
                    NotificationKind::StepCancelled {
                        reason: reason.clone(),
                    },
                    Some(step),
                    format!("{} cancelled your step `{step}`: {reason}", event.actor),
                );
            }
        }
        EventKind::GateRejected { step, reason, .. } => {
            let Some(node) = process.step(step) else {
                return;
            };
            let NodeKind::Approval(gate) = &process.node(node).kind else {
                return;
            };
            let mut told: Vec<&ActorId> = Vec::new();
            for reviewed in &gate.reviews {
                if let Some(performer) = state.performers_of(reviewed).last()
                    && !told.contains(&performer)
                {
                    told.push(performer);
                    send(
                        Recipient::Actor(performer.clone()),
                        NotificationKind::Rejected {
                            reason: reason.clone(),
                        },
                        Some(reviewed),
                        format!(
                            "{} rejected `{step}`, which reviews your `{reviewed}`: {reason}",
                            event.actor
                        ),
                    );
                }
            }
        }
        _ => {}
    }
}

/// Who holds an active step: its assignee, or the roles that may act on it (every role of
/// a gate any of several roles may decide).
fn holder(
    process: &Process,
    state: &CaseState,
    token: TokenId,
) -> Option<(Vec<Recipient>, Option<DateTime<Utc>>)> {
    let active = state.active_steps().iter().find(|a| a.token == token)?;
    if let Some(assignee) = &active.assignee {
        return Some((vec![Recipient::Actor(assignee.clone())], active.due_at));
    }
    let node = process.step(&active.step)?;
    let roles = effective_roles(process, node, active)?;
    Some((
        roles.iter().cloned().map(Recipient::Role).collect(),
        active.due_at,
    ))
}

/// Whoever holds any of the case's active steps, each once.
fn holders(process: &Process, state: &CaseState) -> Vec<Recipient> {
    let mut out: Vec<Recipient> = Vec::new();
    for active in state.active_steps() {
        if let Some((recipients, _)) = holder(process, state, active.token) {
            for to in recipients {
                if !out.contains(&to) {
                    out.push(to);
                }
            }
        }
    }
    out
}
