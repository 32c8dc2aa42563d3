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
