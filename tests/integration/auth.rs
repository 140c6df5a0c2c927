//! Each role against each route: allowed routes never answer 401/403,
//! forbidden ones answer 403, and a missing token is 401.

use dqgate::api::auth::{hash_token, new_token};
use serde_json::json;

use super::service::{ADMIN, backends, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_route() {
    for backend in backends() {
        let s = start(backend).await;
        s.seed("Rules = [ RowCount > 0 ]").await;
        let mut tokens = Vec::new();
        for role in ["admin", "steward", "pipeline", "viewer"] {
            let token = new_token().expect("token");
            assert!(
                s.state
                    .store
                    .create_token(&format!("{role}-1"), role, &hash_token(&token))
                    .await
                    .expect("create")
            );
            tokens.push((role, token));
        }
        let gate =
            json!({"dataset": "people", "ruleset": "people-checks", "stage": "s", "run_id": "r"})
                .to_string();
        let dataset =
            json!({"format": "parquet", "location": s.data("people.parquet")}).to_string();
        // (method, path, content type, body, roles allowed)
        let routes: Vec<(&str, &str, &str, String, &[&str])> = vec![
            (
                "GET",
                "/v1/rulesets",
                "",
                String::new(),
                &["admin", "steward", "pipeline", "viewer"],
            ),
            (
                "GET",
                "/v1/rulesets/people-checks",
                "",
                String::new(),
                &["admin", "steward", "pipeline", "viewer"],
            ),
            (
                "GET",
                "/v1/rulesets/people-checks/versions",
                "",
                String::new(),
                &["admin", "steward", "pipeline", "viewer"],
            ),
            (
                "GET",
                "/v1/rulesets/people-checks/versions/1",
                "",
                String::new(),
                &["admin", "steward", "pipeline", "viewer"],
            ),
            (
                "PUT",
                "/v1/rulesets/other",
                "text/plain",
                "Rules = [ RowCount > 1 ]".into(),
                &["admin", "steward"],
            ),
            (
                "POST",
                "/v1/validate",
                "text/plain",
                "Rules = [ RowCount > 1 ]".into(),
                &["admin", "steward"],
            ),
            (
                "GET",
                "/v1/datasets",
                "",
                String::new(),
                &["admin", "steward", "pipeline", "viewer"],
            ),
            (
                "GET",
                "/v1/datasets/people",
                "",
                String::new(),
                &["admin", "steward", "pipeline", "viewer"],
            ),
            (
                "PUT",
                "/v1/datasets/people2",
                "application/json",
                dataset,
                &["admin", "steward"],
            ),
            (
                "POST",
                "/v1/gate",
                "application/json",
                gate,
                &["admin", "pipeline"],
            ),
            (
                "GET",
                "/v1/runs",
                "",
                String::new(),
                &["admin", "steward", "pipeline", "viewer"],
            ),
            (
                "GET",
                "/v1/trends?dataset=people",
                "",
                String::new(),
                &["admin", "steward", "pipeline", "viewer"],
            ),
            (
                "DELETE",
                "/v1/rulesets/other",
                "",
                String::new(),
                &["admin", "steward"],
            ),
        ];
        for (method, path, ctype, body, allowed) in &routes {
            let anonymous = s.send(method, path, None, ctype, body.as_bytes()).await;
            assert_eq!(
                anonymous.status, 401,
                "{backend}: {method} {path} without a token"
            );
            for (role, token) in &tokens {
                let r = s
                    .send(method, path, Some(token), ctype, body.as_bytes())
                    .await;
                if allowed.contains(role) {
                    assert!(
                        ![401, 403].contains(&r.status),
                        "{backend}: {role} should reach {method} {path}, got {}",
                        r.status
                    );
                } else {
                    assert_eq!(
                        r.status, 403,
                        "{backend}: {role} must not reach {method} {path}"
                    );
                    assert_eq!(r.json()["code"], "forbidden");
                }
            }
        }
        // The bootstrap admin token works alongside stored tokens.
        assert_eq!(s.get("/v1/runs", ADMIN).await.status, 200);
    }
}
