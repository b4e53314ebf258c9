//! Recording settings (recordings §9): LiveKit egress output, storage events, S3 / MinIO, SMTP
//! e-mail and the summary service, with Meet's variable names (S1: `SCREEN_RECORDING_BASE_URL`
//! is read from its own variable), plus the `MEET_` knobs of the outbox and the reconciler.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Reader;

/// Recording pipeline settings.
#[derive(Clone, Debug)]
pub struct RecordingConfig {
    /// `RECORDING_OUTPUT_FOLDER`. Default `recordings`.
    pub output_folder: String,
    /// `LIVEKIT_VERIFY_SSL` (formerly `RECORDING_VERIFY_SSL`, still read when the new name is
    /// unset): TLS certificate check on the egress calls. Default true.
    pub verify_ssl: bool,
    /// `RECORDING_ENABLE_STORAGE_EVENT_AUTH`. Default true (false is warned at start, S2).
    pub storage_event_auth: bool,
    /// `RECORDING_STORAGE_EVENT_ENABLE`. Default false.
    pub storage_event_enable: bool,
    /// `RECORDING_STORAGE_EVENT_TOKEN` (or `_FILE`). Default none.
    pub storage_event_token: Option<String>,
    /// `SUMMARY_SERVICE_ENDPOINT`. Default none.
    pub summary_endpoint: Option<String>,
    /// `SUMMARY_SERVICE_API_TOKEN` (or `_FILE`). Default none.
    pub summary_token: Option<String>,
    /// `MEET_SUMMARY_SERVICE_TIMEOUT` (seconds). Default 30.
    pub summary_timeout: Duration,
    /// `SCREEN_RECORDING_BASE_URL`: the e-mail link is `<this>/<recording id>`. Default none
    /// (the e-mail then carries no link).
    pub screen_recording_base_url: Option<String>,
    /// `MEET_RECORDING_EGRESS_TIMEOUT` (seconds): bound on each egress call (B1). Default 10.
    pub egress_timeout: Duration,
    /// `MEET_RECONCILER_INTERVAL_MS`: period of the reconciler; 0 disables it. Default 60000.
    pub reconciler_interval: Duration,
    /// `MEET_RECORDING_START_GRACE` (seconds): age after which an `initiated` recording is
    /// adopted or failed by the reconciler. Default 120.
    pub start_grace: Duration,
    /// `MEET_RECORDING_STOP_GRACE` (seconds): age after which a `stopped`/`failed_to_stop`
    /// recording's object is looked for. Default 600.
    pub stop_grace: Duration,
    /// `MEET_RECORDING_STOPPED_MAX_AGE` (seconds): a `stopped` recording still without a file
    /// after this becomes `aborted`. Default 86400.
    pub stopped_max_age: Duration,
    /// `MEET_OUTBOX_INTERVAL_MS`: period of the notification outbox. Default 5000.
    pub outbox_interval: Duration,
    /// `MEET_OUTBOX_RETRY_BASE_MS`: first retry delay, doubled each attempt up to one hour.
    /// Default 30000.
    pub outbox_retry_base: Duration,
    /// `MEET_OUTBOX_GIVE_UP_AFTER` (seconds): a notification still failing after this is
    /// abandoned (the recording stays `saved`, downloadable). Default 86400.
    pub outbox_give_up_after: Duration,
    pub s3: S3Config,
    pub email: EmailConfig,
    /// Upstream HEAD's recording settings (now-recordings §26.1).
    pub head: HeadConfig,
}

/// Which object-store event format the storage hook reads (`RECORDING_EVENT_PARSER_CLASS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventParser {
    /// `core.recording.event.parsers.MinioParser` (default): the event's URL-encoded key and
    /// its `contentType`.
    Minio,
    /// `core.recording.event.parsers.S3Parser`: the key raw or encoded, the type guessed from
    /// its extension.
    S3,
}

/// `advanced` encoding options of screen-recording egresses (`RECORDING_ENCODING_*`).
#[derive(Clone, Debug, PartialEq)]
pub struct Encoding {
    pub width: u32,
    pub height: u32,
    pub framerate: u32,
    pub video_bitrate_kbps: u32,
    pub audio_bitrate_kbps: u32,
    pub key_frame_interval_s: f64,
}

/// Settings upstream added after the reference (now-recordings §26.1).
#[derive(Clone, Debug)]
pub struct HeadConfig {
    /// `RECORDING_EVENT_PARSER_CLASS`. Default the MinIO parser.
    pub event_parser: EventParser,
    /// `RECORDING_DOWNLOAD_BASE_URL`: the download link is `<this>/<recording id>` (falls back to
    /// the deprecated `SCREEN_RECORDING_BASE_URL`). Default none.
    pub download_base_url: Option<String>,
    /// `RECORDING_ENCODING_ENABLED` with `RECORDING_ENCODING_{WIDTH,HEIGHT,FRAMERATE,
    /// VIDEO_BITRATE_KBPS,AUDIO_BITRATE_KBPS,KEY_FRAME_INTERVAL_S}` (1280, 720, 30, 3000, 128,
    /// 4.0). Default disabled (`None`: LiveKit's default encoding).
    pub encoding: Option<Encoding>,
    /// `SUMMARY_SERVICE_VERSION`: 1 (default, the 12-key payload) or 2 (presigned URL, Docs
    /// hand-off, job id callback).
    pub summary_version: u8,
    /// `SUMMARY_SERVICE_WEBHOOK_API_TOKEN` (or `_FILE`): bearer of
    /// `recordings/external-process-hook/`. Default none (every call is 401).
    pub summary_webhook_token: Option<String>,
    /// `SUMMARY_SERVICE_CLOUD_STORAGE_SIGNED_URL_EXPIRY_SECONDS`: lifetime of the presigned
    /// URLs of summary v2 (1 to 604800). Default 86400.
    pub signed_url_expiry: Duration,
    /// `TRANSCRIPTION_SATISFACTION_FORM_BASE_URL`: v2 `form_link`. Default none.
    pub satisfaction_form_base_url: Option<String>,
    /// `METADATA_COLLECTOR_ENABLED`. Default false.
    pub metadata_collector_enabled: bool,
    /// `METADATA_COLLECTOR_AGENT_NAME`. Default `metadata-collector`.
    pub metadata_collector_agent_name: String,
    /// `METADATA_COLLECTOR_OUTPUT_FOLDER`. Default `metadata`.
    pub metadata_collector_output_folder: String,
}

impl RecordingConfig {
    /// The base of download links: `RECORDING_DOWNLOAD_BASE_URL`, else `SCREEN_RECORDING_BASE_URL`.
    pub fn download_base(&self) -> Option<&str> {
        self.head.download_base_url.as_deref().or(self.screen_recording_base_url.as_deref())
    }
}

fn read_head(r: &mut Reader<'_>, warnings: &mut Vec<String>) -> HeadConfig {
    let event_parser = match r.opt_string("RECORDING_EVENT_PARSER_CLASS").as_deref() {
        None | Some("core.recording.event.parsers.MinioParser") => EventParser::Minio,
        Some("core.recording.event.parsers.S3Parser") => EventParser::S3,
        Some(other) => {
            r.errors.push(format!(
                "RECORDING_EVENT_PARSER_CLASS: '{other}' is not core.recording.event.parsers.MinioParser or .S3Parser"
            ));
            EventParser::Minio
        }
    };
    let encoding = r.bool("RECORDING_ENCODING_ENABLED", false).then(|| Encoding {
        width: r.uint("RECORDING_ENCODING_WIDTH", 1280),
        height: r.uint("RECORDING_ENCODING_HEIGHT", 720),
        framerate: r.uint("RECORDING_ENCODING_FRAMERATE", 30),
        video_bitrate_kbps: r.uint("RECORDING_ENCODING_VIDEO_BITRATE_KBPS", 3000),
        audio_bitrate_kbps: r.uint("RECORDING_ENCODING_AUDIO_BITRATE_KBPS", 128),
        key_frame_interval_s: r.uint("RECORDING_ENCODING_KEY_FRAME_INTERVAL_S", 4.0),
    });
    let summary_version = r.uint("SUMMARY_SERVICE_VERSION", 1u8);
    if !matches!(summary_version, 1 | 2) {
        r.errors.push(format!("SUMMARY_SERVICE_VERSION: {summary_version} is not 1 or 2"));
    }
    let expiry = r.uint("SUMMARY_SERVICE_CLOUD_STORAGE_SIGNED_URL_EXPIRY_SECONDS", 86_400u64);
    if !(1..=604_800).contains(&expiry) {
        r.errors.push(format!(
            "SUMMARY_SERVICE_CLOUD_STORAGE_SIGNED_URL_EXPIRY_SECONDS: {expiry} is not between 1 and 604800 (S3's limit)"
        ));
    }
    let download_base_url = r.opt_string("RECORDING_DOWNLOAD_BASE_URL").map(|u| u.trim_end_matches('/').to_string());
    if let Some(endpoint) = r.opt_string("SUMMARY_SERVICE_ENDPOINT") {
        if summary_version == 1 {
            warnings
                .push("SUMMARY_SERVICE_VERSION=1 is deprecated upstream: set 2 for the current summary service".into());
            if endpoint.contains("/api/v2/") {
                warnings.push(format!(
                    "SUMMARY_SERVICE_ENDPOINT {endpoint} looks like a version 2 route while SUMMARY_SERVICE_VERSION=1 (R-6)"
                ));
            }
        }
    }
    if r.raw("SCREEN_RECORDING_BASE_URL").is_some() {
        warnings.push("SCREEN_RECORDING_BASE_URL is deprecated: set RECORDING_DOWNLOAD_BASE_URL".into());
    }
    HeadConfig {
        event_parser,
        download_base_url,
        encoding,
        summary_version,
        summary_webhook_token: r.opt_string("SUMMARY_SERVICE_WEBHOOK_API_TOKEN"),
        signed_url_expiry: Duration::from_secs(expiry.clamp(1, 604_800)),
        satisfaction_form_base_url: r.opt_string("TRANSCRIPTION_SATISFACTION_FORM_BASE_URL"),
        metadata_collector_enabled: r.bool("METADATA_COLLECTOR_ENABLED", false),
        metadata_collector_agent_name: r.string("METADATA_COLLECTOR_AGENT_NAME", "metadata-collector"),
        metadata_collector_output_folder: r.string("METADATA_COLLECTOR_OUTPUT_FOLDER", "metadata"),
    }
    .warn(warnings)
}

impl HeadConfig {
    fn warn(self, warnings: &mut Vec<String>) -> HeadConfig {
        if self.summary_version == 2 && self.download_base_url.is_none() {
            warnings.push(
                "SUMMARY_SERVICE_VERSION=2 without RECORDING_DOWNLOAD_BASE_URL: summaries carry no download link (R-6)"
                    .into(),
            );
        }
        self
    }
}

fn describe_head(c: &HeadConfig, m: &mut BTreeMap<&'static str, String>) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let parser = match c.event_parser {
        EventParser::Minio => "core.recording.event.parsers.MinioParser",
        EventParser::S3 => "core.recording.event.parsers.S3Parser",
    };
    m.insert("RECORDING_EVENT_PARSER_CLASS", parser.into());
    m.insert("RECORDING_DOWNLOAD_BASE_URL", opt(&c.download_base_url));
    m.insert("RECORDING_ENCODING_ENABLED", c.encoding.is_some().to_string());
    if let Some(e) = &c.encoding {
        m.insert("RECORDING_ENCODING_WIDTH", e.width.to_string());
        m.insert("RECORDING_ENCODING_HEIGHT", e.height.to_string());
        m.insert("RECORDING_ENCODING_FRAMERATE", e.framerate.to_string());
        m.insert("RECORDING_ENCODING_VIDEO_BITRATE_KBPS", e.video_bitrate_kbps.to_string());
        m.insert("RECORDING_ENCODING_AUDIO_BITRATE_KBPS", e.audio_bitrate_kbps.to_string());
        m.insert("RECORDING_ENCODING_KEY_FRAME_INTERVAL_S", e.key_frame_interval_s.to_string());
    }
    m.insert("SUMMARY_SERVICE_VERSION", c.summary_version.to_string());
    m.insert(
        "SUMMARY_SERVICE_WEBHOOK_API_TOKEN",
        c.summary_webhook_token.as_ref().map(|_| "***".into()).unwrap_or_default(),
    );
    m.insert("SUMMARY_SERVICE_CLOUD_STORAGE_SIGNED_URL_EXPIRY_SECONDS", c.signed_url_expiry.as_secs().to_string());
    m.insert("TRANSCRIPTION_SATISFACTION_FORM_BASE_URL", opt(&c.satisfaction_form_base_url));
    m.insert("METADATA_COLLECTOR_ENABLED", c.metadata_collector_enabled.to_string());
    m.insert("METADATA_COLLECTOR_AGENT_NAME", c.metadata_collector_agent_name.clone());
    m.insert("METADATA_COLLECTOR_OUTPUT_FOLDER", c.metadata_collector_output_folder.clone());
}

/// Object storage settings (egress upload target, media-auth signatures, `HEAD` checks).
#[derive(Clone, Debug)]
pub struct S3Config {
    /// `AWS_S3_ENDPOINT_URL`. Default none (AWS, virtual-hosted URLs).
    pub endpoint_url: Option<String>,
    /// `AWS_S3_ACCESS_KEY_ID`. Default none.
    pub access_key_id: Option<String>,
    /// `AWS_S3_SECRET_ACCESS_KEY` (or `_FILE`). Default none.
    pub secret_access_key: Option<String>,
    /// `AWS_S3_REGION_NAME`. Default none (omitted from egress requests).
    pub region: Option<String>,
    /// Signing region: `AWS_S3_REGION_NAME`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub signing_region: String,
    /// `AWS_STORAGE_BUCKET_NAME`. Default `meet-media-storage`.
    pub bucket: String,
    /// `MEET_S3_TIMEOUT` (seconds): bound on each `HEAD`. Default 5.
    pub timeout: Duration,
}

/// SMTP settings (Django's `DJANGO_EMAIL_*` names) and the e-mail template values.
#[derive(Clone, Debug)]
pub struct EmailConfig {
    /// `DJANGO_EMAIL_HOST`. Default none: e-mails are not sent (recordings stay `saved`).
    pub host: Option<String>,
    /// `DJANGO_EMAIL_PORT`. Default: 465 with SSL, 587 with TLS, else 25.
    pub port: Option<u16>,
    /// `DJANGO_EMAIL_HOST_USER`. Default none.
    pub user: Option<String>,
    /// `DJANGO_EMAIL_HOST_PASSWORD` (or `_FILE`). Default none.
    pub password: Option<String>,
    /// `DJANGO_EMAIL_USE_TLS` (STARTTLS). Default false.
    pub use_tls: bool,
    /// `DJANGO_EMAIL_USE_SSL` (implicit TLS). Default false.
    pub use_ssl: bool,
    /// `DJANGO_EMAIL_FROM`. Default `from@example.com`.
    pub from: String,
    /// `DJANGO_EMAIL_BRAND_NAME`. Default none (line omitted).
    pub brand_name: Option<String>,
    /// `DJANGO_EMAIL_SUPPORT_EMAIL`. Default none (line omitted).
    pub support_email: Option<String>,
    /// `DJANGO_EMAIL_LOGO_IMG`. Default none (no logo).
    pub logo_img: Option<String>,
    /// `MEET_EMAIL_TIMEOUT` (seconds): bound on each SMTP conversation. Default 10.
    pub timeout: Duration,
}

fn millis(r: &mut Reader<'_>, name: &str, default: u64) -> Duration {
    Duration::from_millis(r.uint(name, default))
}

fn seconds(r: &mut Reader<'_>, name: &str, default: u64) -> Duration {
    Duration::from_secs(r.uint(name, default))
}

pub(super) fn read(r: &mut Reader<'_>, warnings: &mut Vec<String>) -> RecordingConfig {
    let storage_event_auth = r.bool("RECORDING_ENABLE_STORAGE_EVENT_AUTH", true);
    if !storage_event_auth {
        warnings.push(
            "RECORDING_ENABLE_STORAGE_EVENT_AUTH is false: anyone reaching the storage hook can mark recordings saved (S2)"
                .into(),
        );
    }
    let head = read_head(r, warnings);
    // now-recordings §1.2: `LIVEKIT_VERIFY_SSL` replaced `RECORDING_VERIFY_SSL`, still read as
    // a fallback so that existing deployments keep their setting.
    let verify_ssl = match r.raw("LIVEKIT_VERIFY_SSL") {
        Some(_) => r.bool("LIVEKIT_VERIFY_SSL", true),
        None => {
            let legacy = r.bool("RECORDING_VERIFY_SSL", true);
            if r.raw("RECORDING_VERIFY_SSL").is_some() {
                warnings.push("RECORDING_VERIFY_SSL is deprecated: set LIVEKIT_VERIFY_SSL".into());
            }
            legacy
        }
    };
    let region = r.opt_string("AWS_S3_REGION_NAME");
    let signing_region =
        region.clone().or_else(|| r.opt_string("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into());
    let port = r.raw("DJANGO_EMAIL_PORT").filter(|s| !s.trim().is_empty()).and_then(|v| match v.trim().parse() {
        Ok(p) => Some(p),
        Err(_) => {
            r.errors.push(format!("DJANGO_EMAIL_PORT: '{v}' is not a port number"));
            None
        }
    });
    RecordingConfig {
        output_folder: r.string("RECORDING_OUTPUT_FOLDER", "recordings"),
        verify_ssl,
        storage_event_auth,
        storage_event_enable: r.bool("RECORDING_STORAGE_EVENT_ENABLE", false),
        storage_event_token: r.opt_string("RECORDING_STORAGE_EVENT_TOKEN"),
        summary_endpoint: r.opt_string("SUMMARY_SERVICE_ENDPOINT"),
        summary_token: r.opt_string("SUMMARY_SERVICE_API_TOKEN"),
        summary_timeout: seconds(r, "MEET_SUMMARY_SERVICE_TIMEOUT", 30).max(Duration::from_secs(1)),
        screen_recording_base_url: r
            .opt_string("SCREEN_RECORDING_BASE_URL")
            .map(|u| u.trim_end_matches('/').to_string()),
        egress_timeout: seconds(r, "MEET_RECORDING_EGRESS_TIMEOUT", 10).max(Duration::from_secs(1)),
        reconciler_interval: millis(r, "MEET_RECONCILER_INTERVAL_MS", 60_000),
        start_grace: seconds(r, "MEET_RECORDING_START_GRACE", 120),
        stop_grace: seconds(r, "MEET_RECORDING_STOP_GRACE", 600),
        stopped_max_age: seconds(r, "MEET_RECORDING_STOPPED_MAX_AGE", 86_400),
        outbox_interval: millis(r, "MEET_OUTBOX_INTERVAL_MS", 5_000).max(Duration::from_millis(10)),
        outbox_retry_base: millis(r, "MEET_OUTBOX_RETRY_BASE_MS", 30_000),
        outbox_give_up_after: seconds(r, "MEET_OUTBOX_GIVE_UP_AFTER", 86_400),
        s3: S3Config {
            endpoint_url: r.opt_string("AWS_S3_ENDPOINT_URL").map(|u| u.trim_end_matches('/').to_string()),
            access_key_id: r.opt_string("AWS_S3_ACCESS_KEY_ID"),
            secret_access_key: r.opt_string("AWS_S3_SECRET_ACCESS_KEY"),
            region,
            signing_region,
            bucket: r.string("AWS_STORAGE_BUCKET_NAME", "meet-media-storage"),
            timeout: seconds(r, "MEET_S3_TIMEOUT", 5).max(Duration::from_secs(1)),
        },
        email: EmailConfig {
            host: r.opt_string("DJANGO_EMAIL_HOST"),
            port,
            user: r.opt_string("DJANGO_EMAIL_HOST_USER"),
            password: r.opt_string("DJANGO_EMAIL_HOST_PASSWORD"),
            use_tls: r.bool("DJANGO_EMAIL_USE_TLS", false),
            use_ssl: r.bool("DJANGO_EMAIL_USE_SSL", false),
            from: r.string("DJANGO_EMAIL_FROM", "from@example.com"),
            brand_name: r.opt_string("DJANGO_EMAIL_BRAND_NAME"),
            support_email: r.opt_string("DJANGO_EMAIL_SUPPORT_EMAIL"),
            logo_img: r.opt_string("DJANGO_EMAIL_LOGO_IMG"),
            timeout: seconds(r, "MEET_EMAIL_TIMEOUT", 10).max(Duration::from_secs(1)),
        },
        head,
    }
}

pub(super) fn describe(c: &RecordingConfig, m: &mut BTreeMap<&'static str, String>) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let secret = |v: &Option<String>| v.as_ref().map(|_| "***".to_string()).unwrap_or_default();
    m.insert("RECORDING_OUTPUT_FOLDER", c.output_folder.clone());
    m.insert("LIVEKIT_VERIFY_SSL", c.verify_ssl.to_string());
    describe_head(&c.head, m);
    m.insert("RECORDING_ENABLE_STORAGE_EVENT_AUTH", c.storage_event_auth.to_string());
    m.insert("RECORDING_STORAGE_EVENT_ENABLE", c.storage_event_enable.to_string());
    m.insert("RECORDING_STORAGE_EVENT_TOKEN", secret(&c.storage_event_token));
    m.insert("SUMMARY_SERVICE_ENDPOINT", opt(&c.summary_endpoint));
    m.insert("SUMMARY_SERVICE_API_TOKEN", secret(&c.summary_token));
    m.insert("MEET_SUMMARY_SERVICE_TIMEOUT", c.summary_timeout.as_secs().to_string());
    m.insert("SCREEN_RECORDING_BASE_URL", opt(&c.screen_recording_base_url));
    m.insert("MEET_RECORDING_EGRESS_TIMEOUT", c.egress_timeout.as_secs().to_string());
    m.insert("MEET_RECONCILER_INTERVAL_MS", c.reconciler_interval.as_millis().to_string());
    m.insert("MEET_RECORDING_START_GRACE", c.start_grace.as_secs().to_string());
    m.insert("MEET_RECORDING_STOP_GRACE", c.stop_grace.as_secs().to_string());
    m.insert("MEET_RECORDING_STOPPED_MAX_AGE", c.stopped_max_age.as_secs().to_string());
    m.insert("MEET_OUTBOX_INTERVAL_MS", c.outbox_interval.as_millis().to_string());
    m.insert("MEET_OUTBOX_RETRY_BASE_MS", c.outbox_retry_base.as_millis().to_string());
    m.insert("MEET_OUTBOX_GIVE_UP_AFTER", c.outbox_give_up_after.as_secs().to_string());
    m.insert("AWS_S3_ENDPOINT_URL", opt(&c.s3.endpoint_url));
    m.insert("AWS_S3_ACCESS_KEY_ID", opt(&c.s3.access_key_id));
    m.insert("AWS_S3_SECRET_ACCESS_KEY", secret(&c.s3.secret_access_key));
    m.insert("AWS_S3_REGION_NAME", opt(&c.s3.region));
    m.insert("AWS_STORAGE_BUCKET_NAME", c.s3.bucket.clone());
    m.insert("MEET_S3_TIMEOUT", c.s3.timeout.as_secs().to_string());
    m.insert("DJANGO_EMAIL_HOST", opt(&c.email.host));
    m.insert("DJANGO_EMAIL_PORT", c.email.port.map(|p| p.to_string()).unwrap_or_default());
    m.insert("DJANGO_EMAIL_HOST_USER", opt(&c.email.user));
    m.insert("DJANGO_EMAIL_HOST_PASSWORD", secret(&c.email.password));
    m.insert("DJANGO_EMAIL_USE_TLS", c.email.use_tls.to_string());
    m.insert("DJANGO_EMAIL_USE_SSL", c.email.use_ssl.to_string());
    m.insert("DJANGO_EMAIL_FROM", c.email.from.clone());
    m.insert("DJANGO_EMAIL_BRAND_NAME", opt(&c.email.brand_name));
    m.insert("DJANGO_EMAIL_SUPPORT_EMAIL", opt(&c.email.support_email));
    m.insert("DJANGO_EMAIL_LOGO_IMG", opt(&c.email.logo_img));
    m.insert("MEET_EMAIL_TIMEOUT", c.email.timeout.as_secs().to_string());
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn cfg(vars: &[(&str, &str)]) -> Config {
        crate::config::from_pairs(vars).expect("valid")
    }

    #[test]
    fn s1_the_base_url_is_read_from_its_own_variable() {
        let c = cfg(&[("SUMMARY_SERVICE_API_TOKEN", "secret-token")]);
        assert_eq!(c.recording.screen_recording_base_url, None);
        let c = cfg(&[("SUMMARY_SERVICE_API_TOKEN", "t"), ("SCREEN_RECORDING_BASE_URL", "https://h/recordings/")]);
        assert_eq!(c.recording.screen_recording_base_url.as_deref(), Some("https://h/recordings"));
    }

    #[test]
    fn head_settings_defaults_validation_and_masking() {
        let c = cfg(&[("SUMMARY_SERVICE_WEBHOOK_API_TOKEN", "hook"), ("RECORDING_ENCODING_ENABLED", "true")]);
        let h = &c.recording.head;
        assert_eq!((h.summary_version, h.signed_url_expiry.as_secs()), (1, 86_400));
        assert_eq!(h.metadata_collector_agent_name, "metadata-collector");
        assert_eq!(h.metadata_collector_output_folder, "metadata");
        let e = h.encoding.as_ref().expect("encoding on");
        assert_eq!(
            (e.width, e.height, e.framerate, e.video_bitrate_kbps, e.audio_bitrate_kbps),
            (1280, 720, 30, 3000, 128)
        );
        assert_eq!(e.key_frame_interval_s, 4.0);
        let d = c.describe();
        assert_eq!(d["SUMMARY_SERVICE_WEBHOOK_API_TOKEN"], "***");
        assert_eq!(d["RECORDING_ENCODING_FRAMERATE"], "30");
        for bad in [
            ("SUMMARY_SERVICE_VERSION", "3"),
            ("RECORDING_EVENT_PARSER_CLASS", "x.Parser"),
            ("SUMMARY_SERVICE_CLOUD_STORAGE_SIGNED_URL_EXPIRY_SECONDS", "700000"),
        ] {
            assert!(crate::config::from_pairs(&[bad]).is_err(), "{bad:?}");
        }
        let c = cfg(&[("RECORDING_DOWNLOAD_BASE_URL", "https://a/r/"), ("SCREEN_RECORDING_BASE_URL", "https://b")]);
        assert_eq!(c.recording.download_base(), Some("https://a/r"));
        assert!(!cfg(&[("RECORDING_VERIFY_SSL", "false")]).recording.verify_ssl, "legacy name still read");
        assert!(cfg(&[("RECORDING_VERIFY_SSL", "false"), ("LIVEKIT_VERIFY_SSL", "true")]).recording.verify_ssl);
    }

    #[test]
    fn rw_1_defaults_and_secrets_are_masked() {
        let c = cfg(&[("AWS_S3_SECRET_ACCESS_KEY", "s"), ("RECORDING_STORAGE_EVENT_TOKEN", "t")]);
        let r = &c.recording;
        assert_eq!((r.output_folder.as_str(), r.s3.bucket.as_str()), ("recordings", "meet-media-storage"));
        assert!(r.verify_ssl && r.storage_event_auth && !r.storage_event_enable);
        assert_eq!(r.s3.signing_region, "us-east-1");
        assert_eq!(r.email.from, "from@example.com");
        let d = c.describe();
        assert_eq!(d["AWS_S3_SECRET_ACCESS_KEY"], "***");
        assert_eq!(d["RECORDING_STORAGE_EVENT_TOKEN"], "***");
        let off = cfg(&[("RECORDING_ENABLE_STORAGE_EVENT_AUTH", "false")]);
        assert!(off.warnings.iter().any(|w| w.contains("RECORDING_ENABLE_STORAGE_EVENT_AUTH")), "S2 warning");
    }
}
