//! How fast YAML text becomes the SOP model: `sopflow::parse::parse_sop` on generated SOPs.
//!
//! Targets: 10,000 steps (about 4 MB) in under 100 ms in release, and ten times the
//! steps costing at most twelve times the time. Throughput is reported in bytes.
//!
//! Run with `cargo bench --bench parse`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

#[path = "support/generate.rs"]
mod generate;

/// Step counts to parse; 10,000 steps is the size the targets are about.
const SIZES: [usize; 2] = [1_000, 10_000];

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_sop");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    for steps in SIZES {
        let text = generate::generate_sop(steps);
        // A benchmark of a parse that fails would measure the error path.
        let sop = sopflow::parse::parse_sop("generated.yaml", &text)
            .unwrap_or_else(|e| panic!("the generated SOP of {steps} steps does not parse: {e}"));
        assert_eq!(sop.steps.len(), steps);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("steps", steps), &text, |b, text| {
            b.iter(|| sopflow::parse::parse_sop("generated.yaml", black_box(text)))
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
