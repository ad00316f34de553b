//! Notice text: find @mentions, #hashtags and links, and render to safe HTML.
//!
//! Rendering escapes everything the author wrote; the only markup in the output is the
//! markup this module writes itself (`<p>`, `<br />`, `<a>`, `<span>`).

/// One piece of a notice, in order of appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    Text(&'a str),
    /// `#tag`: the tag as written, without `#`.
    Tag(&'a str),
    /// `@user` or `@user@domain`: username and optional domain.
    Mention(&'a str, Option<&'a str>),
    Link(&'a str),
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Tags compare case-insensitively; we store and route them lower-cased.
pub fn normalize_tag(tag: &str) -> String {
    tag.trim_start_matches('#').to_lowercase()
}

/// Is this (normalised) tag one a notice can carry: word characters only, as
/// [`tokenize`] finds them? Anything else — a `:` above all, which would make
/// `hashtag` + `local:x` the stream key of `hashtag:local` + `x` — names no tag.
pub fn is_tag(tag: &str) -> bool {
    !tag.is_empty() && tag.chars().all(is_word)
}

/// Split text into tokens. A tag or mention must start the text or follow a character
/// that is not part of a word (so `a#b` and `mail@host` are plain text).
pub fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut plain_start = 0;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        let prev = text[..i].chars().next_back();
        let boundary = prev.is_none_or(|p| !is_word(p) && p != '/' && p != '@' && p != '#');
        let rest = &text[i..];
        let found = if boundary && (rest.starts_with("http://") || rest.starts_with("https://")) {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
            (url.len() > "https://".len()).then_some((Token::Link(url), url.len()))
        } else if boundary && bytes[i] == b'#' {
            let len = rest[1..]
                .find(|c: char| !is_word(c))
                .unwrap_or(rest.len() - 1);
            let tag = &rest[1..1 + len];
            (tag.chars().any(|c| !c.is_ascii_digit())).then(|| (Token::Tag(tag), 1 + len))
        } else if boundary && bytes[i] == b'@' {
            mention_at(rest)
        } else {
            None
        };
        match found {
            Some((tok, len)) => {
                if plain_start < i {
                    out.push(Token::Text(&text[plain_start..i]));
                }
                out.push(tok);
                i += len;
                plain_start = i;
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    if plain_start < text.len() {
        out.push(Token::Text(&text[plain_start..]));
    }
    out
}

fn mention_at(rest: &str) -> Option<(Token<'_>, usize)> {
    let user_len = rest[1..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len() - 1);
    if user_len == 0 {
        return None;
    }
    let user = &rest[1..1 + user_len];
    let after = &rest[1 + user_len..];
    if let Some(domain_part) = after.strip_prefix('@') {
        let dlen = domain_part
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            .unwrap_or(domain_part.len());
        let domain = domain_part[..dlen].trim_end_matches('.');
        if domain.contains('.') || domain == "localhost" {
            return Some((
                Token::Mention(user, Some(domain)),
                1 + user_len + 1 + domain.len(),
            ));
        }
    }
    Some((Token::Mention(user, None), 1 + user_len))
}

/// Distinct tags of a text, normalised, in order of first appearance.
pub fn tags(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tokenize(text) {
        if let Token::Tag(tag) = t {
            let n = normalize_tag(tag);
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// Distinct mentioned (username, domain) pairs.
pub fn mentions(text: &str) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for t in tokenize(text) {
        if let Token::Mention(u, d) = t {
            let m = (u.to_string(), d.map(str::to_string));
            if !out
                .iter()
                .any(|o| o.0.eq_ignore_ascii_case(&m.0) && o.1 == m.1)
            {
                out.push(m);
            }
        }
    }
    out
}

pub fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

fn escape_text_with_breaks(s: &str, out: &mut String) {
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<br />");
        }
        escape_html(line.trim_end_matches('\r'), out);
    }
}

/// Render a notice to HTML. `mention_url` resolves a mention to the profile URL of a
/// known account; unknown mentions stay plain text.
pub fn render_html(
    text: &str,
    base_url: &str,
    mention_url: &dyn Fn(&str, Option<&str>) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    for (pi, para) in text
        .trim()
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .enumerate()
    {
        let _ = pi;
        out.push_str("<p>");
        for tok in tokenize(para.trim_matches('\n')) {
            match tok {
                Token::Text(t) => escape_text_with_breaks(t, &mut out),
                Token::Tag(tag) => {
                    out.push_str("<a href=\"");
                    escape_html(base_url, &mut out);
                    out.push_str("/tags/");
                    escape_html(&normalize_tag(tag), &mut out);
                    out.push_str("\" class=\"mention hashtag\" rel=\"tag\">#<span>");
                    escape_html(tag, &mut out);
                    out.push_str("</span></a>");
                }
                Token::Mention(user, domain) => match mention_url(user, domain) {
                    Some(url) => {
                        out.push_str("<span class=\"h-card\"><a href=\"");
                        escape_html(&url, &mut out);
                        out.push_str("\" class=\"u-url mention\">@<span>");
                        escape_html(user, &mut out);
                        out.push_str("</span></a></span>");
                    }
                    None => {
                        out.push('@');
                        escape_html(user, &mut out);
                        if let Some(d) = domain {
                            out.push('@');
                            escape_html(d, &mut out);
                        }
                    }
                },
                Token::Link(url) => {
                    out.push_str("<a href=\"");
                    escape_html(url, &mut out);
                    out.push_str("\" rel=\"nofollow noopener noreferrer\" target=\"_blank\">");
                    escape_html(url, &mut out);
                    out.push_str("</a>");
                }
            }
        }
        out.push_str("</p>");
    }
    out
}

/// Our own HTML (see [`render_html`]) back to text: tags dropped, line and
/// paragraph breaks kept as line breaks, the five entities we write unescaped.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[i + 1..i + j];
        if tag.starts_with("br") || tag == "/p" {
            out.push('\n');
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str) -> String {
        render_html(t, "https://x.test", &|u, d| {
            (u == "ann" && d.is_none()).then(|| "https://x.test/@ann".to_string())
        })
    }

    #[test]
    fn finds_tags_and_mentions_at_word_boundaries_only() {
        assert_eq!(
            tags("Flood #Breaking and #breaking, #2026 a#b #Élection"),
            vec!["breaking", "élection"]
        );
        assert_eq!(
            mentions("hi @ann and @bob@other.example, mail@host.example"),
            vec![
                ("ann".into(), None),
                ("bob".into(), Some("other.example".into()))
            ]
        );
    }

    #[test]
    fn rendering_escapes_author_markup() {
        let html = render("<script>alert('x')</script> & \"q\"");
        assert_eq!(
            html,
            "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</p>"
        );
    }

    #[test]
    fn rendering_links_tags_mentions_and_urls() {
        let html = render("@ann see https://a.example/x?y=1&z=2. #News\nline two\n\npara @nobody");
        assert_eq!(
            html,
            "<p><span class=\"h-card\"><a href=\"https://x.test/@ann\" class=\"u-url mention\">@<span>ann</span></a></span> see \
             <a href=\"https://a.example/x?y=1&amp;z=2\" rel=\"nofollow noopener noreferrer\" target=\"_blank\">https://a.example/x?y=1&amp;z=2</a>. \
             <a href=\"https://x.test/tags/news\" class=\"mention hashtag\" rel=\"tag\">#<span>News</span></a><br />line two</p><p>para @nobody</p>"
        );
    }
}
