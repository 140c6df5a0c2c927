//! The steward console: server-rendered HTML (askama templates under
//! `templates/`) served beside the JSON API. It signs in with the API's
//! tokens into a server-side session (cookie: a random id, stored hashed),
//! checks roles in every handler as the API does, checks a CSRF token on
//! every form, and answers errors with the API's status and message.
//! Pages work without JavaScript; two islands bundled from npm under
//! `ui/` (committed, embedded by `assets.rs`) enhance them: the editor
//! turns the `data-editor` text area into CodeMirror, the charts draw the
//! `data-chart` tables with uPlot, and htmx updates parts of pages.
//!
//! Built without the `console` feature, [`app`] is the API alone and `/`
//! answers 404 with a line saying the console is not built in.

#[cfg(feature = "console")]
mod assets;
#[cfg(feature = "console")]
mod diff;
#[cfg(feature = "console")]
mod editor;
#[cfg(feature = "console")]
mod error;
#[cfg(feature = "console")]
mod pages;
#[cfg(feature = "console")]
mod rulesets;
#[cfg(feature = "console")]
mod session;
#[cfg(feature = "console")]
mod tokens;
#[cfg(feature = "console")]
mod view;

#[cfg(feature = "console")]
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
#[cfg(feature = "console")]
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
#[cfg(feature = "console")]
use axum::routing::post;

use crate::api::{self, AppState};

/// Whether this dqgate serves the console (the `console` feature).
pub const BUILT: bool = cfg!(feature = "console");

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

#[cfg(feature = "console")]
/// What console handlers share: the API's state and the console settings.
#[derive(Clone)]
struct ConsoleState {
    app: AppState,
    settings: Arc<ConsoleSettings>,
}

/// The console's policy: same origin only, never framed, never cached; no
/// inline scripts or styles. `data:` images are allowed for the editor's
/// error underlines and gutter markers (images cannot run script).
#[cfg(feature = "console")]
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// The API router (unchanged under `/v1`) with the console under `/`.
#[cfg(feature = "console")]
pub fn app(state: AppState, settings: ConsoleSettings) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let console = Router::new()
        .route("/", get(pages::overview))
        .route("/signin", get(session::signin_page).post(session::sign_in))
        .route("/signout", post(session::sign_out))
        .route("/datasets/{name}", get(pages::dataset))
        .route("/datasets/{name}/expected", post(pages::mark_expected))
        .route("/datasets/{name}/gate", post(pages::gate))
        .route("/runs/{id}", get(pages::run))
        .route("/rulesets", get(rulesets::list))
        .route("/rulesets/new", get(rulesets::new))
        .route("/rulesets/{name}", get(rulesets::show).post(rulesets::save))
        .route("/rulesets/{name}/edit", get(rulesets::edit))
        .route("/rulesets/{name}/diff", get(rulesets::diff))
        .route("/rulesets/{name}/restore", post(rulesets::restore))
        .route("/tokens", get(tokens::page).post(tokens::create))
        .route("/tokens/{name}/revoke", post(tokens::revoke))
        .route("/datasets/{name}/columns", get(editor::columns))
        .route("/datasets/{name}/schema", get(editor::schema))
        .route("/editor/rule-types", get(editor::rule_types))
        .route("/editor/validate", post(editor::validate))
        .route("/assets/{file}", get(assets::serve))
        .layer(axum::middleware::map_response(security_headers))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(ConsoleState {
            app: state.clone(),
            settings: Arc::new(settings),
        });
    api::router(state).merge(console)
}

/// The API router alone: this dqgate was built without the console, and
/// `/` says so.
#[cfg(not(feature = "console"))]
pub fn app(state: AppState, settings: ConsoleSettings) -> Router {
    let _ = settings;
    api::router(state).route("/", get(not_built))
}

/// `/` without the console: 404 and what to use instead.
#[cfg(not(feature = "console"))]
async fn not_built() -> Response {
    let mut response = Response::new(axum::body::Body::from(
        "This dqgate was built without the `console` feature; the JSON API is under /v1 (its description: /v1/openapi.json).\n",
    ));
    *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Adds the security headers to every console answer.
#[cfg(feature = "console")]
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
