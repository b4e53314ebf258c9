//! A small Twirp client for LiveKit's server API: protobuf bodies, a `livekit-api` access token
//! carrying the grants each call needs, a timeout on every call, and errors returned (never
//! panicked) in two kinds: a Twirp error answer (`{"code", "msg"}`) or no usable answer at all.

use std::time::Duration;

use livekit_api::access_token::{AccessToken, SIPGrants, VideoGrants};
use prost::Message;

/// Why a LiveKit call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("LIVEKIT_API_URL is not set")]
    NotConfigured,
    /// LiveKit answered with a Twirp error (`{"code", "msg"}`).
    #[error("LiveKit client connection error, {code}: {msg}")]
    Twirp { code: String, msg: String },
    /// Nothing usable came back: connection refused, TLS, timeout, a proxy's error page.
    #[error("LiveKit unreachable: {0}")]
    Transport(String),
}

impl CallError {
    /// True for a Twirp `not_found` answer.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CallError::Twirp { code, .. } if code == "not_found")
    }
}

/// `ws(s)://` becomes `http(s)://`, trailing slashes go.
pub fn normalize(url: &str) -> String {
    let url = if let Some(rest) = url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        url.to_string()
    };
    url.trim_end_matches('/').to_string()
}

/// A Twirp client bound to one LiveKit server and key pair.
#[derive(Clone)]
pub struct Client {
    http: Option<reqwest::Client>,
    base: Option<String>,
    api_key: String,
    api_secret: String,
    timeout: Duration,
}

impl Client {
    /// `url` is `LIVEKIT_API_URL` (`None`: every call answers [`CallError::NotConfigured`]).
    pub fn new(url: Option<&str>, api_key: &str, api_secret: &str, timeout: Duration, verify_tls: bool) -> Client {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .tls_danger_accept_invalid_certs(!verify_tls)
            .build()
            .map_err(|e| tracing::error!(error = %e, "cannot build the LiveKit HTTP client"))
            .ok();
        Client {
            http,
            base: url.map(normalize),
            api_key: api_key.to_string(),
            api_secret: api_secret.to_string(),
            timeout,
        }
    }

    /// Posts `req` to `/twirp/livekit.<service>/<method>` with a token carrying `grants`.
    pub async fn call<Req: Message, Resp: Message + Default>(
        &self,
        service: &str,
        method: &str,
        grants: VideoGrants,
        req: Req,
    ) -> Result<Resp, CallError> {
        let token = AccessToken::with_api_key(&self.api_key, &self.api_secret).with_grants(grants);
        self.call_as(service, method, token, req).await
    }

    /// [`Client::call`] for the SIP service, whose calls need the SIP `admin` grant.
    pub async fn call_sip<Req: Message, Resp: Message + Default>(
        &self,
        method: &str,
        req: Req,
    ) -> Result<Resp, CallError> {
        let token = AccessToken::with_api_key(&self.api_key, &self.api_secret)
            .with_sip_grants(SIPGrants { admin: true, ..Default::default() });
        self.call_as("SIP", method, token, req).await
    }

    /// Posts `req` with the bearer `token` (signed here), timed in the metrics.
    async fn call_as<Req: Message, Resp: Message + Default>(
        &self,
        service: &str,
        method: &str,
        token: AccessToken,
        req: Req,
    ) -> Result<Resp, CallError> {
        crate::metrics::call("livekit", method, self.post(service, method, token, req)).await
    }

    async fn post<Req: Message, Resp: Message + Default>(
        &self,
        service: &str,
        method: &str,
        token: AccessToken,
        req: Req,
    ) -> Result<Resp, CallError> {
        let (Some(http), Some(base)) = (&self.http, &self.base) else { return Err(CallError::NotConfigured) };
        let token = token.to_jwt().map_err(|e| CallError::Transport(format!("cannot sign the request: {e}")))?;
        let send = http
            .post(format!("{base}/twirp/livekit.{service}/{method}"))
            .header("content-type", "application/protobuf")
            .bearer_auth(token)
            .body(req.encode_to_vec())
            .send();
        let resp = tokio::time::timeout(self.timeout, send)
            .await
            .map_err(|_| CallError::Transport(format!("{method} timed out")))?
            .map_err(|e| CallError::Transport(format!("{method}: {e}")))?;
        let status = resp.status();
        let body = tokio::time::timeout(self.timeout, resp.bytes())
            .await
            .map_err(|_| CallError::Transport(format!("{method} timed out")))?
            .map_err(|e| CallError::Transport(format!("{method}: {e}")))?;
        if status.is_success() {
            return Resp::decode(body).map_err(|e| CallError::Transport(format!("{method}: bad reply: {e}")));
        }
        #[derive(serde::Deserialize)]
        struct TwirpError {
            code: String,
            #[serde(default)]
            msg: String,
        }
        match serde_json::from_slice::<TwirpError>(&body) {
            Ok(e) => Err(CallError::Twirp { code: e.code, msg: e.msg }),
            Err(_) => Err(CallError::Transport(format!("{method}: HTTP {status} without a Twirp error body"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalized() {
        assert_eq!(normalize("wss://lk.example.org/"), "https://lk.example.org");
        assert_eq!(normalize("ws://lk.example.org"), "http://lk.example.org");
        assert_eq!(normalize("http://127.0.0.1:7880"), "http://127.0.0.1:7880");
    }
}
