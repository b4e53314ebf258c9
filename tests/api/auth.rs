//! OIDC login and logout driven through the browser flow (cookie jar, redirects followed by hand)
//! against the provider double: users-auth-rooms §4.2–§4.8 (O statements), §4.10 CSRF (AA-10..13),
//! §6.1 marketing sign-up (K), and the fixes S2, S5, S11, S12, B4, B5, B7, B22.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::brevo::Brevo;
use crate::support::oidc::{Idp, UserinfoFormat};
use crate::support::{Resp, TestApp, TestClient};

pub async fn spawn(idp: &Idp, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = idp.vars();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestApp::spawn_with(&refs).await
}

pub fn location(r: &Resp) -> String {
    r.header("location").unwrap_or_else(|| panic!("no Location in {r:?}")).to_string()
}

/// `/authenticate/` → provider → `/callback/`; returns the callback's answer.
pub async fn login(c: &TestClient, query: &str) -> Resp {
    let start = c.get(&format!("/api/v1.0/authenticate/{query}")).await;
    assert_eq!(start.status, 302, "authenticate: {start:?}");
    let at_idp = TestClient::send(c.http.get(location(&start))).await;
    assert_eq!(at_idp.status, 302, "provider: {at_idp:?}");
    TestClient::send(c.http.get(location(&at_idp))).await
}

pub fn cookie(app: &TestApp, c: &TestClient, name: &str) -> Option<String> {
    use reqwest::cookie::CookieStore;
    let url: reqwest::Url = app.base.parse().unwrap();
    let header = c.jar.cookies(&url)?;
    header.to_str().ok()?.split("; ").find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_string))
}

pub async fn session(app: &TestApp, c: &TestClient) -> serde_json::Map<String, Value> {
    let key = cookie(app, c, "sessionid").expect("a session cookie");
    app.state.sessions.load(&key).await.unwrap().unwrap_or_default()
}

pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

pub fn set_cookies(r: &Resp) -> Vec<String> {
    r.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

pub async fn me(c: &TestClient) -> Resp {
    c.get("/api/v1.0/users/me/").await
}

pub async fn user_count(app: &TestApp) -> u64 {
    meet::store::users::list(&app.state.db, None, 0, 0).await.unwrap().0
}

pub async fn user_by_sub(app: &TestApp, sub: &str) -> Option<meet::store::users::User> {
    meet::store::users::get_by_sub(&app.state.db, sub).await.unwrap()
}

#[tokio::test]
async fn o_1_authenticate_redirects_to_the_provider_with_parameters_in_order() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("OIDC_AUTH_REQUEST_EXTRA_PARAMS", "{'acr_values': 'eidas1'}")]).await;
    let r = app.client().get("/api/v1.0/authenticate/").await;
    assert_eq!(r.status, 302);
    let loc = location(&r);
    assert!(loc.starts_with(&format!("{}/authorize?response_type=code&scope=openid+email&client_id=meet&", idp.base)));
    let pairs = query_pairs(&loc);
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["response_type", "scope", "client_id", "redirect_uri", "state", "acr_values", "nonce"]);
    assert_eq!(pairs[3].1, format!("{}/api/v1.0/callback/", app.base));
    for (name, value) in [&pairs[4], &pairs[6]] {
        assert_eq!(value.len(), 32, "{name}");
        assert!(value.bytes().all(|b| b.is_ascii_alphanumeric()), "{name}");
    }
    assert_eq!(pairs[5].1, "eidas1");
}

#[tokio::test]
async fn o_2_silent_true_adds_prompt_none_and_the_session_flag() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("OIDC_AUTH_REQUEST_EXTRA_PARAMS", "{'foo': 123, 'prompt': 'login'}")]).await;
    let c = app.client();
    let r = c.get("/api/v1.0/authenticate/?silent=true").await;
    let pairs = query_pairs(&location(&r));
    assert!(pairs.contains(&("foo".into(), "123".into())));
    assert_eq!(pairs.iter().filter(|(k, _)| k == "prompt").collect::<Vec<_>>(), [&("prompt".into(), "none".into())]);
    assert_eq!(session(&app, &c).await["silent"], true);
    // `TRUE` is silent too since upstream HEAD (NO-OIDC-1, tests/api/oidc_head.rs).
    for other in ["foo", "1"] {
        let c = app.client();
        let r = c.get(&format!("/api/v1.0/authenticate/?silent={other}")).await;
        let pairs = query_pairs(&location(&r));
        assert!(pairs.contains(&("prompt".into(), "login".into())), "silent={other}");
        assert!(!session(&app, &c).await.contains_key("silent"), "silent={other}");
    }
}

#[tokio::test]
async fn o_3_return_to_is_stored_only_when_safe() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    c.get("/api/v1.0/authenticate/?returnTo=/room/abc").await;
    assert_eq!(session(&app, &c).await["oidc_login_next"], "/room/abc");
    c.get("/api/v1.0/authenticate/?returnTo=https://evil.com/x").await;
    assert_eq!(session(&app, &c).await["oidc_login_next"], Value::Null);
    let own = format!("{}/room/x", app.base);
    c.get(&format!("/api/v1.0/authenticate/?returnTo={own}")).await;
    assert_eq!(session(&app, &c).await["oidc_login_next"], own.as_str());
    assert_eq!(session(&app, &c).await["oidc_states"].as_object().unwrap().len(), 3);
}

#[tokio::test]
async fn o_4_valid_callback_logs_in_with_fresh_session_and_csrf_cookies() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    c.get("/api/v1.0/authenticate/?returnTo=/room/abc").await;
    let anonymous_key = cookie(&app, &c, "sessionid").unwrap();
    let r = login(&c, "?returnTo=/room/abc").await;
    assert_eq!((r.status.as_u16(), location(&r)), (302, "/room/abc".to_string()));
    let cookies = set_cookies(&r);
    let sid = cookies.iter().find(|c| c.starts_with("sessionid=")).expect("sessionid cookie");
    for part in ["HttpOnly", "Max-Age=43200", "SameSite=Lax", "Path=/"] {
        assert!(sid.contains(part), "{part} in {sid}");
    }
    let csrf = cookies.iter().find(|c| c.starts_with("csrftoken=")).expect("csrftoken cookie");
    assert!(csrf.contains("Max-Age=31449600") && csrf.contains("SameSite=Lax") && !csrf.contains("HttpOnly"));
    assert!(!sid.contains("Secure"));
    let key = cookie(&app, &c, "sessionid").unwrap();
    assert_ne!(key, anonymous_key, "the session key is rotated at login");
    assert!(app.state.sessions.load(&anonymous_key).await.unwrap().is_none());
    let data = session(&app, &c).await;
    assert!(data["oidc_id_token"].as_str().unwrap().split('.').count() == 3);
    let r = me(&c).await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(
        (&body["email"], &body["full_name"], &body["short_name"]),
        (&json!("john.doe@example.com"), &json!("John Doe"), &json!("John"))
    );
    let user = user_by_sub(&app, "user-1").await.unwrap();
    assert!(user.last_login.is_some());
    // Without returnTo the success URL is LOGIN_REDIRECT_URL.
    let r = login(&app.client(), "").await;
    assert_eq!(location(&r), "/home");
}

#[tokio::test]
async fn o_4_secure_cookies_when_configured() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("MEET_SECURE_COOKIES", "true")]).await;
    let r = login(&app.client(), "").await;
    assert!(set_cookies(&r).iter().all(|c| c.contains("; Secure")), "{:?}", set_cookies(&r));
}

#[tokio::test]
async fn o_5_o_7_provider_error_goes_to_the_failure_url_and_drops_the_state() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    let start = c.get("/api/v1.0/authenticate/").await;
    let st = query_pairs(&location(&start)).into_iter().find(|(k, _)| k == "state").unwrap().1;
    let r = c.get(&format!("/api/v1.0/callback/?error=access_denied&state={st}")).await;
    assert_eq!(location(&r), "/failure");
    assert!(!session(&app, &c).await["oidc_states"].as_object().unwrap().contains_key(&st));
}

#[tokio::test]
async fn o_6_silent_failure_returns_to_the_page_and_drops_the_flag() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    idp.with(|s| s.no_session = true);
    let c = app.client();
    let r = login(&c, "?silent=true&returnTo=/x").await;
    assert_eq!((r.status.as_u16(), location(&r)), (302, "/x".to_string()));
    assert!(!session(&app, &c).await.contains_key("silent"));
    assert_eq!(me(&c).await.status, 401);
}

#[tokio::test]
async fn o_6_silent_login_succeeds_when_the_provider_has_a_session() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    let r = login(&c, "?silent=true&returnTo=/x").await;
    assert_eq!(location(&r), "/x");
    assert_eq!(me(&c).await.status, 200);
    assert_eq!(idp.with(|s| s.last_authorize.get("prompt").cloned()), Some("none".into()));
}

#[tokio::test]
async fn s12_a_failed_interactive_login_after_a_silent_success_goes_to_the_failure_url() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    login(&c, "?silent=true&returnTo=/x").await;
    assert!(!session(&app, &c).await.contains_key("silent"), "cleared at login (S12)");
    c.get("/api/v1.0/authenticate/?returnTo=/y").await;
    let r = c.get("/api/v1.0/callback/?error=access_denied").await;
    assert_eq!(location(&r), "/failure");
}

#[tokio::test]
async fn o_8_o_10_callbacks_without_a_login_in_progress_go_to_the_failure_url() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    let r = c.get("/api/v1.0/callback/?code=abc&state=def").await;
    assert_eq!((r.status.as_u16(), location(&r)), (302, "/failure".to_string()));
    let r = c.get("/api/v1.0/callback/").await;
    assert_eq!((r.status.as_u16(), location(&r)), (302, "/failure".to_string()));
    assert_eq!(idp.with(|s| s.token_calls), 0);
}

#[tokio::test]
async fn o_9_callback_with_an_unknown_state_is_400_and_a_replay_logs_nobody_in() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    c.get("/api/v1.0/authenticate/").await;
    let r = c.get("/api/v1.0/callback/?code=abc&state=unknown").await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("Bad Request (400)"));
    // A replayed callback (state already consumed).
    let other = app.client();
    let start = other.get("/api/v1.0/authenticate/").await;
    let at_idp = TestClient::send(other.http.get(location(&start))).await;
    let callback = location(&at_idp);
    assert_eq!(TestClient::send(other.http.get(&callback)).await.status, 302);
    let attacker = app.client();
    let r = TestClient::send(attacker.http.get(&callback)).await;
    assert_eq!(location(&r), "/failure");
    assert_eq!(me(&attacker).await.status, 401);
}

async fn assert_refused(idp: &Idp, app: &TestApp, what: &str) {
    let c = app.client();
    let r = login(&c, "?returnTo=/room").await;
    assert_eq!((r.status.as_u16(), location(&r)), (302, "/failure".to_string()), "{what}");
    assert_eq!(me(&c).await.status, 401, "{what}");
    let _ = idp;
}

#[tokio::test]
async fn o_11_s2_id_tokens_with_a_wrong_audience_or_expired_are_refused() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let cases = [
        ("wrong audience", json!({"aud": "other"})),
        ("expired", json!({"exp": 1})),
        ("issued in the future", json!({"iat": chrono::Utc::now().timestamp() + 3600})),
        ("no exp", json!({"exp": null})),
        ("tampered nonce", json!({"nonce": "x".repeat(32)})),
    ];
    for (what, overrides) in cases {
        idp.with(|s| s.id_token_overrides = overrides.as_object().unwrap().clone());
        assert_refused(&idp, &app, what).await;
    }
    idp.with(|s| {
        s.id_token_overrides.clear();
        s.tamper_id_token_signature = true;
    });
    assert_refused(&idp, &app, "bad signature").await;
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn s2_the_issuer_is_checked_when_configured() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("MEET_OIDC_ISSUER", &idp.base)]).await;
    idp.with(|s| s.id_token_overrides = json!({"iss": "https://other"}).as_object().unwrap().clone());
    assert_refused(&idp, &app, "wrong issuer").await;
    idp.with(|s| s.id_token_overrides.clear());
    assert_eq!(login(&app.client(), "").await.header("location"), Some("/home"));
}

#[tokio::test]
async fn tampered_code_is_refused_at_the_token_endpoint() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    let start = c.get("/api/v1.0/authenticate/").await;
    let at_idp = TestClient::send(c.http.get(location(&start))).await;
    let tampered = location(&at_idp).replace("code=", "code=x");
    let r = TestClient::send(c.http.get(&tampered)).await;
    assert_eq!(location(&r), "/failure");
    assert_eq!(me(&c).await.status, 401);
}

#[tokio::test]
async fn provider_down_or_slow_costs_at_most_the_timeout() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    idp.with(|s| s.delay = Duration::from_secs(4));
    let t = Instant::now();
    assert_refused(&idp, &app, "slow provider").await;
    assert!(t.elapsed() < Duration::from_secs(3), "bounded by MEET_OIDC_TIMEOUT=1: {:?}", t.elapsed());
    // A token endpoint nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/token", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn(&idp, &[("OIDC_OP_TOKEN_ENDPOINT", &dead)]).await;
    idp.with(|s| s.delay = Duration::ZERO);
    assert_refused(&idp, &app, "provider down").await;
    idp.with(|s| s.token_failure = Some(500));
    let app = spawn(&idp, &[]).await;
    assert_refused(&idp, &app, "token endpoint 500").await;
}

#[tokio::test]
async fn o_12_userinfo_without_sub_refuses_and_creates_nobody() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    for claims in [json!({"email": "a@b.fr"}), json!({"sub": "", "email": "a@b.fr"})] {
        idp.set_user(claims.clone());
        idp.with(|s| s.id_token_overrides = json!({"sub": "id-sub"}).as_object().unwrap().clone());
        assert_refused(&idp, &app, &claims.to_string()).await;
    }
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn o_13_o_14_o_15_new_users_are_created_from_the_claims() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    idp.set_user(json!({"sub": "123"}));
    login(&app.client(), "").await;
    let u = user_by_sub(&app, "123").await.unwrap();
    assert_eq!((u.email, u.full_name), (None, None));
    assert!(u.password.starts_with('!') && u.password.len() == 41, "NO-OIDC-6: unusable password");
    assert_eq!(user_count(&app).await, 1);
    idp.set_user(json!({"sub": "456", "email": "meet@example.com"}));
    login(&app.client(), "").await;
    let u = user_by_sub(&app, "456").await.unwrap();
    assert_eq!((u.email.as_deref(), u.full_name, u.short_name), (Some("meet@example.com"), None, None));
    idp.set_user(json!({"sub": "789", "given_name": "John", "usual_name": "Doe", "email": null}));
    login(&app.client(), "").await;
    let u = user_by_sub(&app, "789").await.unwrap();
    assert_eq!((u.full_name.as_deref(), u.short_name.as_deref()), (Some("John Doe"), Some("John")));
}

#[tokio::test]
async fn o_16_full_name_fields_are_configurable() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("OIDC_USERINFO_FULLNAME_FIELDS", "given_name,middle_name,family_name")]).await;
    idp.set_user(json!({"sub": "s", "given_name": "John", "middle_name": "M", "family_name": "Doe"}));
    login(&app.client(), "").await;
    assert_eq!(user_by_sub(&app, "s").await.unwrap().full_name.as_deref(), Some("John M Doe"));
}

#[tokio::test]
async fn o_17_o_18_claims_are_synced_only_when_truthy_and_changed() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("ALLOW_UNSECURE_USER_LISTING", "true")]).await;
    login(&app.client(), "").await;
    let before = user_by_sub(&app, "user-1").await.unwrap();
    for claims in [
        json!({"sub": "user-1", "email": "john.doe@example.com"}),
        json!({"sub": "user-1", "email": ""}),
        json!({"sub": "user-1", "email": null}),
        json!({"sub": "user-1", "non_related_field": "foo"}),
        json!({"sub": "user-1"}),
    ] {
        idp.set_user(claims.clone());
        login(&app.client(), "").await;
        let after = user_by_sub(&app, "user-1").await.unwrap();
        assert_eq!(
            (&after.email, &after.full_name, &after.short_name, after.updated_at),
            (&before.email, &before.full_name, &before.short_name, before.updated_at),
            "{claims}"
        );
    }
    idp.set_user(json!({"sub": "user-1", "email": "JOHN@new.example", "given_name": "Jo", "usual_name": "D"}));
    login(&app.client(), "").await;
    let after = user_by_sub(&app, "user-1").await.unwrap();
    assert_eq!(
        (after.email.as_deref(), after.full_name.as_deref(), after.short_name.as_deref()),
        (Some("JOHN@new.example"), Some("Jo D"), Some("Jo"))
    );
    assert_eq!(user_count(&app).await, 1);
}

#[tokio::test]
async fn o_19_inactive_users_are_refused() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    meet::store::users::create(
        &app.state.db,
        meet::store::users::NewUser { sub: Some("user-1".into()), is_active: Some(false), ..Default::default() },
        "en-us",
    )
    .await
    .unwrap();
    assert_refused(&idp, &app, "inactive").await;
}

#[tokio::test]
async fn no_oidc_essential_claims_must_be_present_in_userinfo() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("OIDC_USERINFO_ESSENTIAL_CLAIMS", "email,given_name")]).await;
    idp.set_user(json!({"sub": "user-1", "email": "john.doe@example.com"}));
    assert_refused(&idp, &app, "given_name missing").await;
    assert_eq!(user_count(&app).await, 0, "no user created");
    // Present, even empty, is enough.
    idp.set_user(json!({"sub": "user-1", "email": "john.doe@example.com", "given_name": ""}));
    let c = app.client();
    login(&c, "").await;
    assert_eq!(me(&c).await.status, 200);
}

#[tokio::test]
async fn o_20_without_the_fallback_a_new_sub_creates_a_new_user() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let existing = app.create_user("john.doe@example.com").await;
    login(&app.client(), "").await;
    assert_ne!(user_by_sub(&app, "user-1").await.unwrap().id, existing.id);
    assert_eq!(user_count(&app).await, 2);
}

async fn null_sub_user(app: &TestApp, email: &str) -> meet::store::users::User {
    meet::store::users::create(
        &app.state.db,
        meet::store::users::NewUser { email: Some(email.into()), ..Default::default() },
        "en-us",
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn o_21_b7_s11_email_fallback_matches_case_insensitively_and_syncs_one_user() {
    for var in ["DJANGO_OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", "OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION"] {
        let idp = Idp::start().await;
        let app = spawn(&idp, &[(var, "true")]).await;
        let target = null_sub_user(&app, "foo@mail.com").await;
        let bystander = null_sub_user(&app, "admin@mail.com").await;
        idp.set_user(json!({"sub": "new-sub", "email": "FOO@MAIL.COM", "given_name": "Foo"}));
        let c = app.client();
        login(&c, "").await;
        assert_eq!(me(&c).await.json()["id"], target.id.to_string(), "{var}");
        let target = meet::store::users::get(&app.state.db, target.id).await.unwrap().unwrap();
        assert_eq!(target.sub.as_deref(), Some("new-sub"), "S11: the sub is stored");
        assert_eq!(target.email.as_deref(), Some("FOO@MAIL.COM"));
        let bystander_after = meet::store::users::get(&app.state.db, bystander.id).await.unwrap().unwrap();
        assert_eq!(bystander_after, bystander, "S11: other NULL-sub users are untouched");
        assert_eq!(user_count(&app).await, 2);
    }
}

#[tokio::test]
async fn o_21_o_22_fallback_edge_cases() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("DJANGO_OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", "true")]).await;
    let john = app.create_user("john.doe@example.com").await;
    for (i, email) in [" john.doe@example.com ", "john.doe@ｅxample.com", "john.doe@exаmple.com"].iter().enumerate() {
        idp.set_user(json!({"sub": format!("other-{i}"), "email": email}));
        let c = app.client();
        login(&c, "").await;
        let r = me(&c).await;
        assert!(r.status != 200 || r.json()["id"] != john.id.to_string(), "{email} must not match john");
    }
    // Two linked users (two without `sub` cannot share an e-mail: now-external-api §4.3).
    app.create_user("twin@mail.com").await;
    app.create_user("TWIN@mail.com").await;
    idp.set_user(json!({"sub": "twin", "email": "twin@mail.com"}));
    assert_refused(&idp, &app, "multiple users share the e-mail").await;
}

#[tokio::test]
async fn o_23_b5_invalid_claims_go_to_the_failure_url_not_500() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    idp.set_user(json!({"sub": "auth0|123", "email": "a@b.fr"}));
    assert_refused(&idp, &app, "sub with |").await;
    idp.set_user(json!({"sub": "ok", "email": "not an e-mail"}));
    assert_refused(&idp, &app, "invalid e-mail").await;
    assert_eq!(user_count(&app).await, 0);
    idp.set_user(json!({"sub": "long", "given_name": "x".repeat(300)}));
    login(&app.client(), "").await;
    assert_eq!(user_by_sub(&app, "long").await.unwrap().full_name.unwrap().len(), 100);
}

#[tokio::test]
async fn oidc_create_user_false_refuses_unknown_people() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("OIDC_CREATE_USER", "false")]).await;
    assert_refused(&idp, &app, "creation disabled").await;
}

#[tokio::test]
async fn b6_plain_json_userinfo_and_userinfo_nonce_are_accepted() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    idp.with(|s| s.userinfo_format = UserinfoFormat::Json);
    assert_eq!(location(&login(&app.client(), "").await), "/home");
    idp.with(|s| {
        s.userinfo_format = UserinfoFormat::Jwt;
        s.userinfo_extra.insert("nonce".into(), json!("whatever"));
    });
    assert_eq!(location(&login(&app.client(), "").await), "/home");
}

#[tokio::test]
async fn b22_switching_users_keeps_the_return_to() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    login(&c, "").await;
    idp.set_user(json!({"sub": "user-2", "email": "second@example.com"}));
    let r = login(&c, "?returnTo=/room/b").await;
    assert_eq!(location(&r), "/room/b");
    assert_eq!(me(&c).await.json()["email"], "second@example.com");
    assert!(session(&app, &c).await.contains_key("oidc_id_token"));
}

#[tokio::test]
async fn discovery_enables_pkce_when_advertised() {
    let idp = Idp::start().await;
    idp.with(|s| s.pkce = true);
    let b = idp.base.clone();
    let app = TestApp::spawn_with(&[
        ("MEET_OIDC_ISSUER", &b),
        ("OIDC_RP_CLIENT_SECRET", crate::support::oidc::CLIENT_SECRET),
    ])
    .await;
    let c = app.client();
    assert_eq!(location(&login(&c, "?returnTo=/r").await), "/r");
    assert!(idp.with(|s| s.last_authorize.get("code_challenge_method").cloned()) == Some("S256".into()));
    assert!(idp.with(|s| s.last_token_form.contains_key("code_verifier")));
    assert_eq!(me(&c).await.status, 200);
}

#[tokio::test]
async fn jwks_is_cached_and_refreshed_on_an_unknown_kid() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    login(&app.client(), "").await;
    login(&app.client(), "").await;
    assert_eq!(idp.with(|s| s.jwks_fetches), 1, "cached");
    idp.with(|s| {
        s.signing_kid = "k2".into();
        s.published_kids = vec!["k1".into(), "k2".into()];
    });
    let c = app.client();
    assert_eq!(location(&login(&c, "").await), "/home");
    assert_eq!(idp.with(|s| s.jwks_fetches), 2, "refreshed once for the new kid");
    // A kid the provider never published: refused.
    idp.with(|s| s.published_kids = vec!["k1".into()]);
    idp.with(|s| s.signing_kid = "k2".into());
    let app = spawn(&idp, &[]).await;
    assert_refused(&idp, &app, "unpublished kid").await;
}

#[tokio::test]
async fn b4_redirect_urls_default_to_the_root() {
    let idp = Idp::start().await;
    let vars: Vec<(String, String)> = idp.vars().into_iter().filter(|(k, _)| !k.contains("REDIRECT_URL")).collect();
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::spawn_with(&refs).await;
    assert_eq!(location(&login(&app.client(), "").await), "/");
    assert_eq!(location(&app.client().get("/api/v1.0/callback/").await), "/");
    assert_eq!(location(&app.client().get("/api/v1.0/logout/").await), "/");
}

#[tokio::test]
async fn aa_10_aa_11_aa_12_aa_13_csrf_on_a_logged_in_session() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    login(&c, "").await;
    let id = me(&c).await.json()["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1.0/users/{id}/");
    let csrf = cookie(&app, &c, "csrftoken").unwrap();
    // PATCH: a PUT needs `timezone` since now-rooms §13.2.
    let put = || c.request(Method::PATCH, &path).json(&json!({}));
    let r = TestClient::send(put()).await;
    assert_eq!((r.status.as_u16(), r.json()), (403, json!({"detail": "CSRF Failed: CSRF token missing."})));
    let r = TestClient::send(put().header("X-CSRFToken", "a".repeat(32))).await;
    assert_eq!(r.json(), json!({"detail": "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect."}));
    let r = TestClient::send(put().header("X-CSRFToken", &csrf).header("Origin", "https://evil")).await;
    assert_eq!(
        r.json(),
        json!({"detail": "CSRF Failed: Origin checking failed - https://evil does not match any trusted origins."})
    );
    assert_eq!(TestClient::send(put().header("X-CSRFToken", &csrf)).await.status, 200);
    assert_eq!(TestClient::send(put().header("X-CSRFToken", meet::domain::csrf::mask(&csrf))).await.status, 200);
    let anon = app.client();
    assert_eq!(TestClient::send(anon.request(Method::PATCH, &path).json(&json!({}))).await.status, 401);
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[]).await;
    let c = app.client();
    login(&c, "").await;
    let key = cookie(&app, &c, "sessionid").unwrap();
    let (db, dir, vars) = app.stop().await;
    let app = TestApp::start(db, dir, vars).await;
    let c = app.client();
    let url: reqwest::Url = app.base.parse().unwrap();
    c.jar.add_cookie_str(&format!("sessionid={key}; Path=/"), &url);
    assert_eq!(me(&c).await.status, 200);
}

#[tokio::test]
async fn k_1_k_4_a_new_user_is_signed_up_once_with_the_brevo_payload() {
    let idp = Idp::start().await;
    let brevo = Brevo::start().await;
    let vars = brevo.vars();
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn(&idp, &refs).await;
    login(&app.client(), "").await;
    let contacts = brevo.wait_for(1).await;
    assert_eq!(
        contacts,
        [json!({"email": "john.doe@example.com", "attributes": {"VISIO_USER": true, "VISIO_SOURCE": ["SIGNIN"]},
                "listIds": [7], "updateEnabled": true})]
    );
    login(&app.client(), "").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(brevo.contacts().len(), 1, "existing users are never signed up");
}

#[tokio::test]
async fn k_1_signup_is_off_by_default() {
    let idp = Idp::start().await;
    let brevo = Brevo::start().await;
    let vars: Vec<(String, String)> =
        brevo.vars().into_iter().filter(|(k, _)| k != "SIGNUP_NEW_USER_TO_MARKETING_EMAIL").collect();
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn(&idp, &refs).await;
    login(&app.client(), "").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(brevo.contacts().is_empty());
}

#[tokio::test]
async fn k_8_s10_a_brevo_outage_never_breaks_the_first_login() {
    let idp = Idp::start().await;
    let brevo = Brevo::start().await;
    brevo.with(|s| s.status = Some(500));
    let vars = brevo.vars();
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn(&idp, &refs).await;
    let c = app.client();
    assert_eq!(location(&login(&c, "").await), "/home");
    assert_eq!(me(&c).await.status, 200);
    // Slow (beyond BREVO_API_TIMEOUT) or unreachable: the login does not wait for it.
    brevo.with(|s| s.delay = Duration::from_secs(5));
    idp.set_user(json!({"sub": "second", "email": "second@example.com"}));
    let t = Instant::now();
    assert_eq!(location(&login(&app.client(), "").await), "/home");
    assert!(t.elapsed() < Duration::from_secs(2));
    let app = spawn(
        &idp,
        &[
            ("SIGNUP_NEW_USER_TO_MARKETING_EMAIL", "true"),
            ("BREVO_API_KEY", "k"),
            ("BREVO_API_CONTACT_LIST_IDS", "1"),
            ("MEET_BREVO_API_URL", "http://127.0.0.1:9/v3"),
        ],
    )
    .await;
    assert_eq!(location(&login(&app.client(), "").await), "/home");
}
