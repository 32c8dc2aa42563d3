//! `sop report`: an SOP's KPIs and process statistics from the case histories in a store,
//! per period and segment ([`sopflow::metrics`]).
//!
//! Exit codes: 0 when the report was written, 2 for usage, I/O and database errors, 3 when
//! the store or the SOP does not exist.

use std::collections::BTreeMap;
use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sopflow::graph::Process;
use sopflow::metrics::format::{TextFormat, csv, text};
use sopflow::metrics::html::{HtmlContext, html};
use sopflow::metrics::{Accumulator, Options, Period, check_segment};
use sopflow::model::{FieldId, SopId};
use sopflow::store::{AnyStore, BlockingStore, CaseFilter, ReportError, StoreError};

use crate::EXIT_USAGE;

/// Exit code when the store or the SOP is not there.
const EXIT_NOT_FOUND: u8 = 3;

/// Cases read per query: large enough that round trips do not count, small enough that a
/// page of events stays a few megabytes.
const PAGE: u32 = 1_000;

#[derive(clap::Args)]
#[command(
    after_help = "Every figure comes from the events of each case. A report keeps what it \
read from each case's events in the store, so the next one reads that instead until the case \
changes. A case counts in \
the period it was opened in (in the zone of the SOP's calendar, or UTC), and in the segment of \
the value its field holds at the end of its history. Open cases are censored: counted, never \
judged as met or missed.\n\nExit codes: 0 report written, 2 usage, I/O or database error, 3 \
store or SOP not found."
)]
pub struct ReportArgs {
    /// The store: `sqlite:PATH` or `postgres://user:password@host/db`
    #[arg(long, value_name = "URL", default_value = sopflow::store::DEFAULT_URL)]
    db: String,
    /// The SOP to report on (needed when the store holds more than one)
    #[arg(long, value_name = "ID")]
    sop: Option<SopId>,
    /// Only cases opened at or after this day (`2026-03-01`, midnight in the SOP's zone)
    /// or instant (`2026-03-01T08:00:00Z`)
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only cases opened before this day or instant
    #[arg(long, value_name = "WHEN")]
    until: Option<String>,
    /// Group the KPIs by the period cases were opened in
    #[arg(long, value_name = "PERIOD", value_parser = ["day", "week", "month"])]
    by: Option<String>,
    /// Group the KPIs by the value of a choice field (`priority`, `channel`)
    #[arg(long, value_name = "FIELD")]
    segment: Option<FieldId>,
    /// How many of the most frequent paths to list
    #[arg(long, value_name = "N", default_value_t = 10)]
    paths: usize,
    /// `table` for a terminal, `markdown`, `csv` (the KPIs, one row per group), `json`
    /// (everything) or `html` (one page with charts and the flowchart as a heatmap)
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Write the report to this file instead of standard output
    #[arg(short, long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
}

/// How the report is written.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns for a terminal
    Table,
    /// Markdown tables
    Markdown,
    /// The KPIs as CSV, one row per KPI and group
    Csv,
    /// The whole report as one JSON object
    Json,
    /// One self-contained HTML page with charts and the flowchart as a heatmap
    Html,
}

pub(crate) struct Failure {
    pub exit: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: String) -> Failure {
        Failure {
            exit: EXIT_USAGE,
            message,
        }
    }
}

pub fn run(args: &ReportArgs) -> ExitCode {
    match report(args) {
        Ok(written) => match &args.output {
            None => {
                crate::output::stdout(&written);
                ExitCode::SUCCESS
            }
            Some(path) => match std::fs::write(path, &written) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    ExitCode::from(EXIT_USAGE)
                }
            },
        },
        Err(failure) => {
            eprintln!("error: {}", crate::output::printable(&failure.message));
            ExitCode::from(failure.exit)
        }
    }
}

fn store_failure(db: &str, error: StoreError) -> Failure {
    let exit = match error {
        StoreError::NotFound { .. }
        | StoreError::SopNotFound { .. }
        | StoreError::NoStore { .. } => EXIT_NOT_FOUND,
        _ => EXIT_USAGE,
    };
    Failure {
        exit,
        message: format!(
            "{error} (store `{}`)",
            sopflow::store::url_without_password(db)
        ),
    }
}

/// A report read from a store, with the process of every SOP version it covers.
pub(crate) struct Gathered {
    pub report: sopflow::metrics::Report,
    pub processes: BTreeMap<u32, Process>,
}

/// Reads every case of `sop` (or of the only SOP in the store) into a report, with the
/// options `options` makes from the SOP's latest version.
pub(crate) fn gather(
    db: &str,
    sop: Option<&SopId>,
    options: impl FnOnce(&Process) -> Result<Options, Failure>,
) -> Result<Gathered, Failure> {
    let fail = |e| store_failure(db, e);
    let store = BlockingStore::open_existing(db).map_err(fail)?;
    let sop = which_sop(&store, sop).map_err(|message| Failure {
        exit: EXIT_NOT_FOUND,
        message,
    })?;
    let mut processes: BTreeMap<u32, Process> = BTreeMap::new();
    let latest = store
        .sop_versions()
        .map_err(fail)?
        .into_iter()
        .filter(|(id, _)| *id == sop)
        .map(|(_, version)| version)
        .max()
        .ok_or_else(|| Failure {
            exit: EXIT_NOT_FOUND,
            message: format!("SOP `{sop}` has no version in the store"),
        })?;
    let latest_process = store.load_process(&sop, latest).map_err(fail)?;
    let options = options(&latest_process)?;
    processes.insert(latest, latest_process);
    let mut metrics = Accumulator::new(sop.clone(), options);
    let filter = CaseFilter::all().sop(sop.clone()).limit(PAGE);
    let measured = store
        .measure(&filter, &mut metrics, &mut processes)
        .map_err(|error| match error {
            ReportError::Store(error) => fail(error),
            ReportError::Metrics(error) => Failure::usage(error.to_string()),
        })?;
    // Not an error (the figures are right), but the next report will be as slow as this
    // one, and whoever runs it should know why.
    if let Some(reason) = &measured.not_kept {
        eprintln!(
            "note: the facts of {} cases read from their events could not be kept for the next report, which will read their events again: {}",
            measured.from_events.saturating_sub(measured.kept),
            crate::output::printable(reason)
        );
    }
    Ok(Gathered {
        report: metrics.finish(),
        processes,
    })
}

fn report(args: &ReportArgs) -> Result<String, Failure> {
    let Gathered { report, processes } = gather(&args.db, args.sop.as_ref(), |latest_process| {
        if let Some(segment) = &args.segment {
            check_segment(latest_process, segment).map_err(|e| Failure::usage(e.to_string()))?;
        }
        let zone = latest_process.default_calendar().calendar.zone();
        let instant = |text: &Option<String>,
                       what: &str|
         -> Result<Option<DateTime<Utc>>, Failure> {
            let Some(text) = text else { return Ok(None) };
            if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
                return Ok(Some(instant.with_timezone(&Utc)));
            }
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|day| day.and_hms_opt(0, 0, 0))
                .and_then(|midnight| zone.from_local_datetime(&midnight).earliest())
                .map(|local| Some(local.with_timezone(&Utc)))
                .ok_or_else(|| {
                    Failure::usage(format!(
                        "`--{what} {text}` is neither a day (`2026-03-01`) nor an instant (`2026-03-01T08:00:00Z`)"
                    ))
                })
        };
        Ok(Options {
            period: args
                .by
                .as_deref()
                .map(str::parse::<Period>)
                .transpose()
                .map_err(Failure::usage)?,
            segment: args.segment.clone(),
            since: instant(&args.since, "since")?,
            until: instant(&args.until, "until")?,
            variants: args.paths.max(1),
        })
    })?;
    Ok(match args.format {
        ReportFormat::Table => text(&report, TextFormat::Table),
        ReportFormat::Markdown => text(&report, TextFormat::Markdown),
        ReportFormat::Csv => csv(&report),
        ReportFormat::Json => {
            let json = serde_json::to_string_pretty(&report)
                .map_err(|e| Failure::usage(format!("cannot write the report as JSON: {e}")))?;
            format!("{json}\n")
        }
        ReportFormat::Html => {
            let mut filters = Vec::new();
            for (name, value) in [("Since", &args.since), ("Until", &args.until)] {
                if let Some(value) = value {
                    filters.push((name.to_owned(), value.clone()));
                }
            }
            html(&report, &processes, &HtmlContext { filters })
        }
    })
}

/// The SOP asked for, or the only one in the store.
fn which_sop(store: &BlockingStore<AnyStore>, asked: Option<&SopId>) -> Result<SopId, String> {
    let mut ids: Vec<SopId> = store
        .sop_versions()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    ids.dedup();
    let listed = || {
        ids.iter()
            .map(|id| format!("`{id}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match asked {
        Some(sop) if ids.contains(sop) => Ok(sop.clone()),
        Some(sop) if ids.is_empty() => Err(format!(
            "SOP `{sop}` is not in the store, which holds no SOP"
        )),
        Some(sop) => Err(format!(
            "SOP `{sop}` is not in the store; it holds {}",
            listed()
        )),
        None => match ids.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err("the store holds no SOP, so there is nothing to report on".to_owned()),
            _ => Err(format!(
                "the store holds several SOPs ({}): say which with `--sop`",
                listed()
            )),
        },
    }
}
