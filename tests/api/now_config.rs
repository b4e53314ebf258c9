//! `GET /api/v1.0/config/` at upstream HEAD (now-rooms §14).

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn nr_cf_1_defaults_are_exactly_heads_object() {
    let app = TestApp::spawn_with(&[("LIVEKIT_API_URL", "wss://lk.example")]).await;
    let r = app.client().get("/api/v1.0/config/").await;
    assert_eq!(r.status, 200);
    let want = json!({"LANGUAGE_CODE": "en-us",
     "recording": {"is_enabled": false, "available_modes": ["screen_recording", "transcript"], "expiration_days": null, "max_duration": null},
     "background_image": {"upload_is_enabled": false, "max_count_by_user": 10, "max_size": 2097152, "allowed_extensions": [".jpeg", ".jpg", ".png"], "allowed_mimetypes": ["image/jpeg", "image/png"]},
     "telephony": {"enabled": false},
     "resource": {"default_access_level": "public"},
     "subtitle": {"enabled": false},
     "diagnostics": {"connection_test_enabled": false},
     "livekit": {"url": "wss://lk.example", "force_wss_protocol": false, "enable_firefox_proxy_workaround": false, "default_sources": ["camera", "microphone", "screen_share", "screen_share_audio"]},
     "authenticated_users_can_edit_display_name": true,
     "custom_css_url": null, "analytics": {}, "support": {}, "silence_livekit_debug_logs": false,
     "is_silent_login_enabled": true, "idle_disconnect_warning_delay": null, "feedback": {},
     "documentation_url": null, "external_home_url": null, "use_french_gov_footer": false,
     "use_proconnect_button": false, "manifest_link": null, "transcription_destination": null,
     "max_participants_for_sound": 5, "auto_mute_on_join_threshold": 50});
    // Key order included: compare the serialized texts.
    assert_eq!(r.text, want.to_string());
}

#[tokio::test]
async fn nr_cf_2_settings_reach_their_keys() {
    let app = TestApp::spawn_with(&[
        ("ROOM_SUBTITLE_ENABLED", "true"),
        ("CONNECTION_TEST_ENABLED", "1"),
        ("LIVEKIT_DEFAULT_SOURCES", "camera, microphone"),
        ("LIVEKIT_FORCE_WSS_PROTOCOL", "yes"),
        ("AUTHENTICATED_PARTICIPANTS_CAN_EDIT_DISPLAY_NAME", "false"),
        ("FRONTEND_IS_SILENT_LOGIN_ENABLED", "false"),
        ("FRONTEND_IDLE_DISCONNECT_WARNING_DELAY", "120"),
        ("FRONTEND_FEEDBACK", "{'url': 'https://feedback.example'}"),
        ("FRONTEND_MAX_PARTICIPANTS_FOR_SOUND", "8"),
        ("FRONTEND_AUTO_MUTE_ON_JOIN_THRESHOLD", "30"),
        ("RECORDING_EXPIRATION_DAYS", "7"),
        ("RESOURCE_DEFAULT_ACCESS_LEVEL", "trusted"),
    ])
    .await;
    let c = app.client().get("/api/v1.0/config/").await.json();
    assert_eq!(c["subtitle"], json!({"enabled": true}), "NR-CF-2");
    assert_eq!(c["diagnostics"], json!({"connection_test_enabled": true}));
    assert_eq!(c["livekit"]["default_sources"], json!(["camera", "microphone"]));
    assert_eq!(c["livekit"]["force_wss_protocol"], true);
    assert_eq!(c["authenticated_users_can_edit_display_name"], false);
    assert_eq!(c["is_silent_login_enabled"], false);
    assert_eq!(c["idle_disconnect_warning_delay"], 120);
    assert_eq!(c["feedback"], json!({"url": "https://feedback.example"}));
    assert_eq!(c["max_participants_for_sound"], 8);
    assert_eq!(c["auto_mute_on_join_threshold"], 30);
    assert_eq!(c["recording"]["expiration_days"], 7);
    assert_eq!(c["resource"], json!({"default_access_level": "trusted"}));
}

#[tokio::test]
async fn nr_tel_6_telephony_without_number_is_disabled() {
    let app = TestApp::spawn_with(&[("ROOM_TELEPHONY_ENABLED", "true")]).await;
    let c = app.client().get("/api/v1.0/config/").await.json();
    assert_eq!(c["telephony"], json!({"enabled": false}));
    let app = TestApp::spawn_with(&[
        ("ROOM_TELEPHONY_ENABLED", "true"),
        ("ROOM_TELEPHONY_PHONE_NUMBER", "+33 1 23 45 67 89"),
        ("ROOM_TELEPHONY_DEFAULT_COUNTRY", "FR"),
    ])
    .await;
    let c = app.client().get("/api/v1.0/config/").await.json();
    assert_eq!(
        c["telephony"],
        json!({"enabled": true, "default_country": "FR", "international_phone_number": "+33 1 23 45 67 89"})
    );
}

#[tokio::test]
async fn nr_tel_5_the_number_is_formatted_with_its_own_region() {
    for (number, country, region, international) in
        [("0123456789", "FR", "FR", "+33 1 23 45 67 89"), ("+33123456789", "US", "FR", "+33 1 23 45 67 89")]
    {
        let app = TestApp::spawn_with(&[
            ("ROOM_TELEPHONY_ENABLED", "true"),
            ("ROOM_TELEPHONY_PHONE_NUMBER", number),
            ("ROOM_TELEPHONY_DEFAULT_COUNTRY", country),
        ])
        .await;
        let c = app.client().get("/api/v1.0/config/").await.json();
        assert_eq!(
            c["telephony"],
            json!({"enabled": true, "default_country": region, "international_phone_number": international}),
            "{number} in {country}"
        );
    }
    let app = TestApp::spawn_with(&[
        ("ROOM_TELEPHONY_ENABLED", "true"),
        ("ROOM_TELEPHONY_PHONE_NUMBER", "not-a-number"),
        ("ROOM_TELEPHONY_DEFAULT_COUNTRY", "FR"),
    ])
    .await;
    assert_eq!(app.client().get("/api/v1.0/config/").await.json()["telephony"], json!({"enabled": false}));
}
