//! A writer killed with SIGKILL at random moments loses nothing it committed and leaves
//! no partial append behind.
//!
//! The test re-runs its own binary as the writer (with `SOPFLOW_CRASH_CHILD_DB` set): the
//! child appends to a SQLite file in a loop, printing `intent CASE FIRST LAST` before each
//! append and `committed CASE LAST` after it returns. The parent kills it after a random
//! delay, then checks the file: every committed event is there, the append in flight is
//! there entirely or not at all, every case loads and replays, the summary rows agree
//! with the events, and the notifications kept are exactly those the events call for.
//! Fifty times, on the same file.
#![cfg(all(feature = "sqlite", unix))]

mod store_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command as Process, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sopflow::engine::{self, Action, CaseId, CaseState, Command, FieldValues};
use sopflow::model::FieldValue;
use sopflow::store::{Append, BlockingStore, CaseFilter, SqliteStore, StoreError};
use store_support::{TempDb, agent, note, start, t0};

const CHILD_ENV: &str = "SOPFLOW_CRASH_CHILD_DB";
const TEST_NAME: &str = "killed_writers_lose_nothing_committed";
const KILLS: usize = 50;
const CASES: usize = 4;

/// Works in rounds until told to stop: each round is a four-event append.
const LOOP_SOP: &str = "id: crash-loop
version: 1
title: Work in rounds
department: Quality Assurance
roles: { agent: Support team member }
fields:
  n: { type: integer, label: Round }
  done: { type: bool, label: Done, default: false }
steps:
  - { id: work, title: Do a round, role: agent, collects: [n] }
  - id: again
    title: Another round?
    decide:
      - if: done == true
        goto: finish
      - else: work
  - { id: finish, title: Finish, role: agent, end: true }
";

/// xorshift64*: enough randomness for delays and choices, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn open(path: &str) -> BlockingStore<SqliteStore> {
    let url = format!("sqlite:{path}");
    BlockingStore::with(|| async move { SqliteStore::open(&url).await }).unwrap()
}

/// The writer: appends until killed (or, as a safety net, for 60 seconds).
fn child(path: &str, seed: u64) {
    let store = open(path);
    let process = store.save_sop("crash-loop.yaml", LOOP_SOP).unwrap();
    let mut rng = Rng(seed | 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut counter = 0u64;
    while Instant::now() < deadline {
        counter += 1;
        let case = format!("K-{}", rng.below(CASES as u64));
        let state = match store.load(&CaseId::new(&case)) {
            Ok(stored) => stored.state,
            Err(StoreError::NotFound { .. }) => CaseState::new(),
            Err(e) => panic!("child cannot load {case}: {e}"),
        };
        let id = format!("{seed}-{counter}");
        let command = if state.version() == 0 {
            start(&case, &id)
        } else if rng.below(3) == 0 {
            // A large event: more for a kill to cut through.
            let size = 1 + rng.below(64 * 1024) as usize;
            note(&id, &"x".repeat(size))
        } else {
            let mut fields = FieldValues::new();
            fields.insert("n".parse().unwrap(), FieldValue::Integer(counter as i64));
            Command::new(
                id,
                agent(),
                Action::Complete {
                    step: "work".parse().unwrap(),
                    fields,
                    item: None,
                },
            )
        };
        let events = engine::handle(&process, &state, command, t0()).unwrap();
        let first = events[0].seq;
        let last = events[events.len() - 1].seq;
        let batch = Append::new(&process, &state, events).unwrap();
        println!("intent {case} {first} {last}");
        store.append(&batch).unwrap();
        println!("committed {case} {last}");
    }
}

#[derive(Debug, Default)]
struct Seen {
    /// The last seq reported committed, per case.
    committed: BTreeMap<String, u64>,
    /// The append announced last and not reported committed: `(case, first, last)`.
    in_flight: Option<(String, u64, u64)>,
    /// The highest seq ever announced, per case.
    announced: BTreeMap<String, u64>,
}

impl Seen {
    fn line(&mut self, line: &str) {
        // The harness prints `test NAME ... ` without a newline before the test runs.
        let Some(at) = line.find("intent ").or_else(|| line.find("committed ")) else {
            return;
        };
        let parts: Vec<&str> = line[at..].split_whitespace().collect();
        match parts.as_slice() {
            ["intent", case, first, last] => {
                let (first, last) = (first.parse().unwrap(), last.parse().unwrap());
                self.in_flight = Some((case.to_string(), first, last));
                let announced = self.announced.entry(case.to_string()).or_default();
                *announced = (*announced).max(last);
            }
            ["committed", case, last] => {
                let last: u64 = last.parse().unwrap();
                let (flight_case, _, flight_last) = self.in_flight.take().unwrap();
                assert_eq!((flight_case.as_str(), flight_last), (*case, last));
                self.committed.insert(case.to_string(), last);
            }
            _ => {} // the test harness's own lines
        }
    }
}

#[test]
fn killed_writers_lose_nothing_committed() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let seed = std::env::var("SOPFLOW_CRASH_SEED")
            .unwrap()
            .parse()
            .unwrap();
        child(&path, seed);
        return;
    }
    let started = Instant::now();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed | 1);
    let db = TempDb::new("crash");
    let path = db.path.display().to_string();
    let mut seen = Seen::default();
    let mut cut_mid_append = 0;
    for round in 0..KILLS {
        let mut writer = Process::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .env("SOPFLOW_CRASH_SEED", rng.next().to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = writer.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        // Let the writer get going, then kill it at a random moment.
        loop {
            let line = received
                .recv_timeout(Duration::from_secs(20))
                .expect("the writer never started writing");
            seen.line(&line);
            if line.contains("intent ") {
                break;
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(150_000)));
        writer.kill().unwrap();
        let status = writer.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "the writer ended by itself ({status}) before it was killed in round {round}"
        );
        reader.join().unwrap();
        for line in received.try_iter() {
            seen.line(&line);
        }
        if seen.in_flight.is_some() {
            cut_mid_append += 1;
        }
        check(&path, &mut seen, round);
    }
    eprintln!(
        "{KILLS} kills ({cut_mid_append} between an append's start and its report), \
         {} events committed, in {:.1?}",
        seen.committed.values().sum::<u64>(),
        started.elapsed()
    );
}

/// What the file must hold after a kill.
fn check(path: &str, seen: &mut Seen, round: usize) {
    let store = open(path);
    let rows = store.list(&CaseFilter::all()).unwrap();
    for row in &rows {
        let stored = store
            .load(&row.case)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let version = stored.events.len() as u64;
        assert_eq!(
            row.version, version,
            "round {round}: summary row of {}",
            row.case
        );
        assert_eq!(stored.state, CaseState::replay(&stored.events));
        // Notifications are written with their events: exactly those the stored events
        // call for, none from a cut append, none lost.
        let process = store.load_process(&row.sop, row.sop_version).unwrap();
        let expected = engine::notifications(&process, &CaseState::new(), &stored.events);
        let kept: Vec<_> = store
            .case_notifications(&row.case)
            .unwrap()
            .into_iter()
            .map(|n| n.notification)
            .collect();
        assert_eq!(
            kept, expected,
            "round {round}: notifications of {} differ from its events",
            row.case
        );
        let case = row.case.as_str();
        let committed = seen.committed.get(case).copied().unwrap_or(0);
        assert!(
            version >= committed,
            "round {round}: case {case} has {version} events but {committed} were committed"
        );
        let announced = seen.announced.get(case).copied().unwrap_or(0);
        assert!(
            version <= announced,
            "round {round}: case {case} has {version} events, more than were ever written"
        );
        match &seen.in_flight {
            Some((flight, first, last)) if flight == case => assert!(
                version == first - 1 || version == *last,
                "round {round}: case {case} has {version} events: part of the append \
                 {first}..={last} was written"
            ),
            _ => assert_eq!(
                version, committed,
                "round {round}: case {case} has events nobody was writing"
            ),
        }
    }
    // The append in flight either happened or did not; from now on it is history.
    if let Some((case, _, last)) = seen.in_flight.take() {
        let version = store
            .load(&CaseId::new(&case))
            .map_or(0, |c| c.events.len() as u64);
        if version == last {
            seen.committed.insert(case, last);
        }
    }
    let listed: Vec<&str> = rows.iter().map(|r| r.case.as_str()).collect();
    for case in seen.committed.keys() {
        assert!(
            listed.contains(&case.as_str()),
            "round {round}: case {case} lost"
        );
    }
}
