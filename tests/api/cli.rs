//! The `meet` command line: `check-config`, `migrate`, `serve --bind` with a graceful stop.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn meet() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_meet"));
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

#[test]
fn check_config_masks_secrets_and_names_every_invalid_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = meet()
        .args(["check-config"])
        .env("MEET_DATA_DIR", dir.path())
        .env("DJANGO_SECRET_KEY", "super-secret-value")
        .env("LIVEKIT_API_SECRET", "another-secret")
        .env("DATABASE_URL", "postgres://u:pw@db:5432/meet")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("DJANGO_SECRET_KEY=***"), "{text}");
    assert!(text.contains("DATABASE_URL=postgres://u:***@db:5432/meet"), "{text}");
    assert!(!text.contains("super-secret-value") && !text.contains("another-secret") && !text.contains(":pw@"));

    let out = meet()
        .args(["check-config"])
        .env("MEET_DATA_DIR", dir.path())
        .env("RECORDING_ENABLE", "maybe")
        .env("LOBBY_WAITING_TIMEOUT", "0")
        .env("MEET_BIND", "nowhere")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    for var in ["RECORDING_ENABLE", "LOBBY_WAITING_TIMEOUT", "MEET_BIND"] {
        assert!(err.contains(var), "{var} not named in {err}");
    }
}

#[test]
fn migrate_creates_the_embedded_database_and_the_secret_once() {
    let dir = tempfile::tempdir().unwrap();
    let status = meet().arg("migrate").env("MEET_DATA_DIR", dir.path()).stderr(Stdio::null()).status().unwrap();
    assert!(status.success());
    assert!(dir.path().join("meet.sqlite3").exists());
    let secret = std::fs::read_to_string(dir.path().join("secret_key")).unwrap();
    assert!(secret.len() >= 50);
    // A second run keeps the same secret and applies nothing new.
    assert!(meet().arg("migrate").env("MEET_DATA_DIR", dir.path()).stderr(Stdio::null()).status().unwrap().success());
    assert_eq!(std::fs::read_to_string(dir.path().join("secret_key")).unwrap(), secret);
}

#[test]
fn serve_binds_the_given_address_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = meet()
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("MEET_DATA_DIR", dir.path())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut up = false;
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            s.write_all(b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.1 200") {
                up = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(up, "server did not answer");
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful shutdown exits 0: {status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn nm_mrg_6_merge_duplicate_users_dry_run_on_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = meet()
        .args(["merge-duplicate-users", "--dry-run", "--email-filter", "@example.com"])
        .env("MEET_DATA_DIR", dir.path())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "[DRY-RUN] No changes will be written.\n[INFO] Filtering emails containing '@example.com'.\n\
         [INFO] No duplicate users found. Nothing to do.\n"
    );
}
