//! `sop export` as a user runs it: cases made with `sop case` on a SQLite store in a
//! temporary directory, exported as CSV and XES, filtered by SOP and by when they opened.

#![cfg(feature = "cli")]

mod cli_support;

use cli_support::TempDir;
use std::process::{Command, Output};

const SOP: &str = r#"
id: refund
version: 1
title: Refund request
department: Support
roles:
  agent: Support agent
  lead: Team lead
fields:
  reason: { type: text }
steps:
  - { id: receive, title: "Receive the request, then check it", role: agent, collects: [reason] }
  - id: approve
    title: Approve the refund
    approval: { by: lead, reviews: [receive], on_reject: receive }
  - { id: pay, title: Pay the refund, role: agent, end: true }
"#;

fn sop(dir: &TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .current_dir(&dir.0)
        .args(args)
        .output()
        .expect("run sop")
}

#[track_caller]
fn ok(dir: &TempDir, args: &[&str]) -> String {
    let output = sop(dir, args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "sop {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Two cases: R-1 opened on 5 January and closed, R-2 opened on 6 January, waiting for
/// its approval.
fn store_with_cases(dir: &TempDir) -> String {
    let file = dir.path("refund.yaml");
    std::fs::write(&file, SOP).unwrap();
    let file = file.to_string_lossy().into_owned();
    let db = dir.db();
    let case = |args: &[&str], now: &str| {
        let mut all = vec!["case", "--db", &db];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--now", now]);
        ok(dir, &all);
    };
    case(
        &["start", &file, "--id", "R-1", "--as", "ana:agent"],
        "2026-01-05T09:00:00Z",
    );
    case(
        &[
            "complete",
            "R-1",
            "receive",
            "--field",
            "reason=Too small, \"XL\" please",
            "--as",
            "ana:agent",
        ],
        "2026-01-05T09:30:00Z",
    );
    case(
        &["approve", "R-1", "approve", "--as", "lee:lead"],
        "2026-01-05T10:00:00Z",
    );
    case(
        &["complete", "R-1", "pay", "--as", "ana:agent"],
        "2026-01-05T11:00:00Z",
    );
    case(
        &["start", &file, "--id", "R-2", "--as", "ana:agent"],
        "2026-01-06T09:00:00Z",
    );
    case(
        &["complete", "R-2", "receive", "--as", "ana:agent"],
        "2026-01-06T09:10:00Z",
    );
    db
}

#[test]
fn csv_lists_every_transition_of_every_case() {
    let dir = TempDir::new("export-csv");
    let db = store_with_cases(&dir);
    let out = ok(&dir, &["export", "--db", &db, "--format", "csv"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "case,activity,timestamp,lifecycle,resource,role,instance,outcome,sla_breached,step,title,sop,sop_version,item,parent_case",
            "R-1,receive,2026-01-05T09:00:00.000Z,schedule,,agent,0,,,receive,\"Receive the request, then check it\",refund,1,,",
            "R-1,receive,2026-01-05T09:30:00.000Z,complete,ana,agent,0,completed,false,receive,\"Receive the request, then check it\",refund,1,,",
            "R-1,approve,2026-01-05T09:30:00.000Z,schedule,,lead,1,,,approve,Approve the refund,refund,1,,",
            "R-1,approve,2026-01-05T10:00:00.000Z,complete,lee,lead,1,approved,false,approve,Approve the refund,refund,1,,",
            "R-1,pay,2026-01-05T10:00:00.000Z,schedule,,agent,2,,,pay,Pay the refund,refund,1,,",
            "R-1,pay,2026-01-05T11:00:00.000Z,complete,ana,agent,2,completed,false,pay,Pay the refund,refund,1,,",
            "R-2,receive,2026-01-06T09:00:00.000Z,schedule,,agent,0,,,receive,\"Receive the request, then check it\",refund,1,,",
            "R-2,receive,2026-01-06T09:10:00.000Z,complete,ana,agent,0,completed,false,receive,\"Receive the request, then check it\",refund,1,,",
            "R-2,approve,2026-01-06T09:10:00.000Z,schedule,,lead,1,,,approve,Approve the refund,refund,1,,",
        ]
    );
    assert!(out.contains("\r\n"), "rows end with CRLF");

    // Titles as activities.
    let out = ok(
        &dir,
        &[
            "export",
            "--db",
            &db,
            "--format",
            "csv",
            "--activity",
            "title",
            "--until",
            "2026-01-06",
        ],
    );
    assert!(out.lines().skip(1).all(|l| l.starts_with("R-1,")), "{out}");
    assert!(out.contains("R-1,Approve the refund,2026-01-05T10:00:00.000Z,complete,lee"));
}

#[test]
fn xes_to_a_file_with_the_case_fields_and_a_time_window() {
    let dir = TempDir::new("export-xes");
    let db = store_with_cases(&dir);
    let path = dir.path("log.xes");
    let path_text = path.to_string_lossy().into_owned();
    let output = sop(
        &dir,
        &[
            "export",
            "--db",
            &db,
            "--sop",
            "refund",
            "--since",
            "2026-01-05T00:00:00Z",
            "-o",
            &path_text,
        ],
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("exported 2 cases"));
    assert!(!dir.path("log.xes.partial").exists());
    let text = std::fs::read_to_string(&path).unwrap();
    let document = roxmltree::Document::parse(&text).unwrap();
    let traces: Vec<roxmltree::Node> = document
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("trace"))
        .collect();
    let value = |node: roxmltree::Node, key: &str| {
        node.children()
            .find(|c| c.attribute("key") == Some(key))
            .and_then(|c| c.attribute("value").map(str::to_owned))
    };
    assert_eq!(traces.len(), 2);
    assert_eq!(value(traces[0], "concept:name").as_deref(), Some("R-1"));
    assert_eq!(
        value(traces[0], "sopflow:status").as_deref(),
        Some("closed")
    );
    assert_eq!(
        value(traces[0], "reason").as_deref(),
        Some("Too small, \"XL\" please")
    );
    assert_eq!(value(traces[1], "sopflow:status").as_deref(), Some("open"));
    assert_eq!(
        value(document.root_element(), "concept:name").as_deref(),
        Some("refund")
    );

    // Only R-2 opened on the 6th; no case runs another SOP.
    let out = ok(&dir, &["export", "--db", &db, "--since", "2026-01-06"]);
    assert_eq!(out.matches("<trace>").count(), 1);
    let out = ok(&dir, &["export", "--db", &db, "--sop", "other"]);
    assert_eq!(out.matches("<trace>").count(), 0);
    assert!(out.trim_end().ends_with("</log>"));
}

#[test]
fn usage_and_store_errors_have_their_exit_codes() {
    let dir = TempDir::new("export-errors");
    let missing = dir.db();
    let output = sop(&dir, &["export", "--db", &missing]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("there is no store"));
    let output = sop(&dir, &["export", "--db", &missing, "--since", "last week"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("--since `last week` is neither an RFC 3339 time")
    );
}
