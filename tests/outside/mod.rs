//! Checks that need a program from outside the Rust toolchain (Graphviz, a PostgreSQL
//! server) follow one rule: an environment variable turns them on. Without it they are
//! skipped with a note on standard error, so `cargo test` passes on a machine with only
//! Rust; with it they run and fail if the program is missing.
//!
//! So that a CI run cannot skip them by mistake (a variable not set, or misspelled), each
//! check that ran appends its name to the file `SOPFLOW_TEST_RAN` names; `.ci/run` reads
//! that file afterwards and fails if a check it turned on is not in it.
#![allow(dead_code)]

use std::io::Write;

/// The variable that turns on the checks with the real Graphviz `dot`.
pub const GRAPHVIZ: &str = "SOPFLOW_TEST_GRAPHVIZ";

/// The variable that turns on the check of the XES export against the IEEE 1849-2016
/// schema with libxml2's `xmllint`.
pub const XMLLINT: &str = "SOPFLOW_TEST_XMLLINT";

/// The variable that turns on the check that the HTML report renders in headless
/// Chromium (Debian package `chromium`).
pub const CHROMIUM: &str = "SOPFLOW_TEST_CHROMIUM";

/// The variable that names an empty directory on a small file system, to fill up.
pub const DISK_FULL: &str = "SOPFLOW_TEST_DISK_FULL";

/// The variable that holds a PostgreSQL URL the tests may create schemas and databases in.
pub const POSTGRES: &str = "SOPFLOW_TEST_POSTGRES";

/// The value of `var` when it is set and not empty; otherwise `None`, after saying on
/// standard error which check is skipped and how to run it.
pub fn enabled(var: &str, check: &str, how: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => {
            record(var);
            Some(value)
        }
        _ => {
            eprintln!("skipped {check}: set {var} to run it ({how})");
            None
        }
    }
}

/// Notes in the `SOPFLOW_TEST_RAN` file, when there is one, that checks under `var` ran.
fn record(var: &str) {
    let Some(path) = std::env::var_os("SOPFLOW_TEST_RAN") else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| writeln!(file, "{var}"));
    if let Err(e) = written {
        panic!(
            "cannot record in SOPFLOW_TEST_RAN ({}): {e}",
            path.to_string_lossy()
        );
    }
}
