//! Table-driven semantics: one rule per row over the `people` fixture (see
//! fixtures.rs for the data), with the outcome and metrics worked out by hand
//! from SPEC. All rules run as ONE ruleset, so the table also checks that
//! rules sharing a scan do not disturb each other (bad SQL, wrong types and
//! missing columns sit among good rules).

use dqgate::check::{CheckRequest, run};
use dqgate::dqdl::rule_types::RuleType;
use dqgate::plan::Outcome::{self, Error as E, Failed as F, Passed as P};
use dqgate::source::DatasetSpec;

use super::fixtures;

struct Case {
    rule: &'static str,
    outcome: Outcome,
    metrics: Vec<(&'static str, f64)>,
}

fn c(rule: &'static str, outcome: Outcome, metrics: &[(&'static str, f64)]) -> Case {
    Case {
        rule,
        outcome,
        metrics: metrics.to_vec(),
    }
}

/// −Σ p ln p for value counts.
/// Metric names a leaf rule reported that the metric-name table does not
/// list for its rule type (composites are checked through their leaves).
pub fn unlisted_metrics<'a>(rule: &str, names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let Some(t) = rule
        .split_whitespace()
        .next()
        .and_then(|w| RuleType::ALL.into_iter().find(|t| t.name() == w))
    else {
        return Vec::new();
    };
    names
        .filter(|n| !dqgate::plan::metric_names::is_reported(t, n))
        .map(|n| format!("{rule}\n    reports `{n}`, which the metric-name table does not list"))
        .collect()
}

fn entropy(counts: &[f64]) -> f64 {
    let n: f64 = counts.iter().sum();
    -counts.iter().map(|c| (c / n) * (c / n).ln()).sum::<f64>()
}

fn var_pop(xs: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n
}

fn pearson(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let cov: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sx: f64 = pairs
        .iter()
        .map(|(x, _)| (x - mx).powi(2))
        .sum::<f64>()
        .sqrt();
    let sy: f64 = pairs
        .iter()
        .map(|(_, y)| (y - my).powi(2))
        .sum::<f64>()
        .sqrt();
    cov / (sx * sy)
}

const AGES: [f64; 8] = [30.0, 25.0, 40.0, 35.0, 20.0, 30.0, 50.0, 45.0];
const SCORES: [f64; 9] = [1.5, 2.5, 3.5, 0.5, 2.0, 4.0, 1.0, 3.0, 2.0];

fn cases() -> Vec<Case> {
    let rc = "Dataset.*.RowCount";
    let id_age = [
        (1.0, 30.0),
        (2.0, 25.0),
        (4.0, 40.0),
        (5.0, 35.0),
        (6.0, 20.0),
        (8.0, 30.0),
        (9.0, 50.0),
        (10.0, 45.0),
    ];
    vec![
        // ---- RowCount
        c("RowCount = 10", P, &[(rc, 10.0)]),
        c("RowCount > 10", F, &[(rc, 10.0)]),
        c("RowCount >= 10", P, &[]),
        c("RowCount < 10", F, &[]),
        c("RowCount <= 10", P, &[]),
        c("RowCount != 10", F, &[]),
        c("RowCount between 9 and 11", P, &[]),
        c("RowCount between 10 and 11", F, &[]),
        c("RowCount not between 10 and 11", P, &[]),
        c("RowCount in [5, 10]", P, &[]),
        c("RowCount not in [10]", F, &[]),
        c("RowCount = 4 where \"city = 'NY'\"", P, &[(rc, 4.0)]),
        c(
            "RowCount = 1 where \"city = 'NY' and age > 30\"",
            P,
            &[(rc, 1.0)],
        ),
        c("RowCount = 0 where \"age > 100\"", P, &[(rc, 0.0)]),
        c("RowCount > 1 + 2 * 3", P, &[]),
        c("RowCount > 2 * 3 + 5", F, &[]),
        c("RowCount > 1 + (2 * 4)", P, &[]),
        c("RowCount = 20 / 2", P, &[]),
        c("RowCount > avg(last(3))", E, &[]),
        c("RowCount > NULL", E, &[]),
        c("RowCount > 0 where \"nosuch > 1\"", E, &[]),
        c("RowCount > 0 where \"age >\"", E, &[]),
        // A `where` is one boolean expression: text that would close the
        // FILTER and add a column to the shared scan is an Error of its own
        // rule, and every other rule keeps its own metric (checked here by
        // the cases around it).
        c(
            "RowCount > 0 where \"id > 0)) AS m0, count(*) FILTER (WHERE (id > 1\"",
            E,
            &[],
        ),
        c("RowCount > 0 where \"id > 0 AS renamed\"", E, &[]),
        c("RowCount > 0 where \"age\"", E, &[]),
        c("RowCount > 0 where \"id > 0 -- comment\"", P, &[(rc, 10.0)]),
        c(
            "RowCount > 0 where \"id IN (SELECT id FROM reference)\"",
            E,
            &[],
        ),
        // ---- ColumnCount, ColumnExists, ColumnNamesMatchPattern
        c("ColumnCount = 9", P, &[("Dataset.*.ColumnCount", 9.0)]),
        c("ColumnCount > 9", F, &[]),
        c("ColumnExists \"age\"", P, &[]),
        c("ColumnExists \"nope\"", F, &[]),
        c(
            "ColumnNamesMatchPattern \"^[a-z]+$\"",
            P,
            &[("Dataset.*.ColumnNamesPatternMatchRatio", 1.0)],
        ),
        c(
            "ColumnNamesMatchPattern \"^[a-c]\"",
            F,
            &[("Dataset.*.ColumnNamesPatternMatchRatio", 3.0 / 9.0)],
        ),
        c(
            "ColumnNamesMatchPattern \"e\"",
            F,
            &[("Dataset.*.ColumnNamesPatternMatchRatio", 6.0 / 9.0)],
        ),
        // ---- Completeness
        c(
            "Completeness \"name\" = 0.9",
            P,
            &[("Column.name.Completeness", 0.9)],
        ),
        c(
            "Completeness \"age\" >= 0.8",
            P,
            &[("Column.age.Completeness", 0.8)],
        ),
        c("Completeness \"age\" > 0.8", F, &[]),
        c(
            "Completeness \"age\" = 0.5 where \"city = 'NY'\"",
            P,
            &[("Column.age.Completeness", 0.5)],
        ),
        c("Completeness \"age\" > 0 where \"id > 100\"", E, &[]),
        c("Completeness \"missing\" > 0.5", F, &[]),
        c(
            "Completeness \"flag\" = 0.9",
            P,
            &[("Column.flag.Completeness", 0.9)],
        ),
        c("Completeness \"code\" = 0.9", P, &[]),
        c("IsComplete \"id\"", P, &[("Column.id.Completeness", 1.0)]),
        c(
            "IsComplete \"name\"",
            F,
            &[("Column.name.Completeness", 0.9)],
        ),
        c("IsComplete \"city\"", F, &[]),
        c(
            "IsComplete \"age\" where \"city = 'LA'\"",
            P,
            &[("Column.age.Completeness", 1.0)],
        ),
        c(
            "IsComplete \"NAME\"",
            F,
            &[("Column.NAME.Completeness", 0.9)],
        ),
        // ---- Uniqueness family
        c(
            "Uniqueness \"name\" between 0.77 and 0.78",
            P,
            &[("Column.name.Uniqueness", 7.0 / 9.0)],
        ),
        c(
            "Uniqueness \"city\" = 0",
            P,
            &[("Column.city.Uniqueness", 0.0)],
        ),
        c(
            "Uniqueness \"age\" = 0.75",
            P,
            &[("Column.age.Uniqueness", 0.75)],
        ),
        c("IsUnique \"id\"", P, &[("Column.id.Uniqueness", 1.0)]),
        c(
            "IsUnique \"name\"",
            F,
            &[("Column.name.Uniqueness", 7.0 / 9.0)],
        ),
        c(
            "IsUnique \"name\" where \"id <= 5\"",
            P,
            &[("Column.name.Uniqueness", 1.0)],
        ),
        c(
            "IsUnique \"name\" \"age\"",
            F,
            &[("Multicolumn.name,age.Uniqueness", 7.0 / 9.0)],
        ),
        c(
            "IsUnique \"name\" \"city\"",
            P,
            &[("Multicolumn.name,city.Uniqueness", 1.0)],
        ),
        c(
            "Uniqueness \"city\" \"flag\" between 0.33 and 0.34",
            P,
            &[("Multicolumn.city,flag.Uniqueness", 3.0 / 9.0)],
        ),
        c(
            "IsPrimaryKey \"id\"",
            P,
            &[
                ("Column.id.Uniqueness", 1.0),
                ("Column.id.Completeness", 1.0),
            ],
        ),
        c(
            "IsPrimaryKey \"name\"",
            F,
            &[
                ("Column.name.Uniqueness", 7.0 / 9.0),
                ("Column.name.Completeness", 0.9),
            ],
        ),
        c(
            "IsPrimaryKey \"name\" \"city\"",
            F,
            &[
                ("Multicolumn.name,city.Uniqueness", 1.0),
                ("Column.name.Completeness", 0.9),
                ("Column.city.Completeness", 0.9),
            ],
        ),
        c(
            "IsPrimaryKey \"id\" \"name\"",
            F,
            &[("Multicolumn.id,name.Uniqueness", 1.0)],
        ),
        c(
            "UniqueValueRatio \"name\" = 0.875",
            P,
            &[("Column.name.UniqueValueRatio", 0.875)],
        ),
        c(
            "UniqueValueRatio \"city\" = 0",
            P,
            &[("Column.city.UniqueValueRatio", 0.0)],
        ),
        c(
            "UniqueValueRatio \"age\" > 0.85",
            P,
            &[("Column.age.UniqueValueRatio", 6.0 / 7.0)],
        ),
        c(
            "DistinctValuesCount \"name\" = 9",
            P,
            &[("Column.name.DistinctValuesCount", 9.0)],
        ),
        c(
            "DistinctValuesCount \"city\" = 4",
            P,
            &[("Column.city.DistinctValuesCount", 4.0)],
        ),
        c("DistinctValuesCount \"id\" = 10", P, &[]),
        c("DistinctValuesCount \"age\" = 8", P, &[]),
        c("DistinctValuesCount \"flag\" = 3", P, &[]),
        c(
            "DistinctValuesCount \"name\" = 4 where \"city = 'NY'\"",
            P,
            &[],
        ),
        c("DistinctValuesCount \"name\" > 9", F, &[]),
        c(
            "Entropy \"city\" between 1.06 and 1.07",
            P,
            &[("Column.city.Entropy", entropy(&[4.0, 3.0, 2.0]))],
        ),
        c(
            "Entropy \"id\" > 2.3",
            P,
            &[("Column.id.Entropy", 10f64.ln())],
        ),
        c(
            "Entropy \"name\" < 2.1",
            P,
            &[(
                "Column.name.Entropy",
                entropy(&[2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
            )],
        ),
        c(
            "Entropy \"flag\" > 0",
            P,
            &[("Column.flag.Entropy", entropy(&[6.0, 3.0]))],
        ),
        c("Uniqueness \"nope\" > 0", F, &[]),
        // ---- statistics
        c("Mean \"age\" = 34.375", P, &[("Column.age.Mean", 34.375)]),
        c("Sum \"age\" = 275", P, &[("Column.age.Sum", 275.0)]),
        c(
            "Variance \"age\" = 90.234375",
            P,
            &[("Column.age.Variance", 90.234375)],
        ),
        c(
            "StandardDeviation \"age\" between 9.49 and 9.5",
            P,
            &[("Column.age.StandardDeviation", 90.234375f64.sqrt())],
        ),
        c(
            "Mean \"age\" = 40 where \"city = 'NY'\"",
            P,
            &[("Column.age.Mean", 40.0)],
        ),
        c(
            "Mean \"score\" > 2.2",
            P,
            &[("Column.score.Mean", 20.0 / 9.0)],
        ),
        c("Sum \"score\" = 20", P, &[("Column.score.Sum", 20.0)]),
        c(
            "StandardDeviation \"score\" < 2",
            P,
            &[("Column.score.StandardDeviation", var_pop(&SCORES).sqrt())],
        ),
        c(
            "Variance \"score\" > 1",
            P,
            &[("Column.score.Variance", var_pop(&SCORES))],
        ),
        c(
            "Variance \"age\" = 90.234375 where \"age is not null\"",
            P,
            &[("Column.age.Variance", var_pop(&AGES))],
        ),
        c("Sum \"id\" = 55", P, &[]),
        c("Variance \"id\" = 8.25", P, &[]),
        c("Mean \"id\" between 5 and 6", P, &[("Column.id.Mean", 5.5)]),
        c("Mean \"name\" > 1", E, &[]),
        c("Sum \"age\" = 0 where \"id > 100\"", E, &[]),
        c("Mean \"age\" > 0 where \"age is null\"", E, &[]),
        c("Mean \"nope\" > 0", F, &[]),
        c("StandardDeviation \"age\" > 10", F, &[]),
        // ---- correlation
        c(
            "ColumnCorrelation \"id\" \"age\" > 0.5",
            P,
            &[("Multicolumn.id,age.ColumnCorrelation", pearson(&id_age))],
        ),
        c(
            "ColumnCorrelation \"id\" \"id\" between 0.99 and 1.01",
            P,
            &[],
        ),
        c("ColumnCorrelation \"id\" \"name\" > 0", E, &[]),
        c(
            "ColumnCorrelation \"age\" \"age\" > 0 where \"id = 1\"",
            E,
            &[],
        ),
        // ---- ColumnLength (NULL has length 0)
        c(
            "ColumnLength \"name\" <= 3",
            P,
            &[
                ("Column.name.MinimumLength", 0.0),
                ("Column.name.MaximumLength", 3.0),
            ],
        ),
        c("ColumnLength \"name\" = 3", F, &[]),
        c("ColumnLength \"name\" > 0", F, &[]),
        c("ColumnLength \"name\" between -1 and 4", P, &[]),
        // `in` also reports the share of rows whose length is listed: the
        // codes' lengths are 2, 2, 1, 3, 10, NULL (0), 4, 2, 3 and 0, so 6
        // of 10 are 1, 2 or 3.
        c(
            "ColumnLength \"code\" in [1, 2, 3]",
            F,
            &[
                ("Column.code.MaximumLength", 10.0),
                ("Column.code.ColumnLength.Compliance", 0.6),
            ],
        ),
        c(
            "ColumnLength \"name\" = 3 where \"id <= 4\"",
            P,
            &[("Column.name.MinimumLength", 3.0)],
        ),
        c("ColumnLength \"code\" not in [0]", F, &[]),
        // The reported lengths ignore NULL (as AllStatistics's do); the
        // row check still counts NULL (id 7) as length 0.
        c(
            "ColumnLength \"name\" <= 3 where \"id = 3 or id = 7\"",
            P,
            &[
                ("Column.name.MinimumLength", 3.0),
                ("Column.name.MaximumLength", 3.0),
            ],
        ),
        // ---- ColumnValues: numbers and NULLs
        c(
            "ColumnValues \"age\" > 10",
            F,
            &[
                ("Column.age.ColumnValues.Compliance", 0.8),
                ("Column.age.Minimum", 20.0),
            ],
        ),
        c(
            "ColumnValues \"age\" > 10 with threshold >= 0.8",
            P,
            &[("Column.age.ColumnValues.Compliance", 0.8)],
        ),
        c(
            "ColumnValues \"age\" between 20 and 50",
            F,
            &[
                ("Column.age.ColumnValues.Compliance", 0.6),
                ("Column.age.Minimum", 20.0),
                ("Column.age.Maximum", 50.0),
            ],
        ),
        c(
            "ColumnValues \"age\" != 30",
            F,
            &[("Column.age.ColumnValues.Compliance", 0.8)],
        ),
        c(
            "ColumnValues \"age\" = 30",
            F,
            &[("Column.age.ColumnValues.Compliance", 0.2)],
        ),
        c(
            "ColumnValues \"age\" in [30, 40]",
            F,
            &[("Column.age.ColumnValues.Compliance", 0.3)],
        ),
        c(
            "ColumnValues \"age\" in [30, 40, NULL]",
            F,
            &[("Column.age.ColumnValues.Compliance", 0.5)],
        ),
        c(
            "ColumnValues \"age\" not in [30, 40]",
            F,
            &[("Column.age.ColumnValues.Compliance", 0.7)],
        ),
        c(
            "ColumnValues \"age\" not in [30, NULL]",
            F,
            &[("Column.age.ColumnValues.Compliance", 0.6)],
        ),
        c(
            "ColumnValues \"age\" not between 25 and 45",
            F,
            &[("Column.age.ColumnValues.Compliance", 0.4)],
        ),
        c(
            "ColumnValues \"age\" = NULL",
            F,
            &[("Column.age.ColumnValues.Compliance", 0.2)],
        ),
        c(
            "ColumnValues \"age\" != NULL",
            F,
            &[("Column.age.ColumnValues.Compliance", 0.8)],
        ),
        c(
            "ColumnValues \"age\" <= 50",
            F,
            &[("Column.age.Maximum", 50.0)],
        ),
        c(
            "ColumnValues \"score\" >= 0.5",
            F,
            &[("Column.score.ColumnValues.Compliance", 0.9)],
        ),
        c("ColumnValues \"score\" >= 0.5 with threshold = 0.9", P, &[]),
        c(
            "ColumnValues \"age\" > 10 where \"age IS NOT NULL\"",
            P,
            &[("Column.age.ColumnValues.Compliance", 1.0)],
        ),
        c(
            "ColumnValues \"id\" between 0 and 11",
            P,
            &[("Column.id.ColumnValues.Compliance", 1.0)],
        ),
        c("ColumnValues \"id\" > 0 where \"id > 100\"", P, &[]),
        c("ColumnValues \"age\" > avg(last(3))", E, &[]),
        c(
            "ColumnValues \"age\" > 30 with threshold > avg(last(2))",
            E,
            &[],
        ),
        c("ColumnValues \"name\" > 3", E, &[]),
        c("ColumnValues \"nope\" > 3", F, &[]),
        c(
            "ColumnValues \"age\" > 30 with threshold between 0.3 and 0.5",
            P,
            &[("Column.age.ColumnValues.Compliance", 0.4)],
        ),
        // ---- ColumnValues: strings, EMPTY, WHITESPACES_ONLY, regex
        c(
            "ColumnValues \"name\" = \"ann\"",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.2)],
        ),
        c(
            "ColumnValues \"name\" != \"ann\"",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.8)],
        ),
        c(
            "ColumnValues \"name\" in [\"ann\", \"bob\"]",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.3)],
        ),
        c(
            "ColumnValues \"name\" in [\"ann\", NULL]",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.3)],
        ),
        c(
            "ColumnValues \"name\" not in [\"ann\", \"bob\"]",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.7)],
        ),
        c(
            "ColumnValues \"name\" not in [\"ann\", NULL]",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.7)],
        ),
        c(
            "ColumnValues \"name\" = EMPTY",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.1)],
        ),
        c(
            "ColumnValues \"name\" = WHITESPACES_ONLY",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.1)],
        ),
        c(
            "ColumnValues \"name\" != EMPTY",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.9)],
        ),
        c(
            "ColumnValues \"name\" != WHITESPACES_ONLY",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.9)],
        ),
        c(
            "ColumnValues \"name\" in [\"ann\", EMPTY, WHITESPACES_ONLY]",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.4)],
        ),
        c(
            "ColumnValues \"name\" not in [EMPTY]",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.9)],
        ),
        c(
            "ColumnValues \"name\" = NULL",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.1)],
        ),
        c(
            "ColumnValues \"name\" != NULL",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.9)],
        ),
        c(
            "ColumnValues \"name\" matches \"[a-z]+\"",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.7)],
        ),
        c(
            "ColumnValues \"name\" matches \"[a-z]*\"",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.8)],
        ),
        c(
            "ColumnValues \"name\" matches \"a\"",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.0)],
        ),
        c(
            "ColumnValues \"name\" not matches \"a.*\"",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.7)],
        ),
        c(
            "ColumnValues \"name\" matches \"[a-z]+\" with threshold >= 0.7",
            P,
            &[],
        ),
        c(
            "ColumnValues \"name\" matches \"a|b.*\"",
            F,
            &[("Column.name.ColumnValues.Compliance", 0.1)],
        ),
        c(
            "ColumnValues \"code\" matches \"^-?\\d+$\"",
            F,
            &[("Column.code.ColumnValues.Compliance", 0.3)],
        ),
        c("ColumnValues \"name\" matches \"(\"", E, &[]),
        c(
            "ColumnValues \"flag\" in [\"true\", \"false\"]",
            F,
            &[("Column.flag.ColumnValues.Compliance", 0.9)],
        ),
        c(
            "ColumnValues \"flag\" = \"true\"",
            F,
            &[("Column.flag.ColumnValues.Compliance", 0.6)],
        ),
        c(
            "ColumnValues \"age\" = \"30\"",
            F,
            &[("Column.age.ColumnValues.Compliance", 0.2)],
        ),
        c(
            "ColumnValues \"city\" in $allowed",
            F,
            &[("Column.city.ColumnValues.Compliance", 0.7)],
        ),
        c(
            "ColumnValues \"city\" not in $allowed",
            F,
            &[("Column.city.ColumnValues.Compliance", 0.3)],
        ),
        c(
            "ColumnValues \"city\" = $ny",
            F,
            &[("Column.city.ColumnValues.Compliance", 0.4)],
        ),
        c(
            "ColumnValues \"city\" in $with_null",
            F,
            &[("Column.city.ColumnValues.Compliance", 0.5)],
        ),
        c(
            "ColumnValues \"name\" in [\"ann\"] with threshold between 0.1 and 0.3",
            P,
            &[],
        ),
        c(
            "ColumnValues \"city\" in [\"NY\", \"LA\", \"SF\"] where \"city IS NOT NULL\"",
            P,
            &[],
        ),
        // ---- ColumnValues: dates and times
        c(
            "ColumnValues \"joined\" > \"2024-01-01\"",
            F,
            &[("Column.joined.ColumnValues.Compliance", 0.6)],
        ),
        c(
            "ColumnValues \"joined\" >= \"2024-01-01\"",
            F,
            &[("Column.joined.ColumnValues.Compliance", 0.8)],
        ),
        c(
            "ColumnValues \"joined\" between \"2024-01-01\" and \"2024-12-31\"",
            F,
            &[("Column.joined.ColumnValues.Compliance", 0.4)],
        ),
        c(
            "ColumnValues \"joined\" = \"2024-01-01\"",
            F,
            &[("Column.joined.ColumnValues.Compliance", 0.2)],
        ),
        c(
            "ColumnValues \"joined\" in [\"2024-01-01\", NULL]",
            F,
            &[("Column.joined.ColumnValues.Compliance", 0.3)],
        ),
        c(
            "ColumnValues \"joined\" <= now()",
            F,
            &[("Column.joined.ColumnValues.Compliance", 0.9)],
        ),
        c(
            "ColumnValues \"joined\" > (now() - 1000 days)",
            F,
            &[("Column.joined.ColumnValues.Compliance", 0.3)],
        ),
        c(
            "ColumnValues \"seen\" > (now() - 24 hours)",
            F,
            &[("Column.seen.ColumnValues.Compliance", 0.6)],
        ),
        c(
            "ColumnValues \"seen\" between (now() - 48 hours) and now()",
            F,
            &[("Column.seen.ColumnValues.Compliance", 0.7)],
        ),
        c(
            "ColumnValues \"seen\" > \"11:00\"",
            F,
            &[("Column.seen.ColumnValues.Compliance", 0.1)],
        ),
        c(
            "ColumnValues \"seen\" >= \"11:00 AM\"",
            F,
            &[("Column.seen.ColumnValues.Compliance", 0.2)],
        ),
        c(
            "ColumnValues \"seen\" <= now() where \"seen IS NOT NULL\"",
            P,
            &[],
        ),
        c("ColumnValues \"joined\" > \"2023-13-45\"", E, &[]),
        c("ColumnValues \"id\" > \"2024-01-01\"", E, &[]),
        // ---- ColumnDataType (strict casts; NULL never complies)
        c(
            "ColumnDataType \"code\" = \"Integer\"",
            F,
            &[("Column.code.ColumnDataType.Compliance", 0.4)],
        ),
        c(
            "ColumnDataType \"code\" = \"Integer\" with threshold >= 0.4",
            P,
            &[],
        ),
        c(
            "ColumnDataType \"code\" = \"Double\"",
            F,
            &[("Column.code.ColumnDataType.Compliance", 0.5)],
        ),
        c(
            "ColumnDataType \"code\" = \"Date\"",
            F,
            &[("Column.code.ColumnDataType.Compliance", 0.1)],
        ),
        c(
            "ColumnDataType \"code\" != \"Integer\"",
            F,
            &[("Column.code.ColumnDataType.Compliance", 0.6)],
        ),
        c(
            "ColumnDataType \"id\" = \"Integer\"",
            P,
            &[("Column.id.ColumnDataType.Compliance", 1.0)],
        ),
        c("ColumnDataType \"id\" = \"long\"", P, &[]),
        c("ColumnDataType \"code\" = \"Blob\"", E, &[]),
        c(
            "ColumnDataType \"joined\" = \"Date\" where \"joined IS NOT NULL\"",
            P,
            &[],
        ),
        // ---- DataFreshness (age = now - value)
        c(
            "DataFreshness \"seen\" <= 24 hours",
            F,
            &[("Column.seen.DataFreshness.Compliance", 0.6)],
        ),
        c(
            "DataFreshness \"seen\" <= 100 hours",
            F,
            &[("Column.seen.DataFreshness.Compliance", 0.9)],
        ),
        c(
            "DataFreshness \"seen\" <= 5 days where \"seen IS NOT NULL\"",
            P,
            &[("Column.seen.DataFreshness.Compliance", 1.0)],
        ),
        c(
            "DataFreshness \"seen\" > 24 hours",
            F,
            &[("Column.seen.DataFreshness.Compliance", 0.3)],
        ),
        c(
            "DataFreshness \"seen\" between 2 hours and 2 days",
            F,
            &[("Column.seen.DataFreshness.Compliance", 0.4)],
        ),
        c(
            "DataFreshness \"seen\" < 30 minutes",
            F,
            &[("Column.seen.DataFreshness.Compliance", 0.0)],
        ),
        c(
            "DataFreshness \"seen\" <= 30 minutes",
            F,
            &[("Column.seen.DataFreshness.Compliance", 0.1)],
        ),
        c(
            "DataFreshness \"joined\" <= 1200 days",
            F,
            &[("Column.joined.DataFreshness.Compliance", 0.9)],
        ),
        // Durations beyond any stored timestamp still compare (no row is
        // 700 days old; every non-NULL row is younger than a million days).
        c(
            "DataFreshness \"seen\" between 700 days and 1000000 days",
            F,
            &[("Column.seen.DataFreshness.Compliance", 0.0)],
        ),
        c(
            "DataFreshness \"seen\" <= 2000000000 days",
            F,
            &[("Column.seen.DataFreshness.Compliance", 0.9)],
        ),
        c(
            "DataFreshness \"joined\" <= 1000000 days",
            F,
            &[("Column.joined.DataFreshness.Compliance", 0.9)],
        ),
        c(
            "ColumnValues \"seen\" > (now() - 2000000000 days) where \"seen IS NOT NULL\"",
            P,
            &[("Column.seen.ColumnValues.Compliance", 1.0)],
        ),
        c("DataFreshness \"age\" <= 1 days", E, &[]),
        c("DataFreshness \"name\" <= 1 days", E, &[]),
        // ---- CustomSql
        c(
            "CustomSql \"select count(*) from primary\" = 10",
            P,
            &[("Dataset.*.CustomSQL", 10.0)],
        ),
        c(
            "CustomSql \"SELECT avg(age) FROM primary WHERE city = 'NY'\" = 40",
            P,
            &[("Dataset.*.CustomSQL", 40.0)],
        ),
        c(
            "CustomSql \"select max(score) from primary\" between 3.9 and 4.1",
            P,
            &[("Dataset.*.CustomSQL", 4.0)],
        ),
        c("CustomSql \"select count(*) from reference\" = 9", P, &[]),
        c(
            "CustomSql \"select count(*) from primary p join reference r on p.id = r.id\" = 8",
            P,
            &[],
        ),
        c("CustomSql \"select name from primary\" > 0", E, &[]),
        c("CustomSql \"select count(*), 1 from primary\" > 0", E, &[]),
        c("CustomSql \"select 'x'\" > 0", E, &[]),
        c("CustomSql \"drop table primary\" > 0", E, &[]),
        c("CustomSql \"insert into primary values (1)\" > 0", E, &[]),
        c("CustomSql \"copy primary to 'out.csv'\" > 0", E, &[]),
        c(
            "CustomSql \"create external table x stored as csv location '/etc/passwd'\" > 0",
            E,
            &[],
        ),
        c("CustomSql \"select 1; select 2\" > 0", E, &[]),
        c("CustomSql \"select count(*) from nosuch\" > 0", E, &[]),
        c(
            "CustomSql \"select count(*) from '/etc/passwd'\" > 0",
            E,
            &[],
        ),
        c("CustomSql $count_sql = 10", P, &[]),
        c(
            "CustomSql \"select id from primary where age > 30\"",
            F,
            &[("Dataset.*.CustomSQL.Compliance", 0.4)],
        ),
        c(
            "CustomSql \"select id from primary where age > 30\" with threshold >= 0.4",
            P,
            &[],
        ),
        c(
            "CustomSql \"select name from primary where id = 1\"",
            F,
            &[("Dataset.*.CustomSQL.Compliance", 0.2)],
        ),
        c(
            "CustomSql \"select age from primary where age is null\"",
            F,
            &[("Dataset.*.CustomSQL.Compliance", 0.2)],
        ),
        c(
            "CustomSql \"select id from primary\"",
            P,
            &[("Dataset.*.CustomSQL.Compliance", 1.0)],
        ),
        c("CustomSql \"select 1 as nosuchcol\"", E, &[]),
        // ---- cross-dataset rules
        c(
            "RowCountMatch \"reference\" between 1.11 and 1.12",
            P,
            &[("Dataset.reference.RowCountMatch", 10.0 / 9.0)],
        ),
        c("RowCountMatch \"nosuch\" > 0", E, &[]),
        c(
            "ReferentialIntegrity \"id\" \"reference.id\" = 0.8",
            P,
            &[("Column.reference.ReferentialIntegrity", 0.8)],
        ),
        c(
            "ReferentialIntegrity \"name\" \"reference.name\" = 0.7",
            P,
            &[],
        ),
        c(
            "ReferentialIntegrity \"id,name\" \"reference.{id,name}\" = 0.7",
            P,
            &[],
        ),
        c("ReferentialIntegrity \"id\" \"reference.nope\" > 0", F, &[]),
        c("ReferentialIntegrity \"id\" \"nosuch.id\" > 0", E, &[]),
        c(
            "SchemaMatch \"reference\" = 0",
            P,
            &[("Dataset.reference.SchemaMatch", 0.0)],
        ),
        c(
            "DatasetMatch \"reference\" \"id\" \"name->name\" = 0.8",
            P,
            &[("Dataset.reference.DatasetMatch", 0.8)],
        ),
        c(
            "DatasetMatch \"reference\" \"id->id\" \"age\" = 0.8",
            P,
            &[],
        ),
        c("DatasetMatch \"reference\" \"id\" = 0.8", P, &[]),
        c("DatasetMatch \"reference\" \"name\" \"age\" > 0", F, &[]),
        c(
            "AggregateMatch \"sum(age)\" \"sum(reference.age)\" between 1.14 and 1.15",
            P,
            &[("Column.age.AggregateMatch", 275.0 / 240.0)],
        ),
        c(
            "AggregateMatch \"avg(score)\" \"AVG(reference.score)\" < 0.75",
            P,
            &[("Column.score.AggregateMatch", (20.0 / 9.0) / 3.0)],
        ),
        c(
            "AggregateMatch \"sum(id)\" \"sum(age)\" = 0.2",
            P,
            &[("Column.id,age.AggregateMatch", 0.2)],
        ),
        c("AggregateMatch \"median(id)\" \"sum(age)\" > 0", E, &[]),
        // ---- composites (SPEC §9 DECISION for Error)
        c(
            "(RowCount = 10) and (IsComplete \"id\")",
            P,
            &[(rc, 10.0), ("Column.id.Completeness", 1.0)],
        ),
        c("(RowCount = 10) and (IsComplete \"name\")", F, &[]),
        c("(RowCount = 11) or (IsComplete \"id\")", P, &[]),
        c("(RowCount = 11) or (IsComplete \"name\")", F, &[]),
        c("(RowCount > avg(last(2))) and (RowCount = 11)", F, &[]),
        c("(RowCount > avg(last(2))) and (RowCount = 10)", E, &[]),
        c("(RowCount > avg(last(2))) or (RowCount = 10)", P, &[]),
        c("(RowCount > avg(last(2))) or (RowCount = 11)", E, &[]),
        c(
            "(IsComplete \"id\") or (IsComplete \"name\") and (RowCount = 11)",
            P,
            &[],
        ),
        c(
            "((IsComplete \"id\") or (IsComplete \"name\")) and (RowCount = 11)",
            F,
            &[],
        ),
        c(
            "(ColumnValues \"age\" > 10) and (ColumnValues \"age\" < 40)",
            F,
            &[
                ("Column.age.ColumnValues.Compliance", 0.8),
                ("Column.age.ColumnValues.Compliance#2", 0.5),
            ],
        ),
        // ---- history needs a store (tests/integration/history.rs)
        c("DetectAnomalies \"RowCount\"", E, &[]),
        // ---- the primary dataset's one file (tests/integration/file_rules.rs)
        c(
            "FileSize < 5 MB with uriRegex = \"nomatch\"",
            F,
            &[("Dataset.*.FileCount", 0.0)],
        ),
        c(
            "FileFreshness > (now() - 1 days)",
            P,
            &[
                ("Dataset.*.FileFreshness.Compliance", 1.0),
                ("Dataset.*.FileCount", 1.0),
            ],
        ),
    ]
}

const CONSTANTS: &str = "allowed = [ \"NY\", \"LA\" ]\nny = \"NY\"\nwith_null = [ \"NY\", NULL ]\ncount_sql = \"select count(*) from primary\"\n";

/// Every case's rule in one ruleset, over `fixtures::write_all`'s
/// `primary` and `reference`.
pub fn ruleset_text() -> String {
    let rules: Vec<&str> = cases().iter().map(|c| c.rule).collect();
    format!("{CONSTANTS}Rules = [\n    {}\n]\n", rules.join(",\n    "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_type_matches_hand_computed_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (people, reference) = fixtures::write_all(dir.path());
    let cases = cases();
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    let text = ruleset_text();
    let report = run(CheckRequest {
        ruleset_name: "semantics".into(),
        ruleset_text: text,
        datasets: vec![
            DatasetSpec {
                alias: "primary".into(),
                location: people,
                ..Default::default()
            },
            DatasetSpec {
                alias: "reference".into(),
                location: reference,
                ..Default::default()
            },
        ],
        now: Some(fixtures::now()),
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .expect("the check runs");
    assert_eq!(report.rules.len(), cases.len());
    let mut failures = Vec::new();
    for (case, got) in cases.iter().zip(&report.rules) {
        failures.extend(unlisted_metrics(case.rule, got.metrics.keys()));
        if got.outcome != case.outcome {
            failures.push(format!(
                "{}\n    outcome {:?}, expected {:?}: {}",
                case.rule, got.outcome, case.outcome, got.message
            ));
            continue;
        }
        for (name, want) in &case.metrics {
            match got.metrics.get(*name) {
                Some(v) if (v - want).abs() <= 1e-9 * want.abs().max(1.0) => {}
                other => failures.push(format!(
                    "{}\n    metric {name} = {other:?}, expected {want}",
                    case.rule
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
