//! Reading an [`Event`] from its JSON without buffering it.
//!
//! The derived decoder of a struct with a flattened, internally tagged enum first copies
//! every event into serde's private buffer of keys and values, then decodes the copy: for
//! a report over millions of stored events, that copy was most of the time. The events
//! this crate writes put the envelope (`v`, `seq`, `at`, `command`, `actor`) and then
//! `type` before the kind's fields, so this decoder reads the envelope as it comes and, on
//! `type`, decodes the rest of the object straight into the kind. An object written in
//! another order (the kind's fields before `type`) is still read, through a buffer.
//!
//! The JSON form is unchanged: the encoder is still the derived one, and the hash chain
//! is over the stored text, which decoding never rewrites.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::value::CowStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};

use super::{
    Event, EventKind, FieldValues, MigratedTimers, ParentLink, StepRename, SubCaseOutcome, TokenId,
    WithdrawnStep,
};
use crate::engine::ids::{ActorId, CaseId, CommandId};
use crate::model::{RoleId, SopId, StepId};

/// The kinds as an externally tagged enum with exactly the fields and defaults of
/// [`EventKind`]: serde decodes it from a variant name and a map, which is what the rest
/// of an event after its `type` is. `remote` makes the compiler check that every variant
/// and field here exists in [`EventKind`] with the same type, and builds an `EventKind`
/// directly; a field added there without being added here does not compile.
#[derive(Deserialize)]
#[serde(remote = "EventKind", rename_all = "snake_case")]
#[allow(dead_code)] // Only its derived `deserialize` is used.
enum Kind {
    CaseStarted {
        case: CaseId,
        sop: SopId,
        version: u32,
        fields: FieldValues,
        #[serde(default)]
        parent: Option<ParentLink>,
    },
    StepActivated {
        step: StepId,
        token: TokenId,
        #[serde(default)]
        item: Option<String>,
        #[serde(default)]
        due_at: Option<DateTime<Utc>>,
        #[serde(default)]
        timeout_at: Option<DateTime<Utc>>,
        #[serde(default)]
        warn_at: Option<DateTime<Utc>>,
        #[serde(default)]
        levels: Vec<DateTime<Utc>>,
        #[serde(default)]
        pausable: bool,
    },
    StepAssigned {
        step: StepId,
        token: TokenId,
        assignee: ActorId,
    },
    StepTransferred {
        step: StepId,
        token: TokenId,
        role: RoleId,
    },
    StepPostponed {
        step: StepId,
        token: TokenId,
        until: DateTime<Utc>,
        #[serde(default)]
        due_at: Option<DateTime<Utc>>,
    },
    FieldsUpdated {
        fields: FieldValues,
    },
    StepCompleted {
        step: StepId,
        token: TokenId,
    },
    ApprovalGranted {
        step: StepId,
        token: TokenId,
        #[serde(default)]
        comment: Option<String>,
    },
    GateApproved {
        step: StepId,
        token: TokenId,
    },
    GateRejected {
        step: StepId,
        token: TokenId,
        reason: String,
    },
    DecisionTaken {
        step: StepId,
        #[serde(default)]
        condition: Option<String>,
        target: StepId,
    },
    StepEscalated {
        step: StepId,
        token: TokenId,
        reason: String,
    },
    SlaBreached {
        step: StepId,
        token: TokenId,
        escalated: bool,
    },
    CaseSlaStarted {
        #[serde(default)]
        due_at: Option<DateTime<Utc>>,
        #[serde(default)]
        warn_at: Option<DateTime<Utc>>,
        #[serde(default)]
        levels: Vec<DateTime<Utc>>,
        #[serde(default)]
        pausable: bool,
    },
    SlaWarned {
        #[serde(default)]
        step: Option<StepId>,
        #[serde(default)]
        token: Option<TokenId>,
    },
    CaseSlaBreached,
    SlaLevelReached {
        #[serde(default)]
        step: Option<StepId>,
        #[serde(default)]
        token: Option<TokenId>,
        level: u32,
        #[serde(default)]
        notify: Option<RoleId>,
        #[serde(default)]
        escalated: bool,
    },
    SlaRescheduled {
        #[serde(default)]
        step: Option<StepId>,
        #[serde(default)]
        token: Option<TokenId>,
        #[serde(default)]
        due_at: Option<DateTime<Utc>>,
        #[serde(default)]
        warn_at: Option<DateTime<Utc>>,
        #[serde(default)]
        levels: Vec<DateTime<Utc>>,
        #[serde(default)]
        timeout_at: Option<DateTime<Utc>>,
        #[serde(default)]
        held_secs: i64,
    },
    CasePaused {
        reason: String,
    },
    CaseResumed,
    TimerFired {
        step: StepId,
        token: TokenId,
    },
    StepCancelled {
        step: StepId,
        token: TokenId,
        reason: String,
    },
    BranchesStarted {
        step: StepId,
        branches: u32,
        #[serde(default)]
        skipped: Vec<StepId>,
    },
    BranchJoined {
        split: StepId,
    },
    InstancesStarted {
        step: StepId,
        items: Vec<String>,
        needed: u32,
    },
    WorkWithdrawn {
        by: StepId,
        #[serde(default)]
        steps: Vec<WithdrawnStep>,
        #[serde(default)]
        joins: Vec<StepId>,
    },
    NoteAdded {
        text: String,
        #[serde(default)]
        step: Option<StepId>,
    },
    CaseClosed,
    CaseCancelled {
        reason: String,
    },
    CaseReopened {
        reason: String,
    },
    CaseMigrated {
        from_version: u32,
        to_version: u32,
        #[serde(default)]
        renamed: Vec<StepRename>,
        #[serde(default)]
        fields: FieldValues,
        #[serde(default)]
        timers: Vec<MigratedTimers>,
        #[serde(default)]
        case_sla: Option<MigratedTimers>,
    },
    TimeCorrected {
        wrong: DateTime<Utc>,
        reason: String,
    },
    SubCaseRequested {
        step: StepId,
        token: TokenId,
        case: CaseId,
        sop: SopId,
        #[serde(default)]
        fields: FieldValues,
    },
    SubCaseStarted {
        step: StepId,
        token: TokenId,
        case: CaseId,
    },
    SubCaseFinished {
        step: StepId,
        token: TokenId,
        case: CaseId,
        outcome: SubCaseOutcome,
    },
    ParentInformed {
        parent: CaseId,
    },
}

/// A key of an event object: one of the envelope's, the tag, or a key of the kind
/// (borrowed from the input when it has no escapes).
enum Key<'de> {
    Envelope(EnvelopeField),
    Type,
    Other(Cow<'de, str>),
}

/// The keys every event has besides its kind's.
#[derive(Clone, Copy)]
enum EnvelopeField {
    V,
    Seq,
    At,
    Command,
    Actor,
}

impl<'de> Key<'de> {
    fn of(text: &str) -> Option<Key<'de>> {
        Some(match text {
            "v" => Key::Envelope(EnvelopeField::V),
            "seq" => Key::Envelope(EnvelopeField::Seq),
            "at" => Key::Envelope(EnvelopeField::At),
            "command" => Key::Envelope(EnvelopeField::Command),
            "actor" => Key::Envelope(EnvelopeField::Actor),
            "type" => Key::Type,
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key of an event")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::of(text).unwrap_or(Key::Other(Cow::Borrowed(text))))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Key<'de>, E> {
                Ok(Key::of(text).unwrap_or_else(|| Key::Other(Cow::Owned(text.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Key<'de>, E> {
                Ok(Key::of(&text).unwrap_or(Key::Other(Cow::Owned(text))))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The envelope's fields as they are read, in whatever order.
#[derive(Default)]
struct Envelope {
    v: Option<u16>,
    seq: Option<u64>,
    at: Option<DateTime<Utc>>,
    command: Option<CommandId>,
    actor: Option<ActorId>,
}

impl Envelope {
    /// Reads the value of `field` from `map`.
    fn read<'de, A: MapAccess<'de>>(
        &mut self,
        field: EnvelopeField,
        map: &mut A,
    ) -> Result<(), A::Error> {
        fn once<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
            slot: &mut Option<T>,
            name: &'static str,
            map: &mut A,
        ) -> Result<(), A::Error> {
            if slot.is_some() {
                return Err(de::Error::duplicate_field(name));
            }
            *slot = Some(map.next_value()?);
            Ok(())
        }
        match field {
            EnvelopeField::V => once(&mut self.v, "v", map),
            EnvelopeField::Seq => once(&mut self.seq, "seq", map),
            EnvelopeField::At => once(&mut self.at, "at", map),
            EnvelopeField::Command => once(&mut self.command, "command", map),
            EnvelopeField::Actor => once(&mut self.actor, "actor", map),
        }
    }

    fn finish<E: de::Error>(self, kind: EventKind) -> Result<Event, E> {
        Ok(Event {
            v: self.v.ok_or_else(|| E::missing_field("v"))?,
            seq: self.seq.ok_or_else(|| E::missing_field("seq"))?,
            at: self.at.ok_or_else(|| E::missing_field("at"))?,
            command: self.command.ok_or_else(|| E::missing_field("command"))?,
            actor: self.actor.ok_or_else(|| E::missing_field("actor"))?,
            kind,
        })
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let mut envelope = Envelope::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let kind = match key {
                Key::Envelope(field) => {
                    envelope.read(field, &mut map)?;
                    continue;
                }
                Key::Type => {
                    let tag = map.next_value::<CowStr<'de>>()?.0;
                    Kind::deserialize(Tagged {
                        tag,
                        rest: Rest {
                            map: &mut map,
                            envelope: &mut envelope,
                        },
                    })?
                }
                Key::Other(first) => buffered(first, &mut map, &mut envelope)?,
            };
            return envelope.finish(kind);
        }
        Err(de::Error::missing_field("type"))
    }
}

/// The kind of an event whose fields come before its `type` (`first` is the first such
/// key, its value not read yet): the rest of the object is read into a JSON value, the
/// envelope taken out of it, and the kind decoded from that value as the derived decoder
/// would.
fn buffered<'de, A: MapAccess<'de>>(
    first: Cow<'de, str>,
    map: &mut A,
    envelope: &mut Envelope,
) -> Result<EventKind, A::Error> {
    let mut rest = serde_json::Map::new();
    rest.insert(first.into_owned(), map.next_value()?);
    while let Some(key) = map.next_key::<Key<'de>>()? {
        let name = match key {
            Key::Envelope(field) => {
                envelope.read(field, map)?;
                continue;
            }
            Key::Type => "type".to_owned(),
            Key::Other(name) => name.into_owned(),
        };
        if rest.contains_key(&name) {
            return Err(de::Error::custom(format_args!("duplicate field `{name}`")));
        }
        rest.insert(name, map.next_value()?);
    }
    EventKind::deserialize(serde_json::Value::Object(rest)).map_err(de::Error::custom)
}

/// A string value, borrowed from the input when it can be.
struct CowStr<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CowStrVisitor;
        impl<'de> Visitor<'de> for CowStrVisitor {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(CowStrVisitor)
    }
}

/// The rest of an event object after its `type`, as the map of a struct variant; envelope
/// keys met on the way are taken out into the envelope.
struct Rest<'a, A> {
    map: &'a mut A,
    envelope: &'a mut Envelope,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Rest<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        while let Some(key) = self.map.next_key::<Key<'de>>()? {
            match key {
                Key::Envelope(field) => self.envelope.read(field, self.map)?,
                Key::Type => return Err(de::Error::duplicate_field("type")),
                Key::Other(name) => {
                    return seed.deserialize(CowStrDeserializer::new(name)).map(Some);
                }
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// An event's tag and the rest of its object, as the externally tagged [`Kind`] reads an
/// enum: the variant's name, then its fields.
struct Tagged<'de, 'a, A> {
    tag: Cow<'de, str>,
    rest: Rest<'a, A>,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Tagged<'de, '_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

impl<'de, 'a, A: MapAccess<'de>> de::EnumAccess<'de> for Tagged<'de, 'a, A> {
    type Error = A::Error;
    type Variant = Rest<'a, A>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Rest<'a, A>), A::Error> {
        let variant = seed.deserialize(CowStrDeserializer::new(self.tag))?;
        Ok((variant, self.rest))
    }
}

impl<'de, A: MapAccess<'de>> de::VariantAccess<'de> for Rest<'_, A> {
    type Error = A::Error;

    /// A kind without fields (`case_closed`): whatever else the object holds, besides the
    /// envelope, is ignored, as the derived decoder ignores it.
    fn unit_variant(mut self) -> Result<(), A::Error> {
        while self.next_key::<IgnoredAny>()?.is_some() {
            self.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, A::Error> {
        Err(de::Error::invalid_type(
            de::Unexpected::NewtypeVariant,
            &"an event kind with named fields",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, A::Error> {
        Err(de::Error::invalid_type(
            de::Unexpected::TupleVariant,
            &"an event kind with named fields",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_map(self)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::super::{
        Event, EventKind, FieldValues, MigratedTimers, ParentLink, StepRename, SubCaseOutcome,
        WithdrawnStep,
    };
    use crate::engine::ids::{ActorId, CaseId, CommandId};
    use crate::model::{FieldId, FieldValue, RoleId, SopId, StepId};

    /// The decoder this one replaces: serde's derive over the flattened kind.
    #[derive(Deserialize)]
    struct Derived {
        v: u16,
        seq: u64,
        at: DateTime<Utc>,
        command: CommandId,
        actor: ActorId,
        #[serde(flatten)]
        kind: EventKind,
    }

    fn derived(json: &str) -> Result<Event, serde_json::Error> {
        let Derived {
            v,
            seq,
            at,
            command,
            actor,
            kind,
        } = serde_json::from_str(json)?;
        Ok(Event {
            v,
            seq,
            at,
            command,
            actor,
            kind,
        })
    }

    fn id() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9_-]{0,8}"
    }

    fn step() -> impl Strategy<Value = StepId> {
        id().prop_map(|text| StepId::new(text).unwrap())
    }

    fn role() -> impl Strategy<Value = RoleId> {
        id().prop_map(|text| RoleId::new(text).unwrap())
    }

    /// Texts with quotes, escapes and non-ASCII, so borrowed and owned strings both occur.
    fn text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 \"\\\\\n\t\u{e9}\u{1F600}/]{0,12}"
    }

    fn time() -> impl Strategy<Value = DateTime<Utc>> {
        (0i64..4_000_000_000, 0u32..1_000_000_000)
            .prop_map(|(secs, nanos)| Utc.timestamp_opt(secs, nanos).unwrap())
    }

    fn times() -> impl Strategy<Value = Vec<DateTime<Utc>>> {
        prop::collection::vec(time(), 0..3)
    }

    fn value() -> impl Strategy<Value = FieldValue> {
        prop_oneof![
            any::<bool>().prop_map(FieldValue::Bool),
            any::<i64>().prop_map(FieldValue::Integer),
            (-1e9f64..1e9).prop_map(FieldValue::Number),
            text().prop_map(FieldValue::Text),
            prop::collection::vec(text(), 0..3).prop_map(FieldValue::List),
        ]
    }

    fn fields() -> impl Strategy<Value = FieldValues> {
        prop::collection::btree_map(
            id().prop_map(|text| FieldId::new(text).unwrap()),
            value(),
            0..4,
        )
    }

    fn timers() -> impl Strategy<Value = MigratedTimers> {
        (
            prop::option::of(any::<u32>()),
            prop::option::of(time()),
            prop::option::of(time()),
            times(),
            prop::option::of(time()),
            any::<bool>(),
        )
            .prop_map(|(token, due_at, warn_at, levels, timeout_at, pausable)| {
                MigratedTimers {
                    token,
                    due_at,
                    warn_at,
                    levels,
                    timeout_at,
                    pausable,
                }
            })
    }

    fn kind() -> impl Strategy<Value = EventKind> {
        let token = any::<u32>;
        let arms: Vec<BoxedStrategy<EventKind>> = vec![
            (
                id(),
                id(),
                any::<u32>(),
                fields(),
                prop::option::of((id(), step(), token())),
            )
                .prop_map(
                    |(case, sop, version, fields, parent)| EventKind::CaseStarted {
                        case: CaseId::new(case),
                        sop: SopId::new(sop).unwrap(),
                        version,
                        fields,
                        parent: parent.map(|(case, step, token)| ParentLink {
                            case: CaseId::new(case),
                            step,
                            token,
                        }),
                    },
                )
                .boxed(),
            (step(), token(), id(), id(), fields())
                .prop_map(
                    |(step, token, case, sop, fields)| EventKind::SubCaseRequested {
                        step,
                        token,
                        case: CaseId::new(case),
                        sop: SopId::new(sop).unwrap(),
                        fields,
                    },
                )
                .boxed(),
            (step(), token(), id())
                .prop_map(|(step, token, case)| EventKind::SubCaseStarted {
                    step,
                    token,
                    case: CaseId::new(case),
                })
                .boxed(),
            (step(), token(), id(), any::<bool>())
                .prop_map(|(step, token, case, done)| EventKind::SubCaseFinished {
                    step,
                    token,
                    case: CaseId::new(case),
                    outcome: if done {
                        SubCaseOutcome::Completed
                    } else {
                        SubCaseOutcome::Cancelled
                    },
                })
                .boxed(),
            id().prop_map(|parent| EventKind::ParentInformed {
                parent: CaseId::new(parent),
            })
            .boxed(),
            (
                step(),
                token(),
                prop::option::of(time()),
                prop::option::of(time()),
                prop::option::of(time()),
                times(),
                any::<bool>(),
            )
                .prop_map(
                    |(step, token, due_at, timeout_at, warn_at, levels, pausable)| {
                        EventKind::StepActivated {
                            item: (token % 3 == 0).then(|| format!("item {token}")),
                            step,
                            token,
                            due_at,
                            timeout_at,
                            warn_at,
                            levels,
                            pausable,
                        }
                    },
                )
                .boxed(),
            (step(), token(), id())
                .prop_map(|(step, token, assignee)| EventKind::StepAssigned {
                    step,
                    token,
                    assignee: ActorId::new(assignee),
                })
                .boxed(),
            (step(), token(), role())
                .prop_map(|(step, token, role)| EventKind::StepTransferred { step, token, role })
                .boxed(),
            (step(), token(), time(), prop::option::of(time()))
                .prop_map(|(step, token, until, due_at)| EventKind::StepPostponed {
                    step,
                    token,
                    until,
                    due_at,
                })
                .boxed(),
            fields()
                .prop_map(|fields| EventKind::FieldsUpdated { fields })
                .boxed(),
            (step(), token())
                .prop_map(|(step, token)| EventKind::StepCompleted { step, token })
                .boxed(),
            (step(), token(), prop::option::of(text()))
                .prop_map(|(step, token, comment)| EventKind::ApprovalGranted {
                    step,
                    token,
                    comment,
                })
                .boxed(),
            (step(), token())
                .prop_map(|(step, token)| EventKind::GateApproved { step, token })
                .boxed(),
            (step(), token(), text())
                .prop_map(|(step, token, reason)| EventKind::GateRejected {
                    step,
                    token,
                    reason,
                })
                .boxed(),
            (step(), prop::option::of(text()), step())
                .prop_map(|(step, condition, target)| EventKind::DecisionTaken {
                    step,
                    condition,
                    target,
                })
                .boxed(),
            (step(), token(), text())
                .prop_map(|(step, token, reason)| EventKind::StepEscalated {
                    step,
                    token,
                    reason,
                })
                .boxed(),
            (step(), token(), any::<bool>())
                .prop_map(|(step, token, escalated)| EventKind::SlaBreached {
                    step,
                    token,
                    escalated,
                })
                .boxed(),
            (
                prop::option::of(time()),
                prop::option::of(time()),
                times(),
                any::<bool>(),
            )
                .prop_map(
                    |(due_at, warn_at, levels, pausable)| EventKind::CaseSlaStarted {
                        due_at,
                        warn_at,
                        levels,
                        pausable,
                    },
                )
                .boxed(),
            (prop::option::of(step()), prop::option::of(token()))
                .prop_map(|(step, token)| EventKind::SlaWarned { step, token })
                .boxed(),
            Just(EventKind::CaseSlaBreached).boxed(),
            (
                prop::option::of(step()),
                prop::option::of(token()),
                any::<u32>(),
                prop::option::of(role()),
                any::<bool>(),
            )
                .prop_map(
                    |(step, token, level, notify, escalated)| EventKind::SlaLevelReached {
                        step,
                        token,
                        level,
                        notify,
                        escalated,
                    },
                )
                .boxed(),
            (
                prop::option::of(step()),
                prop::option::of(token()),
                prop::option::of(time()),
                prop::option::of(time()),
                times(),
                prop::option::of(time()),
                any::<i64>(),
            )
                .prop_map(
                    |(step, token, due_at, warn_at, levels, timeout_at, held_secs)| {
                        EventKind::SlaRescheduled {
                            step,
                            token,
                            due_at,
                            warn_at,
                            levels,
                            timeout_at,
                            held_secs,
                        }
                    },
                )
                .boxed(),
            text()
                .prop_map(|reason| EventKind::CasePaused { reason })
                .boxed(),
            Just(EventKind::CaseResumed).boxed(),
            (step(), token())
                .prop_map(|(step, token)| EventKind::TimerFired { step, token })
                .boxed(),
            (step(), any::<u32>(), prop::collection::vec(step(), 0..3))
                .prop_map(|(step, branches, skipped)| EventKind::BranchesStarted {
                    step,
                    branches,
                    skipped,
                })
                .boxed(),
            (step(), prop::collection::vec(text(), 0..3), any::<u32>())
                .prop_map(|(step, items, needed)| EventKind::InstancesStarted {
                    step,
                    items,
                    needed,
                })
                .boxed(),
            (
                step(),
                prop::collection::vec(
                    (step(), token()).prop_map(|(step, token)| WithdrawnStep { step, token }),
                    0..3,
                ),
                prop::collection::vec(step(), 0..2),
            )
                .prop_map(|(by, steps, joins)| EventKind::WorkWithdrawn { by, steps, joins })
                .boxed(),
            (step(), token(), text())
                .prop_map(|(step, token, reason)| EventKind::StepCancelled {
                    step,
                    token,
                    reason,
                })
                .boxed(),
            step()
                .prop_map(|split| EventKind::BranchJoined { split })
                .boxed(),
            (text(), prop::option::of(step()))
                .prop_map(|(text, step)| EventKind::NoteAdded { text, step })
                .boxed(),
            Just(EventKind::CaseClosed).boxed(),
            text()
                .prop_map(|reason| EventKind::CaseCancelled { reason })
                .boxed(),
            text()
                .prop_map(|reason| EventKind::CaseReopened { reason })
                .boxed(),
            (
                any::<u32>(),
                any::<u32>(),
                prop::collection::vec(
                    (step(), step()).prop_map(|(from, to)| StepRename { from, to }),
                    0..3,
                ),
                fields(),
                prop::collection::vec(timers(), 0..3),
                prop::option::of(timers()),
            )
                .prop_map(
                    |(from_version, to_version, renamed, fields, timers, case_sla)| {
                        EventKind::CaseMigrated {
                            from_version,
                            to_version,
                            renamed,
                            fields,
                            timers,
                            case_sla,
                        }
                    },
                )
                .boxed(),
            (time(), text())
                .prop_map(|(wrong, reason)| EventKind::TimeCorrected { wrong, reason })
                .boxed(),
        ];
        prop::strategy::Union::new(arms)
    }

    /// Every kind, so that a kind added to [`EventKind`] fails to compile here until it is
    /// added to `Kind` above and to [`kind`]: serde's `remote` checks the fields of the
    /// kinds `Kind` lists, not that it lists them all, and a kind it does not list would
    /// not decode.
    #[test]
    fn every_kind_is_decoded_and_generated() {
        let named = |kind: &EventKind| match kind {
            EventKind::CaseStarted { .. }
            | EventKind::StepActivated { .. }
            | EventKind::StepAssigned { .. }
            | EventKind::StepTransferred { .. }
            | EventKind::StepPostponed { .. }
            | EventKind::FieldsUpdated { .. }
            | EventKind::StepCompleted { .. }
            | EventKind::ApprovalGranted { .. }
            | EventKind::GateApproved { .. }
            | EventKind::GateRejected { .. }
            | EventKind::DecisionTaken { .. }
            | EventKind::StepEscalated { .. }
            | EventKind::StepCancelled { .. }
            | EventKind::SubCaseRequested { .. }
            | EventKind::SubCaseStarted { .. }
            | EventKind::SubCaseFinished { .. }
            | EventKind::ParentInformed { .. }
            | EventKind::SlaBreached { .. }
            | EventKind::CaseSlaStarted { .. }
            | EventKind::SlaWarned { .. }
            | EventKind::CaseSlaBreached
            | EventKind::SlaLevelReached { .. }
            | EventKind::SlaRescheduled { .. }
            | EventKind::CasePaused { .. }
            | EventKind::CaseResumed
            | EventKind::TimerFired { .. }
            | EventKind::BranchesStarted { .. }
            | EventKind::BranchJoined { .. }
            | EventKind::InstancesStarted { .. }
            | EventKind::WorkWithdrawn { .. }
            | EventKind::NoteAdded { .. }
            | EventKind::CaseClosed
            | EventKind::CaseCancelled { .. }
            | EventKind::CaseReopened { .. }
            | EventKind::CaseMigrated { .. }
            | EventKind::TimeCorrected { .. } => kind.name(),
        };
        // Draw until every kind has come up, decoding each through this decoder.
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = kind();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..5_000 {
            let kind =
                proptest::strategy::ValueTree::current(&strategy.new_tree(&mut runner).unwrap());
            let json = serde_json::to_string(&Event {
                v: 1,
                seq: 1,
                at: Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap(),
                command: CommandId::new("c"),
                actor: ActorId::new("a"),
                kind: kind.clone(),
            })
            .unwrap();
            let decoded: Event = serde_json::from_str(&json).unwrap();
            assert_eq!(decoded.kind, kind);
            seen.insert(named(&kind));
        }
        assert_eq!(seen.len(), 36, "kinds never generated: only {seen:?}");
    }

    fn event() -> impl Strategy<Value = Event> {
        (any::<u16>(), any::<u64>(), time(), text(), text(), kind()).prop_map(
            |(v, seq, at, command, actor, kind)| Event {
                v,
                seq,
                at,
                command: CommandId::new(command),
                actor: ActorId::new(actor),
                kind,
            },
        )
    }

    /// The event's JSON with its keys in the order `order` picks (a permutation index per
    /// key), as another writer might have put them.
    fn reordered(event: &Event, order: &[usize]) -> String {
        let serde_json::Value::Object(entries) = serde_json::to_value(event).unwrap() else {
            unreachable!("an event is an object")
        };
        let mut entries: Vec<(String, serde_json::Value)> = entries.into_iter().collect();
        let mut keyed: Vec<(usize, (String, serde_json::Value))> = entries
            .drain(..)
            .enumerate()
            .map(|(i, entry)| (order.get(i).copied().unwrap_or(i), entry))
            .collect();
        keyed.sort_by_key(|(rank, _)| *rank);
        let members: Vec<String> = keyed
            .iter()
            .map(|(_, (key, value))| format!("{}:{}", serde_json::to_string(key).unwrap(), value))
            .collect();
        format!("{{{}}}", members.join(","))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn reads_what_it_writes_as_the_derived_decoder_does(event in event()) {
            let json = serde_json::to_string(&event).unwrap();
            let read: Event = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&read, &event);
            prop_assert_eq!(derived(&json).unwrap(), read);
        }

        #[test]
        fn reads_keys_in_any_order(
            event in event(),
            order in prop::collection::vec(any::<usize>(), 0..16),
        ) {
            let json = reordered(&event, &order);
            let read: Event = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&read, &event);
            prop_assert_eq!(derived(&json).unwrap(), read);
        }
    }

    fn both(json: &str) -> (Result<Event, String>, Result<Event, String>) {
        (
            serde_json::from_str::<Event>(json).map_err(|e| e.to_string()),
            derived(json).map_err(|e| e.to_string()),
        )
    }

    const ENVELOPE: &str =
        r#""v":1,"seq":2,"at":"2026-01-05T09:00:00Z","command":"c-1","actor":"ana""#;

    #[test]
    fn ignores_unknown_keys_like_the_derived_decoder() {
        for json in [
            format!(
                r#"{{{ENVELOPE},"type":"step_completed","step":"receive","token":3,"later":[1,{{"a":2}}]}}"#
            ),
            format!(r#"{{{ENVELOPE},"type":"case_closed","later":true}}"#),
            format!(
                r#"{{"later":null,{ENVELOPE},"step":"receive","type":"step_completed","token":3}}"#
            ),
        ] {
            let (read, derived) = both(&json);
            assert!(read.is_ok(), "{json}: {read:?}");
            assert_eq!(read, derived, "{json}");
        }
    }

    #[test]
    fn refuses_what_the_derived_decoder_refuses() {
        for json in [
            format!(r#"{{{ENVELOPE}}}"#),
            format!(r#"{{{ENVELOPE},"type":"no_such_kind"}}"#),
            format!(r#"{{{ENVELOPE},"type":"step_completed","step":"receive"}}"#),
            format!(r#"{{{ENVELOPE},"type":"step_completed","step":"Receive","token":3}}"#),
            format!(r#"{{{ENVELOPE},"type":"step_completed","token":3,"type":"case_closed"}}"#),
            format!(r#"{{{ENVELOPE},"type":"case_closed","v":1}}"#),
            r#"{"seq":2,"at":"2026-01-05T09:00:00Z","command":"c-1","actor":"ana","type":"case_closed"}"#.to_owned(),
            format!(r#"{{{ENVELOPE},"token":3,"step":"receive"}}"#),
            format!(r#"{{{ENVELOPE},"type":7}}"#),
            "[]".to_owned(),
        ] {
            let (read, derived) = both(&json);
            assert!(read.is_err(), "{json} was read: {read:?}");
            assert!(derived.is_err(), "{json} was read by the derived decoder: {derived:?}");
        }
    }

    #[test]
    fn an_unknown_kind_is_named_in_the_error() {
        let error =
            serde_json::from_str::<Event>(&format!(r#"{{{ENVELOPE},"type":"no_such_kind"}}"#))
                .unwrap_err()
                .to_string();
        assert!(
            error.starts_with("unknown variant `no_such_kind`, expected one of `case_started`"),
            "{error}"
        );
    }
}
