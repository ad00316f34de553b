//! A live event's page (`/events/{slug}`), its embeddable variant
//! (`/embed/events/{slug}`), its feeds (`/events/{slug}.atom`, `.rss`) and the list of
//! events (`/events`).
//!
//! The page shows the event's state ("Live", "Upcoming", "Ended"), its description, the
//! key events beside the feed (each a link to its notice), the pinned notices on top,
//! then the curated feed, kept current by `assets/web/live.js` on the event's stream:
//! new notices, corrections, removals, pins, key events and the event's own changes
//! (an editor ending it) arrive without a reload. An ended event is an archive: the same
//! page, without a live connection, paged back with `max_id`.

use super::{
    Described, Layout, LiveFeed, PageQuery, Shown, View, assets, feeds, older, page, page_of,
    render_all,
};
use crate::api::Api;
use crate::api::error::ApiResult;
use crate::domain::entities::Status;
use crate::domain::live::{LiveEventRecord, LiveState};
use crate::store::{LivePart, Page, Timeline};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

/// One key event beside the feed.
pub struct KeyLine {
    pub label: String,
    pub at: String,
    pub status_id: String,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    l: Layout,
    slug: String,
    title: String,
    description: String,
    state: &'static str,
    state_label: &'static str,
    tags: Vec<String>,
    keys: Vec<KeyLine>,
    pinned: Vec<Status>,
    notices: Vec<Status>,
    older: Option<String>,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    l: Layout,
    events: Vec<(LiveEventRecord, &'static str)>,
}

fn state_label(s: LiveState) -> &'static str {
    match s {
        LiveState::Upcoming => "Upcoming",
        LiveState::Live => "Live",
        LiveState::Ended => "Ended",
    }
}

pub(super) async fn event_page(
    State(node): State<Api>,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some((slug, format)) = feeds::split(&slug) {
        let e = crate::api::live::event(&node, slug).await?;
        let src = feeds::Source {
            timeline: Timeline::Event {
                event_id: e.id,
                part: LivePart::Curated,
            },
            title: format!("{} on {}", e.title, node.site.domain),
            description: if e.description.is_empty() {
                format!("Live coverage: {}", e.title)
            } else {
                e.description.clone()
            },
            page: format!("/events/{}", e.slug),
        };
        return feeds::serve(&node, src, format, &q, &headers).await;
    }
    let me = super::session::session(&node, &headers).await?;
    render(&node, &slug, &q, false, me.as_ref()).await
}

pub(super) async fn event_embed(
    State(node): State<Api>,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Response> {
    // No cookie is read: an embed is the same for everyone.
    render(&node, &slug, &q, true, None).await
}

async fn render(
    node: &Api,
    slug: &str,
    q: &PageQuery,
    embed: bool,
    me: Option<&super::session::Session>,
) -> ApiResult<Response> {
    let e = crate::api::live::event(node, slug).await?;
    // The position is read before the notices (see the module doc of `crate::web`); an
    // ended event has nothing more to say live but its corrections and removals, which
    // a reload shows.
    let first_page = q.max_id.is_none();
    let live =
        (first_page && e.state != LiveState::Ended && node.config.anonymous_streams).then(|| {
            LiveFeed {
                stream: "event",
                tag: String::new(),
                event: e.slug.clone(),
                position: node.hub.routed_upto().get().to_string(),
                poll: format!("/api/v1/tidings/events/{}/timeline", e.slug),
            }
        });
    let list = node
        .store
        .timeline(
            &Timeline::Event {
                event_id: e.id,
                part: LivePart::Curated,
            },
            page_of(q)?,
            None,
        )
        .await?;
    let (pinned, keys) = if first_page {
        let pinned = node
            .store
            .timeline(
                &Timeline::Event {
                    event_id: e.id,
                    part: LivePart::Pinned,
                },
                Page::before(None, crate::domain::live::MAX_PINNED as i64),
                None,
            )
            .await?;
        let keys = node
            .store
            .key_events(e.id)
            .await?
            .into_iter()
            .map(|k| KeyLine {
                label: k.label,
                at: crate::domain::iso8601(k.at),
                status_id: k.status_id.to_string(),
            })
            .collect();
        (render_all(node, &pinned), keys)
    } else {
        (Vec::new(), Vec::new())
    };
    let path = if embed {
        format!("/embed/events/{}", e.slug)
    } else {
        format!("/events/{}", e.slug)
    };
    page(
        &EventPage {
            l: Layout {
                title: e.title.clone(),
                feed: Some(format!("/events/{}", e.slug)),
                site_name: node.site.domain.clone(),
                query: String::new(),
                assets: assets::get(),
                embed,
                live,
                signed_in: me.map(super::session::Session::signed_in),
                back: path.clone(),
            },
            slug: e.slug.clone(),
            title: e.title.clone(),
            description: e.description.clone(),
            state: e.state.as_str(),
            state_label: state_label(e.state),
            tags: e.tags.clone(),
            keys,
            pinned,
            notices: render_all(node, &list),
            older: older(&path, &list, q),
        },
        embed,
    )
}

/// Every event, newest first: live and upcoming ones, then the archive.
pub(super) async fn events_page(
    State(node): State<Api>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let me = super::session::session(&node, &headers).await?;
    let mut events = Vec::new();
    for state in [LiveState::Live, LiveState::Upcoming, LiveState::Ended] {
        for e in node.store.live_events(Some(state), None, None, 40).await? {
            events.push((e, state_label(state)));
        }
    }
    page(
        &EventsPage {
            l: Layout {
                title: "Events".into(),
                feed: None,
                site_name: node.site.domain.clone(),
                query: String::new(),
                assets: assets::get(),
                embed: false,
                live: None,
                signed_in: me.as_ref().map(super::session::Session::signed_in),
                back: "/events".into(),
            },
            events,
        },
        false,
    )
}
