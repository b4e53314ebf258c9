//! File endpoints (now-recordings-files §21): `/files/` list and create, `/files/{id}/` edit and
//! soft delete, `upload-ended` and the media-auth sub-request. Each handler applies §20.2 in
//! order (CSRF through the caller, the `file_upload` flag, the login), then one service call.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::json;

use super::extract::{Body, Caller, Origin};
use super::pagination::{self, Paginated};
use super::{ApiRoute, ViewAuth};
use crate::error::{json_response, ApiError};
use crate::i18n;
use crate::service::files::{self, CreatedOut, FileOut, UploadEnded};
use crate::state::AppState;
use crate::store::files as store;
use crate::store::users::User;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/api/v1.0/files/", "File", ViewAuth::User, get(list).post(create))
            .doc(Method::GET, "The caller's files (not hard-deleted)")
            .returns::<Paginated<FileOut>>(200)
            .errors(&[400])
            .paginated()
            .query("page_size", "Items per page (at most 100; 20 by default)")
            .query("type", "Only files of this type (`background_image`)")
            .query("upload_state", "Only files in this state (`pending`, `analyzing`, `ready`)")
            .query("is_deleted", "`true`: only soft-deleted files; `false`: only live ones")
            .query("is_creator_me", "`false` lists nothing (only the caller's files are listed)")
            .query("ordering", "`created_at`, `updated_at`, `title`, each optionally with `-`; comma-separated")
            .doc(Method::POST, "Create a file and get the presigned PUT URL of its upload (`policy`)")
            .body::<FileCreateIn>()
            .returns::<CreatedOut>(201)
            .errors(&[400, 403, 404]),
        ApiRoute::new("/api/v1.0/files/media-auth/", "File", ViewAuth::User, get(media_auth))
            .doc(Method::GET, "nginx auth_request: authorize a file download and sign it for S3")
            .returns::<String>(200)
            .errors(&[403, 404]),
        ApiRoute::new(
            "/api/v1.0/files/{id}/",
            "File",
            ViewAuth::User,
            put(update).patch(partial_update).delete(destroy),
        )
        .doc(Method::PUT, "Edit a file's title, type and description (its creator)")
        .body::<FileUpdateIn>()
        .returns::<FileOut>(200)
        .errors(&[400, 404])
        .doc(Method::PATCH, "Edit some of a file's title, type and description (its creator)")
        .body::<FileUpdateIn>()
        .returns::<FileOut>(200)
        .errors(&[400, 404])
        .doc(Method::DELETE, "Soft-delete a file (its creator); a purge removes it later")
        .returns_nothing(204)
        .errors(&[404]),
        ApiRoute::new("/api/v1.0/files/{id}/upload-ended/", "File", ViewAuth::User, post(upload_ended))
            .doc(Method::POST, "The browser finished its upload: check the object and make the file ready")
            .returns::<FileOut>(200)
            .returns::<Vec<String>>(400)
            .returns::<FileStateError>(400)
            .errors(&[404]),
    ]
}

/// The body of `POST /files/`.
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "FileCreate")]
pub struct FileCreateIn {
    /// A client-chosen id (no file may use it already).
    pub id: Option<uuid::Uuid>,
    /// Defaults to the filename without its extension.
    #[schemars(length(min = 1, max = 255))]
    pub title: Option<String>,
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["background_image"]))]
    pub file_type: String,
    /// The original name; its extension must be allowed for the type.
    #[schemars(length(min = 1, max = 255))]
    pub filename: String,
    pub description: Option<String>,
}

/// The body of `PUT` / `PATCH /files/{id}/` (`title` and `type` required on `PUT`).
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "FileUpdate")]
pub struct FileUpdateIn {
    #[schemars(length(min = 1, max = 255))]
    pub title: Option<String>,
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["background_image"]))]
    pub file_type: Option<String>,
    pub description: Option<String>,
}

/// The 400 of upload-ended for a file that is not `pending`, or whose upload is missing:
/// `{"file": "<message>"}` (a string, not a list, as upstream answers).
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "FileStateError")]
pub struct FileStateError {
    pub file: String,
}

/// §20.2 steps 1–3: the caller (CSRF), the flag, then the login.
fn gate(state: &AppState, caller: Result<Caller, ApiError>) -> Result<User, ApiError> {
    let caller = caller?;
    files::require_enabled(state)?;
    Ok(caller.require_user()?.clone())
}

fn file_id(id: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    id.map(|Path(id)| id).map_err(|_| ApiError::NotFound)
}

fn ok_json(status: StatusCode, value: &impl serde::Serialize) -> Result<Response, ApiError> {
    Ok(json_response(status, &serde_json::to_value(value).map_err(ApiError::internal)?))
}

/// `GET /api/v1.0/files/`: §21.1.
async fn list(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
) -> Result<Response, ApiError> {
    let user = gate(&state, caller)?;
    let (filter, order) = files::parse_query(uri.query().unwrap_or(""))?;
    let count = store::count(&state.db, user.id, &filter).await?;
    let page = pagination::page_sized(&uri, &origin, count, pagination::requested_size(&uri))?;
    let rows = store::page(&state.db, user.id, &filter, &order, page.offset, page.limit).await?;
    let items: Vec<FileOut> = rows.iter().map(|f| files::represent(&state, f, &user)).collect();
    Ok(json_response(StatusCode::OK, &Paginated::new(count, page, items).to_value()))
}

/// `POST /api/v1.0/files/`: §21.2.
async fn create(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    request: Request,
) -> Result<Response, ApiError> {
    let user = gate(&state, caller)?;
    let Body(body) = Body::from_request(request, &state).await?;
    ok_json(StatusCode::CREATED, &files::create(&state, &user, &body).await?)
}

async fn edit(
    state: AppState,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
    request: Request,
    partial: bool,
) -> Result<Response, ApiError> {
    let user = gate(&state, caller)?;
    let file = files::find_own(&state, &user, &file_id(id)?).await?;
    let Body(body) = Body::from_request(request, &state).await?;
    ok_json(StatusCode::OK, &files::update(&state, &user, file, &body, partial).await?)
}

/// `PUT /api/v1.0/files/{id}/`: §21.4.
async fn update(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    edit(state, caller, id, request, false).await
}

/// `PATCH /api/v1.0/files/{id}/`: §21.4.
async fn partial_update(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    edit(state, caller, id, request, true).await
}

/// `DELETE /api/v1.0/files/{id}/`: §21.5.
async fn destroy(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let user = gate(&state, caller)?;
    let file = files::find_own(&state, &user, &file_id(id)?).await?;
    files::destroy(&state, &file).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1.0/files/{id}/upload-ended/`: §21.3 (no body is read).
async fn upload_ended(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let user = gate(&state, caller)?;
    let file = files::find_own(&state, &user, &file_id(id)?).await?;
    match files::upload_ended(&state, &user, file).await? {
        UploadEnded::Ready(out) => ok_json(StatusCode::OK, &out),
        UploadEnded::Refused(message) => {
            Ok(json_response(StatusCode::BAD_REQUEST, &json!([message.render(i18n::current())])))
        }
    }
}

/// `GET /api/v1.0/files/media-auth/`: §21.6. Only the session cookie authenticates (§1.2).
async fn media_auth(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller?;
    files::require_enabled(&state)?;
    let Caller::Session { user, .. } = &caller else { return Err(ApiError::Unauthenticated) };
    let original = headers.get("x-original-url").and_then(|v| v.to_str().ok());
    super::recordings::authorized(files::media_auth(&state, user, original).await?)
}
