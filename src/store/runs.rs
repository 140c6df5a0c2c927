//! Runs and their rule results and metrics.

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError, now_text};

/// A stored run (without its results).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRecord {
    /// Run id.
    pub id: String,
    /// The caller's idempotency key.
    pub run_key: String,
    /// Dataset name.
    pub dataset: String,
    /// Ruleset name.
    pub ruleset: String,
    /// Ruleset version evaluated.
    pub ruleset_version: i64,
    /// Pipeline stage.
    pub stage: String,
    /// Caller parameters.
    pub parameters: serde_json::Value,
    /// What was read: datasets and aliases with their locations.
    pub inputs: serde_json::Value,
    /// queued, running, done, error or interrupted.
    pub status: String,
    /// pass, warn, fail or error, once known.
    pub decision: Option<String>,
    /// Passed / rules.
    pub score: Option<f64>,
    /// Rules passed.
    pub passed: Option<i64>,
    /// Rules failed.
    pub failed: Option<i64>,
    /// Rules that errored.
    pub errors: Option<i64>,
    /// Why the run errored, if it did.
    pub message: Option<String>,
    /// When the run was requested.
    pub created_at: String,
    /// When evaluation started.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// Evaluation wall time.
    pub duration_ms: Option<i64>,
}

/// A stored rule result.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleResultRecord {
    /// Position in the ruleset.
    pub position: i64,
    /// Canonical rule text.
    pub rule: String,
    /// Passed, Failed or Error.
    pub outcome: String,
    /// The message.
    pub message: String,
    /// Labels.
    pub labels: serde_json::Value,
    /// DetectAnomalies observations (JSON array), `Null` for other rules.
    pub observations: serde_json::Value,
}

/// A stored metric value.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricRecord {
    /// Metric name.
    pub name: String,
    /// Value.
    pub value: f64,
    /// Rule position, or `None` for analyzer metrics.
    pub position: Option<i64>,
    /// The `where` it was computed under, empty for none.
    pub where_clause: String,
}

/// What a finished run writes.
pub struct Finished<'a> {
    /// Final status: done or error.
    pub status: &'a str,
    /// Decision.
    pub decision: &'a str,
    /// Score, if any.
    pub score: Option<f64>,
    /// Counts.
    pub counts: (i64, i64, i64),
    /// Error message, if any.
    pub message: Option<&'a str>,
    /// What was read.
    pub inputs: &'a serde_json::Value,
    /// Rule results in order.
    pub rules: &'a [RuleResultRecord],
    /// Metrics (rule metrics and analyzer metrics).
    pub metrics: &'a [MetricRecord],
    /// Evaluation start.
    pub started_at: &'a str,
    /// The evaluation clock metrics are observed at (RFC 3339).
    pub observed_at: &'a str,
    /// Wall time.
    pub duration_ms: i64,
}

/// Filters of the run listing.
#[derive(Debug, Default, Clone)]
pub struct RunFilter {
    /// Only this dataset.
    pub dataset: Option<String>,
    /// Only this stage.
    pub stage: Option<String>,
    /// Only runs created at or after this instant (RFC 3339).
    pub since: Option<String>,
    /// Only runs created before this run id's creation (pagination cursor).
    pub before: Option<String>,
    /// At most this many.
    pub limit: i64,
}

/// The outcome of claiming a run key.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This caller created the run and must evaluate it.
    New(String),
    /// The key is taken; here is the run.
    Existing(Box<RunRecord>),
}

/// The rule results and metrics a report stores: every rule in order, and
/// every measured series once (rule metrics at their rule's position,
/// analyzer metrics without one).
pub fn report_records(
    report: &crate::report::Report,
) -> (Vec<RuleResultRecord>, Vec<MetricRecord>) {
    let rules = report
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| RuleResultRecord {
            position: i64::try_from(i).unwrap_or(i64::MAX),
            rule: r.rule.clone(),
            outcome: format!("{:?}", r.outcome),
            message: r.message.clone(),
            labels: serde_json::to_value(&r.labels).unwrap_or_default(),
            observations: if r.observations.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::to_value(&r.observations).unwrap_or_default()
            },
        })
        .collect();
    let metrics = report
        .series
        .iter()
        .map(|s| MetricRecord {
            name: s.key.metric.clone(),
            value: s.value,
            position: s.rule.map(|p| i64::try_from(p).unwrap_or(i64::MAX)),
            where_clause: s.key.where_clause.clone(),
        })
        .collect();
    (rules, metrics)
}

const RUN_COLUMNS: &str = "id, run_key, dataset, ruleset, ruleset_version, stage, parameters, inputs, status, decision, score, passed, failed, errors, message, created_at, started_at, finished_at, duration_ms";

fn run_from_row(row: &sqlx::any::AnyRow) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: row.try_get("id")?,
        run_key: row.try_get("run_key")?,
        dataset: row.try_get("dataset")?,
        ruleset: row.try_get("ruleset")?,
        ruleset_version: row.try_get("ruleset_version")?,
        stage: row.try_get("stage")?,
        parameters: serde_json::from_str(&row.try_get::<String, _>("parameters")?)?,
        inputs: serde_json::from_str(&row.try_get::<String, _>("inputs")?)?,
        status: row.try_get("status")?,
        decision: row.try_get("decision")?,
        score: row.try_get("score")?,
        passed: row.try_get("passed")?,
        failed: row.try_get("failed")?,
        errors: row.try_get("errors")?,
        message: row.try_get("message")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        duration_ms: row.try_get("duration_ms")?,
    })
}
impl Store {
    /// Creates the run for `run_key`, or returns the run that already has it
    /// (idempotent under concurrent retries: one caller wins the insert).
    #[allow(clippy::too_many_arguments)]
    pub async fn claim_run(
        &self,
        id: &str,
        run_key: &str,
        dataset: &str,
        ruleset: &str,
        ruleset_version: i64,
        stage: &str,
        parameters: &serde_json::Value,
    ) -> Result<Claim, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO runs (id, run_key, dataset, ruleset, ruleset_version, stage, parameters, inputs, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, '{}', 'queued', $8) ON CONFLICT (run_key) DO NOTHING",
        )
        .bind(id)
        .bind(run_key)
        .bind(dataset)
        .bind(ruleset)
        .bind(ruleset_version)
        .bind(stage)
        .bind(parameters.to_string())
        .bind(now_text())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::New(id.to_string()));
        }
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE run_key = $1"
        ))
        .bind(run_key)
        .fetch_one(&self.pool)
        .await?;
        Ok(Claim::Existing(Box::new(run_from_row(&row)?)))
    }

    /// Marks a run as running.
    pub async fn start_run(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET status = 'running', started_at = $1 WHERE id = $2")
            .bind(now_text())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Writes a finished run and all its results in one transaction.
    pub async fn finish_run(&self, id: &str, f: &Finished<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_text();
        sqlx::query(
            "UPDATE runs SET status = $1, decision = $2, score = $3, passed = $4, failed = $5, errors = $6, message = $7, \
             inputs = $8, started_at = $9, finished_at = $10, duration_ms = $11 WHERE id = $12",
        )
        .bind(f.status)
        .bind(f.decision)
        .bind(f.score)
        .bind(f.counts.0)
        .bind(f.counts.1)
        .bind(f.counts.2)
        .bind(f.message)
        .bind(f.inputs.to_string())
        .bind(f.started_at)
        .bind(&now)
        .bind(f.duration_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let (dataset, ruleset, stage, created_at): (String, String, String, String) =
            sqlx::query_as("SELECT dataset, ruleset, stage, created_at FROM runs WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        for r in f.rules {
            sqlx::query("INSERT INTO rule_results (run_id, position, rule, outcome, message, labels, observations) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id)
                .bind(r.position)
                .bind(&r.rule)
                .bind(&r.outcome)
                .bind(&r.message)
                .bind(r.labels.to_string())
                .bind((!r.observations.is_null()).then(|| r.observations.to_string()))
                .execute(&mut *tx)
                .await?;
        }
        for m in f.metrics {
            sqlx::query(
                "INSERT INTO metrics (run_id, dataset, ruleset, stage, name, value, position, created_at, where_clause, observed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(id)
            .bind(&dataset)
            .bind(&ruleset)
            .bind(&stage)
            .bind(&m.name)
            .bind(m.value)
            .bind(m.position)
            .bind(&created_at)
            .bind(&m.where_clause)
            .bind(f.observed_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks every queued or running run as interrupted (after a crash or
    /// shutdown), so none stays "running" forever. Returns how many.
    pub async fn interrupt_unfinished(&self, message: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET status = 'interrupted', decision = 'error', message = $1, finished_at = $2 \
             WHERE status IN ('queued', 'running')",
        )
        .bind(message)
        .bind(now_text())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The run with an idempotency key.
    pub async fn find_run_by_key(&self, run_key: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE run_key = $1"
        ))
        .bind(run_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| run_from_row(&r)).transpose()
    }

    /// A run by id.
    pub async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| run_from_row(&r)).transpose()
    }

    /// A run's rule results and metrics.
    pub async fn run_results(
        &self,
        id: &str,
    ) -> Result<(Vec<RuleResultRecord>, Vec<MetricRecord>), StoreError> {
        let rules = sqlx::query("SELECT position, rule, outcome, message, labels, observations FROM rule_results WHERE run_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| -> Result<RuleResultRecord, StoreError> {
                Ok(RuleResultRecord {
                    position: r.try_get("position")?,
                    rule: r.try_get("rule")?,
                    outcome: r.try_get("outcome")?,
                    message: r.try_get("message")?,
                    labels: serde_json::from_str(&r.try_get::<String, _>("labels")?)?,
                    observations: match r.try_get::<Option<String>, _>("observations")? {
                        Some(text) => serde_json::from_str(&text)?,
                        None => serde_json::Value::Null,
                    },
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metrics = sqlx::query(
            "SELECT name, value, position, where_clause FROM metrics WHERE run_id = $1 ORDER BY position, name",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| -> Result<MetricRecord, StoreError> {
            Ok(MetricRecord {
                name: r.try_get("name")?,
                value: r.try_get("value")?,
                position: r.try_get("position")?,
                where_clause: r.try_get("where_clause")?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
        Ok((rules, metrics))
    }

    /// Runs, newest first.
    pub async fn list_runs(&self, f: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE ($1 = '' OR dataset = $1) AND ($2 = '' OR stage = $2) \
             AND ($3 = '' OR created_at >= $3) \
             AND ($4 = '' OR created_at < (SELECT created_at FROM runs WHERE id = $4) \
                  OR (created_at = (SELECT created_at FROM runs WHERE id = $4) AND id < $4)) \
             ORDER BY created_at DESC, id DESC LIMIT $5"
        ))
        .bind(f.dataset.clone().unwrap_or_default())
        .bind(f.stage.clone().unwrap_or_default())
        .bind(f.since.clone().unwrap_or_default())
        .bind(f.before.clone().unwrap_or_default())
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }
}
