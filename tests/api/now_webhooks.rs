//! LiveKit webhook at upstream HEAD (now-rooms §16): error bodies, ignored rooms.

use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::livekit::{sign_webhook, LiveKitDouble, KEY, SECRET};
use crate::support::{Resp, TestApp, TestClient};

const PATH: &str = "/api/v1.0/rooms/webhooks-livekit/";

async fn app(extra: &[(&str, &str)]) -> (TestApp, LiveKitDouble) {
    let lk = LiveKitDouble::start().await;
    let mut vars: Vec<(String, String)> = lk.vars().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    (TestApp::spawn_with(&pairs).await, lk)
}

async fn signed(app: &TestApp, body: &Value) -> Resp {
    let text = body.to_string();
    let auth = sign_webhook(&text, KEY, SECRET, Duration::from_secs(300));
    let rb = app
        .client()
        .request(reqwest::Method::POST, PATH)
        .header("Content-Type", "application/webhook+json")
        .header("Authorization", auth)
        .body(text);
    TestClient::send(rb).await
}

/// A waiting lobby entry of `room`, to see whether `room_finished` was handled.
async fn waiter(app: &TestApp, room: Uuid) {
    let pid = meet::domain::lobby::new_participant_id();
    meet::service::lobby::request_entry(&app.state, room, &pid, "w", || "hsl(1, 50%, 50%)".into(), false)
        .await
        .unwrap();
}

async fn waiting(app: &TestApp, room: Uuid) -> usize {
    meet::service::lobby::waiting(&app.state, room).await.unwrap().len()
}

#[tokio::test]
async fn nr_wh_6_unknown_event_is_422_without_message() {
    let (app, _lk) = app(&[]).await;
    let r = signed(&app, &json!({"event": "unknown_event_type", "room": {"name": "some-room"}})).await;
    assert_eq!((r.status.as_u16(), r.json()), (422, json!({"status": "error"})));
    let r = TestClient::send(app.client().request(reqwest::Method::POST, PATH).body("{}")).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"status": "error"})));
}

#[tokio::test]
async fn nr_wh_5_connection_test_rooms_are_ignored_for_every_event_type() {
    let (app, _lk) = app(&[]).await;
    let name = format!("connection-test-{}", Uuid::new_v4());
    for event in ["room_finished", "unknown_event_type", "participant_joined"] {
        let r = signed(&app, &json!({"event": event, "room": {"name": name}})).await;
        assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})), "{event}");
    }
    // The room name of egress events comes from the egress.
    let r = signed(&app, &json!({"event": "unknown_event_type", "egressInfo": {"roomName": name}})).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn nr_wh_4_rooms_outside_the_filter_are_ignored() {
    let filter = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
    let (app, _lk) = app(&[("LIVEKIT_WEBHOOK_EVENTS_FILTER_REGEX", filter)]).await;
    let r =
        signed(&app, &json!({"event": "unknown_event_type", "room": {"name": "!JIfCxVLcKKkWrmVBOb:your-domain.com"}}))
            .await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})), "ignored, no handler");
    let room = Uuid::new_v4();
    waiter(&app, room).await;
    let r = signed(&app, &json!({"event": "room_finished", "room": {"name": room.to_string()}})).await;
    assert_eq!(r.status, 200);
    assert_eq!(waiting(&app, room).await, 0, "a matching room is handled");
}

#[tokio::test]
async fn nr_wh_4_an_invalid_filter_or_an_empty_prefix_stops_the_start() {
    for (var, value) in [("LIVEKIT_WEBHOOK_EVENTS_FILTER_REGEX", "(abc"), ("CONNECTION_TEST_ROOM_PREFIX", "")] {
        let e = meet::Config::from_lookup(|k| (k == var).then(|| value.to_string())).unwrap_err();
        assert!(e.to_string().contains(var), "{e}");
    }
}
