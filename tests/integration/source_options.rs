//! CSV reading options (`delimiter`, `header`, `null_value`, `quote`) and
//! `format` for a file without an extension: through the library, the
//! command line's `--data-option`, and the registry's `options`.

use std::path::Path;
use std::process::Command;

use dqgate::check::{CheckRequest, run};
use dqgate::plan::Outcome;
use dqgate::source::DatasetSpec;
use serde_json::json;

use super::service::{ADMIN, backends, start};

/// `id;name;score` with a NULL spelled `NA` and a quoted `;`, tab- or
/// `;`-separated, with or without a header.
fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write csv");
    path.display().to_string()
}

const SEMICOLON: &str = "id;name;score\n1;'a;b';NA\n2;c;3\n3;d;4\n";

async fn outcomes(location: String, options: &[(&str, &str)], rules: &str) -> Vec<Outcome> {
    try_outcomes(location, options, rules)
        .await
        .expect("check runs")
}

async fn try_outcomes(
    location: String,
    options: &[(&str, &str)],
    rules: &str,
) -> Result<Vec<Outcome>, String> {
    let mut spec = DatasetSpec {
        alias: "primary".into(),
        location,
        ..Default::default()
    };
    for (k, v) in options {
        spec.set_option(k, v).expect("option");
    }
    let report = run(CheckRequest {
        ruleset_name: "t".into(),
        ruleset_text: format!("Rules = [ {rules} ]"),
        datasets: vec![spec],
        now: None,
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(report.rules.iter().map(|r| r.outcome).collect())
}

#[tokio::test]
async fn each_csv_option_changes_how_the_file_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "semi.csv", SEMICOLON);
    let opts = [("delimiter", ";"), ("quote", "'"), ("null_value", "NA")];
    // Read as written: three columns, `a;b` one value, `NA` a NULL.
    assert_eq!(
        outcomes(
            file.clone(),
            &opts,
            "ColumnCount = 3, RowCount = 3, ColumnValues \"name\" in [\"a;b\", \"c\", \"d\"], Completeness \"score\" between 0.6 and 0.7, Mean \"score\" = 3.5"
        )
        .await,
        vec![Outcome::Passed; 5]
    );
    // Each option is needed: without the delimiter there is one column…
    assert_eq!(
        outcomes(file.clone(), &[], "ColumnCount = 3").await,
        vec![Outcome::Failed]
    );
    // …without the quote `'a;b'` is two fields (a malformed row)…
    let unquoted = try_outcomes(
        file.clone(),
        &[("delimiter", ";"), ("null_value", "NA")],
        "RowCount = 3",
    )
    .await;
    assert!(
        unquoted.as_ref().is_err_and(|e| e.contains("line 2")),
        "{unquoted:?}"
    );
    // …and without null_value `NA` is a value.
    assert_eq!(
        outcomes(
            file.clone(),
            &[("delimiter", ";"), ("quote", "'")],
            "IsComplete \"score\""
        )
        .await,
        vec![Outcome::Passed]
    );
    // header=false: the first line is data, columns are column_1…
    let headless = write(dir.path(), "headless.csv", "1,x\n2,y\n");
    assert_eq!(
        outcomes(
            headless.clone(),
            &[("header", "false")],
            "RowCount = 2, ColumnExists \"column_1\""
        )
        .await,
        vec![Outcome::Passed; 2]
    );
    assert_eq!(
        outcomes(headless, &[], "RowCount = 2").await,
        vec![Outcome::Failed]
    );
    // A tab-separated file without an extension, its format given.
    let tsv = write(dir.path(), "export", "id\tname\n1\tx\n");
    assert_eq!(
        outcomes(
            tsv.clone(),
            &[("format", "csv"), ("delimiter", "tab")],
            "ColumnCount = 2, RowCount = 1"
        )
        .await,
        vec![Outcome::Passed; 2]
    );
    // Unknown options and unusable values are errors.
    let mut spec = DatasetSpec::default();
    assert!(spec.set_option("delimeter", ";").is_err());
    assert!(spec.set_option("header", "maybe").is_err());
    assert!(spec.set_option("format", "xlsx").is_err());
    let bad = run(CheckRequest {
        ruleset_name: "t".into(),
        ruleset_text: "Rules = [ RowCount > 0 ]".into(),
        datasets: vec![DatasetSpec {
            alias: "primary".into(),
            location: tsv,
            format: Some(dqgate::source::Format::Csv),
            options: dqgate::source::SourceOptions {
                delimiter: Some("::".into()),
                ..Default::default()
            },
            confinement: None,
        }],
        now: None,
        memory_limit: None,
        engine: Default::default(),
    })
    .await;
    let message = match bad {
        Err(e) => e.to_string(),
        Ok(r) => format!("{:?}", r.rules[0].message),
    };
    assert!(
        message.contains("delimiter must be one ASCII character"),
        "{message}"
    );
}

#[test]
fn data_option_on_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "export", "id|name\n1|NA\n2|x\n");
    write(dir.path(), "ref.csv", "id;code\n1;a\n2;b\n");
    std::fs::write(
        dir.path().join("rules.dqdl"),
        "Rules = [ ColumnCount = 2, Completeness \"name\" = 0.5, ReferentialIntegrity \"id\" \"ref.id\" = 1.0 ]\n",
    )
    .expect("ruleset");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--ruleset",
            "rules.dqdl",
            "--data",
            "export",
            "--data",
            "ref=ref.csv",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_dqgate"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .expect("dqgate runs")
    };
    let ok = run(&[
        "--data-option",
        "format=csv",
        "--data-option",
        "delimiter=|",
        "--data-option",
        "null_value=NA",
        "--data-option",
        "ref:delimiter=;",
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    let no_format = run(&[]);
    assert_eq!(no_format.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&no_format.stderr).contains("cannot tell the format"),
        "{}",
        String::from_utf8_lossy(&no_format.stderr)
    );
    let unknown = run(&["--data-option", "delimeter=|"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("unknown field `delimeter`"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let no_alias = run(&["--data-option", "other:header=false"]);
    assert_eq!(no_alias.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_alias.stderr).contains("no dataset `other`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_options_read_csv_and_unknown_ones_are_rejected() {
    for backend in backends() {
        let s = start(backend).await;
        write(s.dir.path(), "export", "id;name\n1;NA\n2;x\n");
        let r = s
            .put_json(
                "/v1/datasets/export",
                ADMIN,
                &json!({"format": "csv", "location": s.data("export"),
                        "options": {"delimiter": ";", "null_value": "NA", "header": true, "quote": "\""}}),
            )
            .await;
        assert_eq!(
            r.status,
            201,
            "{backend}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let r = s
            .put_text(
                "/v1/rulesets/export-checks",
                ADMIN,
                "Rules = [ ColumnCount = 2, Completeness \"name\" = 0.5 ]",
            )
            .await;
        assert_eq!(r.status, 201);
        let run = s
            .post_json(
                "/v1/gate",
                ADMIN,
                &json!({"dataset": "export", "ruleset": "export-checks", "stage": "t", "run_id": "csv-1"}),
            )
            .await
            .json();
        assert_eq!(run["decision"], "pass", "{backend}: {run}");
        for (options, needle) in [
            (json!({"delimeter": ";"}), "unknown field `delimeter`"),
            (json!({"delimiter": ";;"}), "one ASCII character"),
        ] {
            let r = s
                .put_json(
                    "/v1/datasets/bad",
                    ADMIN,
                    &json!({"format": "csv", "location": s.data("export"), "options": options}),
                )
                .await;
            assert_eq!(r.status, 400, "{backend}: {options}");
            assert!(
                r.json()["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(needle),
                "{backend}: {}",
                r.json()
            );
        }
        let r = s
            .put_json(
                "/v1/datasets/bad",
                ADMIN,
                &json!({"format": "parquet", "location": s.data("people.parquet"), "options": {"header": false}}),
            )
            .await;
        assert_eq!(r.status, 400, "{backend}: CSV options on Parquet");
    }
}
