//! Suggestions a steward can keep, on the demo data: profiled from a
//! clean variant (the planted defects filtered out) the ruleset passes on
//! the clean data and FAILS on the demo's defects; profiled from the demo
//! itself it leaves the rare bad values out of its lists, bounds prices by
//! their bulk, and enumerates no partition dates, names or UUID lengths.

use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::SessionContext;
use dqgate::check::CheckRequest;
use dqgate::plan::Outcome;
use dqgate::report::Report;
use dqgate::sample::{SampleSpec, generate};
use dqgate::source::DatasetSpec;

fn primary(location: &Path) -> DatasetSpec {
    DatasetSpec {
        alias: "primary".into(),
        location: location.display().to_string(),
        ..Default::default()
    }
}

/// Writes the rows of `query` over `source` (registered as `t`) to `out`,
/// partitioned by `partition` when given.
async fn write_filtered(source: &Path, query: &str, out: &Path, partition: Option<&str>) {
    let ctx = SessionContext::new();
    let mut spec = primary(source);
    spec.alias = "t".into();
    dqgate::source::register(&ctx, &spec)
        .await
        .expect("register demo data");
    let df = ctx.sql(query).await.expect("filter");
    let options = match partition {
        Some(p) => DataFrameWriteOptions::new().with_partition_by(vec![p.to_string()]),
        None => DataFrameWriteOptions::new().with_single_file_output(true),
    };
    df.write_parquet(&out.display().to_string(), options, None)
        .await
        .expect("write clean data");
}

async fn check(ruleset: &str, data: &Path, now: chrono::DateTime<chrono::Utc>) -> Report {
    dqgate::check::run(CheckRequest {
        ruleset_name: "suggested".into(),
        ruleset_text: ruleset.to_string(),
        datasets: vec![primary(data)],
        now: Some(now),
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .expect("check runs")
}

fn rule_line<'a>(ruleset: &'a str, start: &str) -> Option<&'a str> {
    ruleset
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(start) || l.starts_with(&format!("({start}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggestions_pass_on_clean_data_and_fail_on_the_planted_defects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let anchor = NaiveDate::from_ymd_opt(2026, 11, 26)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("anchor");
    let demo = generate(
        &dir.path().join("demo"),
        &SampleSpec {
            sessions: 5000,
            days: 3,
            seed: 11,
            anchor,
        },
        |_| {},
    )
    .expect("demo data");
    let now = anchor.and_utc() + Duration::hours(1);
    let clean = dir.path().join("clean");
    std::fs::create_dir_all(&clean).expect("clean dir");
    let (users, sessions, songs) = (
        clean.join("users.parquet"),
        clean.join("sessions"),
        clean.join("songs.parquet"),
    );
    write_filtered(
        &demo.users,
        "SELECT * FROM t WHERE country_code NOT IN ('UK', 'XX', 'usa') AND user_lastname IS NOT NULL",
        &users,
        None,
    )
    .await;
    write_filtered(
        &demo.sessions,
        "SELECT session_id, user_id, song_id, artist_name, price, liked, liked_since, session_start_time, ingestion_date \
         FROM (SELECT *, row_number() OVER (PARTITION BY session_id ORDER BY session_start_time) AS copy FROM t) \
         WHERE copy = 1 AND user_id IS NOT NULL AND price > 0 AND artist_name IS NOT NULL",
        &sessions,
        Some("ingestion_date"),
    )
    .await;
    write_filtered(
        &demo.songs,
        "SELECT * FROM t WHERE artist_name IS NOT NULL",
        &songs,
        None,
    )
    .await;

    // Profiled from clean data: passes there, fails on the defects.
    let cases: [(&PathBuf, &PathBuf, &[&str]); 3] = [
        (&users, &demo.users, &["ColumnValues \"country_code\" in ["]),
        (
            &sessions,
            &demo.sessions,
            &[
                "IsUnique \"session_id\"",
                "IsComplete \"user_id\"",
                "ColumnValues \"price\" between",
                "IsComplete \"price\"",
            ],
        ),
        (&songs, &demo.songs, &["IsComplete \"artist_name\""]),
    ];
    for (clean_data, demo_data, must_fail) in cases {
        let s = dqgate::suggest::suggest(&primary(clean_data), &[], now)
            .await
            .expect("suggest");
        let on_clean = check(&s.ruleset, clean_data, now).await;
        for r in &on_clean.rules {
            assert_eq!(
                r.outcome,
                Outcome::Passed,
                "{}: {} — {}\n{}",
                clean_data.display(),
                r.rule,
                r.message,
                s.ruleset
            );
        }
        let on_demo = check(&s.ruleset, demo_data, now).await;
        for rule in must_fail.iter() {
            let result = on_demo
                .rules
                .iter()
                .find(|r| r.rule.starts_with(rule))
                .unwrap_or_else(|| panic!("no rule {rule} in\n{}", s.ruleset));
            assert_eq!(
                result.outcome,
                Outcome::Failed,
                "{rule} should catch the planted defect: {}\n{}",
                result.message,
                s.ruleset
            );
        }
    }

    // Profiled from the demo itself: every rule passes there, and none
    // codifies a defect.
    let mut texts = Vec::new();
    for data in [&demo.users, &demo.sessions, &demo.songs] {
        let s = dqgate::suggest::suggest(&primary(data), &[], now)
            .await
            .expect("suggest");
        let report = check(&s.ruleset, data, now).await;
        for r in &report.rules {
            assert_eq!(
                r.outcome,
                Outcome::Passed,
                "{} — {}\n{}",
                r.rule,
                r.message,
                s.ruleset
            );
        }
        texts.push(s.ruleset);
    }
    let (users, sessions) = (&texts[0], &texts[1]);
    let country =
        rule_line(users, "ColumnValues \"country_code\" in [").unwrap_or_else(|| panic!("{users}"));
    for bad in ["\"UK\"", "\"XX\"", "\"usa\""] {
        assert!(!country.contains(bad), "{bad} allowed: {country}");
    }
    // This sample's rare codes (seed 11) are two users with "usa".
    assert!(
        users.contains("# review: \"usa\" seen 2 times"),
        "the rare value is not noted for review:\n{users}"
    );
    assert!(country.contains("with threshold >= 0.99"), "{country}");
    for name in ["user_name", "user_lastname"] {
        assert!(
            rule_line(users, &format!("ColumnValues \"{name}\" in")).is_none(),
            "{users}"
        );
    }
    assert!(!users.contains("DataFreshness \"user_since\""), "{users}");
    let price =
        rule_line(sessions, "ColumnValues \"price\"").unwrap_or_else(|| panic!("{sessions}"));
    // The range follows the bulk (never below 0): refunds stay outside,
    // counted in the threshold and listed for review.
    assert!(
        price.starts_with("ColumnValues \"price\" between 0.") && price.contains("with threshold"),
        "{price}"
    );
    assert!(
        sessions.contains("# review: ") && sessions.contains("(or equal), the lowest -"),
        "negative prices not listed:\n{sessions}"
    );
    assert!(
        sessions.contains("ColumnLength \"session_id\" = 36"),
        "{sessions}"
    );
    assert!(
        !sessions.contains("ColumnLength \"session_id\" between"),
        "{sessions}"
    );
    assert!(!sessions.contains("\"ingestion_date\" in ["), "{sessions}");
    assert!(
        sessions.contains("DataFreshness \"session_start_time\""),
        "{sessions}"
    );
    assert!(
        !sessions.contains("DataFreshness \"liked_since\""),
        "{sessions}"
    );
}
