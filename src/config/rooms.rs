//! Settings of the rooms and in-call features at upstream HEAD (now-rooms §20): LiveKit token
//! sources, display names, telephony PINs, feature flags, and the frontend's `/config/` keys
//! (§14). The `/config/` body is computed here, from the settings alone.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{Config, Reader};

/// Rooms, in-call and frontend settings.
#[derive(Clone, Debug)]
pub struct RoomsConfig {
    /// `LIVEKIT_DEFAULT_SOURCES` (comma list, not validated). Default
    /// `camera,microphone,screen_share,screen_share_audio`.
    pub livekit_default_sources: Vec<String>,
    /// `LIVEKIT_FORCE_WSS_PROTOCOL`. Default false.
    pub livekit_force_wss_protocol: bool,
    /// `LIVEKIT_ENABLE_FIREFOX_PROXY_WORKAROUND`. Default false.
    pub livekit_enable_firefox_proxy_workaround: bool,
    /// `AUTHENTICATED_PARTICIPANTS_CAN_EDIT_DISPLAY_NAME`. Default true.
    pub authenticated_participants_can_edit_display_name: bool,
    /// `ROOM_SUBTITLE_ENABLED`. Default false.
    pub room_subtitle_enabled: bool,
    /// `ROOM_SUBTITLE_AGENT_NAME`. Default `multi-user-transcriber`.
    pub room_subtitle_agent_name: String,
    /// `ROOM_TELEPHONY_ENABLED`. Default false.
    pub room_telephony_enabled: bool,
    /// `ROOM_TELEPHONY_PIN_LENGTH` (4 to 32, checked at start, B-TEL-2). Default 10.
    pub room_telephony_pin_length: u32,
    /// `ROOM_TELEPHONY_PIN_MAX_RETRIES`. Default 5.
    pub room_telephony_pin_max_retries: u32,
    /// `ROOM_TELEPHONY_PHONE_NUMBER`. Default none.
    pub room_telephony_phone_number: Option<String>,
    /// `ROOM_TELEPHONY_DEFAULT_COUNTRY`. Default `US`.
    pub room_telephony_default_country: String,
    /// `ROOMKIT_ENABLED`. Default false.
    pub roomkit_enabled: bool,
    /// `CONNECTION_TEST_ENABLED`. Default false.
    pub connection_test_enabled: bool,
    /// `CONNECTION_TEST_ROOM_PREFIX`: webhooks of rooms named with it are ignored (must not be
    /// empty, B-WH-3). Default `connection-test`.
    pub connection_test_room_prefix: String,
    /// `LIVEKIT_WEBHOOK_EVENTS_FILTER_REGEX`: webhooks whose room name does not contain a match
    /// are ignored (checked at start). Default none.
    pub livekit_webhook_events_filter: Option<regex::Regex>,
    /// `RECORDING_EXPIRATION_DAYS` (0 behaves as unset). Default none.
    pub recording_expiration_days: Option<u64>,
    /// `RECORDING_MAX_DURATION` (milliseconds). Default none.
    pub recording_max_duration: Option<u64>,
    /// `FILE_UPLOAD_ENABLED`. Default false.
    pub file_upload_enabled: bool,
    /// `FILE_UPLOAD_RESTRICTIONS` (dict by file type; the whole dict is replaced when set).
    pub file_upload_restrictions: Map<String, Value>,
    /// `FRONTEND_CUSTOM_CSS_URL`. Default none.
    pub frontend_custom_css_url: Option<String>,
    /// `FRONTEND_IS_SILENT_LOGIN_ENABLED`. Default true.
    pub frontend_is_silent_login_enabled: bool,
    /// `FRONTEND_IDLE_DISCONNECT_WARNING_DELAY`. Default none.
    pub frontend_idle_disconnect_warning_delay: Option<u64>,
    /// `FRONTEND_FEEDBACK` (dict). Default `{}`.
    pub frontend_feedback: Map<String, Value>,
    /// `FRONTEND_DOCUMENTATION_URL`. Default none.
    pub frontend_documentation_url: Option<String>,
    /// `FRONTEND_EXTERNAL_HOME_URL`. Default none.
    pub frontend_external_home_url: Option<String>,
    /// `FRONTEND_USE_FRENCH_GOV_FOOTER`. Default false.
    pub frontend_use_french_gov_footer: bool,
    /// `FRONTEND_USE_PROCONNECT_BUTTON`. Default false.
    pub frontend_use_proconnect_button: bool,
    /// `FRONTEND_MANIFEST_LINK`. Default none.
    pub frontend_manifest_link: Option<String>,
    /// `FRONTEND_TRANSCRIPTION_DESTINATION`. Default none.
    pub frontend_transcription_destination: Option<String>,
    /// `FRONTEND_MAX_PARTICIPANTS_FOR_SOUND`. Default 5.
    pub frontend_max_participants_for_sound: u64,
    /// `FRONTEND_AUTO_MUTE_ON_JOIN_THRESHOLD`. Default 50.
    pub frontend_auto_mute_on_join_threshold: u64,
}

impl RoomsConfig {
    /// True when new rooms get a PIN (§10.1).
    pub fn pins_enabled(&self) -> bool {
        self.room_telephony_enabled || self.roomkit_enabled
    }
}

fn default_file_upload_restrictions() -> Map<String, Value> {
    let v = json!({"background_image": {"max_size": 2_097_152, "max_count_by_user": 10,
        "allowed_extensions": [".jpeg", ".jpg", ".png"], "allowed_mimetypes": ["image/jpeg", "image/png"]}});
    v.as_object().cloned().unwrap_or_default()
}

fn opt_uint(r: &mut Reader<'_>, name: &str) -> Option<u64> {
    r.raw(name).filter(|v| !v.trim().is_empty())?;
    Some(r.uint(name, 0u64))
}

pub(super) fn read(r: &mut Reader<'_>) -> RoomsConfig {
    let livekit_default_sources = match r.raw("LIVEKIT_DEFAULT_SOURCES") {
        Some(v) => super::parse_list(&v),
        None => crate::domain::room_config::TRACK_SOURCES.iter().map(|s| s.to_string()).collect(),
    };
    let room_telephony_pin_length = r.uint("ROOM_TELEPHONY_PIN_LENGTH", 10u32);
    if !(4..=32).contains(&room_telephony_pin_length) {
        r.errors.push(format!(
            "ROOM_TELEPHONY_PIN_LENGTH: {room_telephony_pin_length} is not between 4 and 32 digits (PIN codes shorter than 4 digits are not secure)"
        ));
    }
    let file_upload_restrictions = r.dict("FILE_UPLOAD_RESTRICTIONS", default_file_upload_restrictions());
    if !file_upload_restrictions.get("background_image").is_some_and(Value::is_object) {
        r.errors.push("FILE_UPLOAD_RESTRICTIONS: a 'background_image' entry (a dict) is required".into());
    }
    let connection_test_room_prefix = r.string("CONNECTION_TEST_ROOM_PREFIX", "connection-test");
    if connection_test_room_prefix.is_empty() {
        r.errors.push("CONNECTION_TEST_ROOM_PREFIX: must not be empty (it would match every room)".into());
    }
    let livekit_webhook_events_filter = r.opt_string("LIVEKIT_WEBHOOK_EVENTS_FILTER_REGEX").and_then(|v| {
        regex::Regex::new(&v)
            .map_err(|e| r.errors.push(format!("LIVEKIT_WEBHOOK_EVENTS_FILTER_REGEX: '{v}' is not a valid regex: {e}")))
            .ok()
    });
    RoomsConfig {
        connection_test_room_prefix,
        livekit_webhook_events_filter,
        livekit_default_sources,
        livekit_force_wss_protocol: r.bool("LIVEKIT_FORCE_WSS_PROTOCOL", false),
        livekit_enable_firefox_proxy_workaround: r.bool("LIVEKIT_ENABLE_FIREFOX_PROXY_WORKAROUND", false),
        authenticated_participants_can_edit_display_name: r
            .bool("AUTHENTICATED_PARTICIPANTS_CAN_EDIT_DISPLAY_NAME", true),
        room_subtitle_enabled: r.bool("ROOM_SUBTITLE_ENABLED", false),
        room_subtitle_agent_name: r.string("ROOM_SUBTITLE_AGENT_NAME", "multi-user-transcriber"),
        room_telephony_enabled: r.bool("ROOM_TELEPHONY_ENABLED", false),
        room_telephony_pin_length,
        room_telephony_pin_max_retries: r.uint("ROOM_TELEPHONY_PIN_MAX_RETRIES", 5u32),
        room_telephony_phone_number: r.opt_string("ROOM_TELEPHONY_PHONE_NUMBER"),
        room_telephony_default_country: r.string("ROOM_TELEPHONY_DEFAULT_COUNTRY", "US"),
        roomkit_enabled: r.bool("ROOMKIT_ENABLED", false),
        connection_test_enabled: r.bool("CONNECTION_TEST_ENABLED", false),
        recording_expiration_days: opt_uint(r, "RECORDING_EXPIRATION_DAYS").filter(|d| *d > 0),
        recording_max_duration: opt_uint(r, "RECORDING_MAX_DURATION"),
        file_upload_enabled: r.bool("FILE_UPLOAD_ENABLED", false),
        file_upload_restrictions,
        frontend_custom_css_url: r.opt_string("FRONTEND_CUSTOM_CSS_URL"),
        frontend_is_silent_login_enabled: r.bool("FRONTEND_IS_SILENT_LOGIN_ENABLED", true),
        frontend_idle_disconnect_warning_delay: opt_uint(r, "FRONTEND_IDLE_DISCONNECT_WARNING_DELAY"),
        frontend_feedback: r.dict("FRONTEND_FEEDBACK", Map::new()),
        frontend_documentation_url: r.opt_string("FRONTEND_DOCUMENTATION_URL"),
        frontend_external_home_url: r.opt_string("FRONTEND_EXTERNAL_HOME_URL"),
        frontend_use_french_gov_footer: r.bool("FRONTEND_USE_FRENCH_GOV_FOOTER", false),
        frontend_use_proconnect_button: r.bool("FRONTEND_USE_PROCONNECT_BUTTON", false),
        frontend_manifest_link: r.opt_string("FRONTEND_MANIFEST_LINK"),
        frontend_transcription_destination: r.opt_string("FRONTEND_TRANSCRIPTION_DESTINATION"),
        frontend_max_participants_for_sound: r.uint("FRONTEND_MAX_PARTICIPANTS_FOR_SOUND", 5u64),
        frontend_auto_mute_on_join_threshold: r.uint("FRONTEND_AUTO_MUTE_ON_JOIN_THRESHOLD", 50u64),
    }
}

pub(super) fn describe(c: &RoomsConfig, m: &mut BTreeMap<&'static str, String>) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let opt_n = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
    m.insert("LIVEKIT_DEFAULT_SOURCES", c.livekit_default_sources.join(","));
    m.insert("LIVEKIT_FORCE_WSS_PROTOCOL", c.livekit_force_wss_protocol.to_string());
    m.insert("LIVEKIT_ENABLE_FIREFOX_PROXY_WORKAROUND", c.livekit_enable_firefox_proxy_workaround.to_string());
    m.insert(
        "AUTHENTICATED_PARTICIPANTS_CAN_EDIT_DISPLAY_NAME",
        c.authenticated_participants_can_edit_display_name.to_string(),
    );
    m.insert("ROOM_SUBTITLE_ENABLED", c.room_subtitle_enabled.to_string());
    m.insert("ROOM_SUBTITLE_AGENT_NAME", c.room_subtitle_agent_name.clone());
    m.insert("ROOM_TELEPHONY_ENABLED", c.room_telephony_enabled.to_string());
    m.insert("ROOM_TELEPHONY_PIN_LENGTH", c.room_telephony_pin_length.to_string());
    m.insert("ROOM_TELEPHONY_PIN_MAX_RETRIES", c.room_telephony_pin_max_retries.to_string());
    m.insert("ROOM_TELEPHONY_PHONE_NUMBER", opt(&c.room_telephony_phone_number));
    m.insert("ROOM_TELEPHONY_DEFAULT_COUNTRY", c.room_telephony_default_country.clone());
    m.insert("ROOMKIT_ENABLED", c.roomkit_enabled.to_string());
    m.insert("CONNECTION_TEST_ENABLED", c.connection_test_enabled.to_string());
    m.insert("CONNECTION_TEST_ROOM_PREFIX", c.connection_test_room_prefix.clone());
    m.insert(
        "LIVEKIT_WEBHOOK_EVENTS_FILTER_REGEX",
        c.livekit_webhook_events_filter.as_ref().map(|r| r.as_str().to_string()).unwrap_or_default(),
    );
    m.insert("RECORDING_EXPIRATION_DAYS", opt_n(c.recording_expiration_days));
    m.insert("RECORDING_MAX_DURATION", opt_n(c.recording_max_duration));
    m.insert("FILE_UPLOAD_ENABLED", c.file_upload_enabled.to_string());
    m.insert("FILE_UPLOAD_RESTRICTIONS", Value::Object(c.file_upload_restrictions.clone()).to_string());
    m.insert("FRONTEND_CUSTOM_CSS_URL", opt(&c.frontend_custom_css_url));
    m.insert("FRONTEND_IS_SILENT_LOGIN_ENABLED", c.frontend_is_silent_login_enabled.to_string());
    m.insert("FRONTEND_IDLE_DISCONNECT_WARNING_DELAY", opt_n(c.frontend_idle_disconnect_warning_delay));
    m.insert("FRONTEND_FEEDBACK", Value::Object(c.frontend_feedback.clone()).to_string());
    m.insert("FRONTEND_DOCUMENTATION_URL", opt(&c.frontend_documentation_url));
    m.insert("FRONTEND_EXTERNAL_HOME_URL", opt(&c.frontend_external_home_url));
    m.insert("FRONTEND_USE_FRENCH_GOV_FOOTER", c.frontend_use_french_gov_footer.to_string());
    m.insert("FRONTEND_USE_PROCONNECT_BUTTON", c.frontend_use_proconnect_button.to_string());
    m.insert("FRONTEND_MANIFEST_LINK", opt(&c.frontend_manifest_link));
    m.insert("FRONTEND_TRANSCRIPTION_DESTINATION", opt(&c.frontend_transcription_destination));
    m.insert("FRONTEND_MAX_PARTICIPANTS_FOR_SOUND", c.frontend_max_participants_for_sound.to_string());
    m.insert("FRONTEND_AUTO_MUTE_ON_JOIN_THRESHOLD", c.frontend_auto_mute_on_join_threshold.to_string());
}

/// The `telephony` block (§10.4). The number is shown as configured (no libphonenumber here):
/// operators write it in international format.
fn telephony(c: &RoomsConfig) -> Value {
    let disabled = json!({ "enabled": false });
    if !c.room_telephony_enabled {
        return disabled;
    }
    let country = c.room_telephony_default_country.trim().to_ascii_uppercase();
    let Some(number) = c.room_telephony_phone_number.as_deref().filter(|n| !n.trim().is_empty()) else {
        tracing::warn!("ROOM_TELEPHONY_ENABLED is set without ROOM_TELEPHONY_PHONE_NUMBER: telephony is off");
        return disabled;
    };
    match format_phone_number(number, &country) {
        Some((region, international)) => json!({
            "enabled": true,
            "default_country": region,
            "international_phone_number": international,
        }),
        None => {
            tracing::warn!(number, country, "ROOM_TELEPHONY_PHONE_NUMBER cannot be parsed: telephony is off");
            disabled
        }
    }
}

/// The region and the international format of a phone number (now-rooms §10.4), parsed with
/// libphonenumber's rules and metadata: `country` is the region of a national number, the region
/// returned is the number's own. Parsable is enough; validity is not checked.
pub fn format_phone_number(number: &str, country: &str) -> Option<(String, String)> {
    use phonenumber::country::Id;
    // An international number is parsed without a default region (the crate would otherwise
    // strip the default region's calling code from it).
    let default: Option<Id> = if number.trim_start().starts_with('+') { None } else { country.parse().ok() };
    let parsed = phonenumber::parse(default, number).ok()?;
    let region = parsed.country().id().map(|id| id.as_ref().to_string()).unwrap_or_else(|| country.to_string());
    let international = parsed.format().mode(phonenumber::Mode::International).to_string();
    Some((region, international))
}

/// The body of `GET /api/v1.0/config/` (now-rooms §14), keys in upstream's order.
pub fn frontend_config(c: &Config) -> Value {
    let r = &c.rooms;
    let modes: Vec<Value> = c.recording_worker_classes.keys().map(|k| Value::String(k.clone())).collect();
    let images = r.file_upload_restrictions.get("background_image").and_then(Value::as_object);
    let image = |k: &str| images.and_then(|m| m.get(k)).cloned().unwrap_or(Value::Null);
    json!({
        "LANGUAGE_CODE": c.language_code,
        "recording": {
            "is_enabled": c.recording_enable,
            "available_modes": modes,
            "expiration_days": r.recording_expiration_days,
            "max_duration": r.recording_max_duration,
        },
        "background_image": {
            "upload_is_enabled": r.file_upload_enabled,
            "max_count_by_user": image("max_count_by_user"),
            "max_size": image("max_size"),
            "allowed_extensions": image("allowed_extensions"),
            "allowed_mimetypes": image("allowed_mimetypes"),
        },
        "telephony": telephony(r),
        "resource": {"default_access_level": c.resource_default_access_level},
        "subtitle": {"enabled": r.room_subtitle_enabled},
        "diagnostics": {"connection_test_enabled": r.connection_test_enabled},
        "livekit": {
            "url": c.livekit_api_url,
            "force_wss_protocol": r.livekit_force_wss_protocol,
            "enable_firefox_proxy_workaround": r.livekit_enable_firefox_proxy_workaround,
            "default_sources": r.livekit_default_sources,
        },
        "authenticated_users_can_edit_display_name": r.authenticated_participants_can_edit_display_name,
        "custom_css_url": r.frontend_custom_css_url,
        "analytics": Value::Object(c.frontend_analytics.clone()),
        "support": Value::Object(c.frontend_support.clone()),
        "silence_livekit_debug_logs": c.frontend_silence_livekit_debug,
        "is_silent_login_enabled": r.frontend_is_silent_login_enabled,
        "idle_disconnect_warning_delay": r.frontend_idle_disconnect_warning_delay,
        "feedback": Value::Object(r.frontend_feedback.clone()),
        "documentation_url": r.frontend_documentation_url,
        "external_home_url": r.frontend_external_home_url,
        "use_french_gov_footer": r.frontend_use_french_gov_footer,
        "use_proconnect_button": r.frontend_use_proconnect_button,
        "manifest_link": r.frontend_manifest_link,
        "transcription_destination": r.frontend_transcription_destination,
        "max_participants_for_sound": r.frontend_max_participants_for_sound,
        "auto_mute_on_join_threshold": r.frontend_auto_mute_on_join_threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::super::from_pairs as cfg;

    #[test]
    fn telephony_block() {
        let c =
            cfg(&[("ROOM_TELEPHONY_ENABLED", "true"), ("ROOM_TELEPHONY_PHONE_NUMBER", "+33 1 23 45 67 89")]).unwrap();
        let t = &super::frontend_config(&c)["telephony"];
        assert_eq!(t["enabled"], true);
        assert_eq!(t["default_country"], "FR", "the number's own region");
        let c = cfg(&[("ROOM_TELEPHONY_ENABLED", "true")]).unwrap();
        assert_eq!(super::frontend_config(&c)["telephony"], serde_json::json!({"enabled": false}));
    }

    #[test]
    fn nr_tel_5_numbers_are_formatted_as_libphonenumber_does() {
        let cases = [
            ("0123456789", "FR", "FR", "+33 1 23 45 67 89"),
            ("+33123456789", "US", "FR", "+33 1 23 45 67 89"),
            ("2025550123", "US", "US", "+1 202-555-0123"),
            ("03012345678", "DE", "DE", "+49 30 12345678"),
        ];
        for (number, country, region, international) in cases {
            assert_eq!(
                super::format_phone_number(number, country),
                Some((region.to_string(), international.to_string())),
                "{number} in {country}"
            );
        }
        assert_eq!(super::format_phone_number("not-a-number", "FR"), None);
    }

    #[test]
    fn pin_length_below_four_is_refused() {
        let e = cfg(&[("ROOM_TELEPHONY_PIN_LENGTH", "3")]).unwrap_err();
        assert!(e.to_string().contains("ROOM_TELEPHONY_PIN_LENGTH"));
    }
}
