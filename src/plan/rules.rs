//! Per-rule-type planning: which metrics each rule needs and how it is judged.

use datafusion::arrow::datatypes::{DataType, SchemaRef};

use super::sql::{self, TextItem, TextOp, ident};
use super::*;
use crate::dqdl::ast::{
    CompareOp, Condition, ConstantValue, InSet, Operand, Param, ParamValue, Rule, Span,
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
        where_clause: None,
    }
}

fn ratio(a: Formula, b: Formula) -> Formula {
    Formula::Ratio(Box::new(a), Box::new(b))
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
                "reference not found: no dataset `{alias}`; pass it with --data {alias}=PATH"
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
        let id = self.reg.add(Query::Frequency {
            dataset: dataset.to_string(),
            filter: filter.cloned(),
            columns,
        });
        Formula::Freq(id, stat)
    }

    fn rule(&mut self, r: &Rule) -> Result<LeafPlan, Settled> {
        use RuleType::*;
        let filter_owned = match &r.where_clause {
            Some(w) => Some(self.where_filter(&w.value)?),
            None => None,
        };
        let filter = filter_owned.as_ref();
        let params: Vec<String> = r.params.iter().map(|p| self.text(p)).collect();
        let condition = || {
            r.condition
                .clone()
                .ok_or_else(|| error("missing condition"))
        };
        let t = r.rule_type;
        match t {
            RowCount => {
                let v = self.row_count(PRIMARY, filter)?;
                Ok(numeric("Dataset.*.RowCount", v, condition()?))
            }
            ColumnCount => {
                let n = self.schema(PRIMARY)?.fields().len() as f64;
                Ok(numeric(
                    "Dataset.*.ColumnCount",
                    Formula::Const(n),
                    condition()?,
                ))
            }
            ColumnExists => Ok(*match self.column(PRIMARY, &params[0]) {
                Ok(_) => decided(Outcome::Passed, format!("column {} exists", params[0])),
                Err(settled) => settled,
            }),
            ColumnNamesMatchPattern => self.names_match(&params[0]),
            Completeness | IsComplete => {
                let (c, _) = self.column(PRIMARY, &params[0])?;
                let v = self.completeness(&c, filter)?;
                let name = format!("Column.{}.Completeness", params[0]);
                Ok(if t == IsComplete {
                    leaf(
                        vec![(name.clone(), v.clone())],
                        Check::AllOne {
                            values: vec![(name, v)],
                        },
                    )
                } else {
                    numeric(&name, v, condition()?)
                })
            }
            Uniqueness | IsUnique | IsPrimaryKey => {
                let cols = params
                    .iter()
                    .map(|p| self.column(PRIMARY, p).map(|(c, _)| c))
                    .collect::<Result<Vec<_>, _>>()?;
                let name = if params.len() == 1 {
                    format!("Column.{}.Uniqueness", params[0])
                } else {
                    format!("Multicolumn.{}.Uniqueness", params.join(","))
                };
                let v = self.frequency(PRIMARY, cols.clone(), filter, FreqStat::Uniqueness);
                match t {
                    Uniqueness => Ok(numeric(&name, v, condition()?)),
                    IsUnique => Ok(leaf(
                        vec![(name.clone(), v.clone())],
                        Check::AllOne {
                            values: vec![(name, v)],
                        },
                    )),
                    _ => {
                        let mut values = vec![(name, v)];
                        for (c, p) in cols.iter().zip(&params) {
                            values.push((
                                format!("Column.{p}.Completeness"),
                                self.completeness(c, filter)?,
                            ));
                        }
                        Ok(leaf(values.clone(), Check::AllOne { values }))
                    }
                }
            }
            UniqueValueRatio | DistinctValuesCount | Entropy => {
                let (c, _) = self.column(PRIMARY, &params[0])?;
                let stat = match t {
                    UniqueValueRatio => FreqStat::UniqueValueRatio,
                    DistinctValuesCount => FreqStat::DistinctValuesCount,
                    _ => FreqStat::Entropy,
                };
                let v = self.frequency(PRIMARY, vec![c], filter, stat);
                Ok(numeric(
                    &format!("Column.{}.{}", params[0], t.name()),
                    v,
                    condition()?,
                ))
            }
            Mean | Sum | StandardDeviation | Variance => {
                let v = self.statistic(t, &params[0], filter)?;
                Ok(numeric(
                    &format!("Column.{}.{}", params[0], t.name()),
                    v,
                    condition()?,
                ))
            }
            ColumnCorrelation => {
                let v = self.correlation(&params[0], &params[1], filter)?;
                Ok(numeric(
                    &format!("Multicolumn.{},{}.ColumnCorrelation", params[0], params[1]),
                    v,
                    condition()?,
                ))
            }
            ColumnLength => self.column_length(&params[0], &condition()?, filter),
            ColumnValues => {
                self.column_values(&params[0], &condition()?, r.threshold.clone(), filter)
            }
            ColumnDataType => {
                self.column_data_type(&params[0], &condition()?, r.threshold.clone(), filter)
            }
            DataFreshness => self.data_freshness(&params[0], &condition()?, filter),
            CustomSql => Ok(match &r.condition {
                Some(c) => {
                    let id = self.reg.add(Query::CustomSql {
                        sql: params[0].clone(),
                    });
                    numeric("Dataset.*.CustomSQL", Formula::Value(id, 0), c.clone())
                }
                None => {
                    let id = self.reg.add(Query::RowMatch {
                        sql: params[0].clone(),
                    });
                    let v = ratio(Formula::Value(id, 0), Formula::Value(id, 1));
                    let name = "Dataset.*.CustomSQL.Compliance".to_string();
                    leaf(
                        vec![(name.clone(), v.clone())],
                        Check::RowLevel {
                            subject: name,
                            compliance: v,
                            threshold: r.threshold.clone(),
                        },
                    )
                }
            }),
            RowCountMatch => {
                self.schema(&params[0])?;
                let v = ratio(
                    self.row_count(PRIMARY, None)?,
                    self.row_count(&params[0], None)?,
                );
                Ok(numeric(
                    &format!("Dataset.{}.RowCountMatch", params[0]),
                    v,
                    condition()?,
                ))
            }
            SchemaMatch => {
                let v = self.schema_match(&params[0])?;
                Ok(numeric(
                    &format!("Dataset.{}.SchemaMatch", params[0]),
                    Formula::Const(v),
                    condition()?,
                ))
            }
            ReferentialIntegrity => {
                let v = self.referential_integrity(&params[0], &params[1])?;
                Ok(numeric(
                    &format!("Column.{}.ReferentialIntegrity", params[1]),
                    v,
                    condition()?,
                ))
            }
            DatasetMatch => {
                let v = self.dataset_match(&params)?;
                Ok(numeric(
                    &format!("Dataset.{}.DatasetMatch", params[0]),
                    v,
                    condition()?,
                ))
            }
            AggregateMatch => {
                let (name, v) = self.aggregate_match(&params[0], &params[1])?;
                Ok(numeric(&name, v, condition()?))
            }
            DetectAnomalies => self.detect_anomalies(r, &params),
            FileFreshness | FileMatch | FileSize | FileUniqueness => Ok(
                super::files::plan_file_rule(r, &params, &self.ctx.files, self.ctx.now),
            ),
            AllStatistics => Err(error("AllStatistics is an analyzer")),
        }
    }

    fn detect_anomalies(&mut self, r: &Rule, params: &[String]) -> Result<LeafPlan, Settled> {
        use RuleType::*;
        const WATCHED: [RuleType; 14] = [
            RowCount,
            Completeness,
            Uniqueness,
            Mean,
            Sum,
            StandardDeviation,
            Entropy,
            DistinctValuesCount,
            UniqueValueRatio,
            ColumnLength,
            ColumnValues,
            ColumnCorrelation,
            CustomSql,
            ColumnCount,
        ];
        let name = params.first().map(String::as_str).unwrap_or_default();
        let inner = RuleType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
            .filter(|t| WATCHED.contains(t))
            .ok_or_else(|| {
                error(format!(
                    "DetectAnomalies cannot watch `{name}`; it watches {}",
                    WATCHED.map(|t| t.name()).join(", ")
                ))
            })?;
        let spec = inner.spec();
        let given = params.len() - 1;
        if given < spec.min_params || given > spec.max_params {
            return Err(error(format!(
                "{} takes {} to {} parameter(s), got {given}",
                inner.name(),
                spec.min_params,
                spec.max_params
            )));
        }
        let mut settings = super::anomaly::Settings::default();
        for tag in &r.tags {
            if let Condition::Compare { operand, .. } = &tag.condition {
                let (number, text) = match operand {
                    Operand::Number(n) => (n.literal_value(), None),
                    Operand::Text(t) => (t.value.parse().ok(), Some(t.value.as_str())),
                    _ => (None, None),
                };
                settings.apply_tag(&tag.name, number, text).map_err(error)?;
            }
        }
        let plan = self.analyzer(inner, &r.params[1..])?;
        if let Check::Decided {
            outcome: Outcome::Error | Outcome::Failed,
            ..
        } = plan.check
        {
            return Ok(plan);
        }
        if plan.metrics.is_empty() {
            return Err(error(format!(
                "{} reports no metric for this column type, so there is nothing to watch",
                inner.name()
            )));
        }
        let mut text = inner.name().to_string();
        for p in &params[1..] {
            text.push(' ');
            text.push_str(&crate::dqdl::format::quote(p));
        }
        Ok(leaf(
            plan.metrics.clone(),
            Check::Anomaly {
                inner: text,
                numeric_inner: inner.spec().condition
                    == crate::dqdl::rule_types::ConditionKind::Number,
                metrics: plan.metrics,
                settings,
            },
        ))
    }

    fn completeness(&mut self, col: &str, filter: Option<&SqlExpr>) -> Result<Formula, Settled> {
        let nn = self.agg(PRIMARY, &format!("count({})", ident(col)), filter)?;
        let rows = self.row_count(PRIMARY, filter)?;
        Ok(ratio(nn, rows))
    }

    fn numeric_column(&self, name: &str, what: &str) -> Result<String, Settled> {
        let (c, t) = self.column(PRIMARY, name)?;
        if !sql::is_numeric(&t) {
            return Err(error(format!(
                "{what} needs a numeric column; {name} is {}",
                sql::describe(&t)
            )));
        }
        Ok(c)
    }

    fn statistic(
        &mut self,
        t: RuleType,
        name: &str,
        filter: Option<&SqlExpr>,
    ) -> Result<Formula, Settled> {
        let c = self.numeric_column(name, t.name())?;
        let f = match t {
            RuleType::Mean => "avg",
            RuleType::Sum => "sum",
            RuleType::StandardDeviation => "stddev_pop",
            _ => "var_pop",
        };
        self.agg(PRIMARY, &format!("{f}({})", ident(&c)), filter)
    }

    fn correlation(
        &mut self,
        a: &str,
        b: &str,
        filter: Option<&SqlExpr>,
    ) -> Result<Formula, Settled> {
        let ca = self.numeric_column(a, "ColumnCorrelation")?;
        let cb = self.numeric_column(b, "ColumnCorrelation")?;
        let both = self.predicate(
            PRIMARY,
            &format!("{} IS NOT NULL AND {} IS NOT NULL", ident(&ca), ident(&cb)),
        )?;
        let f = match filter {
            Some(w) => w.and(&both),
            None => both,
        };
        self.agg(
            PRIMARY,
            &format!(
                "corr(CAST({} AS DOUBLE), CAST({} AS DOUBLE))",
                ident(&ca),
                ident(&cb)
            ),
            Some(&f),
        )
    }

    fn names_match(&self, pattern: &str) -> Result<LeafPlan, Settled> {
        let re = regex::Regex::new(pattern).map_err(|e| error(format!("invalid pattern: {e}")))?;
        let schema = self.schema(PRIMARY)?;
        let names: Vec<&String> = schema.fields().iter().map(|f| f.name()).collect();
        // deequ searches rather than full-matches (SPEC §15.5).
        let mismatched: Vec<String> = names
            .iter()
            .filter(|n| !re.is_match(n))
            .map(|n| (*n).clone())
            .collect();
        let ratio = if names.is_empty() {
            1.0
        } else {
            (names.len() - mismatched.len()) as f64 / names.len() as f64
        };
        let subject = "Dataset.*.ColumnNamesPatternMatchRatio".to_string();
        Ok(leaf(
            vec![(subject.clone(), Formula::Const(ratio))],
            Check::NamesMatch {
                subject,
                ratio,
                mismatched,
            },
        ))
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
            where_clause: None,
        })
    }

    fn column_length(
        &mut self,
        name: &str,
        cond: &Condition,
        filter: Option<&SqlExpr>,
    ) -> Result<LeafPlan, Settled> {
        let (c, t) = self.column(PRIMARY, name)?;
        let len = format!("COALESCE(character_length({}), 0)", sql::as_text(&c, &t));
        let pred = sql::numeric_predicate(&len, cond).map_err(error)?;
        let min = self.agg(PRIMARY, &format!("min({len})"), filter)?;
        let max = self.agg(PRIMARY, &format!("max({len})"), filter)?;
        let extra = vec![
            (format!("Column.{name}.MinimumLength"), min),
            (format!("Column.{name}.MaximumLength"), max),
        ];
        self.row_level(
            format!("Column.{name}.ColumnLength.Compliance"),
            pred,
            None,
            filter,
            extra,
            false,
        )
    }

    fn text_items(&self, operands: &[&Operand]) -> Result<Vec<TextItem>, Settled> {
        let mut items = Vec::new();
        for o in operands {
            match o {
                Operand::Text(t) => items.push(TextItem::Text(t.value.clone())),
                Operand::Null(_) => items.push(TextItem::Null),
                Operand::Empty(_) => items.push(TextItem::Empty),
                Operand::WhitespacesOnly(_) => items.push(TextItem::WhitespacesOnly),
                Operand::Constant(name) => items.extend(self.constant_items(&name.value)?),
                _ => return Err(error("expected strings")),
            }
        }
        Ok(items)
    }

    fn constant_items(&self, name: &str) -> Result<Vec<TextItem>, Settled> {
        use crate::dqdl::ast::SetItem;
        Ok(match self.consts.get(name) {
            Some(ConstantValue::Text(t)) => vec![TextItem::Text(t.clone())],
            Some(ConstantValue::List(list)) => list
                .iter()
                .map(|i| match i {
                    SetItem::Text(t) => TextItem::Text(t.clone()),
                    SetItem::Null => TextItem::Null,
                    SetItem::Empty => TextItem::Empty,
                    SetItem::WhitespacesOnly => TextItem::WhitespacesOnly,
                })
                .collect(),
            None => return Err(error(format!("Variable not found: {name}"))),
        })
    }

    fn column_values(
        &mut self,
        name: &str,
        cond: &Condition,
        threshold: Option<Condition>,
        filter: Option<&SqlExpr>,
    ) -> Result<LeafPlan, Settled> {
        let (c, t) = self.column(PRIMARY, name)?;
        let kind = value_kind(cond).map_err(|(_, m)| error(m))?;
        let mut extra = Vec::new();
        let pred = match kind {
            ValueKind::Number => {
                if !sql::is_numeric(&t) {
                    return Err(error(format!(
                        "ColumnValues compares numbers, but {name} is {}",
                        sql::describe(&t)
                    )));
                }
                let pred = sql::numeric_predicate(&ident(&c), cond).map_err(error)?;
                if threshold.is_none() {
                    let (want_min, want_max) = match cond {
                        Condition::Compare {
                            op: CompareOp::Gt | CompareOp::Ge,
                            ..
                        } => (true, false),
                        Condition::Compare {
                            op: CompareOp::Lt | CompareOp::Le,
                            ..
                        } => (false, true),
                        Condition::Compare {
                            op: CompareOp::Eq, ..
                        }
                        | Condition::Between { negated: false, .. } => (true, true),
                        _ => (false, false),
                    };
                    if want_max {
                        let v = self.agg(PRIMARY, &format!("max({})", ident(&c)), filter)?;
                        extra.push((format!("Column.{name}.Maximum"), v));
                    }
                    if want_min {
                        let v = self.agg(PRIMARY, &format!("min({})", ident(&c)), filter)?;
                        extra.push((format!("Column.{name}.Minimum"), v));
                    }
                }
                pred
            }
            ValueKind::Text => {
                let text = sql::as_text(&c, &t);
                match cond {
                    Condition::Matches {
                        negated, pattern, ..
                    } => {
                        regex::Regex::new(&pattern.value)
                            .map_err(|e| error(format!("invalid regex: {e}")))?;
                        sql::matches_predicate(&text, &pattern.value, *negated)
                    }
                    Condition::Compare { op, operand, .. } => {
                        let items = self.text_items(&[operand])?;
                        let op = if *op == CompareOp::Ne {
                            TextOp::NotIn
                        } else {
                            TextOp::In
                        };
                        sql::text_predicate(&text, op, &items)
                    }
                    Condition::In { negated, set, .. } => {
                        let items = match set {
                            InSet::List(list) => {
                                self.text_items(&list.iter().collect::<Vec<_>>())?
                            }
                            InSet::Constant(name) => self.constant_items(&name.value)?,
                        };
                        let op = if *negated { TextOp::NotIn } else { TextOp::In };
                        sql::text_predicate(&text, op, &items)
                    }
                    Condition::Between { .. } => {
                        return Err(error("strings cannot be compared with between"));
                    }
                }
            }
            ValueKind::Date => {
                if !(sql::is_temporal(&t) || sql::is_string(&t)) {
                    return Err(error(format!(
                        "ColumnValues compares dates, but {name} is {}",
                        sql::describe(&t)
                    )));
                }
                let mut bounds = Vec::new();
                for o in cond.operands() {
                    bounds.push(match o {
                        Operand::Date(d) => Some(sql::instant_literal(
                            sql::resolve_date(&d.value, self.ctx.now).map_err(error)?,
                            &t,
                        )),
                        _ => None,
                    });
                }
                sql::temporal_predicate(&sql::as_temporal(&c, &t), cond, &bounds).map_err(error)?
            }
        };
        self.row_level(
            format!("Column.{name}.ColumnValues.Compliance"),
            pred,
            threshold,
            filter,
            extra,
            true,
        )
    }

    fn column_data_type(
        &mut self,
        name: &str,
        cond: &Condition,
        threshold: Option<Condition>,
        filter: Option<&SqlExpr>,
    ) -> Result<LeafPlan, Settled> {
        let (c, t) = self.column(PRIMARY, name)?;
        let text = sql::as_text(&c, &t);
        let casts = |type_name: &str| -> Result<String, Settled> {
            let sql_type = sql::cast_type(type_name).ok_or_else(|| {
                error(format!(
                    "unknown type \"{type_name}\"; use Boolean, Date, Timestamp, Integer, Long, Double, Float, String or DECIMAL(p,s)"
                ))
            })?;
            Ok(sql::casts_to(&text, &sql_type))
        };
        let pred = match cond {
            Condition::Compare {
                op,
                operand: Operand::Text(t),
                ..
            } => {
                let p = casts(&t.value)?;
                if *op == CompareOp::Ne {
                    format!("(NOT {p})")
                } else {
                    p
                }
            }
            Condition::In {
                set: InSet::List(items),
                ..
            } => {
                let mut parts = Vec::new();
                for i in items {
                    if let Operand::Text(t) = i {
                        parts.push(casts(&t.value)?);
                    }
                }
                format!("({})", parts.join(" OR "))
            }
            _ => {
                return Err(error(
                    "ColumnDataType takes = \"Type\", != \"Type\" or in [...]",
                ));
            }
        };
        self.row_level(
            format!("Column.{name}.ColumnDataType.Compliance"),
            pred,
            threshold,
            filter,
            Vec::new(),
            true,
        )
    }

    fn data_freshness(
        &mut self,
        name: &str,
        cond: &Condition,
        filter: Option<&SqlExpr>,
    ) -> Result<LeafPlan, Settled> {
        let (c, t) = self.column(PRIMARY, name)?;
        if !(sql::is_temporal(&t) || sql::is_string(&t)) {
            return Err(error(format!(
                "DataFreshness needs a date or timestamp column; {name} is {}",
                sql::describe(&t)
            )));
        }
        // DATE columns count from midnight; compare as timestamps.
        let (col_sql, lit_type) = match t {
            DataType::Date32 | DataType::Date64 => (
                format!("CAST({} AS TIMESTAMP)", ident(&c)),
                DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
            ),
            _ => (sql::as_temporal(&c, &t), t.clone()),
        };
        let now = self.ctx.now.naive_utc();
        let cutoff = |o: &Operand| -> Result<String, Settled> {
            match o {
                Operand::Duration(d) => {
                    Ok(sql::instant_literal(now - sql::duration_of(d), &lit_type))
                }
                _ => Err(error("DataFreshness needs durations")),
            }
        };
        // age = now - value, so `age op d` is `value (mirrored op) now - d`.
        let pred = match cond {
            Condition::Compare { op, operand, .. } => {
                let mirrored = match op {
                    CompareOp::Gt => "<",
                    CompareOp::Ge => "<=",
                    CompareOp::Lt => ">",
                    CompareOp::Le => ">=",
                    CompareOp::Eq => "=",
                    CompareOp::Ne => "<>",
                };
                format!("COALESCE({col_sql} {mirrored} {}, FALSE)", cutoff(operand)?)
            }
            Condition::Between {
                negated, low, high, ..
            } => {
                let (lo, hi) = (cutoff(low)?, cutoff(high)?);
                if *negated {
                    format!("COALESCE({col_sql} >= {lo} OR {col_sql} <= {hi}, FALSE)")
                } else {
                    format!("COALESCE({col_sql} < {lo} AND {col_sql} > {hi}, FALSE)")
                }
            }
            Condition::In {
                negated,
                set: InSet::List(items),
                ..
            } => {
                let cuts = items.iter().map(&cutoff).collect::<Result<Vec<_>, _>>()?;
                let member = format!("{col_sql} IN ({})", cuts.join(", "));
                if *negated {
                    format!("COALESCE(NOT ({member}), FALSE)")
                } else {
                    format!("COALESCE({member}, FALSE)")
                }
            }
            _ => return Err(error("DataFreshness needs a duration condition")),
        };
        self.row_level(
            format!("Column.{name}.DataFreshness.Compliance"),
            pred,
            None,
            filter,
            Vec::new(),
            true,
        )
    }

    fn schema_match(&self, alias: &str) -> Result<f64, Settled> {
        let p = self.schema(PRIMARY)?;
        let r = self.schema(alias)?;
        if p.fields().len() != r.fields().len() {
            return Ok(0.0);
        }
        if p.fields().is_empty() {
            return Ok(1.0);
        }
        let matching = p
            .fields()
            .iter()
            .filter(|f| {
                r.field_with_name(f.name())
                    .is_ok_and(|g| g.data_type() == f.data_type())
            })
            .count();
        Ok(matching as f64 / p.fields().len() as f64)
    }

    /// `"a,b"` and `"ref.{x,y}"` (or `"ref.x"`).
    fn referential_integrity(
        &mut self,
        primary_cols: &str,
        reference: &str,
    ) -> Result<Formula, Settled> {
        let (alias, ref_cols) = split_alias_columns(reference).ok_or_else(|| {
            error(format!(
                "\"{reference}\" must be alias.column or alias.{{col1,col2}}"
            ))
        })?;
        let p_cols: Vec<&str> = primary_cols.split(',').map(str::trim).collect();
        if p_cols.len() != ref_cols.len() {
            return Err(error(format!(
                "ReferentialIntegrity compares {} primary column(s) with {} reference column(s)",
                p_cols.len(),
                ref_cols.len()
            )));
        }
        let mut conds = Vec::new();
        for (p, r) in p_cols.iter().zip(&ref_cols) {
            let (pc, _) = self.column(PRIMARY, p)?;
            let (rc, _) = self.column(&alias, r)?;
            conds.push(format!("r.{} = p.{}", ident(&rc), ident(&pc)));
        }
        let sql = format!(
            "SELECT CAST(count(*) AS DOUBLE) FROM {} p WHERE EXISTS (SELECT 1 FROM {} r WHERE {})",
            ident(PRIMARY),
            ident(&alias),
            conds.join(" AND ")
        );
        let id = self.reg.add(Query::Join { sql });
        let total = self.row_count(PRIMARY, None)?;
        Ok(ratio(Formula::Value(id, 0), total))
    }

    fn dataset_match(&mut self, params: &[String]) -> Result<Formula, Settled> {
        let alias = &params[0];
        let keys = parse_mappings(&params[1]);
        let p_schema = self.schema(PRIMARY)?;
        self.schema(alias)?;
        let mut key_pairs = Vec::new();
        for (p, r) in &keys {
            key_pairs.push((self.column(PRIMARY, p)?.0, self.column(alias, r)?.0));
        }
        let compared: Vec<(String, String)> = match params.get(2) {
            Some(m) => {
                let mut v = Vec::new();
                for (p, r) in parse_mappings(m) {
                    v.push((self.column(PRIMARY, &p)?.0, self.column(alias, &r)?.0));
                }
                v
            }
            None => p_schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| !key_pairs.iter().any(|(k, _)| k == n))
                .filter_map(|n| self.column(alias, &n).ok().map(|(r, _)| (n, r)))
                .collect(),
        };
        let list = |cols: &[&String]| cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        let pk: Vec<&String> = key_pairs.iter().map(|(p, _)| p).collect();
        let rk: Vec<&String> = key_pairs.iter().map(|(_, r)| r).collect();
        let nulls = |cols: &[&String]| {
            cols.iter()
                .map(|c| format!("{} IS NULL", ident(c)))
                .collect::<Vec<_>>()
                .join(" OR ")
        };
        let join: Vec<String> = key_pairs
            .iter()
            .map(|(p, r)| format!("p.{} = r.{}", ident(p), ident(r)))
            .collect();
        let mut equal: Vec<String> = compared
            .iter()
            .map(|(p, r)| format!("(p.{} IS NOT DISTINCT FROM r.{})", ident(p), ident(r)))
            .collect();
        if equal.is_empty() {
            equal.push("TRUE".to_string());
        }
        let (pt, rt) = (ident(PRIMARY), ident(alias));
        let count = |from: String| format!("(SELECT CAST(count(*) AS DOUBLE) FROM {from})");
        let sql = format!(
            "SELECT {} AS p_rows, {} AS p_keys, {} AS p_null_keys, {} AS r_rows, {} AS r_keys, {} AS r_null_keys, {} AS matched",
            count(pt.clone()),
            count(format!(
                "(SELECT {} FROM {pt} GROUP BY {})",
                list(&pk),
                list(&pk)
            )),
            count(format!("{pt} WHERE {}", nulls(&pk))),
            count(rt.clone()),
            count(format!(
                "(SELECT {} FROM {rt} GROUP BY {})",
                list(&rk),
                list(&rk)
            )),
            count(format!("{rt} WHERE {}", nulls(&rk))),
            count(format!(
                "{pt} p JOIN {rt} r ON {} WHERE {}",
                join.join(" AND "),
                equal.join(" AND ")
            )),
        );
        let id = self.reg.add(Query::Join { sql });
        Ok(Formula::DatasetMatch(id))
    }

    fn aggregate_match(&mut self, first: &str, second: &str) -> Result<(String, Formula), Settled> {
        let (c1, f1) = self.aggregate_expr(first)?;
        let (c2, f2) = self.aggregate_expr(second)?;
        let name = if c1 == c2 {
            format!("Column.{c1}.AggregateMatch")
        } else {
            format!("Column.{c1},{c2}.AggregateMatch")
        };
        Ok((name, Formula::AggregateRatio(Box::new(f1), Box::new(f2))))
    }

    /// `sum(col)`, `avg(alias.col)`, case-insensitive.
    fn aggregate_expr(&mut self, text: &str) -> Result<(String, Formula), Settled> {
        let t = text.trim();
        let open = t
            .find('(')
            .ok_or_else(|| error(format!("\"{text}\" must be sum(column) or avg(column)")))?;
        let func = t[..open].trim().to_ascii_lowercase();
        let inner = t[open + 1..]
            .trim_end()
            .strip_suffix(')')
            .unwrap_or("")
            .trim();
        if !matches!(func.as_str(), "sum" | "avg") || inner.is_empty() {
            return Err(error(format!(
                "\"{text}\" must be sum(column) or avg(column)"
            )));
        }
        let (alias, col) = match inner.rsplit_once('.') {
            Some((a, c))
                if self.ctx.schemas.contains_key(a) || self.ctx.unavailable.contains_key(a) =>
            {
                (a.to_string(), c.to_string())
            }
            Some((a, c)) if a.contains('.') => {
                (a.rsplit('.').next().unwrap_or(a).to_string(), c.to_string())
            }
            _ => (PRIMARY.to_string(), inner.to_string()),
        };
        let (c, t) = self.column(&alias, &col)?;
        if !sql::is_numeric(&t) {
            return Err(error(format!(
                "{func} needs a numeric column; {col} is {}",
                sql::describe(&t)
            )));
        }
        let f = self.agg(&alias, &format!("{func}({})", ident(&c)), None)?;
        Ok((col, f))
    }

    fn analyzer(&mut self, t: RuleType, params: &[Param]) -> Result<LeafPlan, Settled> {
        use RuleType::*;
        let names: Vec<String> = params.iter().map(|p| self.text(p)).collect();
        let span = Span::default();
        match t {
            AllStatistics => {
                let columns: Vec<String> =
                    if names[0] == "AllColumns" && self.column(PRIMARY, "AllColumns").is_err() {
                        self.schema(PRIMARY)?
                            .fields()
                            .iter()
                            .map(|f| f.name().clone())
                            .collect()
                    } else {
                        vec![names[0].clone()]
                    };
                let mut metrics = vec![
                    (
                        "Dataset.*.RowCount".to_string(),
                        self.row_count(PRIMARY, None)?,
                    ),
                    (
                        "Dataset.*.ColumnCount".to_string(),
                        Formula::Const(self.schema(PRIMARY)?.fields().len() as f64),
                    ),
                ];
                for name in columns {
                    let (c, ty) = self.column(PRIMARY, &name)?;
                    metrics.push((
                        format!("Column.{name}.Completeness"),
                        self.completeness(&c, None)?,
                    ));
                    metrics.push((
                        format!("Column.{name}.Uniqueness"),
                        self.frequency(PRIMARY, vec![c.clone()], None, FreqStat::Uniqueness),
                    ));
                    if sql::is_numeric(&ty) {
                        for (label, f) in [
                            ("Minimum", "min"),
                            ("Maximum", "max"),
                            ("Mean", "avg"),
                            ("StandardDeviation", "stddev_pop"),
                            ("Sum", "sum"),
                        ] {
                            metrics.push((
                                format!("Column.{name}.{label}"),
                                self.agg(PRIMARY, &format!("{f}({})", ident(&c)), None)?,
                            ));
                        }
                        metrics.push((
                            format!("Column.{name}.Entropy"),
                            self.frequency(PRIMARY, vec![c.clone()], None, FreqStat::Entropy),
                        ));
                    } else if sql::is_string(&ty) {
                        let len = format!("character_length({})", ident(&c));
                        metrics.push((
                            format!("Column.{name}.MinimumLength"),
                            self.agg(PRIMARY, &format!("min({len})"), None)?,
                        ));
                        metrics.push((
                            format!("Column.{name}.MaximumLength"),
                            self.agg(PRIMARY, &format!("max({len})"), None)?,
                        ));
                    }
                }
                Ok(leaf(
                    metrics,
                    Check::Decided {
                        outcome: Outcome::Passed,
                        message: String::new(),
                    },
                ))
            }
            ColumnValues | ColumnDataType | DataFreshness => {
                // Without a condition there is no compliance; numeric columns
                // still report their range.
                let (c, ty) = self.column(PRIMARY, &names[0])?;
                let mut metrics = Vec::new();
                if t == ColumnValues && sql::is_numeric(&ty) {
                    metrics.push((
                        format!("Column.{}.Minimum", names[0]),
                        self.agg(PRIMARY, &format!("min({})", ident(&c)), None)?,
                    ));
                    metrics.push((
                        format!("Column.{}.Maximum", names[0]),
                        self.agg(PRIMARY, &format!("max({})", ident(&c)), None)?,
                    ));
                }
                Ok(leaf(
                    metrics,
                    Check::Decided {
                        outcome: Outcome::Passed,
                        message: String::new(),
                    },
                ))
            }
            _ => {
                // Plan it as a rule with a placeholder condition and keep its metrics.
                let placeholder = Condition::Compare {
                    op: CompareOp::Ge,
                    operand: Operand::Number(crate::dqdl::ast::NumExpr::Literal {
                        value: 0.0,
                        span,
                    }),
                    span,
                };
                let rule = Rule {
                    rule_type: t,
                    params: params.to_vec(),
                    condition: if t == CustomSql
                        || t.spec().condition == crate::dqdl::rule_types::ConditionKind::Number
                    {
                        Some(placeholder)
                    } else {
                        None
                    },
                    where_clause: None,
                    labels: Vec::new(),
                    threshold: None,
                    tags: Vec::new(),
                    span,
                };
                let mut plan = self.rule(&rule)?;
                if let Check::Condition { subject, value, .. } = &plan.check
                    && plan.metrics.is_empty()
                {
                    plan.metrics.push((subject.clone(), value.clone()));
                }
                Ok(plan)
            }
        }
    }
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

/// Splits `alias.{a,b}` or `alias.col` at the last dot before the columns.
fn split_alias_columns(text: &str) -> Option<(String, Vec<String>)> {
    if let Some(open) = text.find(".{") {
        let inner = text[open + 2..].strip_suffix('}')?;
        let cols = inner.split(',').map(|c| c.trim().to_string()).collect();
        return Some((text[..open].to_string(), cols));
    }
    let (alias, col) = text.rsplit_once('.')?;
    Some((alias.to_string(), vec![col.to_string()]))
}

/// `a->b,c` as [(a, b), (c, c)].
fn parse_mappings(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .map(|m| match m.split_once("->") {
            Some((a, b)) => (a.trim().to_string(), b.trim().to_string()),
            None => (m.trim().to_string(), m.trim().to_string()),
        })
        .collect()
}
