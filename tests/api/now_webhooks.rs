//! LiveKit webhook at upstream HEAD (now-rooms §16): error bodies, ignored rooms.

use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::livekit::{sign_webhook, LiveKitDouble, KEY, SECRET};
use crate::support::{Resp, TestApp, TestClient};

const PATH: &str = "/api/v1.0/rooms/webhooks-livekit/";

async fn app(extra: &[(&str, &str)]) -> (TestApp, LiveKitDouble) {
    let lk = LiveKitDouble::start().await;
    (lk.spawn_app(extra).await, lk)
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
    meet::service::lobby::request_entry(&app.state, room, &pid, true, "w", || "hsl(1, 50%, 50%)".into(), false)
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

/// A room created through the API by a new owner (it gets a PIN when telephony or roomkit is on).
async fn room_with_pin(app: &TestApp) -> (Uuid, Option<String>) {
    let (_, owner) = app.logged_in(&format!("owner-{}@example.com", Uuid::new_v4().simple())).await;
    let r = owner.post("/api/v1.0/rooms/", &json!({"name": format!("sip {}", Uuid::new_v4().simple())})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id: Uuid = r.json()["id"].as_str().unwrap().parse().unwrap();
    let room = meet::store::rooms::get(&app.state.db, id).await.unwrap().unwrap();
    (id, room.pin_code)
}

#[tokio::test]
async fn nr_wh_1_room_started_ensures_one_dispatch_rule() {
    let (app, lk) = app(&[("ROOM_TELEPHONY_ENABLED", "true")]).await;
    let (room, pin) = room_with_pin(&app).await;
    let pin = pin.expect("telephony gives new rooms a PIN");
    let started = json!({"event": "room_started", "room": {"name": room.to_string()}});
    let r = signed(&app, &started).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    let rules = lk.sip_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].name, format!("SIP_{room}"));
    let created = lk.calls_of("CreateSIPDispatchRule");
    assert_eq!(created.len(), 1);
    let direct = &created[0].request["rule"]["dispatchRuleDirect"];
    assert_eq!(
        (direct["roomName"].as_str(), direct["pin"].as_str()),
        (Some(room.to_string().as_str()), Some(pin.as_str()))
    );
    // The rule exists: a second start creates nothing.
    assert_eq!(signed(&app, &started).await.status, 200);
    assert_eq!(lk.calls_of("CreateSIPDispatchRule").len(), 1);
    assert_eq!(lk.sip_rules().len(), 1);
}

#[tokio::test]
async fn nr_wh_2_b_wh_1_room_started_without_telephony_or_for_unknown_rooms_is_a_no_op() {
    let (app, lk) = app(&[]).await;
    let (room, _) = room_with_pin(&app).await;
    for name in [room.to_string(), "an-unregistered-room".to_string(), Uuid::new_v4().to_string()] {
        let r = signed(&app, &json!({"event": "room_started", "room": {"name": name}})).await;
        assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})), "{name}");
    }
    assert!(lk.calls().iter().all(|c| c.service != "livekit.SIP"), "no SIP call with both flags off");
    // With telephony on, unregistered and unknown rooms are still 200 (B-WH-1), with no rule.
    let (app, lk) = app_with_telephony().await;
    for name in ["an-unregistered-room".to_string(), Uuid::new_v4().to_string()] {
        let r = signed(&app, &json!({"event": "room_started", "room": {"name": name}})).await;
        assert_eq!(r.status, 200, "{name}");
    }
    assert!(lk.sip_rules().is_empty());
}

async fn app_with_telephony() -> (TestApp, LiveKitDouble) {
    app(&[("ROOM_TELEPHONY_ENABLED", "true")]).await
}

#[tokio::test]
async fn nr_wh_3_room_finished_deletes_the_rules_and_clears_the_lobby() {
    let (app, lk) = app(&[("ROOMKIT_ENABLED", "true")]).await;
    let (room, _) = room_with_pin(&app).await;
    lk.add_sip_rule(&format!("SIP_{room}"));
    lk.add_sip_rule(&format!("SIP_{room}"));
    lk.add_sip_rule("SIP_another-room");
    waiter(&app, room).await;
    let r = signed(&app, &json!({"event": "room_finished", "room": {"name": room.to_string()}})).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    let left: Vec<String> = lk.sip_rules().into_iter().map(|r| r.name).collect();
    assert_eq!(left, ["SIP_another-room"], "every rule of the room deleted, others kept");
    assert_eq!(waiting(&app, room).await, 0);
}

#[tokio::test]
async fn b_wh_2_a_failed_rule_deletion_still_clears_the_lobby() {
    let (app, lk) = app_with_telephony().await;
    let (room, _) = room_with_pin(&app).await;
    lk.add_sip_rule(&format!("SIP_{room}"));
    waiter(&app, room).await;
    lk.fail_method("DeleteSIPDispatchRule", Some(crate::support::livekit::Failure::Twirp(500, "internal")));
    let r = signed(&app, &json!({"event": "room_finished", "room": {"name": room.to_string()}})).await;
    assert_eq!(r.status, 500, "the SIP failure is reported: {}", r.text);
    assert_eq!(waiting(&app, room).await, 0, "the lobby is cleared all the same");
}
