//! User use-cases (users-auth-rooms §5.2, now-rooms §13): self-update of the preferences.

use serde_json::{Map, Value};
use tracing::instrument;
use uuid::Uuid;

use crate::domain::user_prefs;
use crate::error::{ApiError, FieldErrors};
use crate::service::rooms::configuration_field;
use crate::state::AppState;
use crate::store::users::{self, PreferencesUpdate, User};

/// The value of a field, or its message recorded under `field`.
fn take<T: Default>(errors: &mut FieldErrors, field: &str, r: Result<T, crate::i18n::Msg>) -> T {
    r.unwrap_or_else(|m| {
        errors.add(field, m);
        T::default()
    })
}

/// The validated preferences of a PUT (`timezone` required) or PATCH body, every error at once.
fn validate(body: &Map<String, Value>, partial: bool) -> Result<PreferencesUpdate, ApiError> {
    let mut errors = FieldErrors::new();
    let timezone = take(&mut errors, "timezone", user_prefs::timezone(body.get("timezone"), !partial));
    let language = take(&mut errors, "language", user_prefs::language(body.get("language")));
    let level = user_prefs::default_access_level(body.get("default_room_access_level"));
    let default_room_access_level = take(&mut errors, "default_room_access_level", level);
    let default_room_configuration =
        configuration_field(body.get("default_room_configuration"), "default_room_configuration", &mut errors);
    errors.into_result()?;
    Ok(PreferencesUpdate { timezone, language, default_room_access_level, default_room_configuration })
}

/// `PUT|PATCH /users/{id}/` (now-rooms §13.2): the caller's own row only (others 403, unknown
/// 404), then validation, then the write. Read-only fields in the body are ignored.
#[instrument(skip_all, fields(user.id = %me.id))]
pub async fn update(
    state: &AppState,
    me: &User,
    id: Uuid,
    body: Map<String, Value>,
    partial: bool,
) -> Result<User, ApiError> {
    let user = users::get(&state.db, id).await?.ok_or(ApiError::NoMatch("User"))?;
    if user.id != me.id {
        return Err(ApiError::Forbidden);
    }
    let update = validate(&body, partial)?;
    if update == PreferencesUpdate::default() {
        return Ok(user);
    }
    let announcement = state.sessions.user_changing(id);
    let user = users::update_preferences(&state.db, id, update).await?;
    announcement.send().await;
    Ok(user)
}
