//! Moving 10,000 open cases onto a new SOP version in SQLite (`sop case migrate`).
//!
//! - `migrate/sqlite/10000_cases/dry_run`: deciding for every case whether it can move
//!   (each loaded from its snapshot and events, checked, and decided), writing nothing.
//! - `migrate/sqlite/10000_cases/move`: moving them, one durable append per case, up to 64
//!   in flight (group commit), on a fresh copy of the same store each time.
//!
//! The cases run `sops/ticket-handling.yaml` version 1; half are at their first step, half
//! at the step the revision (`tests/fixtures/migration/ticket-handling.v2.yaml`) folds into
//! another. The store is built once and copied for each run.
//!
//! Run with `cargo bench --bench migrate`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures_util::future::join_all;
use sopflow::engine::{self, Action, Actor, ActorId, CaseId, CaseState, Command, FieldValues};
use sopflow::graph::Process;
use sopflow::model::FieldValue;
use sopflow::store::{Append, CaseStore, Processes, SqliteStore, migrate_open_cases};
use tokio::runtime::Runtime;

const CASES: usize = 10_000;

fn manifest(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn db_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.db"))
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Decides `action` on `state` and returns the append.
fn decide(process: &Process, state: &CaseState, id: String, action: Action) -> Append {
    let actor = Actor::new("ana", ["representative".parse().unwrap()]);
    let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let events = engine::handle(process, state, Command::new(id, actor, action), at).unwrap();
    Append::new(process, state, events).unwrap()
}

/// The store of 10,000 open version-1 cases, built once.
fn template(runtime: &Runtime) -> PathBuf {
    let path = db_path("migrate-template");
    if path.exists() {
        return path;
    }
    let building = db_path("migrate-building");
    remove_db(&building);
    runtime.block_on(async {
        let store = SqliteStore::open_path(&building).await.unwrap();
        let text = std::fs::read_to_string(manifest("sops/ticket-handling.yaml")).unwrap();
        let v1 = store
            .save_sop("sops/ticket-handling.yaml", &text)
            .await
            .unwrap();
        let numbers: Vec<usize> = (0..CASES).collect();
        for chunk in numbers.chunks(500) {
            join_all(chunk.iter().map(|&n| {
                let (store, v1) = (&store, &v1);
                async move {
                    let case = CaseId::new(format!("T-{n:05}"));
                    let start = Action::Start {
                        case: case.clone(),
                        fields: FieldValues::new(),
                    };
                    let started = decide(v1, &CaseState::new(), format!("s{n}"), start);
                    store.append(&started).await.unwrap();
                    if n % 2 == 1 {
                        let fields: FieldValues = [
                            ("customer_name", "Bo"),
                            ("channel", "Email"),
                            ("request", "Refund"),
                        ]
                        .into_iter()
                        .map(|(k, v)| (k.parse().unwrap(), FieldValue::Text(v.to_owned())))
                        .collect();
                        let answer = Action::Complete {
                            step: "answer".parse().unwrap(),
                            fields,
                            item: None,
                        };
                        let answered = decide(v1, started.state(), format!("a{n}"), answer);
                        store.append(&answered).await.unwrap();
                    }
                }
            }))
            .await;
        }
        store.close().await;
    });
    std::fs::rename(&building, &path).unwrap();
    path
}

fn revision() -> (String, String) {
    let name = "tests/fixtures/migration/ticket-handling.v2.yaml".to_owned();
    let text = std::fs::read_to_string(manifest(&name)).unwrap();
    (name, text)
}

fn migrate(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let template = template(&runtime);
    let run = db_path("migrate-run");
    let fresh_copy = || {
        remove_db(&run);
        std::fs::copy(&template, &run).unwrap();
    };
    let mut group = c.benchmark_group("migrate/sqlite/10000_cases");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for dry_run in [true, false] {
        let name = if dry_run { "dry_run" } else { "move" };
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    fresh_copy();
                    runtime.block_on(async {
                        let store = SqliteStore::open_path(&run).await.unwrap();
                        let (name, text) = revision();
                        let new = store.save_sop(&name, &text).await.unwrap();
                        (store, new)
                    })
                },
                |(store, new)| {
                    runtime.block_on(async {
                        let processes = Processes::new();
                        let actor = ActorId::new("migration");
                        let at = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
                        let done = migrate_open_cases(
                            &store,
                            &processes,
                            &new,
                            &actor,
                            at,
                            dry_run,
                            |_, _| {},
                        )
                        .await
                        .unwrap();
                        assert_eq!(done.moved.len(), CASES);
                        store.close().await;
                    });
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, migrate);
criterion_main!(benches);
