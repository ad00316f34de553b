//! Validated values at the edge: once constructed, they are known to be acceptable.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text of a notice: not blank, at most the configured number of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeText(String);

impl NoticeText {
    pub fn parse(text: &str, max_chars: usize) -> Result<Self, Invalid> {
        if text.trim().is_empty() {
            return Err(Invalid("Validation failed: Text can't be blank".into()));
        }
        let n = text.chars().count();
        if n > max_chars {
            return Err(Invalid(format!(
                "Validation failed: Text character limit of {max_chars} exceeded ({n})"
            )));
        }
        if text.contains('\0') {
            return Err(Invalid(
                "Validation failed: Text contains a NUL character".into(),
            ));
        }
        Ok(NoticeText(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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
        if !(8..=128).contains(&n) {
            return Err(Invalid("is too short (minimum is 8 characters)".into()));
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Unlisted,
    Private,
}

impl Visibility {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "public" => Ok(Visibility::Public),
            "unlisted" => Ok(Visibility::Unlisted),
            "private" => Ok(Visibility::Private),
            "direct" => Err(Invalid(
                "Validation failed: direct visibility is not supported yet".into(),
            )),
            _ => Err(Invalid(format!(
                "Validation failed: unknown visibility {s:?}"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
        }
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
