//! What every renderer draws, read once from the [`Process`]: nodes with their shape, text,
//! role lane and case state, and edges with their label and style. The renderers only
//! decide how each format says it.

use std::collections::{HashMap, HashSet};

use petgraph::graph::NodeIndex;

use super::heat::{self, Heat};
use super::{ChangeOverlay, EdgeEnd, Highlight, text};
use crate::graph::{EdgeKind, NodeKind, Process, StepTimers};
use crate::model::RoleId;

/// How a node is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A circle.
    Start,
    /// A double circle.
    End,
    /// A box with the title and the role.
    Task,
    /// A box with a double border (a subroutine): a task that calls another SOP.
    Call,
    /// A diamond with the title and the approvers' role.
    Approval,
    /// A diamond with the title.
    Decision,
    /// A bar.
    Split,
    /// A bar.
    Join,
}

/// How an edge is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EdgeStyle {
    /// Solid: the normal flow.
    Normal,
    /// Dotted: a deferred-choice timer won.
    Timer,
    /// Dashed and red: rejection, SLA breach, escalation.
    Exception,
    /// Dashed and grey: an edge no scenario took, on a coverage chart.
    Untested,
}

/// The case overlay state of a node, in drawing priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Not highlighted.
    None,
    /// The case passed through it.
    Visited,
    /// The case waits here now.
    Active,
    /// Its SLA was breached.
    Breached,
    /// A revision added it.
    Added,
    /// A revision changed it.
    Changed,
    /// A revision removed it: drawn as a ghost, dashed.
    Removed,
}

/// What a revision did to an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EdgeChange {
    /// The edge is new.
    Added,
    /// The edge leads somewhere else than it did, or leaves a changed step.
    Changed,
    /// The edge is gone: drawn dashed and grey.
    Removed,
}

/// Palette entry for a role lane: node fill, lane background.
pub(crate) struct Palette {
    pub(crate) fill: &'static str,
    pub(crate) lane: &'static str,
}

/// Role colours, cycled. Pastel fills keep black text readable; none is red, blue or amber
/// enough to be mistaken for the exception and highlight strokes.
pub(crate) const PALETTE: [Palette; 8] = [
    Palette {
        fill: "#dbeafe",
        lane: "#f0f6ff",
    },
    Palette {
        fill: "#dcfce7",
        lane: "#f2fdf5",
    },
    Palette {
        fill: "#fef3c7",
        lane: "#fffbeb",
    },
    Palette {
        fill: "#f3e8ff",
        lane: "#faf5ff",
    },
    Palette {
        fill: "#cffafe",
        lane: "#ecfeff",
    },
    Palette {
        fill: "#ffe4e6",
        lane: "#fff5f6",
    },
    Palette {
        fill: "#ecfccb",
        lane: "#f7fee7",
    },
    Palette {
        fill: "#e2e8f0",
        lane: "#f8fafc",
    },
];

/// Colours shared by every format.
pub(crate) mod colors {
    /// Node outlines and normal edges.
    pub(crate) const INK: &str = "#57606a";
    /// Text.
    pub(crate) const TEXT: &str = "#1f2328";
    /// Exception edges and breached SLAs.
    pub(crate) const EXCEPTION: &str = "#cf222e";
    /// Nodes and edges the case went through.
    pub(crate) const VISITED: &str = "#0969da";
    /// Nodes the case waits at.
    pub(crate) const ACTIVE: &str = "#bf8700";
    /// Bars, the start circle.
    pub(crate) const SOLID: &str = "#24292f";
    /// Edges no scenario took, on a coverage chart; edges never taken, on a heatmap.
    pub(crate) const UNTESTED: &str = "#afb8c1";
    /// Edges taken, on a heatmap: a dark blue of the heat scale, apart from the red of
    /// exception edges for people with red-green colour blindness too (dark against red).
    pub(crate) const HEAT_EDGE: &str = "#2c3e6b";
    /// Fill of nodes without a role.
    pub(crate) const PLAIN: &str = "#ffffff";
    /// What a revision added. Blue and orange, with dashes for what was removed, stay apart
    /// for readers who cannot tell red from green.
    pub(crate) const ADDED: &str = "#0969da";
    /// What a revision changed.
    pub(crate) const CHANGED: &str = "#e16f24";
    /// What a revision removed (ghost nodes and edges, dashed).
    pub(crate) const REMOVED: &str = "#8c959f";
    /// Fill of a removed step's ghost.
    pub(crate) const GHOST: &str = "#f6f8fa";
}

/// The line added to a breached node's label.
pub(crate) const BREACHED_NOTE: &str = "SLA breached";

/// A node to draw.
pub(crate) struct ChartNode {
    /// An identifier unique in the chart, safe as a Mermaid id and an XML id: ASCII
    /// letters, digits and `_` (`s_receive`, `n_start`, `n_join_split`).
    pub(crate) id: String,
    /// How it is drawn.
    pub(crate) shape: Shape,
    /// Its text, cleaned (may hold line breaks): the step title, or a name.
    pub(crate) title: String,
    /// A second, smaller line: the role, `approval: lead`, `2 approvals: lead`.
    pub(crate) role_line: Option<String>,
    /// A third, smaller line: the service level (`SLA 1h in support-hours, warn 15m`).
    pub(crate) sla_line: Option<String>,
    /// Index into [`Chart::lanes`] of the role that does it.
    pub(crate) lane: Option<usize>,
    /// The case overlay.
    pub(crate) mark: Mark,
    /// The heatmap overlay.
    pub(crate) heat: NodeHeat,
}

/// A node on a heatmap.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeHeat {
    /// Not a heatmap, or a node that carries no figure (start, end, bars).
    None,
    /// A step without a figure.
    NoData,
    /// A step with its figure.
    Figure {
        /// The fill from the colour scale.
        fill: String,
        /// Whether its text is white (on the dark end of the scale).
        white_text: bool,
        /// What the figure is: `median 2h 10m`.
        label: String,
    },
}

/// What a heatmap's legend says.
pub(crate) struct HeatLegend {
    /// What the step colours mean.
    pub(crate) caption: String,
    /// The words at the cool and hot ends of the scale.
    pub(crate) scale: (String, String),
    /// The largest edge count, when edges were counted.
    pub(crate) max_count: Option<u64>,
}

impl ChartNode {
    /// The node's fill colour.
    pub(crate) fn fill(&self) -> &str {
        match &self.heat {
            NodeHeat::Figure { fill, .. } => return fill,
            NodeHeat::NoData => return colors::PLAIN,
            NodeHeat::None => {}
        }
        match (self.shape, self.lane) {
            _ if self.mark == Mark::Removed => colors::GHOST,
            (Shape::Start | Shape::Split | Shape::Join, _) => colors::SOLID,
            (_, Some(lane)) => PALETTE[lane % PALETTE.len()].fill,
            (_, None) => colors::PLAIN,
        }
    }

    /// Colour of the node's text.
    pub(crate) fn text_color(&self) -> &'static str {
        match self.heat {
            NodeHeat::Figure {
                white_text: true, ..
            } => "#ffffff",
            _ => colors::TEXT,
        }
    }

    /// The heat figure's label, if the node has one.
    pub(crate) fn heat_label(&self) -> Option<&str> {
        match &self.heat {
            NodeHeat::Figure { label, .. } if !label.is_empty() => Some(label),
            _ => None,
        }
    }

    /// Outline colour and width (px) the overlay gives the node, if any.
    pub(crate) fn mark_stroke(&self) -> Option<(&'static str, u32)> {
        match self.mark {
            Mark::None => None,
            Mark::Visited => Some((colors::VISITED, 3)),
            Mark::Active => Some((colors::ACTIVE, 4)),
            Mark::Breached => Some((colors::EXCEPTION, 4)),
            Mark::Added => Some((colors::ADDED, 4)),
            Mark::Changed => Some((colors::CHANGED, 4)),
            Mark::Removed => Some((colors::REMOVED, 2)),
        }
    }
}

/// An edge to draw.
pub(crate) struct ChartEdge {
    /// Index into [`Chart::nodes`].
    pub(crate) from: usize,
    /// Index into [`Chart::nodes`].
    pub(crate) to: usize,
    /// The label, cleaned and on one line (may be empty).
    pub(crate) label: String,
    /// How it is drawn.
    pub(crate) style: EdgeStyle,
    /// Whether the case took it.
    pub(crate) taken: bool,
    /// What a revision did to it, on a diff chart.
    pub(crate) change: Option<EdgeChange>,
    /// On a heatmap with edge counts: how often it was taken, and the width that gives.
    pub(crate) count: Option<(u64, f64)>,
}

/// Edge widths on a heatmap (px): the least taken edge and the most taken one.
const HEAT_WIDTH: (f64, f64) = (1.5, 9.0);

impl ChartEdge {
    /// Stroke colour and width (px).
    pub(crate) fn stroke(&self) -> (&'static str, f64) {
        match self.change {
            Some(EdgeChange::Added) => return (colors::ADDED, 3.0),
            Some(EdgeChange::Changed) => return (colors::CHANGED, 3.0),
            Some(EdgeChange::Removed) => return (colors::REMOVED, 1.5),
            None => {}
        }
        if let Some((count, width)) = self.count {
            return match (count, self.style) {
                (0, _) => (colors::UNTESTED, 1.0),
                (_, EdgeStyle::Exception) => (colors::EXCEPTION, width),
                _ => (colors::HEAT_EDGE, width),
            };
        }
        match (self.taken, self.style) {
            (true, _) => (colors::VISITED, 3.0),
            (false, EdgeStyle::Exception) => (colors::EXCEPTION, 1.5),
            (false, EdgeStyle::Untested) => (colors::UNTESTED, 1.5),
            (false, _) => (colors::INK, 1.5),
        }
    }
}

/// A lane: a role's shared work, or the work that goes to one person.
pub(crate) struct Lane {
    /// What the lane is labelled with: the role's id, the label of the `person` field that
    /// names whom its steps go to, `who did receive` for whoever did an earlier step.
    pub(crate) title: String,
    /// An identifier safe in every format (`lane_0`).
    pub(crate) id: String,
}

/// The whole chart.
pub(crate) struct Chart {
    /// `title (id vN)`, cleaned, one line.
    pub(crate) caption: String,
    /// The SOP id, cleaned.
    pub(crate) sop_id: String,
    /// In process order: start, end, then the steps in document order.
    pub(crate) nodes: Vec<ChartNode>,
    /// Per node, edges in the order they were written.
    pub(crate) edges: Vec<ChartEdge>,
    /// Roles that perform a task or approve a gate, and the people steps go to, in
    /// document order.
    pub(crate) lanes: Vec<Lane>,
    /// Whether a non-empty overlay was given.
    pub(crate) highlighted: bool,
    /// Whether this chart shows a revision's changes (a legend of them).
    pub(crate) diff: bool,
    /// The heatmap's legend, on a heatmap.
    pub(crate) heat: Option<HeatLegend>,
}

impl Chart {
    /// Reads `process` and the overlays.
    pub(crate) fn new(
        process: &Process,
        highlight: Option<&Highlight>,
        heat_map: Option<&Heat>,
    ) -> Chart {
        let empty = Highlight::default();
        let highlight = highlight.unwrap_or(&empty);

        // One lane per role that holds a step, and one per person a step goes to (a
        // `person` field, or whoever did an earlier step): work that goes to one person is
        // drawn apart from the role's shared queue. A gate of several roles sits in its
        // first role's lane, so its other roles get no empty lane of their own.
        let mut keys: Vec<LaneKey> = Vec::new();
        let mut lane_index: HashMap<NodeIndex, usize> = HashMap::new();
        for (index, key) in lane_keys(process) {
            let position = match keys.iter().position(|k| *k == key) {
                Some(position) => position,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            };
            lane_index.insert(index, position);
        }
        let lanes: Vec<Lane> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| Lane {
                title: key.title(process),
                id: format!("lane_{i}"),
            })
            .collect();
        let lane_of = |index: NodeIndex| lane_index.get(&index).copied();

        let mut position: HashMap<NodeIndex, usize> = HashMap::new();
        let mut used_ids: HashSet<String> = HashSet::new();
        let mut nodes = Vec::new();
        for (index, node) in process.nodes() {
            let step = node.step.as_ref().map(|s| s.to_string());
            let title_or = |fallback: &str| {
                node.title
                    .as_ref()
                    .map(|t| text::clean(t.source()))
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| fallback.to_owned())
            };
            let step_name = step.clone().unwrap_or_else(|| node.name());
            let (shape, title, role_line, lane) = match &node.kind {
                NodeKind::Start => (Shape::Start, "start".to_owned(), None, None),
                NodeKind::End => (Shape::End, "end".to_owned(), None, None),
                NodeKind::Task(task) => (
                    if task.call.is_some() {
                        Shape::Call
                    } else {
                        Shape::Task
                    },
                    title_or(&step_name),
                    Some(format!(
                        "{}{}{}{}",
                        task.role,
                        people_note(&task.people),
                        items_note(task.for_each.as_ref()),
                        task.call
                            .as_ref()
                            .map(|call| format!(" · calls {}", call.sop))
                            .unwrap_or_default()
                    )),
                    lane_of(index),
                ),
                NodeKind::Approval(gate) => {
                    let line = if gate.count > 1 {
                        format!("{} approvals: {}", gate.count, gate.roles_text())
                    } else {
                        format!(
                            "approval: {}{}",
                            gate.roles_text(),
                            people_note(&gate.people)
                        )
                    };
                    (
                        Shape::Approval,
                        title_or(&step_name),
                        Some(line),
                        lane_of(index),
                    )
                }
                NodeKind::Decision(_) => (Shape::Decision, title_or(&step_name), None, None),
                NodeKind::Split(_) => (Shape::Split, title_or(&step_name), None, None),
                NodeKind::Join(join) => (Shape::Join, join_title(process, join), None, None),
            };
            let base = match (&node.kind, &step) {
                (NodeKind::Start, _) => "n_start".to_owned(),
                (NodeKind::End, _) => "n_end".to_owned(),
                (NodeKind::Join(join), _) => format!("n_join_{}", safe_id(join.split.as_str())),
                (_, Some(step)) => format!("s_{}", safe_id(step)),
                (_, None) => format!("n_{}", index.index()),
            };
            let mut id = base.clone();
            let mut n = 1;
            while !used_ids.insert(id.clone()) {
                n += 1;
                id = format!("{base}_{n}");
            }
            let mark = if highlight.breached.contains(&index) {
                Mark::Breached
            } else if highlight.active.contains(&index) {
                Mark::Active
            } else if highlight.visited.contains(&index) {
                Mark::Visited
            } else {
                Mark::None
            };
            let sla_line = process.timers(index).and_then(service_level_line);
            let heat = match heat_map {
                None => NodeHeat::None,
                Some(figures) => match figures.steps.get(&index) {
                    Some(figure) => {
                        let (fill, white_text) = heat::color(figure.value);
                        NodeHeat::Figure {
                            fill,
                            white_text,
                            label: text::one_line(&figure.label),
                        }
                    }
                    None if heat::holds_figure(&node.kind) => NodeHeat::NoData,
                    None => NodeHeat::None,
                },
            };
            position.insert(index, nodes.len());
            nodes.push(ChartNode {
                id,
                shape,
                title,
                role_line,
                sla_line,
                lane,
                mark,
                heat,
            });
        }

        // Edge widths only when edges were counted: a heatmap of step figures alone keeps
        // the usual edges.
        let counted = heat_map
            .filter(|h| !h.edges.is_empty())
            .map(Heat::max_count);
        let mut edges = Vec::new();
        for (from, _) in process.nodes() {
            for (kind, to) in process.successors(from).iter().copied() {
                let (Some(&from_at), Some(&to_at)) = (position.get(&from), position.get(&to))
                else {
                    continue;
                };
                let style = if kind.is_exceptional() {
                    EdgeStyle::Exception
                } else if kind == EdgeKind::Timeout {
                    EdgeStyle::Timer
                } else {
                    EdgeStyle::Normal
                };
                let taken = highlight
                    .taken
                    .contains(&super::Transition { from, kind, to });
                let count = counted.map(|max| {
                    let count = heat_map
                        .and_then(|h| h.edges.get(&super::Transition { from, kind, to }))
                        .copied()
                        .unwrap_or(0);
                    // Square root: area-like, so one busy edge does not make every other
                    // edge a hairline.
                    let share = (count as f64 / max as f64).sqrt();
                    let width = HEAT_WIDTH.0 + (HEAT_WIDTH.1 - HEAT_WIDTH.0) * share;
                    // Tenths of a pixel: all any format can show, and stable text.
                    (count, (width * 10.0).round() / 10.0)
                });
                let style = if (highlight.dim_untaken && !taken) || count.is_some_and(|c| c.0 == 0)
                {
                    EdgeStyle::Untested
                } else {
                    style
                };
                let mut label = match process.branch_condition(from, to) {
                    Some(condition) if kind == EdgeKind::Branch => {
                        text::one_line(condition.source())
                    }
                    _ => text::one_line(&process.edge_label(from, kind)),
                };
                if let Some((count, _)) = count.filter(|c| c.0 > 0) {
                    label = if label.is_empty() {
                        count.to_string()
                    } else {
                        format!("{label} · {count}")
                    };
                }
                edges.push(ChartEdge {
                    from: from_at,
                    to: to_at,
                    label,
                    style,
                    taken,
                    change: None,
                    count,
                });
            }
        }

        Chart {
            caption: text::one_line(&format!(
                "{} ({} v{})",
                process.title(),
                process.id(),
                process.version()
            )),
            sop_id: text::one_line(process.id().as_str()),
            nodes,
            edges,
            lanes,
            highlighted: !highlight.is_empty(),
            diff: false,
            heat: heat_map.map(|h| HeatLegend {
                caption: text::one_line(&h.caption),
                scale: h.scale.as_ref().map_or_else(
                    || ("low".to_owned(), "high".to_owned()),
                    |(low, high)| (text::one_line(low), text::one_line(high)),
                ),
                max_count: counted,
            }),
        }
    }

    /// Reads `process` as the new version of a revision, with what it added and changed
    /// marked, and what it removed added as ghost nodes and dashed edges.
    pub(crate) fn with_changes(process: &Process, changes: &ChangeOverlay) -> Chart {
        let mut chart = Chart::new(process, None, None);
        chart.diff = true;
        // Nodes are in process order, so a node index is a chart position.
        let at = |index: NodeIndex| (index.index() < chart_len(process)).then_some(index.index());
        for (position, (index, _)) in process.nodes().enumerate() {
            debug_assert_eq!(position, index.index());
            let node = &mut chart.nodes[position];
            if changes.added.contains(&index) {
                node.mark = Mark::Added;
            } else if changes.changed.contains(&index) {
                node.mark = Mark::Changed;
            }
        }
        let mut edge_at = 0;
        for (from, _) in process.nodes() {
            for &(kind, to) in process.successors(from) {
                if at(from).is_none() || at(to).is_none() {
                    continue;
                }
                let transition = super::Transition { from, kind, to };
                if let Some(edge) = chart.edges.get_mut(edge_at) {
                    edge.change = if changes.added_edges.contains(&transition) {
                        Some(EdgeChange::Added)
                    } else if changes.changed_edges.contains(&transition) {
                        Some(EdgeChange::Changed)
                    } else {
                        None
                    };
                }
                edge_at += 1;
            }
        }
        let first_ghost = chart.nodes.len();
        let mut used: HashSet<String> = chart.nodes.iter().map(|n| n.id.clone()).collect();
        for removed in &changes.removed_steps {
            let base = format!("r_{}", safe_id(removed.id.as_str()));
            let mut id = base.clone();
            let mut n = 1;
            while !used.insert(id.clone()) {
                n += 1;
                id = format!("{base}_{n}");
            }
            let title = text::clean(&removed.title);
            chart.nodes.push(ChartNode {
                id,
                shape: Shape::Task,
                title: if title.is_empty() {
                    removed.id.to_string()
                } else {
                    title
                },
                role_line: Some(format!("removed: {}", removed.id)),
                sla_line: None,
                lane: None,
                mark: Mark::Removed,
                heat: NodeHeat::None,
            });
        }
        let end_of = |end: EdgeEnd| match end {
            EdgeEnd::Node(index) => at(index),
            EdgeEnd::Removed(i) => (i < changes.removed_steps.len()).then_some(first_ghost + i),
        };
        for removed in &changes.removed_edges {
            let (Some(from), Some(to)) = (end_of(removed.from), end_of(removed.to)) else {
                continue;
            };
            chart.edges.push(ChartEdge {
                from,
                to,
                label: text::one_line(&removed.label),
                style: EdgeStyle::Normal,
                taken: false,
                change: Some(EdgeChange::Removed),
                count: None,
            });
        }
        chart
    }

    /// Indices of the nodes in each lane, in node order; nodes without a lane are left out.
    pub(crate) fn lane_members(&self) -> Vec<Vec<usize>> {
        let mut members = vec![Vec::new(); self.lanes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if let Some(lane) = node.lane {
                members[lane].push(i);
            }
        }
        members
    }
}

fn chart_len(process: &Process) -> usize {
    process.graph().node_count()
}

/// A step's service level in a few words: `SLA 1h in support-hours, warn 15m, 2 levels,
/// pausable` (`in`: the calendar whose working time it counts).
fn service_level_line(timers: &StepTimers) -> Option<String> {
    let sla = timers.sla.as_ref()?;
    let mut line = format!("SLA {}", sla.due.describe());
    if let Some(calendar) = &timers.calendar.name {
        line.push_str(&format!(" in {calendar}"));
    }
    if let Some(warn) = sla.warn {
        line.push_str(&format!(", warn {warn}"));
    }
    let levels = sla.ladder.len();
    if levels > 1 || sla.ladder.iter().any(|level| level.notify.is_some()) {
        line.push_str(&format!(
            ", {levels} level{}",
            if levels == 1 { "" } else { "s" }
        ));
    }
    if sla.pausable {
        line.push_str(", pausable");
    }
    Some(line)
}

/// `id` with every character other than ASCII letters, digits and `_` written as `_`.
fn safe_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Who a step goes to beyond its role, as a suffix of its role line (`support_agent ·
/// person in assignee`), so a chart shows work that goes to one person.
/// ` · for each of systems` on a task run once per item (` · 1 of each of systems` when
/// it waits for fewer than all).
fn items_note(for_each: Option<&crate::graph::ForEach>) -> String {
    match for_each {
        Some(each) => match each.wait_for {
            Some(n) => format!(" · for each of {}, {n} needed", each.field),
            None => format!(" · for each of {}", each.field),
        },
        None => String::new(),
    }
}

/// `join`, or `join: 1 of 2` when the join waits for fewer branches than its split has.
fn join_title(process: &Process, join: &crate::graph::Join) -> String {
    let wait_for = process
        .step(&join.split)
        .and_then(|split| match &process.node(split).kind {
            NodeKind::Split(split) => split.wait_for,
            _ => None,
        });
    match wait_for {
        Some(n) => format!("join: {n} of {}", join.branches),
        None => "join".to_owned(),
    }
}

/// Whose lane a step is drawn in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LaneKey {
    /// A role's shared work.
    Role(RoleId),
    /// The person a `person` field names.
    PersonIn(crate::model::FieldId),
    /// Whoever did an earlier step that is itself in a role's lane.
    WhoDid(crate::model::StepId),
}

impl LaneKey {
    /// The role's id; the field's label (`Assigned team member`), or `line_manager
    /// (person)` when it has none; `who did receive`.
    fn title(&self, process: &Process) -> String {
        match self {
            LaneKey::Role(role) => role.to_string(),
            LaneKey::PersonIn(field) => process
                .field(field)
                .map(|spec| text::clean(&spec.label))
                .filter(|label| !label.is_empty() && label != field.as_str())
                .unwrap_or_else(|| format!("{field} (person)")),
            LaneKey::WhoDid(step) => format!("who did {step}"),
        }
    }
}

/// The lane of every task and gate, in process order. A step that goes to whoever did an
/// earlier step shares that step's lane when it is a person's (the same person does both),
/// and gets a `who did` lane of its own when it is a role's.
fn lane_keys(process: &Process) -> Vec<(NodeIndex, LaneKey)> {
    let direct = |kind: &NodeKind| -> Option<(LaneKey, Option<crate::model::StepId>)> {
        let (role, people) = match kind {
            NodeKind::Task(task) => (Some(&task.role), &task.people),
            NodeKind::Approval(gate) => (gate.by.first(), &gate.people),
            _ => return None,
        };
        if let Some(field) = &people.assignee {
            return Some((LaneKey::PersonIn(field.clone()), None));
        }
        let role = LaneKey::Role(role?.clone());
        Some((role, people.same_performer_as.clone()))
    };
    let by_step: HashMap<&crate::model::StepId, (LaneKey, Option<crate::model::StepId>)> = process
        .nodes()
        .filter_map(|(_, node)| Some((node.step.as_ref()?, direct(&node.kind)?)))
        .collect();
    process
        .nodes()
        .filter_map(|(index, node)| {
            let (mut key, mut same_as) = direct(&node.kind)?;
            // Follow `same_performer_as` to the first step in a lane of its own; the
            // compiler refuses cycles, and the bound keeps a chart finite regardless.
            for _ in 0..by_step.len() {
                let Some(earlier) = same_as.take() else { break };
                match by_step.get(&earlier) {
                    Some((LaneKey::Role(_), None)) | None => {
                        key = LaneKey::WhoDid(earlier);
                    }
                    Some((found, next)) => {
                        key = found.clone();
                        same_as = next.clone();
                    }
                }
            }
            Some((index, key))
        })
        .collect()
}

fn people_note(people: &crate::graph::StepPeople) -> String {
    let mut note = String::new();
    if let Some(field) = &people.assignee {
        note.push_str(&format!(" · person in {field}"));
    } else if let Some(step) = &people.same_performer_as {
        note.push_str(&format!(" · who did {step}"));
    }
    if !people.separate_from.is_empty() {
        let steps: Vec<&str> = people.separate_from.iter().map(|s| s.as_str()).collect();
        note.push_str(&format!(" · not who did {}", steps.join(", ")));
    }
    note
}
