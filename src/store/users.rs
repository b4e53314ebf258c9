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
    is_active, is_staff, is_superuser, is_device, password, last_login, created_at, updated_at";

pub async fn create(db: &Db, new: NewUser, default_language: &str) -> Result<User, StoreError> {
    let t = now();
    Q::new(format!(
        "INSERT INTO meet_user ({USER_COLUMNS}) VALUES ($1, $2, $3, NULL, $4, $5, $6, 'UTC', $7, false, false, false, '!', NULL, $8, $8) RETURNING {USER_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.sub)
    .bind(new.email)
    .bind(new.full_name)
    .bind(new.short_name)
    .bind(new.language.unwrap_or_else(|| default_language.to_string()))
    .bind(new.is_active.unwrap_or(true))
    .bind(t)
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
