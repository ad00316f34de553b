//! The pages' static files, compiled into the binary and served under names that carry a
//! hash of their content (`tidings-<hash>.css`): a new build's files have new names, so
//! each may be cached for a year. Each has a strong `ETag` (its hash) and a gzip form,
//! made once at first use (`flate2`), sent when the client accepts it.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::LazyLock;

/// The hashed addresses the templates link to.
pub struct Assets {
    pub css: String,
    pub js: String,
}

struct File {
    name: String,
    content_type: &'static str,
    plain: &'static [u8],
    gzip: Vec<u8>,
    etag: String,
}

const SOURCES: [(&str, &str, &str, &[u8]); 2] = [
    (
        "tidings",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/web/tidings.css"),
    ),
    (
        "live",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/web/live.js"),
    ),
];

static FILES: LazyLock<(Assets, Vec<File>)> = LazyLock::new(|| {
    let files: Vec<File> = SOURCES
        .iter()
        .map(|(stem, ext, content_type, plain)| {
            let hash = hex::encode(&Sha256::digest(plain)[..8]);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let gzip = gz
                .write_all(plain)
                .and_then(|_| gz.finish())
                .unwrap_or_default();
            File {
                name: format!("{stem}-{hash}.{ext}"),
                content_type,
                plain,
                gzip,
                etag: format!("\"{hash}\""),
            }
        })
        .collect();
    let url = |ext: &str| {
        files
            .iter()
            .find(|f| f.name.ends_with(ext))
            .map(|f| format!("/assets/{}", f.name))
            .unwrap_or_default()
    };
    (
        Assets {
            css: url(".css"),
            js: url(".js"),
        },
        files,
    )
});

pub fn get() -> &'static Assets {
    &FILES.0
}

/// Sizes (plain, gzip) of each file, by name: for the budgets in BENCHMARKS.md.
pub fn sizes() -> Vec<(String, usize, usize)> {
    FILES
        .1
        .iter()
        .map(|f| (f.name.clone(), f.plain.len(), f.gzip.len()))
        .collect()
}

pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(f) = FILES.1.iter().find(|f| f.name == name) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(f.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(&f.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == f.etag));
    if unchanged {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    let gzip = !f.gzip.is_empty()
        && f.gzip.len() < f.plain.len()
        && headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (h, f.gzip.clone()).into_response()
    } else {
        (h, f.plain).into_response()
    }
}

/// The embed snippet's script, at a stable address (`/embed.js`: pasted into other
/// sites, it cannot carry a hash), cached for an hour.
pub async fn embed_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        include_str!("../../assets/web/embed.js"),
    )
        .into_response()
}
