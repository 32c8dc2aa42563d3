//! The resource patterns of the Workflow Patterns catalogue (Russell et al. 2005) that send
//! work to people rather than roles, one fixture SOP each under `tests/fixtures/patterns/`
//! (listed in `docs/patterns.md`), driven through the engine: who gets the work, who is
//! refused, and that a refusal changes nothing.

mod common;

use std::sync::Arc;

use serde_json::json;
use sopflow::engine::{Action, CommandError, EventKind};
use sopflow::graph::Process;

use common::{Case, actor, fields, no_fields, sop_yaml, step};

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
                item: None,
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
            item: None,
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
            item: None,
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
            item: None,
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
            item: None,
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

// ---------------------------------------------------------------------------------------
// How many tokens run: conditional branches, N-of-M joins, multiple instances.

/// The history the case wrote must read back as the engine wrote it.
#[track_caller]
fn history_checks(case: &Case) {
    if let Err(error) = sopflow::engine::check_history(&case.process, &case.log) {
        panic!("{error}\n{:#?}", case.log);
    }
}

fn branches_started(case: &Case) -> Vec<(u32, Vec<String>)> {
    case.log
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::BranchesStarted {
                branches, skipped, ..
            } => Some((*branches, skipped.iter().map(|s| s.to_string()).collect())),
            _ => None,
        })
        .collect()
}

#[test]
fn multi_choice_starts_only_the_branches_whose_condition_holds() {
    let process = pattern("multi-choice");
    let (ana, bea) = (actor("ana", &["agent"]), actor("bea", &["billing"]));
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete("triage", &ana, fields(json!({"tags": ["billing"]})));
    assert_eq!(case.active(), ["notify_billing"]);
    assert_eq!(
        branches_started(&case),
        [(1, vec!["notify_engineering".to_owned()])]
    );
    // The merge waits for the one branch that started, not for both.
    case.complete("notify_billing", &bea, no_fields());
    assert_eq!(case.active(), ["follow_up"]);
    case.complete("follow_up", &ana, no_fields());
    assert!(!case.state.is_open());
    history_checks(&case);
}

#[test]
fn multi_choice_with_every_team_waits_for_every_team() {
    let process = pattern("multi-choice");
    let (ana, bea, eli) = (
        actor("ana", &["agent"]),
        actor("bea", &["billing"]),
        actor("eli", &["engineering"]),
    );
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete(
        "triage",
        &ana,
        fields(json!({"tags": ["engineering", "billing"]})),
    );
    assert_eq!(case.active(), ["notify_billing", "notify_engineering"]);
    case.complete("notify_engineering", &eli, no_fields());
    assert_eq!(case.active(), ["notify_billing"]);
    case.complete("notify_billing", &bea, no_fields());
    assert_eq!(case.active(), ["follow_up"]);
    history_checks(&case);
}

#[test]
fn multi_choice_with_no_team_goes_straight_to_the_merge() {
    let process = pattern("multi-choice");
    let ana = actor("ana", &["agent"]);
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete("triage", &ana, fields(json!({"tags": []})));
    assert_eq!(case.active(), ["follow_up"]);
    assert_eq!(
        branches_started(&case),
        [(
            0,
            vec!["notify_billing".to_owned(), "notify_engineering".to_owned()]
        )]
    );
    assert!(case.state.pending_joins().is_empty());
    history_checks(&case);
}

#[test]
fn discriminator_goes_on_with_the_first_branch_and_withdraws_the_other() {
    let process = pattern("discriminator");
    let (ana, ada, max) = (
        actor("ana", &["agent"]),
        actor("ada", &["analyst"]),
        actor("max", &["manager"]),
    );
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete("request", &ana, no_fields());
    assert_eq!(case.active(), ["credit_check", "manager_waiver"]);
    let events = case.complete("manager_waiver", &max, no_fields());
    let withdrawn: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::WorkWithdrawn { by, steps, .. } => {
                assert_eq!(by.as_str(), "clear_credit");
                Some(steps.iter().map(|s| s.step.to_string()).collect::<Vec<_>>())
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(withdrawn, ["credit_check"]);
    assert_eq!(case.active(), ["send_quote"]);
    // The analyst's work is gone: completing it now is refused and changes nothing.
    let refused = case.refuse(
        &ada,
        Action::Complete {
            step: step("credit_check"),
            fields: no_fields(),
            item: None,
        },
    );
    assert!(
        matches!(refused, CommandError::StepNotActive { .. }),
        "{refused:?}"
    );
    case.complete("send_quote", &ana, no_fields());
    assert!(!case.state.is_open());
    history_checks(&case);
}

#[test]
fn an_n_of_m_join_withdraws_a_nested_split_with_its_branches() {
    let text = "
id: nested
version: 1
title: Two of three reviews
department: Quality
roles: { qa: Quality analyst }
steps:
  - id: reviews
    title: Review three ways
    parallel: [first, second, third]
    wait_for: 2
    join: decide
  - { id: first, title: First review, role: qa, next: decide }
  - { id: second, title: Second review, role: qa, next: decide }
  - id: third
    title: Third review, in two parts
    parallel: [part_a, part_b]
    join: third_done
  - { id: part_a, title: Part A, role: qa, next: third_done }
  - { id: part_b, title: Part B, role: qa, next: third_done }
  - { id: third_done, title: Sum up the third review, role: qa, next: decide }
  - { id: decide, title: Decide, role: qa, end: true }
";
    let process = sop_yaml(text);
    let qa = actor("quinn", &["qa"]);
    let mut case = Case::start(&process, &qa, no_fields());
    assert_eq!(case.active(), ["first", "second", "part_a", "part_b"]);
    case.complete("part_a", &qa, no_fields());
    case.complete("first", &qa, no_fields());
    case.complete("second", &qa, no_fields());
    // Two of three arrived: part B and the nested join that waited for it are withdrawn,
    // so nothing holds the case open once `decide` is done.
    assert_eq!(case.active(), ["decide"]);
    assert!(case.state.pending_joins().is_empty());
    case.complete("decide", &qa, no_fields());
    assert!(!case.state.is_open());
    history_checks(&case);
}

fn item_action(step_id: &str, item: &str) -> Action {
    Action::Complete {
        step: step(step_id),
        fields: no_fields(),
        item: Some(item.to_owned()),
    }
}

#[test]
fn multiple_instances_one_activation_per_item_each_its_own_work() {
    let process = pattern("multiple-instances");
    let hana = actor("hana", &["hr"]);
    let (ivo, ian) = (actor("ivo", &["it"]), actor("ian", &["it"]));
    let mut case = Case::start(&process, &hana, no_fields());
    case.complete(
        "request",
        &hana,
        fields(json!({"systems": ["email", "crm"]})),
    );
    let items: Vec<Option<String>> = case
        .state
        .active_steps()
        .iter()
        .map(|a| a.item.clone())
        .collect();
    assert_eq!(items, [Some("email".to_owned()), Some("crm".to_owned())]);
    // Each item has its own SLA clock and its own assignee.
    assert!(case.state.active_steps().iter().all(|a| a.due_at.is_some()));
    case.send(
        &ivo,
        Action::Claim {
            step: step("create_account"),
            item: Some("crm".to_owned()),
        },
    );
    let refused = case.refuse(&ian, item_action("create_account", "crm"));
    assert!(
        matches!(refused, CommandError::AssignedToSomeoneElse { .. }),
        "{refused:?}"
    );
    // With two items active, a command must say which.
    let refused = case.refuse(
        &ian,
        Action::Complete {
            step: step("create_account"),
            fields: no_fields(),
            item: None,
        },
    );
    assert!(
        matches!(refused, CommandError::ItemRequired { .. }),
        "{refused:?}"
    );
    assert_eq!(refused.kind(), "item-required");
    let refused = case.refuse(&ian, item_action("create_account", "erp"));
    assert!(
        matches!(refused, CommandError::ItemNotActive { ref item, .. } if item == "erp"),
        "{refused:?}"
    );
    case.send(&ian, item_action("create_account", "email"));
    assert_eq!(case.active(), ["create_account"]);
    // One item left: naming it is no longer needed.
    case.complete("create_account", &ivo, no_fields());
    assert_eq!(case.active(), ["welcome"]);
    assert_eq!(
        case.state
            .performers_of(&step("create_account"))
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        ["ian", "ivo"]
    );
    case.complete("welcome", &hana, no_fields());
    assert!(!case.state.is_open());
    history_checks(&case);
}

#[test]
fn multiple_instances_with_no_item_skip_the_step() {
    let process = pattern("multiple-instances");
    let hana = actor("hana", &["hr"]);
    let mut case = Case::start(&process, &hana, no_fields());
    case.complete("request", &hana, fields(json!({"systems": []})));
    assert_eq!(case.active(), ["welcome"]);
    history_checks(&case);
}

#[test]
fn multiple_instances_waiting_for_one_withdraw_the_rest() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/patterns/multiple-instances.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace(
        "for_each: systems\n",
        "for_each: systems\n    wait_for: 1\n",
    );
    let process = sop_yaml(&text);
    let (hana, ivo) = (actor("hana", &["hr"]), actor("ivo", &["it"]));
    let mut case = Case::start(&process, &hana, no_fields());
    case.complete(
        "request",
        &hana,
        fields(json!({"systems": ["crm", "erp", "email"]})),
    );
    let events = case.send(&ivo, item_action("create_account", "erp"));
    assert!(
        events.iter().any(|e| matches!(&e.kind,
            EventKind::WorkWithdrawn { steps, .. } if steps.len() == 2)),
        "{events:#?}"
    );
    assert_eq!(case.active(), ["welcome"]);
    history_checks(&case);
}

#[test]
fn multiple_instances_restart_for_every_item_when_a_cancelled_case_reopens() {
    let process = pattern("multiple-instances");
    let (hana, ivo) = (actor("hana", &["hr"]), actor("ivo", &["it"]));
    let mut case = Case::start(&process, &hana, no_fields());
    case.complete("request", &hana, fields(json!({"systems": ["crm", "erp"]})));
    case.send(&ivo, item_action("create_account", "crm"));
    case.cancel(&hana, "the hire fell through");
    case.reopen(&hana, "the hire starts after all");
    assert_eq!(case.active(), ["create_account", "create_account"]);
    case.send(&ivo, item_action("create_account", "crm"));
    case.send(&ivo, item_action("create_account", "erp"));
    assert_eq!(case.active(), ["welcome"]);
    history_checks(&case);
}

#[test]
fn the_items_of_one_round_are_no_rework_in_the_metrics() {
    let process = pattern("multiple-instances");
    let (hana, ivo) = (actor("hana", &["hr"]), actor("ivo", &["it"]));
    let mut case = Case::start(&process, &hana, no_fields());
    case.complete(
        "request",
        &hana,
        fields(json!({"systems": ["crm", "erp", "email"]})),
    );
    for item in ["crm", "erp", "email"] {
        case.send(&ivo, item_action("create_account", item));
    }
    case.complete("welcome", &hana, no_fields());
    let mut metrics = sopflow::metrics::Accumulator::new(
        process.id().clone(),
        sopflow::metrics::Options::default(),
    );
    metrics.push(&process, &case.log).unwrap();
    let report = metrics.finish();
    let accounts = report.versions[0]
        .steps
        .iter()
        .find(|s| s.step.as_str() == "create_account")
        .expect("the step is reported");
    assert_eq!(
        (
            accounts.activations,
            accounts.cases,
            accounts.reworked_cases,
            accounts.rework_activations
        ),
        (3, 1, 0, 0)
    );
}
