//! API tokens (stored as hashes).

use super::{Store, StoreError, now_text};

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

    /// The (name, role) of the token with this hash.
    pub async fn find_token(&self, hash: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT name, role FROM tokens WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}
