//! The background worker of the durable job table (`store::jobs`): every
//! `MEET_JOBS_INTERVAL_MS`, each instance claims the due jobs (a compare-and-set that leases
//! them) and runs them; a job is finished once, by one instance. Today's only kind deletes a
//! connection-test room in LiveKit (now-rooms §12); a LiveKit failure is retried with a growing
//! delay, `not_found` counts as done, and a name without the connection-test prefix is refused.

use std::time::Duration;

use crate::error::ApiError;
use crate::livekit::CallError;
use crate::state::AppState;
use crate::store::jobs::{self, Job};
use crate::store::now;

/// How long a claimed job is kept from other workers while it runs.
const LEASE: Duration = Duration::from_secs(120);
/// Runs before a failing job is given up.
const MAX_ATTEMPTS: i64 = 6;
/// Finished jobs are kept this long (for operators), then purged.
const KEEP_FINISHED: Duration = Duration::from_secs(7 * 86_400);

enum Outcome {
    Done,
    GiveUp(String),
    Retry(String),
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1))
}

async fn run(state: &AppState, job: &Job) -> Outcome {
    match job.kind.as_str() {
        super::diagnostics::DELETE_ROOM => {
            let prefix = format!("{}-", state.config.rooms.connection_test_room_prefix);
            if !job.payload.starts_with(&prefix) {
                return Outcome::GiveUp("not a connection-test room".into());
            }
            match state.livekit.delete_room(&job.payload).await {
                Ok(()) => Outcome::Done,
                Err(e) if e.is_not_found() => Outcome::Done,
                Err(CallError::NotConfigured) => Outcome::GiveUp("LIVEKIT_API_URL is not set".into()),
                Err(e) => Outcome::Retry(e.to_string()),
            }
        }
        other => Outcome::GiveUp(format!("unknown job kind {other}")),
    }
}

/// Runs every due job once; returns how many were finished.
pub async fn run_once(state: &AppState) -> Result<usize, ApiError> {
    let mut finished = 0;
    for job in jobs::due(&state.db, now(), 50).await? {
        if !jobs::claim(&state.db, &job, now() + chrono(LEASE)).await? {
            continue; // another instance has it
        }
        let attempt = job.attempts + 1;
        match run(state, &job).await {
            Outcome::Done => {
                jobs::finish(&state.db, job.id, None).await?;
                tracing::info!(job.kind = %job.kind, job.payload = %job.payload, "job done");
                finished += 1;
            }
            Outcome::GiveUp(e) => {
                tracing::warn!(job.kind = %job.kind, job.payload = %job.payload, error = %e, "job given up");
                jobs::finish(&state.db, job.id, Some(&e)).await?;
                finished += 1;
            }
            Outcome::Retry(e) if attempt >= MAX_ATTEMPTS => {
                tracing::warn!(job.kind = %job.kind, job.payload = %job.payload, error = %e, "job failed, given up");
                jobs::finish(&state.db, job.id, Some(&e)).await?;
                finished += 1;
            }
            Outcome::Retry(e) => {
                let delay = crate::service::outbox::backoff(Duration::from_secs(30), attempt);
                tracing::warn!(job.kind = %job.kind, job.payload = %job.payload, attempt, error = %e, "job failed");
                jobs::retry(&state.db, job.id, &e, now() + chrono(delay)).await?;
            }
        }
    }
    Ok(finished)
}

/// Deletes the jobs finished more than a week ago; returns how many (the scheduled job
/// `purge-finished-jobs`).
pub async fn purge_finished(state: &AppState) -> Result<u64, crate::store::StoreError> {
    jobs::purge_finished(&state.db, now() - chrono(KEEP_FINISHED)).await
}

/// Runs [`run_once`] every `MEET_JOBS_INTERVAL_MS` (old finished jobs are purged by the
/// scheduler).
pub async fn run_loop(state: AppState) {
    let period = state.config.incall.jobs_interval;
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = run_once(&state).await {
            tracing::warn!(error = %e, "job pass failed");
        }
    }
}
