//! Lobby and throttling at upstream HEAD (now-rooms §15) and the request-entry token (§7.5).

use base64::Engine;
use serde_json::{json, Value};

use crate::support::livekit::LiveKitDouble;
use crate::support::rooms::add_access;
use crate::support::{Resp, TestApp, TestClient};

struct Lobby {
    app: TestApp,
    _lk: LiveKitDouble,
    owner: TestClient,
    room_id: String,
}

async fn lobby(level: &str, extra: &[(&str, &str)]) -> Lobby {
    let lk = LiveKitDouble::start().await;
    let app = lk.spawn_app(extra).await;
    let (_, owner) = app.logged_in("owner@example.com").await;
    let body =
        json!({"name": "Lobby Room", "access_level": level, "configuration": {"can_publish_sources": ["microphone"]}});
    let r = owner.post("/api/v1.0/rooms/", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let room_id = r.json()["id"].as_str().unwrap().to_string();
    Lobby { app, _lk: lk, owner, room_id }
}

/// `request-entry` as `c` (anonymous callers from a fresh cookie jar), with an optional cookie.
async fn request_entry(l: &Lobby, c: Option<&TestClient>, cookie: Option<&str>) -> Resp {
    let fresh = TestClient::new(l.app.base.clone(), None);
    let c = c.unwrap_or(&fresh);
    let path = format!("/api/v1.0/rooms/{}/request-entry/", l.room_id);
    let mut rb = c.request(reqwest::Method::POST, &path).json(&json!({"username": "Guest"}));
    if let Some(id) = cookie {
        rb = rb.header("Cookie", format!("lobbyParticipantId={id}"));
    }
    TestClient::send(rb).await
}

fn claims(body: &Value) -> Value {
    let token = body["livekit"]["token"].as_str().expect("a token");
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn nr_lb_1_members_enter_a_restricted_room_at_once_with_their_role_and_the_room_sources() {
    let l = lobby("restricted", &[]).await;
    let (member, client) = l.app.logged_in("member@example.com").await;
    add_access(&l.app, l.room_id.parse().unwrap(), member.id, "member").await;
    let r = request_entry(&l, Some(&client), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "accepted");
    let c = claims(&r.json());
    assert_eq!(c["sub"], member.sub.clone().unwrap());
    assert_eq!(c["attributes"]["room_role"], "member", "§15.2: the room role");
    assert_eq!(c["video"]["canPublishSources"], json!(["microphone"]), "§15.2: the room's sources");
    assert_eq!(c["video"]["roomAdmin"], false);
}

#[tokio::test]
async fn nr_lb_2_new_participant_ids_are_hyphenated_uuids() {
    let l = lobby("restricted", &[]).await;
    let r = request_entry(&l, None, None).await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    let re = regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").unwrap();
    assert!(re.is_match(&id), "{id}");
    let cookie = r.header("set-cookie").unwrap().to_string();
    assert!(cookie.starts_with(&format!("lobbyParticipantId={id};")), "{cookie}");
}

#[tokio::test]
async fn nr_lb_3_enter_needs_a_uuid_and_admits_waiters_of_both_id_forms() {
    let l = lobby("restricted", &[]).await;
    let enter = format!("/api/v1.0/rooms/{}/enter/", l.room_id);
    let r = l.owner.post(&enter, &json!({"participant_id": "test-id", "allow_entry": true})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"participant_id": ["Must be a valid UUID."]})));

    // A waiter with a cookie issued before hyphenated ids (B-LB-1), admitted by its UUID.
    let old = uuid::Uuid::new_v4();
    let simple = old.simple().to_string();
    assert_eq!(request_entry(&l, None, Some(&simple)).await.json()["status"], "waiting");
    let r = l.owner.post(&enter, &json!({"participant_id": old.hyphenated().to_string(), "allow_entry": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(request_entry(&l, None, Some(&simple)).await.json()["status"], "accepted");

    // A new waiter, admitted by the upper-case form of its id.
    let r = request_entry(&l, None, None).await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = l.owner.post(&enter, &json!({"participant_id": id.to_uppercase(), "allow_entry": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = request_entry(&l, None, Some(&id)).await;
    assert_eq!(r.json()["status"], "accepted");
    assert_eq!(claims(&r.json())["sub"], id, "NR-TK-7: the lobby id is the LiveKit identity");
}

#[tokio::test]
async fn nr_lb_3_priv403_for_non_administrators() {
    let l = lobby("restricted", &[]).await;
    let (_, stranger) = l.app.logged_in("stranger@example.com").await;
    let r = stranger.get(&format!("/api/v1.0/rooms/{}/waiting-participants/", l.room_id)).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (403, json!({"detail": "You must have privileges on room to perform this action."}))
    );
}

#[tokio::test]
async fn nr_tk_7_anonymous_token_identity_is_the_lobby_cookie() {
    let l = lobby("public", &[]).await;
    let x = uuid::Uuid::new_v4().to_string();
    let r = request_entry(&l, None, Some(&x)).await;
    assert_eq!(r.json()["status"], "accepted");
    let c = claims(&r.json());
    assert_eq!(c["sub"], x);
    assert_eq!(c["attributes"]["is_authenticated"], "false");
    assert_eq!(c["attributes"]["room_role"], "");
    assert!(c.get("metadata").is_some(), "the reference's metadata claim is kept");
}

#[tokio::test]
async fn nr_lb_4_authenticated_callers_are_throttled_by_user() {
    let l = lobby("restricted", &[("REQUEST_ENTRY_THROTTLE_RATES", "2/minute")]).await;
    let (_, client) = l.app.logged_in("waiter@example.com").await;
    for _ in 0..2 {
        assert_eq!(request_entry(&l, Some(&client), None).await.status, 200);
    }
    let r = request_entry(&l, Some(&client), None).await;
    assert_eq!(r.status, 429, "{}", r.text);
    // Same cookie, anonymous: counted on its own.
    let cookie = uuid::Uuid::new_v4().to_string();
    for _ in 0..2 {
        assert_eq!(request_entry(&l, None, Some(&cookie)).await.status, 200);
    }
    assert_eq!(request_entry(&l, None, Some(&cookie)).await.status, 429);
}
