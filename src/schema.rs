//! The JSON Schema of the SOP format, generated from the [`model`](crate::model) types so the
//! schema and the parser cannot disagree. Editors use it for completion and inline errors:
//! put `# yaml-language-server: $schema=../schema/sop.schema.json` at the top of an SOP.

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
