//! Analyzers: metrics recorded without a condition (AllStatistics, and
//! any rule type planned with a placeholder condition).

use super::*;

impl Planner<'_> {
    pub(super) fn analyzer(&mut self, t: RuleType, params: &[Param]) -> Result<LeafPlan, Settled> {
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
