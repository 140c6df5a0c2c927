//! What a user meets with and without the cargo features, in-process:
//! `/` (the `console` feature) and registering an Iceberg dataset (the
//! `iceberg` and `glue` features). Each assertion is the one this build's
//! features call for.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use dqgate::api::{AppState, Limits};
use dqgate::console::{self, ConsoleSettings};
use dqgate::store::Store;
use tower::ServiceExt;

async fn app(dir: &std::path::Path) -> Router {
    let store = Store::connect(&Store::sqlite_url(dir).expect("url"))
        .await
        .expect("store");
    console::app(
        AppState::new(store, Limits::default(), Some("t0k")),
        ConsoleSettings::default(),
    )
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, String) {
    let answer = app.clone().oneshot(request).await.expect("answer");
    let status = answer.status();
    let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_root_is_the_console_or_says_it_is_not_built() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path()).await;
    let (status, body) = send(&app, Request::get("/").body(Body::empty()).expect("get")).await;
    if cfg!(feature = "console") {
        // Signed out: the console sends the browser to its sign-in page.
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    } else {
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(
            body.contains("built without the `console` feature"),
            "{body}"
        );
    }
    // The API is there either way.
    let (status, _) = send(
        &app,
        Request::get("/healthz").body(Body::empty()).expect("get"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn iceberg_datasets_are_accepted_or_name_the_missing_feature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(dir.path()).await;
    let put = |name: &str, location: &str| {
        Request::put(format!("/v1/datasets/{name}"))
            .header("authorization", "Bearer t0k")
            .header("content-type", "application/json")
            .body(Body::from(
                serde_json::json!({"format": "iceberg", "location": location}).to_string(),
            ))
            .expect("put")
    };
    // Neither is opened at registration: S3 and Glue are only reached
    // when a run reads them (and both pass the server's default
    // confinement).
    let cases = [
        (
            "file",
            "iceberg:s3://lake/t/metadata/00001-x.metadata.json",
            "iceberg",
            cfg!(feature = "iceberg"),
        ),
        ("glue", "iceberg:glue#db.t", "glue", cfg!(feature = "glue")),
    ];
    for (name, location, feature, built) in cases {
        let (status, body) = send(&app, put(name, location)).await;
        if built {
            assert_eq!(status, StatusCode::CREATED, "{location}: {body}");
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{location}: {body}");
            let missing = if cfg!(feature = "iceberg") {
                feature
            } else {
                "iceberg"
            };
            assert!(
                body.contains(&format!("built without the `{missing}` feature")),
                "{location}: {body}"
            );
        }
    }
}
