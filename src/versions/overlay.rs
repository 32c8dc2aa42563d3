//! A diff as a chart overlay: which nodes and edges of the new version to mark, and the
//! removed steps and edges to draw as ghosts.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;

use super::diff::{ChangeKind, Pair, RouteKey, SopDiff, Target, mapped_routes, routes};
use crate::graph::{EdgeKind, NodeKind, Process};
use crate::model::{Sop, StepId};
use crate::render::{ChangeOverlay, EdgeEnd, RemovedEdge, RemovedStep, Transition};

impl SopDiff {
    /// The overlay that draws this diff on the new version's chart
    /// ([`crate::render::render_changes`]): steps added and changed, edges added and
    /// redirected, and the old version's removed steps and edges as ghosts.
    ///
    /// `old` and `new` are the two versions this diff was made from, and `process` the
    /// compiled `new`.
    pub fn overlay(&self, old: &Sop, new: &Sop, process: &Process) -> ChangeOverlay {
        let pair = Pair::new(old, new);
        let mut overlay = ChangeOverlay::default();
        for change in &self.changes {
            let Some(node) = change.step.as_ref().and_then(|s| process.step(s)) else {
                continue;
            };
            match change.kind {
                ChangeKind::StepAdded => {
                    overlay.added.insert(node);
                }
                ChangeKind::StepRemoved | ChangeKind::StepMoved => {}
                _ => {
                    overlay.changed.insert(node);
                }
            }
        }
        overlay.changed.retain(|n| !overlay.added.contains(n));

        let mut ghosts: HashMap<&StepId, usize> = HashMap::new();
        for step in &old.steps {
            if !pair.old_to_new.contains_key(&step.id.value) {
                ghosts.insert(&step.id.value, overlay.removed_steps.len());
                overlay.removed_steps.push(RemovedStep {
                    id: step.id.value.clone(),
                    title: step
                        .title
                        .as_ref()
                        .map(|t| t.value.clone())
                        .unwrap_or_default(),
                });
            }
        }
        let end_of = |target: &Target| -> Option<EdgeEnd> {
            match target {
                Target::End => Some(EdgeEnd::Node(process.end())),
                Target::Step(id) => process
                    .step(id)
                    .map(EdgeEnd::Node)
                    .or_else(|| ghosts.get(id).map(|&i| EdgeEnd::Removed(i))),
            }
        };
        let old_position: HashMap<&StepId, usize> = old
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.id.value, i))
            .collect();
        let new_to_old: HashMap<&StepId, &StepId> = pair
            .matched
            .iter()
            .map(|(o, n)| (&n.id.value, &o.id.value))
            .collect();

        for (position, step) in new.steps.iter().enumerate() {
            let Some(node) = process.step(&step.id.value) else {
                continue;
            };
            let after = routes(new, position);
            let before = new_to_old
                .get(&step.id.value)
                .and_then(|old_id| old_position.get(old_id))
                .map(|&at| mapped_routes(&pair, at));
            let Some(before) = before else {
                for route in &after {
                    if let Some(t) = transition(process, node, &route.key, &route.target) {
                        overlay.added_edges.insert(t);
                    }
                }
                continue;
            };
            for route in &after {
                let was = before.iter().find(|r| r.key == route.key);
                let Some(t) = transition(process, node, &route.key, &route.target) else {
                    continue;
                };
                match was {
                    None => {
                        overlay.added_edges.insert(t);
                    }
                    Some(was) if was.target != route.target => {
                        overlay.changed_edges.insert(t);
                    }
                    Some(_) => {}
                }
            }
            for was in &before {
                let kept = after
                    .iter()
                    .any(|r| r.key == was.key && r.target == was.target);
                if !kept && let Some(to) = end_of(&was.target) {
                    overlay.removed_edges.push(RemovedEdge {
                        from: EdgeEnd::Node(node),
                        to,
                        label: label(&was.key),
                    });
                }
            }
        }
        for (position, step) in old.steps.iter().enumerate() {
            let Some(&ghost) = ghosts.get(&step.id.value) else {
                continue;
            };
            for route in mapped_routes(&pair, position) {
                if let Some(to) = end_of(&route.target) {
                    overlay.removed_edges.push(RemovedEdge {
                        from: EdgeEnd::Removed(ghost),
                        to,
                        label: label(&route.key),
                    });
                }
            }
        }
        overlay
    }
}

/// How a removed edge is labelled, as the renderers label live ones.
fn label(key: &RouteKey) -> String {
    match key {
        RouteKey::Next | RouteKey::Branch(_) | RouteKey::Join => String::new(),
        RouteKey::Approved => "approved".to_owned(),
        RouteKey::Rejected => "rejected".to_owned(),
        RouteKey::Overdue => "overdue".to_owned(),
        RouteKey::Timeout => "after".to_owned(),
        RouteKey::Escalate => "escalate".to_owned(),
        RouteKey::Cancel => "cancelled".to_owned(),
        RouteKey::Arm(condition) => condition.clone(),
        RouteKey::Else => "else".to_owned(),
    }
}

/// The edge of the process a route of step `from` compiled into (through a join node when
/// it enters a split's join step).
fn transition(
    process: &Process,
    from: NodeIndex,
    key: &RouteKey,
    target: &Target,
) -> Option<Transition> {
    let target = match target {
        Target::End => process.end(),
        Target::Step(id) => process.step(id)?,
    };
    let from = match (key, &process.node(from).kind) {
        (RouteKey::Join, NodeKind::Split(split)) => split.join,
        _ => from,
    };
    process.successors(from).iter().find_map(|&(kind, to)| {
        let kind_fits = match (key, kind) {
            (RouteKey::Next | RouteKey::Join, EdgeKind::Next)
            | (RouteKey::Approved, EdgeKind::Approved)
            | (RouteKey::Rejected, EdgeKind::Rejected)
            | (RouteKey::Overdue, EdgeKind::Overdue)
            | (RouteKey::Timeout, EdgeKind::Timeout)
            | (RouteKey::Escalate, EdgeKind::Escalate)
            | (RouteKey::Cancel, EdgeKind::Cancelled)
            | (RouteKey::Else, EdgeKind::Else)
            | (RouteKey::Branch(_), EdgeKind::Branch) => true,
            (RouteKey::Arm(condition), EdgeKind::Condition(_)) => {
                process.edge_label(from, kind).trim() == condition
            }
            _ => false,
        };
        let through_join = matches!(process.node(to).kind, NodeKind::Join(_))
            && process.successor(to, EdgeKind::Next) == Some(target);
        (kind_fits && (to == target || through_join)).then_some(Transition { from, kind, to })
    })
}
