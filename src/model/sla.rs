//! Service levels as written: how long a step or a case may take, the warning before its
//! due time, and the escalation levels after it.

use std::fmt;

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{CalendarId, FieldId, RoleId, SopDuration, Spanned, StepId};

/// How long a timer runs: one duration (`due: 4h`), or one per option of a choice field
/// (`due: { by: priority, High: 4h, Medium: 1d, Low: 3d }`), with an optional `else` for
/// the options not listed and for a case where the field has no value.
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
}

impl TimerSpec {
    /// The duration, when it is the same for every case.
    pub fn fixed(&self) -> Option<SopDuration> {
        match self {
            TimerSpec::Fixed(duration) => Some(*duration),
            TimerSpec::ByField { .. } => None,
        }
    }
}

impl fmt::Display for TimerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerSpec::Fixed(duration) => write!(f, "{duration}"),
            TimerSpec::ByField { by, .. } => write!(f, "by {}", by.value),
        }
    }
}

impl<'de> Deserialize<'de> for TimerSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimerVisitor;

        impl<'de> serde::de::Visitor<'de> for TimerVisitor {
            type Value = TimerSpec;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like `4h`, or `{ by: FIELD, OPTION: DURATION, ... }`")
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
                while let Some(key) = access.next_key::<Spanned<String>>()? {
                    match key.value.as_str() {
                        "by" => by = Some(access.next_value::<Spanned<FieldId>>()?),
                        "else" => otherwise = Some(access.next_value::<Spanned<SopDuration>>()?),
                        _ => {
                            let duration = access.next_value::<Spanned<SopDuration>>()?;
                            options.push((key, duration));
                        }
                    }
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
            "description": "A duration (`4h`), or one per option of a choice field: `{ by: priority, High: 4h, Low: 3d, else: 1d }`.",
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
