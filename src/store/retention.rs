//! Retention: deleting finished runs older than a cutoff with everything
//! recorded of them (rule results, metric rows, failed-row samples).

use serde::Serialize;

use super::{RunStatus, Store, StoreError};

/// What one pruning pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Runs.
    pub runs: u64,
    /// Their rule results.
    pub rule_results: u64,
    /// Their metric rows (history values: DetectAnomalies and dynamic
    /// rules see less of the past afterwards).
    pub metrics: u64,
    /// Their failed-row sample rows.
    pub samples: u64,
}

impl Pruned {
    fn add(&mut self, other: Pruned) {
        self.runs += other.runs;
        self.rule_results += other.rule_results;
        self.metrics += other.metrics;
        self.samples += other.samples;
    }
}

impl Store {
    /// Deletes every finished run (done, error, interrupted) created
    /// before `cutoff` (RFC 3339), with its rule results, metrics and
    /// samples, `batch` runs per transaction. Queued and running runs are
    /// never touched.
    pub async fn prune_runs(&self, cutoff: &str, batch: i64) -> Result<Pruned, StoreError> {
        let mut total = Pruned::default();
        loop {
            let pruned = self.prune_batch(cutoff, batch.max(1)).await?;
            total.add(pruned);
            if pruned.runs < batch.max(1) as u64 {
                return Ok(total);
            }
        }
    }

    /// One transaction: up to `batch` of the oldest prunable runs.
    async fn prune_batch(&self, cutoff: &str, batch: i64) -> Result<Pruned, StoreError> {
        let mut tx = self.begin_write().await?;
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM runs WHERE status IN ($1, $2, $3) AND created_at < $4 \
             ORDER BY created_at, id LIMIT $5",
        )
        .bind(RunStatus::Done.as_str())
        .bind(RunStatus::Error.as_str())
        .bind(RunStatus::Interrupted.as_str())
        .bind(cutoff)
        .bind(batch)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(Pruned::default());
        }
        let list = (1..=ids.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut deleted = [0u64; 4];
        for (slot, table, column) in [
            (0, "failed_row_samples", "run_id"),
            (1, "rule_results", "run_id"),
            (2, "metrics", "run_id"),
            (3, "runs", "id"),
        ] {
            let sql = format!("DELETE FROM {table} WHERE {column} IN ({list})");
            let mut query = sqlx::query(&sql);
            for (id,) in &ids {
                query = query.bind(id);
            }
            deleted[slot] = query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(Pruned {
            samples: deleted[0],
            rule_results: deleted[1],
            metrics: deleted[2],
            runs: deleted[3],
        })
    }
}
