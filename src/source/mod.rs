//! Datasets: where data lives and how it is registered as a DataFusion table.
//! Local Parquet, CSV and newline-delimited JSON files, folders and globs,
//! with hive-style `key=value` partition folders.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;

/// A file format dqgate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// Newline-delimited JSON objects.
    Json,
}

impl Format {
    /// The format a file name's extension implies.
    pub fn from_extension(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            Some(Format::Parquet)
        } else if lower.ends_with(".csv") {
            Some(Format::Csv)
        } else if lower.ends_with(".json")
            || lower.ends_with(".ndjson")
            || lower.ends_with(".jsonl")
        {
            Some(Format::Json)
        } else {
            None
        }
    }

    fn file_format(self) -> Arc<dyn FileFormat> {
        match self {
            Format::Parquet => Arc::new(ParquetFormat::default()),
            Format::Csv => Arc::new(CsvFormat::default().with_has_header(true)),
            Format::Json => Arc::new(JsonFormat::default()),
        }
    }
}

/// A dataset as the user names it: an alias and a location.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatasetSpec {
    /// The name rules use (`primary` for the dataset under evaluation).
    pub alias: String,
    /// A file, folder or glob.
    pub location: String,
    /// The format, or `None` to infer it from file names.
    pub format: Option<Format>,
}

impl DatasetSpec {
    /// Parses `[ALIAS=]PATH`; without an alias the dataset is `default_alias`.
    pub fn parse(arg: &str, default_alias: &str) -> DatasetSpec {
        match arg.split_once('=') {
            Some((alias, location))
                if !alias.is_empty()
                    && alias
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') =>
            {
                DatasetSpec {
                    alias: alias.to_string(),
                    location: location.to_string(),
                    format: None,
                }
            }
            _ => DatasetSpec {
                alias: default_alias.to_string(),
                location: arg.to_string(),
                format: None,
            },
        }
    }
}

/// Why a dataset could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Nothing exists at the location.
    #[error("dataset `{alias}`: no file or folder at {location}")]
    NotFound {
        /// The dataset alias.
        alias: String,
        /// The location given.
        location: String,
    },
    /// The format could not be inferred.
    #[error(
        "dataset `{alias}`: cannot tell the format of {location}; use a .parquet, .csv or .json/.ndjson name"
    )]
    UnknownFormat {
        /// The dataset alias.
        alias: String,
        /// The location given.
        location: String,
    },
    /// DataFusion could not list or read the files.
    #[error("dataset `{alias}`: cannot read {location}: {source}")]
    Read {
        /// The dataset alias.
        alias: String,
        /// The location given.
        location: String,
        /// The underlying error.
        source: datafusion::error::DataFusionError,
    },
}

/// Registers `spec` in `ctx` under its alias, inferring format, schema and
/// hive partition columns.
pub async fn register(ctx: &SessionContext, spec: &DatasetSpec) -> Result<Format, SourceError> {
    let read_err = |source| SourceError::Read {
        alias: spec.alias.clone(),
        location: spec.location.clone(),
        source,
    };
    let is_glob = spec.location.contains(['*', '?', '[']);
    let path = Path::new(&spec.location);
    if !is_glob && !path.exists() {
        return Err(SourceError::NotFound {
            alias: spec.alias.clone(),
            location: spec.location.clone(),
        });
    }
    let format = match spec.format {
        Some(f) => f,
        None => infer_format(path, &spec.location).ok_or_else(|| SourceError::UnknownFormat {
            alias: spec.alias.clone(),
            location: spec.location.clone(),
        })?,
    };
    let mut location = spec.location.clone();
    if path.is_dir() && !location.ends_with('/') {
        location.push('/');
    }
    let url = ListingTableUrl::parse(&location).map_err(read_err)?;
    let state = ctx.state();
    let extension = match format {
        Format::Parquet => ".parquet",
        Format::Csv => ".csv",
        Format::Json => "",
    };
    let mut options = ListingOptions::new(format.file_format()).with_file_extension(extension);
    if path.is_dir() {
        let partitions = options
            .infer_partitions(&state, &url)
            .await
            .map_err(read_err)?;
        options = options.with_table_partition_cols(
            partitions
                .into_iter()
                .map(|c| (c, DataType::Utf8))
                .collect(),
        );
    }
    let schema = options.infer_schema(&state, &url).await.map_err(read_err)?;
    if schema.fields().is_empty() {
        return Err(SourceError::NotFound {
            alias: spec.alias.clone(),
            location: format!(
                "{} (no {} files matched)",
                spec.location,
                extension.trim_start_matches('.')
            ),
        });
    }
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    let table = ListingTable::try_new(config).map_err(read_err)?;
    ctx.register_table(spec.alias.as_str(), Arc::new(table))
        .map_err(read_err)?;
    Ok(format)
}

/// The format of a file by its name, or of a folder by the first data file in it.
fn infer_format(path: &Path, location: &str) -> Option<Format> {
    if let Some(f) = Format::from_extension(location) {
        return Some(f);
    }
    if path.is_dir() {
        return first_data_file(path, 4);
    }
    None
}

fn first_data_file(dir: &Path, depth: usize) -> Option<Format> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in &entries {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if let Some(f) = Format::from_extension(&name) {
            return Some(f);
        }
    }
    if depth == 0 {
        return None;
    }
    entries
        .iter()
        .filter(|e| e.path().is_dir())
        .find_map(|e| first_data_file(&e.path(), depth - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_alias_and_path() {
        let s = DatasetSpec::parse("users=data/users.parquet", "primary");
        assert_eq!(
            (s.alias.as_str(), s.location.as_str()),
            ("users", "data/users.parquet")
        );
        let s = DatasetSpec::parse("data/sessions", "primary");
        assert_eq!(
            (s.alias.as_str(), s.location.as_str()),
            ("primary", "data/sessions")
        );
        let s = DatasetSpec::parse("/tmp/a=b/x.parquet", "primary");
        assert_eq!(s.alias, "primary");
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(Format::from_extension("a.PARQUET"), Some(Format::Parquet));
        assert_eq!(Format::from_extension("a.ndjson"), Some(Format::Json));
        assert_eq!(Format::from_extension("a.txt"), None);
    }
}
