//! Wiki mode: the people of a MediaWiki sign in with their wiki accounts, the wiki's
//! groups decide who may post and who moderates, and blocks on the wiki reach Tidings.
//!
//! # Two ways in
//!
//! - **Signed assertions** from the Tidings extension for MediaWiki
//!   (`clients/mediawiki/Tidings`), for any self-hosted wiki. Tidings starts every
//!   sign-in (`/auth/wiki/start`): it sets a cookie holding a fresh nonce and sends the
//!   browser to the wiki's `Special:Tidings/sso?nonce=…`, which, for the user signed in
//!   there, signs an assertion (wiki user id, name, effective groups, sitewide block,
//!   edit count, issued/expiry times, the nonce) with the secret both sides share, and
//!   sends it back to `/auth/wiki/assertion`. Tidings accepts it only if the signature
//!   holds, it has not expired (it lives a minute; one claiming more than five is
//!   refused), its nonce is the one in this browser's cookie, and the nonce was never used
//!   before (recorded in the database until the assertion expires, so no node accepts
//!   it twice).
//! - **OAuth 2.0** (authorization code with PKCE) against a wiki with the OAuth extension:
//!   `rest.php/oauth2/authorize`, `…/access_token`, `…/resource/profile`; the `state`
//!   and the PKCE verifier live in a cookie of this browser only.
//!
//! # Threat model of the assertion
//!
//! - *Forgery* (someone makes up an assertion naming a sysop): needs the shared secret,
//!   which lives only in the wiki's `LocalSettings.php` and Tidings' environment.
//! - *Theft and replay* (an assertion read from a log, a proxy or a browser history): it
//!   is bound to the nonce of the browser that started the sign-in, used at most once,
//!   and dead after a minute.
//! - *Login CSRF* (a page makes the victim's browser sign in as the attacker): the
//!   attacker's assertion carries the attacker's nonce, not the one in the victim's
//!   cookie, and is refused.
//! - *Open redirect*: where she goes afterwards is a path on this site, kept in the
//!   cookie, never taken from the wiki.
//! - Not covered: a compromised wiki (it holds the secret and can sign anything — as it
//!   can with its own accounts), and a stolen session cookie (as for any site).
//!
//! # What the wiki decides, and when it is asked again
//!
//! At each sign-in and every `TIDINGS_MEDIAWIKI_RECHECK_SECS` after (through the action
//! API, `list=users` with groups, implicit groups, block info and edit count, which any
//! MediaWiki serves), her account is brought in line: may she post (member of the post
//! group and not blocked sitewide), is she a moderator (a moderator group; a role given
//! in Tidings is never taken away by the wiki), and, when the operator says a block
//! takes everything, is her account disabled while the block lasts. An account is linked
//! by the wiki's central user id (both ways in give it), so a renamed user keeps her
//! account; the action API is asked by name (it knows local ids only), and her new name
//! is learnt at her next sign-in. Until then a rename makes the re-check miss her (her
//! last standing stays); should someone else take her old name meanwhile, that person's
//! standing would be read for her until she signs in again — a window accepted for
//! wikis where renames are rare and done by bureaucrats.
//! Every node runs the re-check; the work is idempotent, so two nodes asking twice only
//! cost the wiki a request.
//!
//! Knows nothing of streaming; the HTTP side is `crate::web::wiki`.

pub mod action_api;
pub mod assertion;
pub mod oauth;

use crate::config::{Config, WikiBlock};
use crate::domain::moderation::PostingBar;
use crate::store::{Store, WikiStanding};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest answer read from the wiki.
pub const MAX_ANSWER: usize = 256 * 1024;

/// What the wiki says of one of its users.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WikiUser {
    /// Her central user id (on a wiki without CentralAuth, her user id): the OAuth
    /// profile's `sub`, and the extension's assertions' too.
    pub id: i64,
    pub name: String,
    /// Effective groups, implicit ones (`*`, `user`, `autoconfirmed`) included.
    pub groups: Vec<String>,
    /// Blocked sitewide (a partial block does not stop her posting here).
    pub blocked: bool,
    pub editcount: i64,
}

impl WikiUser {
    /// Within the bounds any real wiki keeps (names of 255 bytes, a few dozen groups).
    pub fn is_sane(&self) -> bool {
        self.id > 0
            && !self.name.trim().is_empty()
            && self.name.len() <= 255
            && self.groups.len() <= 100
            && self.groups.iter().all(|g| !g.is_empty() && g.len() <= 100)
    }
}

/// The wiki this node takes its accounts from, and what its groups mean here.
pub struct Wiki {
    /// The wiki's script path, without a trailing `/`.
    pub url: String,
    pub name: String,
    pub secret: Option<Vec<u8>>,
    pub oauth: Option<oauth::Client>,
    pub post_group: String,
    pub moderator_groups: Vec<String>,
    pub local_passwords: bool,
    pub recheck: Duration,
    pub blocked: WikiBlock,
    http: reqwest::Client,
}

impl Wiki {
    /// The wiki of `c`, if wiki mode is on; an error names what is missing or wrong.
    pub fn from_config(c: &Config) -> anyhow::Result<Option<Wiki>> {
        let Some(url) = c.mediawiki_url.as_deref() else {
            anyhow::ensure!(
                c.mediawiki_shared_secret.is_none() && c.mediawiki_client_id.is_none(),
                "TIDINGS_MEDIAWIKI_SHARED_SECRET or _CLIENT_ID is set without TIDINGS_MEDIAWIKI_URL"
            );
            return Ok(None);
        };
        let parsed = url::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("TIDINGS_MEDIAWIKI_URL is not a URL: {e}"))?;
        anyhow::ensure!(
            matches!(parsed.scheme(), "http" | "https") && parsed.query().is_none(),
            "TIDINGS_MEDIAWIKI_URL must be the http(s) URL of the wiki's script path (where api.php is)"
        );
        let secret = c.mediawiki_shared_secret.clone().map(String::into_bytes);
        if let Some(s) = &secret {
            anyhow::ensure!(
                s.len() >= 32,
                "TIDINGS_MEDIAWIKI_SHARED_SECRET must be at least 32 bytes"
            );
        }
        let oauth = match (&c.mediawiki_client_id, &c.mediawiki_client_secret) {
            (Some(id), Some(secret)) => Some(oauth::Client {
                id: id.clone(),
                secret: secret.clone(),
            }),
            (None, None) => None,
            _ => anyhow::bail!(
                "TIDINGS_MEDIAWIKI_CLIENT_ID and TIDINGS_MEDIAWIKI_CLIENT_SECRET go together"
            ),
        };
        anyhow::ensure!(
            secret.is_some() || oauth.is_some(),
            "wiki mode needs TIDINGS_MEDIAWIKI_SHARED_SECRET (the Tidings extension) or \
             TIDINGS_MEDIAWIKI_CLIENT_ID and _CLIENT_SECRET (the OAuth extension)"
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(format!(
                "Tidings/{} (wiki sign-in)",
                env!("CARGO_PKG_VERSION")
            ))
            .build()?;
        Ok(Some(Wiki {
            url: url.trim_end_matches('/').to_string(),
            name: c.mediawiki_name.clone(),
            secret,
            oauth,
            post_group: c.mediawiki_post_group.clone(),
            moderator_groups: c
                .mediawiki_moderator_groups
                .iter()
                .map(|g| g.trim().to_string())
                .filter(|g| !g.is_empty())
                .collect(),
            local_passwords: c.mediawiki_local_passwords,
            recheck: Duration::from_secs(c.mediawiki_recheck_secs.max(1)),
            blocked: c.mediawiki_blocked,
            http,
        }))
    }

    /// The origin of the wiki's pages (which may frame ours).
    pub fn origin(&self) -> String {
        url::Url::parse(&self.url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    /// The key of the signed cookies of a sign-in in progress: the shared secret, else
    /// the OAuth client secret (both known to every node, to no browser).
    pub fn cookie_key(&self) -> Vec<u8> {
        let base = match (&self.secret, &self.oauth) {
            (Some(s), _) => s.clone(),
            (None, Some(o)) => o.secret.clone().into_bytes(),
            (None, None) => Vec::new(),
        };
        let mut key = b"tidings-wiki-cookie:".to_vec();
        key.extend(base);
        key
    }

    /// What `u`'s standing here is, by the wiki's word.
    pub fn standing_of(&self, u: &WikiUser) -> WikiStanding {
        let in_group = |g: &str| u.groups.iter().any(|x| x == g);
        let posting_bar = if u.blocked {
            Some(PostingBar::WikiBlocked)
        } else if !in_group(&self.post_group) {
            Some(PostingBar::WikiGroup)
        } else {
            None
        };
        WikiStanding {
            wiki_user_id: u.id,
            name: u.name.clone(),
            groups: u.groups.clone(),
            blocked: u.blocked,
            editcount: u.editcount,
            posting_bar,
            moderator: self.moderator_groups.iter().any(|g| in_group(g)),
            disable: u.blocked && self.blocked == WikiBlock::All,
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// A Tidings username made of a wiki name: letters and digits kept (accents dropped
/// where they decompose to ASCII), anything else one `_`, at most 30; a name with
/// nothing left becomes `wiki_<id>`.
pub fn username_for(u: &WikiUser) -> String {
    let mut out = String::new();
    for c in u.name.chars() {
        let c = fold(c);
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let mut out: String = out.trim_matches('_').chars().take(30).collect();
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        format!("wiki_{}", u.id)
    } else {
        out
    }
}

/// The ASCII letter a common accented Latin letter is written with.
fn fold(c: char) -> char {
    const FROM: &str = "àáâãäåāăąçćčďèéêëēėęěìíîïīįıñńňòóôõöøōőŕřśšşťùúûüūůűųýÿźżžÀÁÂÃÄÅĀĂĄÇĆČĎÈÉÊËĒĖĘĚÌÍÎÏĪĮİÑŃŇÒÓÔÕÖØŌŐŔŘŚŠŞŤÙÚÛÜŪŮŰŲÝŸŹŻŽ";
    const TO: &str = "aaaaaaaaacccdeeeeeeeeiiiiiiinnnoooooooorrsssstuuuuuuuuyyzzzAAAAAAAAACCCDEEEEEEEEIIIIIIINNNOOOOOOOORRSSSTUUUUUUUUYYZZZ";
    FROM.chars()
        .position(|f| f == c)
        .and_then(|i| TO.chars().nth(i))
        .unwrap_or(c)
}

/// Ask the wiki again, every so often, about each linked account whose last check is
/// older than the re-check period, and bring the account in line. Stops on `shutdown`.
pub async fn run(
    wiki: Arc<Wiki>,
    store: Arc<dyn Store>,
    metrics: Arc<crate::metrics::Metrics>,
    shutdown: CancellationToken,
) {
    let period = (wiki.recheck / 4).clamp(Duration::from_millis(250), Duration::from_secs(30));
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        // Rounds until nothing is due: a wiki of many accounts is gone through at the
        // wiki's pace, not a round per tick.
        loop {
            let started = std::time::Instant::now();
            match recheck_due(&wiki, store.as_ref()).await {
                Ok(0) => break,
                Ok(n) => {
                    metrics.wiki_rechecked.fetch_add(n as u64, Relaxed);
                    metrics
                        .wiki_recheck
                        .observe(started.elapsed().as_secs_f64());
                    if n < ROUND || shutdown.is_cancelled() {
                        break;
                    }
                }
                Err(e) => {
                    metrics.wiki_recheck_failures.fetch_add(1, Relaxed);
                    tracing::warn!(error = %e, "cannot re-check wiki accounts; will retry");
                    break;
                }
            }
        }
    }
}

/// Accounts asked about in one round of [`run`].
pub const ROUND: usize = 500;

/// One round of [`run`]: at most [`ROUND`] accounts, fifty names per request. An
/// account whose standing would not change is only marked checked (one statement for
/// the lot); one that changes gets its own write. Returns how many were asked about.
pub async fn recheck_due(wiki: &Wiki, store: &dyn Store) -> anyhow::Result<usize> {
    let now = crate::domain::now_micros();
    let before = now - i64::try_from(wiki.recheck.as_micros()).unwrap_or(i64::MAX);
    let due = store.wiki_links_due(before, ROUND as i64).await?;
    for chunk in due.chunks(action_api::BATCH) {
        let names: Vec<&str> = chunk.iter().map(|l| l.wiki_name.as_str()).collect();
        let users = action_api::users(wiki, &names).await?;
        let mut unchanged = Vec::new();
        for link in chunk {
            // A name the wiki no longer knows (renamed, or gone): keep what we had, and
            // mark it checked; her next sign-in, by id, learns the new name.
            // Linked ids are central ones (both ways in name people by them), which the
            // action API's local `userid` need not equal (CentralAuth): the name is the
            // key here.
            let standing = match users.iter().find(|u| u.name == link.wiki_name) {
                Some(u) => wiki.standing_of(&WikiUser {
                    id: link.wiki_user_id,
                    ..u.clone()
                }),
                _ => {
                    unchanged.push(link.account_id);
                    continue;
                }
            };
            if link.in_line_with(&standing) {
                unchanged.push(link.account_id);
            } else {
                store
                    .apply_wiki_standing(link.account_id, &standing)
                    .await?;
            }
        }
        store.touch_wiki_links(&unchanged, now).await?;
    }
    Ok(due.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> WikiUser {
        WikiUser {
            id: 42,
            name: name.into(),
            groups: vec![],
            blocked: false,
            editcount: 0,
        }
    }

    #[test]
    fn a_misconfigured_wiki_is_refused_at_start() {
        let config = |f: &dyn Fn(&mut Config)| {
            let mut c = Config::for_database("sqlite::memory:");
            f(&mut c);
            Wiki::from_config(&c).map(|w| w.is_some())
        };
        assert!(!config(&|_| {}).unwrap(), "no wiki without a URL");
        let url = |c: &mut Config| c.mediawiki_url = Some("https://wiki.example.org/w".into());
        let refused = |f: &dyn Fn(&mut Config), why: &str| {
            let e = config(f).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        };
        refused(&|c| url(c), "needs TIDINGS_MEDIAWIKI_SHARED_SECRET");
        refused(
            &|c| {
                url(c);
                c.mediawiki_shared_secret = Some("short".into());
            },
            "at least 32 bytes",
        );
        refused(
            &|c| {
                url(c);
                c.mediawiki_client_id = Some("id".into());
            },
            "go together",
        );
        refused(
            &|c| {
                c.mediawiki_url = Some("wiki.example.org".into());
                c.mediawiki_shared_secret = Some("x".repeat(32));
            },
            "not a URL",
        );
        refused(
            &|c| c.mediawiki_shared_secret = Some("x".repeat(32)),
            "without TIDINGS_MEDIAWIKI_URL",
        );
        assert!(
            config(&|c| {
                url(c);
                c.mediawiki_shared_secret = Some("x".repeat(32));
            })
            .unwrap()
        );
    }

    #[test]
    fn the_wiki_decides_posting_and_moderation() {
        let mut c = Config::for_database("sqlite::memory:");
        c.mediawiki_url = Some("https://wiki.example.org/w".into());
        c.mediawiki_shared_secret = Some("x".repeat(32));
        let w = Wiki::from_config(&c).unwrap().unwrap();
        let with = |groups: &[&str], blocked: bool| WikiUser {
            groups: groups.iter().map(|g| g.to_string()).collect(),
            blocked,
            ..user("Eve")
        };
        let s = w.standing_of(&with(&["*", "user"], false));
        assert_eq!(
            (s.posting_bar, s.moderator),
            (Some(PostingBar::WikiGroup), false)
        );
        let s = w.standing_of(&with(&["*", "user", "autoconfirmed"], false));
        assert_eq!(s.posting_bar, None);
        let s = w.standing_of(&with(&["*", "user", "autoconfirmed", "sysop"], true));
        assert_eq!(
            (s.posting_bar, s.moderator, s.disable),
            (Some(PostingBar::WikiBlocked), true, false)
        );
        c.mediawiki_blocked = WikiBlock::All;
        let w = Wiki::from_config(&c).unwrap().unwrap();
        assert!(w.standing_of(&with(&["autoconfirmed"], true)).disable);
    }

    #[test]
    fn wiki_names_become_usernames() {
        assert_eq!(username_for(&user("Editor Eve")), "Editor_Eve");
        assert_eq!(
            username_for(&user("José Müller-Lüdenscheidt")),
            "Jose_Muller_Ludenscheidt"
        );
        assert_eq!(username_for(&user("  .Ann. ")), "Ann");
        assert_eq!(username_for(&user("東京")), "wiki_42");
        assert_eq!(username_for(&user(&"x".repeat(40))).len(), 30);
    }
}
