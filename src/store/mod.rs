//! The results store: rulesets (immutable versions), datasets, runs, rule
//! results, metrics and API tokens, in SQLite (embedded default) or
//! PostgreSQL, through one set of queries on sqlx's `Any` driver.
//! Timestamps are RFC 3339 UTC text and JSON documents are text, so both
//! databases share every statement.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

use crate::history::{History, Point, SeriesKey};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or a statement failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The URL names no supported database.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored JSON document could not be read.
    #[error("corrupt stored document: {0}")]
    Json(#[from] serde_json::Error),
    /// A stored value has the wrong shape.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A connection pool with migrations applied.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// The current time as stored.
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// One version of a ruleset.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RulesetVersion {
    /// Ruleset name.
    pub name: String,
    /// 1, 2, ...
    pub version: i64,
    /// The DQDL text.
    pub dqdl: String,
    /// Why this version was saved.
    pub comment: Option<String>,
    /// Name of the token that saved it.
    pub author: String,
    /// When it was saved.
    pub created_at: String,
}

/// A registered dataset.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DatasetRecord {
    /// Registry name.
    pub name: String,
    /// `parquet`, `csv` or `json`.
    pub format: String,
    /// File, folder or glob.
    pub location: String,
    /// Reader options.
    pub options: serde_json::Value,
    /// First registered.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
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

/// A new run id (UUID v4 text).
pub fn new_run_id() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
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
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`) and applies
    /// the migrations of that database.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let mut options =
            AnyPoolOptions::new().max_connections(if backend == Backend::Sqlite { 4 } else { 10 });
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA busy_timeout = 10000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await?;
        match backend {
            Backend::Sqlite => {
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&pool)
                    .await?;
                sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            }
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Store { pool, backend })
    }

    /// The SQLite URL of the store file under `data_dir`, creating the dir.
    pub fn sqlite_url(data_dir: &Path) -> Result<String, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let abs = std::path::absolute(data_dir.join("dqgate.db")).map_err(|source| {
            StoreError::DataDir {
                path: data_dir.display().to_string(),
                source,
            }
        })?;
        Ok(format!("sqlite://{}?mode=rwc", abs.display()))
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // ------------------------------------------------------------ rulesets

    /// Saves `dqdl` as the next version of `name`, unless it equals the
    /// latest version. Returns the version and whether it is new.
    pub async fn put_ruleset(
        &self,
        name: &str,
        dqdl: &str,
        comment: Option<&str>,
        author: &str,
    ) -> Result<(RulesetVersion, bool), StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_text();
        let existing: Option<(Option<String>,)> =
            sqlx::query_as("SELECT deleted_at FROM rulesets WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        match existing {
            None => {
                sqlx::query("INSERT INTO rulesets (name, created_at) VALUES ($1, $2)")
                    .bind(name)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
            }
            Some((Some(_),)) => {
                sqlx::query("UPDATE rulesets SET deleted_at = NULL WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            Some((None,)) => {}
        }
        let latest = sqlx::query(
            "SELECT name, version, dqdl, comment, author, created_at FROM ruleset_versions \
             WHERE name = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| version_from_row(&r))
        .transpose()?;
        if let Some(v) = &latest
            && v.dqdl == dqdl
            && matches!(existing, Some((None,)))
        {
            tx.commit().await?;
            return Ok((v.clone(), false));
        }
        let version = latest.map_or(1, |v| v.version + 1);
        sqlx::query(
            "INSERT INTO ruleset_versions (name, version, dqdl, comment, author, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(name)
        .bind(version)
        .bind(dqdl)
        .bind(comment)
        .bind(author)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((
            RulesetVersion {
                name: name.to_string(),
                version,
                dqdl: dqdl.to_string(),
                comment: comment.map(str::to_string),
                author: author.to_string(),
                created_at: now,
            },
            true,
        ))
    }

    /// Every live ruleset with its latest version.
    pub async fn list_rulesets(&self) -> Result<Vec<RulesetVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.name, v.version, v.dqdl, v.comment, v.author, v.created_at FROM ruleset_versions v \
             JOIN rulesets r ON r.name = v.name \
             WHERE r.deleted_at IS NULL AND v.version = (SELECT max(version) FROM ruleset_versions w WHERE w.name = v.name) \
             ORDER BY v.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// A version of a live ruleset (the latest when `version` is `None`).
    pub async fn get_ruleset(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<RulesetVersion>, StoreError> {
        let row = sqlx::query(
            "SELECT v.name, v.version, v.dqdl, v.comment, v.author, v.created_at FROM ruleset_versions v \
             JOIN rulesets r ON r.name = v.name \
             WHERE r.deleted_at IS NULL AND v.name = $1 AND ($2 < 0 OR v.version = $2) \
             ORDER BY v.version DESC LIMIT 1",
        )
        .bind(name)
        .bind(version.unwrap_or(-1))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| version_from_row(&r)).transpose()
    }

    /// Every version of a live ruleset, newest first.
    pub async fn ruleset_versions(&self, name: &str) -> Result<Vec<RulesetVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT v.name, v.version, v.dqdl, v.comment, v.author, v.created_at FROM ruleset_versions v \
             JOIN rulesets r ON r.name = v.name WHERE r.deleted_at IS NULL AND v.name = $1 ORDER BY v.version DESC",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Marks a ruleset deleted (its versions and runs stay). False if absent.
    pub async fn delete_ruleset(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE rulesets SET deleted_at = $1 WHERE name = $2 AND deleted_at IS NULL",
        )
        .bind(now_text())
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    // ------------------------------------------------------------ datasets

    /// Registers or replaces a dataset. Returns whether it is new.
    pub async fn put_dataset(
        &self,
        name: &str,
        format: &str,
        location: &str,
        options: &serde_json::Value,
    ) -> Result<(DatasetRecord, bool), StoreError> {
        let now = now_text();
        let existed = self.get_dataset(name).await?;
        let options_text = options.to_string();
        let created_at = match &existed {
            Some(d) => {
                sqlx::query("UPDATE datasets SET format = $1, location = $2, options = $3, updated_at = $4 WHERE name = $5")
                    .bind(format)
                    .bind(location)
                    .bind(&options_text)
                    .bind(&now)
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                d.created_at.clone()
            }
            None => {
                sqlx::query(
                    "INSERT INTO datasets (name, format, location, options, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
                     ON CONFLICT (name) DO UPDATE SET format = $2, location = $3, options = $4, updated_at = $5",
                )
                .bind(name)
                .bind(format)
                .bind(location)
                .bind(&options_text)
                .bind(&now)
                .execute(&self.pool)
                .await?;
                now.clone()
            }
        };
        Ok((
            DatasetRecord {
                name: name.to_string(),
                format: format.to_string(),
                location: location.to_string(),
                options: options.clone(),
                created_at,
                updated_at: now,
            },
            existed.is_none(),
        ))
    }

    /// A registered dataset.
    pub async fn get_dataset(&self, name: &str) -> Result<Option<DatasetRecord>, StoreError> {
        let row = sqlx::query("SELECT name, format, location, options, created_at, updated_at FROM datasets WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| dataset_from_row(&r)).transpose()
    }

    /// Every registered dataset.
    pub async fn list_datasets(&self) -> Result<Vec<DatasetRecord>, StoreError> {
        let rows = sqlx::query("SELECT name, format, location, options, created_at, updated_at FROM datasets ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(dataset_from_row).collect()
    }

    // ------------------------------------------------------------ runs

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

    // ----------------------------------------------------------- history

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

    // ------------------------------------------------------------ tokens

    /// Stores a token's hash under a unique name. False if the name exists.
    pub async fn create_token(
        &self,
        name: &str,
        role: &str,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("INSERT INTO tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(role)
            .bind(hash)
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The (name, role) of the token with this hash.
    pub async fn find_token(&self, hash: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT name, role FROM tokens WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

fn version_from_row(r: &sqlx::any::AnyRow) -> Result<RulesetVersion, StoreError> {
    Ok(RulesetVersion {
        name: r.try_get("name")?,
        version: r.try_get("version")?,
        dqdl: r.try_get("dqdl")?,
        comment: r.try_get("comment")?,
        author: r.try_get("author")?,
        created_at: r.try_get("created_at")?,
    })
}

fn dataset_from_row(r: &sqlx::any::AnyRow) -> Result<DatasetRecord, StoreError> {
    Ok(DatasetRecord {
        name: r.try_get("name")?,
        format: r.try_get("format")?,
        location: r.try_get("location")?,
        options: serde_json::from_str(&r.try_get::<String, _>("options")?)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}
