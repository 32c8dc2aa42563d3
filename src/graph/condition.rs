//! Decision conditions: CEL expressions over the case's fields, compiled and type-checked
//! when the SOP is compiled, evaluated by the engine.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::common::ast::{Expr, IdedExpr, LiteralValue};

use crate::model::{FieldId, FieldType, FieldValue};

/// CEL's standard library, built once: building it is far costlier than evaluating a
/// condition.
static STANDARD_ENV: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(cel::Env::stdlib()));

/// A compiled, type-checked CEL condition.
pub struct Condition {
    source: String,
    program: Arc<cel::Program>,
    fields: Vec<FieldId>,
}

impl Clone for Condition {
    fn clone(&self) -> Self {
        Condition {
            source: self.source.clone(),
            program: Arc::clone(&self.program),
            fields: self.fields.clone(),
        }
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
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
            options,
            field_types,
            source_info: program.source_info(),
            problems: Vec::new(),
            fields: Vec::new(),
            bound: HashSet::new(),
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
        let mut fields = checker.fields;
        fields.sort();
        fields.dedup();
        Ok(Condition {
            source: source.to_owned(),
            program: Arc::new(program),
            fields,
        })
    }

    /// The condition as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The fields the condition reads.
    pub fn fields(&self) -> &[FieldId] {
        &self.fields
    }

    /// Evaluates the condition. `value` gives each field's current value; a field without a
    /// value is `null` in CEL, so `priority == "High"` is false while priority is unset.
    pub fn evaluate<'a>(
        &self,
        mut value: impl FnMut(&FieldId) -> Option<&'a FieldValue>,
    ) -> Result<bool, EvaluationError> {
        let mut context = cel::Context::with_env(Arc::clone(&STANDARD_ENV));
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
    field_types: &'a BTreeMap<FieldId, FieldType>,
    options: &'a BTreeMap<FieldId, Vec<String>>,
    source_info: &'a cel::common::ast::SourceInfo,
    problems: Vec<ConditionProblem>,
    fields: Vec<FieldId>,
    bound: HashSet<String>,
}

impl Checker<'_> {
    fn offset(&self, expr: &IdedExpr) -> usize {
        self.source_info
            .offset_for(expr.id)
            .map_or(0, |(start, _)| start as usize)
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
            _ => None,
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

    #[test]
    fn evaluates_with_unset_fields_as_not_matching() {
        let condition = Condition::compile(r#"priority == "High""#, &fields()).unwrap();
        let high = FieldValue::Text("High".to_owned());
        assert!(condition.evaluate(|_| Some(&high)).unwrap());
        assert!(!condition.evaluate(|_| None).unwrap());
    }
}
