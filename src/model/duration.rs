//! Durations as ops leads write them: `90m`, `4h`, `2d`, `1w`.

use std::fmt;
use std::str::FromStr;

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Regular expression the JSON Schema uses for durations.
pub const DURATION_PATTERN: &str = "^[1-9][0-9]{0,5}(m|h|d|w)$";

/// A span of working time written as a whole number and a unit: `m` minutes, `h` hours,
/// `d` days, `w` weeks. Kept in minutes; calendar days (no business hours) for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SopDuration {
    minutes: u32,
}

impl SopDuration {
    /// A duration of `minutes` minutes.
    pub fn from_minutes(minutes: u32) -> SopDuration {
        SopDuration { minutes }
    }

    /// Length in minutes.
    pub fn minutes(&self) -> u32 {
        self.minutes
    }

    /// The same length as a `chrono` duration.
    pub fn to_chrono(self) -> chrono::TimeDelta {
        chrono::TimeDelta::minutes(i64::from(self.minutes))
    }
}

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a duration: write a whole number and a unit, like `90m`, `4h`, `2d` or `1w` (at most 6 digits)"
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
        if number.is_empty()
            || number.len() > 6
            || number.starts_with('0')
            || !number.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(error());
        }
        let count: u32 = number.parse().map_err(|_| error())?;
        let minutes = count.checked_mul(per_unit).ok_or_else(error)?;
        Ok(SopDuration { minutes })
    }
}

impl fmt::Display for SopDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
            "description": "A whole number and a unit: `90m` minutes, `4h` hours, `2d` days, `1w` weeks.",
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
        let cases = [("90m", 90), ("4h", 240), ("2d", 2880), ("1w", 10080)];
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
        for text in ["90m", "4h", "2d", "1w"] {
            assert_eq!(text.parse::<SopDuration>().unwrap().to_string(), text);
        }
        assert_eq!(SopDuration::from_minutes(0).to_string(), "0m");
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "", "h", "4", "4 h", "4hours", "-1h", "0h", "01h", "1.5h", "9999999w", "4é", "é",
        ] {
            let err = bad.parse::<SopDuration>().unwrap_err();
            assert!(err.to_string().contains("is not a duration"), "{bad}");
        }
    }
}
