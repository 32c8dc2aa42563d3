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
pub mod simulate;
pub mod store;

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

/// An SOP read from a file: its text, the compiled process when there is no error, and
/// every diagnostic in source order.
#[derive(Debug)]
pub struct Loaded {
    /// The text, for rendering diagnostics (invalid UTF-8 replaced by `�`).
    pub source: SourceFile,
    /// The compiled process; `None` when any diagnostic is an error.
    pub process: Option<graph::Process>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and compiles SOP bytes as read from a file: text that is not UTF-8 is an error
/// located at the first bad byte, never silently replaced.
///
/// ```
/// let loaded = sopflow::load("t.yaml", b"id: a\ntitle: \xff\n");
/// assert_eq!(loaded.diagnostics[0].code.name(), "input-limit");
/// assert!(loaded.process.is_none());
/// ```
pub fn load(name: &str, bytes: &[u8]) -> Loaded {
    let source = SourceFile::new(name, String::from_utf8_lossy(bytes).into_owned());
    let (process, diagnostics) = match parse::parse_sop_bytes(name, bytes) {
        Ok(sop) => {
            let compilation = graph::compile(&sop);
            (compilation.process, compilation.diagnostics)
        }
        Err(error) => (None, vec![error.to_diagnostic()]),
    };
    Loaded {
        source,
        process,
        diagnostics,
    }
}
