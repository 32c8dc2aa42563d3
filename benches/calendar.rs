//! What an SLA timer costs in a working-hours calendar: `Calendar::add` of 4 hours and
//! `add_business_days` of one day, and `working_between` over a working week, on a
//! Monday-to-Friday 09:00–17:00 Europe/Berlin calendar with ten holidays, from 4,096
//! instants spread over 2026 (nights, weekends, holidays and both clock changes included).
//!
//! A last group times a year of full-time work (2,000 hours), which walks the calendar
//! one day at a time.
//!
//! Target: at least 1,000,000 `add` calls per second on one core. Throughput is reported
//! in calls: criterion's `elem/s` is calls per second.
//!
//! Run with `cargo bench --bench calendar`.

use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sopflow::calendar::Calendar;
use sopflow::model::{CalendarSpec, OrderedMap, Spanned};

const CALLS: usize = 4096;

fn office_calendar() -> Calendar {
    let text = |s: &str| Spanned::unlocated(s.to_owned());
    let spec = CalendarSpec {
        zone: text("Europe/Berlin"),
        hours: OrderedMap::from_entries([(
            text("mon-fri"),
            Spanned::unlocated(vec![text("09:00-17:00")]),
        )]),
        holidays: [
            "every 01-01",
            "2026-04-03",
            "2026-04-06",
            "every 05-01",
            "2026-05-14",
            "2026-05-25",
            "every 10-03",
            "every 12-24",
            "every 12-25",
            "every 12-26",
        ]
        .into_iter()
        .map(text)
        .collect(),
    };
    match Calendar::compile(&spec) {
        Ok(calendar) => calendar,
        Err(problems) => panic!("the bench calendar does not compile: {problems:?}"),
    }
}

/// Instants spread over 2026 by a fixed linear congruential sequence, to the second.
fn starts() -> Vec<DateTime<Utc>> {
    let year_start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date");
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..CALLS)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let second = (state >> 33) % (365 * 86_400);
            year_start + TimeDelta::seconds(second as i64)
        })
        .collect()
}

fn calendar_bench(c: &mut Criterion) {
    let calendar = office_calendar();
    let starts = starts();
    let mut group = c.benchmark_group("calendar");
    group.throughput(Throughput::Elements(CALLS as u64));
    group.measurement_time(Duration::from_secs(5));

    group.bench_function("add_4h", |b| {
        b.iter(|| {
            for &start in &starts {
                black_box(calendar.add(black_box(start), TimeDelta::hours(4)));
            }
        })
    });
    group.bench_function("add_1_business_day", |b| {
        b.iter(|| {
            for &start in &starts {
                black_box(calendar.add_business_days(black_box(start), 1));
            }
        })
    });
    group.bench_function("working_between_7_days", |b| {
        b.iter(|| {
            for &start in &starts {
                black_box(calendar.working_between(black_box(start), start + TimeDelta::days(7)));
            }
        })
    });
    group.bench_function("always_add_4h", |b| {
        let always = Calendar::always();
        b.iter(|| {
            for &start in &starts {
                black_box(always.add(black_box(start), TimeDelta::hours(4)));
            }
        })
    });
    group.finish();

    // Long timers walk the calendar day by day: a year of full-time work (2,000 hours).
    let mut long = c.benchmark_group("calendar_long");
    let few = &starts[..64];
    long.throughput(Throughput::Elements(few.len() as u64));
    long.measurement_time(Duration::from_secs(5));
    long.bench_function("add_2000h", |b| {
        b.iter(|| {
            for &start in few {
                black_box(calendar.add(black_box(start), TimeDelta::hours(2000)));
            }
        })
    });
    long.finish();
}

criterion_group!(benches, calendar_bench);
criterion_main!(benches);
