//! `/metrics` after gates: runs and durations by dataset, stage and
//! decision; queue depth and evaluations in flight; store latency.

use serde_json::json;

use super::service::{ADMIN, backends, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_carry_dataset_stage_and_decision_labels() {
    for backend in backends() {
        let s = start(backend).await;
        s.seed("Rules = [ RowCount = 10 ]").await;
        s.put_text("/v1/rulesets/too-many", ADMIN, "Rules = [ RowCount = 11 ]")
            .await;
        for (ruleset, stage, run_id) in [
            ("people-checks", "landing", "a"),
            ("people-checks", "landing", "b"),
            ("too-many", "transform", "c"),
        ] {
            let r = s
                .post_json(
                    "/v1/gate",
                    ADMIN,
                    &json!({"dataset": "people", "ruleset": ruleset, "stage": stage, "run_id": run_id}),
                )
                .await;
            assert_eq!(r.status, 200, "{backend}");
        }
        // A dataset that is not registered never becomes a label.
        let ghost = s
            .post_json(
                "/v1/gate",
                ADMIN,
                &json!({"dataset": "ghost", "ruleset": "people-checks", "stage": "landing", "run_id": "g"}),
            )
            .await;
        assert_eq!(ghost.status, 404);
        let r = s.send("GET", "/metrics", None, "", b"").await;
        assert_eq!(r.status, 200);
        let text = String::from_utf8_lossy(&r.body).to_string();
        let value = |series: &str| -> Option<f64> {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        };
        let landing = "dataset=\"people\",stage=\"landing\",decision=\"pass\"";
        let transform = "dataset=\"people\",stage=\"transform\",decision=\"fail\"";
        for (series, expected) in [
            (format!("dqgate_dataset_runs_total{{{landing}}}"), 2.0),
            (format!("dqgate_dataset_runs_total{{{transform}}}"), 1.0),
            (
                format!("dqgate_dataset_evaluation_seconds_count{{{landing}}}"),
                2.0,
            ),
            (
                format!("dqgate_dataset_evaluation_seconds_bucket{{{transform},le=\"+Inf\"}}"),
                1.0,
            ),
            ("dqgate_runs_total{decision=\"pass\"}".to_string(), 2.0),
            ("dqgate_queue_depth".to_string(), 0.0),
            ("dqgate_evaluations_in_flight".to_string(), 0.0),
        ] {
            assert_eq!(
                value(&series),
                Some(expected),
                "{backend}: {series}\n{text}"
            );
        }
        assert!(!text.contains("ghost"), "{backend}: {text}");
        for operation in ["claim", "finish", "ruleset", "dataset"] {
            let count = value(&format!(
                "dqgate_store_seconds_count{{operation=\"{operation}\"}}"
            ));
            assert!(
                count.is_some_and(|c| c >= 3.0),
                "{backend}: store latency of {operation}: {count:?}\n{text}"
            );
        }
        assert!(text.contains("# TYPE dqgate_store_seconds histogram"));
        assert!(text.contains("# TYPE dqgate_queue_depth gauge"));
    }
}
