//! Runs, their rule results and their metric rows.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, decode_json, encode_json, now_text, parse_text};
use crate::gate::Decision;
use crate::plan::Outcome;
use crate::report::{RowSample, SampledRow};

/// Where a run is in its life; stored as [`RunStatus::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Claimed, waiting for an evaluation slot.
    Queued,
    /// Being evaluated.
    Running,
    /// Evaluated; the decision is the gate policy's.
    Done,
    /// The evaluation could not produce results.
    Error,
    /// The process stopped before the run finished.
    Interrupted,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Done,
        RunStatus::Error,
        RunStatus::Interrupted,
    ];

    /// The status as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Error => "error",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// True once the run can no longer change.
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no run status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown run status `{0}`")]
pub struct UnknownStatus(pub String);

impl FromStr for RunStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        RunStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// What a run was asked for; two requests with one run key are the same
/// run only when these are equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// Dataset name.
    pub dataset: String,
    /// Ruleset name.
    pub ruleset: String,
    /// Pipeline stage.
    pub stage: String,
    /// Caller parameters (`{}` for none).
    pub parameters: serde_json::Value,
    /// Other datasets by alias.
    pub aliases: BTreeMap<String, String>,
    /// The ruleset version the caller pinned (`None`: the latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ruleset_version: Option<i64>,
}

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
    /// Where the run is in its life.
    pub status: RunStatus,
    /// The decision, once known.
    pub decision: Option<Decision>,
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
    /// What the run was asked for (`None` for runs stored before requests
    /// were recorded).
    pub request: Option<RunIdentity>,
}

const RUN_COLUMNS: &str = "id, run_key, dataset, ruleset, ruleset_version, stage, parameters, inputs, status, decision, score, passed, failed, errors, message, created_at, started_at, finished_at, duration_ms, request";

/// A `runs` row: JSON documents and enums as their stored text.
#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    run_key: String,
    dataset: String,
    ruleset: String,
    ruleset_version: i64,
    stage: String,
    parameters: String,
    inputs: String,
    status: String,
    decision: Option<String>,
    score: Option<f64>,
    passed: Option<i64>,
    failed: Option<i64>,
    errors: Option<i64>,
    message: Option<String>,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    duration_ms: Option<i64>,
    request: Option<String>,
}

impl TryFrom<RunRow> for RunRecord {
    type Error = StoreError;

    fn try_from(r: RunRow) -> Result<Self, StoreError> {
        Ok(RunRecord {
            parameters: decode_json("run parameters", &r.parameters)?,
            inputs: decode_json("run inputs", &r.inputs)?,
            status: parse_text("run status", &r.status)?,
            decision: r
                .decision
                .as_deref()
                .map(|d| parse_text("run decision", d))
                .transpose()?,
            request: r
                .request
                .as_deref()
                .map(|text| decode_json("run request", text))
                .transpose()?,
            id: r.id,
            run_key: r.run_key,
            dataset: r.dataset,
            ruleset: r.ruleset,
            ruleset_version: r.ruleset_version,
            stage: r.stage,
            score: r.score,
            passed: r.passed,
            failed: r.failed,
            errors: r.errors,
            message: r.message,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: r.duration_ms,
        })
    }
}

/// A stored rule result.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleResultRecord {
    /// Position in the ruleset.
    pub position: i64,
    /// Canonical rule text.
    pub rule: String,
    /// Passed, Failed or Error.
    pub outcome: Outcome,
    /// The message.
    pub message: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// DetectAnomalies observations (JSON array), `Null` for other rules.
    pub observations: serde_json::Value,
}

/// A `rule_results` row.
#[derive(sqlx::FromRow)]
struct RuleResultRow {
    position: i64,
    rule: String,
    outcome: String,
    message: String,
    labels: String,
    observations: Option<String>,
}

impl TryFrom<RuleResultRow> for RuleResultRecord {
    type Error = StoreError;

    fn try_from(r: RuleResultRow) -> Result<Self, StoreError> {
        Ok(RuleResultRecord {
            outcome: parse_text("rule outcome", &r.outcome)?,
            labels: decode_json("rule labels", &r.labels)?,
            observations: match &r.observations {
                Some(text) => decode_json("rule observations", text)?,
                None => serde_json::Value::Null,
            },
            position: r.position,
            rule: r.rule,
            message: r.message,
        })
    }
}

/// A stored metric value.
#[derive(Debug, Clone, Default, Serialize, PartialEq, sqlx::FromRow)]
pub struct MetricRecord {
    /// Metric name.
    pub name: String,
    /// Value.
    pub value: f64,
    /// Rule position, or `None` for analyzer metrics.
    pub position: Option<i64>,
    /// The `where` it was computed under, empty for none.
    pub where_clause: String,
    /// What a DetectAnomalies rule saw of this value, when one watched it
    /// (written for the reporting views; not read back by the run API).
    #[sqlx(skip)]
    pub anomaly: Option<AnomalyBand>,
}

/// A DetectAnomalies observation of one stored value.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct AnomalyBand {
    /// The baseline's median, once there is enough history.
    pub expected: Option<f64>,
    /// Lowest value not flagged.
    pub lower: Option<f64>,
    /// Highest value not flagged.
    pub upper: Option<f64>,
    /// True when the value is outside the band.
    pub anomalous: bool,
}

/// A `failed_row_samples` row.
#[derive(sqlx::FromRow)]
struct SampleRow {
    sample: i64,
    rule_position: i64,
    rule: String,
    columns: String,
    row_values: String,
    failed_rules: String,
}

/// An index or count as stored.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What a finished run writes.
pub struct Finished<'a> {
    /// Final status: done or error.
    pub status: RunStatus,
    /// Decision.
    pub decision: Decision,
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
    /// Failing rows kept per row-level rule.
    pub samples: &'a [RowSample],
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
    /// Only runs created before this instant (RFC 3339).
    pub until: Option<String>,
    /// Only runs with this decision (`pass`, `warn`, `fail`, `error`).
    pub decision: Option<String>,
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

impl Store {
    /// Creates the run for `run_key`, or returns the run that already has it
    /// (idempotent under concurrent retries: one caller wins the insert).
    /// The request is recorded without aliases; see [`Store::claim_run_for`].
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
        let request = RunIdentity {
            dataset: dataset.to_string(),
            ruleset: ruleset.to_string(),
            stage: stage.to_string(),
            parameters: parameters.clone(),
            aliases: BTreeMap::new(),
            ruleset_version: None,
        };
        self.claim_run_for(id, run_key, ruleset_version, &request)
            .await
    }

    /// Creates the run for `run_key` recording `request`, or returns the
    /// run that already has the key (whatever it was asked for).
    pub async fn claim_run_for(
        &self,
        id: &str,
        run_key: &str,
        ruleset_version: i64,
        request: &RunIdentity,
    ) -> Result<Claim, StoreError> {
        let _timer = self.timer("claim");
        let inserted = sqlx::query(
            "INSERT INTO runs (id, run_key, dataset, ruleset, ruleset_version, stage, parameters, inputs, status, created_at, request) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, '{}', $8, $9, $10) ON CONFLICT (run_key) DO NOTHING",
        )
        .bind(id)
        .bind(run_key)
        .bind(&request.dataset)
        .bind(&request.ruleset)
        .bind(ruleset_version)
        .bind(&request.stage)
        .bind(request.parameters.to_string())
        .bind(RunStatus::Queued.as_str())
        .bind(now_text())
        .bind(encode_json("run request", request)?.to_string())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::New(id.to_string()));
        }
        let row: RunRow = sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE run_key = $1"
        ))
        .bind(run_key)
        .fetch_one(&self.pool)
        .await?;
        Ok(Claim::Existing(Box::new(row.try_into()?)))
    }

    /// Marks a run as running.
    pub async fn start_run(&self, id: &str) -> Result<(), StoreError> {
        let _timer = self.timer("start");
        sqlx::query("UPDATE runs SET status = $1, started_at = $2 WHERE id = $3")
            .bind(RunStatus::Running.as_str())
            .bind(now_text())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Writes a finished run and all its results in one transaction.
    pub async fn finish_run(&self, id: &str, f: &Finished<'_>) -> Result<(), StoreError> {
        let _timer = self.timer("finish");
        let mut tx = self.begin_write().await?;
        let now = now_text();
        sqlx::query(
            "UPDATE runs SET status = $1, decision = $2, score = $3, passed = $4, failed = $5, errors = $6, message = $7, \
             inputs = $8, started_at = $9, finished_at = $10, duration_ms = $11 WHERE id = $12",
        )
        .bind(f.status.as_str())
        .bind(f.decision.as_str())
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
        // `score` may be NULL: see the metrics insert below.
        .persistent(false)
        .execute(&mut *tx)
        .await?;
        let (dataset, ruleset, stage, created_at): (String, String, String, String) =
            sqlx::query_as("SELECT dataset, ruleset, stage, created_at FROM runs WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        for r in f.rules {
            let labels = serde_json::to_string(&r.labels).map_err(|source| StoreError::Encode {
                what: "rule labels",
                source,
            })?;
            sqlx::query("INSERT INTO rule_results (run_id, position, rule, outcome, message, labels, observations) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id)
                .bind(r.position)
                .bind(&r.rule)
                .bind(r.outcome.as_str())
                .bind(&r.message)
                .bind(labels)
                .bind((!r.observations.is_null()).then(|| r.observations.to_string()))
                .execute(&mut *tx)
                .await?;
        }
        for m in f.metrics {
            let band = m.anomaly.unwrap_or_default();
            sqlx::query(
                "INSERT INTO metrics (run_id, dataset, ruleset, stage, name, value, position, created_at, where_clause, observed_at, \
                 expected, lower_bound, upper_bound, anomalous) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
            .bind(band.expected)
            .bind(band.lower)
            .bind(band.upper)
            .bind(m.anomaly.map(|a| i64::from(a.anomalous)))
            // Not a cached statement: sqlx's Any driver declares a NULL
            // double as float4, so a statement first prepared with one
            // rejects a later float8 value on PostgreSQL.
            .persistent(false)
            .execute(&mut *tx)
            .await?;
        }
        for (n, sample) in f.samples.iter().enumerate() {
            let columns = encode_json("sample columns", &sample.columns)?.to_string();
            for (k, row) in sample.rows.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO failed_row_samples (run_id, sample, row_index, rule_position, rule, columns, row_values, failed_rules) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id)
                .bind(count(n))
                .bind(count(k))
                .bind(count(sample.rule_position))
                .bind(&sample.rule)
                .bind(&columns)
                .bind(encode_json("sample row", &row.values)?.to_string())
                .bind(encode_json("sample rules", &row.failed_rules)?.to_string())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The failing rows a run kept, one sample per row-level rule, in rule
    /// order.
    pub async fn run_samples(&self, id: &str) -> Result<Vec<RowSample>, StoreError> {
        let rows: Vec<SampleRow> = sqlx::query_as(
            "SELECT CAST(sample AS BIGINT) AS sample, CAST(rule_position AS BIGINT) AS rule_position, rule, columns, row_values, failed_rules \
             FROM failed_row_samples WHERE run_id = $1 ORDER BY sample, row_index",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut samples: Vec<(i64, RowSample)> = Vec::new();
        for r in rows {
            let row = SampledRow {
                values: decode_json("sample row", &r.row_values)?,
                failed_rules: decode_json("sample rules", &r.failed_rules)?,
            };
            match samples.last_mut() {
                Some((n, s)) if *n == r.sample => s.rows.push(row),
                _ => samples.push((
                    r.sample,
                    RowSample {
                        rule_position: usize::try_from(r.rule_position).map_err(|_| {
                            StoreError::Corrupt(format!("sample rule position {}", r.rule_position))
                        })?,
                        rule: r.rule,
                        columns: decode_json("sample columns", &r.columns)?,
                        rows: vec![row],
                    },
                )),
            }
        }
        Ok(samples.into_iter().map(|(_, s)| s).collect())
    }

    /// Ends one run that is still queued or running with `status` (error
    /// or interrupted), decision `error` and `message`. False when the run
    /// had already finished (or does not exist).
    pub async fn end_unfinished_run(
        &self,
        id: &str,
        status: RunStatus,
        message: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET status = $1, decision = $2, message = $3, finished_at = $4 \
             WHERE id = $5 AND status IN ($6, $7)",
        )
        .bind(status.as_str())
        .bind(Decision::Error.as_str())
        .bind(message)
        .bind(now_text())
        .bind(id)
        .bind(RunStatus::Queued.as_str())
        .bind(RunStatus::Running.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Marks every queued or running run as interrupted (decision `error`),
    /// so none stays "running" forever. Returns how many.
    pub async fn interrupt_unfinished(&self, message: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE runs SET status = $1, decision = $2, message = $3, finished_at = $4 \
             WHERE status IN ($5, $6)",
        )
        .bind(RunStatus::Interrupted.as_str())
        .bind(Decision::Error.as_str())
        .bind(message)
        .bind(now_text())
        .bind(RunStatus::Queued.as_str())
        .bind(RunStatus::Running.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The run with an idempotency key.
    pub async fn find_run_by_key(&self, run_key: &str) -> Result<Option<RunRecord>, StoreError> {
        let _timer = self.timer("find_run");
        let row: Option<RunRow> = sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE run_key = $1"
        ))
        .bind(run_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    /// A run by id.
    pub async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let _timer = self.timer("get_run");
        let row: Option<RunRow> =
            sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(TryInto::try_into).transpose()
    }

    /// A run's rule results and metrics.
    pub async fn run_results(
        &self,
        id: &str,
    ) -> Result<(Vec<RuleResultRecord>, Vec<MetricRecord>), StoreError> {
        let _timer = self.timer("run_results");
        let rules: Vec<RuleResultRow> = sqlx::query_as("SELECT position, rule, outcome, message, labels, observations FROM rule_results WHERE run_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let rules = rules
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<_>, _>>()?;
        let metrics = sqlx::query_as(
            "SELECT name, value, position, where_clause FROM metrics WHERE run_id = $1 ORDER BY position, name",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok((rules, metrics))
    }

    /// Runs, newest first. Only the filters given become conditions, so
    /// the database can use its indexes (a `($1 = '' OR dataset = $1)`
    /// form would read every run).
    pub async fn list_runs(&self, f: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let mut conditions: Vec<String> = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut add = |sql: &str, value: String, binds: &mut Vec<String>| {
            binds.push(value);
            conditions.push(sql.replace('?', &format!("${}", binds.len())));
        };
        if let Some(v) = given(&f.dataset) {
            add("dataset = ?", v, &mut binds);
        }
        if let Some(v) = given(&f.stage) {
            add("stage = ?", v, &mut binds);
        }
        if let Some(v) = given(&f.since) {
            add("created_at >= ?", v, &mut binds);
        }
        if let Some(v) = given(&f.until) {
            add("created_at < ?", v, &mut binds);
        }
        if let Some(v) = given(&f.decision) {
            add("decision = ?", v, &mut binds);
        }
        if let Some(v) = given(&f.before) {
            add(
                "(created_at < (SELECT created_at FROM runs WHERE id = ?) \
                 OR (created_at = (SELECT created_at FROM runs WHERE id = ?) AND id < ?))",
                v,
                &mut binds,
            );
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs {filter} ORDER BY created_at DESC, id DESC LIMIT ${}",
            binds.len() + 1
        );
        let mut query = sqlx::query_as::<_, RunRow>(&sql);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.bind(f.limit).fetch_all(&self.pool).await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The latest run of every (dataset, stage), by dataset and stage: the
    /// newest creation per pair (one pass over the dataset-stage index),
    /// ties broken by the larger id.
    pub async fn latest_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        let columns = RUN_COLUMNS
            .split(", ")
            .map(|c| format!("r.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Vec<RunRow> = sqlx::query_as(&format!(
            "SELECT {columns} FROM runs r \
             JOIN (SELECT dataset, stage, MAX(created_at) AS latest FROM runs GROUP BY dataset, stage) l \
               ON r.dataset = l.dataset AND r.stage = l.stage AND r.created_at = l.latest \
             WHERE NOT EXISTS (SELECT 1 FROM runs n WHERE n.dataset = r.dataset AND n.stage = r.stage \
                               AND n.created_at = r.created_at AND n.id > r.id) \
             ORDER BY r.dataset, r.stage"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_round_trips_and_matches_serde() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_value(status).expect("json"),
                serde_json::json!(status.as_str())
            );
        }
        let texts: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            texts,
            ["queued", "running", "done", "error", "interrupted"],
            "the stored text is the schema's"
        );
        assert!("Done".parse::<RunStatus>().is_err());
        assert!(!RunStatus::Running.is_finished());
        assert!(RunStatus::Interrupted.is_finished());
    }

    #[test]
    fn outcome_text_is_the_report_text() {
        for outcome in Outcome::ALL {
            assert_eq!(outcome.as_str().parse::<Outcome>(), Ok(outcome));
            assert_eq!(
                serde_json::to_value(outcome).expect("json"),
                serde_json::json!(outcome.as_str()),
                "stored text equals the report's JSON"
            );
        }
        assert!("passed".parse::<Outcome>().is_err());
    }

    #[test]
    fn rows_with_unknown_text_are_corrupt_not_defaulted() {
        let row = RuleResultRow {
            position: 0,
            rule: "RowCount > 0".into(),
            outcome: "Maybe".into(),
            message: String::new(),
            labels: "{}".into(),
            observations: None,
        };
        assert!(matches!(
            RuleResultRecord::try_from(row),
            Err(StoreError::Corrupt(_))
        ));
        let row = RuleResultRow {
            position: 0,
            rule: "RowCount > 0".into(),
            outcome: "Passed".into(),
            message: String::new(),
            labels: "{not json".into(),
            observations: None,
        };
        assert!(matches!(
            RuleResultRecord::try_from(row),
            Err(StoreError::Decode {
                what: "rule labels",
                ..
            })
        ));
    }
}
