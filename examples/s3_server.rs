//! A local S3-protocol server (s3s with SigV4, files from s3s-fs) for
//! benchmarks and trying dqgate's S3 support: every folder under ROOT is a
//! bucket.
//!
//!     cargo run --release --example s3_server -- ROOT [PORT]
//!
//! Requests must be signed with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
//! from the environment. Listens on 127.0.0.1 only. With
//! `S3_SERVER_LOG_REQUESTS=1` every request is one line on stderr
//! (`request GET /bucket/key bytes=0-1023`), which bench/s3.sh counts.
//!
//! GET and HEAD are served here rather than by s3s-fs: for a file that was
//! copied into ROOT (not uploaded through the server) s3s-fs computes the
//! MD5 of the whole file for the ETag on every request, ranged or not, and
//! streams in 4 KiB chunks. That made the server, not the client, the
//! bottleneck of the S3 benchmark (62 s of server CPU against 16 s of
//! dqgate's for one 10M-row run). Here the ETag is the file's size and
//! modification time, as many S3-compatible servers do for files they did
//! not receive, and ranges stream in 1 MiB chunks. Everything else (LIST,
//! PUT, buckets) is s3s-fs.

use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use s3s::dto::{
    ContentLength, CreateBucketInput, CreateBucketOutput, DeleteObjectInput, DeleteObjectOutput,
    ETag, GetObjectInput, GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput,
    HeadObjectOutput, ListBucketsInput, ListBucketsOutput, ListObjectsInput, ListObjectsOutput,
    ListObjectsV2Input, ListObjectsV2Output, PutObjectInput, PutObjectOutput, Range, StreamingBlob,
    Timestamp,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Bytes read from disk per chunk of a response body.
const CHUNK: usize = 1 << 20;

struct Files {
    root: PathBuf,
    fs: s3s_fs::FileSystem,
}

/// A file's facts for GET and HEAD.
struct Stat {
    len: u64,
    modified: Timestamp,
    e_tag: ETag,
}

impl Files {
    /// `ROOT/bucket/key`, refusing keys that climb out of the bucket.
    fn path(&self, bucket: &str, key: &str) -> S3Result<PathBuf> {
        let key = Path::new(key);
        if key.components().any(|c| !matches!(c, Component::Normal(_)))
            || bucket.contains(['/', '\\'])
            || bucket.starts_with('.')
        {
            return Err(s3_error!(InvalidArgument, "bad bucket or key"));
        }
        Ok(self.root.join(bucket).join(key))
    }

    async fn stat(path: &Path) -> S3Result<Stat> {
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|_| s3_error!(NoSuchKey))?;
        if !meta.is_file() {
            return Err(s3_error!(NoSuchKey));
        }
        let modified = meta.modified().map_err(|e| s3_error!(e, InternalError))?;
        let nanos = modified
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Ok(Stat {
            len: meta.len(),
            modified: Timestamp::from(modified),
            e_tag: ETag::Strong(format!("{:x}-{nanos:x}", meta.len())),
        })
    }
}

#[async_trait::async_trait]
impl S3 for Files {
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let path = self.path(&input.bucket, &input.key)?;
        let stat = Self::stat(&path).await?;
        let (start, end) = match &input.range {
            None => (0, stat.len),
            Some(range) => {
                let r = range.check(stat.len)?;
                (r.start, r.end)
            }
        };
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|_| s3_error!(NoSuchKey))?;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| s3_error!(e, InternalError))?;
        let chunks = futures::stream::unfold((file, end - start), |(mut file, left)| async move {
            if left == 0 {
                return None;
            }
            let n = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            let mut buf = vec![0_u8; n];
            match file.read_exact(&mut buf).await {
                Ok(_) => Some((Ok(Bytes::from(buf)), (file, left - n as u64))),
                Err(e) => Some((Err(e), (file, 0))),
            }
        });
        let output = GetObjectOutput {
            body: Some(StreamingBlob::wrap(chunks)),
            content_length: Some(ContentLength::try_from(end - start).unwrap_or_default()),
            content_range: input
                .range
                .as_ref()
                .map(|_: &Range| format!("bytes {start}-{}/{}", end.saturating_sub(1), stat.len)),
            last_modified: Some(stat.modified),
            e_tag: Some(stat.e_tag),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let path = self.path(&req.input.bucket, &req.input.key)?;
        let stat = Self::stat(&path).await?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(ContentLength::try_from(stat.len).unwrap_or_default()),
            last_modified: Some(stat.modified),
            e_tag: Some(stat.e_tag),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.fs.list_objects_v2(req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.fs.list_objects(req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.fs.list_buckets(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.fs.put_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.fs.delete_object(req).await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = args.next().ok_or("usage: s3_server ROOT [PORT]")?;
    let port: u16 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(9000);
    let key = std::env::var("AWS_ACCESS_KEY_ID").map_err(|_| "set AWS_ACCESS_KEY_ID")?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").map_err(|_| "set AWS_SECRET_ACCESS_KEY")?;
    let files = Files {
        root: std::fs::canonicalize(&root)?,
        fs: s3s_fs::FileSystem::new(&root).map_err(|e| format!("{e:?}"))?,
    };
    let mut builder = s3s::service::S3ServiceBuilder::new(files);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(key, secret));
    let service = builder.build();
    let log_requests = std::env::var("S3_SERVER_LOG_REQUESTS").is_ok_and(|v| v == "1");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("serving {root} on http://{}", listener.local_addr()?);
    loop {
        let (socket, _) = listener.accept().await?;
        let service = service.clone();
        let logged =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                if log_requests {
                    let range = req
                        .headers()
                        .get(hyper::header::RANGE)
                        .and_then(|r| r.to_str().ok())
                        .unwrap_or("-");
                    eprintln!("request {} {} {range}", req.method(), req.uri());
                }
                hyper::service::Service::call(&service, req)
            });
        tokio::spawn(async move {
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(socket), logged)
                .await;
        });
    }
}
