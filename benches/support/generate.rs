//! Generates large, valid SOP documents for benchmarks (and the tests that keep them valid).
//!
//! The text exercises the whole format the way a real procedure does: a glossary, roles,
//! typed fields, tasks with instructions (a few sentences, some with `{{ field }}`
//! templates), `collects`, service levels (`due`/`on_overdue`), approval gates whose
//! rejection loops back for rework, decisions over the case's fields, and a final
//! `end: true` step. Block and flow styles, quoted, plain and folded scalars are mixed.
//!
//! Steps come in cases of [`CASE_STEPS`] steps (fewer trailing steps are plain tasks):
//!
//! ```text
//! receive_N ── due/on_overdue ──▶ escalate_N ─┐ (next)
//!    │                                        ▼
//!    └──────────────────────────────▶ triage_N ── priority == "High" ──▶ expedite_N ─┐ (next)
//!                                        └── else ──▶ prepare_N ◀─────┐              │
//!                                                        │            │ on_reject    │
//!                                                        ▼            │              │
//!                                                     review_N ───────┘ ◀────────────┘
//!                                                        ▼
//!                                          check_N ── amount > limit ──▶ audit_N
//!                                             └── else ──▶ close_N ◀───────┘
//!                                                            ▼
//!                                                      receive_N+1 … (last: end: true)
//! ```
//!
//! Every step is reachable from the first and can reach the end: decisions only jump
//! forward and always have an `else`, and the only backward edges are approval
//! rejections (every [`REOPEN_EVERY`]th case sends a rejection back to `receive_N` instead of
//! `prepare_N`, a longer rework loop). The output is deterministic.

use std::fmt::Write;

/// Steps in one generated case (see the module docs).
pub const CASE_STEPS: usize = 9;

/// Every this many cases, a rejected approval reopens the whole case.
pub const REOPEN_EVERY: usize = 4;

/// The shape of a generated SOP, beyond its step count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Sentences of instructions per task step (cycled through a fixed set).
    pub sentences: usize,
}

impl Default for Shape {
    /// About 410 bytes of YAML per step: 10,000 steps make about 4 MB.
    fn default() -> Shape {
        Shape { sentences: 5 }
    }
}

/// A valid SOP of exactly `steps` steps (at least one), with the default [`Shape`].
pub fn generate_sop(steps: usize) -> String {
    generate_sop_with(steps, &Shape::default())
}

/// A valid SOP of exactly `steps` steps (at least one) of the given shape.
pub fn generate_sop_with(steps: usize, shape: &Shape) -> String {
    let steps = steps.max(1);
    let mut out = String::with_capacity(steps * 420 + 2048);
    out.push_str(HEADER);
    let cases = steps / CASE_STEPS;
    let tail = steps % CASE_STEPS;
    let mut sentence = 0;
    for case in 1..=cases {
        let last = case == cases && tail == 0;
        write_case(&mut out, case, last, shape, &mut sentence);
    }
    for index in 1..=tail {
        let last = index == tail;
        write_task(
            &mut out,
            &format!("wrap_up_{index}"),
            &format!("Wrap up part {index}"),
            "agent",
            shape,
            &mut sentence,
        );
        if last {
            out.push_str("    end: true\n");
        }
    }
    out
}

const HEADER: &str = r#"id: generated-support
version: 3
title: Generated Customer Support Process
department: Customer Service
purpose: >-
  Resolve every customer request within the SLA, with a second pair of eyes on
  anything that costs money and an audit trail for large refunds.
terms:
  SLA: Service level agreement, the time within which a step must be done
  CRM: Customer relationship management system
roles:
  agent: Support team member who handles requests
  lead: Team lead who approves refunds and handles escalations
  auditor: Finance auditor who checks large refunds
fields:
  customer_email:
    type: email
    label: Customer e-mail
    required: true
  priority:
    type: choice
    options: [Low, Medium, High]
    default: Medium
  amount:
    type: number
    label: Refund amount
    min: 0
    max: 100000
  notes:
    type: text
    max: 2000
  audited:
    type: bool
    default: false
steps:
"#;

/// Sentences the instructions are made of; `{{ field }}` templates name real fields.
const SENTENCES: &[&str] = &[
    "Open the request in the CRM and read the whole conversation before replying.",
    "Confirm the customer's identity by sending a code to {{ customer_email }}.",
    "Check whether the same customer opened a similar request in the last 30 days.",
    "Write down what the customer asked for in plain words, without internal jargon.",
    "If anything is unclear, ask one precise question rather than several vague ones.",
    "Record the refund amount, currently {{ amount }}, exactly as the invoice shows it.",
    "Link every document you relied on so that the next person does not search again.",
    "Keep the customer informed: a short update is better than a long silence.",
    "Use the priority {{ priority }} to decide how soon the customer hears from us.",
    "Do not promise a date you cannot keep; quote the SLA instead.",
    "Summarise the outcome in the notes field so that reporting can pick it up.",
];

fn write_instructions(out: &mut String, shape: &Shape, sentence: &mut usize) {
    if shape.sentences == 0 {
        return;
    }
    out.push_str("    instructions: >-\n");
    for _ in 0..shape.sentences {
        let _ = writeln!(out, "      {}", SENTENCES[*sentence % SENTENCES.len()]);
        *sentence += 1;
    }
}

fn write_task(
    out: &mut String,
    id: &str,
    title: &str,
    role: &str,
    shape: &Shape,
    sentence: &mut usize,
) {
    let _ = writeln!(out, "  - id: {id}\n    title: {title}\n    role: {role}");
    write_instructions(out, shape, sentence);
}

/// One case of [`CASE_STEPS`] steps; the last case of the SOP ends it.
fn write_case(out: &mut String, n: usize, last: bool, shape: &Shape, sentence: &mut usize) {
    let due = ["4h", "90m", "1d", "2d"][n % 4];
    let limit = 500 + (n % 7) * 250;
    let rework = if n.is_multiple_of(REOPEN_EVERY) {
        format!("receive_{n}")
    } else {
        format!("prepare_{n}")
    };

    write_task(
        out,
        &format!("receive_{n}"),
        &format!("Receive request {n}"),
        "agent",
        shape,
        sentence,
    );
    let _ = writeln!(
        out,
        "    collects: [customer_email, priority]\n    due: {due}\n    on_overdue: escalate_{n}"
    );

    let _ = writeln!(
        out,
        "  - id: triage_{n}\n    title: \"Triage request {n}\"\n    decide: [{{if: 'priority == \"High\"', goto: expedite_{n}}}, {{else: prepare_{n}}}]"
    );

    write_task(
        out,
        &format!("escalate_{n}"),
        &format!("Escalate overdue request {n}"),
        "lead",
        shape,
        sentence,
    );
    let _ = writeln!(out, "    next: triage_{n}");

    write_task(
        out,
        &format!("expedite_{n}"),
        &format!("Expedite urgent request {n}"),
        "lead",
        shape,
        sentence,
    );
    let _ = writeln!(
        out,
        "    collects:\n      - amount\n      - notes\n    due: 1h\n    next: review_{n}"
    );

    write_task(
        out,
        &format!("prepare_{n}"),
        &format!("Prepare the answer to request {n}"),
        "agent",
        shape,
        sentence,
    );
    let _ = writeln!(out, "    collects: [amount, notes]\n    due: {due}");

    let _ = writeln!(
        out,
        "  - id: review_{n}\n    title: 'Approve the answer to request {n}'\n    approval: {{by: lead, reviews: [prepare_{n}], on_reject: {rework}}}"
    );

    let _ = writeln!(
        out,
        "  - id: check_{n}\n    decide:\n      - if: amount > {limit}.0\n        goto: audit_{n}\n      - else: close_{n}"
    );

    write_task(
        out,
        &format!("audit_{n}"),
        &format!("Audit the refund of request {n}"),
        "auditor",
        shape,
        sentence,
    );
    let _ = writeln!(out, "    collects: [audited]\n    due: 1w");

    write_task(
        out,
        &format!("close_{n}"),
        &format!("Close request {n}"),
        "agent",
        shape,
        sentence,
    );
    if last {
        out.push_str("    end: true\n");
    }
}
