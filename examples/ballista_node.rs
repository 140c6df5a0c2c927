//! One Apache DataFusion Ballista 53 node, scheduler or executor, built
//! from Ballista's own crates with the object-store settings its stock
//! binaries use (`s3.*` session options): a cluster on one machine for
//! trying `dqgate check --engine df://…` and for the distributed tests.
//! A production cluster runs Ballista's released scheduler and executor
//! instead (README, "Scale-out").
//!
//! ```text
//! cargo run --features distributed --example ballista_node -- scheduler 50050
//! cargo run --features distributed --example ballista_node -- executor 50051 50050
//! ```
//!
//! Both run pull-staged: executors ask the scheduler for work, so tasks of
//! an executor that died are picked up again by the others (with Ballista
//! 53's default, push-staged, the scheduler resets them but offers them to
//! no one until another event, and the job waits).
//!
//! Tuning by environment: `BALLISTA_EXECUTOR_TIMEOUT_SECS` (scheduler:
//! how long an executor may stay silent before its tasks are rerun
//! elsewhere, default 180), `BALLISTA_HEARTBEAT_SECS` (executor, default
//! 60), `BALLISTA_CONCURRENT_TASKS` (executor, default: the cores).

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::object_store::{
    runtime_env_with_s3_support, session_config_with_s3_support, session_state_with_s3_support,
};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

const USAGE: &str = "usage: ballista_node scheduler PORT | executor PORT SCHEDULER_PORT";

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn port(text: Option<&String>) -> Result<u16, String> {
    text.ok_or(USAGE)?
        .parse()
        .map_err(|e| format!("bad port: {e}\n{USAGE}"))
}

async fn scheduler(port: u16) -> Result<(), String> {
    let mut config = SchedulerConfig::default()
        .with_hostname("127.0.0.1")
        .with_port(port)
        .with_override_config_producer(Arc::new(session_config_with_s3_support))
        .with_override_session_builder(Arc::new(session_state_with_s3_support))
        .with_scheduler_policy(TaskSchedulingPolicy::PullStaged);
    if let Some(secs) = env_number("BALLISTA_EXECUTOR_TIMEOUT_SECS") {
        config.executor_timeout_seconds = secs;
        config.expire_dead_executor_interval_seconds = 1;
    }
    let cluster = BallistaCluster::new_memory(
        config.scheduler_name(),
        Arc::new(session_state_with_s3_support),
        Arc::new(session_config_with_s3_support),
    );
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    start_server(cluster, address, Arc::new(config))
        .await
        .map_err(|e| e.to_string())
}

async fn executor(port: u16, scheduler_port: u16) -> Result<(), String> {
    let work_dir = std::env::temp_dir().join(format!("ballista-executor-{port}"));
    std::fs::create_dir_all(&work_dir).map_err(|e| e.to_string())?;
    let defaults = ExecutorProcessConfig::default();
    let config = ExecutorProcessConfig {
        bind_host: "127.0.0.1".into(),
        external_host: Some("127.0.0.1".into()),
        port,
        grpc_port: port.checked_add(1).ok_or("executor port too high")?,
        scheduler_host: "127.0.0.1".into(),
        scheduler_port,
        scheduler_connect_timeout_seconds: 10,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        concurrent_tasks: env_number("BALLISTA_CONCURRENT_TASKS")
            .map_or(defaults.concurrent_tasks, |n| n as usize),
        work_dir: Some(work_dir.display().to_string()),
        executor_heartbeat_interval_seconds: env_number("BALLISTA_HEARTBEAT_SECS")
            .unwrap_or(defaults.executor_heartbeat_interval_seconds),
        override_config_producer: Some(Arc::new(session_config_with_s3_support)),
        override_runtime_producer: Some(Arc::new(runtime_env_with_s3_support)),
        ..defaults
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("scheduler") => match port(args.get(1)) {
            Ok(p) => scheduler(p).await,
            Err(e) => Err(e),
        },
        Some("executor") => match (port(args.get(1)), port(args.get(2))) {
            (Ok(p), Ok(s)) => executor(p, s).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ballista_node: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
