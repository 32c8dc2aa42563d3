//! `sop validate` as a user and CI run it: the built binary, its exit codes, what it prints
//! on stdout (diagnostics) and stderr (the summary), in each output format.
//!
//! Exit codes: 0 when there is no error (and no warning under `--deny warnings`), 1 when
//! there is, 2 for usage and I/O errors, and for paths that hold no SOP file.
//!
//! The binary exists only with the `cli` feature.
#![cfg(feature = "cli")]

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
        "checked 5 files: 3 errors, 2 warnings"
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
        ) && !path.to_string_lossy().ends_with(".test.yaml")
        {
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

/// A directory with no SOP file in it is a usage error, not a pass: the path is probably
/// wrong.
#[test]
fn a_directory_without_sop_files_is_a_usage_error() {
    let dir = scratch("empty");
    std::fs::create_dir_all(dir.join("nothing")).unwrap();
    write(&dir.join("docs/README.md"), "# Not an SOP\n");
    write(&dir.join("docs/sop.json"), "{}\n");
    write(&dir.join("sops/ok.yaml"), VALID);

    let output = sop(&dir, &["validate", "nothing/"]);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output).trim_end(),
        "error: no SOP file (*.yaml, *.yml) under `nothing/`: check the path"
    );
    assert_eq!(stdout(&output), "");

    // Every directory named must hold one, even beside one that does.
    let output = sop(&dir, &["validate", "sops", "docs", "nothing"]);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output).trim_end(),
        "error: no SOP file (*.yaml, *.yml) under `docs`, `nothing`: check the paths"
    );

    // The current directory, by default.
    let output = sop(&dir.join("nothing"), &["validate"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("under `.`"), "{}", stderr(&output));
}

/// When the only SOP files are skipped, the message says so.
#[test]
fn a_directory_whose_sop_files_are_all_skipped_says_so() {
    let dir = scratch("all-skipped");
    write(&dir.join("build/target/copy.yaml"), VALID);
    write(&dir.join("build/.cache/copy.yaml"), VALID);
    let output = sop(&dir, &["validate", "build"]);
    assert_exit(&output, 2);
    let message = stderr(&output);
    assert!(
        message.starts_with("error: no SOP file (*.yaml, *.yml) under `build`: check the path (2 YAML files are there but skipped"),
        "{message}"
    );
}

/// A directory outside any git repository, so that `.gitignore` is seen to work without
/// one; removed when dropped.
struct OutsideGit(PathBuf);

impl OutsideGit {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sopflow-cli-validate-{}-{name}",
            std::process::id()
        ));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        let git = dir.ancestors().find(|d| d.join(".git").exists());
        assert!(
            git.is_none(),
            "{} is inside a git repository",
            dir.display()
        );
        OutsideGit(dir)
    }
}

impl Drop for OutsideGit {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Broken YAML: reported if it is read.
const BROKEN: &str = "{ not: [valid\n";

/// Directories are walked like ripgrep walks them: hidden directories, `target/`, what
/// `.gitignore` names (in a git repository or not) and what `.sopignore` names are skipped.
#[test]
fn ignored_directories_are_skipped() {
    let project = OutsideGit::new("ignored");
    let dir = &project.0;
    write(&dir.join("sops/refund.yaml"), VALID);
    write(&dir.join("sops/team/warn.yml"), WARNING_ONLY);
    // Skipped without being told: hidden files and directories, `target/` at any depth.
    write(&dir.join(".github/workflows/ci.yaml"), BROKEN);
    write(&dir.join("sops/.draft.yaml"), BROKEN);
    write(&dir.join("target/debug/copy.yaml"), BROKEN);
    write(&dir.join("sops/target/copy.yaml"), BROKEN);
    // Skipped as `.gitignore` says, with no `.git` anywhere.
    write(&dir.join(".gitignore"), "/generated/\n*.tmp.yaml\n");
    write(&dir.join("generated/out.yaml"), BROKEN);
    write(&dir.join("sops/scratch.tmp.yaml"), BROKEN);
    // Skipped as `.sopignore` says, which may sit in any directory.
    write(&dir.join(".sopignore"), "tests/fixtures/\n");
    write(&dir.join("tests/fixtures/invalid.yaml"), BROKEN);
    write(&dir.join("sops/team/.sopignore"), "old-*.yaml\n");
    write(&dir.join("sops/team/old-refund.yaml"), BROKEN);
    // Not skipped: a `.sopignore` applies below its own directory only.
    write(&dir.join("tests/other/fixtures/ok.yaml"), VALID);

    let output = sop(dir, &["validate", "--format", "json", "."]);
    assert_exit(&output, 0);
    assert_eq!(
        stderr(&output).trim_end(),
        "checked 3 files: 0 errors, 1 warning"
    );
    let files: Vec<String> = stdout(&output)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["file"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(files, ["./sops/team/warn.yml"]);

    // A file named on the command line is read, skipped or not; the directory named is
    // walked, even `target/` itself.
    let output = sop(
        dir,
        &[
            "validate",
            "--format",
            "json",
            "target/debug/copy.yaml",
            "sops/.draft.yaml",
        ],
    );
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output).trim_end(),
        "checked 2 files: 2 errors, 0 warnings"
    );
    let output = sop(dir, &["validate", "target"]);
    assert_exit(&output, 1);
    assert!(
        stdout(&output).contains("target/debug/copy.yaml"),
        "{}",
        stdout(&output)
    );
}

/// The order of files does not depend on the order the file system lists them in.
#[test]
fn files_are_checked_in_path_order() {
    let dir = scratch("order");
    for name in ["b.yaml", "a/z.yaml", "a.yml", "c/a.yaml", "a/b/c.yaml"] {
        write(&dir.join("lib").join(name), TWO_ERRORS_A);
    }
    let output = sop(&dir, &["validate", "--format", "json", "lib"]);
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
            "lib/a/b/c.yaml",
            "lib/a/z.yaml",
            "lib/a.yml",
            "lib/b.yaml",
            "lib/c/a.yaml"
        ]
    );
}

#[test]
fn a_missing_path_suggests_a_close_name() {
    let dir = scratch("did-you-mean");
    write(&dir.join("sops/ok.yaml"), VALID);
    let output = sop(&dir, &["validate", "sop/"]);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output).trim_end(),
        "error: sop/ does not exist; did you mean sops/?"
    );
    let output = sop(&dir, &["validate", "sops/ko.yaml"]);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output).trim_end(),
        "error: sops/ko.yaml does not exist; did you mean sops/ok.yaml?"
    );
    let output = sop(&dir, &["validate", "procedures"]);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output).trim_end(),
        "error: procedures does not exist"
    );
}

/// Input limits are reported in words with the figures, not as the parser's debug output,
/// and the hint about aliases comes only with the alias limits.
#[test]
fn input_limits_are_reported_in_words() {
    let dir = scratch("limits");
    // More bytes than an SOP may have (64 MiB): a huge comment.
    let mut huge = VALID.as_bytes().to_vec();
    huge.push(b'#');
    huge.resize(64 * 1024 * 1024 + 1, b'x');
    huge.push(b'\n');
    write(&dir.join("huge.yaml"), &huge);
    // More aliases than the parser replays.
    let flood = VALID.replace(
        "end: true",
        &format!(
            "end: true\n    collects: [&f f, {}]",
            vec!["*f"; 60_000].join(", ")
        ),
    );
    write(&dir.join("flood.yaml"), flood);

    let output = sop(
        &dir,
        &["validate", "--format", "json", "huge.yaml", "flood.yaml"],
    );
    assert_exit(&output, 1);
    let diagnostics: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(diagnostics.len(), 2, "{}", stdout(&output));
    let text = |d: &serde_json::Value, key: &str| d[key].as_str().unwrap_or_default().to_owned();
    for d in &diagnostics {
        assert_eq!(text(d, "name"), "input-limit");
        let (message, help) = (text(d, "message"), text(d, "help"));
        for debug in ["{", "}", "Nodes", "Aliases", "Bytes", "_"] {
            assert!(!message.contains(debug), "{message}");
        }
        assert!(message.contains("(the limit"), "{message}");
        assert!(!help.is_empty());
    }
    let (huge, flood) = (&diagnostics[0], &diagnostics[1]);
    assert_eq!(
        text(huge, "message"),
        "this file is 67,108,866 bytes, more than 67,108,864 bytes (the limit, 64 MiB)"
    );
    assert!(!text(huge, "help").contains("alias"));
    assert_eq!(
        text(flood, "message"),
        "this file uses more than 50,000 aliases `*name` (the limit)"
    );
    assert!(text(flood, "help").contains("alias"));

    // The human format says the same.
    let output = sop(&dir, &["validate", "huge.yaml"]);
    assert_exit(&output, 1);
    let human = stdout(&output);
    assert!(
        human.contains("error[E006]: this file is 67,108,866 bytes"),
        "{human}"
    );
    assert!(!human.contains('{'), "{human}");
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

/// Calls between SOPs checked together: the called SOP must be among them, the fields a
/// call maps must exist on its side, and each value must fit the field it goes into, each
/// problem located in the calling SOP with a suggestion. One file alone checks its own
/// side only.
#[test]
fn calls_are_checked_across_the_sops_validated_together() {
    let dir = scratch("calls");
    let patterns = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/patterns");
    let child = std::fs::read_to_string(patterns.join("sub-sop-credit-check.yaml")).unwrap();
    let parent = std::fs::read_to_string(patterns.join("sub-sop.yaml")).unwrap();
    write(&dir.join("sops/credit-check.yaml"), &child);
    write(&dir.join("sops/order.yaml"), &parent);
    assert_exit(&sop(&dir, &["validate", "sops"]), 0);

    // A misspelt field of the called SOP, and a verdict that does not fit a number.
    let broken = parent
        .replace("requested: amount", "requestd: amount")
        .replace("credit_ok: approved", "credit_ok: requested");
    write(&dir.join("sops/order.yaml"), &broken);
    let output = sop(&dir, &["validate", "sops"]);
    assert_exit(&output, 1);
    let out = stdout(&output);
    assert!(
        out.contains("`call.with` of task `credit_check` names `requestd`, which is not a field of SOP `credit-check`"),
        "{out}"
    );
    assert!(out.contains("did you mean `requested`?"), "{out}");
    assert!(
        out.contains("a number value cannot go into a bool field: `requested` of SOP `credit-check` and `credit_ok` of this one do not fit"),
        "{out}"
    );
    assert!(out.contains("sops/order.yaml:24:"), "{out}");

    // The called SOP misspelt: not among the SOPs checked, with a suggestion.
    write(
        &dir.join("sops/order.yaml"),
        parent.replace("sop: credit-check", "sop: credit-chek"),
    );
    let output = sop(&dir, &["validate", "sops"]);
    assert_exit(&output, 1);
    let out = stdout(&output);
    assert!(
        out.contains(
            "task `credit_check` calls SOP `credit-chek`, which is not among the SOPs checked"
        ),
        "{out}"
    );
    assert!(out.contains("did you mean `credit-check`?"), "{out}");
    // Alone, the calling SOP checks only its own side.
    assert_exit(&sop(&dir, &["validate", "sops/order.yaml"]), 0);
}
