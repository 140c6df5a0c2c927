//! A client of the gate API for orchestrators (`dqgate gate`): it submits
//! `POST /v1/gate`, follows a 202 by polling `GET /v1/runs/{id}` until the
//! run ends, and retries transient failures (no connection, 5xx, 429) with
//! bounded exponential backoff. Every attempt carries the same run id, so
//! the server's idempotency key makes a retry return the stored decision
//! instead of evaluating twice. Nothing here prints: progress goes to a
//! callback.

mod retry;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::gate::Decision;
pub use retry::Backoff;

/// What to ask the gate.
#[derive(Debug, Clone)]
pub struct GateCall {
    /// Registered dataset.
    pub dataset: String,
    /// Ruleset name.
    pub ruleset: String,
    /// A pinned ruleset version (default: the latest).
    pub ruleset_version: Option<i64>,
    /// Pipeline stage.
    pub stage: String,
    /// The idempotency key, the same on every attempt.
    pub run_id: String,
    /// Caller parameters (slices, snapshots).
    pub parameters: serde_json::Map<String, Value>,
    /// Other registered datasets by the alias rules use.
    pub aliases: BTreeMap<String, String>,
    /// Let the server hold the request until the decision (`true`), or
    /// have it answer 202 at once and poll.
    pub wait: bool,
}

impl GateCall {
    fn body(&self) -> Value {
        let mut body = serde_json::json!({
            "dataset": self.dataset,
            "ruleset": self.ruleset,
            "stage": self.stage,
            "run_id": self.run_id,
            "parameters": self.parameters,
            "aliases": self.aliases,
            "wait": self.wait,
        });
        if let Some(v) = self.ruleset_version {
            body["ruleset_version"] = Value::from(v);
        }
        body
    }
}

/// A finished run: its decision and the run as the server serves it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// pass, warn, fail or error.
    pub decision: Decision,
    /// The run (`GET /v1/runs/{id}`'s body).
    pub run: Value,
}

/// What the client is doing, for a caller that shows progress.
#[derive(Debug, Clone)]
pub enum Progress {
    /// An attempt failed transiently; the next one follows after `delay`.
    Retrying {
        /// Attempts made so far.
        attempt: u32,
        /// The wait before the next one.
        delay: Duration,
        /// Why the attempt failed.
        reason: String,
    },
    /// The server accepted the run and the client polls it.
    Accepted {
        /// The server's run id.
        run: String,
    },
}

/// Why the gate could not answer a decision.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL or token is unusable.
    #[error("{0}")]
    Usage(String),
    /// No answer from the server after every retry.
    #[error(
        "cannot reach the dqgate server at {server} ({attempts} attempts over {:.1} s): {reason}",
        waited.as_secs_f64()
    )]
    Unreachable {
        /// The server's base URL.
        server: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        waited: Duration,
        /// The last failure.
        reason: String,
    },
    /// The server kept answering 5xx or 429 after every retry.
    #[error("the server kept failing after {attempts} attempts: HTTP {status}: {detail}")]
    ServerFailing {
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The server's explanation.
        detail: String,
    },
    /// The server refused the request (4xx); retrying will not help.
    #[error("the server refused the request: HTTP {status} {code}: {detail}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The problem's machine code, e.g. `dataset_not_found`.
        code: String,
        /// The problem's detail.
        detail: String,
    },
    /// The run did not end within the client's time limit.
    #[error(
        "timed out after {:.0} s waiting for {}; {}",
        waited.as_secs_f64(),
        run.as_deref().map_or("the server's answer".to_string(), |r| format!("run {r}")),
        if run.is_some() { "the run goes on on the server: retry with the same --run-id to get its decision" } else { "retry with the same --run-id" }
    )]
    TimedOut {
        /// Time waited.
        waited: Duration,
        /// The server's run id, when the server had accepted the run.
        run: Option<String>,
    },
    /// The server answered something that is not a gate answer.
    #[error("unexpected answer from the server: {0}")]
    BadAnswer(String),
}

impl ClientError {
    /// A stable name of the kind of failure (JSON output).
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Usage(_) => "usage",
            ClientError::Unreachable { .. } => "unreachable",
            ClientError::ServerFailing { .. } => "server_error",
            ClientError::Refused { .. } => "refused",
            ClientError::TimedOut { .. } => "timeout",
            ClientError::BadAnswer(_) => "bad_answer",
        }
    }
}

/// A gate client for one server and token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    backoff: Backoff,
}

/// One attempt's failure: retry it or give up.
enum Failure {
    /// Worth another attempt (`retry_after` from the server, if any).
    Transient {
        reason: String,
        status: Option<u16>,
        retry_after: Option<Duration>,
    },
    /// Final.
    Final(ClientError),
}

impl Client {
    /// A client of the server at `server` (`http://host:port`, optionally
    /// with a path prefix) using bearer `token`; transient failures are
    /// retried as `backoff` says.
    pub fn new(server: &str, token: &str, backoff: Backoff) -> Result<Client, ClientError> {
        let url = url::Url::parse(server).map_err(|e| {
            ClientError::Usage(format!(
                "--server must be a URL such as http://127.0.0.1:8080; got `{server}`: {e}"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ClientError::Usage(format!(
                "--server must be an http:// or https:// URL; got `{server}`"
            )));
        }
        if token.trim().is_empty() {
            return Err(ClientError::Usage(
                "no token: pass --token or set DQGATE_TOKEN".to_string(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ClientError::Usage(format!("cannot set up HTTP: {}", chain(&e))))?;
        Ok(Client {
            http,
            base: server.trim_end_matches('/').to_string(),
            token: token.to_string(),
            backoff,
        })
    }

    /// Asks the gate and waits for the run to end, at most until
    /// `deadline`.
    pub async fn gate(
        &self,
        call: &GateCall,
        deadline: Instant,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Answer, ClientError> {
        let started = Instant::now();
        let url = format!("{}/v1/gate", self.base);
        let body = call.body();
        let (status, run) = self
            .with_retries(started, deadline, None, progress, |remaining| {
                self.http
                    .post(&url)
                    .bearer_auth(&self.token)
                    .json(&body)
                    .timeout(remaining)
            })
            .await?;
        if let Some(answer) = finished(&run)? {
            return Ok(answer);
        }
        if status != 202 && status != 200 {
            return Err(ClientError::BadAnswer(format!("HTTP {status}")));
        }
        let id = run
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ClientError::BadAnswer("the run has no id".to_string()))?
            .to_string();
        progress(Progress::Accepted { run: id.clone() });
        self.poll(&id, started, deadline, progress).await
    }

    /// Polls the run until it ends: every half second at first, backing
    /// off to every few seconds.
    async fn poll(
        &self,
        id: &str,
        started: Instant,
        deadline: Instant,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Answer, ClientError> {
        let url = format!("{}/v1/runs/{}", self.base, encode_segment(id));
        let mut interval = Duration::from_millis(500);
        loop {
            let now = Instant::now();
            if now + interval >= deadline {
                return Err(ClientError::TimedOut {
                    waited: started.elapsed(),
                    run: Some(id.to_string()),
                });
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(self.backoff.poll_cap);
            let (_, run) = self
                .with_retries(started, deadline, Some(id), progress, |remaining| {
                    self.http
                        .get(&url)
                        .bearer_auth(&self.token)
                        .timeout(remaining.min(Duration::from_secs(30)))
                })
                .await?;
            if let Some(answer) = finished(&run)? {
                return Ok(answer);
            }
        }
    }

    /// Sends the request `make` builds (given the time left) until it is
    /// answered with 2xx, a final failure, or the retries or the deadline
    /// run out.
    async fn with_retries(
        &self,
        started: Instant,
        deadline: Instant,
        run: Option<&str>,
        progress: &mut dyn FnMut(Progress),
        make: impl Fn(Duration) -> reqwest::RequestBuilder,
    ) -> Result<(u16, Value), ClientError> {
        let timed_out = || ClientError::TimedOut {
            waited: started.elapsed(),
            run: run.map(str::to_string),
        };
        let mut attempt = 0u32;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(timed_out());
            }
            attempt += 1;
            let failure = match make(remaining).send().await {
                Ok(response) => match read(response).await {
                    Ok(done) => return Ok(done),
                    Err(f) => f,
                },
                Err(e) if e.is_timeout() && Instant::now() >= deadline => return Err(timed_out()),
                Err(e) => Failure::Transient {
                    reason: chain(&e),
                    status: None,
                    retry_after: None,
                },
            };
            let (reason, status, retry_after) = match failure {
                Failure::Final(e) => return Err(e),
                Failure::Transient {
                    reason,
                    status,
                    retry_after,
                } => (reason, status, retry_after),
            };
            let delay = match self.backoff.delay(attempt) {
                Some(d) => retry_after.map_or(d, |r| r.min(self.backoff.cap).max(d)),
                None => {
                    return Err(match status {
                        Some(status) => ClientError::ServerFailing {
                            status,
                            attempts: attempt,
                            detail: reason,
                        },
                        None => ClientError::Unreachable {
                            server: self.base.clone(),
                            attempts: attempt,
                            waited: started.elapsed(),
                            reason,
                        },
                    });
                }
            };
            if Instant::now() + delay >= deadline {
                return Err(match status {
                    None if run.is_none() => ClientError::Unreachable {
                        server: self.base.clone(),
                        attempts: attempt,
                        waited: started.elapsed(),
                        reason: format!("{reason}; the time limit leaves no room for a retry"),
                    },
                    _ => timed_out(),
                });
            }
            progress(Progress::Retrying {
                attempt,
                delay,
                reason,
            });
            tokio::time::sleep(delay).await;
        }
    }
}

/// The answer of a response: its JSON body on 2xx; 5xx and 429 are
/// transient, other statuses final.
async fn read(response: reqwest::Response) -> Result<(u16, Value), Failure> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let bytes = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return Err(Failure::Transient {
                reason: format!("the answer broke off: {}", chain(&e)),
                status: None,
                retry_after: None,
            });
        }
    };
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    if (200..300).contains(&status) {
        return body.map(|b| (status, b)).ok_or_else(|| {
            Failure::Final(ClientError::BadAnswer(format!(
                "HTTP {status} with a body that is not JSON"
            )))
        });
    }
    let field = |k: &str| {
        body.as_ref()
            .and_then(|b| b.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let detail = field("detail").unwrap_or_else(|| {
        let text = String::from_utf8_lossy(&bytes);
        let line = text.lines().next().unwrap_or_default();
        line.chars().take(200).collect()
    });
    if status >= 500 || status == 429 {
        return Err(Failure::Transient {
            reason: format!("HTTP {status}: {detail}"),
            status: Some(status),
            retry_after,
        });
    }
    let code = field("code").unwrap_or_else(|| match status {
        401 => "unauthorized".to_string(),
        403 => "forbidden".to_string(),
        404 => "not_found".to_string(),
        _ => "client_error".to_string(),
    });
    Err(Failure::Final(ClientError::Refused {
        status,
        code,
        detail,
    }))
}

/// The answer when `run` has a decision; `None` while it is unfinished.
fn finished(run: &Value) -> Result<Option<Answer>, ClientError> {
    match run.get("decision") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(d)) => {
            let decision = d
                .parse::<Decision>()
                .map_err(|e| ClientError::BadAnswer(e.to_string()))?;
            Ok(Some(Answer {
                decision,
                run: run.clone(),
            }))
        }
        Some(other) => Err(ClientError::BadAnswer(format!(
            "decision is not a string: {other}"
        ))),
    }
}

/// An error and its causes on one line, repeated parts left out
/// ("error sending request: client error (Connect): tcp connect error:
/// Connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// A path segment with everything but unreserved characters
/// percent-encoded.
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A run id for a caller that gave none: `dqgate-` and 128 random bits,
/// made once per invocation so every retry carries it.
pub fn new_run_id() -> Result<String, ClientError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| ClientError::Usage(format!("cannot make a run id: {e}")))?;
    Ok(format!(
        "dqgate-{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("a-b_c.d"), "a-b_c.d");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn an_unfinished_run_has_no_answer() {
        let run = serde_json::json!({"id": "x", "status": "running", "decision": null});
        assert!(finished(&run).expect("valid").is_none());
        let done = serde_json::json!({"id": "x", "status": "done", "decision": "warn"});
        assert_eq!(
            finished(&done).expect("valid").map(|a| a.decision),
            Some(Decision::Warn)
        );
        assert!(finished(&serde_json::json!({"decision": "maybe"})).is_err());
    }

    #[test]
    fn generated_run_ids_differ() {
        let a = new_run_id().expect("id");
        assert!(a.starts_with("dqgate-") && a.len() == 39, "{a}");
        assert_ne!(a, new_run_id().expect("id"));
    }
}
