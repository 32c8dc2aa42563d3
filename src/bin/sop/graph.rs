//! `sop graph`: draw one SOP as a flowchart.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use sopflow::diagnostic;

use sopflow::graph::Process;
use sopflow::metrics::{HeatBy, Options, heat_from_report};
use sopflow::render::Heat;

use crate::EXIT_USAGE;
use crate::report::{Failure, Gathered, gather};
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
    #[arg(long, value_name = "FILE.json", conflicts_with = "heat_db")]
    heat: Option<PathBuf>,
    /// Draw a heatmap from the cases in this store (`sqlite:PATH`, `postgres://…`): steps
    /// by median time or breach rate, edges by how often cases took them
    #[arg(long, value_name = "URL")]
    heat_db: Option<String>,
    /// What colours the steps of a heatmap from a store: `time` (median time active,
    /// scaled to the slowest step) or `breaches` (share of service levels breached)
    #[arg(long, value_name = "MEASURE", default_value = "time", value_parser = ["time", "breaches"], requires = "heat_db")]
    heat_by: String,
    /// The SOP version whose cases make the heatmap, drawn as the store holds it (default:
    /// the file's version)
    #[arg(long, value_name = "N", requires = "heat_db")]
    sop_version: Option<u32>,
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
    let mut process = process;
    let heat = match (&args.heat, &args.heat_db) {
        (None, Some(db)) => match heat_from_store(&process, db, args) {
            Ok((drawn, heat)) => {
                process = drawn;
                Some(heat)
            }
            Err(failure) => {
                eprintln!("error: {}", crate::output::printable(&failure.message));
                return ExitCode::from(failure.exit);
            }
        },
        (None, None) => None,
        (Some(path), _) => {
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

/// The heatmap of the cases of one SOP version in a store, and the process it is drawn
/// over: the file's own when it is that version, otherwise the version the store holds.
fn heat_from_store(
    file_process: &Process,
    db: &str,
    args: &GraphArgs,
) -> Result<(Process, Heat), Failure> {
    let by: HeatBy = args.heat_by.parse().map_err(Failure::usage)?;
    let version = args.sop_version.unwrap_or(file_process.version());
    let sop = file_process.id().clone();
    let Gathered {
        report,
        mut processes,
    } = gather(db, Some(&sop), |_| Ok(Options::default()))?;
    let Some(figures) = report.versions.iter().find(|v| v.version == version) else {
        let held: Vec<String> = report
            .versions
            .iter()
            .map(|v| v.version.to_string())
            .collect();
        return Err(Failure {
            exit: 1,
            message: if held.is_empty() {
                format!("the store holds no case of SOP `{sop}`, so there is no heat to draw")
            } else {
                format!(
                    "the store holds no case of version {version} of SOP `{sop}`; it has cases of version {}: choose one with `--sop-version`",
                    held.join(", ")
                )
            },
        });
    };
    let process = if args
        .sop_version
        .is_none_or(|asked| asked == file_process.version())
    {
        file_process.clone()
    } else {
        processes.remove(&version).ok_or_else(|| Failure {
            exit: 1,
            message: format!("version {version} of SOP `{sop}` is not in the store"),
        })?
    };
    let heat = heat_from_report(&process, figures, by).map_err(|e| Failure {
        exit: 1,
        message: format!(
            "{e} (the file is not version {version} as the store holds it: pass `--sop-version` to draw the stored one)"
        ),
    })?;
    Ok((process, heat))
}
