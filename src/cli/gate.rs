//! `dqgate gate`: ask a dqgate server for a gate decision and turn it into
//! an exit status any orchestrator understands.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dqgate::client::{Answer, Backoff, Client, ClientError, GateCall, Progress, new_run_id};
use dqgate::gate::Decision;
use serde_json::Value;

/// Exit status: the data may move on.
const PASS: u8 = 0;
/// Exit status: a blocking rule failed.
const FAIL: u8 = 1;
/// Exit status: no decision could be had, or the decision is `error`.
const ERROR: u8 = 2;
/// Exit status: warning rules failed and `--fail-on-warn` was given.
const WARN_FAILS: u8 = 3;

/// What `dqgate gate --help` says about exit statuses.
pub const EXIT_CODES: &str = "\
Exit status:
  0  pass, or warn (only warning rules failed)
  1  fail: a blocking rule failed; stop the pipeline
  2  error: the run could not be evaluated, or no decision could be had
     (server unreachable, request refused, --timeout reached); the
     message on standard error says which
  3  warn with --fail-on-warn

Network errors, 5xx and 429 answers are retried with backoff (--retries)
with the same run id, so a retry never evaluates twice: without --run-id
one is generated once per invocation. Rerunning the command with the same
--run-id returns the stored decision.";

/// Options of `dqgate gate`.
#[derive(Debug, clap::Args)]
pub struct GateArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "DQGATE_SERVER")]
    pub server: String,
    /// A bearer token with the pipeline (or admin) role.
    #[arg(long, env = "DQGATE_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The registered dataset to check.
    #[arg(long)]
    pub dataset: String,
    /// The saved ruleset to check it with.
    #[arg(long)]
    pub ruleset: String,
    /// Pin a version of the ruleset (default: its latest).
    #[arg(long)]
    pub ruleset_version: Option<i64>,
    /// The pipeline stage, e.g. landing, transform or serving.
    #[arg(long)]
    pub stage: String,
    /// Idempotency key: a rerun with the same id gets the stored decision
    /// [default: a new random id].
    #[arg(long)]
    pub run_id: Option<String>,
    /// A run parameter as KEY=VALUE (repeatable), e.g. start_date=2026-11-26
    /// or since_snapshot_id=42; values that read as JSON numbers or
    /// true/false are sent as such, others as text.
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, Value)>,
    /// Another registered dataset under the alias its rules use, as
    /// ALIAS=DATASET (repeatable), e.g. users=deftunes_users.
    #[arg(long = "alias", value_name = "ALIAS=DATASET", value_parser = parse_alias)]
    pub aliases: Vec<(String, String)>,
    /// Do not hold the request open while the server evaluates: the
    /// server answers 202 at once and the command polls the run (for
    /// proxies that cut long requests).
    #[arg(long)]
    pub no_wait: bool,
    /// Output: a table for people or the run as JSON.
    #[arg(long, value_enum, default_value_t = GateFormat::Table)]
    pub format: GateFormat,
    /// Exit 3 instead of 0 when the decision is warn.
    #[arg(long)]
    pub fail_on_warn: bool,
    /// Longest wait for the decision, retries included: 90s, 30m, 1h.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Retries of a failed attempt (no connection, 5xx, 429), waiting 0.5,
    /// 1, 2, 4, ... s in between (at most 30 s).
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
}

/// `--format` of `dqgate gate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GateFormat {
    /// The decision and the failing rules, for people.
    Table,
    /// The run as the server serves it, for machines.
    Json,
}

/// `KEY=VALUE` with a JSON number or boolean value when it reads as one.
fn parse_param(text: &str) -> Result<(String, Value), String> {
    let (key, value) = text
        .split_once('=')
        .filter(|(k, _)| !k.trim().is_empty())
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    let parsed = match serde_json::from_str::<Value>(value) {
        Ok(v @ (Value::Number(_) | Value::Bool(_))) => v,
        _ => Value::String(value.to_string()),
    };
    Ok((key.trim().to_string(), parsed))
}

fn parse_alias(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(a, d)| !a.trim().is_empty() && !d.trim().is_empty())
        .map(|(a, d)| (a.trim().to_string(), d.trim().to_string()))
        .ok_or_else(|| format!("`{text}` is not ALIAS=DATASET"))
}

/// `90`, `90s`, `500ms`, `30m`, `1h`, `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration such as 90s, 30m or 1h");
    let t = text.trim();
    if let Ok(seconds) = t.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let after = &rest[digits..];
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let unit = match &after[..unit_len] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            _ => return Err(bad()),
        };
        total = total.saturating_add(unit);
        rest = &after[unit_len..];
    }
    if total.is_zero() {
        return Err(bad());
    }
    Ok(total)
}

/// Runs `dqgate gate`.
pub fn run(args: GateArgs) -> ExitCode {
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(ERROR);
        }
    };
    let run_id = match args.run_id.clone().map(Ok).unwrap_or_else(new_run_id) {
        Ok(id) => id,
        Err(e) => return report_error(&args, "", &e),
    };
    let client = match Client::new(
        &args.server,
        &args.token,
        Backoff {
            retries: args.retries,
            ..Backoff::default()
        },
    ) {
        Ok(c) => c,
        Err(e) => return report_error(&args, &run_id, &e),
    };
    let call = GateCall {
        dataset: args.dataset.clone(),
        ruleset: args.ruleset.clone(),
        ruleset_version: args.ruleset_version,
        stage: args.stage.clone(),
        run_id: run_id.clone(),
        parameters: args.params.iter().cloned().collect(),
        aliases: args.aliases.iter().cloned().collect::<BTreeMap<_, _>>(),
        wait: !args.no_wait,
    };
    let deadline = Instant::now() + args.timeout;
    let mut show = |p: Progress| match p {
        Progress::Retrying {
            attempt,
            delay,
            reason,
        } => eprintln!(
            "dqgate gate: attempt {attempt} failed ({reason}); retrying in {:.1} s with run id {run_id}",
            delay.as_secs_f64()
        ),
        Progress::Accepted { run } => {
            eprintln!("dqgate gate: run {run} accepted; waiting for its decision")
        }
    };
    match runtime.block_on(client.gate(&call, deadline, &mut show)) {
        Ok(answer) => report_answer(&args, &answer),
        Err(e) => report_error(&args, &run_id, &e),
    }
}

/// Prints the decision and returns its exit status.
fn report_answer(args: &GateArgs, answer: &Answer) -> ExitCode {
    match args.format {
        GateFormat::Json => super::print_json(&answer.run),
        GateFormat::Table => print_table(&answer.run),
    }
    let code = match answer.decision {
        Decision::Pass => PASS,
        Decision::Warn if args.fail_on_warn => WARN_FAILS,
        Decision::Warn => PASS,
        Decision::Fail => FAIL,
        Decision::Error => ERROR,
    };
    if answer.decision == Decision::Error {
        let why = answer.run["message"].as_str().unwrap_or("see the run");
        eprintln!("error: the gate decided error: {why}");
    }
    ExitCode::from(code)
}

/// Prints why no decision could be had; exit status 2.
fn report_error(args: &GateArgs, run_id: &str, e: &ClientError) -> ExitCode {
    eprintln!("error: {e}");
    if args.format == GateFormat::Json {
        super::print_json(&serde_json::json!({
            "decision": null,
            "run_key": run_id,
            "error": {"kind": e.kind(), "message": e.to_string()},
        }));
    }
    ExitCode::from(ERROR)
}

/// The decision, the run, the failing rules and where failing rows went.
fn print_table(run: &Value) {
    let text = |k: &str| run[k].as_str().unwrap_or("-").to_string();
    let number = |k: &str| run[k].as_i64().unwrap_or(0);
    outln!(
        "{}  dataset {}, ruleset {} v{}, stage {}",
        text("decision").to_uppercase(),
        text("dataset"),
        text("ruleset"),
        number("ruleset_version"),
        text("stage"),
    );
    outln!("run {} (run id {})", text("id"), text("run_key"));
    if let Some(score) = run["score"].as_f64() {
        outln!(
            "score {score:.3}: {} passed, {} failed, {} errors",
            number("passed"),
            number("failed"),
            number("errors")
        );
    }
    if let Some(message) = run["message"].as_str() {
        outln!("message: {message}");
    }
    let failing: Vec<&Value> = run["rules"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .filter(|r| r["outcome"].as_str() != Some("Passed"))
                .collect()
        })
        .unwrap_or_default();
    if !failing.is_empty() {
        outln!("{:<6} {:<5} {:<48} message", "", "sev", "rule");
        for r in failing {
            let severity = r["labels"]["severity"].as_str().unwrap_or("");
            outln!(
                "{:<6} {:<5} {:<48} {}",
                r["outcome"].as_str().unwrap_or("?"),
                severity,
                r["rule"].as_str().unwrap_or(""),
                r["message"].as_str().unwrap_or("")
            );
        }
    }
    let q = &run["inputs"]["quarantine"];
    if let Some(location) = q["location"].as_str() {
        let (rows, files) = (
            q["rows"].as_u64().unwrap_or(0),
            q["files"].as_u64().unwrap_or(0),
        );
        let plural = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        outln!(
            "quarantine: {location} ({} in {})",
            plural(rows, "row"),
            plural(files, "file")
        );
    }
}
