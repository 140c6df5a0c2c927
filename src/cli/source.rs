//! The source flags shared by every command that reads data.

use dqgate::source::DatasetSpec;

/// Reading options every command that reads data takes (`check`,
/// `suggest`): S3 endpoints, Iceberg snapshots, incremental slices.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SourceArgs {
    /// S3-compatible endpoint for s3:// and Iceberg data (also
    /// DQGATE_S3_ENDPOINT or AWS_ENDPOINT_URL).
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    /// AWS region of the buckets (default: the AWS configuration).
    #[arg(long)]
    pub s3_region: Option<String>,
    /// Path-style S3 requests (default: on when an endpoint is given).
    #[arg(long)]
    pub s3_path_style: Option<bool>,
    /// Iceberg: read this snapshot of the primary table.
    #[arg(long, conflicts_with = "as_of")]
    pub snapshot_id: Option<i64>,
    /// Iceberg: read the snapshot current at this instant (RFC 3339).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Iceberg: read only rows appended after this snapshot.
    #[arg(long)]
    pub since_snapshot_id: Option<i64>,
    /// Files: the partition or timestamp column of --start-date/--end-date.
    #[arg(long)]
    pub slice_column: Option<String>,
    /// Files: read rows with slice column >= this date (YYYY-MM-DD).
    #[arg(long, requires = "slice_column")]
    pub start_date: Option<String>,
    /// Files: read rows with slice column < this date (YYYY-MM-DD).
    #[arg(long, requires = "slice_column")]
    pub end_date: Option<String>,
    /// A reading option of the primary dataset, or of dataset ALIAS:
    /// CSV `delimiter`, `header`, `null_value`, `quote`, `malformed_rows`;
    /// `format` for a file without an extension; or any registry option
    /// (repeatable).
    #[arg(long = "data-option", value_name = "[ALIAS:]KEY=VALUE")]
    pub data_option: Vec<String>,
}

impl SourceArgs {
    /// Applies the options: S3 settings to every dataset, snapshot and
    /// slice settings to the primary one, `--data-option`s to the dataset
    /// they name (an unknown alias, key or value is an error).
    pub fn apply(&self, specs: &mut [DatasetSpec]) -> Result<(), String> {
        for spec in specs.iter_mut() {
            let o = &mut spec.options;
            o.endpoint = self.s3_endpoint.clone();
            o.region = self.s3_region.clone();
            o.path_style = self.s3_path_style;
            if spec.alias == dqgate::plan::PRIMARY {
                o.snapshot_id = self.snapshot_id;
                o.as_of = self.as_of.clone();
                o.since_snapshot_id = self.since_snapshot_id;
                o.slice_column = self.slice_column.clone();
                o.start_date = self.start_date.clone();
                o.end_date = self.end_date.clone();
            }
        }
        for option in &self.data_option {
            let (target, setting) = match option.split_once(':') {
                Some((alias, rest)) if !alias.contains('=') => (alias, rest),
                _ => (dqgate::plan::PRIMARY, option.as_str()),
            };
            let (key, value) = setting
                .split_once('=')
                .ok_or_else(|| format!("--data-option `{option}`: expected [ALIAS:]KEY=VALUE"))?;
            let spec = specs
                .iter_mut()
                .find(|s| s.alias == target)
                .ok_or_else(|| format!("--data-option `{option}`: no dataset `{target}`"))?;
            spec.set_option(key.trim(), value)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
