//! The closed set of DQDL rule types and what each one accepts (SPEC §12).

use serde::Serialize;

/// What kind of condition a rule type takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionKind {
    /// A boolean rule: no condition allowed.
    None,
    /// A numeric condition on the rule's metric.
    Number,
    /// CustomSql: a numeric condition, or none for the row-level form.
    NumberOrNone,
    /// ColumnDataType: `=`, `!=` or `in` with type names.
    TypeName,
    /// ColumnValues: a string, number or date condition, per row.
    Value,
    /// DataFreshness: a duration condition.
    Duration,
    /// FileFreshness: a date condition.
    Date,
    /// FileSize: a size condition, or integer numbers read as bytes.
    Size,
    /// FileMatch: none with two paths, else a string `in [...]` condition.
    FileMatch,
    /// AllStatistics: analyzer only.
    AnalyzerOnly,
}

/// Every rule type of DQDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum RuleType {
    RowCount,
    RowCountMatch,
    ColumnCount,
    ColumnExists,
    ColumnNamesMatchPattern,
    ColumnDataType,
    ColumnLength,
    ColumnValues,
    ColumnCorrelation,
    Completeness,
    IsComplete,
    Uniqueness,
    IsUnique,
    IsPrimaryKey,
    UniqueValueRatio,
    DistinctValuesCount,
    Entropy,
    Mean,
    Sum,
    StandardDeviation,
    Variance,
    CustomSql,
    DataFreshness,
    DatasetMatch,
    ReferentialIntegrity,
    AggregateMatch,
    SchemaMatch,
    DetectAnomalies,
    FileFreshness,
    FileMatch,
    FileSize,
    FileUniqueness,
    AllStatistics,
}

/// What a rule type accepts.
#[derive(Debug, Clone, Copy)]
pub struct RuleSpec {
    /// The name as written in DQDL.
    pub name: &'static str,
    /// Fewest parameters.
    pub min_params: usize,
    /// Most parameters (`usize::MAX` for variadic rules).
    pub max_params: usize,
    /// What the parameters are, for messages ("a column", "two columns").
    pub params_hint: &'static str,
    /// The condition kind.
    pub condition: ConditionKind,
    /// Whether `where "..."` is allowed.
    pub allows_where: bool,
    /// Whether `with threshold` is allowed.
    pub allows_threshold: bool,
}

const VARIADIC: usize = usize::MAX;

macro_rules! spec {
    ($name:literal, $min:expr, $max:expr, $hint:literal, $cond:ident, $where:expr, $thr:expr) => {
        RuleSpec {
            name: $name,
            min_params: $min,
            max_params: $max,
            params_hint: $hint,
            condition: ConditionKind::$cond,
            allows_where: $where,
            allows_threshold: $thr,
        }
    };
}

impl RuleType {
    /// Every rule type, in the order of SPEC §12.
    pub const ALL: [RuleType; 33] = [
        RuleType::RowCount,
        RuleType::RowCountMatch,
        RuleType::ColumnCount,
        RuleType::ColumnExists,
        RuleType::ColumnNamesMatchPattern,
        RuleType::ColumnDataType,
        RuleType::ColumnLength,
        RuleType::ColumnValues,
        RuleType::ColumnCorrelation,
        RuleType::Completeness,
        RuleType::IsComplete,
        RuleType::Uniqueness,
        RuleType::IsUnique,
        RuleType::IsPrimaryKey,
        RuleType::UniqueValueRatio,
        RuleType::DistinctValuesCount,
        RuleType::Entropy,
        RuleType::Mean,
        RuleType::Sum,
        RuleType::StandardDeviation,
        RuleType::Variance,
        RuleType::CustomSql,
        RuleType::DataFreshness,
        RuleType::DatasetMatch,
        RuleType::ReferentialIntegrity,
        RuleType::AggregateMatch,
        RuleType::SchemaMatch,
        RuleType::DetectAnomalies,
        RuleType::FileFreshness,
        RuleType::FileMatch,
        RuleType::FileSize,
        RuleType::FileUniqueness,
        RuleType::AllStatistics,
    ];

    /// What this rule type accepts.
    pub fn spec(self) -> RuleSpec {
        use RuleType::*;
        match self {
            RowCount => spec!("RowCount", 0, 0, "no parameters", Number, true, false),
            RowCountMatch => spec!(
                "RowCountMatch",
                1,
                1,
                "a dataset alias",
                Number,
                false,
                false
            ),
            ColumnCount => spec!("ColumnCount", 0, 0, "no parameters", Number, false, false),
            ColumnExists => spec!("ColumnExists", 1, 1, "a column", None, false, false),
            ColumnNamesMatchPattern => spec!(
                "ColumnNamesMatchPattern",
                1,
                1,
                "a pattern",
                None,
                false,
                false
            ),
            ColumnDataType => spec!("ColumnDataType", 1, 1, "a column", TypeName, true, true),
            ColumnLength => spec!("ColumnLength", 1, 1, "a column", Number, true, false),
            ColumnValues => spec!("ColumnValues", 1, 1, "a column", Value, true, true),
            ColumnCorrelation => spec!(
                "ColumnCorrelation",
                2,
                2,
                "two columns",
                Number,
                true,
                false
            ),
            Completeness => spec!("Completeness", 1, 1, "a column", Number, true, false),
            IsComplete => spec!("IsComplete", 1, 1, "a column", None, true, false),
            Uniqueness => spec!(
                "Uniqueness",
                1,
                VARIADIC,
                "one or more columns",
                Number,
                true,
                false
            ),
            IsUnique => spec!(
                "IsUnique",
                1,
                VARIADIC,
                "one or more columns",
                None,
                true,
                false
            ),
            IsPrimaryKey => spec!(
                "IsPrimaryKey",
                1,
                VARIADIC,
                "one or more columns",
                None,
                true,
                false
            ),
            UniqueValueRatio => spec!("UniqueValueRatio", 1, 1, "a column", Number, true, false),
            DistinctValuesCount => {
                spec!("DistinctValuesCount", 1, 1, "a column", Number, true, false)
            }
            Entropy => spec!("Entropy", 1, 1, "a column", Number, true, false),
            Mean => spec!("Mean", 1, 1, "a column", Number, true, false),
            Sum => spec!("Sum", 1, 1, "a column", Number, true, false),
            StandardDeviation => spec!("StandardDeviation", 1, 1, "a column", Number, true, false),
            Variance => spec!("Variance", 1, 1, "a column", Number, true, false),
            CustomSql => spec!("CustomSql", 1, 1, "an SQL query", NumberOrNone, false, true),
            DataFreshness => spec!("DataFreshness", 1, 1, "a column", Duration, true, false),
            DatasetMatch => spec!(
                "DatasetMatch",
                2,
                3,
                "a dataset alias, key mappings and optional column mappings",
                Number,
                false,
                false
            ),
            ReferentialIntegrity => spec!(
                "ReferentialIntegrity",
                2,
                2,
                "primary columns and `alias.{columns}`",
                Number,
                false,
                false
            ),
            AggregateMatch => spec!(
                "AggregateMatch",
                2,
                2,
                "two aggregate expressions",
                Number,
                false,
                false
            ),
            SchemaMatch => spec!("SchemaMatch", 1, 1, "a dataset alias", Number, false, false),
            DetectAnomalies => spec!(
                "DetectAnomalies",
                1,
                VARIADIC,
                "a metric rule name and its parameters",
                None,
                false,
                false
            ),
            FileFreshness => spec!("FileFreshness", 0, 1, "an optional path", Date, false, true),
            FileMatch => spec!(
                "FileMatch",
                0,
                2,
                "up to two paths",
                FileMatch,
                false,
                false
            ),
            FileSize => spec!("FileSize", 0, 1, "an optional path", Size, false, true),
            FileUniqueness => spec!(
                "FileUniqueness",
                0,
                1,
                "an optional path",
                Number,
                false,
                false
            ),
            AllStatistics => spec!(
                "AllStatistics",
                1,
                1,
                "a column",
                AnalyzerOnly,
                false,
                false
            ),
        }
    }

    /// The name as written in DQDL.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Looks a rule type up by its exact (case-sensitive) name.
    pub fn from_name(name: &str) -> Option<RuleType> {
        RuleType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// True for rules that assert without a condition (IsComplete, ...).
    pub fn is_boolean(self) -> bool {
        matches!(self.spec().condition, ConditionKind::None)
    }

    /// The closest known rule type name, for "did you mean" hints.
    pub fn closest(name: &str) -> Option<RuleType> {
        let lower = name.to_ascii_lowercase();
        RuleType::ALL
            .into_iter()
            .map(|t| (edit_distance(&lower, &t.name().to_ascii_lowercase()), t))
            .filter(|(d, t)| *d <= 3.max(t.name().len() / 4))
            .min_by_key(|(d, _)| *d)
            .map(|(_, t)| t)
    }
}

impl std::fmt::Display for RuleType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Levenshtein distance between two strings, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in RuleType::ALL {
            assert_eq!(RuleType::from_name(t.name()), Some(t));
        }
    }

    #[test]
    fn suggests_near_misses() {
        assert_eq!(
            RuleType::closest("Completness"),
            Some(RuleType::Completeness)
        );
        assert_eq!(RuleType::closest("rowcount"), Some(RuleType::RowCount));
        assert_eq!(RuleType::closest("Xyzzy"), None);
    }
}
