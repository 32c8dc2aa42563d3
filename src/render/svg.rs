//! SVG without Graphviz: `layout-rs` places the nodes and routes the edges, sopflow draws.
//!
//! `layout-rs` is used for geometry only. Its own SVG writer is not: it draws text where it
//! reserved room for it (edge labels float up to ~100 px from their edge), styles nothing
//! the way a flowchart needs and has no diamonds. Instead every node and edge is given to
//! it tagged with its index, a recording backend collects where it put each node and the
//! Bézier path of each edge, and this module draws the chart from those: diamonds clipped
//! to their outline, arrowheads pointing along the curve, and each edge label centred on
//! the point where its edge passes through the room reserved for the label, on a white
//! plate, so the label sits on its own edge.

use std::fmt::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

use layout::core::base::Orientation;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::{Point, Position};
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::chart::{
    BREACHED_NOTE, Chart, ChartEdge, ChartNode, EdgeChange, EdgeStyle, Mark, NodeHeat, PALETTE,
    Shape, colors,
};
use super::text;

/// Why the SVG could not be laid out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the flowchart layout failed: {reason}")]
pub struct LayoutError {
    reason: String,
}

/// Font stack: Helvetica-like faces first; DejaVu Sans is on nearly every Linux.
const FONT: &str = "Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif";
/// Title text size (px) and estimated average character width at that size.
const TITLE_SIZE: f64 = 13.0;
const TITLE_CHAR: f64 = 7.2;
/// Role line and edge label size (px) and estimated average character width.
const SMALL_SIZE: f64 = 11.0;
const SMALL_CHAR: f64 = 6.3;
/// Line heights (px).
const TITLE_LINE: f64 = 17.0;
const SMALL_LINE: f64 = 15.0;
/// Characters per line in boxes and diamonds.
const BOX_WIDTH: usize = 26;
const DIAMOND_WIDTH: usize = 18;
const MAX_LINES: usize = 5;
/// Edge labels longer than this are shortened with `…` (full text in the tooltip).
const LABEL_WIDTH: usize = 24;
/// Room reserved for each edge label: characters and `layout-rs` "font size" (its width
/// per character), so 12 characters × 7 px + 10 px of padding.
const LABEL_ROOM: (usize, usize) = (12, 7);
/// Space `layout-rs` keeps around each node, across and along the flow (px).
const NODE_HALO: (f64, f64) = (40.0, 24.0);
/// Space around the chart (px).
const MARGIN: f64 = 20.0;
/// Swatches in the heat scale's legend key, and the width of each (px).
const SCALE_SWATCHES: usize = 6;
const SCALE_SWATCH: f64 = 16.0;
/// Circle diameter and bar size (px).
const CIRCLE: f64 = 44.0;
const BAR: (f64, f64) = (140.0, 8.0);

/// A node's text, measured.
struct NodeText {
    title: Vec<String>,
    /// The role line and the breach note, in the small font.
    small: Vec<String>,
}

impl NodeText {
    fn new(node: &ChartNode) -> NodeText {
        let width = match node.shape {
            Shape::Approval | Shape::Decision => DIAMOND_WIDTH,
            _ => BOX_WIDTH,
        };
        let mut small: Vec<String> = node
            .role_line
            .iter()
            .map(|r| text::shorten(r, 40))
            .collect();
        // The service level line is denser; a few more characters keep a ladder in view.
        small.extend(node.sla_line.iter().map(|line| text::shorten(line, 48)));
        small.extend(node.heat_label().map(|label| text::shorten(label, 40)));
        if node.mark == Mark::Breached {
            small.push(BREACHED_NOTE.to_owned());
        }
        NodeText {
            title: text::wrap(&node.title, width, MAX_LINES),
            small,
        }
    }

    /// Width and height of the text block.
    fn size(&self) -> (f64, f64) {
        let chars = |lines: &[String]| lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let width =
            (chars(&self.title) as f64 * TITLE_CHAR).max(chars(&self.small) as f64 * SMALL_CHAR);
        let height = self.title.len() as f64 * TITLE_LINE + self.small.len() as f64 * SMALL_LINE;
        (width, height)
    }
}

/// Size of a node's shape.
fn shape_size(node: &ChartNode, text: &NodeText) -> (f64, f64) {
    let (w, h) = text.size();
    match node.shape {
        Shape::Start | Shape::End => (CIRCLE, CIRCLE),
        Shape::Split | Shape::Join => BAR,
        Shape::Task => ((w + 24.0).max(120.0), h + 16.0),
        // Room for the inner border.
        Shape::Call => ((w + 32.0).max(128.0), h + 24.0),
        // A diamond twice the text block's size holds the block exactly.
        Shape::Approval | Shape::Decision => {
            ((2.0 * w + 16.0).max(90.0), (2.0 * h + 12.0).max(50.0))
        }
    }
}

/// An axis-aligned box: top-left corner and size.
#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn center(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }
}

/// A cubic Bézier segment: start, two control points, end.
type Segment = [(f64, f64); 4];

/// A route as `layout-rs` draws it (see [`segments`]), and which ends have arrowheads.
type Route = (Vec<(Point, Point)>, (bool, bool));

/// Where an edge's label goes (its centre).
type LabelAt = Option<(f64, f64)>;

/// What the layout engine said, per node and edge index.
#[derive(Default)]
struct Recorder {
    nodes: Vec<Option<Rect>>,
    edges: Vec<Option<Route>>,
}

fn tag_index(tag: Option<String>, prefix: char) -> Option<usize> {
    tag?.strip_prefix(prefix)?.parse().ok()
}

impl RenderBackend for Recorder {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        _look: &StyleAttr,
        properties: Option<String>,
        _clip: Option<ClipHandle>,
    ) {
        if let Some(slot) = tag_index(properties, 'n').and_then(|i| self.nodes.get_mut(i)) {
            slot.get_or_insert(Rect {
                x: xy.x,
                y: xy.y,
                w: size.x,
                h: size.y,
            });
        }
    }

    fn draw_line(
        &mut self,
        _start: Point,
        _stop: Point,
        _look: &StyleAttr,
        _properties: Option<String>,
    ) {
    }

    fn draw_circle(
        &mut self,
        xy: Point,
        size: Point,
        _look: &StyleAttr,
        properties: Option<String>,
    ) {
        if let Some(slot) = tag_index(properties, 'n').and_then(|i| self.nodes.get_mut(i)) {
            slot.get_or_insert(Rect {
                x: xy.x - size.x / 2.0,
                y: xy.y - size.y / 2.0,
                w: size.x,
                h: size.y,
            });
        }
    }

    fn draw_text(&mut self, _xy: Point, _text: &str, _look: &StyleAttr) {}

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _dashed: bool,
        head: (bool, bool),
        _look: &StyleAttr,
        properties: Option<String>,
        _text: &str,
    ) {
        if let Some(slot) = tag_index(properties, 'e').and_then(|i| self.edges.get_mut(i)) {
            *slot = Some((path.to_vec(), head));
        }
    }

    fn create_clip(&mut self, _xy: Point, _size: Point, _rounded_px: usize) -> ClipHandle {
        0
    }
}

/// Where everything goes.
struct Geometry {
    nodes: Vec<Rect>,
    /// Per edge: its segments from source to target, and where its label goes.
    edges: Vec<(Vec<Segment>, LabelAt)>,
}

/// Runs `layout-rs` on the chart.
fn lay_out(chart: &Chart, texts: &[NodeText]) -> Result<Geometry, LayoutError> {
    let orientation = Orientation::TopToBottom;
    let mut graph = VisualGraph::new(orientation);
    // Checking the DAG after each edge makes lowering cubic; the input is ours and sound.
    graph.dag.set_validate(false);
    let mut handles = Vec::with_capacity(chart.nodes.len());
    for (i, (node, text)) in chart.nodes.iter().zip(texts).enumerate() {
        let (w, h) = shape_size(node, text);
        let shape = match node.shape {
            Shape::Start | Shape::End | Shape::Approval | Shape::Decision => {
                ShapeKind::Circle(String::new())
            }
            Shape::Task | Shape::Call | Shape::Split | Shape::Join => ShapeKind::Box(String::new()),
        };
        let mut element = Element::create_with_properties(
            shape,
            StyleAttr::simple(),
            orientation,
            Point::new(w, h),
            format!("n{i}"),
        );
        // Less space around nodes than the default 60 px: the label rooms already keep
        // the ranks apart.
        element.pos = Position::new(
            Point::zero(),
            Point::new(w, h),
            Point::zero(),
            Point::new(NODE_HALO.0, NODE_HALO.1),
        );
        handles.push(graph.add_node(element));
    }
    // Every edge gets the same room for a label, labelled or not. The room is a connector
    // node of the label's size; `layout-rs` (0.1.3) asserts, and so panics, when it
    // straightens edges through connectors of different widths in one rank.
    let mut look = StyleAttr::simple();
    look.font_size = LABEL_ROOM.1;
    let room = "x".repeat(LABEL_ROOM.0);
    for (i, edge) in chart.edges.iter().enumerate() {
        let arrow = Arrow::with_properties(
            LineEndKind::None,
            LineEndKind::Arrow,
            LineStyleKind::Normal,
            &room,
            &look,
            format!("e{i}"),
            &None,
            &None,
        );
        graph.add_edge(arrow, handles[edge.from], handles[edge.to]);
    }

    let mut recorder = Recorder {
        nodes: vec![None; chart.nodes.len()],
        edges: vec![None; chart.edges.len()],
    };
    catch_unwind(AssertUnwindSafe(|| {
        graph.do_it(false, false, false, &mut recorder)
    }))
    .map_err(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "layout-rs panicked".to_owned());
        LayoutError { reason }
    })?;

    let mut nodes = Vec::with_capacity(chart.nodes.len());
    for (node, rect) in chart.nodes.iter().zip(&recorder.nodes) {
        nodes.push(rect.ok_or_else(|| LayoutError {
            reason: format!("no place for node `{}`", node.id),
        })?);
    }
    let mut edges = Vec::with_capacity(chart.edges.len());
    for (edge, recorded) in chart.edges.iter().zip(recorder.edges) {
        let (path, head) = recorded.ok_or_else(|| LayoutError {
            reason: format!(
                "no route for the edge `{}` -> `{}`",
                chart.nodes[edge.from].id, chart.nodes[edge.to].id
            ),
        })?;
        // The label's room is the first element after the edge's source.
        let label = (!edge.label.is_empty()).then(|| match path.get(1..) {
            Some([(_, room), _, ..]) => (room.x, room.y),
            _ => midpoint(&path),
        });
        let mut segments = segments(&path);
        // An edge drawn backwards (layout-rs reverses back edges) is turned round.
        if head.0 && !head.1 {
            segments.reverse();
            for s in &mut segments {
                s.reverse();
            }
        }
        if let Some(first) = segments.first_mut() {
            first[0] = clip(first[0], &chart.nodes[edge.from], &nodes[edge.from]);
        }
        if let Some(last) = segments.last_mut() {
            last[3] = clip(last[3], &chart.nodes[edge.to], &nodes[edge.to]);
        }
        edges.push((segments, label));
    }
    Ok(Geometry { nodes, edges })
}

/// `layout-rs` paths are `[(start, exit control), (entry control, point), …]` with each exit
/// control the mirror of the previous entry control (SVG's `S`): as plain cubic segments.
fn segments(path: &[(Point, Point)]) -> Vec<Segment> {
    let mut out = Vec::new();
    let Some(&(start, exit)) = path.first() else {
        return out;
    };
    let (mut from, mut exit) = ((start.x, start.y), (exit.x, exit.y));
    for &(entry, point) in &path[1..] {
        let (entry, point) = ((entry.x, entry.y), (point.x, point.y));
        out.push([from, exit, entry, point]);
        exit = (2.0 * point.0 - entry.0, 2.0 * point.1 - entry.1);
        from = point;
    }
    out
}

/// The middle of a path without a label room (not expected: every edge has one).
fn midpoint(path: &[(Point, Point)]) -> (f64, f64) {
    match (path.first(), path.last()) {
        (Some(first), Some(last)) => ((first.0.x + last.1.x) / 2.0, (first.0.y + last.1.y) / 2.0),
        _ => (0.0, 0.0),
    }
}

/// An edge end laid out on the ellipse of a diamond, moved in onto the diamond's outline.
fn clip(point: (f64, f64), node: &ChartNode, rect: &Rect) -> (f64, f64) {
    if !matches!(node.shape, Shape::Approval | Shape::Decision) {
        return point;
    }
    let (cx, cy) = rect.center();
    let (dx, dy) = (point.0 - cx, point.1 - cy);
    let reach = dx.abs() / (rect.w / 2.0) + dy.abs() / (rect.h / 2.0);
    if reach <= 1.0 {
        return point;
    }
    (cx + dx / reach, cy + dy / reach)
}

/// A legend entry.
enum Key {
    Role(usize),
    /// The heat colour scale, swatches from 0 to 1.
    Scale,
    /// Edge widths on a heatmap: a thin and a thick line.
    Widths,
    /// A step without a heat figure.
    NoData,
    Edge(&'static str, &'static str),
    Taken,
    Node(&'static str, u32),
    /// A node outline: colour, width, dashed.
    Outline(&'static str, u32, bool),
    /// An edge line: colour, width, dashed.
    Line(&'static str, f64, bool),
}

pub(crate) fn render(chart: &Chart) -> Result<String, LayoutError> {
    let texts: Vec<NodeText> = chart.nodes.iter().map(NodeText::new).collect();
    let geometry = lay_out(chart, &texts)?;

    // Bounds of the laid out chart.
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    let mut grow = |x: f64, y: f64| {
        min_x = min_x.min(x);
        min_y = min_y.min(y);
        max_x = max_x.max(x);
        max_y = max_y.max(y);
    };
    for (rect, node) in geometry.nodes.iter().zip(&chart.nodes) {
        grow(rect.x, rect.y);
        grow(rect.x + rect.w, rect.y + rect.h);
        if matches!(node.shape, Shape::Split) {
            let width = node.title.chars().count().min(40) as f64 * SMALL_CHAR;
            grow(rect.x + rect.w + 8.0 + width, rect.y);
        }
    }
    for ((segments, label), edge) in geometry.edges.iter().zip(&chart.edges) {
        for segment in segments {
            for &(x, y) in segment {
                grow(x, y);
            }
        }
        if let Some((x, y)) = label {
            let half = label_width(edge) / 2.0;
            grow(x - half, y - SMALL_LINE / 2.0);
            grow(x + half, y + SMALL_LINE / 2.0);
        }
    }
    if chart.nodes.is_empty() {
        (min_x, min_y, max_x, max_y) = (0.0, 0.0, 0.0, 0.0);
    }

    // Legend entries.
    // On a heatmap the fills are the scale, not the roles: the scale's key replaces theirs.
    let mut keys: Vec<(Key, String)> = match &chart.heat {
        None => chart
            .lanes
            .iter()
            .enumerate()
            .map(|(l, lane)| (Key::Role(l), text::shorten(&lane.title, 40)))
            .collect(),
        Some(heat) => {
            let mut keys = vec![(
                Key::Scale,
                text::shorten(
                    &format!("{}: {} to {}", heat.caption, heat.scale.0, heat.scale.1),
                    80,
                ),
            )];
            if chart.nodes.iter().any(|n| n.heat == NodeHeat::NoData) {
                keys.push((Key::NoData, "no figure".to_owned()));
            }
            if let Some(max) = heat.max_count {
                keys.push((Key::Widths, format!("times taken (widest: {max})")));
            }
            keys
        }
    };
    keys.push((Key::Edge(colors::INK, ""), "flow".to_owned()));
    if chart.edges.iter().any(|e| e.style == EdgeStyle::Timer) {
        keys.push((Key::Edge(colors::INK, "2,3"), "timer".to_owned()));
    }
    if chart.edges.iter().any(|e| e.style == EdgeStyle::Exception) {
        keys.push((
            Key::Edge(colors::EXCEPTION, "6,4"),
            "rejection, SLA breach, escalation".to_owned(),
        ));
    }
    if chart.edges.iter().any(|e| e.style == EdgeStyle::Untested) {
        let words = if chart.heat.is_some() {
            "never taken"
        } else {
            "not tested by any scenario"
        };
        keys.push((Key::Edge(colors::UNTESTED, "6,4"), words.to_owned()));
    }
    if chart.highlighted {
        keys.push((Key::Taken, "path taken".to_owned()));
        keys.push((Key::Node(colors::ACTIVE, 4), "active".to_owned()));
        keys.push((Key::Node(colors::EXCEPTION, 4), BREACHED_NOTE.to_owned()));
    }

    if chart.diff {
        keys.push((Key::Outline(colors::ADDED, 4, false), "added".to_owned()));
        keys.push((
            Key::Outline(colors::CHANGED, 4, false),
            "changed".to_owned(),
        ));
        keys.push((
            Key::Outline(colors::REMOVED, 2, true),
            "removed step".to_owned(),
        ));
        keys.push((
            Key::Line(colors::ADDED, 3.0, false),
            "added path".to_owned(),
        ));
        keys.push((
            Key::Line(colors::CHANGED, 3.0, false),
            "changed path".to_owned(),
        ));
        keys.push((
            Key::Line(colors::REMOVED, 1.5, true),
            "removed path".to_owned(),
        ));
    }

    let chart_width = max_x - min_x;
    let width = (chart_width + 2.0 * MARGIN).max(480.0);
    // Legend rows, wrapped to the image width.
    let mut placed: Vec<(f64, f64, &Key, &str, f64)> = Vec::new();
    let (mut x, mut y) = (MARGIN, 52.0);
    for (key, label) in &keys {
        let swatch = match key {
            Key::Scale => SCALE_SWATCHES as f64 * SCALE_SWATCH + 6.0,
            Key::Widths => 40.0,
            _ => 30.0,
        };
        let item = swatch + label.chars().count() as f64 * SMALL_CHAR + 18.0;
        if x + item > width - MARGIN && x > MARGIN {
            x = MARGIN;
            y += 20.0;
        }
        placed.push((x, y, key, label, swatch));
        x += item;
    }
    let top = y + 24.0;
    let dx = MARGIN - min_x + (width - 2.0 * MARGIN - chart_width).max(0.0) / 2.0;
    let dy = top - min_y;
    let height = top + (max_y - min_y) + MARGIN;

    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="{FONT}">"#
    );
    let _ = writeln!(out, "<title>{}</title>", text::xml(&chart.caption));
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        out,
        r#"<text x="{MARGIN}" y="30" font-size="16" font-weight="bold" fill="{}">{}</text>"#,
        colors::TEXT,
        text::xml(&text::shorten(&chart.caption, 120))
    );

    // Legend.
    out.push_str("<g class=\"legend\">\n");
    for (x, y, key, label, swatch) in placed {
        match key {
            Key::Scale => {
                for i in 0..SCALE_SWATCHES {
                    let value = i as f64 / (SCALE_SWATCHES - 1) as f64;
                    let _ = writeln!(
                        out,
                        r#"<rect x="{:.1}" y="{:.1}" width="{SCALE_SWATCH}" height="12" fill="{}" stroke="{}" stroke-width="0.5"/>"#,
                        x + i as f64 * SCALE_SWATCH,
                        y - 9.0,
                        super::heat::color(value).0,
                        colors::INK
                    );
                }
            }
            Key::Widths => {
                for (offset, width) in [(0.0, 1.5), (18.0, 6.0)] {
                    let _ = writeln!(
                        out,
                        r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="{width}"/>"#,
                        x + offset,
                        y - 3.0,
                        x + offset + 14.0,
                        y - 3.0,
                        colors::HEAT_EDGE
                    );
                }
            }
            Key::NoData => {
                let _ = writeln!(
                    out,
                    r##"<rect x="{:.1}" y="{:.1}" width="24" height="12" rx="3" fill="#ffffff" stroke="{}"/>"##,
                    x,
                    y - 9.0,
                    colors::INK
                );
            }
            Key::Role(l) => {
                let _ = writeln!(
                    out,
                    r#"<rect x="{:.1}" y="{:.1}" width="24" height="12" rx="3" fill="{}" stroke="{}"/>"#,
                    x,
                    y - 9.0,
                    PALETTE[l % PALETTE.len()].fill,
                    colors::INK
                );
            }
            Key::Edge(color, dash) => {
                let dash = if dash.is_empty() {
                    String::new()
                } else {
                    format!(r#" stroke-dasharray="{dash}""#)
                };
                let _ = writeln!(
                    out,
                    r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="1.5"{dash}/>"#,
                    x,
                    y - 3.0,
                    x + 24.0,
                    y - 3.0
                );
            }
            Key::Taken => {
                let _ = writeln!(
                    out,
                    r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="3"/>"#,
                    x,
                    y - 3.0,
                    x + 24.0,
                    y - 3.0,
                    colors::VISITED
                );
            }
            Key::Node(color, stroke) => {
                let _ = writeln!(
                    out,
                    r##"<rect x="{:.1}" y="{:.1}" width="24" height="12" rx="3" fill="#ffffff" stroke="{color}" stroke-width="{stroke}"/>"##,
                    x + 2.0,
                    y - 9.0
                );
            }
            Key::Outline(color, stroke, dashed) => {
                let dash = if *dashed {
                    r#" stroke-dasharray="5,3""#
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    r#"<rect x="{:.1}" y="{:.1}" width="24" height="12" rx="3" fill="{}" stroke="{color}" stroke-width="{stroke}"{dash}/>"#,
                    x + 2.0,
                    y - 9.0,
                    if *dashed {
                        colors::GHOST
                    } else {
                        colors::PLAIN
                    }
                );
            }
            Key::Line(color, width, dashed) => {
                let dash = if *dashed {
                    r#" stroke-dasharray="6,4""#
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="{width}"{dash}/>"#,
                    x,
                    y - 3.0,
                    x + 24.0,
                    y - 3.0
                );
            }
        }
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" font-size="{SMALL_SIZE}" fill="{}">{}</text>"#,
            x + swatch,
            y,
            colors::TEXT,
            text::xml(label)
        );
    }
    out.push_str("</g>\n");

    // Edges under nodes, labels over everything.
    out.push_str("<g class=\"edges\" fill=\"none\">\n");
    for ((segments, _), edge) in geometry.edges.iter().zip(&chart.edges) {
        draw_edge(&mut out, chart, edge, segments, (dx, dy));
    }
    out.push_str("</g>\n<g class=\"nodes\">\n");
    for ((node, rect), text) in chart.nodes.iter().zip(&geometry.nodes).zip(&texts) {
        let rect = Rect {
            x: rect.x + dx,
            y: rect.y + dy,
            ..*rect
        };
        draw_node(&mut out, node, &rect, text);
    }
    out.push_str("</g>\n<g class=\"labels\">\n");
    for ((_, label), edge) in geometry.edges.iter().zip(&chart.edges) {
        if let Some((x, y)) = label {
            draw_label(&mut out, edge, x + dx, y + dy);
        }
    }
    out.push_str("</g>\n</svg>\n");
    Ok(out)
}

fn label_width(edge: &ChartEdge) -> f64 {
    text::shorten(&edge.label, LABEL_WIDTH).chars().count() as f64 * SMALL_CHAR + 8.0
}

fn draw_edge(
    out: &mut String,
    chart: &Chart,
    edge: &ChartEdge,
    segments: &[Segment],
    (dx, dy): (f64, f64),
) {
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return;
    };
    let (color, width) = edge.stroke();
    let class = match edge.style {
        EdgeStyle::Normal => "flow",
        EdgeStyle::Timer => "timer",
        EdgeStyle::Exception => "exception",
        EdgeStyle::Untested => "untested",
    };
    let dash = match (edge.change, edge.style) {
        (Some(EdgeChange::Removed), _) => r#" stroke-dasharray="6,4""#,
        (_, EdgeStyle::Normal) => "",
        (_, EdgeStyle::Timer) => r#" stroke-dasharray="2,3""#,
        (_, EdgeStyle::Exception | EdgeStyle::Untested) => r#" stroke-dasharray="6,4""#,
    };
    let taken = match (edge.taken, edge.change) {
        (true, _) => " taken",
        (_, Some(EdgeChange::Added)) => " added",
        (_, Some(EdgeChange::Changed)) => " changed",
        (_, Some(EdgeChange::Removed)) => " removed",
        (false, None) => "",
    };
    let from = &chart.nodes[edge.from];
    let to = &chart.nodes[edge.to];
    let title = if edge.label.is_empty() {
        format!("{} → {}", from.id, to.id)
    } else {
        format!("{} → {}: {}", from.id, to.id, edge.label)
    };
    let _ = writeln!(
        out,
        r#"<g class="edge {class}{taken}"><title>{}</title>"#,
        text::xml(&title)
    );
    let mut d = format!("M{:.1},{:.1}", first[0].0 + dx, first[0].1 + dy);
    for s in segments {
        let _ = write!(
            d,
            " C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
            s[1].0 + dx,
            s[1].1 + dy,
            s[2].0 + dx,
            s[2].1 + dy,
            s[3].0 + dx,
            s[3].1 + dy
        );
    }
    let _ = writeln!(
        out,
        r#"<path d="{d}" stroke="{color}" stroke-width="{width}"{dash}/>"#
    );

    // The arrowhead points along the curve's last tangent.
    let tip = last[3];
    let back = [last[2], last[1], last[0]]
        .into_iter()
        .find(|p| (p.0 - tip.0).hypot(p.1 - tip.1) > 0.5)
        .unwrap_or((tip.0, tip.1 - 1.0));
    let (ux, uy) = {
        let (vx, vy) = (tip.0 - back.0, tip.1 - back.1);
        let len = vx.hypot(vy).max(f64::EPSILON);
        (vx / len, vy / len)
    };
    let (length, half) = match edge.count {
        // A wide edge needs a head wider than itself.
        Some((count, width)) if count > 0 => (8.0 + 1.2 * width, 4.0 + 0.8 * width),
        _ if edge.taken => (11.0, 5.5),
        _ => (9.0, 4.5),
    };
    let base = (tip.0 - ux * length, tip.1 - uy * length);
    let _ = writeln!(
        out,
        r#"<path d="M{:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z" fill="{color}" stroke="none"/></g>"#,
        tip.0 + dx,
        tip.1 + dy,
        base.0 - uy * half + dx,
        base.1 + ux * half + dy,
        base.0 + uy * half + dx,
        base.1 - ux * half + dy
    );
}

fn draw_node(out: &mut String, node: &ChartNode, rect: &Rect, text: &NodeText) {
    let class = match node.shape {
        Shape::Start => "start",
        Shape::End => "end",
        Shape::Task => "task",
        Shape::Call => "call",
        Shape::Approval => "approval",
        Shape::Decision => "decision",
        Shape::Split => "split",
        Shape::Join => "join",
    };
    let mark = match node.mark {
        Mark::None => "",
        Mark::Visited => " visited",
        Mark::Active => " active",
        Mark::Breached => " breached",
        Mark::Added => " added",
        Mark::Changed => " changed",
        Mark::Removed => " removed",
    };
    let mut tooltip = node.title.clone();
    if let Some(role) = &node.role_line {
        let _ = write!(tooltip, "\n{role}");
    }
    if let Some(sla) = &node.sla_line {
        let _ = write!(tooltip, "\n{sla}");
    }
    if let Some(label) = node.heat_label() {
        let _ = write!(tooltip, "\n{label}");
    }
    let _ = writeln!(
        out,
        r#"<g id="{}" class="node {class}{mark}"><title>{}</title>"#,
        node.id,
        text::xml(&tooltip)
    );
    let (stroke, stroke_width) = node
        .mark_stroke()
        .map_or((colors::INK, 1.2), |(color, width)| {
            (color, f64::from(width))
        });
    let fill = node.fill();
    let (cx, cy) = rect.center();
    let dash = if node.mark == Mark::Removed {
        r#" stroke-dasharray="5,3""#
    } else {
        ""
    };
    let paint = format!(r#"fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"{dash}"#);
    match node.shape {
        Shape::Start => {
            let _ = writeln!(
                out,
                r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{:.1}" {paint}/>"#,
                rect.w / 2.0
            );
        }
        Shape::End => {
            let _ = writeln!(
                out,
                r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{:.1}" {paint}/>"#,
                rect.w / 2.0
            );
            let _ = writeln!(
                out,
                r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{:.1}" fill="none" stroke="{stroke}" stroke-width="{stroke_width}"/>"#,
                rect.w / 2.0 - 4.0
            );
        }
        Shape::Task => {
            let _ = writeln!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="6" {paint}/>"#,
                rect.x, rect.y, rect.w, rect.h
            );
        }
        Shape::Call => {
            let _ = writeln!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="6" {paint}/>"#,
                rect.x, rect.y, rect.w, rect.h
            );
            // The subroutine's inner border.
            let _ = writeln!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="4" fill="none" stroke="{stroke}" stroke-width="1"/>"#,
                rect.x + 4.0,
                rect.y + 4.0,
                rect.w - 8.0,
                rect.h - 8.0
            );
        }
        Shape::Split | Shape::Join => {
            let _ = writeln!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="2" {paint}/>"#,
                rect.x, rect.y, rect.w, rect.h
            );
        }
        Shape::Approval | Shape::Decision => {
            let _ = writeln!(
                out,
                r#"<path d="M{cx:.1},{:.1} L{:.1},{cy:.1} L{cx:.1},{:.1} L{:.1},{cy:.1} Z" {paint}/>"#,
                rect.y,
                rect.x + rect.w,
                rect.y + rect.h,
                rect.x
            );
        }
    }

    match node.shape {
        Shape::Split | Shape::Join => {
            // The bar's name beside it.
            // A join says its name only when it waits for fewer than all (`join: 1 of 2`).
            let name = if node.shape == Shape::Split || node.title != "join" {
                text::shorten(&node.title, 40)
            } else {
                String::new()
            };
            if !name.is_empty() {
                let _ = writeln!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" font-size="{SMALL_SIZE}" fill="{}">{}</text>"#,
                    rect.x + rect.w + 8.0,
                    cy + 4.0,
                    colors::INK,
                    text::xml(&name)
                );
            }
        }
        Shape::Start | Shape::End => {
            let color = if node.shape == Shape::Start {
                "#ffffff"
            } else {
                colors::TEXT
            };
            let _ = writeln!(
                out,
                r#"<text x="{cx:.1}" y="{:.1}" font-size="{SMALL_SIZE}" text-anchor="middle" fill="{color}">{}</text>"#,
                cy + 4.0,
                text::xml(&node.title)
            );
        }
        _ => {
            let (_, height) = text.size();
            let mut y = cy - height / 2.0;
            for line in &text.title {
                let _ = writeln!(
                    out,
                    r#"<text x="{cx:.1}" y="{:.1}" font-size="{TITLE_SIZE}" text-anchor="middle" fill="{}">{}</text>"#,
                    y + (TITLE_LINE + TITLE_SIZE * 0.7) / 2.0,
                    node.text_color(),
                    text::xml(line)
                );
                y += TITLE_LINE;
            }
            for (i, line) in text.small.iter().enumerate() {
                let breach = node.mark == Mark::Breached && i + 1 == text.small.len();
                let heat_line = node.heat_label().is_some()
                    && i + 1 + usize::from(node.mark == Mark::Breached) == text.small.len();
                let (color, weight) = if breach {
                    (colors::EXCEPTION, "bold")
                } else if matches!(node.heat, NodeHeat::Figure { .. }) {
                    // On the heat scale's fills grey does not read: black or white only.
                    (node.text_color(), if heat_line { "bold" } else { "normal" })
                } else {
                    (colors::INK, "normal")
                };
                let _ = writeln!(
                    out,
                    r#"<text x="{cx:.1}" y="{:.1}" font-size="{SMALL_SIZE}" font-style="{}" font-weight="{weight}" text-anchor="middle" fill="{color}">{}</text>"#,
                    y + (SMALL_LINE + SMALL_SIZE * 0.7) / 2.0,
                    if breach || heat_line {
                        "normal"
                    } else {
                        "italic"
                    },
                    text::xml(line)
                );
                y += SMALL_LINE;
            }
        }
    }
    out.push_str("</g>\n");
}

fn draw_label(out: &mut String, edge: &ChartEdge, x: f64, y: f64) {
    let label = text::shorten(&edge.label, LABEL_WIDTH);
    let width = label_width(edge);
    let color = if edge.taken
        || edge.change.is_some()
        || edge.count.is_some()
        || matches!(edge.style, EdgeStyle::Exception | EdgeStyle::Untested)
    {
        edge.stroke().0
    } else {
        colors::INK
    };
    let _ = writeln!(
        out,
        r##"<g class="label"><title>{}</title><rect x="{:.1}" y="{:.1}" width="{width:.1}" height="{:.1}" rx="3" fill="#ffffff" fill-opacity="0.9"/><text x="{x:.1}" y="{:.1}" font-size="{SMALL_SIZE}" text-anchor="middle" fill="{color}">{}</text></g>"##,
        text::xml(&edge.label),
        x - width / 2.0,
        y - SMALL_LINE / 2.0,
        SMALL_LINE,
        y + SMALL_SIZE * 0.35,
        text::xml(&label)
    );
}
