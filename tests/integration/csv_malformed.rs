//! CSV rows with the wrong number of fields: by default the read stops at
//! the file and line; with the dataset option `malformed_rows = "count"`
//! (Spark's PERMISSIVE mode) each such row is read as NULLs, failing the
//! rules NULL fails, and counted as `Dataset.*.MalformedRows`.

use std::path::Path;
use std::process::Command;

use dqgate::check::{CheckRequest, run};
use dqgate::plan::Outcome;
use dqgate::report::Report;
use dqgate::source::{DatasetSpec, MalformedRows, SourceOptions};
use serde_json::json;

use super::service::{ADMIN, backends, start};

/// Five rows: line 3 has a field too many, line 5 one too few.
const PEOPLE: &str = "id,name,score\n1,a,10\n2,b,20,extra\n3,c,30\n4,d\n5,e,50\n";

fn spec(alias: &str, location: &Path, count: bool) -> DatasetSpec {
    DatasetSpec {
        alias: alias.into(),
        location: location.display().to_string(),
        options: SourceOptions {
            malformed_rows: count.then_some(MalformedRows::Count),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn check(datasets: Vec<DatasetSpec>, rules: &str) -> Result<Report, String> {
    run(CheckRequest {
        ruleset_name: "t".into(),
        ruleset_text: format!("Rules = [ {rules} ]"),
        datasets,
        now: None,
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .map_err(|e| e.to_string())
}

#[tokio::test]
async fn malformed_rows_fail_by_default_and_are_counted_on_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("people.csv");
    std::fs::write(&file, PEOPLE).expect("write");

    let failed = check(vec![spec("primary", &file, false)], "RowCount = 5").await;
    let message = match failed {
        Err(e) => e,
        Ok(r) => r.rules[0].message.clone(),
    };
    assert!(
        message.contains("line 3 has 4 fields where the header has 3"),
        "{message}"
    );

    let report = check(
        vec![spec("primary", &file, true)],
        "RowCount = 5, IsComplete \"id\", Completeness \"id\" = 0.6, Sum \"score\" = 90, ColumnValues \"name\" in [\"a\", \"c\", \"e\"] with threshold = 0.6",
    )
    .await
    .expect("check runs");
    let outcomes: Vec<Outcome> = report.rules.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Passed,
            Outcome::Failed,
            Outcome::Passed,
            Outcome::Passed,
            Outcome::Passed
        ],
        "{:#?}",
        report.rules
    );
    assert_eq!(
        report.analyzers.get("Dataset.*.MalformedRows"),
        Some(&2.0),
        "{:?}",
        report.analyzers
    );
    assert_eq!(report.sources["primary"].malformed_rows, Some(2));
    assert!(
        report
            .series
            .iter()
            .any(|s| s.key.metric == "Dataset.*.MalformedRows" && s.value == 2.0),
        "the count is a recorded series"
    );

    // A partitioned folder: counted over every file, partitions kept; a
    // second dataset is counted under its alias.
    let folder = dir.path().join("by_day");
    for (day, text) in [
        ("2026-11-25", "id,name,score\n1,a,1\n2,b\n"),
        ("2026-11-26", "id,name,score\n3,c,3,3\n4,d,4\n"),
    ] {
        let part = folder.join(format!("day={day}"));
        std::fs::create_dir_all(&part).expect("partition");
        std::fs::write(part.join("part-0.csv"), text).expect("write");
    }
    let clean = dir.path().join("clean.csv");
    std::fs::write(&clean, "id\n1\n2\n").expect("write");
    let report = check(
        vec![spec("primary", &folder, true), spec("ref", &clean, true)],
        "RowCount = 4, ColumnValues \"day\" in [\"2026-11-25\", \"2026-11-26\"], RowCountMatch \"ref\" between 0.4 and 2.1",
    )
    .await
    .expect("check runs");
    assert!(
        report.rules.iter().all(|r| r.outcome == Outcome::Passed),
        "{:#?}",
        report.rules
    );
    assert_eq!(report.analyzers.get("Dataset.*.MalformedRows"), Some(&2.0));
    assert_eq!(
        report.analyzers.get("Dataset.ref.MalformedRows"),
        Some(&0.0)
    );
}

#[test]
fn malformed_rows_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("people.csv"), PEOPLE).expect("write");
    std::fs::write(dir.path().join("rules.dqdl"), "Rules = [ RowCount = 5 ]\n").expect("write");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--ruleset",
            "rules.dqdl",
            "--data",
            "people.csv",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_dqgate"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .expect("dqgate runs")
    };
    let failed = run(&[]);
    assert_eq!(failed.status.code(), Some(2));
    let counted = run(&["--data-option", "malformed_rows=count"]);
    assert_eq!(
        counted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&counted.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&counted.stdout).expect("JSON report");
    assert_eq!(
        report["analyzers"]["Dataset.*.MalformedRows"], 2.0,
        "{report}"
    );
    let bad = run(&["--data-option", "malformed_rows=skip"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_records_the_malformed_row_count() {
    for backend in backends() {
        let s = start(backend).await;
        std::fs::write(s.dir.path().join("people.csv"), PEOPLE).expect("write");
        let r = s
            .put_json(
                "/v1/datasets/landing",
                ADMIN,
                &json!({"format": "csv", "location": s.data("people.csv"), "options": {"malformed_rows": "count"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{backend}: {}", r.json());
        s.put_text(
            "/v1/rulesets/landing",
            ADMIN,
            "Rules = [ IsComplete \"id\" ]",
        )
        .await;
        let run = s
            .post_json(
                "/v1/gate",
                ADMIN,
                &json!({"dataset": "landing", "ruleset": "landing", "stage": "landing", "run_id": "m1"}),
            )
            .await
            .json();
        assert_eq!(run["decision"], "fail", "{backend}: {run}");
        assert_eq!(
            run["analyzers"]["Dataset.*.MalformedRows"], 2.0,
            "{backend}: {run}"
        );
        let trend = s
            .get(
                "/v1/trends?dataset=landing&metric=Dataset.*.MalformedRows",
                ADMIN,
            )
            .await
            .json();
        assert_eq!(trend["values"][0]["value"], 2.0, "{backend}: {trend}");
        let r = s
            .put_json(
                "/v1/datasets/wrong",
                ADMIN,
                &json!({"format": "parquet", "location": s.data("people.parquet"), "options": {"malformed_rows": "count"}}),
            )
            .await;
        assert_eq!(r.status, 400, "{backend}: CSV only");
    }
}
