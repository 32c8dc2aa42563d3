//! sopflow: standard operating procedures written in YAML, made executable.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod diagnostic;
pub mod engine;
pub mod graph;
pub mod model;
pub mod parse;
pub mod render;
pub mod schema;
pub mod store;
pub mod simulate;

use diagnostic::{Diagnostic, SourceFile};

/// Every problem in one SOP source, in source order: what `sop validate` reports.
///
/// Parses the text and, when it parses, compiles it and runs every lint. Never stops at
/// the first problem and never panics, whatever the input.
///
/// ```
/// use sopflow::diagnostic::SourceFile;
/// let source = SourceFile::new("broken.yaml", "id: a\ntitel: Oops\n");
/// let diagnostics = sopflow::check(&source);
/// assert_eq!(diagnostics[0].code.name(), "unknown-key");
/// assert_eq!(diagnostics[0].span.line, 2);
/// ```
pub fn check(source: &SourceFile) -> Vec<Diagnostic> {
    match parse::parse_sop(&source.name, &source.text) {
        Ok(sop) => graph::compile(&sop).diagnostics,
        Err(error) => vec![error.to_diagnostic()],
    }
}
