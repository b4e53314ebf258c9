//! `meet_recording`, `meet_recording_access` and the notification outbox
//! `meet_recording_notification` (recordings §3, §11.3). Every status change is one
//! compare-and-set `UPDATE … WHERE status IN (allowed sources)`; saving a file and enqueueing its
//! notifications happen in one transaction.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::exec::Backend;
use super::users::{User, USER_COLUMNS};
use super::{now, Db, StoreError, Tx, Q};
use crate::domain::recording::Status;

/// Migration step 3: observability columns and the outbox (§11.3.3, §11.3.6).
pub(super) const MIGRATION: &str = r#"
ALTER TABLE meet_recording ADD COLUMN started_at {ts} NULL;
ALTER TABLE meet_recording ADD COLUMN stopped_at {ts} NULL;
ALTER TABLE meet_recording ADD COLUMN saved_at {ts} NULL;
ALTER TABLE meet_recording ADD COLUMN egress_error text NULL;
CREATE INDEX meet_recording_status_idx ON meet_recording (status, updated_at);
CREATE TABLE meet_recording_notification (
    id {uuid} PRIMARY KEY,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    recording_id {uuid} NOT NULL REFERENCES meet_recording (id) ON DELETE CASCADE,
    kind varchar(20) NOT NULL CHECK (kind IN ('email', 'summary')),
    recipient_id {uuid} NOT NULL,
    attempts bigint NOT NULL,
    next_attempt_at {ts} NOT NULL,
    last_error text NULL,
    delivered_at {ts} NULL,
    abandoned_at {ts} NULL,
    CONSTRAINT unique_recording_notification UNIQUE (recording_id, kind, recipient_id)
);
CREATE INDEX meet_recording_notification_due_idx ON meet_recording_notification (next_attempt_at);
"#;

/// Migration step 8: upstream's `0016_recording_options` and
/// `0021_recording_external_process_id_alter_recording_status` (now-recordings §4.1). SQLite
/// cannot add a UNIQUE column: uniqueness is a unique index of the constraint's name on both.
pub(super) const MIGRATION_HEAD: &str = r#"
ALTER TABLE meet_recording ADD COLUMN options {json} NOT NULL DEFAULT '{}';
ALTER TABLE meet_recording ADD COLUMN external_process_id varchar(255) NULL;
CREATE UNIQUE INDEX meet_recording_external_process_id_key ON meet_recording (external_process_id);
"#;

/// The status list of migration 8's CHECK.
const STATUSES_HEAD: &str = "'initiated', 'active', 'stopped', 'saved', 'aborted', 'failed_to_start', \
    'failed_to_stop', 'notification_succeeded', 'external_process_successful', 'external_process_failed'";

/// The second half of migration 8, per backend: the status CHECK accepts the two new statuses,
/// and on PostgreSQL `options` loses its temporary default as upstream's migration does. SQLite
/// cannot alter a constraint; its documented procedure for loosening one rewrites the table's
/// definition in the schema (same transaction, schema version bumped).
pub(super) async fn widen_status_check(tx: &mut Tx) -> Result<(), StoreError> {
    match tx.backend() {
        Backend::Postgres => {
            let sql = format!(
                "ALTER TABLE meet_recording DROP CONSTRAINT IF EXISTS meet_recording_status_check;\n\
                 ALTER TABLE meet_recording ADD CONSTRAINT meet_recording_status_check CHECK (status IN ({STATUSES_HEAD}));\n\
                 ALTER TABLE meet_recording ALTER COLUMN options DROP DEFAULT;"
            );
            super::exec::execute_script(&mut *tx, &sql).await
        }
        Backend::Sqlite => {
            #[derive(sqlx::FromRow)]
            struct SchemaVersion {
                schema_version: i64,
            }
            let v: SchemaVersion = Q::new("PRAGMA schema_version").fetch_one(&mut *tx).await?;
            Q::new("PRAGMA writable_schema = ON").execute(&mut *tx).await?;
            Q::new(
                "UPDATE sqlite_master SET sql = replace(sql, $1, $2) WHERE type = 'table' AND name = 'meet_recording'",
            )
            .bind("'notification_succeeded')")
            .bind("'notification_succeeded', 'external_process_successful', 'external_process_failed')")
            .execute(&mut *tx)
            .await?;
            Q::new(format!("PRAGMA schema_version = {}", v.schema_version + 1)).execute(&mut *tx).await?;
            Q::new("PRAGMA writable_schema = OFF").execute(&mut *tx).await?;
            Ok(())
        }
    }
}

/// A row of `meet_recording`.
#[derive(Clone, Debug, sqlx::FromRow, PartialEq)]
pub struct Recording {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: String,
    pub worker_id: Option<String>,
    pub room_id: Uuid,
    pub mode: String,
    pub egress_error: Option<String>,
    /// The start body's options (now-recordings §4.3), `{}` when none.
    pub options: sqlx::types::Json<serde_json::Value>,
    /// The summary service's job id (§12.5).
    pub external_process_id: Option<String>,
}

impl Recording {
    /// The status (rows outside the CHECK list cannot exist).
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::FailedToStop)
    }
}

/// The columns of a [`Recording`], in its order.
pub(crate) const COLUMNS: &str =
    "id, created_at, updated_at, status, worker_id, room_id, mode, egress_error, options, external_process_id";
const R_COLUMNS: &str = "r.id, r.created_at, r.updated_at, r.status, r.worker_id, r.room_id, r.mode, r.egress_error, \
    r.options, r.external_process_id";

fn status_list(statuses: &[Status]) -> String {
    // Fixed identifiers from the domain enum, never user input.
    statuses.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
}

/// Inserts an `initiated` recording and its `owner` access for `user_id`, in one committed
/// transaction (B12). A room already recording gives
/// `Conflict("unique_initiated_or_active_recording_per_room")`.
pub async fn insert_with_owner(
    db: &Db,
    room_id: Uuid,
    mode: &str,
    options: serde_json::Value,
    user_id: Uuid,
) -> Result<Recording, StoreError> {
    let mut tx = db.begin().await?;
    let t = now();
    let rec: Recording = Q::new(format!(
        "INSERT INTO meet_recording (id, created_at, updated_at, status, worker_id, room_id, mode, options) \
         VALUES ($1, $2, $2, 'initiated', NULL, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(t)
    .bind(room_id)
    .bind(mode)
    .bind(options)
    .fetch_one(&mut tx)
    .await?;
    insert_access(&mut tx, rec.id, user_id, "owner").await?;
    tx.commit().await?;
    Ok(rec)
}

/// Inserts a recording with any status (the administrator's edit of the reference; also the
/// test factories). The partial unique index still applies.
pub async fn create(
    db: &Db,
    room_id: Uuid,
    mode: &str,
    status: Status,
    worker_id: Option<&str>,
) -> Result<Recording, StoreError> {
    let t = now();
    Q::new(format!(
        "INSERT INTO meet_recording (id, created_at, updated_at, status, worker_id, room_id, mode, options) \
         VALUES ($1, $2, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(t)
    .bind(status.as_str())
    .bind(worker_id)
    .bind(room_id)
    .bind(mode)
    .bind(serde_json::json!({}))
    .fetch_one(db)
    .await
}

/// Replaces a recording's options (the metadata agent's dispatch id, administrator's edits).
pub async fn set_options(db: &Db, id: Uuid, options: serde_json::Value) -> Result<(), StoreError> {
    Q::new("UPDATE meet_recording SET options = $1 WHERE id = $2").bind(options).bind(id).execute(db).await?;
    Ok(())
}

/// Sets `created_at` (administrator's edit; tests of expiry).
pub async fn set_created_at(db: &Db, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
    Q::new("UPDATE meet_recording SET created_at = $1 WHERE id = $2").bind(at).bind(id).execute(db).await?;
    Ok(())
}

/// Stores the summary job id of a recording, this column only (R-8, R-9). False when another
/// recording already has this id (R-5: the id is then not stored).
pub async fn set_external_process_id(db: &Db, id: Uuid, job_id: &str) -> Result<bool, StoreError> {
    let r = Q::new("UPDATE meet_recording SET external_process_id = $1 WHERE id = $2")
        .bind(job_id)
        .bind(id)
        .execute(db)
        .await;
    match r {
        Ok(_) => Ok(true),
        // PostgreSQL names the index; SQLite names its column.
        Err(StoreError::Conflict(c)) if c.contains("external_process_id") => Ok(false),
        Err(e) => Err(e),
    }
}

/// The recording whose summary job is `job_id`.
pub async fn get_by_external_process_id(db: &Db, job_id: &str) -> Result<Option<Recording>, StoreError> {
    Q::new(format!("SELECT {COLUMNS} FROM meet_recording WHERE external_process_id = $1"))
        .bind(job_id)
        .fetch_optional(db)
        .await
}

/// Adds a recording access outside any transaction (administrator's edit, test factories).
pub async fn add_access(db: &Db, recording_id: Uuid, user_id: Uuid, role: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    insert_access(&mut tx, recording_id, user_id, role).await?;
    tx.commit().await
}

/// Sets the status and last change time unconditionally (administrator's edit, tests that age
/// a row). Not a pipeline transition: those are compare-and-set ([`transition`]).
pub async fn force(db: &Db, id: Uuid, status: Status, updated_at: DateTime<Utc>) -> Result<(), StoreError> {
    Q::new("UPDATE meet_recording SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status.as_str())
        .bind(updated_at)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Adds a recording access (inside `tx`).
pub async fn insert_access(tx: &mut Tx, recording_id: Uuid, user_id: Uuid, role: &str) -> Result<(), StoreError> {
    Q::new(
        "INSERT INTO meet_recording_access (id, created_at, updated_at, team, role, recording_id, user_id) \
         VALUES ($1, $2, $2, '', $3, $4, $5)",
    )
    .bind(Uuid::new_v4())
    .bind(now())
    .bind(role)
    .bind(recording_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Extra values written together with a transition.
#[derive(Clone, Debug, Default)]
pub struct Change {
    pub worker_id: Option<String>,
    pub egress_error: Option<String>,
}

fn transition_query(id: Uuid, to: Status, change: Change) -> Q {
    let t = now();
    let (started, stopped, saved) = match to {
        Status::Active => (Some(t), None, None),
        Status::Stopped | Status::Aborted | Status::FailedToStop => (None, Some(t), None),
        Status::Saved => (None, None, Some(t)),
        _ => (None, None, None),
    };
    Q::new(format!(
        "UPDATE meet_recording SET status = $1, updated_at = $2, worker_id = COALESCE($3, worker_id), \
         egress_error = COALESCE($4, egress_error), started_at = COALESCE($5, started_at), \
         stopped_at = COALESCE($6, stopped_at), saved_at = COALESCE($7, saved_at) \
         WHERE id = $8 AND status IN ({}) RETURNING {COLUMNS}",
        status_list(to.allowed_from())
    ))
    .bind(to.as_str())
    .bind(t)
    .bind(change.worker_id)
    .bind(change.egress_error)
    .bind(started)
    .bind(stopped)
    .bind(saved)
    .bind(id)
}

/// Compare-and-set transition to `to` from its allowed sources (§11.3.1). `None`: the row is
/// not (or no longer) in one of them; nothing changed.
pub async fn transition(db: &Db, id: Uuid, to: Status, change: Change) -> Result<Option<Recording>, StoreError> {
    transition_query(id, to, change).fetch_optional(db).await
}

/// Who gets notified when a file is saved (now-recordings §12.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotifyPlan {
    /// One e-mail per `owner` access.
    pub email: bool,
    /// One summary job for the newest `owner` access.
    pub summary: bool,
}

impl NotifyPlan {
    /// Nothing to send (not configured): the recording stays `saved`.
    pub fn is_nothing(self) -> bool {
        !self.email && !self.summary
    }
}

/// Saves a recording (compare-and-set to `saved`) and enqueues its notifications in the same
/// transaction (B6, §11.3.3). Returns the saved row and the number of notifications queued, or
/// `None` when the recording was not savable (a duplicate signal or a refused status).
pub async fn save(db: &Db, id: Uuid, plan: NotifyPlan) -> Result<Option<(Recording, usize)>, StoreError> {
    let mut tx = db.begin().await?;
    let Some(rec) = transition_query(id, Status::Saved, Change::default()).fetch_optional(&mut tx).await? else {
        return Ok(None);
    };
    let mut rows: Vec<(&str, Uuid)> = Vec::new();
    if plan.summary {
        rows.extend(owner_ids(&mut tx, id, Some(1)).await?.into_iter().map(|o| ("summary", o)));
    }
    if plan.email {
        rows.extend(owner_ids(&mut tx, id, None).await?.into_iter().rev().map(|o| ("email", o)));
    }
    let t = now();
    for (kind, owner) in &rows {
        Q::new(
            "INSERT INTO meet_recording_notification (id, created_at, updated_at, recording_id, kind, recipient_id, \
             attempts, next_attempt_at) VALUES ($1, $2, $2, $3, $4, $5, 0, $2) \
             ON CONFLICT (recording_id, kind, recipient_id) DO NOTHING",
        )
        .bind(Uuid::new_v4())
        .bind(t)
        .bind(id)
        .bind(*kind)
        .bind(*owner)
        .execute(&mut tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Some((rec, rows.len())))
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: Uuid,
}

async fn owner_ids(tx: &mut Tx, recording_id: Uuid, limit: Option<i64>) -> Result<Vec<Uuid>, StoreError> {
    let rows: Vec<IdRow> = Q::new(
        "SELECT user_id AS id FROM meet_recording_access WHERE recording_id = $1 AND role = 'owner' \
         AND user_id IS NOT NULL ORDER BY created_at DESC, id LIMIT $2",
    )
    .bind(recording_id)
    .bind(limit.unwrap_or(1_000))
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

pub async fn get(db: &Db, id: Uuid) -> Result<Option<Recording>, StoreError> {
    Q::new(format!("SELECT {COLUMNS} FROM meet_recording WHERE id = $1")).bind(id).fetch_optional(db).await
}

/// The recording whose egress is `worker_id`.
pub async fn get_by_worker(db: &Db, worker_id: &str) -> Result<Option<Recording>, StoreError> {
    Q::new(format!("SELECT {COLUMNS} FROM meet_recording WHERE worker_id = $1 ORDER BY created_at DESC LIMIT 1"))
        .bind(worker_id)
        .fetch_optional(db)
        .await
}

/// The recordings of a room in one of `statuses`, newest first.
pub async fn in_room(db: &Db, room_id: Uuid, statuses: &[Status]) -> Result<Vec<Recording>, StoreError> {
    Q::new(format!(
        "SELECT {COLUMNS} FROM meet_recording WHERE room_id = $1 AND status IN ({}) ORDER BY created_at DESC",
        status_list(statuses)
    ))
    .bind(room_id)
    .fetch_all(db)
    .await
}

/// Recordings in one of `statuses` whose last change is older than `before`, oldest first.
pub async fn stale(
    db: &Db,
    statuses: &[Status],
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Recording>, StoreError> {
    Q::new(format!(
        "SELECT {COLUMNS} FROM meet_recording WHERE status IN ({}) AND updated_at <= $1 ORDER BY updated_at LIMIT $2",
        status_list(statuses)
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

/// A recording with the fields of its room that its representation shows (§4.4).
#[derive(Clone, Debug, sqlx::FromRow, PartialEq)]
pub struct Listed {
    #[sqlx(flatten)]
    pub recording: Recording,
    pub room_name: String,
    pub room_slug: Option<String>,
    pub room_access_level: String,
}

const USER_FILTER: &str = "FROM meet_recording r JOIN meet_room m ON m.resource_id = r.room_id \
    WHERE EXISTS (SELECT 1 FROM meet_recording_access a WHERE a.recording_id = r.id AND a.user_id = $1)";

/// How many recordings the caller has an access to (any role).
pub async fn count_for_user(db: &Db, user_id: Uuid) -> Result<u64, StoreError> {
    let count: Count = Q::new(format!("SELECT COUNT(*) AS n {USER_FILTER}")).bind(user_id).fetch_one(db).await?;
    Ok(count.n as u64)
}

/// One page of the caller's recordings (any role), newest first, with their rooms (§4.5).
pub async fn page_for_user(db: &Db, user_id: Uuid, offset: u64, limit: u64) -> Result<Vec<Listed>, StoreError> {
    Q::new(format!(
        "SELECT {R_COLUMNS}, m.name AS room_name, m.slug AS room_slug, m.access_level AS room_access_level \
         {USER_FILTER} ORDER BY r.created_at DESC, r.id LIMIT $2 OFFSET $3"
    ))
    .bind(user_id)
    .bind(limit as i64)
    .bind(offset as i64)
    .fetch_all(db)
    .await
}

#[derive(sqlx::FromRow)]
struct RoleRow {
    role: String,
}

/// Every role `user_id` holds on the recording (direct accesses; teams are always empty).
pub async fn roles_of(db: &Db, recording_id: Uuid, user_id: Uuid) -> Result<Vec<String>, StoreError> {
    let rows: Vec<RoleRow> = Q::new("SELECT role FROM meet_recording_access WHERE recording_id = $1 AND user_id = $2")
        .bind(recording_id)
        .bind(user_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.role).collect())
}

/// Deletes a recording, its accesses and its outbox rows.
pub async fn delete(db: &Db, id: Uuid) -> Result<u64, StoreError> {
    let mut tx = db.begin().await?;
    Q::new("DELETE FROM meet_recording_notification WHERE recording_id = $1").bind(id).execute(&mut tx).await?;
    Q::new("DELETE FROM meet_recording_access WHERE recording_id = $1").bind(id).execute(&mut tx).await?;
    let n = Q::new("DELETE FROM meet_recording WHERE id = $1").bind(id).execute(&mut tx).await?;
    tx.commit().await?;
    Ok(n)
}

/// A user by id (the outbox reads the recipient when it delivers).
pub async fn user(db: &Db, id: Uuid) -> Result<Option<User>, StoreError> {
    Q::new(format!("SELECT {USER_COLUMNS} FROM meet_user WHERE id = $1")).bind(id).fetch_optional(db).await
}

/// A row of the notification outbox.
#[derive(Clone, Debug, sqlx::FromRow, PartialEq)]
pub struct Notification {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub recording_id: Uuid,
    pub kind: String,
    pub recipient_id: Uuid,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub abandoned_at: Option<DateTime<Utc>>,
}

const N_COLUMNS: &str = "id, created_at, recording_id, kind, recipient_id, attempts, next_attempt_at, last_error, \
    delivered_at, abandoned_at";

/// Pending notifications due at `at`, oldest first.
pub async fn due_notifications(db: &Db, at: DateTime<Utc>, limit: i64) -> Result<Vec<Notification>, StoreError> {
    Q::new(format!(
        "SELECT {N_COLUMNS} FROM meet_recording_notification WHERE delivered_at IS NULL AND abandoned_at IS NULL \
         AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2"
    ))
    .bind(at)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Every notification of a recording.
pub async fn notifications_of(db: &Db, recording_id: Uuid) -> Result<Vec<Notification>, StoreError> {
    Q::new(format!("SELECT {N_COLUMNS} FROM meet_recording_notification WHERE recording_id = $1 ORDER BY created_at"))
        .bind(recording_id)
        .fetch_all(db)
        .await
}

/// Claims a due notification for one delivery attempt: a compare-and-set on its schedule that
/// pushes it to `lease_until`, so that no other worker takes it meanwhile and a crashed attempt
/// is retried after the lease. No lock is held during the delivery.
pub async fn claim_notification(db: &Db, n: &Notification, lease_until: DateTime<Utc>) -> Result<bool, StoreError> {
    let changed = Q::new(
        "UPDATE meet_recording_notification SET attempts = attempts + 1, next_attempt_at = $1, updated_at = $2 \
         WHERE id = $3 AND attempts = $4 AND delivered_at IS NULL AND abandoned_at IS NULL",
    )
    .bind(lease_until)
    .bind(now())
    .bind(n.id)
    .bind(n.attempts)
    .execute(db)
    .await?;
    Ok(changed == 1)
}

/// Records a delivery.
pub async fn notification_delivered(db: &Db, id: Uuid) -> Result<(), StoreError> {
    let t = now();
    Q::new(
        "UPDATE meet_recording_notification SET delivered_at = $1, updated_at = $1, last_error = NULL WHERE id = $2",
    )
    .bind(t)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or abandoned when `retry_at` is `None`.
pub async fn notification_failed(
    db: &Db,
    id: Uuid,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let t = now();
    Q::new(
        "UPDATE meet_recording_notification SET last_error = $1, updated_at = $2, \
         next_attempt_at = COALESCE($3, next_attempt_at), abandoned_at = CASE WHEN $4 THEN $2 ELSE NULL END \
         WHERE id = $5",
    )
    .bind(error)
    .bind(t)
    .bind(retry_at)
    .bind(retry_at.is_none())
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// True when every notification of the recording was delivered (and there is at least one).
pub async fn all_delivered(db: &Db, recording_id: Uuid) -> Result<bool, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Counts {
        total: i64,
        done: i64,
    }
    let c: Counts = Q::new(
        "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END), 0) AS done \
         FROM meet_recording_notification WHERE recording_id = $1",
    )
    .bind(recording_id)
    .fetch_one(db)
    .await?;
    Ok(c.total > 0 && c.total == c.done)
}

/// Held while this instance runs the reconciler: on PostgreSQL a transaction holding the
/// advisory lock (released when dropped); on SQLite the single process is the only runner.
pub struct ReconcilerLock {
    _tx: Option<Tx>,
}

impl ReconcilerLock {
    /// Ends the lock's transaction now. Dropping it would leave the rollback queued on an idle
    /// pooled connection, and the lock held, until that connection is used again.
    pub async fn release(self) -> Result<(), StoreError> {
        match self._tx {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        }
    }
}

/// Takes the reconciler's single-runner lock without waiting; `None` when another instance
/// holds it. The one backend-specific statement of the recordings store.
pub async fn try_reconciler_lock(db: &Db) -> Result<Option<ReconcilerLock>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Locked {
        locked: bool,
    }
    match db.backend() {
        Backend::Sqlite => Ok(Some(ReconcilerLock { _tx: None })),
        Backend::Postgres => {
            let mut tx = db.begin().await?;
            let l: Locked = Q::new("SELECT pg_try_advisory_xact_lock(727401) AS locked").fetch_one(&mut tx).await?;
            Ok(l.locked.then_some(ReconcilerLock { _tx: Some(tx) }))
        }
    }
}
