//! The add-on session routes of the Outlook add-in (now-external-api §12), behind `ADDONS_ENABLED`:
//! `init` and `poll` authenticate nobody (the `addonsSid` cookie and the add-on CSRF token are
//! their credentials), `exchange` is a session route with Django's CSRF check. The rules and the
//! atomic cache operations live in `service::addons`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde::Serialize;
use serde_json::Value;

use super::client_ip::ClientIp;
use super::extract::{cookie, Body, Caller};
use super::rooms::respond;
use super::{ApiRoute, ViewAuth};
use crate::error::{json_response, ApiError};
use crate::i18n::{msg, Msg};
use crate::service::addons::{self as svc, InitOut, Poll, PollDone};
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/api/v1.0/addons/sessions/init/", "Add-on session", ViewAuth::Any, post(init))
            .doc(Method::POST, "Start an add-on session: a transit token, an add-on CSRF token and the session cookie")
            .returns::<InitOut>(201)
            .errors(&[404, 429]),
        ApiRoute::new("/api/v1.0/addons/sessions/poll/", "Add-on session", ViewAuth::Any, post(poll))
            .doc(Method::POST, "Poll the session of the `addonsSid` cookie: pending, or the add-on token (once)")
            .returns::<PollDone>(200)
            .returns::<PollPending>(202)
            .errors(&[400, 404]),
        ApiRoute::new("/api/v1.0/addons/sessions/exchange/", "Add-on session", ViewAuth::User, post(exchange))
            .doc(Method::POST, "Bind the session of a transit token to the logged-in user")
            .body::<ExchangeIn>()
            .returns::<ExchangeOut>(200)
            .errors(&[400, 404]),
    ]
}

/// The answer of a poll while the login has not finished.
#[derive(Serialize, Debug, schemars::JsonSchema)]
pub struct PollPending {
    /// `pending`
    pub state: String,
}

/// The body of `exchange`.
#[derive(Debug, schemars::JsonSchema)]
pub struct ExchangeIn {
    /// The transit token `init` returned.
    #[schemars(length(min = 1))]
    pub transit_token: String,
}

/// The answer of `exchange`.
#[derive(Serialize, Debug, schemars::JsonSchema)]
pub struct ExchangeOut {
    /// `ok`
    pub status: String,
}

fn enabled(state: &AppState) -> Result<(), ApiError> {
    if state.config.external_api.addons_enabled {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// `Set-Cookie` of the session cookie: `Secure` and `SameSite=None` always (the add-in runs in a
/// third-party frame).
fn session_cookie(state: &AppState, value: &str, max_age: u64, expires: &str) -> HeaderValue {
    let name = &state.config.addons.cookie_name;
    let text = format!("{name}={value}; expires={expires}; HttpOnly; Max-Age={max_age}; Path=/; SameSite=None; Secure");
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static(""))
}

fn http_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// `POST /api/v1.0/addons/sessions/init/`: now-external-api §12.4.
async fn init(State(state): State<AppState>, ClientIp(ip): ClientIp) -> Result<Response, ApiError> {
    enabled(&state)?;
    // W55: unauthenticated writes to the cache, bounded per client address.
    crate::service::throttle::check(&state, "addons_init", &ip, state.config.addons.init_throttle_rate).await?;
    let now = chrono::Utc::now();
    let (session_id, out) = svc::init(&state, now).await?;
    let ttl = state.config.addons.session_ttl;
    let expires = http_date(now + chrono::Duration::from_std(ttl).unwrap_or_default());
    let mut resp = respond(StatusCode::CREATED, &out);
    resp.headers_mut().append(header::SET_COOKIE, session_cookie(&state, &session_id, ttl.as_secs(), &expires));
    Ok(resp)
}

/// `POST /api/v1.0/addons/sessions/poll/`: now-external-api §12.5 (the body is ignored).
async fn poll(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    enabled(&state)?;
    let Some(session_id) = cookie(&headers, &state.config.addons.cookie_name).filter(|v| !v.is_empty()) else {
        // No challenge header: the cookie is not an HTTP authentication scheme.
        let text = Msg::from(msg::ADDON_MISSING_CREDENTIALS).render(crate::i18n::current());
        return Ok(json_response(StatusCode::UNAUTHORIZED, &serde_json::json!({ "detail": text })));
    };
    let csrf = headers.get("x-csrftoken").map(HeaderValue::as_bytes).filter(|v| !v.is_empty());
    let csrf = csrf.ok_or_else(|| ApiError::BadRequest(msg::ADDON_MISSING_CSRF.into()))?;
    match svc::poll(&state, session_id, csrf).await? {
        Poll::Pending => Ok(respond(StatusCode::ACCEPTED, &PollPending { state: "pending".into() })),
        Poll::Done(done) => {
            let mut resp = respond(StatusCode::OK, &done);
            let cleared = session_cookie(&state, "\"\"", 0, "Thu, 01 Jan 1970 00:00:00 GMT");
            resp.headers_mut().append(header::SET_COOKIE, cleared);
            Ok(resp)
        }
    }
}

/// `POST /api/v1.0/addons/sessions/exchange/`: now-external-api §12.6 (authentication, then the
/// flag, then the body).
async fn exchange(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let caller = caller?;
    let user = caller.require_user()?;
    enabled(&state)?;
    let body = body?.object()?;
    let token = match body.get("transit_token") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()).filter(|s| !s.is_empty()),
        // Not a token anyone was given: unknown.
        Some(_) => return Err(ApiError::BadRequest(msg::ADDON_INVALID_TRANSIT.into())),
    };
    let token = token.ok_or_else(|| ApiError::BadRequest(msg::ADDON_MISSING_TRANSIT.into()))?;
    svc::exchange(&state, user, token, chrono::Utc::now()).await?;
    Ok(respond(StatusCode::OK, &ExchangeOut { status: "ok".into() }))
}
