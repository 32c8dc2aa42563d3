//! Moving stored open cases onto a newer version of their SOP, one case per append.
//!
//! Each case moves in one append (its `case_migrated` event and summary row together), so
//! a case is never half-moved; a run stopped halfway leaves the cases already moved on the
//! new version and the others on the old one, and running it again moves the rest. A case
//! that changed while it was being decided is decided again on its new state.

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::execute::Processes;
use super::{Append, CaseFilter, CaseStore, StoreError};
use crate::engine::{self, ActorId, CaseId, CaseStatus, CommandId, Event, MigrationError};
use crate::graph::Process;

/// How often a case that changed under its migration is decided again before giving up.
const ATTEMPTS: u32 = 20;

/// How many cases a migration run lists per page.
const PAGE: u32 = 500;

/// How many cases a migration run moves at once.
const IN_FLIGHT: usize = 64;

/// What happened to one case.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseMigration {
    /// The case moved (or, in a dry run, would move) from version `from`; `events` is the
    /// `case_migrated` event appended (or that would be).
    Moved {
        /// The version it ran on.
        from: u32,
        /// The event.
        events: Vec<Event>,
    },
    /// The case cannot move and stays on version `on`, where it still finishes.
    Refused {
        /// The version it stays on.
        on: u32,
        /// Why.
        reason: MigrationError,
    },
    /// The case already runs on the new version (or a later one): nothing to do.
    AlreadyThere {
        /// The version it runs on.
        on: u32,
    },
}

/// The command id of a case's move from `from` to `to`: the same for every attempt, so a
/// move appended by an earlier run that died before it could report is not made twice.
fn command_id(from: u32, to: u32) -> CommandId {
    CommandId::new(format!("migrate-v{from}-v{to}"))
}

/// Moves the open case `case` onto `new` (a newer version of its SOP, saved in the store),
/// by `actor` at `now`; with `dry_run`, only decides whether it would move.
///
/// The case's current version is loaded through `processes`. Fails only on store errors;
/// a case that cannot move is [`CaseMigration::Refused`] and nothing is written.
pub async fn migrate_case<S: CaseStore>(
    store: &S,
    processes: &Processes,
    new: &Process,
    case: &CaseId,
    actor: &ActorId,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<CaseMigration, StoreError> {
    let mut attempt = 0;
    loop {
        let (base, tail, hash) = store.load_latest(case).await?.into_parts();
        let mut state = base.clone();
        for event in &tail {
            state.apply(event);
        }
        let Some((sop, on)) = state.sop().map(|(s, v)| (s.clone(), v)) else {
            return Err(StoreError::NotFound { case: case.clone() });
        };
        if on >= new.version() {
            return Ok(CaseMigration::AlreadyThere { on });
        }
        let old = processes.get(store, &sop, on).await?;
        // The events after the snapshot must fit the version the case runs on, as for any
        // command (a snapshot from before an earlier move is followed by other versions).
        if base.sop().map(|(_, v)| v) == Some(on) {
            engine::check_history_from(&old, base, &tail)
                .map_err(|e| super::execute::history_damaged(case, e))?;
        }
        let id = command_id(on, new.version());
        let events = match engine::migrate(&old, new, &state, id, actor.clone(), now) {
            Ok(events) => events,
            Err(reason) => return Ok(CaseMigration::Refused { on, reason }),
        };
        if dry_run || events.is_empty() {
            return Ok(CaseMigration::Moved { from: on, events });
        }
        let batch = Append::after(new, state, events)?.pinned(hash);
        match store.append(&batch).await {
            Ok(()) => {
                let (events, _) = batch.into_parts();
                return Ok(CaseMigration::Moved { from: on, events });
            }
            Err(StoreError::Conflict { .. }) if attempt + 1 < ATTEMPTS => attempt += 1,
            Err(error) => return Err(error),
        }
    }
}

/// What a migration run did, case by case.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MigrationRun {
    /// Cases that moved (or would, in a dry run), with the version they ran on.
    pub moved: Vec<(CaseId, u32)>,
    /// Cases that cannot move, with the version they stay on and why.
    pub refused: Vec<(CaseId, u32, MigrationError)>,
}

/// Moves every open case of `new`'s SOP that runs on an earlier version onto `new`, a page
/// of cases at a time and up to 64 at once (their appends share transactions), calling
/// `progress` after each case. See [`migrate_case`]; a run stopped halfway is resumed by
/// running it again.
pub async fn migrate_open_cases<S: CaseStore>(
    store: &S,
    processes: &Processes,
    new: &Process,
    actor: &ActorId,
    now: DateTime<Utc>,
    dry_run: bool,
    mut progress: impl FnMut(&CaseId, &CaseMigration),
) -> Result<MigrationRun, StoreError> {
    let mut run = MigrationRun::default();
    let mut after: Option<CaseId> = None;
    loop {
        let mut filter = CaseFilter::all()
            .sop(new.id().clone())
            .status(CaseStatus::Open)
            .limit(PAGE);
        filter.after = after.clone();
        let page = store.list(&filter).await?;
        let done = page.len() < PAGE as usize;
        let due: Vec<&CaseId> = page
            .iter()
            .filter(|summary| summary.sop_version < new.version())
            .map(|summary| &summary.case)
            .collect();
        // A chunk of cases at once: their appends arrive together and share a transaction
        // (group commit), while each case still moves in its own append.
        for chunk in due.chunks(IN_FLIGHT) {
            let outcomes = join_all(
                chunk
                    .iter()
                    .map(|case| migrate_case(store, processes, new, case, actor, now, dry_run)),
            )
            .await;
            for (case, outcome) in chunk.iter().zip(outcomes) {
                let outcome = outcome?;
                progress(case, &outcome);
                match outcome {
                    CaseMigration::Moved { from, .. } => run.moved.push(((*case).clone(), from)),
                    CaseMigration::Refused { on, reason } => {
                        run.refused.push(((*case).clone(), on, reason));
                    }
                    CaseMigration::AlreadyThere { .. } => {}
                }
            }
        }
        after = page.last().map(|s| s.case.clone());
        if done {
            return Ok(run);
        }
    }
}
