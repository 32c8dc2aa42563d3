//! A full disk loses nothing that was acknowledged and leaves a store that still reads.
//!
//! Needs a small file system to fill: `SOPFLOW_TEST_DISK_FULL` names an empty directory on
//! one (`.ci/run` mounts a 2 MB tmpfs, which needs root). Without it the test is skipped
//! with a note (see `tests/outside`). `sop case note` processes add 40 KB notes until the
//! disk is full; every note acknowledged with exit 0 must then be in the store, the refused
//! one must say why with exit 2 and be absent, and the file must pass SQLite's integrity
//! check and still list and show its cases.
#![cfg(all(feature = "cli", unix))]

mod outside;

use std::process::{Command, Output};

use sopflow::engine::{CaseId, EventKind};
use sopflow::store::BlockingStore;

const SOP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/sops/customer-support-process.yaml"
);
const AGENT: &str = "ana:support_agent";

fn sop(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .arg("case")
        .args(["--db", db])
        .args(args)
        .output()
        .expect("run sop")
}

#[test]
fn a_full_disk_loses_nothing_acknowledged() {
    let Some(dir) = outside::enabled(
        outside::DISK_FULL,
        "the full-disk run",
        "an empty directory on a file system of a few MB; .ci/run mounts a tmpfs",
    ) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir).join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory on the small file system");
    let db = format!("sqlite:{}", dir.join("cases.db").display());
    let started = sop(
        &db,
        &[
            "start",
            SOP,
            "--id",
            "T-1",
            "--as",
            AGENT,
            "--now",
            "2026-01-05T09:00:00Z",
        ],
    );
    assert!(started.status.success(), "{started:?}");

    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for n in 0..1_000 {
        let text = format!("note {n}: {}", "x".repeat(40_000));
        let output = sop(&db, &["note", "T-1", &text, "--as", AGENT]);
        if output.status.success() {
            acknowledged.push(n);
        } else {
            refusal = Some((n, output));
            break;
        }
    }
    let Some((refused, output)) = refusal else {
        panic!(
            "the disk never filled: is {} on a small file system?",
            dir.display()
        );
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("full"),
        "the error says the disk is full: {stderr}"
    );
    assert!(!acknowledged.is_empty(), "some notes fitted");

    // Every acknowledged note is there, in order, and the refused one is not.
    let store = BlockingStore::open_existing(&db).expect("the store opens");
    let stored = store.load(&CaseId::new("T-1")).expect("the case loads");
    let notes: Vec<usize> = stored
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::NoteAdded { text, .. } => {
                text.strip_prefix("note ")?.split(':').next()?.parse().ok()
            }
            _ => None,
        })
        .collect();
    assert_eq!(notes, acknowledged);
    assert!(!notes.contains(&refused));
    let check: String = store
        .block_on(async {
            let pool = sqlx::SqlitePool::connect(&db).await?;
            sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&pool)
                .await
        })
        .expect("integrity check runs");
    assert_eq!(check, "ok");
    drop(store);
    let list = sop(&db, &["list"]);
    assert!(list.status.success(), "{list:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
