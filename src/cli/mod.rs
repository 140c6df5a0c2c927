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
mod serve;
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
    Check {
        /// The DQDL ruleset.
        #[arg(long)]
        ruleset: PathBuf,
        /// A dataset as [ALIAS=]PATH (file, folder or glob of Parquet, CSV or
        /// NDJSON). The first without an alias is the primary dataset; rules
        /// such as ReferentialIntegrity name the others by alias.
        #[arg(long = "data", required = true)]
        data: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Write the rows that fail row-level rules to this Parquet file.
        #[arg(long)]
        failed_rows: Option<PathBuf>,
        /// Print the scans and the rules each one serves before running.
        #[arg(long)]
        explain: bool,
        /// Evaluate as of this instant (RFC 3339) instead of now; pins
        /// `now()` and DataFreshness.
        #[arg(long, env = "DQGATE_NOW")]
        now: Option<chrono::DateTime<chrono::Utc>>,
        /// Most memory the evaluation may use (e.g. 4GiB); sorts and
        /// group-bys spill to disk before failing. Unlimited by default.
        #[arg(long, env = "DQGATE_MEMORY_LIMIT", value_parser = check::parse_bytes)]
        memory_limit: Option<usize>,
    },
    /// Generate DeFtunes sample data and check it with the DeFtunes rulesets.
    ///
    /// Writes songs, users and sessions (partitioned by ingestion date) as
    /// Parquet under --out, with a handful of deliberate defects, then checks
    /// each dataset and prints the reports.
    Demo {
        /// Session rows to generate.
        #[arg(long, default_value_t = 20_000)]
        rows: usize,
        /// Ingestion days the sessions are spread over.
        #[arg(long, default_value_t = 7)]
        days: usize,
        /// Seed of the generator (same seed, same data).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Where to write the data.
        #[arg(long, default_value = "dqgate-demo")]
        out: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
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
        Command::Demo {
            rows,
            days,
            seed,
            out,
            format,
        } => demo::run(demo::DemoArgs {
            rows,
            days,
            seed,
            out,
            format,
        }),
        Command::Check {
            ruleset,
            data,
            format,
            failed_rows,
            explain,
            now,
            memory_limit,
        } => check::run(check::CheckArgs {
            ruleset,
            data,
            format,
            failed_rows,
            explain,
            now,
            memory_limit,
        }),
    }
}

/// Reads a file to a string with an error message naming the file.
pub fn read_source(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("{}: error: cannot read: {e}", path.display()))
}
