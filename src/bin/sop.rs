//! `sop`: validate SOPs, print their schema. A thin layer over the `sopflow` library.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sopflow::diagnostic;

#[path = "sop/case.rs"]
mod case;

#[derive(Parser)]
#[command(
    name = "sop",
    version,
    about = "Standard operating procedures as executable processes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check SOP files like a compiler: every problem with file:line:column
    Validate(ValidateArgs),
    /// Print the JSON Schema of the SOP format
    Schema,
    /// Draw an SOP as a flowchart: Mermaid (for GitHub markdown), Graphviz DOT or SVG
    Graph {
        /// The SOP file; `-` reads standard input
        file: PathBuf,
        /// Output format
        #[arg(long, default_value = "mermaid", value_parser = ["mermaid", "dot", "svg"])]
        format: String,
        /// Write the chart to this file instead of standard output
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Run cases: start, show, complete, approve, … (kept in `--db`, SQLite by default)
    Case(case::CaseArgs),
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// Files or directories (searched for *.yaml and *.yml); `-` reads standard input
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Treat warnings as errors (`--deny warnings`)
    #[arg(long, value_parser = ["warnings"])]
    deny: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// rustc-style messages with source snippets
    Human,
    /// one JSON object per diagnostic, one per line
    Json,
    /// GitHub Actions workflow commands that annotate pull requests
    Github,
}

/// Exit code for usage and I/O errors.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match cli.command {
        Command::Schema => {
            print!("{}", sopflow::schema::sop_schema_json());
            ExitCode::SUCCESS
        }
        Command::Validate(args) => validate(&args),
        Command::Graph {
            file,
            format,
            output,
        } => graph(&file, &format, output.as_deref()),
        Command::Case(args) => case::run(args),
    }
}

/// `sop graph`: one SOP as a flowchart. Exit 1 with the diagnostics on standard error if
/// the SOP has errors, 2 for usage and I/O errors.
fn graph(file: &Path, format: &str, output: Option<&Path>) -> ExitCode {
    let usage = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_USAGE)
    };
    let format = match format.parse::<sopflow::render::Format>() {
        Ok(format) => format,
        Err(error) => return usage(error.to_string()),
    };
    if file.is_dir() {
        return usage(format!(
            "{} is a directory: `sop graph` draws one SOP file",
            file.display()
        ));
    }
    let (name, bytes) = match collect_sources(&[file.to_path_buf()]) {
        Ok(mut sources) if sources.len() == 1 => sources.remove(0),
        Ok(_) => return usage(format!("cannot read {}", file.display())),
        Err(message) => return usage(message),
    };
    let loaded = sopflow::load(&name, &bytes);
    let Some(process) = loaded.process else {
        let color = std::io::stderr().is_terminal();
        eprint!(
            "{}",
            diagnostic::render_human(&loaded.source, &loaded.diagnostics, color)
        );
        return ExitCode::FAILURE;
    };
    let chart = match sopflow::render::render(&process, format, None) {
        Ok(chart) => chart,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let written = match output {
        Some(path) => std::fs::write(path, &chart)
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(chart.as_bytes())
                .map_err(|e| format!("cannot write to standard output: {e}"))
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => usage(message),
    }
}

fn validate(args: &ValidateArgs) -> ExitCode {
    let sources = match collect_sources(&args.paths) {
        Ok(sources) => sources,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let color = std::io::stdout().is_terminal();
    let (mut errors, mut warnings) = (0usize, 0usize);
    for (name, bytes) in &sources {
        let loaded = sopflow::load(name, bytes);
        let (source, diagnostics) = (&loaded.source, &loaded.diagnostics);
        for d in diagnostics {
            if d.is_error() {
                errors += 1;
            } else {
                warnings += 1;
            }
        }
        match args.format {
            Format::Human => print!("{}", diagnostic::render_human(source, diagnostics, color)),
            Format::Json => {
                for d in diagnostics {
                    let json =
                        serde_json::to_string(&diagnostic::to_json(source, d)).unwrap_or_default();
                    println!("{json}");
                }
            }
            Format::Github => {
                for d in diagnostics {
                    println!("{}", diagnostic::render_github(source, d));
                }
            }
        }
    }
    let files = sources.len();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    eprintln!(
        "checked {}: {}, {}",
        plural(files, "file"),
        plural(errors, "error"),
        plural(warnings, "warning")
    );
    if errors > 0 || (args.deny.is_some() && warnings > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Reads every named file, every `*.yaml`/`*.yml` under named directories (sorted, so output
/// is stable), and standard input for `-`.
fn collect_sources(paths: &[PathBuf]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut files = Vec::new();
    let mut sources = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            sources.push(("<stdin>".to_owned(), bytes));
        } else if path.is_dir() {
            collect_yaml_files(path, &mut files)?;
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(format!("{} does not exist", path.display()));
        }
    }
    for file in files {
        let bytes =
            std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        sources.push((file.display().to_string(), bytes));
    }
    Ok(sources)
}

fn collect_yaml_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_yaml_files(&path, files)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
    Ok(())
}
