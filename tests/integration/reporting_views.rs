//! The reporting views (`dq_runs_v1`, `dq_rule_results_v1`,
//! `dq_metric_points_v1`, `dq_latest_v1`) over runs recorded by real gate
//! calls, on SQLite and PostgreSQL, compared with hand-checked rows; and on
//! PostgreSQL, README's read-only role reads the views and nothing else.

use dqgate::api::{AppState, Limits};
use dqgate::source::Confinement;
use dqgate::store::Store;
use serde_json::{Value, json};
use sqlx::{AnyPool, Row};

use super::service::{ADMIN, Server, backends, fresh_database, serve_state};

/// A server on a fresh database of `backend`, and that database's URL
/// (for reading the views as a BI tool would).
pub async fn start_with_url(backend: &'static str) -> (Server, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let url = fresh_database(backend, &data_dir).await;
    let store = Store::connect(&url).await.expect("store");
    let confinement =
        Confinement::new(&[dir.path().to_path_buf()], &[data_dir], &[]).expect("valid confinement");
    let state = AppState::new(store, Limits::default(), Some(ADMIN)).with_confinement(confinement);
    (serve_state(state, dir).await, url)
}

/// A pool on `url` that reads the views.
pub async fn reader(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .expect("connect to the store database")
}

const RULES: &str = "DefaultLabels = [\"team\"=\"core\"]\nRules = [\n    RowCount = 10,\n    IsComplete \"age\" labels=[\"severity\"=\"warn\"],\n    DetectAnomalies \"RowCount\" with minHistory = 2\n]\n";

/// A timestamp column as seconds since the epoch, on either database.
fn epoch(backend: &str, column: &str) -> String {
    if backend == "sqlite" {
        format!("(julianday({column}) - 2440587.5) * 86400.0")
    } else {
        format!("CAST(EXTRACT(EPOCH FROM {column}) AS DOUBLE PRECISION)")
    }
}

/// RFC 3339 text as seconds since the epoch.
fn seconds(text: &str) -> f64 {
    let t = chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
    t.timestamp_micros() as f64 / 1e6
}

/// Checks that a view's timestamp column is typed as time: `timestamptz`
/// on PostgreSQL, ISO 8601 UTC text with milliseconds on SQLite.
async fn assert_time_typed(pool: &AnyPool, backend: &str, view: &str, column: &str) {
    if backend == "postgres" {
        let t: String = sqlx::query_scalar(&format!(
            "SELECT pg_typeof({column})::text FROM {view} LIMIT 1"
        ))
        .fetch_one(pool)
        .await
        .expect("type");
        assert_eq!(t, "timestamp with time zone", "{view}.{column}");
    } else {
        let texts: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT {column} FROM {view} WHERE {column} IS NOT NULL"
        ))
        .fetch_all(pool)
        .await
        .expect("texts");
        let iso = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").expect("regex");
        assert!(!texts.is_empty(), "{view}.{column} has values");
        for t in texts {
            assert!(
                iso.is_match(&t),
                "{view}.{column}: `{t}` is not ISO 8601 UTC"
            );
        }
    }
}

async fn gate(s: &Server, run_id: &str, stage: &str) -> Value {
    let r = s
        .post_json(
            "/v1/gate",
            ADMIN,
            &json!({"dataset": "people", "ruleset": "people-checks", "stage": stage, "run_id": run_id}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reporting_views_show_recorded_runs() {
    for backend in backends() {
        let (s, url) = start_with_url(backend).await;
        s.seed(RULES).await;
        let r1 = gate(&s, "day-1", "landing").await;
        let r2 = gate(&s, "day-2", "landing").await;
        let r3 = gate(&s, "day-3", "landing").await;
        let r4 = gate(&s, "day-3-curated", "curated").await;
        for r in [&r1, &r2, &r3, &r4] {
            // IsComplete "age" fails (2 of 10 ages are NULL) and warns only.
            assert_eq!(r["decision"], "warn", "{backend}: {r}");
        }
        let pool = reader(&url).await;

        // dq_runs_v1: one row per run.
        let rows = sqlx::query(&format!(
            "SELECT run_id, run_key, dataset, stage, ruleset, ruleset_version, status, decision, score, \
             rules_passed, rules_failed, rules_errored, rules_total, duration_ms, message, \
             {}, {}, {} FROM dq_runs_v1 ORDER BY created_at, run_id",
            epoch(backend, "created_at"),
            epoch(backend, "started_at"),
            epoch(backend, "finished_at"),
        ))
        .fetch_all(&pool)
        .await
        .unwrap_or_else(|e| panic!("{backend}: dq_runs_v1: {e}"));
        assert_eq!(rows.len(), 4, "{backend}");
        for (row, api) in rows.iter().zip([&r1, &r2, &r3, &r4]) {
            assert_eq!(row.get::<String, _>(0), api["id"].as_str().expect("id"));
            assert_eq!(
                row.get::<String, _>(1),
                api["run_key"].as_str().expect("key")
            );
            assert_eq!(row.get::<String, _>(2), "people");
            assert_eq!(
                row.get::<String, _>(3),
                api["stage"].as_str().expect("stage")
            );
            assert_eq!(row.get::<String, _>(4), "people-checks");
            assert_eq!(row.get::<i64, _>(5), 1);
            assert_eq!(row.get::<String, _>(6), "done");
            assert_eq!(row.get::<String, _>(7), "warn");
            assert!((row.get::<f64, _>(8) - 2.0 / 3.0).abs() < 1e-12);
            assert_eq!(
                (
                    row.get::<i64, _>(9),
                    row.get::<i64, _>(10),
                    row.get::<i64, _>(11),
                    row.get::<i64, _>(12)
                ),
                (2, 1, 0, 3),
                "{backend}"
            );
            assert_eq!(
                Some(row.get::<i64, _>(13)),
                api["duration_ms"].as_i64(),
                "{backend}"
            );
            assert_eq!(row.get::<Option<String>, _>(14), None);
            // The typed times are the stored instants (SQLite keeps ms).
            for (k, field) in [(15, "created_at"), (16, "started_at"), (17, "finished_at")] {
                let want = seconds(api[field].as_str().expect("time"));
                let got = row.get::<f64, _>(k);
                assert!(
                    (got - want).abs() < 0.002,
                    "{backend}: {field} {got} vs {want}"
                );
            }
        }
        for column in ["created_at", "started_at", "finished_at"] {
            assert_time_typed(&pool, backend, "dq_runs_v1", column).await;
        }

        // dq_rule_results_v1: one row per run and rule.
        let rows = sqlx::query(
            "SELECT run_id, rule_position, dataset, stage, ruleset, ruleset_version, rule_text, rule_type, \
             outcome, message, CAST(labels AS TEXT) FROM dq_rule_results_v1 WHERE run_id = $1 ORDER BY rule_position",
        )
        .bind(r3["id"].as_str().expect("id"))
        .fetch_all(&pool)
        .await
        .unwrap_or_else(|e| panic!("{backend}: dq_rule_results_v1: {e}"));
        let got: Vec<(i64, String, String, String, String, Value)> = rows
            .iter()
            .map(|r| {
                assert_eq!(r.get::<String, _>(2), "people");
                assert_eq!(r.get::<String, _>(3), "landing");
                assert_eq!(r.get::<String, _>(4), "people-checks");
                assert_eq!(r.get::<i64, _>(5), 1);
                (
                    r.get::<i64, _>(1),
                    r.get::<String, _>(6),
                    r.get::<String, _>(7),
                    r.get::<String, _>(8),
                    r.get::<String, _>(9),
                    serde_json::from_str(&r.get::<String, _>(10)).expect("labels JSON"),
                )
            })
            .collect();
        let message = |i: usize| r3["rules"][i]["message"].as_str().expect("msg").to_string();
        assert_eq!(
            got,
            vec![
                (
                    0,
                    "RowCount = 10".to_string(),
                    "RowCount".to_string(),
                    "Passed".to_string(),
                    message(0),
                    json!({"team": "core"})
                ),
                (
                    1,
                    "IsComplete \"age\" labels=[\"severity\"=\"warn\"]".to_string(),
                    "IsComplete".to_string(),
                    "Failed".to_string(),
                    message(1),
                    json!({"team": "core", "severity": "warn"})
                ),
                (
                    2,
                    "DetectAnomalies \"RowCount\" with minHistory = 2".to_string(),
                    "DetectAnomalies".to_string(),
                    "Passed".to_string(),
                    message(2),
                    json!({"team": "core"})
                ),
            ],
            "{backend}"
        );
        let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dq_rule_results_v1")
            .fetch_one(&pool)
            .await
            .expect("count");
        assert_eq!(all, 12, "{backend}: 4 runs x 3 rules");
        assert_time_typed(&pool, backend, "dq_rule_results_v1", "run_created_at").await;

        // dq_metric_points_v1: the row count of each landing run, with the
        // band DetectAnomalies drew once it had 2 past values (10 and 10:
        // median 10, MAD 0, spread floor 1% of 10 = 0.1, band 10 ± 0.3).
        let rows = sqlx::query(&format!(
            "SELECT run_id, dataset, stage, ruleset, where_clause, value, expected, lower, upper, \
             CASE WHEN anomaly IS NULL THEN -1 WHEN anomaly THEN 1 ELSE 0 END, \
             CASE WHEN excluded THEN 1 ELSE 0 END, {} \
             FROM dq_metric_points_v1 WHERE metric = 'Dataset.*.RowCount' AND stage = 'landing' ORDER BY observed_at",
            epoch(backend, "observed_at")
        ))
        .fetch_all(&pool)
        .await
        .unwrap_or_else(|e| panic!("{backend}: dq_metric_points_v1: {e}"));
        assert_eq!(rows.len(), 3, "{backend}");
        for (i, (row, api)) in rows.iter().zip([&r1, &r2, &r3]).enumerate() {
            assert_eq!(row.get::<String, _>(0), api["id"].as_str().expect("id"));
            assert_eq!(row.get::<String, _>(1), "people");
            assert_eq!(row.get::<String, _>(2), "landing");
            assert_eq!(row.get::<String, _>(3), "people-checks");
            assert_eq!(row.get::<String, _>(4), "");
            assert_eq!(row.get::<f64, _>(5), 10.0);
            let band = (
                row.get::<Option<f64>, _>(6),
                row.get::<Option<f64>, _>(7),
                row.get::<Option<f64>, _>(8),
            );
            if i < 2 {
                assert_eq!(
                    band,
                    (None, None, None),
                    "{backend}: run {i} has too little history"
                );
            } else {
                let (e, lo, hi) = band;
                assert_eq!(e, Some(10.0), "{backend}");
                assert!((lo.expect("lower") - 9.7).abs() < 1e-9, "{backend}: {lo:?}");
                assert!(
                    (hi.expect("upper") - 10.3).abs() < 1e-9,
                    "{backend}: {hi:?}"
                );
            }
            assert_eq!(row.get::<i64, _>(9), 0, "{backend}: watched, not anomalous");
            assert_eq!(row.get::<i64, _>(10), 0, "{backend}: not excluded");
            let want = seconds(api["started_at"].as_str().expect("time"));
            assert!((row.get::<f64, _>(11) - want).abs() < 0.002, "{backend}");
        }
        // An unwatched metric has no anomaly flag at all.
        let unwatched: Vec<i64> = sqlx::query_scalar(
            "SELECT CASE WHEN anomaly IS NULL THEN -1 WHEN anomaly THEN 1 ELSE 0 END \
             FROM dq_metric_points_v1 WHERE metric = 'Column.age.Completeness' AND run_id = $1",
        )
        .bind(r3["id"].as_str().expect("id"))
        .fetch_all(&pool)
        .await
        .expect("completeness");
        assert_eq!(unwatched, vec![-1], "{backend}");
        // One row per (run, metric, where): as many as the API shows.
        let points: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM dq_metric_points_v1 WHERE run_id = $1")
                .bind(r3["id"].as_str().expect("id"))
                .fetch_one(&pool)
                .await
                .expect("count");
        let api_metrics: usize = r3["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .map(|r| r["metrics"].as_object().map_or(0, |m| m.len()))
            .sum::<usize>()
            + r3["analyzers"].as_object().map_or(0, |m| m.len());
        // RowCount (rule 0, watched by rule 2) and Completeness.
        assert_eq!((points, api_metrics), (2, 2), "{backend}: {r3}");
        assert_time_typed(&pool, backend, "dq_metric_points_v1", "observed_at").await;

        // A steward marks day-3's row count expected: the view says so.
        let marked = s
            .post_json(
                &format!(
                    "/v1/runs/{}/metrics/Dataset.%2A.RowCount/expected",
                    r3["id"].as_str().expect("id")
                ),
                ADMIN,
                &json!({}),
            )
            .await;
        assert_eq!(
            marked.status,
            200,
            "{}",
            String::from_utf8_lossy(&marked.body)
        );
        let excluded: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN excluded THEN 1 ELSE 0 END FROM dq_metric_points_v1 \
             WHERE run_id = $1 AND metric = 'Dataset.*.RowCount'",
        )
        .bind(r3["id"].as_str().expect("id"))
        .fetch_one(&pool)
        .await
        .expect("excluded");
        assert_eq!(excluded, 1, "{backend}");

        // dq_latest_v1: the latest finished run per dataset and stage; a
        // run still queued does not hide it.
        s.state
            .store
            .claim_run(
                "queued-run",
                "queued-key",
                "people",
                "people-checks",
                1,
                "landing",
                &json!({}),
            )
            .await
            .expect("claim");
        let latest: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT dataset, stage, run_id FROM dq_latest_v1 ORDER BY dataset, stage",
        )
        .fetch_all(&pool)
        .await
        .unwrap_or_else(|e| panic!("{backend}: dq_latest_v1: {e}"));
        let id = |r: &Value| r["id"].as_str().expect("id").to_string();
        assert_eq!(
            latest,
            vec![
                ("people".to_string(), "curated".to_string(), id(&r4)),
                ("people".to_string(), "landing".to_string(), id(&r3)),
            ],
            "{backend}"
        );
        let same_columns: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM dq_latest_v1 l JOIN dq_runs_v1 r ON r.run_id = l.run_id \
             WHERE r.decision = l.decision AND r.score = l.score AND r.rules_total = l.rules_total",
        )
        .fetch_one(&pool)
        .await
        .expect("join");
        assert_eq!(same_columns, 2, "{backend}");
        assert_time_typed(&pool, backend, "dq_latest_v1", "created_at").await;

        if backend == "postgres" {
            read_only_role_reads_only_the_views(&url).await;
        }
        pool.close().await;
    }
}

/// The SQL of README's "Dashboards / BI" section that grants the read-only
/// role (the fenced block after the marker line).
fn readme_grant_sql() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let start = readme
        .find("<!-- bi-grant -->")
        .expect("README marks the grant SQL with <!-- bi-grant -->");
    let rest = &readme[start..];
    let open = rest.find("```sql\n").expect("a sql block") + "```sql\n".len();
    let close = rest[open..].find("```").expect("block end");
    rest[open..open + close].to_string()
}

/// Runs README's grant (role and database renamed for this test) and
/// proves the role reads the four views and no base table.
async fn read_only_role_reads_only_the_views(url: &str) {
    let (base, database) = url.rsplit_once('/').expect("database in URL");
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("random");
    let role = format!(
        "dq_reader_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let sql = readme_grant_sql()
        .replace("dq_reader", &role)
        .replace("DATABASE dqgate", &format!("DATABASE {database}"));
    let owner = reader(url).await;
    let mut statements = 0;
    for statement in sql.split(';') {
        let text: String = statement
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        if text.trim().is_empty() {
            continue;
        }
        sqlx::query(&text)
            .execute(&owner)
            .await
            .unwrap_or_else(|e| panic!("README grant `{text}`: {e}"));
        statements += 1;
    }
    assert!(statements >= 3, "README's grant has its statements: {sql}");
    // The test cluster trusts loopback connections, so the role signs in
    // without its password.
    let host = base
        .split_once('@')
        .map_or(base, |(_, host)| host)
        .trim_start_matches("postgres://");
    let role_url = format!("postgres://{role}@{host}/{database}");
    let as_reader = reader(&role_url).await;
    for view in [
        "dq_runs_v1",
        "dq_rule_results_v1",
        "dq_metric_points_v1",
        "dq_latest_v1",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {view}"))
            .fetch_one(&as_reader)
            .await
            .unwrap_or_else(|e| panic!("the read-only role cannot read {view}: {e}"));
        assert!(n > 0, "{view} has rows");
    }
    for table in [
        "runs",
        "rule_results",
        "metrics",
        "tokens",
        "sessions",
        "datasets",
        "failed_row_samples",
    ] {
        let refused = sqlx::query(&format!("SELECT * FROM {table} LIMIT 1"))
            .fetch_all(&as_reader)
            .await
            .map(|rows| rows.len())
            .expect_err(&format!("the read-only role must not read {table}"));
        let code = refused
            .as_database_error()
            .and_then(|e| e.code().map(|c| c.to_string()));
        assert_eq!(code.as_deref(), Some("42501"), "{table}: {refused}");
    }
    let write = sqlx::query("DELETE FROM dq_runs_v1")
        .execute(&as_reader)
        .await;
    assert!(
        write.is_err(),
        "the read-only role cannot write through a view"
    );
    as_reader.close().await;
    // The role owns nothing and holds grants in this database only: drop
    // them so the cluster can be reused.
    for statement in [
        format!(
            "REVOKE ALL ON dq_runs_v1, dq_rule_results_v1, dq_metric_points_v1, dq_latest_v1 FROM {role}"
        ),
        format!("REVOKE ALL ON SCHEMA public FROM {role}"),
        format!("REVOKE ALL ON DATABASE {database} FROM {role}"),
        format!("DROP ROLE {role}"),
    ] {
        sqlx::query(&statement)
            .execute(&owner)
            .await
            .unwrap_or_else(|e| panic!("`{statement}`: {e}"));
    }
    owner.close().await;
}
