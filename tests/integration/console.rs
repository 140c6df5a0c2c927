//! The steward console in-process (`oneshot`), on SQLite and PostgreSQL:
//! every page and action for each role and without a session, CSRF
//! refusal, session expiry, sign-out and revoked tokens, the tokens API,
//! and the first admin token `dqgate serve` prints once.

use std::io::BufRead;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use dqgate::api::auth::{hash_token, new_token};
use dqgate::api::{AppState, Limits};
use dqgate::console::{self, ConsoleSettings};
use dqgate::source::Confinement;
use dqgate::store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::fixtures;
use super::service::{ADMIN, backends, fresh_database};

const ROLES: [&str; 4] = ["admin", "steward", "pipeline", "viewer"];

/// Version 1 of the ruleset the tests edit.
const RULES_V1: &str = "Rules = [\n    RowCount = 10,\n    DetectAnomalies \"RowCount\"\n]";

/// An answer: status, headers and body text.
struct Reply {
    status: u16,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A console over a fresh database, with `people` registered.
struct Console {
    app: Router,
    store: Store,
    _dir: tempfile::TempDir,
}

/// A signed-in browser: its session cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let value: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl Console {
    async fn start(backend: &str, ttl: Duration) -> Console {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let store = Store::connect(&fresh_database(backend, &data_dir).await)
            .await
            .expect("store");
        let confinement =
            Confinement::new(&[dir.path().to_path_buf()], &[data_dir], &[]).expect("confinement");
        let state = AppState::new(store.clone(), Limits::default(), Some(ADMIN))
            .with_confinement(confinement);
        let app = console::app(state, ConsoleSettings { session_ttl: ttl });
        fixtures::write_all(dir.path());
        let c = Console {
            app,
            store,
            _dir: dir,
        };
        let people = dir_file(&c, "people.parquet");
        let r = c
            .api(
                "PUT",
                "/v1/datasets/people",
                ADMIN,
                json!({"format": "parquet", "location": people}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        c
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let answer = self.app.clone().oneshot(request).await.expect("answer");
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let bytes = axum::body::to_bytes(answer.into_body(), 1 << 24)
            .await
            .expect("body");
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).to_string(),
        }
    }

    async fn api(&self, method: &str, path: &str, token: &str, body: Value) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(if body.is_null() {
                Body::empty()
            } else {
                Body::from(body.to_string())
            })
            .expect("request");
        self.send(request).await
    }

    async fn get(&self, path: &str, browser: Option<&Browser>) -> Reply {
        let mut request = Request::get(path);
        if let Some(b) = browser {
            request = request.header(header::COOKIE, format!("dqgate_session={}", b.cookie));
        }
        self.send(request.body(Body::empty()).expect("request"))
            .await
    }

    /// Posts a form; `csrf` is added when given.
    async fn post(
        &self,
        path: &str,
        browser: Option<&Browser>,
        csrf: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Reply {
        let mut pairs: Vec<(&str, &str)> = fields.to_vec();
        if let Some(token) = csrf {
            pairs.push(("csrf", token));
        }
        let mut request =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(b) = browser {
            request = request.header(header::COOKIE, format!("dqgate_session={}", b.cookie));
        }
        self.send(
            request
                .body(Body::from(form_encode(&pairs)))
                .expect("request"),
        )
        .await
    }

    /// Signs in with `token` and reads the CSRF token off the overview.
    async fn sign_in(&self, token: &str) -> Browser {
        let r = self.post("/signin", None, None, &[("token", token)]).await;
        assert_eq!((r.status, r.header("location")), (303, "/"), "{}", r.body);
        let set = r.header("set-cookie").to_string();
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
            assert!(set.contains(attribute), "{set}");
        }
        let cookie = set
            .strip_prefix("dqgate_session=")
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_string();
        let mut browser = Browser {
            cookie,
            csrf: String::new(),
        };
        let page = self.get("/", Some(&browser)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        browser.csrf = csrf_of(&page.body);
        browser
    }

    /// Creates a stored token of each role; returns (role, secret).
    async fn role_tokens(&self) -> Vec<(&'static str, String)> {
        let mut tokens = Vec::new();
        for role in ROLES {
            let token = new_token().expect("token");
            assert!(
                self.store
                    .create_token(&format!("{role}-1"), role, &hash_token(&token))
                    .await
                    .expect("create")
            );
            tokens.push((role, token));
        }
        tokens
    }

    /// Saves the ruleset and gates `people` `n` times; returns the last run id.
    async fn seed_runs(&self, n: usize) -> String {
        let r = self
            .api(
                "PUT",
                "/v1/rulesets/people-checks",
                ADMIN,
                json!({"dqdl": RULES_V1, "comment": "first"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let mut last = String::new();
        for i in 0..n {
            let r = self
                .api(
                    "POST",
                    "/v1/gate",
                    ADMIN,
                    json!({"dataset": "people", "ruleset": "people-checks", "stage": "landing", "run_id": format!("run-{i}")}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.json()["decision"], "pass", "{}", r.body);
            last = r.json()["id"].as_str().expect("id").to_string();
        }
        last
    }
}

fn dir_file(c: &Console, name: &str) -> String {
    c._dir.path().join(name).display().to_string()
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF field")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_action_by_role_and_without_a_session() {
    for backend in backends() {
        let c = Console::start(backend, Duration::from_secs(3600)).await;
        let run = c.seed_runs(6).await;
        let tokens = c.role_tokens().await;
        let pages = [
            "/".to_string(),
            "/?stage=landing&decision=pass".to_string(),
            "/datasets/people".to_string(),
            "/datasets/people?stage=landing&decision=pass&from=2000-01-01&to=2999-12-31"
                .to_string(),
            "/datasets/people?metric=Dataset.%2A.RowCount".to_string(),
            format!("/runs/{run}"),
            "/rulesets".to_string(),
            "/rulesets/people-checks".to_string(),
            "/rulesets/people-checks?version=1".to_string(),
            "/rulesets/people-checks/diff?from=1&to=1".to_string(),
        ];
        let steward_pages = ["/rulesets/people-checks/edit", "/rulesets/new?name=fresh"];
        let admin_pages = ["/tokens"];

        // No session: every page and action sends the browser to sign in.
        for path in pages
            .iter()
            .map(String::as_str)
            .chain(steward_pages)
            .chain(admin_pages)
        {
            let r = c.get(path, None).await;
            assert_eq!(
                (r.status, r.header("location")),
                (303, "/signin"),
                "{backend} {path}"
            );
        }
        let actions: [(&str, Vec<(&str, &str)>); 6] = [
            (
                "/rulesets/people-checks",
                vec![("text", "Rules = [ RowCount > 1 ]"), ("comment", "c")],
            ),
            ("/rulesets/people-checks/restore", vec![("version", "1")]),
            (
                "/datasets/people/expected",
                vec![("run", run.as_str()), ("metric", "Dataset.*.RowCount")],
            ),
            ("/tokens", vec![("name", "made-here"), ("role", "viewer")]),
            ("/tokens/viewer-1/revoke", vec![]),
            ("/signout", vec![]),
        ];
        for (path, fields) in &actions {
            let r = c.post(path, None, Some("x"), fields).await;
            assert_eq!(
                (r.status, r.header("location")),
                (303, "/signin"),
                "{backend} {path}"
            );
        }
        let signin = c.get("/signin", None).await;
        assert_eq!(signin.status, 200);
        assert!(
            signin.body.contains("<label for=\"token\">"),
            "{}",
            signin.body
        );

        for (role, token) in &tokens {
            let b = c.sign_in(token).await;
            let editor = matches!(*role, "admin" | "steward");
            for path in &pages {
                let r = c.get(path, Some(&b)).await;
                assert_eq!(r.status, 200, "{backend} {role} {path}: {}", r.body);
                assert!(
                    r.header("content-security-policy")
                        .contains("default-src 'self'")
                );
                assert_eq!(r.header("x-frame-options"), "DENY");
                assert_eq!(r.header("cache-control"), "no-store");
                assert!(
                    !r.body.contains("http://") && !r.body.contains("https://"),
                    "no other origins: {path}"
                );
            }
            for path in steward_pages {
                let r = c.get(path, Some(&b)).await;
                let expected = if editor { vec![200, 303] } else { vec![403] };
                assert!(
                    expected.contains(&r.status),
                    "{backend} {role} {path}: {}",
                    r.status
                );
            }
            let r = c.get("/tokens", Some(&b)).await;
            assert_eq!(
                r.status,
                if *role == "admin" { 200 } else { 403 },
                "{backend} {role}"
            );
            // Edit controls are shown to editors only.
            let ruleset = c
                .get("/rulesets/people-checks?version=1", Some(&b))
                .await
                .body;
            assert_eq!(
                ruleset.contains("/rulesets/people-checks/edit"),
                editor,
                "{role}"
            );
            let trend = c
                .get("/datasets/people?metric=Dataset.%2A.RowCount", Some(&b))
                .await
                .body;
            assert_eq!(trend.contains("Mark expected"), editor, "{role}");
            assert_eq!(
                c.get("/", Some(&b)).await.body.contains("href=\"/tokens\""),
                *role == "admin"
            );
        }

        // The pages show what they should.
        let admin = c.sign_in(ADMIN).await;
        let overview = c.get("/", Some(&admin)).await;
        assert!(
            overview.body.contains("href=\"/datasets/people\"")
                && overview.body.contains("data-decision=\"pass\""),
            "{backend} {}: {}",
            overview.status,
            overview.body
        );
        let filtered = c.get("/?decision=fail", Some(&admin)).await.body;
        assert!(
            !filtered.contains("href=\"/datasets/people\""),
            "{filtered}"
        );
        let dataset = c
            .get("/datasets/people?metric=Dataset.%2A.RowCount", Some(&admin))
            .await
            .body;
        assert!(
            dataset.contains("data-chart=\"line\""),
            "score table for a chart"
        );
        assert!(
            dataset.contains("data-chart=\"band\"") && dataset.contains("data-lower=\"9.7\""),
            "{dataset}"
        );
        let run_page = c.get(&format!("/runs/{run}"), Some(&admin)).await.body;
        assert!(
            run_page.contains("DetectAnomalies") && run_page.contains("Passed"),
            "{run_page}"
        );

        // Forged posts: viewers and pipelines get 403 for every edit; the
        // CSRF token is checked first.
        for (role, token) in tokens
            .iter()
            .filter(|(r, _)| matches!(*r, "viewer" | "pipeline"))
        {
            let b = c.sign_in(token).await;
            for (path, fields) in actions.iter().take(5) {
                let r = c.post(path, Some(&b), Some(&b.csrf), fields).await;
                assert_eq!(r.status, 403, "{backend} {role} {path}: {}", r.body);
            }
        }
        let (_, steward_token) = &tokens[1];
        let steward = c.sign_in(steward_token).await;
        for csrf in [None, Some("forged"), Some(admin.csrf.as_str())] {
            let r = c
                .post(
                    "/rulesets/people-checks",
                    Some(&steward),
                    csrf,
                    &actions[0].1,
                )
                .await;
            assert_eq!(r.status, 403, "{backend} csrf {csrf:?}: {}", r.body);
            assert!(r.body.contains("csrf_mismatch"));
        }
        let versions = c
            .api(
                "GET",
                "/v1/rulesets/people-checks/versions",
                ADMIN,
                Value::Null,
            )
            .await;
        assert_eq!(
            versions.json().as_array().map(Vec::len),
            Some(1),
            "nothing saved"
        );

        // A steward edits: errors with line and column, then a new version,
        // a diff, a restore, and a value marked expected.
        let bad = c
            .post(
                "/rulesets/people-checks",
                Some(&steward),
                Some(&steward.csrf),
                &[
                    ("text", "Rules = [\r\n  Completness \"a\" > 0.5\r\n]"),
                    ("comment", ""),
                ],
            )
            .await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        assert!(
            bad.body.contains("line 2, column 3") && bad.body.contains("Completeness"),
            "{}",
            bad.body
        );
        let check = c
            .post(
                "/rulesets/people-checks",
                Some(&steward),
                Some(&steward.csrf),
                &[("text", "Rules = [ RowCount > 1 ]"), ("intent", "validate")],
            )
            .await;
        assert_eq!(check.status, 200);
        assert!(check.body.contains("valid: no errors"));
        let saved = c
            .post(
                "/rulesets/people-checks",
                Some(&steward),
                Some(&steward.csrf),
                &[
                    ("text", "Rules = [\r\n    RowCount = 10\r\n]"),
                    ("comment", "no detector"),
                ],
            )
            .await;
        assert_eq!(
            (saved.status, saved.header("location")),
            (303, "/rulesets/people-checks?version=2"),
            "{}",
            saved.body
        );
        let v2 = c
            .api("GET", "/v1/rulesets/people-checks", ADMIN, Value::Null)
            .await
            .json();
        assert_eq!(
            (
                v2["version"].clone(),
                v2["author"].clone(),
                v2["comment"].clone()
            ),
            (json!(2), json!("steward-1"), json!("no detector"))
        );
        assert_eq!(
            v2["dqdl"], "Rules = [\n    RowCount = 10\n]",
            "CRLF from the browser is stored as LF"
        );
        let diff = c
            .get("/rulesets/people-checks/diff?from=1&to=2", Some(&steward))
            .await
            .body;
        assert!(
            diff.contains("<tr class=\"del\">") && diff.contains("DetectAnomalies"),
            "{diff}"
        );
        let restored = c
            .post(
                "/rulesets/people-checks/restore",
                Some(&steward),
                Some(&steward.csrf),
                &[("version", "1")],
            )
            .await;
        assert_eq!(
            (restored.status, restored.header("location")),
            (303, "/rulesets/people-checks?version=3")
        );
        let v3 = c
            .api("GET", "/v1/rulesets/people-checks", ADMIN, Value::Null)
            .await
            .json();
        assert_eq!(
            (v3["dqdl"].as_str(), v3["comment"].as_str()),
            (Some(RULES_V1), Some("restored version 1"))
        );
        let marked = c
            .post(
                "/datasets/people/expected",
                Some(&steward),
                Some(&steward.csrf),
                &[("run", run.as_str()), ("metric", "Dataset.*.RowCount")],
            )
            .await;
        assert_eq!(marked.status, 303, "{}", marked.body);
        let trend = c
            .get(
                "/datasets/people?metric=Dataset.%2A.RowCount",
                Some(&steward),
            )
            .await
            .body;
        assert!(trend.contains("excluded (expected)"), "{trend}");
        let unknown = c
            .post(
                "/datasets/people/expected",
                Some(&steward),
                Some(&steward.csrf),
                &[("run", run.as_str()), ("metric", "Nope")],
            )
            .await;
        assert_eq!(unknown.status, 404, "the API's status for the same error");
        assert!(unknown.body.contains("metric_not_found"));

        // An admin makes and revokes a token from the console.
        let created = c
            .post(
                "/tokens",
                Some(&admin),
                Some(&admin.csrf),
                &[("name", "made-here"), ("role", "viewer")],
            )
            .await;
        assert_eq!(created.status, 200, "{}", created.body);
        let secret = created
            .body
            .split("id=\"secret\" class=\"secret\" readonly value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("the secret, shown once")
            .to_string();
        assert_eq!(
            c.api("GET", "/v1/rulesets", &secret, Value::Null)
                .await
                .status,
            200
        );
        assert!(
            !c.get("/tokens", Some(&admin)).await.body.contains(&secret),
            "shown only once"
        );
        let revoked = c
            .post(
                "/tokens/made-here/revoke",
                Some(&admin),
                Some(&admin.csrf),
                &[],
            )
            .await;
        assert_eq!(
            (revoked.status, revoked.header("location")),
            (303, "/tokens")
        );
        assert_eq!(
            c.api("GET", "/v1/rulesets", &secret, Value::Null)
                .await
                .status,
            401
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_end_at_sign_out_and_with_their_token() {
    for backend in backends() {
        let c = Console::start(backend, Duration::from_secs(1)).await;
        let unknown = c
            .post("/signin", None, None, &[("token", "not-a-token")])
            .await;
        assert_eq!(unknown.status, 401);
        assert!(unknown.body.contains("unknown token") && unknown.header("set-cookie").is_empty());

        let short = c.sign_in(ADMIN).await;
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let expired = c.get("/", Some(&short)).await;
        assert_eq!(
            (expired.status, expired.header("location")),
            (303, "/signin"),
            "{backend}: expired"
        );

        let c = Console::start(backend, Duration::from_secs(3600)).await;
        let b = c.sign_in(ADMIN).await;
        let wrong = c.post("/signout", Some(&b), Some("forged"), &[]).await;
        assert_eq!(wrong.status, 403, "sign-out needs the CSRF token too");
        let out = c.post("/signout", Some(&b), Some(&b.csrf), &[]).await;
        assert_eq!((out.status, out.header("location")), (303, "/signin"));
        assert!(out.header("set-cookie").contains("Max-Age=0"));
        assert_eq!(
            c.get("/", Some(&b)).await.status,
            303,
            "{backend}: revoked at sign-out"
        );

        let tokens = c.role_tokens().await;
        let viewer = c.sign_in(&tokens[3].1).await;
        assert_eq!(c.get("/", Some(&viewer)).await.status, 200);
        assert_eq!(
            c.api("DELETE", "/v1/tokens/viewer-1", ADMIN, Value::Null)
                .await
                .status,
            204
        );
        assert_eq!(
            c.get("/", Some(&viewer)).await.status,
            303,
            "{backend}: a revoked token ends its sessions"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokens_api_is_for_admins() {
    for backend in backends() {
        let c = Console::start(backend, Duration::from_secs(3600)).await;
        let tokens = c.role_tokens().await;
        for (role, token) in &tokens {
            let list = c.api("GET", "/v1/tokens", token, Value::Null).await;
            let create = c
                .api(
                    "POST",
                    "/v1/tokens",
                    token,
                    json!({"name": format!("by-{role}"), "role": "viewer"}),
                )
                .await;
            let revoke = c
                .api("DELETE", "/v1/tokens/nobody", token, Value::Null)
                .await;
            if *role == "admin" {
                assert_eq!(
                    (list.status, create.status, revoke.status),
                    (200, 201, 404),
                    "{backend}"
                );
            } else {
                assert_eq!(
                    (list.status, create.status, revoke.status),
                    (403, 403, 403),
                    "{backend} {role}"
                );
            }
        }
        assert_eq!(
            c.api("GET", "/v1/tokens", "nope", Value::Null).await.status,
            401
        );

        let created = c
            .api(
                "POST",
                "/v1/tokens",
                ADMIN,
                json!({"name": "airflow", "role": "pipeline"}),
            )
            .await;
        assert_eq!(
            (created.status, created.header("cache-control")),
            (201, "no-store")
        );
        let secret = created.json()["token"]
            .as_str()
            .expect("secret")
            .to_string();
        assert_eq!(created.json()["role"], "pipeline");
        let again = c
            .api(
                "POST",
                "/v1/tokens",
                ADMIN,
                json!({"name": "airflow", "role": "viewer"}),
            )
            .await;
        assert_eq!(
            (again.status, again.json()["code"].clone()),
            (409, json!("token_exists"))
        );
        let bad = c
            .api(
                "POST",
                "/v1/tokens",
                ADMIN,
                json!({"name": "x", "role": "root"}),
            )
            .await;
        assert_eq!(bad.status, 400);

        let listed = |r: &Reply, name: &str| -> Value {
            r.json()
                .as_array()
                .and_then(|a| a.iter().find(|t| t["name"] == name).cloned())
                .unwrap_or(Value::Null)
        };
        let before = c.api("GET", "/v1/tokens", ADMIN, Value::Null).await;
        assert_eq!(listed(&before, "airflow")["last_used_at"], Value::Null);
        assert!(!before.body.contains(&secret) && !before.body.contains("hash"));
        assert_eq!(
            c.api("GET", "/v1/runs", &secret, Value::Null).await.status,
            200
        );
        let after = c.api("GET", "/v1/tokens", ADMIN, Value::Null).await;
        let first_use = listed(&after, "airflow")["last_used_at"].clone();
        assert!(first_use.is_string(), "{}", after.body);
        c.api("GET", "/v1/runs", &secret, Value::Null).await;
        let later = c.api("GET", "/v1/tokens", ADMIN, Value::Null).await;
        assert_eq!(
            listed(&later, "airflow")["last_used_at"],
            first_use,
            "at most once a minute"
        );

        assert_eq!(
            c.api("DELETE", "/v1/tokens/airflow", ADMIN, Value::Null)
                .await
                .status,
            204
        );
        assert_eq!(
            c.api("GET", "/v1/runs", &secret, Value::Null).await.status,
            401
        );
        assert_eq!(
            c.api("DELETE", "/v1/tokens/airflow", ADMIN, Value::Null)
                .await
                .status,
            404
        );
        let doc = c
            .api("GET", "/v1/openapi.json", ADMIN, Value::Null)
            .await
            .json();
        assert!(
            doc["paths"]["/v1/tokens"]["post"].is_object()
                && doc["paths"]["/v1/tokens/{name}"]["delete"].is_object()
        );
    }
}

/// Reads `serve`'s stderr until the console line; returns what it printed.
fn first_lines(child: &mut std::process::Child) -> String {
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        seen.push_str(&line);
        seen.push('\n');
        if line.trim_start().starts_with("dqg_") || line.starts_with("console: ") {
            break;
        }
    }
    seen
}

#[test]
fn serve_prints_the_first_admin_token_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dqgate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", "store"])
            .current_dir(dir.path())
            .env_remove("DQGATE_ADMIN_TOKEN")
            .env_remove("DQGATE_DATABASE_URL")
            .env_remove("DQGATE_CONFIG")
            .env("DQGATE_LOG_FORMAT", "json")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("serve starts")
    };
    let mut first = start();
    let printed = first_lines(&mut first);
    first.kill().expect("stop the first server");
    first.wait().expect("reaped");
    assert!(printed.contains("Console: http://127.0.0.1:"), "{printed}");
    let token = printed
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("dqg_"))
        .unwrap_or_else(|| panic!("no token printed: {printed}"))
        .to_string();

    let mut second = start();
    let again = first_lines(&mut second);
    second.kill().expect("stop the second server");
    second.wait().expect("reaped");
    assert!(again.contains("console: http://127.0.0.1:"), "{again}");
    assert!(
        !again.contains("dqg_"),
        "printed only at the first start: {again}"
    );

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = Store::connect(&Store::sqlite_url(&dir.path().join("store")).expect("url"))
            .await
            .expect("store");
        let found = store.find_token(&hash_token(&token)).await.expect("lookup");
        assert_eq!(
            found.map(|t| (t.name, t.role)),
            Some(("admin".to_string(), "admin".to_string()))
        );
    });
}

/// What the islands ask for (rule types, validation, columns), Try it,
/// Format, Suggest, the gate button, undoing "expected" and the embedded
/// assets, by role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn island_endpoints_try_format_suggest_and_gate_by_role() {
    for backend in backends() {
        let c = Console::start(backend, Duration::from_secs(3600)).await;
        let run = c.seed_runs(6).await;
        let tokens = c.role_tokens().await;
        let token_of = |role: &str| {
            tokens
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, t)| t.clone())
                .expect("role")
        };
        let viewer = c.sign_in(&token_of("viewer")).await;
        let steward = c.sign_in(&token_of("steward")).await;
        let pipeline = c.sign_in(&token_of("pipeline")).await;

        // Rule types come from the validator's table, with signatures.
        let r = c.get("/editor/rule-types", Some(&viewer)).await;
        assert_eq!(r.status, 200, "{backend}: {}", r.body);
        let types = r.json();
        let types = types.as_array().expect("a list");
        assert_eq!(types.len(), dqgate::dqdl::RuleType::ALL.len());
        let completeness = types
            .iter()
            .find(|t| t["name"] == "Completeness")
            .expect("Completeness");
        assert_eq!(
            completeness["signature"],
            "Completeness \"column\" <number condition> [where \"…\"]"
        );
        assert_eq!(completeness["example"], "Completeness \"email\" >= 0.95");

        // Live validation: editors only, CSRF checked, spans to underline.
        let typo = "Rules = [\n    IsComplet \"id\"\n]";
        let r = c
            .post(
                "/editor/validate",
                Some(&steward),
                Some(&steward.csrf),
                &[("text", typo)],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["valid"], false);
        assert_eq!(
            (
                &v["errors"][0]["line"],
                &v["errors"][0]["column"],
                &v["errors"][0]["length"]
            ),
            (&json!(2), &json!(5), &json!(9)),
            "{v}"
        );
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .expect("message")
                .contains("IsComplete"),
            "{v}"
        );
        let r = c
            .post(
                "/editor/validate",
                Some(&steward),
                Some(&steward.csrf),
                &[("text", "Rules = [ IsComplete \"id\" ]")],
            )
            .await;
        assert_eq!(r.json(), json!({"valid": true, "errors": []}));
        for (b, csrf) in [(&steward, "forged"), (&viewer, viewer.csrf.as_str())] {
            let r = c
                .post("/editor/validate", Some(b), Some(csrf), &[("text", typo)])
                .await;
            assert_eq!(r.status, 403, "{backend}: {}", r.body);
        }

        // Columns from the source, as JSON and as the schema page.
        let r = c.get("/datasets/people/columns", Some(&viewer)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let names: Vec<String> = r
            .json()
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c["name"].as_str().expect("name").to_string())
            .collect();
        assert_eq!(&names[..4], ["id", "name", "age", "score"]);
        assert_eq!(
            c.get("/datasets/nobody/columns", Some(&viewer))
                .await
                .status,
            404
        );
        let schema = c.get("/datasets/people/schema", Some(&viewer)).await;
        assert!(
            schema.status == 200 && schema.body.contains("<code>joined</code>"),
            "{}",
            schema.body
        );

        // Try it: per-rule results, nothing recorded.
        let runs_before = c
            .api("GET", "/v1/runs?dataset=people", ADMIN, Value::Null)
            .await
            .body;
        let tried = c
            .post(
                "/rulesets/people-checks",
                Some(&steward),
                Some(&steward.csrf),
                &[
                    ("text", "Rules = [ RowCount = 10, IsComplete \"age\" ]"),
                    ("intent", "try"),
                    ("dataset", "people"),
                    ("stage", "landing"),
                ],
            )
            .await;
        assert_eq!(tried.status, 200, "{}", tried.body);
        assert!(tried.body.contains("Tried on people"), "{}", tried.body);
        let outcomes: Vec<&str> = tried
            .body
            .split("data-outcome=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        assert_eq!(outcomes, ["Passed", "Failed"], "age has two NULLs");
        let runs_after = c
            .api("GET", "/v1/runs?dataset=people", ADMIN, Value::Null)
            .await
            .body;
        assert_eq!(runs_before, runs_after, "Try it records nothing");
        let unknown = c
            .post(
                "/rulesets/people-checks",
                Some(&steward),
                Some(&steward.csrf),
                &[
                    ("text", "Rules = [ RowCount > 0 ]"),
                    ("intent", "try"),
                    ("dataset", "nobody"),
                ],
            )
            .await;
        assert!(
            unknown.body.contains("no dataset `nobody`"),
            "{}",
            unknown.body
        );

        // Format rewrites the text canonically without saving.
        let formatted = c
            .post(
                "/rulesets/people-checks",
                Some(&steward),
                Some(&steward.csrf),
                &[
                    ("text", "Rules=[RowCount>1,IsComplete  \"id\"]"),
                    ("intent", "format"),
                ],
            )
            .await;
        assert_eq!(formatted.status, 200);
        assert!(
            formatted
                .body
                .contains("Rules = [\n    RowCount &#62; 1,\n    IsComplete &#34;id&#34;\n]"),
            "{}",
            formatted.body
        );

        // Suggest: a new ruleset opens with a profiled suggestion.
        let r = c
            .get(
                "/rulesets/new?name=suggested&suggest=people",
                Some(&steward),
            )
            .await;
        assert_eq!(
            (r.status, r.header("location")),
            (303, "/rulesets/suggested/edit?suggest=people")
        );
        let r = c
            .get("/rulesets/suggested/edit?suggest=people", Some(&steward))
            .await;
        assert!(
            r.status == 200
                && r.body.contains("suggested from a profile of `people`")
                && r.body.contains("IsComplete &#34;id&#34;"),
            "{}",
            r.body
        );
        assert_eq!(
            c.get("/rulesets/suggested/edit?suggest=people", Some(&viewer))
                .await
                .status,
            403
        );

        // The gate button: admin and pipeline only, recorded like a pipeline's.
        for b in [&viewer, &steward] {
            let r = c
                .post(
                    "/datasets/people/gate",
                    Some(b),
                    Some(&b.csrf),
                    &[("ruleset", "people-checks"), ("stage", "console")],
                )
                .await;
            assert_eq!(r.status, 403, "{backend}: {}", r.body);
        }
        let r = c
            .post(
                "/datasets/people/gate",
                Some(&pipeline),
                Some(&pipeline.csrf),
                &[("ruleset", "people-checks"), ("stage", "console")],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let id = r
            .header("location")
            .strip_prefix("/runs/")
            .expect("a run")
            .to_string();
        let recorded = c
            .api("GET", &format!("/v1/runs/{id}"), ADMIN, Value::Null)
            .await
            .json();
        assert_eq!(
            (&recorded["stage"], &recorded["decision"]),
            (&json!("console"), &json!("pass")),
            "{recorded}"
        );

        // Marking a value expected can be undone, from the page and the API.
        let mark = [("run", run.as_str()), ("metric", "Dataset.*.RowCount")];
        let r = c
            .post(
                "/datasets/people/expected",
                Some(&steward),
                Some(&steward.csrf),
                &mark,
            )
            .await;
        assert_eq!(r.status, 303, "{backend}: {}", r.body);
        assert_eq!(excluded(&c.store, &run).await, Some(true));
        let mut undo = mark.to_vec();
        undo.push(("undo", "true"));
        let r = c
            .post(
                "/datasets/people/expected",
                Some(&steward),
                Some(&steward.csrf),
                &undo,
            )
            .await;
        assert_eq!(r.status, 303);
        assert_eq!(excluded(&c.store, &run).await, Some(false));
        let path = format!("/v1/runs/{run}/metrics/Dataset.*.RowCount/expected");
        assert_eq!(c.api("POST", &path, ADMIN, Value::Null).await.status, 200);
        assert_eq!(excluded(&c.store, &run).await, Some(true));
        let r = c.api("DELETE", &path, ADMIN, Value::Null).await;
        assert_eq!(
            (r.status, r.json()["marked"].as_u64()),
            (200, Some(1)),
            "{}",
            r.body
        );
        assert_eq!(excluded(&c.store, &run).await, Some(false));

        // Assets: embedded, typed, revalidated with their ETag.
        let r = c.get("/assets/editor.js", None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), "text/javascript; charset=utf-8");
        let etag = r.header("etag").to_string();
        assert!(etag.starts_with('"') && r.body.len() > 10_000);
        let again = c
            .send(
                Request::get("/assets/editor.js")
                    .header(header::IF_NONE_MATCH, &etag)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        assert_eq!((again.status, again.body.len()), (304, 0));
        assert_eq!(c.get("/assets/nothing.js", None).await.status, 404);
        let page = c.get("/", Some(&viewer)).await;
        assert!(
            page.header("content-security-policy")
                .contains("img-src 'self' data:")
        );
    }
}

/// Whether run `run`'s RowCount of `people` is excluded from training.
async fn excluded(store: &Store, run: &str) -> Option<bool> {
    let points = store
        .metric_points("people", "Dataset.*.RowCount", Some("landing"), 50)
        .await
        .expect("points");
    points.iter().find(|p| p.run == run).map(|p| p.excluded)
}

/// Runs without a score (an unreadable dataset) and runs with one, one
/// after the other on the same store: on PostgreSQL a statement prepared
/// with a NULL double once rejected the next run's score (sqlx's Any driver
/// declares a NULL double as float4), so every later run on that connection
/// ended `error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_with_and_without_a_score_alternate_on_one_store() {
    for backend in backends() {
        let c = Console::start(backend, Duration::from_secs(3600)).await;
        c.seed_runs(1).await;
        let doomed = c._dir.path().join("doomed.parquet");
        std::fs::copy(c._dir.path().join("people.parquet"), &doomed).expect("copy");
        let r = c
            .api(
                "PUT",
                "/v1/datasets/doomed",
                ADMIN,
                json!({"format": "parquet", "location": doomed.display().to_string()}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        std::fs::remove_file(&doomed).expect("remove");
        // Runs of each kind in turns of different lengths, so that the
        // pool's connections each see both kinds whatever their number.
        for i in 0..12 {
            let turn = if i % 3 == 0 { 1 } else { 2 };
            let kinds = [("doomed", "error"), ("people", "pass")];
            for (dataset, decision) in kinds.iter().cycle().skip(i % 2).take(turn + 1) {
                let r = c
                    .api(
                        "POST",
                        "/v1/gate",
                        ADMIN,
                        json!({"dataset": dataset, "ruleset": "people-checks", "stage": "alternate", "run_id": format!("{dataset}-{i}-{}", new_token().expect("id"))}),
                    )
                    .await;
                let answer = r.json();
                assert_eq!(answer["decision"], *decision, "{backend} {i}: {}", r.body);
                assert_eq!(
                    answer["score"].is_null(),
                    *decision == "error",
                    "{}",
                    r.body
                );
            }
        }
    }
}
