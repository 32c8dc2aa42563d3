//! Properties of `sopflow::metrics` over simulated histories of every seed SOP: no time
//! measured inside a case is longer than the case, the groups of a segmented report add
//! up to the report without segments, and facts kept by a store give the figures of the
//! events.

use std::sync::OnceLock;

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use sopflow::engine::Event;
use sopflow::graph::Process;
use sopflow::metrics::{
    Accumulator, CaseFacts, DurationSummary, FACTS_FORMAT, GroupReport, KpiValue, Options, Period,
    Report,
};
use sopflow::simulate::{Behaviour, Simulator, run_case};

/// The seed SOPs that have a choice field to segment by, with that field.
fn processes() -> &'static Vec<(Process, String)> {
    static PROCESSES: OnceLock<Vec<(Process, String)>> = OnceLock::new();
    PROCESSES.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sops");
        let mut found = Vec::new();
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "yaml")
                    && !p.to_string_lossy().ends_with(".test.yaml")
            })
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read(&path).unwrap();
            let process = sopflow::load(&path.to_string_lossy(), &text)
                .process
                .unwrap();
            let choice = process
                .fields()
                .iter()
                .find(|f| f.field_type == sopflow::model::FieldType::Choice)
                .map(|f| f.id.to_string());
            if let Some(choice) = choice {
                found.push((process, choice));
            }
        }
        found
    })
}

/// `cases` simulated histories, each stopped after up to `limits[i]` commands (so some
/// stay open), opened `gaps[i]` hours after the one before.
fn histories(process: &Process, seed: u64, limits: &[usize], gaps: &[i64]) -> Vec<Vec<Event>> {
    let mut at = Utc.with_ymd_and_hms(2026, 3, 20, 7, 0, 0).unwrap();
    limits
        .iter()
        .zip(gaps)
        .enumerate()
        .map(|(i, (&limit, &gap))| {
            at += Duration::hours(gap);
            let mut simulator = Simulator::new(seed ^ (i as u64 * 7919), Behaviour::default());
            run_case(process, &mut simulator, &format!("P-{i}"), at, limit)
                .unwrap()
                .1
        })
        .collect()
}

fn report(process: &Process, histories: &[Vec<Event>], options: Options) -> Report {
    let mut metrics = Accumulator::new(process.id().clone(), options);
    for history in histories {
        metrics.push(process, history).unwrap();
    }
    metrics.finish()
}

fn within(summary: &DurationSummary, limit: f64, what: &str) -> Result<(), TestCaseError> {
    if let Some(max) = summary.max_secs {
        prop_assert!(
            max <= limit + 1e-6,
            "{what}: {max} s > the case's {limit} s"
        );
    }
    if let Some(max) = summary.working_median_secs {
        prop_assert!(max <= limit + 1e-6, "{what} (working): {max} s > {limit} s");
    }
    Ok(())
}

/// The counts of a group that must add up over groups.
fn counts(group: &GroupReport) -> Vec<u64> {
    let mut out = vec![group.cases, group.closed, group.cancelled, group.open];
    out.push(group.resolution.count);
    for kpi in &group.kpis {
        match &kpi.value {
            KpiValue::Duration {
                times,
                within_target,
                censored,
                not_reached,
                ..
            } => out.extend([
                times.count,
                within_target.unwrap_or(0),
                *censored,
                *not_reached,
            ]),
            KpiValue::Mean { responses, .. } => out.push(*responses),
            KpiValue::Nps {
                promoters,
                passives,
                detractors,
                ..
            } => out.extend([*promoters, *passives, *detractors]),
            KpiValue::Sla {
                met,
                breached,
                censored,
                ..
            } => out.extend([*met, *breached, *censored]),
            KpiValue::Rate {
                took,
                cases,
                censored,
                ..
            } => out.extend([*took, *cases, *censored]),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn times_inside_a_case_never_exceed_the_case(
        sop in 0..processes().len(),
        seed in any::<u64>(),
        limit in 3usize..80,
    ) {
        let (process, _) = &processes()[sop];
        let history = &histories(process, seed, &[limit], &[0])[0];
        let opened = history[0].at;
        let last = history.iter().map(|e| e.at).max().unwrap();
        let length = (last - opened).num_milliseconds() as f64 / 1000.0;
        let report = report(process, std::slice::from_ref(history), Options::default());
        let version = &report.versions[0];
        within(&version.total.resolution, length, "resolution")?;
        for step in &version.steps {
            within(&step.waiting, length, &format!("{} waiting", step.step))?;
            within(&step.working, length, &format!("{} working", step.step))?;
            within(&step.active, length, &format!("{} active", step.step))?;
        }
        for kpi in &version.total.kpis {
            if let KpiValue::Duration { times, .. } = &kpi.value {
                within(times, length, kpi.id.as_str())?;
            }
        }
        for variant in &version.variants {
            within(&variant.duration, length, "path")?;
        }
    }

    #[test]
    fn segments_and_periods_add_up_to_the_whole(
        sop in 0..processes().len(),
        seed in any::<u64>(),
        cases in prop::collection::vec((3usize..80, 0i64..40), 1..25),
        by_week in any::<bool>(),
    ) {
        let (process, choice) = &processes()[sop];
        let (limits, gaps): (Vec<usize>, Vec<i64>) = cases.into_iter().unzip();
        let histories = histories(process, seed, &limits, &gaps);
        let whole = report(process, &histories, Options::default());
        let grouped = report(process, &histories, Options {
            segment: Some(choice.parse().unwrap()),
            period: by_week.then_some(Period::Week),
            ..Options::default()
        });
        let total = counts(&whole.versions[0].total);
        prop_assert_eq!(&counts(&grouped.versions[0].total), &total);
        let mut summed = vec![0; total.len()];
        for group in &grouped.versions[0].groups {
            for (sum, n) in summed.iter_mut().zip(counts(group)) {
                *sum += n;
            }
        }
        prop_assert_eq!(summed, total);
        // Steps, edges and paths do not depend on the grouping.
        prop_assert_eq!(&grouped.versions[0].steps, &whole.versions[0].steps);
        prop_assert_eq!(&grouped.versions[0].edges, &whole.versions[0].edges);
    }

    #[test]
    fn kept_facts_give_the_figures_of_the_events(
        sop in 0..processes().len(),
        seed in any::<u64>(),
        cases in prop::collection::vec((3usize..80, 0i64..40), 1..25),
        by_week in any::<bool>(),
    ) {
        let (process, choice) = &processes()[sop];
        let (limits, gaps): (Vec<usize>, Vec<i64>) = cases.into_iter().unzip();
        let histories = histories(process, seed, &limits, &gaps);
        let options = Options {
            segment: Some(choice.parse().unwrap()),
            period: by_week.then_some(Period::Week),
            ..Options::default()
        };
        let from_events = report(process, &histories, options.clone());
        let mut metrics = Accumulator::new(process.id().clone(), options);
        for history in &histories {
            let facts = CaseFacts::read(process, history).unwrap();
            let text = facts.encode().unwrap();
            let kept = CaseFacts::decode(process, FACTS_FORMAT, &text).unwrap();
            prop_assert_eq!(&kept, &facts);
            metrics.push_facts(process, &kept).unwrap();
        }
        prop_assert_eq!(metrics.finish(), from_events);
    }
}
