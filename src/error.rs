//! The API's error wire format (users-auth-rooms §2.4), in exactly one place: every error path of
//! every route becomes an `ApiError`, and its single `IntoResponse` writes the DRF-shaped body and
//! the headers (`WWW-Authenticate`, `Allow`, `Retry-After`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// Default permission-denied message.
pub const FORBIDDEN: &str = "You do not have permission to perform this action.";
/// Default unauthenticated message.
pub const UNAUTHENTICATED: &str = "Authentication credentials were not provided.";

/// Field errors in DRF's shape: `{"field": ["message", …], "non_field_errors": [...]}`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FieldErrors(pub Map<String, Value>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `message` under `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) -> &mut Self {
        let entry = self.0.entry(field.to_string()).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = entry {
            items.push(Value::String(message.into()));
        }
        self
    }

    /// A single-field error, ready to return.
    pub fn one(field: &str, message: impl Into<String>) -> ApiError {
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
}

/// Every error the API can answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `Authentication credentials were not provided.` + `WWW-Authenticate`.
    #[error("unauthenticated")]
    Unauthenticated,
    /// 401 with a specific message (bearer authentication failures) + `WWW-Authenticate`.
    #[error("authentication failed: {0}")]
    AuthenticationFailed(String),
    /// 403 with the default message.
    #[error("forbidden")]
    Forbidden,
    /// 403 with a specific message.
    #[error("forbidden: {0}")]
    ForbiddenMessage(String),
    /// 403 `CSRF Failed: <reason>`.
    #[error("CSRF failed: {0}")]
    Csrf(String),
    /// 404 `No <Model> matches the given query.`
    #[error("no {0} matches")]
    NoMatch(&'static str),
    /// 404 `Not found.`
    #[error("not found")]
    NotFound,
    /// 404 with a specific message (recordings: `No active recording found for this room.`).
    #[error("not found: {0}")]
    NotFoundMessage(String),
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
    BadRequest(String),
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
            ApiError::Unauthenticated | ApiError::AuthenticationFailed(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::ForbiddenMessage(_) | ApiError::Csrf(_) => StatusCode::FORBIDDEN,
            ApiError::NoMatch(_) | ApiError::NotFound | ApiError::NotFoundMessage(_) | ApiError::InvalidPage => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BadRequest(_) | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> Value {
        let detail = |s: String| json!({ "detail": s });
        match self {
            ApiError::Unauthenticated => detail(UNAUTHENTICATED.into()),
            ApiError::AuthenticationFailed(m) => detail(m.clone()),
            ApiError::Forbidden => detail(FORBIDDEN.into()),
            ApiError::ForbiddenMessage(m) => detail(m.clone()),
            ApiError::Csrf(reason) => detail(format!("CSRF Failed: {reason}")),
            ApiError::NoMatch(model) => detail(format!("No {model} matches the given query.")),
            ApiError::NotFound => detail("Not found.".into()),
            ApiError::NotFoundMessage(m) => detail(m.clone()),
            ApiError::InvalidPage => detail("Invalid page.".into()),
            ApiError::MethodNotAllowed { method, .. } => detail(format!("Method \"{method}\" not allowed.")),
            ApiError::UnsupportedMediaType(t) => detail(format!("Unsupported media type \"{t}\" in request.")),
            ApiError::BadRequest(m) => detail(m.clone()),
            ApiError::Validation(errors) => Value::Object(errors.0.clone()),
            ApiError::PayloadTooLarge => detail("Request body is too large.".into()),
            ApiError::Throttled(n) => {
                let unit = if *n == 1 { "second" } else { "seconds" };
                detail(format!("Request was throttled. Expected available in {n} {unit}."))
            }
            ApiError::Unavailable(what) => {
                detail(format!("Service temporarily unavailable: the {what} cannot be reached."))
            }
            ApiError::Internal(_) => detail("A server error occurred.".into()),
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
        let mut resp = json_response(status, &self.body());
        let headers = resp.headers_mut();
        match &self {
            ApiError::Unauthenticated | ApiError::AuthenticationFailed(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"api\""));
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
