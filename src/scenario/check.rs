//! A scenario file checked against the compiled SOP before anything runs, so that a typo
//! is reported where it is written rather than as a puzzling failure later.

use crate::diagnostic::{Code, Diagnostic};
use crate::engine::CommandError;
use crate::graph::{NodeKind, Process, check_field_value};
use crate::model::{FieldId, FieldValue, OrderedMap, SourceSpan, Spanned};

use super::{Expect, NOTIFICATION_KINDS, ScenarioFile, ScenarioStep, suggest};

/// Every problem of a scenario file against the SOP it tests, in source order: unknown
/// steps, fields, roles, actors, refusal kinds, notification kinds and statuses (each
/// with "did you mean"), start times that do not read, values that do not fit their field,
/// steps with no action or two.
pub fn check(process: &Process, file: &ScenarioFile) -> Vec<Diagnostic> {
    let mut checker = Checker {
        process,
        file,
        out: Vec::new(),
    };
    checker.run();
    checker.out.sort_by_key(|d| d.span);
    checker.out
}

struct Checker<'a> {
    process: &'a Process,
    file: &'a ScenarioFile,
    out: Vec<Diagnostic>,
}

const ACTIONS: &[&str] = &[
    "complete",
    "approve",
    "reject",
    "escalate",
    "cancel_step",
    "claim",
    "assign",
    "transfer",
    "postpone",
    "note",
    "set",
    "pause",
    "resume",
    "cancel",
    "reopen",
    "sub_case_completes",
    "sub_case_cancelled",
    "wait",
    "expect",
];

const STATUSES: &[&str] = &["open", "closed", "cancelled"];
const CASE_SLA: &[&str] = &["on-time", "warned", "breached"];

impl Checker<'_> {
    fn run(&mut self) {
        let roles: Vec<&str> = self.process.roles().iter().map(|r| r.id.as_str()).collect();
        for (_, held) in self.file.actors.iter() {
            for role in held {
                if !roles.contains(&role.as_str()) {
                    self.out.push(
                        Diagnostic::new(
                            Code::UnknownRole,
                            role.span,
                            format!("role `{}` is not a role of the SOP", role.value),
                        )
                        .with_help(suggest(
                            role,
                            &roles,
                            "roles of the SOP",
                        )),
                    );
                }
            }
        }
        for scenario in &self.file.scenarios {
            let start = &scenario.start;
            if let Some(at) = &start.at
                && chrono::DateTime::parse_from_rfc3339(at).is_err()
            {
                self.out.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        at.span,
                        format!("`{}` is not a time", at.value),
                    )
                    .with_help(
                        "write an RFC 3339 time with its offset, like `2026-01-05T09:00:00Z`",
                    ),
                );
            }
            self.actor(&start.actor);
            self.fields(&start.fields);
            for step in &scenario.steps {
                self.step(step);
            }
        }
    }

    fn role(&mut self, role: &Spanned<String>) {
        let roles: Vec<&str> = self.process.roles().iter().map(|r| r.id.as_str()).collect();
        if !roles.contains(&role.as_str()) {
            self.out.push(
                Diagnostic::new(
                    Code::UnknownRole,
                    role.span,
                    format!("role `{}` is not a role of the SOP", role.value),
                )
                .with_help(suggest(role, &roles, "roles of the SOP")),
            );
        }
    }

    fn actor(&mut self, actor: &Spanned<String>) {
        if self.file.actors.get(&actor.value).is_none() {
            let names: Vec<&str> = self.file.actors.keys().map(|k| k.as_str()).collect();
            self.out.push(
                Diagnostic::new(
                    Code::UnknownActor,
                    actor.span,
                    format!("actor `{}` is not declared under `actors`", actor.value),
                )
                .with_help(suggest(actor, &names, "actors")),
            );
        }
    }

    fn step_id(&mut self, step: &Spanned<String>) {
        if step
            .parse::<crate::model::StepId>()
            .ok()
            .and_then(|id| self.process.step(&id))
            .is_none()
        {
            let names: Vec<&str> = self
                .process
                .nodes()
                .filter(|(_, n)| matches!(n.kind, NodeKind::Task(_) | NodeKind::Approval(_)))
                .filter_map(|(_, n)| n.step.as_ref().map(|s| s.as_str()))
                .collect();
            self.out.push(
                Diagnostic::new(
                    Code::UnknownStep,
                    step.span,
                    format!("step `{}` is not a step of the SOP", step.value),
                )
                .with_help(suggest(step, &names, "steps")),
            );
        }
    }

    fn fields(&mut self, fields: &OrderedMap<String, FieldValue>) {
        for (name, value) in fields.iter() {
            self.field(name, Some(value));
        }
    }

    fn field(&mut self, name: &Spanned<String>, value: Option<&FieldValue>) {
        let spec = name
            .parse::<FieldId>()
            .ok()
            .and_then(|id| self.process.field(&id));
        let Some(spec) = spec else {
            let names: Vec<&str> = self
                .process
                .fields()
                .iter()
                .map(|f| f.id.as_str())
                .collect();
            self.out.push(
                Diagnostic::new(
                    Code::UnknownField,
                    name.span,
                    format!("field `{}` is not a field of the SOP", name.value),
                )
                .with_help(suggest(name, &names, "fields")),
            );
            return;
        };
        if let Some(value) = value
            && let Err(problem) = check_field_value(spec, value)
        {
            let help = if spec.options.is_empty() {
                format!("`{}` is a {} field", spec.id, spec.field_type.as_str())
            } else {
                format!(
                    "the options of `{}` are {}",
                    spec.id,
                    spec.options.join(", ")
                )
            };
            self.out.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    name.span,
                    format!(
                        "the value of `{}` does not fit the field: {problem}",
                        name.value
                    ),
                )
                .with_help(help),
            );
        }
    }

    fn one_of(&mut self, written: &Spanned<String>, allowed: &[&str], what: &str, whats: &str) {
        if !allowed.contains(&written.as_str()) {
            self.out.push(
                Diagnostic::new(
                    Code::UnknownScenarioName,
                    written.span,
                    format!("`{}` is not a {what}", written.value),
                )
                .with_help(suggest(written, allowed, whats)),
            );
        }
    }

    fn step(&mut self, step: &Spanned<ScenarioStep>) {
        let s = &step.value;
        let present: Vec<&str> = [
            ("complete", s.complete.is_some()),
            ("approve", s.approve.is_some()),
            ("reject", s.reject.is_some()),
            ("escalate", s.escalate.is_some()),
            ("cancel_step", s.cancel_step.is_some()),
            ("sub_case_completes", s.sub_case_completes.is_some()),
            ("sub_case_cancelled", s.sub_case_cancelled.is_some()),
            ("claim", s.claim.is_some()),
            ("assign", s.assign.is_some()),
            ("transfer", s.transfer.is_some()),
            ("postpone", s.postpone.is_some()),
            ("note", s.note.is_some()),
            ("set", s.set.is_some()),
            ("pause", s.pause.is_some()),
            ("resume", s.resume.is_some()),
            ("cancel", s.cancel.is_some()),
            ("reopen", s.reopen.is_some()),
            ("wait", s.wait.is_some()),
            ("expect", s.expect.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, here)| here.then_some(name))
        .collect();
        let action = match present.as_slice() {
            [one] => *one,
            [] => {
                self.out.push(
                    Diagnostic::new(
                        Code::InvalidScenarioStep,
                        step.span,
                        "this scenario step does nothing: it has no action",
                    )
                    .with_help(format!("start it with one of {}", ACTIONS.join(", "))),
                );
                return;
            }
            [first, second, ..] => {
                self.out.push(
                    Diagnostic::new(
                        Code::InvalidScenarioStep,
                        step.span,
                        format!("this scenario step both does `{first}` and `{second}`"),
                    )
                    .with_help("write one action per step, as two list items"),
                );
                return;
            }
        };
        // The keys that go with each action; any other is a mistake worth pointing at.
        let allowed: &[&str] = match action {
            "complete" => &["as", "fields", "item", "refused"],
            // The sub-case's fields: the called SOP's, checked by its own file.
            "sub_case_completes" => &["fields", "refused"],
            "sub_case_cancelled" => &["refused"],
            "approve" => &["as", "comment", "refused"],
            "reject" | "cancel_step" => &["as", "reason", "refused"],
            "escalate" => &["as", "reason", "item", "refused"],
            "assign" | "transfer" => &["as", "to", "item", "refused"],
            "postpone" => &["as", "for", "item", "refused"],
            "claim" => &["as", "item", "refused"],
            "wait" | "expect" => &[],
            _ => &["as", "refused"],
        };
        let extras: [(&str, Option<SourceSpan>); 8] = [
            ("item", s.item.as_ref().map(|i| i.span)),
            ("as", s.actor.as_ref().map(|a| a.span)),
            ("fields", s.fields.as_ref().map(|f| f.span)),
            ("reason", s.reason.as_ref().map(|r| r.span)),
            ("comment", s.comment.as_ref().map(|c| c.span)),
            ("to", s.to.as_ref().map(|t| t.span)),
            ("refused", s.refused.as_ref().map(|r| r.span)),
            ("for", s.hold_for.as_ref().map(|f| f.span)),
        ];
        for (key, span) in extras {
            if let Some(span) = span
                && !allowed.contains(&key)
            {
                let goes_with = match key {
                    "fields" => "`complete` and `sub_case_completes`",
                    "reason" => "`reject`, `escalate` and `cancel_step`",
                    "comment" => "`approve`",
                    "to" => "`assign` and `transfer`",
                    "for" => "`postpone`",
                    "item" => {
                        "the actions on a step: `complete`, `escalate`, `claim`, `assign`, `transfer`, `postpone`"
                    }
                    _ => "an action",
                };
                self.out.push(
                    Diagnostic::new(
                        Code::InvalidScenarioStep,
                        span,
                        format!("`{key}` does not go with `{action}`"),
                    )
                    .with_help(format!("`{key}` goes with {goes_with}")),
                );
            }
        }
        for needed in ["reason"] {
            if matches!(action, "reject" | "escalate" | "cancel_step") && s.reason.is_none() {
                self.out.push(
                    Diagnostic::new(
                        Code::InvalidScenarioStep,
                        step.span,
                        format!("`{action}` needs a `{needed}`"),
                    )
                    .with_help(format!("add `{needed}: …`, as the person would write it")),
                );
            }
        }
        if action == "transfer" && s.to.is_none() {
            self.out.push(
                Diagnostic::new(
                    Code::InvalidScenarioStep,
                    step.span,
                    "`transfer` needs `to`",
                )
                .with_help("add `to: ROLE`, a role of the SOP"),
            );
        }
        if action == "postpone" && s.hold_for.is_none() {
            self.out.push(
                Diagnostic::new(
                    Code::InvalidScenarioStep,
                    step.span,
                    "`postpone` needs `for`",
                )
                .with_help("add how long the step is on hold, like `for: 2h`"),
            );
        }
        if action == "assign" && s.to.is_none() {
            self.out.push(
                Diagnostic::new(Code::InvalidScenarioStep, step.span, "`assign` needs `to`")
                    .with_help("add `to: ACTOR`, an actor of the file"),
            );
        }
        for target in [
            &s.complete,
            &s.approve,
            &s.reject,
            &s.escalate,
            &s.cancel_step,
            &s.sub_case_completes,
            &s.sub_case_cancelled,
            &s.claim,
            &s.assign,
            &s.transfer,
            &s.postpone,
        ]
        .into_iter()
        .flatten()
        {
            self.step_id(target);
        }
        if let Some(actor) = &s.actor {
            self.actor(actor);
        }
        if let Some(to) = &s.to {
            if action == "transfer" {
                self.role(to);
            } else {
                self.actor(to);
            }
        }
        if let Some(fields) = &s.fields
            && s.sub_case_completes.is_none()
        {
            self.fields(fields);
        }
        if let Some(fields) = &s.set {
            self.fields(fields);
        }
        if let Some(kind) = &s.refused {
            self.one_of(kind, CommandError::KINDS, "refusal kind", "refusal kinds");
        }
        if let Some(expect) = &s.expect {
            self.expect(expect);
        }
    }

    fn expect(&mut self, expect: &Expect) {
        for list in [
            &expect.active,
            &expect.breached,
            &expect.warned,
            &expect.path,
        ]
        .into_iter()
        .flatten()
        {
            for step in &list.value {
                self.step_id_or_decision(step);
            }
        }
        if let Some(status) = &expect.status {
            self.one_of(status, STATUSES, "case status", "case statuses");
        }
        if let Some(case_sla) = &expect.case_sla {
            self.one_of(
                case_sla,
                CASE_SLA,
                "state of the case's service level",
                "states of the case's service level",
            );
        }
        if let Some(notified) = &expect.notified {
            for notification in &notified.value {
                let to = &notification.to;
                let is_role = self
                    .process
                    .roles()
                    .iter()
                    .any(|r| r.id.as_str() == to.as_str());
                if !is_role && self.file.actors.get(&to.value).is_none() {
                    let mut names: Vec<&str> =
                        self.process.roles().iter().map(|r| r.id.as_str()).collect();
                    names.extend(self.file.actors.keys().map(|k| k.as_str()));
                    self.out.push(
                        Diagnostic::new(
                            Code::UnknownActor,
                            to.span,
                            format!(
                                "`{}` is neither a role of the SOP nor an actor of the file",
                                to.value
                            ),
                        )
                        .with_help(suggest(to, &names, "roles and actors")),
                    );
                }
                if let Some(kind) = &notification.kind {
                    self.one_of(
                        kind,
                        NOTIFICATION_KINDS,
                        "notification kind",
                        "notification kinds",
                    );
                }
                if let Some(step) = &notification.step {
                    self.step_id(step);
                }
            }
        }
        if let Some(fields) = &expect.fields {
            self.fields(fields);
        }
        if let Some(may_act) = &expect.may_act {
            for (step, actors) in may_act.iter() {
                self.step_id(step);
                for actor in actors {
                    self.actor(actor);
                }
            }
        }
    }

    /// A step of `path`, `active` or `breached`: decisions belong on a path too.
    fn step_id_or_decision(&mut self, step: &Spanned<String>) {
        let is_decision = step
            .parse::<crate::model::StepId>()
            .ok()
            .and_then(|id| self.process.step(&id))
            .is_some_and(|node| matches!(self.process.node(node).kind, NodeKind::Decision(_)));
        if !is_decision {
            self.step_id(step);
        }
    }
}
