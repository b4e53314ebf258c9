//! Identity-provider settings added at upstream HEAD (now-external-api §16.3, §16.4, §10.1): the
//! resource server that checks identity-provider access tokens on the external API by
//! introspection (RFC 7662), and the switch that lets logins write a user's `sub`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{parse_list, Reader};

/// Resource-server and provisional-user settings.
#[derive(Clone, Debug)]
pub struct IdpConfig {
    /// `OIDC_OP_URL`: the provider's issuer; `iss` of introspection answers must equal it.
    /// Required (with the three next ones) for the resource server. Default none.
    pub op_url: Option<String>,
    /// `OIDC_OP_INTROSPECTION_ENDPOINT`. Default none.
    pub introspection_endpoint: Option<String>,
    /// `OIDC_RS_CLIENT_ID`: the client id sent with introspection requests. Default `meet`.
    pub rs_client_id: String,
    /// `OIDC_RS_CLIENT_SECRET` (or `_FILE`). Default none.
    pub rs_client_secret: Option<String>,
    /// `OIDC_RS_AUDIENCE_CLAIM`: claim of the introspection answer that must be non-empty (the
    /// calling client, logged). Default `client_id`.
    pub rs_audience_claim: String,
    /// `OIDC_RS_SCOPES`: at least one must be in the token's scope. Default `lasuite_meet`.
    pub rs_scopes: Vec<String>,
    /// `MEET_OIDC_RS_REQUIRED_AUDIENCE`: when set, the introspection answer's `aud` must contain
    /// it (W17 opt-in). Default none (upstream: any client's token with the scope is accepted).
    pub rs_required_audience: Option<String>,
    /// `MEET_OIDC_RS_CACHE_SECONDS`: how long a positive introspection answer is reused (W16),
    /// never beyond the token's `exp`. Default 60; 0 disables the cache.
    pub rs_cache_ttl: Duration,
    /// `OIDC_USER_SUB_FIELD_IMMUTABLE`: upstream's switch that must be false for provisional
    /// users (§10.1). `meet` fills only an empty `sub` at login whatever its value (W27). Default true.
    pub sub_field_immutable: bool,
}

impl IdpConfig {
    /// True when the resource server can run (W15: otherwise it is skipped).
    pub fn resource_server_configured(&self) -> bool {
        self.op_url.is_some() && self.introspection_endpoint.is_some() && self.rs_client_secret.is_some()
    }
}

pub(super) fn read(r: &mut Reader<'_>) -> IdpConfig {
    let rs_scopes = match r.raw("OIDC_RS_SCOPES") {
        Some(v) => parse_list(&v),
        None => vec!["lasuite_meet".to_string()],
    };
    let c = IdpConfig {
        op_url: r.opt_string("OIDC_OP_URL"),
        introspection_endpoint: r.opt_string("OIDC_OP_INTROSPECTION_ENDPOINT"),
        rs_client_id: r.string("OIDC_RS_CLIENT_ID", "meet"),
        rs_client_secret: r.opt_string("OIDC_RS_CLIENT_SECRET"),
        rs_audience_claim: r.string("OIDC_RS_AUDIENCE_CLAIM", "client_id"),
        rs_scopes,
        rs_required_audience: r.opt_string("MEET_OIDC_RS_REQUIRED_AUDIENCE"),
        rs_cache_ttl: Duration::from_secs(r.uint("MEET_OIDC_RS_CACHE_SECONDS", 60u64)),
        sub_field_immutable: r.bool("OIDC_USER_SUB_FIELD_IMMUTABLE", true),
    };
    if c.introspection_endpoint.is_some() && c.rs_client_secret.is_none() {
        r.errors.push("OIDC_RS_CLIENT_SECRET: required when OIDC_OP_INTROSPECTION_ENDPOINT is set".into());
    }
    if c.introspection_endpoint.is_some() && c.op_url.is_none() {
        r.errors.push("OIDC_OP_URL: required when OIDC_OP_INTROSPECTION_ENDPOINT is set".into());
    }
    if c.rs_client_id.is_empty() {
        r.errors.push("OIDC_RS_CLIENT_ID: must not be empty".into());
    }
    c
}

pub(super) fn describe(c: &IdpConfig, m: &mut BTreeMap<&'static str, String>) {
    m.insert("OIDC_OP_URL", c.op_url.clone().unwrap_or_default());
    m.insert("OIDC_OP_INTROSPECTION_ENDPOINT", c.introspection_endpoint.clone().unwrap_or_default());
    m.insert("OIDC_RS_CLIENT_ID", c.rs_client_id.clone());
    m.insert("OIDC_RS_CLIENT_SECRET", c.rs_client_secret.as_ref().map(|_| "***".to_string()).unwrap_or_default());
    m.insert("OIDC_RS_AUDIENCE_CLAIM", c.rs_audience_claim.clone());
    m.insert("OIDC_RS_SCOPES", c.rs_scopes.join(","));
    m.insert("MEET_OIDC_RS_REQUIRED_AUDIENCE", c.rs_required_audience.clone().unwrap_or_default());
    m.insert("MEET_OIDC_RS_CACHE_SECONDS", c.rs_cache_ttl.as_secs().to_string());
    m.insert("OIDC_USER_SUB_FIELD_IMMUTABLE", c.sub_field_immutable.to_string());
}

#[cfg(test)]
mod tests {
    use crate::config::from_pairs;

    #[test]
    fn resource_server_is_off_by_default_and_checked_when_half_configured() {
        let c = from_pairs(&[]).unwrap().idp;
        assert!(!c.resource_server_configured());
        assert_eq!((c.rs_client_id.as_str(), c.rs_scopes.clone()), ("meet", vec!["lasuite_meet".to_string()]));
        let e = from_pairs(&[("OIDC_OP_INTROSPECTION_ENDPOINT", "http://idp/introspect")]).unwrap_err();
        assert!(e.0.iter().any(|m| m.starts_with("OIDC_RS_CLIENT_SECRET")), "{e:?}");
        assert!(e.0.iter().any(|m| m.starts_with("OIDC_OP_URL")), "{e:?}");
    }
}
