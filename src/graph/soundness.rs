//! Soundness of parallel splits: no SOP that compiles can leave a case open with no work.
//!
//! # What "sound" means here
//! A case is *lost* when it is open but has no active step, so no timer either: nobody
//! would ever see it again. An SOP is sound when no sequence of commands and timers can
//! lose a case. Without parallel splits a case has exactly one token at a time, and the
//! other lints (reachability, traps, loops, decisions with `else`) already keep it moving.
//! With splits, the engine (`engine::handle`) counts: a split records that its join waits
//! for as many arrivals as it started branches, and `end` closes the case only when no
//! step is active and no join waits. So a case is lost exactly when a token that a join
//! waits for never arrives there:
//!
//! - it reaches the end first (`end: true` inside a branch): the end cannot close the case
//!   while a join waits, and the token is gone ([`Code::BranchEndsCase`]);
//! - it leaves the branch for a step from which the join cannot be reached, such as a
//!   step past the join or one of another split's branches ([`Code::BranchLeavesSplit`]);
//! - it goes back to the split, or to a step before it, by a rework or any other edge:
//!   the split starts a second round that the join counts on top of the first, whose
//!   token never arrives ([`Code::BranchReworksBeforeSplit`]);
//! - it crosses into another branch of its split from where a nested split can be
//!   reached: two tokens of one round could start that nested split at once, and a join
//!   lets a round go on only when no other round of its split waits, so one round is
//!   swallowed ([`Code::SplitStartsTwice`]).
//!
//! # The branch region
//! The *region* of a split is every node on a path from one of its branches to its join
//! that does not pass the split again. Each edge out of the region (other than into the
//! join) is one of the first three cases above, and is reported at the key that wrote it:
//! `end`, `next`, a decision arm, `on_reject`, `on_overdue`, `on_timeout`,
//! `on_escalate`, `on_cancel`. An edge that stays inside but crosses from one branch into another is
//! reported only when a nested split can be reached from where it leads; otherwise the
//! token still arrives at the join, which then waits for it too (the step it enters is
//! active twice meanwhile).
//!
//! A task with `terminate: true` whose only way on is the end is not an exit: completing
//! it closes the case and withdraws the branches, so no join is left waiting.
//!
//! A branch that cannot reach its join at all is `branch-never-joins` (E024), reported by
//! `lints.rs`; it is left out here so one mistake is not reported twice.
//!
//! # Cost
//! Each split costs a search over its region and the nodes its exits lead to, with marks
//! stamped per split rather than cleared, so a sound SOP is checked in time linear in
//! its size times the depth of its nested splits. A region with an exit may spread over
//! what follows it, as the E024 search from each branch already does.

use std::collections::{HashMap, VecDeque};

use petgraph::Direction;
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use super::compile::LintInput;
use super::{EdgeKind, NodeKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Sop, SourceSpan, Step, StepId};

/// Reports every edge by which a parallel branch can lose a case: out of its split's
/// region before the join, or into a sibling branch from where a nested split is reached.
pub(super) fn check(sop: &Sop, input: &LintInput<'_>, out: &mut Vec<Diagnostic>) {
    let graph = input.graph;
    let splits: Vec<(NodeIndex, NodeIndex)> = graph
        .node_indices()
        .filter_map(|node| match &graph[node].kind {
            // A split without a resolved join is reported by the compiler already.
            NodeKind::Split(split)
                if split.join.index() < graph.node_count()
                    && matches!(graph[split.join].kind, NodeKind::Join(_)) =>
            {
                Some((node, split.join))
            }
            _ => None,
        })
        .collect();
    if splits.is_empty() {
        return;
    }
    let mut regions = Regions::new(graph.node_count());
    let mut exits: HashMap<EdgeIndex, Exit> = HashMap::new();
    for (split, join) in splits {
        for exit in regions.exits(input, split, join) {
            // An edge that leaves nested regions is reported for the innermost split,
            // whose join is the nearest place it should go.
            match exits.get(&exit.edge) {
                Some(known) if known.region <= exit.region => {}
                _ => {
                    exits.insert(exit.edge, exit);
                }
            }
        }
    }
    if exits.is_empty() {
        return;
    }
    let mut steps: HashMap<&StepId, &Step> = HashMap::with_capacity(sop.steps.len());
    for step in &sop.steps {
        steps.entry(&step.id.value).or_insert(step);
    }
    let mut exits: Vec<Exit> = exits.into_values().collect();
    exits.sort_by_key(|exit| exit.edge);
    for exit in exits {
        out.push(diagnostic(input, &steps, &exit));
    }
}

/// Where a token goes when it leaves a branch region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leads {
    /// Straight to the end.
    End,
    /// Back to the split, or to a step from which only the split leads on.
    Split,
    /// Elsewhere: to the end without the join.
    Away,
    /// Into another branch of the same split, from where this nested split can be
    /// reached: two branches could start it at once.
    Shares(NodeIndex),
}

/// An edge out of a split's branch region.
#[derive(Debug, Clone, Copy)]
struct Exit {
    edge: EdgeIndex,
    from: NodeIndex,
    kind: EdgeKind,
    to: NodeIndex,
    split: NodeIndex,
    join: NodeIndex,
    /// How many nodes the region's search reached: the smaller, the more inner the split.
    region: usize,
    leads: Leads,
}

/// Search state reused across splits: a node is marked for the current split when its
/// mark equals `generation`, so no array is cleared between splits.
struct Regions {
    generation: u32,
    /// Reached from a branch without passing the split or the join.
    reached: Vec<u32>,
    /// Reached, and can go on to the join without passing the split: the region.
    inside: Vec<u32>,
    /// Reached, and can go back to the split without passing the join.
    before: Vec<u32>,
    /// Reached, and can reach the end without passing the split or the join.
    ending: Vec<u32>,
    /// In the region, with the branch (`owner`) whose search found it first.
    owned: Vec<u32>,
    owner: Vec<u32>,
    /// In the region, and can reach a nested split (`via`) inside it.
    to_split: Vec<u32>,
    via: Vec<NodeIndex>,
    queue: VecDeque<NodeIndex>,
    order: Vec<NodeIndex>,
}

impl Regions {
    fn new(nodes: usize) -> Regions {
        Regions {
            generation: 0,
            reached: vec![0; nodes],
            inside: vec![0; nodes],
            before: vec![0; nodes],
            ending: vec![0; nodes],
            owned: vec![0; nodes],
            owner: vec![0; nodes],
            to_split: vec![0; nodes],
            via: vec![NodeIndex::end(); nodes],
            queue: VecDeque::new(),
            order: Vec::new(),
        }
    }

    /// The edges out of the branch region of `split`.
    fn exits(&mut self, input: &LintInput<'_>, split: NodeIndex, join: NodeIndex) -> Vec<Exit> {
        let graph = input.graph;
        self.generation += 1;
        let generation = self.generation;
        self.order.clear();
        // Forward from the branches, stopping at the split and its join.
        for branch in graph.neighbors_directed(split, Direction::Outgoing) {
            if branch != split && branch != join && self.reached[branch.index()] != generation {
                self.reached[branch.index()] = generation;
                self.queue.push_back(branch);
            }
        }
        while let Some(node) = self.queue.pop_front() {
            self.order.push(node);
            for next in graph.neighbors_directed(node, Direction::Outgoing) {
                if next != split && next != join && self.reached[next.index()] != generation {
                    self.reached[next.index()] = generation;
                    self.queue.push_back(next);
                }
            }
        }
        // Back from the join through reached nodes: the region proper.
        mark_back(
            graph,
            join,
            &self.reached,
            &mut self.inside,
            generation,
            &mut self.queue,
        );
        let mut exits = Vec::new();
        let mut classified = false;
        for index in 0..self.order.len() {
            let node = self.order[index];
            if self.inside[node.index()] != generation {
                continue;
            }
            for edge in graph.edges_directed(node, Direction::Outgoing) {
                let to = edge.target();
                if to == join || self.inside[to.index()] == generation {
                    continue;
                }
                if !classified {
                    // Only a region with an exit pays for these two searches.
                    mark_back(
                        graph,
                        split,
                        &self.reached,
                        &mut self.before,
                        generation,
                        &mut self.queue,
                    );
                    if self.reached[input.end.index()] == generation {
                        self.ending[input.end.index()] = generation;
                        mark_back(
                            graph,
                            input.end,
                            &self.reached,
                            &mut self.ending,
                            generation,
                            &mut self.queue,
                        );
                    }
                    classified = true;
                }
                // An explicit termination ends the case with its branches on purpose: a
                // branch may leave for it, and it may end the case from inside a branch.
                // Only a termination with no way but the end: one that can escalate or time
                // out elsewhere could take the branch's token away instead.
                let terminates = |n: NodeIndex| {
                    matches!(&graph[n].kind, NodeKind::Task(task) if task.terminates)
                        && graph
                            .neighbors_directed(n, Direction::Outgoing)
                            .all(|next| next == input.end)
                };
                if terminates(to) || (to == input.end && terminates(node)) {
                    continue;
                }
                let leads = if to == input.end {
                    Leads::End
                } else if to == split || self.before[to.index()] == generation {
                    Leads::Split
                } else if self.ending[to.index()] == generation {
                    Leads::Away
                } else {
                    // Neither the end nor the split can be reached from there: a trap,
                    // which the trap lints report where it is.
                    continue;
                };
                exits.push(Exit {
                    edge: edge.id(),
                    from: node,
                    kind: *edge.weight(),
                    to,
                    split,
                    join,
                    region: self.order.len(),
                    leads,
                });
            }
        }
        self.crossings(input, split, join, &mut exits);
        exits
    }

    /// Edges from one branch of `split` into another from where a nested split can be
    /// reached. Two tokens of one round could then start that nested split at once, and
    /// the engine's join lets a round go on only when no other round of its split is
    /// waiting, so one round's token would never arrive. Crossings that reach no split
    /// keep the count right (the join waits for both tokens) and are left alone.
    fn crossings(
        &mut self,
        input: &LintInput<'_>,
        split: NodeIndex,
        join: NodeIndex,
        exits: &mut Vec<Exit>,
    ) {
        let graph = input.graph;
        let generation = self.generation;
        // Each region node is owned by the branch whose search reaches it first; an edge
        // to a node another branch owns is a crossing.
        let mut crossings = Vec::new();
        for (branch, edge) in graph
            .edges_directed(split, Direction::Outgoing)
            .filter(|edge| *edge.weight() == EdgeKind::Branch)
            .enumerate()
        {
            let start = edge.target();
            if self.inside[start.index()] != generation {
                continue;
            }
            if self.owned[start.index()] == generation {
                // The same step listed as two branches.
                crossings.push(edge);
                continue;
            }
            self.owned[start.index()] = generation;
            self.owner[start.index()] = branch as u32;
            self.queue.push_back(start);
        }
        while let Some(node) = self.queue.pop_front() {
            for edge in graph.edges_directed(node, Direction::Outgoing) {
                let to = edge.target();
                if to == join || self.inside[to.index()] != generation {
                    continue;
                }
                if self.owned[to.index()] != generation {
                    self.owned[to.index()] = generation;
                    self.owner[to.index()] = self.owner[node.index()];
                    self.queue.push_back(to);
                } else if self.owner[to.index()] != self.owner[node.index()] {
                    crossings.push(edge);
                }
            }
        }
        if crossings.is_empty() {
            return;
        }
        // Back from every nested split through the region, remembering which split.
        for &node in &self.order {
            if self.inside[node.index()] == generation
                && matches!(graph[node].kind, NodeKind::Split(_))
            {
                self.to_split[node.index()] = generation;
                self.via[node.index()] = node;
                self.queue.push_back(node);
            }
        }
        while let Some(node) = self.queue.pop_front() {
            for previous in graph.neighbors_directed(node, Direction::Incoming) {
                let i = previous.index();
                if self.inside[i] == generation && self.to_split[i] != generation {
                    self.to_split[i] = generation;
                    self.via[i] = self.via[node.index()];
                    self.queue.push_back(previous);
                }
            }
        }
        for edge in crossings {
            let to = edge.target();
            if self.to_split[to.index()] != generation {
                continue;
            }
            exits.push(Exit {
                edge: edge.id(),
                from: edge.source(),
                kind: *edge.weight(),
                to,
                split,
                join,
                region: self.order.len(),
                leads: Leads::Shares(self.via[to.index()]),
            });
        }
    }
}

/// Marks with `generation` every reached node from which `target` can be reached through
/// reached nodes (not `target` itself, unless it was reached and loops back to itself).
fn mark_back(
    graph: &petgraph::graph::DiGraph<super::Node, EdgeKind>,
    target: NodeIndex,
    reached: &[u32],
    marks: &mut [u32],
    generation: u32,
    queue: &mut VecDeque<NodeIndex>,
) {
    queue.clear();
    queue.push_back(target);
    while let Some(node) = queue.pop_front() {
        for previous in graph.neighbors_directed(node, Direction::Incoming) {
            let i = previous.index();
            if reached[i] == generation && marks[i] != generation {
                marks[i] = generation;
                queue.push_back(previous);
            }
        }
    }
}

/// How an edge was written: where, in words, and the key to change.
struct Place {
    span: SourceSpan,
    /// The subject of the sentence: "`on_reject` of approval `check`".
    subject: String,
    /// What to tell the author to change: "point `on_reject` at", or how to add a `next`.
    change: String,
}

fn diagnostic(input: &LintInput<'_>, steps: &HashMap<&StepId, &Step>, exit: &Exit) -> Diagnostic {
    let split = node_name(input, exit.split);
    let join = node_name(input, exit.join);
    let target = node_name(input, exit.to);
    let from = node_name(input, exit.from);
    let place = place(input, steps, exit);
    match exit.leads {
        Leads::End => Diagnostic::new(
            Code::BranchEndsCase,
            place.span,
            format!(
                "step `{from}` ends the case inside a branch of parallel split `{split}`: the join `{join}` would wait for that branch forever, leaving the case open with no work"
            ),
        )
        .with_help(format!(
            "a branch of `{split}` must reach its join `{join}`; `{from}` ends the case first: route it to `{join}` (`next: {join}` instead of `end: true`), or move the end after the join"
        )),
        Leads::Away => Diagnostic::new(
            Code::BranchLeavesSplit,
            place.span,
            format!(
                "{} takes a branch of parallel split `{split}` to `{target}`, outside the split: from there the case never reaches the join `{join}`, so it would stay open with no work",
                place.subject
            ),
        )
        .with_help(format!(
            "a branch of `{split}` must reach its join `{join}`: {} a step of the same branch or at `{join}`",
            place.change
        )),
        Leads::Shares(nested) => {
            let nested_join = match &input.graph[nested].kind {
                NodeKind::Split(inner) if inner.join.index() < input.graph.node_count() => {
                    node_name(input, inner.join)
                }
                _ => "its join".to_owned(),
            };
            let nested = node_name(input, nested);
            Diagnostic::new(
                Code::SplitStartsTwice,
                place.span,
                format!(
                    "{} takes a branch of parallel split `{split}` into another of its branches, where parallel split `{nested}` could start a second round while the first still runs: its join `{nested_join}` would let only one round go on, so the case would end up open with no work",
                    place.subject
                ),
            )
            .with_help(format!(
                "keep each branch of `{split}` to its own steps: {} a step of the same branch or at the join `{join}`",
                place.change
            ))
        }
        Leads::Split => {
            let back_to = if exit.to == exit.split {
                "back to the split itself".to_owned()
            } else {
                format!("back to `{target}`, before the split")
            };
            Diagnostic::new(
                Code::BranchReworksBeforeSplit,
                place.span,
                format!(
                    "{} sends a branch of parallel split `{split}` {back_to}: the split would start again while its other branches still run, and the case would end up open with no work",
                    place.subject
                ),
            )
            .with_help(format!(
                "{} a step of the same branch, or go back only after the join, from `{join}` or a later step; an SOP cannot yet say what should happen to the other branches when one of them goes back before the split",
                place.change
            ))
        }
    }
}

/// The words and span for the edge of an exit, read from the step that wrote it.
fn place(input: &LintInput<'_>, steps: &HashMap<&StepId, &Step>, exit: &Exit) -> Place {
    let node = &input.graph[exit.from];
    let from = node_name(input, exit.from);
    let fallback = Place {
        span: node.span,
        subject: format!("step `{from}`"),
        change: format!("make step `{from}` lead to"),
    };
    if let NodeKind::Join(join) = &node.kind {
        return Place {
            span: node.span,
            subject: format!(
                "the join of parallel split `{}`, which goes on to its join step,",
                join.split
            ),
            change: format!("point `join` of `{}` at", join.split),
        };
    }
    let Some(step) = node.step.as_ref().and_then(|id| steps.get(id)) else {
        return fallback;
    };
    let keyed = |key: &str, span: SourceSpan, what: &str| Place {
        span,
        subject: format!("`{key}` of {what} `{from}`"),
        change: format!("point `{key}` at"),
    };
    let what = match node.kind {
        NodeKind::Approval(_) => "approval",
        NodeKind::Decision(_) => "decision",
        NodeKind::Split(_) => "parallel split",
        _ => "step",
    };
    match exit.kind {
        EdgeKind::Next | EdgeKind::Approved => {
            if let Some(end) = step.end.as_ref().filter(|e| e.value) {
                Place {
                    span: end.span,
                    subject: format!("step `{from}`"),
                    change: format!("replace `end: true` of `{from}` by `next:` pointing at"),
                }
            } else if let Some(next) = &step.next {
                keyed("next", next.span, what)
            } else {
                Place {
                    span: step.id.span,
                    subject: format!("step `{from}`, which goes on to the step listed after it,"),
                    change: format!("give step `{from}` a `next:` pointing at"),
                }
            }
        }
        EdgeKind::Rejected => match &step.approval {
            Some(approval) => keyed("on_reject", approval.on_reject.span, what),
            None => fallback,
        },
        EdgeKind::Overdue => {
            let ladder_move = step
                .overdue
                .as_ref()
                .and_then(|levels| levels.iter().rev().find_map(|level| level.goto.as_ref()));
            match (&step.on_overdue, ladder_move) {
                (Some(target), _) => keyed("on_overdue", target.span, what),
                (None, Some(target)) => keyed("overdue", target.span, what),
                (None, None) => fallback,
            }
        }
        EdgeKind::Timeout => match &step.on_timeout {
            Some(target) => keyed("on_timeout", target.span, what),
            None => fallback,
        },
        EdgeKind::Escalate => match &step.on_escalate {
            Some(target) => keyed("on_escalate", target.span, what),
            None => fallback,
        },
        EdgeKind::Cancelled => match &step.on_cancel {
            Some(target) => keyed("on_cancel", target.span, what),
            None => fallback,
        },
        EdgeKind::Condition(index) => {
            // Condition `index` is the index-th arm with `if` and `goto` (and no `else`):
            // in a process without unresolved names, each such arm compiled.
            let arm = step.decide.as_ref().and_then(|arms| {
                arms.iter()
                    .filter(|arm| {
                        arm.condition.is_some() && arm.goto.is_some() && arm.otherwise.is_none()
                    })
                    .nth(index)
            });
            match arm.and_then(|arm| Some((arm.condition.as_ref()?, arm.goto.as_ref()?))) {
                Some((condition, goto)) => Place {
                    span: goto.span,
                    subject: format!("the arm `if: {}` of decision `{from}`", condition.value),
                    change: "point its `goto` at".to_owned(),
                },
                None => fallback,
            }
        }
        EdgeKind::Else => {
            let otherwise = step
                .decide
                .as_ref()
                .and_then(|arms| arms.iter().find_map(|arm| arm.otherwise.as_ref()));
            match otherwise {
                Some(otherwise) => Place {
                    span: otherwise.span,
                    subject: format!("the `else` of decision `{from}`"),
                    change: "point the `else` at".to_owned(),
                },
                None => fallback,
            }
        }
        EdgeKind::Branch => {
            let target = node_name(input, exit.to);
            // The last listing: a step listed twice is reported at its repetition.
            let branch = step.parallel.as_ref().and_then(|branches| {
                branches
                    .iter()
                    .rev()
                    .find(|branch| branch.value.as_str() == target)
            });
            match branch {
                Some(branch) => Place {
                    span: branch.span,
                    subject: format!("branch `{target}` of parallel split `{from}`"),
                    change: format!("replace branch `{target}` of `{from}` by"),
                },
                None => fallback,
            }
        }
    }
}

/// The step a node stands for: its own id, the join step after a join node, or `end`.
fn node_name(input: &LintInput<'_>, node: NodeIndex) -> String {
    let graph = input.graph;
    let shown = match graph[node].kind {
        NodeKind::Join(_) => graph
            .edges_directed(node, Direction::Outgoing)
            .find(|edge| *edge.weight() == EdgeKind::Next)
            .map_or(node, |edge| edge.target()),
        _ => node,
    };
    graph[shown].name()
}
