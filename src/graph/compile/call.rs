//! Compiling a task's `call:` of another SOP: the fields of this SOP it maps in and back.
//! The called SOP's side (does it exist, does it have the fields, do the types fit) is
//! checked when several SOPs are validated together ([`crate::graph::check_calls`]).

use crate::diagnostic::{Code, Diagnostic};
use crate::graph::Call;
use crate::model::{FieldId, Spanned, Step};

use super::Compiler;

impl Compiler<'_> {
    /// The checked `call` of task `step`, or `None` when it has none or it cannot work.
    pub(super) fn task_call(&mut self, step: &Step) -> Option<Call> {
        let call = step.call.as_ref()?;
        let mut valid = true;
        if let Some(each) = &step.for_each {
            valid = false;
            self.report(
                Diagnostic::new(
                    Code::InvalidCall,
                    each.span,
                    format!(
                        "task `{}` calls `{}` and runs once per item: a call starts one sub-case",
                        step.id.value, call.value.sop.value
                    ),
                )
                .with_related(call.span, "the call")
                .with_help("call the SOP from a task that runs once, or remove `for_each`"),
            );
        }
        if let Some(first) = step.collects.first() {
            valid = false;
            self.report(
                Diagnostic::new(
                    Code::InvalidCall,
                    first.span,
                    format!(
                        "task `{}` calls `{}` and collects fields of its own: the sub-case's fields come back through `returns`",
                        step.id.value, call.value.sop.value
                    ),
                )
                .with_related(call.span, "the call")
                .with_help("map the fields back with `returns: { field_here: field_of_the_called_sop }`, and remove `collects`"),
            );
        }
        let mut with = Vec::with_capacity(call.value.with.len());
        for (child, parent) in call.value.with.iter() {
            if self.known_field(step, parent, "with") {
                with.push((child.value.clone(), parent.value.clone()));
            } else {
                valid = false;
            }
        }
        let mut returns = Vec::with_capacity(call.value.returns.len());
        for (parent, child) in call.value.returns.iter() {
            if self.known_field(step, parent, "returns") {
                returns.push((parent.value.clone(), child.value.clone()));
                if let Some(spec) = self.fields.iter_mut().find(|f| f.id == parent.value)
                    && !spec.collected_by.contains(&step.id.value)
                {
                    spec.collected_by.push(step.id.value.clone());
                }
            } else {
                valid = false;
            }
        }
        valid.then(|| Call {
            sop: call.value.sop.value.clone(),
            with,
            returns,
        })
    }

    /// Whether a field of this SOP named in `call` exists; reports it with a suggestion
    /// when it does not.
    fn known_field(&mut self, step: &Step, field: &Spanned<FieldId>, key: &str) -> bool {
        if self.field_types.contains_key(&field.value) {
            self.used_fields.push(field.value.clone());
            return true;
        }
        let verb = if key == "with" { "from" } else { "into" };
        self.report_unknown_field(
            field,
            format!(
                "`call.{key}` of task `{}` copies a value {verb} `{}`, which is not a field of this SOP",
                step.id.value, field.value
            ),
        );
        false
    }
}
