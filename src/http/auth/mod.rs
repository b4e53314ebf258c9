//! The OIDC views (users-auth-rooms §4.3–§4.8): start login, login callback, logout and logout
//! callback. They are Django views, not DRF ones: they answer redirects, ignore bearer tokens, check
//! CSRF before the method (errata O-31) and answer 405 with an empty body. Fixed here: S2 (ID token
//! claims validated), S5 (the local session ends before the IdP logout), S12 (stale `silent`),
//! B4 (redirect URLs default to `/`), B22 (a user switch keeps `returnTo` and the ID token), and
//! every failed callback goes to the failure URL with a log line instead of a 400/500.

pub mod backchannel;
pub mod support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::extract::Origin;
use super::API;
use crate::domain::{csrf, random_token};
use crate::error::ApiError;
use crate::oidc::provision::{self, ProvisionError};
use crate::oidc::{now_secs, Endpoints};
use crate::state::AppState;
use crate::store::users;
use support::{failure_url, method_gate, query, redirect, success_url, Session};

/// The paths served here (also fed to the trailing-slash redirect matcher).
pub const PATHS: &[&str] = &[
    "/api/v1.0/authenticate/",
    "/api/v1.0/callback/",
    "/api/v1.0/logout/",
    "/api/v1.0/logout-callback/",
    "/api/v1.0/backchannel-logout/",
];

/// The OIDC routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PATHS[0], any(authenticate))
        .route(PATHS[1], any(callback))
        .route(PATHS[2], any(logout))
        .route(PATHS[3], any(logout_callback))
        .route(PATHS[4], any(backchannel::logout))
}

fn respond(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

fn origin(state: &AppState, headers: &HeaderMap) -> Origin {
    Origin::from_headers(headers, state.config.trust_forwarded_proto)
}

/// `GET /api/v1.0/authenticate/`: users-auth-rooms §4.3, §4.6 (O-1, O-2, O-3).
async fn authenticate(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    if let Some(r) = method_gate(&s, &method, &headers, &body, &[Method::GET]) {
        return r;
    }
    respond(start_login(&s, &headers, &uri).await)
}

async fn start_login(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<Response, ApiError> {
    let cfg = &state.config.oidc;
    let endpoints = match state.oidc.endpoints().await {
        Ok(e) if e.authorization.is_some() => e,
        Ok(_) => {
            tracing::error!("login impossible: OIDC_OP_AUTHORIZATION_ENDPOINT is not set");
            return Ok(redirect(&cfg.login_redirect_url_failure, Vec::new()));
        }
        Err(e) => {
            tracing::error!(error = %e, "login impossible: provider discovery failed");
            return Ok(redirect(&cfg.login_redirect_url_failure, Vec::new()));
        }
    };
    let q = query(uri);
    let origin = origin(state, headers);
    let mut sess = Session::load(state, headers).await?;
    let return_to = q.get(&cfg.redirect_field_name).and_then(|v| support::safe_return_to(v, &origin, cfg));
    // Upstream HEAD compares case-insensitively (NO-OIDC-1).
    let silent = q.get("silent").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let oidc_state = random_token(32);
    let nonce = cfg.use_nonce.then(|| random_token(32));
    let verifier = endpoints.pkce.then(|| random_token(64));
    sess.add_state(&oidc_state, json!({"code_verifier": verifier, "nonce": nonce, "added_on": now_secs()}));
    sess.data.insert("oidc_login_next".into(), return_to.map(Value::String).unwrap_or(Value::Null));
    if silent {
        sess.data.insert("silent".into(), Value::Bool(true));
    } else {
        // S12: a non-silent attempt never inherits a stale silent flag.
        sess.data.remove("silent");
    }
    let cookies = sess.persist(state).await?;
    let hint = q.get("login_hint").map(String::as_str);
    let url = authorization_url(
        state,
        &endpoints,
        &origin,
        &oidc_state,
        nonce.as_deref(),
        verifier.as_deref(),
        silent,
        hint,
    )?;
    Ok(redirect(&url, cookies))
}

/// Python's `str()` of a setting value, as the reference puts it in the query string.
fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// The authorization request, parameters in the reference's order (O-1), PKCE when advertised.
#[allow(clippy::too_many_arguments)]
fn authorization_url(
    state: &AppState,
    endpoints: &Endpoints,
    origin: &Origin,
    oidc_state: &str,
    nonce: Option<&str>,
    verifier: Option<&str>,
    silent: bool,
    login_hint: Option<&str>,
) -> Result<String, ApiError> {
    let cfg = &state.config.oidc;
    let endpoint = endpoints.authorization.as_deref().unwrap_or_default();
    let mut url = url::Url::parse(endpoint)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("OIDC_OP_AUTHORIZATION_ENDPOINT is not a URL: {e}")))?;
    {
        let mut qp = url.query_pairs_mut();
        qp.append_pair("response_type", "code")
            .append_pair("scope", &cfg.scopes)
            .append_pair("client_id", &cfg.client_id)
            .append_pair("redirect_uri", &format!("{}{API}/callback/", origin.base()))
            .append_pair("state", oidc_state);
        let mut prompt_done = false;
        for (k, v) in &cfg.auth_request_extra_params {
            if silent && k == "prompt" {
                qp.append_pair(k, "none");
                prompt_done = true;
            } else {
                qp.append_pair(k, &py_str(v));
            }
        }
        // Forwarded from the request when present and non-empty (NO-OIDC-2).
        if let Some(hint) = login_hint.filter(|h| !h.is_empty()) {
            qp.append_pair("login_hint", hint);
        }
        if silent && !prompt_done {
            qp.append_pair("prompt", "none");
        }
        if let Some(v) = verifier {
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
            qp.append_pair("code_challenge", &challenge).append_pair("code_challenge_method", "S256");
        }
        if let Some(n) = nonce {
            qp.append_pair("nonce", n);
        }
    }
    Ok(url.to_string())
}

/// `GET /api/v1.0/callback/`: users-auth-rooms §4.4 (O-4..O-10, O-12..O-23).
async fn callback(State(s): State<AppState>, method: Method, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    if let Some(r) = method_gate(&s, &method, &headers, &body, &[Method::GET]) {
        return r;
    }
    respond(finish_login(&s, &headers, &uri).await)
}

async fn finish_login(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<Response, ApiError> {
    let cfg = &state.config.oidc;
    let q = query(uri);
    let mut sess = Session::load(state, headers).await?;
    if let Some(error) = q.get("error") {
        tracing::info!(error = error.as_str(), "the identity provider answered the login with an error");
        if error == "login_required" && sess.data.contains_key("silent") {
            // Upstream HEAD (NO-OIDC-3): a failed silent login needs a state of this session; the
            // state is kept and nobody is logged out.
            let valid = q.get("state").is_some_and(|st| sess.states().is_some_and(|m| m.contains_key(st)));
            if !valid {
                tracing::warn!("state validation failed during silent login");
                return Ok(support::bad_request());
            }
            sess.data.remove("silent");
            let target = success_url(cfg, &sess.data);
            let cookies = sess.persist(state).await?;
            return Ok(redirect(&target, cookies));
        }
        if let Some(st) = q.get("state") {
            sess.take_state(st);
        }
        if sess.user.is_some() {
            // Logged out; the emptied session has no `silent` flag: the normal failure URL.
            let cookies = sess.end(state).await?;
            return Ok(redirect(&cfg.login_redirect_url_failure, cookies));
        }
        let target = failure_url(cfg, &mut sess.data);
        let cookies = sess.persist(state).await?;
        return Ok(redirect(&target, cookies));
    }
    let (Some(code), Some(st)) = (q.get("code"), q.get("state")) else {
        return fail(state, &mut sess, "callback without code, state or error").await;
    };
    if sess.states().is_none() {
        return fail(state, &mut sess, "callback state without a login in progress in this session").await;
    }
    let Some(entry) = sess.take_state(st) else {
        tracing::warn!("OIDC callback state not found in session `oidc_states`!");
        return Ok(support::bad_request());
    };
    // Consumed before the code is redeemed: a replayed callback finds no state.
    sess.persist(state).await?;
    match login(state, headers, &mut sess, code, &entry).await {
        Ok(resp) => Ok(resp),
        Err(reason) => fail(state, &mut sess, &reason).await,
    }
}

/// A refused login: a log line and the failure URL (never a 500, B5).
async fn fail(state: &AppState, sess: &mut Session, reason: &str) -> Result<Response, ApiError> {
    tracing::warn!(reason, "login failed");
    let target = failure_url(&state.config.oidc, &mut sess.data);
    let cookies = sess.persist(state).await?;
    Ok(redirect(&target, cookies))
}

/// Redeems the code, validates the ID token, reads userinfo, provisions the user and logs them in
/// with a new session key and a new CSRF secret.
async fn login(
    state: &AppState,
    headers: &HeaderMap,
    sess: &mut Session,
    code: &str,
    entry: &Value,
) -> Result<Response, String> {
    let cfg = &state.config.oidc;
    let redirect_uri = format!("{}{API}/callback/", origin(state, headers).base());
    let verifier = entry.get("code_verifier").and_then(Value::as_str);
    let nonce = entry.get("nonce").and_then(Value::as_str);
    let tokens =
        state.oidc.exchange_code(code, &redirect_uri, verifier).await.map_err(|e| format!("token request: {e}"))?;
    let id_token = tokens.id_token.ok_or("token response without id_token")?;
    let id_claims =
        state.oidc.validate_id_token(&id_token, nonce).await.map_err(|e| format!("ID token refused: {e}"))?;
    let access_token = tokens.access_token.ok_or("token response without access_token")?;
    let claims = state.oidc.userinfo(&access_token).await.map_err(|e| format!("userinfo: {e}"))?;
    if claims.get("sub").is_some_and(|s| Some(s) != id_claims.get("sub")) {
        return Err("userinfo sub differs from the ID token's".into());
    }
    // The essential claims must be present (their value may be anything), as upstream checks.
    if let Some(missing) = cfg.essential_claims.iter().find(|c| !claims.contains_key(c.as_str())) {
        return Err(format!("Claims verification failed: userinfo has no {missing}"));
    }
    let user = match provision::resolve(state, &claims).await {
        Ok(u) => u,
        Err(ProvisionError::Refused(r)) => return Err(r.to_string()),
        Err(ProvisionError::Store(e)) => return Err(format!("database: {e}")),
    };
    let switching = sess.user.as_ref().is_some_and(|u| u.id != user.id);
    let mut data = if switching {
        // B22: a different user logs in: start afresh but keep where they were going.
        let mut fresh = Map::new();
        if let Some(next) = sess.data.get("oidc_login_next") {
            fresh.insert("oidc_login_next".into(), next.clone());
        }
        fresh
    } else {
        std::mem::take(&mut sess.data)
    };
    data.remove("silent");
    if cfg.store_id_token {
        data.insert("oidc_id_token".into(), Value::String(id_token));
    }
    data.insert("oidc_id_token_expiration".into(), json!(now_secs() + 900.0));
    // W47: the provider session id comes from the verified ID token, not the token response.
    let sid = id_claims.get("sid").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    data.insert("oidc_sid".into(), sid.clone().map(Value::String).unwrap_or(Value::Null));
    let target = success_url(cfg, &data);
    if let Some(old) = sess.key.take() {
        state.sessions.delete(&old).await.map_err(|e| format!("session store: {e}"))?;
    }
    let key = state.sessions.create_for_user(user.id, data).await.map_err(|e| format!("session store: {e}"))?;
    if let Some(sid) = sid {
        if let Err(e) = state.cache.set(&backchannel::sid_key(&sid), &key, Some(crate::sessions::SESSION_AGE)).await {
            tracing::warn!(error = %e, "could not index the session by its provider session id");
        }
    }
    let announcement = state.sessions.user_changing(user.id);
    if let Err(e) = users::touch_last_login(&state.db, user.id).await {
        tracing::warn!(error = %e, "could not record last_login");
    }
    announcement.send().await;
    tracing::info!(user.id = %user.id, "user logged in");
    let secure = state.config.secure_cookies;
    let cookies = vec![support::session_cookie(&key, secure), support::csrf_cookie(&csrf::new_secret(), secure)];
    Ok(redirect(&target, cookies))
}

/// `GET|POST /api/v1.0/logout/`: users-auth-rooms §4.7 (O-24..O-26, O-30, S5).
async fn logout(State(s): State<AppState>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let allowed: &[Method] =
        if s.config.oidc.allow_logout_get_method { &[Method::GET, Method::POST] } else { &[Method::POST] };
    if let Some(r) = method_gate(&s, &method, &headers, &body, allowed) {
        return r;
    }
    respond(do_logout(&s, &headers).await)
}

async fn do_logout(state: &AppState, headers: &HeaderMap) -> Result<Response, ApiError> {
    let cfg = &state.config.oidc;
    let mut sess = Session::load(state, headers).await?;
    let id_token = sess.data.get("oidc_id_token").and_then(Value::as_str).map(str::to_string);
    let end_session = match (&sess.user, &id_token) {
        (Some(_), Some(_)) => match state.oidc.endpoints().await {
            Ok(e) => e.end_session.clone(),
            Err(e) => {
                tracing::warn!(error = %e, "provider discovery failed: local logout only");
                None
            }
        },
        _ => None,
    };
    let cookies = sess.end(state).await?;
    let (Some(endpoint), Some(id_token)) = (end_session, id_token) else {
        return Ok(redirect(&cfg.logout_redirect_url, cookies));
    };
    // S5: the local session has ended; a fresh anonymous one only remembers the logout state.
    let oidc_state = random_token(32);
    sess.add_state(&oidc_state, json!({}));
    let cookies = sess.persist(state).await?;
    let mut url = url::Url::parse(&endpoint)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("OIDC_OP_LOGOUT_ENDPOINT is not a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("state", &oidc_state)
        .append_pair("post_logout_redirect_uri", &format!("{}{API}/logout-callback/", origin(state, headers).base()));
    Ok(redirect(url.as_str(), cookies))
}

/// `GET /api/v1.0/logout-callback/`: users-auth-rooms §4.8 (O-27..O-29).
async fn logout_callback(
    State(s): State<AppState>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    if let Some(r) = method_gate(&s, &method, &headers, &body, &[Method::GET]) {
        return r;
    }
    respond(finish_logout(&s, &headers, &uri).await)
}

async fn finish_logout(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Result<Response, ApiError> {
    let target = state.config.oidc.logout_redirect_url.clone();
    let q = query(uri);
    let mut sess = Session::load(state, headers).await?;
    let st = q.get("state").map(String::as_str).unwrap_or("");
    if sess.user.is_none() {
        // The usual case since S5: forget the logout state; drop a session holding nothing else.
        sess.take_state(st);
        let only_empty_states = sess.data.len() == 1 && sess.states().is_some_and(Map::is_empty);
        let cookies = match (&sess.key, only_empty_states) {
            (Some(_), true) => sess.end(state).await?,
            (Some(_), false) => sess.persist(state).await?,
            (None, _) => Vec::new(),
        };
        return Ok(redirect(&target, cookies));
    }
    if !q.contains_key("state") {
        // Upstream HEAD (NO-OIDC-8, W45): some providers call back without state before the real
        // logout; the user stays logged in and the frontend re-checks.
        return Ok(redirect(&target, Vec::new()));
    }
    if sess.take_state(st).is_none() {
        tracing::warn!("OIDC callback state not found in session `oidc_states`!");
        return Ok(support::bad_request());
    }
    let cookies = sess.end(state).await?;
    Ok(redirect(&target, cookies))
}
