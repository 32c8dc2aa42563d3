//! `sop case verify`: checks that stored histories are untouched and fit their SOP.
//!
//! Each case is loaded with its hash chain checked (an event changed after it was written
//! breaks the chain there), then replayed against the SOP version it runs on (an event
//! naming a step or token that does not exist or is not active). One line per damaged case
//! names its first broken event and why; the last line sums up. Exit 1 when a case is
//! damaged, otherwise the codes of `sop case`.

use serde_json::json;
use sopflow::engine::CaseId;
use sopflow::store::{CaseFilter, Processes, StoreError, load_verified};

use super::{Context, Exit, Failure, Outcome, Output, OutputFormat};

/// How many cases `--all` lists per page.
const PAGE: u32 = 500;

/// The arguments of `sop case verify`.
#[derive(clap::Args)]
pub(super) struct VerifyArgs {
    /// The cases to check
    #[arg(value_name = "ID", required_unless_present = "all")]
    ids: Vec<String>,
    /// Check every case of the store
    #[arg(long, conflicts_with = "ids")]
    all: bool,
    #[command(flatten)]
    output: Output,
}

/// A case whose history is damaged, or that cannot be checked.
struct Damage {
    case: CaseId,
    /// The first broken event (0: the case's summary row or its SOP, not an event).
    seq: u64,
    reason: String,
}

/// Runs `sop case verify`. Prints its own output in both formats (the caller treats it as
/// human output), so a failure carries an empty message once it has been printed.
pub(super) fn verify(cx: &Context, args: VerifyArgs) -> Outcome {
    let format = args.output.format;
    check(cx, &args).map_err(|failure| {
        if format == OutputFormat::Json && !failure.message.is_empty() {
            println!(
                "{}",
                json!({"error": {
                    "kind": failure.exit.name(),
                    "message": failure.message,
                    "exit": failure.exit as u8,
                    "store": cx.store_name(),
                }})
            );
            Failure {
                exit: failure.exit,
                message: String::new(),
            }
        } else {
            failure
        }
    })
}

fn check(cx: &Context, args: &VerifyArgs) -> Outcome {
    let store = cx.open_existing()?;
    let cases = if args.all {
        let mut cases = Vec::new();
        loop {
            let mut filter = CaseFilter::all().limit(PAGE);
            filter.after = cases.last().cloned();
            let page = store.list(&filter).map_err(|e| cx.store_failure(e))?;
            let done = page.len() < PAGE as usize;
            cases.extend(page.into_iter().map(|summary| summary.case));
            if done {
                break cases;
            }
        }
    } else {
        args.ids.iter().map(CaseId::new).collect()
    };
    let processes = Processes::new();
    let mut events = 0u64;
    let mut damaged = Vec::new();
    for case in &cases {
        match store.block_on(load_verified(store.store(), &processes, case)) {
            Ok((stored, _)) => events += stored.events.len() as u64,
            Err(StoreError::Corrupt { seq, reason, .. }) => {
                events += seq.saturating_sub(1);
                damaged.push(Damage {
                    case: case.clone(),
                    seq,
                    reason,
                });
            }
            Err(error @ (StoreError::SopNotFound { .. } | StoreError::InvalidSop { .. })) => {
                damaged.push(Damage {
                    case: case.clone(),
                    seq: 0,
                    reason: format!("it cannot be checked: {error}"),
                });
            }
            Err(error) => return Err(cx.store_failure(error)),
        }
    }
    match args.output.format {
        OutputFormat::Json => {
            let damaged_json: Vec<_> = damaged
                .iter()
                .map(|d| json!({"case": d.case.as_str(), "seq": d.seq, "reason": d.reason}))
                .collect();
            println!(
                "{}",
                json!({
                    "cases": cases.len(),
                    "events": events,
                    "intact": damaged.is_empty(),
                    "damaged": damaged_json,
                    "store": cx.store_name(),
                })
            );
        }
        OutputFormat::Human => {
            for d in &damaged {
                if d.seq == 0 {
                    println!("{}: {}", d.case, d.reason);
                } else {
                    println!("{}: damaged at event {}: {}", d.case, d.seq, d.reason);
                }
            }
            let outcome = if damaged.is_empty() {
                "all intact".to_owned()
            } else {
                format!("{} damaged", damaged.len())
            };
            println!(
                "verified {} {}, {events} {}: {outcome}",
                cases.len(),
                plural(cases.len() as u64, "case", "cases"),
                plural(events, "event", "events"),
            );
        }
    }
    if damaged.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            exit: Exit::Refused,
            message: String::new(),
        })
    }
}

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}
