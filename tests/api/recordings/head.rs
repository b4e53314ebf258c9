//! NRC statements (now-recordings §4–§16): recordings as upstream HEAD runs them — start
//! options, room metadata and the metadata agent, the 10-key representation with expiry,
//! media-auth statuses, egress webhooks with limit-reached notices, e-mails and summary v2, the
//! external-process hook — and the issue's fault scenarios (a webhook before the start's answer,
//! duplicate `egress_ended`, a summary service answering 500 then 200).

use meet::domain::recording::{Mode, Status};
use meet::store::recordings as rstore;
use serde_json::{json, Value};

use super::*;
use crate::support::egress::{ACTIVE, COMPLETE, ENDING, FAILED, LIMIT_REACHED};
use crate::support::livekit::Failure;
use crate::support::summary::HOOK_TOKEN;

const HOOK_PATH: &str = "/api/v1.0/recordings/external-process-hook/";

async fn start_body(client: &TestClient, room: Uuid, body: Value) -> Resp {
    client.post(&start_path(&room.to_string()), &body).await
}

/// Frees the room after a start so that the next one may run.
async fn free(rig: &Rig, room: Uuid) {
    for r in recordings_of(&rig.app, room).await {
        if matches!(r.status.as_str(), "active" | "initiated") {
            rstore::force(&rig.app.state.db, r.id, Status::Aborted, chrono::Utc::now()).await.unwrap();
        }
    }
}

fn metadata(rig: &Rig, room: Uuid) -> Value {
    serde_json::from_str(&rig.lk.room_metadata(&room.to_string()).unwrap_or_default()).unwrap_or(Value::Null)
}

/// The egress as LiveKit reports it in a webhook.
fn info(rig: &Rig, rec: &Recording) -> proto::EgressInfo {
    rig.lk.egress().get(rec.worker_id.as_deref().unwrap()).expect("egress")
}

async fn post_hook(app: &TestApp, token: Option<&str>, body: &Value) -> Resp {
    let mut rb = app.client().request(reqwest::Method::POST, HOOK_PATH).json(body);
    if let Some(t) = token {
        rb = rb.header("Authorization", format!("Bearer {t}"));
    }
    TestClient::send(rb).await
}

#[tokio::test]
async fn nrc_opt_1_2_3_4_5_8_10_options_are_stored_as_upstream_reads_them() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let cases = [
        (json!({"language": "fr"}), json!({"language": "fr"})),
        (json!({"language": "invalid-value"}), json!({"language": "invalid-value"})),
        (json!({"language": null}), json!({})),
        (json!({"transcribe": "yes"}), json!({"transcribe": true})),
        (json!({"transcribe": 0}), json!({"transcribe": false})),
        (json!({"transcribe": "OFF"}), json!({"transcribe": false})),
        (json!({"transcribe": null}), json!({})),
        (json!(null), json!({})),
        (json!({}), json!({})),
        (json!({"original_mode": "transcript"}), json!({"original_mode": "transcript"})),
        (json!("{\"transcribe\": true}"), json!({"transcribe": true})),
        (json!("null"), json!({})),
    ];
    for (options, stored) in cases {
        let r = start_body(&owner, room.id, json!({"mode": "screen_recording", "options": options})).await;
        assert_eq!(r.status, 201, "{options}: {}", r.text);
        let rec = recordings_of(&rig.app, room.id).await.remove(0);
        assert_eq!(rec.options.0, stored, "{options}");
        let api = owner.get(&format!("/api/v1.0/recordings/{}/", rec.id)).await.json();
        assert_eq!(api["options"], stored, "{options}");
        free(&rig, room.id).await;
    }
    let r = start_body(&owner, room.id, json!({"mode": "transcript"})).await;
    assert_eq!(r.status, 201);
    assert_eq!(recordings_of(&rig.app, room.id).await.remove(0).options.0, json!({}), "NRC-OPT-5: omitted");
}

#[tokio::test]
async fn nrc_opt_6_7_8_9_invalid_options_are_400_and_create_nothing() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let bad = [
        json!({"mode": "screen_recording", "options": {"unknown_field": "value"}}),
        json!({"mode": "screen_recording", "options": {"transcribe": "foo"}}),
        json!({"mode": "screen_recording", "options": {"transcribe": 12}}),
        json!({"mode": "screen_recording", "options": {"original_mode": "SCREEN_RECORDING"}}),
        json!({"mode": "screen_recording", "options": {"original_mode": 123}}),
        json!({"mode": "screen_recording", "options": [1]}),
        json!({"mode": "screen_recording", "options": "not json"}),
        json!({}),
    ];
    for body in bad {
        let r = start_body(&owner, room.id, body.clone()).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, json!({"detail": "Invalid request."})), "{body}");
    }
    assert!(recordings_of(&rig.app, room.id).await.is_empty());
    assert!(rig.lk.calls_of("StartRoomCompositeEgress").is_empty());
}

#[tokio::test]
async fn nrc_start_4_9_10_a_start_publishes_the_mode_and_starting_keeping_other_keys() {
    let rig = rig(&[]).await;
    let (room, user, owner) = room_and_user(&rig.app, Some("owner")).await;
    rig.lk.add_room_with_metadata(&room.id.to_string(), r#"{"access_level": "public"}"#);
    let body = json!({"mode": "screen_recording", "options": {"transcribe": true, "original_mode": "transcript"}});
    let r = start_body(&owner, room.id, body).await;
    let slug = room.slug.clone().unwrap();
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (201, json!({"message": format!("Recording successfully started for room {slug}")}))
    );
    let rec = recordings_of(&rig.app, room.id).await.remove(0);
    assert_eq!((rec.status.as_str(), rec.mode.as_str()), ("active", "screen_recording"));
    assert_eq!(rstore::roles_of(&rig.app.state.db, rec.id, user.id).await.unwrap(), ["owner"]);
    assert_eq!(
        metadata(&rig, room.id),
        json!({"access_level": "public", "recording_mode": "transcript", "recording_status": "starting"})
    );
    // A failed start leaves the metadata alone.
    free(&rig, room.id).await;
    rig.lk.add_room_with_metadata(&room.id.to_string(), r#"{"access_level": "public"}"#);
    rig.lk.egress().fail("StartRoomCompositeEgress", Some(Failure::Twirp(500, "internal")));
    assert_eq!(start(&owner, room.id, "transcript").await.status, 502);
    assert_eq!(metadata(&rig, room.id), json!({"access_level": "public"}));
}

#[tokio::test]
async fn nrc_start_8_the_metadata_agent_is_dispatched_only_when_enabled_and_asked() {
    let rig = rig(&[("METADATA_COLLECTOR_ENABLED", "true"), ("METADATA_COLLECTOR_AGENT_NAME", "collector")]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    for options in [json!({"transcribe": true}), json!({"collect_metadata": false}), json!({})] {
        assert_eq!(start_body(&owner, room.id, json!({"mode": "transcript", "options": options})).await.status, 201);
        free(&rig, room.id).await;
    }
    assert!(rig.lk.calls_of("CreateDispatch").is_empty());
    let r = start_body(&owner, room.id, json!({"mode": "transcript", "options": {"collect_metadata": true}})).await;
    assert_eq!(r.status, 201);
    let rec = recordings_of(&rig.app, room.id).await.remove(0);
    let calls = rig.lk.calls_of("CreateDispatch");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].request,
        json!({"agentName": "collector", "room": room.id.to_string(), "metadata": rec.id.to_string()})
    );
    let dispatch = rec.options.0["metadata_collector_dispatch_id"].as_str().unwrap().to_string();
    assert!(dispatch.starts_with("AD_"), "{dispatch}");
    // NRC-WH-7: the agent leaves with the egress.
    rig.lk.egress().finish(rec.worker_id.as_deref().unwrap(), COMPLETE, true);
    assert_eq!(egress_webhook(&rig.app, "egress_ended", info(&rig, &rec)).await.status, 200);
    let deleted = rig.lk.calls_of("DeleteDispatch");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].request, json!({"dispatchId": dispatch, "room": room.id.to_string()}));

    let off = super::rig(&[]).await;
    let (room, _, owner) = room_and_user(&off.app, Some("owner")).await;
    let r = start_body(&owner, room.id, json!({"mode": "transcript", "options": {"collect_metadata": true}})).await;
    assert_eq!(r.status, 201);
    assert!(off.lk.calls_of("CreateDispatch").is_empty(), "collector disabled");
    let rec = recordings_of(&off.app, room.id).await.remove(0);
    off.lk.egress().finish(rec.worker_id.as_deref().unwrap(), COMPLETE, true);
    egress_webhook(&off.app, "egress_ended", info(&off, &rec)).await;
    assert!(off.lk.calls_of("DeleteDispatch").is_empty(), "NRC-WH-7: no dispatch id, no call");
}

#[tokio::test]
async fn nrc_ser_2_3_4_expiry_dates() {
    let rig = rig(&[("RECORDING_EXPIRATION_DAYS", "2")]).await;
    let (room, user, client) = room_and_user(&rig.app, Some("owner")).await;
    let fresh = make(&rig.app, room.id, Mode::ScreenRecording, Status::Saved, &[(&user, "owner")]).await;
    let old = make(&rig.app, room.id, Mode::Transcript, Status::Saved, &[(&user, "owner")]).await;
    let created = chrono::DateTime::parse_from_rfc3339("2023-01-15T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
    rstore::set_created_at(&rig.app.state.db, old.id, created).await.unwrap();
    let body = client.get(&format!("/api/v1.0/recordings/{}/", old.id)).await;
    assert_eq!(body.status, 200, "NRC-SER-3: expired recordings are still served");
    let body = body.json();
    assert_eq!((&body["expired_at"], &body["is_expired"]), (&json!("2023-01-17T12:00:00Z"), &json!(true)));
    assert_eq!(body["key"], format!("recordings/{}.ogg", old.id));
    let body = client.get(&format!("/api/v1.0/recordings/{}/", fresh.id)).await.json();
    let want = fresh.created_at + chrono::Duration::days(2);
    assert_eq!(body["expired_at"], meet::service::recordings::iso(want), "NRC-SER-2");
    assert_eq!(body["is_expired"], false);
    let config = rig.app.client().get("/api/v1.0/config/").await.json();
    assert_eq!(config["recording"]["expiration_days"], 2);

    let zero = super::rig(&[("RECORDING_EXPIRATION_DAYS", "0")]).await;
    let (room, user, client) = room_and_user(&zero.app, Some("owner")).await;
    let rec = make(&zero.app, room.id, Mode::Transcript, Status::Saved, &[(&user, "owner")]).await;
    rstore::set_created_at(&zero.app.state.db, rec.id, created).await.unwrap();
    let body = client.get(&format!("/api/v1.0/recordings/{}/", rec.id)).await.json();
    assert_eq!((&body["expired_at"], &body["is_expired"]), (&json!(null), &json!(false)), "NRC-SER-4");
}

#[tokio::test]
async fn nrc_ma_1_3_4_5_downloadable_statuses_and_the_escaped_dot() {
    let rig = rig(&[("RECORDING_EXPIRATION_DAYS", "1")]).await;
    let (room, user, client) = room_and_user(&rig.app, Some("owner")).await;
    let auth = |id: Uuid, sep: &str| {
        let url = format!("http://localhost/media/recordings/{id}{sep}mp4");
        TestClient::send(
            client.request(reqwest::Method::GET, "/api/v1.0/recordings/media-auth/").header("X-Original-URL", url),
        )
    };
    for s in [Status::NotificationSucceeded, Status::ExternalProcessSuccessful, Status::ExternalProcessFailed] {
        let rec = make(&rig.app, room.id, Mode::ScreenRecording, s, &[(&user, "owner")]).await;
        let r = auth(rec.id, ".").await;
        assert_eq!(r.status, 200, "NRC-MA-3 {s}: {}", r.text);
        assert!(r.header("authorization").is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256")));
        assert_eq!(auth(rec.id, "X").await.status, 403, "NRC-MA-4");
    }
    let expired = make(&rig.app, room.id, Mode::ScreenRecording, Status::Saved, &[(&user, "owner")]).await;
    let long_ago = chrono::Utc::now() - chrono::Duration::days(30);
    rstore::set_created_at(&rig.app.state.db, expired.id, long_ago).await.unwrap();
    assert_eq!(client.get(&format!("/api/v1.0/recordings/{}/", expired.id)).await.json()["is_expired"], true);
    assert_eq!(auth(expired.id, ".").await.status, 200, "NRC-MA-5: expiry is informational");
    for s in [Status::Initiated, Status::Active, Status::FailedToStop] {
        let rec = make(&rig.app, room.id, Mode::ScreenRecording, s, &[(&user, "owner")]).await;
        assert_eq!(auth(rec.id, ".").await.status, 403, "NRC-MA-1 {s}");
        rstore::force(&rig.app.state.db, rec.id, Status::Aborted, chrono::Utc::now()).await.unwrap();
    }
}

#[tokio::test]
async fn nrc_ma_6_an_oidc_bearer_token_is_not_accepted() {
    let idp = crate::support::oidc::Idp::start().await;
    let app = crate::auth::spawn(&idp, &[("RECORDING_ENABLE", "true"), ("MEET_OIDC_BEARER_ENABLED", "true")]).await;
    let token = idp.access_token_for(json!({"sub": "bearer-owner", "email": "bearer@example.com"}));
    let me =
        TestClient::send(app.client().request(reqwest::Method::GET, "/api/v1.0/users/me/").bearer_auth(&token)).await;
    assert_eq!(me.status, 200, "the token is valid elsewhere");
    let user = rstore::user(&app.state.db, Uuid::parse_str(me.json()["id"].as_str().unwrap()).unwrap())
        .await
        .unwrap()
        .unwrap();
    let room = crate::support::rooms::create_room(&app, "bearer room", "public").await;
    let rec = make(&app, room.id, Mode::ScreenRecording, Status::Saved, &[(&user, "owner")]).await;
    let url = format!("http://localhost/media/recordings/{}.mp4", rec.id);
    let r = TestClient::send(
        app.client()
            .request(reqwest::Method::GET, "/api/v1.0/recordings/media-auth/")
            .bearer_auth(&token)
            .header("X-Original-URL", url),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json(), json!({"detail": "Authentication credentials were not provided."}));
}

#[tokio::test]
async fn nrc_wh_1_egress_updated_publishes_the_recording_status() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    rig.lk.add_room(&room.id.to_string());
    let rec = started(&rig, &owner, room.id, "screen_recording").await;
    let mut e = info(&rig, &rec);
    for (status, want) in [(ACTIVE, "started"), (ENDING, "saving")] {
        e.status = status;
        assert_eq!(egress_webhook(&rig.app, "egress_updated", e.clone()).await.status, 200);
        assert_eq!(metadata(&rig, room.id)["recording_status"], want);
    }
    for status in [FAILED, LIMIT_REACHED] {
        e.status = status;
        let before = rig.lk.calls_of("UpdateRoomMetadata").len();
        egress_webhook(&rig.app, "egress_updated", e.clone()).await;
        assert_eq!(rig.lk.calls_of("UpdateRoomMetadata").len(), before, "no update for {status}");
    }
    assert_eq!(metadata(&rig, room.id)["recording_mode"], "screen_recording");
}

#[tokio::test]
async fn nrc_wh_2_nrc_wh_13_limit_reached_notifies_participants_once_and_saves() {
    let rig = rig(&[("RECORDING_STORAGE_EVENT_ENABLE", "false")]).await;
    for (mode, kind) in
        [("screen_recording", "screenRecordingLimitReached"), ("transcript", "transcriptionLimitReached")]
    {
        let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
        rig.lk.add_room(&room.id.to_string());
        let rec = started(&rig, &owner, room.id, mode).await;
        let before = rig.lk.calls_of("SendData").len();
        rig.lk.egress().finish(rec.worker_id.as_deref().unwrap(), LIMIT_REACHED, true);
        for _ in 0..2 {
            assert_eq!(egress_webhook(&rig.app, "egress_ended", info(&rig, &rec)).await.status, 200);
        }
        let sent = rig.lk.calls_of("SendData");
        assert_eq!(sent.len(), before + 1, "{mode}: once, duplicates included");
        let data = sent.last().unwrap().request["data"].as_str().unwrap().to_string();
        let decoded = base64_decode(&data);
        assert_eq!(serde_json::from_slice::<Value>(&decoded).unwrap(), json!({"type": kind}));
        let meta = metadata(&rig, room.id);
        assert!(meta.get("recording_mode").is_none() && meta.get("recording_status").is_none(), "{meta}");
        let st = status(&rig.app, rec.id).await;
        assert!(["saved", "notification_succeeded"].contains(&st.as_str()), "{mode}: {st}");
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).expect("base64 data")
}

#[tokio::test]
async fn nrc_wh_3_nrc_wh_4_metadata_or_notification_failures_never_fail_the_webhook() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    rig.lk.add_room(&room.id.to_string());
    let rec = started(&rig, &owner, room.id, "screen_recording").await;
    rig.lk.fail_method("UpdateRoomMetadata", Some(Failure::Twirp(500, "internal")));
    rig.lk.fail_method("SendData", Some(Failure::Twirp(500, "internal")));
    rig.lk.egress().finish(rec.worker_id.as_deref().unwrap(), LIMIT_REACHED, true);
    let r = egress_webhook(&rig.app, "egress_ended", info(&rig, &rec)).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    assert_eq!(rig.lk.calls_of("SendData").len(), 1, "attempted");
    assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded");
}

#[tokio::test]
async fn nrc_wh_5_6_unknown_egresses_and_inactive_recordings_notify_nobody() {
    let rig = rig(&[]).await;
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    rig.lk.add_room(&room.id.to_string());
    let unknown = proto::EgressInfo {
        egress_id: "EG_unknown".into(),
        room_name: room.id.to_string(),
        status: LIMIT_REACHED,
        ..Default::default()
    };
    let r = egress_webhook(&rig.app, "egress_ended", unknown).await;
    assert_eq!(r.status, 200, "R-2: acknowledged and logged");
    let rec = rstore::create(&rig.app.state.db, room.id, "screen_recording", Status::FailedToStop, Some("EG_9"))
        .await
        .unwrap();
    rstore::add_access(&rig.app.state.db, rec.id, user.id, "owner").await.unwrap();
    let e = proto::EgressInfo {
        egress_id: "EG_9".into(),
        room_name: room.id.to_string(),
        status: LIMIT_REACHED,
        ..Default::default()
    };
    assert_eq!(egress_webhook(&rig.app, "egress_ended", e).await.status, 200);
    assert!(rig.lk.calls_of("SendData").is_empty());
    assert_eq!(status(&rig.app, rec.id).await, "failed_to_stop", "no file reported: unchanged");
}

#[tokio::test]
async fn nrc_not_1_one_mail_per_owner_in_their_language_and_zone_with_the_download_link() {
    let rig = rig(&[
        ("RECORDING_DOWNLOAD_BASE_URL", "https://acme.com/recordings"),
        ("SCREEN_RECORDING_BASE_URL", "https://old.example.org/r"),
        ("RECORDING_EXPIRATION_DAYS", "7"),
    ])
    .await;
    let room = crate::support::rooms::create_room(&rig.app, "Conference Room A", "public").await;
    let owners = [
        (
            "fr@acme.com",
            "fr-fr",
            "Europe/Paris",
            "Votre enregistrement est prêt",
            "Votre enregistrement est prêt !",
            "16:30",
            "7 jours",
        ),
        ("nl@acme.com", "nl-nl", "Europe/Amsterdam", "Je opname is klaar", "Je opname is klaar!", "16:30", "7 dagen"),
        (
            "en@acme.com",
            "en-us",
            "America/Phoenix",
            "Your recording is ready",
            "Your recording is ready!",
            "07:30",
            "7 days",
        ),
    ];
    let mut accesses = Vec::new();
    for (email, lang, tz, ..) in owners {
        let u = rig.app.create_user(email).await;
        set_language(&rig.app, &u, lang, tz).await;
        accesses.push(u);
    }
    let admin = rig.app.create_user("admin@acme.com").await;
    let mut list: Vec<(&meet::store::users::User, &str)> = accesses.iter().map(|u| (u, "owner")).collect();
    list.push((&admin, "administrator"));
    let rec = make(&rig.app, room.id, Mode::ScreenRecording, Status::Active, &list).await;
    let created = chrono::DateTime::parse_from_rfc3339("2023-05-15T14:30:00Z").unwrap().with_timezone(&chrono::Utc);
    rstore::set_created_at(&rig.app.state.db, rec.id, created).await.unwrap();
    assert_eq!(file_arrives(&rig.app, &rec).await.status, 200);
    let mails = rig.smtp.wait_for(3).await;
    assert_eq!(mails.len(), 3);
    for (email, _, _, subject, heading, time, expiry) in owners {
        let m = mails.iter().find(|m| m.to == vec![email.to_string()]).unwrap_or_else(|| panic!("{email}"));
        assert_eq!(m.subject(), subject);
        let text = m.text();
        for needle in [
            heading,
            time,
            expiry,
            "2023-05-15",
            "Conference Room A",
            &format!("https://acme.com/recordings/{}", rec.id),
        ] {
            assert!(text.contains(needle), "{email}: {needle} missing from {text}");
        }
        assert!(!text.contains("old.example.org"), "RECORDING_DOWNLOAD_BASE_URL wins");
    }
    assert!(mails.iter().all(|m| !m.to.contains(&"admin@acme.com".to_string())));
}

#[tokio::test]
async fn nrc_not_4_a_screen_recording_with_transcribe_goes_to_both() {
    let rig = rig(&[]).await;
    let (room, owner, client) = room_and_user(&rig.app, Some("owner")).await;
    let r = start_body(&client, room.id, json!({"mode": "screen_recording", "options": {"transcribe": true}})).await;
    assert_eq!(r.status, 201);
    let rec = recordings_of(&rig.app, room.id).await.remove(0);
    assert_eq!(file_arrives(&rig.app, &rec).await.status, 200);
    assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded");
    assert_eq!(rig.smtp.wait_for(1).await.len(), 1);
    let tasks = rig.summary.tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].body["recording_filename"], format!("recordings/{}.mp4", rec.id));
    assert_eq!(tasks[0].body["email"], json!(owner.email));
}

/// A rig whose summary service speaks version 2 (webhook token `HOOK_TOKEN`).
async fn rig_v2(extra: &[(&str, &str)]) -> Rig {
    let mut vars = vec![("SUMMARY_SERVICE_VERSION", "2")];
    vars.extend_from_slice(extra);
    rig(&vars).await
}

#[tokio::test]
async fn nrc_sum_1_v2_payload_with_metadata_and_the_job_id() {
    let rig = rig_v2(&[
        ("METADATA_COLLECTOR_ENABLED", "true"),
        ("RECORDING_DOWNLOAD_BASE_URL", "https://app.test/recordings"),
    ])
    .await;
    let room = crate::support::rooms::create_room(&rig.app, "Engineering Sync", "public").await;
    let (owner, client) = rig.app.logged_in("owner@test.com").await;
    add_access(&rig.app, room.id, owner.id, "owner").await;
    set_language(&rig.app, &owner, "fr-fr", "Europe/Paris").await;
    let body = json!({"mode": "transcript", "options": {"collect_metadata": true, "language": "en-us"}});
    assert_eq!(start_body(&client, room.id, body).await.status, 201);
    let rec = recordings_of(&rig.app, room.id).await.remove(0);
    let egress = rec.worker_id.clone().unwrap();
    rig.lk.egress().finish(&egress, COMPLETE, true);
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-02T10:30:00Z").unwrap().timestamp_nanos_opt().unwrap();
    let end = chrono::DateTime::parse_from_rfc3339("2026-01-02T11:45:00Z").unwrap().timestamp_nanos_opt().unwrap();
    rig.lk.egress().set_file_times(&egress, start, end);
    assert_eq!(egress_webhook(&rig.app, "egress_ended", info(&rig, &rec)).await.status, 200);
    assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded");
    let tasks = rig.summary.tasks();
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(t.path, "/api/v2/async-jobs/transcribe");
    assert_eq!(t.authorization.as_deref(), Some("Bearer summary-token"));
    let b = &t.body;
    let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "user_sub",
            "user_email",
            "cloud_storage_url",
            "language",
            "context_language",
            "push_to_docs_config",
            "metadata"
        ]
    );
    assert_eq!((&b["user_sub"], &b["user_email"]), (&json!(owner.sub), &json!("owner@test.com")));
    assert_eq!((&b["language"], &b["context_language"]), (&json!("en"), &json!("fr-fr")), "R-7");
    assert_eq!(
        b["push_to_docs_config"],
        json!({
            "user_email": "owner@test.com",
            "title": "Réunion \"Engineering Sync\" du 2026-01-02 à 11:30",
            "download_link": format!("https://app.test/recordings/{}", rec.id),
            "form_link": null,
            "auto_create_summary": false,
        })
    );
    assert_eq!(
        (&b["metadata"]["started_at"], &b["metadata"]["ended_at"]),
        (&json!("2026-01-02T10:30:00+00:00"), &json!("2026-01-02T11:45:00+00:00"))
    );
    let url = b["cloud_storage_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/{BUCKET}/recordings/{}.ogg?", rig.s3.url, rec.id)), "{url}");
    for part in
        ["X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Expires=86400", "X-Amz-SignedHeaders=host", "X-Amz-Signature="]
    {
        assert!(url.contains(part), "{part} in {url}");
    }
    let meta_url = b["metadata"]["cloud_storage_url"].as_str().unwrap();
    assert!(meta_url.contains(&format!("/{BUCKET}/metadata/{}-metadata.json?", rec.id)), "{meta_url}");
    assert_eq!(reload(&rig.app, rec.id).await.external_process_id.as_deref(), Some("job-1"));
}

#[tokio::test]
async fn nrc_sum_2_3_5_v2_without_metadata_or_times_and_a_reply_without_job_id() {
    let rig = rig_v2(&[]).await;
    let (room, owner, _) = room_and_user(&rig.app, Some("owner")).await;
    set_language(&rig.app, &owner, "de-de", "Europe/Berlin").await;
    rig.summary.answer_body(Some(json!({})));
    let rec = make(&rig.app, room.id, Mode::Transcript, Status::Active, &[(&owner, "owner")]).await;
    assert_eq!(file_arrives(&rig.app, &rec).await.status, 200);
    assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded", "R-5");
    let b = &rig.summary.tasks()[0].body;
    assert_eq!(b["push_to_docs_config"]["title"], "Transkription");
    assert_eq!(b["push_to_docs_config"]["download_link"], format!("{BASE_URL}/{}", rec.id));
    assert_eq!((&b["metadata"], &b["language"]), (&json!(null), &json!("de")));
    assert_eq!(reload(&rig.app, rec.id).await.external_process_id, None);
}

#[tokio::test]
async fn nrc_eph_1_6_authentication() {
    let rig = rig_v2(&[]).await;
    let body = json!({"job_id": "j", "type": "transcript", "status": "success"});
    let realm = Some("Bearer realm='External process webhook API'");
    let r = post_hook(&rig.app, None, &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "Authorization header is required"})));
    assert_eq!(r.header("www-authenticate"), realm);
    let r = post_hook(&rig.app, Some("wrongToken"), &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "Invalid token"})));
    assert_eq!(post_hook(&rig.app, Some(TOKEN), &body).await.status, 401, "the storage token is not this one");
    assert_eq!(post_hook(&rig.app, Some(HOOK_TOKEN), &body).await.status, 200);
    let unset = super::rig(&[]).await;
    let r = post_hook(&unset.app, Some(HOOK_TOKEN), &body).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (401, json!({"detail": "Authentication is enabled but token is not configured."}))
    );
}

#[tokio::test]
async fn nrc_eph_2_3_4_5_7_events_move_saved_recordings_only() {
    let rig = rig_v2(&[]).await;
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    let cases = [
        (Status::Saved, "transcript", "success", "external_process_successful"),
        (Status::NotificationSucceeded, "transcript", "failure", "external_process_failed"),
        (Status::Saved, "thumbnail", "success", "saved"),
        (Status::Saved, "transcript", "pending", "saved"),
        (Status::Active, "transcript", "success", "active"),
    ];
    for (i, (from, kind, outcome, want)) in cases.into_iter().enumerate() {
        let rec = make(&rig.app, room.id, Mode::Transcript, from, &[(&user, "owner")]).await;
        let job = format!("job-{i}-{}", rec.id.simple());
        assert!(rstore::set_external_process_id(&rig.app.state.db, rec.id, &job).await.unwrap());
        let r = post_hook(&rig.app, Some(HOOK_TOKEN), &json!({"job_id": job, "type": kind, "status": outcome})).await;
        assert_eq!((r.status.as_u16(), r.json()), (200, json!({"message": "Event processed."})));
        assert_eq!(status(&rig.app, rec.id).await, want, "{from} {kind} {outcome}");
        if from == Status::Active {
            rstore::force(&rig.app.state.db, rec.id, Status::Aborted, chrono::Utc::now()).await.unwrap();
        }
    }
    let r =
        post_hook(&rig.app, Some(HOOK_TOKEN), &json!({"job_id": "nobody", "type": "transcript", "status": "success"}))
            .await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"message": "Event processed."})), "NRC-EPH-4");
    let bad = [
        (json!({"type": "transcript"}), json!({"job_id": ["This field is required."]})),
        (json!({"job_id": null}), json!({"job_id": ["This field may not be null."]})),
        (json!({"job_id": "  "}), json!({"job_id": ["This field may not be blank."]})),
        (json!({"job_id": {"a": 1}}), json!({"job_id": ["Not a valid string."]})),
        (json!({"job_id": "x", "status": true}), json!({"status": ["Not a valid string."]})),
    ];
    for (body, want) in bad {
        let r = post_hook(&rig.app, Some(HOOK_TOKEN), &body).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, want), "{body}");
    }
    let r = TestClient::send(rig.app.client().request(reqwest::Method::GET, HOOK_PATH).bearer_auth(HOOK_TOKEN)).await;
    assert_eq!((r.status.as_u16(), r.header("allow")), (405, Some("POST, OPTIONS")));
}

#[tokio::test]
async fn nrc_mod_4_two_recordings_cannot_share_a_job_id() {
    let rig = rig(&[]).await;
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    let a = make(&rig.app, room.id, Mode::Transcript, Status::Saved, &[(&user, "owner")]).await;
    let b = make(&rig.app, room.id, Mode::Transcript, Status::Saved, &[(&user, "owner")]).await;
    assert!(rstore::set_external_process_id(&rig.app.state.db, a.id, "same").await.unwrap());
    assert!(!rstore::set_external_process_id(&rig.app.state.db, b.id, "same").await.unwrap());
    assert_eq!(reload(&rig.app, b.id).await.external_process_id, None);
}

#[tokio::test]
async fn fault_an_egress_webhook_before_the_start_answer_ends_in_one_active_recording() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    rig.lk.add_room(&room.id.to_string());
    rig.lk.egress().fail("StartRoomCompositeEgress", Some(Failure::Delay(800)));
    let pending = tokio::spawn(async move { start(&owner, room.id, "screen_recording").await });
    let rec = loop {
        if let Some(r) = recordings_of(&rig.app, room.id).await.into_iter().next() {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    // LiveKit reports the egress (the id it is about to return) before the start's answer.
    let early = proto::EgressInfo {
        egress_id: "EG_1".into(),
        room_name: room.id.to_string(),
        status: ACTIVE,
        request: Some(proto::egress_info::Request::RoomComposite(proto::RoomCompositeEgressRequest {
            room_name: room.id.to_string(),
            file_outputs: vec![proto::EncodedFileOutput { filepath: key(&rec), ..Default::default() }],
            ..Default::default()
        })),
        ..Default::default()
    };
    let r = egress_webhook(&rig.app, "egress_updated", early).await;
    assert_eq!(r.status, 200);
    let answer = pending.await.unwrap();
    assert_eq!(answer.status, 201, "{}", answer.text);
    let now = reload(&rig.app, rec.id).await;
    assert_eq!((now.status.as_str(), now.worker_id.as_deref()), ("active", Some("EG_1")));
    assert!(rig.lk.calls_of("StopEgress").is_empty(), "the egress is kept");
    assert_eq!(metadata(&rig, room.id)["recording_status"], "started", "not overwritten by starting");
    assert_eq!(recordings_of(&rig.app, room.id).await.len(), 1);
}

#[tokio::test]
async fn fault_duplicate_egress_ended_with_the_storage_event_sends_one_mail() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let rec = started(&rig, &owner, room.id, "screen_recording").await;
    rig.lk.egress().finish(rec.worker_id.as_deref().unwrap(), COMPLETE, true);
    let e = info(&rig, &rec);
    let (a, b, c) = tokio::join!(
        egress_webhook(&rig.app, "egress_ended", e.clone()),
        egress_webhook(&rig.app, "egress_ended", e.clone()),
        file_arrives(&rig.app, &rec)
    );
    assert_eq!((a.status.as_u16(), b.status.as_u16(), c.status.as_u16()), (200, 200, 200));
    assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded");
    assert_eq!(egress_webhook(&rig.app, "egress_ended", e).await.status, 200, "late redelivery");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rig.smtp.mails().len(), 1, "one notification");
}

#[tokio::test]
async fn fault_a_summary_service_answering_500_then_200_makes_one_job() {
    let rig = rig_v2(&[]).await;
    let (room, owner, _) = room_and_user(&rig.app, Some("owner")).await;
    rig.summary.answer(Some(500));
    let rec = make(&rig.app, room.id, Mode::Transcript, Status::Active, &[(&owner, "owner")]).await;
    assert_eq!(file_arrives(&rig.app, &rec).await.status, 200);
    for _ in 0..200 {
        if !rig.summary.tasks().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(status(&rig.app, rec.id).await, "saved");
    rig.summary.answer(None);
    assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let tasks = rig.summary.tasks();
    let job = format!("job-{}", tasks.len());
    assert_eq!(reload(&rig.app, rec.id).await.external_process_id.as_deref(), Some(job.as_str()), "the accepted job");
    assert!(tasks.iter().all(|t| t.idempotency_key.as_deref() == Some(rec.id.to_string().as_str())));
    assert_eq!(file_arrives(&rig.app, &rec).await.status, 200, "a replayed event");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(rig.summary.tasks().len(), tasks.len(), "no job after success");
    let r =
        post_hook(&rig.app, Some(HOOK_TOKEN), &json!({"job_id": job, "type": "transcript", "status": "success"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(status(&rig.app, rec.id).await, "external_process_successful");
}
