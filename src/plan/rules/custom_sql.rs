//! CustomSql: the numeric form (one number judged by the condition) and
//! the row-level form (primary rows the query returns pass).

use super::*;

impl Planner<'_> {
    pub(super) fn custom_sql(&mut self, i: &Input<'_>) -> LeafPlan {
        match &i.rule.condition {
            Some(c) => {
                let id = self.reg.add(Query::CustomSql {
                    sql: i.params[0].clone(),
                });
                numeric("Dataset.*.CustomSQL", Formula::Value(id, 0), c.clone())
            }
            None => {
                let id = self.reg.add(Query::RowMatch {
                    sql: i.params[0].clone(),
                });
                let v = ratio(Formula::Value(id, 0), Formula::Value(id, 1));
                let name = "Dataset.*.CustomSQL.Compliance".to_string();
                let mut plan = leaf(
                    vec![(name.clone(), v.clone())],
                    Check::RowLevel {
                        subject: name,
                        compliance: v,
                        threshold: i.rule.threshold.clone(),
                    },
                );
                plan.row_match = Some(i.params[0].clone());
                plan
            }
        }
    }
}
