//! A short-lived in-process copy of "session key → session data + logged-in user", so that a
//! session request does not pay a cache read and a user query each time (performance issue).
//!
//! Correctness rules:
//! - An entry lives at most `MEET_SESSION_CACHE_TTL` seconds (default 5; 0 turns the copy off).
//! - Every change of a session (save, delete) or of a user row evicts the matching entries here at
//!   once and is broadcast to the other instances (Redis pub/sub, [`crate::cache::Cache::publish`]);
//!   each instance evicts on receipt.
//! - A read that started before an eviction never stores its (possibly older) result: every eviction
//!   advances an epoch, and a result is kept only if the epoch did not move while it was read.
//! - With Redis, the copy is used only while this instance is subscribed to the invalidations: when
//!   the subscription drops, the copy is emptied and bypassed until it is back (a message published
//!   meanwhile would be lost). The TTL bounds what a change made where no message can reach us
//!   (another process on an embedded database, e.g. `meet admin`) takes to be seen.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::SessionData;
use crate::store::users::User;

/// At most this many sessions are kept; past it, expired entries go, then everything.
const CAPACITY: usize = 20_000;

/// What one invalidation names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalidation {
    Session(String),
    User(Uuid),
}

impl Invalidation {
    /// The wire form on the invalidation channel: `s:<key>` or `u:<uuid>`.
    pub fn encode(&self) -> String {
        match self {
            Invalidation::Session(k) => format!("s:{k}"),
            Invalidation::User(id) => format!("u:{id}"),
        }
    }

    pub fn decode(raw: &str) -> Option<Invalidation> {
        match raw.split_once(':')? {
            ("s", k) if super::valid_key(k) => Some(Invalidation::Session(k.to_string())),
            ("u", id) => id.parse().ok().map(Invalidation::User),
            _ => None,
        }
    }
}

#[derive(Clone)]
struct Entry {
    data: SessionData,
    user: User,
    stored: Instant,
}

struct Inner {
    entries: HashMap<String, Entry>,
    epoch: u64,
    /// False while invalidations cannot reach this instance (or before they can).
    live: bool,
}

/// The in-process copy; see the module documentation.
pub struct AuthCache {
    ttl: Duration,
    inner: Mutex<Inner>,
}

/// A read in progress: the epoch it started at.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

impl AuthCache {
    pub fn new(ttl: Duration) -> AuthCache {
        AuthCache { ttl, inner: Mutex::new(Inner { entries: HashMap::new(), epoch: 0, live: false }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the map inconsistent (each change is one
        // map operation), so a poisoned lock is used as is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The cached session and user, or a ticket to store what the caller reads instead.
    pub fn get(&self, key: &str) -> Result<(SessionData, User), Option<Ticket>> {
        if !self.enabled() {
            return Err(None);
        }
        let inner = self.lock();
        if !inner.live {
            return Err(None);
        }
        match inner.entries.get(key) {
            Some(e) if e.stored.elapsed() < self.ttl => Ok((e.data.clone(), e.user.clone())),
            _ => Err(Some(Ticket(inner.epoch))),
        }
    }

    /// Keeps what was read under `ticket`, unless something was invalidated meanwhile.
    pub fn put(&self, ticket: Ticket, key: &str, data: &SessionData, user: &User) {
        let mut inner = self.lock();
        if !inner.live || inner.epoch != ticket.0 {
            return;
        }
        if inner.entries.len() >= CAPACITY && !inner.entries.contains_key(key) {
            let ttl = self.ttl;
            inner.entries.retain(|_, e| e.stored.elapsed() < ttl);
            if inner.entries.len() >= CAPACITY {
                inner.entries.clear();
            }
        }
        inner.entries.insert(key.to_string(), Entry { data: data.clone(), user: user.clone(), stored: Instant::now() });
    }

    /// Evicts what `what` names and makes reads in flight forget their result.
    pub fn invalidate(&self, what: &Invalidation) {
        let mut inner = self.lock();
        inner.epoch += 1;
        match what {
            Invalidation::Session(key) => {
                inner.entries.remove(key);
            }
            Invalidation::User(id) => inner.entries.retain(|_, e| e.user.id != *id),
        }
    }

    /// The invalidation channel is (again) listened to: start from nothing.
    pub fn go_live(&self) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.clear();
        inner.live = true;
    }

    /// Invalidations may be missed from now on: drop everything and stop using the copy.
    pub fn go_dark(&self) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.clear();
        inner.live = false;
    }

    /// How many sessions are held (tests, metrics).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: Uuid) -> User {
        let t = chrono::Utc::now();
        User {
            id,
            sub: None,
            email: None,
            admin_email: None,
            full_name: None,
            short_name: None,
            language: "en-us".into(),
            timezone: "UTC".into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            is_device: false,
            password: String::new(),
            last_login: None,
            created_at: t,
            updated_at: t,
            default_room_access_level: None,
            default_room_configuration: sqlx::types::Json(serde_json::json!({})),
        }
    }

    fn live(ttl_secs: u64) -> AuthCache {
        let c = AuthCache::new(Duration::from_secs(ttl_secs));
        c.go_live();
        c
    }

    #[test]
    fn a_stored_read_is_served_until_invalidated() {
        let c = live(60);
        let u = user(Uuid::new_v4());
        let t = c.get("key1key1").unwrap_err().unwrap();
        c.put(t, "key1key1", &SessionData::new(), &u);
        assert_eq!(c.get("key1key1").unwrap().1.id, u.id);
        c.invalidate(&Invalidation::Session("key1key1".into()));
        assert!(c.get("key1key1").is_err());
    }

    #[test]
    fn a_read_that_overlapped_an_invalidation_is_not_kept() {
        let c = live(60);
        let u = user(Uuid::new_v4());
        let t = c.get("key1key1").unwrap_err().unwrap();
        // Another instance changed the user while this read was in flight.
        c.invalidate(&Invalidation::User(u.id));
        c.put(t, "key1key1", &SessionData::new(), &u);
        assert!(c.is_empty());
    }

    #[test]
    fn a_user_invalidation_evicts_every_session_of_that_user_only() {
        let c = live(60);
        let (a, b) = (user(Uuid::new_v4()), user(Uuid::new_v4()));
        for (k, u) in [("sessionA1", &a), ("sessionA2", &a), ("sessionB1", &b)] {
            let t = c.get(k).unwrap_err().unwrap();
            c.put(t, k, &SessionData::new(), u);
        }
        c.invalidate(&Invalidation::User(a.id));
        assert!(c.get("sessionA1").is_err() && c.get("sessionA2").is_err());
        assert_eq!(c.get("sessionB1").unwrap().1.id, b.id);
    }

    #[test]
    fn nothing_is_used_before_going_live_or_after_going_dark() {
        let c = AuthCache::new(Duration::from_secs(60));
        assert!(matches!(c.get("key1key1"), Err(None)));
        c.go_live();
        let t = c.get("key1key1").unwrap_err().unwrap();
        c.go_dark();
        c.put(t, "key1key1", &SessionData::new(), &user(Uuid::new_v4()));
        assert!(matches!(c.get("key1key1"), Err(None)) && c.is_empty());
    }

    #[test]
    fn a_zero_ttl_turns_the_copy_off() {
        let c = live(0);
        assert!(matches!(c.get("key1key1"), Err(None)));
    }

    #[test]
    fn an_expired_entry_is_read_again() {
        let c = AuthCache::new(Duration::from_millis(1));
        c.go_live();
        let t = c.get("key1key1").unwrap_err().unwrap();
        c.put(t, "key1key1", &SessionData::new(), &user(Uuid::new_v4()));
        std::thread::sleep(Duration::from_millis(5));
        assert!(matches!(c.get("key1key1"), Err(Some(_))));
    }

    #[test]
    fn invalidations_round_trip_on_the_wire() {
        let id = Uuid::new_v4();
        for inv in [Invalidation::Session("abcdefgh12".into()), Invalidation::User(id)] {
            assert_eq!(Invalidation::decode(&inv.encode()), Some(inv));
        }
        assert_eq!(Invalidation::decode("s:bad key"), None);
        assert_eq!(Invalidation::decode("x:1"), None);
        assert_eq!(Invalidation::decode("nothing"), None);
    }
}
