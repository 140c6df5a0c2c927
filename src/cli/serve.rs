//! `dqgate serve` and `dqgate token create`.

use std::path::PathBuf;
use std::process::ExitCode;

use dqgate::api::{self, AppState, auth};
use dqgate::config::{FileConfig, Overrides, ServeConfig};
use dqgate::console::{self, ConsoleSettings};
use dqgate::source::Confinement;
use dqgate::store::Store;
use dqgate::telemetry::{self, LogFormat};

/// Where the store is: shared by `serve` and `token`.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Configuration file (default: ./dqgate.toml when it exists).
    #[arg(long, env = "DQGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the embedded SQLite store [default: dqgate-data].
    #[arg(long, env = "DQGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL, sqlite://PATH or postgres://USER@HOST/DB [default: SQLite under --data-dir].
    #[arg(long, env = "DQGATE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Options of `dqgate serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "DQGATE_LISTEN")]
    pub listen: Option<String>,
    /// Bootstrap admin token, accepted from the first start.
    #[arg(long, env = "DQGATE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Largest request body: bytes or a size such as 4MiB [default: 1MiB].
    #[arg(long, env = "DQGATE_MAX_BODY_BYTES", value_parser = super::check::parse_bytes)]
    pub max_body_bytes: Option<usize>,
    /// Evaluations running at once [default: 2].
    #[arg(long, env = "DQGATE_MAX_CONCURRENT_EVALUATIONS")]
    pub max_concurrent_evaluations: Option<usize>,
    /// Evaluations accepted (running or waiting) before 429 [default: 64].
    #[arg(long, env = "DQGATE_MAX_QUEUED_EVALUATIONS")]
    pub max_queued_evaluations: Option<usize>,
    /// Longest evaluation in seconds before it ends as an error [default: 3600].
    #[arg(long, env = "DQGATE_EVAL_TIMEOUT_SECS")]
    pub eval_timeout_secs: Option<u64>,
    /// Largest ruleset text: bytes or a size such as 512KiB [default: 512KiB].
    #[arg(long, env = "DQGATE_MAX_RULESET_BYTES", value_parser = super::check::parse_bytes)]
    pub max_ruleset_bytes: Option<usize>,
    /// How long SIGTERM waits for running evaluations, in seconds [default: 30].
    #[arg(long, env = "DQGATE_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Memory one evaluation or profile may hold: bytes or a size such as
    /// 4GiB; 0 is unlimited [default: 2GiB].
    #[arg(long, env = "DQGATE_EVAL_MEMORY_LIMIT", value_parser = super::check::parse_bytes)]
    pub eval_memory_limit: Option<usize>,
    /// Most rules in a ruleset (composite operands and analyzers count); more is a 422 [default: 2000].
    #[arg(long, env = "DQGATE_MAX_RULES_PER_RULESET")]
    pub max_rules_per_ruleset: Option<usize>,
    /// Where evaluations run: `local` (this process) or df://HOST[:PORT],
    /// an Apache DataFusion Ballista scheduler (needs the `distributed`
    /// build feature) [default: local].
    #[arg(long, env = "DQGATE_ENGINE")]
    pub engine: Option<dqgate::engine::Engine>,
    /// Seconds a request head may take from its first byte [default: 10].
    #[arg(long, env = "DQGATE_HEADER_TIMEOUT_SECS")]
    pub header_timeout_secs: Option<u64>,
    /// Seconds a connection may stay quiet between requests [default: 60].
    #[arg(long, env = "DQGATE_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Seconds a request body may take [default: 30].
    #[arg(long, env = "DQGATE_BODY_TIMEOUT_SECS")]
    pub body_timeout_secs: Option<u64>,
    /// Most open connections; more wait in the listen backlog [default: 1024].
    #[arg(long, env = "DQGATE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Log format [default: pretty].
    #[arg(long, env = "DQGATE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Longest wait for a database connection in milliseconds; past it a
    /// request answers 503 with Retry-After [default: 3000].
    #[arg(long, env = "DQGATE_STORE_ACQUIRE_TIMEOUT_MS")]
    pub store_acquire_timeout_ms: Option<u64>,
    /// Local folders datasets and File rules may read, comma-separated
    /// (never the data directory) [default: .,dqgate-demo].
    #[arg(long, env = "DQGATE_ALLOWED_PATHS", value_delimiter = ',')]
    pub allowed_paths: Option<Vec<PathBuf>>,
    /// Endpoints (URLs or HOST[:PORT]) datasets may connect to besides AWS
    /// and DQGATE_S3_ENDPOINT, comma-separated [default: none].
    #[arg(long, env = "DQGATE_ALLOWED_ENDPOINTS", value_delimiter = ',')]
    pub allowed_endpoints: Option<Vec<String>>,
    /// How long a console sign-in lasts, in seconds [default: 43200].
    #[arg(long, env = "DQGATE_SESSION_TTL_SECS")]
    pub session_ttl_secs: Option<u64>,
    /// Delete finished runs (with their results, metrics and failing-row
    /// samples) older than this many days, checked hourly; this shortens
    /// the history DetectAnomalies and dynamic rules read [default: keep forever].
    #[arg(long, env = "DQGATE_RETENTION_DAYS")]
    pub retention_days: Option<u32>,
}

fn resolve(store: &StoreArgs, overrides: Overrides) -> Result<ServeConfig, String> {
    let file = FileConfig::load(store.config.as_deref()).map_err(|e| e.to_string())?;
    ServeConfig::resolve(overrides, file).map_err(|e| e.to_string())
}

pub fn serve(args: ServeArgs) -> ExitCode {
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.store.data_dir.clone(),
        database_url: args.store.database_url.clone(),
        admin_token: args.admin_token,
        max_body_bytes: args.max_body_bytes,
        max_ruleset_bytes: args.max_ruleset_bytes,
        shutdown_grace_secs: args.shutdown_grace_secs,
        max_concurrent_evaluations: args.max_concurrent_evaluations,
        max_queued_evaluations: args.max_queued_evaluations,
        eval_timeout_secs: args.eval_timeout_secs,
        eval_memory_limit: args.eval_memory_limit,
        max_rules_per_ruleset: args.max_rules_per_ruleset,
        engine: args.engine,
        header_timeout_secs: args.header_timeout_secs,
        idle_timeout_secs: args.idle_timeout_secs,
        body_timeout_secs: args.body_timeout_secs,
        max_connections: args.max_connections,
        log_format: args.log_format,
        store_acquire_timeout_ms: args.store_acquire_timeout_ms,
        allowed_paths: args.allowed_paths,
        allowed_endpoints: args.allowed_endpoints,
        session_ttl_secs: args.session_ttl_secs,
        retention_days: args.retention_days,
    };
    let result = resolve(&args.store, overrides)
        .and_then(|config| super::runtime()?.block_on(run_server(config)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", dqgate::source::redact::secrets(&e));
            ExitCode::FAILURE
        }
    }
}

async fn run_server(config: ServeConfig) -> Result<(), String> {
    let _telemetry = telemetry::init(config.log_format).map_err(|e| e.to_string())?;
    let store = Store::connect_with(&config.database_url, &config.store)
        .await
        .map_err(|e| e.to_string())?;
    let interrupted = dqgate::runs::recover(&store)
        .await
        .map_err(|e| e.to_string())?;
    if interrupted > 0 {
        tracing::warn!(
            runs = interrupted,
            "marked runs left unfinished by an earlier process as interrupted"
        );
    }
    // Zero setup: with no admin token at all, make one and print it once.
    let first_admin = if config.admin_token.is_none()
        && !store.has_admin_token().await.map_err(|e| e.to_string())?
    {
        Some(create_first_admin(&store).await?)
    } else {
        None
    };
    let confinement = Confinement::new(
        &config.allowed_paths,
        &config.denied_paths(),
        &config.allowed_endpoints,
    )
    .map_err(|e| e.to_string())?;
    let state = AppState::new(
        store.clone(),
        config.limits.clone(),
        config.admin_token.as_deref(),
    )
    .with_confinement(confinement);
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%address, database = ?store.backend(), "dqgate serving");
    eprintln!("dqgate listening on http://{address}");
    match first_admin {
        Some((name, token)) if console::BUILT => eprintln!(
            "\n    Console: http://{address}/\n    Sign in with the admin token `{name}` (shown only now; only its hash is stored):\n\n        {token}\n"
        ),
        Some((name, token)) => eprintln!(
            "\n    Admin token `{name}` (shown only now; only its hash is stored):\n\n        {token}\n\n    (built without the `console` feature: no console pages)\n"
        ),
        None if console::BUILT => eprintln!("console: http://{address}/"),
        None => eprintln!("console: not built in (the `console` feature)"),
    }
    let pruning = config.retention_days.map(|days| {
        tracing::info!(
            retention_days = days,
            "pruning finished runs older than the retention"
        );
        dqgate::runs::retention::spawn(store.clone(), days, dqgate::runs::retention::PRUNE_EVERY)
    });
    let settings = ConsoleSettings {
        session_ttl: config.session_ttl,
    };
    api::serve(
        listener,
        console::app(state.clone(), settings),
        config.http.clone(),
        shutdown_signal(),
        config.shutdown_grace,
    )
    .await;
    if let Some(task) = pruning {
        task.abort();
    }
    tracing::info!(
        in_flight = state.runs.in_flight(),
        "shutting down; finishing evaluations"
    );
    let n = state
        .runs
        .shut_down(config.shutdown_grace)
        .await
        .map_err(|e| e.to_string())?;
    if n > 0 {
        tracing::warn!(runs = n, "marked unfinished runs as interrupted");
    }
    Ok(())
}

/// Creates the first admin token (named `admin`, or `admin-N` when that
/// name is taken by another role) and returns its name and secret.
async fn create_first_admin(store: &Store) -> Result<(String, String), String> {
    let token = auth::new_token().map_err(|e| format!("cannot draw a random token: {e}"))?;
    let hash = auth::hash_token(&token);
    for n in 1..=100 {
        let name = if n == 1 {
            "admin".to_string()
        } else {
            format!("admin-{n}")
        };
        if store
            .create_token(&name, auth::Role::Admin.as_str(), &hash)
            .await
            .map_err(|e| e.to_string())?
        {
            tracing::info!(token = %name, "created the first admin token");
            return Ok((name, token));
        }
    }
    Err("cannot name the first admin token: admin … admin-100 are taken".to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// `dqgate token create`: prints a new token once; stores only its hash.
pub fn create_token(store_args: StoreArgs, role: auth::Role, name: String) -> ExitCode {
    let result = resolve(
        &store_args,
        Overrides {
            data_dir: store_args.data_dir.clone(),
            database_url: store_args.database_url.clone(),
            ..Overrides::default()
        },
    )
    .and_then(|config| {
        let name = name.clone();
        super::runtime()?.block_on(async move {
            let store = Store::connect_with(&config.database_url, &config.store)
                .await
                .map_err(|e| e.to_string())?;
            let token =
                auth::new_token().map_err(|e| format!("cannot draw a random token: {e}"))?;
            if !store
                .create_token(&name, role.as_str(), &auth::hash_token(&token))
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("a token named `{name}` exists already"));
            }
            Ok(token)
        })
    });
    match result {
        Ok(token) => {
            outln!("{token}");
            eprintln!(
                "token `{name}` ({}) created; it is shown only now",
                role.as_str()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
