//! The cache: in-process (default) or Redis (`REDIS_URL`), behind one type with one contract.
//! Every operation that decides something is atomic on both: a per-map lock in memory, a single
//! command or Lua script on Redis. Keys are namespaced with `MEET_CACHE_PREFIX`.

mod memory;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::AsyncCommands;

pub use memory::Memory;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache unavailable: {0}")]
    Unavailable(String),
    #[error("cache error: {0}")]
    Other(String),
}

impl From<redis::RedisError> for CacheError {
    fn from(e: redis::RedisError) -> Self {
        crate::metrics::cache_error();
        if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
            CacheError::Unavailable(e.to_string())
        } else {
            CacheError::Other(e.to_string())
        }
    }
}

pub type CacheResult<T> = Result<T, CacheError>;

/// The cache used by every service.
#[derive(Clone)]
pub struct Cache {
    prefix: String,
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<Memory>),
    Redis(Box<ConnectionManager>),
}

/// Deletes `KEYS[1]` or sets it to `ARGV[2]` (TTL `ARGV[3]` ms, 0 = none) only if it holds `ARGV[1]`.
const CAS_SCRIPT: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[4] == '1' then redis.call('DEL', KEYS[1]); return 1 end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') end
return 1
"#;

/// Sliding-window throttle: `KEYS[1]` is a sorted set of accepted request times (ms).
/// ARGV: now ms, window ms, limit, unique member. Returns 0 when accepted, else the wait in ms.
const THROTTLE_SCRIPT: &str = r#"
local now = tonumber(ARGV[1]); local window = tonumber(ARGV[2]); local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4]); redis.call('PEXPIRE', KEYS[1], window); return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"#;

impl Cache {
    /// The in-process cache.
    pub fn memory(prefix: &str) -> Cache {
        Cache { prefix: prefix.to_string(), backend: Backend::Memory(Arc::new(Memory::default())) }
    }

    /// Connects to Redis, with bounded retries; the connection then reconnects by itself.
    pub async fn redis(url: &str, prefix: &str) -> CacheResult<Cache> {
        let client = redis::Client::open(url).map_err(|e| CacheError::Other(format!("REDIS_URL: {e}")))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(2))
            .set_number_of_retries(2)
            .set_max_delay(500);
        let mut attempt = 0u64;
        loop {
            match ConnectionManager::new_with_config(client.clone(), config.clone()).await {
                Ok(conn) => return Ok(Cache { prefix: prefix.to_string(), backend: Backend::Redis(Box::new(conn)) }),
                Err(e) if attempt < 4 => {
                    attempt += 1;
                    tracing::warn!(attempt, error = %e, "Redis is not reachable yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn is_redis(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    pub async fn ping(&self) -> CacheResult<()> {
        crate::metrics::cache_op("ping");
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            Backend::Redis(c) => {
                let _: String = redis::cmd("PING").query_async(&mut (**c).clone()).await?;
                Ok(())
            }
        }
    }

    pub async fn get(&self, key: &str) -> CacheResult<Option<String>> {
        crate::metrics::cache_op("get");
        let k = self.key(key);
        match &self.backend {
            Backend::Memory(m) => Ok(m.get(&k)),
            Backend::Redis(c) => Ok((**c).clone().get(k).await?),
        }
    }

    /// Sets `key`, expiring after `ttl` when given.
    pub async fn set(&self, key: &str, value: &str, ttl: Option<Duration>) -> CacheResult<()> {
        crate::metrics::cache_op("set");
        let k = self.key(key);
        match &self.backend {
            Backend::Memory(m) => {
                m.set(k, value.to_string(), ttl);
                Ok(())
            }
            Backend::Redis(c) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(&k).arg(value);
                if let Some(ttl) = ttl {
                    cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
                }
                let _: () = cmd.query_async(&mut (**c).clone()).await?;
                Ok(())
            }
        }
    }

    /// Sets `key` only if it does not exist; true when this call created it.
    pub async fn set_nx(&self, key: &str, value: &str, ttl: Option<Duration>) -> CacheResult<bool> {
        crate::metrics::cache_op("set_nx");
        let k = self.key(key);
        match &self.backend {
            Backend::Memory(m) => Ok(m.set_nx(k, value.to_string(), ttl)),
            Backend::Redis(c) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(&k).arg(value).arg("NX");
                if let Some(ttl) = ttl {
                    cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
                }
                let r: Option<String> = cmd.query_async(&mut (**c).clone()).await?;
                Ok(r.is_some())
            }
        }
    }

    /// Deletes `key`; true when it existed.
    pub async fn delete(&self, key: &str) -> CacheResult<bool> {
        crate::metrics::cache_op("delete");
        let k = self.key(key);
        match &self.backend {
            Backend::Memory(m) => Ok(m.delete(&k)),
            Backend::Redis(c) => {
                let n: u64 = (**c).clone().del(k).await?;
                Ok(n > 0)
            }
        }
    }

    /// Reads and deletes `key` in one atomic step (Redis `GETDEL`).
    pub async fn get_del(&self, key: &str) -> CacheResult<Option<String>> {
        crate::metrics::cache_op("get_del");
        let k = self.key(key);
        match &self.backend {
            Backend::Memory(m) => Ok(m.get_del(&k)),
            Backend::Redis(c) => Ok(redis::cmd("GETDEL").arg(k).query_async(&mut (**c).clone()).await?),
        }
    }

    /// Replaces `key` by `new` (or deletes it when `new` is `None`) only if it currently holds
    /// `expected`. A `ttl` of `None` keeps the current expiry. True when the swap happened.
    pub async fn compare_and_set(
        &self,
        key: &str,
        expected: &str,
        new: Option<&str>,
        ttl: Option<Duration>,
    ) -> CacheResult<bool> {
        crate::metrics::cache_op("compare_and_set");
        let k = self.key(key);
        match &self.backend {
            Backend::Memory(m) => Ok(m.compare_and_set(&k, expected, new, ttl)),
            Backend::Redis(c) => {
                let r: i64 = redis::Script::new(CAS_SCRIPT)
                    .key(&k)
                    .arg(expected)
                    .arg(new.unwrap_or(""))
                    .arg(ttl.map(|d| d.as_millis().max(1) as u64).unwrap_or(0))
                    .arg(if new.is_none() { "1" } else { "0" })
                    .invoke_async(&mut (**c).clone())
                    .await?;
                Ok(r == 1)
            }
        }
    }

    /// Every live `(key, value)` whose key starts with `prefix` (keys returned without the
    /// cache namespace). For bounded sets only: the lobby keeps a per-room index instead.
    pub async fn scan_prefix(&self, prefix: &str) -> CacheResult<Vec<(String, String)>> {
        crate::metrics::cache_op("scan_prefix");
        let full = self.key(prefix);
        let strip = self.prefix.len();
        match &self.backend {
            Backend::Memory(m) => {
                Ok(m.scan_prefix(&full).into_iter().map(|(k, v)| (k[strip..].to_string(), v)).collect())
            }
            Backend::Redis(c) => {
                let mut conn = (**c).clone();
                let pattern = format!("{}*", escape_glob(&full));
                let mut keys: Vec<String> = Vec::new();
                let mut cursor: u64 = 0;
                loop {
                    let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(500)
                        .query_async(&mut conn)
                        .await?;
                    keys.extend(batch);
                    cursor = next;
                    if cursor == 0 {
                        break;
                    }
                }
                keys.sort();
                keys.dedup();
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
                Ok(keys.into_iter().zip(values).filter_map(|(k, v)| v.map(|v| (k[strip..].to_string(), v))).collect())
            }
        }
    }

    /// The values of `keys` (missing or expired ones as `None`), in one round trip.
    pub async fn get_many(&self, keys: &[String]) -> CacheResult<Vec<Option<String>>> {
        crate::metrics::cache_op("get_many");
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        match &self.backend {
            Backend::Memory(m) => Ok(m.get_many(&full)),
            Backend::Redis(c) => Ok(redis::cmd("MGET").arg(&full).query_async(&mut (**c).clone()).await?),
        }
    }

    /// Adds `member` to the scored index `key` (kept if already there), and sets the index's
    /// expiry to `ttl`. Members are listed by score: the lobby's arrival order (P1).
    pub async fn index_add(&self, key: &str, member: &str, score: i64, ttl: Option<Duration>) -> CacheResult<()> {
        crate::metrics::cache_op("index_add");
        let k = self.key(key);
        match &self.backend {
            Backend::Memory(m) => {
                m.index_add(k, member.to_string(), score, ttl);
                Ok(())
            }
            Backend::Redis(c) => {
                let mut pipe = redis::pipe();
                pipe.atomic().cmd("ZADD").arg(&k).arg("NX").arg(score).arg(member).ignore();
                if let Some(ttl) = ttl {
                    pipe.cmd("PEXPIRE").arg(&k).arg(ttl.as_millis().max(1) as u64).ignore();
                }
                let _: () = pipe.query_async(&mut (**c).clone()).await?;
                Ok(())
            }
        }
    }

    /// Members of the index `key`, lowest score first.
    pub async fn index_members(&self, key: &str) -> CacheResult<Vec<String>> {
        crate::metrics::cache_op("index_members");
        let k = self.key(key);
        match &self.backend {
            Backend::Memory(m) => Ok(m.index_members(&k)),
            Backend::Redis(c) => {
                Ok(redis::cmd("ZRANGE").arg(&k).arg(0).arg(-1).query_async(&mut (**c).clone()).await?)
            }
        }
    }

    /// The `limit` members of the index `key` with the lowest scores, lowest first.
    pub async fn index_oldest(&self, key: &str, limit: usize) -> CacheResult<Vec<String>> {
        crate::metrics::cache_op("index_oldest");
        let k = self.key(key);
        match &self.backend {
            Backend::Memory(m) => Ok(m.index_oldest(&k, limit)),
            Backend::Redis(c) => Ok(redis::cmd("ZRANGE")
                .arg(&k)
                .arg(0)
                .arg(limit.max(1) as i64 - 1)
                .query_async(&mut (**c).clone())
                .await?),
        }
    }

    /// Removes `members` from the index `key`.
    pub async fn index_remove(&self, key: &str, members: &[String]) -> CacheResult<()> {
        crate::metrics::cache_op("index_remove");
        if members.is_empty() {
            return Ok(());
        }
        let k = self.key(key);
        match &self.backend {
            Backend::Memory(m) => {
                m.index_remove(&k, members);
                Ok(())
            }
            Backend::Redis(c) => {
                let _: i64 = redis::cmd("ZREM").arg(&k).arg(members).query_async(&mut (**c).clone()).await?;
                Ok(())
            }
        }
    }

    /// Sliding-window throttle (users-auth-rooms §5.12): records this request and returns `None`
    /// when fewer than `limit` were accepted in the last `window`; otherwise returns the seconds
    /// until a slot frees, without recording.
    pub async fn throttle(&self, key: &str, limit: u32, window: Duration) -> CacheResult<Option<u64>> {
        crate::metrics::cache_op("throttle");
        let k = self.key(key);
        match &self.backend {
            Backend::Memory(m) => Ok(m.throttle(k, limit, window)),
            Backend::Redis(c) => {
                let now =
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis()
                        as u64;
                let wait_ms: u64 = redis::Script::new(THROTTLE_SCRIPT)
                    .key(&k)
                    .arg(now)
                    .arg(window.as_millis() as u64)
                    .arg(limit)
                    .arg(format!("{now}-{}", uuid::Uuid::new_v4().simple()))
                    .invoke_async(&mut (**c).clone())
                    .await?;
                Ok((wait_ms > 0).then(|| wait_ms.div_ceil(1000)))
            }
        }
    }
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
