//! `sop case`: run cases of an SOP from the command line, kept in a store (`--db`, SQLite
//! by default).
//!
//! Exit codes: 0 when the command was accepted, 1 when the engine refused it (or the case
//! or SOP does not exist), 2 for usage, I/O and database errors. A refused command writes
//! nothing.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use sopflow::diagnostic;
use sopflow::engine::{
    self, Action, Actor, CaseId, CaseState, CaseStatus, Command, Event, FieldValues, WorkKind,
};
use sopflow::graph::Process;
use sopflow::model::{FieldId, FieldType, FieldValue, RoleId, SopId, StepId};
use sopflow::store::{BlockingStore, CaseFilter, ExecuteError, Processes, StoreError};

/// Exit code for a refused command.
const EXIT_REFUSED: u8 = 1;
/// Exit code for usage, I/O and database errors.
const EXIT_USAGE: u8 = 2;

/// The actor id under which `sop case tick` claims due timers.
const TIMER_OWNER: &str = "sop-cli";

#[derive(clap::Args)]
pub struct CaseArgs {
    /// The store: `sqlite:PATH` (created if missing) or `postgres://user:password@host/db`
    #[arg(
        long,
        global = true,
        value_name = "URL",
        default_value = "sqlite:sopflow.db"
    )]
    db: String,
    #[command(subcommand)]
    command: CaseCommand,
}

/// Options of every command an actor sends.
#[derive(clap::Args)]
struct Acting {
    /// Who acts, with the roles they hold: `ana:support_agent` or `lee:team_leader,qa_manager`
    #[arg(long = "as", value_name = "ACTOR:ROLE[,ROLE]")]
    actor: String,
    /// The time of the command, RFC 3339 (`2026-01-05T09:00:00Z`); default now
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

#[derive(Subcommand)]
enum CaseCommand {
    /// Start a case on an SOP file (the SOP version is stored with it)
    Start {
        /// The SOP file
        file: PathBuf,
        /// The case id; default `T-<n>`, the next free number
        #[arg(long)]
        id: Option<String>,
        /// Initial field values, by the field's type: `priority=High`, `csat=4`, `tags=A,B`
        #[arg(long = "field", value_name = "FIELD=VALUE")]
        fields: Vec<String>,
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
    },
    /// Show a case: status, fields, active steps and who may act, history
    Show {
        /// The case id
        id: String,
    },
    /// Draw a case's SOP with the path it took, its active steps and breached SLAs
    Graph {
        /// The case id
        id: String,
        /// Output format: mermaid, dot or svg
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
        /// The step
        step: String,
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
    /// Escalate an active step along its escalation path
    Escalate {
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
    /// Take an active step: it becomes your work item
    Claim {
        /// The case id
        id: String,
        /// The step
        step: String,
        #[command(flatten)]
        acting: Acting,
    },
    /// Fire the due timers of every case (SLA breaches, timeouts) and print what fired
    Tick {
        /// The time to fire timers at, RFC 3339; default now
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
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
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    fn refused(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_REFUSED,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        let code = match error {
            StoreError::NotFound { .. }
            | StoreError::SopNotFound { .. }
            | StoreError::SopVersionExists { .. }
            | StoreError::InvalidSop { .. } => EXIT_REFUSED,
            _ => EXIT_USAGE,
        };
        Failure {
            code,
            message: error.to_string(),
        }
    }
}

impl From<ExecuteError> for Failure {
    fn from(error: ExecuteError) -> Failure {
        match error {
            ExecuteError::Refused(refused) => Failure::refused(refused.to_string()),
            ExecuteError::Store(store) => store.into(),
            other => Failure::usage(other.to_string()),
        }
    }
}

type Outcome = Result<(), Failure>;

/// Runs `sop case …`.
pub fn run(args: CaseArgs) -> ExitCode {
    match dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("error: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}

fn dispatch(args: CaseArgs) -> Outcome {
    let db = args.db.as_str();
    match args.command {
        CaseCommand::Start {
            file,
            id,
            fields,
            acting,
        } => start(db, &file, id, &fields, &acting),
        CaseCommand::List { status, sop, role } => list(db, status, sop, role),
        CaseCommand::Show { id } => show(db, &id),
        CaseCommand::Graph { id, format, output } => graph(db, &id, &format, output.as_deref()),
        CaseCommand::Complete {
            id,
            step,
            fields,
            acting,
        } => send(db, &id, &acting, |process| {
            Ok(Action::Complete {
                step: parse_step(&step)?,
                fields: parse_fields(process, &fields)?,
            })
        }),
        CaseCommand::Approve {
            id,
            step,
            comment,
            acting,
        } => send(db, &id, &acting, |_| {
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
        } => send(db, &id, &acting, |_| {
            Ok(Action::Reject {
                step: parse_step(&step)?,
                reason,
            })
        }),
        CaseCommand::Escalate {
            id,
            step,
            reason,
            acting,
        } => send(db, &id, &acting, |_| {
            Ok(Action::Escalate {
                step: parse_step(&step)?,
                reason,
            })
        }),
        CaseCommand::Note {
            id,
            text,
            step,
            acting,
        } => send(db, &id, &acting, |_| {
            Ok(Action::AddNote {
                text,
                step: step.as_deref().map(parse_step).transpose()?,
            })
        }),
        CaseCommand::Cancel { id, reason, acting } => {
            send(db, &id, &acting, |_| Ok(Action::Cancel { reason }))
        }
        CaseCommand::Claim { id, step, acting } => send(db, &id, &acting, |_| {
            Ok(Action::Claim {
                step: parse_step(&step)?,
            })
        }),
        CaseCommand::Tick { now } => tick(db, now.as_deref()),
    }
}

fn open(db: &str) -> Result<BlockingStore, Failure> {
    Ok(BlockingStore::open(db)?)
}

/// `--now`, or the clock.
fn parse_now(now: Option<&str>) -> Result<DateTime<Utc>, Failure> {
    match now {
        None => Ok(Utc::now()),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                Failure::usage(format!(
                    "--now `{text}` is not an RFC 3339 time like 2026-01-05T09:00:00Z: {e}"
                ))
            }),
    }
}

/// `ana:support_agent,team_leader` → the actor `ana` with two roles.
fn parse_actor(text: &str) -> Result<Actor, Failure> {
    let (id, roles) = text.split_once(':').unwrap_or((text, ""));
    let id = id.trim();
    if id.is_empty() {
        return Err(Failure::usage(format!(
            "--as `{text}` names no actor; write ACTOR:ROLE[,ROLE], e.g. ana:support_agent"
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

fn parse_step(text: &str) -> Result<StepId, Failure> {
    StepId::new(text).map_err(|e| Failure::usage(format!("step `{text}`: {e}")))
}

/// `--field k=v` values, each parsed by the type of its field in `process`.
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
            return Err(Failure::usage(format!(
                "SOP `{}` has no field `{name}`; its fields: {}",
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
                FieldValue::Number(text.trim().parse().map_err(|_| bad("a number"))?)
            }
            FieldType::Bool => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" => FieldValue::Bool(true),
                "false" | "no" => FieldValue::Bool(false),
                _ => return Err(bad("true or false")),
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

/// A command id: deterministic for a given case version, action, step and time (so that
/// repeating a command given with `--now` applies it once), unique otherwise.
fn command_id(case: &CaseId, version: u64, action: &Action, now: DateTime<Utc>) -> String {
    let step = match action {
        Action::Claim { step }
        | Action::Assign { step, .. }
        | Action::Complete { step, .. }
        | Action::Approve { step, .. }
        | Action::Reject { step, .. }
        | Action::Escalate { step, .. }
        | Action::Transfer { step, .. }
        | Action::Postpone { step, .. } => Some(step.as_str()),
        Action::AddNote { step, .. } => step.as_ref().map(StepId::as_str),
        _ => None,
    };
    format!(
        "cli:{case}:{version}:{}{}{}:{}",
        action.name(),
        if step.is_some() { ":" } else { "" },
        step.unwrap_or(""),
        now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    )
}

fn status_name(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::NotStarted => "not started",
        CaseStatus::Open => "open",
        CaseStatus::Closed => "closed",
        CaseStatus::Cancelled => "cancelled",
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

/// `sop case start`.
fn start(db: &str, file: &Path, id: Option<String>, fields: &[String], acting: &Acting) -> Outcome {
    let actor = parse_actor(&acting.actor)?;
    let now = parse_now(acting.now.as_deref())?;
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
        return Err(Failure::refused(String::new()));
    };
    let fields = parse_fields(&process, fields)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Failure::usage(format!("{} is not UTF-8: {e}", file.display())))?;
    let store = open(db)?;
    let case = match id {
        Some(id) if id.trim().is_empty() => return Err(Failure::usage("--id is empty")),
        Some(id) => CaseId::new(id),
        None => next_case_id(&store)?,
    };
    let action = Action::Start {
        case: case.clone(),
        fields,
    };
    let command = Command::new(command_id(&case, 0, &action, now), actor, action);
    // Decide first, so that a refused start stores nothing, not even the SOP text.
    if let Ok(stored) = store.load(&case) {
        engine::handle(&process, &stored.state, command.clone(), now)
            .map_err(|e| Failure::refused(e.to_string()))?;
    } else {
        engine::handle(&process, &CaseState::new(), command.clone(), now)
            .map_err(|e| Failure::refused(e.to_string()))?;
    }
    let process = store.save_sop(&name, &text)?;
    let executed = store.execute(&process, &case, command, now)?;
    println!(
        "started case {case} on {} v{}",
        process.id(),
        process.version()
    );
    print_active(&process, &executed.state);
    Ok(())
}

/// `T-<n>` for the first free n from the number of cases + 1.
fn next_case_id(store: &BlockingStore) -> Result<CaseId, Failure> {
    let mut n = store.list(&CaseFilter::all())?.len() + 1;
    loop {
        let case = CaseId::new(format!("T-{n}"));
        match store.load(&case) {
            Err(StoreError::NotFound { .. }) => return Ok(case),
            Err(e) => return Err(e.into()),
            Ok(_) => n += 1,
        }
    }
}

/// Sends the action `make` builds (from the case's process) to case `id` as `acting`.
fn send(
    db: &str,
    id: &str,
    acting: &Acting,
    make: impl FnOnce(&Process) -> Result<Action, Failure>,
) -> Outcome {
    let actor = parse_actor(&acting.actor)?;
    let now = parse_now(acting.now.as_deref())?;
    let store = open(db)?;
    let case = CaseId::new(id);
    let stored = store.load(&case)?;
    let process = process_of(&store, &stored.state)?;
    let action = make(&process)?;
    let command = Command::new(
        command_id(&case, stored.state.version(), &action, now),
        actor,
        action,
    );
    let executed = store.execute(&process, &case, command, now)?;
    if executed.duplicate {
        println!("already applied to case {case}");
    }
    for event in &executed.events {
        println!("{}", engine::describe(event));
    }
    println!("case {case} is {}", status_name(executed.state.status()));
    print_active(&process, &executed.state);
    Ok(())
}

/// The process version a case runs on.
fn process_of(store: &BlockingStore, state: &CaseState) -> Result<Process, Failure> {
    let Some((sop, version)) = state.sop() else {
        return Err(Failure::usage(
            "the case has no SOP: its history is damaged",
        ));
    };
    Ok(store.load_process(sop, version)?)
}

/// One line per active step: `active: receive (support_agent, due 2026-01-05 10:00)`.
fn print_active(process: &Process, state: &CaseState) {
    for item in engine::work_items(process, state) {
        let mut details = Vec::new();
        if let Some(role) = &item.role {
            details.push(role.to_string());
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
        let details = if details.is_empty() {
            String::new()
        } else {
            format!(" ({})", details.join(", "))
        };
        println!("active: {}{details}", item.step);
    }
}

/// `sop case list`.
fn list(db: &str, status: Option<StatusArg>, sop: Option<String>, role: Option<String>) -> Outcome {
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
    let store = open(db)?;
    let cases = store.list(&filter)?;
    if cases.is_empty() {
        eprintln!("no case");
        return Ok(());
    }
    let rows: Vec<[String; 6]> = cases
        .iter()
        .map(|c| {
            let roles: Vec<&str> = c.roles.iter().map(RoleId::as_str).collect();
            [
                c.case.to_string(),
                format!("{} v{}", c.sop, c.sop_version),
                status_name(c.status).to_owned(),
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
    let header = ["CASE", "SOP", "STATUS", "ROLES", "NEXT TIMER", "UPDATED"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(())
}

/// `sop case show`.
fn show(db: &str, id: &str) -> Outcome {
    let store = open(db)?;
    let case = CaseId::new(id);
    let stored = store.load(&case)?;
    let process = process_of(&store, &stored.state)?;
    print!("{}", render_case(&process, &stored.state, &stored.events));
    Ok(())
}

fn graph(db: &str, id: &str, format: &str, output: Option<&std::path::Path>) -> Outcome {
    let format = format
        .parse::<sopflow::render::Format>()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let store = open(db)?;
    let stored = store.load(&CaseId::new(id))?;
    let process = process_of(&store, &stored.state)?;
    let highlight = sopflow::render::Highlight::from_case(&process, &stored.events, &stored.state);
    let chart = sopflow::render::render(&process, format, Some(&highlight))
        .map_err(|e| Failure::refused(e.to_string()))?;
    match output {
        Some(path) => std::fs::write(path, chart)
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display()))),
        None => {
            print!("{chart}");
            Ok(())
        }
    }
}

/// The text `sop case show` prints.
fn render_case(process: &Process, state: &CaseState, events: &[Event]) -> String {
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
    let _ = writeln!(out, "status: {}", status_name(view.status));
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
        let mut who = match &item.role {
            Some(role) => format!("role {role}"),
            None => "anyone".to_owned(),
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
            let breached = if item.breached { " (SLA breached)" } else { "" };
            let _ = writeln!(out, "    due: {}{breached}", time(due));
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
    for event in events {
        let _ = writeln!(out, "  {}", engine::describe(event));
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

/// `sop case tick`: rounds of [`BlockingStore::fire_due_timers`] until no case is due.
fn tick(db: &str, now: Option<&str>) -> Outcome {
    let now = parse_now(now)?;
    let store = open(db)?;
    let processes = Processes::new();
    let mut fired = 0usize;
    let mut failed = 0usize;
    // A fired timer can activate a step whose own timer is already due: go on while
    // timers fire, a bounded number of rounds.
    for _ in 0..100 {
        let run = store.fire_due_timers(
            &processes,
            TIMER_OWNER,
            now,
            chrono::Duration::minutes(1),
            1000,
        )?;
        for (case, events) in &run.fired {
            for event in events {
                println!("{case}: {}", engine::describe(event));
            }
        }
        for (case, error) in &run.failed {
            eprintln!("error: case {case}: {error}");
        }
        fired += run.fired.len();
        failed += run.failed.len();
        if run.fired.is_empty() {
            break;
        }
    }
    if fired == 0 && failed == 0 {
        println!("no timer due at {}", time(now));
    }
    if failed > 0 {
        return Err(Failure::refused(format!(
            "{failed} case(s) could not fire their timers"
        )));
    }
    Ok(())
}
