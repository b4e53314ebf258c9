//! A Brevo API double: `POST /v3/contacts` checks the `api-key` header and records each JSON body;
//! tests script its status and a delay.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

pub const API_KEY: &str = "test-brevo-key";

#[derive(Default)]
pub struct Script {
    pub status: Option<u16>,
    pub delay: Duration,
    pub contacts: Vec<Value>,
}

#[derive(Clone)]
pub struct Brevo {
    pub base: String,
    script: Arc<Mutex<Script>>,
}

impl Brevo {
    pub async fn start() -> Brevo {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind brevo");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let script = Arc::new(Mutex::new(Script::default()));
        let app = Router::new().route("/v3/contacts", post(contacts)).with_state(script.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Brevo { base, script }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Script) -> R) -> R {
        f(&mut self.script.lock().unwrap())
    }

    /// The contacts received so far.
    pub fn contacts(&self) -> Vec<Value> {
        self.with(|s| s.contacts.clone())
    }

    /// Waits (up to 3 s) until `n` contacts were received.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..60 {
            if self.contacts().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.contacts()
    }

    /// Settings enabling the sign-up against this double (list id 7).
    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("SIGNUP_NEW_USER_TO_MARKETING_EMAIL", "true".to_string()),
            ("BREVO_API_KEY", API_KEY.into()),
            ("BREVO_API_CONTACT_LIST_IDS", "7".into()),
            ("MEET_BREVO_API_URL", format!("{}/v3", self.base)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

async fn contacts(State(script): State<Arc<Mutex<Script>>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let delay = script.lock().unwrap().delay;
    tokio::time::sleep(delay).await;
    if headers.get("api-key").and_then(|v| v.to_str().ok()) != Some(API_KEY) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"code": "unauthorized"}))).into_response();
    }
    let mut s = script.lock().unwrap();
    s.contacts.push(body);
    match s.status {
        Some(code) => (StatusCode::from_u16(code).unwrap(), Json(json!({"code": "error"}))).into_response(),
        None => (StatusCode::CREATED, Json(json!({"id": s.contacts.len()}))).into_response(),
    }
}
