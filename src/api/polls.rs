//! Polls: `GET /api/v1/polls/:id` and `POST /api/v1/polls/:id/votes`. A poll is seen by
//! whoever may see its notice; a vote's new counts reach every reader of the notice as a
//! `status.update` event.

use super::error::{ApiError, ApiResult};
use super::extract::{Input, MaybeScoped, ReadStatuses, Scoped, WriteStatuses};
use super::form::Id;
use crate::api::Api;
use crate::domain::entities::Poll;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/polls/{id}", get(show))
        .route("/api/v1/polls/{id}/votes", post(vote))
}

fn poll_id(s: &str) -> ApiResult<i64> {
    super::extract::parse_id(s)
}

async fn show(
    State(node): State<Api>,
    auth: MaybeScoped<ReadStatuses>,
    Path(id): Path<String>,
) -> ApiResult<Json<Poll>> {
    let viewer = auth.account_id();
    let s = node
        .store
        .poll(poll_id(&id)?, viewer)
        .await?
        .ok_or(ApiError::NotFound)?;
    super::statuses::visible_to(&node, &s, viewer).await?;
    let p = s.poll.as_ref().ok_or(ApiError::NotFound)?;
    Ok(Json(Poll::render(p, crate::domain::now_micros())))
}

#[derive(Deserialize)]
struct VoteForm {
    #[serde(default, alias = "choices[]")]
    choices: Vec<Id>,
}

async fn vote(
    State(node): State<Api>,
    auth: Scoped<WriteStatuses>,
    Path(id): Path<String>,
    Input(f): Input<VoteForm>,
) -> ApiResult<Json<Poll>> {
    let me = auth.account()?.id;
    let pid = poll_id(&id)?;
    let s = node
        .store
        .poll(pid, Some(me))
        .await?
        .ok_or(ApiError::NotFound)?;
    super::statuses::visible_to(&node, &s, Some(me)).await?;
    let choices: Vec<u32> = f
        .choices
        .iter()
        .map(|c| c.0.parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::invalid("Validation failed: choices are option indexes"))?;
    if choices.is_empty() || choices.len() > super::statuses::POLL_MAX_OPTIONS {
        return Err(ApiError::invalid(
            "Validation failed: choose one option or more",
        ));
    }
    let s = node.store.vote(pid, me, &choices).await?;
    let p = s.poll.as_ref().ok_or(ApiError::NotFound)?;
    Ok(Json(Poll::render(p, crate::domain::now_micros())))
}
