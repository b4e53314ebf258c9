//! Plumbing of the OIDC views: the browser session as they see it, cookies in Django's format
//! (users-auth-rooms §4.2), `returnTo` validation (§4.3), the CSRF-before-method gate of Django's
//! non-API views (errata O-31) and their HTML error pages.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::config::OidcConfig;
use crate::error::ApiError;
use crate::http::extract::{self, Origin, CSRF_COOKIE, SESSION_COOKIE};
use crate::sessions::{self, SessionData, SESSION_AGE};
use crate::state::AppState;
use crate::store::users::{self, User};

/// `csrftoken` lifetime: one year (Django's `CSRF_COOKIE_AGE`).
const CSRF_AGE_SECS: i64 = 31_449_600;
/// At most this many pending states are kept in a session (the oldest is dropped).
const MAX_STATES: usize = 50;

/// The browser's session as loaded for one request.
pub struct Session {
    /// `None` when the browser has no live session (a new key is minted when saving).
    pub key: Option<String>,
    pub data: SessionData,
    /// The logged-in, active user, if any.
    pub user: Option<User>,
}

impl Session {
    pub async fn load(state: &AppState, headers: &HeaderMap) -> Result<Session, ApiError> {
        let empty = Session { key: None, data: Map::new(), user: None };
        let Some(key) = extract::cookie(headers, SESSION_COOKIE).filter(|k| sessions::valid_key(k)) else {
            return Ok(empty);
        };
        // An unknown or expired key is never reused (no session fixation).
        let Some(data) = state.sessions.load(key).await? else { return Ok(empty) };
        let user = match sessions::user_id(&data) {
            Some(id) => users::get(&state.db, id).await?.filter(|u| u.is_active),
            None => None,
        };
        Ok(Session { key: Some(key.to_string()), data, user })
    }

    /// Saves the session when it exists or holds data; returns the cookie to set, if any.
    pub async fn persist(&mut self, state: &AppState) -> Result<Vec<String>, ApiError> {
        if self.key.is_none() && self.data.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.key.get_or_insert_with(crate::domain::random_session_key).clone();
        state.sessions.save(&key, &self.data).await?;
        Ok(vec![session_cookie(&key, state.config.secure_cookies)])
    }

    /// Ends the session server-side (logout); returns the cookie that clears it.
    pub async fn end(&mut self, state: &AppState) -> Result<Vec<String>, ApiError> {
        if let Some(key) = self.key.take() {
            state.sessions.delete(&key).await?;
        }
        self.data.clear();
        self.user = None;
        Ok(vec![clear_session_cookie()])
    }

    /// Adds a pending state, dropping the oldest when 50 are already kept.
    pub fn add_state(&mut self, state: &str, entry: Value) {
        let mut states = match self.data.remove("oidc_states") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        while states.len() >= MAX_STATES {
            let oldest = states.iter().min_by(|a, b| added_on(a.1).total_cmp(&added_on(b.1))).map(|(k, _)| k.clone());
            match oldest {
                Some(k) => states.remove(&k),
                None => break,
            };
        }
        states.insert(state.to_string(), entry);
        self.data.insert("oidc_states".into(), Value::Object(states));
    }

    /// The pending states, when the session has the key at all.
    pub fn states(&self) -> Option<&Map<String, Value>> {
        self.data.get("oidc_states").and_then(Value::as_object)
    }

    /// Removes and returns a pending state.
    pub fn take_state(&mut self, state: &str) -> Option<Value> {
        self.data.get_mut("oidc_states").and_then(Value::as_object_mut).and_then(|m| m.remove(state))
    }
}

fn added_on(v: &Value) -> f64 {
    v.get("added_on").and_then(Value::as_f64).unwrap_or(0.0)
}

/// The success URL: the saved `returnTo`, else `LOGIN_REDIRECT_URL`.
pub fn success_url(cfg: &OidcConfig, data: &SessionData) -> String {
    data.get("oidc_login_next")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| cfg.login_redirect_url.clone())
}

/// The failure URL, except after a silent attempt: then the flag is dropped and the user goes back
/// to the success URL, still logged out (§4.6).
pub fn failure_url(cfg: &OidcConfig, data: &mut SessionData) -> String {
    if data.remove("silent").is_some() {
        success_url(cfg, data)
    } else {
        cfg.login_redirect_url_failure.clone()
    }
}

fn expires_in(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn secure_flag(secure: bool) -> &'static str {
    if secure {
        "; Secure"
    } else {
        ""
    }
}

/// `sessionid`: HttpOnly, SameSite=Lax, 12 hours.
pub fn session_cookie(key: &str, secure: bool) -> String {
    let age = SESSION_AGE.as_secs() as i64;
    format!(
        "{SESSION_COOKIE}={key}; expires={}; HttpOnly; Max-Age={age}; Path=/; SameSite=Lax{}",
        expires_in(age),
        secure_flag(secure)
    )
}

/// `csrftoken`: readable by the frontend, SameSite=Lax, one year.
pub fn csrf_cookie(secret: &str, secure: bool) -> String {
    format!(
        "{CSRF_COOKIE}={secret}; expires={}; Max-Age={CSRF_AGE_SECS}; Path=/; SameSite=Lax{}",
        expires_in(CSRF_AGE_SECS),
        secure_flag(secure)
    )
}

/// Deletes the `sessionid` cookie.
pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax")
}

/// A `302` to `location` setting `cookies`.
pub fn redirect(location: &str, cookies: Vec<String>) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn html(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>{title}</title>\n</head>\n<body>\n  <h1>{title}</h1><p>{text}</p>\n</body>\n</html>\n"
    );
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    resp
}

/// Django's HTML 400 page (unknown callback state).
pub fn bad_request() -> Response {
    html(StatusCode::BAD_REQUEST, "Bad Request (400)", "")
}

/// The query string as a map (the last value of a repeated name wins, as Django's `QueryDict.get`).
pub fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect()
}

/// Django's rule for the non-API views: an unsafe method must pass the CSRF check (for every
/// caller) BEFORE the method is looked at; then a method outside `allowed` is a `405` with an empty
/// body (errata O-31). `None` lets the request through.
pub fn method_gate(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    body: &Bytes,
    allowed: &[Method],
) -> Option<Response> {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
    if !safe {
        if let Err(e) = check_form_csrf(state, headers, body) {
            tracing::warn!(reason = %e, "CSRF verification failed on an OIDC view");
            return Some(html(StatusCode::FORBIDDEN, "403 Forbidden", "CSRF verification failed. Request aborted."));
        }
    }
    let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    let served = allowed.contains(method) || (*method == Method::HEAD && allowed.contains(&Method::GET));
    if served {
        return None;
    }
    let status = if *method == Method::OPTIONS { StatusCode::OK } else { StatusCode::METHOD_NOT_ALLOWED };
    let mut resp = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&allow) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    Some(resp)
}

/// The CSRF check with the token taken from the `csrfmiddlewaretoken` form field first, then from
/// the `X-CSRFToken` header (Django's middleware order).
fn check_form_csrf(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Result<(), ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let field = is_form
        .then(|| url::form_urlencoded::parse(body).find(|(k, _)| k == "csrfmiddlewaretoken").map(|(_, v)| v))
        .flatten();
    match field.and_then(|v| HeaderValue::from_str(&v).ok()) {
        Some(token) => {
            let mut h = headers.clone();
            h.insert("x-csrftoken", token);
            extract::check_csrf(&h, state)
        }
        None => extract::check_csrf(headers, state),
    }
}

/// `returnTo` is kept only when safe (§4.3): a relative URL, or an http(s) URL whose `host[:port]`
/// is the request's Host or in `OIDC_REDIRECT_ALLOWED_HOSTS` (https only when
/// `OIDC_REDIRECT_REQUIRE_HTTPS`). Control characters and backslashes are refused outright.
pub fn safe_return_to(url: &str, origin: &Origin, cfg: &OidcConfig) -> Option<String> {
    let url = url.trim();
    if url.is_empty() || url.starts_with("///") || url.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    let scheme_end = url.find(':').filter(|&i| {
        let s = &url[..i];
        !s.is_empty()
            && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && !url[..i].contains('/')
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (Some(url[..i].to_ascii_lowercase()), &url[i + 1..]),
        None => (None, url),
    };
    let netloc = rest.strip_prefix("//").map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    match (&scheme, netloc) {
        (None, None) => return Some(url.to_string()),
        (Some(s), _) if s != "http" && s != "https" => return None,
        (Some(_), None) => return None,
        _ => {}
    }
    if cfg.redirect_require_https && scheme.as_deref().is_some_and(|s| s != "https") {
        return None;
    }
    let netloc = netloc.unwrap_or("");
    let allowed = !netloc.is_empty()
        && (netloc.eq_ignore_ascii_case(&origin.host)
            || cfg.redirect_allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(netloc)));
    allowed.then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> OidcConfig {
        let mut c = crate::config::Config::from_lookup(|_| None).unwrap().oidc;
        c.redirect_allowed_hosts = vec!["other.example:8443".into()];
        c
    }

    #[test]
    fn o_3_return_to_is_kept_only_when_safe() {
        let origin = Origin { scheme: "http".into(), host: "meet.example".into() };
        let c = cfg();
        for ok in [
            "/room/abc",
            "http://meet.example/room?x=1",
            "https://MEET.example/",
            "https://other.example:8443/x",
            "room",
            "//meet.example/x",
        ] {
            assert_eq!(safe_return_to(ok, &origin, &c).as_deref(), Some(ok), "{ok}");
        }
        for bad in [
            "https://evil.com/x",
            "//evil.com",
            "///evil.com",
            "javascript:alert(1)",
            "/\\evil.com",
            "https://meet.example@evil.com/",
            "https://other.example/x",
            "ftp://meet.example/",
            "",
            "http:/meet.example",
        ] {
            assert_eq!(safe_return_to(bad, &origin, &c), None, "{bad}");
        }
        let mut strict = cfg();
        strict.redirect_require_https = true;
        assert_eq!(safe_return_to("http://meet.example/", &origin, &strict), None);
        assert!(safe_return_to("/x", &origin, &strict).is_some());
    }
}
