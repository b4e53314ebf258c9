//! Users API: users-auth-rooms §5.2 (U statements).

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn u_1_u_5_anonymous_is_401() {
    let app = TestApp::spawn().await;
    let c = app.client();
    for path in ["/api/v1.0/users/", "/api/v1.0/users/me/"] {
        let r = c.get(path).await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json(), json!({"detail": "Authentication credentials were not provided."}));
        assert_eq!(r.header("www-authenticate"), Some("Session"));
    }
}

#[tokio::test]
async fn u_2_listing_is_empty_unless_enabled() {
    let app = TestApp::spawn().await;
    let (_, c) = app.logged_in("a@work.com").await;
    app.create_user("b@work.com").await;
    app.create_user("c@work.com").await;
    let r = c.get("/api/v1.0/users/").await;
    assert_eq!(r.json(), json!({"count": 0, "next": null, "previous": null, "results": []}));
}

#[tokio::test]
async fn u_3_u_4_listing_and_search_when_enabled() {
    let app = TestApp::spawn_with(&[("ALLOW_UNSECURE_USER_LISTING", "true")]).await;
    let (_, c) = app.logged_in("caller@work.com").await;
    for e in ["david.bowman@work.com", "nicole_foole@work.com", "frank_poole@work.com", "heywood_floyd@work.com"] {
        app.create_user(e).await;
    }
    let r = c.get("/api/v1.0/users/").await;
    assert_eq!(r.json()["count"], 5);
    let emails = |r: &crate::support::Resp| -> Vec<String> {
        r.json()["results"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(emails(&c.get("/api/v1.0/users/?q=david.bowman@work.com").await), ["david.bowman@work.com"]);
    assert_eq!(emails(&c.get("/api/v1.0/users/?q=oole").await), ["frank_poole@work.com", "nicole_foole@work.com"]);
    assert_eq!(c.get("/api/v1.0/users/?q=").await.json()["count"], 5);
    assert_eq!(c.get("/api/v1.0/users/?page=2").await.json(), json!({"detail": "Invalid page."}));
}

#[tokio::test]
async fn u_6_me_returns_exactly_the_eight_fields() {
    let app = TestApp::spawn().await;
    let (me, c) = app.logged_in("me@work.com").await;
    let r = c.get("/api/v1.0/users/me/").await;
    // now-rooms §13.1: four more keys at HEAD.
    assert_eq!(
        r.json(),
        json!({"id": me.id.to_string(), "email": "me@work.com", "full_name": "Full me@work.com", "short_name": "Short",
               "timezone": "UTC", "language": "en-us", "default_room_access_level": null,
               "default_room_configuration": {}})
    );
}

#[tokio::test]
async fn u_7_u_8_u_12_u_14_other_methods() {
    let app = TestApp::spawn().await;
    let other = app.create_user("other@work.com").await;
    let (me, c) = app.logged_in("me@work.com").await;
    let anon = app.client();
    let cases = [
        ("GET", format!("/api/v1.0/users/{}/", me.id)),
        ("GET", format!("/api/v1.0/users/{}/", other.id)),
        ("POST", "/api/v1.0/users/".to_string()),
        ("DELETE", "/api/v1.0/users/".to_string()),
        ("DELETE", format!("/api/v1.0/users/{}/", other.id)),
        ("PUT", "/api/v1.0/users/me/".to_string()),
    ];
    for (method, path) in &cases {
        assert_eq!(anon.method(method, path).await.status, 401, "anonymous {method} {path}");
        let r = c.method(method, path).await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.json(), json!({"detail": format!("Method \"{method}\" not allowed.")}));
    }
    assert!(meet::store::users::get(&app.state.db, other.id).await.unwrap().is_some());
}

#[tokio::test]
async fn u_9_u_10_u_11_u_13_updates() {
    let app = TestApp::spawn().await;
    let other = app.create_user("other@work.com").await;
    let (me, c) = app.logged_in("me@work.com").await;
    let r = app.client().put(&format!("/api/v1.0/users/{}/", me.id), &json!({})).await;
    assert_eq!(r.status, 401);
    // now-rooms §13.2: a PUT needs `timezone`; read-only fields are ignored.
    let body = json!({"email": "x@y.z", "full_name": "Changed", "timezone": "UTC"});
    let r = c.put(&format!("/api/v1.0/users/{}/", me.id), &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["email"], "me@work.com");
    let r = c.patch(&format!("/api/v1.0/users/{}/", me.id), &json!({"short_name": "Other"})).await;
    assert_eq!(r.json()["short_name"], "Short");
    let r = c.put(&format!("/api/v1.0/users/{}/", other.id), &json!({})).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json(), json!({"detail": "You do not have permission to perform this action."}));
    let r = c.put("/api/v1.0/users/abc/", &json!({})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})));
    let r = c.put(&format!("/api/v1.0/users/{}/", uuid::Uuid::new_v4()), &json!({})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No User matches the given query."})));
    let now = meet::store::users::get(&app.state.db, me.id).await.unwrap().unwrap();
    assert_eq!((now.email, now.full_name, now.short_name), (me.email, me.full_name, me.short_name));
}

#[tokio::test]
async fn s4_10_inactive_session_user_is_anonymous() {
    let app = TestApp::spawn().await;
    let user = meet::store::users::create(
        &app.state.db,
        meet::store::users::NewUser {
            email: Some("off@work.com".into()),
            is_active: Some(false),
            ..Default::default()
        },
        "en-us",
    )
    .await
    .unwrap();
    let c = app.client_for(&user).await;
    assert_eq!(c.get("/api/v1.0/users/me/").await.status, 401);
}
