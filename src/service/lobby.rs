//! Lobby use-cases (lobby-livekit §4) over the cache. Every state change is one atomic cache
//! operation, so two instances (or two administrators, or a poll and a decision) can act at the
//! same moment safely:
//! - a new waiter is created with set-if-absent, and only the winner notifies LiveKit (R-LK4),
//!   coalesced per room through set-if-absent windows, with a trailing notification for waiters
//!   who arrive inside one (S-LK4, see [`notify`]);
//! - a poll refreshes the TTL only if the stored value is still the `waiting` value it read
//!   (compare-and-set), so it can never shorten a decision (R-LK2);
//! - a decision is a compare-and-set loop on the entry: 404 when it is missing (R-LK3);
//! - each room keeps an index of its participants by arrival, so listing never scans (P1).

use std::time::Duration;

use serde::Serialize;
use tracing::Instrument;
use uuid::Uuid;

use crate::domain::colour;
use crate::domain::lobby::{Entry, Status};
use crate::domain::permissions::{self, AccessLevel, Role};
use crate::error::ApiError;
use crate::livekit::token::{self, LiveKitOut};
use crate::state::AppState;
use crate::store::rooms::Room;
use crate::store::users::User;

/// The 403 of the lobby's administrator routes (now-rooms §15.3: `PRIV403`).
pub const NOT_ADMIN: crate::i18n::MsgId = crate::i18n::msg::PRIVILEGES_ON_ROOM;

/// The `request-entry` answer: the participant (`status`, `username`, `id`, `color`), then
/// `livekit` (a join token when admitted).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Admission {
    #[serde(flatten)]
    pub entry: Entry,
    pub livekit: Option<LiveKitOut>,
}

fn level(room: &Room) -> AccessLevel {
    // Unknown stored values are treated as the most private level.
    AccessLevel::parse(&room.access_level).unwrap_or(AccessLevel::Restricted)
}

/// `request-entry` for a found room: decides the bypass (public; trusted and authenticated; any
/// role on the room, Q3), runs the lobby, and mints the token of an admitted participant: the
/// caller's identity (the participant id for anonymous callers, S-LK3b), this request's
/// username, and the participant's colour.
pub async fn request_entry_for(
    state: &AppState,
    room: &Room,
    role: Option<Role>,
    user: Option<&User>,
    pid: &str,
    fresh: bool,
    username: &str,
) -> Result<Admission, ApiError> {
    let bypass = match level(room) {
        AccessLevel::Public => true,
        AccessLevel::Trusted if user.is_some() => true,
        _ => role.is_some(),
    };
    let outcome = request_entry(state, room.id, pid, fresh, username, || colour::colour(pid), bypass).await?;
    let livekit = if outcome.admitted {
        let identity = match user {
            Some(u) => token::identity(Some(u)),
            None => pid.to_string(),
        };
        let room_name = room.id.to_string();
        // now-rooms §7.1, §15.2: the caller's role and the room's sources.
        let can_edit = state.config.rooms.authenticated_participants_can_edit_display_name;
        let name = token::display_name(user, Some(username), can_edit);
        let grant = token::Grant {
            room: &room_name,
            identity: &identity,
            name: &name,
            colour: &outcome.entry.color,
            role,
            is_authenticated: user.is_some(),
            room_sources: crate::domain::room_config::publish_sources(&room.configuration.0),
        };
        let jwt = token::mint(&state.config, &grant).map_err(ApiError::internal)?;
        Some(LiveKitOut { url: state.config.livekit_api_url.clone(), room: room_name, token: jwt })
    } else {
        None
    };
    Ok(Admission { entry: outcome.entry, livekit })
}

fn require_admin(role: Option<Role>) -> Result<(), ApiError> {
    if permissions::is_administrator(role) {
        Ok(())
    } else {
        Err(ApiError::ForbiddenMessage(NOT_ADMIN.into()))
    }
}

/// `waiting-participants` for a found room: administrators only; public rooms have no lobby.
pub async fn waiting_for_admin(state: &AppState, room: &Room, role: Option<Role>) -> Result<Vec<Entry>, ApiError> {
    require_admin(role)?;
    if level(room) == AccessLevel::Public {
        return Ok(Vec::new());
    }
    waiting(state, room.id).await
}

/// `enter` for a found room: administrators only; public rooms have no lobby.
pub async fn decide_as_admin(
    state: &AppState,
    room: &Room,
    role: Option<Role>,
    pid: &str,
    allow: bool,
) -> Result<Result<(), DecideError>, ApiError> {
    require_admin(role)?;
    if level(room) == AccessLevel::Public {
        return Ok(Err(DecideError::NoLobby));
    }
    let first = decide(state, room.id, pid, allow).await?;
    // B-LB-1: waiters whose cookie predates hyphenated ids are stored under 32 hex digits.
    match (first, Uuid::parse_str(pid)) {
        (Err(DecideError::ParticipantNotFound), Ok(u)) => decide(state, room.id, &u.simple().to_string(), allow).await,
        (first, _) => Ok(first),
    }
}

/// What `request-entry` answers, before the token is minted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub entry: Entry,
    /// True when the caller may join now (the handler then mints a LiveKit token).
    pub admitted: bool,
}

fn entry_key(state: &AppState, room: Uuid, pid: &str) -> String {
    format!("{}_{}_{}", state.config.lobby_key_prefix, room, pid)
}

fn index_key(state: &AppState, room: Uuid) -> String {
    format!("{}_index_{}", state.config.lobby_key_prefix, room)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Reads the entry; a corrupted value is deleted and reads as absent.
async fn read(state: &AppState, key: &str) -> Result<Option<(String, Entry)>, ApiError> {
    let Some(raw) = state.cache.get(key).await? else { return Ok(None) };
    match Entry::parse(&raw) {
        Some(e) => Ok(Some((raw, e))),
        None => {
            tracing::warn!("corrupted lobby entry deleted");
            state.cache.compare_and_set(key, &raw, None, None).await?;
            Ok(None)
        }
    }
}

/// `request-entry` (lobby-livekit §4.4) once the body, the room and the bypass are known.
/// `bypass` is true for public rooms, trusted rooms with an authenticated caller, and callers
/// with a role on the room (Q3). `fresh`: `pid` was drawn for this request (no cookie), so no
/// entry can exist yet and the first read is skipped.
#[allow(clippy::too_many_arguments)]
pub async fn request_entry(
    state: &AppState,
    room: Uuid,
    pid: &str,
    fresh: bool,
    username: &str,
    color: impl Fn() -> String,
    bypass: bool,
) -> Result<Outcome, ApiError> {
    let key = entry_key(state, room, pid);
    let waiting_ttl = state.config.lobby_waiting_timeout;
    // A few rounds at most: each lost compare-and-set means another request changed the entry.
    for round in 0..5 {
        let existing = if fresh && round == 0 { None } else { read(state, &key).await? };
        if bypass {
            let entry = match existing {
                Some((raw, e)) => {
                    if e.status == Status::Waiting {
                        // Q2: the waiter may enter; drop it from the administrators' list.
                        state.cache.compare_and_set(&key, &raw, None, None).await?;
                        state.cache.index_remove(&index_key(state, room), &[pid.to_string()]).await?;
                    }
                    Entry { status: Status::Accepted, ..e }
                }
                None => Entry {
                    status: Status::Accepted,
                    username: username.to_string(),
                    id: pid.to_string(),
                    color: color(),
                },
            };
            return Ok(Outcome { entry, admitted: true });
        }
        match existing {
            None => {
                let entry = Entry {
                    status: Status::Waiting,
                    username: username.to_string(),
                    id: pid.to_string(),
                    color: color(),
                };
                // The entry and its place in the room's index (P1) are one atomic step.
                let index_ttl = state.config.lobby_accepted_timeout.max(waiting_ttl) + Duration::from_secs(60);
                let index = index_key(state, room);
                let stored = state
                    .cache
                    .set_nx_indexed(&key, &entry.to_json(), waiting_ttl, &index, pid, now_ms(), index_ttl)
                    .await?;
                if !stored {
                    continue; // a concurrent first poll with the same cookie won: read its entry
                }
                // The rest of the arrival runs in its own task, started in the same poll as the
                // entry's creation: a client hanging up cannot leave a stored waiter unannounced.
                let arrival = tokio::spawn(arrive(state.clone(), room).instrument(tracing::Span::current()));
                arrival.await.map_err(ApiError::internal)??;
                crate::metrics::lobby("waiting");
                return Ok(Outcome { entry, admitted: false });
            }
            Some((raw, e)) => match e.status {
                Status::Waiting => {
                    if state.cache.compare_and_set(&key, &raw, Some(&raw), Some(waiting_ttl)).await? {
                        return Ok(Outcome { entry: e, admitted: false });
                    }
                    // Decided (or expired) between our read and our refresh: answer the new state.
                }
                Status::Accepted => return Ok(Outcome { entry: e, admitted: true }),
                Status::Denied => return Ok(Outcome { entry: e, admitted: false }),
            },
        }
    }
    Err(ApiError::Unavailable("cache"))
}

/// What follows the creation of a waiting entry (stored and indexed): prune now and then, and
/// schedule the room's notification (R-LK1: after the entry is stored).
async fn arrive(state: AppState, room: Uuid) -> Result<(), ApiError> {
    let span = tracing::info_span!("lobby_notify", room.id = %room);
    tokio::spawn(notify(state.clone(), room).instrument(span));
    // Waiters who stop polling leave their id in the index until an administrator's listing
    // prunes it. Prune the oldest ids now and then here too, so that a room nobody administers
    // cannot collect ids without bound: 200 ids per 32 arrivals on average, far more than arrive.
    if rand::random::<u8>() < 8 {
        prune_oldest(&state, room, 200).await?;
    }
    Ok(())
}

/// Length of the notification window of a room (S-LK4).
const NOTIFY_WINDOW: Duration = Duration::from_secs(1);
/// How long a scheduled trailing notification may wait for its window before it is sent anyway
/// (and how long its marker lives if its instance dies).
const TRAILING_LIMIT: Duration = Duration::from_secs(5);

/// Tells the room someone is waiting (S-LK4), at most once per room per window across every
/// instance, and never losing a waiter: the frontend polls the waiting list only after a
/// notification and stops at the first empty list, so a waiter who arrives inside the window of
/// the last notification is announced by a trailing one, sent when that window ends.
///
/// Both steps are single atomic cache operations, so instances sharing the cache coordinate:
/// - the window is a key set-if-absent with a one-second TTL: its creator sends now;
/// - inside a window, the arrival sets a `pending` key set-if-absent: its creator waits for the
///   window's end, takes the next window, deletes `pending` and only then sends. An arrival that
///   finds `pending` already set was stored before that delete, hence before that send.
///
/// Cache trouble sends at once rather than strand a waiter. Runs in its own task: LiveKit's
/// time bound (E1) and the wait never delay or fail the request.
async fn notify(state: AppState, room: Uuid) {
    let window = format!("{}_notified_{}", state.config.lobby_key_prefix, room);
    let pending = format!("{}_notify_pending_{}", state.config.lobby_key_prefix, room);
    match open_window(&state, &window).await {
        Ok(true) => return send_notification(&state, room).await,
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(error = %e, "lobby notification window unavailable; notifying now");
            return send_notification(&state, room).await;
        }
    }
    match state.cache.set_nx(&pending, "1", Some(TRAILING_LIMIT)).await {
        Ok(true) => {}
        Ok(false) => return, // a trailing notification is already scheduled
        Err(e) => tracing::warn!(error = %e, "lobby notification marker unavailable; scheduling anyway"),
    }
    let give_up = tokio::time::Instant::now() + TRAILING_LIMIT;
    loop {
        tokio::time::sleep(window_left(&state, &window).await).await;
        match open_window(&state, &window).await {
            Ok(true) => break,
            // Another arrival opened the next window first; its notification may precede
            // waiters who rely on ours: wait for that window too.
            Ok(false) if tokio::time::Instant::now() < give_up => {}
            Ok(false) => {
                tracing::warn!("lobby notification window never free; notifying anyway");
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "lobby notification window unavailable; notifying now");
                break;
            }
        }
    }
    if let Err(e) = state.cache.delete(&pending).await {
        tracing::warn!(error = %e, "lobby notification marker not deleted");
    }
    send_notification(&state, room).await;
}

/// Opens the room's notification window if none is open; true when this call opened it. The
/// value is the opening time, so that a trailing notification knows when it ends.
async fn open_window(state: &AppState, window: &str) -> Result<bool, crate::cache::CacheError> {
    state.cache.set_nx(window, &now_ms().to_string(), Some(NOTIFY_WINDOW)).await
}

/// How long until the open window ends (bounded; polled again while the key lives on).
async fn window_left(state: &AppState, window: &str) -> Duration {
    let window_ms = NOTIFY_WINDOW.as_millis() as i64;
    match state.cache.get(window).await {
        Ok(None) => Duration::ZERO,
        Ok(Some(opened)) => {
            let left = opened.parse::<i64>().map(|t| t + window_ms - now_ms()).unwrap_or(window_ms);
            Duration::from_millis(left.clamp(20, window_ms) as u64)
        }
        Err(_) => Duration::from_millis(100),
    }
}

/// One notification attempt, bounded in time (E1); failures are logged.
async fn send_notification(state: &AppState, room: Uuid) {
    match state.livekit.notify_waiting(&room.to_string(), &state.config.lobby_notification_type).await {
        Ok(true) => tracing::debug!("participants notified"),
        Ok(false) => tracing::debug!("room not running in LiveKit: nobody to notify"),
        Err(e) => tracing::warn!(error = %e, "lobby notification failed"),
    }
}

/// Drops from the room's index the oldest `limit` ids whose entry is gone.
async fn prune_oldest(state: &AppState, room: Uuid, limit: usize) -> Result<(), ApiError> {
    let index = index_key(state, room);
    let members = state.cache.index_oldest(&index, limit).await?;
    let keys: Vec<String> = members.iter().map(|m| entry_key(state, room, m)).collect();
    let values = state.cache.get_many(&keys).await?;
    let gone: Vec<String> = members.into_iter().zip(values).filter(|(_, v)| v.is_none()).map(|(m, _)| m).collect();
    state.cache.index_remove(&index, &gone).await?;
    Ok(())
}

/// Waiting participants of a room, by arrival (lobby-livekit §4.5). Expired members are pruned
/// from the index, corrupted entries deleted.
pub async fn waiting(state: &AppState, room: Uuid) -> Result<Vec<Entry>, ApiError> {
    let index = index_key(state, room);
    let rows = state.cache.index_with_values(&index, &entry_key(state, room, "")).await?;
    let mut out = Vec::new();
    let mut gone = Vec::new();
    for (member, value) in rows {
        match value.as_deref().map(|raw| (raw, Entry::parse(raw))) {
            None => gone.push(member),
            Some((raw, None)) => {
                state.cache.compare_and_set(&entry_key(state, room, &member), raw, None, None).await?;
                gone.push(member);
            }
            Some((_, Some(e))) if e.status == Status::Waiting => out.push(e),
            Some(_) => {}
        }
    }
    state.cache.index_remove(&index, &gone).await?;
    Ok(out)
}

/// Why a decision could not be recorded.
#[derive(Debug, PartialEq, Eq)]
pub enum DecideError {
    NoLobby,
    ParticipantNotFound,
}

/// Records an administrator's decision (lobby-livekit §4.6) as one compare-and-set: the entry
/// must exist; the last decision wins (R-LK3).
pub async fn decide(state: &AppState, room: Uuid, pid: &str, allow: bool) -> Result<Result<(), DecideError>, ApiError> {
    let key = entry_key(state, room, pid);
    let (status, ttl) = if allow {
        (Status::Accepted, state.config.lobby_accepted_timeout)
    } else {
        (Status::Denied, state.config.lobby_denied_timeout)
    };
    for _ in 0..5 {
        let Some((raw, e)) = read(state, &key).await? else { return Ok(Err(DecideError::ParticipantNotFound)) };
        let decided = Entry { status, ..e };
        if state.cache.compare_and_set(&key, &raw, Some(&decided.to_json()), Some(ttl)).await? {
            tracing::info!(room.id = %room, allow, "lobby decision recorded");
            crate::metrics::lobby(if allow { "accepted" } else { "denied" });
            return Ok(Ok(()));
        }
    }
    Err(ApiError::Unavailable("cache"))
}

/// Deletes every lobby entry of a room (LiveKit `room_finished`, L-30).
pub async fn clear(state: &AppState, room: Uuid) -> Result<usize, ApiError> {
    let index = index_key(state, room);
    // Every entry is indexed when created, and the index outlives its entries.
    let members = state.cache.index_members(&index).await?;
    for m in &members {
        state.cache.delete(&entry_key(state, room, m)).await?;
    }
    state.cache.index_remove(&index, &members).await?;
    Ok(members.len())
}

/// Deletes one participant's lobby entry (now-rooms §5.3: a removed participant must wait in
/// the lobby again); no error when there is none.
pub async fn forget(state: &AppState, room: Uuid, pid: &str) -> Result<(), ApiError> {
    state.cache.delete(&entry_key(state, room, pid)).await?;
    state.cache.index_remove(&index_key(state, room), &[pid.to_string()]).await?;
    Ok(())
}
