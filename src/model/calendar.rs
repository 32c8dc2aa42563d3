//! Working-hours calendars as written: a time zone, opening hours per weekday, holidays.

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{OrderedMap, Spanned};

/// A working-hours calendar: SLA timers in it count only its working time.
///
/// ```yaml
/// support-hours:
///   zone: Europe/Berlin
///   hours: { mon-fri: ["08:00-18:00"], sat: ["09:00-13:00"] }
///   holidays: [2026-12-24, "every 12-25", "every 01-01"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// The IANA time zone the hours and holidays are in (`Europe/Berlin`).
    pub zone: Spanned<String>,
    /// Working intervals per weekday: the key is a day (`mon`), a range (`mon-fri`) or a
    /// list (`mon,wed`); each interval is `HH:MM-HH:MM`. An interval that ends before it
    /// starts (`22:00-06:00`) runs past midnight and belongs to the day it starts on.
    pub hours: OrderedMap<String, Spanned<Vec<Spanned<String>>>>,
    /// Days without working time: a date (`2026-12-24`) or a yearly one (`every 12-25`).
    #[serde(default)]
    pub holidays: Vec<Spanned<String>>,
}
