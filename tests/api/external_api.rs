//! The external API (now-external-api §4–§9): the application token endpoint, the application
//! JWT authenticator, scopes, and the rooms list/retrieve/create, black-box over HTTP.

use base64::Engine;
use meet::domain::application::hash_with;
use meet::store::applications::{self, Application, NewApplication};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::{Resp, TestApp, TestClient};

const KEY: &str = "application-jwt-key-for-tests";
const SECRET: &str = "s3cr3t&with=special+chars%42";
const TOKEN: &str = "/external-api/v1.0/application/token/";
const ROOMS: &str = "/external-api/v1.0/rooms/";

async fn spawn(extra: &[(&str, &str)]) -> TestApp {
    let mut vars =
        vec![("EXTERNAL_API_ENABLED", "true"), ("APPLICATION_ENABLED", "true"), ("APPLICATION_JWT_SECRET_KEY", KEY)];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars).await
}

/// An application stored the way Django stores one (a cheap PBKDF2 hash keeps tests fast).
async fn application(app: &TestApp, scopes: &[&str], domains: &[&str]) -> Application {
    applications::create(
        &app.state.db,
        NewApplication {
            name: "Calendar".into(),
            client_id: format!("client{}", Uuid::new_v4().simple()),
            client_secret_hash: hash_with(SECRET, "testsalt", 1000),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            is_active: true,
            domains: domains.iter().map(|s| s.to_string()).collect(),
        },
    )
    .await
    .expect("application created")
}

async fn post_token(app: &TestApp, body: &Value) -> Resp {
    app.client().post(TOKEN, body).await
}

fn creds(a: &Application, email: &str) -> Value {
    json!({"client_id": a.client_id, "client_secret": SECRET, "grant_type": "client_credentials", "scope": email})
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("three segments");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A token signed with `key`, with these claims.
fn jwt(claims: &Value, key: &str) -> String {
    meet::livekit::token::sign(claims, key)
}

fn claims(a: &Application, user: Uuid, scope: &str) -> Value {
    json!({"iss": "lasuite-meet", "client_id": a.client_id, "delegated": true, "user_id": user.to_string(),
           "iat": now(), "exp": now() + 600, "scope": scope})
}

async fn bearer(app: &TestApp, method: Method, path: &str, token: &str, body: Option<&Value>) -> Resp {
    let mut rb = app.client().request(method, path).header("authorization", format!("Bearer {token}"));
    if let Some(b) = body {
        rb = rb.json(b);
    }
    TestClient::send(rb).await
}

#[tokio::test]
async fn nx_tok_1_application_disabled_gives_404_and_the_switch_hides_everything() {
    let app = spawn(&[("APPLICATION_ENABLED", "false")]).await;
    let a = application(&app, &["rooms:list"], &[]).await;
    app.create_user("jane@example.com").await;
    let r = post_token(&app, &creds(&a, "jane@example.com")).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})));
    let r = app.client().get(TOKEN).await;
    assert_eq!(r.status, 405, "the method is checked before the flag");

    let off = TestApp::spawn().await;
    assert_eq!(off.client().post(TOKEN, &json!({})).await.status, 404);
    assert_eq!(off.client().get(ROOMS).await.status, 404);
    let r = app.client().get("/external-api/v1.0/rooms").await;
    assert_eq!((r.status.as_u16(), r.header("location")), (301, Some("/external-api/v1.0/rooms/")));
}

#[tokio::test]
async fn nx_tok_2_nx_tok_11_nx_jwt_1_nx_jwt_2_json_credentials_give_a_delegated_token() {
    let app = spawn(&[("APPLICATION_JWT_AUDIENCE", "https://meet.example/external-api/v1.0/")]).await;
    let a = application(&app, &["rooms:list", "rooms:create"], &[]).await;
    let user = app.create_user("User.Family@example.com").await;
    let r = post_token(&app, &creds(&a, "user.family@example.com")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["access_token", "token_type", "expires_in", "scope"]);
    assert_eq!(
        (&body["token_type"], &body["expires_in"], &body["scope"]),
        (&json!("Bearer"), &json!(3600), &json!("rooms:list rooms:create"))
    );
    let p = payload(body["access_token"].as_str().unwrap());
    let mut keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["aud", "client_id", "delegated", "exp", "iat", "iss", "scope", "user_id"]);
    assert_eq!(p["iss"], "lasuite-meet");
    assert_eq!(p["aud"], "https://meet.example/external-api/v1.0/");
    assert_eq!(p["client_id"], a.client_id.as_str());
    assert_eq!(p["user_id"], user.id.to_string());
    assert_eq!(p["delegated"], true);
    assert_eq!(p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap(), 3600);
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn nx_tok_3_form_bodies_are_decoded_and_nx_tok_4_other_types_are_415() {
    let app = spawn(&[]).await;
    let a = application(&app, &[], &[]).await;
    app.create_user("jane@example.com").await;
    let form = [
        ("client_id", a.client_id.as_str()),
        ("client_secret", SECRET),
        ("grant_type", "client_credentials"),
        ("scope", "jane@example.com"),
    ];
    let r = TestClient::send(app.client().request(Method::POST, TOKEN).form(&form)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let keys: Vec<String> = r.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access_token", "token_type", "expires_in"], "no scope key without scopes");
    let r = TestClient::send(app.client().request(Method::POST, TOKEN).header("content-type", "text/plain").body("x"))
        .await;
    assert_eq!(r.json(), json!({"detail": "Unsupported media type \"text/plain\" in request."}));
    assert_eq!(r.status, 415);
}

#[tokio::test]
async fn nx_tok_5_nx_tok_6_fields_are_reported_together() {
    let app = spawn(&[]).await;
    let r =
        TestClient::send(app.client().request(Method::POST, TOKEN).form(&[("grant_type", "client_credentials")])).await;
    assert_eq!(r.status, 400);
    let body = r.json();
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["client_id", "client_secret", "scope"]);
    assert_eq!(body["scope"], json!(["This field is required."]));
    let r = post_token(
        &app,
        &json!({"client_id": 12, "client_secret": " ", "grant_type": "authorization_code", "scope": null}),
    )
    .await;
    assert_eq!(
        r.json(),
        json!({"client_secret": ["This field may not be blank."],
               "grant_type": ["\"authorization_code\" is not a valid choice."],
               "scope": ["This field may not be null."]})
    );
    let r = post_token(&app, &json!(["a"])).await;
    assert_eq!(r.json(), json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}));
}

#[tokio::test]
async fn nx_tok_7_nx_tok_8_nx_tok_18_bad_credentials_and_inactive_applications() {
    let app = spawn(&[]).await;
    let a = application(&app, &["rooms:list"], &[]).await;
    app.create_user("jane@example.com").await;
    let mut unknown = creds(&a, "jane@example.com");
    unknown["client_id"] = json!("nobody");
    let mut wrong = creds(&a, "jane@example.com");
    wrong["client_secret"] = json!("wrong");
    for (what, body) in [("unknown client id", &unknown), ("wrong secret", &wrong)] {
        let r = post_token(&app, body).await;
        assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "Invalid credentials"})), "{what}");
        assert_eq!(r.header("www-authenticate"), Some("Session"), "{what}");
    }
    applications::set_active(&app.state.db, a.id, false).await.unwrap();
    let r = post_token(&app, &wrong).await;
    assert_eq!(r.json(), json!({"detail": "Invalid credentials"}), "a wrong secret does not reveal inactivity");
    let r = post_token(&app, &creds(&a, "jane@example.com")).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "Application is inactive"})));
}

#[tokio::test]
async fn nx_tok_9_nx_tok_10_nx_tok_12_email_domain_and_user() {
    let app = spawn(&[]).await;
    let a = application(&app, &["rooms:list"], &["allowed.com"]).await;
    app.create_user("jane@allowed.com").await;
    let r = post_token(&app, &creds(&a, "not-an-email")).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"error": "Scope should be a valid email address."})));
    let r = post_token(&app, &creds(&a, "jane@other.com")).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (403, json!({"error": "This application is not authorized for this email domain."}))
    );
    assert_eq!(post_token(&app, &creds(&a, "jane@ALLOWED.com")).await.status, 200);
    let r = post_token(&app, &creds(&a, "ghost@allowed.com")).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "User not found."})));
}

#[tokio::test]
async fn nx_auth_1_nx_auth_9_no_credentials_is_401_bearer() {
    let app = spawn(&[]).await;
    let room = format!("{ROOMS}{}/", Uuid::new_v4());
    for (method, path) in [(Method::GET, ROOMS), (Method::GET, room.as_str()), (Method::POST, ROOMS)] {
        let r = TestClient::send(app.client().request(method.clone(), path)).await;
        assert_eq!(r.status, 401, "{method} {path}");
        assert_eq!(r.json(), json!({"detail": "Authentication credentials were not provided."}));
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{method} {path}");
    }
    let r = TestClient::send(app.client().request(Method::GET, ROOMS).header("authorization", "Bearer a b")).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "Invalid token header."})));
}

#[tokio::test]
async fn nx_auth_2_nx_auth_3_nx_auth_5_claim_failures_are_401_with_upstream_messages() {
    let app = spawn(&[]).await;
    let a = application(&app, &["rooms:list"], &[]).await;
    let user = app.create_user("jane@example.com").await;
    let with = |k: &str, v: Value| {
        let mut c = claims(&a, user.id, "rooms:list");
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = claims(&a, user.id, "rooms:list");
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let cases = [
        ("expired", with("exp", json!(now() - 10)), "Token expired."),
        ("not delegated", with("delegated", json!(false)), "Invalid token type."),
        ("no client_id", without("client_id"), "Invalid token claims."),
        ("no user_id", without("user_id"), "Invalid token claims."),
        ("user_id not a UUID (W10)", with("user_id", json!("42")), "Invalid token claims."),
        ("unexpected audience", with("aud", json!("someone-else")), "Invalid token."),
        ("other issuer", with("iss", json!("someone-else")), "Invalid token."),
        ("unknown application", with("client_id", json!("ghost")), "Application not found."),
        ("unknown user", with("user_id", json!(Uuid::new_v4().to_string())), "User not found."),
    ];
    for (what, c, message) in cases {
        let r = bearer(&app, Method::GET, ROOMS, &jwt(&c, KEY), None).await;
        assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": message})), "{what}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{what}");
    }
    let inactive = meet::store::users::create(
        &app.state.db,
        meet::store::users::NewUser {
            email: Some("off@example.com".into()),
            is_active: Some(false),
            ..Default::default()
        },
        "en-us",
    )
    .await
    .unwrap();
    let r = bearer(&app, Method::GET, ROOMS, &jwt(&claims(&a, inactive.id, "rooms:list"), KEY), None).await;
    assert_eq!(r.json(), json!({"detail": "User account is disabled."}));
    applications::set_active(&app.state.db, a.id, false).await.unwrap();
    let r = bearer(&app, Method::GET, ROOMS, &jwt(&claims(&a, user.id, "rooms:list"), KEY), None).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "Application is disabled."})));
}

#[tokio::test]
async fn nx_auth_4_nx_auth_6_nx_jwt_4_foreign_tokens_defer_and_end_anonymous() {
    let app = spawn(&[]).await;
    let a = application(&app, &["rooms:list"], &[]).await;
    let user = app.create_user("jane@example.com").await;
    let c = claims(&a, user.id, "rooms:list");
    let other_key = jwt(&c, "another-key");
    let r = bearer(&app, Method::GET, ROOMS, &other_key, None).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (401, json!({"detail": "Authentication credentials were not provided."}))
    );
    let r = bearer(&app, Method::GET, ROOMS, "not-a-jwt", None).await;
    assert_eq!(r.status, 401);

    let disabled = spawn(&[("APPLICATION_ENABLED", "false")]).await;
    let a = application(&disabled, &["rooms:list"], &[]).await;
    let user = disabled.create_user("jane@example.com").await;
    let r = bearer(&disabled, Method::GET, ROOMS, &jwt(&claims(&a, user.id, "rooms:list"), KEY), None).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (401, json!({"detail": "Authentication credentials were not provided."}))
    );
}

#[tokio::test]
async fn nx_scope_1_nx_scope_2_nx_scope_3_nx_scope_5_scopes_gate_every_action() {
    let app = spawn(&[]).await;
    let a = application(&app, &["rooms:list", "rooms:create", "rooms:retrieve"], &[]).await;
    let user = app.create_user("jane@example.com").await;
    let token = |scope: &str| jwt(&claims(&a, user.id, scope), KEY);
    let unknown = format!("{ROOMS}{}/", Uuid::new_v4());
    let r = bearer(&app, Method::GET, ROOMS, &token("rooms:create"), None).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (403, json!({"detail": "Insufficient permissions. Required scope: rooms:list"}))
    );
    let r = bearer(&app, Method::GET, &unknown, &token("rooms:list"), None).await;
    assert_eq!(
        r.json(),
        json!({"detail": "Insufficient permissions. Required scope: rooms:retrieve"}),
        "before the lookup"
    );
    let r = bearer(&app, Method::POST, ROOMS, &token("rooms:list"), Some(&json!({}))).await;
    assert_eq!(r.json(), json!({"detail": "Insufficient permissions. Required scope: rooms:create"}));
    let r = bearer(&app, Method::GET, ROOMS, &token(""), None).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": "Insufficient permissions."})));
    assert_eq!(bearer(&app, Method::GET, ROOMS, &token("Rooms:List"), None).await.status, 200);
    assert_eq!(bearer(&app, Method::GET, &unknown, &token("rooms:retrieve"), None).await.status, 404);

    let prefixed = spawn(&[("OIDC_RS_SCOPES_PREFIX", "lasuite_meet")]).await;
    let a = application(&prefixed, &["rooms:list"], &[]).await;
    let user = prefixed.create_user("jane@example.com").await;
    let t = jwt(&claims(&a, user.id, "openid lasuite_meet:rooms:list"), KEY);
    assert_eq!(bearer(&prefixed, Method::GET, ROOMS, &t, None).await.status, 200, "NX-SCOPE-4");
}

#[tokio::test]
async fn nx_room_1_to_nx_room_7_list_and_retrieve() {
    let app = spawn(&[
        ("APPLICATION_BASE_URL", "http://your-application.com/"),
        ("ROOM_TELEPHONY_ENABLED", "true"),
        ("ROOM_TELEPHONY_PHONE_NUMBER", "+1-555-0100"),
        ("ROOM_TELEPHONY_DEFAULT_COUNTRY", "US"),
    ])
    .await;
    let a = application(&app, &["rooms:list", "rooms:retrieve", "rooms:create"], &[]).await;
    let (jane, jane_client) = app.logged_in("jane@example.com").await;
    let (_, bob_client) = app.logged_in("bob@example.com").await;
    let token = jwt(&claims(&a, jane.id, "rooms:list rooms:retrieve"), KEY);

    let r = bearer(&app, Method::GET, ROOMS, &token, None).await;
    assert_eq!(r.json(), json!({"count": 0, "next": null, "previous": null, "results": []}), "NX-ROOM-2");

    let mine = jane_client.post("/api/v1.0/rooms/", &json!({"name": "b jane"})).await.json();
    let bobs = bob_client.post("/api/v1.0/rooms/", &json!({"name": "a bob"})).await.json();
    let shared = bob_client.post("/api/v1.0/rooms/", &json!({"name": "a shared"})).await.json();
    let access = json!({"resource": shared["id"], "user": jane.id, "role": "member"});
    assert_eq!(bob_client.post("/api/v1.0/resource-accesses/", &access).await.status, 201);

    let r = bearer(&app, Method::GET, ROOMS, &token, None).await.json();
    let names: Vec<&str> = r["results"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a shared", "b jane"], "NX-ROOM-1: own rooms by name");
    let keys: Vec<&str> = r["results"][0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "name", "slug", "access_level", "configuration", "url", "telephony"], "NX-ROOM-3");

    let path = format!("{ROOMS}{}/", mine["id"].as_str().unwrap());
    let r = bearer(&app, Method::GET, &path, &token, None).await;
    assert_eq!(r.status, 200);
    let pin = meet::store::rooms::get(&app.state.db, mine["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .pin_code;
    assert_eq!(
        r.json(),
        json!({"id": mine["id"], "name": "b jane", "slug": "b-jane", "access_level": mine["access_level"],
               "configuration": {}, "url": "http://your-application.com/b-jane",
               "telephony": {"enabled": true, "phone_number": "+1-555-0100", "pin_code": pin, "default_country": "US"}}),
        "NX-ROOM-5"
    );
    let member = format!("{ROOMS}{}/", shared["id"].as_str().unwrap());
    assert_eq!(bearer(&app, Method::GET, &member, &token, None).await.status, 200, "NX-ROOM-6: a member");
    let other = format!("{ROOMS}{}/", bobs["id"].as_str().unwrap());
    let r = bearer(&app, Method::GET, &other, &token, None).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (403, json!({"detail": "You do not have permission to perform this action."}))
    );
    let r = bearer(&app, Method::GET, &format!("{ROOMS}{}/", Uuid::new_v4()), &token, None).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (404, json!({"detail": "No Room matches the given query."})),
        "NX-ROOM-7"
    );
    let r = bearer(&app, Method::GET, &format!("{ROOMS}b-jane/"), &token, None).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})), "slugs are not ids");

    let plain = spawn(&[]).await;
    let a = application(&plain, &["rooms:list"], &[]).await;
    let (jane, client) = plain.logged_in("jane@example.com").await;
    client.post("/api/v1.0/rooms/", &json!({"name": "room"})).await;
    let r = bearer(&plain, Method::GET, ROOMS, &jwt(&claims(&a, jane.id, "rooms:list"), KEY), None).await.json();
    let keys: Vec<&str> = r["results"][0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "name", "slug", "access_level", "configuration"], "NX-ROOM-4");
}

#[tokio::test]
async fn nx_room_8_to_nx_room_15_create() {
    let app = spawn(&[("APPLICATION_BASE_URL", "http://your-application.com")]).await;
    let a = application(&app, &["rooms:create", "rooms:list"], &[]).await;
    let (jane, jane_client) = app.logged_in("jane@example.com").await;
    let token = jwt(&claims(&a, jane.id, "rooms:create"), KEY);

    let r = bearer(&app, Method::POST, ROOMS, &token, Some(&json!({"name": "ignored", "slug": "x", "pin_code": "1"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let room = r.json();
    let slug = room["slug"].as_str().unwrap();
    assert_eq!(room["name"], slug, "NX-ROOM-8, NX-ROOM-10");
    assert!(regex::Regex::new("^[a-z]{3}-[a-z]{4}-[a-z]{3}$").unwrap().is_match(slug), "{slug}");
    assert_eq!((&room["configuration"], &room["access_level"]), (&json!({}), &json!("trusted")));
    assert_eq!(r.header("location"), Some(format!("http://your-application.com/{slug}").as_str()), "NX-ROOM-15");
    let internal = jane_client.get(&format!("/api/v1.0/rooms/{}/", room["id"].as_str().unwrap())).await.json();
    assert_eq!(internal["accesses"][0]["role"], "owner", "the caller owns the room");

    let body = json!({"access_level": "restricted", "configuration": {"can_publish_sources": ["camera"]}});
    let r = bearer(&app, Method::POST, ROOMS, &token, Some(&body)).await.json();
    assert_eq!(
        (&r["access_level"], &r["configuration"]),
        (&json!("restricted"), &json!({"can_publish_sources": ["camera"]})),
        "NX-ROOM-9"
    );

    let r =
        bearer(&app, Method::POST, ROOMS, &token, Some(&json!({"configuration": {"unsupported_flag": true}}))).await;
    assert_eq!(r.status, 400, "NX-ROOM-11");
    assert!(r.text.to_lowercase().contains("extra inputs are not permitted"), "{}", r.text);
    for bad in [json!({"can_publish_sources": ["invalid-source"]}), json!({"everyone_can_mute": "invalid-value"})] {
        let r = bearer(&app, Method::POST, ROOMS, &token, Some(&json!({"configuration": bad}))).await;
        assert_eq!(r.status, 400, "{bad}");
    }
    let r = bearer(&app, Method::POST, ROOMS, &token, Some(&json!({"access_level": "public"}))).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"access_level": ["Public rooms are disabled for the external API."]})),
        "NX-ROOM-12"
    );
    let r = bearer(&app, Method::POST, ROOMS, &token, Some(&json!({"access_level": "foo"}))).await;
    assert_eq!(r.json(), json!({"access_level": ["\"foo\" is not a valid choice."]}));

    for vars in [[("EXTERNAL_API_ALLOW_PUBLIC_ACCESS", "true")], [("EXTERNAL_API_DEFAULT_ACCESS_LEVEL", "public")]] {
        let other = spawn(&vars).await;
        let a = application(&other, &["rooms:create"], &[]).await;
        let u = other.create_user("jane@example.com").await;
        let t = jwt(&claims(&a, u.id, "rooms:create"), KEY);
        let r = bearer(&other, Method::POST, ROOMS, &t, Some(&json!({"access_level": "public"}))).await;
        assert_eq!(r.status, 201, "NX-ROOM-12 with {vars:?}");
        assert!(r.json().get("url").is_none(), "no base URL, no url");
        assert!(r.header("location").is_none());
        if vars[0].0 == "EXTERNAL_API_DEFAULT_ACCESS_LEVEL" {
            let r = bearer(&other, Method::POST, ROOMS, &t, None).await;
            assert_eq!(r.json()["access_level"], "public", "NX-ROOM-13");
        }
    }
}

/// A scripted client: an operator registers an application with the `meet` command, the
/// application gets a token for a user's e-mail, creates a room for them and lists it.
#[tokio::test]
async fn scripted_client_registers_gets_a_token_creates_and_lists() {
    let app = spawn(&[]).await;
    let user = app.create_user("jane@example.com").await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meet"))
        .args(["create-application", "--name", "Calendar", "--scope", "rooms:create", "--scope", "rooms:list"])
        .args(["--domain", " Example.COM "])
        .env_clear()
        .env("DATABASE_URL", &app.db.url)
        .env("MEET_DATA_DIR", app.data_dir.path())
        .env("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
        .env("RUST_LOG", "error")
        .output()
        .expect("meet runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let get = |k: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{k} in {stdout}"))
    };
    let (client_id, client_secret) = (get("CLIENT_ID"), get("CLIENT_SECRET"));
    assert_eq!((client_id.len(), client_secret.len()), (40, 128), "NX-APP-1");
    let stored = applications::get_by_client_id(&app.state.db, &client_id).await.unwrap().unwrap();
    assert!(stored.client_secret.starts_with("pbkdf2_sha256$1000000$"), "NX-APP-3: stored hashed");
    assert_eq!(applications::domains(&app.state.db, stored.id).await.unwrap(), ["example.com"], "NX-APP-4");

    let body = json!({"client_id": client_id, "client_secret": client_secret, "grant_type": "client_credentials",
                      "scope": "jane@example.com"});
    let r = post_token(&app, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json()["access_token"].as_str().unwrap().to_string();
    let created = bearer(&app, Method::POST, ROOMS, &token, Some(&json!({}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let listed = bearer(&app, Method::GET, ROOMS, &token, None).await.json();
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["id"], created.json()["id"]);
    assert_eq!(payload(&token)["user_id"], user.id.to_string());
}

const ADDONS_KEY: &str = "addons-token-key-for-tests";

fn addons_claims(user: Uuid, scope: &str) -> Value {
    json!({"iss": "lasuite-meet", "aud": "addons", "user_id": user.to_string(), "iat": now(), "exp": now() + 600,
           "scope": scope})
}

#[tokio::test]
async fn nx_auth_7_nx_room_14_addon_tokens_act_within_their_scopes() {
    let app =
        spawn(&[("ADDONS_ENABLED", "true"), ("ADDONS_TOKEN_SECRET_KEY", ADDONS_KEY), ("ADDONS_CSRF_SECRET", "csrf")])
            .await;
    let (jane, jane_client) = app.logged_in("jane@example.com").await;
    let default = jwt(&addons_claims(jane.id, "rooms:create"), ADDONS_KEY);
    let r = bearer(&app, Method::POST, ROOMS, &default, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let internal = jane_client.get(&format!("/api/v1.0/rooms/{id}/")).await.json();
    assert_eq!(internal["accesses"][0]["role"], "owner", "NX-ROOM-14");
    let r = bearer(&app, Method::GET, ROOMS, &default, None).await;
    assert_eq!(r.json(), json!({"detail": "Insufficient permissions. Required scope: rooms:list"}));

    let wide = jwt(&addons_claims(jane.id, "rooms:create rooms:list rooms:retrieve"), ADDONS_KEY);
    assert_eq!(bearer(&app, Method::GET, ROOMS, &wide, None).await.json()["count"], 1);
    assert_eq!(bearer(&app, Method::GET, &format!("{ROOMS}{id}/"), &wide, None).await.status, 200);
}

#[tokio::test]
async fn nx_auth_8_addon_token_failures_and_the_flag() {
    let app =
        spawn(&[("ADDONS_ENABLED", "true"), ("ADDONS_TOKEN_SECRET_KEY", ADDONS_KEY), ("ADDONS_CSRF_SECRET", "csrf")])
            .await;
    let user = app.create_user("jane@example.com").await;
    let with = |k: &str, v: Value| {
        let mut c = addons_claims(user.id, "rooms:list");
        c[k] = v;
        c
    };
    let mut no_user = addons_claims(user.id, "rooms:list");
    no_user.as_object_mut().unwrap().remove("user_id");
    let cases = [
        ("expired", with("exp", json!(now() - 1)), "Token expired."),
        ("no user_id", no_user, "Invalid token claims."),
        ("wrong audience", with("aud", json!("other")), "Invalid token."),
        ("unknown user", with("user_id", json!(Uuid::new_v4().to_string())), "User not found."),
    ];
    for (what, c, message) in cases {
        let r = bearer(&app, Method::GET, ROOMS, &jwt(&c, ADDONS_KEY), None).await;
        assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": message})), "{what}");
    }

    let off = spawn(&[("ADDONS_TOKEN_SECRET_KEY", ADDONS_KEY)]).await;
    let a = application(&off, &["rooms:list"], &[]).await;
    let user = off.create_user("jane@example.com").await;
    let r = bearer(&off, Method::GET, ROOMS, &jwt(&addons_claims(user.id, "rooms:list"), ADDONS_KEY), None).await;
    assert_eq!(r.json(), json!({"detail": "Authentication credentials were not provided."}), "disabled: deferred");
    let r = bearer(&off, Method::GET, ROOMS, &jwt(&claims(&a, user.id, "rooms:list"), KEY), None).await;
    assert_eq!(r.status, 200, "application tokens are unaffected");
}

#[tokio::test]
async fn processing_order_401_then_scope_then_405_on_the_rooms_endpoints() {
    let app = spawn(&[]).await;
    let a = application(&app, &["rooms:list"], &[]).await;
    let user = app.create_user("jane@example.com").await;
    let r = app.client().method("PUT", ROOMS).await;
    assert_eq!((r.status.as_u16(), r.header("www-authenticate")), (401, Some("Bearer")));
    let token = jwt(&claims(&a, user.id, "rooms:list"), KEY);
    let r = bearer(&app, Method::PUT, ROOMS, &token, None).await;
    assert_eq!((r.status.as_u16(), r.json()), (405, json!({"detail": "Method \"PUT\" not allowed."})));
    assert_eq!(r.header("allow"), Some("GET, POST, HEAD, OPTIONS"));
    let r = bearer(&app, Method::DELETE, &format!("{ROOMS}{}/", Uuid::new_v4()), &token, None).await;
    assert_eq!((r.status.as_u16(), r.header("allow")), (405, Some("GET, HEAD, OPTIONS")));
    let r = app.client().method("GET", TOKEN).await;
    assert_eq!((r.status.as_u16(), r.header("allow")), (405, Some("POST, OPTIONS")));
}

#[tokio::test]
async fn nx_tok_17_w5_w30_shared_and_overlong_emails_and_the_session_csrf_check() {
    let app = spawn(&[]).await;
    let a = application(&app, &[], &[]).await;
    app.create_user("twin@example.com").await;
    app.create_user("Twin@Example.com").await;
    let r = post_token(&app, &creds(&a, "twin@example.com")).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"error": "Multiple user accounts share a common email."})));
    let long = format!("{}@example.com", "a".repeat(250));
    let r = post_token(&app, &creds(&a, &long)).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"error": "Scope should be a valid email address."})));

    // Step 1: a logged-in session cookie makes Django's CSRF check apply.
    let (_, client) = app.logged_in("jane@example.com").await;
    let no_csrf = TestClient { csrf: None, ..client };
    let r = no_csrf.post(TOKEN, &creds(&a, "jane@example.com")).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.json()["detail"].as_str().unwrap().starts_with("CSRF Failed"));
}

#[tokio::test]
async fn nx_app_6_deleting_an_application_deletes_its_domains() {
    let app = spawn(&[]).await;
    let a = application(&app, &["rooms:list"], &["one.com", "two.com"]).await;
    assert_eq!(applications::domains(&app.state.db, a.id).await.unwrap(), ["one.com", "two.com"]);
    assert_eq!(applications::delete(&app.state.db, a.id).await.unwrap(), 1);
    assert!(applications::domains(&app.state.db, a.id).await.unwrap().is_empty());
    assert!(applications::get_by_client_id(&app.state.db, &a.client_id).await.unwrap().is_none());
}
