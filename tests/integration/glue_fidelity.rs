//! Behaviour a user migrating from AWS Glue Data Quality would notice:
//! identifiers resolved as Spark resolves them, Glue's metric names and the
//! outcomes its documentation describes. Each case is hand-worked over a
//! five-row CSV whose column names mix case the way real exports do.

use dqgate::check::{CheckRequest, prepare, run};
use dqgate::plan::Outcome::{self, Error as E, Failed as F, Passed as P};
use dqgate::report::Report;
use dqgate::source::DatasetSpec;

use super::fixtures;

/// | ID | Name | Some.Date  | amount | dmy        |
/// |----|------|------------|--------|------------|
/// | 1  | ann  | 2024-01-01 | 10     | 01-02-2024 |
/// | 2  | bob  | NULL       | 20     | 31-02-2024 |
/// | 3  | NULL | 2024-03-01 | 30     | 5-3-2024   |
/// | 4  | dee  | 2024-04-01 | NULL   | NULL       |
/// | 5  | eve  | 2024-05-01 | 50     | 15-12-2023 |
const DATA: &str = "ID,Name,Some.Date,amount,dmy\n1,ann,2024-01-01,10,01-02-2024\n2,bob,,20,31-02-2024\n3,,2024-03-01,30,5-3-2024\n4,dee,2024-04-01,,\n5,eve,2024-05-01,50,15-12-2023\n";

fn request(dir: &std::path::Path, rules: &[&str]) -> CheckRequest {
    let path = dir.join("data.csv");
    std::fs::write(&path, DATA).expect("write");
    let reference = dir.join("reference.csv");
    std::fs::write(&reference, "id,label\n1,a\n2,b\n3,c\n").expect("write");
    CheckRequest {
        ruleset_name: "glue".into(),
        ruleset_text: format!("Rules = [\n    {}\n]\n", rules.join(",\n    ")),
        datasets: vec![
            DatasetSpec {
                alias: "primary".into(),
                location: path.display().to_string(),
                ..Default::default()
            },
            DatasetSpec {
                alias: "reference".into(),
                location: reference.display().to_string(),
                ..Default::default()
            },
        ],
        now: Some(fixtures::now()),
        memory_limit: None,
        engine: Default::default(),
    }
}

async fn report(rules: &[&str]) -> Report {
    let dir = tempfile::tempdir().expect("tempdir");
    run(request(dir.path(), rules)).await.expect("check runs")
}

/// A rule, its expected outcome and expected metric values.
type Case<'a> = (&'a str, Outcome, &'a [(&'a str, f64)]);

/// Runs every case in one ruleset and lists all that differ.
async fn expect(cases: &[Case<'_>]) {
    let rules: Vec<&str> = cases.iter().map(|(r, ..)| *r).collect();
    let report = report(&rules).await;
    let mut failures = Vec::new();
    for ((rule, outcome, metrics), got) in cases.iter().zip(&report.rules) {
        failures.extend(super::semantics::unlisted_metrics(rule, got.metrics.keys()));
        if got.outcome != *outcome {
            failures.push(format!(
                "{rule}\n    outcome {:?}, expected {outcome:?}: {}",
                got.outcome, got.message
            ));
        }
        for (name, want) in *metrics {
            match got.metrics.get(*name) {
                Some(v) if (v - want).abs() <= 1e-9 => {}
                other => failures.push(format!("{rule}\n    {name} = {other:?}, expected {want}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn identifiers_in_where_and_custom_sql_ignore_case_as_in_spark() {
    expect(&[
        // `where` resolves unquoted names whatever their case.
        (
            "IsComplete \"Name\" where \"ID > 3\"",
            P,
            &[("Column.Name.Completeness", 1.0)],
        ),
        (
            "Completeness \"Name\" > 0.5 where \"id > 2 and NAME is not null\"",
            P,
            &[("Column.Name.Completeness", 1.0)],
        ),
        ("RowCount = 2 where \"Amount >= 30\"", P, &[]),
        // Double-quoted names stay exact.
        ("RowCount = 2 where \"\\\"id\\\" > 3\"", E, &[]),
        // Backquoted Spark names reach columns with dots.
        (
            "RowCount = 1 where \"`Some.Date` IS NULL\"",
            P,
            &[("Dataset.*.RowCount", 1.0)],
        ),
        // CustomSql over primary and an alias.
        (
            "CustomSql \"SELECT count(*) FROM primary WHERE id >= 4\" = 2",
            P,
            &[("Dataset.*.CustomSQL", 2.0)],
        ),
        (
            "CustomSql \"select count(*) from primary p join reference r on p.ID = r.ID\" = 3",
            P,
            &[],
        ),
        (
            "CustomSql \"SELECT Id FROM primary WHERE amount > 15\" with threshold >= 0.6",
            P,
            &[("Dataset.*.CustomSQL.Compliance", 0.6)],
        ),
    ])
    .await;
}

#[tokio::test]
async fn metric_names_and_outcomes_follow_glue() {
    expect(&[
        // ReferentialIntegrity is reported under the reference alias.
        (
            "ReferentialIntegrity \"ID\" \"reference.id\" >= 0.6",
            P,
            &[("Column.reference.ReferentialIntegrity", 0.6)],
        ),
        // DatasetMatch with nothing to compare besides the key cannot pass.
        ("DatasetMatch \"reference\" \"ID->id\" >= 0", F, &[]),
        // With a mapping it compares what it is told to.
        (
            "DatasetMatch \"reference\" \"ID->id\" \"ID->id\" = 0.6",
            P,
            &[("Dataset.reference.DatasetMatch", 0.6)],
        ),
    ])
    .await;
}

#[tokio::test]
async fn tags_that_change_meaning_are_honoured() {
    let dt = "Column.dmy.ColumnDataType.Compliance";
    expect(&[
        // Spark date patterns: 31-02 is no date, 5-3 is not two digits.
        (
            "ColumnDataType \"dmy\" = \"DATE\" with format = \"dd-MM-yyyy\"",
            F,
            &[(dt, 0.4)],
        ),
        (
            "ColumnDataType \"dmy\" = \"DATE\" with format = \"d-M-yyyy\" with threshold >= 0.6",
            P,
            &[(dt, 0.6)],
        ),
        (
            "ColumnDataType \"Some.Date\" = \"DATE\" with format = \"yyyy-MM-dd\" with threshold = 0.8",
            P,
            &[("Column.Some.Date.ColumnDataType.Compliance", 0.8)],
        ),
        (
            "ColumnDataType \"Some.Date\" = \"DATE\" with format = \"MM/yyyy\"",
            F,
            &[("Column.Some.Date.ColumnDataType.Compliance", 0.0)],
        ),
        // ignoreCase compares strings in any case; NULL still fails.
        (
            "ColumnValues \"Name\" in [\"ANN\", \"BOB\", \"DEE\", \"EVE\"] with ignoreCase = \"true\" with threshold = 0.8",
            P,
            &[("Column.Name.ColumnValues.Compliance", 0.8)],
        ),
        (
            "ColumnValues \"Name\" in [\"ANN\", \"BOB\"]",
            F,
            &[("Column.Name.ColumnValues.Compliance", 0.0)],
        ),
        (
            "ColumnValues \"Name\" matches \"[A-E][A-Z]+\" with ignoreCase = \"true\" with threshold = 0.8",
            P,
            &[("Column.Name.ColumnValues.Compliance", 0.8)],
        ),
        (
            "ColumnValues \"Name\" matches \"[A-E][A-Z]+\"",
            F,
            &[("Column.Name.ColumnValues.Compliance", 0.0)],
        ),
    ])
    .await;
}

/// `--failed-rows` for every rule type with row-level results, pinned in
/// tests/golden/failed_rows/glue.txt (UPDATE_GOLDEN=1 rewrites it): each
/// failing row with the rules it failed, passed and skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_level_results_cover_every_row_level_rule_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = [
        "IsComplete \"Name\"",
        "Completeness \"amount\" > 0.5 where \"ID > 1\"",
        "IsUnique \"Name\"",
        "Uniqueness \"label\" > 0",
        "IsPrimaryKey \"Some.Date\"",
        "ColumnValues \"amount\" <= 30",
        "ColumnLength \"Name\" = 3",
        "ColumnDataType \"dmy\" = \"DATE\" with format = \"dd-MM-yyyy\"",
        "CustomSql \"SELECT ID FROM primary WHERE amount >= 20\"",
        "RowCount > 0",
    ];
    // `label` is not a column of primary: that rule errors and is not
    // listed; the rest are.
    let prepared = prepare(request(dir.path(), &rules)).await.expect("plans");
    let out = dir.path().join("failed.parquet");
    let considered = prepared
        .write_failed_rows(out.to_str().expect("utf-8 path"))
        .await
        .expect("failed rows written");
    let (rows, text) = super::fixtures::query_parquet(&out, "SELECT \"ID\", array_to_string(\"DataQualityRulesFail\", ' | ') AS failed, array_to_string(\"DataQualityRulesSkip\", ' | ') AS skipped, \"DataQualityEvaluationResult\" AS result FROM f ORDER BY \"ID\"").await;
    assert!(rows > 0, "{text}");
    let actual = format!("row-level rules considered: {considered}\n{text}\n");
    let golden =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/failed_rows/glue.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().expect("folder")).expect("mkdir");
        std::fs::write(&golden, &actual).expect("write golden");
    }
    let expected =
        std::fs::read_to_string(&golden).expect("golden exists (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(actual, expected);
}

/// Glue's composite example: myCol1 = [2, 0], myCol2 = [1, 3]. In COLUMN
/// mode (the default) each side fails over the whole dataset, so the `or`
/// fails; in ROW mode every row passes one side, so it passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composites_in_row_mode_combine_row_by_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cols.csv");
    std::fs::write(&path, "myCol1,myCol2,colA\n2,1,\n0,3,abcdefg\n").expect("write");
    let composite = "(ColumnValues \"myCol1\" > 1) or (ColumnValues \"myCol2\" > 2)";
    let check = |metadata: &'static str, mode: Option<&'static str>| {
        let path = path.display().to_string();
        async move {
            let options = dqgate::source::SourceOptions {
                composite_mode: mode
                    .map(|m| dqgate::dqdl::ast::CompositeMode::parse(m).expect("mode")),
                ..Default::default()
            };
            run(CheckRequest {
                ruleset_name: "row".into(),
                ruleset_text: format!(
                    "{metadata}Rules = [\n    {composite},\n    (ColumnValues \"colA\" = NULL) or (ColumnLength \"colA\" > 5),\n    (Completeness \"colA\" > 0.1) and (RowCount = 2)\n]\n"
                ),
                datasets: vec![DatasetSpec {
                    alias: "primary".into(),
                    location: path,
                    options,
                    ..Default::default()
                }],
                now: Some(fixtures::now()),
                memory_limit: None,
                engine: Default::default(),
            })
            .await
            .expect("check runs")
        }
    };
    let outcomes = |r: &Report| r.rules.iter().map(|r| r.outcome).collect::<Vec<_>>();
    let column = check("", None).await;
    assert_eq!(outcomes(&column), [F, F, P], "{:#?}", column.rules);
    let row_meta = "Metadata = { \"compositeRuleEvaluation.method\": \"ROW\" }\n";
    let row = check(row_meta, None).await;
    // Completeness is a ratio with no per-row meaning: Glue does not
    // support it in ROW mode, and neither does dqgate.
    assert_eq!(outcomes(&row), [P, P, E], "{:#?}", row.rules);
    assert!(
        row.rules[2].message.contains("Completeness"),
        "{}",
        row.rules[2].message
    );
    // The dataset option overrides the ruleset's Metadata.
    let overridden = check(row_meta, Some("column")).await;
    assert_eq!(outcomes(&overridden), [F, F, P]);
    let by_option = check("", Some("row")).await;
    assert_eq!(outcomes(&by_option), [P, P, E]);
}

#[test]
fn metadata_takes_only_row_or_column_composites() {
    let ok = dqgate::dqdl::parse(
        "Metadata = { \"Version\": \"1.0\", \"compositeRuleEvaluation.method\": \"row\" }\nRules = [ RowCount > 0 ]",
    )
    .expect("valid");
    assert_eq!(
        ok.composite_mode(),
        Some(dqgate::dqdl::ast::CompositeMode::Row)
    );
    let bad = dqgate::dqdl::parse(
        "Metadata = { \"compositeRuleEvaluation.method\": \"CELL\" }\nRules = [ RowCount > 0 ]",
    )
    .expect_err("invalid");
    assert!(bad.to_string().contains("\"ROW\" or \"COLUMN\""), "{bad}");
}

/// In ROW mode a failing row is listed under the composite, not its sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_rows_of_a_row_mode_composite_name_the_composite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = [
        "(ColumnValues \"amount\" >= 30) or (ColumnValues \"Name\" in [\"ann\", \"dee\"])",
        "IsComplete \"Name\"",
    ];
    let mut req = request(dir.path(), &rules);
    req.ruleset_text = format!(
        "Metadata = {{ \"compositeRuleEvaluation.method\": \"ROW\" }}\n{}",
        req.ruleset_text
    );
    let prepared = prepare(req).await.expect("plans");
    let out = dir.path().join("failed.parquet");
    let considered = prepared
        .write_failed_rows(out.to_str().expect("utf-8 path"))
        .await
        .expect("failed rows written");
    assert_eq!(considered, 2, "the composite and IsComplete");
    let (rows, text) = super::fixtures::query_parquet(&out, "SELECT \"ID\", array_to_string(\"DataQualityRulesFail\", ' | ') AS failed FROM f ORDER BY \"ID\"").await;
    // Row 1 (ann, 10) and row 4 (dee, NULL) pass the `in` side, rows 3
    // (NULL, 30) and 5 (eve, 50) the amount side; row 2 (bob, 20) passes
    // neither. Row 3 also fails IsComplete.
    let composite = rules[0];
    assert!(text.contains(&format!("| 2  | {composite}")), "{text}");
    assert!(text.contains("| 3  | IsComplete \"Name\""), "{text}");
    assert_eq!(rows, 2, "{text}");
}

/// `timeZone` reads a time of day in that zone; an unknown zone is a
/// validation error at its position.
#[tokio::test]
async fn time_literals_follow_the_time_zone_tag() {
    let err = dqgate::dqdl::parse(
        "Rules = [ ColumnValues \"Some.Date\" > \"9:30 AM\" with timeZone = \"Mars/Olympus\" ]",
    )
    .expect_err("unknown zone");
    assert!(err.to_string().contains("unknown time zone"), "{err}");
    // The fixtures' clock is 2026-11-26 12:00 UTC; 9:30 AM in New York is
    // 14:30 UTC, later than every date in the data, so `<` holds for all
    // non-NULL values and `>` for none.
    expect(&[
        (
            "ColumnValues \"Some.Date\" < \"9:30 AM\" with timeZone = \"America/New_York\" with threshold = 0.8",
            P,
            &[],
        ),
        (
            "ColumnValues \"Some.Date\" > \"9:30 AM\" with timeZone = \"America/New_York\"",
            F,
            &[("Column.Some.Date.ColumnValues.Compliance", 0.0)],
        ),
    ])
    .await;
}

/// Every rule example printed on AWS Glue's DQDL pages
/// (tests/golden/glue_docs/examples.dqdl, one per line, grouped by page),
/// parsed and validated alone; tests/golden/glue_docs/examples.golden pins
/// which are accepted and why the others are not (placeholders such as
/// `Rule 1`, typos the pages print, and `where` on ColumnNamesMatchPattern,
/// which Glue's own parser rejects). UPDATE_GOLDEN=1 rewrites it.
#[test]
fn glue_documentation_examples_parse_as_the_pages_intend() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/glue_docs");
    let source = std::fs::read_to_string(root.join("examples.dqdl")).expect("examples");
    // The constants section of the same page declares `mySql`.
    let prelude = "mySql = \"select count(*) from primary\"\n";
    let mut out = String::new();
    let (mut accepted, mut total) = (0, 0);
    for (n, line) in source.lines().enumerate() {
        let rule = line.trim();
        if rule.is_empty() || rule.starts_with('#') {
            continue;
        }
        total += 1;
        // Own lines, so a trailing `# comment` ends at the line's end.
        let text = format!("{prelude}Rules = [\n{rule}\n]\n");
        // The analyzers section's examples are analyzers.
        let analyzer = format!("{prelude}Rules = [ RowCount > 0 ]\nAnalyzers = [\n{rule}\n]\n");
        match dqgate::dqdl::parse(&text) {
            Ok(_) => {
                accepted += 1;
                out.push_str(&format!("{}: ok\n", n + 1));
            }
            Err(_) if dqgate::dqdl::parse(&analyzer).is_ok() => {
                accepted += 1;
                out.push_str(&format!("{}: ok as an analyzer\n", n + 1));
            }
            Err(e) => {
                let first = e
                    .diagnostics
                    .first()
                    .map_or_else(String::new, |d| d.message.clone());
                out.push_str(&format!("{}: rejected: {first}\n", n + 1));
            }
        }
    }
    out.push_str(&format!("{accepted} of {total} accepted\n"));
    let golden = root.join("examples.golden");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &out).expect("write golden");
    }
    let expected =
        std::fs::read_to_string(&golden).expect("golden exists (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(out, expected);
}
