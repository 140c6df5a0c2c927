//! Load benchmark of the service over a real loopback socket:
//! 1. 200 concurrent gate calls (distinct run ids) on a small dataset;
//! 2. trend reads over 10,000 stored runs.
//!
//! Prints throughput, latency percentiles and the process's peak RSS
//! (server and client share the process).
//!
//! Run: `cargo bench --bench service` (SQLite in a temp dir), or with
//! `DQGATE_BENCH_DATABASE_URL=postgres://...` against PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dqgate::api::{self, AppState, Limits};
use dqgate::gate::Decision;
use dqgate::sample::{SampleSpec, generate};
use dqgate::source::Confinement;
use dqgate::store::{Claim, Finished, MetricRecord, RunStatus, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "bench-token";

async fn call(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, Duration) {
    let started = Instant::now();
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return (0, started.elapsed());
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(request.as_bytes()).await.is_err() {
        return (0, started.elapsed());
    }
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply).await;
    let status = String::from_utf8_lossy(&reply[..reply.len().min(12)])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut latencies: Vec<Duration>, wall: Duration, statuses: &[u16]) {
    latencies.sort();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    println!(
        "{name}: {} requests ({ok} ok) in {:.2} s = {:.1} req/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        wall.as_secs_f64(),
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let anchor = chrono::Utc::now()
        .date_naive()
        .and_time(chrono::NaiveTime::MIN);
    let sample = generate(
        dir.path(),
        &SampleSpec {
            sessions: 2000,
            days: 2,
            seed: 7,
            anchor,
        },
        |_| {},
    )?;
    let url = match std::env::var("DQGATE_BENCH_DATABASE_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => Store::sqlite_url(&dir.path().join("store"))?,
    };
    let store = Store::connect(&url).await?;
    let limits = Limits {
        max_queued_evaluations: 1000,
        ..Limits::default()
    };
    let confinement = Confinement::new(
        &[dir.path().to_path_buf()],
        &[dir.path().join("store")],
        &[],
    )?;
    let state = AppState::new(store.clone(), limits, Some(TOKEN)).with_confinement(confinement);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, api::router(state)).await;
    });
    let users = sample.users.display().to_string();
    let ruleset = include_str!("../rulesets/deftunes/users.dqdl");
    store
        .put_dataset("users", "parquet", &users, &serde_json::json!({}))
        .await?;
    store.put_ruleset("users", ruleset, None, "bench").await?;
    println!(
        "backend {:?}; dataset {} rows; ruleset {} rules",
        store.backend(),
        sample.rows.1,
        dqgate::dqdl::parse(ruleset)?.rules.map_or(0, |r| r.len())
    );

    // 1. 200 concurrent gate calls.
    let started = Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let body = format!(r#"{{"dataset": "users", "ruleset": "users", "stage": "bench", "run_id": "bench-{i}"}}"#);
            tokio::spawn(async move { call(addr, "POST", "/v1/gate", &body).await })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut statuses = Vec::new();
    for t in tasks {
        let (s, d) = t.await?;
        statuses.push(s);
        latencies.push(d);
    }
    report(
        "gate, 200 concurrent",
        latencies,
        started.elapsed(),
        &statuses,
    );

    // 2. 10,000 stored runs, then trend reads.
    let started = Instant::now();
    let inputs = serde_json::json!({});
    for i in 0..10_000 {
        let id = format!("hist-{i:05}");
        if let Claim::New(id) = store
            .claim_run(&id, &id, "history", "users", 1, "bench", &inputs)
            .await?
        {
            let metrics = [MetricRecord {
                name: "Dataset.*.RowCount".into(),
                value: 1000.0 + f64::from(i % 50),
                position: Some(0),
                where_clause: String::new(),
                anomaly: None,
            }];
            store
                .finish_run(
                    &id,
                    &Finished {
                        status: RunStatus::Done,
                        decision: Decision::Pass,
                        score: Some(1.0),
                        counts: (1, 0, 0),
                        message: None,
                        inputs: &inputs,
                        rules: &[],
                        metrics: &metrics,
                        samples: &[],
                        started_at: "2026-11-26T00:00:00Z",
                        observed_at: "2026-11-26T00:00:00Z",
                        duration_ms: 1,
                    },
                )
                .await?;
        }
    }
    println!(
        "stored 10,000 runs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let path = Arc::new("/v1/trends?dataset=history&metric=Dataset.*.RowCount".to_string());
    let mut latencies = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..25 {
        let batch: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                tokio::spawn(async move { call(addr, "GET", &path, "").await })
            })
            .collect();
        for t in batch {
            let (s, d) = t.await?;
            statuses.push(s);
            latencies.push(d);
        }
    }
    report(
        "trends over 10,000 runs, 8 concurrent",
        latencies,
        started.elapsed(),
        &statuses,
    );
    println!(
        "peak RSS {:.0} MiB (server and client in one process)",
        peak_rss_mib()
    );
    Ok(())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}
