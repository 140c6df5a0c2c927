//! `POST /v1/suggest`: profile a registered dataset and return a starter
//! ruleset a steward can review and save.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Access, Caller};
use super::error::{Problem, ProblemJson};
use super::registry::{body_bytes, parse_json};
use crate::check::HISTORY_LIMIT;
use crate::history::SeriesKey;

/// What to profile.
#[derive(Deserialize, ToSchema)]
pub struct SuggestRequest {
    /// A registered dataset.
    dataset: String,
}

/// The suggested ruleset and the profile behind it.
#[derive(serde::Serialize, ToSchema)]
pub struct SuggestResponse {
    /// The dataset profiled.
    dataset: String,
    /// DQDL text; every rule passed on the profiled data.
    ruleset: String,
    /// Rules in it.
    rules: usize,
    /// Per column: non-NULL count, distinct counts, ranges, values.
    #[schema(value_type = Object)]
    profile: serde_json::Value,
}

/// Profiles a registered dataset and suggests rules; row-count bounds come
/// from the dataset's recorded runs when there are any. Profiling waits in
/// the evaluation queue (429 when it is full) and is stopped at the
/// evaluation timeout.
#[utoipa::path(post, path = "/v1/suggest", request_body = SuggestRequest,
    responses((status = 200, body = SuggestResponse), (status = 404, body = ProblemJson), (status = 422, body = ProblemJson), (status = 429, body = ProblemJson)))]
pub async fn suggest(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SuggestResponse>, Problem> {
    caller.require(Access::Edit)?;
    let req: SuggestRequest = parse_json(&body_bytes(body)?)?;
    let suggestion = suggest_for(&state, &req.dataset).await?;
    Ok(Json(SuggestResponse {
        dataset: req.dataset,
        rules: suggestion.rules,
        profile: serde_json::to_value(&suggestion.profile).map_err(|e| Problem::internal(&e))?,
        ruleset: suggestion.ruleset,
    }))
}

/// Profiles registered dataset `dataset` (queued, pooled, under the
/// evaluation timeout) and suggests a ruleset; the API's and the console's
/// one way.
pub async fn suggest_for(
    state: &AppState,
    dataset: &str,
) -> Result<crate::suggest::Suggestion, Problem> {
    let record = super::registry::registered_dataset(state, dataset).await?;
    let key = SeriesKey::new("Dataset.*.RowCount", None);
    let history = state
        .store
        .load_history(dataset, None, std::slice::from_ref(&key), HISTORY_LIMIT)
        .await?;
    let row_counts: Vec<f64> = history.points(&key).iter().map(|p| p.value).collect();
    let mut spec = crate::runs::dataset_spec(crate::plan::PRIMARY, &record, None).map_err(|m| {
        Problem::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "dataset_unreadable",
            m,
        )
    })?;
    spec.confinement = Some(state.confinement.clone());
    let memory_limit = state.limits.eval_memory_limit;
    // Profiling is an evaluation: queued, pooled, under the timeout.
    let profiling = async move {
        crate::suggest::suggest_within(&spec, &row_counts, chrono::Utc::now(), memory_limit).await
    };
    let suggestion = state.runs.bounded(profiling).await?.map_err(|e| {
        Problem::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "dataset_unreadable",
            crate::source::redact::message(&e.to_string()),
        )
    })?;
    Ok(suggestion)
}
