//! Bearer tokens and roles. Only token hashes are stored; the bootstrap
//! admin token from the environment is compared by hash too.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::Problem;

/// What a token may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Rulesets, datasets and reading.
    Steward,
    /// The gate and reading.
    Pipeline,
    /// Reading.
    Viewer,
}

impl Role {
    /// The role as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Steward => "steward",
            Role::Pipeline => "pipeline",
            Role::Viewer => "viewer",
        }
    }

    /// Parses a stored role.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "steward" => Some(Role::Steward),
            "pipeline" => Some(Role::Pipeline),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any valid token.
    Read,
    /// Admin or steward.
    Edit,
    /// Admin or pipeline.
    Gate,
    /// Admin only (tokens).
    Admin,
}

impl Access {
    fn allows(self, role: Role) -> bool {
        match self {
            Access::Read => true,
            Access::Edit => matches!(role, Role::Admin | Role::Steward),
            Access::Gate => matches!(role, Role::Admin | Role::Pipeline),
            Access::Admin => role == Role::Admin,
        }
    }
}

/// The caller: token name and role.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name (the author of ruleset versions).
    pub name: String,
    /// Its role.
    pub role: Role,
}

impl Caller {
    /// True when the role allows `access` (what a page shows).
    pub fn may(&self, access: Access) -> bool {
        access.allows(self.role)
    }

    /// 403 unless the role allows `access`.
    pub fn require(&self, access: Access) -> Result<(), Problem> {
        if access.allows(self.role) {
            Ok(())
        } else {
            Err(Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("the {} role may not do this", self.role.as_str()),
            ))
        }
    }
}

/// SHA-256 of a token, hex encoded.
pub fn hash_token(token: &str) -> String {
    hash_bytes(token.as_bytes())
}

/// The SHA-256 of `bytes` in hex.
pub fn hash_bytes(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random token: `dqg_` and 64 hex digits.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "dqg_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
}

/// A token's `last_used_at` is rewritten at most this often.
const LAST_USED_GRANULARITY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The caller a token hash names (the bootstrap admin or a stored token),
/// or `None` for an unknown one. Notes the use of a stored token, at most
/// once a minute.
pub async fn caller_for_hash(state: &AppState, hash: &str) -> Result<Option<Caller>, Problem> {
    if state.admin_token_hash.as_deref() == Some(hash) {
        return Ok(Some(Caller {
            name: "admin (bootstrap)".to_string(),
            role: Role::Admin,
        }));
    }
    let Some(token) = state.store.find_token(hash).await? else {
        return Ok(None);
    };
    let role = Role::parse(&token.role).ok_or_else(|| {
        Problem::internal(&format!(
            "token {} has unknown role {}",
            token.name, token.role
        ))
    })?;
    let now = chrono::Utc::now();
    let stale = token.last_used_at.as_deref().is_none_or(|at| {
        chrono::DateTime::parse_from_rfc3339(at).map_or(true, |t| {
            now.signed_duration_since(t) >= LAST_USED_GRANULARITY
        })
    });
    if stale {
        let at = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        // A failed note must not refuse the call; it is retried next time.
        if let Err(e) = state.store.touch_token(hash, &at).await {
            tracing::warn!(token = %token.name, error = %e, "cannot record the token's use");
        }
    }
    Ok(Some(Caller {
        name: token.name,
        role,
    }))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, Problem> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("send a token: Authorization: Bearer <token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        caller_for_hash(state, &hash_token(token))
            .await?
            .ok_or_else(|| unauthorized("unknown token"))
    }
}
