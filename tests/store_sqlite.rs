//! The conformance suite on SQLite files, and what only SQLite has: the file itself.
#![cfg(feature = "sqlite")]

mod store_support;

use sopflow::store::SqliteStore;
use store_support::TempDb;

/// A store in a new file under cargo's test directory. The file is left there (tests
/// may still be reading it); a new run uses new names.
async fn make(test: &str) -> SqliteStore {
    let db = TempDb::new(test);
    let store = SqliteStore::open(&db.url()).await.unwrap();
    std::mem::forget(db);
    store
}

conformance_tests!(make);

/// Kept facts changed with raw SQL are not trusted: their digest no longer matches.
#[tokio::test]
async fn damaged_facts_are_not_read() {
    let db = TempDb::new("damaged-facts");
    let store = std::sync::Arc::new(SqliteStore::open(&db.url()).await.unwrap());
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    store_support::conformance::damaged_facts_are_not_read(store, || {
        let raw = raw.clone();
        async move {
            let changed = sqlx::query(
                "UPDATE case_facts SET facts = facts || ' ' \
                 WHERE case_id = 'D-1'",
            )
            .execute(&raw)
            .await
            .unwrap();
            assert_eq!(changed.rows_affected(), 1);
        }
    })
    .await;
}

/// A snapshot changed with raw SQL is not trusted: its digest no longer matches.
#[tokio::test]
async fn damaged_snapshots_are_replayed() {
    let db = TempDb::new("damaged-snapshot");
    let store = std::sync::Arc::new(SqliteStore::open(&db.url()).await.unwrap());
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    store_support::conformance::damaged_snapshots_are_replayed(store, || {
        let raw = raw.clone();
        async move {
            let changed = sqlx::query(
                "UPDATE snapshots SET state = replace(state, '\"version\":100', '\"version\":101') \
                 WHERE case_id = 'Z-1'",
            )
            .execute(&raw)
            .await
            .unwrap();
            assert_eq!(changed.rows_affected(), 1);
        }
    })
    .await;
}

/// A snapshot of a format this sopflow does not know (written by a newer one) is ignored.
#[tokio::test]
async fn snapshots_of_unknown_format_are_replayed() {
    let db = TempDb::new("snapshot-format");
    let store = std::sync::Arc::new(SqliteStore::open(&db.url()).await.unwrap());
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    store_support::conformance::damaged_snapshots_are_replayed(store, || {
        let raw = raw.clone();
        async move {
            sqlx::query("UPDATE snapshots SET format = 99 WHERE case_id = 'Z-1'")
                .execute(&raw)
                .await
                .unwrap();
        }
    })
    .await;
}

/// A cached state whose last event was replaced in the file does not get its command
/// appended.
#[tokio::test]
async fn cached_appends_are_pinned_to_the_last_event() {
    let db = TempDb::new("pinned");
    let store = std::sync::Arc::new(SqliteStore::open(&db.url()).await.unwrap());
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    store_support::conformance::cached_appends_are_pinned_to_the_last_event(store, || async {
        let changed = sqlx::query(
            "UPDATE events SET hash = CASE substr(hash, 1, 1) WHEN '0' THEN '1' ELSE '0' END \
             || substr(hash, 2) WHERE case_id = 'PN-1' AND seq = 3",
        )
        .execute(&raw)
        .await
        .unwrap();
        assert_eq!(changed.rows_affected(), 1);
    })
    .await;
}

/// A byte flipped with raw SQL in an event's time, actor or payload is `Corrupt` there.
#[tokio::test]
async fn tampered_events_are_corrupt() {
    let db = TempDb::new("tampered");
    let store = std::sync::Arc::new(SqliteStore::open(&db.url()).await.unwrap());
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    store_support::conformance::tampered_events_are_corrupt(store, |seq, from, to| {
        let raw = raw.clone();
        async move {
            let changed = sqlx::query(
                "UPDATE events SET payload = replace(payload, ?, ?) WHERE case_id = 'H-1' AND seq = ?",
            )
            .bind(from)
            .bind(to)
            .bind(seq as i64)
            .execute(&raw)
            .await
            .unwrap();
            assert_eq!(changed.rows_affected(), 1);
        }
    })
    .await;
    raw.close().await;
}

/// A store written with schema 2 (no `events.hash`) is upgraded when opened: every case's
/// chain is filled in from its stored events, so it loads, and damage after the upgrade
/// is found.
#[tokio::test]
async fn a_schema_2_store_gets_its_chain_filled_in() {
    use sopflow::engine::CaseId;
    use sopflow::store::{CaseStore, StoreError, execute};
    use store_support::{hello, note, start, t0};

    let db = TempDb::new("schema2");
    let store = SqliteStore::open(&db.url()).await.unwrap();
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
    // Back to schema 2 as it was: the table without the column, the version 2.
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    sqlx::raw_sql(
        "ALTER TABLE events DROP COLUMN hash; DROP TABLE snapshots; DROP TABLE commands; \
         UPDATE sopflow_meta SET value = '2' WHERE key = 'schema';",
    )
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;

    let store = SqliteStore::open(&db.url()).await.unwrap();
    for case in ["M-1", "M-2"] {
        let loaded = store.load(&CaseId::new(case)).await.unwrap();
        assert_eq!(loaded.events.len(), 3);
    }
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    let (version, unhashed): (String, i64) = sqlx::query_as(
        "SELECT (SELECT value FROM sopflow_meta WHERE key = 'schema'), \
         (SELECT COUNT(*) FROM events WHERE hash IS NULL)",
    )
    .fetch_one(&raw)
    .await
    .unwrap();
    assert_eq!((version.as_str(), unhashed), ("9", 0));
    // The commands each case applied are filled in from its events: an old repeat is
    // known to the store.
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
    // The new case continues the filled-in chain.
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
    sqlx::query("UPDATE events SET payload = replace(payload, 'one', 'onf') WHERE case_id = 'M-2'")
        .execute(&raw)
        .await
        .unwrap();
    assert!(matches!(
        store.load(&CaseId::new("M-2")).await,
        Err(StoreError::Corrupt { seq: 3, .. })
    ));
    raw.close().await;
}

/// Damage the file behind the store's back: loading says where and why, as a
/// `StoreError::Corrupt`, and never panics or returns a partial history.
#[tokio::test]
async fn damaged_histories_are_reported_as_corrupt() {
    use sopflow::engine::CaseId;
    use sopflow::store::{CaseStore, StoreError, execute};
    use store_support::{hello, note, start, t0};

    let db = TempDb::new("corrupt");
    let store = SqliteStore::open(&db.url()).await.unwrap();
    let (name, text) = hello(1);
    let process = store.save_sop(&name, &text).await.unwrap();
    let case = CaseId::new("B-1");
    for command in [start("B-1", "s"), note("n1", "one"), note("n2", "two")] {
        execute(&store, &process, &case, command, t0())
            .await
            .unwrap();
    }
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    let corrupt = |store: &SqliteStore| {
        let store = store.clone();
        let case = case.clone();
        async move {
            match store.load(&case).await.unwrap_err() {
                StoreError::Corrupt { case, seq, reason } => {
                    assert_eq!(case.as_str(), "B-1");
                    (seq, reason)
                }
                other => panic!("expected corruption, got {other:?}"),
            }
        }
    };

    // Truncated JSON.
    sqlx::query("UPDATE events SET payload = substr(payload, 1, 20) WHERE seq = 3")
        .execute(&raw)
        .await
        .unwrap();
    let (seq, reason) = corrupt(&store).await;
    assert_eq!(seq, 3);
    assert!(reason.starts_with("its JSON cannot be read: "), "{reason}");

    // A missing event.
    sqlx::query("DELETE FROM events WHERE seq = 3")
        .execute(&raw)
        .await
        .unwrap();
    let (seq, reason) = corrupt(&store).await;
    assert_eq!(
        (seq, reason.as_str()),
        (3, "event 3 is missing (the next stored event is 4)")
    );

    // An event stored under another seq than its own.
    sqlx::query("UPDATE events SET seq = 3 WHERE seq = 4")
        .execute(&raw)
        .await
        .unwrap();
    let (seq, reason) = corrupt(&store).await;
    assert_eq!(
        (seq, reason.as_str()),
        (3, "it is stored as event 3 but says it is 4")
    );
    let error = store.load(&case).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the stored history of case `B-1` is damaged at event 3: it is stored as event 3 but says it is 4"
    );
    raw.close().await;
}

/// Appends from many tasks at once are written in shared transactions (group commit), and
/// each caller still gets its own answer: two appends decided on the same version of one
/// case race, exactly one lands and the other is a conflict, and every other case's append
/// lands whatever group it shared.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_answers_each_caller() {
    use sopflow::engine::{self, CaseId, CaseState};
    use sopflow::store::{Append, CaseStore, StoreError, execute};
    use store_support::{hello, note, start, t0};

    let db = TempDb::new("group-commit");
    let store = std::sync::Arc::new(SqliteStore::open(&db.url()).await.unwrap());
    let (name, text) = hello(1);
    let process = std::sync::Arc::new(store.save_sop(&name, &text).await.unwrap());
    let mut states = Vec::new();
    for n in 0..64 {
        let case = format!("G-{n}");
        let started = execute(
            &*store,
            &process,
            &CaseId::new(&case),
            start(&case, &case),
            t0(),
        )
        .await
        .unwrap();
        states.push(started.state);
    }
    // Two notes decided on the same state of G-0, and one note on each other case.
    let batch = |state: &CaseState, id: &str| {
        let events = engine::handle(&process, state, note(id, "hi"), t0()).unwrap();
        Append::new(&process, state, events).unwrap()
    };
    let mut batches = vec![batch(&states[0], "twin-a"), batch(&states[0], "twin-b")];
    for (n, state) in states.iter().enumerate().skip(1) {
        batches.push(batch(state, &format!("n{n}")));
    }
    let tasks: Vec<_> = batches
        .into_iter()
        .map(|batch| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move { (batch.case().clone(), store.append(&batch).await) })
        })
        .collect();
    let mut twins = Vec::new();
    for task in tasks {
        let (case, result) = task.await.unwrap();
        if case.as_str() == "G-0" {
            twins.push(result);
        } else {
            result.unwrap();
            assert_eq!(store.load(&case).await.unwrap().events.len(), 3);
        }
    }
    let landed = twins.iter().filter(|r| r.is_ok()).count();
    assert_eq!(landed, 1, "{twins:?}");
    assert!(
        twins.iter().any(|r| matches!(
            r,
            Err(StoreError::Conflict {
                expected: 2,
                actual: 3,
                ..
            })
        )),
        "{twins:?}"
    );
    assert_eq!(
        store.load(&CaseId::new("G-0")).await.unwrap().events.len(),
        3
    );
}

/// A store written at schema 5, before the directory of people, gains an empty one when
/// opened, keeps its cases, and is at the current schema afterwards.
#[tokio::test]
async fn a_schema_5_store_gains_an_empty_directory_of_people() {
    use sopflow::engine::{ActorId, CaseId};
    use sopflow::model::RoleId;
    use sopflow::store::{CaseStore, Person, execute};
    use store_support::{hello, start, t0};

    let db = TempDb::new("schema5");
    let store = SqliteStore::open(&db.url()).await.unwrap();
    let (name, text) = hello(1);
    let process = store.save_sop(&name, &text).await.unwrap();
    execute(
        &store,
        &process,
        &CaseId::new("P-1"),
        start("P-1", "s"),
        t0(),
    )
    .await
    .unwrap();
    store.close().await;
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    sqlx::raw_sql("DROP TABLE people; UPDATE sopflow_meta SET value = '5' WHERE key = 'schema';")
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;

    let store = SqliteStore::open(&db.url()).await.unwrap();
    assert!(store.people().await.unwrap().is_empty());
    assert_eq!(
        store.load(&CaseId::new("P-1")).await.unwrap().events.len(),
        2
    );
    let ana = Person::new("ana", [RoleId::new("agent").unwrap()]);
    store.put_person(&ana).await.unwrap();
    assert_eq!(store.person(&ActorId::new("ana")).await.unwrap(), Some(ana));
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    let version: String = sqlx::query_scalar("SELECT value FROM sopflow_meta WHERE key = 'schema'")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(version, "9");
}

/// A store written at schema 8 kept its events in a table clustered by case. Opened, it
/// moves them into the table kept in append order: every case loads as before, its
/// chain and commands still hold, and new events go on at the end of the table.
#[tokio::test]
async fn a_schema_8_store_keeps_its_events_in_append_order() {
    use sopflow::engine::CaseId;
    use sopflow::store::{CaseStore, StoreError, execute};
    use store_support::{hello, note, start, t0};

    let db = TempDb::new("schema8");
    let store = SqliteStore::open(&db.url()).await.unwrap();
    let (name, text) = hello(1);
    let process = store.save_sop(&name, &text).await.unwrap();
    for case in ["E-2", "E-1"] {
        for command in [start(case, "s"), note("n1", "one")] {
            execute(&store, &process, &CaseId::new(case), command, t0())
                .await
                .unwrap();
        }
    }
    let before = store.load(&CaseId::new("E-1")).await.unwrap().events;
    let told = store.case_notifications(&CaseId::new("E-1")).await.unwrap();
    assert!(!told.is_empty());
    store.close().await;
    // The schema 8 tables as they were: events clustered by (case_id, seq), no position;
    // notifications found by case.
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE old_events (case_id TEXT NOT NULL REFERENCES cases (case_id), \
         seq INTEGER NOT NULL, v INTEGER NOT NULL, type TEXT NOT NULL, at_us INTEGER NOT NULL, \
         command TEXT NOT NULL, payload TEXT NOT NULL, hash TEXT, PRIMARY KEY (case_id, seq)) \
         WITHOUT ROWID; \
         INSERT INTO old_events SELECT case_id, seq, v, type, at_us, command, payload, hash \
         FROM events; \
         DROP TABLE events; ALTER TABLE old_events RENAME TO events; \
         DROP INDEX notifications_event; ALTER TABLE notifications DROP COLUMN event_position; \
         CREATE INDEX notifications_case ON notifications (case_id, id); \
         UPDATE sopflow_meta SET value = '8' WHERE key = 'schema';",
    )
    .execute(&raw)
    .await
    .unwrap();
    raw.close().await;

    let store = SqliteStore::open(&db.url()).await.unwrap();
    assert_eq!(
        store.load(&CaseId::new("E-1")).await.unwrap().events,
        before
    );
    assert_eq!(
        store.case_notifications(&CaseId::new("E-1")).await.unwrap(),
        told
    );
    assert_eq!(
        store
            .command_outcome(&CaseId::new("E-2"), &"n1".into())
            .await
            .unwrap(),
        Some(3..=3)
    );
    execute(
        &store,
        &process,
        &CaseId::new("E-2"),
        note("n2", "two"),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        store.load(&CaseId::new("E-2")).await.unwrap().events.len(),
        4
    );
    let raw = sqlx::SqlitePool::connect(&db.url()).await.unwrap();
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'notifications' \
         ORDER BY name",
    )
    .fetch_all(&raw)
    .await
    .unwrap();
    assert_eq!(indexes, ["notifications_event", "notifications_pending"]);
    // Old events keep their case-by-case order; the new one comes last.
    let order: Vec<(String, i64)> =
        sqlx::query_as("SELECT case_id, seq FROM events ORDER BY position")
            .fetch_all(&raw)
            .await
            .unwrap();
    let expected: Vec<(String, i64)> = [
        ("E-1", 1),
        ("E-1", 2),
        ("E-1", 3),
        ("E-2", 1),
        ("E-2", 2),
        ("E-2", 3),
        ("E-2", 4),
    ]
    .into_iter()
    .map(|(case, seq)| (case.to_owned(), seq))
    .collect();
    assert_eq!(order, expected);
    let version: String = sqlx::query_scalar("SELECT value FROM sopflow_meta WHERE key = 'schema'")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(version, "9");
    // The key still refuses a second event with the same seq.
    let twice = sqlx::query(
        "INSERT INTO events (case_id, seq, v, type, at_us, command, payload, hash) \
         SELECT case_id, seq, v, type, at_us, command, payload, hash FROM events \
         WHERE case_id = 'E-1' AND seq = 3",
    )
    .execute(&raw)
    .await;
    assert!(twice.is_err());
    // Damage is still found after the move.
    sqlx::query("UPDATE events SET payload = replace(payload, 'one', 'onf') WHERE case_id = 'E-1'")
        .execute(&raw)
        .await
        .unwrap();
    assert!(matches!(
        store.load(&CaseId::new("E-1")).await,
        Err(StoreError::Corrupt { seq: 3, .. })
    ));
    raw.close().await;
}
