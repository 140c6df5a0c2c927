//! Metric history for history-aware rules: dynamic operands (`avg(last(7))`,
//! SPEC §10) and DetectAnomalies (SPEC §12.13). The store loads a
//! [`History`] before evaluation; judging reads it and never touches I/O.

pub mod anomaly;
pub mod dynamic;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One metric series: a metric name under one `where` clause.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    /// The metric name, e.g. `Dataset.*.RowCount`.
    pub metric: String,
    /// The rule's `where` text, empty without one.
    pub where_clause: String,
}

impl SeriesKey {
    /// A key for `metric` under an optional `where` text.
    pub fn new(metric: &str, where_clause: Option<&str>) -> SeriesKey {
        SeriesKey {
            metric: metric.to_string(),
            where_clause: where_clause.unwrap_or_default().to_string(),
        }
    }
}

/// A past value of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The evaluation clock of the run that measured it.
    pub at: DateTime<Utc>,
    /// The value.
    pub value: f64,
}

/// Past values per series, oldest first; values a steward marked as
/// expected are already left out.
#[derive(Debug, Clone, Default)]
pub struct History {
    series: HashMap<SeriesKey, Vec<Point>>,
    /// False when no store was consulted: history-aware rules then say so
    /// instead of treating "no store" as "no history".
    available: bool,
}

impl History {
    /// A store's history with no values yet (a new dataset).
    pub fn empty() -> History {
        History {
            series: HashMap::new(),
            available: true,
        }
    }

    /// No store at all.
    pub fn unavailable() -> History {
        History::default()
    }

    /// Whether a store was consulted.
    pub fn available(&self) -> bool {
        self.available
    }

    /// Adds a past point; points must be added oldest first.
    pub fn push(&mut self, key: SeriesKey, point: Point) {
        self.series.entry(key).or_default().push(point);
    }

    /// The points of a series, oldest first.
    pub fn points(&self, key: &SeriesKey) -> &[Point] {
        self.series.get(key).map_or(&[], Vec::as_slice)
    }

    /// The values of a series, newest first (the order `last(k)` uses).
    pub fn newest_first(&self, key: &SeriesKey) -> Vec<f64> {
        self.points(key).iter().rev().map(|p| p.value).collect()
    }
}

/// Where past metric values come from: the results store implements it;
/// evaluation needs nothing else of the store.
pub trait HistorySource {
    /// Why the history could not be read.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Past values of `keys` for a dataset (and stage, when given), oldest
    /// first, at most `limit` per series.
    fn load_history(
        &self,
        dataset: &str,
        stage: Option<&str>,
        keys: &[SeriesKey],
        limit: i64,
    ) -> impl Future<Output = Result<History, Self::Error>> + Send;
}
