//! Incremental slices of file datasets: the rows of a date range over a
//! partition or timestamp column. The dataset stays registered under a
//! hidden name and the alias becomes a filtered view, so DataFusion prunes
//! partitions (hive folders) and row groups (Parquet statistics) instead of
//! reading the whole table.

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;

use super::{DatasetSpec, SourceError};
use crate::sql_support::{self as sql, ident, literal};

/// The hidden name of a sliced dataset's full table.
pub fn unsliced_name(alias: &str) -> String {
    format!("{alias}__unsliced")
}

/// Replaces the table `spec.alias` with its slice; returns the slice in words.
pub async fn apply(ctx: &SessionContext, spec: &DatasetSpec) -> Result<String, SourceError> {
    let o = &spec.options;
    let bad = |m: String| SourceError::Config(format!("dataset `{}`: {m}", spec.alias));
    let column = o.slice_column.as_deref().ok_or_else(|| {
        bad(
            "start_date/end_date need slice_column, the partition or timestamp column to filter"
                .to_string(),
        )
    })?;
    let day = |v: &Option<String>, what: &str| -> Result<Option<NaiveDate>, SourceError> {
        v.as_deref()
            .map(|t| {
                NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .map_err(|_| bad(format!("{what} `{t}` is not a date such as 2026-11-26")))
            })
            .transpose()
    };
    let (start, end) = (
        day(&o.start_date, "start_date")?,
        day(&o.end_date, "end_date")?,
    );
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        return Err(bad(format!(
            "start_date {s} must be before end_date {e} (end is exclusive)"
        )));
    }
    let table = ctx
        .table(spec.alias.as_str())
        .await
        .map_err(|e| bad(crate::sql_support::clean(&e)))?;
    let field = table
        .schema()
        .fields()
        .iter()
        .find(|f| f.name() == column)
        .cloned()
        .ok_or_else(|| {
            bad(format!(
                "slice_column `{column}` is not a column of the data"
            ))
        })?;
    let bound = |d: NaiveDate| {
        let text = literal(&d.format("%Y-%m-%d").to_string());
        if sql::is_string(field.data_type()) {
            text
        } else {
            format!("CAST({text} AS DATE)")
        }
    };
    let mut predicates = Vec::new();
    let mut words = Vec::new();
    if let Some(s) = start {
        predicates.push(format!("{} >= {}", ident(column), bound(s)));
        words.push(format!("{column} >= {s}"));
    }
    if let Some(e) = end {
        predicates.push(format!("{} < {}", ident(column), bound(e)));
        words.push(format!("{column} < {e}"));
    }
    let hidden = unsliced_name(&spec.alias);
    let full = ctx
        .deregister_table(spec.alias.as_str())
        .map_err(|e| bad(crate::sql_support::clean(&e)))?
        .ok_or_else(|| bad("internal: the table vanished before slicing".to_string()))?;
    ctx.register_table(hidden.as_str(), full)
        .map_err(|e| bad(crate::sql_support::clean(&e)))?;
    let view = ctx
        .sql(&format!(
            "SELECT * FROM {} WHERE {}",
            ident(&hidden),
            predicates.join(" AND ")
        ))
        .await
        .map_err(|e| bad(crate::sql_support::clean(&e)))?
        .into_view();
    ctx.register_table(spec.alias.as_str(), view)
        .map_err(|e| bad(crate::sql_support::clean(&e)))?;
    let pruning = partition_pruning(ctx, spec, column, start, end).await;
    Ok(format!("{}{pruning}", words.join(" and ")))
}

/// How many hive partitions and files the slice keeps, when the column is a
/// `column=value` folder level; otherwise a note that Parquet statistics do
/// the pruning.
async fn partition_pruning(
    ctx: &SessionContext,
    spec: &DatasetSpec,
    column: &str,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
) -> String {
    let Ok(files) = super::objects::list_files(ctx, &spec.location, &spec.options).await else {
        return String::new();
    };
    let marker = format!("{column}=");
    let mut partitions = std::collections::BTreeMap::new();
    let (mut kept_files, mut all_files) = (0usize, 0usize);
    for f in &files {
        let Some(value) = f
            .location
            .split('/')
            .find_map(|part| part.strip_prefix(marker.as_str()))
        else {
            continue;
        };
        all_files += 1;
        let day = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok();
        let kept = day.is_some_and(|d| start.is_none_or(|s| d >= s) && end.is_none_or(|e| d < e));
        partitions.insert(value.to_string(), kept);
        if kept {
            kept_files += 1;
        }
    }
    if all_files == 0 {
        return " (not a partition folder: Parquet statistics prune row groups)".to_string();
    }
    let kept_partitions = partitions.values().filter(|k| **k).count();
    format!(
        ": {kept_partitions} of {} partition(s), {kept_files} of {all_files} file(s)",
        partitions.len()
    )
}
