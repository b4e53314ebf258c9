//! Unregistered rooms (lobby-livekit §3): with `ALLOW_UNREGISTERED_ROOMS`, an identifier that
//! matches no room gets a throw-away LiveKit room named `slugify(identifier)`. The S-LK1 fix is
//! applied: an empty slug, or one that reads as a UUID (the LiveKit name of every registered
//! room, deleted ones included), never gets a token.

use serde::Serialize;
use serde_json::Value;

use crate::domain::slug::{parse_python_uuid, slugify};
use crate::error::ApiError;
use crate::livekit::token::{self, LiveKitOut};
use crate::state::AppState;
use crate::store::users::User;

/// The answer for `GET /rooms/{segment}/` once the lookup found nothing: `{"id": null,
/// "livekit": {...}}`, or the lookup's 404.
pub async fn fallback(
    state: &AppState,
    segment: &str,
    user: Option<&User>,
    username: Option<&str>,
) -> Result<Value, ApiError> {
    if !state.config.allow_unregistered_rooms {
        return Err(ApiError::NoMatch("Room"));
    }
    let slug = slugify(segment);
    // The lookup already failed for this slug; a UUID-looking slug could be a registered room's
    // LiveKit name (S-LK1), and an empty one names nothing (B2).
    if slug.is_empty() || parse_python_uuid(&slug).is_some() {
        return Err(ApiError::NoMatch("Room"));
    }
    let livekit = token::payload(&state.config, &slug, user, username).map_err(ApiError::internal)?;
    // now-rooms §6.2: HEAD's keys, in its order.
    let out = UnregisteredRoomOut { id: None, slug, is_administrable: false, access_level: "public", livekit };
    serde_json::to_value(out).map_err(ApiError::internal)
}

/// The representation of an unregistered room: no id, a token for its throw-away LiveKit room.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "UnregisteredRoom")]
pub struct UnregisteredRoomOut {
    /// Always `null`.
    #[schemars(with = "()")]
    pub id: Option<uuid::Uuid>,
    pub slug: String,
    /// Always `false`.
    pub is_administrable: bool,
    /// Always `public`.
    pub access_level: &'static str,
    pub livekit: LiveKitOut,
}
