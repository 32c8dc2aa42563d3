//! Graphviz DOT. Every id and label is a quoted string; labels break lines with `\n`.

use std::fmt::Write;

use super::chart::{
    BREACHED_NOTE, Chart, ChartNode, EdgeChange, EdgeStyle, Mark, PALETTE, Shape, colors,
};
use super::text;

/// Characters per line in boxes.
const BOX_WIDTH: usize = 28;
/// Characters per line in diamonds.
const DIAMOND_WIDTH: usize = 22;
/// Lines of title at most.
const MAX_LINES: usize = 6;
/// Fonts, first found wins.
const FONT: &str = "Helvetica,Arial,sans-serif";

pub(crate) fn render(chart: &Chart) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", text::dot(&chart.sop_id));
    let mut caption = text::dot(&chart.caption);
    if let Some(heat) = &chart.heat {
        // DOT has no legend: the caption says what the colours and widths mean.
        let _ = write!(
            caption,
            "\\nheatmap: {}, from {} (light yellow) to {} (dark purple){}",
            text::dot(&heat.caption),
            text::dot(&heat.scale.0),
            text::dot(&heat.scale.1),
            heat.max_count
                .map(|max| format!("; edge width: times taken, at most {max}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "    graph [label=\"{caption}\", labelloc=t, fontname=\"{FONT}\", fontsize=16, rankdir=TB, newrank=true, nodesep=0.35, ranksep=0.45];"
    );
    let _ = writeln!(
        out,
        "    node [fontname=\"{FONT}\", fontsize=11, shape=box, style=\"rounded,filled\", fillcolor=\"{}\", color=\"{}\", fontcolor=\"{}\"];",
        colors::PLAIN,
        colors::INK,
        colors::TEXT
    );
    let _ = writeln!(
        out,
        "    edge [fontname=\"{FONT}\", fontsize=10, color=\"{0}\", fontcolor=\"{0}\", arrowsize=0.8];",
        colors::INK
    );

    for node in chart.nodes.iter().filter(|n| n.lane.is_none()) {
        let _ = writeln!(out, "    {}", statement(node));
    }
    for (l, (lane, members)) in chart.lanes.iter().zip(chart.lane_members()).enumerate() {
        let _ = writeln!(out, "    subgraph \"cluster_{}\" {{", lane.id);
        let _ = writeln!(
            out,
            "        graph [label=\"{}\", style=\"rounded,filled\", fillcolor=\"{}\", color=\"#d0d7de\", fontsize=12];",
            text::dot(&lane.title),
            PALETTE[l % PALETTE.len()].lane
        );
        for &i in &members {
            let _ = writeln!(out, "        {}", statement(&chart.nodes[i]));
        }
        out.push_str("    }\n");
    }

    for edge in &chart.edges {
        let mut attributes: Vec<String> = Vec::new();
        if !edge.label.is_empty() {
            attributes.push(format!("label=\"{}\"", text::dot(&edge.label)));
        }
        match edge.style {
            _ if edge.change == Some(EdgeChange::Removed) => {
                attributes.push("style=dashed".to_owned());
            }
            EdgeStyle::Normal => {}
            EdgeStyle::Timer => attributes.push("style=dotted".to_owned()),
            EdgeStyle::Exception | EdgeStyle::Untested => {
                attributes.push("style=dashed".to_owned());
            }
        }
        let (color, width) = edge.stroke();
        if color != colors::INK {
            attributes.push(format!("color=\"{color}\", fontcolor=\"{color}\""));
        }
        if edge.taken
            || edge.count.is_some()
            || matches!(edge.change, Some(EdgeChange::Added | EdgeChange::Changed))
        {
            attributes.push(format!("penwidth={width}"));
        }
        let attributes = if attributes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attributes.join(", "))
        };
        let _ = writeln!(
            out,
            "    \"{}\" -> \"{}\"{attributes};",
            chart.nodes[edge.from].id, chart.nodes[edge.to].id
        );
    }
    out.push_str("}\n");
    out
}

/// The node statement: `"s_a" [label="Title\nrole", fillcolor="…"];`.
fn statement(node: &ChartNode) -> String {
    let width = match node.shape {
        Shape::Approval | Shape::Decision => DIAMOND_WIDTH,
        _ => BOX_WIDTH,
    };
    let mut lines: Vec<String> = text::wrap(&node.title, width, MAX_LINES)
        .iter()
        .map(|line| text::dot(line))
        .collect();
    if let Some(role) = &node.role_line {
        lines.push(text::dot(role));
    }
    if let Some(sla) = &node.sla_line {
        lines.push(text::dot(sla));
    }
    if let Some(label) = node.heat_label() {
        lines.push(text::dot(label));
    }
    if node.mark == Mark::Breached {
        lines.push(BREACHED_NOTE.to_owned());
    }
    let label = lines.join("\\n");
    let mut attributes = match node.shape {
        Shape::Start => format!(
            "label=\"{label}\", shape=circle, style=filled, fillcolor=\"{0}\", color=\"{0}\", fontcolor=\"#ffffff\"",
            colors::SOLID
        ),
        Shape::End => format!("label=\"{label}\", shape=doublecircle, style=filled"),
        Shape::Task => format!("label=\"{label}\", fillcolor=\"{}\"", node.fill()),
        Shape::Call => format!(
            "label=\"{label}\", fillcolor=\"{}\", peripheries=2",
            node.fill()
        ),
        Shape::Approval | Shape::Decision => format!(
            "label=\"{label}\", shape=diamond, style=filled, fillcolor=\"{}\"",
            node.fill()
        ),
        Shape::Split | Shape::Join => format!(
            "label=\"\", xlabel=\"{label}\", shape=box, style=filled, fillcolor=\"{0}\", color=\"{0}\", fixedsize=true, width=1.6, height=0.08",
            colors::SOLID
        ),
    };
    if let Some((color, width)) = node.mark_stroke() {
        let _ = write!(attributes, ", color=\"{color}\", penwidth={width}");
    }
    if node.text_color() != colors::TEXT {
        let _ = write!(attributes, ", fontcolor=\"{}\"", node.text_color());
    }
    if node.mark == Mark::Removed {
        // Replaces the shape's `style=filled` (the later attribute wins).
        let _ = write!(
            attributes,
            ", style=\"rounded,filled,dashed\", fontcolor=\"{}\"",
            colors::INK
        );
    }
    format!("\"{}\" [{attributes}];", node.id)
}
