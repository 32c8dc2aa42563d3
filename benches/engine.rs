//! Engine throughput and memory: 100,000 customer-support cases driven end to end in
//! memory, and the memory an open case takes when parked at step 10.
//!
//! Targets: at least 500,000 commands per second on one core; under 4 KiB per open case.
//! The commands are recorded first (by the seeded simulator: 10% of approvals rejected,
//! about half the cases escalated), so the timed part is only `engine::handle` + `apply`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use sopflow::engine::{self, CaseState, Command, EventKind};
use sopflow::graph::Process;
use sopflow::simulate::{Behaviour, Simulator};

/// Counts live heap bytes, to measure what a parked case really holds.
struct CountingAllocator;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const CASES: usize = 100_000;

fn process() -> Process {
    let text = std::fs::read_to_string("sops/customer-support-process.yaml").expect("SOP readable");
    let sop =
        sopflow::parse::parse_sop("customer-support-process.yaml", &text).expect("SOP parses");
    sopflow::graph::compile(&sop).process.expect("SOP compiles")
}

fn opened() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .expect("valid time")
}

/// The commands of `count` simulated cases, each case's commands in order.
fn record(process: &Process, count: usize) -> Vec<Vec<(Command, DateTime<Utc>)>> {
    let mut simulator = Simulator::new(42, Behaviour::default());
    let mut escalated = 0;
    let mut rejected = 0;
    let scripts: Vec<_> = (0..count)
        .map(|i| {
            let mut state = CaseState::new();
            let mut script = Vec::new();
            let mut next = Some(simulator.start(process, &format!("T-{i}"), opened()));
            while let Some(step) = next {
                let events = engine::handle(process, &state, step.command.clone(), step.at).expect("simulated command accepted");
                for event in &events {
                    escalated += usize::from(matches!(&event.kind, EventKind::StepActivated { step, .. } if step.as_str() == "escalate"));
                    rejected += usize::from(matches!(event.kind, EventKind::GateRejected { .. }));
                    state.apply(event);
                }
                script.push((step.command, step.at));
                next = simulator.next(process, &state, step.at);
            }
            script
        })
        .collect();
    let commands: usize = scripts.iter().map(Vec::len).sum();
    eprintln!(
        "recorded {count} cases: {commands} commands ({:.1} per case), {escalated} escalations, {rejected} rejections",
        commands as f64 / count as f64
    );
    scripts
}

/// Drives every case to its end; returns the number of commands handled. Takes the
/// commands by value, as they arrive from a queue or a request, so cloning them is not
/// part of the measurement.
fn drive(process: &Process, scripts: Vec<Vec<(Command, DateTime<Utc>)>>) -> usize {
    let mut handled = 0;
    for script in scripts {
        let mut state = CaseState::new();
        for (command, at) in script {
            let events = engine::handle(process, &state, command, at).expect("accepted");
            for event in &events {
                state.apply(event);
            }
            handled += 1;
        }
        assert_eq!(state.status(), engine::CaseStatus::Closed);
        black_box(&state);
    }
    handled
}

/// Bytes held per open case parked at step 10 (`follow_up` of the customer-support SOP).
fn parked_case_bytes(process: &Process, scripts: &[Vec<(Command, DateTime<Utc>)>]) -> f64 {
    let parked_count = 10_000.min(scripts.len());
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let mut parked: Vec<CaseState> = Vec::with_capacity(parked_count);
    let vec_bytes = parked_count * std::mem::size_of::<CaseState>();
    for script in &scripts[..parked_count] {
        let mut state = CaseState::new();
        for (command, at) in script {
            if state
                .active_steps()
                .iter()
                .any(|a| a.step.as_str() == "follow_up")
            {
                break;
            }
            for event in engine::handle(process, &state, command.clone(), *at).expect("accepted") {
                state.apply(&event);
            }
        }
        parked.push(state);
    }
    let after = LIVE_BYTES.load(Ordering::Relaxed);
    let at_step_10 = parked
        .iter()
        .filter(|s| {
            s.active_steps()
                .iter()
                .any(|a| a.step.as_str() == "follow_up")
        })
        .count();
    assert!(
        at_step_10 * 10 >= parked_count * 9,
        "most cases should park at follow_up"
    );
    let per_case = (after - before) as f64 / parked_count as f64;
    eprintln!(
        "parked {parked_count} cases at step 10: {per_case:.0} bytes per case ({} inline + {:.0} on the heap)",
        std::mem::size_of::<CaseState>(),
        per_case - (vec_bytes / parked_count) as f64
    );
    drop(black_box(parked));
    per_case
}

/// This thread's CPU time (user + system), from `/proc` (Linux; `None` elsewhere).
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn engine_bench(c: &mut Criterion) {
    let process = process();
    let scripts = record(&process, CASES);
    let commands: usize = scripts.iter().map(Vec::len).sum();

    parked_case_bytes(&process, &scripts);

    let copy = scripts.clone();
    let cpu_before = thread_cpu_seconds();
    let started = Instant::now();
    let handled = drive(&process, copy);
    let elapsed = started.elapsed();
    let cpu = thread_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    eprintln!(
        "drove {CASES} cases end to end: {handled} commands in {:.2} s wall = {:.0} commands/s",
        elapsed.as_secs_f64(),
        handled as f64 / elapsed.as_secs_f64()
    );
    if let Some(cpu) = cpu {
        // On a shared machine the wall clock also counts other processes' turns.
        eprintln!(
            "  on-CPU: {cpu:.2} s = {:.0} commands/s on one core",
            handled as f64 / cpu
        );
    }

    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(commands as u64));
    group.bench_function("customer_support_100k_cases", |b| {
        b.iter_batched(
            || scripts.clone(),
            |copy| drive(&process, copy),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, engine_bench);
criterion_main!(benches);
