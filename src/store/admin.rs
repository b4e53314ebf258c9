//! The few queries only `meet admin` needs (searches across owners, flag changes, outbox
//! re-queueing); everything else it does goes through the other store modules.

use uuid::Uuid;

use super::applications::Application;
use super::recordings::Recording;
use super::rooms::{Room, ROOM_COLUMNS};
use super::users::{like_escape, User, USER_COLUMNS};
use super::{now, Db, StoreError, Q};

/// A boolean column of `meet_user` that operators change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserFlag {
    Active,
    Staff,
    Superuser,
}

impl UserFlag {
    fn column(self) -> &'static str {
        match self {
            UserFlag::Active => "is_active",
            UserFlag::Staff => "is_staff",
            UserFlag::Superuser => "is_superuser",
        }
    }
}

/// Sets one flag of a user; returns the updated row.
pub async fn set_user_flag(db: &Db, id: Uuid, flag: UserFlag, value: bool) -> Result<User, StoreError> {
    Q::new(format!(
        "UPDATE meet_user SET {} = $1, updated_at = $2 WHERE id = $3 RETURNING {USER_COLUMNS}",
        flag.column()
    ))
    .bind(value)
    .bind(now())
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound)
}

fn pattern(q: Option<&str>) -> Option<String> {
    q.filter(|s| !s.is_empty()).map(|q| format!("%{}%", like_escape(&q.to_lowercase())))
}

/// Rooms newest first, filtered by a slug-or-name substring and by owner.
pub async fn rooms(db: &Db, q: Option<&str>, owner: Option<Uuid>, limit: i64) -> Result<Vec<Room>, StoreError> {
    Q::new(format!(
        "SELECT {ROOM_COLUMNS} FROM meet_room WHERE \
         ($1 IS NULL OR LOWER(slug) LIKE $1 ESCAPE '\\' OR LOWER(name) LIKE $1 ESCAPE '\\') AND \
         ($2 IS NULL OR resource_id IN (SELECT resource_id FROM meet_resource_access WHERE user_id = $2 AND role = 'owner')) \
         ORDER BY name, resource_id LIMIT $3"
    ))
    .bind(pattern(q))
    .bind(owner)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Recordings newest first, filtered by status, room and owner.
pub async fn recordings(
    db: &Db,
    status: Option<&str>,
    room: Option<Uuid>,
    owner: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Recording>, StoreError> {
    Q::new(format!(
        "SELECT {} FROM meet_recording WHERE \
         ($1 IS NULL OR status = $1) AND ($2 IS NULL OR room_id = $2) AND \
         ($3 IS NULL OR id IN (SELECT recording_id FROM meet_recording_access WHERE user_id = $3 AND role = 'owner')) \
         ORDER BY created_at DESC, id LIMIT $4",
        super::recordings::COLUMNS
    ))
    .bind(status)
    .bind(room)
    .bind(owner)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The e-mails of a recording's owners.
pub async fn recording_owners(db: &Db, recording_id: Uuid) -> Result<Vec<String>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        email: Option<String>,
        id: Uuid,
    }
    let rows: Vec<Row> = Q::new(
        "SELECT u.email, u.id FROM meet_recording_access a JOIN meet_user u ON u.id = a.user_id \
         WHERE a.recording_id = $1 AND a.role = 'owner' ORDER BY a.created_at, a.id",
    )
    .bind(recording_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| r.email.unwrap_or_else(|| r.id.to_string())).collect())
}

/// Makes every notification of a recording pending and due now again (delivered, failing or
/// abandoned alike): the outbox sends them once more. Returns how many.
pub async fn requeue_notifications(db: &Db, recording_id: Uuid) -> Result<u64, StoreError> {
    Q::new(
        "UPDATE meet_recording_notification SET delivered_at = NULL, abandoned_at = NULL, last_error = NULL, \
         attempts = 0, next_attempt_at = $1, updated_at = $1 WHERE recording_id = $2",
    )
    .bind(now())
    .bind(recording_id)
    .execute(db)
    .await
}

/// Every application of the external API, by name.
pub async fn applications(db: &Db) -> Result<Vec<Application>, StoreError> {
    Q::new(
        "SELECT id, created_at, updated_at, name, is_active, client_id, client_secret, scopes \
         FROM meet_application ORDER BY name, id",
    )
    .fetch_all(db)
    .await
}

/// The application whose id or client id is `key`.
pub async fn application(db: &Db, key: &str) -> Result<Option<Application>, StoreError> {
    if let Ok(id) = Uuid::parse_str(key) {
        let found = Q::new(
            "SELECT id, created_at, updated_at, name, is_active, client_id, client_secret, scopes \
             FROM meet_application WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(db)
        .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    super::applications::get_by_client_id(db, key).await
}
