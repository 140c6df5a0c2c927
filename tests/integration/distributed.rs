//! `--engine df://…`: the same checks on an Apache DataFusion Ballista
//! cluster, a scheduler and two executors started as processes on
//! 127.0.0.1 (`examples/ballista_node.rs`, Ballista's own crates), compared
//! rule for rule and metric for metric with local execution; an executor
//! killed mid-run and an unreachable scheduler end the run, never hang it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use dqgate::check::CheckRequest;
use dqgate::engine::Engine;
use dqgate::plan::Outcome;
use dqgate::report::{Report, RuleResult};
use dqgate::sample::{SampleSpec, generate};
use dqgate::source::DatasetSpec;

use super::fixtures;

/// The node binary cargo builds beside the test binary.
fn node_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug = exe.parent().and_then(Path::parent).expect("target/debug");
    let node = debug.join("examples/ballista_node");
    assert!(
        node.exists(),
        "{} is missing: `cargo test --features distributed` builds it",
        node.display()
    );
    node
}

/// A free port on 127.0.0.1 whose successor is free too (an executor
/// takes two).
fn free_port_pair() -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = first.local_addr().expect("addr").port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scheduler and two executors; killed when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    scheduler: Child,
    executors: Vec<Child>,
    port: u16,
}

impl Cluster {
    fn start() -> Cluster {
        let node = node_binary();
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port_pair();
        let spawn = |args: &[String], log: &str| {
            let file = std::fs::File::create(dir.path().join(log)).expect("log file");
            Command::new(&node)
                .args(args)
                // Short liveness windows: a killed executor is noticed in
                // seconds, not Ballista's default three minutes.
                .env("BALLISTA_EXECUTOR_TIMEOUT_SECS", "4")
                .env("BALLISTA_HEARTBEAT_SECS", "1")
                .env("BALLISTA_CONCURRENT_TASKS", "2")
                .env("RUST_LOG", "info")
                .env("TMPDIR", dir.path())
                .stdout(Stdio::null())
                .stderr(file)
                .spawn()
                .expect("ballista_node starts")
        };
        let scheduler = spawn(&["scheduler".into(), port.to_string()], "scheduler.log");
        wait_for_port(port, "the scheduler", &dir.path().join("scheduler.log"));
        let mut executors = Vec::new();
        for i in 0..2 {
            let own = free_port_pair();
            let log = format!("executor{i}.log");
            executors.push(spawn(
                &["executor".into(), own.to_string(), port.to_string()],
                &log,
            ));
            wait_for_port(own, "an executor", &dir.path().join(&log));
        }
        let cluster = Cluster {
            dir,
            scheduler,
            executors,
            port,
        };
        // Registered once each executor's log says it reached the scheduler.
        let deadline = Instant::now() + Duration::from_secs(30);
        while (0..2).any(|i| {
            !cluster
                .log(&format!("executor{i}.log"))
                .contains("Connected")
        }) {
            assert!(Instant::now() < deadline, "executors did not register");
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    fn engine(&self) -> Engine {
        format!("df://127.0.0.1:{}", self.port)
            .parse()
            .expect("engine url")
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Tasks each executor has received so far.
    fn tasks_per_executor(&self) -> Vec<usize> {
        (0..self.executors.len())
            .map(|i| {
                self.log(&format!("executor{i}.log"))
                    .matches("Received task")
                    .count()
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.executors.iter_mut().chain([&mut self.scheduler]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The last lines of a log.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn spec(alias: &str, location: impl AsRef<Path>) -> DatasetSpec {
    DatasetSpec {
        alias: alias.into(),
        location: location.as_ref().display().to_string(),
        ..Default::default()
    }
}

/// `check::run` on a thread with the evaluation stack the CLI and the
/// server give their threads (the test harness's are smaller).
async fn run(request: CheckRequest) -> Result<Report, dqgate::check::CheckError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .stack_size(dqgate::engine::EVALUATION_STACK_BYTES)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let _ = tx.send(runtime.block_on(dqgate::check::run(request)));
        })
        .expect("evaluation thread");
    rx.await.expect("the evaluation thread answers")
}

fn request(name: &str, text: &str, datasets: Vec<DatasetSpec>, engine: Engine) -> CheckRequest {
    CheckRequest {
        ruleset_name: name.into(),
        ruleset_text: text.into(),
        datasets,
        now: Some(fixtures::now()),
        memory_limit: None,
        engine,
    }
}

/// Every rule's outcome, message and metrics agree (floating values
/// within 1e-12 relative; an error's message may differ in how the
/// cluster wraps it, but must carry the local one's cause); the
/// differences, one line each.
fn differences(name: &str, local: &Report, remote: &Report) -> Vec<String> {
    if local.rules.len() != remote.rules.len() {
        return vec![format!(
            "{name}: {} rules locally, {} distributed",
            local.rules.len(),
            remote.rules.len()
        )];
    }
    local
        .rules
        .iter()
        .zip(&remote.rules)
        .flat_map(|(l, r)| rule_differences(name, l, r))
        .collect()
}

fn rule_differences(name: &str, l: &RuleResult, r: &RuleResult) -> Vec<String> {
    let mut out = Vec::new();
    let same_message = match (l.outcome, r.outcome) {
        (Outcome::Error, Outcome::Error) => {
            let cause = l.message.rsplit("error: ").next().unwrap_or(&l.message);
            r.message.contains(cause)
        }
        _ => l.message == r.message,
    };
    if l.outcome != r.outcome || !same_message {
        out.push(format!(
            "{name}: {}\n    local {:?} {}\n    distributed {:?} {}",
            l.rule, l.outcome, l.message, r.outcome, r.message
        ));
    }
    if l.metrics.keys().ne(r.metrics.keys()) {
        out.push(format!(
            "{name}: {} metric names {:?} vs {:?}",
            l.rule,
            l.metrics.keys().collect::<Vec<_>>(),
            r.metrics.keys().collect::<Vec<_>>()
        ));
    }
    for (metric, a) in &l.metrics {
        if let Some(b) = r.metrics.get(metric) {
            let same = a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
            if !same {
                out.push(format!("{name}: {} {metric}: {a} vs {b}", l.rule));
            }
        }
    }
    out
}

fn deftunes_sample(dir: &Path, sessions: usize) -> dqgate::sample::SampleSummary {
    let anchor = NaiveDate::from_ymd_opt(2026, 11, 26)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("anchor");
    generate(
        dir,
        &SampleSpec {
            sessions,
            days: 7,
            seed: 42,
            anchor,
        },
        |_| {},
    )
    .expect("sample data")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deftunes_and_the_semantic_table_agree_with_local_execution() {
    let cluster = Cluster::start();
    let data = tempfile::tempdir().expect("tempdir");
    let sample = deftunes_sample(data.path(), 20_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/deftunes");
    let mut jobs: Vec<(String, String, Vec<DatasetSpec>)> = Vec::new();
    for (name, datasets) in [
        (
            "sessions",
            vec![
                spec("primary", &sample.sessions),
                spec("users", &sample.users),
                spec("songs", &sample.songs),
            ],
        ),
        ("users", vec![spec("primary", &sample.users)]),
        ("songs", vec![spec("primary", &sample.songs)]),
    ] {
        let text = std::fs::read_to_string(root.join(format!("{name}.dqdl"))).expect("ruleset");
        jobs.push((name.to_string(), text, datasets));
    }
    let (people, reference) = fixtures::write_all(data.path());
    jobs.push((
        "semantics".into(),
        super::semantics::ruleset_text(),
        vec![spec("primary", people), spec("reference", reference)],
    ));

    let mut failures = Vec::new();
    for (name, text, datasets) in jobs {
        let local = run(request(&name, &text, datasets.clone(), Engine::Local))
            .await
            .expect("local check");
        let before = cluster.tasks_per_executor();
        let remote = run(request(&name, &text, datasets, cluster.engine()))
            .await
            .expect("distributed check");
        let after = cluster.tasks_per_executor();
        assert!(
            after.iter().sum::<usize>() > before.iter().sum::<usize>(),
            "{name}: no task reached an executor"
        );
        failures.extend(differences(&name, &local, &remote));
    }
    let tasks = cluster.tasks_per_executor();
    assert!(
        tasks.iter().all(|&n| n > 0),
        "both executors must run tasks: {tasks:?}"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_executor_ends_the_run_without_a_hang() {
    let mut cluster = Cluster::start();
    let data = tempfile::tempdir().expect("tempdir");
    let sample = deftunes_sample(data.path(), 200_000);
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/deftunes/sessions.dqdl"),
    )
    .expect("ruleset");
    let datasets = vec![
        spec("primary", &sample.sessions),
        spec("users", &sample.users),
        spec("songs", &sample.songs),
    ];
    let local = run(request("sessions", &text, datasets.clone(), Engine::Local))
        .await
        .expect("local check");
    let remote = tokio::spawn(run(request("sessions", &text, datasets, cluster.engine())));
    // Kill the first executor as soon as it is working on this run.
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster.tasks_per_executor()[0] == 0 && !remote.is_finished() {
        assert!(Instant::now() < deadline, "no task reached executor 0");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed_while_running = !remote.is_finished();
    cluster.executors[0].kill().expect("kill executor 0");
    let _ = cluster.executors[0].wait();
    let started = Instant::now();
    let report = match tokio::time::timeout(Duration::from_secs(120), remote).await {
        Ok(done) => done.expect("the run task").expect("the check completes"),
        Err(_) => panic!(
            "the run did not end after an executor died; scheduler log:\n{}\nexecutor 1 log:\n{}",
            tail(&cluster.log("scheduler.log")),
            tail(&cluster.log("executor1.log"))
        ),
    };
    eprintln!(
        "run ended {:?} after the kill (killed while running: {killed_while_running}); errors {}",
        started.elapsed(),
        report.errors
    );
    // Either the scheduler reran the lost tasks on the other executor (the
    // same results), or the rules it could not finish are errors with the
    // engine's message; never a wrong pass or fail.
    let mut failures = Vec::new();
    for (l, r) in local.rules.iter().zip(&report.rules) {
        match r.outcome {
            Outcome::Error => assert!(!r.message.is_empty(), "{}: empty error", r.rule),
            _ => failures.extend(rule_differences("sessions", l, r)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_scheduler_is_an_error_per_rule() {
    let data = tempfile::tempdir().expect("tempdir");
    let (people, _) = fixtures::write_all(data.path());
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let engine: Engine = format!("df://127.0.0.1:{port}").parse().expect("engine");
    let started = Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        run(request(
            "down",
            "Rules = [ RowCount > 0, IsUnique \"id\" ]\n",
            vec![spec("primary", people)],
            engine,
        )),
    )
    .await
    .expect("no hang")
    .expect("the check completes");
    assert_eq!(report.errors, 2, "{:#?}", report.rules);
    for r in &report.rules {
        assert!(
            r.message.contains(&port.to_string()) || r.message.contains("connect"),
            "the engine's message names the scheduler: {}",
            r.message
        );
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// The README's promise: `dqgate check --engine df://…` prints the same
/// report as the local run (timings aside) and exits the same way.
#[test]
fn the_cli_report_is_the_local_one() {
    let cluster = Cluster::start();
    let data = tempfile::tempdir().expect("tempdir");
    let sample = deftunes_sample(data.path(), 5_000);
    let ruleset = Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/deftunes/sessions.dqdl");
    let check = |engine: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_dqgate"))
            .arg("check")
            .arg("--ruleset")
            .arg(&ruleset)
            .arg("--data")
            .arg(&sample.sessions)
            .arg("--data")
            .arg(format!("users={}", sample.users.display()))
            .arg("--data")
            .arg(format!("songs={}", sample.songs.display()))
            .args(["--now", "2026-11-26T06:00:00Z", "--format", "json"])
            .args(["--engine", engine])
            .output()
            .expect("dqgate runs");
        let mut report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{engine}: {e}\n{}", String::from_utf8_lossy(&out.stderr)));
        let fields = report.as_object_mut().expect("an object");
        fields.remove("started_at");
        fields.remove("duration_ms");
        (out.status.code(), report)
    };
    let local = check("local");
    let remote = check(&format!("df://127.0.0.1:{}", cluster.port));
    assert_eq!(local.0, Some(1), "the sample fails its marked rules");
    assert_eq!(local.0, remote.0);
    assert!(
        same_json(&local.1, &remote.1),
        "local:\n{:#}\ndistributed:\n{:#}",
        local.1,
        remote.1
    );
    assert!(cluster.tasks_per_executor().iter().all(|&n| n > 0));
}

/// Equal JSON, numbers within 1e-12 relative (sums over partitions add in
/// another order on a cluster).
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Parquet on S3: the session's `s3.*` options carry the endpoint and the
/// chain's credentials to the executors, which have no others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_datasets_read_on_the_cluster_like_locally() {
    let cluster = Cluster::start();
    let server = super::s3::S3Server::start().await;
    server.bucket("lake");
    let data = tempfile::tempdir().expect("tempdir");
    let sample = deftunes_sample(data.path(), 20_000);
    server.upload(&sample.sessions, "lake", "sessions").await;
    server
        .upload(&sample.users, "lake", "users/users.parquet")
        .await;
    let s3 = |alias: &str, location: &str| DatasetSpec {
        options: server.options(),
        ..spec(alias, location)
    };
    let text = "Rules = [ RowCount > 0, IsUnique \"session_id\", Completeness \"user_id\" > 0.9, \
                ReferentialIntegrity \"user_id\" \"users.user_id\" >= 0.9, Mean \"price\" > 0 ]\n";
    let datasets = vec![
        s3("primary", "s3://lake/sessions/"),
        s3("users", "s3://lake/users/users.parquet"),
    ];
    let local = run(request("s3", text, datasets.clone(), Engine::Local))
        .await
        .expect("local check");
    assert_eq!(local.errors, 0, "{:#?}", local.rules);
    let before: usize = cluster.tasks_per_executor().iter().sum();
    let remote = run(request("s3", text, datasets, cluster.engine()))
        .await
        .expect("distributed check");
    assert!(cluster.tasks_per_executor().iter().sum::<usize>() > before);
    let failures = differences("s3", &local, &remote);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A second set of S3 settings in one run is refused, not mixed.
    server.bucket("elsewhere");
    server
        .upload(&sample.users, "elsewhere", "users.parquet")
        .await;
    let other_region = DatasetSpec {
        options: dqgate::source::SourceOptions {
            region: Some("eu-west-1".into()),
            ..server.options()
        },
        ..spec("users", "s3://elsewhere/users.parquet")
    };
    let mixed = run(request(
        "s3",
        text,
        vec![s3("primary", "s3://lake/sessions/"), other_region],
        cluster.engine(),
    ))
    .await
    .expect("the check runs");
    let integrity = &mixed.rules[3];
    assert_eq!(integrity.outcome, Outcome::Error, "{integrity:#?}");
    assert!(
        integrity.message.contains("one set of S3 settings")
            && integrity.message.contains("region"),
        "{}",
        integrity.message
    );
}

/// Iceberg snapshots as their data files: the same results as the local
/// Iceberg provider, and a snapshot with delete files an error that says
/// so (never its rows with the deletes unapplied).
#[cfg(feature = "iceberg")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iceberg_snapshots_read_on_the_cluster_like_locally() {
    use super::iceberg::{RULES, catalog_ref, fixtures};
    let Some((root, _)) = fixtures() else {
        return;
    };
    let cluster = Cluster::start();
    let mut failures = Vec::new();
    for table in ["events", "evolved", "parted", "deleted"] {
        let datasets = vec![spec("primary", catalog_ref(root, table))];
        let local = run(request(table, RULES, datasets.clone(), Engine::Local))
            .await
            .expect("local check");
        let remote = run(request(table, RULES, datasets, cluster.engine()))
            .await
            .expect("distributed check");
        failures.extend(differences(table, &local, &remote));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let merge_on_read = run(request(
        "mor_pos",
        RULES,
        vec![spec("primary", catalog_ref(root, "mor_pos"))],
        cluster.engine(),
    ))
    .await;
    let message = match merge_on_read {
        Err(e) => e.to_string(),
        Ok(report) => panic!("delete files were not refused: {report:#?}"),
    };
    assert!(message.contains("delete files"), "{message}");
}

/// `dqgate serve --engine`: gate runs evaluate on the cluster and decide
/// as local ones do, on SQLite and PostgreSQL; a server whose scheduler is
/// down answers `error` (fail-closed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_decides_the_same_on_the_cluster() {
    use super::service::{ADMIN, RULES, backends, gate_body, start_with};
    let cluster = Cluster::start();
    let down: Engine = format!(
        "df://127.0.0.1:{}",
        TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port()
    )
    .parse()
    .expect("engine");
    for backend in backends() {
        let mut answers = Vec::new();
        for engine in [Engine::Local, cluster.engine(), down.clone()] {
            let limits = dqgate::api::Limits {
                engine: engine.clone(),
                ..Default::default()
            };
            let s = start_with(backend, limits).await;
            s.seed(RULES).await;
            let before: usize = cluster.tasks_per_executor().iter().sum();
            let r = s.post_json("/v1/gate", ADMIN, &gate_body("day-1")).await;
            assert_eq!(r.status, 200, "{backend} {engine}");
            if engine == cluster.engine() {
                assert!(cluster.tasks_per_executor().iter().sum::<usize>() > before);
            }
            answers.push(r.json());
        }
        let [local, remote, dead] = &answers[..] else {
            unreachable!("three engines")
        };
        assert_eq!(local["decision"], "warn", "{backend}: {local:#}");
        assert_eq!(remote["decision"], local["decision"], "{backend}");
        assert_eq!(remote["score"], local["score"], "{backend}");
        for (l, r) in local["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .zip(remote["rules"].as_array().expect("rules"))
        {
            assert_eq!(l["outcome"], r["outcome"], "{backend}: {l} vs {r}");
            assert!(same_json(&l["metrics"], &r["metrics"]), "{l} vs {r}");
        }
        assert_eq!(dead["decision"], "error", "{backend}: {dead:#}");
    }
}
