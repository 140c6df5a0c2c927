//! Runs that would otherwise stay unfinished: a result write that fails
//! is retried with backoff, then the run is marked `error` with the
//! reason; when even that fails the run is remembered as unrecorded and
//! marked on the next store access that works. A run no evaluation here
//! owns is marked `interrupted` once it is older than the evaluation
//! timeout plus [`STALE_MARGIN`]; at start, [`super::recover`] marks all.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{RunError, Runs};
use crate::store::{Finished, RunRecord, RunStatus, StoreError};

/// How long a result write is retried before the run is marked `error`.
const RECORD_RETRY_FOR: Duration = Duration::from_secs(4);
/// The first pause between attempts; it doubles up to [`RECORD_MAX_PAUSE`].
const RECORD_FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between attempts.
const RECORD_MAX_PAUSE: Duration = Duration::from_secs(1);
/// The most attempts at one write.
const RECORD_MAX_ATTEMPTS: u32 = 10;
/// Beyond the evaluation timeout, how long an unfinished run that no
/// evaluation here owns may still be recorded by its owner (its write
/// retries, connection waits) before it counts as abandoned.
const STALE_MARGIN: Duration = Duration::from_secs(30);
/// The message of runs found abandoned.
const ABANDONED: &str = "interrupted: no evaluation finished the run within the evaluation timeout";

/// Runs of this process whose end could not be stored, with the reason.
#[derive(Default)]
pub(super) struct Unrecorded(Mutex<HashMap<String, String>>);

impl Unrecorded {
    fn runs(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Runs {
    /// Stores a finished run, retrying with backoff for
    /// [`RECORD_RETRY_FOR`]; then marks it `error` with the reason, and
    /// when that fails too remembers it for [`Runs::heal`]. Returns whether
    /// `finished` itself was stored.
    pub(super) async fn record(&self, id: &str, finished: &Finished<'_>) -> bool {
        let store = &self.inner.store;
        let deadline = tokio::time::Instant::now() + RECORD_RETRY_FOR;
        let mut pause = RECORD_FIRST_PAUSE;
        let mut attempt = 1;
        let cause = loop {
            match store.finish_run(id, finished).await {
                Ok(()) => return true,
                Err(e)
                    if attempt >= RECORD_MAX_ATTEMPTS
                        || tokio::time::Instant::now() + pause >= deadline =>
                {
                    break e;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "cannot store the run; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RECORD_MAX_PAUSE);
                    attempt += 1;
                }
            }
        };
        tracing::error!(error = %cause, attempts = attempt, "cannot store the run; marking it error");
        let reason = format!("cannot store the results: {cause}");
        if let Err(e) = store
            .end_unfinished_run(id, RunStatus::Error, &reason)
            .await
        {
            tracing::error!(error = %e, "cannot mark the run error; it is healed on the next store access");
            self.inner.unrecorded.runs().insert(id.to_string(), reason);
        }
        false
    }

    /// Marks the runs whose end could not be stored as `error`, now that
    /// the store may answer again; keeps those it still cannot mark.
    pub async fn heal(&self) {
        let pending: Vec<(String, String)> = self
            .inner
            .unrecorded
            .runs()
            .iter()
            .map(|(id, reason)| (id.clone(), reason.clone()))
            .collect();
        for (id, reason) in pending {
            if self.mark_unrecorded(&id, &reason).await.is_err() {
                return;
            }
        }
    }

    /// Marks one unrecorded run `error` and forgets it.
    async fn mark_unrecorded(&self, id: &str, reason: &str) -> Result<(), StoreError> {
        let store = &self.inner.store;
        match store.end_unfinished_run(id, RunStatus::Error, reason).await {
            Ok(_) => {
                self.inner.unrecorded.runs().remove(id);
                tracing::info!(run_id = %id, "unrecorded run marked error");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(run_id = %id, error = %e, "still cannot mark the unrecorded run");
                Err(e)
            }
        }
    }

    /// How long to wait for `run`, evaluated by no one here, before it
    /// counts as abandoned (zero once it does).
    pub(super) fn until_abandoned(&self, run: &RunRecord) -> Duration {
        let since = run.started_at.as_deref().unwrap_or(&run.created_at);
        let Ok(since) = chrono::DateTime::parse_from_rfc3339(since) else {
            return self.inner.limits.timeout;
        };
        let age = (chrono::Utc::now() - since.to_utc())
            .to_std()
            .unwrap_or(Duration::ZERO);
        (self.inner.limits.timeout + STALE_MARGIN).saturating_sub(age)
    }

    /// `run` as it really stands: an unfinished run no evaluation here
    /// owns is marked `error` when this process could not record its end,
    /// or `interrupted` when it is abandoned; otherwise it is unchanged.
    pub(super) async fn settle(&self, run: RunRecord) -> Result<RunRecord, RunError> {
        if run.status.is_finished() || self.inner.queue.watch(&run.id).is_some() {
            return Ok(run);
        }
        let reason = self.inner.unrecorded.runs().get(&run.id).cloned();
        if let Some(reason) = reason {
            self.mark_unrecorded(&run.id, &reason)
                .await
                .map_err(|source| RunError::Unrecorded {
                    id: run.id.clone(),
                    source,
                })?;
        } else if self.until_abandoned(&run).is_zero() {
            let store = &self.inner.store;
            if store
                .end_unfinished_run(&run.id, RunStatus::Interrupted, ABANDONED)
                .await?
            {
                tracing::warn!(run_id = %run.id, "abandoned run marked interrupted");
            }
        } else {
            return Ok(run);
        }
        self.inner
            .store
            .get_run(&run.id)
            .await?
            .ok_or(RunError::Vanished(run.id))
    }

    /// Whether this process could not record the end of run `id`.
    pub(super) fn is_unrecorded(&self, id: &str) -> bool {
        self.inner.unrecorded.runs().contains_key(id)
    }
}
