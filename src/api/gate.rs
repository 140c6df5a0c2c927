//! `POST /v1/gate`: evaluate a registered dataset against a ruleset for a
//! pipeline stage and answer pass, warn, fail or error. The run id is an
//! idempotency key; the answer is always read back from the store, so a
//! retry gets exactly the stored decision.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use serde::Deserialize;
use tokio::sync::watch;
use tracing::Instrument;
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Access, Caller};
use super::error::{Problem, ProblemJson};
use super::registry::{body_bytes, check_name, parse_json};
use super::runs::{RunView, run_view};
use crate::check::{self, CheckRequest};
use crate::gate::decide_report;
use crate::source::{DatasetSpec, Format, SourceOptions};
use crate::store::{Claim, DatasetRecord, Finished, RulesetVersion, now_text};

/// The gate request.
#[derive(Deserialize, ToSchema)]
pub struct GateRequest {
    /// Registered dataset to check.
    dataset: String,
    /// Ruleset name (its latest version is used).
    ruleset: String,
    /// Pipeline stage, e.g. `landing` or `transform`.
    stage: String,
    /// Idempotency key: a retry with the same id returns the stored decision.
    run_id: String,
    /// Other registered datasets by the alias rules use (`users` → dataset).
    #[serde(default)]
    aliases: BTreeMap<String, String>,
    /// Caller parameters, stored with the run.
    #[serde(default)]
    #[schema(value_type = Object)]
    parameters: serde_json::Value,
    /// Wait for the decision (default) or answer 202 at once.
    #[serde(default = "yes")]
    wait: bool,
}

fn yes() -> bool {
    true
}

/// The dataset spec of a registered dataset; `slice` (the gate's
/// parameters) may add a date range or an Iceberg snapshot window.
pub(crate) fn spec(
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
    })
}

/// Evaluates a dataset and answers the gate decision.
#[utoipa::path(post, path = "/v1/gate", request_body = GateRequest,
    responses((status = 200, body = RunView, description = "decided"), (status = 202, body = RunView, description = "accepted; poll the run"),
              (status = 404, body = ProblemJson), (status = 429, body = ProblemJson)))]
pub async fn gate(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    caller.require(Access::Gate)?;
    let req: GateRequest = parse_json(&body_bytes(body)?)?;
    for (kind, value) in [("dataset", &req.dataset), ("ruleset", &req.ruleset)] {
        check_name(kind, value)?;
    }
    if req.stage.trim().is_empty() || req.run_id.trim().is_empty() || req.run_id.len() > 256 {
        return Err(Problem::bad_request(
            "stage and run_id are required (run_id at most 256 characters)",
        ));
    }
    // A retry of a known run answers from the store without new work.
    if let Some(existing) = state.store.find_run_by_key(&req.run_id).await? {
        return answer(&state, existing, req.wait).await;
    }
    let ruleset = state
        .store
        .get_ruleset(&req.ruleset, None)
        .await?
        .ok_or_else(|| {
            Problem::not_found("ruleset_not_found", format!("no ruleset `{}`", req.ruleset))
        })?;
    let dataset = super::registry::registered_dataset(&state, &req.dataset).await?;
    let mut aliases = Vec::new();
    for (alias, name) in &req.aliases {
        let d = state.store.get_dataset(name).await?.ok_or_else(|| {
            Problem::not_found(
                "dataset_not_found",
                format!("alias `{alias}` names no dataset `{name}`"),
            )
        })?;
        aliases.push((alias.clone(), d));
    }
    let evaluations = &state.evaluations;
    if evaluations.accepted.fetch_add(1, Ordering::SeqCst) >= state.limits.max_queued_evaluations {
        release(&state);
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            format!(
                "{} evaluations are already queued; retry later",
                state.limits.max_queued_evaluations
            ),
        );
        p.retry_after = Some(5);
        return Err(p);
    }
    let parameters = if req.parameters.is_null() {
        serde_json::json!({})
    } else {
        req.parameters.clone()
    };
    let claimed = state
        .store
        .claim_run(
            &crate::store::new_run_id().map_err(|e| Problem::internal(&e))?,
            &req.run_id,
            &req.dataset,
            &req.ruleset,
            ruleset.version,
            &req.stage,
            &parameters,
        )
        .await;
    let id = match claimed {
        Ok(Claim::New(id)) => id,
        Ok(Claim::Existing(run)) => {
            release(&state);
            return answer(&state, *run, req.wait).await;
        }
        Err(e) => {
            release(&state);
            return Err(e.into());
        }
    };
    let (done_tx, done_rx) = watch::channel(false);
    state
        .evaluations
        .running
        .lock()
        .await
        .insert(id.clone(), done_rx.clone());
    let task_state = state.clone();
    let task_id = id.clone();
    let span = tracing::info_span!("run", run_id = %id, dataset = %req.dataset, ruleset = %req.ruleset, stage = %req.stage);
    tokio::spawn(
        async move {
            let evaluation = evaluate(
                &task_state,
                &task_id,
                ruleset,
                (req.dataset.clone(), dataset),
                aliases,
                (req.stage.clone(), parameters.clone()),
            );
            // A panic inside the engine must not leave the run "running".
            if AssertUnwindSafe(evaluation).catch_unwind().await.is_err() {
                tracing::error!("evaluation panicked");
                record_failure(
                    &task_state,
                    &task_id,
                    "internal error during evaluation; see the server log",
                )
                .await;
            }
            task_state.evaluations.running.lock().await.remove(&task_id);
            let _ = done_tx.send(true);
            release(&task_state);
        }
        .instrument(span),
    );
    let run = state
        .store
        .get_run(&id)
        .await?
        .ok_or_else(|| Problem::internal(&"claimed run vanished"))?;
    answer(&state, run, req.wait).await
}

/// Stores a run that could not produce results as an error.
async fn record_failure(state: &AppState, id: &str, message: &str) {
    let inputs = serde_json::json!({});
    let finished = Finished {
        status: "error",
        decision: "error",
        score: None,
        counts: (0, 0, 0),
        message: Some(message),
        inputs: &inputs,
        rules: &[],
        metrics: &[],
        started_at: &now_text(),
        observed_at: &now_text(),
        duration_ms: 0,
    };
    if let Err(e) = state.store.finish_run(id, &finished).await {
        tracing::error!(error = %e, "cannot store the failed run");
    }
    state.metrics.record_run("error", &[], 0.0);
}

fn release(state: &AppState) {
    if state.evaluations.accepted.fetch_sub(1, Ordering::SeqCst) == 1 {
        state.evaluations.idle.notify_waiters();
    }
}

/// Runs the evaluation and stores the run with all its results.
async fn evaluate(
    state: &AppState,
    id: &str,
    ruleset: RulesetVersion,
    (dataset_name, dataset): (String, DatasetRecord),
    aliases: Vec<(String, DatasetRecord)>,
    (stage, parameters): (String, serde_json::Value),
) {
    let Ok(_permit) = state.evaluations.permits.acquire().await else {
        return;
    };
    if let Err(e) = state.store.start_run(id).await {
        tracing::error!(error = %e, "cannot mark the run running");
    }
    let started_at = now_text();
    let clock = Instant::now();
    let mut specs = vec![spec("primary", &dataset, Some(&parameters))];
    specs.extend(aliases.iter().map(|(alias, d)| spec(alias, d, None)));
    let datasets = match specs.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(d) => d,
        Err(message) => {
            record_failure(state, id, &message).await;
            return;
        }
    };
    let mut inputs = serde_json::json!({
        "ruleset": {"name": ruleset.name, "version": ruleset.version},
        "dataset": {"name": dataset_name, "location": dataset.location, "format": dataset.format},
        "aliases": aliases.iter().map(|(a, d)| (a.clone(), serde_json::json!({"name": d.name, "location": d.location, "format": d.format}))).collect::<serde_json::Map<_, _>>(),
    });
    let request = CheckRequest {
        ruleset_name: ruleset.name.clone(),
        ruleset_text: ruleset.dqdl.clone(),
        datasets,
        now: None,
        memory_limit: state.limits.eval_memory_limit,
    };
    let scope = check::HistoryScope {
        dataset: &dataset_name,
        stage: Some(&stage),
    };
    let outcome = tokio::time::timeout(
        state.limits.eval_timeout,
        check::run_with_store(request, &state.store, scope),
    )
    .await;
    let seconds = clock.elapsed().as_secs_f64();
    let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (rules, metrics, decision, status, message, score, counts) = match outcome {
        Ok(Ok(report)) => {
            let decision = decide_report(&report);
            let (rules, metrics) = crate::store::report_records(&report);
            // What was read: formats, Iceberg snapshot ids, slices.
            inputs["read"] = serde_json::to_value(&report.sources).unwrap_or_default();
            let counts = (
                report.passed as i64,
                report.failed as i64,
                report.errors as i64,
            );
            (
                rules,
                metrics,
                decision.as_str(),
                "done",
                None,
                report.score,
                counts,
            )
        }
        Ok(Err(e)) => (
            Vec::new(),
            Vec::new(),
            "error",
            "error",
            Some(e.to_string()),
            None,
            (0, 0, 0),
        ),
        Err(_) => (
            Vec::new(),
            Vec::new(),
            "error",
            "error",
            Some(format!(
                "evaluation timed out after {} s",
                state.limits.eval_timeout.as_secs()
            )),
            None,
            (0, 0, 0),
        ),
    };
    let finished = Finished {
        status,
        decision,
        score,
        counts,
        message: message.as_deref(),
        inputs: &inputs,
        rules: &rules,
        metrics: &metrics,
        started_at: &started_at,
        observed_at: &started_at,
        duration_ms,
    };
    let stored = state
        .store
        .finish_run(id, &finished)
        .instrument(tracing::info_span!("store"))
        .await;
    match stored {
        Ok(()) => {
            let outcomes: Vec<&str> = rules.iter().map(|r| r.outcome.as_str()).collect();
            state.metrics.record_run(decision, &outcomes, seconds);
            tracing::info!(
                decision,
                status,
                duration_ms,
                rules = rules.len(),
                "run finished"
            );
        }
        Err(e) => tracing::error!(error = %e, "cannot store the run"),
    }
}

/// Answers from the stored run: at once when finished or `wait` is false
/// (202), otherwise after waiting for it to finish.
async fn answer(
    state: &AppState,
    mut run: crate::store::RunRecord,
    wait: bool,
) -> Result<Response, Problem> {
    let unfinished = |status: &str| matches!(status, "queued" | "running");
    if wait && unfinished(&run.status) {
        let receiver = state.evaluations.running.lock().await.get(&run.id).cloned();
        match receiver {
            Some(mut rx) => {
                let _ = tokio::time::timeout(state.limits.eval_timeout, rx.wait_for(|done| *done))
                    .await;
            }
            None => {
                // Evaluated elsewhere (another replica): poll the store.
                let deadline = Instant::now() + state.limits.eval_timeout;
                while Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    match state.store.get_run(&run.id).await? {
                        Some(r) if !unfinished(&r.status) => break,
                        _ => {}
                    }
                }
            }
        }
        run = state
            .store
            .get_run(&run.id)
            .await?
            .ok_or_else(|| Problem::internal(&"run vanished"))?;
    }
    let status = if unfinished(&run.status) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let location = format!("/v1/runs/{}", run.id);
    let view = run_view(state, run).await?;
    Ok((status, [(header::LOCATION, location)], Json(view)).into_response())
}
