//! Object cleanup tasks (now-recordings-files §22, issue "Meet today, part 2" items 5–6): each is
//! a `run_once` that the `meet` subcommands and the server's own scheduler call. Every step is a
//! conditional statement or an idempotent object deletion, so passes may overlap on several
//! instances, and a pass interrupted at any point is finished by the next one.
//!
//! - [`clean_pending_files`]: files whose upload never ended (`pending`, and `analyzing` left by
//!   a crash, R-F4) older than N hours lose their objects and rows.
//! - [`purge_deleted_files`]: hard-deleted files, and files soft-deleted at least
//!   `FILE_PURGE_GRACE_DAYS` days ago, lose their objects and rows.
//! - [`purge_expired_recordings`]: recordings older than `RECORDING_EXPIRATION_DAYS` lose their
//!   object (the row stays, `is_expired`); off unless scheduled or run by hand.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::files as store;
use crate::store::now;

/// What one pass did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobReport {
    /// The task's name (`clean_pending_files`, …).
    pub name: &'static str,
    /// Items removed by this pass.
    pub processed: u64,
    /// The line the command prints.
    pub message: String,
}

/// `now` minus `n` units of `unit_secs` seconds (the earliest time when that is out of range).
fn ago(n: u64, unit_secs: u64) -> chrono::DateTime<chrono::Utc> {
    let secs = i64::try_from(n.saturating_mul(unit_secs)).unwrap_or(i64::MAX);
    chrono::Duration::try_seconds(secs)
        .and_then(|d| now().checked_sub_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}

pub mod clean_pending_files {
    //! `clean_pending_files [--hours N]` (§22.2).
    use super::*;

    /// One pass with `MEET_CLEAN_PENDING_FILES_HOURS`.
    pub async fn run_once(state: &AppState) -> Result<JobReport, ApiError> {
        run_with_hours(state, state.config.files.clean_pending_hours).await
    }

    /// One pass removing the uploads not ended within `hours`.
    pub async fn run_with_hours(state: &AppState, hours: u64) -> Result<JobReport, ApiError> {
        let mut processed = 0;
        for file in store::stale_uploads(&state.db, super::ago(hours, 3600)).await? {
            store::hard_delete(&state.db, file.id).await?;
            let Some(file) = store::get(&state.db, file.id).await? else { continue };
            if crate::service::files::delete_file(state, &file).await? {
                processed += 1;
            }
        }
        Ok(JobReport {
            name: "clean_pending_files",
            processed,
            message: format!("Cleaned {processed} stale pending file(s)."),
        })
    }
}

pub mod purge_deleted_files {
    //! `purge_deleted_files` (§22.3).
    use super::*;

    pub async fn run_once(state: &AppState) -> Result<JobReport, ApiError> {
        let deleted_before = super::ago(state.config.files.purge_grace_days, 86_400);
        let mut processed = 0;
        for file in store::purgeable(&state.db, deleted_before).await? {
            if file.hard_deleted_at.is_none() {
                store::hard_delete(&state.db, file.id).await?;
            }
            let Some(file) = store::get(&state.db, file.id).await? else { continue };
            if crate::service::files::delete_file(state, &file).await? {
                processed += 1;
            }
        }
        Ok(JobReport {
            name: "purge_deleted_files",
            processed,
            message: format!("Purged {processed} deleted file(s)."),
        })
    }
}

pub mod purge_expired_recordings {
    //! Deletes the objects of recordings older than `RECORDING_EXPIRATION_DAYS` (beyond
    //! upstream, which leaves this to a bucket lifecycle rule). The rows stay.
    use super::*;

    pub async fn run_once(state: &AppState) -> Result<JobReport, ApiError> {
        let name = "purge_expired_recordings";
        let Some(expiration) = state.config.rooms.recording_expiration_days else {
            let message = "RECORDING_EXPIRATION_DAYS is not set: no recording expires.".to_string();
            return Ok(JobReport { name, processed: 0, message });
        };
        let before = super::ago(expiration, 86_400);
        let mut processed = 0;
        loop {
            let ids = store::expired_recordings(&state.db, before, 100).await?;
            if ids.is_empty() {
                break;
            }
            for id in ids {
                let Some(rec) = crate::store::recordings::get(&state.db, id).await? else { continue };
                let key = crate::service::recordings::key_of(state, &rec);
                state.s3.delete(&key).await.map_err(|e| {
                    tracing::warn!(error = %e, recording.id = %id, "expired recording object not deleted");
                    ApiError::Unavailable("object store")
                })?;
                if store::mark_recording_purged(&state.db, id).await? {
                    tracing::info!(recording.id = %id, key, "expired recording object deleted");
                    processed += 1;
                }
            }
        }
        Ok(JobReport { name, processed, message: format!("Purged {processed} expired recording object(s).") })
    }
}
