//! The console's static files, embedded in the binary: the stylesheet and
//! the bundles `ui/build.mjs` writes (committed, so building dqgate needs
//! neither Node nor a network). Each answer carries a strong ETag, so a
//! browser revalidates with a 304 instead of downloading again.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Every file under `/assets/`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("assets/console.css"),
    },
    Asset {
        name: "charts.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("assets/charts.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("assets/icon.svg"),
    },
    Asset {
        name: "editor.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("assets/editor.css"),
    },
    Asset {
        name: "editor.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/editor.js"),
    },
    Asset {
        name: "charts.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/charts.js"),
    },
    Asset {
        name: "htmx.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/htmx.js"),
    },
];

/// The ETag of each asset, in `ASSETS` order, computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = crate::api::auth::hash_bytes(a.body);
                format!("\"{}\"", &digest[..16])
            })
            .collect()
    })
}

/// `GET /assets/{file}`.
pub(super) async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some((index, asset)) = ASSETS.iter().enumerate().find(|(_, a)| a.name == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let etag = &etags()[index];
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let out = response.headers_mut();
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        out.insert(header::ETAG, v);
    }
    response
}
