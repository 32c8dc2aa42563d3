//! Checking a version's `migrate:` plan against the version it moves cases from.

use crate::diagnostic::{Code, Diagnostic};
use crate::engine::migration_target;
use crate::graph::{NodeKind, Process};

/// Checks that every open case of `old` has somewhere to go in `new`: each task, approval
/// gate and parallel split of `old` (a case can hold work or wait there) maps to a step of
/// the same kind in `new` (through `new`'s `migrate:` plan, or by an unchanged id), and
/// every field `new` requires that `old` did not have gets a value (a default or the
/// plan's). Diagnostics are located in `new`'s file, at its `migrate:` section (or its
/// `id`).
///
/// This is the part of the plan a single file cannot check: `sop validate` checks the
/// rest. A case may still be refused one by one (a gate with approvals that do not fit
/// the new one, a value that no longer fits its field): see [`crate::engine::migrate`].
///
/// ```
/// let v1 = sopflow::parse::parse_sop("v1.yaml", "
/// id: refunds
/// version: 1
/// title: Refunds
/// department: Billing
/// roles: { agent: Billing agent }
/// steps:
///   - { id: check, title: Check the claim, role: agent }
///   - { id: pay, title: Pay the refund, role: agent, end: true }
/// ").unwrap();
/// let v2 = sopflow::parse::parse_sop("v2.yaml", "
/// id: refunds
/// version: 2
/// title: Refunds
/// department: Billing
/// roles: { agent: Billing agent }
/// steps:
///   - { id: verify, title: Verify the claim, role: agent }
///   - { id: pay, title: Pay the refund, role: agent, end: true }
/// ").unwrap();
/// let old = sopflow::graph::compile(&v1).process.unwrap();
/// let new = sopflow::graph::compile(&v2).process.unwrap();
/// let problems = sopflow::versions::check_migration(&old, &new);
/// assert_eq!(problems[0].code.name(), "unmapped-step");
/// assert!(problems[0].message.contains("`check`"));
/// ```
pub fn check_migration(old: &Process, new: &Process) -> Vec<Diagnostic> {
    let span = new
        .migration()
        .map_or_else(|| new.node(new.start()).span, |plan| plan.span);
    let mut problems = Vec::new();
    if new.id() != old.id() || new.version() <= old.version() {
        problems.push(
            Diagnostic::new(
                Code::InvalidMigration,
                span,
                format!(
                    "`{}` version {} is not a newer version of `{}` version {}",
                    new.id(),
                    new.version(),
                    old.id(),
                    old.version()
                ),
            )
            .with_help("migrate cases from an earlier version of the same SOP"),
        );
        return problems;
    }
    for (_, node) in old.nodes() {
        let Some(step) = &node.step else {
            continue;
        };
        // Where an open case can be: at a task or gate, or waiting in a split.
        let holds = match node.kind {
            NodeKind::Task(_) | NodeKind::Approval(_) | NodeKind::Split(_) => {
                node.kind.step_kind_name().unwrap_or("a step")
            }
            _ => continue,
        };
        let Some(target) = migration_target(new, old.version(), step) else {
            problems.push(
                Diagnostic::new(
                    Code::UnmappedStep,
                    span,
                    format!(
                        "step `{step}` of version {} ({holds}) has no step to go to in version {}: open cases there could not move",
                        old.version(),
                        new.version()
                    ),
                )
                .with_help(format!(
                    "add `{step}: STEP` under `migrate.steps`, naming the step of version {} that takes over its work",
                    new.version()
                )),
            );
            continue;
        };
        let Some(target_node) = new.step(&target) else {
            continue;
        };
        let same_kind = matches!(
            (&node.kind, &new.node(target_node).kind),
            (NodeKind::Task(_), NodeKind::Task(_))
                | (NodeKind::Approval(_), NodeKind::Approval(_))
                | (NodeKind::Split(_), NodeKind::Split(_))
        );
        if !same_kind {
            problems.push(
                Diagnostic::new(
                    Code::UnmappedStep,
                    span,
                    format!(
                        "step `{step}` of version {} is {holds}, but `{target}` in version {} is not: open cases there could not move",
                        old.version(),
                        new.version()
                    ),
                )
                .with_help(format!("map `{step}` to {holds} under `migrate.steps`")),
            );
        }
    }
    for field in new.fields() {
        let had = old.field(&field.id).is_some();
        let given = field.default.is_some()
            || new
                .migration()
                .and_then(|plan| plan.value(&field.id))
                .is_some();
        if field.required && !had && !given {
            problems.push(
                Diagnostic::new(
                    Code::InvalidMigration,
                    span,
                    format!(
                        "field `{}` is new and required, but cases that move past the steps that collect it would have no value",
                        field.id
                    ),
                )
                .with_help(format!(
                    "give it a `default`, or a value under `migrate.fields` (`{}: VALUE`)",
                    field.id
                )),
            );
        }
    }
    problems.sort_by_key(|d| (d.span.line, d.span.column));
    problems
}
