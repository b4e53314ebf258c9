//! In-call integrations (now-rooms §8, §9, §11, §12): e-mail invitations, live subtitles, the
//! roomkit server-to-server join and connection diagnostics. Handlers authenticate, parse and
//! call one service function; feature flags answer 404 inside the service, after
//! authentication and throttling (now-rooms §17.1).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::post;

use super::bodies::ErrorOut;
use super::client_ip::ClientIp;
use super::extract::{Body, Caller};
use super::participants::{LiveKitToken, StatusOut};
use super::rooms::room_ref;
use super::{ApiRoute, ViewAuth};
use crate::error::{json_response, ApiError};
use crate::i18n::msg;
use crate::service::participants::Reply;
use crate::service::{diagnostics, invitations, roomkit, subtitles};
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        ApiRoute::new("/api/v1.0/rooms/{id}/invite/", "Room", ViewAuth::User, post(invite))
            .doc(Method::POST, "E-mail an invitation to join the call now (room administrators)")
            .body::<InviteIn>()
            .returns::<InviteOut>(200)
            .errors(&[403, 404, 429])
            .returns::<ErrorOut>(502),
        ApiRoute::new("/api/v1.0/rooms/{id}/start-subtitle/", "Room", ViewAuth::Any, post(start_subtitle))
            .doc(Method::POST, "Dispatch the live transcription agent into the call (LiveKit token)")
            .returns::<StatusOut>(200)
            .errors(&[403, 404, 429])
            .returns::<ErrorOut>(500),
        ApiRoute::new("/api/v1.0/roomkit/join/", "Roomkit", ViewAuth::Any, post(roomkit_join))
            .doc(Method::POST, "Create the SIP dispatch rule of the room holding a PIN (server to server)")
            .body::<RoomkitJoinIn>()
            .returns::<StatusOut>(200)
            .errors(&[404, 429, 500]),
        ApiRoute::new("/api/v1.0/diagnostics/connection/", "Diagnostics", ViewAuth::Any, post(connection_test))
            .doc(Method::POST, "A short-lived LiveKit token for a throw-away test room")
            .returns::<ConnectionTestOut>(200)
            .errors(&[404, 429]),
    ]
}

/// The body of `invite`.
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "Invitation")]
pub struct InviteIn {
    /// The addresses to invite (at most `MEET_INVITATION_MAX_RECIPIENTS`).
    #[schemars(length(min = 1))]
    pub emails: Vec<String>,
}

/// The answer of `invite`.
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "InvitationSent")]
pub struct InviteOut {
    #[schemars(regex(pattern = "^success$"))]
    pub status: String,
    pub message: String,
}

/// The body of `roomkit/join`.
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "RoomkitJoin")]
pub struct RoomkitJoinIn {
    /// The room's PIN (digits).
    pub pin_code: String,
}

/// The answer of `diagnostics/connection`.
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "ConnectionTest")]
pub struct ConnectionTestOut {
    pub livekit: ConnectionTestLiveKitOut,
}

/// The `livekit` object of [`ConnectionTestOut`].
#[derive(Debug, schemars::JsonSchema)]
#[schemars(rename = "ConnectionTestLiveKit")]
pub struct ConnectionTestLiveKitOut {
    /// `LIVEKIT_API_URL`.
    pub url: Option<String>,
    /// The throw-away room (`CONNECTION_TEST_ROOM_PREFIX-<uuid>`).
    pub room: String,
    pub token: String,
    /// Seconds the token is valid.
    pub expires_in: u64,
}

fn reply(r: Reply) -> Response {
    json_response(r.0, &r.1)
}

/// `POST /api/v1.0/rooms/{id}/invite/`: now-rooms §8.
async fn invite(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    let caller = caller?;
    let user = caller.require_user()?;
    let reference = room_ref(id)?;
    Ok(reply(invitations::invite(&state, user, &reference, body.and_then(Body::object)).await?))
}

/// `POST /api/v1.0/rooms/{id}/start-subtitle/`: now-rooms §9.
async fn start_subtitle(
    State(state): State<AppState>,
    token: Result<LiveKitToken, ApiError>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let claims = token?.0.ok_or_else(|| ApiError::ForbiddenMessage(crate::error::UNAUTHENTICATED.into()))?;
    let reference = room_ref(id)?;
    Ok(reply(subtitles::start(&state, &claims, &reference).await?))
}

/// The challenge of roomkit's 401s.
const ROOMKIT_CHALLENGE: &str = "Bearer realm='Roomkit server to server'";

/// Roomkit's server-to-server authentication (now-rooms §11.1), in the reference's order.
fn roomkit_authenticate(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |m| ApiError::Challenged { message: crate::i18n::Msg::from(m), challenge: ROOMKIT_CHALLENGE };
    let expected = state.config.incall.roomkit_token.as_deref().filter(|t| !t.is_empty());
    let expected = expected.ok_or_else(|| refuse(msg::ROOMKIT_TOKEN_NOT_CONFIGURED))?;
    let raw = headers.get(header::AUTHORIZATION).ok_or_else(|| refuse(msg::ROOMKIT_AUTHORIZATION_MISSING))?;
    let raw = raw.to_str().map_err(|_| refuse(msg::INVALID_AUTHORIZATION_HEADER))?;
    let token = match raw.split(' ').collect::<Vec<_>>().as_slice() {
        ["Bearer", token] => *token,
        _ => return Err(refuse(msg::INVALID_AUTHORIZATION_HEADER)),
    };
    if !crate::domain::secret_eq(token.as_bytes(), expected.as_bytes()) {
        return Err(refuse(msg::ROOMKIT_INVALID_TOKEN));
    }
    Ok(())
}

/// `POST /api/v1.0/roomkit/join/`: now-rooms §11.
async fn roomkit_join(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Body, ApiError>,
) -> Result<Response, ApiError> {
    roomkit_authenticate(&state, &headers)?;
    Ok(reply(roomkit::join(&state, body.and_then(Body::object)).await?))
}

/// `POST /api/v1.0/diagnostics/connection/`: now-rooms §12.
async fn connection_test(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    ClientIp(ip): ClientIp,
) -> Result<Response, ApiError> {
    let caller = caller?;
    let body = diagnostics::connection_test(&state, caller.user(), &ip).await?;
    Ok(json_response(StatusCode::OK, &body))
}
