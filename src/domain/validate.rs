//! Validated values at the edge: once constructed, they are known to be acceptable.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every URL counts as this many characters, however long (Mastodon's rule, advertised
/// as `characters_reserved_per_url`).
pub const CHARS_PER_URL: usize = 23;

/// Characters as Mastodon counts them: each `http://` or `https://` link as
/// [`CHARS_PER_URL`], everything else one per character.
pub fn counted_chars(text: &str) -> usize {
    let mut n = 0;
    for word in text.split_inclusive(char::is_whitespace) {
        let bare = word.trim_end_matches(char::is_whitespace);
        let is_url = ["http://", "https://"].iter().any(|p| {
            bare.len() > p.len()
                && bare
                    .get(..p.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(p))
        });
        n += if is_url {
            CHARS_PER_URL.min(bare.chars().count()) + (word.chars().count() - bare.chars().count())
        } else {
            word.chars().count()
        };
    }
    n
}

/// Refuse NUL and the other C0 controls a person does not type (tab, line feed and
/// carriage return are fine).
pub fn no_controls(field: &str, s: &str) -> Result<(), Invalid> {
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(Invalid(format!(
            "Validation failed: {field} contains a control character"
        )));
    }
    Ok(())
}

/// The text of a notice: not blank, at most the configured number of characters —
/// counted together with its content warning, as on Mastodon, so that no notice can
/// grow past what the hub's queues are sized for (see `crate::stream::hub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeText(String);

impl NoticeText {
    pub fn parse(text: &str, max_chars: usize) -> Result<Self, Invalid> {
        Self::with_spoiler(text, "", max_chars)
    }

    pub fn with_spoiler(text: &str, spoiler: &str, max_chars: usize) -> Result<Self, Invalid> {
        if text.trim().is_empty() {
            return Err(Invalid("Validation failed: Text can't be blank".into()));
        }
        no_controls("Content warning", spoiler)?;
        let n = counted_chars(text) + spoiler.chars().count();
        if n > max_chars {
            return Err(Invalid(format!(
                "Validation failed: Text character limit of {max_chars} exceeded ({n})"
            )));
        }
        no_controls("Text", text)?;
        Ok(NoticeText(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A language code as ISO 639 writes it (`en`, `fra`), with an optional region or script
/// (`pt-BR`, `zh-Hant`), as Mastodon accepts.
pub fn language(s: &str) -> Result<String, Invalid> {
    let bad = || {
        Invalid(format!(
            "Validation failed: Language {:?} is not an ISO 639 code",
            s.chars().take(16).collect::<String>()
        ))
    };
    let (code, region) = s
        .split_once(['-', '_'])
        .map_or((s, None), |(c, r)| (c, Some(r)));
    if !(2..=3).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    if let Some(r) = region
        && (!(2..=4).contains(&r.len()) || !r.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(bad());
    }
    Ok(match region {
        Some(r) => format!("{}-{r}", code.to_ascii_lowercase()),
        None => code.to_ascii_lowercase(),
    })
}

/// An e-mail address: something before one `@`, a domain with a dot after it, no spaces,
/// at most 254 characters (RFC 5321). Stored lowercased.
pub fn email(s: &str) -> Result<String, Invalid> {
    let ok = s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(s.to_lowercase())
    } else {
        Err(Invalid("is invalid".into()))
    }
}

/// Names Mastodon keeps for staff, compared without case and underscores (`Admin_` too).
const RESERVED: [&str; 8] = [
    "admin",
    "administrator",
    "help",
    "mod",
    "moderator",
    "root",
    "support",
    "webmaster",
];

/// A local username: 1–30 of `A-Z a-z 0-9 _`, as Mastodon allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.is_empty() || s.len() > 30 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(Invalid(
                "must contain only letters, numbers and underscores (at most 30)".into(),
            ));
        }
        Ok(Username(s.to_string()))
    }

    /// A name for someone signing up: also not one of the reserved names. (Operators may
    /// still create them from the command line.)
    pub fn parse_new(s: &str) -> Result<Self, Invalid> {
        let u = Self::parse(s)?;
        let bare: String = s.to_ascii_lowercase().replace('_', "");
        if RESERVED.contains(&bare.as_str()) {
            return Err(Invalid("is reserved".into()));
        }
        Ok(u)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password of at least 8 and at most 128 characters. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let n = s.chars().count();
        if n < 8 {
            return Err(Invalid("is too short (minimum is 8 characters)".into()));
        }
        if n > 128 {
            return Err(Invalid("is too long (maximum is 128 characters)".into()));
        }
        Ok(Password(s.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_text_refuses_blank_and_too_long() {
        assert!(NoticeText::parse("  \n", 500).is_err());
        assert!(NoticeText::parse(&"é".repeat(501), 500).is_err());
        assert!(NoticeText::parse(&"é".repeat(500), 500).is_ok());
    }

    #[test]
    fn links_count_as_23_and_the_content_warning_counts_too() {
        let long = format!("see https://example.org/{}", "a".repeat(200));
        assert_eq!(counted_chars(&long), 4 + CHARS_PER_URL);
        assert!(NoticeText::parse(&long, 30).is_ok());
        assert!(NoticeText::with_spoiler("body", &"x".repeat(497), 500).is_err());
        assert!(NoticeText::with_spoiler("body", "cw\0", 500).is_err());
    }

    #[test]
    fn languages_emails_and_reserved_names() {
        assert_eq!(language("EN").unwrap(), "en");
        assert_eq!(language("pt-BR").unwrap(), "pt-BR");
        assert!(language("english").is_err());
        assert!(language("e\0").is_err());
        assert!(email("a@").is_err());
        assert!(email("a@b").is_err());
        assert!(email(&format!("{}@example.org", "a".repeat(300))).is_err());
        assert_eq!(email("Ann@Example.org").unwrap(), "ann@example.org");
        assert!(Username::parse_new("admin_").is_err());
        assert!(Username::parse_new("Root").is_err());
        assert!(Username::parse_new("ann").is_ok());
        assert!(
            Password::parse(&"x".repeat(129))
                .unwrap_err()
                .0
                .contains("too long")
        );
    }

    #[test]
    fn usernames_and_passwords() {
        assert!(Username::parse("ann_1").is_ok());
        assert!(Username::parse("ann-1").is_err());
        assert!(Username::parse("").is_err());
        assert!(Password::parse("short").is_err());
        assert_eq!(
            format!("{:?}", Password::parse("long enough").unwrap()),
            "Password(***)"
        );
    }
}
