//! Request bodies in every content type the reference parses (users-auth-rooms §2.2 and its
//! errata): JSON and `multipart/form-data`, with the same validation and errors; other types,
//! `application/x-www-form-urlencoded` included, are a 415.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::livekit::LiveKitDouble;
use crate::support::rooms::{add_access, create_room, room_with_roles, spawn};
use crate::support::{Resp, TestApp, TestClient};

const BOUNDARY: &str = "----meet-test-boundary-7MA4YWxkTrZu0gW";

/// A part of a multipart body: a field, or a file (with a file name).
enum Part<'a> {
    Field(&'a str, &'a str),
    File(&'a str, &'a str, &'a str),
}

/// A multipart body built by hand (as `curl -F` sends it), so that malformed ones can be sent.
fn multipart(parts: &[Part]) -> String {
    let mut body = String::new();
    for part in parts {
        body.push_str(&format!("--{BOUNDARY}\r\n"));
        match part {
            Part::Field(name, value) => {
                body.push_str(&format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"))
            }
            Part::File(name, file_name, content) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n{content}\r\n"
            )),
        }
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body
}

fn fields<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<Part<'a>> {
    pairs.iter().map(|(k, v)| Part::Field(k, v)).collect()
}

/// Sends `body` with `content_type` (the client adds its CSRF token when logged in).
async fn send_raw(c: &TestClient, method: Method, path: &str, content_type: &str, body: String) -> Resp {
    TestClient::send(c.request(method, path).header("Content-Type", content_type).body(body)).await
}

async fn send_form(c: &TestClient, method: Method, path: &str, pairs: &[(&str, &str)]) -> Resp {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    send_raw(c, method, path, &content_type, multipart(&fields(pairs))).await
}

/// Form fields as (name, value) pairs, in order.
type Fields<'a> = Vec<(&'a str, &'a str)>;

fn room_path(id: impl std::fmt::Display) -> String {
    format!("/api/v1.0/rooms/{id}/")
}

#[tokio::test]
async fn s2_2_r_6_multipart_creates_a_room_like_json() {
    let app = spawn(&[]).await;
    let (_, c) = app.logged_in("form-create@example.com").await;
    let r = send_form(
        &c,
        Method::POST,
        "/api/v1.0/rooms/",
        &[
            ("name", "  Form Room "),
            ("access_level", "trusted"),
            ("configuration.everyone_can_mute", "false"),
            ("id", "ignored"),
        ],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let room = r.json();
    assert_eq!(room["name"], "Form Room");
    assert_eq!(room["slug"], "form-room");
    assert_eq!(room["access_level"], "trusted");
    assert_eq!(room["configuration"], json!({"everyone_can_mute": false}), "errata §2.2: dots nest objects");
    assert_eq!(room["accesses"].as_array().map(Vec::len), Some(1));
    // The same room as JSON reads the same.
    let r = c.post("/api/v1.0/rooms/", &json!({"name": "Json Room", "access_level": "trusted"})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["access_level"], room["access_level"]);
}

#[tokio::test]
async fn s2_2_r_25_r_27_multipart_updates_a_room_put_and_patch() {
    let app = spawn(&[]).await;
    let (room, [_, admin, _]) = room_with_roles(&app, "Form Update", "public").await;
    let c = app.client_for(&admin).await;
    let r = send_form(&c, Method::PATCH, &room_path(room.id), &[("access_level", "restricted")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.json()["access_level"].as_str(), r.json()["name"].as_str()),
        (Some("restricted"), Some("Form Update"))
    );
    let r = send_form(
        &c,
        Method::PUT,
        &room_path(room.id),
        &[
            ("name", "Renamed"),
            ("configuration.can_publish_sources[0]", "camera"),
            ("configuration.can_publish_sources[1]", "screen_share"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    assert_eq!(b["name"], "Renamed");
    assert_eq!(b["configuration"], json!({"can_publish_sources": ["camera", "screen_share"]}), "brackets make lists");
    // PUT without `name` fails as with JSON.
    let r = send_form(&c, Method::PUT, &room_path(room.id), &[("access_level", "public")]).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"name": ["This field is required."]})));
}

#[tokio::test]
async fn s2_2_ra_14_multipart_creates_an_access() {
    let app = spawn(&[]).await;
    let (owner, c) = app.logged_in("form-owner@example.com").await;
    let room = create_room(&app, "Form Access", "public").await;
    add_access(&app, room.id, owner.id, "owner").await;
    let other = app.create_user("form-other@example.com").await;
    let (user, resource) = (other.id.to_string(), room.id.to_string());
    let r = send_form(
        &c,
        Method::POST,
        "/api/v1.0/resource-accesses/",
        &[("user", user.as_str()), ("resource", resource.as_str()), ("role", "administrator")],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let a = r.json();
    assert_eq!(
        (a["user"].as_str(), a["resource"].as_str(), a["role"].as_str()),
        (Some(&*user), Some(&*resource), Some("administrator"))
    );
    // Validation is the same: a bad pk and a bad role, in one answer.
    let r = send_form(
        &c,
        Method::POST,
        "/api/v1.0/resource-accesses/",
        &[("user", "not-a-uuid"), ("resource", resource.as_str()), ("role", "king")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"user": ["“not-a-uuid” is not a valid UUID."], "role": ["\"king\" is not a valid choice."]})
    );
}

#[tokio::test]
async fn s2_2_r_10_multipart_validation_errors_match_json() {
    let app = spawn(&[]).await;
    let (_, c) = app.logged_in("form-invalid@example.com").await;
    let long = "é".repeat(501);
    let cases: Vec<(Fields, Value, &str)> = vec![
        (vec![], json!({"name": ["This field is required."]}), "absent is absent"),
        (vec![("name", "")], json!({"name": ["This field may not be blank."]}), "present but empty is \"\""),
        (
            vec![("name", "x"), ("access_level", "nope")],
            json!({"access_level": ["\"nope\" is not a valid choice."]}),
            "choice",
        ),
        (
            vec![("name", "x"), ("configuration", "{\"a\": 1}")],
            json!({"configuration": [{"type": "model_type", "loc": [],
                "msg": "Input should be a valid dictionary or instance of RoomConfiguration", "input": "{\"a\": 1}",
                "ctx": {"class_name": "RoomConfiguration"}, "url": "https://errors.pydantic.dev/2.13/v/model_type"}]}),
            "a form value is a string, as `\"configuration\": \"…\"` in JSON",
        ),
        (
            vec![("name", long.as_str())],
            json!({"name": ["Ensure this field has no more than 500 characters."]}),
            "length",
        ),
    ];
    for (pairs, expected, what) in cases {
        let form = send_form(&c, Method::POST, "/api/v1.0/rooms/", &pairs).await;
        assert_eq!((form.status.as_u16(), form.json()), (400, expected.clone()), "{what}");
        let as_json: serde_json::Map<String, Value> = pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let json = c.post("/api/v1.0/rooms/", &Value::Object(as_json)).await;
        assert_eq!((json.status.as_u16(), json.json()), (400, expected), "{what} (JSON)");
    }
    // A repeated field keeps its last value; file parts are ignored.
    let body = multipart(&[
        Part::Field("name", "first"),
        Part::File("avatar", "me.png", "not really a png"),
        Part::Field("name", "last"),
    ]);
    let r = send_raw(&c, Method::POST, "/api/v1.0/rooms/", &format!("multipart/form-data; boundary={BOUNDARY}"), body)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["name"], "last");
}

#[tokio::test]
async fn s2_2_l_1_l_7_l_24_lobby_bodies_coerce_strings_as_drf_fields_do() {
    let lk = LiveKitDouble::start().await;
    let vars: Vec<(&str, String)> = lk.vars();
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_with(&pairs).await;
    let (room, [_, admin, _]) = room_with_roles(&app, "Form Lobby", "restricted").await;
    let entry = format!("/api/v1.0/rooms/{}/request-entry/", room.id);
    let r = send_form(&app.client(), Method::POST, &entry, &[("username", " Ann ")]).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["status"].as_str(), r.json()["username"].as_str()),
        (200, Some("waiting"), Some("Ann"))
    );
    let pid = r.json()["id"].as_str().unwrap().to_string();
    let admin = app.client_for(&admin).await;
    let enter = format!("/api/v1.0/rooms/{}/enter/", room.id);
    let r =
        send_form(&admin, Method::POST, &enter, &[("participant_id", pid.as_str()), ("allow_entry", "maybe")]).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"allow_entry": ["Must be a valid boolean."]})));
    let r = send_form(&admin, Method::POST, &enter, &[("participant_id", pid.as_str()), ("allow_entry", "true")]).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"message": "Participant was updated."})));
    let r = send_form(&app.client(), Method::POST, &entry, &[("username", "")]).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"username": ["This field may not be blank."]})));
}

#[tokio::test]
async fn s2_2_malformed_multipart_is_a_400_and_urlencoded_stays_a_415() {
    let app = spawn(&[]).await;
    let (_, c) = app.logged_in("form-bad@example.com").await;
    let form = multipart(&fields(&[("name", "x")]));
    let parse_error = |r: &Resp| r.json()["detail"].as_str().unwrap_or("").to_string();
    // No boundary.
    let r = send_raw(&c, Method::POST, "/api/v1.0/rooms/", "multipart/form-data", form.clone()).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"detail": "Multipart form parse error - Invalid boundary in multipart: None"}));
    // A boundary that cannot be one.
    let r = send_raw(&c, Method::POST, "/api/v1.0/rooms/", "multipart/form-data; boundary=\"ends with \"", form).await;
    assert_eq!(r.status, 400);
    assert!(parse_error(&r).starts_with("Multipart form parse error - Invalid boundary in multipart"), "{}", r.text);
    // A body cut short.
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let cut = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nhal");
    let r = send_raw(&c, Method::POST, "/api/v1.0/rooms/", &ct, cut).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(parse_error(&r).starts_with("Multipart form parse error - "), "{}", r.text);
    // Errata §2.2: brackets take list indexes only.
    let r = send_form(&c, Method::POST, "/api/v1.0/rooms/", &[("name", "x"), ("configuration[theme]", "dark")]).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"detail": "invalid literal for int() with base 10: 'theme'"}))
    );
    // Over MEET_MAX_BODY_BYTES: 413, as for JSON.
    let big = "x".repeat(2_700_000);
    let r = send_form(&c, Method::POST, "/api/v1.0/rooms/", &[("name", big.as_str())]).await;
    assert_eq!(r.status, 413);
    // The reference has no urlencoded parser.
    let r = send_raw(&c, Method::POST, "/api/v1.0/rooms/", "application/x-www-form-urlencoded", "name=x".into()).await;
    assert_eq!(r.status, 415);
    assert_eq!(r.json(), json!({"detail": "Unsupported media type \"application/x-www-form-urlencoded\" in request."}));
    let r = send_raw(&c, Method::POST, "/api/v1.0/rooms/", "multipart/mixed; boundary=abc", "name=x".into()).await;
    assert_eq!(r.status, 415);
}

#[tokio::test]
async fn s4_10_a_multipart_session_write_still_needs_csrf() {
    let app = spawn(&[]).await;
    let (_, c) = app.logged_in("form-csrf@example.com").await;
    let no_token = TestClient { csrf: None, ..c.clone() };
    let r = send_form(&no_token, Method::POST, "/api/v1.0/rooms/", &[("name", "x")]).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": "CSRF Failed: CSRF token missing."})));
    let r = send_form(&c, Method::POST, "/api/v1.0/rooms/", &[("name", "x")]).await;
    assert_eq!(r.status, 201, "with the header: {}", r.text);
}
