//! Bearer tokens on the API (users-auth-rooms §4.9, AA statements) against the provider double's
//! userinfo endpoint: exact 401 bodies, user creation, no CSRF and no session, caching, timeouts
//! and the setting that keeps them (`MEET_OIDC_BEARER_ENABLED`, off by default since upstream HEAD
//! accepts sessions only, now-external-api §14).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::oidc::{Idp, UserinfoFormat};
use crate::support::{Resp, TestApp, TestClient};

/// An app with bearer tokens enabled on the internal API (the reference's behaviour).
async fn spawn(idp: &Idp, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("MEET_OIDC_BEARER_ENABLED", "true")];
    vars.extend_from_slice(extra);
    crate::auth::spawn(idp, &vars).await
}

async fn get_me(app: &TestApp, token: &str) -> Resp {
    let c = app.client();
    TestClient::send(c.request(Method::GET, "/api/v1.0/users/me/").bearer_auth(token)).await
}

fn assert_401(r: &Resp, detail: &str) {
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.json(), json!({ "detail": detail }));
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"api\""), "AA-14");
}

#[tokio::test]
async fn aa_1_aa_2_aa_14_malformed_bearer_headers() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    let r = TestClient::send(c.request(Method::GET, "/api/v1.0/users/me/").header("Authorization", "Bearer")).await;
    assert_401(&r, "Invalid \"bearer\" header: No credentials provided.");
    let r = TestClient::send(c.request(Method::GET, "/api/v1.0/users/me/").header("Authorization", "Bearer a b")).await;
    assert_401(&r, "Invalid \"bearer\" header: Credentials string should not contain spaces.");
}

#[tokio::test]
async fn aa_3_other_schemes_are_ignored() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    let r = TestClient::send(c.request(Method::GET, "/api/v1.0/users/me/").header("Authorization", "Basic abc")).await;
    assert_401(&r, "Authentication credentials were not provided.");
    assert_eq!(idp.with(|s| s.userinfo_calls), 0);
}

#[tokio::test]
async fn aa_4_a_valid_token_authenticates_creates_the_user_and_needs_no_csrf() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let token = idp.access_token_for(json!({"sub": "api-user", "email": "api@example.com", "given_name": "Api"}));
    let r = get_me(&app, &token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["email"], "api@example.com");
    assert!(r.header("set-cookie").is_none(), "no session for bearer callers");
    let id = r.json()["id"].as_str().unwrap().to_string();
    // An unsafe method without any CSRF token or cookie.
    let c = app.client();
    let r = TestClient::send(
        c.request(Method::PATCH, &format!("/api/v1.0/users/{id}/")).bearer_auth(&token).json(&json!({})),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = TestClient::send(
        c.request(Method::POST, "/api/v1.0/rooms/").bearer_auth(&token).json(&json!({"name": "api room"})),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert!(r.header("set-cookie").is_none());
}

#[tokio::test]
async fn aa_5_provider_401_with_www_authenticate_is_relayed() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    idp.with(|s| {
        s.userinfo_failure =
            Some((401, Some("Bearer error=\"invalid_token\", error_description=\"Token expired\"".into())))
    });
    assert_401(&get_me(&app, "tok").await, "Token expired");
    idp.with(|s| s.userinfo_failure = Some((401, Some("Bearer error=\"invalid_token\"".into()))));
    assert_401(&get_me(&app, "tok2").await, "no error description in www-authenticate");
}

#[tokio::test]
async fn aa_6_provider_500_is_a_500() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    idp.with(|s| s.userinfo_failure = Some((500, None)));
    let r = get_me(&app, "tok").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json(), json!({"detail": "A server error occurred."}));
}

#[tokio::test]
async fn aa_7_refusals_are_login_failed() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let no_sub = idp.access_token_for(json!({"email": "a@b.fr"}));
    assert_401(&get_me(&app, &no_sub).await, "Login failed");
    meet::store::users::create(
        &app.state.db,
        meet::store::users::NewUser { sub: Some("off".into()), is_active: Some(false), ..Default::default() },
        "en-us",
    )
    .await
    .unwrap();
    let inactive = idp.access_token_for(json!({"sub": "off"}));
    assert_401(&get_me(&app, &inactive).await, "Login failed");
}

#[tokio::test]
async fn aa_7_b6_a_nonce_in_userinfo_is_ignored_and_aa_9_json_userinfo_is_accepted() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    idp.with(|s| s.userinfo_extra.insert("nonce".into(), json!("n")));
    let t = idp.access_token_for(json!({"sub": "a"}));
    assert_eq!(get_me(&app, &t).await.status, 200);
    idp.with(|s| s.userinfo_format = UserinfoFormat::Json);
    let t = idp.access_token_for(json!({"sub": "b"}));
    assert_eq!(get_me(&app, &t).await.status, 200);
}

#[tokio::test]
async fn aa_8_unknown_sub_with_creation_disabled() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("OIDC_CREATE_USER", "false")]).await;
    let t = idp.access_token_for(json!({"sub": "nobody"}));
    assert_401(&get_me(&app, &t).await, "Login failed: No user found for the given access token.");
}

#[tokio::test]
async fn o_23_b5_an_invalid_sub_is_a_400_on_the_bearer_path() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let t = idp.access_token_for(json!({"sub": "auth0|123"}));
    let r = get_me(&app, &t).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"sub": ["Enter a valid sub. This value may contain only letters, numbers, and @/./+/-/_ characters."]})
    );
}

#[tokio::test]
async fn bad_userinfo_signatures_are_login_failed() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    idp.with(|s| s.signing_kid = "k2".into());
    let t = idp.access_token_for(json!({"sub": "a"}));
    assert_401(&get_me(&app, &t).await, "Login failed");
}

#[tokio::test]
async fn s3_userinfo_answers_are_cached_for_the_configured_time() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let t = idp.access_token_for(json!({"sub": "a", "email": "a@b.fr"}));
    for _ in 0..3 {
        assert_eq!(get_me(&app, &t).await.status, 200);
    }
    assert_eq!(idp.with(|s| s.userinfo_calls), 1);
    assert_eq!(idp.with(|s| s.jwks_fetches), 1);
    let app = spawn(&idp, &[("MEET_OIDC_USERINFO_CACHE_SECONDS", "0")]).await;
    for _ in 0..2 {
        assert_eq!(get_me(&app, &t).await.status, 200);
    }
    assert_eq!(idp.with(|s| s.userinfo_calls), 3);
    // The cache never holds the token itself.
    let raw: Value = json!(t);
    assert!(app.state.cache.get(raw.as_str().unwrap()).await.unwrap().is_none());
}

#[tokio::test]
async fn s3_a_slow_provider_costs_at_most_the_timeout() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    idp.with(|s| s.delay = Duration::from_secs(4));
    let t0 = Instant::now();
    let r = get_me(&app, "tok").await;
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!(r.status, 503);
}

#[tokio::test]
async fn s3_bearer_authentication_can_be_turned_off() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("MEET_OIDC_BEARER_ENABLED", "false")]).await;
    let t = idp.access_token_for(json!({"sub": "a"}));
    let r = get_me(&app, &t).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (401, json!({"detail": "Authentication credentials were not provided."}))
    );
    assert_eq!(r.header("www-authenticate"), Some("Session"), "NU-API-1: session only");
    assert_eq!(idp.with(|s| s.userinfo_calls), 0);
}
