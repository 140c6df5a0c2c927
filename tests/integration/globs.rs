//! Globs and prefixes as README writes them: nested local globs over hive
//! folders, `s3://bucket/*.parquet`, `s3://bucket/prefix/**/*.parquet`, and
//! an S3 prefix with or without its trailing slash.

use std::path::Path;

use dqgate::check::{CheckRequest, run};
use dqgate::plan::Outcome;
use dqgate::report::Report;
use dqgate::source::{DatasetSpec, Format, SourceOptions};

use super::s3::S3Server;

async fn check(
    location: &str,
    format: Option<Format>,
    options: SourceOptions,
    rules: &str,
) -> Report {
    run(CheckRequest {
        ruleset_name: "globs".into(),
        ruleset_text: format!("Rules = [ {rules} ]"),
        datasets: vec![DatasetSpec {
            alias: "primary".into(),
            location: location.into(),
            format,
            options,
            confinement: None,
        }],
        now: Some(super::fixtures::now()),
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .unwrap_or_else(|e| panic!("{location}: {e}"))
}

fn assert_all_passed(report: &Report) {
    for r in &report.rules {
        assert_eq!(r.outcome, Outcome::Passed, "{}: {}", r.rule, r.message);
    }
}

/// Copies the 10-row people fixture to each relative path under `root`.
fn lay_out(root: &Path, paths: &[&str]) {
    let batch = super::fixtures::people();
    for p in paths {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        super::fixtures::write(&path, &batch);
    }
}

const TREE: [&str; 5] = [
    "sessions/day=1/a.parquet",
    "sessions/day=2/b.parquet",
    "sessions/day=2/late/c.parquet",
    "sessions/day=2/_SUCCESS.parquet",
    "other/d.parquet",
];

#[tokio::test]
async fn nested_local_globs_match_folder_by_folder_and_keep_hive_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    lay_out(dir.path(), &TREE);
    let root = dir.path().display();
    // `*` stays within one folder: the two day files, not late/c.parquet.
    let report = check(
        &format!("{root}/sessions/*/*.parquet"),
        None,
        SourceOptions::default(),
        r#"RowCount = 20, ColumnValues "day" in ["1", "2"], IsComplete "day""#,
    )
    .await;
    assert_all_passed(&report);
    // `**` crosses any number of folders, none included.
    let report = check(
        &format!("{root}/sessions/**/*.parquet"),
        None,
        SourceOptions::default(),
        r#"RowCount = 30, ColumnValues "day" in ["1", "2"]"#,
    )
    .await;
    assert_all_passed(&report);
    let report = check(
        &format!("{root}/*/day=2/*.parquet"),
        None,
        SourceOptions::default(),
        "RowCount = 10",
    )
    .await;
    assert_all_passed(&report);
    let missing = run(CheckRequest {
        ruleset_name: "globs".into(),
        ruleset_text: "Rules = [ RowCount > 0 ]".into(),
        datasets: vec![DatasetSpec::parse(
            &format!("{root}/sessions/*/*.csv"),
            "primary",
        )],
        now: None,
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .expect_err("nothing matches");
    assert!(
        missing.to_string().contains("no csv files matched"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_globs_match_like_local_ones() {
    let server = S3Server::start().await;
    server.bucket("lake");
    let local = tempfile::tempdir().expect("tempdir");
    lay_out(local.path(), &TREE);
    server.upload(local.path(), "lake", "").await;
    let report = check(
        "s3://lake/*/*.parquet",
        None,
        server.options(),
        "RowCount = 10",
    )
    .await;
    assert_all_passed(&report);
    let report = check(
        "s3://lake/sessions/day=?/*.parquet",
        None,
        server.options(),
        "RowCount = 20",
    )
    .await;
    assert_all_passed(&report);
    let report = check(
        "s3://lake/sessions/**/*.parquet",
        None,
        server.options(),
        r#"RowCount = 30, ColumnExists "id""#,
    )
    .await;
    assert_all_passed(&report);
    let report = check(
        "s3://lake/sessions/*/*.parquet",
        None,
        server.options(),
        r#"RowCount = 20, ColumnValues "day" in ["1", "2"]"#,
    )
    .await;
    assert_all_passed(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_globs_at_the_bucket_root() {
    let server = S3Server::start().await;
    server.bucket("lake");
    let local = tempfile::tempdir().expect("tempdir");
    lay_out(
        local.path(),
        &["a.parquet", "b.parquet", "deeper/c.parquet"],
    );
    server.upload(local.path(), "lake", "").await;
    let report = check(
        "s3://lake/*.parquet",
        None,
        server.options(),
        "RowCount = 20",
    )
    .await;
    assert_all_passed(&report);
}

/// Before: `s3://lake/sessions` (no slash) with its format given was probed
/// with a HEAD, whose error ended the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_prefixes_read_with_or_without_the_trailing_slash() {
    let server = S3Server::start().await;
    server.bucket("lake");
    let local = tempfile::tempdir().expect("tempdir");
    lay_out(
        local.path(),
        &["sessions/day=1/a.parquet", "sessions/day=2/b.parquet"],
    );
    server.upload(local.path(), "lake", "").await;
    for location in ["s3://lake/sessions", "s3://lake/sessions/"] {
        for format in [None, Some(Format::Parquet)] {
            let report = check(
                location,
                format,
                server.options(),
                r#"RowCount = 20, ColumnValues "day" in ["1", "2"]"#,
            )
            .await;
            assert_all_passed(&report);
        }
    }
}
