//! `sop case migrate` as a separate process: killed halfway through 1,000 open cases, then
//! run again. Every case ends up moved exactly once, none half-moved, every history intact.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use sopflow::engine::{self, Action, Actor, CaseId, EventKind, FieldValues};
use sopflow::store::{BlockingStore, CaseFilter};

const CASES: usize = 1_000;

fn revision() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/migration/ticket-handling.v2.yaml")
}

fn sop(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .args(["case"])
        .args(args)
        .args(["--db", db])
        .output()
        .unwrap()
}

/// How many cases run on each version, and how many `case_migrated` events each has.
fn census(store: &BlockingStore) -> (usize, usize) {
    let all = store.list(&CaseFilter::all()).unwrap();
    let moved = all.iter().filter(|s| s.sop_version == 2).count();
    (all.len() - moved, moved)
}

#[test]
fn a_migration_killed_halfway_resumes_and_moves_every_case_once() {
    let dir = tempdir("killed");
    let db = format!("sqlite:{}", dir.join("cases.db").display());
    let store = BlockingStore::open(&db).unwrap();
    let v1_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sops/ticket-handling.yaml");
    let v1 = store
        .save_sop(
            "sops/ticket-handling.yaml",
            &std::fs::read_to_string(v1_path).unwrap(),
        )
        .unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let agent = Actor::new("ana", ["representative".parse().unwrap()]);
    for n in 0..CASES {
        let case = CaseId::new(format!("T-{n:04}"));
        let start = engine::Command::new(
            format!("s-{n}"),
            agent.clone(),
            Action::Start {
                case: case.clone(),
                fields: FieldValues::new(),
            },
        );
        store.execute(&v1, &case, start, t0).unwrap();
    }
    drop(store);

    let mut child = Command::new(env!("CARGO_BIN_EXE_sop"))
        .args([
            "case",
            "migrate",
            "--db",
            &db,
            "--now",
            "2026-01-05T10:00:00Z",
            "--to",
        ])
        .arg(revision())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let store = BlockingStore::open_existing(&db).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, moved) = census(&store);
        if moved >= 50 || Instant::now() > deadline {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    let (stayed, moved) = census(&store);
    assert_eq!(stayed + moved, CASES);
    assert!(
        moved > 0,
        "the migration moved nothing before it was killed"
    );

    // Every case is whole: on v1 untouched, or on v2 with exactly one move.
    let verify = sop(&db, &["verify", "--all"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let resumed = sop(
        &db,
        &[
            "migrate",
            "--now",
            "2026-01-05T10:05:00Z",
            "--format",
            "json",
            "--to",
            revision().to_str().unwrap(),
        ],
    );
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(
        report["moved"].as_array().unwrap().len(),
        stayed,
        "the rerun moves the rest"
    );

    assert_eq!(census(&store), (0, CASES));
    for summary in store.list(&CaseFilter::all()).unwrap() {
        let stored = store.load(&summary.case).unwrap();
        let moves = stored
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::CaseMigrated { .. }))
            .count();
        assert_eq!(moves, 1, "{} moved {moves} times", summary.case);
        assert_eq!(stored.state.active_steps()[0].step.as_str(), "answer");
    }
    let verify = sop(&db, &["verify", "--all"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let again = sop(
        &db,
        &[
            "migrate",
            "--now",
            "2026-01-05T10:10:00Z",
            "--to",
            revision().to_str().unwrap(),
        ],
    );
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("moved 0 open cases"));
}

#[test]
fn a_plan_that_leaves_a_step_without_a_home_moves_nothing() {
    let dir = tempdir("unmapped");
    let db = format!("sqlite:{}", dir.join("cases.db").display());
    let v1 = Path::new(env!("CARGO_MANIFEST_DIR")).join("sops/ticket-handling.yaml");
    let started = Command::new(env!("CARGO_BIN_EXE_sop"))
        .args(["case", "start"])
        .arg(&v1)
        .args([
            "--db",
            &db,
            "--id",
            "T-1",
            "--as",
            "ana:representative",
            "--now",
            "2026-01-05T09:00:00Z",
        ])
        .output()
        .unwrap();
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let broken = dir.join("v2.yaml");
    let text = std::fs::read_to_string(revision())
        .unwrap()
        .replace("    review_customer: segment\n", "");
    std::fs::write(&broken, text).unwrap();
    let out = sop(
        &db,
        &[
            "migrate",
            "--now",
            "2026-01-05T10:00:00Z",
            "--to",
            broken.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[E071]: step `review_customer` of version 1 (a task) has no step to go to in version 2"), "{stderr}");
    assert!(stderr.contains("nothing moved"), "{stderr}");
    let store = BlockingStore::open_existing(&db).unwrap();
    assert_eq!(census(&store), (1, 0));
}

/// A fresh directory per test under cargo's temporary directory.
fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-migrate-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn sop_diff_says_which_old_steps_have_nowhere_to_go() {
    let dir = tempdir("diff");
    let broken = dir.join("v2.yaml");
    let text = std::fs::read_to_string(revision())
        .unwrap()
        .replace("    review_customer: segment\n", "");
    std::fs::write(&broken, text).unwrap();
    let v1 = Path::new(env!("CARGO_MANIFEST_DIR")).join("sops/ticket-handling.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_sop"))
        .arg("diff")
        .arg(&v1)
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "behaviour changed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error[E071]: step `review_customer` of version 1"),
        "{stderr}"
    );
    let fine = Command::new(env!("CARGO_BIN_EXE_sop"))
        .arg("diff")
        .arg(&v1)
        .arg(revision())
        .output()
        .unwrap();
    assert!(
        fine.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&fine.stderr)
    );
}
