//! The conformance suite on PostgreSQL, and eight workers driving a thousand cases at once.
//!
//! Needs a server: set `SOPFLOW_TEST_POSTGRES` to a database URL (`.ci/run` creates one).
//! Without it these tests are skipped with a note (see `tests/outside`). Each test works in its own schema, so
//! they run in parallel.
#![cfg(feature = "postgres")]

mod outside;
mod store_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use sopflow::engine::{CaseId, CaseState, CaseStatus, CommandError};
use sopflow::store::{
    CaseFilter, CaseStore, CaseSummary, ExecuteError, MemoryStore, PostgresOptions, PostgresStore,
    StoreError, execute_with_retry,
};
use store_support::{customer_support, next_command, note, t0};

/// The server's URL, or `None` (and a note) when `SOPFLOW_TEST_POSTGRES` is not set.
fn database_url(test: &str) -> Option<String> {
    outside::enabled(
        outside::POSTGRES,
        &format!("the PostgreSQL store test {test}"),
        "a database URL the tests may create schemas in, e.g. \
         postgres://sopflow:sopflow@localhost/sopflow_test; .ci/run installs PostgreSQL and sets it",
    )
}

/// The schema a test works in, named after the test and the checkout it runs from: two
/// checkouts running this suite against one server at once never share a schema, and a
/// rerun from the same checkout drops what the last run left.
fn schema_for(test: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut checkout = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_MANIFEST_DIR").hash(&mut checkout);
    format!("sopflow_t{:06x}_{test}", checkout.finish() & 0xff_ffff)
}

/// A store in a fresh schema named after the test (dropped first if a previous run left
/// it), or `None` when no server is configured.
async fn store_in_schema(test: &str, connections: u32) -> Option<PostgresStore> {
    let url = database_url(test)?;
    let schema = schema_for(test);
    let admin = sqlx::PgPool::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to SOPFLOW_TEST_POSTGRES ({url}): {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
    )))
    .execute(&admin)
    .await
    .unwrap();
    admin.close().await;
    PostgresStore::connect_with(
        &PostgresOptions::new(url)
            .schema(schema)
            .max_connections(connections)
            // Each commit waiting for its own fsync (~5 ms here) would make these tests
            // about the disk; they are about concurrency. The bench measures durable commits.
            .setting("synchronous_commit", "off"),
    )
    .await
    .map(Some)
    .unwrap_or_else(|e| panic!("cannot open the PostgreSQL store: {e}"))
}

async fn make(test: &str) -> Option<PostgresStore> {
    store_in_schema(test, 8).await
}

conformance_tests!(optional make);

#[tokio::test]
async fn a_wrong_password_is_a_database_error_without_the_password() {
    let Some(url) = database_url("a_wrong_password_is_a_database_error_without_the_password")
    else {
        return;
    };
    let Some((before, after)) = url.split_once('@') else {
        panic!("SOPFLOW_TEST_POSTGRES has no credentials: {url}");
    };
    let user = before.rsplit_once(':').map_or(before, |(user, _)| user);
    let wrong = format!("{user}:not-the-password@{after}");
    let error = PostgresStore::connect(&wrong).await.unwrap_err();
    assert!(matches!(error, StoreError::Database { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("the database failed while connecting to "),
        "{message}"
    );
    assert!(!message.contains("not-the-password"), "{message}");
}

const WORKERS: usize = 8;
const CASES: usize = 1_000;
/// How many workers push commands to each case.
const SENDERS_PER_CASE: usize = 3;

fn case_name(i: usize) -> String {
    format!("C-{i:04}")
}

/// Eight workers (tokio tasks, each on its own pool connection) drive 1,000 customer
/// support cases to their end at once. Every case gets commands from three workers: the
/// happy path (the same command from whoever decides it first, so the others meet a
/// conflict and then find it applied) and one note from each (different commands that
/// must all land). Nothing may be lost or applied twice, every conflict must be retried
/// to success, and each final state must equal a fresh replay of the stored events.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_workers_drive_a_thousand_cases_with_conflicts() {
    let started = Instant::now();
    let Some(store) = store_in_schema("concurrency", WORKERS as u32).await else {
        return;
    };
    let store = Arc::new(store);
    let (name, text) = customer_support();
    let process = Arc::new(store.save_sop(&name, &text).await.unwrap());

    // The path one case takes alone, for the expected history length.
    let alone = MemoryStore::new();
    alone.save_sop(&name, &text).await.unwrap();
    let mut state = CaseState::new();
    let mut path_events = 0;
    while let Some(command) = next_command(&process, &state, "X") {
        let executed = sopflow::store::execute(&alone, &process, &CaseId::new("X"), command, t0())
            .await
            .unwrap();
        path_events += executed.events.len();
        state = executed.state;
    }
    assert_eq!(state.status(), CaseStatus::Closed);

    let mut tasks = Vec::new();
    for worker in 0..WORKERS {
        let store = Arc::clone(&store);
        let process = Arc::clone(&process);
        tasks.push(tokio::spawn(async move {
            let mine: Vec<usize> = (0..CASES)
                .filter(|i| (worker + WORKERS - i % WORKERS) % WORKERS < SENDERS_PER_CASE)
                .collect();
            let mut pending: BTreeSet<usize> = mine.iter().copied().collect();
            let mut noted: BTreeSet<usize> = BTreeSet::new();
            let mut finals: BTreeMap<usize, CaseState> = BTreeMap::new();
            let mut notes: BTreeSet<usize> = BTreeSet::new();
            let mut known: BTreeMap<usize, CaseState> = BTreeMap::new();
            let (mut conflicts, mut duplicates, mut commands) = (0u32, 0u32, 0u32);
            while !pending.is_empty() {
                for i in pending.clone() {
                    let case = CaseId::new(case_name(i));
                    // Decide on the state this worker last saw, usually stale by now: the
                    // store must catch that.
                    let state = known.get(&i).cloned().unwrap_or_default();
                    // Each worker adds its note as soon as the case exists: three
                    // different commands on one case at about the same moment.
                    let command = if state.version() > 0 && !noted.contains(&i) {
                        noted.insert(i);
                        Some(note(&format!("note:{worker}:{i}"), "worker note"))
                    } else {
                        next_command(&process, &state, case.as_str())
                    };
                    let Some(command) = command else {
                        pending.remove(&i);
                        finals.insert(i, state);
                        continue;
                    };
                    let is_note = command.id.as_str().starts_with("note:");
                    commands += 1;
                    match execute_with_retry(&*store, &process, &case, command, t0(), 100).await {
                        Ok(executed) => {
                            known.insert(i, executed.state);
                            conflicts += executed.conflicts;
                            duplicates += u32::from(executed.duplicate);
                            if is_note {
                                notes.insert(i);
                            }
                        }
                        // The others may have closed the case since it was loaded.
                        Err(ExecuteError::Refused(CommandError::CaseNotOpen { .. })) if is_note => {
                        }
                        Err(ExecuteError::Refused(e)) => {
                            panic!("worker {worker} on {case}: refused: {e}")
                        }
                        Err(e) => panic!("worker {worker} on {case}: {e}"),
                    }
                }
            }
            (finals, notes, conflicts, duplicates, commands)
        }));
    }
    let (mut conflicts, mut duplicates, mut commands) = (0, 0, 0);
    let mut seen_final: BTreeMap<usize, Vec<CaseState>> = BTreeMap::new();
    let mut landed: BTreeMap<usize, usize> = BTreeMap::new();
    for task in tasks {
        let (finals, notes, c, d, n) = task.await.unwrap();
        for i in notes {
            *landed.entry(i).or_insert(0) += 1;
        }
        conflicts += c;
        duplicates += d;
        commands += n;
        for (i, state) in finals {
            seen_final.entry(i).or_default().push(state);
        }
    }
    let driven = started.elapsed();

    assert!(
        conflicts > 0,
        "the workers were meant to conflict; none did"
    );
    assert!(
        duplicates > 0,
        "no worker found its command applied by another"
    );
    let rows: BTreeMap<CaseId, CaseSummary> = store
        .list(&CaseFilter::all())
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.case.clone(), row))
        .collect();
    assert_eq!(rows.len(), CASES);
    for i in 0..CASES {
        let case = CaseId::new(case_name(i));
        let stored = store.load(&case).await.unwrap();
        let replayed = CaseState::replay(&stored.events);
        assert_eq!(replayed.status(), CaseStatus::Closed, "{case}");
        for seen in &seen_final[&i] {
            assert_eq!(
                *seen, replayed,
                "{case}: a worker's final state differs from a replay"
            );
        }
        assert_eq!(
            stored.events.len(),
            path_events + landed.get(&i).copied().unwrap_or(0),
            "{case}: events lost or applied twice"
        );
        // A command's events are contiguous, and no command was applied twice.
        let mut runs: Vec<&str> = Vec::new();
        for event in &stored.events {
            if runs.last() != Some(&event.command.as_str()) {
                runs.push(event.command.as_str());
            }
        }
        let distinct: BTreeSet<&str> = runs.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            runs.len(),
            "{case}: a command was applied twice"
        );
        let notes = runs.iter().filter(|c| c.starts_with("note:")).count();
        assert_eq!(notes, landed.get(&i).copied().unwrap_or(0), "{case}");
        let expected = CaseSummary::of(
            &process,
            &replayed,
            stored.events[stored.events.len() - 1].at,
        );
        assert_eq!(rows.get(&case), expected.as_ref(), "{case}: summary row");
    }
    eprintln!(
        "{CASES} cases, {WORKERS} workers: {commands} commands, {conflicts} conflicts retried, \
         {duplicates} found already applied, driven in {driven:.1?}"
    );
}

/// A store in the test's schema and a plain connection to the same database, for damage
/// done behind the store's back.
async fn store_and_raw(test: &str) -> Option<(PostgresStore, sqlx::PgPool)> {
    let store = store_in_schema(test, 2).await?;
    let raw = sqlx::PgPool::connect(&database_url(test)?).await.unwrap();
    Some((store, raw))
}

/// Runs an update written for one row with raw SQL, and checks it changed exactly one.
async fn change_one_row(raw: &sqlx::PgPool, update: &str) {
    let changed = sqlx::query(sqlx::AssertSqlSafe(update.to_owned()))
        .execute(raw)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 1, "{update}");
}

/// A cached state whose last event was replaced in the database does not get its command
/// appended: the append's statement checks the pinned hash.
#[tokio::test]
async fn cached_appends_are_pinned_to_the_last_event() {
    let Some((store, raw)) = store_and_raw("pinned").await else {
        return;
    };
    let update = format!(
        "UPDATE {}.events SET hash = CASE left(hash, 1) WHEN '0' THEN '1' ELSE '0' END \
         || substr(hash, 2) WHERE case_id = 'PN-1' AND seq = 3",
        schema_for("pinned")
    );
    store_support::conformance::cached_appends_are_pinned_to_the_last_event(
        std::sync::Arc::new(store),
        || async { change_one_row(&raw, &update).await },
    )
    .await;
    raw.close().await;
}

/// A snapshot changed with raw SQL is not trusted: its digest no longer matches.
#[tokio::test]
async fn damaged_snapshots_are_replayed() {
    let Some((store, raw)) = store_and_raw("snapshot").await else {
        return;
    };
    let update = format!(
        "UPDATE {}.snapshots \
         SET state = replace(state, '\"version\":100', '\"version\":101') \
         WHERE case_id = 'Z-1'",
        schema_for("snapshot")
    );
    store_support::conformance::damaged_snapshots_are_replayed(std::sync::Arc::new(store), || {
        let (raw, update) = (raw.clone(), update.clone());
        async move { change_one_row(&raw, &update).await }
    })
    .await;
    raw.close().await;
}

/// Kept facts changed with raw SQL are not trusted: their digest no longer matches.
#[tokio::test]
async fn damaged_facts_are_not_read() {
    let Some((store, raw)) = store_and_raw("facts").await else {
        return;
    };
    let update = format!(
        "UPDATE {}.case_facts SET facts = facts || ' ' WHERE case_id = 'D-1'",
        schema_for("facts")
    );
    store_support::conformance::damaged_facts_are_not_read(std::sync::Arc::new(store), || {
        let (raw, update) = (raw.clone(), update.clone());
        async move { change_one_row(&raw, &update).await }
    })
    .await;
    raw.close().await;
}

/// A byte flipped with raw SQL in an event's time, actor or payload is `Corrupt` there.
#[tokio::test]
async fn tampered_events_are_corrupt() {
    let Some((store, raw)) = store_and_raw("tampered").await else {
        return;
    };
    let update = format!(
        "UPDATE {}.events SET payload = replace(payload::text, $1, $2)::json \
         WHERE case_id = 'H-1' AND seq = $3",
        schema_for("tampered")
    );
    store_support::conformance::tampered_events_are_corrupt(
        std::sync::Arc::new(store),
        |seq, from, to| {
            let (raw, update) = (raw.clone(), update.clone());
            async move {
                let changed = sqlx::query(sqlx::AssertSqlSafe(update))
                    .bind(from)
                    .bind(to)
                    .bind(seq as i64)
                    .execute(&raw)
                    .await
                    .unwrap();
                assert_eq!(changed.rows_affected(), 1);
            }
        },
    )
    .await;
    raw.close().await;
}

/// A store written with schema 2 (no `events.hash`) is upgraded when opened: every case's
/// chain is filled in from its stored events, so it loads and appends go on.
#[tokio::test]
async fn a_schema_2_store_gets_its_chain_filled_in() {
    use sopflow::engine::CaseId;
    use sopflow::store::execute;
    use store_support::{hello, start};

    let Some(store) = store_in_schema("schema2", 2).await else {
        return;
    };
    let url = database_url("schema2").unwrap();
    let (name, text) = hello(1);
    let process = store.save_sop(&name, &text).await.unwrap();
    for case in ["M-1", "M-2"] {
        for command in [start(case, "s"), note("n1", "one")] {
            execute(&store, &process, &CaseId::new(case), command, t0())
                .await
                .unwrap();
        }
    }
    store.close().await;
    let raw = sqlx::PgPool::connect(&url).await.unwrap();
    let schema = schema_for("schema2");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {schema}.events DROP COLUMN hash; \
         DROP TABLE {schema}.snapshots; DROP TABLE {schema}.commands; \
         UPDATE {schema}.sopflow_meta SET value = '2' WHERE key = 'schema';"
    )))
    .execute(&raw)
    .await
    .unwrap();
    let store = PostgresStore::connect_with(
        &PostgresOptions::new(url.clone())
            .schema(schema.clone())
            .max_connections(2),
    )
    .await
    .unwrap();
    for case in ["M-1", "M-2"] {
        assert_eq!(
            store.load(&CaseId::new(case)).await.unwrap().events.len(),
            3
        );
    }
    let (version, unhashed): (String, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT (SELECT value FROM {schema}.sopflow_meta WHERE key = 'schema'), \
         (SELECT COUNT(*) FROM {schema}.events WHERE hash IS NULL)"
    )))
    .fetch_one(&raw)
    .await
    .unwrap();
    assert_eq!((version.as_str(), unhashed), ("8", 0));
    for case in ["M-1", "M-2"] {
        let case = CaseId::new(case);
        assert_eq!(
            store.command_outcome(&case, &"s".into()).await.unwrap(),
            Some(1..=2)
        );
        assert_eq!(
            store.command_outcome(&case, &"n1".into()).await.unwrap(),
            Some(3..=3)
        );
    }
    execute(
        &store,
        &process,
        &CaseId::new("M-1"),
        note("n2", "two"),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        store.load(&CaseId::new("M-1")).await.unwrap().events.len(),
        4
    );
    raw.close().await;
    store.close().await;
}
