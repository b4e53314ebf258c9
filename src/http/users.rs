//! `/api/v1.0/users/`: users-auth-rooms §5.2 (U statements), now-rooms §13 (UP statements).

use axum::extract::{OriginalUri, Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, put};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::extract::{Body, Caller, Origin};
use super::pagination::{self, Paginated};
use super::{ApiRoute, ViewAuth};
use crate::error::{json_response, ApiError};
use crate::service::users as users_service;
use crate::state::AppState;
use crate::store::users::{self, User};

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/api/v1.0/users/", "User", ViewAuth::User, get(list))
            .doc(Method::GET, "List users (empty unless ALLOW_UNSECURE_USER_LISTING)")
            .returns::<Paginated<UserOut>>(200)
            .paginated()
            .query("q", "Search on e-mail and names"),
        ApiRoute::new("/api/v1.0/users/me/", "User", ViewAuth::User, get(me))
            .doc(Method::GET, "The logged-in user")
            .returns::<UserOut>(200),
        ApiRoute::new("/api/v1.0/users/{id}/", "User", ViewAuth::User, put(update).patch(partial_update))
            .doc(Method::PUT, "Update the caller's time zone, language and room defaults")
            .body::<UserPutIn>()
            .returns::<UserOut>(200)
            .errors(&[403, 404])
            .doc(Method::PATCH, "Partially update the caller's time zone, language and room defaults")
            .body::<UserPatchIn>()
            .returns::<UserOut>(200)
            .errors(&[403, 404]),
    ]
}

/// The user object of every users endpoint and of nested accesses (now-rooms §13.1).
#[derive(Serialize, Debug, schemars::JsonSchema)]
pub struct UserOut {
    pub id: Uuid,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub short_name: Option<String>,
    pub timezone: String,
    pub language: String,
    pub default_room_access_level: Option<String>,
    pub default_room_configuration: Value,
}

/// The body of `PUT /users/{id}/` (other keys are read-only and ignored).
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "UserUpdate")]
pub struct UserPutIn {
    /// An IANA time zone name.
    pub timezone: String,
    /// One of `LANGUAGES`.
    pub language: Option<String>,
    pub default_room_access_level: Option<crate::domain::permissions::AccessLevel>,
    pub default_room_configuration: Option<serde_json::Map<String, Value>>,
}

/// The body of `PATCH /users/{id}/`: the same fields, all optional.
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "UserPartialUpdate")]
pub struct UserPatchIn {
    pub timezone: Option<String>,
    pub language: Option<String>,
    pub default_room_access_level: Option<crate::domain::permissions::AccessLevel>,
    pub default_room_configuration: Option<serde_json::Map<String, Value>>,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        UserOut {
            id: u.id,
            email: u.email.clone(),
            full_name: u.full_name.clone(),
            short_name: u.short_name.clone(),
            timezone: u.timezone.clone(),
            language: u.language.clone(),
            default_room_access_level: u.default_room_access_level.clone(),
            default_room_configuration: u.default_room_configuration.0.clone(),
        }
    }
}

fn ok<T: Serialize>(body: &T) -> Response {
    json_response(StatusCode::OK, &serde_json::to_value(body).unwrap_or_default())
}

/// `GET /api/v1.0/users/`: U-1..U-4.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    origin: Origin,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    caller.require_user()?;
    if !state.config.allow_unsecure_user_listing {
        let page = pagination::page(&uri, &origin, 0)?;
        return Ok(ok(&Paginated::<UserOut>::new(0, page, Vec::new())));
    }
    let q: Option<String> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "q")
        .map(|(_, v)| v.into_owned())
        .last();
    // Count first (to validate the page), then read the page.
    let (count, _) = users::list(&state.db, q.as_deref(), 0, 0).await?;
    let page = pagination::page(&uri, &origin, count)?;
    let (count, rows) = users::list(&state.db, q.as_deref(), page.offset, page.limit).await?;
    let results = rows.iter().map(UserOut::from).collect();
    Ok(ok(&Paginated::new(count, page, results)))
}

/// `GET /api/v1.0/users/me/`: U-5, U-6, NR-UP-5.
async fn me(caller: Caller) -> Result<Response, ApiError> {
    Ok(ok(&UserOut::from(caller.require_user()?)))
}

/// `PUT /api/v1.0/users/{id}/`: U-9..U-11, now-rooms §13.2 (`timezone` required).
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    write(state, caller, id, body, false).await
}

/// `PATCH /api/v1.0/users/{id}/`: now-rooms §13.2.
async fn partial_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    write(state, caller, id, body, true).await
}

async fn write(state: AppState, caller: Caller, id: String, body: Body, partial: bool) -> Result<Response, ApiError> {
    let me = caller.require_user()?;
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let user = users_service::update(&state, me, id, body.object()?, partial).await?;
    Ok(ok(&UserOut::from(&user)))
}
