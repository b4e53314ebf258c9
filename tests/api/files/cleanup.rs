//! The cleanup tasks (NF-CMD, §22; the optional purge of expired recording objects): as the
//! server's `run_once` functions and as `meet` subcommands.

use std::process::Command;

use chrono::{Duration, Utc};
use meet::service::cleanup::{clean_pending_files, purge_deleted_files, purge_expired_recordings};
use meet::store::files as store;

use super::*;

async fn aged(rig: &Rig, client: &TestClient, name: &str, hours: i64) -> Value {
    let f = created(client, name).await;
    let id = f["id"].as_str().unwrap();
    rig.s3.put_object(&format!("tmp/files/{id}.png"), PNG, "image/png");
    rig.s3.put_object(&format!("files/{id}.png"), PNG, "image/png");
    store::set_times(&rig.app.state.db, id_of(&f), Utc::now() - Duration::hours(hours), None).await.unwrap();
    f
}

#[tokio::test]
async fn nf_cmd_1_clean_pending_files_removes_uploads_that_never_ended() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("pending@example.com").await;
    let state = &rig.app.state;
    let nothing = clean_pending_files::run_once(state).await.unwrap();
    assert_eq!((nothing.processed, nothing.message.as_str()), (0, "Cleaned 0 stale pending file(s)."));
    let fresh = aged(&rig, &client, "fresh.png", 0).await;
    let stale = aged(&rig, &client, "stale.png", 49).await;
    let ten = aged(&rig, &client, "ten.png", 10).await;
    let (ready, r) = uploaded(&client, "ready.png", PNG, "image/png").await;
    assert_eq!(r.status, 200);
    store::set_times(&state.db, id_of(&ready), Utc::now() - Duration::hours(72), None).await.unwrap();

    let report = clean_pending_files::run_once(state).await.unwrap();
    assert_eq!((report.processed, report.message.as_str()), (1, "Cleaned 1 stale pending file(s)."));
    assert!(row(&rig.app, id_of(&stale)).await.is_none());
    let sid = stale["id"].as_str().unwrap();
    assert!(
        rig.s3.object(&format!("files/{sid}.png")).is_none()
            && rig.s3.object(&format!("tmp/files/{sid}.png")).is_none()
    );
    for kept in [&fresh, &ten, &ready] {
        assert!(row(&rig.app, id_of(kept)).await.is_some(), "{}", kept["filename"]);
    }
    let report = clean_pending_files::run_with_hours(state, 8).await.unwrap();
    assert_eq!(report.processed, 1);
    assert!(row(&rig.app, id_of(&ten)).await.is_none());
    assert!(row(&rig.app, id_of(&fresh)).await.is_some());
}

#[tokio::test]
async fn nf_cmd_2_purge_deleted_files_after_the_grace_period() {
    let rig = rig(&[("FILE_PURGE_GRACE_DAYS", "3")]).await;
    let (_, client) = rig.app.logged_in("purge@example.com").await;
    let state = &rig.app.state;
    let live = aged(&rig, &client, "live.png", 0).await;
    let just_deleted = aged(&rig, &client, "now.png", 0).await;
    let grace_ago = aged(&rig, &client, "old.png", 0).await;
    let hard = aged(&rig, &client, "hard.png", 0).await;
    assert_eq!(client.delete(&detail(just_deleted["id"].as_str().unwrap())).await.status, 204);
    let at = Utc::now() - Duration::days(3);
    store::set_times(&state.db, id_of(&grace_ago), at, Some(at)).await.unwrap();
    store::hard_delete(&state.db, id_of(&hard)).await.unwrap();

    let report = purge_deleted_files::run_once(state).await.unwrap();
    assert_eq!((report.processed, report.message.as_str()), (2, "Purged 2 deleted file(s)."));
    for gone in [&grace_ago, &hard] {
        assert!(row(&rig.app, id_of(gone)).await.is_none(), "{}", gone["filename"]);
        let id = gone["id"].as_str().unwrap();
        assert!(rig.s3.object(&format!("files/{id}.png")).is_none());
        assert!(rig.s3.object(&format!("tmp/files/{id}.png")).is_none(), "R-F1");
    }
    for kept in [&live, &just_deleted] {
        assert!(row(&rig.app, id_of(kept)).await.is_some(), "{}", kept["filename"]);
    }
    assert_eq!(purge_deleted_files::run_once(state).await.unwrap().processed, 0, "idempotent");
}

#[tokio::test]
async fn purge_deleted_files_leaves_the_row_for_the_next_pass_when_the_store_fails() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("retry@example.com").await;
    let f = aged(&rig, &client, "f.png", 0).await;
    store::hard_delete(&rig.app.state.db, id_of(&f)).await.unwrap();
    rig.s3.set_down(true);
    assert!(purge_deleted_files::run_once(&rig.app.state).await.is_err());
    assert!(row(&rig.app, id_of(&f)).await.is_some());
    rig.s3.set_down(false);
    assert_eq!(purge_deleted_files::run_once(&rig.app.state).await.unwrap().processed, 1);
    assert!(rig.s3.keys().is_empty());
}

#[tokio::test]
async fn expired_recording_objects_are_purged_once_and_only_when_configured() {
    use crate::recordings::{key, make};
    use meet::domain::recording::{Mode, Status};
    let off = rig(&[]).await;
    let r = purge_expired_recordings::run_once(&off.app.state).await.unwrap();
    assert_eq!(r.processed, 0, "no RECORDING_EXPIRATION_DAYS, nothing expires");

    let rig = rig(&[("RECORDING_EXPIRATION_DAYS", "2")]).await;
    let room = crate::support::rooms::create_room(&rig.app, "expiring room", "public").await;
    let (user, _) = rig.app.logged_in("rec@example.com").await;
    let old = make(&rig.app, room.id, Mode::ScreenRecording, Status::Saved, &[(&user, "owner")]).await;
    let recent = make(&rig.app, room.id, Mode::Transcript, Status::Saved, &[(&user, "owner")]).await;
    let live = make(&rig.app, room.id, Mode::Transcript, Status::Active, &[(&user, "owner")]).await;
    for rec in [&old, &recent, &live] {
        rig.s3.put(&key(rec));
    }
    let db = &rig.app.state.db;
    store::backdate_recording(db, old.id, Utc::now() - Duration::days(3)).await.unwrap();
    store::backdate_recording(db, live.id, Utc::now() - Duration::days(3)).await.unwrap();
    let (a, b) = tokio::join!(
        purge_expired_recordings::run_once(&rig.app.state),
        purge_expired_recordings::run_once(&rig.app.state)
    );
    assert_eq!(a.unwrap().processed + b.unwrap().processed, 1, "one purge across overlapping passes");
    assert!(rig.s3.object(&key(&old)).is_none());
    assert!(rig.s3.object(&key(&recent)).is_some() && rig.s3.object(&key(&live)).is_some());
    assert!(store::recording_purged(db, old.id).await.unwrap());
    let again = purge_expired_recordings::run_once(&rig.app.state).await.unwrap();
    assert_eq!((again.processed, again.message.as_str()), (0, "Purged 0 expired recording object(s)."));
    let rows = meet::store::recordings::get(db, old.id).await.unwrap();
    assert!(rows.is_some(), "the recording row stays");
}

fn meet_cmd(data_dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_meet"));
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("MEET_DATA_DIR", data_dir);
    c
}

#[test]
fn nf_cmd_commands_print_their_counts_and_refuse_negative_hours() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| meet_cmd(dir.path()).args(args).output().unwrap();
    let out = run(&["clean_pending_files", "--hours=-1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Hours must be greater than 0"));
    let out = run(&["clean-pending-files", "--hours", "0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Cleaned 0 stale pending file(s).");
    let out = run(&["purge_deleted_files"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Purged 0 deleted file(s).");
    let out = run(&["purge-expired-recordings"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("RECORDING_EXPIRATION_DAYS is not set"));
}
