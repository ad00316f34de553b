//! HTTP Signatures as Mastodon sends and checks them (draft-cavage-http-signatures-12):
//! `rsa-sha256` (and `hs2019` with an RSA key) over `(request-target)`, `host`, `date`
//! and, with a body, `digest` (`SHA-256=`, base64), signed with PKCS#1 v1.5 and SHA-256.
//! Signing and checking are pure functions over the request's parts; fetching the key of
//! a `keyId` is the caller's (see `super::inbox`). RSA is the `rsa` crate's.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};

/// How far a request's `Date` may be from ours (Mastodon allows 12 hours each way).
pub const MAX_SKEW: Duration = Duration::from_secs(12 * 3600);
/// Longest `Signature` header read, most headers it may name, longest signing string.
const MAX_HEADER: usize = 4096;
const MAX_SIGNED_HEADERS: usize = 16;
const MAX_SIGNING_STRING: usize = 16 * 1024;

/// `SHA-256=<base64>` of a body, as the `Digest` header carries it.
pub fn digest(body: &[u8]) -> String {
    format!("SHA-256={}", B64.encode(Sha256::digest(body)))
}

/// The headers that sign an outgoing request: `Date`, `Digest` (with a body) and
/// `Signature`, by key `key_id` (`{actor}#main-key`) with the private key in PEM.
pub fn sign(
    method: &str,
    url: &url::Url,
    body: Option<&[u8]>,
    key_id: &str,
    private_pem: &str,
    now: SystemTime,
) -> Result<Vec<(&'static str, String)>, String> {
    sign_with(method, url, body, key_id, &signing_key(private_pem)?, now)
}

/// A private key in PEM, parsed once for many signatures.
pub fn signing_key(private_pem: &str) -> Result<SigningKey<Sha256>, String> {
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_pem).map_err(|e| e.to_string())?;
    Ok(SigningKey::<Sha256>::new(key))
}

/// [`sign`] with a key already parsed.
pub fn sign_with(
    method: &str,
    url: &url::Url,
    body: Option<&[u8]>,
    key_id: &str,
    signer: &SigningKey<Sha256>,
    now: SystemTime,
) -> Result<Vec<(&'static str, String)>, String> {
    let host = host_of(url);
    let date = httpdate::fmt_http_date(now);
    let mut target = url.path().to_string();
    if let Some(q) = url.query() {
        target = format!("{target}?{q}");
    }
    let mut lines = vec![
        format!("(request-target): {} {target}", method.to_ascii_lowercase()),
        format!("host: {host}"),
        format!("date: {date}"),
    ];
    let mut names = "(request-target) host date".to_string();
    let mut out = vec![("Date", date)];
    if let Some(b) = body {
        let d = digest(b);
        lines.push(format!("digest: {d}"));
        names.push_str(" digest");
        out.push(("Digest", d));
    }
    sign_lines(lines, names, out, key_id, signer)
}

fn sign_lines(
    lines: Vec<String>,
    names: String,
    mut out: Vec<(&'static str, String)>,
    key_id: &str,
    signer: &SigningKey<Sha256>,
) -> Result<Vec<(&'static str, String)>, String> {
    let signature = signer.sign(lines.join("\n").as_bytes()).to_bytes();
    out.push((
        "Signature",
        format!(
            "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{names}\",signature=\"{}\"",
            B64.encode(signature)
        ),
    ));
    Ok(out)
}

/// `host` as a request to `url` sends it (with a port unless it is the scheme's own).
pub fn host_of(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// A parsed `Signature` header.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureHeader {
    pub key_id: String,
    pub algorithm: Option<String>,
    pub headers: Vec<String>,
    pub signature: Vec<u8>,
    pub created: Option<i64>,
    pub expires: Option<i64>,
}

/// Why a request's signature was refused (said to the sender, counted, never the body).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    #[error("The request is not signed")]
    Unsigned,
    #[error("The Signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("The signature must cover {0}")]
    Uncovered(&'static str),
    #[error("Unsupported signature algorithm")]
    Algorithm,
    #[error("The request's Date is missing or too far from now")]
    Stale,
    #[error("The Digest does not match the body")]
    Digest,
    #[error("The signature does not verify")]
    Invalid,
    #[error("The signing key cannot be read")]
    Key,
}

pub fn parse(header: &str) -> Result<SignatureHeader, Refused> {
    if header.len() > MAX_HEADER {
        return Err(Refused::Malformed("too long"));
    }
    let (mut key_id, mut algorithm, mut headers, mut signature, mut created, mut expires) =
        (None, None, None, None, None, None);
    let mut rest = header.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or(Refused::Malformed("a parameter without a value"))?;
        let name = name.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').ok_or(Refused::Malformed("an unclosed quote"))?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        match name.as_str() {
            "keyid" => key_id = Some(value.to_string()),
            "algorithm" => algorithm = Some(value.to_ascii_lowercase()),
            "headers" => {
                headers = Some(
                    value
                        .split_ascii_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect(),
                )
            }
            "signature" => {
                signature = Some(
                    B64.decode(value)
                        .map_err(|_| Refused::Malformed("signature is not base64"))?,
                )
            }
            "created" => created = value.parse().ok(),
            "expires" => expires = value.parse().ok(),
            _ => {}
        }
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    if let Some(h) = &headers {
        let h: &Vec<String> = h;
        if h.len() > MAX_SIGNED_HEADERS {
            return Err(Refused::Malformed("too many signed headers"));
        }
        if h.iter().enumerate().any(|(i, x)| h[..i].contains(x)) {
            return Err(Refused::Malformed("a header is named twice"));
        }
    }
    Ok(SignatureHeader {
        key_id: key_id.ok_or(Refused::Malformed("no keyId"))?,
        algorithm,
        // Without `headers`, the draft signs `date` alone: too little for us.
        headers: headers.unwrap_or_else(|| vec!["date".into()]),
        signature: signature.ok_or(Refused::Malformed("no signature"))?,
        created,
        expires,
    })
}

/// What of a request a signature is checked against.
pub struct Request<'a> {
    pub method: &'a str,
    /// Path and query, as sent.
    pub target: &'a str,
    /// A header's value (the first), by lower-case name.
    pub header: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub body: &'a [u8],
}

/// Check everything but the key: the covered headers, the date, the digest. Returns the
/// signing string to verify.
pub fn signing_string(
    sig: &SignatureHeader,
    req: &Request,
    now: SystemTime,
) -> Result<String, Refused> {
    match sig.algorithm.as_deref() {
        None | Some("rsa-sha256") | Some("hs2019") => {}
        Some(_) => return Err(Refused::Algorithm),
    }
    let covers = |h: &str| sig.headers.iter().any(|x| x == h);
    if !covers("(request-target)") {
        return Err(Refused::Uncovered("(request-target)"));
    }
    if !covers("host") {
        return Err(Refused::Uncovered("host"));
    }
    // A date, signed (or `(created)`), within the allowed skew.
    let signed_at = if covers("date") {
        (req.header)("date")
            .and_then(|d| httpdate::parse_http_date(&d).ok())
            .ok_or(Refused::Stale)?
    } else if covers("(created)") {
        let c = sig.created.ok_or(Refused::Stale)?;
        SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(c).map_err(|_| Refused::Stale)?)
    } else {
        return Err(Refused::Uncovered("date"));
    };
    let skew = match now.duration_since(signed_at) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    if skew > MAX_SKEW {
        return Err(Refused::Stale);
    }
    if let Some(exp) = sig.expires {
        let exp = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(exp).unwrap_or(0));
        if now > exp {
            return Err(Refused::Stale);
        }
    }
    if req.method.eq_ignore_ascii_case("post") {
        // Only a digest the signature covers counts.
        if covers("digest") {
            check_digest(req, "digest")?;
        } else if covers("content-digest") {
            check_digest(req, "content-digest")?;
        } else {
            return Err(Refused::Uncovered("digest"));
        }
    }
    let mut lines = Vec::with_capacity(sig.headers.len());
    let mut size = 0;
    for h in &sig.headers {
        let value = match h.as_str() {
            "(request-target)" => format!("{} {}", req.method.to_ascii_lowercase(), req.target),
            "(created)" => sig
                .created
                .ok_or(Refused::Malformed("(created) without created"))?
                .to_string(),
            "(expires)" => sig
                .expires
                .ok_or(Refused::Malformed("(expires) without expires"))?
                .to_string(),
            name => (req.header)(name).ok_or(Refused::Malformed("a signed header is missing"))?,
        };
        size += h.len() + value.len() + 3;
        if size > MAX_SIGNING_STRING {
            return Err(Refused::Malformed("the signed headers are too long"));
        }
        lines.push(format!("{h}: {value}"));
    }
    Ok(lines.join("\n"))
}

/// The body must match the signed `Digest` (`SHA-256=<base64>`) or `Content-Digest`
/// (`sha-256=:<base64>:`), whichever `which` names.
fn check_digest(req: &Request, which: &str) -> Result<(), Refused> {
    let value = (req.header)(which).ok_or(Refused::Digest)?;
    let theirs = value
        .split(',')
        .find_map(|part| {
            let (alg, v) = part.trim().split_once('=')?;
            alg.trim()
                .eq_ignore_ascii_case("sha-256")
                .then(|| v.trim().trim_matches(':').to_string())
        })
        .and_then(|v| B64.decode(v).ok())
        .ok_or(Refused::Digest)?;
    if theirs.as_slice() == Sha256::digest(req.body).as_slice() {
        Ok(())
    } else {
        Err(Refused::Digest)
    }
}

/// Verify `signature` over `signing` with an RSA public key in PEM (SPKI, or PKCS#1 as
/// some servers publish).
pub fn verify(public_pem: &str, signing: &str, signature: &[u8]) -> Result<(), Refused> {
    let key = rsa::RsaPublicKey::from_public_key_pem(public_pem.trim())
        .or_else(|_| {
            use rsa::pkcs1::DecodeRsaPublicKey;
            rsa::RsaPublicKey::from_pkcs1_pem(public_pem.trim())
        })
        .map_err(|_| Refused::Key)?;
    let sig = Signature::try_from(signature).map_err(|_| Refused::Invalid)?;
    VerifyingKey::<Sha256>::new(key)
        .verify(signing.as_bytes(), &sig)
        .map_err(|_| Refused::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    type HeaderFn<'a> = Box<dyn Fn(&str) -> Option<String> + Sync + 'a>;

    fn request_of<'a>(
        headers: &'a [(&'static str, String)],
        body: &'a [u8],
        target: &'a str,
        host: &'a str,
    ) -> (HeaderFn<'a>, &'a [u8], &'a str) {
        let f = move |name: &str| -> Option<String> {
            if name == "host" {
                return Some(host.to_string());
            }
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        (Box::new(f), body, target)
    }

    #[test]
    fn what_we_sign_we_verify_and_tampering_is_caught() {
        let pair = crate::federation::keys::generate().unwrap();
        let url = url::Url::parse("https://peer.example/users/a/inbox").unwrap();
        let body = br#"{"type":"Follow"}"#;
        let now = SystemTime::now();
        let headers = sign(
            "POST",
            &url,
            Some(body),
            "https://us.example/users/b#main-key",
            &pair.private_pem,
            now,
        )
        .unwrap();
        let sig_header = &headers.iter().find(|(k, _)| *k == "Signature").unwrap().1;
        let sig = parse(sig_header).unwrap();
        assert_eq!(sig.key_id, "https://us.example/users/b#main-key");
        assert_eq!(sig.headers, ["(request-target)", "host", "date", "digest"]);
        let (h, b, t) = request_of(&headers, body, "/users/a/inbox", "peer.example");
        let req = Request {
            method: "POST",
            target: t,
            header: &*h,
            body: b,
        };
        let s = signing_string(&sig, &req, now).unwrap();
        verify(&pair.public_pem, &s, &sig.signature).unwrap();

        // The body changed after signing.
        let (h, b, t) = request_of(
            &headers,
            br#"{"type":"Block"}"#,
            "/users/a/inbox",
            "peer.example",
        );
        let req = Request {
            method: "POST",
            target: t,
            header: &*h,
            body: b,
        };
        assert_eq!(signing_string(&sig, &req, now), Err(Refused::Digest));
        // Another inbox (the signature was for a's).
        let (h, b, t) = request_of(&headers, body, "/users/c/inbox", "peer.example");
        let req = Request {
            method: "POST",
            target: t,
            header: &*h,
            body: b,
        };
        let s = signing_string(&sig, &req, now).unwrap();
        assert_eq!(
            verify(&pair.public_pem, &s, &sig.signature),
            Err(Refused::Invalid)
        );
        // Too old, or from the future.
        let (h, b, t) = request_of(&headers, body, "/users/a/inbox", "peer.example");
        let req = Request {
            method: "POST",
            target: t,
            header: &*h,
            body: b,
        };
        for later in [
            now + MAX_SKEW + Duration::from_secs(60),
            now - MAX_SKEW - Duration::from_secs(60),
        ] {
            assert_eq!(signing_string(&sig, &req, later), Err(Refused::Stale));
        }
        // Another key.
        let other = crate::federation::keys::generate().unwrap();
        let s = signing_string(&sig, &req, now).unwrap();
        assert_eq!(
            verify(&other.public_pem, &s, &sig.signature),
            Err(Refused::Invalid)
        );
    }

    #[test]
    fn a_signature_must_cover_what_matters() {
        let sig = |headers: &str| {
            parse(&format!(
                "keyId=\"k\",algorithm=\"rsa-sha256\",headers=\"{headers}\",signature=\"AAAA\""
            ))
            .unwrap()
        };
        let hs: Vec<(&'static str, String)> = vec![
            ("date", httpdate::fmt_http_date(SystemTime::now())),
            ("digest", digest(b"x")),
        ];
        let (h, b, t) = request_of(&hs, b"x", "/inbox", "us.example");
        let req = Request {
            method: "POST",
            target: t,
            header: &*h,
            body: b,
        };
        let now = SystemTime::now();
        assert_eq!(
            signing_string(&sig("host date digest"), &req, now),
            Err(Refused::Uncovered("(request-target)"))
        );
        assert_eq!(
            signing_string(&sig("(request-target) date digest"), &req, now),
            Err(Refused::Uncovered("host"))
        );
        assert_eq!(
            signing_string(&sig("(request-target) host digest"), &req, now),
            Err(Refused::Uncovered("date"))
        );
        assert_eq!(
            signing_string(&sig("(request-target) host date"), &req, now),
            Err(Refused::Uncovered("digest"))
        );
        assert!(signing_string(&sig("(request-target) host date digest"), &req, now).is_ok());
        assert!(matches!(parse("keyId=\"k\""), Err(Refused::Malformed(_))));
        assert!(matches!(
            parse("signature=\"AAAA\""),
            Err(Refused::Malformed(_))
        ));
        assert!(matches!(
            parse("keyId=\"k,signature=\"AAAA\""),
            Err(Refused::Malformed(_))
        ));
        assert!(matches!(
            parse(
                "keyId=\"k\",headers=\"(request-target) host date digest x x\",signature=\"AAAA\""
            ),
            Err(Refused::Malformed(_))
        ));
        let many = (0..20)
            .map(|i| format!("h{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(matches!(
            parse(&format!(
                "keyId=\"k\",headers=\"{many}\",signature=\"AAAA\""
            )),
            Err(Refused::Malformed(_))
        ));
        // A Content-Digest that is signed; a Digest that is not: only the signed one counts.
        let cd: Vec<(&'static str, String)> = vec![
            ("date", httpdate::fmt_http_date(SystemTime::now())),
            ("content-digest", "sha-256=:AAAA:".into()),
            ("digest", digest(b"x")),
        ];
        let (h, b, t) = request_of(&cd, b"x", "/inbox", "us.example");
        let req2 = Request {
            method: "POST",
            target: t,
            header: &*h,
            body: b,
        };
        assert_eq!(
            signing_string(
                &sig("(request-target) host date content-digest"),
                &req2,
                now
            ),
            Err(Refused::Digest)
        );
        let bad_alg = parse("keyId=\"k\",algorithm=\"hmac-sha256\",headers=\"(request-target) host date digest\",signature=\"AAAA\"").unwrap();
        assert_eq!(signing_string(&bad_alg, &req, now), Err(Refused::Algorithm));
    }
}
