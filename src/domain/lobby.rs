//! The lobby's pure rules (lobby-livekit §4): entries and their statuses, the participant id
//! carried by the cookie, and the validation of request bodies.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldErrors;
use crate::i18n::msg;

/// Where a participant stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "LobbyStatus")]
pub enum Status {
    Waiting,
    Accepted,
    Denied,
}

/// One browser waiting for, or having received, a decision for one room. Field order is the
/// wire order: `status`, `username`, `id`, `color`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "LobbyParticipant")]
pub struct Entry {
    pub status: Status,
    pub username: String,
    pub id: String,
    pub color: String,
}

impl Entry {
    /// Parses a stored value; `None` for a corrupted one (it is then deleted by the caller).
    pub fn parse(raw: &str) -> Option<Entry> {
        serde_json::from_str(raw).ok()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A participant id we accept from the cookie (S-LK3a): a lowercase UUID, hyphenated as the
/// ids issued since now-rooms §15.2, or 32 hex digits as those issued before. Anything else is
/// replaced by a new id.
pub fn valid_participant_id(id: &str) -> bool {
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    match id.len() {
        32 => id.bytes().all(hex),
        36 => uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id),
        _ => false,
    }
}

/// A new participant id: a random UUID v4, hyphenated (now-rooms §15.2, NR-LB-2).
pub fn new_participant_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

fn char_count(s: &str) -> usize {
    s.chars().count()
}

/// Validates DRF's `CharField(trim)` for `username` (lobby-livekit §4.4), with the length cap of
/// S-LK4.
pub fn parse_username(value: Option<&Value>, max_len: usize) -> Result<String, FieldErrors> {
    let mut e = FieldErrors::new();
    let text = match value {
        None => {
            e.add("username", msg::REQUIRED);
            return Err(e);
        }
        Some(Value::Null) => {
            e.add("username", msg::NOT_NULL);
            return Err(e);
        }
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            e.add("username", msg::NOT_A_STRING);
            return Err(e);
        }
    };
    if text.is_empty() {
        e.add("username", msg::NOT_BLANK);
        return Err(e);
    }
    if char_count(&text) > max_len {
        e.add("username", msg::MAX_LENGTH.arg("max_length", max_len));
        return Err(e);
    }
    Ok(text)
}

/// Validates the `enter` body: `participant_id` (trimmed string) and `allow_entry` (DRF's
/// boolean parsing), reporting every missing field at once.
pub fn parse_decision(body: &serde_json::Map<String, Value>) -> Result<(String, bool), FieldErrors> {
    let mut e = FieldErrors::new();
    let pid = match body.get("participant_id") {
        None => {
            e.add("participant_id", msg::REQUIRED);
            None
        }
        Some(Value::Null) => {
            e.add("participant_id", msg::NOT_NULL);
            None
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            e.add("participant_id", msg::NOT_BLANK);
            None
        }
        // now-rooms §15.3 (NR-LB-3): a UUID in any accepted form, looked up hyphenated.
        Some(Value::String(s)) => match crate::domain::slug::parse_python_uuid(s.trim()) {
            Some(u) => Some(u.hyphenated().to_string()),
            None => {
                e.add("participant_id", msg::INVALID_UUID_FIELD);
                None
            }
        },
        Some(_) => {
            e.add("participant_id", msg::INVALID_UUID_FIELD);
            None
        }
    };
    let allow = match body.get("allow_entry") {
        None => {
            e.add("allow_entry", msg::REQUIRED);
            None
        }
        Some(Value::Null) => {
            e.add("allow_entry", msg::NOT_NULL);
            None
        }
        Some(v) => match parse_bool(v) {
            Some(b) => Some(b),
            None => {
                e.add("allow_entry", msg::INVALID_BOOLEAN);
                None
            }
        },
    };
    match (pid, allow) {
        (Some(p), Some(a)) if e.is_empty() => Ok((p, a)),
        _ => Err(e),
    }
}

/// DRF's `BooleanField` values.
fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.as_str() {
            "true" | "True" | "TRUE" | "t" | "T" | "yes" | "Yes" | "YES" | "y" | "Y" | "on" | "On" | "ON" | "1" => {
                Some(true)
            }
            "false" | "False" | "FALSE" | "f" | "F" | "no" | "No" | "NO" | "n" | "N" | "off" | "Off" | "OFF" | "0" => {
                Some(false)
            }
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn l_7_usernames_are_trimmed_numbers_accepted_and_capped() {
        assert_eq!(parse_username(Some(&json!("  bob ")), 255).unwrap(), "bob");
        assert_eq!(parse_username(Some(&json!(12)), 255).unwrap(), "12");
        let err = |v: Option<&Value>| parse_username(v, 5).unwrap_err().to_json(crate::i18n::Lang::En);
        assert_eq!(err(None), json!({"username": ["This field is required."]}).as_object().unwrap().clone());
        assert_eq!(
            err(Some(&json!("  "))),
            json!({"username": ["This field may not be blank."]}).as_object().unwrap().clone()
        );
        assert_eq!(
            err(Some(&json!(null))),
            json!({"username": ["This field may not be null."]}).as_object().unwrap().clone()
        );
        assert_eq!(err(Some(&json!(true))), json!({"username": ["Not a valid string."]}).as_object().unwrap().clone());
        assert_eq!(
            err(Some(&json!("abcdef"))),
            json!({"username": ["Ensure this field has no more than 5 characters."]}).as_object().unwrap().clone()
        );
        assert_eq!(parse_username(Some(&json!("ééééé")), 5).unwrap(), "ééééé");
    }

    #[test]
    fn l_26_decisions_validate_both_fields() {
        let m = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            parse_decision(&m(json!({}))).unwrap_err().to_json(crate::i18n::Lang::En),
            m(json!({"participant_id": ["This field is required."], "allow_entry": ["This field is required."]}))
        );
        let id = "2f7f162f-e7d1-421b-90e7-02bfbfbf8def";
        assert_eq!(
            parse_decision(&m(json!({"participant_id": id, "allow_entry": "maybe"})))
                .unwrap_err()
                .to_json(crate::i18n::Lang::En),
            m(json!({"allow_entry": ["Must be a valid boolean."]}))
        );
        assert_eq!(
            parse_decision(&m(json!({"participant_id": "test-id", "allow_entry": true})))
                .unwrap_err()
                .to_json(crate::i18n::Lang::En),
            m(json!({"participant_id": ["Must be a valid UUID."]})),
            "NR-LB-3"
        );
        for (v, want) in [(json!("yes"), true), (json!("off"), false), (json!(1), true), (json!("F"), false)] {
            let upper = format!(" {} ", id.replace('-', "").to_uppercase());
            assert_eq!(
                parse_decision(&m(json!({"participant_id": upper, "allow_entry": v}))).unwrap(),
                (id.into(), want)
            );
        }
    }

    #[test]
    fn s_lk3_only_hex_ids_are_kept() {
        assert!(valid_participant_id(&new_participant_id()));
        assert!(valid_participant_id(&uuid::Uuid::new_v4().simple().to_string()), "ids issued before HEAD");
        assert!(!valid_participant_id(&uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase()));
        assert!(!valid_participant_id("participant1"));
        assert!(!valid_participant_id(&"A".repeat(32)));
        assert!(!valid_participant_id(""));
    }

    #[test]
    fn entries_serialize_in_wire_order() {
        let e = Entry { status: Status::Waiting, username: "u".into(), id: "i".into(), color: "c".into() };
        assert_eq!(e.to_json(), r#"{"status":"waiting","username":"u","id":"i","color":"c"}"#);
        assert_eq!(Entry::parse(&e.to_json()), Some(e));
        assert_eq!(Entry::parse(r#"{"status":"odd","username":"u","id":"i","color":"c"}"#), None);
        assert_eq!(Entry::parse(r#"{"status":"waiting"}"#), None);
    }
}
