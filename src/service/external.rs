//! The external API (now-external-api §5–§9): application tokens issued for a delegated user,
//! the application-JWT authenticator, scope checks, and the rooms list/retrieve/create use-cases.

use serde::Serialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::config::external::ExternalApiConfig;
use crate::domain::application::{can_delegate_email, token_scopes};
use crate::domain::fields::{char_field, choice_field, NOT_NULL, REQUIRED};
use crate::domain::permissions::{AccessLevel, Role};
use crate::error::{ApiError, FieldErrors};
use crate::i18n::{msg, Msg};
use crate::state::AppState;
use crate::store::rooms::Room;
use crate::store::users::User;
use crate::store::{accesses, applications, rooms, users};

/// The `WWW-Authenticate` value of the token endpoint's 401s (its first authenticator is the
/// session one, §6.2).
const SESSION_CHALLENGE: &str = "Session";
/// The `WWW-Authenticate` value of every 401 on the external rooms endpoints (§7).
const BEARER_CHALLENGE: &str = "Bearer";

fn session_401(message: crate::i18n::MsgId) -> ApiError {
    ApiError::Challenged { message: message.into(), challenge: SESSION_CHALLENGE }
}

pub(crate) fn bearer_401(message: crate::i18n::MsgId) -> ApiError {
    ApiError::Challenged { message: message.into(), challenge: BEARER_CHALLENGE }
}

/// The token response (§6.3), keys in upstream's order.
#[derive(Serialize, Debug, schemars::JsonSchema)]
#[schemars(rename = "ApplicationToken")]
pub struct TokenOut {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// `POST /external-api/v1.0/application/token/` after the body was parsed (§6.2 steps 5–12).
pub async fn issue_token(state: &AppState, body: Map<String, Value>, now: i64) -> Result<TokenOut, ApiError> {
    let mut errors = FieldErrors::new();
    let mut text = |field: &str| {
        char_field(body.get(field), true, usize::MAX).unwrap_or_else(|m| {
            errors.add(field, m);
            None
        })
    };
    let client_id = text("client_id");
    let client_secret = text("client_secret");
    match body.get("grant_type") {
        None => {
            errors.add("grant_type", REQUIRED);
        }
        Some(Value::Null) => {
            errors.add("grant_type", NOT_NULL);
        }
        Some(v) => {
            if let Err(m) = choice_field(Some(v), &["client_credentials"]) {
                errors.add("grant_type", m);
            }
        }
    }
    let scope = char_field(body.get("scope"), true, usize::MAX).unwrap_or_else(|m| {
        errors.add("scope", m);
        None
    });
    errors.into_result()?;
    let (client_id, client_secret, email) =
        (client_id.unwrap_or_default(), client_secret.unwrap_or_default(), scope.unwrap_or_default());

    let settings = &state.config.external_api;
    let app = applications::get_by_client_id(&state.db, &client_id).await?;
    let Some(app) = app else {
        // Hash anyway so that unknown and known client ids answer in similar times (W2).
        let _ =
            tokio::task::spawn_blocking(move || crate::domain::application::verify_secret(&client_secret, DUMMY_HASH))
                .await;
        return Err(session_401(msg::EXT_INVALID_CREDENTIALS));
    };
    let secret_ok = {
        let (secret, stored) = (client_secret.clone(), app.client_secret.clone());
        tokio::task::spawn_blocking(move || crate::domain::application::verify_secret(&secret, &stored))
            .await
            .map_err(ApiError::internal)?
    };
    if !secret_ok {
        return Err(session_401(msg::EXT_INVALID_CREDENTIALS));
    }
    if !app.is_active {
        return Err(session_401(msg::EXT_APPLICATION_INACTIVE));
    }
    // W30: longer than the column is not an address either.
    if email.chars().count() > 254 || !crate::domain::invitation::is_valid_email(&email) {
        return Err(ApiError::ErrorMessage {
            status: axum::http::StatusCode::BAD_REQUEST,
            message: msg::EXT_SCOPE_NOT_EMAIL.into(),
        });
    }
    let domains = applications::domains(&state.db, app.id).await?;
    if !can_delegate_email(&domains, &email) {
        tracing::warn!(client_id = %app.client_id, email = %email, "application not allowed to act for this e-mail");
        return Err(ApiError::ErrorMessage {
            status: axum::http::StatusCode::FORBIDDEN,
            message: msg::EXT_DOMAIN_NOT_AUTHORIZED.into(),
        });
    }
    let user = delegated_user(state, &email, &app.client_id).await?;
    let scope = (!app.scopes.0.is_empty()).then(|| app.scopes.0.join(" "));
    let mut claims = Map::new();
    claims.insert("client_id".into(), json!(app.client_id));
    claims.insert("delegated".into(), json!(true));
    let access_token = sign(settings, claims, user.id, scope.as_deref(), now)?;
    Ok(TokenOut {
        access_token,
        token_type: settings.jwt_token_type.clone(),
        expires_in: settings.jwt_expiration_seconds,
        scope,
    })
}

/// The one user with this e-mail (case-insensitively); `Err` for several (W5: upstream's status,
/// as JSON).
async fn single_user(state: &AppState, email: &str) -> Result<Option<User>, ApiError> {
    let mut found = users::find_by_email_ci(&state.db, email, 2).await?;
    match found.len() {
        0 => Ok(None),
        1 => Ok(Some(found.remove(0))),
        _ => Err(ApiError::ErrorMessage {
            status: axum::http::StatusCode::BAD_REQUEST,
            message: msg::EXT_MULTIPLE_USERS.into(),
        }),
    }
}

/// True when the token endpoint may create provisional users (§10.1: all three settings).
pub fn provisional_users_enabled(state: &AppState) -> bool {
    state.config.external_api.allow_user_creation
        && state.config.oidc.fallback_to_email
        && !state.config.idp.sub_field_immutable
}

/// The user an application acts for (§10.2): found by e-mail, or created as a provisional user
/// when enabled. The insert does nothing when a concurrent request created the same provisional
/// user (the partial unique index), and the re-read then finds it (NX-TOK-15).
async fn delegated_user(state: &AppState, email: &str, client_id: &str) -> Result<User, ApiError> {
    if let Some(user) = single_user(state, email).await? {
        return Ok(user);
    }
    if !provisional_users_enabled(state) {
        return Err(ApiError::NotFoundMessage(msg::EXT_USER_NOT_FOUND.into()));
    }
    match crate::store::provisional::insert(&state.db, email, &state.config.language_code).await {
        Ok(Some(user)) => {
            tracing::info!(user.id = %user.id, email = %email, client_id, "provisional user created");
            return Ok(user);
        }
        Ok(None) => tracing::warn!(email = %email, client_id, "provisional user created concurrently; reading it"),
        Err(e) => tracing::warn!(error = %e, email = %email, client_id, "provisional user not created; reading again"),
    }
    single_user(state, email).await?.ok_or_else(|| ApiError::ErrorMessage {
        status: axum::http::StatusCode::CONFLICT,
        message: msg::EXT_PROVISIONAL_FAILED.into(),
    })
}

/// A valid hash of a random value: verified when the client id is unknown.
const DUMMY_HASH: &str = "pbkdf2_sha256$1000000$dummysaltvalue$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// Signs an application token (§5.1, §5.2).
fn sign(
    settings: &ExternalApiConfig,
    mut claims: Map<String, Value>,
    user_id: Uuid,
    scope: Option<&str>,
    now: i64,
) -> Result<String, ApiError> {
    let secret = settings
        .jwt_secret_key
        .as_deref()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("APPLICATION_JWT_SECRET_KEY is not set")))?;
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + settings.jwt_expiration_seconds as i64));
    claims.insert("user_id".into(), json!(user_id.to_string()));
    if let Some(iss) = &settings.jwt_issuer {
        claims.insert("iss".into(), json!(iss));
    }
    if let Some(aud) = &settings.jwt_audience {
        claims.insert("aud".into(), json!(aud));
    }
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        claims.insert("scope".into(), json!(scope));
    }
    Ok(crate::livekit::token::sign(&Value::Object(claims), secret))
}

/// A caller of the external rooms endpoints.
#[derive(Clone, Debug)]
pub struct ExternalCaller {
    pub user: User,
    /// The scopes the request may use (§8.1), already normalised.
    pub scopes: Option<Vec<String>>,
    pub client_id: String,
    /// The authenticator that accepted the token (logged with creations).
    pub auth_method: &'static str,
}

/// What decoding a bearer token with one authenticator's settings gave (§5.4).
enum Decoded {
    Valid(Map<String, Value>),
    /// Not this authenticator's token: the next one is tried.
    Defer,
    Fail(crate::i18n::MsgId),
}

fn numeric(payload: &Map<String, Value>, claim: &str) -> Result<Option<i64>, ()> {
    match payload.get(claim) {
        None => Ok(None),
        Some(v) => v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).map(Some).ok_or(()),
    }
}

fn decode(token: &str, secret: &str, issuer: Option<&str>, audience: Option<&str>, now: i64) -> Decoded {
    let Ok(Value::Object(payload)) = crate::livekit::verify::decode_hs256(token, secret) else {
        return Decoded::Defer;
    };
    let (Ok(iat), Ok(nbf), Ok(exp)) = (numeric(&payload, "iat"), numeric(&payload, "nbf"), numeric(&payload, "exp"))
    else {
        return Decoded::Defer;
    };
    if iat.is_some_and(|t| t > now) || nbf.is_some_and(|t| t > now) {
        return Decoded::Defer;
    }
    // W8: Meet always issues `exp`; a token without one is not taken as never expiring.
    match exp {
        None => return Decoded::Defer,
        Some(exp) if exp <= now => return Decoded::Fail(msg::EXT_TOKEN_EXPIRED),
        Some(_) => {}
    }
    if let Some(iss) = issuer {
        match payload.get("iss") {
            None => return Decoded::Defer,
            Some(Value::String(s)) if s == iss => {}
            Some(_) => return Decoded::Fail(msg::EXT_INVALID_TOKEN),
        }
    }
    let aud = payload.get("aud");
    match audience {
        Some(expected) => match aud {
            None => return Decoded::Defer,
            Some(Value::String(s)) if s == expected => {}
            Some(Value::Array(list)) if list.iter().any(|a| a.as_str() == Some(expected)) => {}
            Some(_) => return Decoded::Fail(msg::EXT_INVALID_TOKEN),
        },
        None => {
            let empty = match aud {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                Some(_) => false,
            };
            if !empty {
                return Decoded::Fail(msg::EXT_INVALID_TOKEN);
            }
        }
    }
    Decoded::Valid(payload)
}

fn non_empty_str<'a>(payload: &'a Map<String, Value>, claim: &str) -> Option<&'a str> {
    payload.get(claim).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The authentication chain of the external rooms endpoints (§7). `Ok(None)`: anonymous.
pub async fn authenticate(
    state: &AppState,
    authorization: Option<&axum::http::HeaderValue>,
    now: i64,
) -> Result<Option<ExternalCaller>, ApiError> {
    let settings = &state.config.external_api;
    let Some(raw) = authorization else { return Ok(None) };
    let Ok(raw) = raw.to_str() else { return Err(bearer_401(msg::EXT_INVALID_TOKEN_ENCODING)) };
    let words: Vec<&str> = raw.split_whitespace().collect();
    if !words.first().is_some_and(|w| w.eq_ignore_ascii_case("bearer")) {
        return Ok(None);
    }
    let jwt_enabled = settings.application_enabled || settings.addons_enabled;
    if words.len() != 2 {
        return Err(bearer_401(if jwt_enabled {
            msg::EXT_INVALID_TOKEN_HEADER
        } else if words.len() == 1 {
            msg::BEARER_NO_CREDENTIALS
        } else {
            msg::BEARER_SPACES
        }));
    }
    let token = words[1];
    if settings.application_enabled {
        if let Some(secret) = settings.jwt_secret_key.as_deref() {
            match decode(token, secret, settings.jwt_issuer.as_deref(), settings.jwt_audience.as_deref(), now) {
                Decoded::Valid(p) => return application_caller(state, p).await.map(Some),
                Decoded::Fail(m) => return Err(bearer_401(m)),
                Decoded::Defer => {}
            }
        }
    }
    if settings.addons_enabled {
        if let Some(secret) = settings.addons_token_secret_key.as_deref() {
            let (iss, aud) = (settings.addons_token_issuer.as_deref(), settings.addons_token_audience.as_deref());
            match decode(token, secret, iss, aud, now) {
                Decoded::Valid(p) => return addons_caller(state, p).await.map(Some),
                Decoded::Fail(m) => return Err(bearer_401(m)),
                Decoded::Defer => {}
            }
        }
    }
    // W15: an unconfigured resource server is skipped (plain 401 `Bearer`), never an error.
    if state.config.idp.resource_server_configured() {
        return super::resource_server::authenticate(state, token, now).await.map(Some);
    }
    Ok(None)
}

/// The `scope` claim, normalised (§8.1); `None` when absent or not a string (list).
pub(crate) fn scopes_of(payload: &Map<String, Value>, prefix: Option<&str>) -> Option<Vec<String>> {
    match payload.get("scope") {
        Some(Value::String(s)) => Some(token_scopes(s, prefix)),
        // W20: a list with non-string items counts as no scope.
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<String>>>()
            .map(|v| token_scopes(&v.join(" "), prefix)),
        _ => None,
    }
}

/// The `user_id` → exists → active checks shared by both JWT authenticators (§7.2, §7.3).
async fn token_user(state: &AppState, payload: &Map<String, Value>) -> Result<User, ApiError> {
    let user_id = non_empty_str(payload, "user_id")
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| bearer_401(msg::EXT_INVALID_TOKEN_CLAIMS))?;
    let user = users::get(&state.db, user_id).await?.ok_or_else(|| bearer_401(msg::EXT_USER_NOT_FOUND))?;
    if !user.is_active {
        return Err(bearer_401(msg::EXT_USER_DISABLED));
    }
    Ok(user)
}

/// `ApplicationJWTAuthentication` after a valid decode (§7.2).
async fn application_caller(state: &AppState, payload: Map<String, Value>) -> Result<ExternalCaller, ApiError> {
    let client_id = non_empty_str(&payload, "client_id").ok_or_else(|| bearer_401(msg::EXT_INVALID_TOKEN_CLAIMS))?;
    let app = applications::get_by_client_id(&state.db, client_id)
        .await?
        .ok_or_else(|| bearer_401(msg::EXT_APPLICATION_NOT_FOUND))?;
    if !app.is_active {
        return Err(bearer_401(msg::EXT_APPLICATION_DISABLED));
    }
    if !truthy(payload.get("delegated")) {
        return Err(bearer_401(msg::EXT_INVALID_TOKEN_TYPE));
    }
    let user = token_user(state, &payload).await?;
    let scopes = scopes_of(&payload, state.config.external_api.scopes_prefix.as_deref());
    // W6: a scope removed from the application since issuance no longer counts.
    let granted: Vec<String> = app.scopes.0.iter().map(|s| s.to_lowercase()).collect();
    let scopes = scopes.map(|s| s.into_iter().filter(|x| granted.contains(x)).collect::<Vec<_>>());
    Ok(ExternalCaller { user, scopes, client_id: app.client_id, auth_method: "ApplicationJWTAuthentication" })
}

/// `AddonsJWTAuthentication` after a valid decode (§7.3): no application, the token's scopes.
async fn addons_caller(state: &AppState, payload: Map<String, Value>) -> Result<ExternalCaller, ApiError> {
    let user = token_user(state, &payload).await?;
    let scopes = scopes_of(&payload, state.config.external_api.scopes_prefix.as_deref());
    Ok(ExternalCaller { user, scopes, client_id: "unknown".into(), auth_method: "AddonsJWTAuthentication" })
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// The view-level permission alone (§3 step 2): 401 `Bearer` for anonymous callers.
pub fn require_authenticated(caller: Option<ExternalCaller>) -> Result<ExternalCaller, ApiError> {
    caller.ok_or_else(|| bearer_401(msg::NOT_AUTHENTICATED))
}

/// The view-level permission and the scope check (§3 steps 2, §8.1): 401 for anonymous callers,
/// 403 when the token lacks `required`.
pub fn require(caller: Option<ExternalCaller>, required: &str) -> Result<ExternalCaller, ApiError> {
    let caller = require_authenticated(caller)?;
    match &caller.scopes {
        Some(s) if !s.is_empty() => {
            if s.iter().any(|x| x == required) {
                Ok(caller)
            } else {
                Err(ApiError::ForbiddenMessage(msg::EXT_INSUFFICIENT_SCOPE.arg("scope", required)))
            }
        }
        _ => Err(ApiError::ForbiddenMessage(msg::EXT_INSUFFICIENT_PERMISSIONS.into())),
    }
}

/// The telephony block of a room (§9.1).
#[derive(Serialize, Debug, schemars::JsonSchema)]
#[schemars(rename = "ExternalRoomTelephony")]
pub struct TelephonyOut {
    pub enabled: bool,
    pub phone_number: Option<String>,
    pub pin_code: Option<String>,
    pub default_country: String,
}

/// A room as the external API shows it (§9.1), keys in upstream's order.
#[derive(Serialize, Debug, schemars::JsonSchema)]
#[schemars(rename = "ExternalRoom")]
pub struct ExternalRoomOut {
    pub id: Uuid,
    pub name: String,
    pub slug: Option<String>,
    #[schemars(with = "AccessLevel")]
    pub access_level: String,
    /// The stored configuration, verbatim.
    pub configuration: Value,
    /// `<APPLICATION_BASE_URL>/<slug>`, present only when `APPLICATION_BASE_URL` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Present only when `ROOM_TELEPHONY_ENABLED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephony: Option<TelephonyOut>,
}

/// The representation of `room` (§9.1).
pub fn represent(state: &AppState, room: Room) -> ExternalRoomOut {
    let slug = room.slug.clone().unwrap_or_default();
    // W25: one trailing slash of the base URL is dropped.
    let url =
        state.config.external_api.base_url.as_deref().map(|b| format!("{}/{slug}", b.strip_suffix('/').unwrap_or(b)));
    let r = &state.config.rooms;
    let telephony = r.room_telephony_enabled.then(|| TelephonyOut {
        enabled: true,
        phone_number: r.room_telephony_phone_number.clone(),
        pin_code: room.pin_code.clone(),
        default_country: r.room_telephony_default_country.clone(),
    });
    ExternalRoomOut {
        id: room.id,
        name: room.name,
        slug: room.slug,
        access_level: room.access_level,
        configuration: room.configuration.0,
        url,
        telephony,
    }
}

/// `GET /external-api/v1.0/rooms/` (§9.2): the caller's rooms, by name then id (W54).
pub async fn list(
    state: &AppState,
    user: &User,
    pick: impl FnOnce(u64) -> Result<(u64, u64), ApiError>,
) -> Result<(u64, Vec<ExternalRoomOut>), ApiError> {
    let count = rooms::count_for_user(&state.db, user.id).await?;
    let (offset, limit) = pick(count)?;
    let page = rooms::page_for_user(&state.db, user.id, offset, limit).await?;
    let views = page.into_iter().map(|r| represent(state, r)).collect();
    Ok((count, views))
}

/// `GET /external-api/v1.0/rooms/{id}/` (§9.3): lookup among every room, then any role.
pub async fn retrieve(state: &AppState, user: &User, id: &str) -> Result<ExternalRoomOut, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound)?;
    let room = rooms::get(&state.db, id).await?.ok_or(ApiError::NoMatch("Room"))?;
    if accesses::role_of(&state.db, user.id, room.id).await?.is_none() {
        return Err(ApiError::Forbidden);
    }
    Ok(represent(state, room))
}

/// `POST /external-api/v1.0/rooms/` (§9.4): a room with a random slug, owned by the caller; the
/// room and its owner access in one transaction (W21).
pub async fn create(
    state: &AppState,
    caller: &ExternalCaller,
    body: Map<String, Value>,
) -> Result<ExternalRoomOut, ApiError> {
    let settings = &state.config.external_api;
    let mut errors = FieldErrors::new();
    let level = match body.get("access_level") {
        Some(Value::Null) => {
            errors.add("access_level", NOT_NULL);
            None
        }
        v => choice_field(v, &AccessLevel::CHOICES).unwrap_or_else(|m| {
            errors.add("access_level", m);
            None
        }),
    };
    if level == Some("public") && !(settings.default_access_level == "public" || settings.allow_public_access) {
        errors.add("access_level", Msg::from(msg::EXT_PUBLIC_ROOMS_DISABLED));
    }
    let configuration = super::rooms::configuration_field(body.get("configuration"), "configuration", &mut errors);
    errors.into_result()?;
    let level = level.map(str::to_string).unwrap_or_else(|| settings.default_access_level.clone());
    let configuration = configuration.unwrap_or_else(|| Value::Object(Map::new()));
    let slug = crate::domain::application::random_room_slug();
    let mut tx = state.db.begin().await?;
    let pin = super::rooms::new_pin(state, &mut tx).await?;
    let room =
        rooms::insert_with_pin(&mut tx, &slug, &slug, &level, configuration, pin.as_deref()).await.map_err(|e| {
            if e.is_conflict("meet_room_slug_key") {
                FieldErrors::one("slug", super::rooms::SLUG_TAKEN)
            } else {
                e.into()
            }
        })?;
    accesses::insert(&mut tx, room.id, caller.user.id, Role::Owner.as_str()).await?;
    tx.commit().await?;
    tracing::info!(room.id = %room.id, user.id = %caller.user.id, client_id = %caller.client_id,
        auth = caller.auth_method, "room created through the external API");
    Ok(represent(state, room))
}

/// A new application and its plain secret, shown once (`meet create-application`, §4.6).
pub struct Registered {
    pub application: applications::Application,
    pub client_secret: String,
}

/// A new secret for `application` (the configured length), stored hashed; returned this once.
pub async fn rotate_secret(
    db: &crate::store::Db,
    settings: &ExternalApiConfig,
    application: uuid::Uuid,
) -> anyhow::Result<String> {
    let client_secret = crate::domain::application::generate_credential(settings.client_secret_length);
    let hashed = {
        let s = client_secret.clone();
        tokio::task::spawn_blocking(move || crate::domain::application::hash_secret(&s)).await?
    };
    applications::set_secret_hash(db, application, &hashed).await?;
    Ok(client_secret)
}

/// Registers an application: checks the scopes and domains, generates the credentials with the
/// configured lengths and stores the secret hashed (§4.1, §4.5). Errors name the bad value.
pub async fn register_application(
    db: &crate::store::Db,
    settings: &ExternalApiConfig,
    name: &str,
    scopes: &[String],
    domains: &[String],
) -> anyhow::Result<Registered> {
    use crate::domain::application::{generate_credential, hash_secret, normalize_domain, SCOPES};
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        anyhow::bail!("the name must have 1 to 255 characters");
    }
    let mut clean_scopes: Vec<String> = Vec::new();
    for s in scopes {
        if !SCOPES.contains(&s.as_str()) {
            anyhow::bail!("'{s}' is not a valid scope (one of {})", SCOPES.join(", "));
        }
        if !clean_scopes.contains(s) {
            clean_scopes.push(s.clone());
        }
    }
    let mut clean_domains: Vec<String> = Vec::new();
    for d in domains {
        let n = normalize_domain(d).ok_or_else(|| anyhow::anyhow!("'{d}': Enter a valid domain"))?;
        if !clean_domains.contains(&n) {
            clean_domains.push(n);
        }
    }
    let client_secret = generate_credential(settings.client_secret_length);
    let hashed = {
        let s = client_secret.clone();
        tokio::task::spawn_blocking(move || hash_secret(&s)).await?
    };
    let application = applications::create(
        db,
        applications::NewApplication {
            name: name.to_string(),
            client_id: generate_credential(settings.client_id_length),
            client_secret_hash: hashed,
            scopes: clean_scopes,
            is_active: true,
            domains: clean_domains,
        },
    )
    .await?;
    Ok(Registered { application, client_secret })
}
