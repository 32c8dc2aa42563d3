//! `sop people` and the check of `sop case --as` against the directory of people: the
//! built binary on a SQLite store in a temporary directory.

#![cfg(feature = "cli")]

mod cli_support;

use cli_support::TempDir;
use std::process::{Command, Output};

const SOP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/sops/customer-support-process.yaml"
);

const T0: &str = "2026-01-05T09:00:00Z";

/// Runs `sop SUBCOMMAND --db <dir>/t.db ARGS`.
fn sop(dir: &TempDir, subcommand: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sop"))
        .current_dir(&dir.0)
        .arg(subcommand)
        .args(["--db", &dir.db()])
        .args(args)
        .output()
        .expect("run sop")
}

/// Runs a command that must succeed; returns its standard output.
#[track_caller]
fn ok(dir: &TempDir, subcommand: &str, args: &[&str]) -> String {
    let output = sop(dir, subcommand, args);
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "sop {subcommand} {args:?} failed:\n{out}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Runs a command that must fail with `code`; returns its one line of standard error.
#[track_caller]
fn fails(dir: &TempDir, code: i32, subcommand: &str, args: &[&str]) -> String {
    let output = sop(dir, subcommand, args);
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(code),
        "sop {subcommand} {args:?} should exit {code}:\n{}{err}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
    err
}

/// A store with case T-1 waiting at `receive` (support_agent), started while nobody was
/// in the directory, and then a directory: ada the admin, ana the agent, lee the leader.
fn store_with_people(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    ok(
        &dir,
        "case",
        &["start", SOP, "--as", "ana:support_agent", "--now", T0],
    );
    ok(&dir, "people", &["add", "ada", "--role", "admin"]);
    for (id, role) in [("ana", "support_agent"), ("lee", "team_leader")] {
        ok(&dir, "people", &["add", id, "--role", role, "--as", "ada"]);
    }
    dir
}

#[test]
fn without_people_roles_are_taken_as_typed() {
    let dir = TempDir::new("no-people");
    ok(
        &dir,
        "case",
        &["start", SOP, "--as", "ana:support_agent", "--now", T0],
    );
    let err = String::from_utf8_lossy(&sop(&dir, "people", &["list"]).stderr).into_owned();
    assert!(err.contains("`--as` is taken as typed"), "{err}");
}

#[test]
fn the_first_person_must_be_an_admin() {
    let dir = TempDir::new("bootstrap");
    let err = fails(
        &dir,
        1,
        "people",
        &["add", "ana", "--role", "support_agent"],
    );
    assert!(err.contains("the first person added must"), "{err}");
    let out = ok(&dir, "people", &["add", "ada", "--role", "admin"]);
    assert_eq!(out, "added ada: admin\n");

    // From now on, changes need an admin.
    let err = fails(
        &dir,
        2,
        "people",
        &["add", "ana", "--role", "support_agent"],
    );
    assert!(err.contains("needs --as"), "{err}");
    ok(
        &dir,
        "people",
        &["add", "ana", "--role", "support_agent", "--as", "ada"],
    );
    let err = fails(
        &dir,
        1,
        "people",
        &["add", "ana", "--role", "admin", "--as", "ana"],
    );
    assert!(err.contains("`ana` does not hold `admin`"), "{err}");
    let err = fails(
        &dir,
        1,
        "people",
        &["add", "bo", "--role", "admin", "--as", "adb"],
    );
    assert!(err.contains("did you mean `ada`?"), "{err}");

    // The last active admin cannot lock the directory.
    let err = fails(&dir, 1, "people", &["deactivate", "ada", "--as", "ada"]);
    assert!(err.contains("nobody active holding `admin`"), "{err}");
    let err = fails(
        &dir,
        1,
        "people",
        &["remove-role", "ada", "--role", "admin", "--as", "ada"],
    );
    assert!(err.contains("nobody active holding `admin`"), "{err}");
    let err = fails(&dir, 3, "people", &["deactivate", "nobody", "--as", "ada"]);
    assert!(err.contains("nobody called `nobody`"), "{err}");

    // Ids are bounded like every actor id, and cannot carry roles.
    let long = "a".repeat(201);
    let err = fails(
        &dir,
        2,
        "people",
        &["add", &long, "--role", "agent", "--as", "ada"],
    );
    assert!(err.contains("at most 200 characters"), "{err}");
    let err = fails(
        &dir,
        2,
        "people",
        &["add", "bo:agent", "--role", "agent", "--as", "ada"],
    );
    assert!(err.contains("is not a person id"), "{err}");

    let out = ok(&dir, "people", &["list"]);
    assert_eq!(out, "ada: admin\nana: support_agent\n");
}

#[test]
fn a_forged_role_is_refused() {
    let dir = store_with_people("forged");
    let err = fails(
        &dir,
        1,
        "case",
        &[
            "note",
            "T-1",
            "hello",
            "--as",
            "ana:team_leader",
            "--now",
            T0,
        ],
    );
    assert!(
        err.contains("the directory of people says ana does not hold `team_leader`"),
        "{err}"
    );
    // With her own roles, from the directory or typed.
    ok(
        &dir,
        "case",
        &["note", "T-1", "one", "--as", "ana", "--now", T0],
    );
    ok(
        &dir,
        "case",
        &[
            "note",
            "T-1",
            "two",
            "--as",
            "ana:support_agent",
            "--now",
            T0,
        ],
    );
    // Someone unknown, with a suggestion for a misspelt id.
    let err = fails(
        &dir,
        1,
        "case",
        &["note", "T-1", "x", "--as", "anna", "--now", T0],
    );
    assert!(err.contains("did you mean `ana`?"), "{err}");
    // A start is checked too, and a refused one stores nothing.
    let err = fails(
        &dir,
        1,
        "case",
        &[
            "start",
            SOP,
            "--id",
            "T-9",
            "--as",
            "eve:support_agent",
            "--now",
            T0,
        ],
    );
    assert!(err.contains("nobody called `eve`"), "{err}");
    fails(&dir, 3, "case", &["show", "T-9"]);
}

#[test]
fn an_inactive_person_is_refused_until_activated() {
    let dir = store_with_people("inactive");
    ok(&dir, "people", &["deactivate", "ana", "--as", "ada"]);
    assert!(ok(&dir, "people", &["show", "ana"]).contains("(inactive)"));
    let err = fails(
        &dir,
        1,
        "case",
        &["note", "T-1", "x", "--as", "ana", "--now", T0],
    );
    assert!(err.contains("deactivated"), "{err}");
    ok(&dir, "people", &["activate", "ana", "--as", "ada"]);
    ok(
        &dir,
        "case",
        &["note", "T-1", "x", "--as", "ana", "--now", T0],
    );
}

#[test]
fn work_queue_of_a_person() {
    let dir = store_with_people("queue");
    let out = ok(&dir, "case", &["list", "--as", "ana", "--now", T0]);
    assert!(out.contains("T-1") && out.contains("receive"), "{out}");
    let out =
        String::from_utf8_lossy(&sop(&dir, "case", &["list", "--as", "lee", "--now", T0]).stderr)
            .into_owned();
    assert!(out.contains("nothing for lee to do"), "{out}");
    let out = ok(
        &dir,
        "case",
        &["list", "--mine", "ana", "--format", "json", "--now", T0],
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["actor"]["id"], "ana");
    assert_eq!(json["work"][0]["case"], "T-1");
    assert_eq!(json["work"][0]["step"], "receive");
}

#[test]
fn json_output() {
    let dir = TempDir::new("people-json");
    let out = ok(
        &dir,
        "people",
        &["add", "ada", "--role", "admin", "--format", "json"],
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"person": {"id": "ada", "roles": ["admin"], "active": true}})
    );
    ok(
        &dir,
        "people",
        &[
            "add",
            "ana",
            "--role",
            "support_agent",
            "--role",
            "agent",
            "--as",
            "ada",
        ],
    );
    let out = ok(&dir, "people", &["list", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json["people"][1]["roles"],
        serde_json::json!(["agent", "support_agent"])
    );

    let output = sop(&dir, "people", &["show", "anna", "--format", "json"]);
    assert_eq!(output.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["error"]["kind"], "not_found");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `ana`?")
    );
}

#[test]
fn people_added_by_processes_at_once_are_all_kept() {
    let dir = TempDir::new("people-at-once");
    ok(&dir, "people", &["add", "ada", "--role", "admin"]);
    let db = dir.db();
    // One thread per process, so the processes run at the same time.
    let handles: Vec<_> = (0..12)
        .map(|n| {
            let (id, role) = if n % 2 == 0 {
                (format!("p{}", n / 2), "support_agent")
            } else {
                (format!("q{}", n / 2), "team_leader")
            };
            let db = db.clone();
            let cwd = dir.0.clone();
            std::thread::spawn(move || {
                Command::new(env!("CARGO_BIN_EXE_sop"))
                    .current_dir(cwd)
                    .args(["people", "--db", &db, "add", &id])
                    .args(["--role", role, "--as", "ada"])
                    .output()
                    .expect("run sop")
            })
        })
        .collect();
    for handle in handles {
        let output = handle.join().expect("a thread running sop");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let out = ok(&dir, "people", &["list"]);
    for n in 0..6 {
        assert!(out.contains(&format!("p{n}: support_agent")), "{out}");
        assert!(out.contains(&format!("q{n}: team_leader")), "{out}");
    }
}

#[test]
fn a_refused_actor_in_json() {
    let dir = store_with_people("refused-json");
    let output = sop(
        &dir,
        "case",
        &[
            "note",
            "T-1",
            "x",
            "--as",
            "ana:team_leader",
            "--now",
            T0,
            "--format",
            "json",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["error"]["kind"], "refused");
    assert_eq!(json["error"]["exit"], 1);
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not hold `team_leader`")
    );
}
