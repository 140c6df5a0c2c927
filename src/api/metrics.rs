//! Prometheus metrics in the text exposition format: runs by decision and
//! by (dataset, stage, decision) with their duration histograms, rules by
//! outcome, evaluations in flight, queue depth, and store latency by
//! operation. Label values are bounded: the first
//! [`MAX_DATASET_LABELS`] datasets and [`MAX_STAGE_LABELS`] stages seen
//! are named, later ones count as `other`; datasets come from the
//! registry (the gate evaluates registered datasets only).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::store::Histogram;

/// Upper bounds (seconds) of the evaluation duration buckets.
const BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0];

/// Most dataset names used as label values.
pub const MAX_DATASET_LABELS: usize = 200;
/// Most stage names used as label values.
pub const MAX_STAGE_LABELS: usize = 50;
/// The label value of datasets and stages beyond the bounds.
pub const OTHER: &str = "other";

const DECISIONS: [&str; 4] = ["pass", "warn", "fail", "error"];

/// A (dataset, stage, decision) label set.
type RunLabels = (String, String, &'static str);

struct Counters {
    runs: BTreeMap<String, u64>,
    rules: BTreeMap<String, u64>,
    duration: Histogram,
    by_labels: BTreeMap<RunLabels, Histogram>,
    datasets: BTreeSet<String>,
    stages: BTreeSet<String>,
}

/// Service counters.
pub struct Metrics {
    inner: Mutex<Counters>,
    max_datasets: usize,
    max_stages: usize,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::with_label_bounds(MAX_DATASET_LABELS, MAX_STAGE_LABELS)
    }
}

/// The live gauges `/metrics` reports besides the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Evaluations accepted and not finished.
    pub in_flight: usize,
    /// Evaluations waiting for an evaluation permit.
    pub queue_depth: usize,
}

impl Metrics {
    /// Counters naming at most `datasets` datasets and `stages` stages.
    pub fn with_label_bounds(datasets: usize, stages: usize) -> Metrics {
        Metrics {
            inner: Mutex::new(Counters {
                runs: BTreeMap::new(),
                rules: BTreeMap::new(),
                duration: Histogram::new(BUCKETS),
                by_labels: BTreeMap::new(),
                datasets: BTreeSet::new(),
                stages: BTreeSet::new(),
            }),
            max_datasets: datasets,
            max_stages: stages,
        }
    }

    /// Records a finished run.
    pub fn record_run(&self, end: &crate::runs::RunEnd<'_>) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        let decision = end.decision.as_str();
        *c.runs.entry(decision.to_string()).or_default() += 1;
        for o in end.outcomes {
            *c.rules.entry(o.as_str().to_string()).or_default() += 1;
        }
        c.duration.observe(end.seconds);
        let dataset = bounded(&mut c.datasets, self.max_datasets, end.dataset);
        let stage = bounded(&mut c.stages, self.max_stages, end.stage);
        c.by_labels
            .entry((dataset, stage, decision))
            .or_insert_with(|| Histogram::new(BUCKETS))
            .observe(end.seconds);
    }

    /// The exposition text, with the live gauges and the store's latency.
    pub fn render(&self, gauges: Gauges, store: &BTreeMap<&'static str, Histogram>) -> String {
        let Ok(c) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::new();
        labelled_counter(
            &mut out,
            (
                "dqgate_runs_total",
                "Gate runs finished, by decision.",
                "decision",
            ),
            &DECISIONS,
            &c.runs,
        );
        labelled_counter(
            &mut out,
            (
                "dqgate_rules_total",
                "Rules evaluated, by outcome.",
                "outcome",
            ),
            &["Passed", "Failed", "Error"],
            &c.rules,
        );
        family(
            &mut out,
            "dqgate_dataset_runs_total",
            "Gate runs finished, by dataset, stage and decision.",
            "counter",
        );
        for ((dataset, stage, decision), h) in &c.by_labels {
            let _ = writeln!(
                out,
                "dqgate_dataset_runs_total{{{}}} {}",
                run_labels(dataset, stage, decision),
                h.count
            );
        }
        family(
            &mut out,
            "dqgate_evaluation_seconds",
            "Wall time of gate evaluations.",
            "histogram",
        );
        histogram(&mut out, "dqgate_evaluation_seconds", "", &c.duration);
        family(
            &mut out,
            "dqgate_dataset_evaluation_seconds",
            "Wall time of gate evaluations, by dataset, stage and decision.",
            "histogram",
        );
        for ((dataset, stage, decision), h) in &c.by_labels {
            histogram(
                &mut out,
                "dqgate_dataset_evaluation_seconds",
                &run_labels(dataset, stage, decision),
                h,
            );
        }
        for (name, help, value) in [
            (
                "dqgate_evaluations_in_flight",
                "Evaluations accepted and not finished.",
                gauges.in_flight,
            ),
            (
                "dqgate_queue_depth",
                "Evaluations accepted and waiting for an evaluation permit.",
                gauges.queue_depth,
            ),
        ] {
            family(&mut out, name, help, "gauge");
            let _ = writeln!(out, "{name} {value}");
        }
        family(
            &mut out,
            "dqgate_store_seconds",
            "Latency of results store operations, by operation.",
            "histogram",
        );
        for (operation, h) in store {
            histogram(
                &mut out,
                "dqgate_store_seconds",
                &format!("operation=\"{operation}\""),
                h,
            );
        }
        out
    }
}

impl crate::runs::RunObserver for Metrics {
    fn run_finished(&self, end: &crate::runs::RunEnd<'_>) {
        self.record_run(end);
    }
}

/// `value` when it is already a label value or there is room for it, else
/// [`OTHER`].
fn bounded(seen: &mut BTreeSet<String>, max: usize, value: &str) -> String {
    if seen.contains(value) {
        return value.to_string();
    }
    if seen.len() < max {
        seen.insert(value.to_string());
        return value.to_string();
    }
    OTHER.to_string()
}

fn run_labels(dataset: &str, stage: &str, decision: &str) -> String {
    format!(
        "dataset=\"{}\",stage=\"{}\",decision=\"{decision}\"",
        escape(dataset),
        escape(stage)
    )
}

/// A label value escaped for the exposition format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The bucket, sum and count lines of one histogram series.
fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (le, n) in h.bounds.iter().zip(&h.buckets) {
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.count);
    let braces = |s: &str| {
        if s.is_empty() {
            String::new()
        } else {
            format!("{{{s}}}")
        }
    };
    let _ = writeln!(out, "{name}_sum{} {}", braces(labels), h.sum);
    let _ = writeln!(out, "{name}_count{} {}", braces(labels), h.count);
}

/// Writes one counter family, a line per label value (0 when never seen).
fn labelled_counter(
    out: &mut String,
    (name, help, label): (&str, &str, &str),
    values: &[&str],
    counts: &BTreeMap<String, u64>,
) {
    family(out, name, help, "counter");
    for v in values {
        let _ = writeln!(
            out,
            "{name}{{{label}=\"{v}\"}} {}",
            counts.get(*v).copied().unwrap_or(0)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Decision;
    use crate::runs::RunEnd;

    #[test]
    fn datasets_and_stages_beyond_the_bounds_are_other() {
        let m = Metrics::with_label_bounds(2, 1);
        for (dataset, stage) in [("a", "landing"), ("b", "landing"), ("c", "x"), ("a", "y")] {
            m.record_run(&RunEnd {
                dataset,
                stage,
                decision: Decision::Pass,
                outcomes: &[],
                seconds: 0.2,
            });
        }
        let text = m.render(Gauges::default(), &BTreeMap::new());
        for line in [
            "dqgate_dataset_runs_total{dataset=\"a\",stage=\"landing\",decision=\"pass\"} 1",
            "dqgate_dataset_runs_total{dataset=\"a\",stage=\"other\",decision=\"pass\"} 1",
            "dqgate_dataset_runs_total{dataset=\"b\",stage=\"landing\",decision=\"pass\"} 1",
            "dqgate_dataset_runs_total{dataset=\"other\",stage=\"other\",decision=\"pass\"} 1",
            "dqgate_runs_total{decision=\"pass\"} 4",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
        assert!(!text.contains("dataset=\"c\""), "{text}");
    }
}
