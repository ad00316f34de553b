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
mod events;
pub mod feeds;
pub mod session;
pub mod wiki;

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
use session::{Session, SignedIn};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/", get(home))
        .route(
            "/local.atom",
            get(|s, q, h| local_feed(s, q, h, feeds::Format::Atom)),
        )
        .route(
            "/local.rss",
            get(|s, q, h| local_feed(s, q, h, feeds::Format::Rss)),
        )
        .route("/tags/{tag}", get(tag_page))
        .route("/@{username}", get(profile))
        .route("/@{username}/{id}", get(thread))
        .route("/embed/tags/{tag}", get(embed))
        .route("/events", get(events::events_page))
        .route("/events/{slug}", get(events::event_page))
        .route("/embed/events/{slug}", get(events::event_embed))
        .route("/search", get(search))
        .route("/auth/sign_in", get(sign_in_page).post(sign_in))
        .route("/auth/sign_up", get(sign_up_page).post(sign_up))
        .route("/auth/sign_out", axum::routing::post(sign_out))
        .route(
            "/web/statuses",
            axum::routing::post(post_status).layer(axum::extract::DefaultBodyLimit::max(
                crate::media::MAX_BYTES + 64 * 1024,
            )),
        )
        .route(
            "/web/statuses/{id}/delete",
            axum::routing::post(delete_status),
        )
        .route("/web/statuses/{id}/edit", axum::routing::post(edit_status))
        .merge(wiki::router())
        .route("/assets/{file}", get(assets::serve))
        .route("/embed.js", get(assets::embed_script))
        .route("/tidings.js", get(assets::client_module))
        // Pages compress well (a tag page of 40 notices: 44 KB, 2.3 KB gzipped). Only
        // these routes: streams must never be buffered by a compressor.
        .layer(
            tower_http::compression::CompressionLayer::new()
                .gzip(true)
                .br(true),
        )
}

/// Notices on a page: the first HTML of an event page stays small on a phone (about 1 KB
/// a notice), and "Older notices" or the live feed bring more. `?limit=` takes up to
/// [`MAX_PAGE`].
const PAGE: i64 = 20;
const MAX_PAGE: i64 = 40;

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

/// What every page's frame (`templates/base.html`) shows: its title, the site, the
/// search box, the assets, whether it is an embed, its live feed, who is signed in, and
/// where its forms send the reader back to.
pub struct Layout {
    title: String,
    /// The page's feeds (this path + `.atom` / `.rss`), announced in its head.
    feed: Option<String>,
    site_name: String,
    query: String,
    assets: &'static Assets,
    embed: bool,
    live: Option<LiveFeed>,
    signed_in: Option<SignedIn>,
    back: String,
}

/// What a live page subscribes to, and from where.
pub struct LiveFeed {
    pub stream: &'static str,
    pub tag: String,
    /// A live event's slug, for the `event` stream.
    pub event: String,
    pub position: String,
    /// The REST timeline the page polls when it cannot stream.
    pub poll: String,
}

#[derive(Template)]
#[template(path = "feed.html")]
struct FeedPage {
    l: Layout,
    heading: String,
    trends: Vec<String>,
    composer: Option<Composer>,
    notices: Vec<Status>,
    older: Option<String>,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    l: Layout,
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
struct ThreadPage {
    l: Layout,
    ancestors: Vec<Status>,
    notice: Status,
    descendants: Vec<Status>,
    composer: Option<Composer>,
    edit: Option<EditForm>,
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
        event: String::new(),
        position: node.hub.routed_upto().get().to_string(),
        poll: if tag.is_empty() {
            "/api/v1/timelines/public?local=true".into()
        } else {
            format!("/api/v1/timelines/tag/{tag}")
        },
    })
}

#[derive(Deserialize, Default)]
struct PageQuery {
    max_id: Option<String>,
    limit: Option<String>,
}

impl PageQuery {
    fn limit(&self) -> ApiResult<i64> {
        match self.limit.as_deref() {
            None | Some("") => Ok(PAGE),
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|l| (1..=MAX_PAGE).contains(l))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("limit is a number from 1 to {MAX_PAGE}"))
                }),
        }
    }
}

fn page_of(q: &PageQuery) -> ApiResult<Page> {
    Ok(Page::before(
        crate::api::timelines::cursor_param("max_id", &q.max_id)?.map(StatusId::new),
        q.limit()?,
    ))
}

/// The link to the page before the last notice shown, when the page was full.
fn older(path: &str, list: &[StatusRecord], q: &PageQuery) -> Option<String> {
    let limit = q.limit().unwrap_or(PAGE);
    let tail = if limit == PAGE {
        String::new()
    } else {
        format!("&limit={limit}")
    };
    (list.len() as i64 == limit)
        .then(|| list.last().map(|s| format!("{path}?max_id={}{tail}", s.id)))
        .flatten()
}

async fn local_feed(
    State(node): State<Api>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    format: feeds::Format,
) -> ApiResult<Response> {
    let src = feeds::Source {
        timeline: Timeline::Public {
            local: true,
            remote: false,
        },
        title: format!("Live on {}", node.site.domain),
        description: format!("Public notices posted on {}", node.site.domain),
        page: "/".into(),
    };
    feeds::serve(&node, src, format, &q, &headers).await
}

async fn home(
    State(node): State<Api>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let me = session::session(&node, &headers).await?;
    feed_page(&node, None, &q, me.as_ref(), None).await
}

/// A composer for `me`, set out as `back`'s page needs it.
fn composer(node: &Api, me: &Session, back: &str, tag: Option<&str>) -> Composer {
    Composer {
        csrf: me.csrf(),
        back: back.to_string(),
        username: me.account.username.clone(),
        max_chars: node.config.max_chars,
        in_reply_to_id: None,
        text: tag.map(|t| format!(" #{t}")).unwrap_or_default(),
        spoiler_text: String::new(),
        visibility: me.account.profile.privacy.as_str().to_string(),
        visibilities: VISIBILITIES.to_vec(),
        error: None,
        barred: me.account.standing.posting_bar.map(|b| b.message()),
    }
}

/// The live feed of the server (`tag` none) or of a tag, for `me` (with her composer,
/// holding `draft` when a post of hers was refused), or embedded.
async fn feed_page(
    node: &Api,
    tag: Option<&str>,
    q: &PageQuery,
    me: Option<&Session>,
    draft: Option<Composer>,
) -> ApiResult<Response> {
    if let Some(t) = tag {
        return tag_feed(node, t, q, false, me, draft).await;
    }
    let node = node.clone();
    let live = q
        .max_id
        .is_none()
        .then(|| live(&node, "public:local", ""))
        .flatten();
    let which = Timeline::Public {
        local: true,
        remote: false,
    };
    let list = node.store.timeline(&which, page_of(q)?, None).await?;
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
            l: Layout {
                feed: Some("/local".into()),
                title: "Live".into(),
                site_name: site,
                query: String::new(),
                assets: assets::get(),
                embed: false,
                live,
                signed_in: me.map(Session::signed_in),
                back: "/".into(),
            },
            heading: format!("Live on {}", node.site.domain),
            trends,
            composer: me.map(|m| draft.unwrap_or_else(|| composer(&node, m, "/", None))),
            notices: render_all(&node, &list),
            older: older("/", &list, q),
        },
        false,
    )
}

async fn tag_feed(
    node: &Api,
    tag: &str,
    q: &PageQuery,
    embed: bool,
    me: Option<&Session>,
    draft: Option<Composer>,
) -> ApiResult<Response> {
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
            l: Layout {
                feed: Some(format!("/tags/{name}")),
                title: format!("#{name}"),
                site_name: site,
                query: String::new(),
                assets: assets::get(),
                embed,
                live,
                signed_in: me.map(Session::signed_in),
                back: path.clone(),
            },
            heading: format!("#{name}"),
            trends: Vec::new(),
            composer: me.map(|m| draft.unwrap_or_else(|| composer(node, m, &path, Some(&name)))),
            notices: render_all(node, &list),
            older: older(&path, &list, q),
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
    if let Some((tag, format)) = feeds::split(&tag) {
        let name = normalize_tag(tag);
        if !is_tag(&name) {
            return Err(ApiError::NotFound);
        }
        let src = feeds::Source {
            timeline: Timeline::Tag {
                tag: name.clone(),
                local: false,
                remote: false,
            },
            title: format!("#{name} on {}", node.site.domain),
            description: format!("Public notices tagged #{name}"),
            page: format!("/tags/{name}"),
        };
        return feeds::serve(&node, src, format, &q, &headers).await;
    }
    if !wants_html(&headers) {
        return crate::api::links::tag(State(node), Path(tag))
            .await
            .map(IntoResponse::into_response);
    }
    let me = session::session(&node, &headers).await?;
    tag_feed(&node, &tag, &q, false, me.as_ref(), None).await
}

async fn embed(
    State(node): State<Api>,
    Path(tag): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    // No cookie is read: an embed is the same for everyone.
    tag_feed(&node, &tag, &q, true, None, None).await
}

async fn profile(
    State(node): State<Api>,
    auth: MaybeScoped<ReadAccounts>,
    Path(username): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some((name, format)) = feeds::split(&username) {
        let a = node
            .store
            .account_by_username(name)
            .await?
            .filter(|a| a.remote.is_none() && a.standing.suspended_at.is_none())
            .ok_or(ApiError::NotFound)?;
        let src = feeds::Source {
            timeline: Timeline::Account {
                account_id: a.id,
                filter: AccountFilter {
                    exclude_replies: true,
                    exclude_reblogs: true,
                    ..Default::default()
                },
            },
            title: if a.display_name.is_empty() {
                format!("@{}", a.username)
            } else {
                format!("{} (@{})", a.display_name, a.username)
            },
            description: format!("Public notices of @{}", a.username),
            page: format!("/@{}", a.username),
        };
        return feeds::serve(&node, src, format, &q, &headers).await;
    }
    if crate::federation::wants_activity(&headers) {
        return crate::federation::actor(&node, &username).await;
    }
    if !wants_html(&headers) {
        return crate::api::links::account(State(node), auth, Path(username))
            .await
            .map(IntoResponse::into_response);
    }
    let me = session::session(&node, &headers).await?;
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
            .timeline(&timeline(true), Page::before(None, 5), None)
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
            l: Layout {
                feed: (a.remote.is_none()).then(|| format!("/@{}", a.username)),
                title: format!("{} (@{})", account.display_name_or_username(), a.username),
                site_name: site,
                query: String::new(),
                assets: assets::get(),
                embed: false,
                live: None,
                signed_in: me.as_ref().map(Session::signed_in),
                back: format!("/@{}", a.username),
            },
            pinned: render_all(&node, &pinned),
            older: older(&format!("/@{}", a.username), &list, &q),
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
    if crate::federation::wants_activity(&headers) {
        return crate::federation::note(&node, &username, parse_id(&id)?).await;
    }
    if !wants_html(&headers) {
        return crate::api::links::status(State(node), auth, Path((username, id)))
            .await
            .map(IntoResponse::into_response);
    }
    let me = session::session(&node, &headers).await?;
    thread_page(&node, &username, parse_id(&id)?, me.as_ref(), None).await
}

/// A notice's page, for `me` (a reply composer; her own notice's correction form, holding
/// `draft` when the server refused it).
async fn thread_page(
    node: &Api,
    username: &str,
    id: StatusId,
    me: Option<&Session>,
    draft: Option<EditForm>,
) -> ApiResult<Response> {
    let s = node
        .store
        .status(id, None)
        .await?
        .ok_or(ApiError::NotFound)?;
    // Pages are for everyone: only what anyone may read is shown on them.
    if !s.account.username.eq_ignore_ascii_case(username)
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
    let back = format!("/@{}/{id}", s.account.username);
    let notice = Status::render(&s, &node.site);
    let edit = me.filter(|m| m.account.id == s.account.id).map(|m| {
        draft.unwrap_or_else(|| EditForm {
            csrf: m.csrf(),
            id: id.to_string(),
            text: s.text.clone(),
            spoiler_text: s.spoiler_text.clone(),
            max_chars: node.config.max_chars,
            error: None,
        })
    });
    page(
        &ThreadPage {
            l: Layout {
                feed: None,
                title: format!(
                    "{}: {}",
                    notice.account.display_name_or_username(),
                    excerpt(&s.text)
                ),
                site_name: site,
                query: String::new(),
                assets: assets::get(),
                embed: false,
                live: None,
                signed_in: me.map(Session::signed_in),
                back: back.clone(),
            },
            composer: me.map(|m| Composer {
                in_reply_to_id: Some(id.to_string()),
                text: format!("@{} ", s.account.username),
                ..composer(node, m, &back, None)
            }),
            edit,
            ancestors: render_all(node, &ancestors),
            descendants: render_all(node, &descendants),
            notice,
            history,
        },
        false,
    )
}

/// The correction form of one's own notice.
pub struct EditForm {
    pub csrf: String,
    pub id: String,
    pub text: String,
    pub spoiler_text: String,
    pub max_chars: usize,
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct EditPost {
    authenticity_token: Option<String>,
    status: Option<String>,
    spoiler_text: Option<String>,
}

async fn edit_status(
    State(node): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
    crate::api::extract::Input(f): crate::api::extract::Input<EditPost>,
) -> ApiResult<Response> {
    let me = signed_in(&node, &headers).await?;
    me.check(f.authenticity_token.as_deref())?;
    let id: StatusId = parse_id(&id)?;
    let form: crate::api::statuses::StatusForm = serde_json::from_value(serde_json::json!({
        "status": f.status.clone().unwrap_or_default(),
        "spoiler_text": f.spoiler_text.clone().unwrap_or_default(),
    }))
    .map_err(|e| ApiError::invalid(e.to_string()))?;
    let page_of_it = format!("/@{}/{id}", me.account.username);
    match crate::api::statuses::revise(&node, &me.account, id, form).await {
        Ok(_) => Ok(see_other(&page_of_it, None)),
        Err(ApiError::Unprocessable(problem, _)) => {
            let draft = EditForm {
                csrf: me.csrf(),
                id: id.to_string(),
                text: f.status.unwrap_or_default(),
                spoiler_text: f.spoiler_text.unwrap_or_default(),
                max_chars: node.config.max_chars,
                error: Some(problem),
            };
            let username = me.account.username.clone();
            let mut res = thread_page(&node, &username, id, Some(&me), Some(draft)).await?;
            *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e),
    }
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
struct SearchPage {
    l: Layout,
    tags: Vec<String>,
    accounts: Vec<Account>,
    /// Live events by title: (slug, title, state).
    events: Vec<(String, String, &'static str)>,
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

async fn search(
    State(node): State<Api>,
    Query(p): Query<SearchQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let me = session::session(&node, &headers).await?;
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
    let (mut tags, mut accounts, mut notices, mut events) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
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
            // Live events by title, ended ones too: an archive stays findable.
            events = node
                .store
                .live_events(None, Some(bare), None, 8)
                .await?
                .into_iter()
                .map(|e| (e.slug, e.title, e.state.as_str()))
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
            l: Layout {
                feed: None,
                title: if q.is_empty() {
                    "Search".into()
                } else {
                    format!("Search: {q}")
                },
                site_name: site,
                query: q.clone(),
                assets: assets::get(),
                embed: false,
                live: None,
                signed_in: me.as_ref().map(Session::signed_in),
                back: "/search".into(),
            },
            tags,
            accounts,
            events,
            notices: render_all(&node, &notices),
            older: more,
        },
        false,
    )
}

/// The composer of a signed-in reader.
pub struct Composer {
    pub csrf: String,
    pub back: String,
    pub username: String,
    pub max_chars: usize,
    pub in_reply_to_id: Option<String>,
    pub text: String,
    pub spoiler_text: String,
    pub visibility: String,
    pub visibilities: Vec<(&'static str, &'static str)>,
    /// The server's answer to her last try, shown next to the text.
    pub error: Option<String>,
    /// She may not post (the wiki says so), and why: shown instead of the form.
    pub barred: Option<&'static str>,
}

const VISIBILITIES: [(&str, &str); 4] = [
    ("public", "Everyone"),
    ("unlisted", "Everyone, not in public feeds"),
    ("private", "Followers"),
    ("direct", "Only those mentioned"),
];

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    l: Layout,
    csrf: String,
    username: String,
    problem: Option<String>,
    /// Registrations are open: link to the sign-up page.
    sign_up: bool,
    /// Wiki mode: the wiki's name, for the "sign in with" link.
    wiki: Option<String>,
    /// Passwords are taken here (always, but in wiki mode without local passwords).
    passwords: bool,
    /// Where the wiki sign-in comes back to.
    back: String,
}

/// A page without a live feed, for `title`.
fn plain_layout(node: &Api, title: &str) -> Layout {
    Layout {
        feed: None,
        title: title.into(),
        site_name: node.site.domain.clone(),
        query: String::new(),
        assets: assets::get(),
        embed: false,
        live: None,
        signed_in: None,
        back: "/".into(),
    }
}

/// The sign-in page, with a fresh double-submit CSRF cookie.
async fn sign_in_form(
    node: &Api,
    status: axum::http::StatusCode,
    username: &str,
    problem: Option<String>,
    back: &str,
) -> ApiResult<Response> {
    let csrf = crate::api::extract::random_secret();
    let res = page(
        &SignInPage {
            l: plain_layout(node, "Sign in"),
            csrf: csrf.clone(),
            username: username.to_string(),
            problem,
            sign_up: crate::moderation::registrations(node).await?
                != crate::domain::moderation::Registrations::Closed,
            wiki: node.wiki.as_ref().map(|w| w.name.clone()),
            passwords: node.wiki.as_ref().is_none_or(|w| w.local_passwords),
            back: back.to_string(),
        },
        false,
    )?;
    Ok(with_form_cookie(node, res, status, &csrf))
}

/// A sign-in or sign-up form's answer: its status, never cached, with the double-submit
/// CSRF cookie its hidden field must match (there is no session yet to tie it to).
fn with_form_cookie(
    node: &Api,
    mut res: Response,
    status: axum::http::StatusCode,
    csrf: &str,
) -> Response {
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(node, session::SIGN_IN_CSRF_COOKIE, csrf, "/auth", "Strict"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Refuse a sign-in or sign-up form whose CSRF field does not match its cookie.
fn check_form_cookie(headers: &HeaderMap, posted: Option<&str>) -> ApiResult<()> {
    let posted = posted.unwrap_or("");
    let cookie = session::cookie(headers, session::SIGN_IN_CSRF_COOKIE);
    if posted.is_empty() || cookie.as_deref() != Some(posted) {
        return Err(ApiError::Forbidden(
            "The form has expired or did not come from this site; reload it".into(),
        ));
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUpPage {
    l: Layout,
    csrf: String,
    open: bool,
    username: String,
    email: String,
    problem: Option<String>,
}

async fn sign_up_form(
    node: &Api,
    status: axum::http::StatusCode,
    username: &str,
    email: &str,
    problem: Option<String>,
) -> ApiResult<Response> {
    let csrf = crate::api::extract::random_secret();
    let open = crate::moderation::registrations(node).await?
        != crate::domain::moderation::Registrations::Closed;
    let res = page(
        &SignUpPage {
            l: plain_layout(node, "Create an account"),
            csrf: csrf.clone(),
            open,
            username: username.into(),
            email: email.into(),
            problem,
        },
        false,
    )?;
    let status = if open {
        status
    } else {
        axum::http::StatusCode::FORBIDDEN
    };
    Ok(with_form_cookie(node, res, status, &csrf))
}

async fn sign_up_page(State(node): State<Api>) -> ApiResult<Response> {
    sign_up_form(&node, axum::http::StatusCode::OK, "", "", None).await
}

#[derive(Deserialize)]
struct SignUpForm {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    authenticity_token: Option<String>,
}

/// Sign up (when registrations are open) and be signed in at once.
async fn sign_up(
    State(node): State<Api>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    crate::api::extract::Input(f): crate::api::extract::Input<SignUpForm>,
) -> ApiResult<Response> {
    check_form_cookie(&headers, f.authenticity_token.as_deref())?;
    let (username, email) = (f.username.unwrap_or_default(), f.email.unwrap_or_default());
    let admission = crate::moderation::admission(&node, peer.ip(), Some(email.trim())).await?;
    if let crate::moderation::Admission::Refused(why) = admission {
        return sign_up_form(
            &node,
            axum::http::StatusCode::FORBIDDEN,
            "",
            "",
            Some(why.to_string()),
        )
        .await;
    }
    let t = node.throttles();
    t.check(&t.sign_ups_per_ip, peer.ip()).await?;
    let made = crate::accounts::create(
        &*node.store,
        crate::accounts::Request {
            username: username.trim(),
            password: f.password.as_deref().unwrap_or(""),
            email: Some(email.trim().to_string()),
            admin: false,
            creator: crate::accounts::Creator::SignUp,
        },
    )
    .await;
    let account = match made {
        Ok(a) => a,
        Err(crate::accounts::Refusal::Invalid(problems)) => {
            let said = problems
                .iter()
                .map(|p| format!("{} {}", capitalised(p.field), p.description))
                .collect::<Vec<_>>()
                .join(". ");
            return sign_up_form(
                &node,
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                &username,
                &email,
                Some(format!("{said}.")),
            )
            .await;
        }
        Err(e) => return Err(ApiError::from(e)),
    };
    let pending = admission == crate::moderation::Admission::Pending;
    node.store
        .record_sign_up(account.id, Some(&peer.ip().to_string()), None, pending)
        .await?;
    if pending {
        return sign_up_form(
            &node,
            axum::http::StatusCode::ACCEPTED,
            "",
            "",
            Some("Your account waits for a moderator's approval; you can sign in once it is approved.".into()),
        )
        .await;
    }
    start_session(&node, account.id, "/").await
}

fn capitalised(field: &str) -> String {
    let mut c = field.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A new session for `account`: its cookie, and the way home.
/// Give this browser a session of `account`, and go on to `back` (a path of ours).
pub(crate) async fn start_session(
    node: &Api,
    account: crate::domain::AccountId,
    back: &str,
) -> ApiResult<Response> {
    let app = session::web_app(node).await?;
    let (secret, _) =
        crate::api::oauth::create_token(node, Some(app), Some(account), session::WEB_SCOPES)
            .await?;
    Ok(see_other(
        &back_to(Some(back)),
        Some(session::set_cookie(
            node,
            session::SESSION_COOKIE,
            &secret,
            "/",
            "Lax",
        )),
    ))
}

#[derive(Deserialize)]
struct BackQuery {
    back: Option<String>,
}

async fn sign_in_page(State(node): State<Api>, Query(q): Query<BackQuery>) -> ApiResult<Response> {
    let back = back_to(q.back.as_deref());
    sign_in_form(&node, axum::http::StatusCode::OK, "", None, &back).await
}

#[derive(Deserialize)]
struct SignInForm {
    username: Option<String>,
    password: Option<String>,
    authenticity_token: Option<String>,
}

/// Go to `path` (a page of ours), with `cookie` set if any.
fn see_other(path: &str, cookie: Option<HeaderValue>) -> Response {
    let mut res = axum::response::Redirect::to(path).into_response();
    if let Some(c) = cookie {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    res
}

async fn sign_in(
    State(node): State<Api>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    crate::api::extract::Input(f): crate::api::extract::Input<SignInForm>,
) -> ApiResult<Response> {
    check_form_cookie(&headers, f.authenticity_token.as_deref())?;
    let username = f.username.unwrap_or_default();
    let account = crate::api::accounts::verify_password(
        &node,
        peer.ip(),
        &username,
        f.password.as_deref().unwrap_or(""),
    )
    .await?;
    let Some(account) = account else {
        return sign_in_form(
            &node,
            axum::http::StatusCode::UNAUTHORIZED,
            &username,
            Some("Invalid username or password.".into()),
            "/",
        )
        .await;
    };
    start_session(&node, account.id, "/").await
}

#[derive(Deserialize)]
struct TokenOnly {
    authenticity_token: Option<String>,
    back: Option<String>,
}

/// A page of ours to go back to: a path on this site, never another's.
fn back_to(back: Option<&str>) -> String {
    // Browsers drop tabs and newlines from a URL and read `\` as `/`: `/\t/evil.example`
    // would become `//evil.example`, another site. A path with no whitespace, control
    // character or backslash, starting with one `/`, stays on this site.
    match back {
        Some(b)
            if b.starts_with('/')
                && !b.starts_with("//")
                && b.len() <= 2048
                && !b
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '\\') =>
        {
            b.into()
        }
        _ => "/".into(),
    }
}

async fn signed_in(node: &Api, headers: &HeaderMap) -> ApiResult<Session> {
    session::session(node, headers)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Sign in first: your session has ended".into()))
}

async fn sign_out(
    State(node): State<Api>,
    headers: HeaderMap,
    crate::api::extract::Input(f): crate::api::extract::Input<TokenOnly>,
) -> ApiResult<Response> {
    let me = signed_in(&node, &headers).await?;
    me.check(f.authenticity_token.as_deref())?;
    if let Some(app) = me.app_id {
        node.store
            .revoke_token(&crate::api::extract::hash_token(&me.secret), app)
            .await?;
    }
    Ok(see_other(
        "/",
        Some(session::set_cookie(
            &node,
            session::SESSION_COOKIE,
            "",
            "/",
            "Lax",
        )),
    ))
}

#[derive(Deserialize)]
struct PostForm {
    authenticity_token: Option<String>,
    back: Option<String>,
    status: Option<String>,
    spoiler_text: Option<String>,
    visibility: Option<String>,
    in_reply_to_id: Option<String>,
    /// The image's description (alt text).
    description: Option<String>,
}

/// The composer's one file field: an image.
struct ComposerImage;

impl crate::api::extract::FileFields for ComposerImage {
    const FILES: &'static [&'static str] = &["file"];
}

async fn post_status(
    State(node): State<Api>,
    headers: HeaderMap,
    crate::api::extract::InputFiles(f, files, _): crate::api::extract::InputFiles<
        PostForm,
        ComposerImage,
    >,
) -> ApiResult<Response> {
    let me = signed_in(&node, &headers).await?;
    me.check(f.authenticity_token.as_deref())?;
    let back = back_to(f.back.as_deref());
    // An image comes first (an unreadable one is refused before anything is posted); a
    // form without one sends an empty file field.
    let image = files
        .into_iter()
        .find(|(_, b)| !b.is_empty())
        .map(|(_, b)| b);
    let attached = match image {
        None => Ok(None),
        Some(bytes) => async {
            let d = crate::api::media::description(f.description.as_deref().unwrap_or(""))?;
            crate::api::media::store_upload(&node, me.account.id, bytes, d, (0.0, 0.0)).await
        }
        .await
        .map(Some),
    };
    let published = match attached {
        Err(e) => Err(e),
        Ok(media) => {
            let form: crate::api::statuses::StatusForm =
                serde_json::from_value(serde_json::json!({
                    "status": f.status.clone().unwrap_or_default(),
                    "spoiler_text": f.spoiler_text.clone().unwrap_or_default(),
                    "visibility": f.visibility.clone().unwrap_or_default(),
                    "in_reply_to_id": f.in_reply_to_id.clone().filter(|i| !i.is_empty()),
                    "media_ids": media.iter().map(|m| m.id.to_string()).collect::<Vec<_>>(),
                }))
                .map_err(|e| ApiError::invalid(e.to_string()))?;
            crate::api::statuses::publish(&node, &me.account, form, None).await
        }
    };
    match published {
        Ok(_) => Ok(see_other(&back, None)),
        Err(ApiError::Unprocessable(problem, _)) => {
            // Shown next to the text, with what she wrote kept.
            let draft = Composer {
                in_reply_to_id: f.in_reply_to_id.clone().filter(|i| !i.is_empty()),
                text: f.status.unwrap_or_default(),
                spoiler_text: f.spoiler_text.unwrap_or_default(),
                visibility: f.visibility.unwrap_or_else(|| "public".into()),
                error: Some(problem),
                ..composer(&node, &me, &back, None)
            };
            let tag = back.strip_prefix("/tags/").map(str::to_string);
            let mut res = feed_page(
                &node,
                tag.as_deref(),
                &PageQuery::default(),
                Some(&me),
                Some(draft),
            )
            .await?;
            *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

async fn delete_status(
    State(node): State<Api>,
    Path(id): Path<String>,
    headers: HeaderMap,
    crate::api::extract::Input(f): crate::api::extract::Input<TokenOnly>,
) -> ApiResult<Response> {
    let me = signed_in(&node, &headers).await?;
    me.check(f.authenticity_token.as_deref())?;
    let id: StatusId = parse_id(&id)?;
    let s = node
        .store
        .status(id, Some(me.account.id))
        .await?
        .ok_or(ApiError::NotFound)?;
    if s.account.id != me.account.id {
        return Err(ApiError::NotFound);
    }
    node.store.delete_status(id, None).await?;
    Ok(see_other(&back_to(f.back.as_deref()), None))
}
