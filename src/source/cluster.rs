//! What registration does differently when the session runs its scans on
//! an Apache DataFusion Ballista cluster (`--engine df://…`, the
//! `distributed` feature): the scheduler and executors rebuild every table
//! from the serialized plan and open files with their own object stores,
//! so a table must be a listing table over locations they can reach, and
//! the S3 settings travel with the session as Ballista's `s3.*` options.

#[cfg(feature = "distributed")]
use datafusion::prelude::SessionContext;

use super::SourceError;
#[cfg(feature = "distributed")]
use super::s3::S3Access;

pub use crate::sql_support::is_distributed;

/// The error for a source that executors cannot rebuild from a plan.
pub fn unsupported(alias: &str, what: &str) -> SourceError {
    SourceError::Config(format!(
        "dataset `{alias}`: {what} cannot be read with a distributed engine yet; run without --engine"
    ))
}

/// Puts the S3 settings of `access` (region, endpoint, the chain's current
/// credentials) in the session's `s3.*` options, which the scheduler and
/// executors build their S3 stores from. One session has one set: a second
/// bucket with other settings is an error rather than a silent mix.
#[cfg(feature = "distributed")]
pub async fn share_s3(
    ctx: &SessionContext,
    bucket: &str,
    access: &S3Access,
) -> Result<(), SourceError> {
    use ballista_core::object_store::S3Options;
    use datafusion::config::ExtensionOptions as _;

    let credential = super::s3::current_credentials(access).await?;
    let mut wanted = vec![
        ("region", access.region.clone()),
        ("access_key_id", credential.key_id.clone()),
        ("secret_access_key", credential.secret_key.clone()),
    ];
    if let Some(token) = &credential.token {
        wanted.push(("session_token", token.clone()));
    }
    if let Some(endpoint) = &access.endpoint {
        wanted.push(("endpoint", endpoint.clone()));
        wanted.push(("allow_http", endpoint.starts_with("http://").to_string()));
    }
    let state = ctx.state_ref();
    let mut state = state.write();
    let Some(options) = state
        .config_mut()
        .options_mut()
        .extensions
        .get_mut::<S3Options>()
    else {
        return Err(SourceError::Config(
            "internal: a distributed session without S3 options".to_string(),
        ));
    };
    let current: std::collections::BTreeMap<String, String> = options
        .entries()
        .into_iter()
        .filter_map(|e| Some((e.key.strip_prefix("s3.")?.to_string(), e.value?)))
        .collect();
    let wanted: std::collections::BTreeMap<String, String> = wanted
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    if current.is_empty() {
        for (key, value) in &wanted {
            options
                .set(key, value)
                .map_err(|e| SourceError::Config(crate::sql_support::clean(&e)))?;
        }
    } else if current != wanted {
        let differing: std::collections::BTreeSet<&str> = wanted
            .keys()
            .chain(current.keys())
            .filter(|k| wanted.get(*k) != current.get(*k))
            .map(String::as_str)
            .collect();
        return Err(SourceError::Config(format!(
            "bucket `{bucket}`: a distributed engine reads every S3 bucket of a run with one set of S3 settings, and this bucket's differ from an earlier one's in {}",
            differing.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}
