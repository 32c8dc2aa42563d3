//! How fast `sop test` proves the SOP library: every scenario file in `sops/`, and a
//! generated file of over a thousand scenarios (the customer support scenarios repeated
//! under new names), parsed, checked against the SOP and run on the virtual clock.
//!
//! Target: the whole library's scenarios well under a second.
//!
//! Run with `cargo bench --bench scenarios`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sopflow::graph::Process;
use sopflow::scenario;

/// Every `sops/NAME.yaml` with its `NAME.test.yaml`, compiled and read.
fn library() -> Vec<(Process, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sops");
    let mut pairs = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("sops/ is readable")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(scenario::SUFFIX))
        .collect();
    entries.sort();
    for tests in entries {
        let name = tests.to_string_lossy().into_owned();
        let sop_path = name.replace(scenario::SUFFIX, ".yaml");
        let sop_text = std::fs::read_to_string(&sop_path).expect("the SOP is readable");
        let sop = sopflow::parse::parse_sop(&sop_path, &sop_text).expect("the SOP parses");
        let process = sopflow::graph::compile(&sop)
            .process
            .expect("the SOP compiles");
        let text = std::fs::read_to_string(&tests).expect("the scenario file is readable");
        pairs.push((process, name, text));
    }
    pairs
}

/// Parses, checks and runs one scenario file; the number of scenarios that passed.
fn prove(process: &Process, name: &str, text: &str) -> usize {
    let file = scenario::parse(name, text).expect("the scenario file parses");
    assert!(
        scenario::check(process, &file).is_empty(),
        "{name} has errors"
    );
    let outcomes = scenario::run(process, &file);
    let coverage = scenario::Coverage::of(process, &outcomes);
    black_box(coverage);
    outcomes.iter().filter(|o| o.failure.is_none()).count()
}

/// The customer support scenarios repeated `copies` times, each copy under new names.
fn repeated(text: &str, copies: usize) -> String {
    let (head, scenarios) = text
        .split_once("scenarios:\n")
        .expect("the file lists scenarios");
    let mut out = format!("{head}scenarios:\n");
    for copy in 0..copies {
        out.push_str(&scenarios.replace("  - name: ", &format!("  - name: Copy {copy} of ")));
    }
    out
}

fn bench(c: &mut Criterion) {
    let library = library();
    let scenarios: usize = library
        .iter()
        .map(|(process, name, text)| prove(process, name, text))
        .sum();
    let (support, name, text) = library
        .iter()
        .find(|(process, _, _)| process.id().as_str() == "customer-support")
        .expect("the customer support process has scenarios");
    let per_copy = prove(support, name, text);
    let big = repeated(text, 1_000_usize.div_ceil(per_copy));
    let big_count = prove(support, "generated.test.yaml", &big);
    assert!(big_count >= 1_000, "{big_count} scenarios");

    let mut group = c.benchmark_group("scenarios");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(scenarios as u64));
    group.bench_function("every_sop_in_the_library", |b| {
        b.iter(|| {
            library
                .iter()
                .map(|(process, name, text)| prove(process, name, text))
                .sum::<usize>()
        })
    });
    group.throughput(Throughput::Elements(big_count as u64));
    group.bench_function("generated_file_of_1000_scenarios", |b| {
        b.iter(|| prove(support, "generated.test.yaml", black_box(&big)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
