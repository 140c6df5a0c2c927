//! Globs over local paths and S3: `dir/*.csv`, `dir/*/*.parquet`,
//! `s3://bucket/sessions/**/*.parquet`. The files are matched here (`*`,
//! `?` and `[..]` stay within one folder, `**` crosses any number of
//! folders; hidden `.`/`_` names are skipped) and served to DataFusion
//! through a store that lists only them, so hive `key=value` folders under
//! the glob's fixed part still become columns.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::datasource::listing::ListingTableUrl;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{ListResult, ObjectMeta, ObjectStore};

use super::read_only::{ReadOnly, View};
use super::{DatasetSpec, Format, Registered, SourceError, objects, store_message};

/// Characters that make a location a glob.
const GLOB_CHARS: [char; 3] = ['*', '?', '['];

/// Whether `location` is a glob.
pub fn is_glob(location: &str) -> bool {
    location.contains(GLOB_CHARS)
}

/// Splits a glob at the folder before its first wildcard: (`base/`, pattern).
pub fn split(location: &str) -> (String, String) {
    let first = location.find(GLOB_CHARS).unwrap_or(location.len());
    let cut = location[..first].rfind('/').map_or(0, |i| i + 1);
    let (base, pattern) = location.split_at(cut);
    let base = if base.is_empty() { "./" } else { base };
    (base.to_string(), pattern.to_string())
}

/// The files under `base` whose path below it matches `pattern`.
async fn matching_files(
    ctx: &SessionContext,
    spec: &DatasetSpec,
    base: &str,
    pattern: &str,
) -> Result<(objects::Located, Vec<ObjectMeta>), SourceError> {
    let matcher = glob::Pattern::new(pattern).map_err(|e| {
        SourceError::Config(format!(
            "dataset `{}`: `{}` is not a valid glob: {e}",
            spec.alias, spec.location
        ))
    })?;
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let at = objects::locate(ctx, base, &spec.options).await?;
    let root = (!at.key.as_ref().is_empty()).then_some(&at.key);
    let depth = at.key.parts().count();
    let mut listing = at.store.list(root);
    let mut files = Vec::new();
    while let Some(item) = listing.next().await {
        let meta = match item {
            Ok(meta) => meta,
            // A local base folder that does not exist: nothing matches.
            Err(object_store::Error::NotFound { .. }) if !base.starts_with("s3://") => break,
            Err(e) => {
                return Err(SourceError::Store {
                    alias: spec.alias.clone(),
                    location: spec.location.clone(),
                    message: store_message(&e),
                });
            }
        };
        let below: Vec<String> = meta
            .location
            .parts()
            .skip(depth)
            .map(|p| p.as_ref().to_string())
            .collect();
        let hidden = below
            .iter()
            .any(|p| p.starts_with('.') || p.starts_with('_'));
        if !hidden && matcher.matches_with(&below.join("/"), options) {
            files.push(meta);
        }
    }
    files.sort_by(|a, b| a.location.cmp(&b.location));
    Ok((at, files))
}

/// Registers the files a glob matches as one listing table.
pub async fn register(ctx: &SessionContext, spec: &DatasetSpec) -> Result<Registered, SourceError> {
    let (base, pattern) = split(&spec.location);
    let (at, files) = matching_files(ctx, spec, &base, &pattern).await?;
    let format = match spec.format.or_else(|| Format::from_extension(&pattern)) {
        Some(f) => f,
        None => {
            let found: BTreeSet<Format> = files
                .iter()
                .filter_map(|m| Format::from_extension(m.location.as_ref()))
                .collect();
            super::one_format(spec, found, "no data files matched")?
        }
    };
    let files: Vec<ObjectMeta> = files
        .into_iter()
        .filter(|m| {
            spec.format.is_some() || Format::from_extension(m.location.as_ref()) == Some(format)
        })
        .collect();
    if files.is_empty() {
        return Err(SourceError::NotFound {
            alias: spec.alias.clone(),
            location: format!("{} (no {} files matched)", spec.location, format.name()),
        });
    }
    let root = table_root(&at.key, &files);
    let hive = root.is_some();
    let root = root.unwrap_or_else(|| at.key.clone());
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let host = format!("g{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let config_err = |e: &dyn fmt::Display| {
        SourceError::Config(format!(
            "dataset `{}`: cannot list {}: {e}",
            spec.alias, spec.location
        ))
    };
    let store_url =
        url::Url::parse(&format!("dqgate-glob://{host}")).map_err(|e| config_err(&e))?;
    ctx.register_object_store(
        &store_url,
        Arc::new(ReadOnly(MatchedFiles {
            inner: at.store.clone(),
            files: Arc::new(files),
        })),
    );
    let key = root.as_ref();
    let table_url = if key.is_empty() {
        format!("dqgate-glob://{host}/")
    } else {
        format!("dqgate-glob://{host}/{key}/")
    };
    let url = url::Url::parse(&table_url).map_err(|e| config_err(&e))?;
    // Every listed file already matched: DataFusion's own filter must
    // admit files in nested folders too.
    let every = glob::Pattern::new("*").map_err(|e| config_err(&e))?;
    let url = ListingTableUrl::try_new(url, Some(every)).map_err(|e| config_err(&e))?;
    super::register_listing(ctx, spec, url, format, hive).await
}

/// The folder the table is read from, such that every file's `key=value`
/// folders come first below it with the same keys (so they become
/// columns): the glob's fixed part, else the files' common folder. `None`
/// when neither reads as hive partitions; the files are then read without
/// partition columns.
fn table_root(base: &ObjectPath, files: &[ObjectMeta]) -> Option<ObjectPath> {
    let folders: Vec<Vec<&str>> = files
        .iter()
        .map(|m| {
            let parts: Vec<&str> = m.location.as_ref().split('/').collect();
            parts[..parts.len().saturating_sub(1)].to_vec()
        })
        .collect();
    let hive_below = |depth: usize| {
        let keys: BTreeSet<Vec<&str>> = folders
            .iter()
            .map(|f| {
                let below = f.get(depth..).unwrap_or_default();
                let leading = below.iter().take_while(|p| p.contains('=')).count();
                if below[leading..].iter().any(|p| p.contains('=')) {
                    // A key folder below a plain one: not a partition.
                    None
                } else {
                    Some(
                        below[..leading]
                            .iter()
                            .filter_map(|p| p.split('=').next())
                            .collect(),
                    )
                }
            })
            .collect::<Option<_>>()
            .unwrap_or_default();
        keys.len() == 1
    };
    let base_depth = base.parts().count();
    if hive_below(base_depth) {
        return Some(base.clone());
    }
    let first = folders.first()?;
    let common = (0..first.len())
        .take_while(|&i| folders.iter().all(|f| f.get(i) == first.get(i)))
        .count();
    hive_below(common).then(|| ObjectPath::from_iter(first[..common].iter().copied()))
}

/// A read-only view of a store that lists only the matched files.
#[derive(Debug)]
struct MatchedFiles {
    inner: Arc<dyn ObjectStore>,
    files: Arc<Vec<ObjectMeta>>,
}

impl fmt::Display for MatchedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MatchedFiles({})", self.inner)
    }
}

impl MatchedFiles {
    fn under(&self, prefix: Option<&ObjectPath>) -> Vec<ObjectMeta> {
        self.files
            .iter()
            .filter(|m| prefix.is_none_or(|p| m.location.prefix_matches(p)))
            .cloned()
            .collect()
    }
}

#[async_trait::async_trait]
impl View for MatchedFiles {
    const WHAT: &'static str = "the files of a glob";

    fn inner(&self) -> &dyn ObjectStore {
        self.inner.as_ref()
    }

    fn admit(&self, _location: &ObjectPath) -> object_store::Result<()> {
        Ok(())
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        futures::stream::iter(self.under(prefix).into_iter().map(Ok)).boxed()
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        let depth = prefix.map_or(0, |p| p.parts().count());
        let mut common_prefixes = BTreeSet::new();
        let mut objects = Vec::new();
        for meta in self.under(prefix) {
            let parts: Vec<_> = meta.location.parts().collect();
            if parts.len() == depth + 1 {
                objects.push(meta);
            } else {
                common_prefixes.insert(ObjectPath::from_iter(parts.into_iter().take(depth + 1)));
            }
        }
        Ok(ListResult {
            common_prefixes: common_prefixes.into_iter().collect(),
            objects,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_folder_before_the_first_wildcard() {
        let s = |l: &str| split(l);
        assert_eq!(s("dir/*/*.parquet"), ("dir/".into(), "*/*.parquet".into()));
        assert_eq!(
            s("s3://b/*.parquet"),
            ("s3://b/".into(), "*.parquet".into())
        );
        assert_eq!(
            s("s3://b/sessions/**/*.parquet"),
            ("s3://b/sessions/".into(), "**/*.parquet".into())
        );
        assert_eq!(s("*.csv"), ("./".into(), "*.csv".into()));
    }
}
