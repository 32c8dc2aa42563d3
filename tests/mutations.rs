//! Whatever an editor, a merge or a stray keystroke does to an SOP, `sop validate` answers
//! with diagnostics and never panics.
//!
//! Each case takes one of the real SOPs in `sops/` and applies a few random mutations, at
//! the byte level (delete, insert, replace: also invalid UTF-8) and at the line level
//! (delete, duplicate, swap, re-indent, insert YAML-significant tokens such as `{`, `&a`,
//! `*a`, tabs, `---`, or unicode), then runs what `sop validate` runs: `parse_sop_bytes` on
//! the raw bytes, `sopflow::check` on the (lossy) text, and all three renderings.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::select;
use sopflow::diagnostic::{self, Diagnostic, SourceFile};

/// Every `sops/*.yaml` as bytes, sorted by name.
fn sops() -> &'static [(String, Vec<u8>)] {
    static SOPS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    SOPS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sops");
        let mut sops: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
            // `NAME.test.yaml` beside an SOP holds its scenarios, not an SOP.
            .filter(|path| !path.to_string_lossy().ends_with(".test.yaml"))
            .map(|path| {
                let name = format!("sops/{}", path.file_name().unwrap().to_string_lossy());
                (name, std::fs::read(&path).unwrap())
            })
            .collect();
        sops.sort();
        assert!(!sops.is_empty(), "no SOP in {}", dir.display());
        sops
    })
}

/// Text that means something to YAML or to the SOP format, or that is unusual unicode.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "&a [*a, *a, *a]",
    "<<: *a",
    "\t",
    "\t\t",
    ": ",
    "- ",
    "? ",
    "'",
    "\"",
    "#",
    "|",
    ">-",
    "---",
    "...",
    "!!binary ",
    "!!str ",
    "%YAML 1.2",
    "~",
    "null",
    "yes",
    "0x1F",
    "1e999",
    "-.inf",
    "{{",
    "}}",
    "{{ priority }}",
    "==",
    "&&",
    "é",
    "日本語",
    "🦀",
    "\u{FEFF}",
    "\u{200B}",
    "\u{202E}",
    "\u{2028}",
    "\r",
    "\r\n",
    "\0",
    "end: true",
    "next: nowhere",
    "decide: []",
    "parallel: [a, a]",
    "join: ",
    "approval: { by: x, on_reject: y }",
    "if: 'x ==",
    "due: 0h",
    "id: ",
    "CRM",
];

/// A position as a fraction of a length, so that it is valid for any length (and shrinks
/// towards the start).
#[derive(Debug, Clone, Copy)]
struct At(u16);

impl At {
    /// A position in `0..len` (`len` must not be 0).
    fn index(self, len: usize) -> usize {
        (len * usize::from(self.0)) >> 16
    }
}

fn at() -> impl Strategy<Value = At> {
    any::<u16>().prop_map(At)
}

/// One edit of an SOP's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteBytes(At, usize),
    InsertBytes(At, Vec<u8>),
    ReplaceBytes(At, Vec<u8>),
    InsertToken(At, &'static str),
    DeleteLine(At),
    DuplicateLine(At),
    SwapLines(At, At),
    InsertLine(At, String),
    /// Adds (positive) or removes (negative) leading spaces of a line.
    Reindent(At, i8),
    /// Replaces the line's indentation with tabs.
    TabIndent(At),
    TruncateAt(At),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let bytes = prop::collection::vec(any::<u8>(), 1..8);
    let token = select(TOKENS);
    let line = prop_oneof![
        select(TOKENS).prop_map(str::to_owned),
        (0usize..12, select(TOKENS)).prop_map(|(indent, t)| format!("{}{t}", " ".repeat(indent))),
        "[ -~]{0,40}",
    ];
    prop_oneof![
        1 => (at(), 1usize..24).prop_map(|(i, n)| Mutation::DeleteBytes(i, n)),
        1 => (at(), bytes.clone()).prop_map(|(i, b)| Mutation::InsertBytes(i, b)),
        1 => (at(), bytes).prop_map(|(i, b)| Mutation::ReplaceBytes(i, b)),
        3 => (at(), token).prop_map(|(i, t)| Mutation::InsertToken(i, t)),
        2 => at().prop_map(Mutation::DeleteLine),
        1 => at().prop_map(Mutation::DuplicateLine),
        1 => (at(), at()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        2 => (at(), line).prop_map(|(i, l)| Mutation::InsertLine(i, l)),
        2 => (at(), -6i8..=6).prop_map(|(i, d)| Mutation::Reindent(i, d)),
        1 => at().prop_map(Mutation::TabIndent),
        1 => at().prop_map(Mutation::TruncateAt),
    ]
}

/// Splits into lines that keep their `\n`, so joining them gives the bytes back.
fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let at = |i: &At, len: usize| i.index(len + 1);
    match mutation {
        Mutation::DeleteBytes(i, n) => {
            let start = at(i, bytes.len());
            let end = (start + n).min(bytes.len());
            bytes.drain(start..end);
        }
        Mutation::InsertBytes(i, new) => {
            let start = at(i, bytes.len());
            bytes.splice(start..start, new.iter().copied());
        }
        Mutation::ReplaceBytes(i, new) => {
            let start = at(i, bytes.len());
            let end = (start + new.len()).min(bytes.len());
            bytes.splice(start..end, new.iter().copied());
        }
        Mutation::InsertToken(i, token) => {
            let start = at(i, bytes.len());
            bytes.splice(start..start, token.bytes());
        }
        Mutation::TruncateAt(i) => {
            let end = at(i, bytes.len());
            bytes.truncate(end);
        }
        line_mutation => {
            let mut lines = lines(bytes);
            if lines.is_empty() {
                lines.push(Vec::new());
            }
            let n = lines.len();
            match line_mutation {
                Mutation::DeleteLine(i) => {
                    lines.remove(i.index(n));
                }
                Mutation::DuplicateLine(i) => {
                    let line = lines[i.index(n)].clone();
                    lines.insert(i.index(n), line);
                }
                Mutation::SwapLines(a, b) => lines.swap(a.index(n), b.index(n)),
                Mutation::InsertLine(i, text) => {
                    lines.insert(i.index(n + 1), format!("{text}\n").into_bytes());
                }
                Mutation::Reindent(i, delta) => {
                    let line = &mut lines[i.index(n)];
                    if *delta >= 0 {
                        line.splice(0..0, std::iter::repeat_n(b' ', delta.unsigned_abs().into()));
                    } else {
                        let spaces = line.iter().take_while(|&&b| b == b' ').count();
                        line.drain(..spaces.min(delta.unsigned_abs().into()));
                    }
                }
                Mutation::TabIndent(i) => {
                    let line = &mut lines[i.index(n)];
                    let spaces = line.iter().take_while(|&&b| b == b' ').count();
                    line.splice(0..spaces, std::iter::repeat_n(b'\t', spaces.div_ceil(2)));
                }
                _ => unreachable!("byte mutations are handled above"),
            }
            *bytes = lines.concat();
        }
    }
}

/// What `sop validate` does with a file's bytes; panics only if the library does.
fn validate(bytes: &[u8]) -> Vec<Diagnostic> {
    let by_hand = match sopflow::parse::parse_sop_bytes_all("mutated.yaml", bytes) {
        Ok(sop) => {
            let text = std::str::from_utf8(bytes).ok();
            let compilation = sopflow::graph::compile_with_source(&sop, text);
            assert_eq!(
                compilation.process.is_some(),
                !compilation.diagnostics.iter().any(Diagnostic::is_error),
                "a process exactly when there is no error"
            );
            compilation.diagnostics
        }
        Err(errors) => errors.iter().map(|e| e.to_diagnostic()).collect(),
    };
    let source = SourceFile::new("mutated.yaml", String::from_utf8_lossy(bytes).into_owned());
    let diagnostics = sopflow::check(&source);
    if std::str::from_utf8(bytes).is_ok() {
        assert_eq!(diagnostics, by_hand, "check = parse + compile");
    }
    let _ = diagnostic::render_human(&source, &diagnostics, false);
    let _ = diagnostic::render_human(&source, &by_hand, false);
    for d in &diagnostics {
        assert!(d.span.line >= 1 || !d.span.is_known(), "{d:?}");
        let json = serde_json::to_string(&diagnostic::to_json(&source, d)).unwrap();
        assert!(!json.contains('\n'));
        let github = diagnostic::render_github(&source, d);
        assert!(!github.contains('\n'), "{github}");
    }
    diagnostics
}

proptest! {
    // About 3 s of CPU per 250 cases in a debug build.
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_sops_never_panic(
        sop in at(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let (_, original) = &sops()[sop.index(sops().len())];
        let mut bytes = original.clone();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        validate(&bytes);
    }
}

#[test]
fn the_unmutated_sops_have_no_error() {
    for (name, bytes) in sops() {
        let diagnostics = validate(bytes);
        assert!(
            !diagnostics.iter().any(Diagnostic::is_error),
            "{name}: {diagnostics:?}"
        );
    }
}

#[test]
fn mutations_do_what_they_say() {
    let mut bytes = b"a: 1\n  b: 2\nc: 3\n".to_vec();
    apply(&mut bytes, &Mutation::SwapLines(At(0), At(u16::MAX)));
    assert_eq!(bytes, b"c: 3\n  b: 2\na: 1\n");
    apply(&mut bytes, &Mutation::TabIndent(At(u16::MAX / 2)));
    assert_eq!(bytes, b"c: 3\n\tb: 2\na: 1\n");
    apply(&mut bytes, &Mutation::Reindent(At(0), 2));
    assert_eq!(bytes, b"  c: 3\n\tb: 2\na: 1\n");
    apply(&mut bytes, &Mutation::DeleteLine(At(u16::MAX / 2)));
    assert_eq!(bytes, b"  c: 3\na: 1\n");
    apply(&mut bytes, &Mutation::InsertToken(At(0), "&a "));
    assert_eq!(bytes, b"&a   c: 3\na: 1\n");
}
