//! The authorization matrix of the rooms and resource-access routes: every route × method ×
//! caller kind (anonymous, authenticated stranger, member, administrator, owner) × access level,
//! with the exact status and, for refusals, the exact body (users-auth-rooms §2.5, §5.1, §5.3,
//! §5.7, §5.8, §5.10).

use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::rooms::{room_with_roles, spawn};
use crate::support::{Resp, TestApp, TestClient};

const KINDS: [&str; 5] = ["anonymous", "stranger", "member", "administrator", "owner"];
const UNAUTH: &str = "Authentication credentials were not provided.";
const FORBIDDEN: &str = "You do not have permission to perform this action.";
const MUST_ADMIN: &str = "You must be administrator or owner of a room to add accesses to it.";
const LAST_OWNER: &str = "A resource should keep at least one owner.";

/// A room with one user per role, a stranger, and a client for each caller kind.
struct Fixture {
    room: Uuid,
    member_access: Uuid,
    owner_access: Uuid,
    newcomer: Uuid,
    clients: Vec<TestClient>,
}

async fn fixture(app: &TestApp, level: &str) -> Fixture {
    let (room, [member, admin, owner]) = room_with_roles(app, &format!("m {}", Uuid::new_v4().simple()), level).await;
    let all = meet::store::rooms::accesses_of(&app.state.db, &[room.id]).await.unwrap();
    let access_of = |u: Uuid| all.iter().find(|a| a.user_id == u).map(|a| a.id).unwrap();
    let stranger = app.create_user(&format!("{}@example.com", Uuid::new_v4().simple())).await;
    let newcomer = app.create_user(&format!("{}@example.com", Uuid::new_v4().simple())).await;
    let mut clients = vec![app.client()];
    for u in [&stranger, &member, &admin, &owner] {
        clients.push(app.client_for(u).await);
    }
    Fixture {
        room: room.id,
        member_access: access_of(member.id),
        owner_access: access_of(owner.id),
        newcomer: newcomer.id,
        clients,
    }
}

/// What one row of the matrix sends.
#[derive(Clone, Copy, Debug)]
enum Req {
    ListRooms,
    CreateRoom,
    GetRoom,
    PutRoom,
    PatchRoom,
    DeleteRoom,
    PostRoomDetail,
    PutRoomList,
    CallbackPost,
    CallbackGet,
    ListAccesses,
    CreateAccess,
    GetAccess,
    PutAccess,
    PatchAccess,
    DeleteMemberAccess,
    DeleteOwnerAccess,
    PostAccessDetail,
    PatchAccessList,
}

async fn send(c: &TestClient, f: &Fixture, req: Req) -> (&'static str, Resp) {
    let room = format!("/api/v1.0/rooms/{}/", f.room);
    let member = format!("/api/v1.0/resource-accesses/{}/", f.member_access);
    let owner = format!("/api/v1.0/resource-accesses/{}/", f.owner_access);
    let name = json!({"name": format!("n {}", Uuid::new_v4().simple())});
    let grant = json!({"user": f.newcomer, "resource": f.room, "role": "member"});
    let renamed = format!("renamed {}", Uuid::new_v4().simple());
    let full = json!({"name": renamed, "access_level": "restricted", "configuration": {"everyone_can_mute": true}});
    match req {
        Req::ListRooms => ("GET", c.get("/api/v1.0/rooms/").await),
        Req::CreateRoom => ("POST", c.post("/api/v1.0/rooms/", &name).await),
        Req::GetRoom => ("GET", c.get(&room).await),
        Req::PutRoom => ("PUT", c.put(&room, &full).await),
        Req::PatchRoom => ("PATCH", c.patch(&room, &json!({"access_level": "trusted"})).await),
        Req::DeleteRoom => ("DELETE", c.delete(&room).await),
        Req::PostRoomDetail => ("POST", c.post(&room, &name).await),
        Req::PutRoomList => ("PUT", c.put("/api/v1.0/rooms/", &name).await),
        Req::CallbackPost => ("POST", c.post("/api/v1.0/rooms/creation-callback/", &json!({"callback_id": "x"})).await),
        Req::CallbackGet => ("GET", c.get("/api/v1.0/rooms/creation-callback/").await),
        Req::ListAccesses => ("GET", c.get("/api/v1.0/resource-accesses/").await),
        Req::CreateAccess => ("POST", c.post("/api/v1.0/resource-accesses/", &grant).await),
        Req::GetAccess => ("GET", c.get(&member).await),
        // A PUT without `user`: the field error shows the caller got past the permission check.
        Req::PutAccess => ("PUT", c.put(&member, &json!({"resource": f.room, "role": "administrator"})).await),
        Req::PatchAccess => ("PATCH", c.patch(&member, &json!({"role": "administrator"})).await),
        Req::DeleteMemberAccess => ("DELETE", c.delete(&member).await),
        Req::DeleteOwnerAccess => ("DELETE", c.delete(&owner).await),
        Req::PostAccessDetail => ("POST", c.post(&member, &grant).await),
        Req::PatchAccessList => ("PATCH", c.patch("/api/v1.0/resource-accesses/", &grant).await),
    }
}

/// Expected `(status, 403 detail)` per caller kind, in `KINDS` order.
type Row = (Req, [u16; 5], Option<&'static str>, bool);

const ROWS: &[Row] = &[
    // (request, statuses, detail of the 403s, a fresh fixture per caller)
    (Req::ListRooms, [200, 200, 200, 200, 200], None, false),
    (Req::CreateRoom, [401, 201, 201, 201, 201], None, false),
    (Req::GetRoom, [200, 200, 200, 200, 200], None, false),
    (Req::PutRoom, [401, 403, 403, 200, 200], Some(FORBIDDEN), false),
    (Req::PatchRoom, [401, 403, 403, 200, 200], Some(FORBIDDEN), false),
    (Req::DeleteRoom, [401, 403, 403, 403, 204], Some(FORBIDDEN), false),
    (Req::PostRoomDetail, [401, 405, 405, 405, 405], None, false),
    (Req::PutRoomList, [401, 405, 405, 405, 405], None, false),
    (Req::CallbackPost, [200, 200, 200, 200, 200], None, false),
    (Req::CallbackGet, [405, 405, 405, 405, 405], None, false),
    (Req::ListAccesses, [401, 200, 200, 200, 200], None, false),
    (Req::CreateAccess, [401, 403, 403, 201, 201], Some(MUST_ADMIN), true),
    (Req::GetAccess, [401, 403, 403, 200, 200], Some(FORBIDDEN), false),
    (Req::PutAccess, [401, 403, 403, 400, 400], Some(FORBIDDEN), false),
    (Req::PatchAccess, [401, 403, 403, 200, 200], Some(FORBIDDEN), true),
    (Req::DeleteMemberAccess, [401, 403, 403, 204, 204], Some(FORBIDDEN), true),
    (Req::DeleteOwnerAccess, [401, 403, 403, 403, 403], None, false),
    (Req::PostAccessDetail, [401, 405, 405, 405, 405], None, false),
    (Req::PatchAccessList, [401, 405, 405, 405, 405], None, false),
];

fn check_body(req: Req, kind: &str, level: &str, method: &str, r: &Resp, detail: Option<&str>) {
    let what = format!("{req:?} as {kind} on a {level} room");
    let body = if r.text.is_empty() { Value::Null } else { r.json() };
    match r.status.as_u16() {
        401 => {
            assert_eq!(body, json!({"detail": UNAUTH}), "{what}");
            assert_eq!(r.header("www-authenticate"), Some("Session"), "{what}");
        }
        405 => assert_eq!(body, json!({"detail": format!("Method \"{method}\" not allowed.")}), "{what}"),
        403 => {
            let expected = match req {
                // Only the owner it belongs to may remove an owner access; the sole owner cannot.
                Req::DeleteOwnerAccess if kind == "owner" => LAST_OWNER,
                Req::DeleteOwnerAccess => FORBIDDEN,
                _ => detail.unwrap_or(FORBIDDEN),
            };
            assert_eq!(body, json!({"detail": expected}), "{what}");
        }
        400 => assert_eq!(body, json!({"user": ["This field is required."]}), "{what}"),
        204 => assert!(r.text.is_empty(), "{what}"),
        _ => {}
    }
    if let (Req::GetRoom, 200) = (req, r.status.as_u16()) {
        let i = KINDS.iter().position(|k| *k == kind).unwrap_or(0);
        let role = i >= 2;
        let admin = i >= 3;
        let livekit = level == "public" || (level == "trusted" && i >= 1) || role;
        assert_eq!(body.get("livekit").is_some(), livekit, "{what}: livekit");
        // now-rooms §6.2: accesses for administrators, configuration always, pin_code with livekit.
        let _ = role;
        assert_eq!(body.get("accesses").is_some(), admin, "{what}: accesses");
        assert!(body.get("configuration").is_some(), "{what}: configuration");
        assert_eq!(body.get("pin_code").is_some(), livekit, "{what}: pin_code");
        assert!(body.get("is_administrable").is_none(), "{what}: is_administrable");
    }
    if let (Req::ListAccesses, 200) = (req, r.status.as_u16()) {
        let expected = if kind == "administrator" || kind == "owner" { 3 } else { 0 };
        assert_eq!(body["count"], expected, "{what}: count");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix() {
    let app = spawn(&[]).await;
    for level in ["public", "trusted", "restricted"] {
        for (req, statuses, detail, fresh_per_caller) in ROWS {
            let mut f = fixture(&app, level).await;
            for (i, kind) in KINDS.iter().enumerate() {
                if *fresh_per_caller && i > 0 {
                    f = fixture(&app, level).await;
                }
                let (method, r) = send(&f.clients[i], &f, *req).await;
                assert_eq!(r.status.as_u16(), statuses[i], "{req:?} as {kind} on a {level} room: {}", r.text);
                check_body(*req, kind, level, method, &r, *detail);
            }
        }
    }
}
