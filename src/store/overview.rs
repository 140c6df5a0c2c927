//! What the console's overview reads besides the latest runs: recent
//! scores per dataset × stage (the sparklines) and the labels of the rules
//! that did not pass in given runs (the label filter).

use super::{Store, StoreError};

/// One recent score of a dataset × stage series.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SeriesScore {
    /// Dataset name.
    pub dataset: String,
    /// Stage.
    pub stage: String,
    /// The run's score.
    pub score: f64,
}

impl Store {
    /// The last `per_series` scores of every dataset × stage, oldest first
    /// within a series.
    pub async fn recent_scores(&self, per_series: i64) -> Result<Vec<SeriesScore>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT dataset, stage, score FROM ( \
               SELECT dataset, stage, score, created_at, id, \
                      ROW_NUMBER() OVER (PARTITION BY dataset, stage ORDER BY created_at DESC, id DESC) AS n \
               FROM runs WHERE score IS NOT NULL) recent \
             WHERE n <= $1 ORDER BY dataset, stage, created_at, id",
        )
        .bind(per_series)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// `(run id, labels as JSON text)` of every rule of `runs` that did not
    /// pass.
    pub async fn unpassed_rule_labels(
        &self,
        runs: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        if runs.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=runs.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT run_id, labels FROM rule_results WHERE outcome <> 'Passed' AND run_id IN ({})",
            marks.join(", ")
        );
        let mut query = sqlx::query_as(&sql);
        for id in runs {
            query = query.bind(id);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}
