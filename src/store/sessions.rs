//! `meet_session`: server-side sessions when no Redis is configured (the single binary), so that
//! a restart logs nobody out.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::users::{User, USER_COLUMNS};
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

#[derive(sqlx::FromRow)]
struct SessionUserRow {
    session_data: String,
    #[sqlx(flatten)]
    user: User,
}

/// The session's data and its logged-in user, in one query; `None` when the session does not
/// exist, has expired, or has no user.
pub async fn load_with_user(db: &Db, key: &str) -> Result<Option<(String, User)>, StoreError> {
    let user_columns: Vec<String> = USER_COLUMNS.split(',').map(|c| format!("u.{}", c.trim())).collect();
    let row: Option<SessionUserRow> = Q::new(format!(
        "SELECT s.session_data, {} FROM meet_session s JOIN meet_user u ON u.id = s.user_id \
         WHERE s.session_key = $1 AND s.expire_date > $2",
        user_columns.join(", ")
    ))
    .bind(key)
    .bind(now())
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.session_data, r.user)))
}

/// Writes a session; `user_id` is the logged-in user named by its data, if any.
pub async fn save(
    db: &Db,
    key: &str,
    data: &str,
    user_id: Option<Uuid>,
    expire: DateTime<Utc>,
) -> Result<(), StoreError> {
    Q::new(
        "INSERT INTO meet_session (session_key, session_data, user_id, expire_date) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (session_key) DO UPDATE SET session_data = excluded.session_data, \
         user_id = excluded.user_id, expire_date = excluded.expire_date",
    )
    .bind(key)
    .bind(data)
    .bind(user_id)
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

/// The keys of the unexpired sessions logged in as `user`.
pub async fn keys_of_user(db: &Db, user: Uuid) -> Result<Vec<String>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct KeyRow {
        session_key: String,
    }
    let rows: Vec<KeyRow> =
        Q::new("SELECT session_key FROM meet_session WHERE user_id = $1 AND expire_date > $2 ORDER BY session_key")
            .bind(user)
            .bind(now())
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(|r| r.session_key).collect())
}
