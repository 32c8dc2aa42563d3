//! Durable commands per second on SQLite, as an embedding app would send them: a simulated
//! team works cases of the customer support SOP through [`CaseCache::execute`], every
//! command appended and on disk (WAL, `synchronous = FULL`) before it is answered, with 1,
//! 8 and 64 callers at once; then what loading a case and a command cost as the case ages.
//!
//! Run with `cargo run --release --example durable` (the figures in the README come from
//! it). The store is a new file under `target/`. With `SOPFLOW_BENCH_POSTGRES` set to a
//! database URL (and `--features postgres`), the same runs go to PostgreSQL too, on case ids
//! of their own.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use sopflow::engine::{Action, Actor, CaseId, Command};
use sopflow::graph::Process;
use sopflow::model::RoleId;
use sopflow::simulate::{Behaviour, Simulator};
use sopflow::store::{AnyStore, CaseCache, CaseStore, SqliteStore, execute};

/// How long each concurrency level runs.
const RUN: Duration = Duration::from_secs(5);

fn opening() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap()
}

async fn open(name: &str) -> Result<SqliteStore, Box<dyn Error>> {
    let path = format!("target/durable-{name}.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    Ok(SqliteStore::open(&format!("sqlite:{path}")).await?)
}

/// One caller: works its own cases one command at a time until `deadline`; returns the
/// latency of every command and how many steps were completed or approved. Case ids start
/// with `run`, so runs against one database do not meet.
async fn caller(
    store: Arc<AnyStore>,
    cache: Arc<CaseCache>,
    process: Arc<Process>,
    (run, me): (Arc<str>, usize),
    deadline: Instant,
) -> Result<(Vec<Duration>, u64), String> {
    let mut simulator = Simulator::new(me as u64 + 1, Behaviour::default());
    let mut latencies = Vec::new();
    let mut completions = 0;
    for n in 0.. {
        if Instant::now() >= deadline {
            break;
        }
        let case = format!("{run}-C{me}-{n}");
        let id = CaseId::from(case.as_str());
        let mut next = Some(simulator.start(&process, &case, opening()));
        while let Some(step) = next {
            let finishes = matches!(
                step.command.action,
                Action::Complete { .. } | Action::Approve { .. }
            );
            let sent = Instant::now();
            let executed = cache
                .execute_with_retry(&*store, &process, &id, step.command, step.at, 5)
                .await
                .map_err(|e| e.to_string())?;
            latencies.push(sent.elapsed());
            completions += u64::from(finishes);
            next = simulator.next(&process, &executed.state, step.at);
        }
    }
    Ok((latencies, completions))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// `callers` callers at once for [`RUN`] against the store at `url` (a new SQLite file when
/// `None`).
async fn throughput(url: Option<&str>, callers: usize) -> Result<(), Box<dyn Error>> {
    let store = Arc::new(match url {
        Some(url) => sopflow::store::open(url).await?,
        None => AnyStore::Sqlite(open(&format!("callers-{callers}")).await?),
    });
    // A run of its own in a database that outlives it.
    let run: Arc<str> = Arc::from(format!("R{}", Utc::now().timestamp_micros()));
    let text = std::fs::read_to_string("sops/customer-support-process.yaml")?;
    let process = Arc::new(
        store
            .save_sop("customer-support-process.yaml", &text)
            .await?,
    );
    let cache = Arc::new(CaseCache::new(10_000));
    let started = Instant::now();
    let deadline = started + RUN;
    let tasks: Vec<_> = (0..callers)
        .map(|me| {
            tokio::spawn(caller(
                Arc::clone(&store),
                Arc::clone(&cache),
                Arc::clone(&process),
                (Arc::clone(&run), me),
                deadline,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut completions = 0;
    for task in tasks {
        let (mine, done) = task.await??;
        latencies.extend(mine);
        completions += done;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "{callers:>3} callers: {:>6.0} durable commands/s ({:>6.0} step completions/s), p50 {:>7.2?}, p99 {:>7.2?}",
        latencies.len() as f64 / elapsed,
        completions as f64 / elapsed,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    );
    match &*store {
        AnyStore::Sqlite(sqlite) => sqlite.close().await,
        #[cfg(feature = "postgres")]
        AnyStore::Postgres(postgres) => postgres.close().await,
        _ => {}
    }
    Ok(())
}

fn note(id: String) -> Command {
    Command::new(
        id,
        Actor::new("ana", [RoleId::from_static("agent")]),
        Action::AddNote {
            text: "called the customer back".to_owned(),
            step: None,
        },
    )
}

const ONE_STEP: &str = "id: aging
version: 1
title: A case that lives long
department: Quality Assurance
roles: { agent: Support team member }
steps:
  - { id: work, title: Work, role: agent, end: true }
";

/// Median of `runs` timings of `f`.
async fn median<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for run in 0..runs {
        let started = Instant::now();
        f(run).await;
        times.push(started.elapsed());
    }
    times.sort();
    times[runs / 2]
}

async fn aging() -> Result<(), Box<dyn Error>> {
    let store = open("aging").await?;
    let process = store.save_sop("aging.yaml", ONE_STEP).await?;
    let now = opening();
    let agent = Actor::new("ana", [RoleId::from_static("agent")]);
    let cache = CaseCache::new(100);
    for events in [10u64, 1_000, 10_000] {
        let case = CaseId::from(format!("A-{events}"));
        let start = Command::new(
            format!("{case}-start"),
            agent.clone(),
            Action::Start {
                case: case.clone(),
                fields: Default::default(),
            },
        );
        let mut version = cache
            .execute(&store, &process, &case, start, now)
            .await?
            .state
            .version();
        while version < events {
            let command = note(format!("{case}-{version}"));
            version = cache
                .execute(&store, &process, &case, command, now)
                .await?
                .state
                .version();
        }
        let full = median(21, |_| async {
            store.load(&case).await.unwrap();
        })
        .await;
        let latest = median(21, |_| async {
            store.load_latest(&case).await.unwrap();
        })
        .await;
        // A command on a case the cache does not hold (read from its snapshot) and on one
        // it holds; each adds one event.
        let mut sent = 0;
        let cold = median(21, |_| {
            sent += 1;
            let command = note(format!("{case}-cold-{sent}"));
            let (store, process, case, cache) = (&store, &process, &case, &cache);
            async move {
                cache.remove(case);
                execute(store, process, case, command, now).await.unwrap();
            }
        })
        .await;
        let warm = median(21, |_| {
            sent += 1;
            let command = note(format!("{case}-warm-{sent}"));
            let (store, process, case, cache) = (&store, &process, &case, &cache);
            async move {
                cache
                    .execute(store, process, case, command, now)
                    .await
                    .unwrap();
            }
        })
        .await;
        println!(
            "{events:>6} events: full load {full:>9.2?}, load from snapshot {latest:>9.2?}; \
             durable command cold {cold:>8.2?}, cached {warm:>8.2?}"
        );
    }
    store.close().await;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!("customer support SOP, SQLite (WAL, synchronous = FULL), {RUN:?} per row:");
        for callers in [1, 8, 64] {
            throughput(None, callers).await?;
        }
        if let Ok(url) = std::env::var("SOPFLOW_BENCH_POSTGRES") {
            println!("\nthe same on PostgreSQL (synchronous_commit as the server has it):");
            for callers in [1, 8, 64] {
                throughput(Some(&url), callers).await?;
            }
        }
        println!("\none case as it ages (medians; each command writes one event):");
        aging().await
    })
}
