//! Provisional users (now-external-api §10, NP-USR, NX-TOK-13..15): the token endpoint creates a
//! user known by e-mail only, race-safely on both databases, and the first OIDC login with that
//! e-mail adopts it. Includes the scripted third-party client of a calendar application.

use meet::domain::application::hash_with;
use meet::store::applications::{self, Application, NewApplication};
use meet::store::users::{self, NewUser};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::{location, login, me, user_count};
use crate::support::oidc::Idp;
use crate::support::{Resp, TestApp, TestClient};

const KEY: &str = "application-jwt-key-for-provisional-tests";
const SECRET: &str = "calendar-secret";
const TOKEN: &str = "/external-api/v1.0/application/token/";
const ROOMS: &str = "/external-api/v1.0/rooms/";

/// The three settings of §10.1 that enable provisional users.
const ENABLE: [(&str, &str); 3] = [
    ("APPLICATION_ALLOW_USER_CREATION", "true"),
    ("OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", "true"),
    ("OIDC_USER_SUB_FIELD_IMMUTABLE", "false"),
];

async fn spawn(idp: &Idp, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = idp.vars();
    for (k, v) in
        [("EXTERNAL_API_ENABLED", "true"), ("APPLICATION_ENABLED", "true"), ("APPLICATION_JWT_SECRET_KEY", KEY)]
            .iter()
            .chain(extra)
    {
        vars.retain(|(name, _)| name != k);
        vars.push((k.to_string(), v.to_string()));
    }
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestApp::spawn_with(&refs).await
}

async fn application(app: &TestApp) -> Application {
    applications::create(
        &app.state.db,
        NewApplication {
            name: "Calendars".into(),
            client_id: format!("calendars{}", Uuid::new_v4().simple()),
            client_secret_hash: hash_with(SECRET, "calsalt", 1000),
            scopes: vec!["rooms:list".into(), "rooms:create".into(), "rooms:retrieve".into()],
            is_active: true,
            domains: vec![],
        },
    )
    .await
    .expect("application created")
}

async fn token_for(app: &TestApp, a: &Application, email: &str) -> Resp {
    let body =
        json!({"client_id": a.client_id, "client_secret": SECRET, "grant_type": "client_credentials", "scope": email});
    app.client().post(TOKEN, &body).await
}

fn user_id_of(token: &str) -> String {
    use base64::Engine;
    let part = token.split('.').nth(1).expect("a JWT");
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
    claims["user_id"].as_str().expect("user_id").to_string()
}

async fn users_with(app: &TestApp, email: &str) -> Vec<users::User> {
    users::find_by_email_ci(&app.state.db, email, 10).await.unwrap()
}

#[tokio::test]
async fn np_usr_1_nx_tok_13_nx_tok_14_nx_jwt_3_an_unknown_email_gets_one_provisional_user() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &ENABLE).await;
    let a = application(&app).await;
    let r = token_for(&app, &a, "new.person@example.com").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let found = users_with(&app, "new.person@example.com").await;
    assert_eq!(found.len(), 1);
    let user = &found[0];
    assert_eq!((user.sub.as_deref(), user.email.as_deref()), (None, Some("new.person@example.com")));
    assert!(user.is_active && user.password.starts_with('!') && user.password.len() == 41, "unusable password");
    assert_eq!(user_id_of(r.json()["access_token"].as_str().unwrap()), user.id.to_string());

    let again = token_for(&app, &a, "NEW.person@example.com").await;
    assert_eq!(again.status, 200);
    assert_eq!(user_id_of(again.json()["access_token"].as_str().unwrap()), user.id.to_string(), "NX-TOK-14");
    assert_eq!(user_count(&app).await, 1);
}

#[tokio::test]
async fn np_usr_2_nx_tok_12_any_setting_at_its_default_keeps_the_404() {
    let idp = Idp::start().await;
    for (name, _) in ENABLE {
        let vars: Vec<(&str, &str)> = ENABLE.iter().filter(|(k, _)| *k != name).copied().collect();
        let app = spawn(&idp, &vars).await;
        let a = application(&app).await;
        let r = token_for(&app, &a, "nobody@example.com").await;
        assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "User not found."})), "without {name}");
        assert_eq!(user_count(&app).await, 0, "without {name}");
    }
}

#[tokio::test]
async fn np_usr_3_existing_users_are_reused_with_or_without_sub() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &ENABLE).await;
    let a = application(&app).await;
    let linked = app.create_user("Linked@Example.com").await;
    let r = token_for(&app, &a, "linked@example.com").await;
    assert_eq!(user_id_of(r.json()["access_token"].as_str().unwrap()), linked.id.to_string());
    let provisional = meet::store::provisional::insert(&app.state.db, "pending@example.com", "en-us")
        .await
        .unwrap()
        .expect("inserted");
    let r = token_for(&app, &a, "Pending@example.com").await;
    assert_eq!(user_id_of(r.json()["access_token"].as_str().unwrap()), provisional.id.to_string());
    assert_eq!(user_count(&app).await, 2);
}

#[tokio::test]
async fn np_usr_4_np_usr_5_one_provisional_user_per_email_up_to_case() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let first = meet::store::provisional::insert(db, "Dup@example.com", "en-us").await.unwrap();
    assert!(first.is_some());
    let second = meet::store::provisional::insert(db, "dup@EXAMPLE.com", "en-us").await.unwrap();
    assert!(second.is_none(), "NP-USR-4: the partial unique index refuses it");
    // Through the plain insert too: the index is a real constraint, not a check in the code.
    let plain =
        users::create(db, NewUser { email: Some("DUP@example.com".into()), ..Default::default() }, "en-us").await;
    assert!(plain.unwrap_err().is_conflict("unique_email_when_sub_is_null"), "NP-USR-4: the constraint is named");
    // NP-USR-5: users with a sub may share the e-mail with it and with each other.
    app.create_user("dup@example.com").await;
    app.create_user("Dup@Example.com").await;
    // Any number of users without sub and without e-mail.
    for _ in 0..2 {
        users::create(db, NewUser::default(), "en-us").await.expect("sub and e-mail NULL");
    }
    assert_eq!(users_with(&app, "dup@example.com").await.len(), 3);
}

#[tokio::test]
async fn nx_tok_15_concurrent_requests_for_a_new_email_create_one_user() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &ENABLE).await;
    let a = application(&app).await;
    let body = json!({"client_id": a.client_id, "client_secret": SECRET, "grant_type": "client_credentials",
                      "scope": "race@example.com"});
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (c, body) = (app.client(), body.clone());
            tokio::spawn(async move { c.post(TOKEN, &body).await })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        ids.push(user_id_of(r.json()["access_token"].as_str().unwrap()));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same user");
    assert_eq!(users_with(&app, "race@example.com").await.len(), 1);
}

#[tokio::test]
async fn nx_tok_16_a_provisional_user_that_can_be_neither_created_nor_read_is_a_409() {
    use sqlx::{Connection, Executor};
    let idp = Idp::start().await;
    let app = spawn(&idp, &ENABLE).await;
    let a = application(&app).await;
    // The database silently drops the insert of this one e-mail (what a concurrent deletion of the
    // winner's row looks like to the loser): nothing is created and nothing can be re-read.
    let url = &app.db.url;
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        c.execute(
            "CREATE FUNCTION drop_ghost() RETURNS trigger AS $$ BEGIN RETURN NULL; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER drop_ghost BEFORE INSERT ON meet_user FOR EACH ROW \
             WHEN (NEW.email = 'ghost@example.com') EXECUTE FUNCTION drop_ghost();",
        )
        .await
        .unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        c.execute(
            "CREATE TRIGGER drop_ghost BEFORE INSERT ON meet_user WHEN NEW.email = 'ghost@example.com' \
             BEGIN SELECT RAISE(IGNORE); END;",
        )
        .await
        .unwrap();
    }
    let r = token_for(&app, &a, "ghost@example.com").await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (409, json!({"error": "Failed to create or retrieve provisional user."}))
    );
    assert!(users_with(&app, "ghost@example.com").await.is_empty());
    // Any other e-mail still gets its provisional user.
    assert_eq!(token_for(&app, &a, "someone.else@example.com").await.status, 200);
}

#[tokio::test]
async fn nx_app_7_provisional_emails_are_unique_up_to_case_linked_users_are_not() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &ENABLE).await;
    let db = &app.state.db;
    let first = meet::store::provisional::insert(db, "Twin@Example.com", "en-us").await.unwrap();
    assert!(first.is_some());
    let second = meet::store::provisional::insert(db, "twin@example.COM", "en-us").await.unwrap();
    assert!(second.is_none(), "a second provisional user with the same e-mail up to case is refused");
    for sub in ["linked-twin-1", "linked-twin-2"] {
        let new = NewUser { sub: Some(sub.into()), email: Some("twin@example.com".into()), ..Default::default() };
        users::create(db, new, "en-us").await.expect("users with a sub may share an e-mail");
    }
    assert_eq!(users_with(&app, "twin@example.com").await.len(), 3);
}

#[tokio::test]
async fn nx_app_2_client_ids_have_the_configured_length() {
    let app = TestApp::spawn().await;
    for length in [12usize, 40] {
        let mut settings = app.state.config.external_api.clone();
        settings.client_id_length = length;
        let r =
            meet::service::external::register_application(&app.state.db, &settings, "Sized", &[], &[]).await.unwrap();
        assert_eq!(r.application.client_id.len(), length);
    }
}

/// A calendar service books a meeting for someone who never used Meet; that person then logs
/// in and finds the room as its owner (NP-USR-6, the scripted third-party client).
#[tokio::test]
async fn np_usr_6_scripted_client_books_a_room_for_a_person_who_logs_in_later() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &ENABLE).await;
    let a = application(&app).await;

    // The third-party client: token, then a room for the never-seen user.
    let r = token_for(&app, &a, "Newcomer@Example.com").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let access_token = r.json()["access_token"].as_str().unwrap().to_string();
    let call = |method: Method, path: &str| {
        app.client().request(method, path).header("authorization", format!("Bearer {access_token}"))
    };
    let created = TestClient::send(call(Method::POST, ROOMS).json(&json!({"access_level": "restricted"}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let room_id = created.json()["id"].as_str().unwrap().to_string();
    let listed = TestClient::send(call(Method::GET, ROOMS)).await.json();
    assert_eq!(listed["count"], 1);
    let provisional_id = user_id_of(&access_token);
    assert_eq!(user_count(&app).await, 1);

    // The person logs in through OIDC with another spelling of the e-mail.
    idp.set_user(
        json!({"sub": "newcomer-sub", "email": "newcomer@example.com", "given_name": "New", "usual_name": "Comer"}),
    );
    let c = app.client();
    let r = login(&c, "").await;
    assert_eq!(location(&r), "/home", "login succeeded");
    let profile = me(&c).await.json();
    assert_eq!(profile["id"], provisional_id.as_str(), "the provisional row was adopted");
    assert_eq!(profile["full_name"], "New Comer");
    assert_eq!(user_count(&app).await, 1, "no second user");
    let adopted = users::get_by_sub(&app.state.db, "newcomer-sub").await.unwrap().expect("sub filled");
    assert_eq!(adopted.id.to_string(), provisional_id);
    assert_eq!(adopted.email.as_deref(), Some("newcomer@example.com"), "the IdP's spelling");

    let rooms = c.get("/api/v1.0/rooms/").await.json();
    assert_eq!(rooms["count"], 1);
    assert_eq!(rooms["results"][0]["id"], room_id.as_str());
    let room = c.get(&format!("/api/v1.0/rooms/{room_id}/")).await.json();
    assert_eq!(room["accesses"][0]["role"], "owner", "{room}");
    assert_eq!(room["accesses"][0]["user"]["id"], provisional_id.as_str());

    // The application's token keeps acting for the same, now linked, user.
    let r = token_for(&app, &a, "newcomer@example.com").await;
    assert_eq!(user_id_of(r.json()["access_token"].as_str().unwrap()), provisional_id);
}

#[tokio::test]
async fn np_usr_7_w27_a_login_matching_two_users_fails_and_linked_subs_are_never_overwritten() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &ENABLE).await;
    app.create_user("twice@example.com").await;
    app.create_user("TWICE@example.com").await;
    idp.set_user(json!({"sub": "third-sub", "email": "twice@example.com"}));
    let c = app.client();
    assert_eq!(location(&login(&c, "").await), "/failure", "NP-USR-7");
    assert_eq!(me(&c).await.status, 401);

    // W27: with OIDC_USER_SUB_FIELD_IMMUTABLE=false an e-mail match still never rewrites a `sub`.
    let linked = app.create_user("linked@example.com").await;
    idp.set_user(json!({"sub": "other-sub", "email": "linked@example.com"}));
    let c = app.client();
    login(&c, "").await;
    let after = users::get(&app.state.db, linked.id).await.unwrap().unwrap();
    assert_eq!(after.sub, linked.sub, "the stored sub is kept");
    assert!(users::get_by_sub(&app.state.db, "other-sub").await.unwrap().is_none());
}

#[tokio::test]
async fn w55_token_requests_are_throttled_per_client_address() {
    let idp = Idp::start().await;
    let app = spawn(&idp, &[("MEET_APPLICATION_TOKEN_THROTTLE_RATES", "2/minute")]).await;
    let a = application(&app).await;
    app.create_user("limited@example.com").await;
    assert_eq!(token_for(&app, &a, "limited@example.com").await.status, 200);
    assert_eq!(token_for(&app, &a, "limited@example.com").await.status, 200);
    let r = token_for(&app, &a, "limited@example.com").await;
    assert_eq!(r.status, 429, "{}", r.text);
}
