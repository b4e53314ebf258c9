//! The in-process cache: a map under one lock, with expiry. Each public operation holds the lock
//! for its whole read-decide-write, which is what makes it atomic.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Memory {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    values: HashMap<String, Entry>,
    /// Sliding windows: the window's length and the accepted request times in it.
    windows: HashMap<String, (Duration, VecDeque<Instant>)>,
    indexes: HashMap<String, Index>,
    writes: u64,
    last_purge: Option<Instant>,
}

/// A scored set (the in-process twin of a Redis sorted set), with an expiry of its own.
struct Index {
    members: HashMap<String, i64>,
    expires: Option<Instant>,
}

struct Entry {
    value: String,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

impl Inner {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        if self.values.get(key).is_some_and(|e| !e.live(now)) {
            self.values.remove(key);
        }
        self.values.get_mut(key)
    }

    /// Every 1,024 writes, and at most every 5 seconds, drops expired entries so that an idle
    /// key cannot live forever (the sweep is linear in the map, so it is kept rare).
    fn wrote(&mut self, now: Instant) {
        self.writes += 1;
        let due = self.last_purge.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(5));
        if self.writes.is_multiple_of(1024) && due {
            self.last_purge = Some(now);
            self.values.retain(|_, e| e.live(now));
            self.indexes.retain(|_, i| i.expires.is_none_or(|e| e > now));
            // A window whose last request is older than its length counts nothing any more (many
            // one-off clients, e.g. one request per address, must not pile up).
            self.windows.retain(|_, (len, w)| w.back().is_some_and(|t| now.duration_since(*t) < *len));
        }
    }
}

impl Inner {
    /// Adds `member` to the index `key` (kept if there) and sets the index's expiry.
    fn index_insert(&mut self, key: String, member: String, score: i64, ttl: Option<Duration>, now: Instant) {
        let idx = self.indexes.entry(key).or_insert_with(|| Index { members: HashMap::new(), expires: None });
        if idx.expires.is_some_and(|e| e <= now) {
            idx.members.clear();
        }
        idx.members.entry(member).or_insert(score);
        idx.expires = ttl.map(|t| now + t);
    }
}

impl Memory {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map half-written (each operation is a
        // single map call), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &str) -> Option<String> {
        let now = Instant::now();
        self.lock().live(key, now).map(|e| e.value.clone())
    }

    pub fn set(&self, key: String, value: String, ttl: Option<Duration>) {
        let now = Instant::now();
        let mut g = self.lock();
        g.values.insert(key, Entry { value, expires: ttl.map(|t| now + t) });
        g.wrote(now);
    }

    pub fn set_nx(&self, key: String, value: String, ttl: Option<Duration>) -> bool {
        let now = Instant::now();
        let mut g = self.lock();
        if g.live(&key, now).is_some() {
            return false;
        }
        g.values.insert(key, Entry { value, expires: ttl.map(|t| now + t) });
        g.wrote(now);
        true
    }

    /// [`Memory::set_nx`] and, when it created the key, [`Memory::index_add`], under one lock.
    pub fn set_nx_indexed(
        &self,
        key: String,
        value: String,
        ttl: Duration,
        index: (String, String, i64, Duration),
    ) -> bool {
        let now = Instant::now();
        let mut g = self.lock();
        if g.live(&key, now).is_some() {
            return false;
        }
        g.values.insert(key, Entry { value, expires: Some(now + ttl) });
        let (index_key, member, score, index_ttl) = index;
        g.index_insert(index_key, member, score, Some(index_ttl), now);
        g.wrote(now);
        true
    }

    pub fn delete(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut g = self.lock();
        g.live(key, now).is_some() && g.values.remove(key).is_some()
    }

    pub fn get_del(&self, key: &str) -> Option<String> {
        let now = Instant::now();
        let mut g = self.lock();
        g.live(key, now)?;
        g.values.remove(key).map(|e| e.value)
    }

    pub fn compare_and_set(&self, key: &str, expected: &str, new: Option<&str>, ttl: Option<Duration>) -> bool {
        let now = Instant::now();
        let mut g = self.lock();
        let Some(entry) = g.live(key, now) else { return false };
        if entry.value != expected {
            return false;
        }
        match new {
            None => {
                g.values.remove(key);
            }
            Some(v) => {
                entry.value = v.to_string();
                if let Some(t) = ttl {
                    entry.expires = Some(now + t);
                }
            }
        }
        g.wrote(now);
        true
    }

    pub fn scan_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let now = Instant::now();
        let g = self.lock();
        let mut out: Vec<_> = g
            .values
            .iter()
            .filter(|(k, e)| k.starts_with(prefix) && e.live(now))
            .map(|(k, e)| (k.clone(), e.value.clone()))
            .collect();
        out.sort();
        out
    }

    pub fn throttle(&self, key: String, limit: u32, window: Duration) -> Option<u64> {
        let now = Instant::now();
        let mut g = self.lock();
        let (len, w) = g.windows.entry(key).or_insert_with(|| (window, VecDeque::new()));
        *len = window;
        while w.front().is_some_and(|t| now.duration_since(*t) >= window) {
            w.pop_front();
        }
        if (w.len() as u32) < limit {
            w.push_back(now);
            g.wrote(now);
            return None;
        }
        let Some(&oldest) = w.front() else { return Some(window.as_secs().max(1)) };
        let wait = window.saturating_sub(now.duration_since(oldest));
        Some(wait.as_secs_f64().ceil().max(1.0) as u64)
    }

    pub fn get_many(&self, keys: &[String]) -> Vec<Option<String>> {
        let now = Instant::now();
        let mut g = self.lock();
        keys.iter().map(|k| g.live(k, now).map(|e| e.value.clone())).collect()
    }

    pub fn index_add(&self, key: String, member: String, score: i64, ttl: Option<Duration>) {
        let now = Instant::now();
        let mut g = self.lock();
        g.index_insert(key, member, score, ttl, now);
        g.wrote(now);
    }

    pub fn index_members(&self, key: &str) -> Vec<String> {
        let now = Instant::now();
        let g = self.lock();
        let Some(idx) = g.indexes.get(key).filter(|i| i.expires.is_none_or(|e| e > now)) else { return Vec::new() };
        let mut members: Vec<(&String, &i64)> = idx.members.iter().collect();
        members.sort_by(|a, b| a.1.cmp(b.1).then_with(|| a.0.cmp(b.0)));
        members.into_iter().map(|(m, _)| m.clone()).collect()
    }

    /// The members of the index `key` (lowest score first), each with the value stored under
    /// `value_prefix` + member.
    pub fn index_with_values(&self, key: &str, value_prefix: &str) -> Vec<(String, Option<String>)> {
        let members = self.index_members(key);
        let now = Instant::now();
        let mut g = self.lock();
        members
            .into_iter()
            .map(|m| {
                let v = g.live(&format!("{value_prefix}{m}"), now).map(|e| e.value.clone());
                (m, v)
            })
            .collect()
    }

    pub fn index_oldest(&self, key: &str, limit: usize) -> Vec<String> {
        let now = Instant::now();
        let g = self.lock();
        let Some(idx) = g.indexes.get(key).filter(|i| i.expires.is_none_or(|e| e > now)) else { return Vec::new() };
        let mut members: Vec<(i64, &String)> = idx.members.iter().map(|(m, s)| (*s, m)).collect();
        if members.len() > limit {
            members.select_nth_unstable(limit);
            members.truncate(limit);
        }
        members.sort();
        members.into_iter().map(|(_, m)| m.clone()).collect()
    }

    pub fn index_remove(&self, key: &str, members: &[String]) {
        let mut g = self.lock();
        if let Some(idx) = g.indexes.get_mut(key) {
            for m in members {
                idx.members.remove(m);
            }
            if idx.members.is_empty() {
                g.indexes.remove(key);
            }
        }
    }
}
