//! Pure rules of participant management (now-rooms §4–§5): the `ParticipantPermission` schema
//! with its pydantic-shaped errors, the forbidden permission fields, DRF's boolean parsing and
//! Python's truthiness of stored configuration values.

use livekit_protocol as proto;
use serde_json::{json, Value};

use super::room_config::{error, lax_bool, sources};

/// The sources a participant may be allowed to publish, with their LiveKit enum.
pub const SOURCES: [(&str, proto::TrackSource); 4] = [
    ("camera", proto::TrackSource::Camera),
    ("microphone", proto::TrackSource::Microphone),
    ("screen_share", proto::TrackSource::ScreenShare),
    ("screen_share_audio", proto::TrackSource::ScreenShareAudio),
];

const BOOL_KEYS: [&str; 8] = [
    "can_subscribe",
    "can_publish",
    "can_publish_data",
    "hidden",
    "recorder",
    "can_update_metadata",
    "agent",
    "can_subscribe_metrics",
];

/// Permission fields an administrator may never set (`PARTICIPANT_FORBIDDEN_PERMISSION_FIELDS`'s
/// default), plus `can_update_metadata: true`, which would let a participant rewrite its own
/// `room_role` attribute (B-SEC-3).
pub const FORBIDDEN: [&str; 3] = ["hidden", "recorder", "agent"];

/// Why a permission object was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum PermissionError {
    /// Forbidden fields were set, named in the setting's order (B-PM-5: a JSON 400, not HTML).
    Forbidden(Vec<&'static str>),
    /// The pydantic error list, leaves as strings as DRF renders them.
    Invalid(Vec<Value>),
}

/// Validates an `update-participant` `permission` value (`null` → `Ok(None)`) into the LiveKit
/// message: given booleans as given, absent or null ones unset, sources as protobuf enums.
pub fn parse_permission(v: &Value) -> Result<Option<proto::ParticipantPermission>, PermissionError> {
    let parsed;
    let v = match v {
        Value::Null => return Ok(None),
        // A JSON string holding the object is accepted too.
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(inner @ Value::Object(_)) => {
                parsed = inner;
                &parsed
            }
            _ => v,
        },
        other => other,
    };
    let Value::Object(m) = v else {
        let class = "ParticipantPermission";
        let msg = format!("Input should be a valid dictionary or instance of {class}");
        return Err(PermissionError::Invalid(vec![error(
            "model_type",
            &[],
            &msg,
            v,
            Some(json!({"class_name": class})),
        )]));
    };
    let set = |k: &str| m.get(k).is_some_and(|v| !v.is_null());
    let mut forbidden: Vec<&'static str> = FORBIDDEN.iter().copied().filter(|k| set(k)).collect();
    if m.get("can_update_metadata").is_some_and(|v| matches!(lax_bool(v, &[]), Ok(Some(true)))) {
        forbidden.push("can_update_metadata");
    }
    if !forbidden.is_empty() {
        return Err(PermissionError::Forbidden(forbidden));
    }
    let mut errors = Vec::new();
    let mut out = proto::ParticipantPermission::default();
    for (key, value) in m {
        let loc = [key.clone()];
        if BOOL_KEYS.contains(&key.as_str()) {
            match lax_bool(value, &loc) {
                Ok(b) => {
                    let b = b.unwrap_or(false);
                    match key.as_str() {
                        "can_subscribe" => out.can_subscribe = b,
                        "can_publish" => out.can_publish = b,
                        "can_publish_data" => out.can_publish_data = b,
                        "can_update_metadata" => out.can_update_metadata = b,
                        "can_subscribe_metrics" => out.can_subscribe_metrics = b,
                        // hidden, recorder, agent: refused above unless null.
                        _ => {}
                    }
                }
                Err(e) => errors.push(e),
            }
        } else if key == "can_publish_sources" {
            match sources(value, &loc) {
                Ok(names) => {
                    for name in names.unwrap_or_default() {
                        if let Some((_, source)) = SOURCES.iter().find(|(n, _)| *n == name) {
                            out.can_publish_sources.push(*source as i32);
                        }
                    }
                }
                Err(mut e) => errors.append(&mut e),
            }
        } else {
            errors.push(error("extra_forbidden", &loc, "Extra inputs are not permitted", value, None));
        }
    }
    if errors.is_empty() {
        Ok(Some(out))
    } else {
        Err(PermissionError::Invalid(errors))
    }
}

/// DRF's `BooleanField` parsing: `None` when the value is not a boolean DRF accepts.
pub fn drf_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_i64() == Some(1) || n.as_f64() == Some(1.0) => Some(true),
        Value::Number(n) if n.as_i64() == Some(0) || n.as_f64() == Some(0.0) => Some(false),
        Value::String(s) => match s.as_str() {
            "t" | "T" | "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" | "1" => {
                Some(true)
            }
            "f" | "F" | "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" | "0" => {
                Some(false)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether the room configuration lets everyone mute others (`everyone_can_mute`): absent or
/// null is the default `true` (B-CFG-1, as the frontend reads it); other values by Python's
/// truthiness, with the strings DRF reads as booleans taken as such.
pub fn everyone_can_mute(configuration: &Value) -> bool {
    match configuration.get("everyone_can_mute") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(v @ Value::String(s)) => drf_bool(v).unwrap_or(!s.is_empty()),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// Python's `datetime.isoformat()` of a UTC instant: `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`.
pub fn python_isoformat(t: chrono::DateTime<chrono::Utc>) -> String {
    if t.timestamp_subsec_micros() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn nr_pm_13_unknown_keys_are_extra_forbidden() {
        let e = parse_permission(&json!({"invalid-attributes": true})).unwrap_err();
        assert_eq!(
            e,
            PermissionError::Invalid(vec![json!({"type": "extra_forbidden", "loc": ["invalid-attributes"],
                "msg": "Extra inputs are not permitted", "input": "True",
                "url": "https://errors.pydantic.dev/2.13/v/extra_forbidden"})])
        );
    }

    #[test]
    fn nr_pm_12_sources_are_lowercase_literals() {
        let PermissionError::Invalid(e) = parse_permission(&json!({"can_publish_sources": ["CAMERA"]})).unwrap_err()
        else {
            panic!("not a schema error")
        };
        assert_eq!(e[0]["type"], "literal_error");
        assert_eq!(e[0]["loc"], json!(["can_publish_sources", "0"]));
        assert_eq!(e[0]["ctx"]["expected"], "'camera', 'microphone', 'screen_share' or 'screen_share_audio'");
        let p = parse_permission(&json!({"can_publish": "yes", "can_publish_sources": ["camera", "screen_share"]}))
            .unwrap()
            .unwrap();
        assert!(p.can_publish && !p.can_subscribe);
        assert_eq!(p.can_publish_sources, vec![1, 3]);
    }

    #[test]
    fn nr_pm_14_forbidden_fields_win_and_are_listed_in_order() {
        let e = parse_permission(&json!({"agent": false, "hidden": true, "recorder": 1, "x": 1})).unwrap_err();
        assert_eq!(e, PermissionError::Forbidden(vec!["hidden", "recorder", "agent"]));
        assert!(parse_permission(&json!({"hidden": null})).is_ok());
        assert!(matches!(parse_permission(&json!({"can_update_metadata": true})), Err(PermissionError::Forbidden(_))));
        assert!(parse_permission(&json!({"can_update_metadata": false})).is_ok());
    }

    #[test]
    fn bad_shapes_have_pydantic_types() {
        let kinds = |v: Value| -> Vec<String> {
            match parse_permission(&v) {
                Err(PermissionError::Invalid(e)) => e.iter().map(|e| e["type"].as_str().unwrap().to_string()).collect(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(kinds(json!({"can_publish": "maybe"})), vec!["bool_parsing"]);
        assert_eq!(kinds(json!({"can_publish": []})), vec!["bool_type"]);
        assert_eq!(kinds(json!({"can_publish_sources": "camera"})), vec!["list_type"]);
        assert_eq!(kinds(json!([1])), vec!["model_type"]);
        assert!(parse_permission(&json!("{\"can_publish\": true}")).unwrap().unwrap().can_publish);
        assert_eq!(parse_permission(&Value::Null).unwrap(), None);
    }

    #[test]
    fn mute_setting_defaults_to_true() {
        assert!(everyone_can_mute(&json!({})));
        assert!(everyone_can_mute(&json!({"everyone_can_mute": null})));
        assert!(!everyone_can_mute(&json!({"everyone_can_mute": false})));
        assert!(!everyone_can_mute(&json!({"everyone_can_mute": "false"})));
        assert!(everyone_can_mute(&json!({"everyone_can_mute": "yes"})));
        assert!(!everyone_can_mute(&json!({"everyone_can_mute": 0})));
    }

    #[test]
    fn isoformat_as_python() {
        let t = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(python_isoformat(t), "2026-01-02T03:04:05+00:00");
        assert_eq!(python_isoformat(t + chrono::Duration::microseconds(120)), "2026-01-02T03:04:05.000120+00:00");
    }

    #[test]
    fn drf_booleans() {
        assert_eq!(drf_bool(&json!("on")), Some(true));
        assert_eq!(drf_bool(&json!(0)), Some(false));
        assert_eq!(drf_bool(&json!("maybe")), None);
        assert_eq!(drf_bool(&json!(null)), None);
    }
}
