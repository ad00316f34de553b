//! Filters (Mastodon's v2): an account's words and notices to warn about or hide, in the
//! contexts she chose. Matching is here, pure; the store keeps filters and the API applies
//! them to what it answers.

use super::entities::StatusRecord;
use super::text::plain_text;
use super::{StatusId, iso8601};
use serde::Serialize;

/// Where a filter applies, as Mastodon names them.
pub const CONTEXTS: [&str; 5] = ["home", "notifications", "public", "thread", "account"];

#[derive(Debug, Clone, PartialEq)]
pub struct KeywordRecord {
    pub id: i64,
    pub keyword: String,
    pub whole_word: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FilterRecord {
    pub id: i64,
    pub title: String,
    pub contexts: Vec<String>,
    /// `warn` or `hide`.
    pub action: String,
    pub expires_at: Option<i64>,
    pub keywords: Vec<KeywordRecord>,
    /// (filter status id, notice id)
    pub statuses: Vec<(i64, StatusId)>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct FilterKeyword {
    pub id: String,
    pub keyword: String,
    pub whole_word: bool,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct FilterStatus {
    pub id: String,
    pub status_id: String,
}

/// Mastodon's `Filter` entity.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Filter {
    pub id: String,
    pub title: String,
    pub context: Vec<String>,
    pub expires_at: Option<String>,
    pub filter_action: String,
    pub keywords: Vec<FilterKeyword>,
    pub statuses: Vec<FilterStatus>,
}

impl Filter {
    pub fn render(f: &FilterRecord) -> Self {
        Filter {
            id: f.id.to_string(),
            title: f.title.clone(),
            context: f.contexts.clone(),
            expires_at: f.expires_at.map(iso8601),
            filter_action: f.action.clone(),
            keywords: f
                .keywords
                .iter()
                .map(|k| FilterKeyword {
                    id: k.id.to_string(),
                    keyword: k.keyword.clone(),
                    whole_word: k.whole_word,
                })
                .collect(),
            statuses: f
                .statuses
                .iter()
                .map(|(id, s)| FilterStatus {
                    id: id.to_string(),
                    status_id: s.to_string(),
                })
                .collect(),
        }
    }
}

/// Mastodon's `FilterResult`: which filter matched a notice, and how.
#[derive(Serialize, schemars::JsonSchema)]
pub struct FilterResult {
    pub filter: Filter,
    pub keyword_matches: Option<Vec<String>>,
    pub status_matches: Option<Vec<String>>,
}

/// Does `keyword` occur in `text` (case aside)? As a whole word when asked: not inside a
/// longer word on either side.
fn occurs(text: &str, keyword: &str, whole_word: bool) -> bool {
    let text = text.to_lowercase();
    let keyword = keyword.to_lowercase();
    if keyword.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut from = 0;
    while let Some(i) = text[from..].find(&keyword) {
        let start = from + i;
        let end = start + keyword.len();
        if !whole_word
            || (!word(text[..start].chars().next_back()) && !word(text[end..].chars().next()))
        {
            return true;
        }
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// What `filters` say of `s` in `context` as of `now`: the results to show (`warn`), and
/// whether it is to be left out (`hide`).
pub fn apply(
    filters: &[FilterRecord],
    s: &StatusRecord,
    context: &str,
    now: i64,
) -> (Vec<FilterResult>, bool) {
    let target = s.reblog.as_deref().unwrap_or(s);
    let text = format!("{}\n{}", target.spoiler_text, target.text);
    apply_to_text(filters, &text, target.id, context, now)
}

/// What a notice says, for matching, read from the `Status` JSON a stream carries (its
/// reblog's when it is one): content warning, then content with its markup taken out.
/// With its id. `None` when the payload is not a notice.
pub fn payload_text(payload: &str) -> Option<(String, StatusId)> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    let target = match v.get("reblog") {
        Some(r) if r.is_object() => r,
        _ => &v,
    };
    let id = StatusId::new(target.get("id")?.as_str()?.parse().ok()?);
    let warning = target
        .get("spoiler_text")
        .and_then(|t| t.as_str())
        .unwrap_or("");
    let content = target.get("content").and_then(|t| t.as_str()).unwrap_or("");
    Some((format!("{warning}\n{}", plain_text(content)), id))
}

/// [`apply`] to a notice's text and id.
pub fn apply_to_text(
    filters: &[FilterRecord],
    text: &str,
    id: StatusId,
    context: &str,
    now: i64,
) -> (Vec<FilterResult>, bool) {
    let target_id = id;
    let mut results = Vec::new();
    let mut hide = false;
    for f in filters {
        if !f.contexts.iter().any(|c| c == context) || f.expires_at.is_some_and(|e| e <= now) {
            continue;
        }
        let words: Vec<String> = f
            .keywords
            .iter()
            .filter(|k| occurs(text, &k.keyword, k.whole_word))
            .map(|k| k.keyword.clone())
            .collect();
        let named: Vec<String> = f
            .statuses
            .iter()
            .filter(|(_, sid)| *sid == target_id)
            .map(|(_, sid)| sid.to_string())
            .collect();
        if words.is_empty() && named.is_empty() {
            continue;
        }
        hide |= f.action == "hide";
        results.push(FilterResult {
            filter: Filter::render(f),
            keyword_matches: (!words.is_empty()).then_some(words),
            status_matches: (!named.is_empty()).then_some(named),
        });
    }
    (results, hide)
}

#[cfg(test)]
mod tests {
    use super::{StatusId, occurs, payload_text};

    #[test]
    fn a_stream_payload_is_matched_on_its_text() {
        let p = r#"{"id":"5","spoiler_text":"cw","content":"<p>Tom &amp; Jerry<br>x</p><p>y</p>","reblog":null}"#;
        assert_eq!(
            payload_text(p),
            Some(("cw\nTom & Jerry\nx\ny\n".to_string(), StatusId::new(5)))
        );
        let boost = r#"{"id":"6","content":"","reblog":{"id":"5","spoiler_text":"","content":"<p>inner</p>"}}"#;
        assert_eq!(payload_text(boost).unwrap().1, StatusId::new(5));
        assert_eq!(payload_text("12"), None);
    }

    #[test]
    fn whole_words_are_not_found_inside_others() {
        assert!(occurs("Spoilers ahead", "spoiler", false));
        assert!(!occurs("Spoilers ahead", "spoiler", true));
        assert!(occurs("no spoiler, really", "spoiler", true));
        assert!(occurs("Élection ce soir", "élection", true));
        assert!(!occurs("", "x", false));
    }
}
