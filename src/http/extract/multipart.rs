//! `multipart/form-data` request bodies, read as the reference reads them (users-auth-rooms §2.2
//! and its errata): the form fields become a JSON object of strings that then goes through the
//! same validation as a JSON body.
//!
//! - A repeated field keeps its first position and its last value; a field present but empty
//!   is `""`; an absent field is absent.
//! - File parts are ignored: no route takes a file, and unknown keys are ignored anyway.
//! - Keys nest: `configuration.theme=dark` is `{"configuration": {"theme": "dark"}}`,
//!   `tags[0]=a` is `{"tags": ["a"]}`, a trailing `.` or `[]` gives an empty object or list.
//!   Malformed keys (`configuration[theme]`, spaces, gaps in list indexes, a key used both as a
//!   value and as a container) are a 400 `{"detail": …}`.
//! - A missing or malformed boundary, or a body that is not multipart, is the 400
//!   `Multipart form parse error - …`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use base64::Engine;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::i18n::msg;

/// Most fields read from one body (Django's `DATA_UPLOAD_MAX_NUMBER_FIELDS`).
const MAX_FIELDS: usize = 1000;

fn parse_error(message: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(msg::MULTIPART_PARSE_ERROR.arg("detail", message))
}

/// Parses a whole multipart body (already bounded by `MEET_MAX_BODY_BYTES`) into an object.
pub async fn parse(content_type: &str, body: Bytes) -> Result<Value, ApiError> {
    let boundary = boundary(content_type)?;
    let stream = axum::body::Body::from(body).into_data_stream();
    let mut form = multer::Multipart::new(stream, boundary);
    let mut fields: Map<String, Value> = Map::new();
    let mut count = 0usize;
    while let Some(field) = form.next_field().await.map_err(parse_error)? {
        count += 1;
        if count > MAX_FIELDS {
            return Err(parse_error(format!("more than {MAX_FIELDS} fields")));
        }
        // Parts without a name are skipped; a part with a non-empty file name is a file.
        let Some(name) = field.name().map(|n| n.trim().to_string()) else { continue };
        if field.file_name().is_some_and(|f| !f.is_empty()) {
            continue;
        }
        let base64 = field
            .headers()
            .get("content-transfer-encoding")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("base64"));
        let raw = field.bytes().await.map_err(parse_error)?;
        let data = match base64 {
            true => base64::engine::general_purpose::STANDARD.decode(&raw).map(Bytes::from).unwrap_or(raw),
            false => raw,
        };
        fields.insert(name, Value::String(String::from_utf8_lossy(&data).into_owned()));
    }
    nest(fields).map_err(|e| ApiError::BadRequest(msg::VERBATIM.arg("text", e)))
}

/// The `boundary` parameter of the content type, checked as Django does (1 to 201 printable
/// ASCII characters, not ending with a space).
fn boundary(content_type: &str) -> Result<String, ApiError> {
    let value = content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| {
            let v = v.trim();
            v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v).to_string()
        })
    });
    match value {
        Some(b) if valid_boundary(&b) => Ok(b),
        Some(b) => Err(parse_error(format!("Invalid boundary in multipart: {b}"))),
        None => Err(parse_error("Invalid boundary in multipart: None")),
    }
}

fn valid_boundary(b: &str) -> bool {
    (1..=201).contains(&b.len()) && b.bytes().all(|c| (b' '..=b'~').contains(&c)) && !b.ends_with(' ')
}

/// One step of a nested key.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Name(String),
    Index(i64),
}

/// A value being built: containers stay open until every field is placed.
#[derive(Debug)]
enum Node {
    Leaf(Value),
    Object(Vec<(String, Node)>),
    List(BTreeMap<i64, Node>),
}

impl Node {
    /// Nodes of the same kind may meet at one place (the first one stays); others conflict.
    fn same_kind(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Leaf(a), Node::Leaf(b)) => std::mem::discriminant(a) == std::mem::discriminant(b),
            (Node::Object(_), Node::Object(_)) | (Node::List(_), Node::List(_)) => true,
            _ => false,
        }
    }

    /// Places `node` at `key` in this container and returns the node now there.
    fn place(&mut self, key: &Key, node: Node) -> Result<&mut Node, String> {
        const CONFLICT: &str = "key is already set";
        match (self, key) {
            (Node::Object(children), Key::Name(k)) => {
                let i = match children.iter().position(|(name, _)| name == k) {
                    Some(i) if children[i].1.same_kind(&node) => i,
                    Some(_) => return Err(CONFLICT.into()),
                    None => {
                        children.push((k.clone(), node));
                        children.len() - 1
                    }
                };
                Ok(&mut children[i].1)
            }
            (Node::List(items), Key::Index(i)) => {
                if items.get(i).is_some_and(|existing| !existing.same_kind(&node)) {
                    return Err(CONFLICT.into());
                }
                Ok(items.entry(*i).or_insert(node))
            }
            _ => Err(CONFLICT.into()),
        }
    }

    fn into_value(self) -> Result<Value, String> {
        match self {
            Node::Leaf(v) => Ok(v),
            Node::Object(children) => children
                .into_iter()
                .map(|(k, n)| Ok((k, n.into_value()?)))
                .collect::<Result<Map<_, _>, String>>()
                .map(Value::Object),
            Node::List(items) => {
                let contiguous = items.keys().next() == Some(&0)
                    && items.keys().next_back().is_some_and(|last| *last == items.len() as i64 - 1);
                if !contiguous {
                    return Err("invalid format list keys".into());
                }
                items.into_values().map(Node::into_value).collect::<Result<Vec<_>, _>>().map(Value::Array)
            }
        }
    }
}

/// Builds the nested object from the flat fields, in their order.
fn nest(fields: Map<String, Value>) -> Result<Value, String> {
    let mut root = Node::Object(Vec::new());
    for (raw_key, value) in fields {
        let (keys, value) = split_key(&raw_key, value)?;
        let mut here = &mut root;
        for pair in keys.windows(2) {
            let container = match pair[1] {
                Key::Index(_) => Node::List(BTreeMap::new()),
                Key::Name(_) => Node::Object(Vec::new()),
            };
            here = here.place(&pair[0], container)?;
        }
        let last = keys.last().ok_or_else(|| format!("invalid form key: {raw_key}"))?;
        here.place(last, Node::Leaf(value))?;
    }
    root.into_value()
}

/// Splits `a.b[0].c` into its steps; a trailing `.` or `[]` replaces the value by an empty
/// object or list. Every name must be free of whitespace.
fn split_key(key: &str, value: Value) -> Result<(Vec<Key>, Value), String> {
    let invalid = |k: &str| format!("invalid key format: {k}");
    let first_len = key.find(['[', ']', '.']).unwrap_or(key.len());
    if key.is_empty() {
        return Err(format!("invalid form key: {key}"));
    }
    if first_len == 0 {
        return Err(invalid(key));
    }
    let (first, rest) = key.split_at(first_len);
    let (rest, marker) = if let Some(r) = rest.strip_suffix("[]") {
        (r, Some("[]"))
    } else if let Some(r) = rest.strip_suffix('.') {
        (r, Some("."))
    } else {
        (rest, None)
    };
    let mut steps = tokens(rest);
    steps.extend(marker.map(str::to_string));
    let mut keys = vec![Key::Name(first.to_string())];
    let mut value = value;
    let count = steps.len();
    for (i, step) in steps.iter().enumerate() {
        let is_last = i + 1 == count;
        if let Some(name) = step.strip_prefix('.') {
            if name.is_empty() {
                if !is_last {
                    return Err(invalid(key));
                }
                value = Value::Object(Map::new());
                break;
            }
            keys.push(Key::Name(name.to_string()));
        } else if step.starts_with('[') || step.ends_with(']') {
            let inner = step.strip_prefix('[').and_then(|s| s.strip_suffix(']')).ok_or_else(|| invalid(key))?;
            if inner.is_empty() {
                if !is_last {
                    return Err(invalid(key));
                }
                value = Value::Array(Vec::new());
                break;
            }
            let index = inner
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("invalid literal for int() with base 10: '{inner}'"))?;
            keys.push(Key::Index(index));
        } else {
            return Err(invalid(key));
        }
    }
    for k in &keys {
        if let Key::Name(name) = k {
            if name.chars().any(char::is_whitespace) {
                return Err(invalid(name));
            }
        }
    }
    Ok((keys, value))
}

/// Cuts the part of a key after its first name into `[<digits>]` and `.<name>` steps, keeping
/// whatever lies between them as steps of their own (which the caller rejects).
fn tokens(rest: &str) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut out = Vec::new();
    let mut between = String::new();
    let mut i = 0;
    while i < chars.len() {
        let token_len = match chars[i] {
            '[' => {
                let digits = chars[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                (digits > 0 && chars.get(i + 1 + digits) == Some(&']')).then_some(digits + 2)
            }
            '.' => {
                let name = chars[i + 1..].iter().take_while(|c| !matches!(c, '[' | ']' | '.')).count();
                (name > 0).then_some(name + 1)
            }
            _ => None,
        };
        match token_len {
            Some(n) => {
                if !between.is_empty() {
                    out.push(std::mem::take(&mut between));
                }
                out.push(chars[i..i + n].iter().collect());
                i += n;
            }
            None => {
                between.push(chars[i]);
                i += 1;
            }
        }
    }
    if !between.is_empty() {
        out.push(between);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(pairs: &[(&str, &str)]) -> Result<Value, String> {
        let mut m = Map::new();
        for (k, v) in pairs {
            m.insert(k.to_string(), json!(v));
        }
        nest(m)
    }

    #[test]
    fn flat_fields_are_strings() {
        assert_eq!(form(&[("name", "a"), ("empty", "")]), Ok(json!({"name": "a", "empty": ""})));
    }

    #[test]
    fn errata_2_2_dots_nest_objects_and_brackets_take_list_indexes() {
        assert_eq!(
            form(&[("configuration.theme", "dark"), ("configuration.size.w", "3")]),
            Ok(json!({"configuration": {"theme": "dark", "size": {"w": "3"}}}))
        );
        assert_eq!(form(&[("tags[1]", "b"), ("tags[0]", "a")]), Ok(json!({"tags": ["a", "b"]})));
        assert_eq!(form(&[("l[0].x", "1"), ("l[1].x", "2")]), Ok(json!({"l": [{"x": "1"}, {"x": "2"}]})));
        assert_eq!(form(&[("o.", "ignored"), ("l[]", "ignored")]), Ok(json!({"o": {}, "l": []})));
        assert_eq!(form(&[("a.0", "x")]), Ok(json!({"a": {"0": "x"}})));
    }

    #[test]
    fn malformed_keys_are_errors() {
        assert_eq!(
            form(&[("configuration[theme]", "dark")]),
            Err("invalid literal for int() with base 10: 'theme'".into())
        );
        assert_eq!(form(&[("my name", "x")]), Err("invalid key format: my name".into()));
        assert_eq!(form(&[("a.b c", "x")]), Err("invalid key format: b c".into()));
        assert_eq!(form(&[("[0]", "x")]), Err("invalid key format: [0]".into()));
        assert_eq!(form(&[(".a", "x")]), Err("invalid key format: .a".into()));
        assert_eq!(form(&[("a..b", "x")]), Err("invalid key format: a..b".into()));
        assert_eq!(form(&[("a[0]x", "x")]), Err("invalid key format: a[0]x".into()));
        assert_eq!(form(&[("a[][0]", "x")]), Err("invalid key format: a[][0]".into()));
        assert_eq!(form(&[("", "x")]), Err("invalid form key: ".into()));
        assert_eq!(form(&[("l[1]", "x")]), Err("invalid format list keys".into()));
        assert_eq!(form(&[("a", "x"), ("a.b", "y")]), Err("key is already set".into()));
        assert_eq!(form(&[("a.b", "y"), ("a", "x")]), Err("key is already set".into()));
        assert_eq!(form(&[("a[0]", "y"), ("a.b", "x")]), Err("key is already set".into()));
    }

    #[test]
    fn boundaries() {
        assert_eq!(boundary("multipart/form-data; boundary=abc").ok(), Some("abc".into()));
        assert_eq!(boundary("multipart/form-data; charset=utf-8; Boundary=\"a b\"").ok(), Some("a b".into()));
        for bad in ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=é"] {
            assert!(boundary(bad).is_err(), "{bad}");
        }
        match boundary("multipart/form-data") {
            Err(ApiError::BadRequest(m)) => {
                assert_eq!(m.to_string(), "Multipart form parse error - Invalid boundary in multipart: None")
            }
            other => panic!("{other:?}"),
        }
    }
}
