//! Moderation as the node's service: how people may join (the run-time registration
//! mode, IP and e-mail domain blocks), and the rate limits shared by every node
//! ([`rate`]). What a moderator does to an account is one store write with its events
//! (see `crate::store`'s moderation), so it is felt on every node through the event
//! path; this module knows nothing of HTTP.

pub mod rate;

use crate::Node;
use crate::domain::moderation::{Registrations, domain_covers};
use crate::store::StoreError;
use std::net::IpAddr;

/// The setting that holds the registration mode (see [`registrations`]).
pub const REGISTRATIONS: &str = "registrations_mode";

/// How people may join now: an administrator's run-time choice, else the configured
/// default (`TIDINGS_REGISTRATIONS`). Read from the database each time — sign-ups are
/// rare, and every node then agrees at once.
pub async fn registrations(node: &Node) -> Result<Registrations, StoreError> {
    // In wiki mode accounts come from the wiki (its first sign-in makes one), unless the
    // operator keeps local passwords.
    if node.wiki.as_ref().is_some_and(|w| !w.local_passwords) {
        return Ok(Registrations::Closed);
    }
    let configured = match node.config.registrations {
        crate::config::Registrations::Open => Registrations::Open,
        crate::config::Registrations::Approval => Registrations::Approved,
        crate::config::Registrations::Closed => Registrations::Closed,
    };
    Ok(node
        .store
        .setting(REGISTRATIONS)
        .await?
        .and_then(|v| Registrations::parse(&v))
        .unwrap_or(configured))
}

/// What a sign-up comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Open,
    /// The account is made, and waits for a moderator's approval.
    Pending,
    /// Refused, and why (in Mastodon's words where it has them).
    Refused(&'static str),
}

/// Whether someone at `ip` with `email` may sign up now.
pub async fn admission(
    node: &Node,
    ip: IpAddr,
    email: Option<&str>,
) -> Result<Admission, StoreError> {
    let mode = registrations(node).await?;
    if mode == Registrations::Closed {
        return Ok(Admission::Refused(
            "Registrations are closed on this server",
        ));
    }
    let now = crate::domain::now_micros();
    let mut pending = mode == Registrations::Approved;
    for rule in node.store.access_rules("ip_block", None).await? {
        if rule.expires_at.is_some_and(|t| t <= now) || !ip_matches(&rule.value, ip) {
            continue;
        }
        match rule.severity.as_str() {
            "sign_up_requires_approval" => pending = true,
            _ => return Ok(Admission::Refused("Sign-ups from this address are blocked")),
        }
    }
    if let Some(domain) = email.and_then(|e| e.rsplit_once('@')).map(|(_, d)| d) {
        let domain = domain.to_ascii_lowercase();
        for rule in node.store.access_rules("email_domain_block", None).await? {
            if domain_covers(&rule.value, &domain) {
                return Ok(Admission::Refused("This e-mail domain is not allowed"));
            }
        }
    }
    Ok(if pending {
        Admission::Pending
    } else {
        Admission::Open
    })
}

/// Whether `ip` is the address or in the range (`a.b.c.d/n`, `::/n`) `rule` names.
pub fn ip_matches(rule: &str, ip: IpAddr) -> bool {
    match rule.parse::<ipnet::IpNet>() {
        Ok(net) => net.contains(&ip),
        Err(_) => rule.parse::<IpAddr>().is_ok_and(|r| r == ip),
    }
}

/// An IP block's address or range as kept: a range (`a.b.c.d/32` for one address), or
/// `None` for something that is neither.
pub fn normalize_ip_rule(s: &str) -> Option<String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<ipnet::IpNet>() {
        return Some(net.trunc().to_string());
    }
    s.parse::<IpAddr>()
        .ok()
        .map(|ip| ipnet::IpNet::from(ip).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_rules_match_ranges_and_single_addresses() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(ip_matches("10.1.0.0/16", ip));
        assert!(!ip_matches("10.2.0.0/16", ip));
        assert!(ip_matches("10.1.2.3/32", ip));
        assert!(!ip_matches("nonsense", ip));
        assert_eq!(
            normalize_ip_rule("10.1.2.3").as_deref(),
            Some("10.1.2.3/32")
        );
        assert_eq!(
            normalize_ip_rule("10.1.2.3/16").as_deref(),
            Some("10.1.0.0/16")
        );
        assert_eq!(normalize_ip_rule("10.1.2"), None);
    }
}
