//! Lints over a compiled graph and the document: reachability, traps, loops, joins,
//! four-eyes order, the glossary, and unused declarations.
//!
//! Every lint is linear in the size of the SOP (or close to it: the approval-order check
//! searches forward from a reviewed step and stops as soon as it meets the gate), so the
//! linter scales to SOPs far larger than any written by hand.

use std::collections::{HashSet, VecDeque};

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

use super::NodeKind;
use super::compile::{LintInput, span_within};
use crate::diagnostic::{Code, Diagnostic};
use crate::model::{FieldId, RoleId, Sop, Spanned};

pub(super) fn run(sop: &Sop, input: &LintInput<'_>, resolved: bool) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    if resolved {
        let reachable = reachable_from_start(input);
        unreachable_steps(input, &reachable, &mut diagnostics);
        traps(sop, input, &reachable, &mut diagnostics);
        branches_that_never_join(sop, input, &mut diagnostics);
        super::soundness::check(sop, input, &mut diagnostics);
        reviews_not_before(sop, input, &mut diagnostics);
    }
    let texts = Texts::collect(sop);
    undefined_acronyms(sop, input, &texts, &mut diagnostics);
    unused_terms(sop, &texts, &mut diagnostics);
    unused_roles(sop, &mut diagnostics);
    unused_fields(sop, input.used_fields, &mut diagnostics);
    diagnostics
}

fn reachable_from_start(input: &LintInput<'_>) -> Vec<bool> {
    search(input, input.start, Direction::Outgoing, |_| false)
}

/// Breadth-first search; `stop(node)` prevents expanding past a node (it is still marked).
fn search(
    input: &LintInput<'_>,
    from: NodeIndex,
    direction: Direction,
    stop: impl Fn(NodeIndex) -> bool,
) -> Vec<bool> {
    let mut seen = vec![false; input.graph.node_count()];
    let mut queue = VecDeque::from([from]);
    seen[from.index()] = true;
    while let Some(node) = queue.pop_front() {
        if stop(node) && node != from {
            continue;
        }
        for neighbor in input.graph.neighbors_directed(node, direction) {
            if !seen[neighbor.index()] {
                seen[neighbor.index()] = true;
                queue.push_back(neighbor);
            }
        }
    }
    seen
}

fn unreachable_steps(input: &LintInput<'_>, reachable: &[bool], out: &mut Vec<Diagnostic>) {
    for node in input.graph.node_indices() {
        let weight = &input.graph[node];
        if let Some(step) = &weight.step
            && !reachable[node.index()]
        {
            out.push(
                Diagnostic::new(
                    Code::UnreachableStep,
                    weight.span,
                    format!("step `{step}` can never be reached"),
                )
                .with_help("no `next`, `goto`, branch or earlier step leads here; link it into the flow or remove it"),
            );
        }
    }
}

/// Steps from which no end can be reached, and loops with no way out.
fn traps(sop: &Sop, input: &LintInput<'_>, reachable: &[bool], out: &mut Vec<Diagnostic>) {
    let reaches_end = search(input, input.end, Direction::Incoming, |_| false);
    if input
        .graph
        .node_indices()
        .all(|n| reaches_end[n.index()] || !reachable[n.index()])
    {
        return;
    }
    let components = petgraph::algo::tarjan_scc(input.graph);
    let mut in_closed_loop = vec![false; input.graph.node_count()];
    for component in &components {
        let first = component[0];
        if reaches_end[first.index()] || !reachable[first.index()] {
            continue;
        }
        let cyclic = component.len() > 1 || input.graph.contains_edge(first, first);
        if !cyclic {
            continue;
        }
        let members: HashSet<NodeIndex> = component.iter().copied().collect();
        let leaves = component.iter().any(|&n| {
            input
                .graph
                .neighbors_directed(n, Direction::Outgoing)
                .any(|m| !members.contains(&m))
        });
        if leaves {
            continue;
        }
        for &n in component {
            in_closed_loop[n.index()] = true;
        }
        let mut named: Vec<(crate::model::SourceSpan, String)> = component
            .iter()
            .filter_map(|&n| {
                input.graph[n]
                    .step
                    .as_ref()
                    .map(|s| (input.graph[n].span, s.to_string()))
            })
            .collect();
        named.sort();
        let Some((span, _)) = named.first().cloned() else {
            continue;
        };
        let names = named
            .iter()
            .map(|(_, name)| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let member_names: HashSet<&str> = named.iter().map(|(_, n)| n.as_str()).collect();
        if let Some(diagnostic) = loop_exit_place(sop, &member_names, &names) {
            out.push(diagnostic);
            continue;
        }
        out.push(
            Diagnostic::new(
                Code::LoopWithoutExit,
                span,
                format!("steps {names} form a loop that no path leaves, so a case in it never closes"),
            )
            .with_help("give one of them a way out: an `else` or `goto` that leaves the loop, or `end: true`"),
        );
    }
    // The places where a path leaves the live part of the process.
    for node in input.graph.node_indices() {
        let i = node.index();
        if reaches_end[i] || !reachable[i] || in_closed_loop[i] {
            continue;
        }
        let has_successor = input
            .graph
            .neighbors_directed(node, Direction::Outgoing)
            .next()
            .is_some();
        let entered_from_live = input
            .graph
            .neighbors_directed(node, Direction::Incoming)
            .any(|p| reaches_end[p.index()]);
        // A dead end with no successor is the last step without `end`, reported by the compiler.
        if !has_successor || !entered_from_live {
            continue;
        }
        if let Some(step) = &input.graph[node].step {
            out.push(
                Diagnostic::new(
                    Code::NoPathToEnd,
                    input.graph[node].span,
                    format!("no end can be reached from step `{step}`: a case that gets here never closes"),
                )
                .with_help("every path from this step leads into a loop with no way out; add an exit"),
            );
        }
    }
}

/// Where the way out of a closed loop belongs: the first decision or gate in it, or else
/// the `next` that closes it (a step that goes on to itself or back to an earlier step).
fn loop_exit_place(sop: &Sop, members: &HashSet<&str>, names: &str) -> Option<Diagnostic> {
    let steps: Vec<_> = sop
        .steps
        .iter()
        .filter(|s| members.contains(s.id.as_str()))
        .collect();
    if let Some(step) = steps
        .iter()
        .find(|s| s.decide.is_some() || s.approval.is_some())
    {
        let (what, help) = if step.decide.is_some() {
            (
                "decision",
                "let one arm leave the loop: a `goto` or the `else` to a step outside it, or to one that ends the case",
            )
        } else {
            (
                "approval gate",
                "send the approved case (the step after the gate, or its `next`) or `on_reject` to a step outside the loop",
            )
        };
        let span = step
            .decide
            .as_ref()
            .map(|d| d.span)
            .or(step.approval.as_ref().map(|a| a.span))
            .filter(|s| s.is_known())
            .unwrap_or(step.id.span);
        return Some(
            Diagnostic::new(
                Code::LoopWithoutExit,
                span,
                format!(
                    "every way out of {what} `{}` leads back into the loop of steps {names}, so a case in it never closes",
                    step.id.as_str()
                ),
            )
            .with_help(help),
        );
    }
    let position = |id: &str| sop.steps.iter().position(|s| s.id.as_str() == id);
    let closing = steps.iter().find_map(|step| {
        let next = step.next.as_ref()?;
        let here = position(step.id.as_str())?;
        let there = position(next.as_str())?;
        (members.contains(next.as_str()) && there <= here).then_some((step, next))
    })?;
    let (step, next) = closing;
    let message = if next.as_str() == step.id.as_str() {
        format!(
            "step `{}` goes on to itself (`next: {}`), so a case there never leaves it",
            step.id.as_str(),
            next.as_str()
        )
    } else {
        format!(
            "`next: {}` closes a loop of steps {names} that no path leaves, so a case in it never closes",
            next.as_str()
        )
    };
    Some(
        Diagnostic::new(Code::LoopWithoutExit, next.span, message).with_help(
            "point `next` at a step outside the loop, write `end: true`, or make a decision here with a way out",
        ),
    )
}

fn branches_that_never_join(sop: &Sop, input: &LintInput<'_>, out: &mut Vec<Diagnostic>) {
    for step in &sop.steps {
        let (Some(branches), Some(&split)) = (&step.parallel, input.steps.get(&step.id.value))
        else {
            continue;
        };
        let NodeKind::Split(split_kind) = &input.graph[split].kind else {
            continue;
        };
        let join = split_kind.join;
        if join.index() >= input.graph.node_count() {
            continue;
        }
        for branch in branches.iter() {
            let Some(&start) = input.steps.get(&branch.value) else {
                continue;
            };
            let seen = search(input, start, Direction::Outgoing, |n| {
                n == join || n == split
            });
            if !seen[join.index()] {
                let join_name = step
                    .join
                    .as_ref()
                    .map_or_else(String::new, |j| j.value.to_string());
                out.push(
                    Diagnostic::new(
                        Code::BranchNeverJoins,
                        branch.span,
                        format!("branch `{}` of parallel split `{}` never reaches the join step `{join_name}`", branch.value, step.id.value),
                    )
                    .with_help(format!("end the branch with `next: {join_name}` so the split can continue")),
                );
            }
        }
    }
}

fn reviews_not_before(sop: &Sop, input: &LintInput<'_>, out: &mut Vec<Diagnostic>) {
    for step in &sop.steps {
        let (Some(approval), Some(&gate)) = (&step.approval, input.steps.get(&step.id.value))
        else {
            continue;
        };
        for reviewed in &approval.reviews {
            let Some(&node) = input.steps.get(&reviewed.value) else {
                continue;
            };
            if !matches!(input.graph[node].kind, NodeKind::Task(_)) {
                out.push(
                    Diagnostic::new(
                        Code::ReviewNotBefore,
                        reviewed.span,
                        format!("approval `{}` reviews `{}`, which is not a task, so nobody performs it", step.id.value, reviewed.value),
                    )
                    .with_help("list the task steps whose work the approver checks"),
                );
                continue;
            }
            if !reaches(input, node, gate) {
                out.push(
                    Diagnostic::new(
                        Code::ReviewNotBefore,
                        reviewed.span,
                        format!(
                            "approval `{}` reviews `{}`, which can never happen before it",
                            step.id.value, reviewed.value
                        ),
                    )
                    .with_help("an approval can only review steps on a path leading to it"),
                );
            }
        }
    }
}

/// Whether `to` can be reached from `from`, stopping as soon as it is found.
fn reaches(input: &LintInput<'_>, from: NodeIndex, to: NodeIndex) -> bool {
    let mut seen = HashSet::from([from]);
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        for edge in input.graph.edges_directed(node, Direction::Outgoing) {
            let next = edge.target();
            if next == to {
                return true;
            }
            if seen.insert(next) {
                queue.push_back(next);
            }
        }
    }
    false
}

/// The prose of an SOP that readers see, each piece with its location.
struct Texts<'a> {
    pieces: Vec<&'a Spanned<String>>,
}

impl<'a> Texts<'a> {
    fn collect(sop: &'a Sop) -> Texts<'a> {
        let mut pieces = vec![&sop.title];
        pieces.extend(sop.purpose.as_ref());
        for step in &sop.steps {
            pieces.extend(step.title.as_ref());
            pieces.extend(step.instructions.as_ref());
        }
        Texts { pieces }
    }
}

/// Words of 2+ capitals (`SLA`, `CSAT`; plural `SLAs` counts as `SLA`), outside templates,
/// with their character offset in the text.
fn acronyms(text: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    // Most prose has no two capitals in a row: skip it without walking its characters.
    let has_capital_pair = text
        .as_bytes()
        .windows(2)
        .any(|pair| pair[0].is_ascii_uppercase() && pair[1].is_ascii_uppercase());
    if !has_capital_pair {
        return found;
    }
    let mut in_template = false;
    let mut word_start: Option<(usize, usize)> = None;
    let mut chars = text.char_indices().enumerate().peekable();
    let mut words: Vec<(usize, usize, usize)> = Vec::new();
    while let Some((char_index, (byte_index, c))) = chars.next() {
        if c == '{' && chars.peek().is_some_and(|(_, (_, n))| *n == '{') {
            in_template = true;
        }
        if c == '}' && chars.peek().is_some_and(|(_, (_, n))| *n == '}') {
            in_template = false;
        }
        if c.is_alphanumeric() && !in_template {
            if word_start.is_none() {
                word_start = Some((char_index, byte_index));
            }
        } else if let Some((ci, bi)) = word_start.take() {
            words.push((ci, bi, byte_index));
        }
    }
    if let Some((ci, bi)) = word_start {
        words.push((ci, bi, text.len()));
    }
    for (char_index, start, end) in words {
        let word = &text[start..end];
        let word = word
            .strip_suffix('s')
            .filter(|w| w.len() >= 2)
            .unwrap_or(word);
        let capitals = word.chars().filter(char::is_ascii_uppercase).count();
        if capitals >= 2
            && word
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            found.push((char_index, word));
        }
    }
    found
}

fn term_names(sop: &Sop) -> HashSet<&str> {
    let mut names = HashSet::new();
    for key in sop.terms.keys() {
        let name = key.value.0.as_str();
        names.insert(name);
        // `CSAT (customer satisfaction)` defines `CSAT`.
        if let Some(first) = name.split([' ', '(']).next() {
            names.insert(first);
        }
    }
    names
}

/// A point span widened to `bytes`, when it is a point (a whole-value span stays as is).
fn with_len(mut span: crate::model::SourceSpan, bytes: usize) -> crate::model::SourceSpan {
    if span.len == 0 {
        span.len = bytes;
    }
    span
}

fn undefined_acronyms(
    sop: &Sop,
    input: &LintInput<'_>,
    texts: &Texts<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let defined = term_names(sop);
    let mut reported: HashSet<&str> = HashSet::new();
    for text in &texts.pieces {
        for (offset, acronym) in acronyms(text) {
            if defined.contains(acronym) || !reported.insert(acronym) {
                continue;
            }
            out.push(
                Diagnostic::new(
                    Code::UndefinedAcronym,
                    with_len(span_within(input.source, text, offset), acronym.len()),
                    format!("`{acronym}` is used but not defined under `terms`"),
                )
                .with_help(format!(
                    "readers may not know it: add `{acronym}: <what it means>` to `terms`"
                )),
            );
        }
    }
}

fn unused_terms(sop: &Sop, texts: &Texts<'_>, out: &mut Vec<Diagnostic>) {
    if sop.terms.is_empty() {
        return;
    }
    let pieces: Vec<&str> = texts
        .pieces
        .iter()
        .map(|t| t.as_str())
        .chain(sop.roles.iter().map(|(_, d)| d.as_str()))
        .chain(
            sop.fields
                .iter()
                .filter_map(|(_, f)| f.label.as_deref().map(String::as_str)),
        )
        .chain(sop.terms.iter().map(|(_, d)| d.as_str()))
        .chain(std::iter::once(sop.department.as_str()))
        .collect();
    // Searched per term (terms are few, the prose may be megabytes): a substring search
    // is far cheaper than splitting all the prose into words.
    let mut lowered: Option<Vec<String>> = None;
    for (key, _) in sop.terms.iter() {
        let name = key.value.0.as_str();
        let head = name.split([' ', '(']).next().unwrap_or(name);
        let plural = format!("{head}s");
        let mut used = pieces
            .iter()
            .any(|text| contains_word(text, head) || contains_word(text, &plural));
        if !used && head.chars().any(char::is_lowercase) {
            let lowered =
                lowered.get_or_insert_with(|| pieces.iter().map(|t| t.to_lowercase()).collect());
            let name = name.to_lowercase();
            used = lowered.iter().any(|text| contains_word(text, &name));
        }
        if !used {
            out.push(
                Diagnostic::new(
                    Code::UnusedTerm,
                    key.span,
                    format!("term `{name}` is defined but never used"),
                )
                .with_help("remove it, or use it in a title or instructions"),
            );
        }
    }
}

fn contains_word(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

fn unused_roles(sop: &Sop, out: &mut Vec<Diagnostic>) {
    let approvers: Vec<RoleId> = sop
        .steps
        .iter()
        .filter_map(|s| s.approval.as_ref())
        .flat_map(|a| a.approver_roles().into_iter().map(|r| r.value))
        .collect();
    let used: HashSet<&RoleId> = sop
        .steps
        .iter()
        .filter_map(|s| s.role.as_deref())
        .chain(approvers.iter())
        .chain(
            sop.fields
                .iter()
                .flat_map(|(_, f)| f.editable_by.iter().map(|r| &r.value)),
        )
        // A role told of a breach, and nothing else, is used: it is who hears of it.
        .chain(
            sop.steps
                .iter()
                .filter_map(|s| s.overdue.as_ref())
                .flat_map(|levels| levels.value.iter())
                .chain(sop.sla.iter().flat_map(|sla| sla.overdue.iter()))
                .filter_map(|level| level.notify.as_ref().map(|r| &r.value)),
        )
        .collect();
    for key in sop.roles.keys() {
        if !used.contains(&key.value) {
            out.push(
                Diagnostic::new(
                    Code::UnusedRole,
                    key.span,
                    format!(
                        "role `{}` is declared but no step or approval uses it",
                        key.value
                    ),
                )
                .with_help(
                    "remove it, or assign it to a step with `role:` or an approval with `by:`",
                ),
            );
        }
    }
}

fn unused_fields(sop: &Sop, used: &[FieldId], out: &mut Vec<Diagnostic>) {
    let used: HashSet<&FieldId> = used.iter().collect();
    for key in sop.fields.keys() {
        if !used.contains(&key.value) {
            out.push(
                Diagnostic::new(
                    Code::UnusedField,
                    key.span,
                    format!("field `{}` is declared but nothing collects, reads or shows it", key.value),
                )
                .with_help("collect it in a step (`collects:`), use it in a condition or a `{{ template }}`, or remove it"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_acronyms_outside_templates() {
        let found: Vec<&str> =
            acronyms("Log it in the CRM within the SLAs; see {{ CSAT }} and Q4 A")
                .into_iter()
                .map(|(_, a)| a)
                .collect();
        assert_eq!(found, ["CRM", "SLA"]);
    }

    #[test]
    fn acronym_offsets_are_in_characters() {
        assert_eq!(acronyms("é CRM"), [(2, "CRM")]);
    }

    #[test]
    fn whole_words_only() {
        assert!(contains_word(
            "first response time is short",
            "response time"
        ));
        assert!(!contains_word("responses", "response"));
    }
}
