//! `meet_resource` + `meet_room`: a room is one row in each, sharing the id.

use serde_json::Value;
use uuid::Uuid;

use super::{now, Db, StoreError, Tx, Q};

/// A room (the `meet_room` row, its id being the resource id).
#[derive(Clone, Debug, sqlx::FromRow, PartialEq)]
pub struct Room {
    pub id: Uuid,
    pub name: String,
    pub slug: Option<String>,
    pub access_level: String,
    pub configuration: sqlx::types::Json<Value>,
}

pub const ROOM_COLUMNS: &str = "resource_id AS id, name, slug, access_level, configuration";

/// Inserts the resource and room rows inside `tx`.
pub async fn insert(
    tx: &mut Tx,
    name: &str,
    slug: &str,
    access_level: &str,
    configuration: Value,
) -> Result<Room, StoreError> {
    let id = Uuid::new_v4();
    let t = now();
    Q::new("INSERT INTO meet_resource (id, created_at, updated_at) VALUES ($1, $2, $2)")
        .bind(id)
        .bind(t)
        .execute(&mut *tx)
        .await?;
    Q::new(format!(
        "INSERT INTO meet_room (resource_id, name, slug, access_level, configuration) VALUES ($1, $2, $3, $4, $5) RETURNING {ROOM_COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(slug)
    .bind(access_level)
    .bind(configuration)
    .fetch_one(&mut *tx)
    .await
}

pub async fn get(db: &Db, id: Uuid) -> Result<Option<Room>, StoreError> {
    Q::new(format!("SELECT {ROOM_COLUMNS} FROM meet_room WHERE resource_id = $1")).bind(id).fetch_optional(db).await
}

pub async fn get_by_slug(db: &Db, slug: &str) -> Result<Option<Room>, StoreError> {
    Q::new(format!("SELECT {ROOM_COLUMNS} FROM meet_room WHERE slug = $1")).bind(slug).fetch_optional(db).await
}
