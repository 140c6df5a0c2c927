//! CSV reading options (`delimiter`, `header`, `null_value`, `quote`) turned
//! into DataFusion's CSV format, and `DatasetSpec::set_option`, the
//! `KEY=VALUE` form the command line's `--data-option` uses.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::Column;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::listing::ListingTable;
use datafusion::functions::expr_fn::nullif;
use datafusion::prelude::{Expr, SessionContext, cast, lit};

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
    ctx.register_table(spec.alias.as_str(), view)
        .map_err(bad)?;
    Ok(())
}
