//! Checking a stored history against the process it runs on: a damaged history is an
//! error, never a stuck case.
//!
//! [`CaseState::apply`] never refuses an event (events are facts), so an event that names
//! a step the process does not have, or a token that is not active, folds into a state no
//! command can move on. [`check_history`] replays the events and stops at the first one
//! that does not fit, with its `seq` and what is wrong.

use crate::graph::{EdgeKind, NodeKind, Process};
use crate::model::{FieldId, SopId, StepId};

use super::event::{Event, EventKind, TokenId};
use super::state::{CaseState, CaseStatus};

/// What kind of step an event needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// A task or an approval gate: something that is activated and finished.
    Activity,
    /// A task.
    Task,
    /// An approval gate.
    Gate,
    /// A decision.
    Decision,
    /// A parallel split.
    Split,
}

impl StepKind {
    fn describe(self) -> &'static str {
        match self {
            StepKind::Activity => "a task or an approval gate",
            StepKind::Task => "a task",
            StepKind::Gate => "an approval gate",
            StepKind::Decision => "a decision",
            StepKind::Split => "a parallel split",
        }
    }

    fn admits(self, kind: &NodeKind) -> bool {
        matches!(
            (self, kind),
            (
                StepKind::Activity,
                NodeKind::Task(_) | NodeKind::Approval(_)
            ) | (StepKind::Task, NodeKind::Task(_))
                | (StepKind::Gate, NodeKind::Approval(_))
                | (StepKind::Decision, NodeKind::Decision(_))
                | (StepKind::Split, NodeKind::Split(_))
        )
    }
}

/// Why an event does not fit the history before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryProblem {
    /// Events are not numbered 1, 2, 3 …
    #[error("it has seq {found} where {expected} was expected")]
    OutOfSequence {
        /// The `seq` the position calls for.
        expected: u64,
        /// The event's own.
        found: u64,
    },
    /// The first event does not start the case.
    #[error("the case does not start with `case_started`")]
    NotStarted,
    /// A second `case_started`.
    #[error("the case was already started")]
    StartedTwice,
    /// The case starts on another SOP version than the process checked against.
    #[error(
        "the case starts on `{sop}` version {version}, not on `{expected}` version {expected_version}"
    )]
    OtherProcess {
        /// The SOP the event names.
        sop: SopId,
        /// Its version.
        version: u32,
        /// The process's SOP.
        expected: SopId,
        /// The process's version.
        expected_version: u32,
    },
    /// The event names a step the process does not have.
    #[error("it names the step `{step}`, which the SOP does not have")]
    UnknownStep {
        /// The step named.
        step: StepId,
    },
    /// The step exists but is of another kind than the event needs.
    #[error("it needs `{step}` to be {}", needs.describe())]
    WrongKind {
        /// The step named.
        step: StepId,
        /// What it should be.
        needs: StepKind,
    },
    /// The event acts on an activation that is not active.
    #[error("step `{step}` is not active with token {token}")]
    NotActive {
        /// The step named.
        step: StepId,
        /// The token named.
        token: TokenId,
    },
    /// The event names an activation that is not active.
    #[error("no step is active with token {token}")]
    TokenNotActive {
        /// The token named.
        token: TokenId,
    },
    /// A step activation whose token is not the next one.
    #[error("it activates `{step}` with token {token}, but the next token is {next}")]
    TokenOutOfOrder {
        /// The step named.
        step: StepId,
        /// The token named.
        token: TokenId,
        /// The token the case gives next.
        next: TokenId,
    },
    /// The event moves a step along a path its SOP does not give it: a cancellation of a
    /// step without `on_cancel`, an escalation of one without an escalation path.
    #[error("it takes step `{step}` along a `{path}` path, which the SOP does not give it")]
    NoSuchPath {
        /// The step named.
        step: StepId,
        /// The path: `cancelled` or `escalated`.
        path: &'static str,
    },
    /// A branch reached a join nobody waits at.
    #[error("no branches of the split `{split}` are pending")]
    NoPendingJoin {
        /// The split named.
        split: StepId,
    },
    /// The event sets a field the process does not have.
    #[error("it sets the field `{field}`, which the SOP does not have")]
    UnknownField {
        /// The field named.
        field: FieldId,
    },
    /// A migration that does not start from the version the case runs on, or does not
    /// lead to the version checked against.
    #[error(
        "it moves the case from version {from} to version {to}, but the case runs on version {on} and is checked against version {checked}"
    )]
    MigrationMismatch {
        /// The version the event moves from.
        from: u32,
        /// The version it moves to.
        to: u32,
        /// The version the case runs on before it.
        on: u32,
        /// The version of the process checked against.
        checked: u32,
    },
    /// A migration to a version whose SOP is not at hand to check against.
    #[error("it moves the case to version {version}, which is not available")]
    VersionUnavailable {
        /// The version moved to.
        version: u32,
    },
    /// Work on a case that is not open, or an end of a case that is.
    #[error("the case is {status}")]
    WrongStatus {
        /// What the case is at that point.
        status: &'static str,
    },
}

/// The first event of a history that does not fit the process or the events before it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {seq} (`{event}`) does not fit: {problem}")]
pub struct HistoryError {
    /// The event's `seq`.
    pub seq: u64,
    /// Its kind, as in its JSON `type`.
    pub event: &'static str,
    /// What is wrong.
    pub problem: HistoryProblem,
}

/// Replays `events` on `process`, checking each against the state before it: they are
/// numbered from 1, the first starts a case on this process, every step, token and field
/// they name exists and is in the state the event implies (a `step_completed` names a task
/// that is active with that token, a `branch_joined` a split with pending branches, a
/// `case_reopened` a closed case). Returns the state, or the first event that does not
/// fit.
///
/// Pure: it reads nothing but its arguments, so a store, a CLI or a test can call it on
/// any history.
pub fn check_history(process: &Process, events: &[Event]) -> Result<CaseState, HistoryError> {
    check_history_from(process, CaseState::new(), events)
}

/// [`check_history`] for the events that follow `state` (a snapshot of the case after its
/// first `state.version()` events, or a state the caller holds): checks each against the
/// state before it, numbered on from `state.version() + 1`, and returns the state after
/// the last.
pub fn check_history_from(
    process: &Process,
    mut state: CaseState,
    events: &[Event],
) -> Result<CaseState, HistoryError> {
    for event in events {
        check_next(process, &state, event)?;
        state.apply(event);
    }
    Ok(state)
}

/// [`check_history`] for a case that may have moved onto newer versions of its SOP
/// (`case_migrated`): `process_of(version)` gives the process of each version the case ran
/// on, and every event is checked against the version the case ran on when it happened.
/// Returns the state after the last event.
pub fn check_history_across<'p>(
    process_of: impl Fn(u32) -> Option<&'p Process>,
    events: &[Event],
) -> Result<CaseState, HistoryError> {
    let fail = |event: &Event, problem| HistoryError {
        seq: event.seq,
        event: event.kind.name(),
        problem,
    };
    let mut state = CaseState::new();
    let mut process: Option<&Process> = None;
    for event in events {
        let version = match &event.kind {
            EventKind::CaseStarted { version, .. } if process.is_none() => Some(*version),
            EventKind::CaseMigrated { to_version, .. } => Some(*to_version),
            _ => None,
        };
        if let Some(version) = version {
            process = Some(
                process_of(version)
                    .ok_or_else(|| fail(event, HistoryProblem::VersionUnavailable { version }))?,
            );
        }
        let Some(process) = process else {
            return Err(fail(event, HistoryProblem::NotStarted));
        };
        check_next(process, &state, event)?;
        state.apply(event);
    }
    Ok(state)
}

/// The versions of its SOP a history runs on: the one it starts on and every one it moved
/// to, in order.
pub fn versions_of(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::CaseStarted { version, .. } => Some(*version),
            EventKind::CaseMigrated { to_version, .. } => Some(*to_version),
            _ => None,
        })
        .collect()
}

/// Checks that `event` fits `process` right after `state` (it is event `state.version() +
/// 1`), without applying it.
pub(crate) fn check_next(
    process: &Process,
    state: &CaseState,
    event: &Event,
) -> Result<(), HistoryError> {
    check_event(process, state, state.version() + 1, event).map_err(|problem| HistoryError {
        seq: event.seq,
        event: event.kind.name(),
        problem,
    })
}

fn check_event(
    process: &Process,
    state: &CaseState,
    expected: u64,
    event: &Event,
) -> Result<(), HistoryProblem> {
    if event.seq != expected {
        return Err(HistoryProblem::OutOfSequence {
            expected,
            found: event.seq,
        });
    }
    match &event.kind {
        EventKind::CaseStarted {
            sop,
            version,
            fields,
            ..
        } => {
            if expected != 1 {
                return Err(HistoryProblem::StartedTwice);
            }
            if sop != process.id() || *version != process.version() {
                return Err(HistoryProblem::OtherProcess {
                    sop: sop.clone(),
                    version: *version,
                    expected: process.id().clone(),
                    expected_version: process.version(),
                });
            }
            return known_fields(process, fields.keys());
        }
        _ if expected == 1 => return Err(HistoryProblem::NotStarted),
        _ => {}
    }
    match &event.kind {
        EventKind::CaseStarted { .. } => Ok(()),
        EventKind::StepActivated { step, token, .. } => {
            open(state)?;
            step_of(process, step, StepKind::Activity)?;
            let next = state.next_token();
            if *token != next {
                return Err(HistoryProblem::TokenOutOfOrder {
                    step: step.clone(),
                    token: *token,
                    next,
                });
            }
            Ok(())
        }
        EventKind::StepAssigned { step, token, .. }
        | EventKind::StepTransferred { step, token, .. }
        | EventKind::StepPostponed { step, token, .. }
        | EventKind::SlaBreached { step, token, .. }
        | EventKind::TimerFired { step, token } => {
            active(process, state, step, *token, StepKind::Activity)
        }
        EventKind::StepCompleted { step, token }
        | EventKind::SubCaseRequested { step, token, .. }
        | EventKind::SubCaseStarted { step, token, .. }
        | EventKind::SubCaseFinished { step, token, .. } => {
            active(process, state, step, *token, StepKind::Task)
        }
        // A sub-case's record that its parent heard: nothing of its own process to check.
        EventKind::ParentInformed { .. } => Ok(()),
        EventKind::StepEscalated { step, token, .. } => {
            active(process, state, step, *token, StepKind::Activity)?;
            has_path(
                process,
                step,
                &[EdgeKind::Escalate, EdgeKind::Overdue],
                "escalated",
            )
        }
        EventKind::StepCancelled { step, token, .. } => {
            active(process, state, step, *token, StepKind::Activity)?;
            has_path(process, step, &[EdgeKind::Cancelled], "cancelled")
        }
        EventKind::ApprovalGranted { step, token, .. }
        | EventKind::GateApproved { step, token }
        | EventKind::GateRejected { step, token, .. } => {
            active(process, state, step, *token, StepKind::Gate)
        }
        EventKind::FieldsUpdated { fields } => known_fields(process, fields.keys()),
        EventKind::DecisionTaken { step, target, .. } => {
            open(state)?;
            step_of(process, step, StepKind::Decision)?;
            if process.step(target).is_none() {
                return Err(HistoryProblem::UnknownStep {
                    step: target.clone(),
                });
            }
            Ok(())
        }
        EventKind::BranchesStarted { step, .. } => {
            open(state)?;
            step_of(process, step, StepKind::Split)
        }
        EventKind::InstancesStarted { step, .. } => {
            open(state)?;
            step_of(process, step, StepKind::Task)
        }
        EventKind::WorkWithdrawn { steps, joins, .. } => {
            open(state)?;
            for withdrawn in steps {
                active(
                    process,
                    state,
                    &withdrawn.step,
                    withdrawn.token,
                    StepKind::Activity,
                )?;
            }
            for split in joins {
                if !state.pending_joins().iter().any(|j| j.split == *split) {
                    return Err(HistoryProblem::NoPendingJoin {
                        split: split.clone(),
                    });
                }
            }
            Ok(())
        }
        EventKind::BranchJoined { split } => {
            open(state)?;
            step_of(process, split, StepKind::Split)?;
            if state.pending_joins().iter().any(|j| j.split == *split) {
                Ok(())
            } else {
                Err(HistoryProblem::NoPendingJoin {
                    split: split.clone(),
                })
            }
        }
        EventKind::SlaWarned { step, token }
        | EventKind::SlaLevelReached { step, token, .. }
        | EventKind::SlaRescheduled { step, token, .. } => match (step, token) {
            (Some(step), Some(token)) => active(process, state, step, *token, StepKind::Activity),
            (None, None) => {
                open(state)?;
                if state.case_clock().is_some() {
                    Ok(())
                } else {
                    Err(HistoryProblem::WrongStatus {
                        status: "without a service level",
                    })
                }
            }
            _ => Err(HistoryProblem::WrongStatus {
                status: "recording a step's service level without its activation",
            }),
        },
        EventKind::CaseSlaStarted { .. } => {
            open(state)?;
            match process.case_sla() {
                Some(_) if state.case_clock().is_none() => Ok(()),
                _ => Err(HistoryProblem::WrongStatus {
                    status: "not one whose SLA can start",
                }),
            }
        }
        EventKind::CaseSlaBreached => match state.case_clock() {
            Some(_) => open(state),
            None => Err(HistoryProblem::WrongStatus {
                status: "without a service level",
            }),
        },
        EventKind::CasePaused { .. } => {
            open(state)?;
            if state.is_paused() {
                Err(HistoryProblem::WrongStatus {
                    status: "already paused",
                })
            } else {
                Ok(())
            }
        }
        EventKind::CaseResumed => {
            if state.is_paused() {
                Ok(())
            } else {
                Err(HistoryProblem::WrongStatus {
                    status: "not paused",
                })
            }
        }
        EventKind::NoteAdded { step, .. } => match step {
            Some(step) if process.step(step).is_none() => {
                Err(HistoryProblem::UnknownStep { step: step.clone() })
            }
            _ => Ok(()),
        },
        EventKind::CaseClosed | EventKind::CaseCancelled { .. } => open(state),
        EventKind::TimeCorrected { wrong, .. } => match state.last_event_at() {
            Some(last) if last == *wrong && event.at < last => Ok(()),
            _ => Err(HistoryProblem::WrongStatus {
                status: "not ahead of its clock",
            }),
        },
        EventKind::CaseMigrated {
            from_version,
            to_version,
            renamed,
            timers,
            ..
        } => {
            open(state)?;
            let on = state.sop().map_or(0, |(_, v)| v);
            if on != *from_version || *to_version != process.version() || on >= *to_version {
                return Err(HistoryProblem::MigrationMismatch {
                    from: *from_version,
                    to: *to_version,
                    on,
                    checked: process.version(),
                });
            }
            for rename in renamed {
                if process.step(&rename.to).is_none() {
                    return Err(HistoryProblem::UnknownStep {
                        step: rename.to.clone(),
                    });
                }
            }
            for token in timers.iter().filter_map(|t| t.token) {
                if !state.active_steps().iter().any(|a| a.token == token) {
                    return Err(HistoryProblem::TokenNotActive { token });
                }
            }
            // What the case holds after the move must exist in the new version.
            let mut after = state.clone();
            after.apply(event);
            for active in after.active_steps() {
                step_of(process, &active.step, StepKind::Activity)?;
            }
            for join in after.pending_joins() {
                step_of(process, &join.split, StepKind::Split)?;
            }
            Ok(())
        }
        EventKind::CaseReopened { .. } => match state.status() {
            CaseStatus::Closed | CaseStatus::Cancelled => Ok(()),
            other => Err(HistoryProblem::WrongStatus {
                status: other.words(),
            }),
        },
    }
}

fn open(state: &CaseState) -> Result<(), HistoryProblem> {
    match state.status() {
        CaseStatus::Open => Ok(()),
        other => Err(HistoryProblem::WrongStatus {
            status: other.words(),
        }),
    }
}

fn step_of(process: &Process, step: &StepId, needs: StepKind) -> Result<(), HistoryProblem> {
    let Some(node) = process.step(step) else {
        return Err(HistoryProblem::UnknownStep { step: step.clone() });
    };
    if needs.admits(&process.node(node).kind) {
        Ok(())
    } else {
        Err(HistoryProblem::WrongKind {
            step: step.clone(),
            needs,
        })
    }
}

fn active(
    process: &Process,
    state: &CaseState,
    step: &StepId,
    token: TokenId,
    needs: StepKind,
) -> Result<(), HistoryProblem> {
    step_of(process, step, needs)?;
    if state
        .active_steps()
        .iter()
        .any(|a| a.step == *step && a.token == token)
    {
        Ok(())
    } else {
        Err(HistoryProblem::NotActive {
            step: step.clone(),
            token,
        })
    }
}

/// Checks that `step` has an edge of one of `kinds`, the path an event took it along.
fn has_path(
    process: &Process,
    step: &StepId,
    kinds: &[EdgeKind],
    path: &'static str,
) -> Result<(), HistoryProblem> {
    let node = process
        .step(step)
        .ok_or_else(|| HistoryProblem::UnknownStep { step: step.clone() })?;
    if kinds
        .iter()
        .any(|kind| process.successor(node, *kind).is_some())
    {
        Ok(())
    } else {
        Err(HistoryProblem::NoSuchPath {
            step: step.clone(),
            path,
        })
    }
}

fn known_fields<'a>(
    process: &Process,
    mut fields: impl Iterator<Item = &'a FieldId>,
) -> Result<(), HistoryProblem> {
    match fields.find(|f| process.field(f).is_none()) {
        Some(field) => Err(HistoryProblem::UnknownField {
            field: field.clone(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::engine::{Action, Actor, Command, handle};
    use crate::model::RoleId;

    fn process() -> Process {
        let sop = crate::parse::parse_sop(
            "two.yaml",
            "id: two
version: 1
title: Two steps
department: Customer Service
roles: { agent: Support team member }
steps:
  - { id: identify, title: Identify the customer, role: agent }
  - { id: answer, title: Answer, role: agent, end: true }
",
        )
        .unwrap();
        crate::graph::compile(&sop).process.unwrap()
    }

    /// A started case with `identify` active (token 0), then completed.
    fn history(process: &Process) -> Vec<Event> {
        let ana = Actor::new("ana", [RoleId::new("agent").unwrap()]);
        let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
        let mut state = CaseState::new();
        let mut events = Vec::new();
        for command in [
            Command::new(
                "c1",
                ana.clone(),
                Action::Start {
                    case: "T-1".into(),
                    fields: Default::default(),
                },
            ),
            Command::new(
                "c2",
                ana,
                Action::Complete {
                    step: "identify".parse().unwrap(),
                    fields: Default::default(),
                    item: None,
                },
            ),
        ] {
            for event in handle(process, &state, command, now).unwrap() {
                state.apply(&event);
                events.push(event);
            }
        }
        events
    }

    fn completion(events: &[Event]) -> usize {
        events
            .iter()
            .position(|e| matches!(e.kind, EventKind::StepCompleted { .. }))
            .unwrap()
    }

    #[test]
    fn a_whole_history_replays_to_its_state() {
        let process = process();
        let events = history(&process);
        let state = check_history(&process, &events).unwrap();
        assert_eq!(state, CaseState::replay(&events));
    }

    #[test]
    fn a_missing_step_is_an_error_naming_the_event() {
        let process = process();
        let mut events = history(&process);
        let at = completion(&events);
        events[at].kind = EventKind::StepCompleted {
            step: "idzntify".parse().unwrap(),
            token: 0,
        };
        let error = check_history(&process, &events).unwrap_err();
        assert_eq!(error.seq, events[at].seq);
        assert_eq!(error.event, "step_completed");
        assert_eq!(
            error.problem,
            HistoryProblem::UnknownStep {
                step: "idzntify".parse().unwrap()
            }
        );
        assert_eq!(
            error.to_string(),
            format!(
                "event {} (`step_completed`) does not fit: it names the step `idzntify`, which the SOP does not have",
                events[at].seq
            )
        );
    }

    #[test]
    fn a_cancellation_the_sop_does_not_allow_is_an_error() {
        let process = process();
        let mut events = history(&process);
        let at = completion(&events);
        let EventKind::StepCompleted { step, token } = events[at].kind.clone() else {
            unreachable!("completion() finds a completion")
        };
        events[at].kind = EventKind::StepCancelled {
            step: step.clone(),
            token,
            reason: "not wanted".to_owned(),
        };
        events.truncate(at + 1);
        let error = check_history(&process, &events).unwrap_err();
        assert_eq!(error.seq, events[at].seq);
        assert_eq!(
            error.problem,
            HistoryProblem::NoSuchPath {
                step,
                path: "cancelled"
            }
        );
    }

    #[test]
    fn a_token_that_is_not_active_is_an_error() {
        let process = process();
        let mut events = history(&process);
        let at = completion(&events);
        events[at].kind = EventKind::StepCompleted {
            step: "identify".parse().unwrap(),
            token: 7,
        };
        let error = check_history(&process, &events).unwrap_err();
        assert_eq!(
            (error.seq, error.problem),
            (
                events[at].seq,
                HistoryProblem::NotActive {
                    step: "identify".parse().unwrap(),
                    token: 7
                }
            )
        );
    }

    #[test]
    fn an_activation_of_a_missing_step_is_an_error() {
        let process = process();
        let mut events = history(&process);
        events[1].kind = EventKind::StepActivated {
            item: None,
            step: "idzntify".parse().unwrap(),
            token: 0,
            due_at: None,
            timeout_at: None,
            warn_at: None,
            levels: Vec::new(),
            pausable: false,
        };
        let error = check_history(&process, &events).unwrap_err();
        assert_eq!(
            (error.seq, error.problem),
            (
                2,
                HistoryProblem::UnknownStep {
                    step: "idzntify".parse().unwrap()
                }
            )
        );
    }

    #[test]
    fn a_history_on_another_sop_version_is_an_error() {
        let process = process();
        let mut events = history(&process);
        if let EventKind::CaseStarted { version, .. } = &mut events[0].kind {
            *version = 2;
        }
        let error = check_history(&process, &events).unwrap_err();
        assert_eq!(error.seq, 1);
        assert!(matches!(
            error.problem,
            HistoryProblem::OtherProcess { version: 2, .. }
        ));
    }
}
