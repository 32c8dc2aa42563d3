//! A flat CSV event log, one row per log event, quoted as RFC 4180 says (by the `csv`
//! crate): what spreadsheet users and tools that import CSV (Disco, Celonis, PM4Py's
//! `read_csv` with `format_dataframe`) read.

use std::io::Write;

use super::{CaseLog, ExportError, ExportOptions, timestamp};
use crate::engine::{CaseId, Event};
use crate::graph::Process;

/// The header row.
const HEADER: [&str; 15] = [
    "case",
    "activity",
    "timestamp",
    "lifecycle",
    "resource",
    "role",
    "instance",
    "outcome",
    "sla_breached",
    "step",
    "title",
    "sop",
    "sop_version",
    "item",
    "parent_case",
];

/// Writes cases as one CSV event log, streaming: [`CsvWriter::new`] writes the header,
/// each [`write_case`](CsvWriter::write_case) the case's rows, [`finish`](CsvWriter::finish)
/// flushes.
///
/// Columns: `case`, `activity`, `timestamp` (RFC 3339, UTC, milliseconds), `lifecycle`
/// (the XES transition name), `resource`, `role`, `instance` (the step's activation),
/// `outcome`, `sla_breached` (`true`/`false` on the row that ends an instance, empty
/// otherwise), `step`, `title`, `sop`, `sop_version`, `item` (a step run once per item),
/// `parent_case` (the calling case of a sub-case). Rows end with CRLF, and a field is
/// quoted when it holds a comma, a quote or a line break, as RFC 4180 says. Case fields
/// are not columns (each SOP has its own); the XES log carries them.
pub struct CsvWriter<W: Write> {
    csv: ::csv::Writer<W>,
    options: ExportOptions,
}

impl<W: Write> CsvWriter<W> {
    /// Starts a log on `out` with the header row.
    pub fn new(out: W, options: &ExportOptions) -> Result<CsvWriter<W>, ExportError> {
        let mut csv = ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::CRLF)
            .from_writer(out);
        csv.write_record(HEADER).map_err(into_io)?;
        Ok(CsvWriter {
            csv,
            options: options.clone(),
        })
    }

    /// Writes one case's rows: `events` is its whole history, `process` the SOP version it
    /// ran on. Fails like [`super::XesWriter::write_case`], before writing anything.
    pub fn write_case(&mut self, process: &Process, events: &[Event]) -> Result<(), ExportError> {
        let log = CaseLog::new(process, events)?;
        self.write_log(&log)
    }

    /// Writes the rows of a case already read into a [`CaseLog`].
    pub fn write_log(&mut self, log: &CaseLog) -> Result<(), ExportError> {
        let version = log.sop_version.to_string();
        for entry in &log.entries {
            let instance = entry.instance.to_string();
            let at = timestamp(entry.at);
            let row: [&str; 15] = [
                log.case.as_str(),
                entry.activity(self.options.activity),
                &at,
                entry.lifecycle.name(),
                entry.resource.as_ref().map_or("", |r| r.as_str()),
                entry.role.as_ref().map_or("", |r| r.as_str()),
                &instance,
                entry.outcome.map_or("", |o| o.name()),
                match entry.sla_breached {
                    Some(true) => "true",
                    Some(false) => "false",
                    None => "",
                },
                entry.step.as_str(),
                entry.title.as_deref().unwrap_or(""),
                log.sop.as_str(),
                &version,
                entry.item.as_deref().unwrap_or(""),
                log.parent.as_ref().map_or("", CaseId::as_str),
            ];
            self.csv.write_record(row).map_err(into_io)?;
        }
        Ok(())
    }

    /// Flushes and hands back the output.
    pub fn finish(self) -> Result<W, ExportError> {
        self.csv
            .into_inner()
            .map_err(|e| ExportError::Write(e.into_error()))
    }
}

/// The `csv` crate's error for a writer that only writes: always an I/O error.
fn into_io(error: ::csv::Error) -> ExportError {
    match error.into_kind() {
        ::csv::ErrorKind::Io(io) => ExportError::Write(io),
        other => ExportError::Write(std::io::Error::other(format!("{other:?}"))),
    }
}
