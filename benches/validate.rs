//! What `sop validate` costs per file: `sopflow::check` (parse, compile, every lint) on
//! generated SOPs with decisions, approvals and rework loops, and the two halves apart
//! (`parse_sop` alone, `graph::compile` with its lints alone) to show where time goes.
//!
//! Targets: 10,000 steps checked in under 150 ms in release, and 100,000 steps in at most
//! twelve times that (no stage may be quadratic). Throughput is reported in bytes.
//!
//! The parser refuses documents of more than 250,000 YAML nodes (the default budget of
//! `serde-saphyr`), about 16,000 generated steps. Until it accepts larger SOPs, sizes it
//! refuses are skipped in the `check` and `parse` groups (with a note on stderr), and
//! `compile_and_lint` gets its 100,000-step model by parsing whole cases in chunks and
//! joining their steps, so the lints' scaling is measured all the same.
//!
//! Run with `cargo bench --bench validate`; `cargo bench --bench validate -- check/` runs
//! the end-to-end group only.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, measurement::WallTime};
use criterion::{criterion_group, criterion_main};
use sopflow::diagnostic::{Code, SourceFile, render_human};
use sopflow::model::Sop;

#[path = "support/generate.rs"]
mod generate;

/// Step counts; the targets are about 10,000 and the ratio of 100,000 to it.
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// Generated SOPs by size. Each is checked to be free of errors (a benchmark of the
/// error path would measure something else); `None` when the parser refuses it whole.
fn sources() -> Vec<(usize, SourceFile, Option<Sop>)> {
    SIZES
        .iter()
        .map(|&steps| {
            let source = SourceFile::new(
                format!("generated-{steps}.yaml"),
                generate::generate_sop(steps),
            );
            let diagnostics = sopflow::check(&source);
            assert!(
                diagnostics.iter().all(|d| !d.is_error())
                    || diagnostics.iter().all(|d| d.code == Code::InputLimit),
                "the generated SOP of {steps} steps has errors:\n{}",
                render_human(&source, &diagnostics, false)
            );
            let sop = sopflow::parse::parse_sop(&source.name, &source.text).ok();
            if sop.is_none() {
                eprintln!(
                    "note: the parser refuses the SOP of {steps} steps ({}); skipping it in `check` and `parse`",
                    diagnostics[0].message
                );
            }
            (steps, source, sop)
        })
        .collect()
}

/// The SOP model of `text` by parsing its steps in chunks of whole cases (each under the
/// parser's node budget) below the same header, then joining them. Positions in spans are
/// relative to each chunk, which the compiler does not mind.
fn parse_in_chunks(text: &str) -> Sop {
    const CHUNK_STEPS: usize = 9_000;
    let body_start = text.find("\nsteps:\n").expect("a `steps:` key") + "\nsteps:\n".len();
    let (header, body) = text.split_at(body_start);
    let mut joined: Option<Sop> = None;
    let mut chunk = String::new();
    let mut chunk_steps = 0;
    let mut flush = |chunk: &mut String| {
        let part = sopflow::parse::parse_sop("chunk.yaml", &format!("{header}{chunk}"))
            .unwrap_or_else(|e| panic!("a chunk does not parse: {e}"));
        match &mut joined {
            Some(sop) => sop.steps.extend(part.steps),
            None => joined = Some(part),
        }
        chunk.clear();
    };
    for line in body.split_inclusive('\n') {
        if let Some(id) = line.strip_prefix("  - id: ") {
            // Cases start at `receive_N`; rework loops never cross them.
            if id.starts_with("receive_") && chunk_steps >= CHUNK_STEPS {
                flush(&mut chunk);
                chunk_steps = 0;
            }
            chunk_steps += 1;
        }
        chunk.push_str(line);
    }
    flush(&mut chunk);
    joined.expect("at least one chunk")
}

/// Few samples for the large SOP: one check of 100,000 steps takes a good fraction of a second.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, steps: usize, bytes: usize) {
    group.throughput(Throughput::Bytes(bytes as u64));
    if steps >= 100_000 {
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(20));
    } else {
        group.sample_size(20);
        group.measurement_time(Duration::from_secs(8));
    }
}

fn validate(c: &mut Criterion) {
    let sources = sources();

    let mut group = c.benchmark_group("check");
    for (steps, source, sop) in &sources {
        if sop.is_none() {
            continue;
        }
        configure(&mut group, *steps, source.text.len());
        group.bench_with_input(BenchmarkId::new("steps", steps), source, |b, source| {
            b.iter(|| sopflow::check(black_box(source)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("parse");
    for (steps, source, sop) in &sources {
        if sop.is_none() {
            continue;
        }
        configure(&mut group, *steps, source.text.len());
        group.bench_with_input(BenchmarkId::new("steps", steps), source, |b, source| {
            b.iter(|| sopflow::parse::parse_sop(&source.name, black_box(&source.text)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("compile_and_lint");
    for (steps, source, sop) in sources {
        let sop = sop.unwrap_or_else(|| parse_in_chunks(&source.text));
        assert_eq!(sop.steps.len(), steps);
        let compilation = sopflow::graph::compile(&sop);
        assert!(
            compilation.process.is_some(),
            "{steps} steps: {:?}",
            compilation.diagnostics.first()
        );
        configure(&mut group, steps, source.text.len());
        group.bench_with_input(BenchmarkId::new("steps", steps), &sop, |b, sop| {
            b.iter(|| sopflow::graph::compile(black_box(sop)))
        });
    }
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
