//! Read-only views of cases: work items, work queues, timers, and a case view with its
//! templates rendered.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::command::{Action, FieldValues};
use super::event::{Event, EventKind, TokenId};
use super::handle::effective_roles;
use super::ids::{Actor, ActorId, CaseId};
use super::state::{ActiveStep, CaseState, CaseStatus};
use crate::graph::{NodeKind, Process, Template};
use crate::model::{FieldId, FieldValue, RoleId, StepId};

/// Whether an active step is a task or a gate: which command moves it on.
///
/// [`ActiveStep::kind`] and [`WorkItem::kind`] say it; [`WorkKind::finish`] builds the
/// command that finishes the step (complete a task, approve a gate).
///
/// ```
/// use sopflow::engine::{Action, WorkKind};
/// use sopflow::model::StepId;
/// let step = StepId::from_static("review");
/// assert!(matches!(WorkKind::Approval.finish(step.clone(), Default::default()), Action::Approve { .. }));
/// assert!(matches!(WorkKind::Task.finish(step, Default::default()), Action::Complete { .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkKind {
    /// Complete it.
    Task,
    /// Approve or reject it.
    Approval,
}

impl WorkKind {
    /// The action that finishes an active step of this kind: [`Action::Complete`] with
    /// `fields` for a task, [`Action::Approve`] (without comment) for a gate, which
    /// collects no field.
    pub fn finish(self, step: StepId, fields: FieldValues) -> Action {
        match self {
            WorkKind::Task => Action::Complete {
                step,
                fields,
                item: None,
            },
            WorkKind::Approval => Action::Approve {
                step,
                comment: None,
            },
        }
    }
}

impl ActiveStep {
    /// Whether this active step is a task or an approval gate of `process` (the process
    /// the case runs on); `None` for a step `process` does not have.
    pub fn kind(&self, process: &Process) -> Option<WorkKind> {
        match &process.node(process.step(&self.step)?).kind {
            NodeKind::Task(_) => Some(WorkKind::Task),
            NodeKind::Approval(_) => Some(WorkKind::Approval),
            _ => None,
        }
    }
}

/// An active step as a work item: what to do, who may do it, by when.
///
/// Its JSON form (`serde_json::to_value(&item)`) is what `sop case --format json` prints.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WorkItem {
    /// The case.
    pub case: Option<CaseId>,
    /// The step.
    pub step: StepId,
    /// The activation.
    pub token: TokenId,
    /// The item it is for, when the step runs once per item (`for_each`): commands on it
    /// name this item.
    pub item: Option<String>,
    /// Task or approval.
    pub kind: WorkKind,
    /// The title with templates filled in from the case's fields.
    pub title: String,
    /// The instructions with templates filled in.
    pub instructions: Option<String>,
    /// The role that may act: the first of `roles`.
    pub role: Option<RoleId>,
    /// Every role whose holders may act: one for a task, each of a gate's approver roles
    /// (`by: [billing_lead, finance]`), the new role after a transfer.
    pub roles: Vec<RoleId>,
    /// Who holds it, if claimed or assigned.
    pub assignee: Option<ActorId>,
    /// People who may not act on it (four eyes: they performed a reviewed step).
    pub excluded: Vec<ActorId>,
    /// SLA deadline.
    pub due_at: Option<DateTime<Utc>>,
    /// Whether the SLA was breached.
    pub breached: bool,
    /// On hold until then.
    pub postponed_until: Option<DateTime<Utc>>,
    /// Fields the step collects.
    pub collects: Vec<FieldId>,
    /// The sub-case a call task waits for while it runs: the task completes when it
    /// closes, and cannot be completed by hand meanwhile.
    pub waiting_for: Option<CaseId>,
}

impl WorkItem {
    /// The roles that may act, for a person to read: `team_lead`, or
    /// `billing_lead or finance`; `None` when anyone may.
    pub fn roles_text(&self) -> Option<String> {
        (!self.roles.is_empty()).then(|| crate::graph::roles_in_words(&self.roles, "or"))
    }

    /// Whether `actor` may act on this item at `now`: holds the role, is not excluded,
    /// the item is not someone else's and not on hold.
    pub fn actionable_by(&self, actor: &Actor, now: DateTime<Utc>) -> bool {
        (self.roles.is_empty() || self.roles.iter().any(|r| actor.holds(r)))
            && !self.excluded.contains(&actor.id)
            && self.assignee.as_ref().is_none_or(|a| *a == actor.id)
            && self.postponed_until.is_none_or(|until| until <= now)
    }
}

/// Renders a template with the case's field values; unset fields keep their placeholder.
pub fn render_template(template: &Template, state: &CaseState) -> String {
    template.render(|field| state.fields().get(field).map(display_value))
}

/// A field value as a person reads it.
pub fn display_value(value: &FieldValue) -> String {
    match value {
        FieldValue::Bool(true) => "yes".to_owned(),
        FieldValue::Bool(false) => "no".to_owned(),
        FieldValue::Integer(i) => i.to_string(),
        FieldValue::Number(n) => n.to_string(),
        FieldValue::Text(text) => text.clone(),
        FieldValue::List(items) => items.join(", "),
    }
}

/// The active steps of a case as work items, oldest first.
pub fn work_items(process: &Process, state: &CaseState) -> Vec<WorkItem> {
    let mut items = Vec::with_capacity(state.active_steps().len());
    for active in state.active_steps() {
        let Some(node) = process.step(&active.step) else {
            continue;
        };
        let current = process.node(node);
        let (kind, instructions, collects, excluded) = match &current.kind {
            NodeKind::Task(task) => {
                let mut excluded: Vec<ActorId> = Vec::new();
                for separate in &task.people.separate_from {
                    for performer in state.performers_of(separate) {
                        if !excluded.contains(performer) {
                            excluded.push(performer.clone());
                        }
                    }
                }
                (
                    WorkKind::Task,
                    task.instructions.as_ref(),
                    task.collects.clone(),
                    excluded,
                )
            }
            NodeKind::Approval(gate) => {
                let mut excluded: Vec<ActorId> = Vec::new();
                for reviewed in &gate.reviews {
                    for performer in state.performers_of(reviewed) {
                        if !excluded.contains(performer) {
                            excluded.push(performer.clone());
                        }
                    }
                }
                excluded.extend(active.approvers.iter().cloned());
                (
                    WorkKind::Approval,
                    gate.instructions.as_ref(),
                    Vec::new(),
                    excluded,
                )
            }
            _ => continue,
        };
        let roles =
            effective_roles(process, node, active).map_or_else(Vec::new, <[RoleId]>::to_vec);
        items.push(WorkItem {
            case: state.case().cloned(),
            step: active.step.clone(),
            token: active.token,
            item: active.item.clone(),
            kind,
            title: current
                .title
                .as_ref()
                .map_or_else(|| active.step.to_string(), |t| render_template(t, state)),
            instructions: instructions.map(|t| render_template(t, state)),
            role: roles.first().cloned(),
            roles,
            assignee: active.assignee.clone(),
            excluded,
            due_at: active.due_at,
            breached: active.breached,
            postponed_until: active.postponed_until,
            collects,
            waiting_for: state.waiting_for(active.token).map(|sub| sub.case.clone()),
        });
    }
    items
}

/// The work `actor` may do now across many cases, earliest deadline first (items without
/// a deadline last, then by case id).
pub fn work_queue<'a>(
    process: &Process,
    cases: impl IntoIterator<Item = &'a CaseState>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Vec<WorkItem> {
    queue(process, cases, |item| item.actionable_by(actor, now))
}

/// Every open work item for a role across many cases, whoever holds it: a gate any of
/// several roles may decide is in the queue of each.
pub fn role_queue<'a>(
    process: &Process,
    cases: impl IntoIterator<Item = &'a CaseState>,
    role: &RoleId,
) -> Vec<WorkItem> {
    queue(process, cases, |item| item.roles.contains(role))
}

/// The work items of the open cases running on `process` that `keep` accepts, sorted.
fn queue<'a>(
    process: &Process,
    cases: impl IntoIterator<Item = &'a CaseState>,
    keep: impl Fn(&WorkItem) -> bool,
) -> Vec<WorkItem> {
    let mut queue: Vec<WorkItem> = cases
        .into_iter()
        .filter(|c| {
            c.status() == CaseStatus::Open
                && c.sop()
                    .is_some_and(|(id, v)| id == process.id() && v == process.version())
        })
        .flat_map(|c| work_items(process, c))
        .filter(|item| keep(item))
        .collect();
    sort_queue(&mut queue);
    queue
}

fn sort_queue(queue: &mut [WorkItem]) {
    queue.sort_by(|a, b| {
        (a.due_at.is_none(), a.due_at, &a.case, a.token).cmp(&(
            b.due_at.is_none(),
            b.due_at,
            &b.case,
            b.token,
        ))
    });
}

/// A case as a person sees it: status, labelled field values and work items.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseView {
    /// The case.
    pub case: Option<CaseId>,
    /// The SOP title.
    pub sop_title: String,
    /// Where the case is.
    pub status: CaseStatus,
    /// `(label, value)` for each field with a value, in SOP order.
    pub fields: Vec<(String, String)>,
    /// What can be done now.
    pub work: Vec<WorkItem>,
    /// The next timer.
    pub next_timer: Option<DateTime<Utc>>,
}

/// Builds the view of a case.
pub fn view(process: &Process, state: &CaseState) -> CaseView {
    CaseView {
        case: state.case().cloned(),
        sop_title: process.title().to_owned(),
        status: state.status(),
        fields: process
            .fields()
            .iter()
            .filter_map(|f| {
                state
                    .fields()
                    .get(&f.id)
                    .map(|v| (f.label.clone(), display_value(v)))
            })
            .collect(),
        work: work_items(process, state),
        next_timer: state.next_timer(),
    }
}

/// Lines of a case's history that name the item of a step run once per item
/// (`completed create_account [crm]`), which most events carry only as a token: it
/// remembers the item of every activation it has read.
#[derive(Debug, Default, Clone)]
pub struct HistoryLines {
    items: HashMap<TokenId, String>,
}

impl HistoryLines {
    /// Lines for a history read from its first event.
    pub fn new() -> HistoryLines {
        HistoryLines::default()
    }

    /// Lines for events that follow `state`: the items of its active steps are known.
    pub fn after(state: &CaseState) -> HistoryLines {
        let items = state
            .active_steps()
            .iter()
            .filter_map(|active| Some((active.token, active.item.clone()?)))
            .collect();
        HistoryLines { items }
    }

    /// The line of `event`, as [`describe`] gives it, with the step written `step [item]`
    /// when the event is about an activation for an item.
    pub fn line(&mut self, event: &Event) -> String {
        if let EventKind::StepActivated {
            token,
            item: Some(item),
            ..
        } = &event.kind
        {
            self.items.insert(*token, item.clone());
            return describe(event);
        }
        let item = token_of(&event.kind)
            .and_then(|token| self.items.get(token))
            .map(String::as_str);
        describe_for(event, item)
    }
}

/// The activation an event is about.
fn token_of(kind: &EventKind) -> Option<&TokenId> {
    match kind {
        EventKind::StepAssigned { token, .. }
        | EventKind::StepTransferred { token, .. }
        | EventKind::StepPostponed { token, .. }
        | EventKind::StepCompleted { token, .. }
        | EventKind::StepEscalated { token, .. }
        | EventKind::SlaBreached { token, .. }
        | EventKind::TimerFired { token, .. } => Some(token),
        _ => None,
    }
}

/// One line of a case's history, for people: `2026-01-05 09:00 ana: completed receive`.
pub fn describe(event: &Event) -> String {
    describe_for(event, None)
}

/// [`describe`], with the step of an event about one activation written `step [item]`
/// when that activation is for an item.
fn describe_for(event: &Event, item: Option<&str>) -> String {
    let shown = |step: &StepId| match item {
        Some(item) => format!("{step} [{item}]"),
        None => step.to_string(),
    };
    let what = match &event.kind {
        EventKind::CaseStarted {
            sop,
            version,
            parent,
            ..
        } => match parent {
            Some(parent) => format!(
                "started the case on {sop} v{version} as a sub-case of {} (step {})",
                parent.case, parent.step
            ),
            None => format!("started the case on {sop} v{version}"),
        },
        EventKind::StepActivated {
            step, item, due_at, ..
        } => {
            let what = match item {
                Some(item) => format!("step {step} became active for {item}"),
                None => format!("step {step} became active"),
            };
            match due_at {
                Some(due) => format!("{what} (due {})", due.format("%Y-%m-%d %H:%M")),
                None => what,
            }
        }
        EventKind::StepAssigned { step, assignee, .. } => {
            format!("assigned {} to {assignee}", shown(step))
        }
        EventKind::StepTransferred { step, role, .. } => {
            format!("transferred {} to role {role}", shown(step))
        }
        EventKind::StepPostponed { step, until, .. } => {
            format!(
                "postponed {} until {}",
                shown(step),
                until.format("%Y-%m-%d %H:%M")
            )
        }
        EventKind::FieldsUpdated { fields } => {
            let list: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k} = {}", display_value(v)))
                .collect();
            format!("set {}", list.join(", "))
        }
        EventKind::StepCompleted { step, .. } => format!("completed {}", shown(step)),
        EventKind::ApprovalGranted { step, comment, .. } => match comment {
            Some(comment) => format!("approved {step}: {comment}"),
            None => format!("approved {step}"),
        },
        EventKind::GateApproved { step, .. } => format!("{step} passed"),
        EventKind::GateRejected { step, reason, .. } => format!("rejected {step}: {reason}"),
        EventKind::DecisionTaken {
            step,
            condition,
            target,
        } => match condition {
            Some(condition) => format!("{step}: `{condition}` held, went to {target}"),
            None => format!("{step}: no condition held, went to {target}"),
        },
        EventKind::StepEscalated { step, reason, .. } => {
            format!("escalated {}: {reason}", shown(step))
        }
        EventKind::StepCancelled { step, reason, .. } => format!("cancelled {step}: {reason}"),
        EventKind::SubCaseRequested {
            step, case, sop, ..
        } => {
            format!("{step} called {sop}: sub-case {case} requested")
        }
        EventKind::SubCaseStarted { step, case, .. } => {
            format!("sub-case {case} of {step} started")
        }
        EventKind::SubCaseFinished {
            step,
            case,
            outcome,
            ..
        } => match outcome {
            crate::engine::SubCaseOutcome::Completed => {
                format!("sub-case {case} of {step} completed")
            }
            crate::engine::SubCaseOutcome::Cancelled => {
                format!("sub-case {case} of {step} was cancelled: {step} is back with its role")
            }
        },
        EventKind::ParentInformed { parent } => format!("told parent case {parent} how it ended"),
        EventKind::SlaBreached {
            step, escalated, ..
        } => {
            if *escalated {
                format!("SLA of {} breached; escalated", shown(step))
            } else {
                format!("SLA of {} breached", shown(step))
            }
        }
        EventKind::TimerFired { step, .. } => format!("timer of {} fired", shown(step)),
        EventKind::CaseSlaStarted { due_at, .. } => match due_at {
            Some(due) => format!(
                "the case's SLA started (due {})",
                due.format("%Y-%m-%d %H:%M")
            ),
            None => "the case's SLA started".to_owned(),
        },
        EventKind::SlaWarned { step, .. } => match step {
            Some(step) => format!("SLA of {step} nearly due"),
            None => "the case's SLA nearly due".to_owned(),
        },
        EventKind::CaseSlaBreached => "the case's SLA breached".to_owned(),
        EventKind::SlaLevelReached {
            step,
            level,
            notify,
            escalated,
            ..
        } => {
            let whose = step
                .as_ref()
                .map_or_else(|| "the case".to_owned(), |s| s.to_string());
            let mut text = format!("escalation level {level} of {whose} reached");
            if let Some(role) = notify {
                text.push_str(&format!("; {role} notified"));
            }
            if *escalated {
                text.push_str("; escalated");
            }
            text
        }
        EventKind::SlaRescheduled { step, due_at, .. } => {
            let whose = step
                .as_ref()
                .map_or_else(|| "the case's SLA".to_owned(), |s| format!("SLA of {s}"));
            match due_at {
                Some(due) => format!("{whose} now due {}", due.format("%Y-%m-%d %H:%M")),
                None => format!("{whose} has no due time now"),
            }
        }
        EventKind::CasePaused { reason } => format!("paused the case: {reason}"),
        EventKind::CaseResumed => "resumed the case".to_owned(),
        EventKind::BranchesStarted {
            step,
            branches,
            skipped,
        } => {
            let mut text = format!("{step} split; {branches} branches to join");
            if !skipped.is_empty() {
                let skipped: Vec<&str> = skipped.iter().map(|s| s.as_str()).collect();
                text.push_str(&format!(" (not started: {})", skipped.join(", ")));
            }
            text
        }
        EventKind::InstancesStarted {
            step,
            items,
            needed,
        } => {
            if items.is_empty() {
                format!("{step} skipped: no item")
            } else {
                format!(
                    "{step} started for {} ({needed} to be done)",
                    items.join(", ")
                )
            }
        }
        EventKind::WorkWithdrawn { by, steps, joins } => {
            let mut withdrawn: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
            withdrawn.extend(joins.iter().map(|j| j.as_str()));
            format!(
                "{by} had what it waits for; withdrawn: {}",
                withdrawn.join(", ")
            )
        }
        EventKind::BranchJoined { split } => format!("a branch of {split} joined"),
        EventKind::NoteAdded { text, step } => match step {
            Some(step) => format!("note on {step}: {text}"),
            None => format!("note: {text}"),
        },
        EventKind::CaseClosed => "case closed".to_owned(),
        EventKind::CaseCancelled { reason } => format!("cancelled the case: {reason}"),
        EventKind::CaseReopened { reason } => format!("reopened the case: {reason}"),
        EventKind::CaseMigrated {
            from_version,
            to_version,
            renamed,
            ..
        } => {
            let mut text = format!("moved the case from v{from_version} to v{to_version}");
            if !renamed.is_empty() {
                let list: Vec<String> = renamed
                    .iter()
                    .map(|r| format!("{} → {}", r.from, r.to))
                    .collect();
                text.push_str(&format!(" ({})", list.join(", ")));
            }
            text
        }
        EventKind::TimeCorrected { wrong, reason } => format!(
            "corrected the case's clock, whose latest event was stamped {}: {reason}",
            wrong.format("%Y-%m-%d %H:%M")
        ),
    };
    format!(
        "{} {}: {what}",
        event.at.format("%Y-%m-%d %H:%M"),
        event.actor
    )
}
