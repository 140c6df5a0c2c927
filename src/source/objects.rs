//! Object stores behind locations: the bucket of an `s3://` URL registered
//! on the session, and file listings (with size and modification time) of
//! local or S3 locations for the File* rules.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::{SourceError, SourceOptions, s3, store_message};

/// `s3://bucket/key` → (bucket, key); `None` for other locations.
pub fn split_s3(location: &str) -> Option<(String, String)> {
    let rest = location.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), key.to_string()))
}

/// The object store of `bucket`, registered on the session for `s3://bucket`
/// URLs (once per session).
pub async fn s3_store(
    ctx: &SessionContext,
    bucket: &str,
    options: &SourceOptions,
) -> Result<Arc<dyn ObjectStore>, SourceError> {
    let bad =
        |e: &dyn std::fmt::Display| SourceError::Config(format!("bad bucket name `{bucket}`: {e}"));
    let store_url =
        datafusion::execution::object_store::ObjectStoreUrl::parse(format!("s3://{bucket}"))
            .map_err(|e| bad(&e))?;
    if let Ok(existing) = ctx.runtime_env().object_store(&store_url) {
        return Ok(existing);
    }
    let access = s3::access(options).await?;
    let store = s3::store(bucket, &access)?;
    #[cfg(feature = "distributed")]
    if super::cluster::is_distributed(ctx) {
        super::cluster::share_s3(ctx, bucket, &access).await?;
    }
    let url = url::Url::parse(&format!("s3://{bucket}")).map_err(|e| bad(&e))?;
    ctx.register_object_store(&url, store.clone());
    Ok(store)
}

/// A listed file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    /// Its full location (`s3://b/k` or a local path).
    pub location: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub modified: DateTime<Utc>,
}

/// A store and the key of a location inside it.
pub struct Located {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The key (a file or a prefix).
    pub key: ObjectPath,
    /// How keys print back as locations.
    prefix: String,
}

impl Located {
    /// The location of `key` as a user writes it.
    pub fn display(&self, key: &ObjectPath) -> String {
        format!("{}{}", self.prefix, key)
    }
}

/// Finds the store and key of a local path or `s3://` URL.
pub async fn locate(
    ctx: &SessionContext,
    location: &str,
    options: &SourceOptions,
) -> Result<Located, SourceError> {
    if let Some((bucket, key)) = split_s3(location) {
        let store = s3_store(ctx, &bucket, options).await?;
        return Ok(Located {
            store,
            key: ObjectPath::from(key.trim_end_matches('/')),
            prefix: format!("s3://{bucket}/"),
        });
    }
    let absolute = std::path::absolute(location)
        .map_err(|e| SourceError::Config(format!("bad path `{location}`: {e}")))?;
    let key = ObjectPath::from_absolute_path(&absolute)
        .map_err(|e| SourceError::Config(format!("bad path `{location}`: {e}")))?;
    // The session's file store: confined on the server.
    let store = ctx
        .runtime_env()
        .object_store(ObjectStoreUrl::local_filesystem())
        .unwrap_or_else(|_| Arc::new(LocalFileSystem::new()));
    Ok(Located {
        store,
        key,
        prefix: "/".to_string(),
    })
}

/// The files at `location`: the object itself, or every object under it
/// (hidden `.`/`_` names skipped), sorted by location.
pub async fn list_files(
    ctx: &SessionContext,
    location: &str,
    options: &SourceOptions,
) -> Result<Vec<FileEntry>, SourceError> {
    let err = |message: String| SourceError::Store {
        alias: "file rule".to_string(),
        location: location.to_string(),
        message,
    };
    let at = locate(ctx, location, options).await?;
    // Only names that look like files are probed as single objects; a
    // prefix HEAD costs a round trip (and retries on some servers).
    let last = location.rsplit('/').next().unwrap_or_default();
    let maybe_file = if location.starts_with("s3://") {
        last.contains('.')
    } else {
        std::path::Path::new(location).is_file()
    };
    if maybe_file {
        match at.store.head(&at.key).await {
            Ok(meta) => {
                return Ok(vec![FileEntry {
                    location: at.display(&meta.location),
                    size: meta.size,
                    modified: meta.last_modified,
                }]);
            }
            Err(
                e @ (object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }),
            ) => return Err(err(store_message(&e))),
            // Not an object (a prefix or a local folder; some S3-compatible
            // servers answer a prefix HEAD with an error): list it below,
            // which reports what is really wrong.
            Err(_) => {}
        }
    }
    let mut files = Vec::new();
    let mut listing = at.store.list(Some(&at.key));
    while let Some(item) = listing.next().await {
        let meta = item.map_err(|e| err(store_message(&e)))?;
        // Hidden names below the listed prefix (`_SUCCESS`, `.part`).
        let depth = at.key.parts().count();
        let hidden = meta
            .location
            .parts()
            .skip(depth)
            .any(|p| p.as_ref().starts_with('.') || p.as_ref().starts_with('_'));
        if hidden {
            continue;
        }
        files.push(FileEntry {
            location: at.display(&meta.location),
            size: meta.size,
            modified: meta.last_modified,
        });
    }
    files.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(files)
}

/// A file's content as a stream of chunks (for checksums in constant
/// memory).
pub async fn open(
    ctx: &SessionContext,
    location: &str,
    options: &SourceOptions,
) -> Result<BoxStream<'static, Result<bytes::Bytes, SourceError>>, SourceError> {
    let at = locate(ctx, location, options).await?;
    let failed = {
        let location = location.to_string();
        move |e: object_store::Error| SourceError::Store {
            alias: "file rule".to_string(),
            location: location.clone(),
            message: store_message(&e),
        }
    };
    let got = at.store.get(&at.key).await.map_err(&failed)?;
    Ok(got
        .into_stream()
        .map(move |chunk| chunk.map_err(&failed))
        .boxed())
}
