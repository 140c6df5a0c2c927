//! Iceberg tables written by pyiceberg (an independent writer; the script is
//! tests/fixtures/iceberg/make_tables.py, run with DQGATE_TEST_PYTHON, which
//! .ci/run points at a virtualenv it creates). Every check on an Iceberg
//! table must give exactly the report of the same rows read as Parquet.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use dqgate::check::{CheckError, CheckRequest, run};
use dqgate::plan::Outcome;
use dqgate::report::Report;
use dqgate::source::{DatasetSpec, SourceOptions};
use serde_json::Value;

use super::s3::{ACCESS_KEY, S3Server, SECRET_KEY};

fn python() -> Option<String> {
    super::fixtures::test_python("the Iceberg tests")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iceberg/make_tables.py")
}

/// The fixture tables, written once per test run.
pub fn fixtures() -> Option<&'static (PathBuf, Value)> {
    static FIXTURES: OnceLock<Option<(PathBuf, Value)>> = OnceLock::new();
    FIXTURES
        .get_or_init(|| {
            let python = python()?;
            let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("iceberg-fixtures");
            let _ = std::fs::remove_dir_all(&root);
            let out = Command::new(python)
                .arg(script())
                .arg(&root)
                .output()
                .expect("run the fixture script");
            assert!(
                out.status.success(),
                "make_tables.py failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let expected: Value = serde_json::from_str(
                &std::fs::read_to_string(root.join("expected.json")).expect("expected.json"),
            )
            .expect("json");
            Some((root, expected))
        })
        .as_ref()
}

pub fn catalog_ref(root: &Path, table: &str) -> String {
    format!(
        "iceberg:sqlite:{}/catalog.db?name=dq#default.{table}",
        root.display()
    )
}

fn spec(location: &str, options: SourceOptions) -> DatasetSpec {
    DatasetSpec {
        alias: "primary".into(),
        location: location.into(),
        format: None,
        options,
        confinement: None,
    }
}

async fn check(rules: &str, dataset: DatasetSpec) -> Result<Report, CheckError> {
    run(CheckRequest {
        ruleset_name: "iceberg".into(),
        ruleset_text: rules.into(),
        datasets: vec![dataset],
        now: Some(super::fixtures::now()),
        memory_limit: None,
        engine: Default::default(),
    })
    .await
}

fn essence(r: &Report) -> Vec<(String, Outcome, String)> {
    r.rules
        .iter()
        .map(|x| (x.rule.clone(), x.outcome, x.message.clone()))
        .collect()
}

/// Metrics agree to 1e-12 relative: floating-point sums depend on the
/// order rows are aggregated in, which depends on the file layout.
fn assert_close(
    a: &std::collections::BTreeMap<String, f64>,
    b: &std::collections::BTreeMap<String, f64>,
    what: &str,
) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}"
    );
    for (k, x) in a {
        let y = b[k];
        assert!(
            (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0),
            "{what}: {k} {x} vs {y}"
        );
    }
}

pub const RULES: &str = r#"Rules = [
    RowCount > 0,
    IsComplete "id",
    IsUnique "id",
    Completeness "amount" > 0.5,
    Sum "amount" > 0,
    Mean "amount" > 0,
    StandardDeviation "amount" > 0,
    ColumnValues "category" in ["a", "b", "c"],
    DistinctValuesCount "category" = 3,
    Entropy "category" > 0,
    ColumnValues "id" between -1 and 1000,
    ColumnValues "ts" > "2026-11-01",
    CustomSql "select count(*) from primary where category = 'a' and amount > 10" >= 0
]
Analyzers = [ AllStatistics "amount" ]"#;

/// Asserts the Iceberg dataset's report equals its Parquet twin's.
async fn assert_same(rules: &str, iceberg: DatasetSpec, twin: &Path) -> Report {
    let a = check(rules, iceberg.clone())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", iceberg.location));
    let b = check(
        rules,
        spec(&twin.display().to_string(), SourceOptions::default()),
    )
    .await
    .expect("parquet twin");
    assert_eq!(
        essence(&a),
        essence(&b),
        "{} vs {}",
        iceberg.location,
        twin.display()
    );
    for (x, y) in a.rules.iter().zip(&b.rules) {
        assert_close(&x.metrics, &y.metrics, &x.rule);
    }
    assert_close(&a.analyzers, &b.analyzers, &iceberg.location);
    assert!(a.errors == 0, "{a:#?}");
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iceberg_tables_read_exactly_like_their_parquet_twins() {
    let Some((root, expected)) = fixtures() else {
        return;
    };
    // Through the SQL catalog pyiceberg wrote.
    let events = assert_same(
        RULES,
        spec(&catalog_ref(root, "events"), SourceOptions::default()),
        &root.join("events_all.parquet"),
    )
    .await;
    assert_eq!(
        events.sources["primary"].snapshot_id,
        expected["events"]["second"]["id"].as_i64(),
        "the run records the snapshot it read"
    );
    let evolved_rules = RULES.replace(
        "RowCount > 0,",
        "RowCount = 15, Completeness \"note\" = 0.2,",
    );
    assert_same(
        &evolved_rules,
        spec(&catalog_ref(root, "evolved"), SourceOptions::default()),
        &root.join("evolved_all.parquet"),
    )
    .await;
    // A metadata file directly, and a table folder (its newest metadata).
    let parted_meta = format!(
        "iceberg:{}",
        expected["parted"]["metadata"].as_str().expect("metadata")
    );
    let parted_rules = RULES.replace(
        "RowCount > 0,",
        "RowCount = 90, RowCount = 30 where \"category = 'b'\", RowCount = 5 where \"category = 'a' and ts < '2026-11-24'\",",
    );
    let parted = assert_same(
        &parted_rules,
        spec(&parted_meta, SourceOptions::default()),
        &root.join("parted_all.parquet"),
    )
    .await;
    assert_eq!(parted.failed, 0, "{parted:#?}");
    // A table folder (its newest metadata), a copy-on-write delete, and
    // merge-on-read position- and equality-delete files.
    let deleted_folder = format!("iceberg:{}/warehouse/default/deleted", root.display());
    for (reference, twin, rows) in [
        (deleted_folder, "deleted_all.parquet", 90),
        (catalog_ref(root, "mor_pos"), "mor_pos_all.parquet", 90),
        (catalog_ref(root, "mor_eq"), "mor_eq_all.parquet", 97),
    ] {
        let r = assert_same(
            RULES,
            spec(&reference, SourceOptions::default()),
            &root.join(twin),
        )
        .await;
        assert_eq!(
            r.rules[0].message,
            format!("Dataset.*.RowCount was {rows}; required > 0"),
            "{reference}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_time_travel_and_appended_slices() {
    let Some((root, expected)) = fixtures() else {
        return;
    };
    let events = catalog_ref(root, "events");
    let first = expected["events"]["first"]["id"].as_i64().expect("id");
    let first_ms = expected["events"]["first"]["timestamp_ms"]
        .as_i64()
        .expect("ms");
    let second_ms = expected["events"]["second"]["timestamp_ms"]
        .as_i64()
        .expect("ms");
    // A snapshot id.
    let by_id = SourceOptions {
        snapshot_id: Some(first),
        ..SourceOptions::default()
    };
    let r = assert_same(
        RULES,
        spec(&events, by_id),
        &root.join("events_first.parquet"),
    )
    .await;
    assert_eq!(r.sources["primary"].snapshot_id, Some(first));
    // As of an instant between the two appends.
    let between =
        chrono::DateTime::from_timestamp_millis((first_ms + second_ms) / 2).expect("instant");
    let as_of = SourceOptions {
        as_of: Some(between.to_rfc3339()),
        ..SourceOptions::default()
    };
    assert_same(
        RULES,
        spec(&events, as_of),
        &root.join("events_first.parquet"),
    )
    .await;
    // Only the rows appended after the first snapshot.
    let appended = SourceOptions {
        since_snapshot_id: Some(first),
        ..SourceOptions::default()
    };
    let r = assert_same(
        RULES,
        spec(&events, appended),
        &root.join("events_appended.parquet"),
    )
    .await;
    assert_eq!(
        r.sources["primary"].slice.as_deref(),
        Some(
            format!(
                "1 data file(s) appended by 1 snapshot(s) after {first} up to {}",
                expected["events"]["second"]["id"]
            )
            .as_str()
        )
    );
    // Before the delete: all 100 rows.
    let before = SourceOptions {
        snapshot_id: expected["deleted"]["before"]["id"].as_i64(),
        ..SourceOptions::default()
    };
    assert_same(
        RULES,
        spec(&catalog_ref(root, "deleted"), before),
        &root.join("deleted_before.parquet"),
    )
    .await;

    // What cannot be read says why.
    let across_delete = SourceOptions {
        since_snapshot_id: expected["deleted"]["before"]["id"].as_i64(),
        ..SourceOptions::default()
    };
    let e = check(RULES, spec(&catalog_ref(root, "deleted"), across_delete))
        .await
        .expect_err("across a delete");
    assert!(e.to_string().contains("only appends can be sliced"), "{e}");
    let bad_id = SourceOptions {
        snapshot_id: Some(42),
        ..SourceOptions::default()
    };
    let e = check(RULES, spec(&events, bad_id))
        .await
        .expect_err("no such snapshot");
    assert!(
        e.to_string()
            .contains(&format!("no snapshot 42; the table has {first}")),
        "{e}"
    );
    let too_early = SourceOptions {
        as_of: Some("2001-01-01T00:00:00Z".into()),
        ..SourceOptions::default()
    };
    let e = check(RULES, spec(&events, too_early))
        .await
        .expect_err("before the table");
    assert!(e.to_string().contains("had no snapshot at"), "{e}");
    let e = check(
        RULES,
        spec(&catalog_ref(root, "nope"), SourceOptions::default()),
    )
    .await
    .expect_err("no table");
    assert!(
        e.to_string().contains("cannot load table default.nope"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iceberg_tables_in_s3_read_like_local_ones() {
    let Some(python) = python() else { return };
    let Some((root, _)) = fixtures() else { return };
    let server = S3Server::start().await;
    server.bucket("lakehouse");
    let out_dir = tempfile::tempdir().expect("tempdir");
    write_remote_events(
        python,
        "--s3",
        server.endpoint.clone(),
        "lakehouse",
        out_dir.path().to_path_buf(),
    )
    .await;
    let reference = format!(
        "iceberg:sqlite:{}/catalog_s3.db?name=dq&warehouse=s3://lakehouse/warehouse#default.events",
        out_dir.path().display()
    );
    let r = assert_same(
        RULES,
        spec(&reference, server.options()),
        &root.join("events_all.parquet"),
    )
    .await;
    assert_eq!(
        r.rules[0].message,
        "Dataset.*.RowCount was 150; required > 0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_reads_iceberg_snapshots_and_records_them() {
    use super::service::{ADMIN, backends, start_confined};
    let Some((root, expected)) = fixtures() else {
        return;
    };
    for backend in backends() {
        let s = start_confined(backend, Default::default(), std::slice::from_ref(root), &[]).await;
        let body =
            serde_json::json!({"format": "iceberg", "location": catalog_ref(root, "events")});
        let r = s.put_json("/v1/datasets/events", ADMIN, &body).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let bad = serde_json::json!({"format": "iceberg", "location": catalog_ref(root, "events"), "options": {"bogus": 1}});
        assert_eq!(
            s.put_json("/v1/datasets/other", ADMIN, &bad).await.status,
            400
        );
        let bad_ref = serde_json::json!({"format": "iceberg", "location": "iceberg:ftp://x#a.b"});
        assert_eq!(
            s.put_json("/v1/datasets/other", ADMIN, &bad_ref)
                .await
                .status,
            400
        );
        s.put_text(
            "/v1/rulesets/events-checks",
            ADMIN,
            "Rules = [ RowCount > 0 ]",
        )
        .await;
        let gate = |run_id: &str, parameters: Value| {
            serde_json::json!({"dataset": "events", "ruleset": "events-checks", "stage": "transform",
                               "run_id": run_id, "parameters": parameters})
        };
        let whole = s
            .post_json("/v1/gate", ADMIN, &gate("e1", serde_json::json!({})))
            .await
            .json();
        assert_eq!(whole["decision"], "pass", "{whole}");
        assert_eq!(
            whole["rules"][0]["message"],
            "Dataset.*.RowCount was 150; required > 0"
        );
        assert_eq!(
            whole["inputs"]["read"]["primary"]["snapshot_id"],
            expected["events"]["second"]["id"]
        );
        let first = expected["events"]["first"]["id"].clone();
        let daily = s
            .post_json(
                "/v1/gate",
                ADMIN,
                &gate("e2", serde_json::json!({"since_snapshot_id": first})),
            )
            .await
            .json();
        assert_eq!(
            daily["rules"][0]["message"], "Dataset.*.RowCount was 50; required > 0",
            "{daily}"
        );
        assert!(
            daily["inputs"]["read"]["primary"]["slice"]
                .as_str()
                .is_some_and(|t| t.starts_with("1 data file(s) appended")),
            "{daily}"
        );
        // Stored with the run.
        let stored = s
            .get(daily["run"].as_str().expect("run"), ADMIN)
            .await
            .json();
        assert_eq!(stored["inputs"]["read"], daily["inputs"]["read"]);
    }
}

/// Runs the fixture script writing `events` to a remote catalog
/// (`--s3` or `--glue`) at `endpoint`, into `out` (blocking, off the
/// runtime's workers).
async fn write_remote_events(
    python: String,
    mode: &'static str,
    endpoint: String,
    bucket: &'static str,
    out: PathBuf,
) {
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script())
            .arg(&out)
            .args([mode, &endpoint, bucket])
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
    })
    .await
    .expect("join")
    .expect("run the fixture script");
    assert!(
        output.status.success(),
        "make_tables.py {mode} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A minimal Iceberg REST catalog over pyiceberg's SQL catalog: the two
/// routes a reader needs (`/v1/config` and loading a table), answering with
/// the metadata file the SQL catalog points at.
async fn rest_catalog(catalog_db: PathBuf) -> String {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::StatusCode;
    use axum::routing::get;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", catalog_db.display()))
        .await
        .expect("catalog db");
    async fn load(
        State(pool): State<sqlx::SqlitePool>,
        UrlPath((namespace, table)): UrlPath<(String, String)>,
    ) -> Result<axum::Json<Value>, StatusCode> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = 'dq' AND table_namespace = ? AND table_name = ?",
        )
        .bind(&namespace)
        .bind(&table)
        .fetch_optional(&pool)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        let (location,) = row.ok_or(StatusCode::NOT_FOUND)?;
        let path = location.strip_prefix("file://").unwrap_or(&location);
        let text = std::fs::read_to_string(path).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        let metadata: Value =
            serde_json::from_str(&text).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok(axum::Json(
            serde_json::json!({"metadata-location": location, "metadata": metadata}),
        ))
    }
    let app = axum::Router::new()
        .route(
            "/v1/config",
            get(|| async { axum::Json(serde_json::json!({"defaults": {}, "overrides": {}})) }),
        )
        .route("/v1/namespaces/{namespace}/tables/{table}", get(load))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iceberg_tables_through_a_rest_catalog() {
    let Some((root, expected)) = fixtures() else {
        return;
    };
    let uri = rest_catalog(root.join("catalog.db")).await;
    let events = format!("iceberg:{uri}#default.events");
    let r = assert_same(
        RULES,
        spec(&events, SourceOptions::default()),
        &root.join("events_all.parquet"),
    )
    .await;
    assert_eq!(
        r.sources["primary"].snapshot_id,
        expected["events"]["second"]["id"].as_i64()
    );
    let first = SourceOptions {
        snapshot_id: expected["events"]["first"]["id"].as_i64(),
        ..SourceOptions::default()
    };
    assert_same(
        RULES,
        spec(&events, first),
        &root.join("events_first.parquet"),
    )
    .await;
    let e = check(
        RULES,
        spec(
            &format!("iceberg:{uri}#default.nope"),
            SourceOptions::default(),
        ),
    )
    .await
    .expect_err("no such table");
    assert!(
        e.to_string().contains("cannot load table default.nope"),
        "{e}"
    );
}

/// Writes a table with iceberg-rust (two fast appends) into a SQL catalog
/// and returns its reference, plus every row as one Arrow batch.
async fn write_with_iceberg_rust(
    dir: &Path,
) -> (String, datafusion::arrow::record_batch::RecordBatch) {
    use std::collections::HashMap;
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::file::properties::WriterProperties;
    use iceberg::spec::{DataFileFormat, NestedField, PrimitiveType, Schema, Type};
    use iceberg::transaction::{ApplyTransactionAction, Transaction};
    use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
    use iceberg::writer::file_writer::ParquetWriterBuilder;
    use iceberg::writer::file_writer::location_generator::{
        DefaultFileNameGenerator, DefaultLocationGenerator,
    };
    use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
    use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
    use iceberg::{Catalog, CatalogBuilder, NamespaceIdent, TableCreation};
    use iceberg_catalog_sql::{SqlBindStyle, SqlCatalogBuilder};

    let catalog = SqlCatalogBuilder::default()
        .uri(format!("sqlite:{}/rs_catalog.db?mode=rwc", dir.display()))
        .warehouse_location(format!("file://{}/rs_warehouse", dir.display()))
        .sql_bind_style(SqlBindStyle::QMark)
        .with_storage_factory(Arc::new(iceberg::io::LocalFsStorageFactory))
        .load("rs", HashMap::new())
        .await
        .expect("catalog");
    let namespace = NamespaceIdent::new("default".into());
    catalog
        .create_namespace(&namespace, HashMap::new())
        .await
        .expect("namespace");
    let schema = Schema::builder()
        .with_fields(vec![
            NestedField::optional(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
            NestedField::optional(2, "category", Type::Primitive(PrimitiveType::String)).into(),
            NestedField::optional(3, "amount", Type::Primitive(PrimitiveType::Double)).into(),
        ])
        .build()
        .expect("schema");
    let mut table = catalog
        .create_table(
            &namespace,
            TableCreation::builder()
                .name("people".into())
                .schema(schema)
                .build(),
        )
        .await
        .expect("create table");
    let with_id = |name: &str, t: DataType, id: i32| {
        Field::new(name, t, true).with_metadata(HashMap::from([(
            "PARQUET:field_id".to_string(),
            id.to_string(),
        )]))
    };
    let arrow_schema = Arc::new(ArrowSchema::new(vec![
        with_id("id", DataType::Int64, 1),
        with_id("category", DataType::Utf8, 2),
        with_id("amount", DataType::Float64, 3),
    ]));
    let batch = |ids: std::ops::Range<i64>| {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ids.clone().collect::<Vec<_>>())),
            Arc::new(StringArray::from(
                ids.clone()
                    .map(|i| ["a", "b", "c"][(i % 3) as usize])
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                ids.map(|i| {
                    if i % 7 == 0 {
                        None
                    } else {
                        Some(i as f64 * 0.5)
                    }
                })
                .collect::<Vec<_>>(),
            )),
        ];
        RecordBatch::try_new(arrow_schema.clone(), columns).expect("batch")
    };
    let batches = [batch(0..40), batch(40..60)];
    for (i, b) in batches.iter().enumerate() {
        let writer_builder = ParquetWriterBuilder::new(
            WriterProperties::builder().build(),
            table.metadata().current_schema().clone(),
        );
        let rolling = RollingFileWriterBuilder::new_with_default_file_size(
            writer_builder,
            table.file_io().clone(),
            DefaultLocationGenerator::new(table.metadata()).expect("locations"),
            DefaultFileNameGenerator::new(format!("part{i}"), None, DataFileFormat::Parquet),
        );
        let mut writer = DataFileWriterBuilder::new(rolling)
            .build(None)
            .await
            .expect("writer");
        writer.write(b.clone()).await.expect("write");
        let files = writer.close().await.expect("close");
        let tx = Transaction::new(&table);
        let tx = tx
            .fast_append()
            .add_data_files(files)
            .apply(tx)
            .expect("append");
        table = tx.commit(&catalog).await.expect("commit");
    }
    let all = datafusion::arrow::compute::concat_batches(&arrow_schema, &batches).expect("concat");
    (
        format!(
            "iceberg:sqlite:{}/rs_catalog.db?name=rs#default.people",
            dir.display()
        ),
        all,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_written_by_iceberg_rust_read_like_their_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (reference, rows) = write_with_iceberg_rust(dir.path()).await;
    let twin = dir.path().join("twin.parquet");
    super::fixtures::write(&twin, &rows);
    let rules = RULES
        .replace(
            "Mean \"amount\" > 0,",
            "Mean \"amount\" > 0, RowCount = 60,",
        )
        .replace("ColumnValues \"ts\" > \"2026-11-01\",", "");
    let r = assert_same(&rules, spec(&reference, SourceOptions::default()), &twin).await;
    assert_eq!(r.passed, r.rules.len(), "{r:#?}");
}

/// A moto server (Glue and S3 emulation from the pyiceberg virtualenv) on a
/// loopback port, stopped on drop.
struct Moto {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto(python: &str) -> Option<Moto> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let server = Path::new(python).with_file_name("moto_server");
    if !server.exists() {
        eprintln!(
            "\n*** SKIPPING the Glue catalog test: moto_server is not in the virtualenv ***\n"
        );
        return None;
    }
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start moto_server");
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(moto);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("moto_server did not start on port {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iceberg_tables_through_a_glue_catalog() {
    let Some(python) = python() else { return };
    let Some((root, _)) = fixtures() else { return };
    let Some(moto) = start_moto(&python) else {
        return;
    };
    let out_dir = tempfile::tempdir().expect("tempdir");
    write_remote_events(
        python,
        "--glue",
        moto.endpoint.clone(),
        "warehouse-bucket",
        out_dir.path().to_path_buf(),
    )
    .await;
    super::s3::use_test_credentials();
    let options = SourceOptions {
        endpoint: Some(moto.endpoint.clone()),
        region: Some("us-east-1".into()),
        ..SourceOptions::default()
    };
    let reference = format!("iceberg:glue:{}#default.events", moto.endpoint);
    let r = assert_same(
        RULES,
        spec(&reference, options.clone()),
        &root.join("events_all.parquet"),
    )
    .await;
    assert_eq!(
        r.rules[0].message,
        "Dataset.*.RowCount was 150; required > 0"
    );
    let e = check(
        RULES,
        spec(
            &format!("iceberg:glue:{}#default.nope", moto.endpoint),
            options,
        ),
    )
    .await
    .expect_err("no such table");
    assert!(
        e.to_string()
            .contains("cannot load table default.nope from Glue"),
        "{e}"
    );
}

/// On the server, the files Iceberg metadata names are confined too: a
/// metadata file copied under an allowed root still names manifest lists,
/// manifests and data files outside it, and none of those is opened. With
/// the table's own folder allowed, the same metadata reads normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_named_by_iceberg_metadata_are_confined() {
    let Some((root, expected)) = fixtures() else {
        return;
    };
    let url = expected["parted"]["metadata"].as_str().expect("metadata");
    let metadata = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
    let allowed = tempfile::tempdir().expect("tempdir");
    let copy = allowed.path().join("copied.metadata.json");
    std::fs::copy(&metadata, &copy).expect("copy the metadata file");
    let confined = |roots: Vec<PathBuf>| {
        let confinement =
            dqgate::source::confine::Confinement::new(&roots, &[], &[]).expect("confinement");
        DatasetSpec {
            confinement: Some(std::sync::Arc::new(confinement)),
            ..spec(
                &format!("iceberg:{}", copy.display()),
                SourceOptions::default(),
            )
        }
    };
    let refused = check(
        "Rules = [ RowCount > 0 ]",
        confined(vec![allowed.path().to_path_buf()]),
    )
    .await;
    let message = match refused {
        Err(e) => e.to_string(),
        Ok(r) => r.rules[0].message.clone(),
    };
    assert!(message.contains("may not read"), "{message}");
    let read = check(
        "Rules = [ RowCount = 90 ]",
        confined(vec![allowed.path().to_path_buf(), root.clone()]),
    )
    .await
    .expect("reads with the table folder allowed");
    assert_eq!(
        read.rules[0].outcome,
        Outcome::Passed,
        "{:?}",
        read.rules[0]
    );
}
