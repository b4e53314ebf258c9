//! Recording side effects upstream HEAD added (now-recordings §11, §13–§15): the room metadata
//! `recording_mode` / `recording_status` every participant reads, the metadata-collector agent,
//! LiveKit egress webhooks (`egress_updated`, `egress_ended`, limit reached) and the summary
//! service's `external-process-hook`. Metadata, agent and participant notifications are best
//! effort: they are logged when they fail and never fail the request or the webhook (R-10,
//! R-15); the recording's status moves only by compare-and-set.

use livekit_protocol as proto;
use serde_json::{Map, Value};
use tracing::instrument;

use crate::domain::recording::{self, egress_status, Mode, Status};
use crate::domain::recording_head::{flag, limit_reached_type, published_status};
use crate::error::{ApiError, FieldErrors};
use crate::i18n::msg;
use crate::livekit::egress;
use crate::state::AppState;
use crate::store::recordings::{self as store, Change, Recording};

use super::recordings::{apply_egress, key_of};

/// The option holding the metadata agent's dispatch id (§4.3).
pub const DISPATCH_ID: &str = "metadata_collector_dispatch_id";

/// Merges `update` into the LiveKit room metadata of the recording's room and removes
/// `remove` (§15). A room that is not running is skipped; failures are logged.
async fn publish(state: &AppState, rec: &Recording, update: Map<String, Value>, remove: &[&str]) {
    let room = rec.room_id.to_string();
    match state.livekit.edit_room_metadata(&room, update, remove).await {
        Ok(true) => {}
        Ok(false) => tracing::info!(recording.id = %rec.id, "LiveKit room not running: metadata not updated"),
        Err(e) => tracing::warn!(recording.id = %rec.id, error = %e, "room metadata not updated"),
    }
}

/// After a start succeeded (§6.2 steps 10–11): the room metadata says `starting` (unless a
/// webhook already published a later state), and the metadata agent is dispatched when enabled
/// and asked for; its dispatch id is kept in `options` for its removal.
pub async fn after_start(state: &AppState, rec: &Recording, publish_starting: bool) {
    let options = &rec.options.0;
    if publish_starting {
        let mode = options.get("original_mode").and_then(Value::as_str).unwrap_or(&rec.mode);
        let mut update = Map::new();
        update.insert("recording_mode".into(), Value::String(mode.to_string()));
        update.insert("recording_status".into(), Value::String("starting".into()));
        publish(state, rec, update, &[]).await;
    }
    let head = &state.config.recording.head;
    if !(head.metadata_collector_enabled && flag(options, "collect_metadata")) {
        return;
    }
    let room = rec.room_id.to_string();
    match state.livekit.dispatch_agent(&room, &head.metadata_collector_agent_name, &rec.id.to_string()).await {
        Ok(id) if !id.is_empty() => {
            let mut kept = match options {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            };
            kept.insert(DISPATCH_ID.into(), Value::String(id));
            if let Err(e) = store::set_options(&state.db, rec.id, Value::Object(kept)).await {
                tracing::warn!(recording.id = %rec.id, error = %e, "metadata agent dispatch id not stored");
            }
        }
        Ok(_) => tracing::warn!(recording.id = %rec.id, "metadata agent dispatch returned no id"),
        Err(e) => tracing::warn!(recording.id = %rec.id, error = %e, "metadata agent not dispatched"),
    }
}

/// The recording an egress event is about: by egress id, else (R-2: the webhook came before
/// the start's answer stored the id, or the answer was lost) by the file path the egress was
/// asked to write, adopting an `initiated` recording with this egress.
async fn find(state: &AppState, info: &proto::EgressInfo) -> Result<Option<Recording>, ApiError> {
    if let Some(rec) = store::get_by_worker(&state.db, &info.egress_id).await? {
        return Ok(Some(rec));
    }
    let folder = &state.config.recording.output_folder;
    let Some(path) = egress::requested_filepath(info) else { return Ok(None) };
    let Some(id) = recording::recording_id_in_key(path, folder) else { return Ok(None) };
    match store::get(&state.db, id).await? {
        Some(rec) if rec.status() == Status::Initiated && key_of(state, &rec) == path => {
            let change = Change { worker_id: Some(info.egress_id.clone()), egress_error: None };
            Ok(store::transition(&state.db, rec.id, Status::Active, change).await?)
        }
        _ => Ok(None),
    }
}

/// `egress_started` / `egress_updated` / `egress_ended` (§11, R-2, R-3, R-15, R-16): the room
/// metadata follows the egress, the metadata agent leaves with it, participants hear of a
/// reached limit once, and the recording's status follows LiveKit's report (a finished egress
/// with a file saves it and queues its notifications exactly once).
#[instrument(skip_all, fields(event = %event.event))]
pub async fn on_egress_event(state: &AppState, event: &proto::WebhookEvent) -> Result<(), ApiError> {
    let Some(info) = &event.egress_info else { return Ok(()) };
    if info.egress_id.is_empty() {
        return Ok(());
    }
    let Some(rec) = find(state, info).await? else {
        tracing::warn!(egress.id = %info.egress_id, "Recording with worker ID {} does not exist", info.egress_id);
        return Ok(());
    };
    match event.event.as_str() {
        "egress_updated" => {
            if let Some(status) = published_status(info.status) {
                let mut update = Map::new();
                update.insert("recording_status".into(), Value::String(status.into()));
                publish(state, &rec, update, &[]).await;
            }
        }
        "egress_ended" => {
            publish(state, &rec, Map::new(), &["recording_mode", "recording_status"]).await;
            if let Some(dispatch) = rec.options.0.get(DISPATCH_ID).and_then(Value::as_str) {
                if let Err(e) = state.livekit.delete_agent_dispatch(&rec.room_id.to_string(), dispatch).await {
                    tracing::warn!(recording.id = %rec.id, error = %e, "metadata agent dispatch not deleted");
                }
            }
            if info.status == egress_status::LIMIT_REACHED && rec.status() == Status::Active {
                notify_limit_reached(state, &rec).await;
            }
        }
        _ => {}
    }
    apply_egress(state, &rec, info).await
}

/// Tells every participant that the recording's limit was reached (§11.4), before the status
/// changes; a failure is logged, never retried through a webhook failure.
async fn notify_limit_reached(state: &AppState, rec: &Recording) {
    let mode = Mode::parse(&rec.mode).unwrap_or(Mode::ScreenRecording);
    let kind = limit_reached_type(mode);
    match state.livekit.notify_waiting(&rec.room_id.to_string(), kind).await {
        Ok(true) => tracing::info!(recording.id = %rec.id, kind, "participants told the limit was reached"),
        Ok(false) => tracing::info!(recording.id = %rec.id, "LiveKit room not running: limit notice not sent"),
        Err(e) => tracing::warn!(recording.id = %rec.id, error = %e, "limit-reached notice not sent"),
    }
}

/// A DRF `CharField` of the hook body (§13.2): numbers become strings, surrounding spaces are
/// trimmed; `required` fields refuse absence, null and blank.
fn char_field(body: &Value, name: &str, required: bool, errors: &mut FieldErrors) -> Option<String> {
    let value = match body.get(name) {
        None if required => {
            errors.add(name, msg::REQUIRED);
            return None;
        }
        None | Some(Value::Null) if !required => return None,
        None | Some(Value::Null) => {
            errors.add(name, msg::NOT_NULL);
            return None;
        }
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            errors.add(name, msg::NOT_A_STRING);
            return None;
        }
    };
    if required && value.is_empty() {
        errors.add(name, msg::NOT_BLANK);
        return None;
    }
    Some(value)
}

/// `POST /recordings/external-process-hook/` after authentication (§13.2–§13.3, R-8): a
/// transcript job's outcome moves its saved recording to `external_process_successful` or
/// `external_process_failed`; anything else, and unknown jobs, change nothing.
#[instrument(skip_all)]
pub async fn external_process_event(state: &AppState, body: &Value) -> Result<(), ApiError> {
    let mut errors = FieldErrors::new();
    let body = if body.is_object() { body.clone() } else { Value::Object(Map::new()) };
    let job_id = char_field(&body, "job_id", true, &mut errors);
    let kind = char_field(&body, "type", false, &mut errors);
    let status = char_field(&body, "status", false, &mut errors);
    errors.into_result()?;
    let Some(job_id) = job_id else { return Ok(()) };
    let Some(rec) = store::get_by_external_process_id(&state.db, &job_id).await? else {
        tracing::warn!(job_id, "no recording for this external process");
        return Ok(());
    };
    let to = match (kind.as_deref(), status.as_deref()) {
        (Some("transcript"), Some("success")) => Status::ExternalProcessSuccessful,
        (Some("transcript"), Some("failure")) => Status::ExternalProcessFailed,
        _ => return Ok(()),
    };
    match store::transition(&state.db, rec.id, to, Change::default()).await? {
        Some(_) => tracing::info!(recording.id = %rec.id, status = %to, "external process finished"),
        None => {
            tracing::warn!(recording.id = %rec.id, from = %rec.status, "external process event ignored in this status")
        }
    }
    Ok(())
}
