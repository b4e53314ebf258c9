//! `meet admin` and `meet <job>` (issue 15, OPS-A and OPS-J): the commands run as processes on
//! the test's own database, next to a running app whose store the assertions read.

use std::process::{Command, Output};

use serde_json::Value;

use crate::support::rooms::{add_access, create_room};
use crate::support::TestApp;

const OPERATOR: &str = "ops-tester";

/// Runs `meet <args>` on `app`'s database, as the OS user [`OPERATOR`], logging JSON lines.
fn meet(app: &TestApp, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_meet"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("USER", OPERATOR)
        .env("DATABASE_URL", &app.db.url)
        .env("MEET_DATA_DIR", app.data_dir.path())
        .env("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
        .env("MEET_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn,audit=info")
        .args(args);
    c.output().expect("meet runs")
}

fn ok(out: &Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "exit {:?}\nstdout: {stdout}\nstderr: {stderr}", out.status.code());
    stdout.into_owned()
}

fn json_of(out: &Output) -> Value {
    let text = ok(out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn failed_with(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
}

/// The audit lines written by one command.
fn audits(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "audit")
        .collect()
}

async fn app() -> TestApp {
    // The outbox stays quiet after its first pass: the notifications the tests queue stay queued.
    TestApp::spawn_with(&[("MEET_OUTBOX_INTERVAL_MS", "3600000")]).await
}

#[tokio::test]
async fn ops_a1_users_are_created_listed_and_shown_as_json_or_a_table() {
    let app = app().await;
    let created =
        json_of(&meet(&app, &["admin", "--json", "users", "create", "--email", "Op.User@Example.com", "--staff"]));
    let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let stored = meet::store::users::get(&app.state.db, id).await.unwrap().expect("user stored");
    assert!(stored.is_staff && !stored.is_superuser && stored.is_active);
    assert_eq!(stored.email.as_deref(), Some("Op.User@Example.com"));

    let table = ok(&meet(&app, &["admin", "users", "list", "--search", "op.user"]));
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID "), "{table}");
    assert!(lines.next().unwrap().contains("Op.User@Example.com"), "{table}");
    let shown = json_of(&meet(&app, &["admin", "users", "show", "op.user@example.com", "--json"]));
    assert_eq!(shown["id"], created["id"]);
    assert!(shown.get("password").is_none(), "no password hash in the output");
    failed_with(&meet(&app, &["admin", "users", "show", "nobody@example.com"]), "no user has the e-mail");
}

#[tokio::test]
async fn ops_a2_every_change_writes_an_audit_line_with_the_os_user_and_before_after() {
    let app = app().await;
    let user = app.create_user("audited@example.com").await;
    let out = meet(&app, &["admin", "users", "deactivate", "audited@example.com"]);
    ok(&out);
    assert!(!meet::store::users::get(&app.state.db, user.id).await.unwrap().unwrap().is_active);
    let lines = audits(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["who"], OPERATOR);
    assert_eq!(line["action"], "users.deactivate");
    assert_eq!(line["object"], format!("user {}", user.id));
    let (before, after): (Value, Value) = (
        serde_json::from_str(line["before"].as_str().unwrap()).unwrap(),
        serde_json::from_str(line["after"].as_str().unwrap()).unwrap(),
    );
    assert_eq!((before["is_active"].clone(), after["is_active"].clone()), (Value::Bool(true), Value::Bool(false)));

    ok(&meet(&app, &["admin", "users", "reactivate", &user.id.to_string()]));
    ok(&meet(&app, &["admin", "users", "set-superuser", &user.id.to_string(), "true"]));
    let u = meet::store::users::get(&app.state.db, user.id).await.unwrap().unwrap();
    assert!(u.is_active && u.is_superuser);
    // A read changes nothing and writes no audit line.
    assert!(audits(&meet(&app, &["admin", "users", "list"])).is_empty());
}

#[tokio::test]
async fn ops_a3_rooms_are_found_by_slug_or_owner_changed_and_deleted() {
    let app = app().await;
    let owner = app.create_user("room-owner@example.com").await;
    let room = create_room(&app, "Weekly Sync", "public").await;
    add_access(&app, room.id, owner.id, "owner").await;
    create_room(&app, "Other Room", "public").await;

    let owned = json_of(&meet(&app, &["admin", "--json", "rooms", "list", "--owner", "room-owner@example.com"]));
    assert_eq!(owned.as_array().unwrap().len(), 1, "{owned}");
    assert_eq!(owned[0]["id"], room.id.to_string());
    let found = json_of(&meet(&app, &["admin", "--json", "rooms", "list", "--search", "weekly"]));
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    let shown = json_of(&meet(&app, &["admin", "--json", "rooms", "show", "weekly-sync"]));
    assert_eq!(shown["accesses"][0]["email"], "room-owner@example.com");
    assert_eq!(shown["accesses"][0]["role"], "owner");

    let out = meet(&app, &["admin", "rooms", "set-access-level", &room.id.to_string(), "restricted"]);
    ok(&out);
    assert_eq!(audits(&out)[0]["action"], "rooms.set_access_level");
    let r = app.client().get(&format!("/api/v1.0/rooms/{}/", room.id)).await;
    assert_eq!(r.json()["access_level"], "restricted", "the API serves the change");
    failed_with(&meet(&app, &["admin", "rooms", "set-access-level", "weekly-sync", "secret"]), "not an access level");

    ok(&meet(&app, &["admin", "rooms", "delete", "weekly-sync"]));
    assert!(meet::store::rooms::get(&app.state.db, room.id).await.unwrap().is_none());
}

#[tokio::test]
async fn ops_a4_accesses_are_granted_changed_and_revoked_but_not_the_last_owner() {
    let app = app().await;
    let owner = app.create_user("owner-a4@example.com").await;
    let guest = app.create_user("guest-a4@example.com").await;
    let room = create_room(&app, "a4 room", "restricted").await;
    add_access(&app, room.id, owner.id, "owner").await;
    let slug = room.slug.clone().unwrap();

    ok(&meet(&app, &["admin", "accesses", "grant", &slug, "guest-a4@example.com"]));
    assert_eq!(
        meet::store::accesses::role_of(&app.state.db, guest.id, room.id).await.unwrap().as_deref(),
        Some("member")
    );
    let out = meet(&app, &["admin", "accesses", "grant", &slug, "guest-a4@example.com", "--role", "administrator"]);
    ok(&out);
    let line = &audits(&out)[0];
    assert!(
        line["before"].as_str().unwrap().contains("member")
            && line["after"].as_str().unwrap().contains("administrator")
    );
    ok(&meet(&app, &["admin", "accesses", "revoke", &slug, "guest-a4@example.com"]));
    assert_eq!(meet::store::accesses::role_of(&app.state.db, guest.id, room.id).await.unwrap(), None);

    failed_with(&meet(&app, &["admin", "accesses", "revoke", &slug, "owner-a4@example.com"]), "last owner");
    assert!(meet::store::accesses::role_of(&app.state.db, owner.id, room.id).await.unwrap().is_some());
    failed_with(
        &meet(&app, &["admin", "accesses", "grant", &slug, "guest-a4@example.com", "--role", "king"]),
        "not a role",
    );
}

#[tokio::test]
async fn ops_a5_recording_statuses_change_only_as_the_state_machine_allows() {
    let app = app().await;
    let owner = app.create_user("rec-owner@example.com").await;
    let room = create_room(&app, "a5 room", "public").await;
    let rec = meet::store::recordings::insert_with_owner(
        &app.state.db,
        room.id,
        "screen_recording",
        serde_json::json!({}),
        owner.id,
    )
    .await
    .unwrap();
    let id = rec.id.to_string();

    failed_with(&meet(&app, &["admin", "recordings", "set-status", &id, "saved"]), "cannot go from initiated to saved");
    failed_with(&meet(&app, &["admin", "recordings", "set-status", &id, "lost"]), "not a recording status");
    let out = meet(&app, &["admin", "recordings", "set-status", &id, "active"]);
    ok(&out);
    assert_eq!(meet::store::recordings::get(&app.state.db, rec.id).await.unwrap().unwrap().status, "active");
    assert_eq!(audits(&out)[0]["action"], "recordings.set_status");

    let listed = json_of(&meet(
        &app,
        &["admin", "--json", "recordings", "list", "--status", "active", "--owner", "rec-owner@example.com"],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert!(json_of(&meet(&app, &["admin", "--json", "recordings", "list", "--status", "saved"]))
        .as_array()
        .unwrap()
        .is_empty());
    let shown = json_of(&meet(&app, &["admin", "--json", "recordings", "show", &id]));
    assert_eq!(shown["owners"][0], "rec-owner@example.com");

    ok(&meet(&app, &["admin", "recordings", "delete", &id]));
    assert!(meet::store::recordings::get(&app.state.db, rec.id).await.unwrap().is_none());
}

#[tokio::test]
async fn ops_a6_a_notification_is_sent_again_through_the_outbox() {
    use meet::domain::recording::Status;
    use meet::store::recordings::{self as recs, Change, NotifyPlan};
    let app = app().await;
    let owner = app.create_user("notified@example.com").await;
    let room = create_room(&app, "a6 room", "public").await;
    let rec = recs::insert_with_owner(&app.state.db, room.id, "screen_recording", serde_json::json!({}), owner.id)
        .await
        .unwrap();
    let id = rec.id.to_string();
    failed_with(&meet(&app, &["admin", "recordings", "resend-notification", &id]), "only a saved recording");

    recs::transition(&app.state.db, rec.id, Status::Active, Change::default()).await.unwrap().expect("active");
    recs::save(&app.state.db, rec.id, NotifyPlan { email: true, summary: false }).await.unwrap().expect("saved");
    let n = recs::notifications_of(&app.state.db, rec.id).await.unwrap().remove(0);
    recs::notification_delivered(&app.state.db, n.id).await.unwrap();

    let out = meet(&app, &["admin", "--json", "recordings", "resend-notification", &id]);
    assert_eq!(json_of(&out)["queued"], 1);
    let again = recs::notifications_of(&app.state.db, rec.id).await.unwrap().remove(0);
    assert_eq!((again.delivered_at, again.attempts), (None, 0), "pending again in the outbox");
    let due = recs::due_notifications(&app.state.db, meet::store::now(), 10).await.unwrap();
    assert!(due.iter().any(|d| d.id == n.id), "due now");
}

#[tokio::test]
async fn ops_a7_applications_are_registered_listed_and_shown_without_their_secret() {
    let app = app().await;
    let created = json_of(&meet(
        &app,
        &["admin", "--json", "applications", "create", "--name", "Agenda", "--scope", "rooms:list"],
    ));
    let secret = created["client_secret"].as_str().expect("secret shown once").to_string();
    let client_id = created["client_id"].as_str().unwrap().to_string();
    let listed = ok(&meet(&app, &["admin", "applications", "list"]));
    assert!(listed.contains("Agenda") && listed.contains(&client_id) && !listed.contains(&secret), "{listed}");
    let shown = json_of(&meet(&app, &["admin", "--json", "applications", "show", &client_id]));
    assert_eq!(shown["scopes"], serde_json::json!(["rooms:list"]));
    assert!(!shown.to_string().contains(&secret) && !shown.to_string().contains("pbkdf2"));
}

#[tokio::test]
async fn ops_a8_applications_are_deactivated_reactivated_and_their_secret_rotated() {
    use meet::domain::application::verify_secret;
    let app = app().await;
    let created = json_of(&meet(&app, &["admin", "--json", "applications", "create", "--name", "Booking"]));
    let (old_secret, client_id) =
        (created["client_secret"].as_str().unwrap().to_string(), created["client_id"].as_str().unwrap().to_string());
    let stored = || async { meet::store::admin::application(&app.state.db, &client_id).await.unwrap().unwrap() };

    let out = meet(&app, &["admin", "--json", "applications", "deactivate", &client_id]);
    assert_eq!(json_of(&out)["is_active"], false);
    let audit = &audits(&out)[0];
    assert_eq!(audit["action"], "applications.deactivate");
    let field = |name: &str| serde_json::from_str::<Value>(audit[name].as_str().unwrap()).unwrap()["is_active"].clone();
    assert_eq!((field("before"), field("after")), (Value::Bool(true), Value::Bool(false)), "{audit}");
    assert!(!stored().await.is_active);
    assert_eq!(json_of(&meet(&app, &["admin", "--json", "applications", "reactivate", &client_id]))["is_active"], true);
    assert!(stored().await.is_active);

    let out = meet(&app, &["admin", "--json", "applications", "rotate-secret", &client_id]);
    let new_secret = json_of(&out)["client_secret"].as_str().expect("new secret shown once").to_string();
    assert_ne!(new_secret, old_secret);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&new_secret), "the secret is never logged");
    let hash = stored().await.client_secret;
    assert!(verify_secret(&new_secret, &hash) && !verify_secret(&old_secret, &hash));
    failed_with(&meet(&app, &["admin", "applications", "deactivate", "no-such-app"]), "no application");
}

#[tokio::test]
async fn ops_a9_two_duplicates_of_one_person_are_merged_into_the_kept_user() {
    let app = app().await;
    let kept = app.create_user("person@example.com").await;
    let dup = app.create_user("person.old@example.com").await;
    let room = create_room(&app, "shared room", "public").await;
    add_access(&app, room.id, kept.id, "member").await;
    add_access(&app, room.id, dup.id, "owner").await;
    let dup_only = create_room(&app, "old room", "public").await;
    add_access(&app, dup_only.id, dup.id, "administrator").await;

    let out = meet(&app, &["admin", "--json", "users", "merge", "person@example.com", &dup.id.to_string()]);
    assert_eq!(json_of(&out)["id"], kept.id.to_string());
    assert_eq!(audits(&out)[0]["action"], "users.merge", "{:?}", audits(&out));
    let role = |room| meet::store::accesses::role_of(&app.state.db, kept.id, room);
    assert_eq!(role(room.id).await.unwrap().as_deref(), Some("owner"), "the higher role wins");
    assert_eq!(role(dup_only.id).await.unwrap().as_deref(), Some("administrator"));
    assert!(meet::store::users::get(&app.state.db, dup.id).await.unwrap().is_none(), "the duplicate is gone");
    failed_with(&meet(&app, &["admin", "users", "merge", "person@example.com", "person@example.com"]), "itself");
}

#[tokio::test]
async fn ops_j3_a_job_runs_once_from_the_command_line() {
    // The app's own scheduler is off for this job: the command line's run is the only one.
    let app = TestApp::spawn_with(&[("MEET_PURGE_EXPIRED_SESSIONS_PERIOD", "0")]).await;
    let past = chrono::Utc::now() - chrono::Duration::hours(2);
    meet::store::sessions::save(&app.state.db, "cli-expired-session", "{}", None, past).await.unwrap();
    let out = meet(&app, &["purge-expired-sessions"]);
    assert_eq!(ok(&out).trim(), "purge-expired-sessions: 1");
    let runs = meet::store::schedule::list(&app.state.db).await.unwrap();
    assert!(runs.iter().any(|r| r.name == "purge-expired-sessions" && r.last_outcome.as_deref() == Some("ok")));
    failed_with(&meet(&app, &["no-such-job"]), "purge-expired-sessions");
    let listed = ok(&meet(&app, &["jobs"]));
    assert!(listed.contains("MEET_PURGE_EXPIRED_SESSIONS_PERIOD"), "{listed}");
}

#[test]
fn ops_c1_check_config_shows_the_operating_settings_with_the_token_masked() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_meet"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MEET_DATA_DIR", dir.path())
        .env("MEET_METRICS_TOKEN", "scrape-secret-value")
        .env("MEET_METRICS_BIND", "127.0.0.1:9464")
        .env("MEET_PURGE_FINISHED_JOBS_PERIOD", "0")
        .arg("check-config")
        .output()
        .unwrap();
    let text = ok(&out);
    for line in [
        "MEET_METRICS_TOKEN=***",
        "MEET_METRICS_BIND=127.0.0.1:9464",
        "MEET_METRICS_ENABLED=false",
        "MEET_PURGE_EXPIRED_SESSIONS_PERIOD=3600",
        "MEET_PURGE_FINISHED_JOBS_PERIOD=0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in {text}");
    }
    assert!(!text.contains("scrape-secret-value"));
}
