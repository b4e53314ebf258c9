//! Foundation: HTTP conventions (users-auth-rooms §2), `/config/` (§5.11, C statements),
//! operational endpoints, OpenAPI, CORS (§4.11), CSRF ordering (§2.5, §4.10), restarts.

use serde_json::json;

use crate::support::{TestApp, TestClient};

#[tokio::test]
async fn c_1_config_with_default_settings() {
    let app = TestApp::spawn().await;
    let r = app.client().get("/api/v1.0/config/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    // The whole body at upstream HEAD is pinned by now_config::nr_cf_1.
    let body = r.json();
    assert_eq!(body["LANGUAGE_CODE"], "en-us");
    assert_eq!(
        body["recording"],
        json!({"is_enabled": false, "available_modes": ["screen_recording", "transcript"],
               "expiration_days": null, "max_duration": null})
    );
    assert_eq!(body["livekit"]["url"], serde_json::Value::Null);
    assert_eq!(r.header("allow"), Some("GET, OPTIONS"));
}

#[tokio::test]
async fn c_1_config_reflects_settings_in_order() {
    let app = TestApp::spawn_with(&[
        ("RECORDING_ENABLE", "True"),
        ("RECORDING_WORKER_CLASSES", "{'transcript': 'x.Audio', 'screen_recording': 'x.Video'}"),
        ("FRONTEND_ANALYTICS", "{'id': 'phc_123', 'host': 'https://ph.example'}"),
        ("FRONTEND_SUPPORT", "{'id': 'crisp-1', 'extra': True}"),
        ("FRONTEND_SILENCE_LIVEKIT_DEBUG", "yes"),
        ("DJANGO_LANGUAGE_CODE", "fr-fr"),
    ])
    .await;
    let r = app.client().get("/api/v1.0/config/").await;
    assert!(r.text.starts_with(r#"{"LANGUAGE_CODE":"fr-fr","recording":{"is_enabled":true,"available_modes":["transcript","screen_recording"],"#));
    assert!(r.text.contains(r#""analytics":{"id":"phc_123","host":"https://ph.example"},"support":{"id":"crisp-1","extra":true},"silence_livekit_debug_logs":true,"#));
}

#[tokio::test]
async fn c_2_post_config_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let r = app.client().post("/api/v1.0/config/", &json!({})).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.json(), json!({"detail": "Method \"POST\" not allowed."}));
    assert_eq!(r.header("allow"), Some("GET, OPTIONS"));
}

#[tokio::test]
async fn errata_head_on_config_is_405_but_head_on_viewsets_is_allowed() {
    let app = TestApp::spawn().await;
    let c = app.client();
    assert_eq!(c.method("HEAD", "/api/v1.0/config/").await.status, 405);
    let (_, me) = app.logged_in("head@example.com").await;
    let r = me.method("HEAD", "/api/v1.0/users/me/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
}

#[tokio::test]
async fn s2_1_missing_trailing_slash_redirects_every_method_keeping_the_query() {
    let app = TestApp::spawn().await;
    let c = app.client();
    for method in ["GET", "POST", "PUT", "DELETE"] {
        let r = c.method(method, "/api/v1.0/users/me?x=1&y=2").await;
        assert_eq!(r.status, 301, "{method}");
        assert_eq!(r.header("location"), Some("/api/v1.0/users/me/?x=1&y=2"), "{method}");
    }
    let r = c.get("/api/v1.0/config").await;
    assert_eq!((r.status.as_u16(), r.header("location")), (301, Some("/api/v1.0/config/")));
    let r = c.get("/api/v1.0/users/0d9e1c8e-1a5e-4f4b-9b9a-2f1f5b0d7c11").await;
    assert_eq!(r.header("location"), Some("/api/v1.0/users/0d9e1c8e-1a5e-4f4b-9b9a-2f1f5b0d7c11/"));
}

#[tokio::test]
async fn s2_1_unknown_paths_are_json_404() {
    let app = TestApp::spawn().await;
    let c = app.client();
    for path in ["/api/v1.0/nothing/", "/api/v1.0/nothing", "/nowhere", "/api/v2/config/"] {
        let r = c.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json(), json!({"detail": "Not found."}), "{path}");
    }
}

#[tokio::test]
async fn s2_3_api_responses_carry_vary_and_content_language() {
    let app = TestApp::spawn().await;
    let r = app.client().get("/api/v1.0/config/").await;
    assert_eq!(r.header("vary"), Some("Accept, origin, Accept-Language, Cookie"));
    assert_eq!(r.header("content-language"), Some("en-us"));
    assert!(r.header("x-request-id").is_some_and(|v| !v.is_empty()));
}

#[tokio::test]
async fn s2_3_options_returns_metadata_after_authentication() {
    let app = TestApp::spawn().await;
    let r = app.client().method("OPTIONS", "/api/v1.0/config/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "Config");
    assert_eq!(app.client().method("OPTIONS", "/api/v1.0/users/me/").await.status, 401);
}

#[tokio::test]
async fn s2_1_api_root_uses_the_forwarded_scheme_and_host() {
    let app = TestApp::spawn().await;
    let r = TestClient::send(
        app.client()
            .request(reqwest::Method::GET, "/api/v1.0/")
            .header("X-Forwarded-Proto", "https")
            .header("Host", "meet.example"),
    )
    .await;
    assert_eq!(
        r.json(),
        json!({
            "users": "https://meet.example/api/v1.0/users/",
            "rooms": "https://meet.example/api/v1.0/rooms/",
            "recordings": "https://meet.example/api/v1.0/recordings/",
            "resource-accesses": "https://meet.example/api/v1.0/resource-accesses/"
        })
    );
    let untrusted = TestApp::spawn_with(&[("MEET_TRUST_X_FORWARDED_PROTO", "false")]).await;
    let r = TestClient::send(
        untrusted.client().request(reqwest::Method::GET, "/api/v1.0/").header("X-Forwarded-Proto", "https"),
    )
    .await;
    assert!(r.json()["users"].as_str().unwrap().starts_with("http://"));
}

#[tokio::test]
async fn s2_5_csrf_is_checked_before_the_405_for_session_callers() {
    let app = TestApp::spawn().await;
    let (_, me) = app.logged_in("csrf@example.com").await;
    // Without the token header: the CSRF failure wins over the 405.
    let no_token = TestClient { csrf: None, ..me.clone() };
    let r = no_token.post("/api/v1.0/config/", &json!({})).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json(), json!({"detail": "CSRF Failed: CSRF token missing."}));
    // A wrong token.
    let wrong = TestClient { csrf: Some("a".repeat(32)), ..me.clone() };
    let r = wrong.post("/api/v1.0/config/", &json!({})).await;
    assert_eq!(r.json(), json!({"detail": "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect."}));
    // Malformed token.
    let short = TestClient { csrf: Some("abc".into()), ..me.clone() };
    let r = short.post("/api/v1.0/config/", &json!({})).await;
    assert_eq!(
        r.json(),
        json!({"detail": "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header has incorrect length."})
    );
    // A masked (64-character) token for the cookie's secret is accepted.
    let masked = TestClient { csrf: Some(meet::domain::csrf::mask(me.csrf.as_ref().unwrap())), ..me.clone() };
    assert_eq!(masked.post("/api/v1.0/config/", &json!({})).await.status, 405);
    // A foreign Origin.
    let r =
        TestClient::send(me.request(reqwest::Method::POST, "/api/v1.0/config/").header("Origin", "https://evil")).await;
    assert_eq!(
        r.json(),
        json!({"detail": "CSRF Failed: Origin checking failed - https://evil does not match any trusted origins."})
    );
    // The right token: authentication passes, then the method is refused.
    assert_eq!(me.post("/api/v1.0/config/", &json!({})).await.status, 405);
    // Anonymous callers are never CSRF-checked.
    assert_eq!(app.client().post("/api/v1.0/config/", &json!({})).await.status, 405);
}

#[tokio::test]
async fn s4_10_https_requests_without_origin_need_a_same_origin_referer() {
    let app = TestApp::spawn_with(&[("DJANGO_CSRF_TRUSTED_ORIGINS", "https://front.example")]).await;
    let (_, me) = app.logged_in("referer@example.com").await;
    let post = |referer: Option<&str>| {
        let mut rb = me
            .request(reqwest::Method::POST, "/api/v1.0/config/")
            .header("X-Forwarded-Proto", "https")
            .header("Host", "meet.example");
        if let Some(r) = referer {
            rb = rb.header("Referer", r);
        }
        TestClient::send(rb)
    };
    assert_eq!(post(None).await.json(), json!({"detail": "CSRF Failed: Referer checking failed - no Referer."}));
    assert_eq!(
        post(Some("http://meet.example/x")).await.json(),
        json!({"detail": "CSRF Failed: Referer checking failed - Referer is insecure while host is secure."})
    );
    assert_eq!(post(Some("https://meet.example/rooms")).await.status, 405);
    assert_eq!(post(Some("https://front.example/")).await.status, 405);
    let r = TestClient::send(
        me.request(reqwest::Method::POST, "/api/v1.0/config/").header("Origin", "https://front.example"),
    )
    .await;
    assert_eq!(r.status, 405, "trusted origin");
}

#[tokio::test]
async fn s4_9_bearer_header_errors_are_401_with_www_authenticate() {
    // The reference's bearer authentication, kept behind its setting (now-external-api §14).
    let app = TestApp::spawn_with(&[("MEET_OIDC_BEARER_ENABLED", "true")]).await;
    let c = app.client();
    let r =
        TestClient::send(c.request(reqwest::Method::GET, "/api/v1.0/config/").header("Authorization", "Bearer")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json(), json!({"detail": "Invalid \"bearer\" header: No credentials provided."}));
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"api\""));
    let r =
        TestClient::send(c.request(reqwest::Method::GET, "/api/v1.0/config/").header("Authorization", "Bearer a b"))
            .await;
    assert_eq!(r.json(), json!({"detail": "Invalid \"bearer\" header: Credentials string should not contain spaces."}));
    // Another scheme is ignored.
    let r = TestClient::send(c.request(reqwest::Method::GET, "/api/v1.0/config/").header("Authorization", "Basic abc"))
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn operational_endpoints_answer() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let r = c.get("/__lbheartbeat__").await;
    assert_eq!(r.status, 200);
    let r = c.get("/__heartbeat__").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"status": "ok", "checks": {"database": "ok", "cache": "ok"}, "details": {}}));
    let r = c.get("/__version__").await;
    assert_eq!(r.json()["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn openapi_document_lists_every_api_route_and_the_page_is_self_contained() {
    let app = TestApp::spawn().await;
    let r = app.client().get("/api/v1.0/swagger.json").await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for route in meet::http::api_routes() {
        let item = &doc["paths"][route.path];
        assert!(item.is_object(), "{} missing", route.path);
        for op in &route.methods {
            let method = &op.method;
            assert!(item[method.as_str().to_lowercase()].is_object(), "{method} {}", route.path);
        }
    }
    let page = app.client().get("/api/v1.0/swagger/").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("swagger.json"));
    assert!(!page.text.contains("https://"), "the page must load nothing from the internet");
}

#[tokio::test]
async fn s4_11_cors_is_same_origin_by_default_and_configurable() {
    let app = TestApp::spawn().await;
    let r = TestClient::send(
        app.client().request(reqwest::Method::GET, "/api/v1.0/config/").header("Origin", "https://other.example"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());

    let app = TestApp::spawn_with(&[
        ("DJANGO_CORS_ALLOWED_ORIGINS", "https://front.example"),
        ("DJANGO_CORS_ALLOWED_ORIGIN_REGEXES", r"^https://\w+\.sub\.example$"),
    ])
    .await;
    for origin in ["https://front.example", "https://a.sub.example"] {
        let r =
            TestClient::send(app.client().request(reqwest::Method::GET, "/api/v1.0/config/").header("Origin", origin))
                .await;
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
        assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    }
    let pre = TestClient::send(
        app.client()
            .request(reqwest::Method::OPTIONS, "/api/v1.0/users/me/")
            .header("Origin", "https://front.example")
            .header("Access-Control-Request-Method", "GET"),
    )
    .await;
    assert_eq!(pre.status, 200);
    assert!(pre.header("access-control-allow-headers").unwrap().contains("x-csrftoken"));
    let all = TestApp::spawn_with(&[("DJANGO_CORS_ALLOW_ALL_ORIGINS", "true")]).await;
    let r = TestClient::send(
        all.client().request(reqwest::Method::GET, "/api/v1.0/config/").header("Origin", "https://any.example"),
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), Some("https://any.example"));
}

#[tokio::test]
async fn s2_2_bodies_other_content_types_and_malformed_json() {
    let app = TestApp::spawn().await;
    let (me, c) = app.logged_in("body@example.com").await;
    let path = format!("/api/v1.0/users/{}/", me.id);
    let r = TestClient::send(
        c.request(reqwest::Method::PUT, &path).header("Content-Type", "application/x-www-form-urlencoded").body("a=1"),
    )
    .await;
    assert_eq!(r.status, 415);
    assert_eq!(r.json(), json!({"detail": "Unsupported media type \"application/x-www-form-urlencoded\" in request."}));
    let r = TestClient::send(
        c.request(reqwest::Method::PUT, &path).header("Content-Type", "application/json").body("{bad"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["detail"].as_str().unwrap().starts_with("JSON parse error - "));
    let big = format!("{{\"a\": \"{}\"}}", "x".repeat(3_000_000));
    let r =
        TestClient::send(c.request(reqwest::Method::PUT, &path).header("Content-Type", "application/json").body(big))
            .await;
    assert_eq!(r.status, 413);
    assert!(r.json()["detail"].is_string());
    let r = c.put(&path, &json!([1, 2])).await;
    assert_eq!(r.json(), json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}));
}

#[tokio::test]
async fn sessions_survive_a_restart_of_the_single_binary() {
    let app = TestApp::spawn().await;
    let (me, c) = app.logged_in("restart@example.com").await;
    assert_eq!(c.get("/api/v1.0/users/me/").await.status, 200);
    let (db, dir, vars) = app.stop().await;
    let again = TestApp::start(db, dir, vars).await;
    let c = crate::support::TestClient { base: again.base.clone(), ..c };
    // The jar holds cookies for the old port: send the session cookie explicitly.
    let key = c.session_key.clone().unwrap();
    let r = TestClient::send(c.http.get(again.url("/api/v1.0/users/me/")).header("Cookie", format!("sessionid={key}")))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], me.id.to_string());
}

#[tokio::test]
async fn two_instances_on_the_same_stores_serve_the_same_sessions() {
    let a = TestApp::spawn().await;
    if crate::support::pg_url().is_none() || crate::support::redis_url().is_none() {
        // Several instances need the shared backends; on SQLite + memory one instance is the model.
        return;
    }
    let b = TestApp::start(a.db.clone(), a.data_dir.clone(), a.vars.clone()).await;
    let (me, _) = a.logged_in("shared@example.com").await;
    let key = a.state.sessions.create_for_user(me.id, Default::default()).await.unwrap();
    for app in [&a, &b] {
        let r = TestClient::send(
            app.client().http.get(app.url("/api/v1.0/users/me/")).header("Cookie", format!("sessionid={key}")),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["email"], "shared@example.com");
    }
}

#[tokio::test]
async fn a_bad_setting_stops_the_start_naming_the_variable() {
    let err = meet::Config::from_lookup(|k| match k {
        "RECORDING_ENABLE" => Some("perhaps".into()),
        "REDIS_URL" => Some("http://nope".into()),
        _ => None,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("RECORDING_ENABLE") && err.contains("REDIS_URL"), "{err}");
}

#[tokio::test]
async fn an_unreachable_redis_at_start_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let config = meet::Config::from_lookup(|k| match k {
        "MEET_BIND" => Some("127.0.0.1:0".into()),
        "MEET_DATA_DIR" => Some(data.clone()),
        "DJANGO_SECRET_KEY" => Some("k".into()),
        "REDIS_URL" => Some("redis://127.0.0.1:1/0".into()),
        _ => None,
    })
    .unwrap();
    let err = match meet::App::build(config).await {
        Ok(_) => panic!("started without Redis"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("REDIS_URL"), "{err}");
}
