//! Event-log export: a few hand-built case histories written as XES and CSV, checked
//! against snapshots, read back (XES structure with roxmltree, CSV with RFC 4180 quoting),
//! and validated against the XES schema of IEEE 1849-2016 by `xmllint` when
//! SOPFLOW_TEST_XMLLINT is set.
#![cfg(feature = "export")]

mod outside;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sopflow::engine::{self, Action, Actor, CaseState, Command, Event, FieldValues};
use sopflow::export::{ActivityName, CsvWriter, ExportError, ExportOptions, XesWriter};
use sopflow::graph::Process;
use sopflow::model::FieldValue;

const SOP: &str = r#"
id: refund
version: 2
title: Refund request
department: Support
roles:
  agent: Support agent
  lead: Team lead
fields:
  amount: { type: number }
  priority: { type: choice, options: [High, Low], default: Low }
  reason: { type: text }
  channels: { type: multi-choice, options: [mail, "chat, web"] }
  urgent: { type: bool }
  items: { type: integer }
steps:
  - id: receive
    title: Receive the "refund" request & check <order>
    role: agent
    collects: [amount, reason]
    due: 1h
    on_overdue: takeover
    on_escalate: takeover
  - id: approve
    title: Approve the refund
    approval: { by: lead, reviews: [receive], on_reject: receive }
  - id: pay
    title: Pay the refund
    role: agent
    due: 2h
    end: true
  - id: takeover
    title: Lead takes over
    role: lead
    next: approve
"#;

fn process() -> Process {
    let loaded = sopflow::load("refund.yaml", SOP.as_bytes());
    loaded.process.unwrap_or_else(|| {
        panic!("the test SOP has errors: {:#?}", loaded.diagnostics);
    })
}

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

/// Sends commands to a fresh case and returns its history.
struct Case<'a> {
    process: &'a Process,
    state: CaseState,
    events: Vec<Event>,
    n: u32,
}

impl<'a> Case<'a> {
    fn start(process: &'a Process, id: &str, minute: i64, fields: FieldValues) -> Case<'a> {
        let mut case = Case {
            process,
            state: CaseState::new(),
            events: Vec::new(),
            n: 0,
        };
        case.send(
            "ana:agent",
            minute,
            Action::Start {
                case: id.into(),
                fields,
            },
        );
        case
    }

    fn send(&mut self, who: &str, minute: i64, action: Action) -> &mut Self {
        let (name, role) = who.split_once(':').unwrap();
        let actor = Actor::new(name, role.split(',').map(|r| r.parse().unwrap()));
        self.n += 1;
        let command = Command::new(format!("c{}", self.n), actor, action);
        let events = engine::handle(self.process, &self.state, command, at(minute))
            .unwrap_or_else(|e| panic!("refused: {e}"));
        for event in events {
            self.state.apply(&event);
            self.events.push(event);
        }
        self
    }
}

fn step(id: &str) -> sopflow::model::StepId {
    id.parse().unwrap()
}

fn fields(values: &[(&str, FieldValue)]) -> FieldValues {
    values
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.clone()))
        .collect()
}

/// Four cases, each with a path the export must tell apart.
fn histories(process: &Process) -> Vec<Vec<Event>> {
    // R-1: claimed, completed, approved after a rejection (rework), paid late (breach kept
    // on the step, which stays active), closed.
    let mut r1 = Case::start(
        process,
        "R-1",
        0,
        fields(&[
            ("priority", FieldValue::Text("High".into())),
            (
                "channels",
                FieldValue::List(vec!["mail".into(), "chat, web".into()]),
            ),
            ("urgent", FieldValue::Bool(true)),
            ("items", FieldValue::Integer(3)),
        ]),
    );
    r1.send(
        "ana:agent",
        5,
        Action::Claim {
            step: step("receive"),
            item: None,
        },
    )
    .send(
        "ana:agent",
        20,
        Action::Complete {
            step: step("receive"),
            fields: fields(&[
                ("amount", FieldValue::Number(49.5)),
                (
                    "reason",
                    FieldValue::Text("Wrong size,\n\"too small\" <xl> & more".into()),
                ),
            ]),
            item: None,
        },
    )
    .send(
        "lee:lead",
        30,
        Action::Reject {
            step: step("approve"),
            reason: "no receipt".into(),
        },
    )
    .send(
        "ana:agent",
        40,
        Action::Complete {
            step: step("receive"),
            fields: FieldValues::new(),
            item: None,
        },
    )
    .send(
        "lee:lead",
        50,
        Action::Approve {
            step: step("approve"),
            comment: None,
        },
    )
    .send(
        "lee:lead,agent",
        55,
        Action::Assign {
            step: step("pay"),
            assignee: "bo".into(),
            item: None,
        },
    )
    .send(
        "lee:lead,agent",
        60,
        Action::Assign {
            step: step("pay"),
            assignee: "ana".into(),
            item: None,
        },
    )
    .send("timer:agent", 200, Action::Tick)
    .send(
        "ana:agent",
        210,
        Action::Complete {
            step: step("pay"),
            fields: FieldValues::new(),
            item: None,
        },
    );

    // R-2: nobody answers in time: the SLA takes the step to the lead, who hands the
    // approval to... the lead role again (a transfer), approves; still open.
    let mut r2 = Case::start(process, "R-2", 10, FieldValues::new());
    r2.send("timer:agent", 75, Action::Tick)
        .send(
            "lee:lead",
            80,
            Action::Complete {
                step: step("takeover"),
                fields: FieldValues::new(),
                item: None,
            },
        )
        .send(
            "lee:lead",
            85,
            Action::Transfer {
                step: step("approve"),
                to: "lead".parse().unwrap(),
                item: None,
            },
        )
        .send(
            "max:lead",
            90,
            Action::Approve {
                step: step("approve"),
                comment: Some("ok".into()),
            },
        );

    // R-3: escalated by the agent, then cancelled while the lead holds it.
    let mut r3 = Case::start(process, "R-3", 20, FieldValues::new());
    r3.send(
        "ana:agent",
        25,
        Action::Escalate {
            step: step("receive"),
            reason: "angry customer".into(),
            item: None,
        },
    )
    .send(
        "lee:lead",
        30,
        Action::Claim {
            step: step("takeover"),
            item: None,
        },
    )
    .send(
        "lee:lead",
        35,
        Action::Cancel {
            reason: "customer withdrew".into(),
        },
    );

    // R-4: just opened.
    let r4 = Case::start(process, "R-4", 30, FieldValues::new());

    vec![r1.events, r2.events, r3.events, r4.events]
}

fn xes(process: &Process, options: &ExportOptions) -> String {
    let mut writer = XesWriter::new(Vec::new(), options).unwrap();
    for history in histories(process) {
        writer.write_case(process, &history).unwrap();
    }
    String::from_utf8(writer.finish().unwrap()).unwrap()
}

fn csv(process: &Process, options: &ExportOptions) -> String {
    let mut writer = CsvWriter::new(Vec::new(), options).unwrap();
    for history in histories(process) {
        writer.write_case(process, &history).unwrap();
    }
    String::from_utf8(writer.finish().unwrap()).unwrap()
}

#[test]
fn xes_snapshot() {
    let process = process();
    insta::assert_snapshot!(xes(&process, &ExportOptions::default()));
}

#[test]
fn csv_snapshot() {
    let process = process();
    insta::assert_snapshot!(csv(&process, &ExportOptions::default()));
}

#[test]
fn titles_name_activities_when_asked() {
    let process = process();
    let options = ExportOptions {
        activity: ActivityName::Title,
        log_name: "refunds".into(),
    };
    let text = csv(&process, &options);
    assert!(text.contains("R-1,Approve the refund,"));
    assert!(text.contains(r#"R-1,"Receive the ""refund"" request & check <order>","#));
    let xes = xes(&process, &options);
    let document = roxmltree::Document::parse(&xes).unwrap();
    let log = document.root_element();
    let name = child_attribute(log, "concept:name");
    assert_eq!(name.as_deref(), Some("refunds"));
}

/// The `value` of the child attribute element of `node` with `key`.
fn child_attribute(node: roxmltree::Node, key: &str) -> Option<String> {
    node.children()
        .filter(roxmltree::Node::is_element)
        .find(|c| c.attribute("key") == Some(key))
        .and_then(|c| c.attribute("value").map(str::to_owned))
}

/// What every XES reader relies on, checked without the schema: the element order the
/// standard prescribes, the extensions declared, every trace and event carrying its
/// global attributes, text read back exactly.
#[test]
fn xes_has_the_structure_the_standard_asks_for() {
    let process = process();
    let text = xes(&process, &ExportOptions::default());
    let document = roxmltree::Document::parse(&text).unwrap();
    let log = document.root_element();
    assert_eq!(log.tag_name().name(), "log");
    assert_eq!(log.tag_name().namespace(), None);
    assert_eq!(log.attribute("xes.version"), Some("1849.2016"));

    let order = ["extension", "global", "classifier", "attribute", "trace"];
    let rank = |name: &str| {
        order
            .iter()
            .position(|o| *o == name)
            .unwrap_or_else(|| order.iter().position(|o| *o == "attribute").unwrap())
    };
    let children: Vec<roxmltree::Node> = log.children().filter(|n| n.is_element()).collect();
    let ranks: Vec<usize> = children.iter().map(|c| rank(c.tag_name().name())).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "order: {ranks:?}");

    let prefixes: Vec<&str> = children
        .iter()
        .filter(|c| c.tag_name().name() == "extension")
        .filter_map(|c| c.attribute("prefix"))
        .collect();
    assert_eq!(prefixes, ["concept", "time", "lifecycle", "org"]);
    for child in &children {
        if let Some(key) = child.attribute("key") {
            let prefix = key.split_once(':').map(|(p, _)| p);
            assert!(
                prefix.is_none_or(|p| prefixes.contains(&p) || p == "sopflow"),
                "{key}"
            );
        }
    }

    let global = |scope: &str| -> Vec<String> {
        children
            .iter()
            .filter(|c| c.tag_name().name() == "global" && c.attribute("scope") == Some(scope))
            .flat_map(|g| g.children().filter(|n| n.is_element()))
            .filter_map(|a| a.attribute("key").map(str::to_owned))
            .collect()
    };
    let (trace_keys, event_keys) = (global("trace"), global("event"));
    let traces: Vec<roxmltree::Node> = children
        .iter()
        .copied()
        .filter(|c| c.tag_name().name() == "trace")
        .collect();
    assert_eq!(traces.len(), 4);
    let mut events = 0;
    for trace in &traces {
        for key in &trace_keys {
            assert!(child_attribute(*trace, key).is_some(), "trace lacks {key}");
        }
        for event in trace.children().filter(|n| n.tag_name().name() == "event") {
            events += 1;
            for key in &event_keys {
                assert!(child_attribute(event, key).is_some(), "event lacks {key}");
            }
        }
    }
    assert!(events > 20);

    // R-1's reason, with a line break, quotes and markup, reads back exactly.
    assert_eq!(
        child_attribute(traces[0], "reason").as_deref(),
        Some("Wrong size,\n\"too small\" <xl> & more")
    );
    assert_eq!(
        child_attribute(traces[0], "channels").as_deref(),
        Some(r#"["mail","chat, web"]"#)
    );
    let transitions: Vec<String> = traces[2]
        .children()
        .filter(|n| n.tag_name().name() == "event")
        .filter_map(|e| child_attribute(e, "lifecycle:transition"))
        .collect();
    assert_eq!(
        transitions,
        ["schedule", "withdraw", "schedule", "assign", "pi_abort"]
    );
}

#[test]
fn csv_rows_read_back_with_rfc_4180_quoting() {
    let process = process();
    let text = csv(&process, &ExportOptions::default());
    assert!(text.ends_with("\r\n"));
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        &header[..5],
        ["case", "activity", "timestamp", "lifecycle", "resource"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(rows.iter().all(|r| r.len() == header.len()));
    let title = rows
        .iter()
        .find(|r| &r[1] == "receive")
        .map(|r| r[10].to_owned());
    assert_eq!(
        title.as_deref(),
        Some(r#"Receive the "refund" request & check <order>"#)
    );
    // The late payment is flagged on the row that ends it.
    let paid = rows
        .iter()
        .find(|r| &r[0] == "R-1" && &r[1] == "pay" && &r[3] == "complete")
        .unwrap();
    assert_eq!(&paid[8], "true");
}

#[test]
fn a_history_that_is_not_a_whole_case_or_not_of_the_process_is_refused() {
    let process = process();
    let history = histories(&process).remove(0);
    let mut writer = XesWriter::new(Vec::new(), &ExportOptions::default()).unwrap();
    assert!(matches!(
        writer.write_case(&process, &history[1..]),
        Err(ExportError::NotACase)
    ));
    let other = sopflow::load(
        "other.yaml",
        SOP.replace("version: 2", "version: 3").as_bytes(),
    )
    .process
    .unwrap();
    let refused = writer.write_case(&other, &history);
    assert!(
        matches!(
            refused,
            Err(ExportError::WrongProcess {
                version: 2,
                process_version: 3,
                ..
            })
        ),
        "{refused:?}"
    );
    // Nothing was written for them: the log is still well-formed.
    let text = String::from_utf8(writer.finish().unwrap()).unwrap();
    let document = roxmltree::Document::parse(&text).unwrap();
    assert_eq!(
        document
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("trace"))
            .count(),
        0
    );
}

/// The XES log validates against the XML schema of IEEE 1849-2016
/// (`tests/fixtures/xes-ieee-1849-2016.xsd`) with libxml2's `xmllint`.
#[test]
fn xes_validates_against_the_ieee_schema() {
    let Some(_) = outside::enabled(
        outside::XMLLINT,
        "the XES schema check",
        "needs `xmllint`, Debian package libxml2-utils",
    ) else {
        return;
    };
    let process = process();
    let dir = std::env::temp_dir().join(format!("sopflow-xes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, options) in [
        ("ids.xes", ExportOptions::default()),
        (
            "titles.xes",
            ExportOptions {
                activity: ActivityName::Title,
                log_name: "refunds <&> \"quoted\"".into(),
            },
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, xes(&process, &options)).unwrap();
        let schema = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/xes-ieee-1849-2016.xsd"
        );
        let output = std::process::Command::new("xmllint")
            .args(["--noout", "--schema", schema])
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("cannot run xmllint: {e}"));
        assert!(
            output.status.success(),
            "xmllint refused {name}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sub-case names the case that called it: `sopflow:parent` on its trace in XES, and
/// the `parent_case` column of each of its rows in CSV.
#[test]
fn a_sub_case_names_its_parent() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/patterns/sub-sop-credit-check.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let sop = sopflow::parse::parse_sop("sub-sop-credit-check.yaml", &text).unwrap();
    let check = sopflow::graph::compile(&sop).process.unwrap();
    let start = Command::new(
        "s",
        Actor::new("sopflow-link", []),
        Action::StartSubCase {
            case: "O-1.credit_check.1".into(),
            parent: engine::ParentLink {
                case: "O-1".into(),
                step: "credit_check".parse().unwrap(),
                token: 1,
            },
            fields: FieldValues::from([("applicant".parse().unwrap(), "Acme".into())]),
        },
    );
    let events = engine::handle(&check, &CaseState::new(), start, at(0)).unwrap();
    let mut xes = XesWriter::new(Vec::new(), &ExportOptions::default()).unwrap();
    xes.write_case(&check, &events).unwrap();
    let xes = String::from_utf8(xes.finish().unwrap()).unwrap();
    assert!(
        xes.contains(r#"<string key="sopflow:parent" value="O-1"/>"#),
        "{xes}"
    );
    let mut csv = CsvWriter::new(Vec::new(), &ExportOptions::default()).unwrap();
    csv.write_case(&check, &events).unwrap();
    let csv = String::from_utf8(csv.finish().unwrap()).unwrap();
    let row = csv.lines().nth(1).unwrap();
    assert!(row.ends_with(",O-1"), "{csv}");
}
