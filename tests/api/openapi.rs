//! The OpenAPI document against the real answers. Every documented operation is called with
//! valid and invalid inputs (no auth, failed CSRF, bad body, unknown id, wrong method, limits);
//! each answer's status must be documented for that operation and its body must validate, with a
//! JSON Schema validator (draft 2020-12, as OpenAPI 3.1 uses it), against the documented schema.
//! Answers are checked strictly: an object may not carry keys its schema does not list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use meet::domain::recording::{Mode, Status};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::recordings::{event, make, rig, room_and_user, TOKEN};
use crate::support::livekit::{sign_webhook, KEY, SECRET};
use crate::support::{Resp, TestApp, TestClient};

const API: &str = "/api/v1.0";

/// The served document, and the statuses seen per operation.
struct Spec {
    doc: Value,
    /// `components` with `additionalProperties: false` on every object schema that lists its
    /// properties and says nothing of others.
    strict: Value,
    seen: Mutex<BTreeMap<(String, String), BTreeSet<u16>>>,
}

fn close_objects(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            m.values_mut().for_each(close_objects);
        }
        Value::Array(a) => a.iter_mut().for_each(close_objects),
        _ => {}
    }
}

impl Spec {
    async fn fetch(app: &TestApp) -> Spec {
        let resp = app.client().get(&format!("{API}/swagger.json")).await;
        assert_eq!(resp.status, 200);
        let doc = resp.json();
        let mut strict = doc["components"].clone();
        close_objects(&mut strict);
        Spec { doc, strict, seen: Mutex::new(BTreeMap::new()) }
    }

    fn operation(&self, template: &str, method: &Method) -> &Value {
        let op = &self.doc["paths"][template][method.as_str().to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not documented");
        op
    }

    /// A validator of `schema`, its `$ref`s resolved in the document's components.
    fn validator(&self, schema: &Value, strict: bool) -> jsonschema::Validator {
        let mut root = schema.clone();
        root["components"] = if strict { self.strict.clone() } else { self.doc["components"].clone() };
        jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"))
    }

    /// Whether the documented request body schema of the operation accepts `body`.
    fn accepts(&self, template: &str, method: &Method, body: &Value) -> bool {
        let schema = &self.operation(template, method)["requestBody"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {template} documents no request body");
        self.validator(schema, false).is_valid(body)
    }

    /// Checks one answer against the operation's documentation; returns its status.
    fn check(&self, template: &str, method: &Method, resp: &Resp) -> u16 {
        let status = resp.status.as_u16();
        let what = format!("{method} {template} answered {status} {}", resp.text);
        let documented = &self.operation(template, method)["responses"][status.to_string()];
        assert!(documented.is_object(), "undocumented status: {what}");
        let schema = &documented["content"]["application/json"]["schema"];
        if schema.is_object() {
            assert_eq!(resp.header("content-type"), Some("application/json"), "{what}");
            let body: Value = serde_json::from_str(&resp.text).unwrap_or_else(|e| panic!("not JSON ({e}): {what}"));
            let validator = self.validator(schema, true);
            let errors: Vec<String> = validator.iter_errors(&body).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "body does not match the documented schema: {what}: {errors:?}");
        } else {
            assert!(resp.text.is_empty(), "a body where none is documented: {what}");
        }
        self.seen.lock().unwrap().entry((template.to_string(), method.to_string())).or_default().insert(status);
        status
    }

    /// Sends `method path` with an optional JSON body and checks the answer.
    async fn call(&self, client: &TestClient, method: Method, template: &str, path: &str, body: Option<&Value>) -> u16 {
        let mut rb = client.request(method.clone(), path);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        self.check(template, &method, &TestClient::send(rb).await)
    }

    /// [`Self::call`] with a body the documented schema accepts.
    async fn valid(&self, client: &TestClient, method: Method, template: &str, path: &str, body: &Value) -> u16 {
        assert!(self.accepts(template, &method, body), "the schema of {method} {template} refuses {body}");
        self.call(client, method, template, path, Some(body)).await
    }

    /// [`Self::call`] with a body the documented schema refuses: the API must refuse it too.
    async fn invalid(&self, client: &TestClient, method: Method, template: &str, path: &str, body: &Value) {
        assert!(!self.accepts(template, &method, body), "the schema of {method} {template} accepts {body}");
        let status = self.call(client, method.clone(), template, path, Some(body)).await;
        assert_eq!(status, 400, "{method} {path} with {body}");
    }

    /// Sends a raw body with a content type.
    async fn raw(&self, client: &TestClient, method: Method, template: &str, path: &str, ct: &str, body: &str) -> u16 {
        let rb = client.request(method.clone(), path).header("content-type", ct).body(body.to_string());
        self.check(template, &method, &TestClient::send(rb).await)
    }
}

#[tokio::test]
async fn openapi_document_is_3_1_lists_every_route_and_every_schema_compiles() {
    let app = TestApp::spawn().await;
    let spec = Spec::fetch(&app).await;
    let doc = &spec.doc;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    let table: BTreeSet<&str> = meet::http::api_routes().iter().map(|r| r.path).collect();
    assert_eq!(documented, table);
    // Every `$ref` resolving and every operation documenting a success are unit tests of the
    // builder (`meet::http::openapi`); here: what the served document promises its readers.
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let _ = spec.validator(schema, false);
        assert!(!name.is_empty());
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("401"), "{method} {path}: no 401");
            for (status, r) in responses {
                assert!(r["description"].is_string(), "{method} {path} {status}: no description");
                if status != "204" {
                    assert!(r["content"]["application/json"]["schema"].is_object(), "{method} {path} {status}");
                }
            }
            if op.get("requestBody").is_some() {
                let schema = &op["requestBody"]["content"]["application/json"]["schema"];
                let _ = spec.validator(schema, false);
            }
        }
    }
}

#[tokio::test]
async fn openapi_every_operation_answers_as_documented() {
    let rig = rig(&[
        ("ALLOW_UNSECURE_USER_LISTING", "true"),
        ("ROOM_SUBTITLE_ENABLED", "true"),
        ("ROOMKIT_ENABLED", "true"),
        ("ROOMKIT_SERVER_TO_SERVER_API_TOKEN", "roomkit-token"),
        ("ROOM_TELEPHONY_ENABLED", "true"),
        ("CONNECTION_TEST_ENABLED", "true"),
        ("DJANGO_EMAIL_APP_BASE_URL", "http://localhost:3000"),
        ("EXTERNAL_API_ENABLED", "true"),
        ("APPLICATION_ENABLED", "true"),
        ("APPLICATION_JWT_SECRET_KEY", "openapi-application-key"),
        ("APPLICATION_BASE_URL", "http://localhost:3000"),
        ("ADDONS_ENABLED", "true"),
        ("ADDONS_TOKEN_SECRET_KEY", "openapi-addons-key"),
        ("ADDONS_CSRF_SECRET", "openapi-addons-csrf"),
        ("SUMMARY_SERVICE_WEBHOOK_API_TOKEN", "hook-token"),
        ("FILE_UPLOAD_ENABLED", "true"),
    ])
    .await;
    let app = &rig.app;
    let spec = Spec::fetch(app).await;
    let anon = app.client();
    let (room0, owner, client) = room_and_user(app, Some("owner")).await;
    let (stranger, stranger_client) = app.logged_in("stranger@example.com").await;
    let no_csrf = TestClient { csrf: None, ..client.clone() };
    let (get, post, put, patch, delete) = (Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE);
    let unknown = Uuid::new_v4();

    // Meta.
    spec.call(&anon, get.clone(), "/api/v1.0/", "/api/v1.0/", None).await;
    spec.call(&anon, get.clone(), "/api/v1.0/config/", "/api/v1.0/config/", None).await;
    let bad_bearer = TestClient::send(anon.request(get.clone(), "/api/v1.0/config/").header("authorization", "Bearer"));
    spec.check("/api/v1.0/config/", &get, &bad_bearer.await);

    // Users.
    let t = "/api/v1.0/users/";
    assert_eq!(spec.call(&anon, get.clone(), t, t, None).await, 401);
    assert_eq!(spec.call(&client, get.clone(), t, "/api/v1.0/users/?q=example", None).await, 200);
    assert_eq!(spec.call(&client, get.clone(), t, "/api/v1.0/users/?page=9", None).await, 404);
    let t = "/api/v1.0/users/me/";
    assert_eq!(spec.call(&anon, get.clone(), t, t, None).await, 401);
    assert_eq!(spec.call(&client, get.clone(), t, t, None).await, 200);
    let t = "/api/v1.0/users/{id}/";
    let me = format!("{API}/users/{}/", owner.id);
    assert_eq!(spec.valid(&client, put.clone(), t, &me, &json!({"timezone": "Europe/Paris"})).await, 200);
    spec.invalid(&client, put.clone(), t, &me, &json!({"email": "x@example.com"})).await;
    assert_eq!(spec.valid(&client, patch.clone(), t, &me, &json!({})).await, 200);
    assert_eq!(spec.call(&anon, patch.clone(), t, &me, Some(&json!({}))).await, 401);
    assert_eq!(spec.call(&no_csrf, put.clone(), t, &me, Some(&json!({}))).await, 403);
    let other = format!("{API}/users/{}/", stranger.id);
    assert_eq!(spec.call(&client, put.clone(), t, &other, Some(&json!({}))).await, 403);
    assert_eq!(spec.call(&client, patch.clone(), t, &format!("{API}/users/{unknown}/"), Some(&json!({}))).await, 404);
    assert_eq!(spec.raw(&client, put.clone(), t, &me, "text/plain", "hello").await, 415);
    assert_eq!(spec.raw(&client, patch.clone(), t, &me, "application/json", "{bad").await, 400);

    // Rooms.
    let t = "/api/v1.0/rooms/";
    let body = json!({"name": "openapi room", "access_level": "restricted", "callback_id": "cb-openapi"});
    assert_eq!(spec.valid(&client, post.clone(), t, t, &body).await, 201);
    assert_eq!(spec.call(&anon, post.clone(), t, t, Some(&body)).await, 401);
    assert_eq!(spec.call(&no_csrf, post.clone(), t, t, Some(&body)).await, 403);
    spec.invalid(&client, post.clone(), t, t, &json!({})).await;
    spec.invalid(&client, post.clone(), t, t, &json!({"name": "x", "access_level": "private"})).await;
    spec.invalid(&client, post.clone(), t, t, &json!(["not", "an", "object"])).await;
    assert_eq!(spec.raw(&client, post.clone(), t, t, "application/xml", "<a/>").await, 415);
    assert_eq!(spec.call(&anon, get.clone(), t, t, None).await, 200);
    assert_eq!(spec.call(&client, get.clone(), t, "/api/v1.0/rooms/?username=Ann", None).await, 200);
    assert_eq!(spec.call(&client, get.clone(), t, "/api/v1.0/rooms/?page=7", None).await, 404);
    let t = "/api/v1.0/rooms/creation-callback/";
    assert_eq!(spec.valid(&anon, post.clone(), t, t, &json!({"callback_id": "cb-openapi"})).await, 200);
    assert_eq!(spec.valid(&anon, post.clone(), t, t, &json!({"callback_id": "cb-openapi"})).await, 200);
    spec.invalid(&anon, post.clone(), t, t, &json!({})).await;

    let t = "/api/v1.0/rooms/{id}/";
    let room: Value = client.get(&format!("{API}/rooms/?page=1")).await.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "openapi room")
        .cloned()
        .expect("created room listed");
    let room_id = room["id"].as_str().unwrap().to_string();
    let path = format!("{API}/rooms/{room_id}/");
    assert_eq!(spec.call(&client, get.clone(), t, &path, None).await, 200);
    assert_eq!(spec.call(&anon, get.clone(), t, &path, None).await, 200);
    assert_eq!(spec.call(&anon, get.clone(), t, "/api/v1.0/rooms/not-a-registered-room/", None).await, 200);
    assert_eq!(spec.call(&anon, get.clone(), t, &format!("{API}/rooms/{unknown}/"), None).await, 404);
    assert_eq!(spec.valid(&client, put.clone(), t, &path, &json!({"name": "openapi renamed"})).await, 200);
    spec.invalid(&client, put.clone(), t, &path, &json!({"access_level": "public"})).await;
    assert_eq!(
        spec.valid(&client, patch.clone(), t, &path, &json!({"configuration": {"everyone_can_mute": false}})).await,
        200
    );
    spec.invalid(&client, patch.clone(), t, &path, &json!({"configuration": [1]})).await;
    spec.invalid(&client, patch.clone(), t, &path, &json!({"name": null})).await;
    assert_eq!(spec.call(&stranger_client, patch.clone(), t, &path, Some(&json!({}))).await, 403);
    assert_eq!(spec.call(&anon, put.clone(), t, &path, Some(&json!({}))).await, 401);
    assert_eq!(spec.call(&client, put.clone(), t, &format!("{API}/rooms/{unknown}/"), Some(&json!({}))).await, 404);

    // Lobby (the room is restricted: an anonymous caller waits).
    let t = "/api/v1.0/rooms/{id}/request-entry/";
    let entry = format!("{API}/rooms/{room_id}/request-entry/");
    assert_eq!(spec.valid(&anon, post.clone(), t, &entry, &json!({"username": "Ann"})).await, 200);
    spec.invalid(&anon, post.clone(), t, &entry, &json!({"username": ["Ann"]})).await;
    let unknown_entry = format!("{API}/rooms/{unknown}/request-entry/");
    assert_eq!(spec.valid(&anon, post.clone(), t, &unknown_entry, &json!({"username": "Ann"})).await, 404);
    let t = "/api/v1.0/rooms/{id}/waiting-participants/";
    let waiting = format!("{API}/rooms/{room_id}/waiting-participants/");
    assert_eq!(spec.call(&client, get.clone(), t, &waiting, None).await, 200);
    assert_eq!(spec.call(&stranger_client, get.clone(), t, &waiting, None).await, 403);
    assert_eq!(spec.call(&anon, get.clone(), t, &waiting, None).await, 401);
    assert_eq!(
        spec.call(&client, get.clone(), t, &format!("{API}/rooms/{unknown}/waiting-participants/"), None).await,
        404
    );
    let pid =
        client.get(&waiting).await.json()["participants"][0]["id"].as_str().expect("a waiting participant").to_string();
    let t = "/api/v1.0/rooms/{id}/enter/";
    let enter = format!("{API}/rooms/{room_id}/enter/");
    let accept = json!({"participant_id": pid, "allow_entry": true});
    assert_eq!(spec.valid(&client, post.clone(), t, &enter, &accept).await, 200);
    let nobody = json!({"participant_id": unknown, "allow_entry": false});
    assert_eq!(spec.valid(&client, post.clone(), t, &enter, &nobody).await, 404);
    spec.invalid(&client, post.clone(), t, &enter, &json!({"participant_id": pid})).await;
    assert_eq!(spec.valid(&stranger_client, post.clone(), t, &enter, &accept).await, 403);

    // Resource accesses.
    let t = "/api/v1.0/resource-accesses/";
    assert_eq!(spec.call(&client, get.clone(), t, t, None).await, 200);
    assert_eq!(spec.call(&client, get.clone(), t, "/api/v1.0/resource-accesses/?page=3", None).await, 404);
    assert_eq!(spec.call(&anon, get.clone(), t, t, None).await, 401);
    let grant = json!({"user": stranger.id, "resource": room_id, "role": "member"});
    assert_eq!(spec.valid(&stranger_client, post.clone(), t, t, &grant).await, 403);
    let created = TestClient::send(client.request(post.clone(), t).json(&grant)).await;
    assert_eq!(spec.check(t, &post, &created), 201);
    let access = created.json()["id"].as_str().unwrap().to_string();
    spec.invalid(&client, post.clone(), t, t, &json!({"user": "nope", "resource": room_id, "role": "king"})).await;
    let t = "/api/v1.0/resource-accesses/{id}/";
    let path = format!("{API}/resource-accesses/{access}/");
    let unknown_access = format!("{API}/resource-accesses/{unknown}/");
    assert_eq!(spec.call(&client, get.clone(), t, &path, None).await, 200);
    assert_eq!(spec.call(&stranger_client, get.clone(), t, &path, None).await, 403);
    assert_eq!(spec.call(&client, get.clone(), t, &unknown_access, None).await, 404);
    let change = json!({"user": stranger.id, "resource": room_id, "role": "administrator"});
    assert_eq!(spec.valid(&client, put.clone(), t, &path, &change).await, 200);
    spec.invalid(&client, put.clone(), t, &path, &json!({"role": "member"})).await;
    assert_eq!(spec.valid(&client, patch.clone(), t, &path, &json!({"role": "member"})).await, 200);
    spec.invalid(&client, patch.clone(), t, &path, &json!({"role": "king"})).await;
    assert_eq!(spec.valid(&client, patch.clone(), t, &unknown_access, &json!({"role": "member"})).await, 404);
    assert_eq!(spec.call(&stranger_client, delete.clone(), t, &path, None).await, 403);
    assert_eq!(spec.call(&client, delete.clone(), t, &path, None).await, 204);
    assert_eq!(spec.call(&client, delete.clone(), t, &path, None).await, 404);

    // Recordings.
    let t = "/api/v1.0/rooms/{id}/start-recording/";
    let start = format!("{API}/rooms/{}/start-recording/", room0.id);
    assert_eq!(spec.valid(&client, post.clone(), t, &start, &json!({"mode": "screen_recording"})).await, 201);
    spec.invalid(&client, post.clone(), t, &start, &json!({"mode": "film"})).await;
    assert_eq!(spec.valid(&stranger_client, post.clone(), t, &start, &json!({"mode": "transcript"})).await, 403);
    let unknown_start = format!("{API}/rooms/{unknown}/start-recording/");
    assert_eq!(spec.valid(&client, post.clone(), t, &unknown_start, &json!({"mode": "transcript"})).await, 404);
    let t = "/api/v1.0/rooms/{id}/stop-recording/";
    let stop = format!("{API}/rooms/{}/stop-recording/", room0.id);
    assert_eq!(spec.call(&stranger_client, post.clone(), t, &stop, None).await, 403);
    assert_eq!(spec.call(&client, post.clone(), t, &stop, None).await, 200);
    assert_eq!(spec.call(&client, post.clone(), t, &stop, None).await, 404);
    let t = "/api/v1.0/recordings/";
    assert_eq!(spec.call(&client, get.clone(), t, "/api/v1.0/recordings/?page_size=1", None).await, 200);
    assert_eq!(spec.call(&client, get.clone(), t, "/api/v1.0/recordings/?page=4", None).await, 404);
    let saved = make(app, room0.id, Mode::ScreenRecording, Status::Saved, &[(&owner, "owner")]).await;
    let t = "/api/v1.0/recordings/{id}/";
    let path = format!("{API}/recordings/{}/", saved.id);
    assert_eq!(spec.call(&client, get.clone(), t, &path, None).await, 200);
    spec.call(&stranger_client, get.clone(), t, &path, None).await;
    assert_eq!(spec.call(&client, get.clone(), t, &format!("{API}/recordings/{unknown}/"), None).await, 404);
    let t = "/api/v1.0/recordings/media-auth/";
    for (url, who) in [
        (format!("http://localhost/media/recordings/{}.mp4", saved.id), &client),
        (format!("http://localhost/media/recordings/{}.ogg", saved.id), &client),
        (format!("http://localhost/media/recordings/{}.txt", saved.id), &client),
        ("http://localhost/media/elsewhere/x.mp4".to_string(), &client),
        (format!("http://localhost/media/recordings/{}.mp4", saved.id), &anon),
    ] {
        let resp = TestClient::send(who.request(get.clone(), t).header("X-Original-URL", url)).await;
        spec.check(t, &get, &resp);
    }
    let t = "/api/v1.0/recordings/{id}/";
    spec.call(&stranger_client, delete.clone(), t, &path, None).await;
    assert_eq!(spec.call(&client, delete.clone(), t, &path, None).await, 204);
    assert_eq!(spec.call(&client, delete.clone(), t, &path, None).await, 404);

    // The storage hook (its own bearer token).
    let t = "/api/v1.0/recordings/storage-hook/";
    let hook = |body: &Value, token: &str| {
        anon.request(post.clone(), t).header("authorization", format!("Bearer {token}")).json(body)
    };
    let ignored = event("recordings/notes.txt", "text/plain");
    assert!(spec.accepts(t, &post, &ignored));
    assert_eq!(spec.check(t, &post, &TestClient::send(hook(&ignored, TOKEN)).await), 200);
    assert_eq!(spec.check(t, &post, &TestClient::send(hook(&ignored, "wrong")).await), 401);
    let missing = event(&format!("recordings/{unknown}.mp4"), "video/mp4");
    assert_eq!(spec.check(t, &post, &TestClient::send(hook(&missing, TOKEN)).await), 404);
    assert!(!spec.accepts(t, &post, &json!({})));
    assert_eq!(spec.check(t, &post, &TestClient::send(hook(&json!({}), TOKEN)).await), 403);

    // The summary service's callback (its own bearer token).
    let t = "/api/v1.0/recordings/external-process-hook/";
    let callback = |body: &Value, token: &str| {
        anon.request(post.clone(), t).header("authorization", format!("Bearer {token}")).json(body)
    };
    let done = json!({"job_id": "job-unknown", "type": "transcript", "status": "success"});
    assert!(spec.accepts(t, &post, &done));
    assert_eq!(spec.check(t, &post, &TestClient::send(callback(&done, "hook-token")).await), 200);
    assert_eq!(spec.check(t, &post, &TestClient::send(callback(&done, "wrong")).await), 401);
    assert!(!spec.accepts(t, &post, &json!({"type": "transcript"})));
    let no_job = TestClient::send(callback(&json!({"type": "transcript"}), "hook-token")).await;
    assert_eq!(spec.check(t, &post, &no_job), 400);

    // The LiveKit webhook (signed bodies).
    let t = "/api/v1.0/rooms/webhooks-livekit/";
    let webhook = |body: &str, auth: Option<String>| {
        let mut rb =
            anon.request(post.clone(), t).header("content-type", "application/webhook+json").body(body.to_string());
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        rb
    };
    let signed = |body: &str| Some(sign_webhook(body, KEY, SECRET, Duration::from_secs(300)));
    let started = r#"{"event":"room_started"}"#;
    assert!(spec.accepts(t, &post, &serde_json::from_str(started).unwrap()));
    assert_eq!(spec.check(t, &post, &TestClient::send(webhook(started, signed(started))).await), 200);
    let odd = r#"{"event":"room_exploded"}"#;
    assert_eq!(spec.check(t, &post, &TestClient::send(webhook(odd, signed(odd))).await), 422);
    assert_eq!(spec.check(t, &post, &TestClient::send(webhook(started, None)).await), 401);
    assert_eq!(spec.check(t, &post, &TestClient::send(webhook(started, signed(odd))).await), 400);

    // In-call participant management (LiveKit tokens from the room representation).
    use livekit_protocol::participant_info::State as PState;
    let lk_room = room0.id.to_string();
    let room0_path = format!("{API}/rooms/{lk_room}/");
    let token = client.get(&room0_path).await.json()["livekit"]["token"].as_str().unwrap().to_string();
    let owner_sub = owner.sub.clone().unwrap();
    rig.lk.add_participant(&lk_room, &owner_sub, PState::Active);
    rig.lk.add_participant(&lk_room, stranger.sub.as_deref().unwrap(), PState::Active);
    rig.lk.add_participant(&lk_room, "guest", PState::Active);
    let bearer = |action: &str, body: &Value| {
        let path = format!("{API}/rooms/{lk_room}/{action}/");
        TestClient::send(
            anon.request(Method::POST, &path).header("authorization", format!("Bearer {token}")).json(body),
        )
    };
    let t = "/api/v1.0/rooms/{id}/update-participant-role/";
    let p = format!("{API}/rooms/{lk_room}/update-participant-role/");
    let promote = json!({"participant_identity": stranger.sub, "role": "administrator"});
    assert_eq!(spec.valid(&client, post.clone(), t, &p, &promote).await, 200);
    spec.invalid(&client, post.clone(), t, &p, &json!({"participant_identity": "guest", "role": "owner"})).await;
    let own = json!({"participant_identity": owner_sub, "role": "member"});
    assert_eq!(spec.valid(&client, post.clone(), t, &p, &own).await, 403);
    let gone = json!({"participant_identity": "nobody-here", "role": "member"});
    assert_eq!(spec.valid(&client, post.clone(), t, &p, &gone).await, 404);
    let t = "/api/v1.0/rooms/{id}/mute-participant/";
    let p = format!("{API}/rooms/{lk_room}/mute-participant/");
    let mute = json!({"participant_identity": "guest", "track_sid": "TR_1"});
    assert_eq!(spec.valid(&client, post.clone(), t, &p, &mute).await, 200);
    assert!(spec.accepts(t, &post, &mute));
    assert_eq!(spec.check(t, &post, &bearer("mute-participant", &mute).await), 200);
    spec.invalid(&client, post.clone(), t, &p, &json!({"participant_identity": "guest", "track_sid": ""})).await;
    assert_eq!(spec.call(&anon, post.clone(), t, &p, Some(&mute)).await, 403);
    let t = "/api/v1.0/rooms/{id}/update-participant/";
    let p = format!("{API}/rooms/{lk_room}/update-participant/");
    let update = json!({"participant_identity": "guest", "name": "Guest", "attributes": {"a": "b"}});
    assert_eq!(spec.valid(&client, post.clone(), t, &p, &update).await, 200);
    spec.invalid(&client, post.clone(), t, &p, &json!({"participant_identity": "guest", "attributes": {"n": 1}})).await;
    let missing = json!({"participant_identity": "nobody-here", "name": "X"});
    assert_eq!(spec.valid(&client, post.clone(), t, &p, &missing).await, 404);
    let t = "/api/v1.0/rooms/{id}/toggle-hand/";
    let hand = json!({"raised": true});
    assert!(spec.accepts(t, &post, &hand));
    assert_eq!(spec.check(t, &post, &bearer("toggle-hand", &hand).await), 200);
    assert_eq!(spec.check(t, &post, &bearer("toggle-hand", &json!({})).await), 400);
    assert_eq!(
        spec.call(&anon, post.clone(), t, &format!("{API}/rooms/{lk_room}/toggle-hand/"), Some(&hand)).await,
        403
    );
    let t = "/api/v1.0/rooms/{id}/rename/";
    let name = json!({"name": "Owner"});
    assert!(spec.accepts(t, &post, &name));
    assert_eq!(spec.check(t, &post, &bearer("rename", &name).await), 200);
    assert!(!spec.accepts(t, &post, &json!({"name": ""})));
    assert_eq!(spec.check(t, &post, &bearer("rename", &json!({"name": ""})).await), 400);
    let t = "/api/v1.0/rooms/{id}/remove-participant/";
    let p = format!("{API}/rooms/{lk_room}/remove-participant/");
    assert_eq!(spec.valid(&client, post.clone(), t, &p, &json!({"participant_identity": "guest"})).await, 200);
    assert_eq!(spec.valid(&client, post.clone(), t, &p, &json!({"participant_identity": "guest"})).await, 404);
    spec.invalid(&client, post.clone(), t, &p, &json!({})).await;

    // Invitations, subtitles, roomkit, diagnostics.
    let t = "/api/v1.0/rooms/{id}/invite/";
    let p = format!("{API}/rooms/{room_id}/invite/");
    assert_eq!(spec.valid(&client, post.clone(), t, &p, &json!({"emails": ["guest@example.com"]})).await, 200);
    spec.invalid(&client, post.clone(), t, &p, &json!({"emails": []})).await;
    assert_eq!(spec.valid(&stranger_client, post.clone(), t, &p, &json!({"emails": ["a@example.com"]})).await, 403);
    let t = "/api/v1.0/rooms/{id}/start-subtitle/";
    let r = TestClient::send(
        anon.request(post.clone(), &format!("{API}/rooms/{lk_room}/start-subtitle/"))
            .header("authorization", format!("Bearer {token}")),
    )
    .await;
    assert_eq!(spec.check(t, &post, &r), 200);
    assert_eq!(spec.call(&anon, post.clone(), t, &format!("{API}/rooms/{lk_room}/start-subtitle/"), None).await, 403);
    let t = "/api/v1.0/roomkit/join/";
    let pin =
        client.get(&format!("{API}/rooms/{room_id}/")).await.json()["pin_code"].as_str().expect("a PIN").to_string();
    let roomkit = |body: &Value, secret: &str| {
        TestClient::send(anon.request(Method::POST, t).header("authorization", format!("Bearer {secret}")).json(body))
    };
    assert!(spec.accepts(t, &post, &json!({"pin_code": pin})));
    assert_eq!(spec.check(t, &post, &roomkit(&json!({"pin_code": pin}), "roomkit-token").await), 200);
    assert_eq!(spec.check(t, &post, &roomkit(&json!({"pin_code": "0000000000"}), "roomkit-token").await), 404);
    assert!(!spec.accepts(t, &post, &json!({})));
    assert_eq!(spec.check(t, &post, &roomkit(&json!({}), "roomkit-token").await), 400);
    assert_eq!(spec.check(t, &post, &roomkit(&json!({"pin_code": pin}), "wrong").await), 401);
    let t = "/api/v1.0/diagnostics/connection/";
    assert_eq!(spec.call(&anon, post.clone(), t, t, None).await, 200);
    assert_eq!(spec.call(&client, post.clone(), t, t, None).await, 200);
    assert_eq!(spec.call(&no_csrf, post.clone(), t, t, None).await, 403);

    // The external API: an application's token, then its rooms.
    let application = meet::store::applications::create(
        &app.state.db,
        meet::store::applications::NewApplication {
            name: "OpenAPI".into(),
            client_id: "openapi-client".into(),
            client_secret_hash: meet::domain::application::hash_with("openapi-secret", "salt", 1000),
            scopes: vec!["rooms:list".into(), "rooms:retrieve".into(), "rooms:create".into()],
            is_active: true,
            domains: vec![],
        },
    )
    .await
    .unwrap();
    let t = "/external-api/v1.0/application/token/";
    let creds = json!({"client_id": application.client_id, "client_secret": "openapi-secret",
                       "grant_type": "client_credentials", "scope": owner.email});
    assert_eq!(spec.valid(&anon, post.clone(), t, t, &creds).await, 200);
    spec.invalid(&anon, post.clone(), t, t, &json!({"grant_type": "client_credentials"})).await;
    let mut wrong = creds.clone();
    wrong["client_secret"] = json!("wrong");
    assert_eq!(spec.call(&anon, post.clone(), t, t, Some(&wrong)).await, 401);
    let mut not_email = creds.clone();
    not_email["scope"] = json!("not-an-email");
    assert_eq!(spec.call(&anon, post.clone(), t, t, Some(&not_email)).await, 400);
    let mut ghost = creds.clone();
    ghost["scope"] = json!("ghost@example.com");
    assert_eq!(spec.call(&anon, post.clone(), t, t, Some(&ghost)).await, 404);
    let ext_token = TestClient::send(anon.request(post.clone(), t).json(&creds)).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let ext = |method: Method, path: &str, body: Option<&Value>| {
        let mut rb = anon.request(method, path).header("authorization", format!("Bearer {ext_token}"));
        if let Some(b) = body {
            rb = rb.json(b);
        }
        TestClient::send(rb)
    };
    let t = "/external-api/v1.0/rooms/";
    assert_eq!(spec.check(t, &post, &ext(post.clone(), t, Some(&json!({}))).await), 201);
    let bad = json!({"access_level": "public"});
    assert_eq!(spec.check(t, &post, &ext(post.clone(), t, Some(&bad)).await), 400);
    assert_eq!(spec.call(&anon, post.clone(), t, t, Some(&json!({}))).await, 401);
    assert_eq!(spec.check(t, &get, &ext(get.clone(), t, None).await), 200);
    assert_eq!(spec.check(t, &get, &ext(get.clone(), "/external-api/v1.0/rooms/?page=9", None).await), 404);
    let t = "/external-api/v1.0/rooms/{id}/";
    let p = format!("/external-api/v1.0/rooms/{}/", room0.id);
    assert_eq!(spec.check(t, &get, &ext(get.clone(), &p, None).await), 200);
    let p = format!("/external-api/v1.0/rooms/{unknown}/");
    assert_eq!(spec.check(t, &get, &ext(get.clone(), &p, None).await), 404);

    // Add-on sessions (now-external-api §12).
    let t = "/api/v1.0/addons/sessions/init/";
    let started = TestClient::send(anon.request(post.clone(), t)).await;
    assert_eq!(spec.check(t, &post, &started), 201);
    let off = TestApp::spawn().await;
    assert_eq!(spec.check(t, &post, &TestClient::send(off.client().request(post.clone(), t)).await), 404);
    let sid = started.header("set-cookie").unwrap().split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    let transit = started.json()["transit_token"].as_str().unwrap().to_string();
    let csrf = started.json()["csrf_token"].as_str().unwrap().to_string();
    let t = "/api/v1.0/addons/sessions/poll/";
    let poll = |sid: &str, csrf: Option<&str>| {
        let mut rb = anon.request(post.clone(), t).header("cookie", format!("addonsSid={sid}"));
        if let Some(c) = csrf {
            rb = rb.header("x-csrftoken", c);
        }
        TestClient::send(rb)
    };
    assert_eq!(spec.check(t, &post, &poll(&sid, Some(&csrf)).await), 202);
    assert_eq!(spec.check(t, &post, &poll(&sid, None).await), 400);
    let ghost_csrf = meet::service::addons::csrf_token("openapi-addons-csrf", "ghost");
    assert_eq!(spec.check(t, &post, &poll("ghost", Some(&ghost_csrf)).await), 404);
    let t = "/api/v1.0/addons/sessions/exchange/";
    assert_eq!(spec.valid(&client, post.clone(), t, t, &json!({"transit_token": transit})).await, 200);
    assert_eq!(spec.call(&client, post.clone(), t, t, Some(&json!({}))).await, 400);
    let orphan = json!({"session_id": "gone", "state": "pending"});
    app.state.cache.set("addons_transit_orphan", &orphan.to_string(), None).await.unwrap();
    assert_eq!(spec.call(&client, post.clone(), t, t, Some(&json!({"transit_token": "orphan"}))).await, 404);
    let t = "/api/v1.0/addons/sessions/poll/";
    assert_eq!(spec.check(t, &post, &poll(&sid, Some(&csrf)).await), 200);
    // Files.
    let t = "/api/v1.0/files/";
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    let image = json!({"filename": "openapi.png", "type": "background_image"});
    assert_eq!(spec.valid(&client, post.clone(), t, t, &image).await, 201);
    let exe = json!({"filename": "x.exe", "type": "background_image"});
    assert_eq!(spec.call(&client, post.clone(), t, t, Some(&exe)).await, 400);
    spec.invalid(&client, post.clone(), t, t, &json!({"type": "background_image"})).await;
    assert_eq!(spec.call(&anon, post.clone(), t, t, Some(&image)).await, 401);
    assert_eq!(spec.call(&no_csrf, post.clone(), t, t, Some(&image)).await, 403);
    let created = TestClient::send(client.request(post.clone(), t).json(&image)).await.json();
    let file_id = created["id"].as_str().unwrap().to_string();
    let upload = reqwest::Client::new().put(created["policy"].as_str().unwrap()).header("x-amz-acl", "private");
    assert_eq!(upload.body(png.clone()).send().await.unwrap().status(), 200);
    assert_eq!(
        spec.call(&client, get.clone(), t, "/api/v1.0/files/?ordering=-title&is_deleted=false", None).await,
        200
    );
    assert_eq!(spec.call(&client, get.clone(), t, "/api/v1.0/files/?type=other", None).await, 400);
    assert_eq!(spec.call(&client, get.clone(), t, "/api/v1.0/files/?page=3", None).await, 404);
    let t = "/api/v1.0/files/{id}/upload-ended/";
    let p = format!("{API}/files/{file_id}/upload-ended/");
    assert_eq!(spec.call(&client, post.clone(), t, &p, None).await, 200);
    assert_eq!(spec.call(&client, post.clone(), t, &p, None).await, 400);
    assert_eq!(spec.call(&stranger_client, post.clone(), t, &p, None).await, 404);
    let text = TestClient::send(client.request(post.clone(), "/api/v1.0/files/").json(&image)).await.json();
    let text_id = text["id"].as_str().unwrap();
    let upload = reqwest::Client::new().put(text["policy"].as_str().unwrap()).header("x-amz-acl", "private");
    assert_eq!(upload.body("not an image").send().await.unwrap().status(), 200);
    assert_eq!(spec.call(&client, post.clone(), t, &format!("{API}/files/{text_id}/upload-ended/"), None).await, 400);
    let t = "/api/v1.0/files/media-auth/";
    let original = format!("http://localhost/media/files/{file_id}.png");
    let media = |c: &TestClient, url: &str| TestClient::send(c.request(Method::GET, t).header("x-original-url", url));
    assert_eq!(spec.check(t, &get, &media(&client, &original).await), 200);
    assert_eq!(spec.check(t, &get, &media(&stranger_client, &original).await), 403);
    assert_eq!(spec.check(t, &get, &media(&anon, &original).await), 401);
    let t = "/api/v1.0/files/{id}/";
    let p = format!("{API}/files/{file_id}/");
    let edit = json!({"title": "renamed", "type": "background_image", "description": null});
    assert_eq!(spec.valid(&client, put.clone(), t, &p, &edit).await, 200);
    spec.invalid(&client, put.clone(), t, &p, &json!({"title": ""})).await;
    assert_eq!(spec.valid(&client, patch.clone(), t, &p, &json!({"description": "sea"})).await, 200);
    assert_eq!(spec.valid(&stranger_client, patch.clone(), t, &p, &json!({})).await, 404);
    assert_eq!(spec.call(&client, delete.clone(), t, &p, None).await, 204);
    assert_eq!(spec.call(&client, delete.clone(), t, &p, None).await, 404);

    // Room deletion last (it cascades).
    let t = "/api/v1.0/rooms/{id}/";
    let path = format!("{API}/rooms/{room_id}/");
    assert_eq!(spec.call(&stranger_client, delete.clone(), t, &path, None).await, 403);
    assert_eq!(spec.call(&client, delete.clone(), t, &path, None).await, 204);
    assert_eq!(spec.call(&client, delete.clone(), t, &path, None).await, 404);

    // Every documented operation answered at least one success, and one documented error where
    // it has some besides the bearer 401 and the outage 503 (`outage.rs` covers the 503s).
    let seen = spec.seen.lock().unwrap().clone();
    for (path, item) in spec.doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let statuses = seen.get(&(path.clone(), method.to_uppercase())).cloned().unwrap_or_default();
            assert!(statuses.iter().any(|s| (200..300).contains(s)), "{method} {path}: no success seen ({statuses:?})");
            let errors = op["responses"].as_object().unwrap().keys().filter(|s| !["401", "503"].contains(&s.as_str()));
            if errors.filter(|s| s.as_str() >= "400").count() > 0 {
                assert!(statuses.iter().any(|s| *s >= 400), "{method} {path}: no error seen ({statuses:?})");
            }
        }
    }
}

#[tokio::test]
async fn openapi_undocumented_methods_answer_405_with_the_detail_shape_and_allow() {
    let app = TestApp::spawn_with(&[("EXTERNAL_API_ENABLED", "true")]).await;
    let spec = Spec::fetch(&app).await;
    let (_, client) = app.logged_in("allow@example.com").await;
    let detail = spec.validator(&json!({"$ref": "#/components/schemas/Detail"}), true);
    for (template, item) in spec.doc["paths"].as_object().unwrap() {
        let documented: Vec<String> = item.as_object().unwrap().keys().map(|m| m.to_uppercase()).collect();
        let path = template.replace("{id}", &Uuid::new_v4().to_string());
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if documented.iter().any(|m| m == method) {
                continue;
            }
            let mut rb = client.request(Method::from_bytes(method.as_bytes()).unwrap(), &path);
            let hook = template.ends_with("storage-hook/") || template.ends_with("external-process-hook/");
            if hook {
                rb = rb.header("authorization", "Bearer unused");
            }
            let resp = TestClient::send(rb).await;
            let what = format!("{method} {template}: {} {}", resp.status, resp.text);
            if hook {
                // Their own authentication runs first (and storage events are off here).
                assert!([401, 404].contains(&resp.status.as_u16()), "{what}");
            } else if template.starts_with("/external-api/v1.0/rooms/") {
                // Bearer tokens only: a session is anonymous there, and 401 comes before 405.
                assert_eq!(resp.status, 401, "{what}");
            } else {
                assert_eq!(resp.status, 405, "{what}");
                let allow = resp.header("allow").unwrap_or_default().to_string();
                for m in &documented {
                    assert!(allow.contains(m.as_str()), "{what}: Allow {allow}");
                }
            }
            assert!(detail.is_valid(&resp.json()), "{what}");
        }
    }
}

#[tokio::test]
async fn openapi_limits_answer_as_documented() {
    let app = TestApp::spawn_with(&[
        ("REQUEST_ENTRY_THROTTLE_RATES", "1/minute"),
        ("CREATION_CALLBACK_THROTTLE_RATES", "1/minute"),
        ("MEET_MAX_BODY_BYTES", "1024"),
    ])
    .await;
    let spec = Spec::fetch(&app).await;
    let anon = app.client();
    let (_, client) = app.logged_in("limits@example.com").await;
    let post = Method::POST;

    let t = "/api/v1.0/rooms/creation-callback/";
    let body = json!({"callback_id": "x"});
    spec.call(&anon, post.clone(), t, t, Some(&body)).await;
    assert_eq!(spec.call(&anon, post.clone(), t, t, Some(&body)).await, 429);

    let t = "/api/v1.0/rooms/{id}/request-entry/";
    let path = format!("{API}/rooms/{}/request-entry/", Uuid::new_v4());
    spec.call(&anon, post.clone(), t, &path, Some(&json!({"username": "Ann"}))).await;
    assert_eq!(spec.call(&anon, post.clone(), t, &path, Some(&json!({"username": "Ann"}))).await, 429);

    let t = "/api/v1.0/rooms/";
    let big = json!({"name": "big", "configuration": {"padding": "x".repeat(2048)}});
    assert_eq!(spec.call(&client, post.clone(), t, t, Some(&big)).await, 413);
}
