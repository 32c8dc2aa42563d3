//! `sop simulate` as a user runs it: the built binary, a few hundred cases on a SQLite
//! store in a temporary directory, a summary that agrees with what the store holds,
//! progress lines when standard error is not a terminal, and the ways it refuses to run.
#![cfg(feature = "cli")]

mod cli_support;

use cli_support::TempDir;
use std::path::Path;
use std::process::{Command, Output};

use sopflow::engine::CaseStatus;
use sopflow::store::{BlockingStore, CaseFilter};

const SOPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sops");

/// Runs `sop simulate ARGS` in `dir`, standard error a pipe (not a terminal).
fn simulate(dir: &TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .current_dir(&dir.0)
        .arg("simulate")
        .args(args)
        .output()
        .expect("run sop")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "sop simulate should exit {code}:\n{}{}",
        stdout(output),
        stderr(output)
    );
}

/// The number after `label` at the start of a summary line (`  closed   200`).
#[track_caller]
fn count(summary: &str, label: &str) -> usize {
    let line = summary
        .lines()
        .find(|line| line.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{summary}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in `{line}`"))
}

/// The case rows `sop case --db DB list` prints (its header left out).
fn listed(db: &str, status: Option<&str>) -> usize {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sop"));
    command.args(["case", "--db", db, "list"]);
    if let Some(status) = status {
        command.args(["--status", status]);
    }
    let output = command.output().expect("run sop");
    assert_exit(&output, 0);
    stdout(&output).lines().skip(1).count()
}

#[test]
fn two_hundred_cases_agree_with_the_store() {
    let dir = TempDir::new("run");
    let db = dir.db();
    let output = simulate(&dir, &[SOPS, "--cases", "200", "--db", &db]);
    assert_exit(&output, 0);
    let out = stdout(&output);

    // Every SOP is checked first, one line each.
    let sops = std::fs::read_dir(SOPS)
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .path()
                .to_string_lossy()
                .ends_with(".test.yaml")
        })
        .count();
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        sops,
        "{out}"
    );
    assert!(
        out.contains("customer-support-process.yaml: Customer Support Process"),
        "{out}"
    );

    // The summary's counts are the store's.
    assert!(out.contains("200 cases simulated and stored"), "{out}");
    let closed = count(&out, "closed");
    assert!(closed > 0, "{out}");
    assert_eq!(listed(&db, None), 200);
    assert_eq!(listed(&db, Some("closed")), closed);
    let store = BlockingStore::open(&db).unwrap();
    let cases = store.list(&CaseFilter::all()).unwrap();
    assert_eq!(cases.len(), 200);
    assert!(cases.iter().all(|c| c.sop.as_str() == "customer-support"));
    let stored_closed = cases
        .iter()
        .filter(|c| c.status == CaseStatus::Closed)
        .count();
    assert_eq!(stored_closed, closed);

    // The paths: each case once in the first two lines, exceptions said to overlap.
    let straight = count(&out, "straight through");
    let exceptional = count(&out, "with exceptions");
    assert_eq!(straight + exceptional, 200, "{out}");
    assert!(out.contains("can add up to more than"), "{out}");
    for label in ["reworked", "escalated", "missed an SLA"] {
        assert!(count(&out, label) <= exceptional, "{label}: {out}");
    }
    assert!(out.contains("commands per second"), "{out}");
    assert!(out.contains("each durable before it was answered"), "{out}");
    // The KPIs the SOP declares, through sopflow::metrics, in total and per priority.
    for kpi in [
        "First response time",
        "Resolution time",
        "Customer satisfaction (CSAT)",
        "Net promoter score (NPS)",
        "SLA compliance",
    ] {
        assert!(out.contains(kpi), "{kpi}: {out}");
    }
    assert!(out.contains("200 cases: 200 closed"), "{out}");
    assert!(out.contains("KPIs by priority"), "{out}");
    assert!(out.contains("--by week --segment priority"), "{out}");
    assert!(out.contains(&format!("sop case --db {db} list")), "{out}");

    // Not a terminal: a plain line every tenth of the run.
    let err = stderr(&output);
    let progress: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("simulated "))
        .collect();
    assert_eq!(progress.len(), 10, "{err}");
    assert!(
        progress[0].starts_with("simulated 20/200 cases (10%), "),
        "{err}"
    );
    assert!(
        progress[9].starts_with("simulated 200/200 cases (100%), "),
        "{err}"
    );

    // A store the user named is never written over: the same ids again are refused, and
    // the store is unchanged.
    let again = simulate(&dir, &[SOPS, "--cases", "200", "--db", &db]);
    assert_exit(&again, 2);
    let err = stderr(&again);
    assert!(err.contains("already holds 200 cases"), "{err}");
    assert_eq!(listed(&db, None), 200);
}

#[test]
fn the_default_store_is_fresh_on_every_run() {
    let dir = TempDir::new("default");
    for _ in 0..2 {
        let output = simulate(&dir, &[SOPS, "--cases", "30"]);
        assert_exit(&output, 0);
        assert!(
            stdout(&output).contains("sop case --db sqlite:target/support_desk.db list"),
            "{}",
            stdout(&output)
        );
        let db = format!(
            "sqlite:{}",
            dir.path("target").join("support_desk.db").display()
        );
        assert_eq!(listed(&db, None), 30);
    }
}

#[test]
fn the_same_seed_gives_the_same_cases() {
    let dir = TempDir::new("seed");
    let paths = |output: &Output| -> Vec<usize> {
        let out = stdout(output);
        [
            "closed",
            "straight through",
            "reworked",
            "escalated",
            "missed an SLA",
        ]
        .iter()
        .map(|label| count(&out, label))
        .collect()
    };
    let run = |db: &str, seed: &str| {
        let output = simulate(&dir, &[SOPS, "--cases", "60", "--seed", seed, "--db", db]);
        assert_exit(&output, 0);
        paths(&output)
    };
    assert_eq!(run("sqlite:a.db", "7"), run("sqlite:b.db", "7"));
}

#[test]
fn an_unknown_sop_id_names_the_ids_found() {
    let dir = TempDir::new("unknown");
    let output = simulate(
        &dir,
        &[
            SOPS,
            "--sop",
            "no-such-sop",
            "--cases",
            "10",
            "--db",
            &dir.db(),
        ],
    );
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains("no SOP"), "{err}");
    assert!(err.contains("`no-such-sop`"), "{err}");
    for id in [
        "customer-support",
        "complaint-resolution",
        "ticket-handling",
    ] {
        assert!(err.contains(id), "{id}: {err}");
    }
    assert!(!dir.path("t.db").exists(), "nothing is written");
}

#[test]
fn an_sop_with_errors_stops_the_run() {
    let dir = TempDir::new("errors");
    let sops = dir.path("sops");
    std::fs::create_dir_all(&sops).unwrap();
    std::fs::copy(
        Path::new(SOPS).join("customer-support-process.yaml"),
        sops.join("customer-support-process.yaml"),
    )
    .unwrap();
    std::fs::write(
        sops.join("broken.yaml"),
        "id: broken\nversion: 1\ntitel: Oops\n",
    )
    .unwrap();
    let output = simulate(&dir, &["sops", "--cases", "10", "--db", &dir.db()]);
    assert_exit(&output, 1);
    let out = stdout(&output);
    assert!(
        out.contains("ok    sops/customer-support-process.yaml: Customer Support Process"),
        "{out}"
    );
    let err = stderr(&output);
    assert!(err.contains("broken.yaml"), "{err}");
    assert!(err.contains("titel"), "the diagnostic is shown: {err}");
    assert!(err.contains("has errors"), "{err}");
    assert!(!dir.path("t.db").exists(), "nothing is written");
}
