//! Row-level results, as AWS Glue writes them: every primary row that fails
//! at least one row-level rule, with the rules it failed, passed and
//! skipped (outside the rule's `where`) and its result. Row-level rules are
//! those with a per-row predicate (ColumnValues, ColumnLength,
//! ColumnDataType, DataFreshness, Completeness/IsComplete,
//! Uniqueness/IsUnique/IsPrimaryKey) and row-level CustomSql, whose rows
//! pass when its query returns them. A gate run keeps a bounded sample of
//! the same rows per failed rule (`Prepared::failed_row_samples`).

use std::collections::BinaryHeap;

use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::dataframe::{DataFrame, DataFrameWriteOptions};
use datafusion::functions::expr_fn::{coalesce, concat_ws};
use datafusion::functions_nested::expr_fn::array_remove;
use datafusion::functions_nested::string::string_to_array_udf;
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{Expr, JoinType, Operator, binary_expr, ident, lit, not, when};
use futures::StreamExt;

use super::{CheckError, Prepared};
use crate::engine;
use crate::plan::{LeafPlan, Outcome, PRIMARY};
use crate::report::{Report, RowSample, SAMPLE_VALUE_CHARS, SampledRow};

/// Names of the helper columns of rule `i`, unlike any dataset's.
fn pass_column(i: usize) -> String {
    format!("__dqgate_pass_{i}")
}

fn inside_column(i: usize) -> String {
    format!("__dqgate_inside_{i}")
}

fn failed_column(i: usize) -> String {
    format!("__dqgate_failed_{i}")
}

/// Rule `i`'s outcome per row: failed, passed, skipped (outside `where`).
fn outcome(i: usize) -> (Expr, Expr, Expr) {
    let inside = ident(inside_column(i));
    let passes = ident(pass_column(i));
    (
        inside.clone().and(not(passes.clone())),
        inside.clone().and(passes),
        not(inside),
    )
}

/// `a OR b OR …` as a balanced tree, so hundreds of rules do not nest
/// hundreds deep (DataFusion walks expressions recursively).
fn any_of(mut exprs: Vec<Expr>) -> Option<Expr> {
    if exprs.len() <= 1 {
        return exprs.pop();
    }
    let right = exprs.split_off(exprs.len() / 2);
    Some(any_of(exprs)?.or(any_of(right)?))
}

/// True for the rows rule `i` failed.
fn fails(i: usize) -> Expr {
    outcome(i).0
}

/// A value's text, cut at [`SAMPLE_VALUE_CHARS`].
fn cut(text: String) -> String {
    if text.chars().count() <= SAMPLE_VALUE_CHARS {
        return text;
    }
    let mut short: String = text.chars().take(SAMPLE_VALUE_CHARS).collect();
    short.push('…');
    short
}

/// Most row-level rules a sampling pass flags: with more, only the first
/// this many failed rules are sampled, and a row's `failed_rules` names
/// only rules among them.
pub const MAX_FLAGGED_RULES: usize = 200;

/// The helper column of each row's place in reading order.
const ROW_NUMBER: &str = "__dqgate_row";

/// A sampled row and its place in reading order (ordered by the place).
struct Kept {
    position: u64,
    row: SampledRow,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.position == other.position
    }
}

impl Eq for Kept {}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.position.cmp(&other.position)
    }
}

/// A row-level rule with its flags in the flagged frame.
struct RowRule {
    /// Index of its flag columns.
    index: usize,
    /// Its canonical text.
    text: String,
    /// Position of its top-level rule.
    top: usize,
}

/// The primary dataset with the row-level rules' flag columns.
struct Flagged {
    df: DataFrame,
    rules: Vec<RowRule>,
    helpers: Vec<String>,
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
        let Flagged { df, rules, helpers } = self.flagged(false, None).await?;
        let Some(any_fails) = any_of(rules.iter().map(|r| fails(r.index)).collect()) else {
            return Ok((df.filter(lit(false))?, 0));
        };
        // The rule texts a row failed (passed, skipped), as a list.
        let list = |pick: fn((Expr, Expr, Expr)) -> Expr| -> Result<Expr, RowsError> {
            let separator = || lit("\u{1f}");
            let mut args = vec![lit("")];
            for r in &rules {
                args.push(when(pick(outcome(r.index)), lit(r.text.as_str())).end()?);
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

    /// The primary dataset with every row-level rule's pass and
    /// inside-`where` flags (of the rules `only` lists, by index into
    /// [`Prepared::row_units`], when given); `numbered` adds each row's
    /// place in reading order first (joins of row-level rules may reorder
    /// rows).
    async fn flagged(&self, numbered: bool, only: Option<&[usize]>) -> Result<Flagged, RowsError> {
        let units = self.row_units();
        let mut df = self.ctx.table(PRIMARY).await?;
        let mut helpers: Vec<String> = Vec::new();
        if numbered {
            df = df.with_column(ROW_NUMBER, row_number())?;
            helpers.push(ROW_NUMBER.to_string());
        }
        let mut rules = Vec::new();
        for (i, (top, text, plan)) in units.into_iter().enumerate() {
            if only.is_some_and(|only| !only.contains(&i)) {
                continue;
            }
            let Some(flagged) = self.flag_rows(df.clone(), i, plan).await? else {
                continue;
            };
            df = flagged;
            rules.push(RowRule {
                index: i,
                text,
                top,
            });
            helpers.push(pass_column(i));
            helpers.push(inside_column(i));
        }
        Ok(Flagged { df, rules, helpers })
    }

    /// The first `limit` failing rows, in reading order, of each row-level
    /// rule whose top-level rule failed in `report`, with every row-level
    /// rule each row failed. One pass over the primary dataset, streamed;
    /// it holds no more than `limit` rows per rule.
    pub async fn failed_row_samples(
        &self,
        report: &Report,
        limit: usize,
    ) -> Result<Vec<RowSample>, CheckError> {
        let fail = |e: RowsError| CheckError::Samples(e.to_string());
        if limit == 0 {
            return Ok(Vec::new());
        }
        let top_failed = |top: usize| {
            report
                .rules
                .get(top)
                .is_some_and(|r| r.outcome == Outcome::Failed)
        };
        let units = self.row_units();
        let failed_units: Vec<usize> = (0..units.len())
            .filter(|i| top_failed(units[*i].0))
            .collect();
        if failed_units.is_empty() {
            return Ok(Vec::new());
        }
        // Past MAX_FLAGGED_RULES row-level rules, only the first failed
        // ones are flagged (and sampled), so the pass stays bounded.
        let only: Option<Vec<usize>> = (units.len() > MAX_FLAGGED_RULES)
            .then(|| failed_units.into_iter().take(MAX_FLAGGED_RULES).collect());
        let Flagged { df, rules, helpers } =
            self.flagged(true, only.as_deref()).await.map_err(fail)?;
        let sampled: Vec<usize> = (0..rules.len())
            .filter(|k| top_failed(rules[*k].top))
            .collect();
        let Some(any_fails) = any_of(sampled.iter().map(|k| fails(rules[*k].index)).collect())
        else {
            return Ok(Vec::new());
        };
        let columns: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| !helpers.contains(n))
            .collect();
        let mut selected: Vec<Expr> = columns.iter().map(|c| ident(c.as_str())).collect();
        selected.push(ident(ROW_NUMBER));
        selected.extend(
            rules
                .iter()
                .map(|r| fails(r.index).alias(failed_column(r.index))),
        );
        let df = df
            .filter(any_fails)
            .and_then(|d| d.select(selected))
            .map_err(|e| fail(e.into()))?;
        let mut stream = df.execute_stream().await.map_err(|e| fail(e.into()))?;
        // Per sampled rule, the `limit` rows read first so far (a max-heap
        // on the reading position, so the latest is dropped first).
        let mut kept: Vec<BinaryHeap<Kept>> = sampled.iter().map(|_| BinaryHeap::new()).collect();
        let options = FormatOptions::default();
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| fail(e.into()))?;
            let engine_error =
                |e: datafusion::arrow::error::ArrowError| fail(RowsError::Engine(e.into()));
            let positions = batch
                .column(columns.len())
                .as_primitive_opt::<UInt64Type>()
                .ok_or_else(|| fail(RowsError::Query("row numbers are not integers".into())))?;
            let flags: Vec<&BooleanArray> = (0..rules.len())
                .map(|k| batch.column(columns.len() + 1 + k).as_boolean_opt())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| fail(RowsError::Query("rule flags are not booleans".into())))?;
            let formatters = batch.columns()[..columns.len()]
                .iter()
                .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(engine_error)?;
            for row in 0..batch.num_rows() {
                let position = positions.value(row);
                let failed = |k: usize| flags[k].is_valid(row) && flags[k].value(row);
                let wanted: Vec<usize> = sampled
                    .iter()
                    .enumerate()
                    .filter(|(s, k)| {
                        failed(**k)
                            && (kept[*s].len() < limit
                                || kept[*s].peek().is_some_and(|top| position < top.position))
                    })
                    .map(|(s, _)| s)
                    .collect();
                if wanted.is_empty() {
                    continue;
                }
                let values: Vec<Option<String>> = formatters
                    .iter()
                    .zip(batch.columns())
                    .map(|(f, a)| (!a.is_null(row)).then(|| cut(f.value(row).to_string())))
                    .collect();
                let failed_rules: Vec<String> = (0..rules.len())
                    .filter(|k| failed(*k))
                    .map(|k| rules[k].text.clone())
                    .collect();
                for s in wanted {
                    kept[s].push(Kept {
                        position,
                        row: SampledRow {
                            values: values.clone(),
                            failed_rules: failed_rules.clone(),
                        },
                    });
                    if kept[s].len() > limit {
                        kept[s].pop();
                    }
                }
            }
        }
        Ok(sampled
            .iter()
            .zip(kept)
            .filter(|(_, heap)| !heap.is_empty())
            .map(|(k, heap)| RowSample {
                rule_position: rules[*k].top,
                rule: rules[*k].text.clone(),
                columns: columns.clone(),
                rows: heap
                    .into_sorted_vec()
                    .into_iter()
                    .map(|kept| kept.row)
                    .collect(),
            })
            .collect())
    }

    /// What a row is judged by, with the text that names it: each leaf
    /// rule, except that a ROW-mode composite is one unit of its own.
    fn row_units(&self) -> Vec<(usize, String, &LeafPlan)> {
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
                Some(row_plan) => units.push((
                    position,
                    crate::dqdl::format::rule_expr_text(&top.expr),
                    row_plan,
                )),
                None => {
                    for i in next..next + count {
                        if let (Some(text), Some(plan)) = (texts.get(i), self.plan.leaves.get(i)) {
                            units.push((position, text.clone(), plan));
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
