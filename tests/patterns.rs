//! The resource patterns of the Workflow Patterns catalogue (Russell et al. 2005) that send
//! work to people rather than roles, one fixture SOP each under `tests/fixtures/patterns/`
//! (listed in `docs/patterns.md`), driven through the engine: who gets the work, who is
//! refused, and that a refusal changes nothing.

mod common;

use std::sync::Arc;

use serde_json::json;
use sopflow::engine::{Action, CommandError};
use sopflow::graph::Process;

use common::{Case, actor, fields, kinds, no_fields, sop_yaml, step};

fn pattern(name: &str) -> Arc<Process> {
    let path = format!(
        "{}/tests/fixtures/patterns/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    sop_yaml(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn assignee_of(case: &Case, step_id: &str) -> Option<String> {
    case.state
        .active_step(&step(step_id))
        .and_then(|a| a.assignee.as_ref().map(|a| a.to_string()))
}

#[test]
fn direct_distribution_the_named_line_manager_approves() {
    let process = pattern("direct-distribution");
    let hana = actor("hana", &["hr"]);
    let (mo, max) = (actor("mo", &["manager"]), actor("max", &["manager"]));
    let mut case = Case::start(&process, &hana, no_fields());
    case.complete(
        "request",
        &hana,
        fields(json!({"line_manager": "mo", "laptop": "Standard"})),
    );
    assert_eq!(assignee_of(&case, "approve").as_deref(), Some("mo"));
    let refused = case.refuse(
        &max,
        Action::Approve {
            step: step("approve"),
            comment: None,
        },
    );
    assert!(
        matches!(refused, CommandError::AssignedToSomeoneElse { .. }),
        "{refused:?}"
    );
    case.approve("approve", &mo);
    assert_eq!(case.active(), ["order"]);
}

#[test]
fn deferred_distribution_the_chosen_member_owns_the_rest_of_the_work() {
    let process = pattern("deferred-distribution");
    let lee = actor("lee", &["team_leader"]);
    let (ana, bob) = (
        actor("ana", &["support_agent"]),
        actor("bob", &["support_agent"]),
    );
    let mut case = Case::start(&process, &lee, no_fields());
    case.complete("assign", &lee, fields(json!({"assignee": "bob"})));
    for step_id in ["research", "answer"] {
        assert_eq!(assignee_of(&case, step_id).as_deref(), Some("bob"));
        let refused = case.refuse(
            &ana,
            Action::Claim {
                step: step(step_id),
            },
        );
        assert!(
            matches!(refused, CommandError::AssignedToSomeoneElse { .. }),
            "{refused:?}"
        );
        case.complete(step_id, &bob, no_fields());
    }
    assert_eq!(case.status(), sopflow::engine::CaseStatus::Closed);
}

#[test]
fn a_person_field_takes_only_a_person_s_id() {
    let process = pattern("deferred-distribution");
    let lee = actor("lee", &["team_leader"]);
    let mut case = Case::start(&process, &lee, no_fields());
    let refused = case.refuse(
        &lee,
        Action::Complete {
            step: step("assign"),
            fields: fields(json!({"assignee": "Bob Smith"})),
        },
    );
    assert!(
        refused.to_string().contains("is not a person's id"),
        "{refused}"
    );
}

#[test]
fn retain_familiar_the_agent_who_took_the_complaint_calls_back() {
    let process = pattern("retain-familiar");
    let (ana, bob) = (actor("ana", &["agent"]), actor("bob", &["agent"]));
    let sam = actor("sam", &["specialist"]);
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete("take_complaint", &ana, no_fields());
    case.complete("investigate", &sam, no_fields());
    assert_eq!(assignee_of(&case, "call_back").as_deref(), Some("ana"));
    let refused = case.refuse(
        &bob,
        Action::Complete {
            step: step("call_back"),
            fields: no_fields(),
        },
    );
    assert!(
        matches!(refused, CommandError::AssignedToSomeoneElse { .. }),
        "{refused:?}"
    );
    case.complete("call_back", &ana, no_fields());
    assert_eq!(case.status(), sopflow::engine::CaseStatus::Closed);
}

#[test]
fn separation_of_duties_whoever_raised_the_invoice_cannot_pay_it() {
    let process = pattern("separation-of-duties");
    let (fay, fred) = (actor("fay", &["clerk"]), actor("fred", &["clerk"]));
    let mut case = Case::start(&process, &fay, no_fields());
    case.complete("raise_invoice", &fay, no_fields());
    let items = sopflow::engine::work_items(&process, &case.state);
    assert_eq!(items[0].excluded, std::slice::from_ref(&fay.id));
    let refused = case.refuse(
        &fay,
        Action::Complete {
            step: step("pay_invoice"),
            fields: no_fields(),
        },
    );
    assert_eq!(refused.kind(), "four-eyes");
    assert_eq!(
        refused.to_string(),
        "`fay` performed `raise_invoice` and so cannot perform `pay_invoice` (separation of duties)"
    );
    case.complete("pay_invoice", &fred, no_fields());
    assert_eq!(case.status(), sopflow::engine::CaseStatus::Closed);
}

#[test]
fn people_keys_that_cannot_work_do_not_compile() {
    let cases = [
        (
            "steps:\n  - { id: a, title: A, role: agent, assignee: note }\n",
            "`assignee` of step `a` names `note`, a text field; it needs a `person` field",
        ),
        (
            "steps:\n  - { id: a, title: A, role: agent, same_performer_as: a }\n",
            "`same_performer_as` of step `a` names `a`, which is the step itself; it needs a task someone performs",
        ),
        (
            "steps:\n  - { id: a, title: A, role: agent, separate_from: [b] }\n  - { id: b, title: B, approval: { by: agent, on_reject: a } }\n",
            "`separate_from` of step `a` names `b`, which is an approval gate; it needs a task someone performs",
        ),
        (
            "steps:\n  - { id: a, title: A, role: agent, same_performer_as: c }\n",
            "`same_performer_as` of step `a` names step `c`, which does not exist",
        ),
    ];
    for (steps, message) in cases {
        let text = format!(
            "id: p\nversion: 1\ntitle: P\ndepartment: D\nroles: {{ agent: Agent }}\nfields:\n  note: {{ type: text }}\n{steps}"
        );
        let sop = sopflow::parse::parse_sop("p.yaml", &text).unwrap();
        let compilation = sopflow::graph::compile(&sop);
        assert!(
            compilation.diagnostics.iter().any(|d| d.message == message),
            "{message}\n{:#?}",
            compilation.diagnostics
        );
    }
}

#[test]
fn explicit_termination_a_withdrawal_stops_every_branch() {
    let process = pattern("explicit-termination");
    let (ana, ivy) = (actor("ana", &["agent"]), actor("ivy", &["analyst"]));
    let mut case = Case::start(&process, &ana, no_fields());
    let mut active = case.active();
    active.sort();
    assert_eq!(active, ["confirm_refund", "investigate"]);
    case.complete("confirm_refund", &ana, fields(json!({"withdrawn": true})));
    let mut active = case.active();
    active.sort();
    assert_eq!(active, ["investigate", "record_withdrawal"]);
    case.complete("record_withdrawal", &ana, no_fields());
    assert_eq!(case.status(), sopflow::engine::CaseStatus::Closed);
    assert!(case.active().is_empty(), "the investigation is withdrawn");
    assert!(case.state.pending_joins().is_empty());
    let refused = case.refuse(
        &ivy,
        Action::Complete {
            step: step("investigate"),
            fields: no_fields(),
        },
    );
    assert!(
        matches!(refused, CommandError::CaseNotOpen { .. }),
        "{refused:?}"
    );
}

#[test]
fn explicit_termination_not_taken_the_branches_join_as_usual() {
    let process = pattern("explicit-termination");
    let (ana, ivy) = (actor("ana", &["agent"]), actor("ivy", &["analyst"]));
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete("confirm_refund", &ana, fields(json!({"withdrawn": false})));
    case.complete("pay_refund", &ana, no_fields());
    assert_eq!(case.active(), ["investigate"]);
    case.complete("investigate", &ivy, no_fields());
    assert_eq!(case.active(), ["report"]);
    case.complete("report", &ana, no_fields());
    assert_eq!(case.status(), sopflow::engine::CaseStatus::Closed);
}

#[test]
fn end_inside_a_branch_is_still_refused_where_terminate_is_not() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/patterns/explicit-termination.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("role: agent, terminate: true }", "role: agent, end: true }");
    let sop = sopflow::parse::parse_sop("p.yaml", &text).unwrap();
    let compilation = sopflow::graph::compile(&sop);
    assert!(
        compilation
            .diagnostics
            .iter()
            .any(|d| d.code.name() == "branch-leaves-split"),
        "{:#?}",
        compilation.diagnostics
    );
}

#[test]
fn a_termination_that_can_escalate_elsewhere_is_checked_like_any_step() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/patterns/explicit-termination.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace(
        "role: agent, terminate: true }",
        "role: agent, terminate: true, on_escalate: pay_refund }",
    );
    let sop = sopflow::parse::parse_sop("p.yaml", &text).unwrap();
    let compilation = sopflow::graph::compile(&sop);
    assert!(
        compilation.process.is_none(),
        "{:#?}",
        compilation.diagnostics
    );
}

/// The day a returns-window case is checked, at `hh:mm` UTC.
fn utc(date: &str, time: &str) -> chrono::DateTime<chrono::Utc> {
    format!("{date}T{time}:00Z").parse().unwrap()
}

fn decided(case: &Case) -> Vec<String> {
    case.log
        .iter()
        .filter_map(|e| match &e.kind {
            sopflow::engine::EventKind::DecisionTaken { target, .. } => Some(target.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn current_time_in_conditions_a_return_within_30_days_of_delivery_is_accepted() {
    let process = pattern("returns-window");
    let ana = actor("ana", &["agent"]);
    for (delivered_on, now, expected) in [
        ("2025-12-10", utc("2026-01-05", "09:00"), "accept_return"),
        ("2025-12-01", utc("2026-01-05", "09:00"), "refuse_return"),
        // 23:30 UTC is 00:30 the next day in Berlin, the shop's zone: day 31.
        ("2025-12-06", utc("2026-01-05", "22:30"), "accept_return"),
        ("2025-12-06", utc("2026-01-05", "23:30"), "refuse_return"),
    ] {
        let mut case = Case::start(&process, &ana, no_fields());
        case.at(now);
        case.complete(
            "receive",
            &ana,
            fields(json!({"order_number": "A-1", "delivered_on": delivered_on})),
        );
        assert_eq!(case.active(), [expected], "{delivered_on} at {now}");
        assert_eq!(decided(&case), [expected]);
    }
}

#[test]
fn current_time_in_conditions_an_unknown_delivery_date_is_not_within_the_window() {
    let process = pattern("returns-window");
    let ana = actor("ana", &["agent"]);
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete("receive", &ana, fields(json!({"order_number": "A-1"})));
    assert_eq!(case.active(), ["refuse_return"]);
}

#[test]
fn current_time_in_conditions_replaying_later_decides_the_same() {
    let process = pattern("returns-window");
    let ana = actor("ana", &["agent"]);
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete(
        "receive",
        &ana,
        fields(json!({"order_number": "A-1", "delivered_on": "2025-12-10"})),
    );
    // The history is replayed long after the window closed: the decision stays a fact.
    let replayed = sopflow::engine::CaseState::replay(&case.log);
    assert_eq!(replayed, case.state);
    assert_eq!(decided(&case), ["accept_return"]);
}

fn onboarding_case(start_date: &str) -> (Arc<Process>, Case) {
    let process = pattern("onboarding-start-date");
    let hana = actor("hana", &["hr"]);
    let mut case = Case::start(&process, &hana, no_fields());
    case.complete(
        "record_hire",
        &hana,
        fields(json!({"new_hire": "Kim", "start_date": start_date})),
    );
    (process, case)
}

#[test]
fn time_in_the_data_the_laptop_is_due_two_working_days_before_the_start_date() {
    // Recorded Monday 5 January; Kim starts Monday 19 January.
    let (_, mut case) = onboarding_case("2026-01-19");
    let laptop = case.state.active_step(&step("prepare_laptop")).unwrap();
    // Two business days before Monday 09:00 in Berlin: Thursday 09:00 there.
    assert_eq!(laptop.due_at, Some(utc("2026-01-15", "08:00")));
    assert_eq!(laptop.sla.warn_at, Some(utc("2026-01-14", "12:00")));
    assert!(kinds(&case.tick(utc("2026-01-15", "07:59"))).contains(&"sla_warned"));
    let breach = case.tick(utc("2026-01-15", "08:00"));
    assert!(
        kinds(&breach).contains(&"sla_breached"),
        "{:?}",
        kinds(&breach)
    );
    assert!(kinds(&breach).contains(&"sla_level_reached"));
    assert!(
        case.state
            .active_step(&step("prepare_laptop"))
            .unwrap()
            .breached
    );
}

#[test]
fn time_in_the_data_moving_the_start_date_moves_the_timer() {
    let (_, mut case) = onboarding_case("2026-01-19");
    let hana = actor("hana", &["hr"]);
    let events = case.update(&hana, fields(json!({"start_date": "2026-01-26"})));
    assert!(
        kinds(&events).contains(&"sla_rescheduled"),
        "{:?}",
        kinds(&events)
    );
    let laptop = case.state.active_step(&step("prepare_laptop")).unwrap();
    assert_eq!(laptop.due_at, Some(utc("2026-01-22", "08:00")));
    assert!(!kinds(&case.tick(utc("2026-01-15", "08:00"))).contains(&"sla_breached"));
}

#[test]
fn time_in_the_data_a_start_date_already_too_close_breaches_on_the_next_tick() {
    // Recorded Monday 5 January for a start on Tuesday: the laptop was due on Friday.
    let (_, mut case) = onboarding_case("2026-01-06");
    let laptop = case.state.active_step(&step("prepare_laptop")).unwrap();
    assert_eq!(laptop.due_at, Some(utc("2026-01-02", "08:00")));
    let breach = case.tick(case.now);
    assert!(
        kinds(&breach).contains(&"sla_breached"),
        "{:?}",
        kinds(&breach)
    );
}

#[test]
fn time_in_the_data_a_timer_counts_only_from_a_date_field() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/patterns/onboarding-start-date.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("before: start_date", "before: new_hire");
    let sop = sopflow::parse::parse_sop("p.yaml", &text).unwrap();
    let compilation = sopflow::graph::compile(&sop);
    let errors: Vec<&str> = compilation
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code.id())
        .collect();
    assert_eq!(errors, ["E052"], "{:#?}", compilation.diagnostics);
}

#[test]
fn time_in_the_data_a_date_set_later_starts_the_timer() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/patterns/onboarding-start-date.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("required: true, editable_by: [hr]", "editable_by: [hr]");
    let process = sop_yaml(&text);
    let hana = actor("hana", &["hr"]);
    let mut case = Case::start(&process, &hana, no_fields());
    case.complete("record_hire", &hana, fields(json!({"new_hire": "Kim"})));
    let laptop = case.state.active_step(&step("prepare_laptop")).unwrap();
    assert_eq!(laptop.due_at, None, "no start date, no timer");
    let events = case.update(&hana, fields(json!({"start_date": "2026-01-19"})));
    assert!(
        kinds(&events).contains(&"sla_rescheduled"),
        "{:?}",
        kinds(&events)
    );
    let laptop = case.state.active_step(&step("prepare_laptop")).unwrap();
    assert_eq!(laptop.due_at, Some(utc("2026-01-15", "08:00")));
}

#[test]
fn time_in_the_data_a_deferred_choice_times_out_a_while_after_a_date() {
    let process = sop_yaml(
        "id: claim\nversion: 1\ntitle: Claim\ndepartment: Customer Service\n\
         roles: { agent: Agent }\n\
         fields: { delivered_on: { type: date } }\n\
         steps:\n\
         \x20 - { id: receive, title: Receive the claim, role: agent, collects: [delivered_on] }\n\
         \x20 - { id: wait, title: Wait for the damaged goods, role: agent, after: { after: delivered_on, offset: 30d }, on_timeout: close, next: close }\n\
         \x20 - { id: close, title: Close the claim, role: agent, end: true }\n",
    );
    let ana = actor("ana", &["agent"]);
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete(
        "receive",
        &ana,
        fields(json!({"delivered_on": "2025-12-20"})),
    );
    let wait = case.state.active_step(&step("wait")).unwrap();
    // Round the clock: 30 days after midnight UTC of the delivery date.
    assert_eq!(wait.timeout_at, Some(utc("2026-01-19", "00:00")));
    case.tick(utc("2026-01-19", "00:00"));
    assert_eq!(case.active(), ["close"]);
}

#[test]
fn current_time_in_conditions_scenarios_decide_on_their_own_clock() {
    let path = format!(
        "{}/tests/fixtures/patterns/returns-window.test.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let file = sopflow::scenario::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let process = pattern("returns-window");
    assert!(sopflow::scenario::check(&process, &file).is_empty());
    let outcomes = sopflow::scenario::run(&process, &file);
    assert_eq!(outcomes.len(), 2);
    for outcome in &outcomes {
        assert!(outcome.passed(), "{}: {:?}", outcome.name, outcome.failure);
    }
}
