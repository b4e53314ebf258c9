//! LiveKit join tokens in room payloads: lobby-livekit §2 (TK statements) over HTTP.

use meet::store::users::NewUser;
use serde_json::{json, Value};

use crate::support::rooms::{add_access, create_room, decode_token, spawn};

fn token_of(body: &Value) -> String {
    body["livekit"]["token"].as_str().expect("a token").to_string()
}

const VIDEO_KEYS: [&str; 8] = [
    "roomAdmin",
    "roomJoin",
    "room",
    "canPublish",
    "canSubscribe",
    "canPublishData",
    "canPublishSources",
    "canUpdateOwnMetadata",
];

#[tokio::test]
async fn tk_1_tk_2_tk_3_tk_4_claims_for_anonymous_member_and_owner() {
    let app = spawn(&[]).await;
    let room = create_room(&app, "public room", "public").await;
    let member = app.create_user("m@example.com").await;
    let owner = app.create_user("o@example.com").await;
    add_access(&app, room.id, member.id, "member").await;
    add_access(&app, room.id, owner.id, "owner").await;
    let path = format!("/api/v1.0/rooms/{}/", room.id);
    let anonymous = app.client();
    let clients = [anonymous, app.client_for(&member).await, app.client_for(&owner).await];
    for c in clients {
        let before = chrono::Utc::now().timestamp();
        let body = c.get(&path).await.json();
        assert_eq!(body["livekit"]["url"], "https://livekit.example", "TK-4");
        assert_eq!(body["livekit"]["room"], room.id.to_string(), "TK-4");
        let (header, claims) = decode_token(&token_of(&body));
        assert_eq!(header, json!({"typ": "JWT", "alg": "HS256"}), "TK-1");
        assert_eq!(claims["iss"], "devkey");
        let nbf = claims["nbf"].as_i64().unwrap();
        assert_eq!(claims["exp"].as_i64().unwrap() - nbf, 21600, "TK-2");
        assert!((nbf - before).abs() <= 5, "TK-2: nbf is now");
        // now-rooms §7.2: HEAD's `attributes` next to the reference's `metadata`.
        let keys: Vec<&str> = claims.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["name", "video", "metadata", "attributes", "sub", "iss", "nbf", "exp"], "TK-2");
        let video = claims["video"].as_object().unwrap();
        assert_eq!(video.keys().map(String::as_str).collect::<Vec<_>>(), VIDEO_KEYS, "TK-3");
        // now-rooms §7.3: roomAdmin only for owners and administrators, no own-metadata updates.
        let admin = claims["attributes"]["room_role"] == "owner";
        assert_eq!(
            claims["video"],
            json!({"roomAdmin": admin, "roomJoin": true, "room": room.id.to_string(), "canPublish": true,
                   "canSubscribe": true, "canPublishData": true,
                   "canPublishSources": ["camera", "microphone", "screen_share", "screen_share_audio"],
                   "canUpdateOwnMetadata": false}),
            "TK-3"
        );
    }
}

#[tokio::test]
async fn tk_5_tk_8_users_keep_their_sub_and_colour() {
    let app = spawn(&[]).await;
    let sub = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";
    let user = meet::store::users::create(
        &app.state.db,
        NewUser { sub: Some(sub.into()), email: Some("zoe@example.com".into()), ..Default::default() },
        "en-us",
    )
    .await
    .unwrap();
    let c = app.client_for(&user).await;
    let r1 = create_room(&app, "one", "public").await;
    let r2 = create_room(&app, "two", "trusted").await;
    for room in [r1.id, r2.id, r1.id] {
        let body = c.get(&format!("/api/v1.0/rooms/{room}/")).await.json();
        let (_, claims) = decode_token(&token_of(&body));
        assert_eq!(claims["sub"], sub, "TK-5");
        assert_eq!(claims["metadata"], "{\"color\": \"hsl(114, 52%, 34%)\"}", "TK-8");
        assert_eq!(claims["name"], "zoe@example.com", "TK-7: e-mail without username");
    }
}

#[tokio::test]
async fn tk_6_anonymous_identities_are_fresh_uuids() {
    let app = spawn(&[]).await;
    let room = create_room(&app, "public", "public").await;
    let path = format!("/api/v1.0/rooms/{}/", room.id);
    let subs: Vec<String> = futures_subs(&app, &path).await;
    assert_ne!(subs[0], subs[1]);
    for s in subs {
        assert_eq!(uuid::Uuid::parse_str(&s).unwrap().to_string(), s, "lowercase hyphenated");
    }
}

async fn futures_subs(app: &crate::support::TestApp, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..2 {
        let (_, claims) = decode_token(&token_of(&app.client().get(path).await.json()));
        let sub = claims["sub"].as_str().unwrap().to_string();
        let colour = meet::domain::colour::colour(&sub);
        assert_eq!(claims["metadata"], format!("{{\"color\": \"{colour}\"}}"), "TK-8: colour of the identity");
        out.push(sub);
    }
    out
}

#[tokio::test]
async fn tk_7_display_names() {
    let app = spawn(&[]).await;
    let room = create_room(&app, "public", "public").await;
    let (_, c) = app.logged_in("me@example.com").await;
    let base = format!("/api/v1.0/rooms/{}/", room.id);
    let cases = [
        (app.client(), "?username=Alice", "Alice"),
        (app.client(), "", "Anonymous"),
        (app.client(), "?username=", "Anonymous"),
        (app.client(), "?username=%20", " "),
        (app.client(), "?username=a&username=Zo%C3%A9", "Zoé"),
        // now-rooms §7.4: the full name first.
        (c.clone(), "", "Full me@example.com"),
        (c.clone(), "?username=", "Full me@example.com"),
        (c, "?username=Bob", "Bob"),
    ];
    for (client, query, name) in cases {
        let body = client.get(&format!("{base}{query}")).await.json();
        assert_eq!(decode_token(&token_of(&body)).1["name"], name, "{query}");
    }
}

#[tokio::test]
async fn tk_4_create_update_and_list_tokens_name_the_room_uuid() {
    let app = spawn(&[]).await;
    let (_, c) = app.logged_in("me@example.com").await;
    let created = c.post("/api/v1.0/rooms/?username=Ann", &json!({"name": "my room"})).await.json();
    let id = created["id"].as_str().unwrap().to_string();
    let (_, claims) = decode_token(&token_of(&created));
    assert_eq!((claims["video"]["room"].as_str(), claims["name"].as_str()), (Some(id.as_str()), Some("Ann")));
    let patched = c.patch("/api/v1.0/rooms/my-room/?username=Bea", &json!({"access_level": "restricted"})).await.json();
    assert_eq!(decode_token(&token_of(&patched)).1["name"], "Bea");
    let listed = c.get("/api/v1.0/rooms/?username=Cy").await.json();
    let (_, claims) = decode_token(&token_of(&listed["results"][0]));
    assert_eq!((claims["video"]["room"].as_str(), claims["name"].as_str()), (Some(id.as_str()), Some("Cy")));
}
