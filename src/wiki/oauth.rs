//! Tidings as an OAuth 2.0 client of a wiki with the OAuth extension: authorization code
//! with PKCE (S256), the token endpoint with the client's secret, and the profile
//! endpoint (`sub`, `username`, `editcount`, `confirmed_email`, `blocked`, `registered`,
//! `groups`, `rights`).

use super::{MAX_ANSWER, Wiki, WikiUser};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Tidings' registration as a client of the wiki.
pub struct Client {
    pub id: String,
    pub secret: String,
}

/// The PKCE challenge of `verifier` (RFC 7636 §4.2, S256).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Where the browser is sent to authorize Tidings on the wiki.
pub fn authorize_url(
    wiki: &Wiki,
    c: &Client,
    redirect_uri: &str,
    state: &str,
    verifier: &str,
) -> String {
    let mut u = url::Url::parse(&format!("{}/rest.php/oauth2/authorize", wiki.url))
        .expect("the wiki's URL was checked at start");
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &c.id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("code_challenge", &challenge(verifier))
        .append_pair("code_challenge_method", "S256");
    u.into()
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Deserialize)]
struct Profile {
    sub: serde_json::Value,
    username: String,
    #[serde(default)]
    editcount: i64,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    groups: Vec<String>,
}

/// Trade the authorization `code` for an access token, and read who she is.
pub async fn sign_in(
    wiki: &Wiki,
    c: &Client,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> anyhow::Result<WikiUser> {
    let res = wiki
        .http()
        .post(format!("{}/rest.php/oauth2/access_token", wiki.url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", c.id.as_str()),
            ("client_secret", c.secret.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await?;
    anyhow::ensure!(
        res.status().is_success(),
        "the wiki's token endpoint answered {}",
        res.status()
    );
    let t: TokenAnswer = serde_json::from_slice(&read_bounded(res).await?)?;
    let res = wiki
        .http()
        .get(format!("{}/rest.php/oauth2/resource/profile", wiki.url))
        .bearer_auth(&t.access_token)
        .send()
        .await?;
    anyhow::ensure!(
        res.status().is_success(),
        "the wiki's profile endpoint answered {}",
        res.status()
    );
    let p: Profile = serde_json::from_slice(&read_bounded(res).await?)?;
    // `sub` is a number, written as a string by some versions.
    let id = match &p.sub {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| anyhow::anyhow!("the wiki's profile has no numeric sub"))?;
    let user = WikiUser {
        id,
        name: p.username,
        groups: p.groups,
        blocked: p.blocked,
        editcount: p.editcount,
    };
    anyhow::ensure!(user.is_sane(), "the wiki's profile is out of bounds");
    Ok(user)
}

/// The body of `res`, refused past [`MAX_ANSWER`] bytes (read as it arrives, so a
/// wiki that talks forever is cut off, not buffered).
pub(crate) async fn read_bounded(mut res: reqwest::Response) -> anyhow::Result<Vec<u8>> {
    if res.content_length().is_some_and(|n| n > MAX_ANSWER as u64) {
        anyhow::bail!("the wiki's answer is too large");
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        anyhow::ensure!(
            body.len() + chunk.len() <= MAX_ANSWER,
            "the wiki's answer is too large"
        );
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
