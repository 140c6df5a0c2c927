//! `dqgate gate` against a real `dqgate serve` process on loopback with a
//! temp SQLite store: the exit status of every decision, JSON output, the
//! 202-and-poll path, retries with one run id across a server restart, and
//! an unreachable server.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::fixtures;

pub const ADMIN: &str = "gate-cli-admin-token";

/// A `dqgate serve` process over a store under `dir/data`, stopped when
/// dropped.
pub struct Serve {
    child: Child,
    pub url: String,
}

impl Serve {
    /// Starts a server in `dir` (its allowed path) on `listen`.
    pub fn start(dir: &Path, listen: &str, extra: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dqgate"))
            .args(["serve", "--listen", listen, "--data-dir", "data"])
            .arg("--allowed-paths")
            .arg(dir)
            .args(extra)
            .current_dir(dir)
            .env("DQGATE_ADMIN_TOKEN", ADMIN)
            .env_remove("DQGATE_DATABASE_URL")
            .env_remove("DQGATE_CONFIG")
            .env_remove("DQGATE_ALLOWED_PATHS")
            .env("DQGATE_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dqgate serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    // Keep draining so the server never blocks on a full pipe.
                    continue;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = String::new();
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("dqgate listening on ") {
                        return Serve {
                            child,
                            url: url.trim().to_string(),
                        };
                    }
                    seen.push_str(&line);
                    seen.push('\n');
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(_) => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("dqgate serve did not start: {seen}");
    }

    /// Kills the server at once (no graceful shutdown), as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP call to the server as admin: (status, JSON body).
pub fn call(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut request = client
            .request(method.parse().expect("method"), url)
            .bearer_auth(ADMIN);
        request = match body {
            Some(Value::String(text)) => request
                .header("content-type", "text/plain")
                .body(text.clone()),
            Some(v) => request.json(&v),
            None => request,
        };
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    })
}

/// Registers `people.parquet` under `name` with `options`, and ruleset
/// `ruleset` with `dqdl`.
pub fn register(server: &str, dir: &Path, name: &str, options: Value) {
    let location = dir.join("people.parquet").display().to_string();
    let (status, body) = call(
        "PUT",
        &format!("{server}/v1/datasets/{name}"),
        Some(json!({"format": "parquet", "location": location, "options": options})),
    );
    assert!(status == 201 || status == 200, "{status}: {body}");
}

pub fn save_ruleset(server: &str, name: &str, dqdl: &str) {
    let (status, body) = call(
        "PUT",
        &format!("{server}/v1/rulesets/{name}"),
        Some(Value::String(dqdl.to_string())),
    );
    assert!(status == 201 || status == 200, "{status}: {body}");
}

/// Runs `dqgate gate` with `args`; the server and token come from the
/// environment as a pipeline would set them.
pub fn gate(server: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dqgate"))
        .arg("gate")
        .args(args)
        .env("DQGATE_SERVER", server)
        .env("DQGATE_TOKEN", ADMIN)
        .output()
        .expect("dqgate gate runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// How many runs the server has of `dataset`.
fn run_count(server: &str, dataset: &str) -> usize {
    let (status, page) = call(
        "GET",
        &format!("{server}/v1/runs?dataset={dataset}&limit=500"),
        None,
    );
    assert_eq!(status, 200, "{page}");
    page["runs"].as_array().map_or(0, Vec::len)
}

/// A folder with the fixtures.
fn workdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    fixtures::write_all(dir.path());
    let path = dir.path().canonicalize().expect("canonical");
    (dir, path)
}

/// A CustomSql rule that counts a cross join of `primary` with itself
/// `n` times: 10^n rows of work over the 10-row fixture.
fn slow_rule(n: usize) -> String {
    let tables: Vec<String> = (0..n).map(|i| format!("primary t{i}")).collect();
    // SUM(1), not COUNT(*): a cross join's COUNT(*) is answered from the
    // files' row counts without running anything.
    format!(
        "Rules = [ CustomSql \"SELECT SUM(1) FROM {}\" > 0 ]",
        tables.join(", ")
    )
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn every_decision_has_its_exit_status() {
    let (_keep, dir) = workdir();
    let server = Serve::start(&dir, "127.0.0.1:0", &[]);
    let url = server.url.clone();
    let quarantine = dir.join("quarantine");
    register(
        &url,
        &dir,
        "people",
        json!({"quarantine": quarantine.display().to_string()}),
    );
    // The fixture: 10 rows, `age` NULL in rows 3 and 7.
    save_ruleset(
        &url,
        "passes",
        "Rules = [ RowCount = 10, IsComplete \"id\" ]",
    );
    save_ruleset(
        &url,
        "warns",
        "Rules = [ RowCount = 10, IsComplete \"age\" labels=[\"severity\"=\"warn\"] ]",
    );
    save_ruleset(
        &url,
        "fails",
        "Rules = [ RowCount = 10, IsComplete \"age\", Completeness \"age\" >= 0.5 ]",
    );
    save_ruleset(
        &url,
        "errs",
        "Rules = [ CustomSql \"SELECT no_such_column FROM primary\" > 0 ]",
    );
    let common = ["--dataset", "people", "--stage", "landing"];
    let run = |ruleset: &str, extra: &[&str]| {
        let mut args: Vec<&str> = common.to_vec();
        args.extend(["--ruleset", ruleset]);
        args.extend(extra);
        gate(&url, &args)
    };

    let pass = run("passes", &["--format", "json"]);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass.stderr));
    let answer = json_of(&pass);
    assert_eq!(answer["decision"], "pass");
    assert_eq!(answer["status"], "done");
    assert_eq!(
        (answer["passed"].clone(), answer["failed"].clone()),
        (json!(2), json!(0))
    );
    assert!(
        answer["run_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("dqgate-")),
        "a generated run id: {answer}"
    );

    let warn = run("warns", &[]);
    assert_eq!(warn.status.code(), Some(0), "{}", text(&warn.stderr));
    let table = text(&warn.stdout);
    assert!(
        table.starts_with("WARN  dataset people, ruleset warns v1, stage landing"),
        "{table}"
    );
    assert!(table.contains("Failed warn  IsComplete \"age\""), "{table}");
    let strict = run("warns", &["--fail-on-warn", "--format", "json"]);
    assert_eq!(strict.status.code(), Some(3), "{}", text(&strict.stderr));
    assert_eq!(json_of(&strict)["decision"], "warn");

    let fail = run("fails", &["--format", "json", "--run-id", "fails-1"]);
    assert_eq!(fail.status.code(), Some(1), "{}", text(&fail.stderr));
    let answer = json_of(&fail);
    assert_eq!(answer["decision"], "fail");
    assert_eq!(answer["run_key"], "fails-1");
    let outcomes: Vec<&str> = answer["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes, ["Passed", "Failed", "Passed"]);
    let table = run("fails", &["--run-id", "fails-1"]);
    assert_eq!(table.status.code(), Some(1));
    let shown = text(&table.stdout);
    assert!(
        shown.contains("score 0.667: 2 passed, 1 failed, 0 errors"),
        "{shown}"
    );
    assert!(shown.contains("Failed       IsComplete \"age\""), "{shown}");
    let id = answer["id"].as_str().expect("run id");
    let folder = quarantine.join("people").join("landing").join(id);
    assert!(
        shown.contains(&format!(
            "quarantine: {}/ (2 rows in 1 file)",
            folder.display()
        )),
        "{shown}"
    );
    assert!(folder.join("part-00000.parquet").is_file());
    assert!(
        !shown.contains("Completeness \"age\""),
        "only failing rules: {shown}"
    );

    let error = run("errs", &["--format", "json"]);
    assert_eq!(error.status.code(), Some(2), "{}", text(&error.stderr));
    assert_eq!(json_of(&error)["decision"], "error");
    assert!(
        text(&error.stderr).contains("the gate decided error"),
        "{}",
        text(&error.stderr)
    );

    // A request the server refuses is exit 2 at once, without retries.
    let started = Instant::now();
    let missing = gate(
        &url,
        &[
            "--dataset",
            "nobody",
            "--ruleset",
            "passes",
            "--stage",
            "s",
            "--format",
            "json",
        ],
    );
    assert_eq!(missing.status.code(), Some(2));
    let err = text(&missing.stderr);
    assert!(
        err.contains("HTTP 404 dataset_not_found: no dataset `nobody`"),
        "{err}"
    );
    assert!(!err.contains("retrying"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(json_of(&missing)["error"]["kind"], "refused");
    let bad_token = Command::new(env!("CARGO_BIN_EXE_dqgate"))
        .args(["gate", "--server", &url, "--token", "wrong"])
        .args(["--dataset", "people", "--ruleset", "passes", "--stage", "s"])
        .env_remove("DQGATE_TOKEN")
        .output()
        .expect("runs");
    assert_eq!(bad_token.status.code(), Some(2));
    assert!(
        text(&bad_token.stderr).contains("HTTP 401"),
        "{}",
        text(&bad_token.stderr)
    );
    // Six gate calls reached the evaluation (the table rerun of fails-1
    // got the stored run).
    assert_eq!(run_count(&url, "people"), 5);
}

#[test]
fn no_wait_is_answered_202_and_the_run_is_polled_to_its_end() {
    let (_keep, dir) = workdir();
    let server = Serve::start(&dir, "127.0.0.1:0", &[]);
    let url = server.url.clone();
    register(&url, &dir, "people", json!({}));
    save_ruleset(&url, "slow", &slow_rule(7));
    let out = gate(
        &url,
        &[
            "--dataset",
            "people",
            "--ruleset",
            "slow",
            "--stage",
            "landing",
            "--no-wait",
            "--format",
            "json",
            "--run-id",
            "poll-1",
        ],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("accepted; waiting for its decision"), "{err}");
    let answer = json_of(&out);
    assert_eq!(answer["decision"], "pass");
    assert_eq!(
        answer["rules"][0]["metrics"]["Dataset.*.CustomSQL"],
        json!(1e7)
    );
    assert_eq!(run_count(&url, "people"), 1);
}

#[test]
fn a_retry_across_a_server_restart_reuses_the_run_id_and_never_evaluates_twice() {
    let (_keep, dir) = workdir();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let first = Serve::start(&dir, &listen, &[]);
    let url = first.url.clone();
    register(&url, &dir, "people", json!({}));
    save_ruleset(&url, "fails", "Rules = [ IsComplete \"age\" ]");
    save_ruleset(&url, "slow", &slow_rule(10));

    // A decided run, asked again after a restart: the stored decision.
    let args = [
        "--dataset",
        "people",
        "--ruleset",
        "fails",
        "--stage",
        "t",
        "--format",
        "json",
    ];
    let mut with_id = args.to_vec();
    with_id.extend(["--run-id", "restart-1"]);
    let before = gate(&url, &with_id);
    assert_eq!(before.status.code(), Some(1), "{}", text(&before.stderr));
    let run_before = json_of(&before)["id"].clone();

    // A client waiting on a slow run while the server dies: it retries
    // the same run id against the restarted server, which answers the
    // stored (interrupted) run instead of evaluating again.
    let waiting = Command::new(env!("CARGO_BIN_EXE_dqgate"))
        .args([
            "gate",
            "--dataset",
            "people",
            "--ruleset",
            "slow",
            "--stage",
            "t",
        ])
        .args(["--format", "json", "--retries", "8", "--timeout", "2m"])
        .env("DQGATE_SERVER", &url)
        .env("DQGATE_TOKEN", ADMIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gate starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, page) = call("GET", &format!("{url}/v1/runs?dataset=people"), None);
        let running = page["runs"].as_array().is_some_and(|runs| {
            runs.iter()
                .any(|r| r["ruleset"] == "slow" && r["status"] == "running")
        });
        if running {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slow run never started: {page}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    first.kill();
    std::thread::sleep(Duration::from_millis(700));
    let second = Serve::start(&dir, &listen, &[]);
    assert_eq!(second.url, url, "same address");
    let out = waiting.wait_with_output().expect("gate ends");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("retrying"), "{err}");
    let interrupted = json_of(&out);
    assert_eq!(interrupted["decision"], "error");
    assert_eq!(interrupted["status"], "interrupted");
    let key = interrupted["run_key"].as_str().expect("run key");
    assert!(key.starts_with("dqgate-"), "{key}");
    assert!(err.contains(key), "every retry names the one run id: {err}");

    let again = gate(&url, &with_id);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    assert_eq!(json_of(&again)["id"], run_before, "the stored run");
    assert_eq!(run_count(&url, "people"), 2, "one run per run id");
}

#[test]
fn a_server_that_comes_up_late_is_reached_by_retries() {
    let (_keep, dir) = workdir();
    // Seed the store with a first server, then stop it.
    let seeding = Serve::start(&dir, "127.0.0.1:0", &[]);
    register(&seeding.url, &dir, "people", json!({}));
    save_ruleset(&seeding.url, "passes", "Rules = [ RowCount = 10 ]");
    seeding.kill();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let client = Command::new(env!("CARGO_BIN_EXE_dqgate"))
        .args([
            "gate",
            "--dataset",
            "people",
            "--ruleset",
            "passes",
            "--stage",
            "s",
        ])
        .args(["--run-id", "late-1", "--retries", "8"])
        .env("DQGATE_SERVER", &url)
        .env("DQGATE_TOKEN", ADMIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gate starts");
    std::thread::sleep(Duration::from_millis(800));
    let server = Serve::start(&dir, &format!("127.0.0.1:{port}"), &[]);
    let out = client.wait_with_output().expect("gate ends");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("attempt 1 failed") && err.contains("late-1"),
        "{err}"
    );
    assert!(text(&out.stdout).starts_with("PASS  dataset people"));
    assert_eq!(run_count(&server.url, "people"), 1);
}

#[test]
fn an_unreachable_server_is_exit_2_in_bounded_time() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let out = gate(
        &url,
        &[
            "--dataset",
            "d",
            "--ruleset",
            "r",
            "--stage",
            "s",
            "--retries",
            "2",
        ],
    );
    let elapsed = started.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "cannot reach the dqgate server at {url} (3 attempts over"
        )),
        "{err}"
    );
    assert!(err.to_lowercase().contains("connection refused"), "{err}");
    // Two retries: 0.5 s and 1 s apart.
    assert!(
        elapsed >= Duration::from_millis(1400) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );

    // The overall --timeout bounds the retries too.
    let started = Instant::now();
    let out = gate(
        &url,
        &[
            "--dataset",
            "d",
            "--ruleset",
            "r",
            "--stage",
            "s",
            "--timeout",
            "1s",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(started.elapsed() < Duration::from_secs(5));
    let answer = json_of(&out);
    assert_eq!(answer["error"]["kind"], "unreachable");
    assert!(answer["decision"].is_null());

    // Usage errors are exit 2 too, with the reason.
    let out = gate(
        "not a url",
        &["--dataset", "d", "--ruleset", "r", "--stage", "s"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--server must be a URL"),
        "{}",
        text(&out.stderr)
    );
    let out = gate(
        &url,
        &[
            "--dataset",
            "d",
            "--ruleset",
            "r",
            "--stage",
            "s",
            "--timeout",
            "soon",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a duration"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn help_explains_the_exit_statuses() {
    let out = Command::new(env!("CARGO_BIN_EXE_dqgate"))
        .args(["gate", "--help"])
        .output()
        .expect("runs");
    let help = text(&out.stdout);
    for line in [
        "0  pass, or warn",
        "1  fail",
        "2  error",
        "3  warn with --fail-on-warn",
        "DQGATE_SERVER",
        "DQGATE_TOKEN",
    ] {
        assert!(help.contains(line), "{line}: {help}");
    }
}
