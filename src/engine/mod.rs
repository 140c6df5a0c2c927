//! Running a [`Plan`]'s queries in DataFusion: one aggregate scan per
//! dataset, one GROUP BY per frequency request (see `frequency`), one
//! query per join or CustomSql, all concurrently. Scans over datasets are
//! built from the plan's typed expressions with the DataFrame API; every
//! SQL text runs read-only.

mod cluster;
mod frequency;
mod identifiers;
mod key_hash;
mod parser;
mod user_sql;

use std::collections::HashMap;
use std::fmt;

use datafusion::arrow::array::{Array, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::future::join_all;
use serde::Serialize;

use crate::plan::{EvalError, EvalErrorKind, PRIMARY, Plan, Query, QueryId, QueryResult, SqlExpr};
use crate::sql_support::ident;

pub use crate::sql_support::clean;
pub use cluster::{DEFAULT_SCHEDULER_PORT, Engine, EngineParseError};
pub use parser::SessionParser;
pub use user_sql::{prepare_user_sql, user_query};

/// The stack of a thread that evaluates checks. Planning recurses over
/// expression and plan trees, and handing a plan to a cluster serializes
/// it recursively with frames of some 100 KiB each in a debug build; the
/// 2 MiB default of spawned threads is too small for either on a wide
/// ruleset.
pub const EVALUATION_STACK_BYTES: usize = 16 * 1024 * 1024;

/// What a scan computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    /// Every aggregate of one dataset, in one pass.
    Aggregate,
    /// Value frequencies of column sets sharing a dataset and filter.
    Frequency,
    /// A planner-written query across datasets.
    Join,
    /// The user's numeric CustomSql.
    CustomSql,
    /// The user's row-level CustomSql matched against the primary rows.
    RowMatch,
}

impl fmt::Display for ScanKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScanKind::Aggregate => "aggregate",
            ScanKind::Frequency => "frequency",
            ScanKind::Join => "join",
            ScanKind::CustomSql => "custom sql",
            ScanKind::RowMatch => "custom sql (row level)",
        })
    }
}

/// A scan the engine runs, as `--explain` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Scan {
    /// What kind of scan.
    pub kind: ScanKind,
    /// The dataset scanned (or `*` for multi-dataset queries).
    pub dataset: String,
    /// The scan as SQL text.
    pub sql: String,
    /// The queries it answers.
    pub queries: Vec<QueryId>,
}

/// A DataFusion session for evaluations, with a bounded memory pool when
/// `memory_limit` is given (exceeding it is a clear "resources exhausted"
/// error for the rules concerned, never an out-of-memory kill).
pub fn session(memory_limit: Option<usize>) -> datafusion::error::Result<SessionContext> {
    session_on(memory_limit, &Engine::Local)
}

/// [`session`] running its scans on `engine`. On a cluster the memory
/// limit bounds what this process holds (plans, results); the executors'
/// memory is the cluster's own setting.
pub fn session_on(
    memory_limit: Option<usize>,
    engine: &Engine,
) -> datafusion::error::Result<SessionContext> {
    // DATAFUSION_* environment variables tune the engine, e.g.
    // DATAFUSION_EXECUTION_TARGET_PARTITIONS=4.
    let mut config = SessionConfig::from_env()?.with_information_schema(false);
    // Read files in sub-folders too: globs across folders and nested
    // layouts that are not hive partitions.
    config
        .options_mut()
        .execution
        .listing_table_ignore_subdirectory = false;
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(bytes) = memory_limit {
        runtime = runtime.with_memory_limit(bytes, 1.0);
    }
    let runtime = runtime.build_arc()?;
    cluster::session_on(engine, config, runtime)
}

/// Read-only SQL: no DDL, no DML (COPY, INSERT), no SET statements.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// A DataFusion error with its kind kept.
pub fn eval_error(e: &DataFusionError) -> EvalError {
    let kind = match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => EvalErrorKind::ResourcesExhausted,
        DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::SQL(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_) => EvalErrorKind::Plan,
        _ => EvalErrorKind::Execution,
    };
    let text = clean(e);
    EvalError::new(kind, cluster::readable(&text).unwrap_or(text))
}

/// The aggregates of one scan: (query, call, filter).
type Aggregates<'a> = [(QueryId, &'a SqlExpr, Option<&'a SqlExpr>)];

/// The most aggregates one scan computes. DataFusion's planning and
/// optimizing time grows faster than linearly with the width of one
/// aggregate, so a dataset with more aggregates is read in several scans
/// of at most this many.
const MAX_AGGREGATES_PER_SCAN: usize = 256;

/// Groups query ids by a key, keeping the order in which keys first appear.
fn grouped<K: std::hash::Hash + Eq + Copy>(
    items: impl Iterator<Item = (K, QueryId)>,
) -> Vec<(K, Vec<QueryId>)> {
    let mut groups: Vec<(K, Vec<QueryId>)> = Vec::new();
    let mut index: HashMap<K, usize> = HashMap::new();
    for (key, id) in items {
        match index.get(&key) {
            Some(&g) => groups[g].1.push(id),
            None => {
                index.insert(key, groups.len());
                groups.push((key, vec![id]))
            }
        }
    }
    groups
}

/// The scans that answer a plan's queries, in execution order.
pub fn scans(plan: &Plan) -> Vec<Scan> {
    let mut out: Vec<Scan> = Vec::new();
    let aggregates = grouped(
        plan.queries
            .iter()
            .enumerate()
            .filter_map(|(i, q)| match q {
                Query::Aggregate { dataset, .. } => Some((dataset.as_str(), i)),
                _ => None,
            }),
    );
    for (dataset, ids) in aggregates {
        for chunk in ids.chunks(MAX_AGGREGATES_PER_SCAN) {
            let texts: Vec<String> = aggregates_of(plan, chunk)
                .iter()
                .map(|(_, call, filter)| Query::aggregate_text(call, *filter))
                .collect();
            out.push(Scan {
                kind: ScanKind::Aggregate,
                dataset: dataset.to_string(),
                sql: aggregate_sql(dataset, &texts),
                queries: chunk.to_vec(),
            });
        }
    }
    for (i, q) in plan.queries.iter().enumerate() {
        let (kind, dataset, sql) = match q {
            Query::Aggregate { .. } => continue,
            Query::Frequency {
                dataset,
                filter,
                columns,
                hashed,
            } => (
                ScanKind::Frequency,
                dataset.as_str(),
                frequency::sql(
                    dataset,
                    filter.as_ref().map(SqlExpr::text),
                    columns,
                    *hashed,
                ),
            ),
            Query::Join { sql } => (ScanKind::Join, "*", sql.clone()),
            Query::CustomSql { sql } => (ScanKind::CustomSql, "*", prepare_user_sql(sql)),
            Query::RowMatch { sql } => (ScanKind::RowMatch, PRIMARY, prepare_user_sql(sql)),
        };
        out.push(Scan {
            kind,
            dataset: dataset.to_string(),
            sql,
            queries: vec![i],
        });
    }
    out
}

fn aggregates_of<'a>(
    plan: &'a Plan,
    ids: &[QueryId],
) -> Vec<(QueryId, &'a SqlExpr, Option<&'a SqlExpr>)> {
    ids.iter()
        .filter_map(|id| match &plan.queries[*id] {
            Query::Aggregate { call, filter, .. } => Some((*id, call, filter.as_ref())),
            _ => None,
        })
        .collect()
}

fn aggregate_sql(dataset: &str, exprs: &[String]) -> String {
    let cols: Vec<String> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{e} AS m{i}"))
        .collect();
    format!("SELECT {} FROM {}", cols.join(", "), ident(dataset))
}

/// Runs every query of `plan`; the result at index i answers query i.
pub async fn execute(ctx: &SessionContext, plan: &Plan) -> Vec<QueryResult> {
    let scans = scans(plan);
    let futures = scans.iter().map(|scan| run_scan(ctx, plan, scan));
    let mut results: Vec<QueryResult> =
        vec![Err(EvalError::new(EvalErrorKind::Execution, "not run")); plan.queries.len()];
    for answered in join_all(futures).await {
        for (id, r) in answered {
            results[id] = r;
        }
    }
    results
}

async fn run_scan(ctx: &SessionContext, plan: &Plan, scan: &Scan) -> Vec<(QueryId, QueryResult)> {
    match scan.kind {
        ScanKind::Aggregate => run_aggregate(ctx, plan, scan).await,
        ScanKind::Frequency => run_frequency(ctx, plan, scan).await,
        ScanKind::Join => vec![(scan.queries[0], one_row(ctx, &scan.sql).await)],
        ScanKind::CustomSql => vec![(scan.queries[0], user_sql::scalar(ctx, &scan.sql).await)],
        ScanKind::RowMatch => {
            let id = scan.queries[0];
            let r = match &plan.queries[id] {
                Query::RowMatch { sql } => user_sql::row_match(ctx, sql).await,
                _ => Err(EvalError::new(
                    EvalErrorKind::Plan,
                    "internal: a row-level scan without its query",
                )),
            };
            vec![(id, r)]
        }
    }
}

/// The aggregate call with its filter attached.
fn filtered(call: &SqlExpr, filter: Option<&SqlExpr>) -> Result<Expr, EvalError> {
    let Some(filter) = filter else {
        return Ok(call.expr().clone());
    };
    match call.expr().clone() {
        Expr::AggregateFunction(mut f) => {
            f.params.filter = Some(Box::new(filter.expr().clone()));
            Ok(Expr::AggregateFunction(f))
        }
        _ => Err(EvalError::new(
            EvalErrorKind::Plan,
            format!("`{}` is not an aggregate function call", call.text()),
        )),
    }
}

/// One dataset's aggregates as a DataFrame with one column per aggregate.
async fn aggregate_frame(
    ctx: &SessionContext,
    dataset: &str,
    aggregates: &Aggregates<'_>,
) -> Result<DataFrame, EvalError> {
    let exprs = aggregates
        .iter()
        .enumerate()
        .map(|(i, (_, call, filter))| filtered(call, *filter).map(|e| e.alias(format!("m{i}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let table = ctx.table(dataset).await.map_err(|e| eval_error(&e))?;
    table
        .aggregate(Vec::new(), exprs)
        .map_err(|e| eval_error(&e))
}

/// Runs aggregates together: exactly one value per aggregate.
async fn aggregate_values(
    ctx: &SessionContext,
    dataset: &str,
    aggregates: &Aggregates<'_>,
) -> Result<Vec<Option<f64>>, EvalError> {
    let df = aggregate_frame(ctx, dataset, aggregates).await?;
    let row = first_row(df).await?;
    if row.len() != aggregates.len() {
        return Err(EvalError::new(
            EvalErrorKind::Shape,
            format!(
                "internal: the scan returned {} columns for {} aggregates",
                row.len(),
                aggregates.len()
            ),
        ));
    }
    Ok(row)
}

/// Runs one dataset's aggregates as one scan. If it fails (one rule's type
/// error, a cast of bad data), each expression is planned alone and the
/// plannable ones run together again, then one by one if still needed, so
/// one bad expression fails only its own rules. Running out of memory is
/// not one rule's fault: every aggregate of the scan reports it.
async fn run_aggregate(
    ctx: &SessionContext,
    plan: &Plan,
    scan: &Scan,
) -> Vec<(QueryId, QueryResult)> {
    let aggregates = aggregates_of(plan, &scan.queries);
    let all_with = |r: &QueryResult| -> Vec<(QueryId, QueryResult)> {
        aggregates.iter().map(|(id, ..)| (*id, r.clone())).collect()
    };
    match aggregate_values(ctx, &scan.dataset, &aggregates).await {
        Ok(values) => {
            return aggregates
                .iter()
                .zip(values)
                .map(|((id, ..), v)| (*id, Ok(vec![v])))
                .collect();
        }
        Err(e) if e.kind == EvalErrorKind::ResourcesExhausted => return all_with(&Err(e)),
        Err(_) => {}
    }
    let mut answered = Vec::new();
    let mut good = Vec::new();
    for a in &aggregates {
        match plan_only(aggregate_frame(ctx, &scan.dataset, std::slice::from_ref(a)).await) {
            Ok(()) => good.push(*a),
            Err(e) => answered.push((a.0, Err(e))),
        }
    }
    if good.is_empty() {
        return answered;
    }
    match aggregate_values(ctx, &scan.dataset, &good).await {
        Ok(values) => {
            answered.extend(
                good.iter()
                    .zip(values)
                    .map(|((id, ..), v)| (*id, Ok(vec![v]))),
            );
        }
        Err(_) => {
            for a in good {
                let r = aggregate_values(ctx, &scan.dataset, &[a]).await;
                answered.push((a.0, r));
            }
        }
    }
    answered
}

/// Runs one frequency request.
async fn run_frequency(
    ctx: &SessionContext,
    plan: &Plan,
    scan: &Scan,
) -> Vec<(QueryId, QueryResult)> {
    let id = scan.queries[0];
    let Query::Frequency {
        dataset,
        filter,
        columns,
        hashed,
    } = &plan.queries[id]
    else {
        return Vec::new();
    };
    let filtered = async {
        let table = ctx.table(dataset.as_str()).await?;
        match filter {
            Some(f) => table.filter(f.expr().clone()),
            None => Ok(table),
        }
    };
    let stats = match filtered.await {
        Ok(table) if crate::sql_support::is_distributed(ctx) => {
            frequency::folded(table, columns).await
        }
        Ok(table) => frequency::stats(table, columns, *hashed).await,
        Err(e) => Err(e),
    };
    vec![(id, stats.map_err(|e| eval_error(&e)))]
}

/// Plans (and optimizes) a query without running it.
fn plan_only(df: Result<DataFrame, EvalError>) -> Result<(), EvalError> {
    df?.into_optimized_plan()
        .map(|_| ())
        .map_err(|e| eval_error(&e))
}

/// Runs a query expected to return exactly one row of numbers.
pub(crate) async fn one_row(ctx: &SessionContext, sql: &str) -> QueryResult {
    let df = ctx
        .sql_with_options(sql, read_only())
        .await
        .map_err(|e| eval_error(&e))?;
    first_row(df).await
}

pub(crate) async fn first_row(df: DataFrame) -> QueryResult {
    let shape = |m: String| EvalError::new(EvalErrorKind::Shape, m);
    let batches = df.collect().await.map_err(|e| eval_error(&e))?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows != 1 {
        return Err(shape(format!(
            "the query returned {rows} rows; exactly one was expected"
        )));
    }
    let batch = batches
        .iter()
        .find(|b| b.num_rows() == 1)
        .ok_or_else(|| shape("the query returned no row".to_string()))?;
    batch
        .columns()
        .iter()
        .map(|c| number_at(c.as_ref()).map_err(shape))
        .collect()
}

fn number_at(array: &dyn Array) -> Result<Option<f64>, String> {
    let t = array.data_type();
    let numeric = t.is_numeric()
        || matches!(
            t,
            DataType::Boolean
                | DataType::Null
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
        );
    if !numeric {
        return Err(format!(
            "the query returned a {t} value; a number was expected"
        ));
    }
    let as_f64 = cast(array, &DataType::Float64).map_err(|e| e.to_string())?;
    let f = as_f64
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| "cannot read the value as a number".to_string())?;
    Ok((!f.is_null(0)).then(|| f.value(0)))
}
