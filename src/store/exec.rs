//! The only place (with `migrations.rs`) that knows which database runs: queries are written once
//! in SQL that SQLite and PostgreSQL both accept (`$1` placeholders, `RETURNING`, `ON CONFLICT`),
//! carried as a [`Q`] with typed arguments, and executed here on either backend.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{FromRow, PgConnection, SqliteConnection};
use uuid::Uuid;

use super::StoreError;
use crate::config::DatabaseUrl;

/// A pool on one of the two supported databases. SQLite allows one writer at a time: its write
/// transactions queue on an in-process lock (the single binary is the only writer) instead of
/// spinning in SQLite's busy handler, which sleeps in coarse steps under contention.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool, Arc<tokio::sync::Mutex<()>>),
    Postgres(PgPool),
}

/// Connection counts of a pool.
#[derive(Clone, Copy, Debug)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// Which database a [`Db`] talks to (for the rare statements that must differ: migrations only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Db {
    /// Opens the pool. PostgreSQL is retried for a bounded time so that a service starting
    /// together with its database does not crash-loop; SQLite creates its file.
    pub async fn connect(url: &DatabaseUrl, pool_size: u32) -> Result<Db, StoreError> {
        match url {
            DatabaseUrl::Sqlite(u) => {
                let opts = SqliteConnectOptions::from_str(u)
                    .map_err(|e| StoreError::Other(e.to_string()))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .before_acquire(|conn, _| Box::pin(outside_transaction(conn)))
                    .max_connections(pool_size)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .map_err(map_err)?;
                Ok(Db::Sqlite(pool, Arc::new(tokio::sync::Mutex::new(()))))
            }
            DatabaseUrl::Postgres(u) => {
                let opts = PgConnectOptions::from_str(u).map_err(|e| StoreError::Other(e.to_string()))?;
                let pool_opts = PgPoolOptions::new()
                    .before_acquire(|conn, _| Box::pin(outside_transaction(conn)))
                    .max_connections(pool_size)
                    .min_connections(0)
                    .acquire_timeout(Duration::from_secs(5));
                let mut attempt = 0;
                loop {
                    match pool_opts.clone().connect_with(opts.clone()).await {
                        Ok(pool) => return Ok(Db::Postgres(pool)),
                        Err(e) if attempt < 4 && is_unavailable(&e) => {
                            attempt += 1;
                            tracing::warn!(attempt, error = %e, "PostgreSQL is not reachable yet; retrying");
                            tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                        }
                        Err(e) => return Err(map_err(e)),
                    }
                }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so concurrent writers queue on the busy timeout instead of failing with "database is locked";
    /// on PostgreSQL, rows that decide an invariant are locked with `Q::for_update`.
    ///
    /// Cancellation-safe: the `BEGIN` runs in a task of its own, so a caller dropped while it waits
    /// can never leave a pooled connection inside a transaction that no [`Tx`] owns (the task's
    /// unclaimed `Tx` is dropped, which rolls back and gives the writer turn back).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let db = self.clone();
        let start = std::time::Instant::now();
        let tx = run_detached(async move {
            match db {
                Db::Sqlite(p, writer) => {
                    let turn = writer.lock_owned().await;
                    Ok(Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?, turn))
                }
                Db::Postgres(p) => Ok(Tx::Postgres(p.begin().await.map_err(map_err)?)),
            }
        })
        .await;
        crate::metrics::db_begin_wait(start.elapsed().as_secs_f64());
        tx
    }

    /// Which database this is (SQLite file, or PostgreSQL host and database name): the scope of
    /// in-process locks.
    pub fn identity(&self) -> String {
        match self {
            Db::Sqlite(p, _) => format!("sqlite:{}", p.connect_options().get_filename().display()),
            Db::Postgres(p) => {
                let o = p.connect_options();
                format!("postgres:{}:{}/{}", o.get_host(), o.get_port(), o.get_database().unwrap_or(""))
            }
        }
    }

    /// The pool's open and idle connections and its maximum size (read at scrape time).
    pub fn pool_stats(&self) -> PoolStats {
        match self {
            Db::Sqlite(p, _) => {
                PoolStats { size: p.size(), idle: p.num_idle() as u32, max: p.options().get_max_connections() }
            }
            Db::Postgres(p) => {
                PoolStats { size: p.size(), idle: p.num_idle() as u32, max: p.options().get_max_connections() }
            }
        }
    }

    /// Cheap liveness check for `/__heartbeat__`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        Q::new("SELECT 1").execute(self).await.map(|_| ())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p, _) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// Runs `work` in a task of its own and waits for it: dropping the waiter does not interrupt it.
async fn run_detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work).await.map_err(|e| StoreError::Other(format!("database task failed: {e}")))?
}

/// Pool hook run before an idle connection is handed out: a connection still inside a
/// transaction (which [`Db::begin`] and [`Tx::commit`] prevent, and a dropped [`Tx`] undoes with a
/// queued rollback) is flushed once, and discarded if the transaction is still open, so that one
/// stray transaction can never block every later writer.
async fn outside_transaction<C: sqlx::Connection>(conn: &mut C) -> Result<bool, sqlx::Error> {
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::error!("a pooled database connection was left inside a transaction; discarding it");
        return Ok(false);
    }
    Ok(true)
}

/// An open transaction on either backend. Dropped without `commit`, it rolls back.
pub enum Tx {
    /// The transaction and this process's SQLite writer turn, released when it ends.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>, tokio::sync::OwnedMutexGuard<()>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    /// Commits. Cancellation-safe like [`Db::begin`]: once called, the commit runs to its end (and
    /// the SQLite writer turn is released after it) even if the caller is dropped.
    pub async fn commit(self) -> Result<(), StoreError> {
        run_detached(async move {
            match self {
                Tx::Sqlite(t, _turn) => t.commit().await.map_err(map_err),
                Tx::Postgres(t) => t.commit().await.map_err(map_err),
            }
        })
        .await
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(..) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }
}

/// A typed query argument; every variant encodes the same way on both backends
/// (UUIDs as `uuid`/16-byte BLOB, timestamps as `timestamptz`/ISO text, JSON as `jsonb`/text).
#[derive(Clone, Debug)]
pub enum Arg {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Str(String),
    OptStr(Option<String>),
    I64(i64),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
    Json(Value),
    /// A list of strings: a `varchar[]` on PostgreSQL (Django's `ArrayField`), JSON text on SQLite.
    StrList(Vec<String>),
}

macro_rules! arg_from {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for Arg { fn from(x: $t) -> Arg { Arg::$v(x) } }
    )*};
}
arg_from!(Uuid => Uuid, Option<Uuid> => OptUuid, String => Str, Option<String> => OptStr, i64 => I64,
    bool => Bool, DateTime<Utc> => Time, Option<DateTime<Utc>> => OptTime, Value => Json);

impl From<&str> for Arg {
    fn from(x: &str) -> Arg {
        Arg::Str(x.to_string())
    }
}

impl From<Option<&str>> for Arg {
    fn from(x: Option<&str>) -> Arg {
        Arg::OptStr(x.map(str::to_string))
    }
}

/// A list of strings stored as a `varchar[]` on PostgreSQL and as a JSON array (text) on SQLite:
/// bind it through [`Arg::StrList`] and read it as a column of this type on either backend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StrList(pub Vec<String>);

impl From<Vec<String>> for Arg {
    fn from(x: Vec<String>) -> Arg {
        Arg::StrList(x)
    }
}

impl sqlx::Type<sqlx::Sqlite> for StrList {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <String as sqlx::Type<sqlx::Sqlite>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Sqlite> for StrList {
    fn decode(v: sqlx::sqlite::SqliteValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <String as sqlx::Decode<sqlx::Sqlite>>::decode(v)?;
        Ok(StrList(serde_json::from_str(&text)?))
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Sqlite> for StrList {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Sqlite as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        let text = serde_json::to_string(&self.0)?;
        <String as sqlx::Encode<sqlx::Sqlite>>::encode(text, buf)
    }
}

impl sqlx::Type<sqlx::Postgres> for StrList {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Vec<String> as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <Vec<String> as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            || *ty == sqlx::postgres::PgTypeInfo::with_name("_varchar")
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for StrList {
    fn decode(v: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(StrList(<Vec<String> as sqlx::Decode<sqlx::Postgres>>::decode(v)?))
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Postgres> for StrList {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <Vec<String> as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.0, buf)
    }
}

/// A statement and its arguments, written once for both databases.
#[derive(Clone, Debug)]
pub struct Q {
    sql: Cow<'static, str>,
    args: Vec<Arg>,
}

/// Where a query runs: a pool or an open transaction.
pub enum Conn<'a> {
    SqlitePool(&'a SqlitePool),
    PgPool(&'a PgPool),
    SqliteTx(&'a mut SqliteConnection),
    PgTx(&'a mut PgConnection),
}

/// Anything a [`Q`] can run on.
pub trait Exec {
    fn as_conn(&mut self) -> Conn<'_>;
}

impl Exec for &Db {
    fn as_conn(&mut self) -> Conn<'_> {
        match *self {
            Db::Sqlite(p, _) => Conn::SqlitePool(p),
            Db::Postgres(p) => Conn::PgPool(p),
        }
    }
}

impl Exec for &mut Tx {
    fn as_conn(&mut self) -> Conn<'_> {
        match &mut **self {
            Tx::Sqlite(t, _) => Conn::SqliteTx(&mut *t),
            Tx::Postgres(t) => Conn::PgTx(&mut *t),
        }
    }
}

macro_rules! bind_all {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Uuid(v) => q.bind(v),
                Arg::OptUuid(v) => q.bind(v),
                Arg::Str(v) => q.bind(v),
                Arg::OptStr(v) => q.bind(v),
                Arg::I64(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Time(v) => q.bind(v),
                Arg::OptTime(v) => q.bind(v),
                Arg::Json(v) => q.bind(sqlx::types::Json(v)),
                Arg::StrList(v) => q.bind(StrList(v)),
            };
        }
        q
    }};
}

/// Rows that decode the same way from both backends (derive `sqlx::FromRow`).
pub trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

impl Q {
    pub fn new(sql: impl Into<Cow<'static, str>>) -> Q {
        Q { sql: sql.into(), args: Vec::new() }
    }

    pub fn bind(mut self, a: impl Into<Arg>) -> Q {
        self.args.push(a.into());
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Appends ` FOR UPDATE` on PostgreSQL. SQLite needs no row lock: its write transactions
    /// (`BEGIN IMMEDIATE`) already serialize every writer.
    pub fn for_update(mut self, backend: Backend) -> Q {
        if backend == Backend::Postgres {
            self.sql = Cow::Owned(format!("{} FOR UPDATE", self.sql));
        }
        self
    }

    pub async fn fetch_all<T: Row>(self, mut ex: impl Exec) -> Result<Vec<T>, StoreError> {
        let Q { sql, args } = self;
        let r = match ex.as_conn() {
            Conn::SqlitePool(p) => bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_all(p).await,
            Conn::PgPool(p) => bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_all(p).await,
            Conn::SqliteTx(c) => bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_all(c).await,
            Conn::PgTx(c) => bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_all(c).await,
        };
        r.map_err(map_err)
    }

    pub async fn fetch_optional<T: Row>(self, mut ex: impl Exec) -> Result<Option<T>, StoreError> {
        let Q { sql, args } = self;
        let r = match ex.as_conn() {
            Conn::SqlitePool(p) => bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_optional(p).await,
            Conn::PgPool(p) => bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_optional(p).await,
            Conn::SqliteTx(c) => bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_optional(c).await,
            Conn::PgTx(c) => bind_all!(sqlx::query_as::<_, T>(&sql), args).fetch_optional(c).await,
        };
        r.map_err(map_err)
    }

    pub async fn fetch_one<T: Row>(self, ex: impl Exec) -> Result<T, StoreError> {
        self.fetch_optional(ex).await?.ok_or(StoreError::NotFound)
    }

    /// Runs the statement; returns the number of rows affected.
    pub async fn execute(self, mut ex: impl Exec) -> Result<u64, StoreError> {
        let Q { sql, args } = self;
        let r = match ex.as_conn() {
            Conn::SqlitePool(p) => bind_all!(sqlx::query(&sql), args).execute(p).await.map(|r| r.rows_affected()),
            Conn::PgPool(p) => bind_all!(sqlx::query(&sql), args).execute(p).await.map(|r| r.rows_affected()),
            Conn::SqliteTx(c) => bind_all!(sqlx::query(&sql), args).execute(c).await.map(|r| r.rows_affected()),
            Conn::PgTx(c) => bind_all!(sqlx::query(&sql), args).execute(c).await.map(|r| r.rows_affected()),
        };
        r.map_err(map_err)
    }
}

/// Runs a script of several statements (migrations): no arguments.
pub(super) async fn execute_script(mut ex: impl Exec, sql: &str) -> Result<(), StoreError> {
    use sqlx::Executor;
    let r = match ex.as_conn() {
        Conn::SqlitePool(p) => p.execute(sql).await.map(|_| ()),
        Conn::PgPool(p) => p.execute(sql).await.map(|_| ()),
        Conn::SqliteTx(c) => c.execute(sql).await.map(|_| ()),
        Conn::PgTx(c) => c.execute(sql).await.map(|_| ()),
    };
    r.map_err(map_err)
}

/// SQLite names no constraint in its violation messages: map its column lists to the names the
/// PostgreSQL schema uses, so callers match on one name whatever the backend.
const SQLITE_CONSTRAINTS: &[(&str, &str)] = &[
    ("meet_room.slug", "meet_room_slug_key"),
    ("meet_resource_access.user_id, meet_resource_access.resource_id", "resource_access_unique_user_resource"),
    ("meet_user.sub", "meet_user_sub_key"),
    ("meet_user.admin_email", "meet_user_admin_email_key"),
    ("meet_application.client_id", "meet_application_client_id_key"),
    (
        "meet_application_domain.application_id, meet_application_domain.domain",
        "meet_application_domain_application_id_domain_uniq",
    ),
    ("meet_recording.room_id", "unique_initiated_or_active_recording_per_room"),
    ("meet_recording_access.user_id, meet_recording_access.recording_id", "unique_recording_user"),
    ("meet_recording_access.team, meet_recording_access.recording_id", "unique_recording_team"),
    // An expression index is named by SQLite as `index '<name>'`.
    ("index 'unique_email_when_sub_is_null'", "unique_email_when_sub_is_null"),
];

fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_))
}

pub(super) fn map_err(e: sqlx::Error) -> StoreError {
    if is_unavailable(&e) {
        return StoreError::Unavailable(e.to_string());
    }
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() || db.is_check_violation() {
            let name = match db.constraint() {
                Some(c) => c.to_string(),
                None => {
                    let msg = db.message();
                    let cols = msg.rsplit(": ").next().unwrap_or(msg);
                    SQLITE_CONSTRAINTS
                        .iter()
                        .find(|(c, _)| *c == cols)
                        .map(|(_, n)| n.to_string())
                        .unwrap_or_else(|| cols.to_string())
                }
            };
            return StoreError::Conflict(name);
        }
        // PostgreSQL "the database system is shutting down / starting up" and admin shutdowns.
        if matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03" | "53300")) {
            return StoreError::Unavailable(db.message().to_string());
        }
    }
    if matches!(e, sqlx::Error::RowNotFound) {
        return StoreError::NotFound;
    }
    StoreError::Other(e.to_string())
}
