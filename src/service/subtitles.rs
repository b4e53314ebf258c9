//! `POST rooms/{id}/start-subtitle/` (now-rooms §9): asks LiveKit to dispatch the transcription
//! agent into the room's LiveKit room. Any participant holding a token for this room may ask;
//! each LiveKit identity is throttled (B-SEC-7), since the agent is costly to start.

use axum::http::StatusCode;
use serde_json::json;
use tracing::instrument;

use super::participants::Reply;
use crate::domain::slug::RoomRef;
use crate::error::ApiError;
use crate::i18n::{msg, Msg};
use crate::livekit::verify::ParticipantClaims;
use crate::state::AppState;

/// Order: (token authentication in the handler) → throttle per identity → feature flag → room →
/// token for this room → `CreateDispatch`.
#[instrument(skip_all)]
pub async fn start(state: &AppState, claims: &ParticipantClaims, reference: &RoomRef) -> Result<Reply, ApiError> {
    let cfg = &state.config.incall;
    super::throttle::check(state, "start_subtitle", &claims.identity, cfg.subtitle_throttle_rate).await?;
    if !state.config.rooms.room_subtitle_enabled {
        return Err(ApiError::NotFound);
    }
    let room = super::rooms::find(state, reference).await?;
    let lk_room = room.id.to_string();
    if claims.room != lk_room {
        return Err(ApiError::Forbidden);
    }
    match state.livekit.create_agent_dispatch(&lk_room, &state.config.rooms.room_subtitle_agent_name).await {
        Ok(()) => Ok(Reply(StatusCode::OK, json!({"status": "success"}))),
        Err(e) => {
            tracing::warn!(room.id = %room.id, error = %e, "subtitle agent not dispatched");
            let slug = room.slug.clone().unwrap_or_default();
            let text = Msg::from(msg::SUBTITLES_FAILED).arg("slug", slug).text();
            Ok(Reply(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": text })))
        }
    }
}
