//! `meet_session`: server-side sessions when no Redis is configured (the single binary), so that
//! a restart logs nobody out.

use chrono::{DateTime, Utc};

use super::{now, Db, StoreError, Q};

#[derive(sqlx::FromRow)]
struct SessionRow {
    session_data: String,
}

/// The session's JSON data, if it exists and has not expired.
pub async fn load(db: &Db, key: &str) -> Result<Option<String>, StoreError> {
    let row: Option<SessionRow> =
        Q::new("SELECT session_data FROM meet_session WHERE session_key = $1 AND expire_date > $2")
            .bind(key)
            .bind(now())
            .fetch_optional(db)
            .await?;
    Ok(row.map(|r| r.session_data))
}

pub async fn save(db: &Db, key: &str, data: &str, expire: DateTime<Utc>) -> Result<(), StoreError> {
    Q::new(
        "INSERT INTO meet_session (session_key, session_data, expire_date) VALUES ($1, $2, $3) \
         ON CONFLICT (session_key) DO UPDATE SET session_data = excluded.session_data, expire_date = excluded.expire_date",
    )
    .bind(key)
    .bind(data)
    .bind(expire)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete(db: &Db, key: &str) -> Result<(), StoreError> {
    Q::new("DELETE FROM meet_session WHERE session_key = $1").bind(key).execute(db).await?;
    Ok(())
}

/// Removes expired sessions; returns how many.
pub async fn purge_expired(db: &Db) -> Result<u64, StoreError> {
    Q::new("DELETE FROM meet_session WHERE expire_date <= $1").bind(now()).execute(db).await
}
