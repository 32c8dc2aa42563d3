//! The resource patterns of the Workflow Patterns catalogue (Russell et al. 2005) that send
//! work to people rather than roles, one fixture SOP each under `tests/fixtures/patterns/`
//! (listed in `docs/patterns.md`), driven through the engine: who gets the work, who is
//! refused, and that a refusal changes nothing.

mod common;

use std::sync::Arc;

use serde_json::json;
use sopflow::engine::{Action, CommandError, EventKind, ParentLink, SubCaseOutcome};
use sopflow::graph::Process;

use common::{Case, actor, clock, fields, kinds, no_fields, sop_yaml, step};

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
    // The history names the item of every line about one activation.
    let mut lines = sopflow::engine::HistoryLines::new();
    let lines: Vec<String> = case.log.iter().map(|e| lines.line(e)).collect();
    for line in [
        "step create_account became active for email (due 2026-01-06 09:00)",
        "assigned create_account [crm] to ivo",
        "completed create_account [email]",
        "completed create_account [crm]",
        "completed welcome",
    ] {
        assert!(
            lines.iter().any(|l| l.ends_with(line)),
            "{line}: {lines:#?}"
        );
    }
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

#[test]
fn approval_by_several_roles_a_holder_of_either_role_decides() {
    let process = pattern("approval-by-several-roles");
    let rita = actor("rita", &["requester"]);
    let (bea, fay) = (actor("bea", &["billing_lead"]), actor("fay", &["finance"]));
    for approver in [&bea, &fay] {
        let mut case = Case::start(&process, &rita, no_fields());
        case.complete("request", &rita, fields(json!({"amount": 200.0})));
        case.approve("approve", approver);
        assert_eq!(case.active(), ["order"]);
    }
    let mut case = Case::start(&process, &rita, no_fields());
    case.complete("request", &rita, fields(json!({"amount": 200.0})));
    case.reject("approve", &fay, "no budget left this quarter");
    assert_eq!(case.active(), ["request"]);
}

#[test]
fn approval_by_several_roles_refuses_someone_without_any_of_them() {
    let process = pattern("approval-by-several-roles");
    let rita = actor("rita", &["requester"]);
    let bo = actor("bo", &["buyer"]);
    let mut case = Case::start(&process, &rita, no_fields());
    case.complete("request", &rita, fields(json!({"amount": 200.0})));
    let before = case.state.version();
    let refused = case.refuse(
        &bo,
        Action::Approve {
            step: step("approve"),
            comment: None,
        },
    );
    assert!(
        matches!(&refused, CommandError::NotAuthorized { role, other_roles, .. }
            if role.as_str() == "billing_lead" && other_roles.len() == 1 && other_roles[0].as_str() == "finance"),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "`bo` cannot act on step `approve`: it needs one of the roles `billing_lead` or `finance`"
    );
    assert_eq!(case.state.version(), before, "a refusal changes nothing");
}

#[test]
fn approval_by_several_roles_two_approvals_need_two_people_whatever_their_role() {
    let process = pattern("approval-by-several-roles");
    let rita = actor("rita", &["requester"]);
    let (bea, fay) = (actor("bea", &["billing_lead"]), actor("fay", &["finance"]));
    let both = actor("bex", &["billing_lead", "finance"]);
    let mut case = Case::start(&process, &rita, no_fields());
    case.complete("request", &rita, fields(json!({"amount": 5000.0})));
    case.approve("approve_large", &both);
    let refused = case.refuse(
        &both,
        Action::Approve {
            step: step("approve_large"),
            comment: None,
        },
    );
    assert!(
        matches!(refused, CommandError::AlreadyApproved { .. }),
        "{refused:?}"
    );
    assert_eq!(case.active(), ["approve_large"]);
    case.approve("approve_large", &bea);
    assert_eq!(case.active(), ["order"]);
    let mut case = Case::start(&process, &rita, no_fields());
    case.complete("request", &rita, fields(json!({"amount": 5000.0})));
    case.approve("approve_large", &bea);
    case.approve("approve_large", &fay);
    assert_eq!(case.active(), ["order"]);
}

#[test]
fn approval_by_several_roles_four_eyes_holds_for_every_role() {
    let process = pattern("approval-by-several-roles");
    let fin_requester = actor("fred", &["requester", "finance"]);
    let mut case = Case::start(&process, &fin_requester, no_fields());
    case.complete("request", &fin_requester, fields(json!({"amount": 10.0})));
    let refused = case.refuse(
        &fin_requester,
        Action::Approve {
            step: step("approve"),
            comment: None,
        },
    );
    assert!(
        matches!(refused, CommandError::ReviewsOwnWork { .. }),
        "{refused:?}"
    );
}

#[test]
fn approval_by_several_roles_is_in_the_queue_of_every_role() {
    let process = pattern("approval-by-several-roles");
    let rita = actor("rita", &["requester"]);
    let mut case = Case::start(&process, &rita, no_fields());
    case.complete("request", &rita, fields(json!({"amount": 10.0})));
    let cases = [case.state.clone()];
    for role in ["billing_lead", "finance"] {
        let queue = sopflow::engine::role_queue(&process, &cases, &common::role(role));
        assert_eq!(queue.len(), 1, "{role}");
        assert_eq!(queue[0].step.as_str(), "approve");
        assert_eq!(
            queue[0].roles_text().as_deref(),
            Some("billing_lead or finance")
        );
    }
    assert!(sopflow::engine::role_queue(&process, &cases, &common::role("buyer")).is_empty());
    let fay = actor("fay", &["finance"]);
    let mine = sopflow::engine::work_queue(&process, &cases, &fay, common::t(60));
    assert_eq!(mine.len(), 1);
    let notified: Vec<String> =
        sopflow::engine::notifications(&process, &sopflow::engine::CaseState::new(), &case.log)
            .into_iter()
            .filter(|n| n.step.as_ref().is_some_and(|s| s.as_str() == "approve"))
            .map(|n| format!("{:?}", n.to))
            .collect();
    assert_eq!(notified.len(), 2, "{notified:?}");
}

#[test]
fn approvers_that_cannot_work_do_not_compile() {
    let cases = [
        (
            "approval: { by: [], on_reject: a }",
            "gate `b` has no approvers: `by` is an empty list",
        ),
        (
            "approval: { by: [agent, lead, agent], on_reject: a }",
            "gate `b` lists the role `agent` twice under `by`",
        ),
        (
            "approval: { by: [agent, laed], on_reject: a }",
            "role `laed` is not declared under `roles`",
        ),
    ];
    for (gate, message) in cases {
        let text = format!(
            "id: p\nversion: 1\ntitle: P\ndepartment: D\nroles: {{ agent: Agent, lead: Lead }}\nsteps:\n  - {{ id: a, title: A, role: agent }}\n  - {{ id: b, title: B, {gate}, end: true }}\n"
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

fn cancel_step(step_id: &str, reason: &str) -> Action {
    Action::CancelStep {
        step: step(step_id),
        reason: reason.to_owned(),
    }
}

fn sorted_active(case: &Case) -> Vec<String> {
    let mut active = case.active();
    active.sort();
    active
}

#[test]
fn cancel_activity_inside_a_branch_lets_the_branch_join() {
    let process = pattern("cancel-activity");
    let ana = actor("ana", &["agent"]);
    let (tim, wes) = (actor("tim", &["technician"]), actor("wes", &["warehouse"]));
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete("take_order", &ana, no_fields());
    assert_eq!(sorted_active(&case), ["install", "ship"]);
    let events = case.send(&tim, cancel_step("install", "the customer declined"));
    assert_eq!(common::kinds(&events), ["step_cancelled", "branch_joined"]);
    assert_eq!(case.active(), ["ship"], "shipping carries on");
    case.complete("ship", &wes, no_fields());
    assert_eq!(case.active(), ["invoice"]);
    let history: Vec<String> = case.log.iter().map(sopflow::engine::describe).collect();
    assert!(
        history
            .iter()
            .any(|line| line.ends_with("tim: cancelled install: the customer declined")),
        "{history:#?}"
    );
}

#[test]
fn cancel_activity_a_gate_can_be_cancelled_and_its_claimant_is_told() {
    let process = pattern("cancel-activity");
    let (ana, bob) = (actor("ana", &["agent"]), actor("bob", &["agent"]));
    let (tim, wes) = (actor("tim", &["technician"]), actor("wes", &["warehouse"]));
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete("take_order", &ana, no_fields());
    case.complete("install", &tim, no_fields());
    case.claim("check_install", &ana);
    let before = case.log.len();
    case.send(
        &bob,
        cancel_step("check_install", "installation done by the customer"),
    );
    let told =
        sopflow::engine::notifications(&process, &sopflow::engine::CaseState::new(), &case.log);
    let cancelled: Vec<_> = told
        .iter()
        .filter(|n| {
            n.seq > before as u64
                && matches!(
                    n.kind,
                    sopflow::engine::NotificationKind::StepCancelled { .. }
                )
        })
        .collect();
    assert_eq!(cancelled.len(), 1, "{told:#?}");
    assert_eq!(
        cancelled[0].to,
        sopflow::engine::Recipient::Actor(sopflow::engine::ActorId::new("ana"))
    );
    assert_eq!(case.active(), ["ship"]);
    case.complete("ship", &wes, no_fields());
    assert_eq!(case.active(), ["invoice"]);
}

#[test]
fn cancel_activity_outside_branches_goes_to_its_on_cancel_step() {
    let process = pattern("cancel-activity");
    let ana = actor("ana", &["agent"]);
    let (tim, wes) = (actor("tim", &["technician"]), actor("wes", &["warehouse"]));
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete("take_order", &ana, no_fields());
    case.complete("ship", &wes, no_fields());
    case.send(&tim, cancel_step("install", "declined"));
    case.complete("invoice", &ana, no_fields());
    assert_eq!(case.active(), ["courtesy_call"]);
    case.send(
        &ana,
        cancel_step("courtesy_call", "customer asked not to be called"),
    );
    assert_eq!(case.active(), ["close"]);
    case.complete("close", &ana, no_fields());
    assert_eq!(case.status(), sopflow::engine::CaseStatus::Closed);
}

#[test]
fn cancel_activity_refusals_change_nothing() {
    let process = pattern("cancel-activity");
    let ana = actor("ana", &["agent"]);
    let (tim, wes) = (actor("tim", &["technician"]), actor("wes", &["warehouse"]));
    let tom = actor("tom", &["technician"]);
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete("take_order", &ana, no_fields());
    let before = case.state.version();
    let refused = case.refuse(&wes, cancel_step("ship", "not needed"));
    assert!(
        matches!(&refused, CommandError::NotCancellable { step } if step.as_str() == "ship"),
        "{refused:?}"
    );
    assert_eq!(refused.kind(), "not-cancellable");
    let refused = case.refuse(&tim, cancel_step("install", "  "));
    assert!(
        matches!(
            refused,
            CommandError::ReasonRequired {
                action: "cancel_step"
            }
        ),
        "{refused:?}"
    );
    let refused = case.refuse(&ana, cancel_step("install", "declined"));
    assert!(
        matches!(&refused, CommandError::NotAuthorized { role, .. } if role.as_str() == "technician"),
        "{refused:?}"
    );
    case.claim("install", &tim);
    let claimed = case.state.version();
    let refused = case.refuse(&tom, cancel_step("install", "declined"));
    assert!(
        matches!(refused, CommandError::AssignedToSomeoneElse { .. }),
        "{refused:?}"
    );
    let refused = case.refuse(&ana, cancel_step("courtesy_call", "not now"));
    assert!(
        matches!(refused, CommandError::StepNotActive { .. }),
        "{refused:?}"
    );
    assert_eq!(case.state.version(), claimed);
    assert!(claimed > before);
    assert_eq!(sorted_active(&case), ["install", "ship"]);
}

#[test]
fn cancel_keys_that_cannot_work_do_not_compile() {
    let base = std::fs::read_to_string(format!(
        "{}/tests/fixtures/patterns/cancel-activity.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let cases = [
        (
            (
                "on_cancel: invoice, next: check_install",
                "on_cancel: invoise, next: check_install",
            ),
            "unknown-step",
        ),
        (
            (
                "on_cancel: invoice, next: check_install",
                "on_cancel: install, next: check_install",
            ),
            "escalation-to-itself",
        ),
        (
            (
                "on_cancel: invoice, next: check_install",
                "on_cancel: close, next: check_install",
            ),
            "branch-leaves-split",
        ),
        (
            (
                "    join: invoice\n",
                "    join: invoice\n    on_cancel: invoice\n",
            ),
            "invalid-cancel",
        ),
    ];
    for ((from, to), code) in cases {
        let text = base.replace(from, to);
        assert_ne!(text, base);
        let sop = sopflow::parse::parse_sop("p.yaml", &text).unwrap();
        let compilation = sopflow::graph::compile(&sop);
        assert!(
            compilation
                .diagnostics
                .iter()
                .any(|d| d.code.name() == code),
            "{code}\n{:#?}",
            compilation.diagnostics
        );
        assert!(compilation.process.is_none());
    }
}

#[test]
fn cancel_activity_is_exported_as_a_withdrawn_instance() {
    let process = pattern("cancel-activity");
    let ana = actor("ana", &["agent"]);
    let tim = actor("tim", &["technician"]);
    let mut case = Case::start(&process, &ana, no_fields());
    case.complete("take_order", &ana, no_fields());
    case.send(&tim, cancel_step("install", "declined"));
    let log = sopflow::export::CaseLog::new(&process, &case.log).unwrap();
    let install: Vec<_> = log
        .entries
        .iter()
        .filter(|e| e.step.as_str() == "install")
        .map(|e| {
            (
                e.lifecycle.name(),
                e.outcome.map(|o| o.name()),
                e.resource.as_ref().map(|r| r.to_string()),
            )
        })
        .collect();
    assert_eq!(
        install,
        [
            ("schedule", None, None),
            ("withdraw", Some("step_cancelled"), Some("tim".to_owned())),
        ]
    );
}

#[cfg(feature = "store")]
#[test]
fn approval_by_several_roles_lists_the_case_under_every_role() {
    let process = pattern("approval-by-several-roles");
    let rita = actor("rita", &["requester"]);
    let mut case = Case::start(&process, &rita, no_fields());
    case.complete("request", &rita, fields(json!({"amount": 10.0})));
    let summary = sopflow::store::CaseSummary::of(&process, &case.state, common::t(5))
        .expect("a started case");
    let roles: Vec<&str> = summary.roles.iter().map(|r| r.as_str()).collect();
    assert_eq!(roles, ["billing_lead", "finance"]);
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

#[test]
fn exports_name_the_item_of_each_activation() {
    use sopflow::export::{CsvWriter, ExportOptions, XesWriter};
    let process = pattern("multiple-instances");
    let (hana, ivo) = (actor("hana", &["hr"]), actor("ivo", &["it"]));
    let mut case = Case::start(&process, &hana, no_fields());
    case.complete("request", &hana, fields(json!({"systems": ["crm", "erp"]})));
    case.send(&ivo, item_action("create_account", "erp"));
    let mut xes = XesWriter::new(Vec::new(), &ExportOptions::default()).unwrap();
    xes.write_case(&process, &case.log).unwrap();
    let xes = String::from_utf8(xes.finish().unwrap()).unwrap();
    for item in ["crm", "erp"] {
        assert!(
            xes.contains(&format!(r#"<string key="sopflow:item" value="{item}"/>"#)),
            "{xes}"
        );
    }
    let mut csv = CsvWriter::new(Vec::new(), &ExportOptions::default()).unwrap();
    csv.write_case(&process, &case.log).unwrap();
    let csv = String::from_utf8(csv.finish().unwrap()).unwrap();
    let erp: Vec<&str> = csv
        .lines()
        .filter(|l| l.starts_with("T-1,create_account,") && l.ends_with(",erp,"))
        .collect();
    // Scheduled, then completed: one instance, its item on both rows.
    assert_eq!(erp.len(), 2, "{csv}");
}

/// The two SOPs of the subprocess pattern: the order and the credit check it calls.
fn sub_sop() -> (Arc<Process>, Arc<Process>) {
    (pattern("sub-sop"), pattern("sub-sop-credit-check"))
}

/// An order at its call step for Acme, 1,200: the parent case and the sub-case it asked
/// for, started as the store would start it.
fn order_waiting_for_credit_check() -> (Case, Case) {
    let (order, check) = sub_sop();
    let sam = actor("sam", &["sales"]);
    let mut parent = Case::start(&order, &sam, no_fields());
    let events = parent.complete(
        "take_order",
        &sam,
        fields(json!({"customer": "Acme", "amount": 1200})),
    );
    let Some(EventKind::SubCaseRequested {
        step: called_from,
        token,
        case,
        sop,
        fields: given,
    }) = events
        .iter()
        .map(|e| &e.kind)
        .find(|k| k.name() == "sub_case_requested")
    else {
        panic!("no sub-case requested: {:?}", kinds(&events));
    };
    assert_eq!(called_from.as_str(), "credit_check");
    assert_eq!(case.as_str(), "T-1.credit_check.1");
    assert_eq!(sop.as_str(), "credit-check");
    let amount = parent.state.fields().get(&"amount".parse().unwrap());
    assert_eq!(
        given.get(&"applicant".parse().unwrap()),
        Some(&"Acme".into())
    );
    assert_eq!(given.get(&"requested".parse().unwrap()), amount);
    // Until the store records the start, the link is due at once.
    assert_eq!(parent.state.next_due(), Some(parent.now));
    let mut child = Case::new(&check);
    child.send(
        &clock(),
        Action::StartSubCase {
            case: case.clone(),
            parent: ParentLink {
                case: "T-1".into(),
                step: called_from.clone(),
                token: *token,
            },
            fields: given.clone(),
        },
    );
    assert_eq!(child.active(), ["assess"]);
    assert_eq!(
        child.state.parent().map(|p| p.case.as_str()),
        Some("T-1"),
        "the sub-case knows its parent"
    );
    let case = case.clone();
    parent.send(&clock(), Action::SubCaseStarted { child: case });
    assert_eq!(parent.state.next_due(), None, "nothing left to follow");
    (parent, child)
}

#[test]
fn sub_sop_the_order_waits_for_the_credit_check_and_takes_its_verdict() {
    let (mut parent, mut child) = order_waiting_for_credit_check();
    let sam = actor("sam", &["sales"]);
    let refused = parent.refuse(
        &sam,
        Action::Complete {
            step: step("credit_check"),
            item: None,
            fields: no_fields(),
        },
    );
    assert!(
        matches!(refused, CommandError::WaitingForSubCase { ref case, .. } if case.as_str() == "T-1.credit_check.1"),
        "{refused:?}"
    );
    assert_eq!(refused.kind(), "waiting-for-sub-case");
    let items = sopflow::engine::work_items(&parent.process, &parent.state);
    assert_eq!(
        items[0].waiting_for.as_ref().map(|c| c.as_str()),
        Some("T-1.credit_check.1"),
        "the work item says what it waits for"
    );
    let fay = actor("fay", &["analyst"]);
    child.complete("assess", &fay, fields(json!({"approved": true})));
    child.assert_closed();
    // Closed, the sub-case is due until its parent has heard.
    assert_eq!(child.state.parent_due(), Some(child.now));
    assert_eq!(child.state.next_due(), Some(child.now));
    let events = parent.send(
        &clock(),
        Action::FinishSubCase {
            child: "T-1.credit_check.1".into(),
            outcome: SubCaseOutcome::Completed,
            fields: child.state.fields().clone(),
        },
    );
    assert_eq!(
        kinds(&events),
        [
            "sub_case_finished",
            "fields_updated",
            "step_completed",
            "decision_taken",
            "step_activated"
        ]
    );
    assert_eq!(parent.active(), ["ship"]);
    assert_eq!(
        parent.state.fields().get(&"credit_ok".parse().unwrap()),
        Some(&true.into())
    );
    // Hearing it again changes nothing; a sub-case nobody waits for is refused.
    let finish = |child: &str| Action::FinishSubCase {
        child: child.into(),
        outcome: SubCaseOutcome::Completed,
        fields: no_fields(),
    };
    let refused = parent.refuse(&clock(), finish("T-1.credit_check.1"));
    assert_eq!(refused.kind(), "not-waiting-for-sub-case");
    let refused = parent.refuse(&clock(), finish("T-9.credit_check.1"));
    assert_eq!(refused.kind(), "not-waiting-for-sub-case");
    child.send(&clock(), Action::ParentInformed);
    assert_eq!(child.state.next_due(), None);
    assert_eq!(child.send(&clock(), Action::ParentInformed), []);
    parent.assert_replays();
    child.assert_replays();
    insta::assert_snapshot!(format!(
        "{}\n--- sub-case ---\n{}",
        parent.describe_lines(),
        child.describe_lines()
    ));
}

#[test]
fn sub_sop_a_cancelled_credit_check_leaves_the_call_step_to_sales() {
    let (mut parent, mut child) = order_waiting_for_credit_check();
    let fin = actor("fin", &["analyst"]);
    child.cancel(&fin, "the customer withdrew the application");
    assert_eq!(child.state.next_due(), Some(child.now));
    let before = parent.state.clone();
    let events = parent.send(
        &clock(),
        Action::FinishSubCase {
            child: "T-1.credit_check.1".into(),
            outcome: SubCaseOutcome::Cancelled,
            fields: child.state.fields().clone(),
        },
    );
    assert_eq!(kinds(&events), ["sub_case_finished"]);
    assert_eq!(
        parent.active(),
        ["credit_check"],
        "the step stays with sales"
    );
    // Sales hears it, and the step is theirs to complete again.
    let told = sopflow::engine::notifications(&parent.process, &before, &events);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].kind, sopflow::engine::NotificationKind::WorkWaiting);
    assert!(
        told[0]
            .message
            .contains("sub-case T-1.credit_check.1 of step `credit_check` was cancelled"),
        "{}",
        told[0].message
    );
    let items = sopflow::engine::work_items(&parent.process, &parent.state);
    assert_eq!(items[0].waiting_for, None);
    // Sales follows up by hand: the verdict the sub-case would have returned.
    let sam = actor("sam", &["sales"]);
    parent.complete("credit_check", &sam, fields(json!({"credit_ok": false})));
    assert_eq!(parent.active(), ["decline"]);
    parent.assert_replays();
}
