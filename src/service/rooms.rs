//! Room use-cases (users-auth-rooms §5.3–§5.9, now-rooms §6): list, create, retrieve, update,
//! delete and the creation callback. Every write that depends on a role runs in one transaction that first
//! locks the room (`store::rooms::lock`); creation writes the room, its owner access and the
//! callback entry before committing (B15).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tracing::{instrument, Instrument};
use uuid::Uuid;

use crate::domain::fields::{char_field, choice_field, NOT_NULL};
use crate::domain::permissions::{self, AccessLevel, Role};
use crate::domain::room_config;
use crate::domain::slug::{room_slug, RoomRef};
use crate::error::{ApiError, FieldErrors};
use crate::livekit::token::{self, LiveKitOut};
use crate::state::AppState;
use crate::store::rooms::{self, AccessWithUser, Room};
use crate::store::users::User;
use crate::store::{accesses, StoreError};

/// Longest room name (§3.5).
pub const NAME_MAX_CHARS: usize = 500;
/// `{"slug": [...]}` when the slug is taken (M-2, R-8).
pub const SLUG_TAKEN: crate::i18n::MsgId = crate::i18n::msg::ROOM_SLUG_TAKEN;
/// Prefix of the creation-callback cache keys (§5.5 step 3).
pub const CALLBACK_KEY_PREFIX: &str = "room-creation-callback_";

/// A room as one caller sees it: the parts of the now-rooms §6.2 representation.
#[derive(Debug, Clone)]
pub struct RoomView {
    pub room: Room,
    /// Every access of the room, newest first, when the caller is an administrator or owner.
    pub accesses: Option<Vec<AccessWithUser>>,
    /// `livekit` (and with it `pin_code`) when the caller may join.
    pub livekit: Option<LiveKitOut>,
}

fn parse_role(s: &str) -> Result<Role, ApiError> {
    Role::parse(s).ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown role {s:?} in the database")))
}

fn parse_level(s: &str) -> Result<AccessLevel, ApiError> {
    AccessLevel::parse(s).ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown access level {s:?}")))
}

/// The caller's role among the room's accesses.
fn role_among(all: &[AccessWithUser], user: Option<&User>) -> Result<Option<Role>, ApiError> {
    let Some(user) = user else { return Ok(None) };
    all.iter().find(|a| a.user_id == user.id).map(|a| parse_role(&a.role)).transpose()
}

/// Who the LiveKit tokens of one response are for. A user's identity, name and colour are
/// computed once per response, not once per listed room (B11); anonymous callers get a fresh
/// identity per token (lobby-livekit §2.4).
pub struct Participant<'a> {
    user: Option<&'a User>,
    username: Option<&'a str>,
    fixed: Option<(String, String, String)>,
}

impl<'a> Participant<'a> {
    pub fn new(state: &AppState, user: Option<&'a User>, username: Option<&'a str>) -> Self {
        let can_edit = state.config.rooms.authenticated_participants_can_edit_display_name;
        let fixed = user.map(|u| {
            let identity = token::identity(Some(u));
            let colour = crate::domain::colour::colour(&identity);
            (identity, token::display_name(Some(u), username, can_edit), colour)
        });
        Participant { user, username, fixed }
    }

    /// The `livekit` object for `room` (its LiveKit name is its id), with the caller's role and
    /// the room's publish sources (now-rooms §7.1).
    pub fn livekit(&self, state: &AppState, room: &Room, role: Option<Role>) -> Result<LiveKitOut, ApiError> {
        let name = room.id.to_string();
        let anonymous;
        let (identity, display, colour) = match &self.fixed {
            Some((i, n, c)) => (i.as_str(), n.as_str(), c.as_str()),
            None => {
                let identity = token::identity(None);
                let colour = crate::domain::colour::colour(&identity);
                anonymous = (identity, token::display_name(None, self.username, true), colour);
                (anonymous.0.as_str(), anonymous.1.as_str(), anonymous.2.as_str())
            }
        };
        let grant = token::Grant {
            room: &name,
            identity,
            name: display,
            colour,
            role,
            is_authenticated: self.user.is_some(),
            room_sources: room_config::publish_sources(&room.configuration.0),
        };
        let jwt = token::mint(&state.config, &grant).map_err(ApiError::internal)?;
        Ok(LiveKitOut { url: state.config.livekit_api_url.clone(), room: name, token: jwt })
    }
}

/// Builds the representation of `room` for `user` (§6.2), minting a token when it shows `livekit`.
pub fn represent(
    state: &AppState,
    room: Room,
    user: Option<&User>,
    all_accesses: Option<Vec<AccessWithUser>>,
    participant: &Participant<'_>,
) -> Result<RoomView, ApiError> {
    let role = role_among(all_accesses.as_deref().unwrap_or(&[]), user)?;
    let vis = permissions::room_visibility(parse_level(&room.access_level)?, user.is_some(), role);
    let livekit = if vis.livekit { Some(participant.livekit(state, &room, role)?) } else { None };
    Ok(RoomView { accesses: if vis.accesses { all_accesses } else { None }, livekit, room })
}

/// `GET /rooms/`: the page of rooms the caller has an access to (§5.4), in a constant number of
/// queries (B11). `pick` turns the total count into `(offset, limit)` (404 for a bad page).
#[instrument(skip_all)]
pub async fn list(
    state: &AppState,
    user: Option<&User>,
    username: Option<&str>,
    pick: impl FnOnce(u64) -> Result<(u64, u64), ApiError>,
) -> Result<(u64, Vec<RoomView>), ApiError> {
    let Some(user) = user else {
        pick(0)?;
        return Ok((0, Vec::new()));
    };
    let count = rooms::count_for_user(&state.db, user.id).await?;
    let (offset, limit) = pick(count)?;
    let page = rooms::page_for_user(&state.db, user.id, offset, limit).await?;
    let ids: Vec<Uuid> = page.iter().map(|r| r.id).collect();
    let mut all = rooms::accesses_of(&state.db, &ids).await?;
    let mut views = Vec::with_capacity(page.len());
    let participant = Participant::new(state, Some(user), username);
    for room in page {
        let (mine, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|a| a.resource_id == room.id);
        all = rest;
        views.push(represent(state, room, Some(user), Some(mine), &participant)?);
    }
    Ok((count, views))
}

/// The validated fields of a create or update body.
struct RoomInput {
    name: Option<String>,
    access_level: Option<&'static str>,
    configuration: Option<Value>,
}

/// DRF field validation of `name`, `access_level` and `configuration` (§5.5 errors): every
/// field error at once.
fn validate(body: &Map<String, Value>, name_required: bool) -> Result<RoomInput, ApiError> {
    let mut errors = FieldErrors::new();
    let name = char_field(body.get("name"), name_required, NAME_MAX_CHARS).unwrap_or_else(|m| {
        errors.add("name", m);
        None
    });
    let access_level = choice_field(body.get("access_level"), &AccessLevel::CHOICES).unwrap_or_else(|m| {
        errors.add("access_level", m);
        None
    });
    let configuration = configuration_field(body.get("configuration"), "configuration", &mut errors);
    errors.into_result()?;
    Ok(RoomInput { name, access_level, configuration })
}

/// A `RoomConfiguration` field (now-rooms §6.1): null refused, `{}` as is, anything else
/// validated by the schema and kept in canonical form; errors go under `field`.
pub fn configuration_field(v: Option<&Value>, field: &str, errors: &mut FieldErrors) -> Option<Value> {
    match v? {
        Value::Null => {
            errors.add(field, NOT_NULL);
            None
        }
        Value::Object(m) if m.is_empty() => Some(Value::Object(Map::new())),
        v => match room_config::validate(v) {
            Ok(clean) => Some(clean),
            Err(list) => {
                errors.raw(field, Value::Array(list));
                None
            }
        },
    }
}

/// The slug of a validated name, or the model's 400 (§3.5 order; B2, B3).
fn slug_of(name: &str) -> Result<String, ApiError> {
    room_slug(name).map_err(|e| {
        let (field, message) = e.field_error(name);
        FieldErrors::one(field, message)
    })
}

/// A store error of a room write: the unique slug becomes the exact 400.
fn slug_conflict(e: StoreError) -> ApiError {
    if e.is_conflict("meet_room_slug_key") {
        FieldErrors::one("slug", SLUG_TAKEN)
    } else {
        e.into()
    }
}

/// Python's truthiness and `str()` of `callback_id` (only strings, numbers and `true` are used).
fn callback_key(v: Option<&Value>) -> Option<String> {
    let id = match v? {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) if n.as_f64() != Some(0.0) => n.to_string(),
        Value::Bool(true) => "True".into(),
        _ => return None,
    };
    Some(format!("{CALLBACK_KEY_PREFIX}{id}"))
}

/// The access level and configuration of a new room (now-rooms §6.3): the request's values,
/// else the creator's defaults, else the instance default and `{}`.
fn creation_defaults(state: &AppState, user: &User, input: &RoomInput) -> (String, Value) {
    let level = match (input.access_level, user.default_room_access_level.as_deref()) {
        (Some(level), _) => level.to_string(),
        (None, Some(default)) if AccessLevel::parse(default).is_some() => default.to_string(),
        _ => state.config.resource_default_access_level.clone(),
    };
    let requested = input.configuration.clone().filter(|c| c.as_object().is_some_and(|m| !m.is_empty()));
    let default = &user.default_room_configuration.0;
    let configuration = match requested {
        Some(c) => c,
        None if default.as_object().is_some_and(|m| !m.is_empty()) => default.clone(),
        None => Value::Object(Map::new()),
    };
    (level, configuration)
}

/// A PIN no room has yet, when telephony or roomkit is enabled (now-rooms §10.1).
pub(crate) async fn new_pin(state: &AppState, tx: &mut crate::store::Tx) -> Result<Option<String>, ApiError> {
    let settings = &state.config.rooms;
    if !settings.pins_enabled() {
        return Ok(None);
    }
    let length = settings.room_telephony_pin_length;
    first_free_pin(tx, length, settings.room_telephony_pin_max_retries, || room_config::random_pin(length)).await
}

/// Where PINs already given are looked up.
trait PinRegistry {
    async fn taken(&mut self, pin: &str) -> Result<bool, ApiError>;
}

impl PinRegistry for crate::store::Tx {
    async fn taken(&mut self, pin: &str) -> Result<bool, ApiError> {
        Ok(rooms::pin_taken(self, pin).await?)
    }
}

/// Up to `retries` draws, the first PIN not taken; when all collide the room has no PIN and a
/// warning is logged (§10.1).
async fn first_free_pin(
    registry: &mut impl PinRegistry,
    length: u32,
    retries: u32,
    mut draw: impl FnMut() -> String,
) -> Result<Option<String>, ApiError> {
    for _ in 0..retries {
        let pin = draw();
        if !registry.taken(&pin).await? {
            return Ok(Some(pin));
        }
    }
    tracing::warn!("Failed to generate unique PIN code of length {length} after {retries} attempts");
    Ok(None)
}

/// `POST /rooms/` (§5.5, now-rooms §6.3): validates, then creates the room (with the creator's
/// defaults and a PIN), the caller's owner access and the callback entry in one transaction (B15).
#[instrument(skip_all, fields(user.id = %user.id))]
pub async fn create(
    state: &AppState,
    user: &User,
    body: Map<String, Value>,
    username: Option<&str>,
) -> Result<RoomView, ApiError> {
    let input = validate(&body, true)?;
    let (level, configuration) = creation_defaults(state, user, &input);
    let name = input.name.unwrap_or_default();
    let slug = slug_of(&name)?;
    let mut tx = state.db.begin().await?;
    let pin = new_pin(state, &mut tx).await?;
    let room = rooms::insert_with_pin(&mut tx, &name, &slug, &level, configuration, pin.as_deref())
        .await
        .map_err(slug_conflict)?;
    let access = accesses::insert(&mut tx, room.id, user.id, Role::Owner.as_str()).await?;
    if let Some(key) = callback_key(body.get("callback_id")) {
        let ttl = std::time::Duration::from_secs(state.config.room_creation_callback_cache_timeout);
        let value = serde_json::to_string(&CallbackRoom { slug: Some(slug.clone()) }).map_err(ApiError::internal)?;
        state.cache.set(&key, &value, Some(ttl)).await?;
    }
    tx.commit().await.map_err(slug_conflict)?;
    let mine = AccessWithUser {
        id: access.id,
        resource_id: room.id,
        role: access.role,
        user_id: user.id,
        email: user.email.clone(),
        full_name: user.full_name.clone(),
        short_name: user.short_name.clone(),
        timezone: user.timezone.clone(),
        language: user.language.clone(),
        default_room_access_level: user.default_room_access_level.clone(),
        default_room_configuration: user.default_room_configuration.clone(),
    };
    represent(state, room, Some(user), Some(vec![mine]), &Participant::new(state, Some(user), username))
}

/// The lookup of §5.6 (404 `No Room matches the given query.`). No unregistered fallback here.
pub async fn find(state: &AppState, reference: &RoomRef) -> Result<Room, ApiError> {
    let room = match reference {
        RoomRef::Id(id) => rooms::get(&state.db, *id).await?,
        RoomRef::Slug(slug) => rooms::get_by_slug(&state.db, slug).await?,
        RoomRef::Nothing => None,
    };
    room.ok_or(ApiError::NoMatch("Room"))
}

/// [`find`] with the role `user` holds on the room (one query), for the views that decide on it.
pub async fn find_with_role(
    state: &AppState,
    reference: &RoomRef,
    user: Option<&User>,
) -> Result<(Room, Option<Role>), ApiError> {
    let uid = user.map(|u| u.id);
    let row = match reference {
        RoomRef::Id(id) => rooms::get_with_role(&state.db, Some(*id), None, uid).await?,
        RoomRef::Slug(slug) => rooms::get_with_role(&state.db, None, Some(slug), uid).await?,
        RoomRef::Nothing => None,
    };
    let (room, role) = found(row)?;
    Ok((room, role.as_deref().and_then(Role::parse)))
}

/// A room read with its accesses, or the view's 404.
fn found<T>(row: Option<T>) -> Result<T, ApiError> {
    row.ok_or(ApiError::NoMatch("Room"))
}

/// The same lookup inside a transaction, then the room locked.
async fn find_locked(tx: &mut crate::store::Tx, reference: &RoomRef) -> Result<Room, ApiError> {
    let room = match reference {
        RoomRef::Id(id) => rooms::find_in(tx, Some(*id), None).await?,
        RoomRef::Slug(slug) => rooms::find_in(tx, None, Some(slug)).await?,
        RoomRef::Nothing => None,
    }
    .ok_or(ApiError::NoMatch("Room"))?;
    if !rooms::lock(tx, room.id).await? {
        return Err(ApiError::NoMatch("Room"));
    }
    Ok(room)
}

/// `GET /rooms/{id}/` (§5.6): the room as the caller sees it. Accesses (and so the caller's
/// role) are read with the room, in the same query, and only for authenticated callers.
#[instrument(skip_all)]
pub async fn retrieve(
    state: &AppState,
    user: Option<&User>,
    reference: &RoomRef,
    username: Option<&str>,
) -> Result<RoomView, ApiError> {
    let (room, all) = match (user, reference) {
        (Some(_), RoomRef::Id(id)) => found(rooms::get_with_accesses(&state.db, Some(*id), None).await?)?,
        (Some(_), RoomRef::Slug(slug)) => found(rooms::get_with_accesses(&state.db, None, Some(slug)).await?)?,
        _ => (find(state, reference).await?, Vec::new()),
    };
    let all = user.map(|_| all);
    represent(state, room, user, all, &Participant::new(state, user, username))
}

/// `PUT|PATCH /rooms/{id}/` (§5.7): lookup, administrator check (before the body), validation,
/// slug from the new name, save. The body is parsed only after the checks, as DRF does.
#[instrument(skip_all, fields(user.id = %user.id))]
pub async fn update(
    state: &AppState,
    user: &User,
    reference: &RoomRef,
    body: Result<Map<String, Value>, ApiError>,
    partial: bool,
    username: Option<&str>,
) -> Result<RoomView, ApiError> {
    let mut tx = state.db.begin().await?;
    let mut room = find_locked(&mut tx, reference).await?;
    let role = accesses::role_in(&mut tx, user.id, room.id).await?.map(|r| parse_role(&r)).transpose()?;
    if !permissions::can_update_room(role) {
        return Err(ApiError::Forbidden);
    }
    let input = validate(&body?, !partial)?;
    let (old_level, old_configuration) = (room.access_level.clone(), room.configuration.0.clone());
    if let Some(name) = input.name {
        room.slug = Some(slug_of(&name)?);
        room.name = name;
    }
    if let Some(level) = input.access_level {
        room.access_level = level.to_string();
    }
    if let Some(configuration) = input.configuration {
        room.configuration = sqlx::types::Json(configuration);
    }
    let before = (old_level, old_configuration);
    let room = rooms::update(&mut tx, &room).await.map_err(slug_conflict)?;
    tx.commit().await.map_err(slug_conflict)?;
    if before != (room.access_level.clone(), room.configuration.0.clone()) {
        push_metadata(state, room.id);
    }
    let all = rooms::accesses_of(&state.db, &[room.id]).await?;
    represent(state, room, Some(user), Some(all), &Participant::new(state, Some(user), username))
}

/// Pushes `{configuration, access_level}` into the LiveKit room's metadata (now-rooms §6.4), in
/// the background: the update has been answered whatever LiveKit does. The room is read again
/// when the push runs, so that two quick updates end with the latest values in LiveKit.
fn push_metadata(state: &AppState, id: Uuid) {
    if state.config.livekit_api_url.is_none() {
        return; // no LiveKit server configured: nothing to tell
    }
    let state = state.clone();
    let task = async move {
        let room = match rooms::get(&state.db, id).await {
            Ok(Some(room)) => room,
            Ok(None) => return,
            Err(e) => return tracing::warn!(error = %e, "room metadata push: room not read"),
        };
        let mut update = Map::new();
        update.insert("configuration".into(), room.configuration.0.clone());
        update.insert("access_level".into(), Value::String(room.access_level.clone()));
        match state.livekit.merge_room_metadata(&id.to_string(), update).await {
            Ok(true) => tracing::debug!("room metadata pushed to LiveKit"),
            Ok(false) => tracing::info!("room metadata not pushed: the LiveKit room is not running"),
            Err(e) => tracing::warn!(error = %e, "room metadata push to LiveKit failed"),
        }
    };
    tokio::spawn(task.instrument(tracing::info_span!("room_metadata_push", room.id = %id)));
}

/// `DELETE /rooms/{id}/` (§5.8): owners only; the cascades of §3.8.
#[instrument(skip_all, fields(user.id = %user.id))]
pub async fn destroy(state: &AppState, user: &User, reference: &RoomRef) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    let room = find_locked(&mut tx, reference).await?;
    let role = accesses::role_in(&mut tx, user.id, room.id).await?.map(|r| parse_role(&r)).transpose()?;
    if !permissions::can_delete_room(role) {
        return Err(ApiError::Forbidden);
    }
    rooms::delete(&mut tx, room.id).await?;
    tx.commit().await?;
    Ok(())
}

/// `POST /rooms/creation-callback/` (§5.9): throttles anonymous callers (§5.12, before the
/// body), then reads and deletes the entry in one atomic step (B20).
#[instrument(skip_all)]
pub async fn creation_callback(
    state: &AppState,
    user: Option<&User>,
    client_ip: &str,
    body: Result<Map<String, Value>, ApiError>,
) -> Result<CreationCallbackOut, ApiError> {
    if user.is_none() {
        let rate = state.config.creation_callback_throttle_rate;
        crate::service::throttle::check(state, "creation_callback", client_ip, rate).await?;
    }
    let body = body?;
    let id = char_field(body.get("callback_id"), true, usize::MAX)
        .map_err(|m| FieldErrors::one("callback_id", m))?
        .unwrap_or_default();
    let stored = state.cache.get_del(&format!("{CALLBACK_KEY_PREFIX}{id}")).await?;
    let room = stored.and_then(|s| serde_json::from_str::<CallbackRoom>(&s).ok()).unwrap_or_default();
    Ok(CreationCallbackOut { status: CallbackStatus::Success, room })
}

/// The answer of `POST /rooms/creation-callback/` (§5.9): the room's slug, once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CreationCallbackOut {
    pub status: CallbackStatus,
    /// Empty when the callback is unknown, expired or already read.
    pub room: CallbackRoom,
}

/// Always `success` (an unknown callback answers an empty `room`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CallbackStatus {
    Success,
}

/// What the creation callback keeps of a room.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CallbackRoom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::{first_free_pin, PinRegistry};
    use crate::domain::room_config::pin_from_number;
    use crate::error::ApiError;

    /// PINs taken are those `is_taken` says; every lookup is recorded.
    struct Fake<F: Fn(&str) -> bool> {
        is_taken: F,
        lookups: Vec<String>,
    }

    impl<F: Fn(&str) -> bool> PinRegistry for Fake<F> {
        async fn taken(&mut self, pin: &str) -> Result<bool, ApiError> {
            self.lookups.push(pin.to_string());
            Ok((self.is_taken)(pin))
        }
    }

    #[tokio::test]
    async fn nr_tel_3_forced_draw_gives_a_padded_pin() {
        let mut fake = Fake { is_taken: |_: &str| false, lookups: vec![] };
        let pin = first_free_pin(&mut fake, 10, 5, || pin_from_number(12345, 10)).await.unwrap();
        assert_eq!(pin.as_deref(), Some("0000012345"));
    }

    #[tokio::test]
    async fn nr_tel_4_all_draws_taken_gives_no_pin_after_the_retries() {
        let mut fake = Fake { is_taken: |_: &str| true, lookups: vec![] };
        let pin = first_free_pin(&mut fake, 5, 5, || pin_from_number(12345, 5)).await.unwrap();
        assert_eq!(pin, None);
        assert_eq!(fake.lookups, vec!["12345"; 5], "five draws, each looked up");
        // A free draw on the last retry is still used.
        let mut n = 0;
        let mut fake = Fake { is_taken: |pin: &str| pin != "00005", lookups: vec![] };
        let pin = first_free_pin(&mut fake, 5, 5, || {
            n += 1;
            pin_from_number(n, 5)
        })
        .await
        .unwrap();
        assert_eq!(pin.as_deref(), Some("00005"));
        assert_eq!(fake.lookups.len(), 5);
    }
}
