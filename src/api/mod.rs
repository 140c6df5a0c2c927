//! The HTTP API under /v1 (axum): rulesets, datasets, the gate, runs and
//! trends, with bearer-token roles, problem+json errors, bounded bodies and
//! a bounded evaluation queue. `/healthz`, `/metrics` and
//! `/v1/openapi.json` are open.

pub mod auth;
mod doc;
pub mod error;
mod gate;
mod metrics;
mod ops;
pub(crate) mod registry;
pub(crate) mod runs;
mod serve;
pub mod suggest;
pub(crate) mod tokens;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::runs::{RunLimits, Runs};
use crate::source::Confinement;
use crate::store::Store;

pub use metrics::Metrics;
pub use serve::{HttpLimits, serve};

/// Memory one evaluation may hold unless configured: 2 GiB.
pub const DEFAULT_EVAL_MEMORY_LIMIT: usize = 2 << 30;

/// Limits of the service.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Largest ruleset text.
    pub max_ruleset_bytes: usize,
    /// Evaluations running at once.
    pub max_concurrent_evaluations: usize,
    /// Evaluations accepted (running or waiting) before 429.
    pub max_queued_evaluations: usize,
    /// Longest evaluation.
    pub eval_timeout: Duration,
    /// Memory one evaluation (or profile) may hold, in bytes.
    pub eval_memory_limit: Option<usize>,
    /// Most rules in a ruleset (see [`crate::check::rule_count`]); more is
    /// a 422 at save, validate and gate time.
    pub max_rules_per_ruleset: usize,
    /// Where evaluations run (this process, or a Ballista cluster).
    pub engine: crate::engine::Engine,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_ruleset_bytes: 512 * 1024,
            max_concurrent_evaluations: 2,
            max_queued_evaluations: 64,
            eval_timeout: Duration::from_secs(3600),
            eval_memory_limit: Some(DEFAULT_EVAL_MEMORY_LIMIT),
            max_rules_per_ruleset: 2000,
            engine: crate::engine::Engine::Local,
        }
    }
}

impl Limits {
    /// 422 `too_many_rules` when `ruleset` is over the rule cap.
    pub fn check_rules(&self, ruleset: &crate::dqdl::Ruleset) -> Result<(), error::Problem> {
        let rules = crate::check::rule_count(ruleset);
        if rules > self.max_rules_per_ruleset {
            return Err(error::Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "too_many_rules",
                format!(
                    "the ruleset has {rules} rules; the limit is {} (max_rules_per_ruleset)",
                    self.max_rules_per_ruleset
                ),
            ));
        }
        Ok(())
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The results store.
    pub store: Store,
    /// SHA-256 of the bootstrap admin token, if configured.
    pub admin_token_hash: Option<String>,
    /// Limits.
    pub limits: Arc<Limits>,
    /// The runs layer: claims, queues, evaluates and records gate runs.
    pub runs: Runs,
    /// Prometheus counters.
    pub metrics: Arc<Metrics>,
    /// What datasets and rules may reach.
    pub confinement: Arc<Confinement>,
}

fn run_limits(limits: &Limits, confinement: &Arc<Confinement>) -> RunLimits {
    RunLimits {
        max_concurrent: limits.max_concurrent_evaluations,
        max_queued: limits.max_queued_evaluations,
        timeout: limits.eval_timeout,
        memory_limit: limits.eval_memory_limit,
        confinement: confinement.clone(),
        max_rules: limits.max_rules_per_ruleset,
        engine: limits.engine.clone(),
    }
}

impl AppState {
    /// State over a store with the given limits and bootstrap admin token,
    /// confined to [`Confinement::server_default`].
    pub fn new(store: Store, limits: Limits, admin_token: Option<&str>) -> AppState {
        let metrics = Arc::new(Metrics::default());
        let confinement = Arc::new(Confinement::server_default());
        AppState {
            runs: Runs::new(
                store.clone(),
                run_limits(&limits, &confinement),
                metrics.clone(),
            ),
            store,
            admin_token_hash: admin_token.filter(|t| !t.is_empty()).map(auth::hash_token),
            limits: Arc::new(limits),
            metrics,
            confinement,
        }
    }

    /// The same state confined to `confinement` (before serving).
    pub fn with_confinement(mut self, confinement: Confinement) -> AppState {
        self.confinement = Arc::new(confinement);
        self.runs = Runs::new(
            self.store.clone(),
            run_limits(&self.limits, &self.confinement),
            self.metrics.clone(),
        );
        self
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dqgate",
        description = "Data-quality gate: DQDL rulesets evaluated over registered datasets. \
                       Send `Authorization: Bearer <token>`; roles are admin, steward, pipeline and viewer."
    ),
    components(schemas(error::ProblemJson, crate::gate::Decision))
)]
struct ApiDoc;

/// The router and its OpenAPI document.
pub fn router(state: AppState) -> Router {
    let (api_routes, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(registry::list_rulesets))
        .routes(routes!(
            registry::get_ruleset,
            registry::put_ruleset,
            registry::delete_ruleset
        ))
        .routes(routes!(registry::list_versions))
        .routes(routes!(registry::get_version))
        .routes(routes!(registry::validate))
        .routes(routes!(registry::list_datasets))
        .routes(routes!(registry::get_dataset, registry::put_dataset))
        .routes(routes!(gate::gate))
        .routes(routes!(runs::list_runs))
        .routes(routes!(runs::get_run))
        .routes(routes!(runs::trends))
        .routes(routes!(runs::mark_expected, runs::unmark_expected))
        .routes(routes!(suggest::suggest))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .split_for_parts();
    let mut openapi = openapi;
    doc::complete(&mut openapi);
    let openapi = Arc::new(openapi);
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .merge(api_routes)
        .route("/v1/openapi.json", axum::routing::get(ops::openapi))
        .route("/healthz", axum::routing::get(ops::healthz))
        .route("/metrics", axum::routing::get(ops::metrics))
        .fallback(ops::not_found)
        .layer(axum::Extension(openapi))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Marks runs left unfinished by an earlier process as interrupted (see
/// [`crate::runs::recover`]).
pub async fn recover(store: &Store) -> Result<u64, crate::store::StoreError> {
    crate::runs::recover(store).await
}
