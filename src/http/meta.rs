//! The API root and the frontend configuration (users-auth-rooms §2.1, §5.11).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{json, Value};

use super::extract::{Caller, Origin};
use super::{ApiRoute, ViewAuth, API};
use crate::config::Config;
use crate::error::{json_response, ApiError};
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/api/v1.0/", "Api Root", ViewAuth::Any, get(root))
            .doc(Method::GET, "Links to the API's collections")
            .returns::<ApiRootOut>(200),
        ApiRoute::new("/api/v1.0/config/", "Config", ViewAuth::Any, get(config))
            .doc(Method::GET, "Settings the frontend needs (recording, analytics, support)")
            .returns::<FrontendConfigOut>(200)
            .no_head(),
    ]
}

/// `GET /api/v1.0/`: absolute links to the collections.
async fn root(origin: Origin, _caller: Caller) -> Response {
    let base = format!("{}{API}", origin.base());
    json_response(
        StatusCode::OK,
        &json!({
            "users": format!("{base}/users/"),
            "rooms": format!("{base}/rooms/"),
            "recordings": format!("{base}/recordings/"),
            "resource-accesses": format!("{base}/resource-accesses/"),
        }),
    )
}

/// `GET /api/v1.0/config/`: users-auth-rooms §5.11. Open to anyone, but a bad bearer header is
/// still refused by authentication.
async fn config(State(state): State<AppState>, _caller: Caller) -> Result<Response, ApiError> {
    let mut resp = (StatusCode::OK, state.frontend_config.clone()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// Serializes the `/config/` body once, keys in the reference's order.
pub fn frontend_config(c: &Config) -> Bytes {
    let modes: Vec<Value> = c.recording_worker_classes.keys().map(|k| Value::String(k.clone())).collect();
    let body = json!({
        "LANGUAGE_CODE": c.language_code,
        "recording": {"is_enabled": c.recording_enable, "available_modes": modes},
        "analytics": Value::Object(c.frontend_analytics.clone()),
        "support": Value::Object(c.frontend_support.clone()),
        "silence_livekit_debug_logs": c.frontend_silence_livekit_debug,
    });
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

/// The schema of the `GET /api/v1.0/` body (absolute URLs). The OpenAPI tests check that the
/// answer has exactly these keys.
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "ApiRoot")]
pub struct ApiRootOut {
    pub users: String,
    pub rooms: String,
    pub recordings: String,
    #[serde(rename = "resource-accesses")]
    pub resource_accesses: String,
}

/// The schema of the `/config/` body built by [`frontend_config`]. The OpenAPI tests check that
/// the answer has exactly these keys.
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "FrontendConfig")]
pub struct FrontendConfigOut {
    #[serde(rename = "LANGUAGE_CODE")]
    pub language_code: String,
    pub recording: RecordingConfigOut,
    /// `FRONTEND_ANALYTICS`, as configured.
    pub analytics: serde_json::Map<String, Value>,
    /// `FRONTEND_SUPPORT`, as configured.
    pub support: serde_json::Map<String, Value>,
    pub silence_livekit_debug_logs: bool,
}

/// The `recording` part of [`FrontendConfigOut`].
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "RecordingConfig")]
pub struct RecordingConfigOut {
    pub is_enabled: bool,
    /// The keys of `RECORDING_WORKER_CLASSES`.
    pub available_modes: Vec<String>,
}
