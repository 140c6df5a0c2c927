//! Per-row rules over column values: ColumnLength, ColumnValues,
//! ColumnDataType and DataFreshness. Each yields a total per-row predicate
//! (for the failed-rows output) and its compliance.

use super::*;

impl Planner<'_> {
    pub(super) fn column_length(
        &mut self,
        name: &str,
        cond: &Condition,
        filter: Option<&SqlExpr>,
    ) -> Result<LeafPlan, Settled> {
        let (c, t) = self.column(PRIMARY, name)?;
        // The row check counts NULL as length 0 (SPEC §5); the reported
        // Minimum/MaximumLength ignore NULL, as AllStatistics does, so one
        // name means one thing in every series.
        let length = format!("character_length({})", sql::as_text(&c, &t));
        let len = format!("COALESCE({length}, 0)");
        let pred = sql::numeric_predicate(&len, cond).map_err(error)?;
        let min = self.agg(PRIMARY, &format!("min({length})"), filter)?;
        let max = self.agg(PRIMARY, &format!("max({length})"), filter)?;
        let extra = vec![
            (format!("Column.{name}.MinimumLength"), min),
            (format!("Column.{name}.MaximumLength"), max),
        ];
        // A set of allowed lengths has no min/max reading: report the
        // share of rows in it.
        let report_compliance = matches!(cond, Condition::In { .. });
        self.row_level(
            format!("Column.{name}.ColumnLength.Compliance"),
            pred,
            None,
            filter,
            extra,
            report_compliance,
        )
    }

    pub(super) fn text_items(&self, operands: &[&Operand]) -> Result<Vec<TextItem>, Settled> {
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

    pub(super) fn constant_items(&self, name: &str) -> Result<Vec<TextItem>, Settled> {
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

    pub(super) fn column_values(
        &mut self,
        name: &str,
        cond: &Condition,
        threshold: Option<Condition>,
        filter: Option<&SqlExpr>,
        ignore_case: bool,
        zone: Option<chrono_tz::Tz>,
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
                // `with ignoreCase = "true"` compares lower-cased text.
                let fold = |items: Vec<TextItem>| -> Vec<TextItem> {
                    items
                        .into_iter()
                        .map(|i| match i {
                            TextItem::Text(t) if ignore_case => TextItem::Text(t.to_lowercase()),
                            other => other,
                        })
                        .collect()
                };
                let as_text = sql::as_text(&c, &t);
                let text = if ignore_case {
                    format!("lower({as_text})")
                } else {
                    as_text.clone()
                };
                match cond {
                    Condition::Matches {
                        negated, pattern, ..
                    } => {
                        let pattern = if ignore_case {
                            format!("(?i){}", pattern.value)
                        } else {
                            pattern.value.clone()
                        };
                        regex::Regex::new(&pattern)
                            .map_err(|e| error(format!("invalid regex: {e}")))?;
                        sql::matches_predicate(&as_text, &pattern, *negated)
                    }
                    Condition::Compare { op, operand, .. } => {
                        let items = fold(self.text_items(&[operand])?);
                        let op = if *op == CompareOp::Ne {
                            TextOp::NotIn
                        } else {
                            TextOp::In
                        };
                        sql::text_predicate(&text, op, &items)
                    }
                    Condition::In { negated, set, .. } => {
                        let items = fold(match set {
                            InSet::List(list) => {
                                self.text_items(&list.iter().collect::<Vec<_>>())?
                            }
                            InSet::Constant(name) => self.constant_items(&name.value)?,
                        });
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
                            sql::resolve_date(&d.value, self.ctx.now, zone).map_err(error)?,
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

    pub(super) fn column_data_type(
        &mut self,
        name: &str,
        cond: &Condition,
        threshold: Option<Condition>,
        filter: Option<&SqlExpr>,
        date_format: Option<&str>,
    ) -> Result<LeafPlan, Settled> {
        let (c, t) = self.column(PRIMARY, name)?;
        let text = sql::as_text(&c, &t);
        let casts = |type_name: &str| -> Result<String, Settled> {
            if let Some(pattern) = date_format {
                let pattern = dqdl::date_pattern::DatePattern::parse(pattern).map_err(error)?;
                return Ok(sql::date_in_format(&text, &pattern));
            }
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

    pub(super) fn data_freshness(
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
                    Ok(sql::instant_literal(sql::shift(now, d, true), &lit_type))
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
}
