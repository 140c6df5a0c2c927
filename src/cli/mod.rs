//! Command-line front: argument definitions and one module per subcommand.
//! Commands print; the library they call never does.

/// `println!` that ignores a closed pipe (`dqgate check ... | head`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` that ignores a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod check;
mod demo;
mod fmt;
mod gate;
mod serve;
mod source;
mod suggest;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// dqgate checks data against DQDL rulesets (the rule language of AWS Glue
/// Data Quality) and says pass, warn or fail.
#[derive(Debug, Parser)]
#[command(name = "dqgate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a shell completion script: `dqgate completions bash >
    /// /etc/bash_completion.d/dqgate` (or zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Check DQDL files for syntax and static errors.
    ///
    /// Exit status: 0 when every file is valid, 1 otherwise. Each error is
    /// printed as FILE:LINE:COL: error: MESSAGE followed by the offending line.
    Validate {
        /// DQDL files to validate.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format: a human report or a JSON array.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Evaluate a ruleset over data and report each rule's outcome.
    ///
    /// Exit status: 0 when every rule passed, 1 when any failed or could not
    /// be evaluated, 2 when the check could not run at all (invalid ruleset,
    /// unreadable primary data).
    Check(check::CheckArgs),
    /// Generate DeFtunes sample data and check it with the DeFtunes rulesets.
    ///
    /// Writes songs, users and sessions (partitioned by ingestion date) as
    /// Parquet under --out, with a handful of deliberate defects, then checks
    /// each dataset and prints the reports.
    Demo(demo::DemoArgs),
    /// Profile a dataset and print a starter DQDL ruleset for it.
    ///
    /// One profiling scan (plus one for key candidates and allowed values)
    /// finds completeness, keys, ranges, allowed values, lengths and
    /// freshness; every suggested rule passes on the profiled data. With
    /// --store, row-count bounds come from the dataset's history.
    Suggest(suggest::SuggestArgs),
    /// Ask a dqgate server for a gate decision (for cron, shell, Airflow,
    /// Dagster, Argo) and exit with a status a pipeline can act on.
    ///
    /// Calls POST /v1/gate for a registered dataset and saved ruleset,
    /// follows a 202 by polling the run until it ends, and prints the
    /// decision and the failing rules.
    #[command(after_long_help = gate::EXIT_CODES)]
    Gate(gate::GateArgs),
    /// Run the HTTP service: registries, the gate, runs and trends.
    ///
    /// Settings come from built-in defaults, then dqgate.toml, then DQGATE_*
    /// environment variables, then these flags. The store is SQLite under
    /// --data-dir unless DQGATE_DATABASE_URL names PostgreSQL. Spans are
    /// exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
    Serve(serve::ServeArgs),
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Print DQDL files in canonical form (comments are kept).
    ///
    /// Without flags the canonical text goes to standard output. Exit status
    /// 1 when a file is invalid or, with --check, not canonical.
    Fmt {
        /// DQDL files to format.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Rewrite the files in place.
        #[arg(long, conflicts_with = "check")]
        write: bool,
        /// Only report files that are not canonical (exit 1 if any).
        #[arg(long)]
        check: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Create a token and print it once (only its hash is stored).
    Create {
        /// What the token may do.
        #[arg(long, value_enum)]
        role: dqgate::api::auth::Role,
        /// A unique name (recorded as the author of ruleset versions).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: serve::StoreArgs,
    },
}

/// How a command reports its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// For machines.
    Json,
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "dqgate", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Validate { files, format } => validate::run(&files, format),
        Command::Fmt {
            files,
            write,
            check,
        } => fmt::run(&files, write, check),
        Command::Serve(args) => serve::serve(args),
        Command::Token {
            action: TokenAction::Create { role, name, store },
        } => serve::create_token(store, role, name),
        Command::Demo(args) => demo::run(args),
        Command::Check(args) => check::run(args),
        Command::Suggest(args) => suggest::run(args),
        Command::Gate(args) => gate::run(args),
    }
}

/// Prints a value as pretty JSON on standard output.
pub fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(j) => outln!("{j}"),
        Err(e) => eprintln!("error: cannot encode the output as JSON: {e}"),
    }
}

/// A multi-threaded tokio runtime for a command.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(dqgate::engine::EVALUATION_STACK_BYTES)
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// Reads a file to a string with an error message naming the file.
pub fn read_source(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("{}: error: cannot read: {e}", path.display()))
}
