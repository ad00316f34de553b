//! Typed request fields that read the same from JSON and from forms.
//!
//! Bodies are decoded straight into each handler's struct: JSON with `serde_json`, forms
//! (`application/x-www-form-urlencoded`, and `multipart/form-data` re-read as one) with
//! `serde_html_form`, the crate axum-extra's `Form` uses, which reads a repeated key as
//! a list. Where Mastodon's clients write a value differently in the two (a boolean as
//! `true` or `1`, an id as a number or a string, a list as `key[]=a&key[]=b` or one
//! space-separated string), the field has one of the types here.

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use std::fmt;

use super::error::{ApiError, ApiResult};

/// A boolean: JSON's, or a form's `true`/`1`/`on`/`yes` and `false`/`0`/`off`/`no`/empty
/// (Rails, and so Mastodon, reads all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Flag, E> {
                Ok(Flag(b))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Flag, E> {
                Ok(Flag(n != 0))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Flag, E> {
                Ok(Flag(n != 0))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Flag, E> {
                match s {
                    "true" | "1" | "on" | "yes" => Ok(Flag(true)),
                    "false" | "0" | "off" | "no" | "" => Ok(Flag(false)),
                    _ => Err(E::custom(format!("expected a boolean, got {s:?}"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// An id, sent as a JSON number or as a string; kept as the client wrote it (a path or
/// body id that is not one of ours is answered as not found, not as malformed). An empty
/// string means none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id(pub String);

impl Id {
    /// `None` for an absent or empty id.
    pub fn given(id: Option<Id>) -> Option<String> {
        id.map(|i| i.0).filter(|i| !i.is_empty())
    }

    /// `account_ids[]` of a form: 1 to `max` accounts; an id that is none of ours is 404,
    /// none or too many 422.
    pub fn accounts(ids: Vec<Id>, max: usize) -> ApiResult<Vec<crate::domain::AccountId>> {
        let ids: Vec<crate::domain::AccountId> = ids
            .into_iter()
            .map(|i| crate::domain::AccountId::parse(&i.0).ok_or(ApiError::NotFound))
            .collect::<ApiResult<_>>()?;
        if ids.is_empty() {
            return Err(ApiError::invalid("Validation failed: account_ids is empty"));
        }
        if ids.len() > max {
            return Err(ApiError::invalid("Validation failed: too many account_ids"));
        }
        Ok(ids)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an id")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Id, E> {
                Ok(Id(n.to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Id, E> {
                Ok(Id(n.to_string()))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Id, E> {
                Ok(Id(s.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A list of words (scopes, redirect URIs): one space-separated string, or a list of
/// them (a JSON array, or a form's repeated `key[]=`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Words(pub Vec<String>);

impl Words {
    pub fn joined(&self) -> String {
        self.0.join(" ")
    }
}

impl<'de> Deserialize<'de> for Words {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Words;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Words, E> {
                Ok(Words(s.split_whitespace().map(str::to_string).collect()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Words, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.extend(s.split_whitespace().map(str::to_string));
                }
                Ok(Words(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Form {
        sensitive: Option<Flag>,
        in_reply_to_id: Option<Id>,
        #[serde(default, alias = "scopes[]")]
        scopes: Option<Words>,
        #[serde(default, alias = "media_ids[]")]
        media_ids: Vec<Id>,
    }

    fn form(s: &str) -> Form {
        serde_html_form::from_str(s).unwrap()
    }

    #[test]
    fn forms_and_json_read_alike() {
        let want = Form {
            sensitive: Some(Flag(true)),
            in_reply_to_id: Some(Id("7".into())),
            scopes: Some(Words(vec!["read".into(), "write".into()])),
            media_ids: vec![Id("1".into()), Id("2".into())],
        };
        assert_eq!(
            form(
                "sensitive=1&in_reply_to_id=7&scopes[]=read&scopes[]=write&media_ids[]=1&media_ids[]=2"
            ),
            want
        );
        assert_eq!(
            form("sensitive=true&in_reply_to_id=7&scopes=read+write&media_ids=1&media_ids=2"),
            want
        );
        let json: Form = serde_json::from_str(
            r#"{"sensitive":true,"in_reply_to_id":7,"scopes":["read","write"],"media_ids":["1",2]}"#,
        )
        .unwrap();
        assert_eq!(json, want);
        assert_eq!(form("media_ids[]=1").media_ids, vec![Id("1".into())]);
        assert_eq!(form("").sensitive, None);
        assert!(serde_html_form::from_str::<Form>("sensitive=maybe").is_err());
    }
}
