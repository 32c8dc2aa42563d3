//! What following the links of sub-SOPs costs, on SQLite (`synchronous = FULL`) and in
//! memory, against one plain durable command on the same store.
//!
//! - `links/*/plain_command`: completing a task of a case: one durable append.
//! - `links/*/start_sub_case`: `store::follow_links` on an order whose call step just
//!   became active: it starts the sub-case on the called SOP's latest stored version and
//!   records the start in the order (two durable appends, and the reads before them).
//! - `links/*/report_back`: `store::follow_links` on a credit check that just closed: the
//!   order takes its verdict, completes the call step and routes on, and the sub-case
//!   records that its parent heard (two durable appends).
//!
//! Each iteration works on a case of its own, prepared untimed.
//!
//! Run with `cargo bench --bench links --all-features`.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use sopflow::engine::{Action, Actor, CaseId, Command, FieldValues};
use sopflow::graph::Process;
use sopflow::model::RoleId;
use sopflow::store::{CaseStore, MemoryStore, Processes, SqliteStore, execute, follow_links};
use tokio::runtime::Runtime;

const ORDER: &str = include_str!("../tests/fixtures/patterns/sub-sop.yaml");
const CHECK: &str = include_str!("../tests/fixtures/patterns/sub-sop-credit-check.yaml");

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

fn sam() -> Actor {
    Actor::new("sam", [RoleId::from_static("sales")])
}

fn complete(id: &str, step: &str, by: Actor, fields: FieldValues) -> Command {
    Command::new(
        id,
        by,
        Action::Complete {
            step: step.parse().unwrap(),
            item: None,
            fields,
        },
    )
}

fn order_fields() -> FieldValues {
    FieldValues::from([
        ("customer".parse().unwrap(), "Acme".into()),
        ("amount".parse().unwrap(), 1200.into()),
    ])
}

/// Starts order `case`; with `at_call`, takes it to its call step (the sub-case asked
/// for, not started).
async fn order<S: CaseStore>(store: &S, process: &Process, case: &CaseId, at_call: bool) {
    let start = Command::new(
        format!("{case}-start"),
        sam(),
        Action::Start {
            case: case.clone(),
            fields: FieldValues::new(),
        },
    );
    execute(store, process, case, start, now()).await.unwrap();
    if at_call {
        let take = complete(&format!("{case}-take"), "take_order", sam(), order_fields());
        execute(store, process, case, take, now()).await.unwrap();
    }
}

fn bench_store<S: CaseStore>(c: &mut Criterion, name: &str, runtime: &Runtime, store: S) {
    let (order_process, check) = runtime.block_on(async {
        (
            store.save_sop("sub-sop.yaml", ORDER).await.unwrap(),
            store
                .save_sop("sub-sop-credit-check.yaml", CHECK)
                .await
                .unwrap(),
        )
    });
    let processes = Processes::new();
    processes.insert(order_process.clone());
    processes.insert(check.clone());
    let mut next = 0u64;
    let mut fresh = |prefix: &str| {
        next += 1;
        CaseId::new(format!("{prefix}-{next}"))
    };
    let mut group = c.benchmark_group(format!("links/{name}"));
    group.sample_size(20);
    group.bench_function("plain_command", |b| {
        b.iter_custom(|iters| {
            let cases: Vec<CaseId> = (0..iters).map(|_| fresh("P")).collect();
            runtime.block_on(async {
                for case in &cases {
                    order(&store, &order_process, case, false).await;
                }
                let started = Instant::now();
                for case in &cases {
                    let take = complete("take", "take_order", sam(), order_fields());
                    execute(&store, &order_process, case, take, now())
                        .await
                        .unwrap();
                }
                started.elapsed()
            })
        });
    });
    group.bench_function("start_sub_case", |b| {
        b.iter_custom(|iters| {
            let cases: Vec<CaseId> = (0..iters).map(|_| fresh("S")).collect();
            runtime.block_on(async {
                for case in &cases {
                    order(&store, &order_process, case, true).await;
                }
                let started = Instant::now();
                for case in &cases {
                    let links = follow_links(&store, &processes, case, now()).await.unwrap();
                    assert_eq!(links.followed.len(), 1);
                }
                started.elapsed()
            })
        });
    });
    group.bench_function("report_back", |b| {
        b.iter_custom(|iters| {
            let cases: Vec<CaseId> = (0..iters).map(|_| fresh("R")).collect();
            runtime.block_on(async {
                let mut children = Vec::with_capacity(cases.len());
                for case in &cases {
                    order(&store, &order_process, case, true).await;
                    follow_links(&store, &processes, case, now()).await.unwrap();
                    let child = CaseId::new(format!("{case}.credit_check.1"));
                    let fay = Actor::new("fay", [RoleId::from_static("analyst")]);
                    let approved = FieldValues::from([("approved".parse().unwrap(), true.into())]);
                    execute(
                        &store,
                        &check,
                        &child,
                        complete("assess", "assess", fay, approved),
                        now(),
                    )
                    .await
                    .unwrap();
                    children.push(child);
                }
                let started = Instant::now();
                for child in &children {
                    let links = follow_links(&store, &processes, child, now())
                        .await
                        .unwrap();
                    assert_eq!(links.followed.len(), 1);
                }
                started.elapsed()
            })
        });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-links.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let sqlite = runtime
        .block_on(SqliteStore::open(&format!("sqlite:{}", path.display())))
        .unwrap();
    bench_store(c, "sqlite", &runtime, sqlite);
    bench_store(c, "memory", &runtime, MemoryStore::new());
}

criterion_group! {
    name = links;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(links);
