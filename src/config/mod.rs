//! Settings: Meet's environment variable names and parsing rules (users-auth-rooms §7), plus the
//! `MEET_`-prefixed additions of this implementation. `Config::from_lookup` reads every variable
//! once, reports ALL problems at once (each naming its variable), and never panics.

pub mod addons;
pub mod auth;
pub mod external;
pub mod files;
pub mod idp;
pub mod incall;
pub mod ops;
pub mod pyliteral;
pub mod recording;
pub mod rooms;

pub use auth::{MarketingConfig, OidcConfig};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

/// Which relational database backs the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://…` (the embedded default: `<MEET_DATA_DIR>/meet.sqlite3`).
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl DatabaseUrl {
    /// The URL with any password replaced by `***`, for logs and `check-config`.
    pub fn masked(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(u) => u.clone(),
            DatabaseUrl::Postgres(u) => mask_url_password(u),
        }
    }
}

/// A throttle rate such as `150/minute` (users-auth-rooms §5.12: only the period's first letter counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub requests: u32,
    pub period: Duration,
}

impl Rate {
    pub fn parse(s: &str) -> Result<Rate, String> {
        let (n, period) = s.trim().split_once('/').ok_or("expected <number>/<period>")?;
        let requests: u32 = n.trim().parse().map_err(|_| "the number of requests is not an integer")?;
        let secs = match period.trim().chars().next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86400,
            _ => return Err("the period must start with s, m, h or d".into()),
        };
        Ok(Rate { requests, period: Duration::from_secs(secs) })
    }
}

/// Output format of the logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Every setting of the service. Each field names its variable and default.
#[derive(Clone, Debug)]
pub struct Config {
    /// `MEET_BIND` (or `meet serve --bind`): listen address. Default `127.0.0.1:8071`.
    pub bind: SocketAddr,
    /// `MEET_DATA_DIR`: folder of the embedded database and the generated secret. Default `.`.
    pub data_dir: PathBuf,
    /// `DATABASE_URL` (or Meet's `DB_ENGINE`, `DB_NAME`, `DB_USER`, `DB_PASSWORD`, `DB_HOST`,
    /// `DB_PORT` when `DB_HOST` or `DB_NAME` is set). Default: SQLite file in `MEET_DATA_DIR`.
    pub database: DatabaseUrl,
    /// `MEET_DB_POOL_SIZE`: connections per instance. Default 20 (PostgreSQL), 8 (SQLite).
    pub db_pool_size: u32,
    /// `REDIS_URL`: cache, sessions, throttles, lobby. Default: in-process cache.
    pub redis_url: Option<String>,
    /// `MEET_CACHE_PREFIX`: prefix of every cache key. Default `meet:`.
    pub cache_prefix: String,
    /// `DJANGO_SECRET_KEY` (or `DJANGO_SECRET_KEY_FILE`). Default: generated once and stored in
    /// `<MEET_DATA_DIR>/secret_key`.
    pub secret_key: String,
    /// `DJANGO_LANGUAGE_CODE`. Default `en-us`.
    pub language_code: String,
    /// `DJANGO_CSRF_TRUSTED_ORIGINS` (comma list). Default none.
    pub csrf_trusted_origins: Vec<String>,
    /// `DJANGO_CORS_ALLOW_ALL_ORIGINS`. Default **false** (same-origin only; S7).
    pub cors_allow_all_origins: bool,
    /// `DJANGO_CORS_ALLOWED_ORIGINS` (comma list). Default none.
    pub cors_allowed_origins: Vec<String>,
    /// `DJANGO_CORS_ALLOWED_ORIGIN_REGEXES` (comma list of regexes). Default none.
    pub cors_allowed_origin_regexes: Vec<String>,
    /// `MEET_TRUST_X_FORWARDED_PROTO`: take the request scheme from `X-Forwarded-Proto`, as Meet's
    /// production configuration does behind its TLS proxy. Default true.
    pub trust_forwarded_proto: bool,
    /// `MEET_SECURE_COOKIES`: `Secure` flag on `sessionid` and `csrftoken`. Default false.
    pub secure_cookies: bool,
    /// `MEET_MAX_BODY_BYTES`: largest accepted request body. Default 2,621,440 (Django's 2.5 MB).
    pub max_body_bytes: usize,
    /// `MEET_LOG_FORMAT`: `text` or `json`. Default `text`. The filter comes from `RUST_LOG`.
    pub log_format: LogFormat,
    /// `RECORDING_ENABLE`. Default false.
    pub recording_enable: bool,
    /// `RECORDING_WORKER_CLASSES` (dict): its keys, in order, are the available modes.
    pub recording_worker_classes: Map<String, Value>,
    /// `FRONTEND_ANALYTICS` (dict). Default `{}`.
    pub frontend_analytics: Map<String, Value>,
    /// `FRONTEND_SUPPORT` (dict). Default `{}`.
    pub frontend_support: Map<String, Value>,
    /// `FRONTEND_SILENCE_LIVEKIT_DEBUG`. Default false.
    pub frontend_silence_livekit_debug: bool,
    /// `LIVEKIT_API_URL`. Default none (`null` in room payloads).
    pub livekit_api_url: Option<String>,
    /// `LIVEKIT_API_KEY`. Default `devkey` (development only, warned).
    pub livekit_api_key: String,
    /// `LIVEKIT_API_SECRET` (or `_FILE`). Default a development secret (warned).
    pub livekit_api_secret: String,
    /// `MEET_LIVEKIT_TIMEOUT` (seconds): bound on each LiveKit server call. Default 3.
    pub livekit_timeout: Duration,
    /// `LOBBY_KEY_PREFIX`. Default `room_lobby`.
    pub lobby_key_prefix: String,
    /// `LOBBY_WAITING_TIMEOUT` (seconds, at least 1). Default 3.
    pub lobby_waiting_timeout: Duration,
    /// `LOBBY_DENIED_TIMEOUT` (seconds, at least 1). Default 5.
    pub lobby_denied_timeout: Duration,
    /// `LOBBY_ACCEPTED_TIMEOUT` (seconds, at least 1). Default 21600.
    pub lobby_accepted_timeout: Duration,
    /// `LOBBY_NOTIFICATION_TYPE`. Default `participantWaiting`.
    pub lobby_notification_type: String,
    /// `LOBBY_COOKIE_NAME`. Default `lobbyParticipantId`.
    pub lobby_cookie_name: String,
    /// `MEET_LOBBY_USERNAME_MAX_LENGTH`: longest accepted lobby `username` (S-LK4). Default 255.
    pub lobby_username_max_length: usize,
    /// `RESOURCE_DEFAULT_ACCESS_LEVEL`: `public`, `trusted` or `restricted`. Default `public`.
    pub resource_default_access_level: String,
    /// `ALLOW_UNREGISTERED_ROOMS`. Default true.
    pub allow_unregistered_rooms: bool,
    /// `ROOM_CREATION_CALLBACK_CACHE_TIMEOUT` (seconds). Default 600.
    pub room_creation_callback_cache_timeout: u64,
    /// `REQUEST_ENTRY_THROTTLE_RATES`. Default `150/minute`.
    pub request_entry_throttle_rate: Rate,
    /// `CREATION_CALLBACK_THROTTLE_RATES`. Default `600/minute`.
    pub creation_callback_throttle_rate: Rate,
    /// `MEET_TRUSTED_PROXIES`: how many proxies in front of us append to `X-Forwarded-For`; the
    /// throttle identity is the address they saw (S4). Default 0: the peer address.
    pub trusted_proxies: usize,
    /// `ALLOW_UNSECURE_USER_LISTING`. Default false.
    pub allow_unsecure_user_listing: bool,
    /// OIDC relying party and provisioning settings (users-auth-rooms §4, §7.2).
    pub oidc: OidcConfig,
    /// Marketing sign-up settings (users-auth-rooms §6.1).
    pub marketing: MarketingConfig,
    /// Recording pipeline settings (recordings §9).
    pub recording: recording::RecordingConfig,
    /// Rooms, in-call and frontend settings at upstream HEAD (now-rooms §20).
    pub rooms: rooms::RoomsConfig,
    /// In-call integrations: invitations, subtitles, roomkit, diagnostics (now-rooms §8–§12).
    pub incall: incall::InCallConfig,
    /// The external API and its applications (now-external-api §16.1).
    pub external_api: external::ExternalApiConfig,
    /// Add-on sessions of the Outlook add-in (now-external-api §16.2).
    pub addons: addons::AddonsConfig,
    /// Resource server and provisional-user switches (now-external-api §16.3, §16.4).
    pub idp: idp::IdpConfig,
    /// File uploads and their cleanup (now-recordings-files §26.2).
    pub files: files::FilesConfig,
    /// Metrics endpoint and scheduled jobs.
    pub ops: ops::OpsConfig,
    /// Problems found when reading the settings (empty when valid).
    pub warnings: Vec<String>,
}

/// Names of settings whose values are secrets: masked by `check-config`, never logged.
const SECRET_VARS: &[&str] = &[
    "DJANGO_SECRET_KEY",
    "LIVEKIT_API_SECRET",
    "DB_PASSWORD",
    "OIDC_RP_CLIENT_SECRET",
    "BREVO_API_KEY",
    "APPLICATION_JWT_SECRET_KEY",
    "ADDONS_TOKEN_SECRET_KEY",
    "ADDONS_CSRF_SECRET",
    "OIDC_RS_CLIENT_SECRET",
    "MEET_METRICS_TOKEN",
];

/// Development LiveKit credentials (the `livekit-server --dev` pair).
const DEV_LIVEKIT_KEY: &str = "devkey";
const DEV_LIVEKIT_SECRET: &str = "secret";

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<String>,
}

impl Reader<'_> {
    /// A raw value; `<NAME>_FILE` is read when `<NAME>` is absent.
    fn raw(&mut self, name: &str) -> Option<String> {
        if let Some(v) = (self.lookup)(name) {
            return Some(v);
        }
        let file_var = format!("{name}_FILE");
        let path = (self.lookup)(&file_var)?;
        match std::fs::read_to_string(&path) {
            Ok(s) => Some(s.trim_end_matches(['\n', '\r']).to_string()),
            Err(e) => {
                self.errors.push(format!("{file_var}: cannot read {path}: {e}"));
                None
            }
        }
    }

    fn string(&mut self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_string())
    }

    fn opt_string(&mut self, name: &str) -> Option<String> {
        self.raw(name).filter(|s| !s.is_empty())
    }

    fn bool(&mut self, name: &str, default: bool) -> bool {
        let Some(v) = self.raw(name) else { return default };
        match v.trim().to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" | "1" => true,
            "no" | "n" | "false" | "0" | "" => false,
            _ => {
                self.errors.push(format!("{name}: '{v}' is not a boolean (use true/false, yes/no, 1/0)"));
                default
            }
        }
    }

    fn list(&mut self, name: &str) -> Vec<String> {
        self.raw(name).map(|v| parse_list(&v)).unwrap_or_default()
    }

    fn dict(&mut self, name: &str, default: Map<String, Value>) -> Map<String, Value> {
        let Some(v) = self.raw(name) else { return default };
        if v.trim().is_empty() {
            return Map::new();
        }
        match pyliteral::parse(&v) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                self.errors.push(format!("{name}: expected a dict literal such as {{'key': 'value'}}"));
                default
            }
            Err(e) => {
                self.errors.push(format!("{name}: not a Python dict literal: {e}"));
                default
            }
        }
    }

    fn uint<T: std::str::FromStr>(&mut self, name: &str, default: T) -> T {
        let Some(v) = self.raw(name) else { return default };
        match v.trim().parse() {
            Ok(n) => n,
            Err(_) => {
                self.errors.push(format!("{name}: '{v}' is not a positive integer"));
                default
            }
        }
    }

    /// A duration in whole seconds that must be at least 1 (0 would break the lobby).
    fn seconds_at_least_one(&mut self, name: &str, default: u64) -> Duration {
        let n = self.uint(name, default);
        if n == 0 {
            self.errors.push(format!("{name}: must be at least 1 second"));
            return Duration::from_secs(default);
        }
        Duration::from_secs(n)
    }

    fn rate(&mut self, name: &str, default: &str) -> Rate {
        let v = self.string(name, default);
        Rate::parse(&v).unwrap_or_else(|e| {
            self.errors.push(format!("{name}: '{v}' is not a rate like 150/minute: {e}"));
            Rate::parse(default).expect("default rates are valid")
        })
    }
}

/// Comma-separated list: items trimmed, empty items dropped (users-auth-rooms §7.1).
pub fn parse_list(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

fn mask_url_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup` (tests pass a map). Fails with every problem found.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut r = Reader { lookup: &lookup, errors: Vec::new() };
        let mut warnings = Vec::new();

        let bind_s = r.string("MEET_BIND", "127.0.0.1:8071");
        let bind = bind_s.parse().unwrap_or_else(|_| {
            r.errors.push(format!("MEET_BIND: '{bind_s}' is not an ADDRESS:PORT"));
            SocketAddr::from(([127, 0, 0, 1], 8071))
        });
        let data_dir = PathBuf::from(r.string("MEET_DATA_DIR", "."));
        let database = read_database(&mut r, &data_dir, &mut warnings);
        // PostgreSQL: 20, so that concurrent writes share the server's WAL flushes (room creation
        // under load went 1,477 -> 1,947 req/s from 10 to 24 connections); four instances stay
        // under PostgreSQL's default of 100 connections.
        let default_pool = if matches!(database, DatabaseUrl::Sqlite(_)) { 8 } else { 20 };
        let db_pool_size = r.uint("MEET_DB_POOL_SIZE", default_pool).max(1);
        let redis_url = r.opt_string("REDIS_URL");
        if let Some(u) = &redis_url {
            if !(u.starts_with("redis://") || u.starts_with("rediss://")) {
                r.errors.push("REDIS_URL: must start with redis:// or rediss://".into());
            }
        }
        // Filled by `ensure_secret_key` at start-up when absent.
        let secret_key = r.opt_string("DJANGO_SECRET_KEY").unwrap_or_default();

        let default_worker_classes = {
            let mut m = Map::new();
            m.insert(
                "screen_recording".into(),
                Value::String("core.recording.worker.services.VideoCompositeEgressService".into()),
            );
            m.insert(
                "transcript".into(),
                Value::String("core.recording.worker.services.AudioCompositeEgressService".into()),
            );
            m
        };

        let log_format = match r.string("MEET_LOG_FORMAT", "text").to_ascii_lowercase().as_str() {
            "json" => LogFormat::Json,
            "text" | "" => LogFormat::Text,
            other => {
                r.errors.push(format!("MEET_LOG_FORMAT: '{other}' is not text or json"));
                LogFormat::Text
            }
        };

        let resource_default_access_level = r.string("RESOURCE_DEFAULT_ACCESS_LEVEL", "public");
        if !matches!(resource_default_access_level.as_str(), "public" | "trusted" | "restricted") {
            r.errors.push(format!(
                "RESOURCE_DEFAULT_ACCESS_LEVEL: '{resource_default_access_level}' is not public, trusted or restricted"
            ));
        }

        let cors_allowed_origin_regexes = r.list("DJANGO_CORS_ALLOWED_ORIGIN_REGEXES");
        for re in &cors_allowed_origin_regexes {
            if regex::Regex::new(re).is_err() {
                r.errors.push(format!("DJANGO_CORS_ALLOWED_ORIGIN_REGEXES: '{re}' is not a valid regex"));
            }
        }

        let livekit_api_key = r.opt_string("LIVEKIT_API_KEY").unwrap_or_else(|| {
            warnings.push("LIVEKIT_API_KEY is not set: using the development key 'devkey'".into());
            DEV_LIVEKIT_KEY.into()
        });
        let livekit_api_secret = r.opt_string("LIVEKIT_API_SECRET").unwrap_or_else(|| {
            warnings.push("LIVEKIT_API_SECRET is not set: using the development secret".into());
            DEV_LIVEKIT_SECRET.into()
        });

        let oidc = auth::read_oidc(&mut r, &mut warnings);
        let marketing = auth::read_marketing(&mut r, &mut warnings);
        let recording_settings = recording::read(&mut r, &mut warnings);
        let rooms_settings = rooms::read(&mut r);
        let incall = incall::read(&mut r);
        let external_api = external::read(&mut r);
        let addons = addons::read(&mut r);
        let idp = idp::read(&mut r);
        let files = files::read(&mut r, &rooms_settings.file_upload_restrictions, &mut warnings);
        let ops = ops::read(&mut r);
        let config = Config {
            files,
            ops,
            incall,
            external_api,
            addons,
            idp,
            oidc,
            marketing,
            recording: recording_settings,
            rooms: rooms_settings,
            bind,
            data_dir,
            database,
            db_pool_size,
            redis_url,
            cache_prefix: r.string("MEET_CACHE_PREFIX", "meet:"),
            secret_key,
            language_code: r.string("DJANGO_LANGUAGE_CODE", "en-us"),
            csrf_trusted_origins: r.list("DJANGO_CSRF_TRUSTED_ORIGINS"),
            cors_allow_all_origins: r.bool("DJANGO_CORS_ALLOW_ALL_ORIGINS", false),
            cors_allowed_origins: r.list("DJANGO_CORS_ALLOWED_ORIGINS"),
            cors_allowed_origin_regexes,
            trust_forwarded_proto: r.bool("MEET_TRUST_X_FORWARDED_PROTO", true),
            secure_cookies: r.bool("MEET_SECURE_COOKIES", false),
            max_body_bytes: r.uint("MEET_MAX_BODY_BYTES", 2_621_440usize),
            log_format,
            recording_enable: r.bool("RECORDING_ENABLE", false),
            recording_worker_classes: r.dict("RECORDING_WORKER_CLASSES", default_worker_classes),
            frontend_analytics: r.dict("FRONTEND_ANALYTICS", Map::new()),
            frontend_support: r.dict("FRONTEND_SUPPORT", Map::new()),
            frontend_silence_livekit_debug: r.bool("FRONTEND_SILENCE_LIVEKIT_DEBUG", false),
            livekit_api_url: r.opt_string("LIVEKIT_API_URL"),
            livekit_api_key,
            livekit_api_secret,
            livekit_timeout: Duration::from_secs(r.uint("MEET_LIVEKIT_TIMEOUT", 3u64).max(1)),
            lobby_key_prefix: r.string("LOBBY_KEY_PREFIX", "room_lobby"),
            lobby_waiting_timeout: r.seconds_at_least_one("LOBBY_WAITING_TIMEOUT", 3),
            lobby_denied_timeout: r.seconds_at_least_one("LOBBY_DENIED_TIMEOUT", 5),
            lobby_accepted_timeout: r.seconds_at_least_one("LOBBY_ACCEPTED_TIMEOUT", 21_600),
            lobby_notification_type: r.string("LOBBY_NOTIFICATION_TYPE", "participantWaiting"),
            lobby_cookie_name: r.string("LOBBY_COOKIE_NAME", "lobbyParticipantId"),
            lobby_username_max_length: r.uint("MEET_LOBBY_USERNAME_MAX_LENGTH", 255usize),
            resource_default_access_level,
            allow_unregistered_rooms: r.bool("ALLOW_UNREGISTERED_ROOMS", true),
            room_creation_callback_cache_timeout: r.uint("ROOM_CREATION_CALLBACK_CACHE_TIMEOUT", 600u64),
            request_entry_throttle_rate: r.rate("REQUEST_ENTRY_THROTTLE_RATES", "150/minute"),
            creation_callback_throttle_rate: r.rate("CREATION_CALLBACK_THROTTLE_RATES", "600/minute"),
            trusted_proxies: r.uint("MEET_TRUSTED_PROXIES", 0usize),
            allow_unsecure_user_listing: r.bool("ALLOW_UNSECURE_USER_LISTING", false),
            warnings,
        };
        if r.errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(r.errors))
        }
    }

    /// Fills a missing `DJANGO_SECRET_KEY` with one generated once and kept in
    /// `<MEET_DATA_DIR>/secret_key`, so that restarts keep sessions and signatures valid.
    pub fn ensure_secret_key(&mut self) -> anyhow::Result<()> {
        if !self.secret_key.is_empty() {
            return Ok(());
        }
        let path = self.data_dir.join("secret_key");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let existing = existing.trim();
            if !existing.is_empty() {
                self.secret_key = existing.to_string();
                self.warnings.push(format!("DJANGO_SECRET_KEY is not set: using the key stored in {}", path.display()));
                return Ok(());
            }
        }
        std::fs::create_dir_all(&self.data_dir)?;
        let key = crate::domain::random_token(50);
        write_private_file(&path, &key)?;
        self.secret_key = key;
        self.warnings.push(format!("DJANGO_SECRET_KEY is not set: generated one in {}", path.display()));
        Ok(())
    }

    /// The body of `GET /api/v1.0/config/` (now-rooms §14), computed from the settings alone.
    pub fn frontend_config(&self) -> Value {
        rooms::frontend_config(self)
    }

    /// The effective settings, one per line, secrets masked (for `meet check-config`).
    pub fn describe(&self) -> BTreeMap<&'static str, String> {
        let mask = |s: &str| if s.is_empty() { String::new() } else { "***".to_string() };
        let mut m = BTreeMap::new();
        m.insert("MEET_BIND", self.bind.to_string());
        m.insert("MEET_DATA_DIR", self.data_dir.display().to_string());
        m.insert("DATABASE_URL", self.database.masked());
        m.insert("MEET_DB_POOL_SIZE", self.db_pool_size.to_string());
        m.insert(
            "REDIS_URL",
            self.redis_url.as_deref().map(mask_url_password).unwrap_or_else(|| "(in-process cache)".into()),
        );
        m.insert("MEET_CACHE_PREFIX", self.cache_prefix.clone());
        m.insert("DJANGO_SECRET_KEY", mask(&self.secret_key));
        m.insert("DJANGO_LANGUAGE_CODE", self.language_code.clone());
        m.insert("DJANGO_CSRF_TRUSTED_ORIGINS", self.csrf_trusted_origins.join(","));
        m.insert("DJANGO_CORS_ALLOW_ALL_ORIGINS", self.cors_allow_all_origins.to_string());
        m.insert("DJANGO_CORS_ALLOWED_ORIGINS", self.cors_allowed_origins.join(","));
        m.insert("DJANGO_CORS_ALLOWED_ORIGIN_REGEXES", self.cors_allowed_origin_regexes.join(","));
        m.insert("MEET_TRUST_X_FORWARDED_PROTO", self.trust_forwarded_proto.to_string());
        m.insert("MEET_SECURE_COOKIES", self.secure_cookies.to_string());
        m.insert("MEET_MAX_BODY_BYTES", self.max_body_bytes.to_string());
        m.insert("MEET_LOG_FORMAT", format!("{:?}", self.log_format).to_lowercase());
        m.insert("MEET_TRUSTED_PROXIES", self.trusted_proxies.to_string());
        m.insert("RECORDING_ENABLE", self.recording_enable.to_string());
        m.insert("RECORDING_WORKER_CLASSES", Value::Object(self.recording_worker_classes.clone()).to_string());
        m.insert("FRONTEND_ANALYTICS", Value::Object(self.frontend_analytics.clone()).to_string());
        m.insert("FRONTEND_SUPPORT", Value::Object(self.frontend_support.clone()).to_string());
        m.insert("FRONTEND_SILENCE_LIVEKIT_DEBUG", self.frontend_silence_livekit_debug.to_string());
        m.insert("LIVEKIT_API_URL", self.livekit_api_url.clone().unwrap_or_default());
        m.insert("LIVEKIT_API_KEY", self.livekit_api_key.clone());
        m.insert("LIVEKIT_API_SECRET", mask(&self.livekit_api_secret));
        m.insert("RESOURCE_DEFAULT_ACCESS_LEVEL", self.resource_default_access_level.clone());
        m.insert("ALLOW_UNREGISTERED_ROOMS", self.allow_unregistered_rooms.to_string());
        m.insert("ROOM_CREATION_CALLBACK_CACHE_TIMEOUT", self.room_creation_callback_cache_timeout.to_string());
        m.insert("MEET_LIVEKIT_TIMEOUT", self.livekit_timeout.as_secs().to_string());
        m.insert("LOBBY_KEY_PREFIX", self.lobby_key_prefix.clone());
        m.insert("LOBBY_WAITING_TIMEOUT", self.lobby_waiting_timeout.as_secs().to_string());
        m.insert("LOBBY_DENIED_TIMEOUT", self.lobby_denied_timeout.as_secs().to_string());
        m.insert("LOBBY_ACCEPTED_TIMEOUT", self.lobby_accepted_timeout.as_secs().to_string());
        m.insert("LOBBY_NOTIFICATION_TYPE", self.lobby_notification_type.clone());
        m.insert("LOBBY_COOKIE_NAME", self.lobby_cookie_name.clone());
        m.insert("MEET_LOBBY_USERNAME_MAX_LENGTH", self.lobby_username_max_length.to_string());
        m.insert("ALLOW_UNSECURE_USER_LISTING", self.allow_unsecure_user_listing.to_string());
        auth::describe_oidc(&self.oidc, &mut m);
        auth::describe_marketing(&self.marketing, &mut m);
        recording::describe(&self.recording, &mut m);
        rooms::describe(&self.rooms, &mut m);
        incall::describe(&self.incall, &mut m);
        external::describe(&self.external_api, &mut m);
        addons::describe(&self.addons, &mut m);
        idp::describe(&self.idp, &mut m);
        files::describe(&self.files, &mut m);
        ops::describe(&self.ops, &mut m);
        debug_assert!(SECRET_VARS.iter().all(|v| m.get(v).is_none_or(|s| s.is_empty() || s == "***")));
        m
    }
}

fn read_database(r: &mut Reader<'_>, data_dir: &std::path::Path, warnings: &mut Vec<String>) -> DatabaseUrl {
    if let Some(url) = r.opt_string("DATABASE_URL") {
        return parse_database_url(&url).unwrap_or_else(|e| {
            r.errors.push(format!("DATABASE_URL: {e}"));
            DatabaseUrl::Sqlite(String::new())
        });
    }
    // Meet's DB_* variables, used when an operator sets them explicitly.
    if (r.lookup)("DB_HOST").is_some() || (r.lookup)("DB_NAME").is_some() {
        let engine = r.string("DB_ENGINE", "django.db.backends.postgresql");
        if !engine.contains("postgresql") {
            r.errors.push(format!("DB_ENGINE: '{engine}' is not supported (PostgreSQL only; or use DATABASE_URL)"));
        }
        let mut u = url::Url::parse("postgres://localhost/").expect("static URL");
        let _ = u.set_username(&r.string("DB_USER", "dinum"));
        let _ = u.set_password(Some(&r.string("DB_PASSWORD", "pass")));
        let _ = u.set_host(Some(&r.string("DB_HOST", "localhost")));
        let port = r.uint("DB_PORT", 5432u16);
        let _ = u.set_port(Some(port));
        u.set_path(&r.string("DB_NAME", "meet"));
        return DatabaseUrl::Postgres(u.to_string());
    }
    let path = data_dir.join("meet.sqlite3");
    warnings.push(format!(
        "DATABASE_URL is not set: using the embedded SQLite database {} (single instance only)",
        path.display()
    ));
    DatabaseUrl::Sqlite(format!("sqlite://{}", path.display()))
}

fn parse_database_url(url: &str) -> Result<DatabaseUrl, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        url::Url::parse(url).map_err(|e| format!("not a valid URL: {e}"))?;
        Ok(DatabaseUrl::Postgres(url.to_string()))
    } else if url.starts_with("sqlite:") {
        Ok(DatabaseUrl::Sqlite(url.to_string()))
    } else {
        Err("must start with postgres://, postgresql:// or sqlite:".into())
    }
}

fn write_private_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())
}

/// Every invalid setting, one message per problem, each naming its variable.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Settings from `(NAME, value)` pairs: the test modules' way to build a `Config`.
#[cfg(test)]
pub(crate) fn from_pairs(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: std::collections::HashMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(move |k| map.get(k).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::from_pairs as cfg;

    #[test]
    fn defaults_give_a_development_server() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8071");
        assert!(matches!(c.database, DatabaseUrl::Sqlite(_)));
        assert!(c.redis_url.is_none());
        assert!(!c.cors_allow_all_origins);
        assert_eq!(c.creation_callback_throttle_rate, Rate { requests: 600, period: Duration::from_secs(60) });
        assert!(!c.warnings.is_empty());
    }

    #[test]
    fn booleans_follow_django_rules() {
        for (v, want) in
            [("Yes", true), (" y ", true), ("1", true), ("TRUE", true), ("no", false), ("", false), ("0", false)]
        {
            assert_eq!(cfg(&[("RECORDING_ENABLE", v)]).unwrap().recording_enable, want, "{v:?}");
        }
    }

    #[test]
    fn every_invalid_variable_is_named() {
        let err = cfg(&[
            ("RECORDING_ENABLE", "maybe"),
            ("MEET_BIND", "nope"),
            ("FRONTEND_SUPPORT", "{\"a\": true}"),
            ("CREATION_CALLBACK_THROTTLE_RATES", "10/week"),
        ])
        .unwrap_err();
        let text = err.to_string();
        for var in ["RECORDING_ENABLE", "MEET_BIND", "FRONTEND_SUPPORT", "CREATION_CALLBACK_THROTTLE_RATES"] {
            assert!(text.contains(var), "{var} missing from {text}");
        }
    }

    #[test]
    fn lists_are_comma_separated_not_json() {
        let c = cfg(&[
            ("DJANGO_CSRF_TRUSTED_ORIGINS", " https://a , ,https://b"),
            ("DJANGO_CORS_ALLOWED_ORIGINS", "[\"a\", \"b\"]"),
        ])
        .unwrap();
        assert_eq!(c.csrf_trusted_origins, ["https://a", "https://b"]);
        assert_eq!(c.cors_allowed_origins, ["[\"a\"", "\"b\"]"]);
    }

    #[test]
    fn rates_only_read_the_first_letter_of_the_period() {
        assert_eq!(Rate::parse("10/min").unwrap(), Rate::parse("10/minute").unwrap());
        assert_eq!(Rate::parse("2/s").unwrap().period, Duration::from_secs(1));
        assert!(Rate::parse("x/minute").is_err());
    }

    #[test]
    fn meet_db_variables_build_a_postgres_url() {
        let c = cfg(&[("DB_HOST", "db"), ("DB_NAME", "meet"), ("DB_USER", "u"), ("DB_PASSWORD", "p@ss")]).unwrap();
        assert_eq!(c.database, DatabaseUrl::Postgres("postgres://u:p%40ss@db:5432/meet".into()));
        assert_eq!(c.database.masked(), "postgres://u:***@db:5432/meet");
    }
}
