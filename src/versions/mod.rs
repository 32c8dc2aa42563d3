//! Versions of an SOP side by side: what a revision changes, for the people who approve it
//! and for the cases still open on the old version, and whether those cases can move
//! ([`check_migration`]).
//!
//! [`diff`] compares two parsed versions ([`crate::model::Sop`]) section by section and
//! returns a [`SopDiff`]: every change with its kind, the step it concerns, its old and new
//! value, where it is written in each file, and whether it can affect open cases
//! (behaviour) or only what people read (text). Steps are matched by id, or by the
//! `renamed_from:` key a renamed step carries in the new version; [`SopDiff::steps`] is the
//! resulting mapping of every old step, the part of a migration plan the ids imply.
//!
//! The parsed model is compared, not the compiled [`Process`]: it keeps every value's
//! line and column and the text as written, and the few rules the compiler applies to
//! routing (a step flows to the next one in the list) are applied here too. The compiled
//! new version is needed only to draw the diff ([`SopDiff::overlay`]).
//!
//! ```
//! let old = sopflow::versions::Revision::load("v1.yaml", b"
//! id: reset
//! version: 1
//! title: Password reset
//! department: Support
//! roles: { agent: Support agent }
//! steps:
//!   - { id: send, title: Send the link, role: agent, end: true }
//! ").unwrap();
//! let new = sopflow::versions::Revision::load("v2.yaml", b"
//! id: reset
//! version: 2
//! title: Password reset
//! department: Support
//! roles: { agent: Support agent }
//! steps:
//!   - { id: send, title: Send the reset link, role: agent, end: true }
//! ").unwrap();
//! let diff = sopflow::versions::diff(&old.sop, &new.sop);
//! assert!(!diff.has_behaviour_changes());
//! assert_eq!(diff.text_changes().count(), 1);
//! print!("{}", diff.render_human(&old.source.name, &new.source.name));
//! ```
//!
//! Architecture invariant: this module reads versions and never cases; whether a given
//! open case can move is the migration's business, which starts from [`SopDiff::steps`].

mod diff;
mod migration;
mod overlay;
mod report;

use crate::diagnostic::{Diagnostic, SourceFile};
use crate::graph::Process;
use crate::model::Sop;

pub use migration::check_migration;

pub use diff::{
    Change, ChangeKind, DIFF_FORMAT, Location, MatchedBy, Section, SopDiff, StepMapping, diff,
};

/// One version of an SOP read from its text: parsed, compiled, and kept with its source so
/// that changes can point into it.
#[derive(Debug, Clone)]
pub struct Revision {
    /// The text and the name it is shown under.
    pub source: SourceFile,
    /// The document as written, with every location.
    pub sop: Sop,
    /// The compiled process.
    pub process: Process,
    /// Warnings the version compiled with (errors make it an [`InvalidRevision`]).
    pub warnings: Vec<Diagnostic>,
}

/// A version that cannot be compared because it does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} has {} error{}: fix it before comparing versions", source_file.name, errors, if *errors == 1 { "" } else { "s" })]
pub struct InvalidRevision {
    /// The text, to render the diagnostics with.
    pub source_file: SourceFile,
    /// Every diagnostic, errors and warnings, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many diagnostics are errors.
    pub errors: usize,
}

impl Revision {
    /// Parses and compiles SOP bytes as [`crate::load`] does; a version with an error
    /// diagnostic is an [`InvalidRevision`] holding every diagnostic.
    pub fn load(name: &str, bytes: &[u8]) -> Result<Revision, Box<InvalidRevision>> {
        let source = SourceFile::new(name, String::from_utf8_lossy(bytes).into_owned());
        let invalid = |source_file: SourceFile, diagnostics: Vec<Diagnostic>| {
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            Box::new(InvalidRevision {
                source_file,
                diagnostics,
                errors,
            })
        };
        let sop = match crate::parse::parse_sop_bytes_all(name, bytes) {
            Ok(sop) => sop,
            Err(errors) => {
                let diagnostics = errors
                    .iter()
                    .map(crate::parse::ParseError::to_diagnostic)
                    .collect();
                return Err(invalid(source, diagnostics));
            }
        };
        let compilation = crate::graph::compile_with_source(&sop, std::str::from_utf8(bytes).ok());
        match compilation.process {
            Some(process) => Ok(Revision {
                source,
                sop,
                process,
                warnings: compilation.diagnostics,
            }),
            None => Err(invalid(source, compilation.diagnostics)),
        }
    }
}

#[cfg(test)]
mod tests;
