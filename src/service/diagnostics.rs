//! `POST diagnostics/connection/` (now-rooms §12): a short-lived LiveKit token for a throw-away
//! room (`<CONNECTION_TEST_ROOM_PREFIX>-<uuid>`) so that anyone can test their connection. The
//! room's deletion is queued in the durable job table in the same request, due when the token
//! has expired plus `CONNECTION_TEST_ROOM_EXTRA_AGE_SECONDS`; the job worker
//! ([`super::jobs`]) runs it once, whichever instance picks it up, even across restarts.

use base64::Engine;
use serde_json::{json, Map, Value};
use tracing::instrument;

use crate::domain::colour;
use crate::error::ApiError;
use crate::livekit::token::PUBLISH_SOURCES;
use crate::state::AppState;
use crate::store::users::User;
use crate::store::{jobs, now};

/// The job kind that deletes a LiveKit room.
pub const DELETE_ROOM: &str = "delete_room";

/// The display name of connection-test participants.
const NAME: &str = "Connection Test";

/// The claims of a connection-test token (now-rooms §7.2, keys in LiveKit's order): no role,
/// the default sources, `roomAdmin` and `canUpdateOwnMetadata` false.
pub fn claims(identity: &str, name: &str, room: &str, authenticated: bool, key: &str, nbf: i64, ttl: u64) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), json!(name));
    c.insert(
        "video".into(),
        json!({"roomAdmin": false, "roomJoin": true, "room": room, "canPublish": true, "canSubscribe": true,
            "canPublishData": true, "canPublishSources": PUBLISH_SOURCES, "canUpdateOwnMetadata": false}),
    );
    c.insert(
        "attributes".into(),
        json!({"color": colour::colour(identity), "room_role": null,
            "is_authenticated": if authenticated { "true" } else { "false" }}),
    );
    c.insert("sub".into(), json!(identity));
    c.insert("iss".into(), json!(key));
    c.insert("nbf".into(), json!(nbf));
    c.insert("exp".into(), json!(nbf.saturating_add(ttl as i64)));
    Value::Object(c)
}

/// A compact HS256 JWS of `claims`.
pub fn sign(claims: &Value, secret: &str) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", b64(&json!({"alg": "HS256", "typ": "JWT"})), b64(claims));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let signature = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

/// Order: (optional session in the handler) → throttle per user or client address → feature
/// flag → deletion queued → token.
#[instrument(skip_all)]
pub async fn connection_test(state: &AppState, user: Option<&User>, client_ip: &str) -> Result<Value, ApiError> {
    let cfg = &state.config.incall;
    let who = user.map(|u| u.id.to_string()).unwrap_or_else(|| client_ip.to_string());
    super::throttle::check(state, "connection_test", &who, cfg.connection_test_throttle_rate).await?;
    if !cfg.connection_test_enabled {
        return Err(ApiError::NotFound);
    }
    let room = format!("{}-{}", cfg.connection_test_room_prefix, uuid::Uuid::new_v4());
    let ttl = cfg.connection_test_token_ttl;
    let issued = now();
    let delay =
        chrono::Duration::seconds(ttl.saturating_add(cfg.connection_test_room_extra_age).min(i32::MAX as u64) as i64);
    jobs::insert(&state.db, DELETE_ROOM, &room, issued + delay).await?;

    let identity = crate::livekit::token::identity(user);
    let name = match user {
        Some(u) if !cfg.authenticated_participants_can_edit_display_name => {
            u.full_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| u.display())
        }
        _ => NAME.to_string(),
    };
    let c = claims(&identity, &name, &room, user.is_some(), &state.config.livekit_api_key, issued.timestamp(), ttl);
    let token = sign(&c, &state.config.livekit_api_secret);
    Ok(json!({"livekit": {"url": state.config.livekit_api_url, "room": room, "token": token, "expires_in": ttl}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_with_the_api_secret_and_carry_no_role() {
        let c = claims("id-1", NAME, "connection-test-x", false, "devkey", 1_000, 300);
        let t = sign(&c, "secret");
        let (input, sig) = t.rsplit_once('.').unwrap();
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig).unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"secret");
        assert!(ring::hmac::verify(&key, input.as_bytes(), &sig).is_ok());
        assert!(t.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."), "{t}");
        assert_eq!(c["exp"], 1_300);
        assert_eq!(c["video"]["roomAdmin"], false);
        assert_eq!(c["attributes"]["room_role"], Value::Null);
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["name", "video", "attributes", "sub", "iss", "nbf", "exp"]);
    }
}
