//! Service levels as written: how long a step or a case may take, the warning before its
//! due time, and the escalation levels after it.

use std::fmt;

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{CalendarId, FieldId, RoleId, SopDuration, Spanned, StepId};

/// How long a timer runs: one duration (`due: 4h`), or one per option of a choice field
/// (`due: { by: priority, High: 4h, Medium: 1d, Low: 3d }`), with an optional `else` for
/// the options not listed and for a case where the field has no value; or until a time
/// counted from a date field (`due: { before: start_date, offset: 2bd }`).
#[derive(Debug, Clone, PartialEq)]
pub enum TimerSpec {
    /// The same duration for every case.
    Fixed(SopDuration),
    /// A duration chosen by the value of a choice field.
    ByField {
        /// The choice field (`by: priority`).
        by: Spanned<FieldId>,
        /// A duration per option, in document order, each option as written.
        options: Vec<(Spanned<String>, Spanned<SopDuration>)>,
        /// The duration for any other value, or no value (`else: 3d`).
        otherwise: Option<Spanned<SopDuration>>,
    },
    /// A time counted from a date field: `{ before: start_date, offset: 2bd }` or
    /// `{ after: delivered_on, offset: 30d }`; the date itself without `offset`.
    FromDate {
        /// Whether the time is before or after the date.
        side: DateSide,
        /// The date field (`before: start_date`).
        field: Spanned<FieldId>,
        /// How far from the date (`offset: 2bd`); none is the date itself.
        offset: Option<Spanned<SopDuration>>,
    },
}

/// Which side of its date a [`TimerSpec::FromDate`] timer falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateSide {
    /// `before: FIELD`: the offset counts back from the date.
    Before,
    /// `after: FIELD`: the offset counts on from the date.
    After,
}

impl DateSide {
    /// The key as written: `before` or `after`.
    pub fn as_str(self) -> &'static str {
        match self {
            DateSide::Before => "before",
            DateSide::After => "after",
        }
    }
}

/// The keys of a timer counted from a date.
const FROM_DATE_KEYS: &[&str] = &["before", "after", "offset"];

impl TimerSpec {
    /// The duration, when it is the same for every case.
    pub fn fixed(&self) -> Option<SopDuration> {
        match self {
            TimerSpec::Fixed(duration) => Some(*duration),
            TimerSpec::ByField { .. } | TimerSpec::FromDate { .. } => None,
        }
    }
}

impl fmt::Display for TimerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerSpec::Fixed(duration) => write!(f, "{duration}"),
            TimerSpec::ByField { by, .. } => write!(f, "by {}", by.value),
            TimerSpec::FromDate {
                side,
                field,
                offset: Some(offset),
            } => write!(f, "{} {} {}", offset.value, side.as_str(), field.value),
            TimerSpec::FromDate {
                side,
                field,
                offset: None,
            } => write!(f, "{} {}", side.as_str(), field.value),
        }
    }
}

impl<'de> Deserialize<'de> for TimerSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimerVisitor;

        impl<'de> serde::de::Visitor<'de> for TimerVisitor {
            type Value = TimerSpec;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like `4h`, `{ by: FIELD, OPTION: DURATION, ... }` or `{ before: DATE_FIELD, offset: DURATION }`")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<TimerSpec, E> {
                text.parse().map(TimerSpec::Fixed).map_err(E::custom)
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<TimerSpec, A::Error> {
                use serde::de::Error;
                let mut by = None;
                let mut options = Vec::new();
                let mut otherwise = None;
                let mut dates: Vec<(DateSide, Spanned<FieldId>)> = Vec::new();
                let mut offset = None;
                while let Some(key) = access.next_key::<Spanned<String>>()? {
                    let from_date = !dates.is_empty() || offset.is_some();
                    match key.value.as_str() {
                        "by" if from_date => return Err(by_with_date()),
                        "by" => by = Some(access.next_value::<Spanned<FieldId>>()?),
                        "before" | "after" | "offset" if by.is_some() || !options.is_empty() => {
                            return Err(by_with_date());
                        }
                        "before" => {
                            dates.push((DateSide::Before, access.next_value()?));
                        }
                        "after" => dates.push((DateSide::After, access.next_value()?)),
                        "offset" => offset = Some(access.next_value::<Spanned<SopDuration>>()?),
                        // `{ befor: start_date }`: a misspelt key of the date form, not an
                        // option of a choice field (which needs `by:` first to be read so).
                        written
                            if from_date || (by.is_none() && looks_like_a_date_key(written)) =>
                        {
                            return Err(A::Error::unknown_field(written, FROM_DATE_KEYS));
                        }
                        "else" => otherwise = Some(access.next_value::<Spanned<SopDuration>>()?),
                        _ => {
                            let duration = access.next_value::<Spanned<SopDuration>>()?;
                            options.push((key, duration));
                        }
                    }
                }
                if offset.is_some() || !dates.is_empty() {
                    let mut dates = dates.into_iter();
                    let (side, field) = dates.next().ok_or_else(|| {
                        A::Error::custom(
                            "`offset` counts from a date that this timer does not name: write `before: DATE_FIELD` or `after: DATE_FIELD` beside it, like `{ before: start_date, offset: 2bd }`",
                        )
                    })?;
                    if dates.next().is_some() {
                        return Err(A::Error::custom(
                            "a timer counts from one date, not from two: write either `before: DATE_FIELD` or `after: DATE_FIELD`",
                        ));
                    }
                    return Ok(TimerSpec::FromDate {
                        side,
                        field,
                        offset,
                    });
                }
                let by = by.ok_or_else(|| {
                    A::Error::custom(
                        "a duration per option needs `by:`, the choice field it depends on (`by: priority`)",
                    )
                })?;
                Ok(TimerSpec::ByField {
                    by,
                    options,
                    otherwise,
                })
            }
        }

        /// `by:` names the choice field of a duration per option; writing it beside a date
        /// would leave a reader guessing which of the two it means.
        fn by_with_date<E: serde::de::Error>() -> E {
            E::custom(
                "a timer is either a duration per option of a choice field (`by: priority`) or counted from a date, not both: write `offset:` for the distance from the date, like `{ before: start_date, offset: 2bd }`",
            )
        }

        fn looks_like_a_date_key(written: &str) -> bool {
            let written = written.to_lowercase();
            FROM_DATE_KEYS
                .iter()
                .any(|key| strsim::jaro_winkler(&written, key) >= 0.85)
        }

        deserializer.deserialize_any(TimerVisitor)
    }
}

impl Serialize for TimerSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            TimerSpec::Fixed(duration) => duration.serialize(serializer),
            TimerSpec::ByField {
                by,
                options,
                otherwise,
            } => {
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("by", &by.value)?;
                for (option, duration) in options {
                    map.serialize_entry(&option.value, &duration.value)?;
                }
                if let Some(otherwise) = otherwise {
                    map.serialize_entry("else", &otherwise.value)?;
                }
                map.end()
            }
            TimerSpec::FromDate {
                side,
                field,
                offset,
            } => {
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry(side.as_str(), &field.value)?;
                if let Some(offset) = offset {
                    map.serialize_entry("offset", &offset.value)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for TimerSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timer".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let duration = generator.subschema_for::<SopDuration>();
        schemars::json_schema!({
            "description": "A duration (`4h`); one per option of a choice field: `{ by: priority, High: 4h, Low: 3d, else: 1d }`; or a time counted from a date field: `{ before: start_date, offset: 2bd }`, `{ after: delivered_on, offset: 30d }`.",
            "oneOf": [
                duration,
                {
                    "type": "object",
                    "required": ["by"],
                    "properties": {
                        "by": { "type": "string", "description": "The choice field whose value picks the duration." },
                        "else": duration,
                    },
                    "additionalProperties": duration,
                },
                {
                    "type": "object",
                    "description": "Due a working-time offset before or after a date field; the date means the start of its working day in the timer's calendar.",
                    "properties": {
                        "before": { "type": "string", "description": "The date field the time counts back from." },
                        "after": { "type": "string", "description": "The date field the time counts on from." },
                        "offset": duration,
                    },
                    "oneOf": [
                        { "required": ["before"], "not": { "required": ["after"] } },
                        { "required": ["after"], "not": { "required": ["before"] } },
                    ],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

/// One level of an escalation ladder: how long after the breach it comes, and what it does
/// (tell a role, move the work, or both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    /// Working time after the due time; the first level defaults to the breach itself.
    #[serde(default)]
    pub after: Option<Spanned<SopDuration>>,
    /// The role to tell; the work stays where it is.
    #[serde(default)]
    pub notify: Option<Spanned<RoleId>>,
    /// Where the case goes: the step is taken from its performer (the last level only).
    #[serde(default)]
    pub goto: Option<Spanned<StepId>>,
}

/// The service level of the whole case: resolved within a time of opening.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CaseSla {
    /// How long the case may stay open, counted from its start (`3bd`, or by priority).
    pub resolve_within: Spanned<TimerSpec>,
    /// Tell whoever holds the case's work this long before it is due.
    #[serde(default)]
    pub warn: Option<Spanned<SopDuration>>,
    /// Who hears of a breach, and when: each level notifies a role.
    #[serde(default)]
    pub overdue: Vec<EscalationLevel>,
    /// Whether pausing the case (waiting on the customer) stops this clock.
    #[serde(default)]
    pub pausable: Option<Spanned<bool>>,
    /// The calendar the clock counts in; defaults to the SOP's `calendar`.
    #[serde(default)]
    pub calendar: Option<Spanned<CalendarId>>,
}
