//! The executor on small inline SOPs: the workflow patterns it supports (sequence, parallel
//! split and synchronization, exclusive choice and simple merge, cycles, deferred choice,
//! cancellation) and the rules it enforces, each refusal asserted by its error variant.

mod common;

use std::sync::Arc;

use common::{
    Case, actor, clock, days, fields, hours, kinds, mins, no_fields, sop_yaml, step, t, t0,
};
use serde_json::json;
use sopflow::engine::{
    self, Action, CaseState, CaseStatus, CommandError, EventKind, WorkKind, work_queue,
};
use sopflow::graph::Process;
use sopflow::model::FieldValue;

const HEADER: &str = "id: patterns
version: 1
title: Workflow patterns
department: Customer Service
roles:
  agent: Support agent
  lead: Team lead
  reviewer: Quality reviewer
fields:
  name: { type: text, label: Customer name, required: true, editable_by: [lead] }
  email: { type: email, label: Customer e-mail }
  priority: { type: choice, options: [High, Low], default: Low, editable_by: [lead] }
  resolved: { type: bool }
  score: { type: integer, min: 1, max: 5 }
  tags: { type: multi-choice, options: [Billing, Bug], editable_by: [agent] }
  reply_by: { type: date, editable_by: [agent] }
  issue: { type: text, label: Issue, editable_by: [agent] }
  weight: { type: number, min: 0, editable_by: [agent] }
steps:
";

fn sop(steps: &str) -> Arc<Process> {
    sop_yaml(&format!("{HEADER}{steps}"))
}

const SEQUENCE: &str = "  - { id: first, title: First, role: agent }
  - { id: second, title: Second, role: agent }
  - { id: third, title: Third, role: agent, end: true }
";

const PARALLEL: &str = "  - { id: intake, title: Intake, role: agent }
  - { id: split, parallel: [billing, system], join: merge }
  - { id: billing, title: Check billing, role: agent, next: merge }
  - { id: system, title: Check the system, role: lead, next: merge }
  - { id: merge, title: Merge the findings, role: agent, end: true }
";

const CHOICE: &str = "  - { id: intake, title: Intake, role: agent, collects: [priority] }
  - id: route
    decide:
      - { if: 'priority == \"High\"', goto: urgent }
      - else: normal
  - { id: urgent, title: Urgent handling, role: lead, next: wrap }
  - { id: normal, title: Normal handling, role: agent, next: wrap }
  - { id: wrap, title: Wrap up, role: agent, end: true }
";

const REVIEW: &str =
    "  - { id: draft, title: \"Draft an answer to {{ issue }}\", role: agent, collects: [issue] }
  - id: review
    title: Review the answer
    approval: { by: lead, reviews: [draft], on_reject: draft }
  - { id: send, title: Send the answer, role: agent, end: true }
";

const TWO_APPROVALS: &str = "  - { id: draft, title: Draft, role: agent }
  - id: review
    title: Review the answer
    approval: { by: lead, count: 2, reviews: [draft], on_reject: draft }
  - { id: send, title: Send the answer, role: agent, end: true }
";

const DEFERRED: &str = "  - { id: ask, title: Ask the customer, role: agent }
  - { id: wait, title: Record the reply, role: agent, collects: [resolved], after: 3d, on_timeout: remind, next: done }
  - { id: remind, title: Remind the customer, role: agent, end: true }
  - { id: done, title: Done, role: agent, end: true }
";

const SLA: &str = "  - { id: answer, title: \"Answer {{ name }}\", role: agent, collects: [name, email], due: 1h, on_overdue: takeover, on_escalate: takeover }
  - { id: solve, title: \"Solve {{ issue }}\", role: agent, instructions: \"Solve {{ issue }} for {{ name }}\", collects: [issue, score], due: 4h }
  - { id: close, title: Close, role: agent, end: true }
  - { id: takeover, title: Take over the answer, role: lead, next: solve }
";

fn ana() -> sopflow::engine::Actor {
    actor("ana", &["agent"])
}
fn ben() -> sopflow::engine::Actor {
    actor("ben", &["agent"])
}
fn lea() -> sopflow::engine::Actor {
    actor("lea", &["lead"])
}
fn tom() -> sopflow::engine::Actor {
    actor("tom", &["lead"])
}
/// Holds both roles: may draft and review, but never review her own draft.
fn kim() -> sopflow::engine::Actor {
    actor("kim", &["agent", "lead"])
}

fn start(steps: &str) -> Case {
    Case::start(&sop(steps), &ana(), no_fields())
}

fn activated(events: &[sopflow::engine::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StepActivated { step, .. } => Some(step.to_string()),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Workflow patterns

#[test]
fn sequence() {
    let mut case = start(SEQUENCE);
    assert_eq!(case.active(), ["first"]);
    assert_eq!(
        kinds(&case.log),
        ["case_started", "step_activated"],
        "start opens the case and activates the first step"
    );
    case.advance(mins(5));
    let events = case.complete("first", &ana(), no_fields());
    assert_eq!(kinds(&events), ["step_completed", "step_activated"]);
    assert_eq!(case.active(), ["second"]);
    case.advance(mins(5));
    case.complete("second", &ana(), no_fields());
    assert_eq!(case.active(), ["third"]);
    case.advance(mins(5));
    let events = case.complete("third", &ana(), no_fields());
    assert_eq!(kinds(&events), ["step_completed", "case_closed"]);
    assert_eq!(case.state.closed_at(), Some(t(15)));
    assert_eq!(case.state.started_at(), Some(t0()));
    case.assert_closed();
}

#[test]
fn parallel_split() {
    let mut case = start(PARALLEL);
    let events = case.complete("intake", &ana(), no_fields());
    assert_eq!(
        kinds(&events),
        [
            "step_completed",
            "branches_started",
            "step_activated",
            "step_activated"
        ]
    );
    assert!(matches!(
        &events[1].kind,
        EventKind::BranchesStarted { step, branches: 2, .. } if step.as_str() == "split"
    ));
    assert_eq!(case.active(), ["billing", "system"]);
    assert_eq!(case.state.pending_joins().len(), 1);
    assert_eq!(case.state.pending_joins()[0].remaining, 2);
    // Each branch is worked by its own role, independently.
    let items = engine::work_items(&case.process, &case.state);
    let roles: Vec<String> = items
        .iter()
        .map(|i| i.role.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(roles, ["agent", "lead"]);
}

#[test]
fn synchronization() {
    for order in [["billing", "system"], ["system", "billing"]] {
        let mut case = start(PARALLEL);
        case.complete("intake", &ana(), no_fields());
        let by = |s: &str| if s == "billing" { ana() } else { lea() };

        case.advance(mins(10));
        let events = case.complete(order[0], &by(order[0]), no_fields());
        assert_eq!(kinds(&events), ["step_completed", "branch_joined"]);
        assert_eq!(
            case.active(),
            [order[1]],
            "the join waits for the other branch"
        );
        assert_eq!(case.state.pending_joins()[0].remaining, 1);
        let error = case.refuse(
            &ana(),
            Action::Complete {
                step: step("merge"),
                fields: no_fields(),
                item: None,
            },
        );
        assert!(
            matches!(error, CommandError::StepNotActive { .. }),
            "{error}"
        );

        case.advance(mins(10));
        let events = case.complete(order[1], &by(order[1]), no_fields());
        assert_eq!(
            kinds(&events),
            ["step_completed", "branch_joined", "step_activated"]
        );
        assert_eq!(case.active(), ["merge"]);
        assert!(case.state.pending_joins().is_empty());
        case.complete("merge", &ana(), no_fields());
        case.assert_closed();
    }
}

#[test]
fn exclusive_choice() {
    let process = sop(CHOICE);
    for (priority, chosen, condition) in [
        ("High", "urgent", Some("priority == \"High\"")),
        ("Low", "normal", None),
    ] {
        let mut case = Case::start(&process, &ana(), no_fields());
        let events = case.complete("intake", &ana(), fields(json!({ "priority": priority })));
        assert_eq!(
            kinds(&events),
            [
                "fields_updated",
                "step_completed",
                "decision_taken",
                "step_activated"
            ]
        );
        match &events[2].kind {
            EventKind::DecisionTaken {
                step,
                condition: taken,
                target,
            } => {
                assert_eq!(step.as_str(), "route");
                assert_eq!(taken.as_deref(), condition);
                assert_eq!(target.as_str(), chosen);
            }
            other => panic!("expected a decision, got {other:?}"),
        }
        assert_eq!(case.active(), [chosen], "only one path is taken");
    }
}

#[test]
fn simple_merge() {
    let process = sop(CHOICE);
    for (priority, path, by) in [("High", "urgent", lea()), ("Low", "normal", ana())] {
        let mut case = Case::start(&process, &ana(), no_fields());
        case.complete("intake", &ana(), fields(json!({ "priority": priority })));
        let events = case.complete(path, &by, no_fields());
        assert_eq!(activated(&events), ["wrap"], "both paths merge into `wrap`");
        case.complete("wrap", &ana(), no_fields());
        let wraps = activated(&case.log)
            .into_iter()
            .filter(|s| s == "wrap")
            .count();
        assert_eq!(wraps, 1, "the merge activates `wrap` once");
        case.assert_closed();
    }
}

#[test]
fn arbitrary_cycles() {
    let mut case = start(REVIEW);
    let mut tokens = Vec::new();
    for round in 1..=3 {
        case.advance(mins(30));
        case.complete(
            "draft",
            &ana(),
            fields(json!({ "issue": format!("draft {round}") })),
        );
        tokens.push(case.state.active_step(&step("review")).unwrap().token);
        case.advance(mins(30));
        if round < 3 {
            let events = case.reject("review", &lea(), "the tone is off");
            assert_eq!(
                kinds(&events),
                ["gate_rejected", "step_activated"],
                "a rejection sends the case back for rework"
            );
            assert_eq!(case.active(), ["draft"]);
        }
    }
    tokens.dedup();
    assert_eq!(
        tokens.len(),
        3,
        "each round is a new activation of the gate"
    );
    let events = case.approve("review", &lea());
    assert_eq!(
        kinds(&events),
        ["approval_granted", "gate_approved", "step_activated"]
    );
    case.complete("send", &ana(), no_fields());
    let drafts = activated(&case.log)
        .into_iter()
        .filter(|s| s == "draft")
        .count();
    assert_eq!(drafts, 3);
    case.assert_closed();
}

#[test]
fn deferred_choice_reply_before_timeout() {
    let mut case = start(DEFERRED);
    let events = case.complete("ask", &ana(), no_fields());
    assert!(matches!(
        &events[1].kind,
        EventKind::StepActivated { timeout_at: Some(at), due_at: None, .. } if *at == t0() + days(3)
    ));
    assert_eq!(case.state.next_timer(), Some(t0() + days(3)));
    // The customer replies a day later: the reply wins.
    case.advance(days(1));
    case.complete("wait", &ana(), fields(json!({ "resolved": true })));
    assert_eq!(case.active(), ["done"]);
    // The timer lost the race: nothing fires when it would have.
    assert!(case.tick(t0() + days(4)).is_empty());
    case.complete("done", &ana(), no_fields());
    case.assert_closed();
}

#[test]
fn deferred_choice_timeout_before_reply() {
    let mut case = start(DEFERRED);
    case.complete("ask", &ana(), no_fields());
    assert!(case.tick(t0() + days(3) - mins(1)).is_empty());
    let events = case.tick(t0() + days(3));
    assert_eq!(kinds(&events), ["timer_fired", "step_activated"]);
    assert!(
        matches!(&events[0].kind, EventKind::TimerFired { step, .. } if step.as_str() == "wait")
    );
    assert_eq!(case.active(), ["remind"]);
    // The reply comes too late: the timer won.
    case.advance(mins(5));
    let error = case.refuse(
        &ana(),
        Action::Complete {
            step: step("wait"),
            fields: fields(json!({ "resolved": true })),
            item: None,
        },
    );
    assert!(
        matches!(&error, CommandError::StepNotActive { step, active } if step.as_str() == "wait" && active == "`remind`"),
        "{error:?}"
    );
    case.complete("remind", &ana(), no_fields());
    case.assert_closed();
}

#[test]
fn cancel_case() {
    let mut case = start(PARALLEL);
    case.complete("intake", &ana(), no_fields());
    let error = case.refuse(
        &ana(),
        Action::Cancel {
            reason: "  ".into(),
        },
    );
    assert!(
        matches!(error, CommandError::ReasonRequired { action: "cancel" }),
        "{error}"
    );
    let error = case.refuse(
        &actor("eve", &["stranger"]),
        Action::Cancel {
            reason: "spam".into(),
        },
    );
    assert!(matches!(error, CommandError::NoRoleInSop { .. }), "{error}");

    case.advance(mins(5));
    let events = case.cancel(&lea(), "the customer withdrew the request");
    assert_eq!(kinds(&events), ["case_cancelled"]);
    assert_eq!(case.status(), CaseStatus::Cancelled);
    assert!(
        case.state.active_steps().is_empty(),
        "active steps are withdrawn"
    );
    assert_eq!(case.state.next_timer(), None);
    assert!(engine::work_queue(&case.process, [&case.state], &ana(), case.now).is_empty());

    // Only reopen is accepted; the clock may still tick, and finds nothing due.
    let error = case.refuse(
        &ana(),
        Action::Complete {
            step: step("billing"),
            fields: no_fields(),
            item: None,
        },
    );
    assert!(
        matches!(
            error,
            CommandError::CaseNotOpen {
                status: CaseStatus::Cancelled
            }
        ),
        "{error}"
    );
    assert!(case.tick(t0() + days(30)).is_empty());
    case.assert_replays();
}

// ---------------------------------------------------------------------------------------
// Rules

#[test]
fn only_role_holders_act() {
    let mut case = start(PARALLEL);
    case.complete("intake", &ana(), no_fields());
    let error = case.refuse(
        &ana(),
        Action::Complete {
            step: step("system"),
            fields: no_fields(),
            item: None,
        },
    );
    assert!(
        matches!(&error, CommandError::NotAuthorized { actor, step, role, other_roles }
            if actor.as_str() == "ana" && step.as_str() == "system" && role.as_str() == "lead" && other_roles.is_empty()),
        "{error:?}"
    );
    for action in [
        Action::Claim {
            step: step("system"),
            item: None,
        },
        Action::Escalate {
            step: step("system"),
            reason: "too hard".into(),
            item: None,
        },
        Action::Postpone {
            step: step("system"),
            until: t0() + days(1),
            item: None,
        },
        Action::Transfer {
            step: step("system"),
            to: common::role("agent"),
            item: None,
        },
    ] {
        let error = case.refuse(&ana(), action);
        assert!(
            matches!(error, CommandError::NotAuthorized { .. }),
            "{error}"
        );
    }
    // Someone with no role of the SOP may not even start a case or edit its fields.
    let stranger = actor("eve", &["marketing"]);
    let error = case.refuse(
        &stranger,
        Action::UpdateFields {
            fields: fields(json!({ "issue": "hello" })),
        },
    );
    assert!(
        matches!(&error, CommandError::NoRoleInSop { actor } if actor.as_str() == "eve"),
        "{error:?}"
    );
    let error = Case::new(&case.process).refuse(
        &stranger,
        Action::Start {
            case: "T-2".into(),
            fields: no_fields(),
        },
    );
    assert!(matches!(error, CommandError::NoRoleInSop { .. }), "{error}");
    case.complete("system", &lea(), no_fields());
    case.assert_replays();
}

#[test]
fn four_eyes_performer_cannot_approve() {
    let mut case = Case::start(&sop(REVIEW), &kim(), no_fields());
    case.complete("draft", &kim(), fields(json!({ "issue": "refund" })));
    for action in [
        Action::Approve {
            step: step("review"),
            comment: None,
        },
        Action::Reject {
            step: step("review"),
            reason: "redo".into(),
        },
    ] {
        let error = case.refuse(&kim(), action);
        assert!(
            matches!(&error, CommandError::ReviewsOwnWork { actor, step, reviewed }
                if actor.as_str() == "kim" && step.as_str() == "review" && reviewed.as_str() == "draft"),
            "{error:?}"
        );
    }
    // The gate shows who may not decide it.
    let items = engine::work_items(&case.process, &case.state);
    assert_eq!(items[0].kind, WorkKind::Approval);
    assert_eq!(items[0].excluded, [kim().id]);
    assert!(!items[0].actionable_by(&kim(), case.now));
    assert!(items[0].actionable_by(&lea(), case.now));

    // After a rework round by someone else, kim still performed the draft once: four eyes
    // hold for every round.
    case.reject("review", &lea(), "missing the order number");
    case.complete("draft", &ana(), fields(json!({ "issue": "refund" })));
    let error = case.refuse(
        &kim(),
        Action::Approve {
            step: step("review"),
            comment: None,
        },
    );
    assert!(
        matches!(error, CommandError::ReviewsOwnWork { .. }),
        "{error}"
    );
    case.send(
        &lea(),
        Action::Approve {
            step: step("review"),
            comment: Some("good".into()),
        },
    );
    case.complete("send", &ana(), no_fields());
    case.assert_closed();
}

#[test]
fn distinct_approvals() {
    let mut case = start(TWO_APPROVALS);
    case.complete("draft", &ana(), no_fields());
    let events = case.approve("review", &lea());
    assert_eq!(kinds(&events), ["approval_granted"], "one of two approvals");
    assert_eq!(case.active(), ["review"]);
    let error = case.refuse(
        &lea(),
        Action::Approve {
            step: step("review"),
            comment: None,
        },
    );
    assert!(
        matches!(&error, CommandError::AlreadyApproved { actor, step }
            if actor.as_str() == "lea" && step.as_str() == "review"),
        "{error:?}"
    );
    let events = case.approve("review", &tom());
    assert_eq!(
        kinds(&events),
        ["approval_granted", "gate_approved", "step_activated"]
    );
    assert_eq!(case.active(), ["send"]);
    case.complete("send", &ana(), no_fields());
    case.assert_closed();
}

#[test]
fn approvals_do_not_carry_over_a_rejection() {
    let mut case = start(TWO_APPROVALS);
    case.complete("draft", &ana(), no_fields());
    case.approve("review", &lea());
    case.reject("review", &tom(), "not yet");
    case.complete("draft", &ana(), no_fields());
    // lea's approval was for the previous round: she approves again, and one more is needed.
    let events = case.approve("review", &lea());
    assert_eq!(kinds(&events), ["approval_granted"]);
    case.approve("review", &tom());
    assert_eq!(case.active(), ["send"]);
    case.assert_replays();
}

#[test]
fn commands_on_closed_or_cancelled_cases_are_refused() {
    let mut closed = start(SEQUENCE);
    for s in ["first", "second", "third"] {
        closed.complete(s, &ana(), no_fields());
    }
    assert_eq!(closed.status(), CaseStatus::Closed);
    let mut cancelled = start(SEQUENCE);
    cancelled.cancel(&ana(), "duplicate");
    for (case, status) in [
        (&mut closed, CaseStatus::Closed),
        (&mut cancelled, CaseStatus::Cancelled),
    ] {
        for action in [
            Action::Complete {
                step: step("first"),
                fields: no_fields(),
                item: None,
            },
            Action::UpdateFields {
                fields: fields(json!({ "issue": "late" })),
            },
            Action::AddNote {
                text: "late note".into(),
                step: None,
            },
            Action::Cancel {
                reason: "again".into(),
            },
            Action::Claim {
                step: step("third"),
                item: None,
            },
        ] {
            let error = case.refuse(&ana(), action);
            assert_eq!(error, CommandError::CaseNotOpen { status });
        }
        let error = case.refuse(
            &ana(),
            Action::Start {
                case: "T-1".into(),
                fields: no_fields(),
            },
        );
        assert!(
            matches!(&error, CommandError::AlreadyStarted { case } if case.as_str() == "T-1"),
            "{error:?}"
        );
        assert!(case.tick(t0() + days(9)).is_empty());
        case.assert_replays();
    }
}

#[test]
fn commands_before_start_are_refused() {
    let mut case = Case::new(&sop(SEQUENCE));
    for action in [
        Action::Complete {
            step: step("first"),
            fields: no_fields(),
            item: None,
        },
        Action::Tick,
        Action::Reopen {
            reason: "why".into(),
        },
    ] {
        let error = case.refuse(&ana(), action);
        assert_eq!(error, CommandError::NotStarted);
    }
    assert_eq!(case.status(), CaseStatus::NotStarted);
    assert!(case.log.is_empty());
}

#[test]
fn command_on_a_step_that_is_not_active_is_refused() {
    let mut case = start(SEQUENCE);
    let error = case.refuse(
        &ana(),
        Action::Complete {
            step: step("second"),
            fields: no_fields(),
            item: None,
        },
    );
    assert!(
        matches!(&error, CommandError::StepNotActive { step, active }
            if step.as_str() == "second" && active == "`first`"),
        "{error:?}"
    );
    let error = case.refuse(
        &ana(),
        Action::Complete {
            step: step("fourth"),
            fields: no_fields(),
            item: None,
        },
    );
    assert!(
        matches!(&error, CommandError::UnknownStep { step } if step.as_str() == "fourth"),
        "{error:?}"
    );
    let error = case.refuse(
        &ana(),
        Action::AddNote {
            text: "about a step that does not exist".into(),
            step: Some(step("fourth")),
        },
    );
    assert!(matches!(error, CommandError::UnknownStep { .. }), "{error}");
}

#[test]
fn wrong_action_for_the_kind_of_step_is_refused() {
    let mut case = Case::start(&sop(REVIEW), &ana(), no_fields());
    let error = case.refuse(
        &ana(),
        Action::Approve {
            step: step("draft"),
            comment: None,
        },
    );
    assert!(
        matches!(
            error,
            CommandError::WrongAction {
                actual: "a task",
                expected: "complete",
                ..
            }
        ),
        "{error:?}"
    );
    case.complete("draft", &ana(), fields(json!({ "issue": "refund" })));
    let error = case.refuse(
        &lea(),
        Action::Complete {
            step: step("review"),
            fields: no_fields(),
            item: None,
        },
    );
    assert!(
        matches!(
            error,
            CommandError::WrongAction {
                actual: "an approval gate",
                ..
            }
        ),
        "{error:?}"
    );
    let error = case.refuse(
        &lea(),
        Action::Reject {
            step: step("review"),
            reason: " ".into(),
        },
    );
    assert_eq!(error, CommandError::ReasonRequired { action: "reject" });
}

#[test]
fn invalid_field_values_are_refused() {
    let mut case = start(SLA);
    let invalid = |value: serde_json::Value| Action::Complete {
        step: step("answer"),
        fields: fields(value),
        item: None,
    };
    // (values, field, the end of the reason)
    let cases: Vec<(serde_json::Value, &str, &str)> = vec![
        (json!({ "name": 42 }), "name", "cannot hold an integer"),
        (
            json!({ "name": "Ada", "email": "ada.example.com" }),
            "email",
            "`ada.example.com` is not an e-mail address",
        ),
        (
            json!({ "name": "Ada", "email": "ada@localhost" }),
            "email",
            "`ada@localhost` is not an e-mail address",
        ),
        (
            json!({ "name": "Ada", "priority": "Urgent" }),
            "priority",
            "`Urgent` is not one of `High`, `Low`",
        ),
        (
            json!({ "name": "Ada", "priority": ["High"] }),
            "priority",
            "cannot hold a list",
        ),
        (
            json!({ "name": "Ada", "score": 0 }),
            "score",
            "value 0 is below the minimum 1",
        ),
        (
            json!({ "name": "Ada", "score": 6 }),
            "score",
            "value 6 is above the maximum 5",
        ),
        (
            json!({ "name": "Ada", "score": 2.5 }),
            "score",
            "cannot hold a number",
        ),
        (
            json!({ "name": "Ada", "score": "3" }),
            "score",
            "cannot hold text",
        ),
        (
            json!({ "name": "Ada", "resolved": "yes" }),
            "resolved",
            "cannot hold text",
        ),
        (
            json!({ "name": "Ada", "tags": ["Billing", "Sales"] }),
            "tags",
            "`Sales` is not one of `Billing`, `Bug`",
        ),
        (
            json!({ "name": "Ada", "reply_by": "2026-02-30" }),
            "reply_by",
            "`2026-02-30` is not a date; write YYYY-MM-DD",
        ),
        (
            json!({ "name": "Ada", "weight": -1 }),
            "weight",
            "value -1 is below the minimum 0",
        ),
    ];
    for (values, field, reason) in cases {
        let error = case.refuse(&ana(), invalid(values.clone()));
        assert!(
            matches!(&error, CommandError::InvalidValue { field: f, reason: r }
                if f.as_str() == field && r.ends_with(reason)),
            "for {values}: {error:?}"
        );
    }
    let error = case.refuse(&ana(), invalid(json!({ "name": "Ada", "nmae": "Ada" })));
    assert!(
        matches!(&error, CommandError::UnknownField { field } if field.as_str() == "nmae"),
        "{error:?}"
    );
    // The same rules hold for `start` and `update_fields`.
    let error = case.refuse(
        &ana(),
        Action::UpdateFields {
            fields: fields(json!({ "score": 9 })),
        },
    );
    assert!(
        matches!(error, CommandError::InvalidValue { .. }),
        "{error}"
    );
    let error = Case::new(&case.process).refuse(
        &ana(),
        Action::Start {
            case: "T-2".into(),
            fields: fields(json!({ "tags": "Bug" })),
        },
    );
    assert!(
        matches!(error, CommandError::InvalidValue { .. }),
        "{error}"
    );

    // Valid values pass; an integer for a number field is stored as a number.
    case.complete(
        "answer",
        &ana(),
        fields(json!({
            "name": "Ada",
            "email": "ada@example.com",
            "tags": ["Bug"],
            "reply_by": "2026-02-28",
            "weight": 2,
        })),
    );
    case.update(&lea(), fields(json!({ "priority": "High" })));
    assert_eq!(
        case.state.fields()[&"weight".parse().unwrap()],
        FieldValue::Number(2.0)
    );
    assert_eq!(
        case.state.fields()[&"tags".parse().unwrap()],
        FieldValue::List(vec!["Bug".into()])
    );
    case.assert_replays();
}

#[test]
fn required_fields_are_enforced_on_complete() {
    let mut case = start(SLA);
    let error = case.refuse(
        &ana(),
        Action::Complete {
            step: step("answer"),
            fields: fields(json!({ "email": "ada@example.com" })),
            item: None,
        },
    );
    assert_eq!(
        error,
        CommandError::MissingRequired {
            step: step("answer"),
            missing: vec!["name".parse().unwrap()],
        }
    );
    assert_eq!(
        error.to_string(),
        "step `answer` cannot complete: required field `name` is missing"
    );
    // A value given earlier (by the lead, who may correct the name at any time) counts.
    case.update(&lea(), fields(json!({ "name": "Ada" })));
    let events = case.complete("answer", &ana(), no_fields());
    assert_eq!(
        kinds(&events),
        ["step_completed", "step_activated"],
        "no fields_updated event without values"
    );
}

#[test]
fn repeated_command_id_is_applied_once() {
    let mut case = start(SEQUENCE);
    let complete = Action::Complete {
        step: step("first"),
        fields: no_fields(),
        item: None,
    };
    let first = case
        .try_send_id("retry-1", &ana(), complete.clone())
        .unwrap();
    assert_eq!(kinds(&first), ["step_completed", "step_activated"]);
    let seqs: Vec<u64> = first.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [3, 4]);

    // The retry (same id) yields nothing, even later and though the step is no longer
    // active; the earlier outcome is at `outcome_of`.
    case.advance(mins(1));
    let version = case.state.version();
    let again = case.try_send_id("retry-1", &ana(), complete).unwrap();
    assert!(again.is_empty());
    assert_eq!(case.state.version(), version);
    assert_eq!(case.state.outcome_of(&"retry-1".into()), Some(3..=4));
    assert_eq!(
        case.state.outcome_of(&"c1".into()),
        Some(1..=2),
        "the start"
    );
    assert_eq!(case.state.outcome_of(&"never-sent".into()), None);
    // Even with another action under the same id.
    let other = case
        .try_send_id("retry-1", &ana(), Action::Cancel { reason: "x".into() })
        .unwrap();
    assert!(other.is_empty());
    assert!(case.state.is_open());
    // A refused command is not recorded: retrying its id is decided again.
    let error = case
        .try_send_id(
            "late",
            &ana(),
            Action::Complete {
                step: step("third"),
                fields: no_fields(),
                item: None,
            },
        )
        .unwrap_err();
    assert!(
        matches!(error, CommandError::StepNotActive { .. }),
        "{error}"
    );
    assert!(!case.state.has_applied(&"late".into()));
    case.assert_replays();
}

#[test]
fn reopen_a_closed_case() {
    let mut case = start(SEQUENCE);
    let error = case.refuse(
        &ana(),
        Action::Reopen {
            reason: "why".into(),
        },
    );
    assert_eq!(error, CommandError::NotClosed);
    for s in ["first", "second", "third"] {
        case.complete(s, &ana(), no_fields());
    }
    case.advance(days(2));
    let error = case.refuse(&ana(), Action::Reopen { reason: "".into() });
    assert_eq!(error, CommandError::ReasonRequired { action: "reopen" });
    let events = case.reopen(&ben(), "the customer wrote back");
    assert_eq!(kinds(&events), ["case_reopened", "step_activated"]);
    assert_eq!(case.status(), CaseStatus::Open);
    assert_eq!(case.state.closed_at(), None);
    assert_eq!(case.active(), ["third"], "the last step comes back");
    let events = case.complete("third", &ben(), no_fields());
    assert_eq!(kinds(&events), ["step_completed", "case_closed"]);
    assert_eq!(case.state.closed_at(), Some(t0() + days(2)));
    case.assert_closed();
}

#[test]
fn reopen_a_cancelled_case() {
    let mut case = start(PARALLEL);
    case.complete("intake", &ana(), no_fields());
    case.complete("billing", &ana(), no_fields());
    case.cancel(&ana(), "opened by mistake");
    let events = case.reopen(&ana(), "it was not a mistake");
    assert_eq!(kinds(&events), ["case_reopened", "step_activated"]);
    assert_eq!(case.active(), ["system"], "the withdrawn steps come back");
    assert_eq!(
        case.state.pending_joins().len(),
        1,
        "the join still waits for the branch that came back"
    );
    // The join still waits for the branch that came back: `merge` starts once, after it.
    case.complete("system", &lea(), no_fields());
    assert_eq!(case.active(), ["merge"]);
    case.complete("merge", &ana(), no_fields());
    case.assert_closed();
}

#[test]
fn reopen_a_case_cancelled_with_both_branches_open() {
    let mut case = start(PARALLEL);
    case.complete("intake", &ana(), no_fields());
    case.cancel(&ana(), "opened by mistake");
    case.reopen(&ana(), "it was not a mistake");
    assert_eq!(case.active(), ["billing", "system"]);
    let events = case.complete("billing", &ana(), no_fields());
    assert_eq!(
        activated(&events),
        Vec::<String>::new(),
        "the join waits for `system`"
    );
    case.complete("system", &lea(), no_fields());
    assert_eq!(case.active(), ["merge"]);
    case.complete("merge", &ana(), no_fields());
    case.assert_closed();
}

#[test]
fn transfer_hands_a_step_to_another_role() {
    let mut case = start(SEQUENCE);
    case.claim("first", &ana());
    let error = case.refuse(
        &ana(),
        Action::Transfer {
            step: step("first"),
            to: common::role("billing"),
            item: None,
        },
    );
    assert!(
        matches!(&error, CommandError::UnknownRole { role } if role.as_str() == "billing"),
        "{error:?}"
    );
    let events = case.transfer("first", &ana(), "lead");
    assert!(matches!(
        &events[0].kind,
        EventKind::StepTransferred { role, .. } if role.as_str() == "lead"
    ));
    let active = case.state.active_step(&step("first")).unwrap();
    assert_eq!(active.assignee, None, "a transfer drops the assignee");
    // The old role can no longer act; the new one can.
    let error = case.refuse(
        &ana(),
        Action::Complete {
            step: step("first"),
            fields: no_fields(),
            item: None,
        },
    );
    assert!(
        matches!(&error, CommandError::NotAuthorized { role, .. } if role.as_str() == "lead"),
        "{error:?}"
    );
    let items = engine::work_items(&case.process, &case.state);
    assert_eq!(items[0].role, Some(common::role("lead")));
    assert!(work_queue(&case.process, [&case.state], &ana(), case.now).is_empty());
    assert_eq!(
        work_queue(&case.process, [&case.state], &lea(), case.now).len(),
        1
    );
    case.complete("first", &lea(), no_fields());
    // The next step is back with its own role.
    assert_eq!(
        engine::work_items(&case.process, &case.state)[0].role,
        Some(common::role("agent"))
    );
    case.assert_replays();
}

#[test]
fn claim_and_assign() {
    let mut case = start(SEQUENCE);
    case.claim("first", &ana());
    let error = case.refuse(
        &ben(),
        Action::Complete {
            step: step("first"),
            fields: no_fields(),
            item: None,
        },
    );
    assert!(
        matches!(&error, CommandError::AssignedToSomeoneElse { assignee, .. } if assignee.as_str() == "ana"),
        "{error:?}"
    );
    let error = case.refuse(
        &ben(),
        Action::Claim {
            step: step("first"),
            item: None,
        },
    );
    assert!(
        matches!(error, CommandError::AssignedToSomeoneElse { .. }),
        "{error}"
    );
    // Claiming again is harmless; the holder (or a role holder) can reassign.
    case.claim("first", &ana());
    case.send(
        &ana(),
        Action::Assign {
            step: step("first"),
            assignee: "ben".into(),
            item: None,
        },
    );
    assert!(work_queue(&case.process, [&case.state], &ana(), case.now).is_empty());
    assert_eq!(
        work_queue(&case.process, [&case.state], &ben(), case.now)[0].assignee,
        Some("ben".into())
    );
    case.complete("first", &ben(), no_fields());
    assert_eq!(
        case.state.active_step(&step("second")).unwrap().assignee,
        None,
        "a new step starts unassigned"
    );
    case.assert_replays();
}

#[test]
fn postpone_moves_the_deadline_and_hides_the_item() {
    let mut case = start(SLA);
    assert_eq!(case.state.next_timer(), Some(t(60)));
    case.advance(mins(20));
    let error = case.refuse(
        &ana(),
        Action::Postpone {
            step: step("answer"),
            until: t(20),
            item: None,
        },
    );
    assert_eq!(
        error,
        CommandError::PostponeNotInFuture {
            step: step("answer")
        }
    );
    // On hold from 09:20 to 11:20: the SLA clock stops for those two hours.
    let events = case.postpone("answer", &ana(), t(140));
    assert!(matches!(
        &events[0].kind,
        EventKind::StepPostponed { until, due_at: Some(due), .. } if *until == t(140) && *due == t(180)
    ));
    let active = case.state.active_step(&step("answer")).unwrap();
    assert_eq!(active.due_at, Some(t(180)));
    assert_eq!(active.postponed_until, Some(t(140)));
    assert_eq!(case.state.next_timer(), Some(t(180)));

    // Hidden from the work queue until then, but still in the role's queue.
    assert!(work_queue(&case.process, [&case.state], &ana(), t(139)).is_empty());
    assert_eq!(
        engine::role_queue(&case.process, [&case.state], &common::role("agent")).len(),
        1
    );
    assert_eq!(
        work_queue(&case.process, [&case.state], &ana(), t(140)).len(),
        1
    );
    // The original deadline passes without a breach.
    assert!(case.tick(t(61)).is_empty());
    assert!(case.tick(t(179)).is_empty());
    let events = case.tick(t(180));
    assert_eq!(
        kinds(&events),
        ["sla_breached", "step_activated"],
        "breached at the moved deadline"
    );
    assert_eq!(case.active(), ["takeover"]);
    case.assert_replays();
}

/// A case stamped a year ahead by mistake refuses commands until then; `correct_time` sets
/// its clock back on the record, and the active step's SLA runs from the corrected time.
#[test]
fn a_wrong_future_time_is_corrected_on_the_record() {
    let mut case = start(SLA);
    let wrong = t(0) + days(365);
    case.at(wrong);
    case.complete("answer", &ana(), fields(json!({ "name": "Ada" })));
    assert_eq!(case.state.next_timer(), Some(wrong + hours(4)));
    case.rewind(t(30));
    assert!(matches!(
        case.refuse(
            &ana(),
            Action::AddNote {
                text: "called".into(),
                step: None
            }
        ),
        CommandError::TimeWentBackwards { .. }
    ));
    assert!(matches!(
        case.refuse(
            &ana(),
            Action::CorrectTime {
                reason: String::new()
            }
        ),
        CommandError::ReasonRequired { .. }
    ));
    let events = case.send(
        &lea(),
        Action::CorrectTime {
            reason: "typed next year".into(),
        },
    );
    assert_eq!(kinds(&events), ["time_corrected"]);
    assert!(matches!(
        &events[0].kind,
        EventKind::TimeCorrected { wrong: w, .. } if *w == wrong
    ));
    assert_eq!(case.state.last_event_at(), Some(t(30)));
    assert_eq!(
        case.state.next_timer(),
        Some(t(30) + hours(4)),
        "the SLA moved back"
    );
    case.note(&ana(), "called");
    assert!(matches!(
        case.refuse(
            &lea(),
            Action::CorrectTime {
                reason: "again".into()
            }
        ),
        CommandError::ClockNotAhead { .. }
    ));
    case.assert_replays();
    assert!(engine::check_history(&case.process, &case.log).is_ok());
}

#[test]
fn sla_breach_without_on_overdue_marks_the_step() {
    let mut case = start(SLA);
    case.at(t(30));
    case.complete("answer", &ana(), fields(json!({ "name": "Ada" })));
    // `solve` is due 4h after it became active, at 13:30; it has no `on_overdue`.
    assert_eq!(case.state.next_timer(), Some(t(270)));
    let events = case.tick(t(270));
    assert_eq!(kinds(&events), ["sla_breached"]);
    assert!(matches!(
        &events[0].kind,
        EventKind::SlaBreached { escalated: false, step, .. } if step.as_str() == "solve"
    ));
    assert_eq!(case.active(), ["solve"], "the step stays active");
    let active = case.state.active_step(&step("solve")).unwrap();
    assert!(active.breached);
    assert_eq!(case.state.next_timer(), None, "a breach fires once");
    assert!(case.tick(t(600)).is_empty());
    let items = engine::work_items(&case.process, &case.state);
    assert!(items[0].breached);
    case.complete("solve", &ana(), fields(json!({ "issue": "refund" })));
    case.complete("close", &ana(), no_fields());
    case.assert_closed();
}

#[test]
fn sla_breach_with_on_overdue_escalates() {
    let mut case = start(SLA);
    let events = case.tick(t(60));
    assert_eq!(kinds(&events), ["sla_breached", "step_activated"]);
    assert!(matches!(
        &events[0].kind,
        EventKind::SlaBreached {
            escalated: true,
            ..
        }
    ));
    assert_eq!(case.active(), ["takeover"]);
    assert_eq!(events[0].actor.as_str(), "clock");
    case.complete("takeover", &lea(), no_fields());
    assert_eq!(case.active(), ["solve"]);
    case.assert_replays();
}

#[test]
fn tick_fires_nothing_early() {
    let mut case = start(SLA);
    for minute in [0, 1, 30, 59] {
        assert!(case.tick(t(minute)).is_empty(), "at minute {minute}");
    }
    assert_eq!(case.active(), ["answer"]);
    // A tick that fires nothing is not recorded.
    assert_eq!(kinds(&case.log), ["case_started", "step_activated"]);
    assert_eq!(kinds(&case.tick(t(60))), ["sla_breached", "step_activated"]);
}

#[test]
fn escalate_along_the_escalation_path() {
    let mut case = start(SLA);
    let error = case.refuse(
        &ana(),
        Action::Escalate {
            step: step("answer"),
            reason: "".into(),
            item: None,
        },
    );
    assert_eq!(error, CommandError::ReasonRequired { action: "escalate" });
    let events = case.escalate("answer", &ana(), "the customer is abusive");
    assert_eq!(kinds(&events), ["step_escalated", "step_activated"]);
    assert_eq!(case.active(), ["takeover"]);
    assert!(
        case.tick(t(120)).is_empty(),
        "the escalated step's SLA is gone"
    );
    case.complete("takeover", &lea(), fields(json!({ "name": "Ada" })));

    // `solve` has neither `on_escalate` nor `on_overdue`.
    let error = case.refuse(
        &ana(),
        Action::Escalate {
            step: step("solve"),
            reason: "too hard".into(),
            item: None,
        },
    );
    assert_eq!(
        error,
        CommandError::NoEscalationPath {
            step: step("solve")
        }
    );
    case.assert_replays();
}

#[test]
fn escalate_falls_back_to_the_overdue_path() {
    let steps = "  - { id: answer, title: Answer, role: agent, due: 1h, on_overdue: takeover }
  - { id: close, title: Close, role: agent, end: true }
  - { id: takeover, title: Take over, role: lead, next: close }
";
    let mut case = start(steps);
    let events = case.escalate("answer", &ana(), "need help");
    assert_eq!(kinds(&events), ["step_escalated", "step_activated"]);
    assert_eq!(case.active(), ["takeover"]);
}

#[test]
fn work_queue_across_cases_sorted_by_deadline() {
    let process = sop(SLA);
    let mut early = Case::start_as(&process, "T-1", &ana(), no_fields());
    let mut late = Case::new(&process);
    late.at(t(10));
    late.send(
        &ana(),
        Action::Start {
            case: "T-2".into(),
            fields: no_fields(),
        },
    );
    let mut none_due = Case::start_as(&sop(SEQUENCE), "T-3", &ana(), no_fields());
    let mut solving = Case::start_as(&process, "T-4", &ana(), no_fields());
    solving.complete("answer", &ana(), fields(json!({ "name": "Ada" })));
    let mut other_role = Case::start_as(&process, "T-5", &ana(), no_fields());
    other_role.transfer("answer", &ana(), "lead");
    // Complete nothing else: T-1 due 10:00, T-2 due 10:10, T-4 `solve` due 13:00.
    let cases = [
        &solving.state,
        &late.state,
        &none_due.state,
        &early.state,
        &other_role.state,
    ];
    let queue = work_queue(&process, cases, &ana(), t(15));
    let order: Vec<(String, String)> = queue
        .iter()
        .map(|i| (i.case.as_ref().unwrap().to_string(), i.step.to_string()))
        .collect();
    assert_eq!(
        order,
        [
            ("T-1".to_owned(), "answer".to_owned()),
            ("T-2".to_owned(), "answer".to_owned()),
            ("T-4".to_owned(), "solve".to_owned()),
        ],
        "earliest deadline first; another SOP and another role's items left out"
    );
    let dues: Vec<_> = queue.iter().map(|i| i.due_at.unwrap()).collect();
    assert_eq!(dues, [t(60), t(70), t(240)]);
    // Items without a deadline come last.
    let mixed = sop(SEQUENCE);
    let a = Case::start_as(&mixed, "T-9", &ana(), no_fields());
    let b = Case::start_as(&mixed, "T-8", &ana(), no_fields());
    let queue = work_queue(&mixed, [&a.state, &b.state], &ana(), t(0));
    let ids: Vec<String> = queue
        .iter()
        .map(|i| i.case.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["T-8", "T-9"], "then by case id");
    for case in [
        &mut early,
        &mut late,
        &mut none_due,
        &mut solving,
        &mut other_role,
    ] {
        case.assert_replays();
    }
}

#[test]
fn view_renders_templates() {
    let mut case = start(SLA);
    let view = engine::view(&case.process, &case.state);
    assert_eq!(
        view.work[0].title, "Answer {{ name }}",
        "unset fields keep their placeholder"
    );
    case.complete(
        "answer",
        &ana(),
        fields(json!({ "name": "Ada Lovelace", "email": "ada@example.com" })),
    );
    case.update(
        &ana(),
        fields(json!({ "issue": "a double charge", "tags": ["Billing", "Bug"] })),
    );
    let view = engine::view(&case.process, &case.state);
    assert_eq!(view.case, Some("T-1".into()));
    assert_eq!(view.sop_title, "Workflow patterns");
    assert_eq!(view.status, CaseStatus::Open);
    assert_eq!(view.work.len(), 1);
    assert_eq!(view.work[0].title, "Solve a double charge");
    assert_eq!(
        view.work[0].instructions.as_deref(),
        Some("Solve a double charge for Ada Lovelace")
    );
    assert_eq!(view.work[0].collects.len(), 2);
    assert_eq!(view.next_timer, Some(t(240)));
    let labelled: Vec<(&str, &str)> = view
        .fields
        .iter()
        .map(|(l, v)| (l.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labelled,
        [
            ("Customer name", "Ada Lovelace"),
            ("Customer e-mail", "ada@example.com"),
            ("priority", "Low"),
            ("tags", "Billing, Bug"),
            ("Issue", "a double charge"),
        ],
        "labelled, in SOP order, defaults included"
    );
}

#[test]
fn describe_lines() {
    let mut case = start(REVIEW);
    case.at(t(5));
    case.claim("draft", &ana());
    case.send(
        &ana(),
        Action::AddNote {
            text: "customer prefers e-mail".into(),
            step: Some(step("draft")),
        },
    );
    case.complete("draft", &ana(), fields(json!({ "issue": "refund" })));
    case.at(t(65));
    case.reject("review", &lea(), "add the order number");
    case.complete("draft", &ana(), fields(json!({ "issue": "refund #42" })));
    case.send(
        &lea(),
        Action::Approve {
            step: step("review"),
            comment: Some("clear".into()),
        },
    );
    case.at(t0() + days(1));
    case.complete("send", &ana(), no_fields());
    let lines: Vec<String> = case.log.iter().map(engine::describe).collect();
    assert_eq!(
        lines,
        [
            "2026-01-05 09:00 ana: started the case on patterns v1",
            "2026-01-05 09:00 ana: step draft became active",
            "2026-01-05 09:05 ana: assigned draft to ana",
            "2026-01-05 09:05 ana: note on draft: customer prefers e-mail",
            "2026-01-05 09:05 ana: set issue = refund",
            "2026-01-05 09:05 ana: completed draft",
            "2026-01-05 09:05 ana: step review became active",
            "2026-01-05 10:05 lea: rejected review: add the order number",
            "2026-01-05 10:05 lea: step draft became active",
            "2026-01-05 10:05 ana: set issue = refund #42",
            "2026-01-05 10:05 ana: completed draft",
            "2026-01-05 10:05 ana: step review became active",
            "2026-01-05 10:05 lea: approved review: clear",
            "2026-01-05 10:05 lea: review passed",
            "2026-01-05 10:05 lea: step send became active",
            "2026-01-06 09:00 ana: completed send",
            "2026-01-06 09:00 ana: case closed",
        ]
    );
    case.assert_closed();
}

#[test]
fn case_on_another_process_version_is_refused() {
    let v1 = sop(SEQUENCE);
    let v2 = sop_yaml(&format!("{HEADER}{SEQUENCE}").replace("version: 1", "version: 2"));
    let case = Case::start(&v1, &ana(), no_fields());
    let command = sopflow::engine::Command::new(
        "c9",
        ana(),
        Action::Complete {
            step: step("first"),
            fields: no_fields(),
            item: None,
        },
    );
    let error = engine::handle(&v2, &case.state, command, t(1)).unwrap_err();
    assert!(
        matches!(
            error,
            CommandError::WrongProcess {
                case_version: 1,
                process_version: 2,
                ..
            }
        ),
        "{error:?}"
    );
    // Work queues leave such cases out too.
    assert!(work_queue(&v2, [&case.state], &ana(), t(1)).is_empty());
}

#[test]
fn clock_cannot_act_on_steps() {
    let mut case = start(SEQUENCE);
    let error = case.refuse(
        &clock(),
        Action::Complete {
            step: step("first"),
            fields: no_fields(),
            item: None,
        },
    );
    assert!(
        matches!(error, CommandError::NotAuthorized { .. }),
        "{error}"
    );
    let replayed = CaseState::replay(&case.log);
    assert_eq!(replayed, case.state);
}

#[test]
fn non_finite_numbers_are_refused() {
    // They have no JSON form: a stored event holding one could not be read back.
    let mut case = start(SLA);
    for (value, reason) in [
        (f64::NAN, "NaN is not a finite number"),
        (f64::INFINITY, "inf is not a finite number"),
        (f64::NEG_INFINITY, "-inf is not a finite number"),
    ] {
        let mut values = no_fields();
        values.insert("weight".parse().unwrap(), FieldValue::Number(value));
        let error = case.refuse(&ana(), Action::UpdateFields { fields: values });
        assert!(
            matches!(&error, CommandError::InvalidValue { field, reason: r }
                if field.as_str() == "weight" && r == reason),
            "{value}: {error:?}"
        );
    }
    case.assert_replays();
}

#[test]
fn tick_fires_a_timeout_after_a_breach_that_keeps_the_step() {
    // `due` without `on_overdue` marks the step breached and keeps it active; its `after`
    // timer, due too, still fires in the same tick.
    let steps = "  - { id: wait, title: Wait for the reply, role: agent, due: 1h, after: 2h, on_timeout: remind, next: done }
  - { id: remind, title: Remind the customer, role: agent, end: true }
  - { id: done, title: Done, role: agent, end: true }
";
    let mut late = start(steps);
    let events = late.tick(t(180));
    assert_eq!(
        kinds(&events),
        ["sla_breached", "timer_fired", "step_activated"],
        "a late tick fires both timers"
    );
    assert_eq!(late.active(), ["remind"]);
    late.assert_replays();

    let mut on_time = start(steps);
    assert_eq!(kinds(&on_time.tick(t(60))), ["sla_breached"]);
    assert_eq!(on_time.state.next_timer(), Some(t(120)));
    assert_eq!(
        kinds(&on_time.tick(t(120))),
        ["timer_fired", "step_activated"]
    );
    on_time.assert_replays();
}

#[test]
fn decisions_compare_number_fields_with_integer_literals() {
    let steps = "  - { id: intake, title: Intake, role: agent, collects: [weight] }
  - id: route
    decide:
      - { if: 'weight > 100', goto: heavy }
      - else: light
  - { id: heavy, title: Heavy, role: agent, end: true }
  - { id: light, title: Light, role: agent, end: true }
";
    for (weight, path) in [
        (json!(150), "heavy"),
        (json!(150.5), "heavy"),
        (json!(3), "light"),
    ] {
        let mut case = start(steps);
        case.complete("intake", &ana(), fields(json!({ "weight": weight })));
        assert_eq!(case.active(), [path], "weight {weight}");
    }
}

#[test]
fn a_cycle_of_decisions_is_refused_without_events() {
    let steps = "  - { id: intake, title: Intake, role: agent, collects: [resolved] }
  - id: first
    decide:
      - { if: 'resolved == true', goto: second }
      - else: done
  - id: second
    decide:
      - { if: 'resolved == true', goto: first }
      - else: done
  - { id: done, title: Done, role: agent, end: true }
";
    let mut case = start(steps);
    let error = case.refuse(
        &ana(),
        Action::Complete {
            step: step("intake"),
            fields: fields(json!({ "resolved": true })),
            item: None,
        },
    );
    assert!(
        matches!(error, CommandError::RoutingLoop { .. }),
        "{error:?}"
    );
    assert_eq!(case.active(), ["intake"]);
    case.complete("intake", &ana(), fields(json!({ "resolved": false })));
    assert_eq!(case.active(), ["done"]);
}

#[test]
fn a_condition_that_fails_at_run_time_is_refused_without_events() {
    let steps = "  - { id: intake, title: Intake, role: agent, collects: [score] }
  - id: route
    decide:
      - { if: '10 / (score - score) > 1', goto: high }
      - else: low
  - { id: high, title: High, role: agent, end: true }
  - { id: low, title: Low, role: agent, end: true }
";
    let mut case = start(steps);
    let error = case.refuse(
        &ana(),
        Action::Complete {
            step: step("intake"),
            fields: fields(json!({ "score": 3 })),
            item: None,
        },
    );
    assert!(
        matches!(&error, CommandError::DecisionFailed { step, .. } if step.as_str() == "route"),
        "{error:?}"
    );
    assert_eq!(case.active(), ["intake"]);
}

#[test]
fn fields_are_written_only_by_their_owners() {
    let mut case = start(SLA);
    // `complete` writes the fields its step collects; `score` belongs to `solve`.
    let error = case.refuse(
        &ana(),
        Action::Complete {
            step: step("answer"),
            fields: fields(json!({ "name": "Ada", "score": 1 })),
            item: None,
        },
    );
    assert_eq!(
        error,
        CommandError::FieldNotCollected {
            field: "score".parse().unwrap(),
            step: step("answer"),
            collected_by: vec![(step("solve"), common::role("agent"))],
            editable_by: vec![],
        }
    );
    assert_eq!(
        error.to_string(),
        "field `score` is collected by step `solve` (role `agent`); `answer` does not collect it"
    );
    // Outside any step, only a role the field is `editable_by` writes it.
    let error = case.refuse(
        &ana(),
        Action::UpdateFields {
            fields: fields(json!({ "priority": "High" })),
        },
    );
    assert_eq!(
        error.to_string(),
        "field `priority` may be changed outside its step only by `lead`"
    );
    let error = case.refuse(
        &lea(),
        Action::UpdateFields {
            fields: fields(json!({ "score": 5 })),
        },
    );
    assert!(
        matches!(&error, CommandError::FieldNotEditable { field, action: "update_fields", editable_by, .. }
            if field.as_str() == "score" && editable_by.is_empty()),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "field `score` is collected by step `solve` (role `agent`) and may not be changed outside it"
    );
    // One field the actor may not write refuses the whole command.
    let error = case.refuse(
        &lea(),
        Action::UpdateFields {
            fields: fields(json!({ "priority": "High", "email": "ada@example.com" })),
        },
    );
    assert!(
        matches!(error, CommandError::FieldNotEditable { .. }),
        "{error}"
    );
    // The lead re-prioritises; an agent completing a step may also write a field her role
    // may edit at any time.
    let events = case.update(&lea(), fields(json!({ "priority": "High" })));
    assert_eq!(kinds(&events), ["fields_updated"]);
    case.complete(
        "answer",
        &ana(),
        fields(json!({ "name": "Ada", "issue": "refund" })),
    );
    assert_eq!(
        case.state.fields()[&"priority".parse().unwrap()],
        FieldValue::Text("High".into())
    );
    case.assert_replays();
}

#[test]
fn start_sets_only_intake_fields_and_the_starters_own() {
    let process = sop(SLA);
    // `email` is collected by `answer`: the case may not start with it set.
    let error = Case::new(&process).refuse(
        &ana(),
        Action::Start {
            case: "T-1".into(),
            fields: fields(json!({ "email": "ada@example.com" })),
        },
    );
    assert_eq!(
        error.to_string(),
        "field `email` is collected by step `answer` (role `agent`); a case cannot start with it set"
    );
    // `reply_by` no step collects (intake data); `name` the lead may edit at any time.
    let case = Case::start(
        &process,
        &lea(),
        fields(json!({ "reply_by": "2026-02-01", "name": "Ada" })),
    );
    assert_eq!(
        case.state.fields()[&"name".parse().unwrap()],
        FieldValue::Text("Ada".into())
    );
}
