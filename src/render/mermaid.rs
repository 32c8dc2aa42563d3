//! Mermaid flowchart text. Uses only syntax GitHub's Mermaid has rendered for years:
//! `flowchart TD`, subgraphs, `(( ))`/`((( )))` circles, `{ }` diamonds, `-.->` links,
//! `classDef`/`class`/`style`/`linkStyle`.

use std::fmt::Write;

use super::chart::{
    BREACHED_NOTE, Chart, ChartNode, EdgeChange, EdgeStyle, Mark, NodeHeat, PALETTE, Shape, colors,
};
use super::text;

/// Characters per line in boxes: short enough that Mermaid, which wraps labels wider than
/// 200 px itself, does not break our lines again.
const BOX_WIDTH: usize = 24;
/// Characters per line in diamonds, which grow in both directions with their text.
const DIAMOND_WIDTH: usize = 20;
/// Lines of title at most.
const MAX_LINES: usize = 6;

pub(crate) fn render(chart: &Chart) -> String {
    let mut out = String::new();
    // `%` is written as an entity code, so no `%%{…}%%` directive can come from the title.
    let _ = writeln!(out, "%% {}", text::mermaid(&chart.caption));
    // Mermaid has no legend: the heatmap says what it shows in a comment.
    if let Some(heat) = &chart.heat {
        let _ = writeln!(
            out,
            "%% heatmap: {}, from {} (light) to {} (dark){}",
            text::mermaid(&heat.caption),
            text::mermaid(&heat.scale.0),
            text::mermaid(&heat.scale.1),
            heat.max_count
                .map(|max| format!("; edge width: times taken, at most {max}"))
                .unwrap_or_default()
        );
    }
    out.push_str("flowchart TD\n");

    for node in chart.nodes.iter().filter(|n| n.lane.is_none()) {
        let _ = writeln!(out, "    {}", declaration(node));
    }
    for (lane, members) in chart.lanes.iter().zip(chart.lane_members()) {
        let _ = writeln!(
            out,
            "    subgraph {}[\"{}\"]",
            lane.id,
            text::mermaid(&lane.title)
        );
        for &i in &members {
            let _ = writeln!(out, "        {}", declaration(&chart.nodes[i]));
        }
        out.push_str("    end\n");
    }

    for edge in &chart.edges {
        let arrow = match edge.style {
            _ if edge.change == Some(EdgeChange::Removed) => "-.->",
            EdgeStyle::Normal => "-->",
            EdgeStyle::Timer | EdgeStyle::Exception | EdgeStyle::Untested => "-.->",
        };
        let label = if edge.label.is_empty() {
            String::new()
        } else {
            format!("|\"{}\"|", text::mermaid(&edge.label))
        };
        let _ = writeln!(
            out,
            "    {} {arrow}{label} {}",
            chart.nodes[edge.from].id, chart.nodes[edge.to].id
        );
    }

    // Role colours, then bars and the start circle.
    for (l, members) in chart.lane_members().iter().enumerate() {
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "    classDef role{l} fill:{},stroke:{},color:{}",
            PALETTE[l % PALETTE.len()].fill,
            colors::INK,
            colors::TEXT
        );
        let ids: Vec<&str> = members
            .iter()
            .map(|&i| chart.nodes[i].id.as_str())
            .collect();
        let _ = writeln!(out, "    class {} role{l}", ids.join(","));
    }
    let solid: Vec<&str> = chart
        .nodes
        .iter()
        .filter(|n| matches!(n.shape, Shape::Start | Shape::Split | Shape::Join))
        .map(|n| n.id.as_str())
        .collect();
    if !solid.is_empty() {
        let _ = writeln!(
            out,
            "    classDef solid fill:{0},stroke:{0},color:#ffffff",
            colors::SOLID
        );
        let _ = writeln!(out, "    class {} solid", solid.join(","));
    }
    for (l, lane) in chart.lanes.iter().enumerate() {
        let _ = writeln!(
            out,
            "    style {} fill:{},stroke:#d0d7de",
            lane.id,
            PALETTE[l % PALETTE.len()].lane
        );
    }

    // Edge styles, grouped by identical style so each is one statement.
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, edge) in chart.edges.iter().enumerate() {
        let style = match (edge.taken, edge.style) {
            _ if edge.change == Some(EdgeChange::Removed) => {
                format!("stroke:{0},color:{0},stroke-dasharray:5 4", colors::REMOVED)
            }
            _ if edge.change.is_some() => {
                format!("stroke:{0},stroke-width:3px,color:{0}", edge.stroke().0)
            }
            _ if edge.count.is_some_and(|(count, _)| count > 0) => {
                let (color, width) = edge.stroke();
                format!("stroke:{color},stroke-width:{width}px,color:{color}")
            }
            (false, EdgeStyle::Normal | EdgeStyle::Timer) => continue,
            (false, EdgeStyle::Exception) => {
                format!("stroke:{0},color:{0}", colors::EXCEPTION)
            }
            (false, EdgeStyle::Untested) => format!(
                "stroke:{0},color:{0},stroke-dasharray:5 4",
                colors::UNTESTED
            ),
            (true, _) => format!("stroke:{0},stroke-width:3px,color:{0}", edge.stroke().0),
        };
        match groups.iter_mut().find(|(s, _)| *s == style) {
            Some((_, indices)) => indices.push(i),
            None => groups.push((style, vec![i])),
        }
    }
    for (style, indices) in groups {
        let indices: Vec<String> = indices.iter().map(usize::to_string).collect();
        let _ = writeln!(out, "    linkStyle {} {style}", indices.join(","));
    }

    // Heat fills after the role classes, so they win over the role colours.
    for node in &chart.nodes {
        if node.heat != NodeHeat::None {
            let _ = writeln!(
                out,
                "    style {} fill:{},color:{}",
                node.id,
                node.fill(),
                node.text_color()
            );
        }
    }

    // The case overlay last, so it wins over the role colours.
    for node in &chart.nodes {
        if let Some((color, width)) = node.mark_stroke() {
            let ghost = if node.mark == Mark::Removed {
                format!(
                    ",stroke-dasharray:5 3,fill:{},color:{}",
                    colors::GHOST,
                    colors::INK
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "    style {} stroke:{color},stroke-width:{width}px{ghost}",
                node.id
            );
        }
    }
    out
}

/// `id` and shape with its label: `s_a["Title<br/><i>role</i>"]`.
fn declaration(node: &ChartNode) -> String {
    let width = match node.shape {
        Shape::Approval | Shape::Decision => DIAMOND_WIDTH,
        _ => BOX_WIDTH,
    };
    let mut lines: Vec<String> = text::wrap(&node.title, width, MAX_LINES)
        .iter()
        .map(|line| text::mermaid(line))
        .collect();
    if let Some(role) = &node.role_line {
        lines.push(format!("<i>{}</i>", text::mermaid(role)));
    }
    if let Some(sla) = &node.sla_line {
        lines.push(format!("<i>{}</i>", text::mermaid(sla)));
    }
    if let Some(label) = node.heat_label() {
        lines.push(format!("<b>{}</b>", text::mermaid(label)));
    }
    if node.mark == Mark::Breached {
        lines.push(format!("<b>{BREACHED_NOTE}</b>"));
    }
    let label = lines.join("<br/>");
    let id = &node.id;
    match node.shape {
        Shape::Start => format!("{id}((\"{label}\"))"),
        Shape::End => format!("{id}(((\"{label}\")))"),
        Shape::Task | Shape::Split | Shape::Join => format!("{id}[\"{label}\"]"),
        Shape::Call => format!("{id}[[\"{label}\"]]"),
        Shape::Approval | Shape::Decision => format!("{id}{{\"{label}\"}}"),
    }
}
