//! Retention: a background task that prunes finished runs older than a
//! number of days (`serve --retention-days`), every hour and once at start.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};

use crate::store::{Pruned, Store, StoreError};

/// Runs deleted per transaction, so a large backlog never holds the write
/// lock (or a PostgreSQL transaction) for long.
pub const PRUNE_BATCH: i64 = 500;

/// How often the task prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Prunes once: every finished run created more than `days` days ago,
/// with its rule results, metrics and samples; logs what it deleted.
pub async fn prune_older_than(store: &Store, days: u32) -> Result<Pruned, StoreError> {
    let cutoff = (Utc::now() - chrono::Duration::days(i64::from(days)))
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    let pruned = store.prune_runs(&cutoff, PRUNE_BATCH).await?;
    if pruned.runs > 0 {
        tracing::info!(
            runs = pruned.runs,
            rule_results = pruned.rule_results,
            metrics = pruned.metrics,
            samples = pruned.samples,
            retention_days = days,
            %cutoff,
            "pruned old runs"
        );
    } else {
        tracing::debug!(retention_days = days, %cutoff, "no runs old enough to prune");
    }
    Ok(pruned)
}

/// Starts the pruning task: at once, then every `every`. A failed pass is
/// logged and tried again at the next tick. Abort the handle to stop it.
pub fn spawn(store: Store, days: u32, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = prune_older_than(&store, days).await {
                tracing::warn!(error = %crate::source::redact::secrets(&e.to_string()), "pruning old runs failed");
            }
        }
    })
}
