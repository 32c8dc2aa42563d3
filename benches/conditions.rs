//! What reading the time costs a decision and a timer: `Condition::evaluate` of a plain
//! comparison against `days_since(delivered_on) <= 30` (which adds the day-counting
//! functions to each evaluation), and `TimerLength::deadline` of a fixed `2bd` against
//! `{ before: start_date, offset: 2bd }` on a Monday-to-Friday 09:00–17:00 Europe/Berlin
//! calendar.
//!
//! Target: a decision that reads the time stays under a few microseconds, well below the
//! cost of appending its event to a store.
//!
//! Measured on a shared two-core machine (release): `priority == "High"` 0.36 µs,
//! `days_since(delivered_on) <= 30` 1.4 µs; a fixed `2bd` deadline 1.1 µs, `2bd before
//! start_date` 3.1 µs (the start of the date's working day, then two business days back).
//!
//! Run with `cargo bench --bench conditions`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use sopflow::calendar::Calendar;
use sopflow::graph::{Condition, NamedCalendar, TimerLength};
use sopflow::model::{
    CalendarSpec, DateSide, FieldId, FieldType, FieldValue, OrderedMap, SopDuration, Spanned,
};

fn field(name: &str) -> FieldId {
    match FieldId::new(name) {
        Ok(id) => id,
        Err(error) => panic!("{name}: {error}"),
    }
}

fn condition(source: &str) -> Condition {
    let types: BTreeMap<FieldId, FieldType> = [
        (field("priority"), FieldType::Choice),
        (field("delivered_on"), FieldType::Date),
    ]
    .into_iter()
    .collect();
    match Condition::compile(source, &types) {
        Ok(condition) => condition.in_zone(chrono_tz::Europe::Berlin),
        Err(problems) => panic!("{source}: {problems:?}"),
    }
}

fn office() -> NamedCalendar {
    let text = |s: &str| Spanned::unlocated(s.to_owned());
    let spec = CalendarSpec {
        zone: text("Europe/Berlin"),
        hours: OrderedMap::from_entries([(
            text("mon-fri"),
            Spanned::unlocated(vec![text("09:00-17:00")]),
        )]),
        holidays: vec![text("every 12-25")],
    };
    match Calendar::compile(&spec) {
        Ok(calendar) => NamedCalendar {
            name: None,
            calendar,
        },
        Err(problems) => panic!("the bench calendar does not compile: {problems:?}"),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .expect("a valid instant")
}

fn evaluate(c: &mut Criterion) {
    let mut group = c.benchmark_group("condition");
    group.measurement_time(Duration::from_secs(3));
    let high = FieldValue::Text("High".to_owned());
    let delivered = FieldValue::Text("2025-12-10".to_owned());
    let plain = condition(r#"priority == "High""#);
    group.bench_function("priority == \"High\"", |b| {
        b.iter(|| plain.evaluate(|_| Some(&high), black_box(now())))
    });
    let dated = condition("days_since(delivered_on) <= 30");
    group.bench_function("days_since(delivered_on) <= 30", |b| {
        b.iter(|| dated.evaluate(|_| Some(&delivered), black_box(now())))
    });
    group.finish();
}

fn deadline(c: &mut Criterion) {
    let mut group = c.benchmark_group("deadline");
    group.measurement_time(Duration::from_secs(3));
    let calendar = office();
    let two_days = SopDuration::from_business_days(2);
    let start = FieldValue::Text("2026-01-19".to_owned());
    let fixed = TimerLength::Fixed(two_days);
    group.bench_function("2bd", |b| {
        b.iter(|| fixed.deadline(&calendar, black_box(now()), |_| Some(&start)))
    });
    let dated = TimerLength::FromDate {
        field: field("start_date"),
        side: DateSide::Before,
        offset: two_days,
    };
    group.bench_function("2bd before start_date", |b| {
        b.iter(|| dated.deadline(&calendar, black_box(now()), |_| Some(&start)))
    });
    group.finish();
}

criterion_group!(benches, evaluate, deadline);
criterion_main!(benches);
