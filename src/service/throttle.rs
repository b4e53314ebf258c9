//! The anonymous throttles of users-auth-rooms §5.12 (`request_entry`, `creation_callback`): a
//! sliding window per scope and identity, kept in the cache so every instance shares it.

use crate::config::Rate;
use crate::error::ApiError;
use crate::state::AppState;

/// Counts one request of `identity` in `scope`; 429 with the wait when the window is full.
pub async fn check(state: &AppState, scope: &str, identity: &str, rate: Rate) -> Result<(), ApiError> {
    let key = format!("throttle_{scope}_{identity}");
    match state.cache.throttle(&key, rate.requests, rate.period).await? {
        Some(wait) => Err(ApiError::Throttled(wait)),
        None => Ok(()),
    }
}
