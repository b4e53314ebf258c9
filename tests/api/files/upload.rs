//! `POST /files/{id}/upload-ended/` (NF-UP, R-F1–R-F5) and its fault cases: a store failure
//! after the copy, and a crash between "file copied" and "row updated".

use serde_json::json;

use super::*;

#[tokio::test]
async fn nf_up_png_through_the_presigned_url_becomes_ready_and_the_temporary_object_goes() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("png@example.com").await;
    let (file, r) = uploaded(&client, "beach.png", PNG, "application/octet-stream").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    let id = file["id"].as_str().unwrap();
    assert_eq!(body["upload_state"], "ready");
    assert_eq!(body["mimetype"], "image/png");
    assert_eq!(body["size"], PNG.len());
    assert_eq!(body["url"], format!("/media/files/{id}.png"));
    assert!(body.get("policy").is_none());
    // The copy is served with the detected type; the temporary object is gone (R-F1).
    let stored = rig.s3.object(&format!("files/{id}.png")).expect("final object");
    assert_eq!((stored.body.as_slice(), stored.content_type.as_str()), (PNG, "image/png"));
    assert_eq!(rig.s3.keys(), [format!("files/{id}.png")]);
    assert!(rig.s3.received().iter().all(|r| r.refused.is_none()), "every request was signed as S3 wants");
    let listed = client.get("/api/v1.0/files/?upload_state=ready").await.json();
    assert_eq!(listed["results"][0]["url"], format!("/media/files/{id}.png"));
}

#[tokio::test]
async fn nf_up_1_2_anonymous_strangers_and_files_not_pending() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("owner@example.com").await;
    let (_, stranger) = rig.app.logged_in("stranger@example.com").await;
    let (file, r) = uploaded(&client, "a.png", PNG, "image/png").await;
    assert_eq!(r.status, 200);
    let path = upload_ended_path(file["id"].as_str().unwrap());
    assert_eq!(rig.app.client().post(&path, &json!({})).await.status, 401);
    let r = stranger.post(&path, &json!({})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No File matches the given query."})));
    let r = client.post(&path, &json!({})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"file": "This action is only available for files in PENDING state."}))
    );
}

#[tokio::test]
async fn nf_up_3_and_nf_up_4_text_allowed_or_not() {
    let text_ok = restrictions(2_097_152, 10, &[".txt"], &["text/plain"]);
    let rig = rig(&[("FILE_UPLOAD_RESTRICTIONS", &text_ok)]).await;
    let (_, client) = rig.app.logged_in("text@example.com").await;
    let (file, r) = uploaded(&client, "my_file.txt", b"my prose", "text/plain").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.json()["mimetype"].as_str(), r.json()["size"].as_u64()), (Some("text/plain"), Some(8)));
    let stored = row(&rig.app, id_of(&file)).await.unwrap();
    assert_eq!(
        (stored.upload_state.as_str(), stored.mimetype.as_deref(), stored.size),
        ("ready", Some("text/plain"), Some(8))
    );

    let pdf_only = restrictions(2_097_152, 10, &[".txt"], &["application/pdf"]);
    let rig = super::rig(&[("FILE_UPLOAD_RESTRICTIONS", &pdf_only)]).await;
    let (_, client) = rig.app.logged_in("refused@example.com").await;
    let (file, r) = uploaded(&client, "my_file.txt", b"my prose", "text/plain").await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!(["The file type is not allowed."])));
    assert!(row(&rig.app, id_of(&file)).await.is_none(), "the row is gone");
    assert!(rig.s3.keys().is_empty(), "final and temporary objects are gone: {:?}", rig.s3.keys());
}

#[tokio::test]
async fn nf_up_5_restrictions_off_accept_any_type() {
    let rig = rig(&[("FILE_UPLOAD_APPLY_RESTRICTIONS", "false")]).await;
    let (_, client) = rig.app.logged_in("any@example.com").await;
    let (_, r) = uploaded(&client, "archive.bin", b"\x00\x01\x02", "application/octet-stream").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["mimetype"], "application/octet-stream");
}

#[tokio::test]
async fn nf_up_6_a_content_type_mismatch_rewrites_the_object_and_keeps_its_metadata() {
    let html_pdf = restrictions(2_097_152, 10, &[".pdf"], &["text/html", "application/pdf"]);
    let rig = rig(&[("FILE_UPLOAD_RESTRICTIONS", &html_pdf)]).await;
    let (_, client) = rig.app.logged_in("pdf@example.com").await;
    let file = created(&client, "my_file.pdf").await;
    let id = file["id"].as_str().unwrap();
    let bytes = b"<meta http-equiv=\"refresh\" content=\"0; url=https://example.org/\">";
    rig.s3.put_with_metadata(&format!("tmp/files/{id}.pdf"), bytes, "text/html", &[("foo", "bar")]);
    let r = client.post(&upload_ended_path(id), &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["mimetype"], "application/pdf");
    let stored = rig.s3.object(&format!("files/{id}.pdf")).unwrap();
    assert_eq!(stored.content_type, "application/pdf");
    assert_eq!(stored.metadata.get("foo").map(String::as_str), Some("bar"));
    let replaced = rig.s3.received().into_iter().filter(|r| r.headers.contains_key("x-amz-metadata-directive")).count();
    assert_eq!(replaced, 1, "one self-copy with REPLACE");
}

#[tokio::test]
async fn nf_up_7_9_and_r_f2_too_large_is_refused_before_any_copy() {
    let rig = rig(&[("FILE_UPLOAD_RESTRICTIONS", &restrictions(0, 10, &[".txt"], &["text/plain"]))]).await;
    let (_, client) = rig.app.logged_in("big@example.com").await;
    let (file, r) = uploaded(&client, "my_file.txt", b"my prose", "text/plain").await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!(["The file size is higher than the allowed max size."])));
    assert!(row(&rig.app, id_of(&file)).await.is_none());
    assert!(rig.s3.keys().is_empty(), "{:?}", rig.s3.keys());
    assert!(!rig.s3.received().iter().any(|r| r.headers.contains_key("x-amz-copy-source")), "R-F2: no copy");
}

#[tokio::test]
async fn r_f3_text_named_like_an_image_is_refused_by_the_default_rules() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("disguise@example.com").await;
    let (file, r) = uploaded(&client, "x.png", b"plain text, not an image", "image/png").await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!(["The file type is not allowed."])));
    assert!(row(&rig.app, id_of(&file)).await.is_none());
    let (_, r) = uploaded(&client, "photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg").await;
    assert_eq!((r.status.as_u16(), r.json()["mimetype"].as_str()), (200, Some("image/jpeg")));
}

#[tokio::test]
async fn nf_up_8_concurrent_calls_one_wins() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("race@example.com").await;
    let file = created(&client, "race.png").await;
    assert_eq!(browser_put(file["policy"].as_str().unwrap(), PNG, "image/png").await, 200);
    let path = upload_ended_path(file["id"].as_str().unwrap());
    let empty = json!({});
    let (a, b) = tokio::join!(client.post(&path, &empty), client.post(&path, &empty));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "{} / {}", a.text, b.text);
    let loser = if a.status == 400 { a } else { b };
    assert_eq!(loser.json(), json!({"file": "This action is only available for files in PENDING state."}));
    assert_eq!(row(&rig.app, id_of(&file)).await.unwrap().upload_state, "ready");
}

#[tokio::test]
async fn nf_up_10_and_r_f5_a_missing_upload_is_a_400_and_the_file_stays_pending() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("missing@example.com").await;
    let file = created(&client, "later.png").await;
    let path = upload_ended_path(file["id"].as_str().unwrap());
    let r = client.post(&path, &json!({})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"file": "The file was not uploaded."})));
    assert_eq!(row(&rig.app, id_of(&file)).await.unwrap().upload_state, "pending");
    assert_eq!(browser_put(file["policy"].as_str().unwrap(), PNG, "image/png").await, 200);
    assert_eq!(client.post(&path, &json!({})).await.status, 200);
}

#[tokio::test]
async fn fault_a_store_failure_after_the_copy_gives_the_file_back_and_a_retry_ends_it_once() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("flaky@example.com").await;
    let file = created(&client, "flaky.png").await;
    let id = file["id"].as_str().unwrap();
    assert_eq!(browser_put(file["policy"].as_str().unwrap(), PNG, "image/png").await, 200);
    // The tmp HEAD and the copy succeed, the GET of the copied object fails.
    rig.s3.fail_once("GET");
    let r = client.post(&upload_ended_path(id), &json!({})).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.json()["detail"].as_str().unwrap().contains("object store"));
    assert!(rig.s3.object(&format!("files/{id}.png")).is_some(), "the copy happened");
    assert_eq!(row(&rig.app, id_of(&file)).await.unwrap().upload_state, "pending");
    let r = client.post(&upload_ended_path(id), &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(rig.s3.keys(), [format!("files/{id}.png")], "one final object, no temporary one");
    let copies = rig.s3.received().iter().filter(|r| r.headers.contains_key("x-amz-copy-source")).count();
    assert_eq!(copies, 2, "the copy is simply redone");
}

#[tokio::test]
async fn fault_a_crash_between_copy_and_row_update_ends_with_the_file_and_its_objects_removed() {
    let rig = rig(&[]).await;
    let (user, client) = rig.app.logged_in("crash@example.com").await;
    let file = created(&client, "crash.png").await;
    let id = file["id"].as_str().unwrap();
    assert_eq!(browser_put(file["policy"].as_str().unwrap(), PNG, "image/png").await, 200);
    // What a process killed after the copy leaves: the row claimed, both objects present.
    let db = &rig.app.state.db;
    assert!(meet::store::files::claim(db, id_of(&file)).await.unwrap());
    rig.s3.put_object(&format!("files/{id}.png"), PNG, "image/png");
    let r = client.post(&upload_ended_path(id), &json!({})).await;
    assert_eq!(r.status, 400, "a stuck file answers the state error, never a 500");
    // The cleanup takes stuck `analyzing` uploads too (R-F4) once they are old enough.
    let young = meet::service::cleanup::clean_pending_files::run_with_hours(&rig.app.state, 24).await.unwrap();
    assert_eq!(young.processed, 0);
    let old = chrono::Utc::now() - chrono::Duration::hours(25);
    meet::store::files::set_times(db, id_of(&file), old, None).await.unwrap();
    let (a, b) = tokio::join!(
        meet::service::cleanup::clean_pending_files::run_with_hours(&rig.app.state, 24),
        meet::service::cleanup::clean_pending_files::run_with_hours(&rig.app.state, 24),
    );
    assert_eq!(a.unwrap().processed + b.unwrap().processed, 1, "removed once across overlapping passes");
    assert!(row(&rig.app, id_of(&file)).await.is_none());
    assert!(rig.s3.keys().is_empty(), "{:?}", rig.s3.keys());
    let live = meet::store::files::Filter { is_deleted: Some(false), ..Default::default() };
    assert_eq!(meet::store::files::count(db, user.id, &live).await.unwrap(), 0);
    let (_, r) = uploaded(&client, "again.png", PNG, "image/png").await;
    assert_eq!(r.status, 200, "the user uploads again");
}
