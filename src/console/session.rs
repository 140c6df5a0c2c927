//! Sign-in sessions: `POST /signin` with an API token opens a session whose
//! random id goes to an HttpOnly, SameSite=Strict cookie and whose SHA-256
//! is stored; it ends at its expiry or at `POST /signout`. Every form
//! carries a CSRF token derived from the session id, checked before the
//! form is read.

use askama::Template;
use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde::de::value::MapDeserializer;

use super::ConsoleState;
use super::error::PageError;
use crate::api::auth::{Caller, caller_for_hash, hash_token};
use crate::api::error::Problem;

/// The session cookie's name.
const COOKIE: &str = "dqgate_session";

/// A signed-in caller.
pub(super) struct Session {
    /// Who signed in, with the token's current role.
    pub caller: Caller,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// The stored key of the session.
    id_hash: String,
}

/// The CSRF token of a session: a hash of its secret id, so it needs no
/// storage and cannot be guessed without the cookie.
fn csrf_for(session_id: &str) -> String {
    hash_token(&format!("dqgate-csrf:{session_id}"))
}

/// Compares without stopping at the first difference.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The session id the browser sent, if any.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<ConsoleState> for Session {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Session, PageError> {
        let id = session_id(&parts.headers).ok_or(PageError::SignIn)?;
        let id_hash = hash_token(&id);
        let token_hash = state
            .app
            .store
            .find_session(&id_hash)
            .await?
            .ok_or(PageError::SignIn)?;
        // The token's role now: a revoked token ends its sessions.
        let caller = caller_for_hash(&state.app, &token_hash)
            .await?
            .ok_or(PageError::SignIn)?;
        Ok(Session {
            caller,
            csrf: csrf_for(&id),
            id_hash,
        })
    }
}

/// A form post: the session, its CSRF token checked, then the fields.
pub(super) struct Action<T> {
    /// Who posted.
    pub session: Session,
    /// The form's other fields.
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<ConsoleState> for Action<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &ConsoleState) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let Form(pairs) =
            Form::<Vec<(String, String)>>::from_request(Request::from_parts(parts, body), state)
                .await
                .map_err(|e| Problem::new(e.status(), "bad_form", e.body_text()))?;
        let sent = pairs
            .iter()
            .find(|(k, _)| k == "csrf")
            .map_or("", |(_, v)| v.as_str());
        if !same_secret(sent, &session.csrf) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "csrf_mismatch",
                "the form did not come from this session's console; reload the page and try again",
            )
            .into());
        }
        let fields = pairs.into_iter().filter(|(k, _)| k != "csrf");
        let form = T::deserialize(MapDeserializer::<_, serde::de::value::Error>::new(fields))
            .map_err(|e| Problem::bad_request(format!("the form is incomplete: {e}")))?;
        Ok(Action { session, form })
    }
}

/// A form with no fields besides its CSRF token.
#[derive(Deserialize)]
pub(super) struct NoFields {}

/// The sign-in page.
#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    error: Option<String>,
}

fn signin_page_with(status: StatusCode, error: Option<String>) -> Result<Response, PageError> {
    Ok((status, Html(SignInPage { error }.render()?)).into_response())
}

/// `GET /signin`: the form, or the overview when already signed in.
pub(super) async fn signin_page(
    session: Result<Session, PageError>,
) -> Result<Response, PageError> {
    match session {
        Ok(_) => Ok(Redirect::to("/").into_response()),
        Err(PageError::SignIn) => signin_page_with(StatusCode::OK, None),
        Err(e) => Err(e),
    }
}

/// The sign-in form.
#[derive(Deserialize)]
pub(super) struct SignInForm {
    #[serde(default)]
    token: String,
}

/// `POST /signin`: opens a session for a valid token.
pub(super) async fn sign_in(
    State(state): State<ConsoleState>,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let token = form.token.trim();
    let refused = |p: Problem| signin_page_with(p.status(), Some(p.detail().to_string()));
    if token.is_empty() {
        return refused(Problem::bad_request("paste an API token to sign in"));
    }
    let token_hash = hash_token(token);
    let Some(caller) = caller_for_hash(&state.app, &token_hash).await? else {
        return refused(Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown token",
        ));
    };
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Problem::internal(&e))?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let ttl = state.settings.session_ttl;
    let expires =
        chrono::Utc::now() + chrono::TimeDelta::from_std(ttl).map_err(|e| Problem::internal(&e))?;
    state
        .app
        .store
        .create_session(
            &hash_token(&id),
            &token_hash,
            &expires.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        )
        .await?;
    tracing::info!(token = %caller.name, role = caller.role.as_str(), "console sign-in");
    let cookie = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        ttl.as_secs()
    );
    with_cookie(Redirect::to("/").into_response(), &cookie)
}

/// `POST /signout`: ends the session.
pub(super) async fn sign_out(
    State(state): State<ConsoleState>,
    action: Action<NoFields>,
) -> Result<Response, PageError> {
    state
        .app
        .store
        .delete_session(&action.session.id_hash)
        .await?;
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    with_cookie(Redirect::to("/signin").into_response(), &cookie)
}

fn with_cookie(mut response: Response, cookie: &str) -> Result<Response, PageError> {
    let value = HeaderValue::from_str(cookie).map_err(|e| Problem::internal(&e))?;
    response.headers_mut().insert(header::SET_COOKIE, value);
    Ok(response)
}
