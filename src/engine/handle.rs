//! The transition function: `(process, state, command, now) → events`.

use chrono::{DateTime, Utc};
use petgraph::graph::NodeIndex;

use super::command::{Action, Command, FieldValues};
use super::error::CommandError;
use super::event::{EVENT_SCHEMA_VERSION, Event, EventKind};
use super::ids::Actor;
use super::limits;
use super::state::{ActiveStep, CaseState, CaseStatus};
use crate::graph::{EdgeKind, NodeKind, Process, check_field_value};
use crate::model::{FieldId, FieldType, FieldValue, RoleId, StepId};

/// Most automatic hops (decisions, splits, joins) one command may cause. Real SOPs need a
/// handful; the limit turns a cycle of decisions into an error instead of a hang. Routing
/// recurses once per hop, so the limit also bounds the stack: keep it well within a 2 MiB
/// thread stack in debug builds (a hop takes a few KiB there).
const MAX_HOPS: u32 = 100;

/// Decides a command against a case: the events it causes, or why it is refused.
///
/// Pure: no clock (time is `now`), no I/O, no randomness. A refused command yields no
/// event, and a command whose id the case has already applied yields none either (its
/// earlier events are at [`CaseState::outcome_of`]). Apply the returned events to the
/// state (and persist them) to move the case on.
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
            (Action::Start { case, fields }, CaseStatus::NotStarted) => self.start(case, fields),
            (Action::Start { .. }, _) => Err(CommandError::AlreadyStarted {
                case: self.state.case().cloned().unwrap_or_else(|| "?".into()),
            }),
            (_, CaseStatus::NotStarted) => Err(CommandError::NotStarted),
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
            Action::Claim { step } => {
                let active = self.workable(step)?;
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
            Action::Assign { step, assignee } => {
                let token = self.workable(step)?.token;
                self.emit(EventKind::StepAssigned {
                    step: step.clone(),
                    token,
                    assignee: assignee.clone(),
                });
                Ok(())
            }
            Action::Complete { step, fields } => self.complete(step, fields),
            Action::Approve { step, comment } => self.approve(step, comment),
            Action::Reject { step, reason } => self.reject(step, reason),
            Action::Escalate { step, reason } => self.escalate(step, reason),
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
            Action::Transfer { step, to } => {
                if !self.process.roles().iter().any(|r| r.id == *to) {
                    return Err(CommandError::UnknownRole { role: to.clone() });
                }
                let token = self.workable(step)?.token;
                self.emit(EventKind::StepTransferred {
                    step: step.clone(),
                    token,
                    role: to.clone(),
                });
                Ok(())
            }
            Action::Postpone { step, until } => {
                let active = self.workable(step)?;
                if *until <= self.now {
                    return Err(CommandError::PostponeNotInFuture { step: step.clone() });
                }
                // Time on hold does not count against the SLA.
                let hold_starts = active.postponed_until.map_or(self.now, |u| u.max(self.now));
                let due_at = active.due_at.map(|due| due + (*until - hold_starts));
                let token = active.token;
                self.emit(EventKind::StepPostponed {
                    step: step.clone(),
                    token,
                    until: *until,
                    due_at,
                });
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
            Action::Start { .. } | Action::Reopen { .. } | Action::CorrectTime { .. } => Ok(()),
        }
    }

    fn start(
        &mut self,
        case: &super::ids::CaseId,
        given: &FieldValues,
    ) -> Result<(), CommandError> {
        self.require_some_role()?;
        let mut fields: FieldValues = self
            .process
            .fields()
            .iter()
            .filter_map(|f| f.default.clone().map(|d| (f.id.clone(), d)))
            .collect();
        let given = self.validated(given)?;
        self.check_editable(&given, "start")?;
        fields.extend(given);
        self.emit(EventKind::CaseStarted {
            case: case.clone(),
            sop: self.process.id().clone(),
            version: self.process.version(),
            fields,
        });
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
        for step in steps {
            if let Some(node) = self.process.step(&step) {
                self.enter(node)?;
            }
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
                self.emit(EventKind::TimeCorrected {
                    wrong: last,
                    reason: reason.to_owned(),
                });
                Ok(())
            }
            last => Err(CommandError::ClockNotAhead {
                now: self.now,
                last,
            }),
        }
    }

    fn complete(&mut self, step: &StepId, given: &FieldValues) -> Result<(), CommandError> {
        let active = self.workable(step)?;
        let token = active.token;
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
        self.follow(node, EdgeKind::Next)
    }

    /// Checks that the actor may decide the gate `step`, returning its token.
    fn decidable_gate(
        &self,
        step: &StepId,
        action: &'static str,
    ) -> Result<(u32, NodeIndex), CommandError> {
        let active = self.workable(step)?;
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

    fn escalate(&mut self, step: &StepId, reason: &str) -> Result<(), CommandError> {
        let token = self.workable(step)?.token;
        let node = self.node(step)?;
        if reason.trim().is_empty() {
            return Err(CommandError::ReasonRequired { action: "escalate" });
        }
        // The explicit escalation path first, the SLA-breach path otherwise.
        let edges = self.process.successors(node);
        let path = edges
            .iter()
            .find(|(kind, _)| *kind == EdgeKind::Escalate)
            .or_else(|| {
                edges
                    .iter()
                    .find(|(kind, _)| matches!(kind, EdgeKind::Overdue(_)))
            })
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

    /// Fires every timer due at `now`, earliest deadline first. Steps activated by this
    /// tick start their timers now, so they are not due yet.
    fn tick(&mut self) -> Result<(), CommandError> {
        let mut due: Vec<ActiveStep> = self.state.active_steps().to_vec();
        // Earliest deadline first, so the history reads in the order the timers expired.
        due.sort_by_key(ActiveStep::next_deadline);
        for active in due {
            // An earlier timer in this tick may have withdrawn the step.
            if !self
                .state
                .active_steps()
                .iter()
                .any(|a| a.token == active.token)
            {
                continue;
            }
            let overdue = active.overdue_at().filter(|t| *t <= self.now);
            let timeout = active.timeout_fires_at().filter(|t| *t <= self.now);
            let Some(node) = self.process.step(&active.step) else {
                continue;
            };
            // The earlier deadline wins the race; on a tie the SLA breach is recorded first.
            match (overdue, timeout) {
                (Some(o), Some(t)) if t < o => self.fire_timeout(&active, node)?,
                (Some(_), timeout) => {
                    self.fire_overdue(&active, node)?;
                    // A breach without `on_overdue` keeps the step: its timeout still fires.
                    let kept = self
                        .state
                        .active_steps()
                        .iter()
                        .any(|a| a.token == active.token);
                    if timeout.is_some() && kept {
                        self.fire_timeout(&active, node)?;
                    }
                }
                (None, Some(_)) => self.fire_timeout(&active, node)?,
                (None, None) => {}
            }
        }
        Ok(())
    }

    fn fire_overdue(&mut self, active: &ActiveStep, node: NodeIndex) -> Result<(), CommandError> {
        let branch = self
            .process
            .successors(node)
            .iter()
            .copied()
            .find(|(k, _)| matches!(k, EdgeKind::Overdue(_)));
        self.emit(EventKind::SlaBreached {
            step: active.step.clone(),
            token: active.token,
            escalated: branch.is_some(),
        });
        match branch {
            Some((kind, _)) => self.follow(node, kind),
            None => Ok(()),
        }
    }

    fn fire_timeout(&mut self, active: &ActiveStep, node: NodeIndex) -> Result<(), CommandError> {
        let Some((kind, _)) = self
            .process
            .successors(node)
            .iter()
            .copied()
            .find(|(k, _)| matches!(k, EdgeKind::Timeout(_)))
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
            NodeKind::Task(task) => {
                let token = self.state.next_token();
                self.emit(EventKind::StepActivated {
                    step: step(),
                    token,
                    due_at: task.due.map(|d| self.now + d.to_chrono()),
                    timeout_at: task.after.map(|d| self.now + d.to_chrono()),
                });
                Ok(())
            }
            NodeKind::Approval(gate) => {
                let token = self.state.next_token();
                self.emit(EventKind::StepActivated {
                    step: step(),
                    token,
                    due_at: gate.due.map(|d| self.now + d.to_chrono()),
                    timeout_at: None,
                });
                Ok(())
            }
            NodeKind::Decision(decision) => {
                let mut chosen = None;
                for (index, condition) in decision.conditions.iter().enumerate() {
                    let holds = condition.evaluate(|f| self.field_value(f)).map_err(|e| {
                        CommandError::DecisionFailed {
                            step: step(),
                            reason: e.reason,
                        }
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
            NodeKind::Split(_) => {
                let branches: Vec<NodeIndex> = process
                    .successors(node)
                    .iter()
                    .filter_map(|&(k, t)| (k == EdgeKind::Branch).then_some(t))
                    .collect();
                self.emit(EventKind::BranchesStarted {
                    step: step(),
                    branches: branches.len() as u32,
                });
                for branch in branches {
                    self.enter(branch)?;
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

    /// The active step `step`, if the actor may work on it.
    fn workable(&self, step: &StepId) -> Result<&ActiveStep, CommandError> {
        let node = self.node(step)?;
        let Some(active) = self.state.active_step(step) else {
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
        let role = effective_role(self.process, node, active);
        if let Some(role) = role
            && !self.actor().holds(role)
        {
            return Err(CommandError::NotAuthorized {
                actor: self.actor().id.clone(),
                step: step.clone(),
                role: role.clone(),
            });
        }
        // An assignment makes a task one person's work; a gate stays open to every
        // approver of its role, or a gate needing two approvals could never pass.
        let is_task = matches!(self.process.node(node).kind, NodeKind::Task(_));
        if let Some(assignee) = &active.assignee
            && is_task
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

/// The role that may act on an active step: its transfer target, or the SOP's role.
pub(crate) fn effective_role<'p>(
    process: &'p Process,
    node: NodeIndex,
    active: &'p ActiveStep,
) -> Option<&'p RoleId> {
    if let Some(role) = &active.transferred_to {
        return Some(role);
    }
    match &process.node(node).kind {
        NodeKind::Task(task) => Some(&task.role),
        NodeKind::Approval(gate) => Some(&gate.by),
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
