//! API tokens (stored as hashes) and when each was last used.

use serde::Serialize;

use super::{Store, StoreError, now_text};

/// A stored token, without its hash.
#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct TokenRecord {
    /// Unique name (the author of what the token saves).
    pub name: String,
    /// Role as stored (`admin`, `steward`, `pipeline`, `viewer`).
    pub role: String,
    /// When it was created.
    pub created_at: String,
    /// When it last authenticated a call, at minute precision.
    pub last_used_at: Option<String>,
}

impl Store {
    /// Stores a token's hash under a unique name. False if the name exists.
    pub async fn create_token(
        &self,
        name: &str,
        role: &str,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("INSERT INTO tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(role)
            .bind(hash)
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The token with this hash.
    pub async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT name, role, created_at, last_used_at FROM tokens WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every token, by name.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(
            sqlx::query_as("SELECT name, role, created_at, last_used_at FROM tokens ORDER BY name")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// True when some stored token has the admin role.
    pub async fn has_admin_token(&self) -> Result<bool, StoreError> {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT name FROM tokens WHERE role = 'admin' LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Records that the token with this hash was used at `at`.
    pub async fn touch_token(&self, hash: &str, at: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE hash = $2")
            .bind(at)
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revokes a token and ends its console sessions. False if absent.
    pub async fn delete_token(&self, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let hash: Option<(String,)> = sqlx::query_as("SELECT hash FROM tokens WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((hash,)) = hash else {
            tx.commit().await?;
            return Ok(false);
        };
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tokens WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
