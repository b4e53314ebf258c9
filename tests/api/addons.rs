//! Add-on sessions of the Outlook add-in (now-external-api §12, NA-SES): init, poll and exchange
//! over HTTP, on both caches, the way the add-in's task pane and success page call them.

use std::time::Duration;

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{Resp, TestApp, TestClient};

const INIT: &str = "/api/v1.0/addons/sessions/init/";
const POLL: &str = "/api/v1.0/addons/sessions/poll/";
const EXCHANGE: &str = "/api/v1.0/addons/sessions/exchange/";
const ADDONS_KEY: &str = "addons-token-key-for-tests";

async fn spawn(extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("ADDONS_ENABLED", "true"),
        ("ADDONS_TOKEN_SECRET_KEY", ADDONS_KEY),
        ("ADDONS_CSRF_SECRET", "addons-csrf-secret"),
        ("EXTERNAL_API_ENABLED", "true"),
    ];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(&vars).await
}

/// A started session: its cookie value and `init`'s answer.
struct Started {
    sid: String,
    transit: String,
    csrf: String,
}

fn set_cookies(r: &Resp) -> Vec<String> {
    r.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

async fn init(app: &TestApp) -> (Resp, Started) {
    let r = TestClient::send(app.client().request(Method::POST, INIT)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let cookie = set_cookies(&r).first().cloned().expect("a cookie");
    let sid = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    let body = r.json();
    let started = Started {
        sid,
        transit: body["transit_token"].as_str().unwrap().into(),
        csrf: body["csrf_token"].as_str().unwrap().into(),
    };
    (r, started)
}

async fn poll_with(app: &TestApp, cookie: Option<&str>, csrf: Option<&str>) -> Resp {
    let mut rb = app.client().request(Method::POST, POLL);
    if let Some(c) = cookie {
        rb = rb.header("cookie", format!("addonsSid={c}"));
    }
    if let Some(t) = csrf {
        rb = rb.header("x-csrftoken", t);
    }
    TestClient::send(rb).await
}

async fn poll(app: &TestApp, s: &Started) -> Resp {
    poll_with(app, Some(&s.sid), Some(&s.csrf)).await
}

async fn exchange(c: &TestClient, transit: &str) -> Resp {
    c.post(EXCHANGE, &json!({ "transit_token": transit })).await
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn na_ses_1_w40_the_flag_hides_every_route() {
    let app = TestApp::spawn().await;
    let (_, c) = app.logged_in("off@example.com").await;
    assert_eq!(c.post(INIT, &json!({})).await.json(), json!({"detail": "Not found."}));
    assert_eq!(c.post(POLL, &json!({})).await.status, 404);
    assert_eq!(exchange(&c, "x").await.status, 404);
    let r = app.client().post(EXCHANGE, &json!({})).await;
    assert_eq!((r.status.as_u16(), r.header("www-authenticate")), (401, Some("Session")), "W40: authentication first");
}

#[tokio::test]
async fn na_ses_2_na_ses_4_na_ses_5_init_answers_tokens_and_one_secure_cookie() {
    let app = spawn(&[]).await;
    let (r, s) = init(&app).await;
    let keys: Vec<String> = r.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["transit_token", "csrf_token"]);
    assert!(regex::Regex::new("^[A-Za-z0-9_-]{80}$").unwrap().is_match(&s.transit), "{}", s.transit);
    assert!(regex::Regex::new("^[a-f0-9]{64}$").unwrap().is_match(&s.csrf));
    assert_ne!(s.transit, s.csrf);
    assert!(regex::Regex::new("^[A-Za-z0-9_-]{80}$").unwrap().is_match(&s.sid), "URL-safe base64");
    assert!(!r.text.contains(&s.sid), "the session id is only in the cookie");
    let cookies = set_cookies(&r);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let attrs: Vec<&str> = cookies[0].split("; ").skip(1).collect();
    assert!(attrs[0].starts_with("expires=") && attrs[0].ends_with(" GMT"), "{attrs:?}");
    assert_eq!(&attrs[1..], ["HttpOnly", "Max-Age=3600", "Path=/", "SameSite=None", "Secure"]);

    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let (_, s) = init(&app).await;
        assert!(seen.insert(s.transit) && seen.insert(s.csrf), "NA-SES-4: all distinct");
    }

    let custom = spawn(&[("ADDONS_SESSION_ID_COOKIE", "customSid"), ("ADDONS_SESSION_TTL", "600")]).await;
    let r = TestClient::send(custom.client().request(Method::POST, INIT)).await;
    let cookie = set_cookies(&r).remove(0);
    assert!(cookie.starts_with("customSid=") && cookie.contains("Max-Age=600"), "{cookie}");
}

#[tokio::test]
async fn na_ses_3_na_ses_14_only_post_is_allowed() {
    let app = spawn(&[]).await;
    let r = app.client().get(INIT).await;
    assert_eq!((r.status.as_u16(), r.json()), (405, json!({"detail": "Method \"GET\" not allowed."})));
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
    let (_, c) = app.logged_in("methods@example.com").await;
    for m in ["PUT", "PATCH", "DELETE", "GET"] {
        assert_eq!(c.method(m, EXCHANGE).await.status, 405, "NA-SES-14: {m}");
    }
}

#[tokio::test]
async fn na_ses_6_na_ses_7_na_ses_8_w34_w35_poll_credentials() {
    let app = spawn(&[]).await;
    let (_, a) = init(&app).await;
    let (_, b) = init(&app).await;
    let r = poll(&app, &a).await;
    assert_eq!((r.status.as_u16(), r.json()), (202, json!({"state": "pending"})), "NA-SES-6");

    let r = poll_with(&app, None, Some(&a.csrf)).await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"detail": "Missing credentials."})));
    assert_eq!(r.header("www-authenticate"), None);
    let r = poll_with(&app, Some(&a.sid), None).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"detail": "Missing CSRF token."})));
    let r = poll_with(&app, Some(&a.sid), Some(&b.csrf)).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"detail": "Invalid CSRF token."})), "NA-SES-8, W35");
    let upper = a.csrf.to_uppercase();
    assert_eq!(poll_with(&app, Some(&a.sid), Some(&upper)).await.status, 400, "case-sensitive");
    let rb = app
        .client()
        .request(Method::POST, POLL)
        .header("cookie", format!("addonsSid={}", a.sid))
        .header("x-csrftoken", reqwest::header::HeaderValue::from_bytes("caf\u{e9}".as_bytes()).unwrap());
    assert_eq!(TestClient::send(rb).await.status, 400, "W34: non-ASCII is a mismatch, not a 500");
    assert_eq!(poll(&app, &a).await.status, 202, "NA-SES-8: A undisturbed");
    assert_eq!(poll(&app, &b).await.status, 202, "NA-SES-8: B undisturbed");
}

#[tokio::test]
async fn w36_a_session_entry_in_an_unknown_state_is_refused_and_removed() {
    let app = spawn(&[]).await;
    let (_, a) = init(&app).await;
    let key = format!("addons_{}_{}", app.state.config.addons.prefix_session, a.sid);
    let stored = app.state.cache.get(&key).await.unwrap().expect("the session entry");
    let mut entry: serde_json::Value = serde_json::from_str(&stored).unwrap();
    entry["state"] = json!("half-done");
    app.state.cache.set(&key, &entry.to_string(), None).await.unwrap();
    let r = poll(&app, &a).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"detail": "Invalid or expired session."})));
    assert_eq!(app.state.cache.get(&key).await.unwrap(), None, "the entry is deleted");
}

#[tokio::test]
async fn na_ses_9_na_ses_10_na_ses_13_the_add_in_flow_gives_a_token_once() {
    let app = spawn(&[("APPLICATION_BASE_URL", "https://meet.example")]).await;
    let (_, s) = init(&app).await;
    let (user, c) = app.logged_in("outlook@example.com").await;
    let r = exchange(&c, &s.transit).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "ok"})), "{}", r.text);

    let r = poll(&app, &s).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut body = r.json();
    let token = body.as_object_mut().unwrap().remove("access_token").expect("access_token");
    assert_eq!(
        body,
        json!({"token_type": "Bearer", "expires_in": 7200, "scope": "rooms:create", "state": "authenticated"})
    );
    let cleared = set_cookies(&r);
    assert_eq!(
        cleared,
        ["addonsSid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/; SameSite=None; Secure"]
    );
    let c_ = claims(token.as_str().unwrap());
    assert_eq!(c_["user_id"], user.id.to_string(), "NA-SES-13: the exchanging session's user");
    assert_eq!(
        (&c_["aud"], &c_["iss"], &c_["scope"]),
        (&json!("addons"), &json!("lasuite-meet"), &json!("rooms:create"))
    );
    assert_eq!(c_["exp"].as_i64().unwrap() - c_["iat"].as_i64().unwrap(), 7200);

    assert_eq!(poll_with(&app, None, Some(&s.csrf)).await.status, 401, "NA-SES-10");
    let r = poll(&app, &s).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Session not found."})), "NA-SES-10: read once");

    // The task pane then creates the meeting (empty body) with the token.
    let rb = app.client().request(Method::POST, "/external-api/v1.0/rooms/").bearer_auth(token.as_str().unwrap());
    let r = TestClient::send(rb).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.json()["url"].as_str().unwrap().starts_with("https://meet.example/"));
}

#[tokio::test]
async fn na_ses_11_na_ses_12_exchange_refusals_and_replays() {
    let app = spawn(&[]).await;
    let (_, s) = init(&app).await;
    let r = app.client().post(EXCHANGE, &json!({"transit_token": s.transit})).await;
    assert_eq!(r.status, 401, "NA-SES-11: not logged in");
    let (_, c) = app.logged_in("exchanger@example.com").await;
    for body in [json!({}), json!({"transit_token": ""}), json!({"transit_token": null})] {
        let r = c.post(EXCHANGE, &body).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, json!({"detail": "Missing transit_token."})), "{body}");
    }
    let r = exchange(&c, "unknown-token").await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"detail": "Invalid or expired transit token."})));
    let form = c.request(Method::POST, EXCHANGE).form(&[("transit_token", s.transit.as_str())]);
    assert_eq!(TestClient::send(form).await.status, 415);
    assert_eq!(poll(&app, &s).await.status, 202, "refusals leave the session pending");

    assert_eq!(exchange(&c, &s.transit).await.status, 200);
    let r = exchange(&c, &s.transit).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"detail": "Invalid or expired transit token."})));
    assert_eq!(poll(&app, &s).await.status, 404, "NA-SES-12: a replay closes the session");
}

#[tokio::test]
async fn w33_concurrent_exchanges_of_one_transit_token_succeed_once() {
    let app = spawn(&[]).await;
    let (_, s) = init(&app).await;
    let (_, c) = app.logged_in("racer@example.com").await;
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (c, t) = (c.clone(), s.transit.clone());
            tokio::spawn(async move { exchange(&c, &t).await.status.as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 400, 400, 400, 400, 400]);
}

#[tokio::test]
async fn na_ses_15_transit_tokens_expire_and_consumed_ones_are_remembered() {
    let app = spawn(&[("ADDONS_TRANSIT_TOKEN_TTL", "1")]).await;
    let (_, late) = init(&app).await;
    let (_, s) = init(&app).await;
    let (_, c) = app.logged_in("ttl@example.com").await;
    assert_eq!(exchange(&c, &s.transit).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = exchange(&c, &late.transit).await;
    assert_eq!(r.json(), json!({"detail": "Invalid or expired transit token."}), "pending transit: 1 s");
    assert_eq!(poll(&app, &late).await.status, 202, "an expired transit token does not close its session");
    assert_eq!(exchange(&c, &s.transit).await.status, 400);
    assert_eq!(poll(&app, &s).await.status, 404, "the consumed token outlived its 1 s: the replay was detected");
}

#[tokio::test]
async fn na_ses_16_authentication_keeps_the_remaining_lifetime() {
    let app = spawn(&[("ADDONS_SESSION_TTL", "3")]).await;
    let (_, s) = init(&app).await;
    let (_, c) = app.logged_in("remaining@example.com").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(exchange(&c, &s.transit).await.status, 200);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(poll(&app, &s).await.status, 404, "gone 3 s after init, not 3 s after the exchange");
}

#[tokio::test]
async fn na_ses_17_na_ses_18_sessions_in_the_wrong_state_are_refused() {
    let app = spawn(&[]).await;
    let cache = &app.state.cache;
    let (_, c) = app.logged_in("states@example.com").await;
    let invalid = json!({"detail": "Invalid or expired session."});

    // A session whose own transit token was never consumed.
    let (_, a) = init(&app).await;
    let (_, b) = init(&app).await;
    let entry = json!({"state": "pending", "expires_at": "2999-01-01T00:00:00+00:00", "transit_token": b.transit});
    cache.set(&format!("addons_sid_{}", a.sid), &entry.to_string(), None).await.unwrap();
    let r = exchange(&c, &a.transit).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, invalid.clone()), "NA-SES-17: unconsumed transit");
    assert_eq!(poll(&app, &a).await.status, 404, "and the session is deleted");

    // A session authenticated already.
    assert_eq!(exchange(&c, &b.transit).await.status, 200);
    let extra = json!({"session_id": b.sid, "state": "pending"});
    cache.set("addons_transit_second-transit", &extra.to_string(), None).await.unwrap();
    let r = exchange(&c, "second-transit").await;
    assert_eq!((r.status.as_u16(), r.json()), (400, invalid.clone()), "NA-SES-17: double authentication");
    assert_eq!(poll(&app, &b).await.status, 404);

    // A session past its `expires_at`.
    let (_, d) = init(&app).await;
    let entry = json!({"state": "pending", "expires_at": "2000-01-01T00:00:00+00:00", "transit_token": d.transit});
    cache.set(&format!("addons_sid_{}", d.sid), &entry.to_string(), None).await.unwrap();
    let r = exchange(&c, &d.transit).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, invalid), "NA-SES-18");
    assert_eq!(poll(&app, &d).await.status, 202, "kept, still pending");
}

#[tokio::test]
async fn w55_session_starts_are_throttled_per_client_address_polls_are_not() {
    let app = spawn(&[("MEET_ADDONS_INIT_THROTTLE_RATES", "2/minute")]).await;
    let (_, s) = init(&app).await;
    init(&app).await;
    let r = TestClient::send(app.client().request(Method::POST, INIT)).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    for _ in 0..5 {
        assert_eq!(poll(&app, &s).await.status, 202);
    }
}
