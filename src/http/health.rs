//! Dockerflow operational endpoints: `/__lbheartbeat__` (the process answers),
//! `/__heartbeat__` (database and cache answer), `/__version__`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use crate::error::json_response;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/__lbheartbeat__", get(lbheartbeat))
        .route("/__heartbeat__", get(heartbeat))
        .route("/__version__", get(version))
}

/// `GET /__lbheartbeat__`: 200 as long as the process serves requests.
async fn lbheartbeat() -> Response {
    StatusCode::OK.into_response()
}

/// `GET /__heartbeat__`: 200 when the database and the cache answer, 500 naming the one that
/// does not (its error is logged, not shown).
async fn heartbeat(State(state): State<AppState>) -> Response {
    let (db, cache) = tokio::join!(
        tokio::time::timeout(std::time::Duration::from_secs(3), state.db.ping()),
        tokio::time::timeout(std::time::Duration::from_secs(3), state.cache.ping()),
    );
    let mut checks = Map::new();
    let mut details = Map::new();
    let mut record = |name: &str, result: Result<(), String>| match result {
        Ok(()) => {
            checks.insert(name.into(), Value::from("ok"));
        }
        Err(e) => {
            tracing::error!(check = name, error = %e, "heartbeat check failed");
            checks.insert(name.into(), Value::from("error"));
            details.insert(name.into(), Value::from(format!("the {name} is unreachable")));
        }
    };
    record("database", db.map_err(|_| "timeout".to_string()).and_then(|r| r.map_err(|e| e.to_string())));
    record("cache", cache.map_err(|_| "timeout".to_string()).and_then(|r| r.map_err(|e| e.to_string())));
    let ok = details.is_empty();
    let body = json!({"status": if ok { "ok" } else { "error" }, "checks": checks, "details": details});
    json_response(if ok { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR }, &body)
}

/// `GET /__version__`: what is running.
async fn version() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "source": env!("CARGO_PKG_NAME"),
            "version": env!("CARGO_PKG_VERSION"),
            "commit": option_env!("MEET_GIT_COMMIT").unwrap_or(""),
            "build": option_env!("MEET_BUILD").unwrap_or(""),
        }),
    )
}
