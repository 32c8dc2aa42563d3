//! `sop case` against inputs and states that once broke it: unbounded ids, a far-future
//! time, control characters in stored text, a closed pipe, a read-only store, timers held
//! by a worker that died. Each test failed before the fix it pins.
#![cfg(feature = "cli")]

mod cli_support;

use cli_support::TempDir;
use std::io::Read;
use std::process::{Command, Output, Stdio};

use chrono::{TimeZone, Utc};
use sopflow::store::BlockingStore;

const SOP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/sops/customer-support-process.yaml"
);
const AGENT: &str = "ana:support_agent";
const NOW: &str = "2026-01-05T09:00:00Z";

fn sop(dir: &TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .current_dir(&dir.0)
        .arg("case")
        .args(["--db", &dir.db()])
        .args(args)
        .output()
        .expect("run sop")
}

#[track_caller]
fn ok(dir: &TempDir, args: &[&str]) -> String {
    let output = sop(dir, args);
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[track_caller]
fn fails(dir: &TempDir, code: i32, args: &[&str]) -> String {
    let output = sop(dir, args);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unbounded_case_id_is_refused_and_listing_never_panics() {
    let dir = TempDir::new("ids");
    let long = "T".repeat(65_536);
    let err = fails(
        &dir,
        1,
        &["start", SOP, "--id", &long, "--as", AGENT, "--now", NOW],
    );
    assert!(
        err.contains("the case id is 65536 characters long; the most is 200"),
        "{err}"
    );
    // The longest id allowed is listed, shortened to fit the table.
    let longest = "L".repeat(200);
    ok(
        &dir,
        &["start", SOP, "--id", &longest, "--as", AGENT, "--now", NOW],
    );
    let list = ok(&dir, &["list"]);
    assert!(list.contains(&format!("{}…", "L".repeat(47))), "{list}");
    assert!(list.lines().all(|l| l.chars().count() < 200), "{list}");
}

#[test]
fn a_far_future_time_needs_allow_future_and_timers_stay_in_range() {
    let dir = TempDir::new("future");
    let far = "9999-12-31T23:00:00Z";
    let err = fails(&dir, 2, &["start", SOP, "--as", AGENT, "--now", far]);
    assert!(err.contains("more than a day ahead"), "{err}");
    // Even when allowed, a step whose SLA would fall due after the last second sopflow
    // accepts is refused: no tick could ever fire it.
    let err = fails(
        &dir,
        1,
        &["start", SOP, "--as", AGENT, "--now", far, "--allow-future"],
    );
    assert!(err.contains("would fall due after"), "{err}");
    let err = fails(&dir, 2, &["tick", "--now", "3000-01-01T00:00:00Z"]);
    assert!(err.contains("--allow-future"), "{err}");
}

/// A case stamped in the future by mistake refuses every command until then; an operator
/// sets its clock back with `correct-time`, and history keeps both times.
#[test]
fn a_wrong_future_time_is_corrected_on_the_record() {
    let dir = TempDir::new("correct");
    let next_year = (Utc::now() + chrono::Duration::days(400))
        .format("%Y-%m-%dT09:00:00Z")
        .to_string();
    ok(
        &dir,
        &[
            "start",
            SOP,
            "--as",
            AGENT,
            "--now",
            &next_year,
            "--allow-future",
        ],
    );
    let err = fails(&dir, 1, &["note", "T-1", "called back", "--as", AGENT]);
    assert!(err.contains("must not run backwards"), "{err}");
    let err = fails(
        &dir,
        1,
        &["correct-time", "T-1", "--reason", " ", "--as", AGENT],
    );
    assert!(err.contains("reason"), "{err}");
    let out = ok(
        &dir,
        &[
            "correct-time",
            "T-1",
            "--reason",
            "started with next year's date",
            "--as",
            "lee:team_leader",
        ],
    );
    assert!(out.contains("corrected the case's clock"), "{out}");
    // The first-response SLA runs from the corrected start again: one working hour from
    // now (in support hours, so the day depends on when the test runs), not next year.
    let show = ok(&dir, &["show", "T-1"]);
    let receive = show
        .lines()
        .skip_while(|line| !line.contains("receive [task]"))
        .find(|line| line.trim_start().starts_with("due:"))
        .unwrap_or_else(|| panic!("no due time: {show}"));
    assert!(receive.contains("of working time left"), "{show}");
    let utc = receive
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(" UTC)"))
        .map(|(utc, _)| utc)
        .unwrap_or_else(|| panic!("no UTC due time: {receive}"));
    let due = chrono::NaiveDateTime::parse_from_str(utc, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|e| panic!("{utc}: {e}"))
        .and_utc();
    let now = Utc::now();
    assert!(
        due > now && due < now + chrono::Duration::days(5),
        "due {due}, now {now}: {show}"
    );
    ok(&dir, &["note", "T-1", "called back", "--as", AGENT]);
    // Nothing to correct any more.
    fails(
        &dir,
        1,
        &["correct-time", "T-1", "--reason", "again", "--as", AGENT],
    );
    // The history still checks out: the correction explains the earlier times after it.
    let out = ok(&dir, &["verify", "T-1"]);
    assert!(out.contains("all intact"), "{out}");
}

#[test]
fn stored_control_characters_are_escaped_in_human_output() {
    let dir = TempDir::new("escapes");
    ok(&dir, &["start", SOP, "--as", AGENT, "--now", NOW]);
    ok(
        &dir,
        &[
            "note",
            "T-1",
            "red \u{1b}[31malert\u{7}",
            "--as",
            AGENT,
            "--now",
            NOW,
        ],
    );
    let show = ok(&dir, &["show", "T-1"]);
    assert!(
        !show.contains('\u{1b}') && !show.contains('\u{7}'),
        "{show:?}"
    );
    assert!(show.contains("red \\u{1b}[31malert\\u{7}"), "{show}");
}

#[test]
fn a_closed_pipe_ends_a_read_command_quietly() {
    let dir = TempDir::new("pipe");
    ok(&dir, &["start", SOP, "--as", AGENT, "--now", NOW]);
    // More than a pipe holds, so the writer meets the closed end.
    ok(
        &dir,
        &[
            "note",
            "T-1",
            &"x".repeat(99_000),
            "--as",
            AGENT,
            "--now",
            NOW,
        ],
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_sop"))
        .current_dir(&dir.0)
        .args(["case", "--db", &dir.db(), "show", "T-1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sop");
    let mut first = [0u8; 16];
    let mut stdout = child.stdout.take().expect("piped");
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let output = child.wait_with_output().expect("sop ends");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
}

#[cfg(unix)]
#[test]
fn a_read_only_store_opens_for_reading() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("read-only");
    ok(&dir, &["start", SOP, "--as", AGENT, "--now", NOW]);
    let file = dir.0.join("t.db");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    assert!(ok(&dir, &["list"]).contains("T-1"));
    assert!(ok(&dir, &["show", "T-1"]).contains("receive"));
    let err = fails(
        &dir,
        2,
        &[
            "note",
            "T-1",
            "hello",
            "--as",
            AGENT,
            "--now",
            "2026-01-05T09:01:00Z",
        ],
    );
    assert!(err.contains("the store is read-only"), "{err}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn tick_reports_timers_held_by_another_worker() {
    let dir = TempDir::new("held");
    ok(&dir, &["start", SOP, "--as", AGENT, "--now", NOW]);
    // A worker claims the due timer and dies before firing it.
    let at = Utc.with_ymd_and_hms(2026, 1, 5, 10, 30, 0).unwrap();
    {
        let store = BlockingStore::open_existing(&dir.db()).unwrap();
        let claims = store
            .claim_timers(at, "worker-7", chrono::Duration::minutes(10), 10)
            .unwrap();
        assert_eq!(claims.len(), 1);
    }
    let out = ok(&dir, &["tick", "--now", "2026-01-05T10:31:00Z"]);
    assert!(
        out.contains(
            "T-1: timer due 2026-01-05 09:45 UTC is held by worker-7 until 2026-01-05 10:40 UTC"
        ),
        "{out}"
    );
    assert!(!out.contains("no timer due"), "{out}");
    // Once the lease ends, the timer fires.
    let out = ok(&dir, &["tick", "--now", "2026-01-05T10:41:00Z"]);
    assert!(out.contains("SLA of receive breached"), "{out}");
}
