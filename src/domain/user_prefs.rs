//! The fields a user may write about themself (now-rooms §13.2): time zone, language and the
//! defaults of the rooms they create, with DRF's messages.

use serde_json::Value;

use super::fields::{python_str, NOT_BLANK, NOT_NULL, REQUIRED};
use crate::i18n::{msg, Msg, MsgId};

/// Interface languages (`DJANGO_LANGUAGES` at HEAD).
pub const LANGUAGES: [&str; 4] = ["en-us", "fr-fr", "nl-nl", "de-de"];
/// `default_room_access_level` choices; `""` and null are also accepted.
pub const ACCESS_LEVELS: [&str; 3] = ["public", "trusted", "restricted"];
/// The time zone error of django-timezone-field.
pub const INVALID_TIMEZONE: MsgId = msg::INVALID_TIMEZONE;

/// A `TimeZoneSerializerField`: an IANA key of the time-zone database, stored as given (B-UP-1:
/// checked against the list of keys, never loaded from a path).
pub fn timezone(v: Option<&Value>, required: bool) -> Result<Option<String>, Msg> {
    match v {
        None if required => Err(REQUIRED.into()),
        None => Ok(None),
        Some(Value::Null) => Err(NOT_NULL.into()),
        Some(Value::String(s)) if s.trim().is_empty() => Err(NOT_BLANK.into()),
        Some(Value::String(s)) if s.parse::<chrono_tz::Tz>().is_ok() => Ok(Some(s.clone())),
        Some(_) => Err(INVALID_TIMEZONE.into()),
    }
}

/// `language`: one of [`LANGUAGES`].
pub fn language(v: Option<&Value>) -> Result<Option<String>, Msg> {
    let Some(v) = v else { return Ok(None) };
    if v.is_null() {
        return Err(NOT_NULL.into());
    }
    let s = python_str(v);
    if LANGUAGES.contains(&s.as_str()) {
        Ok(Some(s))
    } else {
        Err(msg::INVALID_CHOICE.arg("input", s))
    }
}

/// `default_room_access_level`: `Ok(None)` when absent, `Ok(Some(None))` for null.
pub fn default_access_level(v: Option<&Value>) -> Result<Option<Option<String>>, Msg> {
    let Some(v) = v else { return Ok(None) };
    if v.is_null() {
        return Ok(Some(None));
    }
    let s = python_str(v);
    if s.is_empty() || ACCESS_LEVELS.contains(&s.as_str()) {
        Ok(Some(Some(s)))
    } else {
        Err(msg::INVALID_CHOICE.arg("input", s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nr_up_field_rules() {
        assert_eq!(timezone(Some(&json!("Europe/Paris")), true), Ok(Some("Europe/Paris".into())));
        assert_eq!(timezone(Some(&json!("UTC")), true), Ok(Some("UTC".into())));
        assert_eq!(timezone(Some(&json!("Mars/Olympus")), true), Err(INVALID_TIMEZONE.into()));
        assert_eq!(timezone(Some(&json!("/etc/passwd")), true), Err(INVALID_TIMEZONE.into()));
        assert_eq!(timezone(Some(&json!("")), true), Err(NOT_BLANK.into()));
        assert_eq!(timezone(None, true), Err(REQUIRED.into()));
        assert_eq!(timezone(None, false), Ok(None));
        assert_eq!(language(Some(&json!("xx"))), Err(msg::INVALID_CHOICE.arg("input", "xx")));
        assert_eq!(language(Some(&json!("fr-fr"))), Ok(Some("fr-fr".into())));
        assert_eq!(default_access_level(Some(&json!(""))), Ok(Some(Some(String::new()))));
        assert_eq!(default_access_level(Some(&json!(null))), Ok(Some(None)));
        assert_eq!(default_access_level(Some(&json!("invalid"))), Err(msg::INVALID_CHOICE.arg("input", "invalid")));
    }
}
