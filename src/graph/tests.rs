//! Data-driven compiler tests: each SOP fragment with the diagnostics it must produce.

use super::*;
use crate::diagnostic::Code;

const HEADER: &str = "id: t
version: 1
title: Test
department: Support
roles: { agent: Agent, lead: Team lead }
fields:
  priority: { type: choice, options: [High, Low] }
  resolved: { type: bool }
steps:
";

/// Compiles `HEADER` + `steps` and returns (code, line, column) of every diagnostic;
/// lines count from the first step line as 1.
fn check(steps: &str) -> Vec<(&'static str, u32, u32)> {
    let text = format!("{HEADER}{steps}");
    let sop = crate::parse::parse_sop("t.yaml", &text).expect("fixture parses");
    let offset = HEADER.lines().count() as u32;
    compile(&sop)
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.code.name(),
                d.span.line.saturating_sub(offset),
                d.span.column,
            )
        })
        .collect()
}

fn compiled(steps: &str) -> Process {
    let text = format!("{HEADER}{steps}");
    let sop = crate::parse::parse_sop("t.yaml", &text).expect("fixture parses");
    let compilation = compile(&sop);
    assert!(
        compilation.diagnostics.iter().all(|d| !d.is_error()),
        "{:?}",
        compilation.diagnostics
    );
    compilation.process.expect("no errors")
}

const VALID: &str = "  - { id: receive, title: Receive, role: agent, collects: [priority], due: 1h, on_overdue: escalate }
  - id: route
    decide:
      - { if: 'priority == \"High\"', goto: escalate }
      - else: solve
  - { id: solve, title: Solve, role: agent, collects: [resolved], next: review }
  - { id: escalate, title: Escalate, role: agent, next: review }
  - id: review
    title: Review
    approval: { by: lead, reviews: [solve], on_reject: solve }
  - { id: close, title: Close, role: agent, end: true }
";

#[test]
fn valid_sop_compiles_with_its_edges() {
    let process = compiled(VALID);
    let receive = process.step(&StepId::new("receive").unwrap()).unwrap();
    let kinds: Vec<EdgeKind> = process
        .successors(receive)
        .iter()
        .map(|&(k, _)| k)
        .collect();
    assert_eq!(kinds, [EdgeKind::Next, EdgeKind::Overdue]);
    let route = process.step(&StepId::new("route").unwrap()).unwrap();
    assert_eq!(
        process.edge_label(route, EdgeKind::Condition(0)),
        "priority == \"High\""
    );
    let review = process.step(&StepId::new("review").unwrap()).unwrap();
    let solve = process.step(&StepId::new("solve").unwrap()).unwrap();
    assert_eq!(process.successor(review, EdgeKind::Rejected), Some(solve));
    let roles: Vec<&str> = process
        .roles_involved()
        .into_iter()
        .map(RoleId::as_str)
        .collect();
    assert_eq!(roles, ["agent", "lead"]);
    // Through `solve`, through `escalate` by decision, and through `escalate` by SLA breach.
    assert_eq!(process.paths_to_end(process.start(), 10).len(), 3);
    assert!(process.reachable_from(review).contains(&process.end()));
}

#[test]
fn dangling_references_are_located_with_suggestions() {
    let text = format!(
        "{HEADER}  - {{ id: receive, title: R, role: agent, next: solv }}\n  - {{ id: solve, title: S, role: agent, end: true }}\n"
    );
    let sop = crate::parse::parse_sop("t.yaml", &text).unwrap();
    let diagnostics: Vec<_> = compile(&sop)
        .diagnostics
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert_eq!(diagnostics[0].code, Code::UnknownStep);
    assert_eq!(
        diagnostics[0].help.as_deref(),
        Some("did you mean `solve`? the nearest step ids are `solve`, `receive`")
    );
}

/// A lint case: name, steps, expected (code, line, column) of every non-warning diagnostic.
type LintCase = (
    &'static str,
    &'static str,
    &'static [(&'static str, u32, u32)],
);

#[test]
fn each_lint_fires_where_expected() {
    let cases: &[LintCase] = &[
        (
            "duplicate step",
            "  - { id: a, title: A, role: agent }\n  - { id: a, title: A, role: agent, end: true }\n",
            &[("duplicate-step", 2, 11)],
        ),
        (
            "unknown role",
            "  - { id: a, title: A, role: agnet, end: true }\n",
            &[("unknown-role", 1, 30)],
        ),
        (
            "unknown collected field",
            "  - { id: a, title: A, role: agent, collects: [prio], end: true }\n",
            &[("unknown-field", 1, 48)],
        ),
        (
            "template field",
            "  - { id: a, title: 'Fix {{ isue }}', role: agent, end: true }\n",
            &[("template-unknown-field", 1, 26)],
        ),
        (
            "condition type",
            "  - id: d\n    decide:\n      - { if: 'priority == 3', goto: a }\n      - else: a\n  - { id: a, title: A, role: agent, end: true }\n",
            &[("condition-type-mismatch", 3, 25)],
        ),
        (
            "condition unknown variable",
            "  - id: d\n    decide:\n      - { if: 'urgent', goto: a }\n      - else: a\n  - { id: a, title: A, role: agent, end: true }\n",
            &[("condition-unknown-field", 3, 16)],
        ),
        (
            "decision without else",
            "  - id: d\n    decide:\n      - { if: 'resolved', goto: a }\n  - { id: a, title: A, role: agent, end: true }\n",
            &[("decision-without-else", 3, 7)],
        ),
        (
            "unreachable",
            "  - { id: a, title: A, role: agent, end: true }\n  - { id: b, title: B, role: agent, end: true }\n",
            &[("unreachable-step", 2, 11)],
        ),
        (
            "last step falls off",
            "  - { id: a, title: A, role: agent }\n",
            &[("no-path-to-end", 1, 11)],
        ),
        (
            "closed loop",
            "  - { id: a, title: A, role: agent }\n  - { id: b, title: B, role: agent, next: a }\n",
            &[("loop-without-exit", 2, 43)],
        ),
        (
            "path into a closed loop",
            "  - id: d\n    decide:\n      - { if: 'resolved', goto: done }\n      - else: a\n  - { id: a, title: A, role: agent }\n  - { id: b, title: B, role: agent, next: a }\n  - { id: done, title: D, role: agent, end: true }\n",
            &[("loop-without-exit", 6, 43)],
        ),
        (
            "branch never joins",
            "  - { id: split, parallel: [x, y], join: meet }\n  - { id: x, title: X, role: agent, next: meet }\n  - { id: y, title: Y, role: agent, end: true }\n  - { id: meet, title: M, role: agent, end: true }\n",
            &[("branch-never-joins", 1, 32)],
        ),
        (
            "review of a later step",
            "  - id: gate\n    title: Gate\n    approval: { by: lead, reviews: [a], on_reject: gate }\n  - { id: a, title: A, role: agent, end: true }\n",
            &[("review-not-before", 3, 37)],
        ),
        (
            "on_overdue without due",
            "  - { id: a, title: A, role: agent, on_overdue: b }\n  - { id: b, title: B, role: agent, end: true }\n",
            &[("timer-without-duration", 1, 49)],
        ),
        (
            "undefined acronym",
            "  - { id: a, title: Update the CRM, role: agent, end: true }\n",
            &[("undefined-acronym", 1, 32)],
        ),
        (
            "approval with a role",
            "  - { id: a, title: A, role: agent }\n  - { id: g, title: G, role: lead, approval: { by: lead, reviews: [a], on_reject: a }, end: true }\n",
            &[("conflicting-keys", 2, 30)],
        ),
    ];
    for (name, steps, expected) in cases {
        let found: Vec<_> = check(steps)
            .into_iter()
            .filter(|(code, _, _)| !code.starts_with("unused"))
            .collect();
        assert_eq!(found, *expected, "{name}");
    }
}

#[test]
fn a_role_told_of_a_breach_is_used() {
    let found = check(
        "  - { id: a, title: A, role: agent, collects: [priority, resolved], due: 1h, overdue: [{ notify: lead }], end: true }\n",
    );
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn unused_declarations_are_warnings() {
    let found = check("  - { id: a, title: A, role: agent, end: true }\n");
    // Roles and fields are declared in the header, before the first step line.
    let codes: Vec<&str> = found.iter().map(|(code, _, _)| *code).collect();
    assert_eq!(codes, ["unused-role", "unused-field", "unused-field"]);
    let text = format!("{HEADER}  - {{ id: a, title: A, role: agent, end: true }}\n");
    let sop = crate::parse::parse_sop("t.yaml", &text).unwrap();
    let compilation = compile(&sop);
    assert!(compilation.process.is_some(), "warnings do not block");
    let lead = &compilation.diagnostics[0];
    assert_eq!((lead.span.line, lead.span.column), (5, 24));
}

#[test]
fn parallel_split_waits_at_a_join_node() {
    let process = compiled(
        "  - { id: split, parallel: [x, y], join: meet }\n  - { id: x, title: X, role: agent, collects: [priority], next: meet }\n  - { id: y, title: Y, role: lead, collects: [resolved], next: meet }\n  - { id: meet, title: M, role: agent, end: true }\n",
    );
    let x = process.step(&StepId::new("x").unwrap()).unwrap();
    let join = process.successor(x, EdgeKind::Next).unwrap();
    let NodeKind::Join(join_kind) = &process.node(join).kind else {
        panic!("x should lead to the join node");
    };
    assert_eq!(join_kind.branches, 2);
    let meet = process.step(&StepId::new("meet").unwrap()).unwrap();
    assert_eq!(process.successor(join, EdgeKind::Next), Some(meet));
}

/// A trusted compile of every seed SOP gives the same process as the full one, without
/// the lints (which are what it saves).
#[test]
fn trusted_compile_gives_the_same_process() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sops");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // `NAME.test.yaml` beside an SOP holds its scenarios, not an SOP.
        if path.to_string_lossy().ends_with(".test.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let sop = crate::parse::parse_sop("seed.yaml", &text).unwrap();
        let full = compile(&sop).process.expect("a seed SOP compiles");
        let trusted = compile_trusted(&sop);
        assert!(trusted.diagnostics.is_empty(), "{:?}", trusted.diagnostics);
        let trusted = trusted.process.expect("a trusted compile of a valid SOP");
        // The Debug forms differ only in hash-map order; the drawing and the tables do not.
        assert_eq!(
            crate::render::dot(&trusted, None),
            crate::render::dot(&full, None),
            "{}",
            path.display()
        );
        assert_eq!(
            format!("{:?}", trusted.fields()),
            format!("{:?}", full.fields())
        );
        assert_eq!(
            format!("{:?}", trusted.roles()),
            format!("{:?}", full.roles())
        );
        seen += 1;
    }
    assert!(seen >= 7);
}

#[test]
fn a_gate_of_several_roles_compiles_to_its_list_and_says_who_may_decide() {
    let process = compiled(
        "  - { id: draft, title: Draft, role: agent }
  - { id: review, title: Review, approval: { by: [lead, agent], reviews: [draft], on_reject: draft }, end: true }
",
    );
    let node = process
        .step(&StepId::from_static("review"))
        .expect("a gate");
    let NodeKind::Approval(gate) = &process.node(node).kind else {
        panic!("review is a gate");
    };
    let (agent, lead) = (RoleId::from_static("agent"), RoleId::from_static("lead"));
    assert_eq!(gate.by, [lead.clone(), agent.clone()]);
    assert_eq!(gate.roles_text(), "lead or agent");
    assert!(gate.may_decide([&agent].into_iter()));
    assert!(gate.may_decide([&lead].into_iter()));
    assert!(!gate.may_decide(std::iter::empty()));
    let one = compiled(
        "  - { id: draft, title: Draft, role: agent }
  - { id: review, title: Review, approval: { by: lead, on_reject: draft }, end: true }
",
    );
    let node = one.step(&StepId::from_static("review")).expect("a gate");
    let NodeKind::Approval(gate) = &one.node(node).kind else {
        panic!("review is a gate");
    };
    assert_eq!(gate.by, [lead]);
    assert_eq!(gate.roles_text(), "lead");
}

#[test]
fn roles_in_words_joins_the_last_with_the_conjunction() {
    let roles: Vec<RoleId> = ["a", "b", "c"].map(RoleId::from_static).to_vec();
    assert_eq!(roles_in_words(&roles[..0], "or"), "");
    assert_eq!(roles_in_words(&roles[..1], "or"), "a");
    assert_eq!(roles_in_words(&roles[..2], "or"), "a or b");
    assert_eq!(roles_in_words(&roles, "or"), "a, b or c");
}

#[test]
fn approvers_and_on_cancel_are_checked_where_written() {
    let errors = |steps: &str| -> Vec<(&'static str, u32, u32)> {
        check(steps)
            .into_iter()
            .filter(|(code, ..)| !code.starts_with("unused-"))
            .collect()
    };
    assert_eq!(
        errors(
            "  - { id: a, title: A, role: agent }
  - { id: b, title: B, approval: { by: [lead, lead], on_reject: a }, end: true }
"
        ),
        [("invalid-approvers", 2, 47)]
    );
    assert_eq!(
        errors(
            "  - { id: a, title: A, role: agent, on_cancel: a }
  - { id: b, title: B, role: agent, end: true }
"
        ),
        [("escalation-to-itself", 1, 48)]
    );
    let process = compiled(
        "  - { id: a, title: A, role: agent, on_cancel: b }
  - { id: b, title: B, role: agent, end: true }
",
    );
    let a = process.step(&StepId::from_static("a")).expect("a task");
    let b = process.step(&StepId::from_static("b")).expect("a task");
    assert_eq!(process.successor(a, EdgeKind::Cancelled), Some(b));
    assert_eq!(process.edge_label(a, EdgeKind::Cancelled), "cancelled");
    assert!(EdgeKind::Cancelled.is_exceptional());
}
