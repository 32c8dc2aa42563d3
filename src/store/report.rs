//! A store's cases read into a metrics report: from the facts the store keeps where they
//! are current, from the events otherwise, keeping the facts read from those for the next
//! report.

use std::collections::BTreeMap;

use futures_util::future::join;

use super::{CaseFilter, CaseStore, KeptFacts, ReportCase, StoreError};
use crate::graph::Process;
use crate::metrics::{Accumulator, CaseFacts, FACTS_FORMAT, MetricsError};

/// Why a report could not be read from a store.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A case cannot be counted in the report.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

/// Where the cases of a report came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measured {
    /// Cases counted from facts the store kept.
    pub from_facts: u64,
    /// Cases counted from their events.
    pub from_events: u64,
    /// Cases whose facts were kept for the next report.
    pub kept: u64,
    /// Why the store could not keep facts, when it could not: the next report reads
    /// those cases from their events again.
    pub not_kept: Option<String>,
}

/// Counts into `metrics` every case that matches `filter` (which names the SOP `metrics`
/// reports on), a page of `filter.limit` cases at a time (all at once without a limit),
/// with the process of each case's SOP version from `processes`, loading the versions it
/// lacks from the store.
///
/// Each case is counted from the facts the store keeps when they are current
/// ([`CaseStore::report_page`]), and from its events otherwise; the facts read from
/// events are kept ([`CaseStore::keep_facts`]) so that the next report reads one small
/// record for the case instead of its events. The figures are the same either way. A
/// store that cannot keep them (read-only, busy) is not asked again during this report,
/// and the report goes on: kept facts only save time. While one page is counted, the store
/// reads the next.
pub async fn measure<S: CaseStore>(
    store: &S,
    filter: &CaseFilter,
    metrics: &mut Accumulator,
    processes: &mut BTreeMap<u32, Process>,
) -> Result<Measured, ReportError> {
    let mut measured = Measured::default();
    let mut keeping = true;
    let mut filter = filter.clone();
    let mut page = store.report_page(&filter, FACTS_FORMAT).await?;
    while let Some(last) = page.last() {
        for case in &page {
            let summary = case.summary();
            if let std::collections::btree_map::Entry::Vacant(missing) =
                processes.entry(summary.sop_version)
            {
                missing.insert(
                    store
                        .load_process(&summary.sop, summary.sop_version)
                        .await?,
                );
            }
        }
        let paged = filter.limit.is_some();
        filter.after = Some(last.summary().case.clone());
        let next = async {
            if paged {
                store.report_page(&filter, FACTS_FORMAT).await
            } else {
                Ok(Vec::new())
            }
        };
        let count = count_page(store, page, metrics, processes, &mut measured, keeping);
        let (next, counted) = join(next, count).await;
        if let Err(error) = counted? {
            keeping = false;
            measured.not_kept.get_or_insert(error.to_string());
        }
        page = next?;
    }
    Ok(measured)
}

/// Counts one page; `Ok(Err(_))` when the facts read from its events could not be kept.
async fn count_page<S: CaseStore>(
    store: &S,
    page: Vec<ReportCase>,
    metrics: &mut Accumulator,
    processes: &BTreeMap<u32, Process>,
    measured: &mut Measured,
    keeping: bool,
) -> Result<Result<(), StoreError>, ReportError> {
    let mut keep = Vec::new();
    for case in page {
        let version = case.summary().sop_version;
        let Some(process) = processes.get(&version) else {
            // Loaded by the caller for every case of the page.
            continue;
        };
        let (facts, events) = match case {
            ReportCase::Facts { summary, facts } => {
                match CaseFacts::decode(process, facts.format, &facts.text) {
                    Some(facts) => {
                        metrics.push_facts(process, &facts)?;
                        measured.from_facts += 1;
                        continue;
                    }
                    // Unreadable after all (another format): the events say.
                    None => {
                        let events = store.load(&summary.case).await?.events;
                        (CaseFacts::read(process, &events)?, events.len())
                    }
                }
            }
            ReportCase::Events(history) => (
                CaseFacts::read(process, &history.events)?,
                history.events.len(),
            ),
        };
        metrics.push_facts(process, &facts)?;
        measured.from_events += 1;
        if keeping && let Some(text) = facts.encode() {
            keep.push(KeptFacts {
                case: facts.case().clone(),
                seq: events as u64,
                format: FACTS_FORMAT,
                text,
            });
        }
    }
    if keep.is_empty() {
        return Ok(Ok(()));
    }
    let kept = store.keep_facts(&keep).await;
    if kept.is_ok() {
        measured.kept += keep.len() as u64;
    }
    Ok(kept)
}
