//! Scenario files: every `sops/*.test.yaml` passes with the coverage it claims, broken
//! scenario files get located diagnostics, failing scenarios say where and why, and a
//! mutated SOP fails the scenario that proves the edge it changed.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cli_support::TempDir;
use sopflow::diagnostic::{Diagnostic, SourceFile, render_human};
use sopflow::graph::Process;
use sopflow::scenario::{self, Coverage};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn process_of(path: &Path) -> Process {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let loaded = sopflow::load(&path.display().to_string(), &bytes);
    loaded
        .process
        .unwrap_or_else(|| panic!("{} has errors: {:?}", path.display(), loaded.diagnostics))
}

/// Every `sops/*.test.yaml`, sorted, with the SOP beside it.
fn scenario_files() -> Vec<(PathBuf, PathBuf)> {
    let mut files: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(root().join("sops"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_owned();
            let stem = name.strip_suffix(".test.yaml")?;
            Some((path.clone(), path.with_file_name(format!("{stem}.yaml"))))
        })
        .collect();
    files.sort();
    files
}

/// The outcomes of the scenario file at `path` on `process`, which must check without a
/// diagnostic and pass every scenario.
fn passing_outcomes(process: &Process, path: &Path) -> Vec<scenario::ScenarioOutcome> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).unwrap();
    let file = scenario::parse(&name, &text).unwrap_or_else(|e| panic!("{e}"));
    let diagnostics = scenario::check(process, &file);
    assert!(
        diagnostics.is_empty(),
        "{}",
        render_human(&SourceFile::new(&name, text.clone()), &diagnostics, false)
    );
    let outcomes = scenario::run(process, &file);
    for outcome in &outcomes {
        if let Some(failure) = &outcome.failure {
            panic!(
                "{name}: scenario `{}` failed:\n{}",
                outcome.name,
                render_human(
                    &SourceFile::new(&name, text.clone()),
                    &[failure.to_diagnostic()],
                    false
                )
            );
        }
    }
    outcomes
}

/// The edge coverage each SOP's scenarios reach, in percent (rounded down): raise it when
/// scenarios are added, and say in docs/testing.md why an SOP stays below 100.
const EDGE_COVERAGE: &[(&str, u32)] = &[
    ("complaint-resolution", 100),
    ("customer-service-playbook", 100),
    ("customer-service-process", 100),
    ("customer-support-process", 100),
    ("feedback-collection", 100),
    ("inquiry-handling", 100),
    ("ticket-handling", 100),
];

#[test]
fn every_scenario_file_in_sops_passes_with_its_coverage() {
    let files = scenario_files();
    // Every SOP of the library has its scenarios.
    let sops = std::fs::read_dir(root().join("sops"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
        .count();
    assert_eq!(files.len(), sops, "an SOP in sops/ has no NAME.test.yaml");
    let mut report = String::new();
    for (scenarios, sop) in &files {
        let process = process_of(sop);
        let name = scenarios.display().to_string();
        let outcomes = passing_outcomes(&process, scenarios);
        let coverage = Coverage::of(&process, &outcomes);
        report.push_str(&format!(
            "{name}: {} scenarios, steps {}, edges {}, SLA events {}\n",
            outcomes.len(),
            coverage.steps,
            coverage.edges,
            coverage.sla_events
        ));
        let stem = sop.file_stem().unwrap().to_string_lossy().into_owned();
        let claimed = EDGE_COVERAGE
            .iter()
            .find(|(s, _)| *s == stem)
            .map(|(_, p)| *p)
            .unwrap_or_else(|| panic!("add {stem} to EDGE_COVERAGE"));
        // Percentages of small counts: compare reached * 100 with claimed * total exactly.
        assert!(
            coverage.edges.reached * 100 >= claimed as usize * coverage.edges.total,
            "{name}: edges {} below the claimed {claimed}%; untested: {:?}",
            coverage.edges,
            coverage.untaken_edges
        );
    }
    println!("{report}");
}

fn support_process() -> Process {
    process_of(&root().join("sops/customer-support-process.yaml"))
}

/// The diagnostics of a broken scenario file against the customer support SOP, rendered.
fn diagnostics_of(fixture: &str) -> String {
    let path = format!("tests/fixtures/scenarios/{fixture}");
    let text = std::fs::read_to_string(root().join(&path)).unwrap();
    let source = SourceFile::new(&path, text.clone());
    let diagnostics: Vec<Diagnostic> = match scenario::parse(&path, &text) {
        Ok(file) => scenario::check(&support_process(), &file),
        Err(error) => vec![error.to_diagnostic()],
    };
    assert!(!diagnostics.is_empty(), "{fixture} has no diagnostic");
    render_human(&source, &diagnostics, false)
}

#[test]
fn a_misspelled_key_is_located_with_did_you_mean() {
    insta::assert_snapshot!("unknown_key", diagnostics_of("unknown-key.test.yaml"));
}

#[test]
fn names_the_sop_does_not_know_are_located_with_the_nearest() {
    insta::assert_snapshot!("unknown_names", diagnostics_of("unknown-names.test.yaml"));
}

#[test]
fn steps_that_do_not_read_are_located() {
    insta::assert_snapshot!("bad_steps", diagnostics_of("bad-steps.test.yaml"));
}

#[test]
fn a_wait_that_is_not_a_duration_is_located() {
    insta::assert_snapshot!("bad_duration", diagnostics_of("bad-duration.test.yaml"));
}

fn sop_command(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the sop binary runs")
}

/// A scratch directory holding the customer support SOP (its text changed by `edit`) and
/// the scenario file `scenarios` beside it.
fn scratch(name: &str, edit: impl Fn(&str) -> String, scenarios: &str) -> TempDir {
    let dir = TempDir::new(name);
    let sop = std::fs::read_to_string(root().join("sops/customer-support-process.yaml")).unwrap();
    std::fs::write(dir.path("support.yaml"), edit(&sop)).unwrap();
    std::fs::write(dir.path("support.test.yaml"), scenarios).unwrap();
    dir
}

#[test]
fn failing_scenarios_say_where_and_what_was_expected() {
    let scenarios =
        std::fs::read_to_string(root().join("tests/fixtures/scenarios/failing.test.yaml")).unwrap();
    let dir = scratch("failing", str::to_owned, &scenarios);
    let output = sop_command(&dir.0, &["test", "support.test.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    insta::assert_snapshot!("failing_output", text);
}

#[test]
fn failing_scenarios_annotate_their_lines_on_github_and_in_junit() {
    let scenarios =
        std::fs::read_to_string(root().join("tests/fixtures/scenarios/failing.test.yaml")).unwrap();
    let dir = scratch("formats", str::to_owned, &scenarios);
    let output = sop_command(&dir.0, &["test", "--format", "github", "."]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split(",endLine").next().unwrap_or(l))
        .collect();
    assert_eq!(
        lines,
        vec![
            "::error file=./support.test.yaml,line=10,col=27",
            "::error file=./support.test.yaml,line=14,col=9",
            "::error file=./support.test.yaml,line=22,col=18",
            "::error file=./support.test.yaml,line=29,col=22",
            "::error file=./support.test.yaml,line=35,col=25",
        ]
    );
    let output = sop_command(&dir.0, &["test", "--format", "junit", "support.test.yaml"]);
    let xml = String::from_utf8(output.stdout).unwrap();
    let document = roxmltree::Document::parse(&xml).expect("JUnit output is XML");
    let failures = document
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    assert_eq!(failures, 5);
}

/// The mutation an SOP author fears: an `on_overdue` retargeted by mistake. The scenario
/// that proves the edge fails, at its expectation.
#[test]
fn retargeting_an_overdue_edge_fails_the_scenario_that_proves_it() {
    let scenarios =
        std::fs::read_to_string(root().join("sops/customer-support-process.test.yaml")).unwrap();
    let retarget = |sop: &str| {
        let before = "    on_overdue: escalate\n";
        assert_eq!(sop.matches(before).count(), 1, "the SOP has one on_overdue");
        sop.replace(before, "    on_overdue: communicate_solution\n")
    };
    let dir = scratch("mutation", retarget, &scenarios);
    let output = sop_command(&dir.0, &["test", "--format", "json", "support.test.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let expectation = "      - expect: { active: [escalate], breached: [determine_solution] }";
    let line = scenarios
        .lines()
        .position(|l| l == expectation)
        .expect("the scenario of the overdue solution")
        + 1;
    let failed: Vec<(String, u64)> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "scenario" && v["passed"] == false)
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                v["failure"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        vec![(
            "A solution not determined within 2 business days is escalated".to_owned(),
            line as u64
        )]
    );
}

#[test]
fn min_coverage_fails_a_run_below_it_and_charts_grey_the_untested_edges() {
    let scenarios = "
actors: { ana: [support_agent] }
scenarios:
  - name: Receiving only
    start: { as: ana }
    steps:
      - complete: receive
        fields: { customer_name: Ada Lovelace, channel: Email }
";
    let dir = scratch("min-coverage", str::to_owned, scenarios);
    let output = sop_command(&dir.0, &["test", "support.test.yaml"]);
    assert_eq!(output.status.code(), Some(0));
    let output = sop_command(
        &dir.0,
        &[
            "test",
            "support.test.yaml",
            "--min-coverage",
            "50",
            "--coverage-chart",
            "charts",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("error: customer-support: edge coverage 6% is below 50%"),
        "{text}"
    );
    let chart = std::fs::read_to_string(dir.path("charts/customer-support.coverage.mmd")).unwrap();
    assert!(
        chart.contains("stroke:#afb8c1,color:#afb8c1,stroke-dasharray:5 4"),
        "{chart}"
    );
    // Usage errors exit 2.
    let output = sop_command(&dir.0, &["test", "nowhere"]);
    assert_eq!(output.status.code(), Some(2));
}

/// Scenario files beside the pattern fixtures drive what an ops lead writes for the
/// patterns (items named in `item:`, refusals by kind) through `sop test`'s runner.
#[test]
fn pattern_scenarios_pass_with_full_coverage() {
    let dir = root().join("tests/fixtures/patterns");
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".test.yaml").map(str::to_owned)
        })
        .collect();
    stems.sort();
    assert!(
        !stems.is_empty(),
        "no scenario file beside the pattern fixtures"
    );
    for stem in stems {
        let process = process_of(&dir.join(format!("{stem}.yaml")));
        let path = dir.join(format!("{stem}.test.yaml"));
        let name = path.display().to_string();
        let outcomes = passing_outcomes(&process, &path);
        let coverage = Coverage::of(&process, &outcomes);
        assert_eq!(coverage.edges.reached, coverage.edges.total, "{name}");
        assert_eq!(
            coverage.sla_events.reached, coverage.sla_events.total,
            "{name}"
        );
    }
}
