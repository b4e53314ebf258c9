//! `GET /metrics`: the Prometheus text format of [`crate::metrics`], on the API listener when
//! `MEET_METRICS_ENABLED` is true or on its own listener at `MEET_METRICS_BIND`; behind
//! `Authorization: Bearer <MEET_METRICS_TOKEN>` when that is set.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

pub const PATH: &str = "/metrics";

pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(scrape))
}

/// The router of the separate metrics listener (`MEET_METRICS_BIND`): `/metrics` only.
pub fn router(state: AppState) -> Router {
    routes().fallback(|| async { ApiError::NotFound }).with_state(state)
}

/// True when `headers` carry the configured token (constant-time comparison), or none is set.
fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    use subtle::ConstantTimeEq;
    let Some(token) = state.config.ops.metrics_token.as_deref() else { return true };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    given.len() == token.len() && bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

/// `GET /metrics`: 200 with the metrics, 401 without the configured token.
async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return ApiError::Unauthenticated.into_response();
    }
    let body = crate::metrics::render(&state).await;
    let mut resp = body.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::metrics::CONTENT_TYPE));
    resp
}
