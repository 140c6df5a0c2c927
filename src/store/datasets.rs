//! Registered datasets.

use super::{Store, StoreError, decode_json, now_text};
use serde::Serialize;

/// A registered dataset.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DatasetRecord {
    /// Registry name.
    pub name: String,
    /// `parquet`, `csv` or `json`.
    pub format: String,
    /// File, folder or glob.
    pub location: String,
    /// Reader options.
    pub options: serde_json::Value,
    /// First registered.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

/// A `datasets` row; `options` is JSON text.
#[derive(sqlx::FromRow)]
struct DatasetRow {
    name: String,
    format: String,
    location: String,
    options: String,
    created_at: String,
    updated_at: String,
}

impl TryFrom<DatasetRow> for DatasetRecord {
    type Error = StoreError;

    fn try_from(r: DatasetRow) -> Result<Self, StoreError> {
        Ok(DatasetRecord {
            options: decode_json("dataset options", &r.options)?,
            name: r.name,
            format: r.format,
            location: r.location,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

impl Store {
    /// Registers or replaces a dataset. Returns whether it is new.
    pub async fn put_dataset(
        &self,
        name: &str,
        format: &str,
        location: &str,
        options: &serde_json::Value,
    ) -> Result<(DatasetRecord, bool), StoreError> {
        let now = now_text();
        let existed = self.get_dataset(name).await?;
        let options_text = options.to_string();
        let created_at = match &existed {
            Some(d) => {
                sqlx::query("UPDATE datasets SET format = $1, location = $2, options = $3, updated_at = $4 WHERE name = $5")
                    .bind(format)
                    .bind(location)
                    .bind(&options_text)
                    .bind(&now)
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                d.created_at.clone()
            }
            None => {
                sqlx::query(
                    "INSERT INTO datasets (name, format, location, options, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
                     ON CONFLICT (name) DO UPDATE SET format = $2, location = $3, options = $4, updated_at = $5",
                )
                .bind(name)
                .bind(format)
                .bind(location)
                .bind(&options_text)
                .bind(&now)
                .execute(&self.pool)
                .await?;
                now.clone()
            }
        };
        Ok((
            DatasetRecord {
                name: name.to_string(),
                format: format.to_string(),
                location: location.to_string(),
                options: options.clone(),
                created_at,
                updated_at: now,
            },
            existed.is_none(),
        ))
    }

    /// A registered dataset.
    pub async fn get_dataset(&self, name: &str) -> Result<Option<DatasetRecord>, StoreError> {
        let _timer = self.timer("dataset");
        let row: Option<DatasetRow> = sqlx::query_as("SELECT name, format, location, options, created_at, updated_at FROM datasets WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    /// Every registered dataset.
    pub async fn list_datasets(&self) -> Result<Vec<DatasetRecord>, StoreError> {
        let rows: Vec<DatasetRow> = sqlx::query_as("SELECT name, format, location, options, created_at, updated_at FROM datasets ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}
