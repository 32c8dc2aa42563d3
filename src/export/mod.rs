//! Case histories as event logs for process-mining tools (PM4Py, ProM, Celonis, Disco):
//! [XES](XesWriter) (IEEE 1849-2016) and a [flat CSV event log](CsvWriter).
//!
//! Every case's history is already an exact, timestamped event log; this module only says
//! which engine events a process-mining tool should see and in which words. Both writers
//! take one case at a time ([`XesWriter::write_case`], [`CsvWriter::write_case`]) with the
//! [`Process`] it ran on, so exporting a whole store needs memory for one case, not for
//! the store. They write to any [`std::io::Write`] and know nothing about stores.
//!
//! # What becomes a log event
//!
//! A process-mining event is one lifecycle transition of one activity instance. Here the
//! activity is a step (task or approval gate) and the instance is one activation of it
//! (its token: a step done again after rework is a new instance, `concept:instance`).
//!
//! | engine event | lifecycle transition | resource (`org:resource`) |
//! |---|---|---|
//! | `step_activated` | `schedule` | none: nobody acted on the step yet |
//! | `step_assigned` (claim or assign), first of its instance | `assign` | the assignee |
//! | `step_assigned` again, or `step_transferred` to another role | `reassign` | the new assignee (none after a transfer: the new role's queue holds it) |
//! | `step_completed` | `complete` (outcome `completed`) | who completed it |
//! | `gate_approved` | `complete` (outcome `approved`) | the approver who gave the last approval needed |
//! | `gate_rejected` | `complete` (outcome `rejected`) | the approver who rejected |
//! | `step_escalated` | `withdraw` (outcome `escalated`) | who escalated it |
//! | `sla_breached` or `sla_level_reached` that takes the step away | `withdraw` (outcome `overdue`) | the actor of the tick that fired the timer |
//! | `timer_fired` (a deferred choice's timer won) | `withdraw` (outcome `timed_out`) | the actor of the tick |
//! | `step_cancelled` (the step alone, `on_cancel`) | `withdraw` (outcome `step_cancelled`): steps have no `start` transition, so the instance is withdrawn rather than `ate_abort`ed | who cancelled it |
//! | `case_cancelled`, for each step active then | `pi_abort` (outcome `cancelled`) | who cancelled the case |
//!
//! `org:role` is the role that performs the step (a gate's approvers), or the role it was
//! transferred to. Every transition that ends an instance says whether the instance's SLA
//! was breached before it ended (`sopflow:sla_breached`), so a breach rate per activity is
//! one filter away and the process map shows no activity that nobody performed.
//!
//! The rest is case-level or left out:
//! - the case's SOP, version, status, open and close times, whether its case SLA was
//!   breached and how often it was reopened are trace attributes (`sopflow:…`), and so is
//!   every case field, with its latest value (multi-choice values as a JSON array);
//! - decisions, parallel splits and joins are routing, not work: the path they chose shows
//!   in the steps that follow; SLA warnings, ladder notifications, rescheduling, pauses,
//!   postponements and time corrections change no step's lifecycle; single approvals of a
//!   gate that needs several are not transitions of the gate; notes are free text about
//!   people and customers that an analysis does not need and an export should not spread.
//!
//! # Activity names
//!
//! The activity (`concept:name` of an event, the CSV's `activity`) is the step id by
//! default ([`ActivityName::StepId`]): unique within a process and stable when a title is
//! reworded, so cases on two SOP versions still meet on one process map. Titles can repeat,
//! can be long sentences and are templates (`Solution for {{ issue }}`, written as is). The
//! title is written beside it (`sopflow:title`, the CSV's `title`), and
//! [`ActivityName::Title`] makes it the activity for maps meant for people.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use sopflow::engine::{self, Action, Actor, CaseState, Command};
//! use sopflow::export::{CsvWriter, ExportOptions};
//! # let sop = sopflow::parse::parse_sop("t.yaml", "id: t\nversion: 1\ntitle: T\n\
//! #   department: D\nroles: { agent: A }\nsteps:\n  - { id: a, title: Answer, role: agent, end: true }\n").unwrap();
//! # let process = sopflow::graph::compile(&sop).process.unwrap();
//! let ana = Actor::new("ana", ["agent".parse().unwrap()]);
//! let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
//! let (mut case, mut history) = (CaseState::new(), Vec::new());
//! for (id, action) in [
//!     ("c1", Action::Start { case: "T-1".into(), fields: Default::default() }),
//!     ("c2", Action::Complete { step: "a".parse().unwrap(), fields: Default::default(), item: None }),
//! ] {
//!     for event in engine::handle(&process, &case, Command::new(id, ana.clone(), action), now).unwrap() {
//!         case.apply(&event);
//!         history.push(event);
//!     }
//! }
//! let mut csv = CsvWriter::new(Vec::new(), &ExportOptions::default()).unwrap();
//! csv.write_case(&process, &history).unwrap();
//! let text = String::from_utf8(csv.finish().unwrap()).unwrap();
//! assert!(text.contains("T-1,a,2026-01-05T09:00:00.000Z,complete,ana,agent,0,completed,false,a,Answer,t,1"));
//! ```
//!
//! Architecture invariant: the writers read a case's events and the [`Process`] it ran on,
//! nothing else; they compute no statistics and never read a store or the clock.

mod csv;
mod xes;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::engine::{ActorId, CaseId, CaseStatus, Event, EventKind, FieldValues, TokenId};
use crate::graph::{NodeKind, Process};
use crate::model::{RoleId, SopId, StepId};

pub use self::csv::CsvWriter;
pub use self::xes::XesWriter;

/// Why a case could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing to the output failed.
    #[error("cannot write the event log: {0}")]
    Write(#[from] std::io::Error),
    /// The history does not begin with the case being started.
    #[error(
        "the history given does not start with a `case_started` event, so it is not a whole case: pass every event of the case, from its first"
    )]
    NotACase,
    /// The case ran on another SOP or version than the process given with it.
    #[error(
        "case `{case}` runs on SOP `{sop}` version {version}, but the process given is `{process}` version {process_version}: load the process of the case's own SOP version"
    )]
    WrongProcess {
        /// The case.
        case: CaseId,
        /// The SOP it runs.
        sop: SopId,
        /// The version it runs.
        version: u32,
        /// The SOP of the process given.
        process: SopId,
        /// The version of the process given.
        process_version: u32,
    },
}

/// What an event's activity (`concept:name`) is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ActivityName {
    /// The step id: unique within a process and stable across versions.
    #[default]
    StepId,
    /// The step's title as written (a template's text, not its rendering); the id for a
    /// step without a title.
    Title,
}

/// How a log is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// What names an activity.
    pub activity: ActivityName,
    /// The log's name (XES `concept:name` of the log).
    pub log_name: String,
}

impl Default for ExportOptions {
    fn default() -> ExportOptions {
        ExportOptions {
            activity: ActivityName::StepId,
            log_name: "sopflow".to_owned(),
        }
    }
}

/// A lifecycle transition of the XES standard lifecycle model (`lifecycle:transition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    /// The step became active and waits for someone.
    Schedule,
    /// Someone took the step, or was given it.
    Assign,
    /// The step went to someone else, or to another role.
    Reassign,
    /// The step was done: a task completed, a gate approved or rejected.
    Complete,
    /// The step was taken away before it was done: escalated, overdue or timed out.
    Withdraw,
    /// The whole case was cancelled while the step was active.
    PiAbort,
}

impl Lifecycle {
    /// The name the XES lifecycle extension gives it: `schedule`, `assign`, `reassign`,
    /// `complete`, `withdraw`, `pi_abort`.
    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::Schedule => "schedule",
            Lifecycle::Assign => "assign",
            Lifecycle::Reassign => "reassign",
            Lifecycle::Complete => "complete",
            Lifecycle::Withdraw => "withdraw",
            Lifecycle::PiAbort => "pi_abort",
        }
    }
}

/// How a step instance ended (on its last transition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A task was completed.
    Completed,
    /// A gate got the approvals it needs.
    Approved,
    /// A gate was rejected.
    Rejected,
    /// Its performer escalated it.
    Escalated,
    /// Its SLA took it away along its `overdue` path.
    Overdue,
    /// A deferred choice's timer won.
    TimedOut,
    /// The case was cancelled.
    Cancelled,
    /// It was no longer needed: a join or a task run per item had what it waits for.
    Withdrawn,
    /// The step alone was cancelled (`on_cancel`); the case went on.
    StepCancelled,
}

impl Outcome {
    /// The outcome's name: `completed`, `approved`, `rejected`, `escalated`, `overdue`,
    /// `timed_out`, `cancelled`, `withdrawn`, `step_cancelled`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Approved => "approved",
            Outcome::Rejected => "rejected",
            Outcome::Escalated => "escalated",
            Outcome::Overdue => "overdue",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
            Outcome::Withdrawn => "withdrawn",
            Outcome::StepCancelled => "step_cancelled",
        }
    }
}

/// One event of the log: a lifecycle transition of one step instance.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The step.
    pub step: StepId,
    /// The step's title as written, if it has one.
    pub title: Option<String>,
    /// The activation (token) of the step: the activity instance.
    pub instance: TokenId,
    /// The item of that activation, for a step run once per item (`for_each`).
    pub item: Option<String>,
    /// The transition.
    pub lifecycle: Lifecycle,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: see the module's table.
    pub resource: Option<ActorId>,
    /// The role that performs the step at that moment.
    pub role: Option<RoleId>,
    /// How the instance ended, on the transition that ends it.
    pub outcome: Option<Outcome>,
    /// On the transition that ends the instance: whether its SLA was breached before.
    pub sla_breached: Option<bool>,
}

impl LogEntry {
    /// The activity's name under `naming`.
    pub fn activity(&self, naming: ActivityName) -> &str {
        match (naming, &self.title) {
            (ActivityName::Title, Some(title)) => title,
            _ => self.step.as_str(),
        }
    }
}

/// One case as a trace: its attributes and its log events, in the order they happened.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseLog {
    /// The case.
    pub case: CaseId,
    /// The SOP it runs.
    pub sop: SopId,
    /// The SOP version it runs.
    pub sop_version: u32,
    /// Where it is at the end of the history.
    pub status: CaseStatus,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// When it was last closed or cancelled, if it is now.
    pub closed_at: Option<DateTime<Utc>>,
    /// Whether the case's own SLA was breached.
    pub case_sla_breached: bool,
    /// How often it was reopened.
    pub reopened: u32,
    /// The case that started it, when it is the sub-case of a call task.
    pub parent: Option<CaseId>,
    /// Every field's latest value.
    pub fields: FieldValues,
    /// The log events.
    pub entries: Vec<LogEntry>,
}

/// A step instance while it is active.
struct Open {
    step: StepId,
    /// Read once per activation rather than once per transition.
    title: Option<String>,
    token: TokenId,
    item: Option<String>,
    assignee: Option<ActorId>,
    role: Option<RoleId>,
    breached: bool,
}

impl CaseLog {
    /// Reads a case's whole history (every event from `case_started`) against the process
    /// it ran on.
    ///
    /// Events naming a step the process does not have are kept, without a title or role:
    /// a history is a fact, and the export never refuses one for that.
    pub fn new(process: &Process, events: &[Event]) -> Result<CaseLog, ExportError> {
        let Some(EventKind::CaseStarted {
            case,
            sop,
            version,
            fields,
            parent,
        }) = events.first().map(|e| &e.kind)
        else {
            return Err(ExportError::NotACase);
        };
        // A case moved onto newer versions (`case_migrated`) runs on the last of them.
        let version = crate::engine::versions_of(events)
            .last()
            .copied()
            .unwrap_or(*version);
        let version = &version;
        if sop != process.id() || *version != process.version() {
            return Err(ExportError::WrongProcess {
                case: case.clone(),
                sop: sop.clone(),
                version: *version,
                process: process.id().clone(),
                process_version: process.version(),
            });
        }
        let mut log = CaseLog {
            case: case.clone(),
            sop: sop.clone(),
            sop_version: *version,
            status: CaseStatus::Open,
            opened_at: events[0].at,
            closed_at: None,
            case_sla_breached: false,
            reopened: 0,
            parent: parent.as_ref().map(|p| p.case.clone()),
            fields: fields.clone(),
            entries: Vec::new(),
        };
        let mut open: Vec<Open> = Vec::new();
        for event in &events[1..] {
            log.read(process, &mut open, event);
        }
        Ok(log)
    }

    fn read(&mut self, process: &Process, open: &mut Vec<Open>, event: &Event) {
        let at = event.at;
        let actor = Some(event.actor.clone());
        match &event.kind {
            EventKind::StepActivated {
                step, token, item, ..
            } => {
                let role = step_role(process, step);
                let title = step_title(process, step);
                self.entries.push(LogEntry {
                    step: step.clone(),
                    title: title.clone(),
                    instance: *token,
                    item: item.clone(),
                    lifecycle: Lifecycle::Schedule,
                    at,
                    resource: None,
                    role: role.clone(),
                    outcome: None,
                    sla_breached: None,
                });
                open.push(Open {
                    step: step.clone(),
                    title,
                    token: *token,
                    item: item.clone(),
                    assignee: None,
                    role,
                    breached: false,
                });
            }
            EventKind::StepAssigned {
                token, assignee, ..
            } => {
                if let Some(instance) = open.iter_mut().find(|o| o.token == *token) {
                    let lifecycle = if instance.assignee.is_some() {
                        Lifecycle::Reassign
                    } else {
                        Lifecycle::Assign
                    };
                    instance.assignee = Some(assignee.clone());
                    self.entries
                        .push(entry(instance, lifecycle, at, Some(assignee.clone())));
                }
            }
            EventKind::StepTransferred { token, role, .. } => {
                if let Some(instance) = open.iter_mut().find(|o| o.token == *token) {
                    // The engine drops the assignee: the new role's queue holds the step,
                    // so a later claim is an `assign` again.
                    instance.assignee = None;
                    instance.role = Some(role.clone());
                    self.entries
                        .push(entry(instance, Lifecycle::Reassign, at, None));
                }
            }
            EventKind::StepCompleted { token, .. } => {
                self.end(
                    open,
                    *token,
                    Lifecycle::Complete,
                    Outcome::Completed,
                    at,
                    actor,
                );
            }
            EventKind::GateApproved { token, .. } => {
                self.end(
                    open,
                    *token,
                    Lifecycle::Complete,
                    Outcome::Approved,
                    at,
                    actor,
                );
            }
            EventKind::GateRejected { token, .. } => {
                self.end(
                    open,
                    *token,
                    Lifecycle::Complete,
                    Outcome::Rejected,
                    at,
                    actor,
                );
            }
            EventKind::StepEscalated { token, .. } => {
                self.end(
                    open,
                    *token,
                    Lifecycle::Withdraw,
                    Outcome::Escalated,
                    at,
                    actor,
                );
            }
            EventKind::WorkWithdrawn { steps, .. } => {
                for withdrawn in steps {
                    self.end(
                        open,
                        withdrawn.token,
                        Lifecycle::Withdraw,
                        Outcome::Withdrawn,
                        at,
                        actor.clone(),
                    );
                }
            }
            EventKind::StepCancelled { token, .. } => {
                self.end(
                    open,
                    *token,
                    Lifecycle::Withdraw,
                    Outcome::StepCancelled,
                    at,
                    actor,
                );
            }
            EventKind::TimerFired { token, .. } => {
                self.end(
                    open,
                    *token,
                    Lifecycle::Withdraw,
                    Outcome::TimedOut,
                    at,
                    actor,
                );
            }
            EventKind::SlaBreached {
                token, escalated, ..
            } => {
                if let Some(instance) = open.iter_mut().find(|o| o.token == *token) {
                    instance.breached = true;
                }
                if *escalated {
                    self.end(
                        open,
                        *token,
                        Lifecycle::Withdraw,
                        Outcome::Overdue,
                        at,
                        actor,
                    );
                }
            }
            EventKind::SlaLevelReached {
                token: Some(token),
                escalated: true,
                ..
            } => {
                self.end(
                    open,
                    *token,
                    Lifecycle::Withdraw,
                    Outcome::Overdue,
                    at,
                    actor,
                );
            }
            EventKind::FieldsUpdated { fields } => {
                for (field, value) in fields {
                    self.fields.insert(field.clone(), value.clone());
                }
            }
            EventKind::CaseSlaBreached => self.case_sla_breached = true,
            EventKind::CaseClosed => {
                self.status = CaseStatus::Closed;
                self.closed_at = Some(at);
                // A closed case has no active step; any left would be a broken history,
                // and inventing transitions for it would hide that.
                open.clear();
            }
            EventKind::CaseCancelled { .. } => {
                self.status = CaseStatus::Cancelled;
                self.closed_at = Some(at);
                for instance in open.drain(..) {
                    let mut aborted = entry(&instance, Lifecycle::PiAbort, at, actor.clone());
                    aborted.outcome = Some(Outcome::Cancelled);
                    aborted.sla_breached = Some(instance.breached);
                    self.entries.push(aborted);
                }
            }
            EventKind::CaseReopened { .. } => {
                self.status = CaseStatus::Open;
                self.closed_at = None;
                self.reopened += 1;
            }
            EventKind::CaseStarted { .. }
            | EventKind::SubCaseRequested { .. }
            | EventKind::SubCaseStarted { .. }
            | EventKind::SubCaseFinished { .. }
            | EventKind::ParentInformed { .. }
            | EventKind::StepPostponed { .. }
            | EventKind::ApprovalGranted { .. }
            | EventKind::DecisionTaken { .. }
            | EventKind::CaseSlaStarted { .. }
            | EventKind::SlaWarned { .. }
            | EventKind::SlaLevelReached { .. }
            | EventKind::SlaRescheduled { .. }
            | EventKind::CasePaused { .. }
            | EventKind::CaseResumed
            | EventKind::BranchesStarted { .. }
            | EventKind::BranchJoined { .. }
            | EventKind::InstancesStarted { .. }
            | EventKind::NoteAdded { .. }
            | EventKind::TimeCorrected { .. } => {}
            // Work open across a move goes on under the new version's step ids; what
            // happened before keeps the ids it happened under.
            EventKind::CaseMigrated { renamed, .. } => {
                for instance in open.iter_mut() {
                    if let Some(rename) = renamed.iter().find(|r| r.from == instance.step) {
                        instance.step = rename.to.clone();
                        instance.title = step_title(process, &instance.step);
                        instance.role = step_role(process, &instance.step);
                    }
                }
            }
        }
    }

    /// Ends the instance `token` with a transition, if it is active.
    fn end(
        &mut self,
        open: &mut Vec<Open>,
        token: TokenId,
        lifecycle: Lifecycle,
        outcome: Outcome,
        at: DateTime<Utc>,
        resource: Option<ActorId>,
    ) {
        let Some(position) = open.iter().position(|o| o.token == token) else {
            return;
        };
        let instance = open.remove(position);
        let mut ended = entry(&instance, lifecycle, at, resource);
        ended.outcome = Some(outcome);
        ended.sla_breached = Some(instance.breached);
        self.entries.push(ended);
    }
}

fn entry(
    instance: &Open,
    lifecycle: Lifecycle,
    at: DateTime<Utc>,
    resource: Option<ActorId>,
) -> LogEntry {
    LogEntry {
        step: instance.step.clone(),
        title: instance.title.clone(),
        instance: instance.token,
        item: instance.item.clone(),
        lifecycle,
        at,
        resource,
        role: instance.role.clone(),
        outcome: None,
        sla_breached: None,
    }
}

/// The role that performs a step: a task's role, a gate's approvers. A gate any of several
/// roles may decide has no one role to report.
fn step_role(process: &Process, step: &StepId) -> Option<RoleId> {
    match &process.node(process.step(step)?).kind {
        NodeKind::Task(task) => Some(task.role.clone()),
        NodeKind::Approval(gate) => match gate.by.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// A step's title on one line, as written.
fn step_title(process: &Process, step: &StepId) -> Option<String> {
    let title = process.node(process.step(step)?).title.as_ref()?;
    let line = title
        .source()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!line.is_empty()).then_some(line)
}

/// A time as both formats write it: RFC 3339 in UTC with milliseconds, which is also an
/// `xs:dateTime`.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A case status as written: `open`, `closed`, `cancelled`.
fn status_name(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::NotStarted => "not_started",
        CaseStatus::Open => "open",
        CaseStatus::Closed => "closed",
        CaseStatus::Cancelled => "cancelled",
    }
}
