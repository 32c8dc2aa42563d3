//! [`Append`]: the events one command caused, checked to continue a case, with the summary
//! row they lead to.

use crate::engine::{
    CaseId, CaseState, CommandId, EVENT_SCHEMA_VERSION, Event, EventKind, Notification,
};
use crate::graph::Process;

use super::codec;
use super::error::StoreError;
use super::{CaseSummary, SopSource};

/// Events to append to one case, decided on a state of version [`Append::expected`].
///
/// Built by [`Append::new`], which checks that the events continue that state (their
/// `seq`s follow on, a new case starts with `case_started`, the process is the one the case
/// runs on) and folds them to compute the summary row the store writes beside them.
#[derive(Debug, Clone)]
pub struct Append {
    case: CaseId,
    expected: u64,
    events: Vec<Event>,
    encoded: Vec<String>,
    summary: CaseSummary,
    state: CaseState,
    starts_on: Option<(crate::model::SopId, u32)>,
    /// The SOP version the case ran on before the batch: the summary row must still say
    /// it (a `case_migrated` event moves the case to the summary's version).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    ran_on: u32,
    /// The snapshot of `state` to store with the events (JSON), when they cross a
    /// multiple of [`codec::SNAPSHOT_EVERY`] or end the case.
    snapshot: Option<String>,
    /// The stored hash the event before the batch must have: set by callers that decided
    /// on a state they held (a cache), so that the append goes through only if the store
    /// still holds the very events that state folds.
    after_hash: Option<codec::Hash>,
    /// What the events call for people to hear, written in the same transaction.
    notifications: Vec<Notification>,
    /// The notifications as their JSON, encoded by the caller rather than by a store's
    /// single writer.
    encoded_notifications: Vec<String>,
}

impl Append {
    /// The events `events` that a command caused on a case in state `before`, running on
    /// `process` (what [`engine::handle`](crate::engine::handle) returned).
    ///
    /// Fails with [`StoreError::InvalidBatch`] when there is no event, when their `seq`s do
    /// not run on from `before.version() + 1`, when a new case does not start with
    /// `case_started`, when `process` is not the SOP version the case runs on, or when an
    /// event does not fit `process` after the events before it
    /// ([`engine::check_history`](crate::engine::check_history)).
    pub fn new(
        process: &Process,
        before: &CaseState,
        events: Vec<Event>,
    ) -> Result<Append, StoreError> {
        Append::after(process, before.clone(), events)
    }

    /// [`Append::new`] taking the state before the events by value: the state after them
    /// is built in place, without copying the records of an old case that nobody else
    /// holds.
    pub fn after(
        process: &Process,
        before: CaseState,
        events: Vec<Event>,
    ) -> Result<Append, StoreError> {
        let named = before.case().cloned().or_else(|| {
            events.iter().find_map(|e| match &e.kind {
                EventKind::CaseStarted { case, .. } => Some(case.clone()),
                _ => None,
            })
        });
        let invalid = |reason: String| StoreError::InvalidBatch {
            case: named.clone().unwrap_or_else(|| CaseId::new("?")),
            reason,
        };
        if events.is_empty() {
            return Err(invalid("there are no events to append".to_owned()));
        }
        let expected = before.version();
        for (offset, event) in events.iter().enumerate() {
            let seq = expected + 1 + offset as u64;
            if event.seq != seq {
                return Err(invalid(format!(
                    "event {} of the batch has seq {}, but the case has {expected} events so it must be {seq}",
                    offset + 1,
                    event.seq
                )));
            }
            if event.v == 0 || event.v > EVENT_SCHEMA_VERSION {
                return Err(invalid(format!(
                    "event {seq} has schema version {}, this sopflow writes version {EVENT_SCHEMA_VERSION}",
                    event.v
                )));
            }
        }
        if expected == 0 && !matches!(events[0].kind, EventKind::CaseStarted { .. }) {
            return Err(invalid(format!(
                "a new case must start with `case_started`, not `{}`",
                events[0].kind.name()
            )));
        }
        if events[1..]
            .iter()
            .any(|e| matches!(e.kind, EventKind::CaseStarted { .. }))
            || (expected > 0 && matches!(events[0].kind, EventKind::CaseStarted { .. }))
        {
            return Err(invalid(
                "`case_started` can only be the first event of a case".to_owned(),
            ));
        }
        let was_open = before.is_open();
        let ran_on = before.sop().map(|(_, v)| v);
        let mut state = before;
        let mut notifications = Vec::new();
        for event in &events {
            // A new case is checked once it names its SOP version, below.
            if expected > 0 {
                crate::engine::check_next(process, &state, event)
                    .map_err(|e| invalid(e.to_string()))?;
            }
            crate::engine::notify_event(process, &state, event, &mut notifications);
            state.apply(event);
        }
        let Some((sop, version)) = state.sop() else {
            return Err(invalid("the case has no `case_started` event".to_owned()));
        };
        if sop != process.id() || version != process.version() {
            return Err(invalid(format!(
                "the case runs `{sop}` version {version}, but the events were decided on `{}` version {}",
                process.id(),
                process.version()
            )));
        }
        if expected == 0 {
            crate::engine::check_history(process, &events).map_err(|e| invalid(e.to_string()))?;
        }
        let starts_on = (expected == 0).then(|| (sop.clone(), version));
        let last_at = events[events.len() - 1].at;
        let Some(summary) = CaseSummary::of(process, &state, last_at) else {
            return Err(invalid("the case has no id".to_owned()));
        };
        let encoded = events
            .iter()
            .map(codec::encode)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("an event cannot be written as JSON: {e}")))?;
        let encoded_notifications = notifications
            .iter()
            .map(codec::encode_notification)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("a notification cannot be written as JSON: {e}")))?;
        let crossed = expected / codec::SNAPSHOT_EVERY != state.version() / codec::SNAPSHOT_EVERY;
        let ended = !state.is_open() && (was_open || expected == 0);
        let snapshot =
            if crossed || ended {
                Some(serde_json::to_string(&state).map_err(|e| {
                    invalid(format!("the case's state cannot be written as JSON: {e}"))
                })?)
            } else {
                None
            };
        Ok(Append {
            case: summary.case.clone(),
            expected,
            events,
            encoded,
            summary,
            state,
            starts_on,
            ran_on: ran_on.unwrap_or(version),
            snapshot,
            after_hash: None,
            notifications,
            encoded_notifications,
        })
    }

    /// Pins the append to the stored hash of the event before it: it goes through only if
    /// the store's event `expected()` has that hash, else it is a
    /// [`StoreError::Conflict`].
    pub(crate) fn pinned(mut self, hash: codec::Hash) -> Append {
        self.after_hash = Some(hash);
        self
    }

    /// The snapshot to store with the batch, given the hash of its last event.
    pub(crate) fn snapshot(&self, last_hash: &str) -> Option<codec::StoredSnapshot> {
        self.snapshot
            .as_ref()
            .map(|json| codec::StoredSnapshot::new(self.state.version(), last_hash, json.clone()))
    }

    /// The stored hash the event before the batch must have, when the append is pinned.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn pin(&self) -> Option<&codec::Hash> {
        self.after_hash.as_ref()
    }

    /// Checks the stored hash of the event before the batch against the pin: a
    /// [`StoreError::Conflict`] when it differs.
    pub(crate) fn check_pin(&self, previous: &codec::Hash) -> Result<(), StoreError> {
        match &self.after_hash {
            Some(pinned) if pinned != previous => Err(StoreError::Conflict {
                case: self.case.clone(),
                expected: self.expected,
                actual: self.expected,
            }),
            _ => Ok(()),
        }
    }

    /// The case.
    pub fn case(&self) -> &CaseId {
        &self.case
    }

    /// The number of events the case must have for the append to go through.
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// The events, `seq` `expected + 1` on.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The summary row after the append.
    pub fn summary(&self) -> &CaseSummary {
        &self.summary
    }

    /// The case's state after the append.
    pub fn state(&self) -> &CaseState {
        &self.state
    }

    /// The events, the state after them.
    pub fn into_parts(self) -> (Vec<Event>, CaseState) {
        (self.events, self.state)
    }

    /// The notifications the events call for, in event order: the store writes them with
    /// the events.
    pub fn notifications(&self) -> &[Notification] {
        &self.notifications
    }

    /// The notifications as their JSON, in the order of [`Append::notifications`].
    pub(crate) fn encoded_notifications(&self) -> &[String] {
        &self.encoded_notifications
    }

    /// The commands whose events the batch holds, each with its first `seq` and how many
    /// events it caused: the store records them beside the events and refuses a batch
    /// with a command it recorded before ([`StoreError::AlreadyApplied`]).
    pub(crate) fn commands(&self) -> Vec<(&CommandId, u64, u32)> {
        let mut commands: Vec<(&CommandId, u64, u32)> = Vec::with_capacity(1);
        for event in &self.events {
            match commands.iter_mut().find(|(id, _, _)| **id == event.command) {
                Some((_, _, count)) => *count += 1,
                None => commands.push((&event.command, event.seq, 1)),
            }
        }
        commands
    }

    /// The error for a batch holding a command the case applied before.
    pub(crate) fn already_applied(&self, command: &CommandId) -> StoreError {
        StoreError::AlreadyApplied {
            case: self.case.clone(),
            command: command.clone(),
        }
    }

    /// The events as their JSON, in order.
    pub(crate) fn encoded(&self) -> &[String] {
        &self.encoded
    }

    /// For a new case: the SOP version it starts on, which must be stored.
    /// The SOP version the case ran on before these events (the summary's, unless they
    /// migrate it).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn ran_on(&self) -> u32 {
        self.ran_on
    }

    pub(crate) fn starts_on(&self) -> Option<(&crate::model::SopId, u32)> {
        self.starts_on.as_ref().map(|(s, v)| (s, *v))
    }

    /// The error for a new case whose SOP version is not stored.
    pub(crate) fn sop_not_found(&self) -> StoreError {
        match &self.starts_on {
            Some((sop, version)) => StoreError::SopNotFound {
                sop: sop.clone(),
                version: *version,
            },
            None => StoreError::InvalidBatch {
                case: self.case.clone(),
                reason: "the case does not start here".to_owned(),
            },
        }
    }
}

/// Checks that a stored SOP text may be replaced by `new`: only by the same text.
pub(crate) fn check_same_sop(stored: &str, new: &SopSource) -> Result<(), StoreError> {
    if stored == new.text {
        Ok(())
    } else {
        Err(StoreError::SopVersionExists {
            sop: new.sop.clone(),
            version: new.version,
        })
    }
}
