//! The state of one case: the fold of its events.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use chrono::{DateTime, Utc};

use super::command::FieldValues;
use super::event::{
    Event, EventKind, MigratedTimers, ParentLink, StepRename, SubCaseOutcome, TokenId,
};
use super::ids::{ActorId, CaseId, CommandId};
use crate::model::{RoleId, SopId, StepId};

/// How many events' commands a [`CaseState`] remembers at least: a command is forgotten
/// once its last event is more than one block of this many events behind the block the
/// case is in. A repeated command older than that is recognised by the store.
pub const RECENT_COMMANDS: u64 = 100;

/// From this length on, the performer list is compacted whenever its length reaches a
/// power of two ([`record_performer`]).
const COMPACT_PERFORMERS_FROM: usize = 64;

/// Records that `actor` completed `step`. Once the list holds
/// [`COMPACT_PERFORMERS_FROM`] completions, each time its length reaches a power of two
/// it keeps each (step, actor) pair once, at its latest completion: a case without rework
/// loops never pays for it, a loop cannot grow the state (or its snapshots) without
/// bound, and "who performed it", "who did it last" read the same. The rule depends on
/// the events alone, so a replay and a snapshot agree.
fn record_performer(performers: &mut Vec<(StepId, ActorId)>, pair: (StepId, ActorId)) {
    performers.push(pair);
    let length = performers.len();
    if length >= COMPACT_PERFORMERS_FROM && length.is_power_of_two() {
        let mut kept: Vec<(StepId, ActorId)> = Vec::with_capacity(length);
        for pair in performers.drain(..).rev() {
            if !kept.contains(&pair) {
                kept.push(pair);
            }
        }
        kept.reverse();
        *performers = kept;
    }
}

/// Where a case is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// No event yet: only `start` is accepted.
    NotStarted,
    /// Work is going on.
    Open,
    /// The case reached its end.
    Closed,
    /// The case was cancelled.
    Cancelled,
}

impl CaseStatus {
    /// The status as people read it: `not started`, `open`, `closed`, `cancelled`.
    pub fn words(self) -> &'static str {
        match self {
            CaseStatus::NotStarted => "not started",
            CaseStatus::Open => "open",
            CaseStatus::Closed => "closed",
            CaseStatus::Cancelled => "cancelled",
        }
    }
}

/// An active step: one activation (token) of a task or approval gate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActiveStep {
    /// The step.
    pub step: StepId,
    /// This activation.
    pub token: TokenId,
    /// The item this activation is for, when the step runs once per item (`for_each`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// When it became active.
    pub since: DateTime<Utc>,
    /// Its SLA deadline.
    pub due_at: Option<DateTime<Utc>>,
    /// Its deferred-choice deadline.
    pub timeout_at: Option<DateTime<Utc>>,
    /// Who holds it, once claimed or assigned.
    pub assignee: Option<ActorId>,
    /// The role it was transferred to, replacing the SOP's role.
    pub transferred_to: Option<RoleId>,
    /// On hold until then.
    pub postponed_until: Option<DateTime<Utc>>,
    /// Whether its SLA was breached (and it stayed active).
    pub breached: bool,
    /// Approvers so far (gates).
    pub approvers: Vec<ActorId>,
    /// The rest of its service level: warning, ladder, pausing.
    #[serde(default)]
    pub sla: SlaProgress,
}

/// How far a service level has gone beyond its due time: the warning and the levels of
/// its escalation ladder, and the working time it was held.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SlaProgress {
    /// When whoever holds the work is warned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<DateTime<Utc>>,
    /// Whether the warning was given.
    #[serde(default)]
    pub warned: bool,
    /// When each level of the escalation ladder is reached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<DateTime<Utc>>,
    /// How many levels were reached.
    #[serde(default)]
    pub levels_reached: u32,
    /// Whether pausing the case stops the clock.
    #[serde(default)]
    pub pausable: bool,
    /// Working time the clock was held (paused or postponed), in seconds.
    #[serde(default)]
    pub held_secs: i64,
}

impl SlaProgress {
    /// The next timer of a service level due at `due_at` (breached or not).
    fn next(
        &self,
        due_at: Option<DateTime<Utc>>,
        breached: bool,
    ) -> Option<(DateTime<Utc>, Timer)> {
        if breached {
            return self
                .levels
                .get(self.levels_reached as usize)
                .map(|&at| (at, Timer::Level(self.levels_reached + 1)));
        }
        if !self.warned
            && let Some(warn_at) = self.warn_at
            && due_at.is_none_or(|due| warn_at < due)
        {
            return Some((warn_at, Timer::Warning));
        }
        due_at.map(|at| (at, Timer::Breach))
    }
}

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// Warn whoever holds the work that it is nearly due.
    Warning,
    /// Record the breach of the service level (and move the case, for `on_overdue`).
    Breach,
    /// Reach this level of the escalation ladder (from 1).
    Level(u32),
    /// The deferred-choice timer wins (steps only).
    Timeout,
}

/// A pending timer of a case: when it fires, whose it is (a step's token, or the case's
/// service level), and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingTimer {
    /// When it fires.
    pub at: DateTime<Utc>,
    /// The activation it belongs to, or `None` for the case's service level.
    pub token: Option<TokenId>,
    /// What it does.
    pub timer: Timer,
}

impl ActiveStep {
    /// When the SLA timer fires: the due time, not before the end of a postponement, and
    /// not again once breached.
    pub fn overdue_at(&self) -> Option<DateTime<Utc>> {
        self.due_at.filter(|_| !self.breached).map(|t| self.held(t))
    }

    /// When the deferred-choice timer fires, not before the end of a postponement.
    pub fn timeout_fires_at(&self) -> Option<DateTime<Utc>> {
        self.timeout_at.map(|t| self.held(t))
    }

    /// The step's next timer: its SLA (warning, breach or ladder level) or its
    /// deferred-choice timeout, whichever comes first, not before the end of a
    /// postponement. `paused` says the case is paused: a pausable SLA clock stands still.
    pub fn next_timer(&self, paused: bool) -> Option<(DateTime<Utc>, Timer)> {
        let sla = if paused && self.sla.pausable {
            None
        } else {
            self.sla.next(self.due_at, self.breached)
        };
        let timeout = self.timeout_at.map(|at| (at, Timer::Timeout));
        [sla, timeout]
            .into_iter()
            .flatten()
            .min()
            .map(|(at, timer)| (self.held(at), timer))
    }

    fn held(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        self.postponed_until.map_or(at, |until| at.max(until))
    }
}

/// The service level of the whole case as it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseClock {
    /// When it started (the case's start).
    pub since: DateTime<Utc>,
    /// When the case is overdue.
    pub due_at: Option<DateTime<Utc>>,
    /// Whether it was breached.
    pub breached: bool,
    /// Warning, ladder and pausing.
    pub sla: SlaProgress,
}

impl CaseClock {
    /// The clock's next timer; none while the case is paused, if the clock is pausable.
    pub fn next_timer(&self, paused: bool) -> Option<(DateTime<Utc>, Timer)> {
        if paused && self.sla.pausable {
            return None;
        }
        self.sla.next(self.due_at, self.breached)
    }
}

/// A parallel split waiting for its branches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingJoin {
    /// The split.
    pub split: StepId,
    /// Branches still to arrive.
    pub remaining: u32,
}

/// A task run once per item (`for_each`) waiting for its items to be done: one round of
/// it, as one command started it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingInstances {
    /// The task.
    pub step: StepId,
    /// Items still to be done before the case goes on.
    pub remaining: u32,
    /// The activations of this round still active, one per item.
    pub tokens: Vec<TokenId>,
}

/// A sub-case a call task asked for: started or not yet, running or finished.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SubCase {
    /// The call task.
    pub step: StepId,
    /// The activation of the call task that asked for it.
    pub token: TokenId,
    /// The sub-case's id.
    pub case: CaseId,
    /// The SOP it runs.
    pub sop: SopId,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
    /// The fields it starts with, mapped in from this case.
    #[serde(default, skip_serializing_if = "FieldValues::is_empty")]
    pub fields: FieldValues,
    /// Whether the store recorded that it started.
    #[serde(default)]
    pub started: bool,
    /// How it ended, once this case heard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<SubCaseOutcome>,
}

/// The state of a case, rebuilt by folding its events with [`CaseState::apply`].
///
/// Folding the same events always gives the same state: it is what the engine decides
/// commands against, and what a store rebuilds after loading a case.
///
/// Its serde form is what a store keeps as a snapshot of a case, inside a versioned
/// envelope and beside the hash of the last event it covers; it is not a format of its
/// own, and a deserialized state is only as good as the check that it matches the events.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CaseState {
    case: Option<CaseId>,
    sop: Option<(SopId, u32)>,
    status: Option<CaseStatus>,
    fields: Arc<FieldValues>,
    active: Vec<ActiveStep>,
    joins: Vec<PendingJoin>,
    /// Tasks run per item whose items are not all done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    instances: Vec<PendingInstances>,
    /// Who performed each step, for four-eyes checks, in the order of completion (the most
    /// recent last), compacted as it grows ([`record_performer`]).
    performers: Arc<Vec<(StepId, ActorId)>>,
    /// Steps active when the case was cancelled, or the last step before it closed: what
    /// a reopen brings back.
    resumable: Vec<StepId>,
    /// Events of each recently applied command, as `(first seq, count)`: the commands
    /// whose last event is within [`RECENT_COMMANDS`] events of the latest block start (see
    /// [`CaseState::has_applied`]). Older ones are the store's to remember.
    commands: Arc<FxHashMap<CommandId, (u64, u32)>>,
    next_token: TokenId,
    version: u64,
    started_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    last_event_at: Option<DateTime<Utc>>,
    /// The case's service level, once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Boxed: most cases have no service level of their own, and every command copies
    /// the state it decides on.
    case_clock: Option<Box<CaseClock>>,
    /// Since when the case waits on someone outside (paused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paused_since: Option<DateTime<Utc>>,
    /// The case and call step this sub-case reports to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<ParentLink>,
    /// Sub-cases its call tasks asked for, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sub_cases: Vec<SubCase>,
    /// When this sub-case closed or was cancelled without its parent having been told yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent_due: Option<DateTime<Utc>>,
}

impl CaseState {
    /// The state of a case with no events.
    pub fn new() -> CaseState {
        CaseState::default()
    }

    /// Folds events in order.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> CaseState {
        let mut state = CaseState::new();
        for event in events {
            state.apply(event);
        }
        state
    }

    /// The case's id, once started.
    pub fn case(&self) -> Option<&CaseId> {
        self.case.as_ref()
    }

    /// The SOP id and version the case runs on, once started.
    pub fn sop(&self) -> Option<(&SopId, u32)> {
        self.sop.as_ref().map(|(id, v)| (id, *v))
    }

    /// Where the case is in its life.
    pub fn status(&self) -> CaseStatus {
        self.status.unwrap_or(CaseStatus::NotStarted)
    }

    /// Whether work can still happen.
    pub fn is_open(&self) -> bool {
        self.status() == CaseStatus::Open
    }

    /// The current field values.
    pub fn fields(&self) -> &FieldValues {
        &self.fields
    }

    /// The active steps, oldest activation first. Each is a task or an approval gate:
    /// [`ActiveStep::kind`] says which (and so whether to send `complete` or `approve`);
    /// [`work_items`](super::work_items) gives them with titles, roles and exclusions.
    pub fn active_steps(&self) -> &[ActiveStep] {
        &self.active
    }

    /// The active step `step`, if it is active (its oldest activation, when it is active
    /// more than once).
    pub fn active_step(&self, step: &StepId) -> Option<&ActiveStep> {
        self.active.iter().find(|a| a.step == *step)
    }

    /// Tasks run once per item (`for_each`) that wait for items to be done.
    pub fn pending_instances(&self) -> &[PendingInstances] {
        &self.instances
    }

    /// The round of a task run per item that the activation `token` belongs to.
    pub fn instances_of(&self, token: TokenId) -> Option<&PendingInstances> {
        self.instances.iter().find(|i| i.tokens.contains(&token))
    }

    /// Parallel splits waiting for branches (on a cancelled case: those a reopen resumes).
    pub fn pending_joins(&self) -> &[PendingJoin] {
        &self.joins
    }

    /// Who performed `step`, in any round.
    pub fn performers_of<'a>(&'a self, step: &'a StepId) -> impl Iterator<Item = &'a ActorId> + 'a {
        self.performers
            .iter()
            .filter(move |(s, _)| s == step)
            .map(|(_, a)| a)
    }

    /// Who performed which step, the most recent last.
    pub(crate) fn performers_of_any(&self) -> impl Iterator<Item = (&StepId, &ActorId)> {
        self.performers.iter().map(|(s, a)| (s, a))
    }

    /// Whether `actor` performed `step` (in any round).
    pub fn performed(&self, step: &StepId, actor: &ActorId) -> bool {
        self.performers.iter().any(|(s, a)| s == step && a == actor)
    }

    /// The number of events applied: the version a store appends after.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the case started.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.started_at
    }

    /// When the latest event happened: the engine refuses commands from before it, so a
    /// case's history never runs backwards.
    pub fn last_event_at(&self) -> Option<DateTime<Utc>> {
        self.last_event_at
    }

    /// When the case last closed.
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.closed_at
    }

    /// The events a recently applied command produced, as a range of `seq`s: the earlier
    /// outcome of a repeated command.
    ///
    /// The state remembers only recent commands (see [`CaseState::has_applied`]); a store
    /// remembers every one (`CaseStore::command_outcome`).
    pub fn outcome_of(&self, command: &CommandId) -> Option<std::ops::RangeInclusive<u64>> {
        self.commands
            .get(command)
            .map(|&(first, count)| first..=first + u64::from(count) - 1)
    }

    /// Whether a command id was applied recently: among the commands whose last event
    /// came after the block of [`RECENT_COMMANDS`] events before the current one (so at
    /// least the last [`RECENT_COMMANDS`] events' commands, at most twice as many).
    ///
    /// `false` does not mean the command was never applied: an older one is known to the
    /// store that keeps the case, which refuses to append it again. Keeping only recent
    /// ids keeps the state (and a store's snapshot of it) from growing with the case's
    /// age, while a retry, which comes soon after, is still answered from the state.
    pub fn has_applied(&self, command: &CommandId) -> bool {
        self.commands.contains_key(command)
    }

    /// The earliest pending timer: a warning, SLA deadline, escalation level or
    /// deferred-choice timeout of an active step (postponed steps count from the end of
    /// their hold), or of the case's service level. Pausable clocks of a paused case do
    /// not count.
    pub fn next_timer(&self) -> Option<DateTime<Utc>> {
        self.pending_timers().map(|t| t.at).min()
    }

    /// When the store next has something to do for this case: its [`next_timer`], or
    /// earlier a link between cases still to follow (a sub-case asked for and not yet
    /// recorded as started, or a parent not yet told how this sub-case ended). What a
    /// store's summary row keeps as the case's next timer, so that the next round of the
    /// clock follows a link a crash left half done.
    ///
    /// [`next_timer`]: CaseState::next_timer
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let links = self
            .sub_cases_to_start()
            .map(|s| s.requested_at)
            .chain(self.parent_due);
        self.next_timer().into_iter().chain(links).min()
    }

    /// The case and call step this sub-case reports to, when it is one.
    pub fn parent(&self) -> Option<&ParentLink> {
        self.parent.as_ref()
    }

    /// Every sub-case this case's call tasks asked for, oldest first.
    pub fn sub_cases(&self) -> &[SubCase] {
        &self.sub_cases
    }

    /// Sub-cases asked for by an active call task and not yet recorded as started.
    pub fn sub_cases_to_start(&self) -> impl Iterator<Item = &SubCase> + '_ {
        let open = self.is_open();
        self.sub_cases
            .iter()
            .filter(move |s| open && !s.started && self.active.iter().any(|a| a.token == s.token))
    }

    /// The sub-case the active call task `token` waits for, while it runs.
    pub fn waiting_for(&self, token: TokenId) -> Option<&SubCase> {
        self.sub_cases
            .iter()
            .rev()
            .find(|s| s.token == token)
            .filter(|s| s.outcome.is_none())
    }

    /// When this sub-case ended without its parent having been told yet.
    pub fn parent_due(&self) -> Option<DateTime<Utc>> {
        self.parent_due
    }

    /// Whether a link between cases is left to follow: a sub-case to start, or a parent to
    /// tell how this sub-case ended. Without one, following links would find nothing.
    pub fn has_links_due(&self) -> bool {
        self.parent_due.is_some() || self.sub_cases_to_start().next().is_some()
    }

    /// Every pending timer of an open case, one per active step (its next) and one for the
    /// case's service level: what `tick` fires once its time has come.
    pub fn pending_timers(&self) -> impl Iterator<Item = PendingTimer> + '_ {
        let open = self.is_open();
        let paused = self.is_paused();
        let steps = self
            .active
            .iter()
            .filter(move |_| open)
            .filter_map(move |active| {
                active.next_timer(paused).map(|(at, timer)| PendingTimer {
                    at,
                    token: Some(active.token),
                    timer,
                })
            });
        let case = self
            .case_clock
            .as_ref()
            .filter(|_| open)
            .and_then(|clock| clock.next_timer(paused))
            .map(|(at, timer)| PendingTimer {
                at,
                token: None,
                timer,
            });
        steps.chain(case)
    }

    /// The case's service level, if its SOP has one.
    pub fn case_clock(&self) -> Option<&CaseClock> {
        self.case_clock.as_deref()
    }

    /// Whether the case waits on someone outside: its pausable SLA clocks stand still.
    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// Since when the case is paused.
    pub fn paused_since(&self) -> Option<DateTime<Utc>> {
        self.paused_since
    }

    /// Makes a state read from a snapshot of an older format what a replay gives: format 2
    /// kept the performer of every completion (a replay compacts the list,
    /// [`record_performer`]), format 1 also every command (a replay forgets old ones).
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    pub(crate) fn catch_up_older_snapshot(&mut self) {
        if self.performers.len() >= COMPACT_PERFORMERS_FROM {
            let performers = Arc::make_mut(&mut self.performers);
            for pair in std::mem::take(performers) {
                record_performer(performers, pair);
            }
        }
        self.forget_old_commands();
    }

    /// Forgets the commands a replay to this version would have forgotten: for a state
    /// read from a snapshot written before the state kept recent commands only.
    #[cfg_attr(not(feature = "store"), allow(dead_code))]
    fn forget_old_commands(&mut self) {
        let block_start = (self.version.saturating_sub(1) / RECENT_COMMANDS) * RECENT_COMMANDS + 1;
        if block_start <= RECENT_COMMANDS {
            return;
        }
        let cutoff = block_start - 1 - RECENT_COMMANDS;
        if self
            .commands
            .values()
            .any(|(first, count)| *first + u64::from(*count) - 1 <= cutoff)
        {
            Arc::make_mut(&mut self.commands)
                .retain(|_, (first, count)| *first + u64::from(*count) - 1 > cutoff);
        }
    }

    pub(crate) fn next_token(&self) -> TokenId {
        self.next_token
    }

    pub(crate) fn resumable(&self) -> &[StepId] {
        &self.resumable
    }

    /// Folds one event into the state.
    ///
    /// Events are facts: `apply` never refuses one. An event that does not fit (a
    /// completion of a step that is not active) changes only the version, so a damaged log
    /// still loads and can be inspected.
    pub fn apply(&mut self, event: &Event) {
        let commands = Arc::make_mut(&mut self.commands);
        commands
            .entry(event.command.clone())
            .and_modify(|(_, count)| *count += 1)
            .or_insert((event.seq, 1));
        // At the start of each block, forget the commands that ended before the previous
        // one: a pure function of the events, so a replay and a snapshot agree.
        if event.seq % RECENT_COMMANDS == 1 && event.seq > RECENT_COMMANDS {
            let cutoff = event.seq - 1 - RECENT_COMMANDS;
            commands.retain(|_, (first, count)| *first + u64::from(*count) - 1 > cutoff);
        }
        if let EventKind::StepCompleted { step, .. } = &event.kind {
            record_performer(
                Arc::make_mut(&mut self.performers),
                (step.clone(), event.actor.clone()),
            );
        }
        self.apply_to_flow(event);
    }

    /// Counts an event without folding what it says.
    pub(crate) fn apply_version_only(&mut self, event: &Event) {
        self.version = event.seq.max(self.version + 1);
        self.last_event_at = Some(
            self.last_event_at
                .map_or(event.at, |last| last.max(event.at)),
        );
    }

    /// Folds the part of an event that routing depends on: everything but the command
    /// and performer records. The engine decides a command on a copy of the state kept up
    /// to date this way, which spares copying those records for every command.
    pub(crate) fn apply_to_flow(&mut self, event: &Event) {
        self.apply_version_only(event);
        match &event.kind {
            EventKind::CaseStarted {
                case,
                sop,
                version,
                fields,
                parent,
            } => {
                self.case = Some(case.clone());
                self.sop = Some((sop.clone(), *version));
                self.parent = parent.clone();
                self.status = Some(CaseStatus::Open);
                self.fields = Arc::new(fields.clone());
                self.started_at = Some(event.at);
            }
            EventKind::StepActivated {
                step,
                token,
                item,
                due_at,
                timeout_at,
                warn_at,
                levels,
                pausable,
            } => {
                self.next_token = self.next_token.max(token + 1);
                // An item's activation belongs to the round its step started last, in the
                // same command.
                if item.is_some()
                    && let Some(round) = self.instances.iter_mut().rev().find(|i| i.step == *step)
                {
                    round.tokens.push(*token);
                }
                // Most cases have one active step; a growth by doubling would reserve room
                // for four on every parked case.
                self.active.reserve_exact(1);
                self.active.push(ActiveStep {
                    step: step.clone(),
                    token: *token,
                    item: item.clone(),
                    since: event.at,
                    due_at: *due_at,
                    timeout_at: *timeout_at,
                    assignee: None,
                    transferred_to: None,
                    postponed_until: None,
                    breached: false,
                    approvers: Vec::new(),
                    sla: SlaProgress {
                        warn_at: *warn_at,
                        levels: levels.clone(),
                        pausable: *pausable,
                        ..SlaProgress::default()
                    },
                });
            }
            EventKind::StepAssigned {
                token, assignee, ..
            } => {
                if let Some(active) = self.token_mut(*token) {
                    active.assignee = Some(assignee.clone());
                }
            }
            EventKind::StepTransferred { token, role, .. } => {
                if let Some(active) = self.token_mut(*token) {
                    active.transferred_to = Some(role.clone());
                    active.assignee = None;
                }
            }
            EventKind::StepPostponed {
                token,
                until,
                due_at,
                ..
            } => {
                if let Some(active) = self.token_mut(*token) {
                    active.postponed_until = Some(*until);
                    active.due_at = *due_at;
                }
            }
            EventKind::FieldsUpdated { fields } => {
                for (field, value) in fields {
                    Arc::make_mut(&mut self.fields).insert(field.clone(), value.clone());
                }
            }
            EventKind::StepCompleted { step, token } => {
                if let Some(position) = self.instances.iter().position(|i| i.tokens.contains(token))
                {
                    let round = &mut self.instances[position];
                    round.tokens.retain(|t| t != token);
                    round.remaining = round.remaining.saturating_sub(1);
                    if round.remaining == 0 || round.tokens.is_empty() {
                        self.instances.remove(position);
                    }
                }
                self.finish(*token, step);
            }
            EventKind::ApprovalGranted { token, .. } => {
                if let Some(active) = self.token_mut(*token) {
                    active.approvers.push(event.actor.clone());
                }
            }
            EventKind::GateApproved { step, token }
            | EventKind::GateRejected { step, token, .. }
            | EventKind::StepEscalated { step, token, .. }
            | EventKind::StepCancelled { step, token, .. }
            | EventKind::TimerFired { step, token } => self.finish(*token, step),
            EventKind::SlaBreached {
                step,
                token,
                escalated,
            } => {
                if *escalated {
                    self.finish(*token, step);
                } else if let Some(active) = self.token_mut(*token) {
                    active.breached = true;
                }
            }
            EventKind::BranchesStarted { step, branches, .. } => {
                if *branches > 0 {
                    self.joins.push(PendingJoin {
                        split: step.clone(),
                        remaining: *branches,
                    });
                }
            }
            EventKind::InstancesStarted { step, needed, .. } => {
                if *needed > 0 {
                    self.instances.push(PendingInstances {
                        step: step.clone(),
                        remaining: *needed,
                        tokens: Vec::new(),
                    });
                }
            }
            EventKind::WorkWithdrawn { steps, joins, .. } => {
                for withdrawn in steps {
                    self.active.retain(|a| a.token != withdrawn.token);
                    // A round of a task run per item with no item left waits for nothing.
                    for round in &mut self.instances {
                        round.tokens.retain(|t| *t != withdrawn.token);
                    }
                    self.instances.retain(|round| !round.tokens.is_empty());
                }
                for split in joins {
                    if let Some(position) = self.joins.iter().rposition(|j| j.split == *split) {
                        self.joins.remove(position);
                    }
                }
            }
            EventKind::BranchJoined { split } => {
                if let Some(position) = self.joins.iter().rposition(|j| j.split == *split) {
                    let join = &mut self.joins[position];
                    join.remaining = join.remaining.saturating_sub(1);
                    if join.remaining == 0 {
                        self.joins.remove(position);
                    }
                }
            }
            EventKind::CaseSlaStarted {
                due_at,
                warn_at,
                levels,
                pausable,
            } => {
                self.case_clock = Some(Box::new(CaseClock {
                    since: event.at,
                    due_at: *due_at,
                    breached: false,
                    sla: SlaProgress {
                        warn_at: *warn_at,
                        levels: levels.clone(),
                        pausable: *pausable,
                        ..SlaProgress::default()
                    },
                }));
            }
            EventKind::SlaWarned { token, .. } => {
                if let Some(sla) = self.progress_mut(*token) {
                    sla.warned = true;
                }
            }
            EventKind::CaseSlaBreached => {
                if let Some(clock) = &mut self.case_clock {
                    clock.breached = true;
                }
            }
            EventKind::SlaLevelReached {
                step,
                token,
                level,
                escalated,
                ..
            } => {
                if let Some(sla) = self.progress_mut(*token) {
                    sla.levels_reached = sla.levels_reached.max(*level);
                }
                if let (true, Some(step), Some(token)) = (*escalated, step, token) {
                    self.finish(*token, step);
                }
            }
            EventKind::SlaRescheduled {
                token,
                due_at,
                warn_at,
                levels,
                timeout_at,
                held_secs,
                ..
            } => match token {
                Some(token) => {
                    if let Some(active) = self.token_mut(*token) {
                        active.due_at = *due_at;
                        active.timeout_at = *timeout_at;
                        active.sla.warn_at = *warn_at;
                        active.sla.levels = levels.clone();
                        active.sla.held_secs = *held_secs;
                    }
                }
                None => {
                    if let Some(clock) = &mut self.case_clock {
                        clock.due_at = *due_at;
                        clock.sla.warn_at = *warn_at;
                        clock.sla.levels = levels.clone();
                        clock.sla.held_secs = *held_secs;
                    }
                }
            },
            EventKind::CasePaused { .. } => {
                self.paused_since = Some(event.at);
            }
            EventKind::CaseResumed => {
                self.paused_since = None;
            }
            EventKind::DecisionTaken { .. } | EventKind::NoteAdded { .. } => {}
            EventKind::SubCaseRequested {
                step,
                token,
                case,
                sop,
                fields,
            } => self.sub_cases.push(SubCase {
                step: step.clone(),
                token: *token,
                case: case.clone(),
                sop: sop.clone(),
                requested_at: event.at,
                fields: fields.clone(),
                started: false,
                outcome: None,
            }),
            EventKind::SubCaseStarted { case, .. } => {
                if let Some(sub) = self.sub_cases.iter_mut().rev().find(|s| s.case == *case) {
                    sub.started = true;
                }
            }
            EventKind::SubCaseFinished { case, outcome, .. } => {
                if let Some(sub) = self.sub_cases.iter_mut().rev().find(|s| s.case == *case) {
                    sub.started = true;
                    sub.outcome = Some(*outcome);
                }
            }
            EventKind::ParentInformed { .. } => self.parent_due = None,
            EventKind::CaseClosed => {
                if self.parent.is_some() {
                    self.parent_due = Some(event.at);
                }
                self.status = Some(CaseStatus::Closed);
                self.closed_at = Some(event.at);
                self.active.clear();
                self.joins.clear();
                self.instances.clear();
                // A closed case waits on nobody.
                self.paused_since = None;
            }
            EventKind::CaseCancelled { .. } => {
                if self.parent.is_some() {
                    self.parent_due = Some(event.at);
                }
                self.status = Some(CaseStatus::Cancelled);
                self.closed_at = Some(event.at);
                self.resumable = self.active.drain(..).map(|a| a.step).collect();
                // Pending joins stay: a reopen brings the withdrawn branches back, and
                // their join must still wait for them. A task run per item starts over
                // for every item on reopen, so its count goes.
                self.instances.clear();
            }
            EventKind::CaseReopened { .. } => {
                // The parent hears of the end this case comes to next.
                self.parent_due = None;
                self.status = Some(CaseStatus::Open);
                self.closed_at = None;
            }
            EventKind::CaseMigrated {
                to_version,
                renamed,
                fields,
                timers,
                case_sla,
                ..
            } => self.migrate(*to_version, renamed, fields, timers, case_sla.as_ref()),
            EventKind::TimeCorrected { .. } => {
                // The clock restarts here. Active steps that began "in the future" begin
                // now instead, their timers keeping their distance from the start.
                self.last_event_at = Some(event.at);
                for active in self.active.iter_mut().filter(|a| a.since > event.at) {
                    let shift = active.since - event.at;
                    active.since = event.at;
                    active.due_at = active.due_at.map(|t| t - shift);
                    active.timeout_at = active.timeout_at.map(|t| t - shift);
                    active.sla.warn_at = active.sla.warn_at.map(|t| t - shift);
                    for level in &mut active.sla.levels {
                        *level -= shift;
                    }
                }
                if let Some(clock) = self
                    .case_clock
                    .as_deref_mut()
                    .filter(|c| c.since > event.at)
                {
                    let shift = clock.since - event.at;
                    clock.since = event.at;
                    clock.due_at = clock.due_at.map(|t| t - shift);
                    clock.sla.warn_at = clock.sla.warn_at.map(|t| t - shift);
                    for level in &mut clock.sla.levels {
                        *level -= shift;
                    }
                }
                if let Some(paused) = self.paused_since.filter(|p| *p > event.at) {
                    self.paused_since = Some(paused.min(event.at));
                }
            }
        }
    }

    /// Moves the case onto version `to` of its SOP: old step ids become new ones everywhere
    /// they are kept, and the timers are the new version's.
    fn migrate(
        &mut self,
        to: u32,
        renamed: &[StepRename],
        fields: &FieldValues,
        timers: &[MigratedTimers],
        case_sla: Option<&MigratedTimers>,
    ) {
        if let Some((_, version)) = &mut self.sop {
            *version = to;
        }
        // One lookup per id, never chained: `a → b` and `b → c` in one migration move `a`
        // to `b` and `b` to `c`.
        let rename = |step: &mut StepId| {
            if let Some(r) = renamed.iter().find(|r| r.from == *step) {
                *step = r.to.clone();
            }
        };
        if !renamed.is_empty() {
            for active in &mut self.active {
                rename(&mut active.step);
            }
            for join in &mut self.joins {
                rename(&mut join.split);
            }
            for sub in &mut self.sub_cases {
                rename(&mut sub.step);
            }
            for group in &mut self.instances {
                rename(&mut group.step);
            }
            for step in &mut self.resumable {
                rename(step);
            }
            for (step, _) in Arc::make_mut(&mut self.performers).iter_mut() {
                rename(step);
            }
        }
        for (field, value) in fields {
            Arc::make_mut(&mut self.fields).insert(field.clone(), value.clone());
        }
        for migrated in timers {
            if let Some(active) = migrated.token.and_then(|t| self.token_mut(t)) {
                active.due_at = migrated.due_at;
                active.timeout_at = migrated.timeout_at;
                active.sla.warn_at = migrated.warn_at;
                active.sla.levels = migrated.levels.clone();
                active.sla.pausable = migrated.pausable;
            }
        }
        self.case_clock = match (case_sla, self.case_clock.take(), self.started_at) {
            (None, _, _) => None,
            (Some(new), Some(mut clock), _) => {
                clock.due_at = new.due_at;
                clock.sla.warn_at = new.warn_at;
                clock.sla.levels = new.levels.clone();
                clock.sla.pausable = new.pausable;
                Some(clock)
            }
            (Some(new), None, Some(since)) => Some(Box::new(CaseClock {
                since,
                due_at: new.due_at,
                breached: false,
                sla: SlaProgress {
                    warn_at: new.warn_at,
                    levels: new.levels.clone(),
                    pausable: new.pausable,
                    ..SlaProgress::default()
                },
            })),
            (Some(_), None, None) => None,
        };
    }

    fn token_mut(&mut self, token: TokenId) -> Option<&mut ActiveStep> {
        self.active.iter_mut().find(|a| a.token == token)
    }

    /// The service level of an activation, or of the case (`None`).
    fn progress_mut(&mut self, token: Option<TokenId>) -> Option<&mut SlaProgress> {
        match token {
            Some(token) => self.token_mut(token).map(|a| &mut a.sla),
            None => self.case_clock.as_deref_mut().map(|c| &mut c.sla),
        }
    }

    fn finish(&mut self, token: TokenId, step: &StepId) {
        self.active.retain(|a| a.token != token);
        self.resumable = vec![step.clone()];
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::engine::EVENT_SCHEMA_VERSION;

    /// A case of `n` events: started, then one note per command, except that commands
    /// `c7` and `c150` add two notes each.
    fn history(n: u64) -> Vec<Event> {
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
        let mut commands = vec![0];
        let mut next = 1;
        while (commands.len() as u64) < n {
            commands.push(next);
            if matches!(next, 7 | 150) {
                commands.push(next);
            }
            next += 1;
        }
        commands.truncate(n as usize);
        commands
            .into_iter()
            .enumerate()
            .map(|(i, command)| Event {
                v: EVENT_SCHEMA_VERSION,
                seq: i as u64 + 1,
                at,
                command: CommandId::new(format!("c{command}")),
                actor: ActorId::new("ana"),
                kind: if i == 0 {
                    EventKind::CaseStarted {
                        case: CaseId::from("T-1"),
                        sop: SopId::from_static("hello"),
                        version: 1,
                        fields: FieldValues::new(),
                        parent: None,
                    }
                } else {
                    EventKind::NoteAdded {
                        text: "called back".to_owned(),
                        step: None,
                    }
                },
            })
            .collect()
    }

    #[test]
    fn the_state_remembers_recent_commands_only() {
        let events = history(250);
        let state = CaseState::replay(&events);
        // Block 201–250: commands that ended after event 100 are remembered.
        let last = |id: &str| {
            events
                .iter()
                .rev()
                .find(|e| e.command.as_str() == id)
                .map(|e| e.seq)
        };
        for event in &events {
            let remembered = state.has_applied(&event.command);
            let ended = last(event.command.as_str()).unwrap_or(0);
            assert_eq!(
                remembered,
                ended > 100,
                "{} ending at {ended}",
                event.command
            );
        }
        assert!(state.commands.len() <= 2 * RECENT_COMMANDS as usize);
        // A repeat within the window keeps its whole outcome.
        let c150 = events
            .iter()
            .find(|e| e.command.as_str() == "c150")
            .unwrap();
        assert_eq!(
            state.outcome_of(&CommandId::new("c150")),
            Some(c150.seq..=c150.seq + 1)
        );
    }

    /// A step reworked again and again by the same two people does not grow the state;
    /// who performed a step, and who did it last, read as before; a state from a snapshot
    /// that kept every completion reads as the replay.
    #[test]
    fn rework_does_not_grow_the_performers() {
        let mut events = history(1);
        let at = events[0].at;
        for n in 0..200u64 {
            let (step, actor) = match n % 4 {
                0 | 1 => ("work", if n % 4 == 0 { "ana" } else { "ben" }),
                2 => ("check", "ben"),
                _ => ("work", "ana"),
            };
            events.push(Event {
                v: EVENT_SCHEMA_VERSION,
                seq: n + 2,
                at,
                command: CommandId::new(format!("w{n}")),
                actor: ActorId::new(actor),
                kind: EventKind::StepCompleted {
                    step: StepId::new(step).unwrap(),
                    token: TokenId::default(),
                },
            });
        }
        let mut longest = 0;
        for end in 2..=events.len() {
            longest = longest.max(CaseState::replay(&events[..end]).performers.len());
        }
        assert!(longest < COMPACT_PERFORMERS_FROM, "{longest}");
        let replayed = CaseState::replay(&events);
        let (work, check) = (StepId::new("work").unwrap(), StepId::new("check").unwrap());
        assert_eq!(
            replayed.performers_of(&work).last(),
            Some(&ActorId::new("ana"))
        );
        assert!(replayed.performed(&work, &ActorId::new("ben")));
        assert!(replayed.performed(&check, &ActorId::new("ben")));
        assert!(!replayed.performed(&check, &ActorId::new("ana")));
        // As a format 2 snapshot held it: every completion.
        let mut every = replayed.clone();
        every.performers = Arc::new(
            events
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::StepCompleted { step, .. } => Some((step.clone(), e.actor.clone())),
                    _ => None,
                })
                .collect(),
        );
        assert_ne!(every, replayed);
        every.catch_up_older_snapshot();
        assert_eq!(every, replayed);
    }

    #[test]
    fn an_old_snapshot_forgets_what_a_replay_forgets() {
        for n in [1, 99, 100, 101, 199, 200, 201, 250, 301, 420] {
            let events = history(n);
            let replayed = CaseState::replay(&events);
            // A state that remembers every command, as snapshots of format 1 held.
            let mut everything = replayed.clone();
            let mut all = FxHashMap::default();
            for event in &events {
                all.entry(event.command.clone())
                    .and_modify(|(_, count): &mut (u64, u32)| *count += 1)
                    .or_insert((event.seq, 1));
            }
            everything.commands = Arc::new(all);
            everything.catch_up_older_snapshot();
            assert_eq!(everything, replayed, "after {n} events");
        }
    }
}
