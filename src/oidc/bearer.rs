//! Bearer authentication on the API (users-auth-rooms §4.9): the access token is sent to the
//! provider's userinfo endpoint (bounded by `MEET_OIDC_TIMEOUT`), its answer is cached for
//! `MEET_OIDC_USERINFO_CACHE_SECONDS` under a SHA-256 of the token (never the token itself), and
//! the user is resolved or created as at login (§4.5). Failures give the reference's 401 bodies.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::provision::{self, ProvisionError, Refusal};
use super::OidcError;
use crate::error::ApiError;
use crate::i18n::msg::{self, LOGIN_FAILED};
use crate::state::AppState;
use crate::store::users::User;

fn cache_key(token: &str) -> String {
    format!("oidc:userinfo:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// The claims for `token`: from the cache, or from the provider (then cached).
async fn claims_for(state: &AppState, token: &str) -> Result<Map<String, Value>, ApiError> {
    let ttl = state.config.oidc.userinfo_cache_ttl;
    let key = cache_key(token);
    if !ttl.is_zero() {
        // A cache outage only costs a userinfo call.
        if let Ok(Some(raw)) = state.cache.get(&key).await {
            if let Ok(Value::Object(m)) = serde_json::from_str(&raw) {
                return Ok(m);
            }
        }
    }
    let claims = state.oidc.userinfo(token).await.map_err(userinfo_error)?;
    if !ttl.is_zero() {
        if let Err(e) = state.cache.set(&key, &Value::Object(claims.clone()).to_string(), Some(ttl)).await {
            tracing::warn!(error = %e, "could not cache a userinfo answer");
        }
    }
    Ok(claims)
}

fn userinfo_error(e: OidcError) -> ApiError {
    match e {
        OidcError::Http { status: 401, www_authenticate: Some(h) } => {
            ApiError::AuthenticationFailed(msg::VERBATIM.arg(
                "text",
                super::error_description(&h).unwrap_or_else(|| "no error description in www-authenticate".into()),
            ))
        }
        OidcError::Unavailable(why) => {
            tracing::warn!(reason = why, "bearer authentication: identity provider unreachable");
            ApiError::Unavailable("identity provider")
        }
        OidcError::NotConfigured(what) => {
            tracing::warn!(missing = what, "bearer authentication: OIDC is not configured");
            ApiError::AuthenticationFailed(LOGIN_FAILED.into())
        }
        OidcError::Jws(e) => {
            tracing::info!(reason = %e, "bearer authentication: userinfo JWT refused");
            ApiError::AuthenticationFailed(LOGIN_FAILED.into())
        }
        other => ApiError::Internal(anyhow::anyhow!("bearer authentication: userinfo failed: {other}")),
    }
}

/// Authenticates an API request carrying `Authorization: Bearer <token>`.
pub async fn authenticate(state: &AppState, token: &str) -> Result<User, ApiError> {
    let claims = claims_for(state, token).await?;
    match provision::resolve(state, &claims).await {
        Ok(user) => Ok(user),
        Err(ProvisionError::Store(e)) => Err(e.into()),
        Err(ProvisionError::Refused(r)) => {
            tracing::info!(reason = %r, "bearer authentication refused");
            Err(match r {
                Refusal::NoUser => ApiError::AuthenticationFailed(msg::LOGIN_NO_USER.into()),
                Refusal::Invalid(errors) => ApiError::Validation(errors),
                Refusal::NoSub | Refusal::MultipleEmails | Refusal::Inactive => {
                    ApiError::AuthenticationFailed(LOGIN_FAILED.into())
                }
            })
        }
    }
}
