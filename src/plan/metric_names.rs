//! The metric names each rule type reports, as AWS Glue's "Reported
//! metrics" name them: one table, beside the rule-type table, so a name
//! means one thing in every series. Placeholders: `{column}` (a column as
//! the rule names it), `{columns}` (several, comma-joined), `{alias}` (a
//! dataset alias). A composite's leaves that report different values under
//! one name number the later ones (`…#2`). The test suites check every
//! reported metric against this table.

use crate::dqdl::rule_types::RuleType;

const COLUMN_STATISTICS: &[&str] = &[
    "Column.{column}.Minimum",
    "Column.{column}.Maximum",
    "Column.{column}.Mean",
    "Column.{column}.StandardDeviation",
    "Column.{column}.Sum",
    "Column.{column}.Entropy",
    "Column.{column}.MinimumLength",
    "Column.{column}.MaximumLength",
];

/// The names `t` may report.
pub fn reported(t: RuleType) -> &'static [&'static str] {
    use RuleType::*;
    match t {
        RowCount => &["Dataset.*.RowCount"],
        RowCountMatch => &["Dataset.{alias}.RowCountMatch"],
        ColumnCount => &["Dataset.*.ColumnCount"],
        // Glue reports no metric for ColumnExists.
        ColumnExists => &[],
        ColumnNamesMatchPattern => &["Dataset.*.ColumnNamesPatternMatchRatio"],
        ColumnDataType => &["Column.{column}.ColumnDataType.Compliance"],
        ColumnLength => &[
            "Column.{column}.MinimumLength",
            "Column.{column}.MaximumLength",
            "Column.{column}.ColumnLength.Compliance",
        ],
        ColumnValues => &[
            "Column.{column}.ColumnValues.Compliance",
            "Column.{column}.Minimum",
            "Column.{column}.Maximum",
        ],
        ColumnCorrelation => &["Multicolumn.{columns}.ColumnCorrelation"],
        Completeness | IsComplete => &["Column.{column}.Completeness"],
        Uniqueness | IsUnique => &[
            "Column.{column}.Uniqueness",
            "Multicolumn.{columns}.Uniqueness",
        ],
        IsPrimaryKey => &[
            "Column.{column}.Uniqueness",
            "Multicolumn.{columns}.Uniqueness",
            "Column.{column}.Completeness",
        ],
        UniqueValueRatio => &["Column.{column}.UniqueValueRatio"],
        DistinctValuesCount => &["Column.{column}.DistinctValuesCount"],
        Entropy => &["Column.{column}.Entropy"],
        Mean => &["Column.{column}.Mean"],
        Sum => &["Column.{column}.Sum"],
        StandardDeviation => &["Column.{column}.StandardDeviation"],
        Variance => &["Column.{column}.Variance"],
        CustomSql => &["Dataset.*.CustomSQL", "Dataset.*.CustomSQL.Compliance"],
        DataFreshness => &["Column.{column}.DataFreshness.Compliance"],
        DatasetMatch => &["Dataset.{alias}.DatasetMatch"],
        ReferentialIntegrity => &["Column.{alias}.ReferentialIntegrity"],
        AggregateMatch => &[
            "Column.{column}.AggregateMatch",
            "Column.{columns}.AggregateMatch",
        ],
        SchemaMatch => &["Dataset.{alias}.SchemaMatch"],
        // The metrics of the rule it watches (any name below).
        DetectAnomalies => &[],
        FileFreshness => &["Dataset.*.FileFreshness.Compliance", "Dataset.*.FileCount"],
        FileMatch => &["Dataset.*.FileCount"],
        FileSize => &[
            "Dataset.*.FileSize.Compliance",
            "Dataset.*.FileCount",
            "Dataset.*.MaximumFileSize",
            "Dataset.*.MinimumFileSize",
        ],
        FileUniqueness => &["Dataset.*.FileUniquenessRatio", "Dataset.*.FileCount"],
        AllStatistics => COLUMN_STATISTICS,
    }
}

/// Whether `name` is one `t` reports (DetectAnomalies: one any watched
/// rule type reports; AllStatistics also the dataset's row and column
/// counts, completeness and uniqueness).
pub fn is_reported(t: RuleType, name: &str) -> bool {
    let name = strip_numbering(name);
    let own = reported(t).iter().any(|p| matches(p, name));
    own || match t {
        RuleType::DetectAnomalies => RuleType::ALL
            .into_iter()
            .filter(|t| *t != RuleType::DetectAnomalies)
            .any(|t| is_reported(t, name)),
        RuleType::AllStatistics => [
            RuleType::RowCount,
            RuleType::ColumnCount,
            RuleType::Completeness,
            RuleType::Uniqueness,
        ]
        .into_iter()
        .any(|t| is_reported(t, name)),
        _ => false,
    }
}

/// `name` without a composite's `#n` numbering.
fn strip_numbering(name: &str) -> &str {
    match name.rsplit_once('#') {
        Some((base, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => base,
        _ => name,
    }
}

/// Matches a name against a template; each placeholder stands for one or
/// more characters.
fn matches(template: &str, name: &str) -> bool {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        parts.push(&rest[..open]);
        match rest[open..].find('}') {
            Some(close) => rest = &rest[open + close + 1..],
            None => return template == name,
        }
    }
    parts.push(rest);
    let Some((first, tail)) = parts.split_first() else {
        return false;
    };
    let Some(mut remaining) = name.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = tail.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        // At least one character for the placeholder before `part`.
        match remaining
            .char_indices()
            .skip(1)
            .find(|(i, _)| remaining[*i..].starts_with(part))
        {
            Some((i, _)) => remaining = &remaining[i + part.len()..],
            None => return false,
        }
    }
    remaining.len() > last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_names_with_dots_in_columns() {
        assert!(matches(
            "Column.{column}.Completeness",
            "Column.Some.Date.Completeness"
        ));
        assert!(!matches(
            "Column.{column}.Completeness",
            "Column..Completeness"
        ));
        assert!(matches(
            "Multicolumn.{columns}.ColumnCorrelation",
            "Multicolumn.a,b.ColumnCorrelation"
        ));
        assert!(matches("Dataset.*.RowCount", "Dataset.*.RowCount"));
        assert!(!matches("Dataset.*.RowCount", "Dataset.*.RowCountMatch"));
        assert!(is_reported(RuleType::RowCount, "Dataset.*.RowCount#2"));
        assert!(is_reported(RuleType::DetectAnomalies, "Column.x.Mean"));
        assert!(!is_reported(RuleType::Mean, "Column.x.Sum"));
    }

    #[test]
    fn every_rule_type_has_an_entry() {
        for t in RuleType::ALL {
            let entries = reported(t);
            let silent = matches!(t, RuleType::ColumnExists | RuleType::DetectAnomalies);
            assert_eq!(entries.is_empty(), silent, "{}", t.name());
        }
    }
}
