//! Working time in a business-hours calendar, for SLA timers.
//!
//! A step's `due: 4h`, its warnings and escalation levels and a case's deadline count
//! working time: four hours of a Monday-to-Friday 09:00–17:00 calendar that start on
//! Friday at 16:00 end on Monday at 12:00. [`Calendar::compile`] turns a
//! [`CalendarSpec`] as written in YAML into a [`Calendar`], reporting every problem of the
//! spec at once; [`Calendar::always`] is the round-the-clock calendar of an SOP without one.
//!
//! Hours are local wall-clock time in the calendar's zone, and working time is real
//! elapsed time: the Berlin night the clocks spring forward, a 01:00–04:00 shift lasts two
//! hours. A local time the clocks skip counts from the end of the gap; a local time that
//! happens twice counts from its first occurrence.
//!
//! ```
//! use chrono::{TimeDelta, TimeZone, Utc};
//! use sopflow::calendar::Calendar;
//! use sopflow::model::{CalendarSpec, OrderedMap, Spanned};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let text = |s: &str| Spanned::unlocated(s.to_owned());
//! let spec = CalendarSpec {
//!     zone: text("Europe/Berlin"),
//!     hours: OrderedMap::from_entries([(
//!         text("mon-fri"),
//!         Spanned::unlocated(vec![text("09:00-17:00")]),
//!     )]),
//!     holidays: vec![text("every 12-25")],
//! };
//! let calendar = Calendar::compile(&spec).map_err(|problems| format!("{problems:?}"))?;
//!
//! // Friday 13 March 2026, 16:00 in Berlin: one hour on Friday, three on Monday.
//! let friday = Utc.with_ymd_and_hms(2026, 3, 13, 15, 0, 0).single().ok_or("no such time")?;
//! let due = calendar.add(friday, TimeDelta::hours(4)).ok_or("past the year 9999")?;
//! let monday_noon = Utc.with_ymd_and_hms(2026, 3, 16, 11, 0, 0).single().ok_or("no such time")?;
//! assert_eq!(due, monday_noon);
//! assert_eq!(calendar.working_between(friday, due), TimeDelta::hours(4));
//! # Ok(())
//! # }
//! ```
//!
//! # The spec
//!
//! - `zone`: an IANA time zone name (`Europe/Berlin`, `America/New_York`, `UTC`).
//! - `hours`: keys are days (`mon` … `sun`), ranges (`mon-fri`), comma lists
//!   (`mon,wed,fri`), mixes of both (`mon-wed,fri`) or `daily`, in any letter case. A range
//!   may wrap around the week: `fri-mon` is Friday, Saturday, Sunday and Monday. Each value
//!   lists intervals `HH:MM-HH:MM`; `24:00` may close one. An interval that ends before it
//!   starts (`22:00-06:00`) runs past midnight and belongs to the day it starts on. A day
//!   named by two keys gets the intervals of both, which must not overlap.
//! - `holidays`: dates `YYYY-MM-DD` and yearly ones `every MM-DD` (`every 02-29` only in
//!   leap years), in the calendar's zone. A holiday removes every interval that starts on
//!   it, a night shift included.
//!
//! # Range and cost
//!
//! Results are whole instants between 1970 and the end of the year 9999: [`Calendar::add`]
//! gives `None` past 9999 and [`Calendar::sub`] before 1970. A call walks the calendar one
//! local day at a time, so it costs a few lookups in the zone's rules per working day it
//! spans: a 4-hour or one-business-day timer takes well under a microsecond.

use std::cmp::{max, min};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};

use crate::model::{CalendarSpec, SourceSpan, Spanned};

/// A compiled working-hours calendar: it says which instants are working time.
///
/// Cheap to clone: clones share one copy of the compiled rules.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Calendar {
    /// `None` is the round-the-clock UTC calendar of [`Calendar::always`].
    rules: Option<Arc<Rules>>,
}

/// One problem in a calendar spec, located, with advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarProblem {
    /// The key or value the problem is about.
    pub span: SourceSpan,
    /// What is wrong, as a sentence an ops lead can act on.
    pub message: String,
    /// How to fix it, when there is more to say than the message.
    pub help: Option<String>,
}

impl fmt::Display for CalendarProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

impl Calendar {
    /// Round the clock in UTC: timers count elapsed time (what an SOP without a calendar
    /// gets).
    pub fn always() -> Calendar {
        Calendar { rules: None }
    }

    /// Whether this is [`Calendar::always`]. A compiled calendar open `daily` from `00:00`
    /// to `24:00` counts the same time but is not `always`: it has a zone of its own.
    pub fn is_always(&self) -> bool {
        self.rules.is_none()
    }

    /// Compiles a spec, reporting every problem (not just the first), in source order.
    ///
    /// Problems: an unknown zone, a key that is not a day, an interval that does not read
    /// `HH:MM-HH:MM` or is empty, intervals that overlap on one day (a night shift running
    /// into the next day's first interval, a day named by two keys), a holiday that is not
    /// a date, and a calendar without any working time.
    pub fn compile(spec: &CalendarSpec) -> Result<Calendar, Vec<CalendarProblem>> {
        let mut problems = Vec::new();
        let zone = compile_zone(&spec.zone, &mut problems);
        let week = compile_hours(spec, &mut problems);
        let holidays = compile_holidays(&spec.holidays, &mut problems);
        if problems.is_empty() {
            check_some_working_time(spec, &week, &holidays, &mut problems);
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| (p.span.line, p.span.column));
            return Err(problems);
        }
        Ok(Calendar {
            rules: Some(Arc::new(Rules::new(zone, week, holidays))),
        })
    }

    /// The zone the hours and holidays are in; UTC for [`Calendar::always`].
    pub fn zone(&self) -> Tz {
        self.rules.as_ref().map_or(Tz::UTC, |rules| rules.zone)
    }

    /// The instant at which `working` working time has elapsed since `start`.
    ///
    /// `add(t, 0) == t`, even outside working time. A start outside working time counts
    /// from the next opening. A result that lands exactly on a closing time is that
    /// closing time, not the next opening. A negative `working` counts backwards, as
    /// [`sub`](Self::sub) does. `None` only when the result would be past the year 9999.
    ///
    /// For `a, b >= 0`, `add(add(t, a), b) == add(t, a + b)` for every `t`: the walk never
    /// rounds, and one that stops on a closing time resumes at the next opening.
    pub fn add(&self, start: DateTime<Utc>, working: TimeDelta) -> Option<DateTime<Utc>> {
        if working.is_zero() {
            return Some(start);
        }
        if working < TimeDelta::zero() {
            return self.sub(start, working.abs());
        }
        let Some(rules) = self.round_the_clock_rules() else {
            return start
                .checked_add_signed(working)
                .filter(|end| end.timestamp() <= LAST_SECOND);
        };
        let from = nanos_of(start);
        let mut remaining = nanos_of_delta(working);
        // Working time never runs faster than the clock: this is past 9999 for sure.
        if from + remaining > LAST_INSTANT {
            return None;
        }
        for span in Forward::from_instant(rules, from, LAST_DAY)? {
            let (open, close) = span.nanos();
            if close <= from {
                continue;
            }
            let counted_from = max(open, from);
            let available = close - counted_from;
            if remaining <= available {
                return instant_of(counted_from + remaining);
            }
            remaining -= available;
        }
        None
    }

    /// The latest instant `t <= end` such that `working_between(t, end) == working`.
    ///
    /// For "warn 30 minutes before due": due on Monday at 09:30 in a calendar that opens at
    /// 09:00 gives Monday 09:00, not Friday 17:00. `sub(t, 0) == t`. A negative `working`
    /// counts forwards, as [`add`](Self::add) does. `None` when the result would be before
    /// 1970.
    pub fn sub(&self, end: DateTime<Utc>, working: TimeDelta) -> Option<DateTime<Utc>> {
        if working.is_zero() {
            return Some(end);
        }
        if working < TimeDelta::zero() {
            return self.add(end, working.abs());
        }
        let Some(rules) = self.round_the_clock_rules() else {
            return end
                .checked_sub_signed(working)
                .filter(|start| start.timestamp() >= 0);
        };
        let to = nanos_of(end);
        let mut remaining = nanos_of_delta(working);
        if to - remaining < FIRST_INSTANT {
            return None;
        }
        // Starting a day late catches an interval of the next local day that the clocks
        // turning back make start before `end`.
        let last_day = rules.local_day(to)?.saturating_add(1);
        let spans = Backward {
            rules,
            day: last_day,
            first_day: FIRST_DAY,
            shifts: rules.shifts_on(last_day),
        };
        for span in spans {
            let (open, close) = span.nanos();
            if open >= to {
                continue;
            }
            let counted_to = min(close, to);
            let available = counted_to - open;
            if remaining <= available {
                let result = counted_to - remaining;
                return (result >= FIRST_INSTANT)
                    .then(|| instant_of(result))
                    .flatten();
            }
            remaining -= available;
        }
        None
    }

    /// "Within n business days": the same position within the business day, `days`
    /// working days later.
    ///
    /// A business day is a local date with working time. The position is the working time
    /// elapsed since that day's first opening; a start outside working time counts from
    /// the next opening, where the position is the working time before it that day (zero
    /// at the day's first opening, so Saturday 10:00 plus one business day is Tuesday at
    /// opening time). On a target day with less working time the result clamps to its
    /// last closing time; a position that falls on a closing time with another interval
    /// after it (a lunch break) gives that interval's opening. A night shift belongs to
    /// the day it starts on. `days == 0` gives `start`. On [`Calendar::always`]:
    /// `start + days * 24h`. `None` when the result would be past the year 9999.
    pub fn add_business_days(&self, start: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
        if days == 0 {
            return Some(start);
        }
        let Some(rules) = &self.rules else {
            return TimeDelta::try_days(i64::from(days))
                .and_then(|elapsed| start.checked_add_signed(elapsed))
                .filter(|end| end.timestamp() <= LAST_SECOND);
        };
        let from = nanos_of(start);
        let first_day = rules.local_day(from)?.checked_sub(1)?;
        let spans = Forward {
            rules,
            day: first_day,
            last_day: LAST_DAY,
            shifts: rules.shifts_on(first_day),
        };
        let mut position = 0;
        let mut position_day = first_day;
        let mut anchor_day = None;
        for span in spans {
            if span.day != position_day {
                position_day = span.day;
                position = 0;
            }
            let (open, close) = span.nanos();
            if close <= from || close == open {
                position += close - open;
                continue;
            }
            position += max(0, from - open);
            anchor_day = Some(span.day);
            break;
        }
        let mut day = anchor_day?;
        let mut left = days;
        while left > 0 {
            day += 1;
            if day > LAST_DAY {
                return None;
            }
            if rules.working_on(day)? > 0 {
                left -= 1;
            }
        }
        let mut last_close = None;
        for (open, close) in rules.day_spans(day) {
            let (open, close) = (i128::from(open?) * NANOS, i128::from(close?) * NANOS);
            if position < close - open {
                return instant_of(open + position);
            }
            position -= close - open;
            last_close = Some(close);
        }
        instant_of(last_close?)
    }

    /// Working time in `[from, to)`; zero when `to <= from`.
    ///
    /// Instants before the year 1 or after 9999 count as if they were there.
    pub fn working_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        let from = nanos_of(from).max(FIRST_COUNTED_INSTANT);
        let to = nanos_of(to).min(LAST_INSTANT);
        if to <= from {
            return TimeDelta::zero();
        }
        let Some(rules) = self.round_the_clock_rules() else {
            return delta_of(to - from);
        };
        let Some(last_day) = rules.local_day(to) else {
            return TimeDelta::zero();
        };
        let Some(spans) = Forward::from_instant(rules, from, last_day.saturating_add(1)) else {
            return TimeDelta::zero();
        };
        let mut total = 0;
        for span in spans {
            let (open, close) = span.nanos();
            if open >= to {
                break;
            }
            if close > from {
                total += min(close, to) - max(open, from);
            }
        }
        delta_of(total)
    }

    /// Whether `at` is working time: intervals include their opening and exclude their
    /// closing time.
    pub fn is_working(&self, at: DateTime<Utc>) -> bool {
        let Some(rules) = self.round_the_clock_rules() else {
            return true;
        };
        let at = nanos_of(at);
        let Some(day) = rules.local_day(at) else {
            return false;
        };
        let Some(mut spans) = Forward::from_instant(rules, at, day.saturating_add(1)) else {
            return false;
        };
        spans
            .find(|span| span.nanos().1 > at)
            .is_some_and(|span| span.nanos().0 <= at)
    }

    /// Working time in a week without holidays, by the clock on the wall ("40h a week"),
    /// for lints and charts. 168 hours for [`Calendar::always`].
    pub fn weekly_working_time(&self) -> TimeDelta {
        match &self.rules {
            None => TimeDelta::weeks(1),
            Some(rules) => TimeDelta::seconds(rules.weekly_seconds),
        }
    }

    /// The rules, or `None` when every instant is working time and elapsed time is the
    /// answer (the fast path).
    fn round_the_clock_rules(&self) -> Option<&Rules> {
        self.rules.as_deref().filter(|rules| !rules.round_the_clock)
    }
}

// ---------------------------------------------------------------------------------------
// Time arithmetic. Instants are nanoseconds since 1970 in an i128: whole seconds across
// the years 1..=9999 and the nanoseconds of inputs, with no overflow to think about.

const NANOS: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
/// 9999-12-31T23:59:59Z, the last whole second a result may fall in.
const LAST_SECOND: i64 = 253_402_300_799;
/// 9999-12-31T23:59:59.999999999Z.
const LAST_INSTANT: i128 = LAST_SECOND as i128 * NANOS + (NANOS - 1);
/// 1970-01-01T00:00:00Z, the earliest result of `sub`.
const FIRST_INSTANT: i128 = 0;
/// 0001-01-01T00:00:00Z: `working_between` counts nothing before it.
const FIRST_COUNTED_INSTANT: i128 = -62_135_596_800 * NANOS;
/// The local day of 10000-01-01: no interval of a later day starts before 10000 in UTC,
/// whatever the zone's offset.
const LAST_DAY: i64 = 2_932_897;
/// Three local days before 1970: no interval of an earlier day ends after 1970 in UTC.
const FIRST_DAY: i64 = -3;
/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const EPOCH_DAYS_FROM_CE: i64 = 719_163;

fn nanos_of(instant: DateTime<Utc>) -> i128 {
    i128::from(instant.timestamp()) * NANOS + i128::from(instant.timestamp_subsec_nanos())
}

fn nanos_of_delta(delta: TimeDelta) -> i128 {
    // `subsec_nanos` has the sign of the delta, so the sum is exact both ways.
    i128::from(delta.num_seconds()) * NANOS + i128::from(delta.subsec_nanos())
}

/// The instant, or `None` when it is past the year 9999 (or unrepresentable).
fn instant_of(nanos: i128) -> Option<DateTime<Utc>> {
    if nanos > LAST_INSTANT {
        return None;
    }
    let seconds = i64::try_from(nanos.div_euclid(NANOS)).ok()?;
    let subsec = u32::try_from(nanos.rem_euclid(NANOS)).ok()?;
    DateTime::from_timestamp(seconds, subsec)
}

fn delta_of(nanos: i128) -> TimeDelta {
    let seconds = i64::try_from(nanos.div_euclid(NANOS)).unwrap_or(i64::MAX);
    let subsec = u32::try_from(nanos.rem_euclid(NANOS)).unwrap_or(0);
    TimeDelta::new(seconds, subsec).unwrap_or(TimeDelta::MAX)
}

/// Monday is 0: 1970-01-01, day 0, was a Thursday.
fn weekday_of(day: i64) -> usize {
    // rem_euclid(7) is in 0..7.
    (day + 3).rem_euclid(7) as usize
}

// ---------------------------------------------------------------------------------------
// The compiled rules.

/// A working interval of one weekday, in seconds after local midnight. `end` passes
/// 86,400 for a night shift that runs into the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shift {
    start: i64,
    end: i64,
}

/// Yearly holidays as a bit per month and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct YearlyDates([u64; 6]);

impl YearlyDates {
    fn bit(month: u32, day: u32) -> (usize, u64) {
        // month 1..=12 and day 1..=31 give 0..372, inside the 384 bits.
        let index = (month.saturating_sub(1) * 31 + day.saturating_sub(1)) as usize;
        (index / 64, 1 << (index % 64))
    }

    fn insert(&mut self, month: u32, day: u32) {
        let (word, bit) = YearlyDates::bit(month, day);
        self.0[word] |= bit;
    }

    fn contains(&self, month: u32, day: u32) -> bool {
        let (word, bit) = YearlyDates::bit(month, day);
        self.0[word] & bit != 0
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|word| *word == 0)
    }

    /// Whether every day of a leap year is in the set.
    fn is_every_day(&self) -> bool {
        (1..=366).all(|ordinal| {
            NaiveDate::from_yo_opt(2000, ordinal).is_some_and(|d| self.contains(d.month(), d.day()))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Holidays {
    /// Local day numbers (days since 1970-01-01), sorted, without duplicates.
    dated: Vec<i64>,
    yearly: YearlyDates,
}

#[derive(Debug, Clone, PartialEq)]
struct Rules {
    zone: Tz,
    /// Per weekday, Monday first: intervals sorted, not overlapping, touching ones merged.
    week: [Vec<Shift>; 7],
    holidays: Holidays,
    weekly_seconds: i64,
    /// Open daily 00:00–24:00 without holidays: every instant is working time.
    round_the_clock: bool,
}

impl Rules {
    fn new(zone: Tz, week: [Vec<Shift>; 7], holidays: Holidays) -> Rules {
        let weekly_seconds = week
            .iter()
            .flatten()
            .map(|shift| shift.end - shift.start)
            .sum();
        let whole_day = [Shift {
            start: 0,
            end: SECONDS_PER_DAY,
        }];
        let round_the_clock = holidays.dated.is_empty()
            && holidays.yearly.is_empty()
            && week.iter().all(|day| day.as_slice() == whole_day);
        Rules {
            zone,
            week,
            holidays,
            weekly_seconds,
            round_the_clock,
        }
    }

    fn is_holiday(&self, day: i64) -> bool {
        if self.holidays.dated.binary_search(&day).is_ok() {
            return true;
        }
        if self.holidays.yearly.is_empty() {
            return false;
        }
        i32::try_from(day + EPOCH_DAYS_FROM_CE)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .is_some_and(|date| self.holidays.yearly.contains(date.month(), date.day()))
    }

    /// The intervals that start on a local day: none on a holiday.
    fn shifts_on(&self, day: i64) -> &[Shift] {
        let shifts = &self.week[weekday_of(day)];
        if shifts.is_empty() || self.is_holiday(day) {
            &[]
        } else {
            shifts
        }
    }

    /// A day's working intervals as UTC seconds (`None` for an unrepresentable instant).
    fn day_spans(&self, day: i64) -> impl Iterator<Item = (Option<i64>, Option<i64>)> + '_ {
        let midnight = day * SECONDS_PER_DAY;
        self.shifts_on(day).iter().map(move |shift| {
            (
                self.to_utc(midnight + shift.start),
                self.to_utc(midnight + shift.end),
            )
        })
    }

    /// A day's working time in seconds, real elapsed time.
    fn working_on(&self, day: i64) -> Option<i64> {
        self.day_spans(day)
            .map(|(open, close)| Some(close? - open?))
            .sum()
    }

    /// The local day (days since 1970-01-01 on the zone's calendar) of an instant.
    fn local_day(&self, nanos: i128) -> Option<i64> {
        let seconds = i64::try_from(nanos.div_euclid(NANOS)).ok()?;
        let utc = DateTime::from_timestamp(seconds, 0)?.naive_utc();
        let offset = self
            .zone
            .offset_from_utc_datetime(&utc)
            .fix()
            .local_minus_utc();
        Some((seconds + i64::from(offset)).div_euclid(SECONDS_PER_DAY))
    }

    /// The UTC instant of a local wall-clock time, in seconds. A time the clocks skip maps
    /// to the end of the gap, one that happens twice to its first occurrence, so the map
    /// never runs backwards and intervals keep their order.
    fn to_utc(&self, local_seconds: i64) -> Option<i64> {
        let local = DateTime::from_timestamp(local_seconds, 0)?.naive_utc();
        match self.zone.offset_from_local_datetime(&local) {
            LocalResult::Single(offset) => {
                Some(local_seconds - i64::from(offset.fix().local_minus_utc()))
            }
            LocalResult::Ambiguous(first, second) => {
                let larger = max(
                    first.fix().local_minus_utc(),
                    second.fix().local_minus_utc(),
                );
                Some(local_seconds - i64::from(larger))
            }
            // Every gap ends before the zone's last rule, which lasts forever, so the end
            // is always known.
            LocalResult::None => GapInfo::new(&local, &self.zone)?
                .end
                .map(|end| end.timestamp()),
        }
    }
}

/// One working interval in UTC seconds, with the local day it belongs to. Empty when the
/// clocks skip all of it.
#[derive(Debug, Clone, Copy)]
struct WorkSpan {
    open: i64,
    close: i64,
    day: i64,
}

impl WorkSpan {
    fn nanos(self) -> (i128, i128) {
        (
            i128::from(self.open) * NANOS,
            i128::from(self.close) * NANOS,
        )
    }
}

/// The working intervals from a local day on, in time order.
struct Forward<'a> {
    rules: &'a Rules,
    day: i64,
    last_day: i64,
    /// The intervals of `day` not yet returned.
    shifts: &'a [Shift],
}

impl<'a> Forward<'a> {
    /// From the first interval that can end after `instant`: the night shift of the
    /// previous local day, if it has one, then the local day of `instant` on.
    fn from_instant(rules: &'a Rules, instant: i128, last_day: i64) -> Option<Forward<'a>> {
        let day = rules.local_day(instant)?.checked_sub(1)?;
        // The previous day's other intervals close by local midnight, which is no later
        // than `instant`; only one that runs past midnight can still be open.
        let shifts = rules.shifts_on(day);
        let night = shifts.partition_point(|shift| shift.end <= SECONDS_PER_DAY);
        Some(Forward {
            rules,
            day,
            last_day,
            shifts: &shifts[night..],
        })
    }
}

impl Iterator for Forward<'_> {
    type Item = WorkSpan;

    fn next(&mut self) -> Option<WorkSpan> {
        loop {
            if self.day > self.last_day {
                return None;
            }
            if let Some((shift, rest)) = self.shifts.split_first() {
                self.shifts = rest;
                let midnight = self.day * SECONDS_PER_DAY;
                return Some(WorkSpan {
                    open: self.rules.to_utc(midnight + shift.start)?,
                    close: self.rules.to_utc(midnight + shift.end)?,
                    day: self.day,
                });
            }
            self.day += 1;
            self.shifts = if self.day > self.last_day {
                &[]
            } else {
                self.rules.shifts_on(self.day)
            };
        }
    }
}

/// The working intervals up to a local day, latest first.
struct Backward<'a> {
    rules: &'a Rules,
    day: i64,
    first_day: i64,
    shifts: &'a [Shift],
}

impl Iterator for Backward<'_> {
    type Item = WorkSpan;

    fn next(&mut self) -> Option<WorkSpan> {
        loop {
            if self.day < self.first_day {
                return None;
            }
            if let Some((shift, rest)) = self.shifts.split_last() {
                self.shifts = rest;
                let midnight = self.day * SECONDS_PER_DAY;
                return Some(WorkSpan {
                    open: self.rules.to_utc(midnight + shift.start)?,
                    close: self.rules.to_utc(midnight + shift.end)?,
                    day: self.day,
                });
            }
            self.day -= 1;
            self.shifts = if self.day < self.first_day {
                &[]
            } else {
                self.rules.shifts_on(self.day)
            };
        }
    }
}

// ---------------------------------------------------------------------------------------
// Compiling a spec.

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MINUTES_PER_DAY: u32 = 1440;
const DAY_KEY_HELP: &str = "write a day as `mon`, `tue`, `wed`, `thu`, `fri`, `sat` or `sun`, a range as `mon-fri`, a list as `mon,wed,fri`, or `daily`";
const INTERVAL_HELP: &str = "write an interval as `HH:MM-HH:MM` in 24-hour time, like `09:00-17:00`; `24:00` may close a day, and `22:00-06:00` runs past midnight";
const HOLIDAY_HELP: &str = "write a date as `YYYY-MM-DD`, like `2026-12-24`, or a yearly holiday as `every MM-DD`, like `every 12-25`";

fn problem(span: SourceSpan, message: String, help: Option<String>) -> CalendarProblem {
    CalendarProblem {
        span,
        message,
        help,
    }
}

fn compile_zone(zone: &Spanned<String>, problems: &mut Vec<CalendarProblem>) -> Tz {
    if let Ok(tz) = zone.value.parse::<Tz>() {
        return tz;
    }
    let advice =
        "write an IANA time zone name such as `Europe/Berlin`, `America/New_York` or `UTC`";
    let help = match suggest_zone(&zone.value) {
        Some(name) => format!("did you mean `{name}`? {advice}"),
        None => advice.to_owned(),
    };
    problems.push(problem(
        zone.span,
        format!("`{}` is not a time zone", zone.value),
        Some(help),
    ));
    Tz::UTC
}

/// The zone name closest to what was written: the same name in another letter case, the
/// zone of a city written alone (`Berlin`, `new york`), or the nearest by spelling.
fn suggest_zone(written: &str) -> Option<&'static str> {
    let lowered = written.trim().to_lowercase().replace(' ', "_");
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    if let Some(name) = names().find(|name| name.to_lowercase() == lowered) {
        return Some(name);
    }
    let city_of = |name: &str| name.rsplit('/').next().map(str::to_lowercase);
    if let Some(name) = names()
        .find(|name| name.contains('/') && city_of(name).as_deref() == Some(lowered.as_str()))
    {
        return Some(name);
    }
    names()
        .map(|name| (strsim::jaro_winkler(&lowered, &name.to_lowercase()), name))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, name)| name)
}

/// The days a key names, Monday first as 0, or why it names none.
fn parse_day_key(key: &str) -> Result<Vec<usize>, Vec<(String, Option<String>)>> {
    let mut days = Vec::new();
    let mut errors = Vec::new();
    let day_of = |word: &str| -> Result<usize, (String, Option<String>)> {
        let lowered = word.trim().to_lowercase();
        if let Some(index) = DAY_NAMES.iter().position(|name| *name == lowered) {
            return Ok(index);
        }
        let message = if lowered.is_empty() {
            format!("`{key}` names an empty day")
        } else if word.trim() == key.trim() {
            format!("`{}` is not a day of the week", word.trim())
        } else {
            format!("`{}` in `{key}` is not a day of the week", word.trim())
        };
        Err((message, Some(day_help(&lowered))))
    };
    for item in key.split(',') {
        let named: Result<Vec<usize>, _> = if item.trim().eq_ignore_ascii_case("daily") {
            Ok((0..7).collect())
        } else if let Some((first, last)) = item.split_once('-') {
            match (day_of(first), day_of(last)) {
                (Ok(first), Ok(last)) => Ok(wrapping_range(first, last)),
                (first, last) => {
                    errors.extend(first.err());
                    errors.extend(last.err());
                    continue;
                }
            }
        } else {
            day_of(item).map(|day| vec![day])
        };
        match named {
            Ok(named) => {
                for day in named {
                    if days.contains(&day) {
                        errors.push((
                            format!("`{key}` names `{}` twice", DAY_NAMES[day]),
                            Some("name each day once in a key".to_owned()),
                        ));
                    } else {
                        days.push(day);
                    }
                }
            }
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(days)
    } else {
        Err(errors)
    }
}

/// `first` to `last` through the week, wrapping after Sunday: `fri-mon` is four days.
fn wrapping_range(first: usize, last: usize) -> Vec<usize> {
    let length = (last + 7 - first) % 7 + 1;
    (0..length).map(|step| (first + step) % 7).collect()
}

fn day_help(written: &str) -> String {
    let nearest = DAY_NAMES
        .iter()
        .chain(["daily"].iter())
        .map(|name| {
            // `monday` and `Thurs` start like the day they mean.
            let score = if written.len() > 3 && written.starts_with(name) {
                1.0
            } else {
                strsim::jaro_winkler(written, name)
            };
            (score, *name)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match nearest {
        Some((_, name)) => format!("did you mean `{name}`? {DAY_KEY_HELP}"),
        None => DAY_KEY_HELP.to_owned(),
    }
}

/// An interval as written, in minutes after the midnight of the day it starts on; the end
/// passes 1440 when it runs past midnight.
fn parse_interval(text: &str) -> Result<(u32, u32), (String, Option<String>)> {
    let bad = || {
        (
            format!("`{text}` is not a time interval"),
            Some(INTERVAL_HELP.to_owned()),
        )
    };
    let (open, close) = text.split_once('-').ok_or_else(bad)?;
    let (open, close) = (open.trim(), close.trim());
    let open_minutes = parse_clock(open).ok_or_else(bad)?;
    let close_minutes = parse_clock(close).ok_or_else(bad)?;
    let out_of_range = |clock: &str| {
        (
            format!("`{clock}` in `{text}` is not a time of day"),
            Some("hours run from 00 to 23 and minutes from 00 to 59; only `24:00` may close an interval".to_owned()),
        )
    };
    if open_minutes >= MINUTES_PER_DAY {
        return Err(if open_minutes == MINUTES_PER_DAY {
            (
                format!("`{text}` opens at 24:00"),
                Some(
                    "an interval opens between `00:00` and `23:59`; `24:00` may only close one"
                        .to_owned(),
                ),
            )
        } else {
            out_of_range(open)
        });
    }
    if close_minutes > MINUTES_PER_DAY {
        return Err(out_of_range(close));
    }
    if open_minutes == close_minutes {
        return Err((
            format!("`{text}` is empty: it opens and closes at the same time"),
            Some("for a whole day write `00:00-24:00`; for a day without working time leave the day out".to_owned()),
        ));
    }
    let close_minutes = if close_minutes < open_minutes {
        close_minutes + MINUTES_PER_DAY
    } else {
        close_minutes
    };
    Ok((open_minutes, close_minutes))
}

/// `HH:MM` (or `H:MM`) in minutes, up to `24:59` so that range errors can say which part
/// is out of range.
fn parse_clock(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    let digits = |s: &str, lengths: &[usize]| {
        (lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let hours = digits(hours, &[1, 2])?;
    let minutes = digits(minutes, &[2])?;
    if hours > 24 || minutes > 59 || (hours == 24 && minutes > 0) {
        return Some(u32::MAX);
    }
    Some(hours * 60 + minutes)
}

/// A working interval as written, placed on one weekday.
struct Placed {
    open: u32,
    close: u32,
    source: usize,
}

/// Where a placed interval was written.
struct Source<'a> {
    text: &'a Spanned<String>,
    key: &'a Spanned<String>,
}

/// Two written intervals that overlap, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Clash {
    /// On the same day; the first source was written after the second.
    SameDay { later: usize, earlier: usize },
    /// The night shift `night` runs into `next` on the following day.
    IntoNextDay { night: usize, next: usize },
}

fn compile_hours(spec: &CalendarSpec, problems: &mut Vec<CalendarProblem>) -> [Vec<Shift>; 7] {
    let mut sources = Vec::new();
    let mut placed: [Vec<Placed>; 7] = Default::default();
    for (key, intervals) in spec.hours.iter() {
        let days = match parse_day_key(&key.value) {
            Ok(days) => Some(days),
            Err(errors) => {
                for (message, help) in errors {
                    problems.push(problem(key.span, message, help));
                }
                None
            }
        };
        for text in intervals.value.iter() {
            match parse_interval(&text.value) {
                Ok((open, close)) => {
                    let source = sources.len();
                    sources.push(Source { text, key });
                    for &day in days.iter().flatten() {
                        placed[day].push(Placed {
                            open,
                            close,
                            source,
                        });
                    }
                }
                Err((message, help)) => problems.push(problem(text.span, message, help)),
            }
        }
    }
    for day in placed.iter_mut() {
        day.sort_by_key(|p| (p.open, p.close, p.source));
    }
    report_overlaps(&placed, &sources, problems);
    placed.map(|day| {
        let mut shifts: Vec<Shift> = Vec::with_capacity(day.len());
        for p in day {
            let shift = Shift {
                start: i64::from(p.open) * 60,
                end: i64::from(p.close) * 60,
            };
            match shifts.last_mut() {
                // Touching intervals (09:00-12:00, 12:00-17:00) are one stretch of work.
                Some(last) if last.end >= shift.start => last.end = max(last.end, shift.end),
                _ => shifts.push(shift),
            }
        }
        shifts
    })
}

fn report_overlaps(
    placed: &[Vec<Placed>; 7],
    sources: &[Source],
    problems: &mut Vec<CalendarProblem>,
) {
    // One problem per pair of written intervals, listing the days it happens on.
    let mut clashes: BTreeMap<Clash, Vec<usize>> = BTreeMap::new();
    for (day, intervals) in placed.iter().enumerate() {
        let mut reach: Option<&Placed> = None;
        for interval in intervals {
            if let Some(open_until) = reach
                && interval.open < open_until.close
            {
                let (later, earlier) = if interval.source > open_until.source {
                    (interval.source, open_until.source)
                } else {
                    (open_until.source, interval.source)
                };
                clashes
                    .entry(Clash::SameDay { later, earlier })
                    .or_default()
                    .push(day);
            }
            if reach.is_none_or(|r| interval.close > r.close) {
                reach = Some(interval);
            }
        }
        let next_day = &placed[(day + 1) % 7];
        for night in intervals.iter().filter(|i| i.close > MINUTES_PER_DAY) {
            let spill_until = night.close - MINUTES_PER_DAY;
            for next in next_day.iter().filter(|next| next.open < spill_until) {
                clashes
                    .entry(Clash::IntoNextDay {
                        night: night.source,
                        next: next.source,
                    })
                    .or_default()
                    .push(day);
            }
        }
    }
    for (clash, days) in clashes {
        problems.push(match clash {
            Clash::SameDay { later, earlier } => {
                same_day_overlap(&sources[later], &sources[earlier], &days)
            }
            Clash::IntoNextDay { night, next } => {
                night_overlap(&sources[night], &sources[next], &days)
            }
        });
    }
}

fn same_day_overlap(later: &Source, earlier: &Source, days: &[usize]) -> CalendarProblem {
    let on_days = day_list(days);
    if later.key.span == earlier.key.span && later.key.value == earlier.key.value {
        let merged = match (
            parse_interval(&later.text.value),
            parse_interval(&earlier.text.value),
        ) {
            (Ok(a), Ok(b)) if max(a.1, b.1) <= MINUTES_PER_DAY => {
                format!(", like `{}-{}`", clock(min(a.0, b.0)), clock(max(a.1, b.1)))
            }
            _ => String::new(),
        };
        problem(
            later.text.span,
            format!(
                "`{}` overlaps `{}` on {on_days}",
                later.text.value, earlier.text.value
            ),
            Some(format!(
                "intervals on one day must not overlap; merge them into one{merged}"
            )),
        )
    } else {
        problem(
            later.text.span,
            format!(
                "`{}` (under `{}`) overlaps `{}` (under `{}`{}) on {on_days}",
                later.text.value,
                later.key.value,
                earlier.text.value,
                earlier.key.value,
                line_of(earlier.text.span),
            ),
            Some("a day named by two keys gets the intervals of both; take the day out of one key or move the intervals apart".to_owned()),
        )
    }
}

fn night_overlap(night: &Source, next: &Source, days: &[usize]) -> CalendarProblem {
    let next_days: Vec<usize> = days.iter().map(|day| (day + 1) % 7).collect();
    let close = parse_interval(&night.text.value).map_or(String::new(), |(_, close)| {
        format!(" (until `{}`)", clock(close - MINUTES_PER_DAY))
    });
    problem(
        night.text.span,
        format!(
            "`{}` on {} runs past midnight into `{}` on {}{}",
            night.text.value,
            day_list(days),
            next.text.value,
            day_list(&next_days),
            line_of(next.text.span),
        ),
        Some(format!(
            "an interval that ends before it starts runs into the next day{close}; close it earlier or open the next day later"
        )),
    )
}

fn line_of(span: SourceSpan) -> String {
    if span.is_known() {
        format!(", line {}", span.line)
    } else {
        String::new()
    }
}

/// "mon", "mon and wed", "mon, tue and wed".
fn day_list(days: &[usize]) -> String {
    let names: Vec<&str> = days.iter().map(|&day| DAY_NAMES[day % 7]).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn clock(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn compile_holidays(written: &[Spanned<String>], problems: &mut Vec<CalendarProblem>) -> Holidays {
    let mut holidays = Holidays::default();
    for holiday in written {
        let text = holiday.value.trim();
        let yearly = text
            .get(..5)
            .filter(|word| word.eq_ignore_ascii_case("every"))
            .and_then(|_| text.get(5..));
        if let Some(rest) = yearly {
            let month_day = rest.trim_start();
            // A leap year has every month and day a yearly holiday can fall on.
            match parse_digits_date(&format!("2000-{month_day}")) {
                Some(date) if rest.starts_with(char::is_whitespace) => {
                    holidays.yearly.insert(date.month(), date.day())
                }
                _ => problems.push(problem(
                    holiday.span,
                    format!("`{}` is not a day of the year", holiday.value),
                    Some(HOLIDAY_HELP.to_owned()),
                )),
            }
        } else {
            match parse_digits_date(text) {
                Some(date) => holidays
                    .dated
                    .push(i64::from(date.num_days_from_ce()) - EPOCH_DAYS_FROM_CE),
                None => problems.push(problem(
                    holiday.span,
                    format!("`{}` is not a date", holiday.value),
                    Some(HOLIDAY_HELP.to_owned()),
                )),
            }
        }
    }
    holidays.dated.sort_unstable();
    holidays.dated.dedup();
    holidays
}

/// `YYYY-MM-DD` with exactly those digits, as a date that exists.
fn parse_digits_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    let year = text.get(0..4)?.parse().ok()?;
    let month = text.get(5..7)?.parse().ok()?;
    let day = text.get(8..10)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn check_some_working_time(
    spec: &CalendarSpec,
    week: &[Vec<Shift>; 7],
    holidays: &Holidays,
    problems: &mut Vec<CalendarProblem>,
) {
    let span = spec
        .hours
        .keys()
        .next()
        .map_or(spec.zone.span, |key| key.span);
    if week.iter().all(Vec::is_empty) {
        problems.push(problem(
            span,
            "the calendar has no working time: no day has opening hours".to_owned(),
            Some("add hours per day under `hours`, like `mon-fri: [\"09:00-17:00\"]`".to_owned()),
        ));
    } else if holidays.yearly.is_every_day() {
        let span = spec.holidays.first().map_or(span, |holiday| holiday.span);
        problems.push(problem(
            span,
            "the calendar has no working time: its yearly holidays cover every day of the year"
                .to_owned(),
            Some("remove the yearly holidays that are working days".to_owned()),
        ));
    }
}
