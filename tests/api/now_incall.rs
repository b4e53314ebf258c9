//! In-call integrations at upstream HEAD (now-rooms §8 invitations, §9 live subtitles, §11
//! roomkit join, §12 connection diagnostics, §17.1 feature flags) and the §19 hardening adopted
//! (B-SEC-4, B-SEC-7, B-INV-1..3, B-TEL-3, B-WH-3). LiveKit is the Twirp double (it checks the
//! grant of each call), e-mail the SMTP receiver.

use base64::Engine;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::livekit::{Failure, LiveKitDouble, KEY, SECRET};
use crate::support::smtp::SmtpDouble;
use crate::support::{Resp, TestApp, TestClient};

const UNAUTH: &str = "Authentication credentials were not provided.";

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Creates a room owned by `owner` through the API; returns its JSON.
async fn create_room(owner: &TestClient, name: &str) -> Value {
    let r = owner.post("/api/v1.0/rooms/", &json!({"name": name})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

// ---------------------------------------------------------------------------------------------
// §8 invitations

struct Invite {
    app: TestApp,
    smtp: SmtpDouble,
    owner: TestClient,
    owner_email: String,
    room: Value,
}

async fn invite_rig(extra: &[(&str, &str)]) -> Invite {
    let smtp = SmtpDouble::start().await;
    let lk = LiveKitDouble::start().await;
    let mut vars: Vec<(String, String)> = smtp.vars().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    for (k, v) in [
        ("DJANGO_EMAIL_APP_BASE_URL", "https://visio.example.org"),
        ("DJANGO_EMAIL_DOMAIN", "visio.example.org"),
        ("DJANGO_EMAIL_BRAND_NAME", "La Visio"),
        ("DJANGO_EMAIL_LOGO_IMG", "https://cdn.example.org/logo.png"),
    ] {
        vars.push((k.into(), v.into()));
    }
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = lk.spawn_app(&pairs).await;
    let owner_email = format!("owner-{}@example.com", Uuid::new_v4().simple());
    let (_, owner) = app.logged_in(&owner_email).await;
    let room = create_room(&owner, "Invite room").await;
    Invite { app, smtp, owner, owner_email, room }
}

impl Invite {
    fn path(&self) -> String {
        format!("/api/v1.0/rooms/{}/invite/", self.room["id"].as_str().unwrap())
    }

    async fn send(&self, client: &TestClient, body: Value) -> Resp {
        client.post(&self.path(), &body).await
    }
}

#[tokio::test]
async fn nr_inv_1_anonymous_is_401_and_a_member_403_whatever_the_body() {
    let rig = invite_rig(&[]).await;
    let r = rig.send(&rig.app.client(), json!({"emails": ["a@example.com"]})).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": UNAUTH})));
    let (member, client) = rig.app.logged_in("member@example.com").await;
    let room_id: Uuid = rig.room["id"].as_str().unwrap().parse().unwrap();
    crate::support::rooms::add_access(&rig.app, room_id, member.id, "member").await;
    for body in [json!({"emails": ["a@example.com"]}), json!({"emails": "nope"}), json!({})] {
        let r = rig.send(&client, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.json()),
            (403, json!({"detail": "You must have privileges on room to perform this action."})),
            "{body}"
        );
    }
    let r = client.post("/api/v1.0/rooms/no-such-room/invite/", &json!({})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No Room matches the given query."})));
    assert!(rig.smtp.mails().is_empty());
}

#[tokio::test]
async fn nr_inv_2_every_invalid_address_is_reported_by_index() {
    let rig = invite_rig(&[]).await;
    let r = rig.send(&rig.owner, json!({"emails": ["abdc", "efg"]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"emails": {"0": ["Enter a valid email address."], "1": ["Enter a valid email address."]}})
    );
}

#[tokio::test]
async fn nr_inv_3_only_failing_indexes_are_reported_and_nothing_is_sent() {
    let rig = invite_rig(&[]).await;
    let r = rig.send(&rig.owner, json!({"emails": ["fabrice@yopmail.com", "efg"]})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"emails": {"1": ["Enter a valid email address."]}})));
    for (body, expected) in [
        (json!({}), json!({"emails": ["This field is required."]})),
        (json!({"emails": []}), json!({"emails": ["This list may not be empty."]})),
        (json!({"emails": "a@b.com"}), json!({"emails": ["Expected a list of items but got type \"str\"."]})),
        (json!({"emails": [" "]}), json!({"emails": {"0": ["This field may not be blank."]}})),
    ] {
        let r = rig.send(&rig.owner, body.clone()).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, expected), "{body}");
    }
    assert!(rig.smtp.mails().is_empty());
}

#[tokio::test]
async fn nr_inv_4_duplicates_are_sent_once_case_sensitively() {
    let rig = invite_rig(&[]).await;
    let body = json!({"emails": ["toto@yopmail.com", "toto@yopmail.com", "Toto@yopmail.com"]});
    let r = rig.send(&rig.owner, body).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success", "message": "invitations sent"})));
    let mails = rig.smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    let mut to = mails[0].to.clone();
    to.sort();
    assert_eq!(to, ["Toto@yopmail.com", "toto@yopmail.com"]);
}

#[tokio::test]
async fn nr_inv_5_one_message_in_bcc_with_the_room_links() {
    let rig = invite_rig(&[]).await;
    let r = rig.send(&rig.owner, json!({"emails": ["alice.recipient@example.net", "bob.recipient@example.org"]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mails = rig.smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1, "exactly one message");
    let mail = &mails[0];
    let mut envelope = mail.to.clone();
    envelope.sort();
    assert_eq!(envelope, ["alice.recipient@example.net", "bob.recipient@example.org"]);
    assert_eq!(mail.from, "meet@example.org");
    // Anti-disclosure: no To header, and no recipient's address anywhere in the message.
    assert_eq!(mail.header("To"), None);
    assert_eq!(mail.header("Bcc"), None);
    assert!(!mail.data.contains("recipient@"), "{}", mail.data);
    assert!(!mail.text().contains("recipient@") && !mail.html().contains("recipient@"));
    assert_eq!(mail.subject(), format!("Video call in progress: {} is waiting for you to connect", rig.owner_email));
    let slug = rig.room["slug"].as_str().unwrap();
    for part in [mail.text(), mail.html()] {
        assert!(part.contains("La Visio"), "{part}");
        assert!(part.contains(&format!("https://visio.example.org/{slug}")), "{part}");
        assert!(part.contains(&format!("visio.example.org/{slug}")), "{part}");
        assert!(part.contains(&rig.owner_email), "{part}");
    }
    assert!(mail.html().contains("https://cdn.example.org/logo.png"));
}

#[tokio::test]
async fn b_inv_1_the_e_mail_speaks_the_request_s_language() {
    let rig = invite_rig(&[]).await;
    let rb = rig.owner.request(reqwest::Method::POST, &rig.path()).header("Accept-Language", "fr").json(&json!({
        "emails": ["a@example.com"]
    }));
    let r = TestClient::send(rb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mail = rig.smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.subject(), format!("Appel vidéo en cours : {} vous attend", rig.owner_email));
    assert!(mail.text().contains("REJOINDRE L'APPEL"), "{}", mail.text());
}

#[tokio::test]
async fn b_inv_2_smtp_failure_is_a_json_502_and_unconfigured_mail_a_404() {
    let rig = invite_rig(&[]).await;
    rig.smtp.set_down(true);
    let r = rig.send(&rig.owner, json!({"emails": ["a@example.com"]})).await;
    assert_eq!((r.status.as_u16(), r.json()), (502, json!({"error": "Invitations could not be sent."})));

    let lk = LiveKitDouble::start().await;
    let app = lk.spawn_app(&[]).await;
    let (_, owner) = app.logged_in("o@example.com").await;
    let room = create_room(&owner, "No mail").await;
    let path = format!("/api/v1.0/rooms/{}/invite/", room["id"].as_str().unwrap());
    let r = owner.post(&path, &json!({"emails": ["a@example.com"]})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})));
}

#[tokio::test]
async fn b_sec_4_recipients_are_capped_and_senders_throttled() {
    let rig =
        invite_rig(&[("MEET_INVITATION_MAX_RECIPIENTS", "3"), ("MEET_INVITATION_THROTTLE_RATES", "3/hour")]).await;
    let four: Vec<String> = (0..4).map(|i| format!("r{i}@example.com")).collect();
    let r = rig.send(&rig.owner, json!({ "emails": four })).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"emails": ["Ensure this field has no more than 3 elements."]}))
    );
    for _ in 0..2 {
        let r = rig.send(&rig.owner, json!({"emails": ["a@example.com"]})).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = rig.send(&rig.owner, json!({"emails": ["a@example.com"]})).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.header("Retry-After").is_some());
    // The bucket is the user's: another administrator is not throttled.
    let (other, client) = rig.app.logged_in("admin2@example.com").await;
    let room_id: Uuid = rig.room["id"].as_str().unwrap().parse().unwrap();
    crate::support::rooms::add_access(&rig.app, room_id, other.id, "administrator").await;
    let r = rig.send(&client, json!({"emails": ["a@example.com"]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(rig.smtp.wait_for(3).await.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// §9 live subtitles

struct Subtitles {
    app: TestApp,
    lk: LiveKitDouble,
    owner: TestClient,
    room: Value,
}

async fn subtitle_rig(extra: &[(&str, &str)]) -> Subtitles {
    let lk = LiveKitDouble::start().await;
    let app = lk.spawn_app(extra).await;
    let (_, owner) = app.logged_in("owner@example.com").await;
    let room = create_room(&owner, "Subtitled room").await;
    Subtitles { app, lk, owner, room }
}

impl Subtitles {
    fn path(&self) -> String {
        format!("/api/v1.0/rooms/{}/start-subtitle/", self.room["id"].as_str().unwrap())
    }

    /// The LiveKit token an anonymous visitor gets for `room` (as the frontend sends it).
    async fn token_for(&self, room: &Value) -> String {
        let r = self.app.client().get(&format!("/api/v1.0/rooms/{}/", room["id"].as_str().unwrap())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["livekit"]["token"].as_str().unwrap().to_string()
    }

    async fn start(&self, client: &TestClient, token: Option<&str>) -> Resp {
        let mut rb = client.request(reqwest::Method::POST, &self.path());
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        TestClient::send(rb).await
    }
}

#[tokio::test]
async fn nr_sub_1_no_token_is_403_even_with_a_session() {
    let rig = subtitle_rig(&[("ROOM_SUBTITLE_ENABLED", "true")]).await;
    for client in [rig.app.client(), rig.owner.clone()] {
        let r = rig.start(&client, None).await;
        assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": UNAUTH})));
        assert_eq!(r.header("WWW-Authenticate"), None);
    }
    let r = rig.start(&rig.app.client(), Some("this-is-not-a-valid-jwt")).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": "Invalid LiveKit token: Not enough segments"})));
    assert!(rig.lk.calls_of("CreateDispatch").is_empty());
}

#[tokio::test]
async fn nr_sub_2_flag_off_is_404_even_for_another_room_s_token() {
    let rig = subtitle_rig(&[]).await;
    let token = rig.token_for(&rig.room).await;
    let r = rig.start(&rig.app.client(), Some(&token)).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})));
    let other = create_room(&rig.owner, "Other room").await;
    let token = rig.token_for(&other).await;
    let r = rig.start(&rig.app.client(), Some(&token)).await;
    assert_eq!(r.status, 404);
    assert!(rig.lk.calls_of("CreateDispatch").is_empty());
}

#[tokio::test]
async fn nr_sub_3_the_agent_is_dispatched_into_the_room() {
    let rig = subtitle_rig(&[("ROOM_SUBTITLE_ENABLED", "true")]).await;
    let token = rig.token_for(&rig.room).await;
    let r = rig.start(&rig.app.client(), Some(&token)).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    let calls = rig.lk.calls_of("CreateDispatch");
    assert_eq!(calls.len(), 1);
    let id = rig.room["id"].as_str().unwrap();
    assert_eq!(calls[0].service, "livekit.AgentDispatchService");
    assert_eq!(calls[0].request["agentName"], "multi-user-transcriber");
    assert_eq!(calls[0].request["room"], id);
    // The double accepted the call: the grant was roomAdmin on this room.
    assert_eq!(calls[0].claims_room, id);

    let rig = subtitle_rig(&[("ROOM_SUBTITLE_ENABLED", "true"), ("ROOM_SUBTITLE_AGENT_NAME", "my-agent")]).await;
    let token = rig.token_for(&rig.room).await;
    assert_eq!(rig.start(&rig.app.client(), Some(&token)).await.status, 200);
    assert_eq!(rig.lk.calls_of("CreateDispatch")[0].request["agentName"], "my-agent");
}

#[tokio::test]
async fn nr_sub_4_a_token_for_another_room_is_denied() {
    let rig = subtitle_rig(&[("ROOM_SUBTITLE_ENABLED", "true")]).await;
    let other = create_room(&rig.owner, "Other room").await;
    let token = rig.token_for(&other).await;
    let r = rig.start(&rig.app.client(), Some(&token)).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (403, json!({"detail": "You do not have permission to perform this action."}))
    );
    let r = rig.app.client().request(reqwest::Method::POST, "/api/v1.0/rooms/unknown-room/start-subtitle/");
    let r = TestClient::send(r.bearer_auth(&token)).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No Room matches the given query."})));
    assert!(rig.lk.calls_of("CreateDispatch").is_empty());
}

#[tokio::test]
async fn nr_sub_5_a_failed_dispatch_is_a_500_naming_the_room() {
    let rig = subtitle_rig(&[("ROOM_SUBTITLE_ENABLED", "true")]).await;
    let token = rig.token_for(&rig.room).await;
    let slug = rig.room["slug"].as_str().unwrap();
    for failure in [Failure::Twirp(500, "internal"), Failure::Html502] {
        rig.lk.fail_method("CreateDispatch", Some(failure));
        let r = rig.start(&rig.app.client(), Some(&token)).await;
        assert_eq!(
            (r.status.as_u16(), r.json()),
            (500, json!({"error": format!("Subtitles failed to start for room {slug}")}))
        );
    }
}

#[tokio::test]
async fn b_sec_7_start_subtitle_is_throttled_per_identity() {
    let rig = subtitle_rig(&[("ROOM_SUBTITLE_ENABLED", "true"), ("MEET_SUBTITLE_THROTTLE_RATES", "2/minute")]).await;
    let token = rig.token_for(&rig.room).await;
    for _ in 0..2 {
        assert_eq!(rig.start(&rig.app.client(), Some(&token)).await.status, 200);
    }
    let r = rig.start(&rig.app.client(), Some(&token)).await;
    assert_eq!(r.status, 429, "{}", r.text);
    // Another participant (another identity) still may.
    let token2 = rig.token_for(&rig.room).await;
    assert_ne!(payload(&token)["sub"], payload(&token2)["sub"]);
    assert_eq!(rig.start(&rig.app.client(), Some(&token2)).await.status, 200);
    assert_eq!(rig.lk.calls_of("CreateDispatch").len(), 3);
}

// ---------------------------------------------------------------------------------------------
// §11 roomkit

const RK_TOKEN: &str = "roomkit-server-token-0123456789";

async fn roomkit_post(app: &TestApp, authorization: Option<&str>, body: Value) -> Resp {
    let mut rb = app.client().request(reqwest::Method::POST, "/api/v1.0/roomkit/join/").json(&body);
    if let Some(a) = authorization {
        rb = rb.header("Authorization", a);
    }
    TestClient::send(rb).await
}

fn bearer() -> String {
    format!("Bearer {RK_TOKEN}")
}

#[tokio::test]
async fn nr_rk_3_flag_off_is_404_after_authentication() {
    let lk = LiveKitDouble::start().await;
    let app = lk.spawn_app(&[("ROOMKIT_SERVER_TO_SERVER_API_TOKEN", RK_TOKEN)]).await;
    let r = roomkit_post(&app, Some(&bearer()), json!({"pin_code": "0123456789"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})));
    let r = roomkit_post(&app, None, json!({"pin_code": "0123456789"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "Authorization header is missing."})));
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer realm='Roomkit server to server'"));
}

#[tokio::test]
async fn nr_rk_3_authentication_failures_are_401s_with_the_roomkit_challenge() {
    let lk = LiveKitDouble::start().await;
    let unset = lk.spawn_app(&[("ROOMKIT_ENABLED", "true")]).await;
    let r = roomkit_post(&unset, Some(&bearer()), json!({})).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "Server-to-server token is not configured."})));
    let app = lk.spawn_app(&[("ROOMKIT_ENABLED", "true"), ("ROOMKIT_SERVER_TO_SERVER_API_TOKEN", RK_TOKEN)]).await;
    let wrong_shape =
        [format!("bearer {RK_TOKEN}"), format!("Bearer  {RK_TOKEN}"), RK_TOKEN.to_string(), "Bearer".into()];
    for header in wrong_shape {
        let r = roomkit_post(&app, Some(&header), json!({})).await;
        assert_eq!(
            (r.status.as_u16(), r.json()),
            (401, json!({"detail": "Invalid authorization header."})),
            "{header}"
        );
        assert_eq!(r.header("WWW-Authenticate"), Some("Bearer realm='Roomkit server to server'"));
    }
    for token in ["roomkit-server-token-012345678X", "short"] {
        let r = roomkit_post(&app, Some(&format!("Bearer {token}")), json!({})).await;
        assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "Invalid server-to-server token."})));
    }
}

#[tokio::test]
async fn nr_rk_4_the_pin_must_be_4_to_32_digits() {
    let lk = LiveKitDouble::start().await;
    let app = lk.spawn_app(&[("ROOMKIT_ENABLED", "true"), ("ROOMKIT_SERVER_TO_SERVER_API_TOKEN", RK_TOKEN)]).await;
    for (body, expected) in [
        (json!({"pin_code": "123"}), json!({"pin_code": ["PIN code length is invalid."]})),
        (json!({"pin_code": "1".repeat(33)}), json!({"pin_code": ["PIN code length is invalid."]})),
        (json!({"pin_code": "12a45"}), json!({"pin_code": ["PIN code must contain only digits."]})),
        (json!({}), json!({"pin_code": ["This field is required."]})),
        (json!({"pin_code": "  "}), json!({"pin_code": ["This field may not be blank."]})),
    ] {
        let r = roomkit_post(&app, Some(&bearer()), body.clone()).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, expected), "{body}");
    }
    assert!(lk.calls().is_empty());
}

#[tokio::test]
async fn ff_17_1_roomkit_throttle_answers_before_the_flag() {
    let lk = LiveKitDouble::start().await;
    let app = lk
        .spawn_app(&[("ROOMKIT_SERVER_TO_SERVER_API_TOKEN", RK_TOKEN), ("ROOMKIT_JOIN_THROTTLE_RATES", "2/minute")])
        .await;
    for _ in 0..2 {
        assert_eq!(roomkit_post(&app, Some(&bearer()), json!({})).await.status, 404);
    }
    let r = roomkit_post(&app, Some(&bearer()), json!({})).await;
    assert_eq!(r.status, 429, "{}", r.text);
    // Unauthenticated calls are refused before the throttle.
    assert_eq!(roomkit_post(&app, None, json!({})).await.status, 401);
}

/// A roomkit-enabled app and a room with a PIN (rooms get one on creation when
/// `ROOMKIT_ENABLED`, now-rooms §10.1).
async fn roomkit_rig(lk: &LiveKitDouble) -> (TestApp, Value, String) {
    let app = lk.spawn_app(&[("ROOMKIT_ENABLED", "true"), ("ROOMKIT_SERVER_TO_SERVER_API_TOKEN", RK_TOKEN)]).await;
    let (_, owner) = app.logged_in("owner@example.com").await;
    let room = create_room(&owner, "Roomkit room").await;
    let pin = room["pin_code"].as_str().expect("rooms get a PIN when ROOMKIT_ENABLED (now-rooms §10.1)").to_string();
    (app, room, pin)
}

#[tokio::test]
async fn nr_rk_1_a_known_pin_creates_the_room_s_dispatch_rule() {
    let lk = LiveKitDouble::start().await;
    let (app, room, pin) = roomkit_rig(&lk).await;
    let r = roomkit_post(&app, Some(&bearer()), json!({ "pin_code": pin })).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    let id = room["id"].as_str().unwrap();
    let created = lk.calls_of("CreateSIPDispatchRule");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].request["name"], format!("SIP_{id}"));
    assert_eq!(created[0].request["rule"]["dispatchRuleDirect"], json!({"roomName": id, "pin": pin}));
}

#[tokio::test]
async fn nr_rk_2_an_existing_rule_is_kept() {
    let lk = LiveKitDouble::start().await;
    let (app, room, pin) = roomkit_rig(&lk).await;
    lk.add_sip_rule(&format!("SIP_{}", room["id"].as_str().unwrap()));
    for _ in 0..2 {
        let r = roomkit_post(&app, Some(&bearer()), json!({ "pin_code": pin })).await;
        assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success"})));
    }
    assert!(lk.calls_of("CreateSIPDispatchRule").is_empty());
    assert_eq!(lk.sip_rules().len(), 1);
}

#[tokio::test]
async fn nr_rk_5_an_unknown_pin_is_404() {
    let lk = LiveKitDouble::start().await;
    let app = lk.spawn_app(&[("ROOMKIT_ENABLED", "true"), ("ROOMKIT_SERVER_TO_SERVER_API_TOKEN", RK_TOKEN)]).await;
    let r = roomkit_post(&app, Some(&bearer()), json!({"pin_code": "0000000000"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No room found for this PIN code."})));
}

#[tokio::test]
async fn nr_rk_6_a_failed_rule_creation_is_a_500() {
    let lk = LiveKitDouble::start().await;
    let (app, _room, pin) = roomkit_rig(&lk).await;
    for (method, failure) in
        [("CreateSIPDispatchRule", Failure::Twirp(500, "internal")), ("ListSIPDispatchRule", Failure::Html502)]
    {
        lk.fail_method(method, Some(failure));
        let r = roomkit_post(&app, Some(&bearer()), json!({ "pin_code": pin })).await;
        assert_eq!(
            (r.status.as_u16(), r.json()),
            (500, json!({"detail": "Could not create dispatch rule."})),
            "{method}"
        );
        lk.fail_method(method, None);
    }
}

// ---------------------------------------------------------------------------------------------
// §12 connection diagnostics

const DX: &str = "/api/v1.0/diagnostics/connection/";

async fn dx_app(lk: &LiveKitDouble, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("CONNECTION_TEST_ENABLED", "true")];
    vars.extend_from_slice(extra);
    lk.spawn_app(&vars).await
}

#[tokio::test]
async fn nr_dx_1_each_call_gets_its_own_test_room() {
    let lk = LiveKitDouble::start().await;
    let app = dx_app(&lk, &[("CONNECTION_TEST_TOKEN_TTL_SECONDS", "120")]).await;
    let a = app.client().post(DX, &json!({})).await;
    let b = app.client().post(DX, &json!({})).await;
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200), "{} {}", a.text, b.text);
    let (a, b) = (a.json(), b.json());
    let keys: Vec<&String> = a["livekit"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["url", "room", "token", "expires_in"]);
    assert_ne!(a["livekit"]["room"], b["livekit"]["room"]);
    for v in [&a, &b] {
        let room = v["livekit"]["room"].as_str().unwrap();
        let id = room.strip_prefix("connection-test-").expect("prefixed room");
        assert_eq!(Uuid::parse_str(id).unwrap().to_string(), id);
        assert_eq!(v["livekit"]["expires_in"], 120);
        assert_eq!(v["livekit"]["url"], lk.url.as_str());
    }
    let r = app.client().get(DX).await;
    assert_eq!((r.status.as_u16(), r.json()), (405, json!({"detail": "Method \"GET\" not allowed."})));
}

#[tokio::test]
async fn nr_dx_2_the_token_joins_the_test_room_without_privileges() {
    let lk = LiveKitDouble::start().await;
    let app = dx_app(&lk, &[("CONNECTION_TEST_ROOM_PREFIX", "diag")]).await;
    let r = app.client().post(DX, &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let lkv = &r.json()["livekit"];
    let token = lkv["token"].as_str().unwrap();
    // HS256 with the API secret (LiveKit's Go server reads `room_role: null` as an empty value;
    // the Rust verifier cannot decode it, so the signature is checked by hand).
    let (input, sig) = token.rsplit_once('.').unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig).unwrap();
    ring::hmac::verify(&key, input.as_bytes(), &sig).expect("signed with the API secret");
    let p = payload(token);
    assert!(lkv["room"].as_str().unwrap().starts_with("diag-"));
    assert_eq!(p["video"]["room"], lkv["room"]);
    assert_eq!(p["name"], "Connection Test");
    assert_eq!(p["video"]["roomAdmin"], false);
    assert_eq!(p["video"]["roomJoin"], true);
    assert_eq!(p["attributes"]["room_role"], Value::Null);
    assert_eq!(p["attributes"]["is_authenticated"], "false");
    assert_eq!(p["exp"].as_i64().unwrap() - p["nbf"].as_i64().unwrap(), 300);
    assert_eq!(p["iss"], KEY);
}

#[tokio::test]
async fn nr_dx_3_a_logged_in_caller_is_their_own_identity() {
    let lk = LiveKitDouble::start().await;
    let app = dx_app(&lk, &[]).await;
    let (user, client) = app.logged_in("dx@example.com").await;
    let r = client.post(DX, &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = payload(r.json()["livekit"]["token"].as_str().unwrap());
    assert_eq!(p["sub"], user.sub.clone().unwrap().as_str());
    assert_eq!(p["name"], "Connection Test");
    assert_eq!(p["attributes"]["is_authenticated"], "true");

    // Without display-name editing, the user's own name is kept.
    let app = dx_app(&lk, &[("AUTHENTICATED_PARTICIPANTS_CAN_EDIT_DISPLAY_NAME", "false")]).await;
    let (user, client) = app.logged_in("dx2@example.com").await;
    let p = payload(client.post(DX, &json!({})).await.json()["livekit"]["token"].as_str().unwrap());
    assert_eq!(p["name"], user.full_name.clone().unwrap().as_str());
}

#[tokio::test]
async fn nr_dx_4_the_test_room_is_deleted_once_its_token_has_expired() {
    let lk = LiveKitDouble::start().await;
    let app = dx_app(
        &lk,
        &[
            ("CONNECTION_TEST_TOKEN_TTL_SECONDS", "0"),
            ("CONNECTION_TEST_ROOM_EXTRA_AGE_SECONDS", "0"),
            ("MEET_JOBS_INTERVAL_MS", "50"),
        ],
    )
    .await;
    let r = app.client().post(DX, &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let room = r.json()["livekit"]["room"].as_str().unwrap().to_string();
    let calls = lk.wait_for("DeleteRoom", 1).await;
    assert_eq!(calls.len(), 1, "DeleteRoom called once");
    assert_eq!(calls[0].request["room"], room.as_str());
    // The job is marked done after LiveKit answered: wait (bounded) for that write.
    let mut jobs = Vec::new();
    for _ in 0..100 {
        jobs = meet::store::jobs::find(&app.state.db, "delete_room", &room).await.unwrap();
        if jobs.iter().all(|j| j.done_at.is_some()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].done_at.is_some() && jobs[0].last_error.is_none(), "{jobs:?}");
}

#[tokio::test]
async fn nr_dx_4_the_deletion_is_due_at_ttl_plus_extra_age() {
    let lk = LiveKitDouble::start().await;
    let app =
        dx_app(&lk, &[("CONNECTION_TEST_TOKEN_TTL_SECONDS", "300"), ("CONNECTION_TEST_ROOM_EXTRA_AGE_SECONDS", "10")])
            .await;
    let before = chrono::Utc::now();
    let r = app.client().post(DX, &json!({})).await;
    let after = chrono::Utc::now();
    let room = r.json()["livekit"]["room"].as_str().unwrap().to_string();
    let jobs = meet::store::jobs::find(&app.state.db, "delete_room", &room).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let due = jobs[0].due_at;
    let lo = before + chrono::Duration::seconds(309);
    let hi = after + chrono::Duration::seconds(311);
    assert!(due >= lo && due <= hi, "due {due}, expected ~310 s after the call");
    assert!(jobs[0].done_at.is_none());
}

#[tokio::test]
async fn nr_dx_4_the_deletion_survives_a_restart() {
    let lk = LiveKitDouble::start().await;
    let app = dx_app(
        &lk,
        &[
            ("CONNECTION_TEST_TOKEN_TTL_SECONDS", "1"),
            ("CONNECTION_TEST_ROOM_EXTRA_AGE_SECONDS", "0"),
            ("MEET_JOBS_INTERVAL_MS", "3600000"),
        ],
    )
    .await;
    let r = app.client().post(DX, &json!({})).await;
    let room = r.json()["livekit"]["room"].as_str().unwrap().to_string();
    let (db, dir, mut vars) = app.stop().await;
    assert!(lk.calls_of("DeleteRoom").is_empty());
    vars.insert("MEET_JOBS_INTERVAL_MS".into(), "50".into());
    let app = TestApp::start(db, dir, vars).await;
    let calls = lk.wait_for("DeleteRoom", 1).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].request["room"], room.as_str());
    drop(app);
}

#[tokio::test]
async fn nr_dx_4_two_instances_delete_the_room_exactly_once() {
    let lk = LiveKitDouble::start().await;
    let settings = [
        ("CONNECTION_TEST_TOKEN_TTL_SECONDS", "1"),
        ("CONNECTION_TEST_ROOM_EXTRA_AGE_SECONDS", "0"),
        ("MEET_JOBS_INTERVAL_MS", "20"),
    ];
    let first = dx_app(&lk, &settings).await;
    let second = TestApp::start(first.db.clone(), first.data_dir.clone(), first.vars.clone()).await;
    let mut rooms = Vec::new();
    for app in [&first, &second, &first, &second] {
        let r = app.client().post(DX, &json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        rooms.push(r.json()["livekit"]["room"].as_str().unwrap().to_string());
    }
    let calls = lk.wait_for("DeleteRoom", 4).await;
    // Let both workers poll a few more times: no second deletion may follow.
    for _ in 0..20 {
        let done = meet::store::jobs::due(&first.state.db, chrono::Utc::now(), 10).await.unwrap();
        if done.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let calls_after = lk.calls_of("DeleteRoom");
    assert_eq!(calls.len(), 4);
    assert_eq!(calls_after.len(), 4, "each room deleted exactly once");
    let mut deleted: Vec<String> =
        calls_after.iter().map(|c| c.request["room"].as_str().unwrap().to_string()).collect();
    deleted.sort();
    rooms.sort();
    assert_eq!(deleted, rooms);
}

#[tokio::test]
async fn nr_dx_4_livekit_failures_are_retried_and_not_found_counts_as_done() {
    let lk = LiveKitDouble::start().await;
    let app = dx_app(
        &lk,
        &[
            ("CONNECTION_TEST_TOKEN_TTL_SECONDS", "0"),
            ("CONNECTION_TEST_ROOM_EXTRA_AGE_SECONDS", "0"),
            ("MEET_JOBS_INTERVAL_MS", "50"),
        ],
    )
    .await;
    lk.fail_method("DeleteRoom", Some(Failure::Twirp(404, "not_found")));
    let r = app.client().post(DX, &json!({})).await;
    let room = r.json()["livekit"]["room"].as_str().unwrap().to_string();
    let mut done = None;
    for _ in 0..100 {
        let jobs = meet::store::jobs::find(&app.state.db, "delete_room", &room).await.unwrap();
        if jobs[0].done_at.is_some() {
            done = Some(jobs[0].clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    let job = done.expect("a not_found answer finishes the job");
    assert_eq!((job.attempts, job.last_error), (1, None));

    lk.fail_method("DeleteRoom", Some(Failure::Twirp(500, "internal")));
    let r = app.client().post(DX, &json!({})).await;
    let room = r.json()["livekit"]["room"].as_str().unwrap().to_string();
    let mut failed = None;
    for _ in 0..100 {
        let jobs = meet::store::jobs::find(&app.state.db, "delete_room", &room).await.unwrap();
        if jobs[0].last_error.is_some() {
            failed = Some(jobs[0].clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    let job = failed.expect("the failure is recorded");
    assert!(job.done_at.is_none(), "kept for a retry: {job:?}");
    assert!(job.due_at > chrono::Utc::now() + chrono::Duration::seconds(10), "retried later: {job:?}");
}

#[tokio::test]
async fn nr_dx_5_flag_off_is_404_and_throttled_calls_429_even_then() {
    let lk = LiveKitDouble::start().await;
    let app = lk.spawn_app(&[("CONNECTION_TEST_THROTTLE_RATES", "2/minute")]).await;
    for _ in 0..2 {
        let r = app.client().post(DX, &json!({})).await;
        assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})));
    }
    let r = app.client().post(DX, &json!({})).await;
    assert_eq!(r.status, 429, "{}", r.text);
    // A logged-in caller has a bucket of their own.
    let (_, client) = app.logged_in("dx@example.com").await;
    assert_eq!(client.post(DX, &json!({})).await.status, 404);

    let app = dx_app(&lk, &[("CONNECTION_TEST_THROTTLE_RATES", "1/minute")]).await;
    assert_eq!(app.client().post(DX, &json!({})).await.status, 200);
    assert_eq!(app.client().post(DX, &json!({})).await.status, 429);
}

#[tokio::test]
async fn nr_dx_5_a_session_write_needs_its_csrf_token() {
    let lk = LiveKitDouble::start().await;
    let app = dx_app(&lk, &[]).await;
    let (_, client) = app.logged_in("csrf@example.com").await;
    let no_csrf = TestClient { csrf: None, ..client.clone() };
    let r = no_csrf.post(DX, &json!({})).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.json()["detail"].as_str().unwrap().starts_with("CSRF Failed"));
}
