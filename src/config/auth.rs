//! Authentication and marketing settings (users-auth-rooms §7.2): the OIDC relying party, user
//! provisioning, the login/logout redirect URLs (B4: default `/`), both spellings of the e-mail
//! fallback variable (B7), the Brevo sign-up, and the `MEET_OIDC_*` additions (timeout, bearer
//! opt-out, userinfo cache).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{parse_list, Reader};

/// OIDC settings: Meet's variable names (users-auth-rooms §7.2) plus `MEET_OIDC_*` additions.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// `OIDC_RP_CLIENT_ID`. Default `meet`.
    pub client_id: String,
    /// `OIDC_RP_CLIENT_SECRET` (or `_FILE`). Default empty.
    pub client_secret: String,
    /// `OIDC_RP_SIGN_ALGO`: `RS256`…`RS512`, `ES256`, `ES384` or `HS256`. Default `RS256`.
    pub sign_algo: String,
    /// `OIDC_RP_SCOPES`. Default `openid email`.
    pub scopes: String,
    /// `MEET_OIDC_ISSUER`: the provider's issuer. When set, the `iss` claim of ID tokens must equal
    /// it, and the discovery document `<issuer>/.well-known/openid-configuration` fills every
    /// `OIDC_OP_*` endpoint left unset (and enables PKCE when advertised). Default none.
    pub issuer: Option<String>,
    /// `OIDC_OP_AUTHORIZATION_ENDPOINT`. Default none.
    pub authorization_endpoint: Option<String>,
    /// `OIDC_OP_TOKEN_ENDPOINT`. Default none.
    pub token_endpoint: Option<String>,
    /// `OIDC_OP_USER_ENDPOINT`. Default none.
    pub userinfo_endpoint: Option<String>,
    /// `OIDC_OP_JWKS_ENDPOINT`. Default none.
    pub jwks_endpoint: Option<String>,
    /// `OIDC_OP_LOGOUT_ENDPOINT`: RP-initiated logout; empty means local logout only.
    pub logout_endpoint: Option<String>,
    /// `OIDC_AUTH_REQUEST_EXTRA_PARAMS` (dict). Default `{}`.
    pub auth_request_extra_params: Map<String, Value>,
    /// `OIDC_USE_NONCE`. Default true.
    pub use_nonce: bool,
    /// `OIDC_VERIFY_SSL`. Default true.
    pub verify_ssl: bool,
    /// `OIDC_STORE_ID_TOKEN`. Default true.
    pub store_id_token: bool,
    /// `OIDC_REDIRECT_REQUIRE_HTTPS`. Default false.
    pub redirect_require_https: bool,
    /// `OIDC_REDIRECT_ALLOWED_HOSTS` (comma list of `host[:port]`). Default none.
    pub redirect_allowed_hosts: Vec<String>,
    /// `OIDC_REDIRECT_FIELD_NAME`. Default `returnTo`.
    pub redirect_field_name: String,
    /// `OIDC_USERINFO_FULLNAME_FIELDS` (comma list). Default `given_name,usual_name`.
    pub fullname_fields: Vec<String>,
    /// `OIDC_USERINFO_ESSENTIAL_CLAIMS` (comma list): claims userinfo must hold, besides `sub`,
    /// for a login to succeed. Default none.
    pub essential_claims: Vec<String>,
    /// `OIDC_USERINFO_SHORTNAME_FIELD`. Default `given_name`.
    pub shortname_field: String,
    /// `OIDC_CREATE_USER`. Default **true**.
    pub create_user: bool,
    /// `OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION` (upstream HEAD's name, it wins when both are set)
    /// or the reference's `DJANGO_OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION` (B7). Default false.
    pub fallback_to_email: bool,
    /// `LOGIN_REDIRECT_URL`. Default `/` (warned, B4).
    pub login_redirect_url: String,
    /// `LOGIN_REDIRECT_URL_FAILURE`. Default `/` (warned, B4).
    pub login_redirect_url_failure: String,
    /// `LOGOUT_REDIRECT_URL`. Default `/` (warned, B4).
    pub logout_redirect_url: String,
    /// `ALLOW_LOGOUT_GET_METHOD`. Default true.
    pub allow_logout_get_method: bool,
    /// `MEET_OIDC_TIMEOUT`: seconds allowed for each call to the provider. Default 5.
    pub timeout: Duration,
    /// `MEET_OIDC_BEARER_ENABLED`: accept `Authorization: Bearer <access token>` on the internal
    /// API, as the reference did. Default false: session only, as upstream HEAD (now-external-api §14).
    pub bearer_enabled: bool,
    /// `MEET_OIDC_USERINFO_CACHE_SECONDS`: how long a bearer token's userinfo answer is reused. Default
    /// 60; 0 disables the cache.
    pub userinfo_cache_ttl: Duration,
}

/// Brevo marketing settings (users-auth-rooms §6.1).
#[derive(Clone, Debug)]
pub struct MarketingConfig {
    /// `SIGNUP_NEW_USER_TO_MARKETING_EMAIL`. Default false.
    pub signup_new_users: bool,
    /// `BREVO_API_KEY` (or `_FILE`). Default none.
    pub brevo_api_key: Option<String>,
    /// `BREVO_API_CONTACT_LIST_IDS` (comma list of integers). Default none.
    pub brevo_list_ids: Vec<i64>,
    /// `DJANGO_BREVO_API_CONTACT_ATTRIBUTES` (dict). Default `{'VISIO_USER': True}`.
    pub brevo_attributes: Map<String, Value>,
    /// `BREVO_API_TIMEOUT` (seconds). Default 1.
    pub brevo_timeout: Duration,
    /// `MEET_BREVO_API_URL`: base URL of the Brevo API. Default `https://api.brevo.com/v3`.
    pub brevo_api_url: String,
}

pub(super) fn read_oidc(r: &mut Reader<'_>, warnings: &mut Vec<String>) -> OidcConfig {
    let sign_algo = r.string("OIDC_RP_SIGN_ALGO", "RS256");
    if !matches!(sign_algo.as_str(), "RS256" | "RS384" | "RS512" | "ES256" | "ES384" | "HS256") {
        r.errors.push(format!("OIDC_RP_SIGN_ALGO: '{sign_algo}' is not RS256, RS384, RS512, ES256, ES384 or HS256"));
    }
    let mut redirect = |r: &mut Reader<'_>, name: &str| {
        r.opt_string(name).unwrap_or_else(|| {
            warnings.push(format!("{name} is not set: using '/' (B4)"));
            "/".into()
        })
    };
    let login_redirect_url = redirect(r, "LOGIN_REDIRECT_URL");
    let login_redirect_url_failure = redirect(r, "LOGIN_REDIRECT_URL_FAILURE");
    let logout_redirect_url = redirect(r, "LOGOUT_REDIRECT_URL");
    // B7: upstream HEAD reads the unprefixed name (it wins); the reference's DJANGO_-prefixed
    // name is still accepted for existing deployments.
    let fallback_to_email = if (r.lookup)("OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION").is_some() {
        r.bool("OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", false)
    } else {
        r.bool("DJANGO_OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", false)
    };
    let fullname_fields = match r.raw("OIDC_USERINFO_FULLNAME_FIELDS") {
        Some(v) => parse_list(&v),
        None => vec!["given_name".into(), "usual_name".into()],
    };
    OidcConfig {
        client_id: r.string("OIDC_RP_CLIENT_ID", "meet"),
        client_secret: r.string("OIDC_RP_CLIENT_SECRET", ""),
        sign_algo,
        scopes: r.string("OIDC_RP_SCOPES", "openid email"),
        issuer: r.opt_string("MEET_OIDC_ISSUER").map(|s| s.trim_end_matches('/').to_string()),
        authorization_endpoint: r.opt_string("OIDC_OP_AUTHORIZATION_ENDPOINT"),
        token_endpoint: r.opt_string("OIDC_OP_TOKEN_ENDPOINT"),
        userinfo_endpoint: r.opt_string("OIDC_OP_USER_ENDPOINT"),
        jwks_endpoint: r.opt_string("OIDC_OP_JWKS_ENDPOINT"),
        logout_endpoint: r.opt_string("OIDC_OP_LOGOUT_ENDPOINT"),
        auth_request_extra_params: r.dict("OIDC_AUTH_REQUEST_EXTRA_PARAMS", Map::new()),
        use_nonce: r.bool("OIDC_USE_NONCE", true),
        verify_ssl: r.bool("OIDC_VERIFY_SSL", true),
        store_id_token: r.bool("OIDC_STORE_ID_TOKEN", true),
        redirect_require_https: r.bool("OIDC_REDIRECT_REQUIRE_HTTPS", false),
        redirect_allowed_hosts: r.list("OIDC_REDIRECT_ALLOWED_HOSTS"),
        redirect_field_name: r.string("OIDC_REDIRECT_FIELD_NAME", "returnTo"),
        fullname_fields,
        essential_claims: r.raw("OIDC_USERINFO_ESSENTIAL_CLAIMS").map(|v| parse_list(&v)).unwrap_or_default(),
        shortname_field: r.string("OIDC_USERINFO_SHORTNAME_FIELD", "given_name"),
        create_user: r.bool("OIDC_CREATE_USER", true),
        fallback_to_email,
        login_redirect_url,
        login_redirect_url_failure,
        logout_redirect_url,
        allow_logout_get_method: r.bool("ALLOW_LOGOUT_GET_METHOD", true),
        timeout: Duration::from_secs(r.uint("MEET_OIDC_TIMEOUT", 5u64).max(1)),
        bearer_enabled: r.bool("MEET_OIDC_BEARER_ENABLED", false),
        userinfo_cache_ttl: Duration::from_secs(r.uint("MEET_OIDC_USERINFO_CACHE_SECONDS", 60u64)),
    }
}

pub(super) fn read_marketing(r: &mut Reader<'_>, warnings: &mut Vec<String>) -> MarketingConfig {
    if let Some(class) = r.opt_string("MARKETING_SERVICE_CLASS") {
        if class != "core.services.marketing.BrevoMarketingService" {
            warnings.push(format!("MARKETING_SERVICE_CLASS: '{class}' is not supported: Brevo is used"));
        }
    }
    let mut brevo_list_ids = Vec::new();
    for item in r.list("BREVO_API_CONTACT_LIST_IDS") {
        match item.parse() {
            Ok(n) => brevo_list_ids.push(n),
            Err(_) => r.errors.push(format!("BREVO_API_CONTACT_LIST_IDS: '{item}' is not an integer")),
        }
    }
    let mut default_attributes = Map::new();
    default_attributes.insert("VISIO_USER".into(), Value::Bool(true));
    MarketingConfig {
        signup_new_users: r.bool("SIGNUP_NEW_USER_TO_MARKETING_EMAIL", false),
        brevo_api_key: r.opt_string("BREVO_API_KEY"),
        brevo_list_ids,
        brevo_attributes: r.dict("DJANGO_BREVO_API_CONTACT_ATTRIBUTES", default_attributes),
        brevo_timeout: Duration::from_secs(r.uint("BREVO_API_TIMEOUT", 1u64).max(1)),
        brevo_api_url: r.string("MEET_BREVO_API_URL", "https://api.brevo.com/v3").trim_end_matches('/').to_string(),
    }
}

pub(super) fn describe_oidc(o: &OidcConfig, m: &mut BTreeMap<&'static str, String>) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    m.insert("OIDC_RP_CLIENT_ID", o.client_id.clone());
    m.insert("OIDC_RP_CLIENT_SECRET", if o.client_secret.is_empty() { String::new() } else { "***".into() });
    m.insert("OIDC_RP_SIGN_ALGO", o.sign_algo.clone());
    m.insert("OIDC_RP_SCOPES", o.scopes.clone());
    m.insert("MEET_OIDC_ISSUER", opt(&o.issuer));
    m.insert("OIDC_OP_AUTHORIZATION_ENDPOINT", opt(&o.authorization_endpoint));
    m.insert("OIDC_OP_TOKEN_ENDPOINT", opt(&o.token_endpoint));
    m.insert("OIDC_OP_USER_ENDPOINT", opt(&o.userinfo_endpoint));
    m.insert("OIDC_OP_JWKS_ENDPOINT", opt(&o.jwks_endpoint));
    m.insert("OIDC_OP_LOGOUT_ENDPOINT", opt(&o.logout_endpoint));
    m.insert("OIDC_AUTH_REQUEST_EXTRA_PARAMS", Value::Object(o.auth_request_extra_params.clone()).to_string());
    m.insert("OIDC_USE_NONCE", o.use_nonce.to_string());
    m.insert("OIDC_VERIFY_SSL", o.verify_ssl.to_string());
    m.insert("OIDC_STORE_ID_TOKEN", o.store_id_token.to_string());
    m.insert("OIDC_REDIRECT_REQUIRE_HTTPS", o.redirect_require_https.to_string());
    m.insert("OIDC_REDIRECT_ALLOWED_HOSTS", o.redirect_allowed_hosts.join(","));
    m.insert("OIDC_REDIRECT_FIELD_NAME", o.redirect_field_name.clone());
    m.insert("OIDC_USERINFO_FULLNAME_FIELDS", o.fullname_fields.join(","));
    m.insert("OIDC_USERINFO_ESSENTIAL_CLAIMS", o.essential_claims.join(","));
    m.insert("OIDC_USERINFO_SHORTNAME_FIELD", o.shortname_field.clone());
    m.insert("OIDC_CREATE_USER", o.create_user.to_string());
    m.insert("OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", o.fallback_to_email.to_string());
    m.insert("LOGIN_REDIRECT_URL", o.login_redirect_url.clone());
    m.insert("LOGIN_REDIRECT_URL_FAILURE", o.login_redirect_url_failure.clone());
    m.insert("LOGOUT_REDIRECT_URL", o.logout_redirect_url.clone());
    m.insert("ALLOW_LOGOUT_GET_METHOD", o.allow_logout_get_method.to_string());
    m.insert("MEET_OIDC_TIMEOUT", o.timeout.as_secs().to_string());
    m.insert("MEET_OIDC_BEARER_ENABLED", o.bearer_enabled.to_string());
    m.insert("MEET_OIDC_USERINFO_CACHE_SECONDS", o.userinfo_cache_ttl.as_secs().to_string());
}

pub(super) fn describe_marketing(k: &MarketingConfig, m: &mut BTreeMap<&'static str, String>) {
    m.insert("SIGNUP_NEW_USER_TO_MARKETING_EMAIL", k.signup_new_users.to_string());
    m.insert("BREVO_API_KEY", k.brevo_api_key.as_ref().map(|_| "***".to_string()).unwrap_or_default());
    m.insert("BREVO_API_CONTACT_LIST_IDS", k.brevo_list_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
    m.insert("DJANGO_BREVO_API_CONTACT_ATTRIBUTES", Value::Object(k.brevo_attributes.clone()).to_string());
    m.insert("BREVO_API_TIMEOUT", k.brevo_timeout.as_secs().to_string());
    m.insert("MEET_BREVO_API_URL", k.brevo_api_url.clone());
}

#[cfg(test)]
mod tests {
    use crate::config::from_pairs as cfg;

    #[test]
    fn b7_both_spellings_of_the_email_fallback_are_read() {
        assert!(!cfg(&[]).unwrap().oidc.fallback_to_email);
        assert!(cfg(&[("OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", "true")]).unwrap().oidc.fallback_to_email);
        assert!(cfg(&[("DJANGO_OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", "1")]).unwrap().oidc.fallback_to_email);
        let both = [
            ("OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", "false"),
            ("DJANGO_OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", "true"),
        ];
        assert!(!cfg(&both).unwrap().oidc.fallback_to_email, "the HEAD name wins");
    }

    #[test]
    fn b4_redirect_urls_default_to_slash_with_a_warning() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.oidc.login_redirect_url, "/");
        assert_eq!(c.oidc.logout_redirect_url, "/");
        assert!(c.warnings.iter().any(|w| w.contains("LOGIN_REDIRECT_URL_FAILURE")));
        assert!(c.oidc.create_user);
        assert!(cfg(&[("BREVO_API_CONTACT_LIST_IDS", "1,x")]).unwrap_err().to_string().contains("BREVO_API"));
    }
}
