//! `POST /api/v1.0/rooms/webhooks-livekit/`: LiveKit server events (lobby-livekit §5, W
//! statements; now-rooms §16), verified with the API key and secret.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde::Serialize;

use super::extract::Caller;
use super::{ApiRoute, ViewAuth};
use crate::error::ApiError;
use crate::livekit::WebhookRejection;
use crate::state::AppState;

pub fn routes() -> Vec<ApiRoute> {
    vec![ApiRoute::new("/api/v1.0/rooms/webhooks-livekit/", "Room", ViewAuth::Any, post(receive))
        .doc(Method::POST, "LiveKit webhook events (signed by LiveKit)")
        .raw_body::<WebhookEventIn>()
        .returns::<WebhookOut>(200)
        .returns::<WebhookOut>(400)
        .returns::<WebhookOut>(401)
        .returns::<WebhookOut>(422)]
}

/// A LiveKit webhook event (protobuf JSON, signed with the API secret in `Authorization`): the
/// `event` type is read here, the rest by the actions of that type.
#[derive(Debug, schemars::JsonSchema)]
pub struct WebhookEventIn {
    pub event: String,
}

/// The webhook's answer: `{"status": "success"}` or `{"status": "error"}` (now-rooms §16.1:
/// errors carry no message).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "WebhookAnswer")]
pub struct WebhookOut {
    pub status: WebhookStatus,
}

/// The outcome of a webhook call.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStatus {
    Success,
    Error,
}

/// Every event type LiveKit defines (E4: those we do not act on still answer 200).
const KNOWN_EVENTS: &[&str] = &[
    "room_started",
    "room_finished",
    "participant_joined",
    "participant_left",
    "participant_connection_aborted",
    "track_published",
    "track_unpublished",
    "egress_started",
    "egress_updated",
    "egress_ended",
    "ingress_started",
    "ingress_ended",
    "agent_job_started",
    "agent_job_ended",
];

/// The body of every answer (now-rooms §16.1: errors carry no message).
fn answer(status: StatusCode, outcome: WebhookStatus) -> Response {
    super::rooms::respond(status, &WebhookOut { status: outcome })
}

/// `POST /api/v1.0/rooms/webhooks-livekit/`: lobby-livekit §5.
async fn receive(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let event = match state.livekit.verify_webhook(&body, authorization) {
        Ok(e) => e,
        Err(WebhookRejection::MissingAuthorization) => {
            return Ok(answer(StatusCode::UNAUTHORIZED, WebhookStatus::Error));
        }
        Err(WebhookRejection::InvalidPayload(why)) => {
            tracing::warn!(reason = why, "LiveKit webhook refused");
            return Ok(answer(StatusCode::BAD_REQUEST, WebhookStatus::Error));
        }
    };
    // now-rooms §16.2: connection-test rooms and rooms outside the filter are ignored, whatever
    // the event type.
    let room_name = match event.room.as_ref().map(|r| r.name.as_str()).filter(|n| !n.is_empty()) {
        Some(name) => name,
        None => event.egress_info.as_ref().map(|e| e.room_name.as_str()).unwrap_or(""),
    };
    let settings = &state.config.rooms;
    let filtered_out = settings.livekit_webhook_events_filter.as_ref().is_some_and(|re| !re.is_match(room_name));
    if room_name.starts_with(&settings.connection_test_room_prefix) || filtered_out {
        tracing::debug!(event = event.event, "LiveKit webhook ignored (connection test or filtered room)");
        return Ok(answer(StatusCode::OK, WebhookStatus::Success));
    }
    if !KNOWN_EVENTS.contains(&event.event.as_str()) {
        tracing::warn!(event = event.event, "unknown LiveKit webhook type");
        return Ok(answer(StatusCode::UNPROCESSABLE_ENTITY, WebhookStatus::Error));
    }
    if event.event.starts_with("egress_") {
        // recordings §11.3.2, now-recordings §11: an egress's events move its recording and the room
        // metadata; duplicates are no-ops.
        crate::service::recording_events::on_egress_event(&state, &event).await?;
    }
    match event.event.as_str() {
        "room_started" => crate::service::roomkit::on_room_started(&state, room_name).await?,
        "room_finished" => crate::service::roomkit::on_room_finished(&state, room_name).await?,
        _ => {}
    }
    Ok(answer(StatusCode::OK, WebhookStatus::Success))
}
