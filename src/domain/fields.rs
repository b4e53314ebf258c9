//! DRF field validation for JSON request bodies: the exact messages of `CharField`,
//! `ChoiceField`, `JSONField` and `PrimaryKeyRelatedField` (users-auth-rooms §5.5, §5.10).

use serde_json::Value;
use uuid::Uuid;

use crate::i18n::{msg, Msg};

/// DRF's `ProhibitNullCharactersValidator` (PostgreSQL cannot store U+0000 in text or jsonb).
pub use crate::i18n::msg::NO_NULL_CHARACTERS;
pub use crate::i18n::msg::{NOT_A_STRING, NOT_BLANK, NOT_NULL, REQUIRED};

/// Python's `str(value)` for a JSON value (what DRF puts in its messages).
pub fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Python's type name of a JSON value.
pub fn python_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "str",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `CharField(max_length, trim_whitespace=True, allow_blank=False)`. `Ok(None)` when the key is
/// absent and not required.
pub fn char_field(v: Option<&Value>, required: bool, max_chars: usize) -> Result<Option<String>, Msg> {
    let v = match v {
        None if required => return Err(REQUIRED.into()),
        None => return Ok(None),
        Some(v) => v,
    };
    let s = match v {
        Value::Null => return Err(NOT_NULL.into()),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => {
            // DRF checks blankness on `str(data)` first: never blank for these.
            return Err(NOT_A_STRING.into());
        }
    };
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Err(NOT_BLANK.into());
    }
    if trimmed.chars().count() > max_chars {
        return Err(msg::MAX_LENGTH.arg("max_length", max_chars));
    }
    if trimmed.contains('\0') {
        return Err(NO_NULL_CHARACTERS.into());
    }
    Ok(Some(trimmed.to_string()))
}

/// `ChoiceField(choices)` (not blank, not null). `Ok(None)` when absent.
pub fn choice_field<'a>(v: Option<&Value>, choices: &[&'a str]) -> Result<Option<&'a str>, Msg> {
    let Some(v) = v else { return Ok(None) };
    if v.is_null() {
        return Err(NOT_NULL.into());
    }
    let s = python_str(v);
    choices.iter().find(|c| **c == s).map(|c| Some(*c)).ok_or_else(|| msg::INVALID_CHOICE.arg("input", s))
}

/// A `JSONField` that must hold an object (this implementation's rule for `configuration`).
pub fn object_field(v: Option<&Value>) -> Result<Option<Value>, Msg> {
    match v {
        None => Ok(None),
        Some(Value::Null) => Err(NOT_NULL.into()),
        Some(v @ Value::Object(_)) if has_null_character(v) => Err(NO_NULL_CHARACTERS.into()),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(other) => Err(msg::NOT_A_DICT.arg("input_type", python_type(other))),
    }
}

/// Whether any key or string inside `v` holds U+0000.
fn has_null_character(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_null_character),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_null_character(v)),
        _ => false,
    }
}

/// `PrimaryKeyRelatedField` over a UUID key: the parsed key, or the message. The existence check
/// (`Invalid pk "<v>" - object does not exist.`, see [`does_not_exist`]) is the caller's.
pub fn uuid_pk_field(v: Option<&Value>, required: bool) -> Result<Option<Uuid>, Msg> {
    let v = match v {
        None if required => return Err(REQUIRED.into()),
        None => return Ok(None),
        Some(v) => v,
    };
    match v {
        Value::Null => Err(NOT_NULL.into()),
        Value::String(s) => {
            crate::domain::slug::parse_python_uuid(s).map(Some).ok_or_else(|| msg::INVALID_UUID.arg("value", s))
        }
        // Django's UUIDField reads integers as `UUID(int=…)`.
        Value::Number(n) if n.is_u64() => Ok(n.as_u64().map(|i| Uuid::from_u128(i as u128))),
        Value::Bool(b) => Ok(Some(Uuid::from_u128(*b as u128))),
        other => Err(msg::PK_INCORRECT_TYPE.arg("data_type", python_type(other))),
    }
}

/// The message of a well-formed key that matches no row.
pub fn does_not_exist(v: &Value) -> Msg {
    msg::PK_DOES_NOT_EXIST.arg("pk_value", python_str(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The English text of an error, to compare with the reference's.
    fn en<T>(r: Result<T, Msg>) -> Result<T, String> {
        r.map_err(|m| m.to_string())
    }

    #[test]
    fn r_10_char_field_messages() {
        assert_eq!(en(char_field(None, true, 500)), Err(REQUIRED.id().into()));
        assert_eq!(en(char_field(None, false, 500)), Ok(None));
        assert_eq!(en(char_field(Some(&json!(null)), true, 500)), Err(NOT_NULL.id().into()));
        assert_eq!(en(char_field(Some(&json!("   ")), true, 500)), Err(NOT_BLANK.id().into()));
        for v in [json!(true), json!([1]), json!({"a": 1})] {
            assert_eq!(en(char_field(Some(&v), true, 500)), Err(NOT_A_STRING.id().into()), "{v}");
        }
        assert_eq!(en(char_field(Some(&json!(123)), true, 500)), Ok(Some("123".into())));
        assert_eq!(en(char_field(Some(&json!("  a b ")), true, 500)), Ok(Some("a b".into())));
        assert_eq!(
            en(char_field(Some(&json!("é".repeat(501))), true, 500)),
            Err("Ensure this field has no more than 500 characters.".into())
        );
        assert!(en(char_field(Some(&json!("é".repeat(500))), true, 500)).is_ok());
        assert_eq!(en(char_field(Some(&json!("a\0b")), true, 500)), Err(NO_NULL_CHARACTERS.id().into()));
    }

    #[test]
    fn choice_and_object_fields() {
        let c = ["public", "trusted", "restricted"];
        assert_eq!(en(choice_field(Some(&json!("private")), &c)), Err("\"private\" is not a valid choice.".into()));
        assert_eq!(en(choice_field(Some(&json!(true)), &c)), Err("\"True\" is not a valid choice.".into()));
        assert_eq!(en(choice_field(Some(&json!(null)), &c)), Err(NOT_NULL.id().into()));
        assert_eq!(en(choice_field(Some(&json!("trusted")), &c)), Ok(Some("trusted")));
        assert_eq!(en(object_field(Some(&json!(null)))), Err(NOT_NULL.id().into()));
        assert_eq!(
            en(object_field(Some(&json!([1, 2])))),
            Err("Expected a dictionary of items but got type \"list\".".into())
        );
        assert_eq!(en(object_field(Some(&json!({"a": 1})))), Ok(Some(json!({"a": 1}))));
        assert_eq!(en(object_field(Some(&json!({"a": ["x\0"]})))), Err(NO_NULL_CHARACTERS.id().into()));
    }

    #[test]
    fn ra_17_uuid_pk_messages() {
        assert_eq!(
            en(uuid_pk_field(Some(&json!("abc")), true)),
            Err("\u{201c}abc\u{201d} is not a valid UUID.".into())
        );
        assert_eq!(en(uuid_pk_field(None, true)), Err(REQUIRED.id().into()));
        assert_eq!(
            en(uuid_pk_field(Some(&json!([1])), true)),
            Err("Incorrect type. Expected pk value, received list.".into())
        );
        assert_eq!(en(uuid_pk_field(Some(&json!(5)), true)), Ok(Some(Uuid::from_u128(5))));
        assert_eq!(does_not_exist(&json!("x")).to_string(), "Invalid pk \"x\" - object does not exist.");
    }
}
