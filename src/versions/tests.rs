//! Unit tests of the comparison on small pairs written inline; the fixtures under
//! `tests/fixtures/revisions/` are checked in `tests/versions.rs`.

use super::*;

fn sop(text: &str) -> Sop {
    match crate::parse::parse_sop("t.yaml", text) {
        Ok(sop) => sop,
        Err(error) => panic!("{error}"),
    }
}

const BASE: &str = "
id: reset
version: 1
title: Password reset
department: Support
roles: { agent: Support agent, lead: Team lead }
steps:
  - { id: check, title: Check identity, role: agent }
  - { id: send, title: Send the link, role: agent, end: true }
";

#[test]
fn the_same_text_has_no_changes() {
    let diff = diff(&sop(BASE), &sop(BASE));
    assert!(diff.is_empty(), "{diff:#?}");
    assert_eq!(diff.unmapped_steps().count(), 0);
}

#[test]
fn a_removed_step_is_unmapped_and_its_neighbour_reroutes() {
    let new = BASE.replace(
        "  - { id: check, title: Check identity, role: agent }\n",
        "",
    );
    let diff = diff(&sop(BASE), &sop(&new));
    let kinds: Vec<ChangeKind> = diff.changes.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [ChangeKind::StepRemoved]);
    assert_eq!(
        diff.unmapped_steps()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        ["check"]
    );
    assert_eq!(diff.steps[1].matched_by, MatchedBy::SameId);
}

#[test]
fn a_reorder_changes_implicit_routing_and_is_listed_apart() {
    let new = "
id: reset
version: 2
title: Password reset
department: Support
roles: { agent: Support agent, lead: Team lead }
steps:
  - { id: send, title: Send the link, role: agent, next: check }
  - { id: check, title: Check identity, role: agent, end: true }
";
    let diff = diff(&sop(BASE), &sop(new));
    let moved: Vec<&Change> = diff
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::StepMoved)
        .collect();
    assert_eq!(moved.len(), 1);
    assert!(!moved[0].affects_cases);
    assert!(
        diff.changes
            .iter()
            .any(|c| c.kind == ChangeKind::RouteChanged && c.affects_cases)
    );
}

#[test]
fn a_rewritten_condition_is_one_change_that_names_both() {
    let old = sop("
id: t
version: 1
title: T
department: D
fields: { amount: { type: number } }
roles: { agent: A }
steps:
  - { id: a, title: A, role: agent, collects: [amount] }
  - id: check
    decide:
      - { if: amount > 100.0, goto: big }
      - else: small
  - { id: big, title: Big, role: agent, end: true }
  - { id: small, title: Small, role: agent, end: true }
");
    let new_text = "
id: t
version: 2
title: T
department: D
fields: { amount: { type: number } }
roles: { agent: A }
steps:
  - { id: a, title: A, role: agent, collects: [amount] }
  - id: check
    decide:
      - { if: amount > 50.0, goto: small }
      - else: small
  - { id: big, title: Big, role: agent, end: true }
  - { id: small, title: Small, role: agent, end: true }
";
    let diff = diff(&old, &sop(new_text));
    let routing: Vec<(&ChangeKind, &str)> = diff
        .changes
        .iter()
        .filter(|c| c.section == Section::Routing)
        .map(|c| (&c.kind, c.message.as_str()))
        .collect();
    assert_eq!(
        routing,
        [(
            &ChangeKind::ConditionChanged,
            "`check` now goes to `small` when `amount > 50.0` (was when `amount > 100.0`, to `small` instead of `big`)"
        )]
    );
}

#[test]
fn another_sop_id_is_a_behaviour_change() {
    let new = BASE.replace("id: reset", "id: password-reset");
    let diff = diff(&sop(BASE), &sop(&new));
    assert_eq!(diff.changes[0].kind, ChangeKind::SopIdChanged);
    assert!(diff.has_behaviour_changes());
}

#[test]
fn a_rename_wins_over_an_old_step_that_shares_the_new_id() {
    // v2 renames `check` to `send` and drops the old `send`: the old `send` is removed,
    // not matched by id.
    let new = "
id: reset
version: 2
title: Password reset
department: Support
roles: { agent: Support agent, lead: Team lead }
steps:
  - { id: send, renamed_from: check, title: Check identity, role: agent, end: true }
";
    let diff = diff(&sop(BASE), &sop(new));
    assert_eq!(
        diff.new_id_of(&"check".parse().unwrap())
            .map(|s| s.as_str()),
        Some("send")
    );
    assert_eq!(
        diff.unmapped_steps()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
        ["send"]
    );
}

#[test]
fn a_version_with_errors_is_refused_with_every_diagnostic() {
    let broken = BASE.replace("end: true", "next: nowhere");
    let Err(invalid) = Revision::load("broken.yaml", broken.as_bytes()) else {
        panic!("a dangling next compiles");
    };
    assert_eq!(invalid.errors, 1);
    let error = invalid.diagnostics.iter().find(|d| d.is_error());
    assert_eq!(error.map(|d| d.code.id()), Some("E011"));
    assert_eq!(
        invalid.to_string(),
        "broken.yaml has 1 error: fix it before comparing versions"
    );
}

#[test]
fn a_rename_from_an_id_the_old_version_lacks_is_an_added_step_that_says_so() {
    let new = BASE.replace(
        "  - { id: check,",
        "  - { id: verify, renamed_from: inspect,",
    );
    let diff = diff(&sop(BASE), &sop(&new));
    let added: Vec<&str> = diff
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::StepAdded)
        .map(|c| c.message.as_str())
        .collect();
    assert_eq!(
        added,
        ["step `verify` added (a task; its `renamed_from: inspect` names no step of v1)"]
    );
}

const GATED: &str = "
id: reset
version: 1
title: Password reset
department: Support
roles: { agent: Support agent, lead: Team lead, security: Security officer }
steps:
  - { id: check, title: Check identity, role: agent }
  - { id: allow, title: Allow the reset, approval: { by: lead, on_reject: check } }
  - { id: send, title: Send the link, role: agent, end: true }
";

#[test]
fn approvers_written_as_a_list_of_the_same_roles_are_no_change() {
    let same = GATED.replace("by: lead,", "by: [lead],");
    assert!(diff(&sop(GATED), &sop(&same)).is_empty());
    let listed = GATED.replace("by: lead,", "by: [lead, security],");
    let reordered = GATED.replace("by: lead,", "by: [security, lead],");
    assert!(diff(&sop(&listed), &sop(&reordered)).is_empty());
}

#[test]
fn another_approver_role_is_an_approver_change_naming_every_role() {
    let listed = GATED.replace("by: lead,", "by: [lead, security],");
    let diff = diff(&sop(GATED), &sop(&listed));
    let approvers: Vec<&Change> = diff
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::ApproverChanged)
        .collect();
    assert_eq!(approvers.len(), 1, "{diff:#?}");
    assert_eq!(
        approvers[0].message,
        "`allow` is now approved by `lead` or `security` (was `lead`)"
    );
}

#[test]
fn a_new_on_cancel_is_a_routing_change() {
    let cancellable = BASE.replace(
        "role: agent }\n  - { id: send",
        "role: agent, on_cancel: send }\n  - { id: send",
    );
    assert_ne!(cancellable, BASE);
    let diff = diff(&sop(BASE), &sop(&cancellable));
    assert!(
        diff.changes
            .iter()
            .any(|c| c.message.contains("goes to `send` when cancelled")),
        "{diff:#?}"
    );
}

#[test]
fn a_timer_that_now_counts_from_a_date_is_a_change() {
    let text = |due: &str| {
        format!(
            "
id: t
version: 1
title: T
department: D
fields: {{ start_date: {{ type: date }} }}
roles: {{ agent: A }}
steps:
  - {{ id: a, title: A, role: agent, collects: [start_date] }}
  - {{ id: b, title: B, role: agent, due: {due}, end: true }}
"
        )
    };
    let due_changes = |old: &str, new: &str| -> Vec<String> {
        diff(&sop(&text(old)), &sop(&text(new)))
            .changes
            .iter()
            .filter(|c| c.kind == ChangeKind::DueChanged)
            .map(|c| c.message.clone())
            .collect()
    };
    assert_eq!(
        due_changes("2d", "{ before: start_date, offset: 2bd }"),
        ["step `b` is now due 2bd before start_date (was due 2d)"]
    );
    assert_eq!(
        due_changes(
            "{ before: start_date, offset: 2bd }",
            "{ after: start_date, offset: 2bd }"
        ),
        ["step `b` is now due 2bd after start_date (was due 2bd before start_date)"]
    );
    assert!(due_changes("{ after: start_date }", "{ after: start_date }").is_empty());
}
