//! Events to and from their stored JSON, and the checks that a stored history is whole.

use chrono::{DateTime, Utc};

use crate::engine::{CaseId, EVENT_SCHEMA_VERSION, Event, EventKind};
use crate::model::{RoleId, SopId};

use super::error::StoreError;

/// An event's stored JSON: its documented form.
pub(crate) fn encode(event: &Event) -> Result<String, serde_json::Error> {
    serde_json::to_string(event)
}

/// Reads a case's stored rows `(seq, json)`, in `seq` order, back into events, checking
/// that the history is whole: every row parses, carries the `seq` of its row, the `seq`s run
/// 1, 2, 3 … without a gap, and the first event starts this case.
pub(crate) fn decode_history<S: AsRef<str>>(
    case: &CaseId,
    rows: impl IntoIterator<Item = (i64, S)>,
) -> Result<Vec<Event>, StoreError> {
    let mut events: Vec<Event> = Vec::new();
    for (row_seq, json) in rows {
        let expected = events.len() as u64 + 1;
        let corrupt = |seq: u64, reason: String| StoreError::Corrupt {
            case: case.clone(),
            seq,
            reason,
        };
        if u64::try_from(row_seq).ok() != Some(expected) {
            return Err(corrupt(
                expected,
                format!("event {expected} is missing (the next stored event is {row_seq})"),
            ));
        }
        let event: Event = serde_json::from_str(json.as_ref())
            .map_err(|e| corrupt(expected, format!("its JSON cannot be read: {e}")))?;
        if event.seq != expected {
            return Err(corrupt(
                expected,
                format!(
                    "it is stored as event {expected} but says it is {}",
                    event.seq
                ),
            ));
        }
        if event.v > EVENT_SCHEMA_VERSION {
            return Err(corrupt(
                expected,
                format!(
                    "it has schema version {}, newer than the {EVENT_SCHEMA_VERSION} this sopflow reads",
                    event.v
                ),
            ));
        }
        if expected == 1 {
            match &event.kind {
                EventKind::CaseStarted { case: started, .. } if started == case => {}
                EventKind::CaseStarted { case: started, .. } => {
                    return Err(corrupt(1, format!("it starts case `{started}`")));
                }
                other => {
                    return Err(corrupt(
                        1,
                        format!("the first event is `{}`, not `case_started`", other.name()),
                    ));
                }
            }
        }
        events.push(event);
    }
    Ok(events)
}

/// A time as stored: microseconds since the Unix epoch.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A stored time back.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn from_micros(case: &CaseId, micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| StoreError::Corrupt {
        case: case.clone(),
        seq: 0,
        reason: format!("its summary row holds the time {micros}, out of range"),
    })
}

/// The roles of a summary row as stored: ids separated by spaces (ids have no spaces).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn roles_text(roles: &[RoleId]) -> String {
    roles
        .iter()
        .map(RoleId::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Stored roles back.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn roles_from_text(case: &CaseId, text: &str) -> Result<Vec<RoleId>, StoreError> {
    text.split_whitespace()
        .map(|r| {
            RoleId::new(r).map_err(|reason| StoreError::Corrupt {
                case: case.clone(),
                seq: 0,
                reason: format!("its summary row names the role `{r}`: {reason}"),
            })
        })
        .collect()
}

/// A stored SOP id back.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn sop_from_text(case: &CaseId, text: &str) -> Result<SopId, StoreError> {
    SopId::new(text).map_err(|reason| StoreError::Corrupt {
        case: case.clone(),
        seq: 0,
        reason: format!("its summary row names the SOP `{text}`: {reason}"),
    })
}
