//! The conformance suite on the memory store.

#![cfg(feature = "store")]

mod store_support;

use sopflow::store::MemoryStore;

async fn make(_test: &str) -> MemoryStore {
    MemoryStore::new()
}

conformance_tests!(make);
