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
    /// Local delivery of [`Cache::publish`] (every backend: the in-process one has no other).
    local: tokio::sync::broadcast::Sender<(String, String)>,
    /// The Redis client, for the dedicated pub/sub connections of [`Cache::listen`].
    client: Option<redis::Client>,
}

/// What a listener of [`Cache::listen`] is told.
#[derive(Debug)]
pub enum Signal {
    /// Messages published from now on will be delivered (again): anything published before may
    /// have been missed.
    Listening,
    /// A message published on the channel (by any instance, this one included).
    Message(String),
    /// Messages may be missed until the next `Listening`.
    Deaf,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<Memory>),
    Redis(Box<ConnectionManager>),
}

/// Deletes `KEYS[1]` or sets it to `ARGV[2]` (TTL `ARGV[3]` ms, 0 = none) only if it holds `ARGV[1]`.
static CAS_SCRIPT_COMPILED: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(CAS_SCRIPT));
const CAS_SCRIPT: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[4] == '1' then redis.call('DEL', KEYS[1]); return 1 end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') end
return 1
"#;

/// The members of the sorted set `KEYS[1]` by score and the value of `ARGV[1]..member` for each
/// (false, i.e. nil, when missing): the lobby's waiting list in one round trip. The value keys
/// are derived from the members, so they cannot be declared: a single Redis server (or one
/// cluster slot per room, with a hash tag in `LOBBY_KEY_PREFIX`) is assumed, as for the index.
static INDEX_VALUES_SCRIPT_COMPILED: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(INDEX_VALUES_SCRIPT));
const INDEX_VALUES_SCRIPT: &str = r#"
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local values = {}
for i, m in ipairs(members) do values[i] = redis.call('GET', ARGV[1] .. m) end
return {members, values}
"#;

/// `SET KEYS[1] ARGV[1] NX PX ARGV[2]`, and when it set: `ZADD KEYS[2] NX ARGV[4] ARGV[3]` and
/// `PEXPIRE KEYS[2] ARGV[5]`. Returns 1 when the key was created.
static SET_NX_INDEXED_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[2], 'NX', ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
"#,
    )
});

/// Sliding-window throttle: `KEYS[1]` is a sorted set of accepted request times (ms).
/// ARGV: now ms, window ms, limit, unique member. Returns 0 when accepted, else the wait in ms.
static THROTTLE_SCRIPT_COMPILED: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(THROTTLE_SCRIPT));
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
        Cache {
            prefix: prefix.to_string(),
            backend: Backend::Memory(Arc::new(Memory::default())),
            local: tokio::sync::broadcast::channel(1024).0,
            client: None,
        }
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
                Ok(conn) => {
                    return Ok(Cache {
                        prefix: prefix.to_string(),
                        backend: Backend::Redis(Box::new(conn)),
                        local: tokio::sync::broadcast::channel(1024).0,
                        client: Some(client),
                    })
                }
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

    /// Sets `key` (TTL `ttl`) only if it does not exist and, when this call created it, adds
    /// `member` with `score` to the index `index` (kept if there; the index's expiry set to
    /// `index_ttl`), as one atomic step: a new lobby waiter is never stored unindexed.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_nx_indexed(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
        index: &str,
        member: &str,
        score: i64,
        index_ttl: Duration,
    ) -> CacheResult<bool> {
        crate::metrics::cache_op("set_nx_indexed");
        let (k, i) = (self.key(key), self.key(index));
        match &self.backend {
            Backend::Memory(m) => {
                Ok(m.set_nx_indexed(k, value.to_string(), ttl, (i, member.to_string(), score, index_ttl)))
            }
            Backend::Redis(c) => {
                let created: i64 = SET_NX_INDEXED_SCRIPT
                    .key(&k)
                    .key(&i)
                    .arg(value)
                    .arg(ttl.as_millis().max(1) as u64)
                    .arg(member)
                    .arg(score)
                    .arg(index_ttl.as_millis().max(1) as u64)
                    .invoke_async(&mut (**c).clone())
                    .await?;
                Ok(created == 1)
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
                let r: i64 = CAS_SCRIPT_COMPILED
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

    /// The members of the index `key` (lowest score first), each with the value of the key
    /// `value_prefix` + member (`None` when missing or expired), in one round trip.
    pub async fn index_with_values(&self, key: &str, value_prefix: &str) -> CacheResult<Vec<(String, Option<String>)>> {
        crate::metrics::cache_op("index_with_values");
        let (k, p) = (self.key(key), self.key(value_prefix));
        match &self.backend {
            Backend::Memory(m) => Ok(m.index_with_values(&k, &p)),
            Backend::Redis(c) => {
                let (members, values): (Vec<String>, Vec<Option<String>>) =
                    INDEX_VALUES_SCRIPT_COMPILED.key(&k).arg(&p).invoke_async(&mut (**c).clone()).await?;
                Ok(members.into_iter().zip(values.into_iter().chain(std::iter::repeat(None))).collect())
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
                let wait_ms: u64 = THROTTLE_SCRIPT_COMPILED
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

impl Cache {
    /// Publishes `message` on `channel` to every instance listening ([`Cache::listen`]): Redis
    /// `PUBLISH` (at most once: listeners learn of gaps through [`Signal::Deaf`]), or in-process.
    pub async fn publish(&self, channel: &str, message: &str) -> CacheResult<()> {
        crate::metrics::cache_op("publish");
        match &self.backend {
            Backend::Memory(_) => {
                // No receiver is not an error: nobody listens yet.
                let _ = self.local.send((channel.to_string(), message.to_string()));
                Ok(())
            }
            Backend::Redis(c) => {
                let _: i64 =
                    redis::cmd("PUBLISH").arg(self.key(channel)).arg(message).query_async(&mut (**c).clone()).await?;
                Ok(())
            }
        }
    }

    /// Calls `on` with every message published on `channel` until the returned task is aborted.
    /// With Redis the subscription has a connection of its own and comes back by itself after a
    /// failure; `on` hears `Deaf` when it drops and `Listening` once it is back.
    pub fn listen(&self, channel: &str, on: impl Fn(Signal) + Send + Sync + 'static) -> tokio::task::JoinHandle<()> {
        let channel_key = self.key(channel);
        let channel = channel.to_string();
        match (&self.client, &self.backend) {
            (Some(client), Backend::Redis(conn)) => {
                let client = client.clone();
                let conn = (**conn).clone();
                tokio::spawn(async move {
                    let mut delay = Duration::from_millis(100);
                    loop {
                        if let Err(e) = subscribe_once(&client, conn.clone(), &channel_key, &on).await {
                            tracing::warn!(error = %e, channel = channel_key.as_str(), "cache subscription lost; retrying");
                            crate::metrics::cache_error();
                        } else {
                            delay = Duration::from_millis(100);
                        }
                        on(Signal::Deaf);
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(5));
                    }
                })
            }
            _ => {
                let mut rx = self.local.subscribe();
                on(Signal::Listening);
                tokio::spawn(async move {
                    loop {
                        match rx.recv().await {
                            Ok((ch, msg)) if ch == channel => on(Signal::Message(msg)),
                            Ok(_) => {}
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                                on(Signal::Deaf);
                                on(Signal::Listening);
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                        }
                    }
                })
            }
        }
    }
}

/// Published every second by each listening instance on its channel: a subscription that hears
/// nothing for [`SILENCE`] is taken as dead (a half-open connection loses messages silently).
const HEARTBEAT: &str = "~";
const SILENCE: Duration = Duration::from_secs(3);

/// One Redis subscription, until its connection ends or falls silent.
async fn subscribe_once(
    client: &redis::Client,
    mut conn: ConnectionManager,
    channel: &str,
    on: &(impl Fn(Signal) + Send + Sync),
) -> redis::RedisResult<()> {
    use futures_util::StreamExt;
    let timeout = |what: &'static str| redis::RedisError::from((redis::ErrorKind::IoError, what));
    let mut pubsub = tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub())
        .await
        .map_err(|_| timeout("pub/sub connection timed out"))??;
    tokio::time::timeout(Duration::from_secs(2), pubsub.subscribe(channel))
        .await
        .map_err(|_| timeout("SUBSCRIBE timed out"))??;
    on(Signal::Listening);
    let mut messages = pubsub.on_message();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut heard = tokio::time::Instant::now();
    loop {
        tokio::select! {
            msg = messages.next() => {
                let Some(msg) = msg else { return Ok(()) };
                heard = tokio::time::Instant::now();
                match msg.get_payload::<String>() {
                    Ok(p) if p == HEARTBEAT => {}
                    Ok(p) => on(Signal::Message(p)),
                    Err(_) => {}
                }
            }
            _ = tick.tick() => {
                if heard.elapsed() > SILENCE {
                    return Err(timeout("no message (not even our heartbeat) for 3 s"));
                }
                let mut cmd = redis::cmd("PUBLISH");
                cmd.arg(channel).arg(HEARTBEAT);
                // A failed heartbeat shows up as silence.
                let _ = tokio::time::timeout(Duration::from_secs(1), cmd.query_async::<i64>(&mut conn)).await;
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
