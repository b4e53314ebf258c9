//! RS and NRC-SH statements: the storage hook at upstream HEAD (lenient bearer header, 404 flag,
//! MinIO and S3 event parsers, "Notification ignored."), savability and idempotency, with B6 and
//! S2 applied (only the recording's own key saves it).

use meet::domain::recording::{Mode, Status};
use serde_json::json;

use super::*;

const REALM: &str = "Bearer realm='Storage event API'";

async fn saved_rig() -> (Rig, Recording) {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let rec = started(&rig, &owner, room.id, "screen_recording").await;
    (rig, rec)
}

#[tokio::test]
async fn rs_1_rs_2_nrc_sh_5_authentication_failures_are_401_with_the_realm() {
    let (rig, rec) = saved_rig().await;
    let body = event(&key(&rec), "video/mp4").to_string();
    let cases = [
        (None, "Authorization header is required"),
        (Some(""), "Authorization header is required"),
        (Some("Bearer wrongAuthToken"), "Invalid token"),
        (Some("Bearer tok extra"), "Invalid token"),
        (Some("Basic some-token"), "Invalid authorization header format."),
        (Some("InvalidFormat"), "Invalid authorization header format."),
        (Some("Bearer"), "Invalid authorization header format."),
    ];
    for (auth, message) in cases {
        let r = hook_raw(&rig.app, &body, auth).await;
        assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": message})), "{auth:?}");
        assert_eq!(r.header("www-authenticate"), Some(REALM));
    }
    assert_eq!(status(&rig.app, rec.id).await, "active");
}

#[tokio::test]
async fn nrc_sh_6_scheme_case_and_extra_spaces_are_accepted() {
    let (rig, rec) = saved_rig().await;
    let body = event(&key(&rec), "video/mp4").to_string();
    let r = hook_raw(&rig.app, &body, Some("bearer    tok")).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"message": "Event processed."})));
    assert_eq!(status(&rig.app, rec.id).await, "saved");
}

#[tokio::test]
async fn nrc_sh_1_good_token_with_the_hook_disabled_is_404_bad_token_still_401() {
    let rig = rig(&[("RECORDING_STORAGE_EVENT_ENABLE", "false")]).await;
    let body = event("recordings/x.mp4", "video/mp4");
    let r = hook(&rig.app, &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})));
    assert_eq!(hook_raw(&rig.app, &body.to_string(), Some("Bearer nope")).await.status, 401);
}

#[tokio::test]
async fn rs_13_nrc_sh_5_token_not_configured_and_auth_disabled() {
    let rig1 = rig(&[("RECORDING_STORAGE_EVENT_TOKEN", "")]).await;
    let r = hook(&rig1.app, &json!({})).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json(), json!({"detail": "Authentication is enabled but token is not configured."}));
    assert_eq!(r.header("www-authenticate"), Some(REALM));
    let rig2 = rig(&[("RECORDING_ENABLE_STORAGE_EVENT_AUTH", "false")]).await;
    let r = hook_raw(&rig2.app, &json!({}).to_string(), None).await;
    assert_eq!(r.status, 403, "accepted without a header, then refused as empty: {}", r.text);
}

#[tokio::test]
async fn nrc_sh_2_nrc_sh_8_malformed_bodies_are_403_invalid_request_data() {
    let (rig, rec) = saved_rig().await;
    let cases = [
        "{}",
        r#"{"Records": []}"#,
        r#"{"Records": [{"s3": {"bucket": {"name": "meet-media-storage"}}}]}"#,
        r#"[1, 2]"#,
        r#"{"Records": "x"}"#,
        r#"{"Records": [{"s3": {"bucket": {"name": "meet-media-storage"}, "object": {"key": "k", "contentType": null}}}]}"#,
    ];
    for body in cases {
        let r = hook_raw(&rig.app, body, Some("Bearer tok")).await;
        assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": "Invalid request data."})), "{body}");
    }
    let r = hook_raw(&rig.app, "{not json", Some("Bearer tok")).await;
    assert_eq!(r.status, 400);
    assert_eq!(status(&rig.app, rec.id).await, "active");
}

#[tokio::test]
async fn rs_5_nrc_sh_2_wrong_bucket_is_403() {
    let (rig, rec) = saved_rig().await;
    let mut body = event(&key(&rec), "video/mp4");
    body["Records"][0]["s3"]["bucket"]["name"] = json!("other-bucket");
    let r = hook(&rig.app, &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": "Invalid bucket specified."})));
    assert_eq!(status(&rig.app, rec.id).await, "active");
}

#[tokio::test]
async fn rs_6_nrc_sh_3_other_content_types_are_ignored_with_200() {
    let (rig, rec) = saved_rig().await;
    let r = hook(&rig.app, &event(&key(&rec), "application/json")).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"message": "Notification ignored."})));
    assert_eq!(status(&rig.app, rec.id).await, "active");
}

#[tokio::test]
async fn rs_7_unknown_recording_is_404() {
    let rig = rig(&[]).await;
    let r = hook(&rig.app, &event(&format!("recordings/{}.mp4", uuid::Uuid::new_v4()), "video/mp4")).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No recording found for this event."})));
}

#[tokio::test]
async fn rs_8_b6_unsavable_statuses_are_403_saved_ones_200() {
    let rig = rig(&[]).await;
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    for s in [Status::FailedToStart, Status::Aborted, Status::Initiated] {
        let rec = make(&rig.app, room.id, Mode::ScreenRecording, s, &[(&user, "owner")]).await;
        let r = file_arrives(&rig.app, &rec).await;
        let detail = format!(
            "Recording with ID {} cannot be saved because it is either, in an error state or has already been saved.",
            rec.id
        );
        assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": detail})), "{s}");
        assert_eq!(status(&rig.app, rec.id).await, s.as_str());
        meet::store::recordings::force(&rig.app.state.db, rec.id, Status::Aborted, chrono::Utc::now()).await.unwrap();
    }
    for s in [Status::Saved, Status::NotificationSucceeded] {
        let rec = make(&rig.app, room.id, Mode::ScreenRecording, s, &[(&user, "owner")]).await;
        let r = file_arrives(&rig.app, &rec).await;
        assert_eq!((r.status.as_u16(), r.json()), (200, json!({"message": "Event processed."})), "{s}");
    }
    assert!(rig.smtp.mails().is_empty());
}

#[tokio::test]
async fn rs_9_b3_active_stopped_and_failed_to_stop_are_saved() {
    let rig = rig(&[("DJANGO_EMAIL_HOST", "")]).await;
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    for s in [Status::Stopped, Status::FailedToStop] {
        let rec = make(&rig.app, room.id, Mode::ScreenRecording, s, &[(&user, "owner")]).await;
        let r = file_arrives(&rig.app, &rec).await;
        assert_eq!((r.status.as_u16(), r.json()), (200, json!({"message": "Event processed."})));
        assert_eq!(status(&rig.app, rec.id).await, "saved");
    }
    let no_owner = make(&rig.app, room.id, Mode::ScreenRecording, Status::Active, &[]).await;
    assert_eq!(file_arrives(&rig.app, &no_owner).await.status, 200);
    assert_eq!(status(&rig.app, no_owner.id).await, "saved");
}

#[tokio::test]
async fn rs_12_s2_nrc_sh_3_nrc_sh_7_only_the_exact_key_saves_a_recording() {
    let (rig, rec) = saved_rig().await;
    let wrong = [
        format!("other/{}.mp4", rec.id),
        format!("recordings/{}.ogg", rec.id),
        format!("recordings/sub/{}.mp4", rec.id),
        format!("parent_folder/recordings/{}.mp4", rec.id),
        "recordings/------------------------------------.mp4".to_string(),
        "invalid_filepath".to_string(),
    ];
    for k in wrong {
        let ct = if k.ends_with(".ogg") { "audio/ogg" } else { "video/mp4" };
        let r = hook(&rig.app, &event(&k, ct)).await;
        assert_eq!((r.status.as_u16(), r.json()), (200, json!({"message": "Notification ignored."})), "{k}");
    }
    assert_eq!(status(&rig.app, rec.id).await, "active");
    assert_eq!(file_arrives(&rig.app, &rec).await.json(), json!({"message": "Event processed."}));
    assert_eq!(file_arrives(&rig.app, &rec).await.json(), json!({"message": "Event processed."}), "replay");
    let r = hook(
        &rig.app,
        &event(&key(&rec).replace(&rec.id.to_string(), &rec.id.to_string().to_uppercase()), "video/mp4"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(rig.smtp.wait_for(1).await.len(), 1);
}

#[tokio::test]
async fn nrc_sh_9_nrc_sh_10_the_s3_parser_guesses_the_type_and_ignores_unknown_extensions() {
    let rig = rig(&[("RECORDING_EVENT_PARSER_CLASS", "core.recording.event.parsers.S3Parser")]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let rec = started(&rig, &owner, room.id, "screen_recording").await;
    let s3_event = |key: &str| json!({"Records": [{"s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}}]});
    let r = hook(&rig.app, &s3_event(&format!("recordings/{}.zzunknown999", rec.id))).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"message": "Notification ignored."})), "R-13");
    let r = hook(&rig.app, &json!({"Records": [{"s3": {"bucket": {"name": BUCKET}, "object": {"key": null}}}]})).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": "Invalid request data."})));
    let r = hook(&rig.app, &s3_event(&format!("recordings/{}.mp4", rec.id))).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"message": "Event processed."})), "raw key, no type");
    assert_eq!(status(&rig.app, rec.id).await, "saved");
}
