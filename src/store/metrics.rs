//! Metric trends and history: what dashboards and dynamic rules read.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{RunStatus, Store, StoreError, decode_json};
use crate::history::HistorySource;
use crate::history::anomaly::Observation;
use crate::history::{History, Point, SeriesKey};

/// One point of a trend series.
#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct TrendPoint {
    /// Run id.
    pub run: String,
    /// When the run was created.
    pub at: String,
    /// The value.
    pub value: f64,
}

/// One run's value of a metric, as the console's trend table shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricPoint {
    /// Run id.
    pub run: String,
    /// When the run was created.
    pub at: String,
    /// The `where` of the rule it was computed under, empty for none.
    pub where_clause: String,
    /// The value.
    pub value: f64,
    /// Marked expected: no longer trains DetectAnomalies or dynamic rules.
    pub excluded: bool,
    /// What DetectAnomalies saw for this value, when a rule watched it.
    pub observation: Option<Observation>,
}

/// A metric row joined with its run's DetectAnomalies observations.
#[derive(sqlx::FromRow)]
struct MetricPointRow {
    run_id: String,
    created_at: String,
    where_clause: String,
    value: f64,
    excluded: i64,
    observations: Option<String>,
}

/// A metric recorded for a dataset and how many runs recorded it.
#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct MetricCount {
    /// The metric, e.g. `Dataset.*.RowCount`.
    pub name: String,
    /// The `where` text of the rule it came from (empty for none).
    pub where_clause: String,
    /// Runs with a value (the points of its trend).
    pub points: i64,
}

/// A metric value of a history series.
#[derive(sqlx::FromRow)]
struct HistoryRow {
    run_id: String,
    value: f64,
    at: String,
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
        Ok(sqlx::query_as(
            "SELECT id AS run, created_at AS at, score AS value FROM runs WHERE dataset = $1 AND ($2 = '' OR ruleset = $2) \
             AND status = $5 AND score IS NOT NULL AND ($3 = '' OR created_at >= $3) AND ($4 = '' OR created_at < $4) \
             ORDER BY created_at, id",
        )
        .bind(dataset)
        .bind(ruleset.unwrap_or_default())
        .bind(since.unwrap_or_default())
        .bind(until.unwrap_or_default())
        .bind(RunStatus::Done.as_str())
        .fetch_all(&self.pool)
        .await?)
    }

    /// The metrics recorded for a dataset (and ruleset), by name and
    /// `where`, with their number of points.
    pub async fn metric_names(
        &self,
        dataset: &str,
        ruleset: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Vec<MetricCount>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT name, where_clause, COUNT(DISTINCT run_id) AS points FROM metrics WHERE dataset = $1 AND ($2 = '' OR ruleset = $2) \
             AND ($3 = '' OR created_at >= $3) AND ($4 = '' OR created_at < $4) GROUP BY name, where_clause ORDER BY name, where_clause",
        )
        .bind(dataset)
        .bind(ruleset.unwrap_or_default())
        .bind(since.unwrap_or_default())
        .bind(until.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?)
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
        let rows: Vec<TrendPoint> = sqlx::query_as(
            "SELECT run_id AS run, created_at AS at, value FROM metrics WHERE dataset = $1 AND name = $2 AND ($3 = '' OR ruleset = $3) \
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
        for point in rows {
            // One value per run: a metric several rules report is the same value.
            if points.last().is_some_and(|p| p.run == point.run) {
                continue;
            }
            points.push(point);
        }
        Ok(points)
    }

    /// The latest `limit` values of a metric for a dataset (in `stage`, or
    /// every stage), oldest first, one per (run, `where`), with what a
    /// DetectAnomalies rule of the same run observed of it (that rule stores no metric row of its own when
    /// another rule reported the metric).
    pub async fn metric_points(
        &self,
        dataset: &str,
        metric: &str,
        stage: Option<&str>,
        limit: i64,
    ) -> Result<Vec<MetricPoint>, StoreError> {
        let rows: Vec<MetricPointRow> = sqlx::query_as(
            "SELECT m.run_id, m.created_at, m.where_clause, m.value, CAST(m.excluded AS BIGINT) AS excluded, r.observations \
             FROM metrics m LEFT JOIN rule_results r ON r.run_id = m.run_id AND r.observations IS NOT NULL \
             WHERE m.dataset = $1 AND m.name = $2 AND ($4 = '' OR m.stage = $4) \
             ORDER BY m.created_at DESC, m.run_id DESC LIMIT $3",
        )
        .bind(dataset)
        .bind(metric)
        .bind(limit.saturating_mul(4))
        .bind(stage.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let mut points: Vec<MetricPoint> = Vec::new();
        for row in rows {
            let observation = match &row.observations {
                Some(text) => decode_json::<Vec<Observation>>("rule observations", text)?
                    .into_iter()
                    .find(|o| o.metric == metric),
                None => None,
            };
            let full = (points.len() as i64) >= limit;
            let same = points
                .iter_mut()
                .find(|p| p.run == row.run_id && p.where_clause == row.where_clause);
            match same {
                Some(p) => {
                    p.excluded |= row.excluded != 0;
                    if p.observation.is_none() {
                        p.observation = observation;
                    }
                }
                None if !full => points.push(MetricPoint {
                    run: row.run_id,
                    at: row.created_at,
                    where_clause: row.where_clause,
                    value: row.value,
                    excluded: row.excluded != 0,
                    observation,
                }),
                None => {}
            }
        }
        points.reverse();
        Ok(points)
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
        let _timer = self.timer("history");
        let mut history = History::empty();
        for key in keys {
            let rows: Vec<HistoryRow> = sqlx::query_as(
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
            for r in rows {
                if points.iter().any(|(id, _)| *id == r.run_id) {
                    continue;
                }
                let at = DateTime::parse_from_rfc3339(&r.at)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| StoreError::Corrupt(format!("metric time `{}`: {e}", r.at)))?;
                points.push((r.run_id, Point { at, value: r.value }));
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

    /// Marks a run's values of one metric as expected (`true`: excluded
    /// from training) or not. Returns how many values it found.
    pub async fn set_expected(
        &self,
        run_id: &str,
        metric: &str,
        expected: bool,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE metrics SET excluded = $3 WHERE run_id = $1 AND name = $2")
            .bind(run_id)
            .bind(metric)
            .bind(i64::from(expected))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// Evaluations read their history from the store's metric rows.
impl HistorySource for Store {
    type Error = StoreError;

    async fn load_history(
        &self,
        dataset: &str,
        stage: Option<&str>,
        keys: &[SeriesKey],
        limit: i64,
    ) -> Result<History, StoreError> {
        Store::load_history(self, dataset, stage, keys, limit).await
    }
}
