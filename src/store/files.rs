//! The `file` table (upstream's `0017_file`, named without the `meet_` prefix as upstream does)
//! and the bookkeeping of purged recording objects. Every state change is one conditional
//! statement, so that two requests or two instances never both win it (now-recordings-files
//! §21.3 claim, §22 deletion pipeline).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{now, Db, StoreError, Q};
use crate::domain::files::{ANALYZING, PENDING, READY};

/// Migration step: upstream's `file` table with its object names, and `meet_recording_purge`
/// (this implementation's own: which expired recordings had their object deleted).
pub(super) const MIGRATION: &str = r#"
CREATE TABLE "file" (
    id {uuid} PRIMARY KEY,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    type varchar(25) NOT NULL,
    title varchar(255) NOT NULL,
    deleted_at {ts} NULL,
    hard_deleted_at {ts} NULL,
    filename varchar(255) NOT NULL,
    upload_state varchar(25) NOT NULL,
    mimetype varchar(255) NULL,
    size bigint NULL,
    description text NULL,
    malware_detection_info {json} NULL,
    creator_id {uuid} NULL CONSTRAINT file_creator_id_28732570_fk_meet_user_id
        REFERENCES meet_user (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX file_creator_730cce_idx ON "file" (creator_id, type, created_at DESC);
CREATE INDEX file_creator_id_28732570 ON "file" (creator_id);
CREATE INDEX meet_file_state_idx ON "file" (upload_state, created_at);
CREATE TABLE meet_recording_purge (
    recording_id {uuid} PRIMARY KEY REFERENCES meet_recording (id) ON DELETE CASCADE,
    purged_at {ts} NOT NULL
);
"#;

/// A row of `file` with its creator's names (the representation's `creator`).
#[derive(Clone, Debug, sqlx::FromRow, PartialEq)]
pub struct File {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[sqlx(rename = "type")]
    pub file_type: String,
    pub title: String,
    pub creator_id: Option<Uuid>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub hard_deleted_at: Option<DateTime<Utc>>,
    pub filename: String,
    pub upload_state: String,
    pub mimetype: Option<String>,
    pub size: Option<i64>,
    pub description: Option<String>,
    pub creator_full_name: Option<String>,
    pub creator_short_name: Option<String>,
}

const SELECT: &str = "SELECT f.id, f.created_at, f.updated_at, f.type, f.title, f.creator_id, f.deleted_at, \
    f.hard_deleted_at, f.filename, f.upload_state, f.mimetype, f.size, f.description, \
    u.full_name AS creator_full_name, u.short_name AS creator_short_name \
    FROM \"file\" f LEFT JOIN meet_user u ON u.id = f.creator_id";

/// What `POST /files/` inserts.
pub struct NewFile {
    pub id: Uuid,
    pub file_type: String,
    pub title: String,
    pub filename: String,
    pub description: Option<String>,
    pub creator_id: Uuid,
}

/// Why an insert was refused.
#[derive(Debug)]
pub enum InsertError {
    /// A file with this id exists (any user, any state).
    IdTaken,
    /// The creator already has `max` live files of this type.
    LimitReached,
    Store(StoreError),
}

impl From<StoreError> for InsertError {
    fn from(e: StoreError) -> Self {
        InsertError::Store(e)
    }
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// Inserts a `pending` file. With `max_count`, the creator's live files of that type are counted
/// with the creator's row locked, so that parallel creations cannot exceed it (R-F8).
pub async fn insert(db: &Db, new: NewFile, max_count: Option<u64>) -> Result<File, InsertError> {
    let mut tx = db.begin().await?;
    Q::new("SELECT id FROM meet_user WHERE id = $1")
        .bind(new.creator_id)
        .for_update(tx.backend())
        .execute(&mut tx)
        .await?;
    let taken: Count =
        Q::new("SELECT COUNT(*) AS n FROM \"file\" WHERE id = $1").bind(new.id).fetch_one(&mut tx).await?;
    if taken.n > 0 {
        return Err(InsertError::IdTaken);
    }
    if let Some(max) = max_count {
        let live: Count =
            Q::new("SELECT COUNT(*) AS n FROM \"file\" WHERE creator_id = $1 AND type = $2 AND deleted_at IS NULL")
                .bind(new.creator_id)
                .bind(new.file_type.as_str())
                .fetch_one(&mut tx)
                .await?;
        if live.n as u64 >= max {
            return Err(InsertError::LimitReached);
        }
    }
    let t = now();
    let inserted = Q::new(
        "INSERT INTO \"file\" (id, created_at, updated_at, type, title, filename, upload_state, description, \
         malware_detection_info, creator_id) VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new.id)
    .bind(t)
    .bind(new.file_type.as_str())
    .bind(new.title.as_str())
    .bind(new.filename.as_str())
    .bind(PENDING)
    .bind(new.description.clone())
    .bind(serde_json::json!({}))
    .bind(new.creator_id)
    .execute(&mut tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => return Err(InsertError::IdTaken),
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    get(db, new.id).await?.ok_or(InsertError::Store(StoreError::NotFound))
}

/// Any file by id (hard-deleted ones included).
pub async fn get(db: &Db, id: Uuid) -> Result<Option<File>, StoreError> {
    Q::new(format!("{SELECT} WHERE f.id = $1")).bind(id).fetch_optional(db).await
}

/// The list filters of `GET /files/` (§21.1).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub file_type: Option<String>,
    pub upload_state: Option<String>,
    pub is_deleted: Option<bool>,
    /// `is_creator_me=false`: files of other creators, which the list never shows.
    pub others_only: bool,
}

fn where_clause(f: &Filter) -> (String, Vec<String>) {
    let mut sql = String::from(" WHERE f.creator_id = $1 AND f.hard_deleted_at IS NULL");
    let mut args = Vec::new();
    for (column, value) in [("f.type", &f.file_type), ("f.upload_state", &f.upload_state)] {
        if let Some(v) = value {
            args.push(v.clone());
            sql.push_str(&format!(" AND {column} = ${}", args.len() + 1));
        }
    }
    match f.is_deleted {
        Some(true) => sql.push_str(" AND f.deleted_at IS NOT NULL"),
        Some(false) => sql.push_str(" AND f.deleted_at IS NULL"),
        None => {}
    }
    if f.others_only {
        sql.push_str(" AND 1 = 0");
    }
    (sql, args)
}

/// How many of `user`'s files match `filter`.
pub async fn count(db: &Db, user: Uuid, filter: &Filter) -> Result<u64, StoreError> {
    let (w, args) = where_clause(filter);
    let mut q = Q::new(format!("SELECT COUNT(*) AS n FROM \"file\" f{w}")).bind(user);
    for a in args {
        q = q.bind(a);
    }
    let c: Count = q.fetch_one(db).await?;
    Ok(c.n as u64)
}

/// One page of `user`'s files matching `filter`, in `order` (an ORDER BY list of fixed column
/// names built by the caller from an allow-list).
pub async fn page(
    db: &Db,
    user: Uuid,
    filter: &Filter,
    order: &str,
    offset: u64,
    limit: u64,
) -> Result<Vec<File>, StoreError> {
    let (w, args) = where_clause(filter);
    let n = args.len();
    let mut q = Q::new(format!("{SELECT}{w} ORDER BY {order}, f.id LIMIT ${} OFFSET ${}", n + 2, n + 3)).bind(user);
    for a in args {
        q = q.bind(a);
    }
    q.bind(limit as i64).bind(offset as i64).fetch_all(db).await
}

/// Writes the editable fields (§21.4); `updated_at` is bumped.
pub async fn update(
    db: &Db,
    id: Uuid,
    title: &str,
    file_type: &str,
    description: Option<&str>,
) -> Result<(), StoreError> {
    Q::new("UPDATE \"file\" SET title = $1, type = $2, description = $3, updated_at = $4 WHERE id = $5")
        .bind(title)
        .bind(file_type)
        .bind(description)
        .bind(now())
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Soft delete: sets `deleted_at` once; false when it was already set.
pub async fn soft_delete(db: &Db, id: Uuid) -> Result<bool, StoreError> {
    let n = Q::new("UPDATE \"file\" SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
        .bind(now())
        .bind(id)
        .execute(db)
        .await?;
    Ok(n == 1)
}

/// The claim of upload-ended: `pending` → `analyzing`, true for the one caller that won it.
pub async fn claim(db: &Db, id: Uuid) -> Result<bool, StoreError> {
    let n = Q::new("UPDATE \"file\" SET upload_state = $1 WHERE id = $2 AND upload_state = $3")
        .bind(ANALYZING)
        .bind(id)
        .bind(PENDING)
        .execute(db)
        .await?;
    Ok(n == 1)
}

/// Gives a claimed file back (`analyzing` → `pending`) after an unexpected failure.
pub async fn unclaim(db: &Db, id: Uuid) -> Result<(), StoreError> {
    Q::new("UPDATE \"file\" SET upload_state = $1 WHERE id = $2 AND upload_state = $3")
        .bind(PENDING)
        .bind(id)
        .bind(ANALYZING)
        .execute(db)
        .await?;
    Ok(())
}

/// `analyzing` → `ready` with the checked type and size; false when the file was not analyzing.
pub async fn mark_ready(db: &Db, id: Uuid, mimetype: &str, size: i64) -> Result<bool, StoreError> {
    let n =
        Q::new("UPDATE \"file\" SET upload_state = $1, mimetype = $2, size = $3 WHERE id = $4 AND upload_state = $5")
            .bind(READY)
            .bind(mimetype)
            .bind(size)
            .bind(id)
            .bind(ANALYZING)
            .execute(db)
            .await?;
    Ok(n == 1)
}

/// Hard delete (soft-deleting first when needed): the row waits for the deletion of its objects.
pub async fn hard_delete(db: &Db, id: Uuid) -> Result<(), StoreError> {
    let t = now();
    Q::new(
        "UPDATE \"file\" SET deleted_at = COALESCE(deleted_at, $1), hard_deleted_at = COALESCE(hard_deleted_at, $1) \
         WHERE id = $2",
    )
    .bind(t)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes a hard-deleted row; true for the caller that removed it.
pub async fn remove(db: &Db, id: Uuid) -> Result<bool, StoreError> {
    let n = Q::new("DELETE FROM \"file\" WHERE id = $1 AND hard_deleted_at IS NOT NULL").bind(id).execute(db).await?;
    Ok(n == 1)
}

/// Files whose upload never ended: `pending` (and, R-F4, `analyzing`) created before `before`,
/// not hard-deleted.
pub async fn stale_uploads(db: &Db, before: DateTime<Utc>) -> Result<Vec<File>, StoreError> {
    Q::new(format!(
        "{SELECT} WHERE f.upload_state IN ($1, $2) AND f.created_at < $3 AND f.hard_deleted_at IS NULL ORDER BY f.created_at"
    ))
    .bind(PENDING)
    .bind(ANALYZING)
    .bind(before)
    .fetch_all(db)
    .await
}

/// Files to purge: hard-deleted, or soft-deleted at or before `deleted_before`.
pub async fn purgeable(db: &Db, deleted_before: DateTime<Utc>) -> Result<Vec<File>, StoreError> {
    Q::new(format!("{SELECT} WHERE f.hard_deleted_at IS NOT NULL OR f.deleted_at <= $1 ORDER BY f.created_at"))
        .bind(deleted_before)
        .fetch_all(db)
        .await
}

/// Test and operator factory: sets the timestamps of a file.
pub async fn set_times(
    db: &Db,
    id: Uuid,
    created_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    Q::new("UPDATE \"file\" SET created_at = $1, updated_at = $1, deleted_at = $2 WHERE id = $3")
        .bind(created_at)
        .bind(deleted_at)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Test and operator factory: sets the upload state of a file.
pub async fn set_state(db: &Db, id: Uuid, state: &str) -> Result<(), StoreError> {
    Q::new("UPDATE \"file\" SET upload_state = $1 WHERE id = $2").bind(state).bind(id).execute(db).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: Uuid,
}

/// Recordings created before `before` whose object was not purged yet, in a status where no
/// egress writes any more (not `initiated`, not `active`).
pub async fn expired_recordings(db: &Db, before: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>, StoreError> {
    let rows: Vec<IdRow> = Q::new(
        "SELECT r.id FROM meet_recording r LEFT JOIN meet_recording_purge p ON p.recording_id = r.id \
         WHERE p.recording_id IS NULL AND r.created_at < $1 AND r.status NOT IN ('initiated', 'active') \
         ORDER BY r.created_at LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Records that a recording's object was deleted; true for the caller that recorded it first.
pub async fn mark_recording_purged(db: &Db, id: Uuid) -> Result<bool, StoreError> {
    let n = Q::new("INSERT INTO meet_recording_purge (recording_id, purged_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(id)
        .bind(now())
        .execute(db)
        .await?;
    Ok(n == 1)
}

/// Whether a recording's object was purged.
pub async fn recording_purged(db: &Db, id: Uuid) -> Result<bool, StoreError> {
    let c: Count =
        Q::new("SELECT COUNT(*) AS n FROM meet_recording_purge WHERE recording_id = $1").bind(id).fetch_one(db).await?;
    Ok(c.n > 0)
}

/// Test and operator factory: moves a recording's creation time (its expiry follows it).
pub async fn backdate_recording(db: &Db, id: Uuid, created_at: DateTime<Utc>) -> Result<(), StoreError> {
    Q::new("UPDATE meet_recording SET created_at = $1 WHERE id = $2").bind(created_at).bind(id).execute(db).await?;
    Ok(())
}
