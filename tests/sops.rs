//! The SOP library in `sops/`: every file parses and checks without errors, and the customer
//! support SOP says everything its source document (the 20-step customer support process
//! with approvals) says.

use std::collections::HashSet;
use std::path::PathBuf;

use sopflow::diagnostic::{Severity, SourceFile, render_human};
use sopflow::model::{Field, FieldType, Sop, Step, TimerSpec};
use sopflow::parse::parse_sop;

const SCHEMA_HEADER: &str = "# yaml-language-server: $schema=../schema/sop.schema.json\n";

/// `(name as shown in diagnostics, text)` of every `sops/*.yaml`, sorted by name.
fn sop_sources() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sops");
    let mut sources: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        // `NAME.test.yaml` beside an SOP holds its scenarios, not an SOP.
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .filter(|path| !path.to_string_lossy().ends_with(".test.yaml"))
        .map(|path| {
            let name = format!(
                "sops/{}",
                path.file_name().expect("file name").to_string_lossy()
            );
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
            (name, text)
        })
        .collect();
    sources.sort();
    sources
}

fn load(file: &str) -> Sop {
    let name = format!("sops/{file}");
    let (_, text) = sop_sources()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} is missing"));
    parse_sop(&name, &text).unwrap_or_else(|e| panic!("{e}"))
}

fn step<'a>(sop: &'a Sop, id: &str) -> &'a Step {
    sop.steps
        .iter()
        .find(|s| s.id.as_str() == id)
        .unwrap_or_else(|| panic!("no step `{id}` in {}", sop.id.as_str()))
}

fn field<'a>(sop: &'a Sop, id: &str) -> &'a Field {
    sop.fields
        .iter()
        .find_map(|(k, v)| (k.as_str() == id).then_some(v))
        .unwrap_or_else(|| panic!("no field `{id}` in {}", sop.id.as_str()))
}

fn options(field: &Field) -> Vec<&str> {
    field
        .options
        .as_ref()
        .map(|options| options.iter().map(|o| o.as_str()).collect())
        .unwrap_or_default()
}

fn title(step: &Step) -> Option<&str> {
    step.title.as_ref().map(|t| t.as_str())
}

#[test]
fn every_sop_parses_and_checks_without_errors() {
    let sources = sop_sources();
    assert!(
        sources.len() >= 7,
        "expected at least 7 SOPs in sops/, found {}",
        sources.len()
    );
    let mut failures = String::new();
    for (name, text) in sources {
        if let Err(error) = parse_sop(&name, &text) {
            failures.push_str(&format!("{error}\n"));
        }
        let source = SourceFile::new(name, text);
        let errors: Vec<_> = sopflow::check(&source)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if !errors.is_empty() {
            failures.push_str(&render_human(&source, &errors, false));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn every_sop_points_editors_at_the_schema() {
    for (name, text) in sop_sources() {
        assert!(
            text.starts_with(SCHEMA_HEADER),
            "{name} must start with `{}`",
            SCHEMA_HEADER.trim_end()
        );
    }
}

#[test]
fn sop_ids_are_unique_across_the_library() {
    let mut seen = HashSet::new();
    for (name, text) in sop_sources() {
        let sop = parse_sop(&name, &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            seen.insert(sop.id.as_str().to_owned()),
            "{name}: SOP id `{}` is used twice",
            sop.id.as_str()
        );
    }
}

/// The 20 steps of the source document, in order. Step 9's heading in the source is
/// "Communicate the solution or answer to the customer"; its e-mail subject
/// `Solution or Answer to {{form.Issue_or_Question_Description}}` is the step's title here.
const CUSTOMER_SUPPORT_STEPS: [&str; 20] = [
    "Receive inbound communication from customer",
    "Identify customer's issue or question",
    "Assign customer issue to appropriate support team member",
    "Review customer history and previous interactions",
    "Create a case or ticket in course management system",
    "Research issue or seek additional information if necessary",
    "Approval: Customer Information Verification",
    "Determine appropriate solution or answer",
    "Solution or Answer to {{ issue }}",
    "Follow up with customer to ensure their issue has been resolved",
    "Update case or ticket in course management system",
    "Escalate issue if resolution is not found",
    "Approval: Team Leader for Escalation",
    "Coordinate with other departments if necessary",
    "Prepare report of customer interaction",
    "Perform Quality Assurance for service provided",
    "Approval: Quality Assurance Manager",
    "Close case or ticket in course management system",
    "Provide feedback to support team member if necessary",
    "Collect Customer satisfaction survey",
];

#[test]
fn customer_support_has_all_twenty_steps_in_order() {
    let sop = load("customer-support-process.yaml");
    assert_eq!(sop.id.as_str(), "customer-support");
    let wanted: HashSet<&str> = CUSTOMER_SUPPORT_STEPS.into_iter().collect();
    let titles: Vec<&str> = sop
        .steps
        .iter()
        .filter_map(title)
        .filter(|t| wanted.contains(t))
        .collect();
    assert_eq!(titles, CUSTOMER_SUPPORT_STEPS);
    // The steps that are not in the source are the decisions and the SLA breach handler.
    for extra in sop
        .steps
        .iter()
        .filter(|s| !title(s).is_some_and(|t| wanted.contains(t)))
    {
        assert!(
            extra.decide.is_some() || extra.id.as_str() == "overdue_first_response",
            "step `{}` is not in the source document",
            extra.id.as_str()
        );
    }
    let template = step(&sop, "communicate_solution");
    assert_eq!(title(template), Some("Solution or Answer to {{ issue }}"));
    assert_eq!(*field(&sop, "issue").field_type, FieldType::Text);
}

#[test]
fn customer_support_has_three_approvals_with_four_eyes() {
    let sop = load("customer-support-process.yaml");
    let gates: Vec<(&str, &str, Vec<&str>, &str)> = sop
        .steps
        .iter()
        .filter_map(|s| {
            let approval = s.approval.as_ref()?;
            Some((
                s.id.as_str(),
                match &approval.by.value {
                    sopflow::model::Approvers::One(role) => role.as_str(),
                    sopflow::model::Approvers::AnyOf(_) => "several roles",
                },
                approval.reviews.iter().map(|r| r.as_str()).collect(),
                approval.on_reject.as_str(),
            ))
        })
        .collect();
    assert_eq!(
        gates,
        [
            (
                "verify_customer_info",
                "team_leader",
                vec!["receive", "overdue_first_response"],
                "receive"
            ),
            (
                "approve_escalation",
                "team_leader",
                vec!["escalate"],
                "determine_solution"
            ),
            ("approve_qa", "qa_manager", vec!["perform_qa"], "perform_qa"),
        ]
    );
    assert_eq!(
        title(step(&sop, "approve_escalation")),
        Some("Approval: Team Leader for Escalation")
    );
}

#[test]
fn customer_support_choice_lists_match_the_source() {
    let sop = load("customer-support-process.yaml");
    let cases: [(&str, FieldType, &[&str]); 5] = [
        ("priority", FieldType::Choice, &["High", "Medium", "Low"]),
        (
            "status",
            FieldType::Choice,
            &["Open", "In Progress", "Closed"],
        ),
        (
            "research_sources",
            FieldType::MultiChoice,
            &[
                "Knowledge Base",
                "Internal Documentation",
                "Search Engines",
                "Subject Matter Experts",
                "Collaboration Tools",
            ],
        ),
        (
            "departments",
            FieldType::MultiChoice,
            &[
                "Sales",
                "Marketing",
                "Engineering",
                "Product",
                "Account Management",
            ],
        ),
        (
            "qa_criteria_met",
            FieldType::MultiChoice,
            &[
                "Communication",
                "Timeliness",
                "Accuracy",
                "Problem-solving",
                "Customer Satisfaction",
            ],
        ),
    ];
    for (id, field_type, expected) in cases {
        let field = field(&sop, id);
        assert_eq!(*field.field_type, field_type, "type of `{id}`");
        assert_eq!(options(field), expected, "options of `{id}`");
    }
}

#[test]
fn customer_support_escalates_unresolved_issues_through_the_team_leader() {
    let sop = load("customer-support-process.yaml");
    let decision = step(&sop, "resolution_found");
    let arms = decision.decide.as_ref().expect("a decision");
    assert_eq!(
        arms[0].condition.as_ref().map(|c| c.as_str()),
        Some("resolved == false")
    );
    assert_eq!(arms[0].goto.as_ref().map(|g| g.as_str()), Some("escalate"));
    assert_eq!(*field(&sop, "resolved").field_type, FieldType::Bool);
    // 12 escalate → 13 team leader approval → 14 coordinate, in list order.
    let position = |id: &str| sop.steps.iter().position(|s| s.id.as_str() == id);
    let escalate = position("escalate").expect("escalate");
    assert_eq!(position("approve_escalation"), Some(escalate + 1));
    assert_eq!(position("coordinate_departments"), Some(escalate + 2));
    assert!(step(&sop, "escalate").next.is_none());
    assert!(step(&sop, "approve_escalation").next.is_none());
}

#[test]
fn customer_support_has_an_sla_on_the_first_response() {
    let sop = load("customer-support-process.yaml");
    let receive = step(&sop, "receive");
    assert_eq!(
        receive
            .due
            .as_ref()
            .and_then(|d| d.fixed())
            .map(|d| d.minutes()),
        Some(60)
    );
    assert_eq!(receive.warn.as_ref().map(|w| w.minutes()), Some(15));
    // Two levels: the team leader hears of the breach, then takes the work over.
    let ladder = receive.overdue.as_ref().expect("a ladder");
    assert_eq!(ladder.len(), 2);
    assert_eq!(
        ladder[0].notify.as_ref().map(|r| r.as_str()),
        Some("team_leader")
    );
    assert_eq!(
        ladder[1].goto.as_ref().map(|s| s.as_str()),
        Some("overdue_first_response")
    );
    // Every clock counts support hours.
    assert_eq!(
        sop.calendar.as_ref().map(|c| c.as_str()),
        Some("support-hours")
    );
    assert!(sop.sla.is_some(), "a resolution SLA on the whole case");
    let terms: Vec<&str> = sop.terms.keys().map(|k| k.0.as_str()).collect();
    for term in ["CRM", "SLA", "QA", "CSAT"] {
        assert!(terms.contains(&term), "`{term}` is not in terms: {terms:?}");
    }
}

#[test]
fn every_sop_is_free_of_warnings_too() {
    let mut failures = String::new();
    for (name, text) in sop_sources() {
        let source = SourceFile::new(name, text);
        let diagnostics = sopflow::check(&source);
        if !diagnostics.is_empty() {
            failures.push_str(&render_human(&source, &diagnostics, false));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn playbook_sets_the_analysis_sla_by_priority() {
    let sop = load("customer-service-playbook.yaml");
    let ticket = step(&sop, "create_ticket");
    let collected: Vec<&str> = ticket.collects.iter().map(|f| f.as_str()).collect();
    assert_eq!(collected, ["documents", "category", "priority"]);
    let gather = step(&sop, "gather_information");
    let collected: Vec<&str> = gather.collects.iter().map(|f| f.as_str()).collect();
    assert_eq!(collected, ["customer_name", "contact_info", "description"]);
    // One analysis step whose due time follows the priority.
    let analyze = step(&sop, "analyze");
    let Some(TimerSpec::ByField {
        by,
        options,
        otherwise,
    }) = analyze.due.as_deref()
    else {
        panic!("the analysis is due by priority: {:?}", analyze.due);
    };
    assert_eq!(by.as_str(), "priority");
    assert!(otherwise.is_none());
    let minutes: Vec<(&str, u32)> = options
        .iter()
        .map(|(option, due)| (option.as_str(), due.minutes()))
        .collect();
    assert_eq!(
        minutes,
        [("High", 4 * 60), ("Medium", 24 * 60), ("Low", 3 * 24 * 60)]
    );
    assert_eq!(
        analyze.on_overdue.as_ref().map(|s| s.as_str()),
        Some("inform_customer_of_escalation")
    );
    assert!(
        !sop.steps
            .iter()
            .any(|s| s.id.as_str().starts_with("analyze_") && s.id.as_str() != "analyze_escalated"),
        "no copy of the analysis per priority"
    );
}

#[test]
fn service_process_escalates_what_is_beyond_authority() {
    let sop = load("customer-service-process.yaml");
    assert!(field(&sop, "reference").required);
    let arms = step(&sop, "within_scope")
        .decide
        .as_ref()
        .expect("a decision");
    assert_eq!(
        arms[0].condition.as_ref().map(|c| c.as_str()),
        Some("within_authority == false")
    );
    assert_eq!(arms[0].goto.as_ref().map(|g| g.as_str()), Some("escalate"));
    assert_eq!(
        step(&sop, "solve_problem")
            .on_escalate
            .as_ref()
            .map(|s| s.as_str()),
        Some("escalate")
    );
}

#[test]
fn operations_guide_sops_use_its_three_roles() {
    for file in [
        "inquiry-handling.yaml",
        "complaint-resolution.yaml",
        "feedback-collection.yaml",
    ] {
        let sop = load(file);
        let roles: Vec<&str> = sop.roles.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            roles,
            [
                "customer_service_representative",
                "technical_support_specialist",
                "customer_service_manager"
            ],
            "{file}"
        );
    }
}

#[test]
fn ticket_handling_waits_for_the_customer_with_a_timeout() {
    let sop = load("ticket-handling.yaml");
    assert_eq!(*field(&sop, "department").field_type, FieldType::Choice);
    assert_eq!(*field(&sop, "tags").field_type, FieldType::MultiChoice);
    let postpone = step(&sop, "postpone");
    assert_eq!(
        postpone
            .after
            .as_ref()
            .and_then(|d| d.fixed())
            .map(|d| d.minutes()),
        Some(3 * 24 * 60)
    );
    assert_eq!(
        postpone.on_timeout.as_ref().map(|s| s.as_str()),
        Some("remind")
    );
    assert_eq!(
        title(step(&sop, "transfer")),
        Some("Transfer the ticket to {{ department }}")
    );
}
