//! [`CaseCache`]: the states of recently used cases, kept between commands.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::engine::{CaseId, Command};
use crate::graph::Process;

use super::CaseStore;
use super::error::ExecuteError;
use super::execute::{Executed, Held, check_start, execute_held, load_checked, retried};

/// The states of recently used cases, so that a command on a case used a moment ago is
/// decided without reading the case again: a bounded map from case to its state, its
/// version and the stored hash of its last event.
///
/// [`CaseCache::execute`] is [`execute`](super::execute) with the cache: it takes the
/// case's state from the cache (or loads it from its latest snapshot, checked against the
/// process, when it is not there), decides the command and appends the events pinned to
/// the version and last hash it decided on. The store refuses the append if the case has
/// moved on or its last event is not the one the cached state folds, so a cached state is
/// never trusted over the events: a conflict drops the entry and the retry reads the case
/// again. Share one cache (`Arc`) between the tasks of one process; another process writing
/// the same cases only causes conflicts, never a wrong decision.
///
/// The cache holds at most `capacity` cases: when it is full, the half used least
/// recently is dropped.
#[derive(Debug)]
pub struct CaseCache {
    capacity: usize,
    inner: Mutex<Generations>,
}

/// Two generations: lookups promote to `young`; when `young` holds half the capacity it
/// becomes `old`, and the previous `old` is dropped.
#[derive(Debug, Default)]
struct Generations {
    young: HashMap<CaseId, Held>,
    old: HashMap<CaseId, Held>,
}

impl CaseCache {
    /// A cache of at most `capacity` cases (at least 2).
    pub fn new(capacity: usize) -> CaseCache {
        CaseCache {
            capacity: capacity.max(2),
            inner: Mutex::new(Generations::default()),
        }
    }

    /// How many cases it holds.
    pub fn len(&self) -> usize {
        let inner = self.lock();
        inner.young.len() + inner.old.len()
    }

    /// Whether it holds no case.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The version of `case` it holds, if any.
    pub fn version(&self, case: &CaseId) -> Option<u64> {
        let inner = self.lock();
        inner
            .young
            .get(case)
            .or_else(|| inner.old.get(case))
            .map(|held| held.state.version())
    }

    /// Forgets `case`.
    pub fn remove(&self, case: &CaseId) {
        let mut inner = self.lock();
        inner.young.remove(case);
        inner.old.remove(case);
    }

    /// [`execute`](super::execute) through the cache: see the type's documentation.
    ///
    /// While a command runs, its case is out of the cache (so deciding and folding the new
    /// events copies nothing of an old case); a concurrent command on the same case loads
    /// it from the store, and the slower of the two meets a conflict.
    pub async fn execute<S: CaseStore>(
        &self,
        store: &S,
        process: &Process,
        case: &CaseId,
        command: Command,
        now: DateTime<Utc>,
    ) -> Result<Executed, ExecuteError> {
        check_start(case, &command)?;
        let held = match self.take(case) {
            Some(held)
                if held.state.sop() == Some((process.id(), process.version()))
                    || held.state.version() == 0 =>
            {
                held
            }
            _ => load_checked(store, process, case).await?,
        };
        match execute_held(store, process, case, held, command, now).await {
            Ok((executed, next)) => {
                if let Some(next) = next {
                    self.put(case, next);
                }
                Ok(executed)
            }
            Err((error, held)) => {
                // A refused command changed nothing: the state is still the case's.
                if let Some(held) = held.filter(|h| h.state.version() > 0) {
                    self.put(case, held);
                }
                Err(error)
            }
        }
    }

    /// [`CaseCache::execute`], retried up to `attempts` times in all while it meets
    /// version conflicts or a busy database, as
    /// [`execute_with_retry`](super::execute_with_retry) does.
    pub async fn execute_with_retry<S: CaseStore>(
        &self,
        store: &S,
        process: &Process,
        case: &CaseId,
        command: Command,
        now: DateTime<Utc>,
        attempts: u32,
    ) -> Result<Executed, ExecuteError> {
        retried(attempts, || {
            self.execute(store, process, case, command.clone(), now)
        })
        .await
    }

    fn take(&self, case: &CaseId) -> Option<Held> {
        let mut inner = self.lock();
        inner.young.remove(case).or_else(|| inner.old.remove(case))
    }

    fn put(&self, case: &CaseId, held: Held) {
        let mut inner = self.lock();
        if inner.young.len() >= self.capacity / 2 && !inner.young.contains_key(case) {
            inner.old = std::mem::take(&mut inner.young);
        }
        inner.old.remove(case);
        inner.young.insert(case.clone(), held);
    }

    fn lock(&self) -> MutexGuard<'_, Generations> {
        // Every change is one insert or removal: a panic leaves whole entries behind.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
