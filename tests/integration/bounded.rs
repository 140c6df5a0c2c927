//! Bounded work: wide rulesets split into bounded scans, the rule cap, the
//! evaluation pool (a responsive server, timeouts that stop the work, a
//! queue in front of suggest) and the HTTP connection timeouts and cap.

use std::time::{Duration, Instant};

use dqgate::api::HttpLimits;
use dqgate::check::{CheckRequest, prepare};
use dqgate::engine::ScanKind;
use dqgate::history::History;
use dqgate::plan::Outcome;
use dqgate::source::DatasetSpec;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::fixtures;
use super::service::{self, ADMIN, Server};

/// `n` distinct aggregate rules over the `people` fixture.
fn wide_ruleset(n: usize) -> String {
    let rules: Vec<String> = (0..n)
        .map(|i| format!("ColumnValues \"age\" > {i} with threshold >= 0.5"))
        .collect();
    format!("Rules = [\n{}\n]\n", rules.join(",\n"))
}

#[tokio::test]
async fn a_wide_ruleset_is_split_into_bounded_scans_with_the_same_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (people, _) = fixtures::write_all(dir.path());
    let prepared = prepare(CheckRequest {
        ruleset_name: "wide".into(),
        ruleset_text: wide_ruleset(600),
        datasets: vec![DatasetSpec::parse(&people, "primary")],
        now: Some(fixtures::now()),
        memory_limit: None,
        engine: Default::default(),
    })
    .await
    .expect("prepares");
    let widths: Vec<usize> = prepared
        .scans()
        .iter()
        .filter(|s| s.kind == ScanKind::Aggregate)
        .map(|s| s.queries.len())
        .collect();
    assert!(widths.len() > 1, "one scan of {widths:?} aggregates");
    assert!(widths.iter().all(|w| *w <= 256), "{widths:?}");
    let report = prepared.evaluate(&History::unavailable()).await;
    assert_eq!(report.rules.len(), 600);
    // Five of the ten ages are over i exactly when i < 30.
    for (i, rule) in report.rules.iter().enumerate() {
        let expected = if i < 30 {
            Outcome::Passed
        } else {
            Outcome::Failed
        };
        assert_eq!(rule.outcome, expected, "{}: {:?}", rule.rule, rule.message);
    }
}

/// A server on loopback through [`dqgate::api::serve`] (SQLite), with the
/// `people` dataset and `ruleset` registered as `people-checks`.
async fn serve_with(
    limits: dqgate::api::Limits,
    http: dqgate::api::HttpLimits,
    ruleset: &str,
) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = service::fresh_database("sqlite", dir.path()).await;
    let store = dqgate::store::Store::connect(&url).await.expect("store");
    let confinement =
        dqgate::source::confine::Confinement::new(&[dir.path().to_path_buf()], &[], &[])
            .expect("confinement");
    let state =
        dqgate::api::AppState::new(store, limits, Some(ADMIN)).with_confinement(confinement);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let app = dqgate::api::router(state.clone());
    tokio::spawn(dqgate::api::serve(
        listener,
        app,
        http,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    fixtures::write_all(dir.path());
    let server = Server { addr, state, dir };
    server.seed(ruleset).await;
    server
}

/// Starts a gate of `people-checks` without waiting; returns the run path.
async fn start_gate(server: &Server, run_id: &str) -> String {
    let r = server
        .post_json(
            "/v1/gate",
            ADMIN,
            &json!({"dataset": "people", "ruleset": "people-checks", "stage": "t", "run_id": run_id, "wait": false}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    r.header("location").expect("location").to_string()
}

/// Polls a run until it is finished (at most `within`).
async fn finished_run(server: &Server, path: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let run = server.get(path, ADMIN).await.json();
        if run["status"] != "queued" && run["status"] != "running" {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "run unfinished after {within:?}: {run}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn rulesets_over_the_rule_cap_are_refused_at_save_validate_and_gate() {
    let limits = dqgate::api::Limits {
        max_rules_per_ruleset: 3,
        ..dqgate::api::Limits::default()
    };
    // A composite's operands count one by one: 4 rules.
    let four = "Rules = [ RowCount > 0, IsComplete \"id\", (IsComplete \"name\") or (IsComplete \"age\") ]";
    let server = serve_with(limits, HttpLimits::default(), "Rules = [ RowCount > 0 ]").await;
    for (method, path) in [("PUT", "/v1/rulesets/big"), ("POST", "/v1/validate")] {
        let r = server
            .send(method, path, Some(ADMIN), "text/plain", four.as_bytes())
            .await;
        assert_eq!(r.status, 422, "{method} {path}");
        assert_eq!(r.json()["code"], "too_many_rules", "{method} {path}");
    }
    // Saved before the cap: refused when gated.
    server
        .state
        .store
        .put_ruleset("people-checks", four, None, "test")
        .await
        .expect("stored");
    let r = server
        .post_json(
            "/v1/gate",
            ADMIN,
            &json!({"dataset": "people", "ruleset": "people-checks", "stage": "t", "run_id": "r1"}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["code"], "too_many_rules");
}

/// A CustomSql that would count for minutes.
const ENDLESS: &str = "Rules = [ CustomSql \"SELECT count(*) FROM range(3000000000)\" > 0 ]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evaluation_timeout_stops_an_endless_custom_sql() {
    let limits = dqgate::api::Limits {
        eval_timeout: Duration::from_secs(2),
        ..dqgate::api::Limits::default()
    };
    let server = serve_with(limits, HttpLimits::default(), ENDLESS).await;
    let started = Instant::now();
    let path = start_gate(&server, "endless").await;
    let run = finished_run(&server, &path, Duration::from_secs(20)).await;
    assert_eq!(run["status"], "error", "{run}");
    assert_eq!(run["decision"], "error", "{run}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "ended {:?} after the start for a 2 s timeout",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggest_waits_in_the_evaluation_queue() {
    let limits = dqgate::api::Limits {
        eval_timeout: Duration::from_secs(3),
        max_concurrent_evaluations: 1,
        max_queued_evaluations: 1,
        ..dqgate::api::Limits::default()
    };
    let server = serve_with(limits, HttpLimits::default(), ENDLESS).await;
    let path = start_gate(&server, "busy").await;
    let r = server
        .post_json("/v1/suggest", ADMIN, &json!({"dataset": "people"}))
        .await;
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header("retry-after").is_some());
    finished_run(&server, &path, Duration::from_secs(20)).await;
    let r = server
        .post_json("/v1/suggest", ADMIN, &json!({"dataset": "people"}))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_two_large_gates_run() {
    let limits = dqgate::api::Limits {
        max_rules_per_ruleset: 100_000,
        ..dqgate::api::Limits::default()
    };
    let server = serve_with(limits, HttpLimits::default(), "Rules = [ RowCount > 0 ]").await;
    // 200,000 rows and 4,000 distinct rules: seconds of planning and scans.
    let big = server.dir.path().join("big.parquet");
    let ctx = datafusion::prelude::SessionContext::new();
    ctx.sql("SELECT CAST(value % 97 AS DOUBLE) AS age FROM range(200000)")
        .await
        .expect("query")
        .write_parquet(
            &big.display().to_string(),
            datafusion::dataframe::DataFrameWriteOptions::new().with_single_file_output(true),
            None,
        )
        .await
        .expect("write");
    let r = server
        .put_json(
            "/v1/datasets/people",
            ADMIN,
            &json!({"format": "parquet", "location": big.display().to_string()}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = server
        .put_text("/v1/rulesets/people-checks", ADMIN, &wide_ruleset(4000))
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let runs = [
        start_gate(&server, "large-1").await,
        start_gate(&server, "large-2").await,
    ];
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    loop {
        let asked = Instant::now();
        let r = server.send("GET", "/healthz", None, "", b"").await;
        assert_eq!(r.status, 200);
        slowest = slowest.max(asked.elapsed());
        probes += 1;
        let mut unfinished = 0;
        for path in &runs {
            let run = server.get(path, ADMIN).await.json();
            if run["status"] == "queued" || run["status"] == "running" {
                unfinished += 1;
            }
        }
        if unfinished == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the gates did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        probes > 3,
        "the gates ended too soon to tell ({probes} probes)"
    );
    // A health check stuck behind the evaluations would wait about as long
    // as they run; a loaded 2-core machine has answered in 1.8 s while
    // they ran for much longer, so the bound is relative, not a timing.
    let total = started.elapsed();
    assert!(
        slowest < Duration::from_secs(1) || slowest * 4 < total,
        "/healthz took {slowest:?} while the gates ran {total:?}"
    );
}

/// Reads until the server closes the connection or `within` passes;
/// returns whether it closed.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_while_others_are_served() {
    let http = HttpLimits {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        ..HttpLimits::default()
    };
    let server = serve_with(
        dqgate::api::Limits::default(),
        http,
        "Rules = [ RowCount > 0 ]",
    )
    .await;
    let addr = server.addr;
    // Clients sending their head one byte every 200 ms, for ever.
    let mut slow = Vec::new();
    for _ in 0..20 {
        slow.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let started = Instant::now();
            let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
            for b in head.iter().cycle().take(100) {
                if s.write_all(&[*b]).await.is_err() {
                    return started.elapsed();
                }
                if closed_within(&mut s, Duration::from_millis(200)).await {
                    return started.elapsed();
                }
            }
            panic!("a slow client was never closed");
        }));
    }
    let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // Meanwhile a normal client keeps being answered.
    for _ in 0..10 {
        let r = server.send("GET", "/healthz", None, "", b"").await;
        assert_eq!(r.status, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for client in slow {
        let closed_after = client.await.expect("slow client");
        assert!(closed_after < Duration::from_secs(4), "{closed_after:?}");
    }
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)).await,
        "an idle connection was kept open"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let http = HttpLimits {
        idle_timeout: Duration::from_secs(1),
        max_connections: 2,
        ..HttpLimits::default()
    };
    let server = serve_with(
        dqgate::api::Limits::default(),
        http,
        "Rules = [ RowCount > 0 ]",
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(
            tokio::net::TcpStream::connect(server.addr)
                .await
                .expect("connect"),
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Both places are taken until the idle ones are closed.
    let asked = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        server.send("GET", "/healthz", None, "", b""),
    )
    .await
    .expect("answered once an idle connection closed");
    assert_eq!(r.status, 200);
    assert!(
        asked.elapsed() >= Duration::from_millis(500),
        "{:?}",
        asked.elapsed()
    );
}
