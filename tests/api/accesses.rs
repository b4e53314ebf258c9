//! Resource accesses API: users-auth-rooms §5.10 (RA statements), with B1 (PUT/PATCH without
//! `role` is a 400) and B16 (owners cannot change other owners) applied.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::rooms::{access_count, add_access, create_room, role_now, room_with_roles, spawn};
use crate::support::TestApp;

const LIST: &str = "/api/v1.0/resource-accesses/";
const FORBIDDEN: &str = "You do not have permission to perform this action.";
const MUST_ADMIN: &str = "You must be administrator or owner of a room to add accesses to it.";
const ONLY_OWNERS: &str = "Only owners of a room can assign other users as owners.";
const LAST_OWNER: &str = "A resource should keep at least one owner.";

fn path(id: impl std::fmt::Display) -> String {
    format!("/api/v1.0/resource-accesses/{id}/")
}

fn detail(m: &str) -> Value {
    json!({ "detail": m })
}

/// A room with `n` accesses of other users (members), and the caller's access with `role`.
async fn room_for(app: &TestApp, caller: Uuid, role: Option<&str>, others: usize) -> Uuid {
    let room = create_room(app, &format!("room {}", Uuid::new_v4().simple()), "public").await;
    for _ in 0..others {
        let u = app.create_user(&format!("{}@example.com", Uuid::new_v4().simple())).await;
        add_access(app, room.id, u.id, "member").await;
    }
    if let Some(role) = role {
        add_access(app, room.id, caller, role).await;
    }
    room.id
}

#[tokio::test]
async fn ra_1_ra_7_ra_10_ra_18_ra_26_anonymous_is_401() {
    let app = spawn(&[]).await;
    let (room, [member, ..]) = room_with_roles(&app, "r", "public").await;
    let a = crate::support::rooms::add_access(&app, room.id, app.create_user("x@example.com").await.id, "member").await;
    let c = app.client();
    let unauth = detail("Authentication credentials were not provided.");
    for r in [
        c.get(LIST).await,
        c.get(&path(a.id)).await,
        c.post(LIST, &json!({"user": member.id, "resource": room.id})).await,
        c.put(&path(a.id), &json!({"role": "owner"})).await,
        c.patch(&path(a.id), &json!({"role": "owner"})).await,
        c.delete(&path(a.id)).await,
    ] {
        assert_eq!((r.status.as_u16(), r.json()), (401, unauth.clone()));
    }
    assert_eq!(access_count(&app, room.id).await, 4);
    assert_eq!(role_now(&app, a.id).await.as_deref(), Some("member"));
}

#[tokio::test]
async fn ra_2_to_ra_5_list_by_role() {
    let app = spawn(&[]).await;
    for (role, expected) in [(None, 0), (Some("member"), 0), (Some("administrator"), 10), (Some("owner"), 10)] {
        let (me, c) = app.logged_in(&format!("{}@example.com", Uuid::new_v4().simple())).await;
        // Two rooms with 4 other accesses each (plus the caller's own when it has a role).
        for _ in 0..2 {
            room_for(&app, me.id, role, 4).await;
        }
        let b = c.get(LIST).await.json();
        assert_eq!(b["count"], expected, "{role:?}");
        let results = b["results"].as_array().unwrap();
        assert_eq!(results.len(), expected);
        if let Some(first) = results.first() {
            let mut k: Vec<&String> = first.as_object().unwrap().keys().collect();
            k.sort();
            assert_eq!(k, ["id", "resource", "role", "user"]);
        }
    }
}

#[tokio::test]
async fn ra_6_ra_34_pagination() {
    let app = spawn(&[]).await;
    let (me, c) = app.logged_in("me@example.com").await;
    room_for(&app, me.id, Some("owner"), 21).await;
    let p1 = c.get(LIST).await.json();
    assert_eq!(p1["count"], 22);
    assert!(p1["next"].as_str().unwrap().ends_with("/api/v1.0/resource-accesses/?page=2"));
    let p2 = c.get(&format!("{LIST}?page=2")).await.json();
    assert!(p2["previous"].as_str().unwrap().ends_with("/api/v1.0/resource-accesses/"));
    assert_eq!(p2["next"], Value::Null);
    for q in ["abc", "0", "99"] {
        let r = c.get(&format!("{LIST}?page={q}")).await;
        assert_eq!((r.status.as_u16(), r.json()), (404, detail("Invalid page.")), "{q}");
    }
    assert_eq!(c.get(&format!("{LIST}?page=last")).await.json()["results"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn ra_8_ra_9_ra_33_retrieve() {
    let app = spawn(&[]).await;
    for level in ["public", "restricted"] {
        let (room, [member, admin, owner]) = room_with_roles(&app, &format!("r-{level}"), level).await;
        let stranger = app.create_user(&format!("s-{level}@example.com")).await;
        let all = meet::store::rooms::accesses_of(&app.state.db, &[room.id]).await.unwrap();
        for target in &all {
            for u in [&stranger, &member] {
                let r = app.client_for(u).await.get(&path(target.id)).await;
                assert_eq!((r.status.as_u16(), r.json()), (403, detail(FORBIDDEN)), "RA-8");
            }
            for u in [&admin, &owner] {
                let r = app.client_for(u).await.get(&path(target.id)).await;
                let expected =
                    json!({"id": target.id, "user": target.user_id, "resource": room.id, "role": target.role});
                assert_eq!((r.status.as_u16(), r.json()), (200, expected), "RA-9");
            }
        }
    }
    let (_, c) = app.logged_in("x@example.com").await;
    for bad in ["abc".to_string(), "1.2".into(), "%7B1%7D".into(), "f".repeat(5000), "%FF%FE".into()] {
        let r = c.get(&path(&bad)).await;
        assert_eq!((r.status.as_u16(), r.json()), (404, detail("Not found.")), "{bad}");
    }
    let r = c.get(&path(Uuid::new_v4())).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, detail("No ResourceAccess matches the given query.")));
}

#[tokio::test]
async fn ra_11_to_ra_14_ra_16_create_by_role() {
    let app = spawn(&[]).await;
    let (room, [member, admin, owner]) = room_with_roles(&app, "r", "public").await;
    let stranger = app.create_user("s@example.com").await;
    let new_user = || {
        let app = &app;
        async move { app.create_user(&format!("{}@example.com", Uuid::new_v4().simple())).await.id }
    };
    for u in [&stranger, &member] {
        for role in ["member", "administrator", "owner"] {
            let r = app
                .client_for(u)
                .await
                .post(LIST, &json!({"user": new_user().await, "resource": room.id, "role": role}))
                .await;
            assert_eq!((r.status.as_u16(), r.json()), (403, detail(MUST_ADMIN)), "RA-11");
        }
    }
    assert_eq!(access_count(&app, room.id).await, 3);
    let c = app.client_for(&admin).await;
    for role in ["member", "administrator"] {
        let u = new_user().await;
        let r = c.post(LIST, &json!({"user": u, "resource": room.id, "role": role})).await;
        assert_eq!(r.status, 201, "RA-12");
        let b = r.json();
        assert_eq!(
            (b["user"].clone(), b["resource"].clone(), b["role"].clone()),
            (json!(u), json!(room.id), json!(role))
        );
    }
    let r = c.post(LIST, &json!({"user": new_user().await, "resource": room.id, "role": "owner"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, detail(ONLY_OWNERS)), "RA-13");
    let c = app.client_for(&owner).await;
    for role in ["member", "administrator", "owner"] {
        let r = c.post(LIST, &json!({"user": new_user().await, "resource": room.id, "role": role})).await;
        assert_eq!((r.status.as_u16(), r.json()["role"].clone()), (201, json!(role)), "RA-14");
    }
    let r = c.post(LIST, &json!({"user": new_user().await, "resource": room.id})).await;
    assert_eq!(r.json()["role"], "member", "RA-16");
}

#[tokio::test]
async fn ra_15_ra_16_ra_17_create_validation() {
    let app = spawn(&[]).await;
    let (room, [member, _, owner]) = room_with_roles(&app, "r", "public").await;
    let c = app.client_for(&owner).await;
    for role in ["member", "owner"] {
        let r = c.post(LIST, &json!({"user": member.id, "resource": room.id, "role": role})).await;
        assert_eq!(
            (r.status.as_u16(), r.json()),
            (400, json!({"non_field_errors": ["The fields user, resource must make a unique set."]})),
            "RA-15 {role}"
        );
    }
    let ghost = Uuid::new_v4();
    let cases = [
        (json!({}), json!({"user": ["This field is required."], "resource": ["This field is required."]})),
        (json!({"user": "abc", "resource": room.id}), json!({"user": ["“abc” is not a valid UUID."]})),
        (
            json!({"user": ghost, "resource": room.id}),
            json!({"user": [format!("Invalid pk \"{ghost}\" - object does not exist.")]}),
        ),
        (
            json!({"user": member.id, "resource": ghost}),
            json!({"resource": [format!("Invalid pk \"{ghost}\" - object does not exist.")]}),
        ),
        (json!({"user": member.id, "resource": "x"}), json!({"resource": ["“x” is not a valid UUID."]})),
        (
            json!({"user": member.id, "resource": room.id, "role": "king"}),
            json!({"role": ["\"king\" is not a valid choice."]}),
        ),
        (
            json!({"user": member.id, "resource": room.id, "role": null}),
            json!({"role": ["This field may not be null."]}),
        ),
        (
            json!({"user": [1], "resource": room.id}),
            json!({"user": ["Incorrect type. Expected pk value, received list."]}),
        ),
    ];
    for (body, expected) in cases {
        let r = c.post(LIST, &body).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, expected), "{body}");
    }
    // The administrator check on the room stops validation at once, even when `user` failed.
    let (_, stranger) = app.logged_in("s@example.com").await;
    let r = stranger.post(LIST, &json!({"user": "abc", "resource": room.id, "role": "king"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, detail(MUST_ADMIN)));
}

#[tokio::test]
async fn ra_19_to_ra_24_ra_32_update_matrix() {
    let app = spawn(&[]).await;
    let (room, [member, admin, owner]) = room_with_roles(&app, "r", "public").await;
    let owner2 = app.create_user("owner2@example.com").await;
    let owner2_access = add_access(&app, room.id, owner2.id, "owner").await;
    let target_user = app.create_user("t@example.com").await;
    let target = add_access(&app, room.id, target_user.id, "member").await;
    let stranger = app.create_user("s@example.com").await;
    for u in [&stranger, &member] {
        let r = app.client_for(u).await.put(&path(target.id), &json!({"role": "administrator"})).await;
        assert_eq!((r.status.as_u16(), r.json()), (403, detail(FORBIDDEN)), "RA-19");
    }
    assert_eq!(role_now(&app, target.id).await.as_deref(), Some("member"));
    let other_room = room_for(&app, admin.id, Some("administrator"), 0).await;
    let c = app.client_for(&admin).await;
    let body = json!({"id": Uuid::new_v4(), "user": owner.id, "resource": other_room, "role": "administrator"});
    let r = c.put(&path(target.id), &body).await;
    assert_eq!(
        r.json(),
        json!({"id": target.id, "user": target_user.id, "resource": room.id, "role": "administrator"}),
        "RA-20"
    );
    let r = c.patch(&path(target.id), &json!({"role": "owner"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, detail(ONLY_OWNERS)), "RA-22");
    let r = c.patch(&path(owner2_access.id), &json!({"role": "member"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, detail(ONLY_OWNERS)), "RA-21");
    let r = c.patch(&path(owner2_access.id), &json!({"role": "owner"})).await;
    assert_eq!(r.status, 403, "RA-21: whatever the field");
    let foreign = create_room(&app, "foreign", "public").await;
    let r = c.patch(&path(target.id), &json!({"resource": foreign.id, "role": "member"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, detail(MUST_ADMIN)), "RA-32");
    let c = app.client_for(&owner).await;
    // Last step to owner: the target then is another owner's access, which owners cannot change.
    for role in ["member", "administrator", "owner"] {
        let r = c.patch(&path(target.id), &json!({"role": role})).await;
        assert_eq!((r.status.as_u16(), r.json()["role"].clone()), (200, json!(role)), "RA-23");
    }
    let r = c.put(&path(owner2_access.id), &json!({"user": owner2.id, "resource": room.id, "role": "member"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, detail(ONLY_OWNERS)), "RA-24");
    assert_eq!(role_now(&app, owner2_access.id).await.as_deref(), Some("owner"));
    // Self-demotion of an administrator.
    let mine = meet::store::rooms::accesses_of(&app.state.db, &[room.id]).await.unwrap();
    let admin_access = mine.iter().find(|a| a.user_id == admin.id).unwrap().id;
    let r = app.client_for(&admin).await.patch(&path(admin_access), &json!({"role": "member"})).await;
    assert_eq!(r.status, 200);
    // Uniqueness on the (user, resource) of the body, even though they are then ignored.
    let r = c.put(&path(target.id), &json!({"user": member.id, "resource": room.id, "role": "member"})).await;
    assert_eq!(r.json(), json!({"non_field_errors": ["The fields user, resource must make a unique set."]}));
}

#[tokio::test]
async fn ra_25_ra_31_last_owner_and_missing_role() {
    let app = spawn(&[]).await;
    let (me, c) = app.logged_in("me@example.com").await;
    let room = create_room(&app, "r", "public").await;
    let mine = add_access(&app, room.id, me.id, "owner").await;
    let r = c.patch(&path(mine.id), &json!({"role": "member"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, detail(LAST_OWNER)), "RA-25");
    let r = c.patch(&path(mine.id), &json!({"role": "owner"})).await;
    assert_eq!(r.status, 200, "owner to owner: no change");
    for (method, body) in [("PATCH", json!({})), ("PUT", json!({"user": me.id, "resource": room.id}))] {
        let rb = c.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), &path(mine.id)).json(&body);
        let r = crate::support::TestClient::send(rb).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, json!({"role": ["This field is required."]})), "B1 {method}");
    }
    let r = c.put(&path(mine.id), &json!({"role": "owner"})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"user": ["This field is required."], "resource": ["This field is required."]}))
    );
    add_access(&app, room.id, app.create_user("o2@example.com").await.id, "owner").await;
    let r = c.patch(&path(mine.id), &json!({"role": "administrator"})).await;
    assert_eq!((r.status.as_u16(), r.json()["role"].clone()), (200, json!("administrator")), "RA-25");
}

#[tokio::test]
async fn ra_27_to_ra_30_delete_matrix() {
    let app = spawn(&[]).await;
    let (room, [member, admin, owner]) = room_with_roles(&app, "r", "public").await;
    let stranger = app.create_user("s@example.com").await;
    let all = meet::store::rooms::accesses_of(&app.state.db, &[room.id]).await.unwrap();
    let id_of = |u: Uuid| all.iter().find(|a| a.user_id == u).unwrap().id;
    for u in [&stranger, &member] {
        let r = app.client_for(u).await.delete(&path(id_of(member.id))).await;
        assert_eq!((r.status.as_u16(), r.json()), (403, detail(FORBIDDEN)), "RA-27");
    }
    let r = app.client_for(&admin).await.delete(&path(id_of(owner.id))).await;
    assert_eq!(r.status, 403, "administrator deleting an owner");
    let r = app.client_for(&owner).await.delete(&path(id_of(owner.id))).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, detail(LAST_OWNER)), "RA-30");
    assert_eq!(access_count(&app, room.id).await, 3);
    let r = app.client_for(&admin).await.delete(&path(id_of(member.id))).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (204, ""), "RA-28");
    let owner2 = app.create_user("o2@example.com").await;
    let o2 = add_access(&app, room.id, owner2.id, "owner").await;
    let r = app.client_for(&owner).await.delete(&path(o2.id)).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, detail(FORBIDDEN)), "RA-29");
    let r = app.client_for(&owner).await.delete(&path(id_of(admin.id))).await;
    assert_eq!(r.status, 204, "RA-28 owner");
    let r = app.client_for(&owner).await.delete(&path(id_of(owner.id))).await;
    assert_eq!(r.status, 204, "owner leaving while another owner exists");
    assert_eq!(access_count(&app, room.id).await, 1);
}

#[tokio::test]
async fn m_9_a_second_access_for_the_same_user_and_room_is_a_named_conflict() {
    let app = spawn(&[]).await;
    let room = create_room(&app, "r", "public").await;
    let user = app.create_user("u@example.com").await;
    add_access(&app, room.id, user.id, "member").await;
    let mut tx = app.state.db.begin().await.unwrap();
    let err = meet::store::accesses::insert(&mut tx, room.id, user.id, "owner").await.unwrap_err();
    assert!(err.is_conflict("resource_access_unique_user_resource"), "{err}");
}
