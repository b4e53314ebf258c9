//! Settings of the in-call integrations (now-rooms §8, §9, §11, §12, §20): e-mail invitations,
//! live subtitles, roomkit join and connection diagnostics, with Meet's names and defaults, plus
//! the `MEET_` knobs of this implementation's hardening (B-SEC-4, B-SEC-7) and of the job worker.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Rate, Reader};

/// In-call integration settings.
#[derive(Clone, Debug)]
pub struct InCallConfig {
    /// `DJANGO_EMAIL_APP_BASE_URL`: invitation links are `<this>/<slug>`. Default none (the
    /// invitation endpoint then answers 404, B-INV-2).
    pub email_app_base_url: Option<String>,
    /// `DJANGO_EMAIL_DOMAIN`: the link text of invitations is `<this>/<slug>`. Default none (the
    /// link itself is shown).
    pub email_domain: Option<String>,
    /// `MEET_INVITATION_MAX_RECIPIENTS`: longest `emails` list of one invitation (B-SEC-4).
    /// Default 50.
    pub invitation_max_recipients: usize,
    /// `MEET_INVITATION_THROTTLE_RATES`: invitations per user (B-SEC-4). Default `20/hour`.
    pub invitation_throttle_rate: Rate,
    /// `MEET_SUBTITLE_THROTTLE_RATES`: `start-subtitle` calls per LiveKit identity (B-SEC-7).
    /// Default `10/minute`.
    pub subtitle_throttle_rate: Rate,
    /// `ROOMKIT_SERVER_TO_SERVER_API_TOKEN` (or `_FILE`). Default none (roomkit always 401).
    pub roomkit_token: Option<String>,
    /// `ROOMKIT_JOIN_THROTTLE_RATES`. Default `300/minute`.
    pub roomkit_join_throttle_rate: Rate,
    /// `CONNECTION_TEST_TOKEN_TTL_SECONDS`. Default 300.
    pub connection_test_token_ttl: u64,
    /// `CONNECTION_TEST_ROOM_EXTRA_AGE_SECONDS`: the test room is deleted this long after its
    /// token expires. Default 10.
    pub connection_test_room_extra_age: u64,
    /// `CONNECTION_TEST_THROTTLE_RATES`. Default `30/minute`.
    pub connection_test_throttle_rate: Rate,
    /// `MEET_JOBS_INTERVAL_MS`: period of the background job worker (test-room deletion).
    /// Default 5000.
    pub jobs_interval: Duration,
}

pub(super) fn read(r: &mut Reader<'_>) -> InCallConfig {
    InCallConfig {
        email_app_base_url: r.opt_string("DJANGO_EMAIL_APP_BASE_URL"),
        email_domain: r.opt_string("DJANGO_EMAIL_DOMAIN"),
        invitation_max_recipients: r.uint("MEET_INVITATION_MAX_RECIPIENTS", 50usize).max(1),
        invitation_throttle_rate: r.rate("MEET_INVITATION_THROTTLE_RATES", "20/hour"),
        subtitle_throttle_rate: r.rate("MEET_SUBTITLE_THROTTLE_RATES", "10/minute"),
        roomkit_token: r.opt_string("ROOMKIT_SERVER_TO_SERVER_API_TOKEN"),
        roomkit_join_throttle_rate: r.rate("ROOMKIT_JOIN_THROTTLE_RATES", "300/minute"),
        connection_test_token_ttl: r.uint("CONNECTION_TEST_TOKEN_TTL_SECONDS", 300u64),
        connection_test_room_extra_age: r.uint("CONNECTION_TEST_ROOM_EXTRA_AGE_SECONDS", 10u64),
        connection_test_throttle_rate: r.rate("CONNECTION_TEST_THROTTLE_RATES", "30/minute"),
        jobs_interval: Duration::from_millis(r.uint("MEET_JOBS_INTERVAL_MS", 5000u64).max(10)),
    }
}

pub(super) fn describe(c: &InCallConfig, m: &mut BTreeMap<&'static str, String>) {
    let rate = |r: &Rate| format!("{}/{}s", r.requests, r.period.as_secs());
    m.insert("DJANGO_EMAIL_APP_BASE_URL", c.email_app_base_url.clone().unwrap_or_default());
    m.insert("DJANGO_EMAIL_DOMAIN", c.email_domain.clone().unwrap_or_default());
    m.insert("MEET_INVITATION_MAX_RECIPIENTS", c.invitation_max_recipients.to_string());
    m.insert("MEET_INVITATION_THROTTLE_RATES", rate(&c.invitation_throttle_rate));
    m.insert("MEET_SUBTITLE_THROTTLE_RATES", rate(&c.subtitle_throttle_rate));
    m.insert("ROOMKIT_SERVER_TO_SERVER_API_TOKEN", c.roomkit_token.as_ref().map(|_| "***".into()).unwrap_or_default());
    m.insert("ROOMKIT_JOIN_THROTTLE_RATES", rate(&c.roomkit_join_throttle_rate));
    m.insert("CONNECTION_TEST_TOKEN_TTL_SECONDS", c.connection_test_token_ttl.to_string());
    m.insert("CONNECTION_TEST_ROOM_EXTRA_AGE_SECONDS", c.connection_test_room_extra_age.to_string());
    m.insert("CONNECTION_TEST_THROTTLE_RATES", rate(&c.connection_test_throttle_rate));
    m.insert("MEET_JOBS_INTERVAL_MS", c.jobs_interval.as_millis().to_string());
}

#[cfg(test)]
mod tests {
    use crate::config::from_pairs;

    #[test]
    fn defaults_follow_the_reference() {
        let c = from_pairs(&[]).unwrap().incall;
        assert_eq!((c.connection_test_token_ttl, c.connection_test_room_extra_age), (300, 10));
        assert_eq!(c.roomkit_join_throttle_rate.requests, 300);
        assert_eq!(c.connection_test_throttle_rate.requests, 30);
        assert!(c.roomkit_token.is_none());
    }

    #[test]
    fn b_wh_3_an_empty_prefix_stops_the_start() {
        let e = from_pairs(&[("CONNECTION_TEST_ROOM_PREFIX", "")]).unwrap_err();
        assert!(e.0.iter().any(|m| m.starts_with("CONNECTION_TEST_ROOM_PREFIX")), "{e:?}");
    }
}
