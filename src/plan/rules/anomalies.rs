//! DetectAnomalies: the inner rule planned as an analyzer, its metrics
//! watched against their history with the detector settings of the tags.

use super::*;

impl Planner<'_> {
    pub(super) fn detect_anomalies(
        &mut self,
        r: &Rule,
        params: &[String],
    ) -> Result<LeafPlan, Settled> {
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
}
