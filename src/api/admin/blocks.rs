//! Blocks of servers, e-mail domains and sign-up addresses (Mastodon's
//! `/api/v1/admin/domain_blocks`, `domain_allows`, `email_domain_blocks`, `ip_blocks`).
//! A domain block applies to federation as it lands: `suspend` refuses the server's
//! activities and deliveries and suspends its accounts here (their notices withdrawn from
//! open screens), `silence` keeps them out of public places; lifting it undoes what it
//! did. E-mail domain and IP blocks are checked at sign-up (`crate::moderation`).

use super::Staff;
use crate::api::Api;
use crate::api::error::{ApiError, ApiResult};
use crate::api::extract::{
    AdminReadDomainAllows, AdminReadDomainBlocks, AdminReadEmailDomainBlocks, AdminReadIpBlocks,
    AdminWriteDomainAllows, AdminWriteDomainBlocks, AdminWriteEmailDomainBlocks,
    AdminWriteIpBlocks, Input, parse_id,
};
use crate::api::form::Flag;
use crate::domain::moderation::{
    AccessRule, DomainBlock, domain_severity, ip_severity, normalize_domain, render,
};
use crate::store::Audit;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<Api> {
    Router::new()
        .route(
            "/api/v1/admin/domain_blocks",
            get(domain_blocks).post(create_domain_block),
        )
        .route(
            "/api/v1/admin/domain_blocks/{id}",
            get(domain_block)
                .put(update_domain_block)
                .delete(delete_domain_block),
        )
        .route(
            "/api/v1/admin/domain_allows",
            get(domain_allows).post(create_domain_allow),
        )
        .route(
            "/api/v1/admin/domain_allows/{id}",
            get(domain_allow).delete(delete_domain_allow),
        )
        .route(
            "/api/v1/admin/email_domain_blocks",
            get(email_blocks).post(create_email_block),
        )
        .route(
            "/api/v1/admin/email_domain_blocks/{id}",
            get(email_block).delete(delete_email_block),
        )
        .route(
            "/api/v1/admin/ip_blocks",
            get(ip_blocks).post(create_ip_block),
        )
        .route(
            "/api/v1/admin/ip_blocks/{id}",
            get(ip_block).delete(delete_ip_block),
        )
}

async fn domain_blocks(
    State(node): State<Api>,
    _staff: Staff<AdminReadDomainBlocks>,
) -> ApiResult<Json<Vec<Value>>> {
    let all = node.store.domain_blocks(None).await?;
    Ok(Json(all.iter().map(render::domain_block).collect()))
}

async fn domain_block(
    State(node): State<Api>,
    _staff: Staff<AdminReadDomainBlocks>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let b = node
        .store
        .domain_blocks(Some(parse_id(&id)?))
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(render::domain_block(&b)))
}

#[derive(Deserialize)]
struct DomainBlockForm {
    domain: Option<String>,
    severity: Option<String>,
    reject_media: Option<Flag>,
    reject_reports: Option<Flag>,
    private_comment: Option<String>,
    public_comment: Option<String>,
    obfuscate: Option<Flag>,
}

impl DomainBlockForm {
    /// Apply the form to `b` (a new block, or the one being changed).
    fn onto(self, mut b: DomainBlock) -> ApiResult<DomainBlock> {
        if let Some(s) = self.severity {
            b.severity = domain_severity(&s)
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "Validation failed: Severity {s:?} is not included in the list"
                    ))
                })?
                .to_string();
        }
        let comment = |c: Option<String>| c.map(|c| c.chars().take(1000).collect::<String>());
        b.reject_media = self.reject_media.map_or(b.reject_media, |f| f.0);
        b.reject_reports = self.reject_reports.map_or(b.reject_reports, |f| f.0);
        b.obfuscate = self.obfuscate.map_or(b.obfuscate, |f| f.0);
        if self.private_comment.is_some() {
            b.private_comment = comment(self.private_comment);
        }
        if self.public_comment.is_some() {
            b.public_comment = comment(self.public_comment);
        }
        Ok(b)
    }
}

async fn create_domain_block(
    State(node): State<Api>,
    staff: Staff<AdminWriteDomainBlocks>,
    Input(mut f): Input<DomainBlockForm>,
) -> ApiResult<Response> {
    let domain = f.domain.take().unwrap_or_default();
    if domain.trim().is_empty() {
        return Err(ApiError::invalid(
            "Validation failed: Domain can't be blank",
        ));
    }
    let domain = normalize_domain(&domain)
        .ok_or_else(|| ApiError::invalid("Validation failed: Domain is not a domain name"))?;
    if domain == node.site.domain.split(':').next().unwrap_or_default() {
        return Err(ApiError::invalid(
            "Validation failed: this server's own domain",
        ));
    }
    let block = f.onto(DomainBlock {
        domain: domain.clone(),
        severity: "silence".into(),
        ..Default::default()
    })?;
    if let Some(existing) = node.store.domain_block_of(&domain).await? {
        let stricter = |s: &str| match s {
            "suspend" => 2,
            "silence" => 1,
            _ => 0,
        };
        if existing.domain == domain || stricter(&existing.severity) >= stricter(&block.severity) {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({
                    "error": format!("You have already imposed stricter limits on {}.", existing.domain),
                    "existing_domain_block": render::domain_block(&existing),
                })),
            )
                .into_response());
        }
    }
    let audit = Audit::new(
        Some(staff.me().id),
        format!("block_domain:{}", block.severity),
        "DomainBlock",
        &domain,
        &domain,
    )
    .because(block.private_comment.as_deref());
    let saved = node.store.save_domain_block(block, audit).await?;
    Ok(Json(render::domain_block(&saved)).into_response())
}

async fn update_domain_block(
    State(node): State<Api>,
    staff: Staff<AdminWriteDomainBlocks>,
    Path(id): Path<String>,
    Input(mut f): Input<DomainBlockForm>,
) -> ApiResult<Json<Value>> {
    f.domain = None;
    let before = node
        .store
        .domain_blocks(Some(parse_id(&id)?))
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    let block = f.onto(before.clone())?;
    let audit = Audit::new(
        Some(staff.me().id),
        format!("change_domain_block:{}", block.severity),
        "DomainBlock",
        before.id,
        &before.domain,
    );
    let saved = node.store.save_domain_block(block, audit).await?;
    Ok(Json(render::domain_block(&saved)))
}

async fn delete_domain_block(
    State(node): State<Api>,
    staff: Staff<AdminWriteDomainBlocks>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id: i64 = parse_id(&id)?;
    let b = node
        .store
        .domain_blocks(Some(id))
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    node.store
        .remove_domain_block(
            id,
            Audit::new(
                Some(staff.me().id),
                "unblock_domain",
                "DomainBlock",
                id,
                &b.domain,
            ),
        )
        .await?;
    Ok(Json(json!({})))
}

// Allowed domains, blocked e-mail domains and blocked addresses share one shape.

async fn rules(node: &Api, kind: &str) -> ApiResult<Json<Vec<Value>>> {
    let all = node.store.access_rules(kind, None).await?;
    Ok(Json(all.iter().map(render::access_rule).collect()))
}

async fn rule(node: &Api, kind: &str, id: &str) -> ApiResult<Json<Value>> {
    let r = node
        .store
        .access_rules(kind, Some(parse_id(id)?))
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(render::access_rule(&r)))
}

async fn add_rule(node: &Api, me: i64, rule: AccessRule) -> ApiResult<Json<Value>> {
    let audit = Audit::new(
        Some(me.into()),
        format!("create_{}", rule.kind),
        match rule.kind.as_str() {
            "ip_block" => "IpBlock",
            "email_domain_block" => "EmailDomainBlock",
            _ => "DomainAllow",
        },
        &rule.value,
        &rule.value,
    )
    .because(Some(&rule.comment));
    let saved = node.store.add_access_rule(rule, audit).await?;
    Ok(Json(render::access_rule(&saved)))
}

async fn remove_rule(node: &Api, me: i64, kind: &str, id: &str) -> ApiResult<Json<Value>> {
    let id: i64 = parse_id(id)?;
    let audit = Audit::new(
        Some(me.into()),
        format!("destroy_{kind}"),
        "AccessRule",
        id,
        "",
    );
    node.store.remove_access_rule(kind, id, audit).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct DomainForm {
    domain: Option<String>,
}

fn domain_of(f: DomainForm) -> ApiResult<String> {
    let d = f.domain.unwrap_or_default();
    if d.trim().is_empty() {
        return Err(ApiError::invalid(
            "Validation failed: Domain can't be blank",
        ));
    }
    normalize_domain(&d)
        .ok_or_else(|| ApiError::invalid("Validation failed: Domain is not a domain name"))
}

async fn domain_allows(
    State(node): State<Api>,
    _s: Staff<AdminReadDomainAllows>,
) -> ApiResult<Json<Vec<Value>>> {
    rules(&node, "domain_allow").await
}

async fn domain_allow(
    State(node): State<Api>,
    _s: Staff<AdminReadDomainAllows>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    rule(&node, "domain_allow", &id).await
}

async fn create_domain_allow(
    State(node): State<Api>,
    s: Staff<AdminWriteDomainAllows>,
    Input(f): Input<DomainForm>,
) -> ApiResult<Json<Value>> {
    let value = domain_of(f)?;
    // As on Mastodon: allowing a domain twice answers the allow that exists.
    if let Some(r) = node
        .store
        .access_rules("domain_allow", None)
        .await?
        .into_iter()
        .find(|r| r.value == value)
    {
        return Ok(Json(render::access_rule(&r)));
    }
    let rule = AccessRule {
        kind: "domain_allow".into(),
        value,
        ..Default::default()
    };
    add_rule(&node, s.me().id.get(), rule).await
}

async fn delete_domain_allow(
    State(node): State<Api>,
    s: Staff<AdminWriteDomainAllows>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    remove_rule(&node, s.me().id.get(), "domain_allow", &id).await
}

async fn email_blocks(
    State(node): State<Api>,
    _s: Staff<AdminReadEmailDomainBlocks>,
) -> ApiResult<Json<Vec<Value>>> {
    rules(&node, "email_domain_block").await
}

async fn email_block(
    State(node): State<Api>,
    _s: Staff<AdminReadEmailDomainBlocks>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    rule(&node, "email_domain_block", &id).await
}

async fn create_email_block(
    State(node): State<Api>,
    s: Staff<AdminWriteEmailDomainBlocks>,
    Input(f): Input<DomainForm>,
) -> ApiResult<Json<Value>> {
    let rule = AccessRule {
        kind: "email_domain_block".into(),
        value: domain_of(f)?,
        ..Default::default()
    };
    add_rule(&node, s.me().id.get(), rule).await
}

async fn delete_email_block(
    State(node): State<Api>,
    s: Staff<AdminWriteEmailDomainBlocks>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    remove_rule(&node, s.me().id.get(), "email_domain_block", &id).await
}

async fn ip_blocks(
    State(node): State<Api>,
    _s: Staff<AdminReadIpBlocks>,
) -> ApiResult<Json<Vec<Value>>> {
    rules(&node, "ip_block").await
}

async fn ip_block(
    State(node): State<Api>,
    _s: Staff<AdminReadIpBlocks>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    rule(&node, "ip_block", &id).await
}

#[derive(Deserialize)]
struct IpBlockForm {
    ip: Option<String>,
    severity: Option<String>,
    comment: Option<String>,
    /// Seconds until it ends.
    expires_in: Option<crate::api::form::Id>,
}

async fn create_ip_block(
    State(node): State<Api>,
    s: Staff<AdminWriteIpBlocks>,
    Input(f): Input<IpBlockForm>,
) -> ApiResult<Json<Value>> {
    let ip =
        f.ip.as_deref()
            .and_then(crate::moderation::normalize_ip_rule)
            .ok_or_else(|| ApiError::invalid("Validation failed: Ip is not an address or range"))?;
    let severity = f
        .severity
        .as_deref()
        .and_then(ip_severity)
        .ok_or_else(|| ApiError::invalid("Validation failed: Severity can't be blank"))?;
    let expires_at = match crate::api::form::Id::given(f.expires_in) {
        None => None,
        Some(secs) => {
            let secs: i64 = secs
                .parse()
                .ok()
                .filter(|s| *s > 0 && *s < 10 * 365 * 86_400)
                .ok_or_else(|| ApiError::invalid("expires_in must be a number of seconds"))?;
            Some(crate::domain::now_micros() + secs * 1_000_000)
        }
    };
    let rule = AccessRule {
        kind: "ip_block".into(),
        value: ip,
        severity: severity.into(),
        comment: f.comment.unwrap_or_default().chars().take(1000).collect(),
        expires_at,
        ..Default::default()
    };
    add_rule(&node, s.me().id.get(), rule).await
}

async fn delete_ip_block(
    State(node): State<Api>,
    s: Staff<AdminWriteIpBlocks>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    remove_rule(&node, s.me().id.get(), "ip_block", &id).await
}
