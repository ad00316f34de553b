//! The wiki's action API, which every MediaWiki serves: who a user is now (groups,
//! block, edit count), asked by name, fifty at a time.
//!
//! `api.php?action=query&list=users&ususers=A|B&usprop=groups|implicitgroups|blockinfo|editcount&format=json&formatversion=2`

use super::{Wiki, WikiUser};
use serde::Deserialize;

/// Names per request (the action API's limit for ordinary clients).
pub const BATCH: usize = 50;

#[derive(Deserialize)]
struct Answer {
    query: Option<Query>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Query {
    #[serde(default)]
    users: Vec<User>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    userid: Option<i64>,
    name: String,
    #[serde(default)]
    missing: bool,
    #[serde(default)]
    invalid: bool,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    implicitgroups: Vec<String>,
    #[serde(default)]
    editcount: i64,
    #[serde(default)]
    blockid: Option<i64>,
    #[serde(default)]
    blockpartial: bool,
}

/// What the wiki says now of each of `names` it knows (unknown names are left out).
pub async fn users(wiki: &Wiki, names: &[&str]) -> anyhow::Result<Vec<WikiUser>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    anyhow::ensure!(names.len() <= BATCH, "at most {BATCH} names per request");
    let joined = names.join("|");
    let res = wiki
        .http()
        .get(format!("{}/api.php", wiki.url))
        .query(&[
            ("action", "query"),
            ("list", "users"),
            ("ususers", joined.as_str()),
            ("usprop", "groups|implicitgroups|blockinfo|editcount"),
            ("format", "json"),
            ("formatversion", "2"),
        ])
        .send()
        .await?;
    anyhow::ensure!(
        res.status().is_success(),
        "the wiki's API answered {}",
        res.status()
    );
    let body = super::oauth::read_bounded(res).await?;
    let a: Answer = serde_json::from_slice(&body)?;
    if let Some(e) = a.error {
        anyhow::bail!("the wiki's API refused: {e}");
    }
    Ok(a.query
        .map(|q| q.users)
        .unwrap_or_default()
        .into_iter()
        .filter(|u| !u.missing && !u.invalid)
        .filter_map(|u| {
            let mut groups = u.groups;
            for g in u.implicitgroups {
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
            let user = WikiUser {
                id: u.userid?,
                name: u.name,
                groups,
                blocked: u.blockid.is_some() && !u.blockpartial,
                editcount: u.editcount,
            };
            user.is_sane().then_some(user)
        })
        .collect())
}
