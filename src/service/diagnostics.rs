//! `POST diagnostics/connection/` (now-rooms §12): a short-lived LiveKit token for a throw-away
//! room (`<CONNECTION_TEST_ROOM_PREFIX>-<uuid>`) so that anyone can test their connection. The
//! room's deletion is queued in the durable job table in the same request, due when the token
//! has expired plus `CONNECTION_TEST_ROOM_EXTRA_AGE_SECONDS`; the job worker
//! ([`super::jobs`]) runs it once, whichever instance picks it up, even across restarts.

use serde_json::{json, Map, Value};
use tracing::instrument;

use crate::domain::colour;
use crate::error::ApiError;
use crate::livekit::token::sign;
use crate::state::AppState;
use crate::store::users::User;
use crate::store::{jobs, now};

/// The job kind that deletes a LiveKit room.
pub const DELETE_ROOM: &str = "delete_room";

/// The display name of connection-test participants.
const NAME: &str = "Connection Test";

/// What varies between two connection-test tokens.
#[derive(Clone, Copy, Debug)]
pub struct TestGrant<'a> {
    pub identity: &'a str,
    pub name: &'a str,
    pub room: &'a str,
    pub authenticated: bool,
    /// `LIVEKIT_API_KEY` (the issuer).
    pub key: &'a str,
    /// `LIVEKIT_DEFAULT_SOURCES`.
    pub sources: &'a [String],
}

/// The claims of a connection-test token (now-rooms §7.2, keys in LiveKit's order): no role,
/// the default sources, `roomAdmin` and `canUpdateOwnMetadata` false.
pub fn claims(g: &TestGrant<'_>, nbf: i64, ttl: u64) -> Value {
    let TestGrant { identity, name, room, authenticated, key, sources } = *g;
    let mut c = Map::new();
    c.insert("name".into(), json!(name));
    c.insert(
        "video".into(),
        json!({"roomAdmin": false, "roomJoin": true, "room": room, "canPublish": true, "canSubscribe": true,
            "canPublishData": true, "canPublishSources": sources, "canUpdateOwnMetadata": false}),
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

/// Order: (optional session in the handler) → throttle per user or client address → feature
/// flag → deletion queued → token.
#[instrument(skip_all)]
pub async fn connection_test(state: &AppState, user: Option<&User>, client_ip: &str) -> Result<Value, ApiError> {
    let cfg = &state.config.incall;
    let who = user.map(|u| u.id.to_string()).unwrap_or_else(|| client_ip.to_string());
    super::throttle::check(state, "connection_test", &who, cfg.connection_test_throttle_rate).await?;
    if !state.config.rooms.connection_test_enabled {
        return Err(ApiError::NotFound);
    }
    let room = format!("{}-{}", state.config.rooms.connection_test_room_prefix, uuid::Uuid::new_v4());
    let ttl = cfg.connection_test_token_ttl;
    let issued = now();
    let delay =
        chrono::Duration::seconds(ttl.saturating_add(cfg.connection_test_room_extra_age).min(i32::MAX as u64) as i64);
    jobs::insert(&state.db, DELETE_ROOM, &room, issued + delay).await?;

    let identity = crate::livekit::token::identity(user);
    let name = match user {
        Some(u) if !state.config.rooms.authenticated_participants_can_edit_display_name => {
            crate::livekit::token::default_name(u)
        }
        _ => NAME.to_string(),
    };
    let grant = TestGrant {
        identity: &identity,
        name: &name,
        room: &room,
        authenticated: user.is_some(),
        key: &state.config.livekit_api_key,
        sources: &state.config.rooms.livekit_default_sources,
    };
    let c = claims(&grant, issued.timestamp(), ttl);
    let token = sign(&c, &state.config.livekit_api_secret);
    Ok(json!({"livekit": {"url": state.config.livekit_api_url, "room": room, "token": token, "expires_in": ttl}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn tokens_verify_with_the_api_secret_and_carry_no_role() {
        let sources = vec!["camera".to_string()];
        let g = TestGrant {
            identity: "id-1",
            name: NAME,
            room: "connection-test-x",
            authenticated: false,
            key: "devkey",
            sources: &sources,
        };
        let c = claims(&g, 1_000, 300);
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
