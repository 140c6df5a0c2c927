//! File* rules over local folders and S3 prefixes (the in-process S3
//! server): sizes, freshness, content uniqueness and checksums, with
//! hand-computed expectations.

use std::path::Path;

use dqgate::check::{CheckRequest, run};
use dqgate::plan::Outcome;
use dqgate::report::Report;
use dqgate::source::{DatasetSpec, SourceOptions, files::HashAlgorithm};

use super::s3::S3Server;

/// a.csv and b.csv hold the same 13 bytes; c.csv holds 16 other bytes.
fn write_files(dir: &Path) {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("a.csv"), "id,v\n1,x\n2,y\n").expect("a");
    std::fs::write(dir.join("b.csv"), "id,v\n1,x\n2,y\n").expect("b");
    std::fs::write(dir.join("c.csv"), "id,v\n3,zz\n4,www\n").expect("c");
}

async fn check(rules: &str, location: &str, options: SourceOptions) -> Report {
    run(CheckRequest {
        ruleset_name: "files".into(),
        ruleset_text: format!("Rules = [\n{rules}\n]"),
        datasets: vec![DatasetSpec {
            alias: "primary".into(),
            location: location.into(),
            format: None,
            options,
            confinement: None,
        }],
        now: None,
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .expect("check")
}

fn rules(base: &str, copy: &str) -> String {
    let sha = HashAlgorithm::Sha256.digest(b"id,v\n1,x\n2,y\n");
    let md5 = HashAlgorithm::Md5.digest(b"id,v\n1,x\n2,y\n");
    [
        format!("FileSize \"{base}\" between 10 B and 20 B"),
        format!("FileSize \"{base}\" < 15 B"),
        format!("FileSize \"{base}\" < 15 B with threshold >= 0.6"),
        format!("FileSize \"{base}\" > 15 B with uriRegex = \"c[.]csv\""),
        format!("FileFreshness \"{base}\" > (now() - 1 hours)"),
        format!("FileFreshness \"{base}\" < \"2001-01-01\""),
        format!("FileUniqueness \"{base}\" > 0.3"),
        format!("FileUniqueness \"{base}\" = 1"),
        format!("FileMatch \"{base}a.csv\" in [\"{sha}\"]"),
        format!("FileMatch \"{base}a.csv\" in [\"{md5}\"] with hashAlgorithm = \"MD5\""),
        format!("FileMatch \"{base}c.csv\" in [\"{sha}\"]"),
        format!("FileMatch \"{base}\" \"{copy}\""),
        "FileSize > 0 B".to_string(),
        format!("FileSize \"{base}nothing/\" > 0 B"),
    ]
    .join(",\n")
}

fn outcomes(r: &Report) -> Vec<(Outcome, String)> {
    r.rules
        .iter()
        .map(|x| (x.outcome, x.message.clone()))
        .collect()
}

fn assert_expected(r: &Report, base: &str) {
    use Outcome::*;
    let o = outcomes(r);
    let want = [
        Passed, Failed, Passed, Passed, Passed, Failed, Passed, Failed, Passed, Passed, Failed,
        Passed, Passed, Failed,
    ];
    for (i, (got, w)) in o.iter().zip(want).enumerate() {
        assert_eq!(got.0, w, "rule {i} `{}`: {}", r.rules[i].rule, got.1);
    }
    // Hand-computed metrics: sizes 13, 13, 16 bytes.
    let m = &r.rules[0].metrics;
    assert_eq!(m["Dataset.*.FileCount"], 3.0);
    assert_eq!(m["Dataset.*.MaximumFileSize"], 16.0);
    assert_eq!(m["Dataset.*.MinimumFileSize"], 13.0);
    assert_eq!(
        r.rules[2].metrics["Dataset.*.FileSize.Compliance"],
        2.0 / 3.0
    );
    assert_eq!(
        r.rules[3].metrics["Dataset.*.FileCount"], 1.0,
        "uriRegex keeps c.csv"
    );
    assert_eq!(
        r.rules[6].metrics["Dataset.*.FileUniquenessRatio"],
        1.0 / 3.0
    );
    assert!(
        r.rules[1]
            .message
            .starts_with("2 of 3 file(s) passed; failing: "),
        "{}",
        r.rules[1].message
    );
    assert!(
        r.rules[1].message.contains("c.csv"),
        "{}",
        r.rules[1].message
    );
    assert_eq!(
        r.rules[12].metrics["Dataset.*.FileCount"], 3.0,
        "the dataset's own files"
    );
    assert_eq!(r.rules[13].message, format!("no files at {base}nothing/"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_rules_over_local_folders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().join("landing");
    let copy = dir.path().join("copy");
    write_files(&base);
    write_files(&copy);
    let base_text = format!("{}/", base.display());
    let copy_text = format!("{}/", copy.display());
    let r = check(
        &rules(&base_text, &copy_text),
        &base_text,
        SourceOptions::default(),
    )
    .await;
    assert_expected(&r, &base_text);
    // Content matches by default; with matchFileName the names must pair up.
    std::fs::write(copy.join("b.csv"), "changed").expect("write");
    let r = check(
        &format!(
            "FileMatch \"{base_text}\" \"{copy_text}\",\nFileMatch \"{base_text}\" \"{copy_text}\" with matchFileName = \"true\""
        ),
        &base_text,
        SourceOptions::default(),
    )
    .await;
    assert_eq!(
        r.rules[0].outcome,
        Outcome::Passed,
        "b.csv's content is also a.csv's: {}",
        r.rules[0].message
    );
    assert_eq!(r.rules[1].outcome, Outcome::Failed);
    assert!(
        r.rules[1].message.contains("no matching content") && r.rules[1].message.contains("b.csv"),
        "{}",
        r.rules[1].message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_rules_over_s3_prefixes() {
    let server = S3Server::start().await;
    server.bucket("drop");
    let local = tempfile::tempdir().expect("tempdir");
    write_files(local.path());
    server.upload(local.path(), "drop", "landing").await;
    server.upload(local.path(), "drop", "copy").await;
    let r = check(
        &rules("s3://drop/landing/", "s3://drop/copy/"),
        "s3://drop/landing/",
        server.options(),
    )
    .await;
    assert_expected(&r, "s3://drop/landing/");
}
