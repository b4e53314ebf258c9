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
use crate::domain::recording_head::check_bearer;
use crate::error::{json_response, ApiError};
use crate::service::recordings::{self, Reply};
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/api/v1.0/rooms/{id}/start-recording/", "Room", ViewAuth::User, post(start_recording))
            .doc(Method::POST, "Start recording the room (room administrators)")
            .body::<RecordingStartIn>()
            .returns::<MessageOut>(201)
            .returns::<ErrorOut>(409)
            .returns::<ErrorOut>(502)
            .errors(&[400, 403, 404]),
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
        .errors(&[401, 403, 404]),
        ApiRoute::new(
            "/api/v1.0/recordings/external-process-hook/",
            "Recording",
            ViewAuth::Any,
            post(external_process_hook)
                .get(external_process_hook)
                .put(external_process_hook)
                .patch(external_process_hook)
                .delete(external_process_hook),
        )
        .doc(Method::POST, "Summary service callback: a transcription job ended (bearer token)")
        .body::<ExternalProcessIn>()
        .returns::<MessageOut>(200)
        .errors(&[400, 401]),
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
/// `RECORDING_WORKER_CLASSES` and optional options; anything else is a 400 `Invalid request.`).
#[derive(Debug, schemars::JsonSchema)]
pub struct RecordingStartIn {
    pub mode: crate::domain::recording::Mode,
    /// Also accepted as a string holding this object in JSON, or `null`.
    pub options: Option<RecordingOptionsIn>,
}

/// The options of a start (now-recordings §6.1); booleans also accept `1`/`0` and words such
/// as `"yes"`/`"off"`; `null` values are dropped; other keys are refused.
#[derive(Debug, schemars::JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RecordingOptionsIn {
    /// The spoken language (any text; the summary service understands `en`, `fr`, `de`, `nl`).
    pub language: Option<String>,
    /// Also send a screen recording to the summary service.
    pub transcribe: Option<bool>,
    /// Dispatch the metadata-collector agent (with `METADATA_COLLECTOR_ENABLED`).
    pub collect_metadata: Option<bool>,
    /// The mode the room metadata advertises.
    pub original_mode: Option<crate::domain::recording::Mode>,
}

/// The body of `external-process-hook` (JSON or form): other keys are ignored.
#[derive(Debug, schemars::JsonSchema)]
pub struct ExternalProcessIn {
    /// The summary service's job id (numbers are read as text).
    pub job_id: String,
    /// `transcript` moves the recording; other types are acknowledged.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `success` or `failure` move the recording; other values are acknowledged.
    pub status: Option<String>,
}

/// The object-store event notification (S3 / MinIO), the parts `domain::recording_head::
/// read_event` reads: the first record's bucket, object key and content type.
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
        Reply::Failed(status, error) => super::rooms::respond(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &ErrorOut { error },
        ),
    }
}

/// now-recordings §1.2: a disabled feature answers 404 `Not found.`
fn recording_enabled(state: &AppState) -> Result<(), ApiError> {
    if state.config.recording_enable {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// The bearer check of the machine hooks (now-recordings §10.1): `Some(401 answer)` on refusal,
/// with the hook's realm.
fn refuse_bearer(request: &Request, token: Option<&str>, realm: &'static str, what: &str) -> Option<Response> {
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let reason = check_bearer(token, authorization)?;
    let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    tracing::warn!(client = client.unwrap_or_default(), reason = reason.id(), "{what} authentication failed");
    let mut resp = ApiError::AuthenticationFailed(reason.into()).into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(realm));
    Some(resp)
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
    let (mode, options) = recordings::parse_mode(&state, &body)?;
    let reference = super::rooms::room_ref(id).map_err(|_| ApiError::NoMatch("Room"))?;
    Ok(reply(StatusCode::CREATED, recordings::start(&state, user, &reference, mode, options).await?))
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
    if cfg.storage_event_auth {
        let token = cfg.storage_event_token.as_deref();
        if let Some(resp) = refuse_bearer(&request, token, "Bearer realm='Storage event API'", "storage event") {
            return Ok(resp);
        }
    }
    if !cfg.storage_event_enable {
        return Err(ApiError::NotFound);
    }
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed { method: method.to_string(), allow: "POST, OPTIONS".into() });
    }
    let Body(body) = Body::from_request(request, &state).await?;
    let message = recordings::storage_event(&state, &body).await?;
    Ok(super::rooms::respond(StatusCode::OK, &MessageOut::new(message)))
}

/// `POST /api/v1.0/recordings/external-process-hook/`: now-recordings §13. Only its bearer
/// token authenticates (no session, no CSRF), then the method.
async fn external_process_hook(
    State(state): State<AppState>,
    method: Method,
    request: Request,
) -> Result<Response, ApiError> {
    let token = state.config.recording.head.summary_webhook_token.as_deref();
    let realm = "Bearer realm='External process webhook API'";
    if let Some(resp) = refuse_bearer(&request, token, realm, "external process webhook") {
        return Ok(resp);
    }
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed { method: method.to_string(), allow: "POST, OPTIONS".into() });
    }
    let Body(body) = Body::from_request(request, &state).await?;
    crate::service::recording_events::external_process_event(&state, &body).await?;
    Ok(super::rooms::respond(StatusCode::OK, &MessageOut::new("Event processed.".to_string())))
}

/// `GET /api/v1.0/recordings/media-auth/`: recordings §4.9, §8; now-recordings §9 (the
/// session cookie only, §1.2).
async fn media_auth(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller?;
    if matches!(caller, Caller::Bearer { .. }) {
        return Err(ApiError::Unauthenticated);
    }
    let user = caller.require_user()?;
    let original = headers.get("x-original-url").and_then(|v| v.to_str().ok());
    authorized(recordings::media_auth(&state, user, original).await?)
}

/// The `"authorized"` answer of a media-auth subrequest, carrying the S3 signature headers the
/// proxy forwards to the store (recordings and files alike).
pub(super) fn authorized(signed: crate::s3::SignedHeaders) -> Result<Response, ApiError> {
    let mut resp = json_response(StatusCode::OK, &json!("authorized"));
    let h = resp.headers_mut();
    for (name, value) in [
        ("authorization", signed.authorization),
        ("x-amz-date", signed.x_amz_date),
        ("x-amz-content-sha256", signed.x_amz_content_sha256),
    ] {
        h.insert(name, HeaderValue::from_str(&value).map_err(ApiError::internal)?);
    }
    Ok(resp)
}
