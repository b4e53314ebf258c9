//! Factories and helpers for the rooms and resource-access tests: rooms and accesses are made
//! through the store API; LiveKit tokens are verified with the API secret and decoded.

use base64::Engine;
use meet::store::accesses::Access;
use meet::store::rooms::Room;
use serde_json::{json, Value};
use uuid::Uuid;

use super::TestApp;

/// The LiveKit settings of the TK statements.
pub const LIVEKIT: [(&str, &str); 3] =
    [("LIVEKIT_API_KEY", "devkey"), ("LIVEKIT_API_SECRET", "secret"), ("LIVEKIT_API_URL", "https://livekit.example")];

/// An app with the TK statements' LiveKit settings (and `extra`).
pub async fn spawn(extra: &[(&str, &str)]) -> TestApp {
    let mut vars: Vec<(&str, &str)> = LIVEKIT.to_vec();
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars).await
}

/// Creates a room (`access_level` given) through the store, with no access.
pub async fn create_room(app: &TestApp, name: &str, access_level: &str) -> Room {
    let slug = meet::domain::slug::slugify(name);
    let mut tx = app.state.db.begin().await.expect("tx");
    let room = meet::store::rooms::insert(&mut tx, name, &slug, access_level, json!({})).await.expect("room");
    tx.commit().await.expect("commit");
    room
}

/// Gives `user` the `role` on `room` through the store.
pub async fn add_access(app: &TestApp, room: Uuid, user: Uuid, role: &str) -> Access {
    let mut tx = app.state.db.begin().await.expect("tx");
    let a = meet::store::accesses::insert(&mut tx, room, user, role).await.expect("access");
    tx.commit().await.expect("commit");
    a
}

/// A room with one user of each role; returns `(room, [member, administrator, owner] users)`.
pub async fn room_with_roles(app: &TestApp, name: &str, level: &str) -> (Room, [meet::store::users::User; 3]) {
    let room = create_room(app, name, level).await;
    let mut users = Vec::new();
    for role in ["member", "administrator", "owner"] {
        let u = app.create_user(&format!("{role}-{}@example.com", Uuid::new_v4().simple())).await;
        add_access(app, room.id, u.id, role).await;
        users.push(u);
    }
    let [m, a, o]: [meet::store::users::User; 3] = users.try_into().expect("three users");
    (room, [m, a, o])
}

/// The room as the store has it now.
pub async fn reload(app: &TestApp, id: Uuid) -> Option<Room> {
    meet::store::rooms::get(&app.state.db, id).await.expect("read room")
}

/// Verifies `token` (HS256, secret `secret`, issuer `devkey`) and returns its header and payload
/// as raw JSON (key order kept).
pub fn decode_token(token: &str) -> (Value, Value) {
    meet::install_crypto_provider();
    livekit_api::access_token::TokenVerifier::with_api_key("devkey", "secret").verify(token).expect("token verifies");
    let mut parts = token.split('.');
    let mut part = || {
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts.next().expect("part")).expect("b64");
        serde_json::from_slice::<Value>(&b).expect("json")
    };
    let header = part();
    let payload = part();
    (header, payload)
}

/// The number of accesses of a room.
pub async fn access_count(app: &TestApp, room: Uuid) -> usize {
    meet::store::rooms::accesses_of(&app.state.db, &[room]).await.expect("accesses").len()
}

/// The role of an access now (None when deleted).
pub async fn role_now(app: &TestApp, access: Uuid) -> Option<String> {
    meet::store::accesses::get(&app.state.db, access).await.expect("read").map(|a| a.role)
}
