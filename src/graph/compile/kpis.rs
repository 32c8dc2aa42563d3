//! Compiling `kpis:`: each KPI's kind from its keys, its steps and fields resolved, its
//! target and goal read as numbers.

use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{CaseMoment, Kpi, KpiGoal, KpiMeasure, NodeKind, PathTaken, SlaCount};
use crate::model::{
    CasePath, CasePoint, FieldId, FieldType, KpiId, KpiNumber, SlaScope, SopDuration, SourceSpan,
    Spanned, StepId,
};

use super::{Compiler, did_you_mean, with_optional_help};

/// The keys that each choose a kind of KPI; exactly one kind per KPI.
const KINDS: &str = "`from`/`to`, `mean`, `nps`, `sla` or `rate`";

impl Compiler<'_> {
    /// Compiles every KPI under `kpis:`, reporting every problem of every one.
    pub(super) fn compile_kpis(&mut self) {
        let sop = self.sop;
        for (id, kpi) in sop.kpis.iter() {
            if let Some(compiled) = self.compile_kpi(&id.value, id.span, kpi) {
                self.kpis.push(compiled);
            }
        }
    }

    fn compile_kpi(
        &mut self,
        id: &KpiId,
        span: SourceSpan,
        kpi: &crate::model::Kpi,
    ) -> Option<Kpi> {
        let mut kinds = Vec::new();
        if kpi.from.is_some() || kpi.to.is_some() {
            kinds.push("from/to");
        }
        for (present, name) in [
            (kpi.mean.is_some(), "mean"),
            (kpi.nps.is_some(), "nps"),
            (kpi.sla.is_some(), "sla"),
            (kpi.rate.is_some(), "rate"),
        ] {
            if present {
                kinds.push(name);
            }
        }
        match kinds.len() {
            0 => {
                self.invalid(
                    span,
                    format!("KPI `{id}` does not say what it measures"),
                    format!("give it one of {KINDS}, for example `{{ from: opened, to: closed, target: 3bd }}`"),
                );
                return None;
            }
            1 => {}
            _ => {
                self.invalid(
                    span,
                    format!(
                        "KPI `{id}` measures {} at once",
                        kinds
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                    "a KPI measures one thing: split it into one KPI per measure".to_owned(),
                );
                return None;
            }
        }
        let goal = self.kpi_goal(id, kpi);
        let measure = if kpi.from.is_some() || kpi.to.is_some() {
            self.duration_kpi(id, span, kpi)
        } else if let Some(field) = &kpi.mean {
            self.no_goal(id, kpi, "mean");
            let field = self.number_field(id, field, "mean");
            let target = self.number_target(id, kpi);
            field.map(|field| KpiMeasure::Mean { field, target })
        } else if let Some(field) = &kpi.nps {
            self.no_goal(id, kpi, "nps");
            let field = self.number_field(id, field, "nps");
            let target = self.number_target(id, kpi);
            if let Some(target) = target.filter(|t| !(-100.0..=100.0).contains(t))
                && let Some(written) = &kpi.target
            {
                self.invalid(
                    written.span,
                    format!(
                        "the target of KPI `{id}` is {target}, but an NPS lies between -100 and 100"
                    ),
                    "write the score to reach, such as `target: 30`".to_owned(),
                );
            }
            field.map(|field| KpiMeasure::Nps { field, target })
        } else if let Some(scope) = &kpi.sla {
            self.no_target(id, kpi, "sla");
            self.sla_count(id, scope).map(KpiMeasure::Sla)
        } else if let Some(path) = &kpi.rate {
            self.no_target(id, kpi, "rate");
            self.path_taken(id, path).map(KpiMeasure::Rate)
        } else {
            None
        }?;
        Some(Kpi {
            id: id.clone(),
            title: kpi
                .title
                .as_ref()
                .map_or_else(|| id.to_string(), |t| t.value.clone()),
            measure,
            goal: goal?,
        })
    }

    fn invalid(&mut self, span: SourceSpan, message: String, help: String) {
        self.report(Diagnostic::new(Code::InvalidKpi, span, message).with_help(help));
    }

    fn duration_kpi(
        &mut self,
        id: &KpiId,
        span: SourceSpan,
        kpi: &crate::model::Kpi,
    ) -> Option<KpiMeasure> {
        let (Some(from), Some(to)) = (&kpi.from, &kpi.to) else {
            let missing = if kpi.from.is_none() { "from" } else { "to" };
            self.invalid(
                span,
                format!("KPI `{id}` measures a duration but has no `{missing}`"),
                "a duration needs both ends: `from: opened` and `to: closed`, or a step's `{ activated: STEP }` or `{ completed: STEP }`".to_owned(),
            );
            return None;
        };
        if matches!(from.value, CasePoint::Closed) {
            self.invalid(
                from.span,
                format!("KPI `{id}` starts at `closed`, where a case ends"),
                "start the duration at `opened` or at a step".to_owned(),
            );
        }
        if matches!(to.value, CasePoint::Opened) {
            self.invalid(
                to.span,
                format!("KPI `{id}` ends at `opened`, where a case starts"),
                "end the duration at `closed` or at a step".to_owned(),
            );
        }
        let from_moment = self.case_moment(id, "from", from);
        let to_moment = self.case_moment(id, "to", to);
        let target = match &kpi.target {
            None => None,
            Some(written) => match &written.value {
                KpiNumber::Text(text) => match text.parse::<SopDuration>() {
                    Ok(duration) => Some(duration),
                    Err(error) => {
                        self.invalid(
                            written.span,
                            format!("the target of KPI `{id}` is not a duration: {error}"),
                            "write how long one case may take, such as `1h`, `4h` or `3bd`"
                                .to_owned(),
                        );
                        return None;
                    }
                },
                KpiNumber::Number(number) => {
                    self.invalid(
                        written.span,
                        format!("the target of KPI `{id}` is the number {number}, not a duration"),
                        format!("write it with its unit, such as `{number}h` or `{number}bd`"),
                    );
                    return None;
                }
            },
        };
        if target.is_none()
            && let Some(goal) = kpi.goal.as_ref().or(kpi.at_most.as_ref())
        {
            self.invalid(
                goal.span,
                format!("KPI `{id}` has a goal but no `target` for one case to meet"),
                "add the time one case may take, such as `target: 1h`".to_owned(),
            );
        }
        Some(KpiMeasure::Duration {
            from: from_moment?,
            to: to_moment?,
            target,
        })
    }

    fn case_moment(
        &mut self,
        id: &KpiId,
        key: &str,
        point: &Spanned<CasePoint>,
    ) -> Option<CaseMoment> {
        Some(match &point.value {
            CasePoint::Opened => CaseMoment::Opened,
            CasePoint::Closed => CaseMoment::Closed,
            CasePoint::Activated(step) => CaseMoment::Activated(self.kpi_step(id, key, step)?),
            CasePoint::Completed(step) => CaseMoment::Completed(self.kpi_step(id, key, step)?),
        })
    }

    /// A step a KPI points at: one that exists and that a case works on (a task or a
    /// gate), since decisions and splits pass at once and are never active.
    fn kpi_step(&mut self, id: &KpiId, key: &str, step: &Spanned<StepId>) -> Option<StepId> {
        let Some(&node) = self.steps.get(&step.value) else {
            self.unknown_kpi_step(id, key, step);
            return None;
        };
        if !matches!(
            self.graph[node].kind,
            NodeKind::Task(_) | NodeKind::Approval(_)
        ) {
            self.invalid(
                step.span,
                format!("`{key}` of KPI `{id}` names step `{}`, a decision or parallel split that is never active", step.value),
                "point it at a task or an approval gate".to_owned(),
            );
            return None;
        }
        Some(step.value.clone())
    }

    fn unknown_kpi_step(&mut self, id: &KpiId, key: &str, step: &Spanned<StepId>) {
        self.unresolved = true;
        let candidates: Vec<&str> = self.step_positions.keys().map(StepId::as_str).collect();
        let help = did_you_mean(step.as_str(), &candidates);
        self.report(with_optional_help(
            Diagnostic::new(
                Code::UnknownStep,
                step.span,
                format!(
                    "`{key}` of KPI `{id}` names step `{}`, which does not exist",
                    step.value
                ),
            ),
            help,
        ));
    }

    fn number_field(&mut self, id: &KpiId, field: &Spanned<FieldId>, key: &str) -> Option<FieldId> {
        let Some(&field_type) = self.field_types.get(&field.value) else {
            let candidates: Vec<&str> = self.field_types.keys().map(FieldId::as_str).collect();
            let help = did_you_mean(field.as_str(), &candidates);
            self.report(with_optional_help(
                Diagnostic::new(
                    Code::UnknownField,
                    field.span,
                    format!(
                        "`{key}` of KPI `{id}` reads field `{}`, which is not declared under `fields`",
                        field.value
                    ),
                ),
                help,
            ));
            return None;
        };
        self.used_fields.push(field.value.clone());
        if !matches!(field_type, FieldType::Integer | FieldType::Number) {
            let what = if key == "nps" {
                "an NPS is scored from a 0–10 rating"
            } else {
                "a mean is taken of numbers"
            };
            self.report(
                Diagnostic::new(
                    Code::KpiFieldType,
                    field.span,
                    format!(
                        "`{key}` of KPI `{id}` reads `{}`, a {} field, but {what}",
                        field.value,
                        field_type.as_str()
                    ),
                )
                .with_help(format!(
                    "point it at an integer or number field, or declare `{}` as `{{ type: integer, min: {}, max: {} }}`",
                    field.value,
                    if key == "nps" { 0 } else { 1 },
                    if key == "nps" { 10 } else { 5 },
                )),
            );
            return None;
        }
        if key == "nps"
            && let Some(spec) = self.fields.iter().find(|f| f.id == field.value)
            && (spec.min.is_some_and(|min| min < 0.0) || spec.max.is_some_and(|max| max > 10.0))
        {
            self.report(
                Diagnostic::new(
                    Code::KpiFieldType,
                    field.span,
                    format!(
                        "`nps` of KPI `{id}` reads `{}`, which may hold values outside 0–10",
                        field.value
                    ),
                )
                .with_help(format!(
                    "an NPS counts ratings 9–10 as promoters and 0–6 as detractors: give `{}` `min: 0` and `max: 10`",
                    field.value
                )),
            );
            return None;
        }
        Some(field.value.clone())
    }

    fn number_target(&mut self, id: &KpiId, kpi: &crate::model::Kpi) -> Option<f64> {
        let written = kpi.target.as_ref()?;
        match &written.value {
            KpiNumber::Number(number) if number.is_finite() => Some(*number),
            other => {
                self.invalid(
                    written.span,
                    format!("the target of KPI `{id}` is `{other}`, not a number"),
                    "write the value to reach as a plain number, such as `target: 4.5`".to_owned(),
                );
                None
            }
        }
    }

    /// `goal` and `at_most` do not go with a mean or a score: their `target` is the goal.
    fn no_goal(&mut self, id: &KpiId, kpi: &crate::model::Kpi, kind: &str) {
        if let Some(goal) = kpi.goal.as_ref().or(kpi.at_most.as_ref()) {
            self.invalid(
                goal.span,
                format!("KPI `{id}` is a `{kind}`, which has a `target` to reach but no share of cases as a goal"),
                "remove the goal and write the value to reach as `target`".to_owned(),
            );
        }
    }

    /// A `target` does not go with a share: the goal is the share.
    fn no_target(&mut self, id: &KpiId, kpi: &crate::model::Kpi, kind: &str) {
        if let Some(target) = &kpi.target {
            self.invalid(
                target.span,
                format!("KPI `{id}` is a `{kind}`, a share of cases, which has no `target`"),
                "write the share as `goal: 90%` (at least) or `at_most: 10%`".to_owned(),
            );
        }
    }

    /// The goal of a KPI: `Some(None)` without one, `None` when it does not read.
    fn kpi_goal(&mut self, id: &KpiId, kpi: &crate::model::Kpi) -> Option<Option<KpiGoal>> {
        if let (Some(_), Some(at_most)) = (&kpi.goal, &kpi.at_most) {
            self.invalid(
                at_most.span,
                format!("KPI `{id}` has both a `goal` and an `at_most`"),
                "keep `goal` when more is better and `at_most` when less is better".to_owned(),
            );
            return None;
        }
        let (written, at_least) = match (&kpi.goal, &kpi.at_most) {
            (Some(goal), _) => (goal, true),
            (None, Some(at_most)) => (at_most, false),
            (None, None) => return Some(None),
        };
        let share = match &written.value {
            KpiNumber::Text(text) => text
                .trim()
                .strip_suffix('%')
                .and_then(|number| number.trim().parse::<f64>().ok())
                .filter(|percent| (0.0..=100.0).contains(percent)),
            KpiNumber::Number(_) => None,
        };
        let Some(percent) = share else {
            let key = if at_least { "goal" } else { "at_most" };
            self.invalid(
                written.span,
                format!(
                    "the `{key}` of KPI `{id}` is `{}`, not a percentage from 0% to 100%",
                    written.value
                ),
                format!("write the share of cases with `%`, such as `{key}: 90%`"),
            );
            return None;
        };
        let fraction = percent / 100.0;
        Some(Some(if at_least {
            KpiGoal::AtLeast(fraction)
        } else {
            KpiGoal::AtMost(fraction)
        }))
    }

    fn sla_count(&mut self, id: &KpiId, scope: &Spanned<SlaScope>) -> Option<SlaCount> {
        match &scope.value {
            SlaScope::Case => {
                if self.sop.sla.is_none() {
                    self.invalid(
                        scope.span,
                        format!("KPI `{id}` counts the case's service level, but the SOP has no `sla`"),
                        "add `sla: { resolve_within: 3bd }` to the SOP, or count the steps' with `sla: steps`".to_owned(),
                    );
                    return None;
                }
                Some(SlaCount::Case)
            }
            SlaScope::Steps => {
                if !self.sop.steps.iter().any(|step| step.due.is_some()) {
                    self.invalid(
                        scope.span,
                        format!(
                            "KPI `{id}` counts the steps' service levels, but no step has a `due`"
                        ),
                        "give the steps a `due`, or count the case's with `sla: case`".to_owned(),
                    );
                    return None;
                }
                Some(SlaCount::Steps)
            }
            SlaScope::Step(step) => {
                let Some(position) = self.step_positions.get(&step.value).copied() else {
                    self.unknown_kpi_step(id, "sla", step);
                    return None;
                };
                if self.sop.steps[position].due.is_none() {
                    self.invalid(
                        step.span,
                        format!(
                            "KPI `{id}` counts the service level of step `{}`, which has no `due`",
                            step.value
                        ),
                        format!("give step `{}` a `due`, or count another step", step.value),
                    );
                    return None;
                }
                Some(SlaCount::Step(step.value.clone()))
            }
        }
    }

    fn path_taken(&mut self, id: &KpiId, path: &Spanned<CasePath>) -> Option<PathTaken> {
        Some(match &path.value {
            CasePath::Escalated => PathTaken::Escalated,
            CasePath::Reworked => PathTaken::Reworked,
            CasePath::Reopened => PathTaken::Reopened,
            CasePath::Reached(step) => {
                if !self.steps.contains_key(&step.value) {
                    self.unknown_kpi_step(id, "rate", step);
                    return None;
                }
                PathTaken::Reached(step.value.clone())
            }
        })
    }
}
