//! Every SOP in `sops/` driven end to end by the executor: its main path and each branch it
//! has, at fixed times, with the event log pinned in a snapshot (JSON lines, as stores
//! persist them, for the customer support main path; `describe` lines for the rest).
//!
//! A playbook says what each role does by default at each step; a test deviates from it
//! where its branch begins and lets the playbook finish the case. Every test ends with the
//! case closed and its log replaying to its live state.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{Case, actor, days, fields, hours, kinds, mins, no_fields, sop_file, step, t0};
use serde_json::{Value, json};
use sopflow::engine::{Action, Actor, CaseStatus, CommandError, EventKind};
use sopflow::graph::Process;

/// What a role does by default at each step of one SOP.
struct Playbook {
    process: Arc<Process>,
    starter: Actor,
    /// Step → (who, `Some(values)` to complete a task, `None` to approve a gate).
    moves: HashMap<&'static str, (Actor, Option<Value>)>,
}

impl Playbook {
    fn new(file: &str, starter: &Actor) -> Playbook {
        Playbook {
            process: sop_file(file),
            starter: starter.clone(),
            moves: HashMap::new(),
        }
    }

    fn task(mut self, step: &'static str, by: &Actor, values: Value) -> Playbook {
        self.moves.insert(step, (by.clone(), Some(values)));
        self
    }

    fn gate(mut self, step: &'static str, by: &Actor) -> Playbook {
        self.moves.insert(step, (by.clone(), None));
        self
    }

    /// A case started at `t0()`.
    fn start(&self) -> Case {
        Case::start(&self.process, &self.starter, no_fields())
    }

    /// Every process step that can be active has a default move.
    fn assert_covers_every_step(&self) {
        for (_, node) in self.process.nodes() {
            let is_work = matches!(
                node.kind,
                sopflow::graph::NodeKind::Task(_) | sopflow::graph::NodeKind::Approval(_)
            );
            if let (true, Some(step)) = (is_work, &node.step) {
                assert!(
                    self.moves.contains_key(step.as_str()),
                    "the playbook has no move for `{step}`"
                );
            }
        }
    }

    /// Ten minutes later, the default move on the oldest active step.
    #[track_caller]
    fn step_once(&self, case: &mut Case) {
        let current = case.active()[0].clone();
        let (by, values) = self
            .moves
            .get(current.as_str())
            .unwrap_or_else(|| panic!("the playbook has no move for `{current}`"));
        case.advance(mins(10));
        match values {
            Some(values) => case.complete(&current, by, fields(values.clone())),
            None => case.approve(&current, by),
        };
    }

    /// Default moves until `target` is the oldest active step.
    #[track_caller]
    fn run_until(&self, case: &mut Case, target: &str) {
        for _ in 0..100 {
            assert_eq!(case.status(), CaseStatus::Open, "closed before `{target}`");
            if case.active()[0] == target {
                return;
            }
            self.step_once(case);
        }
        panic!("`{target}` never became active");
    }

    /// Default moves until the case closes; then checks it is closed and replays.
    #[track_caller]
    fn run_to_end(&self, case: &mut Case) {
        for _ in 0..100 {
            if case.status() != CaseStatus::Open {
                break;
            }
            self.step_once(case);
        }
        case.assert_closed();
    }
}

/// The steps activated, in order: the path the case took.
fn path(case: &Case) -> String {
    case.log
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StepActivated { step, .. } => Some(step.to_string()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" > ")
}

fn decisions(case: &Case) -> Vec<String> {
    case.log
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::DecisionTaken { step, target, .. } => Some(format!("{step} > {target}")),
            _ => None,
        })
        .collect()
}

#[test]
fn every_sop_has_a_playbook() {
    let books = [
        complaint_resolution(),
        customer_service_playbook(),
        customer_service_process(),
        customer_support(),
        feedback_collection(),
        inquiry_handling(),
        ticket_handling(),
    ];
    let mut ids: Vec<String> = books.iter().map(|b| b.process.id().to_string()).collect();
    ids.sort();
    assert_eq!(
        ids.len(),
        common::seed_sop_files().len(),
        "a SOP without tests"
    );
    for book in &books {
        book.assert_covers_every_step();
    }
}

// ---------------------------------------------------------------------------------------
// customer-support-process.yaml

fn ana() -> Actor {
    actor("ana", &["support_agent"])
}
fn lea() -> Actor {
    actor("lea", &["team_leader"])
}
fn tom() -> Actor {
    actor("tom", &["team_leader"])
}
fn quinn() -> Actor {
    actor("quinn", &["qa_specialist"])
}
fn max() -> Actor {
    actor("max", &["qa_manager"])
}

fn customer_support() -> Playbook {
    Playbook::new("customer-support-process.yaml", &ana())
        .task(
            "receive",
            &ana(),
            json!({ "customer_name": "Ada Lovelace", "customer_email": "ada@example.com", "channel": "Email" }),
        )
        .task("identify", &ana(), json!({ "issue": "password reset e-mail never arrives" }))
        .task("assign", &lea(), json!({ "assignee": "ana" }))
        .task("review_history", &ana(), json!({ "history_summary": "two earlier tickets about e-mail delivery" }))
        .task("create_ticket", &ana(), json!({ "ticket_id": "T-1001", "priority": "Medium" }))
        .task(
            "research",
            &ana(),
            json!({ "research_sources": ["Knowledge Base", "Internal Documentation"], "research_findings": "the reset e-mail lands in spam" }),
        )
        .gate("verify_customer_info", &tom())
        .task("determine_solution", &ana(), json!({ "solution": "allow-list our sender and resend the reset e-mail" }))
        .task("communicate_solution", &ana(), json!({}))
        .task("follow_up", &ana(), json!({ "resolved": true }))
        .task("update_ticket", &ana(), json!({ "status": "In Progress", "priority": "Medium" }))
        .task("escalate", &ana(), json!({ "escalation_reason": "mail provider blocks our domain" }))
        .gate("approve_escalation", &lea())
        .task("coordinate_departments", &ana(), json!({ "departments": ["Engineering"] }))
        .task("prepare_report", &ana(), json!({ "interaction_report": "reset e-mail delivered after allow-listing" }))
        .task(
            "perform_qa",
            &quinn(),
            json!({ "qa_criteria_met": ["Communication", "Timeliness", "Accuracy"], "qa_notes": "clear and quick", "feedback_needed": false }),
        )
        .gate("approve_qa", &max())
        .task("close_ticket", &ana(), json!({ "status": "Closed", "closure_notes": "customer confirmed by e-mail" }))
        .task("give_feedback", &lea(), json!({ "team_member_feedback": "mention the spam folder first" }))
        .task("satisfaction_survey", &ana(), json!({ "csat": 5, "survey_comments": "fast and friendly" }))
        .task(
            "overdue_first_response",
            &lea(),
            json!({ "customer_name": "Ada Lovelace", "customer_email": "ada@example.com", "channel": "Phone" }),
        )
}

const SUPPORT_MAIN_PATH: &str = "receive > identify > assign > review_history > create_ticket > research > verify_customer_info > determine_solution > communicate_solution > follow_up > update_ticket > prepare_report > perform_qa > approve_qa > close_ticket > satisfaction_survey";

#[test]
fn customer_support_main_path() {
    let book = customer_support();
    let mut case = book.start();
    book.run_to_end(&mut case);
    assert_eq!(path(&case), SUPPORT_MAIN_PATH);
    assert_eq!(
        decisions(&case),
        [
            "resolution_found > prepare_report",
            "feedback_necessary > satisfaction_survey"
        ]
    );
    insta::assert_snapshot!("customer_support_main_path", case.json_lines());
}

#[test]
fn customer_support_rejected_verification_loops_back_to_receive() {
    let book = customer_support();
    let mut case = book.start();
    book.run_until(&mut case, "verify_customer_info");
    // ana received the communication: she may not verify it even as a team leader too.
    let ana_lead = actor("ana", &["support_agent", "team_leader"]);
    let error = case.refuse(
        &ana_lead,
        Action::Approve {
            step: step("verify_customer_info"),
            comment: None,
        },
    );
    assert!(
        matches!(&error, CommandError::ReviewsOwnWork { reviewed, .. } if reviewed.as_str() == "receive"),
        "{error:?}"
    );
    case.advance(mins(10));
    case.reject(
        "verify_customer_info",
        &tom(),
        "the e-mail address has a typo",
    );
    assert_eq!(case.active(), ["receive"]);
    // The first response SLA starts again with the new activation: its reminder comes
    // 45 working minutes later (all within support hours here).
    let receive = case
        .state
        .active_step(&step("receive"))
        .expect("receive is active");
    assert_eq!(receive.due_at, Some(case.now + hours(1)));
    assert_eq!(case.state.next_timer(), Some(case.now + mins(45)));
    case.advance(mins(10));
    case.complete(
        "receive",
        &ana(),
        fields(json!({ "customer_email": "ada.lovelace@example.com" })),
    );
    book.run_to_end(&mut case);
    assert!(path(&case).starts_with(
        "receive > identify > assign > review_history > create_ticket > research > verify_customer_info > receive > identify > assign"
    ));
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_support_receive_sla_breach_escalates_to_team_leader() {
    let book = customer_support();
    let mut case = book.start();
    // Monday 09:00 UTC is 10:00 in Berlin, within support hours: a reminder 15 minutes
    // before the hour, the team leader told at the hour, the work handed over half an
    // hour later.
    assert!(case.tick(t0() + mins(44)).is_empty());
    assert_eq!(kinds(&case.tick(t0() + mins(45))), ["sla_warned"]);
    let events = case.tick(t0() + hours(1));
    assert!(matches!(
        &events[0].kind,
        EventKind::SlaBreached { step, escalated: false, .. } if step.as_str() == "receive"
    ));
    assert!(matches!(
        &events[1].kind,
        EventKind::SlaLevelReached { level: 1, notify: Some(role), .. } if role.as_str() == "team_leader"
    ));
    assert_eq!(case.active(), ["receive"]);
    let events = case.tick(t0() + mins(90));
    assert!(matches!(
        &events[0].kind,
        EventKind::SlaLevelReached {
            level: 2,
            escalated: true,
            ..
        }
    ));
    assert_eq!(case.active(), ["overdue_first_response"]);
    // The agent's late answer no longer counts.
    let error = case.refuse(
        &ana(),
        Action::Complete {
            step: step("receive"),
            fields: no_fields(),
            item: None,
        },
    );
    assert!(
        matches!(error, CommandError::StepNotActive { .. }),
        "{error}"
    );
    // lea takes over the first response ...
    book.step_once(&mut case);
    assert_eq!(case.active(), ["identify"]);
    book.run_until(&mut case, "verify_customer_info");
    // ... and so may not verify it (four eyes); tom does.
    let error = case.refuse(
        &lea(),
        Action::Approve {
            step: step("verify_customer_info"),
            comment: None,
        },
    );
    assert!(
        matches!(&error, CommandError::ReviewsOwnWork { reviewed, .. } if reviewed.as_str() == "overdue_first_response"),
        "{error:?}"
    );
    book.run_to_end(&mut case);
    assert!(path(&case).starts_with("receive > overdue_first_response > identify"));
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_support_escalation_approved() {
    let book = customer_support();
    let mut case = book.start();
    book.run_until(&mut case, "research");
    case.advance(mins(10));
    case.escalate("research", &ana(), "needs a fix by the mail team");
    assert_eq!(case.active(), ["escalate"]);
    book.step_once(&mut case);
    assert_eq!(case.active(), ["approve_escalation"]);
    // ana escalated: even as a team leader she could not approve her own escalation.
    let error = case.refuse(
        &actor("ana", &["support_agent", "team_leader"]),
        Action::Approve {
            step: step("approve_escalation"),
            comment: None,
        },
    );
    assert!(
        matches!(error, CommandError::ReviewsOwnWork { .. }),
        "{error}"
    );
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "receive > identify > assign > review_history > create_ticket > research > escalate > approve_escalation > coordinate_departments > prepare_report > perform_qa > approve_qa > close_ticket > satisfaction_survey"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_support_escalation_rejected() {
    let book = customer_support();
    let mut case = book.start();
    book.run_until(&mut case, "research");
    case.advance(mins(10));
    case.escalate("research", &ana(), "needs a fix by the mail team");
    book.run_until(&mut case, "approve_escalation");
    case.advance(mins(10));
    case.reject(
        "approve_escalation",
        &lea(),
        "the knowledge base covers this; solve it in the team",
    );
    assert_eq!(case.active(), ["determine_solution"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "receive > identify > assign > review_history > create_ticket > research > escalate > approve_escalation > determine_solution > communicate_solution > follow_up > update_ticket > prepare_report > perform_qa > approve_qa > close_ticket > satisfaction_survey"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_support_unresolved_issue_is_escalated() {
    let book = customer_support();
    let mut case = book.start();
    book.run_until(&mut case, "follow_up");
    case.advance(days(1));
    case.complete("follow_up", &ana(), fields(json!({ "resolved": false })));
    book.run_to_end(&mut case);
    assert_eq!(
        decisions(&case),
        [
            "resolution_found > escalate",
            "feedback_necessary > satisfaction_survey"
        ]
    );
    assert!(path(&case).contains(
        "update_ticket > escalate > approve_escalation > coordinate_departments > prepare_report"
    ));
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_support_determine_solution_sla_breach_escalates() {
    let book = customer_support();
    let mut case = book.start();
    book.run_until(&mut case, "determine_solution");
    let due = case
        .state
        .active_step(&step("determine_solution"))
        .unwrap()
        .due_at
        .expect("determine_solution has an SLA");
    // Two business days: Monday to Wednesday, same time.
    assert_eq!(due, case.now + days(2));
    let events = case.tick(due);
    assert_eq!(kinds(&events), ["sla_breached", "step_activated"]);
    assert_eq!(case.active(), ["escalate"]);
    book.run_to_end(&mut case);
    assert!(path(&case).contains("determine_solution > escalate > approve_escalation"));
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_support_qa_rejection_loops_back() {
    let book = customer_support();
    let mut case = book.start();
    book.run_until(&mut case, "approve_qa");
    case.advance(mins(10));
    case.reject(
        "approve_qa",
        &max(),
        "rate timeliness against the 1 hour first response",
    );
    assert_eq!(case.active(), ["perform_qa"]);
    book.run_to_end(&mut case);
    assert!(
        path(&case).contains("perform_qa > approve_qa > perform_qa > approve_qa > close_ticket")
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_support_feedback_needed() {
    let book = customer_support();
    let mut case = book.start();
    book.run_until(&mut case, "perform_qa");
    case.advance(mins(10));
    case.complete(
        "perform_qa",
        &quinn(),
        fields(json!({ "qa_criteria_met": ["Accuracy"], "qa_notes": "answer came late", "feedback_needed": true })),
    );
    book.run_to_end(&mut case);
    assert_eq!(
        decisions(&case),
        [
            "resolution_found > prepare_report",
            "feedback_necessary > give_feedback"
        ]
    );
    assert!(path(&case).ends_with("close_ticket > give_feedback > satisfaction_survey"));
    insta::assert_snapshot!(case.describe_lines());
}

// ---------------------------------------------------------------------------------------
// complaint-resolution.yaml

fn cara() -> Actor {
    actor("cara", &["customer_service_representative"])
}
fn tess() -> Actor {
    actor("tess", &["technical_support_specialist"])
}
fn mona() -> Actor {
    actor("mona", &["customer_service_manager"])
}

fn complaint_resolution() -> Playbook {
    Playbook::new("complaint-resolution.yaml", &cara())
        .task(
            "listen",
            &cara(),
            json!({ "customer_name": "Grace Hopper", "complaint": "charged twice for one order", "complaint_area": "Billing" }),
        )
        .task("empathize", &cara(), json!({}))
        .task("investigate", &cara(), json!({ "findings": "a retried payment was captured twice" }))
        .task("investigate_technical", &tess(), json!({ "findings": "the app crashes on login with SSO" }))
        .task("provide_solution", &cara(), json!({ "solution": "refund the second charge" }))
        .task("ensure_satisfaction", &cara(), json!({ "customer_satisfied": true }))
        .task("record", &cara(), json!({ "resolution_record": "refunded; customer satisfied" }))
        .task("manager_review", &mona(), json!({ "manager_review_notes": "refund plus a voucher" }))
}

#[test]
fn complaint_resolution_main_path() {
    let book = complaint_resolution();
    let mut case = book.start();
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "listen > empathize > investigate > provide_solution > ensure_satisfaction > record"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn complaint_resolution_technical_complaint() {
    let book = complaint_resolution();
    let mut case = book.start();
    case.advance(mins(10));
    case.complete(
        "listen",
        &cara(),
        fields(json!({ "customer_name": "Grace Hopper", "complaint": "cannot log in", "complaint_area": "Technical" })),
    );
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "listen > empathize > investigate_technical > provide_solution > ensure_satisfaction > record"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn complaint_resolution_unsatisfied_customer_goes_to_the_manager() {
    let book = complaint_resolution();
    let mut case = book.start();
    book.run_until(&mut case, "ensure_satisfaction");
    case.advance(mins(10));
    case.complete(
        "ensure_satisfaction",
        &cara(),
        fields(json!({ "customer_satisfied": false })),
    );
    assert_eq!(case.active(), ["manager_review"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "listen > empathize > investigate > provide_solution > ensure_satisfaction > manager_review > provide_solution > ensure_satisfaction > record"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn complaint_resolution_investigation_sla_breach() {
    let book = complaint_resolution();
    let mut case = book.start();
    book.run_until(&mut case, "investigate");
    let events = case.tick(case.now + days(2));
    assert_eq!(kinds(&events), ["sla_breached", "step_activated"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "listen > empathize > investigate > manager_review > provide_solution > ensure_satisfaction > record"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn complaint_resolution_technical_investigation_escalated() {
    let book = complaint_resolution();
    let mut case = book.start();
    case.complete(
        "listen",
        &cara(),
        fields(json!({ "customer_name": "Grace Hopper", "complaint": "cannot log in", "complaint_area": "Technical" })),
    );
    book.run_until(&mut case, "investigate_technical");
    case.advance(hours(3));
    case.escalate(
        "investigate_technical",
        &tess(),
        "needs a goodwill gesture only a manager can give",
    );
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "listen > empathize > investigate_technical > manager_review > provide_solution > ensure_satisfaction > record"
    );
    insta::assert_snapshot!(case.describe_lines());
}

// ---------------------------------------------------------------------------------------
// customer-service-playbook.yaml

fn agent() -> Actor {
    actor("ana", &["agent"])
}
fn eli() -> Actor {
    actor("eli", &["escalation_team"])
}
fn lead() -> Actor {
    actor("lea", &["team_lead"])
}

fn customer_service_playbook() -> Playbook {
    Playbook::new("customer-service-playbook.yaml", &agent())
        .task(
            "gather_information",
            &agent(),
            json!({ "customer_name": "Alan Turing", "contact_info": "alan@example.com", "description": "invoice shows the wrong plan" }),
        )
        .task(
            "create_ticket",
            &agent(),
            json!({ "documents": "invoice-2026-01.pdf", "category": "Billing", "priority": "Medium" }),
        )
        .task("assess_situation", &agent(), json!({ "needs_escalation": false }))
        .task("inform_customer_of_escalation", &agent(), json!({}))
        .task(
            "identify_escalation_path",
            &agent(),
            json!({ "escalation_path": "Specialized team or department" }),
        )
        .task("analyze_escalated", &eli(), json!({ "root_cause": "plan migration script" }))
        .task("analyze", &agent(), json!({ "root_cause": "plan not synced to billing" }))
        .task("develop_solution", &agent(), json!({ "solution": "re-sync the plan and reissue the invoice" }))
        .task("implement_solution", &agent(), json!({ "implementation_notes": "invoice reissued" }))
        .task("confirm_resolution", &agent(), json!({ "resolved": true }))
        .task("express_appreciation", &agent(), json!({ "customer_feedback": "thanks for the quick fix" }))
        .task("close_ticket", &agent(), json!({ "resolution_notes": "plan re-synced, invoice reissued" }))
        .task("share_feedback_internally", &lead(), json!({ "internal_feedback": "shared with billing" }))
        .task("post_resolution_analysis", &lead(), json!({ "improvement_actions": "add a plan sync check" }))
}

const PLAYBOOK_TAIL: &str = "develop_solution > implement_solution > confirm_resolution > express_appreciation > close_ticket > share_feedback_internally > post_resolution_analysis";

#[test]
fn customer_service_playbook_main_path() {
    let book = customer_service_playbook();
    let mut case = book.start();
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        format!(
            "gather_information > create_ticket > assess_situation > analyze > {PLAYBOOK_TAIL}"
        )
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_service_playbook_priorities() {
    let book = customer_service_playbook();
    // One analysis step; the priority sets when it is due.
    for (priority, due) in [("High", hours(4)), ("Low", days(3))] {
        let mut case = book.start();
        book.run_until(&mut case, "create_ticket");
        case.complete(
            "create_ticket",
            &agent(),
            fields(json!({ "category": "Technical Support", "priority": priority })),
        );
        book.run_until(&mut case, "analyze");
        let analyze = case
            .state
            .active_step(&step("analyze"))
            .expect("analyze is active");
        assert_eq!(analyze.due_at, Some(analyze.since + due), "{priority}");
        book.run_to_end(&mut case);
        assert_eq!(
            path(&case),
            format!(
                "gather_information > create_ticket > assess_situation > analyze > {PLAYBOOK_TAIL}"
            )
        );
        insta::assert_snapshot!(
            format!(
                "customer_service_playbook_priority_{}",
                priority.to_lowercase()
            ),
            case.describe_lines()
        );
    }
}

#[test]
fn customer_service_playbook_escalation() {
    let book = customer_service_playbook();
    let mut case = book.start();
    book.run_until(&mut case, "assess_situation");
    case.complete(
        "assess_situation",
        &agent(),
        fields(json!({ "needs_escalation": true })),
    );
    // Only the escalation team analyzes an escalated issue.
    book.run_until(&mut case, "analyze_escalated");
    let error = case.refuse(
        &agent(),
        Action::Complete {
            step: step("analyze_escalated"),
            fields: fields(json!({ "root_cause": "guess" })),
            item: None,
        },
    );
    assert!(
        matches!(&error, CommandError::NotAuthorized { role, .. } if role.as_str() == "escalation_team"),
        "{error:?}"
    );
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        format!(
            "gather_information > create_ticket > assess_situation > inform_customer_of_escalation > identify_escalation_path > analyze_escalated > {PLAYBOOK_TAIL}"
        )
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_service_playbook_unresolved_problem_is_reassessed() {
    let book = customer_service_playbook();
    let mut case = book.start();
    book.run_until(&mut case, "confirm_resolution");
    case.complete(
        "confirm_resolution",
        &agent(),
        fields(json!({ "resolved": false })),
    );
    assert_eq!(case.active(), ["assess_situation"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        format!(
            "gather_information > create_ticket > assess_situation > analyze > develop_solution > implement_solution > confirm_resolution > assess_situation > analyze > {PLAYBOOK_TAIL}"
        )
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_service_playbook_analysis_sla_breach() {
    let book = customer_service_playbook();
    let mut case = book.start();
    book.run_until(&mut case, "create_ticket");
    case.complete(
        "create_ticket",
        &agent(),
        fields(json!({ "category": "Technical Support", "priority": "High" })),
    );
    book.run_until(&mut case, "analyze");
    let events = case.tick(case.now + hours(4));
    assert_eq!(kinds(&events), ["sla_breached", "step_activated"]);
    assert_eq!(case.active(), ["inform_customer_of_escalation"]);
    book.run_to_end(&mut case);
    assert!(path(&case).contains(
        "analyze > inform_customer_of_escalation > identify_escalation_path > analyze_escalated"
    ));
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_service_playbook_raised_priority_breaches_at_once() {
    let book = customer_service_playbook();
    let mut case = book.start();
    book.run_until(&mut case, "analyze");
    // Medium: due in a day. Five hours in, the team lead raises it to High (4h).
    let started = case.now;
    assert_eq!(
        case.state
            .active_step(&step("analyze"))
            .and_then(|a| a.due_at),
        Some(started + days(1))
    );
    case.advance(hours(5));
    let raised = case.update(&lead(), fields(json!({ "priority": "High" })));
    assert_eq!(kinds(&raised), ["fields_updated", "sla_rescheduled"]);
    assert_eq!(
        case.state
            .active_step(&step("analyze"))
            .and_then(|a| a.due_at),
        Some(started + hours(4))
    );
    let events = case.tick(case.now);
    assert_eq!(kinds(&events), ["sla_breached", "step_activated"]);
    assert_eq!(case.active(), ["inform_customer_of_escalation"]);
    case.assert_replays();
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_service_playbook_analysis_escalated() {
    let book = customer_service_playbook();
    let mut case = book.start();
    book.run_until(&mut case, "create_ticket");
    case.complete(
        "create_ticket",
        &agent(),
        fields(json!({ "category": "General Question", "priority": "Low" })),
    );
    book.run_until(&mut case, "analyze");
    case.advance(days(1));
    case.escalate("analyze", &agent(), "customer threatens to cancel");
    book.run_to_end(&mut case);
    assert!(path(&case).contains(
        "analyze > inform_customer_of_escalation > identify_escalation_path > analyze_escalated"
    ));
    insta::assert_snapshot!(case.describe_lines());
}

// ---------------------------------------------------------------------------------------
// customer-service-process.yaml

fn rob() -> Actor {
    actor("rob", &["representative"])
}
fn esa() -> Actor {
    actor("esa", &["escalation_support"])
}

fn customer_service_process() -> Playbook {
    Playbook::new("customer-service-process.yaml", &rob())
        .task(
            "contact",
            &rob(),
            json!({ "customer_name": "Katherine Johnson", "preferred_channel": "Email", "preferences": "CET, English" }),
        )
        .task(
            "gather_information",
            &rob(),
            json!({ "issue": "order arrived damaged", "category": "Product", "urgent": false, "reference": "CS-2026-0001" }),
        )
        .task(
            "solve_problem",
            &rob(),
            json!({ "root_cause": "poor packaging", "solution": "send a replacement within 3 days", "within_authority": true }),
        )
        .task(
            "escalate",
            &rob(),
            json!({ "escalation_target": "Different department", "expected_resolution_time": "2026-01-09" }),
        )
        .task("resolve_escalated", &esa(), json!({ "root_cause": "carrier damage", "solution": "carrier claim and replacement" }))
        .task("agree_solution", &rob(), json!({ "customer_agreed": true }))
        .task("follow_up", &rob(), json!({ "solution_worked": true }))
        .task("thank_and_ask_feedback", &rob(), json!({ "feedback": "quick replacement", "csat": 4, "nps": 9 }))
        .task("close_case", &rob(), json!({ "outcome": "replacement delivered" }))
}

#[test]
fn customer_service_process_main_path() {
    let book = customer_service_process();
    let mut case = book.start();
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "contact > gather_information > solve_problem > agree_solution > follow_up > thank_and_ask_feedback > close_case"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_service_process_outside_authority_is_escalated() {
    let book = customer_service_process();
    let mut case = book.start();
    book.run_until(&mut case, "solve_problem");
    case.complete(
        "solve_problem",
        &rob(),
        fields(json!({ "solution": "full refund", "within_authority": false })),
    );
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "contact > gather_information > solve_problem > escalate > resolve_escalated > agree_solution > follow_up > thank_and_ask_feedback > close_case"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_service_process_disagreement_and_failed_solution_loop_back() {
    let book = customer_service_process();
    let mut case = book.start();
    book.run_until(&mut case, "agree_solution");
    case.complete(
        "agree_solution",
        &rob(),
        fields(json!({ "customer_agreed": false })),
    );
    assert_eq!(case.active(), ["solve_problem"]);
    book.run_until(&mut case, "follow_up");
    case.complete(
        "follow_up",
        &rob(),
        fields(json!({ "solution_worked": false })),
    );
    assert_eq!(case.active(), ["solve_problem"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "contact > gather_information > solve_problem > agree_solution > solve_problem > agree_solution > follow_up > solve_problem > agree_solution > follow_up > thank_and_ask_feedback > close_case"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn customer_service_process_sla_breach_and_manual_escalation() {
    let book = customer_service_process();
    // The SLA of `solve_problem` is breached.
    let mut case = book.start();
    book.run_until(&mut case, "solve_problem");
    let events = case.tick(case.now + days(1));
    assert_eq!(kinds(&events), ["sla_breached", "step_activated"]);
    book.run_to_end(&mut case);
    assert!(path(&case).contains("solve_problem > escalate > resolve_escalated"));
    insta::assert_snapshot!("customer_service_process_sla_breach", case.describe_lines());

    // The representative escalates before the SLA.
    let mut case = book.start();
    book.run_until(&mut case, "solve_problem");
    case.advance(hours(2));
    case.escalate("solve_problem", &rob(), "needs a refund above my limit");
    book.run_to_end(&mut case);
    assert!(path(&case).contains("solve_problem > escalate > resolve_escalated"));
    insta::assert_snapshot!("customer_service_process_escalated", case.describe_lines());
}

// ---------------------------------------------------------------------------------------
// feedback-collection.yaml

fn feedback_collection() -> Playbook {
    Playbook::new("feedback-collection.yaml", &cara())
        .task(
            "choose_method",
            &cara(),
            json!({ "customer_name": "Hedy Lamarr", "method": "Customer survey" }),
        )
        .task("request_feedback", &cara(), json!({}))
        .task(
            "await_feedback",
            &cara(),
            json!({ "csat": 5, "nps": 9, "comments": "great service", "technical_issue": false }),
        )
        .task(
            "remind",
            &cara(),
            json!({ "csat": 4, "nps": 8, "technical_issue": false }),
        )
        .task(
            "manager_follow_up",
            &mona(),
            json!({ "manager_follow_up_notes": "called back, apologized" }),
        )
        .task(
            "technical_review",
            &tess(),
            json!({ "technical_notes": "known issue, fixed in 2.3" }),
        )
        .task("record_feedback", &cara(), json!({}))
        .task(
            "analyze_feedback",
            &mona(),
            json!({ "improvement_actions": "none needed" }),
        )
        .task("no_response", &cara(), json!({}))
}

#[test]
fn feedback_collection_main_path() {
    let book = feedback_collection();
    let mut case = book.start();
    book.run_until(&mut case, "request_feedback");
    // The title is a template over the fields.
    let view = sopflow::engine::view(&case.process, &case.state);
    assert_eq!(
        view.work[0].title,
        "Ask Hedy Lamarr for feedback (Customer survey)"
    );
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "choose_method > request_feedback > await_feedback > record_feedback > analyze_feedback"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn feedback_collection_negative_feedback() {
    let book = feedback_collection();
    let mut case = book.start();
    book.run_until(&mut case, "await_feedback");
    case.advance(days(2));
    case.complete(
        "await_feedback",
        &cara(),
        fields(json!({ "csat": 2, "nps": 3, "comments": "slow", "technical_issue": true })),
    );
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "choose_method > request_feedback > await_feedback > manager_follow_up > technical_review > record_feedback > analyze_feedback"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn feedback_collection_technical_issue() {
    let book = feedback_collection();
    let mut case = book.start();
    book.run_until(&mut case, "await_feedback");
    case.complete(
        "await_feedback",
        &cara(),
        fields(json!({ "csat": 4, "nps": 8, "technical_issue": true })),
    );
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "choose_method > request_feedback > await_feedback > technical_review > record_feedback > analyze_feedback"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn feedback_collection_reminder_after_a_week() {
    let book = feedback_collection();
    let mut case = book.start();
    book.run_until(&mut case, "await_feedback");
    assert!(case.tick(case.now + days(7) - mins(1)).is_empty());
    let events = case.tick(case.now + mins(1));
    assert_eq!(kinds(&events), ["timer_fired", "step_activated"]);
    assert_eq!(case.active(), ["remind"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "choose_method > request_feedback > await_feedback > remind > record_feedback > analyze_feedback"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn feedback_collection_no_response() {
    let book = feedback_collection();
    let mut case = book.start();
    book.run_until(&mut case, "await_feedback");
    let asked = case.now;
    case.tick(asked + days(7));
    let events = case.tick(asked + days(14));
    assert_eq!(kinds(&events), ["timer_fired", "step_activated"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "choose_method > request_feedback > await_feedback > remind > no_response"
    );
    insta::assert_snapshot!(case.describe_lines());
}

// ---------------------------------------------------------------------------------------
// inquiry-handling.yaml

fn inquiry_handling() -> Playbook {
    Playbook::new("inquiry-handling.yaml", &cara())
        .task(
            "greet",
            &cara(),
            json!({ "customer_name": "Edsger Dijkstra", "channel": "Live Chat" }),
        )
        .task(
            "listen",
            &cara(),
            json!({ "inquiry": "can I return an opened item?", "inquiry_type": "Policy" }),
        )
        .task(
            "respond",
            &cara(),
            json!({ "response": "yes, within 30 days" }),
        )
        .task(
            "technical_response",
            &tess(),
            json!({ "response": "update the firmware to 2.3" }),
        )
        .task(
            "document",
            &cara(),
            json!({ "documentation": "return policy explained" }),
        )
        .task(
            "overdue_first_response",
            &mona(),
            json!({ "customer_name": "Edsger Dijkstra", "channel": "Email" }),
        )
        .task(
            "overdue_resolution",
            &mona(),
            json!({ "response": "answered by the manager" }),
        )
}

#[test]
fn inquiry_handling_main_path() {
    let book = inquiry_handling();
    let mut case = book.start();
    book.run_to_end(&mut case);
    assert_eq!(path(&case), "greet > listen > respond > document");
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn inquiry_handling_technical_inquiry() {
    let book = inquiry_handling();
    let mut case = book.start();
    book.run_until(&mut case, "listen");
    case.complete(
        "listen",
        &cara(),
        fields(json!({ "inquiry": "device does not pair", "inquiry_type": "Technical" })),
    );
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "greet > listen > technical_response > document"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn inquiry_handling_greeting_sla_breach() {
    let book = inquiry_handling();
    let mut case = book.start();
    let events = case.tick(t0() + hours(1));
    assert_eq!(kinds(&events), ["sla_breached", "step_activated"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "greet > overdue_first_response > listen > respond > document"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn inquiry_handling_response_escalated_to_technical_support() {
    let book = inquiry_handling();
    let mut case = book.start();
    book.run_until(&mut case, "respond");
    case.escalate("respond", &cara(), "turns out to be a firmware question");
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "greet > listen > respond > technical_response > document"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn inquiry_handling_response_sla_breaches() {
    let book = inquiry_handling();
    // Breached on `respond`.
    let mut case = book.start();
    book.run_until(&mut case, "respond");
    case.tick(case.now + days(1));
    assert_eq!(case.active(), ["overdue_resolution"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "greet > listen > respond > overdue_resolution > document"
    );
    insta::assert_snapshot!("inquiry_handling_respond_sla_breach", case.describe_lines());

    // Breached on `technical_response`.
    let mut case = book.start();
    book.run_until(&mut case, "listen");
    case.complete(
        "listen",
        &cara(),
        fields(json!({ "inquiry": "device does not pair", "inquiry_type": "Technical" })),
    );
    case.tick(case.now + days(1));
    assert_eq!(case.active(), ["overdue_resolution"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "greet > listen > technical_response > overdue_resolution > document"
    );
    insta::assert_snapshot!(
        "inquiry_handling_technical_response_sla_breach",
        case.describe_lines()
    );
}

// ---------------------------------------------------------------------------------------
// ticket-handling.yaml

fn mia() -> Actor {
    actor("mia", &["manager"])
}

fn ticket_handling() -> Playbook {
    Playbook::new("ticket-handling.yaml", &rob())
        .task(
            "answer",
            &rob(),
            json!({ "customer_name": "Barbara Liskov", "channel": "Email", "request": "change the billing address" }),
        )
        .task("review_customer", &rob(), json!({ "customer_context": "customer since 2019" }))
        .task("segment", &rob(), json!({ "department": "Customer Service", "tags": ["Billing"] }))
        .task("transfer", &rob(), json!({ "transfer_note": "billing address change, verified identity" }))
        .task("respond", &rob(), json!({ "response": "address updated", "awaiting_reply": false }))
        .task("postpone", &rob(), json!({ "customer_reply": "thanks, all good" }))
        .task("remind", &rob(), json!({ "customer_reply": "sorry for the delay, all good" }))
        .task("add_notes", &rob(), json!({ "meeting_notes": "no meeting needed", "customer_feedback": "happy" }))
        .task("close_ticket", &rob(), json!({}))
        .task(
            "manager_takeover",
            &mia(),
            json!({ "response": "address updated by the manager", "awaiting_reply": false, "escalation_notes": "took over the late ticket" }),
        )
}

#[test]
fn ticket_handling_main_path() {
    let book = ticket_handling();
    let mut case = book.start();
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "answer > review_customer > segment > respond > add_notes > close_ticket"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn ticket_handling_other_department() {
    let book = ticket_handling();
    let mut case = book.start();
    book.run_until(&mut case, "segment");
    case.complete(
        "segment",
        &rob(),
        fields(json!({ "department": "Billing", "tags": ["Billing", "Urgent"] })),
    );
    let view = sopflow::engine::view(&case.process, &case.state);
    assert_eq!(view.work[0].title, "Transfer the ticket to Billing");
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "answer > review_customer > segment > transfer > respond > add_notes > close_ticket"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn ticket_handling_customer_replies_while_postponed() {
    let book = ticket_handling();
    let mut case = book.start();
    book.run_until(&mut case, "respond");
    case.complete(
        "respond",
        &rob(),
        fields(json!({ "response": "which address?", "awaiting_reply": true })),
    );
    assert_eq!(case.active(), ["postpone"]);
    case.advance(days(1));
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "answer > review_customer > segment > respond > postpone > respond > add_notes > close_ticket"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn ticket_handling_reminder_then_reply() {
    let book = ticket_handling();
    let mut case = book.start();
    book.run_until(&mut case, "respond");
    case.complete(
        "respond",
        &rob(),
        fields(json!({ "response": "which address?", "awaiting_reply": true })),
    );
    let events = case.tick(case.now + days(3));
    assert_eq!(kinds(&events), ["timer_fired", "step_activated"]);
    assert_eq!(case.active(), ["remind"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "answer > review_customer > segment > respond > postpone > remind > respond > add_notes > close_ticket"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn ticket_handling_no_reply_at_all() {
    let book = ticket_handling();
    let mut case = book.start();
    book.run_until(&mut case, "respond");
    case.complete(
        "respond",
        &rob(),
        fields(json!({ "response": "which address?", "awaiting_reply": true })),
    );
    let asked = case.now;
    case.tick(asked + days(3));
    let events = case.tick(asked + days(7));
    assert_eq!(kinds(&events), ["timer_fired", "step_activated"]);
    assert_eq!(case.active(), ["add_notes"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "answer > review_customer > segment > respond > postpone > remind > add_notes > close_ticket"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn ticket_handling_late_answer_goes_to_the_manager() {
    let book = ticket_handling();
    let mut case = book.start();
    let events = case.tick(t0() + mins(30));
    assert_eq!(kinds(&events), ["sla_breached", "step_activated"]);
    assert_eq!(case.active(), ["manager_takeover"]);
    // The manager also needs the customer's details; they were never collected.
    case.update(
        &mia(),
        fields(json!({ "customer_name": "Barbara Liskov", "channel": "Phone", "request": "change the billing address" })),
    );
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "answer > manager_takeover > add_notes > close_ticket"
    );
    insta::assert_snapshot!(case.describe_lines());
}

#[test]
fn ticket_handling_response_escalated_or_late() {
    let book = ticket_handling();
    // Escalated by the representative.
    let mut case = book.start();
    book.run_until(&mut case, "respond");
    case.escalate("respond", &rob(), "customer asks for a manager");
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "answer > review_customer > segment > respond > manager_takeover > add_notes > close_ticket"
    );
    insta::assert_snapshot!("ticket_handling_response_escalated", case.describe_lines());

    // Postponed for a day, then late: the hold moves the 4 hour SLA.
    let mut case = book.start();
    book.run_until(&mut case, "respond");
    let activated = case.now;
    case.advance(hours(1));
    case.postpone("respond", &rob(), activated + days(1));
    assert_eq!(
        case.state.next_timer(),
        Some(activated + days(1) + hours(3))
    );
    assert!(case.tick(activated + hours(4)).is_empty());
    let events = case.tick(activated + days(1) + hours(3));
    assert_eq!(kinds(&events), ["sla_breached", "step_activated"]);
    book.run_to_end(&mut case);
    assert_eq!(
        path(&case),
        "answer > review_customer > segment > respond > manager_takeover > add_notes > close_ticket"
    );
    insta::assert_snapshot!("ticket_handling_response_late", case.describe_lines());
}
