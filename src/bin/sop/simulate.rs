//! `sop simulate`: check every SOP, then run many simulated cases through one of them on a
//! store and say what happened.
//!
//! A seeded team ([`sopflow::simulate::Simulator`], one per case, seeded from the run's
//! seed and the case's number) works each case from start to close as an embedding app
//! would: every command goes through [`CaseCache::execute_with_retry`] and is durable
//! before the next is chosen, with [`CALLERS`] cases worked at once (so the store's group
//! commit shares transactions between them). The summary is computed from the events alone
//! (the KPIs by `sopflow::metrics`)
//! and checked against the store's own count.
//!
//! Exit codes: 0 when the cases ran, 1 when an SOP has errors (or the engine refused a
//! simulated command), 2 for usage, I/O and database errors.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sopflow::diagnostic::render_human;
use sopflow::engine::{CaseId, CaseStatus, Event, EventKind};
use sopflow::graph::{EdgeKind, Process};
use sopflow::metrics::format::{TextFormat, kpis};
use sopflow::metrics::{Accumulator, Options, check_segment};
use sopflow::model::{FieldId, StepId};
use sopflow::simulate::{Behaviour, Simulator};
use sopflow::store::{
    AnyStore, BlockingStore, CaseCache, CaseFilter, ExecuteError, Processes, StoreError,
    load_verified,
};

use crate::EXIT_USAGE;
use crate::sources::collect_sources;

/// Exit code for SOPs with errors and refused commands.
const EXIT_INVALID: u8 = 1;

/// The store used when `--db` is not given: recreated on every run.
const DEFAULT_DB: &str = "target/support_desk.db";

/// A case the simulated team has not closed after this many commands is left open, so an
/// SOP that loops forever cannot hang the run.
const MAX_COMMANDS_PER_CASE: usize = 1_000;

/// Minutes between two cases arriving.
const MINUTES_BETWEEN_CASES: i64 = 3;

/// Cases worked at once, each by its own caller: what many people using an app at the
/// same time look like to the store.
const CALLERS: usize = 32;

/// Attempts per command when it meets a version conflict or a busy database.
const ATTEMPTS: u32 = 5;

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// SOP files or directories (searched for *.yaml and *.yml); every one is checked
    #[arg(default_value = "sops")]
    paths: Vec<PathBuf>,
    /// The id of the SOP to run the cases through
    #[arg(long, value_name = "ID", default_value = "customer-support")]
    sop: String,
    /// How many cases to simulate
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    cases: u64,
    /// The store: `sqlite:PATH`, `postgres://…` or `memory:` [default:
    /// sqlite:target/support_desk.db, emptied on every run]. A store named here is never
    /// emptied: the run is refused if it holds cases with the same ids
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Seed of the simulated team: the same seed gives the same cases
    #[arg(long, value_name = "N", default_value_t = 2026)]
    seed: u64,
}

/// Why the run stopped: the message and the exit code.
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

    fn invalid(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_INVALID,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure::usage(error.to_string())
    }
}

/// Runs `sop simulate …`.
pub fn run(args: SimulateArgs) -> ExitCode {
    match simulate(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn simulate(args: &SimulateArgs) -> Result<(), Failure> {
    let (name, text, process) = check_sops(args)?;
    let cases = usize::try_from(args.cases)
        .map_err(|_| Failure::usage(format!("--cases {} is too many", args.cases)))?;

    let url = match &args.db {
        Some(url) => url.clone(),
        None => {
            fresh_default_db()?;
            format!("sqlite:{DEFAULT_DB}")
        }
    };
    let store = BlockingStore::open(&url)?;
    let shown = sopflow::store::url_without_password(&url);
    let width = cases.to_string().len().max(5);
    let ids: Vec<String> = (1..=cases).map(|n| format!("T-{n:0width$}")).collect();
    if args.db.is_some() {
        refuse_existing_cases(&store, &shown, &ids)?;
    }
    let process = store.save_sop(&name, &text).map_err(|e| match e {
        StoreError::SopVersionExists { .. } => Failure::usage(format!(
            "{e}: the store {shown} holds another text of {} v{}; use another --db",
            process.id(),
            process.version()
        )),
        other => other.into(),
    })?;

    println!(
        "\nsimulating {cases} cases of {} ({} v{}) with seed {}, stored in {}",
        process.title(),
        process.id(),
        process.version(),
        args.seed,
        shown
    );
    let progress = Arc::new(Progress::new(cases));
    let opening = Utc
        .with_ymd_and_hms(2026, 1, 5, 8, 0, 0)
        .single()
        .expect("a valid date");
    let escalation_steps = escalation_steps(&process);
    let work = Arc::new(Work {
        store: store.store().clone(),
        process,
        cache: CaseCache::new(CALLERS * 4),
        ids: ids.clone(),
        seed: args.seed,
        opening,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        progress: Arc::clone(&progress),
        started: Instant::now(),
    });
    let worked: Result<Vec<Worked>, Failure> = store.block_on(async {
        let callers: Vec<_> = (0..CALLERS.min(cases))
            .map(|_| tokio::spawn(caller(Arc::clone(&work))))
            .collect();
        let mut worked = Vec::with_capacity(cases);
        for caller in callers {
            let done = caller
                .await
                .map_err(|e| Failure::invalid(format!("a simulated caller stopped: {e}")))?;
            worked.extend(done?);
        }
        Ok(worked)
    });
    let mut worked = worked?;
    progress.finish();
    let elapsed = work.started.elapsed();
    worked.sort_by_key(|w| w.number);
    let process = &work.process;
    let mut report = Report::default();
    // KPIs per priority when the SOP has one, as a support desk reads them.
    let segment = "priority"
        .parse::<FieldId>()
        .ok()
        .filter(|field| check_segment(process, field).is_ok());
    let mut metrics = Accumulator::new(
        process.id().clone(),
        Options {
            segment,
            ..Options::default()
        },
    );
    for case in &worked {
        report.add(&case.events, case.commands, &escalation_steps);
        metrics
            .push(process, &case.events)
            .map_err(|e| Failure::invalid(format!("case {}: {e}", case.number + 1)))?;
    }

    let stored = stored_statuses(&store, process, &ids)?;
    report.print(cases, &stored, elapsed, &store);
    print_kpis(metrics.finish(), &shown);
    verify_stored(&store, &ids)?;
    print_how_to_look(&shown, &store, &ids[0]);
    Ok(())
}

/// Checks every SOP under the paths like `sop validate`, printing an `ok` line per valid
/// one and the diagnostics of the others; returns the name, text and process of the SOP
/// to simulate.
fn check_sops(args: &SimulateArgs) -> Result<(String, String, Process), Failure> {
    let sources = collect_sources(&args.paths).map_err(Failure::usage)?;
    let color = std::io::stderr().is_terminal();
    let mut chosen = None;
    let mut ids = Vec::new();
    let mut invalid = Vec::new();
    for (name, bytes) in &sources {
        let loaded = sopflow::load(name, bytes);
        let Some(process) = loaded.process else {
            eprint!(
                "{}",
                render_human(&loaded.source, &loaded.diagnostics, color)
            );
            invalid.push(name.clone());
            continue;
        };
        let warnings = loaded.diagnostics.len();
        let steps = process.nodes().filter(|(_, n)| n.step.is_some()).count();
        println!(
            "ok    {name}: {} ({}, {})",
            process.title(),
            plural(steps, "step"),
            plural(warnings, "warning")
        );
        ids.push(process.id().to_string());
        if process.id().as_str() == args.sop {
            match &chosen {
                Some((other, _, _)) => {
                    return Err(Failure::usage(format!(
                        "two SOP files have the id `{}`: {other} and {name}; name one file instead of a directory",
                        args.sop
                    )));
                }
                None => chosen = Some((name.clone(), loaded.source.text, process)),
            }
        }
    }
    let searched: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
    let searched = searched.join(", ");
    if !invalid.is_empty() {
        let (has, it) = if invalid.len() == 1 {
            ("has", "it")
        } else {
            ("have", "them")
        };
        return Err(Failure::invalid(format!(
            "{} of {} SOP files {has} errors ({}); fix {it} before simulating (`sop validate` shows every problem)",
            invalid.len(),
            sources.len(),
            invalid.join(", "),
        )));
    }
    if sources.is_empty() {
        return Err(Failure::usage(format!(
            "found no SOP file (*.yaml, *.yml) in {searched}"
        )));
    }
    chosen.ok_or_else(|| {
        Failure::usage(format!(
            "no SOP in {searched} has the id `{}`; the ids found: {}",
            args.sop,
            ids.join(", ")
        ))
    })
}

/// Removes the default SQLite file and its journal files, so the run starts empty.
fn fresh_default_db() -> Result<(), Failure> {
    let path = std::path::Path::new(DEFAULT_DB);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{DEFAULT_DB}{suffix}");
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Failure::usage(format!("cannot remove {file}: {e}"))),
        }
    }
    Ok(())
}

/// Refuses to write into a store that already has a case this run would create: nothing
/// is ever overwritten or deleted in a store the user named.
fn refuse_existing_cases(store: &BlockingStore, url: &str, ids: &[String]) -> Result<(), Failure> {
    let ours: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let existing: Vec<CaseId> = store
        .list(&CaseFilter::all().after(CaseId::new("T-")))?
        .into_iter()
        .map(|summary| summary.case)
        .take_while(|case| case.as_str().starts_with("T-"))
        .filter(|case| ours.contains(case.as_str()))
        .collect();
    match existing.first() {
        None => Ok(()),
        Some(first) => Err(Failure::usage(format!(
            "the store {url} already holds {} with the ids this run would use (the first is {first}); \
             nothing was written: use another --db, or leave --db out to use a fresh {DEFAULT_DB}",
            plural(existing.len(), "case")
        ))),
    }
}

/// What the callers share: the store, the process, the cache of case states, and the
/// next case to work.
struct Work {
    store: AnyStore,
    process: Process,
    cache: CaseCache,
    ids: Vec<String>,
    seed: u64,
    opening: DateTime<Utc>,
    next: AtomicUsize,
    done: AtomicUsize,
    progress: Arc<Progress>,
    started: Instant,
}

/// One case as worked: its number in the run, its events and its commands.
struct Worked {
    number: usize,
    events: Vec<Event>,
    commands: usize,
}

/// One caller: takes the next case of the run until none is left, and works it.
async fn caller(work: Arc<Work>) -> Result<Vec<Worked>, Failure> {
    let mut worked = Vec::new();
    loop {
        let number = work.next.fetch_add(1, Ordering::Relaxed);
        let Some(id) = work.ids.get(number) else {
            return Ok(worked);
        };
        worked.push(run_case(&work, number, id).await?);
        let done = work.done.fetch_add(1, Ordering::Relaxed) + 1;
        work.progress.advance(done, work.started.elapsed());
    }
}

/// Works one case with its simulated team until it closes, the team has nothing left to
/// do, or [`MAX_COMMANDS_PER_CASE`]; each command durable before the next is chosen.
async fn run_case(work: &Work, number: usize, id: &str) -> Result<Worked, Failure> {
    let seed = work.seed ^ (number as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut simulator = Simulator::new(seed, Behaviour::default());
    let arrived = work.opening + TimeDelta::minutes(MINUTES_BETWEEN_CASES * number as i64);
    let case = CaseId::new(id);
    let mut events = Vec::new();
    let mut commands = 0;
    let mut next = Some(simulator.start(&work.process, id, arrived));
    while let Some(step) = next {
        let executed = work
            .cache
            .execute_with_retry(
                &work.store,
                &work.process,
                &case,
                step.command,
                step.at,
                ATTEMPTS,
            )
            .await
            .map_err(|error| match error {
                ExecuteError::Refused(refused) => Failure::invalid(format!(
                    "case {id}: the engine refused a command of the simulated team: {refused}"
                )),
                ExecuteError::Store(error) => error.into(),
                other => Failure::usage(format!("case {id}: {other}")),
            })?;
        events.extend(executed.events);
        commands += 1;
        if commands >= MAX_COMMANDS_PER_CASE {
            break;
        }
        next = simulator.next(&work.process, &executed.state, step.at);
    }
    Ok(Worked {
        number,
        events,
        commands,
    })
}

/// The steps an escalation leads to: targets of `on_escalate` and `on_overdue`. A decision
/// that sends a case to one of them escalates it too.
fn escalation_steps(process: &Process) -> HashSet<StepId> {
    process
        .nodes()
        .flat_map(|(index, _)| process.successors(index))
        .filter(|(kind, _)| matches!(kind, EdgeKind::Escalate | EdgeKind::Overdue))
        .filter_map(|&(_, target)| process.node(target).step.clone())
        .collect()
}

/// Checks every case of the run as `sop case verify` does (hash chain, replay against the
/// SOP) and prints the verdict; a damaged case fails the run.
fn verify_stored(store: &BlockingStore, ids: &[String]) -> Result<(), Failure> {
    let started = Instant::now();
    let processes = Processes::new();
    let mut events = 0usize;
    for id in ids {
        let case = CaseId::new(id.as_str());
        match store.block_on(load_verified(store.store(), &processes, &case)) {
            Ok((stored, _)) => events += stored.events.len(),
            Err(error) => {
                return Err(Failure::invalid(format!(
                    "the store does not hold case {case} as it was written: {error}"
                )));
            }
        }
    }
    println!(
        "\nverified {} cases, {events} events in {:.1} s: all intact \
         (each event's hash chain, and a replay against the SOP)",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// How many of this run's cases the store holds, by status.
#[derive(Default)]
struct Stored {
    total: usize,
    closed: usize,
    open: usize,
    cancelled: usize,
}

fn stored_statuses(
    store: &BlockingStore,
    process: &Process,
    ids: &[String],
) -> Result<Stored, Failure> {
    let ours: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut stored = Stored::default();
    let filter = CaseFilter::all()
        .sop(process.id().clone())
        .sop_version(process.version());
    for summary in store.list(&filter)? {
        if !ours.contains(summary.case.as_str()) {
            continue;
        }
        stored.total += 1;
        match summary.status {
            CaseStatus::Closed => stored.closed += 1,
            CaseStatus::Cancelled => stored.cancelled += 1,
            _ => stored.open += 1,
        }
    }
    Ok(stored)
}

/// A bar on a terminal; otherwise a line every tenth of the run, for logs.
struct Progress {
    total: usize,
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {pos}/{len} cases  {per_sec}  {elapsed} (eta {eta})",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Progress { total, bar }
    }

    /// `done` cases are simulated and stored, `elapsed` after the first began.
    fn advance(&self, done: usize, elapsed: Duration) {
        match &self.bar {
            Some(bar) => bar.set_position(done as u64),
            None => {
                let tenth = |n: usize| n * 10 / self.total.max(1);
                if tenth(done) > tenth(done - 1) {
                    let mut stderr = std::io::stderr().lock();
                    let _ = writeln!(
                        stderr,
                        "simulated {done}/{} cases ({}%), {:.1} s",
                        self.total,
                        done * 100 / self.total.max(1),
                        elapsed.as_secs_f64()
                    );
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What the cases went through, computed from their events alone.
#[derive(Default)]
struct Report {
    straight_through: usize,
    reworked: usize,
    escalated: usize,
    breached: usize,
    commands: usize,
    events: usize,
}

impl Report {
    fn add(&mut self, events: &[Event], commands: usize, escalation_steps: &HashSet<StepId>) {
        let reworked = events
            .iter()
            .any(|e| matches!(e.kind, EventKind::GateRejected { .. }));
        let escalated = events.iter().any(|e| match &e.kind {
            EventKind::StepEscalated { .. }
            | EventKind::SlaBreached {
                escalated: true, ..
            }
            | EventKind::SlaLevelReached {
                escalated: true, ..
            } => true,
            EventKind::DecisionTaken { target, .. } => escalation_steps.contains(target),
            _ => false,
        });
        let breached = events.iter().any(|e| {
            matches!(
                e.kind,
                EventKind::SlaBreached { .. } | EventKind::CaseSlaBreached
            )
        });
        self.reworked += usize::from(reworked);
        self.escalated += usize::from(escalated);
        self.breached += usize::from(breached);
        self.straight_through += usize::from(!reworked && !escalated && !breached);
        self.commands += commands;
        self.events += events.len();
    }

    fn print(&self, cases: usize, stored: &Stored, elapsed: Duration, store: &BlockingStore) {
        let percent = |n: usize| 100.0 * n as f64 / cases.max(1) as f64;
        let per_second = |n: usize, time: Duration| n as f64 / time.as_secs_f64().max(1e-9);
        println!(
            "\n{cases} cases simulated and stored in {:.1} s; the store holds {} of them:",
            elapsed.as_secs_f64(),
            stored.total
        );
        println!("  {:<18}{:>7}", "closed", stored.closed);
        if stored.open > 0 {
            println!(
                "  {:<18}{:>7}  the simulated team stopped working on them",
                "still open", stored.open
            );
        }
        if stored.cancelled > 0 {
            println!("  {:<18}{:>7}", "cancelled", stored.cancelled);
        }

        let exceptional = cases - self.straight_through;
        println!("\nHow the cases went (each case counted once):");
        println!(
            "  {:<18}{:>7} ({:>5.1}%)  no rejection, no escalation, no missed deadline",
            "straight through",
            self.straight_through,
            percent(self.straight_through)
        );
        println!(
            "  {:<18}{:>7} ({:>5.1}%)  at least one of the exceptions below",
            "with exceptions",
            exceptional,
            percent(exceptional)
        );
        println!(
            "\nThe exceptions. A case can have several (be reworked and escalated, or miss a\n\
             deadline and be escalated for it), so these can add up to more than the {:.1}% above:",
            percent(exceptional)
        );
        for (name, count, meaning) in [
            (
                "reworked",
                self.reworked,
                "an approver rejected, so work was done again",
            ),
            (
                "escalated",
                self.escalated,
                "sent up an escalation path: by hand, by a decision or when overdue",
            ),
            (
                "missed an SLA",
                self.breached,
                "a step, or the case, was not done by its due time",
            ),
        ] {
            println!(
                "  {name:<18}{count:>7} ({:>5.1}%)  {meaning}",
                percent(count)
            );
        }

        println!("\nSpeed (real time on this machine):");
        let durable = if matches!(store.store(), AnyStore::Memory(_)) {
            "in memory, not durable"
        } else {
            "each durable before it was answered"
        };
        println!(
            "  {CALLERS} callers sent {:.0} commands per second to the engine and the store ({})",
            per_second(self.commands, elapsed),
            store_kind(store),
        );
        println!(
            "    ({} commands, {:.1} per case, {durable}; {} events, {:.0} per second)",
            self.commands,
            self.commands as f64 / cases.max(1) as f64,
            self.events,
            per_second(self.events, elapsed)
        );
    }
}

/// The KPIs the SOP declares, computed from the events by `sopflow::metrics`, and how to
/// see the rest of the report.
fn print_kpis(report: sopflow::metrics::Report, url: &str) {
    println!("\nKPIs on the simulated clock, computed from the events (`sop report`):\n");
    print!("{}", kpis(&report, TextFormat::Table));
    println!(
        "Per week, per step, the paths taken: sop report --db {url} --sop {} --by week --segment priority",
        report.sop
    );
}

/// The closing lines: where the cases are and the commands that show them.
fn print_how_to_look(url: &str, store: &BlockingStore, first: &str) {
    if matches!(store.store(), AnyStore::Memory(_)) {
        println!(
            "\nThe cases were kept in memory and are gone; give --db sqlite:PATH to keep them."
        );
        return;
    }
    println!("\nLook at the cases:");
    println!("  sop case --db {url} list");
    println!("  sop case --db {url} show {first}");
    println!("  sop case --db {url} graph {first} --format svg -o {first}.svg");
}

/// The kind of store, for people: SQLite, PostgreSQL, memory.
fn store_kind(store: &BlockingStore) -> &'static str {
    match store.store() {
        AnyStore::Memory(_) => "memory",
        #[cfg(feature = "sqlite")]
        AnyStore::Sqlite(_) => "SQLite",
        #[cfg(feature = "postgres")]
        AnyStore::Postgres(_) => "PostgreSQL",
        #[allow(unreachable_patterns)]
        _ => "store",
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}
