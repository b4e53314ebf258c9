//! An OpenID Connect provider double speaking the real protocol: discovery, JWKS (RS256 keys,
//! rotatable), authorization endpoint (codes, `prompt=none`, PKCE), token endpoint
//! (`client_secret_post`, single-use codes, signed ID tokens), userinfo (JSON or signed JWT) and
//! end-session. Tests script the logged-in person, failures, delays and token tampering, and read
//! back what was called.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_SHA256};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::oidc_keys;

pub const CLIENT_ID: &str = "meet";
pub const CLIENT_SECRET: &str = "test-client-secret";
/// Credentials of the resource server at the introspection endpoint.
pub const RS_CLIENT_ID: &str = "meet-rs";
pub const RS_CLIENT_SECRET: &str = "test-rs-secret";

/// How userinfo answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserinfoFormat {
    Json,
    Jwt,
}

/// The scriptable state of the double.
pub struct Script {
    /// Claims of the person logged in at the provider (used for the next authorization).
    pub user: Value,
    /// No provider session: `prompt=none` answers `error=login_required`.
    pub no_session: bool,
    /// Claims merged into the next ID tokens (`null` removes a claim).
    pub id_token_overrides: Map<String, Value>,
    /// Corrupts the ID token signature.
    pub tamper_id_token_signature: bool,
    pub userinfo_format: UserinfoFormat,
    /// Extra claims added to userinfo answers (e.g. `nonce`).
    pub userinfo_extra: Map<String, Value>,
    /// `(status, WWW-Authenticate)` answered by userinfo instead of the claims.
    pub userinfo_failure: Option<(u16, Option<String>)>,
    /// Status answered by the token endpoint instead of tokens.
    pub token_failure: Option<u16>,
    /// Delay before answering token and userinfo requests.
    pub delay: Duration,
    /// Advertise PKCE (S256) in discovery.
    pub pkce: bool,
    /// The key signing new tokens (`kid`), and the kids published in the JWKS.
    pub signing_kid: String,
    pub published_kids: Vec<String>,
    // Read back by tests.
    pub jwks_fetches: u32,
    pub userinfo_calls: u32,
    pub token_calls: u32,
    pub last_authorize: HashMap<String, String>,
    pub last_token_form: HashMap<String, String>,
    pub end_session_calls: Vec<HashMap<String, String>>,
    /// Status answered by the introspection endpoint instead of the token's description.
    pub introspection_failure: Option<u16>,
    /// The form of every introspection request, in order.
    pub introspection_calls: Vec<HashMap<String, String>>,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, Value>,
    introspections: HashMap<String, Value>,
}

#[derive(Clone)]
struct Grant {
    claims: Value,
    nonce: Option<String>,
    redirect_uri: String,
    challenge: Option<String>,
}

struct Inner {
    base: String,
    keys: HashMap<String, RsaKeyPair>,
    script: Mutex<Script>,
}

/// A running provider double.
#[derive(Clone)]
pub struct Idp {
    pub base: String,
    inner: Arc<Inner>,
}

fn key_from_pem(pem: &str) -> RsaKeyPair {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----") && !l.trim().is_empty()).collect();
    let der = STANDARD.decode(body).expect("test key PEM");
    RsaKeyPair::from_pkcs8(&der).expect("test key PKCS#8")
}

fn random() -> String {
    meet::domain::random_token(24)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Idp {
    pub async fn start() -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind idp");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let mut keys = HashMap::new();
        keys.insert("k1".to_string(), key_from_pem(oidc_keys::KEY1));
        keys.insert("k2".to_string(), key_from_pem(oidc_keys::KEY2));
        let script = Script {
            user: json!({"sub": "user-1", "email": "john.doe@example.com", "given_name": "John", "usual_name": "Doe"}),
            no_session: false,
            id_token_overrides: Map::new(),
            tamper_id_token_signature: false,
            userinfo_format: UserinfoFormat::Jwt,
            userinfo_extra: Map::new(),
            userinfo_failure: None,
            token_failure: None,
            delay: Duration::ZERO,
            pkce: false,
            signing_kid: "k1".into(),
            published_kids: vec!["k1".into()],
            jwks_fetches: 0,
            userinfo_calls: 0,
            token_calls: 0,
            last_authorize: HashMap::new(),
            last_token_form: HashMap::new(),
            end_session_calls: Vec::new(),
            introspection_failure: None,
            introspection_calls: Vec::new(),
            codes: HashMap::new(),
            access_tokens: HashMap::new(),
            introspections: HashMap::new(),
        };
        let inner = Arc::new(Inner { base: base.clone(), keys, script: Mutex::new(script) });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/logout", get(end_session))
            .route("/introspect", post(introspect))
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Idp { base, inner }
    }

    /// Changes the script.
    pub fn with<R>(&self, f: impl FnOnce(&mut Script) -> R) -> R {
        f(&mut self.inner.script.lock().unwrap())
    }

    /// Sets the person logged in at the provider.
    pub fn set_user(&self, claims: Value) {
        self.with(|s| s.user = claims);
    }

    /// An access token the provider will accept at userinfo for `claims`.
    pub fn access_token_for(&self, claims: Value) -> String {
        let t = random();
        self.with(|s| s.access_tokens.insert(t.clone(), claims));
        t
    }

    /// An opaque access token (never valid base64: it holds a `-`) whose introspection answers
    /// `description` (RFC 7662); unknown tokens are `{"active": false}`.
    pub fn introspectable(&self, description: Value) -> String {
        let t = format!("rs-{}", random());
        self.with(|s| s.introspections.insert(t.clone(), description));
        t
    }

    /// The settings of the resource server pointing at this provider's introspection endpoint.
    pub fn rs_vars(&self) -> Vec<(String, String)> {
        [
            ("OIDC_OP_URL", self.base.clone()),
            ("OIDC_OP_INTROSPECTION_ENDPOINT", format!("{}/introspect", self.base)),
            ("OIDC_RS_CLIENT_ID", RS_CLIENT_ID.into()),
            ("OIDC_RS_CLIENT_SECRET", RS_CLIENT_SECRET.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The app settings pointing at this provider (explicit endpoints, no discovery).
    pub fn vars(&self) -> Vec<(String, String)> {
        let b = &self.base;
        [
            ("OIDC_OP_AUTHORIZATION_ENDPOINT", format!("{b}/authorize")),
            ("OIDC_OP_TOKEN_ENDPOINT", format!("{b}/token")),
            ("OIDC_OP_USER_ENDPOINT", format!("{b}/userinfo")),
            ("OIDC_OP_JWKS_ENDPOINT", format!("{b}/jwks")),
            ("OIDC_RP_CLIENT_ID", CLIENT_ID.into()),
            ("OIDC_RP_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("LOGIN_REDIRECT_URL", "/home".into()),
            ("LOGIN_REDIRECT_URL_FAILURE", "/failure".into()),
            ("LOGOUT_REDIRECT_URL", "/bye".into()),
            ("MEET_OIDC_TIMEOUT", "1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Signs `claims` as a JWT with the current signing key.
    pub fn sign(&self, claims: &Value) -> String {
        let kid = self.with(|s| s.signing_kid.clone());
        sign(&self.inner, &kid, claims)
    }
}

fn sign(inner: &Inner, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let key = &inner.keys[kid];
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig).expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

async fn discovery(State(inner): State<Arc<Inner>>) -> Json<Value> {
    let b = &inner.base;
    let pkce = inner.script.lock().unwrap().pkce;
    let mut doc = json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "userinfo_endpoint": format!("{b}/userinfo"),
        "jwks_uri": format!("{b}/jwks"),
        "end_session_endpoint": format!("{b}/logout"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    if pkce {
        doc["code_challenge_methods_supported"] = json!(["S256"]);
    }
    Json(doc)
}

async fn jwks(State(inner): State<Arc<Inner>>) -> Json<Value> {
    let mut s = inner.script.lock().unwrap();
    s.jwks_fetches += 1;
    let keys: Vec<Value> = s
        .published_kids
        .iter()
        .map(|kid| {
            let c = RsaPublicKeyComponents::<Vec<u8>>::from(inner.keys[kid].public());
            json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                   "n": URL_SAFE_NO_PAD.encode(&c.n), "e": URL_SAFE_NO_PAD.encode(&c.e)})
        })
        .collect();
    Json(json!({ "keys": keys }))
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

async fn authorize(State(inner): State<Arc<Inner>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut s = inner.script.lock().unwrap();
    s.last_authorize = q.clone();
    let (Some(redirect_uri), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
        return (StatusCode::BAD_REQUEST, "missing redirect_uri or state").into_response();
    };
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || q.get("response_type").map(String::as_str) != Some("code")
    {
        return (StatusCode::BAD_REQUEST, "bad client_id or response_type").into_response();
    }
    let mut target = url::Url::parse(redirect_uri).expect("redirect_uri is a URL");
    if q.get("prompt").map(String::as_str) == Some("none") && s.no_session {
        target.query_pairs_mut().append_pair("error", "login_required").append_pair("state", state);
        return redirect(target.as_str());
    }
    let code = random();
    let grant = Grant {
        claims: s.user.clone(),
        nonce: q.get("nonce").cloned(),
        redirect_uri: redirect_uri.clone(),
        challenge: q.get("code_challenge").cloned(),
    };
    s.codes.insert(code.clone(), grant);
    target.query_pairs_mut().append_pair("code", &code).append_pair("state", state);
    redirect(target.as_str())
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

async fn token(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    let f: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let delay = {
        let mut s = inner.script.lock().unwrap();
        s.token_calls += 1;
        s.last_token_form = f.clone();
        s.delay
    };
    tokio::time::sleep(delay).await;
    let mut s = inner.script.lock().unwrap();
    if let Some(status) = s.token_failure {
        return oauth_error(StatusCode::from_u16(status).unwrap(), "server_error");
    }
    let get = |k: &str| f.get(k).map(String::as_str);
    if get("client_id") != Some(CLIENT_ID) || get("client_secret") != Some(CLIENT_SECRET) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if get("grant_type") != Some("authorization_code") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // Codes are single-use.
    let Some(grant) = get("code").and_then(|c| s.codes.remove(c)) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if get("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    if let Some(challenge) = &grant.challenge {
        let ok =
            get("code_verifier").is_some_and(|v| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == *challenge);
        if !ok {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
    }
    let mut claims = json!({
        "iss": inner.base, "sub": grant.claims["sub"], "aud": CLIENT_ID,
        "exp": now() + 300, "iat": now(), "auth_time": now(),
    });
    if let Some(n) = grant.nonce {
        claims["nonce"] = Value::String(n);
    }
    for (k, v) in &s.id_token_overrides {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    let mut id_token = sign(&inner, &s.signing_kid, &claims);
    if s.tamper_id_token_signature {
        let cut = id_token.len() - 6;
        id_token.replace_range(cut.., "AAAAAA");
    }
    let access_token = random();
    s.access_tokens.insert(access_token.clone(), grant.claims);
    Json(json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}))
        .into_response()
}

async fn userinfo(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let delay = {
        let mut s = inner.script.lock().unwrap();
        s.userinfo_calls += 1;
        s.delay
    };
    tokio::time::sleep(delay).await;
    let s = inner.script.lock().unwrap();
    if let Some((status, www)) = &s.userinfo_failure {
        let mut r = (StatusCode::from_u16(*status).unwrap(), "error").into_response();
        if let Some(w) = www {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, w.parse().unwrap());
        }
        return r;
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let Some(claims) = s.access_tokens.get(token) else {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Bearer error=\"invalid_token\", error_description=\"Unknown token\"".parse().unwrap(),
        );
        return r;
    };
    let mut claims = claims.clone();
    for (k, v) in &s.userinfo_extra {
        claims[k] = v.clone();
    }
    match s.userinfo_format {
        UserinfoFormat::Json => Json(claims).into_response(),
        UserinfoFormat::Jwt => {
            let jwt = sign(&inner, &s.signing_kid, &claims);
            ([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response()
        }
    }
}

async fn end_session(State(inner): State<Arc<Inner>>, Query(q): Query<HashMap<String, String>>) -> Response {
    inner.script.lock().unwrap().end_session_calls.push(q);
    (StatusCode::OK, "logged out at the provider").into_response()
}

/// RFC 7662 token introspection: client credentials in the form (`client_secret_post`), the
/// scripted description of a known token, `{"active": false}` otherwise.
async fn introspect(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let f: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut s = inner.script.lock().unwrap();
    s.introspection_calls.push(f.clone());
    if let Some(status) = s.introspection_failure {
        return oauth_error(StatusCode::from_u16(status).unwrap(), "server_error");
    }
    let form =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) == Some("application/x-www-form-urlencoded");
    if !form {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let get = |k: &str| f.get(k).map(String::as_str);
    if get("client_id") != Some(RS_CLIENT_ID) || get("client_secret") != Some(RS_CLIENT_SECRET) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let answer = get("token").and_then(|t| s.introspections.get(t)).cloned().unwrap_or(json!({"active": false}));
    Json(answer).into_response()
}
