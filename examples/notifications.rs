//! Delivers notifications the way an app would: the store keeps them with the events, a
//! delivery round hands each to a callback (here it prints an "e-mail"; a real app calls
//! its mail or chat client) and acknowledges what was sent. A failed send stays pending
//! and goes out in the next round: at least once, never lost.
//!
//! One ticket of the customer support process is left unanswered over a working day in
//! Berlin: the agent is reminded, the team leader hears of the breach, and then takes the
//! first response over.
//!
//! Run with `cargo run --example notifications`.

use std::error::Error;

use chrono::{DateTime, TimeZone, Utc};
use sopflow::engine::{Action, Actor, CaseId, Command, FieldValues};
use sopflow::store::{BlockingStore, MemoryStore, Processes, StoredNotification};

fn at(hour: u32, minute: u32) -> Result<DateTime<Utc>, Box<dyn Error>> {
    // Monday 5 January 2026, in UTC (Berlin is an hour ahead).
    Ok(Utc
        .with_ymd_and_hms(2026, 1, 5, hour, minute, 0)
        .single()
        .ok_or("bad time")?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let store = BlockingStore::with(|| async { Ok(MemoryStore::new()) })?;
    let text = std::fs::read_to_string("sops/customer-support-process.yaml")?;
    let process = store.save_sop("sops/customer-support-process.yaml", &text)?;
    let processes = Processes::new();
    processes.insert(process.clone());

    let ana = Actor::new("ana", ["support_agent".parse()?]);
    let case = CaseId::new("T-1");
    let start = Action::Start {
        case: case.clone(),
        fields: FieldValues::new(),
    };
    store.execute(
        &process,
        &case,
        Command::new("start-1", ana, start),
        at(9, 0)?,
    )?;

    // The mail server is down for the first round.
    let mail = |up: bool| {
        move |notification: &StoredNotification| -> Result<(), String> {
            if !up {
                return Err("mail server unreachable".to_owned());
            }
            let n = &notification.notification;
            println!("  mail #{} to {}: {}", notification.id, n.to, n.message);
            Ok(())
        }
    };

    // Time passes; the clock fires what falls due (a real app runs this every minute).
    for (round, (hour, minute)) in [(9, 0), (9, 45), (10, 0), (10, 30)].into_iter().enumerate() {
        let now = at(hour, minute)?;
        store.fire_due_timers(
            &processes,
            "example",
            now,
            chrono::Duration::minutes(1),
            100,
        )?;
        println!("{} UTC", now.format("%H:%M"));
        let delivery = store.deliver_notifications(now, 100, mail(round > 0))?;
        for (id, error) in &delivery.failed {
            println!("  #{id} not sent ({error}); it stays pending");
        }
    }
    let pending = store.pending_notifications(None, 100)?;
    println!("pending after the last round: {}", pending.len());
    Ok(())
}
