//! [`AnyStore`]: whichever store a URL names.

use chrono::{DateTime, Utc};

use crate::engine::{ActorId, CaseId, CommandId};
use crate::model::SopId;

use super::batch::Append;
use super::error::StoreError;
use super::memory::MemoryStore;
use super::{
    CaseFilter, CaseStore, CaseSummary, LatestCase, Person, SopSource, StoredCase,
    StoredNotification, TimerClaim,
};

/// The store the CLI uses when none is given: the SQLite file `sopflow.db` in the current
/// directory.
pub const DEFAULT_URL: &str = "sqlite:sopflow.db";

/// One of the stores this build has, chosen at run time by [`open`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// In memory.
    Memory(MemoryStore),
    /// A SQLite file.
    #[cfg(feature = "sqlite")]
    Sqlite(super::SqliteStore),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(super::PostgresStore),
}

/// Opens the store a URL names, creating its tables if needed:
///
/// - `sqlite:PATH` or `sqlite://PATH` (the file is created if missing), `sqlite::memory:`,
///   or a plain path such as `./cases.db`: a [`SqliteStore`](super::SqliteStore);
/// - `postgres://user:password@host:port/database` (or `postgresql://`): a
///   `PostgresStore`, when built with the `postgres` feature;
/// - `memory:`: a [`MemoryStore`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = sopflow::store::open("memory:").await.unwrap();
/// assert!(matches!(store, sopflow::store::AnyStore::Memory(_)));
/// let error = sopflow::store::open("mysql://localhost/cases").await.unwrap_err();
/// assert!(error.to_string().starts_with("cannot open store `mysql://localhost/cases`"));
/// # });
/// ```
pub async fn open(url: &str) -> Result<AnyStore, StoreError> {
    open_url(url, true).await
}

/// Opens the store a URL names, like [`open`], but never creates one: a SQLite file that
/// does not exist is [`StoreError::NoStore`] instead of a new, empty store. For callers
/// that only read, or that act on cases which must already exist, so that a mistyped
/// path is an error rather than "no case".
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let error = sopflow::store::open_existing("sqlite:no/such/cases.db").await.unwrap_err();
/// assert_eq!(error.to_string(), "there is no store at `no/such/cases.db`: check the path, or start a case to create it");
/// # });
/// ```
pub async fn open_existing(url: &str) -> Result<AnyStore, StoreError> {
    open_url(url, false).await
}

async fn open_url(url: &str, create: bool) -> Result<AnyStore, StoreError> {
    let unsupported = |reason: &str| StoreError::UnsupportedUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    if url == "memory:" {
        return Ok(AnyStore::Memory(MemoryStore::new()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(AnyStore::Postgres(
            super::PostgresStore::connect(url).await?,
        ));
        #[cfg(not(feature = "postgres"))]
        return Err(unsupported(
            "this sopflow was built without the `postgres` feature",
        ));
    }
    let scheme = url.split_once(':').map(|(scheme, _)| scheme);
    let is_sqlite = url.starts_with("sqlite:")
        // A plain path: no scheme, or a Windows drive letter.
        || scheme.is_none_or(|s| s.len() == 1 || s.contains(['/', '\\', '.']));
    if is_sqlite {
        let path = sqlite_path(url);
        if !create
            && let Some(path) = path
            && !std::path::Path::new(path).exists()
        {
            return Err(StoreError::NoStore {
                path: path.to_owned(),
            });
        }
        #[cfg(feature = "sqlite")]
        return Ok(AnyStore::Sqlite(super::SqliteStore::open(url).await?));
        #[cfg(not(feature = "sqlite"))]
        return Err(unsupported(
            "this sopflow was built without the `sqlite` feature",
        ));
    }
    Err(unsupported(
        "use `sqlite:PATH`, `postgres://user:password@host/database` or `memory:`",
    ))
}

/// A store URL as it may be shown in messages and logs: the password of
/// `scheme://user:password@host/…` replaced by `***`.
///
/// ```
/// use sopflow::store::url_without_password;
/// assert_eq!(
///     url_without_password("postgres://ana:s3cret@db/cases"),
///     "postgres://ana:***@db/cases"
/// );
/// assert_eq!(url_without_password("sqlite:cases.db"), "sqlite:cases.db");
/// ```
pub fn url_without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The file a SQLite URL names: `sqlite:PATH`, `sqlite://PATH` or a plain path; `None` for
/// an in-memory database.
pub(crate) fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    (!rest.is_empty() && rest != ":memory:").then_some(rest)
}

macro_rules! each {
    ($self:ident, $store:ident => $body:expr) => {
        match $self {
            AnyStore::Memory($store) => $body,
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite($store) => $body,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres($store) => $body,
        }
    };
}

impl CaseStore for AnyStore {
    async fn append(&self, batch: &Append) -> Result<(), StoreError> {
        each!(self, store => store.append(batch).await)
    }

    async fn load(&self, case: &CaseId) -> Result<StoredCase, StoreError> {
        each!(self, store => store.load(case).await)
    }

    async fn load_latest(&self, case: &CaseId) -> Result<LatestCase, StoreError> {
        each!(self, store => store.load_latest(case).await)
    }

    async fn command_outcome(
        &self,
        case: &CaseId,
        command: &CommandId,
    ) -> Result<Option<std::ops::RangeInclusive<u64>>, StoreError> {
        each!(self, store => store.command_outcome(case, command).await)
    }

    async fn list(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>, StoreError> {
        each!(self, store => store.list(filter).await)
    }

    async fn histories(&self, filter: &CaseFilter) -> Result<Vec<super::CaseHistory>, StoreError> {
        each!(self, store => store.histories(filter).await)
    }

    async fn report_page(
        &self,
        filter: &CaseFilter,
        format: u32,
    ) -> Result<Vec<super::ReportCase>, StoreError> {
        each!(self, store => store.report_page(filter, format).await)
    }

    async fn keep_facts(&self, facts: &[super::KeptFacts]) -> Result<(), StoreError> {
        each!(self, store => store.keep_facts(facts).await)
    }

    async fn pending_notifications(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        each!(self, store => store.pending_notifications(after, limit).await)
    }

    async fn case_notifications(
        &self,
        case: &CaseId,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        each!(self, store => store.case_notifications(case).await)
    }

    async fn acknowledge_notification(
        &self,
        id: u64,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        each!(self, store => store.acknowledge_notification(id, at).await)
    }

    async fn claim_timers(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<TimerClaim>, StoreError> {
        each!(self, store => store.claim_timers(now, owner, lease, limit).await)
    }

    async fn held_timers(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TimerClaim>, StoreError> {
        each!(self, store => store.held_timers(now, limit).await)
    }

    async fn release_timer(&self, claim: &TimerClaim) -> Result<(), StoreError> {
        each!(self, store => store.release_timer(claim).await)
    }

    async fn allocate_case_id(&self, prefix: &str) -> Result<CaseId, StoreError> {
        each!(self, store => store.allocate_case_id(prefix).await)
    }

    async fn put_sop_source(&self, source: &SopSource) -> Result<(), StoreError> {
        each!(self, store => store.put_sop_source(source).await)
    }

    async fn sop_source(&self, sop: &SopId, version: u32) -> Result<SopSource, StoreError> {
        each!(self, store => store.sop_source(sop, version).await)
    }

    async fn sop_versions(&self) -> Result<Vec<(SopId, u32)>, StoreError> {
        each!(self, store => store.sop_versions().await)
    }

    async fn put_person(&self, person: &Person) -> Result<(), StoreError> {
        each!(self, store => store.put_person(person).await)
    }

    async fn person(&self, id: &ActorId) -> Result<Option<Person>, StoreError> {
        each!(self, store => store.person(id).await)
    }

    async fn people(&self) -> Result<Vec<Person>, StoreError> {
        each!(self, store => store.people().await)
    }
}
