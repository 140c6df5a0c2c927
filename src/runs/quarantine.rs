//! Quarantine: a gate run that ends in `fail` on a dataset with the
//! `quarantine` option streams its failing rows, with Glue's row-level
//! columns, as Parquet to `<quarantine>/<dataset>/<stage>/<run id>/`
//! (`part-00000.parquet`, a new part every [`ROWS_PER_FILE`] rows). Batches
//! are written as the scan produces them; at most one row group is held.
//! The location is confined again here, just before writing. Fail-closed:
//! the caller makes a run whose rows could not be written `error`.

use std::path::Path;
use std::sync::Arc;

use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::parquet::arrow::async_writer::ParquetObjectWriter;
use datafusion::parquet::file::properties::WriterProperties;
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;

use crate::check::Prepared;
use crate::source::quarantine::{Quarantine, segment};
use crate::source::{Confinement, SourceOptions, s3};

/// Rows per Parquet file written.
pub const ROWS_PER_FILE: u64 = 1_000_000;
/// Rows per row group (the most one file's writer holds before writing).
const ROWS_PER_GROUP: usize = 65_536;

/// Where one run's failing rows go.
#[derive(Clone)]
pub(super) struct Job {
    /// The dataset's `quarantine` option.
    pub option: String,
    /// The dataset's location (a quarantine must be outside it).
    pub dataset_location: String,
    /// The dataset's reader options (S3 endpoint, region).
    pub options: SourceOptions,
    /// The registered dataset's name.
    pub dataset: String,
    /// The pipeline stage.
    pub stage: String,
    /// The server's run id.
    pub run_id: String,
    /// What the server may reach.
    pub confinement: Arc<Confinement>,
}

/// What was written.
#[derive(Debug, Clone)]
pub(super) struct Written {
    /// The run's folder or prefix, ending in `/`.
    pub location: String,
    /// Failing rows written.
    pub rows: u64,
    /// Parquet files written (0 when no row failed a row-level rule).
    pub files: u64,
}

/// An opened destination: a store and the folder (key prefix) in it.
struct Target {
    store: Arc<dyn ObjectStore>,
    dir: Option<ObjectPath>,
    location: String,
}

impl Target {
    fn file(&self, n: u64) -> ObjectPath {
        let name = format!("part-{n:05}.parquet");
        match &self.dir {
            Some(dir) => dir.clone().join(name.as_str()),
            None => ObjectPath::from(name.as_str()),
        }
    }
}

impl Job {
    /// The location rows go to, before anything is opened (for messages).
    pub fn location(&self) -> String {
        let sub = self.subfolder();
        match crate::source::quarantine::parse(&self.option) {
            Ok(Quarantine::S3 { bucket, prefix }) if prefix.is_empty() => {
                format!("s3://{bucket}/{sub}/")
            }
            Ok(Quarantine::S3 { bucket, prefix }) => format!("s3://{bucket}/{prefix}/{sub}/"),
            _ => format!("{}/{sub}/", self.option.trim_end_matches('/')),
        }
    }

    fn subfolder(&self) -> String {
        format!(
            "{}/{}/{}",
            segment(&self.dataset),
            segment(&self.stage),
            segment(&self.run_id)
        )
    }

    /// Checks the location again and opens it.
    async fn open(&self) -> Result<Target, String> {
        let checked = self
            .confinement
            .check_quarantine(&self.option, &self.dataset_location)
            .map_err(|e| e.to_string())?;
        let sub = self.subfolder();
        match checked {
            Quarantine::S3 { bucket, prefix } => {
                let access = s3::access(&self.options).await.map_err(|e| e.to_string())?;
                let store = s3::store(&bucket, &access).map_err(|e| e.to_string())?;
                let dir = if prefix.is_empty() {
                    sub
                } else {
                    format!("{prefix}/{sub}")
                };
                // Parsed, not encoded again: the key is the location shown.
                let key = ObjectPath::parse(&dir)
                    .map_err(|e| format!("quarantine: bad key prefix `{dir}`: {e}"))?;
                Ok(Target {
                    store,
                    location: format!("s3://{bucket}/{dir}/"),
                    dir: Some(key),
                })
            }
            Quarantine::Local(root) => {
                let folder = root.join(&sub);
                tokio::fs::create_dir_all(&folder)
                    .await
                    .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
                // The folder now exists: resolve it again, so a symlink
                // under the root cannot send the rows elsewhere.
                let resolved = self
                    .confinement
                    .check_path(&folder.display().to_string())
                    .map_err(|e| e.to_string())?;
                let store = LocalFileSystem::new_with_prefix(Path::new(&resolved))
                    .map_err(|e| format!("cannot open {}: {e}", resolved.display()))?;
                Ok(Target {
                    store: Arc::new(store),
                    dir: None,
                    location: format!("{}/", resolved.display()),
                })
            }
        }
    }

    /// Streams `prepared`'s failing rows to the quarantine.
    pub async fn write(&self, prepared: &Prepared) -> Result<Written, String> {
        let target = self.open().await?;
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            format!("cannot {what} under {}: {e}", target.location)
        };
        let mut stream = prepared
            .failed_rows_stream(&target.location)
            .await
            .map_err(|e| e.to_string())?;
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
            .build();
        let mut written = Written {
            location: target.location.clone(),
            rows: 0,
            files: 0,
        };
        let mut open: Option<(AsyncArrowWriter<ParquetObjectWriter>, u64)> = None;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| fail("read the failing rows", &e))?;
            if batch.num_rows() == 0 {
                continue;
            }
            let (writer, rows_in_file) = match open.as_mut() {
                Some(w) => w,
                None => {
                    let sink =
                        ParquetObjectWriter::new(target.store.clone(), target.file(written.files));
                    let w =
                        AsyncArrowWriter::try_new(sink, batch.schema(), Some(properties.clone()))
                            .map_err(|e| fail("start a Parquet file", &e))?;
                    written.files += 1;
                    open.insert((w, 0))
                }
            };
            writer
                .write(&batch)
                .await
                .map_err(|e| fail("write failing rows", &e))?;
            let n = batch.num_rows() as u64;
            *rows_in_file += n;
            written.rows += n;
            if *rows_in_file >= ROWS_PER_FILE
                && let Some((w, _)) = open.take()
            {
                w.close()
                    .await
                    .map_err(|e| fail("finish a Parquet file", &e))?;
            }
        }
        if let Some((w, _)) = open.take() {
            w.close()
                .await
                .map_err(|e| fail("finish a Parquet file", &e))?;
        }
        Ok(written)
    }
}
