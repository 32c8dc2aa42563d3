//! Checking calls across SOPs: each task's `call:` against the SOP it calls, when several
//! SOPs are validated together (`sop validate sops/`). One SOP alone checks only its own
//! side, in the compiler: the fields it maps in and back exist.

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Field, FieldId, FieldType, Sop, Spanned};

use super::compile::did_you_mean;

/// Checks every `call` of every SOP in `sops` against the SOP it calls among them: that
/// it is there, that the fields it maps exist on its side, and that each value fits the
/// field it is copied into. Returns each problem with the index of the SOP it is in,
/// located at the `call` key that names it.
///
/// With several versions of the called SOP, the latest is checked: it is the one a
/// sub-case starts on.
pub fn check_calls(sops: &[&Sop]) -> Vec<(usize, Diagnostic)> {
    let mut problems = Vec::new();
    for (index, sop) in sops.iter().enumerate() {
        for step in &sop.steps {
            let Some(call) = &step.call else {
                continue;
            };
            let called_id = &call.value.sop;
            let Some(called) = sops
                .iter()
                .filter(|s| s.id.value == called_id.value)
                .max_by_key(|s| s.version.value)
            else {
                let ids: Vec<&str> = sops.iter().map(|s| s.id.value.as_str()).collect();
                let help = did_you_mean(called_id.value.as_str(), &ids).unwrap_or_else(|| {
                    format!(
                        "validate the called SOP's file with this one, or correct the id: the SOPs checked are {}",
                        ids.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", ")
                    )
                });
                problems.push((
                    index,
                    Diagnostic::new(
                        Code::InvalidCall,
                        called_id.span,
                        format!(
                            "task `{}` calls SOP `{}`, which is not among the SOPs checked",
                            step.id.value, called_id.value
                        ),
                    )
                    .with_help(help),
                ));
                continue;
            };
            let here = |field: &FieldId| sop.fields.get(field);
            let there = |field: &FieldId| called.fields.get(field);
            // `with: { child: parent }` copies a value from here to there, `returns: {
            // parent: child }` from there back here: both pair a field of each side.
            let with = (call.value.with.iter()).map(|(child, parent)| ("with", child, parent));
            let returns =
                (call.value.returns.iter()).map(|(parent, child)| ("returns", child, parent));
            for (key, child, parent) in with.chain(returns) {
                let theirs = field_of(
                    called,
                    child,
                    there(&child.value),
                    &mut problems,
                    index,
                    step.id.value.as_str(),
                    key,
                );
                let (Some(theirs), Some(ours)) = (theirs, here(&parent.value)) else {
                    continue;
                };
                let (from, into) = if key == "with" {
                    (ours, theirs)
                } else {
                    (theirs, ours)
                };
                check_fit(
                    from,
                    into,
                    child,
                    &parent.value,
                    called,
                    &mut problems,
                    index,
                );
            }
        }
    }
    problems
}

/// The called SOP's field `name`, or a located problem with a suggestion.
fn field_of<'a>(
    called: &Sop,
    name: &Spanned<FieldId>,
    found: Option<&'a Field>,
    problems: &mut Vec<(usize, Diagnostic)>,
    index: usize,
    step: &str,
    key: &str,
) -> Option<&'a Field> {
    if found.is_some() {
        return found;
    }
    let candidates: Vec<&str> = called.fields.keys().map(|k| k.value.as_str()).collect();
    let help = did_you_mean(name.value.as_str(), &candidates).unwrap_or_else(|| {
        format!(
            "the fields of `{}` are {}",
            called.id.value,
            candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    problems.push((
        index,
        Diagnostic::new(
            Code::InvalidCall,
            name.span,
            format!(
                "`call.{key}` of task `{step}` names `{}`, which is not a field of SOP `{}`",
                name.value, called.id.value
            ),
        )
        .with_help(help),
    ));
    None
}

/// Whether a value of `from` always fits a field of `into`: the same type, a whole number
/// into a number, a choice, e-mail or person into text, and a choice or multi-choice
/// into one whose options include all of its own.
fn fits(from: &Field, into: &Field) -> bool {
    use FieldType::*;
    let options = |f: &Field| -> Vec<String> {
        f.options
            .as_ref()
            .map(|o| o.value.iter().map(|s| s.value.clone()).collect())
            .unwrap_or_default()
    };
    match (from.field_type.value, into.field_type.value) {
        (Choice, Choice) | (MultiChoice, MultiChoice) | (Choice, MultiChoice) => {
            let allowed = options(into);
            options(from).iter().all(|o| allowed.contains(o))
        }
        (a, b) if a == b => true,
        (Integer, Number) | (Choice | Email | Person, Text) => true,
        _ => false,
    }
}

/// Reports a value copied between fields of types that do not fit, at the key written in
/// the call (`at`), naming both fields.
fn check_fit(
    from: &Field,
    into: &Field,
    at: &Spanned<FieldId>,
    parent: &FieldId,
    called: &Sop,
    problems: &mut Vec<(usize, Diagnostic)>,
    index: usize,
) {
    if fits(from, into) {
        return;
    }
    let same = from.field_type.value == into.field_type.value;
    let message = if same {
        format!(
            "`{}` and `{parent}` are both {} fields, but not every option of the one it is copied from is an option of the other (SOP `{}`)",
            at.value,
            from.field_type.value.as_str(),
            called.id.value
        )
    } else {
        format!(
            "a {} value cannot go into a {} field: `{}` of SOP `{}` and `{parent}` of this one do not fit",
            from.field_type.value.as_str(),
            into.field_type.value.as_str(),
            at.value,
            called.id.value
        )
    };
    problems.push((
        index,
        Diagnostic::new(Code::InvalidCall, at.span, message).with_help(
            "map fields of the same type (a whole number may go into a number, a choice, e-mail or person into text), or change one field's type",
        ),
    ));
}
