//! `model::Sop` → [`Process`]: the SOP compiled into an immutable petgraph graph, with every
//! id resolved, conditions compiled and templates checked, plus the lints an ops lead needs.
//!
//! [`compile`] never stops at the first problem: it returns every [`Diagnostic`](crate::diagnostic::Diagnostic) it finds and
//! a [`Process`] only when none of them is an error. A `Process` is what the engine runs and
//! the renderers draw; it is shared (`Arc`) by every case on that SOP version.
//!
//! # The graph
//! Nodes are [`NodeKind`]s: one per step (task, approval gate, decision, parallel split),
//! a synthetic start and end, and a join per parallel split. Edges carry an [`EdgeKind`]
//! that says why they are taken. Edges into a parallel split's `join` step go through the
//! split's [`NodeKind::Join`], which waits for every branch.
//!
//! Architecture invariant: this module reads the model, never YAML text, and knows nothing
//! about cases; it does not evaluate conditions, only compiles them.

mod calls;
mod compile;
mod condition;
mod kpi;
mod lints;
mod sla;
mod soundness;
mod template;

use rustc_hash::FxHashMap;

use petgraph::Direction;
use petgraph::graph::{DiGraph, EdgeReference, NodeIndex};
use petgraph::visit::EdgeRef;

pub use calls::check_calls;
pub use compile::{Compilation, compile, compile_trusted, compile_with_source};
pub use condition::{Condition, ConditionProblem, ConditionProblemKind, EvaluationError};
pub use kpi::{CaseMoment, Kpi, KpiGoal, KpiMeasure, PathTaken, SlaCount};
pub use sla::{
    CaseServiceLevel, Deadline, LadderLevel, NamedCalendar, ServiceLevel, SlaSchedule, StepTimers,
    TimerLength,
};
pub use template::{Template, TemplateError, TemplatePart};

/// Outgoing edges of every node, each list in the order the edges were added.
fn outgoing_edges(graph: &DiGraph<Node, EdgeKind>) -> Vec<Vec<(EdgeKind, NodeIndex)>> {
    graph
        .node_indices()
        .map(|node| {
            let mut edges: Vec<EdgeReference<'_, EdgeKind>> =
                graph.edges_directed(node, Direction::Outgoing).collect();
            edges.sort_by_key(|e| e.id());
            edges
                .into_iter()
                .map(|e| (*e.weight(), e.target()))
                .collect()
        })
        .collect()
}

use crate::model::{CalendarId, FieldId, FieldType, FieldValue, RoleId, SopId, SourceSpan, StepId};

/// A compiled SOP: metadata, roles, fields and the process graph. Immutable.
#[derive(Debug, Clone)]
pub struct Process {
    id: SopId,
    version: u32,
    title: String,
    department: String,
    purpose: Option<String>,
    terms: Vec<(String, String)>,
    roles: Vec<Role>,
    fields: Vec<FieldSpec>,
    field_index: FxHashMap<FieldId, usize>,
    graph: DiGraph<Node, EdgeKind>,
    start: NodeIndex,
    end: NodeIndex,
    steps: FxHashMap<StepId, NodeIndex>,
    /// Outgoing edges per node in the order they were written: the engine asks for them
    /// on every transition, so they are laid out once.
    outgoing: Vec<Vec<(EdgeKind, NodeIndex)>>,
    calendars: Vec<NamedCalendar>,
    default_calendar: NamedCalendar,
    case_sla: Option<CaseServiceLevel>,
    kpis: Vec<Kpi>,
    migration: Option<MigrationPlan>,
    /// `(old id, step)` for every step that says `renamed_from: old id`.
    renamed: Vec<(StepId, StepId)>,
}

/// The checked `migrate:` section of a version: where the open cases of an earlier version
/// go. Step ids on the left are the earlier version's and are checked against it by
/// [`crate::versions::check_migration`]; everything else is checked by the compiler.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationPlan {
    /// The version whose cases the plan moves.
    pub from: u32,
    /// Old step id → the task or approval gate of this version that takes over its work.
    pub steps: Vec<(StepId, StepId)>,
    /// Values for fields that moved cases lack, each checked against its field.
    pub fields: Vec<(FieldId, FieldValue)>,
    /// Where the `migrate:` section is.
    pub span: SourceSpan,
}

impl MigrationPlan {
    /// Where the plan sends the work of the earlier version's step `old`, if it says.
    pub fn target(&self, old: &StepId) -> Option<&StepId> {
        self.steps
            .iter()
            .find(|(o, _)| o == old)
            .map(|(_, new)| new)
    }

    /// The value the plan gives `field`, if it gives one.
    pub fn value(&self, field: &FieldId) -> Option<&FieldValue> {
        self.fields.iter().find(|(f, _)| f == field).map(|(_, v)| v)
    }
}

/// A role of the SOP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The role's id.
    pub id: RoleId,
    /// What the role is (`Support team member`).
    pub description: String,
}

/// A case field with its checked definition.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// The field's id.
    pub id: FieldId,
    /// Its type.
    pub field_type: FieldType,
    /// The label forms show.
    pub label: String,
    /// Whether a step collecting it needs a value to complete.
    pub required: bool,
    /// The value a new case starts with.
    pub default: Option<FieldValue>,
    /// Smallest value (numbers) or length (text).
    pub min: Option<f64>,
    /// Largest value (numbers) or length (text).
    pub max: Option<f64>,
    /// Allowed values of choice and multi-choice fields.
    pub options: Vec<String>,
    /// Roles whose holders may change the field outside any step (`editable_by`).
    pub editable_by: Vec<RoleId>,
    /// The tasks that collect the field, in document order: their performers own it.
    pub collected_by: Vec<StepId>,
}

/// A node of the process graph.
#[derive(Debug, Clone)]
pub struct Node {
    /// The step this node is (`None` for start, end and joins).
    pub step: Option<StepId>,
    /// The step's title, a template over fields.
    pub title: Option<Template>,
    /// What the node does.
    pub kind: NodeKind,
    /// Where the step is defined.
    pub span: SourceSpan,
}

impl Node {
    /// A short name for the node: the step id, or `start`, `end`, `join after X`.
    pub fn name(&self) -> String {
        match (&self.step, &self.kind) {
            (Some(step), _) => step.to_string(),
            (None, NodeKind::Start) => "start".to_owned(),
            (None, NodeKind::End) => "end".to_owned(),
            (None, NodeKind::Join(join)) => format!("join of {}", join.split),
            (None, _) => "node".to_owned(),
        }
    }
}

/// What a node does.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// Where every case begins.
    Start,
    /// Where a case closes.
    End,
    /// Work for a holder of a role.
    Task(Task),
    /// A gate waiting for approvals.
    Approval(ApprovalGate),
    /// An exclusive choice over the case's fields.
    Decision(Decision),
    /// A parallel split: every branch starts.
    Split(Split),
    /// Waits for every branch of a split.
    Join(Join),
}

impl NodeKind {
    /// What the node is, for messages: `a task`, `an approval gate`, `a decision`, `a
    /// parallel split`; `None` for the start, the end and joins, which are no step.
    pub fn step_kind_name(&self) -> Option<&'static str> {
        match self {
            NodeKind::Task(_) => Some("a task"),
            NodeKind::Approval(_) => Some("an approval gate"),
            NodeKind::Decision(_) => Some("a decision"),
            NodeKind::Split(_) => Some("a parallel split"),
            NodeKind::Start | NodeKind::End | NodeKind::Join(_) => None,
        }
    }
}

/// A task step.
#[derive(Debug, Clone)]
pub struct Task {
    /// Who performs it.
    pub role: RoleId,
    /// How to do it.
    pub instructions: Option<Template>,
    /// The fields the performer fills in.
    pub collects: Vec<FieldId>,
    /// Its service level and deferred-choice timer, and the calendar they count in.
    pub timers: StepTimers,
    /// Who it goes to beyond its role.
    pub people: StepPeople,
    /// Whether completing it ends the case at once, withdrawing all other work.
    pub terminates: bool,
    /// Run once per item of a multi-choice field, when it says `for_each:`.
    pub for_each: Option<ForEach>,
    /// The SOP it starts a sub-case of and waits for, when it says `call:`.
    pub call: Option<Call>,
}

/// A task's call of another SOP (`call:`), compiled: what the sub-case runs and which
/// fields go in and come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The SOP whose case is started (its latest stored version).
    pub sop: SopId,
    /// `(sub-case field, field of this case)`: values given to the sub-case at its start.
    pub with: Vec<(FieldId, FieldId)>,
    /// `(field of this case, sub-case field)`: values taken back when it completes.
    pub returns: Vec<(FieldId, FieldId)>,
}

/// Who a task or gate goes to beyond its role: a person named in the case's data, the
/// performer of an earlier task, and whose work it must not be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepPeople {
    /// The `person` field naming who performs it: assigned to them when it becomes active.
    pub assignee: Option<FieldId>,
    /// The earlier task whose latest performer performs it: assigned to them when it
    /// becomes active (retain familiar).
    pub same_performer_as: Option<StepId>,
    /// Tasks whose performers may not perform it (separation of duties).
    pub separate_from: Vec<StepId>,
}

impl StepPeople {
    /// Whether the step goes to one person when it becomes active.
    pub fn goes_to_a_person(&self) -> bool {
        self.assignee.is_some() || self.same_performer_as.is_some()
    }
}

/// An approval gate.
#[derive(Debug, Clone)]
pub struct ApprovalGate {
    /// The approvers' roles: a holder of any of them may approve or reject. Never empty,
    /// no role twice, in the order written.
    pub by: Vec<RoleId>,
    /// Distinct approvals needed.
    pub count: u32,
    /// Steps whose performers may not approve.
    pub reviews: Vec<StepId>,
    /// What the approver checks.
    pub instructions: Option<Template>,
    /// The service level of the decision, and the calendar it counts in.
    pub timers: StepTimers,
    /// Who alone approves it, when a person rather than a role decides.
    pub people: StepPeople,
}

impl ApprovalGate {
    /// Whether someone holding `roles` may decide the gate: holds one of its roles.
    /// (Four eyes and assignment are the engine's business.)
    pub fn may_decide<'r>(&self, mut roles: impl Iterator<Item = &'r RoleId>) -> bool {
        roles.any(|held| self.by.contains(held))
    }

    /// The approvers' roles for a message or a chart: `team_lead`, or
    /// `billing_lead or finance`.
    pub fn roles_text(&self) -> String {
        roles_in_words(&self.by, "or")
    }
}

/// Roles joined for a sentence: `a`, `a or b`, `a, b or c`.
pub(crate) fn roles_in_words(roles: &[RoleId], conjunction: &str) -> String {
    match roles {
        [] => String::new(),
        [only] => only.to_string(),
        [rest @ .., last] => {
            let rest: Vec<&str> = rest.iter().map(RoleId::as_str).collect();
            format!("{} {conjunction} {last}", rest.join(", "))
        }
    }
}

/// A decision: conditions tried in order, then `else`.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The `if` conditions; edge [`EdgeKind::Condition`]`(i)` is taken when `conditions[i]`
    /// is the first to hold.
    pub conditions: Vec<Condition>,
}

/// A parallel split.
#[derive(Debug, Clone)]
pub struct Split {
    /// The join node that waits for the branches.
    pub join: NodeIndex,
    /// Per branch, in the order of the split's [`EdgeKind::Branch`] edges: the condition
    /// under which it starts (`when:`), or `None` when it always starts.
    pub conditions: Vec<Option<Condition>>,
    /// How many of the started branches the join waits for (`wait_for:`); `None` for all.
    pub wait_for: Option<u32>,
    /// The task and gate nodes a branch may be at before it reaches the join: their work
    /// is withdrawn once the join has what it waits for.
    pub inside: Vec<NodeIndex>,
    /// The splits nested in the branches, whose joins are withdrawn with them.
    pub nested: Vec<StepId>,
}

/// A parallel join.
#[derive(Debug, Clone)]
pub struct Join {
    /// The split whose branches it waits for.
    pub split: StepId,
    /// How many branches the split has (whether they start or not).
    pub branches: usize,
}

/// A task run once per item of a multi-choice field (`for_each:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForEach {
    /// The multi-choice field whose chosen options are the items.
    pub field: FieldId,
    /// How many items must be done before the case goes on; `None` for all.
    pub wait_for: Option<u32>,
}

/// Why an edge is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// The node completed.
    Next,
    /// The gate got its approvals.
    Approved,
    /// An approver rejected: back for rework.
    Rejected,
    /// The decision's condition with this index held first.
    Condition(usize),
    /// No condition held.
    Else,
    /// The step's service level was breached: the ladder level that moves the case (at
    /// the due time for `on_overdue`).
    Overdue,
    /// The deferred-choice timer won.
    Timeout,
    /// The performer escalated.
    Escalate,
    /// The step was cancelled on its own (`on_cancel`): the case goes on elsewhere.
    Cancelled,
    /// A parallel branch starts.
    Branch,
}

impl EdgeKind {
    /// Whether the edge is an exception path (rejection, breach, escalation), drawn apart.
    pub fn is_exceptional(self) -> bool {
        matches!(
            self,
            EdgeKind::Rejected | EdgeKind::Overdue | EdgeKind::Escalate | EdgeKind::Cancelled
        )
    }
}

impl Process {
    /// The SOP's id.
    pub fn id(&self) -> &SopId {
        &self.id
    }
    /// The SOP's version.
    pub fn version(&self) -> u32 {
        self.version
    }
    /// The SOP's title.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The owning department.
    pub fn department(&self) -> &str {
        &self.department
    }
    /// Why the SOP exists.
    pub fn purpose(&self) -> Option<&str> {
        self.purpose.as_deref()
    }
    /// The glossary, in document order.
    pub fn terms(&self) -> &[(String, String)] {
        &self.terms
    }
    /// The roles, in document order.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }
    /// The fields, in document order.
    pub fn fields(&self) -> &[FieldSpec] {
        &self.fields
    }
    /// A field by id.
    pub fn field(&self, id: &FieldId) -> Option<&FieldSpec> {
        self.field_index.get(id).map(|&i| &self.fields[i])
    }
    /// The underlying petgraph graph, for queries this API does not offer.
    pub fn graph(&self) -> &DiGraph<Node, EdgeKind> {
        &self.graph
    }
    /// The start node.
    pub fn start(&self) -> NodeIndex {
        self.start
    }
    /// The end node.
    pub fn end(&self) -> NodeIndex {
        self.end
    }
    /// A node by index.
    ///
    /// # Panics
    /// If the index is not a node of this process (indices from another process).
    pub fn node(&self, index: NodeIndex) -> &Node {
        &self.graph[index]
    }
    /// The node of a step.
    pub fn step(&self, id: &StepId) -> Option<NodeIndex> {
        self.steps.get(id).copied()
    }
    /// Every node in definition order (start first, end second, then the steps).
    pub fn nodes(&self) -> impl Iterator<Item = (NodeIndex, &Node)> {
        self.graph.node_indices().map(|i| (i, &self.graph[i]))
    }
    /// The outgoing edges of a node with their kinds, in the order they were written.
    ///
    /// # Panics
    /// If the index is not a node of this process.
    pub fn successors(&self, node: NodeIndex) -> &[(EdgeKind, NodeIndex)] {
        &self.outgoing[node.index()]
    }
    /// The first successor reached by an edge of exactly this kind.
    pub fn successor(&self, node: NodeIndex, kind: EdgeKind) -> Option<NodeIndex> {
        self.successors(node)
            .iter()
            .find_map(|&(k, target)| (k == kind).then_some(target))
    }
    /// The condition under which the branch of `split` that starts at `branch` starts
    /// (`when:`), if it has one.
    pub fn branch_condition(&self, split: NodeIndex, branch: NodeIndex) -> Option<&Condition> {
        let NodeKind::Split(kind) = &self.graph.node_weight(split)?.kind else {
            return None;
        };
        let index = self
            .successors(split)
            .iter()
            .filter(|(kind, _)| *kind == EdgeKind::Branch)
            .position(|&(_, target)| target == branch)?;
        kind.conditions.get(index)?.as_ref()
    }

    /// A short label for an edge: the condition, `approved`, `rejected`, `overdue 1h`.
    pub fn edge_label(&self, from: NodeIndex, kind: EdgeKind) -> String {
        match kind {
            EdgeKind::Next | EdgeKind::Branch => String::new(),
            EdgeKind::Approved => "approved".to_owned(),
            EdgeKind::Rejected => "rejected".to_owned(),
            EdgeKind::Else => "else".to_owned(),
            EdgeKind::Escalate => "escalate".to_owned(),
            EdgeKind::Cancelled => "cancelled".to_owned(),
            EdgeKind::Overdue => {
                let Some(sla) = self.timers(from).and_then(|t| t.sla.as_ref()) else {
                    return "overdue".to_owned();
                };
                match sla.ladder.iter().find(|level| level.moves) {
                    Some(level) if level.after.minutes() > 0 || level.after.business_days() > 0 => {
                        format!("overdue {} +{}", sla.due.label(), level.after)
                    }
                    _ => format!("overdue {}", sla.due.label()),
                }
            }
            EdgeKind::Timeout => match self.timers(from).and_then(|t| t.timeout.as_ref()) {
                Some(length) => format!("after {}", length.label()),
                None => "after".to_owned(),
            },
            EdgeKind::Condition(index) => match &self.graph[from].kind {
                NodeKind::Decision(decision) => decision
                    .conditions
                    .get(index)
                    .map_or_else(String::new, |c| c.source().to_owned()),
                _ => String::new(),
            },
        }
    }
    /// The timers of a task or approval gate (`None` for other nodes).
    pub fn timers(&self, node: NodeIndex) -> Option<&StepTimers> {
        match &self.graph.node_weight(node)?.kind {
            NodeKind::Task(task) => Some(&task.timers),
            NodeKind::Approval(gate) => Some(&gate.timers),
            _ => None,
        }
    }
    /// The calendars declared under `calendars:`, in document order.
    pub fn calendars(&self) -> &[NamedCalendar] {
        &self.calendars
    }
    /// A declared calendar by name.
    pub fn calendar(&self, name: &CalendarId) -> Option<&NamedCalendar> {
        self.calendars
            .iter()
            .find(|c| c.name.as_ref() == Some(name))
    }
    /// The calendar timers count in when a step names none: the SOP's `calendar:`, or
    /// round the clock in UTC.
    pub fn default_calendar(&self) -> &NamedCalendar {
        &self.default_calendar
    }

    /// The step of this version that was called `old` in the previous one
    /// (`renamed_from:`), if one says so.
    pub fn renamed_from(&self, old: &StepId) -> Option<&StepId> {
        self.renamed
            .iter()
            .find(|(o, _)| o == old)
            .map(|(_, new)| new)
    }

    /// How open cases of an earlier version move onto this one (`migrate:`), if it says.
    pub fn migration(&self) -> Option<&MigrationPlan> {
        self.migration.as_ref()
    }

    /// The case's own service level, if the SOP has one.
    pub fn case_sla(&self) -> Option<&CaseServiceLevel> {
        self.case_sla.as_ref()
    }
    /// The KPIs under `kpis:`, in document order.
    pub fn kpis(&self) -> &[Kpi] {
        &self.kpis
    }
    /// Every role that performs a task or approves a gate, in document order.
    pub fn roles_involved(&self) -> Vec<&RoleId> {
        let mut roles: Vec<&RoleId> = Vec::new();
        for node in self.graph.node_weights() {
            let step_roles = match &node.kind {
                NodeKind::Task(task) => std::slice::from_ref(&task.role),
                NodeKind::Approval(gate) => gate.by.as_slice(),
                _ => continue,
            };
            for role in step_roles {
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
        }
        roles
    }
    /// Every node reachable from `from` (itself included), in breadth-first order.
    pub fn reachable_from(&self, from: NodeIndex) -> Vec<NodeIndex> {
        let mut bfs = petgraph::visit::Bfs::new(&self.graph, from);
        let mut out = Vec::new();
        while let Some(node) = bfs.next(&self.graph) {
            out.push(node);
        }
        out
    }
    /// Simple paths (no node twice) from `from` to the end, at most `limit` of them.
    /// Rework loops make the number of walks infinite; simple paths are the distinct routes.
    pub fn paths_to_end(&self, from: NodeIndex, limit: usize) -> Vec<Vec<NodeIndex>> {
        petgraph::algo::all_simple_paths::<Vec<_>, _, std::hash::RandomState>(
            &self.graph,
            from,
            self.end,
            0,
            None,
        )
        .take(limit)
        .collect()
    }
}

/// Checks a value against a field's type, options and bounds: the rule the compiler applies
/// to defaults and the engine to values sent in commands.
///
/// ```
/// use sopflow::graph::{FieldSpec, check_field_value};
/// use sopflow::model::{FieldId, FieldType, FieldValue};
/// let priority = FieldSpec {
///     id: FieldId::new("priority").unwrap(),
///     field_type: FieldType::Choice,
///     label: "Priority".into(),
///     required: true,
///     default: None,
///     min: None,
///     max: None,
///     options: vec!["High".into(), "Low".into()],
///     editable_by: vec![],
///     collected_by: vec![],
/// };
/// assert!(check_field_value(&priority, &FieldValue::Text("High".into())).is_ok());
/// let error = check_field_value(&priority, &FieldValue::Integer(3)).unwrap_err();
/// assert_eq!(error, "a choice field cannot hold an integer");
/// ```
pub fn check_field_value(spec: &FieldSpec, value: &FieldValue) -> Result<(), String> {
    compile::check_value(spec.field_type, &spec.options, spec.min, spec.max, value)
}

#[cfg(test)]
mod tests;
