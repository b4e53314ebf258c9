//! Rooms API: users-auth-rooms §5.3–§5.8 (R statements), the model rules seen through it (M) and
//! the bad-input cases. §10 recommendations applied: B2 (empty slugs refused), B3 (route slugs
//! reserved), B15 (one transaction), S1 (no unregistered fallback here: unknown rooms are 404).

use serde_json::{json, Value};

use crate::support::rooms::{add_access, create_room, reload, room_with_roles, spawn};
use crate::support::TestApp;

const ROOMS: &str = "/api/v1.0/rooms/";

fn room_path(id: impl std::fmt::Display) -> String {
    format!("/api/v1.0/rooms/{id}/")
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn r_1_anonymous_list_is_empty() {
    let app = spawn(&[]).await;
    for level in ["public", "trusted", "restricted"] {
        create_room(&app, level, level).await;
    }
    let r = app.client().get(ROOMS).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"count": 0, "next": null, "previous": null, "results": []}));
}

#[tokio::test]
async fn r_2_r_4_list_shows_only_my_rooms_once() {
    let app = spawn(&[]).await;
    let (me, c) = app.logged_in("me@example.com").await;
    let other = app.create_user("other@example.com").await;
    for i in 0..4 {
        create_room(&app, &format!("room {i}"), "public").await;
    }
    let mine = create_room(&app, "mine", "public").await;
    add_access(&app, mine.id, me.id, "member").await;
    add_access(&app, mine.id, other.id, "owner").await;
    let body = c.get(ROOMS).await.json();
    assert_eq!(body["count"], 1);
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    let item = &body["results"][0];
    assert_eq!(item["id"], mine.id.to_string());
    // Full representation (B11 kept): a token for every listed room; accesses only for
    // administrators (now-rooms §6.2).
    assert!(item.get("accesses").is_none());
    assert!(item["livekit"]["token"].is_string());
}

#[tokio::test]
async fn r_3_m_6_pagination_and_name_order() {
    let app = spawn(&[]).await;
    let (me, c) = app.logged_in("me@example.com").await;
    let mut names: Vec<String> = (0..23).map(|i| format!("room {:02}", 22 - i)).collect();
    for n in &names {
        let room = create_room(&app, n, "restricted").await;
        add_access(&app, room.id, me.id, "owner").await;
    }
    names.sort();
    let p1 = c.get(ROOMS).await.json();
    assert_eq!(p1["count"], 23);
    assert!(p1["next"].as_str().unwrap().ends_with("/api/v1.0/rooms/?page=2"));
    assert_eq!(p1["previous"], Value::Null);
    let got: Vec<&str> = p1["results"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(got, names[..20].iter().map(String::as_str).collect::<Vec<_>>());
    let p2 = c.get("/api/v1.0/rooms/?page=2").await.json();
    assert_eq!(p2["next"], Value::Null);
    assert!(p2["previous"].as_str().unwrap().ends_with("/api/v1.0/rooms/"));
    assert_eq!(p2["results"].as_array().unwrap().len(), 3);
    for bad in ["?page=0", "?page=abc", "?page=3", "?page=-1", "?page=99999999999999999999999"] {
        let r = c.get(&format!("{ROOMS}{bad}")).await;
        assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Invalid page."})), "{bad}");
    }
    assert_eq!(c.get("/api/v1.0/rooms/?page=last").await.json()["results"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn r_5_anonymous_create_is_401() {
    let app = spawn(&[]).await;
    let r = app.client().post(ROOMS, &json!({"name": "my room"})).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Session"));
    assert!(meet::store::rooms::get_by_slug(&app.state.db, "my-room").await.unwrap().is_none());
}

#[tokio::test]
async fn r_6_r_9_m_5_create_makes_the_caller_owner() {
    let app = spawn(&[]).await;
    let (me, c) = app.logged_in("owner@example.com").await;
    let r = c.post(&format!("{ROOMS}?username=Bob"), &json!({"name": "my room", "slug": "ignored"})).await;
    assert_eq!(r.status, 201);
    let b = r.json();
    let id = b["id"].as_str().unwrap().to_string();
    // now-rooms §6.2: HEAD's keys.
    assert_eq!(
        b.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id", "name", "slug", "configuration", "access_level", "pin_code", "accesses", "livekit"]
    );
    assert_eq!((b["name"].clone(), b["slug"].clone()), (json!("my room"), json!("my-room")));
    assert_eq!(b["access_level"], "public", "M-5: default access level");
    assert_eq!(b["configuration"], json!({}));
    assert_eq!(b["livekit"]["room"], id);
    let accesses = b["accesses"].as_array().unwrap();
    assert_eq!(accesses.len(), 1);
    assert_eq!(accesses[0]["role"], "owner");
    assert_eq!(accesses[0]["resource"], id);
    assert_eq!(
        accesses[0]["user"],
        json!({"id": me.id, "email": "owner@example.com", "full_name": "Full owner@example.com", "short_name": "Short",
               "timezone": "UTC", "language": "en-us", "default_room_access_level": null,
               "default_room_configuration": {}})
    );
    assert!(app.state.cache.scan_prefix("room-creation-callback_").await.unwrap().is_empty());
}

#[tokio::test]
async fn r_7_callback_id_is_cached_with_the_slug() {
    let app = spawn(&[]).await;
    let (_, c) = app.logged_in("a@example.com").await;
    let r = c.post(ROOMS, &json!({"name": "my room", "callback_id": "1234"})).await;
    assert_eq!(r.status, 201);
    let v = app.state.cache.get("room-creation-callback_1234").await.unwrap().expect("cached");
    assert_eq!(serde_json::from_str::<Value>(&v).unwrap(), json!({"slug": "my-room"}));
}

#[tokio::test]
async fn r_8_m_2_slug_clash() {
    let app = spawn(&[]).await;
    let (_, c) = app.logged_in("a@example.com").await;
    assert_eq!(c.post(ROOMS, &json!({"name": "my room"})).await.status, 201);
    for name in ["My Room!", "my room"] {
        let r = c.post(ROOMS, &json!({"name": name})).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, json!({"slug": ["Room with this Slug already exists."]})));
    }
}

/// The pydantic error of a configuration that is not an object.
fn model_type(input: impl Into<Value>) -> Value {
    json!({"type": "model_type", "loc": [], "msg": "Input should be a valid dictionary or instance of RoomConfiguration",
           "input": input.into(), "ctx": {"class_name": "RoomConfiguration"},
           "url": "https://errors.pydantic.dev/2.13/v/model_type"})
}

#[tokio::test]
async fn r_10_create_validation() {
    let app = spawn(&[]).await;
    let (_, c) = app.logged_in("a@example.com").await;
    let long = "a".repeat(501);
    let cases = [
        (json!({}), json!({"name": ["This field is required."]})),
        (json!({"name": "   "}), json!({"name": ["This field may not be blank."]})),
        (json!({"name": long}), json!({"name": ["Ensure this field has no more than 500 characters."]})),
        (json!({"name": null}), json!({"name": ["This field may not be null."]})),
        (json!({"name": true}), json!({"name": ["Not a valid string."]})),
        (json!({"name": [1]}), json!({"name": ["Not a valid string."]})),
        (json!({"name": {"a": 1}}), json!({"name": ["Not a valid string."]})),
        (
            json!({"name": "x", "access_level": "private"}),
            json!({"access_level": ["\"private\" is not a valid choice."]}),
        ),
        (json!({"name": "x", "access_level": 5}), json!({"access_level": ["\"5\" is not a valid choice."]})),
        (json!({"name": "x", "configuration": null}), json!({"configuration": ["This field may not be null."]})),
        (json!({"name": "a\0b"}), json!({"name": ["Null characters are not allowed."]})),
        // now-rooms §6.1: the `RoomConfiguration` schema's pydantic errors.
        (
            json!({"name": "x", "configuration": {"k\0": "v"}}),
            json!({"configuration": [{"type": "extra_forbidden", "loc": ["k\0"], "msg": "Extra inputs are not permitted",
                   "input": "v", "url": "https://errors.pydantic.dev/2.13/v/extra_forbidden"}]}),
        ),
        (json!({"name": "x", "configuration": [1, 2]}), json!({"configuration": [model_type(json!(["1", "2"]))]})),
        (json!({"name": "x", "configuration": "dark"}), json!({"configuration": [model_type("dark")]})),
        (
            json!({"access_level": "nope", "configuration": 3}),
            json!({"name": ["This field is required."], "access_level": ["\"nope\" is not a valid choice."],
                   "configuration": [model_type("3")]}),
        ),
    ];
    for (body, expected) in cases {
        let r = c.post(ROOMS, &body).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, expected), "{body}");
    }
    let r = c.post(ROOMS, &json!({"name": 123})).await;
    assert_eq!((r.status.as_u16(), r.json()["name"].clone()), (201, json!("123")));
    let r = c.post(ROOMS, &json!([1])).await;
    assert_eq!(r.status, 400);
    let r = c
        .http
        .post(app.url(ROOMS))
        .header("X-CSRFToken", c.csrf.clone().unwrap())
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn m_1_m_3_m_4_b2_b3_model_rules_on_create() {
    let app = spawn(&[]).await;
    let (_, c) = app.logged_in("a@example.com").await;
    let r = c.post(ROOMS, &json!({"name": "Eléphant in the room"})).await;
    assert_eq!(r.json()["slug"], "elephant-in-the-room", "M-1");
    assert_eq!(c.post(ROOMS, &json!({"name": "a".repeat(100)})).await.status, 201, "M-3");
    let r = c.post(ROOMS, &json!({"name": "a".repeat(101)})).await;
    assert_eq!(r.json(), json!({"slug": ["Ensure this value has at most 100 characters (it has 101)."]}));
    let uuid_name = "918689fb-038e 4e81-bf09 efd5902c5f0b";
    let r = c.post(ROOMS, &json!({"name": uuid_name})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"name": ["Room name \"918689fb-038e 4e81-bf09 efd5902c5f0b\" is reserved."]})),
        "M-4"
    );
    for name in ["creation callback", "Webhooks-LiveKit"] {
        let r = c.post(ROOMS, &json!({"name": name})).await;
        assert_eq!(
            (r.status.as_u16(), r.json()),
            (400, json!({"name": [format!("Room name \"{name}\" is reserved.")]})),
            "B3"
        );
    }
    // M-13 as changed by B2: a name without any ASCII-foldable character is refused.
    for name in ["会议", "Москва", "!!!"] {
        let r = c.post(ROOMS, &json!({"name": name})).await;
        let msg = format!("Room name \"{name}\" must contain at least one ASCII letter or digit.");
        assert_eq!((r.status.as_u16(), r.json()), (400, json!({"name": [msg]})), "B2 {name}");
    }
}

#[tokio::test]
async fn r_11_r_12_anonymous_sees_only_the_public_fields_of_closed_rooms() {
    let app = spawn(&[]).await;
    for level in ["restricted", "trusted"] {
        let room = create_room(&app, &format!("{level} room"), level).await;
        let b = app.client().get(&room_path(room.id)).await.json();
        assert_eq!(
            b,
            json!({"id": room.id, "name": format!("{level} room"), "slug": format!("{level}-room"),
                   "configuration": {}, "access_level": level})
        );
    }
}

#[tokio::test]
async fn r_13_r_14_lookup_by_id_forms_and_slug() {
    let app = spawn(&[]).await;
    let room = create_room(&app, "Réunion", "public").await;
    let id = room.id.to_string();
    let forms = [
        id.clone(),
        id.to_uppercase(),
        room.id.simple().to_string(),
        format!("%7B{id}%7D"),
        format!("urn:uuid:{id}"),
        "reunion".into(),
        "R%C3%A9union".into(),
    ];
    for f in forms {
        let r = app.client().get(&room_path(&f)).await;
        assert_eq!((r.status.as_u16(), r.json()["id"].clone()), (200, json!(id)), "{f}");
    }
}

#[tokio::test]
async fn r_17_r_28_unknown_identifiers_are_404_without_unregistered_rooms() {
    let app = spawn(&[("ALLOW_UNREGISTERED_ROOMS", "false")]).await;
    let (_, c) = app.logged_in("a@example.com").await;
    let created = c.post(ROOMS, &json!({"name": "old name"})).await.json();
    c.patch(&room_path(created["id"].as_str().unwrap()), &json!({"name": "new name"})).await;
    let no_match = json!({"detail": "No Room matches the given query."});
    for ident in [
        "unregistered-room".to_string(),
        "11111111-1111-1111-1111-111111111111".into(),
        "old-name".into(),
        "a".repeat(3000),
    ] {
        let r = app.client().get(&room_path(&ident)).await;
        assert_eq!((r.status.as_u16(), r.json()), (404, no_match.clone()), "{ident}");
    }
}

#[tokio::test]
async fn r_33_r_34_s1_b2_uuid_and_empty_identifiers_never_get_a_token() {
    let app = spawn(&[]).await;
    let room = create_room(&app, "secret", "restricted").await;
    let no_match = json!({"detail": "No Room matches the given query."});
    for ident in [format!("{}_", room.id), format!("{}%21", room.id), "!!!".into(), "%F0%9F%98%80".into()] {
        let r = app.client().get(&room_path(&ident)).await;
        assert_eq!((r.status.as_u16(), r.json()), (404, no_match.clone()), "{ident}");
    }
}

#[tokio::test]
async fn r_18_r_19_r_20_livekit_by_access_level() {
    let app = spawn(&[]).await;
    let (_, c) = app.logged_in("u@example.com").await;
    for (level, anon, user) in [("public", true, true), ("trusted", false, true), ("restricted", false, false)] {
        let room = create_room(&app, level, level).await;
        let a = app.client().get(&room_path(room.id)).await.json();
        assert_eq!(a.get("livekit").is_some(), anon, "anonymous {level}");
        let u = c.get(&room_path(room.id)).await.json();
        assert_eq!(u.get("livekit").is_some(), user, "stranger {level}");
        // now-rooms §6.2: the configuration is always shown, accesses to administrators only.
        assert!(u.get("accesses").is_none() && u.get("is_administrable").is_none());
        assert_eq!(u["configuration"], json!({}));
        assert_eq!(u.get("pin_code").is_some(), user, "pin_code goes with livekit");
        if user {
            assert_eq!(u["livekit"]["room"], room.id.to_string());
            assert_eq!(u["livekit"]["url"], "https://livekit.example");
        }
    }
}

#[tokio::test]
async fn r_21_r_22_members_and_administrators() {
    let app = spawn(&[]).await;
    let (room, [member, admin, owner]) = room_with_roles(&app, "team", "restricted").await;
    let m = app.client_for(&member).await.get(&room_path(room.id)).await.json();
    // now-rooms §6.2 (NR-CFG-2): members see no accesses.
    assert_eq!(keys(&m), ["access_level", "configuration", "id", "livekit", "name", "pin_code", "slug"]);
    for u in [admin, owner] {
        let b = app.client_for(&u).await.get(&room_path(room.id)).await.json();
        assert_eq!(b["configuration"], json!({}));
        assert!(b.get("is_administrable").is_none());
        let accesses = b["accesses"].as_array().unwrap();
        assert_eq!(accesses.len(), 3);
        // Newest first: owner, administrator, member.
        let roles: Vec<&str> = accesses.iter().map(|a| a["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["owner", "administrator", "member"]);
        assert_eq!(accesses[2]["user"]["id"], member.id.to_string());
        assert_eq!(accesses[2]["resource"], room.id.to_string());
        assert!(b["livekit"].is_object());
    }
}

#[tokio::test]
async fn r_23_r_24_r_26_update_refusals_leave_the_room_unchanged() {
    let app = spawn(&[]).await;
    let (room, [member, ..]) = room_with_roles(&app, "team", "restricted").await;
    let (other_room, [_, other_admin, _]) = room_with_roles(&app, "other", "restricted").await;
    let _ = other_room;
    let stranger = app.create_user("s@example.com").await;
    let body = json!({"name": "changed", "access_level": "public", "configuration": {"a": 1}});
    let r = app.client().put(&room_path(room.id), &body).await;
    assert_eq!(r.status, 401, "R-23");
    for u in [stranger, member, other_admin] {
        let r = app.client_for(&u).await.put(&room_path(room.id), &body).await;
        assert_eq!(
            (r.status.as_u16(), r.json()),
            (403, json!({"detail": "You do not have permission to perform this action."}))
        );
    }
    assert_eq!(reload(&app, room.id).await.unwrap(), room);
}

#[tokio::test]
async fn r_25_r_27_administrators_and_owners_update() {
    let app = spawn(&[]).await;
    let (room, [_, admin, owner]) = room_with_roles(&app, "team", "restricted").await;
    for (i, u) in [admin, owner].into_iter().enumerate() {
        let c = app.client_for(&u).await;
        let name = format!("New name {i}");
        let body = json!({"name": name, "slug": "should-be-ignored", "access_level": "public", "configuration": {"everyone_can_mute": false}});
        let r = c.put(&room_path(room.id), &body).await;
        assert_eq!(r.status, 200);
        let b = r.json();
        assert_eq!(b["slug"], format!("new-name-{i}"));
        assert_eq!(b["configuration"], json!({"everyone_can_mute": false}));
        assert!(b["livekit"]["token"].is_string() && b["accesses"].is_array());
        let stored = reload(&app, room.id).await.unwrap();
        assert_eq!((stored.name.as_str(), stored.access_level.as_str()), (name.as_str(), "public"));
    }
    let c = app.client_for(&owner_of(&app, room.id).await).await;
    let r = c.put(&room_path(room.id), &json!({"access_level": "trusted"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"name": ["This field is required."]})));
    let r = c.patch(&room_path(room.id), &json!({"name": "Renamed Room"})).await;
    assert_eq!((r.status.as_u16(), r.json()["slug"].clone()), (200, json!("renamed-room")));
    let r = c.patch(&room_path("renamed-room"), &json!({"access_level": "trusted"})).await;
    assert_eq!(r.json()["access_level"], "trusted");
    assert_eq!(r.json()["name"], "Renamed Room");
    for (body, expected) in [
        (json!({"name": "会"}), json!({"name": ["Room name \"会\" must contain at least one ASCII letter or digit."]})),
        (json!({"name": "creation-callback"}), json!({"name": ["Room name \"creation-callback\" is reserved."]})),
        (json!({"access_level": "secret"}), json!({"access_level": ["\"secret\" is not a valid choice."]})),
        (json!({"configuration": [1]}), json!({"configuration": [model_type(json!(["1"]))]})),
        (json!({"name": ""}), json!({"name": ["This field may not be blank."]})),
    ] {
        let r = c.patch(&room_path(room.id), &body).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, expected), "{body}");
    }
    let taken = c.post(ROOMS, &json!({"name": "taken"})).await;
    assert_eq!(taken.status, 201);
    let r = c.patch(&room_path(room.id), &json!({"name": "Taken!"})).await;
    assert_eq!(r.json(), json!({"slug": ["Room with this Slug already exists."]}));
}

async fn owner_of(app: &TestApp, room: uuid::Uuid) -> meet::store::users::User {
    let all = meet::store::rooms::accesses_of(&app.state.db, &[room]).await.unwrap();
    let owner = all.iter().find(|a| a.role == "owner").expect("an owner");
    meet::store::users::get(&app.state.db, owner.user_id).await.unwrap().unwrap()
}

#[tokio::test]
async fn r_29_r_30_m_14_only_owners_delete_and_cascades_apply() {
    let app = spawn(&[]).await;
    let (room, [member, admin, owner]) = room_with_roles(&app, "team", "public").await;
    let stranger = app.create_user("s@example.com").await;
    assert_eq!(app.client().delete(&room_path(room.id)).await.status, 401);
    for u in [stranger, member, admin] {
        let r = app.client_for(&u).await.delete(&room_path(room.id)).await;
        assert_eq!(r.status, 403);
    }
    assert!(reload(&app, room.id).await.is_some());
    let recording = meet::store::recordings::insert_with_owner(
        &app.state.db,
        room.id,
        "screen_recording",
        serde_json::json!({}),
        owner.id,
    )
    .await
    .expect("recording");
    let r = app.client_for(&owner).await.delete(&room_path("team")).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (204, ""));
    assert!(r.header("content-type").is_none());
    assert!(reload(&app, room.id).await.is_none());
    assert_eq!(crate::support::rooms::access_count(&app, room.id).await, 0, "M-14: accesses deleted");
    assert!(meet::store::recordings::get(&app.state.db, recording.id).await.unwrap().is_none(), "M-14: recordings");
    assert!(meet::store::recordings::roles_of(&app.state.db, recording.id, owner.id).await.unwrap().is_empty());
    let r = app.client_for(&owner).await.delete(&room_path(room.id)).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No Room matches the given query."})));
}

#[tokio::test]
async fn r_31_r_32_r_35_routing() {
    let app = spawn(&[]).await;
    let c = app.client();
    let r = c.get("/api/v1.0/rooms/my.room/").await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})), "R-31");
    let r = c.get("/api/v1.0/rooms/creation-callback/").await;
    assert_eq!((r.status.as_u16(), r.json()), (405, json!({"detail": "Method \"GET\" not allowed."})), "R-32");
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
    assert_eq!(c.get("/api/v1.0/rooms/webhooks-livekit/").await.status, 405, "R-32");
    let r = c.post("/api/v1.0/rooms", &json!({})).await;
    assert_eq!((r.status.as_u16(), r.header("location")), (301, Some("/api/v1.0/rooms/")), "R-35");
    let r = c.get("/api/v1.0/rooms/some-room?username=x").await;
    assert_eq!(r.header("location"), Some("/api/v1.0/rooms/some-room/?username=x"));
    assert_eq!(c.get(ROOMS).await.header("allow"), Some("GET, POST, HEAD, OPTIONS"));
    assert_eq!(c.get(&room_path("x")).await.header("allow"), Some("GET, PUT, PATCH, DELETE, HEAD, OPTIONS"));
}

#[tokio::test]
async fn m_15_deleting_the_only_owner_leaves_the_room_ownerless() {
    let app = spawn(&[]).await;
    let (room, [_, _, owner]) = room_with_roles(&app, "team", "public").await;
    meet::store::Q::new("DELETE FROM meet_user WHERE id = $1").bind(owner.id).execute(&app.state.db).await.unwrap();
    assert!(reload(&app, room.id).await.is_some());
    let all = meet::store::rooms::accesses_of(&app.state.db, &[room.id]).await.unwrap();
    assert!(all.iter().all(|a| a.role != "owner") && all.len() == 2);
}
