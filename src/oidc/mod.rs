//! The OpenID Connect client of the relying party (users-auth-rooms §4): provider endpoints (from
//! `OIDC_OP_*`, or the discovery document of `MEET_OIDC_ISSUER`), the token request, ID-token
//! validation (signature with a cached JWKS refreshed on an unknown `kid`, `iss`, `aud`, `exp`,
//! `iat`, nonce: S2 fixed) and the userinfo call (signed JWT or JSON by content type, B6). Every
//! call to the provider is bounded by `MEET_OIDC_TIMEOUT`.

pub mod bearer;
pub mod jws;
pub mod provision;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, RwLock};

use crate::config::OidcConfig;
use jws::{Jwks, JwsError};

/// Clock skew tolerated on `exp` and `iat`, in seconds.
const LEEWAY_SECS: f64 = 60.0;

/// Failures of a provider call or of a token check. The text never holds a token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A needed endpoint or setting is missing.
    #[error("OIDC is not configured: {0}")]
    NotConfigured(&'static str),
    /// The provider could not be reached in time.
    #[error("identity provider unreachable: {0}")]
    Unavailable(String),
    /// The provider answered with an HTTP error.
    #[error("identity provider answered HTTP {status}")]
    Http { status: u16, www_authenticate: Option<String> },
    /// The provider's answer or a token is not acceptable.
    #[error("invalid answer or token: {0}")]
    Invalid(String),
    #[error(transparent)]
    Jws(#[from] JwsError),
}

/// The provider's endpoints in use.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub authorization: Option<String>,
    pub token: Option<String>,
    pub userinfo: Option<String>,
    pub jwks: Option<String>,
    pub end_session: Option<String>,
    /// The provider advertises PKCE with S256 (discovery only).
    pub pkce: bool,
}

#[derive(Deserialize)]
struct Discovery {
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    jwks_uri: Option<String>,
    end_session_endpoint: Option<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
}

/// The tokens of a successful token request.
#[derive(Deserialize)]
pub struct Tokens {
    pub id_token: Option<String>,
    pub access_token: Option<String>,
}

/// The OIDC client: cheap to clone, one per process.
#[derive(Clone)]
pub struct Oidc {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: OidcConfig,
    http: reqwest::Client,
    endpoints: RwLock<Option<Arc<Endpoints>>>,
    jwks: RwLock<Arc<Jwks>>,
    /// Serializes JWKS downloads so that concurrent misses share one fetch.
    jwks_fetch: Mutex<u64>,
}

/// Seconds since the epoch.
pub fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl Oidc {
    pub fn new(cfg: &OidcConfig) -> Oidc {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .tls_danger_accept_invalid_certs(!cfg.verify_ssl)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Oidc {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                http,
                endpoints: RwLock::new(None),
                jwks: RwLock::new(Arc::new(Jwks::default())),
                jwks_fetch: Mutex::new(0),
            }),
        }
    }

    pub fn config(&self) -> &OidcConfig {
        &self.inner.cfg
    }

    /// The HTTP client of every provider call (timeouts and TLS verification from the settings).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The endpoints: the `OIDC_OP_*` settings, completed by the discovery document when
    /// `MEET_OIDC_ISSUER` is set (fetched once, retried on the next call after a failure).
    pub async fn endpoints(&self) -> Result<Arc<Endpoints>, OidcError> {
        if let Some(e) = self.inner.endpoints.read().await.as_ref() {
            return Ok(e.clone());
        }
        let cfg = &self.inner.cfg;
        let mut e = Endpoints {
            authorization: cfg.authorization_endpoint.clone(),
            token: cfg.token_endpoint.clone(),
            userinfo: cfg.userinfo_endpoint.clone(),
            jwks: cfg.jwks_endpoint.clone(),
            end_session: cfg.logout_endpoint.clone(),
            pkce: false,
        };
        if let Some(issuer) = &cfg.issuer {
            let url = format!("{issuer}/.well-known/openid-configuration");
            let d: Discovery = self.get_json(&url).await?;
            e.authorization = e.authorization.or(d.authorization_endpoint);
            e.token = e.token.or(d.token_endpoint);
            e.userinfo = e.userinfo.or(d.userinfo_endpoint);
            e.jwks = e.jwks.or(d.jwks_uri);
            e.end_session = e.end_session.or(d.end_session_endpoint);
            e.pkce = d.code_challenge_methods_supported.iter().any(|m| m == "S256");
        }
        let e = Arc::new(e);
        *self.inner.endpoints.write().await = Some(e.clone());
        Ok(e)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let resp = crate::metrics::call("oidc", "get", self.inner.http.get(url).send()).await.map_err(transport)?;
        if !resp.status().is_success() {
            return Err(OidcError::Http { status: resp.status().as_u16(), www_authenticate: None });
        }
        let bytes = resp.bytes().await.map_err(transport)?;
        serde_json::from_slice(&bytes).map_err(|e| OidcError::Invalid(format!("{url}: {e}")))
    }

    /// The token request (authorization code grant, `client_secret_post`, PKCE verifier when used).
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> Result<Tokens, OidcError> {
        let endpoints = self.endpoints().await?;
        let url = endpoints.token.as_deref().ok_or(OidcError::NotConfigured("OIDC_OP_TOKEN_ENDPOINT"))?;
        let cfg = &self.inner.cfg;
        let mut form = vec![
            ("client_id", cfg.client_id.as_str()),
            ("client_secret", cfg.client_secret.as_str()),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(v) = code_verifier {
            form.push(("code_verifier", v));
        }
        let resp = crate::metrics::call("oidc", "token", self.inner.http.post(url).form(&form).send())
            .await
            .map_err(transport)?;
        if !resp.status().is_success() {
            return Err(OidcError::Http { status: resp.status().as_u16(), www_authenticate: None });
        }
        let bytes = resp.bytes().await.map_err(transport)?;
        serde_json::from_slice(&bytes).map_err(|e| OidcError::Invalid(format!("token response: {e}")))
    }

    /// Verifies a signed JWT's signature with the configured algorithm and key source.
    async fn verify_signature(&self, token: &jws::Jws) -> Result<(), OidcError> {
        let cfg = &self.inner.cfg;
        if cfg.sign_algo.starts_with("HS") {
            return Ok(token.verify_with_secret(&cfg.sign_algo, cfg.client_secret.as_bytes())?);
        }
        if token.header.alg != cfg.sign_algo {
            return Err(JwsError::WrongAlgorithm(token.header.alg.clone()).into());
        }
        let jwks = self.inner.jwks.read().await.clone();
        if let Some(key) = jwks.find(&token.header) {
            return Ok(token.verify_with_jwk(&cfg.sign_algo, key)?);
        }
        // Unknown kid: the provider may have rotated its keys.
        let jwks = self.refresh_jwks(&jwks).await?;
        let key = jwks.find(&token.header).ok_or(JwsError::NoKey)?;
        Ok(token.verify_with_jwk(&cfg.sign_algo, key)?)
    }

    /// Downloads the JWKS unless another task replaced `seen` meanwhile.
    async fn refresh_jwks(&self, seen: &Arc<Jwks>) -> Result<Arc<Jwks>, OidcError> {
        let mut generation = self.inner.jwks_fetch.lock().await;
        let current = self.inner.jwks.read().await.clone();
        if !Arc::ptr_eq(&current, seen) {
            return Ok(current);
        }
        let endpoints = self.endpoints().await?;
        let url = endpoints.jwks.as_deref().ok_or(OidcError::NotConfigured("OIDC_OP_JWKS_ENDPOINT"))?;
        let fresh: Arc<Jwks> = Arc::new(self.get_json(url).await?);
        *self.inner.jwks.write().await = fresh.clone();
        *generation += 1;
        Ok(fresh)
    }

    /// Validates an ID token (S2 fixed): signature, `iss` when `MEET_OIDC_ISSUER` is set, `aud`
    /// containing the client id, `exp`, `iat`, and the nonce when `OIDC_USE_NONCE`.
    pub async fn validate_id_token(&self, raw: &str, nonce: Option<&str>) -> Result<Map<String, Value>, OidcError> {
        let token = jws::parse(raw)?;
        self.verify_signature(&token).await?;
        let cfg = &self.inner.cfg;
        let c = &token.claims;
        if let Some(issuer) = &cfg.issuer {
            let iss = c.get("iss").and_then(Value::as_str).unwrap_or("");
            if iss.trim_end_matches('/') != issuer {
                return Err(OidcError::Invalid("ID token issuer mismatch".into()));
            }
        }
        let aud_ok = match c.get("aud") {
            Some(Value::String(a)) => *a == cfg.client_id,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(cfg.client_id.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err(OidcError::Invalid("ID token audience is not this client".into()));
        }
        let now = now_secs();
        match c.get("exp").and_then(Value::as_f64) {
            Some(exp) if now <= exp + LEEWAY_SECS => {}
            _ => return Err(OidcError::Invalid("ID token expired or without exp".into())),
        }
        if c.get("iat").and_then(Value::as_f64).is_some_and(|iat| iat > now + LEEWAY_SECS) {
            return Err(OidcError::Invalid("ID token issued in the future".into()));
        }
        if cfg.use_nonce {
            let got = c.get("nonce").and_then(Value::as_str).unwrap_or("");
            let want = nonce.unwrap_or("");
            if want.is_empty() || !crate::domain::secret_eq(got.as_bytes(), want.as_bytes()) {
                return Err(OidcError::Invalid("JWT Nonce verification failed.".into()));
            }
        }
        Ok(token.claims)
    }

    /// Verifies the signature of a back-channel logout token (RS256 or ES256, a key of the
    /// provider's JWKS) and returns its claims; the claim checks are the caller's.
    pub async fn verify_logout_token(&self, raw: &str) -> Result<Map<String, Value>, OidcError> {
        let token = jws::parse(raw)?;
        if !matches!(token.header.alg.as_str(), "RS256" | "ES256") {
            return Err(JwsError::WrongAlgorithm(token.header.alg.clone()).into());
        }
        self.verify_signature(&token).await?;
        Ok(token.claims)
    }

    /// Calls userinfo with `access_token`. A signed JWT answer (`application/jwt`) is verified like
    /// an ID token's signature (its `nonce`, if any, is ignored: B6); a JSON answer is taken as is.
    pub async fn userinfo(&self, access_token: &str) -> Result<Map<String, Value>, OidcError> {
        let endpoints = self.endpoints().await?;
        let url = endpoints.userinfo.as_deref().ok_or(OidcError::NotConfigured("OIDC_OP_USER_ENDPOINT"))?;
        let send = self.inner.http.get(url).bearer_auth(access_token).send();
        let resp = crate::metrics::call("oidc", "userinfo", send).await.map_err(transport)?;
        let status = resp.status();
        if !status.is_success() {
            let www_authenticate =
                resp.headers().get(reqwest::header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).map(str::to_string);
            return Err(OidcError::Http { status: status.as_u16(), www_authenticate });
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = resp.bytes().await.map_err(transport)?;
        let text = std::str::from_utf8(&body).map_err(|_| OidcError::Invalid("userinfo is not UTF-8".into()))?.trim();
        let is_jwt = content_type.contains("jwt")
            || (!content_type.contains("json") && text.split('.').count() == 3 && !text.starts_with('{'));
        if is_jwt {
            let token = jws::parse(text)?;
            self.verify_signature(&token).await?;
            return Ok(token.claims);
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(OidcError::Invalid("userinfo is neither a JSON object nor a signed JWT".into())),
        }
    }
}

pub(crate) fn transport(e: reqwest::Error) -> OidcError {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    // Without the URL: it may carry a query string.
    OidcError::Unavailable(kind.to_string())
}

/// The `error_description` of a `WWW-Authenticate: Bearer error="…", error_description="…"` value.
pub fn error_description(www_authenticate: &str) -> Option<String> {
    let start = www_authenticate.find("error_description=")? + "error_description=".len();
    let rest = &www_authenticate[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"')?;
        Some(quoted[..end].to_string())
    } else {
        Some(rest.split([',', ' ']).next().unwrap_or("").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::error_description;

    #[test]
    fn error_descriptions_are_read_from_www_authenticate() {
        assert_eq!(
            error_description(r#"Bearer error="invalid_token", error_description="Token expired""#).as_deref(),
            Some("Token expired")
        );
        assert_eq!(error_description(r#"Bearer error="invalid_token""#), None);
        assert_eq!(error_description("Bearer error_description=short").as_deref(), Some("short"));
    }
}
