//! Recording use-cases (recordings §4–§8, §11.3): start and stop on rooms, list / retrieve /
//! delete, the storage hook, LiveKit egress events and media-auth. Every status change is a
//! compare-and-set in the store; no lock is held across a LiveKit, S3, SMTP or HTTP call. The
//! first "file is there" signal (storage event, egress webhook, reconciler) saves the recording
//! and queues its notifications in the same transaction; later signals are harmless no-ops.

use chrono::{DateTime, Utc};
use livekit_protocol as proto;
use serde::Serialize;
use tracing::instrument;
use uuid::Uuid;

use crate::domain::permissions::{is_administrator, Role};
use crate::domain::recording::{self, abilities, status_after_egress, status_after_stop, Mode, Status};
use crate::domain::slug::RoomRef;
use crate::error::ApiError;
use crate::i18n::{msg, MsgId};
use crate::livekit::egress::{self, EgressError};
use crate::state::AppState;
use crate::store::recordings::{self as store, Change, NotifyPlan, Recording};

use super::recording_events;
use crate::domain::recording_head;
use crate::store::users::User;
use crate::store::{accesses, rooms};

/// 403 of start and stop for callers who are not room administrators (now-recordings §6.2).
pub const START_FORBIDDEN: MsgId = msg::PRIVILEGES_ON_ROOM;
const CONSTRAINT: &str = "unique_initiated_or_active_recording_per_room";

/// How start and stop answer besides `ApiError`s: `Done` is 201/200 `{"message"}`, `Failed`
/// is `{"error"}` with its status (409 in progress, 502 the egress did not start, 500 the stop
/// failed; the state is consistent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Done(String),
    Failed(u16, String),
}

/// The room of a recording as represented (§4.4).
#[derive(Serialize, Debug, Clone, schemars::JsonSchema)]
#[schemars(rename = "RecordingRoom")]
pub struct RoomOut {
    pub id: Uuid,
    pub name: String,
    pub slug: Option<String>,
    #[schemars(with = "crate::domain::permissions::AccessLevel")]
    pub access_level: String,
}

/// A recording as represented (§4.4), keys in the reference's order.
#[derive(Serialize, Debug, Clone, schemars::JsonSchema)]
#[schemars(rename = "Recording")]
pub struct RecordingOut {
    pub id: Uuid,
    pub room: RoomOut,
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    #[schemars(extend("format" = "date-time"))]
    pub updated_at: String,
    #[schemars(with = "Status")]
    pub status: String,
    #[schemars(with = "Mode")]
    pub mode: String,
    /// The start body's options (now-recordings §4.3).
    pub options: serde_json::Map<String, serde_json::Value>,
    /// The object key in the bucket: `<RECORDING_OUTPUT_FOLDER>/<id>.<mp4|ogg>`.
    pub key: String,
    /// `expired_at` is in the past.
    pub is_expired: bool,
    /// `created_at + RECORDING_EXPIRATION_DAYS`, `null` when expiry is not configured.
    #[schemars(extend("format" = "date-time"))]
    pub expired_at: Option<String>,
}

/// Python's `isoformat()` with `Z`: microseconds only when non-zero.
pub fn iso(t: DateTime<Utc>) -> String {
    use chrono::SecondsFormat;
    if t.timestamp_subsec_micros() == 0 {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        t.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

fn mode_of(rec: &Recording) -> Mode {
    Mode::parse(&rec.mode).unwrap_or(Mode::ScreenRecording)
}

/// The object key of a recording.
pub fn key_of(state: &AppState, rec: &Recording) -> String {
    recording::key(&state.config.recording.output_folder, rec.id, mode_of(rec))
}

async fn represent(state: &AppState, rec: Recording) -> Result<RecordingOut, ApiError> {
    let room =
        rooms::get(&state.db, rec.room_id).await?.ok_or_else(|| ApiError::internal(anyhow::anyhow!("room gone")))?;
    Ok(out(state, rec, RoomOut { id: room.id, name: room.name, slug: room.slug, access_level: room.access_level }))
}

/// Checks the `mode` of a start body (§4.2 step 5): exactly one of the two values, and one of
/// `RECORDING_WORKER_CLASSES` (B1: resolved before anything is inserted).
/// The `options` are read with upstream HEAD's rules (now-recordings §6.1).
pub fn parse_mode(
    state: &AppState,
    body: &serde_json::Value,
) -> Result<(Mode, serde_json::Map<String, serde_json::Value>), ApiError> {
    let invalid = || ApiError::BadRequest(msg::INVALID_REQUEST.into());
    let mode = body.get("mode").and_then(|m| m.as_str()).and_then(Mode::parse).ok_or_else(invalid)?;
    if !state.config.recording_worker_classes.contains_key(mode.as_str()) {
        return Err(invalid());
    }
    let options = recording_head::parse_options(body.get("options")).map_err(|_| invalid())?;
    Ok((mode, options))
}

async fn room_admin(state: &AppState, user: &User, reference: &RoomRef) -> Result<rooms::Room, ApiError> {
    let room = crate::service::rooms::find(state, reference).await?;
    let role = accesses::role_of(&state.db, user.id, room.id).await?.and_then(|r| Role::parse(&r));
    if !is_administrator(role) {
        return Err(ApiError::ForbiddenMessage(START_FORBIDDEN.into()));
    }
    Ok(room)
}

/// `start-recording` after the body check (§4.2 steps 6–12, B1, B11, B12, §11.3.5;
/// now-recordings §6.2: 409 when the room records already, 502 when the egress does not start,
/// room metadata and metadata agent after a start).
#[instrument(skip_all, fields(user.id = %user.id, mode = mode.as_str()))]
pub async fn start(
    state: &AppState,
    user: &User,
    reference: &RoomRef,
    mode: Mode,
    options: serde_json::Map<String, serde_json::Value>,
) -> Result<Reply, ApiError> {
    let room = room_admin(state, user, reference).await?;
    let slug = room.slug.clone().unwrap_or_default();
    let options = serde_json::Value::Object(options);
    let rec = match store::insert_with_owner(&state.db, room.id, mode.as_str(), options.clone(), user.id).await {
        Ok(rec) => rec,
        Err(e) if e.is_conflict(CONSTRAINT) => {
            // §11.3.5: a dead egress must not block the room; retry once after reconciling.
            crate::service::reconciler::reconcile_room(state, room.id).await?;
            match store::insert_with_owner(&state.db, room.id, mode.as_str(), options, user.id).await {
                Ok(rec) => rec,
                Err(e) if e.is_conflict(CONSTRAINT) => {
                    return Ok(Reply::Failed(409, format!("A recording is already in progress for room {slug}")));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let started = Reply::Done(format!("Recording successfully started for room {slug}"));
    let key = key_of(state, &rec);
    let request = egress::room_composite_request(
        &room.id.to_string(),
        mode,
        &key,
        &state.config.recording.s3,
        state.config.recording.head.encoding.as_ref(),
    );
    let failure = match state.livekit.egress.start(request).await {
        Ok(info) if info.egress_id.len() > recording::WORKER_ID_MAX => {
            format!("egress id longer than {} characters", recording::WORKER_ID_MAX)
        }
        Ok(info) if !info.egress_id.is_empty() => {
            let change = Change { worker_id: Some(info.egress_id.clone()), egress_error: None };
            if let Some(active) = store::transition(&state.db, rec.id, Status::Active, change).await? {
                tracing::info!(recording.id = %rec.id, "recording started");
                recording_events::after_start(state, &active, true).await;
                return Ok(started);
            }
            // an egress webhook that arrived before this answer adopted the recording
            // with this very egress: the start succeeded (the webhook published the state).
            if let Some(now) = store::get(&state.db, rec.id).await? {
                if now.worker_id.as_deref() == Some(info.egress_id.as_str()) {
                    if now.status() == Status::Active {
                        recording_events::after_start(state, &now, false).await;
                    }
                    return Ok(started);
                }
            }
            // The row was moved meanwhile: do not leave an egress nobody tracks.
            let _ = state.livekit.egress.stop(&info.egress_id).await;
            "the recording changed while its egress started".to_string()
        }
        Ok(_) => "Egress ID not found".to_string(),
        Err(e @ EgressError::Transport(_)) => {
            // B1: a timed-out call may still have started the egress; adopt it if LiveKit says so.
            if crate::service::reconciler::adopt(state, &rec).await.unwrap_or(false) {
                if let Some(active) = store::get(&state.db, rec.id).await? {
                    recording_events::after_start(state, &active, true).await;
                }
                return Ok(started);
            }
            e.to_string()
        }
        Err(e) => e.to_string(),
    };
    tracing::warn!(recording.id = %rec.id, error = %failure, "recording failed to start");
    let change = Change { worker_id: None, egress_error: Some(failure) };
    store::transition(&state.db, rec.id, Status::FailedToStart, change).await?;
    Ok(Reply::Failed(502, format!("Recording failed to start for room {slug}")))
}

/// `stop-recording` (§4.3 steps 5–10, B3).
#[instrument(skip_all, fields(user.id = %user.id))]
pub async fn stop(state: &AppState, user: &User, reference: &RoomRef) -> Result<Reply, ApiError> {
    let room = room_admin(state, user, reference).await?;
    let rec = store::in_room(&state.db, room.id, &[Status::Active])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFoundMessage(msg::NO_ACTIVE_RECORDING.into()))?;
    let slug = room.slug.clone().unwrap_or_default();
    let done = Reply::Done(format!("Recording stopped for room {slug}."));
    let failed = Reply::Failed(500, format!("Recording failed to stop for room {slug}"));
    let worker = rec.worker_id.clone().unwrap_or_default();
    let (to, error) = match state.livekit.egress.stop(&worker).await {
        Ok(info) => (status_after_stop(info.status), Some(info.error).filter(|e| !e.is_empty())),
        Err(e) if e.is_gone() => match state.livekit.egress.list_by_id(&worker).await {
            Ok(items) => (items.first().map(|i| status_after_stop(i.status)).unwrap_or(Status::Stopped), None),
            Err(_) => (Status::Stopped, None),
        },
        Err(e @ EgressError::Twirp { .. }) => (Status::FailedToStop, Some(e.to_string())),
        Err(e) => {
            // Unknown outcome: the row stays `active`; the reconciler or a webhook settles it.
            tracing::warn!(recording.id = %rec.id, error = %e, "recording failed to stop");
            return Ok(failed);
        }
    };
    let moved = store::transition(&state.db, rec.id, to, Change { worker_id: None, egress_error: error }).await?;
    let now = match moved {
        Some(r) => r.status(),
        // A webhook or the reconciler moved it first: answer from its current status.
        None => store::get(&state.db, rec.id).await?.map(|r| r.status()).unwrap_or(to),
    };
    Ok(match now {
        Status::Active | Status::Initiated | Status::FailedToStop | Status::FailedToStart => failed,
        _ => done,
    })
}

/// The caller's best role on a recording.
async fn role_on(state: &AppState, rec: &Recording, user: &User) -> Result<Option<Role>, ApiError> {
    let roles = store::roles_of(&state.db, rec.id, user.id).await?;
    Ok(roles.iter().filter_map(|r| Role::parse(r)).max())
}

/// How many recordings `GET /recordings/` lists for the caller (§4.5).
pub async fn count(state: &AppState, user: &User) -> Result<u64, ApiError> {
    Ok(store::count_for_user(&state.db, user.id).await?)
}

/// One page of `GET /recordings/` (§4.5): the caller's recordings, any role, in one query.
pub async fn list(state: &AppState, user: &User, offset: u64, limit: u64) -> Result<Vec<RecordingOut>, ApiError> {
    let rows = store::page_for_user(&state.db, user.id, offset, limit).await?;
    Ok(rows
        .into_iter()
        .map(|l| {
            let room = RoomOut {
                id: l.recording.room_id,
                name: l.room_name,
                slug: l.room_slug,
                access_level: l.room_access_level,
            };
            out(state, l.recording, room)
        })
        .collect())
}

/// The representation at upstream HEAD (now-recordings §8.1): 10 keys, expiry derived from
/// `RECORDING_EXPIRATION_DAYS`.
fn out(state: &AppState, rec: Recording, room: RoomOut) -> RecordingOut {
    let expired_at = recording_head::expired_at(rec.created_at, state.config.rooms.recording_expiration_days);
    let options = match &rec.options.0 {
        serde_json::Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    RecordingOut {
        id: rec.id,
        room,
        created_at: iso(rec.created_at),
        updated_at: iso(rec.updated_at),
        key: key_of(state, &rec),
        status: rec.status,
        mode: rec.mode,
        options,
        is_expired: expired_at.is_some_and(|t| t < chrono::Utc::now()),
        expired_at: expired_at.map(iso),
    }
}

/// The recording visible to the caller (any role), or the 404 of §4.6.
async fn visible(state: &AppState, user: &User, id: Uuid) -> Result<(Recording, Option<Role>), ApiError> {
    let rec = store::get(&state.db, id).await?;
    let Some(rec) = rec else { return Err(ApiError::NoMatch("Recording")) };
    let role = role_on(state, &rec, user).await?;
    if role.is_none() {
        return Err(ApiError::NoMatch("Recording"));
    }
    Ok((rec, role))
}

/// `GET /recordings/{id}/` (§4.6).
pub async fn retrieve(state: &AppState, user: &User, id: Uuid) -> Result<RecordingOut, ApiError> {
    let (rec, role) = visible(state, user, id).await?;
    if !abilities(role, rec.status()).retrieve {
        return Err(ApiError::Forbidden);
    }
    represent(state, rec).await
}

/// `DELETE /recordings/{id}/` (§4.7, B5). The object in the bucket is kept (B13: a bucket
/// lifecycle rule is the documented way to expire files).
pub async fn destroy(state: &AppState, user: &User, id: Uuid) -> Result<(), ApiError> {
    let (rec, role) = visible(state, user, id).await?;
    if !abilities(role, rec.status()).destroy {
        return Err(ApiError::Forbidden);
    }
    store::delete(&state.db, rec.id).await?;
    Ok(())
}

/// Saves a recording whose file is known to exist and queues its notifications (B6, §11.3.3);
/// `None` when it was not savable. The outbox is nudged so that delivery starts at once.
pub async fn save_file(state: &AppState, rec: &Recording) -> Result<Option<Recording>, ApiError> {
    // now-recordings §12.2: transcripts go to the summary service, screen recordings to the
    // owners by e-mail, and to the summary service too with `options.transcribe`.
    let mode = mode_of(rec);
    let wants_summary = mode == Mode::Transcript || recording_head::flag(&rec.options.0, "transcribe");
    let cfg = &state.config.recording;
    let summary_ready = cfg.summary_endpoint.is_some() && cfg.summary_token.is_some();
    if wants_summary && !summary_ready {
        tracing::warn!(recording.id = %rec.id, "Summary service not configured");
    }
    let wants_email = mode == Mode::ScreenRecording;
    if wants_email && !state.mailer.is_configured() {
        tracing::warn!(recording.id = %rec.id, "e-mail not configured (DJANGO_EMAIL_HOST): owners not notified");
    }
    let plan =
        NotifyPlan { email: wants_email && state.mailer.is_configured(), summary: wants_summary && summary_ready };
    let Some((saved, queued)) = store::save(&state.db, rec.id, plan).await? else { return Ok(None) };
    tracing::info!(recording.id = %rec.id, notifications = queued, "recording saved");
    if queued == 0 && !plan.is_nothing() {
        tracing::warn!(recording.id = %rec.id, "No owner found for recording {}", rec.id);
    }
    if queued > 0 {
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::service::outbox::run_once(&state).await {
                tracing::warn!(error = %e, "outbox pass failed");
            }
        });
    }
    Ok(Some(saved))
}

/// What the storage hook answers on success: 200 `{"message": …}` (now-recordings §10.2).
pub async fn storage_event(state: &AppState, body: &serde_json::Value) -> Result<String, ApiError> {
    use recording_head::{StorageEvent, StorageEventError};
    let cfg = &state.config.recording;
    let s3_parser = cfg.head.event_parser == crate::config::recording::EventParser::S3;
    let read =
        recording_head::read_event(body, s3_parser, &cfg.s3.bucket, &cfg.output_folder).map_err(|e| match e {
            StorageEventError::Invalid => ApiError::ForbiddenMessage(msg::REC_INVALID_REQUEST_DATA.into()),
            StorageEventError::Bucket => ApiError::ForbiddenMessage(msg::REC_INVALID_BUCKET.into()),
        })?;
    let ignored = "Notification ignored.".to_string();
    let (id, key) = match read {
        StorageEvent::Ignored => return Ok(ignored),
        StorageEvent::Recording { id, key } => (id, key),
    };
    let rec = store::get(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFoundMessage(msg::NO_RECORDING_FOR_EVENT.into()))?;
    if key_of(state, &rec) != key {
        // S2: an object named after a recording but not at its key is not its file.
        return Ok(ignored);
    }
    let not_savable = || ApiError::ForbiddenMessage(msg::CANNOT_SAVE_RECORDING.arg("id", id));
    let processed = "Event processed.".to_string();
    if rec.status().is_saved() {
        return Ok(processed); // B6: a redelivered event is a success, nothing is sent twice.
    }
    if !rec.status().is_savable() {
        return Err(not_savable());
    }
    match save_file(state, &rec).await? {
        Some(_) => Ok(processed),
        None => match store::get(&state.db, id).await?.map(|r| r.status()) {
            Some(s) if s.is_saved() => Ok(processed),
            _ => Err(not_savable()),
        },
    }
}

/// Applies what LiveKit reports about a recording's egress (§11.3.2, §11.3.4): running
/// confirms `active`; a finished egress with a file saves it; otherwise `stopped`, `aborted`
/// or `failed_to_stop`. Every move is a compare-and-set, so a late or repeated report is a no-op.
pub async fn apply_egress(state: &AppState, rec: &Recording, info: &proto::EgressInfo) -> Result<(), ApiError> {
    let error = Some(info.error.clone()).filter(|e| !e.is_empty());
    match status_after_egress(info.status, egress::has_file(info)) {
        None => {
            if rec.status() == Status::Initiated {
                let change = Change { worker_id: Some(info.egress_id.clone()), egress_error: None };
                store::transition(&state.db, rec.id, Status::Active, change).await?;
            }
        }
        Some(Status::Saved) => {
            save_file(state, rec).await?;
        }
        Some(to) => {
            store::transition(&state.db, rec.id, to, Change { worker_id: None, egress_error: error }).await?;
        }
    }
    Ok(())
}

/// `GET /recordings/media-auth/` after authentication (§4.9 steps 3–10, S3, B4): the SigV4
/// headers for the recording's object.
pub async fn media_auth(
    state: &AppState,
    user: &User,
    original_url: Option<&str>,
) -> Result<crate::s3::SignedHeaders, ApiError> {
    let cfg = &state.config.recording;
    let (id, ext) = recording::parse_media_url(original_url, &cfg.output_folder).map_err(|e| match e {
        recording::MediaUrlError::Forbidden => ApiError::Forbidden,
        recording::MediaUrlError::UnsupportedExtension => ApiError::BadRequest(msg::UNSUPPORTED_EXTENSION.into()),
    })?;
    let rec = store::get(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFoundMessage(msg::NO_RECORDING_FOR_EVENT.into()))?;
    if mode_of(&rec).extension() != ext {
        return Err(ApiError::NotFoundMessage(msg::NO_RECORDING_WITH_EXTENSION.into()));
    }
    let role = role_on(state, &rec, user).await?;
    if !abilities(role, rec.status()).retrieve || !rec.status().is_saved() {
        return Err(ApiError::Forbidden);
    }
    crate::s3::sign_get(&cfg.s3, &key_of(state, &rec)).map_err(ApiError::internal)
}
