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
