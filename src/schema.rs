//! The JSON Schemas of the SOP format and of scenario files, generated from the
//! [`model`](crate::model) and [`scenario`](crate::scenario) types so the schemas and the
//! parser cannot disagree. Editors use them for completion and inline errors: put
//! `# yaml-language-server: $schema=../schema/sop.schema.json` at the top of an SOP, and
//! `…/scenario.schema.json` at the top of a scenario file.

/// The JSON Schema (draft 2020-12) of an SOP document.
///
/// ```
/// let schema = sopflow::schema::sop_schema();
/// assert_eq!(schema["title"], "sopflow standard operating procedure");
/// assert!(schema["required"].as_array().unwrap().iter().any(|k| k == "steps"));
/// ```
pub fn sop_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(crate::model::Sop);
    schema.to_value()
}

/// The schema as pretty-printed JSON with a trailing newline, as committed in
/// `schema/sop.schema.json` and printed by `sop schema`.
pub fn sop_schema_json() -> String {
    let mut text = serde_json::to_string_pretty(&sop_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// The JSON Schema (draft 2020-12) of a scenario file (`NAME.test.yaml`).
///
/// ```
/// let schema = sopflow::schema::scenario_schema();
/// assert_eq!(schema["title"], "sopflow scenario file");
/// ```
pub fn scenario_schema() -> serde_json::Value {
    schemars::schema_for!(crate::scenario::ScenarioFile).to_value()
}

/// The scenario schema as pretty-printed JSON with a trailing newline, as committed in
/// `schema/scenario.schema.json` and printed by `sop schema --scenarios`.
pub fn scenario_schema_json() -> String {
    let mut text = serde_json::to_string_pretty(&scenario_schema()).unwrap_or_default();
    text.push('\n');
    text
}
