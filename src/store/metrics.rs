//! Metric history and trends.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Finished, Store, StoreError, new_run_id, report_records};
use crate::history::{History, Point, SeriesKey};

/// One point of a trend series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    /// Run id.
    pub run: String,
    /// When the run was created.
    pub at: String,
    /// The value.
    pub value: f64,
}

impl Store {
    /// Score per finished run of a dataset (and ruleset), oldest first.
    pub async fn score_trend(
        &self,
        dataset: &str,
        ruleset: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Vec<TrendPoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, score FROM runs WHERE dataset = $1 AND ($2 = '' OR ruleset = $2) \
             AND status = 'done' AND score IS NOT NULL AND ($3 = '' OR created_at >= $3) AND ($4 = '' OR created_at < $4) \
             ORDER BY created_at, id",
        )
        .bind(dataset)
        .bind(ruleset.unwrap_or_default())
        .bind(since.unwrap_or_default())
        .bind(until.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TrendPoint {
                    run: r.try_get("id")?,
                    at: r.try_get("created_at")?,
                    value: r.try_get("score")?,
                })
            })
            .collect()
    }

    /// Values of one metric per run of a dataset (and ruleset), oldest first.
    pub async fn metric_trend(
        &self,
        dataset: &str,
        ruleset: Option<&str>,
        (metric, where_clause): (&str, &str),
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Vec<TrendPoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT run_id, created_at, value FROM metrics WHERE dataset = $1 AND name = $2 AND ($3 = '' OR ruleset = $3) \
             AND ($4 = '' OR created_at >= $4) AND ($5 = '' OR created_at < $5) AND where_clause = $6 ORDER BY created_at, run_id",
        )
        .bind(dataset)
        .bind(metric)
        .bind(ruleset.unwrap_or_default())
        .bind(since.unwrap_or_default())
        .bind(until.unwrap_or_default())
        .bind(where_clause)
        .fetch_all(&self.pool)
        .await?;
        let mut points: Vec<TrendPoint> = Vec::new();
        for r in &rows {
            let run: String = r.try_get("run_id")?;
            // One value per run: a metric several rules report is the same value.
            if points.last().is_some_and(|p| p.run == run) {
                continue;
            }
            points.push(TrendPoint {
                run,
                at: r.try_get("created_at")?,
                value: r.try_get("value")?,
            });
        }
        Ok(points)
    }

    /// Records a report evaluated outside the gate (`dqgate check --store`)
    /// as a finished run, so later runs see its metrics as history.
    /// Returns the run id.
    pub async fn record_report(
        &self,
        report: &crate::report::Report,
        scope: (&str, &str),
        observed_at: &str,
    ) -> Result<String, StoreError> {
        let (dataset, stage) = scope;
        let id = new_run_id()
            .map_err(|e| StoreError::Corrupt(format!("no randomness for a run id: {e}")))?;
        let params = serde_json::json!({"source": "cli"});
        self.claim_run(&id, &id, dataset, &report.ruleset, 0, stage, &params)
            .await?;
        let (rules, metrics) = report_records(report);
        let inputs = serde_json::json!({"dataset": {"location": report.dataset}});
        let decision = crate::gate::decide_report(report);
        self.finish_run(
            &id,
            &Finished {
                status: "done",
                decision: decision.as_str(),
                score: report.score,
                counts: (
                    report.passed as i64,
                    report.failed as i64,
                    report.errors as i64,
                ),
                message: None,
                inputs: &inputs,
                rules: &rules,
                metrics: &metrics,
                started_at: &report.started_at,
                observed_at,
                duration_ms: i64::try_from(report.duration_ms).unwrap_or(i64::MAX),
            },
        )
        .await?;
        Ok(id)
    }

    /// Past values of `keys` for a dataset (and stage, when given), oldest
    /// first, one value per run, at most `limit` per series; values marked
    /// expected are left out.
    pub async fn load_history(
        &self,
        dataset: &str,
        stage: Option<&str>,
        keys: &[SeriesKey],
        limit: i64,
    ) -> Result<History, StoreError> {
        let mut history = History::empty();
        for key in keys {
            let rows = sqlx::query(
                "SELECT run_id, value, COALESCE(observed_at, created_at) AS at FROM metrics \
                 WHERE dataset = $1 AND name = $2 AND where_clause = $3 AND excluded = 0 AND ($4 = '' OR stage = $4) \
                 ORDER BY COALESCE(observed_at, created_at) DESC, run_id DESC LIMIT $5",
            )
            .bind(dataset)
            .bind(&key.metric)
            .bind(&key.where_clause)
            .bind(stage.unwrap_or_default())
            .bind(limit.saturating_mul(4))
            .fetch_all(&self.pool)
            .await?;
            let mut points: Vec<(String, Point)> = Vec::new();
            for r in &rows {
                let run: String = r.try_get("run_id")?;
                if points.iter().any(|(id, _)| *id == run) {
                    continue;
                }
                let at: String = r.try_get("at")?;
                let at = DateTime::parse_from_rfc3339(&at)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| StoreError::Corrupt(format!("metric time `{at}`: {e}")))?;
                points.push((
                    run,
                    Point {
                        at,
                        value: r.try_get("value")?,
                    },
                ));
                if points.len() as i64 >= limit {
                    break;
                }
            }
            for (_, p) in points.into_iter().rev() {
                history.push(key.clone(), p);
            }
        }
        Ok(history)
    }

    /// Marks a run's values of one metric as expected, so they no longer
    /// train anomaly detection. Returns how many values were marked.
    pub async fn mark_expected(&self, run_id: &str, metric: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE metrics SET excluded = 1 WHERE run_id = $1 AND name = $2")
            .bind(run_id)
            .bind(metric)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
