//! No lost cases: whatever SOP compiles without errors, and whatever its people, the
//! clock and its sub-cases do, an open case always has an active step, a pending timer or
//! a sub-case it waits for, so someone will see it again.
//!
//! Random SOPs are built from a stream of choices (tasks, approval gates with
//! `on_reject`, decisions over a choice field, parallel splits with joins, nested ones,
//! `due`/`on_overdue`, `after`/`on_timeout`, `on_escalate`, `on_cancel`, gates any of
//! two roles decide, tasks that call another SOP), most edges going where a careful author would send them and some
//! anywhere at all; only those that compile without errors are kept. Random commands
//! (complete, approve, reject, escalate, cancel a step, a sub-case completing or
//! cancelled, tick at advancing times, by actors holding the step's role) then drive a case, and after every
//! accepted command the case must not be lost and its events must replay to its state.
//!
//! The property has teeth: the same search finds lost cases in the stuck shapes the
//! compiler refuses (E032, E033, E034) once they are compiled without the lints.

mod common;

use std::sync::Arc;

use common::{Case, actor, clock, mins};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestError, TestRunner};
use sopflow::diagnostic::Code;
use sopflow::engine::{Action, Actor, CaseState, FieldValues, SubCaseOutcome};
use sopflow::graph::{Compilation, NodeKind, Process};
use sopflow::model::{FieldValue, StepId};

// ---------------------------------------------------------------------------------------
// Random SOPs

/// The values a decision reads and a task may collect.
const KINDS: [&str; 3] = ["low", "mid", "high"];

const HEADER: &str = "id: random
version: 1
title: A random procedure
department: Customer Service
roles: { agent: Support agent, lead: Team lead }
fields:
  kind: { type: choice, options: [low, mid, high], default: low }
  tags: { type: multi-choice, options: [low, mid, high] }
steps:
";

/// A stream of choices: each `pick` takes the next number (0 once the stream runs out),
/// so shrinking the numbers towards 0 makes the SOP simpler.
struct Choices<'a> {
    values: &'a [u32],
    at: usize,
}

impl Choices<'_> {
    /// A number in `0..n`.
    fn pick(&mut self, n: usize) -> usize {
        let value = self.values.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        value as usize % n.max(1)
    }

    /// True with probability about `percent` in 100 (false once the stream runs out).
    fn chance(&mut self, percent: usize) -> bool {
        self.pick(100) >= 100 - percent
    }
}

/// Where an edge goes, decided while the SOP is built and resolved once it is laid out.
#[derive(Debug, Clone)]
enum Target {
    /// A step by id.
    Id(String),
    /// The `n`-th step of the whole SOP (modulo its length): anywhere at all.
    Anywhere(usize),
}

/// One item of a sequence: a step, or a parallel split with its branches and join step.
#[derive(Debug, Clone)]
enum Item {
    Task(String),
    Gate(String),
    Decision(String),
    Split {
        id: String,
        branches: Vec<Vec<Item>>,
        join: String,
    },
}

impl Item {
    /// The step a case enters the item by.
    fn first(&self) -> &str {
        match self {
            Item::Task(id) | Item::Gate(id) | Item::Decision(id) | Item::Split { id, .. } => id,
        }
    }
}

/// A step as YAML lines, with `{key}` placeholders for targets resolved at the end.
struct Draft {
    id: String,
    targets: Vec<(String, Target)>,
    lines: Vec<String>,
}

/// Builds the YAML text of a random SOP from a stream of choices.
struct Builder<'a> {
    choices: Choices<'a>,
    next_id: usize,
    /// The steps in document order.
    steps: Vec<Draft>,
}

impl Builder<'_> {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    /// A sequence of `1..=max` items; splits nest at most `depth` deep.
    fn sequence(&mut self, max: usize, depth: usize) -> Vec<Item> {
        let len = 1 + self.choices.pick(max);
        (0..len).map(|_| self.item(depth)).collect()
    }

    fn item(&mut self, depth: usize) -> Item {
        match self.choices.pick(9) {
            0..=2 => Item::Task(self.id("t")),
            3..=4 => Item::Gate(self.id("g")),
            5 => Item::Decision(self.id("d")),
            _ if depth == 0 => Item::Task(self.id("t")),
            _ => self.split(depth),
        }
    }

    /// A parallel split of two or three branches, each a short sequence.
    fn split(&mut self, depth: usize) -> Item {
        let id = self.id("p");
        let count = 2 + self.choices.pick(2);
        let branches = (0..count)
            .map(|_| self.sequence(2, depth.saturating_sub(1)))
            .collect();
        let join = self.id("j");
        Item::Split { id, branches, join }
    }

    /// Where an edge of a step goes: on to `cont`, back to a step of the same sequence
    /// (`earlier`, skipping `not`: a timer may not name its own step), or, now and then,
    /// anywhere in the SOP.
    fn target(&mut self, cont: Option<&str>, earlier: &[String], not: &str) -> Target {
        let roll = self.choices.pick(100);
        let earlier: Vec<&String> = earlier.iter().filter(|id| *id != not).collect();
        match cont {
            Some(cont) if roll < 50 => Target::Id(cont.to_owned()),
            _ if roll < 94 && !earlier.is_empty() => {
                let i = self.choices.pick(earlier.len());
                Target::Id(earlier[i].clone())
            }
            _ => Target::Anywhere(self.choices.pick(1 << 16)),
        }
    }

    /// Lays out a sequence whose last item goes on to `cont` (`None`: the end).
    fn lay(&mut self, items: &[Item], cont: Option<&str>) {
        let mut earlier: Vec<String> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            earlier.push(item.first().to_owned());
            let following = items.get(i + 1).map(|next| next.first().to_owned());
            let item_cont = following.as_deref().or(cont);
            // A step may fall through to the step listed after it only when that is
            // where it goes on to.
            let falls_through = following.is_some();
            match item {
                Item::Task(id) | Item::Gate(id) => {
                    self.step(id, item, item_cont, falls_through, &earlier)
                }
                Item::Decision(id) => {
                    let mut lines = vec![format!("  - id: {id}"), "    decide:".to_owned()];
                    let mut targets = Vec::new();
                    let arms = 1 + self.choices.pick(2);
                    for arm in 0..=arms {
                        let target = if arm == 0 {
                            // The first arm goes on, so most cases can pass the decision.
                            match item_cont {
                                Some(cont) => Target::Id(cont.to_owned()),
                                None => self.target(None, &earlier, ""),
                            }
                        } else {
                            self.target(item_cont, &earlier, "")
                        };
                        let key = format!("arm{arm}");
                        if arm == arms {
                            lines.push(format!("      - else: {{{key}}}"));
                        } else {
                            let value = KINDS[self.choices.pick(KINDS.len())];
                            let op = if self.choices.chance(80) { "==" } else { "!=" };
                            lines.push(format!(
                                "      - {{ if: 'kind {op} \"{value}\"', goto: {{{key}}} }}"
                            ));
                        }
                        targets.push((key, target));
                    }
                    self.steps.push(Draft {
                        id: id.clone(),
                        targets,
                        lines,
                    });
                }
                Item::Split { id, branches, join } => {
                    let firsts: Vec<&str> = branches.iter().map(|b| b[0].first()).collect();
                    let mut extra = String::new();
                    // Some branches start only under a condition; some joins wait for
                    // fewer than all.
                    if self.choices.chance(35) {
                        let mut conditions: Vec<String> = Vec::new();
                        for first in &firsts {
                            if self.choices.chance(60) {
                                let value = KINDS[self.choices.pick(KINDS.len())];
                                conditions.push(format!("{first}: '\"{value}\" in tags'"));
                            }
                        }
                        if !conditions.is_empty() {
                            extra.push_str(&format!(", when: {{ {} }}", conditions.join(", ")));
                        }
                    }
                    if self.choices.chance(30) {
                        let n = 1 + self.choices.pick(firsts.len());
                        extra.push_str(&format!(", wait_for: {n}"));
                    }
                    self.steps.push(Draft {
                        id: id.clone(),
                        targets: Vec::new(),
                        lines: vec![format!(
                            "  - {{ id: {id}, parallel: [{}], join: {join}{extra} }}",
                            firsts.join(", ")
                        )],
                    });
                    for branch in branches {
                        self.lay(branch, Some(join));
                    }
                    let join_item = Item::Task(join.clone());
                    self.step(join, &join_item, item_cont, falls_through, &earlier);
                }
            }
        }
    }

    /// A task or gate, with its timers, escalation and rework drawn at random.
    fn step(
        &mut self,
        id: &str,
        item: &Item,
        cont: Option<&str>,
        falls_through: bool,
        earlier: &[String],
    ) {
        let mut keys: Vec<String> = vec![format!("id: {id}"), format!("title: Step {id}")];
        let mut targets = Vec::new();
        let gate = matches!(item, Item::Gate(_));
        if gate {
            let by = if self.choices.chance(15) {
                "[lead, agent]"
            } else if self.choices.chance(70) {
                "lead"
            } else {
                "agent"
            };
            let count = if self.choices.chance(20) { 2 } else { 1 };
            keys.push(format!(
                "approval: {{ by: {by}, count: {count}, on_reject: {{rework}} }}"
            ));
            let rework = self.target(None, earlier, "");
            targets.push(("rework".to_owned(), rework));
        } else {
            let role = if self.choices.chance(60) {
                "agent"
            } else {
                "lead"
            };
            keys.push(format!("role: {role}"));
            if self.choices.chance(30) {
                keys.push("collects: [kind, tags]".to_owned());
            }
        }
        // A task run once per item may not move the case on by itself.
        let per_item = !gate && self.choices.chance(12);
        if per_item {
            keys.push("for_each: tags".to_owned());
            if self.choices.chance(40) {
                keys.push(format!("wait_for: {}", 1 + self.choices.pick(2)));
            }
        }
        if self.choices.chance(30) {
            let due = ["30m", "1h", "4h"][self.choices.pick(3)];
            keys.push(format!("due: {due}"));
            if !per_item && self.choices.chance(60) {
                keys.push("on_overdue: {overdue}".to_owned());
                let target = self.target(cont, earlier, id);
                targets.push(("overdue".to_owned(), target));
            }
        }
        if !gate && !per_item && self.choices.chance(20) {
            let after = ["2h", "1d"][self.choices.pick(2)];
            keys.push(format!("after: {after}"));
            keys.push("on_timeout: {timeout}".to_owned());
            let target = self.target(cont, earlier, id);
            targets.push(("timeout".to_owned(), target));
        }
        if !gate && !per_item && self.choices.chance(25) {
            keys.push("on_escalate: {escalate}".to_owned());
            let target = self.target(cont, earlier, id);
            targets.push(("escalate".to_owned(), target));
        }
        if !per_item && self.choices.chance(20) {
            keys.push("on_cancel: {cancel}".to_owned());
            let target = self.target(cont, earlier, id);
            targets.push(("cancel".to_owned(), target));
        }
        // A task that calls another SOP: it waits for the sub-case, whose `kind` comes
        // back and may steer the decisions after it.
        if !gate && !per_item && self.choices.chance(12) {
            keys.retain(|k| !k.starts_with("collects"));
            keys.push(
                "call: { sop: other, with: { kind: kind }, returns: { kind: kind } }".to_owned(),
            );
        }
        match cont {
            None => keys.push("end: true".to_owned()),
            Some(_) if self.choices.chance(5) => {
                // Now and then a step goes anywhere, or ends the case.
                if self.choices.chance(30) {
                    keys.push("end: true".to_owned());
                } else {
                    keys.push("next: {next}".to_owned());
                    let target = Target::Anywhere(self.choices.pick(1 << 16));
                    targets.push(("next".to_owned(), target));
                }
            }
            Some(cont) if !falls_through || self.choices.chance(30) => {
                keys.push("next: {next}".to_owned());
                targets.push(("next".to_owned(), Target::Id(cont.to_owned())));
            }
            Some(_) => {}
        }
        self.steps.push(Draft {
            id: id.to_owned(),
            targets,
            lines: vec![format!("  - {{ {} }}", keys.join(", "))],
        });
    }

    /// The YAML text, every target resolved.
    fn text(self) -> String {
        let ids: Vec<&str> = self.steps.iter().map(|draft| draft.id.as_str()).collect();
        let mut text = HEADER.to_owned();
        for draft in &self.steps {
            for line in &draft.lines {
                let mut line = line.clone();
                for (key, target) in &draft.targets {
                    let id = match target {
                        Target::Id(id) => id.as_str(),
                        Target::Anywhere(n) => ids[n % ids.len()],
                    };
                    line = line.replace(&format!("{{{key}}}"), id);
                }
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    }
}

/// The YAML text of the SOP a stream of choices describes.
fn random_sop(values: &[u32]) -> String {
    let mut builder = Builder {
        choices: Choices { values, at: 0 },
        next_id: 0,
        steps: Vec::new(),
    };
    let mut items = builder.sequence(4, 2);
    // Most SOPs get a split at least, since that is where cases get lost.
    if !items.iter().any(|i| matches!(i, Item::Split { .. })) && builder.choices.chance(70) {
        let at = builder.choices.pick(items.len() + 1);
        let split = builder.split(2);
        items.insert(at, split);
    }
    // The case must be able to end: the last item is a task or a split, never a decision
    // (which cannot end the case) or a gate (kept simple).
    if !matches!(items.last(), Some(Item::Task(_) | Item::Split { .. })) {
        let id = builder.id("t");
        items.push(Item::Task(id));
    }
    builder.lay(&items, None);
    builder.text()
}

fn compile(text: &str) -> Compilation {
    match sopflow::parse::parse_sop("random.yaml", text) {
        Ok(sop) => sopflow::graph::compile(&sop),
        Err(error) => panic!("a generated SOP does not parse: {error}\n{text}"),
    }
}

/// A random SOP that compiles without errors, with its text.
fn valid_sop() -> impl Strategy<Value = (String, Arc<Process>)> {
    prop::collection::vec(any::<u32>(), 300).prop_filter_map("the SOP has errors", |values| {
        let text = random_sop(&values);
        let process = compile(&text).process?;
        Some((text, Arc::new(process)))
    })
}

// ---------------------------------------------------------------------------------------
// Random commands

/// What to do next; the step and actor are picked among those that fit the case then.
#[derive(Debug, Clone)]
enum Op {
    /// Complete an active task (maybe setting `kind`) or approve an active gate.
    Advance,
    Reject,
    Escalate,
    CancelStep,
    /// The sub-case a call task waits for completes (setting `kind`) or is cancelled.
    FinishSubCase,
    Tick,
}

#[derive(Debug, Clone)]
struct Sent {
    op: Op,
    /// Which active step, which actor, which value: taken modulo what there is.
    pick: usize,
    /// Minutes the clock moves on before the command.
    advance: i64,
}

fn sent() -> impl Strategy<Value = Sent> {
    let op = prop_oneof![
        10 => Just(Op::Advance),
        2 => Just(Op::Reject),
        2 => Just(Op::Escalate),
        2 => Just(Op::CancelStep),
        3 => Just(Op::FinishSubCase),
        3 => Just(Op::Tick),
    ];
    let advance = prop_oneof![
        6 => 0i64..30,
        3 => 30i64..5 * 60,
        1 => 5 * 60i64..2 * 24 * 60,
    ];
    (op, any::<usize>(), advance).prop_map(|(op, pick, advance)| Sent { op, pick, advance })
}

fn actors() -> Vec<Actor> {
    vec![
        actor("ana", &["agent"]),
        actor("ben", &["agent"]),
        actor("lea", &["lead"]),
        actor("leo", &["lead"]),
    ]
}

/// The command `sent` stands for on the case as it is, if any fits it.
fn command(process: &Process, state: &CaseState, sent: &Sent) -> Option<(Actor, Action)> {
    if matches!(sent.op, Op::Tick) {
        return Some((clock(), Action::Tick));
    }
    if matches!(sent.op, Op::FinishSubCase) {
        let waiting: Vec<_> = state
            .sub_cases()
            .iter()
            .filter(|s| s.outcome.is_none())
            .collect();
        let sub = waiting.get(sent.pick % waiting.len().max(1))?;
        let outcome = if sent.pick.is_multiple_of(3) {
            SubCaseOutcome::Cancelled
        } else {
            SubCaseOutcome::Completed
        };
        let kind = FieldValue::Text(KINDS[(sent.pick / 5) % KINDS.len()].to_owned());
        return Some((
            clock(),
            Action::FinishSubCase {
                child: sub.case.clone(),
                outcome,
                fields: FieldValues::from([("kind".parse().ok()?, kind)]),
            },
        ));
    }
    let active = state.active_steps();
    if active.is_empty() {
        return None;
    }
    let picked = &active[sent.pick % active.len()];
    let (step, item): (StepId, Option<String>) = (picked.step.clone(), picked.item.clone());
    let node = process.step(&step)?;
    let (roles, gate) = match &process.node(node).kind {
        NodeKind::Task(task) => (vec![task.role.clone()], false),
        NodeKind::Approval(approval) => (approval.by.clone(), true),
        _ => return None,
    };
    let holders: Vec<Actor> = actors()
        .into_iter()
        .filter(|a| roles.iter().any(|r| a.holds(r)))
        .collect();
    let by = holders[(sent.pick / 7) % holders.len()].clone();
    let action = match (&sent.op, gate) {
        (Op::Advance, true) => Action::Approve {
            step,
            comment: None,
        },
        (Op::Advance, false) => {
            let mut fields = FieldValues::new();
            let collects: &[sopflow::model::FieldId] = match &process.node(node).kind {
                NodeKind::Task(task) => &task.collects,
                _ => &[],
            };
            for field in collects {
                let value = match field.as_str() {
                    "kind" => FieldValue::Text(KINDS[(sent.pick / 3) % KINDS.len()].to_owned()),
                    // Any subset of the options, from none to all.
                    _ => FieldValue::List(
                        KINDS
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| ((sent.pick / 11) >> i) & 1 == 1)
                            .map(|(_, kind)| (*kind).to_owned())
                            .collect(),
                    ),
                };
                fields.insert(field.clone(), value);
            }
            Action::Complete { step, fields, item }
        }
        (Op::Reject, _) => Action::Reject {
            step,
            reason: "not good enough".to_owned(),
        },
        (Op::Escalate, _) => Action::Escalate {
            step,
            reason: "needs a lead".to_owned(),
            item,
        },
        (Op::CancelStep, _) => Action::CancelStep {
            step,
            reason: "no longer needed".to_owned(),
        },
        (Op::Tick | Op::FinishSubCase, _) => return None,
    };
    Some((by, action))
}

/// Starts a case and sends the commands, checking after each accepted one that the case
/// is not lost and that its events replay to its state.
fn run(process: &Arc<Process>, commands: &[Sent]) -> Result<(), TestCaseError> {
    let mut case = Case::new(process);
    let start = Action::Start {
        case: "T-1".into(),
        fields: FieldValues::new(),
    };
    if case.try_send(&actors()[0], start).is_err() {
        // Decisions that route in a circle for the default values: the case never opens.
        return Ok(());
    }
    check(&case)?;
    for sent in commands {
        if !case.state.is_open() {
            break;
        }
        case.advance(mins(sent.advance));
        let Some((by, action)) = command(process, &case.state, sent) else {
            continue;
        };
        // `try_send` itself checks that a refused command changes nothing.
        if case.try_send(&by, action).is_ok() {
            check(&case)?;
        }
    }
    Ok(())
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let state = &case.state;
    prop_assert!(
        !state.is_open()
            || !state.active_steps().is_empty()
            || state.next_timer().is_some()
            || state.sub_cases().iter().any(|s| s.outcome.is_none()),
        "a lost case: open, with no active step, no timer and no sub-case it waits for (pending joins: {:?}, items: {:?})\n{}",
        state.pending_joins(),
        state.pending_instances(),
        case.describe_lines()
    );
    prop_assert_eq!(
        &CaseState::replay(&case.log),
        state,
        "replaying the events gives another state"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any SOP the compiler accepts keeps every case findable, whatever is done to it.
    #[test]
    fn a_valid_sop_never_loses_a_case(
        (text, process) in valid_sop(),
        sequences in prop::collection::vec(prop::collection::vec(sent(), 1..50), 3),
    ) {
        for commands in &sequences {
            run(&process, commands).map_err(|e| TestCaseError::fail(format!("{e}\nSOP:\n{text}")))?;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The generator reaches the shapes that matter

/// The generated SOPs are not all trivially sound: among the same number of attempts as
/// the property test makes, some are refused for each stuck shape, and many of those kept
/// have parallel splits (nested ones too) with reworks, timers and decisions inside.
#[test]
fn generated_sops_cover_splits_and_the_stuck_shapes() {
    let mut runner = TestRunner::deterministic();
    let strategy = prop::collection::vec(any::<u32>(), 300);
    let mut refused = std::collections::HashSet::new();
    let (mut kept, mut with_split, mut nested, mut with_cancel) = (0, 0, 0, 0);
    let (mut conditional, mut n_of_m, mut per_item, mut calls) = (0, 0, 0, 0);
    for _ in 0..1024 {
        let values = strategy
            .new_tree(&mut runner)
            .expect("a value tree")
            .current();
        let text = random_sop(&values);
        let compilation = compile(&text);
        refused.extend(
            compilation
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.code),
        );
        if let Some(process) = compilation.process {
            kept += 1;
            let splits = process
                .nodes()
                .filter(|(_, n)| matches!(n.kind, NodeKind::Split(_)))
                .count();
            with_split += usize::from(splits > 0);
            nested += usize::from(splits > 1);
            let cancellable_in_a_split = splits > 0
                && process.nodes().any(|(node, _)| {
                    process
                        .successors(node)
                        .iter()
                        .any(|(kind, _)| *kind == sopflow::graph::EdgeKind::Cancelled)
                });
            with_cancel += usize::from(cancellable_in_a_split);
            for (_, node) in process.nodes() {
                match &node.kind {
                    NodeKind::Split(split) if split.conditions.iter().any(Option::is_some) => {
                        conditional += 1
                    }
                    NodeKind::Split(split) if split.wait_for.is_some() => n_of_m += 1,
                    NodeKind::Task(task) if task.for_each.is_some() => per_item += 1,
                    NodeKind::Task(task) if task.call.is_some() => calls += 1,
                    _ => {}
                }
            }
        }
    }
    for code in [
        Code::BranchEndsCase,
        Code::BranchLeavesSplit,
        Code::BranchReworksBeforeSplit,
        Code::SplitStartsTwice,
    ] {
        assert!(
            refused.contains(&code),
            "no generated SOP is refused with {code}"
        );
    }
    eprintln!(
        "{kept} of 1024 generated SOPs compile, {with_split} with a split, {nested} with two or more, {with_cancel} with a split and a step that may be cancelled; refused with {refused:?}"
    );
    eprintln!(
        "{conditional} splits with branch conditions, {n_of_m} waiting for fewer than all, {per_item} tasks run per item, {calls} call tasks"
    );
    assert!(calls >= 20, "only {calls} call tasks in {kept} SOPs");
    assert!(
        conditional >= 20 && n_of_m >= 20 && per_item >= 20,
        "too few token patterns: {conditional} conditional splits, {n_of_m} N-of-M joins, {per_item} tasks per item"
    );
    assert!(
        with_cancel >= 20,
        "only {with_cancel} of {kept} have a split and an `on_cancel`"
    );
    assert!(kept >= 256, "only {kept} of 1024 generated SOPs compile");
    assert!(
        with_split * 3 >= kept,
        "{with_split} of {kept} have a split"
    );
    assert!(
        nested >= 20,
        "only {nested} of {kept} have two splits or more"
    );
}

// ---------------------------------------------------------------------------------------
// The property has teeth

const BRANCH_ENDS_CASE: &str = "  - { id: intake, title: Intake, role: agent }
  - { id: pay, parallel: [notify, refund], join: close }
  - { id: notify, title: Tell the customer, role: agent, next: close }
  - { id: refund, title: Send the refund, role: agent }
  - id: confirm
    title: Confirm the refund
    approval: { by: lead, on_reject: correct }
    end: true
  - { id: correct, title: Correct the refund, role: agent, next: close }
  - { id: close, title: Close, role: agent, end: true }
";

const REWORK_BEFORE_SPLIT: &str = "  - { id: intake, title: Intake, role: agent }
  - { id: checks, parallel: [billing, system], join: merge }
  - { id: billing, title: Check billing, role: agent }
  - id: billing_ok
    title: Approve the billing check
    approval: { by: lead, on_reject: intake }
    next: merge
  - { id: system, title: Check the system, role: agent, next: merge }
  - { id: merge, title: Merge the findings, role: agent, end: true }
";

const ARM_LEAVES_BRANCH: &str = "  - { id: intake, title: Intake, role: agent }
  - { id: pay, parallel: [notify, refund], join: close }
  - { id: notify, title: Tell the customer, role: agent, next: close }
  - { id: refund, title: Send the refund, role: lead, collects: [kind] }
  - id: route
    decide:
      - { if: 'kind == \"high\"', goto: close }
      - else: done
  - { id: close, title: Close, role: agent, end: true }
  - { id: done, title: Done, role: agent, end: true }
";

const SIBLING_SPLIT_TWICE: &str = "  - { id: intake, title: Intake, role: agent }
  - { id: work, parallel: [answer, checks], join: wrap }
  - { id: answer, title: Draft the answer, role: agent }
  - id: answer_ok
    title: Approve the answer
    approval: { by: lead, on_reject: checks }
    next: wrap
  - { id: checks, parallel: [billing, system], join: merge }
  - { id: billing, title: Check billing, role: agent, next: merge }
  - { id: system, title: Check the system, role: agent, next: merge }
  - { id: merge, title: Merge the findings, role: agent, next: wrap }
  - { id: wrap, title: Wrap up, role: agent, end: true }
";

/// The process of a stuck shape compiled without the lints, after checking that the full
/// compile refuses it with `code`.
fn trusted(steps: &str, code: Code) -> Arc<Process> {
    let text = format!("{HEADER}{steps}");
    let sop = sopflow::parse::parse_sop("stuck.yaml", &text).expect("the SOP parses");
    let codes: Vec<Code> = sopflow::graph::compile(&sop)
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect();
    assert_eq!(
        codes,
        [code],
        "the compiler should refuse it for one reason"
    );
    let process = sopflow::graph::compile_trusted(&sop)
        .process
        .expect("a trusted compile skips the lints");
    Arc::new(process)
}

/// The same random search that finds nothing on valid SOPs finds a lost case in each
/// stuck shape the compiler refuses.
#[test]
fn the_property_fails_on_the_stuck_shapes_compiled_without_lints() {
    for (name, steps, code) in [
        (
            "a branch ends the case",
            BRANCH_ENDS_CASE,
            Code::BranchEndsCase,
        ),
        (
            "a rejection goes back before the split",
            REWORK_BEFORE_SPLIT,
            Code::BranchReworksBeforeSplit,
        ),
        (
            "a decision arm leaves the branch",
            ARM_LEAVES_BRANCH,
            Code::BranchLeavesSplit,
        ),
        (
            "a rejection crosses into a sibling branch that holds a split",
            SIBLING_SPLIT_TWICE,
            Code::SplitStartsTwice,
        ),
    ] {
        let process = trusted(steps, code);
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: 256,
                failure_persistence: None,
                ..Config::default()
            },
            proptest::test_runner::TestRng::deterministic_rng(
                proptest::test_runner::RngAlgorithm::ChaCha,
            ),
        );
        let result = runner.run(&prop::collection::vec(sent(), 1..50), |commands| {
            run(&process, &commands)
        });
        match result {
            Err(TestError::Fail(reason, _)) => assert!(
                reason.message().contains("a lost case"),
                "{name}: failed for another reason: {reason}"
            ),
            other => panic!("{name}: no lost case found: {other:?}"),
        }
    }
}

/// The lost case of a rework before the split, step by step: the split runs a second
/// round, `system` is active twice, and the join still waits for the first round.
#[test]
fn a_rework_before_the_split_loses_the_case_step_by_step() {
    let process = trusted(REWORK_BEFORE_SPLIT, Code::BranchReworksBeforeSplit);
    let (ana, lea) = (actor("ana", &["agent"]), actor("lea", &["lead"]));
    let mut case = Case::start(&process, &ana, FieldValues::new());
    case.complete("intake", &ana, FieldValues::new());
    case.complete("billing", &ana, FieldValues::new());
    case.reject("billing_ok", &lea, "the amounts differ");
    case.complete("intake", &ana, FieldValues::new());
    assert_eq!(case.active(), ["system", "billing", "system"]);
    assert_eq!(
        case.state.pending_joins().len(),
        2,
        "two rounds of the split"
    );
    case.complete("system", &ana, FieldValues::new());
    case.complete("system", &ana, FieldValues::new());
    case.complete("billing", &ana, FieldValues::new());
    case.approve("billing_ok", &lea);
    assert!(case.state.is_open());
    assert!(case.state.active_steps().is_empty(), "{:?}", case.active());
    assert_eq!(case.state.next_timer(), None);
    assert_eq!(case.state.pending_joins()[0].remaining, 1);
}
