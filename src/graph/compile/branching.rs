//! Compiling the keys that decide how many tokens run and how many the case waits for:
//! `when:` and `wait_for:` on a parallel split, `for_each:` and `wait_for:` on a task; and
//! what a branch may hold when its join withdraws the rest.

use std::collections::HashSet;

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{Condition, EdgeKind, ForEach, NodeKind};
use crate::model::{FieldType, Spanned, Step, StepId};

use super::{Compiler, did_you_mean, quoted_list, with_optional_help};

impl Compiler<'_> {
    /// The branch conditions of a split, one per branch in the order written, and its
    /// checked `wait_for`.
    pub(super) fn split_branching(
        &mut self,
        step: &Step,
        branches: &[Spanned<StepId>],
    ) -> (Vec<Option<Condition>>, Option<u32>) {
        let mut conditions = vec![None; branches.len()];
        for (branch, condition) in step.when.iter() {
            match branches.iter().position(|b| b.value == branch.value) {
                Some(index) => conditions[index] = self.condition(condition),
                None => {
                    let names: Vec<&str> = branches.iter().map(|b| b.as_str()).collect();
                    let help = did_you_mean(branch.as_str(), &names)
                        .or_else(|| Some(format!("its branches are {}", quoted_list(&names))));
                    self.report(with_optional_help(
                        Diagnostic::new(
                            Code::InvalidBranching,
                            branch.span,
                            format!(
                                "`when` of parallel split `{}` names `{}`, which is not one of its branches",
                                step.id.value, branch.value
                            ),
                        ),
                        help,
                    ));
                }
            }
        }
        let wait_for = step.wait_for.as_ref().and_then(|n| {
            if n.value == 0 || n.value as usize > branches.len() {
                self.report(
                    Diagnostic::new(
                        Code::InvalidBranching,
                        n.span,
                        format!(
                            "parallel split `{}` cannot wait for {} of its {} branches",
                            step.id.value,
                            n.value,
                            branches.len()
                        ),
                    )
                    .with_help(format!(
                        "`wait_for` is how many branches must reach the join, from 1 to {}",
                        branches.len()
                    )),
                );
                None
            } else {
                Some(n.value)
            }
        });
        (conditions, wait_for)
    }

    /// The checked `for_each` of a task (with its `wait_for`), or `None` without one.
    pub(super) fn task_for_each(&mut self, step: &Step) -> Option<ForEach> {
        let Some(field) = &step.for_each else {
            if let Some(n) = &step.wait_for {
                self.report(
                    Diagnostic::new(
                        Code::InvalidForEach,
                        n.span,
                        format!(
                            "task `{}` has `wait_for` but runs once: it has no `for_each`",
                            step.id.value
                        ),
                    )
                    .with_help(
                        "run the task per item with `for_each: FIELD`, or remove `wait_for`",
                    ),
                );
            }
            return None;
        };
        let mut valid = true;
        match self.field_types.get(&field.value) {
            Some(FieldType::MultiChoice) => self.used_fields.push(field.value.clone()),
            Some(other) => {
                valid = false;
                // Used, if wrongly: an unused-field warning would only repeat the error.
                self.used_fields.push(field.value.clone());
                self.report(
                    Diagnostic::new(
                        Code::InvalidForEach,
                        field.span,
                        format!(
                            "`for_each` of task `{}` names `{}`, a {} field; it needs a multi-choice field",
                            step.id.value,
                            field.value,
                            other.as_str()
                        ),
                    )
                    .with_help(format!(
                        "declare `{}` with `type: multi-choice` and its `options`: the task runs once per chosen option",
                        field.value
                    )),
                );
            }
            None => {
                valid = false;
                self.report_unknown_field(
                    field,
                    format!(
                        "`for_each` of task `{}` names `{}`, which is not a field",
                        step.id.value, field.value
                    ),
                );
            }
        }
        // One item cannot move the whole case: the other items would be left behind.
        let ladder_goto = step
            .overdue
            .iter()
            .flat_map(|levels| levels.value.iter())
            .find_map(|level| level.goto.as_ref().map(|g| g.span));
        let moving = [
            ("on_escalate", step.on_escalate.as_ref().map(|s| s.span)),
            ("on_timeout", step.on_timeout.as_ref().map(|s| s.span)),
            ("on_overdue", step.on_overdue.as_ref().map(|s| s.span)),
            ("on_cancel", step.on_cancel.as_ref().map(|s| s.span)),
            ("goto", ladder_goto),
            (
                "terminate",
                step.terminate.as_ref().filter(|t| t.value).map(|t| t.span),
            ),
        ];
        for (key, span) in moving {
            if let Some(span) = span {
                valid = false;
                self.report(
                    Diagnostic::new(
                        Code::InvalidForEach,
                        span,
                        format!(
                            "task `{}` runs once per item of `{}`: one item cannot move the whole case with `{key}`",
                            step.id.value, field.value
                        ),
                    )
                    .with_help("move the case on from a step after the items (a decision or a gate), or notify with an `overdue` level instead"),
                );
            }
        }
        let wait_for = step.wait_for.as_ref().and_then(|n| {
            if n.value == 0 {
                valid = false;
                self.report(
                    Diagnostic::new(
                        Code::InvalidForEach,
                        n.span,
                        format!("task `{}` cannot wait for 0 items", step.id.value),
                    )
                    .with_help("`wait_for: 1` goes on after the first item; leave it out to wait for every item"),
                );
                None
            } else {
                Some(n.value)
            }
        });
        valid.then(|| ForEach {
            field: field.value.clone(),
            wait_for,
        })
    }

    /// For every split: the tasks and gates its branches may hold work at before they reach
    /// its join, and the splits nested in them. Run once the edges are built.
    pub(super) fn index_branch_regions(&mut self) {
        let splits: Vec<(NodeIndex, NodeIndex)> = self
            .graph
            .node_indices()
            .filter_map(|node| match &self.graph[node].kind {
                NodeKind::Split(split) if split.join.index() < self.graph.node_count() => {
                    Some((node, split.join))
                }
                _ => None,
            })
            .collect();
        for (split, join) in splits {
            let mut seen: HashSet<NodeIndex> = HashSet::from([split, join, self.end]);
            let mut stack: Vec<NodeIndex> = self
                .graph
                .edges_directed(split, Direction::Outgoing)
                .filter(|e| *e.weight() == EdgeKind::Branch)
                .map(|e| e.target())
                .collect();
            let mut inside = Vec::new();
            let mut nested = Vec::new();
            let mut region = Vec::new();
            while let Some(node) = stack.pop() {
                if !seen.insert(node) {
                    continue;
                }
                region.push(node);
                match &self.graph[node].kind {
                    NodeKind::Task(_) | NodeKind::Approval(_) => inside.push(node),
                    NodeKind::Split(_) => nested.extend(self.graph[node].step.clone()),
                    _ => {}
                }
                stack.extend(
                    self.graph
                        .edges_directed(node, Direction::Outgoing)
                        .map(|e| e.target()),
                );
            }
            inside.sort();
            self.check_branches_closed(split, join, &region);
            if let NodeKind::Split(split) = &mut self.graph[split].kind {
                split.inside = inside;
                split.nested = nested;
            }
        }
    }

    /// A split whose join waits for fewer than all withdraws the work left in its
    /// branches; that is only safe when all work there is the branches' own. A step inside
    /// the branches that can be reached from outside them (another split's branch flowing
    /// in, a rework edge from after the join) could hold someone else's token, and one
    /// reaching the join from outside would be counted as a branch.
    fn check_branches_closed(&mut self, split: NodeIndex, join: NodeIndex, region: &[NodeIndex]) {
        let NodeKind::Split(kind) = &self.graph[split].kind else {
            return;
        };
        if kind.wait_for.is_none() {
            return;
        }
        let inside: HashSet<NodeIndex> = region.iter().copied().collect();
        // The join too: a token from outside arriving there would count as a branch.
        let entry = region.iter().chain([&join]).find_map(|&node| {
            self.graph
                .edges_directed(node, Direction::Incoming)
                .find(|e| e.source() != split && !inside.contains(&e.source()))
                .map(|e| (node, e.source()))
        });
        let Some((node, from)) = entry else {
            return;
        };
        let name = |index: NodeIndex| self.graph[index].name();
        let (split_name, from_name) = (name(split), name(from));
        let written = self
            .sop
            .steps
            .iter()
            .find(|s| s.id.value.as_str() == split_name);
        let span = written
            .and_then(|s| s.wait_for.as_ref().map(|w| w.span))
            .unwrap_or(self.graph[split].span);
        let reached = if node == join {
            let step = written
                .and_then(|s| s.join.as_ref())
                .map_or_else(|| name(node), |j| j.value.to_string());
            format!(
                "its join step `{step}` is also reached from `{from_name}`, outside its branches"
            )
        } else {
            format!(
                "`{}` inside its branches is also reached from `{from_name}`, outside them",
                name(node)
            )
        };
        self.report(
            Diagnostic::new(
                Code::InvalidBranching,
                span,
                format!("parallel split `{split_name}` waits for fewer than all its branches, but {reached}"),
            )
            .with_related(self.graph[from].span, "enters the branches here")
            .with_help("withdrawing the branches left could withdraw work that is not theirs; keep the branches to themselves, or wait for every branch"),
        );
    }
}
