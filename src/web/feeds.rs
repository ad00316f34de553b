//! Atom (RFC 4287) and RSS 2.0 feeds of every public timeline: this server's local feed
//! (`/local.atom`, `/local.rss`), a tag (`/tags/{tag}.atom`, `.rss`) and an account's own
//! public notices (`/@{username}.atom`, `.rss`; no replies, no boosts, as Mastodon's).
//! Written with the `atom_syndication` and `rss` crates.
//!
//! A feed is read from the store as it is now, like every page: a deleted notice (or a
//! suspended author's) is gone, a corrected one carries its correction and, in Atom, the
//! time of it as `updated`. Each answer has an `ETag` (a hash of its entries' ids and
//! versions, so an edit or a deletion changes it), and a reader that sends it back gets
//! `304 Not Modified`; `Last-Modified` (the newest change among them) is said, but a date
//! cannot see a deletion, so `If-Modified-Since` is answered in full (see [`fresh`]).
//! Older entries: `?max_id=` (the Atom feed links the next page with `rel="next"`).

use super::PageQuery;
use crate::api::Api;
use crate::api::error::ApiResult;
use crate::domain::entities::{Status, StatusRecord};
use crate::store::Timeline;
use atom_syndication as atom;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Which of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Atom,
    Rss,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Rss => "application/rss+xml; charset=utf-8",
        }
    }
}

/// `alice.rss` → (`alice`, RSS); a name without a feed suffix is `None`.
pub fn split(name: &str) -> Option<(&str, Format)> {
    if let Some(n) = name.strip_suffix(".atom") {
        Some((n, Format::Atom))
    } else {
        name.strip_suffix(".rss").map(|n| (n, Format::Rss))
    }
}

/// What a feed is of, for its head.
pub(super) struct Source {
    pub timeline: Timeline,
    pub title: String,
    pub description: String,
    /// The page the feed is the feed of (`/tags/election`), a path of this site.
    pub page: String,
}

/// The feed of `src` in `format`, or 304 when the reader has it already.
pub(super) async fn serve(
    node: &Api,
    src: Source,
    format: Format,
    q: &PageQuery,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let list = node
        .store
        .timeline(&src.timeline, super::page_of(q)?, None)
        .await?;
    // The validators come from the rows alone: a reader who has this page gets her 304
    // before any notice is rendered.
    let etag = etag_of(&list, format, q);
    let newest = list
        .iter()
        .map(|s| s.edited_at.unwrap_or(s.created_at))
        .max();
    let newest_secs = newest.map(|m| m.div_euclid(1_000_000));
    let last_modified = newest_secs.map(|t| httpdate::fmt_http_date(unix(t)));
    if fresh(headers, &etag) {
        let mut res = StatusCode::NOT_MODIFIED.into_response();
        cache_headers(res.headers_mut(), &etag, last_modified.as_deref());
        return Ok(res);
    }
    let base = &node.site.base_url;
    let ext = match format {
        Format::Atom => "atom",
        Format::Rss => "rss",
    };
    let path = if src.page == "/" {
        "/local".to_string()
    } else {
        src.page.clone()
    };
    let self_url = format!("{base}{path}.{ext}");
    let next = super::older(&format!("{path}.{ext}"), &list, q).map(|p| format!("{base}{p}"));
    let entries: Vec<Entry> = list.iter().map(|s| Entry::of(s, node)).collect();
    let newest = entries.iter().map(|e| e.updated).max();
    let body = match format {
        Format::Atom => atom_feed(&src, &entries, base, &self_url, next.as_deref(), newest),
        Format::Rss => rss_feed(&src, &entries, base, &self_url),
    };
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    cache_headers(h, &etag, last_modified.as_deref());
    Ok(res)
}

fn chrono_now() -> atom::FixedDateTime {
    let now = crate::domain::iso8601(crate::domain::now_micros());
    atom::FixedDateTime::parse_from_rfc3339(&now).unwrap_or_default()
}

fn unix(secs: i64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

fn cache_headers(h: &mut HeaderMap, etag: &str, last_modified: Option<&str>) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = last_modified.and_then(|l| HeaderValue::from_str(l).ok()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    // Readers poll: they may keep it, and must ask again (cheaply, with the validators).
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, no-cache"),
    );
}

/// Whether the reader's copy is this one, by its `ETag`. `If-Modified-Since` is not
/// honoured (RFC 9110 lets a server ignore it): the newest change among the entries does
/// not move when an older one is deleted or its author suspended, so a date would keep a
/// removed notice in the reader's copy; the `ETag` changes with the entries themselves.
fn fresh(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|inm| inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn etag_of(list: &[StatusRecord], format: Format, q: &PageQuery) -> String {
    let mut h = Sha256::new();
    h.update(format!("{format:?}|{:?}|{:?}", q.max_id, q.limit));
    for s in list {
        h.update(i64::from(s.id).to_be_bytes());
        h.update(s.edited_at.unwrap_or(0).to_be_bytes());
    }
    format!("W/\"{}\"", hex::encode(&h.finalize()[..12]))
}

/// One notice as both formats need it.
struct Entry {
    id: String,
    url: String,
    title: String,
    author: String,
    content: String,
    published: atom::FixedDateTime,
    updated: atom::FixedDateTime,
}

impl Entry {
    fn of(s: &StatusRecord, node: &Api) -> Entry {
        let st = Status::render(s, &node.site);
        let parse = |t: &str| atom::FixedDateTime::parse_from_rfc3339(t).ok();
        let published = parse(&st.created_at).unwrap_or_default();
        let updated = st.edited_at.as_deref().and_then(parse).unwrap_or(published);
        // One line: a title has no paragraphs.
        let text = crate::domain::text::plain_text(&st.content)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let title = if !st.spoiler_text.is_empty() {
            st.spoiler_text.clone()
        } else {
            let mut t: String = text.chars().take(80).collect();
            if text.chars().count() > 80 {
                t.push('…');
            }
            t
        };
        Entry {
            id: st.uri.clone(),
            url: st.url.clone(),
            title,
            author: if st.account.display_name.is_empty() {
                format!("@{}", st.account.acct)
            } else {
                format!("{} (@{})", st.account.display_name, st.account.acct)
            },
            content: st.content,
            published,
            updated,
        }
    }
}

fn atom_feed(
    src: &Source,
    entries: &[Entry],
    base: &str,
    self_url: &str,
    next: Option<&str>,
    newest: Option<atom::FixedDateTime>,
) -> String {
    let link = |rel: &str, href: &str, mime: &str| atom::Link {
        href: href.to_string(),
        rel: rel.to_string(),
        mime_type: Some(mime.to_string()),
        ..Default::default()
    };
    let mut links = vec![
        link("alternate", &format!("{base}{}", src.page), "text/html"),
        link("self", self_url, "application/atom+xml"),
    ];
    if let Some(n) = next {
        links.push(link("next", n, "application/atom+xml"));
    }
    let feed = atom::Feed {
        title: atom::Text::plain(src.title.clone()),
        id: format!("{base}{}", src.page),
        // An empty feed was last changed… now, as far as a reader can tell.
        updated: newest.unwrap_or_else(chrono_now),
        subtitle: Some(atom::Text::plain(src.description.clone())),
        links,
        generator: Some(atom::Generator {
            value: "Tidings".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        entries: entries
            .iter()
            .map(|e| atom::Entry {
                title: atom::Text::plain(e.title.clone()),
                id: e.id.clone(),
                updated: e.updated,
                published: Some(e.published),
                authors: vec![atom::Person {
                    name: e.author.clone(),
                    ..Default::default()
                }],
                links: vec![link("alternate", &e.url, "text/html")],
                content: Some(atom::Content {
                    value: Some(e.content.clone()),
                    content_type: Some("html".into()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    feed.to_string()
}

fn rss_feed(src: &Source, entries: &[Entry], base: &str, self_url: &str) -> String {
    let items: Vec<rss::Item> = entries
        .iter()
        .map(|e| {
            let mut i = rss::Item::default();
            i.set_title(e.title.clone());
            i.set_link(e.url.clone());
            i.set_guid(rss::Guid {
                value: e.id.clone(),
                permalink: e.id == e.url,
            });
            i.set_pub_date(e.published.to_rfc2822());
            i.set_description(e.content.clone());
            i.set_dublin_core_ext(rss::extension::dublincore::DublinCoreExtension {
                creators: vec![e.author.clone()],
                ..Default::default()
            });
            i
        })
        .collect();
    let mut c = rss::Channel::default();
    c.set_title(src.title.clone());
    c.set_link(format!("{base}{}", src.page));
    c.set_description(src.description.clone());
    c.set_generator(format!("Tidings {}", env!("CARGO_PKG_VERSION")));
    if let Some(newest) = entries.iter().map(|e| e.updated).max() {
        c.set_last_build_date(newest.to_rfc2822());
    }
    c.set_atom_ext(rss::extension::atom::AtomExtension {
        links: vec![rss::extension::atom::Link {
            href: self_url.to_string(),
            rel: "self".into(),
            mime_type: Some("application/rss+xml".into()),
            ..Default::default()
        }],
    });
    c.set_items(items);
    c.to_string()
}
