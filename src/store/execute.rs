//! Engine and store together: load → decide → append, retries, and firing due timers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use std::ops::RangeInclusive;

use crate::engine::{self, Action, CaseId, CaseState, Command, CommandId, Event, HistoryError};
use crate::graph::Process;
use crate::model::SopId;

use super::batch::Append;
use super::codec::Hash;
use super::error::{ExecuteError, StoreError};
use super::{CaseStore, StoredCase, TimerClaim};

/// The actor id of the `tick` commands [`fire_due_timers`] sends.
pub const TIMER_ACTOR: &str = "sopflow-timer";

/// What a command did to a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// The events the command caused and the store now holds. For a command whose id the
    /// case had already applied, the events it caused then.
    pub events: Vec<Event>,
    /// The case's state after them.
    pub state: CaseState,
    /// Whether the command had been applied before (a repeated command id): nothing new
    /// was written.
    pub duplicate: bool,
    /// How many version conflicts were met (and retried) on the way.
    pub conflicts: u32,
}

/// Sends `command` to case `case` running on `process` at `now`: loads the case (a case
/// with no event starts empty), decides the command with [`engine::handle`] and appends the
/// events with the version it loaded. Returns the events and the new state.
///
/// The case is read from its latest snapshot and the events after it
/// ([`CaseStore::load_latest`]), at most 99 events, not its whole history; the snapshot
/// does not grow with the case's age either, since the state keeps only the ids of recent
/// commands ([`CaseState::has_applied`]). Those events are checked against `process` first
/// ([`engine::check_history_from`]): an event that does not fit it (a step or token that
/// does not exist or is not active) is [`StoreError::Corrupt`], never a case stuck on it.
/// The append is pinned to the stored hash of the last event loaded.
///
/// A command whose id the case already applied writes nothing and returns its earlier
/// events (`duplicate`), however old it is: a recent one is known to the state, an older
/// one to the store ([`CaseStore::command_outcome`]), which is asked when the engine
/// refuses the command or finds nothing to do, and which refuses to append a command it
/// recorded before ([`StoreError::AlreadyApplied`]). A command the engine refuses is
/// [`ExecuteError::Refused`]. If someone appended in between, the result is a
/// [`StoreError::Conflict`] and nothing is written: call again, or use
/// [`execute_with_retry`]. [`CaseCache`](super::CaseCache)
/// keeps the states of recently used cases between commands, and [`execute_on`] decides on
/// a state the caller holds.
pub async fn execute<S: CaseStore>(
    store: &S,
    process: &Process,
    case: &CaseId,
    command: Command,
    now: DateTime<Utc>,
) -> Result<Executed, ExecuteError> {
    check_start(case, &command)?;
    let held = load_checked(store, process, case).await?;
    execute_held(store, process, case, held, command, now)
        .await
        .map(|(executed, _)| executed)
        .map_err(|(error, _)| error)
}

/// A case's state as loaded and checked, with the stored hash of its last event.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub state: CaseState,
    pub hash: Hash,
    /// The events after the snapshot the state was loaded from, when just loaded.
    pub tail: Vec<Event>,
}

/// Refuses a start command sent to another case than it opens.
pub(crate) fn check_start(case: &CaseId, command: &Command) -> Result<(), ExecuteError> {
    if let Action::Start { case: started, .. } | Action::StartSubCase { case: started, .. } =
        &command.action
        && started != case
    {
        return Err(StoreError::InvalidBatch {
            case: case.clone(),
            reason: format!("the start command opens case `{started}`"),
        }
        .into());
    }
    Ok(())
}

/// Loads a case from its latest snapshot and checks the events after it against
/// `process`; a case with no event is empty.
pub(crate) async fn load_checked<S: CaseStore>(
    store: &S,
    process: &Process,
    case: &CaseId,
) -> Result<Held, StoreError> {
    let (base, tail, hash) = match store.load_latest(case).await {
        Ok(latest) => latest.into_parts(),
        Err(StoreError::NotFound { .. }) => (CaseState::new(), Vec::new(), super::codec::GENESIS),
        Err(e) => return Err(e),
    };
    // A case on another SOP version is refused by `engine::handle`, as a caller's mistake
    // rather than damage.
    let runs_on_process =
        |state: &CaseState| state.sop() == Some((process.id(), process.version()));
    let state = if runs_on_process(&base) || (base.version() == 0 && starts_on(&tail, process)) {
        engine::check_history_from(process, base, &tail).map_err(|e| history_damaged(case, e))?
    } else {
        let mut state = base;
        for event in &tail {
            state.apply(event);
        }
        state
    };
    Ok(Held { state, hash, tail })
}

fn starts_on(events: &[Event], process: &Process) -> bool {
    matches!(events.first().map(|e| &e.kind), Some(engine::EventKind::CaseStarted { sop, version, .. })
        if sop == process.id() && *version == process.version())
}

/// Decides `command` on a held state and appends its events pinned to the held hash.
/// Returns what happened and the state and hash to hold next (the held ones when nothing
/// was appended), or the error with the held state when it still holds (the command was
/// refused).
pub(crate) async fn execute_held<S: CaseStore>(
    store: &S,
    process: &Process,
    case: &CaseId,
    held: Held,
    command: Command,
    now: DateTime<Utc>,
) -> Result<(Executed, Option<Held>), (ExecuteError, Option<Held>)> {
    let Held { state, hash, tail } = held;
    let id = command.id.clone();
    let keep = |state: CaseState| Held {
        state,
        hash,
        tail: Vec::new(),
    };
    if let Some(seqs) = state.outcome_of(&id) {
        let earlier = match events_of(store, case, seqs, &tail).await {
            Ok(earlier) => earlier,
            Err(e) => return Err((e.into(), None)),
        };
        return Ok((repeated(earlier, state.clone()), Some(keep(state))));
    }
    let new_events = match engine::handle(process, &state, command, now) {
        Ok(events) => events,
        Err(refused) => {
            // The state remembers recent commands only: an older repeat may be refused
            // where it once applied, and is answered as the repeat it is.
            return match applied_before(store, case, &id, &tail).await {
                Ok(Some(earlier)) => Ok((repeated(earlier, state.clone()), Some(keep(state)))),
                Ok(None) => Err((refused.into(), Some(keep(state)))),
                Err(e) => Err((e.into(), Some(keep(state)))),
            };
        }
    };
    if new_events.is_empty() {
        let executed = match applied_before(store, case, &id, &tail).await {
            Ok(Some(earlier)) => repeated(earlier, state.clone()),
            Ok(None) => Executed {
                events: new_events,
                state: state.clone(),
                duplicate: false,
                conflicts: 0,
            },
            Err(e) => return Err((e.into(), Some(keep(state)))),
        };
        return Ok((executed, Some(keep(state))));
    }
    // The state goes into the batch by value: a copy kept for the rare refusal below
    // would make every append copy the case's records.
    let batch = Append::after(process, state, new_events)
        .map_err(|e| (e.into(), None))?
        .pinned(hash);
    match store.append(&batch).await {
        Ok(()) => {}
        Err(StoreError::AlreadyApplied { .. }) => {
            // The store refused a command it applied long ago: answer with its events,
            // and the case as stored.
            let answer = async {
                let held = load_checked(store, process, case).await?;
                let earlier = applied_before(store, case, &id, &held.tail).await?;
                Ok::<_, StoreError>((earlier, held))
            };
            return match answer.await {
                Ok((Some(earlier), held)) => {
                    let state = held.state.clone();
                    Ok((repeated(earlier, state), Some(keep_loaded(held))))
                }
                Ok((None, _)) => Err((
                    StoreError::AlreadyApplied {
                        case: case.clone(),
                        command: id,
                    }
                    .into(),
                    None,
                )),
                Err(e) => Err((e.into(), None)),
            };
        }
        Err(e) => return Err((e.into(), None)),
    }
    let hash = super::codec::chain_all(hash, batch.encoded())
        .last()
        .and_then(|last| super::codec::from_hex(last))
        .unwrap_or(hash);
    let (events, state) = batch.into_parts();
    let next = Held {
        state: state.clone(),
        hash,
        tail: Vec::new(),
    };
    Ok((
        Executed {
            events,
            state,
            duplicate: false,
            conflicts: 0,
        },
        Some(next),
    ))
}

/// A state just loaded, held without the events it was loaded with.
fn keep_loaded(held: Held) -> Held {
    Held {
        tail: Vec::new(),
        ..held
    }
}

/// The answer to a repeated command: its earlier events, nothing written.
fn repeated(events: Vec<Event>, state: CaseState) -> Executed {
    Executed {
        events,
        state,
        duplicate: true,
        conflicts: 0,
    }
}

/// The earlier events of command `id` if the store says case `case` applied it.
async fn applied_before<S: CaseStore>(
    store: &S,
    case: &CaseId,
    id: &CommandId,
    tail: &[Event],
) -> Result<Option<Vec<Event>>, StoreError> {
    match store.command_outcome(case, id).await? {
        Some(seqs) => events_of(store, case, seqs, tail).await.map(Some),
        None => Ok(None),
    }
}

/// The events `seqs` of case `case`: from `tail` (the events just loaded) when they are
/// there, else read from the store.
async fn events_of<S: CaseStore>(
    store: &S,
    case: &CaseId,
    seqs: RangeInclusive<u64>,
    tail: &[Event],
) -> Result<Vec<Event>, StoreError> {
    if tail.first().is_some_and(|e| e.seq <= *seqs.start()) {
        return Ok(tail
            .iter()
            .filter(|e| seqs.contains(&e.seq))
            .cloned()
            .collect());
    }
    Ok(store
        .load(case)
        .await?
        .events
        .into_iter()
        .filter(|e| seqs.contains(&e.seq))
        .collect())
}

/// Decides `command` on `state`, a state of case `case` the caller already holds (from an
/// earlier [`Executed::state`] or a load), and appends the events only if the store still
/// holds exactly `state.version()` events: nothing is loaded first.
///
/// A store that moved on is a [`StoreError::Conflict`] and nothing is written: load the
/// case again (or use [`execute`]). The caller vouches that `state` is the fold of the
/// case's stored events; the store checks only the version, and [`Append`] checks that the
/// new events fit the process after `state`. A command `state` already applied comes back
/// as a duplicate with its earlier events, read from the store.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// use chrono::{TimeZone, Utc};
/// use sopflow::engine::{Action, Actor, CaseId, CaseState, Command};
/// use sopflow::model::{RoleId, StepId};
/// use sopflow::store::{CaseStore, MemoryStore, StoreError, execute_on, ExecuteError};
///
/// let store = MemoryStore::new();
/// let process = store.save_sop("hello.yaml", "
/// id: hello
/// version: 1
/// title: Say hello
/// department: Customer Service
/// roles: { agent: Support team member }
/// steps:
///   - { id: greet, title: Greet the customer, role: agent, end: true }
/// ").await?;
/// let ana = Actor::new("ana", [RoleId::from_static("agent")]);
/// let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
/// let case = CaseId::from("T-1");
/// let start = Command::new("c1", ana.clone(), Action::Start { case: case.clone(), fields: Default::default() });
/// let started = execute_on(&store, &process, &case, &CaseState::new(), start, now).await?;
/// let greet = |id: &str| Command::new(id, ana.clone(), Action::Complete { step: StepId::from_static("greet"), fields: Default::default(), item: None });
/// let done = execute_on(&store, &process, &case, &started.state, greet("c2"), now).await?;
/// assert_eq!(done.state.version(), 4); // step_completed, case_closed
/// // The state held before `c2` is stale now: nothing is written.
/// let stale = execute_on(&store, &process, &case, &started.state, greet("c3"), now).await;
/// assert!(matches!(stale, Err(ExecuteError::Store(StoreError::Conflict { expected: 2, actual: 4, .. }))));
/// # Ok::<_, Box<dyn std::error::Error>>(()) })?;
/// # Ok(()) }
/// ```
pub async fn execute_on<S: CaseStore>(
    store: &S,
    process: &Process,
    case: &CaseId,
    state: &CaseState,
    command: Command,
    now: DateTime<Utc>,
) -> Result<Executed, ExecuteError> {
    check_start(case, &command)?;
    if let Some(started) = state.case()
        && started != case
    {
        return Err(StoreError::InvalidBatch {
            case: case.clone(),
            reason: format!("the state given is the state of case `{started}`"),
        }
        .into());
    }
    let id = command.id.clone();
    if let Some(seqs) = state.outcome_of(&id) {
        let earlier = events_of(store, case, seqs, &[]).await?;
        return Ok(repeated(earlier, state.clone()));
    }
    let new_events = match engine::handle(process, state, command, now) {
        Ok(events) => events,
        Err(refused) => {
            return match applied_before(store, case, &id, &[]).await? {
                Some(earlier) => Ok(repeated(earlier, state.clone())),
                None => Err(refused.into()),
            };
        }
    };
    if new_events.is_empty() {
        return Ok(match applied_before(store, case, &id, &[]).await? {
            Some(earlier) => repeated(earlier, state.clone()),
            None => Executed {
                events: new_events,
                state: state.clone(),
                duplicate: false,
                conflicts: 0,
            },
        });
    }
    let batch = Append::new(process, state, new_events)?;
    match store.append(&batch).await {
        Ok(()) => {}
        Err(StoreError::AlreadyApplied {
            case: refused_case,
            command,
        }) => {
            return match applied_before(store, case, &id, &[]).await? {
                Some(earlier) => Ok(repeated(earlier, state.clone())),
                None => Err(StoreError::AlreadyApplied {
                    case: refused_case,
                    command,
                }
                .into()),
            };
        }
        Err(e) => return Err(e.into()),
    }
    let (events, state) = batch.into_parts();
    Ok(Executed {
        events,
        state,
        duplicate: false,
        conflicts: 0,
    })
}

/// [`execute`], retried up to `attempts` times in all while it meets version conflicts or a
/// busy database ([`ExecuteError::is_retryable`]).
///
/// Each retry loads the case again and decides the command again on the new state, so a
/// command that no longer fits is refused then, and one that another sender already
/// applied (same command id) comes back as a duplicate. `Executed::conflicts` counts the
/// conflicts met; after the last attempt the conflict is returned.
pub async fn execute_with_retry<S: CaseStore>(
    store: &S,
    process: &Process,
    case: &CaseId,
    command: Command,
    now: DateTime<Utc>,
    attempts: u32,
) -> Result<Executed, ExecuteError> {
    retried(attempts, || {
        execute(store, process, case, command.clone(), now)
    })
    .await
}

/// Runs `attempt` until it succeeds, fails for good, or has met `attempts` retryable
/// failures ([`ExecuteError::is_retryable`]); the result counts the conflicts met.
pub(crate) async fn retried<F, Fut>(attempts: u32, mut attempt: F) -> Result<Executed, ExecuteError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Executed, ExecuteError>>,
{
    let mut conflicts = 0;
    loop {
        match attempt().await {
            Ok(mut executed) => {
                executed.conflicts = conflicts;
                return Ok(executed);
            }
            Err(e) if e.is_retryable() && conflicts + 1 < attempts.max(1) => {
                conflicts += 1;
                tokio::task::yield_now().await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A history that does not fit its process, reported as the store reports damage.
pub(crate) fn history_damaged(case: &CaseId, error: HistoryError) -> StoreError {
    StoreError::Corrupt {
        case: case.clone(),
        seq: error.seq,
        reason: format!(
            "`{}` does not fit the SOP version the case runs on: {}",
            error.event, error.problem
        ),
    }
}

/// Loads a case and checks it whole: the store's hash chain ([`CaseStore::load`]), then
/// every event against the SOP version the case ran on when it happened
/// ([`engine::check_history_across`]: a migrated case ran on several),
/// compiled through `processes`. Returns the case and its process.
///
/// Fails with [`StoreError::Corrupt`] naming the first event that was changed after it was
/// written or that does not fit the process, and with [`StoreError::NotFound`] or
/// [`StoreError::SopNotFound`] when the case or its SOP version is not stored.
pub async fn load_verified<S: CaseStore>(
    store: &S,
    processes: &Processes,
    case: &CaseId,
) -> Result<(StoredCase, Arc<Process>), StoreError> {
    let stored = store.load(case).await?;
    let Some((sop, version)) = stored.state.sop() else {
        return Err(StoreError::Corrupt {
            case: case.clone(),
            seq: 1,
            reason: "the case does not start with `case_started`".to_owned(),
        });
    };
    let process = processes.get(store, sop, version).await?;
    // A migrated case ran on several versions: each event is checked against its own.
    let mut ran_on = Vec::new();
    for earlier in engine::versions_of(&stored.events) {
        if earlier != version && !ran_on.iter().any(|(v, _)| *v == earlier) {
            ran_on.push((earlier, processes.get(store, sop, earlier).await?));
        }
    }
    let process_of = |v: u32| {
        if v == version {
            Some(&*process)
        } else {
            ran_on.iter().find(|(e, _)| *e == v).map(|(_, p)| &**p)
        }
    };
    engine::check_history_across(process_of, &stored.events)
        .map_err(|e| history_damaged(case, e))?;
    Ok((stored, process))
}

/// Compiled processes by SOP id and version, loaded from a store once and shared.
#[derive(Debug, Default)]
pub struct Processes {
    cache: Mutex<HashMap<(SopId, u32), Arc<Process>>>,
}

impl Processes {
    /// An empty cache.
    pub fn new() -> Processes {
        Processes::default()
    }

    /// Adds a process compiled elsewhere (as returned by `save_sop`).
    pub fn insert(&self, process: Process) -> Arc<Process> {
        let key = (process.id().clone(), process.version());
        let process = Arc::new(process);
        self.lock().insert(key, Arc::clone(&process));
        process
    }

    /// The process of an SOP version, loading and compiling it from `store` the first time.
    pub async fn get<S: CaseStore>(
        &self,
        store: &S,
        sop: &SopId,
        version: u32,
    ) -> Result<Arc<Process>, StoreError> {
        let key = (sop.clone(), version);
        if let Some(process) = self.lock().get(&key) {
            return Ok(Arc::clone(process));
        }
        let process = Arc::new(store.load_process(sop, version).await?);
        Ok(Arc::clone(self.lock().entry(key).or_insert(process)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(SopId, u32), Arc<Process>>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What one [`fire_due_timers`] round did.
#[derive(Debug, Default)]
pub struct TimerRun {
    /// Cases whose timers fired, with the events that caused.
    pub fired: Vec<(CaseId, Vec<Event>)>,
    /// Claimed cases where nothing was due after all (another worker was quicker): their
    /// claims were released.
    pub idle: Vec<CaseId>,
    /// Cases whose tick failed, or a link of which could not be followed, with why; their
    /// claims were released, and they stay due.
    pub failed: Vec<(CaseId, ExecuteError)>,
    /// Links between cases followed after the ticks ([`follow_links`]): sub-cases
    /// started, parents told how their sub-cases ended.
    ///
    /// [`follow_links`]: super::follow_links
    pub linked: Vec<super::Link>,
}

/// One round of the clock: claims up to `limit` cases whose timers are due at `now` for
/// `owner` (a lease of `lease`), sends each a `tick` ([`TimerClaim::tick_command`]) and
/// releases the claims that led to no append, then follows the links of each case to its
/// sub-cases and parent ([`follow_links`](super::follow_links)).
///
/// Run it periodically from every app instance: claims keep two instances off the same
/// case, and the tick's command id makes a timer fire once even if a lease expired.
pub async fn fire_due_timers<S: CaseStore>(
    store: &S,
    processes: &Processes,
    owner: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: u32,
) -> Result<TimerRun, StoreError> {
    let claims = store.claim_timers(now, owner, lease, limit).await?;
    let mut run = TimerRun::default();
    for claim in claims {
        let outcome = match processes.get(store, &claim.sop, claim.sop_version).await {
            Ok(process) => tick(store, &process, &claim, now).await,
            Err(e) => Err(e.into()),
        };
        // The tick's state tells whether a link is left to follow; only a failed tick
        // leaves it unknown, and then the case is read again to find out.
        let has_links_due = match &outcome {
            Ok(executed) => executed.state.has_links_due(),
            Err(_) => true,
        };
        match outcome {
            Ok(executed) if !executed.events.is_empty() && !executed.duplicate => {
                run.fired.push((claim.case.clone(), executed.events));
            }
            Ok(_) => {
                store.release_timer(&claim).await?;
                run.idle.push(claim.case.clone());
            }
            Err(e) => {
                store.release_timer(&claim).await?;
                run.failed.push((claim.case.clone(), e));
            }
        }
        // A link a crash left half written keeps its case due: finish it here.
        if !has_links_due {
            continue;
        }
        match super::follow_links(store, processes, &claim.case, now).await {
            Ok(links) => {
                run.linked.extend(links.followed);
                run.failed.extend(links.failed);
            }
            Err(e) => run.failed.push((claim.case, e.into())),
        }
    }
    Ok(run)
}

async fn tick<S: CaseStore>(
    store: &S,
    process: &Process,
    claim: &TimerClaim,
    now: DateTime<Utc>,
) -> Result<Executed, ExecuteError> {
    execute_with_retry(store, process, &claim.case, claim.tick_command(), now, 5).await
}

/// What one round of [`deliver_notifications`] did.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Notifications sent and acknowledged, by id.
    pub delivered: Vec<u64>,
    /// Notifications the sender failed to send, with its error: they stay pending and
    /// come back in the next round.
    pub failed: Vec<(u64, String)>,
}

/// One round of delivery: hands up to `limit` pending notifications, oldest first, to
/// `send` (an e-mail or chat client), and acknowledges each one it sent.
///
/// At least once: a notification is acknowledged only after `send` returned `Ok`, so one
/// whose sending failed, or whose acknowledgement was lost to a crash, is sent again in a
/// later round. Recipients may see a message twice, never not at all; `id` is stable, so a
/// sender that keeps the ids it sent can drop the repeats.
pub async fn deliver_notifications<S, F, E>(
    store: &S,
    now: DateTime<Utc>,
    limit: u32,
    mut send: F,
) -> Result<Delivery, StoreError>
where
    S: CaseStore,
    F: FnMut(&super::StoredNotification) -> Result<(), E>,
    E: std::fmt::Display,
{
    let mut delivery = Delivery::default();
    for notification in store.pending_notifications(None, limit).await? {
        match send(&notification) {
            Ok(()) => {
                store.acknowledge_notification(notification.id, now).await?;
                delivery.delivered.push(notification.id);
            }
            Err(error) => delivery.failed.push((notification.id, error.to_string())),
        }
    }
    Ok(delivery)
}
