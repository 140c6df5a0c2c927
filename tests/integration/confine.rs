//! What the server lets rulesets and datasets reach: never the store, only
//! the allowed paths (after symlinks) and endpoints, with credentials and
//! data values redacted from what other roles see.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use dqgate::api::auth::{hash_token, new_token};
use serde_json::{Value, json};

use super::s3::S3Server;
use super::service::{ADMIN, Server, backends, start, start_confined};

/// A token of `role`.
async fn token(s: &Server, role: &str) -> String {
    let token = new_token().expect("token");
    s.state
        .store
        .create_token(&format!("{role}-confine"), role, &hash_token(&token))
        .await
        .expect("create token");
    token
}

/// Saves `ruleset` as `name` and gates `dataset` with it.
async fn gate(s: &Server, token: &str, dataset: &str, name: &str, ruleset: &str) -> Value {
    let r = s
        .put_text(&format!("/v1/rulesets/{name}"), ADMIN, ruleset)
        .await;
    assert!(r.status == 201 || r.status == 200, "{}", r.status);
    let body = json!({"dataset": dataset, "ruleset": name, "stage": "s", "run_id": format!("{dataset}-{name}")});
    s.post_json("/v1/gate", token, &body).await.json()
}

/// Registers a dataset straight in the store, as a registration made before
/// the server was confined would be.
async fn legacy_dataset(s: &Server, name: &str, format: &str, location: &str, options: Value) {
    s.state
        .store
        .put_dataset(name, format, location, &options)
        .await
        .expect("stored");
}

/// A loopback listener that counts the connections it receives.
async fn watched_port() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, hits)
}

fn text(v: &Value) -> String {
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_datasets_never_reach_the_store() {
    for backend in backends() {
        let s = start(backend).await;
        let steward = token(&s, "steward").await;
        let data_dir = s.dir.path().join("data");
        let store_dir = data_dir.display().to_string();
        // Registering the data dir (or a store file) is refused.
        for location in [store_dir.clone(), format!("{store_dir}/dqgate.db")] {
            let r = s
                .put_json(
                    "/v1/datasets/store",
                    &steward,
                    &json!({"format": "json", "location": location}),
                )
                .await;
            assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
            assert_eq!(r.json()["code"], "location_not_allowed");
        }
        // File rules naming the store, directly or through a symlink in an
        // allowed root, are errors; the rest of the ruleset still runs.
        std::os::unix::fs::symlink(&data_dir, s.dir.path().join("innocent")).expect("symlink");
        let r = s
            .put_json(
                "/v1/datasets/people",
                &steward,
                &json!({"format": "parquet", "location": s.data("people.parquet")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        let link = s.data("innocent");
        let ruleset = format!(
            "Rules = [ FileMatch \"{store_dir}\" in [\"00\"], FileSize \"{link}\" > 0, FileUniqueness \"{link}\" > 0.5, RowCount > 0 ]"
        );
        let run = gate(&s, ADMIN, "people", "store-probe", &ruleset).await;
        let outcomes: Vec<&str> = run["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .map(|r| r["outcome"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            outcomes,
            ["Error", "Error", "Error", "Passed"],
            "{}",
            text(&run)
        );
        assert!(
            run["rules"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("data directory")),
            "{}",
            text(&run)
        );
        // A dataset registered on the store before the server was confined
        // is refused at run time, by the gate and by suggest.
        legacy_dataset(&s, "old", "json", &store_dir, json!({})).await;
        let run = gate(&s, ADMIN, "old", "rows", "Rules = [ RowCount > 0 ]").await;
        assert_eq!(run["decision"], "error", "{}", text(&run));
        assert!(
            run["message"]
                .as_str()
                .is_some_and(|m| m.contains("data directory")),
            "{}",
            text(&run)
        );
        let r = s
            .post_json("/v1/suggest", &steward, &json!({"dataset": "old"}))
            .await;
        assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
        // A folder in an allowed root holding a symlink to the store file is
        // refused when read.
        let sneaky = s.dir.path().join("sneaky");
        std::fs::create_dir(&sneaky).expect("mkdir");
        std::os::unix::fs::symlink(data_dir.join("dqgate.db"), sneaky.join("rows.json"))
            .expect("symlink");
        let r = s
            .put_json(
                "/v1/datasets/sneaky",
                &steward,
                &json!({"format": "json", "location": sneaky.display().to_string()}),
            )
            .await;
        assert_eq!(r.status, 201, "the folder itself is allowed");
        let run = gate(&s, ADMIN, "sneaky", "rows", "Rules = [ RowCount > 0 ]").await;
        assert_eq!(run["decision"], "error", "{}", text(&run));
        // The store is intact and still serves.
        assert_eq!(s.get("/v1/datasets", ADMIN).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_outside_the_allowed_roots_are_refused() {
    let s = start("sqlite").await;
    let steward = token(&s, "steward").await;
    let viewer = token(&s, "viewer").await;
    let outside = tempfile::tempdir().expect("tempdir");
    super::fixtures::write_all(outside.path());
    let elsewhere = outside.path().join("people.parquet").display().to_string();
    let r = s
        .put_json(
            "/v1/datasets/elsewhere",
            &steward,
            &json!({"format": "parquet", "location": elsewhere}),
        )
        .await;
    assert_eq!(r.status, 422);
    let problem = r.json();
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("outside the allowed paths")),
        "{problem}"
    );
    // `..` does not climb out; a symlink out of a root is refused.
    let climb = format!("{}/../{}", s.dir.path().display(), "x.parquet");
    let r = s
        .put_json(
            "/v1/datasets/climb",
            &steward,
            &json!({"format": "parquet", "location": climb}),
        )
        .await;
    assert_eq!(r.status, 422);
    std::os::unix::fs::symlink(outside.path(), s.dir.path().join("door")).expect("symlink");
    let r = s
        .put_json(
            "/v1/datasets/door",
            &steward,
            &json!({"format": "parquet", "location": s.data("door/people.parquet")}),
        )
        .await;
    assert_eq!(r.status, 422);
    // At run time too, for datasets and for File rules.
    legacy_dataset(&s, "elsewhere", "parquet", &elsewhere, json!({})).await;
    let run = gate(&s, ADMIN, "elsewhere", "rows", "Rules = [ RowCount > 0 ]").await;
    assert_eq!(run["decision"], "error", "{}", text(&run));
    s.seed("Rules = [ RowCount > 0 ]").await;
    let run = gate(
        &s,
        ADMIN,
        "people",
        "files",
        &format!("Rules = [ FileSize \"{elsewhere}\" > 0, FileSize \"/etc/hostname\" > 0 ]"),
    )
    .await;
    assert_eq!(run["rules"][0]["outcome"], "Error", "{}", text(&run));
    assert_eq!(run["rules"][1]["outcome"], "Error", "{}", text(&run));
    // A CSV parse error names the file and line, not the row, to a viewer.
    let mut csv = String::from("id,email\n");
    for i in 0..1500 {
        csv.push_str(&format!("{i},user{i}@example.com\n"));
    }
    csv.push_str("SECRETVALUE,carol@example.com\n");
    std::fs::write(s.dir.path().join("bad.csv"), csv).expect("write csv");
    let r = s
        .put_json(
            "/v1/datasets/bad",
            &steward,
            &json!({"format": "csv", "location": s.data("bad.csv")}),
        )
        .await;
    assert_eq!(r.status, 201);
    let run = gate(
        &s,
        ADMIN,
        "bad",
        "sum",
        "Rules = [ ColumnValues \"id\" >= 0 ]",
    )
    .await;
    let seen = s
        .get(run["run"].as_str().expect("run link"), &viewer)
        .await
        .json();
    assert_eq!(seen["rules"][0]["outcome"], "Error", "{seen}");
    let shown = text(&seen);
    assert!(shown.contains("line"), "{shown}");
    assert!(
        !shown.contains("SECRETVALUE") && !shown.contains("carol@example.com"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_endpoints_are_ever_connected_to() {
    let (port, hits) = watched_port().await;
    let s3 = S3Server::start().await;
    s3.bucket("lake");
    let upload = tempfile::tempdir().expect("tempdir");
    super::fixtures::write_all(upload.path());
    s3.upload(
        &upload.path().join("people.parquet"),
        "lake",
        "people/people.parquet",
    )
    .await;
    let s = start_confined(
        "sqlite",
        Default::default(),
        &[],
        std::slice::from_ref(&s3.endpoint),
    )
    .await;
    let steward = token(&s, "steward").await;
    let target = format!("127.0.0.1:{port}");
    let refused = [
        json!({"format": "parquet", "location": "s3://lake/people/people.parquet", "options": {"endpoint": format!("http://{target}")}}),
        json!({"format": "iceberg", "location": format!("iceberg:http://{target}/catalog#ns.t")}),
        json!({"format": "iceberg", "location": format!("iceberg:postgres://u:pw@{target}/db#ns.t")}),
        json!({"format": "iceberg", "location": format!("iceberg:glue:http://{target}#db.t")}),
        json!({"format": "iceberg", "location": format!("iceberg:sqlite:{}/dqgate.db#ns.t", s.dir.path().join("data").display())}),
    ];
    for (i, body) in refused.iter().enumerate() {
        let r = s
            .put_json(&format!("/v1/datasets/remote{i}"), &steward, body)
            .await;
        assert_eq!(
            r.status,
            422,
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        // Registered before confinement: the run is an error, no connection.
        legacy_dataset(
            &s,
            &format!("remote{i}"),
            body["format"].as_str().expect("format"),
            body["location"].as_str().expect("location"),
            body.get("options").cloned().unwrap_or(json!({})),
        )
        .await;
        let run = gate(
            &s,
            ADMIN,
            &format!("remote{i}"),
            "rows",
            "Rules = [ RowCount > 0 ]",
        )
        .await;
        assert_eq!(run["decision"], "error", "{}", text(&run));
        assert!(!text(&run).contains(":pw@"), "{}", text(&run));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no connection was made");
    // The allowed endpoint works.
    let r = s
        .put_json(
            "/v1/datasets/lake",
            &steward,
            &json!({"format": "parquet", "location": "s3://lake/people/people.parquet", "options": s3.options()}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let run = gate(&s, ADMIN, "lake", "rows", "Rules = [ RowCount = 10 ]").await;
    assert_eq!(run["decision"], "pass", "{}", text(&run));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_locations_are_never_shown() {
    // Nothing listens here: the run fails fast, and says so without the secret.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let s = start_confined(
        "sqlite",
        Default::default(),
        &[],
        &[format!("127.0.0.1:{port}")],
    )
    .await;
    let viewer = token(&s, "viewer").await;
    let location = format!("iceberg:postgres://cat:hunter2@127.0.0.1:{port}/db?name=c#ns.t");
    let r = s
        .put_json(
            "/v1/datasets/catalog",
            ADMIN,
            &json!({"format": "iceberg", "location": location}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert!(!text(&r.json()).contains("hunter2"));
    let run = gate(&s, ADMIN, "catalog", "rows", "Rules = [ RowCount > 0 ]").await;
    assert_eq!(run["decision"], "error", "{}", text(&run));
    for path in [
        "/v1/datasets".to_string(),
        "/v1/datasets/catalog".to_string(),
        run["run"].as_str().expect("run link").to_string(),
        "/v1/runs".to_string(),
    ] {
        let r = s.get(&path, &viewer).await;
        assert_eq!(r.status, 200, "{path}");
        let body = String::from_utf8_lossy(&r.body).to_string();
        assert!(!body.contains("hunter2"), "{path}: {body}");
        if path == "/v1/datasets/catalog" {
            assert!(body.contains("cat:***@127.0.0.1"), "{body}");
        }
    }
    assert!(!text(&run).contains("hunter2"), "{}", text(&run));
}
