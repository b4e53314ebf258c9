//! The notification outbox (recordings §7, §11.3.3, B8): rows queued in the transaction that
//! saved a recording, delivered here with retries and exponential backoff. The decision to
//! notify is exactly-once (one row per recording, kind and recipient); delivery is
//! at-least-once (a crash between sending and recording the delivery sends again). A recording
//! becomes `notification_succeeded` once all its rows are delivered; rows still failing after
//! `MEET_OUTBOX_GIVE_UP_AFTER` are abandoned and the recording stays `saved` (downloadable).
//!
//! - `email`: one message per owner, in the owner's language and time zone (B9, S5), with the
//!   link `<RECORDING_DOWNLOAD_BASE_URL or SCREEN_RECORDING_BASE_URL>/<id>` when one is set (S1)
//!   and the expiry sentence when `RECORDING_EXPIRATION_DAYS` is set (now-recordings §12.3);
//! - `summary`: the summary service call of `service::summary` (v1 or v2 payload, bearer
//!   token, the recording id as `Idempotency-Key`, bounded by `MEET_SUMMARY_SERVICE_TIMEOUT`).

use std::time::Duration;

use crate::domain::recording::Status;
use crate::error::ApiError;
use crate::mail::recording_ready;
use crate::service::summary::SummaryFailure;
use crate::state::AppState;
use crate::store::recordings::{self as store, Change, Notification};
use crate::store::{now, rooms};

/// How long a claimed row is kept from other workers while it is being delivered.
const LEASE: Duration = Duration::from_secs(300);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

enum Failure {
    /// Worth retrying (server down, timeout, non-2xx answer).
    Retry(String),
    /// Cannot succeed (recipient without address, recording deleted).
    Permanent(String),
}

/// The delay before attempt `attempts + 1`.
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    base.saturating_mul(2u32.saturating_pow(exp)).min(MAX_BACKOFF)
}

async fn deliver(state: &AppState, n: &Notification) -> Result<(), Failure> {
    let db_err = |e: crate::store::StoreError| Failure::Retry(format!("database: {e}"));
    let rec = store::get(&state.db, n.recording_id).await.map_err(db_err)?;
    let rec = rec.ok_or_else(|| Failure::Permanent("recording deleted".into()))?;
    let user = store::user(&state.db, n.recipient_id).await.map_err(db_err)?;
    let user = user.ok_or_else(|| Failure::Permanent("recipient deleted".into()))?;
    match n.kind.as_str() {
        "email" => {
            let to = user.email.clone().filter(|e| !e.is_empty());
            let to = to.ok_or_else(|| Failure::Permanent("owner has no e-mail address".into()))?;
            let room = rooms::get(&state.db, rec.room_id).await.map_err(db_err)?;
            let room_name = room.map(|r| r.name).unwrap_or_default();
            let cfg = &state.config.recording;
            let message = recording_ready::render(&recording_ready::Vars {
                brand_name: cfg.email.brand_name.as_deref(),
                support_email: cfg.email.support_email.as_deref(),
                logo_img: cfg.email.logo_img.as_deref(),
                room_name: &room_name,
                created_at: rec.created_at,
                timezone: &user.timezone,
                language: &user.language,
                default_language: &state.config.language_code,
                link: cfg.download_base().map(|base| format!("{base}/{}", rec.id)),
                expiration_days: state.config.rooms.recording_expiration_days,
            });
            state.mailer.send(&to, &message).await.map_err(|e| Failure::Retry(e.to_string()))
        }
        "summary" => {
            let call = async {
                crate::service::summary::submit(state, &rec, &user).await.map_err(|e| match e {
                    SummaryFailure::Retry(e) => Failure::Retry(e),
                    SummaryFailure::Permanent(e) => Failure::Permanent(e),
                })
            };
            crate::metrics::call("summary", "notify", call).await
        }
        other => Err(Failure::Permanent(format!("unknown notification kind {other}"))),
    }
}

/// Delivers every due notification once; returns how many were delivered.
pub async fn run_once(state: &AppState) -> Result<usize, ApiError> {
    let cfg = &state.config.recording;
    let mut delivered = 0;
    for n in store::due_notifications(&state.db, now(), 50).await? {
        let lease = now() + chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::minutes(5));
        if !store::claim_notification(&state.db, &n, lease).await? {
            continue; // another worker has it
        }
        match deliver(state, &n).await {
            Ok(()) => {
                store::notification_delivered(&state.db, n.id).await?;
                delivered += 1;
                if store::all_delivered(&state.db, n.recording_id).await? {
                    store::transition(&state.db, n.recording_id, Status::NotificationSucceeded, Change::default())
                        .await?;
                }
                tracing::info!(recording.id = %n.recording_id, kind = %n.kind, "notification delivered");
            }
            Err(Failure::Permanent(e)) => {
                tracing::warn!(recording.id = %n.recording_id, kind = %n.kind, error = %e, "notification abandoned");
                store::notification_failed(&state.db, n.id, &e, None).await?;
            }
            Err(Failure::Retry(e)) => {
                let age = (now() - n.created_at).to_std().unwrap_or_default();
                let retry_at = (age < cfg.outbox_give_up_after).then(|| {
                    now()
                        + chrono::Duration::from_std(backoff(cfg.outbox_retry_base, n.attempts + 1))
                            .unwrap_or(chrono::Duration::hours(1))
                });
                tracing::warn!(
                    recording.id = %n.recording_id, kind = %n.kind, attempt = n.attempts + 1, error = %e,
                    "notification was not sent"
                );
                store::notification_failed(&state.db, n.id, &e, retry_at).await?;
            }
        }
    }
    Ok(delivered)
}

/// Runs [`run_once`] every `MEET_OUTBOX_INTERVAL_MS`.
pub async fn run_loop(state: AppState) {
    let mut tick = tokio::time::interval(state.config.recording.outbox_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = run_once(&state).await {
            tracing::warn!(error = %e, "outbox pass failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1), Duration::from_secs(30));
        assert_eq!(backoff(base, 2), Duration::from_secs(60));
        assert_eq!(backoff(base, 4), Duration::from_secs(240));
        assert_eq!(backoff(base, 30), MAX_BACKOFF);
    }
}
