//! Diagnostics: what every stage reports about an SOP, and how they are shown to people
//! (rustc-style snippets), to machines (JSON) and to GitHub (workflow annotations).
//!
//! A [`Diagnostic`] carries a severity, a stable [`Code`], a message, the span it is about,
//! a help line and related places ("first defined here"). Rendering needs the source text
//! to turn spans into snippets and end positions, so it takes a [`SourceFile`].

use std::fmt;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::model::SourceSpan;

/// How serious a diagnostic is. Errors block; warnings do not unless denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The SOP cannot be used until this is fixed.
    Error,
    /// The SOP works, but something is probably not what the author meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = ($id:literal, $name:literal, $severity:ident), )*) => {
        /// The stable code of a diagnostic: an id (`E004`) that never changes meaning, and a
        /// readable name (`unknown-step`). CI configurations and docs may refer to either.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in id order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable id, like `E004`.
            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $id,)* }
            }

            /// The readable name, like `unknown-step`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity this code is reported with.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }
        }
    };
}

codes! {
    /// The text is not well-formed YAML.
    YamlSyntax = ("E001", "yaml-syntax", Error),
    /// A key the SOP format does not know.
    UnknownKey = ("E002", "unknown-key", Error),
    /// A required key is absent.
    MissingKey = ("E003", "missing-key", Error),
    /// A value has the wrong type or form (a number where text belongs, a bad duration).
    InvalidValue = ("E004", "invalid-value", Error),
    /// The same key appears twice in one mapping.
    DuplicateKey = ("E005", "duplicate-key", Error),
    /// The input exceeds a documented limit (size, nesting, aliases) or is not UTF-8 text.
    InputLimit = ("E006", "input-limit", Error),
    /// Two steps share an id.
    DuplicateStep = ("E010", "duplicate-step", Error),
    /// A `next`, `goto`, `else`, `reviews`, `on_reject`, `on_overdue`, `on_timeout`,
    /// `on_escalate`, `parallel` or `join`, or a KPI, names a step that does not exist.
    UnknownStep = ("E011", "unknown-step", Error),
    /// A step, approval or field's `editable_by` names a role not declared under `roles`.
    UnknownRole = ("E012", "unknown-role", Error),
    /// A step collects, or a KPI reads, a field not declared under `fields`.
    UnknownField = ("E013", "unknown-field", Error),
    /// A `{{ template }}` names no field, or is malformed.
    TemplateUnknownField = ("E014", "template-unknown-field", Error),
    /// A decision condition is not valid CEL.
    ConditionSyntax = ("E015", "condition-syntax", Error),
    /// A decision condition reads a name that is not a field.
    ConditionUnknownField = ("E016", "condition-unknown-field", Error),
    /// A decision condition compares or combines values of incompatible types.
    ConditionTypeMismatch = ("E017", "condition-type-mismatch", Error),
    /// Keys that cannot go together on one step (`approval` and `decide`, `next` and `end`).
    ConflictingKeys = ("E018", "conflicting-keys", Error),
    /// A field definition that cannot work (choice without options, `max` below `min`).
    InvalidField = ("E019", "invalid-field", Error),
    /// No path from the start reaches this step.
    UnreachableStep = ("E020", "unreachable-step", Error),
    /// No end can be reached from this step: a case there would never close.
    NoPathToEnd = ("E021", "no-path-to-end", Error),
    /// A loop that no path leaves: a case that enters it never closes.
    LoopWithoutExit = ("E022", "loop-without-exit", Error),
    /// A decision without a final `else`, or with arms after it.
    DecisionWithoutElse = ("E023", "decision-without-else", Error),
    /// A parallel branch that never reaches its split's join step.
    BranchNeverJoins = ("E024", "branch-never-joins", Error),
    /// An approval reviews a step that cannot have happened before it.
    ReviewNotBefore = ("E025", "review-not-before", Error),
    /// `on_overdue` without `due`, `on_timeout` without `after`, or the reverse.
    TimerWithoutDuration = ("E026", "timer-without-duration", Error),
    /// A choice field's default is not one of its options.
    DefaultNotAnOption = ("E027", "default-not-an-option", Error),
    /// An acronym used in a title or instructions is not defined under `terms`. A warning
    /// (the SOP still works; readers may not know the word), under its original id.
    UndefinedAcronym = ("E028", "undefined-acronym", Warning),
    /// A field that a reviewed step collects is `editable_by` the role that approves the
    /// review: the approver could change the work they then approve (four eyes).
    EditableByReviewer = ("E029", "editable-by-reviewer", Error),
    /// A decision condition compares a choice field with a value that is not one of its
    /// options, so the comparison can never hold.
    ConditionNotAnOption = ("E030", "condition-not-an-option", Error),
    /// An `on_overdue`, `on_timeout`, `on_escalate` or `on_cancel` names its own step.
    EscalationToItself = ("E031", "escalation-to-itself", Error),
    /// A step inside a parallel branch ends the case before the branch reaches its join:
    /// the join would wait forever, and the case would stay open with no work.
    BranchEndsCase = ("E032", "branch-ends-case", Error),
    /// An edge (`next`, a decision arm, a timer, an escalation) takes a parallel branch
    /// out of its split to a step from which its join cannot be reached.
    BranchLeavesSplit = ("E033", "branch-leaves-split", Error),
    /// An edge from inside a parallel branch goes back to its split or to a step before
    /// it: the split would start again while its other branches still run.
    BranchReworksBeforeSplit = ("E034", "branch-reworks-before-split", Error),
    /// An edge crosses from one parallel branch into another of the same split, from where
    /// a nested split can be reached: it could start a second round while its first runs.
    SplitStartsTwice = ("E035", "split-starts-twice", Error),
    /// A calendar under `calendars:` is wrong: an unknown time zone, a day or interval
    /// that does not read, overlapping intervals, a bad holiday, no working time at all.
    InvalidCalendar = ("E040", "invalid-calendar", Error),
    /// A `calendar:` names a calendar that is not declared under `calendars:`.
    UnknownCalendar = ("E041", "unknown-calendar", Error),
    /// A timer cannot work as written: a duration per option of a field that is not a
    /// choice field, an option that is not one, an option without a duration, a warning
    /// no earlier than the due time, `pausable` without a service level.
    InvalidTimer = ("E042", "invalid-timer", Error),
    /// An escalation ladder cannot work as written: a level that does nothing, delays that
    /// do not grow, a `goto` before the last level or on the case's service level.
    InvalidLadder = ("E043", "invalid-ladder", Error),
    /// A KPI under `kpis:` cannot be measured as written: no kind or two kinds of
    /// measure, a duration without both ends, a target or goal that does not read or does
    /// not go with its kind, a service level or step that does not exist to count.
    InvalidKpi = ("E044", "invalid-kpi", Error),
    /// A KPI averages or scores a field that cannot hold the numbers it needs: `mean` of a
    /// field that is not a number, `nps` of a field that is not a 0–10 number.
    KpiFieldType = ("E045", "kpi-field-type", Error),
    /// A step's `renamed_from` names an id that is still a step of this version, or that
    /// another step already claims: the previous version's step would map to two places.
    InvalidRename = ("E047", "invalid-rename", Error),
    /// A step's `assignee`, `same_performer_as` or `separate_from` cannot work: a field that
    /// is not a `person` field, a step that is not a task, the step itself, or a gate that
    /// needs several approvers going to one person.
    InvalidAssignment = ("E050", "invalid-assignment", Error),
    /// A parallel split's `when` or `wait_for` cannot work: a condition on a step that is
    /// not one of its branches, or a `wait_for` of none or of more branches than it has.
    InvalidBranching = ("E060", "invalid-branching", Error),
    /// A task's `for_each` or `wait_for` cannot work: a field that is not a multi-choice
    /// field, `wait_for` of no item or without `for_each`, or a way for one item to move the
    /// whole case on (`on_escalate`, `on_timeout`, `on_cancel`, a ladder `goto`,
    /// `terminate`).
    InvalidForEach = ("E061", "invalid-for-each", Error),
    /// An approval's `by:` list cannot work: it is empty, or names a role twice.
    InvalidApprovers = ("E055", "invalid-approvers", Error),
    /// A step's `on_cancel` cannot work: it is on a step that is never active (a decision
    /// or a split), so there is nothing to cancel.
    InvalidCancel = ("E056", "invalid-cancel", Error),
    /// A task's `call` cannot work: beside `for_each` or `collects` of its own, a field that
    /// is not one of this SOP's fields, or (checking several SOPs together) an SOP that is
    /// not among them, a field the called SOP does not have, or a field whose type does not
    /// fit the field it is copied into.
    InvalidCall = ("E057", "invalid-call", Error),
    /// A timer counted from a date (`due: { before: start_date, offset: 2bd }`) names a field
    /// that is not a `date` field.
    TimerDateField = ("E052", "timer-date-field", Error),
    /// A condition calls a function that does not exist, such as `day_since(delivered_on)`
    /// for `days_since(delivered_on)`.
    ConditionUnknownFunction = ("E054", "condition-unknown-function", Error),
    /// The `migrate:` section names a step or field this version does not have, maps to a
    /// step that cannot hold work, gives a value that does not fit its field, or migrates
    /// from a version that is not earlier.
    InvalidMigration = ("E070", "invalid-migration", Error),
    /// A step of the earlier version that can hold open work has no step to go to in this
    /// one.
    UnmappedStep = ("E071", "unmapped-step", Error),
    /// A scenario file (`NAME.test.yaml`) names an actor that is not declared under its
    /// `actors:`.
    UnknownActor = ("T001", "unknown-actor", Error),
    /// A scenario step does not read: no action, two actions in one step, or a key that
    /// does not go with its action (`reason` on `complete`).
    InvalidScenarioStep = ("T002", "invalid-scenario-step", Error),
    /// A scenario names something the engine does not know: a refusal kind, a notification
    /// kind, a case status.
    UnknownScenarioName = ("T003", "unknown-scenario-name", Error),
    /// A scenario did not go as written: an expectation that did not hold, a step the
    /// engine refused, a refusal that did not come.
    ScenarioFailed = ("T004", "scenario-failed", Error),
    /// A term is defined but never used.
    UnusedTerm = ("W001", "unused-term", Warning),
    /// A role is declared but no step or approval uses it.
    UnusedRole = ("W002", "unused-role", Warning),
    /// A field is declared but nothing collects, reads or shows it.
    UnusedField = ("W003", "unused-field", Warning),
    /// A duration in days or weeks counts 24 hours a day of working time in a calendar
    /// with business hours, which is rarely what is meant (`bd` counts business days).
    DaysOfWorkingTime = ("W004", "days-of-working-time", Warning),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id(), self.name())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

/// A second place a diagnostic refers to, such as "first defined here".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Where.
    pub span: SourceSpan,
    /// What that place is.
    pub label: String,
}

/// One problem found in an SOP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code.
    pub code: Code,
    /// A lowercase sentence saying what is wrong.
    pub message: String,
    /// Where it is wrong.
    pub span: SourceSpan,
    /// What to do about it.
    pub help: Option<String>,
    /// Other places that explain it.
    pub related: Vec<Related>,
}

impl Diagnostic {
    /// A diagnostic with the code's own severity.
    pub fn new(code: Code, span: SourceSpan, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: code.severity(),
            code,
            message: message.into(),
            span,
            help: None,
            related: Vec::new(),
        }
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a related place.
    pub fn with_related(mut self, span: SourceSpan, label: impl Into<String>) -> Diagnostic {
        self.related.push(Related {
            span,
            label: label.into(),
        });
        self
    }

    /// Whether this diagnostic blocks the SOP.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// An SOP source: the name to show (a path, or `<stdin>`) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Name shown in diagnostics.
    pub name: String,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// A named source text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    /// The byte range a span covers in this text, clamped to the text.
    ///
    /// The start comes from line and column (always known for parsed values). When the
    /// span has no length, the range extends over the rest of the token that starts there
    /// (up to a `:`, `,`, bracket, comment or end of line), so a snippet underlines the
    /// whole key or value rather than one character.
    pub fn byte_range(&self, span: SourceSpan) -> std::ops::Range<usize> {
        let text = self.text.as_str();
        let start = self.offset_of(span.line, span.column);
        if span.len > 0 && span.offset == start {
            let end = (start + span.len).min(text.len());
            return start..text.floor_char_boundary(end);
        }
        let rest = &text[start..];
        // At the end of a line there is no token: point at the position itself rather
        // than underlining the line break (and so the start of the next line).
        if rest.is_empty() || rest.starts_with(['\n', '\r']) {
            return start..start;
        }
        let token_len = rest
            .find([':', ',', '[', ']', '{', '}', '#', '\n', '\r'])
            .unwrap_or(rest.len());
        let token = rest[..token_len].trim_end();
        start
            ..start
                + token
                    .len()
                    .max(rest.chars().next().map_or(0, char::len_utf8))
    }

    /// Byte offset of a 1-based line and character column, clamped to the text.
    fn offset_of(&self, line: u32, column: u32) -> usize {
        let text = self.text.as_str();
        if line == 0 {
            return 0;
        }
        let mut offset = 0;
        for _ in 1..line {
            match text[offset..].find('\n') {
                Some(newline) => offset += newline + 1,
                None => return text.len(),
            }
        }
        let line_text = &text[offset..];
        let line_end = line_text.find('\n').unwrap_or(line_text.len());
        let column_offset = line_text[..line_end]
            .char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map_or(line_end, |(i, _)| i);
        offset + column_offset
    }

    /// 1-based line and column of a byte offset.
    fn line_column(&self, offset: usize) -> (u32, u32) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        )
    }

    /// Line and column where the span's range ends (exclusive).
    pub fn end_of(&self, span: SourceSpan) -> (u32, u32) {
        if !span.is_known() {
            return (0, 0);
        }
        self.line_column(self.byte_range(span).end)
    }
}

/// Renders diagnostics like rustc, with the source line and the span underlined.
pub fn render_human(source: &SourceFile, diagnostics: &[Diagnostic], color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for diagnostic in diagnostics {
        let level = match diagnostic.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let mut snippet = Snippet::source(source.text.as_str()).path(source.name.as_str());
        if diagnostic.span.is_known() {
            snippet = snippet
                .annotation(AnnotationKind::Primary.span(source.byte_range(diagnostic.span)));
        }
        for related in &diagnostic.related {
            if related.span.is_known() {
                snippet = snippet.annotation(
                    AnnotationKind::Context
                        .span(source.byte_range(related.span))
                        .label(related.label.as_str()),
                );
            }
        }
        let title = level
            .primary_title(diagnostic.message.as_str())
            .id(diagnostic.code.id());
        let mut group = if diagnostic.span.is_known() {
            title.element(snippet)
        } else {
            Group::with_title(title)
        };
        if let Some(help) = &diagnostic.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    out
}

/// The machine-readable form of one diagnostic (`sop validate --format json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonDiagnostic<'a> {
    /// Source name.
    pub file: &'a str,
    /// 1-based start line (0 when unknown).
    pub line: u32,
    /// 1-based start column in characters.
    pub column: u32,
    /// 1-based end line.
    pub end_line: u32,
    /// 1-based end column, exclusive.
    pub end_column: u32,
    /// `error` or `warning`.
    pub severity: Severity,
    /// Stable id, like `E004`.
    pub code: &'static str,
    /// Readable code name, like `unknown-step`.
    pub name: &'static str,
    /// What is wrong.
    pub message: &'a str,
    /// What to do about it.
    pub help: Option<&'a str>,
}

/// Converts a diagnostic to its JSON form, computing the end position from the source.
pub fn to_json<'a>(source: &'a SourceFile, diagnostic: &'a Diagnostic) -> JsonDiagnostic<'a> {
    let (end_line, end_column) = source.end_of(diagnostic.span);
    JsonDiagnostic {
        file: &source.name,
        line: diagnostic.span.line,
        column: diagnostic.span.column,
        end_line,
        end_column,
        severity: diagnostic.severity,
        code: diagnostic.code.id(),
        name: diagnostic.code.name(),
        message: &diagnostic.message,
        help: diagnostic.help.as_deref(),
    }
}

/// Renders one diagnostic as a GitHub Actions workflow command, which annotates the line
/// in a pull request.
pub fn render_github(source: &SourceFile, diagnostic: &Diagnostic) -> String {
    let (end_line, end_column) = source.end_of(diagnostic.span);
    let command = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    format!(
        "::{command} file={},line={},col={},endLine={end_line},endColumn={end_column},title={}::{}",
        escape_github_property(&source.name),
        diagnostic.span.line,
        diagnostic.span.column,
        escape_github_property(&format!(
            "{} {}",
            diagnostic.code.id(),
            diagnostic.code.name()
        )),
        escape_github_data(&message),
    )
}

fn escape_github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_github_property(text: &str) -> String {
    escape_github_data(text)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> SourceFile {
        SourceFile::new("sop.yaml", "id: a\ntitel: Héllo wörld\nsteps: []\n")
    }

    #[test]
    fn byte_range_covers_the_token_at_the_span() {
        let source = source();
        let range = source.byte_range(SourceSpan::at(2, 1));
        assert_eq!(&source.text[range], "titel");
        let range = source.byte_range(SourceSpan::at(2, 8));
        assert_eq!(&source.text[range], "Héllo wörld");
    }

    #[test]
    fn end_position_counts_characters() {
        assert_eq!(source().end_of(SourceSpan::at(2, 8)), (2, 19));
    }

    #[test]
    fn positions_past_the_text_are_clamped() {
        let source = source();
        let range = source.byte_range(SourceSpan::at(99, 99));
        assert_eq!(range.start, source.text.len());
        let range = source.byte_range(SourceSpan::at(1, 99));
        assert_eq!(range.start, 5);
    }

    #[test]
    fn github_commands_escape_newlines_and_separators() {
        let source = SourceFile::new("a,b:c.yaml", "x: 1\n");
        let diagnostic = Diagnostic::new(Code::UnknownKey, SourceSpan::at(1, 1), "unknown key `x`")
            .with_help("100% sure\nsecond line");
        let line = render_github(&source, &diagnostic);
        assert_eq!(
            line,
            "::error file=a%2Cb%3Ac.yaml,line=1,col=1,endLine=1,endColumn=2,title=E002 unknown-key::unknown key `x`%0Ahelp: 100%25 sure%0Asecond line"
        );
    }
}
