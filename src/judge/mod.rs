//! Judging: metric values against each rule's condition, composites, the
//! score. Knows nothing of DataFusion: it reads query results as numbers.

use chrono::{DateTime, Utc};

use crate::dqdl::ast::{Condition, LogicalOp, NumExpr, Operand, RuleExpr};
use crate::dqdl::format::condition_text;
use crate::dqdl::number::show;
use crate::history::anomaly::{self, Observation};
use crate::history::dynamic::{self, Usage};
use crate::history::{History, SeriesKey};
use crate::plan::{Check, EvalErrorKind, Formula, FreqStat, LeafPlan, Outcome, QueryResult};

/// What judging needs beyond query results: the metric history and the
/// evaluation clock.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Past metric values.
    pub history: &'a History,
    /// The evaluation clock (its weekday picks a seasonal baseline).
    pub now: DateTime<Utc>,
}

/// The judged result of one rule (leaf or composite).
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// The outcome.
    pub outcome: Outcome,
    /// What a person needs to know.
    pub message: String,
    /// Metrics used, by name, in plan order.
    pub metrics: Vec<(String, f64)>,
    /// What anomaly detection saw, for DetectAnomalies.
    pub observations: Vec<Observation>,
    /// The metrics as history keys them (name and `where`), for storing.
    pub series: Vec<(SeriesKey, f64)>,
}

/// Why a formula has no value.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    /// The rule cannot be evaluated.
    Error(String),
    /// The data fails the rule before any comparison (DatasetMatch keys).
    Fail(String),
}

/// A formula's value: `Ok(None)` when undefined for lack of rows.
fn value(f: &Formula, results: &[QueryResult]) -> Result<Option<f64>, Problem> {
    let row = |q: usize| -> Result<&Vec<Option<f64>>, Problem> {
        results
            .get(q)
            .ok_or_else(|| Problem::Error("internal: missing query result".to_string()))?
            .as_ref()
            .map_err(|e| {
                Problem::Error(match e.kind {
                    EvalErrorKind::ResourcesExhausted => format!(
                        "the evaluation ran out of memory before this rule could be computed: {}",
                        e.message
                    ),
                    _ => e.message.clone(),
                })
            })
    };
    let at = |r: &Vec<Option<f64>>, i: usize| r.get(i).copied().flatten();
    Ok(match f {
        Formula::Value(q, i) => at(row(*q)?, *i),
        Formula::Const(v) => Some(*v),
        Formula::Ratio(a, b) => match (value(a, results)?, value(b, results)?) {
            (_, None) | (None, _) => None,
            (_, Some(0.0)) => None,
            (Some(n), Some(d)) => Some(n / d),
        },
        Formula::AggregateRatio(a, b) => match (value(a, results)?, value(b, results)?) {
            (Some(x), Some(y)) if x == 0.0 && y == 0.0 => Some(1.0),
            (Some(_), Some(0.0)) => Some(0.0),
            (Some(x), Some(y)) => Some(x / y),
            _ => None,
        },
        Formula::Freq(q, stat) => {
            let r = row(*q)?;
            let n = at(r, 0).unwrap_or(0.0);
            let distinct = at(r, 1).unwrap_or(0.0);
            let unique = at(r, 2).unwrap_or(0.0);
            let f_ln_f = at(r, 3).unwrap_or(0.0);
            let null_groups = at(r, 4).unwrap_or(0.0);
            match stat {
                FreqStat::Uniqueness => (n > 0.0).then(|| unique / n),
                FreqStat::UniqueValueRatio => (distinct > 0.0).then(|| unique / distinct),
                FreqStat::DistinctValuesCount => {
                    Some(distinct + if null_groups > 0.0 { 1.0 } else { 0.0 })
                }
                FreqStat::Entropy => (n > 0.0).then(|| n.ln() - f_ln_f / n),
            }
        }
        Formula::DatasetMatch(q) => {
            let r = row(*q)?;
            let v = |i| at(r, i).unwrap_or(0.0);
            let (p_rows, p_keys, p_nulls, r_rows, r_keys, r_nulls, matched) =
                (v(0), v(1), v(2), v(3), v(4), v(5), v(6));
            if p_keys != p_rows || r_keys != r_rows || p_nulls > 0.0 || r_nulls > 0.0 {
                return Err(Problem::Fail(
                    "Provided key map not suitable for given data frames: keys must be unique and non-NULL in both datasets"
                        .to_string(),
                ));
            }
            (p_rows > 0.0).then(|| matched / p_rows)
        }
    })
}

/// Replaces every dynamic operand of `c` with its value over `past`
/// (values of the judged metric, newest first). Returns the literal
/// condition and what the resolution used of the history.
pub fn resolve_condition(c: &Condition, past: &[f64]) -> Result<(Condition, Usage), String> {
    let mut usage = Usage::default();
    let mut resolve = |o: &Operand| -> Result<Operand, String> {
        match o {
            Operand::Number(e) if e.is_dynamic() => {
                let (v, u) = dynamic::resolve(e, past)?;
                usage.dynamic = true;
                usage.points = usage.points.max(u.points);
                usage.no_history |= u.no_history;
                Ok(Operand::Number(NumExpr::Literal {
                    value: v,
                    span: e.span(),
                }))
            }
            other => Ok(other.clone()),
        }
    };
    let resolved = c.map_operands(&mut resolve)?;
    Ok((resolved, usage))
}

/// "required > avg(last(7)) * 0.8, which resolved to > 96400 over 7 past
/// values" for dynamic conditions; "required > 5" otherwise.
fn requirement(original: &Condition, resolved: &Condition, usage: Usage) -> String {
    let text = condition_text(original);
    if !usage.dynamic {
        return format!("required {text}");
    }
    let source = if usage.no_history {
        "no history yet, so last() counted as 0".to_string()
    } else {
        format!("over {} past value(s)", usage.points)
    };
    // Show resolved values to 6 decimals; judging used them exact.
    let shown = round_literals(resolved);
    format!(
        "required {text}, which resolved to {} ({source})",
        condition_text(&shown)
    )
}

/// A copy of `c` with every number literal rounded as [`show`] prints it.
fn round_literals(c: &Condition) -> Condition {
    let rounded = c.map_operands(|o| {
        Ok::<Operand, ()>(match o {
            Operand::Number(NumExpr::Literal { value, span }) => {
                Operand::Number(NumExpr::Literal {
                    value: show(*value).parse().unwrap_or(*value),
                    span: *span,
                })
            }
            other => other.clone(),
        })
    });
    rounded.unwrap_or_else(|()| c.clone())
}

/// Judges `v` against a condition that may be dynamic.
fn judge_value(
    subject: &str,
    v: f64,
    condition: &Condition,
    key: &SeriesKey,
    ctx: &Context<'_>,
) -> (Outcome, String) {
    let past = ctx.history.newest_first(key);
    let (resolved, usage) = match resolve_condition(condition, &past) {
        Ok(r) => r,
        Err(e) => return (Outcome::Error, format!("dynamic rule: {e}")),
    };
    match resolved.holds(v) {
        Err(e) => (Outcome::Error, e.to_string()),
        Ok(ok) => (
            if ok { Outcome::Passed } else { Outcome::Failed },
            format!(
                "{subject} was {}; {}",
                show(v),
                requirement(condition, &resolved, usage)
            ),
        ),
    }
}

/// Judges one leaf rule.
pub fn judge_leaf(plan: &LeafPlan, results: &[QueryResult], ctx: &Context<'_>) -> Judged {
    let metrics: Vec<(String, f64)> = plan
        .metrics
        .iter()
        .filter_map(|(name, f)| match value(f, results) {
            Ok(Some(v)) if v.is_finite() => Some((name.clone(), v)),
            _ => None,
        })
        .collect();
    let series = metrics
        .iter()
        .map(|(name, v)| (SeriesKey::new(name, plan.where_clause.as_deref()), *v))
        .collect();
    let mut observations = Vec::new();
    let (outcome, message) = if !ctx.history.available() && needs_history(plan) {
        (
            Outcome::Error,
            "this rule compares with past runs and needs a results store: run it through the service, or pass `--store URL` to `dqgate check`".to_string(),
        )
    } else {
        judge_check(plan, results, ctx, &mut observations)
    };
    Judged {
        outcome,
        message,
        metrics,
        observations,
        series,
    }
}

/// True when judging reads the history: dynamic operands or DetectAnomalies.
pub fn needs_history(plan: &LeafPlan) -> bool {
    let dynamic = |c: &Condition| {
        c.operands()
            .iter()
            .any(|o| matches!(o, Operand::Number(e) if e.is_dynamic()))
    };
    match &plan.check {
        Check::Condition { condition, .. } => dynamic(condition),
        Check::RowLevel {
            threshold: Some(t), ..
        } => dynamic(t),
        Check::Anomaly { .. } => true,
        _ => false,
    }
}

/// The series a leaf's judgement reads, when it reads any.
pub fn history_keys(plan: &LeafPlan) -> Vec<SeriesKey> {
    if !needs_history(plan) {
        return Vec::new();
    }
    let key = |m: &str| SeriesKey::new(m, plan.where_clause.as_deref());
    match &plan.check {
        Check::Condition { subject, .. } | Check::RowLevel { subject, .. } => vec![key(subject)],
        Check::Anomaly { metrics, .. } => metrics.iter().map(|(m, _)| key(m)).collect(),
        _ => Vec::new(),
    }
}

fn problem(p: Problem) -> (Outcome, String) {
    match p {
        Problem::Error(m) => (Outcome::Error, m),
        Problem::Fail(m) => (Outcome::Failed, m),
    }
}

fn judge_check(
    plan: &LeafPlan,
    results: &[QueryResult],
    ctx: &Context<'_>,
    observations: &mut Vec<Observation>,
) -> (Outcome, String) {
    let key = |metric: &str| SeriesKey::new(metric, plan.where_clause.as_deref());
    match &plan.check {
        Check::Decided { outcome, message } => (*outcome, message.clone()),
        Check::Condition {
            subject,
            value: f,
            condition,
        } => match value(f, results) {
            Err(p) => problem(p),
            Ok(None) => (
                Outcome::Error,
                format!("{subject} is undefined: there are no rows or no non-NULL values"),
            ),
            Ok(Some(v)) if v.is_nan() => (Outcome::Error, format!("{subject} is undefined (NaN)")),
            Ok(Some(v)) => judge_value(subject, v, condition, &key(subject), ctx),
        },
        Check::RowLevel {
            subject,
            compliance,
            threshold,
        } => match value(compliance, results) {
            Err(p) => problem(p),
            Ok(None) => (Outcome::Passed, "no rows to check".to_string()),
            Ok(Some(c)) => match threshold {
                None => {
                    let pct = format!("{:.2}% of rows passed", c * 100.0);
                    if c == 1.0 {
                        (Outcome::Passed, pct)
                    } else {
                        (Outcome::Failed, format!("{pct}; every row must pass"))
                    }
                }
                Some(t) => judge_value(subject, c, t, &key(subject), ctx),
            },
        },
        Check::Anomaly {
            inner,
            numeric_inner,
            metrics,
            settings,
        } => {
            let mut lines = Vec::new();
            let mut anomalous = false;
            for (name, f) in metrics {
                let v = match value(f, results) {
                    Err(p) => return problem(p),
                    Ok(Some(v)) if v.is_finite() => v,
                    _ => {
                        return (
                            Outcome::Error,
                            format!("{name} is undefined: there are no rows or no non-NULL values"),
                        );
                    }
                };
                let mut o =
                    anomaly::detect(name, v, ctx.now, ctx.history.points(&key(name)), settings);
                o.suggested_rule = suggested_rule(inner, *numeric_inner, &o);
                anomalous |= o.anomalous;
                lines.push(match (o.lower, o.upper) {
                    (Some(lo), Some(hi)) => format!(
                        "{name} was {}{}; expected {} (between {} and {}; {})",
                        show(v),
                        if o.anomalous { ", an anomaly" } else { "" },
                        show(o.expected.unwrap_or(f64::NAN)),
                        show(lo),
                        show(hi),
                        o.method
                    ),
                    _ => format!("{name} was {}; not judged yet: {}", show(v), o.method),
                });
                observations.push(o);
            }
            (
                if anomalous {
                    Outcome::Failed
                } else {
                    Outcome::Passed
                },
                lines.join("\n"),
            )
        }
        Check::AllOne { values } => {
            let mut failures = Vec::new();
            for (name, f) in values {
                match value(f, results) {
                    Err(p) => return problem(p),
                    Ok(None) => {
                        return (
                            Outcome::Error,
                            format!("{name} is undefined: there are no rows or no non-NULL values"),
                        );
                    }
                    Ok(Some(v)) if v != 1.0 => {
                        failures.push(format!("{name} was {}; required = 1", show(v)))
                    }
                    Ok(Some(_)) => {}
                }
            }
            if failures.is_empty() {
                let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
                (Outcome::Passed, format!("{} = 1", names.join(", ")))
            } else {
                (Outcome::Failed, failures.join("\n"))
            }
        }
        Check::NamesMatch {
            subject,
            ratio,
            mismatched,
        } => {
            if mismatched.is_empty() {
                (Outcome::Passed, format!("{subject} was {}", show(*ratio)))
            } else {
                (
                    Outcome::Failed,
                    format!(
                        "Columns that do not match the pattern: {}",
                        mismatched.join(", ")
                    ),
                )
            }
        }
    }
}

/// Combines leaf results along a composite (SPEC §9 DECISION): `and` is
/// Error only with an Error and no Failed leaf; `or` is Error only with an
/// Error and no Passed leaf.
pub fn combine(expr: &RuleExpr, leaves: &mut impl Iterator<Item = Judged>) -> Judged {
    match expr {
        RuleExpr::Rule(_) => leaves.next().unwrap_or_else(|| Judged {
            outcome: Outcome::Error,
            message: "internal: missing leaf result".to_string(),
            metrics: Vec::new(),
            observations: Vec::new(),
            series: Vec::new(),
        }),
        RuleExpr::Composite(c) => {
            let parts: Vec<Judged> = c.operands.iter().map(|o| combine(o, leaves)).collect();
            let has = |o: Outcome| parts.iter().any(|p| p.outcome == o);
            let outcome = match c.op {
                LogicalOp::And if has(Outcome::Failed) => Outcome::Failed,
                LogicalOp::And if has(Outcome::Error) => Outcome::Error,
                LogicalOp::And => Outcome::Passed,
                LogicalOp::Or if has(Outcome::Passed) => Outcome::Passed,
                LogicalOp::Or if has(Outcome::Error) => Outcome::Error,
                LogicalOp::Or => Outcome::Failed,
            };
            // Leaves may report different values under one name
            // (`(ColumnValues "x" > 0) and (ColumnValues "x" < 9)`); keep
            // each distinct value, numbering repeats.
            let mut metrics: Vec<(String, f64)> = Vec::new();
            for p in &parts {
                for (name, v) in &p.metrics {
                    if metrics.iter().any(|(n, x)| n == name && x == v) {
                        continue;
                    }
                    let mut key = name.clone();
                    let mut k = 2;
                    while metrics.iter().any(|(n, _)| n == &key) {
                        key = format!("{name}#{k}");
                        k += 1;
                    }
                    metrics.push((key, *v));
                }
            }
            let series = parts.iter().flat_map(|p| p.series.clone()).collect();
            let message = parts
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            Judged {
                outcome,
                message,
                metrics,
                observations: parts.into_iter().flat_map(|p| p.observations).collect(),
                series,
            }
        }
    }
}

/// A static rule that encodes an observation's band: `between` for rules
/// with a numeric condition, a one-sided bound for minimum/maximum metrics.
fn suggested_rule(inner: &str, numeric_inner: bool, o: &Observation) -> Option<String> {
    let (lo, hi) = (o.lower?, o.upper?);
    // `between` is exclusive; widen by a hair so the band's edges pass.
    let pad = (hi - lo).abs().max(1e-9) * 1e-6;
    if numeric_inner {
        Some(format!(
            "{inner} between {} and {}",
            show(lo - pad),
            show(hi + pad)
        ))
    } else if o.metric.ends_with("Minimum") || o.metric.ends_with("MinimumLength") {
        Some(format!("{inner} >= {}", show(lo)))
    } else if o.metric.ends_with("Maximum") || o.metric.ends_with("MaximumLength") {
        Some(format!("{inner} <= {}", show(hi)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_numbers_compactly() {
        assert_eq!(show(100000.0), "100000");
        assert_eq!(show(0.98), "0.98");
        assert_eq!(show(1.0 / 3.0), "0.333333");
    }
}
