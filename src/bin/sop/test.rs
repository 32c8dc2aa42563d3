//! `sop test`: run the scenario files (`NAME.test.yaml`) of SOPs and report their coverage.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use serde_json::json;
use sopflow::diagnostic::{self, Diagnostic, SourceFile};
use sopflow::graph::Process;
use sopflow::scenario::{self, Count, Coverage, ScenarioOutcome};

use crate::EXIT_USAGE;
use crate::sources::{collect_scenario_files, sop_of_scenario_file};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Scenario files (NAME.test.yaml), SOP files (their NAME.test.yaml is run) or directories (searched for *.test.yaml as `sop validate` searches for SOPs)
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Fail when the edge coverage of any SOP is below this percentage
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    min_coverage: Option<u8>,
    /// Write a chart per SOP into this directory, untested edges grey and dashed
    #[arg(long, value_name = "DIR")]
    coverage_chart: Option<PathBuf>,
    /// The format of the coverage charts
    #[arg(long, default_value = "mermaid", value_parser = ["mermaid", "dot", "svg"])]
    chart: String,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// one line per scenario, then failures with the expectation's line, then coverage
    Human,
    /// one JSON object per scenario, then one per SOP with its coverage
    Json,
    /// JUnit XML, one test case per scenario, for CI systems
    Junit,
    /// GitHub Actions annotations on the failing expectations' lines
    Github,
}

/// One scenario file, read, checked and run.
struct FileRun {
    scenarios: SourceFile,
    sop_name: String,
    process: Option<Process>,
    /// Problems of the SOP or the scenario file that kept the scenarios from running.
    problems: Vec<(SourceFile, Vec<Diagnostic>)>,
    outcomes: Vec<ScenarioOutcome>,
    coverage: Option<Coverage>,
}

pub fn run(args: &TestArgs) -> ExitCode {
    let files = match collect_scenario_files(&args.paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let chart_format = match args.chart.parse::<sopflow::render::Format>() {
        Ok(format) => format,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(dir) = &args.coverage_chart
        && let Err(error) = std::fs::create_dir_all(dir)
    {
        eprintln!("error: cannot create {}: {error}", dir.display());
        return ExitCode::from(EXIT_USAGE);
    }
    let runs: Vec<FileRun> = files.iter().map(|file| run_file(file)).collect();

    let mut failed = runs.iter().any(|r| !r.problems.is_empty())
        || runs.iter().flat_map(|r| &r.outcomes).any(|o| !o.passed());
    let mut below = Vec::new();
    if let Some(min) = args.min_coverage {
        for run in &runs {
            if let (Some(process), Some(coverage)) = (&run.process, &run.coverage)
                && coverage.edges.percent() < f64::from(min)
            {
                below.push(format!(
                    "{}: edge coverage {:.0}% is below {min}%",
                    process.id(),
                    coverage.edges.percent()
                ));
            }
        }
    }
    failed |= !below.is_empty();

    if let Some(dir) = &args.coverage_chart {
        for run in &runs {
            let (Some(process), Some(coverage)) = (&run.process, &run.coverage) else {
                continue;
            };
            let chart =
                match sopflow::render::render(process, chart_format, Some(&coverage.highlight())) {
                    Ok(chart) => chart,
                    Err(error) => {
                        eprintln!("error: cannot draw {}: {error}", process.id());
                        return ExitCode::from(EXIT_USAGE);
                    }
                };
            let path = dir.join(format!(
                "{}.coverage.{}",
                process.id(),
                chart_extension(chart_format)
            ));
            if let Err(error) = std::fs::write(&path, chart) {
                eprintln!("error: cannot write {}: {error}", path.display());
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }

    let text = match args.format {
        Format::Human => human(&runs, &below),
        Format::Json => json_lines(&runs),
        Format::Junit => junit(&runs),
        Format::Github => github(&runs),
    };
    if args.format == Format::Human {
        crate::output::human(&text);
    } else {
        crate::output::stdout(&text);
        for line in &below {
            eprintln!("error: {line}");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn chart_extension(format: sopflow::render::Format) -> &'static str {
    match format {
        sopflow::render::Format::Mermaid => "mmd",
        sopflow::render::Format::Dot => "dot",
        sopflow::render::Format::Svg => "svg",
    }
}

fn read(path: &Path) -> Result<(String, Vec<u8>), String> {
    let name = path.display().to_string();
    std::fs::read(path)
        .map(|bytes| (name, bytes))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn run_file(path: &Path) -> FileRun {
    let sop_path = sop_of_scenario_file(path);
    let mut run = FileRun {
        scenarios: SourceFile::new(path.display().to_string(), String::new()),
        sop_name: sop_path.display().to_string(),
        process: None,
        problems: Vec::new(),
        outcomes: Vec::new(),
        coverage: None,
    };
    let lone_problem = |name: &str, message: String, help: &str| {
        (
            SourceFile::new(name, String::new()),
            vec![
                Diagnostic::new(
                    diagnostic::Code::InputLimit,
                    sopflow::model::SourceSpan::at(1, 1),
                    message,
                )
                .with_help(help),
            ],
        )
    };
    let (name, bytes) = match read(path) {
        Ok(read) => read,
        Err(message) => {
            run.problems.push(lone_problem(
                &path.display().to_string(),
                message,
                "check the file",
            ));
            return run;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => {
            run.problems.push(lone_problem(
                &name,
                "the file is not UTF-8 text".to_owned(),
                "save it as UTF-8",
            ));
            return run;
        }
    };
    run.scenarios = SourceFile::new(name.clone(), text);
    let sop = match read(&sop_path) {
        Ok((sop_name, bytes)) => sopflow::load(&sop_name, &bytes),
        Err(_) => {
            run.problems.push((
                run.scenarios.clone(),
                vec![
                    Diagnostic::new(
                        diagnostic::Code::InputLimit,
                        sopflow::model::SourceSpan::at(1, 1),
                        format!("there is no SOP {} beside this scenario file", sop_path.display()),
                    )
                    .with_help("a scenario file NAME.test.yaml tests the SOP NAME.yaml in the same directory"),
                ],
            ));
            return run;
        }
    };
    let Some(process) = sop.process else {
        let errors: Vec<Diagnostic> = sop
            .diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect();
        run.problems.push((sop.source, errors));
        return run;
    };
    let file = match scenario::parse(&name, &run.scenarios.text) {
        Ok(file) => file,
        Err(error) => {
            run.problems
                .push((run.scenarios.clone(), vec![error.to_diagnostic()]));
            run.process = Some(process);
            return run;
        }
    };
    let diagnostics = scenario::check(&process, &file);
    if diagnostics.iter().any(Diagnostic::is_error) {
        run.problems.push((run.scenarios.clone(), diagnostics));
        run.process = Some(process);
        return run;
    }
    run.outcomes = scenario::run(&process, &file);
    run.coverage = Some(Coverage::of(&process, &run.outcomes));
    run.process = Some(process);
    run
}

fn human(runs: &[FileRun], below: &[String]) -> String {
    let color = std::io::stdout().is_terminal();
    let mut out = String::new();
    let (mut passed, mut failed) = (0usize, 0usize);
    for run in runs {
        let title = run
            .process
            .as_ref()
            .map(|p| format!(" ({})", p.title()))
            .unwrap_or_default();
        let _ = writeln!(out, "{}{title}", run.scenarios.name);
        for outcome in &run.outcomes {
            if outcome.passed() {
                passed += 1;
                let _ = writeln!(out, "  ok      {}", outcome.name);
            } else {
                failed += 1;
                let _ = writeln!(out, "  FAILED  {}", outcome.name);
            }
        }
        if !run.problems.is_empty() {
            let _ = writeln!(out, "  not run: the files have errors (below)");
        }
    }
    let failures: Vec<(&FileRun, &ScenarioOutcome)> = runs
        .iter()
        .flat_map(|r| r.outcomes.iter().map(move |o| (r, o)))
        .filter(|(_, o)| !o.passed())
        .collect();
    let with_problems: Vec<&FileRun> = runs.iter().filter(|r| !r.problems.is_empty()).collect();
    if !failures.is_empty() || !with_problems.is_empty() {
        out.push_str("\nfailures:\n");
    }
    for run in with_problems {
        for (source, diagnostics) in &run.problems {
            out.push('\n');
            out.push_str(&diagnostic::render_human(source, diagnostics, color));
        }
    }
    for (run, outcome) in failures {
        if let Some(failure) = &outcome.failure {
            let _ = writeln!(
                out,
                "\n---- {}:{}: {}",
                run.scenarios.name, outcome.span, outcome.name
            );
            out.push_str(&diagnostic::render_human(
                &run.scenarios,
                &[failure.to_diagnostic()],
                color,
            ));
        }
    }
    out.push_str("\ncoverage:\n");
    let mut total = (Count::default(), Count::default(), Count::default());
    for run in runs {
        let (Some(process), Some(coverage)) = (&run.process, &run.coverage) else {
            continue;
        };
        let _ = writeln!(
            out,
            "  {}: steps {}, edges {}, SLA events {}",
            process.id(),
            coverage.steps,
            coverage.edges,
            coverage.sla_events
        );
        for edge in &coverage.untaken_edges {
            let _ = writeln!(out, "    untested edge: {edge}");
        }
        for event in &coverage.missed_sla_events {
            let _ = writeln!(out, "    untested: {event}");
        }
        add(&mut total.0, coverage.steps);
        add(&mut total.1, coverage.edges);
        add(&mut total.2, coverage.sla_events);
    }
    let _ = writeln!(
        out,
        "  overall: steps {}, edges {}, SLA events {}",
        total.0, total.1, total.2
    );
    for line in below {
        let _ = writeln!(out, "error: {line}");
    }
    let failing = failed > 0 || !below.is_empty() || runs.iter().any(|r| !r.problems.is_empty());
    let _ = writeln!(
        out,
        "\ntest result: {}. {passed} passed; {failed} failed",
        if failing { "FAILED" } else { "ok" }
    );
    out
}

fn add(total: &mut Count, count: Count) {
    total.reached += count.reached;
    total.total += count.total;
}

fn count_json(count: Count) -> serde_json::Value {
    json!({ "reached": count.reached, "total": count.total, "percent": count.percent() })
}

fn json_lines(runs: &[FileRun]) -> String {
    let mut out = String::new();
    for run in runs {
        for (source, diagnostics) in &run.problems {
            for d in diagnostics {
                let line =
                    serde_json::to_string(&diagnostic::to_json(source, d)).unwrap_or_default();
                let _ = writeln!(out, "{line}");
            }
        }
        for outcome in &run.outcomes {
            let failure = outcome.failure.as_ref().map(|f| {
                json!({
                    "line": f.span.line,
                    "column": f.span.column,
                    "message": f.message,
                    "expected": f.expected,
                    "found": f.found,
                    "diff": f.diff,
                })
            });
            let line = json!({
                "type": "scenario",
                "file": run.scenarios.name,
                "line": outcome.span.line,
                "name": outcome.name,
                "passed": outcome.passed(),
                "failure": failure,
            });
            let _ = writeln!(out, "{line}");
        }
        if let (Some(process), Some(coverage)) = (&run.process, &run.coverage) {
            let line = json!({
                "type": "coverage",
                "file": run.scenarios.name,
                "sop": process.id().to_string(),
                "steps": count_json(coverage.steps),
                "edges": count_json(coverage.edges),
                "sla_events": count_json(coverage.sla_events),
                "untested_edges": coverage.untaken_edges,
                "untested_sla_events": coverage.missed_sla_events.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "unreached_steps": coverage.unreached_steps.iter().map(ToString::to_string).collect::<Vec<_>>(),
            });
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

fn xml(text: &str) -> String {
    sopflow::render::escape_xml(text)
}

fn junit(runs: &[FileRun]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"sop test\">\n",
    );
    for run in runs {
        let failures = run.outcomes.iter().filter(|o| !o.passed()).count();
        let errors = usize::from(!run.problems.is_empty());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\">",
            xml(&run.scenarios.name),
            run.outcomes.len()
        );
        let class = run
            .process
            .as_ref()
            .map_or_else(|| run.sop_name.clone(), |p| p.id().to_string());
        for (source, diagnostics) in &run.problems {
            let text = diagnostic::render_human(source, diagnostics, false);
            let _ = writeln!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\"><error message=\"the scenarios could not run\">{}</error></testcase>",
                xml(&source.name),
                xml(&class),
                xml(&text)
            );
        }
        for outcome in &run.outcomes {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\"",
                xml(&outcome.name),
                xml(&class),
                xml(&run.scenarios.name),
                outcome.span.line
            );
            match &outcome.failure {
                None => out.push_str("/>\n"),
                Some(failure) => {
                    let text =
                        diagnostic::render_human(&run.scenarios, &[failure.to_diagnostic()], false);
                    let _ = writeln!(
                        out,
                        "><failure message=\"{}:{}: {}\">{}</failure></testcase>",
                        xml(&run.scenarios.name),
                        failure.span,
                        xml(&failure.message),
                        xml(&text)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn github(runs: &[FileRun]) -> String {
    let mut out = String::new();
    for run in runs {
        for (source, diagnostics) in &run.problems {
            for d in diagnostics {
                let _ = writeln!(out, "{}", diagnostic::render_github(source, d));
            }
        }
        for outcome in &run.outcomes {
            if let Some(failure) = &outcome.failure {
                let mut d = failure.to_diagnostic();
                d.message = format!("{}: {}", outcome.name, d.message);
                let _ = writeln!(out, "{}", diagnostic::render_github(&run.scenarios, &d));
            }
        }
    }
    out
}
