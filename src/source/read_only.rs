//! One read-only `ObjectStore` over another, for the views that let
//! DataFusion see only part of a store: a [`View`] says which objects may
//! be read and what a listing shows; [`ReadOnly`] refuses every write and
//! passes admitted reads through.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// What a read-only view reads and lists.
#[async_trait::async_trait]
pub(super) trait View: fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// The view, in the words of the error a write gets.
    const WHAT: &'static str;

    /// The store reads go to.
    fn inner(&self) -> &dyn ObjectStore;

    /// Refuses a location the view may not read.
    fn admit(&self, location: &ObjectPath) -> object_store::Result<()>;

    /// The objects under `prefix` the view shows.
    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>>;

    /// One level of the listing under `prefix`.
    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult>;
}

/// A [`View`] as a store that cannot be written.
#[derive(Debug)]
pub(super) struct ReadOnly<V>(pub V);

impl<V: View> fmt::Display for ReadOnly<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

fn refused(what: &'static str) -> object_store::Error {
    object_store::Error::NotSupported {
        source: format!("{what} is read-only").into(),
    }
}

#[async_trait::async_trait]
impl<V: View> ObjectStore for ReadOnly<V> {
    async fn put_opts(
        &self,
        _location: &ObjectPath,
        _payload: PutPayload,
        _opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(refused(V::WHAT))
    }

    async fn put_multipart_opts(
        &self,
        _location: &ObjectPath,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(refused(V::WHAT))
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.0.admit(location)?;
        self.0.inner().get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &ObjectPath,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.0.admit(location)?;
        self.0.inner().get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        locations.map(|_| Err(refused(V::WHAT))).boxed()
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.0.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.0.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        _from: &ObjectPath,
        _to: &ObjectPath,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        Err(refused(V::WHAT))
    }
}
