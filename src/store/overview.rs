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

/// Series per sparkline statement.
const SERIES_PER_STATEMENT: usize = 200;
/// Run ids per label statement (well under every database's bind limit).
const RUNS_PER_STATEMENT: usize = 1000;

impl Store {
    /// The last `per_series` scores of each `(dataset, stage)` series,
    /// oldest first within a series: one index range scan
    /// (`runs_by_dataset_stage`) per series, [`SERIES_PER_STATEMENT`] to a
    /// statement (SQLite allows at most 500 terms in a compound select).
    pub async fn recent_scores(
        &self,
        series: &[(String, String)],
        per_series: i64,
    ) -> Result<Vec<SeriesScore>, StoreError> {
        let mut scores = Vec::new();
        for chunk in series.chunks(SERIES_PER_STATEMENT) {
            let parts: Vec<String> = (0..chunk.len())
                .map(|i| {
                    format!(
                        "SELECT * FROM (SELECT dataset, stage, score, created_at FROM runs \
                         WHERE dataset = ${} AND stage = ${} AND score IS NOT NULL \
                         ORDER BY created_at DESC LIMIT $1) s{i}",
                        2 * i + 2,
                        2 * i + 3,
                    )
                })
                .collect();
            let sql = format!(
                "SELECT dataset, stage, score FROM ({}) recent ORDER BY dataset, stage, created_at",
                parts.join(" UNION ALL ")
            );
            let mut query = sqlx::query_as(&sql).bind(per_series);
            for (dataset, stage) in chunk {
                query = query.bind(dataset).bind(stage);
            }
            scores.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(scores)
    }

    /// `(run id, labels as JSON text)` of every rule of `runs` that did not
    /// pass.
    pub async fn unpassed_rule_labels(
        &self,
        runs: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut labels = Vec::new();
        for chunk in runs.chunks(RUNS_PER_STATEMENT) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT run_id, labels FROM rule_results WHERE outcome <> 'Passed' AND run_id IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query_as(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            labels.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(labels)
    }
}
