//! `meet_resource_access`: the role of a user on a room.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{now, StoreError, Tx, Q};

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
