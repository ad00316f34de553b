//! The API's one error type: a status code and `{"error": "…"}`. Internal details go to
//! the log, never to the client.

use crate::store::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized(String),
    Forbidden(String),
    NotFound,
    /// Validation failed; `details` names fields, as Mastodon's registration does.
    Unprocessable(String, Option<Value>),
    TooMany(String),
    /// A rate limit: Mastodon's 429 with `Retry-After` and `X-RateLimit-*` headers.
    Throttled {
        limit: u32,
        retry_after: u64,
        /// When the budget is whole again (microseconds since the epoch).
        reset_at: i64,
    },
    Unavailable(String),
    Internal(String),
}

impl ApiError {
    pub fn bad_request(m: impl Into<String>) -> Self {
        ApiError::BadRequest(m.into())
    }
    pub fn invalid(m: impl Into<String>) -> Self {
        ApiError::Unprocessable(m.into(), None)
    }
    pub fn unauthorized() -> Self {
        ApiError::Unauthorized("The access token is invalid".into())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::BadRequest(m)
            | ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::TooMany(m)
            | ApiError::Unavailable(m)
            | ApiError::Internal(m) => f.write_str(m),
            ApiError::NotFound => f.write_str("Record not found"),
            ApiError::Throttled { .. } => f.write_str("Too many requests"),
            ApiError::Unprocessable(m, d) => match d {
                Some(d) => write!(f, "{m}: {d}"),
                None => f.write_str(m),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Throttled {
            limit,
            retry_after,
            reset_at,
        } = self
        {
            let reset = super::throttle::reset_time(reset_at);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("retry-after", retry_after.to_string()),
                    ("x-ratelimit-limit", limit.to_string()),
                    ("x-ratelimit-remaining", "0".to_string()),
                    ("x-ratelimit-reset", reset),
                ],
                Json(json!({ "error": "Too many requests" })),
            )
                .into_response();
        }
        let (status, message, details) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m, None),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m, None),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m, None),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "Record not found".into(), None),
            ApiError::Unprocessable(m, d) => (StatusCode::UNPROCESSABLE_ENTITY, m, d),
            ApiError::TooMany(m) => (StatusCode::TOO_MANY_REQUESTS, m, None),
            ApiError::Throttled { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests".into(),
                None,
            ),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m, None),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error".into(),
                    None,
                )
            }
        };
        let mut body = json!({ "error": message });
        if let Some(d) = details {
            body["details"] = d;
        }
        (status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Taken(field) => {
                ApiError::invalid(format!("Validation failed: {field} is already taken"))
            }
            StoreError::Invalid(m) => ApiError::invalid(m),
            StoreError::Forbidden => ApiError::Forbidden("This action is not allowed".into()),
            StoreError::Database(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::passwords::Busy> for ApiError {
    fn from(_: crate::passwords::Busy) -> Self {
        ApiError::Throttled {
            limit: crate::passwords::QUEUE as u32,
            retry_after: 1,
            reset_at: crate::domain::now_micros() + 1_000_000,
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
