//! Service levels as the engine runs them: working-time calendars, a due time per
//! priority, warnings, escalation ladders, the case's own SLA, pausing and postponing, and
//! the notifications they call for.
//!
//! The fixture's calendar is Monday to Friday, 09:00 to 17:00 in Berlin (UTC+1 in January),
//! so 09:00 there is 08:00 UTC.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{Case, actor, clock, fields, kinds, no_fields, sop_yaml};
use serde_json::json;
use sopflow::engine::{
    self, Action, CaseState, CommandError, EventKind, NotificationKind, Recipient,
};
use sopflow::model::RoleId;

const SLA_SOP: &str = r#"id: sla-patterns
version: 1
title: Service levels
department: Customer Service
calendars:
  office:
    zone: Europe/Berlin
    hours: { mon-fri: ["09:00-17:00"] }
    holidays: [2026-01-16]
calendar: office
roles: { agent: Support agent, lead: Team leader, manager: Support manager }
fields:
  priority: { type: choice, options: [High, Medium, Low], default: Medium, editable_by: [lead] }
  answer: { type: text }
sla:
  resolve_within: 3bd
  warn: 2h
  pausable: true
  overdue:
    - { notify: lead }
    - { after: 1bd, notify: manager }
steps:
  - id: respond
    title: Respond to the customer
    role: agent
    collects: [answer]
    due: { by: priority, High: 1h, Medium: 4h, Low: 1bd }
    warn: 30m
    pausable: true
    overdue:
      - { notify: lead }
      - { after: 2h, notify: manager }
      - { after: 4h, goto: takeover }
  - { id: close, title: Close the case, role: agent, end: true }
  - { id: takeover, title: The team leader takes over, role: lead, next: close }
"#;

/// A time in Berlin in January 2026 (UTC+1).
fn berlin(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, hour - 1, minute, 0)
        .single()
        .expect("a valid time")
}

fn agent() -> sopflow::engine::Actor {
    actor("ana", &["agent"])
}

fn lead() -> sopflow::engine::Actor {
    actor("lee", &["lead"])
}

/// A case of the fixture started at `at` with `priority`.
fn started(at: DateTime<Utc>, priority: &str) -> Case {
    let process = sop_yaml(SLA_SOP);
    let mut case = Case::new(&process);
    case.at(at);
    case.send(
        &agent(),
        Action::Start {
            case: "T-1".into(),
            fields: fields(json!({ "priority": priority })),
        },
    );
    case
}

fn respond(case: &Case) -> &sopflow::engine::ActiveStep {
    case.state
        .active_step(&"respond".parse().expect("a step id"))
        .expect("respond is active")
}

#[test]
fn a_due_time_counts_working_hours_across_the_weekend() {
    // Friday 15:00: two working hours on Friday, two on Monday.
    let case = started(berlin(9, 15, 0), "Medium");
    let respond = respond(&case);
    assert_eq!(respond.due_at, Some(berlin(12, 11, 0)));
    assert_eq!(respond.sla.warn_at, Some(berlin(12, 10, 30)));
    // The ladder counts working time after the due time: +2h, +4h.
    assert_eq!(
        respond.sla.levels,
        [berlin(12, 11, 0), berlin(12, 13, 0), berlin(12, 15, 0)]
    );
    case.assert_replays();
}

#[test]
fn a_warning_then_each_level_of_the_ladder_then_the_handover() {
    let mut case = started(berlin(12, 9, 0), "Medium");
    assert_eq!(case.state.next_timer(), Some(berlin(12, 12, 30)));
    assert!(case.tick(berlin(12, 12, 29)).is_empty());

    let warned = case.tick(berlin(12, 12, 30));
    assert_eq!(kinds(&warned), ["sla_warned"]);
    let breached = case.tick(berlin(12, 13, 0));
    assert_eq!(kinds(&breached), ["sla_breached", "sla_level_reached"]);
    assert!(matches!(
        &breached[1].kind,
        EventKind::SlaLevelReached { level: 1, notify: Some(role), escalated: false, .. } if role.as_str() == "lead"
    ));
    // Told, not taken: the agent still holds the work.
    assert_eq!(case.active(), ["respond"]);
    assert!(respond(&case).breached);

    let second = case.tick(berlin(12, 15, 0));
    assert!(matches!(
        &second[..],
        [event] if matches!(&event.kind, EventKind::SlaLevelReached { level: 2, notify: Some(role), .. } if role.as_str() == "manager")
    ));
    // 4 working hours after 13:00 on Monday is closing time, 17:00.
    assert_eq!(case.state.next_timer(), Some(berlin(12, 17, 0)));
    let handover = case.tick(berlin(12, 17, 0));
    assert_eq!(kinds(&handover), ["sla_level_reached", "step_activated"]);
    assert_eq!(case.active(), ["takeover"]);
    case.assert_replays();
}

#[test]
fn the_ladder_fires_in_order_when_a_tick_comes_late() {
    let mut case = started(berlin(12, 9, 0), "High");
    // Nobody ticked all day: one late tick records everything in the order it fell due.
    let late = case.tick(berlin(13, 12, 0));
    assert_eq!(
        kinds(&late),
        [
            "sla_warned",
            "sla_breached",
            "sla_level_reached",
            "sla_level_reached",
            "sla_level_reached",
            "step_activated",
        ]
    );
    assert_eq!(case.active(), ["takeover"]);
    case.assert_replays();
}

#[test]
fn raising_the_priority_moves_the_due_time_and_can_breach_at_once() {
    let mut case = started(berlin(12, 9, 0), "Medium");
    assert_eq!(respond(&case).due_at, Some(berlin(12, 13, 0)));
    case.at(berlin(12, 10, 30));
    let raised = case.update(&lead(), fields(json!({ "priority": "High" })));
    assert_eq!(kinds(&raised), ["fields_updated", "sla_rescheduled"]);
    // Counted again from when the step started: 09:00 + 1h.
    assert_eq!(respond(&case).due_at, Some(berlin(12, 10, 0)));
    let fired = case.tick(berlin(12, 10, 30));
    assert_eq!(
        kinds(&fired),
        ["sla_warned", "sla_breached", "sla_level_reached"]
    );

    // Lowering it again moves the ladder, but a breach stays a breach.
    case.at(berlin(12, 10, 45));
    case.update(&lead(), fields(json!({ "priority": "Low" })));
    let respond = respond(&case);
    assert!(respond.breached);
    assert_eq!(respond.due_at, Some(berlin(13, 9, 0)));
    case.assert_replays();
}

#[test]
fn a_pause_over_the_weekend_keeps_the_time_that_was_left() {
    // Friday 16:00, Medium (4h): due Monday 12:00.
    let mut case = started(berlin(9, 16, 0), "Medium");
    assert_eq!(respond(&case).due_at, Some(berlin(12, 12, 0)));
    case.at(berlin(9, 16, 30));
    case.send(
        &agent(),
        Action::Pause {
            reason: "waiting for the customer's logs".into(),
        },
    );
    assert!(case.state.is_paused());
    // Paused clocks do not fire, however late.
    assert_eq!(case.state.next_timer(), None);
    assert!(case.tick(berlin(12, 15, 0)).is_empty());

    // Resumed on Tuesday 10:00: 3.5 working hours were left.
    case.at(berlin(13, 10, 0));
    let resumed = case.send(&agent(), Action::Resume);
    assert_eq!(
        kinds(&resumed),
        ["case_resumed", "sla_rescheduled", "sla_rescheduled"]
    );
    let respond = respond(&case);
    assert_eq!(respond.due_at, Some(berlin(13, 13, 30)));
    assert_eq!(respond.sla.warn_at, Some(berlin(13, 13, 0)));
    // Held: Friday 16:30-17:00 and Monday 09:00-17:00 and Tuesday 09:00-10:00.
    assert_eq!(respond.sla.held_secs, (30 + 8 * 60 + 60) * 60);
    case.assert_replays();
}

#[test]
fn pausing_twice_or_resuming_what_is_not_paused_is_refused() {
    let mut case = started(berlin(12, 9, 0), "Medium");
    assert!(matches!(
        case.refuse(&agent(), Action::Resume),
        CommandError::NotPaused
    ));
    assert!(matches!(
        case.refuse(&agent(), Action::Pause { reason: " ".into() }),
        CommandError::ReasonRequired { action: "pause" }
    ));
    case.send(
        &agent(),
        Action::Pause {
            reason: "waiting".into(),
        },
    );
    let again = case.refuse(
        &agent(),
        Action::Pause {
            reason: "waiting".into(),
        },
    );
    assert!(matches!(again, CommandError::AlreadyPaused { .. }));
    assert!(again.to_string().contains("already paused"), "{again}");
}

#[test]
fn postponing_moves_the_sla_by_the_working_time_on_hold() {
    let mut case = started(berlin(12, 9, 0), "Medium");
    case.at(berlin(12, 10, 0));
    // On hold until Tuesday 10:00: 7 working hours on Monday, 1 on Tuesday.
    let postponed = case.postpone("respond", &agent(), berlin(13, 10, 0));
    assert_eq!(kinds(&postponed), ["step_postponed", "sla_rescheduled"]);
    let respond = respond(&case);
    assert_eq!(respond.due_at, Some(berlin(13, 13, 0)));
    assert_eq!(respond.sla.warn_at, Some(berlin(13, 12, 30)));
    case.assert_replays();
}

#[test]
fn the_case_sla_counts_business_days_and_notifies_its_ladder() {
    let mut case = started(berlin(12, 10, 0), "Low");
    let clock_state = case
        .state
        .case_clock()
        .expect("the case has an SLA")
        .clone();
    // Three business days from Monday 10:00 is Thursday 10:00; the warning comes two
    // working hours before, Wednesday 16:00.
    assert_eq!(clock_state.due_at, Some(berlin(15, 10, 0)));
    assert_eq!(clock_state.sla.warn_at, Some(berlin(14, 16, 0)));
    // Friday the 16th is a holiday: the next level a business day later is Monday.
    assert_eq!(
        clock_state.sla.levels,
        [berlin(15, 10, 0), berlin(19, 10, 0)]
    );
    // Keep the step out of the way.
    case.at(berlin(12, 10, 5));
    case.complete(
        "respond",
        &agent(),
        fields(json!({ "answer": "Restart it" })),
    );
    let warned = case.tick(berlin(14, 16, 0));
    assert!(matches!(
        &warned[0].kind,
        EventKind::SlaWarned {
            step: None,
            token: None
        }
    ));
    let breached = case.tick(berlin(15, 10, 0));
    assert_eq!(kinds(&breached), ["case_sla_breached", "sla_level_reached"]);
    assert!(case.state.case_clock().is_some_and(|c| c.breached));
    let second = case.tick(berlin(19, 10, 0));
    assert!(matches!(
        &second[0].kind,
        EventKind::SlaLevelReached { step: None, level: 2, notify: Some(role), .. } if role.as_str() == "manager"
    ));
    case.complete("close", &agent(), no_fields());
    case.assert_closed();
}

#[test]
fn notifications_follow_the_events() {
    let mut case = started(berlin(12, 9, 0), "Medium");
    case.at(berlin(12, 9, 5));
    // A dispatcher (an agent too) gives the work to ana.
    case.send(
        &actor("dan", &["agent", "lead"]),
        Action::Assign {
            step: "respond".parse().expect("a step id"),
            assignee: "ana".into(),
            item: None,
        },
    );
    case.tick(berlin(12, 13, 0));
    let everything = engine::notifications(&case.process, &CaseState::new(), &case.log);
    let told: Vec<(&Recipient, &NotificationKind)> =
        everything.iter().map(|n| (&n.to, &n.kind)).collect();
    let lead_role = Recipient::Role(RoleId::from_static("lead"));
    let ana = Recipient::Actor("ana".into());
    assert_eq!(
        told,
        [
            (
                &Recipient::Role(RoleId::from_static("agent")),
                &NotificationKind::WorkWaiting
            ),
            (&ana, &NotificationKind::WorkAssigned),
            (&ana, &NotificationKind::DueSoon),
            (&ana, &NotificationKind::Overdue),
            (&lead_role, &NotificationKind::Escalation { level: 1 }),
        ]
    );
    assert!(
        everything[2]
            .message
            .contains("T-1: step `respond` is due soon"),
        "{}",
        everything[2].message
    );
    // Claiming work for oneself tells nobody.
    let mut claimed = started(berlin(12, 9, 0), "Medium");
    let claim = claimed.claim("respond", &agent());
    assert!(engine::notifications(&claimed.process, &CaseState::new(), &claim).is_empty());
    let _ = clock();
}
