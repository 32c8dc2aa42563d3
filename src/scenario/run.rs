//! Runs scenarios on fresh cases with a virtual clock.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::engine::{
    self, Action, Actor, CaseId, CaseState, CaseStatus, Command, CommandError, Event, EventKind,
    FieldValues, Notification, NotificationKind, Recipient, SubCaseOutcome,
};
use crate::graph::Process;
use crate::model::{FieldId, FieldValue, OrderedMap, RoleId, SourceSpan, Spanned, StepId};

use super::{Expect, Scenario, ScenarioFile, ScenarioStep};

/// When a scenario's case starts unless it says `at`: Monday 5 January 2026, 09:00 UTC.
pub const DEFAULT_START: &str = "2026-01-05T09:00:00Z";

/// The actor that fires timers while the clock moves, as the store's timer worker does.
const CLOCK_ACTOR: &str = "sopflow-timer";

/// How one scenario ran.
#[derive(Debug, Clone)]
pub struct ScenarioOutcome {
    /// The scenario's name.
    pub name: String,
    /// Where the scenario's name is written.
    pub span: SourceSpan,
    /// The first thing that went otherwise than written; `None` when it passed. A scenario
    /// stops at its first failure.
    pub failure: Option<Failure>,
    /// Every event of its case, for coverage and charts.
    pub events: Vec<Event>,
}

impl ScenarioOutcome {
    /// Whether the scenario passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// Why a scenario failed, at the place in the scenario file that says what should have
/// happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The expectation or step that did not hold.
    pub span: SourceSpan,
    /// What went wrong, as a sentence.
    pub message: String,
    /// What the scenario expected, when it is a value.
    pub expected: Option<String>,
    /// What the case had instead.
    pub found: Option<String>,
    /// A line per difference of two lists: `+ x` expected but missing, `- y` there but not
    /// expected.
    pub diff: Vec<String>,
}

impl Failure {
    /// The failure as a diagnostic ([`Code::ScenarioFailed`](crate::diagnostic::Code)) at
    /// its place in the scenario file, with what was expected and found as its help, to
    /// render like any other (human, JSON, GitHub annotations).
    pub fn to_diagnostic(&self) -> crate::diagnostic::Diagnostic {
        let diagnostic = crate::diagnostic::Diagnostic::new(
            crate::diagnostic::Code::ScenarioFailed,
            self.span,
            self.message.clone(),
        );
        let mut help = Vec::new();
        if let Some(expected) = &self.expected {
            help.push(format!("expected: {expected}"));
        }
        if let Some(found) = &self.found {
            help.push(format!("found:    {found}"));
        }
        help.extend(self.diff.iter().cloned());
        if help.is_empty() {
            diagnostic
        } else {
            diagnostic.with_help(help.join("\n"))
        }
    }

    fn new(span: SourceSpan, message: impl Into<String>) -> Failure {
        Failure {
            span,
            message: message.into(),
            expected: None,
            found: None,
            diff: Vec::new(),
        }
    }
}

/// Runs every scenario of `file` on a fresh case of `process`, in order. Pure and
/// deterministic: time is the virtual clock of each scenario, never the machine's.
///
/// Run [`check`](super::check) first: a name the SOP does not know is reported there
/// with "did you mean"; here it only fails its scenario.
pub fn run(process: &Process, file: &ScenarioFile) -> Vec<ScenarioOutcome> {
    let actors: Vec<Actor> = file
        .actors
        .iter()
        .map(|(name, roles)| {
            Actor::new(
                name.value.clone(),
                roles
                    .iter()
                    .filter_map(|r| RoleId::new(r.value.clone()).ok()),
            )
        })
        .collect();
    file.scenarios
        .iter()
        .enumerate()
        .map(|(index, scenario)| {
            let mut runner = Runner {
                process,
                actors: &actors,
                case: CaseState::new(),
                events: Vec::new(),
                unseen: Vec::new(),
                now: DateTime::<Utc>::MIN_UTC,
                commands: 0,
            };
            let failure = runner.scenario(index, scenario).err();
            ScenarioOutcome {
                name: scenario.name.value.clone(),
                span: scenario.name.span,
                failure,
                events: runner.events,
            }
        })
        .collect()
}

struct Runner<'a> {
    process: &'a Process,
    actors: &'a [Actor],
    case: CaseState,
    events: Vec<Event>,
    /// Notifications since the previous `expect`.
    unseen: Vec<Notification>,
    now: DateTime<Utc>,
    commands: u64,
}

impl Runner<'_> {
    fn actor(&self, name: &Spanned<String>) -> Result<Actor, Failure> {
        self.actors
            .iter()
            .find(|a| a.id.as_str() == name.as_str())
            .cloned()
            .ok_or_else(|| {
                Failure::new(
                    name.span,
                    format!("actor `{}` is not declared under `actors`", name.value),
                )
            })
    }

    fn send(&mut self, actor: Actor, action: Action) -> Result<(), CommandError> {
        self.commands += 1;
        let command = Command::new(format!("scenario-command-{}", self.commands), actor, action);
        let events = engine::handle(self.process, &self.case, command, self.now)?;
        self.unseen
            .extend(engine::notifications(self.process, &self.case, &events));
        for event in &events {
            self.case.apply(event);
        }
        self.events.extend(events);
        Ok(())
    }

    fn scenario(&mut self, index: usize, scenario: &Scenario) -> Result<(), Failure> {
        let start = &scenario.start;
        let at = match &start.at {
            Some(at) => at.value.as_str(),
            None => DEFAULT_START,
        };
        self.now = DateTime::parse_from_rfc3339(at)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                Failure::new(
                    start.at.as_ref().map_or(start.span, |a| a.span),
                    format!("`{at}` is not a time"),
                )
            })?;
        let actor = self.actor(&start.actor)?;
        let fields = field_values(&start.fields, start.span)?;
        let case = format!("scenario-{}", index + 1);
        self.send(
            actor.clone(),
            Action::Start {
                case: case.into(),
                fields,
            },
        )
        .map_err(|e| refused_unexpectedly(start.span, &e))?;
        for step in &scenario.steps {
            self.step(step, &actor)?;
        }
        Ok(())
    }

    fn step(&mut self, step: &Spanned<ScenarioStep>, starter: &Actor) -> Result<(), Failure> {
        let s = &step.value;
        if let Some(wait) = &s.wait {
            return self.wait(wait.value, wait.span);
        }
        if let Some(expect) = &s.expect {
            let result = self.expect(expect);
            self.unseen.clear();
            return result;
        }
        let actor = match &s.actor {
            Some(name) => self.actor(name)?,
            None => starter.clone(),
        };
        let step_id = |name: &Spanned<String>| {
            StepId::new(name.value.clone())
                .map_err(|_| Failure::new(name.span, format!("`{}` is not a step id", name.value)))
        };
        let item = || s.item.as_ref().map(|i| i.value.clone());
        let reason = || {
            s.reason
                .as_ref()
                .map(|r| r.value.clone())
                .unwrap_or_default()
        };
        let action = if let Some(name) = &s.complete {
            let fields = match &s.fields {
                Some(fields) => field_values(fields, fields.span)?,
                None => FieldValues::new(),
            };
            Action::Complete {
                step: step_id(name)?,
                fields,
                item: item(),
            }
        } else if let Some(name) = &s.approve {
            Action::Approve {
                step: step_id(name)?,
                comment: s.comment.as_ref().map(|c| c.value.clone()),
            }
        } else if let Some(name) = &s.reject {
            Action::Reject {
                step: step_id(name)?,
                reason: reason(),
            }
        } else if let Some(name) = &s.escalate {
            Action::Escalate {
                step: step_id(name)?,
                reason: reason(),
                item: item(),
            }
        } else if let Some(name) = &s.cancel_step {
            Action::CancelStep {
                step: step_id(name)?,
                reason: reason(),
            }
        } else if let Some(name) = &s.claim {
            Action::Claim {
                step: step_id(name)?,
                item: item(),
            }
        } else if let Some(name) = &s.assign {
            let to =
                s.to.as_ref()
                    .ok_or_else(|| Failure::new(step.span, "`assign` needs `to`"))?;
            Action::Assign {
                step: step_id(name)?,
                assignee: self.actor(to)?.id,
                item: item(),
            }
        } else if let Some(name) = &s.transfer {
            let to =
                s.to.as_ref()
                    .ok_or_else(|| Failure::new(step.span, "`transfer` needs `to`"))?;
            let role = RoleId::new(to.value.clone())
                .map_err(|_| Failure::new(to.span, format!("`{}` is not a role id", to.value)))?;
            Action::Transfer {
                step: step_id(name)?,
                to: role,
                item: item(),
            }
        } else if let Some(name) = &s.postpone {
            let length = s
                .hold_for
                .as_ref()
                .ok_or_else(|| Failure::new(step.span, "`postpone` needs `for`"))?;
            let until = self
                .process
                .default_calendar()
                .after(self.now, length.value)
                .ok_or_else(|| Failure::new(length.span, "the hold ends past the year 9999"))?;
            Action::Postpone {
                step: step_id(name)?,
                until,
                item: item(),
            }
        } else if let Some(text) = &s.note {
            Action::AddNote {
                text: text.value.clone(),
                step: None,
            }
        } else if let Some(fields) = &s.set {
            Action::UpdateFields {
                fields: field_values(fields, fields.span)?,
            }
        } else if let Some(reason) = &s.pause {
            Action::Pause {
                reason: reason.value.clone(),
            }
        } else if s.resume.is_some() {
            Action::Resume
        } else if let Some(reason) = &s.cancel {
            Action::Cancel {
                reason: reason.value.clone(),
            }
        } else if let Some(reason) = &s.reopen {
            Action::Reopen {
                reason: reason.value.clone(),
            }
        } else if let Some(name) = s
            .sub_case_completes
            .as_ref()
            .or(s.sub_case_cancelled.as_ref())
        {
            let (outcome, fields) = match &s.sub_case_completes {
                Some(_) => (
                    SubCaseOutcome::Completed,
                    match &s.fields {
                        Some(fields) => field_values(fields, fields.span)?,
                        None => FieldValues::new(),
                    },
                ),
                None => (SubCaseOutcome::Cancelled, FieldValues::new()),
            };
            let step = step_id(name)?;
            // The sub-case the step waits for; a step that waits for none names one the
            // engine refuses (`not-waiting-for-sub-case`).
            let child = self
                .case
                .sub_cases()
                .iter()
                .rev()
                .find(|sub| sub.step == step && sub.outcome.is_none())
                .map_or_else(
                    || CaseId::new(format!("{step}.none")),
                    |sub| sub.case.clone(),
                );
            Action::FinishSubCase {
                child,
                outcome,
                fields,
            }
        } else {
            return Err(Failure::new(step.span, "this scenario step has no action"));
        };
        let name = action.name();
        match (self.send(actor, action), &s.refused) {
            (Ok(()), None) => Ok(()),
            (Err(error), None) => Err(refused_unexpectedly(step.span, &error)),
            (Err(error), Some(kind)) if error.kind() == kind.as_str() => Ok(()),
            (Err(error), Some(kind)) => Err(Failure {
                expected: Some(format!("refused: {}", kind.value)),
                found: Some(format!("refused: {} ({error})", error.kind())),
                ..Failure::new(
                    kind.span,
                    format!("`{name}` was refused for another reason than expected"),
                )
            }),
            (Ok(()), Some(kind)) => Err(Failure {
                expected: Some(format!("refused: {}", kind.value)),
                found: Some("accepted".to_owned()),
                ..Failure::new(
                    kind.span,
                    format!("`{name}` was accepted, but the scenario expects it to be refused"),
                )
            }),
        }
    }

    /// Moves the clock by `length` of working time in the SOP's default calendar, firing
    /// each timer at its own due time on the way, as a timer worker would.
    fn wait(&mut self, length: crate::model::SopDuration, span: SourceSpan) -> Result<(), Failure> {
        let until = self
            .process
            .default_calendar()
            .after(self.now, length)
            .ok_or_else(|| Failure::new(span, "the clock cannot move past the year 9999"))?;
        // Each tick fires at least one timer or ends the wait, so this ends; the bound
        // keeps a misbehaving SOP from looping.
        for _ in 0..10_000 {
            let Some(due) = self.case.next_timer() else {
                break;
            };
            if due > until {
                break;
            }
            self.now = self.now.max(due);
            let before = self.events.len();
            self.send(Actor::new(CLOCK_ACTOR, []), Action::Tick)
                .map_err(|e| Failure::new(span, format!("a timer could not fire: {e}")))?;
            if self.events.len() == before {
                break;
            }
        }
        self.now = self.now.max(until);
        Ok(())
    }

    fn expect(&self, expect: &Spanned<Expect>) -> Result<(), Failure> {
        let e = &expect.value;
        if let Some(status) = &e.status {
            let found = self.case.status();
            let words = match found {
                CaseStatus::NotStarted => "not started",
                CaseStatus::Open => "open",
                CaseStatus::Closed => "closed",
                CaseStatus::Cancelled => "cancelled",
            };
            if words != status.as_str() {
                return Err(value_failure(
                    status.span,
                    "the case's status",
                    &status.value,
                    words,
                ));
            }
        }
        if let Some(active) = &e.active {
            let found: Vec<String> = self
                .case
                .active_steps()
                .iter()
                .map(|a| a.step.to_string())
                .collect();
            compare_sets(active, &found, "the active steps")?;
        }
        if let Some(breached) = &e.breached {
            let found = self.steps_with(|kind| match kind {
                EventKind::SlaBreached { step, .. } => Some(step),
                _ => None,
            });
            compare_sets(
                breached,
                &found,
                "the steps whose service level was breached",
            )?;
        }
        if let Some(warned) = &e.warned {
            let found = self.steps_with(|kind| match kind {
                EventKind::SlaWarned {
                    step: Some(step), ..
                } => Some(step),
                _ => None,
            });
            compare_sets(warned, &found, "the steps warned that they are nearly due")?;
        }
        if let Some(case_sla) = &e.case_sla {
            let breached = self
                .events
                .iter()
                .any(|ev| matches!(ev.kind, EventKind::CaseSlaBreached));
            let warned = self
                .events
                .iter()
                .any(|ev| matches!(ev.kind, EventKind::SlaWarned { step: None, .. }));
            let found = if breached {
                "breached"
            } else if warned {
                "warned"
            } else {
                "on-time"
            };
            if found != case_sla.as_str() {
                return Err(value_failure(
                    case_sla.span,
                    "the case's service level",
                    &case_sla.value,
                    found,
                ));
            }
        }
        if let Some(paused) = &e.paused
            && paused.value != self.case.is_paused()
        {
            let words = |p: bool| if p { "paused" } else { "not paused" };
            return Err(value_failure(
                paused.span,
                "whether the case is paused",
                words(paused.value),
                words(self.case.is_paused()),
            ));
        }
        if let Some(fields) = &e.fields {
            for (name, wanted) in fields.iter() {
                let found = FieldId::new(name.value.clone())
                    .ok()
                    .and_then(|id| self.case.fields().get(&id));
                if found != Some(wanted) {
                    return Err(value_failure(
                        name.span,
                        &format!("field `{}`", name.value),
                        &show_value(Some(wanted)),
                        &show_value(found),
                    ));
                }
            }
        }
        if let Some(may_act) = &e.may_act {
            let items = engine::work_items(self.process, &self.case);
            for (step, wanted) in may_act.iter() {
                let Some(item) = items.iter().find(|i| i.step.as_str() == step.as_str()) else {
                    return Err(Failure {
                        expected: Some(format!("`{}` active", step.value)),
                        found: Some(format!("active: {}", self.active_list())),
                        ..Failure::new(
                            step.span,
                            format!(
                                "step `{}` is not active, so nobody may act on it",
                                step.value
                            ),
                        )
                    });
                };
                let found: Vec<String> = self
                    .actors
                    .iter()
                    .filter(|a| item.actionable_by(a, self.now))
                    .map(|a| a.id.to_string())
                    .collect();
                let wanted = Spanned::new(wanted.clone(), step.span);
                compare_sets(&wanted, &found, &format!("who may act on `{}`", step.value))?;
            }
        }
        if let Some(path) = &e.path {
            let found: Vec<String> = self
                .events
                .iter()
                .filter_map(|ev| match &ev.kind {
                    EventKind::StepCompleted { step, .. }
                    | EventKind::GateApproved { step, .. }
                    | EventKind::GateRejected { step, .. }
                    | EventKind::DecisionTaken { step, .. } => Some(step.to_string()),
                    _ => None,
                })
                .collect();
            let wanted: Vec<String> = path.iter().map(|s| s.value.clone()).collect();
            if wanted != found {
                return Err(Failure {
                    expected: Some(wanted.join(" → ")),
                    found: Some(found.join(" → ")),
                    diff: list_diff(&wanted, &found),
                    ..Failure::new(path.span, "the case took another path")
                });
            }
        }
        if let Some(notified) = &e.notified {
            for wanted in &notified.value {
                let matches = |n: &Notification| {
                    let to = match &n.to {
                        Recipient::Role(role) => role.as_str(),
                        Recipient::Actor(actor) => actor.as_str(),
                    };
                    to == wanted.to.as_str()
                        && wanted
                            .kind
                            .as_ref()
                            .is_none_or(|k| kind_name(&n.kind) == k.as_str())
                        && wanted.step.as_ref().is_none_or(|s| {
                            n.step.as_ref().is_some_and(|n| n.as_str() == s.as_str())
                        })
                };
                if !self.unseen.iter().any(matches) {
                    let mut description = format!("to {}", wanted.to.value);
                    if let Some(kind) = &wanted.kind {
                        description.push_str(&format!(", {}", kind.value));
                    }
                    if let Some(step) = &wanted.step {
                        description.push_str(&format!(", about {}", step.value));
                    }
                    let sent: Vec<String> = self
                        .unseen
                        .iter()
                        .map(|n| {
                            let step = n
                                .step
                                .as_ref()
                                .map(|s| format!(", about {s}"))
                                .unwrap_or_default();
                            let to = match &n.to {
                                Recipient::Role(role) => role.to_string(),
                                Recipient::Actor(actor) => actor.to_string(),
                            };
                            format!("to {to}, {}{step}", kind_name(&n.kind))
                        })
                        .collect();
                    return Err(Failure {
                        expected: Some(description),
                        found: Some(if sent.is_empty() {
                            "no notification".to_owned()
                        } else {
                            sent.join("; ")
                        }),
                        ..Failure::new(
                            wanted.span,
                            "this notification was not sent since the previous `expect`",
                        )
                    });
                }
            }
        }
        Ok(())
    }

    fn active_list(&self) -> String {
        let names: Vec<String> = self
            .case
            .active_steps()
            .iter()
            .map(|a| a.step.to_string())
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }

    /// The distinct steps named by the events `pick` selects, in first-seen order.
    fn steps_with(&self, pick: impl Fn(&EventKind) -> Option<&StepId>) -> Vec<String> {
        let mut seen = Vec::new();
        for event in &self.events {
            if let Some(step) = pick(&event.kind) {
                let name = step.to_string();
                if !seen.contains(&name) {
                    seen.push(name);
                }
            }
        }
        seen
    }
}

/// The name of a notification kind as a scenario writes it (its JSON `kind`).
fn kind_name(kind: &NotificationKind) -> &'static str {
    match kind {
        NotificationKind::WorkWaiting => "work_waiting",
        NotificationKind::WorkAssigned => "work_assigned",
        NotificationKind::ApprovalRequested => "approval_requested",
        NotificationKind::DueSoon => "due_soon",
        NotificationKind::Overdue => "overdue",
        NotificationKind::Escalation { .. } => "escalation",
        NotificationKind::Rejected { .. } => "rejected",
        NotificationKind::StepCancelled { .. } => "step_cancelled",
    }
}

fn field_values(
    fields: &OrderedMap<String, FieldValue>,
    span: SourceSpan,
) -> Result<FieldValues, Failure> {
    let mut values = FieldValues::new();
    for (name, value) in fields.iter() {
        let id = FieldId::new(name.value.clone()).map_err(|_| {
            Failure::new(
                if name.span.is_known() {
                    name.span
                } else {
                    span
                },
                format!("`{}` is not a field id", name.value),
            )
        })?;
        values.insert(id, value.clone());
    }
    Ok(values)
}

fn refused_unexpectedly(span: SourceSpan, error: &CommandError) -> Failure {
    Failure {
        expected: Some("accepted".to_owned()),
        found: Some(format!("refused: {}", error.kind())),
        ..Failure::new(span, format!("the engine refused this step: {error}"))
    }
}

fn value_failure(span: SourceSpan, what: &str, expected: &str, found: &str) -> Failure {
    Failure {
        expected: Some(expected.to_owned()),
        found: Some(found.to_owned()),
        ..Failure::new(span, format!("{what} is not as expected"))
    }
}

fn show_value(value: Option<&FieldValue>) -> String {
    match value {
        None => "no value".to_owned(),
        Some(FieldValue::Text(text)) => text.clone(),
        Some(FieldValue::List(list)) => format!("[{}]", list.join(", ")),
        Some(other) => engine::display_value(other),
    }
}

fn compare_sets(
    wanted: &Spanned<Vec<Spanned<String>>>,
    found: &[String],
    what: &str,
) -> Result<(), Failure> {
    let wanted_set: BTreeSet<&str> = wanted.iter().map(|s| s.as_str()).collect();
    let found_set: BTreeSet<&str> = found.iter().map(String::as_str).collect();
    if wanted_set == found_set {
        return Ok(());
    }
    let show = |set: &BTreeSet<&str>| {
        if set.is_empty() {
            "none".to_owned()
        } else {
            set.iter().copied().collect::<Vec<_>>().join(", ")
        }
    };
    let mut diff = Vec::new();
    for missing in wanted_set.difference(&found_set) {
        diff.push(format!("+ {missing}  (expected, not there)"));
    }
    for extra in found_set.difference(&wanted_set) {
        diff.push(format!("- {extra}  (there, not expected)"));
    }
    Err(Failure {
        expected: Some(show(&wanted_set)),
        found: Some(show(&found_set)),
        diff,
        ..Failure::new(wanted.span, format!("{what} are not as expected"))
    })
}

/// A line per position where two lists differ.
fn list_diff(wanted: &[String], found: &[String]) -> Vec<String> {
    let mut diff = Vec::new();
    for i in 0..wanted.len().max(found.len()) {
        match (wanted.get(i), found.get(i)) {
            (Some(w), Some(f)) if w == f => {}
            (Some(w), Some(f)) => diff.push(format!("step {}: expected {w}, found {f}", i + 1)),
            (Some(w), None) => diff.push(format!("step {}: expected {w}, found nothing", i + 1)),
            (None, Some(f)) => diff.push(format!("step {}: expected nothing, found {f}", i + 1)),
            (None, None) => {}
        }
    }
    diff
}
