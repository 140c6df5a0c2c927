//! Health, Prometheus metrics, the OpenAPI document, and the 404 fallback.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::AppState;
use super::error::{Problem, STORE_RETRY_AFTER_SECS};

/// The longest `/healthz` waits for the store: probes get an answer
/// within a second even while the database is down.
const HEALTH_PING_TIMEOUT: Duration = Duration::from_millis(800);

/// `GET /healthz`: 200 when the store answers within
/// [`HEALTH_PING_TIMEOUT`], else 503 (open).
pub async fn healthz(State(state): State<AppState>) -> Response {
    let failure = match tokio::time::timeout(HEALTH_PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => {
            return Json(serde_json::json!({"status": "ok", "database": state.store.backend()}))
                .into_response();
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} ms", HEALTH_PING_TIMEOUT.as_millis()),
    };
    tracing::error!(error = %failure, "health check failed");
    let mut p = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the database does not answer",
    );
    p.retry_after = Some(STORE_RETRY_AFTER_SECS);
    p.into_response()
}

/// `GET /metrics`: Prometheus text (open).
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(
            super::metrics::Gauges {
                in_flight: state.runs.in_flight(),
                queue_depth: state.runs.queue_depth(),
            },
            &state.store.latency(),
        ),
    )
        .into_response()
}

/// `GET /v1/openapi.json`: the API description (open: it describes the
/// routes and exposes no data).
pub async fn openapi(Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>) -> Response {
    Json(doc.as_ref().clone()).into_response()
}

/// Unknown routes.
pub async fn not_found() -> Problem {
    Problem::not_found("not_found", "no such route; see /v1/openapi.json")
}
