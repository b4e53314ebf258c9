//! Lobby and unregistered rooms: lobby-livekit §3, §4 (UR and L statements, with the §8
//! recommendations applied), driven over HTTP with a LiveKit double.

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use crate::support::livekit::{Failure, LiveKitDouble};
use crate::support::{Resp, TestApp, TestClient};

struct Lobby {
    app: TestApp,
    lk: LiveKitDouble,
    owner: TestClient,
    room_id: String,
    slug: String,
}

async fn lobby_with(level: &str, extra: &[(&str, &str)]) -> Lobby {
    let lk = LiveKitDouble::start().await;
    let app = lk.spawn_app(extra).await;
    let (_, owner) = app.logged_in("owner@example.com").await;
    // Created with its level: a later change would push room metadata to the LiveKit double.
    let r = owner.post("/api/v1.0/rooms/", &json!({"name": "Lobby Room", "access_level": level})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let room = r.json();
    let room_id = room["id"].as_str().unwrap().to_string();
    Lobby { app, lk, owner, room_id, slug: room["slug"].as_str().unwrap().to_string() }
}

async fn lobby(level: &str) -> Lobby {
    lobby_with(level, &[]).await
}

fn entry_path(room: &str) -> String {
    format!("/api/v1.0/rooms/{room}/request-entry/")
}

/// `request-entry` with an optional lobby cookie, sent by hand. Anonymous calls go through a
/// fresh client (an empty cookie jar), so that each call without `cookie` is a new browser.
async fn request_entry(c: &TestClient, room: &str, cookie: Option<&str>, body: &Value) -> Resp {
    let fresh;
    let c = if c.session_key.is_none() {
        fresh = TestClient::new(c.base.clone(), None);
        &fresh
    } else {
        c
    };
    let mut rb = c.request(reqwest::Method::POST, &entry_path(room)).json(body);
    if let Some(id) = cookie {
        rb = rb.header("Cookie", format!("lobbyParticipantId={id}"));
    }
    TestClient::send(rb).await
}

fn cookie_of(r: &Resp) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("lobbyParticipantId="))
        .map(|v| v.to_string())
}

fn cookie_value(r: &Resp) -> String {
    let c = cookie_of(r).expect("lobby cookie set");
    c["lobbyParticipantId=".len()..].split(';').next().unwrap().to_string()
}

async fn waiting(l: &Lobby) -> Vec<Value> {
    let r = l.owner.get(&format!("/api/v1.0/rooms/{}/waiting-participants/", l.room_id)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["participants"].as_array().unwrap().clone()
}

async fn decide(l: &Lobby, pid: &str, allow: bool) -> Resp {
    l.owner
        .post(&format!("/api/v1.0/rooms/{}/enter/", l.room_id), &json!({"participant_id": pid, "allow_entry": allow}))
        .await
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A participant id as issued since now-rooms §15.2 (NR-LB-2): a hyphenated lowercase UUID v4.
fn is_issued_id(s: &str) -> bool {
    let re = regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").unwrap();
    re.is_match(s)
}

// ---------------------------------------------------------------- request-entry

#[tokio::test]
async fn l_1_l_14_anonymous_caller_waits_in_a_restricted_room() {
    let l = lobby("restricted").await;
    let r = request_entry(&l.app.client(), &l.room_id, None, &json!({"username": "test_user"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = cookie_value(&r);
    assert!(is_issued_id(&id));
    assert_eq!(cookie_of(&r).unwrap(), format!("lobbyParticipantId={id}; HttpOnly; Path=/; SameSite=Lax; Secure"));
    let body = r.json();
    assert_eq!(
        body,
        json!({"status": "waiting", "username": "test_user", "id": id, "color": body["color"], "livekit": null})
    );
    assert_eq!(r.text.find("\"status\""), Some(1), "status comes first");
    assert!(body["color"].as_str().unwrap().starts_with("hsl("));
    let listed = waiting(&l).await;
    assert_eq!(listed, vec![json!({"status": "waiting", "username": "test_user", "id": id, "color": body["color"]})]);
}

#[tokio::test]
async fn l_2_authenticated_user_without_role_waits() {
    let l = lobby("restricted").await;
    let (_, c) = l.app.logged_in("stranger@example.com").await;
    let r = request_entry(&c, &l.room_id, None, &json!({"username": "me"})).await;
    assert_eq!(r.json()["status"], "waiting");
    assert_eq!(waiting(&l).await.len(), 1);
}

#[tokio::test]
async fn l_3_new_waiter_joins_existing_entries() {
    let l = lobby("restricted").await;
    let anon = l.app.client();
    let a = request_entry(&anon, &l.room_id, None, &json!({"username": "a"})).await;
    let b = request_entry(&anon, &l.room_id, None, &json!({"username": "b"})).await;
    decide(&l, &cookie_value(&b), true).await;
    let c = request_entry(&anon, &l.room_id, None, &json!({"username": "c"})).await;
    assert_eq!(c.json()["status"], "waiting");
    let ids: Vec<String> = waiting(&l).await.iter().map(|p| p["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, vec![cookie_value(&a), cookie_value(&c)], "waiters listed by arrival; accepted not listed");
}

#[tokio::test]
async fn l_4_public_room_admits_at_once_and_stores_nothing() {
    let l = lobby("public").await;
    for c in [l.app.client(), l.app.logged_in("x@example.com").await.1] {
        let r = request_entry(&c, &l.room_id, None, &json!({"username": "alice"})).await;
        assert_eq!(r.status, 200);
        let body = r.json();
        assert_eq!(body["status"], "accepted");
        assert_eq!(body["livekit"]["room"], l.room_id);
        assert!(cookie_of(&r).is_some());
        let t = claims(body["livekit"]["token"].as_str().unwrap());
        assert_eq!(t["name"], "alice");
        assert_eq!(t["video"]["room"], l.room_id);
        assert_eq!(t["metadata"], format!("{{\"color\": \"{}\"}}", body["color"].as_str().unwrap()));
    }
    let r = l.owner.get(&format!("/api/v1.0/rooms/{}/waiting-participants/", l.room_id)).await;
    assert_eq!(r.json(), json!({"participants": []}));
    assert!(meet::service::lobby::waiting(&l.app.state, l.room_id.parse().unwrap()).await.unwrap().is_empty());
}

#[tokio::test]
async fn l_5_trusted_room_admits_authenticated_callers_only_and_q3_roles_bypass() {
    let l = lobby("trusted").await;
    let (_, user) = l.app.logged_in("u@example.com").await;
    assert_eq!(request_entry(&user, &l.room_id, None, &json!({"username": "u"})).await.json()["status"], "accepted");
    assert_eq!(
        request_entry(&l.app.client(), &l.room_id, None, &json!({"username": "anon"})).await.json()["status"],
        "waiting"
    );

    let r = lobby("restricted").await;
    let (member, member_client) = r.app.logged_in("member@example.com").await;
    let add = r
        .owner
        .post("/api/v1.0/resource-accesses/", &json!({"user": member.id, "resource": r.room_id, "role": "member"}))
        .await;
    assert_eq!(add.status, 201, "{}", add.text);
    let ans = request_entry(&member_client, &r.room_id, None, &json!({"username": "m"})).await;
    assert_eq!(ans.json()["status"], "accepted", "Q3: a member of a restricted room does not wait");
    assert!(ans.json()["livekit"].is_object());
}

#[tokio::test]
async fn l_6_q2_waiter_of_a_room_made_public_is_admitted_with_its_entry() {
    let l = lobby("restricted").await;
    let first = request_entry(&l.app.client(), &l.room_id, None, &json!({"username": "user1"})).await;
    let pid = cookie_value(&first);
    let color = first.json()["color"].clone();
    l.owner.patch(&format!("/api/v1.0/rooms/{}/", l.room_id), &json!({"access_level": "public"})).await;
    let r = request_entry(&l.app.client(), &l.room_id, Some(&pid), &json!({"username": "other"})).await;
    let body = r.json();
    assert_eq!(
        (body["id"].as_str(), body["username"].as_str(), body["status"].as_str()),
        (Some(pid.as_str()), Some("user1"), Some("accepted"))
    );
    assert_eq!(body["color"], color);
    assert_eq!(cookie_value(&r), pid);
    assert!(body["livekit"]["token"].is_string());
}

#[tokio::test]
async fn l_7_s_lk4_username_validation() {
    let l = lobby("restricted").await;
    let c = l.app.client();
    let cases = [
        (json!({}), json!({"username": ["This field is required."]})),
        (json!({"username": "  "}), json!({"username": ["This field may not be blank."]})),
        (json!({"username": null}), json!({"username": ["This field may not be null."]})),
        (json!({"username": [1]}), json!({"username": ["Not a valid string."]})),
        (
            json!({"username": "x".repeat(256)}),
            json!({"username": ["Ensure this field has no more than 255 characters."]}),
        ),
    ];
    for (body, want) in cases {
        let r = request_entry(&c, &l.room_id, None, &body).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, want.clone()), "{body}");
        assert!(cookie_of(&r).is_none(), "no cookie on 400");
    }
    let r = request_entry(&c, &l.room_id, None, &json!({"username": "  bob "})).await;
    assert_eq!(r.json()["username"], "bob");
    let r = request_entry(&c, &l.room_id, None, &json!({"username": 12})).await;
    assert_eq!(r.json()["username"], "12");
    let r = TestClient::send(
        c.request(reqwest::Method::POST, &entry_path(&l.room_id))
            .header("Content-Type", "application/json")
            .body("{oops"),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn l_8_l_9_unknown_room_is_404_after_validation_and_slugs_work() {
    let l = lobby("restricted").await;
    let c = l.app.client();
    let unknown = uuid::Uuid::new_v4().to_string();
    let r = request_entry(&c, &unknown, None, &json!({"username": "x"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No Room matches the given query."})));
    assert!(cookie_of(&r).is_none());
    assert_eq!(request_entry(&c, &unknown, None, &json!({})).await.status, 400);
    let r = request_entry(&c, &l.slug, None, &json!({"username": "by-slug"})).await;
    assert_eq!(r.json()["status"], "waiting");
    let listed = waiting(&l).await;
    assert_eq!(listed[0]["username"], "by-slug");
}

#[tokio::test]
async fn l_10_polling_keeps_the_entry_and_it_expires_after_the_last_poll() {
    let l = lobby_with("restricted", &[("LOBBY_WAITING_TIMEOUT", "1")]).await;
    let c = l.app.client();
    let pid = cookie_value(&request_entry(&c, &l.room_id, None, &json!({"username": "w"})).await);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            request_entry(&c, &l.room_id, Some(&pid), &json!({"username": "w"})).await.json()["status"],
            "waiting"
        );
    }
    assert_eq!(waiting(&l).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(waiting(&l).await.is_empty());
}

#[tokio::test]
async fn l_11_l_13_tk_10_accepted_participant_gets_a_token_each_call() {
    let l = lobby("restricted").await;
    let c = l.app.client();
    let pid = cookie_value(&request_entry(&c, &l.slug, None, &json!({"username": "Alice"})).await);
    assert_eq!(decide(&l, &pid, true).await.json(), json!({"message": "Participant was updated."}));
    let r1 = request_entry(&c, &l.slug, Some(&pid), &json!({"username": "Bob"})).await.json();
    let r2 = request_entry(&c, &l.slug, Some(&pid), &json!({"username": "Bob"})).await.json();
    assert_eq!(r1["status"], "accepted");
    assert_eq!(r1["username"], "Alice", "the stored username is answered");
    let t = claims(r1["livekit"]["token"].as_str().unwrap());
    assert_eq!(t["name"], "Bob");
    assert_eq!(t["video"]["room"], l.room_id);
    assert_eq!(r1["livekit"]["room"], l.room_id);
    assert_eq!(t["metadata"], format!("{{\"color\": \"{}\"}}", r1["color"].as_str().unwrap()));
    assert_eq!(t["sub"], pid, "S-LK3b: an anonymous lobby participant's identity is its participant id");
    assert!(r2["livekit"]["token"].is_string());
}

#[tokio::test]
async fn l_12_denied_then_waiting_again_after_the_denial_expires() {
    let l = lobby_with("restricted", &[("LOBBY_DENIED_TIMEOUT", "1")]).await;
    let c = l.app.client();
    let pid = cookie_value(&request_entry(&c, &l.room_id, None, &json!({"username": "d"})).await);
    decide(&l, &pid, false).await;
    let r = request_entry(&c, &l.room_id, Some(&pid), &json!({"username": "d"})).await.json();
    assert_eq!((r["status"].as_str(), &r["livekit"]), (Some("denied"), &Value::Null));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(request_entry(&c, &l.room_id, Some(&pid), &json!({"username": "d"})).await.json()["status"], "waiting");
}

#[tokio::test]
async fn l_14_s_lk3a_invalid_cookies_get_a_new_id() {
    let l = lobby("restricted").await;
    let c = l.app.client();
    let good = "0f5e8c3a1b2d4e6f8a9b0c1d2e3f4a5b";
    let r = request_entry(&c, &l.room_id, Some(good), &json!({"username": "g"})).await;
    assert_eq!((r.json()["id"].as_str(), cookie_value(&r).as_str()), (Some(good), good));
    for bad in ["participant1", "", &"a".repeat(4000), "0F5E8C3A1B2D4E6F8A9B0C1D2E3F4A5B"] {
        let r = request_entry(&c, &l.room_id, Some(bad), &json!({"username": "b"})).await;
        let id = r.json()["id"].as_str().unwrap().to_string();
        assert!(is_issued_id(&id) && id != bad);
        assert_eq!(cookie_value(&r), id);
    }
}

#[tokio::test]
async fn l_15_q1_throttle_per_ip_without_cookie_and_per_participant_with_one() {
    let l = lobby_with("restricted", &[("REQUEST_ENTRY_THROTTLE_RATES", "2/minute")]).await;
    let c = l.app.client();
    assert_eq!(request_entry(&c, &l.room_id, None, &json!({"username": "a"})).await.status, 200);
    assert_eq!(request_entry(&c, &l.room_id, None, &json!({"username": "a"})).await.status, 200);
    let r = request_entry(&c, &l.room_id, None, &json!({})).await;
    assert_eq!(r.status, 429, "throttled before body validation");
    assert_eq!(r.json(), json!({"detail": "Request was throttled. Expected available in 60 seconds."}));
    assert_eq!(r.header("retry-after"), Some("60"));
    let a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    assert_eq!(request_entry(&c, &l.room_id, Some(a), &json!({"username": "a"})).await.status, 200);
    assert_eq!(request_entry(&c, &l.room_id, Some(a), &json!({"username": "a"})).await.status, 200);
    assert_eq!(request_entry(&c, &l.room_id, Some(a), &json!({"username": "a"})).await.status, 429);
    assert_eq!(request_entry(&c, &l.room_id, Some(b), &json!({"username": "b"})).await.status, 200);
    // now-rooms §15.5 (NR-LB-4): authenticated callers are throttled too, by user.
    let (_, user) = l.app.logged_in("user@example.com").await;
    for _ in 0..2 {
        assert_eq!(request_entry(&user, &l.room_id, None, &json!({"username": "u"})).await.status, 200);
    }
    assert_eq!(request_entry(&user, &l.room_id, None, &json!({"username": "u"})).await.status, 429);
    // Only POSTs count: a GET is a 405 whatever the window holds.
    let r = TestClient::send(l.app.client().request(reqwest::Method::GET, &entry_path(&l.room_id))).await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn l_15_other_methods_are_405() {
    let l = lobby("restricted").await;
    let (_, user) = l.app.logged_in("m@example.com").await;
    let r = user.get(&entry_path(&l.room_id)).await;
    assert_eq!((r.status.as_u16(), r.header("allow")), (405, Some("POST, OPTIONS")));
}

// ---------------------------------------------------------------- waiting list and decisions

#[tokio::test]
async fn l_16_l_17_l_21_l_22_permissions() {
    let l = lobby("restricted").await;
    let list = format!("/api/v1.0/rooms/{}/waiting-participants/", l.room_id);
    let enter = format!("/api/v1.0/rooms/{}/enter/", l.room_id);
    let anon = l.app.client();
    assert_eq!(anon.get(&list).await.status, 401);
    assert_eq!(anon.post(&enter, &json!({"participant_id": "p", "allow_entry": true})).await.status, 401);
    let (member, mc) = l.app.logged_in("member@example.com").await;
    l.owner
        .post("/api/v1.0/resource-accesses/", &json!({"user": member.id, "resource": l.room_id, "role": "member"}))
        .await;
    let (_, stranger) = l.app.logged_in("stranger@example.com").await;
    for c in [&mc, &stranger] {
        let r = c.get(&list).await;
        assert_eq!(
            (r.status.as_u16(), r.json()),
            (403, json!({"detail": "You must have privileges on room to perform this action."}))
        );
        let r = c.post(&enter, &json!({"participant_id": uuid::Uuid::new_v4(), "allow_entry": true})).await;
        assert_eq!(r.status, 403);
        assert_eq!(c.post(&enter, &json!({})).await.status, 400, "body validation before permission");
    }
    let unknown = format!("/api/v1.0/rooms/{}/waiting-participants/", uuid::Uuid::new_v4());
    assert_eq!(stranger.get(&unknown).await.json(), json!({"detail": "No Room matches the given query."}));
}

#[tokio::test]
async fn l_18_l_23_public_rooms_have_no_lobby() {
    let l = lobby("public").await;
    assert!(waiting(&l).await.is_empty());
    let r = decide(&l, "0f5e8c3a1b2d4e6f8a9b0c1d2e3f4a5b", true).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"message": "Room has no lobby system."})));
}

#[tokio::test]
async fn l_19_l_20_l_24_l_25_l_26_decisions() {
    let l = lobby("restricted").await;
    let c = l.app.client();
    assert!(waiting(&l).await.is_empty());
    let p1 = cookie_value(&request_entry(&c, &l.room_id, None, &json!({"username": "one"})).await);
    let p2 = cookie_value(&request_entry(&c, &l.room_id, None, &json!({"username": "two"})).await);
    assert_eq!(waiting(&l).await.len(), 2);
    assert_eq!(decide(&l, &p1, true).await.status, 200);
    assert_eq!(decide(&l, &p2, false).await.status, 200);
    assert!(waiting(&l).await.is_empty(), "decided entries are not listed");
    assert_eq!(
        request_entry(&c, &l.room_id, Some(&p1), &json!({"username": "one"})).await.json()["status"],
        "accepted"
    );
    assert_eq!(request_entry(&c, &l.room_id, Some(&p2), &json!({"username": "two"})).await.json()["status"], "denied");
    // A decision can be changed (last decision wins).
    assert_eq!(decide(&l, &p1, false).await.status, 200);
    assert_eq!(request_entry(&c, &l.room_id, Some(&p1), &json!({"username": "one"})).await.json()["status"], "denied");
    let r = decide(&l, "ffffffffffffffffffffffffffffffff", true).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"message": "Participant not found."})));
    let r = l.owner.post(&format!("/api/v1.0/rooms/{}/enter/", l.room_id), &json!({})).await;
    assert_eq!(
        r.json(),
        json!({"participant_id": ["This field is required."], "allow_entry": ["This field is required."]})
    );
    let r = l
        .owner
        .post(&format!("/api/v1.0/rooms/{}/enter/", l.room_id), &json!({"participant_id": p1, "allow_entry": "maybe"}))
        .await;
    assert_eq!(r.json(), json!({"allow_entry": ["Must be a valid boolean."]}));
}

// ---------------------------------------------------------------- LiveKit notification

#[tokio::test]
async fn l_27_new_waiter_notifies_a_running_room_once() {
    let l = lobby("restricted").await;
    l.lk.add_room(&l.room_id);
    let c = l.app.client();
    let pid = cookie_value(&request_entry(&c, &l.room_id, None, &json!({"username": "n"})).await);
    let sends = l.lk.wait_for("SendData", 1).await;
    assert_eq!(sends.len(), 1);
    let req = &sends[0].request;
    assert_eq!(req["room"], l.room_id);
    let data = base64::engine::general_purpose::STANDARD.decode(req["data"].as_str().unwrap()).unwrap();
    assert_eq!(String::from_utf8(data).unwrap(), r#"{"type": "participantWaiting"}"#);
    assert!(req["kind"].is_null() || req["kind"] == "RELIABLE", "kind RELIABLE: {req}");
    assert!(req.get("destinationIdentities").is_none_or(|d| d.as_array().is_some_and(|a| a.is_empty())));
    // Refreshing polls make no LiveKit call.
    let before = l.lk.calls().len();
    request_entry(&c, &l.room_id, Some(&pid), &json!({"username": "n"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(l.lk.calls().len(), before);
}

#[tokio::test]
async fn l_27_no_send_data_when_the_room_is_not_running() {
    let l = lobby("restricted").await;
    request_entry(&l.app.client(), &l.room_id, None, &json!({"username": "n"})).await;
    let lists = l.lk.wait_for("ListRooms", 1).await;
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0].request["names"], json!([l.room_id]));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(l.lk.calls_of("SendData").is_empty());
}

#[tokio::test]
async fn l_28_l_29_e1_livekit_errors_or_outage_never_fail_the_waiter() {
    for failure in [Failure::Twirp(500, "internal"), Failure::Html502, Failure::Hang] {
        let l = lobby_with("restricted", &[("MEET_LIVEKIT_TIMEOUT", "1")]).await;
        l.lk.add_room(&l.room_id);
        l.lk.fail_with(Some(failure.clone()));
        let started = std::time::Instant::now();
        let r = request_entry(&l.app.client(), &l.room_id, None, &json!({"username": "w"})).await;
        assert_eq!(r.status, 200, "{failure:?}");
        assert!(started.elapsed() < Duration::from_secs(1), "the notification does not delay the answer");
        assert_eq!(r.json()["status"], "waiting");
        assert!(cookie_of(&r).is_some());
        assert_eq!(waiting(&l).await.len(), 1, "{failure:?}");
    }
    // LiveKit not even listening.
    let l = lobby_with("restricted", &[("LIVEKIT_API_URL", "http://127.0.0.1:9")]).await;
    let r = request_entry(&l.app.client(), &l.room_id, None, &json!({"username": "w"})).await;
    assert_eq!(r.json()["status"], "waiting");
}

// ---------------------------------------------------------------- races (run on both backends)

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_lk4_two_first_polls_with_the_same_cookie_make_one_entry_and_one_notification() {
    let l = lobby("restricted").await;
    l.lk.add_room(&l.room_id);
    let pid = "0123456789abcdef0123456789abcdef";
    let c = l.app.client();
    let (tab1, tab2) = (json!({"username": "tab1"}), json!({"username": "tab2"}));
    let (a, b) =
        tokio::join!(request_entry(&c, &l.room_id, Some(pid), &tab1), request_entry(&c, &l.room_id, Some(pid), &tab2));
    assert_eq!((a.json()["status"].as_str(), b.json()["status"].as_str()), (Some("waiting"), Some("waiting")));
    assert_eq!(a.json()["username"], b.json()["username"], "both tabs share one entry");
    assert_eq!(waiting(&l).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(l.lk.calls_of("SendData").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_lk4_many_waiters_at_once_are_all_listed_and_notified_twice() {
    let l = lobby("restricted").await;
    l.lk.add_room(&l.room_id);
    let c = l.app.client();
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let c = c.clone();
            let room = l.room_id.clone();
            tokio::spawn(async move { request_entry(&c, &room, None, &json!({"username": format!("w{i}")})).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().json()["status"], "waiting");
    }
    let span = started.elapsed();
    assert_eq!(waiting(&l).await.len(), 20);
    // The first arrival is announced at once, the others by one trailing notification when its
    // window ends (S-LK4); a burst longer than a window (a slow machine) opens one more per second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sends = l.lk.calls_of("SendData").len();
    let bound = span.as_secs_f64().ceil() as usize + 1;
    assert!((2..=bound.max(2)).contains(&sends), "{sends} notifications for a burst of {span:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_lk3_two_administrators_deciding_at_once() {
    let l = lobby("restricted").await;
    let (admin, admin_client) = l.app.logged_in("admin@example.com").await;
    l.owner
        .post(
            "/api/v1.0/resource-accesses/",
            &json!({"user": admin.id, "resource": l.room_id, "role": "administrator"}),
        )
        .await;
    let c = l.app.client();
    for round in 0..5 {
        let pid = cookie_value(&request_entry(&c, &l.room_id, None, &json!({"username": format!("r{round}")})).await);
        let path = format!("/api/v1.0/rooms/{}/enter/", l.room_id);
        let (allow, deny) =
            (json!({"participant_id": pid, "allow_entry": true}), json!({"participant_id": pid, "allow_entry": false}));
        let (a, b) = tokio::join!(l.owner.post(&path, &allow), admin_client.post(&path, &deny));
        assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
        let status =
            request_entry(&c, &l.room_id, Some(&pid), &json!({"username": "x"})).await.json()["status"].clone();
        assert!(status == "accepted" || status == "denied", "{status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_lk2_a_poll_racing_a_decision_never_shortens_it() {
    let l = lobby_with("restricted", &[("LOBBY_WAITING_TIMEOUT", "1")]).await;
    let c = l.app.client();
    let pid = cookie_value(&request_entry(&c, &l.room_id, None, &json!({"username": "racer"})).await);
    let polls: Vec<_> = (0..10)
        .map(|_| {
            let c = c.clone();
            let room = l.room_id.clone();
            let pid = pid.clone();
            tokio::spawn(async move { request_entry(&c, &room, Some(&pid), &json!({"username": "racer"})).await })
        })
        .collect();
    assert_eq!(decide(&l, &pid, true).await.status, 200);
    for p in polls {
        p.await.unwrap();
    }
    // Past the waiting timeout: an acceptance shortened to it would be gone.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        request_entry(&c, &l.room_id, Some(&pid), &json!({"username": "racer"})).await.json()["status"],
        "accepted"
    );
}

// ---------------------------------------------------------------- unregistered rooms

fn unregistered_room(r: &Resp) -> String {
    let body = r.json();
    assert_eq!(body["id"], Value::Null, "{body}");
    // now-rooms §6.2 (NR-CFG-4): HEAD's keys.
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["id", "slug", "is_administrable", "access_level", "livekit"]
    );
    body["livekit"]["room"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn ur_1_ur_2_ur_4_unknown_identifiers_get_a_throwaway_room() {
    let l = lobby("public").await;
    let c = l.app.client();
    let r = c.get("/api/v1.0/rooms/unregistered-room/").await;
    assert_eq!(r.status, 200);
    assert_eq!(unregistered_room(&r), "unregistered-room");
    let t = claims(r.json()["livekit"]["token"].as_str().unwrap());
    assert_eq!(t["name"], "Anonymous");
    // now-rooms §7.1: no role in a throw-away room.
    assert_eq!(t["video"]["roomAdmin"], false);
    assert_eq!(unregistered_room(&c.get("/api/v1.0/rooms/R%C3%A9union/").await), "reunion");
    let r = c.get("/api/v1.0/rooms/unregistered-room/?username=Bob").await;
    assert_eq!(claims(r.json()["livekit"]["token"].as_str().unwrap())["name"], "Bob");
    assert_eq!(r.json()["livekit"]["url"], l.lk.url);
}

#[tokio::test]
async fn ur_3_disabled_unregistered_rooms_are_404() {
    let l = lobby_with("public", &[("ALLOW_UNREGISTERED_ROOMS", "false")]).await;
    let r = l.app.client().get("/api/v1.0/rooms/unregistered-room/").await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No Room matches the given query."})));
}

#[tokio::test]
async fn ur_5_ur_6_no_other_endpoint_falls_back_and_nothing_is_stored() {
    let l = lobby("public").await;
    let c = l.app.client();
    assert_eq!(c.get("/api/v1.0/rooms/ghost-room/").await.status, 200);
    let (_, user) = l.app.logged_in("u@example.com").await;
    assert_eq!(user.patch("/api/v1.0/rooms/ghost-room/", &json!({"name": "x"})).await.status, 404);
    assert_eq!(user.delete("/api/v1.0/rooms/ghost-room/").await.status, 404);
    assert_eq!(request_entry(&c, "ghost-room", None, &json!({"username": "x"})).await.status, 404);
    assert_eq!(c.get("/api/v1.0/rooms/ghost-room/waiting-participants/").await.status, 401);
    assert_eq!(user.get("/api/v1.0/rooms/ghost-room/waiting-participants/").await.status, 404);
    assert_eq!(
        user.post(
            "/api/v1.0/rooms/ghost-room/enter/",
            &json!({"participant_id": uuid::Uuid::new_v4(), "allow_entry": true})
        )
        .await
        .status,
        404
    );
    let created = user.post("/api/v1.0/rooms/", &json!({"name": "ghost-room"})).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["livekit"]["room"], created.json()["id"]);
}

#[tokio::test]
async fn ur_7_ur_8_s_lk1_uuid_shaped_and_empty_slugs_never_reach_a_room() {
    let l = lobby("restricted").await;
    let c = l.app.client();
    let id = l.room_id.clone();
    let upper = id.to_uppercase();
    let deleted = {
        let r = l.owner.post("/api/v1.0/rooms/", &json!({"name": "to delete"})).await.json();
        let rid = r["id"].as_str().unwrap().to_string();
        assert_eq!(l.owner.delete(&format!("/api/v1.0/rooms/{rid}/")).await.status, 204);
        rid
    };
    let variants = vec![
        format!("{id}_"),
        format!("{id}!"),
        format!("{id}%20"),
        format!("{id}'"),
        format!("{id}("),
        format!("_{upper}"),
        deleted.clone(),
        uuid::Uuid::new_v4().to_string(),
        "!!!".to_string(),
        "%E6%97%A5%E6%9C%AC".to_string(),
    ];
    for v in variants {
        let r = c.get(&format!("/api/v1.0/rooms/{v}/")).await;
        assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No Room matches the given query."})), "{v}");
    }
    // Spellings that the lookup itself resolves reach the room, with its own rules (restricted:
    // no token for a stranger).
    for v in [id.replace('-', ""), format!("%7B{id}%7D"), l.slug.to_uppercase()] {
        let r = c.get(&format!("/api/v1.0/rooms/{v}/")).await;
        assert_eq!(r.status, 200, "{v}");
        assert_eq!(r.json()["id"], id, "{v}");
        assert!(r.json().get("livekit").is_none_or(Value::is_null), "{v}");
    }
}

// ---------------------------------------------------------------- S-LK4: trailing notification

/// Waits (bounded by `deadline`) until the double has received `n` SendData calls; returns the
/// count then.
async fn sends_by(lk: &LiveKitDouble, n: usize, deadline: std::time::Instant) -> usize {
    loop {
        let count = lk.calls_of("SendData").len();
        if count >= n || std::time::Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn s_lk4_a_waiter_arriving_inside_the_window_is_announced_when_it_ends() {
    let l = lobby("restricted").await;
    l.lk.add_room(&l.room_id);
    // A arrives and is announced; the administrator admits A: the list is empty, and the
    // frontend stops polling until the next notification.
    let a = cookie_value(&request_entry(&l.app.client(), &l.room_id, None, &json!({"username": "A"})).await);
    assert_eq!(l.lk.wait_for("SendData", 1).await.len(), 1);
    assert_eq!(decide(&l, &a, true).await.status, 200);
    assert!(waiting(&l).await.is_empty());
    // B arrives half a second later, inside A's notification window.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let arrived = std::time::Instant::now();
    let b = request_entry(&l.app.client(), &l.room_id, None, &json!({"username": "B"})).await;
    assert_eq!(b.json()["status"], "waiting");
    let count = sends_by(&l.lk, 2, arrived + Duration::from_millis(1500)).await;
    assert_eq!(count, 2, "B announced within 1.5 s (after {:?})", arrived.elapsed());
    let listed = waiting(&l).await;
    assert_eq!(listed.iter().map(|w| w["username"].clone()).collect::<Vec<_>>(), vec![json!("B")]);
    // Nothing more follows.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(l.lk.calls_of("SendData").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s_lk4_a_burst_of_50_waiters_makes_at_most_one_notification_per_second() {
    let l = lobby_with("restricted", &[("LOBBY_WAITING_TIMEOUT", "60")]).await;
    l.lk.add_room(&l.room_id);
    // With Redis, half the waiters go through a second instance sharing the stores: the
    // coalescing holds across instances.
    let second = match crate::support::redis_url() {
        Some(_) => Some(TestApp::start(l.app.db.clone(), l.app.data_dir.clone(), l.app.vars.clone()).await),
        None => None,
    };
    let clients = [l.app.client(), second.as_ref().unwrap_or(&l.app).client()];
    // 50 arrivals, one every 50 ms.
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..50u64)
        .map(|i| {
            let c = clients[(i % 2) as usize].clone();
            let room = l.room_id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i * 50)).await;
                request_entry(&c, &room, None, &json!({"username": format!("w{i}")})).await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().json()["status"], "waiting");
    }
    let span = started.elapsed();
    assert_eq!(waiting(&l).await.len(), 50);
    let at_last_arrival = l.lk.calls_of("SendData").len();
    // The last waiters are announced by a trailing notification once the last window ends.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sends = l.lk.calls_of("SendData").len();
    // A notification opens a one-second window: one when the burst starts, at most one per
    // second while it lasts, one trailing. (The double sees them when they arrive, so a slow
    // machine can bunch them; their number is what the windows bound.)
    let bound = span.as_secs_f64().ceil() as usize + 2;
    assert!((2..=bound).contains(&sends), "{sends} notifications for arrivals over {span:?} (at most {bound})");
    assert!(at_last_arrival >= 1, "the first waiter is announced while the burst goes on");
}
