//! `sop case verify`: intact stores pass, a flipped byte is reported with its case and
//! event, exit 1, in human and JSON output.
#![cfg(feature = "cli")]

mod cli_support;

use cli_support::TempDir;
use std::process::{Command, Output};

const SOP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/sops/customer-support-process.yaml"
);

fn sop(dir: &TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .current_dir(&dir.0)
        .arg("case")
        .args(["--db", &dir.db()])
        .args(args)
        .output()
        .expect("run sop")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Two started cases, `T-1` and `T-2`.
fn two_cases(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    for id in ["T-1", "T-2"] {
        let out = sop(
            &dir,
            &[
                "start",
                SOP,
                "--id",
                id,
                "--as",
                "ana:support_agent",
                "--now",
                "2026-01-05T09:00:00Z",
            ],
        );
        assert!(out.status.success(), "{out:?}");
    }
    dir
}

/// Flips `from` to `to` in event `seq` of `case`, behind the store's back.
fn flip(dir: &TempDir, case: &str, seq: i64, from: &str, to: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let raw = sqlx::SqlitePool::connect(&dir.db()).await.unwrap();
        let changed = sqlx::query(
            "UPDATE events SET payload = replace(payload, ?, ?) WHERE case_id = ? AND seq = ?",
        )
        .bind(from)
        .bind(to)
        .bind(case)
        .bind(seq)
        .execute(&raw)
        .await
        .unwrap();
        assert_eq!(changed.rows_affected(), 1);
        raw.close().await;
    });
}

#[test]
fn an_intact_store_verifies() {
    let dir = two_cases("intact");
    let out = sop(&dir, &["verify", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout(&out).starts_with("verified 2 cases, ") && stdout(&out).ends_with(": all intact\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_flipped_byte_is_reported_with_its_event() {
    let dir = two_cases("flipped");
    flip(&dir, "T-2", 2, "\"2026-", "\"2426-");
    let out = sop(&dir, &["verify", "--all"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "T-2: damaged at event 2: its content does not match its hash: it was changed after it was written"
    );
    assert!(lines[1].ends_with(": 1 damaged"), "{text}");

    let out = sop(&dir, &["verify", "T-1"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let out = sop(&dir, &["verify", "T-1", "T-2", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["cases"], 2);
    assert_eq!(report["intact"], false);
    assert_eq!(report["damaged"][0]["case"], "T-2");
    assert_eq!(report["damaged"][0]["seq"], 2);
}

#[test]
fn an_unknown_case_is_not_found() {
    let dir = two_cases("unknown");
    let out = sop(&dir, &["verify", "T-9", "--format", "json"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let error: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(error["error"]["kind"], "not_found");
}
