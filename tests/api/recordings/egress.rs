//! RW statements: the Twirp requests sent to LiveKit's Egress service and how their answers
//! move recordings (B1, B3, B14 applied).

use serde_json::json;

use super::*;
use crate::support::egress::{ABORTED, ACTIVE, COMPLETE, FAILED, LIMIT_REACHED, STARTING};
use crate::support::livekit::Failure;

#[tokio::test]
async fn rw_5_rw_6_rw_7_nrc_start_11_start_requests_match_upstream_head() {
    let rig = rig(&[("AWS_S3_REGION_NAME", "local")]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let video = started(&rig, &owner, room.id, "screen_recording").await;
    stop(&owner, room.id).await;
    let audio = started(&rig, &owner, room.id, "transcript").await;
    let calls = rig.lk.calls_of("StartRoomCompositeEgress");
    assert_eq!(calls.len(), 2);
    let s3 = json!({"accessKey": "meet", "secret": "password", "region": "local", "endpoint": rig.s3.url,
        "bucket": BUCKET, "forcePathStyle": true});
    let v = &calls[0].request;
    assert_eq!(v["roomName"], room.id.to_string());
    assert_ne!(v["audioOnly"], json!(true), "not set for screen recordings");
    assert_eq!(v["fileOutputs"][0]["fileType"], "MP4");
    assert_eq!(v["fileOutputs"][0]["filepath"], format!("recordings/{}.mp4", video.id));
    assert_eq!(v["fileOutputs"][0]["s3"], s3);
    assert_eq!(v["layout"], "speaker-light", "NRC-START-11");
    for absent in ["advanced", "preset", "file", "segments", "stream"] {
        assert!(v.get(absent).is_none() || v[absent] == json!("") || v[absent] == json!(null), "{absent}: {v}");
    }
    let a = &calls[1].request;
    assert_eq!(a["audioOnly"], json!(true));
    assert!(a.get("layout").is_none() || a["layout"] == json!(""), "no layout for transcripts: {a}");
    assert_eq!(a["fileOutputs"][0]["fileType"], "OGG");
    assert_eq!(a["fileOutputs"][0]["filepath"], format!("recordings/{}.ogg", audio.id));
}

#[tokio::test]
async fn re_7_rw_8_rw_9_rw_13_rw_17_nrc_start_5_empty_ids_and_twirp_errors_are_502() {
    let rig = rig(&[]).await;
    let (room, user, owner) = room_and_user(&rig.app, Some("owner")).await;
    let slug = room.slug.clone().unwrap();
    let want = json!({"error": format!("Recording failed to start for room {slug}")});
    rig.lk.egress().set_empty_start_id(true);
    let r = start(&owner, room.id, "screen_recording").await;
    assert_eq!((r.status.as_u16(), r.json()), (502, want.clone()));
    let rec = recordings_of(&rig.app, room.id).await.remove(0);
    assert_eq!((rec.status.as_str(), rec.worker_id.clone()), ("failed_to_start", None));
    assert_eq!(meet::store::recordings::roles_of(&rig.app.state.db, rec.id, user.id).await.unwrap(), ["owner"]);
    rig.lk.egress().set_empty_start_id(false);
    rig.lk.egress().fail("StartRoomCompositeEgress", Some(Failure::Twirp(400, "invalid_argument")));
    let r = start(&owner, room.id, "transcript").await;
    assert_eq!((r.status.as_u16(), r.json()), (502, want));
    let rec = recordings_of(&rig.app, room.id).await.remove(0);
    assert_eq!(rec.status, "failed_to_start");
    let error = rec.egress_error.unwrap_or_default();
    assert!(
        error.contains("LiveKit client connection error") && error.contains("scripted egress failure"),
        "RW-9: {error}"
    );
}

#[tokio::test]
async fn rw_10_rw_16_b3_stop_replies_are_mapped() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let slug = room.slug.clone().unwrap();
    let ok = json!({"message": format!("Recording stopped for room {slug}.")});
    let failed = json!({"error": format!("Recording failed to stop for room {slug}")});
    let cases = [
        (STARTING, 200, "stopped"),
        (ACTIVE, 200, "stopped"),
        (COMPLETE, 200, "stopped"),
        (LIMIT_REACHED, 200, "stopped"),
        (ABORTED, 200, "aborted"),
        (FAILED, 500, "failed_to_stop"),
    ];
    for (egress_status, http, want) in cases {
        let rec = started(&rig, &owner, room.id, "screen_recording").await;
        rig.lk.egress().set_stop_status(egress_status);
        let r = stop(&owner, room.id).await;
        assert_eq!(r.status.as_u16(), http, "egress status {egress_status}");
        assert_eq!(r.json(), if http == 200 { ok.clone() } else { failed.clone() }, "{egress_status}");
        assert_eq!(status(&rig.app, rec.id).await, want, "egress status {egress_status}");
    }
}

#[tokio::test]
async fn re_16_rw_16_b3_nrc_stop_3_stop_failures() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    // A Twirp error: failed_to_stop and a JSON 500.
    let rec = started(&rig, &owner, room.id, "screen_recording").await;
    rig.lk.egress().fail("StopEgress", Some(Failure::Twirp(500, "internal")));
    let r = stop(&owner, room.id).await;
    assert_eq!((r.status.as_u16(), r.json()["error"].is_string()), (500, true));
    assert_eq!(status(&rig.app, rec.id).await, "failed_to_stop");
    // A proxy's HTML page: unknown outcome, JSON 500, the recording stays active.
    let rec = started(&rig, &owner, room.id, "screen_recording").await;
    rig.lk.egress().fail("StopEgress", Some(Failure::Html502));
    let r = stop(&owner, room.id).await;
    assert_eq!((r.status.as_u16(), r.header("content-type")), (500, Some("application/json")));
    assert_eq!(status(&rig.app, rec.id).await, "active");
    // An egress that already ended: ListEgress tells what it became (B3).
    rig.lk.egress().fail("StopEgress", None);
    rig.lk.egress().finish(rec.worker_id.as_deref().unwrap(), COMPLETE, true);
    let r = stop(&owner, room.id).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(status(&rig.app, rec.id).await, "stopped");
    assert_eq!(rig.lk.calls_of("ListEgress").last().unwrap().request["egressId"], rec.worker_id.clone().unwrap());
}
