//! Recording and deciding: a report becomes stored rule results, metric
//! rows and the gate policy's decision. The store writes what it is given;
//! the decision is made here.

use crate::gate::decide_report;
use crate::report::Report;
use crate::store::{
    AnomalyBand, Finished, MetricRecord, RuleResultRecord, RunStatus, Store, StoreError,
    encode_json, new_run_id,
};

/// The rule results and metrics a report stores: every rule in order, and
/// every measured series once (rule metrics at their rule's position,
/// analyzer metrics without one).
pub(super) fn report_records(
    report: &Report,
) -> Result<(Vec<RuleResultRecord>, Vec<MetricRecord>), StoreError> {
    let rules = report
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Ok(RuleResultRecord {
                position: position(i),
                rule: r.rule.clone(),
                outcome: r.outcome,
                message: r.message.clone(),
                labels: r.labels.clone(),
                observations: if r.observations.is_empty() {
                    serde_json::Value::Null
                } else {
                    encode_json("rule observations", &r.observations)?
                },
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let metrics = report
        .series
        .iter()
        .map(|s| MetricRecord {
            name: s.key.metric.clone(),
            value: s.value,
            position: s.rule.map(position),
            where_clause: s.key.where_clause.clone(),
            anomaly: s.observation.as_ref().map(|o| AnomalyBand {
                expected: o.expected,
                lower: o.lower,
                upper: o.upper,
                anomalous: o.anomalous,
            }),
        })
        .collect();
    Ok((rules, metrics))
}

fn position(i: usize) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}

/// A report's rule counts as stored: (passed, failed, errors).
pub(super) fn counts(report: &Report) -> (i64, i64, i64) {
    let n = |c: usize| i64::try_from(c).unwrap_or(i64::MAX);
    (n(report.passed), n(report.failed), n(report.errors))
}

/// `dqgate check --store` records through the store handle; the method
/// lives here, not in `store`, because recording a run decides it and the
/// store applies no gate policy.
impl Store {
    /// Records a report evaluated outside the gate (`dqgate check --store`)
    /// as a finished run, so later runs see its metrics as history.
    /// Returns the run id.
    pub async fn record_report(
        &self,
        report: &Report,
        scope: (&str, &str),
        observed_at: &str,
    ) -> Result<String, StoreError> {
        let (dataset, stage) = scope;
        let id = new_run_id()?;
        let params = serde_json::json!({"source": "cli"});
        self.claim_run(&id, &id, dataset, &report.ruleset, 0, stage, &params)
            .await?;
        let (rules, metrics) = report_records(report)?;
        let inputs = serde_json::json!({"dataset": {"location": report.dataset}});
        self.finish_run(
            &id,
            &Finished {
                status: RunStatus::Done,
                decision: decide_report(report),
                score: report.score,
                counts: counts(report),
                message: None,
                inputs: &inputs,
                rules: &rules,
                metrics: &metrics,
                samples: &[],
                started_at: &report.started_at,
                observed_at,
                duration_ms: i64::try_from(report.duration_ms).unwrap_or(i64::MAX),
            },
        )
        .await?;
        Ok(id)
    }
}
