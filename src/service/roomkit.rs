//! `POST roomkit/join/` (now-rooms §11): a meeting-room device dialled a room's PIN before any
//! WebRTC participant joined; make sure the room's SIP dispatch rule exists so the device can
//! enter. The server-to-server authentication is the handler's; this is what follows it. The
//! same dispatch rules follow the LiveKit room's life (`room_started`, `room_finished`).

use axum::http::StatusCode;
use serde_json::{json, Map, Value};
use tracing::instrument;
use uuid::Uuid;

use super::participants::Reply;
use crate::domain::fields::char_field;
use crate::error::{ApiError, FieldErrors};
use crate::i18n::{msg, Msg};
use crate::livekit::CallError;
use crate::state::AppState;

/// The name of a room's dispatch rule (now-rooms §10.2).
pub fn rule_name(room: Uuid) -> String {
    format!("SIP_{room}")
}

/// A PIN as B-TEL-3 recommends: 4 to 32 digits, whatever `ROOM_TELEPHONY_PIN_LENGTH` is now
/// (rooms keep the PIN they were given under an older length).
fn check_pin(pin: &str) -> Result<(), Msg> {
    if !(4..=32).contains(&pin.chars().count()) {
        return Err(msg::PIN_LENGTH_INVALID.into());
    }
    if !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(msg::PIN_NOT_DIGITS.into());
    }
    Ok(())
}

/// Ensures the room's direct dispatch rule (now-rooms §10.2): nothing when a rule of that name
/// exists, else one is created; `Ok(true)` when this call created it.
pub async fn ensure_dispatch_rule(state: &AppState, room: Uuid, pin: &str) -> Result<bool, CallError> {
    let name = rule_name(room);
    if state.livekit.list_sip_dispatch_rules().await?.iter().any(|r| r.name == name) {
        return Ok(false);
    }
    match state.livekit.create_sip_dispatch_rule(&name, &room.to_string(), pin).await {
        Ok(()) => Ok(true),
        // Created meanwhile by another caller.
        Err(CallError::Twirp { code, .. }) if code == "already_exists" => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes every dispatch rule of the room (now-rooms §10.2: more than one is logged as an
/// error and all are deleted); returns how many were deleted.
pub async fn delete_dispatch_rules(state: &AppState, room: Uuid) -> Result<usize, CallError> {
    let name = rule_name(room);
    let ids: Vec<String> = state
        .livekit
        .list_sip_dispatch_rules()
        .await?
        .into_iter()
        .filter(|r| r.name == name)
        .map(|r| r.sip_dispatch_rule_id)
        .collect();
    if ids.len() > 1 {
        tracing::error!(room.id = %room, rules = ids.len(), "several SIP dispatch rules for one room; deleting all");
    }
    for id in &ids {
        match state.livekit.delete_sip_dispatch_rule(id).await {
            Ok(()) => {}
            // Deleted meanwhile (by another instance handling the same webhook).
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ids.len())
}

/// `room_started` (now-rooms §16.3): with telephony or roomkit on, the room's dispatch rule is
/// ensured. Unregistered and unknown rooms, and rooms without a PIN, are logged and left alone
/// (B-WH-1, B-TEL-1: no rule with the PIN "None").
pub async fn on_room_started(state: &AppState, room_name: &str) -> Result<(), ApiError> {
    let settings = &state.config.rooms;
    if !(settings.room_telephony_enabled || settings.roomkit_enabled) {
        return Ok(());
    }
    let Ok(id) = Uuid::try_parse(room_name) else {
        tracing::info!(room = room_name, "room started: not a registered room, no dispatch rule");
        return Ok(());
    };
    let Some(room) = crate::store::rooms::get(&state.db, id).await? else {
        tracing::info!(room.id = %id, "room started: unknown room, no dispatch rule");
        return Ok(());
    };
    let Some(pin) = room.pin_code else {
        tracing::warn!(room.id = %id, "room started: the room has no PIN, no dispatch rule");
        return Ok(());
    };
    let created = ensure_dispatch_rule(state, id, &pin).await.map_err(ApiError::internal)?;
    tracing::info!(room.id = %id, created, "room started: dispatch rule ensured");
    Ok(())
}

/// `room_finished` (now-rooms §16.4, B-WH-2): the lobby is always cleared, then the room's
/// dispatch rules are deleted (with telephony or roomkit on); a LiveKit failure is reported
/// after the clean-up.
pub async fn on_room_finished(state: &AppState, room_name: &str) -> Result<(), ApiError> {
    // E3: rooms that are not ours (unregistered rooms, other applications) are ignored.
    let Ok(id) = Uuid::try_parse(room_name) else { return Ok(()) };
    let cleared = super::lobby::clear(state, id).await?;
    tracing::info!(room.id = %id, cleared, "room finished: lobby cleared");
    let settings = &state.config.rooms;
    if settings.room_telephony_enabled || settings.roomkit_enabled {
        let deleted = delete_dispatch_rules(state, id).await.map_err(ApiError::internal)?;
        tracing::info!(room.id = %id, deleted, "room finished: dispatch rules deleted");
    }
    Ok(())
}

/// Order: throttle (one bucket for every caller) → feature flag → body → room → rule.
#[instrument(skip_all)]
pub async fn join(state: &AppState, body: Result<Map<String, Value>, ApiError>) -> Result<Reply, ApiError> {
    let cfg = &state.config.incall;
    super::throttle::check(state, "roomkit_join", "None", cfg.roomkit_join_throttle_rate).await?;
    if !state.config.rooms.roomkit_enabled {
        return Err(ApiError::NotFound);
    }
    let body = body?;
    let pin = char_field(body.get("pin_code"), true, usize::MAX)
        .and_then(|p| {
            let p = p.unwrap_or_default();
            check_pin(&p).map(|()| p)
        })
        .map_err(|m| FieldErrors::one("pin_code", m))?;
    let Some(room) = crate::store::roomkit::room_id_by_pin(&state.db, &pin).await? else {
        return Err(ApiError::NotFoundMessage(msg::NO_ROOM_FOR_PIN.into()));
    };
    match ensure_dispatch_rule(state, room, &pin).await {
        Ok(created) => {
            tracing::info!(room.id = %room, dispatch_rule_created = created, "roomkit joined");
            Ok(Reply(StatusCode::OK, json!({"status": "success"})))
        }
        Err(e) => {
            tracing::warn!(room.id = %room, error = %e, "SIP dispatch rule not created");
            Ok(Reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"detail": Msg::from(msg::DISPATCH_RULE_FAILED).text()})))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b_tel_3_pins_are_4_to_32_digits() {
        assert!(check_pin("1234").is_ok() && check_pin(&"9".repeat(32)).is_ok());
        assert_eq!(check_pin("123"), Err(msg::PIN_LENGTH_INVALID.into()));
        assert_eq!(check_pin(&"1".repeat(33)), Err(msg::PIN_LENGTH_INVALID.into()));
        assert_eq!(check_pin("12a4"), Err(msg::PIN_NOT_DIGITS.into()));
    }
}
