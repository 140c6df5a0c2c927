//! The results store: rulesets (immutable versions), datasets, runs, rule
//! results, metrics and API tokens, in SQLite (embedded default) or
//! PostgreSQL, through one set of queries on sqlx's `Any` driver.
//! Timestamps are RFC 3339 UTC text and JSON documents are text, so both
//! databases share every statement. One file per kind of record:
//! `rulesets`, `datasets`, `runs` (runs, rule results, metric rows),
//! `metrics` (trends and history), `retention` (pruning old runs), `tokens` and
//! `sessions` (console sign-ins). Rows are read through
//! `sqlx::FromRow`; statuses, decisions and outcomes are enums stored as
//! their `as_str()` text. The store records; it applies no gate policy.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Transaction};

mod datasets;
mod metrics;
mod overview;
mod retention;
mod rulesets;
mod runs;
mod sessions;
mod timing;
mod tokens;

pub use datasets::DatasetRecord;
pub use metrics::{MetricPoint, TrendPoint};
pub use overview::SeriesScore;
pub use retention::Pruned;
pub use rulesets::RulesetVersion;
pub use runs::{
    AnomalyBand, Claim, Finished, MetricRecord, RuleResultRecord, RunFilter, RunIdentity,
    RunRecord, RunStatus, UnknownStatus,
};
pub use timing::{Histogram, Latency};
pub use tokens::TokenRecord;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or a statement failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The URL names no supported database.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored JSON document could not be read.
    #[error("corrupt stored {what}: {source}")]
    Decode {
        /// Which document.
        what: &'static str,
        /// The cause.
        source: serde_json::Error,
    },
    /// A value could not be written as a JSON document.
    #[error("cannot encode {what} as JSON: {source}")]
    Encode {
        /// Which document.
        what: &'static str,
        /// The cause.
        source: serde_json::Error,
    },
    /// A stored value has the wrong shape.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// No random bytes for a new run id.
    #[error("no randomness for a run id: {0}")]
    Random(getrandom::Error),
}

impl StoreError {
    /// True when the database is out of reach or too busy for now (no
    /// pooled connection in time, a broken or refused connection, a server
    /// shutting down, SQLite busy, locked or out of space): retrying later
    /// may succeed, so callers answer 503 rather than 500.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                if code.len() == 5 {
                    // A PostgreSQL SQLSTATE: class 08 (connection exception),
                    // 53 (insufficient resources), 57P01-03 (shutting down,
                    // cannot connect now).
                    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
                } else {
                    // An SQLite result code (at most four digits): primary
                    // BUSY (5), LOCKED (6), IOERR (10) or FULL (13).
                    code.parse::<u32>()
                        .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13))
                }
            }
            _ => false,
        }
    }
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A connection pool with migrations applied.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    latency: std::sync::Arc<Latency>,
}

/// How the store's connections are managed.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Longest wait for a pooled connection (including connecting) before
    /// a call fails as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// SQLite: how long a statement waits for another connection's lock.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;
/// SQLite: checkpoint the write-ahead log into the database once it holds
/// this many pages (about 4 MiB) ...
const SQLITE_WAL_AUTOCHECKPOINT_PAGES: u32 = 1000;
/// ... and truncate the log file back to at most this size afterwards.
const SQLITE_JOURNAL_SIZE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// The current time as stored.
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A new run id (UUID v4 text).
pub fn new_run_id() -> Result<String, StoreError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(StoreError::Random)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Reads a JSON document stored as text.
fn decode_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|source| StoreError::Decode { what, source })
}

/// A value as a JSON document, ready to store as text.
pub fn encode_json(
    what: &'static str,
    value: &impl Serialize,
) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|source| StoreError::Encode { what, source })
}

/// Reads an enum stored as its text (`what` names the column).
fn parse_text<T>(what: &'static str, text: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl Store {
    /// Latency of the timed operations (claim, start, finish, history,
    /// ruleset, dataset, run lookups, ping) since the store was opened.
    pub fn latency(&self) -> std::collections::BTreeMap<&'static str, Histogram> {
        self.latency.snapshot()
    }

    /// Times an operation until the returned guard is dropped.
    fn timer(&self, operation: &'static str) -> timing::Timer {
        timing::Timer::start(&self.latency, operation)
    }

    /// Connects to `url` (`sqlite://PATH` or `postgres://...`) with the
    /// default options and applies the migrations of that database.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, &StoreOptions::default()).await
    }

    /// Connects to `url` with `options` and applies the migrations.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .acquire_timeout(options.acquire_timeout);
        if backend == Backend::Sqlite {
            // Every connection waits for locks instead of failing at once,
            // and keeps the write-ahead log bounded (see the constants).
            pool_options = pool_options.after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in [
                        format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}"),
                        "PRAGMA foreign_keys = ON".to_string(),
                        "PRAGMA synchronous = NORMAL".to_string(),
                        format!("PRAGMA wal_autocheckpoint = {SQLITE_WAL_AUTOCHECKPOINT_PAGES}"),
                        format!("PRAGMA journal_size_limit = {SQLITE_JOURNAL_SIZE_LIMIT_BYTES}"),
                    ] {
                        sqlx::query(&pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            });
        }
        let url = if backend == Backend::Sqlite {
            sqlite_creating(url)?
        } else {
            url.to_string()
        };
        let pool = pool_options.connect(&url).await?;
        match backend {
            Backend::Sqlite => {
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&pool)
                    .await?;
                sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            }
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Store {
            pool,
            backend,
            latency: Default::default(),
        })
    }

    /// The SQLite URL of the store file under `data_dir`, creating the dir.
    /// (`connect` creates a missing file and its folder for any SQLite URL.)
    pub fn sqlite_url(data_dir: &Path) -> Result<String, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let abs = std::path::absolute(data_dir.join("dqgate.db")).map_err(|source| {
            StoreError::DataDir {
                path: data_dir.display().to_string(),
                source,
            }
        })?;
        Ok(format!("sqlite://{}?mode=rwc", abs.display()))
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _timer = self.timer("ping");
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A transaction that writes. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`), so it waits out other writers under the
    /// busy timeout instead of failing with "database is locked" when it
    /// first reads and then writes.
    async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }
}

/// A SQLite URL that creates its database (and the database's folder)
/// when missing, as `serve` does, unless the URL chooses a `mode`.
fn sqlite_creating(url: &str) -> Result<String, StoreError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path.starts_with(':') || query.split('&').any(|p| p.starts_with("mode="))
    {
        return Ok(url.to_string());
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|source| StoreError::DataDir {
            path: parent.display().to_string(),
            source,
        })?;
    }
    let joiner = if query.is_empty() { "?" } else { "&" };
    Ok(format!("{url}{joiner}mode=rwc"))
}
