//! The overview, dataset and run pages, and marking a value expected.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::ConsoleState;
use super::error::PageError;
use super::session::{Action, Session};
use super::view::{Choice, Nav, choices, maybe_number, number, query, score, when};
use crate::api::auth::Access;
use crate::api::error::Problem;
use crate::api::registry::{DatasetView, registered_dataset};
use crate::api::runs::{mark_value_expected, run_view};
use crate::history::anomaly::Observation;
use crate::store::{RunFilter, RunRecord};

/// The decisions a filter offers.
const DECISIONS: [&str; 4] = ["fail", "error", "warn", "pass"];
/// Runs per page of a dataset's run table.
const RUNS_PER_PAGE: i64 = 25;
/// Points of a trend table.
const TREND_POINTS: i64 = 200;

/// Worst first: fail, error, warn, unfinished, pass, never run.
fn rank(decision: Option<&str>, has_run: bool) -> u8 {
    match (decision, has_run) {
        (Some("fail"), _) => 0,
        (Some("error"), _) => 1,
        (Some("warn"), _) => 2,
        (Some("pass"), _) => 4,
        (_, true) => 3,
        (_, false) => 5,
    }
}

/// A run's decision as shown (its status while it has none).
fn decision_text(run: &RunRecord) -> String {
    run.decision.map_or_else(
        || run.status.as_str().to_string(),
        |d| d.as_str().to_string(),
    )
}

/// One row of the overview.
struct OverviewRow {
    dataset: String,
    stage: String,
    decision: String,
    score: String,
    at: String,
    at_iso: String,
    run: Option<String>,
    rank: u8,
    /// Recent scores as an SVG polyline's points (empty: no sparkline).
    spark: String,
    /// What the sparkline says, for screen readers.
    spark_label: String,
    /// `key=value` labels of the latest run's rules that did not pass.
    labels: BTreeSet<String>,
}

/// `/`: every dataset × stage with its latest decision, failing first.
#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    nav: Nav,
    rows: Vec<OverviewRow>,
    stages: Vec<Choice>,
    decisions: Vec<Choice>,
    labels: Vec<Choice>,
    filtered: bool,
}

/// Filters of the overview.
#[derive(Deserialize, Default)]
pub(super) struct OverviewQuery {
    #[serde(default)]
    stage: String,
    #[serde(default)]
    decision: String,
    /// `key=value`: rows whose latest run has a rule with this label that
    /// did not pass.
    #[serde(default)]
    label: String,
}

/// Scores per sparkline.
const SPARK_POINTS: i64 = 20;
/// The sparkline's drawing box (see overview.html).
const SPARK_SIZE: (f64, f64) = (100.0, 24.0);

/// Scores (0–1, oldest first) as SVG polyline points in the spark box.
fn spark_points(scores: &[f64]) -> String {
    let (width, height) = SPARK_SIZE;
    let step = if scores.len() > 1 {
        width / (scores.len() - 1) as f64
    } else {
        0.0
    };
    scores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let y = height - 2.0 - s.clamp(0.0, 1.0) * (height - 4.0);
            format!("{:.1},{:.1}", i as f64 * step, y)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `key=value` labels in a rule's stored labels (a JSON object).
fn label_pairs(json: &str) -> Vec<String> {
    serde_json::from_str::<std::collections::BTreeMap<String, String>>(json)
        .map(|m| m.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
        .unwrap_or_default()
}

/// `GET /`.
pub(super) async fn overview(
    State(state): State<ConsoleState>,
    session: Session,
    Query(q): Query<OverviewQuery>,
) -> Result<Html<String>, PageError> {
    session.caller.require(Access::Read)?;
    let datasets = state.app.store.list_datasets().await?;
    let latest = state.app.store.latest_runs().await?;
    let registered: BTreeSet<&str> = datasets.iter().map(|d| d.name.as_str()).collect();
    let mut stages: Vec<String> = latest.iter().map(|r| r.stage.clone()).collect();
    stages.sort();
    stages.dedup();
    let mut rows: Vec<OverviewRow> = latest
        .iter()
        .filter(|r| registered.contains(r.dataset.as_str()))
        .map(|r| OverviewRow {
            dataset: r.dataset.clone(),
            stage: r.stage.clone(),
            decision: decision_text(r),
            score: score(r.score),
            at: when(&r.created_at),
            at_iso: r.created_at.clone(),
            run: Some(r.id.clone()),
            rank: rank(r.decision.map(|d| d.as_str()), true),
            spark: String::new(),
            spark_label: String::new(),
            labels: BTreeSet::new(),
        })
        .collect();
    // Labels only where a rule did not pass (decisions other than pass).
    let ids: Vec<String> = rows
        .iter()
        .filter(|r| r.decision != "pass")
        .filter_map(|r| r.run.clone())
        .collect();
    let mut labels_by_run: std::collections::BTreeMap<String, BTreeSet<String>> =
        Default::default();
    for (run, labels) in state.app.store.unpassed_rule_labels(&ids).await? {
        labels_by_run
            .entry(run)
            .or_default()
            .extend(label_pairs(&labels));
    }
    for row in &mut rows {
        if let Some(labels) = row.run.as_ref().and_then(|id| labels_by_run.remove(id)) {
            row.labels = labels;
        }
    }
    let mut all_labels: Vec<String> = rows.iter().flat_map(|r| r.labels.iter().cloned()).collect();
    all_labels.sort();
    all_labels.dedup();
    for d in &datasets {
        if !rows.iter().any(|r| r.dataset == d.name) {
            rows.push(OverviewRow {
                dataset: d.name.clone(),
                stage: "—".to_string(),
                decision: "never run".to_string(),
                score: "—".to_string(),
                at: "—".to_string(),
                at_iso: String::new(),
                run: None,
                rank: rank(None, false),
                spark: String::new(),
                spark_label: String::new(),
                labels: BTreeSet::new(),
            });
        }
    }
    rows.retain(|r| {
        (q.stage.is_empty() || r.stage == q.stage)
            && (q.decision.is_empty() || r.decision == q.decision)
            && (q.label.is_empty() || r.labels.contains(&q.label))
    });
    rows.sort_by(|a, b| (a.rank, &a.dataset, &a.stage).cmp(&(b.rank, &b.dataset, &b.stage)));
    // Sparklines of the rows shown only.
    let keys: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r.run.is_some())
        .map(|r| (r.dataset.clone(), r.stage.clone()))
        .collect();
    let mut series: std::collections::BTreeMap<(String, String), Vec<f64>> = Default::default();
    for p in state.app.store.recent_scores(&keys, SPARK_POINTS).await? {
        series
            .entry((p.dataset, p.stage))
            .or_default()
            .push(p.score);
    }
    for row in &mut rows {
        let key = (row.dataset.clone(), row.stage.clone());
        if let Some(scores) = series.get(&key).filter(|s| s.len() > 1) {
            row.spark = spark_points(scores);
            row.spark_label = format!(
                "last {} scores, from {} to {}",
                scores.len(),
                score(scores.first().copied()),
                score(scores.last().copied())
            );
        }
    }
    let decisions: Vec<String> = DECISIONS.iter().map(|d| d.to_string()).collect();
    let page = OverviewPage {
        nav: Nav::new(&session, "overview"),
        rows,
        stages: choices("any stage", &stages, &q.stage),
        decisions: choices("any decision", &decisions, &q.decision),
        labels: choices("any label", &all_labels, &q.label),
        filtered: !q.stage.is_empty() || !q.decision.is_empty() || !q.label.is_empty(),
    };
    Ok(Html(page.render()?))
}

/// A run in a dataset's table.
struct RunRow {
    id: String,
    stage: String,
    ruleset: String,
    version: i64,
    decision: String,
    score: String,
    at: String,
    at_iso: String,
}

/// A point of the score trend.
struct ScorePoint {
    run: String,
    at: String,
    at_iso: String,
    value: String,
    raw: f64,
}

/// A value as a chart reads it (full precision), empty when absent.
fn chart_number(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A point of a metric trend.
struct MetricRow {
    run: String,
    at: String,
    at_iso: String,
    where_clause: String,
    value: String,
    raw: f64,
    expected: String,
    lower: String,
    upper: String,
    /// Expected value and bounds for a chart: the number, or empty.
    expected_data: String,
    lower_data: String,
    upper_data: String,
    anomalous: bool,
    excluded: bool,
}

/// `/datasets/{name}`.
#[derive(Template)]
#[template(path = "dataset.html")]
struct DatasetPage {
    nav: Nav,
    dataset: DatasetView,
    registered: String,
    changed: String,
    options: String,
    stage: String,
    stages: Vec<Choice>,
    decisions: Vec<Choice>,
    from: String,
    to: String,
    runs: Vec<RunRow>,
    newer: Option<String>,
    older: Option<String>,
    scores: Vec<ScorePoint>,
    metrics: Vec<Choice>,
    metric: String,
    points: Vec<MetricRow>,
    /// Saved rulesets the gate form offers (admin, pipeline).
    rulesets: Vec<String>,
}

/// Filters of a dataset page.
#[derive(Deserialize, Default)]
pub(super) struct DatasetQuery {
    #[serde(default)]
    stage: String,
    #[serde(default)]
    decision: String,
    /// First day (YYYY-MM-DD), inclusive.
    #[serde(default)]
    from: String,
    /// Last day (YYYY-MM-DD), inclusive.
    #[serde(default)]
    to: String,
    /// Cursor: runs older than this run.
    #[serde(default)]
    before: String,
    /// The metric whose trend to show.
    #[serde(default)]
    metric: String,
}

/// The start of `day` (YYYY-MM-DD) plus `days`, as stored; 400 if malformed.
fn day_start(what: &str, day: &str, days: i64) -> Result<Option<String>, Problem> {
    if day.is_empty() {
        return Ok(None);
    }
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|_| Problem::bad_request(format!("{what} must be a date like 2026-11-26")))?;
    let start = (date + chrono::Days::new(days.unsigned_abs()))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc());
    Ok(start.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
}

/// `GET /datasets/{name}`.
pub(super) async fn dataset(
    State(state): State<ConsoleState>,
    session: Session,
    Path(name): Path<String>,
    Query(q): Query<DatasetQuery>,
) -> Result<Html<String>, PageError> {
    session.caller.require(Access::Read)?;
    let record = registered_dataset(&state.app, &name).await?;
    let since = day_start("from", &q.from, 0)?;
    let until = day_start("to", &q.to, 1)?;
    let store = &state.app.store;
    let mut runs = store
        .list_runs(&RunFilter {
            dataset: Some(name.clone()),
            stage: Some(q.stage.clone()),
            since: since.clone(),
            until: until.clone(),
            decision: Some(q.decision.clone()),
            before: Some(q.before.clone()),
            limit: RUNS_PER_PAGE + 1,
        })
        .await?;
    let more = runs.len() as i64 > RUNS_PER_PAGE;
    runs.truncate(RUNS_PER_PAGE as usize);
    let filters = [
        ("stage", q.stage.as_str()),
        ("decision", q.decision.as_str()),
        ("from", q.from.as_str()),
        ("to", q.to.as_str()),
        ("metric", q.metric.as_str()),
    ];
    let base = format!("/datasets/{name}");
    let older = match runs.last() {
        Some(last) if more => {
            let mut pairs = filters.to_vec();
            pairs.push(("before", last.id.as_str()));
            Some(format!("{base}{}", query(&pairs)))
        }
        _ => None,
    };
    let newer = (!q.before.is_empty()).then(|| format!("{base}{}", query(&filters)));
    let stages: Vec<String> = {
        let latest = store.latest_runs().await?;
        latest
            .into_iter()
            .filter(|r| r.dataset == name)
            .map(|r| r.stage)
            .collect()
    };
    let decisions: Vec<String> = DECISIONS.iter().map(|d| d.to_string()).collect();
    let scores = store
        .score_trend(&name, None, since.as_deref(), until.as_deref())
        .await?;
    let skip = scores.len().saturating_sub(TREND_POINTS as usize);
    let scores = scores
        .into_iter()
        .skip(skip)
        .map(|p| ScorePoint {
            at: when(&p.at),
            value: score(Some(p.value)),
            raw: p.value,
            run: p.run,
            at_iso: p.at,
        })
        .collect();
    let mut metric_names: Vec<String> = store
        .metric_names(&name, None, None, None)
        .await?
        .into_iter()
        .map(|m| m.name)
        .collect();
    metric_names.dedup();
    let points = if q.metric.is_empty() {
        Vec::new()
    } else {
        store
            .metric_points(
                &name,
                &q.metric,
                Some(q.stage.as_str()).filter(|s| !s.is_empty()),
                TREND_POINTS,
            )
            .await?
            .into_iter()
            .map(|p| {
                let o: Option<&Observation> = p.observation.as_ref();
                MetricRow {
                    at: when(&p.at),
                    value: number(p.value),
                    raw: p.value,
                    expected: maybe_number(o.and_then(|o| o.expected)),
                    lower: maybe_number(o.and_then(|o| o.lower)),
                    upper: maybe_number(o.and_then(|o| o.upper)),
                    expected_data: chart_number(o.and_then(|o| o.expected)),
                    lower_data: chart_number(o.and_then(|o| o.lower)),
                    upper_data: chart_number(o.and_then(|o| o.upper)),
                    anomalous: o.is_some_and(|o| o.anomalous),
                    excluded: p.excluded,
                    where_clause: p.where_clause,
                    run: p.run,
                    at_iso: p.at,
                }
            })
            .collect()
    };
    let mut options = record.options.clone();
    crate::source::redact::json(&mut options);
    let rulesets = if session.caller.may(Access::Gate) {
        let all = store.list_rulesets().await?;
        all.into_iter().map(|v| v.name).collect()
    } else {
        Vec::new()
    };
    let page = DatasetPage {
        rulesets,
        nav: Nav::new(&session, "overview"),
        options: serde_json::to_string_pretty(&options).unwrap_or_default(),
        registered: when(&record.created_at),
        changed: when(&record.updated_at),
        dataset: DatasetView::from(record),
        stages: choices("any stage", &stages, &q.stage),
        decisions: choices("any decision", &decisions, &q.decision),
        stage: q.stage,
        from: q.from,
        to: q.to,
        runs: runs
            .into_iter()
            .map(|r| RunRow {
                decision: decision_text(&r),
                score: score(r.score),
                at: when(&r.created_at),
                id: r.id,
                stage: r.stage,
                ruleset: r.ruleset,
                version: r.ruleset_version,
                at_iso: r.created_at,
            })
            .collect(),
        newer,
        older,
        scores,
        metrics: choices("choose a metric", &metric_names, &q.metric),
        metric: q.metric,
        points,
    };
    Ok(Html(page.render()?))
}

/// The mark-expected form.
#[derive(Deserialize)]
pub(super) struct ExpectedForm {
    run: String,
    metric: String,
    /// `true` lets the value train again.
    #[serde(default)]
    undo: String,
}

/// `POST /datasets/{name}/expected` (admin, steward): the value no longer
/// trains DetectAnomalies or dynamic rules (with `undo`, it does again).
pub(super) async fn mark_expected(
    State(state): State<ConsoleState>,
    Path(name): Path<String>,
    action: Action<ExpectedForm>,
) -> Result<Response, PageError> {
    action.session.caller.require(Access::Edit)?;
    let form = action.form;
    let run = state
        .app
        .store
        .get_run(&form.run)
        .await?
        .filter(|r| r.dataset == name)
        .ok_or_else(|| {
            Problem::not_found(
                "run_not_found",
                format!("no run `{}` of dataset `{name}`", form.run),
            )
        })?;
    let expected = form.undo != "true";
    mark_value_expected(&state.app, &run.id, &form.metric, expected).await?;
    let to = format!(
        "/datasets/{name}{}#trend",
        query(&[("metric", form.metric.as_str())])
    );
    Ok(Redirect::to(&to).into_response())
}

/// A rule of the run page.
struct RuleRow {
    rule: String,
    outcome: String,
    message: String,
    metrics: Vec<(String, String)>,
    labels: Vec<(String, String)>,
    observations: Vec<ObservationRow>,
}

/// What DetectAnomalies saw for one metric.
struct ObservationRow {
    metric: String,
    value: String,
    expected: String,
    lower: String,
    upper: String,
    history: usize,
    anomalous: bool,
    method: String,
    suggested_rule: String,
}

/// Failing rows a run kept of one row-level rule.
struct SampleTable {
    rule: String,
    columns: Vec<String>,
    /// Per row: its values (`None` for NULL) and the rules it failed.
    rows: Vec<(Vec<Option<String>>, Vec<String>)>,
}

/// `/runs/{id}`.
#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    nav: Nav,
    id: String,
    run_key: String,
    dataset: String,
    stage: String,
    ruleset: String,
    version: i64,
    status: String,
    decision: String,
    score: String,
    counts: String,
    message: String,
    created: String,
    duration: String,
    parameters: String,
    inputs: String,
    rules: Vec<RuleRow>,
    analyzers: Vec<(String, String)>,
    samples: Vec<SampleTable>,
}

/// `GET /runs/{id}`.
pub(super) async fn run(
    State(state): State<ConsoleState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    session.caller.require(Access::Read)?;
    state.app.runs.heal().await;
    let record = state
        .app
        .store
        .get_run(&id)
        .await?
        .ok_or_else(|| Problem::not_found("run_not_found", format!("no run `{id}`")))?;
    let v = run_view(&state.app, record).await?;
    let pretty = |j: &serde_json::Value| serde_json::to_string_pretty(j).unwrap_or_default();
    let rules = v
        .rules
        .iter()
        .map(|r| RuleRow {
            rule: r.rule.clone(),
            outcome: r.outcome.clone(),
            message: r.message.clone(),
            metrics: r
                .metrics
                .iter()
                .map(|(k, x)| (k.clone(), number(*x)))
                .collect(),
            labels: r
                .labels
                .iter()
                .map(|(k, x)| (k.clone(), x.clone()))
                .collect(),
            observations: serde_json::from_value::<Vec<Observation>>(r.observations.clone())
                .unwrap_or_default()
                .into_iter()
                .map(|o| ObservationRow {
                    value: number(o.value),
                    expected: maybe_number(o.expected),
                    lower: maybe_number(o.lower),
                    upper: maybe_number(o.upper),
                    history: o.history,
                    anomalous: o.anomalous,
                    method: o.method,
                    suggested_rule: o.suggested_rule.unwrap_or_default(),
                    metric: o.metric,
                })
                .collect(),
        })
        .collect();
    let samples = v
        .failed_rows
        .iter()
        .map(|sample| SampleTable {
            rule: sample.rule.clone(),
            columns: sample.columns.clone(),
            rows: sample
                .rows
                .iter()
                .map(|row| (row.values.clone(), row.failed_rules.clone()))
                .collect(),
        })
        .collect();
    let page = RunPage {
        samples,
        nav: Nav::new(&session, "overview"),
        decision: v.decision.clone().unwrap_or_else(|| v.status.clone()),
        score: score(v.score),
        counts: format!(
            "{} passed, {} failed, {} errors",
            v.passed.unwrap_or(0),
            v.failed.unwrap_or(0),
            v.errors.unwrap_or(0)
        ),
        message: v.message.clone().unwrap_or_default(),
        created: when(&v.created_at),
        duration: v
            .duration_ms
            .map_or_else(|| "—".to_string(), |ms| format!("{ms} ms")),
        parameters: pretty(&v.parameters),
        inputs: pretty(&v.inputs),
        analyzers: v
            .analyzers
            .iter()
            .map(|(k, x)| (k.clone(), number(*x)))
            .collect(),
        rules,
        id: v.id,
        run_key: v.run_key,
        dataset: v.dataset,
        stage: v.stage,
        ruleset: v.ruleset,
        version: v.ruleset_version,
        status: v.status,
    };
    Ok(Html(page.render()?))
}

/// The gate form of a dataset page.
#[derive(Deserialize)]
pub(super) struct GateForm {
    ruleset: String,
    stage: String,
}

/// `POST /datasets/{name}/gate` (admin, pipeline): the gate, as
/// `POST /v1/gate` runs it, with the registered datasets the ruleset names
/// as aliases; waits for the decision and opens the run.
pub(super) async fn gate(
    State(state): State<ConsoleState>,
    Path(name): Path<String>,
    action: Action<GateForm>,
) -> Result<Response, PageError> {
    let Action { session, form } = action;
    session.caller.require(Access::Gate)?;
    let stage = form.stage.trim();
    if stage.is_empty() || stage.len() > 128 {
        return Err(Problem::bad_request("a stage of 1 to 128 characters is required").into());
    }
    let store = &state.app.store;
    let ruleset = store
        .get_ruleset(&form.ruleset, None)
        .await?
        .ok_or_else(|| {
            Problem::not_found(
                "ruleset_not_found",
                format!("no ruleset `{}`", form.ruleset),
            )
        })?;
    let registered = store.list_datasets().await?;
    let aliases = crate::runs::named_datasets(&ruleset.dqdl, &registered, &name)
        .into_iter()
        .map(|d| (d.name.clone(), d.name.clone()))
        .collect();
    let run_key = format!(
        "console-{}",
        crate::store::new_run_id().map_err(Problem::from)?
    );
    let run = state
        .app
        .runs
        .submit(crate::runs::RunRequest {
            run_key,
            dataset: name,
            ruleset: ruleset.name,
            ruleset_version: Some(ruleset.version),
            stage: stage.to_string(),
            aliases,
            parameters: serde_json::json!({}),
        })
        .await
        .map_err(Problem::from)?;
    tracing::info!(run = %run.id, by = %session.caller.name, "gate called from the console");
    let run = state.app.runs.wait(run).await.map_err(Problem::from)?;
    Ok(Redirect::to(&format!("/runs/{}", run.id)).into_response())
}
