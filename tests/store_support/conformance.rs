//! The conformance suite: what every [`CaseStore`] must do, run against memory, SQLite and
//! PostgreSQL by `conformance_tests!`.

use std::collections::BTreeSet;
use std::sync::Arc;

use sopflow::engine::{
    self, Action, ActorId, CaseId, CaseState, CaseStatus, Command, CommandError,
};
use sopflow::graph::Process;
use sopflow::model::{RoleId, SopId};
use sopflow::store::{
    Append, CaseCache, CaseFilter, CaseStore, CaseSummary, ExecuteError, KeptFacts, Person,
    Processes, ReportCase, StoreError, execute, execute_on, execute_with_retry, fire_due_timers,
    load_verified, measure, migrate_open_cases,
};

use super::{
    agent, customer_support, hello, hello_renamed, lead, minutes, next_command, note, start, t0,
    timed,
};

/// Generates one `#[tokio::test]` per conformance check; `$make` is an async fn taking the
/// test's name and returning a fresh, empty store. With `optional`, `$make` returns an
/// `Option` and a test whose store is `None` (its server is not configured) does nothing.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make; |store| Some(store));
    };
    (optional $make:path) => {
        $crate::conformance_tests!(@each $make; |store| store);
    };
    (@each $make:path; $made:expr) => {
        $crate::conformance_tests!(@tests $make; $made;
            round_trip, version_conflicts, concurrent_appends_all_land, new_case_conflict,
            duplicate_seq_impossible, list_filters, timer_claims_exclusive,
            timer_claims_released, fire_due_timers_once, old_sop_versions_loadable,
            errors_typed, drive_to_the_end, case_ids_allocated_once, snapshots_resume_loads,
            cached_states_follow_the_store, held_states_append_only_at_their_version,
            notifications_are_kept_with_their_events, people_directory_round_trip,
            concurrent_people_updates_all_land, open_cases_migrate, histories_page_in_id_order,
            facts_kept_for_reports, reports_read_kept_facts, old_repeats_apply_once,
            sub_case_links_survive_stops);
    };
    (@tests $make:path; $made:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(store) = ($made)($make(stringify!($name)).await) else {
                    return;
                };
                store_support::conformance::$name(std::sync::Arc::new(store)).await;
            }
        )*
    };
}

async fn save<S: CaseStore>(store: &S, (name, text): (String, String)) -> Process {
    store.save_sop(&name, &text).await.unwrap()
}

/// Sends commands one after the other, returning every event written.
async fn run<S: CaseStore>(
    store: &S,
    process: &Process,
    case: &str,
    commands: impl IntoIterator<Item = Command>,
) -> Vec<engine::Event> {
    let mut events = Vec::new();
    for command in commands {
        let executed = execute(store, process, &CaseId::new(case), command, t0())
            .await
            .unwrap();
        events.extend(executed.events);
    }
    events
}

/// Drives a case with [`next_command`] until it ends or `limit` commands were sent.
async fn drive<S: CaseStore>(store: &S, process: &Process, case: &str, limit: usize) -> CaseState {
    let id = CaseId::new(case);
    let mut state = match store.load(&id).await {
        Ok(stored) => stored.state,
        Err(_) => CaseState::new(),
    };
    for _ in 0..limit {
        let Some(command) = next_command(process, &state, case) else {
            break;
        };
        state = execute(store, process, &id, command, t0())
            .await
            .unwrap()
            .state;
    }
    state
}

async fn summary<S: CaseStore>(store: &S, case: &str) -> CaseSummary {
    let all = store.list(&CaseFilter::all()).await.unwrap();
    all.into_iter()
        .find(|s| s.case.as_str() == case)
        .unwrap_or_else(|| panic!("case {case} is not listed"))
}

fn ids(summaries: &[CaseSummary]) -> Vec<&str> {
    summaries.iter().map(|s| s.case.as_str()).collect()
}

pub async fn round_trip<S: CaseStore>(store: Arc<S>) {
    let process = save(&*store, customer_support()).await;
    let mut written = Vec::new();
    let mut state = CaseState::new();
    for _ in 0..6 {
        let command = next_command(&process, &state, "RT-1").unwrap();
        let executed = execute(&*store, &process, &CaseId::new("RT-1"), command, t0())
            .await
            .unwrap();
        written.extend(executed.events);
        state = executed.state;
    }
    let loaded = store.load(&CaseId::new("RT-1")).await.unwrap();
    assert_eq!(loaded.events, written);
    assert_eq!(loaded.state, CaseState::replay(&written));
    assert_eq!(loaded.state, state);
    let seqs: Vec<u64> = loaded.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=written.len() as u64).collect::<Vec<_>>());

    let row = summary(&*store, "RT-1").await;
    assert_eq!(
        row,
        CaseSummary::of(&process, &state, written[written.len() - 1].at).unwrap()
    );
    assert_eq!(row.sop.as_str(), "customer-support");
    assert_eq!(row.sop_version, process.version());
    assert_eq!(row.status, CaseStatus::Open);
    assert_eq!(row.version, written.len() as u64);
}

pub async fn version_conflicts<S: CaseStore>(store: Arc<S>) {
    let process = save(&*store, hello(1)).await;
    run(&*store, &process, "VC-1", [start("VC-1", "c1")]).await;
    let stale = store.load(&CaseId::new("VC-1")).await.unwrap().state;
    assert_eq!(stale.version(), 2);

    let first = engine::handle(&process, &stale, note("n1", "first"), t0()).unwrap();
    let second = engine::handle(&process, &stale, note("n2", "second"), t0()).unwrap();
    store
        .append(&Append::new(&process, &stale, first).unwrap())
        .await
        .unwrap();
    let error = store
        .append(&Append::new(&process, &stale, second).unwrap())
        .await
        .unwrap_err();
    match &error {
        StoreError::Conflict {
            case,
            expected,
            actual,
        } => {
            assert_eq!(case.as_str(), "VC-1");
            assert_eq!((*expected, *actual), (2, 3));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(error.is_conflict());
    assert_eq!(
        error.to_string(),
        "case `VC-1` changed while the command was decided: expected version 2, found 3; load the case again and retry"
    );
    // Nothing of the losing append was written.
    let loaded = store.load(&CaseId::new("VC-1")).await.unwrap();
    assert_eq!(loaded.events.len(), 3);

    // Retrying decides again on the new state and lands.
    let retried = execute_with_retry(
        &*store,
        &process,
        &CaseId::new("VC-1"),
        note("n2", "second"),
        t0(),
        3,
    )
    .await
    .unwrap();
    assert_eq!(retried.events[0].seq, 4);
    // The same command again is a duplicate: its earlier events, nothing written.
    let again = execute(
        &*store,
        &process,
        &CaseId::new("VC-1"),
        note("n2", "second"),
        t0(),
    )
    .await
    .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.events, retried.events);
    assert_eq!(
        store.load(&CaseId::new("VC-1")).await.unwrap().events.len(),
        4
    );
}

pub async fn concurrent_appends_all_land<S: CaseStore + 'static>(store: Arc<S>) {
    let process = Arc::new(save(&*store, hello(1)).await);
    run(&*store, &process, "CA-1", [start("CA-1", "c1")]).await;
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let store = Arc::clone(&store);
        let process = Arc::clone(&process);
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for n in 0..5 {
                let command = note(&format!("w{worker}-n{n}"), &format!("note {n} of {worker}"));
                let executed = execute_with_retry(
                    &*store,
                    &process,
                    &CaseId::new("CA-1"),
                    command,
                    t0(),
                    1_000,
                )
                .await
                .unwrap();
                assert!(!executed.duplicate);
                conflicts += executed.conflicts;
            }
            conflicts
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let loaded = store.load(&CaseId::new("CA-1")).await.unwrap();
    assert_eq!(loaded.events.len(), 2 + 8 * 5);
    let commands: BTreeSet<&str> = loaded.events[2..]
        .iter()
        .map(|e| e.command.as_str())
        .collect();
    assert_eq!(commands.len(), 40, "every note landed exactly once");
    assert_eq!(summary(&*store, "CA-1").await.version, 42);
}

pub async fn new_case_conflict<S: CaseStore>(store: Arc<S>) {
    let process = save(&*store, hello(1)).await;
    let empty = CaseState::new();
    let mine = engine::handle(&process, &empty, start("NC-1", "a"), t0()).unwrap();
    let theirs = engine::handle(&process, &empty, start("NC-1", "b"), t0()).unwrap();
    store
        .append(&Append::new(&process, &empty, mine).unwrap())
        .await
        .unwrap();
    let error = store
        .append(&Append::new(&process, &empty, theirs).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Conflict {
                expected: 0,
                actual: 2,
                ..
            }
        ),
        "{error:?}"
    );
    let loaded = store.load(&CaseId::new("NC-1")).await.unwrap();
    assert_eq!(loaded.events[0].command.as_str(), "a");
    assert_eq!(loaded.events.len(), 2);
}

pub async fn duplicate_seq_impossible<S: CaseStore + 'static>(store: Arc<S>) {
    let process = Arc::new(save(&*store, hello(1)).await);
    run(&*store, &process, "DS-1", [start("DS-1", "c1")]).await;
    let state = store.load(&CaseId::new("DS-1")).await.unwrap().state;

    // Events that do not follow on are refused before reaching the store.
    let mut events = engine::handle(&process, &state, note("n", "x"), t0()).unwrap();
    events[0].seq = 2;
    let error = Append::new(&process, &state, events).unwrap_err();
    assert!(
        matches!(error, StoreError::InvalidBatch { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "events for case `DS-1` cannot be appended: event 1 of the batch has seq 2, but the case has 2 events so it must be 3"
    );

    // Eight writers append seq 3 at once: one wins, the others conflict.
    let batches: Vec<Append> = (0..8)
        .map(|i| {
            let events =
                engine::handle(&process, &state, note(&format!("n{i}"), "race"), t0()).unwrap();
            Append::new(&process, &state, events).unwrap()
        })
        .collect();
    let mut tasks = Vec::new();
    for batch in batches {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move { store.append(&batch).await }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict {
                expected: 2,
                actual: 3,
                ..
            }) => {}
            Err(other) => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(won, 1);
    // The same batch again (a retried request) is a conflict too, never a second copy.
    let loaded = store.load(&CaseId::new("DS-1")).await.unwrap();
    assert_eq!(
        loaded.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let events = engine::handle(&process, &state, note("n0", "race"), t0()).unwrap();
    let again = store
        .append(&Append::new(&process, &state, events).unwrap())
        .await
        .unwrap_err();
    assert!(again.is_conflict());
}

pub async fn list_filters<S: CaseStore>(store: Arc<S>) {
    let v1 = save(&*store, hello(1)).await;
    let v2 = save(&*store, hello(2)).await;
    let support = save(&*store, customer_support()).await;
    let greet = |id: &str| {
        Command::new(
            id,
            agent(),
            Action::Complete {
                step: "greet".parse().unwrap(),
                fields: Default::default(),
                item: None,
            },
        )
    };
    run(&*store, &v1, "H-1", [start("H-1", "s")]).await;
    run(&*store, &v2, "H-2", [start("H-2", "s"), greet("g")]).await;
    run(&*store, &v1, "H-3", [start("H-3", "s"), greet("g")]).await;
    let cancel = Command::new(
        "x",
        agent(),
        Action::Cancel {
            reason: "duplicate".into(),
        },
    );
    run(&*store, &v1, "H-4", [start("H-4", "s"), cancel]).await;
    // Receive, identify: the case waits for a team leader to assign it.
    drive(&*store, &support, "S-1", 3).await;

    let list = |filter: CaseFilter| {
        let store = Arc::clone(&store);
        async move { store.list(&filter).await.unwrap() }
    };
    assert_eq!(
        ids(&list(CaseFilter::all()).await),
        ["H-1", "H-2", "H-3", "H-4", "S-1"]
    );
    let hello_id: SopId = "hello".parse().unwrap();
    assert_eq!(
        ids(&list(CaseFilter::all().sop(hello_id.clone())).await),
        ["H-1", "H-2", "H-3", "H-4"]
    );
    assert_eq!(
        ids(&list(CaseFilter::all().sop(hello_id.clone()).sop_version(1)).await),
        ["H-1", "H-3", "H-4"]
    );
    assert_eq!(
        ids(&list(CaseFilter::all().status(CaseStatus::Open)).await),
        ["H-1", "H-2", "S-1"]
    );
    assert_eq!(
        ids(&list(CaseFilter::all().status(CaseStatus::Closed)).await),
        ["H-3"]
    );
    assert_eq!(
        ids(&list(CaseFilter::all().status(CaseStatus::Cancelled)).await),
        ["H-4"]
    );
    let role = |r: &str| RoleId::new(r).unwrap();
    assert_eq!(
        ids(&list(CaseFilter::all().role(role("agent"))).await),
        ["H-1", "H-2"]
    );
    assert_eq!(
        ids(&list(CaseFilter::all().role(role("team_leader"))).await),
        ["S-1"]
    );
    assert!(
        list(CaseFilter::all().role(role("qa_manager")))
            .await
            .is_empty()
    );
    assert_eq!(
        ids(&list(
            CaseFilter::all()
                .role(role("agent"))
                .status(CaseStatus::Open)
        )
        .await),
        ["H-1", "H-2"]
    );
    // Paging.
    let page = list(CaseFilter::all().limit(2)).await;
    assert_eq!(ids(&page), ["H-1", "H-2"]);
    let next = list(CaseFilter::all().after(page[1].case.clone()).limit(2)).await;
    assert_eq!(ids(&next), ["H-3", "H-4"]);
    let last = list(CaseFilter::all().after(next[1].case.clone()).limit(2)).await;
    assert_eq!(ids(&last), ["S-1"]);

    let h2 = summary(&*store, "H-2").await;
    assert_eq!(h2.roles, [role("agent")]);
    assert_eq!(h2.sop_version, 2);
    let h3 = summary(&*store, "H-3").await;
    assert!(h3.roles.is_empty());
    assert_eq!(h3.next_timer, None);
}

/// `histories` pages through a SOP's cases with every event, in case id order, skipping
/// the cases of another SOP whose ids sort among them.
pub async fn histories_page_in_id_order<S: CaseStore>(store: Arc<S>) {
    let v1 = save(&*store, hello(1)).await;
    let v2 = save(&*store, hello(2)).await;
    let support = save(&*store, customer_support()).await;
    let greet = Command::new(
        "g",
        agent(),
        Action::Complete {
            step: "greet".parse().unwrap(),
            fields: Default::default(),
            item: None,
        },
    );
    run(&*store, &v1, "H-1", [start("H-1", "s"), greet.clone()]).await;
    run(&*store, &v2, "H-2", [start("H-2", "s")]).await;
    // Sorts between H-2 and H-3, on another SOP.
    drive(&*store, &support, "H-25", 3).await;
    run(
        &*store,
        &v1,
        "H-3",
        [start("H-3", "s"), note("n", "a note")],
    )
    .await;
    run(&*store, &v2, "H-4", [start("H-4", "s"), greet]).await;

    let hello_id: SopId = "hello".parse().unwrap();
    let first = store
        .histories(&CaseFilter::all().sop(hello_id.clone()).limit(3))
        .await
        .unwrap();
    let page_ids: Vec<&str> = first.iter().map(|h| h.summary.case.as_str()).collect();
    assert_eq!(page_ids, ["H-1", "H-2", "H-3"]);
    for history in &first {
        let loaded = store.load(&history.summary.case).await.unwrap();
        assert_eq!(history.events, loaded.events, "{}", history.summary.case);
    }
    assert_eq!(first[1].summary.sop_version, 2);
    let next = store
        .histories(
            &CaseFilter::all()
                .sop(hello_id.clone())
                .after(first[2].summary.case.clone())
                .limit(3),
        )
        .await
        .unwrap();
    let page_ids: Vec<&str> = next.iter().map(|h| h.summary.case.as_str()).collect();
    assert_eq!(page_ids, ["H-4"]);
    assert_eq!(
        next[0].events.len(),
        store.load(&CaseId::new("H-4")).await.unwrap().events.len()
    );
    let past_the_end = store
        .histories(&CaseFilter::all().sop(hello_id).after(CaseId::new("H-4")))
        .await
        .unwrap();
    assert!(past_the_end.is_empty());
    let everything = store.histories(&CaseFilter::all()).await.unwrap();
    assert_eq!(everything.len(), 5);

    // A page large enough to be decoded on several threads keeps its order and events.
    for n in 0..80 {
        let id = format!("M-{n:03}");
        run(&*store, &v1, &id, [start(&id, "s")]).await;
    }
    let many = store
        .histories(&CaseFilter::all().after(CaseId::new("M-")).limit(100))
        .await
        .unwrap();
    assert_eq!(many.len(), 80);
    for (n, history) in many.iter().enumerate() {
        assert_eq!(history.summary.case.as_str(), format!("M-{n:03}"));
        let loaded = store.load(&history.summary.case).await.unwrap();
        assert_eq!(history.events, loaded.events);
    }
}

/// Starts `n` cases of the timed SOP at `t0`; their timers are due at `t0 + 1h`.
async fn timed_cases<S: CaseStore>(store: &S, prefix: &str, n: usize) -> Process {
    let process = save(store, timed()).await;
    for i in 0..n {
        let case = format!("{prefix}-{i:02}");
        run(store, &process, &case, [start(&case, "s")]).await;
    }
    process
}

pub async fn timer_claims_exclusive<S: CaseStore + 'static>(store: Arc<S>) {
    timed_cases(&*store, "T", 6).await;
    let lease = minutes(5);
    let due = t0() + minutes(60);
    assert_eq!(summary(&*store, "T-00").await.next_timer, Some(due));
    // Nothing is due before the hour.
    let early = store
        .claim_timers(t0() + minutes(59), "a", lease, 10)
        .await
        .unwrap();
    assert!(early.is_empty());

    let now = t0() + minutes(90);
    let a = store.claim_timers(now, "a", lease, 4).await.unwrap();
    assert_eq!(
        ids_of(&a),
        ["T-00", "T-01", "T-02", "T-03"],
        "earliest timer first, then by case"
    );
    assert!(
        a.iter()
            .all(|c| c.due_at == due && c.owner == "a" && c.version == 2)
    );
    assert_eq!(a[0].lease_until, now + lease);
    let b = store.claim_timers(now, "b", lease, 10).await.unwrap();
    assert_eq!(ids_of(&b), ["T-04", "T-05"]);
    assert!(
        store
            .claim_timers(now, "c", lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Leases that nobody released expire.
    let later = now + lease;
    assert_eq!(
        store
            .claim_timers(later, "c", lease, 10)
            .await
            .unwrap()
            .len(),
        6
    );

    // Many workers claiming at once never share a case.
    timed_cases(&*store, "U", 24).await;
    let now = later + lease + minutes(1);
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .claim_timers(now, &format!("w{worker}"), lease, 5)
                .await
                .unwrap()
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.unwrap());
    }
    let distinct: BTreeSet<&str> = claimed.iter().map(|c| c.case.as_str()).collect();
    assert_eq!(distinct.len(), claimed.len(), "a case was claimed twice");
    assert_eq!(claimed.len(), 30, "every due case was claimed");
}

fn ids_of(claims: &[sopflow::store::TimerClaim]) -> Vec<&str> {
    claims.iter().map(|c| c.case.as_str()).collect()
}

pub async fn timer_claims_released<S: CaseStore>(store: Arc<S>) {
    let process = timed_cases(&*store, "R", 2).await;
    let lease = minutes(10);
    let now = t0() + minutes(61);
    let claims = store.claim_timers(now, "a", lease, 10).await.unwrap();
    assert_eq!(claims.len(), 2);

    // Released by hand: claimable again at once. Someone else's release does nothing.
    let mut foreign = claims[1].clone();
    foreign.owner = "b".to_owned();
    store.release_timer(&foreign).await.unwrap();
    store.release_timer(&claims[0]).await.unwrap();
    let again = store.claim_timers(now, "b", lease, 10).await.unwrap();
    assert_eq!(ids_of(&again), ["R-00"]);

    // Released by the next append to the case, whatever it is.
    run(&*store, &process, "R-01", [note("n", "customer called")]).await;
    let again = store.claim_timers(now, "c", lease, 10).await.unwrap();
    assert_eq!(ids_of(&again), ["R-01"]);
    assert_eq!(again[0].version, 3);

    // A tick that fires the timer moves the case on: nothing is due any more.
    let tick = again[0].tick_command();
    let fired = execute(&*store, &process, &again[0].case, tick, now)
        .await
        .unwrap();
    assert_eq!(fired.events[0].kind.name(), "sla_breached");
    assert_eq!(summary(&*store, "R-01").await.next_timer, None);
    assert_eq!(
        summary(&*store, "R-01").await.roles,
        [RoleId::new("lead").unwrap()]
    );
    assert!(
        store
            .claim_timers(now + minutes(60), "d", lease, 10)
            .await
            .unwrap()
            .iter()
            .all(|c| c.case.as_str() != "R-01")
    );
}

pub async fn fire_due_timers_once<S: CaseStore + 'static>(store: Arc<S>) {
    timed_cases(&*store, "F", 10).await;
    let processes = Arc::new(Processes::new());
    let now = t0() + minutes(61);
    // Three instances fire timers at the same moment.
    let mut tasks = Vec::new();
    for worker in 0..3 {
        let store = Arc::clone(&store);
        let processes = Arc::clone(&processes);
        tasks.push(tokio::spawn(async move {
            fire_due_timers(
                &*store,
                &processes,
                &format!("w{worker}"),
                now,
                minutes(5),
                4,
            )
            .await
            .unwrap()
        }));
    }
    let mut fired = Vec::new();
    for task in tasks {
        let run = task.await.unwrap();
        assert!(run.failed.is_empty(), "{:?}", run.failed);
        fired.extend(run.fired.into_iter().map(|(case, _)| case));
    }
    // Whatever was left after the first round goes in a second one.
    let rest = fire_due_timers(&*store, &processes, "w0", now, minutes(5), 100)
        .await
        .unwrap();
    fired.extend(rest.fired.into_iter().map(|(case, _)| case));
    fired.sort();
    let expected: Vec<CaseId> = (0..10).map(|i| CaseId::new(format!("F-{i:02}"))).collect();
    assert_eq!(fired, expected, "each timer fired exactly once");
    for case in &expected {
        let loaded = store.load(case).await.unwrap();
        let breaches = loaded
            .events
            .iter()
            .filter(|e| e.kind.name() == "sla_breached")
            .count();
        assert_eq!(breaches, 1, "{case}");
    }
    let idle = fire_due_timers(&*store, &processes, "w0", now, minutes(5), 100)
        .await
        .unwrap();
    assert!(idle.fired.is_empty() && idle.idle.is_empty());
}

pub async fn old_sop_versions_loadable<S: CaseStore>(store: Arc<S>) {
    let v1 = save(&*store, hello(1)).await;
    run(&*store, &v1, "O-1", [start("O-1", "s")]).await;
    let v2 = save(&*store, hello(2)).await;
    run(&*store, &v2, "O-2", [start("O-2", "s")]).await;
    let hello_id: SopId = "hello".parse().unwrap();
    assert_eq!(
        store.sop_versions().await.unwrap(),
        [(hello_id.clone(), 1), (hello_id.clone(), 2)]
    );

    // The case started on version 1 finishes on version 1, loaded from the store.
    let case = store.load(&CaseId::new("O-1")).await.unwrap();
    let (sop, version) = case.state.sop().unwrap();
    assert_eq!(version, 1);
    let process = store.load_process(sop, version).await.unwrap();
    assert_eq!(process.version(), 1);
    assert!(process.step(&"wave".parse().unwrap()).is_none());
    let greet = || {
        Command::new(
            "g",
            agent(),
            Action::Complete {
                step: "greet".parse().unwrap(),
                fields: Default::default(),
                item: None,
            },
        )
    };
    let error = execute(&*store, &v2, &CaseId::new("O-1"), greet(), t0())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ExecuteError::Refused(CommandError::WrongProcess {
                case_version: 1,
                process_version: 2,
                ..
            })
        ),
        "{error:?}"
    );
    let done = execute(&*store, &process, &CaseId::new("O-1"), greet(), t0())
        .await
        .unwrap();
    assert_eq!(done.state.status(), CaseStatus::Closed);
    assert_eq!(summary(&*store, "O-1").await.sop_version, 1);
    assert_eq!(summary(&*store, "O-2").await.sop_version, 2);

    // A stored version is immutable; saving the same text again is harmless.
    let (name, text) = hello(1);
    store.save_sop(&name, &text).await.unwrap();
    let changed = text.replace("Greet the customer", "Greet the customer warmly");
    let error = store.save_sop(&name, &changed).await.unwrap_err();
    assert!(
        matches!(error, StoreError::SopVersionExists { version: 1, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "SOP `hello` version 1 is already stored with different text; give the changed SOP a new version"
    );
    assert_eq!(store.sop_source(&hello_id, 1).await.unwrap().text, text);
}

pub async fn errors_typed<S: CaseStore>(store: Arc<S>) {
    let missing = store.load(&CaseId::new("nope")).await.unwrap_err();
    assert!(matches!(&missing, StoreError::NotFound { case } if case.as_str() == "nope"));
    assert_eq!(
        missing.to_string(),
        "case `nope` does not exist in this store"
    );

    let hello_id: SopId = "hello".parse().unwrap();
    let error = store.load_process(&hello_id, 7).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::SopNotFound { version: 7, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "SOP `hello` version 7 is not in this store; save it with `save_sop` first"
    );

    let error = store
        .save_sop("broken.yaml", "id: broken\ntitel: Oops\n")
        .await
        .unwrap_err();
    assert!(matches!(&error, StoreError::InvalidSop { name, .. } if name == "broken.yaml"));
    assert!(
        error
            .to_string()
            .starts_with("SOP `broken.yaml` cannot be used: 2:1: "),
        "{error}"
    );

    // A case cannot start on an SOP version the store does not have.
    let (name, text) = hello(1);
    let unsaved = sopflow::graph::compile(&sopflow::parse::parse_sop(&name, &text).unwrap())
        .process
        .unwrap();
    let error = execute(
        &*store,
        &unsaved,
        &CaseId::new("E-1"),
        start("E-1", "s"),
        t0(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            &error,
            ExecuteError::Store(StoreError::SopNotFound { version: 1, .. })
        ),
        "{error:?}"
    );
    assert!(store.load(&CaseId::new("E-1")).await.is_err());

    // A refused command is the engine's error, and writes nothing.
    let process = save(&*store, hello(1)).await;
    run(&*store, &process, "E-1", [start("E-1", "s")]).await;
    let approve = Command::new(
        "a",
        lead(),
        Action::Complete {
            step: "greet".parse().unwrap(),
            fields: Default::default(),
            item: None,
        },
    );
    let error = execute(&*store, &process, &CaseId::new("E-1"), approve, t0())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ExecuteError::Refused(CommandError::NotAuthorized { .. })
        ),
        "{error:?}"
    );
    assert!(!error.is_conflict());
    assert_eq!(
        store.load(&CaseId::new("E-1")).await.unwrap().events.len(),
        2
    );

    // A start command for another case than the one named.
    let error = execute(
        &*store,
        &process,
        &CaseId::new("E-2"),
        start("E-3", "s"),
        t0(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, ExecuteError::Store(StoreError::InvalidBatch { .. })),
        "{error:?}"
    );

    // No events, or events of another process.
    let state = store.load(&CaseId::new("E-1")).await.unwrap().state;
    let error = Append::new(&process, &state, Vec::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "events for case `E-1` cannot be appended: there are no events to append"
    );
    let events = engine::handle(&process, &state, note("n", "x"), t0()).unwrap();
    let v2 = save(&*store, hello(2)).await;
    let error = Append::new(&v2, &state, events).unwrap_err();
    assert!(
        matches!(error, StoreError::InvalidBatch { .. }),
        "{error:?}"
    );
}

/// The customer support process from start to end through the store, and the history
/// tells the same story as a fresh replay.
pub async fn drive_to_the_end<S: CaseStore>(store: Arc<S>) {
    let process = save(&*store, customer_support()).await;
    let state = drive(&*store, &process, "D-1", 200).await;
    assert_eq!(state.status(), CaseStatus::Closed);
    let loaded = store.load(&CaseId::new("D-1")).await.unwrap();
    assert_eq!(loaded.state, state);
    assert_eq!(CaseState::replay(&loaded.events), state);
    let row = summary(&*store, "D-1").await;
    assert_eq!(row.status, CaseStatus::Closed);
    assert!(row.roles.is_empty());
    assert_eq!(row.version, loaded.events.len() as u64);
}

/// Case numbers: concurrent callers get distinct, consecutive numbers; prefixes count
/// apart; a counter starts after the ids already used.
pub async fn case_ids_allocated_once<S: CaseStore + 'static>(store: Arc<S>) {
    let process = save(&*store, hello(1)).await;
    // Cases that existed before the counter did: it must not give their ids again.
    run(&*store, &process, "AL-7", [start("AL-7", "s7")]).await;
    run(&*store, &process, "AL-x9", [start("AL-x9", "sx")]).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..10 {
                ids.push(store.allocate_case_id("AL-").await.unwrap());
            }
            ids
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        for id in task.await.unwrap() {
            let number: u64 = id.as_str().strip_prefix("AL-").unwrap().parse().unwrap();
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (8..88).collect::<Vec<u64>>(),
        "distinct and consecutive"
    );
    assert_eq!(
        store.allocate_case_id("OTHER-").await.unwrap(),
        CaseId::new("OTHER-1")
    );
    assert_eq!(
        store.allocate_case_id("AL-").await.unwrap(),
        CaseId::new("AL-88")
    );
}

/// A byte changed behind the store's back, in an event's time, actor or payload, is
/// reported as [`StoreError::Corrupt`] at that event by `load` (its hash no longer
/// matches), and the case loads again once the byte is restored. `flip(seq, from, to)`
/// replaces `from` with `to` in the stored JSON of event `seq` of case `H-1`, as damage on
/// disk would, without touching its hash.
pub async fn tampered_events_are_corrupt<S, F, Fut>(store: Arc<S>, flip: F)
where
    S: CaseStore,
    F: Fn(u64, &'static str, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let process = save(&*store, hello(1)).await;
    let case = CaseId::new("H-1");
    run(
        &*store,
        &process,
        "H-1",
        [start("H-1", "s"), note("n1", "one"), note("n2", "two")],
    )
    .await;
    // 1 case_started, 2 step_activated, 3 and 4 note_added.
    for (seq, from, to) in [
        (2, "\"2026-", "\"2426-"),
        (3, "\"ana\"", "\"an!\""),
        (4, "\"two\"", "\"twp\""),
    ] {
        flip(seq, from, to).await;
        match store.load(&case).await {
            Err(StoreError::Corrupt {
                case: damaged,
                seq: at,
                reason,
            }) => {
                assert_eq!((damaged.as_str(), at), ("H-1", seq), "{reason}");
                assert_eq!(
                    reason,
                    "its content does not match its hash: it was changed after it was written"
                );
            }
            other => panic!("flipping `{from}` in event {seq}: expected corruption, got {other:?}"),
        }
        // Nothing can be appended on a damaged history.
        let refused = execute(&*store, &process, &case, note("n3", "three"), t0()).await;
        assert!(
            matches!(refused, Err(ExecuteError::Store(StoreError::Corrupt { seq: at, .. })) if at == seq),
            "{refused:?}"
        );
        flip(seq, to, from).await;
        assert_eq!(store.load(&case).await.unwrap().events.len(), 4);
    }
}

/// Starts case `case` on the hello SOP and adds notes until it has `events` events.
async fn long_case<S: CaseStore>(store: &S, process: &Process, case: &str, events: u64) {
    let id = CaseId::new(case);
    let mut version = execute(store, process, &id, start(case, &format!("{case}-s")), t0())
        .await
        .unwrap()
        .state
        .version();
    while version < events {
        let command = note(&format!("{case}-n{version}"), "called back");
        version = execute(store, process, &id, command, t0())
            .await
            .unwrap()
            .state
            .version();
    }
}

/// A case gets a snapshot every 100 events and when it ends; `load_latest` starts from it
/// and reads only the events after it, and folds into exactly the state a full replay
/// gives.
pub async fn snapshots_resume_loads<S: CaseStore>(store: Arc<S>) {
    let process = save(&*store, hello(1)).await;
    let case = CaseId::new("S-1");
    long_case(&*store, &process, "S-1", 251).await;
    let latest = store.load_latest(&case).await.unwrap();
    assert_eq!(latest.snapshot_version(), Some(200));
    assert_eq!(latest.events().len(), 51);
    assert_eq!(latest.events()[0].seq, 201);
    let whole = store.load(&case).await.unwrap();
    assert_eq!(latest.state(), whole.state);
    assert_eq!(latest.base(), &CaseState::replay(&whole.events[..200]));
    // A case without a snapshot yet is read whole.
    long_case(&*store, &process, "S-2", 5).await;
    let young = store.load_latest(&CaseId::new("S-2")).await.unwrap();
    assert_eq!((young.snapshot_version(), young.events().len()), (None, 5));
    // Ending the case writes one.
    let greet = Command::new(
        "S-1-greet",
        agent(),
        Action::Complete {
            step: "greet".parse().unwrap(),
            fields: Default::default(),
            item: None,
        },
    );
    let closed = execute(&*store, &process, &case, greet, t0())
        .await
        .unwrap();
    assert_eq!(closed.state.status(), CaseStatus::Closed);
    let latest = store.load_latest(&case).await.unwrap();
    assert_eq!(latest.snapshot_version(), Some(closed.state.version()));
    assert!(latest.events().is_empty());
    assert_eq!(latest.state(), closed.state);
    assert_eq!(latest.state(), store.load(&case).await.unwrap().state);
    // A repeated command whose events precede the snapshot still returns them.
    let again = execute(&*store, &process, &case, note("S-1-n10", "again"), t0())
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.events.len(), 1);
    assert_eq!(again.events[0].seq, 11);
}

/// Two caches (two app instances) send commands to the same case in turn: each decides on
/// the state it holds, meets a conflict when the other moved the case on, drops its entry
/// and retries on the case as stored. Nothing is lost or written twice.
pub async fn cached_states_follow_the_store<S: CaseStore>(store: Arc<S>) {
    let process = save(&*store, hello(1)).await;
    let case = CaseId::new("K-1");
    let (mine, theirs) = (CaseCache::new(8), CaseCache::new(8));
    mine.execute(&*store, &process, &case, start("K-1", "k-s"), t0())
        .await
        .unwrap();
    assert_eq!(mine.version(&case), Some(2));
    let mut conflicts = 0;
    for n in 0..30 {
        let cache = if n % 3 == 0 { &theirs } else { &mine };
        let executed = cache
            .execute_with_retry(
                &*store,
                &process,
                &case,
                note(&format!("k{n}"), "hi"),
                t0(),
                3,
            )
            .await
            .unwrap();
        conflicts += executed.conflicts;
        assert_eq!(cache.version(&case), Some(executed.state.version()));
        assert_eq!(executed.state, store.load(&case).await.unwrap().state);
    }
    assert!(conflicts > 0, "the other cache's appends were noticed");
    assert_eq!(store.load(&case).await.unwrap().events.len(), 32);
    // A refused command keeps the cached state; a repeated one writes nothing.
    let refused = mine
        .execute(&*store, &process, &case, start("K-1", "k-s2"), t0())
        .await;
    assert!(
        matches!(
            refused,
            Err(ExecuteError::Refused(CommandError::AlreadyStarted { .. }))
        ),
        "{refused:?}"
    );
    let again = theirs
        .execute_with_retry(&*store, &process, &case, note("k29", "hi"), t0(), 3)
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.events[0].seq, 32);
    // The cache is bounded.
    let small = CaseCache::new(4);
    for n in 0..10 {
        let id = format!("KB-{n}");
        small
            .execute(&*store, &process, &CaseId::new(&id), start(&id, &id), t0())
            .await
            .unwrap();
        assert!(small.len() <= 4);
    }
}

/// `execute_on` decides on the state the caller holds and appends only at its version.
pub async fn held_states_append_only_at_their_version<S: CaseStore>(store: Arc<S>) {
    let process = save(&*store, hello(1)).await;
    let case = CaseId::new("E-1");
    let started = execute_on(
        &*store,
        &process,
        &case,
        &CaseState::new(),
        start("E-1", "e-s"),
        t0(),
    )
    .await
    .unwrap();
    let noted = execute_on(
        &*store,
        &process,
        &case,
        &started.state,
        note("e1", "one"),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(noted.state, store.load(&case).await.unwrap().state);
    let stale = execute_on(
        &*store,
        &process,
        &case,
        &started.state,
        note("e2", "two"),
        t0(),
    )
    .await;
    assert!(
        matches!(
            stale,
            Err(ExecuteError::Store(StoreError::Conflict {
                expected: 2,
                actual: 3,
                ..
            }))
        ),
        "{stale:?}"
    );
    let again = execute_on(
        &*store,
        &process,
        &case,
        &noted.state,
        note("e1", "one"),
        t0(),
    )
    .await
    .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.events[0].seq, 3);
    let other = execute_on(
        &*store,
        &process,
        &CaseId::new("E-2"),
        &noted.state,
        note("e3", "x"),
        t0(),
    )
    .await;
    assert!(
        matches!(
            other,
            Err(ExecuteError::Store(StoreError::InvalidBatch { .. }))
        ),
        "{other:?}"
    );
    assert_eq!(store.load(&case).await.unwrap().events.len(), 3);
}

/// A snapshot damaged behind the store's back is not trusted: the case is read whole from
/// its events, commands go on, and the next snapshot replaces it. `damage()` changes the
/// stored snapshot of case `Z-1`.
pub async fn damaged_snapshots_are_replayed<S, F, Fut>(store: Arc<S>, damage: F)
where
    S: CaseStore,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let process = save(&*store, hello(1)).await;
    let case = CaseId::new("Z-1");
    long_case(&*store, &process, "Z-1", 120).await;
    assert_eq!(
        store.load_latest(&case).await.unwrap().snapshot_version(),
        Some(100)
    );
    damage().await;
    let latest = store.load_latest(&case).await.unwrap();
    assert_eq!(latest.snapshot_version(), None);
    assert_eq!(latest.events().len(), 120);
    assert_eq!(latest.state(), store.load(&case).await.unwrap().state);
    long_case(&*store, &process, "Z-1", 201).await;
    let latest = store.load_latest(&case).await.unwrap();
    assert_eq!(latest.snapshot_version(), Some(200));
    assert_eq!(latest.state(), store.load(&case).await.unwrap().state);
}

/// Notifications are written with the events that call for them (all or none), read back
/// in order, paged with a cursor, and each acknowledged once.
pub async fn notifications_are_kept_with_their_events<S: CaseStore + 'static>(store: Arc<S>) {
    let process = Arc::new(save(&*store, timed()).await);
    assert!(
        store
            .pending_notifications(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Eight cases started at once: each start tells the agents that work is waiting.
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = Arc::clone(&store);
        let process = Arc::clone(&process);
        tasks.push(tokio::spawn(async move {
            let case = format!("NT-{n}");
            execute(
                &*store,
                &process,
                &CaseId::new(&case),
                start(&case, &format!("s{n}")),
                t0(),
            )
            .await
            .unwrap()
        }));
    }
    let mut expected = Vec::new();
    for task in tasks {
        let executed = task.await.unwrap();
        expected.extend(engine::notifications(
            &process,
            &CaseState::new(),
            &executed.events,
        ));
    }
    let pending = store.pending_notifications(None, 100).await.unwrap();
    assert_eq!(pending.len(), 8);
    let ids: Vec<u64> = pending.iter().map(|n| n.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
    for stored in &pending {
        assert!(expected.contains(&stored.notification), "{stored:?}");
        assert_eq!(stored.acknowledged_at, None);
    }

    // A refused append writes no notification either.
    let case = CaseId::new("NT-0");
    let stale = CaseState::new();
    let again = engine::handle(&process, &stale, start("NT-0", "late"), t0()).unwrap();
    let refused = store
        .append(&Append::new(&process, &stale, again).unwrap())
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    assert_eq!(
        store.pending_notifications(None, 100).await.unwrap().len(),
        8
    );

    // A breach and its escalation: two more for this case, in event order.
    let due = t0() + chrono::Duration::hours(1);
    let state = store.load(&case).await.unwrap().state;
    let tick = Command::new(
        "tick-1",
        sopflow::engine::Actor::new("clock", []),
        Action::Tick,
    );
    let fired = engine::handle(&process, &state, tick, due).unwrap();
    store
        .append(&Append::new(&process, &state, fired).unwrap())
        .await
        .unwrap();
    let of_case = store.case_notifications(&case).await.unwrap();
    let kinds: Vec<&engine::NotificationKind> =
        of_case.iter().map(|n| &n.notification.kind).collect();
    assert_eq!(
        kinds,
        [
            &engine::NotificationKind::WorkWaiting,
            &engine::NotificationKind::Overdue,
            &engine::NotificationKind::WorkWaiting,
        ]
    );
    assert_eq!(
        of_case[2].notification.to,
        engine::Recipient::Role(RoleId::new("lead").unwrap())
    );

    // Paging: after the first id, one at a time.
    let first = pending[0].id;
    let page = store.pending_notifications(Some(first), 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, pending[1].id);

    // Acknowledged once; a second acknowledgement says so; unknown ids are errors.
    assert!(store.acknowledge_notification(first, due).await.unwrap());
    assert!(!store.acknowledge_notification(first, due).await.unwrap());
    let unknown = store.acknowledge_notification(first + 1_000_000, due).await;
    assert!(
        matches!(unknown, Err(StoreError::NotificationNotFound { .. })),
        "{unknown:?}"
    );
    let left = store.pending_notifications(None, 100).await.unwrap();
    assert_eq!(left.len(), 8 - 1 + 2);
    assert!(left.iter().all(|n| n.id != first));
    let acknowledged = store
        .case_notifications(&pending[0].notification.case)
        .await
        .unwrap();
    assert_eq!(acknowledged[0].acknowledged_at, Some(due));
}

fn role(name: &str) -> RoleId {
    RoleId::new(name).unwrap()
}

/// The directory of people starts empty, keeps what is put, replaces a person whole (roles
/// and whether they are active) and lists everyone by id.
pub async fn people_directory_round_trip<S: CaseStore>(store: Arc<S>) {
    assert_eq!(store.people().await.unwrap(), Vec::<Person>::new());
    assert_eq!(store.person(&ActorId::new("ana")).await.unwrap(), None);

    let ana = Person::new("ana", [role("team_leader"), role("agent")]);
    store.put_person(&ana).await.unwrap();
    store
        .put_person(&Person::new("bo", [role("agent")]))
        .await
        .unwrap();
    assert_eq!(
        store.person(&ActorId::new("ana")).await.unwrap(),
        Some(ana.clone())
    );

    let mut changed = ana.clone();
    changed.set_roles([role("agent")]);
    changed.active = false;
    store.put_person(&changed).await.unwrap();
    assert_eq!(
        store.person(&ActorId::new("ana")).await.unwrap(),
        Some(changed.clone())
    );

    // A person with no role at all is kept as such.
    store.put_person(&Person::new("al", [])).await.unwrap();
    let ids: Vec<String> = store
        .people()
        .await
        .unwrap()
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    assert_eq!(ids, ["al", "ana", "bo"]);
    assert_eq!(store.people().await.unwrap()[1], changed);
}

/// Writers putting different people at the same time all keep their changes: each
/// person is written alone, so nobody's update overwrites another's.
pub async fn concurrent_people_updates_all_land<S: CaseStore + 'static>(store: Arc<S>) {
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for n in 0..10_u32 {
                let mut person = Person::new(format!("p{writer}-{n}"), [role("agent")]);
                store.put_person(&person).await.unwrap();
                // A second write of the same person by the same writer: the last one counts.
                person.set_roles([role("agent"), role(&format!("team_{writer}"))]);
                person.active = n.is_multiple_of(2);
                store.put_person(&person).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let people = store.people().await.unwrap();
    assert_eq!(people.len(), 80, "every person written is kept");
    for person in &people {
        let (writer, n) = person
            .id
            .as_str()
            .trim_start_matches('p')
            .split_once('-')
            .unwrap();
        let n: u32 = n.parse().unwrap();
        assert_eq!(
            person.roles,
            [role("agent"), role(&format!("team_{writer}"))]
        );
        assert_eq!(person.active, n.is_multiple_of(2), "{}", person.id);
    }
}

/// Open cases move onto a newer version in one append each: their summary rows follow,
/// closed cases stay, a dry run writes nothing, the moved history verifies across both
/// versions, work goes on under the new step ids, and a second run finds nothing to move.
pub async fn open_cases_migrate<S: CaseStore>(store: Arc<S>) {
    let v1 = save(&*store, hello(1)).await;
    for case in ["M-1", "M-2", "M-3"] {
        run(&*store, &v1, case, [start(case, "s")]).await;
    }
    let greet = Command::new(
        "g",
        agent(),
        Action::Complete {
            step: "greet".parse().unwrap(),
            fields: Default::default(),
            item: None,
        },
    );
    run(&*store, &v1, "M-3", [greet]).await;
    let v3 = save(&*store, hello_renamed()).await;
    let processes = Processes::new();
    let mover = ActorId::new("migration");
    let later = t0() + minutes(10);

    let dry = migrate_open_cases(&*store, &processes, &v3, &mover, later, true, |_, _| {})
        .await
        .unwrap();
    assert_eq!(dry.moved.len(), 2, "{dry:?}");
    assert_eq!(
        summary(&*store, "M-1").await.sop_version,
        1,
        "a dry run writes nothing"
    );

    let mut seen = Vec::new();
    let done = migrate_open_cases(&*store, &processes, &v3, &mover, later, false, |case, _| {
        seen.push(case.clone());
    })
    .await
    .unwrap();
    assert_eq!(moved_ids(&done.moved), ["M-1", "M-2"]);
    assert!(done.refused.is_empty(), "{:?}", done.refused);
    assert_eq!(seen.len(), 2);
    assert_eq!(summary(&*store, "M-1").await.sop_version, 3);
    assert_eq!(
        summary(&*store, "M-3").await.sop_version,
        1,
        "closed cases stay"
    );
    let on_v3 = store.list(&CaseFilter::all().sop_version(3)).await.unwrap();
    assert_eq!(ids(&on_v3), ["M-1", "M-2"]);

    let (stored, process) = load_verified(&*store, &processes, &CaseId::new("M-1"))
        .await
        .unwrap();
    assert_eq!(process.version(), 3);
    assert_eq!(stored.state.sop().map(|(_, v)| v), Some(3));
    let active: Vec<&str> = stored
        .state
        .active_steps()
        .iter()
        .map(|a| a.step.as_str())
        .collect();
    assert_eq!(active, ["welcome"]);
    assert_eq!(
        stored.state,
        CaseState::replay(&stored.events),
        "replay gives the live state"
    );

    let welcome = Command::new(
        "w",
        agent(),
        Action::Complete {
            step: "welcome".parse().unwrap(),
            fields: Default::default(),
            item: None,
        },
    );
    let moved_on = execute(&*store, &v3, &CaseId::new("M-1"), welcome, later)
        .await
        .unwrap();
    assert_eq!(moved_on.state.active_steps()[0].step.as_str(), "wave");

    let again = migrate_open_cases(&*store, &processes, &v3, &mover, later, false, |_, _| {})
        .await
        .unwrap();
    assert!(
        again.moved.is_empty() && again.refused.is_empty(),
        "{again:?}"
    );
}

fn moved_ids(moved: &[(CaseId, u32)]) -> Vec<&str> {
    moved.iter().map(|(c, _)| c.as_str()).collect()
}

const FORMAT: u32 = sopflow::metrics::FACTS_FORMAT;

/// The facts kept for a case come back from `report_page` while the case has no event
/// after them, and its events otherwise; older facts never replace newer ones, and facts of
/// a case or event the store does not have are dropped.
pub async fn facts_kept_for_reports<S: CaseStore>(store: Arc<S>) {
    let v1 = save(&*store, hello(1)).await;
    let f1 = run(&*store, &v1, "F-1", [start("F-1", "s")]).await.len() as u64;
    run(&*store, &v1, "F-2", [start("F-2", "s")]).await;
    let hello_id: SopId = "hello".parse().unwrap();
    let filter = CaseFilter::all().sop(hello_id);
    let kept = |case: &str, seq: u64, text: &str| KeptFacts {
        case: CaseId::new(case),
        seq,
        format: sopflow::metrics::FACTS_FORMAT,
        text: text.to_owned(),
    };
    let texts = |page: &[ReportCase]| -> Vec<Option<String>> {
        page.iter()
            .map(|case| match case {
                ReportCase::Facts { facts, .. } => Some(facts.text.clone()),
                ReportCase::Events(_) => None,
            })
            .collect()
    };

    let page = store.report_page(&filter, FORMAT).await.unwrap();
    assert_eq!(texts(&page), [None, None]);
    for case in &page {
        let ReportCase::Events(history) = case else {
            unreachable!()
        };
        let loaded = store.load(&history.summary.case).await.unwrap();
        assert_eq!(history.events, loaded.events);
    }

    store
        .keep_facts(&[
            kept("F-1", f1, "one"),
            kept("nobody", 1, "lost"),
            // F-2 has no event 99.
            kept("F-2", 99, "ahead"),
        ])
        .await
        .unwrap();
    let page = store.report_page(&filter, FORMAT).await.unwrap();
    assert_eq!(texts(&page), [Some("one".to_owned()), None]);
    assert_eq!(page[0].summary().case.as_str(), "F-1");
    let ReportCase::Facts { facts, .. } = &page[0] else {
        unreachable!()
    };
    assert_eq!(facts, &kept("F-1", f1, "one"));

    // Facts read from fewer events do not replace them.
    store
        .keep_facts(&[kept("F-1", f1 - 1, "older")])
        .await
        .unwrap();
    let page = store.report_page(&filter, FORMAT).await.unwrap();
    assert_eq!(texts(&page), [Some("one".to_owned()), None]);

    // Facts in a format the caller does not read are not current.
    let mut other_format = kept("F-1", f1, "two");
    other_format.format += 1;
    store.keep_facts(&[other_format]).await.unwrap();
    let page = store.report_page(&filter, FORMAT).await.unwrap();
    assert_eq!(texts(&page), [None, None]);
    let page = store.report_page(&filter, FORMAT + 1).await.unwrap();
    assert_eq!(texts(&page), [Some("two".to_owned()), None]);

    // A new event: the facts are no longer current, the events come instead.
    run(&*store, &v1, "F-1", [note("n", "later")]).await;
    let page = store.report_page(&filter, FORMAT).await.unwrap();
    assert_eq!(texts(&page), [None, None]);
    let ReportCase::Events(history) = &page[0] else {
        unreachable!()
    };
    assert_eq!(history.events.len() as u64, f1 + 1);
    assert_eq!(
        store
            .report_page(&filter.clone().limit(1), FORMAT)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A report read with `measure` gives the same figures from the events (keeping the
/// facts) and, the next time, from the facts kept.
pub async fn reports_read_kept_facts<S: CaseStore>(store: Arc<S>) {
    let support = save(&*store, customer_support()).await;
    for (n, limit) in [3, 40, 7, 40, 1, 40].into_iter().enumerate() {
        drive(&*store, &support, &format!("R-{n}"), limit).await;
    }
    let options = sopflow::metrics::Options {
        period: Some(sopflow::metrics::Period::Day),
        ..Default::default()
    };
    let mut direct = sopflow::metrics::Accumulator::new(support.id().clone(), options.clone());
    for summary in store.list(&CaseFilter::all()).await.unwrap() {
        let events = store.load(&summary.case).await.unwrap().events;
        direct.push(&support, &events).unwrap();
    }
    let direct = direct.finish();

    let filter = CaseFilter::all().sop(support.id().clone()).limit(4);
    let mut reports = Vec::new();
    for _ in 0..2 {
        let mut metrics = sopflow::metrics::Accumulator::new(support.id().clone(), options.clone());
        let mut processes = std::collections::BTreeMap::new();
        let measured = measure(&*store, &filter, &mut metrics, &mut processes)
            .await
            .unwrap();
        reports.push((measured, metrics.finish()));
    }
    let (first, second) = (&reports[0].0, &reports[1].0);
    assert_eq!((first.from_facts, first.from_events, first.kept), (0, 6, 6));
    assert_eq!(first.not_kept, None);
    assert_eq!(
        (second.from_facts, second.from_events, second.kept),
        (6, 0, 0)
    );
    assert_eq!(reports[0].1, direct);
    assert_eq!(reports[1].1, direct);
}

/// Kept facts changed behind the store's back (`damage` edits the facts of case `D-1` and
/// nothing else) are not read: the case comes with its events, and the report is the same.
pub async fn damaged_facts_are_not_read<S, F, Fut>(store: Arc<S>, damage: F)
where
    S: CaseStore,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let support = save(&*store, customer_support()).await;
    drive(&*store, &support, "D-1", 40).await;
    drive(&*store, &support, "D-2", 40).await;
    let filter = CaseFilter::all().sop(support.id().clone());
    let report = || async {
        let mut metrics =
            sopflow::metrics::Accumulator::new(support.id().clone(), Default::default());
        let mut processes = std::collections::BTreeMap::new();
        let measured = measure(&*store, &filter, &mut metrics, &mut processes)
            .await
            .unwrap();
        (measured, metrics.finish())
    };
    let (first, from_events) = report().await;
    assert_eq!(first.kept, 2);
    damage().await;
    let page = store.report_page(&filter, FORMAT).await.unwrap();
    assert!(matches!(page[0], ReportCase::Events(_)), "{:?}", page[0]);
    assert!(matches!(page[1], ReportCase::Facts { .. }), "{:?}", page[1]);
    let (second, again) = report().await;
    assert_eq!((second.from_events, second.from_facts), (1, 1));
    assert_eq!(again, from_events);
}

/// A command repeated long after it was applied, when the case's state no longer
/// remembers it (its snapshot keeps recent commands only), is answered with its earlier
/// events and applied nowhere a second time: not through `execute`, a cache, a held state,
/// a hand-made append, nor by many senders at once.
pub async fn old_repeats_apply_once<S: CaseStore + 'static>(store: Arc<S>) {
    let process = Arc::new(save(&*store, hello(1)).await);
    let case = CaseId::new("R-1");
    long_case(&*store, &process, "R-1", 320).await;
    let stored = store.load(&case).await.unwrap().events.len() as u64;
    let latest = store.load_latest(&case).await.unwrap();
    assert_eq!(latest.snapshot_version(), Some(300));
    let old = note("R-1-n10", "called back");
    let state = latest.state();
    assert!(
        !state.has_applied(&old.id),
        "the state forgot the old command"
    );
    assert!(state.has_applied(&format!("R-1-n{}", stored - 1).as_str().into()));
    assert_eq!(
        store.command_outcome(&case, &old.id).await.unwrap(),
        Some(11..=11)
    );
    assert_eq!(
        store
            .command_outcome(&case, &"R-1-never".into())
            .await
            .unwrap(),
        None
    );
    // The engine would apply it again (a note fits an open case): the store refuses.
    let events = engine::handle(&process, &state, old.clone(), t0()).unwrap();
    let batch = Append::new(&process, &state, events).unwrap();
    assert!(
        matches!(
            store.append(&batch).await,
            Err(StoreError::AlreadyApplied { ref command, .. }) if command.as_str() == "R-1-n10"
        ),
        "a hand-made append of an old command is refused"
    );
    // `execute`, `execute_on` and a cache answer it as the repeat it is.
    let again = execute(&*store, &process, &case, old.clone(), t0())
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        again.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![11]
    );
    assert_eq!(again.state.version(), stored);
    let held = execute_on(&*store, &process, &case, &state, old.clone(), t0())
        .await
        .unwrap();
    assert!(held.duplicate);
    assert_eq!(held.events[0].seq, 11);
    let cache = CaseCache::new(4);
    let cached = cache
        .execute(&*store, &process, &case, old.clone(), t0())
        .await
        .unwrap();
    assert!(cached.duplicate);
    // An old repeat the engine now refuses (the start of an open case) is a repeat too.
    let restart = execute(&*store, &process, &case, start("R-1", "R-1-s"), t0())
        .await
        .unwrap();
    assert!(restart.duplicate);
    assert_eq!(restart.events[0].seq, 1);
    // Eight senders repeat the old command and send one new command each, twice over.
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let store = Arc::clone(&store);
        let process = Arc::clone(&process);
        tasks.push(tokio::spawn(async move {
            let case = CaseId::new("R-1");
            for command in [
                note("R-1-n10", "called back"),
                note("R-1-new", "once"),
                note(&format!("R-1-w{worker}"), "mine"),
                note(&format!("R-1-w{worker}"), "mine"),
            ] {
                execute_with_retry(&*store, &process, &case, command, t0(), 1_000)
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let loaded = store.load(&case).await.unwrap();
    assert_eq!(loaded.events.len() as u64, stored + 1 + 8);
    let mut seen = BTreeSet::new();
    let mut runs = 0;
    let mut previous: Option<&str> = None;
    for event in &loaded.events {
        if previous != Some(event.command.as_str()) {
            assert!(
                seen.insert(event.command.as_str()),
                "{} applied twice",
                event.command
            );
            runs += 1;
        }
        previous = Some(event.command.as_str());
    }
    assert_eq!(runs, seen.len());
    assert_eq!(summary(&*store, "R-1").await.version, stored + 9);
}

/// Sub-SOPs: the links between a case and its sub-case are written one append at a time,
/// and a stop between any two of them (modelled by sending the first and not the second)
/// leaves a case due that the next round of the clock finishes. A called SOP that is not
/// stored is a clear failure, and the calling case stays waiting until it is.
pub async fn sub_case_links_survive_stops<S: CaseStore>(store: Arc<S>) {
    use sopflow::engine::{Actor, ParentLink, SubCaseOutcome};
    use sopflow::store::{Link, follow_links};

    let store = &*store;
    let order = store
        .save_sop(
            "sub-sop.yaml",
            include_str!("../fixtures/patterns/sub-sop.yaml"),
        )
        .await
        .unwrap();
    let processes = Processes::new();
    let sam = Actor::new("sam", [RoleId::new("sales").unwrap()]);
    let fay = Actor::new("fay", [RoleId::new("analyst").unwrap()]);
    let at = |m: i64| t0() + minutes(m);
    let send = |case: &str, command: Command, m: i64| {
        let case = CaseId::new(case);
        let process = order.clone();
        async move {
            execute(store, &process, &case, command, at(m))
                .await
                .unwrap()
        }
    };
    let take_order = |id: &str| {
        Command::new(
            id,
            sam.clone(),
            Action::Complete {
                step: "take_order".parse().unwrap(),
                item: None,
                fields: [
                    ("customer".parse().unwrap(), "Acme".into()),
                    ("amount".parse().unwrap(), 1200.into()),
                ]
                .into(),
            },
        )
    };
    let begin = |id: &str| {
        Command::new(
            format!("{id}-start"),
            sam.clone(),
            Action::Start {
                case: id.into(),
                fields: Default::default(),
            },
        )
    };
    let summary = |case: &str| {
        let case = CaseId::new(case);
        async move {
            store
                .list(&CaseFilter::all())
                .await
                .unwrap()
                .into_iter()
                .find(|s| s.case == case)
                .unwrap()
        }
    };
    let round = |m: i64| {
        let processes = &processes;
        async move {
            fire_due_timers(store, processes, "w0", at(m), minutes(5), 100)
                .await
                .unwrap()
        }
    };

    // The order reaches its call step, and the process stops before anything follows.
    send("O-1", begin("O-1"), 0).await;
    send("O-1", take_order("o1-take"), 1).await;
    assert_eq!(
        summary("O-1").await.next_timer,
        Some(at(1)),
        "the link is due"
    );
    // The called SOP is not stored: a clear failure, and the order stays due.
    let run = round(2).await;
    assert!(
        matches!(
            run.failed.as_slice(),
            [(case, ExecuteError::Store(StoreError::CalledSopNotFound { sop, .. }))]
                if case.as_str() == "O-1" && sop.as_str() == "credit-check"
        ),
        "{:?}",
        run.failed
    );
    assert_eq!(summary("O-1").await.next_timer, Some(at(1)));
    store
        .save_sop(
            "sub-sop-credit-check.yaml",
            include_str!("../fixtures/patterns/sub-sop-credit-check.yaml"),
        )
        .await
        .unwrap();
    let run = round(3).await;
    assert!(run.failed.is_empty(), "{:?}", run.failed);
    let child = CaseId::new("O-1.credit_check.1");
    assert_eq!(
        run.linked,
        [Link::Started {
            parent: "O-1".into(),
            child: child.clone(),
            sop: "credit-check".parse().unwrap(),
            version: 1,
        }]
    );
    let started = store.load(&child).await.unwrap();
    assert_eq!(started.state.parent().map(|p| p.case.as_str()), Some("O-1"));
    assert_eq!(
        summary("O-1").await.next_timer,
        None,
        "nothing left to follow"
    );

    // Stop between the sub-case's start and the parent's record of it.
    send("O-2", begin("O-2"), 4).await;
    let requested = send("O-2", take_order("o2-take"), 4).await;
    let token = requested
        .state
        .sub_cases()
        .first()
        .map(|s| s.token)
        .unwrap();
    let check = processes
        .get(store, &"credit-check".parse().unwrap(), 1)
        .await
        .unwrap();
    let child2 = CaseId::new("O-2.credit_check.1");
    execute(
        store,
        &check,
        &child2,
        Command::new(
            "first-write",
            Actor::new("sopflow-link", []),
            Action::StartSubCase {
                case: child2.clone(),
                parent: ParentLink {
                    case: "O-2".into(),
                    step: "credit_check".parse().unwrap(),
                    token,
                },
                fields: requested.state.sub_cases()[0].fields.clone(),
            },
        ),
        at(4),
    )
    .await
    .unwrap();
    assert_eq!(summary("O-2").await.next_timer, Some(at(4)));
    let run = round(5).await;
    assert!(run.failed.is_empty(), "{:?}", run.failed);
    assert_eq!(run.linked.len(), 1, "{:?}", run.linked);
    assert_eq!(summary("O-2").await.next_timer, None);
    assert_eq!(
        store.load(&child2).await.unwrap().state.version(),
        2,
        "started once"
    );

    // The sub-case of O-1 closes and the process stops before the parent hears.
    let assess = |id: &str, approved: bool| {
        Command::new(
            id,
            fay.clone(),
            Action::Complete {
                step: "assess".parse().unwrap(),
                item: None,
                fields: [("approved".parse().unwrap(), approved.into())].into(),
            },
        )
    };
    execute(store, &check, &child, assess("f1", true), at(6))
        .await
        .unwrap();
    assert_eq!(summary(child.as_str()).await.next_timer, Some(at(6)));
    let run = round(7).await;
    assert!(run.failed.is_empty(), "{:?}", run.failed);
    assert_eq!(
        run.linked,
        [Link::Finished {
            parent: "O-1".into(),
            child: child.clone(),
            outcome: SubCaseOutcome::Completed,
        }]
    );
    let parent = store.load(&CaseId::new("O-1")).await.unwrap();
    let active: Vec<&str> = parent
        .state
        .active_steps()
        .iter()
        .map(|a| a.step.as_str())
        .collect();
    assert_eq!(
        active,
        ["ship"],
        "the verdict came back and decided the order"
    );
    assert_eq!(summary(child.as_str()).await.next_timer, None);

    // The parent of O-2's sub-case hears, and the process stops before the sub-case
    // records it: the next round records it without telling the parent twice.
    let closed = execute(store, &check, &child2, assess("f2", false), at(8))
        .await
        .unwrap();
    send(
        "O-2",
        Command::new(
            "first-write",
            Actor::new("sopflow-link", []),
            Action::FinishSubCase {
                child: child2.clone(),
                outcome: SubCaseOutcome::Completed,
                fields: closed.state.fields().clone(),
            },
        ),
        8,
    )
    .await;
    let run = round(9).await;
    assert!(run.failed.is_empty(), "{:?}", run.failed);
    assert_eq!(run.linked.len(), 1, "{:?}", run.linked);
    let parent = store.load(&CaseId::new("O-2")).await.unwrap();
    let heard = parent
        .events
        .iter()
        .filter(|e| e.kind.name() == "sub_case_finished")
        .count();
    assert_eq!(heard, 1, "the parent heard once");
    assert_eq!(summary(child2.as_str()).await.next_timer, None);

    // Nothing is left: another round and following the links again do nothing.
    let run = round(10).await;
    assert!(run.linked.is_empty() && run.failed.is_empty(), "{run:?}");
    let again = follow_links(store, &processes, &CaseId::new("O-1"), at(10))
        .await
        .unwrap();
    assert!(again.followed.is_empty() && again.failed.is_empty());
    for case in ["O-1", "O-2", child.as_str(), child2.as_str()] {
        load_verified(store, &processes, &CaseId::new(case))
            .await
            .unwrap();
    }

    // A case someone started by hand under the id the sub-case would take is not taken
    // for it: the order waits, with an error that says so.
    let taken = CaseId::new("O-3.credit_check.1");
    execute(
        store,
        &check,
        &taken,
        Command::new(
            "by-hand",
            fay.clone(),
            Action::Start {
                case: taken.clone(),
                fields: [("applicant".parse().unwrap(), "Acme".into())].into(),
            },
        ),
        at(11),
    )
    .await
    .unwrap();
    send("O-3", begin("O-3"), 11).await;
    send("O-3", take_order("o3-take"), 11).await;
    let run = round(12).await;
    assert!(
        matches!(
            run.failed.as_slice(),
            [(case, ExecuteError::Store(StoreError::SubCaseIdTaken { .. }))] if case.as_str() == "O-3"
        ),
        "{:?}",
        run.failed
    );
    assert_eq!(summary("O-3").await.next_timer, Some(at(11)), "still due");
}

/// A command decided on a cached state is appended pinned to the stored hash of the
/// state's last event: when that event was replaced behind the cache's back (`damage`
/// changes the stored hash of event 3 of case `PN-1`), the append is refused as a
/// conflict at the same version, nothing is written, and the cache forgets the case.
pub async fn cached_appends_are_pinned_to_the_last_event<S, F, Fut>(store: Arc<S>, damage: F)
where
    S: CaseStore,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let process = save(&*store, hello(1)).await;
    let case = CaseId::new("PN-1");
    let cache = CaseCache::new(8);
    for command in [start("PN-1", "pn-s"), note("pn1", "one")] {
        cache
            .execute(&*store, &process, &case, command, t0())
            .await
            .unwrap();
    }
    assert_eq!(cache.version(&case), Some(3));
    damage().await;
    let refused = cache
        .execute(&*store, &process, &case, note("pn2", "two"), t0())
        .await;
    assert!(
        matches!(
            refused,
            Err(ExecuteError::Store(StoreError::Conflict {
                expected: 3,
                actual: 3,
                ..
            }))
        ),
        "{refused:?}"
    );
    assert_eq!(cache.version(&case), None);
    let summary = store
        .list(&CaseFilter::default())
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.case == case)
        .unwrap();
    assert_eq!(summary.version, 3, "nothing was written");
    assert_eq!(
        store.command_outcome(&case, &"pn2".into()).await.unwrap(),
        None
    );
}
