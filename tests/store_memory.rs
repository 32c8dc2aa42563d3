//! The conformance suite on the memory store.

#![cfg(feature = "store")]

mod store_support;

use sopflow::store::MemoryStore;

async fn make(_test: &str) -> MemoryStore {
    MemoryStore::new()
}

conformance_tests!(make);

#[tokio::test]
async fn tampered_events_are_corrupt() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let damaged = store.clone();
    store_support::conformance::tampered_events_are_corrupt(store, |seq, from, to| {
        let changed =
            damaged.tamper_with_event(&sopflow::engine::CaseId::new("H-1"), seq, |json| {
                *json = json.replacen(from, to, 1);
            });
        assert!(changed);
        async {}
    })
    .await;
}

#[tokio::test]
async fn damaged_snapshots_are_replayed() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let damaged = store.clone();
    store_support::conformance::damaged_snapshots_are_replayed(store, || {
        let changed = damaged.tamper_with_snapshot(&sopflow::engine::CaseId::new("Z-1"), |json| {
            *json = json
                .replacen("called back", "called bacK", 1)
                .replacen("Z-1", "Z-9", 1);
        });
        assert!(changed);
        async {}
    })
    .await;
}
