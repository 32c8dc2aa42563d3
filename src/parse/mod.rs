//! YAML text → [`model::Sop`](crate::model::Sop), keeping the source location of every id
//! and reference.
//!
//! Parsing uses `serde-saphyr`, which reports duplicate keys, unknown keys and wrong types
//! with a line and column, and with `strict_booleans` on only `true`/`false` are booleans
//! (`end: yes` is an error, not a silent string or bool). Its errors are turned into the
//! crate's own [`ParseError`], with a "did you mean" suggestion for a misspelled key or value.
//!
//! # Input safety
//!
//! Untrusted input never panics and has bounded cost:
//! - at most [`MAX_SOP_BYTES`] bytes of UTF-8 text (non-UTF-8 input is an error);
//! - at most [`MAX_NESTING`] levels of nested mappings and sequences, and at most
//!   [`MAX_NODES`] nodes;
//! - aliases are budgeted (an "alias bomb" that would expand to billions of nodes is
//!   refused) and anchors are counted, with the parser's default budget.

mod explain;

use serde_saphyr::{SnippetMode, UserMessageFormatter};
use thiserror::Error;

use explain::Lines;

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{Sop, SourceSpan};

/// Largest SOP source accepted, in bytes (64 MiB). Real SOPs are a few kilobytes; the limit
/// keeps a stray log file from exhausting memory.
pub const MAX_SOP_BYTES: usize = 64 * 1024 * 1024;

/// Most YAML nodes (scalars, mappings, sequences) accepted: room for SOPs of a few hundred
/// thousand steps.
pub const MAX_NODES: usize = 4_000_000;

/// Deepest nesting of YAML collections accepted.
pub const MAX_NESTING: usize = 64;

/// Why an SOP text could not be read into the model.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{span}: {message}")]
pub struct ParseError {
    /// Name of the source (a path, or `<stdin>`).
    pub file: String,
    /// Where the problem is.
    pub span: SourceSpan,
    /// What kind of problem it is.
    pub kind: ParseErrorKind,
    /// A lowercase sentence saying what is wrong.
    pub message: String,
    /// What to do about it, such as "did you mean `title`?".
    pub help: Option<String>,
    /// For a key written twice: the line and column where it was first written.
    pub first: Option<(u32, u32)>,
}

/// The kinds of [`ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Not well-formed YAML: tabs for indentation, an unterminated string, a bad indent.
    Syntax,
    /// A key the format does not know.
    UnknownKey,
    /// A required key is absent.
    MissingKey,
    /// A value of the wrong type or form.
    InvalidValue,
    /// The same key twice in one mapping.
    DuplicateKey,
    /// Too large, too deeply nested, too many aliases, or not UTF-8.
    InputLimit,
}

impl ParseErrorKind {
    /// The diagnostic code this kind is reported under.
    pub fn code(self) -> Code {
        match self {
            ParseErrorKind::Syntax => Code::YamlSyntax,
            ParseErrorKind::UnknownKey => Code::UnknownKey,
            ParseErrorKind::MissingKey => Code::MissingKey,
            ParseErrorKind::InvalidValue => Code::InvalidValue,
            ParseErrorKind::DuplicateKey => Code::DuplicateKey,
            ParseErrorKind::InputLimit => Code::InputLimit,
        }
    }
}

impl ParseError {
    /// The error as a diagnostic, to render with the others.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let mut diagnostic = Diagnostic::new(self.kind.code(), self.span, self.message.clone());
        if let Some((line, column)) = self.first {
            diagnostic =
                diagnostic.with_related(SourceSpan::at(line, column), "first written here");
        }
        match &self.help {
            Some(help) => diagnostic.with_help(help.clone()),
            None => diagnostic,
        }
    }
}

/// Parses SOP source bytes, which must be UTF-8.
pub fn parse_sop_bytes(file: &str, bytes: &[u8]) -> Result<Sop, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_sop(file, text),
        Err(error) => {
            let valid = &bytes[..error.valid_up_to()];
            let text = std::str::from_utf8(valid).unwrap_or_default();
            let line = text.matches('\n').count() + 1;
            let column = text[text.rfind('\n').map_or(0, |i| i + 1)..]
                .chars()
                .count()
                + 1;
            Err(ParseError {
                file: file.to_owned(),
                span: SourceSpan::at(
                    u32::try_from(line).unwrap_or(u32::MAX),
                    u32::try_from(column).unwrap_or(u32::MAX),
                ),
                kind: ParseErrorKind::InputLimit,
                message: format!(
                    "the file is not UTF-8 text (invalid byte at offset {})",
                    error.valid_up_to()
                ),
                help: Some("save the SOP as UTF-8".to_owned()),
                first: None,
            })
        }
    }
}

/// Parses an SOP from YAML text. `file` names the source in errors.
///
/// ```
/// let sop = sopflow::parse::parse_sop("hello.yaml", "
/// id: hello
/// version: 1
/// title: Say hello
/// department: Customer Service
/// roles: { agent: Support team member }
/// steps:
///   - { id: greet, title: Greet the customer, role: agent, end: true }
/// ").unwrap();
/// assert_eq!(sop.steps[0].id.as_str(), "greet");
/// assert_eq!(sop.steps[0].id.span.line, 8);
/// ```
pub fn parse_sop(file: &str, text: &str) -> Result<Sop, ParseError> {
    let error = |span, kind, message: String, help: Option<&str>| ParseError {
        file: file.to_owned(),
        span,
        kind,
        message,
        help: help.map(str::to_owned),
        first: None,
    };
    if text.len() > MAX_SOP_BYTES {
        return Err(error(
            SourceSpan::at(1, 1),
            ParseErrorKind::InputLimit,
            format!(
                "this file is {} bytes, more than {} bytes (the limit, 64 MiB)",
                thousands(text.len()),
                thousands(MAX_SOP_BYTES)
            ),
            Some(SPLIT_HELP),
        ));
    }
    if text.trim().is_empty()
        || text
            .lines()
            .all(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
    {
        return Err(error(
            SourceSpan::at(1, 1),
            ParseErrorKind::MissingKey,
            "the file is empty".to_owned(),
            Some(MINIMAL_SOP_HELP),
        ));
    }
    // Nesting needs no scan of its own: the parser's budget stops at `MAX_NESTING` levels,
    // in block and flow style alike, before it recurses any deeper.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        budget: Some(budget()),
    };
    let sop = serde_saphyr::from_str_with_options::<Sop>(text, options)
        .map_err(|e| convert_error(file, text, &e))?;
    if let Some(e) = explain::empty_else(&sop, text).or_else(|| explain::quoted_boolean(&sop, text))
    {
        return Err(error(e.span, e.kind, e.message, Some(&e.help)));
    }
    Ok(sop)
}

/// Reads another YAML format of the crate (a scenario file) with the options, limits and
/// explanations an SOP gets: unknown keys with "did you mean", strict booleans, the same
/// size, nesting and alias budgets.
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, ParseError> {
    let error = |message: String, help: &str| ParseError {
        file: file.to_owned(),
        span: SourceSpan::at(1, 1),
        kind: ParseErrorKind::InputLimit,
        message,
        help: Some(help.to_owned()),
        first: None,
    };
    if text.len() > MAX_SOP_BYTES {
        return Err(error(
            format!(
                "this file is {} bytes, more than {} bytes (the limit, 64 MiB)",
                thousands(text.len()),
                thousands(MAX_SOP_BYTES)
            ),
            "split it into several files",
        ));
    }
    let options = serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        budget: Some(budget()),
    };
    serde_saphyr::from_str_with_options::<T>(text, options)
        .map_err(|e| convert_error(file, text, &e))
}

/// Most problems [`parse_sop_all`] reports from one file.
const MAX_REPORTED: usize = 20;

/// Parses like [`parse_sop`], and when a problem is a key the format does not know (a
/// typo, or a key one level off), reads on past it to report the unknown keys further down
/// as well, in source order: a step with `remind:` and `notify:` gets both reported in one
/// run. Broken YAML further down is reported and ends the list; any other problem ends it
/// unreported, since it may come from reading past the unknown key.
pub fn parse_sop_all(file: &str, text: &str) -> Result<Sop, Vec<ParseError>> {
    let first = match parse_sop(file, text) {
        Ok(sop) => return Ok(sop),
        Err(error) => error,
    };
    let mut errors = vec![first];
    let mut text = text.to_owned();
    while errors.len() < MAX_REPORTED {
        let last = &errors[errors.len() - 1];
        if last.kind != ParseErrorKind::UnknownKey {
            break;
        }
        let Some(blanked) = explain::blank_key(&text, last.span) else {
            break;
        };
        text = blanked;
        match parse_sop(file, &text) {
            Err(error)
                if error.kind == ParseErrorKind::UnknownKey
                    && errors.iter().all(|e| e.span < error.span) =>
            {
                errors.push(error);
            }
            // Broken YAML further down is reported too, and ends the list.
            Err(error) if error.kind == ParseErrorKind::Syntax => {
                errors.push(error);
                break;
            }
            _ => break,
        }
    }
    Err(errors)
}

/// Like [`parse_sop_all`], for source bytes that must be UTF-8.
pub fn parse_sop_bytes_all(file: &str, bytes: &[u8]) -> Result<Sop, Vec<ParseError>> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_sop_all(file, text),
        Err(_) => parse_sop_bytes(file, bytes).map_err(|error| vec![error]),
    }
}

/// The parser's limits. The default node budget (250,000) would refuse SOPs of some 17,000
/// steps, far below the byte limit. Aliases keep their own budget (a million replayed
/// events), which is what stops an alias bomb.
fn budget() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = MAX_NODES;
    budget.max_depth = MAX_NESTING;
    budget.max_events = 4 * MAX_NODES;
    budget
}

const SPLIT_HELP: &str = "split the procedure into several SOPs";
const FLATTEN_HELP: &str = "an SOP needs only a few levels; flatten the structure";
const ALIAS_HELP: &str = "aliases that expand to huge documents are refused; write the values out";

const MINIMAL_SOP_HELP: &str =
    "an SOP needs at least `id`, `version`, `title`, `department`, `roles` and `steps`";

fn convert_error(file: &str, text: &str, error: &serde_saphyr::Error) -> ParseError {
    let span = error
        .location()
        .map(SourceSpan::from_location)
        .filter(SourceSpan::is_known)
        .unwrap_or(SourceSpan::at(1, 1));
    let rendered = error.render_with_options(serde_saphyr::render_options! {
        formatter: &UserMessageFormatter,
        snippets: SnippetMode::Off,
    });
    let suffix = format!(" at line {}, column {}", span.line, span.column);
    let library = rendered.strip_suffix(&suffix).unwrap_or(&rendered).trim();
    let lines = Lines::new(text);
    let (kind, span, message, help) = classify(error, library, &lines, span);
    let first = (kind == ParseErrorKind::DuplicateKey)
        .then(|| explain::first_occurrence(&lines, span))
        .flatten()
        .map(|first| (first.line, first.column));
    ParseError {
        file: file.to_owned(),
        span,
        kind,
        message,
        help,
        first,
    }
}

/// Sorts a parser message into a kind and retells it for an SOP author: no message of the
/// YAML library reaches the author in its own words.
fn classify(
    error: &serde_saphyr::Error,
    library: &str,
    lines: &Lines<'_>,
    span: SourceSpan,
) -> (ParseErrorKind, SourceSpan, String, Option<String>) {
    use serde_saphyr::Error as E;
    // Limits are checked wherever the parser is, inside an alias's replay too.
    if let Some((kind, message, help)) = limit_exceeded(error) {
        return (kind, span, message, help);
    }
    let explained = |e: explain::Explained| (e.kind, e.span, e.message, Some(e.help));
    // The scanner's own guard against deep flow or block nesting, past the budget's depth.
    if library.contains("recursion limit") {
        // Point at the bracket that goes past the limit, on the line the scanner stopped.
        let line = lines.get(span.line);
        let mut depth = 0usize;
        let past = line.chars().position(|c| {
            match c {
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            depth > MAX_NESTING
        });
        let span = past.map_or(span, |i| {
            SourceSpan::at(span.line, u32::try_from(i + 1).unwrap_or(span.column))
        });
        return (
            ParseErrorKind::InputLimit,
            span,
            format!(
                "this file nests lists and mappings more than {MAX_NESTING} levels deep (the limit)"
            ),
            Some(FLATTEN_HELP.to_owned()),
        );
    }
    if let Some(rest) = library.strip_prefix("unknown field ") {
        let (name, expected) = split_expected(rest);
        if expected.contains(&"department") && !explain::looks_like_sop(lines.text()) {
            return explained(explain::not_an_sop(lines));
        }
        let help = suggestion(name, &expected, "keys");
        let close = help
            .as_deref()
            .is_some_and(|h| h.starts_with("did you mean"));
        if !close && let Some(e) = explain::explain_misplaced(name, &expected, lines, span) {
            return explained(e);
        }
        return (
            ParseErrorKind::UnknownKey,
            span,
            format!("unknown key `{name}`"),
            help,
        );
    }
    if let Some(rest) = library.strip_prefix("unknown variant ") {
        let (name, expected) = split_expected(rest);
        let help = suggestion(name, &expected, "values");
        return (
            ParseErrorKind::InvalidValue,
            span,
            format!("unknown value `{name}`"),
            help,
        );
    }
    if let Some(rest) = library.strip_prefix("missing field ") {
        let name = rest.trim_matches('`');
        return explained(explain::explain_missing(name, lines, span));
    }
    if library.starts_with("duplicate mapping key") {
        return (
            ParseErrorKind::DuplicateKey,
            span,
            library
                .replace("mapping key", "key")
                .replace(" is not allowed here", ""),
            Some("each key may appear once; remove or rename one of them".to_owned()),
        );
    }
    match error {
        E::InvalidUtf8Input => (
            ParseErrorKind::InputLimit,
            span,
            "the file is not UTF-8 text".to_owned(),
            Some("save the SOP as UTF-8".to_owned()),
        ),
        E::Eof { .. } => (
            ParseErrorKind::MissingKey,
            span,
            "the document is empty".to_owned(),
            Some(MINIMAL_SOP_HELP.to_owned()),
        ),
        // The model's own checks (ids, durations) speak our words already; their advice
        // after the colon is the help.
        E::Message { msg, .. } if !msg.contains("null") => {
            let message = lowercase_first(msg);
            match message
                .split_once(": write ")
                .or_else(|| message.split_once(": use "))
            {
                Some((what, advice)) => {
                    let verb = if message.contains(": write ") {
                        "write"
                    } else {
                        "use"
                    };
                    (
                        ParseErrorKind::InvalidValue,
                        span,
                        what.to_owned(),
                        Some(format!("{verb} {advice}")),
                    )
                }
                None => {
                    let help = if message.contains("longer than") {
                        "use a shorter id: a few words joined with `_`"
                    } else {
                        "check this value against the SOP format in the JSON Schema"
                    };
                    (
                        ParseErrorKind::InvalidValue,
                        span,
                        message,
                        Some(help.to_owned()),
                    )
                }
            }
        }
        _ => match explain::explain_value(error, lines, span) {
            Some(e) => explained(e),
            None => explained(explain::explain_syntax(error, library, lines, span)),
        },
    }
}

/// The input limit `error` reports, if it is one (possibly wrapped in alias context), in
/// words: a sentence naming the limit and how far the file goes, and the help that fits the
/// limit (only the alias limits mention aliases).
fn limit_exceeded(error: &serde_saphyr::Error) -> Option<(ParseErrorKind, String, Option<String>)> {
    use serde_saphyr::Error as E;
    let mut error = error;
    while let E::AliasError { error: inner, .. } | E::WithSnippet { error: inner, .. } = error {
        error = inner;
    }
    let limit = |message: String, help: &str| {
        Some((ParseErrorKind::InputLimit, message, Some(help.to_owned())))
    };
    match error {
        E::Budget { breach, .. } => Some(budget_breach(breach, &budget())),
        E::AliasReplayLimitExceeded {
            max_total_replayed_events,
            ..
        } => limit(
            format!(
                "the aliases in this file expand to more than {} YAML events (the limit)",
                thousands(*max_total_replayed_events)
            ),
            ALIAS_HELP,
        ),
        E::AliasExpansionLimitExceeded {
            max_expansions_per_anchor,
            ..
        } => limit(
            format!(
                "an anchor in this file is expanded by aliases more than {} times (the limit)",
                thousands(*max_expansions_per_anchor)
            ),
            ALIAS_HELP,
        ),
        E::AliasReplayStackDepthExceeded { max_depth, .. } => limit(
            format!(
                "the aliases in this file nest more than {} levels deep (the limit)",
                thousands(*max_depth)
            ),
            ALIAS_HELP,
        ),
        E::AliasReplayCounterOverflow { .. } => limit(
            "the aliases in this file expand to more YAML events than can be counted".to_owned(),
            ALIAS_HELP,
        ),
        _ => None,
    }
}

/// A budget breach in words, with the limit from `budget` (the one the parser ran with).
fn budget_breach(
    breach: &serde_saphyr::budget::BudgetBreach,
    budget: &serde_saphyr::Budget,
) -> (ParseErrorKind, String, Option<String>) {
    use serde_saphyr::budget::BudgetBreach as B;
    let n = |n: usize| thousands(n);
    let (message, help) = match breach {
        B::Nodes { .. } => (
            format!(
                "this file has more than {} YAML nodes (the limit): keys, values, lists and mappings",
                n(budget.max_nodes)
            ),
            SPLIT_HELP,
        ),
        B::Events { .. } => (
            format!(
                "this file has more than {} YAML events (the limit): the starts and ends of lists and mappings, keys and values",
                n(budget.max_events)
            ),
            SPLIT_HELP,
        ),
        B::ScalarBytes { .. } => (
            format!(
                "the keys and values of this file add up to more than {} bytes of text (the limit)",
                n(budget.max_total_scalar_bytes)
            ),
            SPLIT_HELP,
        ),
        B::InputBytes { input_bytes } => (
            format!(
                "this file is more than {} bytes (the limit); {} were read",
                n(budget.max_reader_input_bytes.unwrap_or(MAX_SOP_BYTES)),
                n(*input_bytes)
            ),
            SPLIT_HELP,
        ),
        B::Depth { depth } => (
            format!(
                "this file nests lists and mappings more than {} levels deep (the limit); {} were reached",
                n(budget.max_depth),
                n(*depth)
            ),
            FLATTEN_HELP,
        ),
        B::Documents { .. } => (
            format!(
                "this file holds more than {} YAML documents (the limit)",
                n(budget.max_documents)
            ),
            "an SOP file holds one document; remove the `---` separators",
        ),
        B::Aliases { .. } => (
            format!(
                "this file uses more than {} aliases `*name` (the limit)",
                n(budget.max_aliases)
            ),
            ALIAS_HELP,
        ),
        B::Anchors { .. } => (
            format!(
                "this file defines more than {} anchors `&name` (the limit)",
                n(budget.max_anchors)
            ),
            ALIAS_HELP,
        ),
        B::MergeKeys { .. } => (
            format!(
                "this file has more than {} merge keys `<<` (the limit)",
                n(budget.max_merge_keys)
            ),
            ALIAS_HELP,
        ),
        B::AliasAnchorRatio { aliases, anchors } => (
            format!(
                "this file has {} aliases for {} anchors, more than {} aliases per anchor (the limit)",
                n(*aliases),
                n(*anchors),
                n(budget.alias_anchor_ratio_multiplier)
            ),
            ALIAS_HELP,
        ),
        B::RecordedAnchorEvents { .. } => (
            format!(
                "the anchors of this file, with the aliases inside them, expand to more than {} YAML events (the limit)",
                n(budget.max_recorded_anchor_events)
            ),
            ALIAS_HELP,
        ),
        B::RecordedAnchorBytes { .. } => (
            format!(
                "the anchors of this file, with the aliases inside them, expand to more than {} bytes (the limit)",
                n(budget.max_recorded_anchor_bytes)
            ),
            ALIAS_HELP,
        ),
        B::SequenceUnbalanced => {
            return (
                ParseErrorKind::Syntax,
                "a list or mapping closes that was never opened".to_owned(),
                None,
            );
        }
        // Limits of features an SOP does not use (includes, properties, comments kept).
        _ => (
            "this file is too large or too complex to read safely".to_owned(),
            SPLIT_HELP,
        ),
    };
    (ParseErrorKind::InputLimit, message, Some(help.to_owned()))
}

/// `1234567` as `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Splits "`titel`, expected one of `a`, `b`" into the name and the expected names.
fn split_expected(rest: &str) -> (&str, Vec<&str>) {
    let (name, expected) = match rest.split_once(", expected ") {
        Some((name, expected)) => (name, expected),
        None => (rest, ""),
    };
    let expected = expected
        .trim_start_matches("one of ")
        .split(", ")
        .map(|e| e.trim().trim_matches('`'))
        .filter(|e| !e.is_empty() && *e != "nothing")
        .collect();
    (name.trim_matches('`'), expected)
}

/// "did you mean `title`?" when one expected name is close to what was written.
fn suggestion(name: &str, expected: &[&str], what: &str) -> Option<String> {
    let lowered = name.to_lowercase();
    let best = expected
        .iter()
        .map(|candidate| (strsim::jaro_winkler(&lowered, candidate), *candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let list = expected
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match (best, expected.is_empty()) {
        (Some((_, best)), _) => Some(format!(
            "did you mean `{best}`? the {what} allowed here are {list}"
        )),
        (None, false) => Some(format!("the {what} allowed here are {list}")),
        (None, true) => None,
    }
}

/// Lowercases the first letter of a sentence, but not of an acronym (`YAML document`).
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(_), Some(second)) if second.is_uppercase() => text.to_owned(),
        (Some(first), _) => first.to_lowercase().chain(text.chars().skip(1)).collect(),
        (None, _) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "id: a\nversion: 1\ntitle: T\ndepartment: D\nroles: { agent: Agent }\nsteps:\n  - { id: s, role: agent, end: true }\n";

    fn error_of(text: &str) -> ParseError {
        parse_sop("t.yaml", text).unwrap_err()
    }

    #[test]
    fn minimal_sop_parses_with_spans() {
        let sop = parse_sop("t.yaml", MINIMAL).unwrap();
        assert_eq!(
            sop.id.span,
            SourceSpan {
                line: 1,
                column: 5,
                ..sop.id.span
            }
        );
        let role_key = sop.roles.keys().next().unwrap();
        assert_eq!((role_key.span.line, role_key.span.column), (5, 10));
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let error = error_of(&MINIMAL.replace("title:", "titel:"));
        assert_eq!(error.kind, ParseErrorKind::UnknownKey);
        assert_eq!(error.message, "unknown key `titel`");
        assert!(error.help.unwrap().starts_with("did you mean `title`?"));
        assert_eq!((error.span.line, error.span.column), (3, 1));
    }

    fn due_of(text: &str) -> Result<crate::model::TimerSpec, ParseError> {
        let sop = MINIMAL.replace("end: true }", &format!("due: {text}, end: true }}"));
        parse_sop("t.yaml", &sop).map(|sop| sop.steps[0].due.clone().unwrap().value)
    }

    #[test]
    fn a_timer_counts_from_a_date_before_or_after_it() {
        use crate::model::{DateSide, TimerSpec};
        let Ok(TimerSpec::FromDate {
            side,
            field,
            offset,
        }) = due_of("{ before: start_date, offset: 2bd }")
        else {
            panic!("not a dated timer");
        };
        assert_eq!(side, DateSide::Before);
        assert_eq!(field.as_str(), "start_date");
        assert_eq!(offset.unwrap().value.business_days(), 2);
        let after = due_of("{ after: delivered_on }").unwrap();
        assert_eq!(after.to_string(), "after delivered_on");
        // A choice field's option may still be called anything once `by:` came first.
        assert!(matches!(
            due_of("{ by: p, Before: 1h }"),
            Ok(TimerSpec::ByField { .. })
        ));
    }

    #[test]
    fn a_dated_timer_that_does_not_read_says_what_to_write() {
        let error = due_of("{ before: start_date, by: 2bd }").unwrap_err();
        assert_eq!(error.kind, ParseErrorKind::InvalidValue);
        assert!(error.help.unwrap().contains("offset: 2bd"));
        let error = due_of("{ befor: start_date }").unwrap_err();
        assert_eq!(error.kind, ParseErrorKind::UnknownKey);
        assert!(error.help.unwrap().starts_with("did you mean `before`?"));
        let error = due_of("{ before: [start_date] }").unwrap_err();
        assert_eq!(error.kind, ParseErrorKind::InvalidValue);
        assert!(
            error.message.contains("one date field id"),
            "{}",
            error.message
        );
    }

    #[test]
    fn far_off_key_lists_the_allowed_ones_without_guessing() {
        let error = error_of(&format!("{MINIMAL}zzzzzz: 1\n"));
        let help = error.help.unwrap();
        assert!(help.starts_with("the keys allowed here are `id`"), "{help}");
    }

    #[test]
    fn every_unknown_key_is_reported_and_broken_yaml_stops_the_list() {
        let text = MINIMAL.replace(
            "  - { id: s, role: agent, end: true }\n",
            "  - id: s\n    remind: 2h\n    role: agent\n    notify: lead\n    end: true\n",
        );
        let errors = parse_sop_all("t.yaml", &text).unwrap_err();
        let found: Vec<_> = errors.iter().map(|e| (e.kind, e.span.line)).collect();
        assert_eq!(
            found,
            [
                (ParseErrorKind::UnknownKey, 8),
                (ParseErrorKind::UnknownKey, 10)
            ]
        );
        let broken = format!("{text}  - id: t\n\trole: agent\n");
        let errors = parse_sop_all("t.yaml", &broken).unwrap_err();
        let kinds: Vec<_> = errors.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                ParseErrorKind::UnknownKey,
                ParseErrorKind::UnknownKey,
                ParseErrorKind::Syntax
            ]
        );
        let only_broken = format!("{MINIMAL}  - id: t\n\trole: agent\n");
        assert_eq!(parse_sop_all("t.yaml", &only_broken).unwrap_err().len(), 1);
    }

    #[test]
    fn yes_is_not_a_boolean() {
        let error = error_of(&MINIMAL.replace("end: true", "end: yes"));
        assert_eq!(error.kind, ParseErrorKind::InvalidValue);
        assert_eq!((error.span.line, error.span.column), (7, 32));
    }

    #[test]
    fn non_utf8_is_located() {
        let error = parse_sop_bytes("t.yaml", b"id: a\ntitle: \xff\n").unwrap_err();
        assert_eq!(error.kind, ParseErrorKind::InputLimit);
        assert_eq!((error.span.line, error.span.column), (2, 8));
    }

    #[test]
    fn deep_flow_nesting_is_refused() {
        // Where any value may nest (a default), and where a list is wrong anyway (an id).
        let text = format!(
            "{MINIMAL}fields:\n  f: {{ type: text, default: {}{} }}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(error_of(&text).kind, ParseErrorKind::InputLimit);
        let text = format!("id: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(error_of(&text).kind, ParseErrorKind::InvalidValue);
    }

    /// Input-limit messages are sentences with figures, never the parser's debug output.
    #[track_caller]
    fn assert_plain_limit(error: &ParseError) {
        assert_eq!(error.kind, ParseErrorKind::InputLimit, "{error:?}");
        for debug in ['{', '}', '_'] {
            assert!(!error.message.contains(debug), "{}", error.message);
        }
        assert!(error.message.contains("(the limit"), "{}", error.message);
    }

    fn step_collecting(collects: &str) -> String {
        MINIMAL.replace("end: true", &format!("end: true, collects: {collects}"))
    }

    #[test]
    fn numbers_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(67_108_864), "67,108,864");
        assert_eq!(thousands(4_000_000), "4,000,000");
    }

    #[test]
    fn every_budget_breach_is_a_sentence_with_its_limit() {
        use serde_saphyr::budget::BudgetBreach as B;
        let budget = budget();
        let breaches = [
            (
                B::Nodes { nodes: 4_000_001 },
                "more than 4,000,000 YAML nodes",
                false,
            ),
            (
                B::Events { events: 16_000_001 },
                "more than 16,000,000 YAML events",
                false,
            ),
            (
                B::ScalarBytes {
                    total_scalar_bytes: usize::MAX,
                },
                "bytes of text",
                false,
            ),
            (
                B::InputBytes {
                    input_bytes: 300_000_000,
                },
                "300,000,000 were read",
                false,
            ),
            (
                B::Depth { depth: 65 },
                "more than 64 levels deep (the limit); 65 were reached",
                false,
            ),
            (
                B::Documents { documents: 1_025 },
                "more than 1,024 YAML documents",
                false,
            ),
            (
                B::Aliases { aliases: 50_001 },
                "more than 50,000 aliases",
                true,
            ),
            (
                B::Anchors { anchors: 50_001 },
                "more than 50,000 anchors",
                true,
            ),
            (
                B::MergeKeys { merge_keys: 10_001 },
                "more than 10,000 merge keys",
                true,
            ),
            (
                B::AliasAnchorRatio {
                    aliases: 2_000,
                    anchors: 3,
                },
                "2,000 aliases for 3 anchors",
                true,
            ),
            (
                B::RecordedAnchorEvents {
                    recorded_anchor_events: 1_000_001,
                },
                "1,000,000 YAML events",
                true,
            ),
            (
                B::RecordedAnchorBytes {
                    recorded_anchor_bytes: usize::MAX,
                },
                "expand to more than",
                true,
            ),
        ];
        for (breach, expected, about_aliases) in breaches {
            let (kind, message, help) = budget_breach(&breach, &budget);
            let error = ParseError {
                file: "t.yaml".to_owned(),
                span: SourceSpan::at(1, 1),
                kind,
                message,
                help,
                first: None,
            };
            assert_plain_limit(&error);
            assert!(
                error.message.contains(expected),
                "{breach:?}: {}",
                error.message
            );
            let help = error.help.unwrap_or_default();
            assert_eq!(help.contains("alias"), about_aliases, "{breach:?}: {help}");
            assert!(
                !error.message.contains("alias") || about_aliases,
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn too_many_nodes_names_the_limit_and_not_aliases() {
        // The parser's own limit on nodes, hit by a smaller budget than `parse_sop` uses;
        // the message quotes the limit `parse_sop` runs with.
        let mut small = budget();
        small.max_nodes = 20;
        let options = serde_saphyr::options! {
            strict_booleans: true,
            with_snippet: false,
            budget: Some(small),
        };
        let text = step_collecting(&format!("[{}]", vec!["f"; 30].join(", ")));
        let error = serde_saphyr::from_str_with_options::<Sop>(&text, options).unwrap_err();
        let error = convert_error("t.yaml", &text, &error);
        assert_plain_limit(&error);
        assert!(
            error
                .message
                .starts_with("this file has more than 4,000,000 YAML nodes (the limit)"),
            "{}",
            error.message
        );
        assert_eq!(error.help.as_deref(), Some(SPLIT_HELP));
    }

    #[test]
    fn an_alias_flood_is_refused_with_a_word_on_aliases() {
        let text = step_collecting(&format!("[&f f, {}]", vec!["*f"; 60_000].join(", ")));
        let error = error_of(&text);
        assert_plain_limit(&error);
        assert!(error.message.contains("alias"), "{}", error.message);
        assert_eq!(error.help.as_deref(), Some(ALIAS_HELP));
    }

    #[test]
    fn too_many_bytes_names_the_size_and_the_limit() {
        let text = format!("{MINIMAL}#{}\n", "x".repeat(MAX_SOP_BYTES));
        let error = error_of(&text);
        assert_plain_limit(&error);
        assert_eq!(
            error.message,
            format!(
                "this file is {} bytes, more than 67,108,864 bytes (the limit, 64 MiB)",
                thousands(text.len())
            )
        );
        assert!(!error.help.unwrap().contains("alias"));
    }

    #[test]
    fn deep_nesting_names_the_limit() {
        let text = format!(
            "{MINIMAL}fields:\n  f: {{ type: text, default: {}{} }}\n",
            "[".repeat(100),
            "]".repeat(100)
        );
        let error = error_of(&text);
        assert_plain_limit(&error);
        assert!(
            error.message.contains("more than 64 levels deep"),
            "{}",
            error.message
        );
    }

    #[test]
    fn empty_and_comment_only_files_are_missing_everything() {
        for text in ["", "   \n", "# just a comment\n"] {
            let error = error_of(text);
            assert_eq!(error.kind, ParseErrorKind::MissingKey, "{text:?}");
        }
    }
}
