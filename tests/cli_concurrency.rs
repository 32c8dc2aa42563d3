//! Many people at once, as separate `sop` processes on one store: nothing is lost, nothing
//! is merged, nobody is told to try again.
//!
//! Eight worker threads each run 25 `sop case` processes one after the other, so eight
//! processes at a time race for the same SQLite file (and, with `SOPFLOW_TEST_POSTGRES`
//! set, the same PostgreSQL database). Afterwards the store is read back with the library
//! and every command must be found exactly once, with its own actor and fields.
#![cfg(feature = "cli")]

mod cli_support;

mod outside;

use cli_support::TempDir;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sopflow::engine::{CaseId, CaseStatus, EventKind};
use sopflow::model::FieldValue;
use sopflow::store::{BlockingStore, CaseFilter, StoredCase};

const WORKERS: usize = 8;
const PER_WORKER: usize = 25;

/// Eight reviews in parallel, joined before the wrap-up: eight people can act on one case
/// at the same moment, each on their own step, each writing their own field.
const EIGHT_REVIEWS: &str = "\
id: eight-reviews
version: 1
title: Eight reviews of a complaint
department: Customer Service
roles:
  agent: Support team member
  reviewer: Reviewer
fields:
  origin: { type: text }
  urgent: { type: bool }
  finding_1: { type: text }
  finding_2: { type: text }
  finding_3: { type: text }
  finding_4: { type: text }
  finding_5: { type: text }
  finding_6: { type: text }
  finding_7: { type: text }
  finding_8: { type: text }
steps:
  - id: reviews
    parallel: [review_1, review_2, review_3, review_4, review_5, review_6, review_7, review_8]
    join: wrap
  - { id: review_1, title: Review one, role: reviewer, collects: [finding_1], next: wrap }
  - { id: review_2, title: Review two, role: reviewer, collects: [finding_2], next: wrap }
  - { id: review_3, title: Review three, role: reviewer, collects: [finding_3], next: wrap }
  - { id: review_4, title: Review four, role: reviewer, collects: [finding_4], next: wrap }
  - { id: review_5, title: Review five, role: reviewer, collects: [finding_5], next: wrap }
  - { id: review_6, title: Review six, role: reviewer, collects: [finding_6], next: wrap }
  - { id: review_7, title: Review seven, role: reviewer, collects: [finding_7], next: wrap }
  - { id: review_8, title: Review eight, role: reviewer, collects: [finding_8], next: wrap }
  - { id: wrap, title: Wrap up the findings, role: agent, end: true }
";

/// A scratch directory holding the eight-reviews SOP.
fn scratch(name: &str) -> TempDir {
    let dir = TempDir::new(&format!("concurrency-{name}"));
    std::fs::write(sop_file(&dir), EIGHT_REVIEWS).unwrap();
    dir
}

fn sop_file(dir: &TempDir) -> PathBuf {
    dir.path("eight-reviews.yaml")
}

fn sop_case(db: &str, dir: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .current_dir(dir)
        .arg("case")
        .args(["--db", db])
        .args(args)
        .output()
        .expect("run sop")
}

/// Runs `make(worker, i)` as a `sop case` process, PER_WORKER times one after the other
/// in each of WORKERS threads; returns the failures (`worker i: exit, output`).
fn race(db: &str, dir: &Path, make: impl Fn(usize, usize) -> Vec<String> + Sync) -> Vec<String> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|worker| {
                let make = &make;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for i in 0..PER_WORKER {
                        let args = make(worker, i);
                        let output = sop_case(db, dir, &args);
                        if !output.status.success() {
                            failures.push(format!(
                                "worker {worker} #{i} {args:?}: {:?}\n{}{}",
                                output.status.code(),
                                String::from_utf8_lossy(&output.stdout),
                                String::from_utf8_lossy(&output.stderr)
                            ));
                        }
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker thread"))
            .collect()
    })
}

fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn load_all(db: &str) -> BTreeMap<CaseId, StoredCase> {
    let store = BlockingStore::open_existing(db).expect("the store exists");
    store
        .list(&CaseFilter::all())
        .expect("list")
        .into_iter()
        .map(|summary| {
            let stored = store.load(&summary.case).expect("load");
            (summary.case, stored)
        })
        .collect()
}

/// 8 × 25 starts without `--id`: different actors and fields, half of them at the same
/// `--now`, the rest on the clock. Exactly 200 cases, each with the actor and field of the
/// start that made it.
fn two_hundred_starts(db: &str, dir: &TempDir) {
    let sop = sop_file(dir);
    let sop = sop.to_str().expect("utf-8 path");
    let failures = race(db, &dir.0, |worker, i| {
        let mut a = args(&[
            "start",
            sop,
            "--as",
            &format!("w{worker}:agent"),
            "--field",
            &format!("origin=w{worker}-{i}"),
            "--field",
            if i.is_multiple_of(3) {
                "urgent=true"
            } else {
                "urgent=false"
            },
        ]);
        if i.is_multiple_of(2) {
            a.extend(args(&["--now", "2026-01-05T09:00:00Z"]));
        }
        a
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let cases = load_all(db);
    assert_eq!(cases.len(), WORKERS * PER_WORKER, "{:?}", cases.keys());
    let mut starts = BTreeSet::new();
    for (case, stored) in &cases {
        let first = &stored.events[0];
        let EventKind::CaseStarted { .. } = &first.kind else {
            panic!("case {case} begins with {:?}", first.kind);
        };
        let Some(FieldValue::Text(origin)) = stored.state.fields().get(&"origin".parse().unwrap())
        else {
            panic!("case {case} has no origin: {:?}", stored.state.fields());
        };
        let (worker, i) = origin.split_once('-').expect("w<worker>-<i>");
        assert_eq!(worker, first.actor.as_str(), "case {case}: {origin}");
        let urgent = stored.state.fields().get(&"urgent".parse().unwrap());
        let i: usize = i.parse().unwrap();
        assert_eq!(
            urgent,
            Some(&FieldValue::Bool(i.is_multiple_of(3))),
            "case {case}"
        );
        assert!(starts.insert(origin.clone()), "{origin} started twice");
    }
    assert_eq!(starts.len(), WORKERS * PER_WORKER);
}

/// 8 processes complete different steps of the same 25 cases at once: every completion
/// lands once, by its own reviewer, with its own field, and every case passes the join.
fn eight_reviewers_on_the_same_cases(db: &str, dir: &TempDir) {
    let sop = sop_file(dir);
    let sop = sop.to_str().expect("utf-8 path");
    for i in 0..PER_WORKER {
        let output = sop_case(
            db,
            &dir.0,
            &args(&["start", sop, "--id", &format!("R-{i}"), "--as", "ana:agent"]),
        );
        assert!(output.status.success(), "{output:?}");
    }
    // Half the reviewers give a time (an hour from now, after the starts), half the clock.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let failures = race(db, &dir.0, |worker, i| {
        let n = worker + 1;
        let mut a = args(&[
            "complete",
            &format!("R-{i}"),
            &format!("review_{n}"),
            "--as",
            &format!("rev{n}:reviewer"),
            "--field",
            &format!("finding_{n}=case {i} by rev{n}"),
        ]);
        if i.is_multiple_of(2) {
            a.extend(args(&["--now", &later]));
        }
        a
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let cases = load_all(db);
    for i in 0..PER_WORKER {
        let case = CaseId::new(format!("R-{i}"));
        let stored = &cases[&case];
        let completions: Vec<(String, String)> = stored
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::StepCompleted { step, .. } => {
                    Some((step.to_string(), e.actor.to_string()))
                }
                _ => None,
            })
            .collect();
        let expected: Vec<(String, String)> = (1..=WORKERS)
            .map(|n| (format!("review_{n}"), format!("rev{n}")))
            .collect();
        let mut sorted = completions.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "case {case}: {completions:?}");
        for n in 1..=WORKERS {
            assert_eq!(
                stored
                    .state
                    .fields()
                    .get(&format!("finding_{n}").parse().unwrap()),
                Some(&FieldValue::Text(format!("case {i} by rev{n}"))),
                "case {case}"
            );
        }
        assert_eq!(stored.state.status(), CaseStatus::Open);
        let active: Vec<&str> = stored
            .state
            .active_steps()
            .iter()
            .map(|a| a.step.as_str())
            .collect();
        assert_eq!(active, ["wrap"], "case {case} passed the join");
    }
}

#[test]
fn sqlite_two_hundred_concurrent_starts() {
    let dir = scratch("starts");
    let db = format!("sqlite:{}", dir.0.join("cases.db").display());
    two_hundred_starts(&db, &dir);
}

#[test]
fn sqlite_eight_reviewers_on_the_same_cases() {
    let dir = scratch("reviews");
    let db = format!("sqlite:{}", dir.0.join("cases.db").display());
    eight_reviewers_on_the_same_cases(&db, &dir);
}

/// The same command sent twice applies once; the same words from another actor, or with
/// other fields, are another command.
#[test]
fn a_repeated_command_applies_once_and_different_ones_never_merge() {
    let dir = scratch("repeat");
    let db = format!("sqlite:{}", dir.0.join("cases.db").display());
    let sop = sop_file(&dir);
    let sop = sop.to_str().expect("utf-8 path");
    let run = |a: &[&str]| {
        let output = sop_case(&db, &dir.0, &args(a));
        assert!(output.status.success(), "{a:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let now = "2026-01-05T09:00:00Z";
    run(&[
        "start",
        sop,
        "--id",
        "C-1",
        "--as",
        "ana:agent",
        "--now",
        now,
    ]);
    let again = run(&[
        "start",
        sop,
        "--id",
        "C-1",
        "--as",
        "ana:agent",
        "--now",
        now,
    ]);
    assert!(again.contains("started case C-1"), "{again}");
    let note = [
        "note",
        "C-1",
        "called the customer",
        "--as",
        "ana:agent",
        "--now",
        now,
    ];
    run(&note);
    let repeated = run(&note);
    assert!(
        repeated.contains("already applied to case C-1"),
        "{repeated}"
    );
    run(&[
        "note",
        "C-1",
        "called the customer",
        "--as",
        "eve:agent",
        "--now",
        now,
    ]);
    run(&[
        "note",
        "C-1",
        "called the customer again",
        "--as",
        "ana:agent",
        "--now",
        now,
    ]);
    // A script's own key: repeated with another time, still one note.
    for at in ["2026-01-05T09:05:00Z", "2026-01-05T09:06:00Z"] {
        run(&[
            "note",
            "C-1",
            "scripted",
            "--as",
            "bot:agent",
            "--now",
            at,
            "--request-id",
            "job-7",
        ]);
    }
    let stored = &load_all(&db)[&CaseId::new("C-1")];
    let notes: Vec<(String, String)> = stored
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::NoteAdded { text, .. } => Some((e.actor.to_string(), text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        notes,
        [
            ("ana".to_owned(), "called the customer".to_owned()),
            ("eve".to_owned(), "called the customer".to_owned()),
            ("ana".to_owned(), "called the customer again".to_owned()),
            ("bot".to_owned(), "scripted".to_owned()),
        ]
    );
    let starts = stored
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::CaseStarted { .. }))
        .count();
    assert_eq!(starts, 1);
}

/// The PostgreSQL runs, each in a database of its own; only with `SOPFLOW_TEST_POSTGRES`.
#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    /// A fresh database next to the one `SOPFLOW_TEST_POSTGRES` names, dropped afterwards.
    struct TempDatabase {
        admin_url: String,
        name: String,
        url: String,
    }

    impl TempDatabase {
        fn new(test: &str) -> Option<TempDatabase> {
            let admin_url = outside::enabled(
                outside::POSTGRES,
                &format!("{test} on PostgreSQL"),
                "a database URL the tests may create databases from; .ci/run sets one",
            )?;
            let name = format!("sopflow_cli_{test}_{}", std::process::id());
            let (base, _) = admin_url
                .rsplit_once('/')
                .expect("SOPFLOW_TEST_POSTGRES ends in /database");
            let url = format!("{base}/{name}");
            let database = TempDatabase {
                admin_url,
                name,
                url,
            };
            database.admin(&format!("DROP DATABASE IF EXISTS {}", database.name));
            database.admin(&format!("CREATE DATABASE {}", database.name));
            Some(database)
        }

        fn admin(&self, sql: &str) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let pool = sqlx::PgPool::connect(&self.admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to SOPFLOW_TEST_POSTGRES: {e}"));
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                pool.close().await;
            });
        }
    }

    impl Drop for TempDatabase {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                self.admin(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }

    #[test]
    fn postgres_two_hundred_concurrent_starts() {
        let Some(database) = TempDatabase::new("starts") else {
            return;
        };
        let dir = scratch("pg-starts");
        two_hundred_starts(&database.url, &dir);
    }

    #[test]
    fn postgres_eight_reviewers_on_the_same_cases() {
        let Some(database) = TempDatabase::new("reviews") else {
            return;
        };
        let dir = scratch("pg-reviews");
        eight_reviewers_on_the_same_cases(&database.url, &dir);
    }
}
