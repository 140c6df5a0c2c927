//! Health, Prometheus metrics, the OpenAPI document, and the 404 fallback.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::AppState;
use super::auth::Caller;
use super::error::Problem;

/// `GET /healthz`: 200 when the store answers (open).
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(serde_json::json!({"status": "ok", "database": state.store.backend()}))
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database does not answer",
            )
            .into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text (open).
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(state.runs.in_flight()),
    )
        .into_response()
}

/// `GET /v1/openapi.json`: the API description (any token).
pub async fn openapi(
    _caller: Caller,
    Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Response {
    Json(doc.as_ref().clone()).into_response()
}

/// Unknown routes.
pub async fn not_found() -> Problem {
    Problem::not_found("not_found", "no such route; see /v1/openapi.json")
}
