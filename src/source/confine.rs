//! What the server lets an evaluation reach. Local paths must resolve
//! (after symlinks) under an allowed root and never into the server's data
//! directory or store files; network endpoints (S3 `endpoint`, Iceberg
//! REST, PostgreSQL and Glue catalogs) must be on the allow-list, AWS's own
//! endpoints or the server-wide `DQGATE_S3_ENDPOINT`. A confined session
//! reads local files only through [`ConfinedFiles`], which checks every
//! file it opens or lists. `dqgate check` runs unconfined.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ListResult, ObjectMeta, ObjectStore};

use super::iceberg::Reference;
use super::quarantine::{self, Quarantine};
use super::read_only::{ReadOnly, View};
use super::{DatasetSpec, Format, objects, redact};

/// Why a location or endpoint is out of reach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfineError {
    /// The path resolves outside every allowed root.
    #[error("{path} is outside the allowed paths (allowed_paths)")]
    OutsideRoots {
        /// The path as given.
        path: String,
    },
    /// The path resolves into the server's data directory or store files.
    #[error("{path} is the server's own data directory or store; it is never readable")]
    Store {
        /// The path as given.
        path: String,
    },
    /// The path cannot be resolved (`..` below a missing folder, no cwd).
    #[error("{path} cannot be resolved to a plain path")]
    Unresolved {
        /// The path as given.
        path: String,
    },
    /// The endpoint is not on the allow-list.
    #[error("endpoint {endpoint} is not allowed (allowed_endpoints)")]
    Endpoint {
        /// The endpoint, credentials redacted.
        endpoint: String,
    },
    /// A File rule names an S3 location outside its dataset's.
    #[error("{location} is outside the dataset's own location")]
    OutsideDataset {
        /// The location named.
        location: String,
    },
    /// A quarantine location inside the dataset's own location: its rows
    /// would be read back as data.
    #[error("quarantine {quarantine} is inside the dataset's own location")]
    QuarantineInsideDataset {
        /// The quarantine location.
        quarantine: String,
    },
    /// The quarantine option is not a folder or `s3://` prefix.
    #[error("{0}")]
    BadQuarantine(String),
    /// An allow-list entry is not an endpoint.
    #[error("allowed_endpoints: `{0}` is not a URL or HOST[:PORT]")]
    BadEndpoint(String),
}

/// A host a connection may go to; `scheme` and `port` empty match any.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    scheme: Option<String>,
    host: String,
    port: Option<u16>,
}

impl Endpoint {
    /// `scheme://[user@]host[:port]/...` or `host[:port]`.
    fn parse(text: &str) -> Option<Endpoint> {
        let (with_scheme, scheme) = match text.split_once("://") {
            Some((scheme, _)) => (text.to_string(), Some(normal_scheme(scheme))),
            None => (format!("any://{text}"), None),
        };
        let url = url::Url::parse(&with_scheme).ok()?;
        let host = url
            .host_str()?
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        let port = url.port().or(match scheme.as_deref() {
            Some("http") => Some(80),
            Some("https") => Some(443),
            Some("postgres") => Some(5432),
            _ => None,
        });
        Some(Endpoint { scheme, host, port })
    }

    fn admits(&self, other: &Endpoint) -> bool {
        self.host == other.host
            && self.port.is_none_or(|p| other.port == Some(p))
            && self
                .scheme
                .as_ref()
                .is_none_or(|s| other.scheme.as_ref() == Some(s))
    }

    /// AWS's own endpoints, over TLS.
    fn is_aws(&self) -> bool {
        self.scheme.as_deref() == Some("https")
            && (self.host.ends_with(".amazonaws.com") || self.host.ends_with(".amazonaws.com.cn"))
    }
}

fn normal_scheme(scheme: &str) -> String {
    match scheme.to_ascii_lowercase().as_str() {
        "postgresql" => "postgres".to_string(),
        other => other.to_string(),
    }
}

/// The reach of a confined evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confinement {
    roots: Vec<PathBuf>,
    denied: Vec<PathBuf>,
    endpoints: Vec<Endpoint>,
}

impl Confinement {
    /// Local reads under `roots`, never under `denied` (the data directory
    /// and store files, which need not exist yet); connections only to
    /// `endpoints` (URLs or `HOST[:PORT]`) besides AWS and
    /// `DQGATE_S3_ENDPOINT`.
    pub fn new(
        roots: &[PathBuf],
        denied: &[PathBuf],
        endpoints: &[String],
    ) -> Result<Confinement, ConfineError> {
        let resolve_all = |paths: &[PathBuf]| -> Vec<PathBuf> {
            paths.iter().filter_map(|p| resolve(p)).collect::<Vec<_>>()
        };
        let endpoints = endpoints
            .iter()
            .map(|e| {
                Endpoint::parse(e).ok_or_else(|| ConfineError::BadEndpoint(redact::secrets(e)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Confinement {
            roots: resolve_all(roots),
            denied: resolve_all(denied),
            endpoints,
        })
    }

    /// The server's defaults: the current directory and `./dqgate-demo`,
    /// never `./dqgate-data`; no endpoints beyond AWS and `DQGATE_S3_ENDPOINT`.
    pub fn server_default() -> Confinement {
        Confinement {
            roots: [".", "dqgate-demo"]
                .iter()
                .filter_map(|p| resolve(Path::new(p)))
                .collect(),
            denied: resolve(Path::new("dqgate-data")).into_iter().collect(),
            endpoints: Vec::new(),
        }
    }

    /// A local path (file, folder or glob) the server may read; its
    /// resolved form.
    pub fn check_path(&self, path: &str) -> Result<PathBuf, ConfineError> {
        let resolved = resolve(Path::new(path)).ok_or_else(|| ConfineError::Unresolved {
            path: path.to_string(),
        })?;
        self.admit(&resolved, path)?;
        Ok(resolved)
    }

    /// Checks an already resolved path.
    fn admit(&self, resolved: &Path, shown: &str) -> Result<(), ConfineError> {
        if self.denied.iter().any(|d| resolved.starts_with(d)) {
            return Err(ConfineError::Store {
                path: shown.to_string(),
            });
        }
        if !self.roots.iter().any(|r| resolved.starts_with(r)) {
            return Err(ConfineError::OutsideRoots {
                path: shown.to_string(),
            });
        }
        Ok(())
    }

    /// An endpoint the server may connect to.
    pub fn check_endpoint(&self, endpoint: &str) -> Result<(), ConfineError> {
        let refused = || ConfineError::Endpoint {
            endpoint: redact::secrets(endpoint),
        };
        let candidate = Endpoint::parse(endpoint).ok_or_else(refused)?;
        let server_wide = std::env::var("DQGATE_S3_ENDPOINT")
            .ok()
            .and_then(|e| Endpoint::parse(&e));
        let allowed = candidate.is_aws()
            || server_wide.is_some_and(|e| e.admits(&candidate))
            || self.endpoints.iter().any(|e| e.admits(&candidate));
        if allowed { Ok(()) } else { Err(refused()) }
    }

    /// Everything a dataset makes the server touch before it connects or
    /// opens anything: its path or catalog, and its endpoint.
    pub fn check_spec(&self, spec: &DatasetSpec) -> Result<(), ConfineError> {
        if let Some(endpoint) = &spec.options.endpoint {
            self.check_endpoint(endpoint)?;
        }
        if let Some(q) = &spec.options.quarantine {
            self.check_quarantine(q, &spec.location)?;
        }
        let is_iceberg =
            spec.format == Some(Format::Iceberg) || spec.location.starts_with("iceberg:");
        if !is_iceberg {
            return self.check_location(&spec.location);
        }
        // An unparsable reference fails later without touching anything.
        match Reference::parse(&spec.location) {
            Ok(Reference::Sql { uri, .. }) => match uri.strip_prefix("sqlite:") {
                Some(rest) => {
                    let path = rest.trim_start_matches("//");
                    let path = path.split_once('?').map_or(path, |(p, _)| p);
                    self.check_path(path).map(drop)
                }
                None => self.check_endpoint(&uri),
            },
            Ok(Reference::Rest { uri, .. }) => self.check_endpoint(&uri),
            Ok(Reference::Glue {
                endpoint: Some(endpoint),
                ..
            }) => self.check_endpoint(&endpoint),
            Ok(Reference::Glue { endpoint: None, .. }) => Ok(()),
            Ok(Reference::Metadata(path)) => self.check_location(&path),
            Err(_) => Ok(()),
        }
    }

    /// A local path is checked; an `s3://` URL reaches the endpoint checked
    /// with the dataset's options.
    fn check_location(&self, location: &str) -> Result<(), ConfineError> {
        if objects::split_s3(location).is_some() {
            Ok(())
        } else {
            self.check_path(location).map(drop)
        }
    }

    /// Where a failing run may write its rows: an `s3://` prefix (on the
    /// dataset's endpoint, checked with it) or a local folder under the
    /// allowed roots, never the data directory or store; neither inside
    /// the dataset's own location. Returns the parsed location, a local
    /// folder resolved.
    pub fn check_quarantine(
        &self,
        quarantine: &str,
        dataset: &str,
    ) -> Result<Quarantine, ConfineError> {
        let inside = || ConfineError::QuarantineInsideDataset {
            quarantine: quarantine.to_string(),
        };
        match quarantine::parse(quarantine)
            .map_err(|e| ConfineError::BadQuarantine(e.to_string()))?
        {
            Quarantine::S3 { bucket, prefix } => {
                if let Some((b, key)) = objects::split_s3(dataset) {
                    let own = key.trim_matches('/');
                    let under =
                        own.is_empty() || prefix == own || prefix.starts_with(&format!("{own}/"));
                    if b == bucket && under {
                        return Err(inside());
                    }
                }
                Ok(Quarantine::S3 { bucket, prefix })
            }
            Quarantine::Local(path) => {
                let resolved = self.check_path(&path.display().to_string())?;
                let own = literal_prefix(dataset).and_then(|p| resolve(&p));
                if own.is_some_and(|own| own.is_dir() && resolved.starts_with(&own)) {
                    return Err(inside());
                }
                Ok(Quarantine::Local(resolved))
            }
        }
    }

    /// A File rule's path: local under the allowed roots, `s3://` under the
    /// dataset's own location.
    pub fn check_file_rule(&self, location: &str, dataset: &str) -> Result<(), ConfineError> {
        if objects::split_s3(location).is_none() {
            return self.check_path(location).map(drop);
        }
        let own = dataset.trim_end_matches('/');
        let inside = objects::split_s3(dataset).is_some()
            && !location.contains("/../")
            && (location.trim_end_matches('/') == own || location.starts_with(&format!("{own}/")));
        if inside {
            Ok(())
        } else {
            Err(ConfineError::OutsideDataset {
                location: location.to_string(),
            })
        }
    }
}

/// The folder part of a local location before any glob character; `None`
/// for `s3://` and Iceberg references.
fn literal_prefix(location: &str) -> Option<PathBuf> {
    if location.contains("://") || location.starts_with("iceberg:") {
        return None;
    }
    match location.find(['*', '?', '[', '{']) {
        None => Some(PathBuf::from(location)),
        Some(i) => {
            let head = &location[..i];
            let folder = head.rsplit_once('/').map_or("", |(f, _)| f);
            (!folder.is_empty()).then(|| PathBuf::from(folder))
        }
    }
}

/// The absolute form of `path` with symlinks resolved: the longest
/// existing ancestor canonicalized and the rest appended. A missing path
/// with `..` in it cannot be resolved.
fn resolve(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    if let Ok(canonical) = absolute.canonicalize() {
        return Some(canonical);
    }
    if absolute
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return None;
    }
    let mut rest = vec![absolute.file_name()?.to_os_string()];
    let mut existing = absolute.parent()?;
    loop {
        if let Ok(mut out) = existing.canonicalize() {
            for part in rest.iter().rev() {
                out.push(part);
            }
            return Some(out);
        }
        rest.push(existing.file_name()?.to_os_string());
        existing = existing.parent()?;
    }
}

/// Makes `ctx` read local files only through [`ConfinedFiles`].
pub fn install(ctx: &SessionContext, confinement: Arc<Confinement>) {
    let store = Arc::new(ReadOnly(ConfinedFiles {
        inner: Arc::new(LocalFileSystem::new()),
        confinement,
    }));
    if let Ok(url) = url::Url::parse("file://") {
        ctx.register_object_store(&url, store);
    }
}

/// The local file system, read-only, where every file opened or listed
/// must resolve inside the confinement.
#[derive(Debug)]
pub struct ConfinedFiles {
    inner: Arc<LocalFileSystem>,
    confinement: Arc<Confinement>,
}

impl fmt::Display for ConfinedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConfinedFiles")
    }
}

#[async_trait::async_trait]
impl View for ConfinedFiles {
    const WHAT: &'static str = "confined file access";

    fn inner(&self) -> &dyn ObjectStore {
        self.inner.as_ref()
    }

    /// Every file read or listed must resolve inside the confinement.
    fn admit(&self, location: &ObjectPath) -> object_store::Result<()> {
        let path = self.inner.path_to_filesystem(location)?;
        let canonical = path
            .canonicalize()
            .map_err(|source| object_store::Error::NotFound {
                path: path.display().to_string(),
                source: Box::new(source),
            })?;
        self.confinement
            .admit(&canonical, &path.display().to_string())
            .map_err(|e| object_store::Error::PermissionDenied {
                path: path.display().to_string(),
                source: Box::new(e),
            })
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let checker = ConfinedFiles {
            inner: self.inner.clone(),
            confinement: self.confinement.clone(),
        };
        self.inner
            .list(prefix)
            .map(move |item| {
                let meta = item?;
                checker.admit(&meta.location)?;
                Ok(meta)
            })
            .boxed()
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        let listed = self.inner.list_with_delimiter(prefix).await?;
        for object in &listed.objects {
            self.admit(&object.location)?;
        }
        Ok(listed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_match_host_port_and_scheme() {
        let c = Confinement::new(
            &[],
            &[],
            &["http://127.0.0.1:9000".into(), "catalog.internal".into()],
        )
        .expect("valid allow-list");
        assert!(c.check_endpoint("http://127.0.0.1:9000/bucket").is_ok());
        assert!(c.check_endpoint("http://127.0.0.1:9001").is_err());
        assert!(c.check_endpoint("https://127.0.0.1:9000").is_err());
        assert!(
            c.check_endpoint("postgres://u:p@catalog.internal/db")
                .is_ok()
        );
        assert!(
            c.check_endpoint("https://s3.eu-west-1.amazonaws.com")
                .is_ok()
        );
        assert!(
            c.check_endpoint("http://s3.eu-west-1.amazonaws.com")
                .is_err()
        );
        let refused = c
            .check_endpoint("postgres://u:hunter2@10.0.0.1/db")
            .expect_err("not allowed");
        assert!(!refused.to_string().contains("hunter2"), "{refused}");
    }

    #[test]
    fn paths_resolve_under_roots_and_never_into_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        let c = Confinement::new(
            &[dir.path().to_path_buf()],
            std::slice::from_ref(&data),
            &[],
        )
        .expect("valid");
        let inside = dir.path().join("x/y.parquet");
        assert!(c.check_path(&inside.display().to_string()).is_ok());
        assert!(matches!(
            c.check_path(&data.join("dqgate.db").display().to_string()),
            Err(ConfineError::Store { .. })
        ));
        assert!(matches!(
            c.check_path("/etc/passwd"),
            Err(ConfineError::OutsideRoots { .. })
        ));
        let sneaky = format!("{}/nope/../../etc", dir.path().display());
        assert!(c.check_path(&sneaky).is_err());
    }
}
