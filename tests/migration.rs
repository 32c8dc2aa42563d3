//! Moving open cases onto a newer SOP version: the plan's checks against the earlier
//! version, the cases that may move and those that may not, and the property that a moved
//! case is its old history plus one event whose replay is the live state.

mod common;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use sopflow::engine::{self, ActorId, CaseState, CommandId, EventKind, MigrationError};
use sopflow::graph::Process;
use sopflow::simulate::{Behaviour, Simulator};

use common::{sop_file, sop_yaml, t};

fn revision() -> std::sync::Arc<Process> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/migration/ticket-handling.v2.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    sop_yaml(&text)
}

/// A case of `process` driven by the simulator for `moves` commands (or to its end).
fn drive(process: &Process, seed: u64, moves: usize) -> (CaseState, Vec<engine::Event>) {
    let mut simulator = Simulator::new(seed, Behaviour::default());
    let mut state = CaseState::new();
    let mut events = Vec::new();
    let mut next = Some(simulator.start(process, "T-1", t(0)));
    let mut now: DateTime<Utc> = t(0);
    for _ in 0..=moves {
        let Some(step) = next else { break };
        now = step.at.max(now);
        match engine::handle(process, &state, step.command, now) {
            Ok(new) => {
                for event in &new {
                    state.apply(event);
                }
                events.extend(new);
            }
            Err(refused) => panic!("the simulator sent a refused command: {refused}"),
        }
        next = simulator.next(process, &state, now);
    }
    (state, events)
}

fn migrate(
    old: &Process,
    new: &Process,
    state: &CaseState,
) -> Result<Vec<engine::Event>, MigrationError> {
    let at = state.last_event_at().unwrap_or(t(0));
    engine::migrate(
        old,
        new,
        state,
        CommandId::new("migrate"),
        ActorId::new("migration"),
        at,
    )
}

#[test]
fn the_ticket_handling_revision_takes_every_open_case_of_version_1() {
    let problems =
        sopflow::versions::check_migration(&sop_file("ticket-handling.yaml"), &revision());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_revision_that_drops_a_step_without_a_mapping_names_the_step() {
    let old = sop_file("ticket-handling.yaml");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/migration/ticket-handling.v2.yaml"
    ))
    .unwrap()
    .replace("    review_customer: segment\n", "");
    let new = sop_yaml(&text);
    let problems = sopflow::versions::check_migration(&old, &new);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].code.name(), "unmapped-step");
    assert_eq!(
        problems[0].message,
        "step `review_customer` of version 1 (a task) has no step to go to in version 2: open cases there could not move"
    );
    let migrate_line = text
        .lines()
        .position(|l| l.starts_with("migrate:"))
        .unwrap()
        + 1;
    assert_eq!(
        problems[0].span.line as usize,
        migrate_line + 1,
        "the section's first line"
    );
}

#[test]
fn a_plan_naming_a_step_or_value_the_revision_lacks_does_not_compile() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/migration/ticket-handling.v2.yaml"
    ))
    .unwrap()
    .replace("review_customer: segment", "review_customer: segmnt")
    .replace("survey_sent: false", "survey_sent: maybe");
    let sop = sopflow::parse::parse_sop("v2.yaml", &text).unwrap();
    let compilation = sopflow::graph::compile(&sop);
    let found: Vec<(String, &str, Option<&str>)> = compilation
        .diagnostics
        .iter()
        .map(|d| (d.message.clone(), d.code.name(), d.help.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "`migrate` moves the work of step `review_customer` to `segmnt`, which is not a step of this version".to_owned(),
                "invalid-migration",
                Some("did you mean `segment`?"),
            ),
            (
                "`migrate` sets `survey_sent`: a bool field cannot hold text".to_owned(),
                "invalid-migration",
                None,
            ),
        ]
    );
}

#[test]
fn a_response_due_sooner_in_the_revision_is_overdue_from_when_it_started() {
    let old = sop_file("ticket-handling.yaml");
    let new = revision();
    // Answered at 09:10, reviewed and segmented at 09:20: `respond` is due at 13:20 on v1.
    let mut state = CaseState::new();
    let mut log = Vec::new();
    let mut send = |state: &mut CaseState, action: engine::Action, at| {
        let actor = engine::Actor::new("ana", ["representative".parse().unwrap()]);
        let id = format!("c{}", state.version());
        for event in
            engine::handle(&old, state, engine::Command::new(id, actor, action), at).unwrap()
        {
            state.apply(&event);
            log.push(event);
        }
    };
    send(
        &mut state,
        engine::Action::Start {
            case: "T-1".into(),
            fields: Default::default(),
        },
        t(0),
    );
    let fields: engine::FieldValues = [
        ("customer_name", "Bo"),
        ("channel", "Email"),
        ("request", "Refund"),
    ]
    .into_iter()
    .map(|(k, v)| {
        (
            k.parse().unwrap(),
            sopflow::model::FieldValue::Text(v.to_owned()),
        )
    })
    .collect();
    send(
        &mut state,
        engine::Action::Complete {
            step: "answer".parse().unwrap(),
            fields,
            item: None,
        },
        t(10),
    );
    for step in ["review_customer", "segment"] {
        send(
            &mut state,
            engine::Action::Complete {
                step: step.parse().unwrap(),
                fields: Default::default(),
                item: None,
            },
            t(20),
        );
    }
    assert_eq!(state.active_steps()[0].due_at, Some(t(20 + 240)));

    let events = migrate(&old, &new, &state).unwrap();
    let EventKind::CaseMigrated {
        renamed,
        fields,
        timers,
        ..
    } = &events[0].kind
    else {
        panic!("{events:?}");
    };
    assert!(
        renamed
            .iter()
            .any(|r| r.from.as_str() == "respond" && r.to.as_str() == "respond_to_customer")
    );
    assert_eq!(
        fields.get(&"survey_sent".parse().unwrap()),
        Some(&sopflow::model::FieldValue::Bool(false))
    );
    assert_eq!(
        timers[0].due_at,
        Some(t(20 + 120)),
        "2 hours from when it became active"
    );
    let mut moved = state.clone();
    moved.apply(&events[0]);
    assert_eq!(moved.active_steps()[0].step.as_str(), "respond_to_customer");
    assert_eq!(moved.sop().map(|(_, v)| v), Some(2));

    // Drawn on version 2, the path taken on version 1 follows the renames.
    log.extend(events);
    let highlight = sopflow::render::Highlight::from_case(&new, &log, &moved);
    let node = |id: &str| new.step(&id.parse().unwrap()).unwrap();
    assert!(highlight.active.contains(&node("respond_to_customer")));
    for visited in ["answer", "segment", "route", "respond_to_customer"] {
        assert!(
            highlight.visited.contains(&node(visited)),
            "{visited} is not on the path"
        );
    }
}

#[test]
fn work_in_progress_cannot_change_kind() {
    let old = sop_yaml(
        "id: refunds
version: 1
title: Refunds
department: Billing
roles: { agent: Billing agent, lead: Team lead }
steps:
  - { id: check, title: Check the claim, role: agent }
  - { id: pay, title: Pay the refund, role: agent, end: true }
",
    );
    let new = sop_yaml(
        "id: refunds
version: 2
title: Refunds
department: Billing
roles: { agent: Billing agent, lead: Team lead }
steps:
  - { id: check, title: Check the claim, approval: { by: lead, on_reject: pay } }
  - { id: pay, title: Pay the refund, role: agent, end: true }
",
    );
    let actor = engine::Actor::new("ana", ["agent".parse().unwrap()]);
    let start = engine::Command::new(
        "s",
        actor,
        engine::Action::Start {
            case: "R-1".into(),
            fields: Default::default(),
        },
    );
    let state = CaseState::replay(&engine::handle(&old, &CaseState::new(), start, t(0)).unwrap());
    let error = migrate(&old, &new, &state).unwrap_err();
    assert_eq!(error.kind(), "kind-changed");
    assert_eq!(
        error.to_string(),
        "active step `check` is a task, but `check` in version 2 is an approval gate: work in progress cannot change kind"
    );
    let problems = sopflow::versions::check_migration(&old, &new);
    assert_eq!(problems[0].code.name(), "unmapped-step");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// For random open cases of version 1, a move leaves the history as it was plus one
    /// event; the moved case's active steps are the mapped ones; replay gives the live
    /// state; and the history checks across both versions.
    #[test]
    fn a_moved_case_is_its_history_plus_one_event(seed in any::<u64>(), moves in 0usize..12) {
        let old = sop_file("ticket-handling.yaml");
        let new = revision();
        let (state, events) = drive(&old, seed, moves);
        match migrate(&old, &new, &state) {
            Ok(moved) => {
                prop_assert!(state.is_open());
                prop_assert_eq!(moved.len(), 1);
                let mut live = state.clone();
                live.apply(&moved[0]);
                let expected: Vec<String> = state
                    .active_steps()
                    .iter()
                    .map(|a| engine::migration_target(&new, 1, &a.step).unwrap().to_string())
                    .collect();
                let active: Vec<String> = live.active_steps().iter().map(|a| a.step.to_string()).collect();
                prop_assert_eq!(active, expected);
                let mut all = events.clone();
                all.extend(moved);
                prop_assert_eq!(&CaseState::replay(&all), &live);
                let process_of = |v: u32| match v {
                    1 => Some(&*old),
                    2 => Some(&*new),
                    _ => None,
                };
                let checked = engine::check_history_across(process_of, &all);
                prop_assert!(checked.is_ok(), "{:?}", checked);
                prop_assert_eq!(checked.unwrap(), live);
            }
            Err(reason) => {
                // Only closed or cancelled cases stay behind on this revision.
                prop_assert!(!state.is_open(), "an open case was refused: {}", reason);
            }
        }
    }
}

/// The revisions of the seed SOPs `sop diff` is pinned on.
fn seed_revisions() -> Vec<(String, std::sync::Arc<Process>, std::sync::Arc<Process>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/revisions");
    let mut pairs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let seed = format!("{}.yaml", name.split(".v").next().unwrap());
            let revision = sop_yaml(&std::fs::read_to_string(&path).unwrap());
            (name, sop_file(&seed), revision)
        })
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

#[test]
fn every_seed_revision_has_a_place_for_every_open_case_of_its_seed() {
    let revisions = seed_revisions();
    assert_eq!(revisions.len(), 7);
    for (name, seed, revision) in &revisions {
        let problems = sopflow::versions::check_migration(seed, revision);
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
}

#[test]
fn open_cases_of_every_seed_move_onto_its_revision() {
    for (name, seed, revision) in seed_revisions() {
        let mut moved = 0;
        for seed_number in 0..40u64 {
            let (state, events) = drive(&seed, seed_number, (seed_number % 9) as usize);
            if !state.is_open() {
                continue;
            }
            let event = match migrate(&seed, &revision, &state) {
                Ok(event) => event,
                Err(reason) => panic!("{name}: case {seed_number} cannot move: {reason}"),
            };
            let mut all = events.clone();
            all.extend(event);
            let process_of = |v: u32| {
                if v == seed.version() {
                    Some(&*seed)
                } else if v == revision.version() {
                    Some(&*revision)
                } else {
                    None
                }
            };
            let checked = engine::check_history_across(process_of, &all);
            assert!(checked.is_ok(), "{name}: {checked:?}");
            moved += 1;
        }
        assert!(moved > 5, "{name}: only {moved} open cases were tried");
    }
}
