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
    /// The telephony PIN (now-rooms §2.1), unique; read-only in the API.
    pub pin_code: Option<String>,
}

pub const ROOM_COLUMNS: &str = "resource_id AS id, name, slug, access_level, configuration, pin_code";

/// Inserts the resource and room rows inside `tx`, without a PIN.
pub async fn insert(
    tx: &mut Tx,
    name: &str,
    slug: &str,
    access_level: &str,
    configuration: Value,
) -> Result<Room, StoreError> {
    insert_with_pin(tx, name, slug, access_level, configuration, None).await
}

/// Inserts the resource and room rows inside `tx`.
pub async fn insert_with_pin(
    tx: &mut Tx,
    name: &str,
    slug: &str,
    access_level: &str,
    configuration: Value,
    pin_code: Option<&str>,
) -> Result<Room, StoreError> {
    let id = Uuid::new_v4();
    let t = now();
    Q::new("INSERT INTO meet_resource (id, created_at, updated_at) VALUES ($1, $2, $2)")
        .bind(id)
        .bind(t)
        .execute(&mut *tx)
        .await?;
    Q::new(format!(
        "INSERT INTO meet_room (resource_id, name, slug, access_level, configuration, pin_code) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ROOM_COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(slug)
    .bind(access_level)
    .bind(configuration)
    .bind(pin_code)
    .fetch_one(&mut *tx)
    .await
}

/// Whether a room already has this PIN.
pub async fn pin_taken(tx: &mut Tx, pin: &str) -> Result<bool, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Hit {
        #[allow(dead_code)]
        id: Uuid,
    }
    let hit: Option<Hit> = Q::new("SELECT resource_id AS id FROM meet_room WHERE pin_code = $1")
        .bind(pin)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(hit.is_some())
}

pub async fn get(db: &Db, id: Uuid) -> Result<Option<Room>, StoreError> {
    Q::new(format!("SELECT {ROOM_COLUMNS} FROM meet_room WHERE resource_id = $1")).bind(id).fetch_optional(db).await
}

pub async fn get_by_slug(db: &Db, slug: &str) -> Result<Option<Room>, StoreError> {
    Q::new(format!("SELECT {ROOM_COLUMNS} FROM meet_room WHERE slug = $1")).bind(slug).fetch_optional(db).await
}

/// One access of a room with the user it belongs to (the nested representation, now-rooms §6.2).
#[derive(Clone, Debug, sqlx::FromRow, PartialEq)]
pub struct AccessWithUser {
    pub id: Uuid,
    pub resource_id: Uuid,
    pub role: String,
    pub user_id: Uuid,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub short_name: Option<String>,
    pub timezone: String,
    pub language: String,
    pub default_room_access_level: Option<String>,
    pub default_room_configuration: sqlx::types::Json<Value>,
}

/// A room row joined with one of its accesses and that access's user (none when the room has
/// no access): what [`get_with_accesses`] reads.
#[derive(sqlx::FromRow)]
struct RoomAccessRow {
    #[sqlx(flatten)]
    room: Room,
    access_id: Option<Uuid>,
    role: Option<String>,
    user_id: Option<Uuid>,
    email: Option<String>,
    full_name: Option<String>,
    short_name: Option<String>,
    timezone: Option<String>,
    language: Option<String>,
    default_room_access_level: Option<String>,
    default_room_configuration: Option<sqlx::types::Json<Value>>,
}

/// A room by id or slug with every access and its user, newest first, in one round trip (what
/// [`get`]/[`get_by_slug`] then [`accesses_of`] read in two).
pub async fn get_with_accesses(
    db: &Db,
    id: Option<Uuid>,
    slug: Option<&str>,
) -> Result<Option<(Room, Vec<AccessWithUser>)>, StoreError> {
    let filter = if id.is_some() { "r.resource_id = $1" } else { "r.slug = $1" };
    let q = Q::new(format!(
        "SELECT r.resource_id AS id, r.name, r.slug, r.access_level, r.configuration, r.pin_code, \
         a.id AS access_id, a.role, u.id AS user_id, u.email, u.full_name, u.short_name, u.timezone, u.language, \
         u.default_room_access_level, u.default_room_configuration \
         FROM meet_room r LEFT JOIN meet_resource_access a ON a.resource_id = r.resource_id \
         LEFT JOIN meet_user u ON u.id = a.user_id WHERE {filter} ORDER BY a.created_at DESC, a.id"
    ));
    let q = match (id, slug) {
        (Some(id), _) => q.bind(id),
        (None, Some(slug)) => q.bind(slug),
        (None, None) => return Ok(None),
    };
    let rows: Vec<RoomAccessRow> = q.fetch_all(db).await?;
    let Some(room) = rows.first().map(|r| r.room.clone()) else { return Ok(None) };
    let accesses = rows
        .into_iter()
        .filter_map(|r| {
            Some(AccessWithUser {
                id: r.access_id?,
                resource_id: room.id,
                role: r.role?,
                user_id: r.user_id?,
                email: r.email,
                full_name: r.full_name,
                short_name: r.short_name,
                timezone: r.timezone?,
                language: r.language?,
                default_room_access_level: r.default_room_access_level,
                default_room_configuration: r.default_room_configuration?,
            })
        })
        .collect();
    Ok(Some((room, accesses)))
}

/// A room row with the role of one user on it (none when that user has no access).
#[derive(sqlx::FromRow)]
struct RoomRoleRow {
    #[sqlx(flatten)]
    room: Room,
    role: Option<String>,
}

/// A room by id or slug with the role `user_id` holds on it, in one round trip (what [`get`] or
/// [`get_by_slug`] then `accesses::role_of` read in two). Without a user, the role is none.
pub async fn get_with_role(
    db: &Db,
    id: Option<Uuid>,
    slug: Option<&str>,
    user_id: Option<Uuid>,
) -> Result<Option<(Room, Option<String>)>, StoreError> {
    let filter = if id.is_some() { "r.resource_id = $1" } else { "r.slug = $1" };
    let q = Q::new(format!(
        "SELECT r.resource_id AS id, r.name, r.slug, r.access_level, r.configuration, r.pin_code, a.role \
         FROM meet_room r LEFT JOIN meet_resource_access a ON a.resource_id = r.resource_id AND a.user_id = $2 \
         WHERE {filter}"
    ));
    let q = match (id, slug) {
        (Some(id), _) => q.bind(id),
        (None, Some(slug)) => q.bind(slug),
        (None, None) => return Ok(None),
    };
    let row: Option<RoomRoleRow> = q.bind(user_id).fetch_optional(db).await?;
    Ok(row.map(|r| (r.room, r.role)))
}

/// `$1, $2, …` for `n` arguments starting at `$first`.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Every access of the given rooms with its user, newest first: one query whatever the number
/// of rooms (B11).
pub async fn accesses_of(db: &Db, room_ids: &[Uuid]) -> Result<Vec<AccessWithUser>, StoreError> {
    if room_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Q::new(format!(
        "SELECT a.id, a.resource_id, a.role, u.id AS user_id, u.email, u.full_name, u.short_name, \
         u.timezone, u.language, u.default_room_access_level, u.default_room_configuration \
         FROM meet_resource_access a JOIN meet_user u ON u.id = a.user_id \
         WHERE a.resource_id IN ({}) ORDER BY a.created_at DESC, a.id",
        placeholders(1, room_ids.len())
    ));
    for id in room_ids {
        q = q.bind(*id);
    }
    q.fetch_all(db).await
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// How many rooms `user_id` has an access to.
pub async fn count_for_user(db: &Db, user_id: Uuid) -> Result<u64, StoreError> {
    let c: Count =
        Q::new("SELECT COUNT(*) AS n FROM meet_resource_access WHERE user_id = $1").bind(user_id).fetch_one(db).await?;
    Ok(c.n as u64)
}

/// One page of the rooms `user_id` has an access to, by name (M-6); each room once.
pub async fn page_for_user(db: &Db, user_id: Uuid, offset: u64, limit: u64) -> Result<Vec<Room>, StoreError> {
    Q::new(
        "SELECT r.resource_id AS id, r.name, r.slug, r.access_level, r.configuration, r.pin_code \
         FROM meet_room r JOIN meet_resource_access a ON a.resource_id = r.resource_id \
         WHERE a.user_id = $1 ORDER BY r.name, r.resource_id LIMIT $2 OFFSET $3",
    )
    .bind(user_id)
    .bind(limit as i64)
    .bind(offset as i64)
    .fetch_all(db)
    .await
}

/// A room by id or slug inside `tx`.
pub async fn find_in(tx: &mut Tx, id: Option<Uuid>, slug: Option<&str>) -> Result<Option<Room>, StoreError> {
    Q::new(format!("SELECT {ROOM_COLUMNS} FROM meet_room WHERE resource_id = $1 OR slug = $2"))
        .bind(id)
        .bind(slug)
        .fetch_optional(&mut *tx)
        .await
}

/// Locks the room's `meet_resource` row until the end of `tx`: the mutex of every change to the
/// room and its accesses (PostgreSQL `FOR UPDATE`; SQLite's write transaction already is one).
/// False when the room no longer exists.
pub async fn lock(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Id {
        #[allow(dead_code)]
        id: Uuid,
    }
    let backend = tx.backend();
    let row: Option<Id> = Q::new("SELECT id FROM meet_resource WHERE id = $1")
        .for_update(backend)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(row.is_some())
}

/// Saves the editable fields of a room inside `tx`.
pub async fn update(tx: &mut Tx, room: &Room) -> Result<Room, StoreError> {
    Q::new("UPDATE meet_resource SET updated_at = $2 WHERE id = $1")
        .bind(room.id)
        .bind(now())
        .execute(&mut *tx)
        .await?;
    Q::new(format!(
        "UPDATE meet_room SET name = $2, slug = $3, access_level = $4, configuration = $5 WHERE resource_id = $1 RETURNING {ROOM_COLUMNS}"
    ))
    .bind(room.id)
    .bind(room.name.as_str())
    .bind(room.slug.clone())
    .bind(room.access_level.as_str())
    .bind(room.configuration.0.clone())
    .fetch_one(&mut *tx)
    .await
}

/// Deletes a room with its accesses, recordings and recording accesses (§3.8, M-14: the schema's
/// `ON DELETE CASCADE`, which applies no last-owner check).
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<u64, StoreError> {
    Q::new("DELETE FROM meet_resource WHERE id = $1").bind(id).execute(&mut *tx).await
}
