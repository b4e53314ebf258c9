//! `meet_application` and `meet_application_domain` (now-external-api §4.1, §4.2): the
//! third-party applications of the external API and the e-mail domains they may act for.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{now, Db, StoreError, StrList, Q};

/// Upstream's migrations `0015` (with `active` renamed `is_active` by `0018`). The scopes are a
/// `varchar(50)[]` on PostgreSQL and a JSON array on SQLite. Deleting an application deletes its
/// domains ([`delete`] does it explicitly: upstream's foreign key has no `ON DELETE`).
pub const MIGRATION: &str = r#"
CREATE TABLE meet_application (
    id {uuid} PRIMARY KEY,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    name varchar(255) NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    client_id varchar(100) NOT NULL,
    client_secret varchar(255) NOT NULL,
    scopes {strarray} NOT NULL DEFAULT {empty_strarray}
);
CREATE UNIQUE INDEX meet_application_client_id_key ON meet_application (client_id);
CREATE TABLE meet_application_domain (
    id {uuid} PRIMARY KEY,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    domain varchar(253) NOT NULL,
    application_id {uuid} NOT NULL REFERENCES meet_application (id)
);
CREATE INDEX meet_application_domain_application_id_idx ON meet_application_domain (application_id);
CREATE UNIQUE INDEX meet_application_domain_application_id_domain_uniq ON meet_application_domain (application_id, domain);
"#;

/// A row of `meet_application`.
#[derive(Clone, Debug, sqlx::FromRow, PartialEq)]
pub struct Application {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub name: String,
    pub is_active: bool,
    pub client_id: String,
    /// The hashed secret (`pbkdf2_sha256$…`), never the secret itself.
    pub client_secret: String,
    /// Granted scopes, in stored order.
    pub scopes: StrList,
}

const COLUMNS: &str = "id, created_at, updated_at, name, is_active, client_id, client_secret, scopes";

/// What is needed to create an application; `client_secret` must already be hashed.
#[derive(Clone, Debug)]
pub struct NewApplication {
    pub name: String,
    pub client_id: String,
    pub client_secret_hash: String,
    pub scopes: Vec<String>,
    pub is_active: bool,
    /// Normalised domains (lower-cased, trimmed, validated by the caller).
    pub domains: Vec<String>,
}

/// Inserts an application and its domains in one transaction.
pub async fn create(db: &Db, new: NewApplication) -> Result<Application, StoreError> {
    let t = now();
    let mut tx = db.begin().await?;
    let app: Application = Q::new(format!(
        "INSERT INTO meet_application ({COLUMNS}) VALUES ($1, $2, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(t)
    .bind(new.name)
    .bind(new.is_active)
    .bind(new.client_id)
    .bind(new.client_secret_hash)
    .bind(new.scopes)
    .fetch_one(&mut tx)
    .await?;
    for domain in new.domains {
        Q::new(
            "INSERT INTO meet_application_domain (id, created_at, updated_at, domain, application_id) VALUES ($1, $2, $2, $3, $4)",
        )
        .bind(Uuid::new_v4())
        .bind(t)
        .bind(domain)
        .bind(app.id)
        .execute(&mut tx)
        .await?;
    }
    tx.commit().await?;
    Ok(app)
}

/// The application whose `client_id` is exactly `client_id` (case-sensitive).
pub async fn get_by_client_id(db: &Db, client_id: &str) -> Result<Option<Application>, StoreError> {
    Q::new(format!("SELECT {COLUMNS} FROM meet_application WHERE client_id = $1"))
        .bind(client_id)
        .fetch_optional(db)
        .await
}

/// The allowed e-mail domains of an application, by domain.
pub async fn domains(db: &Db, application_id: Uuid) -> Result<Vec<String>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        domain: String,
    }
    let rows: Vec<Row> = Q::new("SELECT domain FROM meet_application_domain WHERE application_id = $1 ORDER BY domain")
        .bind(application_id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| r.domain).collect())
}

/// Sets the active flag (operators; tests).
pub async fn set_active(db: &Db, id: Uuid, is_active: bool) -> Result<(), StoreError> {
    Q::new("UPDATE meet_application SET is_active = $1, updated_at = $2 WHERE id = $3")
        .bind(is_active)
        .bind(now())
        .bind(id)
        .execute(db)
        .await
        .map(|_| ())
}

/// Replaces the stored secret hash (a rotated secret: the old one stops working at once).
pub async fn set_secret_hash(db: &Db, id: Uuid, hash: &str) -> Result<(), StoreError> {
    Q::new("UPDATE meet_application SET client_secret = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now())
        .bind(id)
        .execute(db)
        .await
        .map(|_| ())
}

/// Deletes an application and its domains.
pub async fn delete(db: &Db, id: Uuid) -> Result<u64, StoreError> {
    let mut tx = db.begin().await?;
    Q::new("DELETE FROM meet_application_domain WHERE application_id = $1").bind(id).execute(&mut tx).await?;
    let n = Q::new("DELETE FROM meet_application WHERE id = $1").bind(id).execute(&mut tx).await?;
    tx.commit().await?;
    Ok(n)
}
