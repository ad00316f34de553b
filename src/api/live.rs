//! Live events, Tidings' extension of the API (see `crate::domain::live`):
//!
//! - `GET /api/v1/tidings/events` (`state`, `q`, `max_id`, `limit`), `POST` to create
//!   (any account that may post, or only staff: `TIDINGS_EVENT_CREATORS`);
//! - `GET|PATCH|PUT|DELETE /api/v1/tidings/events/:slug`;
//! - `GET …/:slug/timeline` (the curated feed; `pinned=true` for the pinned notices),
//!   `…/:slug/key_events`, `…/:slug/contributions` (tagged notices of others, waiting
//!   for an editor), paged as timelines are (`Link`, `ETag`);
//! - `POST …/:slug/statuses/:id/{feature,unfeature,pin,unpin,key,unkey}` (editors);
//! - `GET|POST|DELETE …/:slug/{contributors,editors}` (`account_ids[]`; editors).
//!
//! Editors of the event, and the server's moderators and administrators, may change it.
//! Unknown slugs are 404, others' editor actions 403, a move back (an ended event going
//! live again) 422, a feature of a notice not tagged for the event 422.

use super::error::{ApiError, ApiResult};
use super::extract::{Input, MaybeScoped, Query, ReadStatuses, Scoped, WriteStatuses, parse_id};
use super::form::Id;
use super::timelines::{TimelineParams, paged};
use crate::api::Api;
use crate::domain::entities::{Account, AccountRecord, Status};
use crate::domain::live::{
    self, LiveEvent, LiveEventRecord, LiveRole, LiveState, MAX_DESCRIPTION, MAX_LABEL, MAX_TAGS,
    MAX_TITLE,
};
use crate::domain::text::{is_tag, normalize_tag};
use crate::domain::{AccountId, StatusId};
use crate::store::{Curation, LivePart, Timeline};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// Longest hashtag an event takes (Mastodon's tags are at most 100 characters too).
const MAX_TAG_CHARS: usize = 100;

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/tidings/events", get(index).post(create))
        .route(
            "/api/v1/tidings/events/{slug}",
            get(show).patch(update).put(update).delete(remove),
        )
        .route("/api/v1/tidings/events/{slug}/timeline", get(timeline))
        .route("/api/v1/tidings/events/{slug}/key_events", get(key_events))
        .route(
            "/api/v1/tidings/events/{slug}/contributions",
            get(contributions),
        )
        .route(
            "/api/v1/tidings/events/{slug}/statuses/{id}/{action}",
            post(curate),
        )
        .route(
            "/api/v1/tidings/events/{slug}/{role}",
            get(members).post(add_members).delete(remove_members),
        )
}

/// The event named `slug`, or 404.
pub(crate) async fn event(node: &Api, slug: &str) -> ApiResult<LiveEventRecord> {
    if !live::is_slug(slug) {
        return Err(ApiError::NotFound);
    }
    node.store.live_event(slug).await?.ok_or(ApiError::NotFound)
}

/// 403 unless `me` is an editor of the event, or staff.
async fn editor(node: &Api, e: &LiveEventRecord, me: &AccountRecord) -> ApiResult<()> {
    if me.standing.role.moderates() {
        return Ok(());
    }
    match node.store.live_role(e.id, me.id).await? {
        Some(LiveRole::Editor) => Ok(()),
        _ => Err(ApiError::Forbidden(
            "Only the event's editors may do this".into(),
        )),
    }
}

fn event_json(node: &Api, e: &LiveEventRecord) -> Json<LiveEvent> {
    Json(LiveEvent::render(e, &node.site))
}

#[derive(Deserialize)]
struct ListParams {
    state: Option<String>,
    q: Option<String>,
    max_id: Option<String>,
    limit: Option<String>,
}

async fn index(
    State(node): State<Api>,
    _auth: MaybeScoped<ReadStatuses>,
    Query(p): Query<ListParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let state = match p.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(LiveState::parse(s).ok_or_else(|| {
            ApiError::invalid("Validation failed: state is upcoming, live or ended")
        })?),
    };
    let max_id = super::timelines::cursor_param("max_id", &p.max_id)?;
    let limit = match p.limit.as_deref() {
        None | Some("") => 20,
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request("Invalid limit"))?
            .clamp(1, 40),
    };
    let q = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > MAX_TITLE) {
        return Err(ApiError::invalid("Validation failed: q is too long"));
    }
    let events = node.store.live_events(state, q, max_id, limit).await?;
    let body: Vec<LiveEvent> = events
        .iter()
        .map(|e| LiveEvent::render(e, &node.site))
        .collect();
    let bounds = super::timelines::bounds_of(&events, |e| e.id);
    Ok(super::timelines::linked(
        &body,
        &node.site.base_url,
        &uri,
        bounds,
    ))
}

#[derive(Deserialize, Default)]
struct EventForm {
    slug: Option<String>,
    title: Option<String>,
    description: Option<String>,
    state: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(default, alias = "tags[]")]
    tags: Option<Vec<String>>,
}

impl EventForm {
    /// Apply what was given to `e`; a bad value is 422, a move back 422.
    fn apply(self, e: &mut LiveEventRecord) -> ApiResult<()> {
        if let Some(t) = self.title {
            let t = t.trim().to_string();
            crate::domain::validate::no_controls("Title", &t)
                .map_err(|e| ApiError::invalid(e.0))?;
            if t.is_empty() || t.chars().count() > MAX_TITLE {
                return Err(ApiError::invalid(format!(
                    "Validation failed: title must be 1 to {MAX_TITLE} characters"
                )));
            }
            e.title = t;
        }
        if let Some(d) = self.description {
            crate::domain::validate::no_controls("Description", &d)
                .map_err(|e| ApiError::invalid(e.0))?;
            if d.chars().count() > MAX_DESCRIPTION {
                return Err(ApiError::invalid(format!(
                    "Validation failed: description is longer than {MAX_DESCRIPTION} characters"
                )));
            }
            e.description = d.trim().to_string();
        }
        if let Some(s) = self.state.filter(|s| !s.is_empty()) {
            let next = LiveState::parse(&s).ok_or_else(|| {
                ApiError::invalid("Validation failed: state is upcoming, live or ended")
            })?;
            if !e.state.may_become(next) {
                return Err(ApiError::invalid(format!(
                    "Validation failed: an event that is {} cannot become {}",
                    e.state.as_str(),
                    next.as_str()
                )));
            }
            e.state = next;
        }
        if let Some(t) = self.starts_at {
            e.starts_at = super::announcements::time_of("starts_at", Some(&t))?;
        }
        if let Some(t) = self.ends_at {
            e.ends_at = super::announcements::time_of("ends_at", Some(&t))?;
        }
        if let (Some(a), Some(b)) = (e.starts_at, e.ends_at)
            && b < a
        {
            return Err(ApiError::invalid(
                "Validation failed: ends_at is before starts_at",
            ));
        }
        if let Some(tags) = self.tags {
            if tags.is_empty() || tags.len() > MAX_TAGS {
                return Err(ApiError::invalid(format!(
                    "Validation failed: an event has 1 to {MAX_TAGS} hashtags"
                )));
            }
            let mut clean: Vec<String> = Vec::new();
            for t in tags {
                if t.chars().count() > MAX_TAG_CHARS {
                    return Err(ApiError::invalid(format!(
                        "Validation failed: a hashtag has at most {MAX_TAG_CHARS} characters"
                    )));
                }
                let n = normalize_tag(&t);
                if !is_tag(&n) {
                    return Err(ApiError::invalid(format!(
                        "Validation failed: {t:?} is not a hashtag"
                    )));
                }
                if !clean.contains(&n) {
                    clean.push(n);
                }
            }
            if clean.is_empty() || clean.len() > MAX_TAGS {
                return Err(ApiError::invalid(format!(
                    "Validation failed: an event has 1 to {MAX_TAGS} hashtags"
                )));
            }
            e.tags = clean;
        }
        Ok(())
    }
}

async fn create(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Input(f): Input<EventForm>,
) -> ApiResult<Json<LiveEvent>> {
    let me = auth.account()?;
    super::statuses::may_post(me)?;
    if node.config.event_creators == "staff" && !me.standing.role.moderates() {
        return Err(ApiError::Forbidden(
            "Only moderators and administrators may create events here".into(),
        ));
    }
    let slug = f.slug.clone().unwrap_or_default();
    if !live::is_slug(&slug) {
        return Err(ApiError::invalid(format!(
            "Validation failed: slug is 1 to {} of a-z, 0-9 and -",
            live::MAX_SLUG
        )));
    }
    if f.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return Err(ApiError::invalid("Validation failed: title can't be blank"));
    }
    if f.tags.as_ref().is_none_or(|t| t.is_empty()) {
        return Err(ApiError::invalid(
            "Validation failed: an event needs at least one hashtag",
        ));
    }
    let now = crate::domain::now_micros();
    let mut e = LiveEventRecord {
        id: 0,
        slug,
        title: String::new(),
        description: String::new(),
        state: LiveState::Upcoming,
        starts_at: None,
        ends_at: None,
        tags: Vec::new(),
        created_by: me.id,
        created_at: now,
        updated_at: now,
    };
    f.apply(&mut e)?;
    let saved = node.store.save_live_event(&e, true).await?;
    Ok(event_json(&node, &saved))
}

async fn show(
    State(node): State<Api>,
    _auth: MaybeScoped<ReadStatuses>,
    Path(slug): Path<String>,
) -> ApiResult<Json<LiveEvent>> {
    let e = event(&node, &slug).await?;
    Ok(event_json(&node, &e))
}

async fn update(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path(slug): Path<String>,
    Input(f): Input<EventForm>,
) -> ApiResult<Json<LiveEvent>> {
    let mut e = event(&node, &slug).await?;
    editor(&node, &e, auth.account()?).await?;
    if f.slug.as_deref().is_some_and(|s| s != e.slug) {
        return Err(ApiError::invalid(
            "Validation failed: an event's slug does not change",
        ));
    }
    f.apply(&mut e)?;
    let saved = node.store.save_live_event(&e, false).await?;
    Ok(event_json(&node, &saved))
}

async fn remove(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path(slug): Path<String>,
) -> ApiResult<Json<Value>> {
    let e = event(&node, &slug).await?;
    editor(&node, &e, auth.account()?).await?;
    node.store.delete_live_event(&e).await?;
    node.known_events.remove(&e.slug);
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct EventTimelineParams {
    #[serde(flatten)]
    page: TimelineParams,
    pinned: Option<String>,
}

async fn timeline(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path(slug): Path<String>,
    Query(p): Query<EventTimelineParams>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let e = event(&node, &slug).await?;
    let part = match p.pinned.as_deref() {
        Some("true" | "1") => LivePart::Pinned,
        None | Some("" | "false" | "0") => LivePart::Curated,
        Some(_) => return Err(ApiError::bad_request("Invalid pinned")),
    };
    let which = Timeline::Event {
        event_id: e.id,
        part,
    };
    paged(&node, &which, &p.page, auth.account_id(), &uri, &headers).await
}

async fn contributions(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path(slug): Path<String>,
    Query(p): Query<TimelineParams>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let e = event(&node, &slug).await?;
    let which = Timeline::Event {
        event_id: e.id,
        part: LivePart::Open,
    };
    paged(&node, &which, &p, auth.account_id(), &uri, &headers).await
}

/// `[{label, at, status}]`, newest first: what a reader who arrives late reads first.
async fn key_events(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path(slug): Path<String>,
) -> ApiResult<Json<Value>> {
    let e = event(&node, &slug).await?;
    let body = key_events_json(&node, &e, auth.account_id()).await?;
    Ok(Json(body))
}

async fn key_events_json(
    node: &Api,
    e: &LiveEventRecord,
    viewer: Option<AccountId>,
) -> ApiResult<Value> {
    let keys = node.store.key_events(e.id).await?;
    // Their notices in one read, as the reader's timelines show them (whom she blocked or
    // muted left out).
    let page = crate::store::Page::before(None, keys.len().max(1) as i64);
    let which = Timeline::Event {
        event_id: e.id,
        part: LivePart::Keyed,
    };
    let notices = node.store.timeline(&which, page, viewer).await?;
    let out = keys
        .iter()
        .filter_map(|k| {
            let s = notices.iter().find(|s| s.id == k.status_id)?;
            Some(json!({
                "label": k.label,
                "at": crate::domain::iso8601(k.at),
                "status": Status::render(s, &node.site),
            }))
        })
        .collect();
    Ok(Value::Array(out))
}

#[derive(Deserialize, Default)]
struct KeyForm {
    label: Option<String>,
}

async fn curate(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path((slug, id, action)): Path<(String, String, String)>,
    Input(f): Input<KeyForm>,
) -> ApiResult<Response> {
    let change = match action.as_str() {
        "feature" => Curation::Feature,
        "unfeature" => Curation::Remove,
        "pin" => Curation::Pin(true),
        "unpin" => Curation::Pin(false),
        "key" => {
            let label = f.label.unwrap_or_default().trim().to_string();
            crate::domain::validate::no_controls("Label", &label)
                .map_err(|e| ApiError::invalid(e.0))?;
            if label.is_empty() || label.chars().count() > MAX_LABEL {
                return Err(ApiError::invalid(format!(
                    "Validation failed: label must be 1 to {MAX_LABEL} characters"
                )));
            }
            Curation::Key(Some(label))
        }
        "unkey" => Curation::Key(None),
        _ => return Err(ApiError::NotFound),
    };
    let e = event(&node, &slug).await?;
    let me = auth.account()?;
    editor(&node, &e, me).await?;
    let status: StatusId = parse_id(&id)?;
    node.store.curate(&e, status, change).await?;
    let s = node
        .store
        .status(status, Some(me.id))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(Status::render(&s, &node.site)).into_response())
}

fn role_of(path: &str) -> ApiResult<LiveRole> {
    match path {
        "contributors" => Ok(LiveRole::Contributor),
        "editors" => Ok(LiveRole::Editor),
        _ => Err(ApiError::NotFound),
    }
}

async fn members(
    State(node): State<Api>,
    _auth: MaybeScoped<ReadStatuses>,
    Path((slug, role)): Path<(String, String)>,
) -> ApiResult<Json<Vec<Account>>> {
    let role = role_of(&role)?;
    let e = event(&node, &slug).await?;
    let people = node.store.live_members(e.id).await?;
    Ok(Json(
        people
            .iter()
            .filter(|(_, r)| *r == role)
            .map(|(a, _)| Account::render(a, &node.site))
            .collect(),
    ))
}

#[derive(Deserialize)]
struct MembersForm {
    #[serde(default, alias = "account_ids[]")]
    account_ids: Vec<Id>,
}

async fn member_ids(node: &Api, f: MembersForm) -> ApiResult<Vec<AccountId>> {
    let ids = Id::accounts(f.account_ids, live::MAX_MEMBERS)?;
    for a in &ids {
        node.store.account(*a).await?.ok_or(ApiError::NotFound)?;
    }
    Ok(ids)
}

async fn add_members(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path((slug, role)): Path<(String, String)>,
    Input(f): Input<MembersForm>,
) -> ApiResult<Json<Value>> {
    change_members(&node, auth, &slug, &role, f, true).await
}

async fn remove_members(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path((slug, role)): Path<(String, String)>,
    Input(f): Input<MembersForm>,
) -> ApiResult<Json<Value>> {
    change_members(&node, auth, &slug, &role, f, false).await
}

/// Give (`on`) or take away the role `role` (`contributors`, `editors`): editors only.
async fn change_members(
    node: &Api,
    auth: Scoped<WriteStatuses>,
    slug: &str,
    role: &str,
    f: MembersForm,
    on: bool,
) -> ApiResult<Json<Value>> {
    let role = role_of(role)?;
    let e = event(node, slug).await?;
    editor(node, &e, auth.account()?).await?;
    let ids = member_ids(node, f).await?;
    node.store.set_live_members(e.id, &ids, role, on).await?;
    Ok(Json(json!({})))
}
