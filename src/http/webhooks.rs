//! `POST /api/v1.0/rooms/webhooks-livekit/`: LiveKit server events (lobby-livekit §5, W
//! statements), verified with the API key and secret.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde::Serialize;
use uuid::Uuid;

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

/// The webhook's answer: `success`, or `error` with a message.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "WebhookAnswer")]
pub struct WebhookOut {
    pub status: WebhookStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
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

fn answer(status: StatusCode, outcome: WebhookStatus, message: Option<String>) -> Response {
    super::rooms::respond(status, &WebhookOut { status: outcome, message })
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
            return Ok(answer(
                StatusCode::UNAUTHORIZED,
                WebhookStatus::Error,
                Some("Authorization header missing".into()),
            ));
        }
        Err(WebhookRejection::InvalidPayload(why)) => {
            tracing::warn!(reason = why, "LiveKit webhook refused");
            return Ok(answer(StatusCode::BAD_REQUEST, WebhookStatus::Error, Some("Invalid webhook payload".into())));
        }
    };
    if !KNOWN_EVENTS.contains(&event.event.as_str()) {
        return Ok(answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            WebhookStatus::Error,
            Some(format!("Unknown webhook type: {}", event.event)),
        ));
    }
    if event.event.starts_with("egress_") {
        // recordings §11.3.2: an egress's end (or start) moves its recording; duplicates are no-ops.
        crate::service::recordings::on_egress_event(&state, &event).await?;
    }
    if event.event == "room_finished" {
        let name = event.room.as_ref().map(|r| r.name.as_str()).unwrap_or("");
        // E3: rooms that are not ours (unregistered rooms, other applications) are ignored.
        if let Ok(room) = Uuid::try_parse(name) {
            let cleared = crate::service::lobby::clear(&state, room).await?;
            tracing::info!(room.id = %room, cleared, "room finished: lobby cleared");
        }
    }
    Ok(answer(StatusCode::OK, WebhookStatus::Success, None))
}
