//! `/api/v1.0/rooms/`: users-auth-rooms §5.3–§5.9 (R and CB statements). Unregistered rooms and
//! the lobby routes are not served here: an unknown identifier is a 404.

use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::client_ip::ClientIp;
use super::extract::{Body, Caller, Origin};
use super::pagination::{self, Page, Paginated};
use super::users::UserOut;
use super::{ApiRoute, ViewAuth};
use crate::domain::slug::RoomRef;
use crate::error::ApiError;
use crate::livekit::token::LiveKitOut;
use crate::service::rooms::{self, RoomView};
use crate::state::AppState;
use crate::store::rooms::AccessWithUser;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/api/v1.0/rooms/", "Room", ViewAuth::UserForUnsafe, get(list).post(create))
            .doc(Method::GET, "List the rooms the caller has an access to")
            .returns::<Paginated<RoomOut>>(200)
            .paginated()
            .query("page_size", "Items per page (at most 100; 20 by default)")
            .query("username", "Display name put in the LiveKit tokens")
            .doc(Method::POST, "Create a room; the caller becomes its owner")
            .body::<RoomCreateIn>()
            .returns::<RoomOut>(201)
            .query("username", "Display name put in the LiveKit token"),
        ApiRoute::new("/api/v1.0/rooms/creation-callback/", "Room", ViewAuth::Any, post(creation_callback))
            .doc(Method::POST, "Read once the slug of a room created with this callback_id")
            .body::<CreationCallbackIn>()
            .returns::<rooms::CreationCallbackOut>(200)
            .errors(&[429]),
        ApiRoute::new(
            "/api/v1.0/rooms/{id}/",
            "Room",
            ViewAuth::UserForUnsafe,
            get(retrieve).put(update).patch(partial_update).delete(destroy),
        )
        .doc(Method::GET, "A room by id or slug, with a LiveKit token when the caller may join")
        .returns::<RoomOut>(200)
        .returns::<crate::service::unregistered::UnregisteredRoomOut>(200)
        .errors(&[404])
        .query("username", "Display name put in the LiveKit token")
        .doc(Method::PUT, "Update a room (administrators and owners)")
        .body::<RoomUpdateIn>()
        .returns::<RoomOut>(200)
        .errors(&[403, 404])
        .doc(Method::PATCH, "Partially update a room (administrators and owners)")
        .body::<RoomPatchIn>()
        .returns::<RoomOut>(200)
        .errors(&[403, 404])
        .doc(Method::DELETE, "Delete a room (owners)")
        .returns_nothing(204)
        .errors(&[403, 404]),
    ]
}

/// An access nested in a room, with its user (§5.3).
#[derive(Serialize, Debug, schemars::JsonSchema)]
pub struct NestedAccessOut {
    pub id: Uuid,
    pub user: UserOut,
    pub resource: Uuid,
    #[schemars(with = "crate::domain::permissions::Role")]
    pub role: String,
}

impl From<AccessWithUser> for NestedAccessOut {
    fn from(a: AccessWithUser) -> Self {
        let user = UserOut {
            id: a.user_id,
            email: a.email,
            full_name: a.full_name,
            short_name: a.short_name,
            timezone: a.timezone,
            language: a.language,
            default_room_access_level: a.default_room_access_level,
            default_room_configuration: a.default_room_configuration.0,
        };
        NestedAccessOut { id: a.id, user, resource: a.resource_id, role: a.role }
    }
}

/// The room representation, keys in upstream HEAD's order (now-rooms §6.2).
#[derive(Serialize, Debug, schemars::JsonSchema)]
#[schemars(rename = "Room")]
pub struct RoomOut {
    pub id: Uuid,
    pub name: String,
    pub slug: Option<String>,
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub configuration: Value,
    #[schemars(with = "crate::domain::permissions::AccessLevel")]
    pub access_level: String,
    /// Present exactly when `livekit` is (`null` for a room without PIN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_code: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accesses: Option<Vec<NestedAccessOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livekit: Option<LiveKitOut>,
}

impl From<RoomView> for RoomOut {
    fn from(v: RoomView) -> Self {
        let r = v.room;
        // A legacy configuration that is not an object reads as `{}` (B-CFG-2).
        let configuration = match r.configuration.0 {
            c @ Value::Object(_) => c,
            _ => Value::Object(Default::default()),
        };
        RoomOut {
            id: r.id,
            name: r.name,
            slug: r.slug,
            configuration,
            access_level: r.access_level,
            pin_code: v.livekit.as_ref().map(|_| r.pin_code),
            accesses: v.accesses.map(|all| all.into_iter().map(NestedAccessOut::from).collect()),
            livekit: v.livekit,
        }
    }
}

/// A compact JSON response serialized straight from `body`.
pub fn respond<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut resp = (status, bytes).into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            resp
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// The last `username` query parameter (lobby-livekit §2.5: taken raw).
pub fn username(uri: &Uri) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "username")
        .map(|(_, v)| v.into_owned())
        .last()
}

/// The `{id}` segment: identifiers with a `.` (format suffixes) never reach a lookup.
pub fn room_ref(id: Result<Path<String>, PathRejection>) -> Result<RoomRef, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::NotFound)?;
    if id.contains('.') {
        return Err(ApiError::NotFound);
    }
    Ok(RoomRef::parse(&id))
}

/// Runs a paginated read: `read` gets `(offset, limit)` from the checked page. `sized`: the
/// list honours `page_size` (rooms at HEAD, now-rooms §6.5; not the accesses).
pub fn pager<'a>(
    uri: &'a Uri,
    origin: &'a Origin,
    sized: bool,
    slot: &'a mut Option<Page>,
) -> impl FnOnce(u64) -> Result<(u64, u64), ApiError> + 'a {
    move |count| {
        let size = if sized { pagination::requested_size(uri) } else { pagination::PAGE_SIZE };
        let p = pagination::page_sized(uri, origin, count, size)?;
        let range = (p.offset, p.limit);
        *slot = Some(p);
        Ok(range)
    }
}

/// `GET /api/v1.0/rooms/`: users-auth-rooms §5.4 (R-1..R-4).
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    origin: Origin,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let mut page = None;
    let name = username(&uri);
    let (count, views) =
        rooms::list(&state, caller.user(), name.as_deref(), pager(&uri, &origin, true, &mut page)).await?;
    let page = page.ok_or_else(|| ApiError::internal(anyhow::anyhow!("page not computed")))?;
    let results: Vec<RoomOut> = views.into_iter().map(RoomOut::from).collect();
    Ok(respond(StatusCode::OK, &Paginated::new(count, page, results)))
}

/// `POST /api/v1.0/rooms/`: users-auth-rooms §5.5 (R-5..R-10).
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let user = caller.require_user()?;
    let view = rooms::create(&state, user, body?.object()?, username(&uri).as_deref()).await?;
    Ok(respond(StatusCode::CREATED, &RoomOut::from(view)))
}

/// `GET /api/v1.0/rooms/{id}/`: users-auth-rooms §5.6 (R-11..R-22, R-31).
async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let Path(segment) = id.map_err(|_| ApiError::NotFound)?;
    let reference = room_ref(Ok(Path(segment.clone())))?;
    let username = username(&uri);
    match rooms::retrieve(&state, caller.user(), &reference, username.as_deref()).await {
        Ok(view) => Ok(respond(StatusCode::OK, &RoomOut::from(view))),
        // Unregistered rooms: lobby-livekit §3.
        Err(ApiError::NoMatch(_)) => {
            let body =
                crate::service::unregistered::fallback(&state, &segment, caller.user(), username.as_deref()).await?;
            Ok(crate::error::json_response(StatusCode::OK, &body))
        }
        Err(e) => Err(e),
    }
}

async fn write(
    state: AppState,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    uri: Uri,
    body: Result<Body, ApiError>,
    partial: bool,
) -> Result<Response, ApiError> {
    let user = caller.require_user()?;
    let reference = room_ref(id)?;
    let body = body.and_then(Body::object);
    let view = rooms::update(&state, user, &reference, body, partial, username(&uri).as_deref()).await?;
    Ok(respond(StatusCode::OK, &RoomOut::from(view)))
}

/// `PUT /api/v1.0/rooms/{id}/`: users-auth-rooms §5.7 (R-23..R-27).
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    OriginalUri(uri): OriginalUri,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    write(state, caller, id, uri, body, false).await
}

/// `PATCH /api/v1.0/rooms/{id}/`: users-auth-rooms §5.7.
async fn partial_update(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    OriginalUri(uri): OriginalUri,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    write(state, caller, id, uri, body, true).await
}

/// `DELETE /api/v1.0/rooms/{id}/`: users-auth-rooms §5.8.
async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let user = caller.require_user()?;
    rooms::destroy(&state, user, &room_ref(id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1.0/rooms/creation-callback/`: users-auth-rooms §5.9, §5.12 (CB-1..CB-6, T-1..T-3).
async fn creation_callback(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let body = body.and_then(Body::object);
    let out = rooms::creation_callback(&state, caller.user(), &ip, body).await?;
    Ok(respond(StatusCode::OK, &out))
}

/// The body of `POST /rooms/` (§5.5), as `service::rooms::validate` reads it. DRF also takes a
/// number for `name` (made a string) and ignores unknown keys.
#[derive(Debug, schemars::JsonSchema)]
pub struct RoomCreateIn {
    /// Trimmed; not blank; at most 500 characters. The slug is made from it.
    #[schemars(length(min = 1, max = 500))]
    pub name: String,
    /// `RESOURCE_DEFAULT_ACCESS_LEVEL` when absent.
    #[serde(default)]
    #[schemars(with = "crate::domain::permissions::AccessLevel")]
    pub access_level: Option<String>,
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub configuration: Option<Value>,
    /// Keeps the new room's slug for `POST /rooms/creation-callback/`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub callback_id: Option<String>,
}

/// The body of `PUT /rooms/{id}/` (§5.7): `name` is required.
#[derive(Debug, schemars::JsonSchema)]
pub struct RoomUpdateIn {
    #[schemars(length(min = 1, max = 500))]
    pub name: String,
    #[serde(default)]
    #[schemars(with = "crate::domain::permissions::AccessLevel")]
    pub access_level: Option<String>,
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub configuration: Option<Value>,
}

/// The body of `PATCH /rooms/{id}/` (§5.7): every field optional.
#[derive(Debug, schemars::JsonSchema)]
pub struct RoomPatchIn {
    #[serde(default)]
    #[schemars(with = "String", length(min = 1, max = 500))]
    pub name: Option<String>,
    #[serde(default)]
    #[schemars(with = "crate::domain::permissions::AccessLevel")]
    pub access_level: Option<String>,
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub configuration: Option<Value>,
}

/// The body of `POST /rooms/creation-callback/` (§5.9).
#[derive(Debug, schemars::JsonSchema)]
pub struct CreationCallbackIn {
    #[schemars(length(min = 1))]
    pub callback_id: String,
}
