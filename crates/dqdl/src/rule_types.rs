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

/// Whether a rule type may stand under `Analyzers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalyzerUse {
    /// No: it asserts without a metric.
    No,
    /// Yes: it reports its metrics there without judging them.
    Yes,
    /// Only there (AllStatistics).
    Only,
    /// Yes, unless given two paths (FileMatch comparing two locations).
    UnlessTwoPaths,
}

/// What a rule type accepts, and what an editor may say about it.
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
    /// The `with name = value` tags evaluation reads (besides `threshold`).
    /// Validation accepts any tag; DetectAnomalies rejects others when run.
    pub tags: &'static [&'static str],
    /// Whether it may stand under `Analyzers`.
    pub analyzer: AnalyzerUse,
    /// One line on what it checks.
    pub description: &'static str,
    /// A valid rule (for AllStatistics, analyzer) using it.
    pub example: &'static str,
}

const VARIADIC: usize = usize::MAX;

/// The file selection tags every File* rule reads.
const FILE_TAGS: &[&str] = &["uriRegex", "recentFiles"];

/// Generates [`RuleType`], [`RuleType::ALL`] and [`RuleType::spec`] from one
/// table: a rule type is one row here (plus its planning and test rows).
macro_rules! rule_types {
    ($(
        $name:ident {
            params: $min:literal ..= $max:expr, $hint:literal,
            condition: $cond:ident,
            where_clause: $where:literal,
            threshold: $thr:literal,
            tags: $tags:expr,
            analyzer: $analyzer:ident,
            description: $description:literal,
            example: $example:literal $(,)?
        }
    ),+ $(,)?) => {
        /// Every rule type of DQDL.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
        pub enum RuleType {
            $(
                #[doc = $description]
                $name,
            )+
        }

        impl RuleType {
            /// Every rule type, in the order of SPEC §12.
            pub const ALL: [RuleType; [$(RuleType::$name),+].len()] = [$(RuleType::$name),+];

            /// What this rule type accepts.
            pub fn spec(self) -> RuleSpec {
                match self {
                    $(RuleType::$name => RuleSpec {
                        name: stringify!($name),
                        min_params: $min,
                        max_params: $max,
                        params_hint: $hint,
                        condition: ConditionKind::$cond,
                        allows_where: $where,
                        allows_threshold: $thr,
                        tags: $tags,
                        analyzer: AnalyzerUse::$analyzer,
                        description: $description,
                        example: $example,
                    },)+
                }
            }
        }
    };
}

rule_types! {
    RowCount {
        params: 0..=0, "no parameters",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "The number of rows (those matching `where`, when given).",
        example: "RowCount between 1000 and 50000",
    },
    RowCountMatch {
        params: 1..=1, "a dataset alias",
        condition: Number, where_clause: false, threshold: false, tags: &[], analyzer: Yes,
        description: "The primary dataset's row count divided by the row count of another dataset.",
        example: "RowCountMatch \"reference\" >= 0.9",
    },
    ColumnCount {
        params: 0..=0, "no parameters",
        condition: Number, where_clause: false, threshold: false, tags: &[], analyzer: Yes,
        description: "The number of columns of the primary dataset.",
        example: "ColumnCount = 12",
    },
    ColumnExists {
        params: 1..=1, "a column",
        condition: None, where_clause: false, threshold: false, tags: &[], analyzer: No,
        description: "Passes when the column exists.",
        example: "ColumnExists \"order_id\"",
    },
    ColumnNamesMatchPattern {
        params: 1..=1, "a pattern",
        condition: None, where_clause: false, threshold: false, tags: &[], analyzer: No,
        description: "Passes when every column name contains a match of the regular expression.",
        example: "ColumnNamesMatchPattern \"^[a-z_]+$\"",
    },
    ColumnDataType {
        params: 1..=1, "a column",
        condition: TypeName, where_clause: true, threshold: true, tags: &["format"], analyzer: Yes,
        description: "Every value (or the `with threshold` share) casts to the type named (a DATE `with format` pattern such as \"dd-MM-yyyy\"); NULL never does.",
        example: "ColumnDataType \"amount\" = \"Double\" with threshold > 0.95",
    },
    ColumnLength {
        params: 1..=1, "a column",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "Every value's length in characters meets the condition; NULL has length 0.",
        example: "ColumnLength \"user_id\" = 36",
    },
    ColumnValues {
        params: 1..=1, "a column",
        condition: Value, where_clause: true, threshold: true, tags: &["ignoreCase", "timeZone"], analyzer: Yes,
        description: "Every value (or the `with threshold` share) meets a number, string, pattern or date condition (`with ignoreCase = \"true\"` compares strings in any case).",
        example: "ColumnValues \"status\" in [\"new\", \"paid\", \"shipped\"]",
    },
    ColumnCorrelation {
        params: 2..=2, "two columns",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "The Pearson correlation of two numeric columns.",
        example: "ColumnCorrelation \"height\" \"weight\" > 0.5",
    },
    Completeness {
        params: 1..=1, "a column",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "The share of rows whose value is not NULL.",
        example: "Completeness \"email\" >= 0.95",
    },
    IsComplete {
        params: 1..=1, "a column",
        condition: None, where_clause: true, threshold: false, tags: &[], analyzer: No,
        description: "Passes when no value is NULL.",
        example: "IsComplete \"order_id\"",
    },
    Uniqueness {
        params: 1..=VARIADIC, "one or more columns",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "The share of non-NULL rows whose value (or combination of values) occurs exactly once.",
        example: "Uniqueness \"email\" > 0.99",
    },
    IsUnique {
        params: 1..=VARIADIC, "one or more columns",
        condition: None, where_clause: true, threshold: false, tags: &[], analyzer: No,
        description: "Passes when every non-NULL value (or combination of values) occurs once.",
        example: "IsUnique \"order_id\"",
    },
    IsPrimaryKey {
        params: 1..=VARIADIC, "one or more columns",
        condition: None, where_clause: true, threshold: false, tags: &[], analyzer: No,
        description: "Passes when the columns are complete and their combination is unique.",
        example: "IsPrimaryKey \"order_id\" \"line\"",
    },
    UniqueValueRatio {
        params: 1..=1, "a column",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "Values that occur exactly once divided by distinct non-NULL values.",
        example: "UniqueValueRatio \"customer_id\" > 0.5",
    },
    DistinctValuesCount {
        params: 1..=1, "a column",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "The number of distinct values, NULL counted as one.",
        example: "DistinctValuesCount \"country\" between 5 and 250",
    },
    Entropy {
        params: 1..=1, "a column",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "The Shannon entropy (natural log) of the column's non-NULL values.",
        example: "Entropy \"category\" > 1",
    },
    Mean {
        params: 1..=1, "a column",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "The mean of a numeric column.",
        example: "Mean \"price\" between 10 and 100",
    },
    Sum {
        params: 1..=1, "a column",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "The sum of a numeric column.",
        example: "Sum \"amount\" > 0",
    },
    StandardDeviation {
        params: 1..=1, "a column",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "The population standard deviation of a numeric column.",
        example: "StandardDeviation \"price\" < 50",
    },
    Variance {
        params: 1..=1, "a column",
        condition: Number, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "The population variance of a numeric column.",
        example: "Variance \"price\" < 2500",
    },
    CustomSql {
        params: 1..=1, "an SQL query",
        condition: NumberOrNone, where_clause: false, threshold: true, tags: &[], analyzer: Yes,
        description: "A read-only SQL query: its one value meets the condition, or without one, it returns every primary row (or the `with threshold` share).",
        example: "CustomSql \"SELECT COUNT(*) FROM primary WHERE amount < 0\" = 0",
    },
    DataFreshness {
        params: 1..=1, "a column",
        condition: Duration, where_clause: true, threshold: false, tags: &[], analyzer: Yes,
        description: "Every value of a date or timestamp column meets an age condition such as `<= 24 hours`.",
        example: "DataFreshness \"updated_at\" <= 24 hours",
    },
    DatasetMatch {
        params: 2..=3, "a dataset alias, key mappings and optional column mappings",
        condition: Number, where_clause: false, threshold: false, tags: &[], analyzer: Yes,
        description: "The share of primary rows that join another dataset on the keys with equal mapped columns.",
        example: "DatasetMatch \"reference\" \"id->ref_id\" \"amount\" >= 0.99",
    },
    ReferentialIntegrity {
        params: 2..=2, "primary columns and `alias.{columns}`",
        condition: Number, where_clause: false, threshold: false, tags: &[], analyzer: Yes,
        description: "The share of primary rows whose values exist in the referenced dataset's columns.",
        example: "ReferentialIntegrity \"user_id\" \"users.user_id\" = 1",
    },
    AggregateMatch {
        params: 2..=2, "two aggregate expressions",
        condition: Number, where_clause: false, threshold: false, tags: &[], analyzer: Yes,
        description: "The first aggregate (`sum(col)`, `avg(alias.col)`, ...) divided by the second.",
        example: "AggregateMatch \"sum(amount)\" \"sum(reference.amount)\" > 0.99",
    },
    SchemaMatch {
        params: 1..=1, "a dataset alias",
        condition: Number, where_clause: false, threshold: false, tags: &[], analyzer: Yes,
        description: "The share of columns present with the same type in another dataset; 0 when the column counts differ.",
        example: "SchemaMatch \"reference\" = 1",
    },
    DetectAnomalies {
        params: 1..=VARIADIC, "a metric rule name and its parameters",
        condition: None, where_clause: false, threshold: false,
        tags: &["sensitivity", "minHistory", "window", "seasonality"], analyzer: No,
        description: "Fails when a metric of the named rule leaves the band its history predicts (needs a results store).",
        example: "DetectAnomalies \"RowCount\"",
    },
    FileFreshness {
        params: 0..=1, "an optional path",
        condition: Date, where_clause: false, threshold: true, tags: &["uriRegex", "recentFiles", "timeZone"], analyzer: Yes,
        description: "Every file's modification time (or the `with threshold` share) meets the date condition.",
        example: "FileFreshness \"s3://bucket/landing/\" > (now() - 1 days)",
    },
    FileMatch {
        params: 0..=2, "up to two paths",
        condition: FileMatch, where_clause: false, threshold: false,
        tags: &["uriRegex", "recentFiles", "hashAlgorithm", "matchFileName"], analyzer: UnlessTwoPaths,
        description: "Two paths hold files of the same contents (matched by checksum), or every file's checksum is in the list.",
        example: "FileMatch \"s3://bucket/in/\" \"s3://bucket/out/\"",
    },
    FileSize {
        params: 0..=1, "an optional path",
        condition: Size, where_clause: false, threshold: true, tags: FILE_TAGS, analyzer: Yes,
        description: "Every file (or the `with threshold` share) meets the size condition.",
        example: "FileSize \"s3://bucket/landing/\" < 5 GB",
    },
    FileUniqueness {
        params: 0..=1, "an optional path",
        condition: Number, where_clause: false, threshold: false, tags: FILE_TAGS, analyzer: Yes,
        description: "The share of files whose content no other file has.",
        example: "FileUniqueness \"s3://bucket/landing/\" = 1",
    },
    AllStatistics {
        params: 1..=1, "a column",
        condition: AnalyzerOnly, where_clause: false, threshold: false, tags: &[], analyzer: Only,
        description: "Analyzer only: row and column counts and the statistics of a column, or of `AllColumns`.",
        example: "AllStatistics \"price\"",
    },
}

impl RuleType {
    /// The name as written in DQDL.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Looks a rule type up by its exact (case-sensitive) name.
    pub fn from_name(name: &str) -> Option<RuleType> {
        RuleType::ALL.into_iter().find(|t| t.name() == name)
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

    /// The rule type names the grammar lists for its `and` lookahead
    /// (`known_rule_type`), in order.
    fn grammar_names() -> Vec<&'static str> {
        let grammar = include_str!("../../../grammar/dqdl.pest");
        let start = grammar
            .find("known_rule_type = @{")
            .expect("the grammar defines known_rule_type");
        let block = &grammar[start..];
        let block = &block[..block.find('}').expect("the rule ends")];
        block.split('"').skip(1).step_by(2).collect()
    }

    #[test]
    fn the_grammar_lists_exactly_the_table() {
        let listed = grammar_names();
        for t in RuleType::ALL {
            assert!(
                listed.contains(&t.name()),
                "{t} is in the table but not in grammar/dqdl.pest's known_rule_type"
            );
        }
        for name in &listed {
            assert!(
                RuleType::from_name(name).is_some(),
                "{name} is in grammar/dqdl.pest's known_rule_type but not in the table"
            );
        }
        assert_eq!(listed.len(), RuleType::ALL.len(), "a name is listed twice");
    }

    #[test]
    fn the_grammar_lists_longer_names_before_their_prefixes() {
        // PEG choice takes the first alternative that matches: `RowCount`
        // before `RowCountMatch` would stop `and RowCountMatch` from
        // starting a composite.
        let listed = grammar_names();
        for (i, name) in listed.iter().enumerate() {
            for later in &listed[i + 1..] {
                assert!(
                    !later.starts_with(name),
                    "{later} must come before {name} in known_rule_type"
                );
            }
        }
    }

    #[test]
    fn every_example_is_a_valid_rule_of_its_type() {
        for t in RuleType::ALL {
            let spec = t.spec();
            assert!(
                !spec.description.is_empty() && !spec.description.contains('\n'),
                "{t}: one-line description"
            );
            let section = if spec.analyzer == AnalyzerUse::Only {
                "Analyzers"
            } else {
                "Rules"
            };
            let source = format!("{section} = [ {} ]", spec.example);
            let ruleset = crate::parse(&source)
                .unwrap_or_else(|e| panic!("{t}: {}", e.render("example", &source)));
            let parsed = match section {
                "Rules" => ruleset
                    .rules
                    .iter()
                    .flatten()
                    .flat_map(|r| r.expr.leaves())
                    .map(|r| r.rule_type)
                    .collect::<Vec<_>>(),
                _ => ruleset
                    .analyzers
                    .iter()
                    .flatten()
                    .map(|a| a.rule_type)
                    .collect(),
            };
            assert_eq!(parsed, vec![t], "{t}: {}", spec.example);
        }
    }

    #[test]
    fn analyzer_use_agrees_with_the_condition_kind() {
        for t in RuleType::ALL {
            let spec = t.spec();
            assert_eq!(
                spec.analyzer == AnalyzerUse::No,
                spec.condition == ConditionKind::None,
                "{t}: rules without a metric cannot be analyzers"
            );
            assert_eq!(
                spec.analyzer == AnalyzerUse::Only,
                spec.condition == ConditionKind::AnalyzerOnly,
                "{t}"
            );
        }
    }

    #[test]
    fn tags_are_listed_once_and_never_threshold() {
        for t in RuleType::ALL {
            let tags = t.spec().tags;
            for (i, tag) in tags.iter().enumerate() {
                assert!(!tag.eq_ignore_ascii_case("threshold"), "{t}");
                assert!(!tags[i + 1..].contains(tag), "{t}: {tag} twice");
            }
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
