//! LiveKit webhook: lobby-livekit §5 (W statements) and the lobby clearing of L-30.

use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::livekit::{sign_webhook, LiveKitDouble, KEY, SECRET};
use crate::support::{Resp, TestApp, TestClient};

const PATH: &str = "/api/v1.0/rooms/webhooks-livekit/";

async fn app() -> (TestApp, LiveKitDouble) {
    let lk = LiveKitDouble::start().await;
    let vars = lk.vars();
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (TestApp::spawn_with(&pairs).await, lk)
}

async fn send(app: &TestApp, body: &str, authorization: Option<String>) -> Resp {
    let mut rb = app
        .client()
        .request(reqwest::Method::POST, PATH)
        .header("Content-Type", "application/webhook+json")
        .body(body.to_string());
    if let Some(a) = authorization {
        rb = rb.header("Authorization", a);
    }
    TestClient::send(rb).await
}

async fn signed(app: &TestApp, body: &Value) -> Resp {
    let text = body.to_string();
    let auth = sign_webhook(&text, KEY, SECRET, Duration::from_secs(300));
    send(app, &text, Some(auth)).await
}

async fn seed_lobby(app: &TestApp, room: Uuid, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let pid = meet::domain::lobby::new_participant_id();
        meet::service::lobby::request_entry(
            &app.state,
            room,
            &pid,
            true,
            &format!("user{i}"),
            || "hsl(1, 50%, 50%)".into(),
            false,
        )
        .await
        .unwrap();
        ids.push(pid);
    }
    ids
}

#[tokio::test]
async fn w_1_missing_authorization_is_401() {
    let (app, _lk) = app().await;
    let r = send(&app, r#"{"event":"room_started"}"#, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json(), json!({"status": "error"}));
}

#[tokio::test]
async fn w_2_hash_of_another_body_is_400() {
    let (app, _lk) = app().await;
    let auth = sign_webhook(r#"{"event":"room_started"}"#, KEY, SECRET, Duration::from_secs(300));
    let r = send(&app, r#"{"event":"room_finished"}"#, Some(auth)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"status": "error"}));
}

#[tokio::test]
async fn w_3_bad_signatures_issuers_expiry_and_bodies_are_400() {
    let (app, _lk) = app().await;
    let body = r#"{"event":"room_started"}"#;
    let cases = vec![
        (
            "other secret",
            body.to_string(),
            sign_webhook(body, KEY, "another-secret-of-32-characters-long!!", Duration::from_secs(300)),
        ),
        ("other issuer", body.to_string(), sign_webhook(body, "other-key", SECRET, Duration::from_secs(300))),
        ("not JSON", "not json".to_string(), sign_webhook("not json", KEY, SECRET, Duration::from_secs(300))),
        (
            "event not a string",
            r#"{"event": 3}"#.to_string(),
            sign_webhook(r#"{"event": 3}"#, KEY, SECRET, Duration::from_secs(300)),
        ),
        ("garbage token", body.to_string(), "not-a-jwt".to_string()),
    ];
    for (what, b, auth) in cases {
        let r = send(&app, &b, Some(auth)).await;
        assert_eq!(r.status, 400, "{what}");
        assert_eq!(r.json(), json!({"status": "error"}), "{what}");
    }
    // A token without a sha256 claim.
    let no_hash = livekit_api::access_token::AccessToken::with_api_key(KEY, SECRET).to_jwt().unwrap();
    assert_eq!(send(&app, body, Some(no_hash)).await.status, 400);
}

#[tokio::test]
async fn w_4_unknown_event_types_are_422() {
    let (app, _lk) = app().await;
    let r = signed(&app, &json!({"event": "unknown_event_type"})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json(), json!({"status": "error"}));
    let r = signed(&app, &json!({})).await;
    assert_eq!(r.json(), json!({"status": "error"}));
}

#[tokio::test]
async fn w_5_l_30_room_finished_clears_only_that_rooms_lobby() {
    let (app, _lk) = app().await;
    let (room, other) = (Uuid::new_v4(), Uuid::new_v4());
    seed_lobby(&app, room, 3).await;
    seed_lobby(&app, other, 2).await;
    assert_eq!(meet::service::lobby::waiting(&app.state, room).await.unwrap().len(), 3);
    let r = signed(
        &app,
        &json!({"event": "room_finished", "room": {"name": room.to_string(), "sid": "RM_x"}, "id": "EV_1"}),
    )
    .await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    assert!(meet::service::lobby::waiting(&app.state, room).await.unwrap().is_empty());
    assert_eq!(meet::service::lobby::waiting(&app.state, other).await.unwrap().len(), 2);
}

#[tokio::test]
async fn w_6_w_8_known_unhandled_events_and_unknown_fields_are_fine() {
    let (app, _lk) = app().await;
    let r = signed(
        &app,
        &json!({"event": "room_started", "room": {"name": "x", "turnPassword": "p", "enabledCodecs": [{"mime": "audio/opus"}]}, "createdAt": "1700000000", "extra": 1}),
    )
    .await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
}

#[tokio::test]
async fn w_7_e3_room_finished_for_a_non_uuid_room_is_200_and_clears_nothing() {
    let (app, _lk) = app().await;
    let room = Uuid::new_v4();
    seed_lobby(&app, room, 1).await;
    let r = signed(&app, &json!({"event": "room_finished", "room": {"name": "invalid-uuid"}})).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    assert_eq!(meet::service::lobby::waiting(&app.state, room).await.unwrap().len(), 1);
}

#[tokio::test]
async fn w_9_other_methods_are_405() {
    let (app, _lk) = app().await;
    let r = app.client().get(PATH).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json(), json!({"detail": "Method \"GET\" not allowed."}));
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
}

#[tokio::test]
async fn w_10_e4_participant_connection_aborted_is_200() {
    let (app, _lk) = app().await;
    let r = signed(&app, &json!({"event": "participant_connection_aborted"})).await;
    assert_eq!(r.status, 200);
}
