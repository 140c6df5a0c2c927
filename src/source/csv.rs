//! CSV reading options (`delimiter`, `header`, `null_value`, `quote`) turned
//! into DataFusion's CSV format, and `DatasetSpec::set_option`, the
//! `KEY=VALUE` form the command line's `--data-option` uses.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::Column;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::listing::{ListingTable, ListingTableUrl};
use datafusion::functions::expr_fn::nullif;
use datafusion::prelude::{Expr, SessionContext, cast, lit};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::memory::InMemory;

use super::{DatasetSpec, Format, SourceError, SourceOptions};

/// The CSV format `options` describe: a header row and `,`/`"` unless
/// set; empty fields, and fields equal to `null_value`, are NULL.
pub fn format(spec: &DatasetSpec) -> Result<CsvFormat, SourceError> {
    let o = &spec.options;
    let mut format = CsvFormat::default().with_has_header(o.header.unwrap_or(true));
    if let Some(d) = &o.delimiter {
        format = format.with_delimiter(one_byte(spec, "delimiter", d)?);
    }
    if let Some(q) = &o.quote {
        format = format.with_quote(one_byte(spec, "quote", q)?);
    }
    if let Some(n) = &o.null_value {
        format = format.with_null_regex(Some(format!("^(|{})$", regex::escape(n))));
    }
    Ok(format)
}

/// Refuses CSV options on a dataset read in another format.
pub fn check_applicable(spec: &DatasetSpec, format: Format) -> Result<(), SourceError> {
    let o = &spec.options;
    let set: Vec<&str> = [
        ("delimiter", o.delimiter.is_some()),
        ("header", o.header.is_some()),
        ("null_value", o.null_value.is_some()),
        ("quote", o.quote.is_some()),
        ("malformed_rows", o.malformed_rows.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    if format != Format::Csv && !set.is_empty() {
        return Err(SourceError::Config(format!(
            "dataset `{}`: {} apply to CSV only, and {} is read as {}",
            spec.alias,
            set.join(", "),
            spec.location,
            format.name()
        )));
    }
    Ok(())
}

/// One ASCII character (`\t` and `tab` name a tab).
fn one_byte(spec: &DatasetSpec, option: &str, text: &str) -> Result<u8, SourceError> {
    let text = match text {
        "\\t" | "tab" => "\t",
        other => other,
    };
    match text.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(SourceError::Config(format!(
            "dataset `{}`: {option} must be one ASCII character (or `tab`); got `{text}`",
            spec.alias
        ))),
    }
}

impl DatasetSpec {
    /// Sets one reading option from `KEY=VALUE` text: `format`, or any key
    /// of [`SourceOptions`] (`true`/`false` and integers are typed as the
    /// option needs). Unknown keys and unusable values are errors.
    pub fn set_option(&mut self, key: &str, value: &str) -> Result<(), SourceError> {
        if key == "format" {
            self.format = Some(
                serde_json::from_value(serde_json::Value::String(value.to_ascii_lowercase()))
                    .map_err(|_| {
                        SourceError::Config(format!(
                            "dataset `{}`: format must be parquet, csv, json or iceberg; got `{value}`",
                            self.alias
                        ))
                    })?,
            );
            return Ok(());
        }
        let mut object = match serde_json::to_value(&self.options) {
            Ok(serde_json::Value::Object(o)) => o,
            _ => serde_json::Map::new(),
        };
        let typed = match value {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            v => v
                .parse::<i64>()
                .map(serde_json::Value::from)
                .unwrap_or_else(|_| serde_json::Value::String(v.to_string())),
        };
        let mut error = None;
        for candidate in [typed, serde_json::Value::String(value.to_string())] {
            object.insert(key.to_string(), candidate);
            match serde_json::from_value::<SourceOptions>(serde_json::Value::Object(object.clone()))
            {
                Ok(options) => {
                    self.options = options;
                    return Ok(());
                }
                Err(e) => error = error.or(Some(e)),
            }
        }
        Err(SourceError::Config(format!(
            "dataset `{}`: option {key}={value}: {}",
            self.alias,
            error.map(|e| e.to_string()).unwrap_or_default()
        )))
    }
}

/// Checks the reading options of `spec` against its declared format
/// before anything is read (the registry's 400 instead of a failed run).
pub fn check_options(spec: &DatasetSpec) -> Result<(), SourceError> {
    if let Some(q) = &spec.options.quarantine {
        super::quarantine::parse(q)?;
    }
    if let Some(n) = spec.options.failed_rows_sample
        && n > super::MAX_FAILED_ROWS_SAMPLE
    {
        return Err(SourceError::Config(format!(
            "dataset `{}`: failed_rows_sample must be between 0 and {}; got {n}",
            spec.alias,
            super::MAX_FAILED_ROWS_SAMPLE
        )));
    }
    if let Some(format) = spec.format {
        check_applicable(spec, format)?;
        if format == Format::Csv {
            self::format(spec)?;
        }
    }
    Ok(())
}

/// The file schema with every column read as text.
pub fn text_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

/// DataFusion applies a CSV null pattern when inferring types but not when
/// reading, so with `null_value` the files are read as text (`table`, kept
/// under a hidden name) and the dataset is a view that turns `null_text`
/// into NULL and casts each column to its inferred type.
pub async fn register_null_view(
    ctx: &SessionContext,
    spec: &DatasetSpec,
    typed: &Schema,
    table: Arc<ListingTable>,
    null_text: &str,
) -> Result<(), SourceError> {
    let bad = |e: datafusion::error::DataFusionError| {
        SourceError::Config(format!(
            "dataset `{}`: null_value: {}",
            spec.alias,
            crate::sql_support::clean(&e)
        ))
    };
    let hidden = format!("__dqgate_text_{}", spec.alias);
    let partitions: Vec<String> = table
        .options()
        .table_partition_cols
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    ctx.register_table(hidden.as_str(), table).map_err(bad)?;
    let mut columns: Vec<Expr> = typed
        .fields()
        .iter()
        .map(|f| {
            let text = Expr::Column(Column::new_unqualified(f.name()));
            cast(nullif(text, lit(null_text)), f.data_type().clone()).alias(f.name())
        })
        .collect();
    columns.extend(
        partitions
            .iter()
            .map(|p| Expr::Column(Column::new_unqualified(p))),
    );
    let view = ctx
        .table(hidden.as_str())
        .await
        .and_then(|t| t.select(columns))
        .map_err(bad)?
        .into_view();
    ctx.register_table(spec.alias.as_str(), view).map_err(bad)?;
    Ok(())
}

/// What reading does with a CSV row whose field count differs from the
/// header's (the `malformed_rows` option).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MalformedRows {
    /// Stop with the file, line and widths (the default).
    #[default]
    Fail,
    /// Read it as a row of NULLs, which fails every rule NULL fails, and
    /// count it (`Dataset.*.MalformedRows`): Spark's PERMISSIVE mode.
    Count,
}

/// With `malformed_rows = "count"`: copies the CSV files `url` lists into
/// memory, each malformed record replaced by one of empty fields (NULLs),
/// registers the copy under a `memory://` URL and returns that URL (same
/// paths, so partitions and globs read alike) and the records replaced.
/// The files are held in memory for the evaluation.
pub async fn count_malformed(
    ctx: &SessionContext,
    spec: &DatasetSpec,
    url: &ListingTableUrl,
    extension: &str,
) -> Result<(ListingTableUrl, u64), SourceError> {
    let read_err = |source: datafusion::error::DataFusionError| SourceError::Read {
        alias: spec.alias.clone(),
        location: spec.location.clone(),
        source,
    };
    let o = &spec.options;
    let delimiter = match &o.delimiter {
        Some(d) => one_byte(spec, "delimiter", d)?,
        None => b',',
    };
    let quote = match &o.quote {
        Some(q) => one_byte(spec, "quote", q)?,
        None => b'"',
    };
    let state = ctx.state();
    let source = state
        .runtime_env()
        .object_store(url.object_store())
        .map_err(read_err)?;
    let files: Vec<object_store::ObjectMeta> = url
        .list_all_files(&state, source.as_ref(), extension)
        .await
        .map_err(read_err)?
        .try_collect()
        .await
        .map_err(read_err)?;
    let copy = Arc::new(InMemory::new());
    let mut malformed = 0;
    for meta in files {
        let store_err = |e: object_store::Error| SourceError::Store {
            alias: spec.alias.clone(),
            location: meta.location.to_string(),
            message: super::store_message(&e),
        };
        let data = source
            .get(&meta.location)
            .await
            .map_err(store_err)?
            .bytes()
            .await
            .map_err(store_err)?;
        let (text, replaced) = replace_malformed(&data, delimiter, quote).map_err(|e| {
            SourceError::Config(format!(
                "dataset `{}`: cannot read {} as CSV: {e}",
                spec.alias, meta.location
            ))
        })?;
        malformed += replaced;
        copy.put(&meta.location, text.into())
            .await
            .map_err(store_err)?;
    }
    let host: String = spec
        .alias
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let base = format!("memory://dqgate-malformed-{host}");
    let store_url = url::Url::parse(&base)
        .map_err(|e| SourceError::Config(format!("dataset `{}`: {e}", spec.alias)))?;
    ctx.register_object_store(&store_url, copy);
    let slash = if url.is_collection() { "/" } else { "" };
    let copied =
        ListingTableUrl::parse(format!("{base}/{}{slash}", url.prefix())).map_err(read_err)?;
    Ok((copied, malformed))
}

/// The CSV text with every record whose field count differs from the
/// first record's replaced by a record of empty fields; and how many were.
fn replace_malformed(data: &[u8], delimiter: u8, quote: u8) -> Result<(Vec<u8>, u64), csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .quote(quote)
        .from_reader(data);
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .quote(quote)
        .from_writer(Vec::with_capacity(data.len()));
    let mut width = None;
    let mut replaced = 0;
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record)? {
        let expected = *width.get_or_insert(record.len());
        if record.len() == expected {
            writer.write_byte_record(&record)?;
        } else {
            replaced += 1;
            let empty = csv::ByteRecord::from(vec![""; expected]);
            writer.write_byte_record(&empty)?;
        }
    }
    let text = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok((text, replaced))
}
