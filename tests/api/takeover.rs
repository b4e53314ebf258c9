//! Taking over a database created by Meet's Django backend (issue 15, item 1). The fixtures in
//! `tests/fixtures/` are the schema of a real `manage.py migrate` at the reference (`41c1f41e`)
//! and at upstream HEAD (`e5f0b1c2`), with the rows of users who logged in through OIDC, rooms
//! and accesses made through its API and recordings in several statuses (scripts/django-fixture.sh).
//! Django databases are PostgreSQL: these tests need `TEST_DATABASE_URL` and say so when skipped.

use std::collections::{BTreeMap, BTreeSet};

use meet::{App, Config};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, Row};
use uuid::Uuid;

use crate::auth::{cookie, login};
use crate::support::livekit::LiveKitDouble;
use crate::support::oidc::Idp;
use crate::support::{pg_url, TestApp, TestClient, TestDb};

const REFERENCE: &str = include_str!("../fixtures/django_41c1f41e.sql");
const HEAD: &str = include_str!("../fixtures/django_e5f0b1c2.sql");

/// The people of the fixtures (their `sub` at the provider that logged them in).
const ALICE: (&str, &str) = ("0b7c1a5e-7d43-4b51-9d0e-a11ce0000001", "alice@example.test");
const BOB: (&str, &str) = ("0b7c1a5e-7d43-4b51-9d0e-b0b000000002", "bob@example.test");

/// A fresh PostgreSQL database holding `fixture`, or `None` (with the reason printed) on SQLite.
async fn django_database(fixture: &str, test: &str) -> Option<TestDb> {
    if pg_url().is_none() {
        eprintln!("{test}: skipped: Meet's Django databases are PostgreSQL; set TEST_DATABASE_URL to run it");
        return None;
    }
    let db = TestDb::new().await;
    let mut conn = connect(&db).await;
    sqlx::raw_sql(fixture).execute(&mut conn).await.expect("fixture loads");
    Some(db)
}

async fn connect(db: &TestDb) -> PgConnection {
    PgConnection::connect(&db.url).await.expect("connect to the test database")
}

async fn strings(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    sqlx::query(sql).fetch_all(conn).await.expect(sql).iter().map(|r| r.get::<String, _>(0)).collect()
}

/// What Django relies on: its tables with their columns, constraints and indexes, and every row
/// of them (Django's columns only).
#[derive(Debug, PartialEq)]
struct DjangoState {
    columns: BTreeSet<String>,
    /// Columns an `INSERT` must name (`NOT NULL` without default).
    required: BTreeSet<String>,
    constraints: BTreeSet<String>,
    indexes: BTreeSet<String>,
    rows: BTreeMap<String, Vec<String>>,
}

async fn django_state(db: &TestDb, tables: &BTreeMap<String, Vec<String>>) -> DjangoState {
    let mut conn = connect(db).await;
    let list = tables.keys().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
    let columns = strings(
        &mut conn,
        &format!(
            "SELECT concat_ws(' ', table_name, column_name, data_type, character_maximum_length, is_nullable) \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name IN ({list})"
        ),
    )
    .await;
    let required = strings(
        &mut conn,
        &format!(
            "SELECT concat_ws(' ', table_name, column_name) FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name IN ({list}) AND is_nullable = 'NO' AND column_default IS NULL"
        ),
    )
    .await;
    // The one change meet makes to Django's constraints: its cascading foreign keys say so.
    let constraints = strings(
        &mut conn,
        &format!(
            "SELECT concat_ws(' ', t.relname, c.conname, replace(pg_get_constraintdef(c.oid), ' ON DELETE CASCADE', '')) \
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
             WHERE t.relname IN ({list})"
        ),
    )
    .await;
    let indexes = strings(
        &mut conn,
        &format!("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ({list})"),
    )
    .await;
    let mut rows = BTreeMap::new();
    for (table, cols) in tables {
        let mut got = strings(
            &mut conn,
            &format!("SELECT row_to_json(x)::text FROM (SELECT {} FROM {table}) x", cols.join(", ")),
        )
        .await;
        got.sort();
        rows.insert(table.clone(), got);
    }
    DjangoState {
        columns: columns.into_iter().collect(),
        required: required.into_iter().collect(),
        constraints: constraints.into_iter().collect(),
        indexes: indexes.into_iter().collect(),
        rows,
    }
}

/// Django's tables and their columns (compared on these only: meet adds its own).
async fn django_tables(db: &TestDb) -> BTreeMap<String, Vec<String>> {
    let mut conn = connect(db).await;
    let mut tables = BTreeMap::new();
    for table in public_tables(db).await {
        let cols = strings(
            &mut conn,
            &format!(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
            ),
        )
        .await;
        tables.insert(table, cols);
    }
    tables
}

async fn public_tables(db: &TestDb) -> Vec<String> {
    let mut conn = connect(db).await;
    strings(
        &mut conn,
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    )
    .await
}

async fn user_id(db: &TestDb, sub: &str) -> Uuid {
    let mut conn = connect(db).await;
    sqlx::query("SELECT id FROM meet_user WHERE sub = $1").bind(sub).fetch_one(&mut conn).await.unwrap().get(0)
}

async fn logged_in(app: &TestApp, idp: &Idp, (sub, email): (&str, &str)) -> TestClient {
    idp.set_user(json!({"sub": sub, "email": email, "given_name": "Given", "usual_name": "Usual"}));
    let mut client = app.client();
    let r = login(&client, "").await;
    assert_eq!(r.status, 302, "login of {email}: {r:?}");
    client.csrf = Some(cookie(app, &client, "csrftoken").expect("a CSRF cookie after login"));
    client
}

/// Everything of `before` is still in `after` (additions are allowed).
fn assert_kept(before: &BTreeSet<String>, after: &BTreeSet<String>, what: &str) {
    let lost: Vec<&String> = before.difference(after).collect();
    assert!(lost.is_empty(), "Django's {what}: lost {lost:#?}");
}

fn names(list: &Value, key: &str) -> BTreeSet<String> {
    list["results"].as_array().expect("a page").iter().map(|r| r[key].as_str().unwrap().to_string()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Takes over `fixture` and checks everything the issue asks for (see the tests below).
async fn takes_over(fixture: &str, test: &str) {
    let Some(db) = django_database(fixture, test).await else { return };
    let django_tables = django_tables(&db).await;
    let before = django_state(&db, &django_tables).await;
    let alice_id = user_id(&db, ALICE.0).await;
    let carol_id = user_id(&db, "0b7c1a5e-7d43-4b51-9d0e-ca4010000003").await;

    let idp = Idp::start().await;
    let lk = LiveKitDouble::start().await;
    let mut vars: Vec<(String, String)> = idp.vars();
    vars.extend(lk.vars().into_iter().map(|(k, v)| (k.to_string(), v)));
    vars.push(("RECORDING_ENABLE".into(), "true".into()));
    vars.push(("MEET_RECONCILER_INTERVAL_MS".into(), "0".into()));
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::spawn_on(db, &pairs).await;

    // Only additions: Django's columns, constraints, indexes and rows are all still there, unchanged.
    let after = django_state(&app.db, &django_tables).await;
    assert_kept(&before.columns, &after.columns, "columns");
    assert_kept(&before.constraints, &after.constraints, "constraints");
    assert_kept(&before.indexes, &after.indexes, "indexes");
    assert_kept(&after.required, &before.required, "columns an INSERT must name (Django names only its own)");
    assert_eq!(after.rows, before.rows, "Django's rows after the takeover");
    let tables = public_tables(&app.db).await;
    for own in ["meet_schema_migrations", "meet_session", "meet_job", "meet_recording_notification"] {
        assert!(tables.iter().any(|t| t == own), "{own} created");
    }
    assert_eq!(meet::store::migrations::migrate(&app.state.db).await.unwrap(), 0, "a second run applies nothing");

    // The people of the Django era log in and find their rooms, accesses and recordings.
    let alice = logged_in(&app, &idp, ALICE).await;
    let me = alice.get("/api/v1.0/users/me/").await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.json()["id"], json!(alice_id));
    let rooms = alice.get("/api/v1.0/rooms/").await.json();
    assert_eq!(names(&rooms, "slug"), set(&["board", "weekly-team-sync"]));
    let sync = rooms["results"].as_array().unwrap().iter().find(|r| r["slug"] == "weekly-team-sync").unwrap().clone();
    let roles: BTreeSet<String> =
        sync["accesses"].as_array().unwrap().iter().map(|a| a["role"].as_str().unwrap().to_string()).collect();
    assert_eq!(roles, set(&["administrator", "member", "owner"]));
    assert_eq!(sync["configuration"], json!({"can_publish_sources": []}));
    let recordings = alice.get("/api/v1.0/recordings/").await.json();
    assert_eq!(names(&recordings, "status"), set(&["active", "aborted", "notification_succeeded", "saved"]));
    let bob = logged_in(&app, &idp, BOB).await;
    let bob_rooms = bob.get("/api/v1.0/rooms/").await.json();
    assert_eq!(names(&bob_rooms, "slug"), set(&["bob-trusted", "weekly-team-sync"]));
    assert_eq!(names(&bob.get("/api/v1.0/recordings/").await.json(), "status"), set(&["failed_to_start", "stopped"]));
    let mut conn = connect(&app.db).await;
    let users: i64 = sqlx::query("SELECT count(*) FROM meet_user").fetch_one(&mut conn).await.unwrap().get(0);
    assert_eq!(users, 4, "the Django-era users were found, not created again");

    // Writes work on Django's tables: rooms, accesses, a recording, and deletes through Django's
    // foreign keys.
    let created = alice.post("/api/v1.0/rooms/", &json!({"name": "Made by meet"})).await;
    assert_eq!(created.status, 201, "{created:?}");
    let new_id = created.json()["id"].as_str().unwrap().to_string();
    let grant = alice
        .post("/api/v1.0/resource-accesses/", &json!({"resource": new_id, "user": carol_id, "role": "member"}))
        .await;
    assert_eq!(grant.status, 201, "{grant:?}");
    let board = rooms["results"].as_array().unwrap().iter().find(|r| r["slug"] == "board").unwrap()["id"].clone();
    let start = alice
        .post(&format!("/api/v1.0/rooms/{}/start-recording/", board.as_str().unwrap()), &json!({"mode": "transcript"}))
        .await;
    assert_eq!(start.status, 201, "{start:?}");
    let deleted = alice.delete(&format!("/api/v1.0/rooms/{}/", sync["id"].as_str().unwrap())).await;
    assert_eq!(deleted.status, 204, "a room with accesses and recordings: {deleted:?}");
    let left = alice.get("/api/v1.0/recordings/").await.json();
    assert_eq!(names(&left, "status"), set(&["active"]), "the room's recordings went with it");
    let orphans: i64 = sqlx::query(
        "SELECT (SELECT count(*) FROM meet_resource_access WHERE resource_id NOT IN (SELECT id FROM meet_resource)) \
         + (SELECT count(*) FROM meet_recording_access WHERE recording_id NOT IN (SELECT id FROM meet_recording))",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
    .get(0);
    assert_eq!(orphans, 0);
}

#[tokio::test]
async fn issue15_1_reference_database_is_taken_over_additively_and_served() {
    takes_over(REFERENCE, "issue15_1_reference_database_is_taken_over_additively_and_served").await;
}

#[tokio::test]
async fn issue15_1_head_database_is_taken_over_additively_and_served() {
    takes_over(HEAD, "issue15_1_head_database_is_taken_over_additively_and_served").await;
}

/// Starts meet on `db` and returns the start-up error (the app must refuse).
async fn refusal(db: TestDb) -> (String, Vec<String>) {
    let data_dir = tempfile::tempdir().unwrap();
    let vars = TestApp::settings(&db, &data_dir, &[]);
    let config = Config::from_lookup(move |k| vars.get(k).cloned()).expect("valid configuration");
    let err = match App::build(config).await {
        Ok(_) => panic!("meet started on a database it must refuse"),
        Err(e) => format!("{e:#}"),
    };
    (err, public_tables(&db).await)
}

#[tokio::test]
async fn issue15_1_an_unknown_django_migration_is_refused_by_name() {
    let test = "issue15_1_an_unknown_django_migration_is_refused_by_name";
    let Some(db) = django_database(HEAD, test).await else { return };
    let tables = public_tables(&db).await;
    let mut conn = connect(&db).await;
    sqlx::query("INSERT INTO django_migrations (app, name, applied) VALUES ('core', '0023_room_future_field', now())")
        .execute(&mut conn)
        .await
        .unwrap();
    let (err, after) = refusal(db).await;
    assert!(err.contains("core.0023_room_future_field"), "{err}");
    assert!(err.contains("does not know"), "{err}");
    assert_eq!(after, tables, "nothing was created");
}

#[tokio::test]
async fn issue15_1_a_database_older_than_the_reference_is_refused() {
    let test = "issue15_1_a_database_older_than_the_reference_is_refused";
    let Some(db) = django_database(REFERENCE, test).await else { return };
    let tables = public_tables(&db).await;
    let mut conn = connect(&db).await;
    sqlx::query("DELETE FROM django_migrations WHERE app = 'core' AND name = '0012_alter_room_access_level'")
        .execute(&mut conn)
        .await
        .unwrap();
    let (err, after) = refusal(db).await;
    assert!(err.contains("core.0011_remove_resource_is_public_room_access_level"), "{err}");
    assert!(err.contains("core.0012_alter_room_access_level"), "{err}");
    assert_eq!(after, tables, "nothing was created");
}

#[tokio::test]
async fn issue15_1_an_application_django_made_logs_in_without_a_session() {
    let test = "issue15_1_an_application_django_made_logs_in_without_a_session";
    let Some(db) = django_database(HEAD, test).await else { return };
    let vars = [
        ("EXTERNAL_API_ENABLED", "true"),
        ("APPLICATION_ENABLED", "true"),
        ("APPLICATION_JWT_SECRET_KEY", "application-jwt-key-for-tests"),
    ];
    let app = TestApp::spawn_on(db, &vars).await;
    let client = app.client();
    let body = json!({
        "client_id": "kasLUOnTIiMKPKs1WvGVopCDLYX6JNfXoW9GiARw",
        "client_secret": "integration-secret-made-by-django",
        "grant_type": "client_credentials",
        "scope": ALICE.1,
    });
    let token = client.post("/external-api/v1.0/application/token/", &body).await;
    assert_eq!(token.status, 200, "the secret Django hashed verifies: {token:?}");
    let bearer = token.json()["access_token"].as_str().unwrap().to_string();
    let rooms =
        TestClient::send(client.request(reqwest::Method::GET, "/external-api/v1.0/rooms/").bearer_auth(&bearer)).await;
    assert_eq!(rooms.status, 200, "{rooms:?}");
    assert_eq!(names(&rooms.json(), "slug"), set(&["board", "weekly-team-sync"]), "alice's rooms of the Django era");
}

#[tokio::test]
async fn issue15_1_two_instances_taking_over_at_once_apply_each_step_once() {
    let test = "issue15_1_two_instances_taking_over_at_once_apply_each_step_once";
    let Some(db) = django_database(REFERENCE, test).await else { return };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (vars_a, vars_b) = (TestApp::settings(&db, &dir_a, &[]), TestApp::settings(&db, &dir_b, &[]));
    let config_a = Config::from_lookup(move |k| vars_a.get(k).cloned()).unwrap();
    let config_b = Config::from_lookup(move |k| vars_b.get(k).cloned()).unwrap();
    let (a, b) = tokio::join!(App::build(config_a), App::build(config_b));
    let (a, b) = (a.expect("first instance starts"), b.expect("second instance starts"));
    let mut conn = connect(&db).await;
    let row = sqlx::query("SELECT count(*), count(DISTINCT version) FROM meet_schema_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let (rows, versions): (i64, i64) = (row.get(0), row.get(1));
    assert!(versions > 0);
    assert_eq!(rows, versions, "each step recorded once");
    drop((a, b));
}

async fn cascading(db: &TestDb, constraint: &str) -> bool {
    let mut conn = connect(db).await;
    let rule: String = sqlx::query("SELECT confdeltype::text FROM pg_constraint WHERE conname = $1")
        .bind(constraint)
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    rule == "c"
}

#[tokio::test]
async fn issue15_1_after_django_ran_again_the_next_start_restores_cascades() {
    let test = "issue15_1_after_django_ran_again_the_next_start_restores_cascades";
    let Some(db) = django_database(REFERENCE, test).await else { return };
    const FK: &str = "meet_resource_access_resource_id_abc11f99_fk_meet_resource_id";
    assert!(!cascading(&db, FK).await, "Django's foreign keys do not cascade");
    let app = TestApp::spawn_on(db, &[]).await;
    assert!(cascading(&app.db, FK).await, "taken over");
    let (db, dir, vars) = app.stop().await;
    // What Django's schema editor does when a migration alters the field: the constraint is
    // made again without ON DELETE.
    let mut conn = connect(&db).await;
    sqlx::raw_sql(&format!(
        "ALTER TABLE meet_resource_access DROP CONSTRAINT {FK}, ADD CONSTRAINT {FK} FOREIGN KEY (resource_id) \
         REFERENCES meet_resource (id) DEFERRABLE INITIALLY DEFERRED"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    assert!(!cascading(&db, FK).await);
    let app = TestApp::start(db, dir, vars).await;
    assert!(cascading(&app.db, FK).await, "restored at the next start");
}
