//! Completeness, uniqueness and value frequencies: Completeness,
//! IsComplete, Uniqueness, IsUnique, IsPrimaryKey, UniqueValueRatio,
//! DistinctValuesCount, Entropy.

use super::*;

impl Planner<'_> {
    pub(super) fn completeness_rule(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        let (c, _) = self.column(PRIMARY, &i.params[0])?;
        let v = self.completeness(&c, i.filter())?;
        let name = format!("Column.{}.Completeness", i.params[0]);
        let mut plan = if i.rule.rule_type == RuleType::IsComplete {
            leaf(
                vec![(name.clone(), v.clone())],
                Check::AllOne {
                    values: vec![(name, v)],
                },
            )
        } else {
            numeric(&name, v, i.condition()?)
        };
        // Row level: a row passes when the value is there.
        plan.row_predicate = Some(RowPredicate {
            passes: self.predicate(PRIMARY, &format!("{} IS NOT NULL", ident(&c)))?,
            filter: i.filter.clone(),
        });
        Ok(plan)
    }

    /// Row level for uniqueness: a row passes when no other row (within the
    /// `where`) has its key; rows whose key is all NULL are not counted by
    /// the metric and pass, except for IsPrimaryKey, which needs every key
    /// column present.
    fn unique_rows(
        &self,
        cols: &[String],
        filter: Option<&SqlExpr>,
        primary_key: bool,
    ) -> Result<RowPredicate, Settled> {
        let keys: Vec<String> = cols.iter().map(|c| ident(c)).collect();
        let inside = filter.map_or_else(|| "TRUE".to_string(), |f| f.text().to_string());
        let same_key = format!(
            "sum(CASE WHEN {inside} THEN 1 ELSE 0 END) OVER (PARTITION BY {})",
            keys.join(", ")
        );
        let all_null = keys
            .iter()
            .map(|k| format!("{k} IS NULL"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let any_null = keys
            .iter()
            .map(|k| format!("{k} IS NULL"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let text = if primary_key {
            format!("COALESCE(NOT ({any_null}) AND {same_key} = 1, FALSE)")
        } else {
            format!("COALESCE(({all_null}) OR {same_key} = 1, FALSE)")
        };
        Ok(RowPredicate {
            passes: self.predicate(PRIMARY, &text)?,
            filter: filter.cloned(),
        })
    }

    pub(super) fn uniqueness_rule(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        let params = &i.params;
        let cols = params
            .iter()
            .map(|p| self.column(PRIMARY, p).map(|(c, _)| c))
            .collect::<Result<Vec<_>, _>>()?;
        let name = if params.len() == 1 {
            format!("Column.{}.Uniqueness", params[0])
        } else {
            format!("Multicolumn.{}.Uniqueness", params.join(","))
        };
        let v = self.frequency(PRIMARY, cols.clone(), i.filter(), FreqStat::Uniqueness);
        let t = i.rule.rule_type;
        let mut plan = match t {
            RuleType::Uniqueness => numeric(&name, v, i.condition()?),
            RuleType::IsUnique => leaf(
                vec![(name.clone(), v.clone())],
                Check::AllOne {
                    values: vec![(name, v)],
                },
            ),
            _ => {
                let mut values = vec![(name, v)];
                for (c, p) in cols.iter().zip(params) {
                    values.push((
                        format!("Column.{p}.Completeness"),
                        self.completeness(c, i.filter())?,
                    ));
                }
                leaf(values.clone(), Check::AllOne { values })
            }
        };
        plan.row_predicate =
            Some(self.unique_rows(&cols, i.filter(), t == RuleType::IsPrimaryKey)?);
        Ok(plan)
    }

    pub(super) fn frequency_rule(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        let t = i.rule.rule_type;
        let (c, _) = self.column(PRIMARY, &i.params[0])?;
        let stat = match t {
            RuleType::UniqueValueRatio => FreqStat::UniqueValueRatio,
            RuleType::DistinctValuesCount => FreqStat::DistinctValuesCount,
            _ => FreqStat::Entropy,
        };
        let v = self.frequency(PRIMARY, vec![c], i.filter(), stat);
        Ok(numeric(
            &format!("Column.{}.{}", i.params[0], t.name()),
            v,
            i.condition()?,
        ))
    }

    pub(super) fn completeness(
        &mut self,
        col: &str,
        filter: Option<&SqlExpr>,
    ) -> Result<Formula, Settled> {
        let nn = self.agg(PRIMARY, &format!("count({})", ident(col)), filter)?;
        let rows = self.row_count(PRIMARY, filter)?;
        Ok(ratio(nn, rows))
    }
}
