//! File uploads (now-recordings-files §18–§23, NF-*): the app runs against the S3 double, which
//! verifies every signature as S3 does; the browser's upload goes through the presigned URL.

mod cleanup;
mod crud;
mod media;
mod upload;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::s3::S3Double;
use crate::support::{Resp, TestApp, TestClient};

pub const FILES: &str = "/api/v1.0/files/";
/// The first bytes of a PNG image.
pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00";

pub struct Rig {
    pub app: TestApp,
    pub s3: S3Double,
}

/// An app with uploads enabled, pointed at a fresh S3 double; `extra` settings win.
pub async fn rig(extra: &[(&str, &str)]) -> Rig {
    let s3 = S3Double::start().await;
    let mut vars: Vec<(String, String)> = s3.vars().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    vars.push(("FILE_UPLOAD_ENABLED".into(), "true".into()));
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k.to_string(), v.to_string()));
    }
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = TestApp::spawn_with(&pairs).await;
    Rig { app, s3 }
}

/// `FILE_UPLOAD_RESTRICTIONS` for background images with these limits.
pub fn restrictions(max_size: u64, max_count: u64, extensions: &[&str], mimetypes: &[&str]) -> String {
    let list = |items: &[&str]| items.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(", ");
    format!(
        "{{'background_image': {{'max_size': {max_size}, 'max_count_by_user': {max_count}, \
         'allowed_extensions': [{}], 'allowed_mimetypes': [{}]}}}}",
        list(extensions),
        list(mimetypes)
    )
}

pub fn detail(id: &str) -> String {
    format!("{FILES}{id}/")
}

pub fn upload_ended_path(id: &str) -> String {
    format!("{FILES}{id}/upload-ended/")
}

/// `POST /files/` of a background image named `filename`.
pub async fn create(client: &TestClient, filename: &str) -> Resp {
    client.post(FILES, &json!({"filename": filename, "type": "background_image"})).await
}

/// Creates a file and returns its representation (with `policy`).
pub async fn created(client: &TestClient, filename: &str) -> Value {
    let r = create(client, filename).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

/// What the browser does with `policy`: `PUT` with `X-amz-acl: private` and its content type.
pub async fn browser_put(policy: &str, body: &[u8], content_type: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .put(policy)
        .header("X-amz-acl", "private")
        .header("Content-Type", content_type)
        .body(body.to_vec())
        .send()
        .await
        .expect("PUT sent")
        .status()
}

/// Creates a file, uploads `body` through its policy and ends the upload.
pub async fn uploaded(client: &TestClient, filename: &str, body: &[u8], content_type: &str) -> (Value, Resp) {
    let file = created(client, filename).await;
    let status = browser_put(file["policy"].as_str().unwrap(), body, content_type).await;
    assert_eq!(status, 200, "presigned PUT refused");
    let r = client.post(&upload_ended_path(file["id"].as_str().unwrap()), &json!({})).await;
    (file, r)
}

pub fn id_of(file: &Value) -> Uuid {
    Uuid::parse_str(file["id"].as_str().unwrap()).unwrap()
}

pub async fn row(app: &TestApp, id: Uuid) -> Option<meet::store::files::File> {
    meet::store::files::get(&app.state.db, id).await.expect("file read")
}
