//! Rooms at upstream HEAD: the room representation, the `RoomConfiguration` schema, creator
//! defaults, PINs, the LiveKit metadata push and the join token (now-rooms §6, §7, §10.1).

use serde_json::{json, Value};

use crate::support::livekit::{Failure, LiveKitDouble};
use crate::support::rooms::{add_access, create_room, decode_token, reload, spawn};
use crate::support::TestApp;

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().expect("an object").keys().map(String::as_str).collect()
}

fn claims_of(body: &Value) -> Value {
    decode_token(body["livekit"]["token"].as_str().expect("a token")).1
}

/// An app talking to a LiveKit double, with extra settings.
async fn spawn_with_livekit(extra: &[(&str, &str)]) -> (TestApp, LiveKitDouble) {
    let lk = LiveKitDouble::start().await;
    (lk.spawn_app(extra).await, lk)
}

#[tokio::test]
async fn nr_cfg_1_anonymous_sees_configuration_but_no_pin_on_a_restricted_room() {
    let app = spawn(&[]).await;
    let room = create_room(&app, "closed room", "restricted").await;
    let body = app.client().get(&format!("/api/v1.0/rooms/{}/", room.id)).await.json();
    assert_eq!(keys(&body), ["id", "name", "slug", "configuration", "access_level"]);
    assert_eq!(body["configuration"], json!({}));
}

#[tokio::test]
async fn nr_cfg_2_nr_cfg_3_members_get_the_pin_and_only_admins_the_accesses() {
    let app = spawn(&[]).await;
    let room = create_room(&app, "team room", "restricted").await;
    let (member, member_client) = app.logged_in("member@example.com").await;
    let (owner, owner_client) = app.logged_in("owner@example.com").await;
    add_access(&app, room.id, member.id, "member").await;
    add_access(&app, room.id, owner.id, "owner").await;
    let path = format!("/api/v1.0/rooms/{}/", room.id);

    let m = member_client.get(&path).await.json();
    assert_eq!(keys(&m), ["id", "name", "slug", "configuration", "access_level", "pin_code", "livekit"], "NR-CFG-2");
    assert_eq!(m["pin_code"], Value::Null);

    let o = owner_client.get(&path).await.json();
    assert_eq!(
        keys(&o),
        ["id", "name", "slug", "configuration", "access_level", "pin_code", "accesses", "livekit"],
        "NR-CFG-3"
    );
    let user = &o["accesses"][0]["user"];
    assert_eq!(
        keys(user),
        [
            "id",
            "email",
            "full_name",
            "short_name",
            "timezone",
            "language",
            "default_room_access_level",
            "default_room_configuration"
        ],
        "NR-CFG-3"
    );
}

#[tokio::test]
async fn nr_cfg_4_unregistered_rooms_have_heads_keys() {
    let app = spawn(&[]).await;
    let body = app.client().get("/api/v1.0/rooms/some-free-room/").await.json();
    assert_eq!(keys(&body), ["id", "slug", "is_administrable", "access_level", "livekit"]);
    assert_eq!(body["id"], Value::Null);
    assert_eq!(body["slug"], "some-free-room");
    assert_eq!(body["is_administrable"], false);
    assert_eq!(body["access_level"], "public");
    let claims = claims_of(&body);
    assert_eq!(claims["video"]["room"], "some-free-room");
    assert_eq!(claims["video"]["roomAdmin"], false);
}

#[tokio::test]
async fn nr_cfg_5_nr_cfg_6_nr_cfg_7_creator_defaults_apply_on_create() {
    let app = spawn(&[]).await;
    let (user, client) = app.logged_in("creator@example.com").await;
    let me = format!("/api/v1.0/users/{}/", user.id);
    let r = client
        .patch(
            &me,
            &json!({"default_room_access_level": "restricted",
                             "default_room_configuration": {"everyone_can_mute": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = client.post("/api/v1.0/rooms/", &json!({"name": "my room", "configuration": {}})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["access_level"], "restricted", "NR-CFG-5");
    assert_eq!(r.json()["configuration"], json!({"everyone_can_mute": true}), "NR-CFG-6");

    let r = client.post("/api/v1.0/rooms/", &json!({"name": "other room", "access_level": "trusted"})).await;
    assert_eq!(r.json()["access_level"], "trusted", "NR-CFG-5: the request wins");

    let r = client
        .post("/api/v1.0/rooms/", &json!({"name": "third room", "configuration": {"everyone_can_mute": false}}))
        .await;
    assert_eq!(r.json()["configuration"], json!({"everyone_can_mute": false}), "NR-CFG-6: the request wins");

    client.patch(&me, &json!({"default_room_access_level": ""})).await;
    let r = client.post("/api/v1.0/rooms/", &json!({"name": "fourth room"})).await;
    assert_eq!(r.json()["access_level"], "public", "NR-CFG-7: instance default");
}

#[tokio::test]
async fn nr_cfg_12_configuration_is_validated_and_the_row_kept() {
    let app = spawn(&[]).await;
    let room = create_room(&app, "valid room", "public").await;
    let (owner, client) = app.logged_in("owner@example.com").await;
    add_access(&app, room.id, owner.id, "owner").await;
    let path = format!("/api/v1.0/rooms/{}/", room.id);

    let r = client.patch(&path, &json!({"configuration": {"can_publish_sources": "camera"}})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"configuration": [{"type": "list_type", "loc": ["can_publish_sources"],
            "msg": "Input should be a valid list", "input": "camera",
            "url": "https://errors.pydantic.dev/2.13/v/list_type"}]})
    );
    let r = client.patch(&path, &json!({"configuration": {"everyone_can_mute": []}})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["configuration"][0]["type"], "bool_type");
    let r = client.patch(&path, &json!({"configuration": {"arbitrary_key": "value"}})).await;
    assert_eq!(
        r.json(),
        json!({"configuration": [{"type": "extra_forbidden", "loc": ["arbitrary_key"],
            "msg": "Extra inputs are not permitted", "input": "value",
            "url": "https://errors.pydantic.dev/2.13/v/extra_forbidden"}]})
    );
    let r = client.patch(&path, &json!({"configuration": null})).await;
    assert_eq!(r.json(), json!({"configuration": ["This field may not be null."]}));
    let r = client.patch(&path, &json!({"configuration": ["camera"]})).await;
    assert_eq!(r.json()["configuration"][0]["type"], "model_type");
    assert_eq!(reload(&app, room.id).await.unwrap().configuration.0, json!({}), "row unchanged");

    // Lax values are accepted and stored canonical (B-CFG-1).
    let r = client
        .patch(&path, &json!({"configuration": {"everyone_can_mute": "yes", "can_publish_sources": ["camera"]}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["configuration"], json!({"everyone_can_mute": true, "can_publish_sources": ["camera"]}));
}

#[tokio::test]
async fn nr_cfg_8_nr_cfg_9_no_push_without_a_change() {
    let (app, lk) = spawn_with_livekit(&[]).await;
    let (_, client) = app.logged_in("owner@example.com").await;
    let room = client.post("/api/v1.0/rooms/", &json!({"name": "quiet room"})).await.json();
    let id = room["id"].as_str().unwrap().to_string();
    lk.add_room(&id);
    let path = format!("/api/v1.0/rooms/{id}/");
    assert_eq!(client.patch(&path, &json!({"name": "renamed room"})).await.status, 200);
    assert_eq!(client.patch(&path, &json!({"configuration": {}})).await.status, 200);
    // A later change is pushed: once it is seen, the earlier requests did not push anything.
    assert_eq!(client.patch(&path, &json!({"access_level": "trusted"})).await.status, 200);
    let pushes = lk.wait_for("UpdateRoomMetadata", 1).await;
    assert_eq!(pushes.len(), 1, "NR-CFG-8, NR-CFG-9: only the access level change was pushed");
    assert_eq!(lk.calls_of("ListRooms").len(), 1);
}

#[tokio::test]
async fn nr_cfg_10_changes_are_merged_into_the_livekit_metadata() {
    let (app, lk) = spawn_with_livekit(&[]).await;
    let (_, client) = app.logged_in("owner@example.com").await;
    let room = client.post("/api/v1.0/rooms/", &json!({"name": "live room"})).await.json();
    let id = room["id"].as_str().unwrap().to_string();
    lk.add_room_with_metadata(&id, r#"{"recording_status": "active"}"#);
    let body = json!({"name": "live room", "access_level": "public",
                      "configuration": {"can_publish_sources": ["microphone"], "everyone_can_mute": false}});
    let r = client.put(&format!("/api/v1.0/rooms/{id}/"), &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pushes = lk.wait_for("UpdateRoomMetadata", 1).await;
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].request["room"], id);
    assert_eq!(pushes[0].claims_room, id, "the roomAdmin grant names the room");
    let text = pushes[0].request["metadata"].as_str().unwrap();
    // Existing keys first, Python's separators (the configuration's own key order is the
    // database's: PostgreSQL's jsonb sorts keys).
    assert!(text.starts_with(r#"{"recording_status": "active", "configuration": {"#), "{text}");
    assert!(text.ends_with(r#"}, "access_level": "public"}"#), "{text}");
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        parsed,
        json!({"recording_status": "active", "access_level": "public",
               "configuration": {"can_publish_sources": ["microphone"], "everyone_can_mute": false}})
    );
}

#[tokio::test]
async fn nr_cfg_11_livekit_failures_never_fail_the_update() {
    let (app, lk) = spawn_with_livekit(&[]).await;
    let (_, client) = app.logged_in("owner@example.com").await;
    let room = client.post("/api/v1.0/rooms/", &json!({"name": "flaky room"})).await.json();
    let id = room["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1.0/rooms/{id}/");

    // Not running: ListRooms answers no room, nothing is pushed.
    let r = client.patch(&path, &json!({"access_level": "trusted"})).await;
    assert_eq!((r.status.as_u16(), r.json()["access_level"].clone()), (200, json!("trusted")));
    lk.wait_for("ListRooms", 1).await;

    // Running, but LiveKit fails the update; then unparsable metadata (B-CFG-3).
    lk.add_room_with_metadata(&id, "not json");
    lk.fail_method("UpdateRoomMetadata", Some(Failure::Twirp(500, "internal")));
    let r = client.patch(&path, &json!({"access_level": "restricted"})).await;
    assert_eq!(r.status, 200);
    let failed = lk.wait_for("UpdateRoomMetadata", 1).await;
    assert_eq!(failed[0].request, Value::Null, "the failed attempt");
    lk.fail_method("UpdateRoomMetadata", None);
    let r = client.patch(&path, &json!({"access_level": "public"})).await;
    assert_eq!(r.status, 200);
    let pushes = lk.wait_for("UpdateRoomMetadata", 2).await;
    assert_eq!(pushes[1].request["metadata"], r#"{"configuration": {}, "access_level": "public"}"#);
    assert_eq!(reload(&app, id.parse().unwrap()).await.unwrap().access_level, "public");
}

#[tokio::test]
async fn nr_tk_1_nr_tk_2_nr_tk_3_token_grants_follow_role_and_configuration() {
    let app = spawn(&[]).await;
    let (owner, owner_client) = app.logged_in("owner@example.com").await;
    let (member, member_client) = app.logged_in("member@example.com").await;
    let room = owner_client
        .post("/api/v1.0/rooms/", &json!({"name": "camera room", "configuration": {"can_publish_sources": ["camera"]}}))
        .await
        .json();
    let id: uuid::Uuid = room["id"].as_str().unwrap().parse().unwrap();
    add_access(&app, id, member.id, "member").await;
    let path = format!("/api/v1.0/rooms/{id}/");

    let m = claims_of(&member_client.get(&path).await.json());
    assert_eq!(m["video"]["canPublishSources"], json!(["camera"]), "NR-TK-1");
    assert_eq!(m["video"]["canPublish"], true, "NR-TK-1");
    assert_eq!(m["video"]["roomAdmin"], false, "NR-TK-1");
    assert_eq!(m["video"]["canUpdateOwnMetadata"], false);
    assert_eq!(m["attributes"]["room_role"], "member", "NR-TK-1");
    assert_eq!(m["attributes"]["is_authenticated"], "true");

    let o = claims_of(&owner_client.get(&path).await.json());
    assert_eq!(
        o["video"]["canPublishSources"],
        json!(["camera", "microphone", "screen_share", "screen_share_audio"]),
        "NR-TK-2"
    );
    assert_eq!(o["video"]["roomAdmin"], true, "NR-TK-2");
    assert_eq!(o["attributes"]["room_role"], "owner");
    assert_eq!(o["sub"], owner.sub.clone().unwrap());

    owner_client.patch(&path, &json!({"configuration": {"can_publish_sources": []}})).await;
    let anon = claims_of(&app.client().get(&path).await.json());
    assert_eq!(anon["video"]["canPublish"], false, "NR-TK-3");
    assert_eq!(anon["video"]["canPublishSources"], json!([]), "NR-TK-3");
    assert_eq!(anon["attributes"]["is_authenticated"], "false");
    assert_eq!(anon["attributes"]["room_role"], "");
}

#[tokio::test]
async fn nr_tk_4_nr_tk_5_display_names() {
    let app = spawn(&[("AUTHENTICATED_PARTICIPANTS_CAN_EDIT_DISPLAY_NAME", "false")]).await;
    let room = create_room(&app, "names room", "public").await;
    let path = format!("/api/v1.0/rooms/{}/?username=Custom", room.id);
    let (_, jane) = app.logged_in("jane@example.com").await;
    assert_eq!(claims_of(&jane.get(&path).await.json())["name"], "Full jane@example.com", "NR-TK-4");
    let anon = app.client().get(&format!("/api/v1.0/rooms/{}/?username=Guest42", room.id)).await.json();
    assert_eq!(claims_of(&anon)["name"], "Guest42", "NR-TK-4");

    let nameless = meet::store::users::create(
        &app.state.db,
        meet::store::users::NewUser {
            sub: Some("nameless".into()),
            email: Some("nameless@example.com".into()),
            ..Default::default()
        },
        "en-us",
    )
    .await
    .unwrap();
    let c = app.client_for(&nameless).await;
    let body = c.get(&format!("/api/v1.0/rooms/{}/", room.id)).await.json();
    assert_eq!(claims_of(&body)["name"], "nameless@example.com", "NR-TK-5");
}

#[tokio::test]
async fn nr_tel_1_no_pin_when_telephony_and_roomkit_are_off() {
    let app = spawn(&[]).await;
    let (_, client) = app.logged_in("owner@example.com").await;
    let r = client.post("/api/v1.0/rooms/", &json!({"name": "plain room"})).await;
    assert_eq!(r.json()["pin_code"], Value::Null);
}

#[tokio::test]
async fn nr_tel_2_roomkit_rooms_get_a_pin_of_the_configured_length() {
    for (vars, length) in [
        (vec![("ROOMKIT_ENABLED", "true")], 10),
        (vec![("ROOM_TELEPHONY_ENABLED", "true"), ("ROOM_TELEPHONY_PIN_LENGTH", "6")], 6),
    ] {
        let app = spawn(&vars).await;
        let (_, client) = app.logged_in("owner@example.com").await;
        let a = client.post("/api/v1.0/rooms/", &json!({"name": "pin room"})).await.json();
        let b = client.post("/api/v1.0/rooms/", &json!({"name": "pin room 2"})).await.json();
        let pin = a["pin_code"].as_str().expect("a PIN");
        assert_eq!(pin.len(), length, "{vars:?}");
        assert!(pin.chars().all(|c| c.is_ascii_digit()));
        assert_ne!(a["pin_code"], b["pin_code"]);
        // The PIN is read-only.
        let path = format!("/api/v1.0/rooms/{}/", a["id"].as_str().unwrap());
        let r = client.patch(&path, &json!({"pin_code": "0000000000"})).await;
        assert_eq!(r.json()["pin_code"], a["pin_code"]);
    }
}

#[tokio::test]
async fn nr_migration_5_existing_rooms_and_users_migrate_in_place() {
    use meet::store::{Db, Q};
    let test_db = crate::support::TestDb::new().await;
    let url = if test_db.url.starts_with("postgres") {
        meet::config::DatabaseUrl::Postgres(test_db.url.clone())
    } else {
        meet::config::DatabaseUrl::Sqlite(test_db.url.clone())
    };
    let db = Db::connect(&url, 2).await.expect("connect");
    meet::store::migrations::migrate_until(&db, 4).await.expect("schema of version 4");
    // Rows of the version-4 schema (written in SQL: the store API speaks the current schema).
    let user = uuid::Uuid::new_v4();
    Q::new(
        "INSERT INTO meet_user (id, password, is_superuser, created_at, updated_at, sub, email, language, \
         timezone, is_device, is_staff, is_active) VALUES ($1, '!', false, $2, $2, 'old-sub', 'old@example.com', \
         'en-us', 'Europe/Paris', false, false, true)",
    )
    .bind(user)
    .bind(chrono::Utc::now())
    .execute(&db)
    .await
    .expect("user");
    let legacy = [json!({}), json!(["legacy", "list"]), json!({"everyone_can_mute": "no", "old_key": 1})];
    let mut ids = Vec::new();
    for (i, configuration) in legacy.iter().enumerate() {
        let id = uuid::Uuid::new_v4();
        Q::new("INSERT INTO meet_resource (id, created_at, updated_at) VALUES ($1, $2, $2)")
            .bind(id)
            .bind(chrono::Utc::now())
            .execute(&db)
            .await
            .expect("resource");
        Q::new("INSERT INTO meet_room (resource_id, name, slug, configuration, access_level) VALUES ($1, $2, $2, $3, 'public')")
            .bind(id)
            .bind(format!("old-room-{i}"))
            .bind(configuration.clone())
            .execute(&db)
            .await
            .expect("room");
        ids.push(id);
    }

    let applied = meet::store::migrations::migrate(&db).await.expect("migrate");
    assert!(applied >= 1, "step 5 and every later step applied, got {applied}");

    let rooms: Vec<_> = {
        let mut out = Vec::new();
        for id in &ids {
            out.push(meet::store::rooms::get(&db, *id).await.unwrap().unwrap());
        }
        out
    };
    let pins: std::collections::HashSet<String> =
        rooms.iter().map(|r| r.pin_code.clone().expect("a PIN for every existing room")).collect();
    assert_eq!(pins.len(), 3, "distinct PINs");
    assert!(pins.iter().all(|p| p.len() == 10 && p.chars().all(|c| c.is_ascii_digit())));
    assert_eq!(rooms[0].configuration.0, json!({}));
    assert_eq!(rooms[1].configuration.0, json!({}), "B-CFG-2: a non-object becomes {{}}");
    assert_eq!(rooms[2].configuration.0, json!({"everyone_can_mute": false}), "B-CFG-2: unknown keys dropped");
    let u = meet::store::users::get(&db, user).await.unwrap().unwrap();
    assert_eq!(u.timezone, "Europe/Paris");
    assert_eq!(u.default_room_access_level, None);
    assert_eq!(u.default_room_configuration.0, json!({}));
    assert_eq!(meet::store::migrations::migrate(&db).await.expect("again"), 0);
}

#[tokio::test]
async fn nr_cfg_13_the_room_list_honours_page_size() {
    let app = spawn(&[]).await;
    let (_, owner) = app.logged_in("pages@example.com").await;
    for i in 0..11 {
        assert_eq!(owner.post("/api/v1.0/rooms/", &json!({"name": format!("paged {i}")})).await.status, 201);
    }
    let first = owner.get("/api/v1.0/rooms/?page_size=2").await.json();
    assert_eq!(first["count"], 11);
    assert_eq!(first["results"].as_array().unwrap().len(), 2);
    assert!(first["next"].as_str().unwrap().ends_with("/api/v1.0/rooms/?page=2&page_size=2"), "{first}");
    let last = owner.get("/api/v1.0/rooms/?page=6&page_size=2").await.json();
    assert_eq!(last["results"].as_array().unwrap().len(), 1);
    assert!(last["previous"].as_str().unwrap().ends_with("/api/v1.0/rooms/?page=5&page_size=2"), "{last}");
    // Capped at 100; invalid values fall back to 20.
    assert_eq!(owner.get("/api/v1.0/rooms/?page_size=1000").await.json()["results"].as_array().unwrap().len(), 11);
    assert_eq!(owner.get("/api/v1.0/rooms/?page_size=zero").await.json()["results"].as_array().unwrap().len(), 11);
    // The accesses list keeps the default size (no `page_size` there upstream).
    let accesses = owner.get("/api/v1.0/resource-accesses/?page_size=2").await.json();
    assert_eq!(accesses["results"].as_array().unwrap().len(), 11);
}
