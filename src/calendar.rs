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
//! A compiled calendar counts working time from the year 1 to the end of 9999, to the
//! nanosecond: [`Calendar::add`] gives `None` past 9999 and [`Calendar::sub`] before 1970,
//! and an instant outside the range counts from its nearer end. A call walks the calendar
//! one local day at a time and costs a few lookups in the zone's rules per working day it
//! spans: a 4-hour or one-business-day timer takes a fraction of a microsecond, a year of
//! full-time work (2,000 hours) some tens of microseconds.

use std::cmp::{max, min};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};

use crate::model::{CalendarSpec, SourceSpan, Spanned};

/// A compiled working-hours calendar: it says which instants are working time.
///
/// Cheap to clone: clones share one copy of the compiled rules. The default is
/// [`Calendar::always`].
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
        // No working time is counted before the year 1, as in `working_between`.
        let from = nanos_of(start).max(FIRST_COUNTED_INSTANT);
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
        // No working time is counted after 9999, as in `working_between`.
        let to = nanos_of(end).min(LAST_INSTANT);
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
        let from = nanos_of(start).max(FIRST_COUNTED_INSTANT);
        let first_day = rules.local_day(from)?.checked_sub(1)?;
        // Each business day is a day of its own.
        if first_day.saturating_add(i64::from(days)) > LAST_DAY {
            return None;
        }
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
    /// Only time from the year 1 to the end of 9999 is counted.
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
        // `-` alone names two empty days: say it once.
        errors.dedup();
        Err(errors)
    }
}

/// `first` to `last` through the week, wrapping after Sunday: `fri-mon` is four days.
fn wrapping_range(first: usize, last: usize) -> Vec<usize> {
    let length = (last + 7 - first) % 7 + 1;
    (0..length).map(|step| (first + step) % 7).collect()
}

fn day_help(written: &str) -> String {
    const FULL_NAMES: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let meant = match written {
        "weekdays" | "weekday" | "workdays" => Some("mon-fri"),
        "weekends" | "weekend" => Some("sat,sun"),
        "everyday" | "every day" | "all" | "always" => Some("daily"),
        _ => None,
    };
    let nearest = meant.or_else(|| {
        DAY_NAMES
            .iter()
            .zip(FULL_NAMES)
            .map(|(short, full)| {
                // `tues` and `Thurs` start like the day they mean; `wendsday` is spelled
                // like its full name, `thr` like its short one.
                let score = if written.starts_with(short) {
                    1.0
                } else if written.len() <= 4 {
                    strsim::jaro_winkler(written, short)
                } else {
                    strsim::jaro_winkler(written, full)
                };
                (score, *short)
            })
            .chain([(strsim::jaro_winkler(written, "daily"), "daily")])
            .filter(|(score, _)| *score >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, name)| name)
    });
    match nearest {
        Some(name) => format!("did you mean `{name}`? {DAY_KEY_HELP}"),
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
    if std::ptr::eq(later.key, earlier.key) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDateTime, Timelike};
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Berlin;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    fn spec(yaml: &str) -> CalendarSpec {
        serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("test YAML does not parse: {e}"))
    }

    fn compile(yaml: &str) -> Calendar {
        Calendar::compile(&spec(yaml)).unwrap_or_else(|problems| panic!("{problems:#?}"))
    }

    fn problems(yaml: &str) -> Vec<CalendarProblem> {
        match Calendar::compile(&spec(yaml)) {
            Ok(calendar) => panic!("compiles: {calendar:?}"),
            Err(problems) => problems,
        }
    }

    /// A local wall-clock time in `zone`, as UTC; the earlier instant when it happens twice.
    fn local(zone: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        zone.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .unwrap_or_else(|| panic!("{y}-{mo}-{d} {h}:{mi} does not exist in {zone}"))
            .with_timezone(&Utc)
    }

    fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        local(Berlin, y, mo, d, h, mi)
    }

    fn new_york(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        local(New_York, y, mo, d, h, mi)
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        local(Tz::UTC, y, mo, d, h, mi)
    }

    fn hours(n: i64) -> TimeDelta {
        TimeDelta::hours(n)
    }

    fn minutes(n: i64) -> TimeDelta {
        TimeDelta::minutes(n)
    }

    // In 2026: Friday 5 June, Monday 8 June; Berlin springs forward on Sunday 29 March and
    // falls back on Sunday 25 October; New York on Sunday 8 March and Sunday 1 November.
    const OFFICE: &str = "zone: Europe/Berlin\nhours: { mon-fri: [\"09:00-17:00\"] }\n";

    #[test]
    fn four_hours_from_friday_afternoon_end_monday_at_noon() {
        let office = compile(OFFICE);
        assert_eq!(
            office.add(berlin(2026, 6, 5, 16, 0), hours(4)),
            Some(berlin(2026, 6, 8, 12, 0))
        );
        assert_eq!(
            office.working_between(berlin(2026, 6, 5, 16, 0), berlin(2026, 6, 8, 12, 0)),
            hours(4)
        );
    }

    #[test]
    fn weekends_and_nights_are_skipped() {
        let office = compile(OFFICE);
        // Saturday and Sunday count from Monday's opening.
        assert_eq!(
            office.add(berlin(2026, 6, 6, 10, 0), hours(1)),
            Some(berlin(2026, 6, 8, 10, 0))
        );
        assert_eq!(
            office.add(berlin(2026, 6, 7, 23, 59), minutes(90)),
            Some(berlin(2026, 6, 8, 10, 30))
        );
        // Before opening and after closing.
        assert_eq!(
            office.add(berlin(2026, 6, 2, 7, 0), hours(1)),
            Some(berlin(2026, 6, 2, 10, 0))
        );
        assert_eq!(
            office.add(berlin(2026, 6, 2, 18, 0), hours(1)),
            Some(berlin(2026, 6, 3, 10, 0))
        );
        // Two working weeks.
        assert_eq!(
            office.add(berlin(2026, 6, 2, 10, 0), hours(80)),
            Some(berlin(2026, 6, 16, 10, 0))
        );
        assert_eq!(
            office.working_between(berlin(2026, 6, 1, 0, 0), berlin(2026, 6, 8, 0, 0)),
            hours(40)
        );
    }

    #[test]
    fn a_result_on_closing_time_stays_there() {
        let office = compile(OFFICE);
        assert_eq!(
            office.add(berlin(2026, 6, 2, 13, 0), hours(4)),
            Some(berlin(2026, 6, 2, 17, 0))
        );
        assert_eq!(
            office.add(berlin(2026, 6, 5, 9, 0), hours(8)),
            Some(berlin(2026, 6, 5, 17, 0))
        );
        // And a timer started at closing time counts from the next opening.
        assert_eq!(
            office.add(berlin(2026, 6, 2, 17, 0), hours(1)),
            Some(berlin(2026, 6, 3, 10, 0))
        );
        assert!(office.is_working(berlin(2026, 6, 2, 9, 0)));
        assert!(office.is_working(berlin(2026, 6, 2, 16, 59)));
        assert!(!office.is_working(berlin(2026, 6, 2, 17, 0)));
        assert!(!office.is_working(berlin(2026, 6, 6, 12, 0)));
    }

    #[test]
    fn zero_is_no_time_at_all() {
        let office = compile(OFFICE);
        let saturday = berlin(2026, 6, 6, 10, 0);
        assert_eq!(office.add(saturday, TimeDelta::zero()), Some(saturday));
        assert_eq!(office.sub(saturday, TimeDelta::zero()), Some(saturday));
        assert_eq!(office.add_business_days(saturday, 0), Some(saturday));
        assert_eq!(
            office.working_between(saturday, saturday),
            TimeDelta::zero()
        );
        assert_eq!(
            office.working_between(berlin(2026, 6, 8, 12, 0), saturday),
            TimeDelta::zero()
        );
    }

    #[test]
    fn dated_holidays_are_skipped() {
        let calendar = compile(&format!("{OFFICE}holidays: [2026-06-08]\n"));
        assert_eq!(
            calendar.add(berlin(2026, 6, 5, 16, 0), hours(4)),
            Some(berlin(2026, 6, 9, 12, 0))
        );
        // Starting on the holiday counts from the next opening.
        assert_eq!(
            calendar.add(berlin(2026, 6, 8, 10, 0), hours(1)),
            Some(berlin(2026, 6, 9, 10, 0))
        );
        assert!(!calendar.is_working(berlin(2026, 6, 8, 10, 0)));
        assert_eq!(
            calendar.working_between(berlin(2026, 6, 8, 0, 0), berlin(2026, 6, 15, 0, 0)),
            hours(32)
        );
    }

    #[test]
    fn yearly_holidays_come_back_every_year() {
        let calendar = compile(&format!(
            "{OFFICE}holidays: [\"every 12-25\", \"Every 02-29\"]\n"
        ));
        // Thursday 24 December 2026, then Christmas on a Friday.
        assert_eq!(
            calendar.add(berlin(2026, 12, 24, 16, 0), hours(4)),
            Some(berlin(2026, 12, 28, 12, 0))
        );
        assert_eq!(
            calendar.add(berlin(2026, 12, 25, 10, 0), hours(1)),
            Some(berlin(2026, 12, 28, 10, 0))
        );
        // Christmas 2030 is a Wednesday.
        assert_eq!(
            calendar.add(berlin(2030, 12, 24, 16, 0), hours(4)),
            Some(berlin(2030, 12, 26, 12, 0))
        );
        // 29 February 2028 is a Tuesday; 2027 has none, and 1 March 2027 is a working Monday.
        assert_eq!(
            calendar.add(berlin(2028, 2, 28, 16, 0), hours(4)),
            Some(berlin(2028, 3, 1, 12, 0))
        );
        assert_eq!(
            calendar.add(berlin(2027, 2, 26, 16, 0), hours(4)),
            Some(berlin(2027, 3, 1, 12, 0))
        );
    }

    #[test]
    fn night_shifts_belong_to_the_day_they_start_on() {
        let nights = compile(
            "zone: Europe/Berlin\nhours: { mon-fri: [\"22:00-06:00\"] }\nholidays: [2026-06-03]\n",
        );
        assert_eq!(nights.weekly_working_time(), hours(40));
        // Monday's shift ends on Tuesday morning; Tuesday's starts at 22:00.
        assert_eq!(
            nights.add(berlin(2026, 6, 1, 23, 0), hours(8)),
            Some(berlin(2026, 6, 2, 23, 0))
        );
        // Friday's shift runs into Saturday; the next one is Monday night.
        assert_eq!(
            nights.add(berlin(2026, 6, 6, 5, 0), hours(2)),
            Some(berlin(2026, 6, 8, 23, 0))
        );
        assert!(nights.is_working(berlin(2026, 6, 6, 5, 59)));
        assert!(!nights.is_working(berlin(2026, 6, 7, 5, 0)));
        // The Wednesday holiday removes Wednesday night's shift, not Tuesday night's.
        assert!(nights.is_working(berlin(2026, 6, 3, 3, 0)));
        assert!(!nights.is_working(berlin(2026, 6, 3, 23, 0)));
        assert!(!nights.is_working(berlin(2026, 6, 4, 3, 0)));
        assert_eq!(
            nights.add(berlin(2026, 6, 2, 22, 0), hours(9)),
            Some(berlin(2026, 6, 4, 23, 0))
        );
        assert_eq!(
            nights.sub(berlin(2026, 6, 4, 23, 0), hours(9)),
            Some(berlin(2026, 6, 2, 22, 0))
        );
    }

    #[test]
    fn berlin_clock_changes_shorten_and_lengthen_a_night_shift() {
        let early = compile("zone: Europe/Berlin\nhours: { daily: [\"01:00-04:00\"] }\n");
        assert_eq!(early.weekly_working_time(), hours(21));
        let whole_day =
            |y, mo, d| early.working_between(berlin(y, mo, d, 0, 0), berlin(y, mo, d + 1, 0, 0));
        assert_eq!(whole_day(2026, 3, 28), hours(3));
        assert_eq!(whole_day(2026, 3, 29), hours(2));
        assert_eq!(whole_day(2026, 10, 25), hours(4));
        // Spring: 01:00 CET is 00:00 UTC, 04:00 CEST is 02:00 UTC.
        assert_eq!(
            early.add(berlin(2026, 3, 29, 1, 0), hours(2)),
            Some(utc(2026, 3, 29, 2, 0))
        );
        assert_eq!(
            early.add(berlin(2026, 3, 28, 3, 0), hours(2)),
            Some(utc(2026, 3, 29, 1, 0))
        );
        assert_eq!(
            early.sub(utc(2026, 3, 29, 2, 0), hours(2)),
            Some(utc(2026, 3, 29, 0, 0))
        );
        // Autumn: 01:00 CEST is 23:00 UTC the day before, 04:00 CET is 03:00 UTC.
        assert_eq!(
            early.add(berlin(2026, 10, 25, 1, 0), hours(3)),
            Some(utc(2026, 10, 25, 2, 0))
        );
        assert_eq!(
            early.add(berlin(2026, 10, 25, 1, 0), hours(4)),
            Some(utc(2026, 10, 25, 3, 0))
        );
        assert_eq!(
            early.sub(utc(2026, 10, 25, 3, 0), hours(4)),
            Some(utc(2026, 10, 24, 23, 0))
        );
        // Both passes through 02:00-03:00 are working time.
        assert!(early.is_working(utc(2026, 10, 25, 0, 30)));
        assert!(early.is_working(utc(2026, 10, 25, 1, 30)));
    }

    #[test]
    fn berlin_office_hours_across_both_clock_changes() {
        let office = compile(OFFICE);
        // Friday 27 March (CET) to Monday 30 March (CEST).
        let friday = berlin(2026, 3, 27, 16, 0);
        assert_eq!(friday, utc(2026, 3, 27, 15, 0));
        assert_eq!(office.add(friday, hours(4)), Some(utc(2026, 3, 30, 10, 0)));
        assert_eq!(
            office.working_between(friday, utc(2026, 3, 30, 10, 0)),
            hours(4)
        );
        assert_eq!(
            office.sub(berlin(2026, 3, 30, 9, 30), hours(1)),
            Some(berlin(2026, 3, 27, 16, 30))
        );
        // Friday 23 October (CEST) to Monday 26 October (CET).
        assert_eq!(
            office.add(berlin(2026, 10, 23, 16, 0), hours(4)),
            Some(utc(2026, 10, 26, 11, 0))
        );
        assert_eq!(
            office.sub(utc(2026, 10, 26, 11, 0), hours(4)),
            Some(berlin(2026, 10, 23, 16, 0))
        );
        assert_eq!(
            office.working_between(berlin(2026, 10, 19, 0, 0), berlin(2026, 11, 2, 0, 0)),
            hours(80)
        );
    }

    #[test]
    fn times_the_clocks_skip_or_repeat() {
        // 02:30 does not exist on 29 March: the interval opens at the end of the gap.
        let skipped = compile("zone: Europe/Berlin\nhours: { sun: [\"02:30-04:00\"] }\n");
        assert_eq!(
            skipped.working_between(berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 30, 0, 0)),
            hours(1)
        );
        assert_eq!(
            skipped.add(berlin(2026, 3, 28, 12, 0), minutes(1)),
            Some(utc(2026, 3, 29, 1, 1))
        );
        // 02:30 happens twice on 25 October: the interval opens at the first, and closes at
        // 03:30, which happens once, two hours later.
        let repeated = compile("zone: Europe/Berlin\nhours: { sun: [\"02:30-03:30\"] }\n");
        assert_eq!(
            repeated.working_between(berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0)),
            hours(2)
        );
        assert_eq!(
            repeated.add(berlin(2026, 10, 24, 12, 0), hours(2)),
            Some(utc(2026, 10, 25, 2, 30))
        );
        // An interval the gap swallows whole has no working time that day.
        let swallowed = compile("zone: Europe/Berlin\nhours: { sun: [\"02:10-02:50\"] }\n");
        assert_eq!(
            swallowed.working_between(berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 30, 0, 0)),
            TimeDelta::zero()
        );
        assert_eq!(
            swallowed.add(berlin(2026, 3, 28, 12, 0), minutes(40)),
            Some(berlin(2026, 4, 5, 2, 50))
        );
    }

    #[test]
    fn new_york_clock_changes() {
        let nights = compile("zone: America/New_York\nhours: { daily: [\"22:00-06:00\"] }\n");
        // Spring: Saturday 22:00 EST to Sunday 06:00 EDT is seven hours.
        let saturday = new_york(2026, 3, 7, 22, 0);
        assert_eq!(saturday, utc(2026, 3, 8, 3, 0));
        assert_eq!(
            nights.working_between(saturday, new_york(2026, 3, 8, 12, 0)),
            hours(7)
        );
        assert_eq!(
            nights.add(saturday, hours(7)),
            Some(new_york(2026, 3, 8, 6, 0))
        );
        assert_eq!(
            nights.add(saturday, hours(8)),
            Some(new_york(2026, 3, 8, 23, 0))
        );
        assert_eq!(
            nights.sub(new_york(2026, 3, 8, 6, 0), hours(7)),
            Some(saturday)
        );
        // Autumn: Saturday 22:00 EDT to Sunday 06:00 EST is nine hours.
        let halloween = new_york(2026, 10, 31, 22, 0);
        assert_eq!(
            nights.working_between(halloween, new_york(2026, 11, 1, 12, 0)),
            hours(9)
        );
        assert_eq!(
            nights.add(halloween, hours(8)),
            Some(utc(2026, 11, 1, 10, 0))
        );
        assert_eq!(
            nights.sub(new_york(2026, 11, 1, 6, 0), hours(9)),
            Some(halloween)
        );

        let office = compile("zone: America/New_York\nhours: { mon-fri: [\"09:00-17:00\"] }\n");
        assert_eq!(
            office.add(new_york(2026, 3, 6, 16, 0), hours(4)),
            Some(new_york(2026, 3, 9, 12, 0))
        );
        assert_eq!(
            office.add(new_york(2026, 10, 30, 16, 0), hours(4)),
            Some(new_york(2026, 11, 2, 12, 0))
        );
        assert_eq!(
            office.sub(new_york(2026, 11, 2, 9, 30), hours(1)),
            Some(new_york(2026, 10, 30, 16, 30))
        );
        assert_eq!(
            office.working_between(new_york(2026, 10, 30, 16, 0), new_york(2026, 11, 2, 12, 0)),
            hours(4)
        );
    }

    #[test]
    fn sub_finds_the_latest_start() {
        let office = compile(OFFICE);
        let monday = berlin(2026, 6, 8, 9, 30);
        assert_eq!(
            office.sub(monday, minutes(30)),
            Some(berlin(2026, 6, 8, 9, 0))
        );
        assert_eq!(
            office.sub(monday, minutes(31)),
            Some(berlin(2026, 6, 5, 16, 59))
        );
        assert_eq!(
            office.sub(berlin(2026, 6, 8, 9, 0), hours(1)),
            Some(berlin(2026, 6, 5, 16, 0))
        );
        assert_eq!(
            office.sub(berlin(2026, 6, 6, 10, 0), hours(1)),
            Some(berlin(2026, 6, 5, 16, 0))
        );
        assert_eq!(
            office.sub(berlin(2026, 6, 5, 17, 0), hours(8)),
            Some(berlin(2026, 6, 5, 9, 0))
        );
        // Negative durations count the other way.
        assert_eq!(
            office.add(monday, minutes(-30)),
            Some(berlin(2026, 6, 8, 9, 0))
        );
        assert_eq!(
            office.sub(monday, minutes(-30)),
            Some(berlin(2026, 6, 8, 10, 0))
        );
    }

    #[test]
    fn results_stay_between_1970_and_9999() {
        let office = compile(OFFICE);
        // Thursday 1 January 1970 has eight working hours, and `sub` looks no earlier.
        let friday = berlin(1970, 1, 2, 9, 0);
        assert_eq!(office.sub(friday, hours(8)), Some(berlin(1970, 1, 1, 9, 0)));
        assert_eq!(office.sub(friday, hours(9)), None);
        assert_eq!(office.add(utc(9999, 12, 20, 0, 0), hours(1000)), None);
        // Friday 31 December 9999 closes at 17:00 CET, and the next opening is in 10000.
        assert_eq!(
            office.add(utc(9999, 12, 31, 15, 30), minutes(30)),
            Some(utc(9999, 12, 31, 16, 0))
        );
        assert_eq!(office.add(utc(9999, 12, 31, 15, 30), hours(1)), None);
        assert_eq!(office.add_business_days(utc(9999, 12, 30, 12, 0), 5), None);
        let always = Calendar::always();
        assert_eq!(
            always.add(utc(9999, 12, 31, 23, 0), minutes(59)),
            Some(utc(9999, 12, 31, 23, 59))
        );
        assert_eq!(always.add(utc(9999, 12, 31, 23, 0), hours(1)), None);
        assert_eq!(
            always.sub(utc(1970, 1, 1, 1, 0), hours(1)),
            Some(utc(1970, 1, 1, 0, 0))
        );
        assert_eq!(always.sub(utc(1970, 1, 1, 1, 0), hours(2)), None);
    }

    #[test]
    fn extreme_inputs_never_panic() {
        let calendars = [
            Calendar::always(),
            compile(OFFICE),
            PROPERTY_CALENDARS[1].clone(),
        ];
        let instants = [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::UNIX_EPOCH,
            utc(1, 1, 1, 0, 0),
            utc(9999, 12, 31, 23, 59),
            utc(10000, 1, 1, 0, 0),
        ];
        let durations = [
            TimeDelta::MIN,
            TimeDelta::MAX,
            TimeDelta::nanoseconds(1),
            TimeDelta::nanoseconds(-1),
            hours(4),
            TimeDelta::days(400),
        ];
        for calendar in &calendars {
            for &t in &instants {
                calendar.is_working(t);
                calendar.add_business_days(t, u32::MAX);
                calendar.add_business_days(t, 1);
                for &d in &durations {
                    calendar.add(t, d);
                    calendar.sub(t, d);
                }
                for &u in &instants {
                    if (t - u).num_days().abs() < 10 * 366 {
                        calendar.working_between(t, u);
                    }
                }
            }
        }
    }

    #[test]
    fn nanoseconds_are_kept() {
        let office = compile(OFFICE);
        let start = berlin(2026, 6, 2, 10, 0) + TimeDelta::nanoseconds(123_456_789);
        let due = office.add(start, hours(7)).expect("before 9999");
        assert_eq!(
            due,
            berlin(2026, 6, 3, 9, 0) + TimeDelta::nanoseconds(123_456_789)
        );
        assert_eq!(office.working_between(start, due), hours(7));
        assert_eq!(office.sub(due, hours(7)), Some(start));
    }

    #[test]
    fn business_days_keep_the_position_in_the_day() {
        let office = compile(&format!("{OFFICE}holidays: [2026-06-15]\n"));
        assert_eq!(
            office.add_business_days(berlin(2026, 6, 2, 15, 0), 1),
            Some(berlin(2026, 6, 3, 15, 0))
        );
        assert_eq!(
            office.add_business_days(berlin(2026, 6, 5, 16, 0), 1),
            Some(berlin(2026, 6, 8, 16, 0))
        );
        assert_eq!(
            office.add_business_days(berlin(2026, 6, 5, 16, 0), 5),
            Some(berlin(2026, 6, 12, 16, 0))
        );
        // Saturday counts from Monday's opening.
        assert_eq!(
            office.add_business_days(berlin(2026, 6, 6, 10, 0), 1),
            Some(berlin(2026, 6, 9, 9, 0))
        );
        // Before opening and at closing time: from the next opening.
        assert_eq!(
            office.add_business_days(berlin(2026, 6, 2, 7, 0), 1),
            Some(berlin(2026, 6, 3, 9, 0))
        );
        assert_eq!(
            office.add_business_days(berlin(2026, 6, 5, 17, 0), 1),
            Some(berlin(2026, 6, 9, 9, 0))
        );
        // Monday 15 June is a holiday.
        assert_eq!(
            office.add_business_days(berlin(2026, 6, 12, 16, 0), 1),
            Some(berlin(2026, 6, 16, 16, 0))
        );
        // Across the clock change the position is working time, which is wall-clock time here.
        assert_eq!(
            office.add_business_days(berlin(2026, 3, 27, 11, 0), 1),
            Some(berlin(2026, 3, 30, 11, 0))
        );
    }

    #[test]
    fn business_days_clamp_to_a_shorter_day() {
        let calendar = compile(
            "zone: Europe/Berlin\nhours: { mon-fri: [\"09:00-17:00\"], sat: [\"09:00-13:00\"] }\n",
        );
        assert_eq!(
            calendar.add_business_days(berlin(2026, 6, 5, 11, 0), 1),
            Some(berlin(2026, 6, 6, 11, 0))
        );
        assert_eq!(
            calendar.add_business_days(berlin(2026, 6, 5, 15, 0), 1),
            Some(berlin(2026, 6, 6, 13, 0))
        );
        assert_eq!(
            calendar.add_business_days(berlin(2026, 6, 5, 15, 0), 2),
            Some(berlin(2026, 6, 8, 15, 0))
        );
    }

    #[test]
    fn business_days_with_breaks_and_night_shifts() {
        let lunch = compile(
            "zone: Europe/Berlin\nhours: { mon-fri: [\"09:00-12:00\", \"13:00-17:00\"] }\n",
        );
        // In the lunch break: from 13:00, three hours into the day, so 13:00 the next day.
        assert_eq!(
            lunch.add_business_days(berlin(2026, 6, 2, 12, 30), 1),
            Some(berlin(2026, 6, 3, 13, 0))
        );
        assert_eq!(
            lunch.add_business_days(berlin(2026, 6, 2, 14, 0), 1),
            Some(berlin(2026, 6, 3, 14, 0))
        );
        let nights = compile("zone: Europe/Berlin\nhours: { mon-fri: [\"22:00-06:00\"] }\n");
        // Tuesday 02:00 is in Monday's shift; one business day later is in Tuesday's.
        assert_eq!(
            nights.add_business_days(berlin(2026, 6, 2, 2, 0), 1),
            Some(berlin(2026, 6, 3, 2, 0))
        );
        assert_eq!(
            nights.add_business_days(berlin(2026, 6, 6, 2, 0), 1),
            Some(berlin(2026, 6, 9, 2, 0))
        );
    }

    #[test]
    fn always_counts_elapsed_time() {
        let always = Calendar::always();
        assert!(always.is_always());
        assert_eq!(always, Calendar::default());
        assert_eq!(always.zone(), Tz::UTC);
        assert_eq!(always.weekly_working_time(), hours(168));
        let saturday = utc(2026, 6, 6, 10, 0);
        assert!(always.is_working(saturday));
        assert_eq!(always.add(saturday, hours(4)), Some(utc(2026, 6, 6, 14, 0)));
        assert_eq!(always.sub(saturday, hours(4)), Some(utc(2026, 6, 6, 6, 0)));
        assert_eq!(
            always.add_business_days(saturday, 2),
            Some(utc(2026, 6, 8, 10, 0))
        );
        assert_eq!(
            always.working_between(saturday, utc(2026, 6, 8, 10, 0)),
            hours(48)
        );
    }

    #[test]
    fn a_calendar_open_round_the_clock_counts_elapsed_time_in_its_zone() {
        let calendar =
            compile("zone: Europe/Berlin\nhours: { daily: [\"00:00-12:00\", \"12:00-24:00\"] }\n");
        assert!(!calendar.is_always());
        assert_eq!(calendar.zone(), Berlin);
        assert_eq!(calendar.weekly_working_time(), hours(168));
        let start = berlin(2026, 3, 28, 12, 0);
        assert_eq!(
            calendar.add(start, hours(24)),
            Some(berlin(2026, 3, 29, 13, 0))
        );
        assert_eq!(
            calendar.working_between(start, berlin(2026, 3, 29, 12, 0)),
            hours(23)
        );
        assert_eq!(
            calendar.add_business_days(start, 1),
            Some(berlin(2026, 3, 29, 13, 0))
        );
    }

    #[test]
    fn day_keys_take_ranges_lists_and_daily() {
        let wrapping =
            compile("zone: UTC\nhours: { Fri-Mon: [\"10:00-11:00\"], wed: [\"10:00-11:00\"] }\n");
        assert_eq!(wrapping.weekly_working_time(), hours(5));
        assert!(
            wrapping.is_working(utc(2026, 6, 6, 10, 30)),
            "saturday is within fri-mon"
        );
        assert!(
            !wrapping.is_working(utc(2026, 6, 2, 10, 30)),
            "tuesday is not"
        );
        let listed = compile(
            "zone: UTC\nhours: { \"mon, wed-thu\": [\"08:00-12:00\"], daily: [\"13:00-14:00\"] }\n",
        );
        assert_eq!(listed.weekly_working_time(), hours(12 + 7));
        // A day named by two keys gets both keys' intervals.
        let split =
            compile("zone: UTC\nhours: { mon-fri: [\"09:00-12:00\"], mon: [\"13:00-17:00\"] }\n");
        assert_eq!(split.weekly_working_time(), hours(19));
        assert_eq!(compile(OFFICE).weekly_working_time(), hours(40));
        assert_eq!(compile(OFFICE).zone(), Berlin);
    }

    #[test]
    fn clones_share_rules_and_equal_specs_compile_equal() {
        let office = compile(OFFICE);
        assert_eq!(office.clone(), office);
        assert_eq!(compile(OFFICE), office);
        assert_ne!(
            compile("zone: UTC\nhours: { mon-fri: [\"09:00-17:00\"] }\n"),
            office
        );
    }

    // ----- problems

    /// The one problem of a spec, as (line, message, help).
    fn only_problem(yaml: &str) -> (u32, String, String) {
        let mut found = problems(yaml);
        assert_eq!(found.len(), 1, "{found:#?}");
        let problem = found.remove(0);
        (
            problem.span.line,
            problem.message,
            problem.help.unwrap_or_default(),
        )
    }

    #[test]
    fn unknown_zones_get_the_nearest_name() {
        let (line, message, help) =
            only_problem("hours: { mon: [\"09:00-17:00\"] }\nzone: Europe/Berln\n");
        assert_eq!(line, 2);
        assert_eq!(message, "`Europe/Berln` is not a time zone");
        assert!(
            help.starts_with("did you mean `Europe/Berlin`? write an IANA time zone name"),
            "{help}"
        );
        for (written, meant) in [
            ("europe/berlin", "Europe/Berlin"),
            ("New York", "America/New_York"),
            ("america/new_yrok", "America/New_York"),
        ] {
            let (_, _, help) = only_problem(&format!(
                "zone: {written}\nhours: {{ mon: [\"09:00-17:00\"] }}\n"
            ));
            assert!(
                help.starts_with(&format!("did you mean `{meant}`?")),
                "{written}: {help}"
            );
        }
        let (_, _, help) =
            only_problem("zone: Mars/Olympus_Mons\nhours: { mon: [\"09:00-17:00\"] }\n");
        assert_eq!(
            help,
            "write an IANA time zone name such as `Europe/Berlin`, `America/New_York` or `UTC`"
        );
    }

    #[test]
    fn bad_day_keys_get_the_nearest_day() {
        let (line, message, help) = only_problem("zone: UTC\nhours:\n  thr: [\"09:00-17:00\"]\n");
        assert_eq!(line, 3);
        assert_eq!(message, "`thr` is not a day of the week");
        assert_eq!(help, format!("did you mean `thu`? {DAY_KEY_HELP}"));
        let (_, message, help) =
            only_problem("zone: UTC\nhours: { \"mon,Monday\": [\"09:00-17:00\"] }\n");
        assert_eq!(message, "`Monday` in `mon,Monday` is not a day of the week");
        assert!(help.starts_with("did you mean `mon`?"), "{help}");
        let (_, message, _) =
            only_problem("zone: UTC\nhours: { \"mon,,fri\": [\"09:00-17:00\"] }\n");
        assert_eq!(message, "`mon,,fri` names an empty day");
        let (_, message, _) = only_problem("zone: UTC\nhours: { \"-\": [\"09:00-17:00\"] }\n");
        assert_eq!(message, "`-` names an empty day");
        let (_, message, help) =
            only_problem("zone: UTC\nhours: { \"mon-fri,wed\": [\"09:00-17:00\"] }\n");
        assert_eq!(message, "`mon-fri,wed` names `wed` twice");
        assert_eq!(help, "name each day once in a key");
        let (_, message, help) =
            only_problem("zone: UTC\nhours: { weekdays: [\"09:00-17:00\"] }\n");
        assert_eq!(message, "`weekdays` is not a day of the week");
        assert_eq!(help, format!("did you mean `mon-fri`? {DAY_KEY_HELP}"));
        for (written, meant) in [
            ("Thurs", "thu"),
            ("wendsday", "wed"),
            ("satruday", "sat"),
            ("dayly", "daily"),
        ] {
            let (_, _, help) = only_problem(&format!(
                "zone: UTC\nhours: {{ {written}: [\"09:00-17:00\"] }}\n"
            ));
            assert!(
                help.starts_with(&format!("did you mean `{meant}`?")),
                "{written}: {help}"
            );
        }
        let (_, _, help) = only_problem("zone: UTC\nhours: { xyz: [\"09:00-17:00\"] }\n");
        assert_eq!(help, DAY_KEY_HELP);
    }

    #[test]
    fn bad_intervals_say_how_to_write_one() {
        let (line, message, help) = only_problem("zone: UTC\nhours:\n  mon:\n    - \"9-17\"\n");
        assert_eq!(line, 4);
        assert_eq!(message, "`9-17` is not a time interval");
        assert_eq!(help, INTERVAL_HELP);
        let (_, message, help) = only_problem("zone: UTC\nhours: { mon: [\"09:00-25:00\"] }\n");
        assert_eq!(message, "`25:00` in `09:00-25:00` is not a time of day");
        assert_eq!(
            help,
            "hours run from 00 to 23 and minutes from 00 to 59; only `24:00` may close an interval"
        );
        let (_, message, _) = only_problem("zone: UTC\nhours: { mon: [\"09:60-10:00\"] }\n");
        assert_eq!(message, "`09:60` in `09:60-10:00` is not a time of day");
        let (_, message, _) = only_problem("zone: UTC\nhours: { mon: [\"24:00-02:00\"] }\n");
        assert_eq!(message, "`24:00-02:00` opens at 24:00");
        let (_, message, help) = only_problem("zone: UTC\nhours: { mon: [\"09:00-09:00\"] }\n");
        assert_eq!(
            message,
            "`09:00-09:00` is empty: it opens and closes at the same time"
        );
        assert_eq!(
            help,
            "for a whole day write `00:00-24:00`; for a day without working time leave the day out"
        );
        // Accepted: a single-digit hour, spaces around the dash, 24:00 and 00:00 as ends.
        compile(
            "zone: UTC\nhours: { mon: [\"9:00 - 12:00\"], tue: [\"00:00-24:00\"], wed: [\"22:00-00:00\"] }\n",
        );
    }

    #[test]
    fn overlapping_intervals_are_reported_once_with_their_days() {
        let (line, message, help) =
            only_problem("zone: UTC\nhours:\n  mon-fri: [\"09:00-12:00\", \"11:00-13:00\"]\n");
        assert_eq!(line, 3);
        assert_eq!(
            message,
            "`11:00-13:00` overlaps `09:00-12:00` on mon, tue, wed, thu and fri"
        );
        assert_eq!(
            help,
            "intervals on one day must not overlap; merge them into one, like `09:00-13:00`"
        );
        let (line, message, help) = only_problem(
            "zone: UTC\nhours:\n  mon-fri: [\"09:00-17:00\"]\n  wed,sat: [\"16:00-18:00\"]\n",
        );
        assert_eq!(line, 4);
        assert_eq!(
            message,
            "`16:00-18:00` (under `wed,sat`) overlaps `09:00-17:00` (under `mon-fri`, line 3) on wed"
        );
        assert_eq!(
            help,
            "a day named by two keys gets the intervals of both; take the day out of one key or move the intervals apart"
        );
        let (line, message, help) = only_problem(
            "zone: UTC\nhours:\n  mon-fri: [\"05:00-09:00\"]\n  sun: [\"22:00-06:00\"]\n",
        );
        assert_eq!(line, 4);
        assert_eq!(
            message,
            "`22:00-06:00` on sun runs past midnight into `05:00-09:00` on mon, line 3"
        );
        assert_eq!(
            help,
            "an interval that ends before it starts runs into the next day (until `06:00`); close it earlier or open the next day later"
        );
        // Touching is not overlapping.
        compile(
            "zone: UTC\nhours: { mon: [\"09:00-12:00\", \"12:00-17:00\", \"22:00-06:00\"], tue: [\"06:00-09:00\"] }\n",
        );
    }

    #[test]
    fn bad_holidays_say_how_to_write_one() {
        let (line, message, help) = only_problem(&format!("{OFFICE}holidays:\n  - 2026-02-30\n"));
        assert_eq!(line, 4);
        assert_eq!(message, "`2026-02-30` is not a date");
        assert_eq!(help, HOLIDAY_HELP);
        let (_, message, _) = only_problem(&format!("{OFFICE}holidays: [\"every 02-30\"]\n"));
        assert_eq!(message, "`every 02-30` is not a day of the year");
        let (_, message, _) = only_problem(&format!("{OFFICE}holidays: [\"every12-25\"]\n"));
        assert_eq!(message, "`every12-25` is not a day of the year");
        let (_, message, _) = only_problem(&format!("{OFFICE}holidays: [25.12.2026]\n"));
        assert_eq!(message, "`25.12.2026` is not a date");
    }

    #[test]
    fn a_calendar_without_working_time_is_refused() {
        let (line, message, help) = only_problem("zone: UTC\nhours:\n  mon: []\n");
        assert_eq!(line, 3);
        assert_eq!(
            message,
            "the calendar has no working time: no day has opening hours"
        );
        assert_eq!(
            help,
            "add hours per day under `hours`, like `mon-fri: [\"09:00-17:00\"]`"
        );
        let (line, message, _) = only_problem("zone: UTC\nhours: {}\n");
        assert_eq!(line, 1, "no key to point at: the zone");
        assert_eq!(
            message,
            "the calendar has no working time: no day has opening hours"
        );
        let every_day: Vec<String> = (1..=366)
            .filter_map(|ordinal| NaiveDate::from_yo_opt(2000, ordinal))
            .map(|d| format!("\"every {:02}-{:02}\"", d.month(), d.day()))
            .collect();
        let (_, message, help) =
            only_problem(&format!("{OFFICE}holidays: [{}]\n", every_day.join(", ")));
        assert_eq!(
            message,
            "the calendar has no working time: its yearly holidays cover every day of the year"
        );
        assert_eq!(help, "remove the yearly holidays that are working days");
    }

    #[test]
    fn every_problem_is_reported_in_source_order() {
        let found = problems(
            "zone: Europe/Berln\nhours:\n  thr: [\"09:00-17:00\"]\n  mon: [\"9-5\", \"10:00-10:00\"]\nholidays: [2026-13-01, \"every 12-25\"]\n",
        );
        let lines: Vec<u32> = found.iter().map(|p| p.span.line).collect();
        assert_eq!(lines, [1, 3, 4, 4, 5], "{found:#?}");
        assert!(found.iter().all(|p| p.help.is_some()));
        assert_eq!(
            found[0].to_string(),
            format!(
                "{} (help: {})",
                found[0].message,
                found[0].help.clone().unwrap_or_default()
            )
        );
    }

    // ----- properties

    /// Calendars the properties run on: office hours with holidays, night shifts across
    /// New York's clock changes, early shifts across Berlin's (with intervals the clocks
    /// skip or repeat), and split days with a short Saturday.
    static PROPERTY_CALENDARS: LazyLock<Vec<Calendar>> = LazyLock::new(|| {
        [
            "zone: Europe/Berlin\nhours: { mon-fri: [\"09:00-17:00\"] }\nholidays: [2026-06-08, 2027-04-02, \"every 12-25\", \"every 01-01\", \"every 02-29\"]\n",
            "zone: America/New_York\nhours: { daily: [\"22:00-06:00\"] }\nholidays: [\"every 07-04\"]\n",
            "zone: Europe/Berlin\nhours: { mon-sat: [\"01:00-04:00\"], sun: [\"02:30-03:15\", \"12:00-12:01\"] }\n",
            "zone: Europe/Berlin\nhours: { mon-fri: [\"09:00-12:00\", \"13:00-17:30\"], sat: [\"10:00-13:00\"] }\nholidays: [\"every 05-01\"]\n",
        ]
        .iter()
        .map(|yaml| compile(yaml))
        .collect()
    });

    /// Instants from 2024 to 2030, often on the hour so that they hit openings, closings
    /// and clock changes.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        const FROM: i64 = 1_704_067_200; // 2024-01-01
        const TO: i64 = 1_924_992_000; // 2031-01-01
        prop_oneof![
            (FROM..TO),
            (FROM / 3600..TO / 3600).prop_map(|hour| hour * 3600),
            (FROM / 900..TO / 900).prop_map(|quarter| quarter * 900),
        ]
        .prop_map(|seconds| DateTime::from_timestamp(seconds, 0).unwrap_or_default())
    }

    /// Working durations up to 300 hours, in seconds or quarter hours, zero included.
    fn duration() -> impl Strategy<Value = TimeDelta> {
        prop_oneof![
            Just(0i64),
            0..1_080_000i64,
            (0..1_200i64).prop_map(|quarters| quarters * 900),
        ]
        .prop_map(TimeDelta::seconds)
    }

    fn calendar() -> impl Strategy<Value = &'static Calendar> {
        (0..PROPERTY_CALENDARS.len()).prop_map(|i| &PROPERTY_CALENDARS[i])
    }

    /// `a <= b` where `None` is later than every instant.
    fn no_later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> bool {
        match (a, b) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => a <= b,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn add_is_monotonic(calendar in calendar(), t in instant(), d in duration(), more in duration(), later in duration()) {
            prop_assert!(no_later(calendar.add(t, d), calendar.add(t, d + more)));
            prop_assert!(no_later(calendar.add(t, d), calendar.add(t + later, d)));
        }

        /// Holds for every start, inside working time or not, and every pair of durations
        /// at least zero: `add` consumes working time exactly along one fixed sequence of
        /// intervals, and a walk that stops on a closing time resumes at the next opening
        /// just as the longer walk goes on there.
        #[test]
        fn add_composes(calendar in calendar(), t in instant(), a in duration(), b in duration()) {
            prop_assert_eq!(calendar.add(t, a).and_then(|x| calendar.add(x, b)), calendar.add(t, a + b));
        }

        #[test]
        fn add_adds_exactly_that_much_working_time(calendar in calendar(), t in instant(), d in duration()) {
            let due = calendar.add(t, d).expect("before 9999");
            prop_assert_eq!(calendar.working_between(t, due), d);
            if d > TimeDelta::zero() {
                // The earliest such instant: the second before it is working time.
                prop_assert!(calendar.is_working(due - TimeDelta::seconds(1)));
            }
        }

        #[test]
        fn sub_inverts_add(calendar in calendar(), t in instant(), d in duration()) {
            let start = calendar.sub(t, d).expect("after 1970");
            prop_assert!(start <= t);
            prop_assert_eq!(calendar.working_between(start, t), d);
            prop_assert!(no_later(calendar.add(start, d), Some(t)));
            if d > TimeDelta::zero() {
                // The latest such instant: it is working time itself.
                prop_assert!(calendar.is_working(start));
            }
            let due = calendar.add(t, d).expect("before 9999");
            prop_assert!(calendar.sub(due, d).expect("after 1970") >= t);
            // Exact inverses where no idle time is next to `t` on the side they count from.
            if calendar.is_working(t) {
                prop_assert_eq!(calendar.sub(due, d), Some(t));
            }
            if calendar.is_working(t - TimeDelta::seconds(1)) {
                prop_assert_eq!(calendar.add(start, d), Some(t));
            }
        }

        #[test]
        fn working_between_adds_up(calendar in calendar(), a in instant(), b in instant(), c in instant()) {
            let mut points = [a, b, c];
            points.sort();
            let [a, b, c] = points;
            let whole = calendar.working_between(a, c);
            prop_assert_eq!(whole, calendar.working_between(a, b) + calendar.working_between(b, c));
            prop_assert!(whole <= c - a);
        }

        #[test]
        fn business_days_move_forward(calendar in calendar(), t in instant(), n in 1u32..30) {
            let next = calendar.add_business_days(t, n).expect("before 9999");
            let after = calendar.add_business_days(t, n + 1).expect("before 9999");
            prop_assert!(t < next && next < after);
            // Within working time, or on the closing time of a shorter day.
            prop_assert!(calendar.is_working(next) || calendar.is_working(next - TimeDelta::seconds(1)));
        }

        #[test]
        fn anything_from_1970_to_9999_never_panics(
            calendar in calendar(),
            seconds in 0..=LAST_SECOND,
            nanos in 0..1_000_000_000u32,
            // Up to two years of full-time work.
            working in -15_000_000i64..15_000_000,
            span in 0..(3 * 366 * 86_400i64),
            days in 0..600u32,
        ) {
            let t = DateTime::from_timestamp(seconds, nanos).unwrap_or_default();
            let working = TimeDelta::seconds(working);
            let _ = calendar.add(t, working);
            let _ = calendar.sub(t, working);
            let _ = calendar.add_business_days(t, days);
            let _ = calendar.is_working(t);
            let _ = calendar.working_between(t, t + TimeDelta::seconds(span));
        }
    }

    /// Zones whose clocks do unusual things: Apia skipped 30 December 2011, Lord Howe moves
    /// by 30 minutes, Kathmandu is at +5:45, Casablanca changes around Ramadan, Dublin's
    /// summer time is its standard time, Troll jumps by two hours, Sao Paulo changed at
    /// midnight until 2019.
    const UNUSUAL_ZONES: [&str; 8] = [
        "Pacific/Apia",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Africa/Casablanca",
        "Europe/Dublin",
        "Antarctica/Troll",
        "America/Sao_Paulo",
        "America/St_Johns",
    ];

    /// A calendar of a few random intervals (night shifts included) in an unusual zone;
    /// specs whose intervals overlap are dropped.
    fn unusual_calendar() -> impl Strategy<Value = Calendar> {
        let interval = (0..7usize, 0..96u32, 1..80u32);
        (
            proptest::sample::select(&UNUSUAL_ZONES[..]),
            proptest::collection::vec(interval, 1..6),
        )
            .prop_filter_map("overlapping intervals", |(zone, intervals)| {
                let mut days: BTreeMap<usize, Vec<String>> = BTreeMap::new();
                for (day, start, length) in intervals {
                    let open = start * 15;
                    let close = (open + length * 15) % MINUTES_PER_DAY;
                    days.entry(day).or_default().push(format!(
                        "\"{}-{}\"",
                        clock(open),
                        clock(close)
                    ));
                }
                let hours: Vec<String> = days
                    .iter()
                    .map(|(day, list)| format!("{}: [{}]", DAY_NAMES[*day], list.join(", ")))
                    .collect();
                let yaml = format!("zone: {zone}\nhours: {{ {} }}\n", hours.join(", "));
                Calendar::compile(&spec(&yaml)).ok()
            })
    }

    /// Instants from 2008 to 2030, on the second or the quarter hour.
    fn instant_since_2008() -> impl Strategy<Value = DateTime<Utc>> {
        const FROM: i64 = 1_199_145_600; // 2008-01-01
        const TO: i64 = 1_924_992_000; // 2031-01-01
        prop_oneof![
            (FROM..TO),
            (FROM / 900..TO / 900).prop_map(|quarter| quarter * 900)
        ]
        .prop_map(|seconds| DateTime::from_timestamp(seconds, 0).unwrap_or_default())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn unusual_zones_keep_the_laws(
            calendar in unusual_calendar(),
            t in instant_since_2008(),
            a in duration(),
            b in duration(),
        ) {
            let due = calendar.add(t, a).expect("before 9999");
            prop_assert_eq!(calendar.working_between(t, due), a);
            prop_assert_eq!(calendar.add(due, b), calendar.add(t, a + b));
            prop_assert!(no_later(Some(due), calendar.add(t, a + b)));
            let start = calendar.sub(t, a).expect("after 1970");
            prop_assert_eq!(calendar.working_between(start, t), a);
            prop_assert!(no_later(calendar.add(start, a), Some(t)));
            let next = calendar.add_business_days(t, 1).expect("before 9999");
            prop_assert!(next > t);
        }
    }

    // ----- an independent check: working time by the wall clock, minute by minute

    /// A calendar described directly, for calendars whose interval ends never fall in a
    /// clock change (there, wall-clock membership is the whole definition).
    struct WallClock {
        zone: Tz,
        /// Per weekday, Monday first: intervals in minutes, ending up to 2880.
        week: [&'static [(u32, u32)]; 7],
        holiday: fn(NaiveDate) -> bool,
    }

    impl WallClock {
        fn is_working(&self, at: DateTime<Utc>) -> bool {
            let wall: NaiveDateTime = at.with_timezone(&self.zone).naive_local();
            let second = wall.num_seconds_from_midnight();
            let date = wall.date();
            let today = !(self.holiday)(date)
                && self.week[date.weekday().num_days_from_monday() as usize]
                    .iter()
                    .any(|&(open, close)| open * 60 <= second && second < close * 60);
            let yesterday = date.pred_opt().is_some_and(|before| {
                !(self.holiday)(before)
                    && self.week[before.weekday().num_days_from_monday() as usize]
                        .iter()
                        .any(|&(_, close)| second + 86_400 < close * 60)
            });
            today || yesterday
        }
    }

    const NO_DAYS: &[(u32, u32)] = &[];

    fn wall_clocks() -> [(&'static Calendar, WallClock); 3] {
        const OFFICE_DAY: &[(u32, u32)] = &[(540, 1020)];
        const NIGHT: &[(u32, u32)] = &[(1320, 1800)];
        const SPLIT: &[(u32, u32)] = &[(540, 720), (780, 1050)];
        const SATURDAY: &[(u32, u32)] = &[(600, 780)];
        [
            (
                &PROPERTY_CALENDARS[0],
                WallClock {
                    zone: Berlin,
                    week: [
                        OFFICE_DAY, OFFICE_DAY, OFFICE_DAY, OFFICE_DAY, OFFICE_DAY, NO_DAYS,
                        NO_DAYS,
                    ],
                    holiday: |d| {
                        d == NaiveDate::from_ymd_opt(2026, 6, 8).unwrap_or_default()
                            || d == NaiveDate::from_ymd_opt(2027, 4, 2).unwrap_or_default()
                            || (d.month(), d.day()) == (12, 25)
                            || (d.month(), d.day()) == (1, 1)
                            || (d.month(), d.day()) == (2, 29)
                    },
                },
            ),
            (
                &PROPERTY_CALENDARS[1],
                WallClock {
                    zone: New_York,
                    week: [NIGHT; 7],
                    holiday: |d| (d.month(), d.day()) == (7, 4),
                },
            ),
            (
                &PROPERTY_CALENDARS[3],
                WallClock {
                    zone: Berlin,
                    week: [SPLIT, SPLIT, SPLIT, SPLIT, SPLIT, SATURDAY, NO_DAYS],
                    holiday: |d| (d.month(), d.day()) == (5, 1),
                },
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 64,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn agrees_with_the_wall_clock(which in 0..3usize, start in instant(), length in 0..(4 * 1440i64)) {
            let (calendar, wall) = &wall_clocks()[which];
            let from = start.with_second(0).unwrap_or(start);
            let mut expected = TimeDelta::zero();
            for minute in 0..length {
                let at = from + TimeDelta::minutes(minute);
                let working = wall.is_working(at);
                prop_assert_eq!(calendar.is_working(at), working, "at {}", at);
                if working {
                    expected += TimeDelta::minutes(1);
                }
            }
            prop_assert_eq!(calendar.working_between(from, from + TimeDelta::minutes(length)), expected);
        }
    }
}
