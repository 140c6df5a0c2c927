//! The evaluation queue: a bound on accepted evaluations (beyond it the
//! caller is told to retry), a semaphore on concurrent ones, and a
//! completion signal per run for callers that wait in this process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, SemaphorePermit, watch};

/// Evaluations in flight.
pub(super) struct Queue {
    permits: Semaphore,
    max_concurrent: usize,
    accepted: AtomicUsize,
    max_queued: usize,
    running: Mutex<HashMap<String, watch::Receiver<bool>>>,
    idle: Notify,
}

/// A place in the queue, held from acceptance until the run is recorded;
/// dropping it gives the place back.
pub(super) struct Slot {
    queue: Arc<Queue>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.queue.accepted.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.queue.idle.notify_waiters();
        }
    }
}

/// Tells waiters a run is recorded; sent when dropped.
pub(super) struct Done {
    queue: Arc<Queue>,
    id: String,
    sender: watch::Sender<bool>,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.queue.watchers().remove(&self.id);
        let _ = self.sender.send(true);
    }
}

impl Queue {
    pub(super) fn new(max_concurrent: usize, max_queued: usize) -> Arc<Queue> {
        Arc::new(Queue {
            permits: Semaphore::new(max_concurrent.max(1)),
            max_concurrent: max_concurrent.max(1),
            accepted: AtomicUsize::new(0),
            max_queued,
            running: Mutex::new(HashMap::new()),
            idle: Notify::new(),
        })
    }

    /// The most evaluations accepted at once.
    pub(super) fn max_queued(&self) -> usize {
        self.max_queued
    }

    /// A place in the queue, or `None` when it is full.
    pub(super) fn accept(self: &Arc<Self>) -> Option<Slot> {
        let before = self.accepted.fetch_add(1, Ordering::SeqCst);
        let slot = Slot {
            queue: Arc::clone(self),
        };
        (before < self.max_queued).then_some(slot)
    }

    /// Registers run `id` as evaluating here, so callers can wait for it.
    pub(super) fn evaluating(self: &Arc<Self>, id: &str) -> Done {
        let (sender, receiver) = watch::channel(false);
        self.watchers().insert(id.to_string(), receiver);
        Done {
            queue: Arc::clone(self),
            id: id.to_string(),
            sender,
        }
    }

    /// The completion signal of a run evaluating in this process.
    pub(super) fn watch(&self, id: &str) -> Option<watch::Receiver<bool>> {
        self.watchers().get(id).cloned()
    }

    /// Waits for an evaluation permit; `None` if the queue is closed.
    pub(super) async fn permit(&self) -> Option<SemaphorePermit<'_>> {
        self.permits.acquire().await.ok()
    }

    /// Evaluations accepted and not finished.
    pub(super) fn in_flight(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Evaluations holding a permit (evaluating now).
    pub(super) fn running(&self) -> usize {
        self.max_concurrent
            .saturating_sub(self.permits.available_permits())
    }

    /// Waits until no evaluation is in flight or `grace` has passed; returns
    /// whether all finished.
    pub(super) async fn drain(&self, grace: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + grace;
        while self.in_flight() > 0 {
            if tokio::time::timeout_at(deadline, self.idle.notified())
                .await
                .is_err()
            {
                return self.in_flight() == 0;
            }
        }
        true
    }

    fn watchers(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Receiver<bool>>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_counts_places_and_dropping_gives_them_back() {
        let queue = Queue::new(1, 2);
        let a = queue.accept().expect("first");
        let b = queue.accept().expect("second");
        assert!(queue.accept().is_none(), "full");
        assert_eq!(queue.in_flight(), 2, "a refused place is given back");
        drop(a);
        let c = queue.accept().expect("room again");
        drop((b, c));
        assert_eq!(queue.in_flight(), 0);
    }

    #[test]
    fn waiters_see_the_run_done() {
        let queue = Queue::new(1, 1);
        let done = queue.evaluating("r1");
        let rx = queue.watch("r1").expect("watched");
        assert!(!*rx.borrow());
        drop(done);
        assert!(*rx.borrow());
        assert!(queue.watch("r1").is_none());
    }
}
