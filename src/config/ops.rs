//! Operating settings of this implementation: the Prometheus endpoint and the periods of the
//! scheduled jobs (`service::scheduler::JOBS`, each declaring its own variable and default).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::Reader;

/// Metrics and scheduler settings.
#[derive(Clone, Debug)]
pub struct OpsConfig {
    /// `MEET_METRICS_ENABLED`: serve `GET /metrics` on the API listener. Default false.
    pub metrics_enabled: bool,
    /// `MEET_METRICS_BIND`: serve `GET /metrics` on a listener of its own at this address
    /// (then not on the API listener). Default none.
    pub metrics_bind: Option<SocketAddr>,
    /// `MEET_METRICS_TOKEN` (or `_FILE`): when set, `/metrics` requires
    /// `Authorization: Bearer <token>`. Default none.
    pub metrics_token: Option<String>,
    /// `MEET_SESSION_CACHE_TTL`: seconds a session and its user, once read, may be served from
    /// this instance's memory; every change is announced to all instances at once, so this only
    /// bounds what a change nobody announced (a command on an embedded database) takes to be
    /// seen. Default 5; 0 = read them on every request.
    pub session_cache_ttl: Duration,
    /// The period of each scheduled job by name (`MEET_<JOB>_PERIOD`, seconds; 0 = off).
    pub job_periods: BTreeMap<&'static str, Duration>,
}

impl OpsConfig {
    /// The period of the job `name` (zero when unknown or off).
    pub fn job_period(&self, name: &str) -> Duration {
        self.job_periods.get(name).copied().unwrap_or(Duration::ZERO)
    }
}

pub(super) fn read(r: &mut Reader<'_>) -> OpsConfig {
    let metrics_bind = r.opt_string("MEET_METRICS_BIND").and_then(|v| match v.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            r.errors.push(format!("MEET_METRICS_BIND: '{v}' is not an ADDRESS:PORT"));
            None
        }
    });
    let mut job_periods = BTreeMap::new();
    for job in crate::service::scheduler::JOBS {
        job_periods.insert(job.name, Duration::from_secs(r.uint(job.env, job.default_period)));
    }
    OpsConfig {
        metrics_enabled: r.bool("MEET_METRICS_ENABLED", false),
        metrics_bind,
        metrics_token: r.opt_string("MEET_METRICS_TOKEN").filter(|t| !t.is_empty()),
        session_cache_ttl: Duration::from_secs(r.uint("MEET_SESSION_CACHE_TTL", 5)),
        job_periods,
    }
}

pub(super) fn describe(c: &OpsConfig, m: &mut BTreeMap<&'static str, String>) {
    m.insert("MEET_METRICS_ENABLED", c.metrics_enabled.to_string());
    m.insert("MEET_METRICS_BIND", c.metrics_bind.map(|a| a.to_string()).unwrap_or_default());
    m.insert("MEET_METRICS_TOKEN", c.metrics_token.as_ref().map(|_| "***".into()).unwrap_or_default());
    m.insert("MEET_SESSION_CACHE_TTL", c.session_cache_ttl.as_secs().to_string());
    for job in crate::service::scheduler::JOBS {
        m.insert(job.env, c.job_period(job.name).as_secs().to_string());
    }
}

#[cfg(test)]
mod tests {
    use crate::config::from_pairs;

    #[test]
    fn metrics_are_off_and_jobs_hourly_by_default() {
        let c = from_pairs(&[]).unwrap().ops;
        assert!(!c.metrics_enabled && c.metrics_bind.is_none() && c.metrics_token.is_none());
        assert_eq!(c.job_period("purge-expired-sessions").as_secs(), 3600);
        assert_eq!(c.job_period("no-such-job").as_secs(), 0);
    }

    #[test]
    fn a_bad_metrics_address_and_a_bad_period_are_named() {
        let e = from_pairs(&[("MEET_METRICS_BIND", "nowhere"), ("MEET_PURGE_EXPIRED_SESSIONS_PERIOD", "-1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("MEET_METRICS_BIND") && e.contains("MEET_PURGE_EXPIRED_SESSIONS_PERIOD"), "{e}");
    }
}
