//! The steward console: server-rendered HTML (askama templates under
//! `templates/`) served beside the JSON API. It signs in with the API's
//! tokens into a server-side session (cookie: a random id, stored hashed),
//! checks roles in every handler as the API does, checks a CSRF token on
//! every form, and answers errors with the API's status and message.
//! Pages work without JavaScript; the editor and chart islands will
//! enhance the `<textarea name="text">` and the `data-chart` tables.

mod diff;
mod error;
mod pages;
mod rulesets;
mod session;
mod tokens;
mod view;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::api::{self, AppState};

/// Console settings.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            session_ttl: Duration::from_secs(12 * 3600),
        }
    }
}

/// What console handlers share: the API's state and the console settings.
#[derive(Clone)]
struct ConsoleState {
    app: AppState,
    settings: Arc<ConsoleSettings>,
}

/// The console's policy: same origin only, never framed, never cached.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'; object-src 'none'";

/// The API router (unchanged under `/v1`) with the console under `/`.
pub fn app(state: AppState, settings: ConsoleSettings) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let console = Router::new()
        .route("/", get(pages::overview))
        .route("/signin", get(session::signin_page).post(session::sign_in))
        .route("/signout", post(session::sign_out))
        .route("/datasets/{name}", get(pages::dataset))
        .route("/datasets/{name}/expected", post(pages::mark_expected))
        .route("/runs/{id}", get(pages::run))
        .route("/rulesets", get(rulesets::list))
        .route("/rulesets/new", get(rulesets::new))
        .route("/rulesets/{name}", get(rulesets::show).post(rulesets::save))
        .route("/rulesets/{name}/edit", get(rulesets::edit))
        .route("/rulesets/{name}/diff", get(rulesets::diff))
        .route("/rulesets/{name}/restore", post(rulesets::restore))
        .route("/tokens", get(tokens::page).post(tokens::create))
        .route("/tokens/{name}/revoke", post(tokens::revoke))
        .route("/assets/console.css", get(stylesheet))
        .layer(axum::middleware::map_response(security_headers))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(ConsoleState {
            app: state.clone(),
            settings: Arc::new(settings),
        });
    api::router(state).merge(console)
}

/// The console's only stylesheet, embedded in the binary.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("assets/console.css"),
    )
        .into_response()
}

/// Adds the security headers to every console answer.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
