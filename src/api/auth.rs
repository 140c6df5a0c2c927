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
}

impl Access {
    fn allows(self, role: Role) -> bool {
        match self {
            Access::Read => true,
            Access::Edit => matches!(role, Role::Admin | Role::Steward),
            Access::Gate => matches!(role, Role::Admin | Role::Pipeline),
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
    Sha256::digest(token.as_bytes())
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
        let hash = hash_token(token);
        if state.admin_token_hash.as_deref() == Some(hash.as_str()) {
            return Ok(Caller {
                name: "admin (bootstrap)".to_string(),
                role: Role::Admin,
            });
        }
        match state.store.find_token(&hash).await? {
            Some((name, role)) => Ok(Caller {
                name,
                role: Role::parse(&role).ok_or_else(|| {
                    Problem::internal(&format!("token {hash} has unknown role {role}"))
                })?,
            }),
            None => Err(unauthorized("unknown token")),
        }
    }
}
