//! The append writer of a SQLite file: one thread with its own connection that writes the
//! appends every task of the process queues, all that are waiting in one transaction and
//! one fsync (group commit).
//!
//! The thread, not the async driver, holds the connection because an append is a dozen
//! small statements: through sqlx each one is a hand-over to the driver's worker thread and
//! back to the waiting task, and with many callers those hand-overs, not SQLite, set the
//! pace. Here the statements are prepared once and run back to back.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::engine::CommandId;
use crate::store::batch::Append;
use crate::store::codec::{self, micros, roles_text};
use crate::store::error::StoreError;
use crate::store::status_name;

/// Most appends written in one transaction.
const MAX_GROUP: usize = 256;

/// Whether a commit waits for the disk: `Synced` for a store, `Unsynced` for a private
/// database that is gone when the store is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability {
    Synced,
    Unsynced,
}

/// The queue to the writer thread. Dropping the last handle (or [`AppendWriter::close`])
/// lets the thread write what is queued and end.
#[derive(Debug)]
pub(super) struct AppendWriter {
    queue: Mutex<Option<Sender<Job>>>,
    /// Resolves when the thread has ended and closed its connection.
    ended: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

/// One queued append and where its answer goes.
struct Job {
    batch: Append,
    answer: oneshot::Sender<Result<(), StoreError>>,
}

impl AppendWriter {
    /// Opens the writer's connection to the SQLite file at `path` (already migrated) and
    /// starts its thread.
    pub(super) fn start(
        path: &Path,
        durability: Durability,
        busy: Duration,
    ) -> Result<AppendWriter, StoreError> {
        let opening = format!("opening the SQLite file {} for appends", path.display());
        let conn = Connection::open(path).map_err(|e| StoreError::database(&opening, e))?;
        let synchronous = match durability {
            Durability::Synced => "FULL",
            Durability::Unsynced => "OFF",
        };
        conn.busy_timeout(busy)
            .and_then(|()| {
                conn.execute_batch(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous};"
                ))
            })
            .map_err(|e| StoreError::database(&opening, e))?;
        conn.set_prepared_statement_cache_capacity(32);
        let (queue, jobs) = mpsc::channel();
        let (ended, on_end) = oneshot::channel();
        std::thread::Builder::new()
            .name("sopflow-sqlite-writer".to_owned())
            .spawn(move || {
                write_until_closed(conn, &jobs);
                drop(ended);
            })
            .map_err(|e| StoreError::database(&opening, e))?;
        Ok(AppendWriter {
            queue: Mutex::new(Some(queue)),
            ended: tokio::sync::Mutex::new(Some(on_end)),
        })
    }

    /// Queues `batch` and waits until it is committed (on disk) or refused.
    ///
    /// A caller that stops waiting does not take its append back: it is written with its
    /// group, as a commit whose client went away is. Sending the command again is safe:
    /// the store answers a repeat with the events it caused.
    pub(super) async fn append(&self, batch: &Append) -> Result<(), StoreError> {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            batch: batch.clone(),
            answer,
        };
        let sent = match &*lock(&self.queue) {
            Some(queue) => queue.send(job).is_ok(),
            None => false,
        };
        if !sent {
            return Err(closed(batch));
        }
        answered.await.unwrap_or_else(|_| Err(closed(batch)))
    }

    /// Stops taking appends, lets the thread write what is queued, and waits until it has
    /// closed its connection.
    pub(super) async fn close(&self) {
        lock(&self.queue).take();
        if let Some(ended) = self.ended.lock().await.take() {
            let _ = ended.await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The lock guards one `Option` that is taken once.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The error for an append to a store that was closed (or whose writer stopped).
fn closed(batch: &Append) -> StoreError {
    StoreError::database(
        format!("appending events to case `{}`", batch.case()),
        std::io::Error::other("the store was closed"),
    )
}

/// The writer thread: takes every job waiting (up to [`MAX_GROUP`]), writes them in one
/// transaction, answers each, and again, until every handle to the queue is gone.
fn write_until_closed(mut conn: Connection, jobs: &Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let batches: Vec<&Append> = group.iter().map(|job| &job.batch).collect();
        let results = write_group(&mut conn, &batches);
        for (job, result) in group.into_iter().zip(results) {
            // A caller that stopped waiting has no one to tell.
            let _ = job.answer.send(result);
        }
    }
}

/// Writes a group of appends in one transaction: each checked on its own, in order (a
/// refused one writes nothing and gets its error; a later append to the same case sees
/// the earlier one), all the others committed together. When the transaction itself
/// fails, every append in it gets that failure.
fn write_group(conn: &mut Connection, batches: &[&Append]) -> Vec<Result<(), StoreError>> {
    // Named only when something fails.
    let fail = |e: rusqlite::Error| {
        let operation = match batches {
            [one] => format!("appending events to case `{}`", one.case()),
            _ => format!("appending events to {} cases together", batches.len()),
        };
        StoreError::database(operation, e)
    };
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(error) => return shared_failure(fail(error), batches.len()),
    };
    let mut group = Group {
        tx: &tx,
        cases: HashMap::new(),
        sops: HashMap::new(),
    };
    let mut results = Vec::with_capacity(batches.len());
    for batch in batches {
        match group.check(batch) {
            Ok(checked) => {
                // A failure while writing leaves the transaction half done: give it up.
                if let Err(error) = group.write(batch, checked) {
                    return shared_failure(fail(error), batches.len());
                }
                results.push(Ok(()));
            }
            Err(Refusal::Refused(refused)) => results.push(Err(refused)),
            Err(Refusal::Failed(error)) => return shared_failure(fail(error), batches.len()),
        }
    }
    match tx.commit() {
        Ok(()) => results,
        Err(error) => shared_failure(fail(error), batches.len()),
    }
}

/// Why an append was not written: refused on its own, or the database failed (and with
/// it the group).
enum Refusal {
    Refused(StoreError),
    Failed(rusqlite::Error),
}

impl From<rusqlite::Error> for Refusal {
    fn from(error: rusqlite::Error) -> Refusal {
        Refusal::Failed(error)
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Refusal {
        Refusal::Refused(error)
    }
}

/// A group's transaction and what it has seen so far.
struct Group<'t, 'c> {
    tx: &'t Transaction<'c>,
    /// Each case the group touched: as stored, then as after its last accepted append.
    cases: HashMap<String, Stored>,
    /// Whether each SOP version new cases start on is stored.
    sops: HashMap<(String, u32), bool>,
}

/// A case as the group sees it.
#[derive(Clone)]
struct Stored {
    version: u64,
    last_hash: Option<String>,
    roles: String,
}

/// What checking an append found: the case before it (`None`: a new case), the hashes
/// of its events and the commands they came from.
struct Checked<'a> {
    before: Option<Stored>,
    hashes: Vec<String>,
    commands: Vec<(&'a CommandId, u64, u32)>,
}

impl Group<'_, '_> {
    /// The case as stored, or as the group left it.
    fn case(&mut self, case: &str) -> rusqlite::Result<Option<Stored>> {
        if let Some(seen) = self.cases.get(case) {
            return Ok(Some(seen.clone()));
        }
        self.tx
            .prepare_cached(
                "SELECT c.version, c.roles, e.hash FROM cases c \
                 LEFT JOIN events e ON e.case_id = c.case_id AND e.seq = c.version \
                 WHERE c.case_id = ?1",
            )?
            .query_row([case], |row| {
                Ok(Stored {
                    version: row.get::<_, i64>(0)? as u64,
                    roles: row.get(1)?,
                    last_hash: row.get(2)?,
                })
            })
            .optional()
    }

    /// Reads what the append must check, writing nothing: the case's version (a conflict
    /// when it is not the batch's), that none of its commands was applied before, the
    /// stored hash the batch continues (and its pin), and for a new case that its SOP
    /// version is stored.
    fn check<'a>(&mut self, batch: &'a Append) -> Result<Checked<'a>, Refusal> {
        let case = batch.case();
        let before = self.case(case.as_str())?;
        let actual = before.as_ref().map_or(0, |c| c.version);
        if actual != batch.expected() {
            return Err(Refusal::Refused(StoreError::Conflict {
                case: case.clone(),
                expected: batch.expected(),
                actual,
            }));
        }
        let commands = batch.commands();
        if before.is_some() {
            let mut applied = self
                .tx
                .prepare_cached("SELECT 1 FROM commands WHERE case_id = ?1 AND command_id = ?2")?;
            for (command, _, _) in &commands {
                if applied.exists(params![case.as_str(), command.as_str()])? {
                    return Err(Refusal::Refused(batch.already_applied(command)));
                }
            }
        }
        let previous = codec::previous_link(
            case,
            actual,
            before.as_ref().and_then(|c| c.last_hash.as_deref()),
        )?;
        batch.check_pin(&previous)?;
        if before.is_none()
            && let Some((sop, version)) = batch.starts_on()
        {
            let key = (sop.as_str().to_owned(), version);
            let stored = match self.sops.get(&key) {
                Some(stored) => *stored,
                None => {
                    let stored = self
                        .tx
                        .prepare_cached("SELECT 1 FROM sops WHERE sop_id = ?1 AND version = ?2")?
                        .exists(params![sop.as_str(), i64::from(version)])?;
                    *self.sops.entry(key).or_insert(stored)
                }
            };
            if !stored {
                return Err(Refusal::Refused(batch.sop_not_found()));
            }
        }
        Ok(Checked {
            before,
            hashes: codec::chain_all(previous, batch.encoded()),
            commands,
        })
    }

    /// Writes a checked append: the case's summary row and roles, its events, its
    /// commands, its snapshot and its notifications.
    fn write(&mut self, batch: &Append, checked: Checked<'_>) -> rusqlite::Result<()> {
        let case = batch.case().as_str();
        let summary = batch.summary();
        let roles = roles_text(&summary.roles);
        let next_timer = summary.next_timer.map(micros);
        match &checked.before {
            None => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO cases (case_id, sop_id, sop_version, status, version, \
                         roles, next_timer_us, updated_at_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?
                    .execute(params![
                        case,
                        summary.sop.as_str(),
                        i64::from(summary.sop_version),
                        status_name(summary.status),
                        summary.version as i64,
                        roles,
                        next_timer,
                        micros(summary.updated_at),
                    ])?;
            }
            Some(_) => {
                self.tx
                    .prepare_cached(
                        "UPDATE cases SET status = ?1, version = ?2, roles = ?3, \
                         next_timer_us = ?4, updated_at_us = ?5, lease_owner = NULL, \
                         lease_until_us = NULL, sop_version = ?6 WHERE case_id = ?7",
                    )?
                    .execute(params![
                        status_name(summary.status),
                        summary.version as i64,
                        roles,
                        next_timer,
                        micros(summary.updated_at),
                        i64::from(summary.sop_version),
                        case,
                    ])?;
            }
        }
        if checked.before.as_ref().is_none_or(|c| c.roles != roles) {
            self.tx
                .prepare_cached("DELETE FROM case_roles WHERE case_id = ?1")?
                .execute([case])?;
            let mut insert = self
                .tx
                .prepare_cached("INSERT INTO case_roles (case_id, role) VALUES (?1, ?2)")?;
            for role in &summary.roles {
                insert.execute([case, role.as_str()])?;
            }
        }
        let mut insert = self.tx.prepare_cached(
            "INSERT INTO events (case_id, seq, v, type, at_us, command, payload, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        // Where each event went: its notifications point there.
        let mut positions = Vec::with_capacity(batch.events().len());
        for ((event, json), hash) in batch
            .events()
            .iter()
            .zip(batch.encoded())
            .zip(&checked.hashes)
        {
            positions.push(insert.insert(params![
                case,
                event.seq as i64,
                i64::from(event.v),
                event.kind.name(),
                micros(event.at),
                event.command.as_str(),
                json,
                hash,
            ])?);
        }
        let mut insert = self.tx.prepare_cached(
            "INSERT INTO commands (case_id, command_id, first_seq, count) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (command, first, count) in checked.commands {
            insert.execute(params![
                case,
                command.as_str(),
                first as i64,
                i64::from(count)
            ])?;
        }
        if let Some(snapshot) = checked.hashes.last().and_then(|last| batch.snapshot(last)) {
            self.tx
                .prepare_cached(
                    "INSERT INTO snapshots (case_id, seq, format, event_hash, digest, state) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (case_id) DO UPDATE SET \
                     seq = excluded.seq, format = excluded.format, \
                     event_hash = excluded.event_hash, digest = excluded.digest, \
                     state = excluded.state",
                )?
                .execute(params![
                    case,
                    snapshot.seq as i64,
                    snapshot.format,
                    snapshot.event_hash,
                    snapshot.digest,
                    snapshot.state,
                ])?;
        }
        write_notifications(self.tx, batch, &positions)?;
        self.cases.insert(
            case.to_owned(),
            Stored {
                version: summary.version,
                last_hash: checked.hashes.last().cloned(),
                roles,
            },
        );
        Ok(())
    }
}

/// Writes the append's notifications, in order, each with the position of the event
/// that caused it (`positions`: the batch's events', in order).
fn write_notifications(
    tx: &Transaction<'_>,
    batch: &Append,
    positions: &[i64],
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO notifications (case_id, seq, payload, event_position) \
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (notification, json) in batch
        .notifications()
        .iter()
        .zip(batch.encoded_notifications())
    {
        let position = notification
            .seq
            .checked_sub(batch.expected() + 1)
            .and_then(|offset| positions.get(usize::try_from(offset).ok()?));
        insert.execute(params![
            notification.case.as_str(),
            notification.seq as i64,
            json,
            position
        ])?;
    }
    Ok(())
}

/// One failure of a whole group, for each of its `n` appends: the same kind of error
/// (busy, read-only, full, database), with the first keeping the driver's error.
fn shared_failure(error: StoreError, n: usize) -> Vec<Result<(), StoreError>> {
    let mut results = Vec::with_capacity(n);
    for _ in 1..n {
        let source = || Box::new(std::io::Error::other(error.to_string()));
        results.push(Err(match &error {
            StoreError::Busy { operation, .. } => StoreError::Busy {
                operation: operation.clone(),
                source: source(),
            },
            StoreError::ReadOnly { operation } => StoreError::ReadOnly {
                operation: operation.clone(),
            },
            StoreError::Full { operation } => StoreError::Full {
                operation: operation.clone(),
            },
            other => StoreError::Database {
                operation: "appending events together with other cases".to_owned(),
                source: Box::new(std::io::Error::other(other.to_string())),
            },
        }));
    }
    results.insert(0, Err(error));
    results
}
