//! RM (model through the store) and RE (start, stop, list, retrieve, delete) statements.

use meet::domain::recording::{Mode, Status};
use meet::store::recordings as store;
use serde_json::json;

use super::*;

#[tokio::test]
async fn rm_1_rm_4_rm_5_defaults_and_one_live_recording_per_room() {
    let rig = rig(&[]).await;
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    let db = &rig.app.state.db;
    let rec = store::insert_with_owner(db, room.id, "screen_recording", json!({}), user.id).await.unwrap();
    assert_eq!(
        (rec.status.as_str(), rec.mode.as_str(), rec.worker_id.clone()),
        ("initiated", "screen_recording", None)
    );
    for s in [Status::Active, Status::Initiated] {
        let e = store::create(db, room.id, "transcript", s, None).await.unwrap_err();
        assert!(e.is_conflict("unique_initiated_or_active_recording_per_room"), "{s}: {e}");
    }
    store::create(db, room.id, "transcript", Status::Saved, None).await.unwrap();
    store::create(db, room.id, "transcript", Status::Saved, None).await.unwrap();
}

#[tokio::test]
async fn rm_13_deleting_a_room_deletes_its_recordings_and_accesses() {
    let rig = rig(&[]).await;
    let (room, user, client) = room_and_user(&rig.app, Some("owner")).await;
    let rec = make(&rig.app, room.id, Mode::ScreenRecording, Status::Saved, &[(&user, "owner")]).await;
    let mut tx = rig.app.state.db.begin().await.unwrap();
    meet::store::rooms::delete(&mut tx, room.id).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store::get(&rig.app.state.db, rec.id).await.unwrap().is_none());
    assert_eq!(client.get("/api/v1.0/recordings/").await.json()["count"], 0);
}

#[tokio::test]
async fn rm_15_recording_access_constraints() {
    let rig = rig(&[]).await;
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    let rec = make(&rig.app, room.id, Mode::ScreenRecording, Status::Saved, &[(&user, "owner")]).await;
    let e = store::add_access(&rig.app.state.db, rec.id, user.id, "member").await.unwrap_err();
    assert!(e.is_conflict("unique_recording_user"), "{e}");
}

#[tokio::test]
async fn re_1_re_13_anonymous_start_and_stop_are_401() {
    let rig = rig(&[]).await;
    let (room, _, _) = room_and_user(&rig.app, Some("owner")).await;
    let anon = rig.app.client();
    assert_eq!(start(&anon, room.id, "screen_recording").await.status, 401);
    assert_eq!(stop(&anon, room.id).await.status, 401);
    assert!(recordings_of(&rig.app, room.id).await.is_empty());
}

#[tokio::test]
async fn re_2_re_14_nrc_start_2_nrc_stop_2_users_without_a_room_role_get_403() {
    let rig = rig(&[]).await;
    let (room, _, stranger) = room_and_user(&rig.app, None).await;
    let (_, member) = {
        let (u, c) = rig.app.logged_in("member@example.com").await;
        add_access(&rig.app, room.id, u.id, "member").await;
        (u, c)
    };
    let want = json!({"detail": "You must have privileges on room to perform this action."});
    for c in [&stranger, &member] {
        let r = start(c, room.id, "screen_recording").await;
        assert_eq!((r.status.as_u16(), r.json()), (403, want.clone()));
        let r = stop(c, room.id).await;
        assert_eq!((r.status.as_u16(), r.json()), (403, want.clone()));
    }
    assert!(recordings_of(&rig.app, room.id).await.is_empty());
}

#[tokio::test]
async fn nrc_start_3_nrc_stop_1_recording_disabled_is_404_for_start_and_stop() {
    let rig = rig(&[("RECORDING_ENABLE", "false")]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let want = json!({"detail": "Not found."});
    let r = start(&owner, room.id, "screen_recording").await;
    assert_eq!((r.status.as_u16(), r.json()), (404, want.clone()));
    let r = owner.post(&start_path(&room.id.to_string()), &json!({"mode": "nope"})).await;
    assert_eq!(r.status, 404, "the flag comes before the body check");
    let r = stop(&owner, room.id).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, want));
    assert!(recordings_of(&rig.app, room.id).await.is_empty());
    assert!(rig.lk.calls_of("StartRoomCompositeEgress").is_empty());
}

#[tokio::test]
async fn re_4_re_5_bad_modes_are_400_before_the_room_permission() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    for body in [json!({}), json!({"mode": "foo"}), json!({"mode": null}), json!({"mode": ""}), json!({"mode": 1})] {
        let r = owner.post(&start_path(&room.id.to_string()), &body).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, json!({"detail": "Invalid request."})), "{body}");
    }
    let (u, c) = rig.app.logged_in("m@example.com").await;
    add_access(&rig.app, room.id, u.id, "member").await;
    let r = c.post(&start_path(&room.id.to_string()), &json!({"mode": "x"})).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn re_6_unknown_rooms_are_404() {
    let rig = rig(&[]).await;
    let (_, owner) = rig.app.logged_in("o@example.com").await;
    for room in [uuid::Uuid::new_v4().to_string(), "no-such-room".to_string()] {
        let r = owner.post(&start_path(&room), &json!({"mode": "transcript"})).await;
        assert_eq!(
            (r.status.as_u16(), r.json()),
            (404, json!({"detail": "No Room matches the given query."})),
            "{room}"
        );
    }
}

#[tokio::test]
async fn re_8_rw_12_success_by_uuid_or_slug_creates_an_owner_access() {
    let rig = rig(&[]).await;
    let (room, user, owner) = room_and_user(&rig.app, Some("administrator")).await;
    let slug = room.slug.clone().unwrap();
    let r = owner.post(&start_path(&slug), &json!({"mode": "transcript"})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (201, json!({"message": format!("Recording successfully started for room {slug}")}))
    );
    let rec = recordings_of(&rig.app, room.id).await.remove(0);
    assert_eq!((rec.status.as_str(), rec.mode.as_str()), ("active", "transcript"));
    assert_eq!(rec.worker_id.as_deref(), Some("EG_1"));
    assert_eq!(store::roles_of(&rig.app.state.db, rec.id, user.id).await.unwrap(), ["owner"]);
}

#[tokio::test]
async fn re_9_b11_nrc_start_6_a_room_recording_already_refuses_a_second_start_with_409() {
    let rig = rig(&[]).await;
    let (room, user, owner) = room_and_user(&rig.app, Some("owner")).await;
    make(&rig.app, room.id, Mode::Transcript, Status::Initiated, &[(&user, "owner")]).await;
    let r = owner.post(&start_path(room.slug.as_deref().unwrap()), &json!({"mode": "screen_recording"})).await;
    let slug = room.slug.clone().unwrap();
    let want = json!({"error": format!("A recording is already in progress for room {slug}")});
    assert_eq!((r.status.as_u16(), r.json()), (409, want));
    let recs = recordings_of(&rig.app, room.id).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(store::roles_of(&rig.app.state.db, recs[0].id, user.id).await.unwrap(), ["owner"], "no new access");
    assert!(rig.lk.calls_of("StartRoomCompositeEgress").is_empty(), "egress not called");
}

#[tokio::test]
async fn re_10_b1_a_mode_missing_from_worker_classes_inserts_nothing() {
    let rig = rig(&[("RECORDING_WORKER_CLASSES", "{'transcript': 'x'}")]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let r = start(&owner, room.id, "screen_recording").await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"detail": "Invalid request."})));
    assert!(recordings_of(&rig.app, room.id).await.is_empty());
    assert_eq!(start(&owner, room.id, "transcript").await.status, 201);
}

#[tokio::test]
async fn re_12_form_bodies_are_415_and_get_is_405() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let rb = owner
        .request(reqwest::Method::POST, &start_path(&room.id.to_string()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("mode=transcript");
    assert_eq!(TestClient::send(rb).await.status, 415);
    let r = owner.get(&start_path(&room.id.to_string())).await;
    assert_eq!((r.status.as_u16(), r.header("allow")), (405, Some("POST, OPTIONS")));
}

#[tokio::test]
async fn re_15_stop_without_an_active_recording_is_404() {
    let rig = rig(&[]).await;
    let (room, user, owner) = room_and_user(&rig.app, Some("owner")).await;
    let want = json!({"detail": "No active recording found for this room."});
    let r = stop(&owner, room.id).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, want.clone()));
    make(&rig.app, room.id, Mode::Transcript, Status::Initiated, &[(&user, "owner")]).await;
    assert_eq!(stop(&owner, room.id).await.json(), want);
}

#[tokio::test]
async fn re_17_stop_success_by_another_admin() {
    let rig = rig(&[]).await;
    let (room, _, owner) = room_and_user(&rig.app, Some("owner")).await;
    let rec = started(&rig, &owner, room.id, "screen_recording").await;
    let (u, admin) = rig.app.logged_in("admin@example.com").await;
    add_access(&rig.app, room.id, u.id, "administrator").await;
    let r = stop(&admin, room.id).await;
    let slug = room.slug.clone().unwrap();
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"message": format!("Recording stopped for room {slug}.")})));
    assert_eq!(status(&rig.app, rec.id).await, "stopped");
    assert_eq!(rig.lk.calls_of("StopEgress")[0].request, json!({"egressId": "EG_1"}));
    assert!(store::roles_of(&rig.app.state.db, rec.id, u.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn re_18_re_19_re_20_list_shows_every_role_newest_first_with_page_size() {
    let rig = rig(&[]).await;
    let (room, user, client) = room_and_user(&rig.app, Some("owner")).await;
    let (other, other_client) = rig.app.logged_in("other@example.com").await;
    let mut ids = Vec::new();
    for role in ["member", "administrator", "owner"] {
        let r = make(&rig.app, room.id, Mode::Transcript, Status::Saved, &[(&user, role), (&other, "owner")]).await;
        ids.push(r.id.to_string());
    }
    make(&rig.app, room.id, Mode::Transcript, Status::Saved, &[(&other, "owner")]).await;
    assert_eq!(rig.app.client().get("/api/v1.0/recordings/").await.status, 401);
    let all = client.get("/api/v1.0/recordings/").await.json();
    assert_eq!(all["count"], 3);
    let got: Vec<&str> = all["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    let want: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(got, want, "newest first");
    let first = &all["results"][0];
    let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["id", "room", "created_at", "updated_at", "status", "mode", "options", "key", "is_expired", "expired_at"],
        "NRC-SER-1"
    );
    assert_eq!(
        (&first["options"], &first["key"], &first["is_expired"], &first["expired_at"]),
        (&json!({}), &json!(format!("recordings/{}.ogg", got[0])), &json!(false), &json!(null)),
        "NRC-MOD-1, NRC-SER-1"
    );
    assert_eq!(first["room"], json!({"id": room.id, "name": room.name, "slug": room.slug, "access_level": "public"}));
    assert_eq!(other_client.get("/api/v1.0/recordings/").await.json()["count"], 4);
    let p1 = client.get("/api/v1.0/recordings/?page_size=2").await.json();
    assert_eq!(p1["results"].as_array().unwrap().len(), 2);
    let next = p1["next"].as_str().unwrap();
    assert!(next.ends_with("/api/v1.0/recordings/?page=2&page_size=2"), "{next}");
    let p2 = client.get("/api/v1.0/recordings/?page=2&page_size=2").await.json();
    assert_eq!((p2["results"].as_array().unwrap().len(), p2["next"].clone()), (1, json!(null)));
    for q in ["0", "abc", "-1"] {
        let r = client.get(&format!("/api/v1.0/recordings/?page_size={q}")).await.json();
        assert_eq!(r["results"].as_array().unwrap().len(), 3, "{q}");
    }
}

#[tokio::test]
async fn re_21_re_22_retrieve_by_role() {
    let rig = rig(&[]).await;
    let (room, owner, owner_client) = room_and_user(&rig.app, Some("owner")).await;
    let (member, member_client) = rig.app.logged_in("member@example.com").await;
    let (_, stranger) = rig.app.logged_in("stranger@example.com").await;
    let rec =
        make(&rig.app, room.id, Mode::ScreenRecording, Status::Active, &[(&owner, "owner"), (&member, "member")]).await;
    let path = format!("/api/v1.0/recordings/{}/", rec.id);
    assert_eq!(rig.app.client().get(&path).await.status, 401);
    let r = stranger.get(&path).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No Recording matches the given query."})));
    assert_eq!(member_client.get(&path).await.status, 403);
    let r = owner_client.get(&path).await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(
        (body["id"].as_str(), body["status"].as_str(), body["mode"].as_str()),
        (Some(rec.id.to_string().as_str()), Some("active"), Some("screen_recording"))
    );
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    let r = owner_client.get("/api/v1.0/recordings/abc/").await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})));
}

#[tokio::test]
async fn re_23_re_24_b5_delete_needs_a_final_status() {
    let rig = rig(&[]).await;
    let (room, owner, client) = room_and_user(&rig.app, Some("owner")).await;
    let (member, member_client) = rig.app.logged_in("member@example.com").await;
    let (_, stranger) = rig.app.logged_in("stranger@example.com").await;
    let active = make(&rig.app, room.id, Mode::ScreenRecording, Status::Active, &[(&owner, "owner")]).await;
    let path = |id: uuid::Uuid| format!("/api/v1.0/recordings/{id}/");
    assert_eq!(rig.app.client().delete(&path(active.id)).await.status, 401);
    assert_eq!(stranger.delete(&path(active.id)).await.status, 404);
    assert_eq!(client.delete(&path(active.id)).await.status, 403);
    for s in [Status::Saved, Status::NotificationSucceeded] {
        let rec = make(&rig.app, room.id, Mode::Transcript, s, &[(&owner, "owner"), (&member, "member")]).await;
        assert_eq!(member_client.delete(&path(rec.id)).await.status, 403);
        assert_eq!(client.delete(&path(rec.id)).await.status, 204, "{s}");
        assert!(store::get(&rig.app.state.db, rec.id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn re_25_other_methods_are_405() {
    let rig = rig(&[]).await;
    let (room, owner, client) = room_and_user(&rig.app, Some("owner")).await;
    let rec = make(&rig.app, room.id, Mode::Transcript, Status::Saved, &[(&owner, "owner")]).await;
    let r = client.patch(&format!("/api/v1.0/recordings/{}/", rec.id), &json!({})).await;
    assert_eq!((r.status.as_u16(), r.json()), (405, json!({"detail": "Method \"PATCH\" not allowed."})));
    assert_eq!(client.post("/api/v1.0/recordings/", &json!({})).await.status, 405);
}

#[tokio::test]
async fn rw_14_rw_15_transitions_only_move_from_their_sources() {
    let rig = rig(&[]).await;
    let (room, user, _) = room_and_user(&rig.app, Some("owner")).await;
    let db = &rig.app.state.db;
    let saved = make(&rig.app, room.id, Mode::Transcript, Status::Saved, &[(&user, "owner")]).await;
    for to in [Status::Active, Status::FailedToStart, Status::Stopped, Status::FailedToStop, Status::Aborted] {
        assert!(store::transition(db, saved.id, to, Default::default()).await.unwrap().is_none(), "{to}");
    }
    assert_eq!(status(&rig.app, saved.id).await, "saved");
    let active = make(&rig.app, room.id, Mode::Transcript, Status::Active, &[(&user, "owner")]).await;
    let moved = store::transition(db, active.id, Status::Stopped, Default::default()).await.unwrap().unwrap();
    assert_eq!(moved.status, "stopped");
    assert!(store::transition(db, active.id, Status::Stopped, Default::default()).await.unwrap().is_none(), "twice");
}
