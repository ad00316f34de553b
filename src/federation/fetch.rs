//! Requests to other servers: reading their actors and objects, posting to their inboxes.
//! Every address we are sent to comes from outside, so this is an SSRF surface: only
//! `http(s)`, no loopback, private, link-local, unique-local, shared or metadata address —
//! checked on the addresses a name resolves to (by our own resolver, so the address
//! checked is the address used) and on every redirect (two at most) — unless
//! `TIDINGS_FEDERATION_ALLOW_PRIVATE` is set (tests on loopback only). Bodies are read up
//! to 1 MB, each request within 10 s. Blocked domains are refused before any request.
//! HTTP is `reqwest` (rustls).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Largest document read from another server.
pub const MAX_BODY: usize = 1 << 20;
pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_REDIRECTS: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("refused address: {0}")]
    Refused(String),
    #[error("blocked domain: {0}")]
    Blocked(String),
    #[error("request failed: {0}")]
    Http(String),
    #[error("status {0}")]
    Status(u16),
    #[error("the document is larger than 1 MB")]
    TooLarge,
    #[error("the document is not JSON: {0}")]
    Json(String),
}

/// Is `ip` one anyone on the internet could reach (not ours, not a neighbour's)?
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space (CGNAT)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 can reach private v4
                || (s[0] == 0x2001 && s[1] == 0xdb8))
        }
    }
}

/// Resolves names, keeping only addresses we may connect to.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The client other servers are reached with.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    allow_private: bool,
    blocked: Arc<Vec<String>>,
}

impl Fetcher {
    pub fn new(allow_private: bool, blocked_domains: &[String], user_agent: &str) -> Self {
        let blocked: Arc<Vec<String>> = Arc::new(
            blocked_domains
                .iter()
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
        );
        let (allow, refused) = (allow_private, blocked.clone());
        // Redirects stay on the origin asked for (a document's id must be where it was
        // read from), are re-checked, and are few.
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error("too many redirects");
            }
            let same_origin = attempt
                .previous()
                .first()
                .is_some_and(|first| first.origin() == attempt.url().origin());
            if !same_origin {
                return attempt.error("a redirect to another server");
            }
            if attempt
                .url()
                .host_str()
                .is_some_and(|h| blocked_host(&refused, h))
            {
                return attempt.error("a redirect to a blocked domain");
            }
            match check_url(attempt.url(), allow) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e.to_string()),
            }
        });
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .redirect(redirects)
            // A proxy from the environment would resolve names past our resolver.
            .no_proxy()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(user_agent)
            .build()
            .unwrap_or_default();
        Fetcher {
            client,
            allow_private,
            blocked,
        }
    }

    /// Is `host` (or a domain above it) blocked?
    pub fn is_blocked(&self, host: &str) -> bool {
        blocked_host(&self.blocked, host)
    }

    fn admit(&self, url: &str) -> Result<url::Url, FetchError> {
        let u = url::Url::parse(url).map_err(|e| FetchError::Refused(e.to_string()))?;
        if let Some(h) = u.host_str()
            && self.is_blocked(h)
        {
            return Err(FetchError::Blocked(h.to_string()));
        }
        check_url(&u, self.allow_private)?;
        Ok(u)
    }

    /// GET an ActivityStreams document (signed by `signer` when given: servers in
    /// authorized-fetch mode want it).
    pub async fn get_json(
        &self,
        url: &str,
        signer: Option<(&str, &str)>,
    ) -> Result<serde_json::Value, FetchError> {
        let u = self.admit(url)?;
        let mut req = self.client.get(u.clone()).header(
            "accept",
            "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
        );
        if let Some((key_id, pem)) = signer {
            let signed =
                super::signature::sign("GET", &u, None, key_id, pem, std::time::SystemTime::now())
                    .map_err(FetchError::Http)?;
            for (k, v) in signed {
                req = req.header(k, v);
            }
        }
        let res = req
            .send()
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        if !res.status().is_success() {
            return Err(FetchError::Status(res.status().as_u16()));
        }
        // ActivityStreams, not whatever JSON the server also serves (an upload, say).
        let ctype = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let activity = ctype.starts_with(super::ACTIVITY_JSON)
            || (ctype.starts_with("application/ld+json") && ctype.contains("activitystreams"));
        if !activity {
            return Err(FetchError::Json(format!(
                "served as {ctype:?}, not ActivityStreams"
            )));
        }
        let body = read_bounded(res).await?;
        super::wire::parse_bounded(&body).map_err(FetchError::Json)
    }

    /// GET a WebFinger JRD (`application/jrd+json`, or plain JSON as some servers serve
    /// it), with the same guards as every fetch.
    pub async fn get_jrd(&self, url: &str) -> Result<serde_json::Value, FetchError> {
        let u = self.admit(url)?;
        let res = self
            .client
            .get(u)
            .header("accept", "application/jrd+json, application/json")
            .send()
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        if !res.status().is_success() {
            return Err(FetchError::Status(res.status().as_u16()));
        }
        let body = read_bounded(res).await?;
        super::wire::parse_bounded(&body).map_err(FetchError::Json)
    }

    /// May addresses on private networks be fetched (tests on loopback only)?
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// POST `body` to an inbox, signed with `signer`, the key of `key_id`: the status.
    pub async fn post_signed(
        &self,
        inbox: &str,
        body: &[u8],
        key_id: &str,
        signer: Arc<rsa::pkcs1v15::SigningKey<sha2::Sha256>>,
    ) -> Result<u16, FetchError> {
        let u = self.admit(inbox)?;
        // An RSA signature is a millisecond or two of CPU: off the async threads.
        let (url, digest_of, key_id_owned) = (u.clone(), body.to_vec(), key_id.to_string());
        let signed = tokio::task::spawn_blocking(move || {
            super::signature::sign_with(
                "POST",
                &url,
                Some(&digest_of),
                &key_id_owned,
                &signer,
                std::time::SystemTime::now(),
            )
        })
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?
        .map_err(FetchError::Http)?;
        let mut req = self
            .client
            .post(u)
            .header("content-type", super::ACTIVITY_JSON)
            .body(body.to_vec());
        for (k, v) in signed {
            req = req.header(k, v);
        }
        let res = req
            .send()
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        Ok(res.status().as_u16())
    }
}

fn blocked_host(blocked: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let bare = host.split(':').next().unwrap_or("").trim_end_matches('.');
    blocked
        .iter()
        .any(|d| bare == d || bare.ends_with(&format!(".{d}")))
}

/// `http(s)` only; a literal address must be public (names are checked on resolving).
fn check_url(u: &url::Url, allow_private: bool) -> Result<(), FetchError> {
    if !matches!(u.scheme(), "https" | "http") {
        return Err(FetchError::Refused(format!("scheme {}", u.scheme())));
    }
    let literal = match u.host() {
        Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
        Some(url::Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            if !allow_private && (d == "localhost" || d.ends_with(".localhost")) {
                return Err(FetchError::Refused(d));
            }
            None
        }
        None => return Err(FetchError::Refused("no host".into())),
    };
    if let Some(ip) = literal
        && !allow_private
        && !is_public(ip)
    {
        return Err(FetchError::Refused(ip.to_string()));
    }
    Ok(())
}

async fn read_bounded(mut res: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    if res.content_length().is_some_and(|n| n as usize > MAX_BODY) {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_reached() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        let refused = |u: &str| check_url(&url::Url::parse(u).unwrap(), false).is_err();
        assert!(refused("http://127.0.0.1/x"));
        assert!(refused("http://[::1]/x"));
        assert!(refused("http://localhost/x"));
        assert!(refused("file:///etc/passwd"));
        assert!(refused("gopher://example.org/"));
        assert!(!refused("https://example.org/users/a"));
        assert!(check_url(&url::Url::parse("http://127.0.0.1/x").unwrap(), true).is_ok());
    }

    #[test]
    fn blocked_domains_cover_their_subdomains() {
        let f = Fetcher::new(false, &["spam.example".into()], "t");
        assert!(f.is_blocked("spam.example"));
        assert!(f.is_blocked("a.spam.example:8443"));
        assert!(f.is_blocked("spam.example."));
        assert!(!f.is_blocked("notspam.example"));
        assert!(matches!(
            f.admit("https://x.spam.example/users/a"),
            Err(FetchError::Blocked(_))
        ));
    }
}
