//! The client address used as throttle identity (users-auth-rooms §5.12 with the S4 fix): the
//! peer address, or, behind `MEET_TRUSTED_PROXIES` proxies, the address the outermost trusted
//! proxy saw (the entry that many places from the right of `X-Forwarded-For`). Values a client
//! writes itself into `X-Forwarded-For` are never used.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::error::ApiError;
use crate::state::AppState;

/// The client address of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIp(pub String);

/// The pure rule: `peer` when no proxy is trusted or `X-Forwarded-For` is missing; otherwise the
/// `trusted`-th entry from the right of all `X-Forwarded-For` headers joined (the leftmost when
/// the list is shorter).
pub fn resolve(headers: &HeaderMap, peer: Option<SocketAddr>, trusted: usize) -> String {
    let peer_ip = peer.map(|p| p.ip().to_string()).unwrap_or_else(|| "unknown".into());
    if trusted == 0 {
        return peer_ip;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if entries.is_empty() {
        return peer_ip;
    }
    let index = entries.len().saturating_sub(trusted);
    entries[index].to_string()
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        Ok(ClientIp(resolve(&parts.headers, peer, state.config.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn s4_spoofed_entries_are_ignored() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        assert_eq!(resolve(&headers(&["1.2.3.4"]), Some(peer), 0), "10.0.0.1");
        assert_eq!(resolve(&headers(&["6.6.6.6, 1.2.3.4"]), Some(peer), 1), "1.2.3.4");
        assert_eq!(resolve(&headers(&["6.6.6.6, 1.2.3.4", "10.0.0.9"]), Some(peer), 2), "1.2.3.4");
        assert_eq!(resolve(&headers(&["1.2.3.4"]), Some(peer), 3), "1.2.3.4");
        assert_eq!(resolve(&headers(&[]), Some(peer), 1), "10.0.0.1");
    }
}
