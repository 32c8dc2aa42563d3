//! A case's facts as a store keeps them: one small, versioned JSON record per case, so
//! that a report reads a record instead of every event of the case.
//!
//! Times are kept exactly (to the nanosecond): the opening as seconds and nanoseconds,
//! every later time as a count of the record's unit after the opening, the unit being the
//! longest of a second, a millisecond, a microsecond and a nanosecond that counts every
//! time whole (so that times as people and simulations write them stay short). A case
//! whose times lie too far apart for that (about 292 years) has no record and is always
//! read from its events.

use chrono::{DateTime, TimeDelta, Utc};
use petgraph::graph::NodeIndex;
use serde::{Deserialize, Serialize};

use crate::engine::CaseId;
use crate::graph::{EdgeKind, Process};
use crate::model::{FieldId, FieldValue, SopId, StepId};
use crate::render::Transition;

use super::case::{Activation, CaseFacts, Outcome};

/// The format of kept case facts that this sopflow writes and reads. Facts kept in
/// another format are not read: the case is read from its events again.
pub const FACTS_FORMAT: u32 = 1;

/// An activation: step, item, activated, claimed, completed, ended (the last three as
/// nanoseconds after the opening), and whether it had a due time (1) and breached it (2).
type KeptActivation = (
    StepId,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    u8,
);

/// An edge taken: from node, kind (see [`kind_code`]), to node.
type KeptTransition = (u32, i64, u32);

#[derive(Serialize, Deserialize)]
struct Kept {
    #[serde(rename = "c")]
    case: CaseId,
    #[serde(rename = "s")]
    sop: SopId,
    #[serde(rename = "v")]
    version: u32,
    /// Seconds and nanoseconds since the Unix epoch.
    #[serde(rename = "o")]
    opened: (i64, u32),
    /// The unit of every later time, in nanoseconds.
    #[serde(rename = "u")]
    unit: i64,
    #[serde(rename = "x")]
    closed: Option<i64>,
    /// 0 open, 1 closed, 2 cancelled.
    #[serde(rename = "st")]
    outcome: u8,
    #[serde(rename = "f")]
    fields: Vec<(FieldId, FieldValue)>,
    #[serde(rename = "a")]
    activations: Vec<KeptActivation>,
    #[serde(rename = "e")]
    escalated: bool,
    #[serde(rename = "r")]
    reopened: bool,
    #[serde(rename = "sla")]
    case_sla: Option<bool>,
    #[serde(rename = "w")]
    walk: Vec<KeptTransition>,
}

/// The units times may be kept in, longest first, in nanoseconds.
const UNITS: [i64; 4] = [1_000_000_000, 1_000_000, 1_000, 1];

fn kind_code(kind: EdgeKind) -> i64 {
    match kind {
        EdgeKind::Next => 0,
        EdgeKind::Approved => 1,
        EdgeKind::Rejected => 2,
        EdgeKind::Else => 3,
        EdgeKind::Overdue => 4,
        EdgeKind::Timeout => 5,
        EdgeKind::Escalate => 6,
        EdgeKind::Cancelled => 7,
        EdgeKind::Branch => 8,
        // A condition's index, counted down from -1 so that it never meets another kind.
        EdgeKind::Condition(index) => -1 - i64::try_from(index).unwrap_or(i64::MAX - 1),
    }
}

fn kind_from_code(code: i64) -> Option<EdgeKind> {
    Some(match code {
        0 => EdgeKind::Next,
        1 => EdgeKind::Approved,
        2 => EdgeKind::Rejected,
        3 => EdgeKind::Else,
        4 => EdgeKind::Overdue,
        5 => EdgeKind::Timeout,
        6 => EdgeKind::Escalate,
        7 => EdgeKind::Cancelled,
        8 => EdgeKind::Branch,
        negative if negative < 0 => EdgeKind::Condition(usize::try_from(-1 - negative).ok()?),
        _ => return None,
    })
}

impl CaseFacts {
    /// The facts as a store keeps them (format [`FACTS_FORMAT`]); `None` for a case whose
    /// times lie too far apart to be kept exactly, which is read from its events instead.
    pub fn encode(&self) -> Option<String> {
        let offset = |at: DateTime<Utc>| (at - self.opened).num_nanoseconds();
        let mut times = Vec::with_capacity(1 + 4 * self.activations.len());
        times.extend(self.closed);
        for a in &self.activations {
            times.extend(
                [Some(a.activated), a.claimed, a.completed, a.ended]
                    .into_iter()
                    .flatten(),
            );
        }
        let offsets = times
            .into_iter()
            .map(offset)
            .collect::<Option<Vec<i64>>>()?;
        let unit = UNITS
            .into_iter()
            .find(|&unit| offsets.iter().all(|nanos| nanos % unit == 0))?;
        let after = |at: DateTime<Utc>| offset(at).map(|nanos| nanos / unit);
        let later = |at: Option<DateTime<Utc>>| match at {
            Some(at) => after(at).map(Some),
            None => Some(None),
        };
        let activations = self
            .activations
            .iter()
            .map(|a| {
                Some((
                    a.step.clone(),
                    a.item.clone(),
                    after(a.activated)?,
                    later(a.claimed)?,
                    later(a.completed)?,
                    later(a.ended)?,
                    u8::from(a.has_due) | (u8::from(a.breached) << 1),
                ))
            })
            .collect::<Option<Vec<_>>>()?;
        let kept = Kept {
            case: self.case.clone(),
            sop: self.sop.clone(),
            version: self.version,
            opened: (
                self.opened.timestamp(),
                self.opened.timestamp_subsec_nanos(),
            ),
            unit,
            closed: later(self.closed)?,
            outcome: match self.outcome {
                Outcome::Open => 0,
                Outcome::Closed => 1,
                Outcome::Cancelled => 2,
            },
            fields: self
                .fields
                .iter()
                .map(|(id, value)| (id.clone(), value.clone()))
                .collect(),
            activations,
            escalated: self.escalated,
            reopened: self.reopened,
            case_sla: self.case_sla,
            walk: self
                .walk
                .iter()
                .map(|t| {
                    Some((
                        u32::try_from(t.from.index()).ok()?,
                        kind_code(t.kind),
                        u32::try_from(t.to.index()).ok()?,
                    ))
                })
                .collect::<Option<Vec<_>>>()?,
        };
        serde_json::to_string(&kept).ok()
    }

    /// Facts kept in format `format` as `text` (what [`encode`](CaseFacts::encode) wrote),
    /// for a case running on `process`. `None` when they cannot be used: another format,
    /// text that does not read, or facts of another SOP version or that do not fit its
    /// process. The caller then reads the case from its events.
    pub fn decode(process: &Process, format: u32, text: &str) -> Option<CaseFacts> {
        if format != FACTS_FORMAT {
            return None;
        }
        let kept: Kept = serde_json::from_str(text).ok()?;
        if &kept.sop != process.id() || kept.version != process.version() {
            return None;
        }
        let opened = DateTime::from_timestamp(kept.opened.0, kept.opened.1)?;
        if !UNITS.contains(&kept.unit) {
            return None;
        }
        let at = |count: i64| {
            let nanos = count.checked_mul(kept.unit)?;
            opened.checked_add_signed(TimeDelta::nanoseconds(nanos))
        };
        let later = |nanos: Option<i64>| match nanos {
            Some(nanos) => at(nanos).map(Some),
            None => Some(None),
        };
        let nodes = process.graph().node_count();
        let node = |index: u32| {
            let index = usize::try_from(index).ok()?;
            (index < nodes).then(|| NodeIndex::new(index))
        };
        let activations = kept
            .activations
            .into_iter()
            .map(
                |(step, item, activated, claimed, completed, ended, flags)| {
                    Some(Activation {
                        step,
                        item,
                        activated: at(activated)?,
                        claimed: later(claimed)?,
                        completed: later(completed)?,
                        ended: later(ended)?,
                        has_due: flags & 1 != 0,
                        breached: flags & 2 != 0,
                    })
                },
            )
            .collect::<Option<Vec<_>>>()?;
        let walk = kept
            .walk
            .into_iter()
            .map(|(from, kind, to)| {
                Some(Transition {
                    from: node(from)?,
                    kind: kind_from_code(kind)?,
                    to: node(to)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(CaseFacts {
            case: kept.case,
            sop: kept.sop,
            version: kept.version,
            opened,
            closed: later(kept.closed)?,
            outcome: match kept.outcome {
                0 => Outcome::Open,
                1 => Outcome::Closed,
                2 => Outcome::Cancelled,
                _ => return None,
            },
            fields: kept.fields.into_iter().collect(),
            activations,
            escalated: kept.escalated,
            reopened: kept.reopened,
            case_sla: kept.case_sla,
            walk,
        })
    }
}

/// Whether a report reads field `field` of `process`: a choice field (a segment) or the
/// field of a mean or NPS KPI. Only these are kept with the facts.
pub(super) fn reported_field(process: &Process, field: &FieldId) -> bool {
    process
        .field(field)
        .is_some_and(|spec| spec.field_type == crate::model::FieldType::Choice)
        || process.kpis().iter().any(|kpi| match &kpi.measure {
            crate::graph::KpiMeasure::Mean { field: named, .. }
            | crate::graph::KpiMeasure::Nps { field: named, .. } => named == field,
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_edge_kind_reads_back() {
        for kind in [
            EdgeKind::Next,
            EdgeKind::Approved,
            EdgeKind::Rejected,
            EdgeKind::Else,
            EdgeKind::Overdue,
            EdgeKind::Timeout,
            EdgeKind::Escalate,
            EdgeKind::Cancelled,
            EdgeKind::Branch,
            EdgeKind::Condition(0),
            EdgeKind::Condition(7),
        ] {
            assert_eq!(kind_from_code(kind_code(kind)), Some(kind));
        }
        assert_eq!(kind_from_code(9), None);
    }
}
