//! What one case's history says, read in one pass over its events: the facts every
//! measure of the report is computed from.

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;

use crate::engine::{CaseId, Event, EventKind, FieldValues, TokenId};
use crate::graph::{CaseMoment, PathTaken, Process};
use crate::model::{SopId, StepId};
use crate::render::{Highlight, Transition};

use super::MetricsError;

/// Where a case stands at the end of its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Open,
    Closed,
    Cancelled,
}

/// One activation of a step (one token).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Activation {
    pub step: StepId,
    /// The item, for a step run once per item: its items are one round, not rework.
    pub item: Option<String>,
    pub activated: DateTime<Utc>,
    /// The first time someone took or was given it.
    pub claimed: Option<DateTime<Utc>>,
    /// When it was done: completed, approved or rejected.
    pub completed: Option<DateTime<Utc>>,
    /// When it stopped being active for any reason (done, escalated, timed out,
    /// withdrawn by a cancel).
    pub ended: Option<DateTime<Utc>>,
    pub has_due: bool,
    pub breached: bool,
}

/// Everything a report counts of one case, read from its events and the process of its
/// SOP version: when it opened and closed, each activation of a step, its field values at
/// the end, and the edges it took.
///
/// [`Accumulator::push`](super::Accumulator::push) reads them from the events each time;
/// a store can keep them instead ([`CaseFacts::encode`]) so that a report reads one small
/// record per case ([`Accumulator::push_facts`](super::Accumulator::push_facts)). Both
/// give the same figures.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFacts {
    pub(super) case: CaseId,
    pub(super) sop: SopId,
    pub(super) version: u32,
    pub(super) opened: DateTime<Utc>,
    /// Its last close, if it is closed now.
    pub(super) closed: Option<DateTime<Utc>>,
    pub(super) outcome: Outcome,
    /// The values at the end of the history of the fields a report reads (choice
    /// fields, and those of mean and NPS KPIs).
    pub(super) fields: FieldValues,
    /// Activations in the order they happened.
    pub(super) activations: Vec<Activation>,
    pub(super) escalated: bool,
    pub(super) reopened: bool,
    /// Whether the case's own service level ran, and whether it was breached.
    pub(super) case_sla: Option<bool>,
    /// The edges of the process the case took, in order ([`Highlight::transitions`]).
    pub(super) walk: Vec<Transition>,
}

impl CaseFacts {
    /// Reads a case's events, in order, with the process of the SOP version it runs on.
    ///
    /// Fails with [`MetricsError::NotStarted`] when they do not start with `case_started`.
    pub fn read(process: &Process, events: &[Event]) -> Result<CaseFacts, MetricsError> {
        let mut facts = CaseFacts::fold(events).ok_or(MetricsError::NotStarted)?;
        facts.walk = Highlight::transitions(process, events);
        // Only what a report reads, so that kept facts stay small and equal these.
        facts
            .fields
            .retain(|field, _| super::kept::reported_field(process, field));
        Ok(facts)
    }

    /// The case the facts are of.
    pub fn case(&self) -> &CaseId {
        &self.case
    }

    /// The SOP version the case runs on.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The facts of the events without the walk; `None` when they do not start with
    /// `case_started`.
    fn fold(events: &[Event]) -> Option<CaseFacts> {
        let first = events.first()?;
        let EventKind::CaseStarted {
            case,
            sop,
            version,
            fields,
            ..
        } = &first.kind
        else {
            return None;
        };
        let mut facts = CaseFacts {
            case: case.clone(),
            sop: sop.clone(),
            version: *version,
            opened: first.at,
            closed: None,
            outcome: Outcome::Open,
            fields: fields.clone(),
            activations: Vec::new(),
            escalated: false,
            reopened: false,
            case_sla: None,
            walk: Vec::new(),
        };
        // The activation of each live token: a token is unique to its step and round.
        let mut live: FxHashMap<(StepId, TokenId), usize> = FxHashMap::default();
        for event in &events[1..] {
            let at = event.at;
            match &event.kind {
                EventKind::StepActivated {
                    step,
                    token,
                    item,
                    due_at,
                    ..
                } => {
                    live.insert((step.clone(), *token), facts.activations.len());
                    facts.activations.push(Activation {
                        step: step.clone(),
                        item: item.clone(),
                        activated: at,
                        claimed: None,
                        completed: None,
                        ended: None,
                        has_due: due_at.is_some(),
                        breached: false,
                    });
                }
                EventKind::StepAssigned { step, token, .. } => {
                    if let Some(&i) = live.get(&(step.clone(), *token)) {
                        let activation = &mut facts.activations[i];
                        activation.claimed.get_or_insert(at);
                    }
                }
                EventKind::StepCompleted { step, token }
                | EventKind::GateApproved { step, token }
                | EventKind::GateRejected { step, token, .. } => {
                    if let Some(i) = live.remove(&(step.clone(), *token)) {
                        let activation = &mut facts.activations[i];
                        activation.completed = Some(at);
                        activation.ended = Some(at);
                    }
                }
                EventKind::WorkWithdrawn { steps, .. } => {
                    for withdrawn in steps {
                        if let Some(i) = live.remove(&(withdrawn.step.clone(), withdrawn.token)) {
                            facts.activations[i].ended = Some(at);
                        }
                    }
                }
                EventKind::StepEscalated { step, token, .. }
                | EventKind::StepCancelled { step, token, .. }
                | EventKind::TimerFired { step, token } => {
                    if matches!(event.kind, EventKind::StepEscalated { .. }) {
                        facts.escalated = true;
                    }
                    if let Some(i) = live.remove(&(step.clone(), *token)) {
                        facts.activations[i].ended = Some(at);
                    }
                }
                EventKind::SlaBreached {
                    step,
                    token,
                    escalated,
                } => {
                    let key = (step.clone(), *token);
                    if let Some(&i) = live.get(&key) {
                        facts.activations[i].breached = true;
                        if *escalated {
                            facts.escalated = true;
                            live.remove(&key);
                            facts.activations[i].ended = Some(at);
                        }
                    }
                }
                EventKind::SlaLevelReached {
                    step: Some(step),
                    token: Some(token),
                    escalated: true,
                    ..
                } => {
                    facts.escalated = true;
                    if let Some(i) = live.remove(&(step.clone(), *token)) {
                        facts.activations[i].ended = Some(at);
                    }
                }
                EventKind::FieldsUpdated { fields } => {
                    for (field, value) in fields {
                        facts.fields.insert(field.clone(), value.clone());
                    }
                }
                EventKind::CaseSlaStarted {
                    due_at: Some(_), ..
                } => {
                    facts.case_sla.get_or_insert(false);
                }
                EventKind::CaseSlaBreached => facts.case_sla = Some(true),
                EventKind::CaseClosed => {
                    facts.outcome = Outcome::Closed;
                    facts.closed = Some(at);
                    end_all(&mut facts.activations, &mut live, at);
                }
                EventKind::CaseCancelled { .. } => {
                    facts.outcome = Outcome::Cancelled;
                    facts.closed = None;
                    end_all(&mut facts.activations, &mut live, at);
                }
                EventKind::CaseReopened { .. } => {
                    facts.outcome = Outcome::Open;
                    facts.closed = None;
                    facts.reopened = true;
                }
                _ => {}
            }
        }
        Some(facts)
    }

    /// When the case reached a point: the first time at or after `not_before` for a step,
    /// the last close for `closed`.
    pub(super) fn moment(
        &self,
        moment: &CaseMoment,
        not_before: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match moment {
            CaseMoment::Opened => Some(self.opened),
            CaseMoment::Closed => self.closed.filter(|&at| at >= not_before),
            CaseMoment::Activated(step) => self
                .activations
                .iter()
                .filter(|a| a.step == *step && a.activated >= not_before)
                .map(|a| a.activated)
                .min(),
            CaseMoment::Completed(step) => self
                .activations
                .iter()
                .filter(|a| a.step == *step)
                .filter_map(|a| a.completed)
                .filter(|&at| at >= not_before)
                .min(),
        }
    }

    /// Whether the case took a path.
    pub(super) fn took(&self, path: &PathTaken) -> bool {
        match path {
            PathTaken::Escalated => self.escalated,
            PathTaken::Reopened => self.reopened,
            PathTaken::Reworked => self.reworked(),
            PathTaken::Reached(step) => self.activations.iter().any(|a| a.step == *step),
        }
    }

    /// Whether a step was activated more than once.
    pub(super) fn reworked(&self) -> bool {
        let mut seen: Vec<&StepId> = Vec::with_capacity(self.activations.len());
        for activation in &self.activations {
            if seen.contains(&&activation.step) {
                return true;
            }
            seen.push(&activation.step);
        }
        false
    }

    /// Whether the case is finished (closed or cancelled): its figures will not change.
    pub fn is_finished(&self) -> bool {
        self.outcome != Outcome::Open
    }
}

/// Ends every live activation at `at` (the case closed or was cancelled).
fn end_all(
    activations: &mut [Activation],
    live: &mut FxHashMap<(StepId, TokenId), usize>,
    at: DateTime<Utc>,
) {
    for (_, i) in live.drain() {
        activations[i].ended.get_or_insert(at);
    }
}
