//! The lobby routes (lobby-livekit §4, L statements): `request-entry`, `waiting-participants`,
//! `enter`. The rules and the atomic cache operations live in `service::lobby`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;

use super::bodies::MessageOut;
use super::client_ip::ClientIp;
use super::extract::{cookie, Body, Caller};
use super::rooms::room_ref;
use super::{ApiRoute, ViewAuth};
use crate::domain::lobby;
use crate::error::{json_response, ApiError};
use crate::service::lobby::{self as svc, DecideError};
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/api/v1.0/rooms/{id}/request-entry/", "Room", ViewAuth::Any, post(request_entry))
            .doc(Method::POST, "Ask to enter a room: join at once, or wait in its lobby (poll every second)")
            .body::<EntryRequestIn>()
            .returns::<svc::Admission>(200)
            .errors(&[404, 429]),
        ApiRoute::new("/api/v1.0/rooms/{id}/waiting-participants/", "Room", ViewAuth::User, get(waiting_participants))
            .doc(Method::GET, "Participants waiting in the room's lobby (administrators)")
            .returns::<WaitingOut>(200)
            .errors(&[403, 404]),
        ApiRoute::new("/api/v1.0/rooms/{id}/enter/", "Room", ViewAuth::User, post(enter))
            .doc(Method::POST, "Accept or deny a waiting participant (administrators)")
            .body::<EntryDecisionIn>()
            .returns::<MessageOut>(200)
            .returns::<MessageOut>(404)
            .errors(&[403, 404]),
    ]
}

/// The body of `request-entry`, as `domain::lobby::parse_username` reads it (a number is also
/// taken, as its string).
#[derive(Debug, schemars::JsonSchema)]
pub struct EntryRequestIn {
    /// Trimmed; not blank; at most `MEET_LOBBY_USERNAME_MAX_LENGTH` characters.
    #[schemars(length(min = 1))]
    pub username: String,
}

/// The body of `enter`, as `domain::lobby::parse_decision` reads it (DRF's boolean parsing also
/// takes `"true"`, `1`, …).
#[derive(Debug, schemars::JsonSchema)]
pub struct EntryDecisionIn {
    #[schemars(length(min = 1))]
    pub participant_id: String,
    pub allow_entry: bool,
}

/// The answer of `waiting-participants`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WaitingOut {
    pub participants: Vec<lobby::Entry>,
}

/// Message bodies of `enter` use `message`, not `detail` (Q6).
fn message(status: StatusCode, text: &str) -> Response {
    super::rooms::respond(status, &MessageOut::new(text))
}

/// `POST /api/v1.0/rooms/{id}/request-entry/`: lobby-livekit §4.4. Order: authentication, throttle
/// (anonymous callers, Q1), body, room, lobby.
async fn request_entry(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let cookie_name = &state.config.lobby_cookie_name;
    let pid = cookie(&headers, cookie_name).filter(|c| lobby::valid_participant_id(c)).map(str::to_string);
    let Path(segment) = id.map_err(|_| ApiError::NotFound)?;
    // now-rooms §15.5: authenticated callers by user (NR-LB-4); a participant with a valid
    // cookie on its own, per room (Q1); cookieless callers by IP.
    let identity = match (caller.user(), &pid) {
        (Some(u), _) => u.id.to_string(),
        (None, Some(p)) => format!("{p}_{segment}"),
        (None, None) => ip,
    };
    crate::service::throttle::check(&state, "request_entry", &identity, state.config.request_entry_throttle_rate)
        .await?;
    let body = body?.object()?;
    let username = lobby::parse_username(body.get("username"), state.config.lobby_username_max_length)
        .map_err(ApiError::Validation)?;
    let (room, role) =
        crate::service::rooms::find_with_role(&state, &room_ref(Ok(Path(segment)))?, caller.user()).await?;
    let fresh = pid.is_none();
    let pid = pid.unwrap_or_else(lobby::new_participant_id);
    let outcome = svc::request_entry_for(&state, &room, role, caller.user(), &pid, fresh, &username).await?;
    let mut resp = json_response(StatusCode::OK, &serde_json::to_value(&outcome).map_err(ApiError::internal)?);
    let set_cookie = format!("{cookie_name}={pid}; HttpOnly; Path=/; SameSite=Lax; Secure");
    resp.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&set_cookie).map_err(ApiError::internal)?);
    Ok(resp)
}

/// `GET /api/v1.0/rooms/{id}/waiting-participants/`: lobby-livekit §4.5.
async fn waiting_participants(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let user = caller.require_user()?;
    let (room, role) = crate::service::rooms::find_with_role(&state, &room_ref(id)?, Some(user)).await?;
    let participants = svc::waiting_for_admin(&state, &room, role).await?;
    Ok(super::rooms::respond(StatusCode::OK, &WaitingOut { participants }))
}

/// `POST /api/v1.0/rooms/{id}/enter/`: lobby-livekit §4.6. Order: authentication, body, room,
/// administrator, public room, participant.
async fn enter(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let user = caller.require_user()?;
    let (pid, allow) = lobby::parse_decision(&body.object()?).map_err(ApiError::Validation)?;
    let (room, role) = crate::service::rooms::find_with_role(&state, &room_ref(id)?, Some(user)).await?;
    Ok(match svc::decide_as_admin(&state, &room, role, &pid, allow).await? {
        Ok(()) => message(StatusCode::OK, "Participant was updated."),
        Err(DecideError::NoLobby) => message(StatusCode::NOT_FOUND, "Room has no lobby system."),
        Err(DecideError::ParticipantNotFound) => message(StatusCode::NOT_FOUND, "Participant not found."),
    })
}
