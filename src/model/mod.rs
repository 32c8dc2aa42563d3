//! The SOP document as an ops lead writes it: serde types that mirror the YAML one to one.
//!
//! These types say what is *written*, not what it means: a [`Step`] holds every key a step
//! may have, and whether a combination makes sense (an approval with `collects`, a decision
//! without `else`) is decided by the compiler in [`crate::graph`], which reports every
//! problem with its location instead of stopping at the first. Every id and reference is
//! [`Spanned`] so those reports can point at line and column.
//!
//! Architecture invariant: this module knows nothing about YAML. It derives `serde` traits
//! (and `schemars` ones with the `schema` feature); [`crate::parse`] drives them from YAML
//! text.

mod calendar;
mod duration;
mod ids;
mod kpi;
mod migration;
mod sla;
mod span;

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use calendar::CalendarSpec;
pub use duration::{DURATION_PATTERN, DurationError, SopDuration};
pub(crate) use ids::deserialize_arc_str;
pub use ids::{
    CalendarId, FieldId, ID_PATTERN, KpiId, MAX_ID_LEN, RoleId, SopId, StepId, TermName,
};
pub use kpi::{CasePath, CasePoint, Kpi, KpiNumber, SlaScope};
pub use migration::MigrationSpec;
pub use sla::{CaseSla, DateSide, EscalationLevel, TimerSpec};
pub use span::{OrderedMap, SourceSpan, Spanned};

/// One standard operating procedure: metadata, glossary, roles, the case's form fields and
/// the steps a case goes through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    feature = "schema",
    schemars(title = "sopflow standard operating procedure")
)]
pub struct Sop {
    /// Unique id of the SOP across the library (`customer-support`).
    pub id: Spanned<SopId>,
    /// Revision of this SOP. Running cases finish on the version they started on.
    pub version: Spanned<u32>,
    /// Human title (`Customer Support Process`).
    pub title: Spanned<String>,
    /// The department that owns the SOP.
    pub department: Spanned<String>,
    /// Why the SOP exists and what a good outcome is.
    #[serde(default)]
    pub purpose: Option<Spanned<String>>,
    /// Glossary: every acronym used in titles and instructions must be defined here.
    #[serde(default)]
    pub terms: OrderedMap<TermName, Spanned<String>>,
    /// Roles that act in the SOP, each with a short description.
    pub roles: OrderedMap<RoleId, Spanned<String>>,
    /// The case's form data: typed fields that steps collect and conditions read.
    #[serde(default)]
    pub fields: OrderedMap<FieldId, Field>,
    /// Working-hours calendars that timers count in, by name.
    #[serde(default)]
    pub calendars: OrderedMap<CalendarId, CalendarSpec>,
    /// The calendar of every timer that does not name its own. Without one, timers count
    /// round the clock in UTC.
    #[serde(default)]
    pub calendar: Option<Spanned<CalendarId>>,
    /// The service level of the whole case: resolved within a time of opening.
    #[serde(default)]
    pub sla: Option<CaseSla>,
    /// Key performance indicators the SOP is judged by (first response time, CSAT, …),
    /// by name, computed from case histories by `sopflow::metrics`.
    #[serde(default)]
    pub kpis: OrderedMap<KpiId, Kpi>,
    /// The steps in order. A step flows to the one after it unless it says otherwise.
    pub steps: Vec<Step>,
    /// How open cases of an earlier version move onto this one (`sop case migrate`).
    #[serde(default)]
    pub migrate: Option<Spanned<MigrationSpec>>,
}

/// The type of a case field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum FieldType {
    /// Free text.
    Text,
    /// An e-mail address.
    Email,
    /// A decimal number.
    Number,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Bool,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// Exactly one of `options`.
    Choice,
    /// Any subset of `options`.
    MultiChoice,
    /// A person: the id of an actor (`ana`), as the app and the directory of people know
    /// them. A step's `assignee:` names such a field.
    Person,
}

impl FieldType {
    /// The name as written in YAML (`multi-choice`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Email => "email",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::Choice => "choice",
            FieldType::Person => "person",
            FieldType::MultiChoice => "multi-choice",
        }
    }
}

/// A typed form field of the case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// What kind of value the field holds.
    #[serde(rename = "type")]
    pub field_type: Spanned<FieldType>,
    /// The label a form shows; defaults to the field id.
    #[serde(default)]
    pub label: Option<Spanned<String>>,
    /// A step that collects this field cannot complete until it has a value.
    #[serde(default)]
    pub required: bool,
    /// The value a new case starts with.
    #[serde(default)]
    pub default: Option<Spanned<FieldValue>>,
    /// Smallest allowed value (number, integer) or length (text).
    #[serde(default)]
    pub min: Option<Spanned<f64>>,
    /// Largest allowed value (number, integer) or length (text).
    #[serde(default)]
    pub max: Option<Spanned<f64>>,
    /// The allowed values of a `choice` or `multi-choice` field.
    #[serde(default)]
    pub options: Option<Spanned<Vec<Spanned<String>>>>,
    /// Roles whose holders may change the field at any time (`sop case set`), outside the
    /// steps that collect it. Without it, only a step that collects the field writes it.
    #[serde(default)]
    pub editable_by: Vec<Spanned<RoleId>>,
}

/// A value of a case field, as written in a `default:` or sent in a command.
///
/// YAML decides the variant (`3` is an integer, `"3"` text); the compiler and the engine
/// check it against the field's `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(untagged)]
pub enum FieldValue {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A decimal number.
    Number(f64),
    /// Text, an e-mail, a date or a choice.
    Text(String),
    /// The chosen options of a multi-choice field.
    List(Vec<String>),
}

impl From<bool> for FieldValue {
    fn from(value: bool) -> FieldValue {
        FieldValue::Bool(value)
    }
}

impl From<i64> for FieldValue {
    fn from(value: i64) -> FieldValue {
        FieldValue::Integer(value)
    }
}

impl From<i32> for FieldValue {
    fn from(value: i32) -> FieldValue {
        FieldValue::Integer(i64::from(value))
    }
}

impl From<f64> for FieldValue {
    fn from(value: f64) -> FieldValue {
        FieldValue::Number(value)
    }
}

impl From<&str> for FieldValue {
    fn from(value: &str) -> FieldValue {
        FieldValue::Text(value.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(value: String) -> FieldValue {
        FieldValue::Text(value)
    }
}

/// The chosen options of a multi-choice field.
impl From<Vec<String>> for FieldValue {
    fn from(value: Vec<String>) -> FieldValue {
        FieldValue::List(value)
    }
}

/// One entry of `steps`: a task for a role, an approval gate, a decision or a parallel split.
///
/// Which it is follows from its keys: `approval` makes a gate, `decide` a decision,
/// `parallel` a split, anything else is a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique id of the step within the SOP.
    pub id: Spanned<StepId>,
    /// The id this step had in the previous version of the SOP, when it was renamed:
    /// `sop diff` then shows a rename instead of a removed and an added step, and moving
    /// open cases onto this version maps the old id to this step. The old id must not be a
    /// step of this version too.
    #[serde(default)]
    pub renamed_from: Option<Spanned<StepId>>,
    /// What the step is, in a few words. May use `{{ field }}` templates.
    #[serde(default)]
    pub title: Option<Spanned<String>>,
    /// The role whose holders perform the step (tasks).
    #[serde(default)]
    pub role: Option<Spanned<RoleId>>,
    /// How to do it. May use `{{ field }}` templates.
    #[serde(default)]
    pub instructions: Option<Spanned<String>>,
    /// Fields the performer fills in when completing the step.
    #[serde(default)]
    pub collects: Vec<Spanned<FieldId>>,
    /// Service level: the step is overdue this long (working time) after it becomes
    /// active; one duration, or one per option of a choice field.
    #[serde(default)]
    pub due: Option<Spanned<TimerSpec>>,
    /// Tell whoever holds the step this long before it is due.
    #[serde(default)]
    pub warn: Option<Spanned<SopDuration>>,
    /// The escalation ladder after the due time: each level notifies a role or moves the
    /// case, at a growing delay.
    #[serde(default)]
    pub overdue: Option<Spanned<Vec<EscalationLevel>>>,
    /// Where an overdue step escalates to at its due time: short for
    /// `overdue: [{ goto: STEP }]`.
    #[serde(default)]
    pub on_overdue: Option<Spanned<StepId>>,
    /// Whether pausing the case (waiting on the customer) stops this step's SLA clock.
    #[serde(default)]
    pub pausable: Option<Spanned<bool>>,
    /// The calendar this step's timers count in; defaults to the SOP's `calendar`.
    #[serde(default)]
    pub calendar: Option<Spanned<CalendarId>>,
    /// A timer racing the performer: if the step is still active this long after it
    /// started, the case moves to `on_timeout` (a deferred choice, not a breach).
    #[serde(default)]
    pub after: Option<Spanned<TimerSpec>>,
    /// Where the case goes when the `after` timer wins.
    #[serde(default)]
    pub on_timeout: Option<Spanned<StepId>>,
    /// Where the performer may escalate the step to, with a reason.
    #[serde(default)]
    pub on_escalate: Option<Spanned<StepId>>,
    /// Makes the step cancellable on its own while the case goes on (`sop case
    /// cancel-step`), and names where the case goes then. Inside a parallel branch it names
    /// the branch's join step or another step of the same branch.
    #[serde(default)]
    pub on_cancel: Option<Spanned<StepId>>,
    /// The step that follows; defaults to the next one in the list.
    #[serde(default)]
    pub next: Option<Spanned<StepId>>,
    /// The case ends when this step completes.
    #[serde(default)]
    pub end: Option<Spanned<bool>>,
    /// Makes the step an approval gate.
    #[serde(default)]
    pub approval: Option<Spanned<Approval>>,
    /// Makes the step an exclusive decision over the case's fields.
    #[serde(default)]
    pub decide: Option<Spanned<Vec<DecisionArm>>>,
    /// Makes the step a parallel split: each listed step starts a branch.
    #[serde(default)]
    pub parallel: Option<Spanned<Vec<Spanned<StepId>>>>,
    /// The step where the parallel branches meet; it starts once every branch that started
    /// reached it (or `wait_for` of them).
    #[serde(default)]
    pub join: Option<Spanned<StepId>>,
    /// Conditions on branches of a parallel split, by branch: a branch listed here starts
    /// only when its CEL condition holds (multi-choice); the others always start. The join
    /// waits for the branches that started; when none did, the case goes on at the join.
    #[serde(default)]
    pub when: OrderedMap<StepId, Spanned<String>>,
    /// How many branches (on a split) or items (on a `for_each` task) must be done before
    /// the case goes on (the N-of-M join, or discriminator with 1); the rest of the work is
    /// then withdrawn. Without it, all of them.
    #[serde(default)]
    pub wait_for: Option<Spanned<u32>>,
    /// Runs the task once per item of a multi-choice field (`for_each: systems`): each item
    /// is an activation of its own, with its own assignee and SLA, and the case goes on once
    /// all of them (or `wait_for`) are done. No item: the step is skipped.
    #[serde(default)]
    pub for_each: Option<Spanned<FieldId>>,
    /// The `person` field naming who performs the task (or alone approves the gate): the
    /// step is assigned to them when it becomes active.
    #[serde(default)]
    pub assignee: Option<Spanned<FieldId>>,
    /// An earlier task whose performer also performs this one (the agent who took the
    /// complaint makes the callback): the step is assigned to them when it becomes active.
    #[serde(default)]
    pub same_performer_as: Option<Spanned<StepId>>,
    /// Tasks whose performers may not perform this one (whoever raised the invoice cannot
    /// pay it): separation of duties, as `reviews` is for gates.
    #[serde(default)]
    pub separate_from: Vec<Spanned<StepId>>,
    /// Completing the task ends the case at once, withdrawing every other active step and
    /// waiting branch (the customer withdrew): an explicit termination, allowed inside a
    /// parallel branch, where `end: true` is not.
    #[serde(default)]
    pub terminate: Option<Spanned<bool>>,
    /// Makes the task start a case of another SOP (a sub-SOP) and wait for it: fields are
    /// mapped in when the sub-case starts and back when it completes. The task's role
    /// follows up when the sub-case is cancelled.
    #[serde(default)]
    pub call: Option<Spanned<Call>>,
}

/// A task's call of another SOP: the sub-case it starts, what it is given and what it
/// gives back. Both maps read "target: source".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// The id of the SOP whose case is started; its latest stored version runs.
    pub sop: Spanned<SopId>,
    /// Fields of the sub-case set from fields of this case when it starts:
    /// `{ child_field: parent_field }`.
    #[serde(default)]
    pub with: OrderedMap<FieldId, Spanned<FieldId>>,
    /// Fields of this case set from fields of the sub-case when it completes:
    /// `{ parent_field: child_field }`.
    #[serde(default)]
    pub returns: OrderedMap<FieldId, Spanned<FieldId>>,
}

/// An approval gate: the case waits until enough holders of a role approve, or one rejects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The role whose holders may approve or reject (`by: team_lead`), or several roles,
    /// any holder of any of which may (`by: [billing_lead, finance]`).
    pub by: Spanned<Approvers>,
    /// How many distinct approvers are needed. Defaults to 1.
    #[serde(default)]
    pub count: Option<Spanned<u32>>,
    /// The steps whose work is reviewed: whoever performed them cannot approve (four eyes).
    #[serde(default)]
    pub reviews: Vec<Spanned<StepId>>,
    /// Where a rejection sends the case for rework.
    pub on_reject: Spanned<StepId>,
}

impl Approval {
    /// The roles written under `by`, each with its location: a single role is located at
    /// `by`'s value.
    pub fn approver_roles(&self) -> Vec<Spanned<RoleId>> {
        match &self.by.value {
            Approvers::One(role) => vec![Spanned::new(role.clone(), self.by.span)],
            Approvers::AnyOf(roles) => roles.clone(),
        }
    }
}

/// Who may decide an approval gate, as written under `by`.
#[derive(Debug, Clone, PartialEq)]
pub enum Approvers {
    /// One role (`by: team_lead`).
    One(RoleId),
    /// A list of roles (`by: [billing_lead, finance]`): a holder of any of them may decide.
    /// The compiler refuses an empty list and a role listed twice.
    AnyOf(Vec<Spanned<RoleId>>),
}

impl<'de> Deserialize<'de> for Approvers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ApproversVisitor;

        impl<'de> serde::de::Visitor<'de> for ApproversVisitor {
            type Value = Approvers;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a role (`team_lead`), or a list of roles (`[billing_lead, finance]`)")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Approvers, E> {
                RoleId::new(text).map(Approvers::One).map_err(E::custom)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Approvers, A::Error> {
                let mut roles = Vec::new();
                while let Some(role) = access.next_element::<Spanned<RoleId>>()? {
                    roles.push(role);
                }
                Ok(Approvers::AnyOf(roles))
            }
        }

        deserializer.deserialize_any(ApproversVisitor)
    }
}

impl Serialize for Approvers {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Approvers::One(role) => role.serialize(serializer),
            Approvers::AnyOf(roles) => roles.serialize(serializer),
        }
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for Approvers {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Approvers".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let role = generator.subschema_for::<RoleId>();
        schemars::json_schema!({
            "description": "The role whose holders may approve or reject (`team_lead`), or a list of roles, any holder of any of which may (`[billing_lead, finance]`).",
            "oneOf": [
                role,
                { "type": "array", "items": role, "minItems": 1, "uniqueItems": true },
            ],
        })
    }
}

/// One arm of a decision: `if` a CEL condition `goto` a step, or the final `else`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DecisionArm {
    /// A CEL condition over the case's fields (`priority == "High"`).
    #[serde(default, rename = "if")]
    pub condition: Option<Spanned<String>>,
    /// Where the case goes when the condition holds.
    #[serde(default)]
    pub goto: Option<Spanned<StepId>>,
    /// Where the case goes when no condition before it held.
    #[serde(default, rename = "else")]
    pub otherwise: Option<Spanned<StepId>>,
}
