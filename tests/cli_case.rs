//! `sop case` as a user runs it: the built binary on a SQLite store in a temporary
//! directory, a support ticket driven from start to close on
//! `sops/customer-support-process.yaml` at fixed times, refused commands that change
//! nothing, and `tick` firing the first-response SLA.

#![cfg(feature = "cli")]

mod cli_support;

use cli_support::TempDir;
use std::path::Path;
use std::process::{Command, Output};

const SOP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/sops/customer-support-process.yaml"
);

/// Runs `sop case --db <dir>/t.db ARGS` in `dir`.
fn sop(dir: &TempDir, args: &[&str]) -> Output {
    let db = dir.db();
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .current_dir(&dir.0)
        .arg("case")
        .args(["--db", &db])
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

/// Runs a command that must succeed; returns its standard output.
#[track_caller]
fn ok(dir: &TempDir, args: &[&str]) -> String {
    let output = sop(dir, args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "sop case {args:?} failed:\n{}{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// Runs a command that must fail with `code`; returns its standard error.
#[track_caller]
fn fails(dir: &TempDir, code: i32, args: &[&str]) -> String {
    let output = sop(dir, args);
    assert_eq!(
        output.status.code(),
        Some(code),
        "sop case {args:?} should exit {code}:\n{}{}",
        stdout(&output),
        stderr(&output)
    );
    let err = stderr(&output);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
    err
}

/// `sop case show` as of 11:00 UTC on the day the scenarios run (so the working time it
/// says is left does not depend on when the test runs).
fn show(dir: &TempDir, case: &str) -> String {
    ok(dir, &["show", case, "--now", "2026-01-05T11:00:00Z"])
}

const AGENT: &str = "ana:support_agent";
const LEADER: &str = "lee:team_leader";
const QA: &str = "quinn:qa_specialist";
const QA_MANAGER: &str = "max:qa_manager";

#[test]
fn a_ticket_from_start_to_close() {
    let dir = TempDir::new("ticket");
    let t = |hhmm: &str| format!("2026-01-05T{hhmm}:00Z");

    // The priority is the team leader's to change outside its steps: an agent may not
    // open the ticket with it set. Refused, and nothing is stored.
    let err = fails(
        &dir,
        1,
        &[
            "start",
            SOP,
            "--field",
            "priority=High",
            "--as",
            AGENT,
            "--now",
            &t("09:00"),
        ],
    );
    assert!(
        err.contains("field `priority` may be changed outside its step only by `team_leader`"),
        "{err}"
    );
    let out = ok(&dir, &["start", SOP, "--as", AGENT, "--now", &t("09:00")]);
    assert!(
        out.contains("started case T-1 on customer-support v3"),
        "{out}"
    );
    assert!(
        out.contains("active: receive (support_agent, due 2026-01-05 10:00 UTC)"),
        "{out}"
    );

    // Wrong role: refused, one line, and the case is unchanged.
    let before = show(&dir, "T-1");
    let err = fails(
        &dir,
        1,
        &[
            "complete",
            "T-1",
            "receive",
            "--field",
            "customer_name=Carla",
            "--field",
            "channel=Email",
            "--as",
            LEADER,
            "--now",
            &t("09:05"),
        ],
    );
    assert!(err.contains("needs the role `support_agent`"), "{err}");
    assert_eq!(show(&dir, "T-1"), before);

    // A required field missing: refused too.
    fails(
        &dir,
        1,
        &[
            "complete",
            "T-1",
            "receive",
            "--as",
            AGENT,
            "--now",
            &t("09:05"),
        ],
    );
    assert_eq!(show(&dir, "T-1"), before);

    // Fields the step does not collect: refused, naming the step that owns them.
    let err = fails(
        &dir,
        1,
        &[
            "complete",
            "T-1",
            "receive",
            "--field",
            "customer_name=Carla",
            "--field",
            "channel=Email",
            "--field",
            "csat=1",
            "--field",
            "resolved=true",
            "--as",
            AGENT,
            "--now",
            &t("09:05"),
        ],
    );
    assert!(
        err.contains(
            "field `csat` is collected by step `satisfaction_survey` (role `support_agent`); `receive` does not collect it"
        ),
        "{err}"
    );
    assert_eq!(show(&dir, "T-1"), before);

    // A value that does not fit its field's type: a usage error.
    fails(
        &dir,
        2,
        &[
            "complete",
            "T-1",
            "follow_up",
            "--field",
            "resolved=maybe",
            "--as",
            AGENT,
        ],
    );

    let out = ok(
        &dir,
        &[
            "claim",
            "T-1",
            "receive",
            "--as",
            AGENT,
            "--now",
            &t("09:05"),
        ],
    );
    assert!(out.contains("assigned receive to ana"), "{out}");
    let steps: &[(&str, &[&str], &str, &str)] = &[
        (
            "receive",
            &[
                "customer_name=Carla Diaz",
                "customer_email=carla@example.com",
                "channel=Email",
            ],
            AGENT,
            "09:10",
        ),
        (
            "identify",
            &["issue=Invoice shows the wrong VAT"],
            AGENT,
            "09:20",
        ),
        ("assign", &["assignee=ana"], LEADER, "09:30"),
        (
            "review_history",
            &["history_summary=Two earlier invoices, no complaints"],
            AGENT,
            "09:40",
        ),
        (
            "create_ticket",
            &["ticket_id=TCK-1001", "priority=High"],
            AGENT,
            "09:50",
        ),
        (
            "research",
            &[
                "research_sources=Knowledge Base,Internal Documentation",
                "research_findings=VAT rate changed on January 1st",
            ],
            AGENT,
            "10:00",
        ),
    ];
    for (step, fields, actor, at) in steps {
        let mut args = vec!["complete", "T-1", step];
        for field in *fields {
            args.extend(["--field", field]);
        }
        let now = t(at);
        args.extend(["--as", actor, "--now", &now]);
        let out = ok(&dir, &args);
        assert!(out.contains(&format!("completed {step}")), "{out}");
    }

    // Four eyes: ana received the communication, so she may not verify it.
    let err = fails(
        &dir,
        1,
        &[
            "approve",
            "T-1",
            "verify_customer_info",
            "--as",
            "ana:support_agent,team_leader",
            "--now",
            &t("10:05"),
        ],
    );
    assert!(err.contains("ana"), "{err}");
    // The gate as the team leader sees it: who may not approve, the rendered instructions.
    insta::assert_snapshot!("show_at_verification_gate", show(&dir, "T-1"));
    let out = ok(
        &dir,
        &[
            "approve",
            "T-1",
            "verify_customer_info",
            "--comment",
            "Details match the CRM",
            "--as",
            LEADER,
            "--now",
            &t("10:10"),
        ],
    );
    assert!(
        out.contains("approved verify_customer_info: Details match the CRM"),
        "{out}"
    );
    assert!(out.contains("active: determine_solution"), "{out}");

    let out = ok(
        &dir,
        &[
            "note",
            "T-1",
            "Customer prefers e-mail",
            "--step",
            "determine_solution",
            "--as",
            AGENT,
            "--now",
            &t("10:15"),
        ],
    );
    assert!(
        out.contains("note on determine_solution: Customer prefers e-mail"),
        "{out}"
    );

    let steps: &[(&str, &[&str], &str, &str)] = &[
        (
            "determine_solution",
            &["solution=Issue a corrected invoice"],
            AGENT,
            "11:00",
        ),
        ("communicate_solution", &[], AGENT, "11:10"),
        ("follow_up", &["resolved=true"], AGENT, "12:00"),
        ("update_ticket", &["status=In Progress"], AGENT, "12:10"),
        (
            "prepare_report",
            &["interaction_report=Wrong VAT rate; corrected invoice sent"],
            AGENT,
            "12:20",
        ),
        (
            "perform_qa",
            &[
                "qa_criteria_met=Communication,Timeliness,Accuracy",
                "qa_notes=Quick and accurate",
                "feedback_needed=false",
            ],
            QA,
            "13:00",
        ),
    ];
    for (step, fields, actor, at) in steps {
        let mut args = vec!["complete", "T-1", step];
        for field in *fields {
            args.extend(["--field", field]);
        }
        let now = t(at);
        args.extend(["--as", actor, "--now", &now]);
        let out = ok(&dir, &args);
        assert!(out.contains(&format!("completed {step}")), "{out}");
    }
    let out = ok(
        &dir,
        &[
            "approve",
            "T-1",
            "approve_qa",
            "--as",
            QA_MANAGER,
            "--now",
            &t("13:30"),
        ],
    );
    assert!(out.contains("active: close_ticket"), "{out}");
    ok(
        &dir,
        &[
            "complete",
            "T-1",
            "close_ticket",
            "--field",
            "status=Closed",
            "--field",
            "closure_notes=Customer thanked us",
            "--as",
            AGENT,
            "--now",
            &t("14:00"),
        ],
    );
    let out = ok(
        &dir,
        &[
            "complete",
            "T-1",
            "satisfaction_survey",
            "--field",
            "csat=5",
            "--field",
            "survey_comments=Fast and clear",
            "--as",
            AGENT,
            "--now",
            &t("15:00"),
        ],
    );
    assert!(out.contains("case closed"), "{out}");
    assert!(out.contains("case T-1 is closed"), "{out}");

    // A closed case refuses more work.
    let closed = show(&dir, "T-1");
    let err = fails(
        &dir,
        1,
        &["note", "T-1", "late", "--as", AGENT, "--now", &t("16:00")],
    );
    assert!(err.contains("closed"), "{err}");
    assert_eq!(show(&dir, "T-1"), closed);

    let list = ok(&dir, &["list", "--status", "closed"]);
    assert!(list.contains("T-1") && list.contains("closed"), "{list}");
    let list = ok(&dir, &["list", "--status", "open"]);
    assert!(!list.contains("T-1"), "{list}");

    insta::assert_snapshot!("show_closed_ticket", closed);
}

#[test]
fn tick_after_the_first_response_sla_escalates() {
    let dir = TempDir::new("tick");
    ok(
        &dir,
        &["start", SOP, "--as", AGENT, "--now", "2026-01-05T09:00:00Z"],
    );
    let out = ok(&dir, &["tick", "--now", "2026-01-05T09:44:00Z"]);
    assert!(out.contains("no timer due"), "{out}");
    // Reminded 15 minutes before, told the team leader at the deadline, handed over
    // 30 working minutes later.
    let out = ok(&dir, &["tick", "--now", "2026-01-05T09:45:00Z"]);
    assert!(
        out.contains("T-1: 2026-01-05 09:45 sopflow-timer: SLA of receive nearly due"),
        "{out}"
    );
    let out = ok(&dir, &["tick", "--now", "2026-01-05T10:01:00Z"]);
    assert!(
        out.contains("T-1: 2026-01-05 10:01 sopflow-timer: SLA of receive breached"),
        "{out}"
    );
    assert!(
        out.contains("escalation level 1 of receive reached; team_leader notified"),
        "{out}"
    );
    let shown = show(&dir, "T-1");
    assert!(shown.contains("receive [task]"), "the work stays: {shown}");
    let out = ok(&dir, &["tick", "--now", "2026-01-05T10:30:00Z"]);
    assert!(
        out.contains("escalation level 2 of receive reached; escalated"),
        "{out}"
    );
    assert!(
        out.contains("step overdue_first_response became active"),
        "{out}"
    );
    let shown = show(&dir, "T-1");
    assert!(shown.contains("overdue_first_response [task]"), "{shown}");
    assert!(shown.contains("who: role team_leader"), "{shown}");

    // The chart shows the breach and the escalation path taken.
    let dot = ok(&dir, &["graph", "T-1", "--format", "dot"]);
    let breached = dot
        .lines()
        .find(|l| l.trim_start().starts_with("\"s_receive\" ["))
        .unwrap_or_default();
    assert!(
        breached.contains("#cf222e"),
        "receive is drawn as breached: {breached}"
    );
    let escalation = dot
        .lines()
        .find(|l| l.contains("\"s_receive\" -> \"s_overdue_first_response\""))
        .unwrap_or_default();
    assert!(
        escalation.contains("#0969da"),
        "the overdue edge is drawn as taken: {escalation}"
    );
    let active = dot
        .lines()
        .find(|l| l.trim_start().starts_with("\"s_overdue_first_response\" ["))
        .unwrap_or_default();
    assert!(
        active.contains("penwidth"),
        "the active step stands out: {active}"
    );

    // The team leader's queue has the case; the agent's does not.
    assert!(ok(&dir, &["list", "--role", "team_leader"]).contains("T-1"));
    assert!(!ok(&dir, &["list", "--role", "support_agent"]).contains("T-1"));

    // Nothing more is due.
    let out = ok(&dir, &["tick", "--now", "2026-01-05T10:02:00Z"]);
    assert!(out.contains("no timer due"), "{out}");

    // A second case gets the next number; cancelling closes it.
    let out = ok(
        &dir,
        &["start", SOP, "--as", AGENT, "--now", "2026-01-05T11:00:00Z"],
    );
    assert!(out.contains("started case T-2"), "{out}");
    let out = ok(
        &dir,
        &[
            "cancel",
            "T-2",
            "--reason",
            "Duplicate of T-1",
            "--as",
            LEADER,
            "--now",
            "2026-01-05T11:05:00Z",
        ],
    );
    assert!(out.contains("case T-2 is cancelled"), "{out}");
    assert!(ok(&dir, &["list", "--status", "cancelled"]).contains("T-2"));
}

#[test]
fn usage_errors() {
    let dir = TempDir::new("usage");
    // Reading a store that does not exist: not found, and no file is created.
    let err = fails(&dir, 3, &["show", "T-9"]);
    assert!(err.contains("there is no store at"), "{err}");
    let err = fails(&dir, 3, &["list"]);
    assert!(err.contains("t.db"), "{err}");
    assert!(!dir.0.join("t.db").exists(), "reading created the store");
    // A bad time.
    fails(&dir, 2, &["start", SOP, "--as", AGENT, "--now", "tomorrow"]);
    // An unknown field, with a suggestion.
    let err = fails(
        &dir,
        2,
        &["start", SOP, "--as", AGENT, "--field", "priorty=High"],
    );
    assert!(
        err.contains("no field `priorty`; did you mean `priority`?"),
        "{err}"
    );
    // A bool is `true` or `false`, as in YAML.
    let err = fails(
        &dir,
        2,
        &[
            "start",
            SOP,
            "--as",
            AGENT,
            "--field",
            "feedback_needed=yes",
        ],
    );
    assert!(err.contains("written `true` or `false`"), "{err}");
    // A request id on a start needs the case id it would find again.
    fails(
        &dir,
        2,
        &["start", SOP, "--as", AGENT, "--request-id", "r1"],
    );
    // A missing file.
    fails(&dir, 2, &["start", "missing.yaml", "--as", AGENT]);
    // Nothing was stored by any of them: there is still no store.
    assert!(
        !dir.0.join("t.db").exists(),
        "a failed start created the store"
    );

    // An unknown case in a store that exists names the store.
    ok(&dir, &["start", SOP, "--as", AGENT]);
    let err = fails(&dir, 3, &["show", "T-9"]);
    assert!(
        err.contains("case `T-9` does not exist in the store `sqlite:") && err.contains("t.db`"),
        "{err}"
    );
    assert!(ok(&dir, &["list"]).contains("T-1"));
}

/// Every engine action has a subcommand: set, assign, transfer, postpone, reopen.
#[test]
fn assign_transfer_postpone_set_and_reopen() {
    let dir = TempDir::new("actions");
    let t = |hhmm: &str| format!("2026-01-05T{hhmm}:00Z");
    ok(&dir, &["start", SOP, "--as", AGENT, "--now", &t("09:00")]);
    // Only the team leader re-prioritises a ticket outside its steps.
    let err = fails(
        &dir,
        1,
        &[
            "set",
            "T-1",
            "--field",
            "priority=Low",
            "--as",
            AGENT,
            "--now",
            &t("09:01"),
        ],
    );
    assert!(
        err.contains("field `priority` may be changed outside its step only by `team_leader`"),
        "{err}"
    );
    // A field a step collects is that step's performer's, whoever asks.
    let err = fails(
        &dir,
        1,
        &[
            "set",
            "T-1",
            "--field",
            "csat=1",
            "--as",
            LEADER,
            "--now",
            &t("09:01"),
        ],
    );
    assert!(
        err.contains(
            "field `csat` is collected by step `satisfaction_survey` (role `support_agent`) and may not be changed outside it"
        ),
        "{err}"
    );
    let out = ok(
        &dir,
        &[
            "set",
            "T-1",
            "--field",
            "priority=Low",
            "--as",
            LEADER,
            "--now",
            &t("09:01"),
        ],
    );
    assert!(out.contains("case T-1 is open"), "{out}");
    assert!(show(&dir, "T-1").contains("Low"), "{}", show(&dir, "T-1"));
    let out = ok(
        &dir,
        &[
            "assign",
            "T-1",
            "receive",
            "--to",
            "bo",
            "--as",
            AGENT,
            "--now",
            &t("09:02"),
        ],
    );
    assert!(
        out.contains("active: receive (support_agent, assigned to bo"),
        "{out}"
    );
    // Someone else may not complete bo's item.
    fails(
        &dir,
        1,
        &[
            "complete",
            "T-1",
            "receive",
            "--as",
            AGENT,
            "--now",
            &t("09:03"),
        ],
    );
    let out = ok(
        &dir,
        &[
            "postpone",
            "T-1",
            "receive",
            "--until",
            &t("15:00"),
            "--as",
            "bo:support_agent",
            "--now",
            &t("09:04"),
        ],
    );
    assert!(out.contains("on hold until 2026-01-05 15:00 UTC"), "{out}");
    let out = ok(
        &dir,
        &[
            "transfer",
            "T-1",
            "receive",
            "--to",
            "team_leader",
            "--as",
            "bo:support_agent",
            "--now",
            &t("09:05"),
        ],
    );
    assert!(out.contains("active: receive (team_leader"), "{out}");
    ok(
        &dir,
        &[
            "cancel",
            "T-1",
            "--reason",
            "Spam",
            "--as",
            LEADER,
            "--now",
            &t("09:06"),
        ],
    );
    let out = ok(
        &dir,
        &[
            "reopen",
            "T-1",
            "--reason",
            "Not spam",
            "--as",
            LEADER,
            "--now",
            &t("09:07"),
        ],
    );
    assert!(out.contains("case T-1 is open"), "{out}");
    // Reopening an open case is refused by the rules.
    fails(
        &dir,
        1,
        &[
            "reopen",
            "T-1",
            "--reason",
            "Again",
            "--as",
            LEADER,
            "--now",
            &t("09:08"),
        ],
    );
}

/// `--format json`: one object per command on standard output, results and errors alike.
#[test]
fn json_output() {
    let dir = TempDir::new("json");
    let json = |args: &[&str]| -> (Option<i32>, serde_json::Value) {
        let mut args = args.to_vec();
        args.extend(["--format", "json"]);
        let output = sop(&dir, &args);
        let text = stdout(&output);
        assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (output.status.code(), value)
    };
    let now = "2026-01-05T09:00:00Z";
    let (code, started) = json(&["start", SOP, "--as", AGENT, "--now", now]);
    assert_eq!(code, Some(0));
    assert_eq!(started["case"], "T-1");
    assert_eq!(started["status"], "open");
    assert_eq!(started["duplicate"], false);
    assert_eq!(started["events"][0]["type"], "case_started");
    assert_eq!(started["active"][0]["step"], "receive");
    assert_eq!(started["active"][0]["due_at"], "2026-01-05T10:00:00Z");

    let (code, listed) = json(&["list"]);
    assert_eq!(code, Some(0));
    assert_eq!(listed["cases"][0]["case"], "T-1");
    assert_eq!(listed["cases"][0]["roles"][0], "support_agent");

    let (code, shown) = json(&["show", "T-1"]);
    assert_eq!(code, Some(0));
    assert_eq!(shown["title"], "Customer Support Process");
    // Started, the case's SLA, the first step.
    assert_eq!(shown["events"].as_array().map(Vec::len), Some(3));

    let (code, refused) = json(&["complete", "T-1", "receive", "--as", LEADER, "--now", now]);
    assert_eq!(code, Some(1));
    assert_eq!(refused["error"]["kind"], "refused");
    assert_eq!(refused["error"]["exit"], 1);

    let (code, missing) = json(&["show", "T-404"]);
    assert_eq!(code, Some(3));
    assert_eq!(missing["error"]["kind"], "not_found");

    let (code, ticked) = json(&["tick", "--now", "2026-01-05T10:01:00Z"]);
    assert_eq!(code, Some(0));
    assert_eq!(ticked["fired"][0]["case"], "T-1");
}

#[test]
fn an_invalid_sop_prints_its_diagnostics() {
    let dir = TempDir::new("invalid");
    let path: &Path = &dir.0.join("bad.yaml");
    std::fs::write(path, "id: bad\nversion: 1\ntitle: Bad\nsteps: []\n").unwrap();
    let output = sop(&dir, &["start", path.to_str().unwrap(), "--as", AGENT]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("error"), "{}", stderr(&output));
}

/// Pausing and resuming from the command line, and the notifications an app delivers:
/// listed while pending, acknowledged once, per case with their acknowledgements.
#[test]
fn pause_resume_and_notifications() {
    let dir = TempDir::new("notify");
    // Friday 9 January 2026, 15:00 in Berlin: the case SLA (3 business days) is due
    // Wednesday 15:00 Berlin time.
    ok(
        &dir,
        &["start", SOP, "--as", AGENT, "--now", "2026-01-09T14:00:00Z"],
    );
    let shown = show_at(&dir, "2026-01-09T14:00:00Z");
    assert!(
        shown.contains("case SLA: 2026-01-14 15:00 Europe/Berlin (2026-01-14 14:00 UTC)"),
        "{shown}"
    );
    // Waiting on the customer from Friday 16:00 to Monday 12:00 Berlin time: the case
    // SLA stands still for the 6 working hours in between (Friday 16-18, Monday 8-12).
    ok(
        &dir,
        &[
            "pause",
            "T-1",
            "--reason",
            "waiting for the customer's invoice",
            "--as",
            AGENT,
            "--now",
            "2026-01-09T15:00:00Z",
        ],
    );
    let err = fails(
        &dir,
        1,
        &[
            "pause",
            "T-1",
            "--reason",
            "again",
            "--as",
            AGENT,
            "--now",
            "2026-01-09T15:01:00Z",
        ],
    );
    assert!(err.contains("already paused"), "{err}");
    let paused = show_at(&dir, "2026-01-12T10:00:00Z");
    assert!(
        paused.contains("paused since 2026-01-09 15:00 UTC"),
        "{paused}"
    );
    ok(
        &dir,
        &[
            "resume",
            "T-1",
            "--as",
            AGENT,
            "--now",
            "2026-01-12T11:00:00Z",
        ],
    );
    let resumed = show_at(&dir, "2026-01-12T11:00:00Z");
    assert!(!resumed.contains("paused since"), "{resumed}");
    assert!(
        resumed.contains("case SLA: 2026-01-15 11:00 Europe/Berlin"),
        "6 working hours later than before: {resumed}"
    );

    // Work waiting for the agents, a reminder, the breach, the team leader told.
    ok(&dir, &["tick", "--now", "2026-01-12T11:00:00Z"]);
    let pending = ok(&dir, &["notifications"]);
    assert!(
        pending.contains("to role support_agent  [work waiting]"),
        "{pending}"
    );
    assert!(
        pending.contains("to role team_leader  [escalation 1]"),
        "{pending}"
    );
    let (code, listed) = {
        let output = sop(&dir, &["notifications", "--format", "json"]);
        let value: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("one JSON object");
        (output.status.code(), value)
    };
    assert_eq!(code, Some(0));
    let ids: Vec<u64> = listed["notifications"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|n| n["id"].as_u64().expect("an id"))
        .collect();
    assert!(ids.len() >= 4, "{listed}");
    let first = ids[0].to_string();
    let acked = ok(
        &dir,
        &[
            "notifications",
            "--ack",
            &first,
            "--now",
            "2026-01-12T11:05:00Z",
        ],
    );
    assert_eq!(acked.trim(), format!("acknowledged notification {first}"));
    let again = ok(&dir, &["notifications", "--ack", &first]);
    assert!(again.contains("already acknowledged"), "{again}");
    let err = fails(&dir, 3, &["notifications", "--ack", "999999"]);
    assert!(err.contains("no notification 999999"), "{err}");
    let left = ok(&dir, &["notifications"]);
    assert_eq!(left.lines().count(), ids.len() - 1, "{left}");
    let of_case = ok(&dir, &["notifications", "T-1"]);
    assert!(
        of_case.contains("(acknowledged 2026-01-12 11:05 UTC)"),
        "{of_case}"
    );
}

fn show_at(dir: &TempDir, now: &str) -> String {
    ok(dir, &["show", "T-1", "--now", now])
}

#[test]
fn cancel_step_drops_one_step_and_the_case_goes_on() {
    let dir = TempDir::new("cancel-step");
    let sop_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/patterns/cancel-activity.yaml"
    );
    let t = |hhmm: &str| format!("2026-01-05T{hhmm}:00Z");
    ok(
        &dir,
        &["start", sop_file, "--as", "ana:agent", "--now", &t("09:00")],
    );
    ok(
        &dir,
        &[
            "complete",
            "T-1",
            "take_order",
            "--as",
            "ana:agent",
            "--now",
            &t("09:05"),
        ],
    );
    let err = fails(
        &dir,
        1,
        &[
            "cancel-step",
            "T-1",
            "ship",
            "--reason",
            "not needed",
            "--as",
            "wes:warehouse",
            "--now",
            &t("09:10"),
        ],
    );
    assert!(
        err.contains("step `ship` cannot be cancelled on its own"),
        "{err}"
    );
    let out = ok(
        &dir,
        &[
            "cancel-step",
            "T-1",
            "install",
            "--reason",
            "the customer declined",
            "--as",
            "tim:technician",
            "--now",
            &t("09:10"),
        ],
    );
    assert!(out.contains("active: ship"), "{out}");
    let shown = ok(&dir, &["show", "T-1", "--now", &t("09:15")]);
    assert!(
        shown.contains("tim: cancelled install: the customer declined"),
        "{shown}"
    );
}

/// A step run once per item: the active items are listed with their item, a command that
/// does not say which is refused in one line, and `--item` picks one.
#[test]
fn commands_name_the_item_of_a_step_run_once_per_item() {
    let dir = TempDir::new("case-items");
    let sop_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/patterns/multiple-instances.yaml"
    );
    let now = ["--now", "2026-01-05T09:00:00Z"];
    let with = |args: &[&'static str]| -> Vec<&'static str> { [args, &now[..]].concat() };
    ok(
        &dir,
        &with(&["start", sop_file, "--id", "H-1", "--as", "hana:hr"]),
    );
    let out = ok(
        &dir,
        &with(&[
            "complete",
            "H-1",
            "request",
            "--field",
            "systems=crm,email",
            "--as",
            "hana:hr",
        ]),
    );
    assert!(out.contains("active: create_account [crm]"), "{out}");
    assert!(out.contains("active: create_account [email]"), "{out}");
    let err = fails(
        &dir,
        1,
        &with(&["complete", "H-1", "create_account", "--as", "ivo:it"]),
    );
    assert!(err.contains("say which item"), "{err}");
    let out = ok(
        &dir,
        &with(&[
            "complete",
            "H-1",
            "create_account",
            "--item",
            "crm",
            "--as",
            "ivo:it",
        ]),
    );
    // The completion names its item; only the other one is still active.
    assert!(
        out.contains("completed create_account [crm]\n")
            && out.contains("active: create_account [email]")
            && !out.contains("active: create_account [crm]"),
        "{out}"
    );
}

/// A call step: the sub-case starts as the order reaches it, the order cannot be
/// completed by hand meanwhile, the order moves on as the sub-case closes, and `show`
/// names the link on both sides. Without the called SOP stored, the order waits and
/// `tick` starts the sub-case once it is.
#[test]
fn a_call_step_starts_its_sub_case_and_moves_on_when_it_closes() {
    let dir = TempDir::new("sub-sop");
    let order = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/patterns/sub-sop.yaml"
    );
    let check = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/patterns/sub-sop-credit-check.yaml"
    );
    let t = |hhmm: &str| format!("2026-01-05T{hhmm}:00Z");
    ok(
        &dir,
        &[
            "start",
            order,
            "--sop",
            check,
            "--as",
            "sam:sales",
            "--now",
            &t("09:00"),
        ],
    );
    let out = ok(
        &dir,
        &[
            "complete",
            "T-1",
            "take_order",
            "--field",
            "customer=Acme",
            "--field",
            "amount=1200",
            "--as",
            "sam:sales",
            "--now",
            &t("09:05"),
        ],
    );
    assert!(
        out.contains("T-1: started sub-case T-1.credit_check.1 on credit-check v1"),
        "{out}"
    );
    let err = fails(
        &dir,
        1,
        &[
            "complete",
            "T-1",
            "credit_check",
            "--as",
            "sam:sales",
            "--now",
            &t("09:06"),
        ],
    );
    assert!(
        err.contains("step `credit_check` waits for its sub-case `T-1.credit_check.1`"),
        "{err}"
    );
    let child = ok(&dir, &["show", "T-1.credit_check.1", "--now", &t("09:07")]);
    assert!(
        child.contains("sub-case of T-1 (its step credit_check waits for it)"),
        "{child}"
    );
    assert!(child.contains("applicant: Acme"), "{child}");
    let out = ok(
        &dir,
        &[
            "complete",
            "T-1.credit_check.1",
            "assess",
            "--field",
            "approved=true",
            "--as",
            "fay:analyst",
            "--now",
            &t("09:10"),
        ],
    );
    assert!(
        out.contains("T-1: sub-case T-1.credit_check.1 completed"),
        "{out}"
    );
    let parent = ok(&dir, &["show", "T-1", "--now", &t("09:11")]);
    assert!(
        parent.contains(
            "sub-case T-1.credit_check.1 (credit-check) for step credit_check: completed"
        ),
        "{parent}"
    );
    assert!(parent.contains("ship [task]"), "{parent}");

    // A store without the called SOP: the order waits, and tick starts the sub-case
    // once the SOP is stored.
    let alone = TempDir::new("sub-sop-missing");
    ok(
        &alone,
        &["start", order, "--as", "sam:sales", "--now", &t("09:00")],
    );
    let output = sop(
        &alone,
        &[
            "complete",
            "T-1",
            "take_order",
            "--field",
            "customer=Acme",
            "--as",
            "sam:sales",
            "--now",
            &t("09:05"),
        ],
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("calls SOP `credit-check`, which is not in this store"),
        "{}",
        stderr(&output)
    );
    ok(
        &alone,
        &[
            "start",
            check,
            "--id",
            "C-1",
            "--as",
            "fay:analyst",
            "--now",
            &t("09:06"),
        ],
    );
    let ticked = ok(&alone, &["tick", "--now", &t("09:07")]);
    assert!(
        ticked.contains("T-1: started sub-case T-1.credit_check.1 on credit-check v1"),
        "{ticked}"
    );

    // A call that does not fit the SOP stored with it is refused before anything is stored.
    let bad = TempDir::new("sub-sop-misfit");
    let misfit = bad.0.join("order.yaml");
    std::fs::write(
        &misfit,
        std::fs::read_to_string(order)
            .unwrap()
            .replace("credit_ok: approved", "credit_ok: requested"),
    )
    .unwrap();
    let misfit = misfit.display().to_string();
    let output = sop(
        &bad,
        &["start", &misfit, "--sop", check, "--as", "sam:sales"],
    );
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("a number value cannot go into a bool field"),
        "{err}"
    );
    assert!(!bad.path("t.db").exists(), "nothing was stored");
}
