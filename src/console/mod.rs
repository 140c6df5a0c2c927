//! The steward console: server-rendered HTML (askama templates under
//! `templates/`) served beside the JSON API. It signs in with the API's
//! tokens into a server-side session (cookie: a random id, stored hashed),
//! checks roles in every handler as the API does, checks a CSRF token on
//! every form, and answers errors with the API's status and message.
//! Pages work without JavaScript; two islands bundled from npm under
//! `ui/` (committed, embedded by `assets.rs`) enhance them: the editor
//! turns the `data-editor` text area into CodeMirror, the charts draw the
//! `data-chart` tables with uPlot, and htmx updates parts of pages.

mod assets;
mod diff;
mod editor;
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
use axum::response::Response;
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

/// The console's policy: same origin only, never framed, never cached; no
/// inline scripts or styles. `data:` images are allowed for the editor's
/// error underlines and gutter markers (images cannot run script).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// The API router (unchanged under `/v1`) with the console under `/`.
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
