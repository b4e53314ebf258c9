//! A summary-service double: `POST /api/v1/tasks/` (version 1) and
//! `POST /api/v2/async-jobs/transcribe` (version 2) recorded with their path, headers and JSON
//! body, answered with the scripted status (default 200 `{"id", "message": "Task created"}` on
//! v1, `{"job_id": "job-<n>", "type": "transcript", "status": "pending"}` on v2) or body.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

/// One request received.
#[derive(Clone, Debug)]
pub struct Task {
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub idempotency_key: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    tasks: Vec<Task>,
    status: Option<u16>,
    body: Option<Value>,
}

#[derive(Clone)]
pub struct SummaryDouble {
    pub addr: SocketAddr,
    pub endpoint: String,
    /// The version 2 route.
    pub endpoint_v2: String,
    inner: Arc<Mutex<Inner>>,
}

pub const TOKEN: &str = "summary-token";
/// The bearer the summary service sends to `external-process-hook` in `vars_v2`.
pub const HOOK_TOKEN: &str = "hook-token";

impl SummaryDouble {
    pub async fn start() -> SummaryDouble {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/api/v1/tasks/", post(handle))
            .route("/api/v2/async-jobs/transcribe", post(handle))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SummaryDouble {
            addr,
            endpoint: format!("http://{addr}/api/v1/tasks/"),
            endpoint_v2: format!("http://{addr}/api/v2/async-jobs/transcribe"),
            inner,
        }
    }

    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![("SUMMARY_SERVICE_ENDPOINT", self.endpoint.clone()), ("SUMMARY_SERVICE_API_TOKEN", TOKEN.into())]
    }

    /// Answers with `status` from now on (`None`: 200).
    pub fn answer(&self, status: Option<u16>) {
        self.inner.lock().unwrap().status = status;
    }

    /// Answers 2xx with `body` from now on (`None`: the route's default body).
    pub fn answer_body(&self, body: Option<Value>) {
        self.inner.lock().unwrap().body = body;
    }

    /// The settings of a version 2 deployment (webhook token `hook-token`).
    pub fn vars_v2(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SUMMARY_SERVICE_ENDPOINT", self.endpoint_v2.clone()),
            ("SUMMARY_SERVICE_VERSION", "2".into()),
            ("SUMMARY_SERVICE_WEBHOOK_API_TOKEN", HOOK_TOKEN.into()),
        ]
    }

    pub fn tasks(&self) -> Vec<Task> {
        self.inner.lock().unwrap().tasks.clone()
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let task = Task {
        path: uri.path().to_string(),
        authorization: h("authorization"),
        content_type: h("content-type"),
        idempotency_key: h("idempotency-key"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let mut inner = inner.lock().unwrap();
    inner.tasks.push(task);
    let n = inner.tasks.len();
    match (inner.status, &inner.body) {
        (Some(s), _) if s != 200 => (StatusCode::from_u16(s).unwrap(), "{}").into_response(),
        (_, Some(b)) => (StatusCode::OK, b.to_string()).into_response(),
        _ if uri.path().starts_with("/api/v2/") => {
            let job = json!({"job_id": format!("job-{n}"), "type": "transcript", "status": "pending"});
            (StatusCode::OK, [("content-type", "application/json")], job.to_string()).into_response()
        }
        _ => (StatusCode::OK, json!({"id": "task-1", "message": "Task created"}).to_string()).into_response(),
    }
}
