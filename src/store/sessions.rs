//! Console sign-in sessions. Only the SHA-256 of a session id is stored;
//! a session lasts until its expiry or its sign-out, and names the hash of
//! the token it was opened with, so the token's current role applies.

use super::{Store, StoreError, now_text};

impl Store {
    /// Opens a session until `expires_at` (RFC 3339, stored form), and drops
    /// sessions that have expired.
    pub async fn create_session(
        &self,
        id_hash: &str,
        token_hash: &str,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        let now = now_text();
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(&now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id_hash)
        .bind(token_hash)
        .bind(&now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The token hash of a live (unexpired, not signed out) session.
    pub async fn find_session(&self, id_hash: &str) -> Result<Option<String>, StoreError> {
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT token_hash FROM sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now_text())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|(h,)| h))
    }

    /// Ends a session (sign-out).
    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
