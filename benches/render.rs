//! Rendering a compiled process to each flowchart format.
//!
//! Mermaid and DOT are written in one pass over the process and are benched on a generated
//! 10,000-step SOP. The SVG layout (`layout-rs`) grows faster than linearly with the number
//! of nodes (its lowering runs a reachability search for every edge, among others), so SVG
//! is benched at 20 steps (a real SOP's size) and at 200 and 1,000 steps to show the
//! growth: 10,000 steps take minutes per iteration.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sopflow::graph::{Process, compile};
use sopflow::parse::parse_sop;
use sopflow::render::{self, Format};

#[path = "support/generate.rs"]
#[allow(dead_code)]
mod generate;

fn process(steps: usize) -> Process {
    let text = generate::generate_sop(steps);
    let sop = parse_sop("generated.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    compile(&sop)
        .process
        .unwrap_or_else(|| panic!("the generated {steps}-step SOP does not compile"))
}

fn text_formats(c: &mut Criterion) {
    let process = process(10_000);
    let mut group = c.benchmark_group("render 10000 steps");
    group.sample_size(20);
    for format in [Format::Mermaid, Format::Dot] {
        group.bench_function(format.name(), |b| {
            b.iter(|| render::render(black_box(&process), format, None))
        });
    }
    group.finish();
}

fn svg(c: &mut Criterion) {
    let mut group = c.benchmark_group("render svg");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for steps in [20, 200, 1_000] {
        let process = process(steps);
        group.bench_with_input(
            BenchmarkId::from_parameter(steps),
            &process,
            |b, process| b.iter(|| render::svg(black_box(process), None)),
        );
    }
    group.finish();
}

criterion_group!(benches, text_formats, svg);
criterion_main!(benches);
