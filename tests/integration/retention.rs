//! Retention (`serve --retention-days`): finished runs older than the
//! retention are deleted with their rule results, metrics and samples;
//! young runs and unfinished runs stay; pruned metrics leave the history;
//! the setting flows from flag, environment and file; on SQLite and
//! PostgreSQL.

use std::time::Duration;

use dqgate::config::{FileConfig, Overrides, ServeConfig};
use dqgate::gate::Decision;
use dqgate::history::SeriesKey;
use dqgate::plan::Outcome;
use dqgate::report::{RowSample, SampledRow};
use dqgate::runs::retention;
use dqgate::store::{Claim, Finished, MetricRecord, Pruned, RuleResultRecord, RunStatus, Store};
use serde_json::json;

use super::service::{backends, fresh_database};

/// Records a finished run `id` with 2 rule results, 1 metric value and a
/// sample of 3 rows, then sets its creation time `days_ago` days back.
async fn finished_run(store: &Store, pool: &sqlx::AnyPool, id: &str, days_ago: i64, value: f64) {
    let params = json!({});
    let claim = store
        .claim_run(id, id, "people", "checks", 1, "landing", &params)
        .await
        .expect("claim");
    assert_eq!(claim, Claim::New(id.to_string()));
    let rules: Vec<RuleResultRecord> = (0..2)
        .map(|i| RuleResultRecord {
            position: i,
            rule: format!("RowCount > {i}"),
            outcome: Outcome::Passed,
            message: String::new(),
            labels: Default::default(),
            observations: serde_json::Value::Null,
        })
        .collect();
    let metrics = [MetricRecord {
        name: "Dataset.*.RowCount".into(),
        value,
        position: Some(0),
        where_clause: String::new(),
        anomaly: None,
    }];
    let samples = [RowSample {
        rule_position: 1,
        rule: "IsComplete \"age\"".into(),
        columns: vec!["age".into()],
        rows: (0..3)
            .map(|_| SampledRow {
                values: vec![None],
                failed_rules: vec!["IsComplete \"age\"".into()],
            })
            .collect(),
    }];
    let at = (chrono::Utc::now() - chrono::Duration::days(days_ago))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    store
        .finish_run(
            id,
            &Finished {
                status: RunStatus::Done,
                decision: Decision::Pass,
                score: Some(1.0),
                counts: (2, 0, 0),
                message: None,
                inputs: &params,
                rules: &rules,
                metrics: &metrics,
                samples: &samples,
                started_at: &at,
                observed_at: &at,
                duration_ms: 5,
            },
        )
        .await
        .expect("finish");
    backdate(pool, id, &at).await;
}

/// Moves a run's creation (and its metrics') back to `at`.
async fn backdate(pool: &sqlx::AnyPool, id: &str, at: &str) {
    sqlx::query("UPDATE runs SET created_at = $1 WHERE id = $2")
        .bind(at)
        .bind(id)
        .execute(pool)
        .await
        .expect("backdate run");
    sqlx::query("UPDATE metrics SET created_at = $1 WHERE run_id = $2")
        .bind(at)
        .bind(id)
        .execute(pool)
        .await
        .expect("backdate metrics");
}

async fn count(pool: &sqlx::AnyPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .expect("count")
}

async fn ids(pool: &sqlx::AnyPool) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM runs ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("ids")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_finished_runs_are_pruned_young_and_unfinished_ones_kept() {
    for backend in backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = fresh_database(backend, dir.path()).await;
        let store = Store::connect(&url).await.expect("store");
        let pool = super::reporting_views::reader(&url).await;
        finished_run(&store, &pool, "old-1", 40, 100.0).await;
        finished_run(&store, &pool, "old-2", 31, 101.0).await;
        finished_run(&store, &pool, "young-1", 29, 102.0).await;
        finished_run(&store, &pool, "young-2", 1, 103.0).await;
        // An old run still queued and an old one still running stay.
        let old = (chrono::Utc::now() - chrono::Duration::days(50))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        for (id, running) in [("old-queued", false), ("old-running", true)] {
            store
                .claim_run(id, id, "people", "checks", 1, "landing", &json!({}))
                .await
                .expect("claim");
            if running {
                store.start_run(id).await.expect("start");
            }
            backdate(&pool, id, &old).await;
        }
        let key = SeriesKey::new("Dataset.*.RowCount", None);
        let before = store
            .load_history("people", Some("landing"), std::slice::from_ref(&key), 100)
            .await
            .expect("history");
        let values = |h: &dqgate::history::History| -> Vec<f64> {
            h.points(&key).iter().map(|p| p.value).collect()
        };
        assert_eq!(
            values(&before),
            vec![100.0, 101.0, 102.0, 103.0],
            "{backend}"
        );

        let pruned = retention::prune_older_than(&store, 30)
            .await
            .expect("prune");
        assert_eq!(
            pruned,
            Pruned {
                runs: 2,
                rule_results: 4,
                metrics: 2,
                samples: 6
            },
            "{backend}"
        );
        assert_eq!(
            ids(&pool).await,
            vec!["old-queued", "old-running", "young-1", "young-2"],
            "{backend}"
        );
        assert_eq!(count(&pool, "rule_results").await, 4, "{backend}");
        assert_eq!(count(&pool, "metrics").await, 2, "{backend}");
        assert_eq!(count(&pool, "failed_row_samples").await, 6, "{backend}");
        // The pruned values are gone from DetectAnomalies' history too.
        let after = store
            .load_history("people", Some("landing"), std::slice::from_ref(&key), 100)
            .await
            .expect("history");
        assert_eq!(values(&after), vec![102.0, 103.0], "{backend}");
        // Nothing is old enough a second time.
        let again = retention::prune_older_than(&store, 30)
            .await
            .expect("prune");
        assert_eq!(again, Pruned::default(), "{backend}");

        // Batches: 5 more old runs pruned 2 per transaction, all of them.
        for i in 0..5 {
            finished_run(&store, &pool, &format!("batch-{i}"), 60, 1.0).await;
        }
        let cutoff = (chrono::Utc::now() - chrono::Duration::days(30))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let pruned = store.prune_runs(&cutoff, 2).await.expect("batches");
        assert_eq!((pruned.runs, pruned.samples), (5, 15), "{backend}");
        assert_eq!(count(&pool, "runs").await, 4, "{backend}");

        // The background task prunes at once when started.
        finished_run(&store, &pool, "task-old", 90, 1.0).await;
        let task = retention::spawn(store.clone(), 30, Duration::from_secs(3600));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while ids(&pool).await.contains(&"task-old".to_string()) {
            assert!(
                std::time::Instant::now() < deadline,
                "{backend}: the task did not prune"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        task.abort();
        assert_eq!(count(&pool, "runs").await, 4, "{backend}");
        pool.close().await;
    }
}

#[test]
fn retention_days_flow_from_flag_env_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = || Overrides {
        data_dir: Some(dir.path().to_path_buf()),
        ..Overrides::default()
    };
    let resolve = |o: Overrides, f: FileConfig| ServeConfig::resolve(o, f);
    assert_eq!(
        resolve(base(), FileConfig::default())
            .expect("defaults")
            .retention_days,
        None,
        "kept forever by default"
    );
    let file: FileConfig = toml::from_str("retention_days = 90").expect("toml");
    assert_eq!(
        resolve(base(), file.clone()).expect("file").retention_days,
        Some(90)
    );
    let flag = Overrides {
        retention_days: Some(7),
        ..base()
    };
    assert_eq!(resolve(flag, file).expect("flag").retention_days, Some(7));
    let zero = Overrides {
        retention_days: Some(0),
        ..base()
    };
    let e = resolve(zero, FileConfig::default()).expect_err("0 is refused");
    assert!(e.to_string().contains("retention_days"), "{e}");

    // `dqgate serve` reads DQGATE_RETENTION_DAYS and --retention-days: a
    // bad value stops it before it listens, naming the setting.
    for (args, env) in [
        (vec!["serve", "--retention-days", "0"], None),
        (vec!["serve"], Some("0")),
        (vec!["serve", "--retention-days", "many"], None),
    ] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dqgate"));
        command
            .args(&args)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("store"))
            .env_remove("DQGATE_DATABASE_URL")
            .env_remove("DQGATE_RETENTION_DAYS")
            .current_dir(dir.path());
        if let Some(v) = env {
            command.env("DQGATE_RETENTION_DAYS", v);
        }
        let out = command.output().expect("runs");
        assert!(!out.status.success(), "{args:?} {env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("retention_days") || stderr.contains("--retention-days"),
            "{args:?}: {stderr}"
        );
    }
}
