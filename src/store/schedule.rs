//! `meet_scheduled_job`: one row per scheduled job with its last run, so that a job with a period
//! runs once per period across all instances (a compare-and-set on `last_started_at`), and a
//! single-runner lock per job (a PostgreSQL advisory lock held by a transaction; an in-process
//! lock per database on SQLite, whose single process is the only server). Also the cheap counts read at
//! scrape time by `/metrics`.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Utc};

use super::{Backend, Db, StoreError, Tx, Q};

/// Migration step: the scheduled job table.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE meet_scheduled_job (
    name varchar(100) PRIMARY KEY,
    runs bigint NOT NULL DEFAULT 0,
    last_started_at {ts} NULL,
    last_finished_at {ts} NULL,
    last_outcome varchar(20) NULL,
    last_error text NULL
);
"#;

/// A row of `meet_scheduled_job`.
#[derive(Clone, Debug, sqlx::FromRow, PartialEq, serde::Serialize)]
pub struct ScheduledJob {
    pub name: String,
    pub runs: i64,
    pub last_started_at: Option<DateTime<Utc>>,
    pub last_finished_at: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
}

fn running() -> &'static Mutex<HashSet<String>> {
    static RUNNING: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    RUNNING.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Held while this process runs a job.
pub struct JobLock {
    /// The database and job name, in the in-process set.
    key: String,
    tx: Option<Tx>,
}

impl JobLock {
    /// Releases the lock (ends the advisory lock's transaction now rather than when its pooled
    /// connection is next used).
    pub async fn release(mut self) -> Result<(), StoreError> {
        match self.tx.take() {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        }
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        if let Ok(mut set) = running().lock() {
            set.remove(&self.key);
        }
    }
}

/// A stable key for the advisory lock of `name`: a fixed high half (the reconciler's lock is
/// 727401) and the FNV-1a hash of the name.
fn lock_key(name: &str) -> i64 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (727_402_i64 << 32) | i64::from(h)
}

/// Takes the single-runner lock of job `name` without waiting; `None` when it runs elsewhere
/// (in this process, or in another instance on PostgreSQL).
pub async fn try_lock(db: &Db, name: &str) -> Result<Option<JobLock>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Locked {
        locked: bool,
    }
    let key = format!("{}#{name}", db.identity());
    {
        let Ok(mut set) = running().lock() else { return Err(StoreError::Other("job lock poisoned".into())) };
        if !set.insert(key.clone()) {
            return Ok(None);
        }
    }
    let mut lock = JobLock { key, tx: None };
    if db.backend() == Backend::Postgres {
        let mut tx = db.begin().await?;
        let l: Locked =
            Q::new("SELECT pg_try_advisory_xact_lock($1) AS locked").bind(lock_key(name)).fetch_one(&mut tx).await?;
        if !l.locked {
            return Ok(None); // dropping `lock` frees the in-process entry
        }
        lock.tx = Some(tx);
    }
    Ok(Some(lock))
}

/// Marks a run of `name` as started at `at` when the last one started at or before
/// `started_before` (or never): true when this caller won this period's run.
pub async fn claim(db: &Db, name: &str, at: DateTime<Utc>, started_before: DateTime<Utc>) -> Result<bool, StoreError> {
    Q::new("INSERT INTO meet_scheduled_job (name, runs) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .execute(db)
        .await?;
    let changed = Q::new(
        "UPDATE meet_scheduled_job SET last_started_at = $2, runs = runs + 1 \
         WHERE name = $1 AND (last_started_at IS NULL OR last_started_at <= $3)",
    )
    .bind(name)
    .bind(at)
    .bind(started_before)
    .execute(db)
    .await?;
    Ok(changed == 1)
}

/// Records the end of a run of `name`.
pub async fn finish(db: &Db, name: &str, outcome: &str, error: Option<&str>) -> Result<(), StoreError> {
    Q::new("UPDATE meet_scheduled_job SET last_finished_at = $2, last_outcome = $3, last_error = $4 WHERE name = $1")
        .bind(name)
        .bind(super::now())
        .bind(outcome)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}

/// Every job that ran at least once, by name.
pub async fn list(db: &Db) -> Result<Vec<ScheduledJob>, StoreError> {
    Q::new(
        "SELECT name, runs, last_started_at, last_finished_at, last_outcome, last_error \
         FROM meet_scheduled_job ORDER BY name",
    )
    .fetch_all(db)
    .await
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

#[derive(sqlx::FromRow)]
struct Oldest {
    created_at: DateTime<Utc>,
}

/// Recording notifications neither delivered nor abandoned, and the creation time of the
/// oldest of them.
pub async fn outbox_depth(db: &Db) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    const PENDING: &str = "FROM meet_recording_notification WHERE delivered_at IS NULL AND abandoned_at IS NULL";
    let c: Count = Q::new(format!("SELECT COUNT(*) AS n {PENDING}")).fetch_one(db).await?;
    if c.n == 0 {
        return Ok((0, None));
    }
    let o: Option<Oldest> =
        Q::new(format!("SELECT created_at {PENDING} ORDER BY created_at LIMIT 1")).fetch_optional(db).await?;
    Ok((c.n, o.map(|o| o.created_at)))
}

/// Deferred jobs (`meet_job`) not finished yet.
pub async fn jobs_pending(db: &Db) -> Result<i64, StoreError> {
    let c: Count = Q::new("SELECT COUNT(*) AS n FROM meet_job WHERE done_at IS NULL").fetch_one(db).await?;
    Ok(c.n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(super::lock_key("purge-expired-sessions"), super::lock_key("purge-expired-sessions"));
        assert_ne!(super::lock_key("a"), super::lock_key("b"));
    }
}
