//! One versioned migration source for both databases. Column types are written as placeholders
//! (`{uuid}`, `{ts}`, `{json}`) replaced per backend; everything else is SQL both accept. Each
//! step runs in its own transaction, guarded by an advisory lock on PostgreSQL so that several
//! instances starting together apply it once. A database created by Meet's Django backend is taken
//! over in place: `takeover.rs` checks it and runs each step additively over Django's schema.

use super::exec::{execute_script, Backend, Db, Tx, Q};
use super::StoreError;

/// `(version, name, sql)`, applied in order. Never edit a released step: add a new one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial schema", INITIAL),
    (3, "recording outbox and observability columns", super::recordings::MIGRATION),
    (4, "session user column", SESSION_USER),
    (5, "room PIN code and user room defaults", ROOM_PIN_AND_USER_DEFAULTS),
    (6, "job queue", super::jobs::MIGRATION),
    (7, "applications of the external API", super::applications::MIGRATION),
    (8, "recording options, external process id and statuses", super::recordings::MIGRATION_HEAD),
    (9, "file uploads and purged recording objects", super::files::MIGRATION),
    (10, "provisional users: one e-mail per user without sub", super::provisional::MIGRATION),
    (11, "scheduled jobs", super::schedule::MIGRATION),
];

/// Upstream's `0014_room_pin_code` and `0022_user_default_room_access_level_and_more`. SQLite
/// cannot add a UNIQUE column, so uniqueness is a unique index of the constraint's name on both.
/// The existing rooms get a PIN in the same transaction ([`backfill_pins`]).
const ROOM_PIN_AND_USER_DEFAULTS: &str = r#"
ALTER TABLE meet_room ADD COLUMN pin_code varchar NULL;
CREATE UNIQUE INDEX meet_room_pin_code_key ON meet_room (pin_code);
ALTER TABLE meet_user ADD COLUMN default_room_access_level varchar(50) NULL;
ALTER TABLE meet_user ADD COLUMN default_room_configuration {json} NOT NULL DEFAULT '{}';
"#;

/// Length of the PINs given to existing rooms by migration 5 (upstream's fixed 10 digits).
const BACKFILL_PIN_LENGTH: u32 = 10;

/// Gives every room without a PIN a random one, distinct from the PINs already stored and from
/// those drawn here (upstream does not check the latter and could fail on the unique index), and
/// makes every stored configuration valid for the schema that now guards it (B-CFG-2).
async fn backfill_pins(tx: &mut Tx) -> Result<(), StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        resource_id: uuid::Uuid,
        pin_code: Option<String>,
        configuration: sqlx::types::Json<serde_json::Value>,
    }
    let rows: Vec<Row> =
        Q::new("SELECT resource_id, pin_code, configuration FROM meet_room").fetch_all(&mut *tx).await?;
    for row in &rows {
        let clean = crate::domain::room_config::sanitize(&row.configuration.0);
        if clean != row.configuration.0 {
            Q::new("UPDATE meet_room SET configuration = $1 WHERE resource_id = $2")
                .bind(clean)
                .bind(row.resource_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    let mut taken: std::collections::HashSet<String> = rows.iter().filter_map(|r| r.pin_code.clone()).collect();
    for row in rows.iter().filter(|r| r.pin_code.is_none()) {
        let pin = loop {
            let pin = crate::domain::room_config::random_pin(BACKFILL_PIN_LENGTH);
            if taken.insert(pin.clone()) {
                break pin;
            }
        };
        Q::new("UPDATE meet_room SET pin_code = $1 WHERE resource_id = $2")
            .bind(pin)
            .bind(row.resource_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

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
    let (strarray, empty_strarray) = match backend {
        Backend::Postgres => ("varchar(50)[]", "'{}'"),
        Backend::Sqlite => ("TEXT", "'[]'"),
    };
    sql.replace("{uuid}", uuid)
        .replace("{ts}", ts)
        .replace("{json}", json)
        .replace("{strarray}", strarray)
        .replace("{empty_strarray}", empty_strarray)
}

#[derive(sqlx::FromRow)]
struct Version {
    version: i64,
}

/// Applies every pending migration; returns how many were applied.
pub async fn migrate(db: &Db) -> Result<usize, StoreError> {
    migrate_until(db, i64::MAX).await
}

/// Applies the pending migrations up to version `last` included (tests build older schemas
/// with it, to check that existing databases migrate in place).
pub async fn migrate_until(db: &Db, last: i64) -> Result<usize, StoreError> {
    // A database made by Meet's Django backend is checked before anything is written to it.
    let django = super::takeover::detect(db).await?;
    if django {
        super::takeover::check(db).await?;
    }
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
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v <= last) {
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
        if django {
            // Additive only, and no data step (they belong in the `else` branch): Django's rows
            // stay as Django wrote them.
            super::takeover::apply(&mut tx, &render(sql, db.backend())).await?;
        } else {
            execute_script(&mut tx, &render(sql, db.backend())).await?;
            if *version == 5 {
                backfill_pins(&mut tx).await?;
            }
        }
        if django {
            super::takeover::finish(&mut tx).await?;
        }
        if *version == 8 {
            super::recordings::widen_status_check(&mut tx).await?;
        }
        Q::new("INSERT INTO meet_schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(*version)
            .bind(*name)
            .bind(chrono::Utc::now().to_rfc3339())
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, name, over_django_schema = django, "migration applied");
        applied += 1;
    }
    if django {
        // Django may have run again since (a switch back and forth): its defaults and cascades
        // are checked at every start.
        let mut tx = db.begin().await?;
        Q::new("SELECT pg_advisory_xact_lock(727400)").execute(&mut tx).await?;
        super::takeover::finish(&mut tx).await?;
        tx.commit().await?;
    }
    Ok(applied)
}
