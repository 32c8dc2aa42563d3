//! Durations as ops leads write them: `90m`, `4h`, `2d`, `1w`, `1bd`.

use std::fmt;
use std::str::FromStr;

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Regular expression the JSON Schema uses for durations.
pub const DURATION_PATTERN: &str = "^[1-9][0-9]{0,5}(m|h|d|w|bd)$";

/// A span of working time written as a whole number and a unit: `m` minutes, `h` hours,
/// `d` days (24 hours), `w` weeks, or `bd` business days.
///
/// Minutes, hours, days and weeks are working time in the timer's calendar: on a
/// Monday-to-Friday 09:00-17:00 calendar, `4h` opened Friday at 16:00 falls due Monday at
/// 12:00, and `1d` is 24 working hours (three such days). A business day is the
/// commitment support teams make: "by the same time on the next working day"
/// ([`crate::calendar::Calendar::add_business_days`]). Without a calendar, time runs
/// round the clock and `1bd` is `1d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SopDuration {
    minutes: u32,
    business_days: u32,
}

impl SopDuration {
    /// A duration of `minutes` minutes of working time.
    pub fn from_minutes(minutes: u32) -> SopDuration {
        SopDuration {
            minutes,
            business_days: 0,
        }
    }

    /// A duration of `days` business days.
    pub fn from_business_days(days: u32) -> SopDuration {
        SopDuration {
            minutes: 0,
            business_days: days,
        }
    }

    /// Length in minutes of working time (0 for business days).
    pub fn minutes(&self) -> u32 {
        self.minutes
    }

    /// Length in business days (0 for minutes, hours, days and weeks).
    pub fn business_days(&self) -> u32 {
        self.business_days
    }

    /// The working time as a `chrono` duration (0 for business days, which need a
    /// calendar to say how long they are).
    pub fn to_chrono(self) -> chrono::TimeDelta {
        chrono::TimeDelta::minutes(i64::from(self.minutes))
    }

    /// Length in round-the-clock time: what the duration is without a calendar (a business
    /// day counts 24 hours).
    pub fn round_the_clock(self) -> chrono::TimeDelta {
        chrono::TimeDelta::minutes(i64::from(self.minutes))
            + chrono::TimeDelta::days(i64::from(self.business_days))
    }
}

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a duration: write a whole number and a unit, like `90m`, `4h`, `2d`, `1w` or `1bd` (business days; at most 6 digits)"
)]
pub struct DurationError {
    text: String,
}

impl FromStr for SopDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || DurationError {
            text: text.to_owned(),
        };
        let (number, per_unit) = if let Some(number) = text.strip_suffix("bd") {
            (number, None)
        } else {
            let unit_at = text.len().checked_sub(1).ok_or_else(error)?;
            if !text.is_char_boundary(unit_at) {
                return Err(error());
            }
            let (number, unit) = text.split_at(unit_at);
            let per_unit = match unit {
                "m" => 1,
                "h" => 60,
                "d" => 60 * 24,
                "w" => 60 * 24 * 7,
                _ => return Err(error()),
            };
            (number, Some(per_unit))
        };
        if number.is_empty()
            || number.len() > 6
            || number.starts_with('0')
            || !number.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(error());
        }
        let count: u32 = number.parse().map_err(|_| error())?;
        match per_unit {
            Some(per_unit) => Ok(SopDuration::from_minutes(
                count.checked_mul(per_unit).ok_or_else(error)?,
            )),
            None => Ok(SopDuration::from_business_days(count)),
        }
    }
}

impl fmt::Display for SopDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.business_days > 0 {
            return write!(f, "{}bd", self.business_days);
        }
        let m = self.minutes;
        let week = 60 * 24 * 7;
        let day = 60 * 24;
        if m > 0 && m.is_multiple_of(week) {
            write!(f, "{}w", m / week)
        } else if m > 0 && m.is_multiple_of(day) {
            write!(f, "{}d", m / day)
        } else if m > 0 && m.is_multiple_of(60) {
            write!(f, "{}h", m / 60)
        } else {
            write!(f, "{m}m")
        }
    }
}

impl<'de> Deserialize<'de> for SopDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for SopDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for SopDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A whole number and a unit: `90m` minutes, `4h` hours, `2d` days, `1w` weeks (working time in the timer's calendar), or `1bd` business days.",
            "type": "string",
            "pattern": DURATION_PATTERN,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        let cases = [
            ("90m", 90),
            ("4h", 240),
            ("2d", 2880),
            ("1w", 10080),
            ("3bd", 0),
        ];
        for (text, minutes) in cases {
            assert_eq!(
                text.parse::<SopDuration>().unwrap().minutes(),
                minutes,
                "{text}"
            );
        }
    }

    #[test]
    fn displays_in_the_largest_whole_unit() {
        assert_eq!("3bd".parse::<SopDuration>().unwrap().business_days(), 3);
        for text in ["90m", "4h", "2d", "1w", "1bd"] {
            assert_eq!(text.parse::<SopDuration>().unwrap().to_string(), text);
        }
        assert_eq!(SopDuration::from_minutes(0).to_string(), "0m");
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "", "h", "4", "4 h", "4hours", "-1h", "0h", "01h", "1.5h", "9999999w", "4é", "é", "bd",
            "0bd", "1b", "1 bd",
        ] {
            let err = bad.parse::<SopDuration>().unwrap_err();
            assert!(err.to_string().contains("is not a duration"), "{bad}");
        }
    }
}
