//! Settings of the external API and its applications (now-external-api §16.1), with Meet's names
//! and defaults. Start-up refuses the combinations upstream only discovers per request (W7, W42,
//! W56, the unchecked default access level).

use std::collections::BTreeMap;

use super::Reader;

/// External API settings.
#[derive(Clone, Debug)]
pub struct ExternalApiConfig {
    /// `EXTERNAL_API_ENABLED`: mounts `/external-api/v1.0/`. Default false.
    pub enabled: bool,
    /// `APPLICATION_ENABLED`: the token endpoint and the application-JWT authenticator. Default false.
    pub application_enabled: bool,
    /// `APPLICATION_CLIENT_ID_LENGTH`: length of generated client ids. Default 40.
    pub client_id_length: usize,
    /// `APPLICATION_CLIENT_SECRET_LENGTH`: length of generated secrets. Default 128.
    pub client_secret_length: usize,
    /// `APPLICATION_JWT_SECRET_KEY` (or `_FILE`): HMAC key of application tokens; required when
    /// `APPLICATION_ENABLED`. Default none.
    pub jwt_secret_key: Option<String>,
    /// `APPLICATION_JWT_ISSUER`: `iss` issued and required. Default `lasuite-meet` (empty: none, W9).
    pub jwt_issuer: Option<String>,
    /// `APPLICATION_JWT_AUDIENCE`: `aud` issued and required. Default none (tokens must carry none).
    pub jwt_audience: Option<String>,
    /// `APPLICATION_JWT_EXPIRATION_SECONDS`: token lifetime. Default 3600.
    pub jwt_expiration_seconds: u64,
    /// `APPLICATION_JWT_TOKEN_TYPE`: `token_type` of the token response. Default `Bearer`.
    pub jwt_token_type: String,
    /// `APPLICATION_BASE_URL`: base of the rooms' `url` field. Default none (no `url`).
    pub base_url: Option<String>,
    /// `EXTERNAL_API_ALLOW_PUBLIC_ACCESS`: allows `access_level: public`. Default false.
    pub allow_public_access: bool,
    /// `EXTERNAL_API_DEFAULT_ACCESS_LEVEL`: level of rooms created without one. Default `trusted`.
    pub default_access_level: String,
    /// `ADDONS_TOKEN_SECRET_KEY` (or `_FILE`): HMAC key of add-on tokens, which must differ from
    /// the application key (W7). Default none.
    pub addons_token_secret_key: Option<String>,
    /// `ADDONS_ENABLED`: the add-on JWT authenticator of the rooms endpoints and the add-on
    /// session routes. Default false.
    pub addons_enabled: bool,
    /// `ADDONS_TOKEN_ISSUER`: `iss` required in add-on tokens. Default `lasuite-meet`.
    pub addons_token_issuer: Option<String>,
    /// `ADDONS_TOKEN_AUDIENCE`: `aud` required in add-on tokens. Default `addons`.
    pub addons_token_audience: Option<String>,
    /// `APPLICATION_ALLOW_USER_CREATION`: the token endpoint creates a provisional user (`sub`
    /// NULL) for an unknown e-mail, together with `OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION` and
    /// `OIDC_USER_SUB_FIELD_IMMUTABLE=false` (§10.1). Default false.
    pub allow_user_creation: bool,
    /// `MEET_APPLICATION_TOKEN_THROTTLE_RATES`: token requests per client address (W55). Default
    /// `60/minute`.
    pub token_throttle_rate: super::Rate,
    /// `OIDC_RS_SCOPES_PREFIX`: `<prefix>:` removed from token scopes before the room-scope check.
    /// Default none.
    pub scopes_prefix: Option<String>,
}

pub(super) fn read(r: &mut Reader<'_>) -> ExternalApiConfig {
    let c = ExternalApiConfig {
        enabled: r.bool("EXTERNAL_API_ENABLED", false),
        application_enabled: r.bool("APPLICATION_ENABLED", false),
        client_id_length: r.uint("APPLICATION_CLIENT_ID_LENGTH", 40usize),
        client_secret_length: r.uint("APPLICATION_CLIENT_SECRET_LENGTH", 128usize),
        jwt_secret_key: r.opt_string("APPLICATION_JWT_SECRET_KEY"),
        jwt_issuer: Some(r.string("APPLICATION_JWT_ISSUER", "lasuite-meet")).filter(|s| !s.is_empty()),
        jwt_audience: r.opt_string("APPLICATION_JWT_AUDIENCE"),
        jwt_expiration_seconds: r.uint("APPLICATION_JWT_EXPIRATION_SECONDS", 3600u64),
        jwt_token_type: r.string("APPLICATION_JWT_TOKEN_TYPE", "Bearer"),
        base_url: r.opt_string("APPLICATION_BASE_URL"),
        allow_public_access: r.bool("EXTERNAL_API_ALLOW_PUBLIC_ACCESS", false),
        default_access_level: r.string("EXTERNAL_API_DEFAULT_ACCESS_LEVEL", "trusted"),
        addons_token_secret_key: r.opt_string("ADDONS_TOKEN_SECRET_KEY"),
        scopes_prefix: r.opt_string("OIDC_RS_SCOPES_PREFIX"),
        allow_user_creation: r.bool("APPLICATION_ALLOW_USER_CREATION", false),
        token_throttle_rate: r.rate("MEET_APPLICATION_TOKEN_THROTTLE_RATES", "60/minute"),
        addons_enabled: r.bool("ADDONS_ENABLED", false),
        addons_token_issuer: Some(r.string("ADDONS_TOKEN_ISSUER", "lasuite-meet")).filter(|s| !s.is_empty()),
        addons_token_audience: Some(r.string("ADDONS_TOKEN_AUDIENCE", "addons")).filter(|s| !s.is_empty()),
    };
    let addons_alg = r.string("ADDONS_TOKEN_ALG", "HS256");
    if addons_alg != "HS256" {
        r.errors.push(format!("ADDONS_TOKEN_ALG: '{addons_alg}' is not supported (only HS256)"));
    }
    if c.addons_enabled && c.addons_token_secret_key.is_none() {
        r.errors.push("ADDONS_TOKEN_SECRET_KEY: required when ADDONS_ENABLED is true".into());
    }
    let alg = r.string("APPLICATION_JWT_ALG", "HS256");
    if alg != "HS256" {
        r.errors.push(format!("APPLICATION_JWT_ALG: '{alg}' is not supported (only HS256)"));
    }
    if c.jwt_token_type.is_empty() {
        r.errors.push("APPLICATION_JWT_TOKEN_TYPE: must not be empty".into());
    }
    if c.application_enabled && c.jwt_secret_key.is_none() {
        r.errors.push("APPLICATION_JWT_SECRET_KEY: required when APPLICATION_ENABLED is true".into());
    }
    if c.jwt_secret_key.is_some() && c.jwt_secret_key == c.addons_token_secret_key {
        r.errors.push(
            "ADDONS_TOKEN_SECRET_KEY: must differ from APPLICATION_JWT_SECRET_KEY (tokens of one kind would pass as the other)"
                .into(),
        );
    }
    if !matches!(c.default_access_level.as_str(), "public" | "trusted" | "restricted") {
        r.errors.push(format!(
            "EXTERNAL_API_DEFAULT_ACCESS_LEVEL: '{}' is not public, trusted or restricted",
            c.default_access_level
        ));
    }
    c
}

pub(super) fn describe(c: &ExternalApiConfig, m: &mut BTreeMap<&'static str, String>) {
    let secret = |s: &Option<String>| s.as_ref().map(|_| "***".to_string()).unwrap_or_default();
    m.insert("EXTERNAL_API_ENABLED", c.enabled.to_string());
    m.insert("APPLICATION_ENABLED", c.application_enabled.to_string());
    m.insert("APPLICATION_CLIENT_ID_LENGTH", c.client_id_length.to_string());
    m.insert("APPLICATION_CLIENT_SECRET_LENGTH", c.client_secret_length.to_string());
    m.insert("APPLICATION_JWT_SECRET_KEY", secret(&c.jwt_secret_key));
    m.insert("APPLICATION_JWT_ALG", "HS256".into());
    m.insert("APPLICATION_JWT_ISSUER", c.jwt_issuer.clone().unwrap_or_default());
    m.insert("APPLICATION_JWT_AUDIENCE", c.jwt_audience.clone().unwrap_or_default());
    m.insert("APPLICATION_JWT_EXPIRATION_SECONDS", c.jwt_expiration_seconds.to_string());
    m.insert("APPLICATION_JWT_TOKEN_TYPE", c.jwt_token_type.clone());
    m.insert("APPLICATION_BASE_URL", c.base_url.clone().unwrap_or_default());
    m.insert("EXTERNAL_API_ALLOW_PUBLIC_ACCESS", c.allow_public_access.to_string());
    m.insert("EXTERNAL_API_DEFAULT_ACCESS_LEVEL", c.default_access_level.clone());
    m.insert("ADDONS_TOKEN_SECRET_KEY", secret(&c.addons_token_secret_key));
    m.insert("ADDONS_ENABLED", c.addons_enabled.to_string());
    m.insert("ADDONS_TOKEN_ISSUER", c.addons_token_issuer.clone().unwrap_or_default());
    m.insert("ADDONS_TOKEN_AUDIENCE", c.addons_token_audience.clone().unwrap_or_default());
    m.insert("ADDONS_TOKEN_ALG", "HS256".into());
    m.insert("APPLICATION_ALLOW_USER_CREATION", c.allow_user_creation.to_string());
    m.insert(
        "MEET_APPLICATION_TOKEN_THROTTLE_RATES",
        format!("{}/{}s", c.token_throttle_rate.requests, c.token_throttle_rate.period.as_secs()),
    );
    m.insert("OIDC_RS_SCOPES_PREFIX", c.scopes_prefix.clone().unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use crate::config::from_pairs;

    #[test]
    fn defaults_follow_the_reference() {
        let c = from_pairs(&[]).unwrap().external_api;
        assert!(!c.enabled && !c.application_enabled);
        assert_eq!((c.client_id_length, c.client_secret_length, c.jwt_expiration_seconds), (40, 128, 3600));
        assert_eq!(c.jwt_issuer.as_deref(), Some("lasuite-meet"));
        assert_eq!(c.default_access_level, "trusted");
    }

    #[test]
    fn w7_equal_application_and_addons_keys_stop_the_start() {
        let e = from_pairs(&[("APPLICATION_JWT_SECRET_KEY", "same"), ("ADDONS_TOKEN_SECRET_KEY", "same")]).unwrap_err();
        assert!(e.0.iter().any(|m| m.starts_with("ADDONS_TOKEN_SECRET_KEY")), "{e:?}");
    }

    #[test]
    fn w42_w56_application_enabled_needs_its_key_and_the_default_level_is_checked() {
        let e = from_pairs(&[("APPLICATION_ENABLED", "true"), ("EXTERNAL_API_DEFAULT_ACCESS_LEVEL", "secret")])
            .unwrap_err();
        assert!(e.0.iter().any(|m| m.starts_with("APPLICATION_JWT_SECRET_KEY")), "{e:?}");
        assert!(e.0.iter().any(|m| m.starts_with("EXTERNAL_API_DEFAULT_ACCESS_LEVEL")), "{e:?}");
    }
}
