//! Row-level results, as AWS Glue writes them: every primary row that fails
//! at least one row-level rule, with the rules it failed, passed and
//! skipped (outside the rule's `where`) and its result. Row-level rules are
//! those with a per-row predicate (ColumnValues, ColumnLength,
//! ColumnDataType, DataFreshness, Completeness/IsComplete,
//! Uniqueness/IsUnique/IsPrimaryKey) and row-level CustomSql, whose rows
//! pass when its query returns them.

use datafusion::dataframe::{DataFrame, DataFrameWriteOptions};
use datafusion::functions::expr_fn::{coalesce, concat_ws};
use datafusion::functions_nested::expr_fn::array_remove;
use datafusion::functions_nested::string::string_to_array_udf;
use datafusion::logical_expr::{Expr, JoinType, Operator, binary_expr, ident, lit, not, when};

use super::{CheckError, Prepared};
use crate::engine;
use crate::plan::{LeafPlan, PRIMARY};

/// Names of the helper columns of rule `i`, unlike any dataset's.
fn pass_column(i: usize) -> String {
    format!("__dqgate_pass_{i}")
}

fn inside_column(i: usize) -> String {
    format!("__dqgate_inside_{i}")
}

fn match_column(i: usize, k: usize) -> String {
    format!("__dqgate_match_{i}_{k}")
}

impl Prepared {
    /// Streams every primary row that fails at least one row-level rule to a
    /// Parquet file, with Glue's row-level columns. Returns the number of
    /// row-level rules considered.
    pub async fn write_failed_rows(&self, path: &str) -> Result<usize, CheckError> {
        let fail = |message: String| CheckError::FailedRows {
            path: path.to_string(),
            message,
        };
        let (rows, considered) = self.failed_rows().await.map_err(|e| fail(e.to_string()))?;
        rows.write_parquet(
            path,
            DataFrameWriteOptions::new().with_single_file_output(true),
            None,
        )
        .await
        .map_err(|e| fail(engine::clean(&e)))?;
        Ok(considered)
    }

    /// Every primary row that fails at least one row-level rule, with
    /// Glue's row-level columns, as a stream of record batches (nothing is
    /// collected: the gate's quarantine writes them as they come).
    /// `location` names the destination in errors.
    pub async fn failed_rows_stream(
        &self,
        location: &str,
    ) -> Result<datafusion::physical_plan::SendableRecordBatchStream, CheckError> {
        let fail = |message: String| CheckError::FailedRows {
            path: location.to_string(),
            message,
        };
        let (rows, _) = self.failed_rows().await.map_err(|e| fail(e.to_string()))?;
        rows.execute_stream()
            .await
            .map_err(|e| fail(engine::clean(&e)))
    }

    /// The failing rows as a DataFrame, and how many row-level rules were
    /// considered.
    async fn failed_rows(&self) -> Result<(DataFrame, usize), RowsError> {
        let units = self.row_units();
        let mut df = self.ctx.table(PRIMARY).await?;
        let mut rules: Vec<(usize, &str)> = Vec::new();
        let mut helpers: Vec<String> = Vec::new();
        for (i, (text, plan)) in units.iter().enumerate() {
            let Some(flagged) = self.flag_rows(df.clone(), i, plan).await? else {
                continue;
            };
            df = flagged;
            rules.push((i, text.as_str()));
            helpers.push(pass_column(i));
            helpers.push(inside_column(i));
        }
        let outcome = |i: usize| {
            let inside = ident(inside_column(i));
            let passes = ident(pass_column(i));
            (
                inside.clone().and(not(passes.clone())),
                inside.clone().and(passes),
                not(inside),
            )
        };
        let Some(any_fails) = rules.iter().map(|(i, _)| outcome(*i).0).reduce(Expr::or) else {
            return Ok((df.filter(lit(false))?, 0));
        };
        // The rule texts a row failed (passed, skipped), as a list.
        let list = |pick: fn((Expr, Expr, Expr)) -> Expr| -> Result<Expr, RowsError> {
            let separator = || lit("\u{1f}");
            let mut args = vec![lit("")];
            for (i, text) in &rules {
                args.push(when(pick(outcome(*i)), lit(*text)).end()?);
            }
            Ok(array_remove(
                string_to_array_udf().call(vec![concat_ws(separator(), args), separator()]),
                lit(""),
            ))
        };
        let failed = list(|o| o.0)?;
        let passed = list(|o| o.1)?;
        let skipped = list(|o| o.2)?;
        let helper_names: Vec<&str> = helpers.iter().map(String::as_str).collect();
        let df = df
            .filter(any_fails)?
            .with_column("DataQualityRulesFail", failed)?
            .with_column("DataQualityRulesPass", passed)?
            .with_column("DataQualityRulesSkip", skipped)?
            .with_column("DataQualityEvaluationResult", lit("Failed"))?
            .drop_columns(&helper_names)?;
        Ok((df, rules.len()))
    }

    /// What a row is judged by, with the text that names it: each leaf
    /// rule, except that a ROW-mode composite is one unit of its own.
    fn row_units(&self) -> Vec<(String, &LeafPlan)> {
        let texts = self.leaf_texts();
        let mut units = Vec::new();
        let mut next = 0;
        for (position, top) in self.ruleset.rules.iter().flatten().enumerate() {
            let count = top.expr.leaves().len();
            match self
                .plan
                .row_composites
                .get(position)
                .and_then(Option::as_ref)
            {
                Some(row_plan) => {
                    units.push((crate::dqdl::format::rule_expr_text(&top.expr), row_plan))
                }
                None => {
                    for i in next..next + count {
                        if let (Some(text), Some(plan)) = (texts.get(i), self.plan.leaves.get(i)) {
                            units.push((text.clone(), plan));
                        }
                    }
                }
            }
            next += count;
        }
        units
    }

    /// Adds rule `i`'s pass and inside-`where` flags to `df`, or `None`
    /// when the rule has no row-level result.
    async fn flag_rows(
        &self,
        df: DataFrame,
        i: usize,
        leaf: &LeafPlan,
    ) -> Result<Option<DataFrame>, RowsError> {
        if let Some(pred) = &leaf.row_predicate {
            let inside = match &pred.filter {
                Some(f) => coalesce(vec![f.expr().clone(), lit(false)]),
                None => lit(true),
            };
            let passes = coalesce(vec![pred.passes.expr().clone(), lit(false)]);
            return Ok(Some(
                df.with_column(&pass_column(i), passes)?
                    .with_column(&inside_column(i), inside)?,
            ));
        }
        let Some(sql) = &leaf.row_match else {
            return Ok(None);
        };
        // Row-level CustomSql: a primary row passes when the query returns a
        // row equal to it on every returned column (NULL equal to NULL).
        let query = engine::user_query(&self.ctx, sql)
            .await
            .map_err(|e| RowsError::Query(e.message))?;
        let returned: Vec<String> = query
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let renamed: Vec<Expr> = returned
            .iter()
            .enumerate()
            .map(|(k, name)| ident(name.as_str()).alias(match_column(i, k)))
            .collect();
        let matches = query
            .select(renamed)?
            .distinct()?
            .with_column(&pass_column(i), lit(true))?;
        let on: Vec<Expr> = returned
            .iter()
            .enumerate()
            .map(|(k, name)| {
                binary_expr(
                    ident(name.as_str()),
                    Operator::IsNotDistinctFrom,
                    ident(match_column(i, k)),
                )
            })
            .collect();
        let match_names: Vec<String> = (0..returned.len()).map(|k| match_column(i, k)).collect();
        let match_refs: Vec<&str> = match_names.iter().map(String::as_str).collect();
        let joined = df
            .join_on(matches, JoinType::Left, on)?
            .drop_columns(&match_refs)?;
        let passes = coalesce(vec![ident(pass_column(i)), lit(false)]);
        Ok(Some(
            joined
                .with_column(&pass_column(i), passes)?
                .with_column(&inside_column(i), lit(true))?,
        ))
    }
}

/// Why the failing rows could not be computed.
#[derive(Debug, thiserror::Error)]
enum RowsError {
    /// DataFusion could not plan or run the query.
    #[error("{}", engine::clean(.0))]
    Engine(#[from] datafusion::error::DataFusionError),
    /// A row-level CustomSql query failed.
    #[error("{0}")]
    Query(String),
}
