//! A summary-service double: `POST /api/v1/tasks/` recorded with its headers and JSON body,
//! answered with the scripted status (default 200 `{"id", "message": "Task created"}`).

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
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub idempotency_key: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    tasks: Vec<Task>,
    status: Option<u16>,
}

#[derive(Clone)]
pub struct SummaryDouble {
    pub addr: SocketAddr,
    pub endpoint: String,
    inner: Arc<Mutex<Inner>>,
}

pub const TOKEN: &str = "summary-token";

impl SummaryDouble {
    pub async fn start() -> SummaryDouble {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().route("/api/v1/tasks/", post(handle)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SummaryDouble { addr, endpoint: format!("http://{addr}/api/v1/tasks/"), inner }
    }

    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![("SUMMARY_SERVICE_ENDPOINT", self.endpoint.clone()), ("SUMMARY_SERVICE_API_TOKEN", TOKEN.into())]
    }

    /// Answers with `status` from now on (`None`: 200).
    pub fn answer(&self, status: Option<u16>) {
        self.inner.lock().unwrap().status = status;
    }

    pub fn tasks(&self) -> Vec<Task> {
        self.inner.lock().unwrap().tasks.clone()
    }
}

async fn handle(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let task = Task {
        authorization: h("authorization"),
        content_type: h("content-type"),
        idempotency_key: h("idempotency-key"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let mut inner = inner.lock().unwrap();
    inner.tasks.push(task);
    match inner.status {
        Some(s) if s != 200 => (StatusCode::from_u16(s).unwrap(), "{}").into_response(),
        _ => (StatusCode::OK, json!({"id": "task-1", "message": "Task created"}).to_string()).into_response(),
    }
}
