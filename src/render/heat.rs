//! [`Heat`]: figures about many cases drawn over a process (a heatmap): each step filled
//! by a value in [0, 1] with a short label, each edge as wide as it was often taken.
//!
//! The figures come from whoever computes them (metrics over case histories); this module
//! only holds and checks them, and picks the colours.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;
use serde::Deserialize;

use super::{Highlight, Transition};
use crate::engine::{CaseState, Event};
use crate::graph::{NodeKind, Process};
use crate::model::StepId;

/// A step's figure on a heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct StepHeat {
    /// Where the step sits on the colour scale: 0 the coolest, 1 the hottest.
    pub value: f64,
    /// What the figure is, short: `median 2h 10m`, `breached 12%`.
    pub label: String,
}

/// Figures about many cases to draw over a process: a value and a label per step, and how
/// often each edge was taken. Built from plain data with [`Heat::from_step_values`] and
/// [`Heat::with_edge_counts`], or read from JSON with [`Heat::from_json`]; drawn by
/// [`heatmap`](super::heatmap) in every format.
///
/// ```
/// use sopflow::render::{self, Format, Heat};
/// # let sop = sopflow::parse::parse_sop("t.yaml", "id: t\nversion: 1\ntitle: T\n\
/// #   department: D\nroles: { agent: A }\nsteps:\n  - { id: a, title: A, role: agent }\n  - { id: b, title: B, role: agent, end: true }\n").unwrap();
/// # let process = sopflow::graph::compile(&sop).process.unwrap();
/// let heat = Heat::from_step_values(
///     &process,
///     "median time to complete",
///     [("a".parse().unwrap(), 0.2, "median 20m".to_owned()), ("b".parse().unwrap(), 0.9, "median 3h".to_owned())],
/// )
/// .unwrap();
/// let dot = render::heatmap(&process, Format::Dot, &heat).unwrap();
/// assert!(dot.contains("median 3h"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Heat {
    /// What the step values mean, for the legend: `median time to complete`.
    pub caption: String,
    /// The words at the cool and hot ends of the scale: `0` and `8h or more`. Default
    /// `low` and `high`.
    pub scale: Option<(String, String)>,
    /// Per step node, its figure. Nodes without one are drawn as having no data.
    pub steps: HashMap<NodeIndex, StepHeat>,
    /// Per edge, how often it was taken. When any edge has a count, edges without one
    /// were never taken.
    pub edges: HashMap<Transition, u64>,
}

/// Why heat figures do not fit a process.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HeatError {
    /// A step id the process does not have.
    #[error("the heat figures name the step `{step}`, which this SOP version does not have")]
    UnknownStep {
        /// The id given.
        step: String,
    },
    /// A value outside [0, 1], or not a number.
    #[error("the heat value of step `{step}` is {value}: give a number from 0 to 1")]
    OutOfRange {
        /// The step.
        step: String,
        /// The value given.
        value: f64,
    },
    /// An edge the process does not have.
    #[error("the heat figures count an edge from `{from}` to `{to}`{}, which this SOP version does not have", label.as_ref().map(|l| format!(" labelled `{l}`")).unwrap_or_default())]
    UnknownEdge {
        /// Where it leaves.
        from: String,
        /// Where it goes.
        to: String,
        /// The label asked for.
        label: Option<String>,
    },
    /// Two edges join the same nodes and the figures do not say which.
    #[error(
        "there are several edges from `{from}` to `{to}`: give the `label` of the one counted ({labels})"
    )]
    AmbiguousEdge {
        /// Where they leave.
        from: String,
        /// Where they go.
        to: String,
        /// Their labels.
        labels: String,
    },
    /// The JSON does not have the shape of a heat file.
    #[error("the heat file is not valid: {0}")]
    Json(String),
}

/// The JSON form read by [`Heat::from_json`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeatFile {
    #[serde(default)]
    caption: String,
    #[serde(default)]
    scale: Option<(String, String)>,
    #[serde(default)]
    steps: HashMap<String, StepFigure>,
    #[serde(default)]
    edges: Vec<EdgeFigure>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFigure {
    value: f64,
    #[serde(default)]
    label: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeFigure {
    from: String,
    to: String,
    #[serde(default)]
    label: Option<String>,
    count: u64,
}

impl Heat {
    /// Step figures as plain data: `(step id, value in [0, 1], label)`.
    ///
    /// Fails for a step the process does not have and for a value outside [0, 1] (or not
    /// a number): a figure that cannot be drawn as given is never drawn as something else.
    pub fn from_step_values(
        process: &Process,
        caption: impl Into<String>,
        values: impl IntoIterator<Item = (StepId, f64, String)>,
    ) -> Result<Heat, HeatError> {
        let mut heat = Heat {
            caption: caption.into(),
            ..Heat::default()
        };
        for (step, value, label) in values {
            let node = process.step(&step).ok_or_else(|| HeatError::UnknownStep {
                step: step.to_string(),
            })?;
            if !(0.0..=1.0).contains(&value) {
                return Err(HeatError::OutOfRange {
                    step: step.to_string(),
                    value,
                });
            }
            heat.steps.insert(node, StepHeat { value, label });
        }
        Ok(heat)
    }

    /// Edge counts as plain data (see [`Heat::count_edges`] for counting them from
    /// histories). Edges not in the process are not drawn.
    pub fn with_edge_counts(mut self, counts: impl IntoIterator<Item = (Transition, u64)>) -> Heat {
        for (transition, count) in counts {
            *self.edges.entry(transition).or_default() += count;
        }
        self
    }

    /// Sets the words at the ends of the colour scale.
    pub fn with_scale(mut self, low: impl Into<String>, high: impl Into<String>) -> Heat {
        self.scale = Some((low.into(), high.into()));
        self
    }

    /// How many of the given cases took each edge, counted with
    /// [`Highlight::from_case`]: a case that took an edge twice (rework) counts once.
    pub fn count_edges<'a>(
        process: &Process,
        cases: impl IntoIterator<Item = (&'a [Event], &'a CaseState)>,
    ) -> HashMap<Transition, u64> {
        let mut counts: HashMap<Transition, u64> = HashMap::new();
        for (events, state) in cases {
            for transition in Highlight::from_case(process, events, state).taken {
                *counts.entry(transition).or_default() += 1;
            }
        }
        counts
    }

    /// Reads heat figures from JSON:
    ///
    /// ```json
    /// {
    ///   "caption": "median time to complete",
    ///   "scale": ["0", "4h or more"],
    ///   "steps": { "receive": { "value": 0.25, "label": "median 1h" } },
    ///   "edges": [ { "from": "start", "to": "receive", "count": 120 },
    ///              { "from": "verify", "to": "receive", "label": "rejected", "count": 9 } ]
    /// }
    /// ```
    ///
    /// Edges name their ends by step id, `start`, `end`, or `join of SPLIT`; `label` (as
    /// the chart shows it: `else`, `approved`, a condition) picks one of several edges
    /// between the same nodes.
    pub fn from_json(process: &Process, text: &str) -> Result<Heat, HeatError> {
        let file: HeatFile =
            serde_json::from_str(text).map_err(|e| HeatError::Json(e.to_string()))?;
        let mut values = Vec::with_capacity(file.steps.len());
        for (step, figure) in file.steps {
            let id = step
                .parse::<StepId>()
                .map_err(|_| HeatError::UnknownStep { step: step.clone() })?;
            values.push((id, figure.value, figure.label));
        }
        let mut heat = Heat::from_step_values(process, file.caption, values)?;
        heat.scale = file.scale;
        for edge in file.edges {
            let transition = find_edge(process, &edge)?;
            *heat.edges.entry(transition).or_default() += edge.count;
        }
        Ok(heat)
    }

    /// The largest edge count, at least 1.
    pub(crate) fn max_count(&self) -> u64 {
        self.edges.values().copied().max().unwrap_or(0).max(1)
    }
}

/// The node a heat file names: a step id, `start`, `end` or `join of SPLIT`.
fn node_named(process: &Process, name: &str) -> Option<NodeIndex> {
    process
        .nodes()
        .find(|(_, node)| node.name() == name)
        .map(|(index, _)| index)
}

fn find_edge(process: &Process, edge: &EdgeFigure) -> Result<Transition, HeatError> {
    let unknown = || HeatError::UnknownEdge {
        from: edge.from.clone(),
        to: edge.to.clone(),
        label: edge.label.clone(),
    };
    let from = node_named(process, &edge.from).ok_or_else(unknown)?;
    let to = node_named(process, &edge.to).ok_or_else(unknown)?;
    let candidates: Vec<Transition> = process
        .successors(from)
        .iter()
        .filter(|&&(_, target)| target == to)
        .map(|&(kind, to)| Transition { from, kind, to })
        .filter(|t| {
            edge.label.as_ref().is_none_or(|label| {
                super::text::one_line(&process.edge_label(from, t.kind)) == *label
            })
        })
        .collect();
    match candidates.as_slice() {
        [] => Err(unknown()),
        [one] => Ok(*one),
        several => Err(HeatError::AmbiguousEdge {
            from: edge.from.clone(),
            to: edge.to.clone(),
            labels: several
                .iter()
                .map(|t| format!("`{}`", process.edge_label(from, t.kind)))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Stops of the viridis colour scale (perceptually uniform, lightness rising monotonically,
/// readable with red-green colour blindness and in greyscale), from dark to light.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (0x44, 0x01, 0x54),
    (0x47, 0x2c, 0x7a),
    (0x3b, 0x51, 0x8b),
    (0x2c, 0x71, 0x8e),
    (0x21, 0x90, 0x8d),
    (0x27, 0xad, 0x81),
    (0x5c, 0xc8, 0x63),
    (0xaa, 0xdc, 0x32),
    (0xfd, 0xe7, 0x25),
];

/// The fill for a value: light yellow at 0, dark purple at 1 (viridis reversed, so hotter
/// is darker), and whether text on it must be white.
pub(crate) fn color(value: f64) -> (String, bool) {
    let value = if value.is_finite() {
        value.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // Reversed: 0 is the last (lightest) stop.
    let position = (1.0 - value) * (VIRIDIS.len() - 1) as f64;
    let low = (position.floor() as usize).min(VIRIDIS.len() - 2);
    let t = position - low as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
    let (a, b) = (VIRIDIS[low], VIRIDIS[low + 1]);
    let (r, g, bl) = (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2));
    // Relative luminance (sRGB, WCAG): white text where it has more contrast than black,
    // which is below 0.179 ((L + 0.05) / 0.05 = 1.05 / (L + 0.05)).
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(bl);
    (format!("#{r:02x}{g:02x}{bl:02x}"), luminance < 0.179)
}

/// Whether a node can carry a step figure (tasks and gates; decisions too, when given).
pub(crate) fn holds_figure(kind: &NodeKind) -> bool {
    matches!(
        kind,
        NodeKind::Task(_) | NodeKind::Approval(_) | NodeKind::Decision(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_runs_from_light_to_dark_with_readable_text() {
        assert_eq!(color(0.0), ("#fde725".to_owned(), false));
        assert_eq!(color(1.0), ("#440154".to_owned(), true));
        assert_eq!(color(f64::NAN).0, "#fde725");
        // Lightness falls as the value rises.
        let lightness = |v: f64| {
            let hex = color(v).0;
            let byte = |i: usize| u32::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
            byte(1) * 2126 + byte(3) * 7152 + byte(5) * 722
        };
        let steps: Vec<u32> = (0..=10).map(|i| lightness(f64::from(i) / 10.0)).collect();
        assert!(steps.windows(2).all(|w| w[0] >= w[1]), "{steps:?}");
    }
}
