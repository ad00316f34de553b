//! Signed sign-in assertions from the wiki's Tidings extension (`Special:Tidings/sso`),
//! and the short-lived signed cookies of a sign-in in progress.
//!
//! The form is `b64url(json) "." b64url(HMAC-SHA256(secret, b64url(json)))` (base64url
//! without padding). The claims are the wiki user (`sub` id, `name`, `groups`, `blocked`,
//! `editcount`), `iat`/`exp` and the `nonce` Tidings gave for this sign-in. See the module
//! doc of [`crate::wiki`] for what each check defends against.

use super::WikiUser;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Longest token read at all (a wiki user with a hundred groups fits in 4 KiB).
pub const MAX_TOKEN: usize = 8 * 1024;
/// Longest lifetime an assertion may claim, in seconds; the extension's default is 60.
pub const MAX_LIFETIME: i64 = 300;
/// Clock difference between the wiki and Tidings that is forgiven, in seconds.
pub const SKEW: i64 = 30;

/// Why an assertion or a cookie was refused (said to the person, logged, never more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the sign-in assertion is malformed")]
    Malformed,
    #[error("the sign-in assertion's signature is wrong")]
    Signature,
    #[error("the sign-in assertion has expired; go back to the wiki and try again")]
    Expired,
    #[error("the sign-in assertion was not made for this sign-in")]
    Nonce,
    #[error("the sign-in assertion has already been used")]
    Replayed,
}

/// `payload` signed with `secret`, as the extension and [`verify`] write it.
pub fn sign(payload: &[u8], secret: &[u8]) -> String {
    let body = URL_SAFE_NO_PAD.encode(payload);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{body}.{sig}")
}

/// The payload of `token` if `secret` signed it (compared in constant time).
pub fn open(token: &str, secret: &[u8]) -> Result<Vec<u8>, Refused> {
    if token.len() > MAX_TOKEN {
        return Err(Refused::Malformed);
    }
    let (body, sig) = token.split_once('.').ok_or(Refused::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| Refused::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body.as_bytes());
    mac.verify_slice(&sig).map_err(|_| Refused::Signature)?;
    URL_SAFE_NO_PAD.decode(body).map_err(|_| Refused::Malformed)
}

#[derive(Deserialize)]
struct Claims {
    sub: i64,
    name: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    editcount: i64,
    iat: i64,
    exp: i64,
    nonce: String,
}

/// A verified assertion: who she is on the wiki, and the nonce it answers.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub user: WikiUser,
    pub nonce: String,
    pub expires_at: i64,
}

/// Check `token`'s signature, shape and times (`now` in Unix seconds). The nonce is
/// compared with the sign-in's own by the caller, and recorded as used.
pub fn verify(token: &str, secret: &[u8], now: i64) -> Result<Assertion, Refused> {
    let payload = open(token, secret)?;
    let c: Claims = serde_json::from_slice(&payload).map_err(|_| Refused::Malformed)?;
    let user = WikiUser {
        id: c.sub,
        name: c.name,
        groups: c.groups,
        blocked: c.blocked,
        editcount: c.editcount,
    };
    if !user.is_sane() || !nonce_ok(&c.nonce) {
        return Err(Refused::Malformed);
    }
    if c.exp <= now || c.iat > now + SKEW || c.exp - c.iat > MAX_LIFETIME {
        return Err(Refused::Expired);
    }
    Ok(Assertion {
        user,
        nonce: c.nonce,
        expires_at: c.exp,
    })
}

/// The nonces Tidings hands out (and the extension accepts): 16–128 of `[A-Za-z0-9_-]`.
pub fn nonce_ok(n: &str) -> bool {
    (16..=128).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn token(exp_in: i64, nonce: &str) -> String {
        let now = 1_000_000;
        let claims = serde_json::json!({
            "iss": "http://wiki", "sub": 7, "name": "Eve", "groups": ["*", "user", "autoconfirmed"],
            "blocked": false, "editcount": 3, "iat": now, "exp": now + exp_in, "nonce": nonce,
        });
        sign(claims.to_string().as_bytes(), SECRET)
    }

    #[test]
    fn a_good_assertion_is_read() {
        let a = verify(&token(60, "abcdefghijklmnop"), SECRET, 1_000_010).unwrap();
        assert_eq!((a.user.id, a.user.name.as_str()), (7, "Eve"));
        assert!(a.user.groups.iter().any(|g| g == "autoconfirmed"));
        assert_eq!(a.nonce, "abcdefghijklmnop");
    }

    #[test]
    fn forged_expired_long_lived_and_malformed_assertions_are_refused() {
        let good = token(60, "abcdefghijklmnop");
        assert_eq!(
            verify(&good, b"another secret of thirty-two byte", 1_000_010).unwrap_err(),
            Refused::Signature
        );
        // A changed payload under the old signature.
        let (body, sig) = good.split_once('.').unwrap();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
        claims["groups"] = serde_json::json!(["sysop"]);
        let forged = format!("{}.{sig}", URL_SAFE_NO_PAD.encode(claims.to_string()));
        assert_eq!(
            verify(&forged, SECRET, 1_000_010).unwrap_err(),
            Refused::Signature
        );
        assert_eq!(
            verify(&good, SECRET, 1_000_060).unwrap_err(),
            Refused::Expired
        );
        assert_eq!(
            verify(&token(3600, "abcdefghijklmnop"), SECRET, 1_000_010).unwrap_err(),
            Refused::Expired
        );
        assert_eq!(
            verify(&token(60, "short"), SECRET, 1_000_010).unwrap_err(),
            Refused::Malformed
        );
        assert_eq!(verify("no-dot", SECRET, 0).unwrap_err(), Refused::Malformed);
        assert_eq!(
            verify(&"a".repeat(MAX_TOKEN + 1), SECRET, 0).unwrap_err(),
            Refused::Malformed
        );
    }
}
