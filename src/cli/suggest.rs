//! `dqgate suggest`: profile a dataset and print a starter ruleset.

use std::path::PathBuf;
use std::process::ExitCode;

use dqgate::check::HISTORY_LIMIT;
use dqgate::history::SeriesKey;
use dqgate::store::Store;

use super::OutputFormat;
use super::check::{CANNOT_RUN, datasets};

/// Options of `dqgate suggest`.
#[derive(Debug, clap::Args)]
pub struct SuggestArgs {
    /// The dataset to profile: as `check --data` takes it (files, s3://,
    /// Iceberg references).
    #[arg(long)]
    pub data: String,
    /// Write the ruleset here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Text prints the DQDL ruleset; JSON adds the profile.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// A results store: row-count bounds then come from the dataset's
    /// recorded history.
    #[arg(long, env = "DQGATE_CHECK_STORE")]
    pub store: Option<String>,
    /// The dataset name history is kept under (default: the path).
    #[arg(long, requires = "store")]
    pub dataset_name: Option<String>,
    /// Where and what to read.
    #[command(flatten)]
    pub source: super::source::SourceArgs,
    /// The clock freshness rules are measured against (RFC 3339).
    #[arg(long, env = "DQGATE_NOW")]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

/// Runs `dqgate suggest`.
pub fn run(args: SuggestArgs) -> ExitCode {
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(CANNOT_RUN);
        }
    };
    runtime.block_on(async move {
        let mut specs = datasets(std::slice::from_ref(&args.data));
        if let Err(e) = args.source.apply(&mut specs) {
            eprintln!("error: {e}");
            return ExitCode::from(CANNOT_RUN);
        }
        let Some(spec) = specs.into_iter().next() else {
            eprintln!("error: --data is required");
            return ExitCode::from(CANNOT_RUN);
        };
        let history = match &args.store {
            None => Vec::new(),
            Some(url) => {
                let dataset = args.dataset_name.clone().unwrap_or(spec.location.clone());
                match row_counts(url, &dataset).await {
                    Ok(h) => h,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(CANNOT_RUN);
                    }
                }
            }
        };
        let now = args.now.unwrap_or_else(chrono::Utc::now);
        let suggestion = match dqgate::suggest::suggest(&spec, &history, now).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(CANNOT_RUN);
            }
        };
        if let Some(path) = &args.output {
            if let Err(e) = std::fs::write(path, &suggestion.ruleset) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(CANNOT_RUN);
            }
            eprintln!("{} rules written to {}", suggestion.rules, path.display());
        }
        match (args.format, &args.output) {
            (OutputFormat::Json, _) => super::print_json(&suggestion),
            (OutputFormat::Text, None) => out!("{}", suggestion.ruleset),
            (OutputFormat::Text, Some(_)) => {}
        }
        ExitCode::SUCCESS
    })
}

/// Past row counts of `dataset` in the store, oldest first.
async fn row_counts(url: &str, dataset: &str) -> Result<Vec<f64>, String> {
    let store = Store::connect(url).await.map_err(|e| e.to_string())?;
    let key = SeriesKey::new("Dataset.*.RowCount", None);
    let history = store
        .load_history(dataset, None, std::slice::from_ref(&key), HISTORY_LIMIT)
        .await
        .map_err(|e| e.to_string())?;
    Ok(history.points(&key).iter().map(|p| p.value).collect())
}
