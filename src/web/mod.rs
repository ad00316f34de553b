//! The pages people look at: the live public feed (`/`), a tag's event page
//! (`/tags/{tag}`), search over all history (`/search?q=`), a profile (`/@{username}`), a notice with its thread and its earlier
//! versions (`/@{username}/{id}`), and the embeddable feed of a tag (`/embed/tags/{tag}`).
//!
//! Every page is rendered on the server (askama templates, escaped by default and checked
//! at compile time), so it reads with JavaScript off, on a slow phone, and by crawlers and
//! archives. A page with a live feed carries the stream position read *before* its
//! notices: `assets/web/live.js` resumes from there, so nothing posted while the page
//! loaded is missed, and a notice already shown is replaced, not repeated.
//!
//! The same addresses are the `url`s of our API entities: a request that does not ask
//! for HTML (`Accept` without `text/html`) gets the JSON of `crate::api::links`.
//!
//! Static files (`assets/web`) are compiled in and served under names that carry their
//! content's hash, with a year's cache lifetime, an `ETag`, and gzip when the client takes
//! it. Pages carry a Content-Security-Policy without inline scripts or styles; all but the
//! embed refuse to be framed.

pub mod assets;

use crate::api::Api;
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{MaybeScoped, ReadAccounts, ReadStatuses, parse_id};
use crate::domain::entities::{Account, MediaAttachment, Status, StatusRecord, Visibility};
use crate::domain::text::{is_tag, normalize_tag};
use crate::domain::{StatusId, iso8601};
use crate::store::{AccountFilter, Page, Timeline};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

pub use assets::Assets;

pub fn router() -> Router<Api> {
    Router::new()
        .route("/", get(home))
        .route("/tags/{tag}", get(tag_page))
        .route("/@{username}", get(profile))
        .route("/@{username}/{id}", get(thread))
        .route("/embed/tags/{tag}", get(embed))
        .route("/search", get(search))
        .route("/assets/{file}", get(assets::serve))
}

/// Notices on a page.
const PAGE: i64 = 40;

/// Does the request ask for a page (a browser), rather than the entity's JSON?
fn wants_html(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// Helpers the templates call on the API's entities.
pub trait View {
    fn display_name_or_username(&self) -> &str;
}

impl View for Account {
    fn display_name_or_username(&self) -> &str {
        if self.display_name.trim().is_empty() {
            &self.username
        } else {
            &self.display_name
        }
    }
}

/// The notice a row shows: the original of a reblog.
pub trait Shown {
    fn shown(&self) -> &Status;
}

impl Shown for Status {
    fn shown(&self) -> &Status {
        self.reblog.as_deref().unwrap_or(self)
    }
}

/// An ISO 8601 time as a reader without JavaScript sees it: `2026-11-29 12:40 UTC` (the
/// live client turns it into "3 min ago").
pub fn human_time(iso: &str) -> String {
    match (iso.get(..10), iso.get(11..16)) {
        (Some(day), Some(minute)) => format!("{day} {minute} UTC"),
        _ => iso.to_string(),
    }
}

pub trait Described {
    fn description_text(&self) -> &str;
}

impl Described for MediaAttachment {
    fn description_text(&self) -> &str {
        self.description.as_deref().unwrap_or("")
    }
}

/// What a live page subscribes to, and from where.
pub struct LiveFeed {
    pub stream: &'static str,
    pub tag: String,
    pub position: String,
}

#[derive(Template)]
#[template(path = "feed.html")]
struct FeedPage<'a> {
    title: String,
    heading: String,
    site_name: &'a str,
    query: &'a str,
    assets: &'a Assets,
    embed: bool,
    live: Option<LiveFeed>,
    trends: Vec<String>,
    notices: Vec<Status>,
    older: Option<String>,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    title: String,
    site_name: &'a str,
    query: &'a str,
    assets: &'a Assets,
    embed: bool,
    live: Option<LiveFeed>,
    account: Account,
    pinned: Vec<Status>,
    notices: Vec<Status>,
    older: Option<String>,
}

/// One earlier (or the current) version of a notice.
struct Version {
    created_at: String,
    spoiler_text: String,
    content: String,
}

#[derive(Template)]
#[template(path = "thread.html")]
struct ThreadPage<'a> {
    title: String,
    site_name: &'a str,
    query: &'a str,
    assets: &'a Assets,
    embed: bool,
    live: Option<LiveFeed>,
    ancestors: Vec<Status>,
    notice: Status,
    descendants: Vec<Status>,
    /// Every version, oldest first; empty when it was never edited.
    history: Vec<Version>,
}

/// A rendered page with the headers every page carries.
fn page(t: &impl Template, frameable: bool) -> ApiResult<Response> {
    let body = t.render().map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut res = Html(body).into_response();
    let h = res.headers_mut();
    let frames = if frameable { "*" } else { "'none'" };
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors {frames}"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if !frameable {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(res)
}

fn render_all(node: &Api, list: &[StatusRecord]) -> Vec<Status> {
    list.iter().map(|s| Status::render(s, &node.site)).collect()
}

/// Where this page's live feed starts: the hub's routed position, read before the page's
/// notices (see the module doc). None when anonymous streams are off.
fn live(node: &Api, stream: &'static str, tag: &str) -> Option<LiveFeed> {
    node.config.anonymous_streams.then(|| LiveFeed {
        stream,
        tag: tag.to_string(),
        position: node.hub.routed_upto().get().to_string(),
    })
}

#[derive(Deserialize, Default)]
struct PageQuery {
    max_id: Option<String>,
}

fn page_of(q: &PageQuery) -> ApiResult<Page> {
    Ok(Page {
        max_id: crate::api::timelines::cursor_param("max_id", &q.max_id)?.map(StatusId::new),
        since_id: None,
        min_id: None,
        limit: PAGE,
    })
}

/// The link to the page before the last notice shown, when the page was full.
fn older(path: &str, list: &[StatusRecord]) -> Option<String> {
    (list.len() as i64 == PAGE)
        .then(|| list.last().map(|s| format!("{path}?max_id={}", s.id)))
        .flatten()
}

async fn home(State(node): State<Api>, Query(q): Query<PageQuery>) -> ApiResult<Response> {
    let live = q
        .max_id
        .is_none()
        .then(|| live(&node, "public:local", ""))
        .flatten();
    let which = Timeline::Public {
        local: true,
        remote: false,
    };
    let list = node.store.timeline(&which, page_of(&q)?, None).await?;
    let trends = node
        .store
        .trending_tags(8, crate::domain::now_micros())
        .await?
        .into_iter()
        .map(|t| t.tag)
        .collect();
    let site = node.site.domain.clone();
    page(
        &FeedPage {
            title: "Live".into(),
            heading: format!("Live on {site}"),
            site_name: &site,
            query: "",
            assets: assets::get(),
            embed: false,
            live,
            trends,
            notices: render_all(&node, &list),
            older: older("/", &list),
        },
        false,
    )
}

async fn tag_feed(node: &Api, tag: &str, q: &PageQuery, embed: bool) -> ApiResult<Response> {
    let name = normalize_tag(tag);
    if !is_tag(&name) {
        return Err(ApiError::NotFound);
    }
    let live = q
        .max_id
        .is_none()
        .then(|| live(node, "hashtag", &name))
        .flatten();
    let which = Timeline::Tag {
        tag: name.clone(),
        local: false,
        remote: false,
    };
    let list = node.store.timeline(&which, page_of(q)?, None).await?;
    let site = node.site.domain.clone();
    let path = if embed {
        format!("/embed/tags/{name}")
    } else {
        format!("/tags/{name}")
    };
    page(
        &FeedPage {
            title: format!("#{name}"),
            heading: format!("#{name}"),
            site_name: &site,
            query: "",
            assets: assets::get(),
            embed,
            live,
            trends: Vec::new(),
            notices: render_all(node, &list),
            older: older(&path, &list),
        },
        embed,
    )
}

async fn tag_page(
    State(node): State<Api>,
    Path(tag): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if !wants_html(&headers) {
        return crate::api::links::tag(State(node), Path(tag))
            .await
            .map(IntoResponse::into_response);
    }
    tag_feed(&node, &tag, &q, false).await
}

async fn embed(
    State(node): State<Api>,
    Path(tag): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    tag_feed(&node, &tag, &q, true).await
}

async fn profile(
    State(node): State<Api>,
    auth: MaybeScoped<ReadAccounts>,
    Path(username): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if !wants_html(&headers) {
        return crate::api::links::account(State(node), auth, Path(username))
            .await
            .map(IntoResponse::into_response);
    }
    let a = node
        .store
        .account_by_username(&username)
        .await?
        .ok_or(ApiError::NotFound)?;
    let timeline = |pinned| Timeline::Account {
        account_id: a.id,
        filter: AccountFilter {
            pinned,
            ..Default::default()
        },
    };
    let pinned = if q.max_id.is_none() {
        node.store
            .timeline(
                &timeline(true),
                Page {
                    max_id: None,
                    since_id: None,
                    min_id: None,
                    limit: 5,
                },
                None,
            )
            .await?
    } else {
        Vec::new()
    };
    let list = node
        .store
        .timeline(&timeline(false), page_of(&q)?, None)
        .await?;
    let site = node.site.domain.clone();
    let account = Account::render(&a, &node.site);
    page(
        &ProfilePage {
            title: format!("{} (@{})", account.display_name_or_username(), a.username),
            site_name: &site,
            query: "",
            assets: assets::get(),
            embed: false,
            live: None,
            pinned: render_all(&node, &pinned),
            older: older(&format!("/@{}", a.username), &list),
            notices: render_all(&node, &list),
            account,
        },
        false,
    )
}

async fn thread(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path((username, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if !wants_html(&headers) {
        return crate::api::links::status(State(node), auth, Path((username, id)))
            .await
            .map(IntoResponse::into_response);
    }
    let id: StatusId = parse_id(&id)?;
    let s = node
        .store
        .status(id, None)
        .await?
        .ok_or(ApiError::NotFound)?;
    // Pages are for everyone: only what anyone may read is shown on them.
    if !s.account.username.eq_ignore_ascii_case(&username)
        || !matches!(s.visibility, Visibility::Public | Visibility::Unlisted)
    {
        return Err(ApiError::NotFound);
    }
    let (ancestors, descendants) = node.store.context(id, None).await?;
    let history = if s.edited_at.is_some() {
        node.store
            .status_history(id)
            .await?
            .into_iter()
            .map(|e| Version {
                created_at: iso8601(e.created_at),
                spoiler_text: e.spoiler_text,
                content: e.content,
            })
            .collect()
    } else {
        Vec::new()
    };
    let site = node.site.domain.clone();
    let notice = Status::render(&s, &node.site);
    page(
        &ThreadPage {
            title: format!(
                "{}: {}",
                notice.account.display_name_or_username(),
                excerpt(&s.text)
            ),
            site_name: &site,
            query: "",
            assets: assets::get(),
            embed: false,
            live: None,
            ancestors: render_all(&node, &ancestors),
            descendants: render_all(&node, &descendants),
            notice,
            history,
        },
        false,
    )
}

/// The start of a notice, for a page's title.
fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        out.push('…');
    }
    out
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    title: String,
    site_name: &'a str,
    query: &'a str,
    assets: &'a Assets,
    embed: bool,
    live: Option<LiveFeed>,
    tags: Vec<String>,
    accounts: Vec<Account>,
    notices: Vec<Status>,
    older: Option<String>,
}

#[derive(Deserialize, Default)]
struct SearchQuery {
    q: Option<String>,
    offset: Option<String>,
}

/// Longest query read.
const MAX_QUERY: usize = 200;

async fn search(State(node): State<Api>, Query(p): Query<SearchQuery>) -> ApiResult<Response> {
    let q: String =
        p.q.unwrap_or_default()
            .trim()
            .chars()
            .take(MAX_QUERY)
            .collect();
    let offset = match p.offset.as_deref() {
        None | Some("") => 0,
        Some(o) => o
            .parse::<i64>()
            .ok()
            .filter(|o| (0..=10_000).contains(o))
            .ok_or_else(|| ApiError::bad_request("Invalid offset"))?,
    };
    let (mut tags, mut accounts, mut notices) = (Vec::new(), Vec::new(), Vec::new());
    if !q.is_empty() {
        let bare = q.trim_start_matches(['#', '@']);
        if offset == 0 && !bare.is_empty() {
            tags = node
                .store
                .search_tags(&normalize_tag(bare), 8, 0)
                .await?
                .into_iter()
                .map(|(t, _)| t)
                .collect();
            accounts = node
                .store
                .search_accounts(bare, None, 8, 0)
                .await?
                .iter()
                .map(|a| Account::render(a, &node.site))
                .collect();
        }
        notices = node
            .store
            .search_statuses(
                &crate::store::StatusSearch {
                    q: q.clone(),
                    account: None,
                    max_id: None,
                    min_id: None,
                    limit: PAGE,
                    offset,
                },
                None,
            )
            .await?;
    }
    let more = (notices.len() as i64 == PAGE).then(|| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("q", &q)
            .append_pair("offset", &(offset + PAGE).to_string());
        format!("/search?{}", ser.finish())
    });
    let site = node.site.domain.clone();
    page(
        &SearchPage {
            title: if q.is_empty() {
                "Search".into()
            } else {
                format!("Search: {q}")
            },
            site_name: &site,
            query: &q,
            assets: assets::get(),
            embed: false,
            live: None,
            tags,
            accounts,
            notices: render_all(&node, &notices),
            older: more,
        },
        false,
    )
}
