//! [`PostgresStore`]: cases in PostgreSQL, shared by several app instances.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row};

use crate::engine::{ActorId, CaseId, CaseState, CommandId};
use crate::model::{RoleId, SopId};

use super::batch::{Append, check_same_sop};
use super::codec::{self, from_micros, micros, roles_from_text, roles_text, sop_from_text};
use super::error::StoreError;
use super::{
    CaseFilter, CaseStore, CaseSummary, LatestCase, Person, SopSource, StoredCase,
    StoredNotification, TimerClaim, person_from_row, status_from_name, status_name,
};

/// The schema version this code writes and reads. 2 added `case_numbers`; 3 added
/// `events.hash`, the case's hash chain (filled in for existing events when migrating); 4
/// added `snapshots` (empty after migrating: cases get one as they move on); 6 added
/// `people`, the directory of people (empty after migrating); 7 added `case_facts`, the
/// facts reports read (empty after migrating: the next report fills it); 8 added
/// `commands`, every command each case applied (filled in from the stored events when
/// migrating).
const SCHEMA_VERSION: i64 = 8;

/// Serializes table creation between instances starting at once.
const MIGRATION_LOCK: i64 = 0x0073_6f70_666c_6f77;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sopflow_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sops (
    sop_id TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (sop_id, version)
);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT COLLATE "C" PRIMARY KEY,
    sop_id TEXT COLLATE "C" NOT NULL,
    sop_version BIGINT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    roles TEXT NOT NULL,
    next_timer_us BIGINT,
    updated_at_us BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until_us BIGINT,
    FOREIGN KEY (sop_id, sop_version) REFERENCES sops (sop_id, version)
);
CREATE TABLE IF NOT EXISTS events (
    case_id TEXT COLLATE "C" NOT NULL REFERENCES cases (case_id),
    seq BIGINT NOT NULL,
    v INTEGER NOT NULL,
    type TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    command TEXT NOT NULL,
    payload JSON NOT NULL,
    hash TEXT,
    PRIMARY KEY (case_id, seq)
);
CREATE TABLE IF NOT EXISTS case_roles (
    case_id TEXT COLLATE "C" NOT NULL REFERENCES cases (case_id),
    role TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (case_id, role)
);
CREATE TABLE IF NOT EXISTS snapshots (
    case_id TEXT COLLATE "C" PRIMARY KEY REFERENCES cases (case_id),
    seq BIGINT NOT NULL,
    format BIGINT NOT NULL,
    event_hash TEXT NOT NULL,
    digest TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_facts (
    case_id TEXT COLLATE "C" PRIMARY KEY REFERENCES cases (case_id),
    seq BIGINT NOT NULL,
    format BIGINT NOT NULL,
    event_hash TEXT NOT NULL,
    digest TEXT NOT NULL,
    facts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_numbers (
    prefix TEXT COLLATE "C" PRIMARY KEY,
    last BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id BIGSERIAL PRIMARY KEY,
    case_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    payload TEXT NOT NULL,
    acknowledged_at_us BIGINT
);
CREATE TABLE IF NOT EXISTS people (
    actor_id TEXT COLLATE "C" PRIMARY KEY,
    roles TEXT NOT NULL,
    active BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    case_id TEXT COLLATE "C" NOT NULL,
    command_id TEXT COLLATE "C" NOT NULL,
    first_seq BIGINT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (case_id, command_id)
);
CREATE INDEX IF NOT EXISTS notifications_pending ON notifications (id) WHERE acknowledged_at_us IS NULL;
CREATE INDEX IF NOT EXISTS notifications_case ON notifications (case_id, id);
CREATE INDEX IF NOT EXISTS case_roles_role ON case_roles (role, case_id);
CREATE INDEX IF NOT EXISTS cases_timer ON cases (next_timer_us) WHERE next_timer_us IS NOT NULL;
CREATE INDEX IF NOT EXISTS cases_sop ON cases (sop_id, sop_version);
CREATE INDEX IF NOT EXISTS cases_status ON cases (status);
"#;

/// How to connect a [`PostgresStore`].
///
/// ```
/// use sopflow::store::PostgresOptions;
/// let options = PostgresOptions::new("postgres://sopflow:sopflow@localhost/sopflow")
///     .schema("support")
///     .max_connections(16);
/// assert_eq!(options.max_connections, 16);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// The schema the tables live in (created if missing); `None` for the connection's
    /// default (`public`). Lowercase letters, digits and `_`.
    pub schema: Option<String>,
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// Session settings for every connection, such as `("synchronous_commit", "off")`
    /// where losing the last commits in a crash of the database server is acceptable.
    pub settings: Vec<(String, String)>,
}

impl PostgresOptions {
    /// Options for `url`, in the default schema, with at most 10 connections.
    pub fn new(url: impl Into<String>) -> PostgresOptions {
        PostgresOptions {
            url: url.into(),
            schema: None,
            max_connections: 10,
            settings: Vec::new(),
        }
    }

    /// Keeps the tables in `schema`.
    pub fn schema(mut self, schema: impl Into<String>) -> PostgresOptions {
        self.schema = Some(schema.into());
        self
    }

    /// Opens at most `max` connections.
    pub fn max_connections(mut self, max: u32) -> PostgresOptions {
        self.max_connections = max;
        self
    }

    /// Sets a session setting (a PostgreSQL run-time parameter) on every connection.
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> PostgresOptions {
        self.settings.push((name.into(), value.into()));
        self
    }
}

/// Cases in PostgreSQL: for several app instances sharing the work.
///
/// An append is one statement, so one transaction and one round trip: it updates the
/// case's summary row only where the row still has the expected version (the row lock
/// makes a concurrent append wait, then see the new version and write nothing), and
/// writes the events (primary key `(case_id, seq)`) and roles through that row. Two
/// instances starting the same case meet on the primary key of `cases`, and the loser
/// gets a [`StoreError::Conflict`]. Timers are claimed with
/// `FOR UPDATE SKIP LOCKED`, so instances polling at once take disjoint cases.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` and creates the tables if needed, in the default schema.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_with(&PostgresOptions::new(url)).await
    }

    /// Connects with `options` and creates the schema and tables if needed.
    pub async fn connect_with(options: &PostgresOptions) -> Result<PostgresStore, StoreError> {
        let unsupported = |reason: String| StoreError::UnsupportedUrl {
            url: super::url_without_password(&options.url),
            reason,
        };
        let mut connect: PgConnectOptions = options
            .url
            .parse()
            .map_err(|e| unsupported(format!("it is not a PostgreSQL URL ({e})")))?;
        if let Some(schema) = &options.schema {
            check_schema_name(schema).map_err(unsupported)?;
            connect = connect.options([("search_path", schema.as_str())]);
        }
        connect = connect.options(
            options
                .settings
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            // A broken connection fails its query, which the caller sees as a database
            // error; pinging before every use would double the round trips of a load.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect)
            .await
            .map_err(|e| {
                StoreError::database(
                    format!(
                        "connecting to {}",
                        super::url_without_password(&options.url)
                    ),
                    e,
                )
            })?;
        migrate(&pool, options.schema.as_deref()).await?;
        Ok(PostgresStore { pool })
    }

    /// Closes the connections, waiting for running operations to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn check_schema_name(schema: &str) -> Result<(), String> {
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the schema name `{schema}` must be lowercase letters, digits and `_`, at most 63 bytes"
        ))
    }
}

async fn migrate(pool: &PgPool, schema: Option<&str>) -> Result<(), StoreError> {
    let fail = |e| StoreError::database("creating the store's tables", e);
    // A store already at this version needs no DDL, and must not get any: `CREATE INDEX IF
    // NOT EXISTS` locks its table even when the index exists, and deadlocks with appends
    // running in other processes.
    if stored_schema_version(pool).await.map_err(fail)? == Some(SCHEMA_VERSION) {
        return Ok(());
    }
    let mut tx = pool.begin().await.map_err(fail)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
    if let Some(schema) = schema {
        // The name was checked to be a plain lowercase identifier.
        let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
        sqlx::raw_sql(AssertSqlSafe(create))
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
    }
    let found: Option<String> =
        match sqlx::query_scalar::<_, Option<String>>("SELECT to_regclass('sopflow_meta')::text")
            .fetch_one(&mut *tx)
            .await
            .map_err(fail)?
        {
            Some(_) => sqlx::query_scalar("SELECT value FROM sopflow_meta WHERE key = 'schema'")
                .fetch_optional(&mut *tx)
                .await
                .map_err(fail)?,
            None => None,
        };
    let found: i64 = found.map_or(0, |v| v.parse().unwrap_or(i64::MAX));
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        sqlx::raw_sql(SCHEMA)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        if found < 3 {
            add_hashes(&mut tx).await.map_err(fail)?;
        }
        if found < 8 {
            sqlx::raw_sql(
                "INSERT INTO commands (case_id, command_id, first_seq, count) \
                 SELECT case_id, command, MIN(seq), COUNT(*) FROM events \
                 GROUP BY case_id, command ON CONFLICT DO NOTHING",
            )
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        }
        sqlx::query(
            "INSERT INTO sopflow_meta (key, value) VALUES ('schema', $1) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(SCHEMA_VERSION.to_string())
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
    }
    tx.commit().await.map_err(fail)
}

/// Schema 3: adds `events.hash` to a store written before it, and fills in each case's
/// chain over its stored events (their JSON text as stored), case by case. Runs inside the
/// migration's transaction.
async fn add_hashes(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("ALTER TABLE events ADD COLUMN IF NOT EXISTS hash TEXT")
        .execute(&mut *conn)
        .await?;
    let cases: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT case_id FROM events WHERE hash IS NULL")
            .fetch_all(&mut *conn)
            .await?;
    for case in cases {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, payload::text FROM events WHERE case_id = $1 ORDER BY seq")
                .bind(&case)
                .fetch_all(&mut *conn)
                .await?;
        let payloads: Vec<&str> = rows.iter().map(|(_, json)| json.as_str()).collect();
        let hashes = codec::chain_all(codec::GENESIS, &payloads);
        let seqs: Vec<i64> = rows.iter().map(|(seq, _)| *seq).collect();
        sqlx::query(
            "UPDATE events e SET hash = u.h FROM unnest($2::bigint[], $3::text[]) AS u(s, h) \
             WHERE e.case_id = $1 AND e.seq = u.s",
        )
        .bind(&case)
        .bind(seqs)
        .bind(hashes)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The schema version the store records, `None` when it has no tables yet.
async fn stored_schema_version(pool: &PgPool) -> Result<Option<i64>, sqlx::Error> {
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass('sopflow_meta')::text")
        .fetch_one(pool)
        .await?;
    if table.is_none() {
        return Ok(None);
    }
    let found: Option<String> =
        sqlx::query_scalar("SELECT value FROM sopflow_meta WHERE key = 'schema'")
            .fetch_optional(pool)
            .await?;
    Ok(found.map(|v| v.parse().unwrap_or(i64::MAX)))
}

fn summary_from_row(row: &sqlx::postgres::PgRow) -> Result<CaseSummary, StoreError> {
    let get = |e: sqlx::Error| StoreError::database("listing cases", e);
    let case = CaseId::new(row.try_get::<String, _>("case_id").map_err(get)?);
    let status: String = row.try_get("status").map_err(get)?;
    Ok(CaseSummary {
        sop: sop_from_text(&case, &row.try_get::<String, _>("sop_id").map_err(get)?)?,
        sop_version: row.try_get::<i64, _>("sop_version").map_err(get)? as u32,
        status: status_from_name(&status).ok_or_else(|| StoreError::Corrupt {
            case: case.clone(),
            seq: 0,
            reason: format!("its summary row has the status `{status}`"),
        })?,
        version: row.try_get::<i64, _>("version").map_err(get)? as u64,
        roles: roles_from_text(&case, &row.try_get::<String, _>("roles").map_err(get)?)?,
        next_timer: match row
            .try_get::<Option<i64>, _>("next_timer_us")
            .map_err(get)?
        {
            Some(t) => Some(from_micros(&case, t)?),
            None => None,
        },
        updated_at: from_micros(&case, row.try_get("updated_at_us").map_err(get)?)?,
        case,
    })
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

impl PostgresStore {
    /// The version of a case as committed now (after a failed append).
    async fn committed_version(&self, case: &CaseId) -> Result<u64, StoreError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM cases WHERE case_id = $1")
                .bind(case.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| {
                    StoreError::database(format!("reading the version of case `{case}`"), e)
                })?;
        Ok(version.map_or(0, |v| v as u64))
    }

    /// Writes the batch in one statement (so one implicit transaction and one round
    /// trip): the summary row is updated only if it still has the expected version (or
    /// inserted, for a new case, only if the SOP version is stored and the case is not),
    /// and the events and roles are written only through that row. Zero events written
    /// means the row did not qualify; [`PostgresStore::why_not_appended`] says why.
    async fn try_append(
        &self,
        batch: &Append,
        hashes: Vec<String>,
        snapshot: Option<codec::StoredSnapshot>,
    ) -> Result<u64, AppendFailure> {
        let summary = batch.summary();
        let events = batch.events();
        let notes: Vec<(i64, &str)> = batch
            .notifications()
            .iter()
            .zip(batch.encoded_notifications())
            .map(|(n, json)| (n.seq as i64, json.as_str()))
            .collect();
        let row_sql = if batch.expected() == 0 {
            "INSERT INTO cases (case_id, sop_id, sop_version, status, version, roles, \
             next_timer_us, updated_at_us) \
             SELECT $1, $9, $10, $3, $4, $5, $6, $7 \
             WHERE EXISTS (SELECT 1 FROM sops WHERE sop_id = $9 AND version = $10) \
             AND $25::bigint IS NULL AND $29::text IS NULL \
             ON CONFLICT (case_id) DO NOTHING RETURNING case_id"
        } else {
            "UPDATE cases SET status = $3, version = $4, roles = $5, next_timer_us = $6, \
             updated_at_us = $7, lease_owner = NULL, lease_until_us = NULL, sop_version = $10 \
             WHERE case_id = $1 AND version = $2 AND sop_id = $9 AND sop_version = $25 \
             AND ($29::text IS NULL OR EXISTS (SELECT 1 FROM events \
                 WHERE case_id = $1 AND seq = $2 AND hash = $29)) \
             RETURNING case_id"
        };
        let sql = format!(
            "WITH row AS ({row_sql}), \
             gone AS (DELETE FROM case_roles r USING row \
                 WHERE r.case_id = row.case_id AND NOT (r.role = ANY($8::text[]))), \
             roles AS (INSERT INTO case_roles (case_id, role) \
                 SELECT row.case_id, x FROM row, unnest($8::text[]) AS x \
                 ON CONFLICT DO NOTHING), \
             snap AS (INSERT INTO snapshots (case_id, seq, format, event_hash, digest, state) \
                 SELECT row.case_id, $18, $19, $20, $21, $22 FROM row WHERE $18::bigint IS NOT NULL \
                 ON CONFLICT (case_id) DO UPDATE SET seq = EXCLUDED.seq, format = EXCLUDED.format, \
                 event_hash = EXCLUDED.event_hash, digest = EXCLUDED.digest, state = EXCLUDED.state), \
             cmds AS (INSERT INTO commands (case_id, command_id, first_seq, count) \
                 SELECT row.case_id, x.c, x.f, x.n FROM row, \
                 unnest($26::text[], $27::bigint[], $28::int[]) AS x(c, f, n)), \
             notes AS (INSERT INTO notifications (case_id, seq, payload) \
                 SELECT row.case_id, n.s, n.p FROM row, \
                 unnest($23::bigint[], $24::text[]) WITH ORDINALITY AS n(s, p, o) ORDER BY n.o) \
             INSERT INTO events (case_id, seq, v, type, at_us, command, payload, hash) \
             SELECT row.case_id, s, v, t, a, c, p::json, h FROM row, \
                 unnest($11::bigint[], $12::int[], $13::text[], $14::bigint[], $15::text[], \
                        $16::text[], $17::text[]) AS u(s, v, t, a, c, p, h)"
        );
        let (sop, sop_version) = (summary.sop.as_str(), i64::from(summary.sop_version));
        let written = sqlx::query(AssertSqlSafe(sql))
            .bind(batch.case().as_str())
            .bind(batch.expected() as i64)
            .bind(status_name(summary.status))
            .bind(summary.version as i64)
            .bind(roles_text(&summary.roles))
            .bind(summary.next_timer.map(micros))
            .bind(micros(summary.updated_at))
            .bind(summary.roles.iter().map(RoleId::as_str).collect::<Vec<_>>())
            .bind(sop)
            .bind(sop_version)
            .bind(events.iter().map(|e| e.seq as i64).collect::<Vec<_>>())
            .bind(events.iter().map(|e| i32::from(e.v)).collect::<Vec<_>>())
            .bind(events.iter().map(|e| e.kind.name()).collect::<Vec<_>>())
            .bind(events.iter().map(|e| micros(e.at)).collect::<Vec<_>>())
            .bind(
                events
                    .iter()
                    .map(|e| e.command.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(batch.encoded())
            .bind(hashes)
            .bind(snapshot.as_ref().map(|s| s.seq as i64))
            .bind(snapshot.as_ref().map(|s| s.format))
            .bind(snapshot.as_ref().map(|s| s.event_hash.as_str()))
            .bind(snapshot.as_ref().map(|s| s.digest.as_str()))
            .bind(snapshot.as_ref().map(|s| s.state.as_str()))
            .bind(notes.iter().map(|(seq, _)| *seq).collect::<Vec<_>>())
            .bind(notes.into_iter().map(|(_, json)| json).collect::<Vec<_>>());
        // Only the update names the version the case ran on (a migration changes it); the
        // new case binds a placeholder so that the command columns keep their numbers.
        let written = if batch.expected() == 0 {
            written.bind(None::<i64>)
        } else {
            written.bind(i64::from(batch.ran_on()))
        };
        let commands = batch.commands();
        let written = written
            .bind(
                commands
                    .iter()
                    .map(|(id, _, _)| id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                commands
                    .iter()
                    .map(|(_, first, _)| *first as i64)
                    .collect::<Vec<_>>(),
            )
            .bind(
                commands
                    .iter()
                    .map(|(_, _, count)| *count as i32)
                    .collect::<Vec<_>>(),
            )
            // A new case has no event to pin to: the insert checks that it is new.
            .bind(
                batch
                    .pin()
                    .filter(|_| batch.expected() > 0)
                    .map(codec::to_hex),
            );
        let written = written.execute(&self.pool).await?;
        Ok(written.rows_affected())
    }

    /// The hash the batch's chain continues from: the stored hash of event
    /// `batch.expected()` (events are never changed, so reading it before the append's
    /// statement is safe: the statement writes only if the case still has that version).
    /// `None` when the case has no such event (it is behind the batch: a conflict).
    async fn previous_hash(&self, batch: &Append) -> Result<Option<codec::Hash>, StoreError> {
        let case = batch.case();
        if batch.expected() == 0 {
            return Ok(Some(codec::GENESIS));
        }
        let stored: Option<Option<String>> =
            sqlx::query_scalar("SELECT hash FROM events WHERE case_id = $1 AND seq = $2")
                .bind(case.as_str())
                .bind(batch.expected() as i64)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| {
                    StoreError::database(format!("appending events to case `{case}`"), e)
                })?;
        match stored {
            None => Ok(None),
            Some(hash) => codec::previous_link(case, batch.expected(), hash.as_deref()).map(Some),
        }
    }

    /// Why an append wrote nothing: a conflict, or a new case on an SOP version that is
    /// not stored.
    async fn why_not_appended(&self, batch: &Append) -> StoreError {
        let actual = match self.committed_version(batch.case()).await {
            Ok(actual) => actual,
            Err(error) => return error,
        };
        if actual != batch.expected() {
            return StoreError::Conflict {
                case: batch.case().clone(),
                expected: batch.expected(),
                actual,
            };
        }
        if batch.pin().is_some() {
            match self.previous_hash(batch).await {
                Ok(Some(previous)) => {
                    if let Err(moved_on) = batch.check_pin(&previous) {
                        return moved_on;
                    }
                }
                Ok(None) => {}
                Err(error) => return error,
            }
        }
        for (command, _, _) in batch.commands() {
            match self.command_outcome(batch.case(), command).await {
                Ok(Some(_)) => return batch.already_applied(command),
                Ok(None) => {}
                Err(error) => return error,
            }
        }
        if let Some((sop, version)) = batch.starts_on() {
            return match self.sop_source(sop, version).await {
                Err(error) => error,
                // Stored after all: the case was started and removed in between, which
                // this store never does.
                Ok(_) => StoreError::Conflict {
                    case: batch.case().clone(),
                    expected: batch.expected(),
                    actual,
                },
            };
        }
        StoreError::InvalidBatch {
            case: batch.case().clone(),
            reason: "the stored case runs another SOP version than the events, or its summary row disagrees with its events".to_owned(),
        }
    }
}

/// How an append attempt failed.
enum AppendFailure {
    /// Someone else wrote the case first, seen as a key violation.
    Raced,
    Database(sqlx::Error),
}

impl From<sqlx::Error> for AppendFailure {
    fn from(error: sqlx::Error) -> Self {
        if is_unique_violation(&error) {
            AppendFailure::Raced
        } else {
            AppendFailure::Database(error)
        }
    }
}

impl CaseStore for PostgresStore {
    async fn append(&self, batch: &Append) -> Result<(), StoreError> {
        // A pinned append names the hash it continues: the statement checks it, which
        // saves reading it first.
        let previous = match batch.pin() {
            Some(pin) => *pin,
            None => match self.previous_hash(batch).await? {
                Some(previous) => previous,
                None => return Err(self.why_not_appended(batch).await),
            },
        };
        let hashes = codec::chain_all(previous, batch.encoded());
        let snapshot = hashes.last().and_then(|last| batch.snapshot(last));
        match self.try_append(batch, hashes, snapshot).await {
            Ok(written) if written == batch.events().len() as u64 => Ok(()),
            Ok(_) | Err(AppendFailure::Raced) => Err(self.why_not_appended(batch).await),
            Err(AppendFailure::Database(error)) => Err(StoreError::database(
                format!("appending events to case `{}`", batch.case()),
                error,
            )),
        }
    }

    async fn command_outcome(
        &self,
        case: &CaseId,
        command: &CommandId,
    ) -> Result<Option<std::ops::RangeInclusive<u64>>, StoreError> {
        let row: Option<(i64, i32)> = sqlx::query_as(
            "SELECT first_seq, count FROM commands WHERE case_id = $1 AND command_id = $2",
        )
        .bind(case.as_str())
        .bind(command.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| StoreError::database(format!("reading the commands of case `{case}`"), e))?;
        Ok(row.map(|(first, count)| first as u64..=(first + i64::from(count) - 1) as u64))
    }

    async fn pending_notifications(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let rows: Vec<codec::NotificationRow> = sqlx::query_as(
            "SELECT id, case_id, seq, payload, acknowledged_at_us FROM notifications \
             WHERE acknowledged_at_us IS NULL AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.map_or(0, |id| i64::try_from(id).unwrap_or(i64::MAX)))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::database("reading pending notifications", e))?;
        rows.into_iter().map(codec::decode_notification).collect()
    }

    async fn case_notifications(
        &self,
        case: &CaseId,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let rows: Vec<codec::NotificationRow> = sqlx::query_as(
            "SELECT id, case_id, seq, payload, acknowledged_at_us FROM notifications \
             WHERE case_id = $1 ORDER BY id",
        )
        .bind(case.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| {
            StoreError::database(format!("reading the notifications of case `{case}`"), e)
        })?;
        rows.into_iter().map(codec::decode_notification).collect()
    }

    async fn acknowledge_notification(
        &self,
        id: u64,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let operation = format!("acknowledging notification {id}");
        let key = i64::try_from(id).map_err(|_| StoreError::NotificationNotFound { id })?;
        // One statement: whether the row exists, and whether this call acknowledged it.
        let found: Option<bool> = sqlx::query_scalar(
            "WITH hit AS (UPDATE notifications SET acknowledged_at_us = $2 \
                 WHERE id = $1 AND acknowledged_at_us IS NULL RETURNING id) \
             SELECT EXISTS (SELECT 1 FROM hit) FROM notifications WHERE id = $1",
        )
        .bind(key)
        .bind(micros(at))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| StoreError::database(&operation, e))?;
        found.ok_or(StoreError::NotificationNotFound { id })
    }

    async fn load(&self, case: &CaseId) -> Result<StoredCase, StoreError> {
        let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT seq, payload::text, hash FROM events WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::database(format!("loading case `{case}`"), e))?;
        if rows.is_empty() {
            return Err(StoreError::NotFound { case: case.clone() });
        }
        let events = codec::decode_history(case, rows)?;
        let state = CaseState::replay(&events);
        Ok(StoredCase { events, state })
    }

    async fn histories(&self, filter: &CaseFilter) -> Result<Vec<super::CaseHistory>, StoreError> {
        let summaries = self.list(filter).await?;
        let (Some(first), Some(last)) = (summaries.first(), summaries.last()) else {
            return Ok(Vec::new());
        };
        // One range scan of the events' primary key (case_id, seq) for the whole page; the
        // rows are matched to the page by id, so the collation's order does not matter.
        let rows: Vec<(String, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT case_id, seq, payload::text, hash FROM events \
             WHERE case_id >= $1 AND case_id <= $2 ORDER BY case_id, seq",
        )
        .bind(first.case.as_str())
        .bind(last.case.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::database("reading case histories", e))?;
        super::histories_from_rows(summaries, rows)
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
        let rows: Vec<super::FactsRow<String>> = sqlx::query_as(
            "SELECT f.case_id, f.seq, f.format, f.event_hash, f.digest, f.facts \
             FROM case_facts f JOIN events e ON e.case_id = f.case_id AND e.seq = f.seq \
             WHERE f.case_id >= $1 AND f.case_id <= $2 AND e.hash = f.event_hash",
        )
        .bind(first.case.as_str())
        .bind(last.case.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::database("reading kept case facts", e))?;
        let mut kept = super::current_facts(&summaries, format, rows);
        let missing: Vec<CaseSummary> = summaries
            .iter()
            .zip(&kept)
            .filter(|(_, facts)| facts.is_none())
            .map(|(summary, _)| summary.clone())
            .collect();
        let histories = if missing.is_empty() {
            Vec::new()
        } else {
            let ids: Vec<String> = missing.iter().map(|s| s.case.to_string()).collect();
            let rows: Vec<(String, i64, String, Option<String>)> = sqlx::query_as(
                "SELECT case_id, seq, payload::text, hash FROM events \
                 WHERE case_id = ANY($1) ORDER BY case_id, seq",
            )
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| StoreError::database("reading case histories", e))?;
            super::histories_from_rows(missing, rows)?
        };
        let mut histories = histories.into_iter();
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
        let fail = |e| StoreError::database("keeping case facts for reports", e);
        let mut tx = self.pool.begin().await.map_err(fail)?;
        for kept in facts {
            let hash: Option<Option<String>> =
                sqlx::query_scalar("SELECT hash FROM events WHERE case_id = $1 AND seq = $2")
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
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (case_id) DO UPDATE SET \
                 seq = EXCLUDED.seq, format = EXCLUDED.format, \
                 event_hash = EXCLUDED.event_hash, digest = EXCLUDED.digest, \
                 facts = EXCLUDED.facts WHERE EXCLUDED.seq >= case_facts.seq",
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

    async fn load_latest(&self, case: &CaseId) -> Result<LatestCase, StoreError> {
        let fail = |e| StoreError::database(format!("loading case `{case}`"), e);
        let snapshot: Option<(i64, i64, String, String, String)> = sqlx::query_as(
            "SELECT seq, format, event_hash, digest, state FROM snapshots WHERE case_id = $1",
        )
        .bind(case.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(fail)?;
        if let Some((seq, format, event_hash, digest, state)) = snapshot
            && seq > 0
        {
            let snapshot = codec::StoredSnapshot {
                seq: seq as u64,
                format,
                event_hash,
                digest,
                state,
            };
            // The snapshot's own event (for its hash) and the ones after it.
            let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
                "SELECT seq, payload::text, hash FROM events WHERE case_id = $1 AND seq >= $2 \
                 ORDER BY seq",
            )
            .bind(case.as_str())
            .bind(seq)
            .fetch_all(&self.pool)
            .await
            .map_err(fail)?;
            let at = rows
                .first()
                .filter(|(first, _, _)| *first == seq)
                .and_then(|(_, _, hash)| hash.clone());
            if let Some(latest) =
                LatestCase::from_snapshot(case, &snapshot, at.as_deref(), rows.into_iter().skip(1))
            {
                return latest;
            }
        }
        let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT seq, payload::text, hash FROM events WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(fail)?;
        LatestCase::whole(case, rows)
    }

    async fn list(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT case_id, sop_id, sop_version, status, version, roles, next_timer_us, \
             updated_at_us FROM cases c \
             WHERE ($1::text IS NULL OR sop_id = $1) \
             AND ($2::bigint IS NULL OR sop_version = $2) \
             AND ($3::text IS NULL OR status = $3) \
             AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM case_roles r \
                  WHERE r.case_id = c.case_id AND r.role = $4)) \
             AND ($5::text IS NULL OR case_id > $5) \
             ORDER BY case_id LIMIT $6",
        )
        .bind(filter.sop.as_ref().map(SopId::as_str))
        .bind(filter.sop_version.map(i64::from))
        .bind(filter.status.map(status_name))
        .bind(filter.role.as_ref().map(RoleId::as_str))
        .bind(filter.after.as_ref().map(CaseId::as_str))
        .bind(filter.limit.map(i64::from))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::database("listing cases", e))?;
        rows.iter().map(summary_from_row).collect()
    }

    async fn claim_timers(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<TimerClaim>, StoreError> {
        let lease_until = now + lease;
        let rows: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
            "UPDATE cases c SET lease_owner = $1, lease_until_us = $2 \
             FROM (SELECT case_id FROM cases \
                   WHERE next_timer_us <= $3 AND (lease_until_us IS NULL OR lease_until_us <= $3) \
                   ORDER BY next_timer_us, case_id LIMIT $4 \
                   FOR UPDATE SKIP LOCKED) due \
             WHERE c.case_id = due.case_id \
             RETURNING c.case_id, c.sop_id, c.sop_version, c.version, c.next_timer_us",
        )
        .bind(owner)
        .bind(micros(lease_until))
        .bind(micros(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::database("claiming due timers", e))?;
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
             WHERE next_timer_us <= $1 AND lease_until_us > $1 AND lease_owner IS NOT NULL \
             ORDER BY next_timer_us, case_id LIMIT $2",
        )
        .bind(micros(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::database("listing timers held by other workers", e))?;
        rows.into_iter()
            .map(|(case, sop, sop_version, version, due, owner, until)| {
                codec::timer_claim((case, sop, sop_version, version, due), owner, until)
            })
            .collect()
    }

    async fn release_timer(&self, claim: &TimerClaim) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE cases SET lease_owner = NULL, lease_until_us = NULL \
             WHERE case_id = $1 AND lease_owner = $2 AND lease_until_us = $3",
        )
        .bind(claim.case.as_str())
        .bind(&claim.owner)
        .bind(micros(claim.lease_until))
        .execute(&self.pool)
        .await
        .map_err(|e| {
            StoreError::database(format!("releasing the timer of case `{}`", claim.case), e)
        })?;
        Ok(())
    }

    async fn put_sop_source(&self, source: &SopSource) -> Result<(), StoreError> {
        let operation = format!("saving SOP `{}` version {}", source.sop, source.version);
        let fail = |e| StoreError::database(&operation, e);
        sqlx::query(
            "INSERT INTO sops (sop_id, version, name, source) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sop_id, version) DO NOTHING",
        )
        .bind(source.sop.as_str())
        .bind(i64::from(source.version))
        .bind(&source.name)
        .bind(&source.text)
        .execute(&self.pool)
        .await
        .map_err(fail)?;
        let stored: String =
            sqlx::query_scalar("SELECT source FROM sops WHERE sop_id = $1 AND version = $2")
                .bind(source.sop.as_str())
                .bind(i64::from(source.version))
                .fetch_one(&self.pool)
                .await
                .map_err(fail)?;
        check_same_sop(&stored, source)
    }

    async fn sop_source(&self, sop: &SopId, version: u32) -> Result<SopSource, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT name, source FROM sops WHERE sop_id = $1 AND version = $2")
                .bind(sop.as_str())
                .bind(i64::from(version))
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| {
                    StoreError::database(format!("loading SOP `{sop}` version {version}"), e)
                })?;
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

    async fn allocate_case_id(&self, prefix: &str) -> Result<CaseId, StoreError> {
        // One statement: the row lock of the upsert orders concurrent callers. The first
        // number of a prefix follows the highest one already used (see the SQLite store).
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO case_numbers (prefix, last) VALUES ($1, 1 + COALESCE(( \
                 SELECT MAX(substr(case_id, length($1) + 1)::bigint) FROM cases \
                 WHERE starts_with(case_id, $1) \
                 AND substr(case_id, length($1) + 1) ~ '^[0-9]{1,18}$'), 0)) \
             ON CONFLICT (prefix) DO UPDATE SET last = case_numbers.last + 1 \
             RETURNING last",
        )
        .bind(prefix)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if e.as_database_error()
                .and_then(|d| d.code())
                .is_some_and(|code| code == "22003")
            {
                StoreError::CaseNumbersExhausted {
                    prefix: prefix.to_owned(),
                }
            } else {
                StoreError::database(format!("allocating a case number for `{prefix}`"), e)
            }
        })?;
        Ok(super::numbered_case(prefix, last as u64))
    }

    async fn sop_versions(&self) -> Result<Vec<(SopId, u32)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT sop_id, version FROM sops ORDER BY sop_id, version")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| StoreError::database("listing SOP versions", e))?;
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
            "INSERT INTO people (actor_id, roles, active) VALUES ($1, $2, $3) \
             ON CONFLICT (actor_id) DO UPDATE SET roles = EXCLUDED.roles, active = EXCLUDED.active",
        )
        .bind(person.id.as_str())
        .bind(roles_text(&person.roles))
        .bind(person.active)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::database(format!("saving person `{}`", person.id), e))?;
        Ok(())
    }

    async fn person(&self, id: &ActorId) -> Result<Option<Person>, StoreError> {
        let row: Option<(String, bool)> =
            sqlx::query_as("SELECT roles, active FROM people WHERE actor_id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| StoreError::database(format!("reading person `{id}`"), e))?;
        row.map(|(roles, active)| person_from_row(id.as_str(), &roles, active))
            .transpose()
    }

    async fn people(&self) -> Result<Vec<Person>, StoreError> {
        let rows: Vec<(String, String, bool)> =
            sqlx::query_as("SELECT actor_id, roles, active FROM people ORDER BY actor_id")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| StoreError::database("listing people", e))?;
        rows.iter()
            .map(|(id, roles, active)| person_from_row(id, roles, *active))
            .collect()
    }
}
