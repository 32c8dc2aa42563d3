//! `sop export`: the case histories of a store as an event log for process-mining tools,
//! XES or CSV (see `sopflow::export`). Cases are listed a page at a time and read one by
//! one, so memory stays that of one case however large the store.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use sopflow::engine::{CaseId, EventKind};
use sopflow::export::{ActivityName, CsvWriter, ExportError, ExportOptions, XesWriter};
use sopflow::graph::Process;
use sopflow::model::SopId;
use sopflow::store::{BlockingStore, CaseFilter, StoreError};

use crate::EXIT_USAGE;

/// Exit code when the store does not exist.
const EXIT_NOT_FOUND: u8 = 3;

/// Cases listed per page.
const PAGE: u32 = 500;

#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 written, 2 usage, I/O or store error, 3 no store at --db.\n\n\
Each case is one trace (XES) or its rows (CSV); each step activation gives its lifecycle \
transitions: schedule, assign, reassign, complete, withdraw, pi_abort. See docs/export.md."
)]
pub struct ExportArgs {
    /// The store: `sqlite:PATH` or `postgres://user:password@host/db`
    #[arg(long, value_name = "URL", default_value = sopflow::store::DEFAULT_URL)]
    db: String,
    /// Only cases on this SOP (any version)
    #[arg(long, value_name = "ID")]
    sop: Option<String>,
    /// Only cases opened at or after this time: RFC 3339 (`2026-01-05T09:00:00Z`) or a
    /// date (`2026-01-05`, midnight UTC)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only cases opened before this time: RFC 3339 or a date (midnight UTC, excluded)
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// `xes` (IEEE 1849-2016) or `csv` (one row per event)
    #[arg(long, value_enum, default_value_t = LogFormat::Xes)]
    format: LogFormat,
    /// What names an activity: the step `id` (stable across versions) or its `title`
    #[arg(long, value_enum, default_value_t = Activity::Id)]
    activity: Activity,
    /// Write the log to this file (replaced only once the whole log is written) instead
    /// of standard output
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// XES, the IEEE 1849-2016 event log format
    Xes,
    /// A flat CSV event log, RFC 4180
    Csv,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Activity {
    /// The step id
    Id,
    /// The step title
    Title,
}

/// Why the export stopped, with the exit code it means (0: the reader of standard output
/// went away, which ends the export quietly).
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: String) -> Failure {
        Failure {
            code: EXIT_USAGE,
            message,
        }
    }
}

/// Either writer, so the loop over cases is written once.
enum LogWriter<W: Write> {
    Xes(XesWriter<W>),
    Csv(Box<CsvWriter<W>>),
}

impl<W: Write> LogWriter<W> {
    fn write_case(
        &mut self,
        process: &Process,
        events: &[sopflow::engine::Event],
    ) -> Result<(), ExportError> {
        match self {
            LogWriter::Xes(w) => w.write_case(process, events),
            LogWriter::Csv(w) => w.write_case(process, events),
        }
    }

    fn finish(self) -> Result<W, ExportError> {
        match self {
            LogWriter::Xes(w) => w.finish(),
            LogWriter::Csv(w) => w.finish(),
        }
    }
}

/// `sop export`.
pub fn run(args: &ExportArgs) -> ExitCode {
    match export(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn export(args: &ExportArgs) -> Result<(), Failure> {
    let sop = args
        .sop
        .as_deref()
        .map(|s| SopId::new(s).map_err(|e| Failure::usage(format!("--sop `{s}`: {e}"))))
        .transpose()?;
    let since = args
        .since
        .as_deref()
        .map(|t| parse_time("--since", t))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|t| parse_time("--until", t))
        .transpose()?;
    let store_name = sopflow::store::url_without_password(&args.db);
    let store_failure = |error: StoreError| Failure {
        code: if matches!(error, StoreError::NoStore { .. }) {
            EXIT_NOT_FOUND
        } else {
            EXIT_USAGE
        },
        message: format!("{error} (store `{store_name}`)"),
    };
    let store = BlockingStore::open_existing(&args.db).map_err(store_failure)?;
    let options = ExportOptions {
        activity: match args.activity {
            Activity::Id => ActivityName::StepId,
            Activity::Title => ActivityName::Title,
        },
        log_name: sop
            .as_ref()
            .map_or_else(|| "sopflow".to_owned(), |s| s.to_string()),
    };
    let selection = Selection { sop, since, until };

    match &args.output {
        None => {
            let out = BufWriter::new(std::io::stdout().lock());
            match write_log(&store, &selection, args.format, &options, out) {
                // The reader went away (`sop export | head`): not an error.
                Err(Failure { code: 0, .. }) => Ok(()),
                other => other.map(|_| ()),
            }
        }
        Some(path) => {
            let partial = partial_path(path);
            let file = File::create(&partial)
                .map_err(|e| Failure::usage(format!("cannot write {}: {e}", partial.display())))?;
            let written = write_log(
                &store,
                &selection,
                args.format,
                &options,
                BufWriter::new(file),
            );
            let written = written.and_then(|summary| {
                std::fs::rename(&partial, path)
                    .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?;
                Ok(summary)
            });
            match written {
                Ok(cases) => {
                    eprintln!("exported {cases} cases to {}", path.display());
                    Ok(())
                }
                Err(failure) => {
                    let _ = std::fs::remove_file(&partial);
                    Err(failure)
                }
            }
        }
    }
}

/// Which cases go into the log.
struct Selection {
    sop: Option<SopId>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

/// Writes every selected case; returns how many were written.
fn write_log<W: Write>(
    store: &BlockingStore,
    selection: &Selection,
    format: LogFormat,
    options: &ExportOptions,
    out: W,
) -> Result<usize, Failure> {
    let write_failure = |error: ExportError| match &error {
        ExportError::Write(io) if io.kind() == std::io::ErrorKind::BrokenPipe => Failure {
            code: 0,
            message: String::new(),
        },
        _ => Failure::usage(error.to_string()),
    };
    let store_failure = |error: StoreError| Failure::usage(error.to_string());
    let mut writer = match format {
        LogFormat::Xes => LogWriter::Xes(XesWriter::new(out, options).map_err(write_failure)?),
        LogFormat::Csv => LogWriter::Csv(Box::new(
            CsvWriter::new(out, options).map_err(write_failure)?,
        )),
    };
    let mut processes: HashMap<(SopId, u32), Process> = HashMap::new();
    let mut after: Option<CaseId> = None;
    let mut written = 0;
    loop {
        let mut filter = CaseFilter::all().limit(PAGE);
        if let Some(sop) = &selection.sop {
            filter = filter.sop(sop.clone());
        }
        if let Some(after) = after.take() {
            filter = filter.after(after);
        }
        let page = store.list(&filter).map_err(store_failure)?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.case.clone());
        for summary in &page {
            // A case last changed before `--since` was opened before it too: not read.
            if selection
                .since
                .is_some_and(|since| summary.updated_at < since)
            {
                continue;
            }
            let case = store.load(&summary.case).map_err(store_failure)?;
            let opened = match case.events.first() {
                Some(event) if matches!(event.kind, EventKind::CaseStarted { .. }) => event.at,
                _ => continue,
            };
            if selection.since.is_some_and(|since| opened < since)
                || selection.until.is_some_and(|until| opened >= until)
            {
                continue;
            }
            let key = (summary.sop.clone(), summary.sop_version);
            if !processes.contains_key(&key) {
                let process = store.load_process(&key.0, key.1).map_err(store_failure)?;
                processes.insert(key.clone(), process);
            }
            if let Some(process) = processes.get(&key) {
                writer
                    .write_case(process, &case.events)
                    .map_err(write_failure)?;
                written += 1;
            }
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    writer.finish().map_err(write_failure)?;
    Ok(written)
}

/// `FILE.partial` beside `FILE`: the log is written there and renamed when complete, so an
/// interrupted export never leaves a truncated log under the name asked for.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    path.with_file_name(name)
}

/// An RFC 3339 time, or a date taken as midnight UTC.
fn parse_time(option: &str, text: &str) -> Result<DateTime<Utc>, Failure> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc())
        .ok_or_else(|| {
            Failure::usage(format!(
                "{option} `{text}` is neither an RFC 3339 time like 2026-01-05T09:00:00Z nor a date like 2026-01-05"
            ))
        })
}
