//! Identity-provider access tokens on the external rooms endpoints (now-external-api §7.4, NX-RS):
//! RFC 7662 introspection against the provider double, scope and audience-claim checks, user
//! resolution, and the fixes W13–W18, W53.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::oidc::{Idp, RS_CLIENT_ID, RS_CLIENT_SECRET};
use crate::support::{Resp, TestApp, TestClient};

const ROOMS: &str = "/external-api/v1.0/rooms/";

async fn spawn(idp: &Idp, extra: &[(&str, &str)]) -> TestApp {
    let mut vars: Vec<(String, String)> = idp.rs_vars();
    vars.push(("EXTERNAL_API_ENABLED".into(), "true".into()));
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestApp::spawn_with(&refs).await
}

/// An active token description as a provider would give it.
fn active(idp: &Idp, sub: &str, scope: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"active": true, "iss": idp.base, "sub": sub, "scope": scope, "client_id": "calendar-service",
           "exp": now + 600, "iat": now - 5, "aud": ["calendar-service"]})
}

async fn call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<&Value>) -> Resp {
    let mut rb = app.client().request(method, path).header("authorization", format!("Bearer {token}"));
    if let Some(b) = body {
        rb = rb.json(b);
    }
    TestClient::send(rb).await
}

fn assert_invalid(r: &Resp, what: &str) {
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"detail": "Invalid token."})), "{what}");
    assert_eq!(r.header("www-authenticate"), Some("Bearer error=\"invalid_token\""), "W14: {what}");
}

#[tokio::test]
async fn nx_rs_1_w14_an_inactive_token_is_a_json_400_on_every_action() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let unknown = idp.introspectable(json!({"active": false}));
    assert_invalid(&call(&app, Method::GET, ROOMS, &unknown, None).await, "list");
    let path = format!("{ROOMS}{}/", uuid::Uuid::new_v4());
    assert_invalid(&call(&app, Method::GET, &path, &unknown, None).await, "retrieve");
    assert_invalid(&call(&app, Method::POST, ROOMS, &unknown, Some(&json!({}))).await, "create");
    let form = idp.with(|s| s.introspection_calls.last().cloned()).expect("the provider was asked");
    assert_eq!(form.get("client_id").map(String::as_str), Some(RS_CLIENT_ID));
    assert_eq!(form.get("client_secret").map(String::as_str), Some(RS_CLIENT_SECRET));
    assert_eq!(form.get("token"), Some(&unknown));
}

#[tokio::test]
async fn nx_rs_2_nx_scope_4_w18_an_unknown_sub_becomes_a_user_and_lists_nothing() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("OIDC_RS_SCOPES_PREFIX", "lasuite_meet")]).await;
    let token = idp.introspectable(active(&idp, "rs-new-sub", "openid lasuite_meet lasuite_meet:rooms:list"));
    let r = call(&app, Method::GET, ROOMS, &token, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["count"], 0);
    let user = meet::store::users::get_by_sub(&app.state.db, "rs-new-sub").await.unwrap().expect("created");
    assert_eq!((user.email, user.full_name), (None, None), "only the sub");

    // W18: an e-mail in the answer is kept when nobody has it yet.
    let mut with_email = active(&idp, "rs-mail-sub", "lasuite_meet lasuite_meet:rooms:list");
    with_email["email"] = json!("rs.user@example.com");
    let r = call(&app, Method::GET, ROOMS, &idp.introspectable(with_email), None).await;
    assert_eq!(r.status, 200);
    let user = meet::store::users::get_by_sub(&app.state.db, "rs-mail-sub").await.unwrap().unwrap();
    assert_eq!(user.email.as_deref(), Some("rs.user@example.com"));
}

#[tokio::test]
async fn nx_rs_3_no_user_creation_gives_401() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("OIDC_CREATE_USER", "false")]).await;
    let token = idp.introspectable(active(&idp, "rs-unknown", "lasuite_meet rooms:list"));
    let r = call(&app, Method::GET, ROOMS, &token, None).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (401, json!({"detail": "Login failed: No user found for the given access token."}))
    );
    assert_eq!(r.header("www-authenticate"), Some("Bearer"), "NX-AUTH-9");
    assert_eq!(crate::auth::user_count(&app).await, 0);
}

#[tokio::test]
async fn nx_rs_4_nx_auth_4_a_known_sub_sees_its_rooms_only_with_applications_off() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("APPLICATION_ENABLED", "false")]).await;
    let (_, other) = app.logged_in("other@example.com").await;
    assert_eq!(other.post("/api/v1.0/rooms/", &json!({"name": "not mine"})).await.status, 201);
    let token = idp.introspectable(active(&idp, "rs-known", "lasuite_meet rooms:create rooms:list rooms:retrieve"));
    let created = call(&app, Method::POST, ROOMS, &token, Some(&json!({}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let listed = call(&app, Method::GET, ROOMS, &token, None).await.json();
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["id"], id.as_str());
    let r = call(&app, Method::GET, &format!("{ROOMS}{id}/"), &token, None).await;
    assert_eq!(r.status, 200);
    let owner = meet::store::users::get_by_sub(&app.state.db, "rs-known").await.unwrap().unwrap();
    let role = meet::store::accesses::role_of(&app.state.db, owner.id, id.parse().unwrap()).await.unwrap();
    assert_eq!(role.as_deref(), Some("owner"));
}

#[tokio::test]
async fn nx_rs_5_a_token_without_the_room_scope_is_403() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let token = idp.introspectable(active(&idp, "rs-scopeless", "openid lasuite_meet"));
    let r = call(&app, Method::GET, ROOMS, &token, None).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (403, json!({"detail": "Insufficient permissions. Required scope: rooms:list"}))
    );
}

#[tokio::test]
async fn nx_rs_6_w15_an_unconfigured_resource_server_is_skipped() {
    let app = TestApp::spawn_with(&[("EXTERNAL_API_ENABLED", "true")]).await;
    let r = call(&app, Method::GET, ROOMS, "some-opaque-token", None).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (401, json!({"detail": "Authentication credentials were not provided."})),
        "W15: no configuration leak"
    );
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn w14_every_failed_check_is_refused_and_outages_are_503() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let now = chrono::Utc::now().timestamp();
    let base = active(&idp, "rs-checks", "lasuite_meet rooms:list");
    let cases: Vec<(&str, Value)> = vec![
        ("active missing", json!({"sub": "x", "scope": "lasuite_meet rooms:list", "client_id": "c"})),
        ("other issuer", json!({"iss": "https://elsewhere.example"})),
        ("expired", json!({"exp": now - 10})),
        ("issued in the future", json!({"iat": now + 3600})),
        ("no scope", json!({"scope": null})),
        ("no base scope", json!({"scope": "rooms:list"})),
        ("empty audience claim", json!({"client_id": ""})),
    ];
    for (what, patch) in cases {
        let mut answer = if what == "active missing" { json!({}) } else { base.clone() };
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                answer.as_object_mut().unwrap().remove(k);
            } else {
                answer[k] = v.clone();
            }
        }
        assert_invalid(&call(&app, Method::GET, ROOMS, &idp.introspectable(answer), None).await, what);
    }
    assert_eq!(crate::auth::user_count(&app).await, 0, "no user for refused tokens");

    idp.with(|s| s.introspection_failure = Some(401));
    assert_invalid(&call(&app, Method::GET, ROOMS, "rs-any", None).await, "the provider refuses our client");
    idp.with(|s| s.introspection_failure = Some(502));
    let r = call(&app, Method::GET, ROOMS, "rs-any", None).await;
    assert_eq!(r.status, 503, "{}", r.text);
}

#[tokio::test]
async fn w13_empty_sub_and_inactive_users_are_401() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let r =
        call(&app, Method::GET, ROOMS, &idp.introspectable(active(&idp, "", "lasuite_meet rooms:list")), None).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "Login failed"})));
    let user = meet::store::users::create(
        &app.state.db,
        meet::store::users::NewUser { sub: Some("rs-inactive".into()), is_active: Some(false), ..Default::default() },
        "en-us",
    )
    .await
    .unwrap();
    let token = idp.introspectable(active(&idp, "rs-inactive", "lasuite_meet rooms:list"));
    let r = call(&app, Method::GET, ROOMS, &token, None).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "User account is disabled."})), "{user:?}");
}

#[tokio::test]
async fn w16_w53_w17_positive_answers_are_cached_base64_tokens_decoded_audience_opt_in() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let token = idp.introspectable(active(&idp, "rs-cached", "lasuite_meet rooms:list"));
    for _ in 0..3 {
        assert_eq!(call(&app, Method::GET, ROOMS, &token, None).await.status, 200);
    }
    assert_eq!(idp.with(|s| s.introspection_calls.len()), 1, "W16: one introspection for three requests");

    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&token);
    let other = spawn(&idp, &[]).await;
    assert_eq!(call(&other, Method::GET, ROOMS, &encoded, None).await.status, 200, "W53");
    let sent = idp.with(|s| s.introspection_calls.last().cloned()).unwrap();
    assert_eq!(sent.get("token"), Some(&token), "W53: the decoded token is introspected");

    let strict = spawn(&idp, &[("MEET_OIDC_RS_REQUIRED_AUDIENCE", "meet")]).await;
    assert_invalid(&call(&strict, Method::GET, ROOMS, &token, None).await, "W17: another client's token");
    let mut for_meet = active(&idp, "rs-aud", "lasuite_meet rooms:list");
    for_meet["aud"] = json!("meet");
    assert_eq!(call(&strict, Method::GET, ROOMS, &idp.introspectable(for_meet), None).await.status, 200);
}
