//! The compiler proper: resolves names, builds the graph, then runs the lints.

mod branching;
mod call;
mod kpis;
mod migration;
mod people;
mod service_levels;

use std::collections::{BTreeMap, HashMap};

use petgraph::graph::{DiGraph, NodeIndex};

use super::condition::{Condition, ConditionProblemKind};
use super::lints;
use super::template::Template;
use super::template::TemplateError;
use super::{
    ApprovalGate, CaseServiceLevel, Decision, EdgeKind, FieldSpec, Join, NamedCalendar, Node,
    NodeKind, Process, Role, Split, Task,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{
    Approval, CalendarId, FieldId, FieldType, FieldValue, RoleId, Sop, SourceSpan, Spanned, Step,
    StepId,
};

/// The result of compiling an SOP: the process when there is no error, and every
/// diagnostic (errors and warnings) in source order.
#[derive(Debug)]
pub struct Compilation {
    /// The compiled process; `None` when any diagnostic is an error.
    pub process: Option<Process>,
    /// Every problem found, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

/// Compiles an SOP into a [`Process`], collecting every problem.
///
/// ```
/// let sop = sopflow::parse::parse_sop("t.yaml", "
/// id: hello
/// version: 1
/// title: Say hello
/// department: Customer Service
/// roles: { agent: Support team member }
/// steps:
///   - { id: greet, title: Greet the customer, role: agent, nxt: done }
/// ");
/// assert!(sop.is_err()); // `nxt` is not a key: the parser says so
///
/// let sop = sopflow::parse::parse_sop("t.yaml", "
/// id: hello
/// version: 1
/// title: Say hello
/// department: Customer Service
/// roles: { agent: Support team member }
/// steps:
///   - { id: greet, title: Greet the customer, role: agent, next: done }
/// ").unwrap();
/// let compilation = sopflow::graph::compile(&sop);
/// assert!(compilation.process.is_none());
/// assert_eq!(compilation.diagnostics[0].code.name(), "unknown-step");
/// ```
pub fn compile(sop: &Sop) -> Compilation {
    compile_with_source(sop, None)
}

/// Like [`compile`], with the text the SOP was parsed from: a problem inside a multi-line
/// text (a `|` or `>` block) is then located on its own line and column, not at the start
/// of the block.
pub fn compile_with_source(sop: &Sop, source: Option<&str>) -> Compilation {
    compile_checked(sop, source, true)
}

/// Compiles an SOP that passed [`compile`] before (a version a store saved), without the
/// lints: they cost most of a compile and cannot change what the process is. Name
/// resolution still runs, so a text that does not resolve still yields no process. A
/// case keeps running on its stored version even if a newer lint would flag it.
pub fn compile_trusted(sop: &Sop) -> Compilation {
    compile_checked(sop, None, false)
}

fn compile_checked(sop: &Sop, source: Option<&str>, lint: bool) -> Compilation {
    let mut compiler = Compiler::new(sop);
    compiler.source = source;
    compiler.compile_fields();
    compiler.compile_calendars();
    compiler.index_steps();
    compiler.build_nodes();
    compiler.build_edges();
    compiler.index_branch_regions();
    compiler.compile_case_sla();
    compiler.compile_kpis();
    compiler.check_reviewed_fields();
    compiler.compile_migration();
    let resolved = !compiler.unresolved;
    let mut diagnostics = std::mem::take(&mut compiler.diagnostics);
    if lint {
        diagnostics.extend(lints::run(sop, &compiler.lint_input(), resolved));
    }
    diagnostics.sort_by(|a, b| {
        (a.span.line, a.span.column, a.code).cmp(&(b.span.line, b.span.column, b.code))
    });
    let process = if diagnostics.iter().any(Diagnostic::is_error) {
        None
    } else {
        Some(compiler.into_process())
    };
    Compilation {
        process,
        diagnostics,
    }
}

/// What the lints need from compilation besides the model.
pub(super) struct LintInput<'a> {
    pub graph: &'a DiGraph<Node, EdgeKind>,
    pub start: NodeIndex,
    pub end: NodeIndex,
    pub steps: &'a HashMap<StepId, NodeIndex>,
    pub used_fields: &'a [FieldId],
    pub source: Option<&'a str>,
}

struct Compiler<'a> {
    sop: &'a Sop,
    /// The text the SOP was parsed from, when known.
    source: Option<&'a str>,
    diagnostics: Vec<Diagnostic>,
    /// True when a reference failed to resolve: graph-shape lints would only echo it.
    unresolved: bool,
    fields: Vec<FieldSpec>,
    field_types: BTreeMap<FieldId, FieldType>,
    /// The options of each choice and multi-choice field.
    field_options: BTreeMap<FieldId, Vec<String>>,
    used_fields: Vec<FieldId>,
    /// First definition of each step id, by position in `sop.steps`.
    step_positions: HashMap<StepId, usize>,
    graph: DiGraph<Node, EdgeKind>,
    start: NodeIndex,
    end: NodeIndex,
    steps: HashMap<StepId, NodeIndex>,
    /// Edges into a join step go to its split's join node instead.
    join_redirect: HashMap<StepId, NodeIndex>,
    /// Conditions compiled so far, by their text.
    conditions: HashMap<String, Result<Condition, Vec<super::ConditionProblem>>>,
    /// For each decision, the index in `Decision::conditions` of each arm's condition.
    arm_conditions: HashMap<StepId, Vec<Option<usize>>>,
    /// The calendars that compiled, in document order.
    calendars: Vec<NamedCalendar>,
    /// Calendars with errors, already reported where they are defined.
    unresolved_calendars: Vec<CalendarId>,
    /// The SOP's `calendar:`, or round the clock.
    default_calendar: NamedCalendar,
    case_sla: Option<CaseServiceLevel>,
    migration: Option<super::MigrationPlan>,
    kpis: Vec<super::Kpi>,
}

impl<'a> Compiler<'a> {
    fn new(sop: &'a Sop) -> Compiler<'a> {
        let mut graph = DiGraph::with_capacity(sop.steps.len() + 2, sop.steps.len() * 2);
        let start = graph.add_node(Node {
            step: None,
            title: None,
            kind: NodeKind::Start,
            span: sop.id.span,
        });
        let end = graph.add_node(Node {
            step: None,
            title: None,
            kind: NodeKind::End,
            span: SourceSpan::UNKNOWN,
        });
        Compiler {
            sop,
            source: None,
            diagnostics: Vec::new(),
            unresolved: false,
            fields: Vec::new(),
            field_types: BTreeMap::new(),
            field_options: BTreeMap::new(),
            used_fields: Vec::new(),
            step_positions: HashMap::new(),
            graph,
            start,
            end,
            steps: HashMap::new(),
            join_redirect: HashMap::new(),
            arm_conditions: HashMap::new(),
            conditions: HashMap::new(),
            calendars: Vec::new(),
            unresolved_calendars: Vec::new(),
            default_calendar: NamedCalendar::round_the_clock(),
            case_sla: None,
            migration: None,
            kpis: Vec::new(),
        }
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn compile_fields(&mut self) {
        for (id, field) in self.sop.fields.iter() {
            let field_type = *field.field_type;
            let options: Vec<String> = field
                .options
                .as_ref()
                .map(|o| o.iter().map(|s| s.value.clone()).collect())
                .unwrap_or_default();
            let is_choice = matches!(field_type, FieldType::Choice | FieldType::MultiChoice);
            match (&field.options, is_choice) {
                (None, true) => self.report(
                    Diagnostic::new(
                        Code::InvalidField,
                        field.field_type.span,
                        format!(
                            "{} field `{}` has no `options`",
                            field_type.as_str(),
                            id.value
                        ),
                    )
                    .with_help("list the allowed values: `options: [High, Medium, Low]`"),
                ),
                (Some(list), false) => self.report(
                    Diagnostic::new(
                        Code::InvalidField,
                        list.span,
                        format!(
                            "`options` only apply to choice fields, and `{}` is {}",
                            id.value,
                            field_type.as_str()
                        ),
                    )
                    .with_help("make the field `type: choice`, or remove `options`"),
                ),
                (Some(list), true) => {
                    let mut seen: HashMap<&str, SourceSpan> = HashMap::new();
                    for option in list.iter() {
                        if let Some(first) = seen.insert(option.as_str(), option.span) {
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidField,
                                    option.span,
                                    format!("option `{}` is listed twice", option.value),
                                )
                                .with_related(first, "first listed here"),
                            );
                        }
                    }
                }
                (None, false) => {}
            }
            if let (Some(min), Some(max)) = (&field.min, &field.max)
                && min.value > max.value
            {
                self.report(
                    Diagnostic::new(
                        Code::InvalidField,
                        max.span,
                        format!(
                            "`max` ({}) is below `min` ({}) for field `{}`",
                            max.value, min.value, id.value
                        ),
                    )
                    .with_related(min.span, "min set here"),
                );
            }
            if let Some(default) = &field.default
                && let Err(reason) = check_value(
                    field_type,
                    &options,
                    field.min.as_deref().copied(),
                    field.max.as_deref().copied(),
                    default,
                )
            {
                let code = if is_choice {
                    Code::DefaultNotAnOption
                } else {
                    Code::InvalidField
                };
                let mut diagnostic = Diagnostic::new(
                    code,
                    default.span,
                    format!("default of field `{}` is invalid: {reason}", id.value),
                );
                if is_choice && !options.is_empty() {
                    diagnostic =
                        diagnostic.with_help(format!("use one of {}", quoted_list(&options)));
                }
                self.report(diagnostic);
            }
            let editable_by = self.editors(id, &field.editable_by);
            self.field_types.insert(id.value.clone(), field_type);
            if is_choice {
                self.field_options.insert(id.value.clone(), options.clone());
            }
            self.fields.push(FieldSpec {
                id: id.value.clone(),
                field_type,
                label: field
                    .label
                    .as_ref()
                    .map_or_else(|| id.value.to_string(), |l| l.value.clone()),
                required: field.required,
                default: field.default.as_ref().map(|d| d.value.clone()),
                min: field.min.as_deref().copied(),
                max: field.max.as_deref().copied(),
                options,
                editable_by,
                collected_by: Vec::new(),
            });
        }
    }

    /// Resolves a field's `editable_by` roles, reporting unknown and repeated ones.
    fn editors(&mut self, field: &Spanned<FieldId>, roles: &[Spanned<RoleId>]) -> Vec<RoleId> {
        let mut editors: Vec<RoleId> = Vec::with_capacity(roles.len());
        let mut seen: HashMap<&RoleId, SourceSpan> = HashMap::new();
        for role in roles {
            if let Some(first) = seen.insert(&role.value, role.span) {
                self.report(
                    Diagnostic::new(
                        Code::InvalidField,
                        role.span,
                        format!(
                            "role `{}` is listed twice in `editable_by` of field `{}`",
                            role.value, field.value
                        ),
                    )
                    .with_related(first, "first listed here"),
                );
                continue;
            }
            editors.push(self.role(role));
        }
        editors
    }

    /// Four eyes over fields: the approvers of a gate may not be able to change, outside
    /// its step, a field that a step the gate reviews collects.
    fn check_reviewed_fields(&mut self) {
        let sop = self.sop;
        for gate in &sop.steps {
            let Some(approval) = &gate.approval else {
                continue;
            };
            for reviewed in &approval.reviews {
                let Some(&position) = self.step_positions.get(&reviewed.value) else {
                    continue;
                };
                for collected in &sop.steps[position].collects {
                    let Some(field) = sop.fields.get(&collected.value) else {
                        continue;
                    };
                    let approvers = approval.approver_roles();
                    let Some(editor) = field
                        .editable_by
                        .iter()
                        .find(|r| approvers.iter().any(|a| a.value == r.value))
                    else {
                        continue;
                    };
                    self.report(
                        Diagnostic::new(
                            Code::EditableByReviewer,
                            editor.span,
                            format!(
                                "field `{}` is collected by `{}`, which gate `{}` reviews, so its approvers (`{}`) may not edit it",
                                collected.value, reviewed.value, gate.id.value, editor.value
                            ),
                        )
                        .with_related(approval.by.span, "the gate's approvers")
                        .with_help(format!(
                            "an approver who can change the work under review defeats the four-eyes rule; remove `{}` from `editable_by`",
                            editor.value
                        )),
                    );
                }
            }
        }
    }

    fn index_steps(&mut self) {
        for (position, step) in self.sop.steps.iter().enumerate() {
            if let Some(&first) = self.step_positions.get(&step.id.value) {
                // Flow through the duplicate is ambiguous; shape lints would only echo this.
                self.unresolved = true;
                let first_span = self.sop.steps[first].id.span;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateStep,
                        step.id.span,
                        format!("step id `{}` is defined twice", step.id.value),
                    )
                    .with_related(first_span, "first defined here")
                    .with_help("step ids must be unique within an SOP; rename one of them"),
                );
            } else {
                self.step_positions.insert(step.id.value.clone(), position);
            }
        }
        self.check_renames();
        if self.sop.steps.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::MissingKey,
                    self.sop.title.span,
                    "the SOP has no steps",
                )
                .with_help("add at least one step under `steps:`"),
            );
        }
    }

    /// `renamed_from` must name a step of the previous version only: an id still used
    /// here, or claimed by two steps, would map one old step to two new ones.
    fn check_renames(&mut self) {
        let mut claimed: HashMap<&StepId, SourceSpan> = HashMap::new();
        for step in &self.sop.steps {
            let Some(old) = &step.renamed_from else {
                continue;
            };
            if let Some(&position) = self.step_positions.get(&old.value) {
                let existing = self.sop.steps[position].id.span;
                let message = if old.value == step.id.value {
                    format!("step `{}` says it was renamed from itself", step.id.value)
                } else {
                    format!(
                        "step `{}` says it was renamed from `{}`, which is still a step of this version",
                        step.id.value, old.value
                    )
                };
                self.report(
                    Diagnostic::new(Code::InvalidRename, old.span, message)
                        .with_related(existing, "still defined here")
                        .with_help(
                            "`renamed_from` names the id the step had in the previous version; remove it, or rename the other step",
                        ),
                );
            } else if let Some(&first) = claimed.get(&old.value) {
                self.report(
                    Diagnostic::new(
                        Code::InvalidRename,
                        old.span,
                        format!(
                            "step `{}` was already renamed from `{}` by another step",
                            step.id.value, old.value
                        ),
                    )
                    .with_related(first, "first claimed here")
                    .with_help("one step of the previous version becomes one step of this version; keep one `renamed_from`"),
                );
            } else {
                claimed.insert(&old.value, old.span);
            }
        }
    }

    /// Creates one node per (first-defined) step, compiling its titles, conditions and kind.
    fn build_nodes(&mut self) {
        let sop = self.sop;
        for (position, step) in sop.steps.iter().enumerate() {
            if self.step_positions.get(&step.id.value) != Some(&position) {
                continue;
            }
            let title = self.template(step.title.as_ref());
            let kind = self.step_kind(step);
            let index = self.graph.add_node(Node {
                step: Some(step.id.value.clone()),
                title,
                kind,
                span: step.id.span,
            });
            self.steps.insert(step.id.value.clone(), index);
        }
        // Join nodes come after the steps so step indices follow document order.
        for step in &sop.steps {
            let (Some(branches), Some(join)) = (&step.parallel, &step.join) else {
                continue;
            };
            if self
                .step_positions
                .get(&step.id.value)
                .map(|&p| &sop.steps[p].id.span)
                != Some(&step.id.span)
            {
                continue;
            }
            let join_node = self.graph.add_node(Node {
                step: None,
                title: None,
                kind: NodeKind::Join(Join {
                    split: step.id.value.clone(),
                    branches: branches.len(),
                }),
                span: join.span,
            });
            if let Some(&split) = self.steps.get(&step.id.value)
                && let NodeKind::Split(split_kind) = &mut self.graph[split].kind
            {
                split_kind.join = join_node;
            }
            if self
                .join_redirect
                .insert(join.value.clone(), join_node)
                .is_some()
            {
                self.report(
                    Diagnostic::new(
                        Code::ConflictingKeys,
                        join.span,
                        format!(
                            "step `{}` is already the join of another parallel split",
                            join.value
                        ),
                    )
                    .with_help("give each parallel split its own join step"),
                );
            }
        }
    }

    fn template(&mut self, text: Option<&Spanned<String>>) -> Option<Template> {
        let text = text?;
        match Template::parse(text) {
            Ok(template) => {
                for field in template.fields() {
                    if self.field_types.contains_key(field) {
                        self.used_fields.push(field.clone());
                    } else {
                        let help = self.suggest_field(field.as_str());
                        let offset = template_offset(text, field.as_str());
                        let help = help.or_else(|| {
                            let fields: Vec<String> =
                                self.field_types.keys().map(|f| format!("`{f}`")).collect();
                            Some(format!(
                                "declare `{field}` under `fields`, or use a field of this SOP: {}",
                                fields.join(", ")
                            ))
                        });
                        self.report(with_optional_help(
                            Diagnostic::new(
                                Code::TemplateUnknownField,
                                placeholder_span(self.source, text, offset),
                                format!("template `{{{{ {field} }}}}` names no field of this SOP"),
                            ),
                            help,
                        ));
                    }
                }
                Some(template)
            }
            Err(error) => {
                let (at, help) = match &error {
                    TemplateError::Unclosed { at } => (
                        text[..*at].chars().count(),
                        "close it with `}}`: `{{ field_name }}`; to show braces as text, leave a space between them",
                    ),
                    TemplateError::NotAField { inner } => (
                        template_offset(text, inner),
                        "between `{{` and `}}` goes the id of a field declared under `fields`",
                    ),
                };
                self.report(
                    Diagnostic::new(
                        Code::TemplateUnknownField,
                        placeholder_span(self.source, text, at),
                        error.to_string(),
                    )
                    .with_help(help),
                );
                None
            }
        }
    }

    fn step_kind(&mut self, step: &Step) -> NodeKind {
        let kinds: Vec<(StepShape, SourceSpan)> = [
            step.approval
                .as_ref()
                .map(|a| (StepShape::Approval, a.span)),
            step.decide.as_ref().map(|d| (StepShape::Decision, d.span)),
            step.parallel.as_ref().map(|p| (StepShape::Split, p.span)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() > 1 {
            self.report(
                Diagnostic::new(
                    Code::ConflictingKeys,
                    kinds[1].1,
                    format!("step `{}` has both `{}` and `{}`", step.id.value, kinds[0].0.key(), kinds[1].0.key()),
                )
                .with_related(kinds[0].1, "first kind given here")
                .with_help("a step is one thing: a task, an approval, a decision or a parallel split; split it in two"),
            );
        }
        let shape = kinds.first().map_or(StepShape::Task, |k| k.0);
        self.check_allowed_keys(step, shape);
        let instructions = self.template(step.instructions.as_ref());
        if let Some(approval) = &step.approval {
            let by = self.approvers(step, approval);
            let count = approval.count.as_ref().map_or(1, |c| c.value);
            if let Some(c) = &approval.count
                && c.value == 0
            {
                self.report(Diagnostic::new(
                    Code::InvalidValue,
                    c.span,
                    "an approval needs at least 1 approver (`count: 0`)",
                ));
            }
            let people = self.step_people(step, Some(count.max(1)));
            return NodeKind::Approval(ApprovalGate {
                by,
                count: count.max(1),
                reviews: approval.reviews.iter().map(|r| r.value.clone()).collect(),
                instructions,
                timers: self.step_timers(step),
                people,
            });
        }
        if let Some(arms) = &step.decide {
            let mut conditions = Vec::new();
            let mut arm_conditions = Vec::with_capacity(arms.len());
            for arm in arms.iter() {
                let compiled = match (&arm.condition, &arm.goto, &arm.otherwise) {
                    (Some(condition), Some(_), None) => self.condition(condition),
                    _ => None,
                };
                arm_conditions.push(compiled.map(|c| {
                    conditions.push(c);
                    conditions.len() - 1
                }));
            }
            self.arm_conditions
                .insert(step.id.value.clone(), arm_conditions);
            return NodeKind::Decision(Decision { conditions });
        }
        if let Some(branches) = &step.parallel {
            let (conditions, wait_for) = self.split_branching(step, branches);
            return NodeKind::Split(Split {
                join: NodeIndex::end(),
                conditions,
                wait_for,
                inside: Vec::new(),
                nested: Vec::new(),
            });
        }
        let role = match &step.role {
            Some(role) => self.role(role),
            None => {
                self.report(
                    Diagnostic::new(
                        Code::MissingKey,
                        step.id.span,
                        format!("task `{}` has no `role`", step.id.value),
                    )
                    .with_help("say who performs the step: `role: agent`"),
                );
                RoleId::new("unknown").unwrap_or_else(|_| unreachable!("`unknown` is a valid id"))
            }
        };
        if step.title.is_none() {
            self.report(
                Diagnostic::new(
                    Code::MissingKey,
                    step.id.span,
                    format!("task `{}` has no `title`", step.id.value),
                )
                .with_help("give the step a short title that says what is done"),
            );
        }
        let mut collects = Vec::new();
        for field in &step.collects {
            if self.field_types.contains_key(&field.value) {
                self.used_fields.push(field.value.clone());
                collects.push(field.value.clone());
                if let Some(spec) = self.fields.iter_mut().find(|f| f.id == field.value)
                    && !spec.collected_by.contains(&step.id.value)
                {
                    spec.collected_by.push(step.id.value.clone());
                }
            } else {
                self.report_unknown_field(
                    field,
                    format!(
                        "step `{}` collects `{}`, which is not a field",
                        step.id.value, field.value
                    ),
                );
            }
        }
        let people = self.step_people(step, None);
        let for_each = self.task_for_each(step);
        let call = self.task_call(step);
        // Whoever completes a call task by hand (its sub-case was cancelled) gives the
        // values the sub-case would have returned.
        if let Some(call) = &call {
            collects.extend(call.returns.iter().map(|(parent, _)| parent.clone()));
        }
        NodeKind::Task(Task {
            role,
            instructions,
            collects,
            timers: self.step_timers(step),
            people,
            terminates: step.terminate.as_ref().is_some_and(|t| t.value),
            for_each,
            call,
        })
    }

    /// Keys that make no sense on this kind of step.
    fn check_allowed_keys(&mut self, step: &Step, shape: StepShape) {
        let present: [(&str, Option<SourceSpan>); 21] = [
            ("role", step.role.as_ref().map(|s| s.span)),
            ("collects", step.collects.first().map(|s| s.span)),
            ("after", step.after.as_ref().map(|s| s.span)),
            ("on_escalate", step.on_escalate.as_ref().map(|s| s.span)),
            ("due", step.due.as_ref().map(|s| s.span)),
            ("warn", step.warn.as_ref().map(|s| s.span)),
            ("overdue", step.overdue.as_ref().map(|s| s.span)),
            ("pausable", step.pausable.as_ref().map(|s| s.span)),
            ("calendar", step.calendar.as_ref().map(|s| s.span)),
            ("next", step.next.as_ref().map(|s| s.span)),
            ("end", step.end.as_ref().map(|s| s.span)),
            ("join", step.join.as_ref().map(|s| s.span)),
            ("assignee", step.assignee.as_ref().map(|s| s.span)),
            (
                "same_performer_as",
                step.same_performer_as.as_ref().map(|s| s.span),
            ),
            ("separate_from", step.separate_from.first().map(|s| s.span)),
            ("terminate", step.terminate.as_ref().map(|s| s.span)),
            ("when", step.when.keys().next().map(|s| s.span)),
            ("wait_for", step.wait_for.as_ref().map(|s| s.span)),
            ("for_each", step.for_each.as_ref().map(|s| s.span)),
            ("on_cancel", step.on_cancel.as_ref().map(|s| s.span)),
            ("call", step.call.as_ref().map(|s| s.span)),
        ];
        let allowed: &[&str] = match shape {
            StepShape::Task => &[
                "role",
                "collects",
                "after",
                "on_escalate",
                "due",
                "warn",
                "overdue",
                "pausable",
                "calendar",
                "next",
                "end",
                "assignee",
                "same_performer_as",
                "separate_from",
                "terminate",
                "for_each",
                "wait_for",
                "on_cancel",
                "call",
            ],
            StepShape::Approval => &[
                "due",
                "warn",
                "overdue",
                "pausable",
                "calendar",
                "next",
                "end",
                "assignee",
                "same_performer_as",
                "on_cancel",
            ],
            StepShape::Decision => &[],
            StepShape::Split => &["join", "when", "wait_for"],
        };
        for (key, span) in present {
            if let Some(span) = span
                && !allowed.contains(&key)
            {
                let what = shape.described();
                if key == "on_cancel" {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidCancel,
                            span,
                            format!("`on_cancel` does not apply to {what}: it is never active, so there is nothing to cancel"),
                        )
                        .with_help("put `on_cancel` on the task or approval gate that may be cancelled"),
                    );
                    continue;
                }
                let help = match (shape, key) {
                    (StepShape::Approval, "role") => {
                        "the approvers' role goes in `approval: { by: ... }`".to_owned()
                    }
                    (StepShape::Decision, "next" | "end") => {
                        "a decision continues through its `goto`/`else` arms".to_owned()
                    }
                    (StepShape::Split, "next") => {
                        "after the branches, the case continues at `join:`".to_owned()
                    }
                    (StepShape::Task, "join" | "when") => {
                        format!("`{key}` belongs on a step with `parallel:`")
                    }
                    (StepShape::Approval, "for_each" | "wait_for") => {
                        "only a task runs once per item; put `for_each` on the task before the gate".to_owned()
                    }
                    (_, "call") => {
                        "only a task calls another SOP: put `call` on a task (with the role that follows up if the sub-case is cancelled) before or after this step".to_owned()
                    }
                    (StepShape::Approval, "separate_from") => {
                        "a gate names the steps whose performers may not decide it in `approval: { reviews: [...] }`".to_owned()
                    }
                    _ => format!("remove `{key}` from step `{}`", step.id.value),
                };
                self.report(
                    Diagnostic::new(
                        Code::ConflictingKeys,
                        span,
                        format!("`{key}` does not apply to {what}"),
                    )
                    .with_help(help),
                );
            }
        }
        if shape == StepShape::Split && step.join.is_none() {
            self.report(
                Diagnostic::new(
                    Code::MissingKey,
                    step.id.span,
                    format!("parallel split `{}` has no `join`", step.id.value),
                )
                .with_help("name the step where the branches meet: `join: report`"),
            );
        }
    }

    /// The roles under a gate's `by`: each declared, none twice, at least one.
    fn approvers(&mut self, step: &Step, approval: &Approval) -> Vec<RoleId> {
        let mut roles: Vec<RoleId> = Vec::new();
        let mut first_spans: Vec<SourceSpan> = Vec::new();
        for role in approval.approver_roles() {
            if let Some(first) = roles.iter().position(|r| *r == role.value) {
                self.report(
                    Diagnostic::new(
                        Code::InvalidApprovers,
                        role.span,
                        format!(
                            "gate `{}` lists the role `{}` twice under `by`",
                            step.id.value, role.value
                        ),
                    )
                    .with_related(first_spans[first], "first listed here")
                    .with_help(format!("remove the second `{}`", role.value)),
                );
                continue;
            }
            first_spans.push(role.span);
            roles.push(self.role(&role));
        }
        if roles.is_empty() {
            let declared: Vec<&str> = self.sop.roles.keys().map(|k| k.as_str()).collect();
            self.report(
                Diagnostic::new(
                    Code::InvalidApprovers,
                    approval.by.span,
                    format!(
                        "gate `{}` has no approvers: `by` is an empty list",
                        step.id.value
                    ),
                )
                .with_help(if declared.is_empty() {
                    "name the role whose holders decide: `by: team_lead`".to_owned()
                } else {
                    format!(
                        "name at least one role whose holders decide; the declared roles are {}",
                        quoted_list(&declared)
                    )
                }),
            );
            roles.push(
                RoleId::new("unknown").unwrap_or_else(|_| unreachable!("`unknown` is a valid id")),
            );
        }
        roles
    }

    fn role(&mut self, role: &Spanned<RoleId>) -> RoleId {
        if self.sop.roles.get(&role.value).is_none() {
            let candidates: Vec<&str> = self.sop.roles.keys().map(|k| k.as_str()).collect();
            let help = did_you_mean(role.as_str(), &candidates).or_else(|| {
                (!candidates.is_empty())
                    .then(|| format!("declared roles are {}", quoted_list(&candidates)))
            });
            self.report(with_optional_help(
                Diagnostic::new(
                    Code::UnknownRole,
                    role.span,
                    format!("role `{}` is not declared under `roles`", role.value),
                ),
                help,
            ));
        }
        role.value.clone()
    }

    /// Reports `field`, named where a field id belongs, as no field of the SOP, with the
    /// nearest field id as a suggestion.
    fn report_unknown_field(&mut self, field: &Spanned<FieldId>, message: String) {
        let help = self.suggest_field(field.as_str());
        self.report(with_optional_help(
            Diagnostic::new(Code::UnknownField, field.span, message),
            help,
        ));
    }

    fn suggest_field(&self, name: &str) -> Option<String> {
        let candidates: Vec<&str> = self.field_types.keys().map(FieldId::as_str).collect();
        did_you_mean(name, &candidates)
    }

    fn condition(&mut self, text: &Spanned<String>) -> Option<Condition> {
        // The same condition is often written on many decisions; compile it once.
        let compiled = match self.conditions.get(text.as_str()) {
            Some(cached) => cached.clone(),
            None => {
                let compiled =
                    Condition::compile_with_options(text, &self.field_types, &self.field_options);
                self.conditions.insert(text.value.clone(), compiled.clone());
                compiled
            }
        };
        match compiled {
            Ok(condition) => {
                self.used_fields.extend(condition.fields().iter().cloned());
                Some(condition.in_zone(self.default_calendar.calendar.zone()))
            }
            Err(problems) => {
                for problem in problems {
                    let code = match problem.kind {
                        ConditionProblemKind::Syntax => Code::ConditionSyntax,
                        ConditionProblemKind::UnknownVariable => Code::ConditionUnknownField,
                        ConditionProblemKind::TypeMismatch => Code::ConditionTypeMismatch,
                        ConditionProblemKind::NotAnOption => Code::ConditionNotAnOption,
                        ConditionProblemKind::UnknownFunction => Code::ConditionUnknownFunction,
                    };
                    let span = span_within(self.source, text, problem.offset);
                    let mut diagnostic = Diagnostic::new(code, span, problem.message.clone());
                    if let Some(help) = &problem.help {
                        diagnostic = diagnostic.with_help(help.clone());
                    } else if problem.kind == ConditionProblemKind::UnknownVariable {
                        let name = problem.message.split('`').nth(1).unwrap_or_default();
                        diagnostic = with_optional_help(diagnostic, self.suggest_field(name));
                    } else if problem.kind == ConditionProblemKind::TypeMismatch {
                        diagnostic = diagnostic.with_help("choice, text, e-mail and date fields are text (`priority == \"High\"`); integer and number fields are numbers; bool fields are `true`/`false`");
                    }
                    self.report(diagnostic);
                }
                None
            }
        }
    }

    fn resolve(&mut self, from: &StepId, key: &str, target: &Spanned<StepId>) -> Option<NodeIndex> {
        if matches!(
            key,
            "on_overdue" | "overdue" | "on_timeout" | "on_escalate" | "on_cancel"
        ) && &target.value == from
        {
            let what = match key {
                "on_overdue" | "overdue" => "when it is overdue",
                "on_timeout" => "when its timer fires",
                "on_cancel" => "when it is cancelled",
                _ => "when it is escalated",
            };
            self.report(
                Diagnostic::new(
                    Code::EscalationToItself,
                    target.span,
                    format!("`{key}` of step `{from}` names the step itself, so {what} the case stays where it is"),
                )
                .with_help(if key == "on_cancel" {
                    "point `on_cancel` at the step the case goes on to when this one is dropped, such as the one after it".to_owned()
                } else {
                    format!("point `{key}` at the step that should take over, such as one for a team leader")
                }),
            );
        }
        match self.steps.get(&target.value) {
            Some(&node) => Some(node),
            None => {
                self.unresolved = true;
                let candidates: Vec<&str> =
                    self.step_positions.keys().map(StepId::as_str).collect();
                let name = target.as_str();
                let is_role = self.sop.roles.keys().any(|r| r.value.as_str() == name);
                let is_field = self.sop.fields.keys().any(|f| f.value.as_str() == name);
                let help = if is_role || is_field {
                    let what = if is_role { "a role" } else { "a field" };
                    Some(format!(
                        "`{name}` is {what}, not a step; `{key}` names the step to go to{}",
                        nearest_steps(name, &candidates)
                            .map_or(String::new(), |list| format!(", such as {list}"))
                    ))
                } else {
                    match (
                        did_you_mean(name, &candidates),
                        nearest_steps(name, &candidates),
                    ) {
                        (Some(best), Some(list)) => {
                            Some(format!("{best} the nearest step ids are {list}"))
                        }
                        (best, None) => best,
                        (None, Some(list)) => Some(format!("the nearest step ids are {list}")),
                    }
                };
                self.report(with_optional_help(
                    Diagnostic::new(
                        Code::UnknownStep,
                        target.span,
                        format!(
                            "`{key}` of step `{from}` names step `{}`, which does not exist",
                            target.value
                        ),
                    ),
                    help,
                ));
                None
            }
        }
    }

    /// Adds an edge, routing edges into a join step through its join node.
    fn edge(&mut self, from: NodeIndex, to: NodeIndex, kind: EdgeKind) {
        let to = match &self.graph[to].step {
            Some(step) if !matches!(self.graph[from].kind, NodeKind::Join(_)) => {
                self.join_redirect.get(step).copied().unwrap_or(to)
            }
            _ => to,
        };
        self.graph.add_edge(from, to, kind);
    }

    fn build_edges(&mut self) {
        let sop = self.sop;
        if let Some(first) = sop
            .steps
            .first()
            .and_then(|s| self.steps.get(&s.id.value).copied())
        {
            let start = self.start;
            self.edge(start, first, EdgeKind::Next);
        }
        for (position, step) in sop.steps.iter().enumerate() {
            if self.step_positions.get(&step.id.value) != Some(&position) {
                continue;
            }
            let Some(&node) = self.steps.get(&step.id.value) else {
                continue;
            };
            let id = &step.id.value;
            if let Some(arms) = &step.decide {
                self.decision_edges(node, step, arms);
                continue;
            }
            if let Some(branches) = &step.parallel {
                self.parallel_edges(node, step, branches);
                continue;
            }
            let forward = if step.approval.is_some() {
                EdgeKind::Approved
            } else {
                EdgeKind::Next
            };
            self.continuation(node, position, step, forward);
            if let Some(approval) = &step.approval {
                if let Some(target) = self.resolve(id, "on_reject", &approval.on_reject) {
                    self.edge(node, target, EdgeKind::Rejected);
                }
                for reviewed in &approval.reviews {
                    self.resolve(id, "reviews", reviewed);
                }
            }
            self.timer_edges(node, step);
            if let Some(target) = &step.on_escalate
                && let Some(target) = self.resolve(id, "on_escalate", target)
            {
                self.edge(node, target, EdgeKind::Escalate);
            }
            if let Some(target) = &step.on_cancel
                && let Some(target) = self.resolve(id, "on_cancel", target)
            {
                self.edge(node, target, EdgeKind::Cancelled);
            }
        }
        // Each join leads to its join step.
        for step in &sop.steps {
            if let (Some(join), Some(_)) = (&step.join, &step.parallel)
                && let Some(&join_node) = self.join_redirect.get(&join.value)
                && matches!(self.graph[join_node].kind, NodeKind::Join(ref j) if j.split == step.id.value)
                && let Some(target) = self.resolve(&step.id.value, "join", join)
            {
                self.graph.add_edge(join_node, target, EdgeKind::Next);
            }
        }
    }

    /// `next`, `end`, or the following step in the list.
    fn continuation(&mut self, node: NodeIndex, position: usize, step: &Step, kind: EdgeKind) {
        let terminates = step.terminate.as_ref().filter(|t| t.value);
        let ends = step.end.as_ref().is_some_and(|e| e.value) || terminates.is_some();
        match (&step.next, ends) {
            (Some(next), true) => {
                let (key, end_span) = match (&step.end, terminates) {
                    (Some(end), _) if end.value => ("end: true", end.span),
                    (_, Some(terminate)) => ("terminate: true", terminate.span),
                    _ => ("end: true", next.span),
                };
                self.report(
                    Diagnostic::new(
                        Code::ConflictingKeys,
                        next.span,
                        format!("step `{}` has both `next` and `{key}`", step.id.value),
                    )
                    .with_related(end_span, "`end` given here")
                    .with_help("a step either ends the case or continues; remove one"),
                );
            }
            (Some(next), false) => {
                if let Some(target) = self.resolve(&step.id.value, "next", next) {
                    self.edge(node, target, kind);
                }
            }
            (None, true) => {
                let end = self.end;
                self.edge(node, end, kind);
            }
            (None, false) => match self.sop.steps.get(position + 1) {
                Some(following) => {
                    if let Some(&target) = self.steps.get(&following.id.value) {
                        self.edge(node, target, kind);
                    }
                }
                None => self.report(
                    Diagnostic::new(
                        Code::NoPathToEnd,
                        step.id.span,
                        format!("step `{}` is the last step but neither ends the case nor says where to go", step.id.value),
                    )
                    .with_help("add `end: true` to close the case here, or `next:` to continue elsewhere"),
                ),
            },
        }
    }

    fn timer_edges(&mut self, node: NodeIndex, step: &Step) {
        let id = &step.id.value;
        let ladder_move = step
            .overdue
            .as_ref()
            .and_then(|levels| levels.iter().rev().find_map(|level| level.goto.as_ref()));
        if let Some(target) = ladder_move
            && step.on_overdue.is_none()
            && let Some(target) = self.resolve(id, "overdue", target)
        {
            self.edge(node, target, EdgeKind::Overdue);
        }
        match (&step.due, &step.on_overdue) {
            (Some(_), Some(target)) => {
                if let Some(target) = self.resolve(id, "on_overdue", target) {
                    self.edge(node, target, EdgeKind::Overdue);
                }
            }
            (None, Some(target)) => {
                self.resolve(id, "on_overdue", target);
                self.report(
                    Diagnostic::new(
                        Code::TimerWithoutDuration,
                        target.span,
                        format!(
                            "step `{id}` has `on_overdue` but no `due`, so it can never be overdue"
                        ),
                    )
                    .with_help("add `due: 4h` (or another duration) to the step"),
                );
            }
            _ => {}
        }
        match (&step.after, &step.on_timeout) {
            (Some(_), Some(target)) => {
                if let Some(target) = self.resolve(id, "on_timeout", target) {
                    self.edge(node, target, EdgeKind::Timeout);
                }
            }
            (None, Some(target)) => {
                self.resolve(id, "on_timeout", target);
                self.report(
                    Diagnostic::new(
                        Code::TimerWithoutDuration,
                        target.span,
                        format!(
                            "step `{id}` has `on_timeout` but no `after`, so the timer never fires"
                        ),
                    )
                    .with_help("add `after: 3d` (or another duration) to the step"),
                );
            }
            (Some(after), None) => self.report(
                Diagnostic::new(
                    Code::TimerWithoutDuration,
                    after.span,
                    format!("step `{id}` has an `after` timer but no `on_timeout` target"),
                )
                .with_help("say where the case goes when the timer wins: `on_timeout: close`"),
            ),
            (None, None) => {}
        }
    }

    fn decision_edges(
        &mut self,
        node: NodeIndex,
        step: &Step,
        arms: &Spanned<Vec<crate::model::DecisionArm>>,
    ) {
        let id = &step.id.value;
        let arm_conditions = self.arm_conditions.remove(id).unwrap_or_default();
        let mut has_else = false;
        for (position, arm) in arms.iter().enumerate() {
            match (&arm.condition, &arm.goto, &arm.otherwise) {
                (Some(condition), Some(goto), None) => {
                    let target = self.resolve(id, "goto", goto);
                    match (target, arm_conditions.get(position).copied().flatten()) {
                        (Some(target), Some(index)) => {
                            self.edge(node, target, EdgeKind::Condition(index))
                        }
                        // A condition that did not compile leaves the graph incomplete.
                        (_, None) => self.unresolved = true,
                        (None, Some(_)) => {}
                    }
                    if has_else {
                        self.report(
                            Diagnostic::new(
                                Code::DecisionWithoutElse,
                                condition.span,
                                "this condition comes after `else`, so it is never tried",
                            )
                            .with_help("move `else` to the end of the decision"),
                        );
                    }
                }
                (None, None, Some(otherwise)) => {
                    if has_else {
                        self.report(Diagnostic::new(
                            Code::DecisionWithoutElse,
                            otherwise.span,
                            format!("decision `{id}` has more than one `else`"),
                        ));
                    }
                    has_else = true;
                    if let Some(target) = self.resolve(id, "else", otherwise) {
                        self.edge(node, target, EdgeKind::Else);
                    }
                }
                (Some(condition), None, _) => self.report(
                    Diagnostic::new(
                        Code::MissingKey,
                        condition.span,
                        "this condition has no `goto`",
                    )
                    .with_help("write `- if: '...'` and `goto: step` in the same arm"),
                ),
                (None, Some(goto), _) => self.report(
                    Diagnostic::new(
                        Code::MissingKey,
                        goto.span,
                        "this `goto` has no `if` condition",
                    )
                    .with_help("add `if: '...'`, or write `else: step` for the fallback"),
                ),
                (Some(condition), Some(_), Some(_)) => self.report(
                    Diagnostic::new(
                        Code::ConflictingKeys,
                        condition.span,
                        "an arm has `if`, `goto` and `else` together",
                    )
                    .with_help("put `else` in an arm of its own, last"),
                ),
                (None, None, None) => self.report(Diagnostic::new(
                    Code::MissingKey,
                    arms.span,
                    format!("decision `{id}` has an empty arm"),
                )),
            }
        }
        if !has_else {
            self.report(
                Diagnostic::new(
                    Code::DecisionWithoutElse,
                    step.decide.as_ref().map_or(step.id.span, |d| d.span),
                    format!("decision `{id}` has no `else`: when no condition holds the case has nowhere to go"),
                )
                .with_help("add a last arm `- else: step` for when no condition holds"),
            );
        }
    }

    fn parallel_edges(
        &mut self,
        node: NodeIndex,
        step: &Step,
        branches: &Spanned<Vec<Spanned<StepId>>>,
    ) {
        if branches.len() < 2 {
            self.report(
                Diagnostic::new(
                    Code::InvalidValue,
                    branches.span,
                    format!(
                        "parallel split `{}` needs at least two branches",
                        step.id.value
                    ),
                )
                .with_help("with one branch, use `next:` instead"),
            );
        }
        for branch in branches.iter() {
            if let Some(target) = self.resolve(&step.id.value, "parallel", branch) {
                self.graph.add_edge(node, target, EdgeKind::Branch);
            }
        }
    }

    fn lint_input(&self) -> LintInput<'_> {
        LintInput {
            graph: &self.graph,
            start: self.start,
            end: self.end,
            steps: &self.steps,
            used_fields: &self.used_fields,
            source: self.source,
        }
    }

    fn into_process(self) -> Process {
        let sop = self.sop;
        let field_index = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.id.clone(), i))
            .collect();
        Process {
            id: sop.id.value.clone(),
            version: sop.version.value,
            title: sop.title.value.clone(),
            department: sop.department.value.clone(),
            purpose: sop.purpose.as_ref().map(|p| p.value.clone()),
            terms: sop
                .terms
                .iter()
                .map(|(k, v)| (k.value.0.clone(), v.value.clone()))
                .collect(),
            roles: sop
                .roles
                .iter()
                .map(|(k, v)| Role {
                    id: k.value.clone(),
                    description: v.value.clone(),
                })
                .collect(),
            fields: self.fields,
            field_index,
            outgoing: super::outgoing_edges(&self.graph),
            graph: self.graph,
            start: self.start,
            end: self.end,
            steps: self.steps.into_iter().collect(),
            calendars: self.calendars,
            default_calendar: self.default_calendar,
            case_sla: self.case_sla,
            migration: self.migration,
            renamed: sop
                .steps
                .iter()
                .filter_map(|s| Some((s.renamed_from.as_ref()?.value.clone(), s.id.value.clone())))
                .collect(),
            kpis: self.kpis,
        }
    }
}

/// What a step is, as its keys say: the key that makes it so, and how to name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepShape {
    Task,
    Approval,
    Decision,
    Split,
}

impl StepShape {
    fn key(self) -> &'static str {
        match self {
            StepShape::Task => "role",
            StepShape::Approval => "approval",
            StepShape::Decision => "decide",
            StepShape::Split => "parallel",
        }
    }

    fn described(self) -> &'static str {
        match self {
            StepShape::Task => "a task",
            StepShape::Approval => "an approval gate",
            StepShape::Decision => "a decision",
            StepShape::Split => "a parallel split",
        }
    }
}

/// Checks a value against a field's type, options and bounds; the engine uses the same rule.
pub(crate) fn check_value(
    field_type: FieldType,
    options: &[String],
    min: Option<f64>,
    max: Option<f64>,
    value: &FieldValue,
) -> Result<(), String> {
    let out_of_range = |n: f64, what: &str| -> Result<(), String> {
        if let Some(min) = min
            && n < min
        {
            return Err(format!("{what} {n} is below the minimum {min}"));
        }
        if let Some(max) = max
            && n > max
        {
            return Err(format!("{what} {n} is above the maximum {max}"));
        }
        Ok(())
    };
    match (field_type, value) {
        (FieldType::Text, FieldValue::Text(text)) => {
            out_of_range(text.chars().count() as f64, "length")
        }
        (FieldType::Email, FieldValue::Text(text)) => {
            let valid = text.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !text.contains(char::is_whitespace)
            });
            if valid {
                Ok(())
            } else {
                Err(format!("`{text}` is not an e-mail address"))
            }
        }
        // NaN and infinities have no JSON form: a stored event holding one could not be
        // read back, and NaN never equals itself, so replays would differ.
        (FieldType::Number, FieldValue::Number(n)) if !n.is_finite() => {
            Err(format!("{n} is not a finite number"))
        }
        (FieldType::Number, FieldValue::Number(n)) => out_of_range(*n, "value"),
        (FieldType::Number | FieldType::Integer, FieldValue::Integer(n)) => {
            out_of_range(*n as f64, "value")
        }
        (FieldType::Bool, FieldValue::Bool(_)) => Ok(()),
        (FieldType::Person, FieldValue::Text(text)) => {
            if text.is_empty() || text.chars().any(char::is_whitespace) || text.len() > 128 {
                Err(format!(
                    "`{text}` is not a person's id: one word of at most 128 bytes, like `ana`"
                ))
            } else {
                Ok(())
            }
        }
        (FieldType::Date, FieldValue::Text(text)) => {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|_| ())
                .map_err(|_| format!("`{text}` is not a date; write YYYY-MM-DD"))
        }
        (FieldType::Choice, FieldValue::Text(text)) => {
            if options.iter().any(|o| o == text) {
                Ok(())
            } else {
                Err(format!("`{text}` is not one of {}", quoted_list(options)))
            }
        }
        (FieldType::MultiChoice, FieldValue::List(items)) => {
            match items.iter().find(|i| !options.contains(i)) {
                Some(item) => Err(format!("`{item}` is not one of {}", quoted_list(options))),
                None => Ok(()),
            }
        }
        (expected, found) => Err(format!(
            "{} {} field cannot hold {}",
            if matches!(expected, FieldType::Integer | FieldType::Email) {
                "an"
            } else {
                "a"
            },
            expected.as_str(),
            match found {
                FieldValue::Bool(_) => "a bool",
                FieldValue::Integer(_) => "an integer",
                FieldValue::Number(_) => "a number",
                FieldValue::Text(_) => "text",
                FieldValue::List(_) => "a list",
            }
        )),
    }
}

fn quoted_list<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|i| format!("`{}`", i.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "did you mean `x`?" for the closest candidate, if any is close enough.
/// Up to three candidates closest to `name`, as "`a`, `b`, `c`".
fn nearest_steps(name: &str, candidates: &[&str]) -> Option<String> {
    let mut scored: Vec<(f64, &str)> = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), *c))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let list: Vec<String> = scored
        .iter()
        .take(3)
        .map(|(_, c)| format!("`{c}`"))
        .collect();
    (!list.is_empty()).then(|| list.join(", "))
}

pub(crate) fn did_you_mean(name: &str, candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, best)| format!("did you mean `{best}`?"))
}

fn with_optional_help(diagnostic: Diagnostic, help: Option<String>) -> Diagnostic {
    match help {
        Some(help) => diagnostic.with_help(help),
        None => diagnostic,
    }
}

/// Whether the source of a scalar runs over more than one line (a block or folded text).
fn spans_lines(source: &str, span: SourceSpan) -> bool {
    source
        .get(span.offset..span.offset + span.len)
        .is_some_and(|s| s.trim_end().contains('\n'))
}

/// The place of character `offset` of a multi-line scalar in its source: walks the source
/// and the value together, a line break in the source standing for a line break or (in a
/// folded `>` text) a space in the value, and the block's indentation skipped.
fn span_in_block(source: &str, text: &Spanned<String>, offset: usize) -> Option<SourceSpan> {
    let span = text.span;
    let block = source.get(span.offset..(span.offset + span.len).min(source.len()))?;
    let indent = span.column.saturating_sub(1) as usize;
    let (mut line, mut column) = (span.line, span.column);
    let mut at = 0usize;
    let bytes = block.as_bytes();
    for (k, c) in text.chars().enumerate() {
        if k == offset {
            break;
        }
        let s = block[at..].chars().next()?;
        if s == c && c != '\n' {
            at += s.len_utf8();
            column += 1;
        } else if (c == '\n' || c == ' ') && (s == '\n' || s == '\r') {
            if s == '\r' {
                at += 1;
            }
            if bytes.get(at) != Some(&b'\n') {
                return None;
            }
            at += 1;
            line += 1;
            column = 1;
            let mut skipped = 0;
            while skipped < indent && bytes.get(at) == Some(&b' ') {
                at += 1;
                skipped += 1;
                column += 1;
            }
        } else {
            return None;
        }
    }
    Some(SourceSpan {
        line,
        column,
        offset: span.offset + at,
        len: 0,
    })
}

/// The span of the `{{ ... }}` (or the lone `{{`) at character `offset` of a template text.
fn placeholder_span(source: Option<&str>, text: &Spanned<String>, offset: usize) -> SourceSpan {
    let mut span = span_within(source, text, offset);
    if span.len == 0 {
        let rest: String = text.chars().skip(offset).collect();
        span.len = rest.find("}}").map_or(2, |close| {
            let inside = &rest[..close];
            // Stop at the line's end: the caret stays on one line.
            inside.find('\n').unwrap_or(close + 2)
        });
    }
    span
}

/// The character offset of the `{{` that holds `inner` in a template text (0 if not found).
fn template_offset(text: &str, inner: &str) -> usize {
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| i + from) {
        let after = &text[open + 2..];
        if let Some(close) = after.find("}}")
            && after[..close].trim() == inner.trim()
        {
            return text[..open].chars().count();
        }
        from = open + 2;
    }
    0
}

/// The span of a character offset inside a one-line scalar. The scalar's span covers its
/// quotes when it is quoted, which its length reveals; multi-line scalars keep their start.
pub(super) fn span_within(
    source: Option<&str>,
    text: &Spanned<String>,
    offset: usize,
) -> SourceSpan {
    let span = text.span;
    if !span.is_known() {
        return span;
    }
    if text.contains('\n') || source.is_some_and(|s| spans_lines(s, span)) {
        return source
            .and_then(|source| span_in_block(source, text, offset))
            .unwrap_or(span);
    }
    let quote = usize::from(span.len >= text.len() + 2);
    let prefix_bytes: usize = text.chars().take(offset).map(char::len_utf8).sum();
    SourceSpan {
        line: span.line,
        column: span.column + u32::try_from(quote + offset).unwrap_or(0),
        offset: span.offset + quote + prefix_bytes,
        len: 0,
    }
}
