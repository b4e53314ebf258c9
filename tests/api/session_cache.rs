//! The in-process copy of sessions and their users (performance issue, `MEET_SESSION_CACHE_TTL`):
//! every change is seen at once by the instance that made it and, through the cache's
//! invalidation channel, by every other instance; a change nobody announced is seen once the
//! copy expires; a request cancelled after its write still announces it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{redis_url, TestApp, TestClient};

const ME: &str = "/api/v1.0/users/me/";

/// A client of `app` carrying the session (and CSRF token) of `c`, as a browser behind a load
/// balancer reaching another instance.
fn same_browser_on(app: &TestApp, c: &TestClient) -> TestClient {
    let key = c.session_key.clone().expect("a logged-in client");
    let csrf = c.csrf.clone().expect("a CSRF token");
    let other = TestClient::new(app.base.clone(), Some(csrf.clone()));
    let url: reqwest::Url = app.base.parse().unwrap();
    other.jar.add_cookie_str(&format!("sessionid={key}; Path=/"), &url);
    other.jar.add_cookie_str(&format!("csrftoken={csrf}; Path=/"), &url);
    TestClient { session_key: Some(key), ..other }
}

/// Polls `GET /users/me/` on `c` until `done` holds (at most 5 s: the invalidation crosses Redis
/// asynchronously), returning the last answer's status and body.
async fn me_until(c: &TestClient, done: impl Fn(u16, &Value) -> bool) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = c.get(ME).await;
        let body = serde_json::from_str(&r.text).unwrap_or(Value::Null);
        let status = r.status.as_u16();
        if done(status, &body) || Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Changes the user's language in the database without announcing it (as hand-written SQL would).
async fn write_language_unannounced(app: &TestApp, user: &meet::store::users::User, language: &str) {
    meet::store::Q::new("UPDATE meet_user SET language = $1 WHERE id = $2")
        .bind(language)
        .bind(user.id)
        .execute(&app.state.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn perf_sc_1_the_instance_that_changes_a_user_or_ends_a_session_sees_it_at_once() {
    let app = TestApp::spawn_with(&[("MEET_SESSION_CACHE_TTL", "600")]).await;
    let (user, c) = app.logged_in("copy@example.com").await;
    assert_eq!(c.get(ME).await.json()["language"], "en-us");
    let r = c.patch(&format!("/api/v1.0/users/{}/", user.id), &json!({"language": "fr-fr"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The very next request, even with a copy that would live ten minutes.
    assert_eq!(c.get(ME).await.json()["language"], "fr-fr");
    app.state.sessions.delete(c.session_key.as_deref().unwrap()).await.unwrap();
    assert_eq!(c.get(ME).await.status, 401);
}

#[tokio::test]
async fn perf_sc_2_another_instance_sees_a_profile_change_a_logout_and_a_deactivation() {
    if redis_url().is_none() {
        eprintln!("skipped: instances share sessions and announcements only through Redis");
        return;
    }
    let a = TestApp::spawn_with(&[("MEET_SESSION_CACHE_TTL", "600")]).await;
    let b = TestApp::start(a.db.clone(), a.data_dir.clone(), a.vars.clone()).await;
    let (user, on_a) = a.logged_in("two@example.com").await;
    let on_b = same_browser_on(&b, &on_a);
    // B reads (and keeps) the session and the user.
    let (status, body) = me_until(&on_b, |s, _| s == 200).await;
    assert_eq!((status, body["language"].clone()), (200, json!("en-us")));
    let r = on_a.patch(&format!("/api/v1.0/users/{}/", user.id), &json!({"language": "nl-nl"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (_, body) = me_until(&on_b, |_, b| b["language"] == "nl-nl").await;
    assert_eq!(body["language"], "nl-nl", "B saw the change made on A");

    // An operator's deactivation, announced by whoever made it.
    meet::store::admin::set_user_flag(&a.state.db, user.id, meet::store::admin::UserFlag::Active, false).await.unwrap();
    a.state.sessions.user_changed(user.id).await;
    let (status, _) = me_until(&on_b, |s, _| s == 401).await;
    assert_eq!(status, 401, "B refuses a deactivated user");
    meet::store::admin::set_user_flag(&a.state.db, user.id, meet::store::admin::UserFlag::Active, true).await.unwrap();
    a.state.sessions.user_changed(user.id).await;
    assert_eq!(me_until(&on_b, |s, _| s == 200).await.0, 200);

    // A logout on A ends the session on B.
    let r = on_a.post("/api/v1.0/logout/", &json!({})).await;
    assert!(r.status.is_redirection(), "{:?}", r.status);
    let (status, _) = me_until(&on_b, |s, _| s == 401).await;
    assert_eq!(status, 401, "B forgot the session ended on A");
}

#[tokio::test]
async fn perf_sc_3_a_change_cancelled_before_its_announcement_is_still_announced() {
    let a = TestApp::spawn_with(&[("MEET_SESSION_CACHE_TTL", "600")]).await;
    let b = match redis_url() {
        Some(_) => Some(TestApp::start(a.db.clone(), a.data_dir.clone(), a.vars.clone()).await),
        None => None,
    };
    let (user, on_a) = a.logged_in("cancel@example.com").await;
    let readers: Vec<TestClient> = match &b {
        Some(b) => vec![on_a.clone(), same_browser_on(b, &on_a)],
        None => vec![on_a.clone()],
    };
    for r in &readers {
        assert_eq!(me_until(r, |s, _| s == 200).await.1["language"], "en-us");
    }
    // A request that took its announcement, wrote, and was dropped before sending it.
    let announcement = a.state.sessions.user_changing(user.id);
    write_language_unannounced(&a, &user, "de-de").await;
    drop(announcement);
    for r in &readers {
        let (_, body) = me_until(r, |_, b| b["language"] == "de-de").await;
        assert_eq!(body["language"], "de-de", "{}", r.base);
    }
}

#[tokio::test]
async fn perf_sc_4_a_change_nobody_announced_is_seen_once_the_copy_expires() {
    let app = TestApp::spawn_with(&[("MEET_SESSION_CACHE_TTL", "1")]).await;
    let (user, c) = app.logged_in("quiet@example.com").await;
    assert_eq!(c.get(ME).await.json()["language"], "en-us");
    // Written behind the server's back (as a command on an embedded database would).
    write_language_unannounced(&app, &user, "fr-fr").await;
    let (_, body) = me_until(&c, |_, b| b["language"] == "fr-fr").await;
    assert_eq!(body["language"], "fr-fr");
}

#[tokio::test]
async fn perf_sc_5_with_the_copy_off_every_request_reads_the_store() {
    let app = TestApp::spawn_with(&[("MEET_SESSION_CACHE_TTL", "0")]).await;
    let (user, c) = app.logged_in("off@example.com").await;
    assert_eq!(c.get(ME).await.json()["language"], "en-us");
    write_language_unannounced(&app, &user, "fr-fr").await;
    assert_eq!(c.get(ME).await.json()["language"], "fr-fr");
}
