//! Errors and reports a new user reads: a bad JSON line at its line, gate
//! messages without CLI flags, hive folders given to `--data`, warnings
//! and composite sides in the text report. (DQDL syntax errors are pinned
//! by the golden files: `missing_comma_in_list`, `column_names_pattern_where`.)

use dqgate::check::{CheckRequest, run};
use dqgate::plan::Outcome;
use dqgate::source::DatasetSpec;

use super::first_hour_cli::dqgate;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn request(location: String, rules: &str) -> CheckRequest {
    CheckRequest {
        ruleset_name: "t".into(),
        ruleset_text: format!("Rules = [ {rules} ]"),
        datasets: vec![DatasetSpec {
            alias: "primary".into(),
            location,
            ..Default::default()
        }],
        now: Some(super::fixtures::now()),
        memory_limit: None,
        engine: Default::default(),
    }
}

/// Before: "Not valid JSON: key must be a string at line 1 column 9".
#[tokio::test]
async fn a_bad_json_line_is_reported_at_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("events");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("a.json"), "{\"a\": 1}\n{\"a\": 2}\n").expect("write");
    std::fs::write(
        folder.join("b.json"),
        "{\"a\": 1}\n\n{\"a\": 2}\n{\"a\": 3,,}\n",
    )
    .expect("write");
    let e = run(request(folder.display().to_string(), "RowCount > 0"))
        .await
        .expect_err("a bad line");
    let message = e.to_string();
    assert!(message.contains("b.json:4: not valid JSON"), "{message}");
    assert!(message.contains("at column"), "{message}");
}

/// Before: "pass it with --data users=PATH", also in the HTTP gate's runs.
#[tokio::test]
async fn a_missing_reference_names_no_command_line_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (people, _) = super::fixtures::write_all(dir.path());
    let report = run(request(
        people,
        r#"ReferentialIntegrity "id" "users.id" = 1"#,
    ))
    .await
    .expect("report");
    let rule = &report.rules[0];
    assert_eq!(rule.outcome, Outcome::Error);
    assert!(rule.message.contains("users"), "{}", rule.message);
    assert!(!rule.message.contains("--"), "{}", rule.message);
}

/// Before: `--data day=1` was read as the alias `day` for the path `1`.
#[test]
fn an_existing_hive_folder_given_to_data_is_a_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("day=1");
    std::fs::create_dir_all(&folder).expect("mkdir");
    super::fixtures::write(&folder.join("part-0.parquet"), &super::fixtures::people());
    std::fs::write(dir.path().join("rules.dqdl"), "Rules = [ RowCount = 10 ]").expect("write");
    let out = dqgate(
        &["check", "--ruleset", "rules.dqdl", "--data", "day=1"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Before: a failed warning read FAIL, and a composite's lines did not say
/// which side they belong to.
#[test]
fn text_report_shows_warnings_and_labels_composite_sides() {
    let dir = tempfile::tempdir().expect("tempdir");
    super::fixtures::write_all(dir.path());
    std::fs::write(
        dir.path().join("rules.dqdl"),
        r#"Rules = [
    IsComplete "age" labels=["severity"="warn"],
    IsComplete "name",
    (RowCount > 5) and (ColumnValues "score" > 100)
]"#,
    )
    .expect("write");
    let out = dqgate(
        &[
            "check",
            "--ruleset",
            "rules.dqdl",
            "--data",
            "people.parquet",
        ],
        dir.path(),
    );
    let report = text(&out.stdout);
    assert!(report.contains("WARN  IsComplete \"age\""), "{report}");
    assert!(report.contains("FAIL  IsComplete \"name\""), "{report}");
    assert!(
        report.contains("      RowCount > 5: Dataset.*.RowCount was 10"),
        "{report}"
    );
    assert!(
        report.contains("      ColumnValues \"score\" > 100: "),
        "{report}"
    );
}
