//! The pages' static files, compiled into the binary and served under names that carry a
//! hash of their content (`tidings-<hash>.css`): a new build's files have new names, so
//! each may be cached for a year. Each has a strong `ETag` (its hash) and brotli and gzip
//! forms, made once at first use (`brotli`, `flate2`), sent when the client accepts them.
//!
//! The live client of `clients/js` is one of them; the pages' script imports it by its
//! hashed name (its `./tidings.js` import is rewritten here, before that script is
//! hashed), and other sites import it from the stable `/tidings.js`.

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
    plain: Vec<u8>,
    gzip: Vec<u8>,
    brotli: Vec<u8>,
    etag: String,
}

const CSS: &str = include_str!("../../assets/web/tidings.css");
const CLIENT: &str = include_str!("../../clients/js/tidings.js");
const PAGES_JS: &str = include_str!("../../assets/web/live.js");
const JS: &str = "text/javascript; charset=utf-8";

fn file(stem: &str, ext: &str, content_type: &'static str, plain: Vec<u8>) -> File {
    let hash = hex::encode(&Sha256::digest(&plain)[..8]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let gzip = gz
        .write_all(&plain)
        .and_then(|_| gz.finish())
        .unwrap_or_default();
    let mut brotli = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    if brotli::BrotliCompress(&mut &plain[..], &mut brotli, &params).is_err() {
        brotli.clear();
    }
    File {
        name: format!("{stem}-{hash}.{ext}"),
        content_type,
        plain,
        gzip,
        brotli,
        etag: format!("\"{hash}\""),
    }
}

static FILES: LazyLock<(Assets, Vec<File>)> = LazyLock::new(|| {
    let css = file("tidings", "css", "text/css; charset=utf-8", CSS.into());
    let client = file("tidings", "js", JS, CLIENT.into());
    let pages = PAGES_JS.replace(
        "from \"./tidings.js\"",
        &format!("from \"./{}\"", client.name),
    );
    let live = file("live", "js", JS, pages.into_bytes());
    (
        Assets {
            css: format!("/assets/{}", css.name),
            js: format!("/assets/{}", live.name),
        },
        vec![css, client, live],
    )
});

pub fn get() -> &'static Assets {
    &FILES.0
}

/// Sizes (plain, gzip, brotli) of each file, by name: for the budgets in BENCHMARKS.md.
pub fn sizes() -> Vec<(String, usize, usize, usize)> {
    FILES
        .1
        .iter()
        .map(|f| (f.name.clone(), f.plain.len(), f.gzip.len(), f.brotli.len()))
        .collect()
}

/// Which compressed form to send: brotli, gzip, or none.
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|e| {
                let mut parts = e.split(';');
                parts.next().is_some_and(|c| c.trim() == coding)
                    && !parts.any(|p| p.trim().replace(' ', "") == "q=0")
            })
        })
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
    if !f.brotli.is_empty() && f.brotli.len() < f.plain.len() && accepts(&headers, "br") {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        return (h, f.brotli.clone()).into_response();
    }
    if !f.gzip.is_empty() && f.gzip.len() < f.plain.len() && accepts(&headers, "gzip") {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (h, f.gzip.clone()).into_response();
    }
    (h, f.plain.clone()).into_response()
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

/// The live client (`clients/js/tidings.js`) at a stable address, for other sites to
/// `import` (a module from another origin needs CORS), cached for an hour.
pub async fn client_module() -> Response {
    (
        [
            (header::CONTENT_TYPE, JS),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        CLIENT,
    )
        .into_response()
}
