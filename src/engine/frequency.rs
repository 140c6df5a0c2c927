//! Frequency statistics of one column set: [non-NULL rows, distinct
//! non-NULL values, values seen once, Σ f·ln f, NULL groups], exact.
//!
//! Keys of fixed width (numbers, dates, booleans) are grouped as they are.
//! Wide keys (text, binary) are grouped on a 64-bit [`KeyHash`] instead,
//! which keeps a GROUP BY over millions of identifiers small; a hash that
//! stands for more than one row may hide different keys, so a second pass
//! groups exactly the rows of those hashes by their real key and corrects
//! the counts. When nearly every value is unique (the usual uniqueness
//! check), that second pass touches a handful of rows.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray, Int64Array, RecordBatch, UInt64Array};
use datafusion::dataframe::DataFrame;
use datafusion::error::{DataFusionError, Result};
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{Expr, ident, lit};
use futures::StreamExt;

use super::key_hash::{Hashes, KeyHash};
use crate::sql_support::ident as quote;

// Names of intermediate columns, unlike any dataset's column names.
const F: &str = "__dqgate_f";
const NK: &str = "__dqgate_nk";
const H: &str = "__dqgate_h";

/// The running statistics of a stream of groups.
#[derive(Debug, Default)]
struct Tally {
    rows: i64,
    distinct: i64,
    once: i64,
    entropy: f64,
    null_groups: i64,
}

impl Tally {
    fn add(&mut self, f: i64) {
        self.rows += f;
        self.distinct += 1;
        self.once += i64::from(f == 1);
        self.entropy += f_ln_f(f);
    }

    fn values(&self) -> Vec<Option<f64>> {
        let some = self.distinct > 0;
        vec![
            some.then_some(self.rows as f64),
            Some(self.distinct as f64),
            Some(self.once as f64),
            some.then_some(self.entropy),
            Some(self.null_groups as f64),
        ]
    }
}

fn f_ln_f(f: i64) -> f64 {
    let f = f as f64;
    f * f.ln()
}

/// The statistics of `cols` over `table` (already filtered); `hashed`
/// groups on the key's hash (wide keys).
pub async fn stats(table: DataFrame, cols: &[String], hashed: bool) -> Result<Vec<Option<f64>>> {
    let keys: Vec<Expr> = cols.iter().map(|c| ident(c.as_str())).collect();
    if !hashed {
        return direct(table, keys).await;
    }
    by_hash(table, keys, u64::MAX).await
}

/// Groups on the key's hash with only the `mask` bits kept (all of them
/// but in tests, which force collisions), then counts the keys behind
/// the hashes of several rows exactly.
async fn by_hash(table: DataFrame, keys: Vec<Expr>, mask: u64) -> Result<Vec<Option<f64>>> {
    let mut tally = Tally::default();
    // Pass 1: group sizes by hash; hashes of several rows are candidates.
    let groups = table
        .clone()
        .select(vec![KeyHash::udf(mask).call(keys.clone()).alias(H)])?
        .aggregate(vec![ident(H)], vec![count(lit(1)).alias(F)])?;
    let mut candidates: HashMap<u64, i64> = HashMap::new();
    each_batch(groups, |batch| {
        let (h, f) = (uint64(batch, 0)?, int64(batch, 1)?);
        for i in 0..batch.num_rows() {
            if h.is_null(i) {
                tally.null_groups += 1;
                continue;
            }
            tally.add(f.value(i));
            if f.value(i) > 1 {
                candidates.insert(h.value(i), f.value(i));
            }
        }
        Ok(())
    })
    .await?;
    if candidates.is_empty() {
        return Ok(tally.values());
    }
    // Pass 2: the real keys behind the candidate hashes.
    let within = Arc::new(candidates.keys().copied().collect::<Hashes>());
    let exact = table
        .filter(KeyHash::membership(within, mask).call(keys.clone()))?
        .aggregate(keys.clone(), vec![count(lit(1)).alias(F)])?
        .select(vec![KeyHash::udf(mask).call(keys).alias(H), ident(F)])?;
    let mut behind: HashMap<u64, Vec<i64>> = HashMap::new();
    each_batch(exact, |batch| {
        let (h, f) = (uint64(batch, 0)?, int64(batch, 1)?);
        for i in 0..batch.num_rows() {
            behind.entry(h.value(i)).or_default().push(f.value(i));
        }
        Ok(())
    })
    .await?;
    for (h, total) in candidates {
        let sizes = behind.get(&h).map(Vec::as_slice).unwrap_or_default();
        if sizes.iter().sum::<i64>() != total {
            return Err(DataFusionError::Internal(format!(
                "the exact pass found {} rows for a hash of {total}",
                sizes.iter().sum::<i64>()
            )));
        }
        if sizes.len() > 1 {
            // Several keys shared one hash: count them apart.
            tally.distinct += sizes.len() as i64 - 1;
            tally.once += sizes.iter().filter(|f| **f == 1).count() as i64;
            tally.entropy += sizes.iter().map(|f| f_ln_f(*f)).sum::<f64>() - f_ln_f(total);
        }
    }
    Ok(tally.values())
}

/// Group sizes keyed by the columns themselves.
async fn direct(table: DataFrame, keys: Vec<Expr>) -> Result<Vec<Option<f64>>> {
    let all_null = keys
        .iter()
        .map(|k| k.clone().is_null())
        .reduce(Expr::and)
        .unwrap_or_else(|| lit(false));
    let groups = table
        .aggregate(keys, vec![count(lit(1)).alias(F)])?
        .select(vec![ident(F), all_null.alias(NK)])?;
    let mut tally = Tally::default();
    each_batch(groups, |batch| {
        let f = int64(batch, 0)?;
        let nk = batch
            .column(1)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| shape("boolean"))?;
        for i in 0..batch.num_rows() {
            if nk.value(i) {
                tally.null_groups += 1;
            } else {
                tally.add(f.value(i));
            }
        }
        Ok(())
    })
    .await?;
    Ok(tally.values())
}

/// [`direct`] with the tally computed by the engine too, so the answer is
/// one row. For a cluster: after an executor died, Ballista 53 has been
/// seen to return one output partition of a retried job twice; groups
/// streamed back would then be counted twice, silently, while a second
/// row of a one-row answer is refused (an `Error`, never a wrong count).
pub async fn folded(table: DataFrame, cols: &[String]) -> Result<Vec<Option<f64>>> {
    use datafusion::functions::math::expr_fn::ln;
    use datafusion::functions_aggregate::expr_fn::sum;
    use datafusion::logical_expr::{cast, when};
    let keys: Vec<Expr> = cols.iter().map(|c| ident(c.as_str())).collect();
    let all_null = keys
        .iter()
        .map(|k| k.clone().is_null())
        .reduce(Expr::and)
        .unwrap_or_else(|| lit(false));
    let f = || ident(F);
    let real = || datafusion::logical_expr::not(ident(NK));
    let counted = |cond: Expr, value: Expr, zero: Expr| -> Result<Expr> {
        Ok(sum(when(cond, value).otherwise(zero)?))
    };
    let f_ln_f = f() * ln(cast(f(), datafusion::arrow::datatypes::DataType::Float64));
    let tallied = table
        .aggregate(keys, vec![count(lit(1)).alias(F)])?
        .select(vec![f(), all_null.alias(NK)])?
        .aggregate(
            vec![],
            vec![
                counted(real(), f(), lit(0i64))?.alias("rows"),
                counted(real(), lit(1i64), lit(0i64))?.alias("distinct"),
                counted(real().and(f().eq(lit(1i64))), lit(1i64), lit(0i64))?.alias("once"),
                counted(real(), f_ln_f, lit(0.0f64))?.alias("entropy"),
                counted(ident(NK), lit(1i64), lit(0i64))?.alias("null_groups"),
            ],
        )?;
    let row = super::first_row(tallied)
        .await
        .map_err(|e| DataFusionError::Execution(e.message))?;
    let int = |i: usize| row.get(i).copied().flatten().unwrap_or(0.0) as i64;
    let tally = Tally {
        rows: int(0),
        distinct: int(1),
        once: int(2),
        entropy: row.get(3).copied().flatten().unwrap_or(0.0),
        null_groups: int(4),
    };
    Ok(tally.values())
}

/// Streams a query's batches through `each`, one at a time.
async fn each_batch(df: DataFrame, mut each: impl FnMut(&RecordBatch) -> Result<()>) -> Result<()> {
    let mut stream = df.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        each(&batch?)?;
    }
    Ok(())
}

fn shape(what: &str) -> DataFusionError {
    DataFusionError::Internal(format!("the frequency scan did not return a {what} column"))
}

fn uint64(batch: &RecordBatch, i: usize) -> Result<&UInt64Array> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| shape("hash"))
}

fn int64(batch: &RecordBatch, i: usize) -> Result<&Int64Array> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| shape("count"))
}

/// The same scan as SQL text (the second pass of a hashed scan runs only
/// when some hash stands for more than one row).
pub fn sql(dataset: &str, filter: Option<&str>, cols: &[String], hashed: bool) -> String {
    let filter_and = |extra: &str| match filter {
        Some(f) => format!(" WHERE ({f}) AND {extra}"),
        None => format!(" WHERE {extra}"),
    };
    let plain_filter = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
    let keys = cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    if !hashed {
        let all_null = cols
            .iter()
            .map(|c| format!("{} IS NULL", quote(c)))
            .collect::<Vec<_>>()
            .join(" AND ");
        return format!(
            "SELECT count(*) AS f, ({all_null}) AS nk FROM {}{plain_filter} GROUP BY {keys}",
            quote(dataset)
        );
    }
    format!(
        "SELECT key_hash({keys}) AS h, count(*) AS f FROM {ds}{plain_filter} GROUP BY h; \
         then, for the hashes with f > 1: SELECT {keys}, count(*) AS f FROM {ds}{} GROUP BY {keys}",
        filter_and(&format!("key_hash_in({keys})")),
        ds = quote(dataset),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array as Ints, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::prelude::SessionContext;

    fn table(ctx: &SessionContext) -> DataFrame {
        // name: 40 rows over 13 names with varied counts, and 3 NULLs;
        // n: a second key column.
        let mut names = Vec::new();
        let mut ns = Vec::new();
        for i in 0..40_i64 {
            names.push((i % 7 != 3).then(|| format!("name-{}", (i * i) % 13)));
            ns.push(Some(i % 3));
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(names)), Arc::new(Ints::from(ns))],
        )
        .unwrap();
        ctx.read_batch(batch).unwrap()
    }

    fn keys(cols: &[&str]) -> Vec<Expr> {
        cols.iter().map(|c| ident(*c)).collect()
    }

    #[tokio::test]
    async fn hashes_that_collide_are_counted_apart_exactly() {
        let ctx = SessionContext::new();
        for cols in [&["name"][..], &["name", "n"][..]] {
            let exact = direct(table(&ctx), keys(cols)).await.unwrap();
            for mask in [u64::MAX, 0b111, 0b1, 0] {
                let hashed = by_hash(table(&ctx), keys(cols), mask).await.unwrap();
                assert_eq!(hashed.len(), 5);
                for (h, e) in hashed.iter().zip(&exact) {
                    let (h, e) = (h.unwrap(), e.unwrap());
                    assert!(
                        (h - e).abs() <= 1e-9 * e.abs(),
                        "{cols:?} mask {mask}: {hashed:?} vs {exact:?}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn hand_worked_statistics() {
        // a, a, b, NULL, c, c, c: 6 non-NULL rows, 3 values, 1 seen once,
        // Σ f·ln f = 2 ln 2 + 3 ln 3, one NULL group.
        let ctx = SessionContext::new();
        let values = vec![
            Some("a"),
            Some("a"),
            Some("b"),
            None,
            Some("c"),
            Some("c"),
            Some("c"),
        ];
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Utf8, true)]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(values))]).unwrap();
        let expected = [6.0, 3.0, 1.0, 2.0 * 2_f64.ln() + 3.0 * 3_f64.ln(), 1.0];
        for mask in [u64::MAX, 0] {
            let got = by_hash(ctx.read_batch(batch.clone()).unwrap(), keys(&["v"]), mask)
                .await
                .unwrap();
            for (g, e) in got.iter().zip(expected) {
                assert!((g.unwrap() - e).abs() < 1e-12, "mask {mask}: {got:?}");
            }
        }
        let got = folded(ctx.read_batch(batch.clone()).unwrap(), &["v".to_string()])
            .await
            .unwrap();
        for (g, e) in got.iter().zip(expected) {
            assert!((g.unwrap() - e).abs() < 1e-12, "folded: {got:?}");
        }
        let empty = ctx.read_batch(batch).unwrap().filter(lit(false)).unwrap();
        let nothing = vec![None, Some(0.0), Some(0.0), None, Some(0.0)];
        assert_eq!(
            by_hash(empty.clone(), keys(&["v"]), u64::MAX)
                .await
                .unwrap(),
            nothing
        );
        assert_eq!(folded(empty, &["v".to_string()]).await.unwrap(), nothing);
    }
}
