//! The executor: cases move through a [`Process`](crate::graph::Process) as commands come in
//! and events come out.
//!
//! [`handle`] decides a [`Command`] against a [`CaseState`] at a time `now` and returns the
//! [`Event`]s it causes, or a [`CommandError`] saying what and why. [`CaseState::apply`]
//! folds events into state. The history of a case *is* its events; metrics and views are
//! computed from them, never stored beside them.
//!
//! Architecture invariant: the engine never reads the clock, does I/O or draws random
//! numbers. Time comes in as `now`, ids come in with commands, and the same events always
//! fold into the same state, so a case can be replayed anywhere.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use sopflow::engine::{self, Action, Actor, CaseState, Command};
//! use sopflow::model::RoleId;
//!
//! let sop = sopflow::parse::parse_sop("hello.yaml", "
//! id: hello
//! version: 1
//! title: Say hello
//! department: Customer Service
//! roles: { agent: Support team member }
//! steps:
//!   - { id: greet, title: Greet the customer, role: agent, end: true }
//! ").unwrap();
//! let process = sopflow::graph::compile(&sop).process.unwrap();
//! let ana = Actor::new("ana", [RoleId::new("agent").unwrap()]);
//! let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
//!
//! let mut case = CaseState::new();
//! let start = Command::new("c1", ana.clone(), Action::Start { case: "T-1".into(), fields: Default::default() });
//! for event in engine::handle(&process, &case, start, now).unwrap() {
//!     case.apply(&event);
//! }
//! assert_eq!(case.active_steps()[0].step.as_str(), "greet");
//!
//! let done = Command::new("c2", ana, Action::Complete { step: "greet".parse().unwrap(), fields: Default::default(), item: None });
//! for event in engine::handle(&process, &case, done, now).unwrap() {
//!     case.apply(&event);
//! }
//! assert_eq!(case.status(), engine::CaseStatus::Closed);
//! ```

mod command;
mod error;
mod event;
mod handle;
mod ids;
pub mod limits;
mod migrate;
mod notify;
mod query;
mod state;
mod verify;

pub use command::{Action, Command, FieldValues};
pub use error::CommandError;
pub use event::{
    EVENT_SCHEMA_VERSION, Event, EventKind, MigratedTimers, ParentLink, StepRename, SubCaseOutcome,
    TokenId, WithdrawnStep,
};
pub use handle::handle;
pub use ids::{Actor, ActorId, CaseId, CommandId};
pub use migrate::{MigrationError, migrate, migration_target};
#[cfg(feature = "store")]
pub(crate) use notify::notify_event;
pub use notify::{Notification, NotificationKind, Recipient, notifications};
pub use query::{
    CaseView, HistoryLines, WorkItem, WorkKind, describe, display_value, render_template,
    role_queue, view, work_items, work_queue,
};
pub use state::{
    ActiveStep, CaseClock, CaseState, CaseStatus, PendingInstances, PendingJoin, PendingTimer,
    RECENT_COMMANDS, SlaProgress, SubCase, Timer,
};
#[cfg(feature = "store")]
pub(crate) use verify::check_next;
pub use verify::{
    HistoryError, HistoryProblem, StepKind, check_history, check_history_across,
    check_history_from, versions_of,
};
