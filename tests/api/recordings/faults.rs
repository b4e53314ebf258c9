//! The fault scenarios of the Recordings issue (recordings §11.3): LiveKit down at start, egresses
//! dying (webhook and reconciler paths), both "file is there" signals in both orders and twice,
//! SMTP down then back, two starts at once, and the reconciler's single runner.

use meet::domain::recording::{Mode, Status};
use meet::service::reconciler;
use serde_json::json;

use super::*;
use crate::support::egress::{ABORTED, COMPLETE, FAILED, LIMIT_REACHED};
use crate::support::livekit::Failure;

async fn pass(rig: &Rig) {
    reconciler::run_once(&rig.app.state).await.expect("reconciler pass");
}

#[tokio::test]
async fn re_11_rw_13_nrc_start_7_fault_livekit_down_at_start_never_blocks_the_room() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let slug = room.slug.clone().unwrap();
    for failure in [Failure::Html502, Failure::Hang, Failure::Twirp(503, "unavailable")] {
        rig.lk.egress().fail("StartRoomCompositeEgress", Some(failure.clone()));
        let r = start(&owner, room.id, "screen_recording").await;
        assert_eq!(r.status, 502, "{failure:?}");
        assert_eq!(r.json(), json!({"error": format!("Recording failed to start for room {slug}")}), "{failure:?}");
        assert_eq!(recordings_of(&rig.app, room.id).await[0].status, "failed_to_start", "{failure:?}");
    }
    rig.lk.egress().fail("StartRoomCompositeEgress", None);
    assert_eq!(start(&owner, room.id, "screen_recording").await.status, 201, "the room records again");
}

#[tokio::test]
async fn re_11_b1_nrc_start_12_fault_livekit_unreachable_is_a_json_502() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("http://{closed}");
    let rig = rig(&[("LIVEKIT_API_URL", url.as_str())]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let r = start(&owner, room.id, "transcript").await;
    assert_eq!((r.status.as_u16(), r.header("content-type")), (502, Some("application/json")));
    assert_eq!(recordings_of(&rig.app, room.id).await[0].status, "failed_to_start");
    assert_eq!(start(&owner, room.id, "transcript").await.status, 502, "never the 409 conflict");
}

#[tokio::test]
async fn fault_egress_dies_webhook_path() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    for (egress_status, file, want) in [
        (FAILED, false, "failed_to_stop"),
        (ABORTED, false, "aborted"),
        (COMPLETE, false, "stopped"),
        (LIMIT_REACHED, true, "notification_succeeded"),
    ] {
        let rec = started(&rig, &owner, room.id, "screen_recording").await;
        let worker = rec.worker_id.clone().unwrap();
        let info = rig.lk.egress().finish(&worker, egress_status, file).unwrap();
        let r = egress_webhook(&rig.app, "egress_ended", info.clone()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(wait_status(&rig.app, rec.id, want).await, want, "egress status {egress_status}");
        assert_eq!(egress_webhook(&rig.app, "egress_ended", info).await.status, 200, "duplicate");
        assert_eq!(wait_status(&rig.app, rec.id, want).await, want);
    }
    assert_eq!(rig.smtp.wait_for(1).await.len(), 1);
    // Egresses that are not ours are ignored.
    let foreign = livekit_protocol::EgressInfo { egress_id: "EG_other".into(), status: COMPLETE, ..Default::default() };
    assert_eq!(egress_webhook(&rig.app, "egress_ended", foreign).await.status, 200);
}

#[tokio::test]
async fn fault_egress_dies_reconciler_path() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    // LiveKit forgot the egress and no file exists: aborted, the room records again.
    let gone = started(&rig, &owner, room.id, "screen_recording").await;
    rig.lk.egress().forget(gone.worker_id.as_deref().unwrap());
    pass(&rig).await;
    assert_eq!(status(&rig.app, gone.id).await, "active", "a fresh egress may not be listed yet");
    age(&rig.app, &gone, Status::Active, 600).await;
    pass(&rig).await;
    assert_eq!(status(&rig.app, gone.id).await, "aborted");
    // LiveKit forgot it but the file is in the bucket: saved and notified once.
    let kept = started(&rig, &owner, room.id, "screen_recording").await;
    rig.lk.egress().forget(kept.worker_id.as_deref().unwrap());
    age(&rig.app, &kept, Status::Active, 600).await;
    rig.s3.put(&key(&kept));
    pass(&rig).await;
    assert_eq!(wait_status(&rig.app, kept.id, "notification_succeeded").await, "notification_succeeded");
    // LiveKit reports the egress ended at its limit with a file.
    let limit = started(&rig, &owner, room.id, "transcript").await;
    rig.lk.egress().finish(limit.worker_id.as_deref().unwrap(), LIMIT_REACHED, true);
    pass(&rig).await;
    assert_eq!(wait_status(&rig.app, limit.id, "notification_succeeded").await, "notification_succeeded");
    // A running egress is left alone; LiveKit down changes nothing.
    let running = started(&rig, &owner, room.id, "screen_recording").await;
    pass(&rig).await;
    rig.lk.egress().fail("ListEgress", Some(Failure::Html502));
    pass(&rig).await;
    assert_eq!(status(&rig.app, running.id).await, "active");
    assert_eq!(rig.smtp.wait_for(1).await.len(), 1);
    assert_eq!(rig.summary.tasks().len(), 1);
}

#[tokio::test]
async fn re_9_b2_fault_a_dead_egress_does_not_block_the_next_start() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let dead = started(&rig, &owner, room.id, "screen_recording").await;
    rig.lk.egress().forget(dead.worker_id.as_deref().unwrap());
    age(&rig.app, &dead, Status::Active, 600).await;
    let r = start(&owner, room.id, "transcript").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(status(&rig.app, dead.id).await, "aborted");
    let r = start(&owner, room.id, "transcript").await;
    assert_eq!(r.status, 409, "a live egress still blocks: {}", r.text);
}

#[tokio::test]
async fn fault_stale_initiated_is_adopted_or_failed() {
    let rig = rig(&[]).await;
    let (room, user, owner) = room_and_user(&rig.app, Some("owner")).await;
    // The start's answer was lost but LiveKit runs the egress: adopted.
    let rec = started(&rig, &owner, room.id, "screen_recording").await;
    age(&rig.app, &rec, Status::Initiated, 600).await;
    pass(&rig).await;
    assert_eq!(status(&rig.app, rec.id).await, "active");
    stop(&owner, room.id).await;
    // No egress at all: failed_to_start. A fresh one is left alone.
    let orphan = make(&rig.app, room.id, Mode::Transcript, Status::Initiated, &[(&user, "owner")]).await;
    pass(&rig).await;
    assert_eq!(status(&rig.app, orphan.id).await, "initiated", "within the grace period");
    age(&rig.app, &orphan, Status::Initiated, 600).await;
    pass(&rig).await;
    assert_eq!(status(&rig.app, orphan.id).await, "failed_to_start");
}

#[tokio::test]
async fn fault_stopped_recordings_are_saved_when_their_file_appears() {
    let rig = rig(&[]).await;
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    let rec = make(&rig.app, room.id, Mode::ScreenRecording, Status::Stopped, &[(&user, "owner")]).await;
    let lost = make(&rig.app, room.id, Mode::ScreenRecording, Status::FailedToStop, &[(&user, "owner")]).await;
    let old = make(&rig.app, room.id, Mode::ScreenRecording, Status::Stopped, &[(&user, "owner")]).await;
    pass(&rig).await;
    assert!(rig.s3.requests().is_empty(), "within the grace period nothing is asked");
    age(&rig.app, &rec, Status::Stopped, 700).await;
    age(&rig.app, &lost, Status::FailedToStop, 700).await;
    age(&rig.app, &old, Status::Stopped, 90_000).await;
    rig.s3.set_down(true);
    pass(&rig).await;
    assert_eq!(status(&rig.app, rec.id).await, "stopped", "S3 down: unchanged");
    rig.s3.set_down(false);
    rig.s3.put(&key(&rec));
    rig.s3.put(&key(&lost));
    pass(&rig).await;
    assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded");
    assert_eq!(wait_status(&rig.app, lost.id, "notification_succeeded").await, "notification_succeeded");
    assert_eq!(status(&rig.app, old.id).await, "aborted");
    assert!(rig.s3.requests().iter().all(|(m, _)| m == "HEAD"));
}

#[tokio::test]
async fn rs_12_b6_fault_storage_event_and_webhook_in_both_orders_and_twice_send_one_mail() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    for hook_first in [true, false] {
        let rec = started(&rig, &owner, room.id, "screen_recording").await;
        stop(&owner, room.id).await;
        let info = rig.lk.egress().finish(rec.worker_id.as_deref().unwrap(), COMPLETE, true).unwrap();
        for round in 0..2 {
            if hook_first {
                assert_eq!(
                    file_arrives(&rig.app, &rec).await.json(),
                    json!({"message": "Event processed."}),
                    "{round}"
                );
                assert_eq!(egress_webhook(&rig.app, "egress_ended", info.clone()).await.status, 200);
            } else {
                assert_eq!(egress_webhook(&rig.app, "egress_ended", info.clone()).await.status, 200);
                assert_eq!(
                    file_arrives(&rig.app, &rec).await.json(),
                    json!({"message": "Event processed."}),
                    "{round}"
                );
            }
        }
        assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded");
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rig.smtp.mails().len(), 2, "one e-mail per recording");
}

#[tokio::test]
async fn rn_4_b8_fault_smtp_down_then_back_delivers_exactly_one_mail_per_owner() {
    let rig = rig(&[]).await;
    let (room, o1, _) = room_and_user(&rig.app, Some("owner")).await;
    let o2 = rig.app.create_user("second-owner@example.com").await;
    let rec = make(&rig.app, room.id, Mode::ScreenRecording, Status::Active, &[(&o1, "owner"), (&o2, "owner")]).await;
    rig.smtp.set_down(true);
    assert_eq!(file_arrives(&rig.app, &rec).await.status, 200);
    let db = &rig.app.state.db;
    for _ in 0..100 {
        let n = meet::store::recordings::notifications_of(db, rec.id).await.unwrap();
        if n.iter().all(|n| n.attempts >= 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status(&rig.app, rec.id).await, "saved");
    assert!(rig.smtp.mails().is_empty());
    rig.smtp.set_down(false);
    assert_eq!(wait_status(&rig.app, rec.id, "notification_succeeded").await, "notification_succeeded");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut to: Vec<String> = rig.smtp.mails().iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    let mut want = vec![o1.email.unwrap(), o2.email.unwrap()];
    want.sort();
    assert_eq!(to, want, "exactly one e-mail per owner");
}

#[tokio::test]
async fn re_9_b11_fault_two_starts_at_once_make_exactly_one_egress() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let (u2, other) = rig.app.logged_in("second-admin@example.com").await;
    add_access(&rig.app, room.id, u2.id, "administrator").await;
    let (a, b) = tokio::join!(start(&owner, room.id, "screen_recording"), start(&other, room.id, "transcript"));
    let mut codes = [a.status.as_u16(), b.status.as_u16()];
    codes.sort();
    assert_eq!(codes, [201, 409], "{} / {}", a.text, b.text);
    assert_eq!(rig.lk.calls_of("StartRoomCompositeEgress").len(), 1);
    let live: Vec<_> = recordings_of(&rig.app, room.id).await.into_iter().filter(|r| r.status == "active").collect();
    assert_eq!(live.len(), 1);
}

#[tokio::test]
async fn fault_the_reconciler_runs_on_one_instance_at_a_time() {
    let rig = rig(&[]).await;
    let lock = meet::store::recordings::try_reconciler_lock(&rig.app.state.db).await.unwrap();
    assert!(lock.is_some());
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    let rec = make(&rig.app, room.id, Mode::Transcript, Status::Initiated, &[(&user, "owner")]).await;
    age(&rig.app, &rec, Status::Initiated, 600).await;
    let seen = reconciler::run_once(&rig.app.state).await.unwrap();
    if rig.app.state.db.backend() == meet::store::Backend::Postgres {
        assert_eq!(seen, 0, "another holder of the advisory lock: this pass does nothing");
        assert_eq!(status(&rig.app, rec.id).await, "initiated");
        lock.expect("held").release().await.unwrap();
        assert_eq!(reconciler::run_once(&rig.app.state).await.unwrap(), 1);
    }
    assert_eq!(status(&rig.app, rec.id).await, "failed_to_start");
}

#[tokio::test]
async fn fault_background_loops_run_from_settings() {
    let rig = rig(&[("MEET_RECONCILER_INTERVAL_MS", "50"), ("MEET_RECORDING_START_GRACE", "0")]).await;
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    let rec = make(&rig.app, room.id, Mode::Transcript, Status::Initiated, &[(&user, "owner")]).await;
    assert_eq!(wait_status(&rig.app, rec.id, "failed_to_start").await, "failed_to_start");
}

#[tokio::test]
async fn fault_a_lost_start_answer_is_adopted_by_the_egress_webhook() {
    let rig = rig(&[]).await;
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    let rec = make(&rig.app, room.id, Mode::ScreenRecording, Status::Initiated, &[(&user, "owner")]).await;
    let info = livekit_protocol::EgressInfo {
        egress_id: "EG_lost".into(),
        room_name: room.id.to_string(),
        status: crate::support::egress::ACTIVE,
        request: Some(livekit_protocol::egress_info::Request::RoomComposite(
            livekit_protocol::RoomCompositeEgressRequest {
                room_name: room.id.to_string(),
                file_outputs: vec![livekit_protocol::EncodedFileOutput { filepath: key(&rec), ..Default::default() }],
                ..Default::default()
            },
        )),
        ..Default::default()
    };
    assert_eq!(egress_webhook(&rig.app, "egress_started", info).await.status, 200);
    let now = reload(&rig.app, rec.id).await;
    assert_eq!((now.status.as_str(), now.worker_id.as_deref()), ("active", Some("EG_lost")));
}

#[tokio::test]
async fn fault_badly_signed_egress_webhooks_change_nothing() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let rec = started(&rig, &owner, room.id, "screen_recording").await;
    let info = rig.lk.egress().finish(rec.worker_id.as_deref().unwrap(), COMPLETE, true).unwrap();
    let body = serde_json::to_string(&livekit_protocol::WebhookEvent {
        event: "egress_ended".into(),
        egress_info: Some(info),
        ..Default::default()
    })
    .unwrap();
    let forged = crate::support::livekit::sign_webhook(
        &body,
        crate::support::livekit::KEY,
        "another-secret-of-at-least-32-characters",
        std::time::Duration::from_secs(300),
    );
    let rb = rig
        .app
        .client()
        .request(reqwest::Method::POST, "/api/v1.0/rooms/webhooks-livekit/")
        .header("Content-Type", "application/webhook+json")
        .header("Authorization", forged)
        .body(body);
    assert_eq!(TestClient::send(rb).await.status, 400);
    assert_eq!(status(&rig.app, rec.id).await, "active");
    assert!(rig.smtp.mails().is_empty());
}
