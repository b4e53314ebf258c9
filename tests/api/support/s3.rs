//! An S3 double (path style, as MinIO): `PUT` (upload, or `CopyObject` with
//! `x-amz-copy-source`), `HEAD`, `GET` (with `Range`), `DELETE`, and CORS preflights. Every
//! request must carry a valid AWS Signature V4, verified here from scratch with S3's rules:
//! in the headers (`Authorization`, `x-amz-date`, `x-amz-content-sha256` matching the body) or
//! in the query string (presigned URLs: expiry, unsigned payload); every `x-amz-*` header must
//! be signed, and `host` always. A bad signature is a 403. Every request is recorded, and a test
//! can take the store down or fail one method.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};

pub const BUCKET: &str = "meet-media-storage";
pub const ACCESS_KEY: &str = "meet";
pub const SECRET_KEY: &str = "password";

/// A stored object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object {
    pub body: Vec<u8>,
    pub content_type: String,
    pub metadata: BTreeMap<String, String>,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    /// Why the signature was refused, if it was.
    pub refused: Option<String>,
}

#[derive(Default)]
struct Inner {
    objects: HashMap<String, Object>,
    requests: Vec<Received>,
    down: bool,
    /// Methods answered 500 (once each) before anything else.
    fail_once: Vec<String>,
}

#[derive(Clone)]
pub struct S3Double {
    pub addr: SocketAddr,
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl S3Double {
    pub async fn start() -> S3Double {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        S3Double { addr, url: format!("http://{addr}"), inner }
    }

    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_S3_ENDPOINT_URL", self.url.clone()),
            ("AWS_S3_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_S3_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_STORAGE_BUCKET_NAME", BUCKET.into()),
        ]
    }

    /// Stores an empty object at `key` (in the test bucket).
    pub fn put(&self, key: &str) {
        self.put_object(key, b"", "binary/octet-stream");
    }

    /// Stores `body` at `key` with `content_type`.
    pub fn put_object(&self, key: &str, body: &[u8], content_type: &str) {
        let object = Object { body: body.to_vec(), content_type: content_type.into(), metadata: BTreeMap::new() };
        self.inner.lock().unwrap().objects.insert(format!("/{BUCKET}/{key}"), object);
    }

    /// Stores an object with user metadata.
    pub fn put_with_metadata(&self, key: &str, body: &[u8], content_type: &str, metadata: &[(&str, &str)]) {
        let metadata = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let object = Object { body: body.to_vec(), content_type: content_type.into(), metadata };
        self.inner.lock().unwrap().objects.insert(format!("/{BUCKET}/{key}"), object);
    }

    /// The object at `key`, if any.
    pub fn object(&self, key: &str) -> Option<Object> {
        self.inner.lock().unwrap().objects.get(&format!("/{BUCKET}/{key}")).cloned()
    }

    /// The keys of the bucket, sorted.
    pub fn keys(&self) -> Vec<String> {
        let prefix = format!("/{BUCKET}/");
        let mut keys: Vec<String> = self
            .inner
            .lock()
            .unwrap()
            .objects
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect();
        keys.sort();
        keys
    }

    pub fn set_down(&self, down: bool) {
        self.inner.lock().unwrap().down = down;
    }

    /// The next `method` request answers 500.
    pub fn fail_once(&self, method: &str) {
        self.inner.lock().unwrap().fail_once.push(method.to_string());
    }

    /// `(method, path)` of every request received.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().requests.iter().map(|r| (r.method.clone(), r.path.clone())).collect()
    }

    /// Every request received, in full.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().requests.clone()
    }
}

fn error(status: StatusCode, code: &str) -> Response {
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code></Error>");
    (status, [("content-type", "application/xml")], body).into_response()
}

fn cors(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert("access-control-allow-methods", HeaderValue::from_static("GET, PUT, HEAD"));
    h.insert("access-control-allow-headers", HeaderValue::from_static("*"));
    h.insert("access-control-expose-headers", HeaderValue::from_static("ETag"));
    resp
}

async fn handle(State(inner): State<Arc<Mutex<Inner>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let refused =
        if method == Method::OPTIONS { None } else { verify(&method, &path, &query, &parts.headers, &body).err() };
    let mut inner = inner.lock().unwrap();
    inner.requests.push(Received {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: parts.headers.clone(),
        refused: refused.clone(),
    });
    if method == Method::OPTIONS {
        return cors(StatusCode::OK.into_response());
    }
    if inner.down {
        return error(StatusCode::SERVICE_UNAVAILABLE, "SlowDown");
    }
    if let Some(i) = inner.fail_once.iter().position(|m| *m == method.as_str()) {
        inner.fail_once.remove(i);
        return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError");
    }
    if refused.is_some() {
        return cors(error(StatusCode::FORBIDDEN, "SignatureDoesNotMatch"));
    }
    let key = percent_encoding::percent_decode_str(&path).decode_utf8_lossy().to_string();
    let resp = match method {
        Method::PUT => match parts.headers.get("x-amz-copy-source").and_then(|v| v.to_str().ok()) {
            Some(source) => copy(&mut inner, &key, source, &parts.headers),
            None => {
                let object = Object {
                    body: body.to_vec(),
                    content_type: header(&parts.headers, "content-type").unwrap_or("binary/octet-stream").into(),
                    metadata: user_metadata(&parts.headers),
                };
                inner.objects.insert(key, object);
                (StatusCode::OK, [("etag", "\"etag\"")]).into_response()
            }
        },
        Method::HEAD | Method::GET => match inner.objects.get(&key) {
            None => error(StatusCode::NOT_FOUND, "NoSuchKey"),
            Some(o) => read(o, method == Method::HEAD, header(&parts.headers, "range")),
        },
        Method::DELETE => {
            inner.objects.remove(&key);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
    };
    cors(resp)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn user_metadata(h: &HeaderMap) -> BTreeMap<String, String> {
    h.iter()
        .filter_map(|(k, v)| Some((k.as_str().strip_prefix("x-amz-meta-")?.to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

fn copy(inner: &mut Inner, key: &str, source: &str, h: &HeaderMap) -> Response {
    let source = percent_encoding::percent_decode_str(source).decode_utf8_lossy().to_string();
    let source = format!("/{}", source.trim_start_matches('/'));
    let Some(mut object) = inner.objects.get(&source).cloned() else {
        return error(StatusCode::NOT_FOUND, "NoSuchKey");
    };
    match header(h, "x-amz-metadata-directive") {
        Some("REPLACE") => {
            object.content_type = header(h, "content-type").unwrap_or("binary/octet-stream").into();
            object.metadata = user_metadata(h);
        }
        _ if source == key => return error(StatusCode::BAD_REQUEST, "InvalidRequest"),
        _ => {}
    }
    inner.objects.insert(key.to_string(), object);
    let xml = "<CopyObjectResult><ETag>\"etag\"</ETag></CopyObjectResult>";
    (StatusCode::OK, [("content-type", "application/xml")], xml).into_response()
}

fn read(o: &Object, head_only: bool, range: Option<&str>) -> Response {
    let total = o.body.len();
    let (status, slice) = match range.and_then(|r| r.strip_prefix("bytes=")).and_then(|r| r.split_once('-')) {
        Some((a, b)) if !head_only => {
            let start: usize = a.parse().unwrap_or(0);
            let end: usize = b.parse::<usize>().unwrap_or(total.saturating_sub(1)).min(total.saturating_sub(1));
            (StatusCode::PARTIAL_CONTENT, o.body.get(start..=end).unwrap_or(&[]).to_vec())
        }
        _ => (StatusCode::OK, o.body.clone()),
    };
    let mut resp = if head_only {
        let mut r = status.into_response();
        r.headers_mut().insert("content-length", HeaderValue::from(total));
        r
    } else {
        (status, Bytes::from(slice)).into_response()
    };
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_str(&o.content_type).unwrap());
    for (k, v) in &o.metadata {
        h.insert(
            axum::http::HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    resp
}

// ---- SigV4, as S3 checks it -------------------------------------------------------------------

const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn uri_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, data.as_bytes()).as_ref().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The SigV4 signature of a canonical request (the whole AWS algorithm).
pub fn signature(secret: &str, amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()));
    let mut parts = scope.split('/');
    let (date, region, service) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    let k_signing = hmac(&k_service, "aws4_request");
    hex::encode(hmac(&k_signing, &string_to_sign))
}

fn parse_amz_date(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").ok().map(|t| t.and_utc())
}

/// Checks the request's signature; the reason when it is refused.
fn verify(method: &Method, path: &str, query: &str, h: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let presigned = params.iter().any(|(k, _)| k == "X-Amz-Signature");
    let (credential, signed_headers, given, amz_date, payload_hash) = if presigned {
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        if get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
            return Err("algorithm".into());
        }
        let date = get("X-Amz-Date");
        let expires: i64 = get("X-Amz-Expires").parse().map_err(|_| "X-Amz-Expires".to_string())?;
        let start = parse_amz_date(&date).ok_or("X-Amz-Date")?;
        if !(1..=604_800).contains(&expires) || chrono::Utc::now() > start + chrono::Duration::seconds(expires) {
            return Err("Request has expired".into());
        }
        let out = (get("X-Amz-Credential"), get("X-Amz-SignedHeaders"), get("X-Amz-Signature"), date);
        params.retain(|(k, _)| k != "X-Amz-Signature");
        (out.0, out.1, out.2, out.3, "UNSIGNED-PAYLOAD".to_string())
    } else {
        let auth = header(h, "authorization").ok_or("no Authorization")?;
        let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or("algorithm")?;
        let mut fields = HashMap::new();
        for part in rest.split(',') {
            if let Some((k, v)) = part.trim().split_once('=') {
                fields.insert(k.to_string(), v.to_string());
            }
        }
        let date = header(h, "x-amz-date").ok_or("no x-amz-date")?.to_string();
        let start = parse_amz_date(&date).ok_or("x-amz-date")?;
        if (chrono::Utc::now() - start).num_seconds().abs() > 900 {
            return Err("RequestTimeTooSkewed".into());
        }
        let hash = header(h, "x-amz-content-sha256").ok_or("no x-amz-content-sha256")?.to_string();
        if hash != "UNSIGNED-PAYLOAD" && hash != sha256_hex(body) {
            return Err("XAmzContentSHA256Mismatch".into());
        }
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        (get("Credential"), get("SignedHeaders"), get("Signature"), date, hash)
    };
    let (access_key, scope) = credential.split_once('/').ok_or("credential")?;
    if access_key != ACCESS_KEY {
        return Err("InvalidAccessKeyId".into());
    }
    if !scope.starts_with(&amz_date[..8.min(amz_date.len())]) || !scope.ends_with("/s3/aws4_request") {
        return Err("credential scope".into());
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"host") {
        return Err("host not signed".into());
    }
    for name in h.keys() {
        let n = name.as_str();
        if n.starts_with("x-amz-") && !names.contains(&n) && !(presigned && n == "x-amz-content-sha256") {
            return Err(format!("header {n} present but not signed"));
        }
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let values: Vec<String> = h
            .get_all(*name)
            .iter()
            .map(|v| v.to_str().unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if values.is_empty() {
            return Err(format!("signed header {name} missing"));
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (uri_encode(k), uri_encode(v))).collect();
    encoded.sort();
    let canonical_query = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let canonical_request =
        format!("{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
    if signature(SECRET_KEY, &amz_date, scope, &canonical_request) != given {
        return Err("SignatureDoesNotMatch".into());
    }
    Ok(())
}
