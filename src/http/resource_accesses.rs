//! `/api/v1.0/resource-accesses/`: users-auth-rooms §5.10 (RA statements).

use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use uuid::Uuid;

use super::extract::{Body, Caller, Origin};
use super::pagination::Paginated;
use super::rooms::{pager, respond};
use super::{ApiRoute, ViewAuth};
use crate::error::ApiError;
use crate::service::accesses;
use crate::state::AppState;
use crate::store::accesses::Access;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/api/v1.0/resource-accesses/", "Resource Access", ViewAuth::User, get(list).post(create))
            .doc(Method::GET, "Accesses of the rooms the caller administers")
            .returns::<Paginated<AccessOut>>(200)
            .paginated()
            .doc(Method::POST, "Give a user a role on a room")
            .body::<AccessIn>()
            .returns::<AccessOut>(201)
            .errors(&[403]),
        ApiRoute::new(
            "/api/v1.0/resource-accesses/{id}/",
            "Resource Access",
            ViewAuth::User,
            get(retrieve).put(update).patch(partial_update).delete(destroy),
        )
        .doc(Method::GET, "One access (administrators and owners of its room)")
        .returns::<AccessOut>(200)
        .errors(&[403, 404])
        .doc(Method::PUT, "Change the role of an access")
        .body::<AccessIn>()
        .returns::<AccessOut>(200)
        .errors(&[403, 404])
        .doc(Method::PATCH, "Change the role of an access")
        .body::<AccessPatchIn>()
        .returns::<AccessOut>(200)
        .errors(&[403, 404])
        .doc(Method::DELETE, "Remove an access")
        .returns_nothing(204)
        .errors(&[403, 404]),
    ]
}

/// The access object: `user` and `resource` as plain ids.
#[derive(Serialize, Debug, schemars::JsonSchema)]
#[schemars(rename = "ResourceAccess")]
pub struct AccessOut {
    pub id: Uuid,
    pub user: Uuid,
    pub resource: Uuid,
    #[schemars(with = "crate::domain::permissions::Role")]
    pub role: String,
}

/// The body of `POST` and `PUT` (§5.10), as `service::accesses` validates it: existing user
/// and room ids (the caller administers the room), a role. A `PUT` may only change the role.
#[derive(Debug, schemars::JsonSchema)]
pub struct AccessIn {
    pub user: Uuid,
    pub resource: Uuid,
    pub role: crate::domain::permissions::Role,
}

/// The body of `PATCH` (§5.10): every field optional.
#[derive(Debug, schemars::JsonSchema)]
pub struct AccessPatchIn {
    #[serde(default)]
    #[schemars(with = "Uuid")]
    pub user: Option<Uuid>,
    #[serde(default)]
    #[schemars(with = "Uuid")]
    pub resource: Option<Uuid>,
    #[serde(default)]
    #[schemars(with = "crate::domain::permissions::Role")]
    pub role: Option<crate::domain::permissions::Role>,
}

impl From<Access> for AccessOut {
    fn from(a: Access) -> Self {
        AccessOut { id: a.id, user: a.user_id, resource: a.resource_id, role: a.role }
    }
}

fn access_id(id: Result<Path<String>, PathRejection>) -> Result<Uuid, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::NotFound)?;
    accesses::parse_id(&id)
}

/// `GET /api/v1.0/resource-accesses/`: users-auth-rooms §5.10 (RA-1..RA-6, RA-34).
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    origin: Origin,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let user = caller.require_user()?;
    let mut page = None;
    let (count, rows) = accesses::list(&state, user, pager(&uri, &origin, false, &mut page)).await?;
    let page = page.ok_or_else(|| ApiError::internal(anyhow::anyhow!("page not computed")))?;
    let results: Vec<AccessOut> = rows.into_iter().map(AccessOut::from).collect();
    Ok(respond(StatusCode::OK, &Paginated::new(count, page, results)))
}

/// `POST /api/v1.0/resource-accesses/`: users-auth-rooms §5.10 (RA-10..RA-17).
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let user = caller.require_user()?;
    let access = accesses::create(&state, user, body?.object()?).await?;
    Ok(respond(StatusCode::CREATED, &AccessOut::from(access)))
}

/// `GET /api/v1.0/resource-accesses/{id}/`: users-auth-rooms §5.10 (RA-7..RA-9, RA-33).
async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let user = caller.require_user()?;
    let access = accesses::retrieve(&state, user, access_id(id)?).await?;
    Ok(respond(StatusCode::OK, &AccessOut::from(access)))
}

async fn write(
    state: AppState,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
    partial: bool,
) -> Result<Response, ApiError> {
    let user = caller.require_user()?;
    let id = access_id(id)?;
    let access = accesses::update(&state, user, id, body.and_then(Body::object), partial).await?;
    Ok(respond(StatusCode::OK, &AccessOut::from(access)))
}

/// `PUT /api/v1.0/resource-accesses/{id}/`: users-auth-rooms §5.10 (RA-18..RA-25, RA-31, RA-32).
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    write(state, caller, id, body, false).await
}

/// `PATCH /api/v1.0/resource-accesses/{id}/`: users-auth-rooms §5.10 (RA-18..RA-25, RA-31).
async fn partial_update(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    write(state, caller, id, body, true).await
}

/// `DELETE /api/v1.0/resource-accesses/{id}/`: users-auth-rooms §5.10 (RA-26..RA-30).
async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let user = caller.require_user()?;
    accesses::destroy(&state, user, access_id(id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
