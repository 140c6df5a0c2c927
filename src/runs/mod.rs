//! The life of a gate run, whoever asks for it (the HTTP API today, a web
//! console or a `dqgate gate` client later):
//!
//! 1. **claim** the caller's idempotency key (first caller wins; a retry
//!    gets the stored run);
//! 2. **queue** it: a bound on accepted evaluations, a semaphore on
//!    concurrent ones, a timeout on each;
//! 3. **evaluate** it in its own task (a caller that goes away does not
//!    cancel it), reading history from the store;
//! 4. **record** its rule results and metrics and **decide** with the gate
//!    policy, in one transaction;
//! 5. **wait** for a run claimed by another caller, here or on another
//!    replica; **recover** runs an earlier process left unfinished;
//!    **settle** runs whose end could not be stored or that were abandoned
//!    (`settle.rs`), so no run stays `running` forever; **prune** finished
//!    runs past the retention (`retention.rs`).
//!
//! Answers are always read back from the store, so a retry gets exactly
//! the stored decision.

mod dry_run;
mod evaluate;
mod pool;
mod quarantine;
mod queue;
mod record;
pub mod retention;
mod settle;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tracing::Instrument;

pub use dry_run::{Column, DryRun, DryRunError, named_datasets};
pub use evaluate::dataset_spec;
pub use pool::PoolError;

use crate::gate::Decision;
use crate::plan::Outcome;
use crate::store::{Claim, RunIdentity, RunRecord, Store, StoreError, new_run_id};
use evaluate::Job;
use pool::Pool;
use queue::Queue;
use settle::Unrecorded;

/// The message of runs found unfinished when the service starts.
const RECOVERED: &str = "interrupted: the server stopped before the run finished";
/// The message of runs still unfinished when shutdown's grace ran out.
const SHUT_DOWN: &str = "interrupted: the server shut down before the run finished";

/// Bounds of evaluation.
#[derive(Debug, Clone)]
pub struct RunLimits {
    /// Evaluations running at once.
    pub max_concurrent: usize,
    /// Evaluations accepted (running or waiting) before callers are told
    /// to retry.
    pub max_queued: usize,
    /// Longest evaluation (and longest wait for one).
    pub timeout: Duration,
    /// Memory one evaluation may hold, in bytes.
    pub memory_limit: Option<usize>,
    /// What datasets and File rules may reach.
    pub confinement: Arc<crate::source::Confinement>,
    /// Most rules in a ruleset evaluated (see [`crate::check::rule_count`]).
    pub max_rules: usize,
    /// Where evaluations run.
    pub engine: crate::engine::Engine,
}

/// A recorded run, as counters see it.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd<'a> {
    /// The registered dataset evaluated.
    pub dataset: &'a str,
    /// The caller's pipeline stage.
    pub stage: &'a str,
    /// The gate decision.
    pub decision: Decision,
    /// The rules' outcomes.
    pub outcomes: &'a [Outcome],
    /// Wall time of the evaluation.
    pub seconds: f64,
}

/// Told about every run that is recorded (service counters).
pub trait RunObserver: Send + Sync {
    /// A run was recorded.
    fn run_finished(&self, end: &RunEnd<'_>);
}

/// What a caller asks to evaluate.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The caller's idempotency key.
    pub run_key: String,
    /// Registered dataset to check.
    pub dataset: String,
    /// Ruleset name.
    pub ruleset: String,
    /// The version to evaluate; `None` is the latest.
    pub ruleset_version: Option<i64>,
    /// Pipeline stage.
    pub stage: String,
    /// Other registered datasets by the alias rules use.
    pub aliases: BTreeMap<String, String>,
    /// Caller parameters, stored with the run (`Null` stores `{}`).
    pub parameters: serde_json::Value,
}

impl RunRequest {
    /// What this request asks for, as recorded with its run.
    fn identity(&self) -> RunIdentity {
        RunIdentity {
            dataset: self.dataset.clone(),
            ruleset: self.ruleset.clone(),
            stage: self.stage.clone(),
            parameters: if self.parameters.is_null() {
                serde_json::json!({})
            } else {
                self.parameters.clone()
            },
            aliases: self.aliases.clone(),
            ruleset_version: self.ruleset_version,
        }
    }
}

/// The stored run when `requested` is what it was claimed for (a retry),
/// else a conflict naming both requests.
fn retry_of(run: RunRecord, requested: &RunIdentity) -> Result<RunRecord, RunError> {
    let existing = run.request.clone().unwrap_or_else(|| RunIdentity {
        dataset: run.dataset.clone(),
        ruleset: run.ruleset.clone(),
        stage: run.stage.clone(),
        parameters: run.parameters.clone(),
        // Runs stored before requests were recorded kept no aliases.
        aliases: requested.aliases.clone(),
        ruleset_version: requested.ruleset_version,
    });
    if &existing == requested {
        Ok(run)
    } else {
        Err(RunError::RunIdConflict {
            run_key: run.run_key,
            existing: Box::new(existing),
            requested: Box::new(requested.clone()),
        })
    }
}

/// Why a run could not be submitted or read back.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No live ruleset has this name.
    #[error("no ruleset `{0}`")]
    RulesetNotFound(String),
    /// The ruleset exists but not in the version asked for.
    #[error("ruleset `{name}` has no version {version}; its latest is version {latest}")]
    RulesetVersionNotFound {
        /// The ruleset.
        name: String,
        /// The version asked for.
        version: i64,
        /// Its latest version.
        latest: i64,
    },
    /// No dataset is registered under this name.
    #[error("no dataset `{0}`")]
    DatasetNotFound(String),
    /// An alias names no registered dataset.
    #[error("alias `{alias}` names no dataset `{name}`")]
    AliasNotFound {
        /// The alias.
        alias: String,
        /// The dataset name it gave.
        name: String,
    },
    /// The run key belongs to a run that was asked for something else.
    #[error("run_id `{run_key}` is already used by a run of a different request")]
    RunIdConflict {
        /// The caller's run key.
        run_key: String,
        /// What the stored run was asked for.
        existing: Box<RunIdentity>,
        /// What this request asks for.
        requested: Box<RunIdentity>,
    },
    /// The queue is full; retry later.
    #[error("{0} evaluations are already queued; retry later")]
    QueueFull(usize),
    /// The run finished but its end could not be stored yet; retry later.
    #[error("run `{id}` finished but its result could not be stored yet: {source}")]
    Unrecorded {
        /// The run id.
        id: String,
        /// Why the store refused.
        source: StoreError,
    },
    /// The ruleset has more rules than one evaluation may plan.
    #[error("the ruleset has {rules} rules; the limit is {limit}")]
    TooManyRules {
        /// Rules in the ruleset.
        rules: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The stored ruleset no longer parses.
    #[error("ruleset `{0}` is invalid")]
    InvalidRuleset(String),
    /// Bounded work ran past the evaluation timeout and was stopped.
    #[error("timed out after {0} s")]
    TimedOut(u64),
    /// Bounded work gave no answer.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// A run disappeared from the store while in use.
    #[error("run `{0}` vanished from the store")]
    Vanished(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The runs layer over a store; cheap to clone.
#[derive(Clone)]
pub struct Runs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    limits: RunLimits,
    queue: Arc<Queue>,
    pool: Pool,
    observer: Arc<dyn RunObserver>,
    unrecorded: Unrecorded,
}

/// Marks runs left queued or running by an earlier process as interrupted
/// (decision `error`); call it before serving. Returns how many.
pub async fn recover(store: &Store) -> Result<u64, StoreError> {
    store.interrupt_unfinished(RECOVERED).await
}

impl Runs {
    /// Runs over `store` within `limits`, telling `observer` of each
    /// recorded run.
    pub fn new(store: Store, limits: RunLimits, observer: Arc<dyn RunObserver>) -> Runs {
        Runs {
            inner: Arc::new(Inner {
                queue: Queue::new(limits.max_concurrent, limits.max_queued),
                pool: Pool::new(),
                store,
                limits,
                observer,
                unrecorded: Unrecorded::default(),
            }),
        }
    }

    /// Claims `req.run_key` and starts evaluating, or returns the run that
    /// already has the key. The returned run may still be unfinished; see
    /// [`Runs::wait`].
    pub async fn submit(&self, req: RunRequest) -> Result<RunRecord, RunError> {
        let store = &self.inner.store;
        self.heal().await;
        let request = req.identity();
        // A retry of a known run answers from the store without new work.
        if let Some(existing) = store.find_run_by_key(&req.run_key).await? {
            return self.settle(retry_of(existing, &request)?).await;
        }
        let latest = store
            .get_ruleset(&req.ruleset, None)
            .await?
            .ok_or_else(|| RunError::RulesetNotFound(req.ruleset.clone()))?;
        let ruleset = match req.ruleset_version {
            Some(version) if version != latest.version => store
                .get_ruleset(&req.ruleset, Some(version))
                .await?
                .ok_or(RunError::RulesetVersionNotFound {
                    name: req.ruleset.clone(),
                    version,
                    latest: latest.version,
                })?,
            _ => latest,
        };
        self.check_rule_count(&ruleset)?;
        let dataset = store
            .get_dataset(&req.dataset)
            .await?
            .ok_or_else(|| RunError::DatasetNotFound(req.dataset.clone()))?;
        let mut aliases = Vec::new();
        for (alias, name) in &req.aliases {
            let d = store
                .get_dataset(name)
                .await?
                .ok_or_else(|| RunError::AliasNotFound {
                    alias: alias.clone(),
                    name: name.clone(),
                })?;
            aliases.push((alias.clone(), d));
        }
        let queue = &self.inner.queue;
        let slot = queue
            .accept()
            .ok_or_else(|| RunError::QueueFull(queue.max_queued()))?;
        let claim = store
            .claim_run_for(&new_run_id()?, &req.run_key, ruleset.version, &request)
            .await?;
        let id = match claim {
            Claim::New(id) => id,
            // Another caller won the key between the lookup and the claim.
            Claim::Existing(run) => return self.settle(retry_of(*run, &request)?).await,
        };
        let done = queue.evaluating(&id);
        let span = tracing::info_span!("run", run_id = %id, dataset = %req.dataset, ruleset = %req.ruleset, stage = %req.stage);
        let labels = (req.dataset.clone(), req.stage.clone());
        let job = Job {
            ruleset,
            dataset: (req.dataset, dataset),
            aliases,
            stage: req.stage,
            parameters: request.parameters,
        };
        let runs = self.clone();
        let task_id = id.clone();
        tokio::spawn(
            async move {
                // A panic inside the engine must not leave the run "running".
                let evaluation = AssertUnwindSafe(runs.evaluate(&task_id, job));
                if evaluation.catch_unwind().await.is_err() {
                    tracing::error!("evaluation panicked");
                    runs.record_failure(
                        &task_id,
                        (&labels.0, &labels.1),
                        "internal error during evaluation; see the server log",
                    )
                    .await;
                }
                drop(done);
                drop(slot);
            }
            .instrument(span),
        );
        store.get_run(&id).await?.ok_or(RunError::Vanished(id))
    }

    /// Waits until `run` is finished or the evaluation timeout has passed,
    /// and reads it back from the store, settled (see `settle.rs`): a run
    /// whose end this process could not store, or one that was abandoned,
    /// is not left waiting for an evaluation that will never end it.
    pub async fn wait(&self, run: RunRecord) -> Result<RunRecord, RunError> {
        if run.status.is_finished() {
            return Ok(run);
        }
        let store = &self.inner.store;
        let timeout = self.inner.limits.timeout;
        match self.inner.queue.watch(&run.id) {
            Some(mut rx) => {
                let _ = tokio::time::timeout(timeout, rx.wait_for(|done| *done)).await;
            }
            None if !self.is_unrecorded(&run.id) => {
                // Evaluated elsewhere (another replica): poll the store, no
                // longer than until the run would count as abandoned.
                let deadline = Instant::now() + timeout.min(self.until_abandoned(&run));
                while Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    match store.get_run(&run.id).await? {
                        Some(r) if r.status.is_finished() => break,
                        _ => {}
                    }
                }
            }
            None => {}
        }
        let run = store
            .get_run(&run.id)
            .await?
            .ok_or(RunError::Vanished(run.id))?;
        self.settle(run).await
    }

    /// Refuses a ruleset over the rule cap (saved before the cap, or
    /// before it was lowered).
    fn check_rule_count(&self, ruleset: &crate::store::RulesetVersion) -> Result<(), RunError> {
        let parsed = crate::dqdl::parse(&ruleset.dqdl)
            .map_err(|_| RunError::InvalidRuleset(ruleset.name.clone()))?;
        let (rules, limit) = (
            crate::check::rule_count(&parsed),
            self.inner.limits.max_rules,
        );
        if rules > limit {
            return Err(RunError::TooManyRules { rules, limit });
        }
        Ok(())
    }

    /// Runs `work` (a profile, a schema read) through the evaluation queue
    /// and on the evaluation pool (see [`Runs::queued`]).
    pub async fn bounded<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, RunError> {
        self.queued(self.inner.pool.run(work))
            .await?
            .map_err(RunError::from)
    }

    /// Runs `work` through the evaluation queue: `QueueFull` when it is
    /// full, then a concurrency permit, then under the evaluation timeout,
    /// which drops (and so aborts) it.
    pub(crate) async fn queued<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, RunError> {
        let queue = &self.inner.queue;
        let _slot = queue
            .accept()
            .ok_or_else(|| RunError::QueueFull(queue.max_queued()))?;
        let _permit = queue
            .permit()
            .await
            .ok_or(RunError::Pool(PoolError::Cancelled))?;
        let timeout = self.inner.limits.timeout;
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| RunError::TimedOut(timeout.as_secs()))
    }

    /// Evaluations accepted and not yet recorded.
    pub fn in_flight(&self) -> usize {
        self.inner.queue.in_flight()
    }

    /// Evaluations accepted and waiting for an evaluation permit.
    pub fn queue_depth(&self) -> usize {
        let queue = &self.inner.queue;
        queue.in_flight().saturating_sub(queue.running())
    }

    /// Waits up to `grace` for evaluations in flight, then marks the runs
    /// still unfinished as interrupted. Returns how many were marked.
    pub async fn shut_down(&self, grace: Duration) -> Result<u64, StoreError> {
        if self.inner.queue.drain(grace).await {
            return Ok(0);
        }
        self.inner.store.interrupt_unfinished(SHUT_DOWN).await
    }
}
