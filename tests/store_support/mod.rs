//! Shared by the store tests: SOPs, actors, a driver that walks a case to its end, and the
//! conformance suite every store runs.
#![allow(dead_code)]

pub mod conformance;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use sopflow::engine::{
    self, Action, Actor, CaseId, CaseState, CaseStatus, Command, FieldValues, WorkKind,
};
use sopflow::graph::Process;
use sopflow::model::{FieldType, FieldValue, RoleId};

/// Monday 2026-01-05 09:00 UTC: when every test case starts.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

pub fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

/// The customer support SOP: `(name, text)`.
pub fn customer_support() -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sops/customer-support-process.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    (path.display().to_string(), text)
}

/// A one-step SOP; `version` 2 has an extra step before the end.
pub fn hello(version: u32) -> (String, String) {
    let extra = if version >= 2 {
        "  - { id: wave, title: Wave goodbye, role: agent, end: true }\n"
    } else {
        ""
    };
    let end = if version >= 2 { "" } else { ", end: true" };
    let text = format!(
        "id: hello
version: {version}
title: Say hello
department: Customer Service
roles: {{ agent: Support team member }}
steps:
  - {{ id: greet, title: Greet the customer, role: agent{end} }}
{extra}"
    );
    (format!("hello-v{version}.yaml"), text)
}

/// Version 3 of [`hello`]: `greet` is now `welcome`, and open cases of version 1 move
/// there (`migrate:`).
pub fn hello_renamed() -> (String, String) {
    let text = "id: hello
version: 3
title: Say hello
department: Customer Service
roles: { agent: Support team member }
steps:
  - { id: welcome, title: Welcome the customer, role: agent }
  - { id: wave, title: Wave goodbye, role: agent, end: true }
migrate:
  from: 1
  steps: { greet: welcome }
";
    ("hello-v3.yaml".to_owned(), text.to_owned())
}

/// An SOP whose first step has a 1 hour SLA; past it a lead takes over.
pub fn timed() -> (String, String) {
    let text = "id: timed
version: 1
title: Answer in time
department: Customer Service
roles: { agent: Support team member, lead: Team leader }
steps:
  - { id: answer, title: Answer the customer, role: agent, due: 1h, on_overdue: takeover }
  - { id: done, title: Close, role: agent, end: true }
  - { id: takeover, title: Take over the late answer, role: lead, next: done }
";
    ("timed.yaml".to_owned(), text.to_owned())
}

/// Holds every role of the SOPs used here except the approving ones.
pub fn agent() -> Actor {
    Actor::new(
        "ana",
        ["support_agent", "qa_specialist", "agent"].map(|r| RoleId::new(r).unwrap()),
    )
}

/// A team leader (also `lead` of the timed SOP).
pub fn lead() -> Actor {
    Actor::new(
        "leo",
        ["team_leader", "lead"].map(|r| RoleId::new(r).unwrap()),
    )
}

/// The QA manager.
pub fn manager() -> Actor {
    Actor::new("mia", [RoleId::new("qa_manager").unwrap()])
}

pub fn start(case: &str, id: &str) -> Command {
    Command::new(
        id,
        agent(),
        Action::Start {
            case: CaseId::new(case),
            fields: FieldValues::new(),
        },
    )
}

pub fn note(id: &str, text: &str) -> Command {
    Command::new(
        id,
        agent(),
        Action::AddNote {
            text: text.to_owned(),
            step: None,
        },
    )
}

/// A valid value for every field a step collects.
fn values_for(process: &Process, step: &sopflow::model::StepId) -> FieldValues {
    let mut values = FieldValues::new();
    let Some(node) = process.step(step) else {
        return values;
    };
    let sopflow::graph::NodeKind::Task(task) = &process.node(node).kind else {
        return values;
    };
    for field in &task.collects {
        let Some(spec) = process.field(field) else {
            continue;
        };
        let value = match spec.field_type {
            FieldType::Text => FieldValue::Text(format!("{field} text")),
            FieldType::Email => FieldValue::Text("ada@example.com".to_owned()),
            FieldType::Number => FieldValue::Number(spec.min.unwrap_or(1.0)),
            FieldType::Integer => FieldValue::Integer(spec.min.unwrap_or(1.0) as i64),
            FieldType::Bool => FieldValue::Bool(true),
            FieldType::Date => FieldValue::Text("2026-01-05".to_owned()),
            // The actor this driver sends every task as.
            FieldType::Person => FieldValue::Text("ana".to_owned()),
            FieldType::Choice => FieldValue::Text(spec.options[0].clone()),
            FieldType::MultiChoice => FieldValue::List(vec![spec.options[0].clone()]),
        };
        values.insert(field.clone(), value);
    }
    values
}

/// The next command that moves `case` on along the happy path, or `None` once it has
/// ended. Its id names the step activation it acts on, so two senders that decide on the
/// same activation send the same command, and the engine applies it once.
pub fn next_command(process: &Process, state: &CaseState, case: &str) -> Option<Command> {
    match state.status() {
        CaseStatus::NotStarted => return Some(start(case, &format!("{case}:start"))),
        CaseStatus::Open => {}
        CaseStatus::Closed | CaseStatus::Cancelled => return None,
    }
    let now = t0();
    let item = engine::work_items(process, state).into_iter().next()?;
    let actor = [agent(), lead(), manager()]
        .into_iter()
        .find(|a| item.actionable_by(a, now))?;
    let id = format!("{case}:{}:{}", item.step, item.token);
    let action = match item.kind {
        WorkKind::Task => Action::Complete {
            fields: values_for(process, &item.step),
            step: item.step,
            item: item.item,
        },
        WorkKind::Approval => Action::Approve {
            step: item.step,
            comment: None,
        },
    };
    Some(Command::new(id, actor, action))
}

/// A fresh SQLite file path under cargo's temporary directory for tests, removed (with
/// its WAL files) on drop.
pub struct TempDb {
    pub path: PathBuf,
}

impl TempDb {
    pub fn new(name: &str) -> TempDb {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("sopflow-{name}-{}-{nanos}.db", std::process::id()));
        TempDb { path }
    }

    pub fn url(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}
