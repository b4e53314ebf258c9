//! OIDC and internal-API authentication at upstream HEAD (now-external-api §13, §14): session-only
//! `/api/v1.0/*` with `WWW-Authenticate: Session` (NU-API), the renamed e-mail fallback variable.

use reqwest::Method;
use serde_json::json;

use crate::auth::{location, login, me, query_pairs, session, spawn};
use crate::support::oidc::Idp;
use crate::support::TestClient;

fn assert_session_401(r: &crate::support::Resp, what: &str) {
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (401, json!({"detail": "Authentication credentials were not provided."})),
        "{what}"
    );
    assert_eq!(r.header("www-authenticate"), Some("Session"), "{what}");
}

#[tokio::test]
async fn nu_api_1_nu_api_2_nu_api_3_bearer_tokens_are_ignored_on_the_internal_api() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    assert_session_401(&me(&c).await, "NU-API-1: no session");

    let token = idp.access_token_for(json!({"sub": "api-user", "email": "api@example.com"}));
    let r = TestClient::send(c.request(Method::GET, "/api/v1.0/users/me/").bearer_auth(&token)).await;
    assert_session_401(&r, "NU-API-2: a valid access token alone");
    assert_eq!(idp.with(|s| s.userinfo_calls), 0, "NU-API-2: the provider is not called");
    assert_eq!(crate::auth::user_count(&app).await, 0, "no user created");

    for header in ["Bearer", "Bearer a b"] {
        let rb = c.request(Method::GET, "/api/v1.0/users/me/").header("Authorization", header);
        assert_session_401(&TestClient::send(rb).await, &format!("NU-API-3: {header:?}"));
    }
    // An unsafe method with a bearer token and no session: anonymous, so the view answers 401.
    let r =
        TestClient::send(c.request(Method::POST, "/api/v1.0/rooms/").bearer_auth(&token).json(&json!({"name": "x"})))
            .await;
    assert_session_401(&r, "POST with a bearer token only");
}

#[tokio::test]
async fn nu_api_a_session_with_a_bearer_header_is_the_session_user() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let (user, c) = app.logged_in("session@example.com").await;
    let token = idp.access_token_for(json!({"sub": "someone-else", "email": "else@example.com"}));
    let r = TestClient::send(c.request(Method::GET, "/api/v1.0/users/me/").bearer_auth(&token)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], user.id.to_string());
    assert_eq!(idp.with(|s| s.userinfo_calls), 0);
}

#[tokio::test]
async fn b7_head_name_of_the_email_fallback_is_read_and_wins_over_the_old_one() {
    let idp = Idp::start().await;
    let vars = [
        ("OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", "false"),
        ("DJANGO_OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", "true"),
        ("OIDC_CREATE_USER", "false"),
    ];
    let app = spawn(&idp, &vars).await;
    app.create_user("fallback@example.com").await;
    idp.set_user(json!({"sub": "fresh-sub", "email": "fallback@example.com"}));
    let c = app.client();
    assert_eq!(location(&login(&c, "").await), "/failure", "HEAD's name says no fallback");
}

#[tokio::test]
async fn no_oidc_1_no_oidc_2_silent_is_case_insensitive_and_login_hint_is_forwarded() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    let r = c.get("/api/v1.0/authenticate/?silent=TRUE&login_hint=a%40b.fr").await;
    let pairs = query_pairs(&location(&r));
    assert!(pairs.contains(&("prompt".into(), "none".into())), "NO-OIDC-1: {pairs:?}");
    assert!(pairs.contains(&("login_hint".into(), "a@b.fr".into())), "NO-OIDC-2: {pairs:?}");
    assert_eq!(session(&app, &c).await["silent"], true);
    let r = app.client().get("/api/v1.0/authenticate/?login_hint=").await;
    assert!(!query_pairs(&location(&r)).iter().any(|(k, _)| k == "login_hint"), "empty hints are not forwarded");
}

#[tokio::test]
async fn no_oidc_3_a_failed_silent_login_needs_a_known_state() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    let r = c.get("/api/v1.0/authenticate/?silent=true&returnTo=/room").await;
    let state = query_pairs(&location(&r)).into_iter().find(|(k, _)| k == "state").unwrap().1;
    let r = c.get("/api/v1.0/callback/?error=login_required&state=forged").await;
    assert_eq!(r.status, 400, "unknown state");
    let r = c.get(&format!("/api/v1.0/callback/?error=login_required&state={state}")).await;
    assert_eq!(location(&r), "/room");
    let data = session(&app, &c).await;
    assert!(!data.contains_key("silent"));
    assert!(data["oidc_states"].as_object().unwrap().contains_key(&state), "the state entry is kept");
}

#[tokio::test]
async fn no_oidc_4_no_oidc_6_json_userinfo_logs_in_a_user_without_usable_password() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    idp.with(|s| s.userinfo_format = crate::support::oidc::UserinfoFormat::Json);
    idp.set_user(json!({"sub": "json-user", "email": "json@example.com"}));
    let c = app.client();
    assert_eq!(location(&login(&c, "").await), "/home");
    assert_eq!(me(&c).await.json()["email"], "json@example.com");
    let u = crate::auth::user_by_sub(&app, "json-user").await.unwrap();
    assert!(u.password.starts_with('!') && u.password.len() == 41, "NO-OIDC-6");
}

#[tokio::test]
async fn no_oidc_8_logout_callback_without_state_keeps_the_user_logged_in() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    login(&c, "").await;
    let r = c.get("/api/v1.0/logout-callback/").await;
    assert_eq!(location(&r), "/bye");
    assert_eq!(me(&c).await.status, 200);
}

const BACKCHANNEL: &str = "/api/v1.0/backchannel-logout/";

fn logout_token(idp: &Idp, claims: serde_json::Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({"iss": idp.base, "aud": crate::support::oidc::CLIENT_ID, "iat": now, "exp": now + 120,
        "jti": uuid::Uuid::new_v4().to_string(),
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}}});
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    idp.sign(&c)
}

async fn backchannel(app: &crate::support::TestApp, token: Option<&str>) -> crate::support::Resp {
    let mut rb = app.client().request(Method::POST, BACKCHANNEL);
    if let Some(t) = token {
        rb = rb.form(&[("logout_token", t)]);
    }
    TestClient::send(rb).await
}

fn assert_refused(r: &crate::support::Resp, description: &str) {
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"error": "invalid_request", "error_description": description})),
        "{description}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn no_oidc_9_backchannel_logout_needs_a_valid_token() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("OIDC_OP_URL", idp.base.as_str())]).await;
    assert_refused(&backchannel(&app, None).await, "Missing logout_token parameter");
    let r = app.client().get(BACKCHANNEL).await;
    assert_eq!((r.status.as_u16(), r.text.as_str(), r.header("allow")), (405, "", Some("POST")));
    let cases = [
        ("wrong audience", json!({"aud": "someone-else"})),
        ("wrong issuer", json!({"iss": "https://other.example"})),
        ("expired", json!({"exp": chrono::Utc::now().timestamp() - 600})),
        ("no events", json!({"events": null})),
        ("a nonce", json!({"nonce": "n", "sub": "x"})),
        ("no jti", json!({"jti": null, "sub": "x"})),
    ];
    for (what, patch) in cases {
        let mut patch = patch;
        patch["sub"] = json!("someone");
        let r = backchannel(&app, Some(&logout_token(&idp, patch))).await;
        assert_eq!(r.status, 400, "{what}");
        assert_refused(&r, "Invalid logout token");
    }
    let mut tampered = logout_token(&idp, json!({"sub": "someone"}));
    tampered.truncate(tampered.len() - 4);
    tampered.push_str("AAAA");
    assert_refused(&backchannel(&app, Some(&tampered)).await, "Invalid logout token");
    assert_refused(
        &backchannel(&app, Some(&logout_token(&idp, json!({})))).await,
        "Token must contain either sub or sid claim",
    );
    let r = backchannel(&app, Some(&logout_token(&idp, json!({"sub": "nobody-known"})))).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (204, ""), "an unknown sub counts as success");
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn no_oidc_10_w46_w47_backchannel_logout_ends_the_sessions_on_any_store() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("OIDC_OP_URL", idp.base.as_str())]).await;
    let (bystander, other) = app.logged_in("bystander@example.com").await;
    // Two browsers of the same person, each with its provider session id (W47: from the ID token).
    let (a, b) = (app.client(), app.client());
    idp.with(|s| s.id_token_overrides.insert("sid".into(), json!("sess-a")));
    login(&a, "").await;
    idp.with(|s| s.id_token_overrides.insert("sid".into(), json!("sess-b")));
    login(&b, "").await;
    idp.with(|s| s.id_token_overrides.clear());
    let c = app.client();
    login(&c, "").await;
    for client in [&a, &b, &c] {
        assert_eq!(me(client).await.status, 200);
    }

    let r = backchannel(&app, Some(&logout_token(&idp, json!({"sid": "sess-a"})))).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(me(&a).await.status, 401, "the sid's session ended");
    assert_eq!(me(&b).await.status, 200);

    let token = logout_token(&idp, json!({"sub": "user-1", "sid": "sess-b"}));
    assert_eq!(backchannel(&app, Some(&token)).await.status, 204);
    assert_eq!(me(&b).await.status, 401, "the sid's session");
    assert_eq!(me(&c).await.status, 401, "and the session that recorded no sid");
    assert_eq!(me(&other).await.json()["id"], bystander.id.to_string(), "other people stay logged in");
    assert_refused(&backchannel(&app, Some(&token)).await, "Token already processed");
}

#[tokio::test]
async fn no_oidc_5_no_oidc_7_logins_need_a_sub_and_sync_one_user_by_primary_key() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    for claims in [json!({"email": "nosub@example.com"}), json!({"sub": "", "email": "empty@example.com"})] {
        idp.set_user(claims.clone());
        let c = app.client();
        assert_eq!(location(&login(&c, "").await), "/failure", "NO-OIDC-5: {claims}");
    }
    assert_eq!(crate::auth::user_count(&app).await, 0);

    idp.set_user(json!({"sub": "sync-me", "email": "sync@example.com", "given_name": "Old"}));
    login(&app.client(), "").await;
    let other = app.create_user("other@example.com").await;
    idp.set_user(json!({"sub": "sync-me", "email": "sync@example.com", "given_name": "New"}));
    login(&app.client(), "").await;
    let synced = crate::auth::user_by_sub(&app, "sync-me").await.unwrap();
    assert_eq!(synced.full_name.as_deref(), Some("New"), "NO-OIDC-7");
    let untouched = meet::store::users::get(&app.state.db, other.id).await.unwrap().unwrap();
    assert_eq!(untouched, other, "NO-OIDC-7: only that user is written");
}
