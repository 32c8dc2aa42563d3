//! Every broken SOP in `tests/fixtures/invalid/` is reported where its header says.
//!
//! Each fixture starts with a comment line
//!
//! ```yaml
//! # expect: E002 at 4:1 -- what is wrong
//! ```
//!
//! naming the code and the line:column of the FIRST diagnostic `sopflow::check` must
//! report. The test checks that, then records the human rendering (plain text) as an insta
//! snapshot beside the fixture (`NNN-slug.snap`), and all first diagnostics as JSON in
//! `first-diagnostics.snap`. Adding a fixture: write it with its header, run
//! `INSTA_UPDATE=always cargo test --test diagnostics` (or `cargo insta test --accept`), and
//! read the new snapshots before committing them.

use std::path::{Path, PathBuf};

use sopflow::diagnostic::{self, Code, Diagnostic, Severity, SourceFile};

const FIXTURES: &str = "tests/fixtures/invalid";

/// What a fixture's `# expect:` header says.
#[derive(Debug, PartialEq, Eq)]
struct Expectation {
    code: String,
    line: u32,
    column: u32,
}

/// Parses `# expect: E002 at 4:1` (anything after the position is a description).
fn expectation(name: &str, text: &str) -> Expectation {
    let header = text
        .trim_start_matches('\u{feff}')
        .lines()
        .take_while(|line| line.starts_with('#'))
        .find_map(|line| line.strip_prefix("# expect:"))
        .unwrap_or_else(|| panic!("{name}: the leading comments have no `# expect:` line"));
    let mut words = header.split_whitespace();
    let (Some(code), Some("at"), Some(position)) = (words.next(), words.next(), words.next())
    else {
        panic!("{name}: write the header as `# expect: CODE at LINE:COLUMN`, not {header:?}");
    };
    let (line, column) = position
        .split_once(':')
        .and_then(|(l, c)| Some((l.parse().ok()?, c.parse().ok()?)))
        .unwrap_or_else(|| panic!("{name}: `{position}` is not LINE:COLUMN"));
    Expectation {
        code: code.to_owned(),
        line,
        column,
    }
}

/// Reads a fixture like `sop validate` does: as bytes, shown lossily when not UTF-8, and in
/// that case the diagnostic is the UTF-8 error of `parse_sop_bytes`.
fn check_fixture(path: &Path) -> (SourceFile, Vec<Diagnostic>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = format!("{FIXTURES}/{}", path.file_name().unwrap().to_string_lossy());
    match String::from_utf8(bytes) {
        Ok(text) => {
            let source = SourceFile::new(name, text);
            let diagnostics = sopflow::check(&source);
            (source, diagnostics)
        }
        Err(error) => {
            let diagnostics = match sopflow::parse::parse_sop_bytes(&name, error.as_bytes()) {
                Ok(_) => Vec::new(),
                Err(error) => vec![error.to_diagnostic()],
            };
            let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
            (SourceFile::new(name, text), diagnostics)
        }
    }
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURES);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
}

fn severity_of(code: &str) -> Option<Severity> {
    Code::ALL
        .iter()
        .find(|c| c.id() == code)
        .map(|c| c.severity())
}

/// Every fixture, sorted, with its source and diagnostics.
fn checked_fixtures() -> Vec<(String, SourceFile, Vec<Diagnostic>)> {
    let paths = fixtures();
    assert!(paths.len() >= 22, "only {} fixtures", paths.len());
    paths
        .iter()
        .map(|path| {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let (source, diagnostics) = check_fixture(path);
            (stem, source, diagnostics)
        })
        .collect()
}

#[test]
fn invalid_fixtures_report_their_first_problem_where_the_header_says() {
    let mut failures = Vec::new();
    for (stem, source, diagnostics) in checked_fixtures() {
        let expected = expectation(&stem, &source.text);
        let Some(first) = diagnostics.first() else {
            failures.push(format!("{stem}: no diagnostic, expected {expected:?}"));
            continue;
        };
        let actual = Expectation {
            code: first.code.id().to_owned(),
            line: first.span.line,
            column: first.span.column,
        };
        if actual != expected {
            failures.push(format!(
                "{stem}: first diagnostic is {} at {}:{} ({}), the header expects {} at {}:{}",
                actual.code,
                actual.line,
                actual.column,
                first.message,
                expected.code,
                expected.line,
                expected.column
            ));
        }
        // A fixture about a warning-level lint need not contain an error; any other must.
        let severity = severity_of(&expected.code)
            .unwrap_or_else(|| panic!("{stem}: `{}` is not a known code", expected.code));
        if severity == Severity::Error && !diagnostics.iter().any(Diagnostic::is_error) {
            failures.push(format!("{stem}: no error reported"));
        }
    }
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n"));
}

#[test]
fn invalid_fixtures_render_as_recorded() {
    let fixtures = checked_fixtures();
    let mut first_diagnostics = Vec::new();
    for (stem, source, diagnostics) in &fixtures {
        let rendered = diagnostic::render_human(source, diagnostics, false);
        insta::with_settings!({
            snapshot_path => "fixtures/invalid",
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => format!("sop validate {}", source.name),
        }, {
            insta::assert_snapshot!(stem.as_str(), rendered);
        });
        if let Some(first) = diagnostics.first() {
            // In field order, as `sop validate --format json` prints them.
            first_diagnostics.push(diagnostic::to_json(source, first));
        }
    }
    let json = serde_json::to_string_pretty(&first_diagnostics).unwrap();
    insta::with_settings!({
        snapshot_path => "fixtures/invalid",
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => "the first diagnostic of every invalid fixture, as `sop validate --format json` prints it",
    }, {
        insta::assert_snapshot!("first-diagnostics", json);
    });
}

/// What the YAML library, serde or the CEL parser say in their own words. None of it may
/// reach an SOP author: each is retold as a sentence about the SOP.
const LIBRARY_WORDING: &[&str] = &[
    "invalid u32",
    "invalid type",
    "invalid value:",
    "expected sequence start",
    "expected mapping start",
    "expected string scalar",
    "null is not allowed here",
    "mapping values are not allowed",
    "reference to unknown value",
    "while parsing",
    "while scanning",
    "did not find expected",
    "simple key expected",
    "only single yaml document",
    "tabs disallowed",
    "illegal placement",
    "token recognition",
    "mismatched input",
    "extraneous input",
    "syntax error:",
    "expecting {",
];

#[test]
fn no_fixture_output_is_in_library_wording() {
    let mut failures = Vec::new();
    for (stem, source, diagnostics) in checked_fixtures() {
        let rendered = diagnostic::render_human(&source, &diagnostics, false);
        // The output without the quoted source lines, which are the author's own words.
        let said: String = rendered
            .lines()
            .filter(|line| {
                !line
                    .trim_start()
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            })
            .collect::<Vec<_>>()
            .join("\n")
            .to_lowercase();
        for phrase in LIBRARY_WORDING {
            if said.contains(phrase) {
                failures.push(format!("{stem}: `{phrase}` in\n{rendered}"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n"));
}

/// Every error the parser reports comes with a line saying what to do.
#[test]
fn every_parse_error_has_a_help_line() {
    let mut failures = Vec::new();
    for (stem, source, _) in checked_fixtures() {
        if let Err(error) = sopflow::parse::parse_sop(&source.name, &source.text)
            && error.help.is_none()
        {
            failures.push(format!("{stem}: {}", error.message));
        }
    }
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n"));
}

#[test]
fn expectation_headers_parse() {
    let text = "# a comment\n# expect: E002 at 4:1 -- typo\nid: a\n";
    assert_eq!(
        expectation("t", text),
        Expectation {
            code: "E002".to_owned(),
            line: 4,
            column: 1
        }
    );
}

#[test]
fn truly_empty_input_is_missing_everything() {
    // A fixture cannot be empty and carry a header, so the empty cases are checked here.
    for text in ["", " ", "\n\n", "\t\n"] {
        let source = SourceFile::new("empty.yaml", text);
        let diagnostics = sopflow::check(&source);
        let first = diagnostics.first().expect("a diagnostic");
        assert_eq!(first.code.id(), "E003", "{text:?}");
        assert_eq!((first.span.line, first.span.column), (1, 1), "{text:?}");
        // Rendering a span on an empty text must not panic.
        let _ = diagnostic::render_human(&source, &diagnostics, false);
    }
}

#[path = "../benches/support/generate.rs"]
mod generate;

#[test]
fn generated_sops_are_valid() {
    for steps in [1, 2, 8, 9, 10, 40, 200] {
        let text = generate::generate_sop(steps);
        let source = SourceFile::new(format!("generated-{steps}.yaml"), text);
        let diagnostics = sopflow::check(&source);
        assert!(
            diagnostics.iter().all(|d| !d.is_error()),
            "{steps} steps:\n{}",
            diagnostic::render_human(&source, &diagnostics, false)
        );
        let sop = sopflow::parse::parse_sop(&source.name, &source.text).unwrap();
        assert_eq!(sop.steps.len(), steps);
        assert_every_step_is_reachable_and_can_end(&sop);
    }
}

/// The flow rules the compiler will enforce, in miniature: a step goes to `next`, to its
/// decision arms, or to the step after it; approvals also go to `on_reject`, and any step
/// to its `on_overdue`, `on_timeout` and `on_escalate`.
fn assert_every_step_is_reachable_and_can_end(sop: &sopflow::model::Sop) {
    let index_of = |id: &str| {
        sop.steps
            .iter()
            .position(|s| s.id.as_str() == id)
            .unwrap_or_else(|| panic!("no step `{id}`"))
    };
    let mut successors = vec![Vec::new(); sop.steps.len()];
    let mut ends = Vec::new();
    for (i, step) in sop.steps.iter().enumerate() {
        let mut targets: Vec<&str> = Vec::new();
        if let Some(arms) = &step.decide {
            for arm in arms.iter() {
                targets.extend(arm.goto.iter().chain(&arm.otherwise).map(|t| t.as_str()));
            }
        } else if let Some(next) = &step.next {
            targets.push(next.as_str());
        } else if step.end.as_ref().is_some_and(|end| end.value) {
            ends.push(i);
        } else {
            let following = sop
                .steps
                .get(i + 1)
                .expect("the last step must end the SOP");
            targets.push(following.id.as_str());
        }
        if let Some(approval) = &step.approval {
            targets.push(approval.on_reject.as_str());
        }
        for extra in [&step.on_overdue, &step.on_timeout, &step.on_escalate] {
            targets.extend(extra.iter().map(|t| t.as_str()));
        }
        successors[i] = targets.into_iter().map(index_of).collect::<Vec<_>>();
    }
    let mut predecessors = vec![Vec::new(); sop.steps.len()];
    for (from, targets) in successors.iter().enumerate() {
        for &to in targets {
            predecessors[to].push(from);
        }
    }
    let closure = |starts: &[usize], edges: &[Vec<usize>]| {
        let mut seen = vec![false; edges.len()];
        let mut stack = starts.to_vec();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut seen[i], true) {
                stack.extend(&edges[i]);
            }
        }
        seen
    };
    assert!(!ends.is_empty(), "no step ends the SOP");
    let reachable = closure(&[0], &successors);
    let can_end = closure(&ends, &predecessors);
    for (i, step) in sop.steps.iter().enumerate() {
        assert!(reachable[i], "step `{}` is unreachable", step.id.as_str());
        assert!(
            can_end[i],
            "step `{}` cannot reach the end",
            step.id.as_str()
        );
    }
}
