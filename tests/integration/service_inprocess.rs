//! The router in-process with `tower::ServiceExt::oneshot` (no socket), and
//! `dqgate token create` from the command line.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use dqgate::api::{self, AppState, Limits};
use dqgate::store::Store;
use tower::ServiceExt;

#[tokio::test]
async fn router_answers_in_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&Store::sqlite_url(dir.path()).expect("url"))
        .await
        .expect("store");
    let app = api::router(AppState::new(store, Limits::default(), Some("t0k")));

    let health = app
        .clone()
        .oneshot(
            Request::get("/healthz")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    assert_eq!(health.status(), StatusCode::OK);

    let put = Request::put("/v1/rulesets/r1")
        .header("authorization", "Bearer t0k")
        .header("content-type", "text/plain")
        .body(Body::from("Rules = [ RowCount > 0 ]"))
        .expect("request");
    let created = app.clone().oneshot(put).await.expect("answer");
    assert_eq!(created.status(), StatusCode::CREATED);
    let bytes = axum::body::to_bytes(created.into_body(), 1 << 20)
        .await
        .expect("body");
    let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(body["version"], 1);

    let forbidden_method = Request::post("/v1/rulesets")
        .header("authorization", "Bearer t0k")
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        app.oneshot(forbidden_method)
            .await
            .expect("answer")
            .status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[test]
fn token_create_prints_once_and_refuses_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dqgate"))
            .args([
                "token",
                "create",
                "--role",
                "pipeline",
                "--name",
                "airflow",
                "--data-dir",
                "store",
            ])
            .current_dir(dir.path())
            .env_remove("DQGATE_DATABASE_URL")
            .output()
            .expect("runs")
    };
    let first = run();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let token = String::from_utf8_lossy(&first.stdout).trim().to_string();
    assert!(token.starts_with("dqg_") && token.len() == 68, "{token}");
    let second = run();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("a token named `airflow` exists already")
    );
    let db = std::fs::read(dir.path().join("store/dqgate.db")).expect("store file");
    assert!(
        !db.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token itself is never stored"
    );
}
