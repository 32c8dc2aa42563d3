//! Compiling who a step goes to beyond its role: `assignee`, `same_performer_as` and
//! `separate_from`.

use crate::diagnostic::{Code, Diagnostic};
use crate::graph::StepPeople;
use crate::model::{FieldType, Spanned, Step, StepId};

use super::{Compiler, did_you_mean, with_optional_help};

impl Compiler<'_> {
    /// The checked people keys of `step`; `gate_count` is the approvals a gate needs (`None`
    /// for a task). Keys that do not apply to the step's kind are reported elsewhere.
    pub(super) fn step_people(&mut self, step: &Step, gate_count: Option<u32>) -> StepPeople {
        let mut people = StepPeople::default();
        if let Some(field) = &step.assignee {
            match self.field_types.get(&field.value) {
                None => {
                    self.report_unknown_field(
                        field,
                        format!(
                            "`assignee` of step `{}` names `{}`, which is not a field",
                            step.id.value, field.value
                        ),
                    );
                }
                Some(FieldType::Person) => people.assignee = Some(field.value.clone()),
                Some(other) => self.report(
                    Diagnostic::new(
                        Code::InvalidAssignment,
                        field.span,
                        format!(
                            "`assignee` of step `{}` names `{}`, a {} field; it needs a `person` field",
                            step.id.value,
                            field.value,
                            other.as_str()
                        ),
                    )
                    .with_help(format!(
                        "declare `{}` with `type: person`, holding the id of whoever performs the step",
                        field.value
                    )),
                ),
            }
        }
        if let Some(earlier) = &step.same_performer_as {
            if let Some(field) = &step.assignee {
                self.report(
                    Diagnostic::new(
                        Code::ConflictingKeys,
                        earlier.span,
                        format!(
                            "step `{}` has both `assignee: {}` and `same_performer_as`; it can go to one person only",
                            step.id.value, field.value
                        ),
                    )
                    .with_help("keep the one that says who performs the step"),
                );
            } else if self.names_a_task(step, earlier, "same_performer_as") {
                people.same_performer_as = Some(earlier.value.clone());
            }
        }
        for separate in &step.separate_from {
            if self.names_a_task(step, separate, "separate_from")
                && !people.separate_from.contains(&separate.value)
            {
                people.separate_from.push(separate.value.clone());
            }
        }
        if let Some(count) = gate_count
            && count > 1
            && people.goes_to_a_person()
        {
            let span = step
                .assignee
                .as_ref()
                .map(|s| s.span)
                .or(step.same_performer_as.as_ref().map(|s| s.span))
                .unwrap_or(step.id.span);
            self.report(
                Diagnostic::new(
                    Code::InvalidAssignment,
                    span,
                    format!(
                        "gate `{}` needs {count} approvals but goes to one person",
                        step.id.value
                    ),
                )
                .with_help("drop `count`, or let the gate's role decide it"),
            );
        }
        people
    }

    /// Whether `named` (written under `key` of `step`) is a task other than `step`;
    /// reports it if not.
    fn names_a_task(&mut self, step: &Step, named: &Spanned<StepId>, key: &str) -> bool {
        let Some(&position) = self.step_positions.get(&named.value) else {
            let candidates: Vec<&str> = self.step_positions.keys().map(StepId::as_str).collect();
            let help = did_you_mean(named.as_str(), &candidates);
            self.report(with_optional_help(
                Diagnostic::new(
                    Code::UnknownStep,
                    named.span,
                    format!(
                        "`{key}` of step `{}` names step `{}`, which does not exist",
                        step.id.value, named.value
                    ),
                ),
                help,
            ));
            self.unresolved = true;
            return false;
        };
        let target = &self.sop.steps[position];
        let problem = if named.value == step.id.value {
            Some("the step itself")
        } else if target.approval.is_some() {
            Some("an approval gate")
        } else if target.decide.is_some() {
            Some("a decision")
        } else if target.parallel.is_some() {
            Some("a parallel split")
        } else {
            None
        };
        if let Some(problem) = problem {
            self.report(
                Diagnostic::new(
                    Code::InvalidAssignment,
                    named.span,
                    format!(
                        "`{key}` of step `{}` names `{}`, which is {problem}; it needs a task someone performs",
                        step.id.value, named.value
                    ),
                )
                .with_help("name the task whose performer matters here"),
            );
            return false;
        }
        true
    }
}
