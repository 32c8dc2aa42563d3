//! Embeds the engine: loads every SOP in `sops/`, runs one ticket through the customer
//! support process with a simulated team, and prints the ticket's trail.
//!
//! Run with `cargo run --example one_ticket`.

use std::error::Error;

use chrono::{TimeZone, Utc};
use sopflow::diagnostic::{SourceFile, render_human};
use sopflow::engine::{self, CaseState};
use sopflow::graph::Process;
use sopflow::simulate::{Behaviour, Simulator};

fn load(path: &str) -> Result<Process, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)?;
    let sop = sopflow::parse::parse_sop(path, &text)?;
    let compilation = sopflow::graph::compile(&sop);
    compilation.process.ok_or_else(|| {
        let source = SourceFile::new(path, text);
        render_human(&source, &compilation.diagnostics, false).into()
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let process = load("sops/customer-support-process.yaml")?;
    println!(
        "{} (v{}), {} roles",
        process.title(),
        process.version(),
        process.roles().len()
    );

    let mut simulator = Simulator::new(2026, Behaviour::default());
    let opened = Utc
        .with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .ok_or("bad start time")?;
    let mut case = CaseState::new();
    let mut trail = Vec::new();
    let mut next = Some(simulator.start(&process, "T-1001", opened));
    while let Some(step) = next {
        let events = engine::handle(&process, &case, step.command, step.at)?;
        for event in &events {
            case.apply(event);
        }
        trail.extend(events);
        if let Some(item) = engine::work_items(&process, &case).first() {
            println!(
                "  next: {} ({})",
                item.title,
                item.role.as_ref().map_or("-", |r| r.as_str())
            );
        }
        next = simulator.next(&process, &case, step.at);
    }

    println!("\nTrail of {}:", case.case().map_or("?", |c| c.as_str()));
    for event in &trail {
        println!("  {}", engine::describe(event));
    }
    println!("\nStatus: {:?} after {} events", case.status(), trail.len());
    Ok(())
}
