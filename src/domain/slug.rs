//! Room slugs (users-auth-rooms §3.5, §3.6): Django's ASCII `slugify`, Python's `uuid.UUID`
//! parser (a room identifier that parses is a primary key, a slug that parses is reserved), and
//! the names refused at creation (B2, B3).

use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

/// Longest slug the `meet_room.slug` column accepts.
pub const SLUG_MAX_CHARS: usize = 100;

/// Slugs that fixed routes shadow: a room with one of them could never be retrieved (B3).
pub const RESERVED_SLUGS: &[&str] = &["creation-callback", "webhooks-livekit"];

/// Python's `str.isspace()` restricted to ASCII (slugify runs after dropping non-ASCII).
fn is_py_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c' | '\x1d' | '\x1e' | '\x1f')
}

/// Django's `slugify(value)` with `allow_unicode=False`, step for step (§3.6).
pub fn slugify(value: &str) -> String {
    // 1. NFKD, then drop every non-ASCII code point; 2. lower-case.
    let ascii = value.nfkd().filter(char::is_ascii).map(|c| c.to_ascii_lowercase());
    // 3. keep letters, digits, `_`, `-` and whitespace; 4. runs of `-`/whitespace become one `-`.
    let mut out = String::new();
    let mut in_run = false;
    for c in ascii {
        if c == '-' || is_py_space(c) {
            if !in_run {
                out.push('-');
                in_run = true;
            }
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            in_run = false;
        }
    }
    // 5. strip leading and trailing `-` and `_`.
    out.trim_matches(|c| c == '-' || c == '_').to_string()
}

/// Python's `int(s, 16)` for the strings `uuid.UUID` hands it: surrounding whitespace, a sign,
/// an optional `0x` prefix, single underscores between digits.
fn python_int_hex(s: &str) -> Option<u128> {
    let s = s.trim_matches(|c: char| c.is_whitespace());
    let (negative, s) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let mut digits = s;
    if digits.len() >= 2 && digits[..2].eq_ignore_ascii_case("0x") {
        digits = &digits[2..];
        digits = digits.strip_prefix('_').unwrap_or(digits);
    }
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let mut value: u128 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        value = value.checked_mul(16)?.checked_add(c.to_digit(16)? as u128)?;
    }
    // `uuid.UUID` refuses negative integers ("int is out of range"); -0 is 0.
    (!negative || value == 0).then_some(value)
}

/// Python's `uuid.UUID(s)`: `urn:`/`uuid:` removed, `{}` stripped, hyphens removed, then exactly
/// 32 characters that `int(…, 16)` accepts (§5.6 step 1).
pub fn parse_python_uuid(s: &str) -> Option<Uuid> {
    let s = s.replace("urn:", "").replace("uuid:", "");
    let hex: String = s.trim_matches(|c| c == '{' || c == '}').chars().filter(|&c| c != '-').collect();
    if hex.chars().count() != 32 {
        return None;
    }
    python_int_hex(&hex).map(Uuid::from_u128)
}

/// Why a room name cannot be used, checked in the model's order (§3.5 "Validation on save").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlugError {
    /// UUID-looking slug, or a slug shadowed by a fixed route (B3): `{"name": [...]}`.
    Reserved,
    /// Nothing ASCII-foldable in the name (B2): `{"name": [...]}`.
    Empty,
    /// Longer than 100 characters: `{"slug": [...]}` with the length.
    TooLong(usize),
}

impl SlugError {
    /// The field and message of the DRF 400 for the (trimmed) `name`.
    pub fn field_error(&self, name: &str) -> (&'static str, crate::i18n::Msg) {
        use crate::i18n::msg;
        match self {
            SlugError::Reserved => ("name", msg::ROOM_NAME_RESERVED.arg("name", name)),
            SlugError::Empty => ("name", msg::ROOM_NAME_NO_ALPHANUMERIC.arg("name", name)),
            SlugError::TooLong(n) => {
                ("slug", msg::MAX_LENGTH_VALUE.arg("limit_value", SLUG_MAX_CHARS).arg("show_value", n))
            }
        }
    }
}

/// The slug of a room name, or why the name is refused.
pub fn room_slug(name: &str) -> Result<String, SlugError> {
    let slug = slugify(name);
    if parse_python_uuid(&slug).is_some() || RESERVED_SLUGS.contains(&slug.as_str()) {
        return Err(SlugError::Reserved);
    }
    if slug.is_empty() {
        return Err(SlugError::Empty);
    }
    let n = slug.chars().count();
    if n > SLUG_MAX_CHARS {
        return Err(SlugError::TooLong(n));
    }
    Ok(slug)
}

/// How a room identifier from a URL is looked up (§5.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomRef {
    Id(Uuid),
    Slug(String),
    /// Cannot match any room (empty or over-long slug, B2): answer 404 without a query.
    Nothing,
}

impl RoomRef {
    /// Parses the URL-decoded path segment.
    pub fn parse(segment: &str) -> RoomRef {
        if let Some(id) = parse_python_uuid(segment) {
            return RoomRef::Id(id);
        }
        let slug = slugify(segment);
        if slug.is_empty() || slug.chars().count() > SLUG_MAX_CHARS {
            RoomRef::Nothing
        } else {
            RoomRef::Slug(slug)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_matches_the_verified_examples() {
        let cases = [
            ("my room", "my-room"),
            ("My Room!", "my-room"),
            ("Réunion", "reunion"),
            ("Eléphant in the room", "elephant-in-the-room"),
            ("  Hello   World  ", "hello-world"),
            ("foo_bar", "foo_bar"),
            ("__foo__", "foo"),
            ("a - b", "a-b"),
            ("a--b", "a-b"),
            ("a_-_b", "a_-_b"),
            ("C'est l'été", "cest-lete"),
            ("Ça va?", "ca-va"),
            ("naïve café", "naive-cafe"),
            ("ﬁnal", "final"),
            ("Ｆｕｌｌ", "full"),
            ("x²", "x2"),
            ("½ point", "12-point"),
            ("Straße", "strae"),
            ("Œuvre", "uvre"),
            ("Łódź", "odz"),
            ("Ĳssel", "ijssel"),
            ("İstanbul", "istanbul"),
            ("a.b/c", "abc"),
            ("--x--", "x"),
            ("tab\there", "tab-here"),
            ("x\u{1f}y", "x-y"),
            ("😀 party", "party"),
            ("日本語", ""),
            ("Москва", ""),
            ("会议", ""),
            ("!!!", ""),
            ("123", "123"),
        ];
        for (name, slug) in cases {
            assert_eq!(slugify(name), slug, "slugify({name:?})");
        }
    }

    #[test]
    fn m_4_uuid_looking_slugs_are_reserved() {
        for name in [
            "918689fb-038e 4e81-bf09 efd5902c5f0b",
            "123E4567E89B12D3A456426614174000",
            "{123e4567-e89b-12d3-a456-426614174000}",
            "aaaa aaaa aaaa aaaa aaaa aaaa aaaa aaaa",
            "ab_cdabcdabcdabcdabcdabcdabcdabc",
            "0x123456789012345678901234567890",
        ] {
            assert_eq!(room_slug(name), Err(SlugError::Reserved), "{name}");
        }
        assert!(room_slug("urn:uuid:123e4567-e89b-12d3-a456-426614174000").is_ok());
        assert!(room_slug("ab__cdabcdabcdabcdabcdabcdabcdab").is_ok(), "double underscore is not an int");
        assert!(room_slug("abcdabcdabcdabcdabcdabcdabcdabcg").is_ok(), "g is not hex");
    }

    #[test]
    fn b2_b3_empty_and_route_slugs_are_refused_m_3_length() {
        assert_eq!(room_slug("会议"), Err(SlugError::Empty));
        assert_eq!(room_slug("Creation Callback"), Err(SlugError::Reserved));
        assert_eq!(room_slug("webhooks-livekit"), Err(SlugError::Reserved));
        assert_eq!(room_slug(&"a".repeat(100)), Ok("a".repeat(100)));
        assert_eq!(room_slug(&"a".repeat(101)), Err(SlugError::TooLong(101)));
        assert_eq!(
            SlugError::TooLong(101).field_error("x").1.to_string(),
            "Ensure this value has at most 100 characters (it has 101)."
        );
    }

    #[test]
    fn r_13_identifiers_parse_like_python_uuid() {
        let id: Uuid = "123e4567-e89b-12d3-a456-426614174000".parse().unwrap();
        for s in [
            "123e4567-e89b-12d3-a456-426614174000",
            "123E4567-E89B-12D3-A456-426614174000",
            "123e4567e89b12d3a456426614174000",
            "{123e4567-e89b-12d3-a456-426614174000}",
            "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
            "1-23e4567e89b12d3a456426614174000",
        ] {
            assert_eq!(RoomRef::parse(s), RoomRef::Id(id), "{s}");
        }
        assert_eq!(RoomRef::parse("Réunion"), RoomRef::Slug("reunion".into()));
        assert_eq!(RoomRef::parse("!!!"), RoomRef::Nothing);
        assert_eq!(RoomRef::parse(&"a".repeat(5000)), RoomRef::Nothing);
        assert_eq!(
            RoomRef::parse("123e4567-e89b-12d3-a456-426614174000_"),
            RoomRef::Slug("123e4567-e89b-12d3-a456-426614174000".into())
        );
        assert_eq!(parse_python_uuid("+0000000000000000000000000000001"), Some(Uuid::from_u128(1)));
        assert_eq!(parse_python_uuid("0000000000000000000000000000000_"), None);
    }
}
