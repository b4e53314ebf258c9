//! The API root and the frontend configuration (users-auth-rooms §2.1, §5.11).

use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::extract::{Caller, Origin};
use super::{ApiRoute, ViewAuth, API};
use crate::error::{json_response, ApiError};
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/api/v1.0/", "Api Root", ViewAuth::Any, get(root))
            .doc(Method::GET, "Links to the API's collections"),
        ApiRoute::new("/api/v1.0/config/", "Config", ViewAuth::Any, get(config))
            .doc(Method::GET, "Settings the frontend needs (recording, LiveKit, telephony, features, analytics)")
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

/// `GET /api/v1.0/config/`: users-auth-rooms §5.11, now-rooms §14 (body computed once by
/// `Config::frontend_config`). Open to anyone, but a bad bearer header is
/// still refused by authentication.
async fn config(State(state): State<AppState>, _caller: Caller) -> Result<Response, ApiError> {
    let mut resp = (StatusCode::OK, state.frontend_config.clone()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}
