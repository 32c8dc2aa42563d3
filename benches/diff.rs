//! What `sop diff` costs beyond reading the two files: `versions::diff` on the largest seed
//! SOP against its revision (`tests/fixtures/revisions/`), and on a generated 1,000-step SOP
//! against a copy with every one-hour due time tightened, a title reworded and a step
//! renamed (`renamed_from`). `report` adds the human rendering, `overlay` the chart
//! overlay of the new version.
//!
//! Run with `cargo bench --bench diff`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sopflow::versions::{Revision, diff};

#[path = "support/generate.rs"]
mod generate;

fn load(name: &str, text: &str) -> Revision {
    match Revision::load(name, text.as_bytes()) {
        Ok(revision) => revision,
        Err(invalid) => panic!("{invalid}: {:?}", invalid.diagnostics),
    }
}

fn read(relative: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The generated SOP and a revision of it: due times, a title and one rename.
fn generated_pair(steps: usize) -> (String, String) {
    let old = generate::generate_sop(steps);
    // `close_100` is no prefix of another id below 1,000 steps (111 cases).
    let renamed = "close_hundred";
    let new = old
        .replacen("version: 1\n", "version: 2\n", 1)
        .replace("due: 1h\n", "due: 45m\n")
        .replace("Approve the answer", "Approve the reply")
        .replace("close_100", renamed)
        .replacen(
            &format!("  - id: {renamed}\n"),
            &format!("  - id: {renamed}\n    renamed_from: close_100\n"),
            1,
        );
    (old, new)
}

fn bench(c: &mut Criterion) {
    let pairs = [
        (
            "customer-support-process",
            load(
                "sops/customer-support-process.yaml",
                &read("sops/customer-support-process.yaml"),
            ),
            load(
                "customer-support-process.v4.yaml",
                &read("tests/fixtures/revisions/customer-support-process.v4.yaml"),
            ),
        ),
        {
            let (old, new) = generated_pair(1_000);
            (
                "generated-1000",
                load("old.yaml", &old),
                load("new.yaml", &new),
            )
        },
    ];
    let mut group = c.benchmark_group("diff");
    for (name, old, new) in &pairs {
        let changes = diff(&old.sop, &new.sop);
        assert!(changes.has_behaviour_changes(), "{name}");
        eprintln!("{name}: {} changes", changes.changes.len());
        group.bench_function(format!("diff/{name}"), |b| {
            b.iter(|| diff(black_box(&old.sop), black_box(&new.sop)))
        });
        group.bench_function(format!("report/{name}"), |b| {
            b.iter(|| diff(&old.sop, &new.sop).render_human("old.yaml", "new.yaml"))
        });
        group.bench_function(format!("overlay/{name}"), |b| {
            b.iter(|| changes.overlay(&old.sop, &new.sop, &new.process))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
