//! Rulesets and their immutable versions.

use serde::Serialize;

use super::{Backend, Store, StoreError, now_text};

/// One version of a ruleset.
#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct RulesetVersion {
    /// Ruleset name.
    pub name: String,
    /// 1, 2, ...
    pub version: i64,
    /// The DQDL text.
    pub dqdl: String,
    /// Why this version was saved.
    pub comment: Option<String>,
    /// Name of the token that saved it.
    pub author: String,
    /// When it was saved.
    pub created_at: String,
}

impl Store {
    /// Saves `dqdl` as the next version of `name`, unless it equals the
    /// latest version. Returns the version and whether it is new.
    ///
    /// Concurrent saves of one name are serialized: the ruleset row is
    /// created if absent and then locked (`FOR UPDATE` on PostgreSQL; SQLite
    /// holds its write lock from `BEGIN IMMEDIATE`) before the next version
    /// number is read, so every save gets its own number.
    pub async fn put_ruleset(
        &self,
        name: &str,
        dqdl: &str,
        comment: Option<&str>,
        author: &str,
    ) -> Result<(RulesetVersion, bool), StoreError> {
        let mut tx = self.begin_write().await?;
        let now = now_text();
        let inserted = sqlx::query(
            "INSERT INTO rulesets (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let lock = match self.backend {
            Backend::Postgres => "SELECT deleted_at FROM rulesets WHERE name = $1 FOR UPDATE",
            Backend::Sqlite => "SELECT deleted_at FROM rulesets WHERE name = $1",
        };
        let (deleted_at,): (Option<String>,) =
            sqlx::query_as(lock).bind(name).fetch_one(&mut *tx).await?;
        // Live before this save: neither created nor revived by it.
        let was_live = inserted.rows_affected() == 0 && deleted_at.is_none();
        if deleted_at.is_some() {
            sqlx::query("UPDATE rulesets SET deleted_at = NULL WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        let latest: Option<RulesetVersion> = sqlx::query_as(
            "SELECT name, version, dqdl, comment, author, created_at FROM ruleset_versions \
             WHERE name = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(v) = &latest
            && v.dqdl == dqdl
            && was_live
        {
            tx.commit().await?;
            return Ok((v.clone(), false));
        }
        let version = latest.map_or(1, |v| v.version + 1);
        sqlx::query(
            "INSERT INTO ruleset_versions (name, version, dqdl, comment, author, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(name)
        .bind(version)
        .bind(dqdl)
        .bind(comment)
        .bind(author)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((
            RulesetVersion {
                name: name.to_string(),
                version,
                dqdl: dqdl.to_string(),
                comment: comment.map(str::to_string),
                author: author.to_string(),
                created_at: now,
            },
            true,
        ))
    }

    /// Every live ruleset with its latest version.
    pub async fn list_rulesets(&self) -> Result<Vec<RulesetVersion>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT v.name, v.version, v.dqdl, v.comment, v.author, v.created_at FROM ruleset_versions v \
             JOIN rulesets r ON r.name = v.name \
             WHERE r.deleted_at IS NULL AND v.version = (SELECT max(version) FROM ruleset_versions w WHERE w.name = v.name) \
             ORDER BY v.name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// A version of a live ruleset (the latest when `version` is `None`).
    pub async fn get_ruleset(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<RulesetVersion>, StoreError> {
        let _timer = self.timer("ruleset");
        Ok(sqlx::query_as(
            "SELECT v.name, v.version, v.dqdl, v.comment, v.author, v.created_at FROM ruleset_versions v \
             JOIN rulesets r ON r.name = v.name \
             WHERE r.deleted_at IS NULL AND v.name = $1 AND ($2 < 0 OR v.version = $2) \
             ORDER BY v.version DESC LIMIT 1",
        )
        .bind(name)
        .bind(version.unwrap_or(-1))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every version of a live ruleset, newest first.
    pub async fn ruleset_versions(&self, name: &str) -> Result<Vec<RulesetVersion>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT v.name, v.version, v.dqdl, v.comment, v.author, v.created_at FROM ruleset_versions v \
             JOIN rulesets r ON r.name = v.name WHERE r.deleted_at IS NULL AND v.name = $1 ORDER BY v.version DESC",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Marks a ruleset deleted (its versions and runs stay). False if absent.
    pub async fn delete_ruleset(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE rulesets SET deleted_at = $1 WHERE name = $2 AND deleted_at IS NULL",
        )
        .bind(now_text())
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
