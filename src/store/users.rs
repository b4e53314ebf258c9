//! `meet_user`: rows, creation and lookups.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{now, Db, StoreError, Q};

/// A row of `meet_user`.
#[derive(Clone, Debug, sqlx::FromRow, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub sub: Option<String>,
    pub email: Option<String>,
    pub admin_email: Option<String>,
    pub full_name: Option<String>,
    pub short_name: Option<String>,
    pub language: String,
    pub timezone: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub is_device: bool,
    pub password: String,
    pub last_login: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Access level of the rooms this user creates (`public`, `trusted`, `restricted`; NULL or
    /// `""`: the instance default). now-rooms §2.2.
    pub default_room_access_level: Option<String>,
    /// Configuration of the rooms this user creates (`{}`: none).
    pub default_room_configuration: sqlx::types::Json<serde_json::Value>,
}

impl User {
    /// Display string (users-auth-rooms §3.2): e-mail, else admin e-mail, else the id.
    pub fn display(&self) -> String {
        self.email.clone().or_else(|| self.admin_email.clone()).unwrap_or_else(|| self.id.to_string())
    }
}

/// What is needed to create a user; the rest takes the model defaults.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub sub: Option<String>,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub short_name: Option<String>,
    pub language: Option<String>,
    pub is_active: Option<bool>,
}

pub const USER_COLUMNS: &str = "id, sub, email, admin_email, full_name, short_name, language, timezone, \
    is_active, is_staff, is_superuser, is_device, password, last_login, created_at, updated_at, \
    default_room_access_level, default_room_configuration";

pub async fn create(db: &Db, new: NewUser, default_language: &str) -> Result<User, StoreError> {
    let t = now();
    Q::new(format!(
        "INSERT INTO meet_user ({USER_COLUMNS}) VALUES ($1, $2, $3, NULL, $4, $5, $6, 'UTC', $7, false, false, false, $10, NULL, $8, $8, NULL, $9) RETURNING {USER_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.sub)
    .bind(new.email)
    .bind(new.full_name)
    .bind(new.short_name)
    .bind(new.language.unwrap_or_else(|| default_language.to_string()))
    .bind(new.is_active.unwrap_or(true))
    .bind(t)
    .bind(serde_json::json!({}))
    // Django's unusable password at upstream HEAD: `!` and 40 random characters (NO-OIDC-6).
    .bind(format!("!{}", crate::domain::random_token(40)))
    .fetch_one(db)
    .await
}

pub async fn get(db: &Db, id: Uuid) -> Result<Option<User>, StoreError> {
    Q::new(format!("SELECT {USER_COLUMNS} FROM meet_user WHERE id = $1")).bind(id).fetch_optional(db).await
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Users newest first, optionally only those whose e-mail contains `q` (case-insensitive),
/// with the total count: one page of the user directory.
pub async fn list(db: &Db, q: Option<&str>, offset: u64, limit: u64) -> Result<(u64, Vec<User>), StoreError> {
    #[derive(sqlx::FromRow)]
    struct Count {
        n: i64,
    }
    let (filter, pattern) = match q.filter(|s| !s.is_empty()) {
        Some(q) => ("WHERE LOWER(email) LIKE $1 ESCAPE '\\'", Some(format!("%{}%", like_escape(&q.to_lowercase())))),
        None => ("WHERE $1 IS NULL", None),
    };
    let count: Count =
        Q::new(format!("SELECT COUNT(*) AS n FROM meet_user {filter}")).bind(pattern.clone()).fetch_one(db).await?;
    let rows = Q::new(format!(
        "SELECT {USER_COLUMNS} FROM meet_user {filter} ORDER BY created_at DESC, id LIMIT $2 OFFSET $3"
    ))
    .bind(pattern)
    .bind(limit as i64)
    .bind(offset as i64)
    .fetch_all(db)
    .await?;
    Ok((count.n as u64, rows))
}

/// The user whose `sub` is exactly `sub`.
pub async fn get_by_sub(db: &Db, sub: &str) -> Result<Option<User>, StoreError> {
    Q::new(format!("SELECT {USER_COLUMNS} FROM meet_user WHERE sub = $1")).bind(sub).fetch_optional(db).await
}

/// Up to `limit` users whose e-mail equals `email` ignoring case (users-auth-rooms §4.5 step 4).
pub async fn find_by_email_ci(db: &Db, email: &str, limit: i64) -> Result<Vec<User>, StoreError> {
    Q::new(format!("SELECT {USER_COLUMNS} FROM meet_user WHERE LOWER(email) = LOWER($1) ORDER BY created_at LIMIT $2"))
        .bind(email)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// New values of the claims kept on the user (`None`: unchanged).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClaimsUpdate {
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub short_name: Option<String>,
}

impl ClaimsUpdate {
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.full_name.is_none() && self.short_name.is_none()
    }
}

/// Writes the changed claims of ONE user, by primary key (S11 fixed), in one statement.
pub async fn update_claims(db: &Db, id: Uuid, update: ClaimsUpdate) -> Result<(), StoreError> {
    if update.is_empty() {
        return Ok(());
    }
    Q::new(
        "UPDATE meet_user SET email = COALESCE($1, email), full_name = COALESCE($2, full_name), \
         short_name = COALESCE($3, short_name), updated_at = $4 WHERE id = $5",
    )
    .bind(update.email)
    .bind(update.full_name)
    .bind(update.short_name)
    .bind(now())
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Stores `sub` on a user found through the e-mail fallback whose `sub` is still NULL or empty
/// (S11; a provisional user adopted at its first login, now-external-api §10.3, W27).
pub async fn set_sub_if_null(db: &Db, id: Uuid, sub: &str) -> Result<(), StoreError> {
    Q::new("UPDATE meet_user SET sub = $1, updated_at = $2 WHERE id = $3 AND (sub IS NULL OR sub = '')")
        .bind(sub)
        .bind(now())
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a login.
pub async fn touch_last_login(db: &Db, id: Uuid) -> Result<(), StoreError> {
    Q::new("UPDATE meet_user SET last_login = $1 WHERE id = $2").bind(now()).bind(id).execute(db).await?;
    Ok(())
}

/// The preferences a user may write about themself (now-rooms §13.2); `None`: unchanged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PreferencesUpdate {
    pub timezone: Option<String>,
    pub language: Option<String>,
    /// `Some(None)` stores NULL.
    pub default_room_access_level: Option<Option<String>>,
    pub default_room_configuration: Option<serde_json::Value>,
}

/// Writes the given preferences of one user and returns the row as stored.
pub async fn update_preferences(db: &Db, id: Uuid, update: PreferencesUpdate) -> Result<User, StoreError> {
    let level_given = update.default_room_access_level.is_some();
    Q::new(format!(
        "UPDATE meet_user SET timezone = COALESCE($1, timezone), language = COALESCE($2, language), \
         default_room_access_level = CASE WHEN $3 THEN $4 ELSE default_room_access_level END, \
         default_room_configuration = CASE WHEN $5 THEN $6 ELSE default_room_configuration END, \
         updated_at = $7 WHERE id = $8 RETURNING {USER_COLUMNS}"
    ))
    .bind(update.timezone)
    .bind(update.language)
    .bind(level_given)
    .bind(update.default_room_access_level.flatten())
    .bind(update.default_room_configuration.is_some())
    .bind(update.default_room_configuration.unwrap_or(serde_json::Value::Null))
    .bind(now())
    .bind(id)
    .fetch_one(db)
    .await
}
