//! `sop diff` as a user runs it: the built binary, its exit codes (0 no behaviour change,
//! 1 behaviour changed, 2 errors), files or versions kept in a store, and every format.
#![cfg(feature = "cli")]

mod cli_support;

use std::process::{Command, Output};

use cli_support::TempDir;

const PAIRS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/diff");

fn sop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .args(args)
        .output()
        .expect("the sop binary runs")
}

fn fixture(name: &str) -> String {
    format!("{PAIRS}/{name}")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn no_change_exits_0_and_says_so() {
    let output = sop(&[
        "diff",
        &fixture("unchanged.old.yaml"),
        &fixture("unchanged.new.yaml"),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("no differences"));
}

#[test]
fn text_only_changes_exit_0() {
    let output = sop(&["diff", &fixture("text.old.yaml"), &fixture("text.new.yaml")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("Text only (cannot affect open cases)"));
}

#[test]
fn behaviour_changes_exit_1_in_every_format() {
    for format in ["human", "json", "mermaid", "dot", "svg"] {
        let output = sop(&[
            "diff",
            &fixture("steps.old.yaml"),
            &fixture("steps.new.yaml"),
            "--format",
            format,
        ]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{format}: {}",
            stderr(&output)
        );
        assert!(!output.stdout.is_empty(), "{format}");
    }
}

#[test]
fn json_is_one_object_with_both_file_names_and_the_step_mapping() {
    let (old, new) = (fixture("steps.old.yaml"), fixture("steps.new.yaml"));
    let output = sop(&["diff", &old, &new, "--format", "json"]);
    let record: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    assert_eq!(record["old_file"], old.as_str());
    assert_eq!(record["new_file"], new.as_str());
    assert_eq!(record["diff"]["format"], 1);
    assert_eq!(record["diff"]["steps"][0]["old"], "receive");
    assert_eq!(record["diff"]["steps"][0]["new"], "intake");
    assert_eq!(record["diff"]["steps"][0]["matched_by"], "renamed-from");
    assert_eq!(record["diff"]["steps"][1]["new"], serde_json::Value::Null);
    let first = &record["diff"]["changes"][0];
    assert_eq!(first["kind"], "step-renamed");
    assert_eq!(first["affects_cases"], true);
    assert_eq!(first["old"]["line"], 26);
}

#[test]
fn an_invalid_version_exits_2_with_its_diagnostics() {
    let invalid = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/invalid/101-dangling-next.yaml"
    );
    let output = sop(&["diff", &fixture("steps.old.yaml"), invalid]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("E011"), "{err}");
    assert!(err.contains("fix it before comparing versions"), "{err}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_missing_file_exits_2() {
    let output = sop(&["diff", &fixture("steps.old.yaml"), "no-such-file.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    let output = sop(&["diff", &fixture("steps.old.yaml"), "refund@2"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--db"), "{}", stderr(&output));
}

#[test]
fn versions_kept_in_a_store_are_compared_by_id_and_version() {
    let dir = TempDir::new("diff-store");
    let db = dir.db();
    let store = sopflow::store::BlockingStore::open(&db).expect("a store");
    for name in ["routing.old.yaml", "routing.new.yaml"] {
        let text = std::fs::read_to_string(fixture(name)).expect("a fixture");
        store.save_sop(name, &text).expect("the version is saved");
    }
    drop(store);
    let output = sop(&["diff", "--db", &db, "refund@1", "refund@2"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("refund@1:49:18 → refund@2:49:18"), "{out}");
    let output = sop(&["diff", "--db", &db, "refund@1", "refund@7"]);
    assert_eq!(output.status.code(), Some(2));
}
