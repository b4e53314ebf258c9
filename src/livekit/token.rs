//! LiveKit join tokens as upstream HEAD mints them (now-rooms §7) and the `livekit` object of
//! room payloads. A compact HS256 JWS signed with the API secret, `iss` = API key, 6 h TTL; the
//! claims are written here, in upstream's order, because the grants must carry `false` values
//! that LiveKit's token library would drop (`roomAdmin`, `canPublish`).
//!
//! Two choices differ from upstream, both invisible to LiveKit and the frontend: the reference's
//! `metadata` claim (`{"color": …}`) is kept next to HEAD's `attributes`; a caller without role
//! gets `room_role: ""` where upstream writes JSON `null` (LiveKit stores both as an empty
//! attribute; `""` keeps the claims a string map for every JWT library).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};

use crate::config::Config;
use crate::domain::colour;
use crate::domain::permissions::{self, Role};
use crate::store::users::User;

/// Lifetime of a join token (§7).
pub const TTL_SECONDS: u64 = 6 * 3600;

/// Why no token could be minted.
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

/// The participant identity (§7.5): the user's `sub` (`None` when it is NULL, like Python's
/// `str(None)`), or a new random UUID for each anonymous token.
pub fn identity(user: Option<&User>) -> String {
    match user {
        Some(u) => u.sub.clone().unwrap_or_else(|| "None".into()),
        None => uuid::Uuid::new_v4().to_string(),
    }
}

/// The default display name of a user (§7.4): the full name when non-empty, else the display
/// string (e-mail, admin e-mail, id).
pub fn default_name(user: &User) -> String {
    user.full_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| user.display())
}

/// The display name (§7.4): a non-empty `username` (ignored for authenticated callers when
/// `can_edit` is false), else the user's default name, else `Anonymous`.
pub fn display_name(user: Option<&User>, username: Option<&str>, can_edit: bool) -> String {
    let supplied = username.filter(|u| !u.is_empty());
    match (user, supplied) {
        (Some(_), Some(name)) if can_edit => name.to_string(),
        (Some(u), _) => default_name(u),
        (None, Some(name)) => name.to_string(),
        (None, None) => "Anonymous".into(),
    }
}

/// Everything that varies between two join tokens.
#[derive(Clone, Debug)]
pub struct Grant<'a> {
    /// The LiveKit room name.
    pub room: &'a str,
    pub identity: &'a str,
    pub name: &'a str,
    /// `hsl(…)` colour of the participant.
    pub colour: &'a str,
    /// The caller's role on the room (none for anonymous and unrelated callers).
    pub role: Option<Role>,
    pub is_authenticated: bool,
    /// The room configuration's `can_publish_sources` (`None`: `LIVEKIT_DEFAULT_SOURCES`).
    pub room_sources: Option<Vec<String>>,
}

/// The `video` grants of §7.3: administrators and owners get `roomAdmin` and the default
/// sources; everyone else the room's sources. Nobody may update their own metadata.
pub fn video_grants(config: &Config, g: &Grant<'_>) -> Value {
    let admin = permissions::is_administrator(g.role);
    let defaults = &config.rooms.livekit_default_sources;
    let sources = match (&g.room_sources, admin) {
        (Some(room), false) => room,
        _ => defaults,
    };
    json!({
        "roomAdmin": admin,
        "roomJoin": true,
        "room": g.room,
        "canPublish": !sources.is_empty(),
        "canSubscribe": true,
        "canPublishData": true,
        "canPublishSources": sources,
        "canUpdateOwnMetadata": false,
    })
}

/// The claims of a join token valid from `nbf` (seconds since the epoch), in upstream's order.
pub fn claims(config: &Config, g: &Grant<'_>, nbf: u64) -> Value {
    let mut c = serde_json::Map::new();
    if !g.name.is_empty() {
        c.insert("name".into(), json!(g.name));
    }
    c.insert("video".into(), video_grants(config, g));
    c.insert("metadata".into(), json!(colour::metadata(g.colour)));
    c.insert(
        "attributes".into(),
        json!({
            "color": g.colour,
            "room_role": g.role.map_or("", Role::as_str),
            "is_authenticated": if g.is_authenticated { "true" } else { "false" },
        }),
    );
    if !g.identity.is_empty() {
        c.insert("sub".into(), json!(g.identity));
    }
    c.insert("iss".into(), json!(config.livekit_api_key));
    c.insert("nbf".into(), json!(nbf));
    c.insert("exp".into(), json!(nbf + TTL_SECONDS));
    Value::Object(c)
}

/// Signs `claims` as a compact HS256 JWS with `secret`.
pub fn sign(claims: &Value, secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, input.as_bytes()).as_ref());
    format!("{input}.{signature}")
}

/// A join token for `g`, valid from now.
pub fn mint(config: &Config, g: &Grant<'_>) -> Result<String, TokenError> {
    if config.livekit_api_key.is_empty() || config.livekit_api_secret.is_empty() {
        return Err(TokenError("LIVEKIT_API_KEY and LIVEKIT_API_SECRET must be set".into()));
    }
    if g.room.is_empty() {
        return Err(TokenError("no room name".into()));
    }
    let nbf = chrono::Utc::now().timestamp().max(0) as u64;
    Ok(sign(&claims(config, g, nbf), &config.livekit_api_secret))
}

/// The `livekit` object for the LiveKit room `room`, for a caller with no role and the default
/// sources (unregistered rooms, §7.1).
pub fn payload(
    config: &Config,
    room: &str,
    user: Option<&User>,
    username: Option<&str>,
) -> Result<LiveKitOut, TokenError> {
    let identity = identity(user);
    let colour = colour::colour(&identity);
    let name = display_name(user, username, config.rooms.authenticated_participants_can_edit_display_name);
    let grant = Grant {
        room,
        identity: &identity,
        name: &name,
        colour: &colour,
        role: None,
        is_authenticated: user.is_some(),
        room_sources: None,
    };
    Ok(LiveKitOut { url: config.livekit_api_url.clone(), room: room.to_string(), token: mint(config, &grant)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut vars = vec![("LIVEKIT_API_KEY", "devkey"), ("LIVEKIT_API_SECRET", "secret")];
        vars.extend_from_slice(extra);
        crate::config::from_pairs(&vars).expect("config")
    }

    fn grant<'a>(role: Option<Role>, room_sources: Option<Vec<String>>) -> Grant<'a> {
        Grant {
            room: "3f0c6d0e-1b7a-4b61-9a53-5d2c7f6e8a90",
            identity: "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            name: "Jane Doe",
            colour: "hsl(114, 52%, 34%)",
            role,
            is_authenticated: role.is_some(),
            room_sources,
        }
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn nr_tk_owner_vector_of_the_spec() {
        let c = claims(&config(&[]), &grant(Some(Role::Owner), None), 1_795_818_262);
        assert_eq!(keys(&c), ["name", "video", "metadata", "attributes", "sub", "iss", "nbf", "exp"]);
        assert_eq!(
            c["video"],
            json!({"roomAdmin": true, "roomJoin": true, "room": "3f0c6d0e-1b7a-4b61-9a53-5d2c7f6e8a90",
                "canPublish": true, "canSubscribe": true, "canPublishData": true,
                "canPublishSources": ["camera", "microphone", "screen_share", "screen_share_audio"],
                "canUpdateOwnMetadata": false})
        );
        assert_eq!(keys(&c["video"])[0], "roomAdmin");
        assert_eq!(
            c["attributes"],
            json!({"color": "hsl(114, 52%, 34%)", "room_role": "owner", "is_authenticated": "true"})
        );
        assert_eq!(keys(&c["attributes"]), ["color", "room_role", "is_authenticated"]);
        assert_eq!(c["sub"], "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d");
        assert_eq!(c["iss"], "devkey");
        assert_eq!(c["exp"].as_u64().unwrap() - c["nbf"].as_u64().unwrap(), 21_600);
        assert_eq!(c["metadata"], "{\"color\": \"hsl(114, 52%, 34%)\"}");
    }

    #[test]
    fn nr_tk_1_member_gets_the_room_sources() {
        let c = claims(&config(&[]), &grant(Some(Role::Member), Some(vec!["camera".into()])), 0);
        assert_eq!(c["video"]["canPublishSources"], json!(["camera"]));
        assert_eq!(c["video"]["canPublish"], true);
        assert_eq!(c["video"]["roomAdmin"], false);
        assert_eq!(c["attributes"]["room_role"], "member");
    }

    #[test]
    fn nr_tk_2_administrators_ignore_the_room_sources() {
        let c = claims(&config(&[]), &grant(Some(Role::Administrator), Some(vec!["camera".into()])), 0);
        assert_eq!(c["video"]["canPublishSources"].as_array().unwrap().len(), 4);
        assert_eq!(c["video"]["roomAdmin"], true);
    }

    #[test]
    fn nr_tk_3_no_sources_no_publishing() {
        let c = claims(&config(&[]), &grant(None, Some(vec![])), 0);
        assert_eq!(c["video"]["canPublish"], false);
        assert_eq!(c["video"]["canPublishSources"], json!([]));
        assert_eq!(c["attributes"]["room_role"], "");
        assert_eq!(c["attributes"]["is_authenticated"], "false");
        let c = claims(&config(&[("LIVEKIT_DEFAULT_SOURCES", "microphone")]), &grant(Some(Role::Owner), None), 0);
        assert_eq!(c["video"]["canPublishSources"], json!(["microphone"]));
    }

    #[test]
    fn nr_tk_4_nr_tk_5_display_names() {
        let user = |full: Option<&str>| User {
            id: uuid::Uuid::nil(),
            sub: Some("s".into()),
            email: Some("jane@example.com".into()),
            admin_email: None,
            full_name: full.map(String::from),
            short_name: None,
            language: "en-us".into(),
            timezone: "UTC".into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            is_device: false,
            password: "!".into(),
            last_login: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            default_room_access_level: None,
            default_room_configuration: sqlx::types::Json(json!({})),
        };
        let jane = user(Some("Jane Doe"));
        assert_eq!(display_name(Some(&jane), Some("Custom"), false), "Jane Doe");
        assert_eq!(display_name(Some(&jane), Some("Custom"), true), "Custom");
        assert_eq!(display_name(Some(&jane), Some(""), true), "Jane Doe");
        assert_eq!(display_name(Some(&user(None)), None, true), "jane@example.com");
        assert_eq!(display_name(Some(&user(Some(""))), None, true), "jane@example.com");
        assert_eq!(display_name(None, Some("Guest42"), false), "Guest42");
        assert_eq!(display_name(None, Some(""), true), "Anonymous");
        assert_eq!(display_name(None, Some(" "), true), " ");
    }

    #[test]
    fn minted_tokens_verify_with_livekit_library() {
        let c = config(&[]);
        let t = mint(&c, &grant(None, None)).unwrap();
        let claims = livekit_api::access_token::TokenVerifier::with_api_key("devkey", "secret").verify(&t).unwrap();
        assert_eq!(claims.name, "Jane Doe");
        assert!(!claims.video.room_admin);
        assert_eq!(claims.attributes.get("color").map(String::as_str), Some("hsl(114, 52%, 34%)"));
    }
}
