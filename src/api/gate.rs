//! `POST /v1/gate`: evaluate a registered dataset against a ruleset for a
//! pipeline stage and answer pass, warn, fail or error. HTTP glue over
//! [`crate::runs`], which claims, queues, evaluates, records and decides;
//! the answer is always read back from the store, so a retry gets exactly
//! the stored decision.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Access, Caller};
use super::error::{Problem, ProblemJson};
use super::registry::{body_bytes, check_name, parse_json};
use super::runs::{RunView, run_view};
use crate::runs::{RunError, RunRequest};

/// The gate request.
#[derive(Deserialize, ToSchema)]
pub struct GateRequest {
    /// Registered dataset to check.
    dataset: String,
    /// Ruleset name.
    ruleset: String,
    /// Pin this version of the ruleset (default: its latest); the run
    /// records the version used. An unknown version is 404
    /// `ruleset_version_not_found`.
    #[serde(default)]
    ruleset_version: Option<i64>,
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

impl From<RunError> for Problem {
    fn from(e: RunError) -> Problem {
        match e {
            RunError::RulesetNotFound(_) => Problem::not_found("ruleset_not_found", e.to_string()),
            RunError::RulesetVersionNotFound { .. } => {
                Problem::not_found("ruleset_version_not_found", e.to_string())
            }
            RunError::DatasetNotFound(_) | RunError::AliasNotFound { .. } => {
                Problem::not_found("dataset_not_found", e.to_string())
            }
            RunError::QueueFull(_) => {
                let mut p =
                    Problem::new(StatusCode::TOO_MANY_REQUESTS, "queue_full", e.to_string());
                p.retry_after = Some(5);
                p
            }
            RunError::RunIdConflict {
                ref existing,
                ref requested,
                ..
            } => {
                let json = |r: &crate::store::RunIdentity| {
                    serde_json::to_value(r).unwrap_or(serde_json::Value::Null)
                };
                Problem::run_id_conflict(
                    format!(
                        "{e}: it was used for dataset `{}`, ruleset `{}`, stage `{}`; \
                         only an identical request is a retry, so use a new run_id",
                        existing.dataset, existing.ruleset, existing.stage
                    ),
                    json(existing),
                    json(requested),
                )
            }
            RunError::Store(e) => e.into(),
            RunError::Unrecorded { .. } => Problem::store_unavailable(
                &e,
                "the run finished but its result could not be stored yet; retry later",
            ),
            RunError::Vanished(_) => Problem::internal(&e),
            RunError::TooManyRules { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_many_rules",
                e.to_string(),
            ),
            RunError::InvalidRuleset(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_ruleset",
                e.to_string(),
            ),
            RunError::TimedOut(_) => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "timed_out", e.to_string())
            }
            RunError::Pool(_) => Problem::internal(&e),
        }
    }
}

/// Evaluates a dataset and answers the gate decision.
#[utoipa::path(post, path = "/v1/gate", request_body = GateRequest,
    responses((status = 200, body = RunView, description = "decided"), (status = 202, body = RunView, description = "accepted; poll the run"),
              (status = 404, body = ProblemJson), (status = 409, body = ProblemJson, description = "run_id used for a different request"),
              (status = 429, body = ProblemJson), (status = 503, body = ProblemJson, description = "store unavailable; retry")))]
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
    let mut run = state
        .runs
        .submit(RunRequest {
            run_key: req.run_id,
            dataset: req.dataset,
            ruleset: req.ruleset,
            ruleset_version: req.ruleset_version,
            stage: req.stage,
            aliases: req.aliases,
            parameters: req.parameters,
        })
        .await?;
    if req.wait {
        run = state.runs.wait(run).await?;
    }
    // 202 while unfinished (no wait, or the wait timed out), else 200.
    let status = if run.status.is_finished() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let location = format!("/v1/runs/{}", run.id);
    let view = run_view(&state, run).await?;
    Ok((status, [(header::LOCATION, location)], Json(view)).into_response())
}
