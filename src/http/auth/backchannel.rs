//! `POST /api/v1.0/backchannel-logout/` (now-external-api §13.6, OpenID Connect Back-Channel
//! Logout 1.0): the provider ends a person's sessions server to server. A Django view: no CSRF,
//! POST only (405 with an empty body otherwise), `Cache-Control: no-store` on every answer.
//!
//! Unlike upstream, it works with every session store (W46): sessions are found through the
//! user's index (database column or cache index) and a `sid → session` entry written at login from
//! the verified ID token (W47), instead of decoding every stored session.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::i18n::{msg, Msg, MsgId};
use crate::state::AppState;
use crate::store::users;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A `jti` is refused again for this long (seconds).
const JTI_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY: f64 = 60.0;

/// The cache key of the session opened with the provider session `sid`.
pub fn sid_key(sid: &str) -> String {
    format!("oidc_sid:{sid}")
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn refuse(message: MsgId) -> Response {
    let text = Msg::from(message).render(crate::i18n::current());
    let body = json!({"error": "invalid_request", "error_description": text});
    no_store(crate::error::json_response(StatusCode::BAD_REQUEST, &body))
}

/// The handler.
pub async fn logout(State(s): State<AppState>, method: Method, body: Bytes) -> Response {
    if method != Method::POST {
        // CSRF-exempt: only the method is gated.
        let mut resp = StatusCode::METHOD_NOT_ALLOWED.into_response();
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return no_store(resp);
    }
    let token = url::form_urlencoded::parse(&body).find(|(k, _)| k == "logout_token").map(|(_, v)| v.into_owned());
    let Some(token) = token.filter(|t| !t.is_empty()) else { return refuse(msg::BACKCHANNEL_MISSING_TOKEN) };
    let claims = match s.oidc.verify_logout_token(&token).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(reason = %e, "back-channel logout token refused");
            return refuse(msg::BACKCHANNEL_INVALID_TOKEN);
        }
    };
    if let Err(reason) = check_claims(&s, &claims) {
        tracing::warn!(reason, "back-channel logout token refused");
        return refuse(msg::BACKCHANNEL_INVALID_TOKEN);
    }
    let text = |k: &str| claims.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_string);
    let (sub, sid) = (text("sub"), text("sid"));
    if sub.is_none() && sid.is_none() {
        return refuse(msg::BACKCHANNEL_NO_SUB_OR_SID);
    }
    let jti = text("jti").unwrap_or_default();
    match s.cache.set_nx(&format!("oidc_backchannel_jti:{jti}"), "1", Some(JTI_TTL)).await {
        Ok(true) => {}
        Ok(false) => return refuse(msg::BACKCHANNEL_ALREADY_PROCESSED),
        Err(e) => {
            tracing::warn!(error = %e, "back-channel logout: cache unavailable");
            return refuse(msg::BACKCHANNEL_FAILED);
        }
    }
    match end_sessions(&s, sub.as_deref(), sid.as_deref()).await {
        Ok(n) => {
            tracing::info!(sessions = n, "back-channel logout");
            no_store(StatusCode::NO_CONTENT.into_response())
        }
        Err(e) => {
            tracing::error!(error = %e, "back-channel logout failed");
            refuse(msg::BACKCHANNEL_FAILED)
        }
    }
}

/// §13.6 steps 2–5 after the signature: `iss`, `aud`, `exp`, `iat`, `events`, no `nonce`, `jti`.
fn check_claims(s: &AppState, c: &Map<String, Value>) -> Result<(), &'static str> {
    let issuer = s.config.idp.op_url.as_deref().or(s.config.oidc.issuer.as_deref()).ok_or("OIDC_OP_URL is not set")?;
    let iss = c.get("iss").and_then(Value::as_str).ok_or("no iss")?;
    if iss.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err("issuer mismatch");
    }
    let client = s.config.oidc.client_id.as_str();
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == client,
        Some(Value::Array(l)) => l.iter().any(|a| a.as_str() == Some(client)),
        _ => false,
    };
    if !aud_ok {
        return Err("audience is not this client");
    }
    let now = crate::oidc::now_secs();
    let exp = c.get("exp").and_then(Value::as_f64).ok_or("no exp")?;
    let iat = c.get("iat").and_then(Value::as_f64).ok_or("no iat")?;
    if exp + LEEWAY < now || iat > now + LEEWAY {
        return Err("expired or issued in the future");
    }
    if !c.get("events").and_then(Value::as_object).and_then(|e| e.get(EVENT)).is_some_and(Value::is_object) {
        return Err("no back-channel logout event");
    }
    if c.contains_key("nonce") {
        return Err("a nonce is forbidden");
    }
    if c.get("jti").and_then(Value::as_str).is_none_or(|j| j.is_empty()) {
        return Err("no jti");
    }
    Ok(())
}

/// Deletes the sessions the token names: with `sub`, the user's sessions opened with that `sid`
/// or with none recorded (all of them when the token has no `sid`); with only `sid`, its session.
async fn end_sessions(s: &AppState, sub: Option<&str>, sid: Option<&str>) -> Result<usize, crate::error::ApiError> {
    let Some(sub) = sub else {
        let Some(key) = s.cache.get_del(&sid_key(sid.unwrap_or_default())).await? else { return Ok(0) };
        s.sessions.delete(&key).await?;
        return Ok(1);
    };
    // An unknown `sub` counts as success.
    let Some(user) = users::get_by_sub(&s.db, sub).await? else { return Ok(0) };
    let mut ended = 0;
    for key in s.sessions.keys_of_user(user.id).await? {
        let Some(data) = s.sessions.load(&key).await? else { continue };
        let own = data.get("oidc_sid").and_then(Value::as_str).filter(|v| !v.is_empty());
        if sid.is_none() || own.is_none() || own == sid {
            s.sessions.delete(&key).await?;
            ended += 1;
        }
    }
    if let Some(sid) = sid {
        s.cache.delete(&sid_key(sid)).await?;
    }
    Ok(ended)
}
