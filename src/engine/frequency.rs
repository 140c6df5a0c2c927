//! Frequency statistics of column sets in one GROUP BY (GROUPING SETS when
//! there are several): per set, [non-NULL rows, distinct non-NULL values,
//! values seen once, Σ f·ln f, NULL groups], concatenated in set order.
//! [`frame`] builds the scan with the DataFrame API; [`sql`] spells the
//! same scan as SQL for `--explain`.

use datafusion::arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::error::Result;
use datafusion::functions::math::expr_fn::ln;
use datafusion::functions_aggregate::expr_fn::{count, grouping, sum};
use datafusion::logical_expr::{Expr, ExprFunctionExt, GroupingSet, cast, ident, lit, not, when};

use crate::sql_support::ident as quote;

/// Statistics per column set.
pub const STATS: usize = 5;

// Names of intermediate columns, unlike any dataset's column names (a
// column called `f` would otherwise be ambiguous next to the group size).
const F: &str = "__dqgate_f";
const NK: &str = "__dqgate_nk";
const GS: &str = "__dqgate_gs";
const G: &str = "__dqgate_g";

/// The five statistics over `f` (group size) and `nk` (the group's key is
/// all NULL), restricted to the rows where `set` holds.
fn stats(set: Option<Expr>) -> Result<Vec<Expr>> {
    let within = |e: Expr| match &set {
        Some(s) => s.clone().and(e),
        None => e,
    };
    let f = || ident(F);
    let nk = || ident(NK);
    let f64 = |e: Expr| cast(e, DataType::Float64);
    Ok(vec![
        sum(f()).filter(within(not(nk()))).build()?,
        count(lit(1)).filter(within(not(nk()))).build()?,
        count(lit(1))
            .filter(within(f().eq(lit(1_i64)).and(not(nk()))))
            .build()?,
        sum(f64(f()) * ln(f64(f())))
            .filter(within(not(nk())))
            .build()?,
        count(lit(1)).filter(within(nk())).build()?,
    ])
}

fn all_null(cols: &[String]) -> Expr {
    cols.iter()
        .map(|c| ident(c.as_str()).is_null())
        .reduce(Expr::and)
        .unwrap_or_else(|| lit(false))
}

/// The scan over `table`, filtered by `filter`, for the column `sets`.
pub fn frame(table: DataFrame, filter: Option<&Expr>, sets: &[&[String]]) -> Result<DataFrame> {
    let table = match filter {
        Some(f) => table.filter(f.clone())?,
        None => table,
    };
    if let [cols] = sets {
        let keys: Vec<Expr> = cols.iter().map(|c| ident(c.as_str())).collect();
        let groups = table
            .aggregate(keys, vec![count(lit(1)).alias(F)])?
            .select(vec![ident(F), all_null(cols).alias(NK)])?;
        return groups.aggregate(Vec::new(), stats(None)?);
    }
    // A set is recognised by exactly its own columns being grouped.
    let mut union: Vec<&String> = Vec::new();
    for c in sets.iter().flat_map(|s| s.iter()) {
        if !union.contains(&c) {
            union.push(c);
        }
    }
    let mut aggregates = vec![count(lit(1)).alias(F)];
    for (j, u) in union.iter().enumerate() {
        aggregates.push(grouping(ident(u.as_str())).alias(format!("{G}{j}")));
    }
    let set_test = |cols: &[String]| -> Expr {
        union
            .iter()
            .enumerate()
            .map(|(j, u)| ident(format!("{G}{j}")).eq(lit(i32::from(!cols.contains(u)))))
            .reduce(Expr::and)
            .unwrap_or_else(|| lit(true))
    };
    let mut set_id = when(set_test(sets[0]), lit(0_i64));
    let mut null_key = when(set_test(sets[0]), all_null(sets[0]));
    for (i, cols) in sets.iter().enumerate().skip(1) {
        set_id = set_id.when(set_test(cols), lit(i as i64));
        null_key = null_key.when(set_test(cols), all_null(cols));
    }
    let grouping_sets = sets
        .iter()
        .map(|cols| cols.iter().map(|c| ident(c.as_str())).collect())
        .collect();
    let groups = table
        .aggregate(
            vec![Expr::GroupingSet(GroupingSet::GroupingSets(grouping_sets))],
            aggregates,
        )?
        .select(vec![
            ident(F),
            set_id.end()?.alias(GS),
            null_key.end()?.alias(NK),
        ])?;
    let mut columns = Vec::new();
    for i in 0..sets.len() {
        columns.extend(stats(Some(ident(GS).eq(lit(i as i64))))?);
    }
    groups.aggregate(Vec::new(), columns)
}

/// The same scan as SQL text.
pub fn sql(dataset: &str, filter: Option<&str>, sets: &[&[String]]) -> String {
    let filter = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
    let all_null = |cols: &[String]| {
        cols.iter()
            .map(|c| format!("{} IS NULL", quote(c)))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let stats = |set: &str| {
        format!(
            "sum(f) FILTER (WHERE {set}NOT nk), \
             count(*) FILTER (WHERE {set}NOT nk), \
             count(*) FILTER (WHERE {set}f = 1 AND NOT nk), \
             sum(CAST(f AS DOUBLE) * ln(CAST(f AS DOUBLE))) FILTER (WHERE {set}NOT nk), \
             count(*) FILTER (WHERE {set}nk)"
        )
    };
    if let [cols] = sets {
        let keys: Vec<String> = cols.iter().map(|c| quote(c)).collect();
        return format!(
            "SELECT {} FROM (SELECT count(*) AS f, ({}) AS nk FROM {}{filter} GROUP BY {}) AS freq",
            stats(""),
            all_null(cols),
            quote(dataset),
            keys.join(", ")
        );
    }
    let mut union: Vec<&String> = Vec::new();
    for c in sets.iter().flat_map(|s| s.iter()) {
        if !union.contains(&c) {
            union.push(c);
        }
    }
    let set_test = |cols: &[String]| {
        union
            .iter()
            .map(|u| format!("grouping({}) = {}", quote(u), u8::from(!cols.contains(u))))
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
                cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
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
        quote(dataset),
        grouping_sets.join(", ")
    )
}
