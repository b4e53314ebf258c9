//! Users at upstream HEAD: the user object and the self-update of preferences (now-rooms §13).

use serde_json::{json, Value};

use crate::support::TestApp;

const USER_KEYS: [&str; 8] = [
    "id",
    "email",
    "full_name",
    "short_name",
    "timezone",
    "language",
    "default_room_access_level",
    "default_room_configuration",
];

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().expect("an object").keys().map(String::as_str).collect()
}

#[tokio::test]
async fn nr_up_5_users_me_has_the_eight_keys_and_their_defaults() {
    let app = TestApp::spawn().await;
    let (user, client) = app.logged_in("me@example.com").await;
    let body = client.get("/api/v1.0/users/me/").await.json();
    assert_eq!(keys(&body), USER_KEYS);
    assert_eq!(body["id"], user.id.to_string());
    assert_eq!(body["timezone"], "UTC");
    assert_eq!(body["language"], "en-us");
    assert_eq!(body["default_room_access_level"], Value::Null);
    assert_eq!(body["default_room_configuration"], json!({}));
}

#[tokio::test]
async fn nr_up_1_room_defaults_are_stored_exactly() {
    let app = TestApp::spawn().await;
    let (user, client) = app.logged_in("me@example.com").await;
    let config = json!({"can_publish_sources": ["microphone", "camera"], "everyone_can_mute": false});
    let r = client
        .patch(
            &format!("/api/v1.0/users/{}/", user.id),
            &json!({"default_room_access_level": "trusted", "default_room_configuration": config}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r.json()), USER_KEYS);
    assert_eq!(r.json()["default_room_access_level"], "trusted");
    assert_eq!(r.json()["default_room_configuration"], config);
    let me = client.get("/api/v1.0/users/me/").await.json();
    assert_eq!(me["default_room_access_level"], "trusted");
    assert_eq!(me["default_room_configuration"], config);
}

#[tokio::test]
async fn nr_up_2_nr_up_3_invalid_values_are_refused_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let (user, client) = app.logged_in("me@example.com").await;
    let path = format!("/api/v1.0/users/{}/", user.id);
    let r = client.patch(&path, &json!({"default_room_access_level": "invalid"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"default_room_access_level": ["\"invalid\" is not a valid choice."]}));
    let r = client.patch(&path, &json!({"default_room_configuration": {"unknown_field": true}})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"default_room_configuration": [{"type": "extra_forbidden", "loc": ["unknown_field"],
            "msg": "Extra inputs are not permitted", "input": "True",
            "url": "https://errors.pydantic.dev/2.13/v/extra_forbidden"}]})
    );
    let r = client.patch(&path, &json!({"default_room_configuration": null})).await;
    assert_eq!(r.json(), json!({"default_room_configuration": ["This field may not be null."]}));
    let me = client.get("/api/v1.0/users/me/").await.json();
    assert_eq!(me["default_room_access_level"], Value::Null);
    assert_eq!(me["default_room_configuration"], json!({}));
}

#[tokio::test]
async fn nr_up_4_another_users_row_is_403() {
    let app = TestApp::spawn().await;
    let (_, client) = app.logged_in("me@example.com").await;
    let other = app.create_user("other@example.com").await;
    let r = client.patch(&format!("/api/v1.0/users/{}/", other.id), &json!({"language": "fr-fr"})).await;
    assert_eq!(r.status, 403);
    let anonymous = app.client().patch(&format!("/api/v1.0/users/{}/", other.id), &json!({})).await;
    assert_eq!(anonymous.status, 401);
    let row = meet::store::users::get(&app.state.db, other.id).await.unwrap().unwrap();
    assert_eq!(row.language, "en-us");
}

#[tokio::test]
async fn nr_up_timezone_and_language_through_put() {
    let app = TestApp::spawn().await;
    let (user, client) = app.logged_in("me@example.com").await;
    let path = format!("/api/v1.0/users/{}/", user.id);
    let r = client.put(&path, &json!({"language": "fr-fr"})).await;
    assert_eq!(r.json(), json!({"timezone": ["This field is required."]}), "PUT needs timezone");
    let r = client.put(&path, &json!({"timezone": "Mars/Olympus", "language": "xx"})).await;
    assert_eq!(
        r.json(),
        json!({"timezone": ["A valid timezone is required."], "language": ["\"xx\" is not a valid choice."]})
    );
    let r = client.put(&path, &json!({"timezone": "", "language": "fr-fr"})).await;
    assert_eq!(r.json(), json!({"timezone": ["This field may not be blank."]}));
    client.patch(&path, &json!({"default_room_access_level": "restricted"})).await;
    let r =
        client.put(&path, &json!({"timezone": "Europe/Paris", "language": "fr-fr", "email": "new@example.com"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    assert_eq!((b["timezone"].clone(), b["language"].clone()), (json!("Europe/Paris"), json!("fr-fr")));
    assert_eq!(b["email"], "me@example.com", "read-only");
    assert_eq!(b["default_room_access_level"], "restricted", "PUT leaves the other fields");
}
