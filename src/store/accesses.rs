//! `meet_resource_access`: the role of a user on a room.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{now, Db, StoreError, Tx, Q};

/// A row of `meet_resource_access`.
#[derive(Clone, Debug, sqlx::FromRow, PartialEq)]
pub struct Access {
    pub id: Uuid,
    pub resource_id: Uuid,
    pub user_id: Uuid,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

pub const ACCESS_COLUMNS: &str = "id, resource_id, user_id, role, created_at";

/// Inserts an access inside `tx`.
pub async fn insert(tx: &mut Tx, resource_id: Uuid, user_id: Uuid, role: &str) -> Result<Access, StoreError> {
    let t = now();
    Q::new(format!(
        "INSERT INTO meet_resource_access (id, created_at, updated_at, role, resource_id, user_id) VALUES ($1, $2, $2, $3, $4, $5) RETURNING {ACCESS_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(t)
    .bind(role)
    .bind(resource_id)
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await
}

/// An access by id.
pub async fn get(db: &Db, id: Uuid) -> Result<Option<Access>, StoreError> {
    Q::new(format!("SELECT {ACCESS_COLUMNS} FROM meet_resource_access WHERE id = $1")).bind(id).fetch_optional(db).await
}

/// An access by id inside `tx` (after the room is locked).
pub async fn get_in(tx: &mut Tx, id: Uuid) -> Result<Option<Access>, StoreError> {
    Q::new(format!("SELECT {ACCESS_COLUMNS} FROM meet_resource_access WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
}

#[derive(sqlx::FromRow)]
struct RoleRow {
    role: String,
}

/// The role of `user_id` on `resource_id`, if any.
pub async fn role_of(db: &Db, user_id: Uuid, resource_id: Uuid) -> Result<Option<String>, StoreError> {
    let r: Option<RoleRow> = Q::new("SELECT role FROM meet_resource_access WHERE user_id = $1 AND resource_id = $2")
        .bind(user_id)
        .bind(resource_id)
        .fetch_optional(db)
        .await?;
    Ok(r.map(|r| r.role))
}

/// The same inside `tx`.
pub async fn role_in(tx: &mut Tx, user_id: Uuid, resource_id: Uuid) -> Result<Option<String>, StoreError> {
    let r: Option<RoleRow> = Q::new("SELECT role FROM meet_resource_access WHERE user_id = $1 AND resource_id = $2")
        .bind(user_id)
        .bind(resource_id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(r.map(|r| r.role))
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// How many owner accesses the room has (read inside `tx`, after `rooms::lock`).
pub async fn count_owners(tx: &mut Tx, resource_id: Uuid) -> Result<u64, StoreError> {
    let c: Count = Q::new("SELECT COUNT(*) AS n FROM meet_resource_access WHERE resource_id = $1 AND role = 'owner'")
        .bind(resource_id)
        .fetch_one(&mut *tx)
        .await?;
    Ok(c.n as u64)
}

/// Whether `user_id` already has an access to `resource_id` other than `except`.
pub async fn exists(tx: &mut Tx, user_id: Uuid, resource_id: Uuid, except: Option<Uuid>) -> Result<bool, StoreError> {
    let c: Count = Q::new(
        "SELECT COUNT(*) AS n FROM meet_resource_access WHERE user_id = $1 AND resource_id = $2 AND ($3 IS NULL OR id <> $3)",
    )
    .bind(user_id)
    .bind(resource_id)
    .bind(except)
    .fetch_one(&mut *tx)
    .await?;
    Ok(c.n > 0)
}

/// Sets the role of an access inside `tx`.
pub async fn set_role(tx: &mut Tx, id: Uuid, role: &str) -> Result<Access, StoreError> {
    Q::new(format!(
        "UPDATE meet_resource_access SET role = $2, updated_at = $3 WHERE id = $1 RETURNING {ACCESS_COLUMNS}"
    ))
    .bind(id)
    .bind(role)
    .bind(now())
    .fetch_one(&mut *tx)
    .await
}

/// Deletes an access inside `tx`.
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<u64, StoreError> {
    Q::new("DELETE FROM meet_resource_access WHERE id = $1").bind(id).execute(&mut *tx).await
}

/// The filter of the list: accesses of rooms where `$1` has administrator privileges.
const ADMINISTERED: &str = "resource_id IN (SELECT resource_id FROM meet_resource_access \
    WHERE user_id = $1 AND role IN ('administrator', 'owner'))";

/// How many accesses the list of `user_id` holds (§5.10 GET).
pub async fn count_administered(db: &Db, user_id: Uuid) -> Result<u64, StoreError> {
    let c: Count = Q::new(format!("SELECT COUNT(*) AS n FROM meet_resource_access WHERE {ADMINISTERED}"))
        .bind(user_id)
        .fetch_one(db)
        .await?;
    Ok(c.n as u64)
}

/// One page of that list, newest first.
pub async fn page_administered(db: &Db, user_id: Uuid, offset: u64, limit: u64) -> Result<Vec<Access>, StoreError> {
    Q::new(format!(
        "SELECT {ACCESS_COLUMNS} FROM meet_resource_access WHERE {ADMINISTERED} ORDER BY created_at DESC, id LIMIT $2 OFFSET $3"
    ))
    .bind(user_id)
    .bind(limit as i64)
    .bind(offset as i64)
    .fetch_all(db)
    .await
}

/// Whether a user exists (the `user` field of an access), read inside `tx`.
pub async fn user_exists(tx: &mut Tx, user_id: Uuid) -> Result<bool, StoreError> {
    let c: Count =
        Q::new("SELECT COUNT(*) AS n FROM meet_user WHERE id = $1").bind(user_id).fetch_one(&mut *tx).await?;
    Ok(c.n > 0)
}

/// The access of `user_id` on `resource_id`, read in a transaction.
pub async fn find_for_user_in(tx: &mut Tx, user_id: Uuid, resource_id: Uuid) -> Result<Option<Access>, StoreError> {
    Q::new(format!("SELECT {ACCESS_COLUMNS} FROM meet_resource_access WHERE user_id = $1 AND resource_id = $2"))
        .bind(user_id)
        .bind(resource_id)
        .fetch_optional(&mut *tx)
        .await
}
