//! Service levels compiled: the calendar each timer counts in, durations resolved per
//! field option, warnings and escalation ladders checked.
//!
//! The engine asks these types for instants ([`TimerLength::deadline`],
//! [`ServiceLevel::schedule`]); the calendar arithmetic itself is [`crate::calendar`].

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};

use crate::calendar::Calendar;
use crate::model::{CalendarId, DateSide, FieldId, FieldValue, RoleId, SopDuration};

/// A calendar as a timer uses it: its name in the SOP (none for round the clock) and the
/// compiled arithmetic.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedCalendar {
    /// The calendar's name under `calendars:`, or `None` for round the clock in UTC.
    pub name: Option<CalendarId>,
    /// The working time it counts.
    pub calendar: Calendar,
}

impl NamedCalendar {
    /// Round the clock in UTC: what a timer counts in when the SOP names no calendar.
    pub fn round_the_clock() -> NamedCalendar {
        NamedCalendar {
            name: None,
            calendar: Calendar::always(),
        }
    }

    /// The instant `duration` of working time (or business days) after `start`; `None`
    /// past the year 9999.
    pub fn after(&self, start: DateTime<Utc>, duration: SopDuration) -> Option<DateTime<Utc>> {
        if duration.business_days() > 0 {
            self.calendar
                .add_business_days(start, duration.business_days())
        } else {
            self.calendar.add(start, duration.to_chrono())
        }
    }

    /// The instant `duration` of working time (or business days) before `end`; `None`
    /// before 1970.
    pub fn before(&self, end: DateTime<Utc>, duration: SopDuration) -> Option<DateTime<Utc>> {
        let mut at = self.calendar.sub(end, duration.to_chrono())?;
        for _ in 0..duration.business_days() {
            // The last working moment before `at` lies on the business day before it.
            let earlier = self.calendar.sub(at, TimeDelta::seconds(1))?;
            at = self
                .start_of_working_day(earlier.with_timezone(&self.calendar.zone()).date_naive())?;
        }
        Some(at)
    }

    /// What a date means to a timer: the start of its working day in this calendar (the
    /// first opening on or after its midnight, so a date on a holiday or a weekend means
    /// the next opening), or its midnight in UTC round the clock. `None` outside the years
    /// 1970 to 9999.
    pub fn start_of_working_day(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        let zone = self.calendar.zone();
        let midnight = date.and_time(NaiveTime::MIN);
        // Where clocks skip midnight (a change to summer time), the day starts an hour in.
        let local = zone.from_local_datetime(&midnight).earliest().or_else(|| {
            zone.from_local_datetime(&(midnight + TimeDelta::hours(1)))
                .earliest()
        })?;
        let midnight = local.with_timezone(&Utc);
        // `add` counts from the next opening: one second of work ends one second after it.
        let tick = TimeDelta::seconds(1);
        self.calendar
            .add(midnight, tick)
            .and_then(|t| t.checked_sub_signed(tick))
            .filter(|t| t.timestamp() >= 0)
    }
}

/// When a timer counted from a date fires, for one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// The timer does not run: its field has no value, or the value picks no duration.
    None,
    /// It fires at this instant (which may already be past when the clock starts).
    At(DateTime<Utc>),
    /// It would fire outside the years the engine counts in (1970 to 9999).
    OutOfRange,
}

/// How long a timer runs: fixed, or chosen by the value of a choice field.
#[derive(Debug, Clone, PartialEq)]
pub enum TimerLength {
    /// The same for every case.
    Fixed(SopDuration),
    /// Chosen by a choice field's value; `otherwise` for the values not listed (and no
    /// value). Without `otherwise` the compiler made sure every option is listed, so only
    /// a case with no value has no timer.
    ByField {
        /// The choice field.
        field: FieldId,
        /// A duration per option.
        options: Vec<(String, SopDuration)>,
        /// The duration for any other value.
        otherwise: Option<SopDuration>,
    },
    /// Until a time counted from a date field, in the timer's calendar: its start of the
    /// working day, moved `offset` of working time (or business days) to `side`. No timer
    /// while the field has no value.
    FromDate {
        /// The date field.
        field: FieldId,
        /// Before or after the date.
        side: DateSide,
        /// How far from the date.
        offset: SopDuration,
    },
}

impl TimerLength {
    /// When a clock started at `since` in `calendar` fires, for a case whose field values
    /// `value_of` gives.
    pub fn deadline<'v>(
        &self,
        calendar: &NamedCalendar,
        since: DateTime<Utc>,
        value_of: impl Fn(&FieldId) -> Option<&'v FieldValue>,
    ) -> Deadline {
        let at = match self {
            TimerLength::FromDate {
                field,
                side,
                offset,
            } => {
                let date = match value_of(field) {
                    Some(FieldValue::Text(text)) => NaiveDate::parse_from_str(text, "%Y-%m-%d"),
                    _ => return Deadline::None,
                };
                // Field values are checked against their type when they are set; a value
                // that is not a date is one a newer version of the SOP retyped.
                let Ok(date) = date else {
                    return Deadline::None;
                };
                let start = calendar.start_of_working_day(date);
                let at = match side {
                    DateSide::Before => start.and_then(|t| calendar.before(t, *offset)),
                    DateSide::After => start.and_then(|t| calendar.after(t, *offset)),
                };
                // Before 1970 is long past: the timer fires on the next tick.
                match at {
                    None if date.year() < 1971 => Some(since),
                    at => at,
                }
            }
            _ => match self.duration(value_of) {
                Some(duration) => calendar.after(since, duration),
                None => return Deadline::None,
            },
        };
        at.map_or(Deadline::OutOfRange, Deadline::At)
    }

    /// The duration for a case whose field values `value_of` gives; `None` when a field's
    /// value picks no duration (the timer does not run), and for a timer counted from a
    /// date, whose length depends on when the clock starts ([`TimerLength::deadline`]).
    pub fn duration<'v>(
        &self,
        value_of: impl Fn(&FieldId) -> Option<&'v FieldValue>,
    ) -> Option<SopDuration> {
        match self {
            TimerLength::Fixed(duration) => Some(*duration),
            TimerLength::ByField {
                field,
                options,
                otherwise,
            } => {
                let chosen = match value_of(field) {
                    Some(FieldValue::Text(value)) => options
                        .iter()
                        .find(|(option, _)| option == value)
                        .map(|(_, duration)| *duration),
                    _ => None,
                };
                chosen.or(*otherwise)
            }
            TimerLength::FromDate { .. } => None,
        }
    }

    /// The field the length depends on, if any.
    pub fn field(&self) -> Option<&FieldId> {
        match self {
            TimerLength::Fixed(_) => None,
            TimerLength::ByField { field, .. } | TimerLength::FromDate { field, .. } => Some(field),
        }
    }

    /// A short label: `4h`, `by priority`, `2bd before start_date`.
    pub fn label(&self) -> String {
        match self {
            TimerLength::Fixed(duration) => duration.to_string(),
            TimerLength::ByField { field, .. } => format!("by {field}"),
            TimerLength::FromDate {
                field,
                side,
                offset,
            } if offset.minutes() == 0 && offset.business_days() == 0 => {
                format!("{} {field}", side.as_str())
            }
            TimerLength::FromDate {
                field,
                side,
                offset,
            } => format!("{offset} {} {field}", side.as_str()),
        }
    }

    /// Every duration: `4h`, or `High 4h, Medium 1d, Low 3d` (`by priority` when the
    /// field has more than four options, which would not fit a chart).
    pub fn describe(&self) -> String {
        match self {
            TimerLength::ByField {
                options, otherwise, ..
            } if options.len() + usize::from(otherwise.is_some()) <= 4 => {
                let mut parts: Vec<String> = options
                    .iter()
                    .map(|(option, duration)| format!("{option} {duration}"))
                    .collect();
                if let Some(otherwise) = otherwise {
                    parts.push(format!("else {otherwise}"));
                }
                parts.join(", ")
            }
            _ => self.label(),
        }
    }
}

/// One level of an escalation ladder, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct LadderLevel {
    /// Working time after the due time.
    pub after: SopDuration,
    /// The role told when the level is reached.
    pub notify: Option<RoleId>,
    /// Whether the level moves the case along the step's `overdue` edge (the last level).
    pub moves: bool,
}

/// A service level: due time, warning and escalation ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceLevel {
    /// How long until it is due.
    pub due: TimerLength,
    /// How long before the due time whoever holds the work is warned.
    pub warn: Option<SopDuration>,
    /// What happens after the due time, level by level (empty: the breach is recorded and
    /// the work stays where it is).
    pub ladder: Vec<LadderLevel>,
    /// Whether pausing the case stops this clock.
    pub pausable: bool,
}

/// When a service level's timers fire, for one activation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlaSchedule {
    /// When it is breached.
    pub due_at: Option<DateTime<Utc>>,
    /// When whoever holds the work is warned.
    pub warn_at: Option<DateTime<Utc>>,
    /// When each level of the ladder is reached.
    pub levels: Vec<DateTime<Utc>>,
}

impl ServiceLevel {
    /// Whether the ladder is `on_overdue`: one level that moves the case at the breach,
    /// telling nobody.
    pub fn moves_at_breach(&self) -> bool {
        matches!(
            self.ladder.as_slice(),
            [level] if level.moves
                && level.notify.is_none()
                && level.after.minutes() == 0
                && level.after.business_days() == 0
        )
    }

    /// The timers of a clock that started at `since` and was held (paused or postponed)
    /// for `held` of working time, for a case with the field values `value_of` gives (no
    /// timers when the field's value picks no duration).
    ///
    /// `None` when a timer would fall after the last instant the calendar can count to
    /// (the year 9999), or a time counted from a date before 1970: a timer that can never
    /// fire is refused, not dropped. A time counted from a date may already be past at
    /// `since`; it fires on the next tick.
    pub fn schedule<'v>(
        &self,
        calendar: &NamedCalendar,
        since: DateTime<Utc>,
        held: TimeDelta,
        value_of: impl Fn(&FieldId) -> Option<&'v FieldValue>,
    ) -> Option<SlaSchedule> {
        let due_at = match self.due.deadline(calendar, since, value_of) {
            Deadline::None => return Some(SlaSchedule::default()),
            Deadline::At(at) => calendar.calendar.add(at, held)?,
            Deadline::OutOfRange => return None,
        };
        let warn_at = self
            .warn
            .and_then(|warn| calendar.calendar.sub(due_at, warn.to_chrono()))
            .map(|t| t.max(since));
        // `on_overdue` alone (one level that moves the case at the breach) is fired with
        // the breach itself: no separate timer, and no list to keep per activation.
        let levels = if self.moves_at_breach() {
            Vec::new()
        } else {
            self.ladder
                .iter()
                .map(|level| calendar.after(due_at, level.after))
                .collect::<Option<Vec<_>>>()?
        };
        Some(SlaSchedule {
            due_at: Some(due_at),
            warn_at,
            levels,
        })
    }
}

/// The timers of a task or approval gate.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTimers {
    /// The calendar they count in.
    pub calendar: NamedCalendar,
    /// The step's service level (`due`, `warn`, `overdue`).
    pub sla: Option<ServiceLevel>,
    /// The deferred-choice timer (`after`, `on_timeout`).
    pub timeout: Option<TimerLength>,
}

impl StepTimers {
    /// No timers, round the clock.
    pub fn none() -> StepTimers {
        StepTimers {
            calendar: NamedCalendar::round_the_clock(),
            sla: None,
            timeout: None,
        }
    }
}

/// The service level of the whole case, with the calendar it counts in.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseServiceLevel {
    /// The calendar.
    pub calendar: NamedCalendar,
    /// Due time (`resolve_within`), warning and notification ladder.
    pub sla: ServiceLevel,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CalendarSpec;
    use chrono_tz::Europe::Berlin;

    /// Monday to Friday, 09:00 to 17:00 in Berlin, closed on 2026-12-24.
    fn office() -> NamedCalendar {
        let spec: CalendarSpec = serde_saphyr::from_str(
            "zone: Europe/Berlin\nhours: { mon-fri: [\"09:00-17:00\"] }\nholidays: [2026-12-24]\n",
        )
        .expect("the calendar reads");
        NamedCalendar {
            name: None,
            calendar: Calendar::compile(&spec).expect("the calendar compiles"),
        }
    }

    fn berlin(date: &str, time: &str) -> DateTime<Utc> {
        let local = format!("{date}T{time}:00")
            .parse::<chrono::NaiveDateTime>()
            .expect("a local time");
        Berlin
            .from_local_datetime(&local)
            .earliest()
            .expect("the time exists in Berlin")
            .with_timezone(&Utc)
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    fn due(side: DateSide, offset: &str, value: Option<&str>) -> Deadline {
        let length = TimerLength::FromDate {
            field: FieldId::new("start_date").expect("an id"),
            side,
            offset: offset.parse().expect("a duration"),
        };
        let value = value.map(|v| FieldValue::Text(v.to_owned()));
        length.deadline(&office(), berlin("2026-12-01", "10:00"), |_| value.as_ref())
    }

    #[test]
    fn a_date_means_the_start_of_its_working_day() {
        let office = office();
        assert_eq!(
            office.start_of_working_day(date("2026-12-21")),
            Some(berlin("2026-12-21", "09:00"))
        );
        // A Saturday and a holiday mean the next opening.
        assert_eq!(
            office.start_of_working_day(date("2026-12-19")),
            Some(berlin("2026-12-21", "09:00"))
        );
        assert_eq!(
            office.start_of_working_day(date("2026-12-24")),
            Some(berlin("2026-12-25", "09:00"))
        );
        // Round the clock, a date is its midnight in UTC.
        assert_eq!(
            NamedCalendar::round_the_clock().start_of_working_day(date("2026-12-24")),
            Some("2026-12-24T00:00:00Z".parse().expect("an instant"))
        );
    }

    #[test]
    fn offsets_count_working_time_on_either_side_of_the_date() {
        use DateSide::{After, Before};
        // Two business days before Monday the 21st: Thursday the 17th at opening.
        assert_eq!(
            due(Before, "2bd", Some("2026-12-21")),
            Deadline::At(berlin("2026-12-17", "09:00"))
        );
        // Business days skip the holiday on the 24th.
        assert_eq!(
            due(Before, "1bd", Some("2026-12-28")),
            Deadline::At(berlin("2026-12-25", "09:00"))
        );
        assert_eq!(
            due(Before, "2bd", Some("2026-12-28")),
            Deadline::At(berlin("2026-12-23", "09:00"))
        );
        // Hours are working hours: 4h before Monday's opening is Friday 13:00.
        assert_eq!(
            due(Before, "4h", Some("2026-12-21")),
            Deadline::At(berlin("2026-12-18", "13:00"))
        );
        assert_eq!(
            due(After, "1bd", Some("2026-12-18")),
            Deadline::At(berlin("2026-12-21", "09:00"))
        );
        assert_eq!(
            due(After, "2h", Some("2026-12-18")),
            Deadline::At(berlin("2026-12-18", "11:00"))
        );
    }

    #[test]
    fn no_date_no_timer_and_a_date_long_past_fires_at_once() {
        assert_eq!(due(DateSide::Before, "2bd", None), Deadline::None);
        assert_eq!(
            due(DateSide::Before, "2bd", Some("1900-01-01")),
            Deadline::At(berlin("2026-12-01", "10:00"))
        );
        assert_eq!(
            due(DateSide::After, "1d", Some("9999-12-31")),
            Deadline::OutOfRange
        );
    }
}
