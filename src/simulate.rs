//! A deterministic simulator that works cases like a support team would: synthetic
//! actors claim and complete work items, fill in plausible field values, approve or
//! reject gates, and sometimes let time run past an SLA.
//!
//! It only sends commands through [`engine::handle`], so it doubles
//! as a load generator for benchmarks and a demo driver for examples. Everything random
//! comes from a seeded generator: the same seed gives the same cases.

use chrono::{DateTime, TimeDelta, Utc};

use crate::engine::{self, Action, Actor, CaseId, CaseState, Command, FieldValues, WorkKind};
use crate::graph::{FieldSpec, NodeKind, Process};
use crate::model::{FieldType, FieldValue};

/// How the simulated team behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    /// Chance that an approver rejects a gate.
    pub reject_rate: f64,
    /// Chance that a bool field is `true` when filled in.
    pub true_rate: f64,
    /// Chance that a work item waits long enough to breach any SLA.
    pub stall_rate: f64,
    /// Typical minutes between two actions on a case.
    pub minutes_per_action: i64,
    /// Actors per role.
    pub team_size: usize,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            reject_rate: 0.10,
            true_rate: 0.5,
            stall_rate: 0.05,
            minutes_per_action: 20,
            team_size: 8,
        }
    }
}

/// SplitMix64: small, fast and good enough to vary a simulation; not for cryptography.
#[derive(Debug, Clone)]
struct Random(u64);

impl Random {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Generates the commands a team would send.
#[derive(Debug, Clone)]
pub struct Simulator {
    behaviour: Behaviour,
    random: Random,
    commands_sent: u64,
}

/// One step of a simulation: a command and when it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    /// What is sent.
    pub command: Command,
    /// When.
    pub at: DateTime<Utc>,
}

impl Simulator {
    /// A simulator with its own seed.
    pub fn new(seed: u64, behaviour: Behaviour) -> Simulator {
        Simulator {
            behaviour,
            random: Random(seed),
            commands_sent: 0,
        }
    }

    fn command_id(&mut self) -> String {
        self.commands_sent += 1;
        format!("sim-{}", self.commands_sent)
    }

    fn actor(&mut self, role: &crate::model::RoleId, excluded: &[engine::ActorId]) -> Actor {
        let size = self.behaviour.team_size.max(2);
        let first = self.random.below(size);
        for offset in 0..size {
            let actor = Actor::new(
                format!("{role}-{}", (first + offset) % size + 1),
                [role.clone()],
            );
            if !excluded.contains(&actor.id) {
                return actor;
            }
        }
        // Everyone is excluded: somebody from outside the team (a role holder all the same).
        Actor::new(format!("{role}-backup"), [role.clone()])
    }

    /// The command that opens case `case` at `at`, with the fields a first contact gives.
    pub fn start(&mut self, process: &Process, case: &str, at: DateTime<Utc>) -> Move {
        let role = process.roles().first().map(|r| r.id.clone());
        let actor = match role {
            Some(role) => self.actor(&role, &[]),
            None => Actor::new("nobody", []),
        };
        Move {
            command: Command::new(
                self.command_id(),
                actor,
                Action::Start {
                    case: CaseId::new(case),
                    fields: FieldValues::new(),
                },
            ),
            at,
        }
    }

    /// The next command for an open case after `now`, or `None` when the case is not open.
    ///
    /// The team works the oldest work item; now and then it stalls past the SLA, and the
    /// clock's tick fires the breach instead.
    pub fn next(
        &mut self,
        process: &Process,
        state: &CaseState,
        now: DateTime<Utc>,
    ) -> Option<Move> {
        if !state.is_open() {
            return None;
        }
        let step_minutes = 1 + self
            .random
            .below(self.behaviour.minutes_per_action.max(1) as usize * 2)
            as i64;
        let mut at = now + TimeDelta::minutes(step_minutes);
        if let Some(timer) = state.next_timer()
            && (timer <= at || self.random.chance(self.behaviour.stall_rate))
        {
            let at = timer.max(now);
            return Some(Move {
                command: Command::new(self.command_id(), Actor::new("clock", []), Action::Tick),
                at,
            });
        }
        let items = engine::work_items(process, state);
        let item = items
            .iter()
            .find(|i| i.postponed_until.is_none_or(|u| u <= at))?;
        if let Some(until) = item.postponed_until {
            at = at.max(until);
        }
        // A gate any of several roles may decide goes to a holder of one of them at random,
        // so runs see every role decide; one role draws nothing, keeping runs as before.
        let role = match item.roles.as_slice() {
            [] => return None,
            [only] => only.clone(),
            several => several[self.random.below(several.len())].clone(),
        };
        // Work that went to one person is theirs to do.
        let actor = match &item.assignee {
            Some(assignee) => Actor::new(assignee.as_str(), [role.clone()]),
            None => self.actor(&role, &item.excluded),
        };
        let action = match item.kind {
            WorkKind::Approval if self.random.chance(self.behaviour.reject_rate) => {
                Action::Reject {
                    step: item.step.clone(),
                    reason: "needs another look".to_owned(),
                }
            }
            WorkKind::Approval => Action::Approve {
                step: item.step.clone(),
                comment: None,
            },
            // The called SOP is not simulated here: its sub-case completes, returning
            // plausible values for the fields the call takes back.
            WorkKind::Task if item.waiting_for.is_some() => {
                let returns = process
                    .step(&item.step)
                    .and_then(|node| match &process.node(node).kind {
                        NodeKind::Task(task) => task.call.as_ref(),
                        _ => None,
                    })
                    .map(|call| call.returns.clone())
                    .unwrap_or_default();
                let mut fields = FieldValues::new();
                for (parent, child) in &returns {
                    if let Some(spec) = process.field(parent) {
                        fields.insert(child.clone(), self.value(process, spec));
                    }
                }
                Action::FinishSubCase {
                    child: item.waiting_for.clone().unwrap_or_else(|| CaseId::new("?")),
                    outcome: engine::SubCaseOutcome::Completed,
                    fields,
                }
            }
            WorkKind::Task => {
                let mut fields = FieldValues::new();
                for field in &item.collects {
                    if let Some(spec) = process.field(field) {
                        fields.insert(field.clone(), self.value(process, spec));
                    }
                }
                Action::Complete {
                    step: item.step.clone(),
                    item: item.item.clone(),
                    fields,
                }
            }
        };
        Some(Move {
            command: Command::new(self.command_id(), actor, action),
            at,
        })
    }

    /// A plausible value for a field.
    fn value(&mut self, process: &Process, spec: &FieldSpec) -> FieldValue {
        match spec.field_type {
            // Someone of the team whose step the field assigns, as the simulator names them.
            FieldType::Person => {
                let role = process.nodes().find_map(|(_, node)| match &node.kind {
                    NodeKind::Task(task) if task.people.assignee.as_ref() == Some(&spec.id) => {
                        Some(task.role.clone())
                    }
                    NodeKind::Approval(gate) if gate.people.assignee.as_ref() == Some(&spec.id) => {
                        gate.by.first().cloned()
                    }
                    _ => None,
                });
                let size = self.behaviour.team_size.max(2);
                let n = self.random.below(size) + 1;
                FieldValue::Text(match role {
                    Some(role) => format!("{role}-{n}"),
                    None => format!("person-{n}"),
                })
            }
            FieldType::Text => FieldValue::Text(format!("{} (simulated)", spec.label)),
            FieldType::Email => FieldValue::Text("customer@example.com".to_owned()),
            FieldType::Bool => FieldValue::Bool(self.random.chance(self.behaviour.true_rate)),
            FieldType::Date => FieldValue::Text("2026-01-05".to_owned()),
            FieldType::Integer => {
                let low = spec.min.unwrap_or(0.0) as i64;
                let high = spec.max.unwrap_or(low as f64 + 10.0) as i64;
                FieldValue::Integer(
                    low + self.random.below((high - low + 1).max(1) as usize) as i64,
                )
            }
            FieldType::Number => {
                let low = spec.min.unwrap_or(0.0);
                let high = spec.max.unwrap_or(low + 10.0);
                FieldValue::Number(low + (high - low) * (self.random.below(1000) as f64 / 1000.0))
            }
            FieldType::Choice => {
                let pick = self.random.below(spec.options.len());
                FieldValue::Text(spec.options.get(pick).cloned().unwrap_or_default())
            }
            FieldType::MultiChoice => {
                let pick = self.random.below(spec.options.len());
                FieldValue::List(spec.options.get(pick).cloned().into_iter().collect())
            }
        }
    }
}

/// Runs one case from start to close (or until `max_commands`), returning its events.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use sopflow::simulate::{Behaviour, Simulator, run_case};
/// let text = std::fs::read_to_string("sops/customer-support-process.yaml").unwrap();
/// let sop = sopflow::parse::parse_sop("customer-support-process.yaml", &text).unwrap();
/// let process = sopflow::graph::compile(&sop).process.unwrap();
/// let mut simulator = Simulator::new(7, Behaviour::default());
/// let start = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
/// let (state, events) = run_case(&process, &mut simulator, "T-1", start, 500).unwrap();
/// assert_eq!(state.status(), sopflow::engine::CaseStatus::Closed);
/// assert!(events.len() > 20);
/// ```
pub fn run_case(
    process: &Process,
    simulator: &mut Simulator,
    case: &str,
    start: DateTime<Utc>,
    max_commands: usize,
) -> Result<(CaseState, Vec<engine::Event>), engine::CommandError> {
    let mut state = CaseState::new();
    let mut log = Vec::new();
    let mut next = Some(simulator.start(process, case, start));
    let mut sent = 0;
    while let Some(step) = next {
        let now = step.at;
        let events = engine::handle(process, &state, step.command, now)?;
        for event in &events {
            state.apply(event);
        }
        log.extend(events);
        sent += 1;
        if sent >= max_commands {
            break;
        }
        next = simulator.next(process, &state, now);
    }
    Ok((state, log))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::engine::EventKind;

    /// A call task's sub-case completes in the simulation, with a value for what the call
    /// takes back, and the case closes.
    #[test]
    fn a_call_task_completes_as_its_sub_case_would() {
        let sop = crate::parse::parse_sop(
            "c.yaml",
            "id: c\nversion: 1\ntitle: C\ndepartment: D\n\
             roles: { agent: Agent }\n\
             fields: { ok: { type: bool } }\n\
             steps:\n\
             \x20 - { id: check, title: Check, role: agent, call: { sop: other, returns: { ok: verdict } } }\n\
             \x20 - { id: done, title: Done, role: agent, end: true }\n",
        )
        .expect("parses");
        let process = crate::graph::compile(&sop).process.expect("compiles");
        let mut simulator = Simulator::new(7, Behaviour::default());
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
        let (state, events) = run_case(&process, &mut simulator, "T-1", start, 50).expect("runs");
        assert_eq!(state.status(), engine::CaseStatus::Closed);
        assert!(
            events
                .iter()
                .any(|e| matches!(e.kind, EventKind::SubCaseFinished { .. })),
            "{events:?}"
        );
        assert!(state.fields().contains_key(&"ok".parse().unwrap()));
    }

    /// A gate any of two roles decides is decided by holders of each, over many cases.
    #[test]
    fn a_gate_of_several_roles_is_decided_by_holders_of_each() {
        let sop = crate::parse::parse_sop(
            "p.yaml",
            "id: p\nversion: 1\ntitle: P\ndepartment: D\n\
             roles: { agent: Agent, lead: Lead, finance: Finance }\n\
             steps:\n\
             \x20 - { id: ask, title: Ask, role: agent }\n\
             \x20 - { id: decide, title: Decide, approval: { by: [lead, finance], reviews: [ask], on_reject: ask }, end: true }\n",
        )
        .expect("parses");
        let process = crate::graph::compile(&sop).process.expect("compiles");
        let mut simulator = Simulator::new(7, Behaviour::default());
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
        let mut deciders = std::collections::BTreeSet::new();
        for n in 0..20 {
            let (state, events) =
                run_case(&process, &mut simulator, &format!("T-{n}"), start, 200).expect("runs");
            assert_eq!(state.status(), engine::CaseStatus::Closed);
            for event in &events {
                if matches!(
                    event.kind,
                    EventKind::ApprovalGranted { .. } | EventKind::GateRejected { .. }
                ) {
                    deciders.insert(event.actor.as_str().split('-').next().map(str::to_owned));
                }
            }
        }
        let deciders: Vec<String> = deciders.into_iter().flatten().collect();
        assert_eq!(deciders, ["finance", "lead"]);
    }
}
