//! Tower layers of our own: one log line per request (with a request id), CORS with Django's
//! semantics, the API's fixed headers, and the JSON answer to a panic.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::i18n::{self, Lang};
use crate::state::AppState;

static REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

/// A request id unique across instances and restarts without a system call per request: a random
/// prefix drawn once per process, then a counter.
fn next_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| crate::domain::random_token(12));
    format!("{prefix}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Runs the rest of the request in a task of its own that the connection only waits for: a client
/// that hangs up (closed tab, proxy time-out, load generator stopping) drops this future, never the
/// handler, so a multi-step change (transaction, cache update, LiveKit call, outbox row) always runs
/// to its end instead of stopping at whichever await point the client vanished.
pub async fn run_to_completion(req: Request, next: Next) -> Response {
    match tokio::spawn(next.run(req)).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::error!(error = %e, "request task failed");
            ApiError::internal(anyhow::anyhow!("request task failed: {e}")).into_response()
        }
    }
}

/// Logs `method path route status latency` once per request, inside a span carrying the request
/// id (taken from `X-Request-Id` when it is sane, generated otherwise, and echoed back).
pub async fn request_log(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_string)
        .unwrap_or_else(next_request_id);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let span = tracing::info_span!("request", request_id = %id);
    let in_flight = crate::metrics::InFlight::start();
    let mut resp = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    drop(in_flight);
    let status = resp.status().as_u16();
    let elapsed = start.elapsed().as_secs_f64();
    let latency_ms = elapsed * 1000.0;
    span.in_scope(|| {
        let route = route.as_deref().unwrap_or("-");
        if status >= 500 {
            tracing::warn!(%method, path, route, status, latency_ms, "request");
        } else {
            tracing::info!(%method, path, route, status, latency_ms, "request");
        }
    });
    let labels = crate::metrics::HttpLabels {
        method: crate::metrics::method_label(&method),
        route: route.unwrap_or_else(|| "unmatched".to_string()),
        status: crate::metrics::status_class(status),
    };
    crate::metrics::http_request(&labels, elapsed);
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    resp
}

/// `Vary` on API responses (users-auth-rooms §2.3; `Content-Language` comes from [`locale`]).
pub async fn api_headers(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    if is_api {
        let h = resp.headers_mut();
        h.insert(header::VARY, HeaderValue::from_static("Accept, origin, Accept-Language, Cookie"));
    }
    resp
}

/// Django's `LocaleMiddleware` (users-auth-rooms §2.7): negotiates the language once (cookie,
/// `Accept-Language`, `DJANGO_LANGUAGE_CODE`), runs the rest of the request in it so that every
/// message is written in it, and answers it as `Content-Language` on API responses. Outermost
/// layer: 404s, 405s, rejections and panics are covered too.
pub async fn locale(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let default = i18n::supported_variant(&state.config.language_code).unwrap_or(Lang::En);
    let lang = i18n::negotiate(req.headers(), default);
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = i18n::scope(lang, next.run(req)).await;
    if is_api {
        resp.headers_mut().insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.code()));
    }
    resp
}

fn origin_allowed(state: &AppState, origin: &str) -> bool {
    let c = &state.config;
    c.cors_allow_all_origins
        || c.cors_allowed_origins.iter().any(|o| o == origin)
        || state.cors_regexes.iter().any(|r| r.is_match(origin))
}

/// CORS as django-cors-headers does it, with credentials; same-origin only unless configured
/// (users-auth-rooms §4.11, S7).
pub async fn cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
    let Some(origin) = origin.filter(|o| origin_allowed(&state, o)) else {
        return next.run(req).await;
    };
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if preflight {
        let mut r = StatusCode::OK.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("DELETE, GET, OPTIONS, PATCH, POST, PUT"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with"),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
        r
    } else {
        next.run(req).await
    };
    let h: &mut HeaderMap = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    h.append(header::VARY, HeaderValue::from_static("origin"));
    resp
}

/// A panic in a handler answers the fixed 500 JSON body; the panic itself is logged.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::Internal(anyhow::anyhow!("handler panicked: {msg}")).into_response()
}

/// The internal API's challenge at upstream HEAD (now-external-api §14): session only, so a 401
/// advertises `WWW-Authenticate: Session`; with `MEET_OIDC_BEARER_ENABLED` the reference's
/// `Bearer realm="api"` stays.
pub async fn session_challenge(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if !state.config.oidc.bearer_enabled {
        let h = res.headers_mut();
        if h.get(header::WWW_AUTHENTICATE).is_some_and(|v| v.as_bytes() == b"Bearer realm=\"api\"") {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Session"));
        }
    }
    res
}
