//! `POST /files/`, `GET /files/`, `PUT`/`PATCH`/`DELETE /files/{id}/` (NF-CR, NF-LS, NF-UPD,
//! NF-DEL).

use serde_json::json;
use uuid::Uuid;

use super::*;

#[tokio::test]
async fn nf_cr_1_and_nf_cr_7_anonymous_is_401_and_a_disabled_flag_is_404_for_everyone() {
    let rig = rig(&[]).await;
    let anon = rig.app.client();
    let r = anon.post(FILES, &json!({"filename": "a.png", "type": "background_image"})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (401, json!({"detail": "Authentication credentials were not provided."}))
    );
    assert_eq!(anon.get(FILES).await.status, 401);

    let off = super::rig(&[("FILE_UPLOAD_ENABLED", "false")]).await;
    let (_, client) = off.app.logged_in("off@example.com").await;
    for (who, c) in [("anonymous", off.app.client()), ("user", client.clone())] {
        let r = create(&c, "a.png").await;
        assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})), "{who} create");
        assert_eq!(c.get(FILES).await.status, 404, "{who} list");
        assert_eq!(c.get("/api/v1.0/files/media-auth/").await.status, 404, "{who} media-auth");
    }
    let count = meet::store::files::count(&off.app.state.db, Uuid::nil(), &Default::default()).await.unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn nf_cr_2_and_nf_cr_4_create_answers_the_file_and_a_presigned_put_of_its_temporary_key() {
    let rig = rig(&[]).await;
    let (user, client) = rig.app.logged_in("creator@example.com").await;
    let r =
        client.post(FILES, &json!({"title": "my file", "filename": "my_file.png", "type": "background_image"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let body = r.json();
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "created_at",
            "updated_at",
            "title",
            "type",
            "creator",
            "deleted_at",
            "hard_deleted_at",
            "filename",
            "upload_state",
            "mimetype",
            "size",
            "description",
            "url",
            "abilities",
            "policy"
        ]
    );
    assert_eq!(body["title"], "my file");
    assert_eq!(body["upload_state"], "pending");
    assert_eq!(body["url"], json!(null));
    assert_eq!(body["creator"], json!({"id": user.id, "full_name": user.full_name, "short_name": user.short_name}));
    let stored = row(&rig.app, id_of(&body)).await.expect("row");
    assert_eq!((stored.creator_id, stored.upload_state.as_str()), (Some(user.id), "pending"));

    let policy = url::Url::parse(body["policy"].as_str().unwrap()).unwrap();
    assert_eq!(policy.scheme(), "http");
    assert_eq!(policy.host_str(), Some("127.0.0.1"));
    assert_eq!(policy.path(), format!("/meet-media-storage/tmp/files/{}.png", body["id"].as_str().unwrap()));
    let params: Vec<(String, String)> = policy.query_pairs().into_owned().collect();
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-Signature",
            "X-Amz-SignedHeaders"
        ]
    );
    let get = |k: &str| params.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
    let date = get("X-Amz-Date");
    assert_eq!(get("X-Amz-Credential"), format!("meet/{}/us-east-1/s3/aws4_request", &date[..8]));
    let signed_at = chrono::NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ").unwrap().and_utc();
    assert!((chrono::Utc::now() - signed_at).num_seconds().abs() < 60, "X-Amz-Date is now");
    assert_eq!(get("X-Amz-Expires"), "60");
    assert_eq!(get("X-Amz-SignedHeaders"), "host;x-amz-acl");
    assert_eq!(get("X-Amz-Signature").len(), 64);
    assert!(body["policy"].as_str().unwrap().contains("X-Amz-SignedHeaders=host%3Bx-amz-acl"));

    // The store accepts the browser's PUT with the ACL header, and nothing else.
    assert_eq!(browser_put(body["policy"].as_str().unwrap(), PNG, "image/png").await, 200);
    let no_acl = reqwest::Client::new().put(body["policy"].as_str().unwrap()).body(PNG.to_vec()).send().await.unwrap();
    assert_eq!(no_acl.status(), 403, "x-amz-acl is a signed header");
    let tampered = body["policy"].as_str().unwrap().replace("tmp/files/", "files/");
    assert_eq!(browser_put(&tampered, PNG, "image/png").await, 403, "another key is refused");
}

#[tokio::test]
async fn nf_cr_3_5_6_8_field_and_extension_checks() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("fields@example.com").await;
    let r = client.post(FILES, &json!({"type": "background_image"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (400, json!({"filename": ["This field is required."]})));
    let r = client.post(FILES, &json!({"id": "nope", "title": "", "type": "foo", "filename": " "})).await;
    assert_eq!(
        r.json(),
        json!({
            "id": ["Must be a valid UUID."],
            "title": ["This field may not be blank."],
            "type": ["\"foo\" is not a valid choice."],
            "filename": ["This field may not be blank."],
        })
    );
    for name in ["file.notallowed", "file", ".file"] {
        let r = create(&client, name).await;
        assert_eq!(
            (r.status.as_u16(), r.json()),
            (400, json!({"filename": ["This file extension is not allowed."]})),
            "{name}"
        );
    }
    let fr = client.request(reqwest::Method::POST, FILES).header("Accept-Language", "fr").json(&json!({
        "filename": "x.gif", "type": "background_image"
    }));
    let r = TestClient::send(fr).await;
    assert_eq!(r.json(), json!({"filename": ["Cette extension n'est pas autorisée"]}));
    let r = created(&client, "file.JPG").await;
    assert_eq!((r["title"].as_str(), r["filename"].as_str()), (Some("file"), Some("file.JPG")));
    assert!(r["policy"].as_str().unwrap().contains(&format!("/tmp/files/{}.JPG?", r["id"].as_str().unwrap())));

    let open = super::rig(&[("FILE_UPLOAD_APPLY_RESTRICTIONS", "false")]).await;
    let (_, client) = open.app.logged_in("open@example.com").await;
    let r = created(&client, "file.notallowed").await;
    assert_eq!(r["title"], "file");
}

#[tokio::test]
async fn nf_cr_9_and_r_f8_the_per_user_limit_holds_under_parallel_creations() {
    let rig = rig(&[("FILE_UPLOAD_RESTRICTIONS", &restrictions(2_097_152, 1, &[".png"], &["image/png"]))]).await;
    let (user, client) = rig.app.logged_in("limit@example.com").await;
    let first = created(&client, "a.png").await;
    let r = create(&client, "b.png").await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (403, json!({"detail": "You have reached the maximum number of files for this type."}))
    );
    // A soft-deleted file no longer counts.
    assert_eq!(client.delete(&detail(first["id"].as_str().unwrap())).await.status, 204);
    let attempts = (0..6).map(|i| {
        let c = client.clone();
        async move { create(&c, &format!("p{i}.png")).await.status.as_u16() }
    });
    let statuses = futures_join(attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 403), "{statuses:?}");
    let live = meet::store::files::Filter { is_deleted: Some(false), ..Default::default() };
    assert_eq!(meet::store::files::count(&rig.app.state.db, user.id, &live).await.unwrap(), 1);
}

async fn futures_join<F: std::future::Future<Output = u16> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn nf_cr_10_and_nf_cr_11_forced_ids_and_concurrent_users() {
    let rig = rig(&[]).await;
    let (_, alice) = rig.app.logged_in("alice@example.com").await;
    let (_, bob) = rig.app.logged_in("bob@example.com").await;
    let id = Uuid::new_v4();
    let r = alice.post(FILES, &json!({"id": id, "filename": "a.png", "type": "background_image"})).await;
    assert_eq!((r.status.as_u16(), r.json()["id"].clone()), (201, json!(id)));
    let r = bob.post(FILES, &json!({"id": id, "filename": "b.png", "type": "background_image"})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"id": ["A file with this ID already exists. You cannot override it."]}))
    );
    let (a, b) = tokio::join!(create(&alice, "x.png"), create(&bob, "y.png"));
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (201, 201));
}

#[tokio::test]
async fn nf_ls_1_2_list_shape_and_scope() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("lister@example.com").await;
    let (_, other) = rig.app.logged_in("other@example.com").await;
    let empty = client.get(FILES).await;
    assert_eq!(empty.json(), json!({"count": 0, "next": null, "previous": null, "results": []}));
    let mine = created(&client, "mine.png").await;
    let gone = created(&client, "gone.png").await;
    meet::store::files::hard_delete(&rig.app.state.db, id_of(&gone)).await.unwrap();
    created(&other, "theirs.png").await;
    let list = client.get(FILES).await.json();
    assert_eq!(list["count"], 1);
    let item = &list["results"][0];
    let mut expected = mine.clone();
    expected.as_object_mut().unwrap().remove("policy");
    assert_eq!(item, &expected, "the list shape is the create shape without policy");
    assert_eq!(item["size"], json!(null));
    assert!(item["abilities"].as_object().unwrap().values().all(|v| v == true));
    // R-F13: the frontend's unslashed call is redirected with its query.
    let r = client.get("/api/v1.0/files?page=1&page_size=20&is_creator_me=true").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/api/v1.0/files/?page=1&page_size=20&is_creator_me=true"));
}

#[tokio::test]
async fn nf_ls_3_to_7_pagination_filters_and_ordering() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("filters@example.com").await;
    let a = created(&client, "a.png").await;
    let b = created(&client, "b.png").await;
    let c = created(&client, "c.png").await;
    let db = &rig.app.state.db;
    let now = chrono::Utc::now();
    for (f, hours) in [(&a, 3), (&b, 2), (&c, 1)] {
        meet::store::files::set_times(db, id_of(f), now - chrono::Duration::hours(hours), None).await.unwrap();
    }
    let page1 = client.get("/api/v1.0/files/?page_size=2").await.json();
    assert_eq!(page1["count"], 3);
    let host = rig.app.addr;
    assert_eq!(page1["next"], format!("http://{host}/api/v1.0/files/?page=2&page_size=2"));
    let page2 = client.get("/api/v1.0/files/?page=2&page_size=2").await.json();
    assert_eq!(page2["previous"], format!("http://{host}/api/v1.0/files/?page_size=2"));

    let ids = |v: serde_json::Value| -> Vec<String> {
        v["results"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
    };
    let name = |f: &serde_json::Value| f["id"].as_str().unwrap().to_string();
    assert_eq!(ids(client.get(FILES).await.json()), [name(&c), name(&b), name(&a)], "default -updated_at");
    assert_eq!(ids(client.get("/api/v1.0/files/?ordering=created_at").await.json()), [name(&a), name(&b), name(&c)]);
    assert_eq!(ids(client.get("/api/v1.0/files/?ordering=-created_at").await.json()), [name(&c), name(&b), name(&a)]);
    assert_eq!(ids(client.get("/api/v1.0/files/?ordering=updated_at").await.json()), [name(&a), name(&b), name(&c)]);
    assert_eq!(ids(client.get("/api/v1.0/files/?ordering=-title").await.json()), [name(&c), name(&b), name(&a)]);
    assert_eq!(ids(client.get("/api/v1.0/files/?ordering=nonsense").await.json()).len(), 3);

    meet::store::files::set_state(db, id_of(&b), "ready").await.unwrap();
    assert_eq!(client.delete(&detail(&name(&c))).await.status, 204);
    let q = |query: &str| format!("/api/v1.0/files/?{query}");
    assert_eq!(ids(client.get(&q("type=background_image&upload_state=ready")).await.json()), [name(&b)]);
    assert_eq!(ids(client.get(&q("is_deleted=true")).await.json()), [name(&c)]);
    assert_eq!(ids(client.get(&q("is_deleted=false&ordering=title")).await.json()), [name(&a), name(&b)]);
    assert_eq!(ids(client.get(&q("is_creator_me=true&foo=bar")).await.json()).len(), 3);
    assert_eq!(ids(client.get(&q("is_creator_me=invalid")).await.json()).len(), 3);
    assert_eq!(ids(client.get(&q("is_creator_me=false")).await.json()).len(), 0);
    let r = client.get(&q("type=unknown")).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"type": ["Select a valid choice. unknown is not one of the available choices."]}))
    );
    let r = client.get(&q("upload_state=done")).await;
    assert_eq!(r.json(), json!({"upload_state": ["Select a valid choice. done is not one of the available choices."]}));
}

#[tokio::test]
async fn nf_upd_1_2_edits_by_the_creator_only() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("editor@example.com").await;
    let (_, other) = rig.app.logged_in("intruder@example.com").await;
    let f = created(&client, "edit.png").await;
    let path = detail(f["id"].as_str().unwrap());
    let r = rig.app.client().put(&path, &json!({"title": "x", "type": "background_image"})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (401, json!({"detail": "Authentication credentials were not provided."}))
    );
    let r =
        client.patch(&path, &json!({"title": "new title", "description": "a beach", "filename": "ignored.png"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!((body["title"].as_str(), body["description"].as_str()), (Some("new title"), Some("a beach")));
    assert_eq!(body["filename"], "edit.png");
    let stored = row(&rig.app, id_of(&f)).await.unwrap();
    assert_eq!((stored.title.as_str(), stored.description.as_deref()), ("new title", Some("a beach")));
    let r = client.put(&path, &json!({"description": null})).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (400, json!({"title": ["This field is required."], "type": ["This field is required."]}))
    );
    let r = other.patch(&path, &json!({"title": "mine now"})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "No File matches the given query."})));
    let r = client.patch(&detail("not-a-uuid"), &json!({})).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})));
}

#[tokio::test]
async fn nf_del_1_2_delete_is_soft_and_once() {
    let rig = rig(&[]).await;
    let (_, client) = rig.app.logged_in("deleter@example.com").await;
    let f = created(&client, "del.png").await;
    let path = detail(f["id"].as_str().unwrap());
    assert_eq!(rig.app.client().delete(&path).await.status, 401);
    let r = client.delete(&path).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (204, ""));
    let stored = row(&rig.app, id_of(&f)).await.expect("row kept");
    assert!(stored.deleted_at.is_some() && stored.hard_deleted_at.is_none());
    let r = client.delete(&path).await;
    assert_eq!((r.status.as_u16(), r.json()), (404, json!({"detail": "Not found."})));
    let r = client.patch(&path, &json!({"title": "x"})).await;
    assert_eq!(r.status, 404, "a soft-deleted file refuses every route");
    let listed = client.get(FILES).await.json();
    assert_eq!(listed["results"][0]["abilities"]["destroy"], false);
    assert!(listed["results"][0]["deleted_at"].is_string());
}
