//! `GET /files/media-auth/` (NF-MA, R-F6): nginx's sub-request; the answer's signature lets the
//! proxied `GET` through the S3 double.

use super::*;
use crate::support::TestClient;

const MEDIA_AUTH: &str = "/api/v1.0/files/media-auth/";

async fn media_auth(client: &TestClient, original: Option<&str>) -> crate::support::Resp {
    let mut rb = client.request(reqwest::Method::GET, MEDIA_AUTH);
    if let Some(o) = original {
        rb = rb.header("X-Original-URL", o);
    }
    TestClient::send(rb).await
}

#[tokio::test]
async fn nf_ma_1_2_the_creator_of_a_ready_file_gets_a_signature_the_store_accepts() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("viewer@example.com").await;
    let (file, r) = uploaded(&client, "view.png", PNG, "image/png").await;
    assert_eq!(r.status, 200);
    let id = file["id"].as_str().unwrap();
    let original = format!("http://localhost/media/files/{id}.png");
    assert_eq!(media_auth(&rig.app.client(), Some(&original)).await.status, 401);
    let r = media_auth(&client, Some(&original)).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, serde_json::json!("authorized")));
    let auth = r.header("authorization").unwrap().to_string();
    assert!(auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date"), "{auth}");
    let date = r.header("x-amz-date").unwrap().to_string();
    let signed_at = chrono::NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ").unwrap().and_utc();
    assert!((chrono::Utc::now() - signed_at).num_seconds().abs() < 60);
    // nginx forwards the signed GET to the store.
    let fetched = reqwest::Client::new()
        .get(format!("{}/{}/files/{id}.png", rig.s3.url, crate::support::s3::BUCKET))
        .header("authorization", auth)
        .header("x-amz-date", date)
        .header("x-amz-content-sha256", r.header("x-amz-content-sha256").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), PNG);
    // A bearer token is not enough: the session cookie only (§1.2).
    let bearer = rig.app.client();
    let rb = bearer.request(reqwest::Method::GET, MEDIA_AUTH).header("X-Original-URL", &original).bearer_auth("token");
    assert_eq!(TestClient::send(rb).await.status, 401);
}

#[tokio::test]
async fn nf_ma_3_to_5_and_r_f6_every_other_case_is_403() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("checks@example.com").await;
    let (_, other) = rig.app.logged_in("someone@example.com").await;
    let pending = created(&client, "pending.png").await;
    let pid = pending["id"].as_str().unwrap();
    let (ready, _) = uploaded(&client, "ready.png", PNG, "image/png").await;
    let rid = ready["id"].as_str().unwrap();
    let (theirs, _) = uploaded(&other, "theirs.png", PNG, "image/png").await;
    let tid = theirs["id"].as_str().unwrap();
    let unknown = uuid::Uuid::new_v4();
    let encoded: String =
        format!("http://localhost/media/files/{pid}.png").bytes().map(|b| format!("%{b:02X}")).collect();
    let cases = [
        ("no header", None),
        ("empty header", Some(String::new())),
        ("pending file", Some(format!("http://localhost/media/files/{pid}.png"))),
        ("pending file, whole URL percent-encoded", Some(encoded)),
        ("another user's ready file", Some(format!("http://localhost/media/files/{tid}.png"))),
        ("unknown id", Some(format!("http://localhost/media/files/{unknown}.png"))),
        ("R-F6: another extension", Some(format!("http://localhost/media/files/{rid}.jpg"))),
        ("R-F6: other letter case", Some(format!("http://localhost/media/files/{rid}.PNG"))),
        ("not a file path", Some(format!("http://localhost/media/recordings/{rid}.png"))),
    ];
    for (what, original) in cases {
        let r = media_auth(&client, original.as_deref()).await;
        assert_eq!(
            (r.status.as_u16(), r.json()),
            (403, serde_json::json!({"detail": "You do not have permission to perform this action."})),
            "{what}"
        );
    }
    assert_eq!(client.delete(&detail(rid)).await.status, 204);
    let r = media_auth(&client, Some(&format!("http://localhost/media/files/{rid}.png"))).await;
    assert_eq!(r.status, 403, "NF-MA-4: a soft-deleted file");
}
