//! `sop graph`: draw one SOP as a flowchart.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use sopflow::diagnostic;

use crate::EXIT_USAGE;
use crate::sources::collect_sources;

#[derive(clap::Args)]
pub struct GraphArgs {
    /// The SOP file; `-` reads standard input
    file: PathBuf,
    /// Output format
    #[arg(long, default_value = "mermaid", value_parser = ["mermaid", "dot", "svg"])]
    format: String,
    /// Write the chart to this file instead of standard output
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Draw a heatmap from a JSON file of figures: a value in [0, 1] and a label per step,
    /// a count per edge (see docs/heatmap.md)
    #[arg(long, value_name = "FILE.json")]
    heat: Option<PathBuf>,
}

/// `sop graph`: one SOP as a flowchart, or a heatmap with `--heat`. Exit 1 with the
/// diagnostics on standard error if the SOP has errors (or the heat figures do not fit
/// it), 2 for usage and I/O errors.
pub fn run(args: &GraphArgs) -> ExitCode {
    let (file, format, output) = (
        args.file.as_path(),
        args.format.as_str(),
        args.output.as_deref(),
    );
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
    let heat = match &args.heat {
        None => None,
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) => return usage(format!("cannot read {}: {e}", path.display())),
            };
            match sopflow::render::Heat::from_json(&process, &text) {
                Ok(heat) => Some(heat),
                Err(error) => {
                    eprintln!("error: {}: {error}", path.display());
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let drawn = match &heat {
        Some(heat) => sopflow::render::heatmap(&process, format, heat),
        None => sopflow::render::render(&process, format, None),
    };
    let chart = match drawn {
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
            crate::output::stdout(&chart);
            Ok(())
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => usage(message),
    }
}
