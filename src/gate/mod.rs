//! The gate's decision policy: which outcomes block, warn or pass.
//!
//! - `fail` when a blocking rule failed;
//! - `error` when a blocking rule could not be evaluated, or the run could
//!   not finish (fail-closed: the pipeline stops, and the answer says why);
//! - `warn` when only warning rules failed or errored;
//! - `pass` otherwise.
//!
//! A rule is warning-only when its labels (own or inherited through
//! `DefaultLabels`) carry `"severity"="warn"` (or `"warning"`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::Outcome;
use crate::report::Report;

/// What the gate answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Move the data on.
    Pass,
    /// Move on, but warning rules failed.
    Warn,
    /// Stop: a blocking rule failed.
    Fail,
    /// Stop: the evaluation could not be completed.
    Error,
}

impl Decision {
    /// Every decision.
    pub const ALL: [Decision; 4] = [
        Decision::Pass,
        Decision::Warn,
        Decision::Fail,
        Decision::Error,
    ];

    /// The decision as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pass => "pass",
            Decision::Warn => "warn",
            Decision::Fail => "fail",
            Decision::Error => "error",
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown decision `{0}`")]
pub struct UnknownDecision(pub String);

impl std::str::FromStr for Decision {
    type Err = UnknownDecision;

    fn from_str(s: &str) -> Result<Self, UnknownDecision> {
        Decision::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownDecision(s.to_string()))
    }
}

/// True when the labels make a rule warning-only.
pub fn is_warning(labels: &BTreeMap<String, String>) -> bool {
    labels
        .get("severity")
        .is_some_and(|v| v.eq_ignore_ascii_case("warn") || v.eq_ignore_ascii_case("warning"))
}

/// Decides from rule outcomes and their labels.
pub fn decide<'a>(
    rules: impl IntoIterator<Item = (Outcome, &'a BTreeMap<String, String>)>,
) -> Decision {
    let (mut fail, mut error, mut warn) = (false, false, false);
    for (outcome, labels) in rules {
        let warning = is_warning(labels);
        match outcome {
            Outcome::Passed => {}
            Outcome::Failed if warning => warn = true,
            Outcome::Error if warning => warn = true,
            Outcome::Failed => fail = true,
            Outcome::Error => error = true,
        }
    }
    if fail {
        Decision::Fail
    } else if error {
        Decision::Error
    } else if warn {
        Decision::Warn
    } else {
        Decision::Pass
    }
}

/// The decision for a report.
pub fn decide_report(report: &Report) -> Decision {
    decide(report.rules.iter().map(|r| (r.outcome, &r.labels)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(severity: Option<&str>) -> BTreeMap<String, String> {
        severity
            .map(|s| ("severity".to_string(), s.to_string()))
            .into_iter()
            .collect()
    }

    #[test]
    fn policy() {
        let (block, warn) = (labels(None), labels(Some("warn")));
        use Outcome::*;
        assert_eq!(decide([(Passed, &block), (Passed, &warn)]), Decision::Pass);
        assert_eq!(decide([(Passed, &block), (Failed, &warn)]), Decision::Warn);
        assert_eq!(decide([(Error, &warn)]), Decision::Warn);
        assert_eq!(decide([(Error, &block), (Failed, &warn)]), Decision::Error);
        assert_eq!(decide([(Error, &block), (Failed, &block)]), Decision::Fail);
        assert_eq!(decide([(Failed, &labels(Some("WARNING")))]), Decision::Warn);
        assert_eq!(decide(std::iter::empty()), Decision::Pass);
    }

    #[test]
    fn decision_text_round_trips_and_matches_serde() {
        for d in Decision::ALL {
            assert_eq!(d.as_str().parse::<Decision>(), Ok(d));
            assert_eq!(
                serde_json::to_value(d).expect("json"),
                serde_json::json!(d.as_str())
            );
        }
        assert!("Pass".parse::<Decision>().is_err());
    }
}
