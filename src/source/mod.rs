//! Datasets: where data lives and how it is registered as a DataFusion table.
//! Parquet, CSV and newline-delimited JSON files, folders and globs, local
//! or in S3 (`s3://bucket/prefix`), with hive-style `key=value` partition
//! folders; and Apache Iceberg tables (see [`iceberg`]).

pub mod cluster;
pub mod confine;
mod csv;
pub mod files;
mod globs;
pub mod iceberg;
#[cfg(feature = "iceberg")]
mod iceberg_confine;
pub mod objects;
pub mod quarantine;
mod read_only;
pub mod redact;
pub mod s3;
mod slice;

use std::path::Path;
use std::sync::Arc;

pub use confine::{ConfineError, Confinement};
pub use csv::{MalformedRows, check_options};

use futures::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt};

use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;

/// A file format dqgate reads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header row.
    Csv,
    /// Newline-delimited JSON objects.
    Json,
    /// An Apache Iceberg table (catalog reference or metadata file).
    Iceberg,
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

    /// The format's name as options and messages spell it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Iceberg => "iceberg",
        }
    }

    /// The DataFusion format reading `spec` (CSV with its options).
    fn file_format(self, spec: &DatasetSpec) -> Result<Arc<dyn FileFormat>, SourceError> {
        csv::check_applicable(spec, self)?;
        Ok(match self {
            Format::Parquet => Arc::new(ParquetFormat::default()),
            Format::Csv => Arc::new(csv::format(spec)?),
            // Iceberg tables are never read through a listing table.
            Format::Json | Format::Iceberg => Arc::new(JsonFormat::default()),
        })
    }
}

/// Per-dataset reading options (the registry's `options` object; on the
/// command line, flags). Credentials are never options: they come from the
/// AWS chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceOptions {
    /// S3-compatible endpoint, e.g. `http://127.0.0.1:9000`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// AWS region of the bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Path-style S3 requests (default: on with a custom endpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
    /// Iceberg: read this snapshot instead of the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<i64>,
    /// Iceberg: read the snapshot current at this instant (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    /// Iceberg: read only the rows appended after this snapshot (an
    /// incremental slice up to the snapshot read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_snapshot_id: Option<i64>,
    /// Files: the column a date slice (`start_date`, `end_date`) filters,
    /// typically the ingestion-date partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice_column: Option<String>,
    /// Files: first day of the slice (inclusive, `YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// Files: end of the slice (exclusive, `YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// How composite rules over this dataset are judged (`"row"` or
    /// `"column"`); overrides the ruleset's Metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composite_mode: Option<crate::dqdl::ast::CompositeMode>,
    /// CSV: the field separator, one ASCII character (`tab` for a tab);
    /// default `,`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// CSV: whether the first line names the columns (default true;
    /// without it columns are `column_1`, `column_2`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    /// CSV: a text that means NULL (as empty fields do), e.g. `NA`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub null_value: Option<String>,
    /// CSV: the quote character, one ASCII character; default `"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// CSV: a row with more or fewer fields than the header stops the
    /// read (`"fail"`, the default) or is read as NULLs and counted
    /// (`"count"`, metric `Dataset.*.MalformedRows`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed_rows: Option<MalformedRows>,
    /// Gate runs: where a run that ends in `fail` writes its failing rows
    /// (a local folder or `s3://bucket/prefix`), as Parquet under
    /// `<quarantine>/<dataset>/<stage>/<run id>/`. `dqgate check` ignores
    /// it (see `--failed-rows`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
    /// Gate runs: how many failing rows to keep per row-level rule in the
    /// store, shown with the run (default
    /// [`DEFAULT_FAILED_ROWS_SAMPLE`], 0 keeps none, at most
    /// [`MAX_FAILED_ROWS_SAMPLE`]). The values are data: anyone who may
    /// read runs sees them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_rows_sample: Option<u32>,
}

/// Failing rows a gate run keeps per row-level rule when the dataset does
/// not say.
pub const DEFAULT_FAILED_ROWS_SAMPLE: u32 = 20;
/// The largest `failed_rows_sample` a dataset may ask for.
pub const MAX_FAILED_ROWS_SAMPLE: u32 = 1000;

impl SourceOptions {
    /// Failing rows a gate run keeps per row-level rule.
    pub fn failed_rows_sample(&self) -> usize {
        self.failed_rows_sample
            .unwrap_or(DEFAULT_FAILED_ROWS_SAMPLE)
            .min(MAX_FAILED_ROWS_SAMPLE) as usize
    }
}

/// What registering a dataset found out.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Registered {
    /// The format read.
    pub format: Option<Format>,
    /// The Iceberg snapshot read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<i64>,
    /// The slice applied, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice: Option<String>,
    /// CSV with `malformed_rows = "count"`: rows read as NULLs because
    /// their field count was wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed_rows: Option<u64>,
}

/// A dataset as the user names it: an alias and a location.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DatasetSpec {
    /// The name rules use (`primary` for the dataset under evaluation).
    pub alias: String,
    /// A file, folder or glob (local or `s3://`), or an Iceberg reference.
    pub location: String,
    /// The format, or `None` to infer it from the location.
    pub format: Option<Format>,
    /// Reading options.
    pub options: SourceOptions,
    /// What the server lets reading it reach; `None` (the command line)
    /// reaches anything the process can.
    #[serde(skip)]
    pub confinement: Option<Arc<Confinement>>,
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
                    ..DatasetSpec::default()
                }
            }
            _ => DatasetSpec {
                alias: default_alias.to_string(),
                location: arg.to_string(),
                ..DatasetSpec::default()
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
    /// The file exists but holds no columns.
    #[error(
        "dataset `{alias}`: {location} has no columns to read (an empty file, a CSV without a header row, or a Parquet file without columns)"
    )]
    NoColumns {
        /// The dataset alias.
        alias: String,
        /// The location given.
        location: String,
    },
    /// The format could not be inferred.
    #[error(
        "dataset `{alias}`: cannot tell the format of {location}; use a .parquet, .csv or .json/.ndjson name, or give the dataset's `format`"
    )]
    UnknownFormat {
        /// The dataset alias.
        alias: String,
        /// The location given.
        location: String,
    },
    /// DataFusion could not list or read the files.
    #[error("dataset `{alias}`: cannot read {location}: {}", crate::sql_support::clean(.source))]
    Read {
        /// The dataset alias.
        alias: String,
        /// The location given.
        location: String,
        /// The underlying error.
        source: datafusion::error::DataFusionError,
    },
    /// The object store refused or could not be reached.
    #[error("dataset `{alias}`: cannot read {location}: {message}")]
    Store {
        /// The dataset alias.
        alias: String,
        /// The location given.
        location: String,
        /// What the store said, in short.
        message: String,
    },
    /// A line of a newline-delimited JSON file is not valid JSON.
    #[error("dataset `{alias}`: {file}:{line}: not valid JSON: {message}")]
    BadJsonLine {
        /// The dataset alias.
        alias: String,
        /// The file.
        file: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong, at which column.
        message: String,
    },
    /// The dataset's settings are unusable.
    #[error("{0}")]
    Config(String),
    /// The server does not let this dataset reach its location or endpoint.
    #[error("dataset `{alias}`: {source}")]
    Confined {
        /// The dataset alias.
        alias: String,
        /// What is out of reach.
        source: ConfineError,
    },
    /// An Iceberg table could not be loaded.
    #[error("dataset `{alias}`: Iceberg table {location}: {message}")]
    Iceberg {
        /// The dataset alias.
        alias: String,
        /// The reference given.
        location: String,
        /// Why.
        message: String,
    },
    /// Reading the dataset needs a cargo feature this dqgate was built
    /// without.
    #[error(
        "dataset `{alias}`: this dqgate was built without the `{feature}` feature; rebuild with `--features {feature}` (it is on by default)"
    )]
    NotBuilt {
        /// The dataset alias.
        alias: String,
        /// The cargo feature.
        feature: &'static str,
    },
}

/// A short, readable form of an object store error: the status and the
/// store's own message, without request dumps.
pub fn store_message(e: &object_store::Error) -> String {
    let text = match e {
        object_store::Error::NotFound { .. } => return "no such object or bucket".to_string(),
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            format!("access denied ({e})")
        }
        other => other.to_string(),
    };
    let text = without_remote_body(&text);
    let mut short: String = text.chars().take(600).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// The message up to the remote status line: what a remote server sent
/// back after its status (an XML or HTML body) is never repeated to a
/// caller, who may have named that server.
fn without_remote_body(text: &str) -> String {
    const STATUS: &str = "status code: ";
    let Some(at) = text.find(STATUS) else {
        return text.to_string();
    };
    let rest = &text[at + STATUS.len()..];
    // "403 Forbidden: <body…>": keep the code and its reason phrase.
    let end = rest.find(": ").unwrap_or(rest.len());
    let cut = at + STATUS.len() + end;
    if cut < text.len() {
        format!("{} (response body not shown)", &text[..cut])
    } else {
        text.to_string()
    }
}

/// For a local file dataset, the part of its location that does not
/// exist (for a glob, the folder before the first wildcard); `None` when
/// it exists or the dataset is in S3 or Iceberg.
pub fn missing_local(spec: &DatasetSpec) -> Option<String> {
    let remote = spec.format == Some(Format::Iceberg)
        || spec.location.starts_with("iceberg:")
        || spec.location.starts_with("s3://");
    if remote {
        return None;
    }
    let fixed = match spec.location.find(['*', '?', '[']) {
        Some(i) => spec.location[..i]
            .rsplit_once('/')
            .map_or(".", |(dir, _)| if dir.is_empty() { "/" } else { dir }),
        None => spec.location.as_str(),
    };
    (!Path::new(fixed).exists()).then(|| fixed.to_string())
}

/// Registers `spec` in `ctx` under its alias: Iceberg tables through
/// their catalog or metadata file, files as a listing table (format,
/// schema and hive partition columns inferred), then the slice, if any.
/// A confined spec is checked, and the session confined, before anything
/// is opened or connected to.
pub async fn register(ctx: &SessionContext, spec: &DatasetSpec) -> Result<Registered, SourceError> {
    if let Some(confinement) = &spec.confinement {
        confinement
            .check_spec(spec)
            .map_err(|source| SourceError::Confined {
                alias: spec.alias.clone(),
                source,
            })?;
        confine::install(ctx, confinement.clone());
    }
    let is_iceberg = spec.format == Some(Format::Iceberg) || spec.location.starts_with("iceberg:");
    let mut registered = if is_iceberg {
        iceberg::register(ctx, spec).await?
    } else if globs::is_glob(&spec.location) {
        if cluster::is_distributed(ctx) {
            return Err(cluster::unsupported(&spec.alias, "a glob location"));
        }
        globs::register(ctx, spec).await?
    } else if spec.location.starts_with("s3://") {
        register_s3(ctx, spec).await?
    } else {
        register_local(ctx, spec).await?
    };
    if spec.options.start_date.is_some() || spec.options.end_date.is_some() {
        registered.slice = Some(slice::apply(ctx, spec).await?);
    }
    Ok(registered)
}

async fn register_local(
    ctx: &SessionContext,
    spec: &DatasetSpec,
) -> Result<Registered, SourceError> {
    let path = Path::new(&spec.location);
    if !path.exists() {
        return Err(SourceError::NotFound {
            alias: spec.alias.clone(),
            location: spec.location.clone(),
        });
    }
    let format = match spec.format {
        Some(f) => f,
        None => infer_format(spec, path)?,
    };
    let mut location = spec.location.clone();
    if path.is_dir() && !location.ends_with('/') {
        location.push('/');
    }
    let url = ListingTableUrl::parse(&location).map_err(|source| read_error(spec, source))?;
    register_listing(ctx, spec, url, format, path.is_dir()).await
}

fn read_error(spec: &DatasetSpec, source: datafusion::error::DataFusionError) -> SourceError {
    SourceError::Read {
        alias: spec.alias.clone(),
        location: spec.location.clone(),
        source,
    }
}

fn unknown_format(spec: &DatasetSpec) -> SourceError {
    SourceError::UnknownFormat {
        alias: spec.alias.clone(),
        location: spec.location.clone(),
    }
}

/// `s3://bucket/key`: one object or a prefix (a "folder"), with or
/// without its trailing slash. A name with a data file extension is tried
/// as an object first; anything HEAD does not find as an object (S3 answers
/// 404 for a prefix, some compatible servers an error) is listed as a
/// prefix. A name without an extension is listed first, and tried as an
/// object only when nothing is under it and the format is given.
async fn register_s3(ctx: &SessionContext, spec: &DatasetSpec) -> Result<Registered, SourceError> {
    let store_err = |message: String| SourceError::Store {
        alias: spec.alias.clone(),
        location: spec.location.clone(),
        message,
    };
    let (bucket, key) = objects::split_s3(&spec.location).ok_or_else(|| {
        SourceError::Config(format!(
            "dataset `{}`: `{}` is not an S3 URL such as s3://bucket/prefix",
            spec.alias, spec.location
        ))
    })?;
    let store = objects::s3_store(ctx, &bucket, &spec.options).await?;
    let object = object_store::path::Path::from(key.as_str());
    let named = !key.is_empty() && !key.ends_with('/');
    let head = async || match store.head(&object).await {
        Ok(_) => Ok(true),
        Err(
            e @ (object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }),
        ) => Err(store_err(store_message(&e))),
        Err(_) => Ok(false),
    };
    let extension = Format::from_extension(&key);
    let mut is_object = named && extension.is_some() && head().await?;
    let mut found = std::collections::BTreeSet::new();
    if !is_object {
        found = prefix_formats(store.as_ref(), &key, spec)
            .await
            .map_err(|e| store_err(store_message(&e)))?;
        is_object = found.is_empty() && named && spec.format.is_some() && head().await?;
    }
    let (location, format) = if is_object {
        let format = spec
            .format
            .or(extension)
            .ok_or_else(|| unknown_format(spec))?;
        (spec.location.clone(), format)
    } else {
        let none = if named && extension.is_some() {
            "no such object, and no data objects under it as a prefix"
        } else {
            "no data objects under the prefix"
        };
        let format = one_format(spec, found, none)?;
        let mut location = spec.location.clone();
        if !location.ends_with('/') {
            location.push('/');
        }
        (location, format)
    };
    let url = ListingTableUrl::parse(&location).map_err(|source| read_error(spec, source))?;
    register_listing(ctx, spec, url, format, !is_object).await
}

/// The data formats of the objects under an S3 prefix (just the given
/// format once one object is found, when the dataset names it).
async fn prefix_formats(
    store: &dyn ObjectStore,
    key: &str,
    spec: &DatasetSpec,
) -> Result<std::collections::BTreeSet<Format>, object_store::Error> {
    let prefix = object_store::path::Path::from(key.trim_end_matches('/'));
    let mut listing = store.list(Some(&prefix));
    let mut found = std::collections::BTreeSet::new();
    while let Some(item) = listing.next().await {
        let meta = item?;
        let name = meta.location.filename().unwrap_or_default().to_string();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if let Some(f) = spec.format.or_else(|| Format::from_extension(&name)) {
            found.insert(f);
            if spec.format.is_some() {
                break;
            }
        }
    }
    Ok(found)
}

/// Registers a listing table over `url`.
async fn register_listing(
    ctx: &SessionContext,
    spec: &DatasetSpec,
    mut url: ListingTableUrl,
    format: Format,
    is_dir: bool,
) -> Result<Registered, SourceError> {
    let read_err = |source| read_error(spec, source);
    let location = url.as_str().to_string();
    let state = ctx.state();
    let extension = match format {
        Format::Parquet => ".parquet",
        Format::Csv => ".csv",
        Format::Json | Format::Iceberg => "",
    };
    // A single file named by the user is read whatever its name ends with
    // (its format given); folders and globs read the format's extension.
    let single_file = !is_dir && !location.contains(['*', '?', '[']);
    let extension = if single_file && !location.to_ascii_lowercase().ends_with(extension) {
        ""
    } else {
        extension
    };
    // The session's target partitions and statistics: without them a
    // listing reads every file on one partition (one core) and joins build
    // their hash table on whichever side comes first, however large.
    let mut options = ListingOptions::new(format.file_format(spec)?)
        .with_file_extension(extension)
        .with_session_config_options(state.config());
    let mut malformed_rows = None;
    if format == Format::Csv && spec.options.malformed_rows == Some(MalformedRows::Count) {
        if cluster::is_distributed(ctx) {
            return Err(cluster::unsupported(
                &spec.alias,
                "CSV with malformed_rows = \"count\"",
            ));
        }
        let (copied, count) = csv::count_malformed(ctx, spec, &url, extension).await?;
        url = copied;
        malformed_rows = Some(count);
    }
    if is_dir {
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
    let schema = match options.infer_schema(&state, &url).await {
        Ok(schema) => schema,
        Err(e) if format == Format::Json => {
            return Err(bad_json_line(spec).unwrap_or_else(|| read_err(e)));
        }
        Err(e) => return Err(read_err(e)),
    };
    if schema.fields().is_empty() && single_file {
        return Err(SourceError::NoColumns {
            alias: spec.alias.clone(),
            location: spec.location.clone(),
        });
    }
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
    let null_text = spec
        .options
        .null_value
        .as_ref()
        .filter(|_| format == Format::Csv);
    let read_schema = match null_text {
        Some(_) => csv::text_schema(&schema),
        None => schema.clone(),
    };
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(read_schema);
    let table = Arc::new(ListingTable::try_new(config).map_err(read_err)?);
    match null_text {
        Some(text) => csv::register_null_view(ctx, spec, &schema, table, text).await?,
        None => {
            ctx.register_table(spec.alias.as_str(), table)
                .map_err(read_err)?;
        }
    }
    Ok(Registered {
        format: Some(format),
        malformed_rows,
        ..Registered::default()
    })
}

/// The first line of a local JSON dataset that is not valid JSON, located
/// by file and line (Arrow counts lines per batch, not per file).
fn bad_json_line(spec: &DatasetSpec) -> Option<SourceError> {
    use std::io::BufRead as _;
    let path = Path::new(&spec.location);
    let mut files = Vec::new();
    if path.is_file() {
        files.push(path.to_path_buf());
    } else {
        json_files(path, 4, &mut files);
        files.sort();
    }
    for file in files {
        let reader = std::io::BufReader::new(std::fs::File::open(&file).ok()?);
        for (n, line) in reader.lines().enumerate() {
            let line = line.ok()?;
            if line.trim().is_empty() {
                continue;
            }
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&line) {
                let message = e.to_string();
                let message = message
                    .split_once(" at line ")
                    .map_or(message.clone(), |(what, _)| {
                        format!("{what} at column {}", e.column())
                    });
                return Some(SourceError::BadJsonLine {
                    alias: spec.alias.clone(),
                    file: file.display().to_string(),
                    line: n + 1,
                    message,
                });
            }
        }
    }
    None
}

/// The JSON files under `dir` (to `depth` folders), hidden names skipped.
fn json_files(dir: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = e.path();
        if path.is_dir() && depth > 0 {
            json_files(&path, depth - 1, out);
        } else if Format::from_extension(&name) == Some(Format::Json) {
            out.push(path);
        }
    }
}

/// The format of a file by its name, or of a folder by the data files in
/// it. A folder holding more than one format is an error: reading one
/// format would silently drop the other files.
fn infer_format(spec: &DatasetSpec, path: &Path) -> Result<Format, SourceError> {
    if let Some(f) = Format::from_extension(&spec.location) {
        return Ok(f);
    }
    if !path.is_dir() {
        return Err(unknown_format(spec));
    }
    let mut found = std::collections::BTreeSet::new();
    data_formats(path, 4, &mut found);
    one_format(spec, found, "no data files in it")
}

/// The one format of a folder's or prefix's files; several is an error.
fn one_format(
    spec: &DatasetSpec,
    found: std::collections::BTreeSet<Format>,
    none: &str,
) -> Result<Format, SourceError> {
    let mut formats = found.into_iter();
    match (formats.next(), formats.next()) {
        (Some(f), None) => Ok(f),
        (None, _) => Err(SourceError::NotFound {
            alias: spec.alias.clone(),
            location: format!("{} ({none})", spec.location),
        }),
        (Some(a), Some(b)) => {
            let names: Vec<String> = [a, b]
                .into_iter()
                .chain(formats)
                .map(|f| f.name().to_string())
                .collect();
            Err(SourceError::Config(format!(
                "dataset `{}`: {} holds {} files, and one dataset is read in one format; keep one format per folder, name one kind with a glob (e.g. {}/*.csv), or register the dataset with its `format`",
                spec.alias,
                spec.location,
                names.join(" and "),
                spec.location.trim_end_matches('/')
            )))
        }
    }
}

/// The data formats of the files in `dir` and its sub-folders (to `depth`).
fn data_formats(dir: &Path, depth: usize, found: &mut std::collections::BTreeSet<Format>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = e.path();
        if path.is_dir() {
            if depth > 0 {
                data_formats(&path, depth - 1, found);
            }
        } else if let Some(f) = Format::from_extension(&name) {
            found.insert(f);
        }
    }
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
    fn remote_bodies_are_not_repeated() {
        assert_eq!(
            without_remote_body(
                "Error after 0 retries: Server returned non-2xx status code: 403 Forbidden: <Error><Code>AccessDenied</Code><Secret>x</Secret></Error>"
            ),
            "Error after 0 retries: Server returned non-2xx status code: 403 Forbidden (response body not shown)"
        );
        assert_eq!(
            without_remote_body("connection refused"),
            "connection refused"
        );
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(Format::from_extension("a.PARQUET"), Some(Format::Parquet));
        assert_eq!(Format::from_extension("a.ndjson"), Some(Format::Json));
        assert_eq!(Format::from_extension("a.txt"), None);
    }
}
