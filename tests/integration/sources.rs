//! Local sources: CSV, newline-delimited JSON, globs and hive partitions.

use dqgate::check::{CheckRequest, run};
use dqgate::plan::Outcome;
use dqgate::source::DatasetSpec;

use super::fixtures;

async fn outcomes(location: String, rules: &str) -> Vec<(Outcome, String)> {
    let report = run(CheckRequest {
        ruleset_name: "t".into(),
        ruleset_text: format!("Rules = [ {rules} ]"),
        datasets: vec![DatasetSpec {
            alias: "primary".into(),
            location,
            ..Default::default()
        }],
        now: Some(fixtures::now()),
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .expect("check runs");
    report
        .rules
        .into_iter()
        .map(|r| (r.outcome, r.message))
        .collect()
}

fn all_passed(results: &[(Outcome, String)]) {
    for (o, m) in results {
        assert_eq!(*o, Outcome::Passed, "{m}");
    }
}

#[tokio::test]
async fn csv_with_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("orders.csv");
    std::fs::write(&path, "id,amount,country\n1,10.5,US\n2,,DE\n3,7.25,US\n").expect("write");
    all_passed(
        &outcomes(
            path.display().to_string(),
            "RowCount = 3, Completeness \"amount\" between 0.66 and 0.67, Sum \"amount\" = 17.75, ColumnValues \"country\" in [\"US\", \"DE\"]",
        )
        .await,
    );
}

#[tokio::test]
async fn newline_delimited_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.ndjson");
    std::fs::write(&path, "{\"id\": 1, \"kind\": \"play\"}\n{\"id\": 2, \"kind\": null}\n{\"id\": 3, \"kind\": \"buy\"}\n")
        .expect("write");
    all_passed(
        &outcomes(
            path.display().to_string(),
            "RowCount = 3, IsUnique \"id\", ColumnValues \"kind\" in [\"play\", \"buy\", NULL], Mean \"id\" = 2",
        )
        .await,
    );
}

#[tokio::test]
async fn globs_and_hive_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let people = fixtures::people();
    for (day, rows) in [
        ("2026-11-24", (0, 4)),
        ("2026-11-25", (4, 3)),
        ("2026-11-26", (7, 3)),
    ] {
        let part = dir.path().join(format!("people/day={day}"));
        std::fs::create_dir_all(&part).expect("mkdir");
        fixtures::write(&part.join("part-0.parquet"), &people.slice(rows.0, rows.1));
    }
    // The folder: partitions become a `day` column.
    all_passed(
        &outcomes(
            dir.path().join("people").display().to_string(),
            "RowCount = 10, ColumnExists \"day\", RowCount = 3 where \"day = '2026-11-26'\", DistinctValuesCount \"day\" = 3",
        )
        .await,
    );
}

#[tokio::test]
async fn globs_across_folders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let people = fixtures::people();
    for (folder, rows) in [("a", (0, 4)), ("b", (4, 3)), ("c", (7, 3))] {
        let sub = dir.path().join("landing").join(folder);
        std::fs::create_dir_all(&sub).expect("mkdir");
        fixtures::write(&sub.join("part-0.parquet"), &people.slice(rows.0, rows.1));
    }
    let glob = |g: &str| dir.path().join("landing").join(g).display().to_string();
    all_passed(&outcomes(glob("[ab]/*.parquet"), "RowCount = 7").await);
    all_passed(&outcomes(glob("*/part-*.parquet"), "RowCount = 10, IsUnique \"id\"").await);
    let nothing = run(CheckRequest {
        ruleset_name: "t".into(),
        ruleset_text: "Rules = [ RowCount > 0 ]".into(),
        datasets: vec![DatasetSpec {
            alias: "primary".into(),
            location: glob("*/*.csv"),
            ..Default::default()
        }],
        now: None,
        memory_limit: None,
        engine: Default::default(),
    })
    .await;
    assert!(
        matches!(&nothing, Err(e) if e.to_string().contains("no csv files matched")),
        "a glob that matches nothing is an error"
    );
}
