//! Service configuration, layered: built-in defaults < `dqgate.toml` <
//! `DQGATE_*` environment < command-line flags (the last two by clap).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::api::{HttpLimits, Limits};
use crate::store::StoreOptions;
use crate::telemetry::LogFormat;

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for dqgate.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range.
    #[error("{0}")]
    Invalid(String),
}

/// Settings from `dqgate.toml` (every key optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    pub listen: Option<String>,
    /// Directory of the embedded SQLite store.
    pub data_dir: Option<PathBuf>,
    /// `sqlite://...` or `postgres://...`.
    pub database_url: Option<String>,
    /// Bootstrap admin token.
    pub admin_token: Option<String>,
    /// Largest request body in bytes.
    pub max_body_bytes: Option<usize>,
    /// Largest ruleset in bytes.
    pub max_ruleset_bytes: Option<usize>,
    /// Evaluations running at once.
    pub max_concurrent_evaluations: Option<usize>,
    /// Evaluations accepted before 429.
    pub max_queued_evaluations: Option<usize>,
    /// Longest evaluation in seconds.
    pub eval_timeout_secs: Option<u64>,
    /// Memory one evaluation may hold, in bytes (0: unlimited).
    pub eval_memory_limit: Option<usize>,
    /// Most rules in a ruleset.
    pub max_rules_per_ruleset: Option<usize>,
    /// Where evaluations run: `local` or `df://HOST:PORT` (a Ballista
    /// scheduler).
    pub engine: Option<String>,
    /// Longest wait for a request head, in seconds.
    pub header_timeout_secs: Option<u64>,
    /// Longest quiet spell of a keep-alive connection, in seconds.
    pub idle_timeout_secs: Option<u64>,
    /// Longest wait for a request body, in seconds.
    pub body_timeout_secs: Option<u64>,
    /// Most open connections.
    pub max_connections: Option<usize>,
    /// How long shutdown waits for evaluations, in seconds.
    pub shutdown_grace_secs: Option<u64>,
    /// `pretty` or `json`.
    pub log_format: Option<LogFormat>,
    /// Longest wait for a database connection, in milliseconds.
    pub store_acquire_timeout_ms: Option<u64>,
    /// Local folders datasets and File rules may read.
    pub allowed_paths: Option<Vec<PathBuf>>,
    /// Endpoints (URLs or `HOST[:PORT]`) datasets may connect to.
    pub allowed_endpoints: Option<Vec<String>>,
    /// How long a console sign-in lasts, in seconds.
    pub session_ttl_secs: Option<u64>,
    /// Days finished runs are kept (unset: forever).
    pub retention_days: Option<u32>,
}

impl FileConfig {
    /// Reads `path`, or `./dqgate.toml` when `path` is `None` and it exists.
    pub fn load(path: Option<&Path>) -> Result<FileConfig, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => {
                let default = PathBuf::from("dqgate.toml");
                if !default.exists() {
                    return Ok(FileConfig::default());
                }
                default
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

/// The resolved service configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: String,
    /// Directory of the embedded store.
    pub data_dir: PathBuf,
    /// The database URL in use.
    pub database_url: String,
    /// Bootstrap admin token.
    pub admin_token: Option<String>,
    /// Limits.
    pub limits: Limits,
    /// Connection timeouts and cap.
    pub http: HttpLimits,
    /// How long shutdown waits for evaluations.
    pub shutdown_grace: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// How the store's connections are managed.
    pub store: StoreOptions,
    /// Local folders datasets and File rules may read.
    pub allowed_paths: Vec<PathBuf>,
    /// Endpoints datasets may connect to besides AWS and `DQGATE_S3_ENDPOINT`.
    pub allowed_endpoints: Vec<String>,
    /// How long a console sign-in lasts.
    pub session_ttl: Duration,
    /// Days finished runs are kept; `None` keeps them forever.
    pub retention_days: Option<u32>,
}

/// Values given on the command line or in the environment (they win).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `DQGATE_LISTEN`.
    pub listen: Option<String>,
    /// `--data-dir` / `DQGATE_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url` / `DQGATE_DATABASE_URL`.
    pub database_url: Option<String>,
    /// `DQGATE_ADMIN_TOKEN`.
    pub admin_token: Option<String>,
    /// `--max-body-bytes` / `DQGATE_MAX_BODY_BYTES`.
    pub max_body_bytes: Option<usize>,
    /// `--max-ruleset-bytes` / `DQGATE_MAX_RULESET_BYTES`.
    pub max_ruleset_bytes: Option<usize>,
    /// `--shutdown-grace-secs` / `DQGATE_SHUTDOWN_GRACE_SECS`.
    pub shutdown_grace_secs: Option<u64>,
    /// `--max-concurrent-evaluations`.
    pub max_concurrent_evaluations: Option<usize>,
    /// `--max-queued-evaluations`.
    pub max_queued_evaluations: Option<usize>,
    /// `--eval-timeout-secs`.
    pub eval_timeout_secs: Option<u64>,
    /// `--eval-memory-limit`.
    pub eval_memory_limit: Option<usize>,
    /// `--max-rules-per-ruleset`.
    pub max_rules_per_ruleset: Option<usize>,
    /// `--engine` / `DQGATE_ENGINE`.
    pub engine: Option<crate::engine::Engine>,
    /// `--header-timeout-secs`.
    pub header_timeout_secs: Option<u64>,
    /// `--idle-timeout-secs`.
    pub idle_timeout_secs: Option<u64>,
    /// `--body-timeout-secs`.
    pub body_timeout_secs: Option<u64>,
    /// `--max-connections`.
    pub max_connections: Option<usize>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
    /// `--store-acquire-timeout-ms`.
    pub store_acquire_timeout_ms: Option<u64>,
    /// `--allowed-paths` / `DQGATE_ALLOWED_PATHS`.
    pub allowed_paths: Option<Vec<PathBuf>>,
    /// `--allowed-endpoints` / `DQGATE_ALLOWED_ENDPOINTS`.
    pub allowed_endpoints: Option<Vec<String>>,
    /// `--session-ttl-secs` / `DQGATE_SESSION_TTL_SECS`.
    pub session_ttl_secs: Option<u64>,
    /// `--retention-days` / `DQGATE_RETENTION_DAYS`.
    pub retention_days: Option<u32>,
}

impl ServeConfig {
    /// Layers overrides over the file over the defaults.
    pub fn resolve(o: Overrides, file: FileConfig) -> Result<ServeConfig, ConfigError> {
        let defaults = Limits::default();
        let data_dir = o
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("dqgate-data"));
        let database_url = match o
            .database_url
            .or(file.database_url)
            .filter(|u| !u.is_empty())
        {
            Some(u) => u,
            None => crate::store::Store::sqlite_url(&data_dir)
                .map_err(|e| ConfigError::Invalid(e.to_string()))?,
        };
        let limits = Limits {
            max_body_bytes: o
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(defaults.max_body_bytes),
            max_ruleset_bytes: o
                .max_ruleset_bytes
                .or(file.max_ruleset_bytes)
                .unwrap_or(defaults.max_ruleset_bytes),
            max_concurrent_evaluations: o
                .max_concurrent_evaluations
                .or(file.max_concurrent_evaluations)
                .unwrap_or(defaults.max_concurrent_evaluations),
            max_queued_evaluations: o
                .max_queued_evaluations
                .or(file.max_queued_evaluations)
                .unwrap_or(defaults.max_queued_evaluations),
            eval_timeout: o
                .eval_timeout_secs
                .or(file.eval_timeout_secs)
                .map_or(defaults.eval_timeout, Duration::from_secs),
            eval_memory_limit: match o.eval_memory_limit.or(file.eval_memory_limit) {
                Some(0) => None,
                Some(bytes) => Some(bytes),
                None => defaults.eval_memory_limit,
            },
            max_rules_per_ruleset: o
                .max_rules_per_ruleset
                .or(file.max_rules_per_ruleset)
                .unwrap_or(defaults.max_rules_per_ruleset),
            engine: match (o.engine, file.engine) {
                (Some(engine), _) => engine,
                (None, Some(text)) => {
                    text.parse().map_err(|e: crate::engine::EngineParseError| {
                        ConfigError::Invalid(format!("engine: {e}"))
                    })?
                }
                (None, None) => defaults.engine,
            },
        };
        let http_defaults = HttpLimits::default();
        let secs = |flag: Option<u64>, file: Option<u64>, default: Duration| {
            flag.or(file).map_or(default, Duration::from_secs)
        };
        let http = HttpLimits {
            header_timeout: secs(
                o.header_timeout_secs,
                file.header_timeout_secs,
                http_defaults.header_timeout,
            ),
            idle_timeout: secs(
                o.idle_timeout_secs,
                file.idle_timeout_secs,
                http_defaults.idle_timeout,
            ),
            body_timeout: secs(
                o.body_timeout_secs,
                file.body_timeout_secs,
                http_defaults.body_timeout,
            ),
            max_connections: o
                .max_connections
                .or(file.max_connections)
                .unwrap_or(http_defaults.max_connections),
        };
        if http.max_connections == 0
            || http.header_timeout.is_zero()
            || http.idle_timeout.is_zero()
            || http.body_timeout.is_zero()
        {
            return Err(ConfigError::Invalid(
                "max_connections and the HTTP timeouts must be at least 1".to_string(),
            ));
        }
        if limits.max_concurrent_evaluations == 0 || limits.max_queued_evaluations == 0 {
            return Err(ConfigError::Invalid(
                "max_concurrent_evaluations and max_queued_evaluations must be at least 1"
                    .to_string(),
            ));
        }
        let store = StoreOptions {
            acquire_timeout: o
                .store_acquire_timeout_ms
                .or(file.store_acquire_timeout_ms)
                .map_or(
                    StoreOptions::default().acquire_timeout,
                    Duration::from_millis,
                ),
        };
        if store.acquire_timeout.is_zero() {
            return Err(ConfigError::Invalid(
                "store_acquire_timeout_ms must be at least 1".to_string(),
            ));
        }
        let session_ttl = Duration::from_secs(
            o.session_ttl_secs
                .or(file.session_ttl_secs)
                .unwrap_or(12 * 3600),
        );
        if session_ttl < Duration::from_secs(60) {
            return Err(ConfigError::Invalid(
                "session_ttl_secs must be at least 60".to_string(),
            ));
        }
        let retention_days = o.retention_days.or(file.retention_days);
        if retention_days == Some(0) {
            return Err(ConfigError::Invalid(
                "retention_days must be at least 1 (leave it unset to keep runs forever)"
                    .to_string(),
            ));
        }
        Ok(ServeConfig {
            session_ttl,
            retention_days,
            listen: o
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".to_string()),
            data_dir,
            database_url,
            admin_token: o.admin_token.or(file.admin_token).filter(|t| !t.is_empty()),
            limits,
            http,
            shutdown_grace: Duration::from_secs(
                o.shutdown_grace_secs
                    .or(file.shutdown_grace_secs)
                    .unwrap_or(30),
            ),
            log_format: o
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Pretty),
            store,
            allowed_paths: o
                .allowed_paths
                .or(file.allowed_paths)
                .unwrap_or_else(|| vec![PathBuf::from("."), PathBuf::from("dqgate-demo")]),
            allowed_endpoints: o
                .allowed_endpoints
                .or(file.allowed_endpoints)
                .unwrap_or_default(),
        })
    }

    /// What evaluations may never read, even under an allowed path: the
    /// data directory and the SQLite store's files.
    pub fn denied_paths(&self) -> Vec<PathBuf> {
        let mut denied = vec![self.data_dir.clone()];
        if let Some(rest) = self.database_url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let db = PathBuf::from(path.split_once('?').map_or(path, |(p, _)| p));
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut name = db.clone().into_os_string();
                name.push(suffix);
                denied.push(PathBuf::from(name));
            }
        }
        denied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_environment_beat_the_file_which_beats_defaults() {
        let file: FileConfig = toml::from_str(
            "listen = \"0.0.0.0:9000\"\nmax_queued_evaluations = 7\neval_timeout_secs = 60\ndatabase_url = \"postgres://db/x\"\nlog_format = \"json\"",
        )
        .expect("valid file");
        let resolved = ServeConfig::resolve(
            Overrides {
                listen: Some("127.0.0.1:1234".into()),
                ..Overrides::default()
            },
            file,
        )
        .expect("resolves");
        assert_eq!(resolved.listen, "127.0.0.1:1234", "the override wins");
        assert_eq!(
            resolved.limits.max_queued_evaluations, 7,
            "the file beats the default"
        );
        assert_eq!(resolved.limits.eval_timeout, Duration::from_secs(60));
        assert_eq!(resolved.database_url, "postgres://db/x");
        assert_eq!(resolved.log_format, LogFormat::Json);
        assert_eq!(resolved.limits.max_concurrent_evaluations, 2, "default");
        assert_eq!(
            resolved.allowed_paths,
            vec![PathBuf::from("."), PathBuf::from("dqgate-demo")],
            "default roots"
        );
        assert!(
            resolved.allowed_endpoints.is_empty(),
            "no endpoints by default"
        );
    }

    #[test]
    fn the_store_files_are_denied() {
        let resolved = ServeConfig::resolve(
            Overrides {
                database_url: Some("sqlite:///srv/db/dqgate.db?mode=rwc".into()),
                data_dir: Some(PathBuf::from("/srv/data")),
                ..Overrides::default()
            },
            FileConfig::default(),
        )
        .expect("resolves");
        let denied = resolved.denied_paths();
        for p in [
            "/srv/data",
            "/srv/db/dqgate.db",
            "/srv/db/dqgate.db-wal",
            "/srv/db/dqgate.db-shm",
        ] {
            assert!(denied.contains(&PathBuf::from(p)), "{p}: {denied:?}");
        }
    }

    #[test]
    fn the_store_acquire_timeout_defaults_to_3_s_and_is_layered() {
        let url = || Some("postgres://db/x".to_string());
        let default = ServeConfig::resolve(
            Overrides::default(),
            FileConfig {
                database_url: url(),
                ..FileConfig::default()
            },
        )
        .expect("resolves");
        assert_eq!(default.store.acquire_timeout, Duration::from_secs(3));
        let file: FileConfig =
            toml::from_str("store_acquire_timeout_ms = 500\ndatabase_url = \"postgres://db/x\"")
                .expect("valid file");
        let from_file = ServeConfig::resolve(Overrides::default(), file.clone()).expect("resolves");
        assert_eq!(from_file.store.acquire_timeout, Duration::from_millis(500));
        let flag = Overrides {
            store_acquire_timeout_ms: Some(1500),
            ..Overrides::default()
        };
        let from_flag = ServeConfig::resolve(flag, file).expect("resolves");
        assert_eq!(from_flag.store.acquire_timeout, Duration::from_millis(1500));
        let zero = Overrides {
            store_acquire_timeout_ms: Some(0),
            ..Overrides::default()
        };
        let file = FileConfig {
            database_url: url(),
            ..FileConfig::default()
        };
        assert!(ServeConfig::resolve(zero, file).is_err());
    }

    #[test]
    fn unknown_keys_and_zero_limits_are_rejected() {
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
        let zero = FileConfig {
            max_queued_evaluations: Some(0),
            database_url: Some("postgres://db/x".into()),
            ..FileConfig::default()
        };
        assert!(ServeConfig::resolve(Overrides::default(), zero).is_err());
    }
}
