//! `sop`: validate, draw and run SOPs. A thin layer over the `sopflow` library: one file
//! per subcommand, each declaring its arguments and calling the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod case;
mod graph;
mod simulate;
mod sources;
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
    Validate(ValidateArgs),
    /// Print the JSON Schema of the SOP format
    Schema,
    /// Draw an SOP as a flowchart: Mermaid (for GitHub markdown), Graphviz DOT or SVG
    Graph {
        /// The SOP file; `-` reads standard input
        file: PathBuf,
        /// Output format
        #[arg(long, default_value = "mermaid", value_parser = ["mermaid", "dot", "svg"])]
        format: String,
        /// Write the chart to this file instead of standard output
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Run cases: start, show, complete, approve, … (kept in `--db`, SQLite by default)
    Case(case::CaseArgs),
    /// Check every SOP, then run many simulated cases through one on a store and summarise them
    Simulate(simulate::SimulateArgs),
}

#[derive(clap::Args)]
pub(crate) struct ValidateArgs {
    /// Files or directories (searched for *.yaml and *.yml); `-` reads standard input
    #[arg(default_value = ".")]
    pub(crate) paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub(crate) format: Format,
    /// Treat warnings as errors (`--deny warnings`)
    #[arg(long, value_parser = ["warnings"])]
    pub(crate) deny: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// rustc-style messages with source snippets
    Human,
    /// one JSON object per diagnostic, one per line
    Json,
    /// GitHub Actions workflow commands that annotate pull requests
    Github,
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
        Command::Schema => {
            print!("{}", sopflow::schema::sop_schema_json());
            ExitCode::SUCCESS
        }
        Command::Validate(args) => validate::run(&args),
        Command::Graph {
            file,
            format,
            output,
        } => graph::run(&file, &format, output.as_deref()),
        Command::Case(args) => case::run(args),
        Command::Simulate(args) => simulate::run(args),
    }
}
