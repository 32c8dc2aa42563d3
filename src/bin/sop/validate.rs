//! `sop validate`: check SOP files like a compiler.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use sopflow::diagnostic;

use clap::ValueEnum;

use crate::EXIT_USAGE;
use crate::sources::collect_sources;

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Files or directories (searched for *.yaml and *.yml, skipping hidden folders, `target/` and what `.gitignore` or `.sopignore` list); `-` reads standard input
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

pub fn run(args: &ValidateArgs) -> ExitCode {
    let sources = match collect_sources(&args.paths) {
        Ok(sources) => sources,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let color = std::io::stdout().is_terminal();
    let (mut errors, mut warnings) = (0usize, 0usize);
    let mut loaded: Vec<sopflow::Loaded> = sources
        .iter()
        .map(|(name, bytes)| sopflow::load(name, bytes))
        .collect();
    // Calls between SOPs are checked when their files are checked together.
    if sources.len() > 1 {
        let models: Vec<(usize, sopflow::model::Sop)> = sources
            .iter()
            .enumerate()
            .filter_map(|(i, (name, bytes))| {
                sopflow::parse::parse_sop_bytes_all(name, bytes)
                    .ok()
                    .map(|sop| (i, sop))
            })
            .collect();
        let sops: Vec<&sopflow::model::Sop> = models.iter().map(|(_, sop)| sop).collect();
        for (index, problem) in sopflow::graph::check_calls(&sops) {
            loaded[models[index].0].diagnostics.push(problem);
        }
    }
    for loaded in &loaded {
        let (source, diagnostics) = (&loaded.source, &loaded.diagnostics);
        for d in diagnostics {
            if d.is_error() {
                errors += 1;
            } else {
                warnings += 1;
            }
        }
        match args.format {
            Format::Human => {
                crate::output::stdout(&diagnostic::render_human(source, diagnostics, color));
            }
            Format::Json => {
                for d in diagnostics {
                    let json =
                        serde_json::to_string(&diagnostic::to_json(source, d)).unwrap_or_default();
                    crate::output::stdout(&format!("{json}\n"));
                }
            }
            Format::Github => {
                for d in diagnostics {
                    crate::output::stdout(&format!("{}\n", diagnostic::render_github(source, d)));
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
