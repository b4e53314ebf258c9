//! Add-on sessions of the Outlook add-in (now-external-api §12): `init` creates a pending session
//! (id only in a cookie) and a transit token, `exchange` consumes the transit token for the
//! logged-in user and stores an add-on JWT in the session, `poll` hands that result out once.
//!
//! All state is in the cache (`addons_<prefix>_<token>` keys, JSON values private to `meet`). Every
//! decision is atomic on both caches (W33): exchanges of one transit token are serialized by a
//! short cache lock and the transit token is consumed and the result taken with a compare-and-set,
//! so concurrent exchanges or polls cannot both win, and a losing exchange never deletes the
//! winner's session.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest;

use crate::error::ApiError;
use crate::i18n::msg;
use crate::state::AppState;
use crate::store::users::User;

const PENDING: &str = "pending";
const AUTHENTICATED: &str = "authenticated";
const CONSUMED: &str = "consumed";

/// The answer of `init` (keys in upstream's order).
#[derive(Serialize, Debug, schemars::JsonSchema)]
pub struct InitOut {
    pub transit_token: String,
    pub csrf_token: String,
}

/// A session entry (§12.2).
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
struct SessionEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transit_token: Option<String>,
}

/// A transit entry (§12.2).
#[derive(Serialize, Deserialize, Debug, Clone)]
struct TransitEntry {
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

/// What `poll` answers once the session is authenticated (the public fields, stored order).
#[derive(Serialize, Debug, schemars::JsonSchema)]
pub struct PollDone {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub scope: String,
    /// `authenticated`
    pub state: String,
}

/// What `poll` found.
pub enum Poll {
    /// 202 `{"state": "pending"}`.
    Pending,
    /// 200 with the token; the entry is gone and the cookie must be cleared.
    Done(PollDone),
}

/// `ADDONS_RANDOM_TOKEN_BYTE_LENGTH` random bytes, URL-safe base64 without padding.
fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn session_key(state: &AppState, id: &str) -> String {
    format!("addons_{}_{id}", state.config.addons.prefix_session)
}

fn transit_key(state: &AppState, token: &str) -> String {
    format!("addons_{}_{token}", state.config.addons.prefix_transit)
}

fn secret(state: &AppState) -> Result<&str, ApiError> {
    state
        .config
        .addons
        .csrf_secret
        .as_deref()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("ADDONS_CSRF_SECRET is not set")))
}

/// The add-on CSRF token of a session id: lowercase hex HMAC-SHA256 (§12.3).
pub fn csrf_token(key: &str, session_id: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    hex::encode(ring::hmac::sign(&key, session_id.as_bytes()).as_ref())
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

fn invalid_session() -> ApiError {
    ApiError::BadRequest(msg::ADDON_INVALID_SESSION.into())
}

fn invalid_transit() -> ApiError {
    ApiError::BadRequest(msg::ADDON_INVALID_TRANSIT.into())
}

/// `POST addons/sessions/init/` (§12.4): the session id (for the cookie) and the answer.
pub async fn init(state: &AppState, now: DateTime<Utc>) -> Result<(String, InitOut), ApiError> {
    let cfg = &state.config.addons;
    let key = secret(state)?;
    let session_id = random_token(cfg.random_bytes);
    let transit_token = random_token(cfg.random_bytes);
    let expires_at = now + chrono::Duration::from_std(cfg.session_ttl).unwrap_or_default();
    let entry = SessionEntry {
        state: Some(PENDING.into()),
        expires_at: Some(expires_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, false)),
        transit_token: Some(transit_token.clone()),
        ..Default::default()
    };
    state.cache.set(&session_key(state, &session_id), &to_json(&entry), Some(cfg.session_ttl)).await?;
    let transit = TransitEntry { session_id: Some(session_id.clone()), state: Some(PENDING.into()) };
    state.cache.set(&transit_key(state, &transit_token), &to_json(&transit), Some(cfg.transit_ttl)).await?;
    let csrf_token = csrf_token(key, &session_id);
    Ok((session_id, InitOut { transit_token, csrf_token }))
}

/// `POST addons/sessions/poll/` (§12.5) for the cookie's session id and the `X-CSRFToken` header.
pub async fn poll(state: &AppState, session_id: &str, csrf_header: &[u8]) -> Result<Poll, ApiError> {
    let expected = csrf_token(secret(state)?, session_id);
    // W34: bytes are compared, so any header value is a mismatch rather than a crash.
    if !crate::domain::secret_eq(expected.as_bytes(), csrf_header) {
        tracing::warn!("add-on poll with a CSRF token that does not match its session");
        return Err(ApiError::BadRequest(msg::ADDON_INVALID_CSRF.into()));
    }
    let key = session_key(state, session_id);
    let raw =
        state.cache.get(&key).await?.ok_or_else(|| ApiError::NotFoundMessage(msg::ADDON_SESSION_NOT_FOUND.into()))?;
    let entry: SessionEntry = serde_json::from_str(&raw).unwrap_or_default();
    match entry.state.as_deref() {
        Some(PENDING) => Ok(Poll::Pending),
        Some(AUTHENTICATED) => {
            // Read once: only the poll that deletes this exact value gets the token.
            if !state.cache.compare_and_set(&key, &raw, None, None).await? {
                return Err(ApiError::NotFoundMessage(msg::ADDON_SESSION_NOT_FOUND.into()));
            }
            let (Some(access_token), Some(token_type), Some(expires_in), Some(scope)) =
                (entry.access_token, entry.token_type, entry.expires_in, entry.scope)
            else {
                return Err(invalid_session());
            };
            Ok(Poll::Done(PollDone { access_token, token_type, expires_in, scope, state: AUTHENTICATED.into() }))
        }
        // W36: an entry without a known state is refused and removed.
        _ => {
            state.cache.delete(&key).await?;
            Err(invalid_session())
        }
    }
}

/// Consumes a transit token atomically (W33); the session id it names.
async fn consume_transit(state: &AppState, transit_token: &str) -> Result<String, ApiError> {
    let key = transit_key(state, transit_token);
    let raw = state.cache.get(&key).await?.ok_or_else(invalid_transit)?;
    let entry: TransitEntry = serde_json::from_str(&raw).map_err(|_| invalid_transit())?;
    let session_id = entry.session_id.filter(|s| !s.is_empty()).ok_or_else(invalid_transit)?;
    if entry.state.as_deref() == Some(CONSUMED) {
        // A replay: the session it opened is closed (security clean-up, NA-SES-12).
        state.cache.delete(&session_key(state, &session_id)).await?;
        return Err(invalid_transit());
    }
    let consumed = TransitEntry { session_id: Some(session_id.clone()), state: Some(CONSUMED.into()) };
    let ttl = Some(state.config.addons.session_ttl);
    if !state.cache.compare_and_set(&key, &raw, Some(&to_json(&consumed)), ttl).await? {
        // A concurrent exchange consumed it first: refused, its session left alone.
        return Err(invalid_transit());
    }
    Ok(session_id)
}

/// Mints the add-on JWT (§5.3) for `user`.
fn addon_token(state: &AppState, user: &User, now: i64) -> Result<String, ApiError> {
    let ext = &state.config.external_api;
    let key = ext
        .addons_token_secret_key
        .as_deref()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("ADDONS_TOKEN_SECRET_KEY is not set")))?;
    let cfg = &state.config.addons;
    let mut claims = json!({"iat": now, "exp": now + cfg.token_ttl as i64, "user_id": user.id.to_string()});
    if let Some(iss) = &ext.addons_token_issuer {
        claims["iss"] = json!(iss);
    }
    if let Some(aud) = &ext.addons_token_audience {
        claims["aud"] = json!(aud);
    }
    if !cfg.token_scope.is_empty() {
        claims["scope"] = json!(cfg.token_scope);
    }
    Ok(crate::livekit::token::sign(&claims, key))
}

/// How long one exchange may hold its transit token (a crashed holder is forgotten after it).
const EXCHANGE_LOCK: Duration = Duration::from_secs(10);

/// `POST addons/sessions/exchange/` (§12.6 steps 5–13) for the logged-in `user`. Exchanges of one
/// transit token are serialized (W33): one that finds another in progress is refused and touches
/// nothing, so it can never close the session the other is authenticating; one that comes after
/// a finished exchange is a replay and closes the session.
pub async fn exchange(state: &AppState, user: &User, transit_token: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    let lock = format!("addons_exchange_{}", hex::encode(sha2::Sha256::digest(transit_token.as_bytes())));
    if !state.cache.set_nx(&lock, "1", Some(EXCHANGE_LOCK)).await? {
        return Err(invalid_transit());
    }
    let result = exchange_locked(state, user, transit_token, now).await;
    if let Err(e) = state.cache.delete(&lock).await {
        tracing::warn!(error = %e, "could not release an add-on exchange lock (it expires by itself)");
    }
    result
}

async fn exchange_locked(
    state: &AppState,
    user: &User,
    transit_token: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let session_id = consume_transit(state, transit_token).await?;
    let key = session_key(state, &session_id);
    let raw =
        state.cache.get(&key).await?.ok_or_else(|| ApiError::NotFoundMessage(msg::ADDON_SESSION_NOT_FOUND.into()))?;
    let entry: SessionEntry = serde_json::from_str(&raw).unwrap_or_default();
    if entry.state.as_deref() != Some(PENDING) {
        state.cache.delete(&key).await?;
        return Err(invalid_session());
    }
    let own_transit = entry.transit_token.as_deref().ok_or_else(invalid_session)?;
    let own = state.cache.get(&transit_key(state, own_transit)).await?;
    let consumed = own
        .and_then(|r| serde_json::from_str::<TransitEntry>(&r).ok())
        .is_some_and(|t| t.state.as_deref() == Some(CONSUMED));
    if !consumed {
        state.cache.delete(&key).await?;
        return Err(invalid_session());
    }
    let expires_at = entry.expires_at.as_deref().and_then(|s| DateTime::parse_from_rfc3339(s).ok());
    let remaining = expires_at.map(|t| t.with_timezone(&Utc) - now).and_then(|d| d.to_std().ok());
    let Some(remaining) = remaining.filter(|d| *d >= Duration::from_millis(1)) else {
        return Err(invalid_session());
    };
    let cfg = &state.config.addons;
    let done = SessionEntry {
        access_token: Some(addon_token(state, user, now.timestamp())?),
        token_type: Some(cfg.token_type.clone()),
        expires_in: Some(cfg.token_ttl),
        scope: Some(cfg.token_scope.clone()),
        expires_at: entry.expires_at.clone(),
        state: Some(AUTHENTICATED.into()),
        transit_token: None,
    };
    // NA-SES-16: the remaining lifetime, not a fresh one; only over the value just checked.
    if !state.cache.compare_and_set(&key, &raw, Some(&to_json(&done)), Some(remaining)).await? {
        return Err(invalid_session());
    }
    tracing::info!(user.id = %user.id, "add-on session authenticated");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            csrf_token("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let t = random_token(60);
        assert_eq!(t.len(), 80);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
