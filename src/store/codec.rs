//! Events to and from their stored JSON, and the checks that a stored history is whole.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::engine::{CaseId, CaseState, EVENT_SCHEMA_VERSION, Event, EventKind};
use crate::model::{RoleId, SopId};

use super::error::StoreError;

/// An event's stored JSON: its documented form.
pub(crate) fn encode(event: &Event) -> Result<String, serde_json::Error> {
    serde_json::to_string(event)
}

/// The hash of an event in a case's chain: SHA-256 over the previous event's hash (32
/// bytes) followed by the event's stored JSON, byte for byte.
pub(crate) type Hash = [u8; 32];

/// The "previous hash" of a case's first event: 32 zero bytes.
pub(crate) const GENESIS: Hash = [0; 32];

/// The link after `previous` for an event stored as `json`.
pub(crate) fn chain(previous: &Hash, json: &str) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(json.as_bytes());
    hasher.finalize().into()
}

/// The hashes of events stored as `jsons` following `previous`, as stored (hex).
pub(crate) fn chain_all<S: AsRef<str>>(previous: Hash, jsons: &[S]) -> Vec<String> {
    let mut previous = previous;
    jsons
        .iter()
        .map(|json| {
            previous = chain(&previous, json.as_ref());
            to_hex(&previous)
        })
        .collect()
}

/// The digits of a hash as stored.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// A hash as stored: 64 lowercase hex digits.
pub(crate) fn to_hex(hash: &Hash) -> String {
    let mut text = String::with_capacity(64);
    for byte in hash {
        text.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(HEX_DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// A stored hash back, `None` when it is not 64 hex digits.
pub(crate) fn from_hex(text: &str) -> Option<Hash> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut hash = [0; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let digits = std::str::from_utf8(pair).ok()?;
        hash[i] = u8::from_str_radix(digits, 16).ok()?;
    }
    Some(hash)
}

/// Whether `text` is `hash` as stored (64 hex digits, read in either case like
/// [`from_hex`]), without decoding it: the check every event read goes through.
fn is_hex_of(text: &str, hash: &Hash) -> bool {
    let text = text.as_bytes();
    text.len() == 64
        && hash.iter().zip(text.chunks_exact(2)).all(|(byte, pair)| {
            pair[0].to_ascii_lowercase() == HEX_DIGITS[usize::from(byte >> 4)]
                && pair[1].to_ascii_lowercase() == HEX_DIGITS[usize::from(byte & 0xf)]
        })
}

/// The stored hash of the event a new batch follows (`seq` `expected`), as the chain's
/// previous link: [`GENESIS`] for a new case. A missing or unreadable hash is
/// [`StoreError::Corrupt`]: appending after it would seal the damage.
pub(crate) fn previous_link(
    case: &CaseId,
    expected: u64,
    stored: Option<&str>,
) -> Result<Hash, StoreError> {
    if expected == 0 {
        return Ok(GENESIS);
    }
    stored
        .and_then(from_hex)
        .ok_or_else(|| StoreError::Corrupt {
            case: case.clone(),
            seq: expected,
            reason: "its hash is missing or unreadable".to_owned(),
        })
}

/// Reads a case's stored rows `(seq, json, hash)`, in `seq` order, back into events,
/// checking that the history is whole and untouched: the `seq`s run 1, 2, 3 … without a
/// gap, every row parses and carries the `seq` of its row, every row's hash is the link
/// after the previous one over its exact JSON (the first after [`GENESIS`]), and the first
/// event starts this case. The first problem is a [`StoreError::Corrupt`] naming its event.
///
/// This checks the chain only: whether the events fit the process they run on is
/// [`engine::check_history`](crate::engine::check_history), for callers that have it.
pub(crate) fn decode_history<S: AsRef<str>, H: AsRef<str>>(
    case: &CaseId,
    rows: impl IntoIterator<Item = (i64, S, Option<H>)>,
) -> Result<Vec<Event>, StoreError> {
    decode_history_from(case, 0, GENESIS, rows).map(|(events, _)| events)
}

/// [`decode_history`] for the rows after event `after`, whose stored hash is `previous`:
/// the rows must run on from `after + 1` and chain from `previous`. Returns the events
/// and the hash of the last one (`previous` when there is none).
pub(crate) fn decode_history_from<S: AsRef<str>, H: AsRef<str>>(
    case: &CaseId,
    after: u64,
    previous: Hash,
    rows: impl IntoIterator<Item = (i64, S, Option<H>)>,
) -> Result<(Vec<Event>, Hash), StoreError> {
    let rows = rows.into_iter();
    let mut events: Vec<Event> = Vec::with_capacity(rows.size_hint().0);
    let mut previous = previous;
    for (row_seq, json, hash) in rows {
        let expected = after + events.len() as u64 + 1;
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
        let Some(hash) = hash else {
            return Err(corrupt(expected, "it has no hash".to_owned()));
        };
        let link = chain(&previous, json.as_ref());
        if !is_hex_of(hash.as_ref(), &link) {
            return Err(corrupt(
                expected,
                "its content does not match its hash: it was changed after it was written"
                    .to_owned(),
            ));
        }
        previous = link;
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
    Ok((events, previous))
}

/// An event row `(seq, json, hash)` borrowed from a case's packed text.
#[cfg(feature = "sqlite")]
pub(crate) type PackedRow<'a> = (i64, &'a str, Option<&'a str>);

/// A case's event rows `(seq, json, hash)` from the one text they were packed into by a
/// query: for each event in `seq` order, `SEQ HASH LENGTH JSON` with the hash `-` when
/// there is none and the length of the JSON in bytes, one event straight after the other.
/// The JSON is borrowed, not copied. Text that does not read so is [`StoreError::Corrupt`].
#[cfg(feature = "sqlite")]
pub(crate) fn unpack_history<'a>(
    case: &CaseId,
    mut packed: &'a str,
) -> Result<Vec<PackedRow<'a>>, StoreError> {
    fn word<'a>(text: &mut &'a str) -> Option<&'a str> {
        let (word, rest) = text.split_once(' ')?;
        *text = rest;
        Some(word)
    }
    let mut rows = Vec::new();
    while !packed.is_empty() {
        let corrupt = || StoreError::Corrupt {
            case: case.clone(),
            seq: rows.len() as u64 + 1,
            reason: "its stored row cannot be read".to_owned(),
        };
        let seq: i64 = word(&mut packed)
            .and_then(|seq| seq.parse().ok())
            .ok_or_else(corrupt)?;
        let hash = word(&mut packed).ok_or_else(corrupt)?;
        let length: usize = word(&mut packed)
            .and_then(|length| length.parse().ok())
            .ok_or_else(corrupt)?;
        let json = packed.get(..length).ok_or_else(corrupt)?;
        packed = &packed[length..];
        rows.push((seq, json, (hash != "-").then_some(hash)));
    }
    Ok(rows)
}

/// A kept-facts row `(case_id, seq, format, event_hash, digest, facts)` borrowed from a
/// page's packed text.
#[cfg(feature = "sqlite")]
pub(crate) type PackedFacts<'a> = (&'a str, i64, i64, &'a str, &'a str, &'a str);

/// The kept-facts rows of a page from the one text a query packed them into: for each,
/// `LENGTH CASE SEQ FORMAT HASH DIGEST LENGTH FACTS` with the lengths in bytes, one row
/// straight after the other. `None` when the text does not read so.
#[cfg(feature = "sqlite")]
pub(crate) fn unpack_facts(mut packed: &str) -> Option<Vec<PackedFacts<'_>>> {
    fn word<'a>(text: &mut &'a str) -> Option<&'a str> {
        let (word, rest) = text.split_once(' ')?;
        *text = rest;
        Some(word)
    }
    fn sized<'a>(text: &mut &'a str) -> Option<&'a str> {
        let length: usize = word(text)?.parse().ok()?;
        let value = text.get(..length)?;
        *text = &text[length..];
        Some(value)
    }
    let mut rows = Vec::new();
    while !packed.is_empty() {
        let case = sized(&mut packed)?;
        packed = packed.strip_prefix(' ')?;
        let seq = word(&mut packed)?.parse().ok()?;
        let format = word(&mut packed)?.parse().ok()?;
        let hash = word(&mut packed)?;
        let digest = word(&mut packed)?;
        let facts = sized(&mut packed)?;
        rows.push((case, seq, format, hash, digest, facts));
    }
    Some(rows)
}

/// The format of stored snapshots this code writes: 3, a state that remembers recent
/// commands only and compacts its list of performers. It also reads format 2 (every
/// completion's performer) and format 1 (also every command the case applied), making
/// them what a replay gives; a snapshot of another format is ignored, and the case
/// replayed from its events.
pub(crate) const SNAPSHOT_FORMAT: i64 = 3;

/// Formats of stored snapshots this code reads.
const SNAPSHOT_FORMATS_READ: [i64; 3] = [1, 2, SNAPSHOT_FORMAT];

/// A case's state is written as a snapshot (in the append's transaction) every this many
/// events, and when it closes or is cancelled.
pub(crate) const SNAPSHOT_EVERY: u64 = 100;

/// A snapshot as stored: the state after event `seq` as JSON, the stored hash of event
/// `seq` (what ties it to the events), and a digest over both, so a damaged snapshot is
/// ignored rather than trusted.
#[derive(Debug, Clone)]
pub(crate) struct StoredSnapshot {
    pub seq: u64,
    pub format: i64,
    pub event_hash: String,
    pub digest: String,
    pub state: String,
}

impl StoredSnapshot {
    /// The snapshot of `state` (JSON already encoded), whose last event has hash
    /// `event_hash`.
    pub(crate) fn new(seq: u64, event_hash: &str, state: String) -> StoredSnapshot {
        StoredSnapshot {
            seq,
            format: SNAPSHOT_FORMAT,
            event_hash: event_hash.to_owned(),
            digest: snapshot_digest(SNAPSHOT_FORMAT, event_hash, &state),
            state,
        }
    }

    /// The state it holds and the hash of its last event, or `None` when it cannot be
    /// trusted: another format, a digest that does not match, JSON that does not read, or a
    /// state that is not of this case after `seq` events. The caller still checks that
    /// `event_hash` is the stored hash of event `seq`.
    pub(crate) fn open(&self, case: &CaseId) -> Option<(CaseState, Hash)> {
        if !SNAPSHOT_FORMATS_READ.contains(&self.format)
            || snapshot_digest(self.format, &self.event_hash, &self.state) != self.digest
        {
            return None;
        }
        let hash = from_hex(&self.event_hash)?;
        let mut state: CaseState = serde_json::from_str(&self.state).ok()?;
        if self.format < SNAPSHOT_FORMAT {
            state.catch_up_older_snapshot();
        }
        (state.version() == self.seq && state.case() == Some(case)).then_some((state, hash))
    }
}

fn snapshot_digest(format: i64, event_hash: &str, state: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format.to_le_bytes());
    hasher.update(event_hash.as_bytes());
    hasher.update(state.as_bytes());
    to_hex(&hasher.finalize().into())
}

/// The digest a store keeps beside a case's kept facts: SHA-256 over their format, the
/// number of events they were read from, the stored hash of the last of those, and the
/// facts, so that a damaged row is noticed and the case read from its events.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn facts_digest(format: u32, seq: u64, event_hash: &str, facts: &str) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(format.to_le_bytes());
    hasher.update(seq.to_le_bytes());
    hasher.update(event_hash.as_bytes());
    hasher.update(facts.as_bytes());
    hasher.finalize().into()
}

/// Whether `digest` (as stored, hex) is the [`facts_digest`] of the rest.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn facts_digest_matches(
    digest: &str,
    format: u32,
    seq: u64,
    event_hash: &str,
    facts: &str,
) -> bool {
    is_hex_of(digest, &facts_digest(format, seq, event_hash, facts))
}

/// A time as stored: microseconds since the Unix epoch.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
/// A timer claim from the columns both databases keep it in (`cases` row, times in
/// microseconds).
pub(crate) fn timer_claim(
    (case, sop, sop_version, version, due_us): (String, String, i64, i64, i64),
    owner: String,
    lease_until_us: i64,
) -> Result<super::TimerClaim, StoreError> {
    let case = CaseId::new(case);
    Ok(super::TimerClaim {
        sop: sop_from_text(&case, &sop)?,
        sop_version: sop_version as u32,
        version: version as u64,
        due_at: from_micros(&case, due_us)?,
        lease_until: from_micros(&case, lease_until_us)?,
        owner,
        case,
    })
}

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

/// A notification as a row: id, case, seq, JSON, acknowledgement time in microseconds.
pub(crate) type NotificationRow = (i64, String, i64, String, Option<i64>);

/// The JSON a store keeps for a notification.
pub(crate) fn encode_notification(
    notification: &crate::engine::Notification,
) -> Result<String, serde_json::Error> {
    serde_json::to_string(notification)
}

/// A notification read back from its row.
pub(crate) fn decode_notification(
    (id, case, seq, payload, acknowledged): NotificationRow,
) -> Result<super::StoredNotification, StoreError> {
    let case = CaseId::new(case);
    let notification = serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt {
        case: case.clone(),
        seq: seq as u64,
        reason: format!("notification {id} cannot be read: {e}"),
    })?;
    Ok(super::StoredNotification {
        id: id as u64,
        notification,
        acknowledged_at: acknowledged.map(|at| from_micros(&case, at)).transpose()?,
    })
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;

    #[test]
    fn unpacks_rows_with_and_without_hashes_borrowing_the_json() {
        let case = CaseId::new("T-1");
        let packed = r#"1 ab 10 {"a":"é"}2 - 2 {}"#;
        let rows = unpack_history(&case, packed).unwrap();
        assert_eq!(rows, [(1, r#"{"a":"é"}"#, Some("ab")), (2, "{}", None)]);
        assert!(unpack_history(&case, "").unwrap().is_empty());
    }

    #[test]
    fn unpacks_kept_facts_with_spaces_in_case_ids() {
        let packed = "3 T 1 7 1 ab cd 2 {}4 é 2 12 1 ef 01 3 [ ]";
        assert_eq!(
            unpack_facts(packed).unwrap(),
            [
                ("T 1", 7, 1, "ab", "cd", "{}"),
                ("é 2", 12, 1, "ef", "01", "[ ]")
            ]
        );
        assert_eq!(unpack_facts("").unwrap(), []);
        for broken in [
            "3 T 1 7 1 ab cd 3 {}",
            "9 T",
            "3 T 1 x 1 ab cd 2 {}",
            "3 T 1 7",
        ] {
            assert_eq!(unpack_facts(broken), None, "{broken}");
        }
    }

    #[test]
    fn a_hash_matches_its_stored_hex_only() {
        let hash = chain(&GENESIS, "{}");
        let hex = to_hex(&hash);
        assert!(is_hex_of(&hex, &hash));
        assert!(is_hex_of(&hex.to_uppercase(), &hash));
        assert!(!is_hex_of(&hex[..62], &hash));
        assert!(!is_hex_of(&to_hex(&GENESIS), &hash));
        assert!(!is_hex_of(&format!("{hex}00"), &hash));
    }

    #[test]
    fn text_that_is_not_packed_rows_is_corrupt() {
        let case = CaseId::new("T-1");
        for packed in [
            "1 ab 3 {}",
            "x ab 2 {}",
            "1 ab",
            "1 ab two {}",
            "1 ab 1 é",
            "1 ab 2 {}2 cd",
        ] {
            match unpack_history(&case, packed) {
                Err(StoreError::Corrupt { case: named, .. }) => assert_eq!(named, case),
                other => panic!("{packed}: {other:?}"),
            }
        }
    }
}
