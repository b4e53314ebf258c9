//! OIDC and internal-API authentication at upstream HEAD (now-external-api §13, §14): session-only
//! `/api/v1.0/*` with `WWW-Authenticate: Session` (NU-API), the renamed e-mail fallback variable.

use reqwest::Method;
use serde_json::json;

use crate::auth::{location, login, me, spawn};
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
