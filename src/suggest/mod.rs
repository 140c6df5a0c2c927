//! Rule suggestions: profile a dataset and write a commented starter DQDL
//! ruleset that validates and passes on the data it came from.
//!
//! One profiling scan (row count, and per column non-NULL count,
//! approximate distinct count, range or length range, 1st and 99th
//! percentiles of numbers), then one scan that confirms key candidates
//! exactly and counts the values outside each numeric column's suggested
//! range, and one GROUP BY per categorical candidate counting its values.
//!
//! What is suggested is meant to be kept, so it follows the data's bulk,
//! not its defects (as Deequ's suggestion rules do); `rules.rs` says how.

mod rules;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::engine;
use crate::plan::sql::{self, ident};

pub use rules::render;

/// Most distinct values a column may have to get an allowed-values rule.
pub const MAX_ALLOWED_VALUES: usize = 20;

/// Most rare values an allowed-values column may have besides its common
/// ones; more is a long tail and the column gets no list.
pub const MAX_RARE_VALUES: usize = 5;

/// Why profiling failed.
#[derive(Debug, thiserror::Error)]
pub enum SuggestError {
    /// A profiling query failed.
    #[error("profiling query failed: {0}")]
    Query(String),
    /// A result had an unexpected shape.
    #[error("unexpected profiling result: {0}")]
    Shape(String),
    /// The dataset cannot be read.
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// The query engine could not be set up.
    #[error("cannot set up the query engine: {0}")]
    Engine(String),
    /// The generated ruleset does not validate (a bug in the generator).
    #[error("internal: the suggested ruleset does not validate:\n{0}")]
    Invalid(String),
}

/// What profiling found about one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnProfile {
    /// The column name.
    pub name: String,
    /// Its Arrow type, as text.
    pub data_type: String,
    /// What kind of rules fit it.
    pub kind: ColumnKind,
    /// Non-NULL values.
    pub non_null: u64,
    /// Approximate distinct non-NULL values (HyperLogLog).
    pub approx_distinct: Option<u64>,
    /// Exact distinct non-NULL values, when the column was a key or
    /// low-cardinality candidate.
    pub distinct: Option<u64>,
    /// Smallest value (numbers), smallest length (strings) or earliest
    /// instant in Unix seconds (dates and timestamps).
    pub min: Option<f64>,
    /// Largest value, length or instant.
    pub max: Option<f64>,
    /// The common values of a categorical string column (seen in at
    /// least 1% of its rows), for its allowed-values rule.
    pub values: Option<Vec<String>>,
    /// The rare values of that column with how often each was seen: left
    /// out of the list, noted for review.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rare_values: Vec<(String, u64)>,
    /// Rows whose value is one of `values`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_rows: Option<u64>,
    /// Numbers: the approximate 1st and 99th percentiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percentiles: Option<(f64, f64)>,
    /// Numbers: values below and above the suggested range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outliers: Option<(u64, u64)>,
}

/// The families of columns suggestions distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Integers and decimals.
    Numeric,
    /// Strings.
    Text,
    /// Dates and timestamps.
    Temporal,
    /// Anything else (booleans, nested types): completeness only.
    Other,
}

/// What profiling found about a dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Rows.
    pub rows: u64,
    /// Columns, in schema order.
    pub columns: Vec<ColumnProfile>,
}

fn kind_of(t: &DataType) -> ColumnKind {
    if sql::is_numeric(t) {
        ColumnKind::Numeric
    } else if sql::is_string(t) {
        ColumnKind::Text
    } else if sql::is_temporal(t) {
        ColumnKind::Temporal
    } else {
        ColumnKind::Other
    }
}

/// Runs `query` and returns its single row, each column cast to `to`.
async fn one_row(ctx: &SessionContext, query: &str) -> Result<Vec<ArrayRef>, SuggestError> {
    let df = ctx
        .sql_with_options(query, engine::read_only())
        .await
        .map_err(|e| SuggestError::Query(engine::clean(&e)))?;
    let batches = df
        .collect()
        .await
        .map_err(|e| SuggestError::Query(engine::clean(&e)))?;
    let batch = batches
        .into_iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| SuggestError::Shape("no row".to_string()))?;
    Ok(batch.columns().to_vec())
}

fn number_at(col: &ArrayRef) -> Result<Option<f64>, SuggestError> {
    let c = cast(col, &DataType::Float64).map_err(|e| SuggestError::Shape(e.to_string()))?;
    let f = c.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
    Ok((!f.is_null(0)).then(|| f.value(0)))
}

/// Profiles table `table` of `ctx`.
pub async fn profile(
    ctx: &SessionContext,
    table: &str,
    schema: &SchemaRef,
) -> Result<Profile, SuggestError> {
    let from = ident(table);
    // Scan 1: counts and ranges of every column.
    let mut select = vec!["COUNT(*)".to_string()];
    let mut slots: Vec<(usize, &'static str)> = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        let c = ident(f.name());
        let kind = kind_of(f.data_type());
        select.push(format!("COUNT({c})"));
        slots.push((i, "non_null"));
        let (lo, hi) = match kind {
            ColumnKind::Numeric => (format!("MIN({c})"), format!("MAX({c})")),
            ColumnKind::Text => (
                format!("MIN(character_length({c}))"),
                format!("MAX(character_length({c}))"),
            ),
            ColumnKind::Temporal => (
                format!("to_unixtime(MIN(CAST({c} AS TIMESTAMP)))"),
                format!("to_unixtime(MAX(CAST({c} AS TIMESTAMP)))"),
            ),
            ColumnKind::Other => continue,
        };
        // HyperLogLog supports integers and strings, the types keys and
        // categories come in.
        if f.data_type().is_integer() || kind == ColumnKind::Text {
            select.push(format!("approx_distinct({c})"));
            slots.push((i, "approx_distinct"));
        }
        if kind == ColumnKind::Numeric {
            for (p, slot) in [(0.01, "p01"), (0.99, "p99")] {
                select.push(format!(
                    "CAST(approx_percentile_cont({p}) WITHIN GROUP (ORDER BY CAST({c} AS DOUBLE)) AS DOUBLE)"
                ));
                slots.push((i, slot));
            }
        }
        select.push(lo);
        slots.push((i, "min"));
        select.push(hi);
        slots.push((i, "max"));
    }
    let row = one_row(ctx, &format!("SELECT {} FROM {from}", select.join(", "))).await?;
    let rows = number_at(&row[0])?.unwrap_or(0.0) as u64;
    let mut columns: Vec<ColumnProfile> = schema
        .fields()
        .iter()
        .map(|f| ColumnProfile {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
            kind: kind_of(f.data_type()),
            non_null: 0,
            approx_distinct: None,
            distinct: None,
            min: None,
            max: None,
            values: None,
            rare_values: Vec::new(),
            common_rows: None,
            percentiles: None,
            outliers: None,
        })
        .collect();
    let mut p01 = vec![None; columns.len()];
    for (slot, (i, what)) in slots.iter().enumerate() {
        let v = number_at(&row[slot + 1])?;
        let c = &mut columns[*i];
        match *what {
            "non_null" => c.non_null = v.unwrap_or(0.0) as u64,
            "approx_distinct" => c.approx_distinct = v.map(|x| x as u64),
            "min" => c.min = v,
            "p01" => p01[*i] = v,
            "p99" => c.percentiles = p01[*i].zip(v),
            _ => c.max = v,
        }
    }
    // Scan 2: exact distinct counts of key candidates, values outside
    // each numeric column's suggested range.
    let mut select = Vec::new();
    let mut wanted: Vec<(usize, bool)> = Vec::new();
    let mut categorical = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        let q = ident(&c.name);
        if let Some(range) = rules::numeric_range(c) {
            let (below, above) = range.outside(&q);
            select.push(format!("COUNT({q}) FILTER (WHERE {below})"));
            select.push(format!("COUNT({q}) FILTER (WHERE {above})"));
            wanted.push((i, true));
        }
        let Some(approx) = c.approx_distinct else {
            continue;
        };
        let key_candidate = c.non_null == rows && rows > 1 && approx as f64 >= 0.97 * rows as f64;
        if key_candidate {
            select.push(format!("COUNT(DISTINCT {q})"));
            wanted.push((i, false));
        } else if rules::may_list_values(c) {
            categorical.push(i);
        }
    }
    if !select.is_empty() {
        let row = one_row(ctx, &format!("SELECT {} FROM {from}", select.join(", "))).await?;
        let mut slot = 0;
        for (i, is_range) in wanted {
            if is_range {
                let below = number_at(&row[slot])?.unwrap_or(0.0) as u64;
                let above = number_at(&row[slot + 1])?.unwrap_or(0.0) as u64;
                columns[i].outliers = Some((below, above));
                slot += 2;
            } else {
                columns[i].distinct = number_at(&row[slot])?.map(|x| x as u64);
                slot += 1;
            }
        }
    }
    // One GROUP BY per categorical candidate: its values by frequency.
    for i in categorical {
        let q = ident(&columns[i].name);
        let limit = MAX_ALLOWED_VALUES + MAX_RARE_VALUES + 1;
        let counts = value_counts(
            ctx,
            &format!(
                "SELECT CAST({q} AS VARCHAR), COUNT(*) FROM {from} WHERE {q} IS NOT NULL \
                 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {limit}"
            ),
        )
        .await?;
        let c = &mut columns[i];
        if counts.len() < limit {
            c.distinct = Some(counts.len() as u64);
        }
        rules::classify_values(c, counts);
    }
    Ok(Profile { rows, columns })
}

/// The (value, count) rows of a two-column query, in its order.
async fn value_counts(
    ctx: &SessionContext,
    query: &str,
) -> Result<Vec<(String, u64)>, SuggestError> {
    let batches = ctx
        .sql_with_options(query, engine::read_only())
        .await
        .map_err(|e| SuggestError::Query(engine::clean(&e)))?
        .collect()
        .await
        .map_err(|e| SuggestError::Query(engine::clean(&e)))?;
    let mut out = Vec::new();
    for b in batches {
        let values =
            cast(b.column(0), &DataType::Utf8).map_err(|e| SuggestError::Shape(e.to_string()))?;
        let counts = cast(b.column(1), &DataType::Float64)
            .map_err(|e| SuggestError::Shape(e.to_string()))?;
        let values = values.as_string::<i32>();
        let counts = counts.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        for r in 0..b.num_rows() {
            if !values.is_null(r) {
                out.push((values.value(r).to_string(), counts.value(r) as u64));
            }
        }
    }
    Ok(out)
}

/// Everything a suggestion is made from.
pub struct SuggestInput<'a> {
    /// Where the data came from, for the header comment.
    pub location: &'a str,
    /// The profile.
    pub profile: &'a Profile,
    /// Past row counts of the dataset, oldest first, if a store has any.
    pub row_count_history: &'a [f64],
    /// The clock freshness rules are measured against.
    pub now: DateTime<Utc>,
}

/// A suggested ruleset with the profile it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// The DQDL text.
    pub ruleset: String,
    /// How many rules it holds.
    pub rules: usize,
    /// What profiling found.
    pub profile: Profile,
}

/// Profiles the dataset `spec` names and suggests a ruleset for it.
/// `row_count_history` holds past row counts (oldest first) when a store
/// has them.
pub async fn suggest(
    spec: &crate::source::DatasetSpec,
    row_count_history: &[f64],
    now: DateTime<Utc>,
) -> Result<Suggestion, SuggestError> {
    suggest_within(spec, row_count_history, now, None).await
}

/// [`suggest`] with the profiling queries' memory bounded to
/// `memory_limit` bytes (the service's evaluation limit).
pub async fn suggest_within(
    spec: &crate::source::DatasetSpec,
    row_count_history: &[f64],
    now: DateTime<Utc>,
    memory_limit: Option<usize>,
) -> Result<Suggestion, SuggestError> {
    let ctx = engine::session(memory_limit).map_err(|e| SuggestError::Engine(engine::clean(&e)))?;
    let mut spec = spec.clone();
    spec.alias = crate::plan::PRIMARY.to_string();
    crate::source::register(&ctx, &spec).await?;
    let table = ctx
        .table(crate::plan::PRIMARY)
        .await
        .map_err(|e| SuggestError::Query(engine::clean(&e)))?;
    let schema: SchemaRef = std::sync::Arc::new(table.schema().as_arrow().clone());
    let profile = profile(&ctx, crate::plan::PRIMARY, &schema).await?;
    let ruleset = render(&SuggestInput {
        location: &spec.location,
        profile: &profile,
        row_count_history,
        now,
    });
    let parsed = crate::dqdl::parse(&ruleset)
        .map_err(|e| SuggestError::Invalid(e.render("suggested.dqdl", &ruleset)))?;
    let rules = parsed.rules.iter().flatten().count();
    Ok(Suggestion {
        ruleset,
        rules,
        profile,
    })
}
