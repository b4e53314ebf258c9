//! In-call endpoints (now-rooms §3–§5): participant roles, muting, updates, removal, raised
//! hands and renaming. `toggle-hand` and `rename` authenticate with the participant's LiveKit
//! token only; `mute-participant` with the token first, then the session; the others with the
//! session. Handlers parse, call one service function and shape the answer.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::response::Response;
use axum::routing::post;

use schemars::JsonSchema;

use super::bodies::ErrorOut;
use super::extract::{Body, Caller};
use super::rooms::room_ref;
use super::{ApiRoute, ViewAuth};
use crate::domain::slug::RoomRef;
use crate::error::{json_response, ApiError};
use crate::i18n::msg;
use crate::livekit::verify::{self, ParticipantClaims};
use crate::service::participants::{self, InCall, Reply};
use crate::state::AppState;
use crate::store::users::User;
use serde_json::{Map, Value};

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new(
            "/api/v1.0/rooms/{id}/update-participant-role/",
            "Room",
            ViewAuth::User,
            post(update_participant_role),
        )
        .doc(Method::POST, "Promote a connected participant to administrator or demote them to member")
        .body::<RoleChangeIn>()
        .returns::<RoleChangeOut>(200)
        .errors(&[403, 404])
        .returns::<ErrorOut>(403)
        .returns::<ErrorOut>(404)
        .returns::<ErrorOut>(502),
        ApiRoute::new("/api/v1.0/rooms/{id}/mute-participant/", "Room", ViewAuth::Any, post(mute_participant))
            .doc(Method::POST, "Mute a participant's track (administrators, or participants when everyone can mute)")
            .body::<MuteIn>()
            .returns::<StatusOut>(200)
            .errors(&[403, 404])
            .returns::<ErrorOut>(403)
            .returns::<ErrorOut>(404)
            .returns::<ErrorOut>(500),
        ApiRoute::new("/api/v1.0/rooms/{id}/update-participant/", "Room", ViewAuth::User, post(update_participant))
            .doc(Method::POST, "Change a participant's name, metadata, attributes or permission (administrators)")
            .body::<ParticipantUpdateIn>()
            .returns::<StatusOut>(200)
            .errors(&[403, 404])
            .returns::<ErrorOut>(404)
            .returns::<ErrorOut>(500),
        ApiRoute::new("/api/v1.0/rooms/{id}/remove-participant/", "Room", ViewAuth::User, post(remove_participant))
            .doc(Method::POST, "Remove a participant from the call (administrators)")
            .body::<ParticipantIn>()
            .returns::<StatusOut>(200)
            .errors(&[403, 404])
            .returns::<ErrorOut>(404)
            .returns::<ErrorOut>(500),
        ApiRoute::new("/api/v1.0/rooms/{id}/toggle-hand/", "Room", ViewAuth::Any, post(toggle_hand))
            .doc(Method::POST, "Raise or lower the caller's hand (LiveKit token)")
            .body::<ToggleHandIn>()
            .returns::<StatusOut>(200)
            .errors(&[403, 404])
            .returns::<ErrorOut>(404)
            .returns::<ErrorOut>(500),
        ApiRoute::new("/api/v1.0/rooms/{id}/rename/", "Room", ViewAuth::Any, post(rename))
            .doc(Method::POST, "Change the caller's display name in the call (LiveKit token)")
            .body::<RenameIn>()
            .returns::<StatusOut>(200)
            .errors(&[403, 404])
            .returns::<ErrorOut>(404)
            .returns::<ErrorOut>(500),
    ]
}

/// The body of `update-participant-role`.
#[derive(Debug, JsonSchema)]
#[schemars(rename = "ParticipantRoleChange")]
pub struct RoleChangeIn {
    /// The LiveKit identity of a connected participant (a user's `sub`).
    pub participant_identity: String,
    pub role: AssignableRole,
}

/// The roles `update-participant-role` assigns.
#[derive(Debug, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AssignableRole {
    Member,
    Administrator,
}

/// The answer of `update-participant-role`.
#[derive(Debug, JsonSchema)]
#[schemars(rename = "ParticipantRole")]
pub struct RoleChangeOut {
    pub role: AssignableRole,
    /// Whether LiveKit's `room_role` attribute was updated too.
    pub livekit_synced: bool,
}

/// The body of `mute-participant`.
#[derive(Debug, JsonSchema)]
#[schemars(rename = "ParticipantMute")]
pub struct MuteIn {
    pub participant_identity: String,
    #[schemars(length(min = 1, max = 255))]
    pub track_sid: String,
}

/// The body of `remove-participant`.
#[derive(Debug, JsonSchema)]
#[schemars(rename = "Participant")]
pub struct ParticipantIn {
    pub participant_identity: String,
}

/// The body of `update-participant`: at least one of `metadata`, `attributes`, `permission`, `name`.
#[derive(Debug, JsonSchema)]
#[schemars(rename = "ParticipantUpdate")]
pub struct ParticipantUpdateIn {
    pub participant_identity: String,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub attributes: Option<std::collections::BTreeMap<String, String>>,
    /// LiveKit's `ParticipantPermission` (snake_case keys; `hidden`, `recorder`, `agent` and
    /// `can_update_metadata: true` are refused).
    pub permission: Option<serde_json::Map<String, serde_json::Value>>,
    #[schemars(length(max = 255))]
    pub name: Option<String>,
}

/// The body of `toggle-hand`.
#[derive(Debug, JsonSchema)]
#[schemars(rename = "HandState")]
pub struct ToggleHandIn {
    pub raised: bool,
}

/// The body of `rename`.
#[derive(Debug, JsonSchema)]
#[schemars(rename = "ParticipantName")]
pub struct RenameIn {
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
}

/// `{"status": "success"}`.
#[derive(Debug, JsonSchema)]
#[schemars(rename = "Success")]
pub struct StatusOut {
    #[schemars(regex(pattern = "^success$"))]
    pub status: String,
}

/// The caller's LiveKit token from `Authorization: Bearer <jwt>` (now-rooms §3.1): `None` without
/// the header; refusals are 403s (this authenticator has no challenge).
pub struct LiveKitToken(pub Option<ParticipantClaims>);

impl FromRequestParts<AppState> for LiveKitToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(raw) = parts.headers.get(header::AUTHORIZATION) else { return Ok(LiveKitToken(None)) };
        let malformed = || ApiError::ForbiddenMessage(msg::LIVEKIT_AUTHORIZATION_HEADER.into());
        let raw = raw.to_str().map_err(|_| malformed())?;
        let words: Vec<&str> = raw.split_whitespace().collect();
        let [scheme, token] = words.as_slice() else { return Err(malformed()) };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(malformed());
        }
        let config = &state.config;
        let now = chrono::Utc::now().timestamp();
        verify::verify(token, &config.livekit_api_key, &config.livekit_api_secret, now)
            .map(|c| LiveKitToken(Some(c)))
            .map_err(|e| ApiError::ForbiddenMessage(msg::INVALID_LIVEKIT_TOKEN.arg("reason", e.0)))
    }
}

impl LiveKitToken {
    /// The claims, or the 403 of a request without a token.
    fn required(self) -> Result<ParticipantClaims, ApiError> {
        self.0.ok_or_else(|| ApiError::ForbiddenMessage(crate::error::UNAUTHENTICATED.into()))
    }
}

fn reply(r: Reply) -> Response {
    json_response(r.0, &r.1)
}

/// What a session-authenticated room action needs: the user, the room reference and the body.
fn session_request(
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<(User, RoomRef, Map<String, Value>), ApiError> {
    let user = caller?.require_user()?.clone();
    Ok((user, room_ref(id)?, body?.object()?))
}

/// What a LiveKit-token action needs: the token's claims, the room reference and the body.
fn token_request(
    token: Result<LiveKitToken, ApiError>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<(ParticipantClaims, RoomRef, Map<String, Value>), ApiError> {
    Ok((token?.required()?, room_ref(id)?, body?.object()?))
}

/// `POST /api/v1.0/rooms/{id}/update-participant-role/`: now-rooms §4.
async fn update_participant_role(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let (user, reference, body) = session_request(caller, id, body)?;
    Ok(reply(participants::update_role(&state, &user, &reference, &body).await?))
}

/// `POST /api/v1.0/rooms/{id}/mute-participant/`: now-rooms §5.1.
async fn mute_participant(
    State(state): State<AppState>,
    token: Result<LiveKitToken, ApiError>,
    mut parts: Parts,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    // The token wins when both are sent; the session is only read without one.
    let caller = match token?.0 {
        Some(claims) => InCall::Token(claims),
        None => match Caller::from_request_parts(&mut parts, &state).await? {
            Caller::Anonymous => InCall::Nobody,
            other => InCall::User(Box::new(other.require_user()?.clone())),
        },
    };
    let reference = room_ref(id)?;
    let body = body?.object()?;
    Ok(reply(participants::mute(&state, &caller, &reference, &body).await?))
}

/// `POST /api/v1.0/rooms/{id}/update-participant/`: now-rooms §5.2.
async fn update_participant(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let (user, reference, body) = session_request(caller, id, body)?;
    Ok(reply(participants::update(&state, &user, &reference, &body).await?))
}

/// `POST /api/v1.0/rooms/{id}/remove-participant/`: now-rooms §5.3.
async fn remove_participant(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let (user, reference, body) = session_request(caller, id, body)?;
    Ok(reply(participants::remove(&state, &user, &reference, &body).await?))
}

/// `POST /api/v1.0/rooms/{id}/toggle-hand/`: now-rooms §5.4.
async fn toggle_hand(
    State(state): State<AppState>,
    token: Result<LiveKitToken, ApiError>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let (claims, reference, body) = token_request(token, id, body)?;
    Ok(reply(participants::toggle_hand(&state, &claims, &reference, &body).await?))
}

/// `POST /api/v1.0/rooms/{id}/rename/`: now-rooms §5.5.
async fn rename(
    State(state): State<AppState>,
    token: Result<LiveKitToken, ApiError>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let (claims, reference, body) = token_request(token, id, body)?;
    Ok(reply(participants::rename(&state, &claims, &reference, &body).await?))
}
