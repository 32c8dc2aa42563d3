//! `sop validate` as a user and CI run it: the built binary, its exit codes, what it prints
//! on stdout (diagnostics) and stderr (the summary), in each output format.
//!
//! Exit codes: 0 when there is no error (and no warning under `--deny warnings`), 1 when
//! there is, 2 for usage and I/O errors.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/invalid");

/// A few lint fixtures: errors with one and with two diagnostics, a multi-line span, a
/// warning. Copied into a directory so that the reported paths are short and stable.
const LINT_FIXTURES: &[&str] = &[
    "101-dangling-next.yaml",
    "117-condition-syntax-error.yaml",
    "120-condition-type-mismatch.yaml",
    "146-undefined-acronym-in-block-instructions.yaml",
    "149-unused-role.yaml",
];

/// A valid SOP with no warning.
const VALID: &str = "\
id: refund
version: 1
title: Refund
department: Customer Service
roles:
  agent: Support team member
steps:
  - id: refund
    title: Refund the customer
    role: agent
    end: true
";

/// Valid but for one unused role: a warning, no error.
const WARNING_ONLY: &str = "\
id: refund
version: 1
title: Refund
department: Customer Service
roles:
  agent: Support team member
  lead: Team lead
steps:
  - id: refund
    title: Refund the customer
    role: agent
    end: true
";

/// Two independent errors: an undeclared role (line 10) and a dangling `next` (line 11).
const TWO_ERRORS_A: &str = "\
id: refund
version: 1
title: Refund
department: Customer Service
roles:
  agent: Support team member
steps:
  - id: receive
    title: Receive the request
    role: agnet
    next: refnd
  - id: refund
    title: Refund the customer
    role: agent
    end: true
";

/// Two independent errors: a choice default that is not an option (line 8) and a
/// condition over a field that does not exist (line 16).
const TWO_ERRORS_B: &str = "\
id: triage
version: 1
title: Triage
department: Customer Service
roles:
  agent: Support team member
fields:
  priority: { type: choice, options: [Low, High], default: Medium }
steps:
  - id: receive
    title: Receive the request
    role: agent
    collects: [priority]
  - id: route
    decide:
      - { if: 'urgency == \"High\"', goto: close }
      - else: close
  - id: close
    title: Close the request
    role: agent
    end: true
";

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_validate")
        .join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// Runs `sop` with `args` in `dir`, feeding `stdin`.
fn sop_in(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sop"))
        .args(args)
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sop binary runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn sop(dir: &Path, args: &[&str]) -> Output {
    sop_in(dir, args, None)
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// The exit code, with stdout and stderr in the failure message.
#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "\n--- stdout\n{}\n--- stderr\n{}",
        stdout(output),
        stderr(output)
    );
}

/// A directory `lints/` holding [`LINT_FIXTURES`].
fn lint_dir(name: &str) -> PathBuf {
    let dir = scratch(name);
    for fixture in LINT_FIXTURES {
        let text = std::fs::read(Path::new(FIXTURES).join(fixture)).unwrap();
        write(&dir.join("lints").join(fixture), text);
    }
    dir
}

#[test]
fn json_format_prints_one_object_per_diagnostic() {
    let dir = lint_dir("json");
    let output = sop(&dir, &["validate", "--format", "json", "lints"]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    let keys = [
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "severity",
        "code",
        "name",
        "message",
        "help",
    ];
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        let object = value.as_object().expect("an object");
        let mut found: Vec<&str> = object.keys().map(String::as_str).collect();
        found.sort_unstable();
        let mut expected = keys;
        expected.sort_unstable();
        assert_eq!(found, expected, "{line}");
        assert!(object["line"].as_u64().unwrap() >= 1, "{line}");
        assert!(
            (object["end_line"].as_u64(), object["end_column"].as_u64())
                > (object["line"].as_u64(), object["column"].as_u64()),
            "the end comes after the start: {line}"
        );
    }
    insta::assert_snapshot!("json", text);
    assert_eq!(
        stderr(&output).trim_end(),
        "checked 5 files: 5 errors, 1 warning"
    );
}

#[test]
fn github_format_prints_workflow_commands() {
    let dir = lint_dir("github");
    let output = sop(&dir, &["validate", "--format", "github", "lints"]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    for line in text.lines() {
        assert!(
            line.starts_with("::error file=lints/") || line.starts_with("::warning file=lints/"),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }
    insta::assert_snapshot!("github", text);
}

#[test]
fn the_sop_library_is_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = yaml_files(&root.join("sops"));
    assert!(!files.is_empty());
    let output = sop(root, &["validate", "sops/"]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "", "no diagnostic is printed");
    assert_eq!(
        stderr(&output).trim_end(),
        format!("checked {} files: 0 errors, 0 warnings", files.len())
    );
}

/// `*.yaml` and `*.yml` files under `dir`, recursively.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(yaml_files(&path));
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            found.push(path);
        }
    }
    found
}

#[test]
fn every_problem_of_every_file_is_reported() {
    let dir = scratch("all-problems");
    write(&dir.join("sops/a.yaml"), TWO_ERRORS_A);
    write(&dir.join("sops/b.yaml"), TWO_ERRORS_B);
    write(&dir.join("sops/c.yaml"), VALID);

    let output = sop(&dir, &["validate", "--format", "json", "sops"]);
    assert_exit(&output, 1);
    let found: Vec<(String, u64, String)> = stdout(&output)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                v["file"].as_str().unwrap().to_owned(),
                v["line"].as_u64().unwrap(),
                v["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("sops/a.yaml", 10, "E012"),
        ("sops/a.yaml", 11, "E011"),
        ("sops/b.yaml", 8, "E027"),
        ("sops/b.yaml", 16, "E016"),
    ];
    let expected: Vec<(String, u64, String)> = expected
        .iter()
        .map(|(f, l, c)| ((*f).to_owned(), *l, (*c).to_owned()))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(
        stderr(&output).trim_end(),
        "checked 3 files: 4 errors, 0 warnings"
    );

    // The human format reports the same four problems, file by file.
    let output = sop(&dir, &["validate", "sops"]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    let locations: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--> "))
        .collect();
    assert_eq!(
        locations,
        [
            "sops/a.yaml:10:11",
            "sops/a.yaml:11:11",
            "sops/b.yaml:8:60",
            "sops/b.yaml:16:16"
        ]
    );
}

#[test]
fn warnings_pass_unless_denied() {
    let dir = scratch("warnings");
    write(&dir.join("warn.yaml"), WARNING_ONLY);

    let output = sop(&dir, &["validate", "warn.yaml"]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("warning[W002]"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        stderr(&output).trim_end(),
        "checked 1 file: 0 errors, 1 warning"
    );

    let output = sop(&dir, &["validate", "--deny", "warnings", "warn.yaml"]);
    assert_exit(&output, 1);
    assert!(stdout(&output).contains("warning[W002]"));

    let output = sop(
        &dir,
        &[
            "validate",
            "--deny",
            "warnings",
            "--format",
            "github",
            "warn.yaml",
        ],
    );
    assert_exit(&output, 1);
    assert!(stdout(&output).starts_with("::warning file=warn.yaml,line=7,col=3,"));
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let dir = scratch("missing");
    write(&dir.join("ok.yaml"), VALID);
    let output = sop(&dir, &["validate", "ok.yaml", "no-such-dir/"]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("no-such-dir"),
        "the message names the path: {}",
        stderr(&output)
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    let dir = scratch("flags");
    write(&dir.join("ok.yaml"), VALID);
    for args in [
        &["validate", "--frobnicate", "ok.yaml"][..],
        &["validate", "--format", "xml", "ok.yaml"],
        &["validate", "--deny", "errors", "ok.yaml"],
        &["valdiate", "ok.yaml"],
        &[],
    ] {
        let output = sop(&dir, args);
        assert_exit(&output, 2);
        let message = stderr(&output);
        assert!(
            message.contains("error:") || message.contains("Usage:"),
            "{args:?}: {message}"
        );
        assert_eq!(stdout(&output), "", "{args:?}");
    }
    let output = sop(&dir, &["validate", "--help"]);
    assert_exit(&output, 0);
}

#[test]
fn standard_input_is_read_for_a_dash() {
    let dir = scratch("stdin");
    let output = sop_in(&dir, &["validate", "-"], Some(VALID.as_bytes()));
    assert_exit(&output, 0);
    assert_eq!(
        stderr(&output).trim_end(),
        "checked 1 file: 0 errors, 0 warnings"
    );

    let output = sop_in(
        &dir,
        &["validate", "--format", "json", "-"],
        Some(TWO_ERRORS_A.as_bytes()),
    );
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines()
            .all(|l| l.starts_with(r#"{"file":"<stdin>","line":1"#)),
        "{text}"
    );

    // Files and standard input together.
    write(&dir.join("warn.yaml"), WARNING_ONLY);
    let output = sop_in(
        &dir,
        &["validate", "warn.yaml", "-"],
        Some(VALID.as_bytes()),
    );
    assert_exit(&output, 0);
    assert_eq!(
        stderr(&output).trim_end(),
        "checked 2 files: 0 errors, 1 warning"
    );
}

#[test]
fn directories_are_searched_recursively_for_yaml_files_only() {
    let dir = scratch("recursive");
    write(&dir.join("library/top.yaml"), VALID);
    write(&dir.join("library/team/nested.yml"), WARNING_ONLY);
    write(
        &dir.join("library/team/deeper/still/deep.yaml"),
        TWO_ERRORS_A,
    );
    // Not SOPs: broken YAML that would be reported if it were read.
    for other in [
        "library/README.md",
        "library/notes.txt",
        "library/team/backup.yaml.bak",
        "library/team/yaml",
        "library/team/sop.json",
    ] {
        write(&dir.join(other), "{ not: [valid\n");
    }
    let output = sop(&dir, &["validate", "--format", "json", "library"]);
    assert_exit(&output, 1);
    let mut files: Vec<String> = stdout(&output)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["file"].as_str().unwrap().to_owned()
        })
        .collect();
    files.dedup();
    assert_eq!(
        files,
        [
            "library/team/deeper/still/deep.yaml",
            "library/team/nested.yml"
        ]
    );
    assert_eq!(
        stderr(&output).trim_end(),
        "checked 3 files: 2 errors, 1 warning"
    );
}

#[test]
fn an_empty_directory_checks_nothing() {
    let dir = scratch("empty");
    std::fs::create_dir_all(dir.join("nothing")).unwrap();
    let output = sop(&dir, &["validate", "nothing"]);
    assert_exit(&output, 0);
    assert_eq!(
        stderr(&output).trim_end(),
        "checked 0 files: 0 errors, 0 warnings"
    );
}

/// The fixture test reads this file's bytes with `parse_sop_bytes` and gets E006; the CLI
/// must too, rather than validating the U+FFFD replacement text it displays.
#[test]

fn a_file_that_is_not_utf8_is_an_error() {
    let dir = scratch("not-utf8");
    let mut bytes = VALID.as_bytes().to_vec();
    let at = VALID.find("Refund\n").unwrap();
    bytes.insert(at, 0xFF);
    write(&dir.join("latin1.yaml"), bytes);
    let output = sop(&dir, &["validate", "--format", "json", "latin1.yaml"]);
    assert_exit(&output, 1);
    assert!(
        stdout(&output).contains(r#""code":"E006""#),
        "{}",
        stdout(&output)
    );
}
