//! sopflow: standard operating procedures written in YAML, made executable.
//!
//! An ops lead writes one YAML file per SOP: roles, typed form fields, steps with
//! instructions and due times, approval gates, decisions, parallel branches and escalation
//! paths. sopflow checks it like a compiler, compiles it into a process graph, and runs
//! cases (tickets) through it, enforcing roles and four-eyes approvals and keeping every
//! change as an event.
//!
//! # The pipeline
//!
//! | stage | input → output | module |
//! |---|---|---|
//! | parse | YAML text → [`model::Sop`], every value with its line and column | [`parse`], [`model`] |
//! | compile | `Sop` → [`graph::Process`] and every [`diagnostic::Diagnostic`] (errors and lint warnings) | [`graph`] |
//! | execute | `(CaseState, Command, now)` → `Vec<Event>`, pure: time is passed in | [`engine`] |
//! | persist | events → a memory, SQLite or PostgreSQL store (feature `store` and its backends) | `store` |
//! | draw | `Process` → Mermaid, Graphviz DOT or SVG | [`render`] |
//! | compare | two versions of an SOP → a located, semantic diff | [`versions`] |
//! | export | case histories → XES and CSV event logs for process mining (feature `export`) | `export` |
//! | measure | case histories → KPIs and process statistics per period and segment | [`metrics`] |
//!
//! Timers count working time in a business-hours [`calendar`] (time zone, hours per
//! weekday, holidays); service levels (due times per priority, warnings, escalation
//! ladders, a case SLA, pausing) are compiled into [`graph::StepTimers`] and run by the
//! engine, and the events they cause call for [`engine::notifications`].
//!
//! [`load`] runs the first two stages on a file's bytes and [`check`] lists every problem
//! of a source, as `sop validate` does.
//!
//! # From an SOP to a case
//!
//! Load an SOP, show its diagnostics if it has errors, start a case, complete two steps,
//! then ask what is active and who may act:
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use sopflow::diagnostic::render_human;
//! use sopflow::engine::{self, Action, Actor, CaseState, Command, FieldValues};
//! use sopflow::model::FieldValue;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let text = "
//! id: password-reset
//! version: 1
//! title: Password reset request
//! department: Customer Service
//! roles:
//!   agent: Support team member
//!   team_lead: Team leader
//! fields:
//!   verified: { type: bool, required: true }
//! steps:
//!   - { id: receive, title: Receive the request, role: agent }
//!   - { id: verify, title: Verify the customer, role: agent, collects: [verified] }
//!   - id: approve
//!     title: Approve the reset
//!     approval: { by: team_lead, reviews: [verify], on_reject: verify }
//!   - { id: reset, title: Send the reset link, role: agent, end: true }
//! ";
//! let loaded = sopflow::load("password-reset.yaml", text.as_bytes());
//! let Some(process) = loaded.process else {
//!     // Every problem, rustc-style, with file:line:column and a hint.
//!     eprint!("{}", render_human(&loaded.source, &loaded.diagnostics, false));
//!     return Err("password-reset.yaml has errors".into());
//! };
//!
//! let ana = Actor::new("ana", ["agent".parse()?]);
//! let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).single().ok_or("bad time")?;
//! let mut case = CaseState::new();
//! let mut send = |command: Command| -> Result<(), engine::CommandError> {
//!     // Pure: the same state, command and time always give the same events. An app
//!     // stores the events (see `sopflow::store`) and folds them into its state.
//!     for event in engine::handle(&process, &case, command, now)? {
//!         case.apply(&event);
//!     }
//!     Ok(())
//! };
//! send(Command::new("c1", ana.clone(), Action::Start { case: "T-1".into(), fields: FieldValues::new() }))?;
//! send(Command::new("c2", ana.clone(), Action::Complete { step: "receive".parse()?, fields: FieldValues::new(), item: None }))?;
//! let verified = FieldValues::from([("verified".parse()?, FieldValue::Bool(true))]);
//! send(Command::new("c3", ana.clone(), Action::Complete { step: "verify".parse()?, fields: verified, item: None }))?;
//!
//! let work = engine::work_items(&process, &case);
//! assert_eq!(work[0].step.as_str(), "approve");
//! assert_eq!(work[0].role.as_ref().map(|r| r.as_str()), Some("team_lead"));
//! // Four eyes: ana performed the reviewed step, so she may not approve it.
//! assert!(!work[0].actionable_by(&Actor::new("ana", ["team_lead".parse()?]), now));
//! assert!(work[0].actionable_by(&Actor::new("lee", ["team_lead".parse()?]), now));
//! # Ok(())
//! # }
//! ```
//!
//! # Cargo features
//!
//! | feature | default | gives |
//! |---|---|---|
//! | `cli` | yes | the `sop` binary (clap, indicatif, ignore); implies `store`, `schema` and `export` |
//! | `sqlite` | yes | the SQLite store, one file (bundled SQLite, built from C) |
//! | `postgres` | no | the PostgreSQL store, for several app instances sharing the work |
//! | `store` | with a backend | `sopflow::store`: the `CaseStore` trait, the memory store, the blocking wrapper (tokio) |
//! | `export` | with `cli` | `sopflow::export`: case histories as XES and CSV event logs for process mining (quick-xml, csv) |
//! | `schema` | with `cli` | `sopflow::schema`: the JSON Schema of the SOP format (schemars) |
//!
//! An app that only parses, compiles, runs and draws SOPs uses
//! `sopflow = { version = "0.1", default-features = false }`.
//!
//! # Input safety
//!
//! Parsing never panics and bounds what it reads (size, nesting, YAML nodes, aliases): see
//! [`parse`]. The engine refuses a command it cannot apply with a [`engine::CommandError`]
//! and changes nothing.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod calendar;
pub mod diagnostic;
pub mod engine;
#[cfg(feature = "export")]
pub mod export;
pub mod graph;
pub mod metrics;
pub mod model;
pub mod parse;
pub mod render;
pub mod scenario;
#[cfg(feature = "schema")]
pub mod schema;
pub mod simulate;
#[cfg(feature = "store")]
pub mod store;
pub mod versions;

use diagnostic::{Diagnostic, SourceFile};

/// Every problem in one SOP source, in source order: what `sop validate` reports.
///
/// Parses the text and, when it parses, compiles it and runs every lint. Never stops at
/// the first problem and never panics, whatever the input.
///
/// ```
/// use sopflow::diagnostic::SourceFile;
/// let source = SourceFile::new("broken.yaml", "id: a\ntitel: Oops\n");
/// let diagnostics = sopflow::check(&source);
/// assert_eq!(diagnostics[0].code.name(), "unknown-key");
/// assert_eq!(diagnostics[0].span.line, 2);
/// ```
pub fn check(source: &SourceFile) -> Vec<Diagnostic> {
    match parse::parse_sop_all(&source.name, &source.text) {
        Ok(sop) => graph::compile_with_source(&sop, Some(&source.text)).diagnostics,
        Err(errors) => errors
            .iter()
            .map(parse::ParseError::to_diagnostic)
            .collect(),
    }
}

/// An SOP read from a file: its text, the compiled process when there is no error, and
/// every diagnostic in source order.
#[derive(Debug)]
pub struct Loaded {
    /// The text, for rendering diagnostics (invalid UTF-8 replaced by `�`).
    pub source: SourceFile,
    /// The compiled process; `None` when any diagnostic is an error.
    pub process: Option<graph::Process>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and compiles SOP bytes as read from a file: text that is not UTF-8 is an error
/// located at the first bad byte, never silently replaced.
///
/// ```
/// let loaded = sopflow::load("t.yaml", b"id: a\ntitle: \xff\n");
/// assert_eq!(loaded.diagnostics[0].code.name(), "input-limit");
/// assert!(loaded.process.is_none());
/// ```
pub fn load(name: &str, bytes: &[u8]) -> Loaded {
    let source = SourceFile::new(name, String::from_utf8_lossy(bytes).into_owned());
    let (process, diagnostics) = match parse::parse_sop_bytes_all(name, bytes) {
        Ok(sop) => {
            let compilation = graph::compile_with_source(&sop, std::str::from_utf8(bytes).ok());
            (compilation.process, compilation.diagnostics)
        }
        Err(errors) => (
            None,
            errors
                .iter()
                .map(parse::ParseError::to_diagnostic)
                .collect(),
        ),
    };
    Loaded {
        source,
        process,
        diagnostics,
    }
}
