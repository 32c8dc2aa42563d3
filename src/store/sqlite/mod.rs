//! [`SqliteStore`]: the embedded default, one SQLite file in WAL mode.

mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::engine::{ActorId, CaseId, CaseState, CommandId};
use crate::model::{RoleId, SopId};

use super::batch::{Append, check_same_sop};
use super::codec::{self, from_micros, micros, roles_from_text, roles_text, sop_from_text};
use super::error::StoreError;
use super::{
    CaseFilter, CaseStore, CaseSummary, LatestCase, Person, SopSource, StoredCase,
    StoredNotification, TimerClaim, person_from_row, status_from_name, status_name,
};
use writer::AppendWriter;

/// The schema version this code writes and reads. 2 added `case_numbers`; 3 added
/// `events.hash`, the case's hash chain (filled in for existing events when migrating); 4
/// added `snapshots` (empty after migrating: cases get one as they move on); 6 added
/// `people`, the directory of people (empty after migrating); 7 added `case_facts`, the
/// facts reports read (empty after migrating: the next report fills it); 8 added
/// `commands`, every command each case applied (filled in from the stored events when
/// migrating); 9 keeps `events` in append order (rebuilt when migrating) and finds a
/// case's notifications through its events (`notifications.event_position`, filled in
/// when migrating).
const SCHEMA_VERSION: i64 = 9;

/// How long a writer waits for another process's write transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The events table, created under `name`. Rows are kept in the order they were appended
/// (`position`), with a unique key `(case_id, seq)` to read a case by: an append adds its
/// rows at the end of the table and a small entry per event to the key, where a table
/// clustered by case would insert whole rows in the middle of its tree and split full
/// pages, writing several pages per case to the WAL on every commit.
fn events_table(name: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (
    position INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases (case_id),
    seq INTEGER NOT NULL,
    v INTEGER NOT NULL,
    type TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    command TEXT NOT NULL,
    payload TEXT NOT NULL,
    hash TEXT,
    UNIQUE (case_id, seq)
);"
    )
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sopflow_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sops (
    sop_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (sop_id, version)
);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    sop_id TEXT NOT NULL,
    sop_version INTEGER NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    roles TEXT NOT NULL,
    next_timer_us INTEGER,
    updated_at_us INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until_us INTEGER,
    FOREIGN KEY (sop_id, sop_version) REFERENCES sops (sop_id, version)
);
CREATE TABLE IF NOT EXISTS case_roles (
    case_id TEXT NOT NULL REFERENCES cases (case_id),
    role TEXT NOT NULL,
    PRIMARY KEY (case_id, role)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    case_id TEXT PRIMARY KEY REFERENCES cases (case_id),
    seq INTEGER NOT NULL,
    format INTEGER NOT NULL,
    event_hash TEXT NOT NULL,
    digest TEXT NOT NULL,
    state TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS case_facts (
    case_id TEXT PRIMARY KEY REFERENCES cases (case_id),
    seq INTEGER NOT NULL,
    format INTEGER NOT NULL,
    event_hash TEXT NOT NULL,
    digest TEXT NOT NULL,
    facts TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS case_numbers (
    prefix TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    acknowledged_at_us INTEGER,
    event_position INTEGER
);
CREATE TABLE IF NOT EXISTS people (
    actor_id TEXT PRIMARY KEY,
    roles TEXT NOT NULL,
    active INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commands (
    case_id TEXT NOT NULL,
    command_id TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (case_id, command_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notifications_pending ON notifications (id) WHERE acknowledged_at_us IS NULL;
CREATE INDEX IF NOT EXISTS case_roles_role ON case_roles (role, case_id);
CREATE INDEX IF NOT EXISTS cases_timer ON cases (next_timer_us) WHERE next_timer_us IS NOT NULL;
CREATE INDEX IF NOT EXISTS cases_sop ON cases (sop_id, sop_version);
CREATE INDEX IF NOT EXISTS cases_status ON cases (status);
"#;

/// Cases in one SQLite file: the embedded default.
///
/// The file is in WAL mode with `synchronous = FULL`: a committed append is on the
/// disk even if the machine loses power; readers never block the writer. Appends go
/// through one writer thread with its own connection: the appends that arrive while it
/// writes are written together (group commit), in one `BEGIN IMMEDIATE` transaction and
/// one fsync, each checked on its own (its case's version, its commands, the hash it
/// continues: a refused append writes nothing and fails alone), each caller answered only
/// after the commit. Events are stored in the order they were appended, under a unique
/// key `(case_id, seq)`, so a `seq` can never be written twice. Several processes may
/// share the file (they wait for each other's write lock up to 10 s).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    /// For writes other than appends (timer claims, SOP sources, people, kept facts).
    writer: SqlitePool,
    /// The append writer (`None`: a read-only file).
    appends: Option<Arc<AppendWriter>>,
    /// The file of a private database, removed when the last handle is dropped.
    private: Option<Arc<PrivateFile>>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the store at `url`: `sqlite:PATH`, `sqlite://PATH`,
    /// `sqlite::memory:`, or a plain path.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        match super::any::sqlite_path(url) {
            Some(path) => SqliteStore::open_path(path).await,
            None => SqliteStore::in_memory().await,
        }
    }

    /// Opens (creating it if missing) the store in the file at `path`.
    ///
    /// A file without write permission is opened read-only (SQLite's `mode=ro`): it can be
    /// listed and loaded, and every write fails with [`StoreError::ReadOnly`].
    pub async fn open_path(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_file(path.as_ref(), writer::Durability::Synced).await
    }

    /// A private store, gone when the store (every clone of it) is dropped: for tests and
    /// one-off runs.
    ///
    /// It is a file under the system's temporary directory, written without waiting for
    /// the disk, so that it runs exactly the code a store on disk runs (appends have their
    /// own connection, which an in-memory SQLite database cannot share).
    pub async fn in_memory() -> Result<SqliteStore, StoreError> {
        let private = PrivateFile::new();
        let mut store = SqliteStore::open_file(&private.path, writer::Durability::Unsynced).await?;
        store.private = Some(Arc::new(private));
        Ok(store)
    }

    async fn open_file(
        path: &Path,
        durability: writer::Durability,
    ) -> Result<SqliteStore, StoreError> {
        let read_only = std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly());
        let options = SqliteConnectOptions::new()
            .filename(path)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // The journal mode is written into the file, so a read-only store keeps its own.
        let options = if read_only {
            options.read_only(true)
        } else {
            options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match durability {
                    writer::Durability::Synced => SqliteSynchronous::Full,
                    writer::Durability::Unsynced => SqliteSynchronous::Off,
                })
        };
        let opening = format!("opening the SQLite file {}", path.display());
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::database(&opening, e))?;
        migrate(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::database(&opening, e))?;
        let appends = if read_only {
            None
        } else {
            Some(Arc::new(AppendWriter::start(
                path,
                durability,
                BUSY_TIMEOUT,
            )?))
        };
        Ok(SqliteStore {
            reader,
            writer,
            appends,
            private: None,
        })
    }

    /// Closes the connections, waiting for running operations (and queued appends) to
    /// finish.
    pub async fn close(&self) {
        if let Some(appends) = &self.appends {
            appends.close().await;
        }
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn begin_write(
        &self,
        operation: &str,
    ) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| StoreError::database(operation, e))
    }
}

/// The file of a private store: a new name under the temporary directory, removed (with
/// its WAL) when dropped.
#[derive(Debug)]
struct PrivateFile {
    path: PathBuf,
}

impl PrivateFile {
    fn new() -> PrivateFile {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "sopflow-private-{}-{}-{}.db",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            // Another run of this process id may have left a file behind (a crash).
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_micros())
        );
        PrivateFile {
            path: std::env::temp_dir().join(name),
        }
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        // Connections still open keep an unlinked file alive until they close.
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let fail = |e| db_error("creating the store's tables", e);
    // A store already at this version is only read: opening it takes no write lock, so
    // many processes open it at once without waiting for each other.
    let mut conn = pool.acquire().await.map_err(fail)?;
    let found = stored_schema_version(&mut conn).await.map_err(fail)?;
    if found == Some(SCHEMA_VERSION) {
        return Ok(());
    }
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .map_err(fail)?;
    let migrated = async {
        // Read again under the write lock: another process may have migrated meanwhile.
        let found = stored_schema_version(&mut conn).await?.unwrap_or(0);
        if found < SCHEMA_VERSION {
            sqlx::raw_sql(SCHEMA).execute(&mut *conn).await?;
            let events = events_table("events");
            sqlx::raw_sql(sqlx::AssertSqlSafe(events.as_str()))
                .execute(&mut *conn)
                .await?;
            if found < 3 {
                add_hashes(&mut conn).await?;
            }
            if found < 8 {
                add_commands(&mut conn).await?;
            }
            if (1..9).contains(&found) {
                keep_events_in_append_order(&mut conn).await?;
                find_notifications_through_events(&mut conn).await?;
            }
            sqlx::raw_sql(
                "CREATE INDEX IF NOT EXISTS notifications_event \
                 ON notifications (event_position)",
            )
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO sopflow_meta (key, value) VALUES ('schema', ?) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(SCHEMA_VERSION.to_string())
            .execute(&mut *conn)
            .await?;
        }
        Ok::<_, sqlx::Error>(found)
    }
    .await;
    let end = if matches!(migrated, Ok(found) if found <= SCHEMA_VERSION) {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    sqlx::raw_sql(end).execute(&mut *conn).await.map_err(fail)?;
    let found = migrated.map_err(fail)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Schema 3: adds `events.hash` to a store written before it, and fills in each case's
/// chain over its stored events, case by case. Runs inside the migration's transaction.
async fn add_hashes(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let has_column: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM pragma_table_info('events') WHERE name = 'hash'")
            .fetch_optional(&mut *conn)
            .await?;
    if has_column.is_none() {
        sqlx::raw_sql("ALTER TABLE events ADD COLUMN hash TEXT")
            .execute(&mut *conn)
            .await?;
    }
    let cases: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT case_id FROM events WHERE hash IS NULL")
            .fetch_all(&mut *conn)
            .await?;
    for case in cases {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, payload FROM events WHERE case_id = ? ORDER BY seq")
                .bind(&case)
                .fetch_all(&mut *conn)
                .await?;
        let payloads: Vec<&str> = rows.iter().map(|(_, json)| json.as_str()).collect();
        let hashes = codec::chain_all(codec::GENESIS, &payloads);
        for ((seq, _), hash) in rows.iter().zip(hashes) {
            sqlx::query("UPDATE events SET hash = ? WHERE case_id = ? AND seq = ?")
                .bind(hash)
                .bind(&case)
                .bind(seq)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Schema 8: records the commands every stored case applied, from its events. Runs inside
/// the migration's transaction.
async fn add_commands(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "INSERT OR IGNORE INTO commands (case_id, command_id, first_seq, count) \
         SELECT case_id, command, MIN(seq), COUNT(*) FROM events GROUP BY case_id, command",
    )
    .execute(&mut *conn)
    .await
    .map(|_| ())
}

/// Schema 9: moves the events into a table kept in append order (see [`events_table`]).
/// The events stored before keep their case-by-case order. Runs inside the migration's
/// transaction.
async fn keep_events_in_append_order(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let rebuild = format!(
        "{} INSERT INTO events_in_order (case_id, seq, v, type, at_us, command, payload, hash) \
         SELECT case_id, seq, v, type, at_us, command, payload, hash FROM events \
         ORDER BY case_id, seq; \
         DROP TABLE events; \
         ALTER TABLE events_in_order RENAME TO events;",
        events_table("events_in_order")
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(rebuild))
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

/// Schema 9: each notification names the position of the event that caused it, and a
/// case's notifications are found through its events (`notifications_event`, kept in
/// append order like the events) instead of an index by case, which cost every append
/// one more page per case in the WAL. Runs inside the migration's transaction, after the
/// events have their positions.
async fn find_notifications_through_events(
    conn: &mut sqlx::SqliteConnection,
) -> Result<(), sqlx::Error> {
    let has_column: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM pragma_table_info('notifications') WHERE name = 'event_position'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if has_column.is_none() {
        sqlx::raw_sql("ALTER TABLE notifications ADD COLUMN event_position INTEGER")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::raw_sql(
        "UPDATE notifications SET event_position = (SELECT e.position FROM events e \
         WHERE e.case_id = notifications.case_id AND e.seq = notifications.seq); \
         DROP INDEX IF EXISTS notifications_case;",
    )
    .execute(&mut *conn)
    .await
    .map(|_| ())
}

/// The schema version the store records, `None` when it has no tables yet.
async fn stored_schema_version(
    conn: &mut sqlx::SqliteConnection,
) -> Result<Option<i64>, sqlx::Error> {
    let table: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sopflow_meta'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if table.is_none() {
        return Ok(None);
    }
    let found: Option<String> =
        sqlx::query_scalar("SELECT value FROM sopflow_meta WHERE key = 'schema'")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.map(|v| v.parse().unwrap_or(i64::MAX)))
}

fn summary_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<CaseSummary, sqlx::Error> {
    let case = CaseId::new(row.try_get::<String, _>("case_id")?);
    let to_sqlx = |e: StoreError| sqlx::Error::Decode(Box::new(e));
    let status: String = row.try_get("status")?;
    Ok(CaseSummary {
        sop: sop_from_text(&case, &row.try_get::<String, _>("sop_id")?).map_err(to_sqlx)?,
        sop_version: row.try_get::<i64, _>("sop_version")? as u32,
        status: status_from_name(&status).ok_or_else(|| {
            to_sqlx(StoreError::Corrupt {
                case: case.clone(),
                seq: 0,
                reason: format!("its summary row has the status `{status}`"),
            })
        })?,
        version: row.try_get::<i64, _>("version")? as u64,
        roles: roles_from_text(&case, &row.try_get::<String, _>("roles")?).map_err(to_sqlx)?,
        next_timer: match row.try_get::<Option<i64>, _>("next_timer_us")? {
            Some(t) => Some(from_micros(&case, t).map_err(to_sqlx)?),
            None => None,
        },
        updated_at: from_micros(&case, row.try_get("updated_at_us")?).map_err(to_sqlx)?,
        case,
    })
}

/// Turns a driver error into the store's, unwrapping the store errors decoding raised.
fn db_error(operation: impl Into<String>, error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Decode(inner) => match inner.downcast::<StoreError>() {
            Ok(store) => *store,
            Err(other) => StoreError::database(operation, sqlx::Error::Decode(other)),
        },
        other => StoreError::database(operation, other),
    }
}

impl SqliteStore {
    /// The histories of the cases of `summaries` (in case id order), read in one query:
    /// with `whole_range`, a range scan from the first case to the last (the page is
    /// every case in that range, but for other SOPs'); else a lookup of each case.
    async fn histories_of(
        &self,
        summaries: Vec<CaseSummary>,
        whole_range: bool,
    ) -> Result<Vec<super::CaseHistory>, StoreError> {
        let (Some(first), Some(last)) = (summaries.first(), summaries.last()) else {
            return Ok(Vec::new());
        };
        // Each case's events packed into one row (see `codec::unpack_history`): the SQLite
        // driver hands rows from its worker thread one at a time, and with a row per
        // event that hand-over cost more than reading the events.
        let rows: Vec<(String, String)> = if whole_range {
            // One range scan of the events' primary key (case_id, seq) for the whole page.
            sqlx::query_as(
                "SELECT case_id, group_concat(seq || ' ' || ifnull(hash, '-') || ' ' \
                 || octet_length(payload) || ' ' || payload, '' ORDER BY seq) FROM events \
                 WHERE case_id >= ?1 AND case_id <= ?2 GROUP BY case_id ORDER BY case_id",
            )
            .bind(first.case.as_str())
            .bind(last.case.as_str())
            .fetch_all(&self.reader)
            .await
        } else {
            let ids: Vec<&str> = summaries.iter().map(|s| s.case.as_str()).collect();
            let ids = serde_json::to_string(&ids)
                .map_err(|e| StoreError::database("reading case histories", e))?;
            sqlx::query_as(
                "SELECT case_id, group_concat(seq || ' ' || ifnull(hash, '-') || ' ' \
                 || octet_length(payload) || ' ' || payload, '' ORDER BY seq) FROM events \
                 WHERE case_id IN (SELECT value FROM json_each(?1)) \
                 GROUP BY case_id ORDER BY case_id",
            )
            .bind(ids)
            .fetch_all(&self.reader)
            .await
        }
        .map_err(|e| db_error("reading case histories", e))?;
        let index: rustc_hash::FxHashMap<&str, usize> = summaries
            .iter()
            .enumerate()
            .map(|(i, summary)| (summary.case.as_str(), i))
            .collect();
        let mut packed = vec![String::new(); summaries.len()];
        for (case, events) in rows {
            // Cases of another SOP in the same id range are not in the page.
            if let Some(&i) = index.get(case.as_str()) {
                packed[i] = events;
            }
        }
        drop(index);
        super::decode_page(summaries, packed, |case, packed| {
            codec::decode_history(case, codec::unpack_history(case, &packed)?)
        })
    }
}

impl CaseStore for SqliteStore {
    async fn append(&self, batch: &Append) -> Result<(), StoreError> {
        match &self.appends {
            Some(appends) => appends.append(batch).await,
            None => Err(StoreError::ReadOnly {
                operation: format!("appending events to case `{}`", batch.case()),
            }),
        }
    }

    async fn load_latest(&self, case: &CaseId) -> Result<LatestCase, StoreError> {
        let fail = |e| db_error(format!("loading case `{case}`"), e);
        // One read: the snapshot (kind 0), then the events from the snapshot's own one on
        // (kind 1; every event when there is no snapshot).
        type Row = (
            i64,
            i64,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT 0, seq, format, event_hash, digest, state FROM snapshots WHERE case_id = ?1 \
             UNION ALL \
             SELECT 1, seq, NULL, payload, hash, NULL FROM events WHERE case_id = ?1 \
             AND seq >= COALESCE((SELECT seq FROM snapshots WHERE case_id = ?1), 1) \
             ORDER BY 1, 2",
        )
        .bind(case.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(fail)?;
        let mut rows = rows.into_iter().peekable();
        let snapshot = rows.next_if(|row| row.0 == 0);
        let mut events =
            rows.map(|(_, seq, _, json, hash, _)| (seq, json.unwrap_or_default(), hash));
        let Some((_, seq, format, event_hash, digest, state)) = snapshot else {
            return LatestCase::whole(case, events);
        };
        let snapshot = codec::StoredSnapshot {
            seq: seq as u64,
            format: format.unwrap_or(0),
            event_hash: event_hash.unwrap_or_default(),
            digest: digest.unwrap_or_default(),
            state: state.unwrap_or_default(),
        };
        let at = events
            .next()
            .filter(|(first, _, _)| *first == seq)
            .and_then(|(_, _, hash)| hash);
        if let Some(latest) = LatestCase::from_snapshot(case, &snapshot, at.as_deref(), events) {
            return latest;
        }
        let rows: Vec<(i64, String, Option<String>)> =
            sqlx::query_as("SELECT seq, payload, hash FROM events WHERE case_id = ? ORDER BY seq")
                .bind(case.as_str())
                .fetch_all(&self.reader)
                .await
                .map_err(fail)?;
        LatestCase::whole(case, rows)
    }

    async fn command_outcome(
        &self,
        case: &CaseId,
        command: &CommandId,
    ) -> Result<Option<std::ops::RangeInclusive<u64>>, StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT first_seq, count FROM commands WHERE case_id = ? AND command_id = ?",
        )
        .bind(case.as_str())
        .bind(command.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(|e| db_error(format!("reading the commands of case `{case}`"), e))?;
        Ok(row.map(|(first, count)| first as u64..=(first + count - 1) as u64))
    }

    async fn pending_notifications(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let rows: Vec<codec::NotificationRow> = sqlx::query_as(
            "SELECT id, case_id, seq, payload, acknowledged_at_us FROM notifications \
             WHERE acknowledged_at_us IS NULL AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(after.map_or(0, |id| i64::try_from(id).unwrap_or(i64::MAX)))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| db_error("reading pending notifications", e))?;
        rows.into_iter().map(codec::decode_notification).collect()
    }

    async fn case_notifications(
        &self,
        case: &CaseId,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let rows: Vec<codec::NotificationRow> = sqlx::query_as(
            "SELECT n.id, n.case_id, n.seq, n.payload, n.acknowledged_at_us \
             FROM events e JOIN notifications n ON n.event_position = e.position \
             WHERE e.case_id = ? ORDER BY n.id",
        )
        .bind(case.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(|e| db_error(format!("reading the notifications of case `{case}`"), e))?;
        rows.into_iter().map(codec::decode_notification).collect()
    }

    async fn acknowledge_notification(
        &self,
        id: u64,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let operation = format!("acknowledging notification {id}");
        let key = i64::try_from(id).map_err(|_| StoreError::NotificationNotFound { id })?;
        let updated = sqlx::query(
            "UPDATE notifications SET acknowledged_at_us = ? \
             WHERE id = ? AND acknowledged_at_us IS NULL",
        )
        .bind(micros(at))
        .bind(key)
        .execute(&self.writer)
        .await
        .map_err(|e| db_error(&operation, e))?;
        if updated.rows_affected() == 1 {
            return Ok(true);
        }
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM notifications WHERE id = ?")
            .bind(key)
            .fetch_optional(&self.writer)
            .await
            .map_err(|e| db_error(&operation, e))?;
        match exists {
            Some(_) => Ok(false),
            None => Err(StoreError::NotificationNotFound { id }),
        }
    }

    async fn load(&self, case: &CaseId) -> Result<StoredCase, StoreError> {
        let rows: Vec<(i64, String, Option<String>)> =
            sqlx::query_as("SELECT seq, payload, hash FROM events WHERE case_id = ? ORDER BY seq")
                .bind(case.as_str())
                .fetch_all(&self.reader)
                .await
                .map_err(|e| db_error(format!("loading case `{case}`"), e))?;
        if rows.is_empty() {
            return Err(StoreError::NotFound { case: case.clone() });
        }
        let events = codec::decode_history(case, rows)?;
        let state = CaseState::replay(&events);
        Ok(StoredCase { events, state })
    }

    async fn list(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT case_id, sop_id, sop_version, status, version, roles, next_timer_us, \
             updated_at_us FROM cases c \
             WHERE (?1 IS NULL OR sop_id = ?1) \
             AND (?2 IS NULL OR sop_version = ?2) \
             AND (?3 IS NULL OR status = ?3) \
             AND (?4 IS NULL OR EXISTS (SELECT 1 FROM case_roles r \
                  WHERE r.case_id = c.case_id AND r.role = ?4)) \
             AND (?5 IS NULL OR case_id > ?5) \
             ORDER BY case_id LIMIT ?6",
        )
        .bind(filter.sop.as_ref().map(SopId::as_str))
        .bind(filter.sop_version.map(i64::from))
        .bind(filter.status.map(status_name))
        .bind(filter.role.as_ref().map(RoleId::as_str))
        .bind(filter.after.as_ref().map(CaseId::as_str))
        .bind(filter.limit.map_or(-1, i64::from))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| db_error("listing cases", e))?;
        rows.iter()
            .map(|row| summary_from_row(row).map_err(|e| db_error("listing cases", e)))
            .collect()
    }

    async fn histories(&self, filter: &CaseFilter) -> Result<Vec<super::CaseHistory>, StoreError> {
        let summaries = self.list(filter).await?;
        self.histories_of(summaries, true).await
    }

    async fn report_page(
        &self,
        filter: &CaseFilter,
        format: u32,
    ) -> Result<Vec<super::ReportCase>, StoreError> {
        let summaries = self.list(filter).await?;
        let (Some(first), Some(last)) = (summaries.first(), summaries.last()) else {
            return Ok(Vec::new());
        };
        // Tied to the stored hash of the last event they were read from: one primary key
        // lookup per case (`CROSS JOIN` keeps the facts the outer loop: SQLite otherwise
        // scans every event of the range). The page's facts come packed into one row (see
        // `codec::unpack_facts`), as the events of a case do, in any order.
        let packed: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(octet_length(f.case_id) || ' ' || f.case_id || ' ' || f.seq \
             || ' ' || f.format || ' ' || f.event_hash || ' ' || f.digest || ' ' \
             || octet_length(f.facts) || ' ' || f.facts, '') \
             FROM case_facts f CROSS JOIN events e ON e.case_id = f.case_id AND e.seq = f.seq \
             WHERE f.case_id >= ?1 AND f.case_id <= ?2 AND e.hash = f.event_hash",
        )
        .bind(first.case.as_str())
        .bind(last.case.as_str())
        .fetch_one(&self.reader)
        .await
        .map_err(|e| db_error("reading kept case facts", e))?;
        // Unreadable packing is damage to some row: every case is read from its events.
        let rows = codec::unpack_facts(packed.as_deref().unwrap_or("")).unwrap_or_default();
        let mut kept = super::current_facts(&summaries, format, rows);
        let missing: Vec<CaseSummary> = summaries
            .iter()
            .zip(&kept)
            .filter(|(_, facts)| facts.is_none())
            .map(|(summary, _)| summary.clone())
            .collect();
        let whole_range = missing.len() == summaries.len();
        let mut histories = self.histories_of(missing, whole_range).await?.into_iter();
        let mut page = Vec::with_capacity(summaries.len());
        for (summary, facts) in summaries.into_iter().zip(kept.iter_mut()) {
            match facts.take() {
                Some(facts) => page.push(super::ReportCase::Facts { summary, facts }),
                None => match histories.next() {
                    Some(history) => page.push(super::ReportCase::Events(history)),
                    None => return Err(StoreError::NotFound { case: summary.case }),
                },
            }
        }
        Ok(page)
    }

    async fn keep_facts(&self, facts: &[super::KeptFacts]) -> Result<(), StoreError> {
        if facts.is_empty() {
            return Ok(());
        }
        let operation = "keeping case facts for reports";
        let fail = |e| db_error(operation, e);
        let mut tx = self.begin_write(operation).await?;
        for kept in facts {
            let hash: Option<Option<String>> =
                sqlx::query_scalar("SELECT hash FROM events WHERE case_id = ? AND seq = ?")
                    .bind(kept.case.as_str())
                    .bind(kept.seq as i64)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(fail)?;
            let Some(Some(hash)) = hash else { continue };
            let digest = codec::to_hex(&codec::facts_digest(
                kept.format,
                kept.seq,
                &hash,
                &kept.text,
            ));
            sqlx::query(
                "INSERT INTO case_facts (case_id, seq, format, event_hash, digest, facts) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (case_id) DO UPDATE SET \
                 seq = excluded.seq, format = excluded.format, \
                 event_hash = excluded.event_hash, digest = excluded.digest, \
                 facts = excluded.facts WHERE excluded.seq >= case_facts.seq",
            )
            .bind(kept.case.as_str())
            .bind(kept.seq as i64)
            .bind(i64::from(kept.format))
            .bind(&hash)
            .bind(digest)
            .bind(&kept.text)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)
    }

    async fn claim_timers(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<TimerClaim>, StoreError> {
        let operation = "claiming due timers";
        let lease_until = now + lease;
        let mut tx = self.begin_write(operation).await?;
        let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
            "UPDATE cases SET lease_owner = ?1, lease_until_us = ?2 \
             WHERE case_id IN (SELECT case_id FROM cases \
                 WHERE next_timer_us <= ?3 AND (lease_until_us IS NULL OR lease_until_us <= ?3) \
                 ORDER BY next_timer_us, case_id LIMIT ?4) \
             RETURNING case_id, sop_id, sop_version, version, next_timer_us",
        )
        .bind(owner)
        .bind(micros(lease_until))
        .bind(micros(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db_error(operation, e))?;
        tx.commit().await.map_err(|e| db_error(operation, e))?;
        let mut claims = rows
            .into_iter()
            .map(|row| codec::timer_claim(row, owner.to_owned(), micros(lease_until)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        claims.sort_by(|a, b| (a.due_at, &a.case).cmp(&(b.due_at, &b.case)));
        Ok(claims)
    }

    async fn held_timers(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TimerClaim>, StoreError> {
        let rows: Vec<(String, String, i64, i64, i64, String, i64)> = sqlx::query_as(
            "SELECT case_id, sop_id, sop_version, version, next_timer_us, lease_owner, \
             lease_until_us FROM cases \
             WHERE next_timer_us <= ?1 AND lease_until_us > ?1 AND lease_owner IS NOT NULL \
             ORDER BY next_timer_us, case_id LIMIT ?2",
        )
        .bind(micros(now))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(|e| db_error("listing timers held by other workers", e))?;
        rows.into_iter()
            .map(|(case, sop, sop_version, version, due, owner, until)| {
                codec::timer_claim((case, sop, sop_version, version, due), owner, until)
            })
            .collect()
    }

    async fn release_timer(&self, claim: &TimerClaim) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE cases SET lease_owner = NULL, lease_until_us = NULL \
             WHERE case_id = ? AND lease_owner = ? AND lease_until_us = ?",
        )
        .bind(claim.case.as_str())
        .bind(&claim.owner)
        .bind(micros(claim.lease_until))
        .execute(&self.writer)
        .await
        .map_err(|e| db_error(format!("releasing the timer of case `{}`", claim.case), e))?;
        Ok(())
    }

    async fn allocate_case_id(&self, prefix: &str) -> Result<CaseId, StoreError> {
        let operation = format!("allocating a case number for `{prefix}`");
        let fail = |e| db_error(&operation, e);
        let mut tx = self.begin_write(&operation).await?;
        // The first number of a prefix follows the highest one already used, so a store
        // filled before counters existed (or with explicit ids) does not hand them out again.
        // SQLite would turn an overflowing integer into a float: stop at the largest one.
        let last: Option<i64> = sqlx::query_scalar(
            "INSERT INTO case_numbers (prefix, last) VALUES (?1, 1 + COALESCE(( \
                 SELECT MAX(CAST(substr(case_id, length(?1) + 1) AS INTEGER)) FROM cases \
                 WHERE substr(case_id, 1, length(?1)) = ?1 \
                 AND length(case_id) > length(?1) AND length(case_id) <= length(?1) + 18 \
                 AND substr(case_id, length(?1) + 1) NOT GLOB '*[^0-9]*'), 0)) \
             ON CONFLICT (prefix) DO UPDATE SET last = last + 1 \
                 WHERE last < 9223372036854775807 \
             RETURNING last",
        )
        .bind(prefix)
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail)?;
        let Some(last) = last else {
            return Err(StoreError::CaseNumbersExhausted {
                prefix: prefix.to_owned(),
            });
        };
        tx.commit().await.map_err(fail)?;
        Ok(super::numbered_case(prefix, last as u64))
    }

    async fn put_sop_source(&self, source: &SopSource) -> Result<(), StoreError> {
        let operation = format!("saving SOP `{}` version {}", source.sop, source.version);
        let fail = |e| db_error(&operation, e);
        sqlx::query(
            "INSERT OR IGNORE INTO sops (sop_id, version, name, source) VALUES (?, ?, ?, ?)",
        )
        .bind(source.sop.as_str())
        .bind(i64::from(source.version))
        .bind(&source.name)
        .bind(&source.text)
        .execute(&self.writer)
        .await
        .map_err(fail)?;
        let stored: String =
            sqlx::query_scalar("SELECT source FROM sops WHERE sop_id = ? AND version = ?")
                .bind(source.sop.as_str())
                .bind(i64::from(source.version))
                .fetch_one(&self.writer)
                .await
                .map_err(fail)?;
        check_same_sop(&stored, source)
    }

    async fn sop_source(&self, sop: &SopId, version: u32) -> Result<SopSource, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT name, source FROM sops WHERE sop_id = ? AND version = ?")
                .bind(sop.as_str())
                .bind(i64::from(version))
                .fetch_optional(&self.reader)
                .await
                .map_err(|e| db_error(format!("loading SOP `{sop}` version {version}"), e))?;
        match row {
            Some((name, text)) => Ok(SopSource {
                sop: sop.clone(),
                version,
                name,
                text,
            }),
            None => Err(StoreError::SopNotFound {
                sop: sop.clone(),
                version,
            }),
        }
    }

    async fn sop_versions(&self) -> Result<Vec<(SopId, u32)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT sop_id, version FROM sops ORDER BY sop_id, version")
                .fetch_all(&self.reader)
                .await
                .map_err(|e| db_error("listing SOP versions", e))?;
        rows.into_iter()
            .map(|(sop, version)| {
                SopId::new(&sop)
                    .map(|id| (id, version as u32))
                    .map_err(|reason| StoreError::InvalidSop { name: sop, reason })
            })
            .collect()
    }

    async fn put_person(&self, person: &Person) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO people (actor_id, roles, active) VALUES (?1, ?2, ?3) \
             ON CONFLICT (actor_id) DO UPDATE SET roles = excluded.roles, active = excluded.active",
        )
        .bind(person.id.as_str())
        .bind(roles_text(&person.roles))
        .bind(person.active)
        .execute(&self.writer)
        .await
        .map_err(|e| db_error(format!("saving person `{}`", person.id), e))?;
        Ok(())
    }

    async fn person(&self, id: &ActorId) -> Result<Option<Person>, StoreError> {
        let row: Option<(String, bool)> =
            sqlx::query_as("SELECT roles, active FROM people WHERE actor_id = ?1")
                .bind(id.as_str())
                .fetch_optional(&self.reader)
                .await
                .map_err(|e| db_error(format!("reading person `{id}`"), e))?;
        row.map(|(roles, active)| person_from_row(id.as_str(), &roles, active))
            .transpose()
    }

    async fn people(&self) -> Result<Vec<Person>, StoreError> {
        let rows: Vec<(String, String, bool)> =
            sqlx::query_as("SELECT actor_id, roles, active FROM people ORDER BY actor_id")
                .fetch_all(&self.reader)
                .await
                .map_err(|e| db_error("listing people", e))?;
        rows.iter()
            .map(|(id, roles, active)| person_from_row(id, roles, *active))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A private store is a file of its own, removed with its WAL when the last handle to
    /// the store is dropped.
    #[tokio::test]
    async fn a_private_store_leaves_no_file_behind() {
        let store = SqliteStore::in_memory().await.unwrap();
        let path = store.private.as_ref().unwrap().path.clone();
        let copy = store.clone();
        store.save_sop("hello.yaml", HELLO).await.unwrap();
        assert!(path.exists());
        drop(store);
        assert!(path.exists(), "a clone still holds the store");
        assert_eq!(copy.sop_versions().await.unwrap().len(), 1);
        copy.close().await;
        drop(copy);
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            assert!(!Path::new(&file).exists(), "{}", file.display());
        }
    }

    /// A closed store writes what was queued and refuses later appends, saying so.
    #[tokio::test]
    async fn a_closed_store_refuses_appends() {
        use crate::engine::{Action, Actor, Command};
        let store = SqliteStore::in_memory().await.unwrap();
        let process = store.save_sop("hello.yaml", HELLO).await.unwrap();
        let start = |case: &str| {
            let command = Command::new(
                format!("start-{case}").as_str(),
                Actor::new("ana", [RoleId::new("agent").unwrap()]),
                Action::Start {
                    case: CaseId::new(case),
                    fields: Default::default(),
                },
            );
            let now = Utc::now();
            let events =
                crate::engine::handle(&process, &CaseState::default(), command, now).unwrap();
            Append::new(&process, &CaseState::default(), events).unwrap()
        };
        store.append(&start("C-1")).await.unwrap();
        store.close().await;
        let refused = store.append(&start("C-2")).await.unwrap_err();
        assert!(
            refused.to_string().contains("the store was closed"),
            "{refused}"
        );
    }

    const HELLO: &str = "id: hello
version: 1
title: Hello
department: Quality Assurance
roles: { agent: Support team member }
steps:
  - { id: work, title: Work, role: agent, end: true }
";
}
