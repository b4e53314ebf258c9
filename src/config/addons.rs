//! Settings of the add-on sessions of the Outlook add-in (now-external-api §12, §16.2), with
//! Meet's names and defaults. `ADDONS_ENABLED`, the token key, issuer and audience are read with
//! the external API (they also drive its add-on JWT authenticator); the rest is here.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Reader;

/// Add-on session settings.
#[derive(Clone, Debug)]
pub struct AddonsConfig {
    /// `ADDONS_SESSION_TTL`: lifetime of a session entry, of the cookie and of a consumed
    /// transit entry. Default 3600 s.
    pub session_ttl: Duration,
    /// `ADDONS_TRANSIT_TOKEN_TTL`: lifetime of a pending transit entry. Default 120 s (W37: raise
    /// it when logins in the dialog take longer).
    pub transit_ttl: Duration,
    /// `ADDONS_CSRF_SECRET` (or `_FILE`): HMAC key of the add-on CSRF tokens; required when
    /// `ADDONS_ENABLED`. Default none.
    pub csrf_secret: Option<String>,
    /// `ADDONS_CACHE_PREFIX_SESSION`: cache key part of session entries. Default `sid`.
    pub prefix_session: String,
    /// `ADDONS_CACHE_PREFIX_TRANSIT`: cache key part of transit entries. Default `transit`.
    pub prefix_transit: String,
    /// `ADDONS_TOKEN_TTL`: lifetime of add-on tokens in seconds. Default 7200.
    pub token_ttl: u64,
    /// `ADDONS_TOKEN_TYPE`: `token_type` of the poll result. Default `Bearer`.
    pub token_type: String,
    /// `ADDONS_TOKEN_SCOPE`: scope of add-on tokens (space-separated). Default `rooms:create`.
    pub token_scope: String,
    /// `ADDONS_RANDOM_TOKEN_BYTE_LENGTH`: random bytes of session ids and transit tokens. Default 60.
    pub random_bytes: usize,
    /// `ADDONS_SESSION_ID_COOKIE`: name of the session cookie. Default `addonsSid`.
    pub cookie_name: String,
    /// `MEET_ADDONS_INIT_THROTTLE_RATES`: session starts per client address (W55; polls are not
    /// throttled). Default `30/minute`.
    pub init_throttle_rate: super::Rate,
}

pub(super) fn read(r: &mut Reader<'_>) -> AddonsConfig {
    let enabled = r.bool("ADDONS_ENABLED", false);
    let c = AddonsConfig {
        session_ttl: Duration::from_secs(r.uint("ADDONS_SESSION_TTL", 3600u64)),
        transit_ttl: Duration::from_secs(r.uint("ADDONS_TRANSIT_TOKEN_TTL", 120u64)),
        csrf_secret: r.opt_string("ADDONS_CSRF_SECRET"),
        prefix_session: r.string("ADDONS_CACHE_PREFIX_SESSION", "sid"),
        prefix_transit: r.string("ADDONS_CACHE_PREFIX_TRANSIT", "transit"),
        token_ttl: r.uint("ADDONS_TOKEN_TTL", 7200u64),
        token_type: r.string("ADDONS_TOKEN_TYPE", "Bearer"),
        token_scope: r.string("ADDONS_TOKEN_SCOPE", "rooms:create"),
        random_bytes: r.uint("ADDONS_RANDOM_TOKEN_BYTE_LENGTH", 60usize),
        cookie_name: r.string("ADDONS_SESSION_ID_COOKIE", "addonsSid"),
        init_throttle_rate: r.rate("MEET_ADDONS_INIT_THROTTLE_RATES", "30/minute"),
    };
    // W41: read upstream's unused setting so that a deployment setting it starts unchanged.
    let _ = r.opt_string("ADDONS_PENDING_SESSION_KEY");
    if enabled {
        // W42, W56: what upstream only discovers when a request builds the service.
        if c.csrf_secret.is_none() {
            r.errors.push("ADDONS_CSRF_SECRET: required when ADDONS_ENABLED is true".into());
        }
        if c.token_scope.trim().is_empty() {
            r.errors.push("ADDONS_TOKEN_SCOPE: must not be empty when ADDONS_ENABLED is true".into());
        }
        if c.token_type.is_empty() {
            r.errors.push("ADDONS_TOKEN_TYPE: must not be empty".into());
        }
        if c.random_bytes < 16 {
            r.errors.push("ADDONS_RANDOM_TOKEN_BYTE_LENGTH: at least 16 bytes are needed".into());
        }
        if c.session_ttl.is_zero() || c.transit_ttl.is_zero() {
            r.errors.push("ADDONS_SESSION_TTL, ADDONS_TRANSIT_TOKEN_TTL: must be at least 1 second".into());
        }
        let cookie_ok = !c.cookie_name.is_empty()
            && c.cookie_name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !cookie_ok {
            r.errors.push(format!("ADDONS_SESSION_ID_COOKIE: '{}' is not a valid cookie name", c.cookie_name));
        }
    }
    c
}

pub(super) fn describe(c: &AddonsConfig, m: &mut BTreeMap<&'static str, String>) {
    m.insert("ADDONS_SESSION_TTL", c.session_ttl.as_secs().to_string());
    m.insert("ADDONS_TRANSIT_TOKEN_TTL", c.transit_ttl.as_secs().to_string());
    m.insert("ADDONS_CSRF_SECRET", c.csrf_secret.as_ref().map(|_| "***".to_string()).unwrap_or_default());
    m.insert("ADDONS_CACHE_PREFIX_SESSION", c.prefix_session.clone());
    m.insert("ADDONS_CACHE_PREFIX_TRANSIT", c.prefix_transit.clone());
    m.insert("ADDONS_TOKEN_TTL", c.token_ttl.to_string());
    m.insert("ADDONS_TOKEN_TYPE", c.token_type.clone());
    m.insert("ADDONS_TOKEN_SCOPE", c.token_scope.clone());
    m.insert("ADDONS_RANDOM_TOKEN_BYTE_LENGTH", c.random_bytes.to_string());
    m.insert("ADDONS_SESSION_ID_COOKIE", c.cookie_name.clone());
    m.insert(
        "MEET_ADDONS_INIT_THROTTLE_RATES",
        format!("{}/{}s", c.init_throttle_rate.requests, c.init_throttle_rate.period.as_secs()),
    );
}

#[cfg(test)]
mod tests {
    use crate::config::from_pairs;

    #[test]
    fn w42_addons_need_their_csrf_secret() {
        let e = from_pairs(&[("ADDONS_ENABLED", "true"), ("ADDONS_TOKEN_SECRET_KEY", "k")]).unwrap_err();
        assert!(e.0.iter().any(|m| m.starts_with("ADDONS_CSRF_SECRET")), "{e:?}");
        let c = from_pairs(&[]).unwrap().addons;
        assert_eq!((c.session_ttl.as_secs(), c.transit_ttl.as_secs(), c.token_ttl), (3600, 120, 7200));
        assert_eq!((c.cookie_name.as_str(), c.token_scope.as_str()), ("addonsSid", "rooms:create"));
    }
}
