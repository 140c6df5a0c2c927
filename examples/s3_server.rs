//! A local S3-protocol server (s3s-fs) for benchmarks and trying dqgate's
//! S3 support: every folder under ROOT is a bucket.
//!
//!     cargo run --release --example s3_server -- ROOT [PORT]
//!
//! Requests must be signed with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
//! from the environment. Listens on 127.0.0.1 only. With
//! `S3_SERVER_LOG_REQUESTS=1` every request is one line on stderr
//! (`request GET /bucket/key bytes=0-1023`), which bench/s3.sh counts.

use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = args.next().ok_or("usage: s3_server ROOT [PORT]")?;
    let port: u16 = args.next().map(|p| p.parse()).transpose()?.unwrap_or(9000);
    let key = std::env::var("AWS_ACCESS_KEY_ID").map_err(|_| "set AWS_ACCESS_KEY_ID")?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").map_err(|_| "set AWS_SECRET_ACCESS_KEY")?;
    let mut builder = s3s::service::S3ServiceBuilder::new(
        s3s_fs::FileSystem::new(&root).map_err(|e| format!("{e:?}"))?,
    );
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
