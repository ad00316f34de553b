//! `/api/v1/admin/accounts` and `/api/v2/admin/accounts`: moderators list, read and act
//! on accounts (Mastodon's paths, entities and preconditions), plus two Tidings
//! extensions: `POST /api/v1/admin/accounts/:id/role` (administrators grant or revoke
//! roles) and `POST /api/v1/admin/accounts/suspend` (a spam wave: many accounts at once,
//! by ids, sign-up address or sign-up time window).

use super::{Staff, audit_of, lenient_flag};
use crate::api::Api;
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{AdminReadAccounts, AdminWriteAccounts, Input, Query, parse_id};
use crate::api::form::{Flag, Id, Words};
use crate::api::timelines::{bounds_of, cursor_param, linked};
use crate::domain::AccountId;
use crate::domain::entities::AccountRecord;
use crate::domain::moderation::{AccountAction, AdminAccountRecord, Role, render};
use crate::store::{AdminAccountQuery, ReportChange, ReportQuery};
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/admin/accounts", get(index_v1))
        .route("/api/v2/admin/accounts", get(index_v2))
        .route("/api/v1/admin/accounts/suspend", post(suspend_many))
        .route("/api/v1/admin/accounts/{id}", get(show).delete(purge))
        .route("/api/v1/admin/accounts/{id}/action", post(action))
        .route("/api/v1/admin/accounts/{id}/role", post(set_role))
        .route("/api/v1/admin/accounts/{id}/{undo}", post(undo))
}

#[derive(Deserialize, Default)]
struct IndexParams {
    // v1
    local: Option<String>,
    remote: Option<String>,
    active: Option<String>,
    pending: Option<String>,
    disabled: Option<String>,
    sensitized: Option<String>,
    silenced: Option<String>,
    suspended: Option<String>,
    staff: Option<String>,
    // v2
    origin: Option<String>,
    status: Option<String>,
    permissions: Option<String>,
    // both
    by_domain: Option<String>,
    username: Option<String>,
    display_name: Option<String>,
    email: Option<String>,
    ip: Option<String>,
    max_id: Option<String>,
    since_id: Option<String>,
    min_id: Option<String>,
    limit: Option<String>,
}

impl IndexParams {
    fn base(&self) -> ApiResult<AdminAccountQuery> {
        let text = |v: &Option<String>| {
            v.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| s.chars().take(200).collect::<String>())
        };
        Ok(AdminAccountQuery {
            username: text(&self.username),
            display_name: text(&self.display_name),
            email: text(&self.email),
            ip: text(&self.ip),
            domain: text(&self.by_domain),
            max_id: cursor_param("max_id", &self.max_id)?,
            since_id: cursor_param("since_id", &self.since_id)?,
            min_id: cursor_param("min_id", &self.min_id)?,
            // Mastodon's admin lists: 100 by default, at most 200.
            limit: match self.limit.as_deref() {
                None | Some("") => 100,
                Some(l) => l
                    .parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("Invalid limit: {l:?}")))?
                    .clamp(1, 200),
            },
            ..Default::default()
        })
    }
}

/// Version 1: local and active unless asked otherwise (as on Mastodon).
async fn index_v1(
    State(node): State<Api>,
    _staff: Staff<AdminReadAccounts>,
    Query(p): Query<IndexParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let mut q = p.base()?;
    q.local = Some(!lenient_flag(&p.remote));
    if lenient_flag(&p.local) {
        q.local = Some(true);
    }
    q.status = Some("active".into());
    for (flag, status) in [
        (&p.active, "active"),
        (&p.pending, "pending"),
        (&p.disabled, "disabled"),
        (&p.silenced, "silenced"),
        (&p.suspended, "suspended"),
        (&p.sensitized, "sensitized"),
    ] {
        if lenient_flag(flag) {
            q.status = Some(status.into());
        }
    }
    q.staff = lenient_flag(&p.staff);
    list(&node, &q, &uri).await
}

/// Version 2: every account unless filtered.
async fn index_v2(
    State(node): State<Api>,
    _staff: Staff<AdminReadAccounts>,
    Query(p): Query<IndexParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let mut q = p.base()?;
    q.local = match p.origin.as_deref() {
        None | Some("") => None,
        Some("local") => Some(true),
        Some("remote") => Some(false),
        Some(o) => return Err(ApiError::bad_request(format!("Unknown origin: {o}"))),
    };
    q.status = match p.status.as_deref() {
        None | Some("") => None,
        Some(s @ ("active" | "pending" | "disabled" | "silenced" | "suspended" | "sensitized")) => {
            Some(s.to_string())
        }
        Some(s) => return Err(ApiError::bad_request(format!("Unknown status: {s}"))),
    };
    q.staff = p.permissions.as_deref() == Some("staff");
    list(&node, &q, &uri).await
}

async fn list(node: &Api, q: &AdminAccountQuery, uri: &Uri) -> ApiResult<Response> {
    let rows = node.store.admin_accounts(q, None).await?;
    let body: Vec<Value> = rows
        .iter()
        .map(|a| render::admin_account(a, &node.site))
        .collect();
    let bounds = bounds_of(&rows, |a| a.account.id.get());
    Ok(linked(&body, &node.site.base_url, uri, bounds))
}

async fn one(node: &Api, id: &str) -> ApiResult<AdminAccountRecord> {
    node.store
        .admin_accounts(&AdminAccountQuery::default(), Some(parse_id(id)?))
        .await?
        .pop()
        .ok_or(ApiError::NotFound)
}

async fn show(
    State(node): State<Api>,
    _staff: Staff<AdminReadAccounts>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let a = one(&node, &id).await?;
    Ok(Json(render::admin_account(&a, &node.site)))
}

/// A moderator acts only on accounts below her own role (a moderator cannot suspend an
/// administrator; no one acts on the owner but the owner).
pub fn outranks(me: &AccountRecord, target: &AccountRecord) -> ApiResult<()> {
    let theirs = target.standing.role;
    if me.id == target.id || (theirs.moderates() && theirs >= me.standing.role) {
        return Err(ApiError::Forbidden("This action is not allowed".into()));
    }
    Ok(())
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(rename = "type")]
    kind: Option<String>,
    report_id: Option<Id>,
    text: Option<String>,
    #[allow(dead_code)]
    warning_preset_id: Option<Id>,
    /// Tidings sends no e-mail; accepted so that clients' requests are not refused.
    #[allow(dead_code)]
    send_email_notification: Option<Flag>,
}

/// `POST /api/v1/admin/accounts/:id/action`: `none` (a warning), `sensitive`,
/// `disable`, `silence` or `suspend`, with the moderator's `text` kept in the audit log;
/// the given report, and (for any real action) every open report on the account, is
/// resolved. Answers `{}`.
async fn action(
    State(node): State<Api>,
    staff: Staff<AdminWriteAccounts>,
    Path(id): Path<String>,
    Input(f): Input<ActionForm>,
) -> ApiResult<Json<Value>> {
    let me = staff.me();
    let kind = f.kind.as_deref().unwrap_or("none");
    let action = AccountAction::parse(kind).ok_or_else(|| {
        ApiError::invalid(format!(
            "Validation failed: Type {kind:?} is not included in the list"
        ))
    })?;
    let text: Option<String> = f.text.map(|t| t.chars().take(5000).collect());
    let target = one(&node, &id).await?.account;
    if action == AccountAction::Disable && target.remote.is_some() {
        return Err(ApiError::Forbidden(
            "Only local accounts can be disabled".into(),
        ));
    }
    outranks(me, &target)?;
    let report = match Id::given(f.report_id) {
        Some(r) => {
            let rid = parse_id::<i64>(&r)?;
            let report = node.store.report(rid).await?.ok_or(ApiError::NotFound)?;
            if report.target.id != target.id {
                return Err(ApiError::invalid("The report is about another account"));
            }
            Some(rid)
        }
        None => None,
    };
    node.store
        .moderate(
            target.id,
            action,
            audit_of(me, action.as_str(), &target, &node.site).because(text.as_deref()),
        )
        .await?;
    let mut resolve: Vec<i64> = report.into_iter().collect();
    if action != AccountAction::None {
        let open = node
            .store
            .reports(&ReportQuery {
                resolved: Some(false),
                target_account_id: Some(target.id),
                limit: 200,
                ..Default::default()
            })
            .await?;
        resolve.extend(open.iter().map(|r| r.id).filter(|r| Some(*r) != report));
    }
    for rid in resolve {
        node.store
            .change_report(
                rid,
                ReportChange::Resolve(me.id),
                crate::store::Audit::new(Some(me.id), "resolve", "Report", rid, ""),
            )
            .await?;
    }
    Ok(Json(json!({})))
}

/// `approve`, `reject`, `enable`, `unsilence`, `unsuspend`, `unsensitive`.
async fn undo(
    State(node): State<Api>,
    staff: Staff<AdminWriteAccounts>,
    Path((id, undo)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let me = staff.me();
    let action = match undo.as_str() {
        "approve" => AccountAction::Approve,
        "reject" => {
            let target = one(&node, &id).await?;
            let a = &target.account;
            if a.standing.approved || a.remote.is_some() {
                return Err(ApiError::Forbidden("This action is not allowed".into()));
            }
            outranks(me, a)?;
            node.store
                .reject_account(a.id, audit_of(me, "reject", a, &node.site))
                .await?;
            return Ok(Json(render::admin_account(&target, &node.site)));
        }
        "enable" => AccountAction::Enable,
        "unsilence" => AccountAction::Unsilence,
        "unsuspend" => AccountAction::Unsuspend,
        "unsensitive" => AccountAction::Unsensitive,
        _ => return Err(ApiError::NotFound),
    };
    let target = one(&node, &id).await?.account;
    let local = target.remote.is_none();
    let allowed = match action {
        AccountAction::Approve => local && !target.standing.approved,
        AccountAction::Enable => local,
        _ => true,
    };
    if !allowed {
        return Err(ApiError::Forbidden("This action is not allowed".into()));
    }
    outranks(me, &target)?;
    node.store
        .moderate(
            target.id,
            action,
            audit_of(me, action.as_str(), &target, &node.site),
        )
        .await?;
    let after = one(&node, &id).await?;
    Ok(Json(render::admin_account(&after, &node.site)))
}

/// `DELETE /api/v1/admin/accounts/:id`: delete a suspended account's data for good
/// (administrators). 403 unless suspended.
async fn purge(
    State(node): State<Api>,
    staff: Staff<AdminWriteAccounts, true>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let me = staff.me();
    let target = one(&node, &id).await?;
    if target.account.standing.suspended_at.is_none() {
        return Err(ApiError::Forbidden(
            "Only a suspended account can be deleted".into(),
        ));
    }
    node.store
        .purge_account(
            target.account.id,
            audit_of(me, "delete", &target.account, &node.site),
        )
        .await?;
    let after = one(&node, &id).await?;
    Ok(Json(render::admin_account(&after, &node.site)))
}

#[derive(Deserialize)]
struct RoleForm {
    role: Option<String>,
}

/// Grant or revoke a role (administrators; a Tidings extension): `role` is `user`,
/// `moderator` or `admin`. Only the owner makes owners or changes an owner.
async fn set_role(
    State(node): State<Api>,
    staff: Staff<AdminWriteAccounts, true>,
    Path(id): Path<String>,
    Input(f): Input<RoleForm>,
) -> ApiResult<Json<Value>> {
    let me = staff.me();
    let role = f
        .role
        .as_deref()
        .and_then(Role::parse)
        .ok_or_else(|| ApiError::invalid("role must be user, moderator, admin or owner"))?;
    let target = one(&node, &id).await?.account;
    if target.remote.is_some() {
        return Err(ApiError::invalid("Only local accounts have roles"));
    }
    // Roles below one's own only, on accounts below one's own; the owner does anything
    // but change her own (a server is never left without an owner).
    let mine = me.standing.role;
    let owner = mine == Role::Owner;
    if target.id == me.id || (!owner && (role >= mine || target.standing.role >= mine)) {
        return Err(ApiError::Forbidden("This action is not allowed".into()));
    }
    node.store
        .set_role(
            target.id,
            role,
            audit_of(me, &format!("role:{}", role.as_str()), &target, &node.site),
        )
        .await?;
    let after = one(&node, &id).await?;
    Ok(Json(render::admin_account(&after, &node.site)))
}

/// Most accounts one call suspends.
const WAVE_MAX: i64 = 1000;

#[derive(Deserialize)]
struct WaveForm {
    #[serde(default, alias = "account_ids[]")]
    account_ids: Option<Words>,
    ip: Option<String>,
    created_after: Option<String>,
    created_before: Option<String>,
    text: Option<String>,
    close_registrations: Option<Flag>,
}

/// Stop a spam wave (a Tidings extension; moderators): suspend every local account
/// named in `account_ids[]`, or signed up from `ip`, or in the window `created_after` …
/// `created_before` (ISO 8601) — staff never — at most 1,000 per call; with
/// `close_registrations` (administrators), registrations close in the same call. Each
/// suspension is its own audited act, felt live like any other. Answers
/// `{"suspended": [ids]}`.
async fn suspend_many(
    State(node): State<Api>,
    staff: Staff<AdminWriteAccounts>,
    Input(f): Input<WaveForm>,
) -> ApiResult<Json<Value>> {
    let me = staff.me();
    let time = |name: &str, v: &Option<String>| -> ApiResult<Option<i64>> {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                    .map(|t| (t.unix_timestamp_nanos() / 1000) as i64)
                    .map_err(|_| ApiError::invalid(format!("{name} is not an ISO 8601 time")))
            })
            .transpose()
    };
    let ids: Vec<AccountId> = f
        .account_ids
        .as_ref()
        .map(|w| w.0.iter().map(|i| parse_id(i)).collect::<ApiResult<_>>())
        .transpose()?
        .unwrap_or_default();
    let after = time("created_after", &f.created_after)?;
    let before = time("created_before", &f.created_before)?;
    let ip = f.ip.as_deref().filter(|s| !s.is_empty());
    if ids.is_empty() && ip.is_none() && after.is_none() && before.is_none() {
        return Err(ApiError::invalid(
            "Name accounts: account_ids[], ip, or created_after/created_before",
        ));
    }
    if ids.len() as i64 > WAVE_MAX {
        return Err(ApiError::invalid(format!(
            "At most {WAVE_MAX} accounts per call"
        )));
    }
    let close = f.close_registrations.is_some_and(|c| c.0);
    if close && !me.standing.role.administers() {
        return Err(ApiError::Forbidden(
            "Only administrators can close registrations".into(),
        ));
    }
    let mut targets: Vec<AccountRecord> = Vec::new();
    if ip.is_some() || after.is_some() || before.is_some() {
        let q = AdminAccountQuery {
            local: Some(true),
            ip: ip.map(str::to_string),
            created_after: after,
            created_before: before,
            limit: WAVE_MAX,
            ..Default::default()
        };
        targets.extend(
            node.store
                .admin_accounts(&q, None)
                .await?
                .into_iter()
                .map(|a| a.account),
        );
    }
    for id in ids {
        if let Some(a) = node.store.account(id).await? {
            targets.push(a);
        }
    }
    let text: Option<String> = f.text.map(|t| t.chars().take(5000).collect());
    if close {
        node.store
            .set_setting(
                crate::moderation::REGISTRATIONS,
                "none",
                crate::store::Audit::new(
                    Some(me.id),
                    "change_setting",
                    "Setting",
                    crate::moderation::REGISTRATIONS,
                    "none",
                )
                .because(text.as_deref()),
            )
            .await?;
    }
    let mut done = Vec::new();
    for t in targets {
        let staff_member = t.standing.role.moderates();
        if staff_member
            || t.id == me.id
            || t.standing.suspended_at.is_some()
            || done.contains(&t.id.to_string())
        {
            continue;
        }
        node.store
            .moderate(
                t.id,
                AccountAction::Suspend,
                audit_of(me, "suspend", &t, &node.site).because(text.as_deref()),
            )
            .await?;
        done.push(t.id.to_string());
    }
    Ok(Json(json!({ "suspended": done })))
}
