//! The DeFtunes sample checked with rulesets/deftunes: exactly the rules
//! whose trailing comment says "expected to fail" fail, nothing errors.

use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use dqgate::check::{CheckRequest, prepare, run};
use dqgate::dqdl;
use dqgate::plan::Outcome;
use dqgate::sample::{SampleSpec, generate};
use dqgate::source::DatasetSpec;

fn spec(alias: &str, path: &Path) -> DatasetSpec {
    DatasetSpec {
        alias: alias.into(),
        location: path.display().to_string(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deftunes_rulesets_fail_exactly_where_they_say() {
    let dir = tempfile::tempdir().expect("tempdir");
    let anchor = NaiveDate::from_ymd_opt(2026, 11, 26)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("anchor");
    let now = anchor.and_utc() + chrono::Duration::hours(6);
    let sample = generate(
        dir.path(),
        &SampleSpec {
            sessions: 20_000,
            days: 7,
            seed: 42,
            anchor,
        },
        |_| {},
    )
    .expect("sample data");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/deftunes");
    for (name, datasets) in [
        (
            "sessions",
            vec![
                spec("primary", &sample.sessions),
                spec("users", &sample.users),
                spec("songs", &sample.songs),
            ],
        ),
        ("users", vec![spec("primary", &sample.users)]),
        ("songs", vec![spec("primary", &sample.songs)]),
    ] {
        let text = std::fs::read_to_string(root.join(format!("{name}.dqdl"))).expect("ruleset");
        let parsed = dqdl::parse(&text).expect("valid ruleset");
        let rules = parsed.rules.as_ref().expect("rules");
        assert!(
            (15..=30).contains(&rules.len()),
            "{name}: {} rules",
            rules.len()
        );
        let report = run(CheckRequest {
            ruleset_name: name.into(),
            ruleset_text: text.clone(),
            datasets,
            now: Some(now),
            memory_limit: None,
            engine: Default::default(),
        })
        .await
        .expect("check runs");
        for (rule, result) in rules.iter().zip(&report.rules) {
            let expect_fail = rule
                .trailing_comment
                .as_deref()
                .is_some_and(|c| c.contains("expected to fail"));
            let want = if expect_fail {
                Outcome::Failed
            } else {
                Outcome::Passed
            };
            assert_eq!(
                result.outcome, want,
                "{name}: {}\n{}",
                result.rule, result.message
            );
        }
    }
}

#[test]
fn demo_command_generates_and_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_dqgate"))
        .args([
            "demo", "--rows", "3000", "--days", "3", "--format", "json", "--out", "sample",
        ])
        .current_dir(dir.path())
        .output()
        .expect("demo runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(reports.as_array().map(Vec::len), Some(3));
    assert!(dir.path().join("sample/rulesets/sessions.dqdl").exists());
    let partitions = std::fs::read_dir(dir.path().join("sample/sessions"))
        .expect("sessions dir")
        .count();
    assert_eq!(partitions, 3, "one ingestion_date folder per day");
    for r in reports.as_array().into_iter().flatten() {
        assert_eq!(r["errors"], 0, "{r}");
    }
    // The datasets and rulesets wait in the store `dqgate serve` opens.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = dqgate::store::Store::sqlite_url(&dir.path().join("dqgate-data")).expect("url");
        let store = dqgate::store::Store::connect(&url).await.expect("store");
        let datasets = store.list_datasets().await.expect("datasets");
        let names: Vec<&str> = datasets.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["sessions", "songs", "users"]);
        let sessions = std::fs::canonicalize(dir.path().join("sample/sessions")).expect("path");
        assert_eq!(datasets[0].location, sessions.display().to_string());
        let rulesets = store.list_rulesets().await.expect("rulesets");
        assert_eq!(rulesets.len(), 3);
        assert!(rulesets.iter().all(|r| r.version == 1));
    });
}

/// `--explain` of each DeFtunes ruleset, pinned: the scans, their SQL and
/// the rules each serves (UPDATE_GOLDEN=1 rewrites the files).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deftunes_plans_match_golden() {
    let dir = tempfile::tempdir().expect("tempdir");
    let anchor = NaiveDate::from_ymd_opt(2026, 11, 26)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("anchor");
    let sample = generate(
        dir.path(),
        &SampleSpec {
            sessions: 500,
            days: 2,
            seed: 42,
            anchor,
        },
        |_| {},
    )
    .expect("sample data");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, datasets) in [
        (
            "sessions",
            vec![
                spec("primary", &sample.sessions),
                spec("users", &sample.users),
                spec("songs", &sample.songs),
            ],
        ),
        ("users", vec![spec("primary", &sample.users)]),
        ("songs", vec![spec("primary", &sample.songs)]),
    ] {
        let text = std::fs::read_to_string(root.join(format!("rulesets/deftunes/{name}.dqdl")))
            .expect("ruleset");
        let prepared = prepare(CheckRequest {
            ruleset_name: name.into(),
            ruleset_text: text,
            datasets,
            now: Some(anchor.and_utc() + chrono::Duration::hours(6)),
            memory_limit: None,
            engine: Default::default(),
        })
        .await
        .expect("plans");
        let actual = prepared.explain();
        let golden = root.join(format!("tests/golden/plan/{name}.txt"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(golden.parent().expect("folder")).expect("mkdir");
            std::fs::write(&golden, &actual).expect("write golden");
        }
        let expected =
            std::fs::read_to_string(&golden).expect("golden exists (UPDATE_GOLDEN=1 writes it)");
        assert_eq!(actual, expected, "{name}");
    }
}
