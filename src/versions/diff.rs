//! The comparison itself: two parsed SOP versions in, a list of located changes out.
//!
//! Each section of the document has one function here (`steps`, `routing`, `roles`,
//! `fields`, `service_levels`, `calendars`, `text`), called in [`SECTIONS`] order. A new
//! section of the format gets one more [`Section`], its [`ChangeKind`]s and one more
//! function in that list; nothing else changes.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use crate::model::{
    Approval, CaseSla, EscalationLevel, Field, FieldValue, OrderedMap, RoleId, SopDuration,
    SourceSpan, Spanned, Step, StepId, TimerSpec,
};
use crate::model::{Sop, SopId};

/// Version of the JSON form of a [`SopDiff`]; raised when a field changes meaning.
pub const DIFF_FORMAT: u32 = 1;

/// What changed between two versions of an SOP, every change located in both files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SopDiff {
    /// Version of this record's JSON form ([`DIFF_FORMAT`]).
    pub format: u32,
    /// The SOP's id in the new version.
    pub sop: SopId,
    /// The old version number.
    pub old_version: u32,
    /// The new version number.
    pub new_version: u32,
    /// Every change, grouped by [`Section`] in the order of [`Section::ALL`], then by
    /// where it is in the new file (the old one for what was removed).
    pub changes: Vec<Change>,
    /// What became of every step of the old version, in its document order: the mapping
    /// open cases would follow onto the new version.
    pub steps: Vec<StepMapping>,
}

impl SopDiff {
    /// Whether any change can affect open cases (steps, routing, roles, fields, service
    /// levels, calendars); text-only changes cannot.
    pub fn has_behaviour_changes(&self) -> bool {
        self.changes.iter().any(|c| c.affects_cases)
    }

    /// The changes that can affect open cases.
    pub fn behaviour_changes(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.affects_cases)
    }

    /// The changes that cannot affect open cases: wording, and the order steps are written in.
    pub fn text_changes(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| !c.affects_cases)
    }

    /// Whether the two versions are the same in every respect the diff looks at.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Steps of the old version with no step in the new one: an open case waiting at one
    /// of them has nowhere to go unless a migration plan says where.
    pub fn unmapped_steps(&self) -> impl Iterator<Item = &StepId> {
        self.steps
            .iter()
            .filter(|m| m.new.is_none())
            .map(|m| &m.old)
    }

    /// The new id of an old step, when it has one (same id, or renamed).
    pub fn new_id_of(&self, old: &StepId) -> Option<&StepId> {
        self.steps
            .iter()
            .find(|m| &m.old == old)
            .and_then(|m| m.new.as_ref())
    }
}

/// What became of one step of the old version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepMapping {
    /// The step's id in the old version.
    pub old: StepId,
    /// Its id in the new version; `None` when it was removed.
    pub new: Option<StepId>,
    /// How the two were matched.
    pub matched_by: MatchedBy,
}

/// How an old step was matched with a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchedBy {
    /// The new version has a step with the same id.
    SameId,
    /// A step of the new version says `renamed_from:` this id.
    RenamedFrom,
    /// The new version's `migrate:` plan sends this step's work to a step of its own.
    MigrationPlan,
    /// Nothing matches it: the step was removed.
    Unmatched,
}

/// A line and column in one of the two files (1-based, columns in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Location {
    fn of(span: SourceSpan) -> Option<Location> {
        span.is_known().then_some(Location {
            line: span.line,
            column: span.column,
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One difference between the versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The part of the SOP it is in.
    pub section: Section,
    /// What kind of change it is.
    pub kind: ChangeKind,
    /// Whether it can change what happens to a case (behaviour) or only what people read.
    pub affects_cases: bool,
    /// The step it concerns, by its new id (its old id when it was removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<StepId>,
    /// What changed, in a few words: `step \`receive\``, `field \`priority\``.
    pub subject: String,
    /// The old value, as written or summarised, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The new value, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Where the old value is in the old file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Location>,
    /// Where the new value is in the new file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Location>,
    /// The change as a sentence.
    pub message: String,
}

/// The parts of an SOP a diff groups its changes by, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    /// The SOP's identity.
    Sop,
    /// Steps added, removed, renamed, moved, or turned into another kind of step.
    Steps,
    /// Where a case goes from each step: next, decision arms, approval and rejection
    /// targets, overdue, timeout and escalation paths, parallel branches.
    Routing,
    /// Roles, who performs each task, who approves each gate and what they review.
    Roles,
    /// Case fields and which steps collect them.
    Fields,
    /// Due times, warnings, escalation ladders, pausing, and the case's service level.
    ServiceLevels,
    /// Working-hours calendars and the SOP's default calendar.
    Calendars,
    /// What the SOP is measured by (`kpis:`): reports change, cases do not.
    Kpis,
    /// Titles, instructions, purpose, glossary, descriptions and labels.
    Text,
}

impl Section {
    /// Every section, in the order a diff shows them (text last).
    pub const ALL: [Section; 9] = [
        Section::Sop,
        Section::Steps,
        Section::Routing,
        Section::Roles,
        Section::Fields,
        Section::ServiceLevels,
        Section::Calendars,
        Section::Kpis,
        Section::Text,
    ];

    /// The heading a report shows.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Sop => "SOP",
            Section::Steps => "Steps",
            Section::Routing => "Routing",
            Section::Roles => "Roles",
            Section::Fields => "Fields",
            Section::ServiceLevels => "Service levels",
            Section::Calendars => "Calendars",
            Section::Kpis => "KPIs (cannot affect open cases)",
            Section::Text => "Text only (cannot affect open cases)",
        }
    }
}

/// What kind of change a [`Change`] is. The JSON name is the kebab-case variant
/// (`step-renamed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// The SOP's `id` changed: cases of the old id are not cases of the new one.
    SopIdChanged,
    /// A step exists only in the new version.
    StepAdded,
    /// A step exists only in the old version.
    StepRemoved,
    /// A step says `renamed_from:` an old step's id.
    StepRenamed,
    /// A step is written at another place in the list (routing changes it causes are
    /// listed apart).
    StepMoved,
    /// A task became a gate, a decision or a split, or the other way round.
    StepKindChanged,
    /// A step has a way out it did not have (a decision arm, an escalation path, …).
    RouteAdded,
    /// A step lost a way out.
    RouteRemoved,
    /// A way out of a step leads somewhere else.
    RouteChanged,
    /// A decision arm has another condition (and maybe another target).
    ConditionChanged,
    /// A decision tries the same conditions in another order.
    ArmsReordered,
    /// The `after` timer of a deferred choice runs for another time.
    TimeoutChanged,
    /// A role exists only in the new version.
    RoleAdded,
    /// A role exists only in the old version.
    RoleRemoved,
    /// Another role performs a task.
    PerformerChanged,
    /// Another role approves a gate.
    ApproverChanged,
    /// A gate needs another number of approvals.
    ApprovalCountChanged,
    /// A gate reviews other steps (four eyes).
    ReviewsChanged,
    /// A task ends the case at once, withdrawing other work (`terminate: true`), or no
    /// longer does.
    TerminationChanged,
    /// A parallel split starts its branches under other conditions (`when`), or its join
    /// waits for another number of them (`wait_for`).
    BranchingChanged,
    /// A task runs once per item of another field, or no longer or newly does
    /// (`for_each`), or waits for another number of items (`wait_for`).
    InstancesChanged,
    /// A task calls another SOP, or no longer or newly does, or maps other fields into
    /// the sub-case or back (`call`).
    CallChanged,
    /// A step goes to another person: its `assignee` field, the task whose performer it
    /// goes to (`same_performer_as`), or the tasks it is kept apart from (`separate_from`).
    PeopleChanged,
    /// A field exists only in the new version.
    FieldAdded,
    /// A field exists only in the old version.
    FieldRemoved,
    /// A field has another type.
    FieldTypeChanged,
    /// A choice field offers other options.
    FieldOptionsChanged,
    /// A field became required or optional.
    FieldRequiredChanged,
    /// Other roles may edit a field outside its steps.
    FieldEditorsChanged,
    /// A field's `min` or `max` changed.
    FieldBoundsChanged,
    /// A field starts with another default.
    FieldDefaultChanged,
    /// A step collects other fields.
    CollectsChanged,
    /// A step is due after another time.
    DueChanged,
    /// A step warns at another time before it is due.
    WarningChanged,
    /// A step's escalation ladder has other levels.
    LadderChanged,
    /// Pausing the case stops a step's clock, or no longer does.
    PausableChanged,
    /// A step's timers count in another calendar.
    StepCalendarChanged,
    /// The service level of the whole case changed.
    CaseSlaChanged,
    /// A calendar exists only in the new version.
    CalendarAdded,
    /// A calendar exists only in the old version.
    CalendarRemoved,
    /// A calendar has another zone, other hours or other holidays.
    CalendarChanged,
    /// Timers that name no calendar count in another one.
    DefaultCalendarChanged,
    /// A KPI exists only in the new version.
    KpiAdded,
    /// A KPI exists only in the old version.
    KpiRemoved,
    /// A KPI measures something else, or against another target or goal.
    KpiChanged,
    /// Text people read changed; nothing a case does.
    TextChanged,
}

impl ChangeKind {
    /// The section the change belongs to.
    pub fn section(self) -> Section {
        use ChangeKind::*;
        match self {
            SopIdChanged => Section::Sop,
            StepAdded | StepRemoved | StepRenamed | StepMoved | StepKindChanged => Section::Steps,
            RouteAdded | RouteRemoved | RouteChanged | ConditionChanged | ArmsReordered
            | TimeoutChanged | TerminationChanged | BranchingChanged | InstancesChanged
            | CallChanged => Section::Routing,
            RoleAdded | RoleRemoved | PerformerChanged | ApproverChanged | ApprovalCountChanged
            | ReviewsChanged | PeopleChanged => Section::Roles,
            FieldAdded | FieldRemoved | FieldTypeChanged | FieldOptionsChanged
            | FieldRequiredChanged | FieldEditorsChanged | FieldBoundsChanged
            | FieldDefaultChanged | CollectsChanged => Section::Fields,
            DueChanged | WarningChanged | LadderChanged | PausableChanged | StepCalendarChanged
            | CaseSlaChanged => Section::ServiceLevels,
            CalendarAdded | CalendarRemoved | CalendarChanged | DefaultCalendarChanged => {
                Section::Calendars
            }
            KpiAdded | KpiRemoved | KpiChanged => Section::Kpis,
            TextChanged => Section::Text,
        }
    }

    /// Whether a change of this kind can change what happens to a case. Moving a step in
    /// the list cannot by itself: the routing changes it causes are listed as such.
    pub fn affects_cases(self) -> bool {
        !matches!(
            self,
            ChangeKind::TextChanged
                | ChangeKind::StepMoved
                | ChangeKind::KpiAdded
                | ChangeKind::KpiRemoved
                | ChangeKind::KpiChanged
        )
    }
}

/// One section's comparison.
type SectionDiff = fn(&Pair<'_>, &mut Vec<Change>);

/// The sections, in the order they are compared (the order of the report comes from
/// [`Section::ALL`]). A new section of the format adds its function here.
const SECTIONS: [SectionDiff; 11] = [
    identity,
    steps,
    routing,
    tokens,
    calls,
    roles,
    fields,
    service_levels,
    calendars,
    kpis,
    text,
];

/// Compares two versions of an SOP as parsed.
///
/// Both should compile (see [`crate::versions::Revision::load`]); the diff of an SOP with
/// errors compares what is written. Steps are matched by id, or by `renamed_from:` on the
/// new step; references to a renamed step are compared under its new id, so a rename alone
/// changes no routing.
///
/// ```
/// let old = sopflow::parse::parse_sop("v1.yaml", "
/// id: reset
/// version: 1
/// title: Password reset
/// department: Support
/// roles: { agent: Support agent }
/// steps:
///   - { id: check, title: Check identity, role: agent }
///   - { id: send, title: Send the link, role: agent, end: true }
/// ").unwrap();
/// let new = sopflow::parse::parse_sop("v2.yaml", "
/// id: reset
/// version: 2
/// title: Password reset
/// department: Support
/// roles: { agent: Support agent }
/// steps:
///   - { id: verify, renamed_from: check, title: Verify identity, role: agent, due: 4h }
///   - { id: send, title: Send the link, role: agent, end: true }
/// ").unwrap();
/// let diff = sopflow::versions::diff(&old, &new);
/// let kinds: Vec<&str> = diff.changes.iter().map(|c| c.message.as_str()).collect();
/// assert_eq!(kinds, [
///     "step `check` renamed to `verify`",
///     "step `verify` is now due 4h after it starts (was no due time)",
///     "title of step `verify`: \"Check identity\" → \"Verify identity\"",
/// ]);
/// assert!(diff.has_behaviour_changes());
/// assert_eq!(diff.new_id_of(&"check".parse().unwrap()).map(|s| s.as_str()), Some("verify"));
/// ```
pub fn diff(old: &Sop, new: &Sop) -> SopDiff {
    let pair = Pair::new(old, new);
    let mut changes = Vec::new();
    for section in SECTIONS {
        section(&pair, &mut changes);
    }
    // Stable: within a section and a place, the order each function emitted.
    changes.sort_by_key(|c| {
        let place = c
            .new
            .or(c.old)
            .map_or((u32::MAX, u32::MAX), |l| (l.line, l.column));
        (c.section, place)
    });
    let steps = old
        .steps
        .iter()
        .map(|step| {
            // The new version's `migrate:` plan, when it is from the old version, says
            // where work goes first, as `sop case migrate` reads it.
            let planned = new
                .migrate
                .as_ref()
                .filter(|plan| {
                    plan.from
                        .as_ref()
                        .map_or(new.version.value.saturating_sub(1), |f| f.value)
                        == old.version.value
                })
                .and_then(|plan| plan.steps.get(&step.id.value))
                .map(|target| target.value.clone());
            let (new_id, matched_by) = match (planned, pair.old_to_new.get(&step.id.value)) {
                (Some(target), _) => (Some(target), MatchedBy::MigrationPlan),
                (None, None) => (None, MatchedBy::Unmatched),
                (None, Some(id)) if *id == step.id.value => (Some(id.clone()), MatchedBy::SameId),
                (None, Some(id)) => (Some(id.clone()), MatchedBy::RenamedFrom),
            };
            StepMapping {
                old: step.id.value.clone(),
                new: new_id,
                matched_by,
            }
        })
        .collect();
    SopDiff {
        format: DIFF_FORMAT,
        sop: new.id.value.clone(),
        old_version: old.version.value,
        new_version: new.version.value,
        changes,
        steps,
    }
}

/// The two versions, with their steps matched.
pub(crate) struct Pair<'a> {
    pub(crate) old: &'a Sop,
    pub(crate) new: &'a Sop,
    /// Old step id → new step id, for every old step that has a counterpart.
    pub(crate) old_to_new: HashMap<StepId, StepId>,
    /// Matched steps, in the new version's order: (old, new).
    pub(crate) matched: Vec<(&'a Step, &'a Step)>,
    /// The positions in `steps` of each pair of `matched`: (old, new).
    pub(crate) positions: Vec<(usize, usize)>,
}

impl<'a> Pair<'a> {
    pub(crate) fn new(old: &'a Sop, new: &'a Sop) -> Pair<'a> {
        let old_steps: HashMap<&StepId, (usize, &Step)> = old
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.id.value, (i, s)))
            .collect();
        let renamed: HashSet<&StepId> = new
            .steps
            .iter()
            .filter_map(|s| s.renamed_from.as_ref())
            .filter(|r| old_steps.contains_key(&r.value))
            .map(|r| &r.value)
            .collect();
        let mut old_to_new = HashMap::new();
        let mut matched = Vec::new();
        let mut positions = Vec::new();
        let mut taken: HashSet<&StepId> = HashSet::new();
        for (new_at, step) in new.steps.iter().enumerate() {
            // An explicit rename wins over an old step that happens to share the new id.
            let counterpart = step
                .renamed_from
                .as_ref()
                .and_then(|r| old_steps.get(&r.value))
                .or_else(|| {
                    old_steps
                        .get(&step.id.value)
                        .filter(|_| !renamed.contains(&step.id.value))
                });
            if let Some(&(old_at, old_step)) = counterpart
                && taken.insert(&old_step.id.value)
            {
                old_to_new.insert(old_step.id.value.clone(), step.id.value.clone());
                matched.push((old_step, step));
                positions.push((old_at, new_at));
            }
        }
        Pair {
            old,
            new,
            old_to_new,
            matched,
            positions,
        }
    }

    /// An old step id under the name the new version gives it.
    fn mapped(&self, old: &StepId) -> StepId {
        self.old_to_new
            .get(old)
            .cloned()
            .unwrap_or_else(|| old.clone())
    }
}

fn change(kind: ChangeKind, subject: impl Into<String>, message: impl Into<String>) -> Change {
    Change {
        section: kind.section(),
        kind,
        affects_cases: kind.affects_cases(),
        step: None,
        subject: subject.into(),
        before: None,
        after: None,
        old: None,
        new: None,
        message: message.into(),
    }
}

impl Change {
    fn step(mut self, step: &StepId) -> Change {
        self.step = Some(step.clone());
        self
    }

    fn at(mut self, old: Option<SourceSpan>, new: Option<SourceSpan>) -> Change {
        self.old = old.and_then(Location::of);
        self.new = new.and_then(Location::of);
        self
    }

    fn values(mut self, before: Option<String>, after: Option<String>) -> Change {
        self.before = before;
        self.after = after;
        self
    }
}

fn quoted(id: impl fmt::Display) -> String {
    format!("`{id}`")
}

fn step_subject(id: &StepId) -> String {
    format!("step {}", quoted(id))
}

/// `a`, `b` and `c`, or `none`.
fn list<T: fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items.iter().map(quoted).collect::<Vec<_>>().join(", ")
}

/// `a; b; c` without quotes, or empty: a value for JSON readers. Semicolons, because
/// conditions may hold commas.
fn plain_list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------
// SOP

fn identity(pair: &Pair<'_>, out: &mut Vec<Change>) {
    let (old, new) = (&pair.old.id, &pair.new.id);
    if old.value != new.value {
        out.push(
            change(
                ChangeKind::SopIdChanged,
                "SOP id",
                format!(
                    "the SOP's id is {} (was {}): cases of one are not cases of the other",
                    quoted(&new.value),
                    quoted(&old.value)
                ),
            )
            .at(Some(old.span), Some(new.span))
            .values(Some(old.value.to_string()), Some(new.value.to_string())),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Steps

/// What a step is, from its keys (as the compiler decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Task,
    Gate,
    Decision,
    Split,
}

impl Shape {
    fn of(step: &Step) -> Shape {
        if step.approval.is_some() {
            Shape::Gate
        } else if step.decide.is_some() {
            Shape::Decision
        } else if step.parallel.is_some() {
            Shape::Split
        } else {
            Shape::Task
        }
    }

    fn name(self) -> &'static str {
        match self {
            Shape::Task => "a task",
            Shape::Gate => "an approval gate",
            Shape::Decision => "a decision",
            Shape::Split => "a parallel split",
        }
    }
}

fn steps(pair: &Pair<'_>, out: &mut Vec<Change>) {
    let matched_new: HashSet<&StepId> = pair.matched.iter().map(|(_, n)| &n.id.value).collect();
    for step in &pair.new.steps {
        if !matched_new.contains(&step.id.value) {
            // A `renamed_from` that names no step of the old version: kept from an older
            // revision, or a typo; either way the step is new to this comparison.
            let unmatched_rename = step.renamed_from.as_ref().map_or_else(String::new, |r| {
                format!(
                    "; its `renamed_from: {}` names no step of v{}",
                    r.value, pair.old.version.value
                )
            });
            out.push(
                change(
                    ChangeKind::StepAdded,
                    step_subject(&step.id.value),
                    format!(
                        "step {} added ({}{unmatched_rename})",
                        quoted(&step.id.value),
                        Shape::of(step).name()
                    ),
                )
                .step(&step.id.value)
                .at(None, Some(step.id.span)),
            );
        }
    }
    for step in &pair.old.steps {
        if !pair.old_to_new.contains_key(&step.id.value) {
            out.push(
                change(
                    ChangeKind::StepRemoved,
                    step_subject(&step.id.value),
                    format!(
                        "step {} removed ({})",
                        quoted(&step.id.value),
                        Shape::of(step).name()
                    ),
                )
                .step(&step.id.value)
                .at(Some(step.id.span), None),
            );
        }
    }
    for (old, new) in &pair.matched {
        if old.id.value != new.id.value {
            let span = new.renamed_from.as_ref().map_or(new.id.span, |r| r.span);
            out.push(
                change(
                    ChangeKind::StepRenamed,
                    step_subject(&new.id.value),
                    format!(
                        "step {} renamed to {}",
                        quoted(&old.id.value),
                        quoted(&new.id.value)
                    ),
                )
                .step(&new.id.value)
                .at(Some(old.id.span), Some(span))
                .values(
                    Some(old.id.value.to_string()),
                    Some(new.id.value.to_string()),
                ),
            );
        }
        let (old_shape, new_shape) = (Shape::of(old), Shape::of(new));
        if old_shape != new_shape {
            out.push(
                change(
                    ChangeKind::StepKindChanged,
                    step_subject(&new.id.value),
                    format!(
                        "step {} is now {} (was {})",
                        quoted(&new.id.value),
                        new_shape.name(),
                        old_shape.name()
                    ),
                )
                .step(&new.id.value)
                .at(Some(old.id.span), Some(new.id.span))
                .values(
                    Some(old_shape.name().to_owned()),
                    Some(new_shape.name().to_owned()),
                ),
            );
        }
    }
    moved_steps(pair, out);
}

/// Matched steps written in another order: the fewest steps whose move explains the new
/// order (those outside a longest common subsequence of the two orders).
fn moved_steps(pair: &Pair<'_>, out: &mut Vec<Change>) {
    // Old positions of the matched steps, in the new order.
    let sequence: Vec<usize> = pair.positions.iter().map(|&(old, _)| old).collect();
    let kept = longest_increasing(&sequence);
    for (index, (old, new)) in pair.matched.iter().enumerate() {
        if kept.contains(&index) {
            continue;
        }
        let after = index
            .checked_sub(1)
            .and_then(|i| pair.matched.get(i))
            .map_or_else(
                || "first".to_owned(),
                |(_, n)| format!("after {}", quoted(&n.id.value)),
            );
        out.push(
            change(
                ChangeKind::StepMoved,
                step_subject(&new.id.value),
                format!("step {} moved: now {after}", quoted(&new.id.value)),
            )
            .step(&new.id.value)
            .at(Some(old.id.span), Some(new.id.span)),
        );
    }
}

/// Indices of one longest strictly increasing subsequence of `values` (O(n log n)).
fn longest_increasing(values: &[usize]) -> HashSet<usize> {
    // tails[k]: index of the smallest last value of an increasing run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = vec![None; values.len()];
    for (i, &value) in values.iter().enumerate() {
        let at = tails.partition_point(|&t| values[t] < value);
        previous[i] = at.checked_sub(1).map(|p| tails[p]);
        if at == tails.len() {
            tails.push(i);
        } else {
            tails[at] = i;
        }
    }
    let mut kept = HashSet::new();
    let mut cursor = tails.last().copied();
    while let Some(i) = cursor {
        kept.insert(i);
        cursor = previous[i];
    }
    kept
}

// ---------------------------------------------------------------------------------------
// Routing

/// Why a case leaves a step by a route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum RouteKey {
    /// A task completes (or a step without `approval` continues).
    Next,
    /// A gate is approved.
    Approved,
    /// A gate is rejected.
    Rejected,
    /// The step is overdue and the ladder moves the work.
    Overdue,
    /// The `after` timer wins.
    Timeout,
    /// The performer escalates.
    Escalate,
    /// The step is cancelled on its own (`on_cancel`).
    Cancel,
    /// A decision arm with this condition holds first.
    Arm(String),
    /// No condition held.
    Else,
    /// A parallel branch starts at this step.
    Branch(StepId),
    /// The branches of a split meet and continue.
    Join,
}

impl RouteKey {
    /// How the route to `target` reads in a sentence after the step's id.
    fn describe(&self, target: &Target) -> String {
        match self {
            RouteKey::Next => format!("goes next to {target}"),
            RouteKey::Approved => format!("goes to {target} when approved"),
            RouteKey::Rejected => format!("sends rejections back to {target}"),
            RouteKey::Overdue => format!("moves overdue work to {target}"),
            RouteKey::Timeout => format!("goes to {target} when its `after` timer wins"),
            RouteKey::Escalate => format!("escalates to {target}"),
            RouteKey::Cancel => format!("goes to {target} when cancelled"),
            RouteKey::Arm(condition) => format!("goes to {target} when `{condition}`"),
            RouteKey::Else => format!("goes to {target} when no condition holds"),
            RouteKey::Branch(_) => format!("starts a parallel branch at {target}"),
            RouteKey::Join => format!("joins its branches at {target}"),
        }
    }
}

/// Where a route leads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Step(StepId),
    End,
}

impl Target {
    /// The step id, or `end`: the value a JSON reader compares.
    fn plain(&self) -> String {
        match self {
            Target::Step(id) => id.to_string(),
            Target::End => "end".to_owned(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Step(id) => write!(f, "`{id}`"),
            Target::End => f.write_str("the end"),
        }
    }
}

/// One way out of a step, with the place the key that says so is written.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) key: RouteKey,
    pub(crate) target: Target,
    pub(crate) span: SourceSpan,
}

/// Every way out of the step at `position`, as the compiler reads them: `next`, `end`, or
/// the following step; a gate's approval and rejection; timers, escalation, decision arms,
/// branches and join.
pub(crate) fn routes(sop: &Sop, position: usize) -> Vec<Route> {
    let Some(step) = sop.steps.get(position) else {
        return Vec::new();
    };
    let mut routes = Vec::new();
    let to = |id: &Spanned<StepId>| Target::Step(id.value.clone());
    if let Some(arms) = &step.decide {
        for arm in arms.iter() {
            match (&arm.condition, &arm.goto, &arm.otherwise) {
                (Some(condition), Some(goto), _) => routes.push(Route {
                    key: RouteKey::Arm(condition.value.trim().to_owned()),
                    target: to(goto),
                    span: goto.span,
                }),
                (None, None, Some(otherwise)) => routes.push(Route {
                    key: RouteKey::Else,
                    target: to(otherwise),
                    span: otherwise.span,
                }),
                _ => {}
            }
        }
        return routes;
    }
    if let Some(branches) = &step.parallel {
        for branch in branches.iter() {
            routes.push(Route {
                key: RouteKey::Branch(branch.value.clone()),
                target: to(branch),
                span: branch.span,
            });
        }
        if let Some(join) = &step.join {
            routes.push(Route {
                key: RouteKey::Join,
                target: to(join),
                span: join.span,
            });
        }
        return routes;
    }
    let forward = if step.approval.is_some() {
        RouteKey::Approved
    } else {
        RouteKey::Next
    };
    // `terminate: true` ends the case as `end: true` does, as the compiler reads it.
    let terminate = step.terminate.as_ref().filter(|t| t.value);
    let ends = step.end.as_ref().is_some_and(|e| e.value) || terminate.is_some();
    let continuation = match (&step.next, ends) {
        (Some(next), _) => Some((to(next), next.span)),
        (None, true) => Some((
            Target::End,
            step.end
                .as_ref()
                .filter(|e| e.value)
                .or(terminate)
                .map_or(step.id.span, |e| e.span),
        )),
        (None, false) => sop
            .steps
            .get(position + 1)
            .map(|following| (Target::Step(following.id.value.clone()), step.id.span)),
    };
    if let Some((target, span)) = continuation {
        routes.push(Route {
            key: forward,
            target,
            span,
        });
    }
    if let Some(approval) = &step.approval {
        routes.push(Route {
            key: RouteKey::Rejected,
            target: to(&approval.on_reject),
            span: approval.on_reject.span,
        });
    }
    let overdue = step.on_overdue.as_ref().or_else(|| {
        step.overdue
            .as_ref()
            .and_then(|levels| levels.iter().rev().find_map(|l| l.goto.as_ref()))
    });
    if let Some(target) = overdue {
        routes.push(Route {
            key: RouteKey::Overdue,
            target: to(target),
            span: target.span,
        });
    }
    if let Some(target) = &step.on_timeout {
        routes.push(Route {
            key: RouteKey::Timeout,
            target: to(target),
            span: target.span,
        });
    }
    if let Some(target) = &step.on_escalate {
        routes.push(Route {
            key: RouteKey::Escalate,
            target: to(target),
            span: target.span,
        });
    }
    if let Some(target) = &step.on_cancel {
        routes.push(Route {
            key: RouteKey::Cancel,
            target: to(target),
            span: target.span,
        });
    }
    routes
}

/// The old version's routes of a step, with targets and branch keys under their new ids.
pub(crate) fn mapped_routes(pair: &Pair<'_>, position: usize) -> Vec<Route> {
    let mut routes = routes(pair.old, position);
    for route in &mut routes {
        if let Target::Step(id) = &route.target {
            route.target = Target::Step(pair.mapped(id));
        }
        if let RouteKey::Branch(id) = &route.key {
            route.key = RouteKey::Branch(pair.mapped(id));
        }
    }
    routes
}

fn routing(pair: &Pair<'_>, out: &mut Vec<Change>) {
    for (&(old, new), &(old_at, new_at)) in pair.matched.iter().zip(&pair.positions) {
        let id = &new.id.value;
        let mut before = mapped_routes(pair, old_at);
        let mut after = routes(pair.new, new_at);
        rewritten_conditions(id, &mut before, &mut after, out);
        for route in &after {
            match before.iter().find(|r| r.key == route.key) {
                None => out.push(
                    change(
                        ChangeKind::RouteAdded,
                        step_subject(id),
                        format!("{} now {}", quoted(id), route.key.describe(&route.target)),
                    )
                    .step(id)
                    .at(None, Some(route.span))
                    .values(None, Some(route.target.plain())),
                ),
                Some(was) if was.target != route.target => out.push(
                    change(
                        ChangeKind::RouteChanged,
                        step_subject(id),
                        format!(
                            "{} now {} (was {})",
                            quoted(id),
                            route.key.describe(&route.target),
                            was.target
                        ),
                    )
                    .step(id)
                    .at(Some(was.span), Some(route.span))
                    .values(Some(was.target.plain()), Some(route.target.plain())),
                ),
                Some(_) => {}
            }
        }
        for was in &before {
            if !after.iter().any(|r| r.key == was.key) {
                out.push(
                    change(
                        ChangeKind::RouteRemoved,
                        step_subject(id),
                        format!("{} no longer {}", quoted(id), was.key.describe(&was.target)),
                    )
                    .step(id)
                    .at(Some(was.span), Some(new.id.span))
                    .values(Some(was.target.plain()), None),
                );
            }
        }
        arm_order(old, new, out);
        timeout(old, new, out);
    }
}

/// A decision arm whose condition was rewritten in place (same position among the arms,
/// the old condition gone, the new one not there before) is one change, not an arm removed
/// and another added. Both are taken out of the lists compared afterwards.
fn rewritten_conditions(
    id: &StepId,
    before: &mut Vec<Route>,
    after: &mut Vec<Route>,
    out: &mut Vec<Change>,
) {
    let arms = |routes: &[Route]| -> Vec<usize> {
        routes
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.key, RouteKey::Arm(_)))
            .map(|(i, _)| i)
            .collect()
    };
    let (old_arms, new_arms) = (arms(before), arms(after));
    let mut rewritten = Vec::new();
    for (&o, &n) in old_arms.iter().zip(&new_arms) {
        let gone = !after.iter().any(|r| r.key == before[o].key);
        let fresh = !before.iter().any(|r| r.key == after[n].key);
        if gone && fresh {
            rewritten.push((o, n));
        }
    }
    for &(o, n) in &rewritten {
        let (was, now) = (&before[o], &after[n]);
        let (RouteKey::Arm(old_condition), RouteKey::Arm(new_condition)) = (&was.key, &now.key)
        else {
            continue;
        };
        let target = if was.target == now.target {
            String::new()
        } else {
            format!(", to {} instead of {}", now.target, was.target)
        };
        out.push(
            change(
                ChangeKind::ConditionChanged,
                step_subject(id),
                format!(
                    "{} now {} (was when `{old_condition}`{target})",
                    quoted(id),
                    now.key.describe(&now.target)
                ),
            )
            .step(id)
            .at(Some(was.span), Some(now.span))
            .values(Some(old_condition.clone()), Some(new_condition.clone())),
        );
    }
    let (mut drop_old, mut drop_new): (Vec<usize>, Vec<usize>) = rewritten.into_iter().unzip();
    drop_old.sort_unstable();
    drop_new.sort_unstable();
    for i in drop_old.into_iter().rev() {
        before.remove(i);
    }
    for i in drop_new.into_iter().rev() {
        after.remove(i);
    }
}

/// Conditions both versions try, in each version's order: the same set in another order
/// changes which arm wins when several hold.
fn arm_order(old: &Step, new: &Step, out: &mut Vec<Change>) {
    let conditions = |step: &Step| -> Vec<String> {
        step.decide
            .iter()
            .flat_map(|arms| arms.iter())
            .filter_map(|arm| arm.condition.as_ref().map(|c| c.value.trim().to_owned()))
            .collect()
    };
    let (before, after) = (conditions(old), conditions(new));
    let common_before: Vec<&String> = before.iter().filter(|c| after.contains(c)).collect();
    let common_after: Vec<&String> = after.iter().filter(|c| before.contains(c)).collect();
    if common_before != common_after
        && let (Some(old_arms), Some(new_arms)) = (&old.decide, &new.decide)
    {
        let id = &new.id.value;
        let order = |c: &[&String]| {
            c.iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(
            change(
                ChangeKind::ArmsReordered,
                step_subject(id),
                format!(
                    "{} tries its conditions in another order: {} (was {})",
                    quoted(id),
                    order(&common_after),
                    order(&common_before)
                ),
            )
            .step(id)
            .at(Some(old_arms.span), Some(new_arms.span))
            .values(
                Some(plain_list(&common_before)),
                Some(plain_list(&common_after)),
            ),
        );
    }
}

fn timeout(old: &Step, new: &Step, out: &mut Vec<Change>) {
    let (before, after) = (timer(&old.after), timer(&new.after));
    if before != after {
        let id = &new.id.value;
        out.push(
            change(
                ChangeKind::TimeoutChanged,
                step_subject(id),
                format!(
                    "{}'s `after` timer is {} (was {})",
                    quoted(id),
                    after.as_deref().unwrap_or("gone"),
                    before.as_deref().unwrap_or("none")
                ),
            )
            .step(id)
            .at(
                span_of(&old.after),
                span_of(&new.after).or(Some(new.id.span)),
            )
            .values(before, after),
        );
    }
}

/// How many tokens a matched step runs and waits for: branch conditions and `wait_for` on
/// a split, `for_each` and `wait_for` on a task.
fn tokens(pair: &Pair<'_>, out: &mut Vec<Change>) {
    for (old, new) in &pair.matched {
        let id = &new.id.value;
        let wait_for = |step: &Step| step.wait_for.as_ref().map(|n| n.value);
        if old.parallel.is_some() && new.parallel.is_some() {
            let describe = |step: &Step, mapped: &dyn Fn(&Spanned<StepId>) -> StepId| {
                let mut conditions: Vec<String> = step
                    .when
                    .iter()
                    .map(|(branch, condition)| {
                        format!("{} if {}", quoted(mapped(branch)), condition.value)
                    })
                    .collect();
                conditions.sort();
                let waits = match wait_for(step) {
                    Some(n) => format!("waits for {n} of its branches"),
                    None => "waits for every branch that started".to_owned(),
                };
                if conditions.is_empty() {
                    format!("starts every branch, {waits}")
                } else {
                    format!("starts {}, {waits}", conditions.join("; "))
                }
            };
            let before = describe(old, &|s| pair.mapped(s));
            let after = describe(new, &|s| s.value.clone());
            if before != after {
                let span = |step: &Step| {
                    step.when
                        .keys()
                        .next()
                        .map(|k| k.span)
                        .or(step.wait_for.as_ref().map(|n| n.span))
                        .unwrap_or(step.id.span)
                };
                out.push(
                    change(
                        ChangeKind::BranchingChanged,
                        step_subject(id),
                        format!("{} now {after} (was: {before})", quoted(id)),
                    )
                    .step(id)
                    .at(Some(span(old)), Some(span(new)))
                    .values(Some(before), Some(after)),
                );
            }
        }
        let items = |step: &Step| {
            step.for_each.as_ref().map(|field| match wait_for(step) {
                Some(n) => format!(
                    "once per item of {}, going on after {n}",
                    quoted(&field.value)
                ),
                None => format!("once per item of {}", quoted(&field.value)),
            })
        };
        let (before, after) = (items(old), items(new));
        if before != after {
            let span = |step: &Step| step.for_each.as_ref().map_or(step.id.span, |f| f.span);
            out.push(
                change(
                    ChangeKind::InstancesChanged,
                    step_subject(id),
                    format!(
                        "{} now runs {} (was {})",
                        quoted(id),
                        after.as_deref().unwrap_or("once"),
                        before.as_deref().unwrap_or("once")
                    ),
                )
                .step(id)
                .at(Some(span(old)), Some(span(new)))
                .values(before, after),
            );
        }
    }
}

/// What a matched task calls (`call`): the SOP, and the fields mapped in and back.
fn calls(pair: &Pair<'_>, out: &mut Vec<Change>) {
    let describe = |step: &Step| {
        step.call.as_ref().map(|call| {
            let map = |entries: &crate::model::OrderedMap<
                crate::model::FieldId,
                Spanned<crate::model::FieldId>,
            >| {
                entries
                    .iter()
                    .map(|(target, source)| format!("{} from {}", target.value, source.value))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut text = format!("calls {}", quoted(&call.value.sop.value));
            if !call.value.with.is_empty() {
                text.push_str(&format!(" with {}", map(&call.value.with)));
            }
            if !call.value.returns.is_empty() {
                text.push_str(&format!(", taking back {}", map(&call.value.returns)));
            }
            text
        })
    };
    for (old, new) in &pair.matched {
        let id = &new.id.value;
        let (before, after) = (describe(old), describe(new));
        if before == after {
            continue;
        }
        let span = |step: &Step| step.call.as_ref().map_or(step.id.span, |c| c.span);
        out.push(
            change(
                ChangeKind::CallChanged,
                step_subject(id),
                format!(
                    "{} now {} (was: {})",
                    quoted(id),
                    after.as_deref().unwrap_or("calls no other SOP"),
                    before.as_deref().unwrap_or("calls no other SOP")
                ),
            )
            .step(id)
            .at(Some(span(old)), Some(span(new)))
            .values(before, after),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Roles

fn roles(pair: &Pair<'_>, out: &mut Vec<Change>) {
    map_membership(
        &pair.old.roles,
        &pair.new.roles,
        |id| format!("role `{id}`"),
        (ChangeKind::RoleAdded, ChangeKind::RoleRemoved),
        out,
    );
    for (old, new) in &pair.matched {
        let id = &new.id.value;
        if Shape::of(old) == Shape::Task
            && Shape::of(new) == Shape::Task
            && let (Some(before), Some(after)) = (&old.role, &new.role)
            && before.value != after.value
        {
            out.push(
                change(
                    ChangeKind::PerformerChanged,
                    step_subject(id),
                    format!(
                        "{} is now performed by {} (was {})",
                        quoted(id),
                        quoted(&after.value),
                        quoted(&before.value)
                    ),
                )
                .step(id)
                .at(Some(before.span), Some(after.span))
                .values(
                    Some(before.value.to_string()),
                    Some(after.value.to_string()),
                ),
            );
        }
        if let (Some(before), Some(after)) = (&old.approval, &new.approval) {
            gate(pair, id, before, after, out);
        }
        people(pair, id, old, new, out);
        let terminates = |step: &Step| step.terminate.as_ref().is_some_and(|t| t.value);
        if terminates(old) != terminates(new) {
            let span = |step: &Step| step.terminate.as_ref().map_or(step.id.span, |t| t.span);
            let message = if terminates(new) {
                format!(
                    "{} now ends the case at once, withdrawing all other work",
                    quoted(id)
                )
            } else {
                format!(
                    "{} no longer ends the case at once (other work goes on)",
                    quoted(id)
                )
            };
            out.push(
                change(ChangeKind::TerminationChanged, step_subject(id), message)
                    .step(id)
                    .at(Some(span(old)), Some(span(new)))
                    .values(
                        Some(terminates(old).to_string()),
                        Some(terminates(new).to_string()),
                    ),
            );
        }
    }
}

/// Who a matched step goes to beyond its role.
fn people(pair: &Pair<'_>, id: &StepId, old: &Step, new: &Step, out: &mut Vec<Change>) {
    let describe = |assignee: Option<String>, same: Option<StepId>, apart: &[StepId]| {
        let mut who = match (assignee, same) {
            (Some(field), _) => format!("the person in {}", quoted(field)),
            (None, Some(step)) => format!("whoever performed {}", quoted(step)),
            (None, None) => "anyone of its role".to_owned(),
        };
        if !apart.is_empty() {
            who.push_str(&format!(" except whoever performed {}", list(apart)));
        }
        who
    };
    // Compared as sets: the order `separate_from` lists its steps in means nothing.
    let mut before_apart: Vec<StepId> = old.separate_from.iter().map(|s| pair.mapped(s)).collect();
    let mut after_apart: Vec<StepId> = new.separate_from.iter().map(|s| s.value.clone()).collect();
    before_apart.sort();
    before_apart.dedup();
    after_apart.sort();
    after_apart.dedup();
    let before = describe(
        old.assignee.as_ref().map(|f| f.value.to_string()),
        old.same_performer_as.as_ref().map(|s| pair.mapped(s)),
        &before_apart,
    );
    let after = describe(
        new.assignee.as_ref().map(|f| f.value.to_string()),
        new.same_performer_as.as_ref().map(|s| s.value.clone()),
        &after_apart,
    );
    if before == after {
        return;
    }
    let span = |step: &Step| {
        step.assignee
            .as_ref()
            .map(|s| s.span)
            .or(step.same_performer_as.as_ref().map(|s| s.span))
            .or(step.separate_from.first().map(|s| s.span))
            .unwrap_or(step.id.span)
    };
    out.push(
        change(
            ChangeKind::PeopleChanged,
            step_subject(id),
            format!("{} now goes to {after} (was {before})", quoted(id)),
        )
        .step(id)
        .at(Some(span(old)), Some(span(new)))
        .values(Some(before), Some(after)),
    );
}

fn gate(
    pair: &Pair<'_>,
    id: &StepId,
    before: &Spanned<Approval>,
    after: &Spanned<Approval>,
    out: &mut Vec<Change>,
) {
    // `by: lead` and `by: [lead]` say the same, and so do two orders of one list.
    let approvers = |a: &Approval| {
        let mut roles: Vec<RoleId> = a.approver_roles().into_iter().map(|r| r.value).collect();
        roles.sort();
        roles.dedup();
        roles
    };
    if approvers(before) != approvers(after) {
        let in_words = |a: &Approval| {
            let roles: Vec<String> = a
                .approver_roles()
                .iter()
                .map(|r| quoted(&r.value))
                .collect();
            match roles.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => roles.concat(),
            }
        };
        let as_value = |a: &Approval| {
            let roles: Vec<String> = a
                .approver_roles()
                .iter()
                .map(|r| r.value.to_string())
                .collect();
            roles.join(", ")
        };
        out.push(
            change(
                ChangeKind::ApproverChanged,
                step_subject(id),
                format!(
                    "{} is now approved by {} (was {})",
                    quoted(id),
                    in_words(after),
                    in_words(before)
                ),
            )
            .step(id)
            .at(Some(before.by.span), Some(after.by.span))
            .values(Some(as_value(before)), Some(as_value(after))),
        );
    }
    let count = |a: &Approval| a.count.as_ref().map_or(1, |c| c.value);
    if count(before) != count(after) {
        let span = |a: &Spanned<Approval>| a.count.as_ref().map_or(a.span, |c| c.span);
        out.push(
            change(
                ChangeKind::ApprovalCountChanged,
                step_subject(id),
                format!(
                    "{} now needs {} approval{} (was {})",
                    quoted(id),
                    count(after),
                    if count(after) == 1 { "" } else { "s" },
                    count(before)
                ),
            )
            .step(id)
            .at(Some(span(before)), Some(span(after)))
            .values(
                Some(count(before).to_string()),
                Some(count(after).to_string()),
            ),
        );
    }
    let reviewed_before: Vec<StepId> = before.reviews.iter().map(|r| pair.mapped(r)).collect();
    let reviewed_after: Vec<StepId> = after.reviews.iter().map(|r| r.value.clone()).collect();
    if as_set(&reviewed_before) != as_set(&reviewed_after) {
        let span = |a: &Spanned<Approval>| a.reviews.first().map_or(a.span, |r| r.span);
        out.push(
            change(
                ChangeKind::ReviewsChanged,
                step_subject(id),
                format!(
                    "{} now reviews {} (was {}): their performers may not approve it",
                    quoted(id),
                    list(&reviewed_after),
                    list(&reviewed_before)
                ),
            )
            .step(id)
            .at(Some(span(before)), Some(span(after)))
            .values(
                Some(plain_list(&reviewed_before)),
                Some(plain_list(&reviewed_after)),
            ),
        );
    }
}

fn as_set<T: Eq + std::hash::Hash>(items: &[T]) -> HashSet<&T> {
    items.iter().collect()
}

/// Added and removed keys of a map (roles, fields, calendars, terms).
fn map_membership<K: PartialEq + fmt::Display, V>(
    old: &OrderedMap<K, V>,
    new: &OrderedMap<K, V>,
    subject: impl Fn(&K) -> String,
    (added, removed): (ChangeKind, ChangeKind),
    out: &mut Vec<Change>,
) {
    for key in new.keys() {
        if old.get(&key.value).is_none() {
            let what = subject(&key.value);
            out.push(
                change(added, what.clone(), format!("{what} added"))
                    .at(None, Some(key.span))
                    .values(None, Some(key.value.to_string())),
            );
        }
    }
    for key in old.keys() {
        if new.get(&key.value).is_none() {
            let what = subject(&key.value);
            out.push(
                change(removed, what.clone(), format!("{what} removed"))
                    .at(Some(key.span), None)
                    .values(Some(key.value.to_string()), None),
            );
        }
    }
}

/// The entries of both maps under the same key, with the keys' spans.
fn common_entries<'m, K: PartialEq, V>(
    old: &'m OrderedMap<K, V>,
    new: &'m OrderedMap<K, V>,
) -> Vec<(&'m Spanned<K>, &'m V, &'m Spanned<K>, &'m V)> {
    new.iter()
        .filter_map(|(key, value)| {
            old.iter()
                .find(|(k, _)| k.value == key.value)
                .map(|(old_key, old_value)| (old_key, old_value, key, value))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Fields

fn fields(pair: &Pair<'_>, out: &mut Vec<Change>) {
    map_membership(
        &pair.old.fields,
        &pair.new.fields,
        |id| format!("field `{id}`"),
        (ChangeKind::FieldAdded, ChangeKind::FieldRemoved),
        out,
    );
    for (old_key, old, new_key, new) in common_entries(&pair.old.fields, &pair.new.fields) {
        field(
            old_key.value.as_ref(),
            old_key.span,
            old,
            new_key.span,
            new,
            out,
        );
    }
    for (old, new) in &pair.matched {
        let before: Vec<_> = old.collects.iter().map(|f| f.value.clone()).collect();
        let after: Vec<_> = new.collects.iter().map(|f| f.value.clone()).collect();
        if as_set(&before) != as_set(&after) {
            let id = &new.id.value;
            let span = |s: &Step| s.collects.first().map_or(s.id.span, |f| f.span);
            out.push(
                change(
                    ChangeKind::CollectsChanged,
                    step_subject(id),
                    format!(
                        "{} now collects {} (was {})",
                        quoted(id),
                        list(&after),
                        list(&before)
                    ),
                )
                .step(id)
                .at(Some(span(old)), Some(span(new)))
                .values(Some(plain_list(&before)), Some(plain_list(&after))),
            );
        }
    }
}

fn field(
    id: &str,
    old_span: SourceSpan,
    old: &Field,
    new_span: SourceSpan,
    new: &Field,
    out: &mut Vec<Change>,
) {
    let subject = format!("field `{id}`");
    let mut push = |kind, message: String, spans: (SourceSpan, SourceSpan), values| {
        let (before, after) = values;
        out.push(
            change(kind, subject.clone(), message)
                .at(Some(spans.0), Some(spans.1))
                .values(before, after),
        );
    };
    if old.field_type.value != new.field_type.value {
        push(
            ChangeKind::FieldTypeChanged,
            format!(
                "field `{id}` is now {} (was {})",
                new.field_type.as_str(),
                old.field_type.as_str()
            ),
            (old.field_type.span, new.field_type.span),
            (
                Some(old.field_type.as_str().to_owned()),
                Some(new.field_type.as_str().to_owned()),
            ),
        );
    }
    let options = |f: &Field| -> Vec<String> {
        f.options
            .as_ref()
            .map(|o| o.iter().map(|s| s.value.clone()).collect())
            .unwrap_or_default()
    };
    let (before, after) = (options(old), options(new));
    if before != after {
        let added: Vec<&String> = after.iter().filter(|o| !before.contains(o)).collect();
        let removed: Vec<&String> = before.iter().filter(|o| !after.contains(o)).collect();
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("adds {}", list(&added)));
        }
        if !removed.is_empty() {
            parts.push(format!("drops {}", list(&removed)));
        }
        if parts.is_empty() {
            parts.push("lists its options in another order".to_owned());
        }
        let span = |f: &Field, fallback| f.options.as_ref().map_or(fallback, |o| o.span);
        push(
            ChangeKind::FieldOptionsChanged,
            format!("field `{id}` {}", parts.join(" and ")),
            (span(old, old_span), span(new, new_span)),
            (Some(before.join("; ")), Some(after.join("; "))),
        );
    }
    if old.required != new.required {
        push(
            ChangeKind::FieldRequiredChanged,
            format!(
                "field `{id}` is now {}",
                if new.required { "required" } else { "optional" }
            ),
            (old_span, new_span),
            (
                Some(old.required.to_string()),
                Some(new.required.to_string()),
            ),
        );
    }
    let editors =
        |f: &Field| -> Vec<String> { f.editable_by.iter().map(|r| r.value.to_string()).collect() };
    let (before, after) = (editors(old), editors(new));
    if as_set(&before) != as_set(&after) {
        let span = |f: &Field, fallback| f.editable_by.first().map_or(fallback, |r| r.span);
        push(
            ChangeKind::FieldEditorsChanged,
            format!(
                "field `{id}` is now editable outside its steps by {} (was {})",
                list(&after),
                list(&before)
            ),
            (span(old, old_span), span(new, new_span)),
            (Some(plain_list(&before)), Some(plain_list(&after))),
        );
    }
    let bound = |b: &Option<Spanned<f64>>| b.as_ref().map(|v| v.value.to_string());
    for (name, before, after) in [("min", &old.min, &new.min), ("max", &old.max, &new.max)] {
        if bound(before) != bound(after) {
            push(
                ChangeKind::FieldBoundsChanged,
                format!(
                    "field `{id}` has `{name}` {} (was {})",
                    bound(after).unwrap_or_else(|| "none".to_owned()),
                    bound(before).unwrap_or_else(|| "none".to_owned())
                ),
                (
                    before.as_ref().map_or(old_span, |b| b.span),
                    after.as_ref().map_or(new_span, |b| b.span),
                ),
                (bound(before), bound(after)),
            );
        }
    }
    let default = |f: &Field| f.default.as_ref().map(|d| value_text(&d.value));
    if default(old) != default(new) {
        push(
            ChangeKind::FieldDefaultChanged,
            format!(
                "field `{id}` starts as {} (was {})",
                default(new).unwrap_or_else(|| "empty".to_owned()),
                default(old).unwrap_or_else(|| "empty".to_owned())
            ),
            (
                old.default.as_ref().map_or(old_span, |d| d.span),
                new.default.as_ref().map_or(new_span, |d| d.span),
            ),
            (default(old), default(new)),
        );
    }
}

fn value_text(value: &FieldValue) -> String {
    match value {
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Integer(i) => i.to_string(),
        FieldValue::Number(n) => n.to_string(),
        FieldValue::Text(t) => format!("{t:?}"),
        FieldValue::List(items) => format!("{items:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Service levels

/// A timer as one line: `4h`, `by priority: High 1h, Low 1bd, else 4h`, or
/// `2bd before start_date`.
fn timer_text(spec: &TimerSpec) -> String {
    match spec {
        TimerSpec::Fixed(duration) => duration.to_string(),
        TimerSpec::FromDate { .. } => spec.to_string(),
        TimerSpec::ByField {
            by,
            options,
            otherwise,
        } => {
            let mut parts: Vec<String> = options
                .iter()
                .map(|(option, duration)| format!("{} {}", option.value, duration.value))
                .collect();
            if let Some(otherwise) = otherwise {
                parts.push(format!("else {}", otherwise.value));
            }
            format!("by {}: {}", by.value, parts.join(", "))
        }
    }
}

fn timer(spec: &Option<Spanned<TimerSpec>>) -> Option<String> {
    spec.as_ref().map(|t| timer_text(&t.value))
}

fn span_of<T>(value: &Option<Spanned<T>>) -> Option<SourceSpan> {
    value.as_ref().map(|v| v.span)
}

fn duration_text(value: &Option<Spanned<SopDuration>>) -> Option<String> {
    value.as_ref().map(|d| d.value.to_string())
}

/// A ladder as one line, without the level that moves the work (a route).
fn ladder_text(levels: &[EscalationLevel]) -> Option<String> {
    let parts: Vec<String> = levels
        .iter()
        .filter_map(|level| {
            let notify = level.notify.as_ref()?;
            Some(match &level.after {
                Some(after) => format!("after {} notify `{}`", after.value, notify.value),
                None => format!("notify `{}`", notify.value),
            })
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", then "))
}

fn service_levels(pair: &Pair<'_>, out: &mut Vec<Change>) {
    for (old, new) in &pair.matched {
        let id = &new.id.value;
        let fallback = (Some(old.id.span), Some(new.id.span));
        let mut push = |kind,
                        message: String,
                        spans: (Option<SourceSpan>, Option<SourceSpan>),
                        values: (Option<String>, Option<String>)| {
            out.push(
                change(kind, step_subject(id), message)
                    .step(id)
                    .at(spans.0.or(fallback.0), spans.1.or(fallback.1))
                    .values(values.0, values.1),
            );
        };
        let (before, after) = (timer(&old.due), timer(&new.due));
        if before != after {
            push(
                ChangeKind::DueChanged,
                format!(
                    "step {} is now {} (was {})",
                    quoted(id),
                    after.as_ref().map_or_else(
                        || "without a due time".to_owned(),
                        |a| match new.due.as_ref().map(|d| &d.value) {
                            Some(TimerSpec::FromDate { .. }) => format!("due {a}"),
                            _ => format!("due {a} after it starts"),
                        }
                    ),
                    before
                        .as_deref()
                        .map_or_else(|| "no due time".to_owned(), |b| format!("due {b}"))
                ),
                (span_of(&old.due), span_of(&new.due)),
                (before, after),
            );
        }
        let (before, after) = (duration_text(&old.warn), duration_text(&new.warn));
        if before != after {
            push(
                ChangeKind::WarningChanged,
                format!(
                    "step {} now warns {} (was {})",
                    quoted(id),
                    after
                        .as_deref()
                        .map_or_else(|| "never".to_owned(), |a| format!("{a} before it is due")),
                    before.as_deref().unwrap_or("never")
                ),
                (span_of(&old.warn), span_of(&new.warn)),
                (before, after),
            );
        }
        let ladder = |s: &Step| s.overdue.as_ref().and_then(|l| ladder_text(&l.value));
        let (before, after) = (ladder(old), ladder(new));
        if before != after {
            push(
                ChangeKind::LadderChanged,
                format!(
                    "step {}'s escalation ladder is now {} (was {})",
                    quoted(id),
                    after.as_deref().unwrap_or("empty"),
                    before.as_deref().unwrap_or("empty")
                ),
                (span_of(&old.overdue), span_of(&new.overdue)),
                (before, after),
            );
        }
        let pausable = |s: &Step| s.pausable.as_ref().is_some_and(|p| p.value);
        if pausable(old) != pausable(new) {
            push(
                ChangeKind::PausableChanged,
                format!(
                    "pausing the case {} step {}'s clock",
                    if pausable(new) {
                        "now stops"
                    } else {
                        "no longer stops"
                    },
                    quoted(id)
                ),
                (span_of(&old.pausable), span_of(&new.pausable)),
                (
                    Some(pausable(old).to_string()),
                    Some(pausable(new).to_string()),
                ),
            );
        }
        let calendar = |s: &Step| s.calendar.as_ref().map(|c| c.value.to_string());
        if calendar(old) != calendar(new) {
            push(
                ChangeKind::StepCalendarChanged,
                format!(
                    "step {}'s timers now count in {} (was {})",
                    quoted(id),
                    calendar(new).map_or_else(|| "the SOP's calendar".to_owned(), quoted),
                    calendar(old).map_or_else(|| "the SOP's calendar".to_owned(), quoted)
                ),
                (span_of(&old.calendar), span_of(&new.calendar)),
                (calendar(old), calendar(new)),
            );
        }
    }
    case_sla(pair.old.sla.as_ref(), pair.new.sla.as_ref(), pair, out);
}

fn case_sla(old: Option<&CaseSla>, new: Option<&CaseSla>, pair: &Pair<'_>, out: &mut Vec<Change>) {
    let subject = "case SLA";
    let span = |sla: Option<&CaseSla>| sla.map(|s| s.resolve_within.span);
    let whole = |sla: Option<&CaseSla>| sla.map(|s| timer_text(&s.resolve_within.value));
    let mut push = |message: String,
                    spans: (Option<SourceSpan>, Option<SourceSpan>),
                    values: (Option<String>, Option<String>)| {
        out.push(
            change(ChangeKind::CaseSlaChanged, subject, message)
                .at(
                    spans.0.or(span(old)).or(Some(pair.old.title.span)),
                    spans.1.or(span(new)).or(Some(pair.new.title.span)),
                )
                .values(values.0, values.1),
        );
    };
    match (old, new) {
        (None, None) => {}
        (None, Some(_)) => push(
            format!(
                "cases must now be resolved within {}",
                whole(new).unwrap_or_default()
            ),
            (None, span(new)),
            (None, whole(new)),
        ),
        (Some(_), None) => push(
            format!(
                "cases no longer have a service level (was resolved within {})",
                whole(old).unwrap_or_default()
            ),
            (span(old), None),
            (whole(old), None),
        ),
        (Some(before), Some(after)) => {
            if whole(old) != whole(new) {
                push(
                    format!(
                        "cases must now be resolved within {} (was {})",
                        whole(new).unwrap_or_default(),
                        whole(old).unwrap_or_default()
                    ),
                    (span(old), span(new)),
                    (whole(old), whole(new)),
                );
            }
            let (b, a) = (duration_text(&before.warn), duration_text(&after.warn));
            if b != a {
                push(
                    format!(
                        "the case SLA now warns {} before it is due (was {})",
                        a.as_deref().unwrap_or("never"),
                        b.as_deref().unwrap_or("never")
                    ),
                    (span_of(&before.warn), span_of(&after.warn)),
                    (b, a),
                );
            }
            let (b, a) = (ladder_text(&before.overdue), ladder_text(&after.overdue));
            if b != a {
                push(
                    format!(
                        "a breached case SLA now means {} (was {})",
                        a.as_deref().unwrap_or("nothing more"),
                        b.as_deref().unwrap_or("nothing more")
                    ),
                    (None, None),
                    (b, a),
                );
            }
            let pausable = |s: &CaseSla| s.pausable.as_ref().is_some_and(|p| p.value);
            if pausable(before) != pausable(after) {
                push(
                    format!(
                        "pausing the case {} the case SLA's clock",
                        if pausable(after) {
                            "now stops"
                        } else {
                            "no longer stops"
                        }
                    ),
                    (span_of(&before.pausable), span_of(&after.pausable)),
                    (
                        Some(pausable(before).to_string()),
                        Some(pausable(after).to_string()),
                    ),
                );
            }
            let calendar = |s: &CaseSla| s.calendar.as_ref().map(|c| c.value.to_string());
            if calendar(before) != calendar(after) {
                push(
                    format!(
                        "the case SLA now counts in {} (was {})",
                        calendar(after).map_or_else(|| "the SOP's calendar".to_owned(), quoted),
                        calendar(before).map_or_else(|| "the SOP's calendar".to_owned(), quoted)
                    ),
                    (span_of(&before.calendar), span_of(&after.calendar)),
                    (calendar(before), calendar(after)),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Calendars

/// KPIs added, removed, or measuring something else. A KPI is compared as written, without
/// its title (a renamed KPI is a text change people see in reports, not a new measure).
fn kpis(pair: &Pair<'_>, out: &mut Vec<Change>) {
    let (old, new) = (pair.old, pair.new);
    map_membership(
        &old.kpis,
        &new.kpis,
        |id| format!("KPI `{id}`"),
        (ChangeKind::KpiAdded, ChangeKind::KpiRemoved),
        out,
    );
    // Each KPI as its keys and values, without its title.
    let measure = |kpi: &crate::model::Kpi| -> Vec<(String, String)> {
        let value = serde_json::to_value(kpi).unwrap_or_default();
        let mut keys: Vec<(String, String)> = value
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, value)| *key != "title" && !value.is_null())
            .map(|(key, value)| (key.clone(), compact(value)))
            .collect();
        keys.sort();
        keys
    };
    for (old_key, before, new_key, after) in common_entries(&old.kpis, &new.kpis) {
        let title = |kpi: &crate::model::Kpi| kpi.title.as_ref().map(|t| t.value.clone());
        if title(before) != title(after) {
            let subject = format!("KPI `{}`", new_key.value);
            let shown =
                |t: Option<String>| t.map_or_else(|| "none".to_owned(), |t| format!("\"{t}\""));
            out.push(
                change(
                    ChangeKind::TextChanged,
                    subject.clone(),
                    format!(
                        "title of {subject}: {} → {}",
                        shown(title(before)),
                        shown(title(after))
                    ),
                )
                .at(
                    Some(before.title.as_ref().map_or(old_key.span, |t| t.span)),
                    Some(after.title.as_ref().map_or(new_key.span, |t| t.span)),
                )
                .values(title(before), title(after)),
            );
        }
        let (was, now) = (measure(before), measure(after));
        if was == now {
            continue;
        }
        let value_of = |keys: &[(String, String)], key: &str| {
            keys.iter()
                .find(|(k, _)| k == key)
                .map_or_else(|| "none".to_owned(), |(_, v)| v.clone())
        };
        let mut names: Vec<&String> = was.iter().chain(&now).map(|(k, _)| k).collect();
        names.sort();
        names.dedup();
        let differences: Vec<String> = names
            .into_iter()
            .filter(|key| value_of(&was, key) != value_of(&now, key))
            .map(|key| {
                format!(
                    "{key} {} (was {})",
                    value_of(&now, key),
                    value_of(&was, key)
                )
            })
            .collect();
        let subject = format!("KPI `{}`", new_key.value);
        let flat = |keys: &[(String, String)]| {
            keys.iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(
            change(
                ChangeKind::KpiChanged,
                subject.clone(),
                format!("{subject}: {}", differences.join(", ")),
            )
            .at(Some(old_key.span), Some(new_key.span))
            .values(Some(flat(&was)), Some(flat(&now))),
        );
    }
}

/// A KPI value as written: strings bare, mappings as `{ key: value }`.
fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}: {}", compact(v)))
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        serde_json::Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(compact).collect();
            format!("[{}]", inner.join(", "))
        }
        other => other.to_string(),
    }
}

fn calendars(pair: &Pair<'_>, out: &mut Vec<Change>) {
    let (old, new) = (pair.old, pair.new);
    map_membership(
        &old.calendars,
        &new.calendars,
        |id| format!("calendar `{id}`"),
        (ChangeKind::CalendarAdded, ChangeKind::CalendarRemoved),
        out,
    );
    for (old_key, before, new_key, after) in common_entries(&old.calendars, &new.calendars) {
        let subject = format!("calendar `{}`", new_key.value);
        let mut push =
            |message: String, spans: (SourceSpan, SourceSpan), values: (String, String)| {
                out.push(
                    change(ChangeKind::CalendarChanged, subject.clone(), message)
                        .at(Some(spans.0), Some(spans.1))
                        .values(Some(values.0), Some(values.1)),
                );
            };
        if before.zone.value != after.zone.value {
            push(
                format!(
                    "{subject} is now in {} (was {})",
                    after.zone.value, before.zone.value
                ),
                (before.zone.span, after.zone.span),
                (before.zone.value.clone(), after.zone.value.clone()),
            );
        }
        let hours = |c: &crate::model::CalendarSpec| -> String {
            c.hours
                .iter()
                .map(|(day, intervals)| {
                    let intervals: Vec<&str> = intervals.iter().map(|i| i.value.as_str()).collect();
                    format!("{} {}", day.value, intervals.join(" "))
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        if hours(before) != hours(after) {
            let span = |c: &crate::model::CalendarSpec, fallback| {
                c.hours.keys().next().map_or(fallback, |k| k.span)
            };
            push(
                format!(
                    "{subject} has working hours {} (was {})",
                    hours(after),
                    hours(before)
                ),
                (span(before, old_key.span), span(after, new_key.span)),
                (hours(before), hours(after)),
            );
        }
        let holidays = |c: &crate::model::CalendarSpec| -> Vec<String> {
            c.holidays.iter().map(|h| h.value.clone()).collect()
        };
        let (b, a) = (holidays(before), holidays(after));
        if as_set(&b) != as_set(&a) {
            let added: Vec<&String> = a.iter().filter(|h| !b.contains(h)).collect();
            let removed: Vec<&String> = b.iter().filter(|h| !a.contains(h)).collect();
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("adds holidays {}", list(&added)));
            }
            if !removed.is_empty() {
                parts.push(format!("drops holidays {}", list(&removed)));
            }
            let span = |c: &crate::model::CalendarSpec, fallback| {
                c.holidays.first().map_or(fallback, |h| h.span)
            };
            push(
                format!("{subject} {}", parts.join(" and ")),
                (span(before, old_key.span), span(after, new_key.span)),
                (b.join("; "), a.join("; ")),
            );
        }
    }
    let default = |sop: &Sop| sop.calendar.as_ref().map(|c| c.value.to_string());
    if default(old) != default(new) {
        out.push(
            change(
                ChangeKind::DefaultCalendarChanged,
                "default calendar",
                format!(
                    "timers that name no calendar now count in {} (was {})",
                    default(new).map_or_else(|| "round-the-clock UTC".to_owned(), quoted),
                    default(old).map_or_else(|| "round-the-clock UTC".to_owned(), quoted)
                ),
            )
            .at(
                Some(span_of(&old.calendar).unwrap_or(old.title.span)),
                Some(span_of(&new.calendar).unwrap_or(new.title.span)),
            )
            .values(default(old), default(new)),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Text

/// Longest excerpt shown of a text, in characters.
const EXCERPT: usize = 60;

/// Text on one line, shortened for a report; the full texts are in `before`/`after`.
fn excerpt(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    shorten(&words, false)
}

/// `words` joined, cut after [`EXCERPT`] characters, quoted, with `…` where text was left
/// out (`cut_before`: some words came before these).
fn shorten(words: &[&str], cut_before: bool) -> String {
    let one_line = words.join(" ");
    let mut shown: String = one_line.chars().take(EXCERPT).collect();
    let cut_after = shown.len() < one_line.len();
    if cut_after {
        shown.push('…');
    }
    format!("\"{}{shown}\"", if cut_before { "…" } else { "" })
}

/// The part of two texts that differs, with a few words of context, each shortened: two
/// long instructions that differ in one sentence show that sentence.
fn differing_excerpts(before: &str, after: &str) -> (String, String) {
    const CONTEXT: usize = 3;
    let (old, new): (Vec<&str>, Vec<&str>) = (
        before.split_whitespace().collect(),
        after.split_whitespace().collect(),
    );
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let start = prefix.saturating_sub(CONTEXT);
    let from_start = |words: &[&str]| shorten(&words[start.min(words.len())..], start > 0);
    (from_start(&old), from_start(&new))
}

fn text_change(
    subject: String,
    step: Option<&StepId>,
    old: Option<&Spanned<String>>,
    new: Option<&Spanned<String>>,
    fallback: (Option<SourceSpan>, Option<SourceSpan>),
    out: &mut Vec<Change>,
) {
    let normalise = |t: Option<&Spanned<String>>| t.map(|t| t.value.trim().to_owned());
    let (before, after) = (normalise(old), normalise(new));
    if before == after {
        return;
    }
    let message = match (&before, &after) {
        (Some(b), Some(a)) => {
            let (b, a) = differing_excerpts(b, a);
            format!("{subject}: {b} → {a}")
        }
        (None, Some(a)) => format!("{subject} added: {}", excerpt(a)),
        (Some(b), None) => format!("{subject} removed (was {})", excerpt(b)),
        (None, None) => return,
    };
    let mut c = change(ChangeKind::TextChanged, subject, message)
        .at(
            old.map(|t| t.span).or(fallback.0),
            new.map(|t| t.span).or(fallback.1),
        )
        .values(before, after);
    if let Some(step) = step {
        c = c.step(step);
    }
    out.push(c);
}

fn text(pair: &Pair<'_>, out: &mut Vec<Change>) {
    let (old, new) = (pair.old, pair.new);
    let top = (Some(old.title.span), Some(new.title.span));
    text_change(
        "title".to_owned(),
        None,
        Some(&old.title),
        Some(&new.title),
        top,
        out,
    );
    text_change(
        "department".to_owned(),
        None,
        Some(&old.department),
        Some(&new.department),
        top,
        out,
    );
    text_change(
        "purpose".to_owned(),
        None,
        old.purpose.as_ref(),
        new.purpose.as_ref(),
        top,
        out,
    );
    for (term, definition) in new.terms.iter() {
        let before = old.terms.iter().find(|(k, _)| k.value == term.value);
        text_change(
            format!("term {:?}", term.value.0),
            None,
            before.map(|(_, d)| d),
            Some(definition),
            (before.map(|(k, _)| k.span), Some(term.span)),
            out,
        );
    }
    for (term, definition) in old.terms.iter() {
        if new.terms.get(&term.value).is_none() {
            text_change(
                format!("term {:?}", term.value.0),
                None,
                Some(definition),
                None,
                (Some(term.span), None),
                out,
            );
        }
    }
    for (old_key, before, new_key, after) in common_entries(&old.roles, &new.roles) {
        text_change(
            format!("description of role `{}`", new_key.value),
            None,
            Some(before),
            Some(after),
            (Some(old_key.span), Some(new_key.span)),
            out,
        );
    }
    for (old_key, before, new_key, after) in common_entries(&old.fields, &new.fields) {
        text_change(
            format!("label of field `{}`", new_key.value),
            None,
            before.label.as_ref(),
            after.label.as_ref(),
            (Some(old_key.span), Some(new_key.span)),
            out,
        );
    }
    for (before, after) in &pair.matched {
        let id = &after.id.value;
        let spans = (Some(before.id.span), Some(after.id.span));
        text_change(
            format!("title of step `{id}`"),
            Some(id),
            before.title.as_ref(),
            after.title.as_ref(),
            spans,
            out,
        );
        text_change(
            format!("instructions of step `{id}`"),
            Some(id),
            before.instructions.as_ref(),
            after.instructions.as_ref(),
            spans,
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_increasing_keeps_the_most_steps_in_place() {
        let kept = longest_increasing(&[0, 1, 4, 2, 3]);
        assert_eq!(kept, HashSet::from([0, 1, 3, 4]));
        assert!(longest_increasing(&[]).is_empty());
        assert_eq!(longest_increasing(&[2, 1, 0]).len(), 1);
    }
}
