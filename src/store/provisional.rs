//! Provisional users (now-external-api §10): users with a NULL `sub`, known by e-mail only, created
//! by the token endpoint for someone who never logged in; and the row moves that fold duplicate
//! users into one (§11).

use uuid::Uuid;

use super::users::{User, USER_COLUMNS};
use super::{now, Db, StoreError, Tx, Q};

/// Upstream's migration `0019`: two users without `sub` cannot share an e-mail (case-insensitively);
/// users with a `sub` may. The index name is upstream's constraint name.
pub const MIGRATION: &str = r#"
CREATE UNIQUE INDEX unique_email_when_sub_is_null ON meet_user ((LOWER(email))) WHERE sub IS NULL;
"#;

/// Django's unusable password: `!` followed by 40 random characters.
fn unusable_password() -> String {
    format!("!{}", crate::domain::random_token(40))
}

/// Inserts a provisional user (`sub` NULL) for `email`, or nothing when the partial unique index
/// says another provisional user has it already (`INSERT … ON CONFLICT DO NOTHING`: a concurrent
/// request won the race). `None` in that case; the caller re-reads by e-mail.
pub async fn insert(db: &Db, email: &str, language: &str) -> Result<Option<User>, StoreError> {
    let t = now();
    Q::new(format!(
        "INSERT INTO meet_user ({USER_COLUMNS}) VALUES ($1, NULL, $2, NULL, NULL, NULL, $3, 'UTC', true, false, false, \
         false, $4, NULL, $5, $5, NULL, $6) ON CONFLICT DO NOTHING RETURNING {USER_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(email)
    .bind(language)
    .bind(unusable_password())
    .bind(t)
    .bind(serde_json::json!({}))
    .fetch_optional(db)
    .await
}

/// Every user whose e-mail contains `filter` (case-insensitively), grouped by lower-cased e-mail,
/// for the groups of two users or more; NULL and empty e-mails are never grouped (§11.1).
pub async fn duplicate_emails(db: &Db, filter: Option<&str>) -> Result<Vec<String>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        email: String,
    }
    let pattern = format!("%{}%", super::users::like_escape(&filter.unwrap_or("").to_lowercase()));
    let rows: Vec<Row> = Q::new(
        "SELECT LOWER(email) AS email FROM meet_user WHERE email IS NOT NULL AND email <> '' \
         AND LOWER(email) LIKE $1 ESCAPE '\\' GROUP BY LOWER(email) HAVING COUNT(*) > 1 ORDER BY LOWER(email)",
    )
    .bind(pattern)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| r.email).collect())
}

/// The users whose e-mail equals `key` case-insensitively, oldest first (ties by id).
pub async fn users_with_email(db: &Db, key: &str) -> Result<Vec<User>, StoreError> {
    Q::new(format!(
        "SELECT {USER_COLUMNS} FROM meet_user WHERE LOWER(email) = LOWER($1) AND email <> '' ORDER BY created_at, id"
    ))
    .bind(key)
    .fetch_all(db)
    .await
}

/// How many rows of each kind a stale user would hand over (the dry run's figures).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub resource_accesses: u64,
    pub recording_accesses: u64,
    pub files: u64,
}

#[derive(sqlx::FromRow)]
struct CountRow {
    n: i64,
}

/// The rows `user` owns in the tables that are moved by a merge.
pub async fn counts(db: &Db, user: Uuid) -> Result<Counts, StoreError> {
    let count = |table: &'static str, column: &'static str| {
        Q::new(format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = $1")).bind(user).fetch_one::<CountRow>(db)
    };
    Ok(Counts {
        resource_accesses: count("meet_resource_access", "user_id").await?.n as u64,
        recording_accesses: count("meet_recording_access", "user_id").await?.n as u64,
        files: count("\"file\"", "creator_id").await?.n as u64,
    })
}

fn rank(role: &str) -> u8 {
    match role {
        "owner" => 3,
        "administrator" => 2,
        _ => 1,
    }
}

#[derive(sqlx::FromRow)]
struct AccessRow {
    id: Uuid,
    target: Uuid,
    role: String,
}

/// Moves the accesses of `stale` in `table` (keyed by `target_column`) to `kept`: an access to a
/// target `kept` has no access to changes hands; otherwise the higher role wins on `kept`'s row
/// and the stale row is deleted (§11.1 step 5).
async fn move_accesses(
    tx: &mut Tx,
    table: &'static str,
    target_column: &'static str,
    stale: Uuid,
    kept: Uuid,
) -> Result<(), StoreError> {
    let rows: Vec<AccessRow> =
        Q::new(format!("SELECT id, {target_column} AS target, role FROM {table} WHERE user_id = $1 ORDER BY id"))
            .bind(stale)
            .fetch_all(&mut *tx)
            .await?;
    for row in rows {
        let existing: Option<AccessRow> = Q::new(format!(
            "SELECT id, {target_column} AS target, role FROM {table} WHERE user_id = $1 AND {target_column} = $2"
        ))
        .bind(kept)
        .bind(row.target)
        .fetch_optional(&mut *tx)
        .await?;
        match existing {
            None => {
                Q::new(format!("UPDATE {table} SET user_id = $1, updated_at = $2 WHERE id = $3"))
                    .bind(kept)
                    .bind(now())
                    .bind(row.id)
                    .execute(&mut *tx)
                    .await?;
            }
            Some(mine) => {
                if rank(&row.role) > rank(&mine.role) {
                    Q::new(format!("UPDATE {table} SET role = $1, updated_at = $2 WHERE id = $3"))
                        .bind(row.role.clone())
                        .bind(now())
                        .bind(mine.id)
                        .execute(&mut *tx)
                        .await?;
                }
                Q::new(format!("DELETE FROM {table} WHERE id = $1")).bind(row.id).execute(&mut *tx).await?;
            }
        }
    }
    Ok(())
}

/// Folds `stale` into `kept` inside `tx`. Every table that references `meet_user` is named here
/// (W32): room accesses and recording accesses move, files change creator (their foreign key
/// would refuse the deletion), sessions of the stale user end, then the user row goes.
pub async fn fold(tx: &mut Tx, stale: Uuid, kept: Uuid) -> Result<(), StoreError> {
    move_accesses(tx, "meet_resource_access", "resource_id", stale, kept).await?;
    move_accesses(tx, "meet_recording_access", "recording_id", stale, kept).await?;
    Q::new("UPDATE \"file\" SET creator_id = $1, updated_at = $2 WHERE creator_id = $3")
        .bind(kept)
        .bind(now())
        .bind(stale)
        .execute(&mut *tx)
        .await?;
    Q::new("DELETE FROM meet_session WHERE user_id = $1").bind(stale).execute(&mut *tx).await?;
    let n = Q::new("DELETE FROM meet_user WHERE id = $1").bind(stale).execute(&mut *tx).await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Lower-cases the e-mail of `user` (the kept user of a merged group) inside `tx`.
pub async fn lowercase_email(tx: &mut Tx, user: Uuid) -> Result<(), StoreError> {
    Q::new("UPDATE meet_user SET email = LOWER(email), updated_at = $1 WHERE id = $2 AND email <> LOWER(email)")
        .bind(now())
        .bind(user)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
