//! What the scenarios of a file reached: steps, edges by kind, service-level events.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use crate::engine::{CaseState, EventKind};
use crate::graph::{EdgeKind, NodeKind, Process};
use crate::model::StepId;
use crate::render::{Highlight, Transition};

use super::ScenarioOutcome;

/// How many of a kind of thing were reached, of how many there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Count {
    /// Reached by at least one scenario.
    pub reached: usize,
    /// There are.
    pub total: usize,
}

impl Count {
    /// The share reached, in percent; 100 when there is nothing to reach.
    pub fn percent(self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            // Counts are far below 2^52: the conversion is exact.
            self.reached as f64 * 100.0 / self.total as f64
        }
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} ({:.0}%)",
            self.reached,
            self.total,
            self.percent()
        )
    }
}

/// A service-level event one step (or the case) can have.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlaEvent {
    /// The warning before the due time.
    Warning(Option<StepId>),
    /// The breach at the due time.
    Breach(Option<StepId>),
    /// A level of the escalation ladder, from 1.
    Level(Option<StepId>, u32),
}

impl fmt::Display for SlaEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whose = |step: &Option<StepId>| match step {
            Some(step) => format!("step `{step}`"),
            None => "the case".to_owned(),
        };
        match self {
            SlaEvent::Warning(step) => write!(f, "warning of {}", whose(step)),
            SlaEvent::Breach(step) => write!(f, "breach of {}", whose(step)),
            SlaEvent::Level(step, level) => write!(f, "ladder level {level} of {}", whose(step)),
        }
    }
}

/// What the scenarios of one file reached of their SOP.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// Steps (tasks, gates, decisions, splits) a case reached.
    pub steps: Count,
    /// Edges a case took, every kind together: next, approved, rejected, each decision
    /// arm, else, overdue, timeout, escalate, branch.
    pub edges: Count,
    /// Service-level events that happened: each warning, breach and ladder level of each
    /// step and of the case.
    pub sla_events: Count,
    /// The steps no scenario reached, in definition order.
    pub unreached_steps: Vec<StepId>,
    /// The edges no scenario took, as `from --label--> to`, in definition order.
    pub untaken_edges: Vec<String>,
    /// The service-level events that never happened.
    pub missed_sla_events: Vec<SlaEvent>,
    /// Every edge taken, for a chart ([`Coverage::highlight`]).
    pub taken: HashSet<Transition>,
}

impl Coverage {
    /// The coverage of `outcomes` (failed scenarios count for what they reached).
    pub fn of(process: &Process, outcomes: &[ScenarioOutcome]) -> Coverage {
        let mut visited = HashSet::new();
        let mut taken = HashSet::new();
        let mut happened = BTreeSet::new();
        for outcome in outcomes {
            let state = CaseState::replay(&outcome.events);
            let highlight = Highlight::from_case(process, &outcome.events, &state);
            visited.extend(highlight.visited);
            taken.extend(highlight.taken);
            for event in &outcome.events {
                match &event.kind {
                    EventKind::SlaWarned { step, .. } => {
                        happened.insert(SlaEvent::Warning(step.clone()));
                    }
                    EventKind::SlaBreached { step, .. } => {
                        happened.insert(SlaEvent::Breach(Some(step.clone())));
                    }
                    EventKind::CaseSlaBreached => {
                        happened.insert(SlaEvent::Breach(None));
                    }
                    EventKind::SlaLevelReached { step, level, .. } => {
                        happened.insert(SlaEvent::Level(step.clone(), *level));
                    }
                    _ => {}
                }
            }
        }
        let mut coverage = Coverage::default();
        for (index, node) in process.nodes() {
            if let Some(step) = &node.step {
                coverage.steps.total += 1;
                if visited.contains(&index) {
                    coverage.steps.reached += 1;
                } else {
                    coverage.unreached_steps.push(step.clone());
                }
            }
            for &(kind, to) in process.successors(index) {
                coverage.edges.total += 1;
                if taken.contains(&Transition {
                    from: index,
                    kind,
                    to,
                }) {
                    coverage.edges.reached += 1;
                } else {
                    let label = process.edge_label(index, kind);
                    let label = match kind {
                        EdgeKind::Next if label.is_empty() => "next".to_owned(),
                        EdgeKind::Branch if label.is_empty() => "branch".to_owned(),
                        _ => label,
                    };
                    coverage.untaken_edges.push(format!(
                        "{} --{label}--> {}",
                        node.name(),
                        process.node(to).name()
                    ));
                }
            }
        }
        for event in possible_sla_events(process) {
            coverage.sla_events.total += 1;
            if happened.contains(&event) {
                coverage.sla_events.reached += 1;
            } else {
                coverage.missed_sla_events.push(event);
            }
        }
        coverage.taken = taken;
        coverage
    }

    /// The chart overlay: taken edges in the path colour, the others grey and dashed.
    pub fn highlight(&self) -> Highlight {
        let mut highlight = Highlight::default();
        for transition in &self.taken {
            highlight.take(transition.from, transition.kind, transition.to);
        }
        highlight.dim_untaken = true;
        highlight
    }
}

/// Every service-level event the SOP can produce, steps in definition order, then the case.
fn possible_sla_events(process: &Process) -> Vec<SlaEvent> {
    let mut events = Vec::new();
    let mut add = |step: Option<StepId>, sla: &crate::graph::ServiceLevel| {
        if sla.warn.is_some() {
            events.push(SlaEvent::Warning(step.clone()));
        }
        events.push(SlaEvent::Breach(step.clone()));
        // `on_overdue` alone moves the case with the breach itself: no level of its own.
        if !sla.moves_at_breach() {
            for level in 1..=sla.ladder.len() {
                events.push(SlaEvent::Level(
                    step.clone(),
                    u32::try_from(level).unwrap_or(u32::MAX),
                ));
            }
        }
    };
    for (index, node) in process.nodes() {
        if matches!(node.kind, NodeKind::Task(_) | NodeKind::Approval(_))
            && let Some(sla) = process.timers(index).and_then(|t| t.sla.as_ref())
        {
            add(node.step.clone(), sla);
        }
    }
    if let Some(case_sla) = process.case_sla() {
        add(None, &case_sla.sla);
    }
    events
}
