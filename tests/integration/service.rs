//! The HTTP service over a real loopback socket, on SQLite and on
//! PostgreSQL (when DQGATE_TEST_POSTGRES_URL names a server; a fresh
//! database per test). Requests are plain HTTP/1.1 written by hand.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dqgate::api::{self, AppState, Limits};
use dqgate::source::Confinement;
use dqgate::store::Store;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::fixtures;

pub const ADMIN: &str = "admin-secret-token";

/// A running server and what it serves.
pub struct Server {
    pub addr: std::net::SocketAddr,
    pub state: AppState,
    pub dir: tempfile::TempDir,
}

/// The databases to run against: SQLite always, PostgreSQL when configured.
pub fn backends() -> Vec<&'static str> {
    if std::env::var("DQGATE_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty()) {
        vec!["sqlite", "postgres"]
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but DQGATE_TEST_POSTGRES_URL is not: the PostgreSQL half cannot run"
        );
        eprintln!(
            "\n*** SKIPPING the PostgreSQL half of the service tests: DQGATE_TEST_POSTGRES_URL is not set \
             (.ci/run sets it) ***\n"
        );
        vec!["sqlite"]
    }
}

/// A URL of a new, empty database of `backend`.
pub async fn fresh_database(backend: &str, dir: &std::path::Path) -> String {
    if backend == "sqlite" {
        return Store::sqlite_url(dir).expect("sqlite url");
    }
    let admin_url = std::env::var("DQGATE_TEST_POSTGRES_URL").expect("postgres url");
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
        .await
        .expect("connect to the test PostgreSQL");
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("random");
    let name = format!(
        "dqgate_test_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

pub async fn start_with(backend: &'static str, limits: Limits) -> Server {
    start_confined(backend, limits, &[], &[]).await
}

/// A server whose datasets may read its temp dir and `roots` (never the
/// store under `data/`) and connect to `endpoints`.
pub async fn start_confined(
    backend: &'static str,
    limits: Limits,
    roots: &[PathBuf],
    endpoints: &[String],
) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let url = fresh_database(backend, &data_dir).await;
    let store = Store::connect(&url).await.expect("store");
    let mut allowed = vec![dir.path().to_path_buf()];
    allowed.extend(roots.iter().cloned());
    let confinement =
        Confinement::new(&allowed, &[data_dir], endpoints).expect("valid confinement");
    let state = AppState::new(store, limits, Some(ADMIN)).with_confinement(confinement);
    serve_state(state, dir).await
}

/// Serves `state` on a loopback port, with the fixtures written under `dir`.
pub async fn serve_state(state: AppState, dir: tempfile::TempDir) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let app = api::router(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    fixtures::write_all(dir.path());
    Server { addr, state, dir }
}

pub async fn start(backend: &'static str) -> Server {
    start_with(backend, Limits::default()).await
}

/// A response: status, headers (lower-case names) and body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Server {
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Reply {
        let mut stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if !content_type.is_empty() {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.expect("write head");
        let _ = stream.write_all(body).await;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read reply");
        parse_reply(&raw)
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send("GET", path, Some(token), "", b"").await
    }

    pub async fn put_json(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.send(
            "PUT",
            path,
            Some(token),
            "application/json",
            body.to_string().as_bytes(),
        )
        .await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.send(
            "POST",
            path,
            Some(token),
            "application/json",
            body.to_string().as_bytes(),
        )
        .await
    }

    pub async fn put_text(&self, path: &str, token: &str, text: &str) -> Reply {
        self.send("PUT", path, Some(token), "text/plain", text.as_bytes())
            .await
    }

    pub fn data(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }

    /// Registers `people` and `reference` and a ruleset.
    pub async fn seed(&self, ruleset: &str) {
        for (name, file) in [
            ("people", "people.parquet"),
            ("reference", "reference.parquet"),
        ] {
            let r = self
                .put_json(
                    &format!("/v1/datasets/{name}"),
                    ADMIN,
                    &json!({"format": "parquet", "location": self.data(file)}),
                )
                .await;
            assert!(
                r.status == 201 || r.status == 200,
                "{}",
                String::from_utf8_lossy(&r.body)
            );
        }
        let r = self
            .put_text("/v1/rulesets/people-checks", ADMIN, ruleset)
            .await;
        assert!(
            r.status == 201 || r.status == 200,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
    }
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
}

pub const RULES: &str = "DefaultLabels = [\"team\"=\"core\"]\nRules = [\n    RowCount = 10,\n    IsComplete \"id\",\n    Completeness \"age\" >= 0.9 labels=[\"severity\"=\"warn\"]\n]\nAnalyzers = [ Mean \"score\" ]\n";

pub fn gate_body(run_id: &str) -> Value {
    json!({"dataset": "people", "ruleset": "people-checks", "stage": "landing", "run_id": run_id})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rulesets_are_versioned_and_validated() {
    for backend in backends() {
        let s = start(backend).await;
        let r = s
            .put_text("/v1/rulesets/orders", ADMIN, "Rules = [ RowCount > 0 ]")
            .await;
        assert_eq!(r.status, 201, "{backend}");
        assert_eq!(r.json()["version"], 1);
        assert_eq!(r.header("location"), Some("/v1/rulesets/orders/versions/1"));
        let again = s
            .put_text("/v1/rulesets/orders", ADMIN, "Rules = [ RowCount > 0 ]")
            .await;
        assert_eq!(
            (again.status, again.json()["version"].clone()),
            (200, json!(1)),
            "identical text: no new version"
        );
        let v2 = s
            .put_json(
                "/v1/rulesets/orders",
                ADMIN,
                &json!({"dqdl": "Rules = [ RowCount > 1 ]", "comment": "stricter"}),
            )
            .await;
        assert_eq!(
            (
                v2.status,
                v2.json()["version"].clone(),
                v2.json()["comment"].clone()
            ),
            (201, json!(2), json!("stricter"))
        );
        assert_eq!(v2.json()["author"], "admin (bootstrap)");

        let bad = s
            .put_text(
                "/v1/rulesets/orders",
                ADMIN,
                "Rules = [\n  Completness \"a\" > 0.5\n]",
            )
            .await;
        assert_eq!(bad.status, 422, "{backend}");
        assert_eq!(bad.header("content-type"), Some("application/problem+json"));
        let problem = bad.json();
        assert_eq!(problem["code"], "invalid_ruleset");
        assert_eq!(problem["errors"][0]["line"], 2);
        assert_eq!(problem["errors"][0]["column"], 3);
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap_or("")
                .contains("did you mean `Completeness`")
        );

        assert_eq!(
            s.get("/v1/rulesets/orders", ADMIN).await.json()["version"],
            2
        );
        let versions = s.get("/v1/rulesets/orders/versions", ADMIN).await.json();
        assert_eq!(versions.as_array().map(Vec::len), Some(2));
        assert_eq!(
            s.get("/v1/rulesets/orders/versions/1", ADMIN).await.json()["dqdl"],
            "Rules = [ RowCount > 0 ]"
        );
        assert_eq!(
            s.get("/v1/rulesets/orders/versions/9", ADMIN).await.status,
            404
        );
        assert_eq!(
            s.get("/v1/rulesets", ADMIN)
                .await
                .json()
                .as_array()
                .map(Vec::len),
            Some(1)
        );

        let valid = s
            .send(
                "POST",
                "/v1/validate",
                Some(ADMIN),
                "text/plain",
                b"Rules = [ RowCount > ]",
            )
            .await;
        assert_eq!(valid.status, 200);
        assert_eq!(valid.json()["valid"], false);
        assert_eq!(valid.json()["errors"][0]["column"], 22);

        assert_eq!(
            s.send("DELETE", "/v1/rulesets/orders", Some(ADMIN), "", b"")
                .await
                .status,
            204
        );
        let gone = s.get("/v1/rulesets/orders", ADMIN).await;
        assert_eq!(
            (gone.status, gone.json()["code"].clone()),
            (404, json!("ruleset_not_found"))
        );
        assert_eq!(
            s.send("DELETE", "/v1/rulesets/orders", Some(ADMIN), "", b"")
                .await
                .status,
            404
        );
        assert_eq!(
            s.put_text("/v1/rulesets/bad%20name", ADMIN, "Rules = [ RowCount > 0 ]")
                .await
                .status,
            400
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datasets_register_and_reject_bad_input() {
    for backend in backends() {
        let s = start(backend).await;
        let body = json!({"format": "parquet", "location": s.data("people.parquet")});
        assert_eq!(
            s.put_json("/v1/datasets/people", ADMIN, &body).await.status,
            201,
            "{backend}"
        );
        assert_eq!(
            s.put_json("/v1/datasets/people", ADMIN, &body).await.status,
            200
        );
        assert_eq!(
            s.get("/v1/datasets/people", ADMIN).await.json()["format"],
            "parquet"
        );
        assert_eq!(
            s.get("/v1/datasets", ADMIN)
                .await
                .json()
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        let missing = s.get("/v1/datasets/nope", ADMIN).await;
        assert_eq!(
            (missing.status, missing.json()["code"].clone()),
            (404, json!("dataset_not_found"))
        );
        let bad = s
            .put_json(
                "/v1/datasets/x",
                ADMIN,
                &json!({"format": "xlsx", "location": "a"}),
            )
            .await;
        assert_eq!(
            (bad.status, bad.json()["code"].clone()),
            (400, json!("bad_request"))
        );
        let malformed = s
            .send(
                "PUT",
                "/v1/datasets/x",
                Some(ADMIN),
                "application/json",
                b"{\"format\": ",
            )
            .await;
        assert_eq!(malformed.status, 400);
        assert!(
            malformed.json()["detail"]
                .as_str()
                .unwrap_or("")
                .starts_with("malformed JSON")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_decides_stores_and_serves_runs_and_trends() {
    for backend in backends() {
        let s = start(backend).await;
        s.seed(RULES).await;
        let r = s.post_json("/v1/gate", ADMIN, &gate_body("day-1")).await;
        assert_eq!(
            r.status,
            200,
            "{backend}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let answer = r.json();
        // Completeness of age is 0.8: a warning rule fails, blocking ones pass.
        assert_eq!(answer["decision"], "warn");
        assert_eq!(answer["status"], "done");
        assert!((answer["score"].as_f64().unwrap_or(0.0) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(answer["rules"][2]["outcome"], "Failed");
        assert_eq!(answer["rules"][2]["labels"]["severity"], "warn");
        assert_eq!(
            answer["rules"][2]["metrics"]["Column.age.Completeness"],
            0.8
        );
        assert_eq!(answer["analyzers"]["Column.score.Mean"], 20.0 / 9.0);
        assert_eq!(answer["inputs"]["dataset"]["name"], "people");
        let run_url = answer["run"].as_str().expect("run link").to_string();
        let stored = s.get(&run_url, ADMIN).await.json();
        assert_eq!(stored["decision"], "warn");
        assert_eq!(stored["rules"], answer["rules"]);

        // A blocking failure, then a blocking error.
        s.put_text(
            "/v1/rulesets/people-checks",
            ADMIN,
            "Rules = [ IsComplete \"name\" ]",
        )
        .await;
        assert_eq!(
            s.post_json("/v1/gate", ADMIN, &gate_body("day-2"))
                .await
                .json()["decision"],
            "fail"
        );
        s.put_text(
            "/v1/rulesets/people-checks",
            ADMIN,
            "Rules = [ Mean \"name\" > 1 ]",
        )
        .await;
        assert_eq!(
            s.post_json("/v1/gate", ADMIN, &gate_body("day-3"))
                .await
                .json()["decision"],
            "error"
        );
        s.put_text(
            "/v1/rulesets/people-checks",
            ADMIN,
            "Rules = [ RowCount = 10, RowCountMatch \"ref\" > 1 ]",
        )
        .await;
        let mut with_alias = gate_body("day-4");
        with_alias["aliases"] = json!({"ref": "reference"});
        let passed = s.post_json("/v1/gate", ADMIN, &with_alias).await.json();
        assert_eq!(passed["decision"], "pass", "{passed}");
        assert_eq!(passed["inputs"]["aliases"]["ref"]["name"], "reference");

        let page = s.get("/v1/runs?dataset=people&limit=3", ADMIN).await.json();
        assert_eq!(page["runs"].as_array().map(Vec::len), Some(3));
        assert_eq!(page["runs"][0]["run_key"], "day-4", "newest first");
        let next = page["next"].as_str().expect("a next page").to_string();
        let rest = s.get(&next, ADMIN).await.json();
        assert_eq!(rest["runs"].as_array().map(Vec::len), Some(1));
        assert_eq!(rest["runs"][0]["run_key"], "day-1");
        assert_eq!(
            s.get("/v1/runs?stage=transform", ADMIN).await.json()["runs"],
            json!([])
        );
        assert_eq!(s.get("/v1/runs?since=yesterday", ADMIN).await.status, 400);

        let trends = s
            .get("/v1/trends?dataset=people&metric=Dataset.*.RowCount", ADMIN)
            .await
            .json();
        let scores: Vec<f64> = trends["score"]
            .as_array()
            .expect("score")
            .iter()
            .filter_map(|p| p["value"].as_f64())
            .collect();
        assert_eq!(scores.len(), 4);
        assert_eq!(scores[1..], [0.0, 0.0, 1.0]);
        let counts: Vec<f64> = trends["values"]
            .as_array()
            .expect("values")
            .iter()
            .filter_map(|p| p["value"].as_f64())
            .collect();
        assert_eq!(counts, [10.0, 10.0]);
        assert_eq!(s.get("/v1/trends", ADMIN).await.status, 400);
        assert_eq!(
            s.get("/v1/runs/nope", ADMIN).await.json()["code"],
            "run_not_found"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_run_id_evaluate_once() {
    for backend in backends() {
        let s = Arc::new(start(backend).await);
        s.seed(RULES).await;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.post_json("/v1/gate", ADMIN, &gate_body("retry-me")).await
            }));
        }
        let mut ids = std::collections::BTreeSet::new();
        for t in tasks {
            let r = t.await.expect("task");
            assert_eq!(
                r.status,
                200,
                "{backend}: {}",
                String::from_utf8_lossy(&r.body)
            );
            let a = r.json();
            assert_eq!(a["decision"], "warn");
            ids.insert(a["id"].as_str().unwrap_or_default().to_string());
        }
        assert_eq!(ids.len(), 1, "{backend}: every retry sees the same run");
        let page = s.get("/v1/runs?dataset=people", ADMIN).await.json();
        assert_eq!(
            page["runs"].as_array().map(Vec::len),
            Some(1),
            "{backend}: evaluated once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asynchronous_gate_answers_202_and_the_run_can_be_polled() {
    for backend in backends() {
        let s = start(backend).await;
        s.seed(RULES).await;
        let mut body = gate_body("async-1");
        body["wait"] = json!(false);
        let r = s.post_json("/v1/gate", ADMIN, &body).await;
        assert!(
            r.status == 202 || r.status == 200,
            "{backend}: {}",
            r.status
        );
        let location = r.header("location").expect("location").to_string();
        let mut decision = Value::Null;
        for _ in 0..100 {
            let run = s.get(&location, ADMIN).await.json();
            if run["status"] == "done" {
                decision = run["decision"].clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(decision, "warn", "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_errors_have_the_right_status_and_code() {
    for backend in backends() {
        let s = start_with(
            backend,
            Limits {
                max_body_bytes: 4096,
                ..Limits::default()
            },
        )
        .await;
        s.seed(RULES).await;
        let cases = [
            (
                json!({"dataset": "nope", "ruleset": "people-checks", "stage": "x", "run_id": "1"}),
                404,
                "dataset_not_found",
            ),
            (
                json!({"dataset": "people", "ruleset": "nope", "stage": "x", "run_id": "2"}),
                404,
                "ruleset_not_found",
            ),
            (
                json!({"dataset": "people", "ruleset": "people-checks", "stage": "x", "run_id": "3", "aliases": {"ref": "nope"}}),
                404,
                "dataset_not_found",
            ),
            (
                json!({"dataset": "people", "ruleset": "people-checks", "stage": "", "run_id": "4"}),
                400,
                "bad_request",
            ),
            (json!({"dataset": "people"}), 400, "bad_request"),
        ];
        for (body, status, code) in cases {
            let r = s.post_json("/v1/gate", ADMIN, &body).await;
            assert_eq!(
                (r.status, r.json()["code"].clone()),
                (status, json!(code)),
                "{backend}: {body}"
            );
        }
        let malformed = s
            .send(
                "POST",
                "/v1/gate",
                Some(ADMIN),
                "application/json",
                b"{not json",
            )
            .await;
        assert_eq!(
            (malformed.status, malformed.json()["code"].clone()),
            (400, json!("bad_request"))
        );
        let huge = vec![b'x'; 10_000];
        let too_big = s
            .send("POST", "/v1/gate", Some(ADMIN), "application/json", &huge)
            .await;
        assert_eq!(
            (too_big.status, too_big.json()["code"].clone()),
            (413, json!("payload_too_large"))
        );
        let unknown = s.get("/v1/nothing-here", ADMIN).await;
        assert_eq!(unknown.status, 404);
        // An unreadable dataset is an error decision, recorded: a file
        // that existed at registration and is gone at the run.
        std::fs::copy(s.data("people.parquet"), s.data("missing.parquet")).expect("copy");
        s.put_json(
            "/v1/datasets/broken",
            ADMIN,
            &json!({"format": "parquet", "location": s.data("missing.parquet")}),
        )
        .await;
        std::fs::remove_file(s.data("missing.parquet")).expect("remove");
        let r = s
            .post_json("/v1/gate", ADMIN, &json!({"dataset": "broken", "ruleset": "people-checks", "stage": "x", "run_id": "b"}))
            .await;
        let a = r.json();
        assert_eq!(
            (a["decision"].clone(), a["status"].clone()),
            (json!("error"), json!("error")),
            "{a}"
        );
        assert!(
            a["message"]
                .as_str()
                .unwrap_or("")
                .contains("no file or folder"),
            "{a}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after() {
    let s = start_with(
        "sqlite",
        Limits {
            max_queued_evaluations: 0,
            ..Limits::default()
        },
    )
    .await;
    s.seed(RULES).await;
    let r = s.post_json("/v1/gate", ADMIN, &gate_body("busy")).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (429, json!("queue_full"))
    );
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(
        s.get("/v1/runs", ADMIN).await.json()["runs"],
        json!([]),
        "nothing was claimed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_left_running_by_a_crash_are_marked_interrupted() {
    for backend in backends() {
        let s = start(backend).await;
        let store = &s.state.store;
        let claim = store
            .claim_run("run-a", "key-a", "people", "r", 1, "landing", &json!({}))
            .await
            .expect("claim");
        assert_eq!(claim, dqgate::store::Claim::New("run-a".into()));
        store.start_run("run-a").await.expect("start");
        assert_eq!(api::recover(store).await.expect("recover"), 1, "{backend}");
        let run = s.get("/v1/runs/run-a", ADMIN).await.json();
        assert_eq!(
            (run["status"].clone(), run["decision"].clone()),
            (json!("interrupted"), json!("error"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_are_open_everything_else_needs_a_token() {
    let s = start("sqlite").await;
    let health = s.send("GET", "/healthz", None, "", b"").await;
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, json!("ok"))
    );
    let metrics = s.send("GET", "/metrics", None, "", b"").await;
    assert_eq!(metrics.status, 200);
    assert!(
        String::from_utf8_lossy(&metrics.body).contains("dqgate_runs_total{decision=\"pass\"} 0")
    );
    let anonymous = s.send("GET", "/v1/rulesets", None, "", b"").await;
    assert_eq!(
        (anonymous.status, anonymous.json()["code"].clone()),
        (401, json!("unauthorized"))
    );
    let wrong = s.get("/v1/rulesets", "not-a-token").await;
    assert_eq!(wrong.status, 401);
    let doc = s.get("/v1/openapi.json", ADMIN).await.json();
    for path in [
        "/v1/gate",
        "/v1/rulesets/{name}",
        "/v1/datasets/{name}",
        "/v1/runs/{id}",
        "/v1/trends",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_aware_gates_mark_expected_values_and_suggest_rules() {
    for backend in backends() {
        let s = start(backend).await;
        s.seed(
            "Rules = [\n  RowCount >= avg(last(3)),\n  DetectAnomalies \"RowCount\" with minHistory = 2\n]\n\
             Analyzers = [ AllStatistics \"score\" ]",
        )
        .await;
        let mut answers = Vec::new();
        for day in 1..=3 {
            let r = s
                .post_json("/v1/gate", ADMIN, &gate_body(&format!("day-{day}")))
                .await;
            assert_eq!(
                r.status,
                200,
                "{backend}: {}",
                String::from_utf8_lossy(&r.body)
            );
            answers.push(r.json());
        }
        let first = &answers[0];
        assert_eq!(first["decision"], "pass", "{backend}: {first}");
        assert!(
            first["rules"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("no history yet")),
            "{first}"
        );
        let third = &answers[2];
        assert_eq!(
            third["rules"][0]["message"],
            "Dataset.*.RowCount was 10; required >= avg(last(3)), which resolved to >= 10 (over 2 past value(s))"
        );
        let o = &third["rules"][1]["observations"][0];
        assert_eq!(o["expected"], 10.0, "{backend}: {third}");
        assert_eq!(o["history"], 2);
        assert_eq!(o["lower"], 9.7);
        assert_eq!(o["anomalous"], false);
        // Stored with the run and served again.
        let stored = s
            .get(third["run"].as_str().expect("run"), ADMIN)
            .await
            .json();
        assert_eq!(
            stored["rules"][1]["observations"],
            third["rules"][1]["observations"]
        );

        // A steward marks day 2's row count as expected: it stops training.
        let day2 = answers[1]["id"].as_str().expect("id").to_string();
        let path = format!("/v1/runs/{day2}/metrics/Dataset.*.RowCount/expected");
        let marked = s.post_json(&path, ADMIN, &json!({})).await;
        assert_eq!(
            marked.status,
            200,
            "{}",
            String::from_utf8_lossy(&marked.body)
        );
        assert_eq!(marked.json()["marked"], 1);
        let missing = s
            .post_json(
                &format!("/v1/runs/{day2}/metrics/Nope/expected"),
                ADMIN,
                &json!({}),
            )
            .await;
        assert_eq!(missing.status, 404);
        let fourth = s
            .post_json("/v1/gate", ADMIN, &gate_body("day-4"))
            .await
            .json();
        assert_eq!(
            fourth["rules"][1]["observations"][0]["history"], 2,
            "{fourth}"
        );

        // Analyzer metrics form trends without pass or fail.
        let trends = s
            .get("/v1/trends?dataset=people&metric=Column.score.Mean", ADMIN)
            .await
            .json();
        assert_eq!(
            trends["values"].as_array().map(Vec::len),
            Some(4),
            "{trends}"
        );
        assert_eq!(trends["values"][0]["value"], 20.0 / 9.0);

        // Suggestions: bounds from the four recorded runs; they pass.
        let r = s
            .post_json("/v1/suggest", ADMIN, &json!({"dataset": "people"}))
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let suggestion = r.json();
        let text = suggestion["ruleset"].as_str().expect("ruleset").to_string();
        assert!(text.contains("RowCount between 7 and 13"), "{text}");
        let put = s.put_text("/v1/rulesets/people-checks", ADMIN, &text).await;
        assert!(
            put.status == 200 || put.status == 201,
            "{}",
            String::from_utf8_lossy(&put.body)
        );
        let gated = s
            .post_json("/v1/gate", ADMIN, &gate_body("day-5"))
            .await
            .json();
        assert_eq!(gated["decision"], "pass", "{backend}: {gated}");
        let unknown = s
            .post_json("/v1/suggest", ADMIN, &json!({"dataset": "nope"}))
            .await;
        assert_eq!(unknown.status, 404);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_parameters_slice_a_partitioned_dataset() {
    for backend in backends() {
        let s = start(backend).await;
        for (day, rows) in [("2026-11-24", 3), ("2026-11-25", 4)] {
            let dir = s.dir.path().join(format!("orders/ingestion_date={day}"));
            std::fs::create_dir_all(&dir).expect("dir");
            let text: String = std::iter::once("id\n".to_string())
                .chain((0..rows).map(|i| format!("{i}\n")))
                .collect();
            std::fs::write(dir.join("part-0.csv"), text).expect("csv");
        }
        let body = json!({"format": "csv", "location": s.data("orders"), "options": {"slice_column": "ingestion_date"}});
        assert_eq!(
            s.put_json("/v1/datasets/orders", ADMIN, &body).await.status,
            201
        );
        s.put_text(
            "/v1/rulesets/orders-checks",
            ADMIN,
            "Rules = [ RowCount > 0 ]",
        )
        .await;
        let gate = |run_id: &str, parameters: Value| json!({"dataset": "orders", "ruleset": "orders-checks", "stage": "landing", "run_id": run_id, "parameters": parameters});
        let all = s
            .post_json("/v1/gate", ADMIN, &gate("all", json!({})))
            .await
            .json();
        assert_eq!(
            all["rules"][0]["message"], "Dataset.*.RowCount was 7; required > 0",
            "{all}"
        );
        let day = s
            .post_json(
                "/v1/gate",
                ADMIN,
                &gate(
                    "day",
                    json!({"start_date": "2026-11-25", "end_date": "2026-11-26"}),
                ),
            )
            .await
            .json();
        assert_eq!(
            day["rules"][0]["message"], "Dataset.*.RowCount was 4; required > 0",
            "{day}"
        );
        assert_eq!(
            day["inputs"]["read"]["primary"]["slice"],
            "ingestion_date >= 2026-11-25 and ingestion_date < 2026-11-26: 1 of 2 partition(s), 1 of 2 file(s)"
        );
        let bad = s
            .post_json(
                "/v1/gate",
                ADMIN,
                &gate("bad", json!({"start_date": "yesterday"})),
            )
            .await
            .json();
        assert_eq!(bad["decision"], "error", "{bad}");
        assert!(
            bad["message"]
                .as_str()
                .is_some_and(|m| m.contains("not a date")),
            "{bad}"
        );
    }
}
