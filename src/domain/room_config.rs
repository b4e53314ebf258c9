//! The `RoomConfiguration` schema (now-rooms §6.1): the keys a room configuration (and a user's
//! default room configuration) may hold, validated as upstream's lax pydantic model does, with
//! its error list shape (§0 "Pydantic error lists"). Validated values are stored in canonical
//! form (B-CFG-1), and what is read back is tolerant of legacy rows (B-CFG-2).

use serde_json::{json, Map, Value};

use super::fields::python_str;

/// The sources a participant may publish, in LiveKit's lowercase names.
pub const TRACK_SOURCES: [&str; 4] = ["camera", "microphone", "screen_share", "screen_share_audio"];

/// Name of the model in `model_type` errors.
const MODEL: &str = "RoomConfiguration";
/// The pydantic version in error URLs.
const ERRORS_URL: &str = "https://errors.pydantic.dev/2.13/v/";

/// One pydantic error, rendered as DRF renders it (every leaf a string).
pub(crate) fn error(kind: &str, loc: &[String], msg: &str, input: &Value, ctx: Option<Value>) -> Value {
    let mut e = Map::new();
    e.insert("type".into(), Value::String(kind.into()));
    e.insert("loc".into(), Value::Array(loc.iter().cloned().map(Value::String).collect()));
    e.insert("msg".into(), Value::String(msg.into()));
    e.insert("input".into(), stringify(input));
    if let Some(ctx) = ctx {
        e.insert("ctx".into(), ctx);
    }
    e.insert("url".into(), Value::String(format!("{ERRORS_URL}{kind}")));
    Value::Object(e)
}

/// DRF's rendering of an error input: lists and objects keep their shape, leaves become
/// Python's `str()`.
fn stringify(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(stringify).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), stringify(v))).collect()),
        leaf => Value::String(python_str(leaf)),
    }
}

/// Pydantic's lax boolean: `Ok(Some(b))`, `Ok(None)` for null, or the error.
pub fn lax_bool(v: &Value, loc: &[String]) -> Result<Option<bool>, Value> {
    const PARSING: &str = "Input should be a valid boolean, unable to interpret input";
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Ok(Some(false)),
            Some(1.0) => Ok(Some(true)),
            _ => Err(error("bool_parsing", loc, PARSING, v, None)),
        },
        Value::String(s) => match s.to_lowercase().as_str() {
            "0" | "off" | "f" | "false" | "n" | "no" => Ok(Some(false)),
            "1" | "on" | "t" | "true" | "y" | "yes" => Ok(Some(true)),
            _ => Err(error("bool_parsing", loc, PARSING, v, None)),
        },
        Value::Array(_) | Value::Object(_) => Err(error("bool_type", loc, "Input should be a valid boolean", v, None)),
    }
}

/// A `list[TrackSource] | None`: `Ok(None)` for null, the list, or the errors (one per bad item).
pub fn sources(v: &Value, loc: &[String]) -> Result<Option<Vec<String>>, Vec<Value>> {
    let items = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        other => return Err(vec![error("list_type", loc, "Input should be a valid list", other, None)]),
    };
    let expected = "'camera', 'microphone', 'screen_share' or 'screen_share_audio'";
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.as_str().filter(|s| TRACK_SOURCES.contains(s)) {
            Some(s) => out.push(s.to_string()),
            None => {
                let mut at = loc.to_vec();
                at.push(i.to_string());
                errors.push(error(
                    "literal_error",
                    &at,
                    &format!("Input should be {expected}"),
                    item,
                    Some(json!({ "expected": expected })),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(Some(out))
    } else {
        Err(errors)
    }
}

/// Validates a configuration as `RoomConfiguration.model_validate` (after DRF's null check):
/// `{}` is accepted as is; otherwise the canonical value (booleans as JSON booleans, B-CFG-1) or
/// the pydantic error list.
pub fn validate(v: &Value) -> Result<Value, Vec<Value>> {
    let Value::Object(m) = v else {
        let msg = format!("Input should be a valid dictionary or instance of {MODEL}");
        return Err(vec![error("model_type", &[], &msg, v, Some(json!({ "class_name": MODEL })))]);
    };
    let mut errors = Vec::new();
    let mut out = Map::new();
    for (key, value) in m {
        let loc = [key.clone()];
        match key.as_str() {
            "can_publish_sources" => match sources(value, &loc) {
                Ok(s) => {
                    out.insert(key.clone(), s.map_or(Value::Null, |s| json!(s)));
                }
                Err(mut e) => errors.append(&mut e),
            },
            "everyone_can_mute" => match lax_bool(value, &loc) {
                Ok(b) => {
                    out.insert(key.clone(), b.map_or(Value::Null, Value::Bool));
                }
                Err(e) => errors.push(e),
            },
            _ => errors.push(error("extra_forbidden", &loc, "Extra inputs are not permitted", value, None)),
        }
    }
    if errors.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(errors)
    }
}

/// A stored configuration made valid (the data migration of B-CFG-2): a non-object becomes `{}`,
/// unknown keys and invalid values are dropped, the rest is canonical.
pub fn sanitize(v: &Value) -> Value {
    let Value::Object(m) = v else { return Value::Object(Map::new()) };
    let kept: Map<String, Value> = m
        .iter()
        .filter(|(k, v)| validate(&json!({ k.as_str(): v })).is_ok())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    validate(&Value::Object(kept)).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// The sources a stored configuration allows non-privileged participants (§7.3): `None` when
/// the key is absent, null or unreadable (then `LIVEKIT_DEFAULT_SOURCES` apply).
pub fn publish_sources(configuration: &Value) -> Option<Vec<String>> {
    let v = configuration.as_object()?.get("can_publish_sources")?;
    sources(v, &[]).ok().flatten()
}

/// A random PIN of `length` digits (at most 32, see `ROOM_TELEPHONY_PIN_LENGTH`): a uniform
/// integer below `10^length` from the operating system's CSPRNG, left-padded with zeros (§10.1).
pub fn random_pin(length: u32) -> String {
    use rand::Rng;
    let draw = rand::rngs::OsRng.gen_range(0..10u128.pow(length.min(32)));
    pin_from_number(draw, length)
}

/// The PIN a drawn number gives: its decimal digits, left-padded with zeros to `length`.
pub fn pin_from_number(number: u128, length: u32) -> String {
    format!("{number:0width$}", width = length as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: Value) -> Value {
        validate(&v).unwrap_err().into_iter().next().unwrap()
    }

    #[test]
    fn nr_cfg_unknown_key_is_extra_forbidden() {
        assert_eq!(
            one(json!({"arbitrary_key": "value"})),
            json!({"type": "extra_forbidden", "loc": ["arbitrary_key"], "msg": "Extra inputs are not permitted",
                   "input": "value", "url": "https://errors.pydantic.dev/2.13/v/extra_forbidden"})
        );
        assert_eq!(one(json!({"x": true}))["input"], "True");
    }

    #[test]
    fn nr_cfg_12_types() {
        assert_eq!(one(json!({"can_publish_sources": "camera"}))["type"], "list_type");
        assert_eq!(one(json!({"everyone_can_mute": []}))["type"], "bool_type");
        assert_eq!(one(json!({"everyone_can_mute": "test"}))["type"], "bool_parsing");
        let e = one(json!({"can_publish_sources": ["camera", "CAMERA"]}));
        assert_eq!(e["type"], "literal_error");
        assert_eq!(e["loc"], json!(["can_publish_sources", "1"]));
        assert_eq!(e["input"], "CAMERA");
        assert_eq!(e["ctx"]["expected"], "'camera', 'microphone', 'screen_share' or 'screen_share_audio'");
        let e = one(json!([1]));
        assert_eq!(e["type"], "model_type");
        assert_eq!(e["loc"], json!([]));
        assert_eq!(e["input"], json!(["1"]));
        assert_eq!(e["ctx"], json!({"class_name": "RoomConfiguration"}));
    }

    #[test]
    fn lax_values_are_stored_canonical() {
        for (v, want) in [(json!("yes"), true), (json!("1"), true), (json!(1), true), (json!("Off"), false)] {
            assert_eq!(validate(&json!({"everyone_can_mute": v})).unwrap(), json!({"everyone_can_mute": want}));
        }
        let v = json!({"can_publish_sources": ["camera", "camera"], "everyone_can_mute": null});
        assert_eq!(validate(&v).unwrap(), v);
    }

    #[test]
    fn legacy_rows_are_sanitized() {
        assert_eq!(sanitize(&json!([1, 2])), json!({}));
        assert_eq!(
            sanitize(&json!({"old": 1, "everyone_can_mute": "no", "can_publish_sources": "x"})),
            json!({"everyone_can_mute": false})
        );
        assert_eq!(publish_sources(&json!({"can_publish_sources": ["camera"]})), Some(vec!["camera".to_string()]));
        assert_eq!(publish_sources(&json!({"can_publish_sources": null})), None);
        assert_eq!(publish_sources(&json!("legacy")), None);
    }

    #[test]
    fn pins_have_the_length_asked() {
        let p = random_pin(10);
        assert_eq!(p.len(), 10);
        assert!(p.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(random_pin(32).len(), 32);
    }

    #[test]
    fn nr_tel_3_drawn_number_is_left_padded() {
        assert_eq!(pin_from_number(12345, 10), "0000012345");
        assert_eq!(pin_from_number(9_999, 4), "9999");
        assert_eq!(pin_from_number(0, 5), "00000");
    }
}
