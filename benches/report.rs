//! `sop report` over a large store: 100,000 simulated tickets of the ticket-handling SOP
//! (about 2.7 million events) in SQLite, every KPI and process statistic computed by
//! `sopflow::metrics` per week and channel, and the tables written: what `sop report --by
//! week --segment channel` does (`store::measure`, from the facts the store keeps), and the
//! same report read from every case's events (`CaseStore::histories`).
//!
//! The store is generated once (each case simulated in memory, then appended whole, many
//! appends at once so the group commit shares transactions) and kept under the target
//! directory (`target/tmp/report-100k-v1.db`), so later runs only measure the report. Its
//! peak memory is measured on the real command:
//!
//! ```text
//! /usr/bin/time -v target/release/sop report --db sqlite:target/tmp/report-100k-v1.db \
//!     --by week --segment channel > /dev/null
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use sopflow::engine::CaseState;
use sopflow::graph::Process;
use sopflow::metrics::format::{TextFormat, text};
use sopflow::metrics::{Accumulator, Options, Period};
use sopflow::simulate::{Behaviour, Simulator, run_case};
use sopflow::store::{Append, CaseFilter, CaseStore, SqliteStore, measure};
use tokio::runtime::Runtime;

/// Tickets in the store.
const CASES: usize = 100_000;

/// Appends in flight at once while generating.
const IN_FLIGHT: usize = 256;

const SOP: &str = include_str!("../sops/ticket-handling.yaml");

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn store_path() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-100k-v1.db")
}

/// The cached store, generated when it is missing or incomplete.
fn store(runtime: &Runtime) -> (SqliteStore, Process) {
    let path = store_path();
    let url = format!("sqlite:{}", path.display());
    if path.exists() {
        let store = runtime.block_on(SqliteStore::open(&url)).unwrap();
        let cases = runtime
            .block_on(store.list(&CaseFilter::all()))
            .unwrap()
            .len();
        if cases == CASES {
            let process = runtime
                .block_on(store.save_sop("ticket-handling.yaml", SOP))
                .unwrap();
            return (store, process);
        }
        drop(store);
    }
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let started = Instant::now();
    let store = Arc::new(runtime.block_on(SqliteStore::open(&url)).unwrap());
    let process = Arc::new(
        runtime
            .block_on(store.save_sop("ticket-handling.yaml", SOP))
            .unwrap(),
    );
    let opening = Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap();
    let mut events = 0usize;
    for chunk in (0..CASES).collect::<Vec<_>>().chunks(IN_FLIGHT) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|&n| {
                let (store, process) = (Arc::clone(&store), Arc::clone(&process));
                runtime.spawn(async move {
                    let mut simulator = Simulator::new(n as u64 + 1, Behaviour::default());
                    let arrived = opening + Duration::minutes(3 * n as i64);
                    let (_, history) = run_case(
                        &process,
                        &mut simulator,
                        &format!("T-{:06}", n + 1),
                        arrived,
                        1_000,
                    )
                    .unwrap();
                    let count = history.len();
                    let batch = Append::new(&process, &CaseState::new(), history).unwrap();
                    store.append(&batch).await.unwrap();
                    count
                })
            })
            .collect();
        for task in tasks {
            events += runtime.block_on(task).unwrap();
        }
    }
    eprintln!(
        "generated {CASES} cases, {events} events in {:.0} s: {}",
        started.elapsed().as_secs_f64(),
        path.display()
    );
    let store = Arc::try_unwrap(store).ok().unwrap();
    let process = Arc::try_unwrap(process).ok().unwrap();
    (store, process)
}

fn accumulator(process: &Process) -> Accumulator {
    Accumulator::new(
        process.id().clone(),
        Options {
            period: Some(Period::Week),
            segment: Some("channel".parse().unwrap()),
            ..Options::default()
        },
    )
}

/// What `sop report --by week --segment channel` does after opening the store: every case
/// from the facts the store keeps (kept by the first run, which reads the events).
async fn report(store: &SqliteStore, process: &Process) -> String {
    let mut metrics = accumulator(process);
    let mut processes = BTreeMap::from([(process.version(), process.clone())]);
    let filter = CaseFilter::all().sop(process.id().clone()).limit(1_000);
    measure(store, &filter, &mut metrics, &mut processes)
        .await
        .unwrap();
    text(&metrics.finish(), TextFormat::Table)
}

/// The same report from every case's events, as when no facts are kept.
async fn report_from_events(store: &SqliteStore, process: &Process) -> String {
    let mut metrics = accumulator(process);
    let mut filter = CaseFilter::all().sop(process.id().clone()).limit(1_000);
    loop {
        let page = store.histories(&filter).await.unwrap();
        let Some(last) = page.last() else { break };
        filter.after = Some(last.summary.case.clone());
        for history in page {
            metrics.push(process, &history.events).unwrap();
        }
    }
    text(&metrics.finish(), TextFormat::Table)
}

fn benches(c: &mut Criterion) {
    let runtime = runtime();
    let (store, process) = store(&runtime);
    let mut group = c.benchmark_group("report");
    group.sample_size(10);
    group.bench_function("100k_cases_from_events", |b| {
        b.iter(|| runtime.block_on(report_from_events(&store, &process)));
    });
    group.bench_function("100k_cases_by_week_and_channel", |b| {
        b.iter(|| runtime.block_on(report(&store, &process)));
    });
    group.finish();
}

criterion_group!(report_benches, benches);
criterion_main!(report_benches);
