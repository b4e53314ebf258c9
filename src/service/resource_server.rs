//! The third authenticator of the external rooms endpoints (now-external-api §7.4): an identity
//! provider's access token, checked by RFC 7662 introspection, with the base-scope and audience-claim
//! checks, then the user by `sub`. Differences from upstream, following §15.3: failures are JSON
//! 400s with `WWW-Authenticate: Bearer error="invalid_token"` and provider outages 503s (W14), an
//! expired answer is refused instead of a 500, inactive users are refused (W13), positive answers
//! are cached briefly under a hash of the token (W16), an optional audience check (W17), new users
//! keep the token's e-mail when nobody has it (W18), and an empty `sub` is a refusal.

use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::external::{bearer_401, scopes_of, ExternalCaller};
use crate::error::{ApiError, FieldErrors};
use crate::i18n::msg;
use crate::oidc::provision::{email_is_valid, sub_is_valid};
use crate::state::AppState;
use crate::store::users::{self, NewUser, User};

fn invalid() -> ApiError {
    ApiError::InvalidBearer(msg::EXT_INVALID_TOKEN.into())
}

fn cache_key(token: &str) -> String {
    format!("oidc:introspection:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// W53: a token that is valid standard base64 of UTF-8 text is introspected decoded.
fn decoded(token: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| token.to_string())
}

/// `POST <OIDC_OP_INTROSPECTION_ENDPOINT>` (RFC 7662, `client_secret_post`).
async fn introspect(state: &AppState, token: &str) -> Result<Map<String, Value>, ApiError> {
    let cfg = &state.config.idp;
    let endpoint = cfg.introspection_endpoint.as_deref().unwrap_or_default();
    let secret = cfg.rs_client_secret.as_deref().unwrap_or_default();
    let form = [("client_id", cfg.rs_client_id.as_str()), ("client_secret", secret), ("token", token)];
    let resp = state
        .oidc
        .http()
        .post(endpoint)
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(reason = %crate::oidc::transport(e), "introspection: identity provider unreachable");
            ApiError::Unavailable("identity provider")
        })?;
    let status = resp.status();
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), "introspection: identity provider error");
        return Err(ApiError::Unavailable("identity provider"));
    }
    if !status.is_success() {
        tracing::warn!(status = status.as_u16(), "introspection refused by the identity provider");
        return Err(invalid());
    }
    let bytes = resp.bytes().await.map_err(|_| ApiError::Unavailable("identity provider"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => {
            tracing::info!("introspection answer is not a JSON object");
            Err(invalid())
        }
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

/// The checks of §7.4 step 3 on an introspection answer; `Err` with the reason logged.
fn check(state: &AppState, answer: &Map<String, Value>, now: i64) -> Result<(), &'static str> {
    let cfg = &state.config.idp;
    match answer.get("active") {
        None | Some(Value::Null) => return Err("no active member"),
        Some(Value::Bool(true)) => {}
        Some(_) => return Err("inactive token"),
    }
    if let Some(iss) = answer.get("iss") {
        let expected = cfg.op_url.as_deref().unwrap_or_default();
        if iss.as_str().map(|s| s.trim_end_matches('/')) != Some(expected.trim_end_matches('/')) {
            return Err("issuer mismatch");
        }
    }
    let now = now as f64;
    if number(answer.get("exp")).is_some_and(|exp| exp <= now) {
        return Err("expired");
    }
    if number(answer.get("nbf")).is_some_and(|t| t > now) || number(answer.get("iat")).is_some_and(|t| t > now) {
        return Err("not yet valid");
    }
    let Some(scope) = answer.get("scope").and_then(Value::as_str) else { return Err("no scope") };
    if !scope.split_whitespace().any(|s| cfg.rs_scopes.iter().any(|r| r == s)) {
        return Err("none of OIDC_RS_SCOPES");
    }
    let audience_ok = match answer.get(&cfg.rs_audience_claim) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    };
    if !audience_ok {
        return Err("empty audience claim");
    }
    if let Some(required) = &cfg.rs_required_audience {
        let ok = match answer.get("aud") {
            Some(Value::String(s)) => s == required,
            Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(required)),
            _ => false,
        };
        if !ok {
            return Err("audience is not MEET_OIDC_RS_REQUIRED_AUDIENCE");
        }
    }
    Ok(())
}

/// The introspection answer for `token`: from the cache, or from the provider (positive answers
/// are then cached until `min(exp, now + MEET_OIDC_RS_CACHE_SECONDS)`).
async fn valid_answer(state: &AppState, token: &str, now: i64) -> Result<Map<String, Value>, ApiError> {
    let ttl = state.config.idp.rs_cache_ttl.as_secs() as i64;
    let key = cache_key(token);
    if ttl > 0 {
        if let Ok(Some(raw)) = state.cache.get(&key).await {
            if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&raw) {
                if check(state, &m, now).is_ok() {
                    return Ok(m);
                }
            }
        }
    }
    let answer = introspect(state, token).await?;
    if let Err(reason) = check(state, &answer, now) {
        tracing::info!(reason, "identity-provider token refused");
        return Err(invalid());
    }
    let until = number(answer.get("exp")).map(|e| e as i64).unwrap_or(i64::MAX).min(now + ttl);
    if ttl > 0 && until > now {
        let life = std::time::Duration::from_secs((until - now) as u64);
        if let Err(e) = state.cache.set(&key, &Value::Object(answer.clone()).to_string(), Some(life)).await {
            tracing::warn!(error = %e, "could not cache an introspection answer");
        }
    }
    Ok(answer)
}

/// The user of an introspected token (§7.4 step 4): by exact `sub`, or created with only its `sub`
/// (and the token's e-mail when valid and nobody has it yet, W18) when `OIDC_CREATE_USER`.
async fn user_for(state: &AppState, answer: &Map<String, Value>) -> Result<User, ApiError> {
    let sub = answer.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty());
    let sub = sub.ok_or_else(|| bearer_401(msg::LOGIN_FAILED))?;
    if let Some(user) = users::get_by_sub(&state.db, sub).await? {
        return Ok(user);
    }
    if !state.config.oidc.create_user {
        return Err(bearer_401(msg::LOGIN_NO_USER));
    }
    if !sub_is_valid(sub) {
        return Err(FieldErrors::one("sub", msg::INVALID_SUB));
    }
    let mut email = answer.get("email").and_then(Value::as_str).filter(|e| email_is_valid(e));
    if let Some(e) = email {
        if !users::find_by_email_ci(&state.db, e, 1).await?.is_empty() {
            email = None;
        }
    }
    let new = NewUser { sub: Some(sub.to_string()), email: email.map(str::to_string), ..Default::default() };
    match users::create(&state.db, new, &state.config.language_code).await {
        Ok(user) => {
            tracing::info!(user.id = %user.id, "user created from an identity-provider access token");
            Ok(user)
        }
        // Two first requests with the same token at once, or an e-mail taken meanwhile.
        Err(e) => match users::get_by_sub(&state.db, sub).await? {
            Some(user) => Ok(user),
            None => Err(e.into()),
        },
    }
}

/// `ResourceServerAuthentication`: the caller of an identity-provider access token.
pub async fn authenticate(state: &AppState, token: &str, now: i64) -> Result<ExternalCaller, ApiError> {
    let token = decoded(token);
    let answer = valid_answer(state, &token, now).await?;
    let user = user_for(state, &answer).await?;
    if !user.is_active {
        return Err(bearer_401(msg::EXT_USER_DISABLED));
    }
    let scopes = scopes_of(&answer, state.config.external_api.scopes_prefix.as_deref());
    let client_id = match answer.get(&state.config.idp.rs_audience_claim) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Ok(ExternalCaller { user, scopes, client_id, auth_method: "ResourceServerAuthentication" })
}

#[cfg(test)]
mod tests {
    use super::decoded;

    #[test]
    fn w53_base64_tokens_are_decoded_others_kept() {
        assert_eq!(decoded("aGVsbG8="), "hello");
        assert_eq!(decoded("rs-abc"), "rs-abc");
        assert_eq!(decoded("aGVsbG8"), "aGVsbG8", "padding is required");
        assert_eq!(decoded("//79"), "//79", "not UTF-8 once decoded");
    }
}
