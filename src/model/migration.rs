//! How open cases move from an earlier version of an SOP onto this one, as written.

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{FieldId, FieldValue, OrderedMap, Spanned, StepId};

/// The migration plan of a revision: where the open cases of an earlier version go.
///
/// A step whose id is unchanged maps to itself; only steps that were renamed, split or
/// removed need a line under `steps`. Fields the earlier version did not have start with
/// their `default`, or with the value given under `fields`.
///
/// ```yaml
/// migrate:
///   from: 2
///   steps: { triage: classify, verify_identity: check_account }
///   fields: { channel: email }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MigrationSpec {
    /// The version whose open cases this plan moves; the one before this version when
    /// left out.
    #[serde(default)]
    pub from: Option<Spanned<u32>>,
    /// Old step id → the step of this version that takes over its open work.
    #[serde(default)]
    pub steps: OrderedMap<StepId, Spanned<StepId>>,
    /// Values for fields that moved cases do not have yet (new fields without a default).
    #[serde(default)]
    pub fields: OrderedMap<FieldId, Spanned<FieldValue>>,
}
