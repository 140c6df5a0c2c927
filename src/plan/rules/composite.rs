//! Composite rules in ROW mode (`compositeRuleEvaluation.method = "ROW"`):
//! the `and`/`or` of the leaves' per-row predicates becomes one row-level
//! rule, so each row must pass the whole combination. A leaf whose `where`
//! leaves a row out counts as passing for that row. Rules without a
//! per-row meaning — the ratio rules (Completeness, Uniqueness,
//! ReferentialIntegrity, DatasetMatch) and any rule `with threshold`, as in
//! Glue, and row-level CustomSql, which dqgate does not combine yet — make
//! the composite an Error that names them.

use super::*;
use crate::dqdl::ast::{LogicalOp, RuleExpr};

impl Planner<'_> {
    /// The ROW-mode plan of a composite whose leaves were planned as
    /// `leaves[first..]`, in the order `expr.leaves()` gives.
    pub(super) fn row_composite(
        &mut self,
        expr: &RuleExpr,
        leaves: &[LeafPlan],
        first: usize,
    ) -> LeafPlan {
        let mut next = first;
        let combined = match self.combine_rows(expr, leaves, &mut next) {
            Ok(c) => c,
            Err(settled) => return *settled,
        };
        self.reg.current_leaf = Some(first);
        let compliance = match self.compliance(&combined, None) {
            Ok(c) => c,
            Err(settled) => return *settled,
        };
        LeafPlan {
            metrics: Vec::new(),
            check: Check::RowLevel {
                subject: "rows passing the composite".to_string(),
                compliance,
                threshold: None,
            },
            row_predicate: Some(RowPredicate {
                passes: combined,
                filter: None,
            }),
            row_match: None,
            where_clause: None,
        }
    }

    fn combine_rows(
        &self,
        expr: &RuleExpr,
        leaves: &[LeafPlan],
        next: &mut usize,
    ) -> Result<SqlExpr, Settled> {
        match expr {
            RuleExpr::Rule(rule) => {
                let i = *next;
                *next += 1;
                let plan = leaves
                    .get(i)
                    .ok_or_else(|| error("internal: a composite leaf was not planned"))?;
                self.row_of(rule, plan)
            }
            RuleExpr::Composite(c) => {
                let parts = c
                    .operands
                    .iter()
                    .map(|o| self.combine_rows(o, leaves, next))
                    .collect::<Result<Vec<_>, _>>()?;
                let joiner = match c.op {
                    LogicalOp::And => " AND ",
                    LogicalOp::Or => " OR ",
                };
                let text = parts
                    .iter()
                    .map(|p| format!("({})", p.text()))
                    .collect::<Vec<_>>()
                    .join(joiner);
                let expr = parts
                    .iter()
                    .map(|p| p.expr().clone())
                    .reduce(|a, b| match c.op {
                        LogicalOp::And => a.and(b),
                        LogicalOp::Or => a.or(b),
                    })
                    .ok_or_else(|| error("internal: an empty composite"))?;
                Ok(SqlExpr::new(text, expr))
            }
        }
    }

    /// One leaf's per-row pass, TRUE outside its `where`.
    fn row_of(&self, rule: &Rule, plan: &LeafPlan) -> Result<SqlExpr, Settled> {
        use RuleType::*;
        let name = rule.rule_type.name();
        if let Check::Decided {
            outcome: Outcome::Error | Outcome::Failed,
            message,
        } = &plan.check
        {
            return Err(error(format!("{name} cannot be evaluated: {message}")));
        }
        let unsupported = matches!(
            rule.rule_type,
            Completeness | Uniqueness | ReferentialIntegrity | DatasetMatch
        ) || rule.threshold.is_some();
        let Some(pred) = plan.row_predicate.as_ref().filter(|_| !unsupported) else {
            return Err(error(format!(
                "ROW-mode composites combine per-row rules without `with threshold`; {name}{} has no per-row result",
                if rule.threshold.is_some() {
                    " with a threshold"
                } else {
                    ""
                }
            )));
        };
        let passes = format!("COALESCE({}, FALSE)", pred.passes.text());
        let text = match &pred.filter {
            Some(f) => format!("NOT COALESCE({}, FALSE) OR {passes}", f.text()),
            None => passes,
        };
        self.predicate(PRIMARY, &text)
    }
}
