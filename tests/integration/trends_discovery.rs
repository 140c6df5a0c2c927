//! Operators finding their way: the metrics a dataset's trends hold, a
//! gate pinned to a ruleset version, and a local dataset that does not
//! exist refused at registration.

use serde_json::{Value, json};

use super::service::{ADMIN, Server, backends, start};

async fn gate(s: &Server, run_id: &str, version: Option<i64>) -> (u16, Value) {
    let mut body = json!({"dataset": "people", "ruleset": "people-checks", "stage": "landing", "run_id": run_id});
    if let Some(v) = version {
        body["ruleset_version"] = json!(v);
    }
    let r = s.post_json("/v1/gate", ADMIN, &body).await;
    (r.status, r.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trends_list_metrics_and_gates_pin_ruleset_versions() {
    for backend in backends() {
        let s = start(backend).await;
        s.seed("Rules = [ RowCount = 10 ]").await;
        let (status, first) = gate(&s, "v1-run", None).await;
        assert_eq!((status, first["ruleset_version"].clone()), (200, json!(1)));
        // Version 2 fails on the same data; the latest is used by default.
        let r = s
            .put_text(
                "/v1/rulesets/people-checks",
                ADMIN,
                "Rules = [ RowCount = 11, IsComplete \"id\" where \"id > 2\" ]",
            )
            .await;
        assert_eq!(r.json()["version"], 2);
        let (_, latest) = gate(&s, "latest-run", None).await;
        assert_eq!(
            (
                latest["ruleset_version"].clone(),
                latest["decision"].clone()
            ),
            (json!(2), json!("fail")),
            "{backend}: {latest}"
        );
        // Pinned to version 1: its rules, recorded as version 1.
        let (status, pinned) = gate(&s, "pinned-run", Some(1)).await;
        assert_eq!(status, 200, "{backend}: {pinned}");
        assert_eq!(
            (
                pinned["ruleset_version"].clone(),
                pinned["decision"].clone(),
                pinned["rules"][0]["rule"].clone()
            ),
            (json!(1), json!("pass"), json!("RowCount = 10")),
            "{backend}: {pinned}"
        );
        let stored = s
            .get(
                &format!("/v1/runs/{}", pinned["id"].as_str().unwrap_or("")),
                ADMIN,
            )
            .await
            .json();
        assert_eq!(stored["ruleset_version"], 1, "{backend}: {stored}");
        // A retry with another pin is another request.
        let (status, _) = gate(&s, "pinned-run", Some(2)).await;
        assert_eq!(status, 409, "{backend}");
        let (status, unknown) = gate(&s, "unknown-version", Some(9)).await;
        assert_eq!(status, 404, "{backend}: {unknown}");
        assert_eq!(unknown["code"], "ruleset_version_not_found");
        assert!(
            unknown["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("has no version 9; its latest is version 2"),
            "{backend}: {unknown}"
        );

        // Without `metric`: the metrics recorded, with their points.
        let t = s.get("/v1/trends?dataset=people", ADMIN).await;
        assert_eq!(t.status, 200);
        let metrics = t.json()["metrics"].clone();
        let find = |name: &str, where_clause: &str| {
            metrics
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|m| m["name"] == name && m["where"] == where_clause)
                })
                .map(|m| m["points"].clone())
        };
        assert_eq!(
            find("Dataset.*.RowCount", ""),
            Some(json!(3)),
            "{backend}: {metrics}"
        );
        assert_eq!(
            find("Column.id.Completeness", "id > 2"),
            Some(json!(1)),
            "{backend}: {metrics}"
        );
        // With `metric` the answer is the series, as before.
        let series = s
            .get("/v1/trends?dataset=people&metric=Dataset.*.RowCount", ADMIN)
            .await
            .json();
        assert_eq!(series["values"].as_array().map(Vec::len), Some(3));
        assert!(series.get("metrics").is_none(), "{series}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_dataset_that_does_not_exist_is_refused() {
    for backend in backends() {
        let s = start(backend).await;
        for location in [
            s.data("nowhere.parquet"),
            s.data("nowhere/*.parquet"),
            s.data("nowhere/"),
        ] {
            let r = s
                .put_json(
                    "/v1/datasets/ghost",
                    ADMIN,
                    &json!({"format": "parquet", "location": location}),
                )
                .await;
            assert_eq!(r.status, 422, "{backend}: {location}");
            let p = r.json();
            assert_eq!(p["code"], "location_not_found", "{backend}: {p}");
            assert!(
                p["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("no file or folder at"),
                "{backend}: {p}"
            );
        }
        assert_eq!(
            s.get("/v1/datasets/ghost", ADMIN).await.status,
            404,
            "{backend}: nothing stored"
        );
        // A glob over an existing folder and an Iceberg reference are taken;
        // the Iceberg table is reached at the first run.
        let glob = s.data("*.parquet");
        let r = s
            .put_json(
                "/v1/datasets/all",
                ADMIN,
                &json!({"format": "parquet", "location": glob}),
            )
            .await;
        assert_eq!(r.status, 201, "{backend}: {}", r.json());
        let metadata = s.data("warehouse/t/metadata/v1.metadata.json");
        let r = s
            .put_json(
                "/v1/datasets/later",
                ADMIN,
                &json!({"format": "iceberg", "location": format!("iceberg:{metadata}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{backend}: {}", r.json());
        s.put_text("/v1/rulesets/rows", ADMIN, "Rules = [ RowCount > 0 ]")
            .await;
        let run = s
            .post_json(
                "/v1/gate",
                ADMIN,
                &json!({"dataset": "later", "ruleset": "rows", "stage": "x", "run_id": "l"}),
            )
            .await
            .json();
        assert_eq!(run["decision"], "error", "{backend}: {run}");
        let message = run["message"].as_str().unwrap_or_default().to_string();
        assert!(
            message.contains("dataset `primary`") || message.contains("later"),
            "{backend}: {message}"
        );
        assert!(message.contains("Iceberg"), "{backend}: {message}");
    }
}
