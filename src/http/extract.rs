//! Extractors: who calls (`Caller`, with session + CSRF rules), where the request came from
//! (`Origin`), and the request body in DRF's accepted content types (`Body`).

mod multipart;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use serde_json::Value;

use crate::domain::csrf;
use crate::error::ApiError;
use crate::i18n::msg;
use crate::sessions::SessionData;
use crate::state::AppState;
use crate::store::users::User;

pub const SESSION_COOKIE: &str = "sessionid";
pub const CSRF_COOKIE: &str = "csrftoken";

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The scheme and host the client used (after a trusted TLS proxy).
#[derive(Clone, Debug)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
}

impl Origin {
    pub fn from_headers(headers: &HeaderMap, trust_forwarded_proto: bool) -> Origin {
        let forwarded = trust_forwarded_proto
            .then(|| headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()))
            .flatten()
            .map(|v| v.split(',').next().unwrap_or("").trim().to_ascii_lowercase())
            .filter(|v| v == "https" || v == "http");
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost").to_string();
        Origin { scheme: forwarded.unwrap_or_else(|| "http".into()), host }
    }

    /// `scheme://host`
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }
}

impl FromRequestParts<AppState> for Origin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Origin::from_headers(&parts.headers, state.config.trust_forwarded_proto))
    }
}

/// Who is calling: resolved once per request (bearer first, then the session), with the CSRF
/// check applied to session-authenticated unsafe requests (users-auth-rooms §2.5 step 1, §4.10).
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    Session {
        user: Box<User>,
        key: String,
        data: Box<SessionData>,
    },
    /// Authenticated by an IdP access token (§4.9): no session, no CSRF check.
    Bearer {
        user: Box<User>,
    },
}

impl Caller {
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::Anonymous => None,
            Caller::Session { user, .. } | Caller::Bearer { user } => Some(user),
        }
    }

    pub fn is_authenticated(&self) -> bool {
        self.user().is_some()
    }

    /// The view-level permission "authenticated" (§2.5 step 2): 401 for anonymous callers.
    pub fn require_user(&self) -> Result<&User, ApiError> {
        self.user().ok_or(ApiError::Unauthenticated)
    }
}

fn bearer_header(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let mut parts = raw.split(' ').filter(|p| !p.is_empty());
    if !parts.next().is_some_and(|s| s.eq_ignore_ascii_case("bearer")) {
        return Ok(None);
    }
    let rest: Vec<&str> = parts.collect();
    match rest.len() {
        0 => Err(ApiError::AuthenticationFailed(msg::BEARER_NO_CREDENTIALS.into())),
        1 => Ok(Some(rest[0].to_string())),
        _ => Err(ApiError::AuthenticationFailed(msg::BEARER_SPACES.into())),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        if state.config.oidc.bearer_enabled {
            if let Some(token) = bearer_header(&parts.headers)? {
                let user = crate::oidc::bearer::authenticate(state, &token).await?;
                let caller = Caller::Bearer { user: Box::new(user) };
                parts.extensions.insert(caller.clone());
                return Ok(caller);
            }
        }
        let caller = session_caller(parts, state).await?;
        if let Caller::Session { .. } = &caller {
            if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE) {
                check_csrf(&parts.headers, state)?;
            }
        }
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

async fn session_caller(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let Some(key) = cookie(&parts.headers, SESSION_COOKIE) else { return Ok(Caller::Anonymous) };
    match state.sessions.load_with_user(key).await? {
        Some((data, user)) if user.is_active => {
            Ok(Caller::Session { user: Box::new(user), key: key.to_string(), data: Box::new(data) })
        }
        _ => Ok(Caller::Anonymous),
    }
}

/// Django's CSRF check for a session-authenticated unsafe request (§4.10), in its order.
pub fn check_csrf(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    let origin = Origin::from_headers(headers, state.config.trust_forwarded_proto);
    let trusted = |candidate: &str| {
        candidate == origin.base() || state.config.csrf_trusted_origins.iter().any(|t| t == candidate)
    };
    if let Some(o) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if !trusted(o) {
            return Err(ApiError::Csrf(msg::CSRF_BAD_ORIGIN.arg("origin", o)));
        }
    } else if origin.scheme == "https" {
        let referer = headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::Csrf(msg::CSRF_NO_REFERER.into()))?;
        let url = url::Url::parse(referer).map_err(|_| ApiError::Csrf(msg::CSRF_MALFORMED_REFERER.into()))?;
        if url.scheme() != "https" {
            return Err(ApiError::Csrf(msg::CSRF_INSECURE_REFERER.into()));
        }
        let referer_origin = url.origin().ascii_serialization();
        if !trusted(&referer_origin) {
            return Err(ApiError::Csrf(msg::CSRF_BAD_REFERER.arg("referer", referer)));
        }
    }
    let cookie_value = cookie(headers, CSRF_COOKIE).ok_or_else(|| ApiError::Csrf(msg::CSRF_NO_COOKIE.into()))?;
    csrf::check_format(cookie_value).map_err(|m| {
        ApiError::Csrf(match m {
            csrf::Malformed::Length => msg::CSRF_COOKIE_INCORRECT_LENGTH.into(),
            csrf::Malformed::Characters => msg::CSRF_COOKIE_INVALID_CHARACTERS.into(),
        })
    })?;
    let token = headers
        .get("x-csrftoken")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Csrf(msg::CSRF_TOKEN_MISSING.into()))?;
    csrf::check_format(token).map_err(|m| {
        ApiError::Csrf(match m {
            csrf::Malformed::Length => msg::CSRF_HEADER_INCORRECT_LENGTH.into(),
            csrf::Malformed::Characters => msg::CSRF_HEADER_INVALID_CHARACTERS.into(),
        })
    })?;
    if !csrf::matches(token, cookie_value) {
        return Err(ApiError::Csrf(msg::CSRF_HEADER_INCORRECT.into()));
    }
    Ok(())
}

/// A request body parsed as the reference's parsers would (users-auth-rooms §2.2): JSON (or an
/// empty body) into a JSON value; `multipart/form-data` into an object of strings (see
/// [`multipart`]) validated like JSON; other content types, `application/x-www-form-urlencoded`
/// included, are a 415; malformed JSON or multipart a 400; bodies over `MEET_MAX_BODY_BYTES` a 413.
#[derive(Debug)]
pub struct Body(pub Value);

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let bytes: Bytes = axum::body::to_bytes(req.into_body(), state.config.max_body_bytes)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
        if bytes.is_empty() {
            return Ok(Body(Value::Object(Default::default())));
        }
        let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if media == "application/json" || media.ends_with("+json") {
            return serde_json::from_slice(&bytes)
                .map(Body)
                .map_err(|e| ApiError::BadRequest(msg::JSON_PARSE_ERROR.arg("detail", e)));
        }
        if media == "multipart/form-data" {
            return multipart::parse(&content_type, bytes).await.map(Body);
        }
        Err(ApiError::UnsupportedMediaType(content_type))
    }
}

impl Body {
    /// The body as an object, or DRF's "Invalid data" error for other JSON values.
    pub fn object(self) -> Result<serde_json::Map<String, Value>, ApiError> {
        match self.0 {
            Value::Object(m) => Ok(m),
            other => {
                let kind = match other {
                    Value::Array(_) => "list",
                    Value::String(_) => "str",
                    Value::Number(ref n) if n.is_f64() => "float",
                    Value::Number(_) => "int",
                    Value::Bool(_) => "bool",
                    _ => "NoneType",
                };
                Err(crate::error::FieldErrors::one("non_field_errors", msg::INVALID_DATA.arg("datatype", kind)))
            }
        }
    }
}
