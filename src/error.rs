//! The API's error wire format (users-auth-rooms §2.4), in exactly one place: every error path of
//! every route becomes an `ApiError`, and its single `IntoResponse` writes the DRF-shaped body and
//! the headers (`WWW-Authenticate`, `Allow`, `Retry-After`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::i18n::{self, msg, Lang, Msg, MsgId};

/// Default permission-denied message.
pub const FORBIDDEN: MsgId = msg::PERMISSION_DENIED;
/// Default unauthenticated message.
pub const UNAUTHENTICATED: MsgId = msg::NOT_AUTHENTICATED;

/// Field errors in DRF's shape: `{"field": ["message", …], "non_field_errors": [...]}`, fields in
/// the order they were first added. Messages are translated when the response is written.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FieldErrors(Vec<(String, FieldError)>);

/// The errors of one field: messages, or a nested structure (the errors of a dictionary's
/// values, or a schema validator's error objects) written as given.
#[derive(Debug, Clone, PartialEq)]
enum FieldError {
    Messages(Vec<Msg>),
    Nested(FieldErrors),
    Raw(Value),
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `message` under `field`.
    pub fn add(&mut self, field: &str, message: impl Into<Msg>) -> &mut Self {
        let message = message.into();
        match self.0.iter_mut().find(|(f, _)| f == field) {
            Some((_, FieldError::Messages(messages))) => messages.push(message),
            Some((_, other)) => *other = FieldError::Messages(vec![message]),
            None => self.0.push((field.to_string(), FieldError::Messages(vec![message]))),
        }
        self
    }

    /// Sets the errors of `field` to nested field errors (`{"field": {"key": ["msg"]}}`).
    pub fn nested(&mut self, field: &str, errors: FieldErrors) -> &mut Self {
        self.set(field, FieldError::Nested(errors))
    }

    /// Sets the errors of `field` to a JSON value written as is (not translated).
    pub fn raw(&mut self, field: &str, value: Value) -> &mut Self {
        self.set(field, FieldError::Raw(value))
    }

    fn set(&mut self, field: &str, error: FieldError) -> &mut Self {
        match self.0.iter_mut().find(|(f, _)| f == field) {
            Some((_, e)) => *e = error,
            None => self.0.push((field.to_string(), error)),
        }
        self
    }

    /// A single-field error, ready to return.
    pub fn one(field: &str, message: impl Into<Msg>) -> ApiError {
        let mut e = FieldErrors::new();
        e.add(field, message);
        ApiError::Validation(e)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err(ApiError::Validation)` when any error was added.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self))
        }
    }

    /// The DRF body in `lang`.
    pub fn to_json(&self, lang: Lang) -> Map<String, Value> {
        self.0
            .iter()
            .map(|(field, error)| {
                let value = match error {
                    FieldError::Messages(messages) => {
                        Value::Array(messages.iter().map(|m| Value::String(m.render(lang))).collect())
                    }
                    FieldError::Nested(errors) => Value::Object(errors.to_json(lang)),
                    FieldError::Raw(v) => v.clone(),
                };
                (field.clone(), value)
            })
            .collect()
    }
}

/// Every error the API can answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `Authentication credentials were not provided.` + `WWW-Authenticate`.
    #[error("unauthenticated")]
    Unauthenticated,
    /// 401 with a specific message (bearer authentication failures) + `WWW-Authenticate`.
    #[error("authentication failed: {0}")]
    AuthenticationFailed(Msg),
    /// 401 with a specific message and challenge (roomkit's server-to-server authentication).
    #[error("authentication failed: {message}")]
    Challenged { message: Msg, challenge: &'static str },
    /// 400 `{"detail": "<message>"}` + `WWW-Authenticate: Bearer error="invalid_token"`: an
    /// identity-provider access token refused by introspection (now-external-api W14).
    #[error("invalid bearer token: {0}")]
    InvalidBearer(Msg),
    /// 403 with the default message.
    #[error("forbidden")]
    Forbidden,
    /// 403 with a specific message.
    #[error("forbidden: {0}")]
    ForbiddenMessage(Msg),
    /// 403 `CSRF Failed: <reason>`.
    #[error("CSRF failed: {0}")]
    Csrf(Msg),
    /// 404 `No <Model> matches the given query.`
    #[error("no {0} matches")]
    NoMatch(&'static str),
    /// 404 `Not found.`
    #[error("not found")]
    NotFound,
    /// 404 with a specific message (recordings: `No active recording found for this room.`).
    #[error("not found: {0}")]
    NotFoundMessage(Msg),
    /// 404 `Invalid page.`
    #[error("invalid page")]
    InvalidPage,
    /// 405 `Method "<M>" not allowed.` + `Allow`.
    #[error("method {method} not allowed")]
    MethodNotAllowed { method: String, allow: String },
    /// 415 `Unsupported media type "<type>" in request.`
    #[error("unsupported media type {0}")]
    UnsupportedMediaType(String),
    /// 400 `{"detail": "<message>"}` (malformed JSON and other request-level errors).
    #[error("bad request: {0}")]
    BadRequest(Msg),
    /// `{"error": "<message>"}` with this status (the external API's token endpoint, §6.2).
    #[error("{status}: {message}")]
    ErrorMessage { status: StatusCode, message: Msg },
    /// 400 with DRF field errors.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// 413 when the body is larger than `MEET_MAX_BODY_BYTES`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 429 + `Retry-After`.
    #[error("throttled for {0} s")]
    Throttled(u64),
    /// 503: the database or the cache cannot be reached right now.
    #[error("service unavailable: {0}")]
    Unavailable(&'static str),
    /// 500: the cause is logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(e.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::AuthenticationFailed(_) | ApiError::Challenged { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden | ApiError::ForbiddenMessage(_) | ApiError::Csrf(_) => StatusCode::FORBIDDEN,
            ApiError::NoMatch(_) | ApiError::NotFound | ApiError::NotFoundMessage(_) | ApiError::InvalidPage => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BadRequest(_) | ApiError::Validation(_) | ApiError::InvalidBearer(_) => StatusCode::BAD_REQUEST,
            ApiError::ErrorMessage { status, .. } => *status,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body in `lang`.
    fn body(&self, lang: Lang) -> Value {
        let detail = |m: Msg| json!({ "detail": m.render(lang) });
        match self {
            ApiError::Unauthenticated => detail(UNAUTHENTICATED.into()),
            ApiError::AuthenticationFailed(m) => detail(m.clone()),
            ApiError::Challenged { message, .. } => detail(message.clone()),
            ApiError::Forbidden => detail(FORBIDDEN.into()),
            ApiError::ForbiddenMessage(m) => detail(m.clone()),
            ApiError::Csrf(reason) => detail(msg::CSRF_FAILED.arg("reason", reason.render(lang))),
            ApiError::NoMatch(model) => detail(msg::NO_MATCH.arg("model", model)),
            ApiError::NotFound => detail(msg::NOT_FOUND.into()),
            ApiError::NotFoundMessage(m) => detail(m.clone()),
            ApiError::InvalidPage => detail(msg::INVALID_PAGE.into()),
            ApiError::MethodNotAllowed { method, .. } => detail(msg::METHOD_NOT_ALLOWED.arg("method", method)),
            ApiError::UnsupportedMediaType(t) => detail(msg::UNSUPPORTED_MEDIA_TYPE.arg("media_type", t)),
            ApiError::BadRequest(m) | ApiError::InvalidBearer(m) => detail(m.clone()),
            ApiError::Validation(errors) => Value::Object(errors.to_json(lang)),
            ApiError::ErrorMessage { message, .. } => json!({ "error": message.render(lang) }),
            ApiError::PayloadTooLarge => detail(msg::PAYLOAD_TOO_LARGE.into()),
            ApiError::Throttled(n) => {
                // DRF joins the two translated sentences; the plural is chosen by the English
                // rule in every language (the framework looks the formatted text up).
                let wait = if *n == 1 { msg::THROTTLED_WAIT_ONE } else { msg::THROTTLED_WAIT_MANY };
                let text = format!("{} {}", Msg::from(msg::THROTTLED).render(lang), wait.arg("wait", n).render(lang));
                json!({ "detail": text })
            }
            ApiError::Unavailable(what) => detail(msg::UNAVAILABLE.arg("dependency", what)),
            ApiError::Internal(_) => detail(msg::SERVER_ERROR.into()),
        }
    }
}

/// A compact JSON response with `Content-Type: application/json`.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            ApiError::Unavailable(what) => tracing::warn!(dependency = what, "dependency unavailable"),
            _ => {}
        }
        let mut resp = json_response(status, &self.body(i18n::current()));
        let headers = resp.headers_mut();
        match &self {
            ApiError::Unauthenticated | ApiError::AuthenticationFailed(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"api\""));
            }
            ApiError::Challenged { challenge, .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
            }
            ApiError::InvalidBearer(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    headers.insert(header::ALLOW, v);
                }
            }
            ApiError::Throttled(n) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*n));
            }
            ApiError::Forbidden
            | ApiError::ForbiddenMessage(_)
            | ApiError::Csrf(_)
            | ApiError::NoMatch(_)
            | ApiError::NotFound
            | ApiError::NotFoundMessage(_)
            | ApiError::InvalidPage
            | ApiError::UnsupportedMediaType(_)
            | ApiError::BadRequest(_)
            | ApiError::Validation(_)
            | ApiError::ErrorMessage { .. }
            | ApiError::PayloadTooLarge
            | ApiError::Unavailable(_)
            | ApiError::Internal(_) => {}
        }
        resp
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::Unavailable(_) => ApiError::Unavailable("database"),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<crate::cache::CacheError> for ApiError {
    fn from(e: crate::cache::CacheError) -> Self {
        use crate::cache::CacheError;
        match e {
            CacheError::Unavailable(_) => ApiError::Unavailable("cache"),
            other => ApiError::Internal(other.into()),
        }
    }
}
