//! Operating meet (issue 15): the Prometheus endpoint (OPS-M) and the scheduler (OPS-J). The
//! scrape is parsed with a real Prometheus text-format parser.

use std::time::Duration;

use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue};

use crate::support::livekit::{Failure, LiveKitDouble};
use crate::support::rooms::create_room;
use crate::support::{TestApp, TestClient};

type Scrape = MetricsExposition<PrometheusType, PrometheusValue>;

fn parse(text: &str) -> Scrape {
    openmetrics_parser::prometheus::parse_prometheus(text)
        .unwrap_or_else(|e| panic!("not a valid Prometheus text exposition ({e:?}):\n{text}"))
}

/// The value of the first sample of `family` whose labels include `labels` (a histogram's
/// count).
fn value(scrape: &Scrape, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let f = scrape.families.get(family)?;
    f.iter_samples().find_map(|s| {
        let set = s.get_labelset().ok()?;
        if !labels.iter().all(|(k, v)| set.get_label_value(k) == Some(v)) {
            return None;
        }
        Some(match &s.value {
            PrometheusValue::Unknown(n) | PrometheusValue::Gauge(n) => n.as_f64(),
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Histogram(h) => h.count.unwrap_or(0) as f64,
            PrometheusValue::Summary(s) => s.count.unwrap_or(0) as f64,
        })
    })
}

/// Every label value of the scrape.
fn label_values(scrape: &Scrape) -> Vec<String> {
    let mut out = Vec::new();
    for f in scrape.families.values() {
        for s in f.iter_samples() {
            if let Ok(set) = s.get_labelset() {
                out.extend(set.iter_values().cloned());
            }
        }
    }
    out
}

async fn scrape(app: &TestApp) -> (Scrape, String) {
    let r = app.client().get("/metrics").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-type").unwrap_or("").starts_with("text/plain; version=0.0.4"), "{:?}", r.headers);
    (parse(&r.text), r.text)
}

#[tokio::test]
async fn ops_m1_metrics_are_off_by_default() {
    let app = TestApp::spawn().await;
    assert_eq!(app.client().get("/metrics").await.status, 404);
}

#[tokio::test]
async fn ops_m2_requests_are_counted_by_route_template_and_status_class_never_by_raw_path() {
    let app = TestApp::spawn_with(&[("MEET_METRICS_ENABLED", "true")]).await;
    let room = create_room(&app, "metrics room", "public").await;
    let anon = app.client();
    assert_eq!(anon.get(&format!("/api/v1.0/rooms/{}/", room.id)).await.status, 200);
    assert_eq!(anon.get("/api/v1.0/config/").await.status, 200);
    assert_eq!(anon.get(&format!("/api/v1.0/rooms/{}/", uuid::Uuid::new_v4())).await.status, 404);
    assert_eq!(anon.get("/no/such/path/at/all").await.status, 404);

    let (s, text) = scrape(&app).await;
    let count = "meet_http_request_duration_seconds";
    let room_ok = [("method", "GET"), ("route", "/api/v1.0/rooms/{id}/"), ("status", "2xx")];
    assert!(value(&s, count, &room_ok).unwrap_or(0.0) >= 1.0, "{text}");
    let room_404 = [("method", "GET"), ("route", "/api/v1.0/rooms/{id}/"), ("status", "4xx")];
    assert!(value(&s, count, &room_404).unwrap_or(0.0) >= 1.0, "{text}");
    assert!(value(&s, count, &[("route", "/api/v1.0/config/"), ("status", "2xx")]).unwrap_or(0.0) >= 1.0);
    assert!(value(&s, count, &[("route", "unmatched"), ("status", "4xx")]).unwrap_or(0.0) >= 1.0);
    // Bounded cardinality: no id, slug or raw path ever becomes a label value.
    for v in label_values(&s) {
        assert!(!v.contains(&room.id.to_string()) && !v.contains("/no/such"), "unbounded label {v}");
    }
    assert!(value(&s, "meet_http_requests_in_flight", &[]).is_some(), "{text}");
    let max = value(&s, "meet_db_pool_max_connections", &[]).expect("pool size");
    assert_eq!(max, 5.0, "MEET_DB_POOL_SIZE of the test apps");
    assert!(value(&s, "meet_db_pool_connections", &[("state", "idle")]).is_some(), "{text}");
    assert!(value(&s, "meet_db_transaction_wait_seconds", &[]).unwrap_or(0.0) >= 1.0, "{text}");
    assert_eq!(value(&s, "meet_outbox_pending", &[]), Some(0.0), "{text}");
    assert_eq!(value(&s, "meet_outbox_oldest_pending_age_seconds", &[]), Some(0.0), "{text}");
    assert!(value(&s, "meet_job_queue_pending", &[]).is_some(), "{text}");
}

#[tokio::test]
async fn ops_m3_a_separate_listener_serves_the_metrics_and_the_api_does_not() {
    let app = TestApp::spawn_with(&[("MEET_METRICS_BIND", "127.0.0.1:0"), ("MEET_METRICS_ENABLED", "true")]).await;
    assert_eq!(app.client().get("/metrics").await.status, 404, "not on the API listener");
    let metrics = TestClient::new(format!("http://{}", app.metrics_addr.expect("metrics listener")), None);
    let r = metrics.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert!(value(&parse(&r.text), "meet_db_pool_max_connections", &[]).is_some(), "{}", r.text);
    assert_eq!(metrics.get("/api/v1.0/config/").await.status, 404, "only /metrics there");
}

#[tokio::test]
async fn ops_m4_a_metrics_token_is_required_when_set() {
    let app = TestApp::spawn_with(&[("MEET_METRICS_ENABLED", "true"), ("MEET_METRICS_TOKEN", "s3cret-scrape")]).await;
    let c = app.client();
    assert_eq!(c.get("/metrics").await.status, 401);
    let wrong = TestClient::send(c.request(reqwest::Method::GET, "/metrics").bearer_auth("s3cret-scrapf")).await;
    assert_eq!(wrong.status, 401);
    let right = TestClient::send(c.request(reqwest::Method::GET, "/metrics").bearer_auth("s3cret-scrape")).await;
    assert_eq!(right.status, 200);
    parse(&right.text);
}

#[tokio::test]
async fn ops_m5_livekit_calls_are_timed_with_their_outcome() {
    let lk = LiveKitDouble::start().await;
    let app = lk.spawn_app(&[("MEET_METRICS_ENABLED", "true")]).await;
    let before = scrape(&app).await.0;
    let ok = [("system", "livekit"), ("operation", "DeleteRoom"), ("outcome", "ok")];
    let err = [("system", "livekit"), ("operation", "DeleteRoom"), ("outcome", "error")];
    let name = "meet_outbound_request_duration_seconds";
    let (ok0, err0) = (value(&before, name, &ok).unwrap_or(0.0), value(&before, name, &err).unwrap_or(0.0));
    app.state.livekit.delete_room("connection-test-a").await.expect("deleted");
    lk.fail_method("DeleteRoom", Some(Failure::Twirp(500, "internal")));
    assert!(app.state.livekit.delete_room("connection-test-b").await.is_err());
    let (after, text) = scrape(&app).await;
    assert!(value(&after, name, &ok).unwrap_or(0.0) >= ok0 + 1.0, "{text}");
    assert!(value(&after, name, &err).unwrap_or(0.0) >= err0 + 1.0, "{text}");
}

async fn expired_session(app: &TestApp, key: &str) {
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    meet::store::sessions::save(&app.state.db, key, "{}", None, past).await.expect("session saved");
}

async fn session_exists(app: &TestApp, key: &str) -> bool {
    meet::store::sessions::load(&app.state.db, key).await.expect("load").is_some() || sqlx_count(app, key).await > 0
}

/// Counts the rows of `key` whatever their expiry (`load` hides expired sessions).
async fn sqlx_count(app: &TestApp, key: &str) -> i64 {
    #[derive(sqlx::FromRow)]
    struct N {
        n: i64,
    }
    let n: N = meet::store::Q::new("SELECT COUNT(*) AS n FROM meet_session WHERE session_key = $1")
        .bind(key)
        .fetch_one(&app.state.db)
        .await
        .expect("count");
    n.n
}

#[tokio::test]
async fn ops_j1_the_scheduler_runs_a_job_every_period_and_counts_it() {
    let app =
        TestApp::spawn_with(&[("MEET_METRICS_ENABLED", "true"), ("MEET_PURGE_EXPIRED_SESSIONS_PERIOD", "1")]).await;
    expired_session(&app, "expired-session-key-j1").await;
    let start = std::time::Instant::now();
    while session_exists(&app, "expired-session-key-j1").await {
        assert!(start.elapsed() < Duration::from_secs(15), "the expired session was never purged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, text) = scrape(&app).await;
    let ok = [("job", "purge-expired-sessions"), ("outcome", "ok")];
    assert!(value(&s, "meet_job_runs_total", &ok).unwrap_or(0.0) >= 1.0, "{text}");
    assert!(value(&s, "meet_job_last_success_timestamp_seconds", &[("job", "purge-expired-sessions")]).is_some());
    let runs = meet::store::schedule::list(&app.state.db).await.expect("runs");
    let row = runs.iter().find(|r| r.name == "purge-expired-sessions").expect("run recorded");
    assert_eq!(row.last_outcome.as_deref(), Some("ok"));
}

#[tokio::test]
async fn ops_j2_a_period_runs_once_across_instances_and_never_twice_at_once() {
    use meet::service::scheduler::{attempt, find, Attempt};
    // Period 0: the instances' own schedulers stay off; the attempts below are the only runs.
    let off = [("MEET_PURGE_EXPIRED_SESSIONS_PERIOD", "0"), ("MEET_PURGE_FINISHED_JOBS_PERIOD", "0")];
    let a = TestApp::spawn_with(&off).await;
    let b = TestApp::start(a.db.clone(), a.data_dir.clone(), a.vars.clone()).await;
    let job = find("purge-expired-sessions").expect("registered");
    let hour = Duration::from_secs(3600);
    expired_session(&a, "expired-j2").await;
    assert_eq!(attempt(&a.state, job, hour, false).await, Attempt::Ran(Ok("1".into())));
    assert_eq!(attempt(&b.state, job, hour, false).await, Attempt::NotDue, "same period, other instance");
    assert_eq!(attempt(&a.state, job, hour, false).await, Attempt::NotDue, "same period, same instance");
    // While one runner holds the job, nobody else runs it, even forced.
    let lock = meet::store::schedule::try_lock(&a.state.db, job.name).await.expect("lock").expect("free");
    assert_eq!(attempt(&b.state, job, hour, true).await, Attempt::Busy);
    lock.release().await.expect("released");
    assert_eq!(attempt(&b.state, job, hour, true).await, Attempt::Ran(Ok("0".into())), "forced run");
    let runs = meet::store::schedule::list(&a.state.db).await.expect("runs");
    assert_eq!(runs.iter().find(|r| r.name == job.name).map(|r| r.runs), Some(2));
}
