//! One versioned migration source for both databases. Column types are written as placeholders
//! (`{uuid}`, `{ts}`, `{json}`) replaced per backend; everything else is SQL both accept. Each
//! step runs in its own transaction, guarded by an advisory lock on PostgreSQL so that several
//! instances starting together apply it once.

use super::exec::{execute_script, Backend, Db, Q};
use super::StoreError;

/// `(version, name, sql)`, applied in order. Never edit a released step: add a new one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial schema", INITIAL),
    (3, "recording outbox and observability columns", super::recordings::MIGRATION),
    (4, "session user column", SESSION_USER),
    (5, "job queue", super::jobs::MIGRATION),
];

/// The logged-in user of a database session, so that a request reads session and user in one query.
const SESSION_USER: &str = r#"
ALTER TABLE meet_session ADD COLUMN user_id {uuid} NULL;
CREATE INDEX meet_session_user_idx ON meet_session (user_id);
"#;

const INITIAL: &str = r#"
CREATE TABLE meet_user (
    id {uuid} PRIMARY KEY,
    password varchar(128) NOT NULL,
    last_login {ts} NULL,
    is_superuser boolean NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    sub varchar(255) NULL CONSTRAINT meet_user_sub_key UNIQUE,
    email varchar(254) NULL,
    admin_email varchar(254) NULL CONSTRAINT meet_user_admin_email_key UNIQUE,
    language varchar(10) NOT NULL,
    timezone varchar(63) NOT NULL,
    is_device boolean NOT NULL,
    is_staff boolean NOT NULL,
    is_active boolean NOT NULL,
    full_name varchar(100) NULL,
    short_name varchar(100) NULL
);
CREATE INDEX meet_user_email_idx ON meet_user (email);
CREATE INDEX meet_user_created_at_idx ON meet_user (created_at);

CREATE TABLE meet_resource (
    id {uuid} PRIMARY KEY,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);

CREATE TABLE meet_room (
    resource_id {uuid} PRIMARY KEY REFERENCES meet_resource (id) ON DELETE CASCADE,
    name varchar(500) NOT NULL,
    slug varchar(100) NULL CONSTRAINT meet_room_slug_key UNIQUE,
    configuration {json} NOT NULL,
    access_level varchar(50) NOT NULL
);
CREATE INDEX meet_room_name_idx ON meet_room (name);

CREATE TABLE meet_resource_access (
    id {uuid} PRIMARY KEY,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    role varchar(20) NOT NULL CHECK (role IN ('member', 'administrator', 'owner')),
    resource_id {uuid} NOT NULL REFERENCES meet_resource (id) ON DELETE CASCADE,
    user_id {uuid} NOT NULL REFERENCES meet_user (id) ON DELETE CASCADE,
    CONSTRAINT resource_access_unique_user_resource UNIQUE (user_id, resource_id)
);
CREATE INDEX meet_resource_access_resource_idx ON meet_resource_access (resource_id, role);

CREATE TABLE meet_recording (
    id {uuid} PRIMARY KEY,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    status varchar(50) NOT NULL CHECK (status IN ('initiated', 'active', 'stopped', 'saved', 'aborted',
        'failed_to_start', 'failed_to_stop', 'notification_succeeded')),
    worker_id varchar(255) NULL,
    room_id {uuid} NOT NULL REFERENCES meet_room (resource_id) ON DELETE CASCADE,
    mode varchar(20) NOT NULL CHECK (mode IN ('screen_recording', 'transcript'))
);
CREATE UNIQUE INDEX unique_initiated_or_active_recording_per_room ON meet_recording (room_id)
    WHERE status IN ('active', 'initiated');
CREATE INDEX meet_recording_room_idx ON meet_recording (room_id);
CREATE INDEX meet_recording_worker_idx ON meet_recording (worker_id);

CREATE TABLE meet_recording_access (
    id {uuid} PRIMARY KEY,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    team varchar(100) NOT NULL,
    role varchar(20) NOT NULL CHECK (role IN ('member', 'administrator', 'owner')),
    recording_id {uuid} NOT NULL REFERENCES meet_recording (id) ON DELETE CASCADE,
    user_id {uuid} NULL REFERENCES meet_user (id) ON DELETE CASCADE,
    CONSTRAINT check_recording_access_either_user_or_team
        CHECK ((team = '' AND user_id IS NOT NULL) OR (team > '' AND user_id IS NULL))
);
CREATE UNIQUE INDEX unique_recording_user ON meet_recording_access (user_id, recording_id)
    WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX unique_recording_team ON meet_recording_access (team, recording_id)
    WHERE team > '';
CREATE INDEX meet_recording_access_recording_idx ON meet_recording_access (recording_id);
CREATE INDEX meet_recording_access_user_idx ON meet_recording_access (user_id);

CREATE TABLE meet_session (
    session_key varchar(64) PRIMARY KEY,
    session_data text NOT NULL,
    expire_date {ts} NOT NULL
);
CREATE INDEX meet_session_expire_date_idx ON meet_session (expire_date);
"#;

fn render(sql: &str, backend: Backend) -> String {
    let (uuid, ts, json) = match backend {
        Backend::Postgres => ("uuid", "timestamptz", "jsonb"),
        Backend::Sqlite => ("BLOB", "TEXT", "TEXT"),
    };
    sql.replace("{uuid}", uuid).replace("{ts}", ts).replace("{json}", json)
}

#[derive(sqlx::FromRow)]
struct Version {
    version: i64,
}

/// Applies every pending migration; returns how many were applied.
pub async fn migrate(db: &Db) -> Result<usize, StoreError> {
    execute_script(
        db,
        "CREATE TABLE IF NOT EXISTS meet_schema_migrations (version bigint PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)",
    )
    .await
    .or_else(|e| match e {
        // Two instances creating the bookkeeping table at the same moment on PostgreSQL.
        StoreError::Conflict(_) => Ok(()),
        other => Err(other),
    })?;
    let mut applied = 0;
    for (version, name, sql) in MIGRATIONS {
        let mut tx = db.begin().await?;
        if db.backend() == Backend::Postgres {
            Q::new("SELECT pg_advisory_xact_lock(727400)").execute(&mut tx).await?;
        }
        let done: Option<Version> = Q::new("SELECT version FROM meet_schema_migrations WHERE version = $1")
            .bind(*version)
            .fetch_optional(&mut tx)
            .await?;
        if done.is_some_and(|v| v.version == *version) {
            continue;
        }
        execute_script(&mut tx, &render(sql, db.backend())).await?;
        Q::new("INSERT INTO meet_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(*version)
            .bind(*name)
            .bind(chrono::Utc::now().to_rfc3339())
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, name, "migration applied");
        applied += 1;
    }
    Ok(applied)
}
