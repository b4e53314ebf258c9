//! Recording rules upstream added after the reference (now-recordings §4–§15), pure: the
//! `options` of a start body with pydantic's lax coercions (§6.1), the machine hooks' bearer
//! check (§10.1, §13.1), the storage event parsers and key pattern (§10.3, R-13), expiry
//! (§4.4), the room-metadata states (§15), the limit-reached notification (§11.4) and the
//! summary language (R-7).

use chrono::{DateTime, Duration, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::recording::{egress_status, Mode};
use crate::i18n::{msg, MsgId};

/// The keys a start body's `options` may hold (§4.3).
pub const OPTION_KEYS: [&str; 4] = ["language", "transcribe", "collect_metadata", "original_mode"];

/// Pydantic's lax boolean: JSON booleans, the numbers 1 and 0, and the usual words.
fn lax_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
            "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A start body's `options` that cannot be read (the generic 400 `Invalid request.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidOptions;

/// The `options` of a start body as stored (§6.1, NRC-OPT-1..10): omitted, `null` or a JSON
/// string holding `null` give `{}`; a JSON string holding an object is read as that object;
/// unknown keys and values of the wrong type are refused (the generic 400); `null`
/// values are dropped and booleans stored as JSON booleans.
pub fn parse_options(raw: Option<&Value>) -> Result<Map<String, Value>, InvalidOptions> {
    let parsed;
    let value = match raw {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s).map_err(|_| InvalidOptions)?;
            if parsed.is_null() {
                return Ok(Map::new());
            }
            &parsed
        }
        Some(v) => v,
    };
    let Value::Object(given) = value else { return Err(InvalidOptions) };
    let mut out = Map::new();
    for (key, v) in given {
        if !OPTION_KEYS.contains(&key.as_str()) {
            return Err(InvalidOptions);
        }
        if v.is_null() {
            continue;
        }
        let stored = match key.as_str() {
            "language" => Value::String(v.as_str().ok_or(InvalidOptions)?.to_string()),
            "transcribe" | "collect_metadata" => Value::Bool(lax_bool(v).ok_or(InvalidOptions)?),
            _ => match v.as_str() {
                Some(m @ ("screen_recording" | "transcript")) => Value::String(m.to_string()),
                _ => return Err(InvalidOptions),
            },
        };
        out.insert(key.clone(), stored);
    }
    Ok(out)
}

/// True when `options[key]` is a true boolean.
pub fn flag(options: &Value, key: &str) -> bool {
    options.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The bearer check of the two machine hooks (§10.1): `None` when accepted, else the 401
/// message. `token` unset is "not configured" (an empty token is configured and matches
/// nothing); the scheme is case-insensitive and spaces around the token are ignored.
pub fn check_bearer(token: Option<&str>, header: Option<&str>) -> Option<MsgId> {
    let Some(expected) = token else { return Some(msg::STORAGE_TOKEN_NOT_CONFIGURED) };
    let Some(header) = header.filter(|h| !h.is_empty()) else { return Some(msg::STORAGE_AUTHORIZATION_REQUIRED) };
    let Some((scheme, rest)) = header.split_once(' ') else { return Some(msg::REC_INVALID_AUTHORIZATION_FORMAT) };
    let given = rest.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || given.is_empty() {
        return Some(msg::REC_INVALID_AUTHORIZATION_FORMAT);
    }
    if expected.is_empty() || !super::secret_eq(given.as_bytes(), expected.as_bytes()) {
        return Some(msg::INVALID_TOKEN);
    }
    None
}

/// What a storage event is about, before any database access (§10.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageEvent {
    /// A recording object: the id in the key and the decoded key.
    Recording { id: Uuid, key: String },
    /// Another content type or another key: 200 `Notification ignored.`
    Ignored,
}

/// Why a storage event is refused (§10.2 steps 3–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageEventError {
    /// 403 `Invalid request data.` for every malformed shape.
    Invalid,
    /// 403 `Invalid bucket specified.`
    Bucket,
}

/// The characters Python's `quote(key, safe="%+")` keeps.
const KEY_KEEP: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~').remove(b'%').remove(b'+');

/// `Records[0].s3.<path>` as a non-empty string.
fn event_text<'a>(body: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = body.get("Records")?.as_array()?.first()?.get("s3")?;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

/// The content type the S3 parser guesses from a key's extension; `None` when unknown.
fn guess_type(key: &str) -> Option<&'static str> {
    let ext = key.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "mp4" => "video/mp4",
        "ogg" => "audio/ogg",
        "json" => "application/json",
        _ => return mime_type_of(&ext),
    })
}

fn mime_type_of(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "txt" => "text/plain",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/x-wav",
        _ => return None,
    })
}

/// Reads a bucket event with the configured parser (§10.3, R-13: the S3 parser answers
/// "ignored" for unknown types and "invalid" for wrong shapes, never an error) and matches its
/// key against `^(?:<segment>%2F)*<folder>%2F<uuid>\.<1–10 alphanumerics>` on the encoded key.
pub fn read_event(
    body: &Value,
    s3_parser: bool,
    bucket: &str,
    folder: &str,
) -> Result<StorageEvent, StorageEventError> {
    let key = event_text(body, &["object", "key"])
        .filter(|k| !(s3_parser && k.is_empty()))
        .ok_or(StorageEventError::Invalid)?;
    let (encoded, content_type) = if s3_parser {
        (utf8_percent_encode(key, KEY_KEEP).to_string(), guess_type(key))
    } else {
        let ct = event_text(body, &["object", "contentType"]).ok_or(StorageEventError::Invalid)?;
        (key.to_string(), Some(ct))
    };
    let bucket_name = event_text(body, &["bucket", "name"]).ok_or(StorageEventError::Invalid)?;
    if bucket_name != bucket {
        return Err(StorageEventError::Bucket);
    }
    if !content_type.is_some_and(|ct| super::recording::ALLOWED_CONTENT_TYPES.contains(&ct)) {
        return Ok(StorageEvent::Ignored);
    }
    let folder = regex::escape(&utf8_percent_encode(folder, KEY_KEEP).to_string());
    let pattern = format!(
        r"^(?:[^%]+%2F)*{folder}%2F([0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}})\.[a-zA-Z0-9]{{1,10}}"
    );
    let re = regex::Regex::new(&pattern).map_err(|_| StorageEventError::Invalid)?;
    let Some(caps) = re.captures(&encoded) else { return Ok(StorageEvent::Ignored) };
    let id = Uuid::try_parse(&caps[1]).map_err(|_| StorageEventError::Invalid)?;
    Ok(StorageEvent::Recording { id, key: super::recording::decode_key(&encoded) })
}

/// `created_at + days` (§4.4): `None` when expiry is not configured (unset or 0).
pub fn expired_at(created_at: DateTime<Utc>, days: Option<u64>) -> Option<DateTime<Utc>> {
    let days = days.filter(|d| *d > 0)?;
    created_at.checked_add_signed(Duration::days(i64::try_from(days).ok()?))
}

/// The room metadata `recording_status` an `egress_updated` status publishes (§11.2).
pub fn published_status(egress: i32) -> Option<&'static str> {
    match egress {
        egress_status::ACTIVE => Some("started"),
        egress_status::ENDING => Some("saving"),
        egress_status::ABORTED => Some("aborted"),
        _ => None,
    }
}

/// The data-message type of a limit reached (§11.4).
pub fn limit_reached_type(mode: Mode) -> &'static str {
    match mode {
        Mode::ScreenRecording => "screenRecordingLimitReached",
        Mode::Transcript => "transcriptionLimitReached",
    }
}

/// The languages the summary service accepts (§12.5).
pub const SUMMARY_LANGUAGES: [&str; 4] = ["en", "fr", "de", "nl"];

/// The transcription language (R-7): `options.language` (its primary subtag) when the summary
/// service accepts it,
/// else the primary subtag of the owner's language when accepted, else `en`.
pub fn summary_language(option: Option<&str>, owner_language: &str) -> String {
    let primary = |l: &str| l.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    if let Some(l) = option.map(primary) {
        if SUMMARY_LANGUAGES.contains(&l.as_str()) {
            return l;
        }
    }
    let owner = primary(owner_language);
    if SUMMARY_LANGUAGES.contains(&owner.as_str()) {
        return owner;
    }
    "en".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    const ID: &str = "5e14295d-c63e-4a08-b5cf-3a42e84fd76e";

    #[test]
    fn nrc_opt_4_7_lax_booleans() {
        for t in [json!(true), json!(1), json!(1.0), json!("y"), json!("on"), json!("TRUE"), json!("yes"), json!("t")] {
            assert_eq!(
                parse_options(Some(&json!({"transcribe": t}))),
                Ok(json!({"transcribe": true}).as_object().unwrap().clone()),
                "{t}"
            );
        }
        for f in [json!(false), json!(0), json!("n"), json!("off"), json!("false"), json!("no"), json!("f")] {
            assert_eq!(parse_options(Some(&json!({"collect_metadata": f}))).unwrap()["collect_metadata"], false, "{f}");
        }
        for bad in [json!("foo"), json!(12), json!([]), json!({})] {
            assert_eq!(parse_options(Some(&json!({"transcribe": bad}))), Err(InvalidOptions), "{bad}");
        }
    }

    #[test]
    fn nrc_opt_5_6_8_10_shapes() {
        assert_eq!(parse_options(None), Ok(Map::new()));
        assert_eq!(parse_options(Some(&json!(null))), Ok(Map::new()));
        assert_eq!(parse_options(Some(&json!("null"))), Ok(Map::new()));
        assert_eq!(parse_options(Some(&json!({"language": null, "transcribe": null}))), Ok(Map::new()));
        assert_eq!(parse_options(Some(&json!("{\"transcribe\": true}"))).unwrap()["transcribe"], true);
        assert_eq!(parse_options(Some(&json!({"unknown_field": "value"}))), Err(InvalidOptions));
        assert_eq!(parse_options(Some(&json!([1]))), Err(InvalidOptions));
        assert_eq!(parse_options(Some(&json!(3))), Err(InvalidOptions));
        assert_eq!(parse_options(Some(&json!("not json"))), Err(InvalidOptions));
        assert_eq!(parse_options(Some(&json!({"language": 3}))), Err(InvalidOptions));
        for bad in [json!("SCREEN_RECORDING"), json!(123), json!("foo")] {
            assert_eq!(parse_options(Some(&json!({"original_mode": bad}))), Err(InvalidOptions));
        }
    }

    #[test]
    fn nrc_sh_5_6_bearer_rules() {
        let ok = |h: &str| check_bearer(Some("tok"), Some(h));
        assert_eq!(ok("Bearer tok"), None);
        assert_eq!(ok("bearer tok"), None);
        assert_eq!(ok("Bearer   tok"), None);
        for bad in ["InvalidFormat", "Basic some-token", "Bearer", "Bearer   "] {
            assert_eq!(ok(bad), Some(msg::REC_INVALID_AUTHORIZATION_FORMAT), "{bad}");
        }
        assert_eq!(ok("Bearer tok extra"), Some(msg::INVALID_TOKEN));
        assert_eq!(check_bearer(None, Some("Bearer tok")), Some(msg::STORAGE_TOKEN_NOT_CONFIGURED));
        assert_eq!(check_bearer(Some(""), Some("Bearer x")), Some(msg::INVALID_TOKEN));
        assert_eq!(check_bearer(Some("tok"), Some("")), Some(msg::STORAGE_AUTHORIZATION_REQUIRED));
        assert_eq!(check_bearer(Some("tok"), None), Some(msg::STORAGE_AUTHORIZATION_REQUIRED));
    }

    fn event(key: Value, ct: Value) -> Value {
        json!({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": key, "contentType": ct}}}]})
    }

    #[test]
    fn nrc_sh_7_8_minio_keys() {
        let id = Uuid::parse_str(ID).unwrap();
        let read = |k: &str| read_event(&event(json!(k), json!("audio/ogg")), false, "b", "recordings");
        assert_eq!(
            read(&format!("recordings%2F{ID}.ogg")),
            Ok(StorageEvent::Recording { id, key: format!("recordings/{ID}.ogg") })
        );
        assert_eq!(
            read(&format!("parent_folder%2Frecordings%2F{ID}.ogg")),
            Ok(StorageEvent::Recording { id, key: format!("parent_folder/recordings/{ID}.ogg") })
        );
        for k in [
            "invalid_filepath".to_string(),
            format!("recordings/{ID}.ogg"),
            format!("recordings%2F{ID}"),
            ID.to_string(),
            format!("{ID}.ogg"),
            format!("uploads%2F{ID}.ogg"),
            format!("folder%2Fuploads%2F{ID}.ogg"),
        ] {
            assert_eq!(read(&k), Ok(StorageEvent::Ignored), "{k}");
        }
        assert_eq!(read(""), Ok(StorageEvent::Ignored));
        let null_ct = event(json!(format!("recordings%2F{ID}.ogg")), Value::Null);
        assert_eq!(read_event(&null_ct, false, "b", "recordings"), Err(StorageEventError::Invalid));
        let no_object = json!({"Records": [{"s3": {"bucket": {"name": "b"}}}]});
        assert_eq!(read_event(&no_object, false, "b", "recordings"), Err(StorageEventError::Invalid));
        for shape in [json!([1]), json!({"Records": "x"}), json!({}), json!({"Records": []}), json!(null)] {
            assert_eq!(read_event(&shape, false, "b", "recordings"), Err(StorageEventError::Invalid), "{shape}");
        }
        let other = event(json!(format!("recordings%2F{ID}.ogg")), json!("audio/ogg"));
        assert_eq!(read_event(&other, false, "other", "recordings"), Err(StorageEventError::Bucket));
        let text = event(json!(format!("recordings%2F{ID}.ogg")), json!("text/plain"));
        assert_eq!(read_event(&text, false, "b", "recordings"), Ok(StorageEvent::Ignored));
    }

    #[test]
    fn nrc_sh_9_10_s3_parser() {
        let id = Uuid::parse_str(ID).unwrap();
        let read = |k: Value| read_event(&event(k, Value::Null), true, "b", "recordings");
        let want = Ok(StorageEvent::Recording { id, key: format!("recordings/{ID}.mp4") });
        assert_eq!(read(json!(format!("recordings/{ID}.mp4"))), want);
        assert_eq!(read(json!(format!("recordings%2F{ID}.mp4"))), want);
        assert_eq!(read(json!(format!("recordings/{ID}.zzunknown999"))), Ok(StorageEvent::Ignored), "R-13");
        assert_eq!(read(json!(format!("recordings/{ID}"))), Ok(StorageEvent::Ignored));
        assert_eq!(read(json!(format!("recordings/{ID}.json"))), Ok(StorageEvent::Ignored));
        assert_eq!(read(Value::Null), Err(StorageEventError::Invalid));
        assert_eq!(read(json!("")), Err(StorageEventError::Invalid));
    }

    #[test]
    fn nrc_ser_2_4_expiry() {
        let t = Utc.with_ymd_and_hms(2023, 1, 15, 12, 0, 0).unwrap();
        assert_eq!(expired_at(t, Some(1)), Some(Utc.with_ymd_and_hms(2023, 1, 16, 12, 0, 0).unwrap()));
        assert_eq!(expired_at(t, Some(0)), None);
        assert_eq!(expired_at(t, None), None);
    }

    #[test]
    fn r_7_summary_language() {
        assert_eq!(summary_language(Some("fr"), "en-us"), "fr");
        assert_eq!(summary_language(Some("en-us"), "fr-fr"), "en");
        assert_eq!(summary_language(Some("francais"), "nl-nl"), "nl");
        assert_eq!(summary_language(None, "de-de"), "de");
        assert_eq!(summary_language(None, "es"), "en");
    }
}
