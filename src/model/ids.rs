//! Identifier newtypes: an SOP, step, role, field or term name is never a bare `String`.

use std::fmt;
use std::sync::Arc;

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// The pattern every identifier written in an SOP must match: a lowercase letter, then
/// lowercase letters, digits, `_` or `-`. Keeping ids this plain lets them appear
/// unquoted in CEL conditions, templates, Mermaid and DOT.
pub const ID_PATTERN: &str = "^[a-z][a-z0-9_-]*$";

/// Longest identifier accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

fn check_identifier(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("an id cannot be empty".to_owned());
    }
    if text.len() > MAX_ID_LEN {
        return Err(format!(
            "id `{}...` is longer than {MAX_ID_LEN} bytes",
            &text[..text.floor_char_boundary(24)]
        ));
    }
    let mut chars = text.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(format!(
            "`{text}` is not a valid id: use a lowercase letter, then lowercase letters, digits, `_` or `-` (for example `{}`)",
            suggest_identifier(text)
        ));
    }
    Ok(())
}

/// Turns free text into the nearest valid identifier, for "did you mean" hints.
fn suggest_identifier(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let trimmed = out.trim_end_matches('_');
    match trimmed.chars().next() {
        Some(c) if c.is_ascii_lowercase() => trimmed.to_owned(),
        _ => format!("id_{trimmed}"),
    }
}

/// Reads a string into an `Arc<str>` with one allocation: serde's own `Arc<str>` reads a
/// `String` first and copies it, and stored events hold millions of ids.
pub(crate) fn deserialize_arc_str<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Arc<str>, D::Error> {
    struct ArcStrVisitor;
    impl serde::de::Visitor<'_> for ArcStrVisitor {
        type Value = Arc<str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Arc<str>, E> {
            Ok(Arc::from(text))
        }
    }
    deserializer.deserialize_str(ArcStrVisitor)
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// Cloning is cheap (a reference count): cases, events and the compiled process
        /// share one copy of each id.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Checks `text` against [`ID_PATTERN`] and wraps it.
            pub fn new(text: impl Into<String>) -> Result<Self, String> {
                let text = text.into();
                check_identifier(&text)?;
                Ok($name(Arc::from(text)))
            }

            /// Wraps text without checking it: only for names the crate builds itself.
            #[allow(dead_code)]
            pub(crate) fn unchecked(text: String) -> Self {
                $name(Arc::from(text))
            }

            /// Wraps an id written as a literal in the caller's code, like `http`'s
            /// `HeaderName::from_static`: for ids known when the program is written.
            ///
            /// # Panics
            /// When `text` does not match [`ID_PATTERN`]: a bug in the literal, found the
            /// first time the line runs. Use [`new`](Self::new) for ids that come from input.
            ///
            /// ```
            #[doc = concat!("let id = sopflow::model::", stringify!($name), "::from_static(\"customer_name\");")]
            /// assert_eq!(id.as_str(), "customer_name");
            /// ```
            #[track_caller]
            pub fn from_static(text: &'static str) -> Self {
                match check_identifier(text) {
                    Ok(()) => $name(Arc::from(text)),
                    Err(reason) => panic!("{reason}"),
                }
            }

            /// The id as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                $name::new(text)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = deserialize_arc_str(deserializer)?;
                check_identifier(&text).map_err(serde::de::Error::custom)?;
                Ok($name(text))
            }
        }

        #[cfg(feature = "schema")]
        impl JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "description": concat!("The id of ", $what, ": lowercase letters, digits, `_` or `-`, starting with a letter."),
                    "type": "string",
                    "pattern": ID_PATTERN,
                    "maxLength": MAX_ID_LEN,
                })
            }
        }
    };
}

identifier!(
    /// The id of an SOP (`customer-support`), unique across a library of SOPs.
    SopId,
    "an SOP"
);
identifier!(
    /// The id of a step, approval gate, decision or parallel split within one SOP.
    StepId,
    "a step"
);
identifier!(
    /// The id of a role (`team_lead`), held by the actors who may act on its steps.
    RoleId,
    "a role"
);
identifier!(
    /// The name of a case field (`customer_name`), used in forms, conditions and templates.
    FieldId,
    "a field"
);
identifier!(
    /// The name of a key performance indicator under `kpis:` (`first_response`).
    KpiId,
    "a key performance indicator"
);
identifier!(
    /// The name of a working-hours calendar (`support-hours`) that timers count in.
    CalendarId,
    "a calendar"
);

/// A glossary entry's name as written (`SLA`, `CRM`, `first response time`).
///
/// Unlike the other ids, terms are free text: they are what readers see.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(transparent)]
pub struct TermName(pub String);

impl fmt::Display for TermName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids() {
        for ok in ["receive", "verify_info", "step-2", "a"] {
            assert!(StepId::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_ids_with_a_suggestion() {
        let err = StepId::new("Verify Info").unwrap_err();
        assert!(err.contains("`verify_info`"), "{err}");
        let err = StepId::new("2nd").unwrap_err();
        assert!(err.contains("`id_2nd`"), "{err}");
        assert!(StepId::new("").is_err());
        assert!(StepId::new("x".repeat(65)).is_err());
    }
}
