//! Exact figures on a dozen hand-built cases, each computed on paper (see the comments).

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Europe::Berlin;

use super::*;
use crate::engine::{self, Action, Actor, CaseState, Command, Event, FieldValues};

/// Support hours 09:00–17:00 Berlin, Monday to Friday. The first response is due within
/// an hour of support time; a performer may escalate it to the lead, who sends the case
/// on to the two parallel checks; `solve` collects the survey and ends the case.
const DESK: &str = "
id: desk
version: 1
title: Desk
department: Support
roles: { agent: Agent, lead: Lead }
calendars:
  office: { zone: Europe/Berlin, hours: { mon-fri: ['09:00-17:00'] } }
calendar: office
fields:
  priority: { type: choice, options: [High, Low], default: Low, editable_by: [lead] }
  csat: { type: integer, min: 1, max: 5 }
  nps: { type: integer, min: 0, max: 10 }
kpis:
  first_response: { from: opened, to: { completed: receive }, target: 1h, goal: 80% }
  resolution: { from: opened, to: closed }
  csat: { mean: csat, target: 4 }
  nps: { nps: nps, target: 30 }
  response_sla: { sla: steps, goal: 90% }
  escalation: { rate: escalated, at_most: 10% }
  reopened: { rate: reopened }
steps:
  - { id: receive, title: Receive, role: agent, due: 1h, on_escalate: lead_review }
  - { id: checks, parallel: [check_a, check_b], join: solve }
  - { id: check_a, title: Check A, role: agent, next: solve }
  - { id: check_b, title: Check B, role: agent, next: solve }
  - { id: solve, title: Solve, role: agent, collects: [csat, nps], end: true }
  - { id: lead_review, title: Lead review, role: lead, next: checks }
";

fn desk() -> Process {
    let sop = crate::parse::parse_sop("desk.yaml", DESK).unwrap();
    let compilation = crate::graph::compile(&sop);
    compilation
        .process
        .unwrap_or_else(|| panic!("{:?}", compilation.diagnostics))
}

/// A local time in Berlin.
fn berlin(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(2026, 3, day, hour, minute, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn step(name: &str) -> crate::model::StepId {
    name.parse().unwrap()
}

fn agent() -> Actor {
    Actor::new("ana", ["agent".parse().unwrap()])
}

fn lead() -> Actor {
    Actor::new("lee", ["lead".parse().unwrap(), "agent".parse().unwrap()])
}

fn complete(name: &str) -> Action {
    Action::Complete {
        step: step(name),
        fields: FieldValues::new(),
        item: None,
    }
}

fn survey(csat: i64, nps: i64) -> Action {
    Action::Complete {
        step: step("solve"),
        fields: FieldValues::from([
            ("csat".parse().unwrap(), csat.into()),
            ("nps".parse().unwrap(), nps.into()),
        ]),
        item: None,
    }
}

/// Runs a case: `(minutes after opening, actor, action)`, after a start at `opened`.
fn case(
    process: &Process,
    id: &str,
    opened: DateTime<Utc>,
    priority: &str,
    script: Vec<(i64, Actor, Action)>,
) -> Vec<Event> {
    let mut state = CaseState::new();
    let mut log = Vec::new();
    let start = Action::Start {
        case: id.into(),
        fields: FieldValues::from([("priority".parse().unwrap(), priority.into())]),
    };
    for (n, (minutes, actor, action)) in std::iter::once((0, agent(), start))
        .chain(script)
        .enumerate()
    {
        let command = Command::new(format!("{id}-{n}"), actor, action);
        let events = engine::handle(
            process,
            &state,
            command,
            opened + Duration::minutes(minutes),
        )
        .unwrap_or_else(|e| panic!("{id}, command {n}: {e}"));
        for event in events {
            state.apply(&event);
            log.push(event);
        }
    }
    log
}

/// The happy path: receive, both checks, solve with the survey, at these minutes.
fn happy(
    receive: i64,
    a: i64,
    b: i64,
    solve: i64,
    csat: i64,
    nps: i64,
) -> Vec<(i64, Actor, Action)> {
    vec![
        (receive, agent(), complete("receive")),
        (a, agent(), complete("check_a")),
        (b, agent(), complete("check_b")),
        (solve, agent(), survey(csat, nps)),
    ]
}

/// The twelve cases. Openings are in the week of Monday 23 March 2026 unless said; Berlin
/// moves to summer time on Sunday 29 March at 02:00.
fn twelve(process: &Process) -> Vec<Vec<Event>> {
    let mut claim_then_happy = vec![(
        10,
        agent(),
        Action::Claim {
            step: step("receive"),
            item: None,
        },
    )];
    claim_then_happy.extend(happy(30, 40, 50, 60, 5, 10));
    vec![
        // T-1: claimed after 10 min, responded at 30, closed at 60.
        case(process, "T-1", berlin(23, 9, 0), "Low", claim_then_happy),
        // T-2: the response comes at 90 min; the tick at 61 breaches its SLA.
        case(process, "T-2", berlin(23, 10, 0), "Low", {
            let mut script = vec![(61, agent(), Action::Tick)];
            script.extend(happy(90, 100, 110, 120, 3, 6));
            script
        }),
        // T-3: High, responded at 20, closed at 50.
        case(
            process,
            "T-3",
            berlin(24, 9, 0),
            "High",
            happy(20, 30, 40, 50, 4, 8),
        ),
        // T-4: High, escalated at 15 (no response), the lead sends it on at 45, closed at 80.
        case(
            process,
            "T-4",
            berlin(24, 11, 0),
            "High",
            vec![
                (
                    15,
                    agent(),
                    Action::Escalate {
                        step: step("receive"),
                        reason: "billing".into(),
                        item: None,
                    },
                ),
                (45, lead(), complete("lead_review")),
                (60, agent(), complete("check_a")),
                (70, agent(), complete("check_b")),
                (80, agent(), survey(2, 3)),
            ],
        ),
        // T-5: open, responded at 20, one check done at 30.
        case(
            process,
            "T-5",
            berlin(25, 9, 0),
            "Low",
            vec![
                (20, agent(), complete("receive")),
                (30, agent(), complete("check_a")),
            ],
        ),
        // T-6: open, nothing done yet.
        case(process, "T-6", berlin(25, 12, 0), "Low", vec![]),
        // T-7: closed at 40, reopened at 100 (solve again), closed again at 130.
        case(process, "T-7", berlin(26, 9, 0), "Low", {
            let mut script = happy(10, 20, 30, 40, 4, 9);
            script.push((
                100,
                agent(),
                Action::Reopen {
                    reason: "still broken".into(),
                },
            ));
            script.push((130, agent(), survey(4, 9)));
            script
        }),
        // T-8: opened Low, the lead raises it to High at 5; closed at 45.
        case(process, "T-8", berlin(26, 10, 0), "Low", {
            let mut script = vec![(
                5,
                lead(),
                Action::UpdateFields {
                    fields: FieldValues::from([("priority".parse().unwrap(), "High".into())]),
                },
            )];
            script.extend(happy(15, 25, 35, 45, 5, 10));
            script
        }),
        // T-9: responded at 10, cancelled at 20.
        case(
            process,
            "T-9",
            berlin(27, 9, 0),
            "Low",
            vec![
                (10, agent(), complete("receive")),
                (
                    20,
                    agent(),
                    Action::Cancel {
                        reason: "duplicate".into(),
                    },
                ),
            ],
        ),
        // T-10: across the change to summer time: opened Friday 16:30 (UTC+1), answered
        // Monday 09:15 (UTC+2), closed Monday 10:00.
        case(process, "T-10", berlin(27, 16, 30), "Low", {
            let monday = |h: u32, m: u32| (berlin(30, h, m) - berlin(27, 16, 30)).num_minutes();
            happy(
                monday(9, 15),
                monday(9, 30),
                monday(9, 45),
                monday(10, 0),
                4,
                7,
            )
        }),
        // T-11: Sunday 23:30 in Berlin (still the week of the 23rd there), answered Monday.
        case(process, "T-11", berlin(29, 23, 30), "Low", {
            let monday = |h: u32, m: u32| (berlin(30, h, m) - berlin(29, 23, 30)).num_minutes();
            happy(
                monday(9, 20),
                monday(9, 30),
                monday(9, 40),
                monday(9, 50),
                4,
                7,
            )
        }),
        // T-12: Monday 00:30 in Berlin (Sunday 22:30 UTC): the week of the 30th in Berlin.
        case(process, "T-12", berlin(30, 0, 30), "Low", {
            let later = |h: u32, m: u32| (berlin(30, h, m) - berlin(30, 0, 30)).num_minutes();
            happy(
                later(9, 10),
                later(9, 20),
                later(9, 30),
                later(9, 40),
                3,
                10,
            )
        }),
    ]
}

fn report(options: Options) -> Report {
    let process = desk();
    let mut metrics = Accumulator::new(process.id().clone(), options);
    for history in twelve(&process) {
        metrics.push(&process, &history).unwrap();
    }
    metrics.finish()
}

fn kpi<'r>(group: &'r GroupReport, id: &str) -> &'r KpiResult {
    group.kpis.iter().find(|k| k.id.as_str() == id).unwrap()
}

const MIN: f64 = 60.0;

#[test]
fn counts_every_case_and_censors_the_open_ones() {
    let report = report(Options::default());
    let total = &report.versions[0].total;
    // Closed: 1, 2, 3, 4, 7, 8, 10, 11, 12. Open: 5, 6. Cancelled: 9.
    assert_eq!(
        (total.cases, total.closed, total.open, total.cancelled),
        (12, 9, 2, 1)
    );
    assert!(report.versions[0].groups.is_empty());
    assert_eq!(report.zone, "Europe/Berlin");
}

#[test]
fn first_response_in_wall_clock_and_working_time() {
    let report = report(Options::default());
    let KpiValue::Duration {
        times,
        within_target,
        share_within_target,
        censored,
        not_reached,
    } = &kpi(&report.versions[0].total, "first_response").value
    else {
        panic!("a duration")
    };
    // Responses (wall): T-1 30m, T-2 90m, T-3 20m, T-5 20m, T-7 10m, T-8 15m, T-9 10m,
    // T-10 Fri 16:30 → Mon 09:15 (63h45m across the change of clocks, not 64h45m),
    // T-11 Sun 23:30 → Mon 09:20 (9h50m), T-12 Mon 00:30 → 09:10 (8h40m): ten.
    assert_eq!(times.count, 10);
    // Sorted: 10, 10, 15, 20, 20, 30, 90, 520, 590, 3825 min → median (20 + 30) / 2.
    assert_eq!(times.median_secs, Some(25.0 * MIN));
    assert_eq!(times.p90_secs, Some(590.0 * MIN));
    // Working time: the same for the day-time ones; T-10 30m on Friday + 15m on Monday,
    // T-11 20m, T-12 10m. Sorted: 10, 10, 10, 15, 20, 20, 20, 30, 45, 90 → 20.
    assert_eq!(times.working_median_secs, Some(20.0 * MIN));
    // Within an hour of support time: all but T-2.
    assert_eq!((*within_target, *share_within_target), (Some(9), Some(0.9)));
    // T-6 is open and waiting; T-4 was escalated and finished without a response.
    assert_eq!((*censored, *not_reached), (1, 1));
    assert_eq!(
        kpi(&report.versions[0].total, "first_response").met,
        Some(true)
    );
}

#[test]
fn resolution_counts_the_last_close_and_the_clock_change() {
    let report = report(Options::default());
    let total = &report.versions[0].total;
    // Closed (wall, opened → last close): T-1 60m, T-2 120m, T-3 50m, T-4 80m, T-7 130m
    // (reopened), T-8 45m, T-10 Fri 16:30 → Mon 10:00 = 64h30m, T-11 10h20m,
    // T-12 9h10m. Sorted: 45, 50, 60, 80, 120, 130, 550, 620, 3870 min.
    assert_eq!(total.resolution.count, 9);
    assert_eq!(total.resolution.median_secs, Some(120.0 * MIN));
    // Working: T-10 30m + 60m = 90m, T-11 50m, T-12 40m:
    // 40, 45, 50, 50, 60, 80, 90, 120, 130 → 60.
    assert_eq!(total.resolution.working_median_secs, Some(60.0 * MIN));
    let KpiValue::Duration {
        times,
        censored,
        not_reached,
        within_target,
        ..
    } = &kpi(total, "resolution").value
    else {
        panic!("a duration")
    };
    assert_eq!(times.median_secs, Some(120.0 * MIN));
    // No target: nothing is within it. Open T-5, T-6 censored; cancelled T-9 not reached.
    assert_eq!((*within_target, *censored, *not_reached), (None, 2, 1));
}

#[test]
fn survey_kpis() {
    let report = report(Options::default());
    let total = &report.versions[0].total;
    // CSAT of the nine closed cases: 5, 3, 4, 2, 4, 5, 4, 4, 3 = 34 / 9.
    let KpiValue::Mean { responses, mean } = kpi(total, "csat").value else {
        panic!()
    };
    assert_eq!(responses, 9);
    assert!((mean.unwrap() - 34.0 / 9.0).abs() < 1e-12);
    assert_eq!(kpi(total, "csat").met, Some(false));
    // NPS: 10, 6, 8, 3, 9, 10, 7, 7, 10 → promoters 4 (10, 9, 10, 10), passives 3,
    // detractors 2: (4 − 2) / 9 = 22.2.
    let KpiValue::Nps {
        responses,
        promoters,
        passives,
        detractors,
        score,
    } = kpi(total, "nps").value
    else {
        panic!()
    };
    assert_eq!((responses, promoters, passives, detractors), (9, 4, 3, 2));
    assert!((score.unwrap() - 200.0 / 9.0).abs() < 1e-12);
    assert_eq!(kpi(total, "nps").met, Some(false));
}

#[test]
fn sla_escalation_and_reopen_rates() {
    let report = report(Options::default());
    let total = &report.versions[0].total;
    // `receive` has a due time, activated once in each of the twelve cases: breached in
    // T-2; still running in T-6; the other ten ended without a breach (T-4 escalated).
    let KpiValue::Sla {
        met,
        breached,
        censored,
        share,
    } = kpi(total, "response_sla").value
    else {
        panic!()
    };
    assert_eq!((met, breached, censored), (10, 1, 1));
    assert_eq!(share, Some(10.0 / 11.0));
    assert_eq!(kpi(total, "response_sla").met, Some(true));
    // One escalation (T-4) among the ten finished cases; T-5 and T-6 are open.
    let KpiValue::Rate {
        took,
        cases,
        censored,
        share,
    } = kpi(total, "escalation").value
    else {
        panic!()
    };
    assert_eq!((took, cases, censored, share), (1, 10, 2, Some(0.1)));
    assert_eq!(kpi(total, "escalation").met, Some(true));
    let KpiValue::Rate { took, .. } = kpi(total, "reopened").value else {
        panic!()
    };
    assert_eq!(took, 1);
}

#[test]
fn steps_waiting_working_rework_and_breaches() {
    let report = report(Options::default());
    let version = &report.versions[0];
    let receive = version
        .steps
        .iter()
        .find(|s| s.step.as_str() == "receive")
        .unwrap();
    assert_eq!(
        (receive.activations, receive.with_due, receive.breached),
        (12, 12, 1)
    );
    assert_eq!(receive.breach_rate, Some(1.0 / 12.0));
    assert_eq!(receive.still_active, 1);
    // Only T-1 claimed it (after 10 min) and worked 20 min on it.
    assert_eq!(receive.working.count, 1);
    assert_eq!(receive.working.median_secs, Some(20.0 * MIN));
    // Waiting: T-1 10m, and the response times of the nine others completed.
    assert_eq!(receive.waiting.count, 10);
    let solve = version
        .steps
        .iter()
        .find(|s| s.step.as_str() == "solve")
        .unwrap();
    // Solve: once in each of the nine closed cases and twice in T-7.
    assert_eq!(
        (solve.activations, solve.cases, solve.reworked_cases),
        (10, 9, 1)
    );
    assert_eq!(solve.rework_activations, 1);
    let check_b = version
        .steps
        .iter()
        .find(|s| s.step.as_str() == "check_b")
        .unwrap();
    // T-5 is open with check_b active; T-9's was withdrawn by the cancel.
    assert_eq!((check_b.activations, check_b.still_active), (11, 1));
}

#[test]
fn edges_of_parallel_branches_and_the_escalation() {
    let report = report(Options::default());
    let version = &report.versions[0];
    let edge = |from: &str, to: &str| {
        version
            .edges
            .iter()
            .find(|e| e.from == from && e.to == to)
            .map(|e| (e.taken, e.cases))
    };
    assert_eq!(edge("start", "receive"), Some((12, 12)));
    assert_eq!(edge("receive", "lead_review"), Some((1, 1)));
    // Into the split: from receive in the ten cases that responded (T-9 too, cancelled
    // during the checks), from the lead in T-4. Both branches start in each of those 11.
    assert_eq!(edge("receive", "checks"), Some((10, 10)));
    assert_eq!(edge("lead_review", "checks"), Some((1, 1)));
    assert_eq!(edge("checks", "check_a"), Some((11, 11)));
    assert_eq!(edge("checks", "check_b"), Some((11, 11)));
    // Both branches arrive at the join in the nine closed cases; check_a also in T-5.
    assert_eq!(edge("check_a", "join of checks"), Some((10, 10)));
    assert_eq!(edge("check_b", "join of checks"), Some((9, 9)));
    // Solve ends the case ten times: twice in T-7.
    assert_eq!(edge("solve", "end"), Some((10, 9)));
}

#[test]
fn variants_of_closed_cases() {
    let report = report(Options::default());
    let version = &report.versions[0];
    // Nine closed: the plain path seven times (1, 2, 3, 8, 10, 11, 12), T-4 via the lead,
    // T-7 with solve twice.
    assert_eq!(version.variant_cases, 9);
    let top = &version.variants[0];
    let names: Vec<&str> = top.steps.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["receive", "check_a", "check_b", "solve"]);
    assert_eq!(top.cases, 7);
    // 45, 50, 60, 120, 550, 620, 3870 min → 120.
    assert_eq!(top.duration.median_secs, Some(120.0 * MIN));
    assert_eq!(version.variants.len(), 3);
}

#[test]
fn weeks_in_the_sops_zone() {
    let report = report(Options {
        period: Some(Period::Week),
        ..Options::default()
    });
    let groups = &report.versions[0].groups;
    let weeks: Vec<(String, u64)> = groups
        .iter()
        .map(|g| (g.period.unwrap().to_string(), g.cases))
        .collect();
    // T-11 (Sunday 23:30 Berlin) is in the first week, T-12 (Monday 00:30 Berlin, still
    // Sunday in UTC) in the second.
    assert_eq!(
        weeks,
        [("2026-03-23".to_owned(), 11), ("2026-03-30".to_owned(), 1)]
    );
    let KpiValue::Duration { times, .. } = &kpi(&groups[1], "first_response").value else {
        panic!()
    };
    assert_eq!(times.median_secs, Some(520.0 * MIN));
}

#[test]
fn segments_by_the_value_at_the_end() {
    let report = report(Options {
        segment: Some("priority".parse().unwrap()),
        ..Options::default()
    });
    let groups = &report.versions[0].groups;
    let segments: Vec<(Option<&str>, u64)> = groups
        .iter()
        .map(|g| (g.segment.as_deref(), g.cases))
        .collect();
    // High: T-3, T-4 and T-8 (raised from Low).
    assert_eq!(segments, [(Some("High"), 3), (Some("Low"), 9)]);
    let KpiValue::Rate { took, cases, .. } = kpi(&groups[0], "escalation").value else {
        panic!()
    };
    assert_eq!((took, cases), (1, 3));
}

#[test]
fn since_and_until_select_by_opening() {
    let report = report(Options {
        since: Some(berlin(24, 0, 0)),
        until: Some(berlin(27, 0, 0)),
        ..Options::default()
    });
    // T-3 to T-8.
    assert_eq!(report.versions[0].total.cases, 6);
    assert_eq!(report.skipped, 6);
}

#[test]
fn a_segment_must_be_a_choice_field() {
    let process = desk();
    let mut metrics = Accumulator::new(
        process.id().clone(),
        Options {
            segment: Some("csat".parse().unwrap()),
            ..Options::default()
        },
    );
    let history = &twelve(&process)[0];
    let error = metrics.push(&process, history).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot segment by `csat`: it is an integer field, and segments are the options of a choice field; its choice fields are `priority`"
    );
}

#[test]
fn refuses_a_case_of_another_sop() {
    let process = desk();
    let mut metrics = Accumulator::new("other".parse().unwrap(), Options::default());
    let error = metrics.push(&process, &twelve(&process)[0]).unwrap_err();
    assert!(matches!(error, MetricsError::OtherSop { .. }), "{error}");
    assert_eq!(metrics.push(&process, &[]), Err(MetricsError::NotStarted));
}

/// Every case read from its events, encoded, decoded and pushed as kept facts.
fn through_kept_facts(process: &Process, cases: &[Vec<Event>], options: Options) -> Report {
    let mut metrics = Accumulator::new(process.id().clone(), options);
    for events in cases {
        let facts = CaseFacts::read(process, events).unwrap();
        let text = facts.encode().unwrap();
        let kept = CaseFacts::decode(process, FACTS_FORMAT, &text).unwrap();
        assert_eq!(kept, facts);
        metrics.push_facts(process, &kept).unwrap();
    }
    metrics.finish()
}

#[test]
fn kept_facts_of_the_twelve_give_their_report() {
    let process = desk();
    let cases = twelve(&process);
    let options = Options {
        period: Some(Period::Week),
        segment: Some("priority".parse().unwrap()),
        ..Options::default()
    };
    let mut from_events = Accumulator::new(process.id().clone(), options.clone());
    for events in &cases {
        from_events.push(&process, events).unwrap();
    }
    assert_eq!(
        through_kept_facts(&process, &cases, options),
        from_events.finish()
    );
}

#[test]
fn kept_facts_keep_times_to_the_nanosecond() {
    let process = desk();
    let opened = berlin(23, 9, 0) + Duration::nanoseconds(123_456_789);
    let events = case(&process, "N-1", opened, "High", happy(1, 2, 3, 4, 5, 9));
    let mut facts = CaseFacts::read(&process, &events).unwrap();
    let kept = CaseFacts::decode(&process, FACTS_FORMAT, &facts.encode().unwrap()).unwrap();
    assert_eq!(kept, facts);
    // Times a whole number of nanoseconds apart, and before the opening.
    facts.activations[0].claimed = Some(opened + Duration::nanoseconds(1));
    facts.activations[1].ended = Some(opened - Duration::milliseconds(3));
    let text = facts.encode().unwrap();
    assert!(text.contains("\"u\":1,"), "{text}");
    assert_eq!(
        CaseFacts::decode(&process, FACTS_FORMAT, &text),
        Some(facts.clone())
    );
    // Too far apart to count in nanoseconds: no kept facts, the events are read.
    facts.closed = Some(opened + Duration::days(365 * 300));
    assert_eq!(facts.encode(), None);
}

#[test]
fn kept_facts_that_do_not_fit_are_not_read() {
    let process = desk();
    let events = case(
        &process,
        "K-1",
        berlin(23, 9, 0),
        "Low",
        happy(5, 6, 7, 8, 4, 8),
    );
    let text = CaseFacts::read(&process, &events)
        .unwrap()
        .encode()
        .unwrap();
    assert!(CaseFacts::decode(&process, FACTS_FORMAT, &text).is_some());
    assert!(CaseFacts::decode(&process, FACTS_FORMAT + 1, &text).is_none());
    assert!(CaseFacts::decode(&process, FACTS_FORMAT, "{}").is_none());
    assert!(CaseFacts::decode(&process, FACTS_FORMAT, &text[..text.len() - 1]).is_none());

    let v2 =
        crate::parse::parse_sop("desk.yaml", &DESK.replace("version: 1", "version: 2")).unwrap();
    let v2 = crate::graph::compile(&v2).process.unwrap();
    assert!(CaseFacts::decode(&v2, FACTS_FORMAT, &text).is_none());

    // An edge from a node the process does not have.
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["w"][0][0] = serde_json::json!(9_999);
    assert!(CaseFacts::decode(&process, FACTS_FORMAT, &json.to_string()).is_none());
}
