//! One claimed run evaluated: datasets resolved into specs, the check run
//! against the store's history under the timeout, the outcome recorded.

use std::time::Instant;

use tracing::Instrument;

use super::quarantine;
use super::record::{counts, report_records};
use super::{RunEnd, Runs};
use crate::check::{self, CheckRequest, HistoryScope};
use crate::gate::{Decision, decide_report};
use crate::report::{Report, RowSample};
use crate::source::{DatasetSpec, Format, SourceOptions};
use crate::store::{
    DatasetRecord, Finished, MetricRecord, RuleResultRecord, RulesetVersion, RunStatus,
    encode_json, now_text,
};

/// What a claimed run evaluates.
pub(super) struct Job {
    /// The ruleset version.
    pub ruleset: RulesetVersion,
    /// The primary dataset's registry name and record.
    pub dataset: (String, DatasetRecord),
    /// Other datasets by alias.
    pub aliases: Vec<(String, DatasetRecord)>,
    /// Pipeline stage.
    pub stage: String,
    /// Caller parameters (date ranges, snapshots).
    pub parameters: serde_json::Value,
}

/// The dataset spec of a registered dataset; `slice` (the caller's
/// parameters) may add a date range or an Iceberg snapshot window.
pub fn dataset_spec(
    alias: &str,
    d: &DatasetRecord,
    slice: Option<&serde_json::Value>,
) -> Result<DatasetSpec, String> {
    let mut options: SourceOptions = serde_json::from_value(d.options.clone())
        .map_err(|e| format!("dataset `{}` has unusable options: {e}", d.name))?;
    if let Some(p) = slice {
        let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let number = |k: &str| p.get(k).and_then(serde_json::Value::as_i64);
        if let Some(v) = text("start_date") {
            options.start_date = Some(v);
        }
        if let Some(v) = text("end_date") {
            options.end_date = Some(v);
        }
        if let Some(v) = number("since_snapshot_id") {
            options.since_snapshot_id = Some(v);
        }
        if let Some(v) = number("snapshot_id") {
            options.snapshot_id = Some(v);
        }
        if let Some(v) = text("as_of") {
            options.as_of = Some(v);
        }
    }
    Ok(DatasetSpec {
        alias: alias.to_string(),
        location: d.location.clone(),
        format: serde_json::from_value::<Format>(serde_json::Value::String(d.format.clone())).ok(),
        options,
        confinement: None,
    })
}

/// What [`Runs::check`] does besides evaluating.
pub(super) struct Extras<'a> {
    /// Where a failing run writes its failing rows.
    pub quarantine: Option<&'a quarantine::Job>,
    /// Failing rows kept per failed row-level rule (0: none).
    pub sample_limit: usize,
}

/// An evaluation's report with what [`Extras`] asked for.
pub(super) struct Checked {
    /// The report.
    pub report: Report,
    /// Failing rows kept for the store.
    pub samples: Vec<RowSample>,
    /// Whether the failing rows were quarantined (`None`: not asked, or
    /// the run did not fail).
    pub quarantined: Option<Result<quarantine::Written, String>>,
}

/// How an evaluation ended, ready to store.
struct Ending {
    status: RunStatus,
    decision: Decision,
    score: Option<f64>,
    counts: (i64, i64, i64),
    message: Option<String>,
    rules: Vec<RuleResultRecord>,
    metrics: Vec<MetricRecord>,
    samples: Vec<RowSample>,
}

impl Ending {
    fn error(message: String) -> Ending {
        Ending {
            status: RunStatus::Error,
            decision: Decision::Error,
            score: None,
            counts: (0, 0, 0),
            message: Some(message),
            rules: Vec::new(),
            metrics: Vec::new(),
            samples: Vec::new(),
        }
    }
}

impl Runs {
    /// Waits for a permit, evaluates, and stores the run with all its
    /// results.
    pub(super) async fn evaluate(&self, id: &str, job: Job) {
        let Some(_permit) = self.inner.queue.permit().await else {
            return;
        };
        let store = &self.inner.store;
        if let Err(e) = store.start_run(id).await {
            tracing::error!(error = %e, "cannot mark the run running");
        }
        let started_at = now_text();
        let clock = Instant::now();
        let Job {
            ruleset,
            dataset: (dataset_name, dataset),
            aliases,
            stage,
            parameters,
        } = job;
        let mut specs = vec![dataset_spec(
            crate::plan::PRIMARY,
            &dataset,
            Some(&parameters),
        )];
        specs.extend(
            aliases
                .iter()
                .map(|(alias, d)| dataset_spec(alias, d, None)),
        );
        let specs = specs.into_iter().collect::<Result<Vec<_>, _>>();
        let quarantine = specs
            .as_ref()
            .ok()
            .and_then(|s| s.first())
            .and_then(|primary| {
                Some(quarantine::Job {
                    option: primary.options.quarantine.clone()?,
                    dataset_location: primary.location.clone(),
                    options: primary.options.clone(),
                    dataset: dataset_name.clone(),
                    stage: stage.clone(),
                    run_id: id.to_string(),
                    confinement: self.inner.limits.confinement.clone(),
                })
            });
        let datasets: Vec<DatasetSpec> = match specs {
            Ok(d) => d
                .into_iter()
                .map(|spec| DatasetSpec {
                    confinement: Some(self.inner.limits.confinement.clone()),
                    ..spec
                })
                .collect(),
            Err(message) => {
                self.record_failure(id, (&dataset_name, &stage), &message)
                    .await;
                return;
            }
        };
        let mut inputs = serde_json::json!({
            "ruleset": {"name": ruleset.name, "version": ruleset.version},
            "dataset": {"name": dataset_name, "location": dataset.location, "format": dataset.format},
            "aliases": aliases.iter().map(|(a, d)| (a.clone(), serde_json::json!({"name": d.name, "location": d.location, "format": d.format}))).collect::<serde_json::Map<_, _>>(),
        });
        let sample_limit = datasets
            .iter()
            .find(|d| d.alias == crate::plan::PRIMARY)
            .map_or(0, |d| d.options.failed_rows_sample());
        let request = CheckRequest {
            ruleset_name: ruleset.name.clone(),
            ruleset_text: ruleset.dqdl.clone(),
            datasets,
            now: None,
            memory_limit: self.inner.limits.memory_limit,
            engine: self.inner.limits.engine.clone(),
        };
        let scope = HistoryScope {
            dataset: &dataset_name,
            stage: Some(&stage),
        };
        let timeout = self.inner.limits.timeout;
        let extras = Extras {
            quarantine: quarantine.as_ref(),
            sample_limit,
        };
        let outcome = tokio::time::timeout(timeout, self.check(request, scope, extras)).await;
        let seconds = clock.elapsed().as_secs_f64();
        let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
        let ending = match outcome {
            Ok(Ok(Checked {
                report,
                samples,
                quarantined,
            })) => {
                // What was read: formats, Iceberg snapshot ids, slices.
                let recorded = encode_json("sources read", &report.sources)
                    .and_then(|read| Ok((read, report_records(&report)?)));
                match recorded {
                    Ok((read, (rules, metrics))) => {
                        inputs["read"] = read;
                        let ending = Ending {
                            status: RunStatus::Done,
                            decision: decide_report(&report),
                            score: report.score,
                            counts: counts(&report),
                            message: None,
                            rules,
                            metrics,
                            samples,
                        };
                        match (quarantined, &quarantine) {
                            (Some(Ok(w)), _) => {
                                inputs["quarantine"] = serde_json::json!({"location": w.location, "rows": w.rows, "files": w.files});
                                ending
                            }
                            (Some(Err(e)), Some(job)) => {
                                inputs["quarantine"] =
                                    serde_json::json!({"location": job.location(), "error": e});
                                // Fail-closed: the rows the pipeline would
                                // route aside are not where it looks.
                                Ending {
                                    status: RunStatus::Error,
                                    decision: Decision::Error,
                                    message: Some(format!(
                                        "the run failed, and its failing rows could not be quarantined: {e}"
                                    )),
                                    ..ending
                                }
                            }
                            _ => ending,
                        }
                    }
                    Err(e) => Ending::error(format!("cannot record the results: {e}")),
                }
            }
            Ok(Err(e)) => Ending::error(e),
            Err(_) => Ending::error(format!(
                "evaluation timed out after {} s",
                timeout.as_secs()
            )),
        };
        let finished = Finished {
            status: ending.status,
            decision: ending.decision,
            score: ending.score,
            counts: ending.counts,
            message: ending.message.as_deref(),
            inputs: &inputs,
            rules: &ending.rules,
            metrics: &ending.metrics,
            samples: &ending.samples,
            started_at: &started_at,
            observed_at: &started_at,
            duration_ms,
        };
        let stored = self
            .record(id, &finished)
            .instrument(tracing::info_span!("store"))
            .await;
        if stored {
            let outcomes: Vec<_> = ending.rules.iter().map(|r| r.outcome).collect();
            self.inner.observer.run_finished(&RunEnd {
                dataset: &dataset_name,
                stage: &stage,
                decision: ending.decision,
                outcomes: &outcomes,
                seconds,
            });
            tracing::info!(
                decision = ending.decision.as_str(),
                status = ending.status.as_str(),
                duration_ms,
                rules = ending.rules.len(),
                "run finished"
            );
        }
    }

    /// Prepares (plans) and evaluates on the evaluation pool, reading the
    /// history from the store here between the two, then keeps up to
    /// `extras.sample_limit` failing rows per failed row-level rule (a
    /// sample that cannot be read is logged and left out; it never changes
    /// the decision). A run that ends in `fail` with a `quarantine` job
    /// writes its failing rows on the pool too, under the same timeout; the
    /// write's result comes back beside the report. Dropping the future
    /// (the timeout) aborts the pooled work.
    pub(super) async fn check(
        &self,
        request: CheckRequest,
        scope: HistoryScope<'_>,
        extras: Extras<'_>,
    ) -> Result<Checked, String> {
        let pool = &self.inner.pool;
        let prepared = pool
            .run(check::prepare(request))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let history = prepared
            .load_history(&self.inner.store, scope)
            .await
            .map_err(|e| e.to_string())?;
        let quarantine = extras.quarantine.cloned();
        let sample_limit = extras.sample_limit;
        pool.run(async move {
            let report = prepared.evaluate(&history).await;
            let samples = match prepared.failed_row_samples(&report, sample_limit).await {
                Ok(samples) => samples,
                Err(e) => {
                    tracing::warn!(error = %crate::source::redact::message(&e.to_string()), "failing rows not kept");
                    Vec::new()
                }
            };
            let quarantined = match quarantine {
                Some(job) if decide_report(&report) == Decision::Fail => {
                    Some(job.write(&prepared).await)
                }
                _ => None,
            };
            Checked {
                report,
                samples,
                quarantined,
            }
        })
        .await
        .map_err(|e| e.to_string())
    }

    /// Stores a run that could not produce results as an error.
    pub(super) async fn record_failure(
        &self,
        id: &str,
        (dataset, stage): (&str, &str),
        message: &str,
    ) {
        let inputs = serde_json::json!({});
        let finished = Finished {
            status: RunStatus::Error,
            decision: Decision::Error,
            score: None,
            counts: (0, 0, 0),
            message: Some(message),
            inputs: &inputs,
            rules: &[],
            metrics: &[],
            samples: &[],
            started_at: &now_text(),
            observed_at: &now_text(),
            duration_ms: 0,
        };
        self.record(id, &finished).await;
        self.inner.observer.run_finished(&RunEnd {
            dataset,
            stage,
            decision: Decision::Error,
            outcomes: &[],
            seconds: 0.0,
        });
    }
}
