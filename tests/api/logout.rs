//! Logout and the non-DRF rules of the OIDC views, through the browser flow against the provider
//! double: users-auth-rooms §4.7, §4.8 (O-24..O-31 with errata O-31), S5, and the trailing-slash
//! redirects the frontend relies on (§2.1).

use reqwest::Method;
use serde_json::json;

use crate::auth::{cookie, location, login, me, query_pairs, session, set_cookies, spawn};
use crate::support::oidc::Idp;
use crate::support::TestClient;

#[tokio::test]
async fn o_24_anonymous_logout_redirects_to_logout_redirect_url() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let r = app.client().get("/api/v1.0/logout/").await;
    assert_eq!((r.status.as_u16(), location(&r)), (302, "/bye".to_string()));
}

#[tokio::test]
async fn o_25_s5_logout_at_the_provider_ends_the_local_session_first() {
    let idp = Idp::start().await;
    let end_session = format!("{}/logout", idp.base);
    let app = spawn(&idp, &[("OIDC_OP_LOGOUT_ENDPOINT", &end_session)]).await;
    let c = app.client();
    login(&c, "").await;
    let old_key = cookie(&app, &c, "sessionid").unwrap();
    let id_token = session(&app, &c).await["oidc_id_token"].as_str().unwrap().to_string();
    let r = c.get("/api/v1.0/logout/").await;
    let loc = location(&r);
    assert!(loc.starts_with(&format!("{end_session}?id_token_hint=")), "{loc}");
    let pairs = query_pairs(&loc);
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["id_token_hint", "state", "post_logout_redirect_uri"]);
    assert_eq!(pairs[0].1, id_token);
    assert_eq!(pairs[2].1, format!("{}/api/v1.0/logout-callback/", app.base));
    // S5: logged out already, and the old session is gone server-side.
    assert_eq!(me(&c).await.status, 401);
    assert!(app.state.sessions.load(&old_key).await.unwrap().is_none());
    let r = c.get(&format!("/api/v1.0/logout-callback/?state={}", pairs[1].1)).await;
    assert_eq!(location(&r), "/bye");
}

#[tokio::test]
async fn o_26_logout_without_provider_endpoint_is_local() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    login(&c, "").await;
    let key = cookie(&app, &c, "sessionid").unwrap();
    let r = c.get("/api/v1.0/logout/").await;
    assert_eq!(location(&r), "/bye");
    assert!(set_cookies(&r).iter().any(|c| c.starts_with("sessionid=\"\"") && c.contains("Max-Age=0")));
    assert!(app.state.sessions.load(&key).await.unwrap().is_none());
    assert_eq!(me(&c).await.status, 401);
    // The old cookie replayed is worthless.
    let replay = app.client();
    let url: reqwest::Url = app.base.parse().unwrap();
    replay.jar.add_cookie_str(&format!("sessionid={key}; Path=/"), &url);
    assert_eq!(me(&replay).await.status, 401);
}

#[tokio::test]
async fn o_27_o_28_o_29_logout_callback() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let r = app.client().get("/api/v1.0/logout-callback/?state=x").await;
    assert_eq!(location(&r), "/bye");
    let c = app.client();
    login(&c, "").await;
    let r = c.get("/api/v1.0/logout-callback/?state=unknown").await;
    assert_eq!(r.status, 400);
    // Upstream HEAD (NO-OIDC-8): without state, a redirect that leaves the user logged in.
    let r = c.get("/api/v1.0/logout-callback/").await;
    assert_eq!(location(&r), "/bye");
    assert_eq!(me(&c).await.status, 200);
    // A logged-in session holding a logout state (what the reference keeps during IdP logout).
    let key = cookie(&app, &c, "sessionid").unwrap();
    let mut data = app.state.sessions.load(&key).await.unwrap().unwrap();
    data.insert("oidc_states".into(), json!({"known": {}}));
    app.state.sessions.save(&key, &data).await.unwrap();
    let r = c.get("/api/v1.0/logout-callback/?state=known").await;
    assert_eq!(location(&r), "/bye");
    assert_eq!(me(&c).await.status, 401);
}

#[tokio::test]
async fn o_30_logout_get_can_be_disabled_and_post_needs_csrf() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("ALLOW_LOGOUT_GET_METHOD", "false")]).await;
    let c = app.client();
    login(&c, "").await;
    let r = c.get("/api/v1.0/logout/").await;
    assert_eq!((r.status.as_u16(), r.header("allow"), r.text.as_str()), (405, Some("POST"), ""));
    let r = TestClient::send(c.request(Method::POST, "/api/v1.0/logout/")).await;
    assert_eq!(r.status, 403, "no CSRF token");
    assert!(r.text.contains("CSRF verification failed"));
    let csrf = cookie(&app, &c, "csrftoken").unwrap();
    let r = TestClient::send(c.request(Method::POST, "/api/v1.0/logout/").header("X-CSRFToken", &csrf)).await;
    assert_eq!(location(&r), "/bye");
    assert_eq!(me(&c).await.status, 401);
}

#[tokio::test]
async fn o_30_logout_post_accepts_the_form_field_token() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    login(&c, "").await;
    let csrf = cookie(&app, &c, "csrftoken").unwrap();
    let r = TestClient::send(
        c.request(Method::POST, "/api/v1.0/logout/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrfmiddlewaretoken={}", meet::domain::csrf::mask(&csrf))),
    )
    .await;
    assert_eq!(location(&r), "/bye");
}

#[tokio::test]
async fn o_31_post_on_oidc_views_is_csrf_checked_before_the_405() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let anon = app.client();
    for path in ["/api/v1.0/authenticate/", "/api/v1.0/callback/", "/api/v1.0/logout-callback/"] {
        let r = TestClient::send(anon.request(Method::POST, path)).await;
        assert_eq!(r.status, 403, "{path} without CSRF");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
    let c = app.client();
    login(&c, "").await;
    let csrf = cookie(&app, &c, "csrftoken").unwrap();
    for path in ["/api/v1.0/authenticate/", "/api/v1.0/callback/", "/api/v1.0/logout-callback/"] {
        let r = TestClient::send(c.request(Method::POST, path).header("X-CSRFToken", &csrf)).await;
        assert_eq!((r.status.as_u16(), r.header("allow"), r.text.as_str()), (405, Some("GET"), ""), "{path}");
    }
    assert_eq!(c.method("HEAD", "/api/v1.0/authenticate/").await.status, 302);
}

#[tokio::test]
async fn trailing_slash_redirects_reach_authenticate_and_logout() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    let r = c.get("/api/v1.0/authenticate?silent=true&returnTo=%2Fx").await;
    assert_eq!((r.status.as_u16(), location(&r)), (301, "/api/v1.0/authenticate/?silent=true&returnTo=%2Fx".into()));
    let r = c.get("/api/v1.0/logout").await;
    assert_eq!((r.status.as_u16(), location(&r)), (301, "/api/v1.0/logout/".into()));
}
