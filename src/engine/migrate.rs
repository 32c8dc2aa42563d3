//! Moving an open case onto a newer version of its SOP.
//!
//! Pure like [`handle`](super::handle): the case's state, the two processes and `now` in,
//! one `case_migrated` event out, or the reason the case cannot move (and then it stays on
//! its version and finishes there). The event carries everything the move changes (step
//! ids, timers, new field values), so replaying a migrated case needs no process.

use chrono::{DateTime, TimeDelta, Utc};

use super::command::FieldValues;
use super::event::{EVENT_SCHEMA_VERSION, Event, EventKind, MigratedTimers, StepRename};
use super::handle::step_schedule;
use super::ids::{ActorId, CommandId};
use super::state::{ActiveStep, CaseState, CaseStatus};
use crate::graph::{NodeKind, Process, check_field_value};
use crate::model::{FieldId, FieldValue, SopId, StepId};

/// Why an open case cannot move onto the new version. The case is left as it was.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// The case does not run on the old process given.
    #[error("the case runs `{case_sop}` version {case_version}, not `{sop}` version {version}")]
    WrongProcess {
        /// The case's SOP.
        case_sop: SopId,
        /// The case's version.
        case_version: u32,
        /// The old process's SOP.
        sop: SopId,
        /// The old process's version.
        version: u32,
    },
    /// The new process is another SOP, or not a newer version.
    #[error(
        "`{sop}` version {to} cannot replace `{case_sop}` version {from}: it must be a newer version of the same SOP"
    )]
    NotNewer {
        /// The case's SOP.
        case_sop: SopId,
        /// The case's version.
        from: u32,
        /// The new process's SOP.
        sop: SopId,
        /// The new process's version.
        to: u32,
    },
    /// Only open cases move.
    #[error("the case is {}: it stays on version {version}", status.words())]
    NotOpen {
        /// What the case is.
        status: CaseStatus,
        /// The version it stays on.
        version: u32,
    },
    /// An active step has nowhere to go.
    #[error(
        "active step `{step}` has no step to go to in version {version}: map it under `migrate.steps` (`{step}: STEP`)"
    )]
    Unmapped {
        /// The active step.
        step: StepId,
        /// The new version.
        version: u32,
    },
    /// An active step would become a step of another kind.
    #[error(
        "active step `{step}` is {was}, but `{target}` in version {version} is {now}: work in progress cannot change kind"
    )]
    KindChanged {
        /// The active step.
        step: StepId,
        /// Where it would go.
        target: StepId,
        /// What it is.
        was: &'static str,
        /// What its target is.
        now: &'static str,
        /// The new version.
        version: u32,
    },
    /// Two active steps would become the same one.
    #[error(
        "active steps `{first}` and `{second}` would both become `{target}` in version {version}"
    )]
    Merged {
        /// One active step.
        first: StepId,
        /// The other.
        second: StepId,
        /// Their common target.
        target: StepId,
        /// The new version.
        version: u32,
    },
    /// A gate already has as many approvals as its new version needs, or more: the next
    /// approval would not decide it as people expect.
    #[error(
        "gate `{step}` already has {approvals} approval(s) and `{target}` in version {version} needs {needs}: decide it on the current version first"
    )]
    Overapproved {
        /// The active gate.
        step: StepId,
        /// Where it would go.
        target: StepId,
        /// Approvals it has.
        approvals: usize,
        /// Approvals the new gate needs.
        needs: u32,
        /// The new version.
        version: u32,
    },
    /// An approval already given would break the new gate's four-eyes rule.
    #[error(
        "{approver} approved `{step}` but performed `{reviewed}`, which `{target}` reviews in version {version}"
    )]
    FourEyes {
        /// Who approved.
        approver: ActorId,
        /// The active gate.
        step: StepId,
        /// The step they performed.
        reviewed: StepId,
        /// Where the gate would go.
        target: StepId,
        /// The new version.
        version: u32,
    },
    /// The case waits inside a parallel split that the new version lays out differently.
    #[error("the case waits inside parallel split `{split}`, which {problem} in version {version}")]
    Split {
        /// The split.
        split: StepId,
        /// What is different.
        problem: String,
        /// The new version.
        version: u32,
    },
    /// A field holds a value the new version does not accept.
    #[error("field `{field}` holds {value}, which version {version} does not accept: {problem}")]
    FieldValue {
        /// The field.
        field: FieldId,
        /// Its value, as written.
        value: String,
        /// Why it does not fit.
        problem: String,
        /// The new version.
        version: u32,
    },
    /// The case has an event later than the move's time.
    #[error("the case's latest event is at {last}, after the move's time {now}")]
    Backwards {
        /// The move's time.
        now: DateTime<Utc>,
        /// The case's latest event.
        last: DateTime<Utc>,
    },
    /// A timer counted again under the new version would fall beyond what the engine
    /// accepts.
    #[error("the timers of {what} under version {version} fall too far in the future")]
    TimerTooLate {
        /// Whose timers.
        what: String,
        /// The new version.
        version: u32,
    },
}

impl MigrationError {
    /// A short, stable name for the reason, for reports and scripts (`unmapped`,
    /// `kind-changed`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            MigrationError::WrongProcess { .. } => "wrong-process",
            MigrationError::NotNewer { .. } => "not-newer",
            MigrationError::NotOpen { .. } => "not-open",
            MigrationError::Unmapped { .. } => "unmapped",
            MigrationError::KindChanged { .. } => "kind-changed",
            MigrationError::Merged { .. } => "merged",
            MigrationError::Overapproved { .. } => "overapproved",
            MigrationError::FourEyes { .. } => "four-eyes",
            MigrationError::Split { .. } => "split",
            MigrationError::FieldValue { .. } => "field-value",
            MigrationError::TimerTooLate { .. } => "timer-too-late",
            MigrationError::Backwards { .. } => "time-went-backwards",
        }
    }
}

/// Where the work of `old_step`, of version `from` of the SOP, goes in `new`: the target
/// its `migrate:` plan names, or the step that says it was `renamed_from` it, when the
/// plan is from that version (by default, the one before `new`); or else the step with
/// the same id. `None` when none exists.
pub fn migration_target(new: &Process, from: u32, old_step: &StepId) -> Option<StepId> {
    let plan_from = new
        .migration()
        .map_or(new.version().saturating_sub(1), |plan| plan.from);
    let planned = (plan_from == from)
        .then(|| {
            new.migration()
                .and_then(|plan| plan.target(old_step))
                .or_else(|| new.renamed_from(old_step))
        })
        .flatten();
    match planned {
        Some(target) => Some(target.clone()),
        None => new.step(old_step).map(|_| old_step.clone()),
    }
}

/// Decides whether the open case `state`, running on `old`, can move onto `new`, and
/// returns the `case_migrated` event that moves it (sent by `actor` as command `id` at
/// `now`). A command id the case has already applied yields no event, as in
/// [`handle`](super::handle).
///
/// The case moves when every active step maps to a step of the same kind (through the new
/// version's `migrate:` plan, or by an unchanged id), no two onto the same one, approvals
/// already given still fit the new gates, the parallel splits it waits in have the same
/// number of branches, and its field values fit the new fields. Timers are counted again
/// under the new service levels from when each step became active, keeping the time they
/// were held; fields the case lacks get the new defaults and the plan's values.
pub fn migrate(
    old: &Process,
    new: &Process,
    state: &CaseState,
    id: CommandId,
    actor: ActorId,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, MigrationError> {
    if state.has_applied(&id) {
        return Ok(Vec::new());
    }
    let (case_sop, from) = match state.sop() {
        Some((sop, version)) => (sop.clone(), version),
        None => {
            return Err(MigrationError::NotOpen {
                status: state.status(),
                version: old.version(),
            });
        }
    };
    if case_sop != *old.id() || from != old.version() {
        return Err(MigrationError::WrongProcess {
            case_sop,
            case_version: from,
            sop: old.id().clone(),
            version: old.version(),
        });
    }
    if new.id() != old.id() || new.version() <= from {
        return Err(MigrationError::NotNewer {
            case_sop,
            from,
            sop: new.id().clone(),
            to: new.version(),
        });
    }
    if !state.is_open() {
        return Err(MigrationError::NotOpen {
            status: state.status(),
            version: from,
        });
    }
    if let Some(last) = state.last_event_at()
        && now < last
    {
        return Err(MigrationError::Backwards { now, last });
    }
    let to = new.version();
    let renamed = renames(old, new, from);
    let renamed_id = |step: &StepId| {
        renamed
            .iter()
            .find(|r| r.from == *step)
            .map_or_else(|| step.clone(), |r| r.to.clone())
    };

    let mut targets: Vec<(&ActiveStep, StepId)> = Vec::new();
    for active in state.active_steps() {
        let target =
            migration_target(new, from, &active.step).ok_or_else(|| MigrationError::Unmapped {
                step: active.step.clone(),
                version: to,
            })?;
        check_kind(old, new, active, &target)?;
        if let Some((first, _)) = targets.iter().find(|(_, t)| *t == target) {
            return Err(MigrationError::Merged {
                first: first.step.clone(),
                second: active.step.clone(),
                target,
                version: to,
            });
        }
        check_approvals(new, state, active, &target, &renamed_id)?;
        targets.push((active, target));
    }
    for join in state.pending_joins() {
        check_split(old, new, from, &join.split)?;
    }

    let fields = new_field_values(new, state)?;
    let value_of = |field: &FieldId| fields.get(field).or_else(|| state.fields().get(field));
    let mut timers = Vec::new();
    for (active, target) in &targets {
        let Some(step_timers) = new.step(target).and_then(|node| new.timers(node)) else {
            continue;
        };
        let held = TimeDelta::seconds(active.sla.held_secs);
        let (schedule, timeout_at) =
            step_schedule(target, step_timers, active.since, held, value_of).map_err(|_| {
                MigrationError::TimerTooLate {
                    what: format!("step `{target}`"),
                    version: to,
                }
            })?;
        timers.push(MigratedTimers {
            token: Some(active.token),
            due_at: schedule.due_at,
            warn_at: schedule.warn_at,
            levels: schedule.levels,
            timeout_at,
            pausable: step_timers.sla.as_ref().is_some_and(|sla| sla.pausable),
        });
    }
    let case_sla = match (new.case_sla(), state.started_at()) {
        (Some(case_sla), Some(started)) => {
            let since = state.case_clock().map_or(started, |clock| clock.since);
            let held = TimeDelta::seconds(state.case_clock().map_or(0, |c| c.sla.held_secs));
            let schedule = case_sla
                .sla
                .schedule(&case_sla.calendar, since, held, value_of)
                .ok_or_else(|| MigrationError::TimerTooLate {
                    what: "the case's SLA".to_owned(),
                    version: to,
                })?;
            Some(MigratedTimers {
                token: None,
                due_at: schedule.due_at,
                warn_at: schedule.warn_at,
                levels: schedule.levels,
                timeout_at: None,
                pausable: case_sla.sla.pausable,
            })
        }
        _ => None,
    };

    Ok(vec![Event {
        v: EVENT_SCHEMA_VERSION,
        seq: state.version() + 1,
        at: now,
        command: id,
        actor,
        kind: EventKind::CaseMigrated {
            from_version: from,
            to_version: to,
            renamed,
            fields,
            timers,
            case_sla,
        },
    }])
}

/// Every step of `old` whose work goes to a step with another id in `new`.
fn renames(old: &Process, new: &Process, from: u32) -> Vec<StepRename> {
    old.nodes()
        .filter_map(|(_, node)| node.step.as_ref())
        .filter_map(|step| {
            let target = migration_target(new, from, step)?;
            (target != *step).then(|| StepRename {
                from: step.clone(),
                to: target,
            })
        })
        .collect()
}

fn check_kind(
    old: &Process,
    new: &Process,
    active: &ActiveStep,
    target: &StepId,
) -> Result<(), MigrationError> {
    let was = old.step(&active.step).map(|n| &old.node(n).kind);
    let now = new.step(target).map(|n| &new.node(n).kind);
    let same = matches!(
        (was, now),
        (Some(NodeKind::Task(_)), Some(NodeKind::Task(_)))
            | (Some(NodeKind::Approval(_)), Some(NodeKind::Approval(_)))
    );
    if same {
        return Ok(());
    }
    Err(MigrationError::KindChanged {
        step: active.step.clone(),
        target: target.clone(),
        was: was
            .and_then(NodeKind::step_kind_name)
            .unwrap_or("not a step of its version"),
        now: now
            .and_then(NodeKind::step_kind_name)
            .unwrap_or("not a step"),
        version: new.version(),
    })
}

/// Approvals already given on an active gate must still fit its new version.
fn check_approvals(
    new: &Process,
    state: &CaseState,
    active: &ActiveStep,
    target: &StepId,
    renamed_id: &impl Fn(&StepId) -> StepId,
) -> Result<(), MigrationError> {
    let Some(NodeKind::Approval(gate)) = new.step(target).map(|n| &new.node(n).kind) else {
        return Ok(());
    };
    if active.approvers.is_empty() {
        return Ok(());
    }
    if active.approvers.len() >= gate.count as usize {
        return Err(MigrationError::Overapproved {
            step: active.step.clone(),
            target: target.clone(),
            approvals: active.approvers.len(),
            needs: gate.count,
            version: new.version(),
        });
    }
    for approver in &active.approvers {
        let performed = state
            .performers_of_any()
            .find(|(step, actor)| *actor == approver && gate.reviews.contains(&renamed_id(step)));
        if let Some((step, _)) = performed {
            return Err(MigrationError::FourEyes {
                approver: approver.clone(),
                step: active.step.clone(),
                reviewed: renamed_id(step),
                target: target.clone(),
                version: new.version(),
            });
        }
    }
    Ok(())
}

/// A split the case waits in must still be a split with as many branches.
fn check_split(
    old: &Process,
    new: &Process,
    from: u32,
    split: &StepId,
) -> Result<(), MigrationError> {
    let problem = |problem: String| MigrationError::Split {
        split: split.clone(),
        problem,
        version: new.version(),
    };
    let branches = |process: &Process, step: &StepId| {
        let node = process.step(step)?;
        match &process.node(node).kind {
            NodeKind::Split(split) => match &process.node(split.join).kind {
                NodeKind::Join(join) => Some(join.branches),
                _ => None,
            },
            _ => None,
        }
    };
    let Some(target) = migration_target(new, from, split) else {
        return Err(problem("does not exist".to_owned()));
    };
    match (branches(old, split), branches(new, &target)) {
        (Some(before), Some(after)) if before == after => Ok(()),
        (Some(before), Some(after)) => {
            Err(problem(format!("has {after} branches instead of {before}")))
        }
        _ => Err(problem(format!(
            "maps to `{target}`, which is not a parallel split"
        ))),
    }
}

/// The values the move gives fields the case lacks (the new defaults, then the plan's),
/// after checking that every value the case holds fits its field in the new version.
fn new_field_values(new: &Process, state: &CaseState) -> Result<FieldValues, MigrationError> {
    for (field, value) in state.fields() {
        let Some(spec) = new.field(field) else {
            // A field the new version dropped stays in the case's data, read by no one.
            continue;
        };
        check_field_value(spec, value).map_err(|problem| MigrationError::FieldValue {
            field: field.clone(),
            value: describe_value(value),
            problem,
            version: new.version(),
        })?;
    }
    let plan = new.migration();
    let mut added = FieldValues::new();
    for spec in new.fields() {
        if state.fields().contains_key(&spec.id) {
            continue;
        }
        let value = plan
            .and_then(|plan| plan.value(&spec.id))
            .or(spec.default.as_ref());
        if let Some(value) = value {
            added.insert(spec.id.clone(), value.clone());
        }
    }
    Ok(added)
}

fn describe_value(value: &FieldValue) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "a value".to_owned())
}
