//! An S3 double answering `HEAD /<bucket>/<key>` (path style, as with MinIO): 200 for the
//! objects a test put, 404 otherwise, 403 when the request carries no SigV4 headers, 503 while
//! told to be down. Every request is recorded.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Router;

#[derive(Default)]
struct Inner {
    objects: HashSet<String>,
    requests: Vec<(String, String)>,
    down: bool,
}

#[derive(Clone)]
pub struct S3Double {
    pub addr: SocketAddr,
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

pub const BUCKET: &str = "meet-media-storage";

impl S3Double {
    pub async fn start() -> S3Double {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        S3Double { addr, url: format!("http://{addr}"), inner }
    }

    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_S3_ENDPOINT_URL", self.url.clone()),
            ("AWS_S3_ACCESS_KEY_ID", "meet".into()),
            ("AWS_S3_SECRET_ACCESS_KEY", "password".into()),
            ("AWS_STORAGE_BUCKET_NAME", BUCKET.into()),
        ]
    }

    /// Stores an object at `key` (in the test bucket).
    pub fn put(&self, key: &str) {
        self.inner.lock().unwrap().objects.insert(format!("/{BUCKET}/{key}"));
    }

    pub fn set_down(&self, down: bool) {
        self.inner.lock().unwrap().down = down;
    }

    /// `(method, path)` of every request received.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().requests.clone()
    }
}

async fn handle(State(inner): State<Arc<Mutex<Inner>>>, req: Request) -> StatusCode {
    let path = req.uri().path().to_string();
    let mut inner = inner.lock().unwrap();
    inner.requests.push((req.method().to_string(), path.clone()));
    if inner.down {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let signed = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 Credential=meet/"))
        && req.headers().contains_key("x-amz-date")
        && req.headers().contains_key("x-amz-content-sha256");
    if !signed {
        return StatusCode::FORBIDDEN;
    }
    if req.method() != axum::http::Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED;
    }
    if inner.objects.contains(&path) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    }
}
