//! The object store (S3 / MinIO): AWS Signature V4 headers computed with `aws-sigv4` for the
//! media-auth answer (recordings §8.2, §12.3), and a signed `HEAD` used by the reconciler to
//! learn whether a recording's file exists (§11.3.4). The backend never uploads: LiveKit's egress
//! writes the objects.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;

use crate::config::recording::S3Config;

/// SHA-256 of the empty payload (the signed body of every request we sign).
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The three headers nginx copies onto the proxied request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    pub authorization: String,
    pub x_amz_date: String,
    pub x_amz_content_sha256: String,
}

/// Why signing or a `HEAD` failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("AWS_S3_ACCESS_KEY_ID and AWS_S3_SECRET_ACCESS_KEY are not set")]
    NotConfigured,
    #[error("cannot sign: {0}")]
    Signing(String),
    #[error("object store unreachable: {0}")]
    Unreachable(String),
    #[error("object store answered HTTP {0}")]
    Status(u16),
}

/// The object URL of `key`: path style under `AWS_S3_ENDPOINT_URL`, else AWS virtual-hosted.
pub fn object_url(s3: &S3Config, key: &str) -> String {
    let encoded: String = key
        .split('/')
        .map(|seg| percent_encoding::utf8_percent_encode(seg, URI_SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/");
    let encoded = encoded.trim_start_matches('/');
    match &s3.endpoint_url {
        Some(endpoint) => format!("{}/{}/{}", endpoint.trim_end_matches('/'), s3.bucket, encoded),
        None => format!("https://{}.s3.amazonaws.com/{}", s3.bucket, encoded),
    }
}

/// Characters kept as they are in a key segment (S3's URI encoding: unreserved only).
const URI_SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// `host[:port]` as the client sends it (port omitted when it is the scheme's default).
fn host_header(url: &str) -> Result<String, S3Error> {
    let u = url::Url::parse(url).map_err(|e| S3Error::Signing(format!("bad object URL: {e}")))?;
    let host = u.host_str().ok_or_else(|| S3Error::Signing("object URL without host".into()))?;
    Ok(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// Signs `method url` (empty payload) at `time` in header form (§8.2).
pub fn sign_request(s3: &S3Config, method: &str, url: &str, time: SystemTime) -> Result<SignedHeaders, S3Error> {
    let (Some(access_key), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) else {
        return Err(S3Error::NotConfigured);
    };
    let identity = Credentials::new(access_key, secret, None, None, "meet-settings").into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&s3.signing_region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| S3Error::Signing(e.to_string()))?
        .into();
    let host = host_header(url)?;
    let headers = [("host", host.as_str())];
    let request = SignableRequest::new(method, url, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| S3Error::Signing(e.to_string()))?;
    let (instructions, _) = sign(request, &params).map_err(|e| S3Error::Signing(e.to_string()))?.into_parts();
    let mut out = SignedHeaders {
        authorization: String::new(),
        x_amz_date: String::new(),
        x_amz_content_sha256: EMPTY_SHA256.to_string(),
    };
    for (name, value) in instructions.headers() {
        match name.to_ascii_lowercase().as_str() {
            "authorization" => out.authorization = value.to_string(),
            "x-amz-date" => out.x_amz_date = value.to_string(),
            "x-amz-content-sha256" => out.x_amz_content_sha256 = value.to_string(),
            _ => {}
        }
    }
    if out.authorization.is_empty() || out.x_amz_date.is_empty() {
        return Err(S3Error::Signing("signer produced no authorization".into()));
    }
    Ok(out)
}

/// The media-auth headers for a `GET` of `key`, signed now.
pub fn sign_get(s3: &S3Config, key: &str) -> Result<SignedHeaders, S3Error> {
    sign_request(s3, "GET", &object_url(s3, key), SystemTime::now())
}

/// Signed `HEAD` requests against the bucket.
#[derive(Clone)]
pub struct S3 {
    http: Option<reqwest::Client>,
    config: S3Config,
}

impl S3 {
    pub fn new(config: &S3Config) -> S3 {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| tracing::error!(error = %e, "cannot build the S3 HTTP client"))
            .ok();
        S3 { http, config: config.clone() }
    }

    /// Whether the object `key` exists (`HEAD`: 200 yes, 404 no, anything else an error).
    pub async fn exists(&self, key: &str) -> Result<bool, S3Error> {
        let http = self.http.as_ref().ok_or_else(|| S3Error::Unreachable("no HTTP client".into()))?;
        let url = object_url(&self.config, key);
        let signed = sign_request(&self.config, "HEAD", &url, SystemTime::now())?;
        let send = http
            .head(&url)
            .header("authorization", signed.authorization)
            .header("x-amz-date", signed.x_amz_date)
            .header("x-amz-content-sha256", signed.x_amz_content_sha256)
            .send();
        let resp = tokio::time::timeout(self.config.timeout + Duration::from_millis(100), send)
            .await
            .map_err(|_| S3Error::Unreachable("HEAD timed out".into()))?
            .map_err(|e| S3Error::Unreachable(e.to_string()))?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            other => Err(S3Error::Status(other)),
        }
    }
}

/// A presigned `GET` URL of `key` (SigV4 in the query string, signed headers `host`, unsigned
/// payload), valid `expires` from `time`: what the summary service downloads (now-recordings
/// §12.5). Always on the backend's own endpoint (`AWS_S3_ENDPOINT_URL`).
pub fn presign_get_url(s3: &S3Config, key: &str, expires: Duration, time: SystemTime) -> Result<String, S3Error> {
    use aws_sigv4::http_request::SignatureLocation;
    let (Some(access_key), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) else {
        return Err(S3Error::NotConfigured);
    };
    let identity = Credentials::new(access_key, secret, None, None, "meet-settings").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&s3.signing_region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| S3Error::Signing(e.to_string()))?
        .into();
    let url = object_url(s3, key);
    let host = host_header(&url)?;
    let headers = [("host", host.as_str())];
    let request = SignableRequest::new("GET", &url, headers.into_iter(), SignableBody::UnsignedPayload)
        .map_err(|e| S3Error::Signing(e.to_string()))?;
    let (instructions, _) = sign(request, &params).map_err(|e| S3Error::Signing(e.to_string()))?.into_parts();
    let mut out = url::Url::parse(&url).map_err(|e| S3Error::Signing(e.to_string()))?;
    {
        let mut q = out.query_pairs_mut();
        for (name, value) in instructions.params() {
            q.append_pair(name, value);
        }
    }
    Ok(out.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(endpoint: &str, region: &str) -> S3Config {
        S3Config {
            endpoint_url: Some(endpoint.into()),
            access_key_id: Some("meet".into()),
            secret_access_key: Some("password".into()),
            region: Some(region.into()),
            signing_region: region.into(),
            bucket: "meet-media-storage".into(),
            timeout: Duration::from_secs(1),
        }
    }

    fn at_vector_time() -> SystemTime {
        // 2025-04-14T12:34:56Z
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_744_634_096)
    }

    #[test]
    fn rma_12_signatures_match_the_spec_vectors() {
        let cases = [
            (
                "http://minio:9000",
                "us-east-1",
                "recordings/0b6a2b8e-8d0e-4f7e-9d38-1f8a5a0c1e11.mp4",
                "9ab9e17303e4ed9f7d6ff446ec63e6d9a654499f34b6c37a9470716520d78416",
            ),
            (
                "https://s3.example.org",
                "eu-west-3",
                "recordings/0b6a2b8e-8d0e-4f7e-9d38-1f8a5a0c1e11.ogg",
                "404e58a3d147baa4bee20624dbb007825f1a220cd4b01b0793b6dc3cf15ef68c",
            ),
        ];
        for (endpoint, region, key, signature) in cases {
            let c = config(endpoint, region);
            let url = object_url(&c, key);
            assert_eq!(url, format!("{endpoint}/meet-media-storage/{key}"));
            let h = sign_request(&c, "GET", &url, at_vector_time()).unwrap();
            assert_eq!(h.x_amz_date, "20250414T123456Z");
            assert_eq!(h.x_amz_content_sha256, EMPTY_SHA256);
            assert_eq!(
                h.authorization,
                format!(
                    "AWS4-HMAC-SHA256 Credential=meet/20250414/{region}/s3/aws4_request, \
                     SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}"
                ),
                "{endpoint}"
            );
        }
    }

    #[test]
    fn urls_without_endpoint_are_virtual_hosted() {
        let mut c = config("http://x", "us-east-1");
        c.endpoint_url = None;
        assert_eq!(object_url(&c, "recordings/a.mp4"), "https://meet-media-storage.s3.amazonaws.com/recordings/a.mp4");
    }
}
