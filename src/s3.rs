//! The object store (S3 / MinIO), signed with AWS Signature V4 by `aws-sigv4`: the media-auth
//! headers (recordings §8.2, §12.3), presigned `PUT` URLs for browser uploads
//! (now-recordings-files §19.3), and the requests the backend makes itself: `HEAD` (the
//! reconciler, upload checks), ranged `GET`, `PUT`, `CopyObject` and `DELETE` (§27.2).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
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
    let encoded = encode_key(key);
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

/// How a request is signed: in its headers (`Authorization`), or in its query string (a
/// presigned URL valid for `expires`).
enum Location {
    Headers,
    Query(Duration),
}

/// Signs `method url` carrying `headers` (all of them signed, with `host`) and `body` at `time`;
/// returns the headers (header form) or query parameters (presigned form) to add, in order.
fn sign_with(
    s3: &S3Config,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: SignableBody<'_>,
    location: Location,
    time: SystemTime,
) -> Result<Vec<(String, String)>, S3Error> {
    let (Some(access_key), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) else {
        return Err(S3Error::NotConfigured);
    };
    let identity = Credentials::new(access_key, secret, None, None, "meet-settings").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    match location {
        Location::Headers => settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256,
        Location::Query(expires) => {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(expires);
        }
    }
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
    let all: Vec<(&str, &str)> =
        std::iter::once(("host", host.as_str())).chain(headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))).collect();
    let request =
        SignableRequest::new(method, url, all.into_iter(), body).map_err(|e| S3Error::Signing(e.to_string()))?;
    let (instructions, _) = sign(request, &params).map_err(|e| S3Error::Signing(e.to_string()))?.into_parts();
    let out: Vec<(String, String)> = match location {
        Location::Headers => instructions.headers().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect(),
        Location::Query(_) => instructions.params().iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    if out.is_empty() {
        return Err(S3Error::Signing("signer produced no signature".into()));
    }
    Ok(out)
}

/// Signs `method url` (empty payload) at `time` in header form (§8.2).
pub fn sign_request(s3: &S3Config, method: &str, url: &str, time: SystemTime) -> Result<SignedHeaders, S3Error> {
    let signed = sign_with(s3, method, url, &[], SignableBody::Bytes(&[]), Location::Headers, time)?;
    let mut out = SignedHeaders {
        authorization: String::new(),
        x_amz_date: String::new(),
        x_amz_content_sha256: EMPTY_SHA256.to_string(),
    };
    for (name, value) in signed {
        match name.as_str() {
            "authorization" => out.authorization = value,
            "x-amz-date" => out.x_amz_date = value,
            "x-amz-content-sha256" => out.x_amz_content_sha256 = value,
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

/// A presigned `PUT` of `key` (now-recordings-files §19.3): SigV4 in the query string, signed
/// headers exactly `host;x-amz-acl` (the browser sends `X-amz-acl: <acl>`), unsigned payload,
/// valid `expires` from `time`. `public_origin` (`AWS_S3_DOMAIN_REPLACE`) replaces the
/// endpoint's origin, for browsers that reach the store under another name.
pub fn presign_put(
    s3: &S3Config,
    public_origin: Option<&str>,
    key: &str,
    acl: &str,
    expires: Duration,
    time: SystemTime,
) -> Result<String, S3Error> {
    let url = match public_origin {
        Some(origin) => {
            let mut public = s3.clone();
            public.endpoint_url = Some(origin.trim_end_matches('/').to_string());
            object_url(&public, key)
        }
        None => object_url(s3, key),
    };
    let headers = [("x-amz-acl".to_string(), acl.to_string())];
    let params = sign_with(s3, "PUT", &url, &headers, SignableBody::UnsignedPayload, Location::Query(expires), time)?;
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, URI_SEGMENT),
                percent_encoding::utf8_percent_encode(v, URI_SEGMENT)
            )
        })
        .collect();
    Ok(format!("{url}?{}", query.join("&")))
}

/// What `HEAD` tells of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectHead {
    /// `Content-Length`.
    pub size: u64,
    /// `Content-Type`, when the store reports one.
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-<name>` headers, names without the prefix).
    pub metadata: BTreeMap<String, String>,
}

/// A `CopyObject` that replaces the copy's content type and user metadata
/// (`x-amz-metadata-directive: REPLACE`).
pub struct Replace<'a> {
    pub content_type: &'a str,
    pub metadata: &'a BTreeMap<String, String>,
}

/// Signed requests against the bucket: `HEAD`, ranged `GET`, `PUT`, `CopyObject`, `DELETE`.
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

    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// Sends a request signed in its headers; `headers` are sent and signed.
    async fn send(
        &self,
        method: reqwest::Method,
        key: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, S3Error> {
        let http = self.http.as_ref().ok_or_else(|| S3Error::Unreachable("no HTTP client".into()))?;
        let url = object_url(&self.config, key);
        let signed = sign_with(
            &self.config,
            method.as_str(),
            &url,
            &headers,
            SignableBody::Bytes(&body),
            Location::Headers,
            SystemTime::now(),
        )?;
        let mut rb = http.request(method.clone(), &url);
        for (k, v) in headers.iter().chain(signed.iter()) {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if !body.is_empty() || method == reqwest::Method::PUT {
            rb = rb.body(body);
        }
        tokio::time::timeout(self.config.timeout + Duration::from_millis(100), rb.send())
            .await
            .map_err(|_| S3Error::Unreachable(format!("{method} timed out")))?
            .map_err(|e| S3Error::Unreachable(e.to_string()))
    }

    /// Whether the object `key` exists (`HEAD`: 200 yes, 404 no, anything else an error).
    pub async fn exists(&self, key: &str) -> Result<bool, S3Error> {
        Ok(self.head(key).await?.is_some())
    }

    /// `HeadObject`: the object's size, type and metadata; `None` when it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectHead>, S3Error> {
        let resp = self.send(reqwest::Method::HEAD, key, Vec::new(), Vec::new()).await?;
        match resp.status().as_u16() {
            200..=299 => {}
            404 => return Ok(None),
            other => return Err(S3Error::Status(other)),
        }
        let h = resp.headers();
        let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let metadata = h
            .iter()
            .filter_map(|(k, v)| {
                let name = k.as_str().strip_prefix("x-amz-meta-")?;
                Some((name.to_string(), v.to_str().ok()?.to_string()))
            })
            .collect();
        Ok(Some(ObjectHead {
            size: text("content-length").and_then(|v| v.parse().ok()).unwrap_or(0),
            content_type: text("content-type"),
            metadata,
        }))
    }

    /// `GetObject` of at most the first `limit` bytes (`Range: bytes=0-<limit-1>` when the object
    /// is larger); `None` when it does not exist. Never reads more than `limit` bytes.
    pub async fn get_head_bytes(&self, key: &str, size: u64, limit: u64) -> Result<Option<Vec<u8>>, S3Error> {
        let headers = if size > limit { vec![("range".to_string(), format!("bytes=0-{}", limit - 1))] } else { vec![] };
        let mut resp = self.send(reqwest::Method::GET, key, headers, Vec::new()).await?;
        match resp.status().as_u16() {
            200..=299 => {}
            404 => return Ok(None),
            other => return Err(S3Error::Status(other)),
        }
        let mut out = Vec::new();
        while (out.len() as u64) < limit {
            match resp.chunk().await.map_err(|e| S3Error::Unreachable(e.to_string()))? {
                Some(chunk) => out.extend_from_slice(&chunk),
                None => break,
            }
        }
        out.truncate(limit as usize);
        Ok(Some(out))
    }

    /// `PutObject` of `body` with `content_type`.
    pub async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), S3Error> {
        let headers = vec![("content-type".to_string(), content_type.to_string())];
        let resp = self.send(reqwest::Method::PUT, key, headers, body).await?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            other => Err(S3Error::Status(other)),
        }
    }

    /// `CopyObject` of `from` onto `to` in the bucket (`to` may equal `from` with `replace`).
    /// False when `from` does not exist.
    pub async fn copy(&self, from: &str, to: &str, replace: Option<Replace<'_>>) -> Result<bool, S3Error> {
        let source = format!("{}/{}", self.config.bucket, encode_key(from));
        let mut headers = vec![("x-amz-copy-source".to_string(), source)];
        if let Some(r) = replace {
            headers.push(("content-type".into(), r.content_type.to_string()));
            headers.push(("x-amz-metadata-directive".into(), "REPLACE".into()));
            for (k, v) in r.metadata {
                headers.push((format!("x-amz-meta-{}", k.to_ascii_lowercase()), v.clone()));
            }
        }
        let resp = self.send(reqwest::Method::PUT, to, headers, Vec::new()).await?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            other => Err(S3Error::Status(other)),
        }
    }

    /// `DeleteObject` (idempotent: a missing object is not an error).
    pub async fn delete(&self, key: &str) -> Result<(), S3Error> {
        let resp = self.send(reqwest::Method::DELETE, key, Vec::new(), Vec::new()).await?;
        match resp.status().as_u16() {
            200..=299 | 404 => Ok(()),
            other => Err(S3Error::Status(other)),
        }
    }
}

/// `key` with each `/`-separated segment URI-encoded (S3's encoding of object paths).
pub fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|seg| percent_encoding::utf8_percent_encode(seg, URI_SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// A presigned `GET` URL of `key` (SigV4 in the query string, signed headers `host`, unsigned
/// payload), valid `expires` from `time`: what the summary service downloads (now-recordings
/// §12.5). Always on the backend's own endpoint (`AWS_S3_ENDPOINT_URL`).
pub fn presign_get_url(s3: &S3Config, key: &str, expires: Duration, time: SystemTime) -> Result<String, S3Error> {
    let url = object_url(s3, key);
    let params = sign_with(s3, "GET", &url, &[], SignableBody::UnsignedPayload, Location::Query(expires), time)?;
    let mut out = url::Url::parse(&url).map_err(|e| S3Error::Signing(e.to_string()))?;
    out.query_pairs_mut().extend_pairs(params);
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

    #[test]
    fn nf_cr_4_presigned_put_carries_exactly_the_six_query_parameters() {
        let c = config("http://minio:9000", "us-east-1");
        let key = "tmp/files/0b6a2b8e-8d0e-4f7e-9d38-1f8a5a0c1e11.png";
        let url = presign_put(&c, None, key, "private", Duration::from_secs(60), at_vector_time()).unwrap();
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, format!("http://minio:9000/meet-media-storage/{key}"));
        let names: Vec<&str> = query.split('&').map(|p| p.split_once('=').unwrap().0).collect();
        assert_eq!(
            names,
            [
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-Date",
                "X-Amz-Expires",
                "X-Amz-SignedHeaders",
                "X-Amz-Signature"
            ]
        );
        assert!(query.contains("X-Amz-Credential=meet%2F20250414%2Fus-east-1%2Fs3%2Faws4_request"), "{query}");
        assert!(query.contains("X-Amz-Date=20250414T123456Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-amz-acl"));
        let signature = query.rsplit_once("X-Amz-Signature=").unwrap().1;
        assert!(signature.len() == 64 && signature.chars().all(|ch| ch.is_ascii_hexdigit()));
        let other = presign_put(&c, None, key, "public-read", Duration::from_secs(60), at_vector_time()).unwrap();
        assert_ne!(other.rsplit_once('=').unwrap().1, signature, "the ACL is signed");
        let public =
            presign_put(&c, Some("https://s3.example.org/"), key, "private", Duration::from_secs(60), at_vector_time())
                .unwrap();
        assert!(public.starts_with(&format!("https://s3.example.org/meet-media-storage/{key}?")), "{public}");
    }
}
