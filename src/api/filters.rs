//! Filters v2: `/api/v2/filters` (create, read, update, delete), their keywords
//! (`/api/v2/filters/:id/keywords`, `/api/v2/filters/keywords/:id`) and notices
//! (`/api/v2/filters/:id/statuses`, `/api/v2/filters/statuses/:id`), and v1's read view
//! (`GET /api/v1/filters`: one entry per keyword). They are applied to what the REST API
//! answers in their contexts: `warn` adds `filtered` to the notice, `hide` leaves it out.
//! Streams do not apply them yet (that would make each reader's payload its own).

use super::error::{ApiError, ApiResult};
use super::extract::{Input, ReadFilters, Scoped, WriteFilters, parse_id};
use super::form::{Flag, Id, Words};
use crate::Node;
use crate::api::Api;
use crate::domain::entities::{Status, StatusRecord};
use crate::domain::filters::{self, CONTEXTS, Filter, FilterRecord, KeywordRecord};
use crate::domain::{AccountId, StatusId, iso8601, now_micros};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v2/filters", get(index).post(create))
        .route("/api/v2/filters/{id}", get(show).put(update).delete(remove))
        .route(
            "/api/v2/filters/{id}/keywords",
            get(keywords).post(add_keyword),
        )
        .route(
            "/api/v2/filters/keywords/{id}",
            get(keyword).put(update_keyword).delete(remove_keyword),
        )
        .route(
            "/api/v2/filters/{id}/statuses",
            get(statuses).post(add_status),
        )
        .route(
            "/api/v2/filters/statuses/{id}",
            get(status).delete(remove_status),
        )
        .route("/api/v1/filters", get(v1_index))
}

/// Render `list` for `viewer` in `context`: notices her `hide` filters match are left
/// out, those her `warn` filters match carry `filtered`.
pub async fn render_filtered(
    node: &Node,
    viewer: Option<AccountId>,
    context: &str,
    list: &[StatusRecord],
) -> ApiResult<Vec<Status>> {
    let mine = match viewer {
        Some(v) => node.store.filters(v).await?,
        None => Vec::new(),
    };
    let now = now_micros();
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        let mut r = Status::render(s, &node.site);
        if !mine.is_empty() {
            let (results, hide) = filters::apply(&mine, s, context, now);
            if hide {
                continue;
            }
            if !results.is_empty() {
                r.filtered = Some(results);
            }
        }
        out.push(r);
    }
    Ok(out)
}

const MAX_TITLE: usize = 256;
const MAX_KEYWORD: usize = 256;

#[derive(Deserialize, Default)]
struct KeywordIn {
    id: Option<Id>,
    keyword: Option<String>,
    whole_word: Option<Flag>,
    #[serde(rename = "_destroy")]
    destroy: Option<Flag>,
}

#[derive(Deserialize)]
struct FilterForm {
    title: Option<String>,
    #[serde(default, alias = "context[]")]
    context: Option<Words>,
    filter_action: Option<String>,
    /// Seconds from now; empty or none for ever.
    expires_in: Option<Id>,
    /// JSON: `[{keyword, whole_word}]`.
    keywords_attributes: Option<Vec<KeywordIn>>,
    /// A form's `keywords_attributes[][keyword]=…`, `keywords_attributes[0][whole_word]=…`.
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

fn bad(m: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("Validation failed: {m}"))
}

fn keyword_text(k: &str) -> ApiResult<String> {
    let k = k.trim();
    crate::domain::validate::no_controls("Keyword", k).map_err(|e| ApiError::invalid(e.0))?;
    if k.is_empty() || k.chars().count() > MAX_KEYWORD {
        return Err(bad(format!("a keyword is 1 to {MAX_KEYWORD} characters")));
    }
    Ok(k.to_string())
}

impl FilterForm {
    /// The keywords given, JSON or form; a form's entries are grouped by their index
    /// (`[]` entries in order).
    fn keywords(&mut self) -> ApiResult<Vec<KeywordIn>> {
        if let Some(k) = self.keywords_attributes.take() {
            return Ok(k);
        }
        let mut by_index: BTreeMap<String, KeywordIn> = BTreeMap::new();
        for (key, v) in &self.rest {
            let Some(inner) = key.strip_prefix("keywords_attributes[") else {
                continue;
            };
            let Some((i, part)) = inner.split_once("][") else {
                return Err(bad("keywords_attributes are keyword and whole_word"));
            };
            let values: Vec<String> = match v {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                _ => Vec::new(),
            };
            for (n, value) in values.into_iter().enumerate() {
                let slot = if i.is_empty() {
                    format!("~{n:04}")
                } else {
                    format!("{i:>8}")
                };
                let e = by_index.entry(slot).or_default();
                match part.trim_end_matches(']') {
                    "keyword" => e.keyword = Some(value),
                    "whole_word" => {
                        e.whole_word = Some(Flag(matches!(value.as_str(), "true" | "1" | "on")))
                    }
                    "id" => e.id = Some(Id(value)),
                    "_destroy" => e.destroy = Some(Flag(matches!(value.as_str(), "true" | "1"))),
                    _ => return Err(bad("keywords_attributes are keyword and whole_word")),
                }
            }
        }
        Ok(by_index.into_values().collect())
    }

    /// Apply what was given to `f`.
    fn apply(&mut self, f: &mut FilterRecord) -> ApiResult<()> {
        if let Some(t) = self.title.take() {
            let t = t.trim().to_string();
            crate::domain::validate::no_controls("Title", &t)
                .map_err(|e| ApiError::invalid(e.0))?;
            if t.is_empty() || t.chars().count() > MAX_TITLE {
                return Err(bad(format!("Title is 1 to {MAX_TITLE} characters")));
            }
            f.title = t;
        }
        if let Some(c) = self.context.take() {
            if c.0.is_empty() || c.0.iter().any(|c| !CONTEXTS.contains(&c.as_str())) {
                return Err(bad(format!("context is some of {}", CONTEXTS.join(", "))));
            }
            f.contexts = c.0;
        }
        if let Some(a) = self.filter_action.take().filter(|a| !a.is_empty()) {
            if a != "warn" && a != "hide" {
                return Err(bad("filter_action is warn or hide"));
            }
            f.action = a;
        }
        if let Some(e) = self.expires_in.take() {
            f.expires_at = match Id::given(Some(e)) {
                None => None,
                Some(s) => Some(
                    s.parse::<i64>()
                        .ok()
                        .filter(|s| (1..=366 * 86_400).contains(s))
                        .map(|s| now_micros() + s * 1_000_000)
                        .ok_or_else(|| bad("expires_in is seconds, up to a year"))?,
                ),
            };
        }
        Ok(())
    }
}

async fn mine(node: &Api, me: AccountId) -> ApiResult<Vec<FilterRecord>> {
    Ok(node.store.filters(me).await?)
}

async fn own(node: &Api, me: AccountId, id: &str) -> ApiResult<FilterRecord> {
    let id: i64 = parse_id(id)?;
    mine(node, me)
        .await?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or(ApiError::NotFound)
}

async fn index(State(node): State<Api>, auth: Scoped<ReadFilters>) -> ApiResult<Json<Vec<Filter>>> {
    let me = auth.account()?.id;
    Ok(Json(
        mine(&node, me).await?.iter().map(Filter::render).collect(),
    ))
}

async fn show(
    State(node): State<Api>,
    auth: Scoped<ReadFilters>,
    Path(id): Path<String>,
) -> ApiResult<Json<Filter>> {
    let f = own(&node, auth.account()?.id, &id).await?;
    Ok(Json(Filter::render(&f)))
}

async fn create(
    State(node): State<Api>,
    auth: Scoped<WriteFilters>,
    Input(mut form): Input<FilterForm>,
) -> ApiResult<Json<Filter>> {
    let me = auth.account()?.id;
    if form.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return Err(bad("Title can't be blank"));
    }
    if form.context.as_ref().is_none_or(|c| c.0.is_empty()) {
        return Err(bad("Context can't be blank"));
    }
    let mut f = FilterRecord {
        id: 0,
        title: String::new(),
        contexts: Vec::new(),
        action: "warn".into(),
        expires_at: None,
        keywords: Vec::new(),
        statuses: Vec::new(),
    };
    let given = form.keywords()?;
    form.apply(&mut f)?;
    for k in given {
        let Some(word) = k.keyword else { continue };
        f.keywords.push(KeywordRecord {
            id: 0,
            keyword: keyword_text(&word)?,
            whole_word: k.whole_word.is_none_or(|w| w.0),
        });
    }
    if f.keywords.len() > crate::store::MAX_KEYWORDS {
        return Err(bad("too many keywords"));
    }
    let id = node.store.save_filter(me, &f).await?;
    let f = own(&node, me, &id.to_string()).await?;
    Ok(Json(Filter::render(&f)))
}

async fn update(
    State(node): State<Api>,
    auth: Scoped<WriteFilters>,
    Path(id): Path<String>,
    Input(mut form): Input<FilterForm>,
) -> ApiResult<Json<Filter>> {
    let me = auth.account()?.id;
    let mut f = own(&node, me, &id).await?;
    let given = form.keywords()?;
    form.apply(&mut f)?;
    // Check every keyword change before making any.
    let mut changes = Vec::new();
    for k in given {
        let kid = match Id::given(k.id) {
            Some(s) => {
                let kid: i64 = s.parse().map_err(|_| ApiError::NotFound)?;
                if !f.keywords.iter().any(|x| x.id == kid) {
                    return Err(ApiError::NotFound);
                }
                kid
            }
            None => 0,
        };
        if k.destroy.is_some_and(|d| d.0) {
            changes.push((kid, None));
            continue;
        }
        let old = f.keywords.iter().find(|x| x.id == kid);
        let word = match k.keyword {
            Some(w) => keyword_text(&w)?,
            None => old
                .map(|o| o.keyword.clone())
                .ok_or_else(|| bad("a keyword can't be blank"))?,
        };
        let whole = k
            .whole_word
            .map_or_else(|| old.is_none_or(|o| o.whole_word), |w| w.0);
        changes.push((kid, Some((word, whole))));
    }
    node.store.save_filter(me, &f).await?;
    for (kid, change) in changes {
        match change {
            None if kid != 0 => node.store.remove_filter_part(Some(kid), None).await?,
            None => {}
            Some((keyword, whole_word)) => {
                node.store
                    .save_filter_keyword(
                        f.id,
                        &KeywordRecord {
                            id: kid,
                            keyword,
                            whole_word,
                        },
                    )
                    .await?;
            }
        }
    }
    let f = own(&node, me, &f.id.to_string()).await?;
    Ok(Json(Filter::render(&f)))
}

async fn remove(
    State(node): State<Api>,
    auth: Scoped<WriteFilters>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let f = own(&node, auth.account()?.id, &id).await?;
    node.store.delete_filter(f.id).await?;
    Ok(Json(json!({})))
}

fn keyword_json(k: &KeywordRecord) -> Value {
    json!({"id": k.id.to_string(), "keyword": k.keyword, "whole_word": k.whole_word})
}

async fn keywords(
    State(node): State<Api>,
    auth: Scoped<ReadFilters>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    let f = own(&node, auth.account()?.id, &id).await?;
    Ok(Json(f.keywords.iter().map(keyword_json).collect()))
}

#[derive(Deserialize)]
struct KeywordForm {
    keyword: Option<String>,
    whole_word: Option<Flag>,
}

async fn add_keyword(
    State(node): State<Api>,
    auth: Scoped<WriteFilters>,
    Path(id): Path<String>,
    Input(k): Input<KeywordForm>,
) -> ApiResult<Json<Value>> {
    let f = own(&node, auth.account()?.id, &id).await?;
    let keyword = keyword_text(k.keyword.as_deref().unwrap_or(""))?;
    let rec = KeywordRecord {
        id: 0,
        keyword,
        whole_word: k.whole_word.is_none_or(|w| w.0),
    };
    let kid = node.store.save_filter_keyword(f.id, &rec).await?;
    Ok(Json(keyword_json(&KeywordRecord { id: kid, ..rec })))
}

/// The caller's keyword `id` and its filter, or 404.
async fn own_keyword(node: &Api, me: AccountId, id: &str) -> ApiResult<(i64, KeywordRecord)> {
    let id: i64 = parse_id(id)?;
    mine(node, me)
        .await?
        .into_iter()
        .find_map(|f| {
            let fid = f.id;
            f.keywords
                .into_iter()
                .find(|k| k.id == id)
                .map(|k| (fid, k))
        })
        .ok_or(ApiError::NotFound)
}

async fn keyword(
    State(node): State<Api>,
    auth: Scoped<ReadFilters>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (_, k) = own_keyword(&node, auth.account()?.id, &id).await?;
    Ok(Json(keyword_json(&k)))
}

async fn update_keyword(
    State(node): State<Api>,
    auth: Scoped<WriteFilters>,
    Path(id): Path<String>,
    Input(form): Input<KeywordForm>,
) -> ApiResult<Json<Value>> {
    let (fid, mut k) = own_keyword(&node, auth.account()?.id, &id).await?;
    if let Some(w) = form.keyword {
        k.keyword = keyword_text(&w)?;
    }
    if let Some(w) = form.whole_word {
        k.whole_word = w.0;
    }
    node.store.save_filter_keyword(fid, &k).await?;
    Ok(Json(keyword_json(&k)))
}

async fn remove_keyword(
    State(node): State<Api>,
    auth: Scoped<WriteFilters>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (_, k) = own_keyword(&node, auth.account()?.id, &id).await?;
    node.store.remove_filter_part(Some(k.id), None).await?;
    Ok(Json(json!({})))
}

fn status_json(id: i64, s: StatusId) -> Value {
    json!({"id": id.to_string(), "status_id": s.to_string()})
}

async fn statuses(
    State(node): State<Api>,
    auth: Scoped<ReadFilters>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    let f = own(&node, auth.account()?.id, &id).await?;
    Ok(Json(
        f.statuses
            .iter()
            .map(|(i, s)| status_json(*i, *s))
            .collect(),
    ))
}

#[derive(Deserialize)]
struct StatusForm {
    status_id: Option<Id>,
}

async fn add_status(
    State(node): State<Api>,
    auth: Scoped<WriteFilters>,
    Path(id): Path<String>,
    Input(form): Input<StatusForm>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?;
    let f = own(&node, me.id, &id).await?;
    let sid: StatusId = parse_id(&Id::given(form.status_id).unwrap_or_default())
        .map_err(|_| bad("status_id is not a notice"))?;
    let s = node
        .store
        .status(sid, Some(me.id))
        .await?
        .ok_or(ApiError::NotFound)?;
    super::statuses::visible_to(&node, &s, Some(me.id)).await?;
    let fsid = node.store.add_filter_status(f.id, sid).await?;
    Ok(Json(status_json(fsid, sid)))
}

async fn own_status(node: &Api, me: AccountId, id: &str) -> ApiResult<(i64, StatusId)> {
    let id: i64 = parse_id(id)?;
    mine(node, me)
        .await?
        .into_iter()
        .flat_map(|f| f.statuses)
        .find(|(i, _)| *i == id)
        .ok_or(ApiError::NotFound)
}

async fn status(
    State(node): State<Api>,
    auth: Scoped<ReadFilters>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (i, s) = own_status(&node, auth.account()?.id, &id).await?;
    Ok(Json(status_json(i, s)))
}

async fn remove_status(
    State(node): State<Api>,
    auth: Scoped<WriteFilters>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (i, _) = own_status(&node, auth.account()?.id, &id).await?;
    node.store.remove_filter_part(None, Some(i)).await?;
    Ok(Json(json!({})))
}

/// v1's view: one entry per keyword, as Mastodon shows v2 filters to v1 clients.
async fn v1_index(
    State(node): State<Api>,
    auth: Scoped<ReadFilters>,
) -> ApiResult<Json<Vec<Value>>> {
    let me = auth.account()?.id;
    let mut out = Vec::new();
    for f in mine(&node, me).await? {
        for k in &f.keywords {
            out.push(json!({
                "id": k.id.to_string(),
                "phrase": k.keyword,
                "context": f.contexts,
                "whole_word": k.whole_word,
                "expires_at": f.expires_at.map(iso8601),
                "irreversible": f.action == "hide",
            }));
        }
    }
    Ok(Json(out))
}
