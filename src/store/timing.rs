//! Store latency: a histogram per operation of the run path, recorded by
//! a guard that each timed method holds, read by the service's `/metrics`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Upper bounds (seconds) of store latency buckets.
pub const STORE_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// A cumulative histogram with fixed bucket bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Upper bounds, ascending.
    pub bounds: &'static [f64],
    /// Observations at or under each bound (cumulative).
    pub buckets: Vec<u64>,
    /// All observations.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

impl Histogram {
    /// An empty histogram over `bounds`.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: vec![0; bounds.len()],
            count: 0,
            sum: 0.0,
        }
    }

    /// Adds one observation.
    pub fn observe(&mut self, value: f64) {
        for (bound, bucket) in self.bounds.iter().zip(self.buckets.iter_mut()) {
            if value <= *bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum += value;
    }
}

/// Latency histograms by operation name.
#[derive(Debug, Default)]
pub struct Latency {
    by_operation: Mutex<BTreeMap<&'static str, Histogram>>,
}

impl Latency {
    /// A copy of every histogram.
    pub fn snapshot(&self) -> BTreeMap<&'static str, Histogram> {
        self.by_operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn observe(&self, operation: &'static str, seconds: f64) {
        self.by_operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(operation)
            .or_insert_with(|| Histogram::new(STORE_BUCKETS))
            .observe(seconds);
    }
}

/// Records the time from its creation to its drop under an operation.
pub(super) struct Timer {
    latency: Arc<Latency>,
    operation: &'static str,
    start: Instant,
}

impl Timer {
    pub(super) fn start(latency: &Arc<Latency>, operation: &'static str) -> Timer {
        Timer {
            latency: Arc::clone(latency),
            operation,
            start: Instant::now(),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.latency
            .observe(self.operation, self.start.elapsed().as_secs_f64());
    }
}
