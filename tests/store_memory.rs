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
