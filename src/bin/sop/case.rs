//! `sop case`: run cases of an SOP from the command line, kept in a store (`--db`, SQLite
//! by default).
//!
//! Every command that changes a case has an idempotency key: `--request-id` when given,
//! otherwise a digest of everything the command says (case, action, step, fields, reason,
//! actor and roles, time). Two different commands are never taken for one, and the same
//! command sent twice (a script that retries, with the same `--now`) applies once. When
//! several people act on one case at once, a command that loses the race is decided again
//! on the case as it now is, up to [`ATTEMPTS`] times.
//!
//! Exit codes: see [`Exit`]. A command that fails writes nothing.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::output::{Output, OutputFormat};
use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use serde_json::json;
use sopflow::diagnostic;
use sopflow::engine::{
    self, Action, Actor, ActorId, CaseId, CaseState, CaseStatus, Command, CommandError, Event,
    FieldValues, HistoryLines, SubCaseOutcome, WorkKind,
};
use sopflow::graph::{NamedCalendar, Process};
use sopflow::model::{FieldId, FieldType, FieldValue, RoleId, SopId, StepId};
use sopflow::store::{
    BlockingStore, CaseFilter, ExecuteError, Executed, Link, Links, Processes, StoreError,
    StoredCase,
};

#[path = "migrate.rs"]
mod migrate;
#[path = "notifications.rs"]
mod notifications;
#[path = "verify.rs"]
mod verify;

/// How often a command that met a concurrent change is decided again before giving up.
const ATTEMPTS: u32 = 20;

/// How many timers held by other workers `sop case tick` lists.
const HELD_TIMERS_SHOWN: u32 = 100;

/// The worker name under which `sop case tick` claims due timers: one per process, so a
/// claim held by a tick that died names it.
fn timer_owner() -> String {
    format!("sop-cli-{}", std::process::id())
}

/// The exit codes of `sop case`, distinct so a script can tell what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// 1: the SOP's rules refused the command (wrong role, step not active, four eyes,
    /// invalid field value, an SOP file with errors). Nothing was written.
    Refused = 1,
    /// 2: a usage error (bad arguments), or the store or a file could not be read or
    /// written.
    Usage = 2,
    /// 3: the case, its SOP version or the store does not exist.
    NotFound = 3,
    /// 4: the case kept changing under the command ([`ATTEMPTS`] tries): nothing was
    /// written; send it again.
    Conflict = 4,
}

impl Exit {
    fn name(self) -> &'static str {
        match self {
            Exit::Refused => "refused",
            Exit::Usage => "usage",
            Exit::NotFound => "not_found",
            Exit::Conflict => "conflict",
        }
    }
}

#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 done (or already done: a repeated command applies once), \
1 refused by the SOP's rules, 2 usage or I/O error, 3 case, SOP version or store not found, \
4 the case kept changing under the command (send it again).\n\nWho may act: while nobody is in \
the store's directory of people, `--as ACTOR:ROLE` is taken as typed. Once anyone is \
(`sop people add`), `--as` must name an active person there, and each role typed must be one \
they hold (refused with exit 1 otherwise); `--as ACTOR` acts with all their roles."
)]
pub struct CaseArgs {
    /// The store: `sqlite:PATH` or `postgres://user:password@host/db`. Only `start` creates
    /// a SQLite file; every other command needs an existing store
    #[arg(
        long,
        global = true,
        value_name = "URL",
        default_value = sopflow::store::DEFAULT_URL
    )]
    db: String,
    #[command(subcommand)]
    command: CaseCommand,
}

/// The active step a command acts on: its id, and its item when it runs once per item.
#[derive(clap::Args)]
struct ActiveStepArg {
    /// The step
    step: String,
    /// Which item, on a step run once per item (`for_each`) with several active
    #[arg(long)]
    item: Option<String>,
}

impl ActiveStepArg {
    fn step(&self) -> Result<StepId, Failure> {
        parse_step(&self.step)
    }
}

/// Options of every command an actor sends.
#[derive(clap::Args)]
struct Acting {
    /// Who acts: `ana` (with her roles from the directory of people, `sop people`), or
    /// `ana:support_agent`, `lee:team_leader,qa_manager`. Once anyone is in the directory,
    /// the actor must be active there and hold every role typed; with nobody in it, the
    /// roles are taken as typed
    #[arg(long = "as", value_name = "ACTOR[:ROLE[,ROLE]]")]
    actor: String,
    /// The time of the command, RFC 3339 (`2026-01-05T09:00:00Z`); default now
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    /// Accept a `--now` more than a day ahead of this machine's clock. A case refuses every
    /// command older than its latest event, so one mistyped year blocks it until then
    #[arg(long)]
    allow_future: bool,
    /// The command's idempotency key: sending the same request id to a case again
    /// applies the command once. Default: a digest of everything the command says
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(Subcommand)]
enum CaseCommand {
    /// Start a case on an SOP file (the SOP version is stored with it)
    Start {
        /// The SOP file
        file: PathBuf,
        /// The case id; default the next number of `--prefix`, given out by the store
        #[arg(long)]
        id: Option<String>,
        /// The prefix of numbered case ids
        #[arg(long, default_value = "T-", conflicts_with = "id")]
        prefix: String,
        /// Initial field values, by the field's type: `priority=High`, `csat=4`, `tags=A,B`
        #[arg(long = "field", value_name = "FIELD=VALUE")]
        fields: Vec<String>,
        /// An SOP file its call steps start cases of (`call: { sop: ... }`), stored with
        /// it; repeat for several
        #[arg(long = "sop", value_name = "FILE")]
        called: Vec<PathBuf>,
        #[command(flatten)]
        acting: Acting,
    },
    /// List cases, by id
    List {
        /// Only cases in this status
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only cases on this SOP
        #[arg(long, value_name = "ID")]
        sop: Option<String>,
        /// Only cases with an active step for this role (its work queue)
        #[arg(long)]
        role: Option<String>,
        /// The work queue of one person instead: the active steps of open cases they may
        /// act on now (their roles from the directory of people, or as typed while it is
        /// empty; steps assigned to them included)
        #[arg(long = "as", visible_alias = "mine", value_name = "ACTOR[:ROLE[,ROLE]]", conflicts_with_all = ["status", "role"])]
        actor: Option<String>,
        /// The time the queue is for (steps on hold until later are left out), RFC 3339;
        /// default now
        #[arg(long, value_name = "TIME", requires = "actor")]
        now: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Show a case: status, fields, active steps and who may act, due times, history
    Show {
        /// The case id
        id: String,
        /// The time to count the working time left from, RFC 3339; default now
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Draw a case's SOP with the path it took, its active steps and breached SLAs
    Graph {
        /// The case id
        id: String,
        /// Chart format: mermaid, dot or svg
        #[arg(long, default_value = "mermaid")]
        format: String,
        /// Write to this file instead of standard output
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Complete a task, filling in its fields
    Complete {
        /// The case id
        id: String,
        #[command(flatten)]
        target: ActiveStepArg,
        /// Field values, by the field's type: `priority=High`, `csat=4`, `resolved=true`, `tags=A,B`
        #[arg(long = "field", value_name = "FIELD=VALUE")]
        fields: Vec<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Approve an approval gate
    Approve {
        /// The case id
        id: String,
        /// The gate
        step: String,
        /// A remark for the history
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Reject an approval gate: the case goes back for rework
    Reject {
        /// The case id
        id: String,
        /// The gate
        step: String,
        /// Why
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Cancel one active step on its own, where the SOP allows it (`on_cancel`): the case
    /// goes on at the step `on_cancel` names
    CancelStep {
        /// The case id
        id: String,
        /// The step
        step: String,
        /// Why
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Escalate an active step along its escalation path
    Escalate {
        /// The case id
        id: String,
        #[command(flatten)]
        target: ActiveStepArg,
        /// Why
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Add a note to the case's history
    Note {
        /// The case id
        id: String,
        /// The note
        text: String,
        /// The step the note is about
        #[arg(long)]
        step: Option<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Change field values outside any step
    Set {
        /// The case id
        id: String,
        /// Field values, by the field's type: `priority=High`, `csat=4`, `resolved=true`, `tags=A,B`
        #[arg(long = "field", value_name = "FIELD=VALUE", required = true)]
        fields: Vec<String>,
        #[command(flatten)]
        acting: Acting,
    },
    /// Take an active step: it becomes your work item
    Claim {
        /// The case id
        id: String,
        #[command(flatten)]
        target: ActiveStepArg,
        #[command(flatten)]
        acting: Acting,
    },
    /// Give an active step to someone: it becomes their work item
    Assign {
        /// The case id
        id: String,
        #[command(flatten)]
        target: ActiveStepArg,
        /// Who gets it (an actor id)
        #[arg(long, value_name = "ACTOR")]
        to: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Hand an active step to another role
    Transfer {
        /// The case id
        id: String,
        #[command(flatten)]
        target: ActiveStepArg,
        /// The role that takes it over
        #[arg(long, value_name = "ROLE")]
        to: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Put an active step on hold until a time: it leaves work queues and its SLA clock
    /// stops until then
    Postpone {
        /// The case id
        id: String,
        #[command(flatten)]
        target: ActiveStepArg,
        /// When it comes back, RFC 3339 (`2026-01-07T09:00:00Z`)
        #[arg(long, value_name = "TIME")]
        until: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Pause the case while it waits on the customer: pausable SLA clocks stop until
    /// `resume`, and go on with the working time they had left
    Pause {
        /// The case id
        id: String,
        /// What the case waits for
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Resume a paused case: its pausable SLA clocks run again
    Resume {
        /// The case id
        id: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// List the notifications waiting to be delivered (or a case's), or acknowledge them
    Notifications(notifications::NotificationsArgs),
    /// Cancel the case
    Cancel {
        /// The case id
        id: String,
        /// Why
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Reopen a closed or cancelled case
    Reopen {
        /// The case id
        id: String,
        /// Why
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Check that stored histories are untouched (hash chain) and fit their SOP version;
    /// exit 1 when a case is damaged
    Verify(verify::VerifyArgs),
    /// Move the open cases of an SOP onto a newer version of it (its `migrate:` section
    /// says where work in renamed or removed steps goes); `--dry-run` only reports
    Migrate(migrate::MigrateArgs),
    /// Set a case's clock back to now (or `--now`) when its latest event was stamped in the
    /// future by mistake; history keeps the wrong time and this correction
    CorrectTime {
        /// The case id
        id: String,
        /// Why
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Fire the due timers of every case (SLA breaches, timeouts) and print what fired
    Tick {
        /// The time to fire timers at, RFC 3339; default now
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Accept a `--now` more than a day ahead of this machine's clock (it would breach
        /// every SLA due until then, for good)
        #[arg(long)]
        allow_future: bool,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum StatusArg {
    Open,
    Closed,
    Cancelled,
}

/// Why a `sop case` command failed: the message and the exit code.
struct Failure {
    exit: Exit,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Usage,
            message: message.into(),
        }
    }

    fn refused(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Refused,
            message: message.into(),
        }
    }
}

/// Where the command runs: the store's URL (for messages) and how to print.
struct Context {
    db: String,
    format: OutputFormat,
}

impl Context {
    /// The store URL as it may be shown: without a password.
    fn store_name(&self) -> String {
        sopflow::store::url_without_password(&self.db)
    }

    /// A store error as the user should read it: with the store it happened in.
    fn store_failure(&self, error: StoreError) -> Failure {
        let exit = match &error {
            StoreError::NotFound { .. } | StoreError::SopNotFound { .. } => Exit::NotFound,
            StoreError::NoStore { .. } => Exit::NotFound,
            StoreError::Conflict { .. } => Exit::Conflict,
            StoreError::SopVersionExists { .. } | StoreError::InvalidSop { .. } => Exit::Refused,
            _ => Exit::Usage,
        };
        let message = match &error {
            StoreError::NotFound { case } => {
                format!(
                    "case `{case}` does not exist in the store `{}`",
                    self.store_name()
                )
            }
            StoreError::NoStore { .. } => error.to_string(),
            StoreError::UnsupportedUrl { reason, .. } => {
                format!("cannot open the store `{}`: {reason}", self.store_name())
            }
            _ => format!("{error} (store `{}`)", self.store_name()),
        };
        Failure { exit, message }
    }

    fn execute_failure(&self, error: ExecuteError) -> Failure {
        match error {
            ExecuteError::Refused(refused) => Failure::refused(refused.to_string()),
            ExecuteError::Store(store) => self.store_failure(store),
            other => Failure::usage(other.to_string()),
        }
    }

    fn open(&self) -> Result<BlockingStore, Failure> {
        BlockingStore::open(&self.db).map_err(|e| self.store_failure(e))
    }

    fn open_existing(&self) -> Result<BlockingStore, Failure> {
        BlockingStore::open_existing(&self.db).map_err(|e| self.store_failure(e))
    }

    /// Prints a result: the JSON object, or the human lines.
    fn print(&self, json: impl FnOnce() -> serde_json::Value, human: impl FnOnce() -> String) {
        match self.format {
            OutputFormat::Json => crate::output::stdout(&format!("{}\n", json())),
            OutputFormat::Human => crate::output::human(&human()),
        }
    }
}

type Outcome = Result<(), Failure>;

/// Runs `sop case …`.
pub fn run(args: CaseArgs) -> ExitCode {
    let format = match &args.command {
        CaseCommand::Start { acting, .. }
        | CaseCommand::Complete { acting, .. }
        | CaseCommand::Approve { acting, .. }
        | CaseCommand::Reject { acting, .. }
        | CaseCommand::Escalate { acting, .. }
        | CaseCommand::CancelStep { acting, .. }
        | CaseCommand::Note { acting, .. }
        | CaseCommand::Set { acting, .. }
        | CaseCommand::Claim { acting, .. }
        | CaseCommand::Assign { acting, .. }
        | CaseCommand::Transfer { acting, .. }
        | CaseCommand::Postpone { acting, .. }
        | CaseCommand::Cancel { acting, .. }
        | CaseCommand::Pause { acting, .. }
        | CaseCommand::Resume { acting, .. }
        | CaseCommand::Reopen { acting, .. }
        | CaseCommand::CorrectTime { acting, .. } => acting.output.format,
        CaseCommand::List { output, .. }
        | CaseCommand::Show { output, .. }
        | CaseCommand::Tick { output, .. } => output.format,
        CaseCommand::Verify(args) => args.output.format,
        CaseCommand::Migrate(args) => args.output.format,
        CaseCommand::Notifications(args) => args.output.format,
        CaseCommand::Graph { .. } => OutputFormat::Human,
    };
    let context = Context {
        db: args.db.clone(),
        format,
    };
    match dispatch(&context, args.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // An empty message: the command has printed its own report (verify).
            match format {
                _ if failure.message.is_empty() => {}
                OutputFormat::Json => {
                    let error = json!({"error": {
                        "kind": failure.exit.name(),
                        "message": failure.message,
                        "exit": failure.exit as u8,
                        "store": context.store_name(),
                    }});
                    crate::output::stdout(&format!("{error}\n"));
                }
                OutputFormat::Human => {
                    eprintln!("error: {}", crate::output::printable(&failure.message));
                }
            }
            ExitCode::from(failure.exit as u8)
        }
    }
}

fn dispatch(cx: &Context, command: CaseCommand) -> Outcome {
    match command {
        CaseCommand::Start {
            file,
            id,
            prefix,
            fields,
            called,
            acting,
        } => start(cx, &file, id, &prefix, &fields, &called, &acting),
        CaseCommand::List {
            actor: Some(actor),
            sop,
            now,
            ..
        } => work_queue(cx, &actor, sop, now.as_deref()),
        CaseCommand::List {
            status, sop, role, ..
        } => list(cx, status, sop, role),
        CaseCommand::Show { id, now, .. } => show(cx, &id, now.as_deref()),
        CaseCommand::Graph { id, format, output } => graph(cx, &id, &format, output.as_deref()),
        CaseCommand::Complete {
            id,
            target,
            fields,
            acting,
        } => send(cx, &id, &acting, |process| {
            Ok(Action::Complete {
                step: target.step()?,
                fields: parse_fields(process, &fields)?,
                item: target.item,
            })
        }),
        CaseCommand::Approve {
            id,
            step,
            comment,
            acting,
        } => send(cx, &id, &acting, |_| {
            Ok(Action::Approve {
                step: parse_step(&step)?,
                comment,
            })
        }),
        CaseCommand::Reject {
            id,
            step,
            reason,
            acting,
        } => send(cx, &id, &acting, |_| {
            Ok(Action::Reject {
                step: parse_step(&step)?,
                reason,
            })
        }),
        CaseCommand::Escalate {
            id,
            target,
            reason,
            acting,
        } => send(cx, &id, &acting, |_| {
            Ok(Action::Escalate {
                step: target.step()?,
                reason,
                item: target.item,
            })
        }),
        CaseCommand::CancelStep {
            id,
            step,
            reason,
            acting,
        } => send(cx, &id, &acting, |_| {
            Ok(Action::CancelStep {
                step: parse_step(&step)?,
                reason,
            })
        }),
        CaseCommand::Note {
            id,
            text,
            step,
            acting,
        } => send(cx, &id, &acting, |_| {
            Ok(Action::AddNote {
                text,
                step: step.as_deref().map(parse_step).transpose()?,
            })
        }),
        CaseCommand::Set { id, fields, acting } => send(cx, &id, &acting, |process| {
            Ok(Action::UpdateFields {
                fields: parse_fields(process, &fields)?,
            })
        }),
        CaseCommand::Claim { id, target, acting } => send(cx, &id, &acting, |_| {
            Ok(Action::Claim {
                step: target.step()?,
                item: target.item,
            })
        }),
        CaseCommand::Assign {
            id,
            target,
            to,
            acting,
        } => send(cx, &id, &acting, |_| {
            if to.trim().is_empty() {
                return Err(Failure::usage("--to names no actor"));
            }
            Ok(Action::Assign {
                step: target.step()?,
                assignee: ActorId::new(to.trim()),
                item: target.item,
            })
        }),
        CaseCommand::Transfer {
            id,
            target,
            to,
            acting,
        } => send(cx, &id, &acting, |_| {
            Ok(Action::Transfer {
                step: target.step()?,
                to: RoleId::new(&to).map_err(|e| Failure::usage(format!("--to `{to}`: {e}")))?,
                item: target.item,
            })
        }),
        CaseCommand::Postpone {
            id,
            target,
            until,
            acting,
        } => send(cx, &id, &acting, |_| {
            Ok(Action::Postpone {
                step: target.step()?,
                until: parse_time("--until", &until)?,
                item: target.item,
            })
        }),
        CaseCommand::Cancel { id, reason, acting } => {
            send(cx, &id, &acting, |_| Ok(Action::Cancel { reason }))
        }
        CaseCommand::Reopen { id, reason, acting } => {
            send(cx, &id, &acting, |_| Ok(Action::Reopen { reason }))
        }
        CaseCommand::Pause { id, reason, acting } => {
            send(cx, &id, &acting, |_| Ok(Action::Pause { reason }))
        }
        CaseCommand::Resume { id, acting } => send(cx, &id, &acting, |_| Ok(Action::Resume)),
        CaseCommand::Notifications(args) => notifications::notifications(cx, args),
        CaseCommand::CorrectTime { id, reason, acting } => {
            send(cx, &id, &acting, |_| Ok(Action::CorrectTime { reason }))
        }
        CaseCommand::Tick {
            now, allow_future, ..
        } => tick(cx, now.as_deref(), allow_future),
        CaseCommand::Verify(args) => verify::verify(cx, args),
        CaseCommand::Migrate(args) => migrate::migrate(cx, args),
    }
}

/// An RFC 3339 time given in option `option`.
fn parse_time(option: &str, text: &str) -> Result<DateTime<Utc>, Failure> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            Failure::usage(format!(
                "{option} `{text}` is not an RFC 3339 time like 2026-01-05T09:00:00Z: {e}"
            ))
        })
}

/// `--now`, or the clock (read again on every attempt, so a retried command is never
/// older than what another process wrote meanwhile).
fn parse_now(now: Option<&str>) -> Result<DateTime<Utc>, Failure> {
    match now {
        None => Ok(Utc::now()),
        Some(text) => parse_time("--now", text),
    }
}

/// How far ahead of this machine's clock `--now` may be without `--allow-future`.
const MAX_AHEAD: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// Refuses a `--now` far ahead of the clock: once a case holds an event at that time, it
/// refuses every command stamped earlier, and history is never rewritten.
fn check_not_future(now: DateTime<Utc>, allow_future: bool) -> Result<(), Failure> {
    if !allow_future && now > Utc::now() + MAX_AHEAD {
        return Err(Failure::usage(format!(
            "--now {} is more than a day ahead of this machine's clock; a case refuses every \
             command older than its latest event, so this would block it until then. \
             Pass --allow-future if that is what you mean",
            now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )));
    }
    Ok(())
}

/// How far the clock of another process (or machine) may be ahead of ours before a
/// command without `--now` is refused for coming before the case's latest event.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// The time of a command on each attempt: `--now`, or the clock, but never before the
/// case's latest event when that is only a skew away.
struct Clock {
    given: Option<DateTime<Utc>>,
    not_before: Option<DateTime<Utc>>,
}

impl Clock {
    fn new(now: Option<&str>, allow_future: bool) -> Result<Clock, Failure> {
        let given = now.map(|t| parse_time("--now", t)).transpose()?;
        if let Some(given) = given {
            check_not_future(given, allow_future)?;
        }
        Ok(Clock {
            given,
            not_before: None,
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.given
            .unwrap_or_else(|| Utc::now().max(self.not_before.unwrap_or(DateTime::UNIX_EPOCH)))
    }

    /// Takes in a failure: `Ok` when it was only the clock lagging behind the case's
    /// latest event (written by a process whose clock runs a little ahead), which the next
    /// attempt avoids; the failure itself otherwise.
    fn behind(&mut self, error: ExecuteError) -> Result<(), ExecuteError> {
        match &error {
            ExecuteError::Refused(CommandError::TimeWentBackwards { now, last })
                if self.given.is_none() && *last - *now <= CLOCK_SKEW =>
            {
                self.not_before = Some(*last);
                Ok(())
            }
            _ => Err(error),
        }
    }
}

/// `ana:support_agent,team_leader` → the actor `ana` with two roles.
fn parse_actor(text: &str) -> Result<Actor, Failure> {
    let (id, roles) = text.split_once(':').unwrap_or((text, ""));
    let id = id.trim();
    if id.is_empty() {
        return Err(Failure::usage(format!(
            "--as `{text}` names no actor; write ACTOR[:ROLE[,ROLE]], e.g. ana or ana:support_agent"
        )));
    }
    let roles = roles
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            RoleId::new(r).map_err(|e| Failure::usage(format!("--as `{text}`: role `{r}`: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Actor::new(id, roles))
}

/// The actor `--as` names, checked against the store's directory of people when anyone is
/// in it ([`crate::people::checked_actor`]): refused (exit 1) when the directory disagrees.
fn checked_actor(cx: &Context, store: &BlockingStore, typed: Actor) -> Result<Actor, Failure> {
    crate::people::checked_actor(store, typed).map_err(|check| match check {
        crate::people::ActorCheck::Refused(message) => Failure::refused(message),
        crate::people::ActorCheck::Store(error) => cx.store_failure(error),
    })
}

fn parse_step(text: &str) -> Result<StepId, Failure> {
    StepId::new(text).map_err(|e| Failure::usage(format!("step `{text}`: {e}")))
}

/// `--field k=v` values, each parsed by the type of its field in `process`, with the
/// rules YAML has in an SOP file (`true`/`false` only for a bool).
fn parse_fields(process: &Process, fields: &[String]) -> Result<FieldValues, Failure> {
    let mut values = FieldValues::new();
    for assignment in fields {
        let Some((name, text)) = assignment.split_once('=') else {
            return Err(Failure::usage(format!(
                "--field `{assignment}` is not FIELD=VALUE"
            )));
        };
        let name = name.trim();
        let id = FieldId::new(name).map_err(|e| Failure::usage(format!("field `{name}`: {e}")))?;
        let Some(spec) = process.field(&id) else {
            let known: Vec<&str> = process.fields().iter().map(|f| f.id.as_str()).collect();
            let hint = known
                .iter()
                .filter(|k| strsim::jaro_winkler(k, name) > 0.8)
                .max_by(|a, b| {
                    strsim::jaro_winkler(a, name).total_cmp(&strsim::jaro_winkler(b, name))
                })
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            return Err(Failure::usage(format!(
                "SOP `{}` has no field `{name}`; {hint}its fields: {}",
                process.id(),
                known.join(", ")
            )));
        };
        let bad = |kind: &str| {
            Failure::usage(format!(
                "field `{name}` is {kind}: `{text}` is not one (--field {assignment})"
            ))
        };
        let value = match spec.field_type {
            FieldType::Integer => FieldValue::Integer(
                text.trim()
                    .parse()
                    .map_err(|_| bad("an integer (a whole number)"))?,
            ),
            FieldType::Number => {
                let number: f64 = text.trim().parse().map_err(|_| bad("a number"))?;
                if !number.is_finite() {
                    return Err(bad("a finite number"));
                }
                FieldValue::Number(number)
            }
            FieldType::Bool => match text.trim() {
                "true" => FieldValue::Bool(true),
                "false" => FieldValue::Bool(false),
                _ => return Err(bad("a yes/no field, written `true` or `false`")),
            },
            FieldType::MultiChoice => FieldValue::List(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => FieldValue::Text(text.to_owned()),
        };
        values.insert(id, value);
    }
    Ok(values)
}

/// The command id: the `--request-id`, or a digest of everything the command says, so
/// that two different commands never share an id and a repeated one does.
fn command_id(
    case: &CaseId,
    actor: &Actor,
    action: &Action,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> String {
    if let Some(request) = request_id {
        return format!("request:{request}");
    }
    let said = json!({
        "case": case,
        "actor": actor,
        "action": action,
        "at": now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    });
    format!("cli:{:032x}", fnv1a_128(said.to_string().as_bytes()))
}

/// FNV-1a, 128 bits: stable across builds and platforms (unlike `DefaultHasher`), and
/// wide enough that two commands on one case never collide by chance.
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes.iter().fold(OFFSET, |hash, &b| {
        (hash ^ u128::from(b)).wrapping_mul(PRIME)
    })
}

/// Waits a little before deciding a command again, longer each time and different per
/// process, so racing processes do not meet again at once.
fn back_off(attempt: u32) {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() % 7_000_000) as u64;
    let millis = 2 * u64::from(attempt.min(10)) + jitter / 1_000_000;
    std::thread::sleep(std::time::Duration::from_millis(millis));
}

/// A time as people read it, with its zone.
fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `sop case start`.
fn start(
    cx: &Context,
    file: &Path,
    id: Option<String>,
    prefix: &str,
    fields: &[String],
    called: &[PathBuf],
    acting: &Acting,
) -> Outcome {
    let typed = parse_actor(&acting.actor)?;
    // A store that does not exist yet has nobody in its directory, and a refused start
    // must not create it.
    let actor = match BlockingStore::open_existing(&cx.db) {
        Ok(store) => checked_actor(cx, &store, typed)?,
        Err(StoreError::NoStore { .. }) => typed,
        Err(error) => return Err(cx.store_failure(error)),
    };
    if acting.request_id.is_some() && id.is_none() {
        return Err(Failure::usage(
            "--request-id on `start` needs --id: a repeated start finds its case by id",
        ));
    }
    let explicit = match id {
        Some(id) if id.trim().is_empty() => return Err(Failure::usage("--id is empty")),
        Some(id) => Some(CaseId::new(id.trim())),
        None => None,
    };
    if prefix.trim().is_empty() {
        return Err(Failure::usage("--prefix is empty"));
    }
    let bytes = std::fs::read(file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
    let name = file.display().to_string();
    let loaded = sopflow::load(&name, &bytes);
    let Some(process) = loaded.process else {
        let color = std::io::stderr().is_terminal();
        eprint!(
            "{}",
            diagnostic::render_human(&loaded.source, &loaded.diagnostics, color)
        );
        return Err(Failure::refused(format!("{name} has errors")));
    };
    let fields = parse_fields(&process, fields)?;
    let mut clock = Clock::new(acting.now.as_deref(), acting.allow_future)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Failure::usage(format!("{} is not UTF-8: {e}", file.display())))?;
    // Decide on an empty case first, so that a refused start stores nothing, not even the
    // SOP text or a case number.
    let probe = Action::Start {
        case: explicit.clone().unwrap_or_else(|| CaseId::new(prefix)),
        fields: fields.clone(),
    };
    engine::handle(
        &process,
        &CaseState::new(),
        Command::new("probe", actor.clone(), probe),
        clock.now(),
    )
    .map_err(|e| Failure::refused(e.to_string()))?;
    // The SOPs its call steps start cases of, each read and stored before anything starts.
    let mut called_sops = Vec::with_capacity(called.len());
    for path in called {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
        called_sops.push((path.display().to_string(), text));
    }
    check_calls(&name, text.as_bytes(), &called_sops)?;
    let store = cx.open()?;
    for (name, text) in &called_sops {
        store
            .save_sop(name, text)
            .map_err(|e| cx.store_failure(e))?;
    }
    let process = store
        .save_sop(&name, &text)
        .map_err(|e| cx.store_failure(e))?;
    for attempt in 0..ATTEMPTS {
        let case = match &explicit {
            Some(case) => case.clone(),
            None => store
                .allocate_case_id(prefix)
                .map_err(|e| cx.store_failure(e))?,
        };
        let now = clock.now();
        let action = Action::Start {
            case: case.clone(),
            fields: fields.clone(),
        };
        let id = command_id(&case, &actor, &action, now, acting.request_id.as_deref());
        let command = Command::new(id, actor.clone(), action);
        match store.execute(&process, &case, command, now) {
            Ok(executed) => {
                let links = follow(&store, &case, &executed.state, now);
                report(
                    cx,
                    &process,
                    &case,
                    &executed,
                    "started",
                    HistoryLines::new(),
                    &links,
                );
                return Ok(());
            }
            // A number the counter gave that a case started with an explicit id took:
            // take the next one. With an explicit id, decide again on the stored case.
            Err(e) if e.is_retryable() => back_off(attempt),
            Err(e) => clock.behind(e).map_err(|e| cx.execute_failure(e))?,
        }
    }
    Err(conflict(&explicit.unwrap_or_else(|| CaseId::new(prefix))))
}

/// Checks the calls between the SOP a case starts on and the SOPs stored with it
/// (`--sop`), as `sop validate` does over several files: a call that does not fit its
/// SOP is refused before anything is stored. SOPs that do not parse are left to
/// `save_sop`, which reports them.
fn check_calls(name: &str, bytes: &[u8], called: &[(String, String)]) -> Outcome {
    if called.is_empty() {
        return Ok(());
    }
    let mut files: Vec<(String, String)> =
        vec![(name.to_owned(), String::from_utf8_lossy(bytes).into_owned())];
    files.extend(called.iter().cloned());
    let parsed: Vec<(usize, sopflow::model::Sop)> = files
        .iter()
        .enumerate()
        .filter_map(|(i, (name, text))| {
            sopflow::parse::parse_sop_bytes_all(name, text.as_bytes())
                .ok()
                .map(|sop| (i, sop))
        })
        .collect();
    let sops: Vec<&sopflow::model::Sop> = parsed.iter().map(|(_, sop)| sop).collect();
    let problems = sopflow::graph::check_calls(&sops);
    if problems.is_empty() {
        return Ok(());
    }
    let color = std::io::stderr().is_terminal();
    for (index, problem) in &problems {
        let (name, text) = &files[parsed[*index].0];
        let source = diagnostic::SourceFile::new(name, text.clone());
        eprint!(
            "{}",
            diagnostic::render_human(&source, std::slice::from_ref(problem), color)
        );
    }
    Err(Failure::refused(format!(
        "{name} and the SOPs it calls do not fit together ({} problem(s)); nothing was stored",
        problems.len()
    )))
}

fn conflict(case: &CaseId) -> Failure {
    Failure {
        exit: Exit::Conflict,
        message: format!(
            "case `{case}` kept changing while the command was decided ({ATTEMPTS} tries); \
             nothing was written: send the command again"
        ),
    }
}

/// Sends the action `make` builds (from the case's process) to case `id` as `acting`,
/// deciding it again on the new state when another process changed the case meanwhile.
fn send(
    cx: &Context,
    id: &str,
    acting: &Acting,
    make: impl FnOnce(&Process) -> Result<Action, Failure>,
) -> Outcome {
    let typed = parse_actor(&acting.actor)?;
    let store = cx.open_existing()?;
    let actor = checked_actor(cx, &store, typed)?;
    let case = CaseId::new(id);
    // Only the SOP version is needed here: the latest snapshot and the events after it
    // tell it without replaying the whole history (`execute` loads the case itself).
    let latest = store.load_latest(&case).map_err(|e| cx.store_failure(e))?;
    let before = latest.state();
    let process = process_of(cx, &store, &before)?;
    let action = make(&process)?;
    let mut clock = Clock::new(acting.now.as_deref(), acting.allow_future)?;
    for attempt in 0..ATTEMPTS {
        let now = clock.now();
        let id = command_id(&case, &actor, &action, now, acting.request_id.as_deref());
        let command = Command::new(id, actor.clone(), action.clone());
        match store.execute(&process, &case, command, now) {
            Ok(executed) => {
                let verb = if executed.duplicate {
                    "already applied to"
                } else {
                    "updated"
                };
                let links = follow(&store, &case, &executed.state, now);
                report(
                    cx,
                    &process,
                    &case,
                    &executed,
                    verb,
                    HistoryLines::after(&before),
                    &links,
                );
                return Ok(());
            }
            Err(e) if e.is_retryable() => back_off(attempt),
            Err(e) => clock.behind(e).map_err(|e| cx.execute_failure(e))?,
        }
    }
    Err(conflict(&case))
}

/// Follows the links of `case` to its sub-cases and parent after a command, so that a
/// sub-case starts as its call step becomes active and a parent moves on as its sub-case
/// closes. A link that cannot be followed stays due for `sop case tick`.
fn follow(store: &BlockingStore, case: &CaseId, state: &CaseState, now: DateTime<Utc>) -> Links {
    // Most commands leave no link to follow, and the state they left says so without
    // reading the case again.
    if !state.has_links_due() {
        return Links::default();
    }
    let processes = Processes::new();
    store
        .follow_links(&processes, case, now)
        .unwrap_or_else(|e| Links {
            followed: Vec::new(),
            failed: vec![(case.clone(), e.into())],
        })
}

/// One line per link followed: `T-1: started sub-case T-1.check.1 on credit-check v1`.
fn link_line(link: &Link) -> String {
    match link {
        Link::Started {
            parent,
            child,
            sop,
            version,
        } => format!("{parent}: started sub-case {child} on {sop} v{version}"),
        Link::Finished {
            parent,
            child,
            outcome,
        } => match outcome {
            SubCaseOutcome::Completed => format!("{parent}: sub-case {child} completed"),
            SubCaseOutcome::Cancelled => {
                format!(
                    "{parent}: sub-case {child} was cancelled; its call step is back with its role"
                )
            }
        },
    }
}

fn link_json(link: &Link) -> serde_json::Value {
    match link {
        Link::Started {
            parent,
            child,
            sop,
            version,
        } => {
            json!({"link": "started", "parent": parent, "child": child, "sop": sop, "sop_version": version})
        }
        Link::Finished {
            parent,
            child,
            outcome,
        } => json!({"link": "finished", "parent": parent, "child": child, "outcome": outcome}),
    }
}

/// Prints what a command did: its events, the case's status and active steps, and the
/// links it led to. `lines` knows the items of the steps active before the command, so a
/// completion of one reads `completed create_account [crm]`.
fn report(
    cx: &Context,
    process: &Process,
    case: &CaseId,
    executed: &Executed,
    verb: &str,
    mut lines: HistoryLines,
    links: &Links,
) {
    let work = engine::work_items(process, &executed.state);
    if cx.format == OutputFormat::Human {
        for (case, error) in &links.failed {
            eprintln!(
                "warning: case {case}: {}; `sop case tick` tries again",
                crate::output::printable(&error.to_string())
            );
        }
    }
    cx.print(
        || {
            json!({
                "case": case,
                "sop": process.id(),
                "sop_version": process.version(),
                "status": executed.state.status(),
                "duplicate": executed.duplicate,
                "events": executed.events,
                "active": work,
                "links": links.followed.iter().map(link_json).collect::<Vec<_>>(),
                "link_failures": links.failed.iter().map(|(case, e)| json!({"case": case, "error": e.to_string()})).collect::<Vec<_>>(),
            })
        },
        || {
            let mut out = String::new();
            if verb == "started" {
                let _ = writeln!(
                    out,
                    "started case {case} on {} v{}",
                    process.id(),
                    process.version()
                );
            } else {
                if executed.duplicate {
                    let _ = writeln!(out, "already applied to case {case}");
                }
                for event in &executed.events {
                    let _ = writeln!(out, "{}", lines.line(event));
                }
                let _ = writeln!(out, "case {case} is {}", executed.state.status().words());
            }
            out.push_str(&active_lines(&work));
            for link in &links.followed {
                let _ = writeln!(out, "{}", link_line(link));
            }
            out
        },
    );
}

/// The process version a case runs on.
fn process_of(cx: &Context, store: &BlockingStore, state: &CaseState) -> Result<Process, Failure> {
    let Some((sop, version)) = state.sop() else {
        return Err(Failure::usage(
            "the case has no SOP: its history is damaged",
        ));
    };
    store
        .load_process(sop, version)
        .map_err(|e| cx.store_failure(e))
}

/// A work item's step, with its item when the step runs once per item: `create_account
/// [crm]`, as `--item crm` names it.
fn step_and_item(item: &engine::WorkItem) -> String {
    match &item.item {
        Some(each) => format!("{} [{each}]", item.step),
        None => item.step.to_string(),
    }
}

/// One line per active step: `active: receive (support_agent, due 2026-01-05 10:00 UTC)`.
fn active_lines(work: &[engine::WorkItem]) -> String {
    let mut out = String::new();
    for item in work {
        let mut details = Vec::new();
        if let Some(roles) = item.roles_text() {
            details.push(roles);
        }
        if let Some(assignee) = &item.assignee {
            details.push(format!("assigned to {assignee}"));
        }
        if let Some(due) = item.due_at {
            details.push(format!("due {}", time(due)));
        }
        if item.breached {
            details.push("SLA breached".to_owned());
        }
        if let Some(until) = item.postponed_until {
            details.push(format!("on hold until {}", time(until)));
        }
        if let Some(child) = &item.waiting_for {
            details.push(format!("waits for sub-case {child}"));
        }
        let details = if details.is_empty() {
            String::new()
        } else {
            format!(" ({})", details.join(", "))
        };
        let _ = writeln!(out, "active: {}{details}", step_and_item(item));
    }
    out
}

/// `sop case list`.
fn list(
    cx: &Context,
    status: Option<StatusArg>,
    sop: Option<String>,
    role: Option<String>,
) -> Outcome {
    let mut filter = CaseFilter::all();
    if let Some(status) = status {
        filter = filter.status(match status {
            StatusArg::Open => CaseStatus::Open,
            StatusArg::Closed => CaseStatus::Closed,
            StatusArg::Cancelled => CaseStatus::Cancelled,
        });
    }
    if let Some(sop) = sop {
        let id = SopId::new(&sop).map_err(|e| Failure::usage(format!("--sop `{sop}`: {e}")))?;
        filter = filter.sop(id);
    }
    if let Some(role) = role {
        let id = RoleId::new(&role).map_err(|e| Failure::usage(format!("--role `{role}`: {e}")))?;
        filter = filter.role(id);
    }
    let store = cx.open_existing()?;
    let cases = store.list(&filter).map_err(|e| cx.store_failure(e))?;
    if cx.format == OutputFormat::Human && cases.is_empty() {
        eprintln!("no case in the store `{}`", cx.store_name());
        return Ok(());
    }
    cx.print(
        || json!({ "cases": cases }),
        || {
            let rows: Vec<[String; 6]> = cases
                .iter()
                .map(|c| {
                    let roles: Vec<&str> = c.roles.iter().map(RoleId::as_str).collect();
                    [
                        c.case.to_string(),
                        format!("{} v{}", c.sop, c.sop_version),
                        c.status.words().to_owned(),
                        if roles.is_empty() {
                            "-".to_owned()
                        } else {
                            roles.join(",")
                        },
                        c.next_timer.map_or_else(|| "-".to_owned(), time),
                        time(c.updated_at),
                    ]
                })
                .collect();
            table(
                ["CASE", "SOP", "STATUS", "ROLES", "NEXT TIMER", "UPDATED"],
                &rows,
            )
        },
    );
    Ok(())
}

/// `sop case list --as ana`: the active steps of open cases that ana may act on now.
fn work_queue(cx: &Context, actor: &str, sop: Option<String>, now: Option<&str>) -> Outcome {
    let typed = parse_actor(actor)?;
    let now = parse_now(now)?;
    let mut filter = CaseFilter::all().status(CaseStatus::Open);
    if let Some(sop) = sop {
        let id = SopId::new(&sop).map_err(|e| Failure::usage(format!("--sop `{sop}`: {e}")))?;
        filter = filter.sop(id);
    }
    let store = cx.open_existing()?;
    let actor = checked_actor(cx, &store, typed)?;
    let summaries = store.list(&filter).map_err(|e| cx.store_failure(e))?;
    let mut processes: std::collections::BTreeMap<(SopId, u32), Process> = Default::default();
    let mut work = Vec::new();
    for summary in &summaries {
        // Every open case is read: the summary row knows the roles with work, not who
        // steps are assigned to.
        let state = store
            .load_latest(&summary.case)
            .map_err(|e| cx.store_failure(e))?
            .state();
        let key = (summary.sop.clone(), summary.sop_version);
        if !processes.contains_key(&key) {
            let process = process_of(cx, &store, &state)?;
            processes.insert(key.clone(), process);
        }
        let Some(process) = processes.get(&key) else {
            continue;
        };
        work.extend(
            engine::work_items(process, &state)
                .into_iter()
                .filter(|item| {
                    item.actionable_by(&actor, now)
                        || (item.assignee.as_ref() == Some(&actor.id)
                            && item.postponed_until.is_none_or(|until| until <= now))
                }),
        );
    }
    if cx.format == OutputFormat::Human && work.is_empty() {
        eprintln!(
            "nothing for {} to do in the store `{}`",
            actor.id,
            cx.store_name()
        );
        return Ok(());
    }
    cx.print(
        || json!({ "actor": actor, "work": work }),
        || {
            let rows: Vec<[String; 5]> = work
                .iter()
                .map(|item| {
                    [
                        item.case
                            .as_ref()
                            .map_or_else(String::new, ToString::to_string),
                        step_and_item(item),
                        item.title.clone(),
                        item.roles_text().unwrap_or_else(|| "-".to_owned()),
                        item.due_at.map_or_else(|| "-".to_owned(), time),
                    ]
                })
                .collect();
            table(["CASE", "STEP", "TITLE", "ROLE", "DUE"], &rows)
        },
    );
    Ok(())
}

/// The widest a table cell is shown; longer ones end in `…` (JSON output has them whole).
const MAX_CELL_CHARS: usize = 48;

/// Rows under a header, in columns as wide as their widest cell (at most
/// [`MAX_CELL_CHARS`]), whatever the store holds.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let header = header.map(str::to_owned);
    let shorten = |cell: &String| {
        if cell.chars().count() <= MAX_CELL_CHARS {
            cell.clone()
        } else {
            let mut short: String = cell.chars().take(MAX_CELL_CHARS - 1).collect();
            short.push('…');
            short
        }
    };
    let rows: Vec<[String; N]> = rows.iter().map(|row| row.each_ref().map(shorten)).collect();
    let rows = rows.as_slice();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

/// `sop case show`.
fn show(cx: &Context, id: &str, now: Option<&str>) -> Outcome {
    let now = parse_now(now)?;
    let store = cx.open_existing()?;
    let case = CaseId::new(id);
    let StoredCase { events, state } = store.load(&case).map_err(|e| cx.store_failure(e))?;
    let process = process_of(cx, &store, &state)?;
    cx.print(
        || {
            json!({
                "case": case,
                "sop": process.id(),
                "sop_version": process.version(),
                "title": process.title(),
                "status": state.status(),
                "fields": state.fields(),
                "active": engine::work_items(&process, &state),
                "next_timer": state.next_timer(),
                "case_sla": state.case_clock().map(|clock| json!({
                    "due_at": clock.due_at,
                    "breached": clock.breached,
                    "working_time_left_minutes": process.case_sla().and_then(|sla| {
                        clock.due_at.map(|due| sla.calendar.calendar.working_between(now, due).num_minutes())
                    }),
                })),
                "paused_since": state.paused_since(),
                "parent": state.parent(),
                "sub_cases": state.sub_cases().iter().map(|s| json!({
                    "case": s.case,
                    "sop": s.sop,
                    "step": s.step,
                    "requested_at": s.requested_at,
                    "started": s.started,
                    "outcome": s.outcome,
                })).collect::<Vec<_>>(),
                "events": events,
            })
        },
        || render_case(&process, &state, &events, now),
    );
    Ok(())
}

fn graph(cx: &Context, id: &str, format: &str, output: Option<&Path>) -> Outcome {
    let format = format
        .parse::<sopflow::render::Format>()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let store = cx.open_existing()?;
    let stored = store
        .load(&CaseId::new(id))
        .map_err(|e| cx.store_failure(e))?;
    let process = process_of(cx, &store, &stored.state)?;
    let highlight = sopflow::render::Highlight::from_case(&process, &stored.events, &stored.state);
    let chart = sopflow::render::render(&process, format, Some(&highlight))
        .map_err(|e| Failure::refused(e.to_string()))?;
    match output {
        Some(path) => std::fs::write(path, chart)
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display()))),
        None => {
            crate::output::stdout(&chart);
            Ok(())
        }
    }
}

/// The text `sop case show` prints.
fn render_case(
    process: &Process,
    state: &CaseState,
    events: &[Event],
    now: DateTime<Utc>,
) -> String {
    use std::fmt::Write;
    let view = engine::view(process, state);
    let mut out = String::new();
    let case = view.case.as_ref().map_or("?", CaseId::as_str);
    let _ = writeln!(
        out,
        "case {case}: {} ({} v{})",
        view.sop_title,
        process.id(),
        process.version()
    );
    let _ = writeln!(out, "status: {}", view.status.words());
    if let Some(parent) = state.parent() {
        let _ = writeln!(
            out,
            "sub-case of {} (its step {} waits for it)",
            parent.case, parent.step
        );
    }
    for sub in state.sub_cases() {
        let how = match (sub.outcome, sub.started) {
            (Some(SubCaseOutcome::Completed), _) => "completed",
            (Some(SubCaseOutcome::Cancelled), _) => "cancelled",
            (None, true) => "running",
            (None, false) => "requested, not started yet",
        };
        let _ = writeln!(
            out,
            "sub-case {} ({}) for step {}: {how}",
            sub.case, sub.sop, sub.step
        );
    }
    if let Some(since) = state.paused_since() {
        let _ = writeln!(
            out,
            "paused since {} (pausable SLA clocks stand still)",
            time(since)
        );
    }
    if let (Some(clock), Some(sla)) = (state.case_clock(), process.case_sla())
        && let Some(due) = clock.due_at
    {
        let _ = writeln!(
            out,
            "case SLA: {}",
            due_in_words(&sla.calendar, due, clock.breached, now)
        );
    }
    if let Some(next) = view.next_timer {
        let _ = writeln!(out, "next timer: {}", time(next));
    }
    let _ = writeln!(out, "\nfields:");
    if view.fields.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for (label, value) in &view.fields {
        let _ = writeln!(out, "  {label}: {value}");
    }
    let _ = writeln!(out, "\nactive steps:");
    if view.work.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for item in &view.work {
        let kind = match item.kind {
            WorkKind::Task => "task",
            WorkKind::Approval => "approval",
        };
        let _ = writeln!(out, "  {} [{kind}]: {}", item.step, item.title);
        let mut who = match (item.roles.len(), item.roles_text()) {
            (0, _) | (_, None) => "anyone".to_owned(),
            (1, Some(role)) => format!("role {role}"),
            (_, Some(roles)) => format!("roles {roles}"),
        };
        if let Some(assignee) = &item.assignee {
            let _ = write!(who, ", assigned to {assignee}");
        }
        if !item.excluded.is_empty() {
            let excluded: Vec<&str> = item.excluded.iter().map(|a| a.as_str()).collect();
            let _ = write!(who, ", not {}", excluded.join(", "));
        }
        let _ = writeln!(out, "    who: {who}");
        if let Some(due) = item.due_at {
            let calendar = process
                .step(&item.step)
                .and_then(|node| process.timers(node))
                .map_or_else(NamedCalendar::round_the_clock, |t| t.calendar.clone());
            let _ = writeln!(
                out,
                "    due: {}",
                due_in_words(&calendar, due, item.breached, now)
            );
        }
        if let Some(until) = item.postponed_until {
            let _ = writeln!(out, "    on hold until: {}", time(until));
        }
        if !item.collects.is_empty() {
            let collects: Vec<&str> = item.collects.iter().map(FieldId::as_str).collect();
            let _ = writeln!(out, "    collects: {}", collects.join(", "));
        }
        if let Some(instructions) = &item.instructions {
            let _ = writeln!(out, "    instructions:");
            for line in instructions.trim_end().lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    let _ = writeln!(out, "\nhistory:");
    let mut lines = HistoryLines::new();
    for event in events {
        let _ = writeln!(out, "  {}", lines.line(event));
    }
    // Lines of blank instructions would end in spaces.
    out.lines()
        .map(str::trim_end)
        .fold(String::new(), |mut all, line| {
            all.push_str(line);
            all.push('\n');
            all
        })
}

/// A due time as people read it: in the calendar's zone (and UTC), with the working time
/// left or how long ago it passed.
fn due_in_words(
    calendar: &NamedCalendar,
    due: DateTime<Utc>,
    breached: bool,
    now: DateTime<Utc>,
) -> String {
    let zone = calendar.calendar.zone();
    let mut text = if calendar.calendar.is_always() {
        time(due)
    } else {
        format!(
            "{} {zone} ({})",
            due.with_timezone(&zone).format("%Y-%m-%d %H:%M"),
            time(due)
        )
    };
    let counts_working = !calendar.calendar.is_always();
    let working = if counts_working {
        " of working time"
    } else {
        ""
    };
    if breached || due <= now {
        let late = calendar.calendar.working_between(due, now);
        let _ = write!(
            text,
            ", overdue by {}{working}",
            span_in_words(late, counts_working)
        );
        if breached {
            text.push_str(" (SLA breached)");
        }
    } else {
        let left = calendar.calendar.working_between(now, due);
        let _ = write!(
            text,
            ", {}{working} left",
            span_in_words(left, counts_working)
        );
    }
    text
}

/// `2d 3h 15m`, `45m`, `0m`; working time in hours and minutes only (`31h 30m`), since
/// its days are not 24 hours.
fn span_in_words(span: chrono::TimeDelta, working: bool) -> String {
    let minutes = span.num_minutes().max(0);
    let per_day = if working { i64::MAX } else { 1440 };
    let (days, hours, minutes) = (minutes / per_day, minutes % per_day / 60, minutes % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}d"));
    }
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if minutes > 0 || parts.is_empty() {
        parts.push(format!("{minutes}m"));
    }
    parts.join(" ")
}

/// `sop case tick`: rounds of [`BlockingStore::fire_due_timers`] until no case is due.
fn tick(cx: &Context, now: Option<&str>, allow_future: bool) -> Outcome {
    let now = parse_now(now)?;
    check_not_future(now, allow_future)?;
    let store = cx.open_existing()?;
    let processes = Processes::new();
    let mut fired: Vec<(CaseId, Vec<Event>)> = Vec::new();
    let mut failed: Vec<(CaseId, String)> = Vec::new();
    let mut linked: Vec<Link> = Vec::new();
    // A fired timer can activate a step whose own timer is already due: go on while
    // timers fire, a bounded number of rounds.
    for _ in 0..100 {
        let run = store
            .fire_due_timers(
                &processes,
                &timer_owner(),
                now,
                chrono::Duration::minutes(1),
                1000,
            )
            .map_err(|e| cx.store_failure(e))?;
        let done = run.fired.is_empty() && run.linked.is_empty();
        fired.extend(run.fired);
        linked.extend(run.linked);
        failed.extend(
            run.failed
                .into_iter()
                .map(|(case, e)| (case, e.to_string())),
        );
        if done {
            break;
        }
    }
    // Timers another worker claimed and has not fired: a worker that died mid-tick holds
    // them until its lease ends, and saying "no timer due" would hide them.
    let held = store
        .held_timers(now, HELD_TIMERS_SHOWN)
        .map_err(|e| cx.store_failure(e))?;
    cx.print(
        || {
            json!({
                "at": now,
                "fired": fired.iter().map(|(case, events)| json!({"case": case, "events": events})).collect::<Vec<_>>(),
                "links": linked.iter().map(link_json).collect::<Vec<_>>(),
                "failed": failed.iter().map(|(case, error)| json!({"case": case, "error": error})).collect::<Vec<_>>(),
                "held": held.iter().map(|claim| json!({
                    "case": claim.case,
                    "due_at": claim.due_at,
                    "owner": claim.owner,
                    "lease_until": claim.lease_until,
                })).collect::<Vec<_>>(),
            })
        },
        || {
            let mut out = String::new();
            for (case, events) in &fired {
                for event in events {
                    let _ = writeln!(out, "{case}: {}", engine::describe(event));
                }
            }
            for link in &linked {
                let _ = writeln!(out, "{}", link_line(link));
            }
            for claim in &held {
                let _ = writeln!(
                    out,
                    "{}: timer due {} is held by {} until {}",
                    claim.case,
                    time(claim.due_at),
                    claim.owner,
                    time(claim.lease_until)
                );
            }
            if fired.is_empty() && linked.is_empty() && failed.is_empty() && held.is_empty() {
                let _ = writeln!(out, "no timer due at {}", time(now));
            }
            out
        },
    );
    if failed.is_empty() {
        return Ok(());
    }
    if cx.format == OutputFormat::Human {
        for (case, error) in &failed {
            eprintln!("error: case {case}: {}", crate::output::printable(error));
        }
    }
    Err(Failure::refused(format!(
        "{} case(s) could not fire their timers",
        failed.len()
    )))
}
