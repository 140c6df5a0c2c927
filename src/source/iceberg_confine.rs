//! Confinement for the files Iceberg reads itself. A catalog row names a
//! metadata file, which names manifest lists, which name manifests, which
//! name data and delete files: any of them could point at a server file or
//! the store. On the server every Iceberg FileIO is built by
//! [`ConfinedStorageFactory`], whose storage checks each local path against
//! the dataset's [`Confinement`] before anything is opened, and refuses to
//! write or delete. Remote (`s3://`) paths pass: their endpoint was checked
//! before the catalog was reached.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use iceberg::io::{
    FileMetadata, FileRead, FileWrite, InputFile, OutputFile, Storage, StorageConfig,
    StorageFactory,
};
use iceberg::{Error, ErrorKind, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::confine::Confinement;

/// Builds storages that read only what the confinement admits.
#[derive(Debug, Clone)]
pub struct ConfinedStorageFactory {
    inner: Arc<dyn StorageFactory>,
    confinement: Arc<Confinement>,
}

impl ConfinedStorageFactory {
    /// Wraps `inner` (the storages that actually read).
    pub fn new(inner: Arc<dyn StorageFactory>, confinement: Arc<Confinement>) -> Self {
        ConfinedStorageFactory { inner, confinement }
    }
}

#[typetag::serde]
impl StorageFactory for ConfinedStorageFactory {
    fn build(&self, config: &StorageConfig) -> Result<Arc<dyn Storage>> {
        Ok(Arc::new(ConfinedStorage {
            inner: self.inner.build(config)?,
            confinement: self.confinement.clone(),
        }))
    }
}

/// A storage that checks every local path before its inner storage sees it.
#[derive(Debug, Clone)]
pub struct ConfinedStorage {
    inner: Arc<dyn Storage>,
    confinement: Arc<Confinement>,
}

/// The local file a path names, if it names one.
fn local_path(path: &str) -> Option<&str> {
    if let Some(rest) = path.strip_prefix("file://") {
        return Some(rest);
    }
    if let Some(rest) = path.strip_prefix("file:") {
        return Some(rest);
    }
    (!path.contains("://")).then_some(path)
}

impl ConfinedStorage {
    fn admit(&self, path: &str) -> Result<()> {
        match local_path(path) {
            Some(local) => self.confinement.check_path(local).map(drop).map_err(|e| {
                Error::new(
                    ErrorKind::DataInvalid,
                    format!("Iceberg metadata names a file the server may not read: {e}"),
                )
            }),
            None => Ok(()),
        }
    }

    fn refuse_writes() -> Error {
        Error::new(
            ErrorKind::FeatureUnsupported,
            "dqgate reads Iceberg tables; it never writes or deletes their files",
        )
    }
}

#[async_trait]
#[typetag::serde]
impl Storage for ConfinedStorage {
    async fn exists(&self, path: &str) -> Result<bool> {
        self.admit(path)?;
        self.inner.exists(path).await
    }

    async fn metadata(&self, path: &str) -> Result<FileMetadata> {
        self.admit(path)?;
        self.inner.metadata(path).await
    }

    async fn read(&self, path: &str) -> Result<Bytes> {
        self.admit(path)?;
        self.inner.read(path).await
    }

    async fn reader(&self, path: &str) -> Result<Box<dyn FileRead>> {
        self.admit(path)?;
        self.inner.reader(path).await
    }

    async fn write(&self, _path: &str, _bs: Bytes) -> Result<()> {
        Err(Self::refuse_writes())
    }

    async fn writer(&self, _path: &str) -> Result<Box<dyn FileWrite>> {
        Err(Self::refuse_writes())
    }

    async fn delete(&self, _path: &str) -> Result<()> {
        Err(Self::refuse_writes())
    }

    async fn delete_prefix(&self, _path: &str) -> Result<()> {
        Err(Self::refuse_writes())
    }

    async fn delete_stream(&self, _paths: BoxStream<'static, String>) -> Result<()> {
        Err(Self::refuse_writes())
    }

    fn new_input(&self, path: &str) -> Result<InputFile> {
        self.admit(path)?;
        // Reads through the returned file come back to this storage.
        Ok(InputFile::new(Arc::new(self.clone()), path.to_string()))
    }

    fn new_output(&self, _path: &str) -> Result<OutputFile> {
        Err(Self::refuse_writes())
    }
}

// A confined FileIO lives and dies with one evaluation; it is never sent
// anywhere, so it has no serialized form (typetag requires the traits).
macro_rules! not_serializable {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, _s: S) -> std::result::Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom(concat!(
                    stringify!($t),
                    " is not serializable"
                )))
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(_d: D) -> std::result::Result<Self, D::Error> {
                Err(serde::de::Error::custom(concat!(
                    stringify!($t),
                    " is not deserializable"
                )))
            }
        }
    };
}

not_serializable!(ConfinedStorageFactory);
not_serializable!(ConfinedStorage);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_recognised() {
        assert_eq!(local_path("file:///a/b"), Some("/a/b"));
        assert_eq!(local_path("/a/b"), Some("/a/b"));
        assert_eq!(local_path("s3://bucket/k"), None);
    }
}
