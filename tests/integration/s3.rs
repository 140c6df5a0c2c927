//! S3 datasets against a real S3-protocol server on loopback (s3s-fs, in
//! this process, with SigV4 authentication): every check on an S3 dataset
//! gives exactly the report of the same files read locally; unreachable
//! endpoints, denied requests and missing keys are clear errors.

use std::path::{Path, PathBuf};
use std::sync::Once;

use aws_credential_types::Credentials;
use dqgate::check::{CheckError, CheckRequest, run};
use dqgate::report::Report;
use dqgate::source::{DatasetSpec, SourceOptions};
use hyper_util::rt::{TokioExecutor, TokioIo};
use object_store::{ObjectStoreExt, PutPayload};

pub const ACCESS_KEY: &str = "dqgate-test-access";
pub const SECRET_KEY: &str = "dqgate-test-secret-0123456789";

/// Uses the test keys as the process's AWS credentials (the override the
/// library offers embedders), so no test depends on the environment.
pub fn use_test_credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        dqgate::source::s3::use_credentials_provider(Credentials::new(
            ACCESS_KEY,
            SECRET_KEY,
            None,
            None,
            "dqgate-tests",
        ));
    });
}

/// An S3 server on 127.0.0.1 serving `root` (one folder per bucket).
pub struct S3Server {
    pub endpoint: String,
    pub root: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server that accepts `keys`.
    pub async fn start_with(keys: (&str, &str)) -> S3Server {
        use_test_credentials();
        let root = tempfile::tempdir().expect("tempdir");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("s3s-fs");
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(keys.0, keys.1));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let service = service.clone();
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        S3Server {
            endpoint: format!("http://{addr}"),
            root,
        }
    }

    /// Starts a server that accepts the test keys.
    pub async fn start() -> S3Server {
        S3Server::start_with((ACCESS_KEY, SECRET_KEY)).await
    }

    pub fn options(&self) -> SourceOptions {
        SourceOptions {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            ..SourceOptions::default()
        }
    }

    pub fn bucket(&self, name: &str) {
        std::fs::create_dir_all(self.root.path().join(name)).expect("bucket");
    }

    /// Uploads every file under `local` to `s3://bucket/prefix/...` through
    /// the S3 protocol.
    pub async fn upload(&self, local: &Path, bucket: &str, prefix: &str) {
        let ctx = datafusion::prelude::SessionContext::new();
        let store = dqgate::source::objects::s3_store(&ctx, bucket, &self.options())
            .await
            .expect("store");
        for file in walk(local) {
            let relative = file.strip_prefix(local).expect("under root");
            let key = if relative.as_os_str().is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}/{}", relative.display())
            };
            let bytes = std::fs::read(&file).expect("read");
            store
                .put(&key.as_str().into(), PutPayload::from(bytes))
                .await
                .expect("put");
        }
    }
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if dir.is_file() {
        return vec![dir.to_path_buf()];
    }
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn spec(alias: &str, location: &str, options: SourceOptions) -> DatasetSpec {
    DatasetSpec {
        alias: alias.into(),
        location: location.into(),
        format: None,
        options,
        confinement: None,
    }
}

async fn check(rules: &str, datasets: Vec<DatasetSpec>) -> Result<Report, CheckError> {
    run(CheckRequest {
        ruleset_name: "s3".into(),
        ruleset_text: rules.into(),
        datasets,
        now: Some(super::fixtures::now()),
        memory_limit: None,
        engine: Default::default(),
    })
    .await
}

/// Outcomes, messages and metrics of a report (what must not depend on
/// where the bytes came from).
fn essence(r: &Report) -> Vec<(String, String, String, String)> {
    r.rules
        .iter()
        .map(|x| {
            (
                x.rule.clone(),
                format!("{:?}", x.outcome),
                x.message.clone(),
                format!("{:?}", x.metrics),
            )
        })
        .collect()
}

const RULES: &str = r#"Rules = [
    RowCount = 10,
    IsComplete "id",
    Completeness "age" > 0.7,
    ColumnValues "score" between 0 and 100,
    IsUnique "id",
    Mean "score" > 1,
    ReferentialIntegrity "id" "reference.id" >= 0.5,
    CustomSql "select count(*) from primary where age > 30" >= 1
]
Analyzers = [ AllStatistics "score" ]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_datasets_read_exactly_like_local_files() {
    let server = S3Server::start().await;
    server.bucket("lake");
    let local = tempfile::tempdir().expect("tempdir");
    let (people, reference) = super::fixtures::write_all(local.path());
    server
        .upload(Path::new(&people), "lake", "raw/people.parquet")
        .await;
    server
        .upload(Path::new(&reference), "lake", "raw/reference.parquet")
        .await;
    server
        .upload(Path::new(&people), "lake", "folders/people/part-0.parquet")
        .await;
    server
        .upload(
            Path::new(&reference),
            "lake",
            "folders/reference/part-0.parquet",
        )
        .await;
    let local_report = check(
        RULES,
        vec![
            spec("primary", &people, SourceOptions::default()),
            spec("reference", &reference, SourceOptions::default()),
        ],
    )
    .await
    .expect("local check");
    // One object, and the same object as a prefix ("folder").
    for (primary, reference) in [
        (
            "s3://lake/raw/people.parquet",
            "s3://lake/raw/reference.parquet",
        ),
        ("s3://lake/folders/people", "s3://lake/folders/reference/"),
    ] {
        let remote = check(
            RULES,
            vec![
                spec("primary", primary, server.options()),
                spec("reference", reference, server.options()),
            ],
        )
        .await
        .expect("s3 check");
        assert_eq!(essence(&remote), essence(&local_report), "{primary}");
        assert_eq!(remote.analyzers, local_report.analyzers);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_hive_partitions_csv_and_json_match_local_reads() {
    let server = S3Server::start().await;
    server.bucket("landing");
    let local = tempfile::tempdir().expect("tempdir");
    // Hive partitions of CSV, and one NDJSON file.
    for (day, rows) in [("2026-11-24", 3), ("2026-11-25", 4)] {
        let dir = local.path().join(format!("csv/ingestion_date={day}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut text = String::from("id,amount\n");
        for i in 0..rows {
            text.push_str(&format!("{i},{}\n", i * 10));
        }
        std::fs::write(dir.join("part-0.csv"), text).expect("csv");
    }
    std::fs::create_dir_all(local.path().join("json")).expect("dir");
    std::fs::write(
        local.path().join("json/a.ndjson"),
        "{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2, \"name\": null}\n",
    )
    .expect("json");
    server
        .upload(&local.path().join("csv"), "landing", "orders")
        .await;
    server
        .upload(&local.path().join("json"), "landing", "people")
        .await;
    let rules = r#"Rules = [
        RowCount = 7,
        ColumnValues "ingestion_date" in ["2026-11-24", "2026-11-25"],
        Sum "amount" = 90,
        RowCount = 4 where "ingestion_date = '2026-11-25'"
    ]"#;
    let local_csv = local.path().join("csv").display().to_string();
    let a = check(
        rules,
        vec![spec("primary", &local_csv, SourceOptions::default())],
    )
    .await
    .expect("local");
    let b = check(
        rules,
        vec![spec("primary", "s3://landing/orders", server.options())],
    )
    .await
    .expect("s3");
    assert_eq!(essence(&a), essence(&b));
    assert_eq!(b.passed, 4, "{b:#?}");
    let json_rules = r#"Rules = [ RowCount = 2, Completeness "name" = 0.5 ]"#;
    let j = check(
        json_rules,
        vec![spec("primary", "s3://landing/people/", server.options())],
    )
    .await
    .expect("json");
    assert_eq!(j.passed, 2, "{j:#?}");

    // A daily slice over the partition column reads one day.
    let mut sliced = server.options();
    sliced.slice_column = Some("ingestion_date".into());
    sliced.start_date = Some("2026-11-25".into());
    sliced.end_date = Some("2026-11-26".into());
    let day = check(
        "Rules = [ RowCount = 4 ]",
        vec![spec("primary", "s3://landing/orders", sliced)],
    )
    .await
    .expect("slice");
    assert_eq!(day.passed, 1, "{day:#?}");
    assert_eq!(
        day.sources["primary"].slice.as_deref(),
        Some(
            "ingestion_date >= 2026-11-25 and ingestion_date < 2026-11-26: 1 of 2 partition(s), 1 of 2 file(s)"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_denied_and_missing_are_clear_errors() {
    let server = S3Server::start().await;
    server.bucket("lake");
    let local = tempfile::tempdir().expect("tempdir");
    let (people, _) = super::fixtures::write_all(local.path());
    server
        .upload(Path::new(&people), "lake", "people.parquet")
        .await;

    let expect_error = |r: Result<Report, CheckError>| match r {
        Err(CheckError::Primary(e)) => e.to_string(),
        other => panic!("expected an unreadable primary dataset, got {other:?}"),
    };
    // Missing key and missing bucket.
    let missing = expect_error(
        check(
            "Rules = [ RowCount > 0 ]",
            vec![spec("primary", "s3://lake/nope/", server.options())],
        )
        .await,
    );
    assert!(
        missing.contains("no data objects under the prefix"),
        "{missing}"
    );
    let no_bucket = expect_error(
        check(
            "Rules = [ RowCount > 0 ]",
            vec![spec("primary", "s3://absent/x.parquet", server.options())],
        )
        .await,
    );
    assert!(no_bucket.contains("s3://absent/x.parquet"), "{no_bucket}");

    // Denied: a server that knows other keys.
    let strict = S3Server::start_with(("someone-else", "another-secret-0123456789")).await;
    strict.bucket("lake");
    let denied = expect_error(
        check(
            "Rules = [ RowCount > 0 ]",
            vec![spec(
                "primary",
                "s3://lake/people.parquet",
                strict.options(),
            )],
        )
        .await,
    );
    assert!(
        denied.to_lowercase().contains("access denied") || denied.contains("403"),
        "{denied}"
    );

    // Unreachable: a loopback port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut dead = server.options();
    dead.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let started = std::time::Instant::now();
    let unreachable = expect_error(
        check(
            "Rules = [ RowCount > 0 ]",
            vec![spec("primary", "s3://lake/people.parquet", dead)],
        )
        .await,
    );
    assert!(
        unreachable.contains("s3://lake/people.parquet"),
        "{unreachable}"
    );
    assert!(started.elapsed().as_secs() < 60, "retries are bounded");

    // A reference dataset that cannot be read fails only its rules.
    let mut dead_ref = server.options();
    dead_ref.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let report = check(
        r#"Rules = [ RowCount = 10, ReferentialIntegrity "id" "reference.id" = 1 ]"#,
        vec![
            spec("primary", "s3://lake/people.parquet", server.options()),
            spec("reference", "s3://gone/ref.parquet", server.options()),
        ],
    )
    .await
    .expect("check");
    assert_eq!(report.rules[0].outcome, dqgate::plan::Outcome::Passed);
    assert_eq!(
        report.rules[1].outcome,
        dqgate::plan::Outcome::Error,
        "{}",
        report.rules[1].message
    );
}

/// A loopback proxy in front of `upstream` that answers the first `fail`
/// connections with 503 Slow Down, then relays bytes unchanged.
async fn flaky_proxy(
    upstream: String,
    fail: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let refused = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let target = upstream.trim_start_matches("http://").to_string();
    let counter = refused.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            if counter.fetch_add(1, Ordering::SeqCst) < fail {
                let mut buf = [0u8; 4096];
                let _ = client.read(&mut buf).await;
                let _ = client
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
                continue;
            }
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (format!("http://{addr}"), refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried() {
    let server = S3Server::start().await;
    server.bucket("lake");
    let local = tempfile::tempdir().expect("tempdir");
    let (people, _) = super::fixtures::write_all(local.path());
    server
        .upload(Path::new(&people), "lake", "people.parquet")
        .await;
    let (endpoint, refused) = flaky_proxy(server.endpoint.clone(), 2).await;
    let mut options = server.options();
    options.endpoint = Some(endpoint);
    let r = check(
        "Rules = [ RowCount = 10 ]",
        vec![spec("primary", "s3://lake/people.parquet", options)],
    )
    .await
    .expect("the check succeeds after retries");
    assert_eq!(r.passed, 1, "{r:#?}");
    assert!(
        refused.load(std::sync::atomic::Ordering::SeqCst) > 2,
        "two 503s were answered and retried"
    );
}
