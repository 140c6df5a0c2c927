//! History-aware checks against a real SQLite store: dynamic rules resolved
//! to the digit, DetectAnomalies over simulated DeFtunes days (a row-count
//! drop and a mean-price jump), weekly seasonality, values marked expected,
//! and suggestions that pass on the data they came from.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{ParquetReadOptions, SessionContext, col, lit};
use dqgate::check::{CheckRequest, HistoryScope, prepare};
use dqgate::plan::Outcome;
use dqgate::report::Report;
use dqgate::sample::{SampleSpec, generate};
use dqgate::source::DatasetSpec;
use dqgate::store::Store;

fn primary(location: &Path) -> DatasetSpec {
    DatasetSpec {
        alias: "primary".into(),
        location: location.display().to_string(),
        ..Default::default()
    }
}

/// Checks `data` with `ruleset` as of `now`, reading and then recording
/// history under (`dataset`, `stage`).
async fn day(
    store: &Store,
    ruleset: &str,
    data: &Path,
    now: DateTime<Utc>,
    (dataset, stage): (&str, &str),
) -> Report {
    let prepared = prepare(CheckRequest {
        ruleset_name: "history".into(),
        ruleset_text: ruleset.into(),
        datasets: vec![primary(data)],
        now: Some(now),
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .expect("prepare");
    let history = prepared
        .load_history(
            store,
            HistoryScope {
                dataset,
                stage: Some(stage),
            },
        )
        .await
        .expect("history");
    let report = prepared.evaluate(&history).await;
    store
        .record_report(&report, (dataset, stage), &now.to_rfc3339())
        .await
        .expect("record");
    report
}

/// A CSV of `rows` rows: id, price (id mod 10), kind (`a` or `b`).
fn csv(dir: &Path, name: &str, rows: usize) -> PathBuf {
    let path = dir.join(format!("{name}.csv"));
    let mut text = String::from("id,price,kind\n");
    for i in 0..rows {
        text.push_str(&format!(
            "{i},{},{}\n",
            i % 10,
            if i % 3 == 0 { "a" } else { "b" }
        ));
    }
    std::fs::write(&path, text).expect("write csv");
    path
}

async fn sqlite_store(dir: &Path) -> Store {
    Store::connect(&Store::sqlite_url(dir).expect("url"))
        .await
        .expect("store")
}

/// Asserts rule `i` of a report had `outcome`, showing its message if not.
fn assert_outcome(r: &Report, i: usize, outcome: Outcome) {
    assert_eq!(
        r.rules[i].outcome, outcome,
        "{}: {}",
        r.rules[i].rule, r.rules[i].message
    );
}

fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 6, 0, 0)
        .single()
        .expect("date")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_rules_resolve_against_the_recorded_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite_store(dir.path()).await;
    let rules = r#"Rules = [
        RowCount > avg(last(3)) * 0.8,
        RowCount >= min(last(5)) - 10,
        RowCount > max(last(2)) where "kind = 'a'",
        ColumnValues "price" < 9 with threshold >= avg(last(2)) - 0.05,
        Mean "price" between index(last(3), 0) - 1 and std(last(3)) + 100
    ]"#;
    let scope = ("orders", "landing");
    let mut reports = Vec::new();
    for (i, rows) in [100, 120, 90, 50].into_iter().enumerate() {
        let data = csv(dir.path(), &format!("day{i}"), rows);
        reports.push(
            day(
                &store,
                rules,
                &data,
                monday() + Duration::days(i as i64),
                scope,
            )
            .await,
        );
    }
    let first = &reports[0];
    assert_eq!(first.rules[0].outcome, Outcome::Passed);
    assert_eq!(
        first.rules[0].message,
        "Dataset.*.RowCount was 100; required > avg(last(3)) * 0.8, which resolved to > 0 (no history yet, so last() counted as 0)"
    );
    let last = &reports[3];
    // avg(100, 120, 90) * 0.8 = 82.666…; 50 fails.
    assert_eq!(last.rules[0].outcome, Outcome::Failed);
    assert_eq!(
        last.rules[0].message,
        "Dataset.*.RowCount was 50; required > avg(last(3)) * 0.8, which resolved to > 82.666667 (over 3 past value(s))"
    );
    // min(100, 120, 90) - 10 = 80.
    assert_eq!(last.rules[1].outcome, Outcome::Failed);
    assert!(
        last.rules[1]
            .message
            .ends_with("resolved to >= 80 (over 3 past value(s))"),
        "{}",
        last.rules[1].message
    );
    // The `where` series is its own: kind = 'a' rows were 34, 40, 30; now 17.
    assert_eq!(
        last.rules[2].message,
        "Dataset.*.RowCount was 17; required > max(last(2)), which resolved to > 40 (over 2 past value(s))"
    );
    // Compliance of price < 9 is 0.9 every day: threshold 0.9 - 0.05.
    assert_eq!(last.rules[3].outcome, Outcome::Passed);
    assert!(
        last.rules[3].message.contains("resolved to >= 0.85"),
        "{}",
        last.rules[3].message
    );
    // Mean 4.5 every day: between 4.5 - 1 and 0 + 100.
    assert_eq!(last.rules[4].outcome, Outcome::Passed);
    assert!(
        last.rules[4]
            .message
            .contains("resolved to between 3.5 and 100"),
        "{}",
        last.rules[4].message
    );

    // Another stage has no history yet.
    let data = csv(dir.path(), "other", 10);
    let other = day(&store, rules, &data, monday(), ("orders", "serving")).await;
    assert!(
        other.rules[0].message.contains("no history yet"),
        "{}",
        other.rules[0].message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_store_history_rules_say_what_they_need() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = csv(dir.path(), "d", 5);
    let report = dqgate::check::run(CheckRequest {
        ruleset_name: "r".into(),
        ruleset_text:
            r#"Rules = [ RowCount > avg(last(3)), DetectAnomalies "RowCount", RowCount > 1 ]"#
                .into(),
        datasets: vec![primary(&data)],
        now: None,
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .expect("check");
    assert_eq!(report.rules[0].outcome, Outcome::Error);
    assert!(
        report.rules[0].message.contains("--store"),
        "{}",
        report.rules[0].message
    );
    assert_eq!(report.rules[1].outcome, Outcome::Error);
    assert_eq!(report.rules[2].outcome, Outcome::Passed);
}

/// Writes one simulated DeFtunes day of sessions; `price_factor` scales
/// every price (a currency bug upstream).
async fn deftunes_day(root: &Path, i: usize, sessions: usize, price_factor: f64) -> PathBuf {
    let anchor = NaiveDate::from_ymd_opt(2026, 11, 2)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("anchor")
        + Duration::days(i as i64);
    let dir = root.join(format!("day{i}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let sample = generate(
        &dir,
        &SampleSpec {
            sessions,
            days: 1,
            seed: 7 + i as u64,
            anchor,
        },
        |_| {},
    )
    .expect("sample");
    if price_factor == 1.0 {
        return sample.sessions;
    }
    let ctx = SessionContext::new();
    let df = ctx
        .read_parquet(
            sample.sessions.display().to_string(),
            ParquetReadOptions::default(),
        )
        .await
        .expect("read")
        .with_column("price", col("price") * lit(price_factor))
        .expect("scale");
    let out = dir.join("scaled.parquet");
    df.write_parquet(
        &out.display().to_string(),
        DataFrameWriteOptions::new().with_single_file_output(true),
        None,
    )
    .await
    .expect("write");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anomalies_in_simulated_deftunes_days_are_caught_with_explained_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite_store(&dir.path().join("store")).await;
    let rules = r#"Rules = [
        DetectAnomalies "RowCount",
        DetectAnomalies "Mean" "price"
    ]"#;
    let scope = ("sessions", "transform");
    let when = |i: usize| monday() + Duration::days(i as i64);
    // Eight ordinary days: 2,000 to 2,099 sessions.
    for i in 0..8 {
        let data = deftunes_day(dir.path(), i, 2000 + (i * 37) % 100, 1.0).await;
        let r = day(&store, rules, &data, when(i), scope).await;
        for rule in &r.rules {
            assert_eq!(rule.outcome, Outcome::Passed, "day {i}: {}", rule.message);
        }
        if i < 5 {
            assert!(
                r.rules[0].message.contains("not judged yet"),
                "{}",
                r.rules[0].message
            );
        }
    }
    // Day 8: an upstream outage loses 40% of the sessions.
    let data = deftunes_day(dir.path(), 8, 1200, 1.0).await;
    let drop = day(&store, rules, &data, when(8), scope).await;
    assert_outcome(&drop, 0, Outcome::Failed);
    assert_outcome(&drop, 1, Outcome::Passed);
    let o = &drop.rules[0].observations[0];
    assert!(o.anomalous);
    assert_eq!(o.metric, "Dataset.*.RowCount");
    assert_eq!(o.history, 8);
    let (expected, lower, upper) = (
        o.expected.expect("expected"),
        o.lower.expect("lower"),
        o.upper.expect("upper"),
    );
    assert!((2000.0..2100.0).contains(&expected), "{expected}");
    assert!(
        lower < expected && expected < upper && o.value < lower,
        "{o:?}"
    );
    let suggested = o.suggested_rule.as_deref().expect("suggested rule");
    assert!(suggested.starts_with("RowCount between "), "{suggested}");
    dqgate::dqdl::parse(&format!("Rules = [ {suggested} ]")).expect("the suggestion is valid DQDL");
    assert!(
        drop.rules[0].message.contains("an anomaly; expected"),
        "{}",
        drop.rules[0].message
    );

    // Day 9: prices arrive in cents (×100) although the row count is normal.
    let data = deftunes_day(dir.path(), 9, 2050, 100.0).await;
    let jump = day(&store, rules, &data, when(9), scope).await;
    assert_outcome(&jump, 0, Outcome::Passed);
    assert_outcome(&jump, 1, Outcome::Failed);
    let o = &jump.rules[1].observations[0];
    assert_eq!(o.metric, "Column.price.Mean");
    assert!(o.value > o.upper.expect("upper"), "{o:?}");
    assert!(
        o.suggested_rule
            .as_deref()
            .is_some_and(|r| r.starts_with("Mean \"price\" between ")),
        "{o:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weekly_seasonality_accepts_quiet_weekends_and_marked_values_stop_training() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite_store(&dir.path().join("store")).await;
    let rules = r#"Rules = [
        DetectAnomalies "RowCount",
        DetectAnomalies "RowCount" with seasonality = "weekly",
        DetectAnomalies "RowCount" with seasonality = "weekly" with sensitivity = 100
    ]"#;
    let scope = ("plays", "landing");
    // Five weeks: 100 ± 2 rows on weekdays, 60 ± 1 at the weekend.
    let mut runs = Vec::new();
    for i in 0..35 {
        let weekend = i % 7 >= 5;
        let rows = if weekend { 59 + i % 3 } else { 98 + i % 5 };
        let data = csv(dir.path(), &format!("d{i}"), rows);
        let r = day(
            &store,
            rules,
            &data,
            monday() + Duration::days(i as i64),
            scope,
        )
        .await;
        runs.push(r);
    }
    // A sixth Saturday with 61 rows.
    let data = csv(dir.path(), "sat", 61);
    let saturday = monday() + Duration::days(40);
    let r = day(&store, rules, &data, saturday, scope).await;
    assert_eq!(
        r.rules[0].outcome,
        Outcome::Failed,
        "no seasonality: {}",
        r.rules[0].message
    );
    assert_eq!(
        r.rules[1].outcome,
        Outcome::Passed,
        "weekly: {}",
        r.rules[1].message
    );
    let weekly = &r.rules[1].observations[0];
    assert_eq!(weekly.history, 5, "five earlier Saturdays");
    assert!(
        weekly.method.contains("5 runs on a Sat"),
        "{}",
        weekly.method
    );
    assert!((59.0..=61.0).contains(&weekly.expected.expect("expected")));

    // A Saturday at 100 rows is anomalous for the weekly baseline only.
    let data = csv(dir.path(), "busy", 100);
    let busy = day(&store, rules, &data, saturday + Duration::days(7), scope).await;
    assert_outcome(&busy, 0, Outcome::Passed);
    assert_outcome(&busy, 1, Outcome::Failed);
    assert_eq!(
        busy.rules[2].outcome,
        Outcome::Passed,
        "sensitivity 100 widens the band"
    );

    // A steward marks that busy Saturday as expected (a promotion): the
    // weekly baseline no longer counts it.
    let run_id = store
        .list_runs(&dqgate::store::RunFilter {
            dataset: Some("plays".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("runs")[0]
        .id
        .clone();
    assert_eq!(
        store
            .set_expected(&run_id, "Dataset.*.RowCount", true)
            .await
            .expect("mark"),
        1
    );
    let data = csv(dir.path(), "next", 60);
    let next = day(&store, rules, &data, saturday + Duration::days(14), scope).await;
    assert_eq!(
        next.rules[1].observations[0].history, 6,
        "the marked run is left out"
    );
    assert_eq!(next.rules[1].outcome, Outcome::Passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggested_rulesets_validate_and_pass_on_their_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let anchor = NaiveDate::from_ymd_opt(2026, 11, 26)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("anchor");
    let sample = generate(
        dir.path(),
        &SampleSpec {
            sessions: 5000,
            days: 3,
            seed: 11,
            anchor,
        },
        |_| {},
    )
    .expect("sample");
    let now = anchor.and_utc() + Duration::hours(1);
    let people = dir.path().join("people");
    std::fs::create_dir_all(&people).expect("dir");
    let (people_file, _) = super::fixtures::write_all(&people);
    for path in [
        sample.sessions.clone(),
        sample.users.clone(),
        sample.songs.clone(),
        PathBuf::from(people_file),
    ] {
        let spec = primary(&path);
        let history = [900.0, 1100.0];
        let s = dqgate::suggest::suggest(&spec, &history, now)
            .await
            .expect("suggest");
        assert!(s.rules >= 3, "{}", s.ruleset);
        let report = dqgate::check::run(CheckRequest {
            ruleset_name: "suggested".into(),
            ruleset_text: s.ruleset.clone(),
            datasets: vec![spec],
            now: Some(now),
            memory_limit: None,
            engine: Default::default(),
        })
        .await
        .expect("check");
        for r in &report.rules {
            assert_eq!(
                r.outcome,
                Outcome::Passed,
                "{}: {} — {}\n{}",
                path.display(),
                r.rule,
                r.message,
                s.ruleset
            );
        }
        // Bounds come from history plus the current count, 20% wider.
        let rows = s.profile.rows as f64;
        let low = (900f64.min(rows) * 0.8).floor() - 1.0;
        assert!(
            s.ruleset
                .contains(&format!("RowCount between {low:.0} and ")),
            "{}",
            s.ruleset
        );
    }
}

#[test]
fn check_store_and_suggest_work_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = csv(dir.path(), "orders", 20);
    let rules = dir.path().join("rules.dqdl");
    std::fs::write(&rules, "Rules = [ RowCount >= avg(last(3)) ]").expect("write");
    let store = format!("sqlite://{}/store.db?mode=rwc", dir.path().display());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dqgate"))
            .args(args)
            .output()
            .expect("run dqgate")
    };
    let check = |json: bool| {
        let mut args = vec![
            "check",
            "--ruleset",
            rules.to_str().expect("utf-8"),
            "--data",
            data.to_str().expect("utf-8"),
            "--store",
            &store,
            "--dataset-name",
            "orders",
        ];
        if json {
            args.extend(["--format", "json"]);
        }
        run(&args)
    };
    assert!(check(false).status.success());
    let second = check(true);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).expect("json");
    assert_eq!(
        report["rules"][0]["message"],
        "Dataset.*.RowCount was 20; required >= avg(last(3)), which resolved to >= 20 (over 1 past value(s))"
    );
    // Without --store the rule says what it needs, and the check exits 1.
    let bare = run(&[
        "check",
        "--ruleset",
        rules.to_str().expect("utf-8"),
        "--data",
        data.to_str().expect("utf-8"),
    ]);
    assert_eq!(bare.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bare.stdout).contains("needs a results store"));

    // suggest prints a ruleset that validates; with the store, row-count
    // bounds come from the two recorded runs.
    let out = dir.path().join("suggested.dqdl");
    let suggested = run(&[
        "suggest",
        "--data",
        data.to_str().expect("utf-8"),
        "--store",
        &store,
        "--dataset-name",
        "orders",
        "--output",
        out.to_str().expect("utf-8"),
    ]);
    assert!(
        suggested.status.success(),
        "{}",
        String::from_utf8_lossy(&suggested.stderr)
    );
    let text = std::fs::read_to_string(&out).expect("suggested file");
    assert!(text.contains("RowCount between 15 and 25"), "{text}");
    let valid = run(&["validate", out.to_str().expect("utf-8")]);
    assert!(
        valid.status.success(),
        "{}",
        String::from_utf8_lossy(&valid.stdout)
    );
}
