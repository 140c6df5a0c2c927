//! Numeric aggregates of columns: Mean, Sum, StandardDeviation,
//! Variance and ColumnCorrelation.

use super::*;

impl Planner<'_> {
    pub(super) fn statistic_rule(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        let t = i.rule.rule_type;
        let v = self.statistic(t, &i.params[0], i.filter())?;
        Ok(numeric(
            &format!("Column.{}.{}", i.params[0], t.name()),
            v,
            i.condition()?,
        ))
    }

    pub(super) fn correlation_rule(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        let (a, b) = (&i.params[0], &i.params[1]);
        let v = self.correlation(a, b, i.filter())?;
        Ok(numeric(
            &format!("Multicolumn.{a},{b}.ColumnCorrelation"),
            v,
            i.condition()?,
        ))
    }

    pub(super) fn numeric_column(&self, name: &str, what: &str) -> Result<String, Settled> {
        let (c, t) = self.column(PRIMARY, name)?;
        if !sql::is_numeric(&t) {
            return Err(error(format!(
                "{what} needs a numeric column; {name} is {}",
                sql::describe(&t)
            )));
        }
        Ok(c)
    }

    pub(super) fn statistic(
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

    pub(super) fn correlation(
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
}
