//! A metrics [`VersionReport`] drawn over its process: the heatmap of where cases spend
//! their time or miss their service levels, and which ways they go.

use super::format::duration;
use super::report::VersionReport;
use crate::graph::Process;
use crate::render::{Heat, HeatError};

/// What colours the steps of a heatmap from a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HeatBy {
    /// The median time a step is active (activated until it stops being active), scaled
    /// so the slowest step is the hottest.
    #[default]
    Time,
    /// The share of a step's activations with a service level that breached it, from 0%
    /// (coolest) to 100% (hottest).
    Breaches,
}

impl std::str::FromStr for HeatBy {
    type Err = String;
    fn from_str(text: &str) -> Result<HeatBy, String> {
        match text {
            "time" => Ok(HeatBy::Time),
            "breaches" => Ok(HeatBy::Breaches),
            other => Err(format!(
                "`{other}` is not a heat measure: use `time` or `breaches`"
            )),
        }
    }
}

/// The heatmap of one SOP version's report over `process` (the same version): steps
/// coloured by `by`, each labelled with its figure (`median 2h 10m`, `12% breached`),
/// and edges drawn by how often cases took them. Steps without data (never activated,
/// or without a service level when coloured by breaches) are drawn as having none.
///
/// Fails when the report names a step `process` does not have: the report is of another
/// SOP version.
pub fn heat_from_report(
    process: &Process,
    version: &VersionReport,
    by: HeatBy,
) -> Result<Heat, HeatError> {
    let heat = match by {
        HeatBy::Time => {
            let slowest = version
                .steps
                .iter()
                .filter_map(|s| s.active.median_secs)
                .fold(0.0_f64, f64::max);
            let values = version.steps.iter().filter_map(|step| {
                let median = step.active.median_secs?;
                // With every median at zero there is no slowest step: all are equally cool.
                let value = if slowest > 0.0 {
                    (median / slowest).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                Some((
                    step.step.clone(),
                    value,
                    format!("median {}", duration(median)),
                ))
            });
            Heat::from_step_values(process, "median time active", values)?
                .with_scale("0", format!("{} (slowest)", duration(slowest)))
        }
        HeatBy::Breaches => {
            let values = version.steps.iter().filter_map(|step| {
                let rate = step.breach_rate?;
                Some((
                    step.step.clone(),
                    rate.clamp(0.0, 1.0),
                    format!("{:.0}% breached", rate * 100.0),
                ))
            });
            Heat::from_step_values(process, "service levels breached", values)?
                .with_scale("0%", "100%")
        }
    };
    Ok(heat.with_edge_counts(
        version
            .edges
            .iter()
            .map(|edge| (edge.transition, edge.taken)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measure_reads_from_its_name() {
        assert_eq!("time".parse::<HeatBy>(), Ok(HeatBy::Time));
        assert_eq!("breaches".parse::<HeatBy>(), Ok(HeatBy::Breaches));
        assert_eq!(
            "speed".parse::<HeatBy>(),
            Err("`speed` is not a heat measure: use `time` or `breaches`".to_owned())
        );
    }
}
