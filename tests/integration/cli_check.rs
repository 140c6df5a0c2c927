//! `dqgate check` as a user runs it: exit codes, the JSON report contract
//! (golden), `--explain`, bad inputs, and `--failed-rows`.

use std::path::Path;
use std::process::{Command, Output};

use super::fixtures;

const NOW: &str = "2026-11-26T12:00:00Z";

fn dqgate(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dqgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("DQGATE_NOW")
        .output()
        .expect("dqgate runs")
}

fn setup(ruleset: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fixtures::write_all(dir.path());
    std::fs::write(dir.path().join("rules.dqdl"), ruleset).expect("write ruleset");
    dir
}

fn check(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "check",
        "--ruleset",
        "rules.dqdl",
        "--data",
        "people.parquet",
        "--data",
        "reference=reference.parquet",
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    dqgate(&args, dir)
}

#[test]
fn exit_codes_follow_outcomes() {
    let dir = setup("Rules = [ RowCount = 10, IsComplete \"id\" ]\n");
    assert_eq!(check(dir.path(), &[]).status.code(), Some(0));

    std::fs::write(
        dir.path().join("rules.dqdl"),
        "Rules = [ RowCount = 10, IsComplete \"name\" ]\n",
    )
    .expect("write");
    let out = check(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL  IsComplete \"name\""), "{stdout}");
    assert!(
        stdout.contains("score 50.0%: 1 passed, 1 failed, 0 errors"),
        "{stdout}"
    );

    std::fs::write(
        dir.path().join("rules.dqdl"),
        "Rules = [ Mean \"name\" > 1 ]\n",
    )
    .expect("write");
    assert_eq!(
        check(dir.path(), &[]).status.code(),
        Some(1),
        "an Error outcome exits 1"
    );

    std::fs::write(dir.path().join("rules.dqdl"), "Rules = [ RowCount > ]\n").expect("write");
    let out = check(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rules.dqdl:1:22: error: expected"));
}

#[test]
fn unreadable_primary_data_cannot_run() {
    let dir = setup("Rules = [ RowCount > 0 ]\n");
    let out = dqgate(
        &[
            "check",
            "--ruleset",
            "rules.dqdl",
            "--data",
            "nowhere.parquet",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no file or folder at nowhere.parquet"));

    std::fs::write(
        dir.path().join("corrupt.parquet"),
        b"PAR1 this is not parquet at all",
    )
    .expect("write");
    let out = dqgate(
        &[
            "check",
            "--ruleset",
            "rules.dqdl",
            "--data",
            "corrupt.parquet",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dataset `primary`: cannot read corrupt.parquet"),
        "{stderr}"
    );
}

#[test]
fn unreadable_alias_fails_only_its_rules() {
    let dir = setup("Rules = [ RowCount = 10, RowCountMatch \"broken\" > 0 ]\n");
    std::fs::write(dir.path().join("broken.parquet"), b"garbage").expect("write");
    let out = dqgate(
        &[
            "check",
            "--ruleset",
            "rules.dqdl",
            "--data",
            "people.parquet",
            "--data",
            "broken=broken.parquet",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["rules"][0]["outcome"], "Passed");
    assert_eq!(report["rules"][1]["outcome"], "Error");
    assert!(
        report["rules"][1]["message"]
            .as_str()
            .unwrap_or("")
            .contains("dataset `broken`: cannot read")
    );
}

#[test]
fn empty_dataset_counts_zero_rows() {
    let dir = setup(
        "Rules = [ RowCount = 0, Completeness \"id\" > 0.5, ColumnValues \"age\" > 0, IsUnique \"id\" ]\n",
    );
    let empty = fixtures::people().slice(0, 0);
    fixtures::write(&dir.path().join("empty.parquet"), &empty);
    let out = dqgate(
        &[
            "check",
            "--ruleset",
            "rules.dqdl",
            "--data",
            "empty.parquet",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let outcomes: Vec<&str> = report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or(""))
        .collect();
    // SPEC §6 DECISION: statistics are Error without rows; per-row rules pass.
    assert_eq!(outcomes, ["Passed", "Error", "Passed", "Error"]);
}

#[test]
fn missing_column_fails_with_the_columns_there_are() {
    let dir = setup("Rules = [ IsComplete \"emial\", RowCount = 10 ]\n");
    let out = check(dir.path(), &["--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["rules"][0]["outcome"], "Failed");
    assert_eq!(
        report["rules"][0]["message"],
        "Input data does not include column emial! Columns in `primary`: id, name, age, score, city, joined, seen, flag, code"
    );
    assert_eq!(report["rules"][1]["outcome"], "Passed");
}

#[test]
fn json_report_matches_golden() {
    let ruleset = "DefaultLabels = [\"team\"=\"data\"]\nRules = [\n    RowCount = 10,\n    Completeness \"age\" >= 0.9 labels=[\"severity\"=\"warn\"],\n    ColumnValues \"age\" between 20 and 50,\n    Mean \"name\" > 1,\n    (IsComplete \"id\") and (Uniqueness \"name\" > 0.5)\n]\nAnalyzers = [ Completeness \"city\", Mean \"score\" ]\n";
    let dir = setup(ruleset);
    let out = check(dir.path(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let mut report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    // Wall-clock fields vary run to run.
    assert!(report["duration_ms"].is_u64());
    assert!(
        report["started_at"]
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
    );
    report["duration_ms"] = 0.into();
    report["started_at"] = "<started_at>".into();
    report["dataset"] = "<dataset>".into();
    let actual = format!(
        "{}\n",
        serde_json::to_string_pretty(&report).expect("pretty")
    );
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/report/people.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &actual).expect("write golden");
    }
    let expected =
        std::fs::read_to_string(&golden).expect("golden exists (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(actual, expected);
}

#[test]
fn explain_names_each_scan_and_the_rules_it_serves() {
    let dir = setup(
        "Rules = [ RowCount > 0, Completeness \"age\" > 0.5 where \"city = 'NY'\", IsUnique \"id\", Uniqueness \"id\" > 0.5 ]\n",
    );
    let out = check(dir.path(), &["--explain"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("scan 1 — aggregate over `primary`"),
        "{stdout}"
    );
    assert!(stdout.contains("FILTER (WHERE (city = 'NY'))"), "{stdout}");
    assert!(
        stdout.contains("scan 2 — frequency over `primary`"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("scan 3"),
        "IsUnique and Uniqueness share one GROUP BY:\n{stdout}"
    );
    assert!(
        stdout.contains("  serves: IsUnique \"id\"\n  serves: Uniqueness \"id\" > 0.5"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_rows_are_written_with_the_rules_they_failed() {
    let dir = setup(
        "Rules = [ RowCount = 10, ColumnValues \"age\" > 25, ColumnValues \"name\" != EMPTY where \"id <= 5\", IsComplete \"id\" ]\n",
    );
    let out_path = dir.path().join("failed.parquet");
    let out = check(dir.path(), &["--failed-rows", "failed.parquet"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ctx = datafusion::prelude::SessionContext::new();
    ctx.register_parquet(
        "f",
        out_path.display().to_string().as_str(),
        Default::default(),
    )
    .await
    .expect("failed rows are Parquet");
    let batches = ctx
        .sql("SELECT id, array_to_string(\"DataQualityRulesFail\", '|') AS fails, array_to_string(\"DataQualityRulesSkip\", '|') AS skips FROM f ORDER BY id")
        .await
        .expect("query")
        .collect()
        .await
        .expect("rows");
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .expect("format")
        .to_string();
    // age > 25 fails ids 2 (25), 3 (NULL), 6 (20), 7 (NULL); name != EMPTY
    // fails id 5 (""), and only ids <= 5 are checked for it.
    for (id, fails) in [
        (2, "ColumnValues \"age\" > 25"),
        (3, "ColumnValues \"age\" > 25"),
        (5, "ColumnValues \"name\" != EMPTY where \"id <= 5\""),
        (6, "ColumnValues \"age\" > 25"),
        (7, "ColumnValues \"age\" > 25"),
    ] {
        assert!(
            text.contains(&format!("| {id}  | {fails}")),
            "row {id} should fail {fails}:\n{text}"
        );
    }
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 5, "{text}");
    assert!(
        text.contains("ColumnValues \"name\" != EMPTY where \"id <= 5\" |"),
        "skips listed:\n{text}"
    );
}

#[test]
fn memory_limit_is_parsed_and_applied() {
    let dir = setup("Rules = [ RowCount = 10, IsUnique \"id\" ]\n");
    assert_eq!(
        check(dir.path(), &["--memory-limit", "256MiB"])
            .status
            .code(),
        Some(0)
    );
    let bad = check(dir.path(), &["--memory-limit", "lots"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a size such as 512MiB or 4GiB"));
}

#[test]
fn the_evaluation_timeout_and_engine_are_checked() {
    let dir = setup("Rules = [ RowCount = 10 ]\n");
    assert_eq!(
        check(dir.path(), &["--eval-timeout-secs", "600"])
            .status
            .code(),
        Some(0)
    );
    // Nothing finishes within zero seconds: the check stops, it does not
    // report.
    let stopped = check(dir.path(), &["--eval-timeout-secs", "0"]);
    assert_eq!(stopped.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&stopped.stderr)
            .contains("the check did not finish within 0 s (--eval-timeout-secs)"),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert!(stopped.stdout.is_empty());
    let bad = check(dir.path(), &["--engine", "spark://x"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("df://HOST[:PORT]"));
}
