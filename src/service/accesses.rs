//! Resource-access use-cases (users-auth-rooms §5.10, RA statements). Each write locks the room
//! first and decides inside that transaction, so two owners demoting or removing each other at
//! the same moment can never leave a room without an owner.

use serde_json::{Map, Value};
use tracing::instrument;
use uuid::Uuid;

use crate::domain::fields::{choice_field, does_not_exist, uuid_pk_field, REQUIRED};
use crate::domain::permissions::{self, AccessRefusal, Role, MUST_BE_ADMINISTRATOR};
use crate::domain::slug::parse_python_uuid;
use crate::error::{ApiError, FieldErrors};
use crate::state::AppState;
use crate::store::accesses::{self, Access};
use crate::store::{rooms, users, StoreError, Tx};

/// `{"non_field_errors": [...]}` of a duplicate (user, resource) (RA-15): DRF's unique-together
/// message.
pub fn not_unique() -> crate::i18n::Msg {
    crate::i18n::msg::UNIQUE_TOGETHER.arg("field_names", "user, resource")
}

const ROLE_CHOICES: [&str; 3] = ["member", "administrator", "owner"];

fn refused(r: AccessRefusal) -> ApiError {
    match r {
        AccessRefusal::Forbidden => ApiError::Forbidden,
        other => ApiError::ForbiddenMessage(other.message().into()),
    }
}

fn parse_role(s: &str) -> Result<Role, ApiError> {
    Role::parse(s).ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown role {s:?} in the database")))
}

async fn role_in(tx: &mut Tx, user: Uuid, room: Uuid) -> Result<Option<Role>, ApiError> {
    accesses::role_in(tx, user, room).await?.map(|r| parse_role(&r)).transpose()
}

fn unique_violation(e: StoreError) -> ApiError {
    if e.is_conflict("resource_access_unique_user_resource") {
        FieldErrors::one("non_field_errors", not_unique())
    } else {
        e.into()
    }
}

/// The `{id}` of `/resource-accesses/{id}/`: a UUID in any form Python accepts, else `Not found.`.
pub fn parse_id(segment: &str) -> Result<Uuid, ApiError> {
    parse_python_uuid(segment).ok_or(ApiError::NotFound)
}

/// `GET /resource-accesses/`: every access of the rooms the caller administers, newest first.
#[instrument(skip_all)]
pub async fn list(
    state: &AppState,
    user: &users::User,
    pick: impl FnOnce(u64) -> Result<(u64, u64), ApiError>,
) -> Result<(u64, Vec<Access>), ApiError> {
    let count = accesses::count_administered(&state.db, user.id).await?;
    let (offset, limit) = pick(count)?;
    Ok((count, accesses::page_administered(&state.db, user.id, offset, limit).await?))
}

/// `GET /resource-accesses/{id}/`: administrator privileges on its room (RA-8, RA-9).
#[instrument(skip_all)]
pub async fn retrieve(state: &AppState, user: &users::User, id: Uuid) -> Result<Access, ApiError> {
    let access = accesses::get(&state.db, id).await?.ok_or(ApiError::NoMatch("ResourceAccess"))?;
    let role = accesses::role_of(&state.db, user.id, access.resource_id).await?.map(|r| parse_role(&r)).transpose()?;
    if !permissions::can_manage_accesses(role) {
        return Err(ApiError::Forbidden);
    }
    Ok(access)
}

/// Validated `user`, `resource` and `role` of a body (field order `user`, `resource`, `role`).
struct Fields {
    user: Option<Uuid>,
    resource: Option<Uuid>,
    role: Option<Role>,
}

/// DRF's field validation (§5.10 POST step 2): existence of the user and the room, and the
/// administrator check on the room, which stops at once with its own 403.
async fn validate(
    tx: &mut Tx,
    caller: &users::User,
    body: &Map<String, Value>,
    required: bool,
) -> Result<Fields, ApiError> {
    let mut errors = FieldErrors::new();
    let mut user = None;
    match uuid_pk_field(body.get("user"), required) {
        Err(m) => {
            errors.add("user", m);
        }
        Ok(Some(id)) => {
            if accesses::user_exists(tx, id).await? {
                user = Some(id);
            } else {
                errors.add("user", does_not_exist(&body["user"]));
            }
        }
        Ok(None) => {}
    }
    let mut resource = None;
    match uuid_pk_field(body.get("resource"), required) {
        Err(m) => {
            errors.add("resource", m);
        }
        Ok(Some(id)) => {
            if rooms::find_in(tx, Some(id), None).await?.is_none() {
                errors.add("resource", does_not_exist(&body["resource"]));
            } else if !permissions::is_administrator(role_in(tx, caller.id, id).await?) {
                return Err(ApiError::ForbiddenMessage(MUST_BE_ADMINISTRATOR.into()));
            } else {
                resource = Some(id);
            }
        }
        Ok(None) => {}
    }
    let role = match choice_field(body.get("role"), &ROLE_CHOICES) {
        Err(m) => {
            errors.add("role", m);
            None
        }
        Ok(r) => r.and_then(Role::parse),
    };
    errors.into_result()?;
    Ok(Fields { user, resource, role })
}

/// `POST /resource-accesses/` (§5.10): fields, uniqueness, owner rule, insert; all under the
/// room's lock.
#[instrument(skip_all, fields(user.id = %caller.id))]
pub async fn create(state: &AppState, caller: &users::User, body: Map<String, Value>) -> Result<Access, ApiError> {
    let mut tx = state.db.begin().await?;
    // Lock the target room before reading the caller's role on it, when the body names one.
    if let Ok(Some(id)) = uuid_pk_field(body.get("resource"), true) {
        rooms::lock(&mut tx, id).await?;
    }
    let f = validate(&mut tx, caller, &body, true).await?;
    let (Some(user), Some(resource)) = (f.user, f.resource) else {
        return Err(ApiError::internal(anyhow::anyhow!("validated fields are missing")));
    };
    if accesses::exists(&mut tx, user, resource, None).await? {
        return Err(FieldErrors::one("non_field_errors", not_unique()));
    }
    let role = f.role.unwrap_or(Role::Member);
    permissions::check_access_create(role_in(&mut tx, caller.id, resource).await?, role).map_err(refused)?;
    let access = accesses::insert(&mut tx, resource, user, role.as_str()).await.map_err(unique_violation)?;
    tx.commit().await.map_err(unique_violation)?;
    Ok(access)
}

/// Loads an access and locks its room: the start of every write on one access.
async fn load_locked(tx: &mut Tx, id: Uuid) -> Result<Access, ApiError> {
    let first = accesses::get_in(tx, id).await?.ok_or(ApiError::NoMatch("ResourceAccess"))?;
    rooms::lock(tx, first.resource_id).await?;
    accesses::get_in(tx, id).await?.ok_or(ApiError::NoMatch("ResourceAccess"))
}

/// `PUT|PATCH /resource-accesses/{id}/` (§5.10): only `role` changes; a missing `role` is a 400
/// (B1); owners cannot change other owners (B16); the last owner stays.
#[instrument(skip_all, fields(user.id = %caller.id))]
pub async fn update(
    state: &AppState,
    caller: &users::User,
    id: Uuid,
    body: Result<Map<String, Value>, ApiError>,
    partial: bool,
) -> Result<Access, ApiError> {
    let mut tx = state.db.begin().await?;
    let target = load_locked(&mut tx, id).await?;
    let caller_role = role_in(&mut tx, caller.id, target.resource_id).await?;
    if !permissions::can_manage_accesses(caller_role) {
        return Err(ApiError::Forbidden);
    }
    let body = body?;
    let f = validate(&mut tx, caller, &body, !partial).await?;
    if f.user.is_some() || f.resource.is_some() {
        let user = f.user.unwrap_or(target.user_id);
        let resource = f.resource.unwrap_or(target.resource_id);
        if accesses::exists(&mut tx, user, resource, Some(target.id)).await? {
            return Err(FieldErrors::one("non_field_errors", not_unique()));
        }
    }
    let new_role = f.role.ok_or_else(|| FieldErrors::one("role", REQUIRED))?;
    let target_role = parse_role(&target.role)?;
    let mine = target.user_id == caller.id;
    permissions::check_access_update(caller_role, target_role, mine, new_role).map_err(refused)?;
    let owners = accesses::count_owners(&mut tx, target.resource_id).await?;
    permissions::keeps_an_owner(target_role, Some(new_role), owners).map_err(refused)?;
    let saved = accesses::set_role(&mut tx, target.id, new_role.as_str()).await?;
    tx.commit().await?;
    Ok(saved)
}

/// `DELETE /resource-accesses/{id}/` (§5.10): an owner access only by its owner, others by an
/// administrator; never the last owner.
#[instrument(skip_all, fields(user.id = %caller.id))]
pub async fn destroy(state: &AppState, caller: &users::User, id: Uuid) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    let target = load_locked(&mut tx, id).await?;
    let caller_role = role_in(&mut tx, caller.id, target.resource_id).await?;
    let target_role = parse_role(&target.role)?;
    if !permissions::can_delete_access(caller_role, target_role, target.user_id == caller.id) {
        return Err(ApiError::Forbidden);
    }
    let owners = accesses::count_owners(&mut tx, target.resource_id).await?;
    permissions::keeps_an_owner(target_role, None, owners).map_err(refused)?;
    accesses::delete(&mut tx, target.id).await?;
    tx.commit().await?;
    Ok(())
}
