//! Django's language negotiation (`LocaleMiddleware` without language prefixes in paths): the
//! `django_language` cookie, then `Accept-Language` by q-value, then `LANGUAGE_CODE`; each
//! candidate goes through `get_supported_language_variant` (`fr` → `fr-fr`, `fr-CA` → `fr-fr`).
//! No allocation: a few string comparisons per request.

use axum::http::{header, HeaderMap};

use super::Lang;

/// Django's `LANGUAGE_COOKIE_NAME`.
pub const COOKIE: &str = "django_language";

/// Django's `LANGUAGE_CODE_MAX_LENGTH` (longer codes and headers are truncated or ignored).
const MAX_LENGTH: usize = 500;

/// The language of a request; `default` is the variant of `LANGUAGE_CODE` (see
/// [`supported_variant`]).
pub fn negotiate(headers: &HeaderMap, default: Lang) -> Lang {
    if let Some(lang) = crate::http::extract::cookie(headers, COOKIE).and_then(|c| variant(c, false)) {
        return lang;
    }
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    from_accept_language(accept).unwrap_or(default)
}

/// `get_supported_language_variant(code)` for a code as configured or stored in the cookie.
pub fn supported_variant(code: &str) -> Option<Lang> {
    variant(code, false)
}

/// Django's `get_supported_language_variant`. Candidates are the code and its prefixes cut at
/// each `-` (`fr-ca-x`, `fr-ca`, `fr`), compared without case; failing that, the first
/// supported code starting with the last (generic) candidate and `-`, compared with case
/// (Accept-Language values arrive lower-cased, `lowered`).
fn variant(code: &str, lowered: bool) -> Option<Lang> {
    let mut code = code;
    if code.is_empty() {
        return None;
    }
    if code.chars().count() > MAX_LENGTH {
        let head = match code.char_indices().nth(MAX_LENGTH) {
            Some((i, _)) => &code[..i],
            None => code,
        };
        code = match head.rfind('-') {
            Some(i) if i > 0 => &code[..i],
            _ => return None,
        };
    }
    let by_name = |c: &str| Lang::ALL.into_iter().find(|l| l.code().eq_ignore_ascii_case(c));
    if let Some(l) = by_name(code) {
        return Some(l);
    }
    let mut generic = code;
    let mut end = code.len();
    while let Some(i) = code[..end].rfind('-') {
        generic = &code[..i];
        if let Some(l) = by_name(generic) {
            return Some(l);
        }
        end = i;
    }
    Lang::ALL.into_iter().find(|l| {
        let c = l.code();
        let prefix_matches = if lowered {
            c.len() > generic.len() && c.as_bytes()[..generic.len()].eq_ignore_ascii_case(generic.as_bytes())
        } else {
            c.starts_with(generic)
        };
        prefix_matches && c.as_bytes().get(generic.len()) == Some(&b'-')
    })
}

/// The first language of `Accept-Language` (highest q first, header order among equals) that
/// has a supported variant; `None` when the header is empty or malformed (Django then ignores
/// it whole), or when `*` comes before any supported language.
fn from_accept_language(header: &str) -> Option<Lang> {
    let header = if header.len() <= MAX_LENGTH {
        header
    } else {
        match header[..floor_boundary(header, MAX_LENGTH)].rfind(',') {
            Some(i) if i > 0 => &header[..i],
            _ => return None,
        }
    };
    // The best entry so far: (q in thousandths, the language or `None` for `*`).
    let mut best: Option<(u16, Option<Lang>)> = None;
    for entry in AcceptLanguage::new(header) {
        let (range, q) = entry?;
        if best.is_some_and(|(bq, _)| bq >= q) {
            continue;
        }
        if range == "*" {
            best = Some((q, None));
        } else if let Some(lang) = variant(range, true) {
            best = Some((q, Some(lang)));
        }
    }
    best.and_then(|(_, lang)| lang)
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The entries of an `Accept-Language` value as Django's `accept_language_re` splits it:
/// `range[;q=value]` separated by commas (spaces allowed around `,` and `;`). Yields `None`
/// (and stops) at the first malformed spot: the whole header is then void.
struct AcceptLanguage<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    done: bool,
}

impl<'a> AcceptLanguage<'a> {
    fn new(text: &'a str) -> Self {
        AcceptLanguage { s: text.as_bytes(), text, pos: 0, done: false }
    }

    fn run(&mut self, pred: impl Fn(u8) -> bool) -> usize {
        let start = self.pos;
        while self.pos < self.s.len() && pred(self.s[self.pos]) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.pos) == Some(&b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// One entry and its separator; `None` when malformed.
    fn entry(&mut self) -> Option<(&'a str, u16)> {
        let start = self.pos;
        if !self.eat(b'*') {
            if !(1..=8).contains(&self.run(|b| b.is_ascii_alphabetic())) {
                return None;
            }
            while self.eat(b'-') {
                if !(1..=8).contains(&self.run(|b| b.is_ascii_alphanumeric())) {
                    return None;
                }
            }
        }
        let range = &self.text[start..self.pos];
        let after_range = self.pos;
        self.run(is_space);
        let mut q = 1000;
        if self.eat(b';') {
            self.run(is_space);
            if !(self.eat(b'q') || self.eat(b'Q')) || !self.eat(b'=') {
                return None;
            }
            q = self.qvalue()?;
        } else {
            self.pos = after_range;
        }
        let after_q = self.pos;
        self.run(is_space);
        if self.eat(b',') {
            self.run(is_space);
        } else if after_q == self.s.len() {
            self.done = true;
        } else {
            return None;
        }
        Some((range, q))
    }

    /// `0(.ddd)?` or `1(.000)?`, in thousandths.
    fn qvalue(&mut self) -> Option<u16> {
        let one = if self.eat(b'1') {
            true
        } else if self.eat(b'0') {
            false
        } else {
            return None;
        };
        let mut thousandths = if one { 1000 } else { 0 };
        if self.eat(b'.') {
            let start = self.pos;
            let n = self.run(|b| b.is_ascii_digit());
            if n > 3 || (one && self.s[start..self.pos].iter().any(|b| *b != b'0')) {
                return None;
            }
            for (i, d) in self.s[start..self.pos].iter().enumerate() {
                thousandths += u16::from(d - b'0') * [100, 10, 1][i];
            }
        }
        Some(thousandths)
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl<'a> Iterator for AcceptLanguage<'a> {
    type Item = Option<(&'a str, u16)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.s.len() {
            return None;
        }
        let entry = self.entry();
        if entry.is_none() {
            self.done = true;
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(h: &str) -> Option<&'static str> {
        from_accept_language(h).map(Lang::code)
    }

    #[test]
    fn variants_follow_django() {
        let cases = [
            ("fr-fr", Some("fr-fr")),
            ("fr", Some("fr-fr")),
            ("fr-ca", Some("fr-fr")),
            ("FR-FR", Some("fr-fr")),
            ("Fr-Fr-x", Some("fr-fr")),
            ("en", Some("en-us")),
            ("en-gb", Some("en-us")),
            ("nl-be", Some("nl-nl")),
            ("de-ch", Some("de-de")),
            ("de", Some("de-de")),
            ("es", None),
            ("", None),
            ("-", None),
            // The generic fallback compares with case: Django refuses `FR` from a cookie.
            ("FR", None),
            ("FR-CA", None),
        ];
        for (code, expected) in cases {
            assert_eq!(supported_variant(code).map(Lang::code), expected, "{code:?}");
        }
        assert_eq!(supported_variant(&format!("de-{}", "a".repeat(600))), Some(Lang::De), "cut to `de`");
        assert_eq!(supported_variant(&"d".repeat(600)), None, "nothing to cut at");
        let cut = format!("de-{}-{}", "a".repeat(400), "b".repeat(200));
        assert_eq!(supported_variant(&cut), Some(Lang::De), "cut at the last '-' before 500 characters");
    }

    #[test]
    fn accept_language_by_q_value_then_order() {
        let cases = [
            ("fr", Some("fr-fr")),
            ("FR-ca", Some("fr-fr")),
            ("nl;q=0.5, de;q=0.8", Some("de-de")),
            ("es, nl;q=0.1, fr;q=0.1", Some("nl-nl")),
            ("es,fr", Some("fr-fr")),
            ("de;q=1.000 , fr", Some("de-de")),
            ("fr;q=0", Some("fr-fr")),
            ("*, fr", None),
            ("es, *;q=0.9, fr;q=0.8", None),
            ("fr;q=0.8, *;q=0.9", None),
            ("fr,", Some("fr-fr")),
            ("fr, ", Some("fr-fr")),
            ("", None),
            ("es", None),
            // Malformed anywhere: the whole header is ignored.
            ("fr ", None),
            (" fr", None),
            ("fr,,de", None),
            ("fr;q=2", None),
            ("fr;q=0.1234", None),
            ("fr;q=1.5", None),
            ("fr; q = 0.5", None),
            ("abcdefghi", None),
            ("fr-abcdefghi", None),
            ("fr_FR", None),
        ];
        for (h, expected) in cases {
            assert_eq!(accept(h), expected, "{h:?}");
        }
        let long = format!("fr,{}", "x".repeat(600));
        assert_eq!(accept(&long), Some("fr-fr"), "cut at the last ',' before 500 characters");
        assert_eq!(accept(&"x".repeat(600)), None);
    }

    #[test]
    fn cookie_then_header_then_default() {
        let mut h = HeaderMap::new();
        assert_eq!(negotiate(&h, Lang::Nl), Lang::Nl);
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("de-DE,de;q=0.9"));
        assert_eq!(negotiate(&h, Lang::Nl), Lang::De);
        h.insert(header::COOKIE, HeaderValue::from_static("csrftoken=x; django_language=fr"));
        assert_eq!(negotiate(&h, Lang::Nl), Lang::Fr);
        h.insert(header::COOKIE, HeaderValue::from_static("django_language=xx"));
        assert_eq!(negotiate(&h, Lang::Nl), Lang::De, "an unsupported cookie is skipped");
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("es"));
        assert_eq!(negotiate(&h, Lang::Nl), Lang::Nl);
    }
}
