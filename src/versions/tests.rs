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
