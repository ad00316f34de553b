//! Timelines and their paging: `max_id`, `since_id`, `min_id`, `limit`, a `Link` header
//! that keeps the original query, and `ETag`/`If-None-Match` for cheap polling.

use super::error::{ApiError, ApiResult};
use super::extract::{MaybeScoped, Query, ReadStatuses, Scoped};
use crate::Node;
use crate::api::Api;
use crate::domain::entities::Status;
use crate::domain::event::STANDING;
use crate::domain::text::normalize_tag;
use crate::domain::{AccountId, StatusId, StreamKey};
use crate::store::{CursorPage, Page, Timeline};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/timelines/public", get(public))
        .route("/api/v1/timelines/tag/{hashtag}", get(tag))
        .route("/api/v1/timelines/home", get(home))
}

#[derive(Deserialize, Default)]
pub struct TimelineParams {
    pub max_id: Option<String>,
    pub since_id: Option<String>,
    pub min_id: Option<String>,
    pub limit: Option<String>,
    pub local: Option<String>,
    pub remote: Option<String>,
    // A profile's notices (`GET /api/v1/accounts/:id/statuses`) only:
    pub pinned: Option<String>,
    pub exclude_replies: Option<String>,
    pub exclude_reblogs: Option<String>,
    pub only_media: Option<String>,
    pub tagged: Option<String>,
}

pub fn flag(v: &Option<String>) -> ApiResult<bool> {
    match v.as_deref() {
        None | Some("false") | Some("0") | Some("") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!("Invalid boolean: {other:?}"))),
    }
}

impl TimelineParams {
    /// Paging of a list by cursor: `limit` defaults to `default`, at most `max`.
    pub fn cursor_page(&self, default: i64, max: i64) -> ApiResult<CursorPage> {
        let cursor = cursor_param;
        let limit = match self.limit.as_deref() {
            None | Some("") => default,
            Some(s) => s
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("Invalid limit: {s:?}")))?,
        };
        Ok(CursorPage {
            max: cursor("max_id", &self.max_id)?,
            since: cursor("since_id", &self.since_id)?,
            min: cursor("min_id", &self.min_id)?,
            limit: limit.clamp(1, max),
        })
    }

    pub fn page(&self) -> ApiResult<Page> {
        let id = |name: &str, v: &Option<String>| -> ApiResult<Option<StatusId>> {
            Ok(cursor_param(name, v)?.map(StatusId::new))
        };
        let limit = match self.limit.as_deref() {
            None | Some("") => 20,
            Some(s) => s
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("Invalid limit: {s:?}")))?,
        };
        Ok(Page {
            max_id: id("max_id", &self.max_id)?,
            since_id: id("since_id", &self.since_id)?,
            min_id: id("min_id", &self.min_id)?,
            limit: limit.clamp(1, 40),
        })
    }
}

async fn public(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Query(p): Query<TimelineParams>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let which = Timeline::Public {
        local: flag(&p.local)?,
        remote: flag(&p.remote)?,
    };
    paged(&node, &which, &p, auth.account_id(), &uri, &headers).await
}

async fn tag(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path(tag): Path<String>,
    Query(p): Query<TimelineParams>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    crate::domain::validate::no_controls("Tag", &tag).map_err(|e| ApiError::invalid(e.0))?;
    let tag = normalize_tag(&tag);
    if tag.is_empty() {
        return Err(ApiError::NotFound);
    }
    let which = Timeline::Tag {
        tag,
        local: flag(&p.local)?,
        remote: flag(&p.remote)?,
    };
    paged(&node, &which, &p, auth.account_id(), &uri, &headers).await
}

async fn home(
    State(node): State<Api>,
    auth: Scoped<ReadStatuses>,
    Query(p): Query<TimelineParams>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let me = auth.account()?.id;
    paged(
        &node,
        &Timeline::Home { account_id: me },
        &p,
        Some(me),
        &uri,
        &headers,
    )
    .await
}

/// Read one page and answer it with `Link` and `ETag` (or 304 when unchanged).
pub async fn paged(
    node: &Node,
    which: &Timeline,
    p: &TimelineParams,
    viewer: Option<AccountId>,
    uri: &Uri,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let page = p.page()?;
    // An anonymous poll of a public timeline: its ETag is the stream's head, so an
    // unchanged one is answered here, without the database (`crate::stream::heads`).
    let mut head_tag = None;
    if viewer.is_none()
        && let Some(key) = polled_stream(which)
    {
        let heads = &node.hub.heads;
        // The page's stream, and the standing of accounts and domains (a suspension or a
        // silence, made or lifted, changes public pages without an event on their streams).
        for k in [key.as_str(), STANDING] {
            if heads.follow(k) {
                heads.learnt(k, node.store.stream_head(k).await?.get());
            }
        }
        let unrouted = &node.hub.unrouted;
        if !unrouted.in_flight(&key)
            && !unrouted.in_flight(STANDING)
            && let (Some(head), Some(standing)) = (heads.get(&key), heads.get(STANDING))
        {
            let query = uri.path_and_query().map_or("", |q| q.as_str());
            let tag = format!(
                "W/\"h{head}.{standing}-{}\"",
                hex::encode(&Sha256::digest(query.as_bytes())[..8])
            );
            if if_none_match(headers, &tag) {
                node.metrics
                    .polls_unchanged
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut out = HeaderMap::new();
                out.insert(
                    header::ETAG,
                    HeaderValue::from_str(&tag).map_err(|e| ApiError::Internal(e.to_string()))?,
                );
                out.insert(header::VARY, HeaderValue::from_static("Authorization"));
                return Ok((StatusCode::NOT_MODIFIED, out).into_response());
            }
            head_tag = Some(tag);
        }
    }
    let list = node.store.timeline(which, page, viewer).await?;
    let context = match which {
        Timeline::Home { .. } | Timeline::List { .. } => "home",
        Timeline::Account { .. } => "account",
        Timeline::Public { .. } | Timeline::Tag { .. } | Timeline::Event { .. } => "public",
    };
    let rendered: Vec<Status> =
        super::filters::render_filtered(node, viewer, context, &list).await?;
    let body = serde_json::to_vec(&rendered).map_err(|e| ApiError::Internal(e.to_string()))?;
    let body_tag = format!("W/\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
    // A poller may hold the page's hash (given while a notice was in flight) where the
    // head's tag is given now: the same page is still a 304, with the tag to use next.
    let unchanged = if_none_match(headers, &body_tag)
        || head_tag
            .as_deref()
            .is_some_and(|t| if_none_match(headers, t));
    let etag = head_tag.unwrap_or(body_tag);
    let mut out_headers = HeaderMap::new();
    out_headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    out_headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    if let (Some(first), Some(last)) = (list.first(), list.last()) {
        let link = link_header(&node.site.base_url, uri, first.id, last.id);
        out_headers.insert(
            header::LINK,
            HeaderValue::from_str(&link).map_err(|e| ApiError::Internal(e.to_string()))?,
        );
    }
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, out_headers).into_response());
    }
    out_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok((StatusCode::OK, out_headers, body).into_response())
}

/// Does the request's `If-None-Match` name `etag`?
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// The stream whose head stands for an anonymous reader's page of `which`: every change
/// to the page's notices is an event on it (see `crate::stream::heads`). `None` for the
/// timelines whose pages depend on their reader or on more than one stream.
fn polled_stream(which: &Timeline) -> Option<String> {
    Some(match which {
        Timeline::Public {
            local: true,
            remote: false,
        } => StreamKey::PublicLocal.key(),
        Timeline::Public {
            local: false,
            remote: true,
        } => StreamKey::PublicRemote.key(),
        Timeline::Public { .. } => StreamKey::Public.key(),
        Timeline::Tag {
            tag,
            local: true,
            remote: false,
        } => StreamKey::HashtagLocal(tag.clone()).key(),
        Timeline::Tag { tag, .. } => StreamKey::Hashtag(tag.clone()).key(),
        _ => return None,
    })
}

/// `body` as JSON, with a `Link` to the pages around it when `bounds` (the cursors of its
/// newest and oldest rows) are given: every paged list but timelines answers this way.
pub fn linked<T: serde::Serialize>(
    body: &T,
    base: &str,
    uri: &Uri,
    bounds: Option<(i64, i64)>,
) -> Response {
    let mut res = axum::Json(body).into_response();
    if let Some((newest, oldest)) = bounds
        && let Ok(v) = HeaderValue::from_str(&link_header(base, uri, newest, oldest))
    {
        res.headers_mut().insert(header::LINK, v);
    }
    res
}

/// The cursors of a page's first and last rows, for [`linked`].
pub fn bounds_of<T>(rows: &[T], cursor: impl Fn(&T) -> i64) -> Option<(i64, i64)> {
    Some((cursor(rows.first()?), cursor(rows.last()?)))
}

/// An optional cursor parameter (`max_id`, `since_id`, `min_id`): a number, or 400.
pub fn cursor_param(name: &str, v: &Option<String>) -> ApiResult<Option<i64>> {
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("Invalid {name}: {s:?}"))),
    }
}

/// `next` pages older (`max_id` = the last id), `prev` newer (`min_id` = the first id);
/// every other query parameter is kept as it was — except `access_token`, which a link
/// must not repeat (it would land in logs and caches along the way).
pub fn link_header(
    base: &str,
    uri: &Uri,
    newest: impl std::fmt::Display,
    oldest: impl std::fmt::Display,
) -> String {
    let kept: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "max_id" | "min_id" | "since_id" | "access_token"
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let make = |key: &str, id: String| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &kept {
            ser.append_pair(k, v);
        }
        ser.append_pair(key, &id.to_string());
        format!("{base}{}?{}", uri.path(), ser.finish())
    };
    format!(
        "<{}>; rel=\"next\", <{}>; rel=\"prev\"",
        make("max_id", oldest.to_string()),
        make("min_id", newest.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_keeps_other_parameters_and_replaces_cursors() {
        let uri: Uri = "/api/v1/timelines/tag/x?limit=2&max_id=99&local=true&access_token=s3cret"
            .parse()
            .unwrap();
        assert_eq!(
            link_header("https://t.test", &uri, StatusId::new(50), StatusId::new(40)),
            "<https://t.test/api/v1/timelines/tag/x?limit=2&local=true&max_id=40>; rel=\"next\", \
             <https://t.test/api/v1/timelines/tag/x?limit=2&local=true&min_id=50>; rel=\"prev\""
        );
    }

    #[test]
    fn bad_paging_is_refused_and_limit_is_clamped() {
        let p = TimelineParams {
            max_id: Some("abc".into()),
            ..Default::default()
        };
        assert!(p.page().is_err());
        let p = TimelineParams {
            limit: Some("400".into()),
            ..Default::default()
        };
        assert_eq!(p.page().unwrap().limit, 40);
    }
}
