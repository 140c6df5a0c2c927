//! Failing-row samples of gate runs (the dataset option
//! `failed_rows_sample`): the rows kept are exactly the fixture's bad rows,
//! the cap is honoured, 0 keeps none, bad values are refused at
//! registration; served by `GET /v1/runs/{id}` and on the console's run
//! page (HTML-escaped), on SQLite and PostgreSQL.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use dqgate::api::{AppState, Limits};
use dqgate::console::{self, ConsoleSettings};
use dqgate::source::Confinement;
use dqgate::store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::fixtures;
use super::service::{ADMIN, backends, fresh_database};

/// Two row-level rules fail on `people`: ages 3 and 7 are NULL, ages 2
/// (25) and 6 (20) are not above 28 (and a NULL age is not either).
/// `IsUnique "id"` passes, `RowCount` is not row-level.
const RULES: &str = "Rules = [\n    IsComplete \"age\",\n    ColumnValues \"age\" > 28,\n    IsUnique \"id\",\n    RowCount = 10\n]";

const COMPLETE: &str = "IsComplete \"age\"";
const ABOVE: &str = "ColumnValues \"age\" > 28";

struct App {
    app: Router,
    store: Store,
    dir: tempfile::TempDir,
}

impl App {
    async fn start(backend: &str) -> App {
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
        let app = console::app(
            state,
            ConsoleSettings {
                session_ttl: Duration::from_secs(3600),
            },
        );
        fixtures::write_all(dir.path());
        App { app, store, dir }
    }

    async fn send(&self, request: Request<Body>) -> (u16, axum::http::HeaderMap, String) {
        let answer = self.app.clone().oneshot(request).await.expect("answer");
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let bytes = axum::body::to_bytes(answer.into_body(), 1 << 24)
            .await
            .expect("body");
        (status, headers, String::from_utf8_lossy(&bytes).to_string())
    }

    async fn api(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let (status, _, text) = self.send(request).await;
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    /// Registers `people` under `name` with `options`.
    async fn register(&self, name: &str, options: Value) -> (u16, Value) {
        let location = self.dir.path().join("people.parquet").display().to_string();
        self.api(
            "PUT",
            &format!("/v1/datasets/{name}"),
            json!({"format": "parquet", "location": location, "options": options}),
        )
        .await
    }

    async fn gate(&self, dataset: &str) -> Value {
        let (status, answer) = self
            .api(
                "POST",
                "/v1/gate",
                json!({"dataset": dataset, "ruleset": "checks", "stage": "landing", "run_id": format!("{dataset}-1")}),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["decision"], "fail", "{answer}");
        answer
    }

    /// The run page as a signed-in viewer sees it.
    async fn run_page(&self, id: &str, viewer_token: &str) -> String {
        let signin = Request::post("/signin")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={viewer_token}")))
            .expect("request");
        let (status, headers, body) = self.send(signin).await;
        assert_eq!(status, 303, "{body}");
        let cookie = headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_string();
        let page = Request::get(format!("/runs/{id}"))
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .expect("request");
        let (status, _, html) = self.send(page).await;
        assert_eq!(status, 200, "{html}");
        html
    }
}

/// A people row as the sample shows it: every column as text, NULL as
/// `null` (`seen` is hours before the fixtures' clock, 2026-11-26 12:00).
fn person(id: i64) -> Value {
    match id {
        2 => json!([
            "2",
            "bob",
            "25",
            "2.5",
            "LA",
            "2024-01-15",
            "2026-11-26T10:00:00",
            "false",
            " 7"
        ]),
        3 => json!([
            "3",
            "cid",
            null,
            "3.5",
            "NY",
            "2024-02-01",
            "2026-11-26T07:00:00",
            "true",
            "x"
        ]),
        6 => json!([
            "6",
            "   ",
            "20",
            "2.0",
            "LA",
            "2023-12-31",
            "2026-11-25T11:00:00",
            "false",
            null
        ]),
        7 => json!([
            "7",
            null,
            null,
            "4.0",
            "NY",
            "2024-06-30",
            "2026-11-24T12:00:00",
            "true",
            "true"
        ]),
        _ => panic!("person {id} fails no rule"),
    }
}

fn row(id: i64, failed: &[&str]) -> Value {
    json!({"values": person(id), "failed_rules": failed})
}

const COLUMNS: [&str; 9] = [
    "id", "name", "age", "score", "city", "joined", "seen", "flag", "code",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_runs_keep_exactly_the_failing_rows() {
    for backend in backends() {
        let a = App::start(backend).await;
        let (status, body) = a
            .api("PUT", "/v1/rulesets/checks", json!({"dqdl": RULES}))
            .await;
        assert_eq!(status, 201, "{body}");

        // Default (20): every failing row of each failed rule.
        assert_eq!(a.register("people", json!({})).await.0, 201);
        let answer = a.gate("people").await;
        let both = [COMPLETE, ABOVE];
        let expected = json!([
            {
                "rule_position": 0,
                "rule": COMPLETE,
                "columns": COLUMNS,
                "rows": [row(3, &both), row(7, &both)]
            },
            {
                "rule_position": 1,
                "rule": ABOVE,
                "columns": COLUMNS,
                "rows": [row(2, &[ABOVE]), row(3, &both), row(6, &[ABOVE]), row(7, &both)]
            }
        ]);
        assert_eq!(
            answer["failed_rows"], expected,
            "{backend}: the gate's answer"
        );
        let id = answer["id"].as_str().expect("id").to_string();
        let (status, stored) = a.api("GET", &format!("/v1/runs/{id}"), Value::Null).await;
        assert_eq!(status, 200);
        assert_eq!(stored["failed_rows"], expected, "{backend}: the stored run");

        // A cap of 1: the first failing row of each rule.
        assert_eq!(
            a.register("people_one", json!({"failed_rows_sample": 1}))
                .await
                .0,
            201
        );
        let one = a.gate("people_one").await;
        assert_eq!(
            one["failed_rows"],
            json!([
                {"rule_position": 0, "rule": COMPLETE, "columns": COLUMNS, "rows": [row(3, &both)]},
                {"rule_position": 1, "rule": ABOVE, "columns": COLUMNS, "rows": [row(2, &[ABOVE])]}
            ]),
            "{backend}"
        );

        // 0 keeps none.
        assert_eq!(
            a.register("people_none", json!({"failed_rows_sample": 0}))
                .await
                .0,
            201
        );
        let none = a.gate("people_none").await;
        assert_eq!(none["failed_rows"], json!([]), "{backend}");
        let stored = a
            .store
            .run_samples(none["id"].as_str().expect("id"))
            .await
            .expect("samples");
        assert!(stored.is_empty(), "{backend}: nothing stored");

        // Bad values are refused at registration, naming the option.
        for bad in [json!(1001), json!(-1), json!("5"), json!(2.5)] {
            let (status, problem) = a
                .register("people_bad", json!({"failed_rows_sample": bad}))
                .await;
            assert_eq!(status, 400, "{backend}: {bad}: {problem}");
            assert!(
                problem["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("failed_rows_sample")),
                "{backend}: {problem}"
            );
        }

        // The console's run page shows the samples to a viewer, escaped.
        let viewer = dqgate::api::auth::new_token().expect("token");
        assert!(
            a.store
                .create_token(
                    "viewer-1",
                    "viewer",
                    &dqgate::api::auth::hash_token(&viewer)
                )
                .await
                .expect("token")
        );
        let html = a.run_page(&id, &viewer).await;
        assert!(html.contains("Failing rows"), "{html}");
        assert_eq!(html.matches("<table class=\"compact sample\">").count(), 2);
        assert!(
            html.contains("<code>IsComplete &#34;age&#34;</code> (2 rows)"),
            "{html}"
        );
        assert!(
            html.contains("<code>ColumnValues &#34;age&#34; &#62; 28</code> (4 rows)"),
            "{html}"
        );
        assert!(
            html.contains("<td>cid</td><td class=\"null\">NULL</td>"),
            "{html}"
        );
    }
}

/// A ruleset with more row-level rules than one sampling pass flags: the
/// first `MAX_FLAGGED_RULES` failed ones are sampled, and each row names
/// only rules among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_of_a_wide_ruleset_are_bounded() {
    let max = dqgate::check::MAX_FLAGGED_RULES;
    let a = App::start("sqlite").await;
    // `age > i` fails on the NULL ages 3 and 7 for every i, and on more.
    let rules: Vec<String> = (0..max + 5)
        .map(|i| format!("ColumnValues \"age\" > {i}"))
        .collect();
    let dqdl = format!("Rules = [\n{}\n]", rules.join(",\n"));
    let (status, body) = a
        .api("PUT", "/v1/rulesets/checks", json!({"dqdl": dqdl}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        a.register("people", json!({"failed_rows_sample": 2}))
            .await
            .0,
        201
    );
    let answer = a.gate("people").await;
    let samples = answer["failed_rows"].as_array().expect("samples");
    assert_eq!(samples.len(), max);
    let sampled: Vec<&str> = samples
        .iter()
        .map(|s| s["rule"].as_str().expect("rule"))
        .collect();
    let first: Vec<&str> = rules[..max].iter().map(String::as_str).collect();
    assert_eq!(sampled, first);
    for s in samples {
        // The first failing rows read: person 2 (age 25) fails `age > 25`
        // and above, person 3 (NULL) fails every rule.
        let ids: Vec<&str> = s["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["values"][0].as_str().expect("id"))
            .collect();
        assert_eq!(ids.len(), 2, "{s}");
        for r in s["rows"].as_array().expect("rows") {
            let failed = r["failed_rules"].as_array().expect("failed");
            assert!(!failed.is_empty() && failed.len() <= max, "{r}");
            assert!(
                failed
                    .iter()
                    .all(|f| first.contains(&f.as_str().expect("text"))),
                "{r}"
            );
        }
    }
    // `age > 0`: ages 30, 25, NULL → persons 3 and 7 are the first failures.
    let ids = |k: usize| -> Vec<String> {
        samples[k]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["values"][0].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(ids(0), vec!["3", "7"]);
    // `age > 25`: person 2 (25) is read first, then person 3.
    assert_eq!(ids(25), vec!["2", "3"]);
}
