//! Notices: post (with `Idempotency-Key`), read, edit (with history), delete,
//! favourite, reblog.

use super::error::{ApiError, ApiResult};
use super::extract::{
    Input, MaybeScoped, Query, ReadStatuses, Scoped, WriteFavourites, WriteStatuses, parse_id,
};
use super::form::{Flag, Id};
use crate::Node;
use crate::api::Api;
use crate::domain::entities::Visibility;
use crate::domain::entities::{AccountRecord, Status, StatusEdit, StatusRecord};
use crate::domain::validate::NoticeText;
use crate::domain::{AccountId, StatusId};
use crate::store::{NewPoll, NewStatus, ScheduledParams, StatusChange};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/statuses", post(create))
        .route("/api/v1/statuses/{id}", get(show).put(edit).delete(delete))
        .route("/api/v1/statuses/{id}/history", get(history))
        .route("/api/v1/statuses/{id}/source", get(source))
        .route("/api/v1/statuses/{id}/favourite", post(favourite))
        .route("/api/v1/statuses/{id}/unfavourite", post(unfavourite))
        .route("/api/v1/statuses/{id}/reblog", post(reblog))
        .route("/api/v1/statuses/{id}/unreblog", post(unreblog))
}

#[derive(Deserialize)]
pub(crate) struct StatusForm {
    status: Option<String>,
    in_reply_to_id: Option<Id>,
    visibility: Option<String>,
    spoiler_text: Option<String>,
    sensitive: Option<Flag>,
    language: Option<String>,
    #[serde(default, alias = "media_ids[]")]
    media_ids: Vec<Id>,
    scheduled_at: Option<String>,
    /// JSON's `poll` object; a form's `poll[options][]`, `poll[expires_in]`, ….
    poll: Option<PollIn>,
    #[serde(default, rename = "poll[options][]")]
    poll_options: Vec<String>,
    #[serde(rename = "poll[expires_in]")]
    poll_expires_in: Option<Id>,
    #[serde(rename = "poll[multiple]")]
    poll_multiple: Option<Flag>,
    #[serde(rename = "poll[hide_totals]")]
    poll_hide_totals: Option<Flag>,
}

#[derive(Deserialize, Default)]
struct PollIn {
    #[serde(default)]
    options: Vec<String>,
    expires_in: Option<Id>,
    multiple: Option<Flag>,
    hide_totals: Option<Flag>,
}

/// Mastodon's poll bounds, advertised in the instance's `configuration.polls`.
pub const POLL_MAX_OPTIONS: usize = 4;
pub const POLL_MAX_OPTION_CHARS: usize = 50;
pub const POLL_MIN_EXPIRATION: i64 = 300;
pub const POLL_MAX_EXPIRATION: i64 = 2_629_746;

impl StatusForm {
    /// What Tidings cannot do yet is refused, never dropped: a notice meant for later
    /// must not go out now, a poll must not become plain text.
    fn refuse_unsupported(&self) -> ApiResult<()> {
        Ok(())
    }

    /// The media ids given, as numbers (an unknown one is refused by the store).
    fn media_ids(&self) -> ApiResult<Vec<i64>> {
        let ids: Vec<i64> = self
            .media_ids
            .iter()
            .filter(|m| !m.0.is_empty())
            .map(|m| m.0.parse::<i64>())
            .collect::<Result<_, _>>()
            .map_err(|_| ApiError::invalid("Validation failed: media_ids are not ids"))?;
        if ids.len() > crate::store::MAX_MEDIA {
            return Err(ApiError::invalid(format!(
                "Validation failed: at most {} media attachments",
                crate::store::MAX_MEDIA
            )));
        }
        if !ids.is_empty() && self.has_poll() {
            return Err(ApiError::invalid(
                "Validation failed: a notice has media or a poll, not both",
            ));
        }
        Ok(ids)
    }

    fn has_poll(&self) -> bool {
        self.poll.is_some() || !self.poll_options.is_empty() || self.poll_expires_in.is_some()
    }

    /// The poll asked for, checked against Mastodon's bounds; 422 otherwise.
    fn new_poll(&mut self) -> ApiResult<Option<NewPoll>> {
        if !self.has_poll() {
            return Ok(None);
        }
        let json = self.poll.take().unwrap_or_default();
        let options = if json.options.is_empty() {
            std::mem::take(&mut self.poll_options)
        } else {
            json.options
        };
        let bad = |m: String| ApiError::invalid(format!("Validation failed: {m}"));
        if options.len() < 2 || options.len() > POLL_MAX_OPTIONS {
            return Err(bad(format!("a poll has 2 to {POLL_MAX_OPTIONS} options")));
        }
        for o in &options {
            crate::domain::validate::no_controls("Poll option", o)
                .map_err(|e| ApiError::invalid(e.0))?;
            if o.trim().is_empty() || o.chars().count() > POLL_MAX_OPTION_CHARS {
                return Err(bad(format!(
                    "poll options are 1 to {POLL_MAX_OPTION_CHARS} characters"
                )));
            }
        }
        let expires_in = Id::given(json.expires_in.or(self.poll_expires_in.take()))
            .ok_or_else(|| bad("a poll needs expires_in".into()))?
            .parse::<i64>()
            .ok()
            .filter(|s| (POLL_MIN_EXPIRATION..=POLL_MAX_EXPIRATION).contains(s))
            .ok_or_else(|| {
                bad(format!(
                    "a poll lasts {POLL_MIN_EXPIRATION} to {POLL_MAX_EXPIRATION} seconds"
                ))
            })?;
        Ok(Some(NewPoll {
            options: options.into_iter().map(|o| o.trim().to_string()).collect(),
            expires_in,
            multiple: json.multiple.or(self.poll_multiple).is_some_and(|m| m.0),
            hide_totals: json
                .hide_totals
                .or(self.poll_hide_totals)
                .is_some_and(|h| h.0),
        }))
    }
}

/// A notice's text (with its content warning, within the limit) and its language (an
/// ISO 639 code, or none); anything else is 422.
fn body(
    node: &Node,
    status: Option<&str>,
    spoiler_text: &str,
    language: Option<String>,
) -> ApiResult<(NoticeText, Option<String>)> {
    let text = NoticeText::with_spoiler(status.unwrap_or(""), spoiler_text, node.config.max_chars)
        .map_err(|e| ApiError::invalid(e.0))?;
    let language = language
        .filter(|l| !l.is_empty())
        .map(|l| crate::domain::validate::language(&l))
        .transpose()
        .map_err(|e| ApiError::invalid(e.0))?;
    Ok((text, language))
}

fn render(node: &Node, s: &StatusRecord) -> Json<Status> {
    Json(Status::render(s, &node.site))
}

/// A notice the caller may see: public and unlisted to all; private to the author and
/// followers. Others are 404, as if they did not exist.
async fn visible(
    node: &Node,
    id: StatusId,
    viewer: Option<&AccountRecord>,
) -> ApiResult<StatusRecord> {
    let s = node
        .store
        .status(id, viewer.map(|v| v.id))
        .await?
        .ok_or(ApiError::NotFound)?;
    visible_to(node, &s, viewer.map(|v| v.id)).await?;
    Ok(s)
}

/// 404 unless `viewer` may see `s` (see [`visible`]).
pub async fn visible_to(node: &Node, s: &StatusRecord, viewer: Option<AccountId>) -> ApiResult<()> {
    if node.store.may_see(s, viewer).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// The caller's own notice: only its author may edit it or read its source (anyone
/// else's is 404, as on Mastodon), so nothing can speak in another's name.
async fn own(node: &Node, id: StatusId, me: &AccountRecord) -> ApiResult<StatusRecord> {
    let s = visible(node, id, Some(me)).await?;
    if s.account.id != me.id {
        return Err(ApiError::NotFound);
    }
    Ok(s)
}

/// A notice the caller may delete: her own, or any for a moderator.
async fn removable(node: &Node, id: StatusId, me: &AccountRecord) -> ApiResult<StatusRecord> {
    let s = visible(node, id, Some(me)).await?;
    if s.account.id != me.id {
        if !me.standing.role.moderates() {
            return Err(ApiError::Forbidden("This action is not allowed".into()));
        }
        // A moderator removes notices of accounts below her role only.
        super::admin::accounts::outranks(me, &s.account)?;
    }
    Ok(s)
}

async fn create(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    headers: HeaderMap,
    Input(f): Input<StatusForm>,
) -> ApiResult<Response> {
    let me = auth.account()?;
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| k.chars().take(200).collect::<String>())
        .filter(|k| !k.is_empty());
    Ok(match publish(&node, me, f, idempotency_key).await? {
        Published::Now(s) => render(&node, &s).into_response(),
        Published::Later(s) => Json(super::scheduled::scheduled_json(&s)).into_response(),
    })
}

/// What posting did: the notice, or the scheduled notice.
pub(crate) enum Published {
    Now(Box<StatusRecord>),
    Later(crate::store::ScheduledRecord),
}

/// Post (or schedule) `me`'s notice as the form says, every field checked: the one path
/// of the API and of the web composer.
/// Refuse (403, with the reason) anyone who may not put anything before readers:
/// pending, suspended or disabled, or barred by her wiki (who still reads and follows).
/// Posting, editing, boosting and uploading all ask, whichever way she came (API or page).
pub(crate) fn may_post(me: &AccountRecord) -> ApiResult<()> {
    match me.standing.posting_refusal() {
        Some(why) => Err(ApiError::Forbidden(why.into())),
        None => Ok(()),
    }
}

pub(crate) async fn publish(
    node: &Api,
    me: &AccountRecord,
    mut f: StatusForm,
    idempotency_key: Option<String>,
) -> ApiResult<Published> {
    may_post(me)?;
    let t = node.throttles();
    t.check(&t.statuses_per_account, me.id).await?;
    // A moderator marked her sensitive: her notices are, whatever she says.
    if me.standing.sensitized_at.is_some() {
        f.sensitive = Some(Flag(true));
    }
    f.refuse_unsupported()?;
    let media_ids = f.media_ids()?;
    let poll = f.new_poll()?;
    let scheduled_at = match f.scheduled_at.as_deref() {
        None | Some("") => None,
        Some(at) => Some(super::scheduled::time_ahead(node, at)?),
    };
    let spoiler_text = f.spoiler_text.unwrap_or_default();
    let (text, language) = body(node, f.status.as_deref(), &spoiler_text, f.language)?;
    let language = language.or_else(|| me.profile.language.clone());
    // A notice that names no visibility takes its author's default.
    let visibility = match f.visibility.as_deref() {
        None | Some("") => me.profile.privacy,
        Some(v) => Visibility::parse(v).map_err(|e| ApiError::invalid(e.0))?,
    };
    let in_reply_to_id = match Id::given(f.in_reply_to_id).as_deref() {
        Some(id) => Some(
            visible(
                node,
                parse_id(id).map_err(|_| {
                    ApiError::invalid("Validation failed: in_reply_to_id is not a status")
                })?,
                Some(me),
            )
            .await?
            .id,
        ),
        None => None,
    };
    if let Some(at) = scheduled_at {
        let params = ScheduledParams {
            text: text.as_str().to_string(),
            spoiler_text,
            sensitive: f.sensitive.map_or(me.profile.sensitive, |s| s.0),
            visibility,
            language,
            in_reply_to_id,
            poll,
            media_ids,
        };
        let s = node.store.schedule(me.id, at, &params).await?;
        return Ok(Published::Later(s));
    }
    let s = node
        .store
        .create_status(NewStatus {
            account_id: me.id,
            text: text.as_str().to_string(),
            spoiler_text,
            sensitive: f.sensitive.map_or(me.profile.sensitive, |s| s.0),
            visibility,
            language,
            in_reply_to_id,
            idempotency_key,
            poll,
            media_ids,
            remote: None,
        })
        .await?;
    Ok(Published::Now(Box::new(s)))
}

async fn show(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    let viewer = auth.account().cloned();
    let s = visible(&node, parse_id(&id)?, viewer.as_ref()).await?;
    Ok(render(&node, &s))
}

async fn edit(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path(id): Path<String>,
    Input(f): Input<StatusForm>,
) -> ApiResult<Json<Status>> {
    let me = auth.account()?;
    let edited = revise(&node, me, parse_id(&id)?, f).await?;
    Ok(render(&node, &edited))
}

/// Edit `me`'s notice `id` as the form says: the one path of the API and the web.
pub(crate) async fn revise(
    node: &Api,
    me: &AccountRecord,
    id: StatusId,
    f: StatusForm,
) -> ApiResult<StatusRecord> {
    let s = own(node, id, me).await?;
    // An edit is a new version of a notice.
    may_post(me)?;
    f.refuse_unsupported()?;
    if f.has_poll() {
        return Err(ApiError::invalid(
            "Validation failed: changing a poll is not supported yet",
        ));
    }
    // Given, its images become these (kept ones and new uploads); not given, they stay.
    let media = f.media_ids()?;
    let kept: Vec<i64> = s.media.iter().map(|m| m.id).collect();
    let media_ids = (!f.media_ids.is_empty() && media != kept).then_some(media);
    if media_ids.is_some() && s.poll.is_some() {
        return Err(ApiError::invalid(
            "Validation failed: a notice has media or a poll, not both",
        ));
    }
    let spoiler_text = f.spoiler_text.unwrap_or(s.spoiler_text);
    let (text, language) = body(node, f.status.as_deref(), &spoiler_text, f.language)?;
    let mut edited = node
        .store
        .edit_status(StatusChange {
            status_id: s.id,
            text: text.as_str().to_string(),
            spoiler_text,
            sensitive: f.sensitive.map_or(s.sensitive, |f| f.0),
            language,
            media_ids,
            remote: None,
        })
        .await?;
    edited.viewer = s.viewer;
    Ok(edited)
}

/// A moderator may say why she removes someone's notice (a Tidings extension; kept in
/// the audit log).
#[derive(Deserialize)]
struct RemovalParams {
    reason: Option<String>,
}

async fn delete(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path(id): Path<String>,
    Query(p): Query<RemovalParams>,
) -> ApiResult<Json<Status>> {
    let me = auth.account()?;
    let s = removable(&node, parse_id(&id)?, me).await?;
    let audit = (s.account.id != me.id).then(|| {
        let reason: String = p.reason.unwrap_or_default().chars().take(1000).collect();
        crate::store::Audit::new(
            Some(me.id),
            "remove_status",
            "Status",
            s.id,
            super::admin::acct_of(&s.account, &node.site),
        )
        .because(Some(&reason))
    });
    let deleted = node.store.delete_status(s.id, audit).await?;
    let mut out = Status::render(&deleted, &node.site);
    out.text = Some(deleted.text.clone());
    Ok(Json(out))
}

async fn history(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<StatusEdit>>> {
    let viewer = auth.account().cloned();
    let s = visible(&node, parse_id(&id)?, viewer.as_ref()).await?;
    let mut edits = node.store.status_history(s.id).await?;
    if edits.is_empty() {
        edits.push(crate::domain::entities::EditRecord {
            text: s.text.clone(),
            content: s.content.clone(),
            spoiler_text: s.spoiler_text.clone(),
            sensitive: s.sensitive,
            created_at: s.created_at,
        });
    }
    Ok(Json(
        edits
            .iter()
            .map(|e| StatusEdit::render(e, &s.account, &node.site))
            .collect(),
    ))
}

async fn source(
    State(node): State<Api>,
    auth: Scoped<ReadStatuses>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let me = auth.account()?;
    let s = own(&node, parse_id(&id)?, me).await?;
    Ok(Json(
        serde_json::json!({ "id": s.id.to_string(), "text": s.text, "spoiler_text": s.spoiler_text }),
    ))
}

async fn set_favourite(
    node: Api,
    auth: Scoped<WriteFavourites>,
    id: String,
    on: bool,
) -> ApiResult<Json<Status>> {
    let me = auth.account()?;
    let s = visible(&node, parse_id(&id)?, Some(me)).await?;
    let target = s.reblog.as_ref().map_or(s.id, |r| r.id);
    let s = node.store.set_favourite(me.id, target, on).await?;
    Ok(render(&node, &s))
}

async fn favourite(
    State(node): State<Api>,
    auth: Scoped<WriteFavourites>,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    set_favourite(node, auth, id, true).await
}

async fn unfavourite(
    State(node): State<Api>,
    auth: Scoped<WriteFavourites>,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    set_favourite(node, auth, id, false).await
}

async fn set_reblog(
    node: Api,
    auth: Scoped<WriteStatuses>,
    id: String,
    on: bool,
) -> ApiResult<Json<Status>> {
    let me = auth.account()?;
    // A boost puts a notice before her followers (undoing one is always allowed).
    if on {
        may_post(me)?;
    }
    let s = visible(&node, parse_id(&id)?, Some(me)).await?;
    let s = node.store.set_reblog(me.id, s.id, on).await?;
    Ok(render(&node, &s))
}

async fn reblog(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    set_reblog(node, auth, id, true).await
}

async fn unreblog(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    set_reblog(node, auth, id, false).await
}
