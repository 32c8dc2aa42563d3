//! The committed JSON Schema is the one the model generates, every SOP in `sops/` validates
//! against it, and the schema and the parser reject the same broken documents.

#![cfg(feature = "schema")]

use std::path::PathBuf;

use serde_json::Value;
use sopflow::parse::{ParseErrorKind, parse_sop};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&sopflow::schema::sop_schema()).expect("the SOP schema compiles")
}

fn yaml_to_json(name: &str, text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every schema error for `instance`, one per line; empty when it is valid.
fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> String {
    validator
        .iter_errors(instance)
        .map(|error| format!("{}: {error}\n", error.instance_path()))
        .collect()
}

#[test]
fn committed_schema_is_up_to_date() {
    let path = manifest_dir().join("schema/sop.schema.json");
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        committed == sopflow::schema::sop_schema_json(),
        "schema/sop.schema.json is out of date with the model: \
         run `cargo run --bin sop -- schema > schema/sop.schema.json`"
    );
}

#[test]
fn every_sop_validates_against_the_schema() {
    let validator = validator();
    let dir = manifest_dir().join("sops");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        // `NAME.test.yaml` beside an SOP holds its scenarios, not an SOP.
        .filter(|path| !path.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no SOPs in {}", dir.display());
    let mut failures = String::new();
    for path in paths {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let errors = schema_errors(&validator, &yaml_to_json(&name, &text));
        if !errors.is_empty() {
            failures.push_str(&format!("{name}:\n{errors}"));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

const VALID: &str = r#"# yaml-language-server: $schema=../schema/sop.schema.json
id: tiny
version: 1
title: Tiny
department: Customer Service
roles:
  agent: Support team member
fields:
  issue: { type: text, required: true }
steps:
  - id: receive
    title: Receive the issue
    role: agent
    collects: [issue]
    due: 4h
    on_overdue: close
  - id: close
    title: Close the case
    role: agent
    end: true
"#;

/// Asserts that the schema and the parser both accept `text`, or both reject it (and that
/// the parser says why with `kind`).
fn assert_agree(what: &str, text: &str, kind: Option<ParseErrorKind>) {
    let schema_errors = schema_errors(&validator(), &yaml_to_json(what, text));
    let parsed = parse_sop("t.yaml", text);
    match kind {
        None => {
            assert!(
                schema_errors.is_empty(),
                "{what}: schema rejects it:\n{schema_errors}"
            );
            assert!(parsed.is_ok(), "{what}: parser rejects it: {parsed:?}");
        }
        Some(kind) => {
            assert!(!schema_errors.is_empty(), "{what}: the schema accepts it");
            let error = parsed.expect_err(what);
            assert_eq!(error.kind, kind, "{what}: {error}");
        }
    }
}

#[test]
fn schema_and_parser_accept_the_same_valid_document() {
    assert_agree("valid document", VALID, None);
}

#[test]
fn schema_and_parser_reject_an_unknown_key() {
    let text = VALID.replace("    title: Close the case\n", "    titel: Close the case\n");
    assert_agree("unknown key", &text, Some(ParseErrorKind::UnknownKey));
}

#[test]
fn schema_and_parser_reject_a_bad_duration() {
    let text = VALID.replace("due: 4h", "due: 4 hours");
    assert_agree("bad duration", &text, Some(ParseErrorKind::InvalidValue));
}

#[test]
fn schema_and_parser_reject_an_unknown_field_type() {
    let text = VALID.replace("type: text", "type: strnig");
    assert_agree(
        "wrong field type",
        &text,
        Some(ParseErrorKind::InvalidValue),
    );
}

#[test]
fn schema_and_parser_reject_an_invalid_step_id() {
    let text = VALID.replace("id: close", "id: Close Case");
    assert_agree("invalid step id", &text, Some(ParseErrorKind::InvalidValue));
}

#[test]
fn schema_and_parser_reject_a_missing_required_key() {
    let text = VALID.replace("department: Customer Service\n", "");
    assert_agree(
        "missing department",
        &text,
        Some(ParseErrorKind::MissingKey),
    );
}

#[test]
fn schema_and_parser_reject_a_quoted_boolean() {
    for quoted in [r#"end: "true""#, "end: 'false'"] {
        let text = VALID.replace("end: true", quoted);
        assert_agree(quoted, &text, Some(ParseErrorKind::InvalidValue));
    }
}

/// Editors show the schema's descriptions to ops leads: no Rust doc links in them.
#[test]
fn descriptions_hold_no_rust_doc_links() {
    fn walk(value: &Value, path: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    if key == "description"
                        && let Some(text) = child.as_str()
                        && (text.contains("[`") || text.contains("crate::") || text.contains("]("))
                    {
                        found.push(format!("{path}: {text}"));
                    }
                    walk(child, &format!("{path}/{key}"), found);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{path}/{i}"), found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(&sopflow::schema::sop_schema(), "", &mut found);
    assert!(found.is_empty(), "\n{}\n", found.join("\n"));
}

#[test]
fn committed_scenario_schema_is_up_to_date() {
    let path = manifest_dir().join("schema/scenario.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == sopflow::schema::scenario_schema_json(),
        "schema/scenario.schema.json is out of date with the scenario types: \
         run `cargo run --bin sop -- schema --scenarios > schema/scenario.schema.json`"
    );
}

#[test]
fn every_scenario_file_validates_against_the_scenario_schema() {
    let validator = jsonschema::validator_for(&sopflow::schema::scenario_schema())
        .expect("the scenario schema compiles");
    let dir = manifest_dir().join("sops");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scenario file in {}", dir.display());
    for path in paths {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let errors = schema_errors(&validator, &yaml_to_json(&name, &text));
        assert!(errors.is_empty(), "{name}:\n{errors}");
    }
}

#[test]
fn schema_and_parser_agree_on_timers_counted_from_a_date() {
    for (what, due, kind) in [
        ("before a date", "{ before: issue, offset: 2bd }", None),
        ("on a date", "{ after: issue }", None),
        (
            "two dates",
            "{ before: issue, after: issue }",
            Some(ParseErrorKind::InvalidValue),
        ),
        (
            "misspelt offset",
            "{ before: issue, ofset: 2bd }",
            Some(ParseErrorKind::UnknownKey),
        ),
        (
            "a bad offset",
            "{ after: issue, offset: 2 days }",
            Some(ParseErrorKind::InvalidValue),
        ),
    ] {
        let text = VALID.replace("due: 4h", &format!("due: {due}"));
        assert_agree(what, &text, kind);
    }
}
