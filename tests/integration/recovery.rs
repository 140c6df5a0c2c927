//! Recovery under store trouble, on SQLite and PostgreSQL: concurrent
//! writers, ruleset versions saved at once, reused run ids, a result
//! write that fails, and a PostgreSQL that stops and comes back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dqgate::api::Limits;
use serde_json::json;

use super::service::{ADMIN, backends, start, start_with};

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
