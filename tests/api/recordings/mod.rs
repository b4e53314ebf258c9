//! Recordings (recordings.md §10 RM/RE/RW/RS/RN/RMA with §11's fixes, and the fault scenarios
//! of the Recordings issue). Every test runs the real app against real-protocol doubles:
//! LiveKit Twirp (Egress), an S3 `HEAD` double, an SMTP receiver and a summary service.

mod egress;
mod endpoints;
mod faults;
mod head;
mod media;
mod notify;
mod storage;

use std::time::Duration;

use livekit_protocol as proto;
use meet::domain::recording::{Mode, Status};
use meet::store::recordings::{self as store, Recording};
use meet::store::rooms::Room;
use meet::store::users::User;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::livekit::{sign_webhook, LiveKitDouble, KEY, SECRET};
use crate::support::rooms::{add_access, create_room};
use crate::support::s3::S3Double;
use crate::support::smtp::SmtpDouble;
use crate::support::summary::SummaryDouble;
use crate::support::{Resp, TestApp, TestClient};

pub const TOKEN: &str = "tok";
pub const BUCKET: &str = "meet-media-storage";
pub const BASE_URL: &str = "https://meet.example.org/recordings";

/// The app and its doubles.
pub struct Rig {
    pub app: TestApp,
    pub lk: LiveKitDouble,
    pub s3: S3Double,
    pub smtp: SmtpDouble,
    pub summary: SummaryDouble,
}

/// Starts the doubles and the app with §10's defaults (recording and storage events on, token
/// `tok`, folder `recordings`), fast outbox retries and no background reconciler (tests run
/// passes themselves); `extra` overrides.
pub async fn rig(extra: &[(&str, &str)]) -> Rig {
    let (lk, s3, smtp, summary) = (
        LiveKitDouble::start().await,
        S3Double::start().await,
        SmtpDouble::start().await,
        SummaryDouble::start().await,
    );
    let mut vars: Vec<(String, String)> = Vec::new();
    for (k, v) in lk.vars().into_iter().chain(s3.vars()).chain(smtp.vars()).chain(summary.vars()) {
        vars.push((k.to_string(), v));
    }
    if extra.contains(&("SUMMARY_SERVICE_VERSION", "2")) {
        for (k, v) in summary.vars_v2() {
            vars.retain(|(name, _)| name != k);
            vars.push((k.to_string(), v));
        }
    }
    for (k, v) in [
        ("RECORDING_ENABLE", "true"),
        ("RECORDING_STORAGE_EVENT_ENABLE", "true"),
        ("RECORDING_STORAGE_EVENT_TOKEN", TOKEN),
        ("SCREEN_RECORDING_BASE_URL", BASE_URL),
        ("MEET_OUTBOX_INTERVAL_MS", "50"),
        ("MEET_OUTBOX_RETRY_BASE_MS", "50"),
        ("MEET_RECONCILER_INTERVAL_MS", "0"),
        ("MEET_RECORDING_EGRESS_TIMEOUT", "2"),
        ("MEET_EMAIL_TIMEOUT", "2"),
        ("DJANGO_EMAIL_BRAND_NAME", "La Suite"),
        ("DJANGO_EMAIL_SUPPORT_EMAIL", "support@example.org"),
        ("DJANGO_EMAIL_LOGO_IMG", "https://example.org/logo.png"),
    ] {
        vars.push((k.into(), v.into()));
    }
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k.to_string(), v.to_string()));
    }
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Rig { app: TestApp::spawn_with(&pairs).await, lk, s3, smtp, summary }
}

/// A room named `lk room` and a logged-in user with `role` on it.
pub async fn room_and_user(app: &TestApp, role: Option<&str>) -> (Room, User, TestClient) {
    let room = create_room(app, &format!("lk room {}", Uuid::new_v4().simple()), "public").await;
    let (user, client) = app.logged_in(&format!("u-{}@example.com", Uuid::new_v4().simple())).await;
    if let Some(role) = role {
        add_access(app, room.id, user.id, role).await;
    }
    (room, user, client)
}

pub fn start_path(room: &str) -> String {
    format!("/api/v1.0/rooms/{room}/start-recording/")
}

pub fn stop_path(room: &str) -> String {
    format!("/api/v1.0/rooms/{room}/stop-recording/")
}

pub async fn start(client: &TestClient, room: Uuid, mode: &str) -> Resp {
    client.post(&start_path(&room.to_string()), &json!({ "mode": mode })).await
}

pub async fn stop(client: &TestClient, room: Uuid) -> Resp {
    client.post(&stop_path(&room.to_string()), &json!({})).await
}

/// Every recording of the room, newest first.
pub async fn recordings_of(app: &TestApp, room: Uuid) -> Vec<Recording> {
    store::in_room(&app.state.db, room, &Status::ALL).await.expect("read recordings")
}

pub async fn reload(app: &TestApp, id: Uuid) -> Recording {
    store::get(&app.state.db, id).await.expect("read").expect("recording exists")
}

pub async fn status(app: &TestApp, id: Uuid) -> String {
    reload(app, id).await.status
}

/// A recording with `status` in `room`, with an access of `role` for each `(user, role)`.
pub async fn make(app: &TestApp, room: Uuid, mode: Mode, status: Status, accesses: &[(&User, &str)]) -> Recording {
    let rec = store::create(&app.state.db, room, mode.as_str(), status, None).await.expect("recording");
    for (u, role) in accesses {
        store::add_access(&app.state.db, rec.id, u.id, role).await.expect("access");
    }
    rec
}

/// Sets the user's language and time zone directly in the store (the e-mail tests need owners
/// in several languages and zones).
pub async fn set_language(app: &TestApp, user: &User, language: &str, timezone: &str) {
    meet::store::Q::new("UPDATE meet_user SET language = $1, timezone = $2 WHERE id = $3")
        .bind(language)
        .bind(timezone)
        .bind(user.id)
        .execute(&app.state.db)
        .await
        .unwrap();
}

/// Moves `updated_at` (and the status) into the past, as if time had passed.
pub async fn age(app: &TestApp, rec: &Recording, status: Status, secs: i64) {
    let at = chrono::Utc::now() - chrono::Duration::seconds(secs);
    store::force(&app.state.db, rec.id, status, at).await.expect("age");
}

pub fn key(rec: &Recording) -> String {
    let ext = if rec.mode == "transcript" { "ogg" } else { "mp4" };
    format!("recordings/{}.{ext}", rec.id)
}

/// A MinIO event body.
pub fn event(key: &str, content_type: &str) -> Value {
    json!({
        "EventName": "s3:ObjectCreated:Put",
        "Key": format!("{BUCKET}/{key}"),
        "Records": [{
            "eventVersion": "2.0", "eventSource": "minio:s3", "eventName": "s3:ObjectCreated:Put",
            "s3": {
                "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
                "object": {"key": key.replace('/', "%2F"), "size": 1048576, "contentType": content_type}
            }
        }]
    })
}

pub const HOOK: &str = "/api/v1.0/recordings/storage-hook/";

/// Posts a storage event with `Authorization: <authorization>` (none when `None`).
pub async fn hook_raw(app: &TestApp, body: &str, authorization: Option<&str>) -> Resp {
    let mut rb = app
        .client()
        .request(reqwest::Method::POST, HOOK)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(a) = authorization {
        rb = rb.header("Authorization", a);
    }
    TestClient::send(rb).await
}

/// Posts a storage event with the right token.
pub async fn hook(app: &TestApp, body: &Value) -> Resp {
    hook_raw(app, &body.to_string(), Some(&format!("Bearer {TOKEN}"))).await
}

/// The storage event of a recording's own file.
pub async fn file_arrives(app: &TestApp, rec: &Recording) -> Resp {
    let ct = if rec.mode == "transcript" { "audio/ogg" } else { "video/mp4" };
    hook(app, &event(&key(rec), ct)).await
}

/// Sends a signed LiveKit webhook `event` about `info`.
pub async fn egress_webhook(app: &TestApp, event: &str, info: proto::EgressInfo) -> Resp {
    let body = serde_json::to_string(&proto::WebhookEvent {
        event: event.into(),
        egress_info: Some(info),
        id: format!("EV_{}", Uuid::new_v4().simple()),
        created_at: chrono::Utc::now().timestamp(),
        ..Default::default()
    })
    .unwrap();
    let auth = sign_webhook(&body, KEY, SECRET, Duration::from_secs(300));
    let rb = app
        .client()
        .request(reqwest::Method::POST, "/api/v1.0/rooms/webhooks-livekit/")
        .header("Content-Type", "application/webhook+json")
        .header("Authorization", auth)
        .body(body);
    TestClient::send(rb).await
}

/// Waits (bounded) until the recording has `want` status.
pub async fn wait_status(app: &TestApp, id: Uuid, want: &str) -> String {
    // Delivery is asynchronous (outbox loop, SMTP): allow for a loaded CI machine.
    let mut now = status(app, id).await;
    for _ in 0..500 {
        if now == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        now = status(app, id).await;
    }
    now
}

/// Starts a recording through the API and returns it (`active`, with its egress).
pub async fn started(rig: &Rig, client: &TestClient, room: Uuid, mode: &str) -> Recording {
    let r = start(client, room, mode).await;
    assert_eq!(r.status, 201, "{}", r.text);
    recordings_of(&rig.app, room).await.into_iter().next().expect("recording")
}
