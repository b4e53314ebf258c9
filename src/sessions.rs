//! Server-side sessions (users-auth-rooms §4.2): a random key in the `sessionid` cookie, JSON data
//! on the server for 12 hours. Stored in Redis when `REDIS_URL` is set (shared by every
//! instance), otherwise in the database (the single binary keeps them across restarts).

pub mod cache;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::cache::{Cache, Signal};
use crate::error::ApiError;
use crate::store::users::User;
use crate::store::{self, Db};
use cache::{AuthCache, Invalidation};

/// `SESSION_COOKIE_AGE`: 12 hours, set each time the session is saved.
pub const SESSION_AGE: Duration = Duration::from_secs(43_200);
/// Session key holding the logged-in user's id (Django's name).
pub const USER_ID_KEY: &str = "_auth_user_id";

pub type SessionData = Map<String, Value>;

#[derive(Clone)]
pub struct Sessions {
    db: Db,
    cache: Cache,
    /// The in-process copy of recently read sessions ([`cache`]).
    recent: Arc<AuthCache>,
}

/// The cache channel on which session and user changes are announced to every instance.
pub const INVALIDATION_CHANNEL: &str = "invalidate:auth";

fn cache_key(key: &str) -> String {
    format!("session:{key}")
}

/// True when `key` can be a session key of ours (so garbage cookies cost no lookup).
pub fn valid_key(key: &str) -> bool {
    (8..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Sessions {
    /// `recent_ttl`: how long a read session may be served from memory (`MEET_SESSION_CACHE_TTL`;
    /// zero: never). The copy is used only once [`Sessions::listen`] runs.
    pub fn new(db: Db, cache: Cache, recent_ttl: Duration) -> Sessions {
        Sessions { db, cache, recent: Arc::new(AuthCache::new(recent_ttl)) }
    }

    /// Starts applying the invalidations announced by every instance (the server does; one-shot
    /// commands only announce). Until then, and while the channel is down, nothing is served
    /// from memory.
    pub fn listen(&self) -> Option<tokio::task::JoinHandle<()>> {
        if !self.recent.enabled() {
            return None;
        }
        let recent = self.recent.clone();
        Some(self.cache.listen(INVALIDATION_CHANNEL, move |signal| match signal {
            Signal::Listening => recent.go_live(),
            Signal::Deaf => recent.go_dark(),
            Signal::Message(raw) => match Invalidation::decode(&raw) {
                Some(what) => recent.invalidate(&what),
                None => tracing::debug!(message = raw.as_str(), "unknown invalidation ignored"),
            },
        }))
    }

    /// An announcement of `what`, made when it is [`Announcement::send`]-ed or dropped (a request
    /// cancelled after its write still announces it). Take it before the write.
    pub fn announcement(&self, what: Invalidation) -> Announcement {
        Announcement { recent: self.recent.clone(), cache: self.cache.clone(), what: Some(what) }
    }

    /// To be called after a change of the row of `user` is committed (profile, flags, merge,
    /// deletion): every instance reads it again on its next request.
    pub async fn user_changed(&self, user: Uuid) {
        self.announcement(Invalidation::User(user)).send().await;
    }

    /// [`Sessions::user_changed`] as a guard to take before the change (see [`Announcement`]).
    pub fn user_changing(&self, user: Uuid) -> Announcement {
        self.announcement(Invalidation::User(user))
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
        let ticket = match self.recent.get(key) {
            Ok(hit) => return Ok(Some(hit)),
            Err(ticket) => ticket,
        };
        let found = self.read_with_user(key).await?;
        if let (Some(ticket), Some((data, user))) = (ticket, &found) {
            self.recent.put(ticket, key, data, user);
        }
        Ok(found)
    }

    async fn read_with_user(&self, key: &str) -> Result<Option<(SessionData, User)>, ApiError> {
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
        let announcement = self.announcement(Invalidation::Session(key.to_string()));
        self.write(key, data).await?;
        announcement.send().await;
        Ok(())
    }

    async fn write(&self, key: &str, data: &SessionData) -> Result<(), ApiError> {
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
        // A new key: nobody can hold a copy of it.
        self.write(&key, &data).await?;
        Ok(key)
    }

    pub async fn delete(&self, key: &str) -> Result<(), ApiError> {
        if !valid_key(key) {
            return Ok(());
        }
        let announcement = self.announcement(Invalidation::Session(key.to_string()));
        if self.cache.is_redis() {
            self.cache.delete(&cache_key(key)).await?;
        } else {
            store::sessions::delete(&self.db, key).await?;
        }
        announcement.send().await;
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

/// A change of a session or a user, to forget here and announce to the other instances. Sent
/// explicitly once the change is written ([`Announcement::send`] waits for the publication), or
/// when dropped (then the publication runs as a task of its own), so that a request cancelled
/// between its write and its announcement still announces. Announcing a change that did not
/// happen costs one extra read.
pub struct Announcement {
    recent: Arc<AuthCache>,
    cache: Cache,
    what: Option<Invalidation>,
}

impl Announcement {
    pub async fn send(mut self) {
        if let Some(what) = self.what.take() {
            announce(&self.recent, &self.cache, what).await;
        }
    }
}

impl Drop for Announcement {
    fn drop(&mut self) {
        let Some(what) = self.what.take() else { return };
        self.recent.invalidate(&what);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (recent, cache) = (self.recent.clone(), self.cache.clone());
            rt.spawn(async move { announce(&recent, &cache, what).await });
        }
    }
}

/// Forgets `what` here and tells the other instances. A failed publication is logged: the others
/// then see the change when their copy expires (`MEET_SESSION_CACHE_TTL`).
async fn announce(recent: &AuthCache, cache: &Cache, what: Invalidation) {
    recent.invalidate(&what);
    // Published even when this process keeps no copy (a command): running servers may.
    if let Err(e) = cache.publish(INVALIDATION_CHANNEL, &what.encode()).await {
        tracing::warn!(error = %e, "could not announce a session or user change to the other instances");
    }
}
