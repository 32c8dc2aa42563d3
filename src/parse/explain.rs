//! The YAML library's errors, retold for an SOP author.
//!
//! The parser knows where it stopped and what it wanted ("sequence start", "u32"); the
//! author needs to know which key of their SOP is wrong and what to write instead. This
//! module reads the source around the error to find the key that owns the value, what was
//! written there, and builds one sentence and a help line from those. Nothing the library
//! says reaches the author verbatim.

use crate::model::SourceSpan;

use super::ParseErrorKind;

/// An error in our words: a kind, where to point, a sentence and a help line.
#[derive(Debug)]
pub(super) struct Explained {
    pub kind: ParseErrorKind,
    pub span: SourceSpan,
    pub message: String,
    pub help: String,
}

impl Explained {
    fn new(kind: ParseErrorKind, span: SourceSpan, message: String, help: String) -> Explained {
        Explained {
            kind,
            span,
            message,
            help,
        }
    }
}

/// The lines of a source text, with columns counted in characters as the parser counts them.
pub(super) struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Lines<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// Line `n` (1-based) without its line break, or "" past the end.
    pub fn get(&self, n: u32) -> &'a str {
        let Some(&start) = self.starts.get((n as usize).wrapping_sub(1)) else {
            return "";
        };
        let end = self
            .starts
            .get(n as usize)
            .map_or(self.text.len(), |&next| next - 1);
        let line = &self.text[start..end.max(start)];
        let line = line.strip_suffix('\r').unwrap_or(line);
        if n == 1 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        }
    }

    /// The whole source text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    fn count(&self) -> u32 {
        u32::try_from(self.starts.len()).unwrap_or(u32::MAX)
    }

    /// A span of `chars` characters from `line:column`, with its byte offset.
    pub fn span(&self, line: u32, column: u32, chars: usize) -> SourceSpan {
        let Some(&start) = self.starts.get((line as usize).wrapping_sub(1)) else {
            return SourceSpan::at(line, column);
        };
        let raw = &self.text[start..];
        // The BOM is not a column.
        let skip = if line == 1 && raw.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        let raw = &raw[skip..];
        let from = byte_of_column(raw, column);
        let to = byte_of_column(&raw[from..], u32::try_from(chars + 1).unwrap_or(u32::MAX));
        SourceSpan {
            line,
            column,
            offset: start + skip + from,
            len: to,
        }
    }

    /// The nearest line above `line` with content (not blank, not only a comment).
    fn previous_content(&self, line: u32) -> Option<(u32, &'a str)> {
        (1..line).rev().map(|n| (n, self.get(n))).find(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
    }
}

/// Byte offset of 1-based character `column` in `line` (clamped to its end).
fn byte_of_column(line: &str, column: u32) -> usize {
    line.char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(line.len(), |(i, _)| i)
}

/// The text of `line` from 1-based character `column` on.
fn from_column(line: &str, column: u32) -> &str {
    &line[byte_of_column(line, column)..]
}

/// Number of leading spaces (a tab counts as one character).
fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// The key a block line starts with (`  - role: agent` → `role` at its column), if any.
fn line_key(line: &str) -> Option<(&str, u32)> {
    let rest = line.trim_start_matches([' ', '\t']);
    let mut column = line.len() - rest.len();
    let rest = match rest.strip_prefix("- ") {
        Some(after) => {
            let trimmed = after.trim_start();
            column += 2 + after.len() - trimmed.len();
            trimmed
        }
        None => rest,
    };
    let end = rest.find(|c: char| !is_key_char(c))?;
    let key = &rest[..end];
    let after = &rest[end..];
    (!key.is_empty() && (after == ":" || after.starts_with(": ") || after.starts_with(":\t")))
        .then(|| (key, u32::try_from(column + 1).unwrap_or(u32::MAX)))
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// The key whose value sits at `line:column`, and where that key is.
#[derive(Debug)]
struct Owner<'a> {
    key: &'a str,
    span: SourceSpan,
    /// The value is one item of the list under `key` (`- resolve` under `steps:`).
    item: bool,
}

fn owner<'a>(lines: &Lines<'a>, line: u32, column: u32) -> Option<Owner<'a>> {
    let text = lines.get(line);
    // An empty value is reported on the colon of its key.
    let column = if from_column(text, column).starts_with(':') {
        column + 1
    } else {
        column
    };
    let before = &text[..byte_of_column(text, column)];
    let trimmed = before.trim_end();
    // `key: value` or `{ key: value` on the same line.
    if let Some(head) = trimmed.strip_suffix(':') {
        let start = head.rfind(|c: char| !is_key_char(c)).map_or(0, |i| {
            i + head[i..].chars().next().map_or(1, char::len_utf8)
        });
        let key = &head[start..];
        if !key.is_empty() {
            let key_column = u32::try_from(head[..start].chars().count() + 1).unwrap_or(1);
            return Some(Owner {
                key,
                span: lines.span(line, key_column, key.chars().count()),
                item: false,
            });
        }
    }
    // An item of a block list (`- value`), or a value on the lines under its key.
    let item = trimmed.trim_start().starts_with('-')
        && trimmed
            .trim_start()
            .trim_start_matches('-')
            .trim()
            .is_empty();
    let own_indent = if item {
        indent_of(text)
    } else {
        before.chars().count()
    };
    if !trimmed
        .trim_start()
        .trim_start_matches('-')
        .trim()
        .is_empty()
    {
        return None;
    }
    let mut n = line;
    while let Some((above, above_text)) = lines.previous_content(n) {
        n = above;
        let indent = indent_of(above_text);
        if indent < own_indent
            || (item && indent == own_indent && !above_text.trim_start().starts_with('-'))
        {
            let (key, key_column) = line_key(above_text)?;
            let value = above_text[above_text.find(':')? + 1..].trim();
            if !value.is_empty() && !value.starts_with('#') {
                return None;
            }
            return Some(Owner {
                key,
                span: lines.span(above, key_column, key.chars().count()),
                item,
            });
        }
    }
    None
}

/// What was written at a place, in words.
fn found_at(lines: &Lines<'_>, line: u32, column: u32) -> &'static str {
    let rest = from_column(lines.get(line), column).trim_end();
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
    match rest.chars().next() {
        Some('[') => "a list",
        Some('{') => "a mapping",
        Some('-') if rest.starts_with("- ") || rest == "-" => "a list",
        Some('"' | '\'') => "text",
        None | Some('#') => "nothing",
        Some(_) if line_key(rest).is_some() => "a mapping",
        Some(_) if rest.parse::<f64>().is_ok() => "a number",
        Some(_) => "text",
    }
}

/// What the parser wanted, in words.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wanted {
    List,
    Mapping,
    Text,
    WholeNumber,
    Number,
    Boolean,
}

impl Wanted {
    fn noun(self) -> &'static str {
        match self {
            Wanted::List => "a list",
            Wanted::Mapping => "a mapping of keys to values",
            Wanted::Text => "a single value",
            Wanted::WholeNumber => "a whole number",
            Wanted::Number => "a number",
            Wanted::Boolean => "`true` or `false`",
        }
    }
}

fn wanted_of(error: &serde_saphyr::Error) -> Option<Wanted> {
    use serde_saphyr::Error as E;
    let from_words = |words: &str| {
        let words = words.to_lowercase();
        if words.contains("sequence") || words.contains("seq") || words.contains("list") {
            Some(Wanted::List)
        } else if words.contains("map") || words.contains("struct") {
            Some(Wanted::Mapping)
        } else if words.contains("str") || words.contains("char") {
            Some(Wanted::Text)
        } else if words.contains("u8")
            || words.contains("u16")
            || words.contains("u32")
            || words.contains("u64")
            || words.contains("usize")
            || words.contains("i32")
            || words.contains("i64")
            || words.contains("integer")
        {
            Some(Wanted::WholeNumber)
        } else if words.contains("f32") || words.contains("f64") || words.contains("float") {
            Some(Wanted::Number)
        } else if words.contains("bool") {
            Some(Wanted::Boolean)
        } else {
            None
        }
    };
    match error {
        E::Unexpected { expected, .. } => from_words(expected),
        E::InvalidScalar { ty, .. } => from_words(ty),
        E::SerdeInvalidType { expected, .. } | E::SerdeInvalidValue { expected, .. } => {
            from_words(expected)
        }
        E::SerdeInvalidLength { .. } => Some(Wanted::List),
        E::NullIntoString { .. } => Some(Wanted::Text),
        E::Message { msg, .. } if msg.contains("null") => Some(Wanted::Text),
        E::InvalidBooleanStrict { .. } => Some(Wanted::Boolean),
        E::AliasError { error, .. } | E::WithSnippet { error, .. } => wanted_of(error),
        _ => None,
    }
}

/// What a key of the SOP format holds, and an example of it.
fn key_shape(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key {
        "version" => ("a whole number", "version: 3"),
        "count" => ("a whole number of approvals", "count: 2"),
        "min" | "max" => ("a number", "min: 1"),
        "by" => (
            "one role id, or a list of role ids",
            "by: [billing_lead, finance]",
        ),
        "role" => ("one role id", "role: agent"),
        "next" | "goto" | "else" | "on_reject" | "on_overdue" | "on_timeout" | "on_escalate"
        | "on_cancel" | "join" => ("one step id", "next: resolve"),
        "collects" => ("a list of field ids", "collects: [customer_name, issue]"),
        "reviews" => ("a list of step ids", "reviews: [receive]"),
        "parallel" => (
            "a list of step ids",
            "parallel: [sales_review, engineering_review]",
        ),
        "options" => ("a list of options", "options: [High, Medium, Low]"),
        "when" => (
            "a mapping of branch step ids to conditions",
            "when: { notify_billing: '\"billing\" in tags' }",
        ),
        "wait_for" => ("a whole number of branches or items", "wait_for: 1"),
        "for_each" => ("one multi-choice field id", "for_each: systems"),
        "editable_by" => ("a list of role ids", "editable_by: [team_lead]"),
        "steps" => ("a list of steps", "- id: receive"),
        "decide" => (
            "a list of conditions and targets",
            "- if: 'priority == \"High\"'",
        ),
        "roles" => (
            "a mapping of role ids to names",
            "roles: { agent: Support team member }",
        ),
        "terms" => (
            "a mapping of terms to their meaning",
            "terms: { SLA: Service level agreement }",
        ),
        "fields" => (
            "a mapping of field ids to their definitions",
            "fields: { priority: { type: choice, options: [High, Low] } }",
        ),
        "approval" => (
            "a mapping with `by`, `reviews` and `on_reject`",
            "approval: { by: team_lead, reviews: [receive], on_reject: receive }",
        ),
        "id" => ("one id", "id: receive"),
        "title" | "instructions" | "purpose" | "department" | "label" => {
            ("text", "title: Receive the request")
        }
        "if" => ("a condition", "if: 'priority == \"High\"'"),
        "required" | "end" | "pausable" | "terminate" => ("`true` or `false`", "end: true"),
        "due" | "after" | "resolve_within" => (
            "a duration, one per option of a choice field, or a time counted from a date field",
            "due: { by: priority, High: 4h, Low: 1bd }",
        ),
        "before" => (
            "one date field id",
            "due: { before: start_date, offset: 2bd }",
        ),
        "offset" => (
            "a duration from the date",
            "due: { before: start_date, offset: 2bd }",
        ),
        "warn" => ("a duration", "warn: 30m"),
        "overdue" => (
            "a list of escalation levels",
            "overdue: [{ notify: team_leader }, { after: 2h, goto: handover }]",
        ),
        "notify" => ("one role id", "notify: team_leader"),
        "calendar" => ("one calendar name", "calendar: support-hours"),
        "calendars" => (
            "a mapping of calendar names to calendars",
            "calendars: { support-hours: { zone: Europe/Berlin, hours: { mon-fri: [\"09:00-17:00\"] } } }",
        ),
        "sla" => (
            "a mapping with `resolve_within`",
            "sla: { resolve_within: 3bd }",
        ),
        "assignee" => ("one field id (a `person` field)", "assignee: line_manager"),
        "same_performer_as" => ("one step id", "same_performer_as: receive"),
        "separate_from" => ("a list of step ids", "separate_from: [raise_invoice]"),
        "migrate" => (
            "a mapping with `from`, `steps` and `fields`",
            "migrate: { from: 1, steps: { triage: classify } }",
        ),
        "kpis" => (
            "a mapping of KPI names to what they measure",
            "kpis: { first_response: { from: opened, to: { completed: identify }, target: 1h, goal: 90% } }",
        ),
        "from" | "to" => (
            "`opened`, `closed`, `{ activated: STEP }` or `{ completed: STEP }`",
            "to: { completed: identify }",
        ),
        "rate" => (
            "`escalated`, `reworked`, `reopened` or `{ reached: STEP }`",
            "rate: { reached: close }",
        ),
        "zone" => ("an IANA time zone", "zone: Europe/Berlin"),
        "hours" => (
            "a mapping of days to working intervals",
            "hours: { mon-fri: [\"09:00-17:00\"] }",
        ),
        "holidays" => ("a list of dates", "holidays: [2026-12-24, \"every 12-25\"]"),
        _ => return None,
    })
}

/// The example of `key_shape`.
fn example(key: &str) -> Option<String> {
    key_shape(key).map(|(_, example)| example.to_owned())
}

/// The value written at the start of `rest`: a whole `[...]` or `{...}`, a quoted text, or
/// a plain value up to the `,`, `]` or `}` that ends it inside a flow collection.
fn written_value(rest: &str, in_flow: bool) -> &str {
    let rest = rest.trim_end();
    let end = match rest.chars().next() {
        Some(open @ ('[' | '{')) => {
            let close = if open == '[' { ']' } else { '}' };
            let mut depth = 0;
            rest.char_indices()
                .find_map(|(i, c)| {
                    if c == open {
                        depth += 1;
                    } else if c == close {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    None
                })
                .unwrap_or(rest.len())
        }
        Some(q @ ('"' | '\'')) => rest[1..].find(q).map_or(rest.len(), |i| i + 2),
        _ if in_flow => rest.find([',', ']', '}']).unwrap_or(rest.len()),
        _ => rest.find(" #").unwrap_or(rest.len()),
    };
    rest[..end].trim_end()
}

/// A value or type error: names the key, what it holds and what was written.
pub(super) fn explain_value(
    error: &serde_saphyr::Error,
    lines: &Lines<'_>,
    span: SourceSpan,
) -> Option<Explained> {
    let wanted = wanted_of(error)?;
    let found = found_at(lines, span.line, span.column);
    let line_text = lines.get(span.line);
    let in_flow = line_text[..byte_of_column(line_text, span.column)].contains(['{', '[']);
    let written = written_value(from_column(line_text, span.column), in_flow);
    let value_span = lines.span(span.line, span.column, written.chars().count().max(1));
    let owner = owner(lines, span.line, span.column);
    let Some(owner) = owner else {
        if wanted == Wanted::Mapping && !looks_like_sop(lines.text()) {
            return Some(not_an_sop(lines));
        }
        return Some(Explained::new(
            ParseErrorKind::InvalidValue,
            value_span,
            format!("{} is expected here, not {found}", wanted.noun()),
            generic_help(wanted).to_owned(),
        ));
    };
    let key = owner.key;
    // An item of a list: a step, an arm, an option.
    if owner.item {
        let (message, help) = match (key, wanted) {
            ("steps", Wanted::Mapping) => (
                format!("a step must be a mapping with an `id`, not {found}"),
                format!(
                    "write `- id: {}` and the step's other keys under it, lined up with `id`",
                    if found == "text" { written } else { "resolve" }
                ),
            ),
            ("decide", Wanted::Mapping) => (
                format!("each entry of `decide` must be `if:` with `goto:`, or `else:`, not {found}"),
                "write `- if: 'priority == \"High\"'` with `goto: step` under it, and end with `- else: step`".to_owned(),
            ),
            ("roles" | "terms" | "fields", Wanted::Mapping) => {
                let (what, example) = key_shape(key).unwrap_or_default();
                (
                    format!("`{key}` must be {what}, not a list"),
                    format!("remove the `-` in front of each entry under `{key}:`, and write `key: value`, like `{example}`"),
                )
            }
            (_, Wanted::Text) => (
                format!("each entry of `{key}` must be a single value, not {found}"),
                format!("write the entries of `{key}` as `[a, b]`, or one `- value` per line"),
            ),
            _ => (
                format!("each entry of `{key}` must be {}, not {found}", wanted.noun()),
                generic_help(wanted).to_owned(),
            ),
        };
        return Some(Explained::new(
            ParseErrorKind::InvalidValue,
            value_span,
            message,
            help,
        ));
    }
    let what = key_shape(key).map_or(wanted.noun(), |(what, _)| what);
    let (message, help) = match (key, wanted, found) {
        (_, Wanted::WholeNumber, _) => (
            format!("`{key}` must be {what}, not `{written}`"),
            format!(
                "write digits only, like `{}`",
                example(key).unwrap_or_else(|| format!("{key}: 3"))
            ),
        ),
        (_, Wanted::Number, _) => (
            format!("`{key}` must be {what}, not `{written}`"),
            format!("write a number, like `{key}: 10` or `{key}: 2.5`"),
        ),
        ("steps" | "decide", Wanted::List, _) => (
            format!("`{key}` must be {what}, not {found}"),
            if key == "steps" {
                "start each step with `- id:` on its own line under `steps:`, and indent its other keys to line up with `id`".to_owned()
            } else {
                "start each entry with `- `: `- if: 'priority == \"High\"'` with `goto: step` under it, and `- else: step` last".to_owned()
            },
        ),
        (_, Wanted::List, "text" | "a number") => (
            format!("`{key}` must be {what}, not {found}"),
            format!(
                "put the entries in square brackets: `{key}: [{}]`",
                written.trim_matches(['"', '\''])
            ),
        ),
        (_, Wanted::List, _) => (
            format!("`{key}` must be {what}, not {found}"),
            format!(
                "write it like `{}`, or one `- entry` per line under `{key}:`",
                example(key).unwrap_or_else(|| format!("{key}: [a, b]"))
            ),
        ),
        (_, Wanted::Mapping, "a list") => (
            format!("`{key}` must be {what}, not a list"),
            format!(
                "remove the `-` in front of the entries under `{key}:`{}",
                example(key).map_or(String::new(), |e| format!(", like `{e}`"))
            ),
        ),
        (_, Wanted::Mapping, _) => (
            format!("`{key}` must be {what}, not {found}"),
            format!(
                "write the keys on the lines under `{key}:`, indented{}",
                example(key).map_or(String::new(), |e| format!(", like `{e}`"))
            ),
        ),
        (_, Wanted::Text, "nothing") => (
            format!("`{key}` has no value"),
            format!("write the value after `{key}:`, or remove the line"),
        ),
        (_, Wanted::Text, _) => (
            format!("`{key}` must be {what}, not {found}"),
            format!(
                "write one value, like `{}`; if it is text with `[`, `{{` or `: ` in it, put it in quotes",
                example(key).unwrap_or_else(|| format!("{key}: value"))
            ),
        ),
        (_, Wanted::Boolean, _) => (
            format!("`{key}` must be `true` or `false`, not `{written}`"),
            format!("write `{key}: true` or `{key}: false`, without quotes"),
        ),
    };
    let span = if found == "nothing" {
        owner.span
    } else {
        value_span
    };
    Some(Explained::new(
        ParseErrorKind::InvalidValue,
        span,
        message,
        help,
    ))
}

fn generic_help(wanted: Wanted) -> &'static str {
    match wanted {
        Wanted::List => "write a list as `[a, b]`, or one `- entry` per line",
        Wanted::Mapping => "write `key: value` lines, indented under their owner, without `-`",
        Wanted::Text => "write one value; put text with `[`, `{` or `: ` in it in quotes",
        Wanted::WholeNumber => "write digits only, like `3`",
        Wanted::Number => "write a number, like `10` or `2.5`",
        Wanted::Boolean => "write `true` or `false`, without quotes",
    }
}

/// Whether the text has any of the top-level keys of an SOP (as YAML keys at the start of
/// a line, or as JSON keys).
pub(super) fn looks_like_sop(text: &str) -> bool {
    const KEYS: [&str; 6] = ["id", "version", "title", "department", "roles", "steps"];
    if content(text).starts_with(['{', '[']) {
        return text.contains("\"id\"") && text.contains("\"version\"");
    }
    text.lines().any(|line| {
        let line = line.trim_start_matches('\u{feff}');
        KEYS.iter().any(|key| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
    })
}

/// The text from its first line that is neither blank nor a comment.
fn content(text: &str) -> &str {
    let mut rest = text.trim_start_matches('\u{feff}');
    loop {
        let trimmed = rest.trim_start();
        if trimmed.starts_with('#') {
            rest = trimmed.split_once('\n').map_or("", |(_, after)| after);
        } else {
            return trimmed;
        }
    }
}

/// A file that is not an SOP at all: Markdown, JSON of something else, a note.
pub(super) fn not_an_sop(lines: &Lines<'_>) -> Explained {
    let first = (1..=lines.count())
        .find(|&n| {
            let t = lines.get(n).trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .unwrap_or(1);
    let text = lines.text();
    let markdown = text.lines().any(|l| {
        l.starts_with("## ") || l.starts_with("```") || l.starts_with("* ") || {
            let digits = l.len() - l.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            digits > 0 && l[digits..].starts_with(". ")
        }
    });
    let looks = if content(text).starts_with(['{', '[']) {
        "it looks like JSON of something else; "
    } else if markdown {
        "it looks like Markdown; "
    } else {
        ""
    };
    let column = u32::try_from(indent_of(lines.get(first)) + 1).unwrap_or(1);
    Explained::new(
        ParseErrorKind::MissingKey,
        lines.span(first, column, 1),
        "this is not an SOP: expected `id:`, `version:`, `title:`, `department:`, `roles:` and `steps:` at the top level".to_owned(),
        format!("{looks}an SOP is a YAML file that starts with `id: customer-support`, `version: 1` and `title: Customer Support Process` on lines of their own; check that this is the file you meant"),
    )
}

/// A YAML syntax error (or one the parser raised while reading the structure), in words.
pub(super) fn explain_syntax(
    error: &serde_saphyr::Error,
    library: &str,
    lines: &Lines<'_>,
    span: SourceSpan,
) -> Explained {
    use serde_saphyr::Error as E;
    let syntax = |span: SourceSpan, message: String, help: String| {
        Explained::new(ParseErrorKind::Syntax, span, message, help)
    };
    let line_text = lines.get(span.line);
    let library = library.to_lowercase();

    if matches!(error, E::MultipleDocuments { .. }) || library.contains("multiple found") {
        let separator = (1..=lines.count())
            .skip_while(|&n| !lines.get(n).trim().is_empty() && lines.get(n).starts_with("---"))
            .find(|&n| n > 1 && lines.get(n).starts_with("---"))
            .unwrap_or(span.line);
        return syntax(
            lines.span(separator, 1, 3),
            "a second YAML document starts here; an SOP file holds one document".to_owned(),
            "remove the `---` line, or move what follows it into a file of its own".to_owned(),
        );
    }
    if matches!(error, E::UnknownAnchor { .. })
        || library.contains("unknown value")
        || library.contains("unknown anchor")
    {
        let rest = from_column(line_text, span.column);
        let alias: String = rest
            .trim_start_matches('*')
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}'))
            .collect();
        return syntax(
            lines.span(span.line, span.column, alias.chars().count() + 1),
            format!("`*{alias}` refers to an anchor `&{alias}` that is not defined above it"),
            format!(
                "a value starting with `*` is a YAML alias; to write it as text, quote it: `\"*{alias}\"`"
            ),
        );
    }
    if library.contains("tab") {
        // The parser notices a tab where it trips over it, sometimes a line later than the
        // tab, sometimes on the line above; point at the tab itself.
        let tab = (span.line.saturating_sub(1).max(1)..=(span.line + 3).min(lines.count()))
            .find_map(|n| {
                let l = lines.get(n);
                let lead = &l[..indent_of(l)];
                lead.find('\t')
                    .map(|i| (n, u32::try_from(lead[..i].chars().count() + 1).unwrap_or(1)))
            })
            .or_else(|| {
                line_text.find('\t').map(|i| {
                    (
                        span.line,
                        u32::try_from(line_text[..i].chars().count() + 1).unwrap_or(1),
                    )
                })
            })
            .unwrap_or((span.line, span.column));
        return syntax(
            lines.span(tab.0, tab.1, 1),
            "this line is indented with a tab".to_owned(),
            "indent with spaces; YAML does not allow tabs for indentation".to_owned(),
        );
    }
    if let Some((line, column, bracket)) = unclosed_bracket(lines, span.line) {
        let (what, close) = if bracket == '[' {
            ("list", ']')
        } else {
            ("mapping", '}')
        };
        return syntax(
            lines.span(line, column, 1),
            format!("the {what} opened here with `{bracket}` is never closed"),
            format!("close it with `{close}` on the same line"),
        );
    }
    if library.contains("quote") || library.contains("quoted scalar") {
        let (line, column, quote) = opening_quote(lines, span.line, span.column);
        return syntax(
            lines.span(
                line,
                column,
                from_column(lines.get(line), column)
                    .trim_end()
                    .chars()
                    .count(),
            ),
            format!("the quote `{quote}` that opens here is never closed"),
            format!(
                "end the text with `{quote}` on the same line, or remove the opening `{quote}`"
            ),
        );
    }
    if library.contains("mapping values are not allowed") || library.contains("':' indicator") {
        // Either `title: Note: text` (a colon in an unquoted value) or a key indented deeper
        // than the key above it, which YAML reads as the continuation of that key's value.
        if let Some((key, _)) = line_key(line_text) {
            let value_start = line_text.find(':').map_or(0, |i| i + 1);
            let value = line_text[value_start..].trim();
            let colon_in_value = value.contains(": ") || value.ends_with(':');
            if colon_in_value && !value.starts_with(['"', '\'']) {
                let quoted = value.replace('"', "\\\"");
                return syntax(
                    span,
                    format!(
                        "the value of `{key}` contains `: ` (a colon and a space), which YAML reads as the start of another key"
                    ),
                    format!("quote the {key}: `{key}: \"{quoted}\"`"),
                );
            }
            if let Some((_, above)) = lines.previous_content(span.line)
                && indent_of(line_text) > indent_of(above)
                && let Some((above_key, above_column)) = line_key(above)
            {
                let (_, column) = line_key(line_text).unwrap_or((key, span.column));
                return syntax(
                    lines.span(span.line, column, key.chars().count()),
                    format!("`{key}` is indented more than `{above_key}` above it"),
                    format!("line up `{key}` with `{above_key}` (column {above_column})"),
                );
            }
        }
        return syntax(
            span,
            "a `: ` (colon and space) here is read as the start of a key where no key can start".to_owned(),
            "put text that contains `: ` in quotes, and check the indentation of this line against the line above".to_owned(),
        );
    }
    if library.contains("expected ':'") || library.contains("could not find expected ':'") {
        let content = line_text.trim();
        let (first, rest) = content.split_once(' ').unwrap_or((content, ""));
        return syntax(
            lines.span(
                span.line,
                u32::try_from(indent_of(line_text) + 1).unwrap_or(1),
                content.chars().count(),
            ),
            format!("`{content}` is missing the colon after its key"),
            format!("write `{first}: {}`", rest.trim()),
        );
    }
    if library.contains("'-' indicator") || library.contains("block") {
        // A key that is not lined up with the keys of its mapping, or a `key: value` line
        // in the middle of a `- item` list.
        if let Some((key, column)) = line_key(line_text) {
            if let Some((_, above)) = lines.previous_content(span.line) {
                let above_trimmed = above.trim_start();
                if above_trimmed.starts_with("- ") && line_key(above).is_none() {
                    return syntax(
                        lines.span(span.line, column, key.chars().count()),
                        format!("`{key}` is a key in the middle of a `-` list"),
                        format!(
                            "end the list before `{key}:`: line `{key}` up with the key that owns the list, or make it an entry with `- `"
                        ),
                    );
                }
                if let Some((above_key, above_column)) = line_key(above) {
                    return syntax(
                        lines.span(span.line, column, key.chars().count()),
                        format!("`{key}` is not lined up with the keys around it"),
                        format!(
                            "keys of one mapping start in the same column: line `{key}` up with `{above_key}` (column {above_column}), or with the key it belongs to"
                        ),
                    );
                }
            }
            return syntax(
                lines.span(span.line, column, key.chars().count()),
                format!("`{key}` is not lined up with the keys around it"),
                "keys of one mapping start in the same column; check the indentation of this line"
                    .to_owned(),
            );
        }
    }
    syntax(
        span,
        "the YAML is not well-formed here".to_owned(),
        "check the indentation and the quotes on this line and the line above; text with `: `, `#`, `[` or `{` in it needs quotes".to_owned(),
    )
}

/// The mapping a key at `span` belongs to.
#[derive(Debug)]
enum Enclosing<'a> {
    /// The top level of the document.
    Top,
    /// An entry of a `-` list (a step, a decision arm): where its `-` is.
    Item {
        span: SourceSpan,
        list: Option<&'a str>,
    },
    /// The value of a key (`approval:`, a field's name): where that key is, and its indent.
    Key {
        key: &'a str,
        span: SourceSpan,
        indent: usize,
    },
}

fn enclosing<'a>(lines: &Lines<'a>, span: SourceSpan) -> Enclosing<'a> {
    let text = lines.get(span.line);
    let before = &text[..byte_of_column(text, span.column)];
    // In a flow mapping: the key before its `{`.
    let mut depth = 0i32;
    for (i, c) in before.char_indices().rev() {
        match c {
            '}' | ']' => depth += 1,
            '[' => depth -= 1,
            '{' if depth == 0 => {
                let column = u32::try_from(before[..i].chars().count() + 1).unwrap_or(1);
                if let Some(owner) = owner(lines, span.line, column) {
                    return Enclosing::Key {
                        key: owner.key,
                        span: owner.span,
                        indent: indent_of(text),
                    };
                }
                return Enclosing::Top;
            }
            '{' => depth -= 1,
            _ => {}
        }
    }
    let own = before.chars().count();
    if own == 0 {
        return Enclosing::Top;
    }
    // The key may itself start an item (`- id: x`).
    let mut current = Some((span.line, text));
    while let Some((line, line_text)) = current {
        let indent = indent_of(line_text);
        if line_text.trim_start().starts_with("- ")
            && line_key(line_text).is_some_and(|(_, c)| c as usize == own + 1)
        {
            let list = lines
                .previous_content(line)
                .into_iter()
                .chain((1..line).rev().map(|k| (k, lines.get(k))))
                .find(|(_, l)| indent_of(l) < indent && line_key(l).is_some())
                .and_then(|(_, l)| line_key(l))
                .map(|(key, _)| key);
            return Enclosing::Item {
                span: lines.span(line, u32::try_from(indent + 1).unwrap_or(1), 1),
                list,
            };
        }
        if line != span.line && indent < own {
            return match line_key(line_text) {
                Some((key, column)) => Enclosing::Key {
                    key,
                    span: lines.span(line, column, key.chars().count()),
                    indent: column as usize - 1,
                },
                None => Enclosing::Top,
            };
        }
        current = lines.previous_content(line);
    }
    Enclosing::Top
}

/// The keys of each mapping of the format, and which mapping holds which.
const TOP_KEYS: &[&str] = &[
    "id",
    "version",
    "title",
    "department",
    "purpose",
    "terms",
    "roles",
    "fields",
    "calendars",
    "calendar",
    "sla",
    "kpis",
    "steps",
    "migrate",
];
const STEP_KEYS: &[&str] = &[
    "id",
    "renamed_from",
    "title",
    "role",
    "instructions",
    "collects",
    "due",
    "warn",
    "overdue",
    "on_overdue",
    "pausable",
    "calendar",
    "after",
    "on_timeout",
    "on_escalate",
    "next",
    "end",
    "approval",
    "decide",
    "parallel",
    "join",
    "assignee",
    "same_performer_as",
    "separate_from",
    "terminate",
    "when",
    "wait_for",
    "for_each",
    "on_cancel",
    "call",
];
const APPROVAL_KEYS: &[&str] = &["by", "count", "reviews", "on_reject"];
const ARM_KEYS: &[&str] = &["if", "goto", "else"];

/// A key written in the wrong mapping: one level up or down from where it belongs.
pub(super) fn explain_misplaced(
    name: &str,
    allowed: &[&str],
    lines: &Lines<'_>,
    span: SourceSpan,
) -> Option<Explained> {
    let is =
        |keys: &[&str]| allowed.len() == keys.len() && keys.iter().all(|k| allowed.contains(k));
    let key_span = lines.span(span.line, span.column, name.chars().count());
    let (message, help) = if is(STEP_KEYS) && APPROVAL_KEYS.contains(&name) {
        (
            format!("`{name}` belongs under `approval`, not directly in the step"),
            "indent it under `approval:`, lined up with `by`".to_owned(),
        )
    } else if is(STEP_KEYS) && ARM_KEYS.contains(&name) {
        (
            format!("`{name}` belongs in an entry under `decide`, not directly in the step"),
            "write the decision as `decide:` with entries `- if: ...` and `goto: step` under it, and `- else: step` last".to_owned(),
        )
    } else if (is(APPROVAL_KEYS) || is(ARM_KEYS)) && STEP_KEYS.contains(&name) {
        let owner = if is(APPROVAL_KEYS) {
            "approval"
        } else {
            "decide"
        };
        let column = match enclosing(lines, span) {
            Enclosing::Key { span, .. } => format!(" (column {})", span.column),
            _ => String::new(),
        };
        (
            format!("`{name}` belongs to the step, not under `{owner}`"),
            format!("move it out of `{owner}`: line it up with `{owner}:`{column}"),
        )
    } else if is(TOP_KEYS) && STEP_KEYS.contains(&name) {
        (
            format!("`{name}` belongs to a step, not to the top level of the SOP"),
            "indent it under the step it belongs to, lined up with that step's `id`".to_owned(),
        )
    } else {
        return None;
    };
    Some(Explained::new(
        ParseErrorKind::UnknownKey,
        key_span,
        message,
        help,
    ))
}

/// A required key that is absent: reported on the key that owns the mapping (or on a key
/// of that name written at the wrong indentation nearby).
pub(super) fn explain_missing(name: &str, lines: &Lines<'_>, span: SourceSpan) -> Explained {
    let missing = |span: SourceSpan, message: String, help: String| {
        Explained::new(ParseErrorKind::MissingKey, span, message, help)
    };
    match enclosing(lines, span) {
        Enclosing::Top => {
            let first = (1..=lines.count())
                .find(|&n| line_key(lines.get(n)).is_some())
                .unwrap_or(1);
            let what = match name {
                "id" => "`id: customer-support`, the SOP's id",
                "version" => "`version: 1`, the SOP's version",
                "title" => "`title: ...`, the SOP's name",
                "department" => "`department: ...`, the department that owns the SOP",
                "roles" => "`roles:` with each role id and its name",
                "steps" => "`steps:` with the steps, each starting with `- id:`",
                _ => "it",
            };
            missing(
                lines.span(
                    first,
                    1,
                    line_key(lines.get(first)).map_or(1, |(k, _)| k.chars().count()),
                ),
                format!("the SOP has no `{name}`"),
                format!("add {what}, at the top level with no indentation"),
            )
        }
        Enclosing::Item { span: item, list } => {
            let what = match list {
                Some("steps") => "step",
                Some("decide") => "entry of `decide`",
                _ => "entry",
            };
            missing(
                item,
                format!("this {what} has no `{name}`"),
                if name == "id" {
                    "start the step with `- id: some_name`; other steps refer to it by that id"
                        .to_owned()
                } else {
                    format!("add `{name}:` to it")
                },
            )
        }
        Enclosing::Key {
            key,
            span: key_span,
            indent,
        } => {
            if let Some(found) = misplaced_nearby(name, lines, key_span.line, indent) {
                return Explained::new(
                    ParseErrorKind::UnknownKey,
                    found,
                    format!("`{name}` belongs under `{key}`"),
                    format!("indent `{name}` to line up with the other keys under `{key}:`"),
                );
            }
            let help = match name {
                "on_reject" => format!(
                    "add `on_reject: step_id` under `{key}:`: the step a rejected case goes back to"
                ),
                "by" => format!("add `by: role_id` under `{key}:`: the role whose holders approve"),
                "type" => format!(
                    "add `type:` to field `{key}`: text, email, number, integer, bool, date, choice or multi-choice"
                ),
                _ => format!("add `{name}:` under `{key}:`"),
            };
            missing(key_span, format!("`{key}` has no `{name}`"), help)
        }
    }
}

/// A key `name` in the lines around `owner_line` (same step) at an indentation that puts
/// it outside the mapping of the key on `owner_line`.
fn misplaced_nearby(
    name: &str,
    lines: &Lines<'_>,
    owner_line: u32,
    owner_indent: usize,
) -> Option<SourceSpan> {
    let matches = |n: u32| {
        let text = lines.get(n);
        line_key(text)
            .filter(|(key, _)| *key == name)
            .map(|(key, column)| lines.span(n, column, key.chars().count()))
    };
    let mut n = owner_line;
    for _ in 0..40 {
        n += 1;
        if n > lines.count() {
            break;
        }
        let text = lines.get(n);
        let t = text.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if indent_of(text) < owner_indent
            || (indent_of(text) == owner_indent.saturating_sub(2) && t.starts_with("- "))
        {
            break;
        }
        if indent_of(text) <= owner_indent
            && let Some(span) = matches(n)
        {
            return Some(span);
        }
    }
    let mut n = owner_line;
    while let Some((above, text)) = lines.previous_content(n) {
        n = above;
        if indent_of(text) < owner_indent || text.trim_start().starts_with("- ") {
            break;
        }
        if let Some(span) = matches(n) {
            return Some(span);
        }
    }
    None
}

/// A decision entry written `- else:` with its step on a `goto:` line below: YAML reads an
/// `else` without a step and a `goto` without an `if`.
pub(super) fn empty_else(sop: &crate::model::Sop, text: &str) -> Option<Explained> {
    let arms = sop.steps.iter().filter_map(|step| step.decide.as_ref());
    for arm in arms.flat_map(|arms| arms.value.iter()) {
        let (None, None, Some(goto)) = (&arm.condition, &arm.otherwise, &arm.goto) else {
            continue;
        };
        // Rare: the lines are indexed only when such an entry is there.
        let lines = Lines::new(text);
        let Some((line, text)) = lines.previous_content(goto.span.line) else {
            continue;
        };
        let trimmed = text.trim();
        if trimmed == "- else:" || trimmed.starts_with("- else: #") || trimmed == "else:" {
            let column = u32::try_from(text.find("else").unwrap_or(0) + 1).unwrap_or(1);
            return Some(Explained::new(
                ParseErrorKind::InvalidValue,
                lines.span(line, column, 4),
                "`else:` has no step, and a `goto:` follows it".to_owned(),
                format!(
                    "an `else` names its step itself: write `- else: {}` and remove the `goto:` line",
                    goto.value.as_str()
                ),
            ));
        }
    }
    None
}

/// `text` with the key at `span` and its value replaced by spaces (line breaks and byte
/// offsets kept), so the parser can read on past an unknown key. `None` when the key
/// cannot be removed cleanly (the first key of a `- ` entry).
pub(super) fn blank_key(text: &str, span: SourceSpan) -> Option<String> {
    let lines = Lines::new(text);
    let start = *lines.starts.get((span.line as usize).checked_sub(1)?)?;
    let line = lines.get(span.line);
    let skip = text.len() - text[start..].trim_start_matches('\u{feff}').len() - start;
    let key_at = byte_of_column(line, span.column);
    let before = &line[..key_at];
    let mut bytes = text.as_bytes().to_vec();
    let mut blank = |from: usize, to: usize| {
        for b in &mut bytes[from..to] {
            if *b != b'\n' && *b != b'\r' {
                *b = b' ';
            }
        }
    };
    if before.chars().all(|c| c == ' ') {
        // A block key: its line and the more indented lines under it.
        let indent = before.len();
        blank(start + skip, start + skip + line.len());
        for n in span.line + 1..=lines.count() {
            let next = lines.get(n);
            let t = next.trim();
            if !t.is_empty() && !t.starts_with('#') && indent_of(next) <= indent {
                break;
            }
            let from = lines.starts[n as usize - 1];
            blank(from, from + next.len());
        }
    } else if before.trim_end().ends_with(['{', ',']) {
        // A key of a flow mapping: up to and with the comma after its value.
        let rest = &line[key_at..];
        let mut depth = 0i32;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '[' | '{' => depth += 1,
                ']' | '}' if depth > 0 => depth -= 1,
                '}' if depth == 0 => {
                    end = i;
                    break;
                }
                ',' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        let from = start + skip + key_at;
        blank(from, from + end);
    } else {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// `end: "true"`: a boolean in quotes is text in YAML, and the JSON Schema refuses it, so
/// the parser does too (serde would read it as a boolean).
pub(super) fn quoted_boolean(sop: &crate::model::Sop, text: &str) -> Option<Explained> {
    for step in &sop.steps {
        let Some(end) = &step.end else { continue };
        let written = text.get(end.span.offset..).unwrap_or_default();
        if let Some(quote @ ('"' | '\'')) = written.chars().next() {
            let lines = Lines::new(text);
            let value = if end.value { "true" } else { "false" };
            return Some(Explained::new(
                ParseErrorKind::InvalidValue,
                lines.span(end.span.line, end.span.column, value.len() + 2),
                format!(
                    "`end` must be `true` or `false` without quotes, not `{quote}{value}{quote}`"
                ),
                format!("write `end: {value}`; in quotes it is text, not a yes-or-no"),
            ));
        }
    }
    None
}

/// Where a key written twice was first written: in the same flow mapping on its line, or
/// above it in the same block mapping (same column, before the mapping starts).
pub(super) fn first_occurrence(lines: &Lines<'_>, span: SourceSpan) -> Option<SourceSpan> {
    let text = lines.get(span.line);
    let name: String = from_column(text, span.column)
        .chars()
        .take_while(|&c| is_key_char(c))
        .collect();
    if name.is_empty() {
        return None;
    }
    let before = &text[..byte_of_column(text, span.column)];
    if before.contains('{') {
        let pattern = format!("{name}:");
        let at = before.match_indices(&pattern).find(|(i, _)| {
            before[..*i]
                .chars()
                .last()
                .is_none_or(|c| c == '{' || c == ',' || c == ' ')
        })?;
        let column = u32::try_from(before[..at.0].chars().count() + 1).ok()?;
        return Some(lines.span(span.line, column, name.chars().count()));
    }
    let own = span.column as usize - 1;
    let mut n = span.line;
    while let Some((above, line)) = lines.previous_content(n) {
        n = above;
        if let Some((key, column)) = line_key(line)
            && column == span.column
        {
            if key == name {
                return Some(lines.span(above, column, name.chars().count()));
            }
            if line.trim_start().starts_with("- ") {
                return None;
            }
            continue;
        }
        if indent_of(line) < own {
            return None;
        }
    }
    None
}

/// A `[` or `{` on or before `line` that is not closed on its line: flow collections in an
/// SOP fit on one line, so an unclosed one is where the author forgot the bracket.
fn unclosed_bracket(lines: &Lines<'_>, line: u32) -> Option<(u32, u32, char)> {
    for n in (1..=line).rev().take(3) {
        let mut stack = Vec::new();
        let mut quote = None;
        for (i, c) in lines.get(n).chars().enumerate() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => stack.push((i, c)),
                (None, ']' | '}') => {
                    stack.pop();
                }
                _ => {}
            }
        }
        if quote.is_none()
            && let Some(&(i, c)) = stack.first()
        {
            return Some((n, u32::try_from(i + 1).unwrap_or(1), c));
        }
    }
    None
}

/// Where the unclosed quote that the parser stopped at opens: the quote at the error when
/// there is one there, else the last line above with an odd number of quotes.
fn opening_quote(lines: &Lines<'_>, line: u32, column: u32) -> (u32, u32, char) {
    if let Some(c @ ('"' | '\'')) = from_column(lines.get(line), column).chars().next() {
        return (line, column, c);
    }
    for n in (1..=line).rev() {
        let text = lines.get(n);
        for quote in ['"', '\''] {
            if text.matches(quote).count() % 2 == 1 {
                let i = text.rfind(quote).unwrap_or(0);
                return (
                    n,
                    u32::try_from(text[..i].chars().count() + 1).unwrap_or(1),
                    quote,
                );
            }
        }
    }
    (line, column, '"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_of_an_inline_value() {
        let lines = Lines::new("steps:\n  - id: a\n    collects: priority\n");
        let owner = owner(&lines, 3, 15).unwrap();
        assert_eq!(owner.key, "collects");
        assert_eq!((owner.span.line, owner.span.column), (3, 5));
        assert!(!owner.item);
    }

    #[test]
    fn owner_of_a_list_item() {
        let lines = Lines::new("steps:\n  - resolve\n");
        let owner = owner(&lines, 2, 5).unwrap();
        assert_eq!(owner.key, "steps");
        assert!(owner.item);
    }

    #[test]
    fn spans_skip_the_bom_and_count_characters() {
        let lines = Lines::new("\u{feff}id: é\r\ntitle: x\n");
        assert_eq!(lines.get(1), "id: é");
        assert_eq!(lines.get(2), "title: x");
        let span = lines.span(1, 5, 1);
        assert_eq!(span.offset, 3 + 4);
        assert_eq!(span.len, 2);
    }
}
