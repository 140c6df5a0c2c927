//! Answers a new user must be able to trust: `now()` is the evaluation
//! instant to the microsecond, a folder of mixed formats is an error rather
//! than silently dropped files, and a malformed CSV row is reported at its
//! file and line.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use datafusion::arrow::array::{ArrayRef, Int64Array, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use dqgate::check::{CheckError, CheckRequest, run};
use dqgate::plan::Outcome;
use dqgate::report::Report;
use dqgate::source::DatasetSpec;

async fn check(location: String, rules: &str, now: DateTime<Utc>) -> Result<Report, CheckError> {
    run(CheckRequest {
        ruleset_name: "t".into(),
        ruleset_text: format!("Rules = [ {rules} ]"),
        datasets: vec![DatasetSpec {
            alias: "primary".into(),
            location,
            ..Default::default()
        }],
        now: Some(now),
        memory_limit: None,
        engine: Default::default(),
    })
    .await
}

/// Before: `now()` was rounded down to the minute, so a row stamped two
/// seconds before the evaluation failed `<= now()`.
#[tokio::test]
async fn now_is_the_evaluation_instant_to_the_microsecond() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.parquet");
    let now = Utc
        .with_ymd_and_hms(2026, 11, 26, 12, 0, 30)
        .single()
        .expect("instant");
    let stamp =
        |seconds_ago: i64| (now - chrono::Duration::seconds(seconds_ago)).timestamp_micros();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2])),
        Arc::new(TimestampMicrosecondArray::from(vec![stamp(2), stamp(20)])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
    let file = std::fs::File::create(&path).expect("create");
    let mut writer = ArrowWriter::try_new(file, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    let report = check(
        path.display().to_string(),
        "ColumnValues \"ts\" <= now(), ColumnValues \"ts\" > (now() - 1 minutes), ColumnValues \"ts\" < now() where \"id = 1\"",
        now,
    )
    .await
    .expect("check runs");
    for r in &report.rules {
        assert_eq!(r.outcome, Outcome::Passed, "{}: {}", r.rule, r.message);
    }
}

/// Before: a folder with one CSV and two JSON files reported `RowCount was 1`.
#[tokio::test]
async fn a_folder_of_mixed_formats_is_an_error_that_names_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.csv"), "id\n1\n").expect("write");
    std::fs::write(dir.path().join("b.json"), "{\"id\": 2}\n").expect("write");
    std::fs::write(dir.path().join("c.json"), "{\"id\": 3}\n").expect("write");
    let err = check(dir.path().display().to_string(), "RowCount = 3", Utc::now())
        .await
        .expect_err("mixed formats cannot be read as one dataset");
    let text = err.to_string();
    assert!(text.contains("csv") && text.contains("json"), "{text}");
    assert!(text.contains("format"), "says how to choose: {text}");
}

/// Before: "Expected 3 records, found 4" (it meant fields).
#[tokio::test]
async fn a_malformed_csv_row_is_reported_at_its_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("orders.csv");
    std::fs::write(
        &path,
        "id,amount,country\n1,10.5,US\n2,3.0,DE,extra\n3,7.25,US\n",
    )
    .expect("write");
    let err = check(path.display().to_string(), "RowCount = 3", Utc::now())
        .await
        .expect_err("a row wider than the header cannot be read");
    let text = err.to_string();
    assert!(text.contains("orders.csv"), "{text}");
    assert!(
        text.contains("line 3 has 4 fields where the header has 3"),
        "{text}"
    );
    assert!(
        !text.contains("extra"),
        "the message does not quote the data: {text}"
    );
}

/// Before: an empty CSV was "no file or folder at …", which was false.
#[tokio::test]
async fn an_empty_file_says_it_has_no_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.csv");
    std::fs::write(&path, "").expect("write");
    let err = check(path.display().to_string(), "RowCount = 0", Utc::now())
        .await
        .expect_err("nothing to read");
    let text = err.to_string();
    assert!(text.contains("has no columns"), "{text}");
    assert!(!text.contains("no file or folder"), "{text}");
}
