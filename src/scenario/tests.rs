//! Coverage counted by hand on a small SOP, and the runner's failures.

use super::*;

const SOP: &str = "
id: refund
version: 1
title: Refund
department: Customer Service
roles: { agent: Support agent, lead: Team lead }
fields:
  amount: { type: integer, required: true }
steps:
  - { id: request, title: Take the request, role: agent, collects: [amount], due: 1h, on_overdue: take_over }
  - id: big
    title: Is it a big refund?
    decide:
      - if: amount > 100
        goto: approve
      - else: pay
  - id: approve
    title: Approve the refund
    approval: { by: lead, reviews: [request, take_over], on_reject: request }
  - { id: pay, title: Pay the refund, role: agent, end: true }
  - { id: take_over, title: Take the request over, role: lead, collects: [amount], next: big }
";

fn process() -> crate::graph::Process {
    let sop = crate::parse::parse_sop("refund.yaml", SOP).unwrap();
    crate::graph::compile(&sop).process.unwrap()
}

const SMALL_REFUND: &str = "
actors: { ana: [agent], lee: [lead] }
scenarios:
  - name: A small refund is paid without approval
    start: { as: ana }
    steps:
      - complete: request
        fields: { amount: 20 }
      - expect: { active: [pay], may_act: { pay: [ana] } }
      - complete: pay
      - expect: { status: closed, path: [request, big, pay] }
";

#[test]
fn coverage_of_one_small_refund_counted_by_hand() {
    let process = process();
    let file = parse("refund.test.yaml", SMALL_REFUND).unwrap();
    assert!(check(&process, &file).is_empty());
    let outcomes = run(&process, &file);
    assert!(outcomes[0].passed(), "{:?}", outcomes[0].failure);
    let coverage = Coverage::of(&process, &outcomes);
    // Steps: request, big, approve, pay, take_over; reached: request, big, pay.
    assert_eq!(
        coverage.steps,
        Count {
            reached: 3,
            total: 5
        }
    );
    // Edges: start→request, request→big, request-overdue→take_over, big-if→approve,
    // big-else→pay, approve-approved→pay, approve-rejected→request, pay→end,
    // take_over→big: 9; taken: start→request, request→big, big-else→pay, pay→end.
    assert_eq!(
        coverage.edges,
        Count {
            reached: 4,
            total: 9
        }
    );
    // The only service level is request's breach (on_overdue has no level of its own).
    assert_eq!(
        coverage.sla_events,
        Count {
            reached: 0,
            total: 1
        }
    );
    assert_eq!(
        coverage.missed_sla_events,
        vec![SlaEvent::Breach(Some("request".parse().unwrap()))]
    );
}

#[test]
fn a_late_request_goes_to_the_lead_on_the_virtual_clock() {
    let process = process();
    let file = parse(
        "refund.test.yaml",
        "
actors: { ana: [agent], lee: [lead] }
scenarios:
  - name: A request not taken in an hour goes to the lead
    start: { as: ana }
    steps:
      - wait: 59m
      - expect: { active: [request], breached: [] }
      - wait: 1m
      - expect:
          active: [take_over]
          breached: [request]
          notified: [{ to: lead, kind: work_waiting, step: take_over }]
      - complete: take_over
        as: lee
        fields: { amount: 500 }
      - approve: approve
        as: lee
        refused: four-eyes
      - reject: approve
        as: lee
        refused: four-eyes
        reason: wrong amount
",
    )
    .unwrap();
    assert!(
        check(&process, &file).is_empty(),
        "{:?}",
        check(&process, &file)
    );
    let outcomes = run(&process, &file);
    assert!(outcomes[0].passed(), "{:?}", outcomes[0].failure);
}

#[test]
fn a_wrong_expectation_fails_at_its_line_with_a_diff() {
    let process = process();
    let text = SMALL_REFUND.replace("active: [pay]", "active: [approve]");
    let file = parse("refund.test.yaml", &text).unwrap();
    let outcomes = run(&process, &file);
    let failure = outcomes[0].failure.as_ref().unwrap();
    assert_eq!((failure.span.line, failure.span.column), (9, 27));
    assert_eq!(failure.expected.as_deref(), Some("approve"));
    assert_eq!(failure.found.as_deref(), Some("pay"));
    assert_eq!(
        failure.diff,
        vec![
            "+ approve  (expected, not there)",
            "- pay  (there, not expected)"
        ]
    );
}

#[test]
fn an_unexpected_refusal_fails_at_the_step_with_the_engine_message() {
    let process = process();
    let text = SMALL_REFUND.replace("{ amount: 20 }", "{ amount: \"twenty\" }");
    let file = parse("refund.test.yaml", &text).unwrap();
    // The check sees it first.
    let diagnostics = check(&process, &file);
    assert_eq!(diagnostics[0].code.name(), "invalid-value");
    let outcomes = run(&process, &file);
    let failure = outcomes[0].failure.as_ref().unwrap();
    assert_eq!(failure.span.line, 7);
    assert!(
        failure.message.starts_with("the engine refused this step"),
        "{}",
        failure.message
    );
    assert_eq!(failure.found.as_deref(), Some("refused: invalid-value"));
}

#[test]
fn check_names_unknown_steps_actors_and_kinds_with_did_you_mean() {
    let process = process();
    let file = parse(
        "refund.test.yaml",
        "
actors: { ana: [agnet] }
scenarios:
  - name: Typos
    start: { as: anna }
    steps:
      - complete: reqest
      - approve: approve
        refused: four-eye
      - expect: { status: clsoed }
      - { complete: pay, approve: approve }
",
    )
    .unwrap();
    let found: Vec<String> = check(&process, &file)
        .iter()
        .map(|d| {
            format!(
                "{} {} {}",
                d.span.line,
                d.code.id(),
                d.help.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            "2 E012 did you mean `agent`?",
            "5 T001 did you mean `ana`?",
            "7 E011 did you mean `request`?",
            "9 T003 did you mean `four-eyes`?",
            "10 T003 did you mean `closed`?",
            "11 T002 write one action per step, as two list items",
        ]
    );
}

const PARALLEL: &str = "
id: checks
version: 1
title: Parallel checks
department: Customer Service
roles: { agent: Support agent, lead: Team lead }
fields:
  note: { type: text, editable_by: [lead] }
steps:
  - { id: intake, title: Intake, role: agent }
  - { id: split, title: Check in parallel, parallel: [billing, system], join: merge }
  - { id: billing, title: Check billing, role: agent, next: merge }
  - { id: system, title: Check the system, role: lead, next: merge }
  - { id: merge, title: Merge the findings, role: agent, end: true }
";

#[test]
fn parallel_branches_and_their_join_are_covered_when_both_branches_finish() {
    let sop = crate::parse::parse_sop("checks.yaml", PARALLEL).unwrap();
    let process = crate::graph::compile(&sop).process.unwrap();
    let file = parse(
        "checks.test.yaml",
        "
actors: { ana: [agent], bea: [agent], lee: [lead] }
scenarios:
  - name: Both checks run at once and the findings are merged after both
    start: { as: ana }
    steps:
      - complete: intake
      - expect: { active: [billing, system] }
      - claim: billing
        as: bea
      - expect: { may_act: { billing: [bea], system: [lee] } }
      - complete: billing
        as: ana
        refused: assigned-to-someone-else
      - complete: billing
        as: bea
      - expect: { active: [system] }
      - assign: system
        as: lee
        to: lee
      - note: the system check waits for the vendor
      - set: { note: vendor called }
        as: lee
      - set: { note: vendor called }
        refused: field-not-editable
      - complete: system
        as: lee
      - expect: { active: [merge], fields: { note: vendor called }, path: [intake, billing, system] }
      - cancel: the customer withdrew
      - expect: { status: cancelled, active: [] }
      - reopen: the customer came back
      - expect: { status: open }
",
    )
    .unwrap();
    assert!(
        check(&process, &file).is_empty(),
        "{:?}",
        check(&process, &file)
    );
    let outcomes = run(&process, &file);
    assert!(outcomes[0].passed(), "{:?}", outcomes[0].failure);
    let coverage = Coverage::of(&process, &outcomes);
    // start→intake, intake→split, split→billing, split→system, billing→join,
    // system→join, join→merge, merge→end: all but the last.
    assert_eq!(
        coverage.edges,
        Count {
            reached: 7,
            total: 8
        }
    );
    assert_eq!(coverage.untaken_edges, vec!["merge --next--> end"]);
    // Splits are steps; joins are not.
    assert_eq!(
        coverage.steps,
        Count {
            reached: 5,
            total: 5
        }
    );
}

#[test]
fn a_transferred_step_goes_to_the_role_and_a_postponed_one_stops_its_clock() {
    let process = process();
    let file = parse(
        "refund.test.yaml",
        "
actors: { ana: [agent], lee: [lead] }
scenarios:
  - name: A request handed to the lead and put on hold is not late while on hold
    start: { as: ana }
    steps:
      - transfer: request
        to: lead
      - expect: { may_act: { request: [lee] } }
      - postpone: request
        as: lee
        for: 2h
      - expect: { may_act: { request: [] } }
      - wait: 2h
      - expect: { active: [request], breached: [], may_act: { request: [lee] } }
      - wait: 1h
      - expect: { breached: [request] }
      - transfer: request
        to: leed
        refused: unknown-role
",
    )
    .unwrap();
    let found: Vec<String> = check(&process, &file)
        .iter()
        .map(|d| format!("{} {}", d.span.line, d.code.id()))
        .collect();
    // The misspelled role is caught before the run, at its line.
    assert_eq!(found, vec!["19 E012"]);
    let outcomes = run(&process, &file);
    assert!(outcomes[0].passed(), "{:?}", outcomes[0].failure);
}

const CANCEL_SOP: &str = "
id: callback
version: 1
title: Callback
department: Customer Service
roles: { agent: Support agent }
steps:
  - { id: answer, title: Answer the customer, role: agent }
  - { id: call_back, title: Call the customer back, role: agent, on_cancel: close }
  - { id: survey, title: Send the survey, role: agent }
  - { id: close, title: Close the case, role: agent, end: true }
";

const CANCEL_SCENARIO: &str = "
actors: { ana: [agent] }
scenarios:
  - name: The customer asks not to be called back
    start: { as: ana }
    steps:
      - complete: answer
      - cancel_step: survey
        reason: not active yet
        refused: step-not-active
      - cancel_step: call_back
        reason: the customer asked not to be called
      - expect: { active: [close] }
      - complete: close
      - expect: { status: closed, path: [answer, close] }
";

#[test]
fn a_scenario_cancels_a_step_and_the_cancelled_edge_counts_as_covered() {
    let sop = crate::parse::parse_sop("callback.yaml", CANCEL_SOP).unwrap();
    let process = crate::graph::compile(&sop).process.unwrap();
    let file = parse("callback.test.yaml", CANCEL_SCENARIO).unwrap();
    assert!(check(&process, &file).is_empty());
    let outcomes = run(&process, &file);
    assert!(outcomes[0].passed(), "{:?}", outcomes[0].failure);
    let coverage = Coverage::of(&process, &outcomes);
    // Edges: start→answer, answer→call_back, call_back→survey, call_back-cancelled→close,
    // survey→close, close→end: 6; all but call_back→survey and survey→close taken.
    assert_eq!(
        coverage.edges,
        Count {
            reached: 4,
            total: 6
        }
    );
}

#[test]
fn cancel_step_in_a_scenario_needs_a_reason() {
    let process = process();
    let file = parse(
        "refund.test.yaml",
        "actors: { ana: [agent] }\nscenarios:\n  - name: n\n    start: { as: ana }\n    steps:\n      - cancel_step: request\n",
    )
    .unwrap();
    let problems = check(&process, &file);
    assert!(
        problems
            .iter()
            .any(|d| d.message == "`cancel_step` needs a `reason`"),
        "{problems:#?}"
    );
}
