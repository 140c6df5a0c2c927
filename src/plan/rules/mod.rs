//! Per-rule-type planning: which metrics each rule needs and how it is
//! judged. [`Planner::rule`] dispatches each rule type to its family's file.

mod analyzers;
mod anomalies;
mod composite;
mod cross;
mod custom_sql;
mod dataset;
mod frequency;
mod statistics;
mod values;

use datafusion::arrow::datatypes::{DataType, SchemaRef};

use super::sql::{self, TextItem, TextOp, ident};
use super::*;
use crate::dqdl::ast::{
    CompareOp, CompositeMode, Condition, ConstantValue, InSet, Operand, Param, ParamValue, Rule,
    Span,
};
use crate::dqdl::rule_types::RuleType;
use crate::dqdl::validate::{ValueKind, value_kind};

/// Plans every leaf rule and analyzer of a ruleset.
pub fn plan_ruleset(ruleset: &Ruleset, ctx: &PlanContext<'_>) -> Plan {
    let consts = constants(ruleset);
    let mut p = Planner {
        ctx,
        consts,
        reg: Registry::default(),
    };
    let mut leaves = Vec::new();
    let all_leaves: Vec<&Rule> = ruleset
        .rules
        .iter()
        .flatten()
        .flat_map(|t| t.expr.leaves())
        .collect();
    for (i, rule) in all_leaves.into_iter().enumerate() {
        p.reg.current_leaf = Some(i);
        let mut plan = p.rule(rule).unwrap_or_else(|decided| *decided);
        plan.where_clause = rule.where_clause.as_ref().map(|w| w.value.clone());
        leaves.push(plan);
    }
    let mut row_composites = Vec::new();
    let mut first = 0;
    for top in ruleset.rules.iter().flatten() {
        let count = top.expr.leaves().len();
        let row_mode = ctx.composite_mode == CompositeMode::Row
            && matches!(top.expr, crate::dqdl::ast::RuleExpr::Composite(_));
        row_composites.push(row_mode.then(|| p.row_composite(&top.expr, &leaves, first)));
        first += count;
    }
    p.reg.current_leaf = None;
    let analyzers = ruleset
        .analyzers
        .iter()
        .flatten()
        .map(|a| {
            p.analyzer(a.rule_type, &a.params)
                .unwrap_or_else(|decided| *decided)
        })
        .collect();
    Plan {
        queries: p.reg.queries,
        leaves,
        row_composites,
        analyzers,
        users: p.reg.users,
    }
}

/// A rule settled while planning (missing column, unsupported, ...).
type Settled = Box<LeafPlan>;

fn decided(outcome: Outcome, message: impl Into<String>) -> Settled {
    Box::new(LeafPlan {
        metrics: Vec::new(),
        check: Check::Decided {
            outcome,
            message: message.into(),
        },
        row_predicate: None,
        row_match: None,
        where_clause: None,
    })
}

pub(super) fn error(message: impl Into<String>) -> Settled {
    decided(Outcome::Error, message)
}

fn leaf(metrics: Vec<(String, Formula)>, check: Check) -> LeafPlan {
    LeafPlan {
        metrics,
        check,
        row_predicate: None,
        row_match: None,
        where_clause: None,
    }
}

fn ratio(a: Formula, b: Formula) -> Formula {
    Formula::Ratio(Box::new(a), Box::new(b))
}

/// A leaf rule with its parameters resolved and its `where` parsed.
struct Input<'r> {
    rule: &'r Rule,
    params: Vec<String>,
    filter: Option<SqlExpr>,
}

impl Input<'_> {
    fn filter(&self) -> Option<&SqlExpr> {
        self.filter.as_ref()
    }

    fn condition(&self) -> Result<Condition, Settled> {
        self.rule
            .condition
            .clone()
            .ok_or_else(|| error("missing condition"))
    }
}

struct Planner<'a> {
    ctx: &'a PlanContext<'a>,
    consts: HashMap<&'a str, &'a ConstantValue>,
    reg: Registry,
}

impl<'a> Planner<'a> {
    fn schema(&self, alias: &str) -> Result<&'a SchemaRef, Settled> {
        if let Some(s) = self.ctx.schemas.get(alias) {
            return Ok(s);
        }
        Err(match self.ctx.unavailable.get(alias) {
            Some(reason) => error(reason.clone()),
            None => error(format!(
                "reference not found: no dataset was given under the alias `{alias}`"
            )),
        })
    }

    /// Resolves a column by exact name, else by a unique case-insensitive
    /// match. A missing column fails the rule, naming the columns there are.
    fn column(&self, alias: &str, name: &str) -> Result<(String, DataType), Settled> {
        let schema = self.schema(alias)?;
        if let Ok(f) = schema.field_with_name(name) {
            return Ok((f.name().clone(), f.data_type().clone()));
        }
        let matches: Vec<_> = schema
            .fields()
            .iter()
            .filter(|f| f.name().eq_ignore_ascii_case(name))
            .collect();
        if let [f] = matches.as_slice() {
            return Ok((f.name().clone(), f.data_type().clone()));
        }
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        Err(decided(
            Outcome::Failed,
            format!(
                "Input data does not include column {name}! Columns in `{alias}`: {}",
                names.join(", ")
            ),
        ))
    }

    fn text(&self, p: &Param) -> String {
        match &p.value {
            ParamValue::Text(t) => t.clone(),
            ParamValue::Constant(c) => match self.consts.get(c.as_str()) {
                Some(ConstantValue::Text(t)) => t.clone(),
                _ => String::new(),
            },
        }
    }

    /// Parses a value expression written by the planner.
    fn value_expr(&self, dataset: &str, text: &str) -> Result<SqlExpr, Settled> {
        let expr = self.ctx.parser.value(dataset, text).map_err(error)?;
        Ok(SqlExpr::new(text, expr))
    }

    /// Parses a per-row predicate written by the planner.
    fn predicate(&self, dataset: &str, text: &str) -> Result<SqlExpr, Settled> {
        let expr = self.ctx.parser.predicate(dataset, text).map_err(error)?;
        Ok(SqlExpr::new(text, expr))
    }

    /// A rule's `where`: one boolean expression over the primary dataset.
    fn where_filter(&self, text: &str) -> Result<SqlExpr, Settled> {
        let expr = self
            .ctx
            .parser
            .predicate(PRIMARY, text)
            .map_err(|e| error(format!("invalid where clause \"{text}\": {e}")))?;
        Ok(SqlExpr::new(format!("({text})"), expr))
    }

    fn agg(
        &mut self,
        dataset: &str,
        call: &str,
        filter: Option<&SqlExpr>,
    ) -> Result<Formula, Settled> {
        let call = self.value_expr(dataset, call)?;
        let id = self.reg.add(Query::Aggregate {
            dataset: dataset.to_string(),
            call,
            filter: filter.cloned(),
        });
        Ok(Formula::Value(id, 0))
    }

    fn row_count(&mut self, dataset: &str, filter: Option<&SqlExpr>) -> Result<Formula, Settled> {
        self.agg(dataset, "count(*)", filter)
    }

    /// Passing rows / considered rows for a total per-row predicate.
    fn compliance(&mut self, pred: &SqlExpr, filter: Option<&SqlExpr>) -> Result<Formula, Settled> {
        let both = match filter {
            Some(f) => f.and(pred),
            None => pred.clone(),
        };
        let passing = self.agg(PRIMARY, "count(*)", Some(&both))?;
        let total = self.row_count(PRIMARY, filter)?;
        Ok(ratio(passing, total))
    }

    fn frequency(
        &mut self,
        dataset: &str,
        columns: Vec<String>,
        filter: Option<&SqlExpr>,
        stat: FreqStat,
    ) -> Formula {
        let hashed = self.ctx.hash_wide_keys
            && self.ctx.schemas.get(dataset).is_some_and(|schema| {
                columns.iter().any(|c| {
                    schema
                        .field_with_name(c)
                        .is_ok_and(|f| super::is_wide_key(f.data_type()))
                })
            });
        let id = self.reg.add(Query::Frequency {
            dataset: dataset.to_string(),
            filter: filter.cloned(),
            columns,
            hashed,
        });
        Formula::Freq(id, stat)
    }

    /// Plans one leaf rule: this match is the table of contents of the
    /// rule families, one file each.
    fn rule(&mut self, r: &Rule) -> Result<LeafPlan, Settled> {
        use RuleType::*;
        let filter = match &r.where_clause {
            Some(w) => Some(self.where_filter(&w.value)?),
            None => None,
        };
        let input = Input {
            rule: r,
            params: r.params.iter().map(|p| self.text(p)).collect(),
            filter,
        };
        match r.rule_type {
            // dataset.rs: the dataset's shape and its match with others
            RowCount => self.row_count_rule(&input),
            ColumnCount => self.column_count(&input),
            ColumnExists => Ok(self.column_exists(&input)),
            ColumnNamesMatchPattern => self.names_match(&input.params[0]),
            SchemaMatch => self.schema_match_rule(&input),
            RowCountMatch => self.row_count_match(&input),
            // frequency.rs: completeness, uniqueness and value frequencies
            Completeness | IsComplete => self.completeness_rule(&input),
            Uniqueness | IsUnique | IsPrimaryKey => self.uniqueness_rule(&input),
            UniqueValueRatio | DistinctValuesCount | Entropy => self.frequency_rule(&input),
            // statistics.rs: numeric aggregates of columns
            Mean | Sum | StandardDeviation | Variance => self.statistic_rule(&input),
            ColumnCorrelation => self.correlation_rule(&input),
            // values.rs: per-row rules over column values
            ColumnLength => {
                self.column_length(&input.params[0], &input.condition()?, input.filter())
            }
            ColumnValues => self.column_values(
                &input.params[0],
                &input.condition()?,
                r.threshold.clone(),
                input.filter(),
                tag_text(r, "ignoreCase").is_some_and(|v| v.eq_ignore_ascii_case("true")),
                super::files::time_zone(r).map_err(error)?,
            ),
            ColumnDataType => self.column_data_type(
                &input.params[0],
                &input.condition()?,
                r.threshold.clone(),
                input.filter(),
                tag_text(r, "format"),
            ),
            DataFreshness => {
                self.data_freshness(&input.params[0], &input.condition()?, input.filter())
            }
            // custom_sql.rs
            CustomSql => Ok(self.custom_sql(&input)),
            // cross.rs: rules over two datasets
            ReferentialIntegrity => self.referential_integrity_rule(&input),
            DatasetMatch => self.dataset_match_rule(&input),
            AggregateMatch => self.aggregate_match(&input),
            // anomalies.rs
            DetectAnomalies => self.detect_anomalies(r, &input.params),
            // ../files.rs: judged from file facts gathered before planning
            FileFreshness | FileMatch | FileSize | FileUniqueness => Ok(
                super::files::plan_file_rule(r, &input.params, &self.ctx.files, self.ctx.now),
            ),
            // analyzers.rs
            AllStatistics => Err(error("AllStatistics is an analyzer")),
        }
    }

    fn row_level(
        &mut self,
        subject: String,
        pred: String,
        threshold: Option<Condition>,
        filter: Option<&SqlExpr>,
        mut extra: Vec<(String, Formula)>,
        report_compliance: bool,
    ) -> Result<LeafPlan, Settled> {
        let pred = self.predicate(PRIMARY, &pred)?;
        let compliance = self.compliance(&pred, filter)?;
        if report_compliance {
            extra.insert(0, (subject.clone(), compliance.clone()));
        }
        Ok(LeafPlan {
            metrics: extra,
            check: Check::RowLevel {
                subject,
                compliance,
                threshold,
            },
            row_predicate: Some(RowPredicate {
                passes: pred,
                filter: filter.cloned(),
            }),
            row_match: None,
            where_clause: None,
        })
    }
}

/// The value of a rule's `with name = value` tag, as text.
fn tag_text<'r>(r: &'r Rule, name: &str) -> Option<&'r str> {
    r.tags
        .iter()
        .find(|t| t.name == name)
        .and_then(|t| match &t.condition {
            Condition::Compare {
                operand: Operand::Text(v),
                ..
            } => Some(v.value.as_str()),
            _ => None,
        })
}

/// A numeric rule: report the value and judge it with the condition.
fn numeric(name: &str, value: Formula, condition: Condition) -> LeafPlan {
    leaf(
        vec![(name.to_string(), value.clone())],
        Check::Condition {
            subject: name.to_string(),
            value,
            condition,
        },
    )
}
