//! Participant management in a running call (now-rooms §3–§5): role changes, muting, updates,
//! removal, raised hands and renaming, all acting on the LiveKit room named by the room UUID.
//! The database stays the source of truth for roles; LiveKit is told afterwards and its failures
//! are answered with the original's `{"error": …}` bodies, never a 500 page.

use axum::http::StatusCode;
use livekit_protocol as proto;
use serde_json::{json, Map, Value};
use tracing::instrument;

use crate::domain::fields::{char_field, choice_field, python_type, NOT_A_STRING, NOT_BLANK, NOT_NULL, REQUIRED};
use crate::domain::participant::{self, PermissionError};
use crate::domain::permissions::{is_administrator, Role};
use crate::domain::slug::RoomRef;
use crate::error::{ApiError, FieldErrors};
use crate::i18n::msg;
use crate::livekit::verify::ParticipantClaims;
use crate::livekit::CallError;
use crate::state::AppState;
use crate::store::rooms::Room;
use crate::store::users::User;
use crate::store::{accesses, users};

/// An answer besides `ApiError`s: a status and its JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply(pub StatusCode, pub Value);

fn error(status: StatusCode, message: &str) -> Reply {
    Reply(status, json!({ "error": message }))
}

fn success() -> Reply {
    Reply(StatusCode::OK, json!({"status": "success"}))
}

/// Who calls an in-call endpoint.
#[derive(Debug, Clone)]
pub enum InCall {
    /// Authenticated by the participant's LiveKit token.
    Token(ParticipantClaims),
    /// Authenticated by a session (or another API credential).
    User(Box<User>),
    /// No credentials.
    Nobody,
}

/// The LiveKit room of a room.
fn lk_room(room: &Room) -> String {
    room.id.to_string()
}

async fn role_on(state: &AppState, room: &Room, user: &User) -> Result<Option<Role>, ApiError> {
    Ok(accesses::role_of(&state.db, user.id, room.id).await?.as_deref().and_then(Role::parse))
}

async fn require_privileges(state: &AppState, room: &Room, user: &User) -> Result<(), ApiError> {
    if is_administrator(role_on(state, room, user).await?) {
        Ok(())
    } else {
        Err(ApiError::ForbiddenMessage(msg::PRIVILEGES_ON_ROOM.into()))
    }
}

/// `HasLiveKitRoomAccess`: the token joins this very room.
fn require_token_for(room: &Room, claims: &ParticipantClaims) -> Result<(), ApiError> {
    if claims.room == lk_room(room) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Connected = known to LiveKit and not `DISCONNECTED`.
async fn is_connected(state: &AppState, room: &Room, identity: &str) -> Result<bool, CallError> {
    match state.livekit.get_participant(&lk_room(room), identity).await {
        Ok(p) => Ok(p.state != proto::participant_info::State::Disconnected as i32),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// The answer to a failed LiveKit participant call: `not_found` is a 404, anything else a 500
/// with the endpoint's message (logged with its cause).
fn failed(e: CallError, message: &str) -> Reply {
    if e.is_not_found() {
        return error(StatusCode::NOT_FOUND, "Participant not found");
    }
    tracing::warn!(error = %e, "{message}");
    error(StatusCode::INTERNAL_SERVER_ERROR, message)
}

/// A required, non-blank string field that is not trimmed (`participant_identity`, `track_sid`).
fn identity_field(body: &Map<String, Value>, key: &str, max: Option<usize>, errors: &mut FieldErrors) -> String {
    match body.get(key) {
        None => {
            errors.add(key, REQUIRED);
        }
        Some(Value::Null) => {
            errors.add(key, NOT_NULL);
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.add(key, NOT_BLANK);
        }
        Some(Value::String(s)) if max.is_some_and(|m| s.chars().count() > m) => {
            errors.add(key, msg::MAX_LENGTH.arg("max_length", max.unwrap_or_default()));
        }
        Some(Value::String(s)) => return s.clone(),
        Some(Value::Number(n)) => return n.to_string(),
        Some(_) => {
            errors.add(key, NOT_A_STRING);
        }
    }
    String::new()
}

/// `POST rooms/{id}/update-participant-role/` (now-rooms §4).
#[instrument(skip_all)]
pub async fn update_role(
    state: &AppState,
    user: &User,
    reference: &RoomRef,
    body: &Map<String, Value>,
) -> Result<Reply, ApiError> {
    let room = super::rooms::find(state, reference).await?;
    require_privileges(state, &room, user).await?;
    let caller_sub = user.sub.clone().unwrap_or_else(|| "None".into());
    if !is_connected(state, &room, &caller_sub).await.unwrap_or(false) {
        return Err(ApiError::ForbiddenMessage(msg::NOT_IN_MEETING.into()));
    }
    let mut errors = FieldErrors::new();
    let identity = identity_field(body, "participant_identity", None, &mut errors);
    let role = match body.get("role") {
        None => {
            errors.add("role", REQUIRED);
            None
        }
        v => choice_field(v, &["member", "administrator"]).map_err(|m| errors.add("role", m)).ok().flatten(),
    };
    errors.into_result()?;
    let role = role.unwrap_or("member");
    if identity == caller_sub {
        return Ok(error(StatusCode::FORBIDDEN, "You cannot change your own role."));
    }
    match is_connected(state, &room, &identity).await {
        Ok(true) => {}
        Ok(false) => return Ok(error(StatusCode::NOT_FOUND, "Participant is not connected to this meeting.")),
        Err(e) => {
            // B-RL-1: the original answers an unhandled 500 page here.
            tracing::warn!(error = %e, "cannot check the participant's presence");
            return Ok(error(StatusCode::BAD_GATEWAY, "Could not verify participant presence"));
        }
    }
    let Some(target) = users::get_by_sub(&state.db, &identity).await? else {
        return Ok(error(StatusCode::NOT_FOUND, "This participant has no user account and cannot be assigned a role."));
    };
    // The access is created or changed under the room lock, like every access change.
    let mut tx = state.db.begin().await?;
    if !crate::store::rooms::lock(&mut tx, room.id).await? {
        return Err(ApiError::NoMatch("Room"));
    }
    match accesses::find_for_user_in(&mut tx, target.id, room.id).await? {
        Some(a) if a.role == "owner" => {
            return Ok(error(StatusCode::FORBIDDEN, "Room owners cannot be demoted."));
        }
        Some(a) if a.role == role => {}
        Some(a) => {
            accesses::set_role(&mut tx, a.id, role).await?;
        }
        None => {
            accesses::insert(&mut tx, room.id, target.id, role).await?;
        }
    }
    tx.commit().await?;
    // B-RL-2: the participant's LiveKit permission follows the new role at once (an admin
    // publishes the default sources, a member the room's), not only at its next token.
    let update = proto::UpdateParticipantRequest {
        room: lk_room(&room),
        identity: identity.clone(),
        attributes: [("room_role".to_string(), role.to_string())].into_iter().collect(),
        permission: Some(permission_for(state, &room, role == "administrator")),
        ..Default::default()
    };
    let synced = match state.livekit.update_participant(update).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "role saved, LiveKit attribute not updated");
            false
        }
    };
    Ok(Reply(StatusCode::OK, json!({"role": role, "livekit_synced": synced})))
}

/// The LiveKit permission of a participant with (or without) administrator privileges, as the
/// join token grants it (now-rooms §7.3).
fn permission_for(state: &AppState, room: &Room, admin: bool) -> proto::ParticipantPermission {
    let defaults = &state.config.rooms.livekit_default_sources;
    let room_sources = crate::domain::room_config::publish_sources(&room.configuration.0);
    let sources = match (&room_sources, admin) {
        (Some(own), false) => own,
        _ => defaults,
    };
    let can_publish_sources: Vec<i32> = sources
        .iter()
        .filter_map(|s| participant::SOURCES.iter().find(|(name, _)| name == s).map(|(_, e)| *e as i32))
        .collect();
    proto::ParticipantPermission {
        can_subscribe: true,
        can_publish: !can_publish_sources.is_empty(),
        can_publish_data: true,
        can_publish_sources,
        ..Default::default()
    }
}

/// `POST rooms/{id}/mute-participant/` (now-rooms §5.1).
#[instrument(skip_all)]
pub async fn mute(
    state: &AppState,
    caller: &InCall,
    reference: &RoomRef,
    body: &Map<String, Value>,
) -> Result<Reply, ApiError> {
    let room = super::rooms::find(state, reference).await?;
    match caller {
        InCall::Nobody => return Err(ApiError::ForbiddenMessage(crate::error::UNAUTHENTICATED.into())),
        InCall::User(user) => {
            if !is_administrator(role_on(state, &room, user).await?) {
                return Err(ApiError::Forbidden);
            }
        }
        InCall::Token(claims) => {
            require_token_for(&room, claims)?;
            if !participant::everyone_can_mute(&room.configuration.0) {
                return Err(ApiError::Forbidden);
            }
        }
    }
    let mut errors = FieldErrors::new();
    let identity = identity_field(body, "participant_identity", None, &mut errors);
    let track_sid = identity_field(body, "track_sid", Some(255), &mut errors);
    errors.into_result()?;
    if let InCall::Token(claims) = caller {
        // B-PM-3: a participant LiveKit reports as disconnected is not present.
        if !is_connected(state, &room, &claims.identity).await.unwrap_or(false) {
            return Ok(error(StatusCode::FORBIDDEN, "Could not verify caller presence"));
        }
    }
    Ok(match state.livekit.mute_track(&lk_room(&room), &identity, &track_sid).await {
        Ok(()) => success(),
        Err(e) => failed(e, "Failed to mute participant"),
    })
}

/// An optional JSON object field (`metadata`, `attributes`): `Ok(None)` when absent or null.
fn optional_object(body: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<Map<String, Value>> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(other) => {
            errors.add(key, msg::NOT_A_DICT.arg("input_type", python_type(other)));
            None
        }
    }
}

/// `POST rooms/{id}/update-participant/` (now-rooms §5.2).
#[instrument(skip_all)]
pub async fn update(
    state: &AppState,
    user: &User,
    reference: &RoomRef,
    body: &Map<String, Value>,
) -> Result<Reply, ApiError> {
    let room = super::rooms::find(state, reference).await?;
    require_privileges(state, &room, user).await?;
    // Forbidden permission fields win over every other error (B-PM-5: as JSON).
    let permission = match body.get("permission").map(participant::parse_permission) {
        Some(Err(PermissionError::Forbidden(fields))) => {
            let message = msg::FORBIDDEN_PERMISSIONS.arg("fields", fields.join(", "));
            tracing::warn!(user = %user.id, room = %room.id, "{message}");
            return Err(FieldErrors::one("permission", message));
        }
        other => other,
    };
    let mut errors = FieldErrors::new();
    let identity = identity_field(body, "participant_identity", None, &mut errors);
    let metadata = optional_object(body, "metadata", &mut errors);
    let attributes = optional_object(body, "attributes", &mut errors);
    let mut attribute_map = std::collections::HashMap::new();
    if let Some(attrs) = &attributes {
        // B-PM-4: LiveKit attributes are strings; anything else is a 400, not a failed call.
        let mut bad = FieldErrors::new();
        for (k, v) in attrs {
            match v {
                Value::String(s) => {
                    attribute_map.insert(k.clone(), s.clone());
                }
                _ => {
                    bad.add(k, NOT_A_STRING);
                }
            }
        }
        if !bad.is_empty() {
            errors.nested("attributes", bad);
        }
    }
    let permission = match permission {
        Some(Ok(p)) => p,
        Some(Err(PermissionError::Invalid(list))) => {
            errors.raw("permission", Value::Array(list));
            None
        }
        Some(Err(PermissionError::Forbidden(_))) | None => None,
    };
    let name = match body.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => Some(String::new()),
        v => char_field(v, false, 255).map_err(|m| errors.add("name", m)).ok().flatten(),
    };
    errors.into_result()?;
    let given = |k: &str| body.get(k).is_some_and(|v| !v.is_null() && v != &json!(""));
    if !["metadata", "attributes", "permission", "name"].iter().any(|k| given(k)) {
        return Err(FieldErrors::one("non_field_errors", msg::PARTICIPANT_UPDATE_EMPTY));
    }
    let update = proto::UpdateParticipantRequest {
        room: lk_room(&room),
        identity,
        // B-PM-1: no metadata given means none sent (the original overwrites it with "null").
        metadata: metadata.map(|m| crate::livekit::python_json(&Value::Object(m))).unwrap_or_default(),
        permission,
        name: name.unwrap_or_default(),
        attributes: attribute_map,
    };
    Ok(match state.livekit.update_participant(update).await {
        Ok(()) => success(),
        Err(e) => failed(e, "Failed to update participant"),
    })
}

/// `POST rooms/{id}/remove-participant/` (now-rooms §5.3).
#[instrument(skip_all)]
pub async fn remove(
    state: &AppState,
    user: &User,
    reference: &RoomRef,
    body: &Map<String, Value>,
) -> Result<Reply, ApiError> {
    let room = super::rooms::find(state, reference).await?;
    require_privileges(state, &room, user).await?;
    let mut errors = FieldErrors::new();
    let identity = identity_field(body, "participant_identity", None, &mut errors);
    errors.into_result()?;
    // The lobby entry goes first: a removed participant waits again, even if LiveKit fails.
    super::lobby::forget(state, room.id, &identity).await?;
    Ok(match state.livekit.remove_participant(&lk_room(&room), &identity).await {
        Ok(()) => success(),
        Err(e) => failed(e, "Failed to remove participant"),
    })
}

/// `UpdateParticipant` of the token's own participant in the room, answered as the in-call
/// endpoints answer (`failure` is the endpoint's 500 message).
async fn update_self(
    state: &AppState,
    room: &Room,
    claims: &ParticipantClaims,
    update: proto::UpdateParticipantRequest,
    failure: &str,
) -> Reply {
    let update = proto::UpdateParticipantRequest { room: lk_room(room), identity: claims.identity.clone(), ..update };
    match state.livekit.update_participant(update).await {
        Ok(()) => success(),
        Err(e) => failed(e, failure),
    }
}

/// `POST rooms/{id}/toggle-hand/` (now-rooms §5.4): the caller's own hand.
#[instrument(skip_all)]
pub async fn toggle_hand(
    state: &AppState,
    claims: &ParticipantClaims,
    reference: &RoomRef,
    body: &Map<String, Value>,
) -> Result<Reply, ApiError> {
    let room = super::rooms::find(state, reference).await?;
    require_token_for(&room, claims)?;
    let raised = match body.get("raised") {
        None => return Err(FieldErrors::one("raised", REQUIRED)),
        Some(v) => participant::drf_bool(v).ok_or_else(|| FieldErrors::one("raised", msg::INVALID_BOOLEAN))?,
    };
    let value = if raised { participant::python_isoformat(chrono::Utc::now()) } else { String::new() };
    let attributes = [("handRaisedAt".to_string(), value)].into_iter().collect();
    let update = proto::UpdateParticipantRequest { attributes, ..Default::default() };
    Ok(update_self(state, &room, claims, update, "Failed to update participant hand state").await)
}

/// `POST rooms/{id}/rename/` (now-rooms §5.5): the caller's own display name.
#[instrument(skip_all)]
pub async fn rename(
    state: &AppState,
    claims: &ParticipantClaims,
    reference: &RoomRef,
    body: &Map<String, Value>,
) -> Result<Reply, ApiError> {
    let room = super::rooms::find(state, reference).await?;
    require_token_for(&room, claims)?;
    let mut name =
        char_field(body.get("name"), true, 255).map_err(|m| FieldErrors::one("name", m))?.unwrap_or_default();
    if !state.config.rooms.authenticated_participants_can_edit_display_name {
        // B-SEC-5: a logged-in participant keeps the name of their account (200, as the frontend
        // calls this with the current name on every settings save).
        if let Some(user) = users::get_by_sub(&state.db, &claims.identity).await? {
            name = crate::livekit::token::default_name(&user);
        }
    }
    let update = proto::UpdateParticipantRequest { name, ..Default::default() };
    Ok(update_self(state, &room, claims, update, "Failed to rename participant").await)
}
