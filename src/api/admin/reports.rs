//! Reports: `POST /api/v1/reports` (anyone signed in reports an account, and notices of
//! it), and the moderators' side, `/api/v1/admin/reports` (list, read, assign to self,
//! unassign, resolve, reopen). Every moderator hears of a new report at once
//! (`admin.report` notification, live on her streams).

use super::{Staff, lenient_flag};
use crate::api::Api;
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{
    AdminReadReports, AdminWriteReports, Input, Query, Scoped, WriteReports, parse_id,
};
use crate::api::form::{Flag, Id, Words};
use crate::api::timelines::{bounds_of, cursor_param, linked};
use crate::domain::StatusId;
use crate::domain::moderation::{REPORT_COMMENT_MAX, ReportRecord, render, report_category};
use crate::store::{Audit, NewReport, ReportChange, ReportQuery};
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/reports", post(create))
        .route("/api/v1/admin/reports", get(index))
        .route("/api/v1/admin/reports/{id}", get(show))
        .route("/api/v1/admin/reports/{id}/{change}", post(change))
}

#[derive(Deserialize)]
struct ReportForm {
    account_id: Option<Id>,
    #[serde(default, alias = "status_ids[]")]
    status_ids: Option<Words>,
    comment: Option<String>,
    category: Option<String>,
    #[serde(default, alias = "rule_ids[]")]
    rule_ids: Option<Words>,
    forward: Option<Flag>,
}

/// Most notices one report names.
const REPORT_STATUSES_MAX: usize = 100;

async fn create(
    State(node): State<Api>,
    auth: Scoped<WriteReports>,
    Input(f): Input<ReportForm>,
) -> ApiResult<Json<Value>> {
    let me = auth.account()?;
    let target_id = Id::given(f.account_id)
        .ok_or_else(|| ApiError::invalid("Validation failed: account_id is required"))?;
    let target = node
        .store
        .account(parse_id(&target_id)?)
        .await?
        .filter(|t| t.standing.suspended_at.is_none())
        .ok_or(ApiError::NotFound)?;
    if target.id == me.id {
        return Err(ApiError::invalid(
            "Validation failed: you cannot report yourself",
        ));
    }
    let comment = f.comment.unwrap_or_default();
    if comment.chars().count() > REPORT_COMMENT_MAX {
        return Err(ApiError::invalid(format!(
            "Validation failed: Comment is too long (maximum is {REPORT_COMMENT_MAX} characters)"
        )));
    }
    let rule_ids: Vec<String> = f.rule_ids.map(|w| w.0).unwrap_or_default();
    if rule_ids.len() > 20 || rule_ids.iter().any(|r| r.len() > 64) {
        return Err(ApiError::invalid(
            "Validation failed: too many or too long rule ids",
        ));
    }
    let category = match f.category.as_deref() {
        None | Some("") if !rule_ids.is_empty() => "violation",
        None | Some("") => "other",
        Some(c) => report_category(c).ok_or_else(|| {
            ApiError::invalid(format!(
                "Validation failed: Category {c:?} is not included in the list"
            ))
        })?,
    };
    if !rule_ids.is_empty() && category != "violation" {
        return Err(ApiError::invalid(
            "Validation failed: Rule ids must be blank",
        ));
    }
    let ids: Vec<String> = f.status_ids.map(|w| w.0).unwrap_or_default();
    if ids.len() > REPORT_STATUSES_MAX {
        return Err(ApiError::invalid(format!(
            "Validation failed: at most {REPORT_STATUSES_MAX} notices per report"
        )));
    }
    let mut status_ids = Vec::new();
    for id in ids {
        let sid: StatusId = parse_id(&id)?;
        // Only notices of the reported account that the reporter may see.
        let s = node
            .store
            .status(sid, Some(me.id))
            .await?
            .filter(|s| s.account.id == target.id)
            .ok_or(ApiError::NotFound)?;
        if !node.store.may_see(&s, Some(me.id)).await? {
            return Err(ApiError::NotFound);
        }
        status_ids.push(sid);
    }
    let t = node.throttles();
    t.check(&t.reports_per_account, me.id).await?;
    let report = node
        .store
        .create_report(NewReport {
            account: me.id,
            target: target.id,
            status_ids,
            rule_ids,
            comment,
            category: category.to_string(),
            forward: f.forward.is_some_and(|f| f.0) && target.remote.is_some(),
        })
        .await?;
    Ok(Json(render::report(&report, &node.site)))
}

#[derive(Deserialize)]
struct IndexParams {
    resolved: Option<String>,
    account_id: Option<String>,
    target_account_id: Option<String>,
    max_id: Option<String>,
    since_id: Option<String>,
    min_id: Option<String>,
    limit: Option<String>,
}

/// Open reports, or (`resolved=true`) resolved ones — as on Mastodon.
async fn index(
    State(node): State<Api>,
    _staff: Staff<AdminReadReports>,
    Query(p): Query<IndexParams>,
    uri: Uri,
) -> ApiResult<Response> {
    let q = ReportQuery {
        resolved: Some(lenient_flag(&p.resolved)),
        account_id: p.account_id.as_deref().map(parse_id).transpose()?,
        target_account_id: p.target_account_id.as_deref().map(parse_id).transpose()?,
        max_id: cursor_param("max_id", &p.max_id)?,
        since_id: cursor_param("since_id", &p.since_id)?,
        min_id: cursor_param("min_id", &p.min_id)?,
        limit: p
            .limit
            .as_deref()
            .and_then(|l| l.parse::<i64>().ok())
            .unwrap_or(100)
            .clamp(1, 200),
    };
    let rows = node.store.reports(&q).await?;
    let mut body = Vec::with_capacity(rows.len());
    for r in &rows {
        body.push(admin_report(&node, r).await?);
    }
    let bounds = bounds_of(&rows, |r| r.id);
    Ok(linked(&body, &node.site.base_url, &uri, bounds))
}

/// `Admin::Report`: its accounts as moderators see them, and the reported notices that
/// still stand.
pub async fn admin_report(node: &Api, r: &ReportRecord) -> ApiResult<Value> {
    let mut statuses = Vec::new();
    for id in &r.status_ids {
        if let Some(s) = node.store.status(*id, None).await? {
            statuses.push(s);
        }
    }
    let mut ids = vec![r.account.id, r.target.id];
    ids.extend(r.assigned.as_ref().map(|a| a.id));
    ids.extend(r.action_taken_by.as_ref().map(|a| a.id));
    let mut admins = Vec::new();
    for id in ids {
        admins.extend(
            node.store
                .admin_accounts(&Default::default(), Some(id))
                .await?,
        );
    }
    let site = node.site.clone();
    let accounts = move |a: &crate::domain::entities::AccountRecord| -> Value {
        match admins.iter().find(|x| x.account.id == a.id) {
            Some(x) => render::admin_account(x, &site),
            None => Value::Null,
        }
    };
    Ok(render::admin_report(r, &statuses, &accounts, &node.site))
}

async fn show(
    State(node): State<Api>,
    _staff: Staff<AdminReadReports>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let r = node
        .store
        .report(parse_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(admin_report(&node, &r).await?))
}

async fn change(
    State(node): State<Api>,
    staff: Staff<AdminWriteReports>,
    Path((id, change)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let me = staff.me();
    let id: i64 = parse_id(&id)?;
    let (change, verb) = match change.as_str() {
        "assign_to_self" => (ReportChange::AssignTo(me.id), "assigned_to_self"),
        "unassign" => (ReportChange::Unassign, "unassigned"),
        "resolve" => (ReportChange::Resolve(me.id), "resolve"),
        "reopen" => (ReportChange::Reopen, "reopen"),
        _ => return Err(ApiError::NotFound),
    };
    let r = node
        .store
        .change_report(id, change, Audit::new(Some(me.id), verb, "Report", id, ""))
        .await?;
    Ok(Json(admin_report(&node, &r).await?))
}
