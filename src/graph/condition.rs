//! Decision conditions: CEL expressions over the case's fields, compiled and type-checked
//! when the SOP is compiled, evaluated by the engine.
//!
//! The current time enters a condition only through `days_since(date_field)` and
//! `days_until(date_field)`: whole calendar days between a date field and today, where
//! "today" is the date of the command's `now` in the SOP's calendar zone (UTC without one).
//! The engine passes that `now` in, never the wall clock, so replaying a history or
//! running a scenario gives the same answers.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::common::ast::{Expr, IdedExpr, LiteralValue};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::model::{FieldId, FieldType, FieldValue};

/// CEL's standard library, built once: building it is far costlier than evaluating a
/// condition.
static STANDARD_ENV: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(cel::Env::stdlib()));

/// A compiled, type-checked CEL condition.
pub struct Condition {
    source: String,
    program: Arc<cel::Program>,
    fields: Vec<FieldId>,
    /// Whether it calls `days_since` or `days_until`, which need today's date.
    reads_today: bool,
    /// The zone whose calendar date is "today".
    zone: Tz,
}

/// The functions that read the current time, each counting whole days between a date
/// field and today.
const TIME_FUNCTIONS: [&str; 2] = ["days_since", "days_until"];

impl Clone for Condition {
    fn clone(&self) -> Self {
        Condition {
            source: self.source.clone(),
            program: Arc::clone(&self.program),
            fields: self.fields.clone(),
            reads_today: self.reads_today,
            zone: self.zone,
        }
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

/// Two conditions are equal when they say the same and, if they read today's date, read it
/// in the same zone: `days_since(d) <= 30` in Berlin and in New York differ for some hours
/// of every day.
impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
            && self.reads_today == other.reads_today
            && (!self.reads_today || self.zone == other.zone)
    }
}

/// What is wrong with a condition; `offset` is the character offset in the condition text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionProblem {
    /// Which check failed.
    pub kind: ConditionProblemKind,
    /// 0-based character offset of the offending part within the condition.
    pub offset: usize,
    /// A lowercase sentence.
    pub message: String,
    /// What to write instead, when the checker can tell.
    pub help: Option<String>,
}

/// The kinds of [`ConditionProblem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionProblemKind {
    /// Not valid CEL.
    Syntax,
    /// A name that is not a declared field.
    UnknownVariable,
    /// Operands whose types cannot be compared or combined.
    TypeMismatch,
    /// A choice field compared with a value that is not one of its options.
    NotAnOption,
    /// A call of a function that does not exist, such as `day_since(delivered_on)`.
    UnknownFunction,
}

/// Why evaluating a condition failed at run time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("condition `{condition}` could not be evaluated: {reason}")]
pub struct EvaluationError {
    /// The condition text.
    pub condition: String,
    /// What CEL reported.
    pub reason: String,
}

/// The CEL type of an expression, as far as the checker can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CelType {
    Bool,
    Int,
    Double,
    String,
    StringList,
    Null,
}

impl CelType {
    fn of_field(field_type: FieldType) -> CelType {
        match field_type {
            FieldType::Text
            | FieldType::Email
            | FieldType::Date
            | FieldType::Choice
            | FieldType::Person => CelType::String,
            FieldType::Number => CelType::Double,
            FieldType::Integer => CelType::Int,
            FieldType::Bool => CelType::Bool,
            FieldType::MultiChoice => CelType::StringList,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CelType::Bool => "a bool",
            CelType::Int => "an integer",
            CelType::Double => "a number",
            CelType::String => "text",
            CelType::StringList => "a list of text",
            CelType::Null => "null",
        }
    }

    fn is_numeric(self) -> bool {
        matches!(self, CelType::Int | CelType::Double)
    }

    fn comparable_with(self, other: CelType) -> bool {
        self == other
            || (self.is_numeric() && other.is_numeric())
            || self == CelType::Null
            || other == CelType::Null
    }
}

impl Condition {
    /// Compiles `source` and checks it against the declared fields' types.
    pub fn compile(
        source: &str,
        field_types: &BTreeMap<FieldId, FieldType>,
    ) -> Result<Condition, Vec<ConditionProblem>> {
        Condition::compile_with_options(source, field_types, &BTreeMap::new())
    }

    /// Compiles `source` and checks it against the declared fields' types and the options
    /// of choice fields: `priority == "Urgent"` is refused when `Urgent` is not an option.
    pub fn compile_with_options(
        source: &str,
        field_types: &BTreeMap<FieldId, FieldType>,
        options: &BTreeMap<FieldId, Vec<String>>,
    ) -> Result<Condition, Vec<ConditionProblem>> {
        let program = cel::Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            let position = first.map_or(0, |e| char_offset_of_position(source, e.pos));
            let library = first.map_or("", |e| e.msg.as_str());
            vec![explain_syntax(source, position, library)]
        })?;
        let mut checker = Checker {
            source,
            options,
            field_types,
            source_info: program.source_info(),
            problems: Vec::new(),
            fields: Vec::new(),
            bound: HashSet::new(),
            reads_today: false,
        };
        let root = program.expression();
        let root_type = checker.infer(root);
        if let Some(found) = root_type
            && found != CelType::Bool
        {
            let offset = checker.offset(root);
            checker.problems.push(ConditionProblem {
                kind: ConditionProblemKind::TypeMismatch,
                offset,
                message: format!(
                    "the condition is {}, not true or false",
                    checker.describe(root, found)
                ),
                help: Some("compare it with something: `attempts >= 3`, `priority == \"High\"`, or use a bool field on its own".to_owned()),
            });
        }
        if !checker.problems.is_empty() {
            return Err(checker.problems);
        }
        let reads_today = checker.reads_today;
        let mut fields = checker.fields;
        fields.sort();
        fields.dedup();
        Ok(Condition {
            source: source.to_owned(),
            program: Arc::new(program),
            fields,
            reads_today,
            zone: Tz::UTC,
        })
    }

    /// The same condition with "today" taken in `zone`: the SOP's calendar zone, so that a
    /// delivery date written by a person in Berlin is a day old at Berlin's midnight.
    pub fn in_zone(mut self, zone: Tz) -> Condition {
        self.zone = zone;
        self
    }

    /// Whether the condition reads the current time (`days_since`, `days_until`).
    pub fn reads_today(&self) -> bool {
        self.reads_today
    }

    /// The condition as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The fields the condition reads.
    pub fn fields(&self) -> &[FieldId] {
        &self.fields
    }

    /// Evaluates the condition at `now`. `value` gives each field's current value; a field
    /// without a value is `null` in CEL, so `priority == "High"` is false while priority is
    /// unset, and so is `days_since(delivered_on) <= 30` while `delivered_on` is unset.
    ///
    /// `now` is the time of the command being handled, never the wall clock: a condition
    /// evaluated again on a replay gives the same answer.
    pub fn evaluate<'a>(
        &self,
        mut value: impl FnMut(&FieldId) -> Option<&'a FieldValue>,
        now: DateTime<Utc>,
    ) -> Result<bool, EvaluationError> {
        let mut context = cel::Context::with_env(Arc::clone(&STANDARD_ENV));
        if self.reads_today {
            let today = now.with_timezone(&self.zone).date_naive();
            for (name, sign) in [("days_since", 1), ("days_until", -1)] {
                context
                    .add_function(name, move |date: cel::Value| {
                        days_between(&date, today, sign)
                    })
                    .map_err(|error| EvaluationError {
                        condition: self.source.clone(),
                        reason: error.to_string(),
                    })?;
            }
        }
        for field in &self.fields {
            let cel_value = match value(field) {
                Some(v) => to_cel(v),
                None => cel::Value::Null,
            };
            context.add_variable_from_value(field.as_str().to_owned(), cel_value);
        }
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(result)) => Ok(result),
            // Comparing an unset field (null) with a value has no overload in CEL; for an
            // SOP author an unset field simply does not match.
            Err(cel::ExecutionError::NoSuchOverload { .. }) => Ok(false),
            Err(error) => Err(EvaluationError {
                condition: self.source.clone(),
                reason: error.to_string(),
            }),
            Ok(other) => Err(EvaluationError {
                condition: self.source.clone(),
                reason: format!("it produced {other:?}, not true or false"),
            }),
        }
    }
}

/// Whole days from the date in `date` to `today` (`sign` 1), or from `today` to it (`sign`
/// -1); `null` for an unset field, which then matches nothing it is compared with.
fn days_between(date: &cel::Value, today: NaiveDate, sign: i64) -> cel::Value {
    let cel::Value::String(text) = date else {
        return cel::Value::Null;
    };
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => cel::Value::Int(sign * (today - date).num_days()),
        Err(_) => cel::Value::Null,
    }
}

fn to_cel(value: &FieldValue) -> cel::Value {
    match value {
        FieldValue::Bool(b) => cel::Value::Bool(*b),
        FieldValue::Integer(i) => cel::Value::Int(*i),
        FieldValue::Number(n) => cel::Value::Float(*n),
        FieldValue::Text(text) => cel::Value::String(Arc::new(text.clone())),
        FieldValue::List(items) => cel::Value::List(Arc::new(
            items
                .iter()
                .map(|item| cel::Value::String(Arc::new(item.clone())))
                .collect(),
        )),
    }
}

const CONDITION_HELP: &str = "conditions are written like `priority == \"High\" && attempts >= 3`: compare with `==`, `!=`, `<`, `<=`, `>`, `>=`, join with `&&` (and), `||` (or), `!` (not), and put texts in double quotes";

/// A CEL syntax error in words, found by reading the condition for the mistakes people make
/// (`and`, `=`, an unclosed text) rather than by quoting the CEL parser's tokens.
fn explain_syntax(source: &str, position: usize, library: &str) -> ConditionProblem {
    let problem = |offset: usize, message: String, help: &str| ConditionProblem {
        kind: ConditionProblemKind::Syntax,
        offset,
        message,
        help: Some(help.to_owned()),
    };
    let chars: Vec<char> = source.chars().collect();
    // The condition with the characters `from..to` replaced by `with`.
    let fixed = |from: usize, to: usize, with: &str| {
        let mut text: String = chars[..from].iter().collect();
        text.push_str(with);
        text.extend(&chars[to..]);
        format!("write `{}`", text.trim())
    };
    let mut quote: Option<(char, usize)> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match (quote, c) {
            (Some((q, _)), '\\') if q != '`' => i += 1,
            (Some((q, _)), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some((c, i)),
            (None, '=') => {
                let before = i.checked_sub(1).map(|j| chars[j]);
                let after = chars.get(i + 1).copied();
                if !matches!(before, Some('=' | '!' | '<' | '>')) && after != Some('=') {
                    return problem(
                        i,
                        "`=` does not compare; to compare, write `==`".to_owned(),
                        &fixed(i, i + 1, "=="),
                    );
                }
                if after == Some('=') {
                    i += 1;
                }
            }
            (None, '<') if chars.get(i + 1) == Some(&'>') => {
                return problem(
                    i,
                    "`<>` is not an operator; for \"not equal\" write `!=`".to_owned(),
                    &fixed(i, i + 2, "!="),
                );
            }
            (None, c) if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let operator = match word.to_lowercase().as_str() {
                    "and" => Some("&&"),
                    "or" => Some("||"),
                    "not" => Some("!"),
                    _ => None,
                };
                if let Some(operator) = operator {
                    let with = if operator == "!" { "!" } else { operator };
                    let help = format!(
                        "{}; conditions join with `&&` (and) and `||` (or), and negate with `!` (not)",
                        fixed(start, i, with)
                    );
                    return problem(
                        start,
                        format!("`{word}` is not an operator in a condition; write `{operator}`"),
                        &help,
                    );
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if let Some((q, at)) = quote {
        return problem(
            at,
            format!("the text that starts here with `{q}` is never closed"),
            "end the text with the same quote; in YAML, put the whole condition in single quotes and its texts in double quotes: `if: 'priority == \"High\"'`",
        );
    }
    if library.contains("input '<EOF>'") {
        return problem(
            chars.len().saturating_sub(1),
            "the condition ends too early: something is missing at its end".to_owned(),
            CONDITION_HELP,
        );
    }
    if library.contains("extraneous input") || library.contains("mismatched input") {
        return problem(
            position,
            "this part does not fit here: an operator such as `==`, `&&` or `||` is probably missing before it".to_owned(),
            CONDITION_HELP,
        );
    }
    if library.contains("<EOF>") {
        return problem(
            chars.len().saturating_sub(1),
            "the condition ends too early: something is missing at its end".to_owned(),
            CONDITION_HELP,
        );
    }
    problem(
        position,
        "the condition cannot be read here".to_owned(),
        CONDITION_HELP,
    )
}

/// CEL reports 1-based line and column; conditions are short, usually one line.
fn char_offset_of_position(source: &str, (line, column): (isize, isize)) -> usize {
    let line = usize::try_from(line.max(1)).unwrap_or(1);
    let column = usize::try_from(column.max(1) - 1).unwrap_or(0);
    let before: usize = source
        .split('\n')
        .take(line - 1)
        .map(|l| l.chars().count() + 1)
        .sum();
    before + column
}

struct Checker<'a> {
    source: &'a str,
    field_types: &'a BTreeMap<FieldId, FieldType>,
    options: &'a BTreeMap<FieldId, Vec<String>>,
    source_info: &'a cel::common::ast::SourceInfo,
    problems: Vec<ConditionProblem>,
    fields: Vec<FieldId>,
    bound: HashSet<String>,
    reads_today: bool,
}

impl Checker<'_> {
    fn offset(&self, expr: &IdedExpr) -> usize {
        self.source_info
            .offset_for(expr.id)
            .map_or(0, |(start, _)| start as usize)
    }

    /// A date field of the SOP for an example, or a made-up one when it has none.
    fn a_date_field(&self) -> &str {
        self.field_types
            .iter()
            .find(|(_, t)| **t == FieldType::Date)
            .map_or("delivered_on", |(id, _)| id.as_str())
    }

    /// Where a global call such as `days_since(x)` starts: CEL places it at its `(`.
    fn call_offset(&self, expr: &IdedExpr, name: &str) -> usize {
        let offset = self.offset(expr);
        offset
            .checked_sub(name.chars().count())
            .filter(|start| {
                self.source
                    .chars()
                    .skip(*start)
                    .take(name.chars().count())
                    .eq(name.chars())
            })
            .unwrap_or(offset)
    }

    fn mismatch(&mut self, expr: &IdedExpr, message: String) {
        let offset = self.offset(expr);
        self.problems.push(ConditionProblem {
            kind: ConditionProblemKind::TypeMismatch,
            offset,
            message,
            help: None,
        });
    }

    /// The field an expression reads directly, if it is one.
    fn field_of(&self, expr: &IdedExpr) -> Option<FieldId> {
        match &expr.expr {
            Expr::Ident(name) if !self.bound.contains(name) => FieldId::new(name.as_str())
                .ok()
                .filter(|id| self.field_types.contains_key(id)),
            _ => None,
        }
    }

    /// "`attempts` (an integer)" for a field, "an integer" for anything else.
    fn describe(&self, expr: &IdedExpr, found: CelType) -> String {
        match self.field_of(expr) {
            Some(field) => format!("`{field}` ({})", found.name()),
            None => found.name().to_owned(),
        }
    }

    /// A text literal compared with a choice field must be one of the field's options.
    fn check_option(&mut self, field: &IdedExpr, value: &IdedExpr) {
        let (Some(id), Expr::Literal(LiteralValue::String(text))) =
            (self.field_of(field), &value.expr)
        else {
            return;
        };
        let Some(options) = self.options.get(&id) else {
            return;
        };
        let text: &str = text;
        if options.is_empty() || options.iter().any(|o| o == text) {
            return;
        }
        let same_letters = options
            .iter()
            .find(|o| o.to_lowercase() == text.to_lowercase());
        let closest = same_letters.or_else(|| {
            options
                .iter()
                .map(|o| {
                    (
                        strsim::jaro_winkler(&o.to_lowercase(), &text.to_lowercase()),
                        o,
                    )
                })
                .filter(|(score, _)| *score >= 0.75)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, o)| o)
        });
        let list = options
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let help = match closest {
            Some(option) => format!("did you mean `{option}`? the options of `{id}` are {list}"),
            None => format!(
                "the options of `{id}` are {list}; options are compared exactly, with their capitals"
            ),
        };
        let offset = self.offset(value);
        self.problems.push(ConditionProblem {
            kind: ConditionProblemKind::NotAnOption,
            offset,
            message: format!(
                "`{text}` is not an option of `{id}`, so this comparison is never true"
            ),
            help: Some(help),
        });
    }

    /// `day_since(...)` or `daysSince(...)`: a misspelt time function, which CEL would only
    /// report when the decision is reached.
    fn check_function_name(&mut self, expr: &IdedExpr, name: &str) {
        let folded = name.to_lowercase().replace('_', "");
        let nearest = TIME_FUNCTIONS
            .iter()
            .map(|f| (strsim::jaro_winkler(&f.replace('_', ""), &folded), *f))
            .filter(|(score, _)| *score >= 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((_, meant)) = nearest {
            self.problems.push(ConditionProblem {
                kind: ConditionProblemKind::UnknownFunction,
                offset: self.call_offset(expr, name),
                message: format!("`{name}` is not a function conditions know"),
                help: Some(format!(
                    "did you mean `{meant}`? `days_since(date_field)` and `days_until(date_field)` count whole days between a date field and today"
                )),
            });
        }
    }

    fn infer(&mut self, expr: &IdedExpr) -> Option<CelType> {
        match &expr.expr {
            Expr::Ident(name) => {
                if self.bound.contains(name) {
                    return None;
                }
                let found = FieldId::new(name.as_str())
                    .ok()
                    .and_then(|id| self.field_types.get_key_value(&id));
                match found {
                    Some((id, field_type)) => {
                        self.fields.push(id.clone());
                        Some(CelType::of_field(*field_type))
                    }
                    None => {
                        let offset = self.offset(expr);
                        // `priority == High`: an option written without quotes.
                        let option_of = self
                            .options
                            .iter()
                            .find(|(_, options)| options.iter().any(|o| o == name));
                        let help = option_of.map(|(field, _)| {
                            format!("`{name}` is an option of `{field}`; write text in double quotes: `{field} == \"{name}\"`")
                        }).or_else(|| {
                            matches!(name.as_str(), "now" | "today").then(|| {
                                "a condition reads the current time through a date field: `days_since(delivered_on) <= 30` or `days_until(start_date) < 2`".to_owned()
                            })
                        });
                        self.problems.push(ConditionProblem {
                            kind: ConditionProblemKind::UnknownVariable,
                            offset,
                            message: format!("`{name}` is not a field of this SOP"),
                            help,
                        });
                        None
                    }
                }
            }
            Expr::Literal(literal) => Some(match literal {
                LiteralValue::Boolean(_) => CelType::Bool,
                LiteralValue::Int(_) | LiteralValue::UInt(_) => CelType::Int,
                LiteralValue::Double(_) => CelType::Double,
                LiteralValue::String(_) => CelType::String,
                LiteralValue::Null => CelType::Null,
                LiteralValue::Bytes(_) => return None,
            }),
            Expr::List(list) => {
                let types: Vec<_> = list.elements.iter().map(|e| self.infer(e)).collect();
                types
                    .iter()
                    .all(|t| *t == Some(CelType::String))
                    .then_some(CelType::StringList)
            }
            Expr::Call(call) => self.infer_call(expr, call),
            Expr::Comprehension(comprehension) => {
                self.infer(&comprehension.iter_range);
                let bound = [
                    Some(comprehension.iter_var.clone()),
                    comprehension.iter_var2.clone(),
                    Some(comprehension.accu_var.clone()),
                ];
                let added: Vec<String> = bound
                    .into_iter()
                    .flatten()
                    .filter(|v| self.bound.insert(v.clone()))
                    .collect();
                self.infer(&comprehension.accu_init);
                self.infer(&comprehension.loop_cond);
                self.infer(&comprehension.loop_step);
                self.infer(&comprehension.result);
                for variable in added {
                    self.bound.remove(&variable);
                }
                None
            }
            Expr::Select(select) => {
                self.infer(&select.operand);
                None
            }
            Expr::Map(_) | Expr::Struct(_) | Expr::Unspecified => None,
        }
    }

    fn infer_call(
        &mut self,
        expr: &IdedExpr,
        call: &cel::common::ast::CallExpr,
    ) -> Option<CelType> {
        let target = call.target.as_ref().and_then(|t| self.infer(t));
        let args: Vec<Option<CelType>> = call.args.iter().map(|a| self.infer(a)).collect();
        let pair = (
            args.first().copied().flatten(),
            args.get(1).copied().flatten(),
        );
        match call.func_name.as_str() {
            "_==_" | "_!=_" => {
                if let (Some(left), Some(right)) = pair
                    && !left.comparable_with(right)
                {
                    let message = format!(
                        "cannot compare {} with {}",
                        self.describe(&call.args[0], left),
                        self.describe(&call.args[1], right)
                    );
                    self.mismatch(expr, message);
                }
                if let [left, right] = call.args.as_slice() {
                    self.check_option(left, right);
                    self.check_option(right, left);
                }
                Some(CelType::Bool)
            }
            "_<_" | "_<=_" | "_>_" | "_>=_" => {
                if let (Some(left), Some(right)) = pair {
                    let orderable = (left.is_numeric() && right.is_numeric())
                        || (left == CelType::String && right == CelType::String);
                    if !orderable {
                        let message = format!(
                            "cannot order {} against {}",
                            self.describe(&call.args[0], left),
                            self.describe(&call.args[1], right)
                        );
                        self.mismatch(expr, message);
                    }
                }
                Some(CelType::Bool)
            }
            "_&&_" | "_||_" | "!_" => {
                for (arg, found) in call.args.iter().zip(&args) {
                    if let Some(found) = found
                        && *found != CelType::Bool
                    {
                        let message = format!(
                            "expected true or false here, found {}",
                            self.describe(arg, *found)
                        );
                        self.mismatch(arg, message);
                    }
                }
                Some(CelType::Bool)
            }
            "@in" => {
                if let [element, list] = call.args.as_slice()
                    && let Expr::List(items) = &list.expr
                {
                    for item in &items.elements {
                        self.check_option(element, item);
                    }
                }
                if let [element, list] = call.args.as_slice()
                    && let Some(id) = self.field_of(list)
                    && self.field_types.get(&id) == Some(&FieldType::MultiChoice)
                {
                    self.check_option(list, element);
                }
                match pair {
                    (Some(element), Some(CelType::StringList)) if element != CelType::String => {
                        self.mismatch(
                            expr,
                            format!("a list of text cannot contain {}", element.name()),
                        );
                    }
                    (_, Some(container)) if container != CelType::StringList => {
                        self.mismatch(
                            expr,
                            format!("`in` needs a list on its right, found {}", container.name()),
                        );
                    }
                    _ => {}
                }
                Some(CelType::Bool)
            }
            "contains" | "startsWith" | "endsWith" | "matches" => {
                if let Some(found) = target
                    && found != CelType::String
                {
                    self.mismatch(
                        expr,
                        format!(
                            "`{}` works on text, not on {}",
                            call.func_name,
                            found.name()
                        ),
                    );
                }
                Some(CelType::Bool)
            }
            "size" => Some(CelType::Int),
            name @ ("days_since" | "days_until") => {
                self.reads_today = true;
                let date_field = match (call.target.as_ref(), call.args.as_slice()) {
                    (None, [arg]) => self
                        .field_of(arg)
                        .filter(|id| self.field_types.get(id) == Some(&FieldType::Date)),
                    _ => None,
                };
                if date_field.is_none() {
                    let what = match (call.target.as_ref(), call.args.as_slice()) {
                        (None, [arg]) => match args[0] {
                            Some(found) => self.describe(arg, found),
                            None => "something else".to_owned(),
                        },
                        _ => format!(
                            "{} values",
                            call.args.len() + usize::from(call.target.is_some())
                        ),
                    };
                    self.problems.push(ConditionProblem {
                        kind: ConditionProblemKind::TypeMismatch,
                        offset: self.call_offset(expr, name),
                        message: format!("`{name}` counts the days of one date field, not {what}"),
                        help: Some(format!(
                            "name a field of `type: date`: `{name}({})`",
                            self.a_date_field()
                        )),
                    });
                }
                Some(CelType::Int)
            }
            name => {
                if !name.starts_with('_') && !name.starts_with('@') {
                    self.check_function_name(expr, name);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> BTreeMap<FieldId, FieldType> {
        [
            ("priority", FieldType::Choice),
            ("attempts", FieldType::Integer),
            ("resolved", FieldType::Bool),
            ("tags", FieldType::MultiChoice),
            ("score", FieldType::Number),
        ]
        .into_iter()
        .map(|(name, t)| (FieldId::new(name).unwrap(), t))
        .collect()
    }

    fn problems(source: &str) -> Vec<(ConditionProblemKind, usize)> {
        Condition::compile(source, &fields())
            .unwrap_err()
            .into_iter()
            .map(|p| (p.kind, p.offset))
            .collect()
    }

    #[test]
    fn well_typed_conditions_compile() {
        for ok in [
            r#"priority == "High""#,
            "attempts >= 3 && !resolved",
            r#""Billing" in tags"#,
            "score < 2.5 || attempts > 1",
            "size(tags) > 0",
            "tags.exists(t, t == \"VIP\")",
        ] {
            assert!(Condition::compile(ok, &fields()).is_ok(), "{ok}");
        }
    }

    #[test]
    fn type_mismatches_are_located() {
        use ConditionProblemKind::*;
        assert_eq!(problems("priority == 3"), [(TypeMismatch, 9)]);
        assert_eq!(problems(r#"attempts >= "3""#), [(TypeMismatch, 9)]);
        assert_eq!(problems("resolved && attempts"), [(TypeMismatch, 12)]);
        assert_eq!(problems("3 in tags"), [(TypeMismatch, 2)]);
    }

    #[test]
    fn unknown_variables_are_located() {
        assert_eq!(
            problems(r#"prio == "High""#),
            [(ConditionProblemKind::UnknownVariable, 0)]
        );
    }

    #[test]
    fn syntax_errors_are_located() {
        let found = problems("attempts >= && resolved");
        assert_eq!(found[0].0, ConditionProblemKind::Syntax);
    }

    fn options() -> BTreeMap<FieldId, Vec<String>> {
        [
            ("priority", vec!["High", "Medium", "Low"]),
            ("tags", vec!["VIP", "Billing"]),
        ]
        .into_iter()
        .map(|(name, o)| {
            (
                FieldId::new(name).unwrap(),
                o.into_iter().map(str::to_owned).collect(),
            )
        })
        .collect()
    }

    fn problems_with_options(source: &str) -> Vec<ConditionProblem> {
        Condition::compile_with_options(source, &fields(), &options()).unwrap_err()
    }

    #[test]
    fn a_choice_compared_with_a_value_that_is_not_an_option_is_refused() {
        for (source, offset, suggestion) in [
            (r#"priority == "Urgent""#, 12, None),
            (r#"priority == "high""#, 12, Some("did you mean `High`?")),
            (r#""Hgh" != priority"#, 0, Some("did you mean `High`?")),
            (r#"priority in ["Medium", "Normal"]"#, 23, None),
            (r#""vip" in tags"#, 0, Some("did you mean `VIP`?")),
        ] {
            let found = problems_with_options(source);
            assert_eq!(found.len(), 1, "{source}: {found:?}");
            assert_eq!(found[0].kind, ConditionProblemKind::NotAnOption, "{source}");
            assert_eq!(found[0].offset, offset, "{source}");
            let help = found[0].help.clone().unwrap();
            if let Some(suggestion) = suggestion {
                assert!(help.starts_with(suggestion), "{source}: {help}");
            }
        }
        assert!(
            Condition::compile_with_options(r#"priority == "High""#, &fields(), &options()).is_ok()
        );
    }

    #[test]
    fn syntax_errors_are_retold_without_parser_tokens() {
        for (source, offset, words) in [
            ("attempts > 2 and resolved", 13, "`and` is not an operator"),
            ("attempts > 2 OR resolved", 13, "`OR` is not an operator"),
            ("not resolved", 0, "`not` is not an operator"),
            ("attempts = 3", 9, "`=` does not compare"),
            ("attempts <> 3", 9, "`<>` is not an operator"),
            (r#"priority == "High"#, 12, "never closed"),
            ("attempts >=", 10, "ends too early"),
            (r#"priority "High""#, 9, "operator"),
        ] {
            let found = problems(source);
            let problem = &Condition::compile(source, &fields()).unwrap_err()[0];
            assert_eq!(found[0].0, ConditionProblemKind::Syntax, "{source}");
            assert_eq!(problem.offset, offset, "{source}: {}", problem.message);
            assert!(
                problem.message.contains(words),
                "{source}: {}",
                problem.message
            );
            for jargon in [
                "token",
                "mismatched",
                "extraneous",
                "expecting",
                "Syntax error",
            ] {
                assert!(
                    !problem.message.contains(jargon),
                    "{source}: {}",
                    problem.message
                );
            }
            assert!(problem.help.is_some(), "{source}");
        }
    }

    #[test]
    fn type_mismatches_name_the_field() {
        let problem = &Condition::compile("priority == 3", &fields()).unwrap_err()[0];
        assert_eq!(
            problem.message,
            "cannot compare `priority` (text) with an integer"
        );
    }

    fn noon(date: &str) -> DateTime<Utc> {
        format!("{date}T12:00:00Z").parse().unwrap()
    }

    #[test]
    fn evaluates_with_unset_fields_as_not_matching() {
        let condition = Condition::compile(r#"priority == "High""#, &fields()).unwrap();
        let high = FieldValue::Text("High".to_owned());
        assert!(
            condition
                .evaluate(|_| Some(&high), noon("2026-01-05"))
                .unwrap()
        );
        assert!(!condition.evaluate(|_| None, noon("2026-01-05")).unwrap());
    }

    fn with_dates() -> BTreeMap<FieldId, FieldType> {
        let mut types = fields();
        for name in ["delivered_on", "start_date"] {
            types.insert(FieldId::new(name).unwrap(), FieldType::Date);
        }
        types
    }

    #[test]
    fn days_since_counts_calendar_days_to_the_commands_time() {
        let condition =
            Condition::compile("days_since(delivered_on) <= 30", &with_dates()).unwrap();
        assert!(condition.reads_today());
        assert_eq!(condition.fields(), [FieldId::new("delivered_on").unwrap()]);
        let delivered = FieldValue::Text("2026-01-01".to_owned());
        let holds = |now| condition.evaluate(|_| Some(&delivered), now).unwrap();
        assert!(holds(noon("2026-01-31")), "30 days after");
        assert!(!holds(noon("2026-02-01")), "31 days after");
        // Unset, the field matches nothing: neither the window nor its negation.
        assert!(!condition.evaluate(|_| None, noon("2026-01-02")).unwrap());
        let negated =
            Condition::compile("!(days_since(delivered_on) <= 30)", &with_dates()).unwrap();
        assert!(!negated.evaluate(|_| None, noon("2026-01-02")).unwrap());
    }

    #[test]
    fn conditions_that_read_today_differ_by_zone() {
        let window = |zone| {
            Condition::compile("days_since(delivered_on) <= 30", &with_dates())
                .unwrap()
                .in_zone(zone)
        };
        assert_eq!(window(chrono_tz::UTC), window(chrono_tz::UTC));
        assert_ne!(
            window(chrono_tz::Europe::Berlin),
            window(chrono_tz::America::New_York)
        );
        // A condition that does not read today's date means the same in every zone.
        let plain = |zone| {
            Condition::compile(r#"priority == "High""#, &fields())
                .unwrap()
                .in_zone(zone)
        };
        assert_eq!(
            plain(chrono_tz::Europe::Berlin),
            plain(chrono_tz::America::New_York)
        );
    }

    #[test]
    fn today_is_the_date_in_the_sops_zone() {
        let condition = Condition::compile("days_until(start_date) == 1", &with_dates())
            .unwrap()
            .in_zone(chrono_tz::Europe::Berlin);
        let start = FieldValue::Text("2026-03-10".to_owned());
        // 23:30 UTC on the 8th is already the 9th in Berlin.
        let late_evening: DateTime<Utc> = "2026-03-08T23:30:00Z".parse().unwrap();
        assert!(condition.evaluate(|_| Some(&start), late_evening).unwrap());
        let utc = Condition::compile("days_until(start_date) == 2", &with_dates()).unwrap();
        assert!(utc.evaluate(|_| Some(&start), late_evening).unwrap());
    }

    #[test]
    fn time_functions_are_type_checked() {
        let problems = |source: &str| {
            Condition::compile(source, &with_dates())
                .unwrap_err()
                .into_iter()
                .map(|p| (p.kind, p.message, p.help.unwrap_or_default()))
                .collect::<Vec<_>>()
        };
        let found = problems("days_since(priority) > 3");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, ConditionProblemKind::TypeMismatch);
        assert_eq!(
            found[0].1,
            "`days_since` counts the days of one date field, not `priority` (text)"
        );
        let found = problems("days_since(delivered_on) > \"3\"");
        assert_eq!(found[0].0, ConditionProblemKind::TypeMismatch, "{found:?}");
        let found = problems("day_since(delivered_on) > 3");
        assert_eq!(
            found[0].0,
            ConditionProblemKind::UnknownFunction,
            "{found:?}"
        );
        assert!(
            found[0].2.starts_with("did you mean `days_since`?"),
            "{found:?}"
        );
        let found = problems("now > 3");
        assert_eq!(
            found[0].0,
            ConditionProblemKind::UnknownVariable,
            "{found:?}"
        );
        assert!(found[0].2.contains("days_since(delivered_on)"), "{found:?}");
    }
}
