//! `sop case migrate`: moves the open cases of an SOP onto a newer version of it.
//!
//! The new version's `migrate:` section is checked against the version it migrates from
//! first (every step that can hold work has somewhere to go); with a problem there,
//! nothing moves. Then each open case on an earlier version moves in one append, or stays
//! on its version with the reason. A run stopped halfway is resumed by running it again.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;

use serde_json::json;
use sopflow::diagnostic;
use sopflow::engine::ActorId;
use sopflow::store::{CaseMigration, Processes, StoreError, migrate_open_cases};

use super::{Context, Exit, Failure, Outcome, Output, parse_time};

/// The arguments of `sop case migrate`.
#[derive(clap::Args)]
pub(super) struct MigrateArgs {
    /// The new version of the SOP (a file with a higher `version:` and, where steps
    /// changed, a `migrate:` section)
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
    /// The SOP whose cases move; must be the id in `--to` (a guard against the wrong file)
    #[arg(long, value_name = "ID")]
    sop: Option<String>,
    /// Only report which cases would move and why others would not; write nothing
    #[arg(long)]
    dry_run: bool,
    /// Who is recorded as moving the cases
    #[arg(long = "as", value_name = "ACTOR", default_value = "migration")]
    actor: String,
    /// The time of the move, RFC 3339; default now
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
    #[command(flatten)]
    pub(super) output: Output,
}

/// Runs `sop case migrate`: exit 1 when a case cannot move (after the report), or when the
/// plan has errors (then nothing moves).
pub(super) fn migrate(cx: &Context, args: MigrateArgs) -> Outcome {
    let bytes = std::fs::read(&args.to)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", args.to.display())))?;
    let name = args.to.display().to_string();
    let text = String::from_utf8(bytes.clone())
        .map_err(|e| Failure::usage(format!("{name} is not UTF-8: {e}")))?;
    let loaded = sopflow::load(&name, &bytes);
    let color = std::io::stderr().is_terminal();
    let Some(new) = loaded.process else {
        eprint!(
            "{}",
            diagnostic::render_human(&loaded.source, &loaded.diagnostics, color)
        );
        return Err(Failure::refused(format!("{name} has errors")));
    };
    if let Some(sop) = &args.sop
        && sop != new.id().as_str()
    {
        return Err(Failure::usage(format!(
            "--sop `{sop}`, but {name} is SOP `{}`",
            new.id()
        )));
    }
    let now = match &args.now {
        Some(text) => parse_time("--now", text)?,
        None => chrono::Utc::now(),
    };
    if args.actor.trim().is_empty() {
        return Err(Failure::usage("--as names no actor"));
    }
    let actor = ActorId::new(args.actor.trim());
    let store = cx.open_existing()?;

    // The plan is checked against the version it was written for, when the store has it.
    let from = new
        .migration()
        .map_or(new.version().saturating_sub(1), |plan| plan.from);
    match store.load_process(new.id(), from) {
        Ok(old) => {
            let problems = sopflow::versions::check_migration(&old, &new);
            if !problems.is_empty() {
                eprint!(
                    "{}",
                    diagnostic::render_human(&loaded.source, &problems, color)
                );
            }
            if problems.iter().any(diagnostic::Diagnostic::is_error) {
                return Err(Failure::refused(format!(
                    "{name} cannot take the open cases of version {from}: nothing moved"
                )));
            }
        }
        Err(StoreError::SopNotFound { .. }) => {}
        Err(error) => return Err(cx.store_failure(error)),
    }
    let new = if args.dry_run {
        new
    } else {
        store
            .save_sop(&name, &text)
            .map_err(|e| cx.store_failure(e))?
    };

    let processes = Processes::new();
    let mut lines = String::new();
    let human = matches!(cx.format, crate::output::OutputFormat::Human);
    let run = store
        .block_on(migrate_open_cases(
            store.store(),
            &processes,
            &new,
            &actor,
            now,
            args.dry_run,
            |case, outcome| {
                if !human {
                    return;
                }
                let _ = match outcome {
                    CaseMigration::Moved { from, .. } => writeln!(
                        lines,
                        "{case}: {} v{from} → v{}",
                        if args.dry_run { "would move" } else { "moved" },
                        new.version()
                    ),
                    CaseMigration::Refused { on, reason } => {
                        writeln!(lines, "{case}: stays on v{on}: {reason}")
                    }
                    CaseMigration::AlreadyThere { .. } => Ok(()),
                };
            },
        ))
        .map_err(|e| cx.store_failure(e))?;

    cx.print(
        || {
            let moved: Vec<_> = run
                .moved
                .iter()
                .map(|(case, from)| json!({"case": case.as_str(), "from": from}))
                .collect();
            let refused: Vec<_> = run
                .refused
                .iter()
                .map(|(case, on, reason)| {
                    json!({
                        "case": case.as_str(),
                        "stays_on": on,
                        "kind": reason.kind(),
                        "reason": reason.to_string(),
                    })
                })
                .collect();
            json!({
                "sop": new.id().as_str(),
                "to": new.version(),
                "dry_run": args.dry_run,
                "moved": moved,
                "refused": refused,
                "store": cx.store_name(),
            })
        },
        || {
            let verb = if args.dry_run { "would move" } else { "moved" };
            let _ = writeln!(
                lines,
                "{verb} {} open {} onto {} v{}; {} cannot move",
                run.moved.len(),
                if run.moved.len() == 1 {
                    "case"
                } else {
                    "cases"
                },
                new.id(),
                new.version(),
                run.refused.len()
            );
            std::mem::take(&mut lines)
        },
    );
    if run.refused.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            exit: Exit::Refused,
            message: String::new(),
        })
    }
}
