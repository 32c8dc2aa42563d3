//! The transition function: `(process, state, command, now) → events`.

use chrono::{DateTime, TimeDelta, Utc};
use petgraph::graph::NodeIndex;

use super::command::{Action, Command, FieldValues};
use super::error::CommandError;
use super::event::{
    EVENT_SCHEMA_VERSION, Event, EventKind, ParentLink, SubCaseOutcome, TokenId, WithdrawnStep,
};
use super::ids::{Actor, ActorId, CaseId};
use super::limits;
use super::state::{ActiveStep, CaseClock, CaseState, CaseStatus, PendingTimer, SubCase, Timer};
use crate::graph::{
    ApprovalGate, Call, Deadline, EdgeKind, ForEach, NamedCalendar, NodeKind, Process, SlaSchedule,
    StepPeople, StepTimers, Task, check_field_value,
};
use crate::model::{FieldId, FieldType, FieldValue, RoleId, StepId};

/// Most automatic hops (decisions, splits, joins) one command may cause. Real SOPs need a
/// handful; the limit turns a cycle of decisions into an error instead of a hang. Routing
/// recurses once per hop, so the limit also bounds the stack: keep it well within a 2 MiB
/// thread stack in debug builds (a hop takes a few KiB there).
const MAX_HOPS: u32 = 100;

/// Most timers one tick may fire. Each firing records a warning, a breach or a level, or
/// moves a step on, so a real case needs a handful; the bound keeps a damaged case from
/// looping.
const MAX_FIRINGS: u32 = 1_000;

/// Decides a command against a case: the events it causes, or why it is refused.
///
/// Pure: no clock (time is `now`), no I/O, no randomness. A refused command yields no
/// event, and a command whose id the case applied recently yields none either (its
/// earlier events are at [`CaseState::outcome_of`]); the state remembers recent commands
/// only ([`CaseState::has_applied`]), and an older repeat is the store's to recognise.
/// Apply the returned events to the state (and persist them) to move the case on.
pub fn handle(
    process: &Process,
    state: &CaseState,
    command: Command,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, CommandError> {
    if state.has_applied(&command.id) {
        return Ok(Vec::new());
    }
    limits::check_command(&command, now)?;
    if let Some((sop, version)) = state.sop()
        && (sop != process.id() || version != process.version())
    {
        return Err(CommandError::WrongProcess {
            case_sop: sop.clone(),
            case_version: version,
            process_sop: process.id().clone(),
            process_version: process.version(),
        });
    }
    if let Some(last) = state.last_event_at()
        && now < last
        && !matches!(command.action, Action::CorrectTime { .. })
    {
        return Err(CommandError::TimeWentBackwards { now, last });
    }
    let mut transition = Transition {
        process,
        state: state.clone(),
        events: Vec::new(),
        command: &command,
        now,
        hops: 0,
        updated_fields: FieldValues::new(),
    };
    transition.run()?;
    transition.reschedule_for_changed_fields()?;
    limits::check_timers(state, &transition.state)?;
    Ok(transition.events)
}

struct Transition<'a> {
    process: &'a Process,
    /// A working copy: each event is applied as it is emitted, so routing sees its effect.
    state: CaseState,
    events: Vec<Event>,
    command: &'a Command,
    now: DateTime<Utc>,
    hops: u32,
    /// Field values set by this command's events, newer than `state`'s.
    updated_fields: FieldValues,
}

impl Transition<'_> {
    fn emit(&mut self, kind: EventKind) {
        let event = Event {
            v: EVENT_SCHEMA_VERSION,
            seq: self.state.version() + 1,
            at: self.now,
            command: self.command.id.clone(),
            actor: self.command.actor.id.clone(),
            kind,
        };
        match &event.kind {
            // Kept beside the working copy rather than in it: merging into the copy would
            // duplicate the case's whole field map on every command that sets a field.
            EventKind::FieldsUpdated { fields } => {
                self.updated_fields
                    .extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                self.state.apply_version_only(&event);
            }
            _ => self.state.apply_to_flow(&event),
        }
        self.events.push(event);
    }

    /// A field's value as of the events emitted so far.
    fn field_value(&self, field: &crate::model::FieldId) -> Option<&FieldValue> {
        self.updated_fields
            .get(field)
            .or_else(|| self.state.fields().get(field))
    }

    fn actor(&self) -> &Actor {
        &self.command.actor
    }

    fn run(&mut self) -> Result<(), CommandError> {
        let status = self.state.status();
        match (&self.command.action, status) {
            (Action::Start { case, fields }, CaseStatus::NotStarted) => {
                self.start(case, fields, None)
            }
            (
                Action::StartSubCase {
                    case,
                    fields,
                    parent,
                },
                CaseStatus::NotStarted,
            ) => self.start(case, fields, Some(parent)),
            (Action::Start { .. } | Action::StartSubCase { .. }, _) => {
                Err(CommandError::AlreadyStarted {
                    case: self.state.case().cloned().unwrap_or_else(|| "?".into()),
                })
            }
            (_, CaseStatus::NotStarted) => Err(CommandError::NotStarted),
            (Action::ParentInformed, _) => {
                self.parent_informed();
                Ok(())
            }
            (Action::Reopen { reason }, CaseStatus::Closed | CaseStatus::Cancelled) => {
                self.reopen(reason)
            }
            (Action::Reopen { .. }, _) => Err(CommandError::NotClosed),
            (Action::CorrectTime { reason }, _) => self.correct_time(reason),
            // The clock may tick on any case; nothing is due on a closed one.
            (Action::Tick, CaseStatus::Closed | CaseStatus::Cancelled) => Ok(()),
            (_, CaseStatus::Closed | CaseStatus::Cancelled) => {
                Err(CommandError::CaseNotOpen { status })
            }
            (action, CaseStatus::Open) => self.on_open_case(action),
        }
    }

    fn on_open_case(&mut self, action: &Action) -> Result<(), CommandError> {
        match action {
            Action::Claim { step, item } => {
                let active = self.workable(step, item.as_deref())?;
                let token = active.token;
                if let Some(assignee) = &active.assignee
                    && *assignee != self.actor().id
                {
                    return Err(CommandError::AssignedToSomeoneElse {
                        step: step.clone(),
                        assignee: assignee.clone(),
                    });
                }
                let assignee = self.actor().id.clone();
                self.emit(EventKind::StepAssigned {
                    step: step.clone(),
                    token,
                    assignee,
                });
                Ok(())
            }
            Action::Assign {
                step,
                assignee,
                item,
            } => {
                let token = self.workable(step, item.as_deref())?.token;
                self.emit(EventKind::StepAssigned {
                    step: step.clone(),
                    token,
                    assignee: assignee.clone(),
                });
                Ok(())
            }
            Action::Complete { step, fields, item } => self.complete(step, item.as_deref(), fields),
            Action::Approve { step, comment } => self.approve(step, comment),
            Action::Reject { step, reason } => self.reject(step, reason),
            Action::Escalate { step, reason, item } => self.escalate(step, item.as_deref(), reason),
            Action::CancelStep { step, reason } => self.cancel_step(step, reason),
            Action::UpdateFields { fields } => {
                self.require_some_role()?;
                let fields = self.validated(fields)?;
                self.check_editable(&fields, "update_fields")?;
                if !fields.is_empty() {
                    self.emit(EventKind::FieldsUpdated { fields });
                }
                Ok(())
            }
            Action::AddNote { text, step } => {
                self.require_some_role()?;
                if text.trim().is_empty() {
                    return Err(CommandError::ReasonRequired { action: "add_note" });
                }
                if let Some(step) = step
                    && self.process.step(step).is_none()
                {
                    return Err(CommandError::UnknownStep { step: step.clone() });
                }
                self.emit(EventKind::NoteAdded {
                    text: text.clone(),
                    step: step.clone(),
                });
                Ok(())
            }
            Action::Transfer { step, to, item } => {
                if !self.process.roles().iter().any(|r| r.id == *to) {
                    return Err(CommandError::UnknownRole { role: to.clone() });
                }
                let token = self.workable(step, item.as_deref())?.token;
                self.emit(EventKind::StepTransferred {
                    step: step.clone(),
                    token,
                    role: to.clone(),
                });
                Ok(())
            }
            Action::Postpone { step, until, item } => {
                let active = self.workable(step, item.as_deref())?.clone();
                if *until <= self.now {
                    return Err(CommandError::PostponeNotInFuture { step: step.clone() });
                }
                // Time on hold does not count against the SLA.
                let hold_starts = active.postponed_until.map_or(self.now, |u| u.max(self.now));
                let node = self.node(step)?;
                let calendar = self
                    .process
                    .timers(node)
                    .map_or_else(NamedCalendar::round_the_clock, |t| t.calendar.clone());
                let held = calendar.calendar.working_between(hold_starts, *until);
                let shifted = shifted(&calendar, &active, held);
                self.emit(EventKind::StepPostponed {
                    step: step.clone(),
                    token: active.token,
                    until: *until,
                    due_at: shifted.due_at,
                });
                if (active.sla.warn_at.is_some() || !active.sla.levels.is_empty())
                    && held > TimeDelta::zero()
                {
                    self.emit(held_for(&active, shifted, held));
                }
                Ok(())
            }
            Action::Pause { reason } => {
                self.require_some_role()?;
                if reason.trim().is_empty() {
                    return Err(CommandError::ReasonRequired { action: "pause" });
                }
                if let Some(since) = self.state.paused_since() {
                    return Err(CommandError::AlreadyPaused { since });
                }
                self.emit(EventKind::CasePaused {
                    reason: reason.clone(),
                });
                Ok(())
            }
            Action::Resume => {
                self.require_some_role()?;
                let Some(paused_since) = self.state.paused_since() else {
                    return Err(CommandError::NotPaused);
                };
                self.emit(EventKind::CaseResumed);
                self.resume_clocks(paused_since);
                Ok(())
            }
            Action::Cancel { reason } => {
                self.require_some_role()?;
                if reason.trim().is_empty() {
                    return Err(CommandError::ReasonRequired { action: "cancel" });
                }
                self.emit(EventKind::CaseCancelled {
                    reason: reason.clone(),
                });
                Ok(())
            }
            Action::Tick => self.tick(),
            Action::SubCaseStarted { child } => self.sub_case_started(child),
            Action::FinishSubCase {
                child,
                outcome,
                fields,
            } => self.finish_sub_case(child, *outcome, fields),
            Action::Start { .. }
            | Action::StartSubCase { .. }
            | Action::ParentInformed
            | Action::Reopen { .. }
            | Action::CorrectTime { .. } => Ok(()),
        }
    }

    /// Opens the case; a sub-case (`parent`) takes the fields its parent's call maps in,
    /// whichever step collects them, and needs no role: the calling SOP started it.
    fn start(
        &mut self,
        case: &CaseId,
        given: &FieldValues,
        parent: Option<&ParentLink>,
    ) -> Result<(), CommandError> {
        if parent.is_none() {
            self.require_some_role()?;
        }
        let mut fields: FieldValues = self
            .process
            .fields()
            .iter()
            .filter_map(|f| f.default.clone().map(|d| (f.id.clone(), d)))
            .collect();
        let given = self.validated(given)?;
        if parent.is_none() {
            self.check_editable(&given, "start")?;
        }
        fields.extend(given);
        self.emit(EventKind::CaseStarted {
            case: case.clone(),
            sop: self.process.id().clone(),
            version: self.process.version(),
            fields,
            parent: parent.cloned(),
        });
        if let Some(case_sla) = self.process.case_sla() {
            let schedule = self.case_schedule(self.now, TimeDelta::zero())?;
            self.emit(EventKind::CaseSlaStarted {
                due_at: schedule.due_at,
                warn_at: schedule.warn_at,
                levels: schedule.levels,
                pausable: case_sla.sla.pausable,
            });
        }
        let start = self.process.start();
        self.follow(start, EdgeKind::Next)
    }

    fn reopen(&mut self, reason: &str) -> Result<(), CommandError> {
        self.require_some_role()?;
        if reason.trim().is_empty() {
            return Err(CommandError::ReasonRequired { action: "reopen" });
        }
        let steps: Vec<StepId> = self.state.resumable().to_vec();
        self.emit(EventKind::CaseReopened {
            reason: reason.to_owned(),
        });
        let mut restarted: Vec<&StepId> = Vec::new();
        for step in &steps {
            let Some(node) = self.process.step(step) else {
                continue;
            };
            // A task run per item starts over once, for every item.
            if matches!(&self.process.node(node).kind, NodeKind::Task(t) if t.for_each.is_some()) {
                if restarted.contains(&step) {
                    continue;
                }
                restarted.push(step);
            }
            self.enter(node)?;
        }
        Ok(())
    }

    fn correct_time(&mut self, reason: &str) -> Result<(), CommandError> {
        self.require_some_role()?;
        if reason.trim().is_empty() {
            return Err(CommandError::ReasonRequired {
                action: "correct_time",
            });
        }
        match self.state.last_event_at() {
            Some(last) if self.now < last => {
                // Clocks that started "in the future" count again from now in their
                // calendar: keeping their distance would keep a night or a weekend that
                // the wrong start happened to fall on.
                let moved: Vec<u32> = self
                    .state
                    .active_steps()
                    .iter()
                    .filter(|a| a.since > self.now)
                    .map(|a| a.token)
                    .collect();
                let case_moved = self.state.case_clock().is_some_and(|c| c.since > self.now);
                self.emit(EventKind::TimeCorrected {
                    wrong: last,
                    reason: reason.to_owned(),
                });
                for moved in moved {
                    // As the correction left it: started now, timers at their distance.
                    let recounted =
                        match self.state.active_steps().iter().find(|a| a.token == moved) {
                            Some(active) => self.recount_step(active, self.now)?,
                            None => None,
                        };
                    if let Some(kind) = recounted {
                        self.emit(kind);
                    }
                }
                let recounted = match self.state.case_clock().filter(|_| case_moved) {
                    Some(clock) => self.recount_case(clock, self.now)?,
                    None => None,
                };
                if let Some(kind) = recounted {
                    self.emit(kind);
                }
                Ok(())
            }
            last => Err(CommandError::ClockNotAhead {
                now: self.now,
                last,
            }),
        }
    }

    fn complete(
        &mut self,
        step: &StepId,
        item: Option<&str>,
        given: &FieldValues,
    ) -> Result<(), CommandError> {
        let active = self.workable(step, item)?;
        let token = active.token;
        if let Some(sub) = self.state.waiting_for(token) {
            return Err(CommandError::WaitingForSubCase {
                step: step.clone(),
                case: sub.case.clone(),
            });
        }
        let round = self.state.instances_of(token).cloned();
        let node = self.node(step)?;
        let NodeKind::Task(task) = &self.process.node(node).kind else {
            return Err(CommandError::WrongAction {
                step: step.clone(),
                actual: "an approval gate",
                expected: "approve` or `reject",
            });
        };
        let fields = self.validated(given)?;
        for field in fields.keys() {
            if !task.collects.contains(field) && !self.may_edit(field) {
                let (collected_by, editable_by) = self.owners(field);
                return Err(CommandError::FieldNotCollected {
                    field: field.clone(),
                    step: step.clone(),
                    collected_by,
                    editable_by,
                });
            }
        }
        let missing: Vec<_> = task
            .collects
            .iter()
            .filter(|f| {
                self.process.field(f).is_some_and(|spec| spec.required)
                    && !fields.contains_key(*f)
                    && self.field_value(f).is_none()
            })
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(CommandError::MissingRequired {
                step: step.clone(),
                missing,
            });
        }
        if !fields.is_empty() {
            self.emit(EventKind::FieldsUpdated { fields });
        }
        self.emit(EventKind::StepCompleted {
            step: step.clone(),
            token,
        });
        if let Some(round) = round {
            // The case goes on once enough items of this round are done; the items left
            // are withdrawn.
            if round.remaining > 1 && round.tokens.len() > 1 {
                return Ok(());
            }
            let left: Vec<WithdrawnStep> = round
                .tokens
                .iter()
                .filter(|t| **t != token)
                .map(|t| WithdrawnStep {
                    step: step.clone(),
                    token: *t,
                })
                .collect();
            if !left.is_empty() {
                self.emit(EventKind::WorkWithdrawn {
                    by: step.clone(),
                    steps: left,
                    joins: Vec::new(),
                });
            }
        }
        self.follow(node, EdgeKind::Next)?;
        // An explicit termination closes the case even while other work is active or
        // branches are awaited; closing withdraws them.
        if task.terminates && self.state.is_open() {
            self.emit(EventKind::CaseClosed);
        }
        Ok(())
    }

    /// Asks for the sub-case of the call task `step` that just became active as `token`:
    /// its id is this case's, the step's and the round's (the how-manieth call of the
    /// step), so asking again after a crash names the same case.
    fn request_sub_case(&mut self, step: StepId, token: TokenId, call: &Call) {
        let round = self
            .state
            .sub_cases()
            .iter()
            .filter(|s| s.step == step)
            .count()
            + 1;
        let parent = self.state.case().map_or("?", CaseId::as_str);
        let case = CaseId::new(format!("{parent}.{step}.{round}"));
        let fields: FieldValues = call
            .with
            .iter()
            .filter_map(|(child, parent)| {
                self.field_value(parent)
                    .map(|value| (child.clone(), value.clone()))
            })
            .collect();
        self.emit(EventKind::SubCaseRequested {
            step,
            token,
            case,
            sop: call.sop.clone(),
            fields,
        });
    }

    /// The sub-case an active call task asked for, found by its id.
    fn sub_case(&self, child: &CaseId) -> Result<SubCase, CommandError> {
        self.state
            .sub_cases()
            .iter()
            .rev()
            .find(|s| {
                s.case == *child && self.state.active_steps().iter().any(|a| a.token == s.token)
            })
            .cloned()
            .ok_or_else(|| CommandError::NotWaitingForSubCase {
                case: child.clone(),
            })
    }

    fn sub_case_started(&mut self, child: &CaseId) -> Result<(), CommandError> {
        let sub = self.sub_case(child)?;
        if !sub.started {
            self.emit(EventKind::SubCaseStarted {
                step: sub.step,
                token: sub.token,
                case: sub.case,
            });
        }
        Ok(())
    }

    fn finish_sub_case(
        &mut self,
        child: &CaseId,
        outcome: SubCaseOutcome,
        given: &FieldValues,
    ) -> Result<(), CommandError> {
        let sub = self.sub_case(child)?;
        match sub.outcome {
            // Heard already: a repeated report changes nothing.
            Some(heard) if heard == outcome => return Ok(()),
            Some(SubCaseOutcome::Completed) => {
                return Err(CommandError::NotWaitingForSubCase { case: sub.case });
            }
            _ => {}
        }
        let process = self.process;
        let node = self.node(&sub.step)?;
        let NodeKind::Task(task) = &process.node(node).kind else {
            return Err(CommandError::NotWaitingForSubCase { case: sub.case });
        };
        let returned: FieldValues = task
            .call
            .iter()
            .flat_map(|call| call.returns.iter())
            .filter_map(|(parent, child)| given.get(child).map(|v| (parent.clone(), v.clone())))
            .collect();
        let returned = if outcome == SubCaseOutcome::Completed {
            self.validated(&returned)?
        } else {
            FieldValues::new()
        };
        self.emit(EventKind::SubCaseFinished {
            step: sub.step.clone(),
            token: sub.token,
            case: sub.case,
            outcome,
        });
        if outcome == SubCaseOutcome::Cancelled {
            return Ok(());
        }
        if !returned.is_empty() {
            self.emit(EventKind::FieldsUpdated { fields: returned });
        }
        self.emit(EventKind::StepCompleted {
            step: sub.step,
            token: sub.token,
        });
        self.follow(node, EdgeKind::Next)?;
        if task.terminates && self.state.is_open() {
            self.emit(EventKind::CaseClosed);
        }
        Ok(())
    }

    /// A closed or cancelled sub-case records that its parent heard how it ended.
    fn parent_informed(&mut self) {
        if self.state.parent_due().is_none() {
            return;
        }
        if let Some(parent) = self.state.parent().map(|p| p.case.clone()) {
            self.emit(EventKind::ParentInformed { parent });
        }
    }

    /// Checks that the actor may decide the gate `step`, returning its token.
    fn decidable_gate(
        &self,
        step: &StepId,
        action: &'static str,
    ) -> Result<(u32, NodeIndex), CommandError> {
        let active = self.workable(step, None)?;
        let node = self.node(step)?;
        let NodeKind::Approval(gate) = &self.process.node(node).kind else {
            return Err(CommandError::WrongAction {
                step: step.clone(),
                actual: "a task",
                expected: "complete",
            });
        };
        let actor = &self.actor().id;
        if let Some(reviewed) = gate.reviews.iter().find(|r| self.state.performed(r, actor)) {
            return Err(CommandError::ReviewsOwnWork {
                actor: actor.clone(),
                step: step.clone(),
                reviewed: reviewed.clone(),
            });
        }
        if action == "approve" && active.approvers.contains(actor) {
            return Err(CommandError::AlreadyApproved {
                actor: actor.clone(),
                step: step.clone(),
            });
        }
        Ok((active.token, node))
    }

    fn approve(&mut self, step: &StepId, comment: &Option<String>) -> Result<(), CommandError> {
        let (token, node) = self.decidable_gate(step, "approve")?;
        let needed = match &self.process.node(node).kind {
            NodeKind::Approval(gate) => gate.count,
            _ => 1,
        };
        self.emit(EventKind::ApprovalGranted {
            step: step.clone(),
            token,
            comment: comment.clone(),
        });
        let approvals = self
            .state
            .active_step(step)
            .map_or(0, |a| a.approvers.len());
        if approvals >= needed as usize {
            self.emit(EventKind::GateApproved {
                step: step.clone(),
                token,
            });
            self.follow(node, EdgeKind::Approved)?;
        }
        Ok(())
    }

    fn reject(&mut self, step: &StepId, reason: &str) -> Result<(), CommandError> {
        let (token, node) = self.decidable_gate(step, "reject")?;
        if reason.trim().is_empty() {
            return Err(CommandError::ReasonRequired { action: "reject" });
        }
        self.emit(EventKind::GateRejected {
            step: step.clone(),
            token,
            reason: reason.to_owned(),
        });
        self.follow(node, EdgeKind::Rejected)
    }

    fn escalate(
        &mut self,
        step: &StepId,
        item: Option<&str>,
        reason: &str,
    ) -> Result<(), CommandError> {
        let token = self.workable(step, item)?.token;
        let node = self.node(step)?;
        if reason.trim().is_empty() {
            return Err(CommandError::ReasonRequired { action: "escalate" });
        }
        // The explicit escalation path first, the SLA-breach path otherwise.
        let edges = self.process.successors(node);
        let path = edges
            .iter()
            .find(|(kind, _)| *kind == EdgeKind::Escalate)
            .or_else(|| edges.iter().find(|(kind, _)| *kind == EdgeKind::Overdue))
            .map(|&(kind, _)| kind);
        let Some(path) = path else {
            return Err(CommandError::NoEscalationPath { step: step.clone() });
        };
        self.emit(EventKind::StepEscalated {
            step: step.clone(),
            token,
            reason: reason.to_owned(),
        });
        self.follow(node, path)
    }

    fn cancel_step(&mut self, step: &StepId, reason: &str) -> Result<(), CommandError> {
        let token = self.workable(step, None)?.token;
        let node = self.node(step)?;
        if self.process.successor(node, EdgeKind::Cancelled).is_none() {
            return Err(CommandError::NotCancellable { step: step.clone() });
        }
        if reason.trim().is_empty() {
            return Err(CommandError::ReasonRequired {
                action: "cancel_step",
            });
        }
        self.emit(EventKind::StepCancelled {
            step: step.clone(),
            token,
            reason: reason.to_owned(),
        });
        self.follow(node, EdgeKind::Cancelled)
    }

    /// Fires every timer due at `now`, earliest first: warnings, breaches, ladder levels
    /// and deferred-choice timeouts of active steps, and the case's service level. A timer
    /// that moves the case may withdraw others; steps it activates start their timers now.
    fn tick(&mut self) -> Result<(), CommandError> {
        // Timers that fired without effect (a process that lost the edge they need): left
        // alone so the others still fire.
        let mut spent: Vec<(Option<u32>, Timer)> = Vec::new();
        for _ in 0..MAX_FIRINGS {
            let due = self
                .state
                .pending_timers()
                .filter(|t| t.at <= self.now && !spent.contains(&(t.token, t.timer)))
                .min_by_key(|t| (t.at, t.timer, t.token));
            let Some(due) = due else {
                return Ok(());
            };
            let before = self.events.len();
            self.fire(due)?;
            if self.events.len() == before {
                spent.push((due.token, due.timer));
            }
        }
        Err(CommandError::RoutingLoop { hops: MAX_FIRINGS })
    }

    fn fire(&mut self, due: PendingTimer) -> Result<(), CommandError> {
        let Some(token) = due.token else {
            return self.fire_case_timer(due.timer);
        };
        let Some(active) = self
            .state
            .active_steps()
            .iter()
            .find(|a| a.token == token)
            .cloned()
        else {
            return Ok(());
        };
        let Some(node) = self.process.step(&active.step) else {
            return Ok(());
        };
        match due.timer {
            Timer::Warning => {
                self.emit(EventKind::SlaWarned {
                    step: Some(active.step.clone()),
                    token: Some(token),
                });
                Ok(())
            }
            Timer::Breach => self.fire_overdue(&active, node),
            Timer::Level(level) => self.fire_level(&active, node, level),
            Timer::Timeout => self.fire_timeout(&active, node),
        }
    }

    fn fire_case_timer(&mut self, timer: Timer) -> Result<(), CommandError> {
        match timer {
            Timer::Warning => self.emit(EventKind::SlaWarned {
                step: None,
                token: None,
            }),
            Timer::Breach => self.emit(EventKind::CaseSlaBreached),
            Timer::Level(level) => {
                let notify = self
                    .process
                    .case_sla()
                    .and_then(|c| c.sla.ladder.get(level as usize - 1))
                    .and_then(|l| l.notify.clone());
                self.emit(EventKind::SlaLevelReached {
                    step: None,
                    token: None,
                    level,
                    notify,
                    escalated: false,
                });
            }
            Timer::Timeout => {}
        }
        Ok(())
    }

    fn fire_overdue(&mut self, active: &ActiveStep, node: NodeIndex) -> Result<(), CommandError> {
        // `on_overdue` (a ladder whose only level moves the case at the breach) is one
        // event, as it always was; other ladders record the breach, then their levels.
        let moves_now = self
            .process
            .timers(node)
            .and_then(|t| t.sla.as_ref())
            .is_some_and(|sla| sla.moves_at_breach())
            && self.process.successor(node, EdgeKind::Overdue).is_some();
        self.emit(EventKind::SlaBreached {
            step: active.step.clone(),
            token: active.token,
            escalated: moves_now,
        });
        if moves_now {
            self.follow(node, EdgeKind::Overdue)
        } else {
            Ok(())
        }
    }

    fn fire_level(
        &mut self,
        active: &ActiveStep,
        node: NodeIndex,
        level: u32,
    ) -> Result<(), CommandError> {
        let Some(rung) = self
            .process
            .timers(node)
            .and_then(|t| t.sla.as_ref())
            .and_then(|sla| sla.ladder.get(level as usize - 1))
        else {
            return Ok(());
        };
        let moves = rung.moves && self.process.successor(node, EdgeKind::Overdue).is_some();
        self.emit(EventKind::SlaLevelReached {
            step: Some(active.step.clone()),
            token: Some(active.token),
            level,
            notify: rung.notify.clone(),
            escalated: moves,
        });
        if moves {
            self.follow(node, EdgeKind::Overdue)
        } else {
            Ok(())
        }
    }

    /// After a pause: every pausable clock goes on with the working time it had left.
    fn resume_clocks(&mut self, paused_since: DateTime<Utc>) {
        let paused: Vec<ActiveStep> = self
            .state
            .active_steps()
            .iter()
            .filter(|a| a.sla.pausable)
            .cloned()
            .collect();
        for active in paused {
            let Some(calendar) = self
                .process
                .step(&active.step)
                .and_then(|node| self.process.timers(node))
                .map(|t| t.calendar.clone())
            else {
                continue;
            };
            let held = calendar
                .calendar
                .working_between(paused_since.max(active.since), self.now);
            let shifted = shifted(&calendar, &active, held);
            self.emit(held_for(&active, shifted, held));
        }
        let clock = self.state.case_clock().filter(|c| c.sla.pausable).cloned();
        if let (Some(clock), Some(case_sla)) = (clock, self.process.case_sla()) {
            let calendar = &case_sla.calendar;
            let held = calendar
                .calendar
                .working_between(paused_since.max(clock.since), self.now);
            let shift = |t: DateTime<Utc>| calendar.calendar.add(t, held);
            self.emit(EventKind::SlaRescheduled {
                step: None,
                token: None,
                due_at: clock.due_at.and_then(shift),
                warn_at: clock.sla.warn_at.and_then(shift),
                levels: clock.sla.levels.iter().filter_map(|&t| shift(t)).collect(),
                timeout_at: None,
                held_secs: clock.sla.held_secs + held.num_seconds(),
            });
        }
    }

    /// A field that a timer's length depends on changed: the timers of the active steps
    /// (and of the case) that depend on it count again from when they started. Raising a
    /// priority can make a step overdue at once; the next tick records the breach.
    fn reschedule_for_changed_fields(&mut self) -> Result<(), CommandError> {
        if self.updated_fields.is_empty() || !self.state.is_open() {
            return Ok(());
        }
        let changed =
            |field: Option<&FieldId>| field.is_some_and(|f| self.updated_fields.contains_key(f));
        let mut reschedules = Vec::new();
        for active in self.state.active_steps() {
            let Some(timers) = self
                .process
                .step(&active.step)
                .and_then(|node| self.process.timers(node))
            else {
                continue;
            };
            let depends = changed(timers.sla.as_ref().and_then(|s| s.due.field()))
                || changed(timers.timeout.as_ref().and_then(|t| t.field()));
            if depends && let Some(kind) = self.recount_step(active, active.since)? {
                reschedules.push(kind);
            }
        }
        if let (Some(clock), Some(case_sla)) = (self.state.case_clock(), self.process.case_sla())
            && changed(case_sla.sla.due.field())
            && let Some(kind) = self.recount_case(clock, clock.since)?
        {
            reschedules.push(kind);
        }
        for kind in reschedules {
            self.emit(kind);
        }
        Ok(())
    }

    /// The `SlaRescheduled` that sets `active`'s timers to what they are when counted from
    /// `since` (with the time it was held), or `None` when they already are.
    fn recount_step(
        &self,
        active: &ActiveStep,
        since: DateTime<Utc>,
    ) -> Result<Option<EventKind>, CommandError> {
        let Some(timers) = self
            .process
            .step(&active.step)
            .and_then(|node| self.process.timers(node))
        else {
            return Ok(None);
        };
        let held = TimeDelta::seconds(active.sla.held_secs);
        let (schedule, timeout_at) = self.schedule_of(&active.step, timers, since, held)?;
        let same = schedule.due_at == active.due_at
            && schedule.warn_at == active.sla.warn_at
            && schedule.levels == active.sla.levels
            && timeout_at == active.timeout_at;
        Ok((!same).then(|| EventKind::SlaRescheduled {
            step: Some(active.step.clone()),
            token: Some(active.token),
            due_at: schedule.due_at,
            warn_at: schedule.warn_at,
            levels: schedule.levels,
            timeout_at,
            held_secs: active.sla.held_secs,
        }))
    }

    /// [`Transition::recount_step`] for the case's service level.
    fn recount_case(
        &self,
        clock: &CaseClock,
        since: DateTime<Utc>,
    ) -> Result<Option<EventKind>, CommandError> {
        let schedule = self.case_schedule(since, TimeDelta::seconds(clock.sla.held_secs))?;
        let same = schedule.due_at == clock.due_at
            && schedule.warn_at == clock.sla.warn_at
            && schedule.levels == clock.sla.levels;
        Ok((!same).then_some(EventKind::SlaRescheduled {
            step: None,
            token: None,
            due_at: schedule.due_at,
            warn_at: schedule.warn_at,
            levels: schedule.levels,
            timeout_at: None,
            held_secs: clock.sla.held_secs,
        }))
    }

    /// The timers of a step that became active at `since` and was held for `held`.
    fn schedule_of(
        &self,
        step: &StepId,
        timers: &StepTimers,
        since: DateTime<Utc>,
        held: TimeDelta,
    ) -> Result<(SlaSchedule, Option<DateTime<Utc>>), CommandError> {
        step_schedule(step, timers, since, held, |f| self.field_value(f))
    }

    /// The timers of the case's service level, started at `since` and held for `held`.
    fn case_schedule(
        &self,
        since: DateTime<Utc>,
        held: TimeDelta,
    ) -> Result<SlaSchedule, CommandError> {
        let Some(case_sla) = self.process.case_sla() else {
            return Ok(SlaSchedule::default());
        };
        case_sla
            .sla
            .schedule(&case_sla.calendar, since, held, |f| self.field_value(f))
            .ok_or_else(|| CommandError::TimerPastLatest {
                what: "the case's SLA".to_owned(),
                latest: limits::latest(),
            })
    }

    fn fire_timeout(&mut self, active: &ActiveStep, node: NodeIndex) -> Result<(), CommandError> {
        let Some((kind, _)) = self
            .process
            .successors(node)
            .iter()
            .copied()
            .find(|(k, _)| *k == EdgeKind::Timeout)
        else {
            return Ok(());
        };
        self.emit(EventKind::TimerFired {
            step: active.step.clone(),
            token: active.token,
        });
        self.follow(node, kind)
    }

    /// Takes the edge of `kind` out of `node` and enters its target.
    fn follow(&mut self, node: NodeIndex, kind: EdgeKind) -> Result<(), CommandError> {
        match self.process.successor(node, kind) {
            Some(target) => self.enter(target),
            None => Ok(()),
        }
    }

    /// A token arrives at `node`: activate a step, or route through automatic nodes.
    fn enter(&mut self, node: NodeIndex) -> Result<(), CommandError> {
        self.hops += 1;
        if self.hops > MAX_HOPS {
            return Err(CommandError::RoutingLoop { hops: self.hops });
        }
        let process = self.process;
        let current = process.node(node);
        // Tasks, gates, decisions and splits always carry their step id.
        let step = || {
            current
                .step
                .clone()
                .unwrap_or_else(|| StepId::unchecked(current.name()))
        };
        match &current.kind {
            NodeKind::Task(Task {
                for_each: Some(each),
                timers,
                people,
                ..
            }) => {
                let items = self.items_of(each);
                let needed = each
                    .wait_for
                    .map_or(items.len(), |n| (n as usize).min(items.len()));
                self.emit(EventKind::InstancesStarted {
                    step: step(),
                    items: items.clone(),
                    needed: u32::try_from(needed).unwrap_or(u32::MAX),
                });
                if items.is_empty() {
                    return self.follow(node, EdgeKind::Next);
                }
                for item in items {
                    self.activate(step(), timers, people, Some(item))?;
                }
                Ok(())
            }
            NodeKind::Task(Task {
                timers,
                people,
                call: Some(call),
                ..
            }) => {
                let token = self.state.next_token();
                self.activate(step(), timers, people, None)?;
                self.request_sub_case(step(), token, call);
                Ok(())
            }
            NodeKind::Task(Task { timers, people, .. })
            | NodeKind::Approval(ApprovalGate { timers, people, .. }) => {
                self.activate(step(), timers, people, None)
            }
            NodeKind::Decision(decision) => {
                let mut chosen = None;
                for (index, condition) in decision.conditions.iter().enumerate() {
                    let holds = condition
                        .evaluate(|f| self.field_value(f), self.now)
                        .map_err(|e| CommandError::DecisionFailed {
                            step: step(),
                            reason: e.reason,
                        })?;
                    if holds {
                        chosen = Some(index);
                        break;
                    }
                }
                let kind = chosen.map_or(EdgeKind::Else, EdgeKind::Condition);
                let Some(target) = process.successor(node, kind) else {
                    return Err(CommandError::DecisionFailed {
                        step: step(),
                        reason: "the chosen path leads nowhere".to_owned(),
                    });
                };
                self.emit(EventKind::DecisionTaken {
                    step: step(),
                    condition: chosen.map(|i| decision.conditions[i].source().to_owned()),
                    target: written_target(process, target),
                });
                self.enter(target)
            }
            NodeKind::Split(split) => {
                let branches: Vec<NodeIndex> = process
                    .successors(node)
                    .iter()
                    .filter_map(|&(k, t)| (k == EdgeKind::Branch).then_some(t))
                    .collect();
                let mut started = Vec::with_capacity(branches.len());
                let mut skipped = Vec::new();
                for (index, &branch) in branches.iter().enumerate() {
                    let starts = match split.conditions.get(index).and_then(Option::as_ref) {
                        Some(condition) => condition
                            .evaluate(|f| self.field_value(f), self.now)
                            .map_err(|e| CommandError::DecisionFailed {
                                step: step(),
                                reason: e.reason,
                            })?,
                        None => true,
                    };
                    if starts {
                        started.push(branch);
                    } else {
                        skipped.push(written_target(process, branch));
                    }
                }
                let needed = split
                    .wait_for
                    .map_or(started.len(), |n| (n as usize).min(started.len()));
                self.emit(EventKind::BranchesStarted {
                    step: step(),
                    branches: u32::try_from(needed).unwrap_or(u32::MAX),
                    skipped,
                });
                if started.is_empty() {
                    return self.follow(split.join, EdgeKind::Next);
                }
                let waiting = |state: &CaseState| {
                    let split = step();
                    state
                        .pending_joins()
                        .iter()
                        .filter(|j| j.split == split)
                        .count()
                };
                let rounds = waiting(&self.state);
                for branch in started {
                    self.enter(branch)?;
                    // A branch that reached the join at once may have been all it waits
                    // for: the branches after it are not needed.
                    if waiting(&self.state) < rounds {
                        break;
                    }
                }
                Ok(())
            }
            NodeKind::Join(join) => {
                let split = join.split.clone();
                self.emit(EventKind::BranchJoined {
                    split: split.clone(),
                });
                let waiting = self.state.pending_joins().iter().any(|j| j.split == split);
                if waiting {
                    Ok(())
                } else {
                    self.withdraw_branches(&split);
                    self.follow(node, EdgeKind::Next)
                }
            }
            NodeKind::End => {
                if self.state.active_steps().is_empty() && self.state.pending_joins().is_empty() {
                    self.emit(EventKind::CaseClosed);
                }
                Ok(())
            }
            NodeKind::Start => self.follow(node, EdgeKind::Next),
        }
    }

    /// Activates `step` (for `item`, when it runs once per item): its timers start now, and
    /// it is assigned to the person it goes to.
    fn activate(
        &mut self,
        step: StepId,
        timers: &StepTimers,
        people: &StepPeople,
        item: Option<String>,
    ) -> Result<(), CommandError> {
        let token = self.state.next_token();
        let (schedule, timeout_at) =
            self.schedule_of(&step, timers, self.now, TimeDelta::zero())?;
        self.emit(EventKind::StepActivated {
            step: step.clone(),
            token,
            item,
            due_at: schedule.due_at,
            timeout_at,
            warn_at: schedule.warn_at,
            levels: schedule.levels,
            pausable: timers.sla.as_ref().is_some_and(|sla| sla.pausable),
        });
        if let Some(assignee) = self.person_for(people) {
            self.emit(EventKind::StepAssigned {
                step,
                token,
                assignee,
            });
        }
        Ok(())
    }

    /// The items a task run per item starts with: the chosen options of its field, each
    /// once, in the order chosen.
    fn items_of(&self, each: &ForEach) -> Vec<String> {
        let mut items: Vec<String> = Vec::new();
        let chosen: &[String] = match self.field_value(&each.field) {
            Some(FieldValue::List(chosen)) => chosen,
            Some(FieldValue::Text(one)) => std::slice::from_ref(one),
            _ => &[],
        };
        for item in chosen {
            let item = item.trim();
            if !item.is_empty() && !items.iter().any(|i| i == item) {
                items.push(item.to_owned());
            }
        }
        items
    }

    /// The join of `split` has every branch it waits for: work still active in the other
    /// branches (a `wait_for` below the branches started) is withdrawn, with the joins of
    /// splits nested in them.
    fn withdraw_branches(&mut self, split: &StepId) {
        let Some(NodeKind::Split(kind)) =
            self.process.step(split).map(|n| &self.process.node(n).kind)
        else {
            return;
        };
        if kind.wait_for.is_none() {
            return;
        }
        let steps: Vec<WithdrawnStep> = self
            .state
            .active_steps()
            .iter()
            .filter(|a| {
                self.process
                    .step(&a.step)
                    .is_some_and(|n| kind.inside.binary_search(&n).is_ok())
            })
            .map(|a| WithdrawnStep {
                step: a.step.clone(),
                token: a.token,
            })
            .collect();
        let joins: Vec<StepId> = self
            .state
            .pending_joins()
            .iter()
            .filter(|j| kind.nested.contains(&j.split))
            .map(|j| j.split.clone())
            .collect();
        if !steps.is_empty() || !joins.is_empty() {
            self.emit(EventKind::WorkWithdrawn {
                by: split.clone(),
                steps,
                joins,
            });
        }
    }

    /// The person a step becoming active goes to: the one its `assignee` field names, or
    /// whoever last performed its `same_performer_as` task (in this command or before).
    /// `None` when the field is empty or the task was never performed: then the step goes
    /// to its role, as any other.
    fn person_for(&self, people: &StepPeople) -> Option<ActorId> {
        if let Some(field) = &people.assignee {
            return match self.field_value(field) {
                Some(FieldValue::Text(id)) if !id.trim().is_empty() => {
                    Some(ActorId::new(id.trim()))
                }
                _ => None,
            };
        }
        let earlier = people.same_performer_as.as_ref()?;
        self.events
            .iter()
            .rev()
            .find_map(|event| match &event.kind {
                EventKind::StepCompleted { step, .. } if step == earlier => {
                    Some(event.actor.clone())
                }
                _ => None,
            })
            .or_else(|| self.state.performers_of(earlier).last().cloned())
    }

    /// The active step `step` (its activation for `item`, when it runs once per item), if
    /// the actor may work on it.
    fn workable(&self, step: &StepId, item: Option<&str>) -> Result<&ActiveStep, CommandError> {
        let node = self.node(step)?;
        let items = || {
            let items: Vec<String> = self
                .state
                .active_steps()
                .iter()
                .filter(|a| a.step == *step)
                .filter_map(|a| a.item.as_ref().map(|i| format!("`{i}`")))
                .collect();
            if items.is_empty() {
                "none".to_owned()
            } else {
                items.join(", ")
            }
        };
        let mut activations = self.state.active_steps().iter().filter(|a| a.step == *step);
        let found = match item {
            Some(item) => {
                let found = activations.find(|a| a.item.as_deref() == Some(item));
                if found.is_none() && self.state.active_step(step).is_some() {
                    return Err(CommandError::ItemNotActive {
                        step: step.clone(),
                        item: item.to_owned(),
                        items: items(),
                    });
                }
                found
            }
            None => {
                let first = activations.next();
                if first.is_some_and(|a| a.item.is_some()) && activations.next().is_some() {
                    return Err(CommandError::ItemRequired {
                        step: step.clone(),
                        items: items(),
                    });
                }
                first
            }
        };
        let Some(active) = found else {
            let active: Vec<String> = self
                .state
                .active_steps()
                .iter()
                .map(|a| format!("`{}`", a.step))
                .collect();
            return Err(CommandError::StepNotActive {
                step: step.clone(),
                active: if active.is_empty() {
                    "none".to_owned()
                } else {
                    active.join(", ")
                },
            });
        };
        if let Some(roles) = effective_roles(self.process, node, active)
            && !roles.iter().any(|role| self.actor().holds(role))
        {
            return Err(CommandError::NotAuthorized {
                actor: self.actor().id.clone(),
                step: step.clone(),
                role: roles[0].clone(),
                other_roles: roles[1..].to_vec(),
            });
        }
        // An assignment makes a task one person's work; a gate stays open to every
        // approver of its role, or a gate needing two approvals could never pass, unless the
        // SOP gives the gate to one person.
        let binding = match &self.process.node(node).kind {
            NodeKind::Task(task) => {
                if let Some(other) = task
                    .people
                    .separate_from
                    .iter()
                    .find(|s| self.state.performed(s, &self.actor().id))
                    && !matches!(
                        self.command.action,
                        Action::Assign { .. } | Action::Transfer { .. }
                    )
                {
                    return Err(CommandError::SeparateDuties {
                        actor: self.actor().id.clone(),
                        step: step.clone(),
                        performed: other.clone(),
                    });
                }
                true
            }
            NodeKind::Approval(gate) => gate.people.goes_to_a_person(),
            _ => false,
        };
        if let Some(assignee) = &active.assignee
            && binding
            && *assignee != self.actor().id
            && !matches!(
                self.command.action,
                Action::Assign { .. } | Action::Transfer { .. } | Action::Claim { .. }
            )
        {
            return Err(CommandError::AssignedToSomeoneElse {
                step: step.clone(),
                assignee: assignee.clone(),
            });
        }
        Ok(active)
    }

    fn node(&self, step: &StepId) -> Result<NodeIndex, CommandError> {
        self.process
            .step(step)
            .ok_or_else(|| CommandError::UnknownStep { step: step.clone() })
    }

    fn require_some_role(&self) -> Result<(), CommandError> {
        let holds_one = self
            .process
            .roles()
            .iter()
            .any(|r| self.actor().holds(&r.id));
        if holds_one {
            Ok(())
        } else {
            Err(CommandError::NoRoleInSop {
                actor: self.actor().id.clone(),
            })
        }
    }

    /// Whether the actor holds a role the field is `editable_by`.
    fn may_edit(&self, field: &FieldId) -> bool {
        self.process
            .field(field)
            .is_some_and(|spec| spec.editable_by.iter().any(|r| self.actor().holds(r)))
    }

    /// Who owns a field: the tasks that collect it (with their roles), and the roles that
    /// may change it at any time.
    fn owners(&self, field: &FieldId) -> (Vec<(StepId, RoleId)>, Vec<RoleId>) {
        let Some(spec) = self.process.field(field) else {
            return (Vec::new(), Vec::new());
        };
        let collected_by = spec
            .collected_by
            .iter()
            .filter_map(|step| {
                let node = self.process.step(step)?;
                match &self.process.node(node).kind {
                    NodeKind::Task(task) => Some((step.clone(), task.role.clone())),
                    _ => None,
                }
            })
            .collect();
        (collected_by, spec.editable_by.clone())
    }

    /// Field ownership outside a step: `update_fields` writes only fields `editable_by` one
    /// of the actor's roles. `start` may also set fields no step collects (the case's
    /// intake data), never a field a step collects: that is its performer's to decide.
    fn check_editable(
        &self,
        fields: &FieldValues,
        action: &'static str,
    ) -> Result<(), CommandError> {
        for field in fields.keys() {
            let uncollected = action == "start"
                && self
                    .process
                    .field(field)
                    .is_some_and(|spec| spec.collected_by.is_empty());
            if !uncollected && !self.may_edit(field) {
                let (collected_by, editable_by) = self.owners(field);
                return Err(CommandError::FieldNotEditable {
                    field: field.clone(),
                    action,
                    collected_by,
                    editable_by,
                });
            }
        }
        Ok(())
    }

    /// Checks values against the field definitions; integers for number fields become
    /// numbers so conditions compare like with like.
    fn validated(&self, given: &FieldValues) -> Result<FieldValues, CommandError> {
        let mut out = FieldValues::new();
        for (field, value) in given {
            let spec = self
                .process
                .field(field)
                .ok_or_else(|| CommandError::UnknownField {
                    field: field.clone(),
                })?;
            check_field_value(spec, value).map_err(|reason| CommandError::InvalidValue {
                field: field.clone(),
                reason,
            })?;
            let value = match (spec.field_type, value) {
                (FieldType::Number, FieldValue::Integer(i)) => FieldValue::Number(*i as f64),
                _ => value.clone(),
            };
            out.insert(field.clone(), value);
        }
        Ok(out)
    }
}

/// The roles that may act on an active step: its transfer target, or the SOP's role (a
/// gate's approvers, any of which may decide). Never an empty slice.
pub(crate) fn effective_roles<'p>(
    process: &'p Process,
    node: NodeIndex,
    active: &'p ActiveStep,
) -> Option<&'p [RoleId]> {
    if let Some(role) = &active.transferred_to {
        return Some(std::slice::from_ref(role));
    }
    match &process.node(node).kind {
        NodeKind::Task(task) => Some(std::slice::from_ref(&task.role)),
        NodeKind::Approval(gate) if !gate.by.is_empty() => Some(&gate.by),
        _ => None,
    }
}

/// The step a decision arm names: a join node stands for the join step after it.
fn written_target(process: &Process, node: NodeIndex) -> StepId {
    let node = match process.node(node).kind {
        NodeKind::Join(_) => process.successor(node, EdgeKind::Next).unwrap_or(node),
        _ => node,
    };
    let target = process.node(node);
    target
        .step
        .clone()
        .unwrap_or_else(|| StepId::unchecked(target.name()))
}

/// The SLA timers of `active` moved on by `held` of working time in its calendar: what a
/// postponement or a pause does to them.
fn shifted(calendar: &NamedCalendar, active: &ActiveStep, held: TimeDelta) -> SlaSchedule {
    let shift = |t: DateTime<Utc>| calendar.calendar.add(t, held);
    SlaSchedule {
        due_at: active.due_at.and_then(shift),
        warn_at: active.sla.warn_at.and_then(shift),
        levels: active.sla.levels.iter().filter_map(|&t| shift(t)).collect(),
    }
}

/// The `SlaRescheduled` of a step whose SLA timers were held for `held` of working time
/// (a postponement or a pause) and moved to `shifted`.
fn held_for(active: &ActiveStep, shifted: SlaSchedule, held: TimeDelta) -> EventKind {
    EventKind::SlaRescheduled {
        step: Some(active.step.clone()),
        token: Some(active.token),
        due_at: shifted.due_at,
        warn_at: shifted.warn_at,
        levels: shifted.levels,
        timeout_at: active.timeout_at,
        held_secs: active.sla.held_secs + held.num_seconds(),
    }
}

/// The timers of `step` (`timers`), active since `since` and held for `held`, with field
/// values from `value_of`: its SLA schedule and its deferred-choice timeout.
pub(crate) fn step_schedule<'v>(
    step: &StepId,
    timers: &StepTimers,
    since: DateTime<Utc>,
    held: TimeDelta,
    value_of: impl Fn(&FieldId) -> Option<&'v FieldValue>,
) -> Result<(SlaSchedule, Option<DateTime<Utc>>), CommandError> {
    let past_latest = || CommandError::TimerPastLatest {
        what: format!("step `{step}`"),
        latest: limits::latest(),
    };
    let schedule = match &timers.sla {
        Some(sla) => sla
            .schedule(&timers.calendar, since, held, &value_of)
            .ok_or_else(past_latest)?,
        None => SlaSchedule::default(),
    };
    let timeout_at = match timers.timeout.as_ref() {
        Some(length) => match length.deadline(&timers.calendar, since, &value_of) {
            Deadline::None => None,
            Deadline::At(at) => Some(at),
            Deadline::OutOfRange => return Err(past_latest()),
        },
        None => None,
    };
    Ok((schedule, timeout_at))
}
