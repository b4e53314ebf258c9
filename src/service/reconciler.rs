//! The reconciler (recordings §11.3.4–5): a background pass, one instance at a time (PostgreSQL
//! advisory lock; the single process on SQLite), that makes the table agree with LiveKit and the
//! bucket so that no recording stays `initiated` or `active` after its egress is gone:
//! - `initiated` older than `MEET_RECORDING_START_GRACE`: an egress of the room writing the
//!   recording's key is adopted (`active`), otherwise `failed_to_start`;
//! - `active`: the egress's state is applied (B3 mapping); an egress LiveKit no longer knows
//!   (for longer than the start grace) is `saved` when its object exists, else `aborted`;
//! - `stopped` / `failed_to_stop` older than `MEET_RECORDING_STOP_GRACE`: `saved` when the
//!   object exists; a `stopped` one still without a file after `MEET_RECORDING_STOPPED_MAX_AGE`
//!   becomes `aborted`.
//!
//! Outbox retries are the outbox's business (`service::outbox`).

use std::time::Duration;

use uuid::Uuid;

use crate::domain::recording::Status;
use crate::error::ApiError;
use crate::livekit::egress::{self, EgressError};
use crate::service::recordings::{apply_egress, key_of, save_file};
use crate::state::AppState;
use crate::store::now;
use crate::store::recordings::{self as store, Change, Recording};

fn ago(d: Duration) -> chrono::DateTime<chrono::Utc> {
    now() - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
}

/// Looks for an egress of the recording's room that writes its key; adopts it (`active`, then
/// its reported state applied). True when adopted.
pub async fn adopt(state: &AppState, rec: &Recording) -> Result<bool, ApiError> {
    let key = key_of(state, rec);
    let Ok(items) = state.livekit.egress.list_by_room(&rec.room_id.to_string()).await else { return Ok(false) };
    let Some(info) = items.iter().find(|i| egress::requested_filepath(i) == Some(key.as_str())) else {
        return Ok(false);
    };
    let change = Change { worker_id: Some(info.egress_id.clone()), egress_error: None };
    let Some(active) = store::transition(&state.db, rec.id, Status::Active, change).await? else { return Ok(false) };
    apply_egress(state, &active, info).await?;
    crate::metrics::reconciler_action("adopted");
    tracing::info!(recording.id = %rec.id, "egress adopted");
    Ok(true)
}

async fn initiated(state: &AppState, rec: &Recording) -> Result<(), ApiError> {
    if adopt(state, rec).await? {
        return Ok(());
    }
    let change = Change { worker_id: None, egress_error: Some("no egress found for this recording".into()) };
    if store::transition(&state.db, rec.id, Status::FailedToStart, change).await?.is_some() {
        crate::metrics::reconciler_action("failed_to_start");
        tracing::warn!(recording.id = %rec.id, "stale initiated recording marked failed_to_start");
    }
    Ok(())
}

async fn active(state: &AppState, rec: &Recording) -> Result<(), ApiError> {
    let Some(worker) = rec.worker_id.as_deref() else { return Ok(()) };
    let items = match state.livekit.egress.list_by_id(worker).await {
        Ok(items) => items,
        Err(e @ EgressError::Twirp { .. }) if e.is_gone() => Vec::new(),
        Err(e) => {
            tracing::debug!(recording.id = %rec.id, error = %e, "egress state unknown; retried later");
            return Ok(());
        }
    };
    if let Some(info) = items.iter().find(|i| i.egress_id == worker) {
        return apply_egress(state, rec, info).await;
    }
    if rec.updated_at > ago(state.config.recording.start_grace) {
        return Ok(()); // just started: LiveKit may not list it yet
    }
    match crate::metrics::call("s3", "HEAD", state.s3.exists(&key_of(state, rec))).await {
        Ok(true) => {
            if save_file(state, rec).await?.is_some() {
                crate::metrics::reconciler_action("saved");
            }
        }
        Ok(false) => {
            let change = Change { worker_id: None, egress_error: Some("egress unknown to LiveKit, no file".into()) };
            if store::transition(&state.db, rec.id, Status::Aborted, change).await?.is_some() {
                crate::metrics::reconciler_action("aborted");
            }
        }
        Err(e) => tracing::debug!(recording.id = %rec.id, error = %e, "object state unknown; retried later"),
    }
    Ok(())
}

async fn stopped(state: &AppState, rec: &Recording) -> Result<(), ApiError> {
    match crate::metrics::call("s3", "HEAD", state.s3.exists(&key_of(state, rec))).await {
        Ok(true) => {
            if save_file(state, rec).await?.is_some() {
                crate::metrics::reconciler_action("saved");
            }
        }
        Ok(false)
            if rec.status() == Status::Stopped && rec.updated_at <= ago(state.config.recording.stopped_max_age) =>
        {
            let change = Change { worker_id: None, egress_error: Some("no file after the maximum age".into()) };
            if store::transition(&state.db, rec.id, Status::Aborted, change).await?.is_some() {
                crate::metrics::reconciler_action("aborted");
            }
        }
        Ok(false) => {}
        Err(e) => tracing::debug!(recording.id = %rec.id, error = %e, "object state unknown; retried later"),
    }
    Ok(())
}

/// Reconciles the initiated-or-active recordings of one room now (the self-healing start,
/// §11.3.5). Fresh `initiated` rows (a start in flight) are left alone.
pub async fn reconcile_room(state: &AppState, room_id: Uuid) -> Result<(), ApiError> {
    let grace = ago(state.config.recording.start_grace);
    for rec in store::in_room(&state.db, room_id, &[Status::Initiated, Status::Active]).await? {
        match rec.status() {
            Status::Initiated if rec.updated_at <= grace => initiated(state, &rec).await?,
            Status::Active => active(state, &rec).await?,
            _ => {}
        }
    }
    Ok(())
}

/// One reconciler pass; returns how many recordings were examined (0 when another instance
/// holds the lock).
pub async fn run_once(state: &AppState) -> Result<usize, ApiError> {
    let Some(lock) = store::try_reconciler_lock(&state.db).await? else {
        crate::metrics::reconciler_run("skipped");
        return Ok(0);
    };
    let result = pass(state).await;
    lock.release().await?;
    crate::metrics::reconciler_run(if result.is_ok() { "ran" } else { "error" });
    result
}

/// One reconciliation of every stale recording (the caller holds the single-runner lock).
async fn pass(state: &AppState) -> Result<usize, ApiError> {
    let cfg = &state.config.recording;
    let mut seen = 0;
    for rec in store::stale(&state.db, &[Status::Initiated], ago(cfg.start_grace), 200).await? {
        seen += 1;
        initiated(state, &rec).await?;
    }
    for rec in store::stale(&state.db, &[Status::Active], now(), 1000).await? {
        seen += 1;
        active(state, &rec).await?;
    }
    for rec in store::stale(&state.db, &[Status::Stopped, Status::FailedToStop], ago(cfg.stop_grace), 200).await? {
        seen += 1;
        stopped(state, &rec).await?;
    }
    Ok(seen)
}

/// Runs [`run_once`] every `MEET_RECONCILER_INTERVAL_MS` (never when it is 0).
pub async fn run_loop(state: AppState) {
    let period = state.config.recording.reconciler_interval;
    if period.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = run_once(&state).await {
            tracing::warn!(error = %e, "reconciler pass failed");
        }
    }
}
