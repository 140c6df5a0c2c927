//! Object stores for `s3://bucket/...` locations. Credentials come from the
//! standard AWS chain (environment, shared config and profile, web
//! identity, ECS and instance metadata) through aws-config, never from a
//! ruleset; a custom endpoint and path-style addressing serve S3-compatible
//! stores. Transient failures are retried with exponential backoff by the
//! object store client, within a bounded time.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::{BackoffConfig, ClientOptions, CredentialProvider, RetryConfig};

use super::{SourceError, SourceOptions};

/// A credentials provider that replaces the default chain for the whole
/// process (for embedding dqgate, and for tests against a local endpoint).
static CREDENTIALS_OVERRIDE: OnceLock<SharedCredentialsProvider> = OnceLock::new();

/// Uses `provider` instead of the default AWS chain from now on. Returns
/// false when a provider was already installed.
pub fn use_credentials_provider(provider: impl ProvideCredentials + 'static) -> bool {
    CREDENTIALS_OVERRIDE
        .set(SharedCredentialsProvider::new(provider))
        .is_ok()
}

/// Where and how to reach the store, resolved from the dataset's options,
/// `DQGATE_S3_*` and the AWS configuration.
#[derive(Debug, Clone)]
pub struct S3Access {
    /// Region.
    pub region: String,
    /// A custom endpoint (S3-compatible stores), if any.
    pub endpoint: Option<String>,
    /// Path-style (`endpoint/bucket/key`) instead of virtual-hosted requests.
    pub path_style: bool,
    /// The credentials chain.
    pub credentials: SharedCredentialsProvider,
}

/// Resolves region, endpoint, addressing and credentials.
pub async fn access(options: &SourceOptions) -> Result<S3Access, SourceError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &options.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(p) = CREDENTIALS_OVERRIDE.get() {
        loader = loader.credentials_provider(p.clone());
    }
    let sdk = loader.load().await;
    let endpoint = options
        .endpoint
        .clone()
        .or_else(|| std::env::var("DQGATE_S3_ENDPOINT").ok())
        .or_else(|| sdk.endpoint_url().map(str::to_string))
        .filter(|e| !e.is_empty());
    let path_style = options
        .path_style
        .or_else(|| env_flag("DQGATE_S3_PATH_STYLE"))
        // S3-compatible stores behind a custom endpoint rarely have
        // wildcard DNS for bucket subdomains.
        .unwrap_or(endpoint.is_some());
    let credentials = sdk.credentials_provider().ok_or_else(|| SourceError::Config(
        "no AWS credentials provider is configured: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an instance role".to_string(),
    ))?;
    Ok(S3Access {
        region: sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string()),
        endpoint,
        path_style,
        credentials,
    })
}

fn env_flag(name: &str) -> Option<bool> {
    std::env::var(name)
        .ok()
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// The object store of one bucket.
pub fn store(
    bucket: &str,
    access: &S3Access,
) -> Result<Arc<dyn object_store::ObjectStore>, SourceError> {
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: env_number("DQGATE_S3_MAX_RETRIES").unwrap_or(4),
        retry_timeout: Duration::from_secs(
            env_number("DQGATE_S3_RETRY_SECONDS").unwrap_or(30) as u64
        ),
    };
    let mut client = ClientOptions::new().with_connect_timeout(Duration::from_secs(5));
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(&access.region)
        .with_virtual_hosted_style_request(!access.path_style)
        .with_retry(retry)
        .with_credentials(Arc::new(ChainCredentials::new(access.credentials.clone())));
    if let Some(endpoint) = &access.endpoint {
        builder = builder.with_endpoint(endpoint);
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
            client = client.with_allow_http(true);
        }
    }
    let built = builder.with_client_options(client).build().map_err(|e| {
        SourceError::Config(format!("cannot configure S3 for bucket `{bucket}`: {e}"))
    })?;
    Ok(Arc::new(built))
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Static credentials from the chain, for readers that take them as
/// properties (Iceberg's FileIO).
pub async fn current_credentials(access: &S3Access) -> Result<AwsCredential, SourceError> {
    let c = access
        .credentials
        .provide_credentials()
        .await
        .map_err(|e| SourceError::Config(format!("cannot load AWS credentials: {e}")))?;
    Ok(AwsCredential {
        key_id: c.access_key_id().to_string(),
        secret_key: c.secret_access_key().to_string(),
        token: c.session_token().map(str::to_string),
    })
}

/// Bridges the AWS credentials chain to the object store client, caching
/// credentials until five minutes before they expire.
#[derive(Debug)]
struct ChainCredentials {
    provider: SharedCredentialsProvider,
    cached: tokio::sync::Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl ChainCredentials {
    fn new(provider: SharedCredentialsProvider) -> ChainCredentials {
        ChainCredentials {
            provider,
            cached: tokio::sync::Mutex::new(None),
        }
    }
}

#[async_trait::async_trait]
impl CredentialProvider for ChainCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some((credential, expiry)) = cached.as_ref() {
            let fresh = expiry.is_none_or(|t| {
                t.duration_since(SystemTime::now())
                    .is_ok_and(|left| left > Duration::from_secs(300))
            });
            if fresh {
                return Ok(credential.clone());
            }
        }
        let c = self.provider.provide_credentials().await.map_err(|e| {
            object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            }
        })?;
        let credential = Arc::new(AwsCredential {
            key_id: c.access_key_id().to_string(),
            secret_key: c.secret_access_key().to_string(),
            token: c.session_token().map(str::to_string),
        });
        *cached = Some((credential.clone(), c.expiry()));
        Ok(credential)
    }
}
