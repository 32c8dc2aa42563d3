//! Why a store operation failed.

use crate::engine::{CaseId, CommandError, CommandId};
use crate::model::SopId;

/// A store operation that failed, with what and why. Every message is a sentence for the
/// person reading the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Someone appended to the case since it was loaded: nothing was written. Load the case
    /// again, decide the command again and retry ([`execute_with_retry`](super::execute_with_retry)
    /// does exactly that).
    #[error(
        "case `{case}` changed while the command was decided: expected version {expected}, found {actual}; load the case again and retry"
    )]
    Conflict {
        /// The case.
        case: CaseId,
        /// The version the append expected (the number of events it was decided on).
        expected: u64,
        /// The version found in the store.
        actual: u64,
    },
    /// The command was applied to the case before: the store keeps every command id a
    /// case applied, and writes none twice. Nothing was written.
    /// [`execute`](super::execute) answers such a command with its earlier events
    /// (`Executed::duplicate`); [`CaseStore::command_outcome`](super::CaseStore::command_outcome)
    /// says which they are.
    #[error(
        "command `{command}` was already applied to case `{case}`, so it is not applied again; send a new command id for a new request"
    )]
    AlreadyApplied {
        /// The case.
        case: CaseId,
        /// The command id applied before.
        command: CommandId,
    },
    /// No case has this id.
    #[error("case `{case}` does not exist in this store")]
    NotFound {
        /// The case.
        case: CaseId,
    },
    /// No notification has this id.
    #[error("there is no notification {id} in this store")]
    NotificationNotFound {
        /// The id asked for.
        id: u64,
    },
    /// No SOP with this id and version was saved.
    #[error("SOP `{sop}` version {version} is not in this store; save it with `save_sop` first")]
    SopNotFound {
        /// The SOP.
        sop: SopId,
        /// Its version.
        version: u32,
    },
    /// A call task names an SOP of which no version was saved, so its sub-case cannot
    /// start; the calling case waits until it is.
    #[error(
        "case `{case}` calls SOP `{sop}`, which is not in this store; save it (`save_sop`, or `sop case start --sop FILE`) and the sub-case starts on the next round of the clock"
    )]
    CalledSopNotFound {
        /// The calling case.
        case: CaseId,
        /// The SOP it calls.
        sop: SopId,
    },
    /// The id a call task's sub-case is to start under belongs to another case, which is
    /// not that sub-case; the calling case waits.
    #[error(
        "case `{parent}` cannot start its sub-case `{case}`: a case with that id exists that it did not start; rename or remove that case"
    )]
    SubCaseIdTaken {
        /// The sub-case's id.
        case: CaseId,
        /// The calling case.
        parent: CaseId,
    },
    /// An SOP version was saved before with other text. Versions are immutable, because
    /// running cases finish on the version they started on.
    #[error(
        "SOP `{sop}` version {version} is already stored with different text; give the changed SOP a new version"
    )]
    SopVersionExists {
        /// The SOP.
        sop: SopId,
        /// Its version.
        version: u32,
    },
    /// An SOP text that does not parse or compile.
    #[error("SOP `{name}` cannot be used: {reason}")]
    InvalidSop {
        /// The source name (a path).
        name: String,
        /// The first error, with its line and column.
        reason: String,
    },
    /// The events handed to an append do not continue the case (wrong `seq`, no
    /// `case_started` first, another SOP version): a bug in the caller, not a conflict.
    #[error("events for case `{case}` cannot be appended: {reason}")]
    InvalidBatch {
        /// The case (`?` when the events do not name one).
        case: CaseId,
        /// What is wrong.
        reason: String,
    },
    /// [`open_existing`](super::open_existing) was pointed at a SQLite file that does not
    /// exist.
    #[error("there is no store at `{path}`: check the path, or start a case to create it")]
    NoStore {
        /// The path given.
        path: String,
    },
    /// A write to a store opened read-only (a SQLite file without write permission, or on
    /// a read-only file system). Nothing was written.
    #[error("the store is read-only: {operation} needs write access to it")]
    ReadOnly {
        /// What the store was asked to do.
        operation: String,
    },
    /// The disk (or the database's quota) is full. Nothing was written; free space and
    /// send the command again.
    #[error(
        "the disk holding the store is full: {operation} wrote nothing; free some space and try again"
    )]
    Full {
        /// What the store was asked to do.
        operation: String,
    },
    /// A case id prefix whose counter has given every number it can.
    #[error(
        "no case number is left for the prefix `{prefix}`: give the case an explicit id or use another prefix"
    )]
    CaseNumbersExhausted {
        /// The prefix.
        prefix: String,
    },
    /// The stored history of a case cannot be read back, or was changed after it was
    /// written: an event missing or out of order, JSON that does not parse, an event whose
    /// hash does not match its stored JSON and the previous event's hash (a flipped byte in
    /// its time, actor or payload), and, where the process is known ([`execute`](super::execute),
    /// [`load_verified`](super::load_verified)), an event that does not fit the SOP version
    /// the case runs on. `seq` is the first damaged event (0: the case's summary row).
    #[error("the stored history of case `{case}` is damaged at event {seq}: {reason}")]
    Corrupt {
        /// The case.
        case: CaseId,
        /// The first damaged event.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// A store URL this build cannot open.
    #[error("cannot open store `{url}`: {reason}")]
    UnsupportedUrl {
        /// The URL given.
        url: String,
        /// Why, and what would work.
        reason: String,
    },
    /// The store was written by a newer sopflow, with a schema this one does not know.
    #[error("the store has schema version {found}, newer than the {supported} this sopflow reads")]
    SchemaTooNew {
        /// The store's schema version.
        found: i64,
        /// The newest this build reads.
        supported: i64,
    },
    /// The database refused or failed an operation (connection lost, disk full, a lock
    /// held too long).
    #[error("the database failed while {operation}: {source}")]
    Database {
        /// What the store was doing (`appending events to case T-1`).
        operation: String,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another writer held the database longer than the store waits for it (SQLite's busy
    /// timeout), or the database ended a deadlock or a serialization conflict by failing
    /// this operation. Nothing was written; trying again is safe.
    #[error(
        "the database was busy while {operation}, and nothing was written; try again: {source}"
    )]
    Busy {
        /// What the store was doing.
        operation: String,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The blocking wrapper could not start its runtime.
    #[error("cannot start the store's runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl StoreError {
    /// Whether retrying the operation after loading the case again can succeed: true for
    /// [`StoreError::Conflict`] only.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    /// Whether the same operation may succeed if tried again: a version conflict (after
    /// loading the case again) or a busy database. Nothing was written in either case.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Conflict { .. } | StoreError::Busy { .. })
    }

    /// A driver error, as [`StoreError::Busy`] when the database says it was only busy.
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn database(
        operation: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        let source: Box<dyn std::error::Error + Send + Sync> = Box::new(source);
        let operation = operation.into();
        if is_read_only(source.as_ref()) {
            StoreError::ReadOnly { operation }
        } else if is_full(source.as_ref()) {
            StoreError::Full { operation }
        } else if is_busy(source.as_ref()) {
            StoreError::Busy { operation, source }
        } else {
            StoreError::Database { operation, source }
        }
    }
}

/// A driver error's code: SQLite's primary result code, or PostgreSQL's SQLSTATE.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
enum DriverCode {
    Sqlite(i32),
    Postgres(String),
}

/// The code of a driver error from sqlx or (for SQLite appends) rusqlite.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn driver_code(error: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<DriverCode> {
    #[cfg(feature = "sqlite")]
    if let Some(rusqlite::Error::SqliteFailure(failure, _)) =
        error.downcast_ref::<rusqlite::Error>()
    {
        return Some(DriverCode::Sqlite(failure.extended_code & 0xff));
    }
    let sqlx::Error::Database(database) = error.downcast_ref::<sqlx::Error>()? else {
        return None;
    };
    let code = database.code()?;
    Some(match code.parse::<i32>() {
        Ok(sqlite) => DriverCode::Sqlite(sqlite & 0xff),
        Err(_) => DriverCode::Postgres(code.into_owned()),
    })
}

/// Whether a driver error only says the database was busy: SQLite's `SQLITE_BUSY` and
/// `SQLITE_LOCKED` (with their extended codes), PostgreSQL's deadlock, serialization
/// failure and lock-not-available.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn is_busy(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    match driver_code(error) {
        Some(DriverCode::Sqlite(code)) => matches!(code, 5 | 6),
        Some(DriverCode::Postgres(code)) => matches!(&*code, "40P01" | "40001" | "55P03"),
        None => false,
    }
}

/// Whether a driver error says the database cannot be written: SQLite's `SQLITE_READONLY`
/// (with its extended codes), PostgreSQL's read-only transaction.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn is_read_only(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    match driver_code(error) {
        Some(DriverCode::Sqlite(code)) => code == 8,
        Some(DriverCode::Postgres(code)) => code == "25006",
        None => false,
    }
}

/// Whether a driver error says the disk is full: SQLite's `SQLITE_FULL`, PostgreSQL's
/// disk full (53100).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn is_full(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    match driver_code(error) {
        Some(DriverCode::Sqlite(code)) => code == 13,
        Some(DriverCode::Postgres(code)) => code == "53100",
        None => false,
    }
}

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
fn is_full(_: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    false
}

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
fn is_read_only(_: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    false
}

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
fn is_busy(_: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    false
}

/// Why [`execute`](super::execute) did not move a case on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError {
    /// The engine refused the command; nothing was written.
    #[error(transparent)]
    Refused(#[from] CommandError),
    /// Loading or appending failed; a [`StoreError::Conflict`] means nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExecuteError {
    /// Whether it is a version conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, ExecuteError::Store(e) if e.is_conflict())
    }

    /// Whether deciding the command again may succeed: a version conflict or a busy
    /// database ([`StoreError::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ExecuteError::Store(e) if e.is_retryable())
    }
}
