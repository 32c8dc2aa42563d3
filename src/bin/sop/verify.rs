//! `sop case verify`: checks that stored histories are untouched and fit their SOP.
//!
//! Each case is loaded with its hash chain checked (an event changed after it was written
//! breaks the chain there), then replayed against the SOP version it runs on (an event
//! naming a step or token that does not exist or is not active). One line per damaged case
//! names its first broken event and why; the last line sums up. Exit 1 when a case is
//! damaged, otherwise the codes of `sop case`.

use std::fmt::Write as _;

use serde_json::json;
use sopflow::engine::CaseId;
use sopflow::store::{CaseFilter, Processes, StoreError, load_verified};

use super::{Context, Exit, Failure, Outcome, Output};

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
    pub(super) output: Output,
}

/// A case whose history is damaged, or that cannot be checked.
struct Damage {
    case: CaseId,
    /// The first broken event (0: the case's summary row or its SOP, not an event).
    seq: u64,
    reason: String,
}

/// Runs `sop case verify`: exit 1 when a case is damaged, after the report.
pub(super) fn verify(cx: &Context, args: VerifyArgs) -> Outcome {
    check(cx, &args)
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
    cx.print(
        || {
            let damaged: Vec<_> = damaged
                .iter()
                .map(|d| json!({"case": d.case.as_str(), "seq": d.seq, "reason": d.reason}))
                .collect();
            json!({
                "cases": cases.len(),
                "events": events,
                "intact": damaged.is_empty(),
                "damaged": damaged,
                "store": cx.store_name(),
            })
        },
        || {
            let mut out = String::new();
            for d in &damaged {
                if d.seq == 0 {
                    let _ = writeln!(out, "{}: {}", d.case, d.reason);
                } else {
                    let _ = writeln!(out, "{}: damaged at event {}: {}", d.case, d.seq, d.reason);
                }
            }
            let outcome = if damaged.is_empty() {
                "all intact".to_owned()
            } else {
                format!("{} damaged", damaged.len())
            };
            let _ = writeln!(
                out,
                "verified {} {}, {events} {}: {outcome}",
                cases.len(),
                plural(cases.len() as u64, "case", "cases"),
                plural(events, "event", "events"),
            );
            out
        },
    );
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
