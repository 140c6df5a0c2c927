//! Command-line front: argument definitions and one module per subcommand.
//! Commands print; the library they call never does.

mod fmt;
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
    }
}

/// Reads a file to a string with an error message naming the file.
pub fn read_source(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("{}: error: cannot read: {e}", path.display()))
}
