//! Compiling calendars, step timers and the case's service level.

use crate::calendar::Calendar;
use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{
    CaseServiceLevel, LadderLevel, NamedCalendar, ServiceLevel, StepTimers, TimerLength,
};
use crate::model::{
    CalendarId, EscalationLevel, FieldType, SopDuration, SourceSpan, Spanned, Step, StepId,
    TimerSpec,
};

use super::{Compiler, did_you_mean, with_optional_help};

const DAY_MINUTES: u32 = 24 * 60;

/// The longest timer accepted, in days: ten years.
const MAX_TIMER_DAYS: i64 = 3_652;

/// What a service level is attached to, for messages.
#[derive(Clone, Copy)]
pub(super) enum SlaOwner<'s> {
    Step(&'s StepId),
    Case,
}

impl SlaOwner<'_> {
    fn described(self) -> String {
        match self {
            SlaOwner::Step(step) => format!("step `{step}`"),
            SlaOwner::Case => "the case's `sla`".to_owned(),
        }
    }
}

impl Compiler<'_> {
    /// Compiles `calendars:` and resolves the SOP's default `calendar:`.
    pub(super) fn compile_calendars(&mut self) {
        let sop = self.sop;
        for (name, spec) in sop.calendars.iter() {
            match Calendar::compile(spec) {
                Ok(calendar) => self.calendars.push(NamedCalendar {
                    name: Some(name.value.clone()),
                    calendar,
                }),
                Err(problems) => {
                    self.unresolved_calendars.push(name.value.clone());
                    for problem in problems {
                        let span = if problem.span.is_known() {
                            problem.span
                        } else {
                            name.span
                        };
                        let diagnostic = Diagnostic::new(
                            Code::InvalidCalendar,
                            span,
                            format!("calendar `{}`: {}", name.value, problem.message),
                        );
                        self.report(with_optional_help(diagnostic, problem.help));
                    }
                }
            }
        }
        self.default_calendar = self.named_calendar(sop.calendar.as_ref(), None);
    }

    /// The calendar `name` (or `fallback`, or the SOP's default when there is no name).
    fn named_calendar(
        &mut self,
        name: Option<&Spanned<CalendarId>>,
        fallback: Option<&NamedCalendar>,
    ) -> NamedCalendar {
        let Some(name) = name else {
            return fallback
                .cloned()
                .unwrap_or_else(NamedCalendar::round_the_clock);
        };
        if let Some(found) = self
            .calendars
            .iter()
            .find(|c| c.name.as_ref() == Some(&name.value))
        {
            return found.clone();
        }
        // A calendar with errors was reported where it is defined; a second error here
        // would only echo it.
        if !self.unresolved_calendars.contains(&name.value) {
            let candidates: Vec<&str> = self.sop.calendars.keys().map(|k| k.as_str()).collect();
            let help = did_you_mean(name.as_str(), &candidates).or_else(|| {
                Some(if candidates.is_empty() {
                    "declare it under `calendars:` with its `zone` and `hours`".to_owned()
                } else {
                    format!(
                        "declared calendars are {}",
                        candidates
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            });
            self.report(with_optional_help(
                Diagnostic::new(
                    Code::UnknownCalendar,
                    name.span,
                    format!(
                        "calendar `{}` is not declared under `calendars`",
                        name.value
                    ),
                ),
                help,
            ));
        }
        NamedCalendar::round_the_clock()
    }

    /// The timers of a task or gate: its calendar, service level and deferred choice.
    pub(super) fn step_timers(&mut self, step: &Step) -> StepTimers {
        let owner = SlaOwner::Step(&step.id.value);
        let default = self.default_calendar.clone();
        let calendar = self.named_calendar(step.calendar.as_ref(), Some(&default));
        let levels: &[EscalationLevel] = step.overdue.as_ref().map_or(&[], |l| &l.value);
        let sla = match &step.due {
            Some(due) => self.service_level(
                owner,
                due,
                step.warn.as_ref(),
                levels,
                step.on_overdue.as_ref(),
                step.pausable.as_ref(),
                &calendar,
            ),
            None => {
                for (key, span) in [
                    ("warn", step.warn.as_ref().map(|w| w.span)),
                    ("overdue", step.overdue.as_ref().map(|o| o.span)),
                    ("pausable", step.pausable.as_ref().map(|p| p.span)),
                ] {
                    if let Some(span) = span {
                        self.report(
                            Diagnostic::new(
                                Code::TimerWithoutDuration,
                                span,
                                format!("step `{}` has `{key}` but no `due`, so it has no service level to {}", step.id.value, match key {
                                    "warn" => "warn about",
                                    "overdue" => "escalate",
                                    _ => "pause",
                                }),
                            )
                            .with_help("add `due: 4h` (or another duration) to the step"),
                        );
                    }
                }
                None
            }
        };
        let timeout = step
            .after
            .as_ref()
            .and_then(|after| self.timer_length(owner, "after", after, &calendar));
        StepTimers {
            calendar,
            sla,
            timeout,
        }
    }

    /// Compiles the SOP's `sla:`.
    pub(super) fn compile_case_sla(&mut self) {
        let Some(sla) = &self.sop.sla else {
            return;
        };
        let default = self.default_calendar.clone();
        let calendar = self.named_calendar(sla.calendar.as_ref(), Some(&default));
        self.case_sla = self
            .service_level(
                SlaOwner::Case,
                &sla.resolve_within,
                sla.warn.as_ref(),
                &sla.overdue,
                None,
                sla.pausable.as_ref(),
                &calendar,
            )
            .map(|sla| CaseServiceLevel { calendar, sla });
    }

    #[allow(clippy::too_many_arguments)]
    fn service_level(
        &mut self,
        owner: SlaOwner<'_>,
        due: &Spanned<TimerSpec>,
        warn: Option<&Spanned<SopDuration>>,
        levels: &[EscalationLevel],
        on_overdue: Option<&Spanned<StepId>>,
        pausable: Option<&Spanned<bool>>,
        calendar: &NamedCalendar,
    ) -> Option<ServiceLevel> {
        let key = match owner {
            SlaOwner::Step(_) => "due",
            SlaOwner::Case => "resolve_within",
        };
        let length = self.timer_length(owner, key, due, calendar)?;
        if let Some(warn) = warn {
            self.days_of_working_time(warn, calendar);
            // Business days have no fixed length in working time: only durations in
            // minutes to weeks can be compared with the warning.
            let in_working_time = |d: &SopDuration| d.business_days() == 0;
            let (shortest, which) = match &length {
                TimerLength::Fixed(d) => (Some(*d).filter(in_working_time), String::new()),
                // How long before its date the work starts differs per case.
                TimerLength::FromDate { .. } => (None, String::new()),
                TimerLength::ByField {
                    field,
                    options,
                    otherwise,
                } => {
                    let named = options
                        .iter()
                        .map(|(option, d)| (*d, format!(" for {field} `{option}`")))
                        .chain(otherwise.map(|d| (d, format!(" for other values of {field}"))));
                    let shortest = named
                        .filter(|(d, _)| in_working_time(d))
                        .min_by_key(|(d, _)| d.minutes());
                    (
                        shortest.as_ref().map(|(d, _)| *d),
                        shortest.map(|(_, w)| w).unwrap_or_default(),
                    )
                }
            };
            if let Some(shortest) = shortest
                && warn.value.business_days() == 0
                && warn.value.minutes() >= shortest.minutes()
            {
                self.report(
                    Diagnostic::new(
                        Code::InvalidTimer,
                        warn.span,
                        format!(
                            "{} warns {} before it is due, but it is due {}{which} after it starts: the warning would come before the work",
                            owner.described(),
                            warn.value,
                            shortest
                        ),
                    )
                    .with_help("make `warn` shorter than `due`, such as a quarter of it"),
                );
            }
        }
        let ladder = self.ladder(owner, levels, on_overdue, calendar);
        Some(ServiceLevel {
            due: length,
            warn: warn.map(|w| w.value),
            ladder,
            pausable: pausable.is_some_and(|p| p.value),
        })
    }

    fn ladder(
        &mut self,
        owner: SlaOwner<'_>,
        levels: &[EscalationLevel],
        on_overdue: Option<&Spanned<StepId>>,
        calendar: &NamedCalendar,
    ) -> Vec<LadderLevel> {
        let mut ladder = Vec::with_capacity(levels.len() + 1);
        if let Some(target) = on_overdue {
            if let Some(first) = levels.first() {
                let span = first
                    .after
                    .as_ref()
                    .map(|a| a.span)
                    .or(first.notify.as_ref().map(|n| n.span))
                    .or(first.goto.as_ref().map(|g| g.span))
                    .unwrap_or(target.span);
                self.report(
                    Diagnostic::new(
                        Code::ConflictingKeys,
                        span,
                        format!("{} has both `on_overdue` and an `overdue` ladder", owner.described()),
                    )
                    .with_related(target.span, "`on_overdue` given here")
                    .with_help(format!(
                        "`on_overdue: {}` is short for `overdue: [{{ goto: {} }}]`; write the move as the ladder's last level",
                        target.value, target.value
                    )),
                );
            }
            ladder.push(LadderLevel {
                after: SopDuration::from_minutes(0),
                notify: None,
                moves: true,
            });
            return ladder;
        }
        let mut previous: Option<(SopDuration, SourceSpan)> = None;
        for (index, level) in levels.iter().enumerate() {
            let number = index + 1;
            let level_span = level
                .after
                .as_ref()
                .map(|a| a.span)
                .or(level.notify.as_ref().map(|n| n.span))
                .or(level.goto.as_ref().map(|g| g.span));
            if level.notify.is_none() && level.goto.is_none() {
                self.report(
                    Diagnostic::new(
                        Code::InvalidLadder,
                        level_span.unwrap_or(SourceSpan::UNKNOWN),
                        format!(
                            "level {number} of the `overdue` ladder of {} does nothing",
                            owner.described()
                        ),
                    )
                    .with_help(
                        "give it `notify: ROLE` to tell someone, or `goto: STEP` to move the work",
                    ),
                );
            }
            let after = match (&level.after, index) {
                (Some(after), _) => {
                    self.days_of_working_time(after, calendar);
                    after.value
                }
                (None, 0) => SopDuration::from_minutes(0),
                (None, _) => {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidLadder,
                            level_span.unwrap_or(SourceSpan::UNKNOWN),
                            format!("level {number} of the `overdue` ladder of {} has no `after`", owner.described()),
                        )
                        .with_help("say how long after the due time it comes: `after: 2h` (only the first level may come at the breach itself)"),
                    );
                    SopDuration::from_minutes(0)
                }
            };
            if let (Some((before, before_span)), Some(after_written)) = (previous, &level.after)
                && comparable(before, after)
                && after <= before
            {
                self.report(
                    Diagnostic::new(
                        Code::InvalidLadder,
                        after_written.span,
                        format!(
                            "level {number} of the `overdue` ladder of {} comes {after} after the due time, no later than the level before it ({before})",
                            owner.described()
                        ),
                    )
                    .with_related(before_span, "the level before")
                    .with_help("each level comes later than the one before: `after: 2h`, then `after: 4h`"),
                );
            }
            previous = Some((
                after,
                level.after.as_ref().map_or(SourceSpan::UNKNOWN, |a| a.span),
            ));
            let notify = level.notify.as_ref().map(|role| self.role(role));
            if let Some(goto) = &level.goto {
                match owner {
                    SlaOwner::Case => self.report(
                        Diagnostic::new(
                            Code::InvalidLadder,
                            goto.span,
                            "the case's `sla` can notify at each level, not move the case",
                        )
                        .with_help("a case may have several steps active at once; put the move on the `overdue` ladder of the step it should leave"),
                    ),
                    SlaOwner::Step(_) if number < levels.len() => self.report(
                        Diagnostic::new(
                            Code::InvalidLadder,
                            goto.span,
                            format!("level {number} of the `overdue` ladder of {} moves the case, but levels come after it", owner.described()),
                        )
                        .with_help("once the work has moved, the later levels can never come: make the `goto` level the last"),
                    ),
                    SlaOwner::Step(_) => {}
                }
            }
            ladder.push(LadderLevel {
                after,
                notify,
                moves: level.goto.is_some() && matches!(owner, SlaOwner::Step(_)),
            });
        }
        ladder
    }

    fn timer_length(
        &mut self,
        owner: SlaOwner<'_>,
        key: &str,
        spec: &Spanned<TimerSpec>,
        calendar: &NamedCalendar,
    ) -> Option<TimerLength> {
        match &spec.value {
            TimerSpec::Fixed(duration) => {
                self.days_of_working_time(&Spanned::new(*duration, spec.span), calendar);
                Some(TimerLength::Fixed(*duration))
            }
            TimerSpec::FromDate {
                side,
                field,
                offset,
            } => {
                if let Some(offset) = offset {
                    self.days_of_working_time(offset, calendar);
                }
                let Some(&field_type) = self.field_types.get(&field.value) else {
                    let help = self.suggest_field(field.as_str()).or_else(|| {
                        Some(format!(
                            "declare it under `fields:` with `type: date`, such as `{}: {{ type: date }}`",
                            field.value
                        ))
                    });
                    self.report(with_optional_help(
                        Diagnostic::new(
                            Code::UnknownField,
                            field.span,
                            format!(
                                "`{key}` of {} counts from `{}`, which is not a field",
                                owner.described(),
                                field.value
                            ),
                        ),
                        help,
                    ));
                    return None;
                };
                self.used_fields.push(field.value.clone());
                if field_type != FieldType::Date {
                    let dates: Vec<&str> = self
                        .field_types
                        .iter()
                        .filter(|(_, t)| **t == FieldType::Date)
                        .map(|(id, _)| id.as_str())
                        .collect();
                    let help = match dates.as_slice() {
                        [] => format!(
                            "make `{}` a `type: date` field, or count from a date field",
                            field.value
                        ),
                        _ => format!(
                            "the date fields of this SOP are {}",
                            dates
                                .iter()
                                .map(|d| format!("`{d}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    self.report(
                        Diagnostic::new(
                            Code::TimerDateField,
                            field.span,
                            format!(
                                "`{key}` of {} counts {} `{}`, a {} field; a timer counts from a date field",
                                owner.described(),
                                side.as_str(),
                                field.value,
                                field_type.as_str()
                            ),
                        )
                        .with_help(help),
                    );
                    return None;
                }
                Some(TimerLength::FromDate {
                    field: field.value.clone(),
                    side: *side,
                    offset: offset
                        .as_ref()
                        .map_or(SopDuration::from_minutes(0), |o| o.value),
                })
            }
            TimerSpec::ByField {
                by,
                options,
                otherwise,
            } => {
                for (_, duration) in options {
                    self.days_of_working_time(duration, calendar);
                }
                if let Some(otherwise) = otherwise {
                    self.days_of_working_time(otherwise, calendar);
                }
                let Some(&field_type) = self.field_types.get(&by.value) else {
                    self.report_unknown_field(
                        by,
                        format!(
                            "`{key}` of {} depends on `{}`, which is not a field",
                            owner.described(),
                            by.value
                        ),
                    );
                    return None;
                };
                self.used_fields.push(by.value.clone());
                if field_type != FieldType::Choice {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidTimer,
                            by.span,
                            format!(
                                "`{key}` of {} depends on `{}`, a {} field; a duration per option needs a choice field",
                                owner.described(),
                                by.value,
                                field_type.as_str()
                            ),
                        )
                        .with_help("make the field `type: choice` with `options`, or write one duration"),
                    );
                    return None;
                }
                let known = self
                    .field_options
                    .get(&by.value)
                    .cloned()
                    .unwrap_or_default();
                let mut valid = true;
                // Options a misspelt key stands for: reported as misspelt, not as missing.
                let mut meant: Vec<&str> = Vec::new();
                for (option, _) in options {
                    if !known.contains(&option.value) {
                        valid = false;
                        let candidates: Vec<&str> = known.iter().map(String::as_str).collect();
                        if let Some(nearest) = nearest_option(&option.value, &candidates) {
                            meant.push(nearest);
                        }
                        let help = case_insensitive_match(&option.value, &candidates)
                            .or_else(|| did_you_mean(&option.value, &candidates))
                            .or_else(|| {
                                Some(format!(
                                    "the options of `{}` are {}",
                                    by.value,
                                    quoted(&known)
                                ))
                            });
                        self.report(with_optional_help(
                            Diagnostic::new(
                                Code::InvalidTimer,
                                option.span,
                                format!("`{}` is not an option of `{}`", option.value, by.value),
                            ),
                            help,
                        ));
                    }
                }
                if otherwise.is_none() {
                    let missing: Vec<String> = known
                        .iter()
                        .filter(|o| !options.iter().any(|(written, _)| written.value == **o))
                        .filter(|o| !meant.contains(&o.as_str()))
                        .cloned()
                        .collect();
                    if !missing.is_empty() {
                        valid = false;
                        self.report(
                            Diagnostic::new(
                                Code::InvalidTimer,
                                by.span,
                                format!(
                                    "`{key}` of {} has no duration for {} of `{}`",
                                    owner.described(),
                                    quoted(&missing),
                                    by.value
                                ),
                            )
                            .with_help(format!(
                                "add `{}: 1d` (or another duration), or `else: 1d` for every option not listed",
                                missing[0]
                            )),
                        );
                    }
                }
                valid.then(|| TimerLength::ByField {
                    field: by.value.clone(),
                    options: options
                        .iter()
                        .map(|(o, d)| (o.value.clone(), d.value))
                        .collect(),
                    otherwise: otherwise.as_ref().map(|o| o.value),
                })
            }
        }
    }

    /// Refuses a timer longer than ten years, and warns about `1d` where business hours
    /// make it 24 working hours.
    fn days_of_working_time(&mut self, duration: &Spanned<SopDuration>, calendar: &NamedCalendar) {
        // Counting working time walks the calendar a day at a time: a timer of centuries
        // would make every activation slow, and no case lives that long.
        if duration.value.round_the_clock() > chrono::TimeDelta::days(MAX_TIMER_DAYS) {
            self.report(
                Diagnostic::new(
                    Code::InvalidTimer,
                    duration.span,
                    format!(
                        "`{}` is longer than ten years: a timer that long never fires while a case is open",
                        duration.value
                    ),
                )
                .with_help("write the time the work may take, such as `3bd` or `2w`"),
            );
            return;
        }
        let minutes = duration.value.minutes();
        if calendar.calendar.is_always() || minutes == 0 || !minutes.is_multiple_of(DAY_MINUTES) {
            return;
        }
        let days = minutes / DAY_MINUTES;
        let weekly_hours = calendar.calendar.weekly_working_time().num_minutes() as f64 / 60.0;
        let name = calendar
            .name
            .as_ref()
            .map_or_else(String::new, |n| format!(" `{n}`"));
        self.report(
            Diagnostic::new(
                Code::DaysOfWorkingTime,
                duration.span,
                format!(
                    "`{}` counts {} hours of working time in calendar{name} ({weekly_hours} working hours a week), not {days} business day{}",
                    duration.value,
                    days * 24,
                    if days == 1 { "" } else { "s" }
                ),
            )
            .with_help(format!(
                "write `{days}bd` for \"within {days} business day{}\", or hours of working time such as `{}h`",
                if days == 1 { "" } else { "s" },
                // A working day of a five-day week.
                (f64::from(days) * weekly_hours / 5.0).round()
            )),
        );
    }
}

/// Whether two durations can be ordered (business days and working time cannot).
fn comparable(a: SopDuration, b: SopDuration) -> bool {
    (a.business_days() == 0) == (b.business_days() == 0)
}

/// The option a misspelt key most likely means: the same letters in another case, or a
/// close spelling.
fn nearest_option<'a>(written: &str, options: &[&'a str]) -> Option<&'a str> {
    let score =
        |option: &str| strsim::jaro_winkler(&option.to_lowercase(), &written.to_lowercase());
    options
        .iter()
        .copied()
        .max_by(|a, b| score(a).total_cmp(&score(b)))
        .filter(|best| score(best) > 0.8)
}

fn case_insensitive_match(written: &str, options: &[&str]) -> Option<String> {
    options
        .iter()
        .find(|o| o.eq_ignore_ascii_case(written))
        .map(|o| format!("did you mean `{o}`? options are case-sensitive"))
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
