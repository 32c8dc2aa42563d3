//! `sop report` as a user runs it: the built binary on a SQLite store holding five cases
//! whose figures can be checked by hand, in every format, and the ways it refuses.
#![cfg(feature = "cli")]

mod cli_support;

use std::process::{Command as Process, Output};

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use cli_support::TempDir;
use sopflow::engine::{Action, Actor, CaseId, Command, FieldValues};
use sopflow::store::{BlockingStore, execute};

/// Support hours 09:00–17:00 Berlin; the first response is due within an hour of them.
const DESK: &str = "
id: desk
version: 1
title: Desk
department: Support
roles: { agent: Agent, lead: Lead }
calendars:
  office: { zone: Europe/Berlin, hours: { mon-fri: ['09:00-17:00'] } }
calendar: office
fields:
  priority: { type: choice, options: [High, Low], default: Low }
  csat: { type: integer, min: 1, max: 5 }
  nps: { type: integer, min: 0, max: 10 }
kpis:
  first_response: { title: First response, from: opened, to: { completed: receive }, target: 1h, goal: 80% }
  resolution: { title: Resolution, from: opened, to: closed }
  csat: { title: CSAT, mean: csat, target: 4 }
  nps: { title: NPS, nps: nps }
  response_sla: { title: SLA met, sla: steps, goal: 90% }
  escalation: { title: Escalated, rate: escalated, at_most: 10% }
steps:
  - { id: receive, title: Receive, role: agent, due: 1h, on_escalate: lead_review }
  - { id: checks, parallel: [check_a, check_b], join: solve }
  - { id: check_a, title: Check A, role: agent, next: solve }
  - { id: check_b, title: Check B, role: agent, next: solve }
  - { id: solve, title: Solve, role: agent, collects: [csat, nps], end: true }
  - { id: lead_review, title: Lead review, role: lead, next: checks }
";

fn berlin(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(2026, 3, day, hour, minute, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn complete(step: &str) -> Action {
    Action::Complete {
        step: step.parse().unwrap(),
        fields: FieldValues::new(),
        item: None,
    }
}

fn survey(csat: i64, nps: i64) -> Action {
    Action::Complete {
        step: "solve".parse().unwrap(),
        fields: FieldValues::from([
            ("csat".parse().unwrap(), csat.into()),
            ("nps".parse().unwrap(), nps.into()),
        ]),
        item: None,
    }
}

/// Commands after a case's start: minutes after opening, and what is done.
type Script = Vec<(i64, Action)>;

fn happy(receive: i64, a: i64, b: i64, solve: i64, csat: i64, nps: i64) -> Script {
    vec![
        (receive, complete("receive")),
        (a, complete("check_a")),
        (b, complete("check_b")),
        (solve, survey(csat, nps)),
    ]
}

/// Five cases, minutes after opening:
/// - D-1 Mon 23 March 09:00, Low: answered at 30, closed at 60 (CSAT 5, NPS 10);
/// - D-2 Mon 10:00, High: its SLA breached at 61, answered at 90, closed at 120 (3, 6);
/// - D-3 Tue 09:00, High: escalated at 15, the lead sends it on at 45, closed at 80 (2, 3);
/// - D-4 Tue 10:00, Low: answered at 20, still open;
/// - D-5 Mon 30 March 09:00, Low: answered at 10, closed at 40 (4, 9).
fn store_with_five_cases(dir: &TempDir) -> String {
    let db = dir.db();
    let store = BlockingStore::open(&db).unwrap();
    let process = store.save_sop("desk.yaml", DESK).unwrap();
    let agent = Actor::new("ana", ["agent".parse().unwrap()]);
    let lead = Actor::new("lee", ["lead".parse().unwrap()]);
    let cases: Vec<(&str, DateTime<Utc>, &str, Script)> = vec![
        ("D-1", berlin(23, 9, 0), "Low", happy(30, 40, 50, 60, 5, 10)),
        ("D-2", berlin(23, 10, 0), "High", {
            let mut script = vec![(61, Action::Tick)];
            script.extend(happy(90, 100, 110, 120, 3, 6));
            script
        }),
        (
            "D-3",
            berlin(24, 9, 0),
            "High",
            vec![
                (
                    15,
                    Action::Escalate {
                        step: "receive".parse().unwrap(),
                        reason: "billing".into(),
                        item: None,
                    },
                ),
                (45, complete("lead_review")),
                (60, complete("check_a")),
                (70, complete("check_b")),
                (80, survey(2, 3)),
            ],
        ),
        (
            "D-4",
            berlin(24, 10, 0),
            "Low",
            vec![(20, complete("receive"))],
        ),
        ("D-5", berlin(30, 9, 0), "Low", happy(10, 20, 30, 40, 4, 9)),
    ];
    for (id, opened, priority, script) in cases {
        let start = Action::Start {
            case: id.into(),
            fields: FieldValues::from([("priority".parse().unwrap(), priority.into())]),
        };
        for (n, (minutes, action)) in std::iter::once((0, start)).chain(script).enumerate() {
            let actor = if matches!(&action, Action::Complete { step, .. } if step.as_str() == "lead_review")
            {
                lead.clone()
            } else {
                agent.clone()
            };
            let command = Command::new(format!("{id}-{n}"), actor, action);
            store
                .block_on(execute(
                    store.store(),
                    &process,
                    &CaseId::new(id),
                    command,
                    opened + Duration::minutes(minutes),
                ))
                .unwrap_or_else(|e| panic!("{id}, command {n}: {e}"));
        }
    }
    db
}

fn report(db: &str, args: &[&str]) -> Output {
    Process::new(env!("CARGO_BIN_EXE_sop"))
        .arg("report")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run sop")
}

fn stdout(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(0),
        "sop report failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_format() {
    let dir = TempDir::new("report-formats");
    let db = store_with_five_cases(&dir);
    let table = stdout(&report(&db, &["--by", "week", "--segment", "priority"]));
    // First responses 30, 90, 20, 10 min (D-3 escalated without one): median 25 min,
    // 3 of 4 within the hour. CSAT (5 + 3 + 2 + 4) / 4 = 3.50. NPS: promoters 10, 9,
    // detractors 6, 3: 0. One breach in five activations of receive with a due.
    assert!(table.contains("25m · 75.0% ≤ 1h"), "{table}");
    assert!(table.contains("3.50 (n=4)"), "{table}");
    assert!(table.contains("+0 (n=4)"), "{table}");
    assert!(table.contains("80.0% (4/5)"), "{table}");
    insta::assert_snapshot!("table_by_week_and_priority", table);
    let markdown = stdout(&report(&db, &["--by", "week", "--format", "markdown"]));
    insta::assert_snapshot!("markdown_by_week", markdown);
    let csv = stdout(&report(&db, &["--segment", "priority", "--format", "csv"]));
    insta::assert_snapshot!("csv_by_priority", csv);
    let json = stdout(&report(&db, &["--format", "json", "--paths", "2"]));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["versions"][0]["total"]["cases"], 5);
    assert_eq!(value["versions"][0]["total"]["open"], 1);
    insta::assert_snapshot!("json", json);
}

#[test]
fn since_and_until_take_days_in_the_sops_zone() {
    let dir = TempDir::new("report-since");
    let db = store_with_five_cases(&dir);
    let json = stdout(&report(
        &db,
        &[
            "--since",
            "2026-03-24",
            "--until",
            "2026-03-30",
            "--format",
            "json",
        ],
    ));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    // D-3 and D-4 (Tuesday); D-5 opened at 09:00 on the 30th, after `until`.
    assert_eq!(value["versions"][0]["total"]["cases"], 2);
    assert_eq!(value["skipped"], 3);
}

#[test]
fn refusals() {
    let dir = TempDir::new("report-refusals");
    let db = store_with_five_cases(&dir);
    let refused = |args: &[&str], code: i32, says: &str| {
        let output = report(&db, args);
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    };
    refused(
        &["--segment", "csat"],
        2,
        "cannot segment by `csat`: it is an integer field",
    );
    refused(
        &["--sop", "other"],
        3,
        "SOP `other` is not in the store; it holds `desk`",
    );
    refused(&["--since", "last week"], 2, "is neither a day");
    refused(&["--by", "year"], 2, "invalid value 'year'");
    let missing = report(&dir.db().replace("t.db", "none.db"), &[]);
    assert_eq!(missing.status.code(), Some(3));
}

fn graph_heat(dir: &TempDir, db: &str, args: &[&str]) -> Output {
    let file = dir.path("desk.yaml");
    std::fs::write(&file, DESK).unwrap();
    Process::new(env!("CARGO_BIN_EXE_sop"))
        .arg("graph")
        .arg(&file)
        .arg("--heat-db")
        .arg(db)
        .args(args)
        .output()
        .expect("run sop")
}

#[test]
fn graph_draws_the_heat_of_a_store_in_every_format() {
    let dir = TempDir::new("report-heat");
    let db = store_with_five_cases(&dir);
    // Receive is active 30, 90, 15 (escalated), 20 and 10 minutes: median 20m. The lead
    // review (30m) is the slowest step, so the darkest. One of the five activations of
    // receive breached its hour.
    let mermaid = stdout(&graph_heat(&dir, &db, &[]));
    assert!(
        mermaid
            .contains("Receive<br/><i>agent</i><br/><i>SLA 1h in office</i><br/><b>median 20m</b>"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("style s_lead_review fill:#440154"),
        "{mermaid}"
    );
    insta::assert_snapshot!("heat_by_time_mermaid", mermaid);
    let dot = stdout(&graph_heat(
        &dir,
        &db,
        &["--heat-by", "breaches", "--format", "dot"],
    ));
    assert!(dot.contains("20% breached"), "{dot}");
    insta::assert_snapshot!("heat_by_breaches_dot", dot);
    let svg = stdout(&graph_heat(&dir, &db, &["--format", "svg"]));
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
    assert!(svg.contains("median time active"), "{svg}");
    // A version the store holds no case of is refused, naming the ones it has.
    let other = graph_heat(&dir, &db, &["--sop-version", "7"]);
    assert_eq!(other.status.code(), Some(1));
    let message = String::from_utf8_lossy(&other.stderr);
    assert!(message.contains("cases of version 1"), "{message}");
}

#[test]
fn html_charts_each_kpi_per_day() {
    let dir = TempDir::new("report-html");
    let db = store_with_five_cases(&dir);
    let html = stdout(&report(&db, &["--by", "day", "--format", "html"]));
    // Cases were opened on three days: each KPI with a target or goal (first response,
    // CSAT, SLA met, escalated) is a chart over them, plus the percentiles of the two
    // duration KPIs and the two heatmaps.
    assert_eq!(html.matches("<svg").count(), 4 + 2 + 2, "{html}");
    for day in ["2026-03-23", "2026-03-24", "2026-03-30"] {
        assert!(html.contains(day), "{day} missing");
    }
}

/// A read-only store is reported on from the events; the first report on a writable one
/// keeps every case's facts, and the next reads them: the same report each time.
#[cfg(unix)]
#[test]
fn later_reports_read_kept_facts() {
    use std::os::unix::fs::PermissionsExt;

    let dir = TempDir::new("report-kept");
    let db = store_with_five_cases(&dir);
    let path = db.strip_prefix("sqlite:").unwrap_or(&db).to_owned();
    let args = ["--by", "week", "--segment", "priority", "--format", "json"];
    let measured = || {
        let store = BlockingStore::open_existing(&db).unwrap();
        let mut metrics = sopflow::metrics::Accumulator::new(
            "desk".parse().unwrap(),
            sopflow::metrics::Options::default(),
        );
        let mut processes = std::collections::BTreeMap::new();
        let filter = sopflow::store::CaseFilter::all();
        let measured = store.measure(&filter, &mut metrics, &mut processes);
        measured.unwrap()
    };

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let output = report(&db, &args);
    let read_only = stdout(&output);
    // The figures are right, so this is no failure; but the next report will read every
    // event again, and the note says why.
    let note = String::from_utf8_lossy(&output.stderr);
    assert!(
        note.starts_with("note: the facts of 5 cases read from their events could not be kept"),
        "{note}"
    );
    let from_read_only = measured();
    assert_eq!((from_read_only.from_events, from_read_only.kept), (5, 0));
    assert!(from_read_only.not_kept.is_some());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let output = report(&db, &args);
    let first = stdout(&output);
    assert_eq!(first, read_only);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    let kept = measured();
    assert_eq!((kept.from_facts, kept.from_events), (5, 0));
    assert_eq!(stdout(&report(&db, &args)), first);
}
