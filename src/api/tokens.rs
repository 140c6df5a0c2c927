//! API tokens (admin only): list, create (the secret is shown once) and
//! revoke. `dqgate token create` and the console use the same store calls.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::{self, Access, Caller, Role};
use super::error::{Problem, ProblemJson};
use super::registry::{body_bytes, check_name, parse_json};
use crate::store::TokenRecord;

/// A token as listed (never its secret or hash).
#[derive(Serialize, ToSchema)]
pub struct TokenView {
    /// Unique name.
    pub name: String,
    /// admin, steward, pipeline or viewer.
    pub role: String,
    /// When it was created.
    pub created_at: String,
    /// When it last authenticated a call (updated at most once a minute).
    pub last_used_at: Option<String>,
}

impl From<TokenRecord> for TokenView {
    fn from(t: TokenRecord) -> Self {
        TokenView {
            name: t.name,
            role: t.role,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// Body of `POST /v1/tokens`.
#[derive(Deserialize, ToSchema)]
pub struct NewToken {
    /// Unique name: 1 to 128 letters, digits, `_`, `.` or `-`.
    pub name: String,
    /// admin, steward, pipeline or viewer.
    #[schema(value_type = String)]
    pub role: Role,
}

/// A created token: the only time its secret is shown.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: String,
    /// The secret to send as `Authorization: Bearer <token>`; only its hash is stored.
    pub token: String,
}

/// Every stored token (the bootstrap `DQGATE_ADMIN_TOKEN` is not stored).
pub async fn list(state: &AppState) -> Result<Vec<TokenView>, Problem> {
    Ok(state
        .store
        .list_tokens()
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Creates a token; 409 `token_exists` when the name is taken.
pub async fn create(state: &AppState, name: &str, role: Role) -> Result<CreatedToken, Problem> {
    check_name("token", name)?;
    let token = auth::new_token().map_err(|e| Problem::internal(&e))?;
    if !state
        .store
        .create_token(name, role.as_str(), &auth::hash_token(&token))
        .await?
    {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "token_exists",
            format!("a token named `{name}` exists already"),
        ));
    }
    tracing::info!(token = %name, role = role.as_str(), "token created");
    Ok(CreatedToken {
        name: name.to_string(),
        role: role.as_str().to_string(),
        token,
    })
}

/// Revokes a token and ends its console sessions; 404 when unknown.
pub async fn revoke(state: &AppState, name: &str) -> Result<(), Problem> {
    if state.store.delete_token(name).await? {
        tracing::info!(token = %name, "token revoked");
        Ok(())
    } else {
        Err(Problem::not_found(
            "token_not_found",
            format!("no token `{name}`"),
        ))
    }
}

/// Every token: name, role, created, last used (admin).
#[utoipa::path(get, path = "/v1/tokens", responses((status = 200, body = Vec<TokenView>), (status = 403, body = ProblemJson)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenView>>, Problem> {
    caller.require(Access::Admin)?;
    Ok(Json(list(&state).await?))
}

/// Creates a token and returns its secret, once (admin).
#[utoipa::path(post, path = "/v1/tokens", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ProblemJson), (status = 403, body = ProblemJson), (status = 409, body = ProblemJson)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    caller.require(Access::Admin)?;
    let body: NewToken = parse_json(&body_bytes(body)?)?;
    let created = create(&state, &body.name, body.role).await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(created),
    )
        .into_response())
}

/// Revokes a token (admin).
#[utoipa::path(delete, path = "/v1/tokens/{name}", responses((status = 204), (status = 403, body = ProblemJson), (status = 404, body = ProblemJson)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, Problem> {
    caller.require(Access::Admin)?;
    revoke(&state, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
