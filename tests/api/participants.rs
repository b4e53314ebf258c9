//! In-call participant management (now-rooms §3–§5, NR-LT-*, NR-PM-*, NR-RL-*): the endpoints are
//! called with real LiveKit tokens minted by the app (as the frontend sends them) or sessions, and
//! the LiveKit Twirp double checks each RoomService call's grants and records it.

use base64::Engine;
use livekit_protocol::participant_info::State as PState;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::livekit::{Failure, LiveKitDouble, KEY, SECRET};
use crate::support::{Resp, TestApp, TestClient};

struct Rig {
    app: TestApp,
    lk: LiveKitDouble,
    owner: TestClient,
    owner_sub: String,
    room_id: String,
}

async fn rig(extra: &[(&str, &str)]) -> Rig {
    let lk = LiveKitDouble::start().await;
    let app = lk.spawn_app(extra).await;
    let (owner_user, owner) = app.logged_in("owner@example.com").await;
    let r = owner.post("/api/v1.0/rooms/", &json!({"name": "Call room"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let room_id = r.json()["id"].as_str().unwrap().to_string();
    Rig { app, lk, owner, owner_sub: owner_user.sub.unwrap(), room_id }
}

impl Rig {
    fn path(&self, action: &str) -> String {
        format!("/api/v1.0/rooms/{}/{action}/", self.room_id)
    }

    /// The LiveKit token the app gives `client` for the room, and its identity.
    async fn token(&self, client: &TestClient) -> (String, String) {
        let r = client.get(&format!("/api/v1.0/rooms/{}/", self.room_id)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token = r.json()["livekit"]["token"].as_str().unwrap().to_string();
        let identity = payload(&token)["sub"].as_str().unwrap().to_string();
        (token, identity)
    }

    /// Connects `identity` to the LiveKit room of the rig's room.
    fn connect(&self, identity: &str) {
        self.lk.add_participant(&self.room_id, identity, PState::Active);
    }

    async fn member(&self, role: &str) -> (meet::store::users::User, TestClient) {
        let (u, c) = self.app.logged_in(&format!("{role}-{}@example.com", Uuid::new_v4().simple())).await;
        if role != "none" {
            crate::support::rooms::add_access(&self.app, self.room_id.parse().unwrap(), u.id, role).await;
        }
        (u, c)
    }

    async fn set_configuration(&self, configuration: Value) {
        let r = self
            .owner
            .patch(&format!("/api/v1.0/rooms/{}/", self.room_id), &json!({"configuration": configuration}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

async fn rig_locked() -> Rig {
    rig(&[("AUTHENTICATED_PARTICIPANTS_CAN_EDIT_DISPLAY_NAME", "false")]).await
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A JWT signed with `secret` (HS256) carrying `claims`.
fn jwt(claims: &Value, secret: &str) -> String {
    let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", e(&json!({"alg": "HS256", "typ": "JWT"})), e(claims));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let sig = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn claims_for(room: &str, sub: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": KEY, "sub": sub, "exp": now + exp_offset, "nbf": now - 5, "video": {"room": room, "roomJoin": true}})
}

async fn post_with(app: &TestApp, path: &str, authorization: Option<&str>, body: &Value) -> Resp {
    let mut rb = app.client().http.post(app.url(path)).json(body);
    if let Some(a) = authorization {
        rb = rb.header("Authorization", a);
    }
    TestClient::send(rb).await
}

async fn with_token(rig: &Rig, action: &str, token: &str, body: &Value) -> Resp {
    post_with(&rig.app, &rig.path(action), Some(&format!("Bearer {token}")), body).await
}

const NOCRED: &str = "Authentication credentials were not provided.";
const DENIED: &str = "You do not have permission to perform this action.";

// --- §3.1 authentication by LiveKit token ---------------------------------------------------

#[tokio::test]
async fn nr_lt_1_no_token_is_403_even_with_a_session() {
    let rig = rig(&[]).await;
    let r = rig.owner.post(&rig.path("toggle-hand"), &json!({"raised": true})).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json(), json!({"detail": NOCRED}));
    assert!(r.header("www-authenticate").is_none());
}

#[tokio::test]
async fn nr_lt_2_nr_lt_3_nr_lt_4_nr_lt_5_bad_tokens_are_403_with_the_reason() {
    let rig = rig(&[]).await;
    let good = claims_for(&rig.room_id, "someone", 3600);
    let cases = [
        ("Bearer this-is-not-a-valid-jwt".to_string(), "Invalid LiveKit token: Not enough segments"),
        (format!("Bearer {}", jwt(&good, "another-secret")), "Invalid LiveKit token: Signature verification failed"),
        (
            format!("Bearer {}", jwt(&claims_for(&rig.room_id, "someone", -61), SECRET)),
            "Invalid LiveKit token: Signature has expired",
        ),
        ("Token abc".to_string(), "Authorization header must be: Bearer <token>"),
        ("Bearer a b".to_string(), "Authorization header must be: Bearer <token>"),
    ];
    for (header, detail) in cases {
        for action in ["toggle-hand", "rename", "mute-participant"] {
            let r = post_with(&rig.app, &rig.path(action), Some(&header), &json!({"raised": true})).await;
            assert_eq!(r.status, 403, "{action} with {header}");
            assert_eq!(r.json(), json!({"detail": detail}), "{action} with {header}");
        }
    }
    // 30 s past `exp` is inside the leeway.
    rig.connect("someone");
    let r = with_token(
        &rig,
        "toggle-hand",
        &jwt(&claims_for(&rig.room_id, "someone", -30), SECRET),
        &json!({"raised": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(rig.lk.calls().iter().all(|c| c.request["identity"] == "someone"), "refused tokens made no call");
}

// --- §5.4 toggle-hand and §5.5 rename --------------------------------------------------------

#[tokio::test]
async fn nr_pm_21_nr_pm_22_nr_lt_6_hand_raised_and_lowered_for_the_token_identity() {
    let rig = rig(&[]).await;
    let (token, identity) = rig.token(&rig.owner).await;
    assert_eq!(identity, rig.owner_sub);
    rig.connect(&identity);
    let r =
        with_token(&rig, "toggle-hand", &token, &json!({"raised": true, "participant_identity": "someone else"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    let r = with_token(&rig, "toggle-hand", &token, &json!({"raised": "false"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let calls = rig.lk.calls_of("UpdateParticipant");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].request["identity"], identity.as_str());
    assert_eq!(calls[0].request["room"], rig.room_id.as_str());
    let raised_at = calls[0].request["attributes"]["handRaisedAt"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(raised_at).is_ok() && raised_at.ends_with("+00:00"), "{raised_at}");
    assert_eq!(calls[1].request["attributes"], json!({"handRaisedAt": ""}));
    assert!(calls[1].request.get("metadata").is_none(), "no metadata overwrite (B-PM-1)");
}

#[tokio::test]
async fn nr_pm_23_nr_pm_24_anonymous_tokens_other_rooms_and_unknown_rooms() {
    let rig = rig(&[]).await;
    let (token, identity) = rig.token(&rig.app.client()).await;
    rig.connect(&identity);
    let r = with_token(&rig, "toggle-hand", &token, &json!({"raised": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(rig.lk.calls_of("UpdateParticipant")[0].request["identity"], identity.as_str());
    // A token for another room.
    let other = rig.owner.post("/api/v1.0/rooms/", &json!({"name": "Other"})).await.json();
    let r = post_with(
        &rig.app,
        &format!("/api/v1.0/rooms/{}/toggle-hand/", other["id"].as_str().unwrap()),
        Some(&format!("Bearer {token}")),
        &json!({"raised": true}),
    )
    .await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": DENIED})));
    let r = post_with(
        &rig.app,
        &format!("/api/v1.0/rooms/{}/toggle-hand/", Uuid::new_v4()),
        Some(&format!("Bearer {token}")),
        &json!({"raised": true}),
    )
    .await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No Room matches the given query."})));
    let r = with_token(&rig, "toggle-hand", &token, &json!({})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"raised": ["This field is required."]})));
    let r = with_token(&rig, "toggle-hand", &token, &json!({"raised": "maybe"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"raised": ["Must be a valid boolean."]})));
}

#[tokio::test]
async fn nr_pm_25_nr_pm_26_rename_the_caller_only() {
    let rig = rig(&[]).await;
    let (token, identity) = rig.token(&rig.owner).await;
    rig.connect(&identity);
    let r = with_token(&rig, "rename", &token, &json!({"name": "  Jane Doe "})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let call = rig.lk.calls_of("UpdateParticipant").pop().unwrap();
    assert_eq!(
        (call.request["identity"].as_str(), call.request["name"].as_str()),
        (Some(identity.as_str()), Some("Jane Doe"))
    );
    // B-SEC-5: with display names locked, a logged-in participant keeps their account's name.
    let locked = rig_locked().await;
    let (t, id) = locked.token(&locked.owner).await;
    locked.connect(&id);
    let r = with_token(&locked, "rename", &t, &json!({"name": "Someone Else"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(locked.lk.calls_of("UpdateParticipant").pop().unwrap().request["name"], "Full owner@example.com");
    let r = with_token(&rig, "rename", &token, &json!({"name": "a".repeat(256)})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"name": ["Ensure this field has no more than 255 characters."]}))
    );
    let r = with_token(&rig, "rename", &token, &json!({"name": "   "})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"name": ["This field may not be blank."]})));
    // Not connected: LiveKit's not_found is a 404; another failure a 500 with the endpoint's message.
    let (anon_token, _) = rig.token(&rig.app.client()).await;
    let r = with_token(&rig, "rename", &anon_token, &json!({"name": "X"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"error": "Participant not found"})));
    rig.lk.fail_method("UpdateParticipant", Some(Failure::Twirp(500, "internal")));
    let r = with_token(&rig, "rename", &token, &json!({"name": "X"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (500, json!({"error": "Failed to rename participant"})));
    let r = with_token(&rig, "toggle-hand", &token, &json!({"raised": true})).await;
    assert_eq!((r.status.as_u16(), r.json()), (500, json!({"error": "Failed to update participant hand state"})));
}

// --- §5.1 mute-participant -------------------------------------------------------------------

#[tokio::test]
async fn nr_pm_1_nr_pm_7_admins_mute_by_session_without_presence_check() {
    let rig = rig(&[]).await;
    rig.set_configuration(json!({"everyone_can_mute": false})).await;
    rig.connect("target");
    let body = json!({"participant_identity": "target", "track_sid": "TR_1"});
    let (_, admin) = rig.member("administrator").await;
    let r = admin.post(&rig.path("mute-participant"), &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    assert!(rig.lk.calls_of("GetParticipant").is_empty());
    let mute = rig.lk.calls_of("MutePublishedTrack");
    assert_eq!(mute.len(), 1);
    assert_eq!(mute[0].request["trackSid"], "TR_1");
    assert_eq!(mute[0].request["muted"], true);
    for role in ["member", "none"] {
        let (_, c) = rig.member(role).await;
        let r = c.post(&rig.path("mute-participant"), &body).await;
        assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": DENIED})), "{role}");
    }
}

#[tokio::test]
async fn nr_pm_2_nr_pm_3_nr_pm_4_nr_pm_6_token_callers_follow_everyone_can_mute() {
    let rig = rig(&[]).await;
    rig.connect("target");
    let body = json!({"participant_identity": "target", "track_sid": "TR_1"});
    let (anon, anon_id) = rig.token(&rig.app.client()).await;
    rig.connect(&anon_id);
    let r = with_token(&rig, "mute-participant", &anon, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let methods: Vec<String> = rig.lk.calls().into_iter().map(|c| c.method).collect();
    assert_eq!(methods, ["GetParticipant", "MutePublishedTrack"]);
    assert_eq!(rig.lk.calls_of("GetParticipant")[0].request["identity"], anon_id.as_str());
    rig.set_configuration(json!({"everyone_can_mute": false})).await;
    let r = with_token(&rig, "mute-participant", &anon, &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": DENIED})));
    // An owner's token never grants admin status.
    let (owner_token, owner_id) = rig.token(&rig.owner).await;
    rig.connect(&owner_id);
    let r = with_token(&rig, "mute-participant", &owner_token, &body).await;
    assert_eq!(r.status, 403);
    assert_eq!(rig.lk.calls_of("MutePublishedTrack").len(), 1, "no call after the refusals");
    let r = post_with(&rig.app, &rig.path("mute-participant"), None, &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": NOCRED})));
}

#[tokio::test]
async fn nr_pm_5_nr_pm_8_nr_pm_9_nr_pm_10_other_rooms_presence_and_livekit_errors() {
    let rig = rig(&[]).await;
    let body = json!({"participant_identity": "target", "track_sid": "TR_1"});
    let other = rig.owner.post("/api/v1.0/rooms/", &json!({"name": "Other"})).await.json();
    let other_token = jwt(&claims_for(other["id"].as_str().unwrap(), &rig.owner_sub, 3600), SECRET);
    let r = with_token(&rig, "mute-participant", &other_token, &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": DENIED})));
    // The caller is not in the call, then disconnected (B-PM-3).
    let (token, identity) = rig.token(&rig.app.client()).await;
    let r = with_token(&rig, "mute-participant", &token, &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"error": "Could not verify caller presence"})));
    rig.lk.add_participant(&rig.room_id, &identity, PState::Disconnected);
    let r = with_token(&rig, "mute-participant", &token, &body).await;
    assert_eq!(r.status, 403);
    assert!(rig.lk.calls_of("MutePublishedTrack").is_empty());
    rig.connect(&identity);
    let r = with_token(&rig, "mute-participant", &token, &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"error": "Participant not found"})));
    rig.connect("target");
    rig.lk.fail_method("MutePublishedTrack", Some(Failure::Twirp(500, "internal")));
    let r = with_token(&rig, "mute-participant", &token, &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (500, json!({"error": "Failed to mute participant"})));
    let r = with_token(&rig, "mute-participant", &token, &json!({"participant_identity": "x", "track_sid": ""})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"track_sid": ["This field may not be blank."]})));
    let r = with_token(&rig, "mute-participant", &token, &json!({})).await;
    assert_eq!(
        r.json(),
        json!({"participant_identity": ["This field is required."], "track_sid": ["This field is required."]})
    );
}

// --- §5.2 update-participant -----------------------------------------------------------------

#[tokio::test]
async fn nr_pm_11_nr_pm_12_nr_pm_13_permissions_are_validated_before_livekit() {
    let rig = rig(&[]).await;
    rig.connect("target");
    let path = rig.path("update-participant");
    let r = rig.owner.post(&path, &json!({"participant_identity": "target", "permission": {}})).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    assert_eq!(rig.lk.calls_of("UpdateParticipant").len(), 1);
    let r = rig
        .owner
        .post(&path, &json!({"participant_identity": "target", "permission": {"can_publish_sources": ["CAMERA"]}}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["permission"][0]["type"], "literal_error");
    let r = rig
        .owner
        .post(&path, &json!({"participant_identity": "target", "permission": {"invalid-attributes": true}}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (
            400,
            json!({"permission": [{"type": "extra_forbidden", "loc": ["invalid-attributes"],
                "msg": "Extra inputs are not permitted", "input": "True",
                "url": "https://errors.pydantic.dev/2.13/v/extra_forbidden"}]})
        )
    );
    // What the frontend sends for publish permissions reaches LiveKit as protobuf enums.
    let r = rig
        .owner
        .post(
            &path,
            &json!({"participant_identity": "target", "permission": {"can_subscribe": true, "can_publish": true,
                "can_publish_data": true, "can_update_metadata": false, "can_publish_sources": ["camera", "microphone"]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = &rig.lk.calls_of("UpdateParticipant")[1].request["permission"];
    assert_eq!(p["canPublishSources"], json!(["CAMERA", "MICROPHONE"]));
    assert_eq!((p["canPublish"].as_bool(), p["canSubscribe"].as_bool()), (Some(true), Some(true)));
    assert_eq!(rig.lk.calls_of("UpdateParticipant").len(), 2, "invalid requests made no call");
}

#[tokio::test]
async fn nr_pm_14_nr_pm_15_nr_pm_16_forbidden_fields_and_body_rules() {
    let rig = rig(&[]).await;
    let path = rig.path("update-participant");
    let r = rig
        .owner
        .post(
            &path,
            &json!({"participant_identity": ["x"], "permission": {"agent": true, "hidden": false, "recorder": true}}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (
            400,
            json!({"permission": ["Setting the following participant permissions is not allowed: hidden, recorder, agent."]})
        ),
        "forbidden fields win over every other error, as JSON (B-PM-5)"
    );
    let r = rig
        .owner
        .post(&path, &json!({"participant_identity": "target", "permission": {"can_update_metadata": true}}))
        .await;
    assert_eq!(r.status, 400, "B-SEC-3: {}", r.text);
    let r = rig.owner.post(&path, &json!({"participant_identity": "target"})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (
            400,
            json!({"non_field_errors": ["At least one of the following fields must be provided: metadata, attributes, permission, name."]})
        )
    );
    let r = rig.owner.post(&path, &json!({"participant_identity": ["test"], "name": "x"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"participant_identity": ["Not a valid string."]})));
    let r = rig.owner.post(&path, &json!({"participant_identity": "t", "metadata": "str"})).await;
    assert_eq!(r.json(), json!({"metadata": ["Expected a dictionary of items but got type \"str\"."]}));
    let r = rig.owner.post(&path, &json!({"participant_identity": "t", "attributes": {"a": "b", "n": 1}})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"attributes": {"n": ["Not a valid string."]}})), "B-PM-4");
    assert!(rig.lk.calls_of("UpdateParticipant").is_empty());
}

#[tokio::test]
async fn nr_pm_17_nr_pm_18_privileges_and_livekit_errors() {
    let rig = rig(&[]).await;
    let path = rig.path("update-participant");
    let body =
        json!({"participant_identity": "target", "name": "New", "metadata": {"k": "é"}, "attributes": {"a": "b"}});
    let (_, member) = rig.member("member").await;
    let r = member.post(&path, &body).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (403, json!({"detail": "You must have privileges on room to perform this action."}))
    );
    let r = rig.app.client().post(&path, &body).await;
    assert_eq!(r.status, 401);
    let r = rig.owner.post(&path, &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"error": "Participant not found"})));
    rig.connect("target");
    let r = rig.owner.post(&path, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let call = rig.lk.calls_of("UpdateParticipant").pop().unwrap();
    assert_eq!(call.request["metadata"], "{\"k\": \"\\u00e9\"}");
    assert_eq!(call.request["attributes"], json!({"a": "b"}));
    assert_eq!(call.request["name"], "New");
    rig.lk.fail_method("UpdateParticipant", Some(Failure::Twirp(503, "unavailable")));
    let r = rig.owner.post(&path, &body).await;
    assert_eq!((r.status.as_u16(), r.json()), (500, json!({"error": "Failed to update participant"})));
}

// --- §5.3 remove-participant -----------------------------------------------------------------

#[tokio::test]
async fn nr_pm_19_nr_pm_20_removal_clears_the_lobby_entry() {
    let rig = rig(&[]).await;
    let r = rig.owner.patch(&format!("/api/v1.0/rooms/{}/", rig.room_id), &json!({"access_level": "restricted"})).await;
    assert_eq!(r.status, 200);
    // An anonymous participant waits, is admitted, joins.
    let guest = rig.app.client();
    let entry = rig.path("request-entry");
    let r = guest.post(&entry, &json!({"username": "Guest"})).await;
    assert_eq!(r.json()["status"], "waiting", "{}", r.text);
    let pid = r.json()["id"].as_str().unwrap().to_string();
    let r = rig.owner.post(&rig.path("enter"), &json!({"participant_id": pid, "allow_entry": true})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(guest.post(&entry, &json!({"username": "Guest"})).await.json()["status"], "accepted");
    rig.connect(&pid);
    let r = rig.owner.post(&rig.path("remove-participant"), &json!({"participant_identity": pid})).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    assert_eq!(rig.lk.calls_of("RemoveParticipant")[0].request["identity"], pid.as_str());
    assert_eq!(guest.post(&entry, &json!({"username": "Guest"})).await.json()["status"], "waiting");
    // Gone from LiveKit: 404; bad bodies: 400; non-admins: 403.
    let r = rig.owner.post(&rig.path("remove-participant"), &json!({"participant_identity": pid})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"error": "Participant not found"})));
    for body in [
        json!({}),
        json!({"participant_identity": true}),
        json!({"participant_identity": null}),
        json!({"participant_identity": {}}),
    ] {
        let r = rig.owner.post(&rig.path("remove-participant"), &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
    }
    let (_, member) = rig.member("member").await;
    assert_eq!(member.post(&rig.path("remove-participant"), &json!({"participant_identity": pid})).await.status, 403);
}

// --- §4 update-participant-role --------------------------------------------------------------

async fn role_rig() -> (Rig, meet::store::users::User) {
    let rig = rig(&[]).await;
    rig.connect(&rig.owner_sub.clone());
    let target = rig.app.create_user("target@example.com").await;
    rig.connect(target.sub.as_deref().unwrap());
    (rig, target)
}

async fn role_of(rig: &Rig, user: uuid::Uuid) -> Option<String> {
    meet::store::accesses::role_of(&rig.app.state.db, user, rig.room_id.parse().unwrap()).await.unwrap()
}

#[tokio::test]
async fn nr_rl_1_nr_rl_2_nr_rl_3_promote_demote_and_resync() {
    let (rig, target) = role_rig().await;
    let path = rig.path("update-participant-role");
    let sub = target.sub.clone().unwrap();
    let r = rig.owner.post(&path, &json!({"participant_identity": sub, "role": "administrator"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"role": "administrator", "livekit_synced": true})));
    assert_eq!(role_of(&rig, target.id).await.as_deref(), Some("administrator"));
    let call = rig.lk.calls_of("UpdateParticipant").pop().unwrap();
    assert_eq!(call.request["attributes"], json!({"room_role": "administrator"}));
    assert_eq!(call.request["identity"], sub.as_str());
    // B-RL-2: the permission follows the role at once.
    let p = &call.request["permission"];
    assert_eq!((p["canPublish"].as_bool(), p["canUpdateMetadata"].as_bool()), (Some(true), None));
    assert_eq!(p["canPublishSources"], json!(["CAMERA", "MICROPHONE", "SCREEN_SHARE", "SCREEN_SHARE_AUDIO"]));
    let r = rig.owner.post(&path, &json!({"participant_identity": sub, "role": "administrator"})).await;
    assert_eq!(r.status, 200);
    assert_eq!(rig.lk.calls_of("UpdateParticipant").len(), 2, "the same role is synced again");
    rig.set_configuration(json!({"can_publish_sources": ["microphone"]})).await;
    let r = rig.owner.post(&path, &json!({"participant_identity": sub, "role": "member"})).await;
    assert_eq!(r.json(), json!({"role": "member", "livekit_synced": true}));
    let call = rig.lk.calls_of("UpdateParticipant").pop().unwrap();
    assert_eq!(
        call.request["permission"]["canPublishSources"],
        json!(["MICROPHONE"]),
        "a member publishes the room's sources"
    );
    assert_eq!(role_of(&rig, target.id).await.as_deref(), Some("member"));
}

#[tokio::test]
async fn nr_rl_4_nr_rl_5_nr_rl_6_nr_rl_7_failures_and_refusals() {
    let (rig, target) = role_rig().await;
    let path = rig.path("update-participant-role");
    let sub = target.sub.clone().unwrap();
    let r = rig.owner.post(&path, &json!({"participant_identity": sub, "role": "owner"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"role": ["\"owner\" is not a valid choice."]})));
    rig.lk.fail_method("UpdateParticipant", Some(Failure::Twirp(500, "internal")));
    let r = rig.owner.post(&path, &json!({"participant_identity": sub, "role": "administrator"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"role": "administrator", "livekit_synced": false})));
    assert_eq!(role_of(&rig, target.id).await.as_deref(), Some("administrator"));
    rig.lk.fail_method("UpdateParticipant", None);
    // The new administrator cannot demote the owner, nor change their own role.
    let target_client = rig.app.client_for(&target).await;
    let calls_before = rig.lk.calls_of("UpdateParticipant").len();
    let r = target_client.post(&path, &json!({"participant_identity": rig.owner_sub, "role": "member"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"error": "Room owners cannot be demoted."})));
    assert_eq!(rig.lk.calls_of("UpdateParticipant").len(), calls_before);
    let r = target_client.post(&path, &json!({"participant_identity": sub, "role": "member"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"error": "You cannot change your own role."})));
    // An anonymous participant has no account.
    rig.connect("anon-participant");
    let r = rig.owner.post(&path, &json!({"participant_identity": "anon-participant", "role": "administrator"})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (404, json!({"error": "This participant has no user account and cannot be assigned a role."}))
    );
    let r = rig.owner.post(&path, &json!({"participant_identity": "not-here", "role": "administrator"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"error": "Participant is not connected to this meeting."})));
}

#[tokio::test]
async fn nr_rl_9_role_changes_apply_at_once_to_admin_endpoints_and_new_tokens() {
    let (rig, target) = role_rig().await;
    crate::support::rooms::add_access(&rig.app, rig.room_id.parse().unwrap(), target.id, "member").await;
    let target_client = rig.app.client_for(&target).await;
    let room = format!("/api/v1.0/rooms/{}/", rig.room_id);
    let path = rig.path("update-participant-role");
    let sub = target.sub.clone().unwrap();
    let role_in_token = |r: &crate::support::Resp| {
        let token = r.json()["livekit"]["token"].as_str().expect("a token").to_string();
        let claims = meet::livekit::verify::decode_hs256(&token, crate::support::livekit::SECRET).unwrap();
        (claims["attributes"]["room_role"].clone(), claims["video"]["roomAdmin"].as_bool().unwrap_or(false))
    };
    // A member: no administration, a member token.
    assert_eq!(target_client.patch(&room, &json!({"name": "renamed"})).await.status, 403);
    assert_eq!(role_in_token(&target_client.get(&room).await), (json!("member"), false));
    // Promoted: the very next session request may administer the room, and new tokens say so.
    let r = rig.owner.post(&path, &json!({"participant_identity": sub, "role": "administrator"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = target_client.patch(&room, &json!({"name": "renamed"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(role_in_token(&target_client.get(&room).await), (json!("administrator"), true));
    // Demoted: refused again at once.
    let r = rig.owner.post(&path, &json!({"participant_identity": sub, "role": "member"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(target_client.patch(&room, &json!({"name": "again"})).await.status, 403);
    assert_eq!(role_in_token(&target_client.get(&room).await), (json!("member"), false));
}

#[tokio::test]
async fn nr_rl_8_callers_must_be_connected_admins() {
    let (rig, target) = role_rig().await;
    let path = rig.path("update-participant-role");
    let body = json!({"participant_identity": target.sub, "role": "administrator"});
    let (admin, admin_client) = rig.member("administrator").await;
    let r = admin_client.post(&path, &body).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (403, json!({"detail": "You must be connected to the meeting to perform this action."}))
    );
    rig.connect(admin.sub.as_deref().unwrap());
    assert_eq!(admin_client.post(&path, &body).await.status, 200);
    let (_, member) = rig.member("member").await;
    let r = member.post(&path, &body).await;
    assert_eq!(r.json(), json!({"detail": "You must have privileges on room to perform this action."}));
    assert_eq!(rig.app.client().post(&path, &body).await.status, 401);
}
