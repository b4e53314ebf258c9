//! LiveKit join tokens (lobby-livekit §2, TK statements) and the `livekit` object of room
//! payloads: HS256 with the API secret, `iss` = API key, 6 h TTL, the fixed grants, the identity
//! (`sub` of the user, a fresh UUID for anonymous callers), the display name and the colour.

use livekit_api::access_token::{AccessToken, VideoGrants};
use serde::Serialize;

use crate::config::Config;
use crate::domain::colour;
use crate::store::users::User;

/// The sources every participant may publish (fixed list, TK-3).
pub const PUBLISH_SOURCES: [&str; 4] = ["camera", "microphone", "screen_share", "screen_share_audio"];

/// Why no token could be minted (empty key, secret, identity or room).
#[derive(Debug, thiserror::Error)]
#[error("cannot mint a LiveKit token: {0}")]
pub struct TokenError(String);

/// The `livekit` object: `{"url", "room", "token"}` in this order (lobby-livekit §2.2).
#[derive(Serialize, Debug, Clone, schemars::JsonSchema)]
#[schemars(rename = "LiveKit")]
pub struct LiveKitOut {
    pub url: Option<String>,
    pub room: String,
    pub token: String,
}

/// The participant identity (§2.4): the user's `sub` (`None` when it is NULL, like Python's
/// `str(None)`), or a new random UUID for each anonymous token.
pub fn identity(user: Option<&User>) -> String {
    match user {
        Some(u) => u.sub.clone().unwrap_or_else(|| "None".into()),
        None => uuid::Uuid::new_v4().to_string(),
    }
}

/// The display name (§2.5): a non-empty `username`, else the user's display string, else
/// `Anonymous`.
pub fn display_name(user: Option<&User>, username: Option<&str>) -> String {
    match (username.filter(|u| !u.is_empty()), user) {
        (Some(name), _) => name.to_string(),
        (None, Some(u)) => u.display(),
        (None, None) => "Anonymous".into(),
    }
}

/// A join token for the LiveKit room `room`. `colour` overrides the identity's colour (the
/// lobby's participant colour); `None` uses `colour(identity)`.
pub fn join_token(
    config: &Config,
    room: &str,
    user: Option<&User>,
    username: Option<&str>,
    colour: Option<&str>,
) -> Result<String, TokenError> {
    let identity = identity(user);
    let colour = colour.map(str::to_string).unwrap_or_else(|| colour::colour(&identity));
    join_token_as(config, room, &identity, &display_name(user, username), &colour)
}

/// A join token with every part given: identity, display name and colour (the lobby mints
/// with the participant's colour, and an anonymous participant's id as identity, S-LK3b).
pub fn join_token_as(
    config: &Config,
    room: &str,
    identity: &str,
    name: &str,
    colour: &str,
) -> Result<String, TokenError> {
    let grants = VideoGrants {
        room_admin: true,
        room_join: true,
        room: room.to_string(),
        can_publish: Some(true),
        can_subscribe: Some(true),
        can_publish_data: Some(true),
        can_publish_sources: PUBLISH_SOURCES.iter().map(|s| s.to_string()).collect(),
        can_update_own_metadata: Some(true),
        ..Default::default()
    };
    AccessToken::with_api_key(&config.livekit_api_key, &config.livekit_api_secret)
        .with_identity(identity)
        .with_name(name)
        .with_metadata(&colour::metadata(colour))
        .with_grants(grants)
        .to_jwt()
        .map_err(|e| TokenError(e.to_string()))
}

/// The `livekit` object for the LiveKit room `room`.
pub fn payload(
    config: &Config,
    room: &str,
    user: Option<&User>,
    username: Option<&str>,
) -> Result<LiveKitOut, TokenError> {
    Ok(LiveKitOut {
        url: config.livekit_api_url.clone(),
        room: room.to_string(),
        token: join_token(config, room, user, username, None)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_lookup(|k| match k {
            "LIVEKIT_API_KEY" => Some("devkey".into()),
            "LIVEKIT_API_SECRET" => Some("secret".into()),
            "DJANGO_SECRET_KEY" => Some("x".into()),
            "MEET_DATA_DIR" => Some(std::env::temp_dir().display().to_string()),
            _ => None,
        })
        .expect("config")
    }

    fn decode(token: &str) -> serde_json::Value {
        use base64::Engine;
        let payload = token.split('.').nth(1).expect("three parts");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[test]
    fn tk_2_tk_3_tk_7_claims_of_an_anonymous_token() {
        let t = join_token(&config(), "room-1", None, None, None).unwrap();
        let c = decode(&t);
        assert_eq!(c["iss"], "devkey");
        assert_eq!(c["exp"].as_u64().unwrap() - c["nbf"].as_u64().unwrap(), 21600);
        assert_eq!(c["name"], "Anonymous");
        assert_eq!(
            c["video"],
            serde_json::json!({"roomAdmin": true, "roomJoin": true, "room": "room-1", "canPublish": true,
                "canSubscribe": true, "canPublishData": true,
                "canPublishSources": ["camera", "microphone", "screen_share", "screen_share_audio"],
                "canUpdateOwnMetadata": true})
        );
        let sub = c["sub"].as_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(sub).unwrap().to_string(), sub);
        assert_eq!(c["metadata"], colour::metadata(&colour::colour(sub)));
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        for k in keys {
            assert!(["name", "metadata", "video", "sub", "iss", "nbf", "exp"].contains(&k.as_str()), "{k}");
        }
    }

    #[test]
    fn tk_7_names() {
        assert_eq!(display_name(None, Some("")), "Anonymous");
        assert_eq!(display_name(None, Some(" ")), " ");
        assert_eq!(display_name(None, Some("Alice")), "Alice");
    }
}
