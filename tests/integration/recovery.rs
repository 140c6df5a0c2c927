//! Recovery under store trouble, on SQLite and PostgreSQL: concurrent
//! writers, ruleset versions saved at once, reused run ids, a result
//! write that fails, and a PostgreSQL that stops and comes back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dqgate::api::{AppState, Limits};
use dqgate::source::confine::Confinement;
use dqgate::store::{Store, StoreOptions};
use serde_json::json;

use super::service::{ADMIN, Server, backends, fresh_database, serve_state, start};

/// Serves `store` on a loopback port, with the fixtures under `dir` (the
/// only folder its datasets may read).
async fn serve(store: Store, limits: Limits, dir: tempfile::TempDir) -> Server {
    let confinement = Confinement::new(&[dir.path().to_path_buf()], &[], &[]).expect("confinement");
    let state = AppState::new(store, limits, Some(ADMIN)).with_confinement(confinement);
    serve_state(state, dir).await
}

/// A throwaway PostgreSQL cluster of this test's own (`.ci/postgres.sh`),
/// stopped when dropped, even when the test fails.
struct Cluster {
    dir: tempfile::TempDir,
    url: String,
}

impl Cluster {
    fn script(action: &str, dir: &std::path::Path) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/postgres.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .arg(action)
            .arg(dir)
            .output()
            .expect("run .ci/postgres.sh");
        assert!(
            out.status.success(),
            "postgres.sh {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = Cluster::script("start", dir.path());
        Cluster { dir, url }
    }

    fn stop(&self) {
        Cluster::script("stop", self.dir.path());
    }

    /// Starts the stopped cluster again on its port.
    fn resume(&self) {
        let url = Cluster::script("start", self.dir.path());
        assert_eq!(url, self.url, "same port");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_of_one_ruleset_each_get_their_own_version() {
    for backend in backends() {
        let s = Arc::new(start(backend).await);
        let mut tasks = Vec::new();
        for i in 0..20 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let text = format!("Rules = [ RowCount > {i} ]");
                s.put_text("/v1/rulesets/shared", ADMIN, &text).await
            }));
        }
        let mut versions = BTreeMap::new();
        for t in tasks {
            let r = t.await.expect("task");
            assert_eq!(
                r.status,
                201,
                "{backend}: {}",
                String::from_utf8_lossy(&r.body)
            );
            let a = r.json();
            let version = a["version"].as_i64().expect("version");
            versions.insert(version, a["dqdl"].as_str().unwrap_or("").to_string());
        }
        assert_eq!(
            versions.keys().copied().collect::<Vec<_>>(),
            (1..=20).collect::<Vec<_>>(),
            "{backend}: versions 1..20 each once"
        );
        for (version, text) in &versions {
            let stored = s
                .get(&format!("/v1/rulesets/shared/versions/{version}"), ADMIN)
                .await
                .json();
            assert_eq!(stored["dqdl"].as_str(), Some(text.as_str()), "{backend}");
        }
        // The same new text twice at once: one new version, one no-op.
        let same = "Rules = [ RowCount > 1000 ]";
        let (a, b) = tokio::join!(
            s.put_text("/v1/rulesets/shared", ADMIN, same),
            s.put_text("/v1/rulesets/shared", ADMIN, same)
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 201], "{backend}");
        assert_eq!(a.json()["version"], 21, "{backend}");
        assert_eq!(b.json()["version"], 21, "{backend}");
        let again = s.put_text("/v1/rulesets/shared", ADMIN, same).await;
        assert_eq!(
            (again.status, again.json()["version"].clone()),
            (200, json!(21))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_and_a_reader_never_see_a_locked_database() {
    for backend in backends() {
        let s = Arc::new(start(backend).await);
        // Registered locations must exist.
        for i in 0..10 {
            std::fs::copy(s.data("people.parquet"), s.data(&format!("d{i}.parquet")))
                .expect("copy");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut writers = Vec::new();
        for w in 0..8 {
            let s = s.clone();
            writers.push(tokio::spawn(async move {
                let mut failures = Vec::new();
                for i in 0..10 {
                    if Instant::now() > deadline {
                        break;
                    }
                    let text = format!("Rules = [ RowCount > {i} ]");
                    let r = s
                        .put_text(&format!("/v1/rulesets/writer-{w}"), ADMIN, &text)
                        .await;
                    if r.status != 201 {
                        failures.push(format!("{}: {}", r.status, String::from_utf8_lossy(&r.body)));
                    }
                    let r = s
                        .put_json(
                            &format!("/v1/datasets/data-{w}"),
                            ADMIN,
                            &json!({"format": "parquet", "location": s.data(&format!("d{i}.parquet"))}),
                        )
                        .await;
                    if r.status != 200 && r.status != 201 {
                        failures.push(format!("{}: {}", r.status, String::from_utf8_lossy(&r.body)));
                    }
                }
                failures
            }));
        }
        let reader = {
            let s = s.clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for _ in 0..40 {
                    if Instant::now() > deadline {
                        break;
                    }
                    for path in ["/v1/rulesets", "/v1/datasets", "/v1/runs"] {
                        let r = s.get(path, ADMIN).await;
                        if r.status != 200 {
                            failures.push(format!("{path} {}", r.status));
                        }
                    }
                }
                failures
            })
        };
        let mut failures = Vec::new();
        for t in writers {
            failures.extend(t.await.expect("writer"));
        }
        failures.extend(reader.await.expect("reader"));
        assert!(failures.is_empty(), "{backend}: {failures:#?}");
        for w in 0..8 {
            let versions = s
                .get(&format!("/v1/rulesets/writer-{w}/versions"), ADMIN)
                .await
                .json();
            assert_eq!(
                versions.as_array().map(Vec::len),
                Some(10),
                "{backend}: writer {w}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_answers_503_fast_and_heals_without_a_restart() {
    if !backends().contains(&"postgres") {
        return;
    }
    let cluster = Cluster::start();
    let options = StoreOptions {
        acquire_timeout: Duration::from_secs(1),
    };
    let store = Store::connect_with(&cluster.url, &options)
        .await
        .expect("store");
    let s = serve(
        store,
        Limits::default(),
        tempfile::tempdir().expect("tempdir"),
    )
    .await;
    s.seed("Rules = [ RowCount > 0 ]").await;
    let health = s.send("GET", "/healthz", None, "", b"").await;
    assert_eq!(health.status, 200);

    cluster.stop();
    let gate = json!({"dataset": "people", "ruleset": "people-checks", "stage": "landing", "run_id": "outage-1"});
    for (method, path) in [
        ("GET", "/v1/rulesets/people-checks"),
        ("GET", "/v1/runs"),
        ("PUT", "/v1/rulesets/people-checks"),
        ("POST", "/v1/gate"),
    ] {
        let clock = Instant::now();
        let r = match method {
            "GET" => s.get(path, ADMIN).await,
            "PUT" => s.put_text(path, ADMIN, "Rules = [ RowCount > 1 ]").await,
            _ => s.post_json(path, ADMIN, &gate).await,
        };
        let took = clock.elapsed();
        assert_eq!(
            (r.status, r.json()["code"].clone()),
            (503, json!("store_unavailable")),
            "{method} {path}"
        );
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(r.header("retry-after").is_some(), "{method} {path}");
        assert!(
            took < Duration::from_millis(2500),
            "{method} {path} took {took:?} with a 1 s acquire timeout"
        );
    }
    let clock = Instant::now();
    let health = s.send("GET", "/healthz", None, "", b"").await;
    let took = clock.elapsed();
    assert_eq!(health.status, 503);
    assert!(took < Duration::from_secs(1), "healthz took {took:?}");

    cluster.resume();
    let mut healthy = false;
    for _ in 0..40 {
        if s.send("GET", "/healthz", None, "", b"").await.status == 200 {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(healthy, "healthz recovers without a restart");
    let r = s
        .put_text(
            "/v1/rulesets/people-checks",
            ADMIN,
            "Rules = [ RowCount > 1 ]",
        )
        .await;
    assert_eq!((r.status, r.json()["version"].clone()), (201, json!(2)));
    let r = s.post_json("/v1/gate", ADMIN, &gate).await;
    assert_eq!(
        (r.status, r.json()["decision"].clone()),
        (200, json!("pass")),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_run_id_with_a_different_request_is_a_conflict() {
    for backend in backends() {
        let s = start(backend).await;
        s.seed("Rules = [ RowCount > 0 ]").await;
        let r = s
            .put_text(
                "/v1/rulesets/other-checks",
                ADMIN,
                "Rules = [ RowCount > 1 ]",
            )
            .await;
        assert_eq!(r.status, 201);
        let first = json!({"dataset": "people", "ruleset": "people-checks", "stage": "landing",
                           "run_id": "once", "parameters": {"batch": 7}});
        let r = s.post_json("/v1/gate", ADMIN, &first).await;
        assert_eq!(r.status, 200, "{backend}");
        let original = r.json();
        assert_eq!(original["decision"], "pass");

        let mut variants = Vec::new();
        for (key, value) in [
            ("dataset", json!("reference")),
            ("ruleset", json!("other-checks")),
            ("stage", json!("transform")),
            ("parameters", json!({"batch": 8})),
            ("parameters", json!({})),
            ("aliases", json!({"ref": "reference"})),
        ] {
            let mut body = first.clone();
            body[key] = value;
            variants.push(body);
        }
        for body in &variants {
            let r = s.post_json("/v1/gate", ADMIN, body).await;
            let a = r.json();
            assert_eq!(
                (r.status, a["code"].clone()),
                (409, json!("run_id_conflict")),
                "{backend}: {body} answered {a}"
            );
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
            assert_eq!(
                a["existing"],
                json!({"dataset": "people", "ruleset": "people-checks", "stage": "landing",
                       "parameters": {"batch": 7}, "aliases": {}}),
                "{backend}"
            );
            for key in ["dataset", "ruleset", "stage", "parameters"] {
                assert_eq!(a["requested"][key], body[key], "{backend}: {key}");
            }
        }
        // An identical request (keys in another order) is a retry.
        let retry = json!({"parameters": {"batch": 7}, "run_id": "once", "stage": "landing",
                           "ruleset": "people-checks", "dataset": "people", "aliases": {}});
        let r = s.post_json("/v1/gate", ADMIN, &retry).await;
        assert_eq!(r.status, 200, "{backend}");
        assert_eq!(r.json()["id"], original["id"], "{backend}");
        let page = s.get("/v1/runs", ADMIN).await.json();
        assert_eq!(page["runs"].as_array().map(Vec::len), Some(1), "{backend}");
    }
}

/// Makes the database refuse to give runs a status in `statuses` (SQL
/// list), as a full disk or a failing server would, until
/// [`allow_run_ends`].
async fn refuse_run_ends(backend: &str, db: &mut sqlx::AnyConnection, statuses: &str) {
    let statements = if backend == "sqlite" {
        vec![format!(
            "CREATE TRIGGER refuse_end BEFORE UPDATE OF status ON runs \
             WHEN NEW.status IN ({statuses}) \
             BEGIN SELECT RAISE(ABORT, 'injected: disk full'); END"
        )]
    } else {
        vec![
            "CREATE OR REPLACE FUNCTION refuse_end() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected: disk full'; END $$"
                .to_string(),
            format!(
                "CREATE TRIGGER refuse_end BEFORE UPDATE ON runs FOR EACH ROW \
                 WHEN (NEW.status IN ({statuses})) EXECUTE FUNCTION refuse_end()"
            ),
        ]
    };
    for sql in &statements {
        sqlx::query(sql).execute(&mut *db).await.expect("inject");
    }
}

async fn allow_run_ends(backend: &str, db: &mut sqlx::AnyConnection) {
    let sql = if backend == "sqlite" {
        "DROP TRIGGER refuse_end"
    } else {
        "DROP TRIGGER refuse_end ON runs"
    };
    sqlx::query(sql).execute(&mut *db).await.expect("heal");
}

/// A request that must answer within `limit` (a hang fails the test).
async fn within<T>(limit: Duration, what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not answer within {limit:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_result_write_never_leaves_a_run_running() {
    for backend in backends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = fresh_database(backend, dir.path()).await;
        let store = Store::connect(&url).await.expect("store");
        let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("second connection");
        let limits = Limits {
            eval_timeout: Duration::from_secs(5),
            ..Limits::default()
        };
        let s = serve(store, limits, dir).await;
        s.seed("Rules = [ RowCount > 0 ]").await;
        let gate = json!({"dataset": "people", "ruleset": "people-checks", "stage": "landing", "run_id": "stuck-1"});

        // The result cannot be stored, nor the run marked error: after the
        // bounded retries the caller is told to retry (503), not "running".
        refuse_run_ends(backend, &mut db, "'done', 'error', 'interrupted'").await;
        let r = within(
            Duration::from_secs(20),
            "the first gate",
            s.post_json("/v1/gate", ADMIN, &gate),
        )
        .await;
        assert_eq!(
            (r.status, r.json()["code"].clone()),
            (503, json!("store_unavailable")),
            "{backend}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(r.header("retry-after").is_some());
        // A retry while the store still refuses answers as fast.
        let clock = Instant::now();
        let r = within(
            Duration::from_secs(20),
            "a retry",
            s.post_json("/v1/gate", ADMIN, &gate),
        )
        .await;
        assert_eq!(r.status, 503, "{backend}");
        assert!(
            clock.elapsed() < Duration::from_secs(3),
            "{backend}: {:?}",
            clock.elapsed()
        );

        // The store comes back: the next retry gets the run, ended as error
        // with the reason, without a restart.
        allow_run_ends(backend, &mut db).await;
        let r = within(
            Duration::from_secs(20),
            "a retry after healing",
            s.post_json("/v1/gate", ADMIN, &gate),
        )
        .await;
        let a = r.json();
        assert_eq!(r.status, 200, "{backend}: {a}");
        assert_eq!(
            (a["status"].clone(), a["decision"].clone()),
            (json!("error"), json!("error")),
            "{backend}"
        );
        let message = a["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("cannot store the results") && message.contains("injected"),
            "{backend}: {message}"
        );
        let run = s
            .get(
                &format!("/v1/runs/{}", a["id"].as_str().unwrap_or_default()),
                ADMIN,
            )
            .await
            .json();
        assert_eq!(run["status"], "error", "{backend}");

        // Results refused but the error mark stored: the first caller gets
        // the error after the bounded retries.
        refuse_run_ends(backend, &mut db, "'done'").await;
        let clock = Instant::now();
        let r = within(Duration::from_secs(20), "a gate whose results are refused", s.post_json("/v1/gate", ADMIN, &json!({"dataset": "people", "ruleset": "people-checks", "stage": "landing", "run_id": "refused-1"}))).await;
        let a = r.json();
        assert_eq!(
            (r.status, a["status"].clone(), a["decision"].clone()),
            (200, json!("error"), json!("error")),
            "{backend}: {a}"
        );
        assert!(
            a["message"]
                .as_str()
                .unwrap_or_default()
                .contains("cannot store the results"),
            "{backend}: {a}"
        );
        assert!(
            clock.elapsed() < Duration::from_secs(15),
            "{backend}: {:?}",
            clock.elapsed()
        );
        allow_run_ends(backend, &mut db).await;
        let r = s.post_json("/v1/gate", ADMIN, &json!({"dataset": "people", "ruleset": "people-checks", "stage": "landing", "run_id": "fine-1"})).await;
        assert_eq!(
            (r.status, r.json()["decision"].clone()),
            (200, json!("pass")),
            "{backend}"
        );

        // A run left running by no live evaluation, older than the
        // evaluation timeout: a retry marks it interrupted and answers.
        let stale = json!({"dataset": "people", "ruleset": "people-checks", "stage": "landing", "run_id": "stale-1"});
        let claim = s
            .state
            .store
            .claim_run(
                "stale-run",
                "stale-1",
                "people",
                "people-checks",
                1,
                "landing",
                &json!({}),
            )
            .await
            .expect("claim");
        assert_eq!(claim, dqgate::store::Claim::New("stale-run".into()));
        s.state.store.start_run("stale-run").await.expect("start");
        sqlx::query(
            "UPDATE runs SET started_at = '2000-01-01T00:00:00.000000Z' WHERE id = 'stale-run'",
        )
        .execute(&mut db)
        .await
        .expect("age the run");
        let clock = Instant::now();
        let r = within(
            Duration::from_secs(20),
            "a retry of an abandoned run",
            s.post_json("/v1/gate", ADMIN, &stale),
        )
        .await;
        let a = r.json();
        assert_eq!(
            (r.status, a["status"].clone(), a["decision"].clone()),
            (200, json!("interrupted"), json!("error")),
            "{backend}: {a}"
        );
        assert!(
            clock.elapsed() < Duration::from_secs(3),
            "{backend}: {:?}",
            clock.elapsed()
        );
    }
}
