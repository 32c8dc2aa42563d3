//! `graph::Process` → flowcharts: [Mermaid](mermaid) (renders in GitHub markdown),
//! [Graphviz DOT](dot) and [SVG](svg) drawn without Graphviz.
//!
//! All three formats say the same things the same way:
//! - start and end are circles (the end a double circle), steps are boxes with their title
//!   and role, approval gates and decisions are diamonds, parallel splits and joins are bars;
//! - rejection, SLA breach (`overdue 1h`) and escalation edges are dashed and red, timer
//!   edges (`after 3d`) dotted, normal flow solid; edges are labelled with the decision's
//!   condition, `else`, `approved`, `rejected`, `overdue 1h`, …;
//! - steps are coloured by role, and grouped in one swimlane per role where the format has
//!   them (Mermaid subgraphs, DOT clusters; the SVG has a legend of role colours instead);
//! - an optional [`Highlight`] overlays a case: the path taken (blue), the active steps
//!   (amber) and the steps whose SLA was breached (red, with an `SLA breached` line); with
//!   [`Highlight::dim_untaken`], the edges not taken are grey and dashed (scenario coverage);
//! - or a [`ChangeOverlay`] marks what a revision changed ([`render_changes`]): added steps
//!   and edges blue, changed ones orange, removed ones as grey dashed ghosts;
//! - or a [`Heat`] draws figures about many cases instead ([`heatmap`]): steps filled on a
//!   colour-blind-safe scale with a label each, edges as wide as they were often taken.
//!
//! ```
//! let sop = sopflow::parse::parse_sop("hello.yaml", "
//! id: hello
//! version: 1
//! title: Hello
//! department: Support
//! roles: { agent: Support agent }
//! steps:
//!   - { id: greet, title: Say \"hello\", role: agent, end: true }
//! ").unwrap();
//! let process = sopflow::graph::compile(&sop).process.unwrap();
//! let chart = sopflow::render::mermaid(&process, None);
//! assert!(chart.contains(r#"s_greet["Say #quot;hello#quot;<br/><i>agent</i>"]"#));
//! ```
//!
//! Architecture invariant: renderers read only [`Process`], never the YAML, so a chart
//! cannot drift from what the engine runs. They know nothing about cases beyond the
//! [`Highlight`], [`Heat`] or [`ChangeOverlay`] a caller hands them, and compute no
//! statistics.

mod chart;
mod dot;
mod heat;
mod mermaid;
mod svg;
mod text;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use petgraph::graph::NodeIndex;

use crate::engine::{CaseState, Event, EventKind, StepRename};
use crate::graph::{EdgeKind, Process};
use crate::model::StepId;

pub use heat::{Heat, HeatError, StepHeat};
pub use svg::LayoutError;

/// A flowchart format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Mermaid flowchart text, which GitHub renders in markdown.
    Mermaid,
    /// Graphviz DOT, for `dot -Tsvg` and friends.
    Dot,
    /// A standalone SVG image, laid out without Graphviz.
    Svg,
}

impl Format {
    /// Every format, in the order the CLI lists them.
    pub const ALL: [Format; 3] = [Format::Mermaid, Format::Dot, Format::Svg];

    /// The format's name on the command line: `mermaid`, `dot`, `svg`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Mermaid => "mermaid",
            Format::Dot => "dot",
            Format::Svg => "svg",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a format name did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown flowchart format `{0}`: expected mermaid, dot or svg")]
pub struct UnknownFormat(String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(name: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|format| format.name() == name)
            .ok_or_else(|| UnknownFormat(name.to_owned()))
    }
}

/// One edge of a [`Process`] as a case takes it: from a node, for a reason, to a node.
///
/// The triple is what `Process::successors` yields, so whoever walks the process can
/// record it; it tells apart two edges between the same nodes (a decision's condition and
/// its `else`, a step's `overdue` and `escalate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transition {
    /// The node the edge leaves.
    pub from: NodeIndex,
    /// Why the edge is taken.
    pub kind: EdgeKind,
    /// The node the edge enters.
    pub to: NodeIndex,
}

/// A case drawn over its process: what it went through, where it stands, what is late.
///
/// Indices not in the process are ignored. A node may be in several sets; it is drawn as
/// breached before active before visited.
///
/// ```
/// use sopflow::render::Highlight;
/// # let sop = sopflow::parse::parse_sop("t.yaml", "id: t\nversion: 1\ntitle: T\n\
/// #   department: D\nroles: { agent: A }\nsteps:\n  - { id: a, title: A, role: agent, end: true }\n").unwrap();
/// # let process = sopflow::graph::compile(&sop).process.unwrap();
/// let mut highlight = Highlight::default();
/// let first = process.successors(process.start())[0];
/// highlight.take(process.start(), first.0, first.1);
/// highlight.active.insert(first.1);
/// let dot = sopflow::render::dot(&process, Some(&highlight));
/// assert!(dot.contains("penwidth=4"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Highlight {
    /// Nodes the case has passed through.
    pub visited: HashSet<NodeIndex>,
    /// Edges the case has taken.
    pub taken: HashSet<Transition>,
    /// Nodes waiting for work now (several while parallel branches run).
    pub active: HashSet<NodeIndex>,
    /// Nodes whose SLA (`due`) was breached.
    pub breached: HashSet<NodeIndex>,
    /// Draw every edge not in `taken` grey and dashed: a coverage chart, where what no
    /// scenario tested stands out (see `sopflow::scenario::Coverage::highlight`).
    pub dim_untaken: bool,
}

impl Highlight {
    /// Records that the case took the edge `from --kind--> to`: the edge is taken and both
    /// ends are visited.
    pub fn take(&mut self, from: NodeIndex, kind: EdgeKind, to: NodeIndex) {
        self.taken.insert(Transition { from, kind, to });
        self.visited.insert(from);
        self.visited.insert(to);
    }

    /// The overlay of a case, computed from its events: the path taken (each activation
    /// linked to the step that led to it), the active steps and every breached SLA.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use sopflow::engine::{self, Action, Actor, CaseState, Command};
    /// use sopflow::render::Highlight;
    /// # let sop = sopflow::parse::parse_sop("t.yaml", "id: t\nversion: 1\ntitle: T\n\
    /// #   department: D\nroles: { agent: A }\nsteps:\n  - { id: a, title: A, role: agent }\n  - { id: b, title: B, role: agent, end: true }\n").unwrap();
    /// # let process = sopflow::graph::compile(&sop).process.unwrap();
    /// let ana = Actor::new("ana", ["agent".parse().unwrap()]);
    /// let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    /// let mut case = CaseState::new();
    /// let mut log = Vec::new();
    /// for (id, action) in [
    ///     ("c1", Action::Start { case: "T-1".into(), fields: Default::default() }),
    ///     ("c2", Action::Complete { step: "a".parse().unwrap(), fields: Default::default(), item: None }),
    /// ] {
    ///     for event in engine::handle(&process, &case, Command::new(id, ana.clone(), action), now).unwrap() {
    ///         case.apply(&event);
    ///         log.push(event);
    ///     }
    /// }
    /// let highlight = Highlight::from_case(&process, &log, &case);
    /// assert_eq!(highlight.taken.len(), 2); // start → a → b
    /// assert!(highlight.active.contains(&process.step(&"b".parse().unwrap()).unwrap()));
    /// ```
    pub fn from_case(process: &Process, events: &[Event], state: &CaseState) -> Highlight {
        let mut highlight = Highlight::default();
        highlight.trace(process, events, &mut |_| {});
        let node_of = |step: &StepId| process.step(step);
        for active in state.active_steps() {
            if let Some(node) = node_of(&active.step) {
                highlight.active.insert(node);
                if active.breached {
                    highlight.breached.insert(node);
                }
            }
        }
        highlight
    }

    /// Every edge a case took, in the order it took them, once per time it took them (a
    /// rework loop gone round twice gives its edges twice): what `from_case` draws, as a
    /// walk, for counting how often each edge is taken.
    pub fn transitions(process: &Process, events: &[Event]) -> Vec<Transition> {
        let mut walk = Vec::new();
        Highlight::default().trace(process, events, &mut |taken| walk.push(taken));
        walk
    }

    /// Follows the events through the process: marks visited nodes, taken edges and
    /// breaches, and hands every edge taken to `took` as it is taken.
    fn trace(&mut self, process: &Process, events: &[Event], took: &mut dyn FnMut(Transition)) {
        let highlight = self;
        // Where the flow last left from, and by which kind of edge if known.
        let mut from: Option<(NodeIndex, Option<EdgeKind>)> = None;
        // A migrated case named its steps by the ids of the version it ran on then: each
        // is drawn where it went in `process`, through every later move's renames.
        let moves: Vec<(usize, &[StepRename])> = events
            .iter()
            .enumerate()
            .filter_map(|(index, event)| match &event.kind {
                EventKind::CaseMigrated { renamed, .. } => Some((index, renamed.as_slice())),
                _ => None,
            })
            .collect();
        for (index, event) in events.iter().enumerate() {
            let node_of = |step: &StepId| {
                let mut step = step.clone();
                for (_, renamed) in moves.iter().filter(|(at, _)| *at > index) {
                    if let Some(rename) = renamed.iter().find(|r| r.from == step) {
                        step = rename.to.clone();
                    }
                }
                process.step(&step)
            };
            match &event.kind {
                EventKind::CaseStarted { .. } => {
                    from = Some((process.start(), Some(EdgeKind::Next)));
                    highlight.visited.insert(process.start());
                }
                EventKind::StepActivated { step, .. } => {
                    if let Some(to) = node_of(step) {
                        if let Some((source, kind)) = from {
                            highlight.link(process, took, source, kind, to);
                        }
                        highlight.visited.insert(to);
                    }
                }
                EventKind::DecisionTaken {
                    step, condition, ..
                } => {
                    if let Some(decision) = node_of(step) {
                        if let Some((source, kind)) = from {
                            highlight.link(process, took, source, kind, decision);
                        }
                        highlight.visited.insert(decision);
                        from = Some((decision, arm(process, decision, condition.as_deref())));
                    }
                }
                EventKind::BranchesStarted { step, .. } => {
                    if let Some(split) = node_of(step) {
                        if let Some((source, kind)) = from {
                            highlight.link(process, took, source, kind, split);
                        }
                        highlight.visited.insert(split);
                        from = Some((split, Some(EdgeKind::Branch)));
                    }
                }
                // Every branch that arrives is recorded, so the edge of a branch that
                // finishes first is taken too, not only the last one's.
                EventKind::BranchJoined { split } => {
                    let join = node_of(split).and_then(|n| match &process.node(n).kind {
                        crate::graph::NodeKind::Split(s) => Some(s.join),
                        _ => None,
                    });
                    if let Some(join) = join {
                        if let Some((source, kind)) = from {
                            highlight.link(process, took, source, kind, join);
                        }
                        highlight.visited.insert(join);
                        from = Some((join, Some(EdgeKind::Next)));
                    }
                }
                EventKind::StepCompleted { step, .. } => {
                    from = node_of(step).map(|n| (n, Some(EdgeKind::Next)));
                }
                EventKind::GateApproved { step, .. } => {
                    from = node_of(step).map(|n| (n, Some(EdgeKind::Approved)));
                }
                EventKind::GateRejected { step, .. } => {
                    from = node_of(step).map(|n| (n, Some(EdgeKind::Rejected)));
                }
                // The edge kind is known: a step may have `overdue` and `escalate` edges to
                // the same target, and coverage must tell them apart.
                EventKind::StepEscalated { step, .. } => {
                    from = node_of(step).map(|n| (n, Some(EdgeKind::Escalate)));
                }
                EventKind::TimerFired { step, .. } => {
                    from = node_of(step).map(|n| (n, Some(EdgeKind::Timeout)));
                }
                EventKind::StepCancelled { step, .. } => {
                    from = node_of(step).map(|n| (n, Some(EdgeKind::Cancelled)));
                }
                EventKind::SlaBreached {
                    step, escalated, ..
                } => {
                    if let Some(node) = node_of(step) {
                        highlight.breached.insert(node);
                        if *escalated {
                            from = Some((node, Some(EdgeKind::Overdue)));
                        }
                    }
                }
                EventKind::SlaLevelReached {
                    step: Some(step),
                    escalated: true,
                    ..
                } => {
                    from = node_of(step).map(|n| (n, Some(EdgeKind::Overdue)));
                }
                EventKind::CaseClosed => {
                    if let Some((source, kind)) = from {
                        highlight.link(process, took, source, kind, process.end());
                    }
                    highlight.visited.insert(process.end());
                }
                _ => {}
            }
        }
    }

    /// Takes the edge from `from` into `to` (of `kind` when known), also when it passes
    /// through a parallel join on the way.
    fn link(
        &mut self,
        process: &Process,
        took: &mut dyn FnMut(Transition),
        from: NodeIndex,
        kind: Option<EdgeKind>,
        to: NodeIndex,
    ) {
        let fits = |k: EdgeKind| kind.is_none_or(|wanted| wanted == k);
        let edges = process.successors(from);
        if let Some(&(k, target)) = edges.iter().find(|&&(k, t)| t == to && fits(k)) {
            self.take(from, k, target);
            took(Transition {
                from,
                kind: k,
                to: target,
            });
            return;
        }
        // Through a join: from → join → to.
        for &(k, join) in edges {
            if fits(k)
                && matches!(process.node(join).kind, crate::graph::NodeKind::Join(_))
                && let Some(after) = process.successor(join, EdgeKind::Next)
                && after == to
            {
                self.take(from, k, join);
                self.take(join, EdgeKind::Next, to);
                took(Transition {
                    from,
                    kind: k,
                    to: join,
                });
                took(Transition {
                    from: join,
                    kind: EdgeKind::Next,
                    to,
                });
                return;
            }
        }
    }

    /// Whether there is nothing to highlight.
    pub fn is_empty(&self) -> bool {
        self.visited.is_empty()
            && self.taken.is_empty()
            && self.active.is_empty()
            && self.breached.is_empty()
    }
}

/// A revision drawn over its new version: what it added (blue), what it changed (orange),
/// and what it removed, as ghost steps and edges (grey, dashed). Built by
/// `sopflow::versions::SopDiff::overlay`; drawn by [`render_changes`].
///
/// Indices not in the process, and removed edges whose ends are not there, are ignored. A
/// node both added and changed is drawn as added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeOverlay {
    /// Steps of the new version the old one did not have.
    pub added: HashSet<NodeIndex>,
    /// Steps whose behaviour or text changed.
    pub changed: HashSet<NodeIndex>,
    /// Edges the old version did not have.
    pub added_edges: HashSet<Transition>,
    /// Edges that lead somewhere else than they did.
    pub changed_edges: HashSet<Transition>,
    /// Steps of the old version that are gone, drawn as ghosts.
    pub removed_steps: Vec<RemovedStep>,
    /// Edges of the old version that are gone, between steps of the new version or ghosts.
    pub removed_edges: Vec<RemovedEdge>,
}

/// A step of the old version that the new one does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedStep {
    /// Its id in the old version.
    pub id: StepId,
    /// Its title as written (may be empty).
    pub title: String,
}

/// An edge of the old version that the new one does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedEdge {
    /// Where it left from.
    pub from: EdgeEnd,
    /// Where it led.
    pub to: EdgeEnd,
    /// Its label (`rejected`, a condition), may be empty.
    pub label: String,
}

/// One end of a [`RemovedEdge`]: a node of the new version, or a removed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeEnd {
    /// A node of the process drawn.
    Node(NodeIndex),
    /// The removed step at this index of [`ChangeOverlay::removed_steps`].
    Removed(usize),
}

impl ChangeOverlay {
    /// Whether there is nothing to mark.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.changed.is_empty()
            && self.added_edges.is_empty()
            && self.changed_edges.is_empty()
            && self.removed_steps.is_empty()
            && self.removed_edges.is_empty()
    }
}

/// The new version of a revision as a chart in `format`, with the changes marked: added
/// steps and edges blue, changed ones orange, removed steps as dashed grey ghosts with
/// their old edges dashed; the SVG has a legend of the three.
///
/// Fails only for [`Format::Svg`], when the layout engine gives up.
pub fn render_changes(
    process: &Process,
    format: Format,
    changes: &ChangeOverlay,
) -> Result<String, LayoutError> {
    let chart = chart::Chart::with_changes(process, changes);
    match format {
        Format::Mermaid => Ok(mermaid::render(&chart)),
        Format::Dot => Ok(dot::render(&chart)),
        Format::Svg => svg::render(&chart),
    }
}

/// The arm a decision took, from the condition text its event records (`None`: `else`),
/// so that two arms into the same step are told apart; `None` when it cannot be told.
fn arm(process: &Process, decision: NodeIndex, condition: Option<&str>) -> Option<EdgeKind> {
    let Some(text) = condition else {
        return Some(EdgeKind::Else);
    };
    match &process.node(decision).kind {
        crate::graph::NodeKind::Decision(d) => d
            .conditions
            .iter()
            .position(|c| c.source() == text)
            .map(EdgeKind::Condition),
        _ => None,
    }
}

/// The process as a chart in `format`, with the case overlay if there is one.
///
/// Fails only for [`Format::Svg`], when the layout engine gives up (see [`svg`]).
pub fn render(
    process: &Process,
    format: Format,
    highlight: Option<&Highlight>,
) -> Result<String, LayoutError> {
    match format {
        Format::Mermaid => Ok(mermaid(process, highlight)),
        Format::Dot => Ok(dot(process, highlight)),
        Format::Svg => svg(process, highlight),
    }
}

/// The process as a heatmap in `format`: each step filled by its figure on a colour scale
/// (light yellow for 0 to dark purple for 1, viridis: readable with red-green colour
/// blindness and in greyscale) with the figure's label as an extra line, steps without a
/// figure white; when edges were counted, each edge as wide as it was often taken (square
/// root of its share of the most taken one) with its count in its label, and edges never
/// taken thin, grey and dashed. The SVG has a legend of the scale and the widths; DOT
/// says the caption under the title; Mermaid, which has no legend, in its `%%` comment.
///
/// Fails only for [`Format::Svg`], when the layout engine gives up.
pub fn heatmap(process: &Process, format: Format, heat: &Heat) -> Result<String, LayoutError> {
    let chart = chart::Chart::new(process, None, Some(heat));
    match format {
        Format::Mermaid => Ok(mermaid::render(&chart)),
        Format::Dot => Ok(dot::render(&chart)),
        Format::Svg => svg::render(&chart),
    }
}

/// The process as a Mermaid flowchart (`flowchart TD`): one subgraph per role, labels in
/// `["…"]` with every character Mermaid could read as syntax written as an entity code
/// (`#quot;`, `#35;`, …).
pub fn mermaid(process: &Process, highlight: Option<&Highlight>) -> String {
    mermaid::render(&chart::Chart::new(process, highlight, None))
}

/// The process as a Graphviz `digraph`: one cluster per role, every id and label a quoted
/// string with `"` and `\` escaped.
pub fn dot(process: &Process, highlight: Option<&Highlight>) -> String {
    dot::render(&chart::Chart::new(process, highlight, None))
}

/// The process as a standalone SVG image, laid out by the `layout-rs` crate (no Graphviz
/// needed) and drawn by sopflow: a title, a legend of role colours and edge styles, then
/// the chart. Text is XML-escaped; labels longer than fit are shortened with `…`, and
/// every node and edge carries its full text in a `<title>` (a tooltip in browsers).
///
/// Layout time grows faster than linearly with the number of steps: a 20-step SOP takes
/// about a millisecond, thousands of steps take seconds (see `benches/render.rs`).
pub fn svg(process: &Process, highlight: Option<&Highlight>) -> Result<String, LayoutError> {
    svg::render(&chart::Chart::new(process, highlight, None))
}

#[cfg(test)]
mod tests;

/// Text escaped for XML character data or an attribute value (`& < > " '`), with the
/// characters XML 1.0 cannot hold replaced: what the SVG writer uses, for other XML an app
/// or the CLI writes (JUnit reports).
///
/// ```
/// assert_eq!(sopflow::render::escape_xml("a < b & \"c\""), "a &lt; b &amp; &quot;c&quot;");
/// ```
pub fn escape_xml(text: &str) -> String {
    text::xml(text)
}
