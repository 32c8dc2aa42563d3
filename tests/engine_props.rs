//! Random command sequences against the seed SOPs (and a small SOP with a parallel split, an
//! approval of two and a deferred choice): whatever is sent, the executor never panics, a
//! refused command changes nothing, the accepted events replay to the live state, an open
//! case always has something to wait for, and no accepted command writes a field its
//! actor's roles do not own (field ownership).

mod common;

use std::sync::{Arc, OnceLock};

use common::{Case, mins, role, sop_file, sop_yaml};
use proptest::prelude::*;
use sopflow::engine::{self, Action, Actor, CaseStatus, CommandError, EventKind, FieldValues};
use sopflow::graph::{FieldSpec, NodeKind, Process};
use sopflow::model::{FieldId, FieldType, FieldValue, StepId};

const PARALLEL_SOP: &str = "id: props-parallel
version: 1
title: Parallel checks
department: Customer Service
roles: { agent: Support agent, lead: Team lead }
fields:
  amount: { type: number, min: 0, max: 1000, editable_by: [lead] }
  ok: { type: bool, required: true }
  note: { type: text, max: 20, editable_by: [agent] }
steps:
  - { id: intake, title: Intake, role: agent, collects: [amount], due: 1h, on_overdue: split }
  - { id: split, parallel: [billing, system], join: review }
  - { id: billing, title: Check billing, role: agent, collects: [ok], after: 1d, on_timeout: review, next: review }
  - { id: system, title: Check the system, role: lead, collects: [note], due: 2h, on_escalate: review, next: review }
  - id: review
    title: Review both checks
    approval: { by: lead, count: 2, reviews: [billing, system], on_reject: intake }
  - { id: done, title: Close, role: agent, end: true }
";

/// Every seed SOP and the parallel one, compiled once.
fn processes() -> &'static [Arc<Process>] {
    static PROCESSES: OnceLock<Vec<Arc<Process>>> = OnceLock::new();
    PROCESSES.get_or_init(|| {
        let mut all: Vec<Arc<Process>> = common::seed_sop_files()
            .iter()
            .map(|f| sop_file(f))
            .collect();
        all.push(sop_yaml(PARALLEL_SOP));
        all
    })
}

/// Which step a command is about: one of the active steps (most commands), or any step of
/// the SOP, or one it does not have.
#[derive(Debug, Clone)]
enum Pick {
    Active(usize),
    Any(usize),
    Unknown,
}

/// A field value: one that fits the field (from a seed), or an arbitrary one.
#[derive(Debug, Clone)]
enum Val {
    Right(u16),
    Wrong(FieldValue),
}

/// Values for fields picked by index; an index past the SOP's fields is an unknown field.
type Values = Vec<(usize, Val)>;

#[derive(Debug, Clone)]
enum Op {
    Start(Values),
    /// What moves the step on: complete a task with fitting values, approve a gate.
    Advance(Pick, u16),
    Claim(Pick),
    Assign(Pick, usize),
    /// With a seed, every field the step collects is filled with a fitting value first.
    Complete(Pick, Option<u16>, Values),
    Approve(Pick),
    Reject(Pick, bool),
    Escalate(Pick, bool),
    UpdateFields(Values),
    AddNote(Option<Pick>, bool),
    Transfer(Pick, usize),
    Postpone(Pick, i64),
    Cancel(bool),
    Reopen(bool),
    Pause(bool),
    Resume,
    Tick,
}

#[derive(Debug, Clone)]
struct Sent {
    op: Op,
    actor: usize,
    /// Minutes the clock moves before the command.
    advance: i64,
    /// Send under an earlier command's id.
    reuse_id: Option<usize>,
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        8 => (0..4usize).prop_map(Pick::Active),
        2 => (0..64usize).prop_map(Pick::Any),
        1 => Just(Pick::Unknown),
    ]
}

fn wrong_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        any::<bool>().prop_map(FieldValue::Bool),
        (-10i64..20).prop_map(FieldValue::Integer),
        (-1e6f64..1e6).prop_map(FieldValue::Number),
        "[a-zA-Z@. -]{0,12}".prop_map(FieldValue::Text),
        prop::collection::vec("[A-Za-z ]{0,10}", 0..3).prop_map(FieldValue::List),
    ]
}

fn values() -> impl Strategy<Value = Values> {
    let value = prop_oneof![
        4 => any::<u16>().prop_map(Val::Right),
        1 => wrong_value().prop_map(Val::Wrong),
    ];
    prop::collection::vec((0..32usize, value), 0..4)
}

fn op() -> impl Strategy<Value = Op> {
    let flag = || prop::bool::weighted(0.1);
    prop_oneof![
        1 => values().prop_map(Op::Start),
        2 => pick().prop_map(Op::Claim),
        1 => (pick(), 0..5usize).prop_map(|(p, a)| Op::Assign(p, a)),
        20 => (pick(), any::<u16>()).prop_map(|(p, seed)| Op::Advance(p, seed)),
        8 => (pick(), prop::option::weighted(0.8, any::<u16>()), values())
            .prop_map(|(p, fill, v)| Op::Complete(p, fill, v)),
        4 => pick().prop_map(Op::Approve),
        2 => (pick(), flag()).prop_map(|(p, e)| Op::Reject(p, e)),
        2 => (pick(), flag()).prop_map(|(p, e)| Op::Escalate(p, e)),
        2 => values().prop_map(Op::UpdateFields),
        1 => (prop::option::of(pick()), flag()).prop_map(|(p, e)| Op::AddNote(p, e)),
        1 => (pick(), 0..6usize).prop_map(|(p, r)| Op::Transfer(p, r)),
        1 => (pick(), -60i64..3 * 24 * 60).prop_map(|(p, m)| Op::Postpone(p, m)),
        1 => flag().prop_map(Op::Cancel),
        2 => flag().prop_map(Op::Reopen),
        1 => flag().prop_map(Op::Pause),
        1 => Just(Op::Resume),
        4 => Just(Op::Tick),
    ]
}

fn sent() -> impl Strategy<Value = Sent> {
    let advance = prop_oneof![
        6 => 0i64..30,
        3 => 30i64..6 * 60,
        1 => 6 * 60i64..8 * 24 * 60,
    ];
    (
        op(),
        prop_oneof![2 => Just(0usize), 3 => 1..5usize],
        advance,
        prop::option::weighted(0.05, 0..64usize),
    )
        .prop_map(|(op, actor, advance, reuse_id)| Sent {
            op,
            actor,
            advance,
            reuse_id,
        })
}

/// A value that fits `spec`, chosen by `seed`.
fn right_value(spec: &FieldSpec, seed: u16) -> FieldValue {
    let seed = i64::from(seed);
    let in_range = |low: f64, high: f64| -> i64 {
        let (low, high) = (low.ceil() as i64, high.floor() as i64);
        low + seed % (high - low + 1).max(1)
    };
    match spec.field_type {
        FieldType::Text => {
            let min = spec.min.unwrap_or(1.0).max(0.0) as usize;
            let max = spec.max.map_or(min + 8, |m| m as usize).max(min);
            let len = min + (seed as usize) % (max - min + 1);
            FieldValue::Text("x".repeat(len))
        }
        FieldType::Email => FieldValue::Text(format!("user{seed}@example.com")),
        FieldType::Person => FieldValue::Text(format!("person-{}", seed % 4)),
        FieldType::Number => {
            let (low, high) = (spec.min.unwrap_or(-50.0), spec.max.unwrap_or(50.0));
            let half = if seed % 2 == 0 { 0.0 } else { 0.5 };
            FieldValue::Number((in_range(low, high) as f64 + half).clamp(low, high))
        }
        FieldType::Integer => FieldValue::Integer(in_range(
            spec.min.unwrap_or(-50.0),
            spec.max.unwrap_or(50.0),
        )),
        FieldType::Bool => FieldValue::Bool(seed % 2 == 0),
        FieldType::Date => FieldValue::Text(format!("2026-01-{:02}", 1 + seed % 28)),
        FieldType::Choice => {
            FieldValue::Text(spec.options[seed as usize % spec.options.len()].clone())
        }
        FieldType::MultiChoice => FieldValue::List(
            spec.options
                .iter()
                .enumerate()
                .filter(|(i, _)| seed & (1 << i) != 0)
                .map(|(_, o)| o.clone())
                .collect(),
        ),
    }
}

/// Runs one random sequence, checking the properties after every command.
struct Run {
    case: Case,
    actors: Vec<Actor>,
    ids: Vec<String>,
}

impl Run {
    fn new(process: &Arc<Process>, role_masks: &[u8]) -> Run {
        let roles = process.roles();
        // Actor 0 holds every role, so most sequences get going; the others hold random
        // subsets, sometimes with a role the SOP does not have.
        let mut actors = vec![Actor::new("a0", roles.iter().map(|r| r.id.clone()))];
        for (i, mask) in role_masks.iter().enumerate() {
            let mut held: Vec<_> = roles
                .iter()
                .enumerate()
                .filter(|(bit, _)| mask & (1 << (bit % 7)) != 0)
                .map(|(_, r)| r.id.clone())
                .collect();
            if mask & 0x80 != 0 {
                held.push(role("outsider"));
            }
            actors.push(Actor::new(format!("a{}", i + 1), held));
        }
        Run {
            case: Case::new(process),
            actors,
            ids: Vec::new(),
        }
    }

    fn process(&self) -> &Process {
        &self.case.process
    }

    fn step_of(&self, pick: &Pick) -> StepId {
        let active = self.case.state.active_steps();
        match pick {
            Pick::Active(i) if !active.is_empty() => active[i % active.len()].step.clone(),
            Pick::Active(i) | Pick::Any(i) => {
                let steps: Vec<&StepId> = self
                    .process()
                    .nodes()
                    .filter_map(|(_, n)| n.step.as_ref())
                    .collect();
                steps[i % steps.len()].clone()
            }
            Pick::Unknown => StepId::new("no_such_step").unwrap(),
        }
    }

    fn values_of(&self, values: &Values) -> FieldValues {
        let fields = self.process().fields();
        values
            .iter()
            .map(
                |(index, value)| match fields.get(*index % (fields.len() + 2)) {
                    Some(spec) => (
                        spec.id.clone(),
                        match value {
                            Val::Right(seed) => right_value(spec, *seed),
                            Val::Wrong(v) => v.clone(),
                        },
                    ),
                    None => (
                        FieldId::new("no_such_field").unwrap(),
                        FieldValue::Bool(true),
                    ),
                },
            )
            .collect()
    }

    /// Fitting values for every field `step` collects.
    fn fill(&self, step: &StepId, seed: u16) -> FieldValues {
        let process = self.process();
        let Some(NodeKind::Task(task)) = process.step(step).map(|n| &process.node(n).kind) else {
            return FieldValues::new();
        };
        task.collects
            .iter()
            .enumerate()
            .filter_map(|(i, field)| {
                let spec = process.field(field)?;
                let seed = seed.wrapping_mul(31).wrapping_add(i as u16 * 7);
                Some((field.clone(), right_value(spec, seed)))
            })
            .collect()
    }

    fn action_of(&self, op: &Op) -> Action {
        let reason = |empty: bool| {
            if empty {
                " ".to_owned()
            } else {
                "because".to_owned()
            }
        };
        match op {
            Op::Start(v) => Action::Start {
                case: "T-1".into(),
                fields: self.values_of(v),
            },
            Op::Advance(p, seed) => {
                let step = self.step_of(p);
                let process = self.process();
                match process.step(&step).map(|n| &process.node(n).kind) {
                    Some(NodeKind::Approval(_)) => Action::Approve {
                        step,
                        comment: None,
                    },
                    _ => Action::Complete {
                        fields: self.fill(&step, *seed),
                        step,
                        item: None,
                    },
                }
            }
            Op::Claim(p) => Action::Claim {
                step: self.step_of(p),
                item: None,
            },
            Op::Assign(p, a) => Action::Assign {
                step: self.step_of(p),
                assignee: self.actors[a % self.actors.len()].id.clone(),
                item: None,
            },
            Op::Complete(p, fill, v) => {
                let step = self.step_of(p);
                let mut fields = fill.map_or_else(FieldValues::new, |seed| self.fill(&step, seed));
                fields.extend(self.values_of(v));
                Action::Complete {
                    step,
                    fields,
                    item: None,
                }
            }
            Op::Approve(p) => Action::Approve {
                step: self.step_of(p),
                comment: None,
            },
            Op::Reject(p, e) => Action::Reject {
                step: self.step_of(p),
                reason: reason(*e),
            },
            Op::Escalate(p, e) => Action::Escalate {
                step: self.step_of(p),
                reason: reason(*e),
                item: None,
            },
            Op::UpdateFields(v) => Action::UpdateFields {
                fields: self.values_of(v),
            },
            Op::AddNote(p, e) => Action::AddNote {
                text: reason(*e),
                step: p.as_ref().map(|p| self.step_of(p)),
            },
            Op::Transfer(p, r) => {
                let roles = self.process().roles();
                Action::Transfer {
                    step: self.step_of(p),
                    to: roles
                        .get(*r)
                        .map_or_else(|| role("outsider"), |r| r.id.clone()),
                    item: None,
                }
            }
            Op::Postpone(p, m) => Action::Postpone {
                step: self.step_of(p),
                until: self.case.now + mins(*m),
                item: None,
            },
            Op::Cancel(e) => Action::Cancel { reason: reason(*e) },
            Op::Reopen(e) => Action::Reopen { reason: reason(*e) },
            Op::Pause(e) => Action::Pause { reason: reason(*e) },
            Op::Resume => Action::Resume,
            Op::Tick => Action::Tick,
        }
    }

    fn send(&mut self, sent: &Sent) -> Result<(), TestCaseError> {
        self.case.advance(mins(sent.advance));
        let action = self.action_of(&sent.op);
        let actor = match sent.op {
            Op::Tick => common::clock(),
            _ => self.actors[sent.actor % self.actors.len()].clone(),
        };
        let reused = sent
            .reuse_id
            .filter(|_| !self.ids.is_empty())
            .map(|i| self.ids[i % self.ids.len()].clone());
        let id = reused
            .clone()
            .unwrap_or_else(|| format!("p{}", self.ids.len() + 1));
        let applied_before = self.case.state.has_applied(&id.as_str().into());
        let version = self.case.state.version();
        // `try_send_id` checks that a refused command leaves the state equal and that an
        // accepted one yields numbered, stamped, deterministic events.
        let result = self.case.try_send_id(&id, &actor, action.clone());
        if let Ok(events) = &result {
            self.check_ownership(&actor, &action, events)?;
        }
        if reused.is_none() {
            self.ids.push(id);
        }
        match &result {
            Ok(events) if applied_before => {
                prop_assert!(events.is_empty(), "a repeated command id produced events");
            }
            Ok(_) => {}
            Err(error) => {
                prop_assert_eq!(self.case.state.version(), version);
                prop_assert!(!error.to_string().is_empty());
                prop_assert!(
                    !matches!(error, CommandError::RoutingLoop { .. }),
                    "the seed SOPs have no cycle of decisions: {}",
                    error
                );
            }
        }
        self.check_invariants()
    }

    /// Field ownership, worked out from the SOP here rather than asked of the engine: a
    /// field written by `complete` is one the step collects, and any field written (by any
    /// command) is `editable_by` a role the actor holds, unless `start` sets a field no
    /// step collects or leaves one at its default.
    fn check_ownership(
        &self,
        actor: &Actor,
        action: &Action,
        events: &[engine::Event],
    ) -> Result<(), TestCaseError> {
        let process = self.process();
        let collectors = |field: &FieldId| -> Vec<StepId> {
            process
                .nodes()
                .filter_map(|(_, node)| match &node.kind {
                    NodeKind::Task(task) if task.collects.contains(field) => node.step.clone(),
                    _ => None,
                })
                .collect()
        };
        let editable = |field: &FieldId| {
            process
                .field(field)
                .is_some_and(|spec| spec.editable_by.iter().any(|r| actor.holds(r)))
        };
        for event in events {
            let (fields, started) = match &event.kind {
                EventKind::CaseStarted { fields, .. } => (fields, true),
                EventKind::FieldsUpdated { fields } => (fields, false),
                _ => continue,
            };
            for (field, value) in fields {
                let owned = if started {
                    let default = process.field(field).and_then(|f| f.default.as_ref());
                    default == Some(value) || collectors(field).is_empty() || editable(field)
                } else {
                    match action {
                        Action::Complete { step, .. } => {
                            collectors(field).contains(step) || editable(field)
                        }
                        _ => editable(field),
                    }
                };
                prop_assert!(
                    owned,
                    "`{}` ({:?}) wrote field `{}` with `{}`, which its roles do not own",
                    actor.id,
                    actor.roles,
                    field,
                    action.name()
                );
            }
        }
        Ok(())
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let state = &self.case.state;
        let process = self.process();
        match state.status() {
            CaseStatus::Open => prop_assert!(
                !state.active_steps().is_empty() || !state.pending_joins().is_empty(),
                "an open case with nothing active and no pending join: {:#?}",
                self.case.log
            ),
            CaseStatus::Closed | CaseStatus::Cancelled => {
                prop_assert!(state.active_steps().is_empty());
                prop_assert_eq!(state.next_timer(), None);
            }
            CaseStatus::NotStarted => prop_assert!(self.case.log.is_empty()),
        }
        let mut tokens: Vec<u32> = state.active_steps().iter().map(|a| a.token).collect();
        tokens.sort_unstable();
        tokens.dedup();
        prop_assert_eq!(tokens.len(), state.active_steps().len(), "duplicate tokens");
        for active in state.active_steps() {
            let node = process.step(&active.step);
            prop_assert!(node.is_some(), "unknown active step {}", active.step);
            let is_work = node.is_some_and(|n| {
                matches!(
                    process.node(n).kind,
                    NodeKind::Task(_) | NodeKind::Approval(_)
                )
            });
            prop_assert!(is_work, "{} is active but not a task or gate", active.step);
            prop_assert!(
                state
                    .active_steps()
                    .iter()
                    .filter(|a| a.step == active.step)
                    .count()
                    == 1,
                "{} is active twice",
                active.step
            );
        }
        // An open case whose steps (or whose own SLA) have timers left has a next timer.
        let levels_left =
            |sla: &sopflow::engine::SlaProgress| (sla.levels_reached as usize) < sla.levels.len();
        // A paused case's pausable clocks stand still.
        let paused = state.is_paused();
        let has_timer = state.active_steps().iter().any(|a| {
            let sla_runs = !(paused && a.sla.pausable);
            let sla_pending = if a.breached {
                levels_left(&a.sla)
            } else {
                a.due_at.is_some()
            };
            (sla_runs && sla_pending) || a.timeout_at.is_some()
        }) || state.case_clock().is_some_and(|c| {
            !(paused && c.sla.pausable)
                && ((c.due_at.is_some() && !c.breached) || (c.breached && levels_left(&c.sla)))
        });
        prop_assert_eq!(state.next_timer().is_some(), state.is_open() && has_timer);
        prop_assert_eq!(
            &sopflow::engine::CaseState::replay(&self.case.log),
            state,
            "replay differs from the live state"
        );
        // A snapshot of the state (what a store writes every N events and resumes from)
        // reads back as the same state, and the events after a snapshot taken halfway fit it
        // and fold into the same state again.
        let snapshot = serde_json::to_string(state).expect("a state can be written as JSON");
        let resumed: sopflow::engine::CaseState =
            serde_json::from_str(&snapshot).expect("a snapshot reads back");
        prop_assert_eq!(&resumed, state, "the snapshot reads back as another state");
        let half = self.case.log.len() / 2;
        let prefix = sopflow::engine::CaseState::replay(&self.case.log[..half]);
        let prefix: sopflow::engine::CaseState =
            serde_json::from_str(&serde_json::to_string(&prefix).unwrap()).unwrap();
        if state.sop().is_some() && half > 0 {
            let continued = engine::check_history_from(process, prefix, &self.case.log[half..]);
            prop_assert_eq!(
                continued.as_ref(),
                Ok(state),
                "resuming from a snapshot halfway"
            );
        }
        // Queries never panic and agree with the state.
        let items = engine::work_items(process, state);
        prop_assert_eq!(items.len(), state.active_steps().len());
        let view = engine::view(process, state);
        prop_assert_eq!(view.status, state.status());
        for actor in &self.actors {
            for item in engine::work_queue(process, [state], actor, self.case.now) {
                prop_assert!(item.actionable_by(actor, self.case.now));
            }
        }
        if let Some(last) = self.case.log.last() {
            prop_assert!(!engine::describe(last).is_empty());
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_commands_keep_the_case_consistent(
        sop in 0..processes().len(),
        role_masks in prop::collection::vec(any::<u8>(), 4),
        start_first in prop::bool::weighted(0.9),
        commands in prop::collection::vec(sent(), 1..80),
    ) {
        let mut run = Run::new(&processes()[sop], &role_masks);
        // Most sequences start the case first; the others send commands to a case that may
        // never start.
        if start_first {
            run.send(&Sent { op: Op::Start(Vec::new()), actor: 0, advance: 0, reuse_id: None })?;
        }
        for command in &commands {
            run.send(command)?;
        }
        run.case.assert_replays();
    }

    /// Mostly field writes (start, complete with extra fields, update_fields) by actors
    /// with random roles: `send` checks that every accepted write is the actor's to make.
    #[test]
    fn only_owners_write_fields(
        sop in 0..processes().len(),
        role_masks in prop::collection::vec(any::<u8>(), 4),
        start_values in values(),
        commands in prop::collection::vec(field_write(), 1..60),
    ) {
        let mut run = Run::new(&processes()[sop], &role_masks);
        let starter = role_masks[0] as usize % 5;
        run.send(&Sent { op: Op::Start(start_values), actor: starter, advance: 0, reuse_id: None })?;
        for command in &commands {
            run.send(command)?;
        }
        run.case.assert_replays();
    }
}

/// A command that writes fields, by a random actor: completes (filled or not, with extra
/// values), updates, and now and then a tick so timers move the case too.
fn field_write() -> impl Strategy<Value = Sent> {
    let op = prop_oneof![
        6 => (pick(), prop::option::weighted(0.8, any::<u16>()), values())
            .prop_map(|(p, fill, v)| Op::Complete(p, fill, v)),
        4 => (pick(), any::<u16>()).prop_map(|(p, seed)| Op::Advance(p, seed)),
        4 => values().prop_map(Op::UpdateFields),
        1 => Just(Op::Tick),
    ];
    (op, 0..5usize, 0i64..120).prop_map(|(op, actor, advance)| Sent {
        op,
        actor,
        advance,
        reuse_id: None,
    })
}
