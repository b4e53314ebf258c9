//! Prometheus metrics: one process-wide set of counters and histograms fed at the choke points
//! (the HTTP layer, the outside-system clients, the cache, the database pool, the background
//! workers and the scheduler), plus gauges read from the store at scrape time (pool, outbox, job
//! queue). Served as the Prometheus text format (0.0.4) by `GET /metrics` when
//! `MEET_METRICS_ENABLED` is true, or on a listener of its own at `MEET_METRICS_BIND`.
//!
//! Every label value comes from a bounded set: route templates (never raw paths or ids), status
//! classes, method names chosen by the code, outside-system operation names, job names.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::state::AppState;

/// `Content-Type` of the answer of `GET /metrics`.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: &'static str,
    /// The matched route template (`/api/v1.0/rooms/{id}/`), `unmatched` for 404s of the fallback.
    pub route: String,
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    pub status: &'static str,
}

/// Labels of a call to an outside system.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `livekit`, `s3`, `smtp`, `oidc`, `summary`, `brevo`.
    pub system: &'static str,
    /// The operation (Twirp method, HTTP step), chosen by the code.
    pub operation: String,
    /// `ok` or `error`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobOutcomeLabels {
    job: &'static str,
    /// `ok`, `error` or `skipped` (another instance ran it).
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// The process-wide instruments.
struct Metrics {
    http: Histograms<HttpLabels>,
    in_flight: Gauge,
    calls: Histograms<CallLabels>,
    cache_ops: Family<OpLabels, Counter>,
    cache_errors: Counter,
    db_begin_wait: Histogram,
    reconciler_runs: Family<EventLabels, Counter>,
    reconciler_actions: Family<ActionLabels, Counter>,
    lobby: Family<EventLabels, Counter>,
    job_runs: Family<JobOutcomeLabels, Counter>,
    job_duration: Histograms<JobLabels>,
    job_last_success: Family<JobLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

fn latency_histogram() -> Histogram {
    Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
}

fn job_histogram() -> Histogram {
    Histogram::new([0.01, 0.1, 1.0, 10.0, 60.0, 300.0, 1800.0])
}

fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| Metrics {
        http: Family::new_with_constructor(latency_histogram),
        in_flight: Gauge::default(),
        calls: Family::new_with_constructor(latency_histogram),
        cache_ops: Family::default(),
        cache_errors: Counter::default(),
        db_begin_wait: latency_histogram(),
        reconciler_runs: Family::default(),
        reconciler_actions: Family::default(),
        lobby: Family::default(),
        job_runs: Family::default(),
        job_duration: Family::new_with_constructor(job_histogram),
        job_last_success: Family::default(),
    })
}

/// The status class label of an HTTP status.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The method label: the standard methods, anything else as `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts a request in flight until dropped (also when the request future is dropped).
pub struct InFlight(());

impl InFlight {
    pub fn start() -> InFlight {
        metrics().in_flight.inc();
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics().in_flight.dec();
    }
}

/// Records one finished HTTP request.
pub fn http_request(labels: &HttpLabels, seconds: f64) {
    metrics().http.get_or_create(labels).observe(seconds);
}

/// Times `call` (an outside-system call) and records its latency and outcome.
pub async fn call<T, E>(
    system: &'static str,
    operation: &str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let start = Instant::now();
    let result = call.await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    let labels = CallLabels { system, operation: operation.to_string(), outcome };
    metrics().calls.get_or_create(&labels).observe(start.elapsed().as_secs_f64());
    result
}

/// Counts one cache operation (a round trip on Redis).
pub fn cache_op(operation: &'static str) {
    metrics().cache_ops.get_or_create(&OpLabels { operation }).inc();
}

/// Counts one cache error.
pub fn cache_error() {
    metrics().cache_errors.inc();
}

/// Records how long starting a database transaction waited (pool, SQLite writer turn).
pub fn db_begin_wait(seconds: f64) {
    metrics().db_begin_wait.observe(seconds);
}

/// Counts one reconciler pass: `ran`, `skipped` (another instance holds the lock) or `error`.
pub fn reconciler_run(outcome: &'static str) {
    metrics().reconciler_runs.get_or_create(&EventLabels { event: outcome }).inc();
}

/// Counts one change made by the reconciler (`adopted`, `failed_to_start`, `aborted`, `saved`).
pub fn reconciler_action(action: &'static str) {
    metrics().reconciler_actions.get_or_create(&ActionLabels { action }).inc();
}

/// Counts one lobby event: `waiting` (a participant asked to enter and waits), `accepted`,
/// `denied`.
pub fn lobby(event: &'static str) {
    metrics().lobby.get_or_create(&EventLabels { event }).inc();
}

/// Records one scheduled-job run.
pub fn job_run(job: &'static str, outcome: &'static str, seconds: Option<f64>) {
    let m = metrics();
    m.job_runs.get_or_create(&JobOutcomeLabels { job, outcome }).inc();
    if let Some(s) = seconds {
        m.job_duration.get_or_create(&JobLabels { job }).observe(s);
    }
    if outcome == "ok" {
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        m.job_last_success.get_or_create(&JobLabels { job }).set(now);
    }
}

/// What the store says at scrape time.
#[derive(Default)]
struct Snapshot {
    outbox_pending: Option<(i64, Option<f64>)>,
    jobs_pending: Option<i64>,
}

async fn snapshot(state: &AppState) -> Snapshot {
    let now = crate::store::now();
    let outbox = match crate::store::schedule::outbox_depth(&state.db).await {
        Ok((n, oldest)) => Some((n, oldest.map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0))),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: outbox depth unavailable");
            None
        }
    };
    let jobs = match crate::store::schedule::jobs_pending(&state.db).await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: job queue depth unavailable");
            None
        }
    };
    Snapshot { outbox_pending: outbox, jobs_pending: jobs }
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

/// The text of `GET /metrics` for this instance.
pub async fn render(state: &AppState) -> String {
    let snap = snapshot(state).await;
    let m = metrics();
    let mut r = Registry::with_prefix("meet");
    r.register(
        "http_request_duration_seconds",
        "HTTP requests by route template, method and status class",
        m.http.clone(),
    );
    r.register("http_requests_in_flight", "HTTP requests being served", m.in_flight.clone());
    r.register(
        "outbound_request_duration_seconds",
        "Calls to outside systems by operation and outcome",
        m.calls.clone(),
    );
    r.register("cache_operations", "Cache operations (Redis round trips) by operation", m.cache_ops.clone());
    r.register("cache_errors", "Cache operations that failed", m.cache_errors.clone());
    r.register(
        "db_transaction_wait_seconds",
        "Time spent waiting to start a database transaction",
        m.db_begin_wait.clone(),
    );
    r.register("reconciler_runs", "Recording reconciler passes by outcome", m.reconciler_runs.clone());
    r.register("reconciler_actions", "Recording changes made by the reconciler", m.reconciler_actions.clone());
    r.register("lobby_events", "Lobby entry requests and decisions", m.lobby.clone());
    r.register("job_runs", "Scheduled job runs by outcome", m.job_runs.clone());
    r.register("job_duration_seconds", "Scheduled job run durations", m.job_duration.clone());
    r.register(
        "job_last_success_timestamp_seconds",
        "Unix time of the last successful run of each job",
        m.job_last_success.clone(),
    );
    let pool = state.db.pool_stats();
    let states: Family<StateLabels, Gauge> = Family::default();
    states.get_or_create(&StateLabels { state: "idle" }).set(pool.idle as i64);
    states.get_or_create(&StateLabels { state: "in_use" }).set(pool.size.saturating_sub(pool.idle) as i64);
    r.register("db_pool_connections", "Open database connections by state", states);
    gauge(&mut r, "db_pool_max_connections", "Largest database pool size", pool.max as i64);
    if let Some((n, oldest)) = snap.outbox_pending {
        gauge(&mut r, "outbox_pending", "Recording notifications not yet delivered nor abandoned", n);
        let age: Gauge<f64, std::sync::atomic::AtomicU64> = Gauge::default();
        age.set(oldest.unwrap_or(0.0));
        r.register("outbox_oldest_pending_age_seconds", "Age of the oldest pending notification (0: none)", age);
    }
    if let Some(n) = snap.jobs_pending {
        gauge(&mut r, "job_queue_pending", "Deferred jobs not yet finished", n);
    }
    let mut out = String::with_capacity(8192);
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &r) {
        tracing::warn!(error = %e, "metrics could not be encoded");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_are_bounded() {
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(301), "3xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(999), "5xx");
        assert_eq!(method_label(&axum::http::Method::from_bytes(b"PROPFIND").unwrap()), "other");
    }
}
