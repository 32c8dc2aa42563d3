//! How fast the stores write and read cases.
//!
//! - `append/*`: events appended per second, durably: SQLite in WAL mode with
//!   `synchronous = FULL` (the store's setting: a returned append survives a power cut),
//!   PostgreSQL with `synchronous_commit = on`. Each append is one `add_note` command (one
//!   event), decided by the engine and appended with its expected version. `single_case`
//!   appends to one case one after the other; `many_cases` has 8 tasks appending to 1,000
//!   cases at once (PostgreSQL commits them in groups; SQLite has one writer).
//! - `load_replay/*`: loading a 1,000-event case and folding it into its state, its hash
//!   chain checked (`1000_events`), and also replayed against its process
//!   (`1000_events_verified`, `store::load_verified`).
//! - `hash_chain/1000_events`: the SHA-256 chain over the 1,000 events' JSON alone.
//! - `load_replay/*/1000_events_from_snapshot`: the same case read as a command reads it,
//!   from its latest snapshot and the events after it (`CaseStore::load_latest`).
//! - `durable/sqlite/{1,8,64}_callers`: durable commands per second through the public API
//!   (`CaseCache::execute`, one `add_note` each) with that many callers at once, each on
//!   its own cases; group commit shares transactions between them. `examples/durable.rs`
//!   prints p50 and p99 latencies for the same workload on a real SOP.
//! - `command_by_age/sqlite/{10,1000,10000}_events`: one durable command on a case of that
//!   age, through the cache (`cached`) and read from its snapshot (`cold`, `execute`). Each
//!   command adds an event, and criterion sends thousands: the case is that old when the
//!   `cached` run starts and some thousands of events older during `cold` (which reads a
//!   snapshot of the same size at any age: the state keeps recent command ids only, the
//!   store the rest). `examples/durable.rs` sends 21 commands per age, so its ages hold.
//!
//! PostgreSQL runs only when `SOPFLOW_TEST_POSTGRES` is set (and the `postgres` feature
//! is on); it uses the schema `sopflow_bench`, dropped first.
//!
//! Run with `cargo bench --bench store --all-features`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sopflow::engine::{self, Action, Actor, CaseId, CaseState, Command};
use sopflow::graph::Process;
use sopflow::model::RoleId;
use sopflow::store::{
    Append, CaseCache, CaseStore, MemoryStore, Processes, SqliteStore, execute, load_verified,
};
use tokio::runtime::Runtime;

const SOP: &str = "id: bench
version: 1
title: Benchmark
department: Quality Assurance
roles: { agent: Support team member }
steps:
  - { id: work, title: Work, role: agent, end: true }
";

/// Cases the `many_cases` benchmark spreads its appends over.
const CASES: usize = 1_000;
/// Concurrent writers in `many_cases`.
const WRITERS: usize = 8;
/// Events in the case `load_replay` reads.
const HISTORY: usize = 1_000;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

fn agent() -> Actor {
    Actor::new("ana", [RoleId::new("agent").unwrap()])
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A case with one open step, with its state.
async fn new_case<S: CaseStore>(store: &S, process: &Process, case: &str) -> CaseState {
    let start = Command::new(
        format!("{case}-start"),
        agent(),
        Action::Start {
            case: CaseId::new(case),
            fields: Default::default(),
        },
    );
    let events = engine::handle(process, &CaseState::new(), start, now()).unwrap();
    let batch = Append::new(process, &CaseState::new(), events).unwrap();
    store.append(&batch).await.unwrap();
    batch.state().clone()
}

/// Decides and appends one note, returning the new state.
async fn append_note<S: CaseStore>(
    store: &S,
    process: &Process,
    state: &CaseState,
    id: String,
) -> CaseState {
    let note = Command::new(
        id,
        agent(),
        Action::AddNote {
            text: "called the customer back".to_owned(),
            step: None,
        },
    );
    let events = engine::handle(process, state, note, now()).unwrap();
    let batch = Append::new(process, state, events).unwrap();
    store.append(&batch).await.unwrap();
    batch.state().clone()
}

/// The append benchmarks on one store.
fn appends<S: CaseStore + 'static>(c: &mut Criterion, name: &str, runtime: &Runtime, store: S) {
    let store = Arc::new(store);
    let process = Arc::new(runtime.block_on(store.save_sop("bench.yaml", SOP)).unwrap());
    let mut group = c.benchmark_group("append");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(1));

    let mut state = runtime.block_on(new_case(&*store, &process, "single"));
    let mut counter = 0u64;
    group.bench_function(BenchmarkId::new(name, "single_case"), |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    counter += 1;
                    state = append_note(&*store, &process, &state, format!("s{counter}")).await;
                }
                started.elapsed()
            })
        })
    });

    let cases: Vec<CaseState> = runtime.block_on(async {
        let mut cases = Vec::with_capacity(CASES);
        for i in 0..CASES {
            cases.push(new_case(&*store, &process, &format!("many-{i}")).await);
        }
        cases
    });
    // Each writer owns every WRITERS-th case, so writers never conflict.
    let mut shards: Vec<Vec<CaseState>> = (0..WRITERS).map(|_| Vec::new()).collect();
    for (i, case) in cases.into_iter().enumerate() {
        shards[i % WRITERS].push(case);
    }
    let mut round = 0u64;
    group.bench_function(BenchmarkId::new(name, "many_cases"), |b| {
        b.iter_custom(|iters| {
            round += 1;
            let per_writer = iters.div_ceil(WRITERS as u64);
            let taken = std::mem::take(&mut shards);
            let (elapsed, back) = runtime.block_on(async {
                let started = Instant::now();
                let mut tasks = Vec::new();
                for (writer, mut shard) in taken.into_iter().enumerate() {
                    let store = Arc::clone(&store);
                    let process = Arc::clone(&process);
                    tasks.push(tokio::spawn(async move {
                        for n in 0..per_writer as usize {
                            let at = n % shard.len();
                            let id = format!("m{round}-{writer}-{n}");
                            shard[at] = append_note(&*store, &process, &shard[at], id).await;
                        }
                        shard
                    }));
                }
                let mut back = Vec::new();
                for task in tasks {
                    back.push(task.await.unwrap());
                }
                (started.elapsed(), back)
            });
            shards = back;
            // Report per append actually made.
            elapsed.mul_f64(iters as f64 / (per_writer * WRITERS as u64) as f64)
        })
    });
    group.finish();
}

/// The load + replay benchmark on one store.
fn load_replay<S: CaseStore>(c: &mut Criterion, name: &str, runtime: &Runtime, store: S) {
    let process = runtime.block_on(store.save_sop("bench.yaml", SOP)).unwrap();
    let case = CaseId::new("history");
    runtime.block_on(async {
        let mut state = new_case(&store, &process, case.as_str()).await;
        while (state.version() as usize) < HISTORY {
            let id = format!("h{}", state.version());
            state = append_note(&store, &process, &state, id).await;
        }
    });
    let mut group = c.benchmark_group("load_replay");
    group.sample_size(20);
    group.throughput(Throughput::Elements(HISTORY as u64));
    group.bench_function(BenchmarkId::new(name, "1000_events"), |b| {
        b.iter(|| {
            let loaded = runtime.block_on(store.load(black_box(&case))).unwrap();
            assert_eq!(loaded.state.version(), HISTORY as u64);
            loaded
        })
    });
    // The same load, then every event checked against the process (what `execute` and
    // `sop case verify` add to the hash chain `load` always checks).
    let processes = Processes::new();
    processes.insert(process.clone());
    group.bench_function(BenchmarkId::new(name, "1000_events_verified"), |b| {
        b.iter(|| {
            let (loaded, _) = runtime
                .block_on(load_verified(&store, &processes, black_box(&case)))
                .unwrap();
            assert_eq!(loaded.state.version(), HISTORY as u64);
            loaded
        })
    });
    group.bench_function(BenchmarkId::new(name, "1000_events_from_snapshot"), |b| {
        b.iter(|| {
            let loaded = runtime
                .block_on(store.load_latest(black_box(&case)))
                .unwrap();
            assert_eq!(loaded.state().version(), HISTORY as u64);
            loaded
        })
    });
    group.finish();
}

fn note(id: String) -> Command {
    Command::new(
        id,
        agent(),
        Action::AddNote {
            text: "called the customer back".to_owned(),
            step: None,
        },
    )
}

/// Durable commands per second with 1, 8 and 64 callers through the case cache.
fn durable(c: &mut Criterion, runtime: &Runtime) {
    let store = Arc::new(
        runtime
            .block_on(SqliteStore::open(&sqlite_path("bench-durable")))
            .unwrap(),
    );
    let process = Arc::new(runtime.block_on(store.save_sop("bench.yaml", SOP)).unwrap());
    let cache = Arc::new(CaseCache::new(10_000));
    let mut group = c.benchmark_group("durable");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(1));
    let mut round = 0u64;
    for callers in [1usize, 8, 64] {
        let cases: Vec<CaseId> = (0..callers)
            .map(|n| CaseId::from(format!("d{callers}-{n}")))
            .collect();
        runtime.block_on(async {
            for case in &cases {
                new_case(&*store, &process, case.as_str()).await;
            }
        });
        group.bench_function(
            BenchmarkId::new("sqlite", format!("{callers}_callers")),
            |b| {
                b.iter_custom(|iters| {
                    round += 1;
                    let per_caller = iters.div_ceil(callers as u64);
                    let elapsed = runtime.block_on(async {
                        let started = Instant::now();
                        let tasks: Vec<_> = cases
                            .iter()
                            .cloned()
                            .map(|case| {
                                let (store, process, cache) =
                                    (Arc::clone(&store), Arc::clone(&process), Arc::clone(&cache));
                                tokio::spawn(async move {
                                    for n in 0..per_caller {
                                        let command = note(format!("r{round}-{n}"));
                                        cache
                                            .execute(&*store, &process, &case, command, now())
                                            .await
                                            .unwrap();
                                    }
                                })
                            })
                            .collect();
                        for task in tasks {
                            task.await.unwrap();
                        }
                        started.elapsed()
                    });
                    elapsed.mul_f64(iters as f64 / (per_caller * callers as u64) as f64)
                })
            },
        );
    }
    group.finish();
}

/// What one durable command costs as its case ages.
fn command_by_age(c: &mut Criterion, runtime: &Runtime) {
    let store = runtime
        .block_on(SqliteStore::open(&sqlite_path("bench-age")))
        .unwrap();
    let process = runtime.block_on(store.save_sop("bench.yaml", SOP)).unwrap();
    let cache = CaseCache::new(100);
    let mut group = c.benchmark_group("command_by_age");
    group.sample_size(20);
    let mut sent = 0u64;
    for age in [10u64, 1_000, 10_000] {
        let case = CaseId::from(format!("age-{age}"));
        runtime.block_on(async {
            let mut state = new_case(&store, &process, case.as_str()).await;
            while state.version() < age {
                let id = format!("h{}", state.version());
                state = append_note(&store, &process, &state, id).await;
            }
        });
        group.bench_function(
            BenchmarkId::new("sqlite", format!("{age}_events/cached")),
            |b| {
                b.iter(|| {
                    sent += 1;
                    runtime
                        .block_on(cache.execute(
                            &store,
                            &process,
                            &case,
                            note(format!("c{sent}")),
                            now(),
                        ))
                        .unwrap()
                })
            },
        );
        group.bench_function(
            BenchmarkId::new("sqlite", format!("{age}_events/cold")),
            |b| {
                b.iter(|| {
                    sent += 1;
                    runtime
                        .block_on(execute(
                            &store,
                            &process,
                            &case,
                            note(format!("c{sent}")),
                            now(),
                        ))
                        .unwrap()
                })
            },
        );
        cache.remove(&case);
    }
    group.finish();
}

/// The hash chain alone: SHA-256 over 1,000 stored events' JSON, each after the previous
/// hash. `load_replay` minus this is what loading cost before histories were hashed.
fn hash_chain(c: &mut Criterion) {
    use sha2::{Digest, Sha256};
    let store = MemoryStore::new();
    let runtime = runtime();
    let process = runtime.block_on(store.save_sop("bench.yaml", SOP)).unwrap();
    let case = CaseId::new("history");
    let events = runtime.block_on(async {
        let mut state = new_case(&store, &process, case.as_str()).await;
        while (state.version() as usize) < HISTORY {
            let id = format!("h{}", state.version());
            state = append_note(&store, &process, &state, id).await;
        }
        store.load(&case).await.unwrap().events
    });
    let jsons: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    let mut group = c.benchmark_group("hash_chain");
    group.throughput(Throughput::Elements(HISTORY as u64));
    group.bench_function("1000_events", |b| {
        b.iter(|| {
            let mut previous = [0u8; 32];
            for json in black_box(&jsons) {
                let mut hasher = Sha256::new();
                hasher.update(previous);
                hasher.update(json.as_bytes());
                previous = hasher.finalize().into();
            }
            previous
        })
    });
    group.finish();
}

fn sqlite_path(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    format!("sqlite:{}", path.display())
}

fn benches(c: &mut Criterion) {
    let runtime = runtime();
    let sqlite = runtime
        .block_on(SqliteStore::open(&sqlite_path("bench-append")))
        .unwrap();
    appends(c, "sqlite", &runtime, sqlite);
    let sqlite = runtime
        .block_on(SqliteStore::open(&sqlite_path("bench-load")))
        .unwrap();
    load_replay(c, "sqlite", &runtime, sqlite);
    load_replay(c, "memory", &runtime, MemoryStore::new());
    hash_chain(c);
    durable(c, &runtime);
    command_by_age(c, &runtime);
    postgres(c, &runtime);
}

#[cfg(feature = "postgres")]
fn postgres(c: &mut Criterion, runtime: &Runtime) {
    use sopflow::store::{PostgresOptions, PostgresStore};
    let Ok(url) = std::env::var("SOPFLOW_TEST_POSTGRES") else {
        eprintln!("SOPFLOW_TEST_POSTGRES is not set: skipping the PostgreSQL benchmarks");
        return;
    };
    let connect = |schema: &str| {
        let url = url.clone();
        let schema = schema.to_owned();
        runtime.block_on(async move {
            let admin = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
            )))
            .execute(&admin)
            .await
            .unwrap();
            admin.close().await;
            PostgresStore::connect_with(
                &PostgresOptions::new(url)
                    .schema(schema)
                    .max_connections(WRITERS as u32)
                    .setting("synchronous_commit", "on"),
            )
            .await
            .unwrap()
        })
    };
    appends(c, "postgres", runtime, connect("sopflow_bench"));
    load_replay(c, "postgres", runtime, connect("sopflow_bench_load"));
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &mut Criterion, _: &Runtime) {
    eprintln!("built without the `postgres` feature: skipping the PostgreSQL benchmarks");
}

criterion_group!(store, benches);
criterion_main!(store);
