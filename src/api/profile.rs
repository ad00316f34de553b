//! `PATCH /api/v1/accounts/update_credentials`: display name, note, profile fields, the
//! bot, discoverable and locked flags, the posting defaults in `source`, and the avatar
//! and header: multipart files, checked and decoded as uploads are (`crate::media`),
//! cropped to Mastodon's sizes (400×400, 1500×500) and re-encoded without metadata. A
//! picture that cannot be read is a 422 that changes nothing.

use super::error::{ApiError, ApiResult};
use super::extract::{FileFields, InputFiles, Scoped, WriteAccounts};
use super::form::Flag;
use crate::api::Api;
use crate::domain::entities::{Account, AccountRecord, Visibility};
use crate::domain::validate;
use crate::store::ProfileChange;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::patch;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub fn router() -> Router<Api> {
    Router::new().route(
        "/api/v1/accounts/update_credentials",
        patch(update_credentials).layer(DefaultBodyLimit::max(
            2 * crate::media::MAX_BYTES + 64 * 1024,
        )),
    )
}

/// The files `update_credentials` reads.
struct Pictures;
impl FileFields for Pictures {
    const FILES: &'static [&'static str] = &["avatar", "header"];
}

/// Mastodon's picture sizes.
const AVATAR: (u32, u32) = (400, 400);
const HEADER: (u32, u32) = (1500, 500);

/// Process and store a picture; its key.
async fn picture(node: &Api, bytes: bytes::Bytes, (w, h): (u32, u32)) -> ApiResult<String> {
    let (data, kind) = crate::media::profile_image(bytes, w, h).await?;
    let ext = if kind == "image/png" { "png" } else { "jpg" };
    let key = format!("{}.{ext}", hex::encode(rand::random::<[u8; 16]>()));
    node.media_storage()
        .put(&key, kind, data)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(key)
}

/// Mastodon's bounds.
const MAX_DISPLAY_NAME: usize = 30;
const MAX_NOTE: usize = 500;
const MAX_FIELDS: usize = 4;
const MAX_FIELD_CHARS: usize = 255;

#[derive(Deserialize, Default)]
struct SourceIn {
    privacy: Option<String>,
    sensitive: Option<Flag>,
    language: Option<String>,
}

#[derive(Deserialize)]
struct ProfileForm {
    display_name: Option<String>,
    note: Option<String>,
    bot: Option<Flag>,
    discoverable: Option<Flag>,
    locked: Option<Flag>,
    avatar: Option<Value>,
    header: Option<Value>,
    /// JSON: a list of `{name, value}`, or an object keyed by index.
    fields_attributes: Option<Value>,
    source: Option<SourceIn>,
    #[serde(rename = "source[privacy]")]
    source_privacy: Option<String>,
    #[serde(rename = "source[sensitive]")]
    source_sensitive: Option<Flag>,
    #[serde(rename = "source[language]")]
    source_language: Option<String>,
    /// A form's `fields_attributes[0][name]=…` and the like.
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// The profile fields given, in index order; `None` when none were given.
fn fields(f: &ProfileForm) -> ApiResult<Option<Vec<(String, String)>>> {
    let mut by_index: BTreeMap<u32, (String, String)> = BTreeMap::new();
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_default();
    let mut given = false;
    match &f.fields_attributes {
        Some(Value::Array(list)) => {
            given = true;
            for (i, e) in list.iter().enumerate() {
                by_index.insert(i as u32, (text(&e["name"]), text(&e["value"])));
            }
        }
        Some(Value::Object(map)) => {
            given = true;
            for (k, e) in map {
                let i = k.parse().map_err(|_| {
                    ApiError::invalid("Validation failed: fields_attributes keys are indexes")
                })?;
                by_index.insert(i, (text(&e["name"]), text(&e["value"])));
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => {
            return Err(ApiError::invalid(
                "Validation failed: fields_attributes must be a list",
            ));
        }
    }
    for (k, v) in &f.rest {
        let Some(inner) = k.strip_prefix("fields_attributes[") else {
            continue;
        };
        given = true;
        let parsed = inner
            .split_once("][")
            .and_then(|(i, part)| Some((i.parse::<u32>().ok()?, part.strip_suffix(']')?)));
        let Some((i, part)) = parsed.filter(|(i, _)| *i < 16) else {
            return Err(ApiError::invalid(format!(
                "Validation failed: unknown field {:?}",
                k.chars().take(60).collect::<String>()
            )));
        };
        let slot = by_index.entry(i).or_default();
        match part {
            "name" => slot.0 = text(v),
            "value" => slot.1 = text(v),
            _ => {}
        }
    }
    if !given {
        return Ok(None);
    }
    let list: Vec<(String, String)> = by_index
        .into_values()
        .filter(|(n, v)| !n.trim().is_empty() || !v.trim().is_empty())
        .collect();
    if list.len() > MAX_FIELDS {
        return Err(ApiError::invalid(format!(
            "Validation failed: at most {MAX_FIELDS} profile fields"
        )));
    }
    for (n, v) in &list {
        if n.chars().count() > MAX_FIELD_CHARS || v.chars().count() > MAX_FIELD_CHARS {
            return Err(ApiError::invalid(format!(
                "Validation failed: a profile field's name and value are at most {MAX_FIELD_CHARS} characters"
            )));
        }
        for s in [n, v] {
            validate::no_controls("Field", s).map_err(|e| ApiError::invalid(e.0))?;
        }
    }
    Ok(Some(list))
}

/// The caller's own account, with `source`: what `verify_credentials` answers.
pub fn credential_account(a: &AccountRecord, node: &Api) -> ApiResult<Value> {
    let mut v = serde_json::to_value(Account::render(a, &node.site))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let p = &a.profile;
    v["source"] = json!({
        "privacy": p.privacy.as_str(),
        "sensitive": p.sensitive,
        "language": p.language,
        "note": p.note_source,
        "fields": p.fields.iter().map(|(n, v)| json!({"name": n, "value": v, "verified_at": null})).collect::<Vec<_>>(),
        "follow_requests_count": 0,
    });
    Ok(v)
}

async fn update_credentials(
    State(node): State<Api>,
    auth: Scoped<WriteAccounts>,
    InputFiles(f, files, _): InputFiles<ProfileForm, Pictures>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?.id;
    // A picture is a file: anything else named so (a URL, text) is refused.
    let given = |v: &Option<Value>| v.as_ref().is_some_and(|v| !v.is_null() && v != "");
    let file = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.clone())
    };
    for (name, v) in [("avatar", &f.avatar), ("header", &f.header)] {
        if given(v) && file(name).is_none() {
            return Err(ApiError::invalid(format!(
                "Validation failed: {name} must be an image file (multipart)"
            )));
        }
    }
    let display_name = match &f.display_name {
        Some(n) => {
            validate::no_controls("Display name", n).map_err(|e| ApiError::invalid(e.0))?;
            if n.chars().count() > MAX_DISPLAY_NAME {
                return Err(ApiError::invalid(format!(
                    "Validation failed: Display name is too long (maximum is {MAX_DISPLAY_NAME} characters)"
                )));
            }
            Some(n.trim().to_string())
        }
        None => None,
    };
    let note = match &f.note {
        Some(n) => {
            validate::no_controls("Note", n).map_err(|e| ApiError::invalid(e.0))?;
            if n.chars().count() > MAX_NOTE {
                return Err(ApiError::invalid(format!(
                    "Validation failed: Note is too long (maximum is {MAX_NOTE} characters)"
                )));
            }
            let html = crate::domain::text::render_html(n, &node.site.base_url, &|_, _| None);
            Some((n.clone(), html))
        }
        None => None,
    };
    let source = f.source.as_ref();
    let privacy = match f
        .source_privacy
        .as_deref()
        .or(source.and_then(|s| s.privacy.as_deref()))
    {
        None | Some("") => None,
        Some(p) => match Visibility::parse(p).map_err(|e| ApiError::invalid(e.0))? {
            Visibility::Direct => {
                return Err(ApiError::invalid(
                    "Validation failed: the default visibility cannot be direct",
                ));
            }
            v => Some(v),
        },
    };
    let language = match f
        .source_language
        .as_deref()
        .or(source.and_then(|s| s.language.as_deref()))
    {
        None => None,
        Some("") => Some(None),
        Some(l) => Some(Some(
            validate::language(l).map_err(|e| ApiError::invalid(e.0))?,
        )),
    };
    let change = ProfileChange {
        display_name,
        note,
        bot: f.bot.map(|b| b.0),
        locked: f.locked.map(|l| l.0),
        discoverable: f.discoverable.map(|d| d.0),
        fields: fields(&f)?,
        privacy,
        sensitive: f
            .source_sensitive
            .or(source.and_then(|s| s.sensitive))
            .map(|s| s.0),
        language,
        avatar_key: None,
        header_key: None,
    };
    // Pictures last: nothing is stored unless everything else was valid.
    let mut change = change;
    if let Some(b) = file("avatar") {
        change.avatar_key = Some(picture(&node, b, AVATAR).await?);
    }
    if let Some(b) = file("header") {
        change.header_key = Some(picture(&node, b, HEADER).await?);
    }
    let updated = node.store.update_profile(me, change).await?;
    Ok(Json(credential_account(&updated, &node)?))
}
