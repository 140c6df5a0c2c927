//! Where scans run: in this process (the default) or on an Apache
//! DataFusion Ballista cluster named by `df://host:port` (the
//! `distributed` feature). A distributed session is the same DataFusion
//! session with Ballista's query planner: logical planning and
//! optimization stay here, the optimized plan goes to the scheduler, which
//! splits it into stages for its executors and streams the result back.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

#[cfg(not(feature = "distributed"))]
use datafusion::error::DataFusionError;
use datafusion::error::Result;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{SessionConfig, SessionContext};

/// The port of a Ballista scheduler when `df://host` names none.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// Where a check's scans run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Engine {
    /// DataFusion in this process.
    #[default]
    Local,
    /// A Ballista scheduler at `host:port`.
    Ballista {
        /// Host name or address.
        host: String,
        /// gRPC port.
        port: u16,
    },
}

/// Why an `--engine` value was refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{given}` is not an engine: give `local` or df://HOST[:PORT] (an Apache DataFusion Ballista scheduler; port {DEFAULT_SCHEDULER_PORT} if none)"
)]
pub struct EngineParseError {
    given: String,
}

impl FromStr for Engine {
    type Err = EngineParseError;

    fn from_str(text: &str) -> std::result::Result<Engine, EngineParseError> {
        let bad = || EngineParseError {
            given: text.to_string(),
        };
        let text = text.trim();
        if text.is_empty() || text == "local" {
            return Ok(Engine::Local);
        }
        let rest = text.strip_prefix("df://").ok_or_else(bad)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let url = url::Url::parse(&format!("http://{rest}")).map_err(|_| bad())?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
            return Err(bad());
        }
        Ok(Engine::Ballista {
            host: host.to_string(),
            port: url.port().unwrap_or(DEFAULT_SCHEDULER_PORT),
        })
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Engine::Local => f.write_str("local"),
            Engine::Ballista { host, port } => write!(f, "df://{host}:{port}"),
        }
    }
}

impl Engine {
    /// Whether scans leave this process.
    pub fn is_distributed(&self) -> bool {
        !matches!(self, Engine::Local)
    }
}

/// A session running its plans on `engine`, from the local session's
/// configuration and runtime (memory pool, object stores).
pub fn session_on(
    engine: &Engine,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext> {
    match engine {
        Engine::Local => Ok(SessionContext::new_with_config_rt(config, runtime)),
        #[cfg(feature = "distributed")]
        Engine::Ballista { host, port } => {
            use ballista_core::extension::{SessionConfigExt as _, SessionStateExt as _};
            use ballista_core::object_store::S3Options;
            use datafusion::execution::SessionStateBuilder;
            let config = config
                .upgrade_for_ballista()
                .with_option_extension(S3Options::default());
            let state = SessionStateBuilder::new()
                .with_config(config)
                .with_runtime_env(Arc::clone(&runtime))
                .with_default_features()
                .with_optimizer_rule(Arc::new(NullEqualKeys))
                .build()
                .upgrade_for_ballista(format!("http://{host}:{port}"))?;
            Ok(SessionContext::new_with_state(state))
        }
        #[cfg(not(feature = "distributed"))]
        Engine::Ballista { .. } => {
            let _ = (config, runtime);
            Err(DataFusionError::Configuration(format!(
                "`--engine {engine}` needs a dqgate built with the `distributed` feature (cargo build --features distributed)"
            )))
        }
    }
}

/// Rewrites joins whose keys match NULL to NULL (`IS NOT DISTINCT FROM`,
/// which DataFusion's decorrelation also produces) into plain equi-joins
/// on `(k IS NULL, coalesce(k, default))`: DataFusion 53's plan
/// serialization drops a join's null equality, so the scheduler would run
/// such a join with NULL matching nothing and count rows wrong (the
/// row-level CustomSql match, DatasetMatch). The pair of keys matches
/// exactly the same rows (a key that is never NULL stays as it is).
#[cfg(feature = "distributed")]
#[derive(Debug)]
struct NullEqualKeys;

#[cfg(feature = "distributed")]
impl datafusion::optimizer::OptimizerRule for NullEqualKeys {
    fn name(&self) -> &str {
        "dqgate_null_equal_join_keys"
    }

    fn apply_order(&self) -> Option<datafusion::optimizer::ApplyOrder> {
        Some(datafusion::optimizer::ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: datafusion::logical_expr::LogicalPlan,
        _config: &dyn datafusion::optimizer::OptimizerConfig,
    ) -> Result<datafusion::common::tree_node::Transformed<datafusion::logical_expr::LogicalPlan>>
    {
        use datafusion::common::tree_node::Transformed;
        use datafusion::common::{NullEquality, ScalarValue};
        use datafusion::logical_expr::{Expr, ExprSchemable as _, LogicalPlan, lit};
        let LogicalPlan::Join(join) = plan else {
            return Ok(Transformed::no(plan));
        };
        if join.null_equality != NullEquality::NullEqualsNull || join.on.is_empty() {
            return Ok(Transformed::no(LogicalPlan::Join(join)));
        }
        let null_safe =
            |key: &Expr, schema: &datafusion::common::DFSchema| -> Result<(Expr, Expr)> {
                let default = ScalarValue::new_default(&key.get_type(schema)?)?;
                Ok((
                    key.clone().is_null(),
                    datafusion::functions::core::expr_fn::coalesce(vec![key.clone(), lit(default)]),
                ))
            };
        let mut on = Vec::with_capacity(join.on.len() * 2);
        for (left, right) in &join.on {
            // A side that is never NULL matches the other side's NULLs
            // under neither equality: the plain key is already exact.
            if !left.nullable(join.left.schema())? || !right.nullable(join.right.schema())? {
                on.push((left.clone(), right.clone()));
                continue;
            }
            let (left_null, left_value) = null_safe(left, join.left.schema())?;
            let (right_null, right_value) = null_safe(right, join.right.schema())?;
            on.push((left_null, right_null));
            on.push((left_value, right_value));
        }
        Ok(Transformed::yes(LogicalPlan::Join(
            datafusion::logical_expr::Join {
                on,
                null_equality: NullEquality::NullEqualsNothing,
                ..join
            },
        )))
    }
}

/// A Ballista job failure as one readable line: the innermost message
/// (DataFusion's, from the executor) and the job, instead of the nested
/// `Job … failed: … DataFusionError(Execution("ArrowError(…)"))` text.
pub fn readable(text: &str) -> Option<String> {
    let job_at = text.find("Job ")?;
    let job = text[job_at + 4..].split_whitespace().next()?;
    if !text[job_at..].contains(" failed") {
        return None;
    }
    // The innermost quoted string: after the last `(` + backslashes + `"`.
    let bytes = text.as_bytes();
    let mut open = None;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'(' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] == b'\\' {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'"' {
                open = Some((j + 1, j - i - 1));
            }
        }
    }
    let (start, slashes) = open?;
    let close = format!("{}\")", "\\".repeat(slashes));
    let end = text[start..].find(&close).map(|e| start + e)?;
    let mut inner = text[start..end].to_string();
    for _ in 0..=slashes {
        inner = inner.replace("\\\"", "\"").replace("\\\\", "\\");
    }
    Some(format!("{inner} (Ballista job {job})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_urls_parse_or_say_what_is_expected() {
        let cases = [
            ("local", Some(Engine::Local)),
            ("", Some(Engine::Local)),
            (
                "df://127.0.0.1:50050",
                Some(Engine::Ballista {
                    host: "127.0.0.1".into(),
                    port: 50050,
                }),
            ),
            (
                "df://scheduler.internal",
                Some(Engine::Ballista {
                    host: "scheduler.internal".into(),
                    port: DEFAULT_SCHEDULER_PORT,
                }),
            ),
            (
                "df://[::1]:7000/",
                Some(Engine::Ballista {
                    host: "[::1]".into(),
                    port: 7000,
                }),
            ),
            ("http://127.0.0.1:50050", None),
            ("df://", None),
            ("df://host:notaport", None),
            ("df://host:1/path", None),
            ("df://user@host:1", None),
        ];
        for (text, want) in cases {
            match (text.parse::<Engine>(), want) {
                (Ok(got), Some(want)) => assert_eq!(got, want, "{text}"),
                (Err(e), None) => assert!(e.to_string().contains("df://HOST[:PORT]"), "{e}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
        assert_eq!(
            "df://127.0.0.1:50050"
                .parse::<Engine>()
                .unwrap()
                .to_string(),
            "df://127.0.0.1:50050"
        );
    }

    #[test]
    fn job_failures_read_as_their_cause() {
        let text = r#"External error: Execution error: Job nrIDnkc failed: Job failed due to stage 1 failed: Task failed due to runtime execution error: DataFusionError(Execution("ArrowError(ParseError(\"Error parsing timestamp from 'ann': timestamp must contain at least 10 characters\"))"))"#;
        assert_eq!(
            readable(text).as_deref(),
            Some(
                "Error parsing timestamp from 'ann': timestamp must contain at least 10 characters (Ballista job nrIDnkc)"
            )
        );
        assert_eq!(readable("Arrow error: Parser error: bad"), None);
    }
}
