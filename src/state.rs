//! Shared application state. Handlers and layers clone it on every request, so it is one `Arc`:
//! a clone is a reference-count increment, whatever the state holds.

use std::sync::Arc;

use crate::cache::Cache;
use crate::config::Config;
use crate::sessions::Sessions;
use crate::store::Db;

/// The application state: a cheap handle on [`State`].
#[derive(Clone)]
pub struct AppState(Arc<State>);

impl std::ops::Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

/// Everything the services need, built once at start.
pub struct State {
    pub config: Arc<Config>,
    pub db: Db,
    pub cache: Cache,
    pub sessions: Sessions,
    pub livekit: crate::livekit::LiveKit,
    /// SMTP sender of the recording e-mails.
    pub mailer: crate::mail::Mailer,
    /// Signed `HEAD`s on the recordings bucket.
    pub s3: crate::s3::S3,
    /// Compiled `DJANGO_CORS_ALLOWED_ORIGIN_REGEXES`.
    pub cors_regexes: Arc<Vec<regex::Regex>>,
    /// The body of `GET /api/v1.0/config/`, serialized once.
    pub frontend_config: axum::body::Bytes,
    /// The OIDC client (login, bearer tokens).
    pub oidc: crate::oidc::Oidc,
    /// The marketing sign-up service.
    pub marketing: crate::marketing::Marketing,
}

impl AppState {
    pub fn new(config: Config, db: Db, cache: Cache) -> AppState {
        let cors_regexes =
            config.cors_allowed_origin_regexes.iter().filter_map(|r| regex::Regex::new(r).ok()).collect();
        let frontend_config = axum::body::Bytes::from(config.frontend_config().to_string());
        AppState(Arc::new(State {
            oidc: crate::oidc::Oidc::new(&config.oidc),
            marketing: crate::marketing::Marketing::new(&config.marketing),
            frontend_config,
            sessions: Sessions::new(db.clone(), cache.clone(), config.ops.session_cache_ttl),
            livekit: crate::livekit::LiveKit::new(&config),
            mailer: crate::mail::Mailer::new(&config.recording.email),
            s3: crate::s3::S3::new(&config.recording.s3),
            config: Arc::new(config),
            db,
            cache,
            cors_regexes: Arc::new(cors_regexes),
        }))
    }
}
