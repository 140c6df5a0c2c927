//! Small, hand-checkable datasets written as Parquet for the semantic tests.
//!
//! `people` (10 rows; "now" is 2026-11-26T12:00:00Z):
//!
//! | id | name  | age  | score | city | joined     | seen (h ago) | flag  | code         |
//! |----|-------|------|-------|------|------------|--------------|-------|--------------|
//! | 1  | ann   | 30   | 1.5   | NY   | 2024-01-01 | 1            | true  | "12"         |
//! | 2  | bob   | 25   | 2.5   | LA   | 2024-01-15 | 2            | false | " 7"         |
//! | 3  | cid   | NULL | 3.5   | NY   | 2024-02-01 | 5            | true  | "x"          |
//! | 4  | dee   | 40   | NULL  | SF   | 2024-03-01 | 10           | true  | "3.5"        |
//! | 5  | ""    | 35   | 0.5   | NULL | NULL       | 23           | NULL  | "2024-01-01" |
//! | 6  | "   " | 20   | 2.0   | LA   | 2023-12-31 | 25           | false | NULL         |
//! | 7  | NULL  | NULL | 4.0   | NY   | 2024-06-30 | 48           | true  | "true"       |
//! | 8  | ann   | 30   | 1.0   | SF   | 2024-01-01 | 100          | false | "-4"         |
//! | 9  | eve   | 50   | 3.0   | NY   | 2025-01-01 | NULL         | true  | "007"        |
//! | 10 | fay   | 45   | 2.0   | LA   | 2024-12-31 | 0.5          | true  | ""           |
//!
//! `reference` (9 rows): id 1..8 and 99; name ann, bob, cid, dee, "", "   ",
//! NULL, ann, zed; age 30, 25, NULL, 40, 35, 20, NULL, 30, 60; score 1.5,
//! 2.5, 3.5, NULL, 0.5, 2.0, 4.0, 1.0, 9.0.

use std::path::Path;
use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

/// The evaluation clock of the fixtures.
pub fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
        .single()
        .expect("valid instant")
}

fn days(d: &str) -> i32 {
    let date = NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date");
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    i32::try_from((date - epoch).num_days()).expect("fits")
}

fn hours_ago(h: f64) -> i64 {
    now().timestamp_micros() - (h * 3_600_000_000.0) as i64
}

pub fn write(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).expect("create fixture");
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(batch).expect("write");
    w.close().expect("close");
}

pub fn people() -> RecordBatch {
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "id",
            Arc::new(Int64Array::from((1..=10).collect::<Vec<i64>>())),
        ),
        (
            "name",
            Arc::new(StringArray::from(vec![
                Some("ann"),
                Some("bob"),
                Some("cid"),
                Some("dee"),
                Some(""),
                Some("   "),
                None,
                Some("ann"),
                Some("eve"),
                Some("fay"),
            ])),
        ),
        (
            "age",
            Arc::new(Int64Array::from(vec![
                Some(30),
                Some(25),
                None,
                Some(40),
                Some(35),
                Some(20),
                None,
                Some(30),
                Some(50),
                Some(45),
            ])),
        ),
        (
            "score",
            Arc::new(Float64Array::from(vec![
                Some(1.5),
                Some(2.5),
                Some(3.5),
                None,
                Some(0.5),
                Some(2.0),
                Some(4.0),
                Some(1.0),
                Some(3.0),
                Some(2.0),
            ])),
        ),
        (
            "city",
            Arc::new(StringArray::from(vec![
                Some("NY"),
                Some("LA"),
                Some("NY"),
                Some("SF"),
                None,
                Some("LA"),
                Some("NY"),
                Some("SF"),
                Some("NY"),
                Some("LA"),
            ])),
        ),
        (
            "joined",
            Arc::new(Date32Array::from(vec![
                Some(days("2024-01-01")),
                Some(days("2024-01-15")),
                Some(days("2024-02-01")),
                Some(days("2024-03-01")),
                None,
                Some(days("2023-12-31")),
                Some(days("2024-06-30")),
                Some(days("2024-01-01")),
                Some(days("2025-01-01")),
                Some(days("2024-12-31")),
            ])),
        ),
        (
            "seen",
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(hours_ago(1.0)),
                Some(hours_ago(2.0)),
                Some(hours_ago(5.0)),
                Some(hours_ago(10.0)),
                Some(hours_ago(23.0)),
                Some(hours_ago(25.0)),
                Some(hours_ago(48.0)),
                Some(hours_ago(100.0)),
                None,
                Some(hours_ago(0.5)),
            ])),
        ),
        (
            "flag",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                Some(true),
                Some(true),
                None,
                Some(false),
                Some(true),
                Some(false),
                Some(true),
                Some(true),
            ])),
        ),
        (
            "code",
            Arc::new(StringArray::from(vec![
                Some("12"),
                Some(" 7"),
                Some("x"),
                Some("3.5"),
                Some("2024-01-01"),
                None,
                Some("true"),
                Some("-4"),
                Some("007"),
                Some(""),
            ])),
        ),
    ];
    RecordBatch::try_from_iter(cols).expect("people batch")
}

pub fn reference() -> RecordBatch {
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6, 7, 8, 99])),
        ),
        (
            "name",
            Arc::new(StringArray::from(vec![
                Some("ann"),
                Some("bob"),
                Some("cid"),
                Some("dee"),
                Some(""),
                Some("   "),
                None,
                Some("ann"),
                Some("zed"),
            ])),
        ),
        (
            "age",
            Arc::new(Int64Array::from(vec![
                Some(30),
                Some(25),
                None,
                Some(40),
                Some(35),
                Some(20),
                None,
                Some(30),
                Some(60),
            ])),
        ),
        (
            "score",
            Arc::new(Float64Array::from(vec![
                Some(1.5),
                Some(2.5),
                Some(3.5),
                None,
                Some(0.5),
                Some(2.0),
                Some(4.0),
                Some(1.0),
                Some(9.0),
            ])),
        ),
    ];
    RecordBatch::try_from_iter(cols).expect("reference batch")
}

/// Writes both fixtures into `dir` and returns (people, reference) paths.
pub fn write_all(dir: &Path) -> (String, String) {
    let p = dir.join("people.parquet");
    let r = dir.join("reference.parquet");
    write(&p, &people());
    write(&r, &reference());
    (p.display().to_string(), r.display().to_string())
}

/// Runs `sql` over the Parquet file at `path`, registered as `f`: the
/// number of rows and the rows as a table.
pub async fn query_parquet(path: &Path, sql: &str) -> (usize, String) {
    let ctx = datafusion::prelude::SessionContext::new();
    ctx.register_parquet("f", path.to_str().expect("utf-8 path"), Default::default())
        .await
        .expect("a Parquet file");
    let batches = ctx
        .sql(sql)
        .await
        .expect("query")
        .collect()
        .await
        .expect("rows");
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .expect("format")
        .to_string();
    (rows, text)
}

/// The test virtualenv's python (DQGATE_TEST_PYTHON), or `None` with a
/// loud note that `what` is skipped; in CI a missing python is a broken
/// setup, not a reason to pass without running.
pub fn test_python(what: &str) -> Option<String> {
    let p = std::env::var("DQGATE_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    if p.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but DQGATE_TEST_PYTHON is not: {what} cannot run"
        );
        eprintln!(
            "\n*** SKIPPING {what}: DQGATE_TEST_PYTHON is not set \
             (.ci/run creates the test virtualenv and sets it) ***\n"
        );
    }
    p
}
