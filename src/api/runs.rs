//! Runs and trends: what dashboards and orchestrators read.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::{Access, Caller};
use super::error::{Problem, ProblemJson};
use crate::report::RowSample;
use crate::source::redact;
use crate::store::{RunFilter, RunRecord, TrendPoint};

/// A rule's stored result.
#[derive(Serialize, ToSchema)]
pub struct RuleView {
    pub(crate) rule: String,
    pub(crate) outcome: String,
    pub(crate) message: String,
    pub(crate) metrics: BTreeMap<String, f64>,
    pub(crate) labels: BTreeMap<String, String>,
    /// DetectAnomalies: per watched metric the value, expected value,
    /// bounds, method and a suggested static rule.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    #[schema(value_type = Object)]
    pub(crate) observations: serde_json::Value,
}

/// A run as served (also the gate's answer).
#[derive(Serialize, ToSchema)]
pub struct RunView {
    /// pass, warn, fail or error; absent while the run is unfinished.
    pub(crate) decision: Option<String>,
    /// queued, running, done, error or interrupted.
    pub(crate) status: String,
    /// Passed / rules.
    pub(crate) score: Option<f64>,
    /// Link to this run.
    pub(crate) run: String,
    /// Run id.
    pub(crate) id: String,
    /// The caller's idempotency key.
    pub(crate) run_key: String,
    pub(crate) dataset: String,
    pub(crate) ruleset: String,
    pub(crate) ruleset_version: i64,
    pub(crate) stage: String,
    pub(crate) passed: Option<i64>,
    pub(crate) failed: Option<i64>,
    pub(crate) errors: Option<i64>,
    /// Why the run errored.
    pub(crate) message: Option<String>,
    #[schema(value_type = Object)]
    pub(crate) parameters: serde_json::Value,
    /// What was read: `ruleset`, `dataset`, `aliases`, `read` (formats,
    /// snapshots, slices); for a failing run of a dataset with the
    /// `quarantine` option, `quarantine`: `{"location": "<quarantine>/<dataset>/<stage>/<run id>/",
    /// "rows": N, "files": F}` (the failing rows written there as Parquet).
    #[schema(value_type = Object)]
    pub(crate) inputs: serde_json::Value,
    pub(crate) created_at: String,
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    pub(crate) duration_ms: Option<i64>,
    /// Rule results in ruleset order.
    pub(crate) rules: Vec<RuleView>,
    /// Analyzer metrics.
    pub(crate) analyzers: BTreeMap<String, f64>,
    /// Failing rows the run kept (the dataset's `failed_rows_sample`, default
    /// 20 per row-level rule whose rule failed), one sample per row-level
    /// rule. The values are the dataset's data, served as read to every
    /// role that may read runs.
    pub(crate) failed_rows: Vec<RowSample>,
}

/// Builds the served view of a run from the store.
pub async fn run_view(state: &AppState, run: RunRecord) -> Result<RunView, Problem> {
    let (rules, metrics) = state.store.run_results(&run.id).await?;
    let failed_rows = state.store.run_samples(&run.id).await?;
    let mut analyzers = BTreeMap::new();
    let mut by_position: BTreeMap<i64, BTreeMap<String, f64>> = BTreeMap::new();
    for m in metrics {
        match m.position {
            Some(p) => {
                by_position.entry(p).or_default().insert(m.name, m.value);
            }
            None => {
                analyzers.insert(m.name, m.value);
            }
        }
    }
    let rules = rules
        .into_iter()
        .map(|r| RuleView {
            metrics: by_position.remove(&r.position).unwrap_or_default(),
            labels: r.labels,
            rule: r.rule,
            outcome: r.outcome.as_str().to_string(),
            message: redact::message(&r.message),
            observations: r.observations,
        })
        .collect();
    let mut inputs = run.inputs;
    redact::json(&mut inputs);
    Ok(RunView {
        decision: run.decision.map(|d| d.as_str().to_string()),
        status: run.status.as_str().to_string(),
        score: run.score,
        run: format!("/v1/runs/{}", run.id),
        id: run.id,
        run_key: run.run_key,
        dataset: run.dataset,
        ruleset: run.ruleset,
        ruleset_version: run.ruleset_version,
        stage: run.stage,
        passed: run.passed,
        failed: run.failed,
        errors: run.errors,
        message: run.message.as_deref().map(redact::message),
        parameters: run.parameters,
        inputs,
        created_at: run.created_at,
        started_at: run.started_at,
        finished_at: run.finished_at,
        duration_ms: run.duration_ms,
        rules,
        analyzers,
        failed_rows,
    })
}

/// Filters of `GET /v1/runs`.
#[derive(Deserialize, IntoParams)]
pub struct RunsQuery {
    /// Only this dataset.
    dataset: Option<String>,
    /// Only this stage.
    stage: Option<String>,
    /// Only runs created at or after (RFC 3339).
    since: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<i64>,
    /// Cursor: runs older than this run id (from `next`).
    before: Option<String>,
}

/// A page of runs.
#[derive(Serialize, ToSchema)]
pub struct RunsPage {
    runs: Vec<RunSummary>,
    /// The next page, if there may be one.
    next: Option<String>,
}

/// A run in a listing.
#[derive(Serialize, ToSchema)]
pub struct RunSummary {
    id: String,
    run: String,
    run_key: String,
    dataset: String,
    ruleset: String,
    ruleset_version: i64,
    stage: String,
    status: String,
    decision: Option<String>,
    score: Option<f64>,
    created_at: String,
    duration_ms: Option<i64>,
}

fn check_instant(value: &Option<String>, what: &str) -> Result<(), Problem> {
    match value {
        Some(v) if chrono::DateTime::parse_from_rfc3339(v).is_err() => Err(Problem::bad_request(
            format!("{what} must be an RFC 3339 instant, e.g. 2026-11-26T00:00:00Z"),
        )),
        _ => Ok(()),
    }
}

/// Normalises an RFC 3339 instant to the stored form (UTC, microseconds).
fn stored_instant(value: &Option<String>) -> Option<String> {
    value.as_ref().and_then(|v| {
        chrono::DateTime::parse_from_rfc3339(v).ok().map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        })
    })
}

/// Runs, newest first, paginated.
#[utoipa::path(get, path = "/v1/runs", params(RunsQuery), responses((status = 200, body = RunsPage)))]
pub async fn list_runs(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<RunsQuery>,
) -> Result<Json<RunsPage>, Problem> {
    caller.require(Access::Read)?;
    check_instant(&q.since, "since")?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Problem::bad_request("limit must be between 1 and 500"));
    }
    let runs = state
        .store
        .list_runs(&RunFilter {
            dataset: q.dataset.clone(),
            stage: q.stage.clone(),
            since: stored_instant(&q.since),
            before: q.before.clone(),
            limit,
            ..RunFilter::default()
        })
        .await?;
    let next = (runs.len() as i64 == limit).then(|| {
        let mut params = vec![format!("limit={limit}")];
        for (k, v) in [
            ("dataset", &q.dataset),
            ("stage", &q.stage),
            ("since", &q.since),
        ] {
            if let Some(v) = v {
                params.push(format!("{k}={}", encode(v)));
            }
        }
        if let Some(last) = runs.last() {
            params.push(format!("before={}", last.id));
        }
        format!("/v1/runs?{}", params.join("&"))
    });
    let runs = runs
        .into_iter()
        .map(|r| RunSummary {
            run: format!("/v1/runs/{}", r.id),
            id: r.id,
            run_key: r.run_key,
            dataset: r.dataset,
            ruleset: r.ruleset,
            ruleset_version: r.ruleset_version,
            stage: r.stage,
            status: r.status.as_str().to_string(),
            decision: r.decision.map(|d| d.as_str().to_string()),
            score: r.score,
            created_at: r.created_at,
            duration_ms: r.duration_ms,
        })
        .collect();
    Ok(Json(RunsPage { runs, next }))
}

/// Percent-encodes a query value.
pub(crate) fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A run with its rule results and metrics.
#[utoipa::path(get, path = "/v1/runs/{id}", responses((status = 200, body = RunView), (status = 404, body = ProblemJson)))]
pub async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RunView>, Problem> {
    caller.require(Access::Read)?;
    // Runs whose end could not be stored are marked once the store answers.
    state.runs.heal().await;
    let run = state
        .store
        .get_run(&id)
        .await?
        .ok_or_else(|| Problem::not_found("run_not_found", format!("no run `{id}`")))?;
    Ok(Json(run_view(&state, run).await?))
}

/// Filters of `GET /v1/trends`.
#[derive(Deserialize, IntoParams)]
pub struct TrendsQuery {
    /// The dataset (required).
    dataset: Option<String>,
    /// Only runs of this ruleset.
    ruleset: Option<String>,
    /// Also the series of this metric, e.g. `Dataset.*.RowCount`; without
    /// it the answer lists the dataset's metrics (`metrics`).
    metric: Option<String>,
    /// The `where` text of the metric's rule (default: none).
    #[serde(rename = "where")]
    where_clause: Option<String>,
    /// From this instant (RFC 3339).
    since: Option<String>,
    /// Before this instant (RFC 3339).
    until: Option<String>,
}

/// Time series for dashboards.
#[derive(Serialize, ToSchema)]
pub struct Trends {
    dataset: String,
    ruleset: Option<String>,
    /// Score per finished run.
    score: Vec<TrendPointView>,
    /// The metric asked for.
    metric: Option<String>,
    /// Its value per run.
    values: Vec<TrendPointView>,
    /// Without `metric`: every metric recorded for the dataset, with its
    /// number of points.
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<Vec<MetricNameView>>,
}

/// A metric a trend can be asked for.
#[derive(Serialize, ToSchema)]
pub struct MetricNameView {
    /// Its name, the `metric` parameter.
    name: String,
    /// The rule's `where` text, the `where` parameter (empty for none).
    #[serde(rename = "where")]
    where_clause: String,
    /// Runs that recorded it.
    points: i64,
}

/// One point of a series.
#[derive(Serialize, ToSchema)]
pub struct TrendPointView {
    run: String,
    at: String,
    value: f64,
}

impl From<TrendPoint> for TrendPointView {
    fn from(p: TrendPoint) -> Self {
        TrendPointView {
            run: p.run,
            at: p.at,
            value: p.value,
        }
    }
}

/// Score per run and, optionally, one metric per run.
#[utoipa::path(get, path = "/v1/trends", params(TrendsQuery), responses((status = 200, body = Trends), (status = 400, body = ProblemJson)))]
pub async fn trends(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<TrendsQuery>,
) -> Result<Json<Trends>, Problem> {
    caller.require(Access::Read)?;
    let dataset = q
        .dataset
        .clone()
        .ok_or_else(|| Problem::bad_request("dataset is required"))?;
    check_instant(&q.since, "since")?;
    check_instant(&q.until, "until")?;
    let (since, until) = (stored_instant(&q.since), stored_instant(&q.until));
    let score = state
        .store
        .score_trend(
            &dataset,
            q.ruleset.as_deref(),
            since.as_deref(),
            until.as_deref(),
        )
        .await?;
    let metrics = match &q.metric {
        Some(_) => None,
        None => Some(
            state
                .store
                .metric_names(
                    &dataset,
                    q.ruleset.as_deref(),
                    since.as_deref(),
                    until.as_deref(),
                )
                .await?
                .into_iter()
                .map(|m| MetricNameView {
                    name: m.name,
                    where_clause: m.where_clause,
                    points: m.points,
                })
                .collect(),
        ),
    };
    let values = match &q.metric {
        Some(m) => {
            state
                .store
                .metric_trend(
                    &dataset,
                    q.ruleset.as_deref(),
                    (m, q.where_clause.as_deref().unwrap_or_default()),
                    since.as_deref(),
                    until.as_deref(),
                )
                .await?
        }
        None => Vec::new(),
    };
    Ok(Json(Trends {
        dataset,
        ruleset: q.ruleset,
        score: score.into_iter().map(Into::into).collect(),
        metric: q.metric,
        values: values.into_iter().map(Into::into).collect(),
        metrics,
    }))
}

/// What marking a value as expected changed.
#[derive(Serialize, ToSchema)]
pub struct MarkedExpected {
    run: String,
    metric: String,
    /// How many stored values were marked (one per `where` variant).
    marked: u64,
}

/// Marks a run's value of a metric as expected (a holiday, a planned
/// backfill): it stays in trends but no longer trains DetectAnomalies.
#[utoipa::path(post, path = "/v1/runs/{id}/metrics/{name}/expected", responses((status = 200, body = MarkedExpected), (status = 404, body = ProblemJson)))]
pub async fn mark_expected(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
) -> Result<Json<MarkedExpected>, Problem> {
    caller.require(Access::Edit)?;
    let marked = mark_value_expected(&state, &id, &name, true).await?;
    Ok(Json(MarkedExpected {
        run: id,
        metric: name,
        marked,
    }))
}

/// Undoes [`mark_expected`]: the run's value of the metric trains
/// DetectAnomalies and dynamic rules again.
#[utoipa::path(delete, path = "/v1/runs/{id}/metrics/{name}/expected", responses((status = 200, body = MarkedExpected), (status = 404, body = ProblemJson)))]
pub async fn unmark_expected(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
) -> Result<Json<MarkedExpected>, Problem> {
    caller.require(Access::Edit)?;
    let marked = mark_value_expected(&state, &id, &name, false).await?;
    Ok(Json(MarkedExpected {
        run: id,
        metric: name,
        marked,
    }))
}

/// Marks run `id`'s values of metric `name` as expected, or (`expected`
/// false) lets them train again: the API's and the console's one way; 404
/// when the run or its metric is unknown.
pub async fn mark_value_expected(
    state: &AppState,
    id: &str,
    name: &str,
    expected: bool,
) -> Result<u64, Problem> {
    state
        .store
        .get_run(id)
        .await?
        .ok_or_else(|| Problem::not_found("run_not_found", format!("no run `{id}`")))?;
    let marked = state.store.set_expected(id, name, expected).await?;
    if marked == 0 {
        return Err(Problem::not_found(
            "metric_not_found",
            format!("run `{id}` recorded no metric `{name}`"),
        ));
    }
    tracing::info!(run = %id, metric = %name, marked, expected, "value marked as expected or not");
    Ok(marked)
}
