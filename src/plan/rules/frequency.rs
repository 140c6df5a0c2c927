//! Completeness, uniqueness and value frequencies: Completeness,
//! IsComplete, Uniqueness, IsUnique, IsPrimaryKey, UniqueValueRatio,
//! DistinctValuesCount, Entropy.

use super::*;

impl Planner<'_> {
    pub(super) fn completeness_rule(&mut self, i: &Input<'_>) -> Result<LeafPlan, Settled> {
        let (c, _) = self.column(PRIMARY, &i.params[0])?;
        let v = self.completeness(&c, i.filter())?;
        let name = format!("Column.{}.Completeness", i.params[0]);
        Ok(if i.rule.rule_type == RuleType::IsComplete {
            leaf(
                vec![(name.clone(), v.clone())],
                Check::AllOne {
                    values: vec![(name, v)],
                },
            )
        } else {
            numeric(&name, v, i.condition()?)
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
        match i.rule.rule_type {
            RuleType::Uniqueness => Ok(numeric(&name, v, i.condition()?)),
            RuleType::IsUnique => Ok(leaf(
                vec![(name.clone(), v.clone())],
                Check::AllOne {
                    values: vec![(name, v)],
                },
            )),
            _ => {
                let mut values = vec![(name, v)];
                for (c, p) in cols.iter().zip(params) {
                    values.push((
                        format!("Column.{p}.Completeness"),
                        self.completeness(c, i.filter())?,
                    ));
                }
                Ok(leaf(values.clone(), Check::AllOne { values }))
            }
        }
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
