//! A scenario driver for executor tests: load an SOP, send commands at fixed times, keep the
//! event log, and check what every accepted or refused command must satisfy.
//!
//! Each test binary uses a different part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use sopflow::engine::{
    self, Action, Actor, CaseState, CaseStatus, Command, CommandError, EVENT_SCHEMA_VERSION, Event,
    FieldValues,
};
use sopflow::graph::Process;
use sopflow::model::{RoleId, StepId};

/// Monday 2026-01-05 09:00 UTC: when every scenario starts.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

/// `t0()` plus `minutes`.
pub fn t(minutes: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(minutes)
}

/// A duration of `n` minutes.
pub fn mins(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

/// A duration of `n` hours.
pub fn hours(n: i64) -> TimeDelta {
    TimeDelta::hours(n)
}

/// A duration of `n` days.
pub fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

/// The compiled process of `sops/<file>`.
pub fn sop_file(file: &str) -> Arc<Process> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sops")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    compiled(&format!("sops/{file}"), &text)
}

/// The compiled process of an inline SOP.
pub fn sop_yaml(text: &str) -> Arc<Process> {
    compiled("inline.yaml", text)
}

/// Every `sops/*.yaml` file name, sorted.
pub fn seed_sop_files() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sops");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        // `NAME.test.yaml` beside an SOP holds its scenarios, not an SOP.
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .filter(|path| !path.to_string_lossy().ends_with(".test.yaml"))
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn compiled(name: &str, text: &str) -> Arc<Process> {
    let sop = sopflow::parse::parse_sop(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let compilation = sopflow::graph::compile(&sop);
    let errors: Vec<String> = compilation
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{d:?}"))
        .collect();
    assert!(errors.is_empty(), "{name} does not compile: {errors:#?}");
    Arc::new(
        compilation
            .process
            .expect("a process when there is no error"),
    )
}

/// A role id.
pub fn role(id: &str) -> RoleId {
    RoleId::new(id).unwrap_or_else(|e| panic!("bad role id `{id}`: {e}"))
}

/// A step id.
pub fn step(id: &str) -> StepId {
    StepId::new(id).unwrap_or_else(|e| panic!("bad step id `{id}`: {e}"))
}

/// `Actor::new(id, roles)`.
pub fn actor(id: &str, roles: &[&str]) -> Actor {
    Actor::new(id, roles.iter().map(|r| role(r)))
}

/// The clock: sends `tick`, holds no role.
pub fn clock() -> Actor {
    Actor::new("clock", [])
}

/// Field values from a JSON object: `fields(json!({"name": "Ada", "score": 3}))`.
pub fn fields(values: serde_json::Value) -> FieldValues {
    serde_json::from_value(values).unwrap_or_else(|e| panic!("bad field values: {e}"))
}

/// No field values.
pub fn no_fields() -> FieldValues {
    FieldValues::new()
}

/// The `type` names of events, for compact assertions.
pub fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.name()).collect()
}

/// One case driven through its process: sends commands at `now`, applies the events they
/// cause, and keeps the full log.
///
/// Every command sent through it is checked: an accepted one yields events numbered on from
/// the log, stamped with `now` and its command id, and the same command decided twice gives
/// the same events (the engine is deterministic); a refused one yields no event, leaves the
/// state equal and is refused the same way again.
pub struct Case {
    /// The process the case runs on.
    pub process: Arc<Process>,
    /// The live state: every accepted event applied in order.
    pub state: CaseState,
    /// Every accepted event, in order.
    pub log: Vec<Event>,
    /// The time commands are sent at.
    pub now: DateTime<Utc>,
    sent: u32,
}

impl Case {
    /// A case that has not been started, at `t0()`.
    pub fn new(process: &Arc<Process>) -> Case {
        Case {
            process: Arc::clone(process),
            state: CaseState::new(),
            log: Vec::new(),
            now: t0(),
            sent: 0,
        }
    }

    /// A case started at `t0()` by `by` with `initial` field values, as `T-1`.
    #[track_caller]
    pub fn start(process: &Arc<Process>, by: &Actor, initial: FieldValues) -> Case {
        Case::start_as(process, "T-1", by, initial)
    }

    /// A case started at `t0()` by `by` with `initial` field values.
    #[track_caller]
    pub fn start_as(process: &Arc<Process>, id: &str, by: &Actor, initial: FieldValues) -> Case {
        let mut case = Case::new(process);
        case.send(
            by,
            Action::Start {
                case: id.into(),
                fields: initial,
            },
        );
        case
    }

    /// Moves the clock to `when`; time never goes back.
    pub fn at(&mut self, when: DateTime<Utc>) -> &mut Case {
        assert!(when >= self.now, "time goes back: {when} < {}", self.now);
        self.now = when;
        self
    }

    /// Sets the clock back to `when`: only for a case whose clock is to be corrected.
    pub fn rewind(&mut self, when: DateTime<Utc>) -> &mut Case {
        self.now = when;
        self
    }

    /// Moves the clock on by `by`.
    pub fn advance(&mut self, by: TimeDelta) -> &mut Case {
        let when = self.now + by;
        self.at(when)
    }

    /// Sends `action` as `actor` with a fresh command id.
    pub fn try_send(&mut self, actor: &Actor, action: Action) -> Result<Vec<Event>, CommandError> {
        self.sent += 1;
        let id = format!("c{}", self.sent);
        self.try_send_id(&id, actor, action)
    }

    /// Sends `action` as `actor` with the command id `id`.
    pub fn try_send_id(
        &mut self,
        id: &str,
        actor: &Actor,
        action: Action,
    ) -> Result<Vec<Event>, CommandError> {
        let command = Command::new(id, actor.clone(), action);
        let before = self.state.clone();
        let result = engine::handle(&self.process, &self.state, command.clone(), self.now);
        let again = engine::handle(&self.process, &self.state, command, self.now);
        assert_eq!(result, again, "the same command decided twice differs");
        match &result {
            Ok(events) => {
                let repeated = before.has_applied(&id.into());
                assert!(
                    !repeated || events.is_empty(),
                    "a repeated command id `{id}` produced events: {events:#?}"
                );
                for (offset, event) in events.iter().enumerate() {
                    assert_eq!(event.seq, before.version() + 1 + offset as u64);
                    assert_eq!(event.v, EVENT_SCHEMA_VERSION);
                    assert_eq!(event.at, self.now);
                    assert_eq!(event.command.as_str(), id);
                    assert_eq!(event.actor, actor.id);
                    self.state.apply(event);
                }
                self.log.extend(events.iter().cloned());
            }
            Err(_) => {
                assert_eq!(self.state, before, "a refused command changed the state");
            }
        }
        result
    }

    /// Sends `action` as `actor`; it must be accepted.
    #[track_caller]
    pub fn send(&mut self, actor: &Actor, action: Action) -> Vec<Event> {
        let name = action.name();
        match self.try_send(actor, action) {
            Ok(events) => events,
            Err(error) => panic!(
                "`{name}` by `{}` at {} was refused: {error}\nactive: {:?}",
                actor.id,
                self.now,
                self.active()
            ),
        }
    }

    /// Sends `action` as `actor`; it must be refused. Returns why.
    #[track_caller]
    pub fn refuse(&mut self, actor: &Actor, action: Action) -> CommandError {
        let name = action.name();
        match self.try_send(actor, action) {
            Ok(events) => panic!(
                "`{name}` by `{}` was accepted: {:?}",
                actor.id,
                kinds(&events)
            ),
            Err(error) => error,
        }
    }

    /// Completes `step` as `by` with `values`.
    #[track_caller]
    pub fn complete(&mut self, step_id: &str, by: &Actor, values: FieldValues) -> Vec<Event> {
        self.send(
            by,
            Action::Complete {
                step: step(step_id),
                fields: values,
                item: None,
            },
        )
    }

    /// Approves the gate `step` as `by`.
    #[track_caller]
    pub fn approve(&mut self, step_id: &str, by: &Actor) -> Vec<Event> {
        self.send(
            by,
            Action::Approve {
                step: step(step_id),
                comment: None,
            },
        )
    }

    /// Rejects the gate `step` as `by`.
    #[track_caller]
    pub fn reject(&mut self, step_id: &str, by: &Actor, reason: &str) -> Vec<Event> {
        self.send(
            by,
            Action::Reject {
                step: step(step_id),
                reason: reason.to_owned(),
            },
        )
    }

    /// Escalates `step` as `by`.
    #[track_caller]
    pub fn escalate(&mut self, step_id: &str, by: &Actor, reason: &str) -> Vec<Event> {
        self.send(
            by,
            Action::Escalate {
                step: step(step_id),
                reason: reason.to_owned(),
                item: None,
            },
        )
    }

    /// Claims `step` as `by`.
    #[track_caller]
    pub fn claim(&mut self, step_id: &str, by: &Actor) -> Vec<Event> {
        self.send(
            by,
            Action::Claim {
                step: step(step_id),
                item: None,
            },
        )
    }

    /// Transfers `step` to `to` as `by`.
    #[track_caller]
    pub fn transfer(&mut self, step_id: &str, by: &Actor, to: &str) -> Vec<Event> {
        self.send(
            by,
            Action::Transfer {
                step: step(step_id),
                to: role(to),
                item: None,
            },
        )
    }

    /// Postpones `step` until `until` as `by`.
    #[track_caller]
    pub fn postpone(&mut self, step_id: &str, by: &Actor, until: DateTime<Utc>) -> Vec<Event> {
        self.send(
            by,
            Action::Postpone {
                step: step(step_id),
                until,
                item: None,
            },
        )
    }

    /// Updates fields as `by`.
    #[track_caller]
    pub fn update(&mut self, by: &Actor, values: FieldValues) -> Vec<Event> {
        self.send(by, Action::UpdateFields { fields: values })
    }

    /// Adds a note as `by`.
    #[track_caller]
    pub fn note(&mut self, by: &Actor, text: &str) -> Vec<Event> {
        self.send(
            by,
            Action::AddNote {
                text: text.to_owned(),
                step: None,
            },
        )
    }

    /// Cancels the case as `by`.
    #[track_caller]
    pub fn cancel(&mut self, by: &Actor, reason: &str) -> Vec<Event> {
        self.send(
            by,
            Action::Cancel {
                reason: reason.to_owned(),
            },
        )
    }

    /// Reopens the case as `by`.
    #[track_caller]
    pub fn reopen(&mut self, by: &Actor, reason: &str) -> Vec<Event> {
        self.send(
            by,
            Action::Reopen {
                reason: reason.to_owned(),
            },
        )
    }

    /// Moves the clock to `when` and fires the timers due then.
    #[track_caller]
    pub fn tick(&mut self, when: DateTime<Utc>) -> Vec<Event> {
        self.at(when);
        self.send(&clock(), Action::Tick)
    }

    /// The ids of the active steps, oldest activation first.
    pub fn active(&self) -> Vec<String> {
        self.state
            .active_steps()
            .iter()
            .map(|a| a.step.to_string())
            .collect()
    }

    /// The case's status.
    pub fn status(&self) -> CaseStatus {
        self.state.status()
    }

    /// The log as one `describe` line per event.
    pub fn describe_lines(&self) -> String {
        let lines: Vec<String> = self
            .log
            .iter()
            .map(|e| engine::describe(e) + "\n")
            .collect();
        lines.concat()
    }

    /// The log as JSON lines, the form stores persist.
    pub fn json_lines(&self) -> String {
        let lines: Vec<String> = self
            .log
            .iter()
            .map(|e| serde_json::to_string(e).expect("an event serializes") + "\n")
            .collect();
        lines.concat()
    }

    /// Replaying the log, and the log read back from its JSON lines, rebuild the live state.
    #[track_caller]
    pub fn assert_replays(&self) {
        assert_eq!(
            CaseState::replay(&self.log),
            self.state,
            "replay differs from the live state"
        );
        let read_back: Vec<Event> = self
            .json_lines()
            .lines()
            .map(|line| serde_json::from_str(line).expect("an event line deserializes"))
            .collect();
        assert_eq!(read_back, self.log, "the JSON lines do not read back");
        assert_eq!(CaseState::replay(&read_back), self.state);
    }

    /// The case is closed, and its log replays to its state.
    #[track_caller]
    pub fn assert_closed(&self) {
        assert_eq!(
            self.status(),
            CaseStatus::Closed,
            "active: {:?}",
            self.active()
        );
        assert!(self.state.active_steps().is_empty());
        assert!(self.state.pending_joins().is_empty());
        assert_eq!(self.state.next_timer(), None);
        self.assert_replays();
    }
}
