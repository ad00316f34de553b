//! Media: `POST /api/v2/media` (and v1) with a multipart `file`, `description` and
//! `focus`; `GET`/`PUT /api/v1/media/:id` before the image is attached; and the files
//! themselves at `/media/{key}`, served with long cache headers (a key names one file
//! for ever). Images are processed at once (see `crate::media`), so v2 answers 200, not
//! 202.

use super::error::{ApiError, ApiResult};
use super::extract::{Input, Scoped, WriteMedia};
use crate::api::Api;
use crate::domain::entities::{MediaAttachment, MediaRecord};
use crate::media::{MAX_BYTES, MediaError};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub fn router() -> Router<Api> {
    // The upload's own limit (the file and its form fields), above the default body limit.
    const UPLOAD: usize = MAX_BYTES + 64 * 1024;
    Router::new()
        .route(
            "/api/v2/media",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD)),
        )
        .route(
            "/api/v1/media",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD)),
        )
        .route("/api/v1/media/{id}", get(show).put(update))
        .route("/media/{key}", get(file))
}

/// Longest description, as Mastodon's.
const MAX_DESCRIPTION: usize = 1_500;

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

pub fn description(d: &str) -> ApiResult<String> {
    crate::domain::validate::no_controls("Description", d).map_err(|e| ApiError::invalid(e.0))?;
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::invalid(format!(
            "Validation failed: Description is too long (maximum is {MAX_DESCRIPTION} characters)"
        )));
    }
    Ok(d.trim().to_string())
}

/// `x,y`, each in -1.0..=1.0.
fn focus(f: &str) -> ApiResult<(f64, f64)> {
    let bad = || ApiError::invalid("Validation failed: focus is x,y with each in -1.0..1.0");
    let (x, y) = f.split_once(',').ok_or_else(bad)?;
    let (x, y): (f64, f64) = (
        x.trim().parse().map_err(|_| bad())?,
        y.trim().parse().map_err(|_| bad())?,
    );
    if !(-1.0..=1.0).contains(&x) || !(-1.0..=1.0).contains(&y) {
        return Err(bad());
    }
    Ok((x, y))
}

fn key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

async fn upload(
    State(node): State<Api>,
    auth: Scoped<WriteMedia>,
    mut mp: Multipart,
) -> ApiResult<Json<MediaAttachment>> {
    let me = auth.account()?;
    // An upload is the first half of a post.
    super::statuses::may_post(me)?;
    let me = me.id;
    let t = node.throttles();
    t.check(&t.media_per_account, me).await?;
    let malformed = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format!("Malformed multipart body: {e}"))
    };
    let (mut file, mut desc, mut foc) = (None, String::new(), (0.0, 0.0));
    while let Some(field) = mp.next_field().await.map_err(malformed)? {
        match field.name().unwrap_or("") {
            "file" => file = Some(field.bytes().await.map_err(malformed)?),
            "description" => desc = description(&field.text().await.map_err(malformed)?)?,
            "focus" => foc = focus(&field.text().await.map_err(malformed)?)?,
            _ => {}
        }
    }
    let file = file.ok_or_else(|| ApiError::invalid("Validation failed: File can't be blank"))?;
    let m = store_upload(&node, me, file, desc, foc).await?;
    Ok(Json(MediaAttachment::render(&m, &node.site)))
}

/// Process an uploaded image (bounded, see `crate::media`), store its files and record
/// it as `me`'s, not yet attached to a notice. Also the web composer's way in.
pub async fn store_upload(
    node: &Api,
    me: crate::domain::AccountId,
    file: bytes::Bytes,
    description: String,
    focus: (f64, f64),
) -> ApiResult<MediaRecord> {
    let p = crate::media::process(file).await?;
    let stem = key();
    let (ext, prev) = match p.original_type {
        "image/png" => ("png", format!("{stem}s.jpg")),
        _ => ("jpg", format!("{stem}s.jpg")),
    };
    let original = format!("{stem}.{ext}");
    let storage = node.media_storage();
    storage
        .put(&original, p.original_type, p.original)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    storage
        .put(&prev, "image/jpeg", p.preview)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(node
        .store
        .create_media(&MediaRecord {
            id: 0,
            account_id: me,
            status_id: None,
            file_key: original,
            preview_key: prev,
            width: p.width,
            height: p.height,
            preview_width: p.preview_width,
            preview_height: p.preview_height,
            blurhash: p.blurhash,
            description,
            focus,
        })
        .await?)
}

/// The caller's own upload, or 404.
async fn own(node: &Api, me: crate::domain::AccountId, id: &str) -> ApiResult<MediaRecord> {
    let id: i64 = super::extract::parse_id(id)?;
    node.store
        .media(id)
        .await?
        .filter(|m| m.account_id == me)
        .ok_or(ApiError::NotFound)
}

async fn show(
    State(node): State<Api>,
    auth: Scoped<WriteMedia>,
    Path(id): Path<String>,
) -> ApiResult<Json<MediaAttachment>> {
    let m = own(&node, auth.account()?.id, &id).await?;
    Ok(Json(MediaAttachment::render(&m, &node.site)))
}

#[derive(Deserialize)]
struct MediaForm {
    description: Option<String>,
    focus: Option<String>,
}

async fn update(
    State(node): State<Api>,
    auth: Scoped<WriteMedia>,
    Path(id): Path<String>,
    Input(f): Input<MediaForm>,
) -> ApiResult<Json<MediaAttachment>> {
    let m = own(&node, auth.account()?.id, &id).await?;
    if m.status_id.is_some() {
        return Err(ApiError::invalid(
            "Validation failed: an attached image is changed by editing its notice",
        ));
    }
    let d = f.description.as_deref().map(description).transpose()?;
    let fo = f.focus.as_deref().map(focus).transpose()?;
    node.store.describe_media(m.id, d.as_deref(), fo).await?;
    let m = own(&node, m.account_id, &m.id.to_string()).await?;
    Ok(Json(MediaAttachment::render(&m, &node.site)))
}

async fn file(State(node): State<Api>, Path(key): Path<String>) -> ApiResult<Response> {
    // Served while it belongs to an upload not yet posted or to a notice that stands: a
    // deleted notice's images go with it.
    if !node.store.media_file_live(&key).await? {
        return Err(ApiError::NotFound);
    }
    let (kind, bytes) = node
        .media_storage()
        .get(&key)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or(ApiError::NotFound)?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&kind) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}
