//! Mastodon's admin API, for moderators and administrators: accounts and what is done
//! to them, reports, domain/e-mail/IP blocks; and two Tidings extensions, the audit log
//! (`GET /api/v1/admin/audit_log`) and instance settings changed at run time (`GET`/`PUT
//! /api/v1/admin/settings`, e.g. `registrations_mode`).
//!
//! Who may call what lives in the route's type ([`Staff`]): the token's scope (Mastodon's
//! `admin:read:accounts`, … or the broader `admin:read`/`admin:write`) and the caller's
//! role — moderators for moderation, administrators for settings and roles. Every refusal
//! is logged. What a moderator does is written with its audit line in one transaction
//! (see `crate::store`), and travels the event path to every node.

pub mod accounts;
pub mod blocks;
pub mod reports;

use super::error::{ApiError, ApiResult};
use super::extract::{AdminRead, AdminWrite, Auth, Input, Query, Scope, Scoped};
use crate::api::Api;
use crate::domain::Site;
use crate::domain::entities::AccountRecord;
use crate::domain::moderation::{Registrations, render};
use crate::store::Audit;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .merge(accounts::router())
        .merge(reports::router())
        .merge(blocks::router())
        .route("/api/v1/admin/audit_log", get(audit_log))
        .route("/api/v1/admin/settings", get(settings).put(set_settings))
}

/// A staff member whose token covers scope `S`: a moderator, or (`ADMIN`) an
/// administrator. Anyone else: 403, logged.
pub struct Staff<S: Scope, const ADMIN: bool = false>(pub Auth, std::marker::PhantomData<S>);

impl<S: Scope, const ADMIN: bool> Staff<S, ADMIN> {
    pub fn me(&self) -> &AccountRecord {
        // Checked present when extracted.
        self.0.0.account.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl<S: Scope, const ADMIN: bool> FromRequestParts<Api> for Staff<S, ADMIN> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, node: &Api) -> ApiResult<Self> {
        let path = parts.uri.path().to_string();
        let scoped = match Scoped::<S>::from_request_parts(parts, node).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%path, error = %e, "admin API refused");
                return Err(e);
            }
        };
        let auth = scoped.0;
        let Some(me) = auth.0.account.as_ref() else {
            tracing::warn!(%path, "admin API refused: app token");
            return Err(ApiError::Forbidden("This action is not allowed".into()));
        };
        let role = me.standing.role;
        let allowed = if ADMIN {
            role.administers()
        } else {
            role.moderates()
        };
        if !allowed {
            tracing::warn!(%path, account = %me.id, role = role.as_str(), "admin API refused: role");
            return Err(ApiError::Forbidden("This action is not allowed".into()));
        }
        Ok(Staff(auth, std::marker::PhantomData))
    }
}

/// `name` or `name@domain`: how the audit log names an account.
pub fn acct_of(a: &AccountRecord, _site: &Site) -> String {
    match &a.remote {
        None => a.username.clone(),
        Some(r) => format!("{}@{}", a.username, r.domain),
    }
}

/// An audit line for `me` doing `action` to `a`.
pub fn audit_of(me: &AccountRecord, action: &str, a: &AccountRecord, site: &Site) -> Audit {
    Audit::new(Some(me.id), action, "Account", a.id, acct_of(a, site))
}

/// A query flag as Mastodon's clients send it: `true`/`1`, and Python's `True` too
/// (Mastodon.py sends `active=True`). Absent or `false`/`0`: false.
pub fn lenient_flag(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|s| !matches!(s.to_ascii_lowercase().as_str(), "" | "false" | "0"))
}

#[derive(Deserialize)]
struct AuditParams {
    max_id: Option<String>,
    limit: Option<String>,
}

/// The audit log, newest first (a Tidings extension; administrators only). Each line:
/// `id`, `account_id` and `username` of who acted (null: the operator's shell), `action`,
/// `target_type`, `target_id`, `target_name`, `reason`, `created_at`.
async fn audit_log(
    State(node): State<Api>,
    _staff: Staff<AdminRead, true>,
    Query(p): Query<AuditParams>,
) -> ApiResult<Json<Vec<Value>>> {
    let max = super::timelines::cursor_param("max_id", &p.max_id)?;
    let limit = p
        .limit
        .as_deref()
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(100)
        .clamp(1, 200);
    let lines = node.store.audit_log(max, limit).await?;
    Ok(Json(lines.iter().map(render::audit).collect()))
}

/// How people may join now: the run-time setting, else the configured default.
pub async fn registrations(node: &crate::Node) -> ApiResult<Registrations> {
    Ok(crate::moderation::registrations(node).await?)
}

async fn settings(
    State(node): State<Api>,
    _staff: Staff<AdminRead, true>,
) -> ApiResult<Json<Value>> {
    let mode = registrations(&node).await?;
    Ok(Json(json!({ "registrations_mode": mode.as_str() })))
}

#[derive(Deserialize)]
struct SettingsForm {
    registrations_mode: Option<String>,
}

/// Change instance settings at run time (administrators): `registrations_mode` is
/// `open`, `approved` (sign-ups wait for a moderator) or `none` (closed). Every node
/// reads it from the database, so it holds everywhere at once.
async fn set_settings(
    State(node): State<Api>,
    staff: Staff<AdminWrite, true>,
    Input(f): Input<SettingsForm>,
) -> ApiResult<Json<Value>> {
    if let Some(mode) = f.registrations_mode {
        let mode = Registrations::parse(&mode).ok_or_else(|| {
            ApiError::invalid("registrations_mode must be open, approved or none")
        })?;
        node.store
            .set_setting(
                crate::moderation::REGISTRATIONS,
                mode.as_str(),
                Audit::new(
                    Some(staff.me().id),
                    "change_setting",
                    "Setting",
                    crate::moderation::REGISTRATIONS,
                    mode.as_str(),
                ),
            )
            .await?;
    }
    settings(State(node), Staff(staff.0, std::marker::PhantomData)).await
}
