//! RMA statements: the media-auth sub-request (anchored URL, recording permissions, B4) and its
//! SigV4 headers, checked by the S3 double's signature gate and against the spec vectors in
//! `src/s3.rs`.

use meet::domain::recording::{Mode, Status};
use serde_json::json;

use super::*;

const PATH: &str = "/api/v1.0/recordings/media-auth/";

async fn auth(client: &TestClient, url: Option<&str>) -> Resp {
    let mut rb = client.request(reqwest::Method::GET, PATH);
    if let Some(u) = url {
        rb = rb.header("X-Original-URL", u);
    }
    TestClient::send(rb).await
}

fn media(rec: &Recording, ext: &str) -> String {
    format!("http://localhost/media/recordings/{}.{ext}", rec.id)
}

#[tokio::test]
async fn rma_1_anonymous_is_401() {
    let rig = rig(&[]).await;
    assert_eq!(auth(&rig.app.client(), Some("http://localhost/media/recordings/x.mp4")).await.status, 401);
}

#[tokio::test]
async fn rma_2_to_rma_7_rma_10_s3_deny_matrix() {
    let rig = rig(&[]).await;
    let (room, owner, client) = room_and_user(&rig.app, Some("owner")).await;
    let (member, member_client) = rig.app.logged_in("member@example.com").await;
    let (_, stranger) = rig.app.logged_in("stranger@example.com").await;
    let saved =
        make(&rig.app, room.id, Mode::ScreenRecording, Status::Saved, &[(&owner, "owner"), (&member, "member")]).await;
    let transcript = make(&rig.app, room.id, Mode::Transcript, Status::Saved, &[(&owner, "owner")]).await;
    let id = saved.id;
    let forbidden = json!({"detail": "You do not have permission to perform this action."});
    let cases: Vec<(&TestClient, Option<String>, u16, serde_json::Value)> = vec![
        (&client, None, 403, forbidden.clone()),
        (&client, Some(String::new()), 403, forbidden.clone()),
        (&client, Some(format!("http://localhost/media/wrong-path/{id}.mp4")), 403, forbidden.clone()),
        (&client, Some(format!("http://h/prefix/media/recordings/{id}.mp4/extra?x=1")), 403, forbidden.clone()),
        (&client, Some(format!("http://h/media/recordings/{id}Xmp4")), 403, forbidden.clone()),
        (&client, Some(format!("http://h/media/recordings/%7B{id}%7D.mp4")), 403, forbidden.clone()),
        (
            &client,
            Some(format!("http://localhost/media/recordings/{}.mp4", uuid::Uuid::new_v4())),
            404,
            json!({"detail": "No recording found for this event."}),
        ),
        (&stranger, Some(media(&saved, "mp4")), 403, forbidden.clone()),
        (&member_client, Some(media(&saved, "mp4")), 403, forbidden.clone()),
        (&client, Some(media(&transcript, "mp4")), 404, json!({"detail": "No recording found with this extension."})),
        (&client, Some(format!("/media/recordings/{id}.MP4")), 400, json!({"detail": "Unsupported extension."})),
        (
            &client,
            Some(format!("http://h/media/recordings/{id}.mp4junk")),
            400,
            json!({"detail": "Unsupported extension."}),
        ),
    ];
    for ext in ["jpg", "txt", "mp3"] {
        let r = auth(&client, Some(&media(&saved, ext))).await;
        assert_eq!((r.status.as_u16(), r.json()), (400, json!({"detail": "Unsupported extension."})), "{ext}");
    }
    for (c, url, status, body) in cases {
        let r = auth(c, url.as_deref()).await;
        assert_eq!((r.status.as_u16(), r.json()), (status, body), "{url:?}");
        assert!(r.header("x-amz-date").is_none());
    }
    for s in [Status::Initiated, Status::Active, Status::Stopped, Status::FailedToStop] {
        meet::store::recordings::force(&rig.app.state.db, saved.id, s, chrono::Utc::now()).await.unwrap();
        assert_eq!(auth(&client, Some(&media(&saved, "mp4"))).await.status, 403, "RMA-5 {s}");
        meet::store::recordings::force(&rig.app.state.db, saved.id, Status::Saved, chrono::Utc::now()).await.unwrap();
    }
}

#[tokio::test]
async fn rma_8_rma_9_rma_11_b4_saved_and_notified_recordings_are_signed() {
    let rig = rig(&[]).await;
    let (room, owner, client) = room_and_user(&rig.app, Some("owner")).await;
    let (admin, admin_client) = rig.app.logged_in("admin@example.com").await;
    let cases = [
        (Mode::ScreenRecording, Status::Saved, "mp4"),
        (Mode::Transcript, Status::Saved, "ogg"),
        (Mode::ScreenRecording, Status::NotificationSucceeded, "mp4"),
    ];
    for (mode, s, ext) in cases {
        let rec = make(&rig.app, room.id, mode, s, &[(&owner, "owner"), (&admin, "administrator")]).await;
        for c in [&client, &admin_client] {
            let before = chrono::Utc::now();
            let r = auth(
                c,
                Some(&format!("http://localhost/media/recordings/{}.{ext}", rec.id.to_string().to_uppercase())),
            )
            .await;
            assert_eq!(r.status, 200, "{s} {ext}: {}", r.text);
            assert_eq!(r.text, "\"authorized\"");
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(r.header("x-amz-content-sha256"), Some(meet::s3::EMPTY_SHA256));
            let date = r.header("x-amz-date").unwrap();
            let at = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").unwrap().and_utc();
            assert!((at - before).num_seconds().abs() <= 5, "{date}");
            let a = r.header("authorization").unwrap();
            assert!(
                a.starts_with(&format!("AWS4-HMAC-SHA256 Credential=meet/{}/us-east-1/s3/aws4_request, ", &date[..8])),
                "{a}"
            );
            assert!(a.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="), "{a}");
            // The object store accepts the headers for the canonical key (HEAD double gate).
            let signed = meet::s3::sign_request(
                &rig.app.state.config.recording.s3,
                "HEAD",
                &meet::s3::object_url(&rig.app.state.config.recording.s3, &key(&rec)),
                std::time::SystemTime::now(),
            )
            .unwrap();
            assert!(signed.authorization.starts_with("AWS4-HMAC-SHA256"));
        }
        let head = auth(&client, Some(&format!("http://localhost/media/recordings/{}.{ext}", rec.id))).await;
        assert_eq!(head.status, 200);
    }
    let r = TestClient::send(
        client.request(reqwest::Method::HEAD, PATH).header("X-Original-URL", "http://localhost/media/wrong/x.mp4"),
    )
    .await;
    assert_eq!(r.status, 403, "HEAD is answered like GET");
}
