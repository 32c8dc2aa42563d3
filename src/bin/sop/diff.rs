//! `sop diff`: what a revision of an SOP changes, step by step, located in both files.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use sopflow::diagnostic;
use sopflow::model::SopId;
use sopflow::store::BlockingStore;
use sopflow::versions::{Revision, diff};

use crate::EXIT_USAGE;
use crate::sources::collect_sources;

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The old version: an SOP file, or `SOP_ID@VERSION` stored in `--db`
    old: String,
    /// The new version: an SOP file, or `SOP_ID@VERSION` stored in `--db`
    new: String,
    /// Read `SOP_ID@VERSION` arguments from this store (`sqlite:PATH`,
    /// `postgres://…`), where `sop case start` saved every version it ran
    #[arg(long)]
    db: Option<String>,
    /// `human` (grouped by kind, text-only changes last), `json` (one object), or a chart
    /// of the new version with the changes marked: `mermaid`, `dot`, `svg`
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the output to this file instead of standard output
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Lines for people
    Human,
    /// One JSON object: the changes and the mapping of old steps
    Json,
    /// A Mermaid chart of the new version, changes marked
    Mermaid,
    /// A Graphviz DOT chart of the new version, changes marked
    Dot,
    /// An SVG chart of the new version, changes marked, with a legend
    Svg,
}

/// Exit code when both versions are valid and differ in behaviour (like `diff`).
const EXIT_DIFFERENT: u8 = 1;

/// `sop diff OLD NEW`: 0 when nothing that can affect open cases changed, 1 when something
/// did, 2 on errors (an unreadable or invalid version, whose diagnostics are shown as
/// `sop validate` shows them).
pub fn run(args: &DiffArgs) -> ExitCode {
    let usage = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_USAGE)
    };
    let store = match &args.db {
        Some(url) => match BlockingStore::open_existing(url) {
            Ok(store) => Some(store),
            Err(error) => {
                return usage(format!(
                    "cannot open {}: {error}",
                    sopflow::store::url_without_password(url)
                ));
            }
        },
        None => None,
    };
    let load = |argument: &str| -> Result<Revision, ExitCode> {
        let (name, bytes) = read(argument, store.as_ref()).map_err(usage)?;
        Revision::load(&name, &bytes).map_err(|invalid| {
            let color = std::io::stderr().is_terminal();
            eprint!(
                "{}",
                diagnostic::render_human(&invalid.source_file, &invalid.diagnostics, color)
            );
            eprintln!("error: {invalid}");
            ExitCode::from(EXIT_USAGE)
        })
    };
    let (old, new) = match (load(&args.old), load(&args.new)) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let changes = diff(&old.sop, &new.sop);
    // Whether the open cases of the old version have somewhere to go in the new one: the
    // part of the migration plan one file cannot check, shown beside the diff.
    if new.sop.id.value == old.sop.id.value && new.sop.version.value > old.sop.version.value {
        let problems = sopflow::versions::check_migration(&old.process, &new.process);
        if !problems.is_empty() {
            let color = std::io::stderr().is_terminal();
            eprint!(
                "{}",
                diagnostic::render_human(&new.source, &problems, color)
            );
        }
    }
    let text = match args.format {
        Format::Human => changes.render_human(&old.source.name, &new.source.name),
        Format::Json => {
            let record = serde_json::json!({
                "old_file": old.source.name,
                "new_file": new.source.name,
                "diff": changes,
            });
            format!(
                "{}\n",
                serde_json::to_string_pretty(&record).unwrap_or_default()
            )
        }
        Format::Mermaid | Format::Dot | Format::Svg => {
            let format = match args.format {
                Format::Mermaid => sopflow::render::Format::Mermaid,
                Format::Dot => sopflow::render::Format::Dot,
                _ => sopflow::render::Format::Svg,
            };
            let overlay = changes.overlay(&old.sop, &new.sop, &new.process);
            match sopflow::render::render_changes(&new.process, format, &overlay) {
                Ok(chart) => chart,
                Err(error) => return usage(error.to_string()),
            }
        }
    };
    let written = match &args.output {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            if args.format == Format::Human {
                crate::output::human(&text);
            } else {
                crate::output::stdout(&text);
            }
            Ok(())
        }
    };
    if let Err(message) = written {
        return usage(message);
    }
    if changes.has_behaviour_changes() {
        ExitCode::from(EXIT_DIFFERENT)
    } else {
        ExitCode::SUCCESS
    }
}

/// The name and bytes of one version: `ID@VERSION` from the store when `--db` is given,
/// otherwise a file (`-` is standard input).
fn read(argument: &str, store: Option<&BlockingStore>) -> Result<(String, Vec<u8>), String> {
    if let Some((id, version)) = stored_version(argument) {
        if let Some(store) = store {
            let sop = SopId::new(id).map_err(|e| format!("`{argument}`: {e}"))?;
            let source = store
                .sop_source(&sop, version)
                .map_err(|e| format!("`{argument}`: {e}"))?;
            return Ok((argument.to_owned(), source.text.into_bytes()));
        }
        if !Path::new(argument).exists() {
            return Err(format!(
                "{argument} is not a file; to compare versions kept in a store, add `--db URL`"
            ));
        }
    }
    let path = PathBuf::from(argument);
    if path.is_dir() {
        return Err(format!(
            "{argument} is a directory: `sop diff` compares two SOP files"
        ));
    }
    match collect_sources(&[path]) {
        Ok(mut sources) if sources.len() == 1 => Ok(sources.remove(0)),
        Ok(_) => Err(format!("cannot read {argument}")),
        Err(message) => Err(message),
    }
}

/// `customer-support@3` → (`customer-support`, 3).
fn stored_version(argument: &str) -> Option<(&str, u32)> {
    let (id, version) = argument.rsplit_once('@')?;
    let version = version.parse().ok()?;
    (!id.is_empty()).then_some((id, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_versions_read_as_id_and_number() {
        assert_eq!(stored_version("support@3"), Some(("support", 3)));
        assert_eq!(stored_version("sops/support.yaml"), None);
        assert_eq!(stored_version("@3"), None);
        assert_eq!(stored_version("a@b@2"), Some(("a@b", 2)));
    }
}
