//! Following the links between a case and its sub-cases: the engine decides one case at
//! a time, so a call task only asks for its sub-case (`sub_case_requested`), and a closed
//! sub-case only records that its parent has not heard yet. [`follow_links`] does the
//! writes that cross from one case to another.
//!
//! Nothing is lost across two cases, whatever stops between two writes. Each link is
//! written in steps that are each one append, each with a command id derived from the link
//! (so doing a step twice applies it once), and each leaves the case due
//! ([`CaseState::next_due`]) until the last step of the link is written:
//!
//! | link | writes, in order | due until |
//! |---|---|---|
//! | start a sub-case | the sub-case's `case_started` (`start-for:PARENT:TOKEN`), then the parent's `sub_case_started` (`started:CHILD`) | the parent has `sub_case_started` |
//! | report the end | the parent's `sub_case_finished` (`finished:CHILD:SEQ`), then the sub-case's `parent_informed` (`informed:CHILD:SEQ`) | the sub-case has `parent_informed` |
//!
//! A case that is due is claimed by the next [`fire_due_timers`](super::fire_due_timers)
//! round, which every app instance runs, and that round follows its links again.
//!
//! **Architecture invariant:** this module decides nothing about a case: it sends the
//! engine the commands a link calls for and writes what the engine returns.

use chrono::{DateTime, Utc};

use crate::engine::{
    Action, Actor, CaseId, CaseState, CaseStatus, Command, CommandError, ParentLink, SubCaseOutcome,
};
use crate::model::SopId;

use super::CaseStore;
use super::error::{ExecuteError, StoreError};
use super::execute::{Processes, execute_with_retry};

/// The actor id of the commands [`follow_links`] sends.
pub const LINK_ACTOR: &str = "sopflow-link";

/// Most cases one call of [`follow_links`] visits: a chain of sub-cases calling
/// sub-cases is followed this deep; the rest is due and followed by the next round.
const MAX_VISITS: usize = 64;

/// How many times a conflicting write is decided again.
const ATTEMPTS: u32 = 5;

/// One link followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// A call task's sub-case was started.
    Started {
        /// The calling case.
        parent: CaseId,
        /// The sub-case.
        child: CaseId,
        /// The SOP it runs.
        sop: SopId,
        /// The version it runs.
        version: u32,
    },
    /// A parent heard how its sub-case ended.
    Finished {
        /// The calling case.
        parent: CaseId,
        /// The sub-case.
        child: CaseId,
        /// How it ended.
        outcome: SubCaseOutcome,
    },
}

/// What one [`follow_links`] did.
#[derive(Debug, Default)]
pub struct Links {
    /// The links followed, in order.
    pub followed: Vec<Link>,
    /// Cases whose link could not be followed, with why: they stay due, and the next
    /// round of the clock tries again.
    pub failed: Vec<(CaseId, ExecuteError)>,
}

/// Follows every link of `case` still to write, and those of the cases that reaches: starts
/// the sub-cases its call tasks asked for (on the latest stored version of the called
/// SOP), tells its parent how it ended if it is a closed sub-case, and goes on with the
/// sub-cases started and parents told, which may reach a call or close in turn.
///
/// Call it after every command sent to a case (the CLI does); [`fire_due_timers`]
/// calls it for each case it claims, so a link a crash left half written is finished by
/// the next round. A link that fails (the called SOP is not stored, a mapped value does
/// not fit) is in [`Links::failed`] and stays due; nothing is lost or written twice.
///
/// [`fire_due_timers`]: super::fire_due_timers
pub async fn follow_links<S: CaseStore>(
    store: &S,
    processes: &Processes,
    case: &CaseId,
    now: DateTime<Utc>,
) -> Result<Links, StoreError> {
    let mut links = Links::default();
    let mut queue = vec![case.clone()];
    let mut visits = 0;
    while let Some(next) = queue.pop() {
        visits += 1;
        if visits > MAX_VISITS {
            break;
        }
        let state = match store.load_latest(&next).await {
            Ok(latest) => latest.state(),
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let last_at = state.last_event_at().unwrap_or(now).max(now);
        for sub in state.sub_cases_to_start().cloned().collect::<Vec<_>>() {
            match start_sub_case(store, processes, &next, &state, &sub, last_at).await {
                Ok(link) => {
                    queue.push(sub.case.clone());
                    links.followed.push(link);
                }
                Err(e) => links.failed.push((next.clone(), e)),
            }
        }
        if let (Some(parent), Some(_)) = (state.parent(), state.parent_due()) {
            match report_to_parent(store, processes, &next, &state, parent, last_at).await {
                Ok(link) => {
                    queue.push(parent.case.clone());
                    links.followed.push(link);
                }
                Err(e) => links.failed.push((next.clone(), e)),
            }
        }
    }
    Ok(links)
}

/// Starts the sub-case `sub` of `parent`, then records in the parent that it started.
async fn start_sub_case<S: CaseStore>(
    store: &S,
    processes: &Processes,
    parent: &CaseId,
    state: &CaseState,
    sub: &crate::engine::SubCase,
    now: DateTime<Utc>,
) -> Result<Link, ExecuteError> {
    let version =
        latest_version(store, &sub.sop)
            .await?
            .ok_or_else(|| StoreError::CalledSopNotFound {
                case: parent.clone(),
                sop: sub.sop.clone(),
            })?;
    let called = processes.get(store, &sub.sop, version).await?;
    let start = Command::new(
        format!("start-for:{parent}:{}", sub.token),
        link_actor(),
        Action::StartSubCase {
            case: sub.case.clone(),
            parent: ParentLink {
                case: parent.clone(),
                step: sub.step.clone(),
                token: sub.token,
            },
            fields: sub.fields.clone(),
        },
    );
    let started = execute_with_retry(store, &called, &sub.case, start, now, ATTEMPTS).await;
    let version = match started {
        Ok(executed) => executed.state.sop().map_or(version, |(_, v)| v),
        // Started before, by an earlier round that stopped before telling the parent, if
        // the case of that id is this call's sub-case.
        Err(ExecuteError::Refused(
            CommandError::AlreadyStarted { .. } | CommandError::WrongProcess { .. },
        )) => {
            let existing = store.load_latest(&sub.case).await?.state();
            let ours = existing
                .parent()
                .is_some_and(|p| p.case == *parent && p.token == sub.token);
            if !ours {
                return Err(StoreError::SubCaseIdTaken {
                    case: sub.case.clone(),
                    parent: parent.clone(),
                }
                .into());
            }
            existing.sop().map_or(version, |(_, v)| v)
        }
        Err(e) => return Err(e),
    };
    let (sop, parent_version) = state
        .sop()
        .map(|(sop, v)| (sop.clone(), v))
        .ok_or_else(|| StoreError::NotFound {
            case: parent.clone(),
        })?;
    let process = processes.get(store, &sop, parent_version).await?;
    let recorded = Command::new(
        format!("started:{}", sub.case),
        link_actor(),
        Action::SubCaseStarted {
            child: sub.case.clone(),
        },
    );
    execute_with_retry(store, &process, parent, recorded, now, ATTEMPTS).await?;
    Ok(Link::Started {
        parent: parent.clone(),
        child: sub.case.clone(),
        sop: sub.sop.clone(),
        version,
    })
}

/// Tells the parent of the closed or cancelled sub-case `child` how it ended, then records
/// in the sub-case that the parent heard. A parent that no longer waits (its call task was
/// withdrawn, or it is closed) has nothing to hear: the sub-case is marked all the same.
async fn report_to_parent<S: CaseStore>(
    store: &S,
    processes: &Processes,
    child: &CaseId,
    state: &CaseState,
    parent: &ParentLink,
    now: DateTime<Utc>,
) -> Result<Link, ExecuteError> {
    let outcome = match state.status() {
        CaseStatus::Cancelled => SubCaseOutcome::Cancelled,
        _ => SubCaseOutcome::Completed,
    };
    let seq = state.version();
    let parent_state = store.load_latest(&parent.case).await?.state();
    let (sop, version) = parent_state
        .sop()
        .map(|(sop, v)| (sop.clone(), v))
        .ok_or_else(|| StoreError::NotFound {
            case: parent.case.clone(),
        })?;
    let process = processes.get(store, &sop, version).await?;
    let parent_now = parent_state.last_event_at().unwrap_or(now).max(now);
    let finish = Command::new(
        format!("finished:{child}:{seq}"),
        link_actor(),
        Action::FinishSubCase {
            child: child.clone(),
            outcome,
            fields: state.fields().clone(),
        },
    );
    match execute_with_retry(store, &process, &parent.case, finish, parent_now, ATTEMPTS).await {
        Ok(_)
        | Err(ExecuteError::Refused(
            CommandError::NotWaitingForSubCase { .. } | CommandError::CaseNotOpen { .. },
        )) => {}
        Err(e) => return Err(e),
    }
    let (child_sop, child_version) =
        state
            .sop()
            .map(|(sop, v)| (sop.clone(), v))
            .ok_or_else(|| StoreError::NotFound {
                case: child.clone(),
            })?;
    let child_process = processes.get(store, &child_sop, child_version).await?;
    let informed = Command::new(
        format!("informed:{child}:{seq}"),
        link_actor(),
        Action::ParentInformed,
    );
    execute_with_retry(store, &child_process, child, informed, now, ATTEMPTS).await?;
    Ok(Link::Finished {
        parent: parent.case.clone(),
        child: child.clone(),
        outcome,
    })
}

/// The latest stored version of `sop`, if any.
async fn latest_version<S: CaseStore>(store: &S, sop: &SopId) -> Result<Option<u32>, StoreError> {
    Ok(store
        .sop_versions()
        .await?
        .into_iter()
        .filter(|(id, _)| id == sop)
        .map(|(_, version)| version)
        .max())
}

fn link_actor() -> Actor {
    Actor::new(LINK_ACTOR, [])
}
