//! The JSON report of a check: a contract that later layers store and serve.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::SeriesKey;
use crate::history::anomaly::Observation;
use crate::plan::Outcome;

/// The result of checking one dataset against one ruleset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// The primary dataset's location.
    pub dataset: String,
    /// The ruleset's name (file path or registry name).
    pub ruleset: String,
    /// Passed rules / rules; `None` when there are no rules (analyzers only).
    pub score: Option<f64>,
    /// Rules passed.
    pub passed: usize,
    /// Rules failed.
    pub failed: usize,
    /// Rules that could not be evaluated.
    pub errors: usize,
    /// When evaluation started (RFC 3339).
    pub started_at: String,
    /// Wall time of the evaluation.
    pub duration_ms: u64,
    /// One entry per top-level rule, in ruleset order.
    pub rules: Vec<RuleResult>,
    /// Analyzer metrics by name.
    pub analyzers: BTreeMap<String, f64>,
    /// What was read per dataset alias: format, Iceberg snapshot, slice.
    #[serde(default)]
    pub sources: BTreeMap<String, crate::source::Registered>,
    /// Every metric keyed for history (not part of the JSON contract).
    #[serde(skip)]
    pub series: Vec<SeriesValue>,
}

/// One measured metric as history keys it: the series and the top-level
/// rule that reported it (`None` for analyzers).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesValue {
    /// Metric name and `where`.
    pub key: SeriesKey,
    /// The value.
    pub value: f64,
    /// Position of the top-level rule, or `None` for an analyzer.
    pub rule: Option<usize>,
    /// What a DetectAnomalies rule saw of this series, when one watched it.
    pub observation: Option<Observation>,
}

/// The result of one top-level rule.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleResult {
    /// The canonical rule text.
    pub rule: String,
    /// Passed, Failed or Error.
    pub outcome: Outcome,
    /// What a person needs to know.
    pub message: String,
    /// The metrics it used, by name.
    pub metrics: BTreeMap<String, f64>,
    /// Labels (DefaultLabels merged with the rule's own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// DetectAnomalies: expected value, bounds and a suggested static rule
    /// per watched metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Observation>,
}

impl Report {
    /// True when every rule passed.
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }
}

/// Failing rows kept of one row-level rule (a dataset's
/// `failed_rows_sample`): at most that many, in the order read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RowSample {
    /// Position of the top-level rule it belongs to.
    pub rule_position: usize,
    /// The row-level rule's canonical text (a leaf of a composite, or a
    /// ROW-mode composite), as `DataQualityRulesFail` names it.
    pub rule: String,
    /// The dataset's columns, in order.
    pub columns: Vec<String>,
    /// The failing rows.
    pub rows: Vec<SampledRow>,
}

/// One failing row: its values as text and the row-level rules it failed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SampledRow {
    /// One value per column, as text (`null` for NULL); long values are
    /// cut at [`SAMPLE_VALUE_CHARS`] characters with `…`.
    pub values: Vec<Option<String>>,
    /// Every row-level rule the row failed (Glue's `DataQualityRulesFail`).
    pub failed_rules: Vec<String>,
}

/// Longest value text a sample keeps, in characters.
pub const SAMPLE_VALUE_CHARS: usize = 200;
