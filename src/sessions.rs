//! Server-side sessions (users-auth-rooms §4.2): a random key in the `sessionid` cookie, JSON data
//! on the server for 12 hours. Stored in Redis when `REDIS_URL` is set (shared by every
//! instance), otherwise in the database (the single binary keeps them across restarts).

use std::time::Duration;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::cache::Cache;
use crate::error::ApiError;
use crate::store::users::User;
use crate::store::{self, Db};

/// `SESSION_COOKIE_AGE`: 12 hours, set each time the session is saved.
pub const SESSION_AGE: Duration = Duration::from_secs(43_200);
/// Session key holding the logged-in user's id (Django's name).
pub const USER_ID_KEY: &str = "_auth_user_id";

pub type SessionData = Map<String, Value>;

#[derive(Clone)]
pub struct Sessions {
    db: Db,
    cache: Cache,
}

fn cache_key(key: &str) -> String {
    format!("session:{key}")
}

/// True when `key` can be a session key of ours (so garbage cookies cost no lookup).
pub fn valid_key(key: &str) -> bool {
    (8..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Sessions {
    pub fn new(db: Db, cache: Cache) -> Sessions {
        Sessions { db, cache }
    }

    pub async fn load(&self, key: &str) -> Result<Option<SessionData>, ApiError> {
        if !valid_key(key) {
            return Ok(None);
        }
        let raw = if self.cache.is_redis() {
            self.cache.get(&cache_key(key)).await?
        } else {
            store::sessions::load(&self.db, key).await?
        };
        Ok(raw.and_then(|r| serde_json::from_str::<SessionData>(&r).ok()))
    }

    /// The session's data and its logged-in user (active or not), if any: one query on the
    /// database, a Redis read then a user query with Redis.
    pub async fn load_with_user(&self, key: &str) -> Result<Option<(SessionData, User)>, ApiError> {
        if !valid_key(key) {
            return Ok(None);
        }
        if !self.cache.is_redis() {
            let Some((raw, user)) = store::sessions::load_with_user(&self.db, key).await? else { return Ok(None) };
            // The column mirrors the data; the data stays the authority.
            return Ok(serde_json::from_str::<SessionData>(&raw)
                .ok()
                .filter(|d| user_id(d) == Some(user.id))
                .map(|d| (d, user)));
        }
        let Some(data) = self.load(key).await? else { return Ok(None) };
        let Some(id) = user_id(&data) else { return Ok(None) };
        Ok(store::users::get(&self.db, id).await?.map(|u| (data, u)))
    }

    /// Writes the session and restarts its 12-hour lifetime.
    pub async fn save(&self, key: &str, data: &SessionData) -> Result<(), ApiError> {
        let raw = Value::Object(data.clone()).to_string();
        if self.cache.is_redis() {
            self.cache.set(&cache_key(key), &raw, Some(SESSION_AGE)).await?;
            // The user's sessions, for back-channel logout (now-external-api W46).
            if let Some(user) = user_id(data) {
                let score = chrono::Utc::now().timestamp();
                self.cache.index_add(&user_index(user), key, score, Some(SESSION_AGE)).await?;
            }
        } else {
            let expire = store::now() + chrono::Duration::from_std(SESSION_AGE).unwrap_or_default();
            store::sessions::save(&self.db, key, &raw, user_id(data), expire).await?;
        }
        Ok(())
    }

    /// Creates a session for `user_id` (a login); returns its key.
    pub async fn create_for_user(&self, user_id: Uuid, mut data: SessionData) -> Result<String, ApiError> {
        let key = crate::domain::random_session_key();
        data.insert(USER_ID_KEY.into(), Value::String(user_id.to_string()));
        self.save(&key, &data).await?;
        Ok(key)
    }

    pub async fn delete(&self, key: &str) -> Result<(), ApiError> {
        if !valid_key(key) {
            return Ok(());
        }
        if self.cache.is_redis() {
            self.cache.delete(&cache_key(key)).await?;
        } else {
            store::sessions::delete(&self.db, key).await?;
        }
        Ok(())
    }
}

impl Sessions {
    /// The keys of the live sessions logged in as `user` (back-channel logout, W46).
    pub async fn keys_of_user(&self, user: Uuid) -> Result<Vec<String>, ApiError> {
        if self.cache.is_redis() {
            let mut live = Vec::new();
            for key in self.cache.index_members(&user_index(user)).await? {
                if self.load(&key).await?.is_some_and(|d| user_id(&d) == Some(user)) {
                    live.push(key);
                }
            }
            Ok(live)
        } else {
            Ok(store::sessions::keys_of_user(&self.db, user).await?)
        }
    }
}

fn user_index(user: Uuid) -> String {
    format!("session_user:{user}")
}

/// The user id a session is logged in as, if any.
pub fn user_id(data: &SessionData) -> Option<Uuid> {
    data.get(USER_ID_KEY)?.as_str()?.parse().ok()
}
