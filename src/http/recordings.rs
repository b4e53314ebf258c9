//! Recording endpoints (recordings §4): start/stop on rooms, `/recordings/` list, retrieve and
//! delete, the storage hook and the media-auth sub-request. Handlers parse, call one service
//! function and shape the answer.

use std::net::SocketAddr;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, FromRequest, OriginalUri, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use uuid::Uuid;

use super::bodies::{ErrorOut, MessageOut};
use super::extract::{Body, Caller, Origin};
use super::pagination::{self, Paginated};
use super::{ApiRoute, ViewAuth};
use crate::domain::recording::check_storage_auth;
use crate::error::{json_response, ApiError};
use crate::service::recordings::{self, Reply};
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/api/v1.0/rooms/{id}/start-recording/", "Room", ViewAuth::User, post(start_recording))
            .doc(Method::POST, "Start recording the room (room administrators)")
            .body::<RecordingStartIn>()
            .returns::<MessageOut>(201)
            .returns::<ErrorOut>(500)
            .errors(&[403, 404]),
        ApiRoute::new("/api/v1.0/rooms/{id}/stop-recording/", "Room", ViewAuth::User, post(stop_recording))
            .doc(Method::POST, "Stop the room's active recording (room administrators)")
            .returns::<MessageOut>(200)
            .returns::<ErrorOut>(500)
            .errors(&[403, 404]),
        ApiRoute::new("/api/v1.0/recordings/", "Recording", ViewAuth::User, get(list))
            .doc(Method::GET, "The recordings the caller has an access to")
            .returns::<Paginated<recordings::RecordingOut>>(200)
            .paginated()
            .query("page_size", "Items per page (at most 100; 20 by default)"),
        ApiRoute::new(
            "/api/v1.0/recordings/storage-hook/",
            "Recording",
            ViewAuth::Any,
            post(storage_hook).get(storage_hook).put(storage_hook).patch(storage_hook).delete(storage_hook),
        )
        .doc(Method::POST, "Object-store event: a recording file was written (bearer token)")
        .body::<StorageEventIn>()
        .returns::<MessageOut>(200)
        .errors(&[403, 404]),
        ApiRoute::new("/api/v1.0/recordings/media-auth/", "Recording", ViewAuth::User, get(media_auth))
            .doc(Method::GET, "nginx auth_request: authorize a media download and sign it for S3")
            .returns::<MediaAuthOut>(200)
            .errors(&[400, 403, 404]),
        ApiRoute::new("/api/v1.0/recordings/{id}/", "Recording", ViewAuth::User, get(retrieve).delete(destroy))
            .doc(Method::GET, "A recording (its administrators)")
            .returns::<recordings::RecordingOut>(200)
            .errors(&[403, 404])
            .doc(Method::DELETE, "Delete a finished recording (its administrators)")
            .returns_nothing(204)
            .errors(&[403, 404]),
    ]
}

/// The body of `start-recording`, as `service::recordings::parse_mode` reads it (a mode of
/// `RECORDING_WORKER_CLASSES`; anything else is a 400 `Invalid request.`).
#[derive(Debug, schemars::JsonSchema)]
pub struct RecordingStartIn {
    pub mode: crate::domain::recording::Mode,
}

/// The object-store event notification (S3 / MinIO), the parts `domain::recording::
/// read_storage_event` reads: the first record's bucket, object key and content type.
#[derive(Debug, schemars::JsonSchema)]
pub struct StorageEventIn {
    #[serde(rename = "Records")]
    #[schemars(length(min = 1))]
    pub records: Vec<StorageRecord>,
}

/// One record of a [`StorageEventIn`].
#[derive(Debug, schemars::JsonSchema)]
pub struct StorageRecord {
    pub s3: StorageS3,
}

/// The `s3` part of a [`StorageRecord`].
#[derive(Debug, schemars::JsonSchema)]
pub struct StorageS3 {
    pub bucket: StorageBucket,
    pub object: StorageObject,
}

/// The bucket of a storage event (must be `AWS_STORAGE_BUCKET_NAME`).
#[derive(Debug, schemars::JsonSchema)]
pub struct StorageBucket {
    pub name: String,
}

/// The object of a storage event.
#[derive(Debug, schemars::JsonSchema)]
pub struct StorageObject {
    /// URL-encoded object key: `<folder>/<recording id>.<mp4|ogg>`.
    pub key: String,
    #[serde(rename = "contentType")]
    pub content_type: String,
}

/// The answer of `media-auth`: the JSON string `"authorized"` (the signature is in the headers).
pub type MediaAuthOut = String;

fn reply(ok: StatusCode, r: Reply) -> Response {
    match r {
        Reply::Done(m) => super::rooms::respond(ok, &MessageOut::new(m)),
        Reply::Failed(error) => super::rooms::respond(StatusCode::INTERNAL_SERVER_ERROR, &ErrorOut { error }),
    }
}

fn recording_enabled(state: &AppState) -> Result<(), ApiError> {
    if state.config.recording_enable {
        Ok(())
    } else {
        Err(ApiError::ForbiddenMessage(crate::i18n::msg::RECORDING_DISABLED.into()))
    }
}

/// `POST /api/v1.0/rooms/{id}/start-recording/`: recordings §4.2.
async fn start_recording(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let caller = caller?;
    let user = caller.require_user()?;
    recording_enabled(&state)?;
    let Body(body) = Body::from_request(request, &state).await?;
    let mode = recordings::parse_mode(&state, &body)?;
    let reference = super::rooms::room_ref(id).map_err(|_| ApiError::NoMatch("Room"))?;
    Ok(reply(StatusCode::CREATED, recordings::start(&state, user, &reference, mode).await?))
}

/// `POST /api/v1.0/rooms/{id}/stop-recording/`: recordings §4.3 (no body is read).
async fn stop_recording(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = caller?;
    let user = caller.require_user()?;
    recording_enabled(&state)?;
    let reference = super::rooms::room_ref(id).map_err(|_| ApiError::NoMatch("Room"))?;
    Ok(reply(StatusCode::OK, recordings::stop(&state, user, &reference).await?))
}

/// `GET /api/v1.0/recordings/`: recordings §4.5.
async fn list(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
) -> Result<Response, ApiError> {
    let caller = caller?;
    let user = caller.require_user()?;
    let size = pagination::requested_size(&uri);
    let count = recordings::count(&state, user).await?;
    let page = pagination::page_sized(&uri, &origin, count, size)?;
    let items = recordings::list(&state, user, page.offset, page.limit).await?;
    Ok(json_response(StatusCode::OK, &Paginated::new(count, page, items).to_value()))
}

fn recording_id(id: Result<Path<String>, PathRejection>) -> Result<Uuid, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::NotFound)?;
    Uuid::try_parse(&id).map_err(|_| ApiError::NotFound)
}

/// `GET /api/v1.0/recordings/{id}/`: recordings §4.6.
async fn retrieve(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = caller?;
    let user = caller.require_user()?;
    let id = recording_id(id)?;
    let out = recordings::retrieve(&state, user, id).await?;
    Ok(json_response(StatusCode::OK, &serde_json::to_value(out).map_err(ApiError::internal)?))
}

/// `DELETE /api/v1.0/recordings/{id}/`: recordings §4.7.
async fn destroy(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = caller?;
    let user = caller.require_user()?;
    let id = recording_id(id)?;
    recordings::destroy(&state, user, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1.0/recordings/storage-hook/`: recordings §4.8, §6. Only the storage-event
/// authentication runs (no session, no CSRF), then the flag, then the method.
async fn storage_hook(State(state): State<AppState>, method: Method, request: Request) -> Result<Response, ApiError> {
    let cfg = &state.config.recording;
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Err(reason) = check_storage_auth(cfg.storage_event_auth, cfg.storage_event_token.as_deref(), authorization) {
        let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        let client = client.unwrap_or_default();
        tracing::warn!(client, reason = reason.id(), "storage event authentication failed");
        let mut resp = ApiError::AuthenticationFailed(reason.into()).into_response();
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm='Storage event API'"));
        return Ok(resp);
    }
    if !cfg.storage_event_enable {
        return Err(ApiError::ForbiddenMessage(crate::i18n::msg::STORAGE_EVENT_DISABLED.into()));
    }
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed { method: method.to_string(), allow: "POST, OPTIONS".into() });
    }
    let Body(body) = Body::from_request(request, &state).await?;
    let message = recordings::storage_event(&state, &body).await?;
    Ok(super::rooms::respond(StatusCode::OK, &MessageOut::new(message)))
}

/// `GET /api/v1.0/recordings/media-auth/`: recordings §4.9, §8.
async fn media_auth(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller?;
    let user = caller.require_user()?;
    let original = headers.get("x-original-url").and_then(|v| v.to_str().ok());
    let signed = recordings::media_auth(&state, user, original).await?;
    let mut resp = json_response(StatusCode::OK, &json!("authorized"));
    let h = resp.headers_mut();
    for (name, value) in [
        ("authorization", signed.authorization),
        ("x-amz-date", signed.x_amz_date),
        ("x-amz-content-sha256", signed.x_amz_content_sha256),
    ] {
        let value = HeaderValue::from_str(&value).map_err(ApiError::internal)?;
        h.insert(name, value);
    }
    Ok(resp)
}
