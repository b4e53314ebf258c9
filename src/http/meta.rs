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
            .doc(Method::GET, "Links to the API's collections")
            .returns::<ApiRootOut>(200),
        ApiRoute::new("/api/v1.0/config/", "Config", ViewAuth::Any, get(config))
            .doc(Method::GET, "Settings the frontend needs (recording, LiveKit, telephony, features, analytics)")
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

/// `GET /api/v1.0/config/`: users-auth-rooms §5.11, now-rooms §14 (body computed once by
/// `Config::frontend_config`). Open to anyone, but a bad bearer header is
/// still refused by authentication.
async fn config(State(state): State<AppState>, _caller: Caller) -> Result<Response, ApiError> {
    let mut resp = (StatusCode::OK, state.frontend_config.clone()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
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

/// The keys of the `/config/` body built by `Config::frontend_config` (now-rooms §14). The
/// OpenAPI tests check that the answer has exactly these keys.
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "FrontendConfig")]
pub struct FrontendConfigOut {
    #[serde(rename = "LANGUAGE_CODE")]
    pub language_code: serde_json::Value,
    pub recording: serde_json::Value,
    pub background_image: serde_json::Value,
    pub telephony: serde_json::Value,
    pub resource: serde_json::Value,
    pub subtitle: serde_json::Value,
    pub diagnostics: serde_json::Value,
    pub livekit: serde_json::Value,
    pub authenticated_users_can_edit_display_name: serde_json::Value,
    pub custom_css_url: serde_json::Value,
    pub analytics: serde_json::Value,
    pub support: serde_json::Value,
    pub silence_livekit_debug_logs: serde_json::Value,
    pub is_silent_login_enabled: serde_json::Value,
    pub idle_disconnect_warning_delay: serde_json::Value,
    pub feedback: serde_json::Value,
    pub documentation_url: serde_json::Value,
    pub external_home_url: serde_json::Value,
    pub use_french_gov_footer: serde_json::Value,
    pub use_proconnect_button: serde_json::Value,
    pub manifest_link: serde_json::Value,
    pub transcription_destination: serde_json::Value,
    pub max_participants_for_sound: serde_json::Value,
    pub auto_mute_on_join_threshold: serde_json::Value,
}
