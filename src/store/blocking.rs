//! [`BlockingStore`]: any store for synchronous callers.

use chrono::{DateTime, Utc};
use tokio::runtime::Runtime;

use crate::engine::{ActorId, CaseId, CaseState, Command, CommandId};
use crate::graph::Process;
use crate::model::SopId;

use super::any::AnyStore;
use super::batch::Append;
use super::cache::CaseCache;
use super::error::{ExecuteError, StoreError};
use super::execute::{Executed, Processes, TimerRun};
use super::{
    CaseFilter, CaseStore, CaseSummary, LatestCase, Person, SopSource, StoredCase,
    StoredNotification, TimerClaim,
};

/// A store with its own current-thread tokio runtime, for the CLI and other synchronous
/// callers: each method runs the store's async method to completion.
///
/// Do not call it from inside a tokio runtime (it would block that runtime's thread, and
/// tokio refuses nested `block_on`); async code uses the store directly.
#[derive(Debug)]
pub struct BlockingStore<S = AnyStore> {
    runtime: Runtime,
    store: S,
}

impl BlockingStore<AnyStore> {
    /// Opens the store a URL names (see [`open`](super::open)): `sqlite:PATH`,
    /// `postgres://…`, `memory:`.
    pub fn open(url: &str) -> Result<BlockingStore<AnyStore>, StoreError> {
        BlockingStore::with(|| super::open(url))
    }

    /// Opens an existing store (see [`open_existing`](super::open_existing)): never creates
    /// a SQLite file.
    pub fn open_existing(url: &str) -> Result<BlockingStore<AnyStore>, StoreError> {
        BlockingStore::with(|| super::open_existing(url))
    }
}

impl<S: CaseStore> BlockingStore<S> {
    /// Starts a runtime and builds the store on it with `make` (stores must be created on
    /// the runtime that drives them).
    ///
    /// ```
    /// use sopflow::store::{BlockingStore, MemoryStore};
    /// let store = BlockingStore::with(|| async { Ok(MemoryStore::new()) }).unwrap();
    /// assert!(store.sop_versions().unwrap().is_empty());
    /// ```
    pub fn with<F, Fut>(make: F) -> Result<BlockingStore<S>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<S, StoreError>>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Runtime)?;
        let store = runtime.block_on(make())?;
        Ok(BlockingStore { runtime, store })
    }

    /// The async store inside.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Runs any future on this store's runtime.
    pub fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    /// [`CaseStore::append`].
    pub fn append(&self, batch: &Append) -> Result<(), StoreError> {
        self.block_on(self.store.append(batch))
    }

    /// [`CaseStore::load`].
    pub fn load(&self, case: &CaseId) -> Result<StoredCase, StoreError> {
        self.block_on(self.store.load(case))
    }

    /// [`CaseStore::load_latest`].
    pub fn load_latest(&self, case: &CaseId) -> Result<LatestCase, StoreError> {
        self.block_on(self.store.load_latest(case))
    }

    /// [`CaseStore::command_outcome`].
    pub fn command_outcome(
        &self,
        case: &CaseId,
        command: &CommandId,
    ) -> Result<Option<std::ops::RangeInclusive<u64>>, StoreError> {
        self.block_on(self.store.command_outcome(case, command))
    }

    /// [`CaseStore::pending_notifications`].
    pub fn pending_notifications(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        self.block_on(self.store.pending_notifications(after, limit))
    }

    /// [`deliver_notifications`](super::deliver_notifications): one round of delivery
    /// through `send`, acknowledging what it sent.
    pub fn deliver_notifications<F, E>(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        send: F,
    ) -> Result<super::Delivery, StoreError>
    where
        F: FnMut(&StoredNotification) -> Result<(), E>,
        E: std::fmt::Display,
    {
        self.block_on(super::deliver_notifications(&self.store, now, limit, send))
    }

    /// [`CaseStore::case_notifications`].
    pub fn case_notifications(&self, case: &CaseId) -> Result<Vec<StoredNotification>, StoreError> {
        self.block_on(self.store.case_notifications(case))
    }

    /// [`CaseStore::acknowledge_notification`].
    pub fn acknowledge_notification(&self, id: u64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        self.block_on(self.store.acknowledge_notification(id, at))
    }

    /// [`CaseStore::list`].
    pub fn list(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>, StoreError> {
        self.block_on(self.store.list(filter))
    }

    /// [`CaseStore::histories`].
    pub fn histories(&self, filter: &CaseFilter) -> Result<Vec<super::CaseHistory>, StoreError> {
        self.block_on(self.store.histories(filter))
    }

    /// [`measure`](super::measure): every case that matches `filter` counted into
    /// `metrics`, from the facts the store keeps where they are current.
    pub fn measure(
        &self,
        filter: &CaseFilter,
        metrics: &mut crate::metrics::Accumulator,
        processes: &mut std::collections::BTreeMap<u32, Process>,
    ) -> Result<super::Measured, super::ReportError> {
        self.block_on(super::measure(&self.store, filter, metrics, processes))
    }

    /// [`CaseStore::claim_timers`].
    pub fn claim_timers(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<TimerClaim>, StoreError> {
        self.block_on(self.store.claim_timers(now, owner, lease, limit))
    }

    /// [`CaseStore::held_timers`].
    pub fn held_timers(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TimerClaim>, StoreError> {
        self.block_on(self.store.held_timers(now, limit))
    }

    /// [`CaseStore::release_timer`].
    pub fn release_timer(&self, claim: &TimerClaim) -> Result<(), StoreError> {
        self.block_on(self.store.release_timer(claim))
    }

    /// [`CaseStore::allocate_case_id`].
    pub fn allocate_case_id(&self, prefix: &str) -> Result<CaseId, StoreError> {
        self.block_on(self.store.allocate_case_id(prefix))
    }

    /// [`CaseStore::save_sop`]: parses, compiles and stores an SOP text.
    pub fn save_sop(&self, name: &str, text: &str) -> Result<Process, StoreError> {
        self.block_on(self.store.save_sop(name, text))
    }

    /// [`CaseStore::load_process`].
    pub fn load_process(&self, sop: &SopId, version: u32) -> Result<Process, StoreError> {
        self.block_on(self.store.load_process(sop, version))
    }

    /// [`CaseStore::sop_source`].
    pub fn sop_source(&self, sop: &SopId, version: u32) -> Result<SopSource, StoreError> {
        self.block_on(self.store.sop_source(sop, version))
    }

    /// [`CaseStore::sop_versions`].
    pub fn sop_versions(&self) -> Result<Vec<(SopId, u32)>, StoreError> {
        self.block_on(self.store.sop_versions())
    }

    /// [`CaseStore::put_person`].
    pub fn put_person(&self, person: &Person) -> Result<(), StoreError> {
        self.block_on(self.store.put_person(person))
    }

    /// [`CaseStore::person`].
    pub fn person(&self, id: &ActorId) -> Result<Option<Person>, StoreError> {
        self.block_on(self.store.person(id))
    }

    /// [`CaseStore::people`].
    pub fn people(&self) -> Result<Vec<Person>, StoreError> {
        self.block_on(self.store.people())
    }

    /// [`execute`](super::execute): load, decide, append.
    pub fn execute(
        &self,
        process: &Process,
        case: &CaseId,
        command: Command,
        now: DateTime<Utc>,
    ) -> Result<Executed, ExecuteError> {
        self.block_on(super::execute(&self.store, process, case, command, now))
    }

    /// [`execute_on`](super::execute_on): decide on a state the caller holds, append only
    /// if the store is still at its version.
    pub fn execute_on(
        &self,
        process: &Process,
        case: &CaseId,
        state: &CaseState,
        command: Command,
        now: DateTime<Utc>,
    ) -> Result<Executed, ExecuteError> {
        self.block_on(super::execute_on(
            &self.store,
            process,
            case,
            state,
            command,
            now,
        ))
    }

    /// [`CaseCache::execute_with_retry`]: execute through a cache of case states.
    pub fn execute_cached(
        &self,
        cache: &CaseCache,
        process: &Process,
        case: &CaseId,
        command: Command,
        now: DateTime<Utc>,
        attempts: u32,
    ) -> Result<Executed, ExecuteError> {
        self.block_on(cache.execute_with_retry(&self.store, process, case, command, now, attempts))
    }

    /// [`execute_with_retry`](super::execute_with_retry).
    pub fn execute_with_retry(
        &self,
        process: &Process,
        case: &CaseId,
        command: Command,
        now: DateTime<Utc>,
        attempts: u32,
    ) -> Result<Executed, ExecuteError> {
        self.block_on(super::execute_with_retry(
            &self.store,
            process,
            case,
            command,
            now,
            attempts,
        ))
    }

    /// [`fire_due_timers`](super::fire_due_timers).
    pub fn fire_due_timers(
        &self,
        processes: &Processes,
        owner: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<TimerRun, StoreError> {
        self.block_on(super::fire_due_timers(
            &self.store,
            processes,
            owner,
            now,
            lease,
            limit,
        ))
    }

    /// [`follow_links`](super::follow_links), blocking.
    pub fn follow_links(
        &self,
        processes: &Processes,
        case: &CaseId,
        now: DateTime<Utc>,
    ) -> Result<super::Links, StoreError> {
        self.block_on(super::follow_links(&self.store, processes, case, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Action, Actor, FieldValues};
    use crate::store::MemoryStore;

    const HELLO: &str = "id: hello\nversion: 1\ntitle: Hello\ndepartment: D\n\
        roles: { agent: Agent }\n\
        steps:\n  - { id: greet, title: Greet, role: agent, end: true }\n";

    #[test]
    fn the_store_answers_whether_a_command_was_applied() {
        let store = BlockingStore::with(|| async { Ok(MemoryStore::new()) }).unwrap();
        let process = store.save_sop("hello.yaml", HELLO).unwrap();
        let case = CaseId::new("H-1");
        let start = Command::new(
            "start-h-1",
            Actor::new("ana", ["agent".parse().unwrap()]),
            Action::Start {
                case: case.clone(),
                fields: FieldValues::new(),
            },
        );
        let now = "2026-01-05T09:00:00Z".parse().unwrap();
        let executed = store.execute(&process, &case, start, now).unwrap();
        assert_eq!(
            store.command_outcome(&case, &"start-h-1".into()).unwrap(),
            Some(1..=executed.events.len() as u64)
        );
        assert_eq!(store.command_outcome(&case, &"never".into()).unwrap(), None);
    }
}
