//! [`MemoryStore`]: cases in memory, for tests and examples.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::engine::{ActorId, CaseId, CaseState, CommandId};
use crate::model::SopId;

use super::batch::{Append, check_same_sop};
use super::codec;
use super::error::StoreError;
use super::{
    CaseFilter, CaseStore, CaseSummary, LatestCase, Person, SopSource, StoredCase,
    StoredNotification, TimerClaim,
};

/// A store in memory: everything is lost when the last clone is dropped. Clones share
/// the same cases. Events are kept as their JSON, like the database stores do, so a test on
/// memory exercises the same encoding.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    cases: BTreeMap<CaseId, MemoryCase>,
    sops: BTreeMap<(SopId, u32), SopSource>,
    /// The last number given per case id prefix.
    case_numbers: BTreeMap<String, u64>,
    /// Every notification, in the order written (its id is its position + 1).
    notifications: Vec<StoredNotification>,
    /// The directory of people, by id.
    people: BTreeMap<ActorId, Person>,
}

#[derive(Debug)]
struct MemoryCase {
    /// Each event's JSON and its hash in the case's chain.
    events: Vec<(String, String)>,
    summary: CaseSummary,
    lease: Option<(String, DateTime<Utc>)>,
    /// The latest snapshot of its state.
    snapshot: Option<codec::StoredSnapshot>,
    /// Facts kept for reports, with the hash of the last event they were read from.
    facts: Option<(super::KeptFacts, String)>,
    /// Every command applied, with its first event's `seq` and how many events it caused.
    commands: HashMap<CommandId, (u64, u32)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Edits the stored JSON of event `seq` of `case` in place, leaving its hash as it was,
    /// as damage on disk would: for tests of tamper detection. Returns whether the event
    /// exists.
    #[doc(hidden)]
    pub fn tamper_with_event(
        &self,
        case: &CaseId,
        seq: u64,
        edit: impl FnOnce(&mut String),
    ) -> bool {
        let mut inner = self.lock();
        let stored = inner.cases.get_mut(case).and_then(|c| {
            let index = usize::try_from(seq.checked_sub(1)?).ok()?;
            c.events.get_mut(index)
        });
        match stored {
            Some((json, _)) => {
                edit(json);
                true
            }
            None => false,
        }
    }

    /// Edits the stored JSON of a case's snapshot in place, as damage on disk would: for
    /// tests that a damaged snapshot is not trusted. Returns whether the case has one.
    #[doc(hidden)]
    pub fn tamper_with_snapshot(&self, case: &CaseId, edit: impl FnOnce(&mut String)) -> bool {
        let mut inner = self.lock();
        match inner.cases.get_mut(case).and_then(|c| c.snapshot.as_mut()) {
            Some(snapshot) => {
                edit(&mut snapshot.state);
                true
            }
            None => false,
        }
    }

    fn load_whole(&self, case: &CaseId) -> Result<LatestCase, StoreError> {
        let rows: Vec<(String, String)> = match self.lock().cases.get(case) {
            Some(stored) => stored.events.clone(),
            None => return Err(StoreError::NotFound { case: case.clone() }),
        };
        LatestCase::whole(
            case,
            rows.iter()
                .enumerate()
                .map(|(i, (json, hash))| (i as i64 + 1, json, Some(hash))),
        )
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves whole values behind: every change below
        // is made after its checks, in one step.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl CaseStore for MemoryStore {
    async fn append(&self, batch: &Append) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if let Some((sop, version)) = batch.starts_on()
            && !inner.sops.contains_key(&(sop.clone(), version))
            && !inner.cases.contains_key(batch.case())
        {
            return Err(batch.sop_not_found());
        }
        let actual = inner
            .cases
            .get(batch.case())
            .map_or(0, |c| c.events.len() as u64);
        if actual != batch.expected() {
            return Err(StoreError::Conflict {
                case: batch.case().clone(),
                expected: batch.expected(),
                actual,
            });
        }
        let previous = codec::previous_link(
            batch.case(),
            actual,
            inner
                .cases
                .get(batch.case())
                .and_then(|c| c.events.last())
                .map(|(_, hash)| hash.as_str()),
        )?;
        batch.check_pin(&previous)?;
        let commands = batch.commands();
        if let Some(case) = inner.cases.get(batch.case())
            && let Some((applied, _, _)) = commands
                .iter()
                .find(|(id, _, _)| case.commands.contains_key(*id))
        {
            return Err(batch.already_applied(applied));
        }
        let commands = commands
            .into_iter()
            .map(|(id, first, count)| (id.clone(), (first, count)));
        let hashes = codec::chain_all(previous, batch.encoded());
        let snapshot = hashes.last().and_then(|last| batch.snapshot(last));
        let rows = batch.encoded().iter().cloned().zip(hashes);
        let summary = batch.summary().clone();
        for notification in batch.notifications() {
            let id = inner.notifications.len() as u64 + 1;
            inner.notifications.push(StoredNotification {
                id,
                notification: notification.clone(),
                acknowledged_at: None,
            });
        }
        match inner.cases.get_mut(batch.case()) {
            Some(case) => {
                case.events.extend(rows);
                case.summary = summary;
                case.lease = None;
                case.commands.extend(commands);
                if snapshot.is_some() {
                    case.snapshot = snapshot;
                }
            }
            None => {
                inner.cases.insert(
                    batch.case().clone(),
                    MemoryCase {
                        facts: None,
                        events: rows.collect(),
                        summary,
                        lease: None,
                        snapshot,
                        commands: commands.collect(),
                    },
                );
            }
        }
        Ok(())
    }

    async fn command_outcome(
        &self,
        case: &CaseId,
        command: &CommandId,
    ) -> Result<Option<std::ops::RangeInclusive<u64>>, StoreError> {
        Ok(self
            .lock()
            .cases
            .get(case)
            .and_then(|c| c.commands.get(command))
            .map(|&(first, count)| first..=first + u64::from(count) - 1))
    }

    async fn pending_notifications(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let inner = self.lock();
        let from = after.map_or(0, |id| usize::try_from(id).unwrap_or(usize::MAX));
        Ok(inner
            .notifications
            .iter()
            .skip(from)
            .filter(|n| n.acknowledged_at.is_none())
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn case_notifications(
        &self,
        case: &CaseId,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .notifications
            .iter()
            .filter(|n| n.notification.case == *case)
            .cloned()
            .collect())
    }

    async fn acknowledge_notification(
        &self,
        id: u64,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let stored = usize::try_from(id)
            .ok()
            .and_then(|id| id.checked_sub(1))
            .and_then(|index| inner.notifications.get_mut(index))
            .ok_or(StoreError::NotificationNotFound { id })?;
        if stored.acknowledged_at.is_some() {
            return Ok(false);
        }
        stored.acknowledged_at = Some(at);
        Ok(true)
    }

    async fn load(&self, case: &CaseId) -> Result<StoredCase, StoreError> {
        let rows: Vec<(String, String)> = {
            let inner = self.lock();
            match inner.cases.get(case) {
                Some(stored) => stored.events.clone(),
                None => return Err(StoreError::NotFound { case: case.clone() }),
            }
        };
        let events = codec::decode_history(
            case,
            rows.iter()
                .enumerate()
                .map(|(i, (json, hash))| (i as i64 + 1, json, Some(hash))),
        )?;
        let state = CaseState::replay(&events);
        Ok(StoredCase { events, state })
    }

    async fn load_latest(&self, case: &CaseId) -> Result<LatestCase, StoreError> {
        let (snapshot, rows) = {
            let inner = self.lock();
            let Some(stored) = inner.cases.get(case) else {
                return Err(StoreError::NotFound { case: case.clone() });
            };
            let snapshot = stored
                .snapshot
                .clone()
                .filter(|s| s.seq as usize <= stored.events.len());
            // The snapshot's own event and the ones after it; every event without one.
            let from = snapshot.as_ref().map_or(0, |s| s.seq as usize - 1);
            (snapshot, stored.events[from..].to_vec())
        };
        if let Some(snapshot) = &snapshot {
            let first = snapshot.seq as i64;
            let at = rows.first().map(|(_, hash)| hash.as_str());
            let after = rows
                .iter()
                .enumerate()
                .skip(1)
                .map(|(i, (json, hash))| (first + i as i64, json, Some(hash)));
            if let Some(latest) = LatestCase::from_snapshot(case, snapshot, at, after) {
                return latest;
            }
            return self.load_whole(case);
        }
        LatestCase::whole(
            case,
            rows.iter()
                .enumerate()
                .map(|(i, (json, hash))| (i as i64 + 1, json, Some(hash))),
        )
    }

    async fn list(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>, StoreError> {
        let inner = self.lock();
        let limit = filter.limit.map_or(usize::MAX, |l| l as usize);
        Ok(inner
            .cases
            .values()
            .map(|c| &c.summary)
            .filter(|s| filter.matches(s))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn report_page(
        &self,
        filter: &CaseFilter,
        format: u32,
    ) -> Result<Vec<super::ReportCase>, StoreError> {
        let mut page = Vec::new();
        for summary in self.list(filter).await? {
            let current = {
                let inner = self.lock();
                inner.cases.get(&summary.case).and_then(|stored| {
                    let (facts, hash) = stored.facts.as_ref()?;
                    let last = stored.events.last()?;
                    (facts.format == format
                        && facts.seq == stored.events.len() as u64
                        && last.1 == *hash)
                        .then(|| facts.clone())
                })
            };
            page.push(match current {
                Some(facts) => super::ReportCase::Facts { summary, facts },
                None => {
                    let events = self.load(&summary.case).await?.events;
                    super::ReportCase::Events(super::CaseHistory { summary, events })
                }
            });
        }
        Ok(page)
    }

    async fn keep_facts(&self, facts: &[super::KeptFacts]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        for kept in facts {
            let Some(stored) = inner.cases.get_mut(&kept.case) else {
                continue;
            };
            let Some(index) = usize::try_from(kept.seq)
                .ok()
                .and_then(|seq| seq.checked_sub(1))
            else {
                continue;
            };
            let Some((_, hash)) = stored.events.get(index) else {
                continue;
            };
            if stored
                .facts
                .as_ref()
                .is_none_or(|(older, _)| older.seq <= kept.seq)
            {
                stored.facts = Some((kept.clone(), hash.clone()));
            }
        }
        Ok(())
    }

    async fn claim_timers(
        &self,
        now: DateTime<Utc>,
        owner: &str,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<TimerClaim>, StoreError> {
        let mut inner = self.lock();
        let mut due: Vec<(DateTime<Utc>, CaseId)> = inner
            .cases
            .values()
            .filter(|c| c.lease.as_ref().is_none_or(|(_, until)| *until <= now))
            .filter_map(|c| {
                c.summary
                    .next_timer
                    .filter(|t| *t <= now)
                    .map(|t| (t, c.summary.case.clone()))
            })
            .collect();
        due.sort();
        due.truncate(limit as usize);
        let lease_until = now + lease;
        let mut claims = Vec::with_capacity(due.len());
        for (due_at, case) in due {
            if let Some(stored) = inner.cases.get_mut(&case) {
                stored.lease = Some((owner.to_owned(), lease_until));
                claims.push(TimerClaim {
                    case,
                    sop: stored.summary.sop.clone(),
                    sop_version: stored.summary.sop_version,
                    version: stored.summary.version,
                    due_at,
                    owner: owner.to_owned(),
                    lease_until,
                });
            }
        }
        Ok(claims)
    }

    async fn held_timers(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TimerClaim>, StoreError> {
        let inner = self.lock();
        let mut held: Vec<TimerClaim> = inner
            .cases
            .values()
            .filter_map(|c| {
                let due_at = c.summary.next_timer.filter(|t| *t <= now)?;
                let (owner, lease_until) = c.lease.as_ref().filter(|(_, until)| *until > now)?;
                Some(TimerClaim {
                    case: c.summary.case.clone(),
                    sop: c.summary.sop.clone(),
                    sop_version: c.summary.sop_version,
                    version: c.summary.version,
                    due_at,
                    owner: owner.clone(),
                    lease_until: *lease_until,
                })
            })
            .collect();
        held.sort_by(|a, b| (a.due_at, &a.case).cmp(&(b.due_at, &b.case)));
        held.truncate(limit as usize);
        Ok(held)
    }

    async fn release_timer(&self, claim: &TimerClaim) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if let Some(stored) = inner.cases.get_mut(&claim.case)
            && stored
                .lease
                .as_ref()
                .is_some_and(|(owner, until)| *owner == claim.owner && *until == claim.lease_until)
        {
            stored.lease = None;
        }
        Ok(())
    }

    async fn put_sop_source(&self, source: &SopSource) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let key = (source.sop.clone(), source.version);
        match inner.sops.get(&key) {
            Some(stored) => check_same_sop(&stored.text, source),
            None => {
                inner.sops.insert(key, source.clone());
                Ok(())
            }
        }
    }

    async fn sop_source(&self, sop: &SopId, version: u32) -> Result<SopSource, StoreError> {
        self.lock()
            .sops
            .get(&(sop.clone(), version))
            .cloned()
            .ok_or_else(|| StoreError::SopNotFound {
                sop: sop.clone(),
                version,
            })
    }

    async fn allocate_case_id(&self, prefix: &str) -> Result<CaseId, StoreError> {
        let mut inner = self.lock();
        let Inner {
            cases,
            case_numbers,
            ..
        } = &mut *inner;
        let last = case_numbers.entry(prefix.to_owned()).or_insert_with(|| {
            cases
                .keys()
                .filter_map(|case| super::case_number(case, prefix))
                .max()
                .unwrap_or(0)
        });
        *last = last
            .checked_add(1)
            .ok_or_else(|| StoreError::CaseNumbersExhausted {
                prefix: prefix.to_owned(),
            })?;
        Ok(super::numbered_case(prefix, *last))
    }

    async fn put_person(&self, person: &Person) -> Result<(), StoreError> {
        self.lock().people.insert(person.id.clone(), person.clone());
        Ok(())
    }

    async fn person(&self, id: &ActorId) -> Result<Option<Person>, StoreError> {
        Ok(self.lock().people.get(id).cloned())
    }

    async fn people(&self) -> Result<Vec<Person>, StoreError> {
        Ok(self.lock().people.values().cloned().collect())
    }

    async fn sop_versions(&self) -> Result<Vec<(SopId, u32)>, StoreError> {
        Ok(self.lock().sops.keys().cloned().collect())
    }
}
