//! Glue's documentation examples, evaluated: every rule example printed on
//! AWS Glue's DQDL pages (tests/golden/glue_docs/examples.dqdl) that parses
//! is run over a small fixture written here, and its outcome and metrics
//! are compared with tests/golden/glue_docs/outcomes.txt, where each row was
//! worked by hand from what the page says the rule means (the row's last
//! field says why). Examples that need something outside one process (a
//! Glue Data Catalog) are listed in its `[skipped]` section with the
//! reason, and the test fails when an accepted example is in neither.
//!
//! outcomes.txt: `[FIXTURE reference=FIXTURE mode=row]` starts a section,
//! run as one ruleset over FIXTURE as `primary` (and the reference, when
//! given, as `reference`; `mode=row` asks for ROW-mode composites);
//! `history METRIC = v1 v2 …` (oldest first) seeds the past values dynamic
//! rules read; a row is `RULE | OUTCOME | METRIC=VALUE; … or - | WHY`,
//! OUTCOME being Passed, Failed, Error or `analyzer` (run in `Analyzers`,
//! only its metrics compared). A VALUE may be a fraction (`7/9`). A WHY
//! starting `KNOWN DIFFERENCE` marks where dqgate knowingly departs from
//! the page.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::record_batch::RecordBatch;
use dqgate::check::{CheckRequest, prepare};
use dqgate::history::{History, Point, SeriesKey};
use dqgate::plan::Outcome;
use dqgate::source::DatasetSpec;

use super::fixtures;

/// The constants section of the DQDL page declares `mySql`.
const PRELUDE: &str = "mySql = \"select count(*) from primary\"\n";

/// A fixture column: name, kind and values separated by `|` (`~` is NULL,
/// an empty item is the empty string). Kinds: `i` integers, `f` doubles,
/// `s` strings, `d` dates (YYYY-MM-DD), `h` timestamps given as hours
/// before the fixtures' clock (2026-11-26 12:00 UTC).
type Column = (&'static str, char, &'static str);

/// The fixtures by name; each is small enough to check by eye.
fn fixture(name: &str) -> Vec<Column> {
    match name {
        // dqdl.md, composite rules.
        "composite" => vec![
            ("id", 'i', "1|2|3|4"),
            ("Star_Rating", 'i', "4|5|3|4"),
            ("Order_Total", 'i', "600|400|700|800"),
            ("Order_Id", 's', "o1|o2|~|o4"),
            ("colA", 'i', "1|1|2|~"),
            ("myCol1", 'i', "2|3|4|5"),
            ("myCol2", 'i', "1|1|1|3"),
            ("age", 'i', "30|20|26|18"),
            ("name", 's', "bo|alice|al|bobby"),
        ],
        // dqdl.md, expressions over a numeric colA; NULL keywords; labels;
        // constants.
        "numbers" => vec![
            ("colA", 'i', "2|10|50|200|~"),
            ("col", 'i', "22|30|25|40|50"),
        ],
        // dqdl.md, expressions over a string colA; NULL/EMPTY keywords.
        "text" => vec![("colA", 's', "a|b|A|a1||   |~")],
        // dqdl.md, expressions over a date colA; now() arithmetic.
        "dates" => vec![
            ("colA", 'd', "2022-06-30|2022-06-01|2022-05-31|2023-01-01|~"),
            (
                "load_date",
                'd',
                "2026-11-25|2026-11-24|2026-11-20|2026-11-26|2026-11-23",
            ),
        ],
        // ColumnDataType page and dqdl.md's expressions table.
        "types" => vec![("colA", 's', "1|22|333|-4|5|6|7|8|9|10|x|3000000000")],
        "types_int" => vec![("colA", 's', "1|22|333|-4|5|6|7|8|9|10|x")],
        // dqdl.md, where clauses.
        "where_a" => vec![
            ("colA", 's', "x|~|y|~|z"),
            ("colB", 'i', "10|10|10|20|20"),
            (
                "colC",
                's',
                "a long value here|short|another long one|tiny|x",
            ),
            ("colD", 's', "ab|cd|ef|gh|ij"),
            ("colE", 's', "a|c|x|g|i"),
            ("colF", 's', "b|d|y|h|j"),
            ("att1", 's', "a|a|b|a|b"),
            ("att2", 's', "p|q|~|r|~"),
        ],
        "where_b" => vec![("colB", 's', "A|B|C|~|A"), ("colC", 's', "1|2|~|4|5")],
        // dqdl.md, dynamic rules, and every page's dynamic examples.
        "dynamic" => vec![
            ("colA", 'i', "1|2|3|4|4"),
            ("colB", 'i', "2|4|5|8|9"),
            ("ColA", 'i', "10|20|30|40|50"),
        ],
        // dqdl.md, analyzers and comments sections.
        "names" => vec![
            ("Name", 's', "ann|bob|ann|christine"),
            ("price", 'i', "10|20|30|40"),
            ("num_items", 'i', "1|2|2|4"),
        ],
        // AggregateMatch page.
        "agg" => vec![
            ("amount", 'i', "10|20|30"),
            ("total_amount", 'i', "15|15|30"),
            ("ratings", 'i', "4|5|3"),
        ],
        "agg_ref" => vec![("ratings", 'i', "5|5|4|6")],
        // ColumnCorrelation page.
        "correlation" => vec![
            ("height", 'i', "150|160|170|180|190"),
            ("weight", 'i', "50|60|65|80|85"),
            ("weightinkgs", 'i', "30|45|50|60|70"),
            ("Salary", 'i', "1000|3000|2500|4000|5000"),
        ],
        // ColumnCount, ColumnExists and ColumnNamesMatchPattern pages.
        "schema" => vec![
            ("aws_a", 'i', "1"),
            ("aws_b", 'i', "1"),
            ("aws_c", 'i', "1"),
            ("aws_d", 'i', "1"),
            ("aws_e", 'i', "1"),
            ("aws_f", 'i', "1"),
            ("aws_g", 'i', "1"),
            ("aws_h", 'i', "1"),
            ("aws_i", 'i', "1"),
            ("aws_j", 'i', "1"),
            ("aws_k", 'i', "1"),
            ("Middle_Name", 's', "Q"),
        ],
        // ColumnLength page.
        "length" => vec![
            ("Postal_Code", 's', "12345|54321|~|98765"),
            ("weightinkgs", 'i', "5|12|15|99"),
        ],
        // ColumnValues page (and IsComplete's `Email` example).
        "values" => vec![
            ("Country", 's', "US|CA|~||  |UK"),
            ("gender", 's', "F|M|X|F|M|F"),
            ("weightinkgs", 'i', "5|8|12|9|20|3"),
            ("First_Name", 's', "Ann|bob|Jo-Ann|Zed|eve|Al"),
            (
                "Load_Date",
                'd',
                "2026-11-25|2026-11-26|2026-11-24|2026-11-24|2026-11-26|2026-11-25",
            ),
            ("Customer_ID", 'i', "1|2|1999|2000|500|7"),
            ("Age", 'i', "30|40|~|25|50|60"),
            ("Email", 's', "~|b@x|c@x|d@x|~|g@x"),
        ],
        // Completeness and IsComplete pages.
        "complete" => vec![
            ("Customer_ID", 'i', "1|2|3|4|5|6|7|8|9|10"),
            ("First_Name", 's', "a|b|c|d|e|f|g|h|i|~"),
            ("weightinkgs", 'i', "50|60|70|80|90|55|65|75|85|5"),
            ("email", 's', "a@x|b@x|c@x|d@x|e@x|f@x|g@x|h@x|i@x|j@x"),
            ("passenger_count", 'i', "1|2|~|1|3|1|2|~|1|1"),
            ("payment_type", 'i', "1|1|0|2|1|1|2|0|1|1"),
        ],
        // IsPrimaryKey, IsUnique, Uniqueness, UniqueValueRatio,
        // DistinctValuesCount, Entropy, Mean, StandardDeviation, Sum,
        // RowCount and CustomSql pages.
        "customers" => vec![
            ("Customer_ID", 'i', "1|2|3|4|5|6|7|8|9|10|11|11"),
            (
                "email",
                's',
                "a@x|b@x|c@x|d@x|e@x|f@x|g@x|h@x|i@x|j@x|k@x|l@x",
            ),
            ("vendorid", 'i', "1|2|1|2|1|2|1|2|1|2|1|2"),
            ("tpep_pickup_datetime", 'h', "1|1|2|2|3|3|4|4|5|5|6|6"),
            ("colA", 'i', "1|1|2|2|3|3|4|4|5|5|6|6"),
            ("colB", 's', "x|y|x|y|x|y|x|y|x|y|x|x"),
            ("colC", 'i', "1|2|3|4|5|6|7|8|9|10|11|12"),
            ("State", 's', "NY|CA|TX|WA|NY|CA|NY|TX|NY|CA|WA|NY"),
            ("Star_Rating", 'i', "5|4|3|5|2|4|5|1|3|4|5|5"),
            (
                "First_Name",
                's',
                "ann|bob|cid|ann|eve|fay|bob|hal|ivy|jo|kim|lee",
            ),
            (
                "Salary",
                'i',
                "1000|2000|3000|4000|5000|6000|7000|8000|9000|10000|11000|12000",
            ),
            (
                "transaction_total",
                'f',
                "50000|60000|40000|45000|55000|70000|30000|65000|20000|35000|25000|15000",
            ),
            ("test_score", 'i', "70|70|80|80|90|90|60|60|50|50|40|100"),
            (
                "Name",
                's',
                "ann|bob|cid|dee|eve|fay|gus|hal|ivy|jo|kim|lee",
            ),
            ("Age", 'i', "17|18|19|20|30|15|45|~|60|12|22|19"),
        ],
        // DataFreshness page.
        "freshness" => vec![
            ("Order_Date", 'h', "1|5|20|~|23"),
            ("file_ts", 'h', "1|2|23|10|5"),
        ],
        // DatasetMatch page: one key column; RowCountMatch and SchemaMatch.
        "match_a" => vec![
            ("ID", 'i', "1|2|3|4|5|6|7|8|9|10"),
            ("name", 's', "a|b|c|d|e|f|g|h|i|j"),
            ("amount", 'i', "1|2|3|4|5|6|7|8|9|10"),
        ],
        "match_a_ref" => vec![
            ("ID", 'i', "1|2|3|4|5|6|7|8|9|10"),
            ("name", 's', "a|b|c|d|e|f|g|h|i|zz"),
            ("amount", 'i', "1|2|3|4|5|6|7|8|9|10"),
        ],
        // SchemaMatch page: the same columns in another order; one retyped.
        "schema_reordered" => vec![("amount", 'i', "1"), ("ID", 'i', "1"), ("name", 's', "a")],
        "schema_retyped" => vec![("amount", 'f', "1.5"), ("ID", 'i', "1"), ("name", 's', "a")],
        // DatasetMatch page: join keys must be unique and not NULL.
        "match_dup_ref" => vec![
            ("ID", 'i', "1|2|3|4|5|6|7|8|9|9"),
            ("name", 's', "a|b|c|d|e|f|g|h|i|j"),
            ("amount", 'i', "1|2|3|4|5|6|7|8|9|10"),
        ],
        // dqdl.md, "How composite rules work": the page's own two rows.
        "composite_doc" => vec![("myCol1", 'i', "2|0"), ("myCol2", 'i', "1|3")],
        // DatasetMatch page: composite keys with different names.
        "match_b" => vec![
            ("ID_1", 'i', "1|1|2|2|3|3|4|4|5|5"),
            ("ID_2", 's', "a|b|a|b|a|b|a|b|a|b"),
            ("Amount1", 'i', "10|20|30|40|50|60|70|80|90|100"),
        ],
        "match_b_ref" => vec![
            ("ID_ref1", 'i', "1|1|2|2|3|3|4|4|5|5"),
            ("ID_ref2", 's', "a|b|a|b|a|b|a|b|a|b"),
            ("Amount2", 'i', "10|20|30|40|50|60|70|80|90|999"),
        ],
        // ReferentialIntegrity page.
        "ri" => vec![
            (
                "zipcode",
                'i',
                "10001|10002|10003|10004|10005|10006|10007|10008|10009|99999",
            ),
            ("city", 's', "NYC|LA|NYC|SF|LA|NYC|SF|LA|NYC|SF"),
            ("state", 's', "NY|CA|NY|CA|CA|NY|CA|CA|NY|CA"),
        ],
        "ri_ref" => vec![
            (
                "zipcode",
                'i',
                "10001|10002|10003|10004|10005|10006|10007|10008|10009",
            ),
            ("ref_city", 's', "NYC|LA|SF|NYC|LA|SF|NYC|LA|SF"),
            ("ref_state", 's', "NY|CA|CA|NY|CA|CA|NY|CA|CA"),
        ],
        // Data Quality tutorial page.
        "tutorial" => vec![
            ("year", 'i', "2024|2024|2024|2025|2025"),
            ("month", 'i', "1|2|3|~|~"),
        ],
        other => panic!("outcomes.txt names an unknown fixture `{other}`"),
    }
}

fn days_since_epoch(d: &str) -> i32 {
    let date = NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("a YYYY-MM-DD date");
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    i32::try_from((date - epoch).num_days()).expect("fits")
}

fn batch(columns: &[Column]) -> RecordBatch {
    let arrays: Vec<(&str, ArrayRef)> = columns
        .iter()
        .map(|(name, kind, values)| {
            let items: Vec<Option<&str>> =
                values.split('|').map(|v| (v != "~").then_some(v)).collect();
            let array: ArrayRef = match kind {
                'i' => Arc::new(Int64Array::from(
                    items
                        .iter()
                        .map(|v| v.map(|v| v.parse::<i64>().expect("an integer")))
                        .collect::<Vec<_>>(),
                )),
                'f' => Arc::new(Float64Array::from(
                    items
                        .iter()
                        .map(|v| v.map(|v| v.parse::<f64>().expect("a number")))
                        .collect::<Vec<_>>(),
                )),
                's' => Arc::new(StringArray::from(items)),
                'd' => Arc::new(Date32Array::from(
                    items
                        .iter()
                        .map(|v| v.map(days_since_epoch))
                        .collect::<Vec<_>>(),
                )),
                'h' => Arc::new(
                    TimestampMicrosecondArray::from(
                        items
                            .iter()
                            .map(|v| {
                                v.map(|h| {
                                    let hours: f64 = h.parse().expect("hours");
                                    fixtures::now().timestamp_micros()
                                        - (hours * 3_600_000_000.0) as i64
                                })
                            })
                            .collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
                other => panic!("unknown column kind `{other}`"),
            };
            (*name, array)
        })
        .collect();
    RecordBatch::try_from_iter(arrays).expect("fixture batch")
}

/// One row of outcomes.txt.
struct Row {
    line: usize,
    rule: String,
    outcome: String,
    metrics: Vec<(String, f64)>,
    why: String,
}

/// A section: the fixtures, the mode, the seeded history and the rows.
#[derive(Default)]
struct Section {
    primary: String,
    reference: Option<String>,
    row_mode: bool,
    /// The primary is the FileFreshness page's S3 folder, served by an S3
    /// server on loopback with the files of [`S3_FILES`].
    s3: bool,
    history: Vec<(String, Vec<f64>)>,
    rows: Vec<Row>,
}

fn number(text: &str) -> f64 {
    match text.split_once('/') {
        Some((a, b)) => number(a) / number(b),
        None => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("`{text}` is not a number")),
    }
}

/// The sections and the skipped examples (rule → reason).
fn read_outcomes(text: &str) -> (Vec<Section>, BTreeMap<String, String>) {
    let mut sections: Vec<Section> = Vec::new();
    let mut skipped = BTreeMap::new();
    let mut in_skipped = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            in_skipped = header == "skipped";
            if !in_skipped {
                let mut words = header.split_whitespace();
                let mut s = Section {
                    primary: words.next().expect("a fixture name").to_string(),
                    ..Section::default()
                };
                for w in words {
                    match w.split_once('=') {
                        Some(("reference", r)) => s.reference = Some(r.to_string()),
                        Some(("mode", "row")) => s.row_mode = true,
                        None if w == "s3" => s.s3 = true,
                        _ => panic!("line {}: unknown section option `{w}`", n + 1),
                    }
                }
                sections.push(s);
            }
            continue;
        }
        if in_skipped {
            let (rule, why) = line
                .split_once(" | ")
                .unwrap_or_else(|| panic!("line {}: RULE | REASON", n + 1));
            skipped.insert(rule.trim().to_string(), why.trim().to_string());
            continue;
        }
        let section = sections
            .last_mut()
            .unwrap_or_else(|| panic!("line {}: a row before any [section]", n + 1));
        if let Some(h) = line.strip_prefix("history ") {
            let (metric, values) = h.split_once(" = ").expect("history METRIC = values");
            section.history.push((
                metric.trim().to_string(),
                values.split_whitespace().map(number).collect(),
            ));
            continue;
        }
        let fields: Vec<&str> = line.split(" | ").collect();
        assert_eq!(
            fields.len(),
            4,
            "line {}: RULE | OUTCOME | METRICS | WHY",
            n + 1
        );
        let metrics = if fields[2].trim() == "-" {
            Vec::new()
        } else {
            fields[2]
                .split(';')
                .map(|m| {
                    let (name, value) = m.rsplit_once('=').expect("METRIC=VALUE");
                    (name.trim().to_string(), number(value))
                })
                .collect()
        };
        assert!(!fields[3].trim().is_empty(), "line {}: say why", n + 1);
        section.rows.push(Row {
            line: n + 1,
            rule: fields[0].trim().to_string(),
            outcome: fields[1].trim().to_string(),
            metrics,
            why: fields[3].trim().to_string(),
        });
    }
    (sections, skipped)
}

/// The examples the parser accepts (as rules or as analyzers), in file
/// order, as the parse test reads them.
fn accepted_examples(source: &str) -> Vec<String> {
    source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|rule| {
            dqgate::dqdl::parse(&format!("{PRELUDE}Rules = [\n{rule}\n]\n")).is_ok()
                || dqgate::dqdl::parse(&format!(
                    "{PRELUDE}Rules = [ RowCount > 0 ]\nAnalyzers = [\n{rule}\n]\n"
                ))
                .is_ok()
        })
        .map(str::to_string)
        .collect()
}

fn spec(dir: &Path, alias: &str, fixture_name: &str) -> DatasetSpec {
    let path = dir.join(format!("{alias}.parquet"));
    fixtures::write(&path, &batch(&fixture(fixture_name)));
    DatasetSpec {
        alias: alias.into(),
        location: path.display().to_string(),
        ..Default::default()
    }
}

/// The objects the FileFreshness page's paths name: bucket, key and how
/// many minutes before the fixtures' clock each was last modified.
const S3_FILES: [(&str, &str, i64); 4] = [
    (
        "amzn-s3-demo-bucket",
        "artifacts/file/tickets/tickets.parquet",
        120,
    ),
    (
        "amzn-s3-demo-bucket",
        "artifacts/file/tickets/older.parquet",
        30 * 24 * 60,
    ),
    (
        "amzn-s3-demo-bucket",
        "artifacts/file/tickets/recent.parquet",
        5,
    ),
    ("bucket", "landing/a.parquet", 180),
];

/// Writes [`S3_FILES`] (each the `fixture_name` table) under an S3 server's
/// root with their modification times, and returns the server.
async fn s3_server(fixture_name: &str) -> super::s3::S3Server {
    let server = super::s3::S3Server::start().await;
    for (bucket, key, minutes) in S3_FILES {
        let path = server.root.path().join(bucket).join(key);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        fixtures::write(&path, &batch(&fixture(fixture_name)));
        let at = fixtures::now() - Duration::minutes(minutes);
        let at = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(at.timestamp()).expect("after 1970"));
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(at))
            .expect("set the modification time");
    }
    server
}

/// Runs one section and lists every row that differs.
async fn run_section(section: &Section) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    // Kept alive until the section has run.
    let mut server = None;
    let mut datasets = if section.s3 {
        let s = s3_server(&section.primary).await;
        let primary = DatasetSpec {
            alias: "primary".into(),
            location: "s3://amzn-s3-demo-bucket/artifacts/file/tickets/".into(),
            options: s.options(),
            ..Default::default()
        };
        server = Some(s);
        vec![primary]
    } else {
        vec![spec(dir.path(), "primary", &section.primary)]
    };
    if let Some(r) = &section.reference {
        datasets.push(spec(dir.path(), "reference", r));
    }
    let (analyzers, rules): (Vec<&Row>, Vec<&Row>) =
        section.rows.iter().partition(|r| r.outcome == "analyzer");
    // Each rule on its own line, so a trailing `# comment` ends there.
    let list = |rows: &[&Row]| {
        rows.iter()
            .map(|r| r.rule.as_str())
            .collect::<Vec<_>>()
            .join("\n,\n")
    };
    // Metadata comes first in a ruleset.
    let mut text = if section.row_mode {
        "Metadata = { \"compositeRuleEvaluation.method\": \"ROW\" }\n".to_string()
    } else {
        String::new()
    };
    text.push_str(PRELUDE);
    text.push_str(&format!("Rules = [\n{}\n]\n", list(&rules)));
    if !analyzers.is_empty() {
        text.push_str(&format!("Analyzers = [\n{}\n]\n", list(&analyzers)));
    }
    let prepared = prepare(CheckRequest {
        ruleset_name: format!("glue docs: {}", section.primary),
        ruleset_text: text.clone(),
        datasets,
        now: Some(fixtures::now()),
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .unwrap_or_else(|e| {
        panic!(
            "section [{}] does not prepare: {e}\n{text}",
            section.primary
        )
    });
    let mut history = History::empty();
    for (metric, values) in &section.history {
        let n = values.len() as i64;
        for (i, v) in values.iter().enumerate() {
            let at = fixtures::now() - Duration::days(n - i as i64);
            history.push(SeriesKey::new(metric, None), Point { at, value: *v });
        }
    }
    let report = prepared.evaluate(&history).await;
    drop(server);
    let mut failures = Vec::new();
    assert_eq!(
        report.rules.len(),
        rules.len(),
        "section [{}]: one result per rule",
        section.primary
    );
    for (row, got) in rules.iter().zip(&report.rules) {
        let at = format!("outcomes.txt:{} {}", row.line, row.rule);
        failures.extend(super::semantics::unlisted_metrics(
            &row.rule,
            got.metrics.keys(),
        ));
        let want = match row.outcome.as_str() {
            "Passed" => Outcome::Passed,
            "Failed" => Outcome::Failed,
            "Error" => Outcome::Error,
            other => panic!("{at}: unknown outcome `{other}`"),
        };
        if got.outcome != want {
            failures.push(format!(
                "{at}\n    outcome {:?}, expected {want:?} ({}): {}",
                got.outcome, row.why, got.message
            ));
        }
        for (name, value) in &row.metrics {
            match got.metrics.get(name) {
                Some(v) if (v - value).abs() <= 1e-9 => {}
                other => failures.push(format!(
                    "{at}\n    {name} = {other:?}, expected {value} ({}); reported {:?}",
                    row.why, got.metrics
                )),
            }
        }
    }
    for row in analyzers {
        for (name, value) in &row.metrics {
            match report.analyzers.get(name) {
                Some(v) if (v - value).abs() <= 1e-9 => {}
                other => failures.push(format!(
                    "outcomes.txt:{} {}\n    {name} = {other:?}, expected {value}; reported {:?}",
                    row.line, row.rule, report.analyzers
                )),
            }
        }
    }
    failures
}

/// Every example the parser accepts has a hand-worked outcome (or a reason
/// it cannot run here), and dqgate gives that outcome over the fixture.
#[tokio::test]
async fn glue_documentation_examples_give_the_outcomes_the_pages_describe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/glue_docs");
    let examples = std::fs::read_to_string(root.join("examples.dqdl")).expect("examples");
    let outcomes = std::fs::read_to_string(root.join("outcomes.txt")).expect("outcomes");
    let (sections, skipped) = read_outcomes(&outcomes);

    let accepted: BTreeSet<String> = accepted_examples(&examples).into_iter().collect();
    let covered: BTreeSet<String> = sections
        .iter()
        .flat_map(|s| s.rows.iter().map(|r| r.rule.clone()))
        .chain(skipped.keys().cloned())
        .collect();
    let missing: Vec<&String> = accepted.difference(&covered).collect();
    let strangers: Vec<&String> = covered.difference(&accepted).collect();
    assert!(
        missing.is_empty() && strangers.is_empty(),
        "accepted examples without an outcome: {missing:#?}\n\
         outcome rows that are not accepted examples: {strangers:#?}"
    );
    // Every fixture-independent claim is exercised: no section without rows.
    assert!(sections.iter().all(|s| !s.rows.is_empty()));

    let mut failures = Vec::new();
    for section in &sections {
        failures.extend(run_section(section).await);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
