//! The external API (now-external-api §6–§9), mounted only when `EXTERNAL_API_ENABLED`: the
//! application token endpoint and the rooms list/create/retrieve for bearer tokens.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value};

use super::client_ip::ClientIp;
use super::extract::{Body, Caller, Origin};
use super::pagination::Paginated;
use super::rooms::{pager, respond};
use super::{ApiRoute, ViewAuth};
use crate::error::ApiError;
use crate::http::bodies::ErrorOut;
use crate::i18n::msg;
use crate::service::external::{self, ExternalRoomOut, TokenOut};
use crate::state::AppState;

/// Path prefix of the external API.
pub const PREFIX: &str = "/external-api/";

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/external-api/v1.0/application/token/", "Application", ViewAuth::Any, post(token))
            .doc(Method::POST, "Exchange client credentials for a token acting for the user whose e-mail is `scope`")
            .body::<TokenIn>()
            .returns::<TokenOut>(200)
            .errors(&[400, 404, 429])
            .returns::<ErrorOut>(400)
            .returns::<ErrorOut>(403),
        ApiRoute::new("/external-api/v1.0/rooms/", "External room", ViewAuth::ExternalBearer, get(list).post(create))
            .doc(Method::GET, "The rooms the delegated user has a role on (scope `rooms:list`)")
            .returns::<Paginated<ExternalRoomOut>>(200)
            .errors(&[403])
            .paginated()
            .doc(Method::POST, "Create a room owned by the delegated user (scope `rooms:create`)")
            .body::<ExternalRoomCreateIn>()
            .returns::<ExternalRoomOut>(201)
            .errors(&[400, 403]),
        ApiRoute::new("/external-api/v1.0/rooms/{id}/", "External room", ViewAuth::ExternalBearer, get(retrieve))
            .doc(Method::GET, "A room the delegated user has a role on (scope `rooms:retrieve`)")
            .returns::<ExternalRoomOut>(200)
            .errors(&[403, 404]),
    ]
}

/// The body of the token request (JSON or `application/x-www-form-urlencoded`).
#[derive(Debug, schemars::JsonSchema)]
pub struct TokenIn {
    pub client_id: String,
    pub client_secret: String,
    #[schemars(with = "TokenGrant")]
    pub grant_type: String,
    /// The e-mail of the user the application acts for.
    #[schemars(length(min = 1))]
    pub scope: String,
}

/// The only accepted grant type.
#[derive(Debug, schemars::JsonSchema)]
#[allow(dead_code)]
enum TokenGrant {
    #[serde(rename = "client_credentials")]
    ClientCredentials,
}

/// The body of `POST /external-api/v1.0/rooms/` (optional; other keys are ignored).
#[derive(Debug, schemars::JsonSchema)]
pub struct ExternalRoomCreateIn {
    /// `EXTERNAL_API_DEFAULT_ACCESS_LEVEL` when absent; `public` only when allowed.
    #[serde(default)]
    #[schemars(with = "crate::domain::permissions::AccessLevel")]
    pub access_level: Option<String>,
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub configuration: Option<Value>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The token request body: JSON or form-encoded (§6.1); anything else is a 415.
fn token_body(headers: &HeaderMap, bytes: &Bytes) -> Result<Map<String, Value>, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    if media == "application/json" || media.ends_with("+json") {
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(msg::JSON_PARSE_ERROR.arg("detail", e)))?;
        return Body(v).object();
    }
    if media == "application/x-www-form-urlencoded" {
        return Ok(url::form_urlencoded::parse(bytes)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect());
    }
    Err(ApiError::UnsupportedMediaType(content_type))
}

/// `POST /external-api/v1.0/application/token/`: now-external-api §6.
async fn token(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    caller?;
    if !state.config.external_api.application_enabled {
        return Err(ApiError::NotFound);
    }
    // W55: each request may cost a PBKDF2 verification; bounded per client address.
    crate::service::throttle::check(&state, "application_token", &ip, state.config.external_api.token_throttle_rate)
        .await?;
    let body = token_body(&headers, &bytes)?;
    let out = external::issue_token(&state, body, now()).await?;
    let mut resp = respond(StatusCode::OK, &out);
    // W1: tokens are not to be cached.
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `GET /external-api/v1.0/rooms/`: now-external-api §9.2.
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    origin: Origin,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let caller = external::authenticate(&state, headers.get(header::AUTHORIZATION), now()).await?;
    let caller = external::require(caller, "rooms:list")?;
    let mut page = None;
    let (count, results) = external::list(&state, &caller.user, pager(&uri, &origin, false, &mut page)).await?;
    let page = page.ok_or_else(|| ApiError::internal(anyhow::anyhow!("page not computed")))?;
    Ok(respond(StatusCode::OK, &Paginated::new(count, page, results)))
}

/// `GET /external-api/v1.0/rooms/{id}/`: now-external-api §9.3.
async fn retrieve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = external::authenticate(&state, headers.get(header::AUTHORIZATION), now()).await?;
    let caller = external::require(caller, "rooms:retrieve")?;
    let room = external::retrieve(&state, &caller.user, &id).await?;
    Ok(respond(StatusCode::OK, &room))
}

/// `POST /external-api/v1.0/rooms/`: now-external-api §9.4 (201 with `Location` = the room URL).
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let caller = external::authenticate(&state, headers.get(header::AUTHORIZATION), now()).await?;
    let caller = external::require(caller, "rooms:create")?;
    let room = external::create(&state, &caller, body?.object()?).await?;
    let mut resp = respond(StatusCode::CREATED, &room);
    if let Some(v) = room.url.as_deref().and_then(|u| HeaderValue::from_str(u).ok()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}
