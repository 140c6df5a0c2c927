//! Planning: every rule becomes metric requests with a canonical key plus a
//! check over them. Equal requests are computed once across rules and
//! composite leaves; the engine groups them into as few scans as possible.
//!
//! - [`Query::Aggregate`]: one aggregate expression; all of a dataset's
//!   aggregates share ONE scan (`where` becomes an aggregate `FILTER`).
//! - [`Query::Frequency`]: value frequencies of a column set (Uniqueness,
//!   Entropy, ...); one GROUP BY per (dataset, filter, columns).
//! - [`Query::Join`], [`Query::CustomSql`], [`Query::RowMatch`]: whole
//!   queries (ReferentialIntegrity and DatasetMatch; the user's CustomSql).
//!
//! Expressions are typed: the planner spells each one as SQL over quoted
//! identifiers and literals, and an [`ExprParser`] (the engine's) turns it
//! into a DataFusion [`Expr`] against the dataset's schema at planning
//! time. A rule's `where` is parsed alone and must be one boolean
//! expression, so no text of a ruleset is ever spliced into a scan.

pub mod anomaly;
pub mod files;
pub mod metric_names;
mod rules;
pub mod sql;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::logical_expr::Expr;
use serde::{Serialize, Serializer};

use crate::dqdl::ast::{Condition, ConstantValue, Ruleset};

pub use rules::plan_ruleset;

/// Index of a query in [`Plan::queries`].
pub type QueryId = usize;

/// A parsed expression with the SQL text it was parsed from. The text keys
/// deduplication (equal texts parse to equal expressions) and is what
/// `--explain` prints.
#[derive(Debug, Clone)]
pub struct SqlExpr {
    text: String,
    expr: Expr,
}

impl SqlExpr {
    /// Pairs an expression with its text.
    pub fn new(text: impl Into<String>, expr: Expr) -> SqlExpr {
        SqlExpr {
            text: text.into(),
            expr,
        }
    }

    /// The SQL text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The DataFusion expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Both predicates (`self AND other`).
    pub fn and(&self, other: &SqlExpr) -> SqlExpr {
        SqlExpr {
            text: format!("{} AND {}", self.text, other.text),
            expr: self.expr.clone().and(other.expr.clone()),
        }
    }
}

impl PartialEq for SqlExpr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for SqlExpr {}

impl std::hash::Hash for SqlExpr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl Serialize for SqlExpr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// Turns SQL expression text into typed expressions over a dataset's
/// columns. The engine implements it with the evaluation's session, so
/// functions resolve exactly as they will run.
pub trait ExprParser {
    /// Any single expression (aggregate calls included).
    fn value(&self, dataset: &str, text: &str) -> Result<Expr, String>;
    /// A single boolean expression (a `where`, a per-row predicate).
    fn predicate(&self, dataset: &str, text: &str) -> Result<Expr, String>;
}

/// A metric request. Equal requests are merged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Query {
    /// One aggregate function call over a dataset; all of a dataset's
    /// aggregates run as one scan.
    Aggregate {
        /// Dataset alias.
        dataset: String,
        /// The aggregate call, e.g. `count("email")`.
        call: SqlExpr,
        /// Rows it aggregates (`FILTER (WHERE …)`), if not all.
        filter: Option<SqlExpr>,
    },
    /// Frequency statistics of a column set: [non-NULL rows, distinct
    /// non-NULL values, values seen once, Σ f·ln f, NULL groups].
    Frequency {
        /// Dataset alias.
        dataset: String,
        /// The `where` predicate, if any.
        filter: Option<SqlExpr>,
        /// The columns grouped by.
        columns: Vec<String>,
        /// Group on a hash of the key (some column is wide, such as text),
        /// with an exact pass for the hashes of several rows.
        hashed: bool,
    },
    /// A query across datasets written by the planner (quoted identifiers
    /// only), returning one row of numbers.
    Join {
        /// The query text.
        sql: String,
    },
    /// The user's CustomSql, returning one number.
    CustomSql {
        /// The user's query.
        sql: String,
    },
    /// Row-level CustomSql: [primary rows matching a returned row, primary rows].
    RowMatch {
        /// The user's query.
        sql: String,
    },
}

impl Query {
    /// The aggregate as SQL text: `call FILTER (WHERE filter)`.
    pub fn aggregate_text(call: &SqlExpr, filter: Option<&SqlExpr>) -> String {
        match filter {
            Some(f) => format!("{} FILTER (WHERE {})", call.text(), f.text()),
            None => call.text().to_string(),
        }
    }
}

/// Why a query has no result, keeping DataFusion's kind of failure: a rule
/// that cannot be planned is not an evaluation that ran out of memory.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    /// What kind of failure.
    pub kind: EvalErrorKind,
    /// One readable line.
    pub message: String,
}

/// Kinds of evaluation failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalErrorKind {
    /// The query does not plan: unknown column, type mismatch, bad SQL.
    Plan,
    /// The query failed while running: a cast of bad data, unreadable input.
    Execution,
    /// The memory pool or another resource ran out.
    ResourcesExhausted,
    /// The query ran but did not answer with one row of numbers.
    Shape,
}

impl EvalError {
    /// An error of `kind`.
    pub fn new(kind: EvalErrorKind, message: impl Into<String>) -> EvalError {
        EvalError {
            kind,
            message: message.into(),
        }
    }
}

/// One row of numbers per query, or why the query failed.
pub type QueryResult = Result<Vec<Option<f64>>, EvalError>;

/// Which statistic of a [`Query::Frequency`] result a formula takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FreqStat {
    /// Values seen once / non-NULL rows.
    Uniqueness,
    /// Values seen once / distinct values.
    UniqueValueRatio,
    /// Distinct values, NULL counted as one.
    DistinctValuesCount,
    /// −Σ p ln p over non-NULL values.
    Entropy,
}

/// How a metric value derives from query results.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Formula {
    /// Column `index` of a query's row.
    Value(QueryId, usize),
    /// A constant known at planning (schema facts).
    Const(f64),
    /// A ratio; undefined (no rows) when the denominator is 0.
    Ratio(Box<Formula>, Box<Formula>),
    /// A frequency statistic.
    Freq(QueryId, FreqStat),
    /// AggregateMatch: 1 when both are 0, 0 when only the second is.
    AggregateRatio(Box<Formula>, Box<Formula>),
    /// DatasetMatch over [p_rows, p_keys, p_null_keys, r_rows, r_keys, r_null_keys, matched].
    DatasetMatch(QueryId),
}

/// What a rule requires of its values.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The DQDL condition holds for `value`; no value (no rows) is an Error.
    Condition {
        /// Metric name judged.
        subject: String,
        /// The value.
        value: Formula,
        /// The condition.
        condition: Condition,
    },
    /// Per-row rules: every considered row passes, or the threshold holds
    /// for the compliance. No considered rows passes (SPEC §6 DECISION).
    RowLevel {
        /// Metric name of the compliance.
        subject: String,
        /// Passing rows / considered rows.
        compliance: Formula,
        /// `with threshold`, if any.
        threshold: Option<Condition>,
    },
    /// Every value equals 1.0 (IsComplete, IsUnique, IsPrimaryKey).
    AllOne {
        /// (metric name, value) pairs.
        values: Vec<(String, Formula)>,
    },
    /// ColumnNamesMatchPattern: all names match; lists the others.
    NamesMatch {
        /// Metric name.
        subject: String,
        /// The ratio of matching names.
        ratio: f64,
        /// Names that do not match.
        mismatched: Vec<String>,
    },
    /// DetectAnomalies: each metric of the inner rule against its history.
    Anomaly {
        /// The inner rule as written, e.g. `Completeness "email"`.
        inner: String,
        /// Whether the inner rule takes a numeric condition (for the
        /// suggested static rule).
        numeric_inner: bool,
        /// The metrics watched.
        metrics: Vec<(String, Formula)>,
        /// Detector settings from the rule's tags.
        settings: anomaly::Settings,
    },
    /// Decided while planning (schema facts, unsupported rules).
    Decided {
        /// The outcome.
        outcome: Outcome,
        /// Why.
        message: String,
    },
}

/// The outcome of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum Outcome {
    /// The data meets the rule.
    Passed,
    /// The data does not meet the rule.
    Failed,
    /// The rule could not be evaluated.
    Error,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 3] = [Outcome::Passed, Outcome::Failed, Outcome::Error];

    /// The outcome as reported, stored and served (`Passed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "Passed",
            Outcome::Failed => "Failed",
            Outcome::Error => "Error",
        }
    }
}

/// Text that names no outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule outcome `{0}`")]
pub struct UnknownOutcome(pub String);

impl std::str::FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> Result<Self, UnknownOutcome> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_string()))
    }
}

/// A per-row predicate of a row-level rule, for the failed-rows output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowPredicate {
    /// TRUE when the row passes (total: never NULL).
    pub passes: SqlExpr,
    /// The rule's `where`; rows outside it are skipped.
    pub filter: Option<SqlExpr>,
}

/// The plan of one leaf rule or analyzer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeafPlan {
    /// Metrics reported with the outcome, by name.
    pub metrics: Vec<(String, Formula)>,
    /// What the rule requires.
    pub check: Check,
    /// The per-row predicate, for row-level rules over the primary dataset.
    pub row_predicate: Option<RowPredicate>,
    /// Row-level CustomSql: primary rows its query returns pass.
    pub row_match: Option<String>,
    /// The rule's `where` text: with the metric name it keys the history.
    pub where_clause: Option<String>,
}

/// A planned ruleset.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Deduplicated metric requests.
    pub queries: Vec<Query>,
    /// One plan per leaf rule, in order of [`Ruleset`] leaves.
    pub leaves: Vec<LeafPlan>,
    /// Per top-level rule: the ROW-mode plan of a composite (judged in
    /// place of combining its leaves), or `None`.
    pub row_composites: Vec<Option<LeafPlan>>,
    /// One plan per analyzer, in order (`check` is unused).
    pub analyzers: Vec<LeafPlan>,
    /// For each query, the leaf indices (rules) that use it.
    pub users: Vec<Vec<usize>>,
}

/// What the planner knows about the data.
pub struct PlanContext<'a> {
    /// Schemas by dataset alias; `primary` is the dataset under evaluation.
    pub schemas: &'a HashMap<String, SchemaRef>,
    /// Aliases that could not be registered, with the reason.
    pub unavailable: &'a HashMap<String, String>,
    /// The evaluation clock.
    pub now: DateTime<Utc>,
    /// Files for the File* rules.
    pub files: files::FileScope<'a>,
    /// Parses expression text against the datasets' columns.
    pub parser: &'a dyn ExprParser,
    /// How composite rules are evaluated.
    pub composite_mode: crate::dqdl::ast::CompositeMode,
    /// Whether wide frequency keys are grouped by their hash (the engine's
    /// own function, which a cluster's executors do not have).
    pub hash_wide_keys: bool,
}

/// The alias of the dataset under evaluation.
pub const PRIMARY: &str = "primary";

/// Whether a frequency key of this type is grouped by its hash: keys of
/// variable width (text, binary) are; numbers, dates and booleans are
/// grouped as they are.
pub fn is_wide_key(t: &DataType) -> bool {
    match t {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => true,
        DataType::Dictionary(_, value) => is_wide_key(value),
        _ => false,
    }
}

/// Collects queries, merging equal ones.
#[derive(Default)]
pub(crate) struct Registry {
    queries: Vec<Query>,
    index: HashMap<Query, QueryId>,
    users: Vec<Vec<usize>>,
    current_leaf: Option<usize>,
}

impl Registry {
    pub(crate) fn add(&mut self, q: Query) -> QueryId {
        let id = match self.index.get(&q) {
            Some(id) => *id,
            None => {
                let id = self.queries.len();
                self.index.insert(q.clone(), id);
                self.queries.push(q);
                self.users.push(Vec::new());
                id
            }
        };
        // Leaves are planned in order, so a repeat is always the last user.
        if let Some(leaf) = self.current_leaf
            && self.users[id].last() != Some(&leaf)
        {
            self.users[id].push(leaf);
        }
        id
    }
}

/// Expands `$name` constants of a ruleset for the planner.
pub(crate) fn constants(ruleset: &Ruleset) -> HashMap<&str, &ConstantValue> {
    ruleset
        .constants
        .iter()
        .map(|c| (c.name.as_str(), &c.value))
        .collect()
}
