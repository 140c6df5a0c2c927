//! Tokens (admin): the list with last use, creating one (its secret shown
//! once, on the answer to the form) and revoking one. The same calls as
//! `/v1/tokens`.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::ConsoleState;
use super::error::PageError;
use super::session::{Action, NoFields, Session};
use super::view::{Nav, when};
use crate::api::auth::{Access, Role};
use crate::api::error::Problem;
use crate::api::tokens::{self, CreatedToken};

/// A token as listed.
struct TokenRow {
    name: String,
    role: String,
    created: String,
    last_used: String,
}

/// `/tokens`.
#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    nav: Nav,
    tokens: Vec<TokenRow>,
    created: Option<CreatedToken>,
    roles: [&'static str; 4],
}

async fn render(
    state: &ConsoleState,
    session: &Session,
    created: Option<CreatedToken>,
) -> Result<Html<String>, PageError> {
    let tokens = tokens::list(&state.app)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            created: when(&t.created_at),
            last_used: t
                .last_used_at
                .as_deref()
                .map_or_else(|| "never".to_string(), when),
            name: t.name,
            role: t.role,
        })
        .collect();
    let page = TokensPage {
        nav: Nav::new(session, "tokens"),
        tokens,
        created,
        roles: ["viewer", "pipeline", "steward", "admin"],
    };
    Ok(Html(page.render()?))
}

/// `GET /tokens` (admin).
pub(super) async fn page(
    State(state): State<ConsoleState>,
    session: Session,
) -> Result<Html<String>, PageError> {
    session.caller.require(Access::Admin)?;
    render(&state, &session, None).await
}

/// The create form.
#[derive(Deserialize)]
pub(super) struct CreateForm {
    name: String,
    role: String,
}

/// `POST /tokens` (admin): creates a token and shows its secret once.
pub(super) async fn create(
    State(state): State<ConsoleState>,
    action: Action<CreateForm>,
) -> Result<Html<String>, PageError> {
    let Action { session, form } = action;
    session.caller.require(Access::Admin)?;
    let role = Role::parse(&form.role)
        .ok_or_else(|| Problem::bad_request("role must be admin, steward, pipeline or viewer"))?;
    let created = tokens::create(&state.app, form.name.trim(), role).await?;
    render(&state, &session, Some(created)).await
}

/// `POST /tokens/{name}/revoke` (admin).
pub(super) async fn revoke(
    State(state): State<ConsoleState>,
    Path(name): Path<String>,
    action: Action<NoFields>,
) -> Result<Response, PageError> {
    action.session.caller.require(Access::Admin)?;
    tokens::revoke(&state.app, &name).await?;
    Ok(Redirect::to("/tokens").into_response())
}
