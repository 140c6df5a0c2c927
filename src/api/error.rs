//! RFC 7807 problem+json errors with a stable machine `code`. 5xx bodies
//! never carry internals: the detail is logged, the client gets an id-free
//! generic text.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::dqdl::Diagnostic;
use crate::source::redact;
use crate::store::StoreError;

/// An error answered as `application/problem+json` (see [`ProblemJson`]).
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<ProblemLocation>,
    conflict: Option<Box<(serde_json::Value, serde_json::Value)>>,
    /// Seconds to wait before retrying (429, 503).
    pub retry_after: Option<u64>,
}

/// The problem+json body (RFC 7807) with a stable machine `code`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProblemJson {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, stable summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable machine code, e.g. `invalid_ruleset`.
    pub code: String,
    /// What went wrong in this case.
    pub detail: String,
    /// Located DQDL errors, for `invalid_ruleset`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemLocation>,
    /// For `run_id_conflict`: what the stored run was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub existing: Option<serde_json::Value>,
    /// For `run_id_conflict`: what this request asks for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub requested: Option<serde_json::Value>,
}

/// A DQDL error position in a problem body.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProblemLocation {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem with a status, a stable code and a detail.
    /// Credentials and quoted data in `detail` are redacted.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            detail: redact::message(&detail.into()),
            errors: Vec::new(),
            conflict: None,
            retry_after: None,
        }
    }

    /// 409 `run_id_conflict` carrying both requests (`existing`, `requested`).
    pub fn run_id_conflict(
        detail: impl Into<String>,
        existing: serde_json::Value,
        requested: serde_json::Value,
    ) -> Problem {
        let mut p = Problem::new(StatusCode::CONFLICT, "run_id_conflict", detail);
        p.conflict = Some(Box::new((existing, requested)));
        p
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// What went wrong, for people (redacted).
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The located DQDL errors it carries.
    pub fn errors(&self) -> &[ProblemLocation] {
        &self.errors
    }

    /// 400 `bad_request`.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// 404 with a specific code.
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, code, detail)
    }

    /// 422 `invalid_ruleset` with every located error.
    pub fn invalid_ruleset(diagnostics: &[Diagnostic]) -> Problem {
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_ruleset",
            format!("the ruleset has {} error(s)", diagnostics.len()),
        );
        p.errors = diagnostics
            .iter()
            .map(|d| ProblemLocation {
                line: d.line,
                column: d.column,
                message: d.message.clone(),
            })
            .collect();
        p
    }

    /// 500 `internal`; the cause is logged, not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Problem {
        tracing::error!(error = %redact::secrets(&cause.to_string()), "internal error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; see the server log",
        )
    }

    /// 503 `store_unavailable` with `Retry-After`; the cause is logged.
    pub fn store_unavailable(cause: &dyn std::fmt::Display, detail: &str) -> Problem {
        tracing::warn!(error = %cause, "store unavailable");
        let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", detail);
        p.retry_after = Some(STORE_RETRY_AFTER_SECS);
        p
    }
}

/// What 503 answers tell callers to wait before retrying, in seconds.
pub const STORE_RETRY_AFTER_SECS: u64 = 5;

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        if e.is_unavailable() {
            Problem::store_unavailable(
                &e,
                "the results database is unavailable or busy; retry later",
            )
        } else {
            Problem::internal(&e)
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status;
        let retry = self.retry_after;
        let (existing, requested) = self.conflict.map(|c| *c).unzip();
        let body = ProblemJson {
            kind: format!("https://dqgate.dev/problems/{}", self.code),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            code: self.code.to_string(),
            detail: self.detail,
            errors: self.errors,
            existing,
            requested,
        };
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
