//! Server time of the console's pages over a large store: 100 registered
//! datasets and 10,000 finished runs (100 per dataset over two stages, 5
//! rule results and 5 metric values each, one run with failing-row
//! samples) in SQLite, then `GET /`, `/datasets/{name}` and `/runs/{id}`
//! for a signed-in viewer, through the axum router in-process
//! (`tower::ServiceExt::oneshot`: no socket, so the figure is the server's).
//!
//! Run: `cargo bench --bench console` (release). Setting
//! `DQGATE_BENCH_KEEP=DIR` keeps the SQLite file under DIR for
//! `EXPLAIN QUERY PLAN`.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use criterion::{Criterion, criterion_group, criterion_main};
use dqgate::api::auth::{hash_token, new_token};
use dqgate::api::{AppState, Limits};
use dqgate::console::{self, ConsoleSettings};
use dqgate::gate::Decision;
use dqgate::plan::Outcome;
use dqgate::report::{RowSample, SampledRow};
use dqgate::sample::{SampleSpec, generate};
use dqgate::source::Confinement;
use dqgate::store::{
    AnomalyBand, Claim, Finished, MetricRecord, RuleResultRecord, RunStatus, Store,
};
use tower::ServiceExt;

const DATASETS: usize = 100;
const RUNS: usize = 10_000;

/// The store filled, the console over it, a viewer's cookie, and the pages.
struct Setup {
    app: Router,
    cookie: String,
    dataset: String,
    run: String,
    _dir: tempfile::TempDir,
}

fn rules(i: usize) -> Vec<RuleResultRecord> {
    let texts = [
        "RowCount > 0",
        "IsComplete \"user_id\"",
        "ColumnValues \"country\" in [\"DE\", \"FR\", \"US\"]",
        "Uniqueness \"user_id\" > 0.99",
        "DetectAnomalies \"RowCount\"",
    ];
    texts
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let failed = k == 2 && i.is_multiple_of(7);
            RuleResultRecord {
                position: k as i64,
                rule: (*t).to_string(),
                outcome: if failed {
                    Outcome::Failed
                } else {
                    Outcome::Passed
                },
                message: if failed {
                    "98.50% of rows passed; every row must pass".into()
                } else {
                    String::new()
                },
                labels: [("team".to_string(), "core".to_string())].into(),
                observations: if k == 4 {
                    serde_json::json!([{"metric": "Dataset.*.RowCount", "value": 1000.0, "expected": 1000.0,
                        "lower": 990.0, "upper": 1010.0, "history": 60, "anomalous": false, "method": "median"}])
                } else {
                    serde_json::Value::Null
                },
            }
        })
        .collect()
}

fn metrics(i: usize) -> Vec<MetricRecord> {
    let value = 1000.0 + (i % 13) as f64;
    vec![
        MetricRecord {
            name: "Dataset.*.RowCount".into(),
            value,
            position: Some(0),
            where_clause: String::new(),
            anomaly: Some(AnomalyBand {
                expected: Some(1000.0),
                lower: Some(990.0),
                upper: Some(1010.0),
                anomalous: false,
            }),
        },
        MetricRecord {
            name: "Column.user_id.Completeness".into(),
            value: 1.0,
            position: Some(1),
            ..MetricRecord::default()
        },
        MetricRecord {
            name: "Column.country.ColumnValues.Compliance".into(),
            value: 0.985,
            position: Some(2),
            ..MetricRecord::default()
        },
        MetricRecord {
            name: "Column.user_id.Uniqueness".into(),
            value: 1.0,
            position: Some(3),
            ..MetricRecord::default()
        },
        MetricRecord {
            name: "Column.age.Mean".into(),
            value: 37.5,
            position: None,
            ..MetricRecord::default()
        },
    ]
}

async fn setup() -> Result<Setup, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let anchor = chrono::Utc::now()
        .date_naive()
        .and_time(chrono::NaiveTime::MIN);
    let sample = generate(
        dir.path(),
        &SampleSpec {
            sessions: 200,
            days: 1,
            seed: 7,
            anchor,
        },
        |_| {},
    )?;
    let store_dir = match std::env::var_os("DQGATE_BENCH_KEEP") {
        Some(keep) => std::path::PathBuf::from(keep),
        None => dir.path().join("store"),
    };
    let store = Store::connect(&Store::sqlite_url(&store_dir)?).await?;
    let users = sample.users.display().to_string();
    for d in 0..DATASETS {
        store
            .put_dataset(
                &format!("dataset-{d:03}"),
                "parquet",
                &users,
                &serde_json::json!({}),
            )
            .await?;
    }
    store
        .put_ruleset(
            "users",
            include_str!("../rulesets/deftunes/users.dqdl"),
            None,
            "bench",
        )
        .await?;
    let started = Instant::now();
    let params = serde_json::json!({"start_date": "2026-11-25"});
    let inputs =
        serde_json::json!({"dataset": {"name": "users", "location": users, "format": "parquet"}});
    let mut last = String::new();
    for i in 0..RUNS {
        let id = format!("run-{i:05}");
        let dataset = format!("dataset-{:03}", i % DATASETS);
        let stage = if (i / DATASETS).is_multiple_of(2) {
            "landing"
        } else {
            "curated"
        };
        if let Claim::New(id) = store
            .claim_run(&id, &id, &dataset, "users", 1, stage, &params)
            .await?
        {
            let samples = if i + 1 == RUNS {
                vec![RowSample {
                    rule_position: 2,
                    rule: "ColumnValues \"country\" in [\"DE\", \"FR\", \"US\"]".into(),
                    columns: (0..8).map(|c| format!("column_{c}")).collect(),
                    rows: (0..20)
                        .map(|r| SampledRow {
                            values: (0..8).map(|c| Some(format!("value {r}.{c}"))).collect(),
                            failed_rules: vec![
                                "ColumnValues \"country\" in [\"DE\", \"FR\", \"US\"]".into(),
                            ],
                        })
                        .collect(),
                }]
            } else {
                Vec::new()
            };
            store
                .finish_run(
                    &id,
                    &Finished {
                        status: RunStatus::Done,
                        decision: if i.is_multiple_of(7) {
                            Decision::Fail
                        } else {
                            Decision::Pass
                        },
                        score: Some(if i.is_multiple_of(7) { 0.8 } else { 1.0 }),
                        counts: if i.is_multiple_of(7) {
                            (4, 1, 0)
                        } else {
                            (5, 0, 0)
                        },
                        message: None,
                        inputs: &inputs,
                        rules: &rules(i),
                        metrics: &metrics(i),
                        samples: &samples,
                        started_at: "2026-11-26T00:00:00Z",
                        observed_at: "2026-11-26T00:00:00Z",
                        duration_ms: 120,
                    },
                )
                .await?;
            last = id;
        }
    }
    eprintln!(
        "stored {DATASETS} datasets and {RUNS} runs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let viewer = new_token()?;
    store
        .create_token("viewer", "viewer", &hash_token(&viewer))
        .await?;
    let confinement = Confinement::new(&[dir.path().to_path_buf()], &[store_dir], &[])?;
    let state = AppState::new(store, Limits::default(), None).with_confinement(confinement);
    let app = console::app(
        state,
        ConsoleSettings {
            session_ttl: Duration::from_secs(3600),
        },
    );
    let signin = Request::post("/signin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={viewer}")))?;
    let answer = app.clone().oneshot(signin).await?;
    let cookie = answer
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("no session cookie")?
        .to_string();
    Ok(Setup {
        app,
        cookie,
        dataset: format!("dataset-{:03}", (RUNS - 1) % DATASETS),
        run: last,
        _dir: dir,
    })
}

/// One page, answered in full (body read), as the viewer.
async fn page(app: &Router, cookie: &str, path: &str) -> usize {
    let request = Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request");
    let answer = app.clone().oneshot(request).await.expect("answer");
    assert_eq!(answer.status(), 200, "{path}");
    axum::body::to_bytes(answer.into_body(), 1 << 26)
        .await
        .expect("body")
        .len()
}

fn bench_pages(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let s = runtime.block_on(setup()).expect("setup");
    let pages = [
        ("GET /", "/".to_string()),
        ("GET /datasets/{name}", format!("/datasets/{}", s.dataset)),
        (
            "GET /datasets/{name}?metric=",
            format!("/datasets/{}?metric=Dataset.%2A.RowCount", s.dataset),
        ),
        ("GET /runs/{id}", format!("/runs/{}", s.run)),
    ];
    let mut group = c.benchmark_group("console, 100 datasets, 10,000 runs, SQLite");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(4));
    for (name, path) in &pages {
        let bytes = runtime.block_on(page(&s.app, &s.cookie, path));
        eprintln!("{name}: {path} answers {bytes} bytes");
        group.bench_function(*name, |b| {
            b.iter(|| runtime.block_on(page(&s.app, &s.cookie, path)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_pages);
criterion_main!(benches);
