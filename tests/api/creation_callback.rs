//! `POST /api/v1.0/rooms/creation-callback/`: users-auth-rooms §5.9 and §5.12 (CB and T
//! statements), with B20 (atomic read-and-delete) and S4 (throttle identity from trusted proxies).

use serde_json::json;

use crate::support::rooms::spawn;

const CALLBACK: &str = "/api/v1.0/rooms/creation-callback/";

#[tokio::test]
async fn cb_1_cb_2_stored_value_is_read_once() {
    let app = spawn(&[]).await;
    app.state.cache.set("room-creation-callback_123", r#"{"slug": "my room"}"#, None).await.unwrap();
    let c = app.client();
    let r = c.post(CALLBACK, &json!({"callback_id": "123"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success", "room": {"slug": "my room"}})));
    let r = c.post(CALLBACK, &json!({"callback_id": "123"})).await;
    assert_eq!(r.json(), json!({"status": "success", "room": {}}), "CB-1 second call / CB-2");
    let r = c.post(CALLBACK, &json!({"callback_id": "never-set"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"status": "success", "room": {}})), "CB-2");
}

#[tokio::test]
async fn cb_3_cb_5_validation() {
    let app = spawn(&[]).await;
    let c = app.client();
    let cases = [
        (json!({}), json!({"callback_id": ["This field is required."]})),
        (json!({"callback_id": ""}), json!({"callback_id": ["This field may not be blank."]})),
        (json!({"callback_id": null}), json!({"callback_id": ["This field may not be null."]})),
        (json!({"callback_id": true}), json!({"callback_id": ["Not a valid string."]})),
        (json!({"callback_id": ["a"]}), json!({"callback_id": ["Not a valid string."]})),
    ];
    for (body, expected) in cases {
        let r = c.post(CALLBACK, &body).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, expected), "{body}");
    }
    app.state.cache.set("room-creation-callback_5", r#"{"slug": "five"}"#, None).await.unwrap();
    assert_eq!(c.post(CALLBACK, &json!({"callback_id": 5})).await.json()["room"], json!({"slug": "five"}));
}

#[tokio::test]
async fn cb_4_r_7_authenticated_caller_reads_the_room_it_created() {
    let app = spawn(&[]).await;
    let (_, c) = app.logged_in("a@example.com").await;
    assert_eq!(c.post("/api/v1.0/rooms/", &json!({"name": "SDK room", "callback_id": "abc"})).await.status, 201);
    let r = c.post(CALLBACK, &json!({"callback_id": "abc"})).await;
    assert_eq!(r.json(), json!({"status": "success", "room": {"slug": "sdk-room"}}));
    assert_eq!(c.post(CALLBACK, &json!({"callback_id": "abc"})).await.json()["room"], json!({}));
}

#[tokio::test]
async fn cb_6_get_is_405() {
    let app = spawn(&[]).await;
    let r = app.client().get(CALLBACK).await;
    assert_eq!((r.status.as_u16(), r.json()), (405, json!({"detail": "Method \"GET\" not allowed."})));
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
}

#[tokio::test]
async fn b20_parallel_reads_get_the_value_once() {
    let app = spawn(&[]).await;
    app.state.cache.set("room-creation-callback_race", r#"{"slug": "x"}"#, None).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = app.client();
        tasks.push(tokio::spawn(async move { c.post(CALLBACK, &json!({"callback_id": "race"})).await.json() }));
    }
    let mut hits = 0;
    for t in tasks {
        if t.await.unwrap()["room"] == json!({"slug": "x"}) {
            hits += 1;
        }
    }
    assert_eq!(hits, 1);
}

#[tokio::test]
async fn t_1_third_anonymous_request_is_throttled_before_validation() {
    let app = spawn(&[("CREATION_CALLBACK_THROTTLE_RATES", "2/minute")]).await;
    let c = app.client();
    assert_eq!(c.post(CALLBACK, &json!({"callback_id": "1"})).await.status, 200);
    assert_eq!(c.post(CALLBACK, &json!({})).await.status, 400);
    let r = c.post(CALLBACK, &json!({})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (429, json!({"detail": "Request was throttled. Expected available in 60 seconds."}))
    );
    assert_eq!(r.header("retry-after"), Some("60"));
}

#[tokio::test]
async fn t_2_s4_spoofed_forwarded_for_does_not_reset_the_limit() {
    let app = spawn(&[("CREATION_CALLBACK_THROTTLE_RATES", "1/minute")]).await;
    let c = app.client();
    let send = |xff: &'static str| {
        let rb = c
            .request(reqwest::Method::POST, CALLBACK)
            .header("x-forwarded-for", xff)
            .json(&json!({"callback_id": "1"}));
        crate::support::TestClient::send(rb)
    };
    assert_eq!(send("1.1.1.1").await.status, 200);
    assert_eq!(send("2.2.2.2").await.status, 429, "S4: X-Forwarded-For is not trusted by default");
}

#[tokio::test]
async fn t_2_behind_one_trusted_proxy_the_forwarded_address_counts() {
    let app = spawn(&[("CREATION_CALLBACK_THROTTLE_RATES", "1/minute"), ("MEET_TRUSTED_PROXIES", "1")]).await;
    let c = app.client();
    let send = |xff: &'static str| {
        let rb = c
            .request(reqwest::Method::POST, CALLBACK)
            .header("x-forwarded-for", xff)
            .json(&json!({"callback_id": "1"}));
        crate::support::TestClient::send(rb)
    };
    assert_eq!(send("1.1.1.1").await.status, 200);
    assert_eq!(send("6.6.6.6, 1.1.1.1").await.status, 429, "the spoofed left entry is ignored");
    assert_eq!(send("2.2.2.2").await.status, 200, "another client behind the proxy");
}

#[tokio::test]
async fn t_3_authenticated_callers_are_never_throttled() {
    let app = spawn(&[("CREATION_CALLBACK_THROTTLE_RATES", "1/minute")]).await;
    let (_, c) = app.logged_in("a@example.com").await;
    for _ in 0..4 {
        assert_eq!(c.post(CALLBACK, &json!({"callback_id": "1"})).await.status, 200);
    }
}
