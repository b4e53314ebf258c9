//! A dependency that goes away while the app runs: the affected requests answer
//! `503 {"detail": …}`, the heartbeat says which one, and service resumes by itself when it returns.
//! Runs where the dependency is a network service (PostgreSQL, Redis).

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::proxy::Proxy;
use crate::support::{pg_url, redis_url, TestApp, TestDb};

fn socket_of(url: &str, default_port: u16) -> SocketAddr {
    let u = url::Url::parse(url).unwrap();
    let host = match u.host_str().unwrap() {
        "localhost" => "127.0.0.1",
        h => h,
    };
    format!("{host}:{}", u.port().unwrap_or(default_port)).parse().unwrap()
}

async fn wait_for_status(c: &crate::support::TestClient, path: &str, want: u16) -> crate::support::Resp {
    let mut last = None;
    for _ in 0..60 {
        let r = c.get(path).await;
        if r.status == want {
            return r;
        }
        last = Some(r);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{path} never answered {want}: {last:?}");
}

#[tokio::test]
async fn redis_outage_is_503_and_recovers() {
    let Some(redis) = redis_url() else { return };
    let mut proxy = Proxy::start(socket_of(&redis, 6379)).await;
    let mut via = url::Url::parse(&redis).unwrap();
    via.set_host(Some("127.0.0.1")).unwrap();
    via.set_port(Some(proxy.addr.port())).unwrap();
    let app = TestApp::spawn_with(&[("REDIS_URL", via.as_str())]).await;
    let (_, c) = app.logged_in("outage@example.com").await;
    assert_eq!(c.get("/api/v1.0/users/me/").await.status, 200);

    proxy.down().await;
    let r = wait_for_status(&c, "/api/v1.0/users/me/", 503).await;
    assert!(r.json()["detail"].as_str().unwrap().contains("cache"));
    let hb = c.get("/__heartbeat__").await;
    assert_eq!(hb.status, 500);
    assert_eq!(hb.json()["checks"]["cache"], "error");

    proxy.up().await;
    wait_for_status(&c, "/api/v1.0/users/me/", 200).await;
    assert_eq!(c.get("/__heartbeat__").await.status, 200);
}

#[tokio::test]
async fn postgres_outage_is_503_and_recovers() {
    let Some(pg) = pg_url() else { return };
    let db = TestDb::new().await;
    let mut proxy = Proxy::start(socket_of(&pg, 5432)).await;
    let mut via = url::Url::parse(&db.url).unwrap();
    via.set_host(Some("127.0.0.1")).unwrap();
    via.set_port(Some(proxy.addr.port())).unwrap();
    let app = TestApp::spawn_with(&[("DATABASE_URL", via.as_str())]).await;
    let (_, c) = app.logged_in("pg-outage@example.com").await;
    assert_eq!(c.get("/api/v1.0/users/me/").await.status, 200);

    proxy.down().await;
    let r = wait_for_status(&c, "/api/v1.0/users/me/", 503).await;
    assert!(r.json()["detail"].as_str().unwrap().contains("database"));

    proxy.up().await;
    wait_for_status(&c, "/api/v1.0/users/me/", 200).await;
    drop(db);
}
