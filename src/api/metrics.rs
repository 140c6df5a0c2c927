//! Prometheus counters: runs by decision, rules by outcome, evaluation
//! duration histogram. Rendered in the text exposition format.

use std::fmt::Write as _;
use std::sync::Mutex;

const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0];

#[derive(Default)]
struct Counters {
    runs: std::collections::BTreeMap<String, u64>,
    rules: std::collections::BTreeMap<String, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Service counters.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

impl Metrics {
    /// Records a finished run.
    pub fn record_run(&self, decision: &str, outcomes: &[&str], seconds: f64) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        *c.runs.entry(decision.to_string()).or_default() += 1;
        for o in outcomes {
            *c.rules.entry((*o).to_string()).or_default() += 1;
        }
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                c.buckets[i] += 1;
            }
        }
        c.count += 1;
        c.sum += seconds;
    }

    /// The exposition text.
    pub fn render(&self, in_flight: usize) -> String {
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
            &["pass", "warn", "fail", "error"],
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
        let _ = writeln!(
            out,
            "# HELP dqgate_evaluation_seconds Wall time of gate evaluations."
        );
        let _ = writeln!(out, "# TYPE dqgate_evaluation_seconds histogram");
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "dqgate_evaluation_seconds_bucket{{le=\"{le}\"}} {}",
                c.buckets[i]
            );
        }
        let _ = writeln!(
            out,
            "dqgate_evaluation_seconds_bucket{{le=\"+Inf\"}} {}",
            c.count
        );
        let _ = writeln!(out, "dqgate_evaluation_seconds_sum {}", c.sum);
        let _ = writeln!(out, "dqgate_evaluation_seconds_count {}", c.count);
        let _ = writeln!(
            out,
            "# HELP dqgate_evaluations_in_flight Evaluations accepted and not finished."
        );
        let _ = writeln!(out, "# TYPE dqgate_evaluations_in_flight gauge");
        let _ = writeln!(out, "dqgate_evaluations_in_flight {in_flight}");
        out
    }
}

impl crate::runs::RunObserver for Metrics {
    fn run_finished(
        &self,
        decision: crate::gate::Decision,
        outcomes: &[crate::plan::Outcome],
        seconds: f64,
    ) {
        let outcomes: Vec<&str> = outcomes.iter().map(|o| o.as_str()).collect();
        self.record_run(decision.as_str(), &outcomes, seconds);
    }
}

/// Writes one counter family, a line per label value (0 when never seen).
fn labelled_counter(
    out: &mut String,
    (name, help, label): (&str, &str, &str),
    values: &[&str],
    counts: &std::collections::BTreeMap<String, u64>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for v in values {
        let _ = writeln!(
            out,
            "{name}{{{label}=\"{v}\"}} {}",
            counts.get(*v).copied().unwrap_or(0)
        );
    }
}
