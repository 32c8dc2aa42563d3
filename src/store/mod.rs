//! Cases persisted: their events, a summary row per case for work queues and timers, and
//! the text of every SOP version a case runs on.
//!
//! A [`CaseStore`] keeps each case as the list of its [`Event`]s, in their documented JSON
//! form (schema version in a `v` column). Writing is appending: [`CaseStore::append`] takes
//! an [`Append`] (the events a command caused, decided on a state of a known version) and
//! writes all of them or none, only if the case still has that version. A stale append is
//! a [`StoreError::Conflict`] the caller retries by loading again; it never overwrites or
//! duplicates anything. Reading is [`CaseStore::load`]: the events, folded into a
//! [`CaseState`] by [`CaseState::replay`].
//!
//! [`execute`] ties engine and store together (load → [`engine::handle`](crate::engine::handle)
//! → append), and [`execute_with_retry`] retries conflicts. A command does not replay its
//! case: stores keep a snapshot of each case's state every 100 events and when it ends, and
//! [`CaseStore::load_latest`] reads the snapshot (if it still matches the stored events)
//! and the events after it. [`CaseCache`] keeps recently used case states between
//! commands, and [`execute_on`] decides on a state the caller already holds; both append
//! only if the store still holds the case at the version they decided on. [`fire_due_timers`] is the
//! clock's side: claim the cases whose timers are due, tick them, release.
//!
//! # Stores
//! | URL | store | for |
//! |---|---|---|
//! | `sqlite:PATH` (default [`DEFAULT_URL`], `sqlite:sopflow.db`) or a plain path | [`SqliteStore`] | the embedded default: one file, WAL, appends arriving together share a transaction (group commit) |
//! | `postgres://user:password@host/db` | `PostgresStore` (cargo feature `postgres`) | several app instances sharing the work |
//! | `memory:` | [`MemoryStore`] | tests |
//!
//! [`open`] picks one by URL; [`BlockingStore`] wraps any store for synchronous callers
//! (the CLI) with its own current-thread tokio runtime.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use chrono::{TimeZone, Utc};
//! use sopflow::engine::{Action, Actor, CaseId, Command};
//! use sopflow::model::RoleId;
//! use sopflow::store::BlockingStore;
//!
//! let store = BlockingStore::open("memory:")?;
//! let process = store.save_sop("hello.yaml", "
//! id: hello
//! version: 1
//! title: Say hello
//! department: Customer Service
//! roles: { agent: Support team member }
//! steps:
//!   - { id: greet, title: Greet the customer, role: agent, end: true }
//! ")?;
//! let ana = Actor::new("ana", [RoleId::new("agent")?]);
//! let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
//! let case = CaseId::new("T-1");
//! let start = Command::new("c1", ana, Action::Start { case: case.clone(), fields: Default::default() });
//! let executed = store.execute(&process, &case, start, now)?;
//! assert_eq!(executed.events.len(), 2); // case_started, step_activated
//! assert_eq!(store.load(&case)?.state.version(), 2);
//! # Ok(()) }
//! ```
//!
//! Architecture invariant: a store never decides anything about a case. It writes what the
//! engine decided, checks only that the events continue the stored history, and derives
//! its summary rows from the same fold ([`CaseState::apply`]) that replays the case.

mod any;
mod batch;
mod blocking;
mod cache;
mod codec;
mod error;
mod execute;
mod links;
mod memory;
mod migrate;
#[cfg(feature = "postgres")]
mod postgres;
mod report;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::future::Future;

use chrono::{DateTime, Utc};

pub use any::{AnyStore, DEFAULT_URL, open, open_existing, url_without_password};
pub use batch::Append;
pub use blocking::BlockingStore;
pub use cache::CaseCache;
pub use error::{ExecuteError, StoreError};
pub use execute::{
    Delivery, Executed, Processes, TIMER_ACTOR, TimerRun, deliver_notifications, execute,
    execute_on, execute_with_retry, fire_due_timers, load_verified,
};
pub use links::{LINK_ACTOR, Link, Links, follow_links};
pub use memory::MemoryStore;
pub use migrate::{CaseMigration, MigrationRun, migrate_case, migrate_open_cases};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
pub use report::{Measured, ReportError, measure};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use std::ops::RangeInclusive;

use crate::engine::{
    Action, Actor, ActorId, CaseId, CaseState, CaseStatus, Command, CommandId, Event, Notification,
};
use crate::graph::Process;
use crate::model::{RoleId, SopId};

/// Where cases live. Implemented by [`MemoryStore`], [`SqliteStore`], `PostgresStore` and
/// [`AnyStore`]; every implementation passes the same conformance suite.
///
/// Methods return `Send` futures, so a store can be shared (`Arc`) between tokio tasks.
pub trait CaseStore: Send + Sync {
    /// Writes the events of `batch` after the `batch.expected()` events the case has, all
    /// or none, and updates the case's summary row in the same transaction (releasing any
    /// timer claim on it).
    ///
    /// Fails with [`StoreError::Conflict`] if the case has another version (someone else
    /// appended first, or the case already exists when a new one is started): nothing is
    /// written. Fails with [`StoreError::SopNotFound`] when a case starts on an SOP version
    /// that was not saved.
    fn append(&self, batch: &Append) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The events of a case, in order, and the state they fold into.
    ///
    /// Fails with [`StoreError::NotFound`] for a case with no event, and with
    /// [`StoreError::Corrupt`] when a stored event cannot be read back or its hash chain is
    /// broken (it was changed after it was written). Without a process, `load` checks the
    /// chain only; [`load_verified`] and [`execute`] also check the events against the SOP
    /// version the case runs on.
    fn load(&self, case: &CaseId) -> impl Future<Output = Result<StoredCase, StoreError>> + Send;

    /// The state of a case as cheaply as the store can check it: its latest snapshot (if it
    /// can be trusted) and the events after it, their hash chain checked from the stored
    /// hash of the snapshot's last event.
    ///
    /// A snapshot is used only if its format is known, its digest matches, and the stored
    /// hash of the last event it covers is the one it was written with; otherwise the case
    /// is read whole from its events, as [`CaseStore::load`] does. The events before the
    /// snapshot are not read, so damage to them is found by `load` and `sop case verify`,
    /// not here. Fails like `load`.
    fn load_latest(
        &self,
        case: &CaseId,
    ) -> impl Future<Output = Result<LatestCase, StoreError>> + Send;

    /// The events command `command` caused on case `case`, as a range of `seq`s, if the
    /// case applied it; `None` if it never did.
    ///
    /// Every store records each command a case applies in the append's transaction, and
    /// refuses to append one it recorded before ([`StoreError::AlreadyApplied`]), so a
    /// command is applied once however old it is. A case's state remembers only recent
    /// commands ([`CaseState::has_applied`]); this is how [`execute`] answers an older
    /// repeat with its earlier events.
    fn command_outcome(
        &self,
        case: &CaseId,
        command: &CommandId,
    ) -> impl Future<Output = Result<Option<RangeInclusive<u64>>, StoreError>> + Send;

    /// Summaries of the cases that match `filter`, ordered by case id.
    fn list(
        &self,
        filter: &CaseFilter,
    ) -> impl Future<Output = Result<Vec<CaseSummary>, StoreError>> + Send;

    /// Claims up to `limit` cases whose next timer is due at `now` and that nobody holds a
    /// live claim on, for `owner`, until `now + lease`. Earliest timer first.
    ///
    /// Two callers never get the same case while a claim lives. A claim ends with the
    /// next append to the case, with [`CaseStore::release_timer`], or when it expires.
    fn claim_timers(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease: chrono::Duration,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<TimerClaim>, StoreError>> + Send;

    /// Cases whose timer is due at `now` but claimed by a worker until after `now`: what a
    /// tick cannot fire yet, and until when (a worker that died mid-tick holds its claims
    /// until their lease ends). Earliest timer first, at most `limit`.
    fn held_timers(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<TimerClaim>, StoreError>> + Send;

    /// Gives up a claim that led to no append (the tick had nothing to do). A claim that
    /// is no longer held (expired and taken by someone else) is left alone.
    fn release_timer(
        &self,
        claim: &TimerClaim,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A new case id: `prefix` followed by the next number of that prefix's counter
    /// (`T-` gives `T-1`, `T-2`, …).
    ///
    /// Atomic across every process sharing the store: two callers never get the same id,
    /// and a number once given is never given again, even if its case is never started
    /// (numbers may have gaps). A counter created on a store that already holds cases
    /// starts after the highest `prefix` + number among them; a case started with an
    /// explicit id that the counter later reaches makes the start conflict, and the caller
    /// asks for the next id.
    fn allocate_case_id(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<CaseId, StoreError>> + Send;

    /// Stores the text of an SOP version. Saving the same text again does nothing; other
    /// text under a stored version is [`StoreError::SopVersionExists`]. Checks nothing
    /// else: [`CaseStore::save_sop`] parses and compiles first.
    fn put_sop_source(
        &self,
        source: &SopSource,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The stored text of an SOP version, or [`StoreError::SopNotFound`].
    fn sop_source(
        &self,
        sop: &SopId,
        version: u32,
    ) -> impl Future<Output = Result<SopSource, StoreError>> + Send;

    /// Every stored SOP version, by id then version.
    fn sop_versions(&self) -> impl Future<Output = Result<Vec<(SopId, u32)>, StoreError>> + Send;

    /// Parses and compiles an SOP text and stores it, returning the compiled process.
    ///
    /// Fails with [`StoreError::InvalidSop`] when the text has an error diagnostic (run
    /// [`crate::check`] to see them all), and [`StoreError::SopVersionExists`] when the
    /// version was saved with other text.
    fn save_sop(
        &self,
        name: &str,
        text: &str,
    ) -> impl Future<Output = Result<Process, StoreError>> + Send {
        async move {
            let process = compile_source(name, text)?;
            self.put_sop_source(&SopSource {
                sop: process.id().clone(),
                version: process.version(),
                name: name.to_owned(),
                text: text.to_owned(),
            })
            .await?;
            Ok(process)
        }
    }

    /// Notifications not yet acknowledged, oldest first: those with an id after `after`
    /// (all when `None`), at most `limit`.
    ///
    /// Each was written in the same transaction as the events that call for it
    /// ([`engine::notifications`](crate::engine::notifications)), so none is lost between a
    /// crash and a retry. An app delivers them at least once by reading this list,
    /// sending each, then [acknowledging](CaseStore::acknowledge_notification) it; one that
    /// was sent but not acknowledged (a crash in between) comes back on the next read.
    /// Pass the last id read as `after` to page through a long list; start again from
    /// `None` for the next round, since a notification committed late by a concurrent
    /// writer may have a lower id than the last one read.
    fn pending_notifications(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredNotification>, StoreError>> + Send;

    /// Every notification of a case, acknowledged or not, oldest first.
    fn case_notifications(
        &self,
        case: &CaseId,
    ) -> impl Future<Output = Result<Vec<StoredNotification>, StoreError>> + Send;

    /// Marks a notification delivered at `at`. Returns `true` if this call acknowledged
    /// it, `false` if it was acknowledged before (so a delivery retried after a crash can
    /// tell). Fails with [`StoreError::NotificationNotFound`] for an id the store never
    /// gave.
    fn acknowledge_notification(
        &self,
        id: u64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Writes a person into the store's directory of people, replacing what it held about
    /// `person.id` (roles and whether they are active) in one atomic write.
    ///
    /// Each person is one row: two writers putting different people at once both keep
    /// their change. Two writers putting the same person at once: the last one wins.
    fn put_person(&self, person: &Person) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The person with this id in the directory, or `None` when there is none.
    fn person(
        &self,
        id: &ActorId,
    ) -> impl Future<Output = Result<Option<Person>, StoreError>> + Send;

    /// Everyone in the directory, active or not, ordered by id.
    fn people(&self) -> impl Future<Output = Result<Vec<Person>, StoreError>> + Send;

    /// The cases that match `filter` with all their events, in case id order: a page of
    /// histories for reports (`sopflow::metrics`), read in a couple of queries however many
    /// cases the page holds. Page on with `filter.after` set to the last case returned.
    ///
    /// Each history's hash chain is checked as [`CaseStore::load`] checks it, and fails
    /// like `load` on a damaged one. The summary and the events are read one after the
    /// other, not in one transaction: a case appended to in between comes with its newer
    /// events. The default implementation loads each case; the SQLite and PostgreSQL
    /// stores read a page of events in one range query instead.
    fn histories(
        &self,
        filter: &CaseFilter,
    ) -> impl Future<Output = Result<Vec<CaseHistory>, StoreError>> + Send {
        async move {
            let mut histories = Vec::new();
            for summary in self.list(filter).await? {
                let events = self.load(&summary.case).await?.events;
                histories.push(CaseHistory { summary, events });
            }
            Ok(histories)
        }
    }

    /// The cases that match `filter`, in case id order, each as the facts the store keeps
    /// for reports when they are current, or else with all its events: what
    /// [`measure`] reads. Page on with `filter.after` set to the last case returned.
    ///
    /// Kept facts are current when they are in format `format` (the one the caller reads,
    /// [`metrics::FACTS_FORMAT`](crate::metrics::FACTS_FORMAT)), were read from as many
    /// events as the case has, the stored hash of the last of those events is still the
    /// one they were kept with, and their digest matches (so a damaged row is not
    /// trusted). A case whose facts are
    /// not current comes with its events, checked like [`CaseStore::histories`] checks
    /// them. The default implementation keeps no facts and returns every case with its
    /// events.
    fn report_page(
        &self,
        filter: &CaseFilter,
        format: u32,
    ) -> impl Future<Output = Result<Vec<ReportCase>, StoreError>> + Send {
        let _ = format;
        async move {
            Ok(self
                .histories(filter)
                .await?
                .into_iter()
                .map(ReportCase::Events)
                .collect())
        }
    }

    /// Keeps the facts of cases read from their events, for the next report, each tied to
    /// the stored hash of event `facts.seq` of its case. Facts of a case that has no event
    /// `seq` are dropped; facts read from fewer events than the ones kept do not replace
    /// them. The default implementation keeps nothing.
    ///
    /// Facts are derived from the events and never needed: a store that fails to keep them
    /// (read-only, busy) loses nothing but the time the next report saves.
    fn keep_facts(
        &self,
        facts: &[KeptFacts],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = facts;
        async { Ok(()) }
    }

    /// Loads and compiles a stored SOP version: what a case that started on it runs on,
    /// however many versions came after. The lints, which ran when the version was saved,
    /// are not run again ([`crate::graph::compile_trusted`]).
    fn load_process(
        &self,
        sop: &SopId,
        version: u32,
    ) -> impl Future<Output = Result<Process, StoreError>> + Send {
        async move {
            let source = self.sop_source(sop, version).await?;
            compile_stored(&source.name, &source.text)
        }
    }
}

/// Parses and compiles an SOP text into a process, or says why it cannot be used.
pub(crate) fn compile_source(name: &str, text: &str) -> Result<Process, StoreError> {
    compile_text(name, text, crate::graph::compile)
}

/// Compiles a stored SOP version, which [`compile_source`] accepted when it was saved:
/// without the lints ([`crate::graph::compile_trusted`]).
pub(crate) fn compile_stored(name: &str, text: &str) -> Result<Process, StoreError> {
    compile_text(name, text, crate::graph::compile_trusted)
}

fn compile_text(
    name: &str,
    text: &str,
    compile: fn(&crate::model::Sop) -> crate::graph::Compilation,
) -> Result<Process, StoreError> {
    let sop = crate::parse::parse_sop(name, text).map_err(|error| StoreError::InvalidSop {
        name: name.to_owned(),
        reason: format!("{}: {}", error.span, error.message),
    })?;
    let compilation = compile(&sop);
    match compilation.process {
        Some(process) => Ok(process),
        None => {
            let errors: Vec<_> = compilation
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .collect();
            let reason = match errors.first() {
                Some(first) if errors.len() > 1 => format!(
                    "{}: {} (and {} more errors)",
                    first.span,
                    first.message,
                    errors.len() - 1
                ),
                Some(first) => format!("{}: {}", first.span, first.message),
                None => "it does not compile".to_owned(),
            };
            Err(StoreError::InvalidSop {
                name: name.to_owned(),
                reason,
            })
        }
    }
}

/// Someone in the store's directory of people: who they are, the roles they hold, and
/// whether they may act at all.
///
/// The library does not check actors against the directory: an embedding application
/// authenticates its users and builds each [`Actor`]. The directory is a source of truth
/// for callers that have none of their own, such as the `sop` command line, which checks
/// `--as` against it once anyone is in it ([`Person::actor`] gives the actor to use).
///
/// ```
/// use sopflow::store::Person;
/// let ana = Person::new("ana", ["team_leader".parse().unwrap(), "agent".parse().unwrap()]);
/// assert_eq!(ana.roles[0].as_str(), "agent"); // sorted, without repeats
/// assert!(ana.active);
/// assert!(ana.actor().holds(&"team_leader".parse().unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Person {
    /// Their actor id: what `--as` and the events name them by.
    pub id: ActorId,
    /// The roles they hold, sorted, without repeats.
    pub roles: Vec<RoleId>,
    /// Whether they may act; an inactive person keeps their roles for the record.
    pub active: bool,
}

impl Person {
    /// An active person holding `roles` (sorted, repeats dropped).
    pub fn new(id: impl Into<ActorId>, roles: impl IntoIterator<Item = RoleId>) -> Person {
        let mut person = Person {
            id: id.into(),
            roles: Vec::new(),
            active: true,
        };
        person.set_roles(roles);
        person
    }

    /// Replaces their roles with `roles`, sorted and without repeats.
    pub fn set_roles(&mut self, roles: impl IntoIterator<Item = RoleId>) {
        let mut roles: Vec<RoleId> = roles.into_iter().collect();
        roles.sort();
        roles.dedup();
        self.roles = roles;
    }

    /// Whether they hold `role`.
    pub fn holds(&self, role: &RoleId) -> bool {
        self.roles.contains(role)
    }

    /// The actor they act as, with every role they hold.
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.id.clone(),
            roles: self.roles.clone(),
        }
    }
}

/// A notification as a store keeps it: its id (the order it was written in), the
/// notification, and when it was acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredNotification {
    /// Its id in the store, growing in the order notifications were written.
    pub id: u64,
    /// The notification.
    #[serde(flatten)]
    pub notification: Notification,
    /// When it was acknowledged, if it was.
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// The stored text of one SOP version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SopSource {
    /// The SOP's id.
    pub sop: SopId,
    /// Its version.
    pub version: u32,
    /// The name it was saved under (a path), for diagnostics.
    pub name: String,
    /// The YAML text.
    pub text: String,
}

/// A case's summary and every event of it, as [`CaseStore::histories`] pages through them.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseHistory {
    /// The case's summary row (SOP, version, status).
    pub summary: CaseSummary,
    /// Every event, `seq` 1, 2, 3, …
    pub events: Vec<Event>,
}

/// The facts of one case as a store keeps them for reports
/// ([`metrics::CaseFacts`](crate::metrics::CaseFacts), encoded by
/// [`CaseFacts::encode`](crate::metrics::CaseFacts::encode)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptFacts {
    /// The case.
    pub case: CaseId,
    /// How many events the facts were read from: they are current while the case has no
    /// more.
    pub seq: u64,
    /// Their format ([`metrics::FACTS_FORMAT`](crate::metrics::FACTS_FORMAT) when written
    /// by this sopflow).
    pub format: u32,
    /// The encoded facts.
    pub text: String,
}

/// One case of a page [`CaseStore::report_page`] reads.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportCase {
    /// The facts the store keeps for the case, current with its events.
    Facts {
        /// The case's summary row.
        summary: CaseSummary,
        /// Its kept facts.
        facts: KeptFacts,
    },
    /// The case with every event: it has no kept facts, or they are not current.
    Events(CaseHistory),
}

impl ReportCase {
    /// The case's summary row.
    pub fn summary(&self) -> &CaseSummary {
        match self {
            ReportCase::Facts { summary, .. } => summary,
            ReportCase::Events(history) => &history.summary,
        }
    }
}

/// A kept-facts row as the databases return it: case id, seq, format, event hash, digest,
/// facts.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) type FactsRow<S> = (S, i64, i64, S, S, S);

/// For each case of a page, its kept facts from `rows` when they are current: in format
/// `format`, read from as many events as its summary says it has, with a digest that
/// matches. (That the event hash is still the stored one is the query's part.)
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn current_facts<S: AsRef<str>>(
    summaries: &[CaseSummary],
    wanted: u32,
    rows: Vec<FactsRow<S>>,
) -> Vec<Option<KeptFacts>> {
    let index: rustc_hash::FxHashMap<&str, usize> = summaries
        .iter()
        .enumerate()
        .map(|(i, summary)| (summary.case.as_str(), i))
        .collect();
    let mut kept = vec![None; summaries.len()];
    for (case, seq, format, event_hash, digest, text) in rows {
        let Some(&i) = index.get(case.as_ref()) else {
            continue;
        };
        let summary = &summaries[i];
        let (Ok(seq), Ok(kept_format)) = (u64::try_from(seq), u32::try_from(format)) else {
            continue;
        };
        if kept_format == wanted
            && seq == summary.version
            && codec::facts_digest_matches(
                digest.as_ref(),
                kept_format,
                seq,
                event_hash.as_ref(),
                text.as_ref(),
            )
        {
            kept[i] = Some(KeptFacts {
                case: summary.case.clone(),
                seq,
                format: kept_format,
                text: text.as_ref().to_owned(),
            });
        }
    }
    kept
}

/// Matches a page of event rows `(case_id, seq, json, hash)`, read by one range query over
/// the page's case ids, to the summaries of the page, and decodes each case's events.
/// Rows of cases that are not in the page (another SOP's, in the same id range) are
/// skipped.
#[cfg(feature = "postgres")]
pub(crate) fn histories_from_rows(
    summaries: Vec<CaseSummary>,
    rows: Vec<(String, i64, String, Option<String>)>,
) -> Result<Vec<CaseHistory>, StoreError> {
    let index: rustc_hash::FxHashMap<&str, usize> = summaries
        .iter()
        .enumerate()
        .map(|(i, summary)| (summary.case.as_str(), i))
        .collect();
    let mut per_case: Vec<Vec<(i64, String, Option<String>)>> = vec![Vec::new(); summaries.len()];
    for (case, seq, json, hash) in rows {
        if let Some(&i) = index.get(case.as_str()) {
            per_case[i].push((seq, json, hash));
        }
    }
    drop(index);
    decode_page(summaries, per_case, codec::decode_history)
}

/// Decodes the histories of a page of cases, `stored[i]` being what the store read for
/// `summaries[i]` and `events_of` what reads it into events; a case without events is
/// [`StoreError::NotFound`].
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn decode_page<T: Send>(
    summaries: Vec<CaseSummary>,
    stored: Vec<T>,
    events_of: impl Fn(&CaseId, T) -> Result<Vec<Event>, StoreError> + Sync,
) -> Result<Vec<CaseHistory>, StoreError> {
    let decode = |(summary, stored): (CaseSummary, T)| {
        let events = events_of(&summary.case, stored)?;
        if events.is_empty() {
            return Err(StoreError::NotFound {
                case: summary.case.clone(),
            });
        }
        Ok(CaseHistory { summary, events })
    };
    let mut cases: Vec<_> = summaries.into_iter().zip(stored).collect();
    // Reading JSON and checking hashes is most of a report's time: a large page is
    // decoded on every core, each thread taking a contiguous share so the order stays.
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads < 2 || cases.len() < 64 {
        return cases.into_iter().map(decode).collect();
    }
    let share = cases.len().div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    while cases.len() > share {
        let rest = cases.split_off(share);
        parts.push(std::mem::replace(&mut cases, rest));
    }
    parts.push(cases);
    let decode = &decode;
    let decoded: Vec<Result<Vec<CaseHistory>, StoreError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || part.into_iter().map(decode).collect()))
            .collect();
        handles
            .into_iter()
            // Decoding returns errors for bad input; a panic here is a bug, passed on.
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut histories = Vec::new();
    for part in decoded {
        histories.extend(part?);
    }
    Ok(histories)
}

/// A case as loaded: its events and the state they fold into.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCase {
    /// Every event, `seq` 1, 2, 3, …
    pub events: Vec<Event>,
    /// `CaseState::replay(&events)`.
    pub state: CaseState,
}

/// A case as [`CaseStore::load_latest`] reads it: the state at its latest usable snapshot
/// and the events after it.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestCase {
    base: CaseState,
    events: Vec<Event>,
    last_hash: codec::Hash,
    from_snapshot: bool,
}

impl LatestCase {
    /// The state the events after the snapshot start from: the snapshot's, or an empty
    /// state when the case was read whole.
    pub fn base(&self) -> &CaseState {
        &self.base
    }

    /// The events after the snapshot (every event when it was read whole).
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The version of the snapshot the load started from, `None` when it read every event.
    pub fn snapshot_version(&self) -> Option<u64> {
        self.from_snapshot.then(|| self.base.version())
    }

    /// The case's state: the snapshot's with the events after it folded in.
    pub fn state(&self) -> CaseState {
        let mut state = self.base.clone();
        for event in &self.events {
            state.apply(event);
        }
        state
    }

    /// The base, the events after it and the hash of the last event.
    pub(crate) fn into_parts(self) -> (CaseState, Vec<Event>, codec::Hash) {
        (self.base, self.events, self.last_hash)
    }

    /// A case read from its stored snapshot (when `snapshot` opens and the stored hash of
    /// its last event, `hash_at_snapshot`, matches it) and the rows after it, or `None`
    /// when the snapshot cannot be used. The rows are `(seq, json, hash)` with `seq` after
    /// the snapshot's.
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn from_snapshot<S: AsRef<str>, H: AsRef<str>>(
        case: &CaseId,
        snapshot: &codec::StoredSnapshot,
        hash_at_snapshot: Option<&str>,
        rows: impl IntoIterator<Item = (i64, S, Option<H>)>,
    ) -> Option<Result<LatestCase, StoreError>> {
        let (base, hash) = snapshot.open(case)?;
        if hash_at_snapshot.and_then(codec::from_hex) != Some(hash) {
            return None;
        }
        Some(
            codec::decode_history_from(case, snapshot.seq, hash, rows).map(
                |(events, last_hash)| LatestCase {
                    base,
                    events,
                    last_hash,
                    from_snapshot: true,
                },
            ),
        )
    }

    /// A case read whole from its rows `(seq, json, hash)`.
    pub(crate) fn whole<S: AsRef<str>, H: AsRef<str>>(
        case: &CaseId,
        rows: impl IntoIterator<Item = (i64, S, Option<H>)>,
    ) -> Result<LatestCase, StoreError> {
        let (events, last_hash) = codec::decode_history_from(case, 0, codec::GENESIS, rows)?;
        if events.is_empty() {
            return Err(StoreError::NotFound { case: case.clone() });
        }
        Ok(LatestCase {
            base: CaseState::new(),
            events,
            last_hash,
            from_snapshot: false,
        })
    }
}

/// The per-case row a store keeps beside the events, rewritten by every append from the
/// state the events fold into. What lists and work queues filter on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseSummary {
    /// The case.
    pub case: CaseId,
    /// The SOP it runs.
    pub sop: SopId,
    /// The SOP version it runs, to the end.
    pub sop_version: u32,
    /// Where it is.
    pub status: CaseStatus,
    /// Its number of events.
    pub version: u64,
    /// The roles that may act on its active steps, sorted, without repeats.
    pub roles: Vec<RoleId>,
    /// Its earliest pending timer, or earlier a link to another case still to follow
    /// ([`CaseState::next_due`]): what [`fire_due_timers`] claims it for.
    pub next_timer: Option<DateTime<Utc>>,
    /// When its last event happened.
    pub updated_at: DateTime<Utc>,
}

impl CaseSummary {
    /// The summary of a case in `state`, running on `process`.
    ///
    /// Returns `None` for a case that has not started.
    pub fn of(process: &Process, state: &CaseState, updated_at: DateTime<Utc>) -> Option<Self> {
        let case = state.case()?.clone();
        let (sop, sop_version) = state.sop()?;
        let mut roles: Vec<RoleId> = state
            .active_steps()
            .iter()
            .flat_map(|active| {
                if let Some(role) = &active.transferred_to {
                    return vec![role.clone()];
                }
                let Some(node) = process.step(&active.step) else {
                    return Vec::new();
                };
                match &process.node(node).kind {
                    crate::graph::NodeKind::Task(task) => vec![task.role.clone()],
                    crate::graph::NodeKind::Approval(gate) => gate.by.clone(),
                    _ => Vec::new(),
                }
            })
            .collect();
        roles.sort();
        roles.dedup();
        Some(CaseSummary {
            case,
            sop: sop.clone(),
            sop_version,
            status: state.status(),
            version: state.version(),
            roles,
            next_timer: state.next_due(),
            updated_at,
        })
    }
}

/// Which cases [`CaseStore::list`] returns: every condition set must hold.
///
/// ```
/// use sopflow::engine::CaseStatus;
/// use sopflow::store::CaseFilter;
/// let queue = CaseFilter::all()
///     .status(CaseStatus::Open)
///     .role("team_leader".parse().unwrap())
///     .limit(50);
/// assert_eq!(queue.limit, Some(50));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Cases on this SOP.
    pub sop: Option<SopId>,
    /// Cases on this SOP version (with or without `sop`).
    pub sop_version: Option<u32>,
    /// Cases in this status.
    pub status: Option<CaseStatus>,
    /// Cases with an active step this role may act on: the role's work queue.
    pub role: Option<RoleId>,
    /// Cases whose id sorts after this one: the next page.
    pub after: Option<CaseId>,
    /// At most this many cases.
    pub limit: Option<u32>,
}

impl CaseFilter {
    /// Every case.
    pub fn all() -> CaseFilter {
        CaseFilter::default()
    }

    /// Only cases on `sop` (any version).
    pub fn sop(mut self, sop: SopId) -> CaseFilter {
        self.sop = Some(sop);
        self
    }

    /// Only cases on this SOP version.
    pub fn sop_version(mut self, version: u32) -> CaseFilter {
        self.sop_version = Some(version);
        self
    }

    /// Only cases in `status`.
    pub fn status(mut self, status: CaseStatus) -> CaseFilter {
        self.status = Some(status);
        self
    }

    /// Only cases with an active step for `role`.
    pub fn role(mut self, role: RoleId) -> CaseFilter {
        self.role = Some(role);
        self
    }

    /// Only cases whose id sorts after `case` (paging).
    pub fn after(mut self, case: CaseId) -> CaseFilter {
        self.after = Some(case);
        self
    }

    /// At most `limit` cases.
    pub fn limit(mut self, limit: u32) -> CaseFilter {
        self.limit = Some(limit);
        self
    }

    /// Whether a summary matches (all conditions but paging).
    pub fn matches(&self, summary: &CaseSummary) -> bool {
        self.sop.as_ref().is_none_or(|s| *s == summary.sop)
            && self.sop_version.is_none_or(|v| v == summary.sop_version)
            && self.status.is_none_or(|s| s == summary.status)
            && self.role.as_ref().is_none_or(|r| summary.roles.contains(r))
            && self.after.as_ref().is_none_or(|a| summary.case > *a)
    }
}

/// A case whose timer is due, claimed by one worker until `lease_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerClaim {
    /// The case.
    pub case: CaseId,
    /// The SOP it runs.
    pub sop: SopId,
    /// The SOP version it runs.
    pub sop_version: u32,
    /// Its version when claimed.
    pub version: u64,
    /// The timer that is due.
    pub due_at: DateTime<Utc>,
    /// Who holds the claim.
    pub owner: String,
    /// When the claim lapses if nothing releases it.
    pub lease_until: DateTime<Utc>,
}

impl TimerClaim {
    /// The `tick` command that fires the due timer, sent by [`TIMER_ACTOR`].
    ///
    /// Its id names the case version and the timer, so two workers that fire the same
    /// timer send the same command, and the engine applies it once.
    pub fn tick_command(&self) -> Command {
        Command::new(
            format!(
                "timer:{}:{}",
                self.version,
                self.due_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            ),
            Actor::new(TIMER_ACTOR, []),
            Action::Tick,
        )
    }
}

/// The number that follows `prefix` in a case id such as `T-42`, for seeding counters;
/// `None` for any other id.
pub(crate) fn case_number(case: &CaseId, prefix: &str) -> Option<u64> {
    let digits = case.as_str().strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The case id for number `n` of `prefix`.
pub(crate) fn numbered_case(prefix: &str, n: u64) -> CaseId {
    CaseId::new(format!("{prefix}{n}"))
}

/// A person from their stored row: the id, the roles as space-separated text, and whether
/// they are active. A role that is no longer a valid role id means the row was damaged.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn person_from_row(id: &str, roles: &str, active: bool) -> Result<Person, StoreError> {
    let roles = roles
        .split_whitespace()
        .map(|role| {
            RoleId::new(role).map_err(|reason| StoreError::Database {
                operation: format!("reading person `{id}` from the directory"),
                source: format!("their stored role `{role}` is not a role id: {reason}").into(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut person = Person::new(id, roles);
    person.active = active;
    Ok(person)
}

/// The status as stored (its JSON name).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn status_name(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::NotStarted => "not_started",
        CaseStatus::Open => "open",
        CaseStatus::Closed => "closed",
        CaseStatus::Cancelled => "cancelled",
    }
}

/// The status from its stored name.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn status_from_name(name: &str) -> Option<CaseStatus> {
    Some(match name {
        "not_started" => CaseStatus::NotStarted,
        "open" => CaseStatus::Open,
        "closed" => CaseStatus::Closed,
        "cancelled" => CaseStatus::Cancelled,
        _ => return None,
    })
}
