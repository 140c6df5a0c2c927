//! The evaluation pool: a runtime of its own for planning and scans, so
//! CPU-bound work never holds the server's async workers (`/healthz` keeps
//! answering), and work that is given up on (a timeout) is aborted, which
//! drops DataFusion's streams and stops their CPU use.

use std::future::Future;

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// Why pooled work gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The work panicked.
    #[error("internal error during evaluation; see the server log")]
    Panicked,
    /// The pool shut down before the work ended.
    #[error("the evaluation was cancelled")]
    Cancelled,
}

/// Threads that run evaluations.
pub(super) struct Pool {
    runtime: Option<Runtime>,
}

/// Aborts the task when the awaiting side gives up on it.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Pool {
    /// A pool of one thread per core; when its runtime cannot be built,
    /// work runs on the caller's runtime (still abortable).
    pub(super) fn new() -> Pool {
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("dqgate-eval")
            .thread_stack_size(crate::engine::EVALUATION_STACK_BYTES)
            .enable_all()
            .build();
        match runtime {
            Ok(r) => Pool { runtime: Some(r) },
            Err(e) => {
                tracing::error!(error = %e, "cannot start the evaluation threads; evaluating on the server's");
                Pool { runtime: None }
            }
        }
    }

    /// Runs `work` on the pool; dropping the returned future aborts it.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, PoolError> {
        let handle = match &self.runtime {
            Some(r) => r.spawn(work),
            None => tokio::spawn(work),
        };
        let mut task = AbortOnDrop(handle);
        (&mut task.0).await.map_err(|e| {
            if e.is_panic() {
                tracing::error!("evaluation panicked");
                PoolError::Panicked
            } else {
                PoolError::Cancelled
            }
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Dropping a runtime may block, which an async context forbids.
        if let Some(r) = self.runtime.take() {
            r.shutdown_background();
        }
    }
}
