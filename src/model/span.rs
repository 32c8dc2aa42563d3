//! Source locations and the located wrappers the model uses to remember them.

use std::fmt;
use std::ops::Deref;

#[cfg(feature = "schema")]
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A place in an SOP source text: where a value starts, and how many bytes it covers.
///
/// Lines and columns count from 1, columns in characters (what an editor shows). A span
/// built by hand for a value that has no source (an SOP assembled in code) is
/// [`SourceSpan::UNKNOWN`], with line 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct SourceSpan {
    /// 1-based line of the first character.
    pub line: u32,
    /// 1-based column (in characters) of the first character.
    pub column: u32,
    /// Byte offset of the first character in the source text.
    pub offset: usize,
    /// Length of the value in bytes; 0 when only the start is known.
    pub len: usize,
}

impl SourceSpan {
    /// The span of a value that did not come from a source text.
    pub const UNKNOWN: SourceSpan = SourceSpan {
        line: 0,
        column: 0,
        offset: 0,
        len: 0,
    };

    /// A span that starts at `line:column` with no known extent.
    pub fn at(line: u32, column: u32) -> SourceSpan {
        SourceSpan {
            line,
            column,
            offset: 0,
            len: 0,
        }
    }

    /// Whether this span points at a real place in a source text.
    pub fn is_known(&self) -> bool {
        self.line > 0
    }

    pub(crate) fn from_location(location: serde_saphyr::Location) -> SourceSpan {
        let span = location.span();
        SourceSpan {
            line: u32::try_from(location.line()).unwrap_or(u32::MAX),
            column: u32::try_from(location.column()).unwrap_or(u32::MAX),
            offset: span
                .byte_offset()
                .and_then(|o| usize::try_from(o).ok())
                .unwrap_or(0),
            len: span
                .byte_len()
                .and_then(|l| usize::try_from(l).ok())
                .unwrap_or(0),
        }
    }
}

impl fmt::Display for SourceSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A value together with the place in the SOP source it was read from.
///
/// Every id and every reference in the model is `Spanned`, so that the compiler can point
/// at the exact line and column of a dangling `next:` or an unknown role. Equality,
/// ordering and hashing look at the value only: two mentions of the same step id are equal
/// wherever they appear.
#[derive(Clone)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where the value was written.
    pub span: SourceSpan,
}

impl<T> Spanned<T> {
    /// Pairs a value with a span.
    pub fn new(value: T, span: SourceSpan) -> Spanned<T> {
        Spanned { value, span }
    }

    /// A value that has no place in a source text (an SOP built in code).
    pub fn unlocated(value: T) -> Spanned<T> {
        Spanned {
            value,
            span: SourceSpan::UNKNOWN,
        }
    }

    /// Transforms the value and keeps the span.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned {
            value: f(self.value),
            span: self.span,
        }
    }
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} @{}", self.value, self.span)
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: std::hash::Hash> std::hash::Hash for Spanned<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let located = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Spanned {
            value: located.value,
            span: SourceSpan::from_location(located.referenced),
        })
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

#[cfg(feature = "schema")]
impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<T>()
    }
}

/// A YAML mapping read in document order, each key with its location.
///
/// Used for `terms`, `roles` and `fields`, whose keys are names that later checks must be
/// able to point at ("role `qa_lead` is never used"). The parser rejects duplicate keys
/// before this type sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedMap<K, V> {
    entries: Vec<(Spanned<K>, V)>,
}

impl<K, V> Default for OrderedMap<K, V> {
    fn default() -> Self {
        OrderedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: PartialEq, V> OrderedMap<K, V> {
    /// Builds a map from entries in order; a later duplicate key is dropped.
    pub fn from_entries(entries: impl IntoIterator<Item = (Spanned<K>, V)>) -> Self {
        let mut map = OrderedMap::default();
        for (key, value) in entries {
            if map.get(&key.value).is_none() {
                map.entries.push((key, value));
            }
        }
        map
    }

    /// The value for `key`, if present.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == *key)
            .map(|(_, v)| v)
    }
}

impl<K, V> OrderedMap<K, V> {
    /// The entries in document order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Spanned<K>, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The keys in document order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Spanned<K>> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<'de, K, V> Deserialize<'de> for OrderedMap<K, V>
where
    K: Deserialize<'de>,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<K, V>(std::marker::PhantomData<(K, V)>);

        impl<'de, K, V> serde::de::Visitor<'de> for EntriesVisitor<K, V>
        where
            K: Deserialize<'de>,
            V: Deserialize<'de>,
        {
            type Value = OrderedMap<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names to values")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(1024));
                while let Some((key, value)) = access.next_entry::<Spanned<K>, V>()? {
                    entries.push((key, value));
                }
                Ok(OrderedMap { entries })
            }
        }

        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

impl<K: Serialize, V: Serialize> Serialize for OrderedMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(&k.value, v)?;
        }
        map.end()
    }
}

#[cfg(feature = "schema")]
impl<K: JsonSchema, V: JsonSchema> JsonSchema for OrderedMap<K, V> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let key_schema = generator.subschema_for::<K>();
        let value_schema = generator.subschema_for::<V>();
        let mut schema = schemars::json_schema!({
            "type": "object",
            "additionalProperties": value_schema,
        });
        if let Some(pattern) = key_schema.get("pattern").cloned() {
            schema.insert(
                "propertyNames".to_owned(),
                serde_json::json!({ "pattern": pattern }),
            );
        }
        schema
    }
}
