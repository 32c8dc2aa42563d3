//! The support desk: validates every SOP in `sops/`, then runs 10,000 simulated tickets
//! through the customer support process on the SQLite store, with approvals, rejections,
//! SLA breaches and escalations, and prints what happened.
//!
//! Run with `cargo run --release --example support_desk` (`-- 1000` for fewer tickets).
//! The database is written to `target/support_desk.db`, fresh on every run.

use std::error::Error;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use sopflow::diagnostic::render_human;
use sopflow::engine::{self, CaseState, Event, EventKind};
use sopflow::graph::Process;
use sopflow::simulate::{Behaviour, Simulator};
use sopflow::store::{Append, BlockingStore, CaseFilter};

const DEFAULT_TICKETS: usize = 10_000;

fn main() -> Result<(), Box<dyn Error>> {
    let tickets: usize = match std::env::args().nth(1) {
        Some(count) => count.parse()?,
        None => DEFAULT_TICKETS,
    };

    let support = validate_library("sops")?;

    let path = std::path::Path::new("target").join("support_desk.db");
    std::fs::create_dir_all("target")?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = BlockingStore::open(&format!("sqlite:{}", path.display()))?;
    let text = std::fs::read_to_string("sops/customer-support-process.yaml")?;
    store.save_sop("customer-support-process.yaml", &text)?;

    println!(
        "\nrunning {tickets} tickets through {} (v{})",
        support.title(),
        support.version()
    );
    let bar = ProgressBar::new(tickets as u64);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} tickets  {per_sec}  eta {eta}",
    )?);

    let mut simulator = Simulator::new(2026, Behaviour::default());
    let opening = Utc
        .with_ymd_and_hms(2026, 1, 5, 8, 0, 0)
        .single()
        .ok_or("bad start time")?;
    let mut report = Report::default();
    let mut engine_time = Duration::ZERO;
    let mut store_time = Duration::ZERO;
    for ticket in 0..tickets {
        // A ticket arrives every three minutes.
        let arrived = opening + TimeDelta::minutes(3 * ticket as i64);
        let started = Instant::now();
        let (state, events, commands) = run_ticket(
            &support,
            &mut simulator,
            &format!("T-{:05}", ticket + 1),
            arrived,
        )?;
        engine_time += started.elapsed();
        report.add(&state, &events, commands);

        // The ticket's events in one transaction: the store checks they run on from an
        // empty case, exactly as it checks a single command's events.
        let started = Instant::now();
        store.append(&Append::new(&support, &CaseState::new(), events)?)?;
        store_time += started.elapsed();
        bar.inc(1);
    }
    bar.finish_and_clear();

    let closed = store
        .list(&CaseFilter::all().status(engine::CaseStatus::Closed))?
        .len();
    report.print(tickets, closed, engine_time, store_time);
    println!(
        "\nthe cases are in {}; try `cargo run --bin sop -- case --db sqlite:{} list`",
        path.display(),
        path.display()
    );
    Ok(())
}

/// Checks every SOP like `sop validate` and returns the compiled customer support process.
fn validate_library(dir: &str) -> Result<Process, Box<dyn Error>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    let mut support = None;
    for path in &paths {
        let name = path.display().to_string();
        let loaded = sopflow::load(&name, &std::fs::read(path)?);
        let warnings = loaded.diagnostics.iter().filter(|d| !d.is_error()).count();
        match loaded.process {
            Some(process) => {
                println!(
                    "ok    {name}: {} ({} steps, {} warnings)",
                    process.title(),
                    process.nodes().filter(|(_, n)| n.step.is_some()).count(),
                    warnings
                );
                if process.id().as_str() == "customer-support" {
                    support = Some(process);
                }
            }
            None => {
                eprint!(
                    "{}",
                    render_human(&loaded.source, &loaded.diagnostics, false)
                );
                return Err(format!("{name} has errors").into());
            }
        }
    }
    support.ok_or_else(|| "sops/ has no customer-support SOP".into())
}

fn run_ticket(
    process: &Process,
    simulator: &mut Simulator,
    case: &str,
    arrived: DateTime<Utc>,
) -> Result<(CaseState, Vec<Event>, usize), Box<dyn Error>> {
    let mut state = CaseState::new();
    let mut events = Vec::new();
    let mut commands = 0;
    let mut next = Some(simulator.start(process, case, arrived));
    while let Some(step) = next {
        for event in engine::handle(process, &state, step.command, step.at)? {
            state.apply(&event);
            events.push(event);
        }
        commands += 1;
        next = simulator.next(process, &state, step.at);
    }
    Ok((state, events, commands))
}

/// What the tickets went through, computed from their events alone.
#[derive(Default)]
struct Report {
    straight_through: usize,
    reworked: usize,
    escalated: usize,
    breached: usize,
    commands: usize,
    events: usize,
    first_response_minutes: Vec<i64>,
    resolution_minutes: Vec<i64>,
}

impl Report {
    fn add(&mut self, state: &CaseState, events: &[Event], commands: usize) {
        let rejected = events
            .iter()
            .any(|e| matches!(e.kind, EventKind::GateRejected { .. }));
        let escalated = events.iter().any(|e| matches!(e.kind, EventKind::StepEscalated { .. } | EventKind::SlaBreached { escalated: true, .. }) || matches!(&e.kind, EventKind::DecisionTaken { target, .. } if target.as_str() == "escalate"));
        let breached = events
            .iter()
            .any(|e| matches!(e.kind, EventKind::SlaBreached { .. }));
        self.reworked += usize::from(rejected);
        self.escalated += usize::from(escalated);
        self.breached += usize::from(breached);
        self.straight_through += usize::from(!rejected && !escalated && !breached);
        self.commands += commands;
        self.events += events.len();
        if let Some(started) = state.started_at() {
            // First response: the customer's message acknowledged (the first step done).
            if let Some(first) = events
                .iter()
                .find(|e| matches!(e.kind, EventKind::StepCompleted { .. }))
            {
                self.first_response_minutes
                    .push((first.at - started).num_minutes());
            }
            if let Some(closed) = state.closed_at() {
                self.resolution_minutes
                    .push((closed - started).num_minutes());
            }
        }
    }

    fn print(
        &mut self,
        tickets: usize,
        closed: usize,
        engine_time: Duration,
        store_time: Duration,
    ) {
        let percent = |n: usize| 100.0 * n as f64 / tickets.max(1) as f64;
        println!("tickets            {tickets} ({closed} closed in the store)");
        println!(
            "  straight through {:>6} ({:.1}%)",
            self.straight_through,
            percent(self.straight_through)
        );
        println!(
            "  reworked         {:>6} ({:.1}%)  an approval was rejected",
            self.reworked,
            percent(self.reworked)
        );
        println!(
            "  escalated        {:>6} ({:.1}%)",
            self.escalated,
            percent(self.escalated)
        );
        println!(
            "  SLA breached     {:>6} ({:.1}%)",
            self.breached,
            percent(self.breached)
        );
        println!(
            "commands           {} ({:.1} per ticket), {} events",
            self.commands,
            self.commands as f64 / tickets.max(1) as f64,
            self.events
        );
        println!(
            "engine + team      {:.0} commands/s (the simulated team choosing each command included)",
            self.commands as f64 / engine_time.as_secs_f64().max(1e-9)
        );
        println!(
            "store (SQLite)     {:.0} events/s, one durable transaction per ticket",
            self.events as f64 / store_time.as_secs_f64().max(1e-9)
        );
        for (name, minutes) in [
            ("first response", &mut self.first_response_minutes),
            ("resolution", &mut self.resolution_minutes),
        ] {
            minutes.sort_unstable();
            if minutes.is_empty() {
                continue;
            }
            let at = |q: f64| minutes[((minutes.len() - 1) as f64 * q) as usize];
            println!(
                "{name:<18} median {}, p90 {}, max {}",
                hours(at(0.5)),
                hours(at(0.9)),
                hours(at(1.0))
            );
        }
    }
}

fn hours(minutes: i64) -> String {
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}
