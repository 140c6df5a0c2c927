//! Quarantine: a gate run that fails writes its failing rows, with Glue's
//! row-level columns, as Parquet under `<quarantine>/<dataset>/<stage>/<run id>/`
//! (a local folder or an S3 prefix on the loopback S3 server); runs that
//! pass or warn write nothing; a write that fails makes the run `error`;
//! the option is validated and confined at registration.

use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, Int64Array, RecordBatch};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use super::s3::{S3Server, walk};
use super::service::{ADMIN, Server, start_confined};

/// The fixture has 10 rows with ids 1..10; `age` is NULL in rows 3 and 7.
/// `ColumnValues "id" <= 8` fails rows 9 and 10. `RowCount` is not a
/// row-level rule, so it is in no row's lists.
const FAILING: &str = "Rules = [ RowCount = 10, IsComplete \"age\", ColumnValues \"id\" <= 8 ]";

/// Each failing row: (id, failed, passed, skipped, result), worked out by
/// hand from the fixture.
fn expected_rows() -> Vec<(i64, String, String, String, String)> {
    let age = "IsComplete \"age\"";
    let id = "ColumnValues \"id\" <= 8";
    let row = |i: i64, failed: &str, passed: &str| {
        (
            i,
            format!("[{failed}]"),
            format!("[{passed}]"),
            "[]".to_string(),
            "Failed".to_string(),
        )
    };
    vec![
        row(3, age, id),
        row(7, age, id),
        row(9, id, age),
        row(10, id, age),
    ]
}

/// The rows of Parquet `files` as (id, fail, pass, skip, result), by id.
fn read_rows(files: &[PathBuf]) -> Vec<(i64, String, String, String, String)> {
    let mut out = Vec::new();
    for file in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(file).expect("open quarantined file"),
        )
        .expect("a Parquet file")
        .build()
        .expect("reader");
        for batch in reader {
            let batch: RecordBatch = batch.expect("batch");
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .unwrap_or_else(|| panic!("no column {name}: {:?}", batch.schema()))
                    .clone()
            };
            // Every column of the dataset is kept.
            for name in ["id", "name", "age", "score", "city", "joined"] {
                column(name);
            }
            let ids = column("id");
            let ids = ids.as_any().downcast_ref::<Int64Array>().expect("int ids");
            let text = |name: &str, row: usize| {
                array_value_to_string(&column(name), row).expect("printable")
            };
            for row in 0..batch.num_rows() {
                out.push((
                    ids.value(row),
                    text("DataQualityRulesFail", row),
                    text("DataQualityRulesPass", row),
                    text("DataQualityRulesSkip", row),
                    text("DataQualityEvaluationResult", row),
                ));
            }
        }
    }
    out.sort();
    out
}

async fn put_dataset(s: &Server, name: &str, location: &str, options: Value) -> (u16, Value) {
    let r = s
        .put_json(
            &format!("/v1/datasets/{name}"),
            ADMIN,
            &json!({"format": "parquet", "location": location, "options": options}),
        )
        .await;
    let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, body)
}

async fn gate(s: &Server, dataset: &str, ruleset: &str, run_id: &str) -> Value {
    let r = s
        .post_json(
            "/v1/gate",
            ADMIN,
            &json!({"dataset": dataset, "ruleset": ruleset, "stage": "landing", "run_id": run_id}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    if dir.exists() { walk(dir) } else { Vec::new() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_writes_its_failing_rows_to_a_local_folder() {
    let s = start_confined("sqlite", Default::default(), &[], &[]).await;
    let root = s.dir.path().canonicalize().expect("canonical");
    let quarantine = root.join("quarantine");
    let people = s.data("people.parquet");
    let (status, body) = put_dataset(
        &s,
        "people",
        &people,
        json!({"quarantine": quarantine.display().to_string()}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["options"]["quarantine"],
        quarantine.display().to_string()
    );
    for (name, text) in [
        ("fails", FAILING),
        ("passes", "Rules = [ RowCount = 10, IsComplete \"id\" ]"),
        (
            "warns",
            "Rules = [ IsComplete \"age\" labels=[\"severity\"=\"warn\"] ]",
        ),
        ("counts", "Rules = [ RowCount = 11 ]"),
    ] {
        let r = s
            .put_text(&format!("/v1/rulesets/{name}"), ADMIN, text)
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }

    let failed = gate(&s, "people", "fails", "q-1").await;
    assert_eq!(failed["decision"], "fail");
    let id = failed["id"].as_str().expect("run id");
    let folder = quarantine.join("people").join("landing").join(id);
    assert_eq!(
        failed["inputs"]["quarantine"],
        json!({"location": format!("{}/", folder.display()), "rows": 4, "files": 1})
    );
    let files = files_under(&folder);
    assert_eq!(files, [folder.join("part-00000.parquet")]);
    assert_eq!(read_rows(&files), expected_rows());
    // The run API shows the same.
    let served = s.get(&format!("/v1/runs/{id}"), ADMIN).await.json();
    assert_eq!(
        served["inputs"]["quarantine"],
        failed["inputs"]["quarantine"]
    );
    // A retry of the run id is the stored run: nothing is written again.
    let again = gate(&s, "people", "fails", "q-1").await;
    assert_eq!(again["id"], failed["id"]);
    assert_eq!(files_under(&quarantine).len(), 1);

    // Pass and warn write nothing.
    for (ruleset, decision) in [("passes", "pass"), ("warns", "warn")] {
        let run = gate(&s, "people", ruleset, &format!("q-{ruleset}")).await;
        assert_eq!(run["decision"], decision);
        assert!(run["inputs"].get("quarantine").is_none(), "{run}");
    }
    assert_eq!(
        files_under(&quarantine).len(),
        1,
        "only the failing run wrote"
    );

    // A run that fails on a dataset-level rule alone has no failing rows:
    // recorded, with no file.
    let counted = gate(&s, "people", "counts", "q-count").await;
    assert_eq!(counted["decision"], "fail");
    assert_eq!(counted["inputs"]["quarantine"]["rows"], 0);
    assert_eq!(counted["inputs"]["quarantine"]["files"], 0);
    assert_eq!(files_under(&quarantine).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantine_that_cannot_be_written_makes_the_run_an_error() {
    let s = start_confined("sqlite", Default::default(), &[], &[]).await;
    // A file where the folder should be.
    let blocked = s.dir.path().join("blocked");
    std::fs::write(&blocked, b"not a folder").expect("write");
    let (status, body) = put_dataset(
        &s,
        "people",
        &s.data("people.parquet"),
        json!({"quarantine": blocked.display().to_string()}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let r = s.put_text("/v1/rulesets/fails", ADMIN, FAILING).await;
    assert_eq!(r.status, 201);
    let run = gate(&s, "people", "fails", "blocked-1").await;
    assert_eq!(run["decision"], "error", "{run}");
    assert_eq!(run["status"], "error");
    let message = run["message"].as_str().expect("message");
    assert!(
        message.starts_with(
            "the run failed, and its failing rows could not be quarantined: cannot create"
        ),
        "{message}"
    );
    // The rule results stay visible.
    assert_eq!(run["failed"], 2);
    assert_eq!(run["rules"].as_array().map(Vec::len), Some(3));
    assert!(run["inputs"]["quarantine"]["error"].is_string(), "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quarantine_option_is_validated_and_confined() {
    let outside = tempfile::tempdir().expect("tempdir");
    let s = start_confined("sqlite", Default::default(), &[], &[]).await;
    let root = s.dir.path().canonicalize().expect("canonical");
    let folder = root.join("lake");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::copy(s.data("people.parquet"), folder.join("people.parquet")).expect("copy");
    let location = folder.display().to_string();
    let cases: Vec<(String, u16, &str)> = vec![
        ("https://example.com/q".into(), 400, "only s3:// URLs"),
        (
            "s3://q/a/../b".into(),
            400,
            "no empty, `.` or `..` segments",
        ),
        ("s3://q/bad*".into(), 400, "no glob"),
        ("".into(), 400, "empty"),
        (
            outside.path().join("q").display().to_string(),
            422,
            "is outside the allowed paths",
        ),
        (
            root.join("data").join("q").display().to_string(),
            422,
            "the server's own data directory or store",
        ),
        (
            folder.join("quarantine").display().to_string(),
            422,
            "is inside the dataset's own location",
        ),
    ];
    for (quarantine, status, says) in cases {
        let (got, body) =
            put_dataset(&s, "people", &location, json!({"quarantine": quarantine})).await;
        assert_eq!(got, status, "{quarantine}: {body}");
        let detail = body["detail"].as_str().unwrap_or("");
        assert!(detail.contains(says), "{quarantine}: {detail}");
    }
    // An S3 prefix inside an S3 dataset's location is refused too.
    let (got, body) = put_dataset(
        &s,
        "remote",
        "s3://lake/people/",
        json!({"quarantine": "s3://lake/people/bad"}),
    )
    .await;
    assert_eq!(got, 422, "{body}");
    // A folder beside the data is fine.
    let (got, body) = put_dataset(
        &s,
        "people",
        &location,
        json!({"quarantine": root.join("quarantine").display().to_string()}),
    )
    .await;
    assert_eq!(got, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_writes_its_failing_rows_to_s3() {
    let s3 = S3Server::start().await;
    s3.bucket("lake");
    s3.bucket("quarantine");
    let upload = tempfile::tempdir().expect("tempdir");
    super::fixtures::write_all(upload.path());
    s3.upload(
        &upload.path().join("people.parquet"),
        "lake",
        "people/people.parquet",
    )
    .await;
    let s = start_confined(
        "sqlite",
        Default::default(),
        &[],
        std::slice::from_ref(&s3.endpoint),
    )
    .await;
    let (status, body) = put_dataset(
        &s,
        "people",
        "s3://lake/people/",
        json!({"endpoint": s3.endpoint, "region": "us-east-1", "quarantine": "s3://quarantine/bad-rows/"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let r = s.put_text("/v1/rulesets/fails", ADMIN, FAILING).await;
    assert_eq!(r.status, 201);
    let r = s
        .put_text("/v1/rulesets/passes", ADMIN, "Rules = [ RowCount = 10 ]")
        .await;
    assert_eq!(r.status, 201);

    let run = gate(&s, "people", "fails", "s3-1").await;
    assert_eq!(run["decision"], "fail", "{run}");
    let id = run["id"].as_str().expect("id");
    assert_eq!(
        run["inputs"]["quarantine"],
        json!({"location": format!("s3://quarantine/bad-rows/people/landing/{id}/"), "rows": 4, "files": 1})
    );
    // The S3 server keeps each bucket as a folder: the object is there.
    let prefix = s3
        .root
        .path()
        .join("quarantine/bad-rows/people/landing")
        .join(id);
    let files = files_under(&prefix);
    assert_eq!(
        files
            .iter()
            .map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()))
            .collect::<Vec<_>>(),
        [Some("part-00000.parquet".to_string())]
    );
    assert_eq!(read_rows(&files), expected_rows());

    let passed = gate(&s, "people", "passes", "s3-2").await;
    assert_eq!(passed["decision"], "pass");
    assert!(passed["inputs"].get("quarantine").is_none());
    assert_eq!(files_under(&s3.root.path().join("quarantine")).len(), 1);
}
