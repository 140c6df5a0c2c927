//! Loading and registering Iceberg tables (the `iceberg` feature): SQL,
//! REST and (the `glue` feature) Glue catalogs, metadata files, snapshots
//! and appended slices, through iceberg-rust and iceberg-datafusion.
//!
//! The snapshot read is the current one, `snapshot_id`, or the one current
//! at `as_of`; snapshot history comes from the table metadata (the
//! `$snapshots` metadata table of iceberg-datafusion 0.10.1 is broken).
//! `since_snapshot_id` reads only rows appended after that snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use iceberg::io::FileIOBuilder;
use iceberg::spec::{DataContentType, ManifestStatus, Operation, SnapshotRef};
use iceberg::table::{StaticTable, Table};
use iceberg::{Catalog, CatalogBuilder, NamespaceIdent, TableIdent};
#[cfg(feature = "glue")]
use iceberg_catalog_glue::GlueCatalogBuilder;
use iceberg_catalog_rest::RestCatalogBuilder;
use iceberg_catalog_sql::{SqlBindStyle, SqlCatalogBuilder};
use iceberg_datafusion::IcebergStaticTableProvider;
use iceberg_storage_opendal::OpenDalResolvingStorageFactory;

use super::Reference;
use crate::source::{DatasetSpec, Format, Registered, SourceError, objects, s3};

/// Storage properties for Iceberg's FileIO: S3 endpoint, region and
/// credentials from the same chain as every other S3 read.
async fn storage_props(
    reference: &Reference,
    spec: &DatasetSpec,
) -> Result<HashMap<String, String>, SourceError> {
    let mut props = HashMap::new();
    if !(reference.mentions_s3() || spec.options.endpoint.is_some()) {
        return Ok(props);
    }
    let access = s3::access(&spec.options).await?;
    let c = s3::current_credentials(&access).await?;
    props.insert(iceberg::io::S3_REGION.to_string(), access.region.clone());
    props.insert(iceberg::io::S3_ACCESS_KEY_ID.to_string(), c.key_id);
    props.insert(iceberg::io::S3_SECRET_ACCESS_KEY.to_string(), c.secret_key);
    if let Some(token) = c.token {
        props.insert(iceberg::io::S3_SESSION_TOKEN.to_string(), token);
    }
    if let Some(endpoint) = &access.endpoint {
        props.insert(iceberg::io::S3_ENDPOINT.to_string(), endpoint.clone());
    }
    props.insert(
        iceberg::io::S3_PATH_STYLE_ACCESS.to_string(),
        access.path_style.to_string(),
    );
    // Credentials are resolved above; OpenDAL must not look for others.
    props.insert(
        iceberg::io::S3_DISABLE_EC2_METADATA.to_string(),
        "true".to_string(),
    );
    props.insert(
        iceberg::io::S3_DISABLE_CONFIG_LOAD.to_string(),
        "true".to_string(),
    );
    Ok(props)
}

/// Loads the table a reference names (listing a table folder through
/// the session's object stores).
pub async fn load_table(ctx: &SessionContext, spec: &DatasetSpec) -> Result<Table, SourceError> {
    let fail = |message: String| SourceError::Iceberg {
        alias: spec.alias.clone(),
        location: spec.location.clone(),
        message,
    };
    let reference = Reference::parse(&spec.location).map_err(fail)?;
    let props = storage_props(&reference, spec).await?;
    let opendal: Arc<dyn iceberg::io::StorageFactory> =
        Arc::new(OpenDalResolvingStorageFactory::new());
    // On the server every file Iceberg opens is checked first.
    let factory: Arc<dyn iceberg::io::StorageFactory> = match &spec.confinement {
        Some(confinement) => Arc::new(crate::source::iceberg_confine::ConfinedStorageFactory::new(
            opendal,
            confinement.clone(),
        )),
        None => opendal,
    };
    let ident = |parts: &[String]| -> Result<TableIdent, SourceError> {
        let (name, namespace) = parts
            .split_last()
            .ok_or_else(|| fail("no table name".to_string()))?;
        let namespace = NamespaceIdent::from_strs(namespace).map_err(|e| fail(e.to_string()))?;
        Ok(TableIdent::new(namespace, name.clone()))
    };
    match &reference {
        Reference::Sql {
            uri,
            name,
            warehouse,
            table,
        } => {
            let mut builder = SqlCatalogBuilder::default()
                .uri(uri.clone())
                .sql_bind_style(if uri.starts_with("sqlite:") {
                    SqlBindStyle::QMark
                } else {
                    SqlBindStyle::DollarNumeric
                })
                .with_storage_factory(factory);
            if let Some(w) = warehouse {
                builder = builder.warehouse_location(w.clone());
            }
            let catalog = builder
                .load(name.clone(), props)
                .await
                .map_err(|e| fail(format!("cannot open the SQL catalog: {e}")))?;
            catalog.load_table(&ident(table)?).await.map_err(|e| {
                fail(format!(
                    "cannot load table {} from catalog `{name}`: {e}",
                    table.join(".")
                ))
            })
        }
        Reference::Rest {
            uri,
            warehouse,
            table,
        } => {
            let mut props = props;
            props.insert("uri".to_string(), uri.clone());
            if let Some(w) = warehouse {
                props.insert("warehouse".to_string(), w.clone());
            }
            let catalog = RestCatalogBuilder::default()
                .with_storage_factory(factory)
                .load("rest", props)
                .await
                .map_err(|e| fail(format!("cannot reach the REST catalog: {e}")))?;
            catalog
                .load_table(&ident(table)?)
                .await
                .map_err(|e| fail(format!("cannot load table {}: {e}", table.join("."))))
        }
        #[cfg(not(feature = "glue"))]
        Reference::Glue { .. } => Err(SourceError::NotBuilt {
            alias: spec.alias.clone(),
            feature: "glue",
        }),
        #[cfg(feature = "glue")]
        Reference::Glue {
            endpoint,
            catalog_id,
            warehouse,
            table,
        } => {
            // The Glue client gets the region and credentials storage_props
            // resolved for S3 (Glue references always resolve them).
            let mut props = props;
            for (glue, s3_key) in [
                ("region_name", iceberg::io::S3_REGION),
                ("aws_access_key_id", iceberg::io::S3_ACCESS_KEY_ID),
                ("aws_secret_access_key", iceberg::io::S3_SECRET_ACCESS_KEY),
                ("aws_session_token", iceberg::io::S3_SESSION_TOKEN),
            ] {
                if let Some(v) = props.get(s3_key).cloned() {
                    props.insert(glue.to_string(), v);
                }
            }
            if let Some(e) = endpoint {
                props.insert("uri".to_string(), e.clone());
            }
            if let Some(id) = catalog_id {
                props.insert("catalog_id".to_string(), id.clone());
            }
            // The builder insists on a warehouse, which only table creation
            // uses; dqgate never creates tables.
            let w = warehouse
                .clone()
                .unwrap_or_else(|| "s3://unused-by-readers".to_string());
            props.insert("warehouse".to_string(), w);
            let catalog = GlueCatalogBuilder::default()
                .with_storage_factory(factory)
                .load("glue", props)
                .await
                .map_err(|e| fail(format!("cannot reach the Glue catalog: {e}")))?;
            catalog.load_table(&ident(table)?).await.map_err(|e| {
                fail(format!(
                    "cannot load table {} from Glue: {e}",
                    table.join(".")
                ))
            })
        }
        Reference::Metadata(path) => {
            let file_io = FileIOBuilder::new(factory).with_props(props).build();
            let metadata = newest_metadata(ctx, path, spec).await?;
            let table_name = path
                .trim_end_matches('/')
                .rsplit('/')
                .find(|p| !p.is_empty() && *p != "metadata" && !p.ends_with(".metadata.json"))
                .unwrap_or("table")
                .to_string();
            let static_table = StaticTable::from_metadata_file(
                &metadata,
                TableIdent::new(NamespaceIdent::new("static".to_string()), table_name),
                file_io,
            )
            .await
            .map_err(|e| fail(format!("cannot read metadata {metadata}: {e}")))?;
            Ok(static_table.into_table())
        }
    }
}

/// A metadata file as given, or the newest `metadata/*.metadata.json` of a
/// table folder (highest version number, then name).
async fn newest_metadata(
    ctx: &SessionContext,
    path: &str,
    spec: &DatasetSpec,
) -> Result<String, SourceError> {
    if path.ends_with(".metadata.json") {
        return Ok(as_url(path));
    }
    let local = path.strip_prefix("file://").unwrap_or(path);
    let folder = format!("{}/metadata/", local.trim_end_matches('/'));
    let files = objects::list_files(ctx, &folder, &spec.options).await?;
    let version = |location: &str| -> u64 {
        let name = location.rsplit('/').next().unwrap_or_default();
        let digits: String = name
            .trim_start_matches('v')
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().unwrap_or(0)
    };
    files
        .into_iter()
        .map(|f| f.location)
        .filter(|l| l.ends_with(".metadata.json"))
        .max_by(|a, b| version(a).cmp(&version(b)).then(a.cmp(b)))
        .map(|l| as_url(&l))
        .ok_or_else(|| SourceError::NotFound {
            alias: spec.alias.clone(),
            location: format!("{folder} (no *.metadata.json)"),
        })
}

/// A location as Iceberg's FileIO wants it: URLs stay, local paths become
/// absolute `file://` URLs.
fn as_url(location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let absolute = std::path::absolute(location).unwrap_or_else(|_| location.into());
    format!("file://{}", absolute.display())
}

/// The snapshot to read: `snapshot_id`, the one current at `as_of`, or the
/// current one (`None` for a table without snapshots).
pub fn choose_snapshot(
    table: &Table,
    spec: &DatasetSpec,
) -> Result<Option<SnapshotRef>, SourceError> {
    let fail = |message: String| SourceError::Iceberg {
        alias: spec.alias.clone(),
        location: spec.location.clone(),
        message,
    };
    let metadata = table.metadata();
    if let Some(id) = spec.options.snapshot_id {
        return metadata
            .snapshot_by_id(id)
            .cloned()
            .map(Some)
            .ok_or_else(|| {
                fail(format!(
                    "no snapshot {id}; the table has {}",
                    snapshot_list(table)
                ))
            });
    }
    if let Some(as_of) = &spec.options.as_of {
        let at = chrono::DateTime::parse_from_rfc3339(as_of)
            .map_err(|_| fail(format!("as_of `{as_of}` is not an RFC 3339 instant")))?;
        let millis = at.timestamp_millis();
        // The snapshot log records which snapshot was current when.
        let from_log = metadata
            .history()
            .iter()
            .filter(|h| h.timestamp_ms <= millis)
            .max_by_key(|h| h.timestamp_ms)
            .and_then(|h| metadata.snapshot_by_id(h.snapshot_id).cloned());
        let chosen = from_log.or_else(|| {
            metadata
                .snapshots()
                .filter(|s| s.timestamp_ms() <= millis)
                .max_by_key(|s| s.timestamp_ms())
                .cloned()
        });
        return chosen.map(Some).ok_or_else(|| {
            fail(format!(
                "the table had no snapshot at {as_of}; it has {}",
                snapshot_list(table)
            ))
        });
    }
    Ok(metadata.current_snapshot().cloned())
}

fn snapshot_list(table: &Table) -> String {
    let mut snapshots: Vec<_> = table.metadata().snapshots().collect();
    snapshots.sort_by_key(|s| s.timestamp_ms());
    let items: Vec<String> = snapshots
        .iter()
        .map(|s| {
            let at = s.timestamp().map(|t| t.to_rfc3339()).unwrap_or_default();
            format!(
                "{} ({at}, {})",
                s.snapshot_id(),
                s.summary().operation.as_str()
            )
        })
        .collect();
    if items.is_empty() {
        "no snapshots".to_string()
    } else {
        items.join(", ")
    }
}

/// Registers an Iceberg table (or its incremental slice) under the alias.
pub async fn register(ctx: &SessionContext, spec: &DatasetSpec) -> Result<Registered, SourceError> {
    let fail = |message: String| SourceError::Iceberg {
        alias: spec.alias.clone(),
        location: spec.location.clone(),
        message,
    };
    let table = load_table(ctx, spec).await?;
    let snapshot = choose_snapshot(&table, spec)?;
    let snapshot_id = snapshot.as_ref().map(|s| s.snapshot_id());
    if let Some(since) = spec.options.since_snapshot_id {
        let to = snapshot.ok_or_else(|| fail("the table has no snapshots to slice".to_string()))?;
        let words = register_appended(ctx, spec, &table, since, &to).await?;
        return Ok(Registered {
            format: Some(Format::Iceberg),
            snapshot_id,
            slice: Some(words),
            malformed_rows: None,
        });
    }
    if super::super::cluster::is_distributed(ctx) {
        register_snapshot_files(ctx, spec, &table, snapshot.as_ref()).await?;
        return Ok(Registered {
            format: Some(Format::Iceberg),
            snapshot_id,
            slice: None,
            malformed_rows: None,
        });
    }
    let provider = match snapshot_id {
        Some(id) => IcebergStaticTableProvider::try_new_from_table_snapshot(table, id).await,
        None => IcebergStaticTableProvider::try_new_from_table(table).await,
    }
    .map_err(|e| fail(e.to_string()))?;
    ctx.register_table(spec.alias.as_str(), Arc::new(provider))
        .map_err(|e| fail(crate::sql_support::clean(&e)))?;
    Ok(Registered {
        format: Some(Format::Iceberg),
        snapshot_id,
        slice: None,
        malformed_rows: None,
    })
}

/// Registers only the data files appended after snapshot `since` up to
/// `to`. Every snapshot in between must be an append: deletes and
/// overwrites change rows that a file list cannot express, so they are an
/// error that says so rather than a silently wrong count.
async fn register_appended(
    ctx: &SessionContext,
    spec: &DatasetSpec,
    table: &Table,
    since: i64,
    to: &SnapshotRef,
) -> Result<String, SourceError> {
    let fail = |message: String| SourceError::Iceberg {
        alias: spec.alias.clone(),
        location: spec.location.clone(),
        message,
    };
    let metadata = table.metadata();
    let mut chain = Vec::new();
    let mut cursor = Some(to.clone());
    while let Some(s) = cursor {
        if s.snapshot_id() == since {
            break;
        }
        if s.summary().operation != Operation::Append {
            return Err(fail(format!(
                "cannot read only the rows appended after snapshot {since}: snapshot {} is a {} (only appends can be sliced; read the whole snapshot instead)",
                s.snapshot_id(),
                s.summary().operation.as_str()
            )));
        }
        chain.push(s.clone());
        cursor = match s.parent_snapshot_id() {
            Some(parent) => Some(metadata.snapshot_by_id(parent).cloned().ok_or_else(|| {
                fail(format!(
                    "snapshot {parent} (an ancestor) is missing from the metadata"
                ))
            })?),
            None => {
                return Err(fail(format!(
                    "snapshot {since} is not an ancestor of snapshot {}",
                    to.snapshot_id()
                )));
            }
        };
    }
    let mut files = Vec::new();
    for s in &chain {
        let list = table.manifest_list_reader(s).load().await.map_err(|e| {
            fail(format!(
                "cannot read the manifest list of snapshot {}: {e}",
                s.snapshot_id()
            ))
        })?;
        for manifest_file in list.entries() {
            if manifest_file.added_snapshot_id != s.snapshot_id() {
                continue;
            }
            let manifest = manifest_file
                .load_manifest(table.file_io())
                .await
                .map_err(|e| {
                    fail(format!(
                        "cannot read manifest {}: {e}",
                        manifest_file.manifest_path
                    ))
                })?;
            for entry in manifest.entries() {
                if entry.status() == ManifestStatus::Added
                    && entry.snapshot_id() == Some(s.snapshot_id())
                    && entry.content_type() == DataContentType::Data
                {
                    files.push(entry.file_path().to_string());
                }
            }
        }
    }
    let iceberg_schema = to.schema(metadata).map_err(|e| fail(e.to_string()))?;
    let words = format!(
        "{} data file(s) appended by {} snapshot(s) after {since} up to {}",
        files.len(),
        chain.len(),
        to.snapshot_id()
    );
    register_file_list(ctx, spec, &files, &iceberg_schema).await?;
    Ok(words)
}

/// Registers a snapshot as the listing table of its data files, for a
/// distributed engine, whose executors rebuild tables from the plan and
/// have no Iceberg table provider. Row-level deletes would need the
/// provider's delete-file handling, so a snapshot with delete files is an
/// error that says so.
async fn register_snapshot_files(
    ctx: &SessionContext,
    spec: &DatasetSpec,
    table: &Table,
    snapshot: Option<&SnapshotRef>,
) -> Result<(), SourceError> {
    use futures::TryStreamExt as _;
    let fail = |message: String| SourceError::Iceberg {
        alias: spec.alias.clone(),
        location: spec.location.clone(),
        message,
    };
    let metadata = table.metadata();
    let iceberg_schema = match snapshot {
        Some(s) => s.schema(metadata).map_err(|e| fail(e.to_string()))?,
        None => metadata.current_schema().clone(),
    };
    let mut files = Vec::new();
    if let Some(s) = snapshot {
        let scan = table
            .scan()
            .snapshot_id(s.snapshot_id())
            .select_all()
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let mut tasks = scan.plan_files().await.map_err(|e| fail(e.to_string()))?;
        while let Some(task) = tasks.try_next().await.map_err(|e| fail(e.to_string()))? {
            if !task.deletes.is_empty() {
                return Err(fail(format!(
                    "snapshot {} has delete files (row-level deletes), which a distributed engine does not apply yet; run without --engine",
                    s.snapshot_id()
                )));
            }
            if task.data_file_format != iceberg::spec::DataFileFormat::Parquet {
                return Err(fail(format!(
                    "data file {} is {:?}; a distributed engine reads Iceberg tables of Parquet files only",
                    task.data_file_path, task.data_file_format
                )));
            }
            // A large file can be split into several tasks.
            if !files.contains(&task.data_file_path) {
                files.push(task.data_file_path);
            }
        }
    }
    register_file_list(ctx, spec, &files, &iceberg_schema).await
}

/// Registers Parquet data files as one listing table with the Iceberg
/// schema's columns (empty when there are none).
async fn register_file_list(
    ctx: &SessionContext,
    spec: &DatasetSpec,
    files: &[String],
    iceberg_schema: &iceberg::spec::Schema,
) -> Result<(), SourceError> {
    let fail = |message: String| SourceError::Iceberg {
        alias: spec.alias.clone(),
        location: spec.location.clone(),
        message,
    };
    let schema: SchemaRef = Arc::new(
        iceberg::arrow::schema_to_arrow_schema(iceberg_schema).map_err(|e| fail(e.to_string()))?,
    );
    let mut urls = Vec::new();
    for f in files {
        if let Some((bucket, _)) = objects::split_s3(f) {
            objects::s3_store(ctx, &bucket, &spec.options).await?;
        }
        urls.push(ListingTableUrl::parse(f).map_err(|e| fail(crate::sql_support::clean(&e)))?);
    }
    let table_provider: Arc<dyn datafusion::datasource::TableProvider> = if urls.is_empty() {
        Arc::new(datafusion::datasource::empty::EmptyTable::new(schema))
    } else {
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(
                ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_session_config_options(ctx.state().config()),
            )
            .with_schema(schema);
        Arc::new(ListingTable::try_new(config).map_err(|e| fail(crate::sql_support::clean(&e)))?)
    };
    ctx.register_table(spec.alias.as_str(), table_provider)
        .map_err(|e| fail(crate::sql_support::clean(&e)))?;
    Ok(())
}
