//! `sop`: validate, draw and run SOPs. A thin layer over the `sopflow` library: one file
//! per subcommand, each declaring its arguments and calling the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod case;
mod diff;
mod export;
mod graph;
mod output;
mod people;
mod report;
mod simulate;
mod sources;
mod test;
mod validate;

#[derive(Parser)]
#[command(
    name = "sop",
    version,
    about = "Standard operating procedures as executable processes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check SOP files like a compiler: every problem with file:line:column
    Validate(validate::ValidateArgs),
    /// Print the JSON Schema of the SOP format (or of scenario files)
    Schema {
        /// The schema of scenario files (NAME.test.yaml) instead
        #[arg(long)]
        scenarios: bool,
    },
    /// Draw an SOP as a flowchart: Mermaid (for GitHub markdown), Graphviz DOT or SVG
    Graph(graph::GraphArgs),
    /// Compare two versions of an SOP: steps, routing, roles, fields, SLAs and calendars,
    /// then text; exit 1 when something that can affect open cases changed
    Diff(diff::DiffArgs),
    /// Run cases: start, show, complete, approve, … (kept in `--db`, SQLite by default)
    Case(case::CaseArgs),
    /// Write the case histories of a store as an event log for process mining: XES or CSV
    Export(export::ExportArgs),
    /// Keep the directory of people: who may act, with which roles (checked by `sop case --as`)
    People(people::PeopleArgs),
    /// An SOP's KPIs and process statistics from the case histories in a store
    Report(report::ReportArgs),
    /// Check every SOP, then run many simulated cases through one on a store and summarise them
    Simulate(simulate::SimulateArgs),
    /// Run the scenario files (NAME.test.yaml) of SOPs on a virtual clock and report coverage
    Test(test::TestArgs),
}

/// Exit code for usage and I/O errors.
pub(crate) const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match cli.command {
        Command::Schema { scenarios } => {
            output::stdout(&if scenarios {
                sopflow::schema::scenario_schema_json()
            } else {
                sopflow::schema::sop_schema_json()
            });
            ExitCode::SUCCESS
        }
        Command::Validate(args) => validate::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Case(args) => case::run(args),
        Command::Export(args) => export::run(&args),
        Command::People(args) => people::run(args),
        Command::Report(args) => report::run(&args),
        Command::Simulate(args) => simulate::run(args),
        Command::Test(args) => test::run(&args),
    }
}
