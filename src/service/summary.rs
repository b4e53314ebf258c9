//! The summary-service call of a saved recording (now-recordings §12.4–§12.6), made by the
//! notification outbox: version 1 posts the 12-key payload, version 2 the presigned-URL payload
//! with the Docs hand-off and stores the returned `job_id` as `external_process_id`. Each call
//! carries the recording id as `Idempotency-Key`; the outbox retries failures.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use crate::domain::recording_head::{flag, summary_language};
use crate::i18n::Lang;
use crate::state::AppState;
use crate::store::recordings::{self as store, Recording};
use crate::store::rooms;
use crate::store::users::User;

use super::recordings::key_of;

/// Bound on the `ListEgress` call that reads the file's times (§12.6).
const LIST_EGRESS_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call did not succeed.
pub enum SummaryFailure {
    /// Worth retrying (service down, timeout, non-2xx answer).
    Retry(String),
    /// Cannot succeed (not configured).
    Permanent(String),
}

fn http() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT.get_or_init(|| reqwest::Client::builder().build().ok()).as_ref()
}

/// `+00:00` ISO 8601, as Python's `isoformat()` writes an aware UTC datetime.
fn iso_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// The egress file's start and end (§12.6): unknown on any failure or when LiveKit has none.
async fn egress_times(state: &AppState, rec: &Recording) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let Some(worker) = rec.worker_id.as_deref().filter(|w| !w.is_empty()) else { return (None, None) };
    let items = match tokio::time::timeout(LIST_EGRESS_TIMEOUT, state.livekit.egress.list_by_id(worker)).await {
        Ok(Ok(items)) => items,
        Ok(Err(e)) => {
            tracing::warn!(recording.id = %rec.id, error = %e, "egress times unknown");
            return (None, None);
        }
        Err(_) => return (None, None),
    };
    let Some(file) = items.first().and_then(|i| i.file_results.first()) else { return (None, None) };
    let at = |ns: i64| (ns > 0).then(|| Utc.timestamp_nanos(ns));
    (at(file.started_at), at(file.ended_at))
}

/// `Meeting "{room}" on {date} at {time}` in upstream's translations (§12.5).
fn title(lang: Lang, room: &str, start: Option<(String, String)>) -> String {
    match (lang, start) {
        (Lang::En, Some((d, t))) => format!("Meeting \"{room}\" on {d} at {t}"),
        (Lang::Fr, Some((d, t))) => format!("Réunion \"{room}\" du {d} à {t}"),
        (Lang::Nl, Some((d, t))) => format!("Vergadering \"{room}\" op {d} om {t}"),
        (Lang::De, Some((d, t))) => format!("Besprechung \"{room}\" am {d} um {t}"),
        (Lang::En | Lang::Fr, None) => "Transcription".into(),
        (Lang::Nl, None) => "Transcriptie".into(),
        (Lang::De, None) => "Transkription".into(),
    }
}

/// The body of the call for `owner` (§12.4 for version 1, §12.5 for version 2).
pub async fn payload(state: &AppState, rec: &Recording, owner: &User) -> Result<Value, SummaryFailure> {
    let cfg = &state.config.recording;
    let head = &cfg.head;
    let room = rooms::get(&state.db, rec.room_id).await.map_err(|e| SummaryFailure::Retry(e.to_string()))?;
    let room_name = room.map(|r| r.name).unwrap_or_default();
    let options = &rec.options.0;
    let metadata_file = (head.metadata_collector_enabled && flag(options, "collect_metadata"))
        .then(|| format!("{}/{}-metadata.json", head.metadata_collector_output_folder, rec.id));
    // no link rather than "None/<id>" when no base URL is configured.
    let link = cfg.download_base().map(|base| format!("{base}/{}", rec.id));
    let (started, ended) = egress_times(state, rec).await;
    let option_language = options.get("language").and_then(Value::as_str);
    if head.summary_version == 1 {
        return Ok(json!({
            "owner_id": owner.id.to_string(),
            "recording_filename": key_of(state, rec),
            "metadata_filename": metadata_file,
            "email": owner.email,
            "sub": owner.sub,
            "room": room_name,
            "language": option_language,
            "owner_timezone": owner.timezone,
            "download_link": link,
            "context_language": owner.language,
            "recording_start_at": started.map(iso_utc),
            "recording_end_at": ended.map(iso_utc),
        }));
    }
    let presign = |key: &str| {
        crate::s3::presign_get_url(&cfg.s3, key, head.signed_url_expiry, SystemTime::now())
            .map_err(|e| SummaryFailure::Permanent(format!("cannot presign {key}: {e}")))
    };
    let lang = crate::i18n::supported_variant(&owner.language)
        .or_else(|| option_language.and_then(crate::i18n::supported_variant))
        .or_else(|| crate::i18n::supported_variant(&state.config.language_code))
        .unwrap_or(Lang::En);
    let start_local = started.map(|t| crate::mail::recording_ready::date_time(t, &owner.timezone, lang));
    let form_link = match (&head.satisfaction_form_base_url, &metadata_file) {
        (Some(base), Some(_)) => Some(format!("{base}?room_id={}", rec.room_id)),
        _ => None,
    };
    let metadata = match (&metadata_file, started, ended) {
        (Some(file), Some(s), Some(e)) => {
            json!({"cloud_storage_url": presign(file)?, "started_at": iso_utc(s), "ended_at": iso_utc(e)})
        }
        _ => Value::Null,
    };
    Ok(json!({
        "user_sub": owner.sub,
        "user_email": owner.email,
        "cloud_storage_url": presign(&key_of(state, rec))?,
        "language": summary_language(option_language, &owner.language),
        "context_language": owner.language,
        "push_to_docs_config": {
            "user_email": owner.email,
            "title": title(lang, &room_name, start_local),
            "download_link": link,
            "form_link": form_link,
            "auto_create_summary": false,
        },
        "metadata": metadata,
    }))
}

/// Posts the recording to the summary service for `owner`; on version 2 the answer's string
/// `job_id` becomes the recording's `external_process_id` (R-5: a missing or already used id is
/// logged, the call still succeeded).
pub async fn submit(state: &AppState, rec: &Recording, owner: &User) -> Result<(), SummaryFailure> {
    let cfg = &state.config.recording;
    let (Some(endpoint), Some(token)) = (&cfg.summary_endpoint, &cfg.summary_token) else {
        return Err(SummaryFailure::Permanent("Summary service not configured".into()));
    };
    let body = payload(state, rec, owner).await?;
    let client = http().ok_or_else(|| SummaryFailure::Retry("no HTTP client".into()))?;
    let send = client
        .post(endpoint)
        .bearer_auth(token)
        .header("Idempotency-Key", rec.id.to_string())
        .json(&body)
        .timeout(cfg.summary_timeout)
        .send();
    let resp = tokio::time::timeout(cfg.summary_timeout + Duration::from_millis(100), send)
        .await
        .map_err(|_| SummaryFailure::Retry("summary service timed out".into()))?
        .map_err(|e| SummaryFailure::Retry(format!("summary service unreachable: {e}")))?;
    if !resp.status().is_success() {
        return Err(SummaryFailure::Retry(format!("summary service answered HTTP {}", resp.status().as_u16())));
    }
    if cfg.head.summary_version != 2 {
        return Ok(());
    }
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    match answer.get("job_id").and_then(Value::as_str) {
        Some(job) => match store::set_external_process_id(&state.db, rec.id, job).await {
            Ok(true) => tracing::info!(recording.id = %rec.id, job, "summary job created"),
            Ok(false) => {
                tracing::warn!(recording.id = %rec.id, job, "summary job id already used by another recording")
            }
            Err(e) => return Err(SummaryFailure::Retry(format!("database: {e}"))),
        },
        None => tracing::warn!(recording.id = %rec.id, "summary service answered without a job id"),
    }
    Ok(())
}
