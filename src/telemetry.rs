//! Logs and traces: `tracing` to stderr as pretty text or JSON lines, and
//! spans exported over OTLP (gRPC) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
//! (the `otlp` feature; without it the variable is reported and ignored).

#[cfg(feature = "otlp")]
use opentelemetry::trace::TracerProvider as _;
#[cfg(feature = "otlp")]
use opentelemetry_sdk::Resource;
#[cfg(feature = "otlp")]
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[cfg(feature = "otlp")]
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    /// A global subscriber was already set.
    #[error("cannot install the log subscriber: {0}")]
    Subscriber(String),
}

/// Flushes and stops the span exporter when dropped.
pub struct TelemetryGuard {
    #[cfg(feature = "otlp")]
    provider: Option<SdkTracerProvider>,
}

#[cfg(feature = "otlp")]
impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("warning: cannot flush traces: {e}");
        }
    }
}

/// Installs logging (filter from `RUST_LOG`, default `info`) and, when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OTLP span export.
pub fn init(format: LogFormat) -> Result<TelemetryGuard, TelemetryError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = match format {
        // Colour only for a person at a terminal; files and pipes get plain text.
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let endpoint_set =
        std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some_and(|v| !v.is_empty());
    let registry = tracing_subscriber::registry().with(filter).with(fmt);
    #[cfg(feature = "otlp")]
    {
        let provider = if endpoint_set {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(Resource::builder().with_service_name("dqgate").build())
                    .build(),
            )
        } else {
            None
        };
        let otel = provider
            .as_ref()
            .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("dqgate")));
        registry
            .with(otel)
            .try_init()
            .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
        Ok(TelemetryGuard { provider })
    }
    #[cfg(not(feature = "otlp"))]
    {
        registry
            .try_init()
            .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
        if endpoint_set {
            tracing::warn!(
                "OTEL_EXPORTER_OTLP_ENDPOINT is set but this dqgate was built without the `otlp` feature; no spans are exported"
            );
        }
        Ok(TelemetryGuard {})
    }
}
