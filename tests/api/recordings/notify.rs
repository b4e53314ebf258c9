//! RN statements: e-mails to owners (per recipient, language and time zone, link from
//! `SCREEN_RECORDING_BASE_URL`) and the summary-service POST, delivered through the outbox.

use meet::domain::recording::{Mode, Status};
use meet::mail::recording_ready::Lang;
use serde_json::json;

use super::*;
use crate::support::summary::TOKEN as SUMMARY_TOKEN;

#[tokio::test]
async fn rn_1_rn_2_rn_5_s5_screen_recordings_mail_each_owner_only() {
    let rig = rig(&[]).await;
    let (room, o1, _) = room_and_user(&rig.app, Some("owner")).await;
    let o2 = rig.app.create_user("owner2@example.com").await;
    let admin = rig.app.create_user("admin@example.com").await;
    let member = rig.app.create_user("member@example.com").await;
    let rec = make(
        &rig.app,
        room.id,
        Mode::ScreenRecording,
        Status::Active,
        &[(&o1, "owner"), (&o2, "owner"), (&admin, "administrator"), (&member, "member")],
    )
    .await;
    let r = file_arrives(&rig.app, &rec).await;
    assert_eq!(r.json(), json!({"message": "Event processed."}));
    assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded");
    let mails = rig.smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2);
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    let mut want = vec![o1.email.clone().unwrap(), o2.email.clone().unwrap()];
    want.sort();
    assert_eq!(to, want, "one message per owner, nobody else");
    let m = &mails[0];
    assert_eq!(m.from, "meet@example.org");
    assert_eq!(m.subject(), "Your recording is ready");
    let text = m.text();
    // The date as the product writes it (day unpadded, as Django's `j`) in the owner's zone (UTC
    // by default): the expected text never depends on today's date.
    let (date, time) = meet::mail::recording_ready::date_time(rec.created_at, "UTC", Lang::En);
    for needle in [
        "La Suite".to_string(),
        "support@example.org".to_string(),
        format!("{BASE_URL}/{}", rec.id),
        room.name.clone(),
        date,
        time,
    ] {
        assert!(text.contains(&needle), "{needle} missing from {text}");
    }
    assert!(m.html().contains("https://example.org/logo.png"));
}

#[tokio::test]
async fn rn_3_no_owner_leaves_the_recording_saved() {
    let rig = rig(&[]).await;
    let (room, _, _) = room_and_user(&rig.app, Some("owner")).await;
    let rec = make(&rig.app, room.id, Mode::ScreenRecording, Status::Stopped, &[]).await;
    assert_eq!(file_arrives(&rig.app, &rec).await.status, 200);
    assert_eq!(status(&rig.app, rec.id).await, "saved");
    assert!(rig.smtp.mails().is_empty());
}

#[tokio::test]
async fn rn_6_nrc_sum_4_transcripts_post_the_v1_payload_to_the_summary_service() {
    let rig = rig(&[]).await;
    let (room, owner, _) = room_and_user(&rig.app, Some("owner")).await;
    let rec = make(&rig.app, room.id, Mode::Transcript, Status::Stopped, &[(&owner, "owner")]).await;
    assert_eq!(file_arrives(&rig.app, &rec).await.status, 200);
    assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded");
    let tasks = rig.summary.tasks();
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(t.authorization.as_deref(), Some(format!("Bearer {SUMMARY_TOKEN}").as_str()));
    assert_eq!(t.content_type.as_deref(), Some("application/json"));
    assert_eq!(t.idempotency_key.as_deref(), Some(rec.id.to_string().as_str()));
    let want = json!({
        "owner_id": owner.id.to_string(),
        "recording_filename": key(&rec),
        "metadata_filename": null,
        "email": owner.email,
        "sub": owner.sub,
        "room": room.name,
        "language": null,
        "owner_timezone": owner.timezone,
        "download_link": format!("{BASE_URL}/{}", rec.id),
        "context_language": owner.language,
        "recording_start_at": null,
        "recording_end_at": null,
    });
    assert_eq!(t.body, want);
    let keys: Vec<&String> = t.body.as_object().unwrap().keys().collect();
    let want_keys: Vec<&String> = want.as_object().unwrap().keys().collect();
    assert_eq!(keys, want_keys, "upstream's key order");
    assert!(rig.smtp.mails().is_empty());
}

#[tokio::test]
async fn rn_6_b8_a_failing_summary_service_is_retried_until_it_accepts() {
    let rig = rig(&[]).await;
    let (room, owner, _) = room_and_user(&rig.app, Some("owner")).await;
    rig.summary.answer(Some(503));
    let rec = make(&rig.app, room.id, Mode::Transcript, Status::Active, &[(&owner, "owner")]).await;
    let r = file_arrives(&rig.app, &rec).await;
    assert_eq!(r.json(), json!({"message": "Event processed."}));
    for _ in 0..100 {
        if rig.summary.tasks().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status(&rig.app, rec.id).await, "saved", "downloadable while retrying");
    rig.summary.answer(None);
    assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded");
    let n = rig.summary.tasks().len();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rig.summary.tasks().len(), n, "no more posts after success");
}

#[tokio::test]
async fn rn_7_summary_not_configured_leaves_saved() {
    let rig = rig(&[("SUMMARY_SERVICE_API_TOKEN", "")]).await;
    let (room, owner, _) = room_and_user(&rig.app, Some("owner")).await;
    let rec = make(&rig.app, room.id, Mode::Transcript, Status::Active, &[(&owner, "owner")]).await;
    assert_eq!(file_arrives(&rig.app, &rec).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(status(&rig.app, rec.id).await, "saved");
    assert!(rig.summary.tasks().is_empty());
}

#[tokio::test]
async fn rn_8_s1_the_link_comes_from_screen_recording_base_url_never_the_token() {
    let rig = rig(&[("SCREEN_RECORDING_BASE_URL", "")]).await;
    let (room, owner, _) = room_and_user(&rig.app, Some("owner")).await;
    let rec = make(&rig.app, room.id, Mode::ScreenRecording, Status::Active, &[(&owner, "owner")]).await;
    file_arrives(&rig.app, &rec).await;
    let mails = rig.smtp.wait_for(1).await;
    let text = mails[0].text();
    assert!(!text.contains(SUMMARY_TOKEN) && !text.contains("None/"), "{text}");
    assert!(!mails[0].html().contains(&rec.id.to_string()), "no link without a base URL");
}

#[tokio::test]
async fn rn_9_b9_b10_rendered_per_recipient_language_and_zone_unescaped_text() {
    let rig = rig(&[]).await;
    let room = crate::support::rooms::create_room(&rig.app, "Tom & \"Jerry\" <x>", "public").await;
    let fr = rig.app.create_user("fr@example.com").await;
    set_language(&rig.app, &fr, "fr-fr", "Europe/Paris").await;
    let rec = make(&rig.app, room.id, Mode::ScreenRecording, Status::Active, &[(&fr, "owner")]).await;
    file_arrives(&rig.app, &rec).await;
    let mails = rig.smtp.wait_for(1).await;
    let m = &mails[0];
    assert_eq!(m.subject(), "Votre enregistrement est prêt");
    let text = m.text();
    assert!(text.contains("Tom & \"Jerry\" <x>"), "{text}");
    assert!(m.html().contains("Tom &amp; &quot;Jerry&quot; &lt;x&gt;"));
    let paris = rec.created_at.with_timezone(&chrono_tz::Europe::Paris).format("%H:%M").to_string();
    assert!(text.contains(&paris), "{paris} in {text}");
}
