//! Running a [`Plan`]'s queries in DataFusion: one aggregate scan per
//! dataset, one GROUP BY per frequency request, one query per SQL request,
//! all concurrently. Every query is read-only.

mod user_sql;

use datafusion::arrow::array::{Array, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use futures::future::join_all;
use serde::Serialize;

use crate::plan::sql::ident;
use crate::plan::{PRIMARY, Plan, Query, QueryId};

pub use user_sql::prepare_user_sql;

/// One row of numbers per query, or why the query failed.
pub type QueryResult = Result<Vec<Option<f64>>, String>;

/// A scan the engine runs, as `--explain` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Scan {
    /// What kind of scan.
    pub kind: &'static str,
    /// The dataset scanned (or `*` for multi-dataset queries).
    pub dataset: String,
    /// The SQL text.
    pub sql: String,
    /// The queries it answers.
    pub queries: Vec<QueryId>,
}

/// Read-only SQL: no DDL, no DML (COPY, INSERT), no SET statements.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// (dataset, filter): what frequency requests must share to share a scan.
type ScanKey<'a> = (&'a str, Option<&'a str>);

/// The scans that answer a plan's queries, in execution order.
pub fn scans(plan: &Plan) -> Vec<Scan> {
    let mut out: Vec<Scan> = Vec::new();
    let mut datasets: Vec<&str> = Vec::new();
    for q in &plan.queries {
        if let Query::Aggregate { dataset, .. } = q
            && !datasets.contains(&dataset.as_str())
        {
            datasets.push(dataset);
        }
    }
    for ds in datasets {
        let ids: Vec<QueryId> = plan
            .queries
            .iter()
            .enumerate()
            .filter(|(_, q)| matches!(q, Query::Aggregate { dataset, .. } if dataset == ds))
            .map(|(i, _)| i)
            .collect();
        let exprs: Vec<&str> = ids
            .iter()
            .filter_map(|i| match &plan.queries[*i] {
                Query::Aggregate { expr, .. } => Some(expr.as_str()),
                _ => None,
            })
            .collect();
        out.push(Scan {
            kind: "aggregate",
            dataset: ds.to_string(),
            sql: aggregate_sql(ds, &exprs),
            queries: ids,
        });
    }
    // Frequency requests sharing (dataset, filter) become one GROUPING SETS scan.
    let mut groups: Vec<(ScanKey<'_>, Vec<QueryId>)> = Vec::new();
    for (i, q) in plan.queries.iter().enumerate() {
        if let Query::Frequency {
            dataset, filter, ..
        } = q
        {
            let key = (dataset.as_str(), filter.as_deref());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, ids)) => ids.push(i),
                None => groups.push((key, vec![i])),
            }
        }
    }
    for ((dataset, filter), ids) in groups {
        let sets: Vec<&[String]> = ids
            .iter()
            .filter_map(|i| match &plan.queries[*i] {
                Query::Frequency { columns, .. } => Some(columns.as_slice()),
                _ => None,
            })
            .collect();
        out.push(Scan {
            kind: "frequency",
            dataset: dataset.to_string(),
            sql: frequency_sql(dataset, filter, &sets),
            queries: ids,
        });
    }
    for (i, q) in plan.queries.iter().enumerate() {
        match q {
            Query::Aggregate { .. } | Query::Frequency { .. } => {}
            Query::Sql { sql, from_user } => out.push(Scan {
                kind: if *from_user { "custom sql" } else { "join" },
                dataset: "*".to_string(),
                sql: if *from_user {
                    prepare_user_sql(sql)
                } else {
                    sql.clone()
                },
                queries: vec![i],
            }),
            Query::RowMatch { sql } => out.push(Scan {
                kind: "custom sql (row level)",
                dataset: PRIMARY.to_string(),
                sql: prepare_user_sql(sql),
                queries: vec![i],
            }),
        }
    }
    out
}

fn aggregate_sql(dataset: &str, exprs: &[&str]) -> String {
    let cols: Vec<String> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| format!("{e} AS m{i}"))
        .collect();
    format!("SELECT {} FROM {}", cols.join(", "), ident(dataset))
}

/// Frequency statistics of column sets in one GROUP BY (GROUPING SETS when
/// there are several): per set, [non-NULL rows, distinct non-NULL values,
/// values seen once, Σ f·ln f, NULL groups], concatenated in set order.
fn frequency_sql(dataset: &str, filter: Option<&str>, sets: &[&[String]]) -> String {
    let filter = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
    let all_null = |cols: &[String]| {
        cols.iter()
            .map(|c| format!("{} IS NULL", ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let stats = |set: &str| {
        format!(
            "CAST(sum(f) FILTER (WHERE {set}NOT nk) AS DOUBLE), \
             CAST(count(*) FILTER (WHERE {set}NOT nk) AS DOUBLE), \
             CAST(count(*) FILTER (WHERE {set}f = 1 AND NOT nk) AS DOUBLE), \
             sum(CAST(f AS DOUBLE) * ln(CAST(f AS DOUBLE))) FILTER (WHERE {set}NOT nk), \
             CAST(count(*) FILTER (WHERE {set}nk) AS DOUBLE)"
        )
    };
    if let [cols] = sets {
        let keys: Vec<String> = cols.iter().map(|c| ident(c)).collect();
        return format!(
            "SELECT {} FROM (SELECT count(*) AS f, ({}) AS nk FROM {}{filter} GROUP BY {}) AS freq",
            stats(""),
            all_null(cols),
            ident(dataset),
            keys.join(", ")
        );
    }
    // A set is recognised by exactly its own columns being grouped.
    let mut union: Vec<&String> = Vec::new();
    for c in sets.iter().flat_map(|s| s.iter()) {
        if !union.contains(&c) {
            union.push(c);
        }
    }
    let set_test = |cols: &[String]| {
        union
            .iter()
            .map(|u| format!("grouping({}) = {}", ident(u), u8::from(!cols.contains(u))))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let set_id: Vec<String> = sets
        .iter()
        .enumerate()
        .map(|(i, cols)| format!("WHEN {} THEN {i}", set_test(cols)))
        .collect();
    let null_key: Vec<String> = sets
        .iter()
        .map(|cols| format!("WHEN {} THEN {}", set_test(cols), all_null(cols)))
        .collect();
    let grouping_sets: Vec<String> = sets
        .iter()
        .map(|cols| {
            format!(
                "({})",
                cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    let columns: Vec<String> = (0..sets.len())
        .map(|i| stats(&format!("gs = {i} AND ")))
        .collect();
    format!(
        "SELECT {} FROM (SELECT count(*) AS f, CASE {} END AS gs, CASE {} END AS nk FROM {}{filter} \
         GROUP BY GROUPING SETS ({})) AS freq",
        columns.join(", "),
        set_id.join(" "),
        null_key.join(" "),
        ident(dataset),
        grouping_sets.join(", ")
    )
}

/// Runs every query of `plan`; the result at index i answers query i.
pub async fn execute(ctx: &SessionContext, plan: &Plan) -> Vec<QueryResult> {
    let scans = scans(plan);
    let futures = scans.iter().map(|scan| run_scan(ctx, plan, scan));
    let mut results: Vec<QueryResult> = vec![Err("not run".to_string()); plan.queries.len()];
    for answered in join_all(futures).await {
        for (id, r) in answered {
            results[id] = r;
        }
    }
    results
}

async fn run_scan(ctx: &SessionContext, plan: &Plan, scan: &Scan) -> Vec<(QueryId, QueryResult)> {
    match scan.kind {
        "aggregate" => run_aggregate(ctx, plan, scan).await,
        "frequency" => run_frequency(ctx, plan, scan).await,
        _ => {
            let id = scan.queries[0];
            let r = match &plan.queries[id] {
                Query::RowMatch { sql } => user_sql::row_match(ctx, sql).await,
                Query::Sql {
                    from_user: true, ..
                } => user_sql::scalar(ctx, &scan.sql).await,
                _ => one_row(ctx, &scan.sql).await,
            };
            vec![(id, r)]
        }
    }
}

/// Runs one dataset's aggregates as one scan. If it fails (one rule's bad
/// `where`, a type error, a cast of bad data), each expression is planned
/// alone and the plannable ones run together again, then one by one if
/// still needed, so one bad expression fails only its own rules.
async fn run_aggregate(
    ctx: &SessionContext,
    plan: &Plan,
    scan: &Scan,
) -> Vec<(QueryId, QueryResult)> {
    let exprs: Vec<(QueryId, &str)> = scan
        .queries
        .iter()
        .filter_map(|id| match &plan.queries[*id] {
            Query::Aggregate { expr, .. } => Some((*id, expr.as_str())),
            _ => None,
        })
        .collect();
    if let Ok(values) = one_row(ctx, &scan.sql).await {
        return exprs
            .iter()
            .zip(values)
            .map(|((id, _), v)| (*id, Ok(vec![v])))
            .collect();
    }
    let mut answered = Vec::new();
    let mut good: Vec<(QueryId, &str)> = Vec::new();
    for (id, expr) in exprs {
        match plan_only(ctx, &aggregate_sql(&scan.dataset, &[expr])).await {
            Ok(()) => good.push((id, expr)),
            Err(e) => answered.push((id, Err(e))),
        }
    }
    let together: Vec<&str> = good.iter().map(|(_, e)| *e).collect();
    match one_row(ctx, &aggregate_sql(&scan.dataset, &together)).await {
        Ok(values) if !good.is_empty() => {
            answered.extend(
                good.iter()
                    .zip(values)
                    .map(|((id, _), v)| (*id, Ok(vec![v]))),
            );
        }
        _ => {
            for (id, expr) in good {
                answered.push((
                    id,
                    one_row(ctx, &aggregate_sql(&scan.dataset, &[expr])).await,
                ));
            }
        }
    }
    answered
}

/// Runs merged frequency requests; if the merged query fails, each request
/// runs alone so one bad column set fails only its own rules.
async fn run_frequency(
    ctx: &SessionContext,
    plan: &Plan,
    scan: &Scan,
) -> Vec<(QueryId, QueryResult)> {
    const STATS: usize = 5;
    match one_row(ctx, &scan.sql).await {
        Ok(row) if row.len() == STATS * scan.queries.len() => scan
            .queries
            .iter()
            .zip(row.chunks(STATS))
            .map(|(id, stats)| (*id, Ok(stats.to_vec())))
            .collect(),
        Err(e) if scan.queries.len() == 1 => vec![(scan.queries[0], Err(e))],
        _ => {
            let mut answered = Vec::new();
            for id in &scan.queries {
                if let Query::Frequency {
                    dataset,
                    filter,
                    columns,
                } = &plan.queries[*id]
                {
                    let sql = frequency_sql(dataset, filter.as_deref(), &[columns.as_slice()]);
                    answered.push((*id, one_row(ctx, &sql).await));
                }
            }
            answered
        }
    }
}

/// Plans (and optimizes) a query without running it.
async fn plan_only(ctx: &SessionContext, sql: &str) -> Result<(), String> {
    let df = ctx
        .sql_with_options(sql, read_only())
        .await
        .map_err(|e| clean(&e))?;
    df.into_optimized_plan().map(|_| ()).map_err(|e| clean(&e))
}

/// Runs a query expected to return exactly one row of numbers.
pub(crate) async fn one_row(ctx: &SessionContext, sql: &str) -> QueryResult {
    let df = ctx
        .sql_with_options(sql, read_only())
        .await
        .map_err(|e| clean(&e))?;
    first_row(df).await
}

pub(crate) async fn first_row(df: DataFrame) -> QueryResult {
    let batches = df.collect().await.map_err(|e| clean(&e))?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows != 1 {
        return Err(format!(
            "the query returned {rows} rows; exactly one was expected"
        ));
    }
    let batch = batches
        .iter()
        .find(|b| b.num_rows() == 1)
        .ok_or_else(|| "the query returned no row".to_string())?;
    batch
        .columns()
        .iter()
        .map(|c| number_at(c.as_ref()))
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

/// A DataFusion error as one readable line.
pub fn clean(e: &datafusion::error::DataFusionError) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}
