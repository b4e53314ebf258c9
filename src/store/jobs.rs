//! `meet_job`: a small durable queue of deferred work (now-rooms §12: deleting a connection-test
//! room once its token has expired). A job survives restarts; several instances poll the same
//! table, and a job is claimed by a compare-and-set on its attempt counter that also pushes its
//! due time to a lease, so exactly one worker runs it at a time and a crashed run is retried
//! after the lease. Finished jobs keep their row (with `done_at`) until purged.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{now, Db, StoreError, Q};

/// Migration step: the job table.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE meet_job (
    id {uuid} PRIMARY KEY,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    kind varchar(50) NOT NULL,
    payload text NOT NULL,
    due_at {ts} NOT NULL,
    attempts bigint NOT NULL,
    last_error text NULL,
    done_at {ts} NULL
);
CREATE INDEX meet_job_due_idx ON meet_job (done_at, due_at);
"#;

/// A row of `meet_job`.
#[derive(Clone, Debug, sqlx::FromRow, PartialEq)]
pub struct Job {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub kind: String,
    /// What the job acts on (for `delete_room`: the LiveKit room name).
    pub payload: String,
    pub due_at: DateTime<Utc>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, created_at, kind, payload, due_at, attempts, last_error, done_at";

/// Queues a job of `kind` on `payload`, due at `due_at`.
pub async fn insert(db: &Db, kind: &str, payload: &str, due_at: DateTime<Utc>) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    let t = now();
    Q::new(
        "INSERT INTO meet_job (id, created_at, updated_at, kind, payload, due_at, attempts) \
         VALUES ($1, $2, $2, $3, $4, $5, 0)",
    )
    .bind(id)
    .bind(t)
    .bind(kind)
    .bind(payload)
    .bind(due_at)
    .execute(db)
    .await?;
    Ok(id)
}

/// Unfinished jobs due at `at`, oldest first.
pub async fn due(db: &Db, at: DateTime<Utc>, limit: i64) -> Result<Vec<Job>, StoreError> {
    Q::new(format!("SELECT {COLUMNS} FROM meet_job WHERE done_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT $2"))
        .bind(at)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Every job of `kind` on `payload` (tests and operators).
pub async fn find(db: &Db, kind: &str, payload: &str) -> Result<Vec<Job>, StoreError> {
    Q::new(format!("SELECT {COLUMNS} FROM meet_job WHERE kind = $1 AND payload = $2 ORDER BY created_at"))
        .bind(kind)
        .bind(payload)
        .fetch_all(db)
        .await
}

/// Claims a due job for one run: true when this caller won it (see the module comment).
pub async fn claim(db: &Db, job: &Job, lease_until: DateTime<Utc>) -> Result<bool, StoreError> {
    let changed = Q::new(
        "UPDATE meet_job SET attempts = attempts + 1, due_at = $1, updated_at = $2 \
         WHERE id = $3 AND attempts = $4 AND done_at IS NULL",
    )
    .bind(lease_until)
    .bind(now())
    .bind(job.id)
    .bind(job.attempts)
    .execute(db)
    .await?;
    Ok(changed == 1)
}

/// Marks a job finished (`error` when it was given up).
pub async fn finish(db: &Db, id: Uuid, error: Option<&str>) -> Result<(), StoreError> {
    let t = now();
    Q::new("UPDATE meet_job SET done_at = $1, updated_at = $1, last_error = $2 WHERE id = $3")
        .bind(t)
        .bind(error)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a failed run, to be retried at `retry_at`.
pub async fn retry(db: &Db, id: Uuid, error: &str, retry_at: DateTime<Utc>) -> Result<(), StoreError> {
    Q::new("UPDATE meet_job SET last_error = $1, due_at = $2, updated_at = $3 WHERE id = $4")
        .bind(error)
        .bind(retry_at)
        .bind(now())
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes the jobs finished before `before`; returns how many.
pub async fn purge_finished(db: &Db, before: DateTime<Utc>) -> Result<u64, StoreError> {
    Q::new("DELETE FROM meet_job WHERE done_at IS NOT NULL AND done_at < $1").bind(before).execute(db).await
}
