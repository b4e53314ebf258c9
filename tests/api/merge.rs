//! `meet merge-duplicate-users` (now-external-api §11, NM-MRG): users sharing an e-mail are folded
//! into one, one transaction per group, with the fix W31 (a user with a `sub` is kept).

use meet::domain::recording::Status;
use meet::service::merge::{self, Options, Report};
use meet::store::users::{self, NewUser, User};
use meet::store::{accesses, recordings, Backend, Q};
use uuid::Uuid;

use crate::support::rooms::{add_access, create_room};
use crate::support::TestApp;

async fn user(app: &TestApp, email: Option<&str>, sub: Option<&str>) -> User {
    let new = NewUser { sub: sub.map(str::to_string), email: email.map(str::to_string), ..Default::default() };
    let u = users::create(&app.state.db, new, "en-us").await.expect("user");
    // Distinct creation times, so that "newest" is unambiguous on both databases.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    u
}

async fn run(app: &TestApp, opts: Options) -> (Report, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let report = merge::merge_duplicates(&app.state.db, &opts, &mut out, &mut err).await.expect("merge ran");
    (report, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

async fn exists(app: &TestApp, u: &User) -> bool {
    users::get(&app.state.db, u.id).await.unwrap().is_some()
}

async fn role(app: &TestApp, u: &User, room: Uuid) -> Option<String> {
    accesses::role_of(&app.state.db, u.id, room).await.unwrap()
}

#[tokio::test]
async fn nm_mrg_1_nm_mrg_2_w31_newest_is_kept_lowercased_unless_an_older_one_has_a_sub() {
    let app = TestApp::spawn().await;
    let old = user(&app, Some("Dup@example.com"), Some("old-sub")).await;
    let new = user(&app, Some("dup@example.com"), Some("new-sub")).await;
    let (report, out, err) = run(&app, Options::default()).await;
    assert_eq!(report.changed.len(), 2, "the kept and the deleted user are announced");
    assert_eq!(report, Report { groups: 1, deleted: 1, failed: vec![], changed: report.changed.clone() }, "{out}{err}");
    assert!(!exists(&app, &old).await && exists(&app, &new).await, "NM-MRG-1");
    assert!(out.contains("[INFO] Found 1 email(s) with duplicate users."), "{out}");
    assert!(out.contains(&format!("[INFO] Email 'dup@example.com': 2 users — keeping {}", new.id)), "{out}");
    assert!(out.contains(&format!("       stale: {} (created ", old.id)), "{out}");
    assert!(out.trim_end().ends_with("[DONE] Merged 1 group(s), deleted 1 user(s)."), "{out}");

    // NM-MRG-2: the kept e-mail ends lower-case.
    let a = user(&app, Some("case@example.com"), Some("case-a")).await;
    let b = user(&app, Some("CASE@Example.com"), Some("case-b")).await;
    run(&app, Options::default()).await;
    assert!(!exists(&app, &a).await);
    let kept = users::get(&app.state.db, b.id).await.unwrap().unwrap();
    assert_eq!(kept.email.as_deref(), Some("case@example.com"));

    // W31: a newer provisional user does not win over the person's linked account.
    let linked = user(&app, Some("person@example.com"), Some("person-sub")).await;
    let provisional = user(&app, Some("Person@example.com"), None).await;
    run(&app, Options::default()).await;
    assert!(exists(&app, &linked).await && !exists(&app, &provisional).await, "W31");
}

#[tokio::test]
async fn nm_mrg_3_nm_mrg_4_accesses_move_and_the_higher_role_wins() {
    let app = TestApp::spawn().await;
    let stale = user(&app, Some("roles@example.com"), Some("roles-old")).await;
    let kept = user(&app, Some("roles@example.com"), Some("roles-new")).await;
    let only_stale = create_room(&app, "only stale", "restricted").await;
    let higher = create_room(&app, "stale is higher", "restricted").await;
    let lower = create_room(&app, "stale is lower", "restricted").await;
    add_access(&app, only_stale.id, stale.id, "administrator").await;
    add_access(&app, higher.id, stale.id, "owner").await;
    add_access(&app, higher.id, kept.id, "member").await;
    add_access(&app, lower.id, stale.id, "member").await;
    add_access(&app, lower.id, kept.id, "administrator").await;
    let db = &app.state.db;
    let rec_moved = recordings::create(db, higher.id, "screen_recording", Status::Saved, None).await.unwrap();
    let rec_merged = recordings::create(db, lower.id, "screen_recording", Status::Saved, None).await.unwrap();
    recordings::add_access(db, rec_moved.id, stale.id, "owner").await.unwrap();
    recordings::add_access(db, rec_merged.id, stale.id, "owner").await.unwrap();
    recordings::add_access(db, rec_merged.id, kept.id, "member").await.unwrap();

    let (dry, out, _) = run(&app, Options { dry_run: true, email_filter: None }).await;
    assert_eq!((dry.groups, dry.deleted), (1, 1));
    assert!(out.starts_with("[DRY-RUN] No changes will be written."), "{out}");
    assert!(out.contains("       [DRY-RUN] Would migrate: 3 ResourceAccess, 2 RecordingAccess, 0 File(s)."), "{out}");
    assert!(exists(&app, &stale).await, "NM-MRG-6: a dry run writes nothing");
    assert_eq!(role(&app, &stale, higher.id).await.as_deref(), Some("owner"));

    run(&app, Options::default()).await;
    assert!(!exists(&app, &stale).await);
    assert_eq!(role(&app, &kept, only_stale.id).await.as_deref(), Some("administrator"), "moved");
    assert_eq!(role(&app, &kept, higher.id).await.as_deref(), Some("owner"), "raised");
    assert_eq!(role(&app, &kept, lower.id).await.as_deref(), Some("administrator"), "never lowered");
    for room in [&only_stale, &higher, &lower] {
        let all = meet::store::rooms::accesses_of(db, &[room.id]).await.unwrap();
        assert_eq!(all.len(), 1, "NM-MRG-3: exactly one access remains in {}", room.name);
    }
    assert_eq!(recordings::roles_of(db, rec_moved.id, kept.id).await.unwrap(), ["owner"], "NM-MRG-4");
    assert_eq!(recordings::roles_of(db, rec_merged.id, kept.id).await.unwrap(), ["owner"], "NM-MRG-4");
}

#[tokio::test]
async fn nm_mrg_7_a_failing_group_is_rolled_back_and_reported() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let stale = user(&app, Some("locked@example.com"), Some("locked-old")).await;
    let kept = user(&app, Some("locked@example.com"), Some("locked-new")).await;
    let fine_old = user(&app, Some("fine@example.com"), Some("fine-old")).await;
    let fine_new = user(&app, Some("fine@example.com"), Some("fine-new")).await;
    let room = create_room(&app, "locked room", "restricted").await;
    add_access(&app, room.id, stale.id, "owner").await;
    // A table that refuses the deletion of the stale user (as a foreign key with RESTRICT would).
    let uuid = if db.backend() == Backend::Postgres { "uuid" } else { "BLOB" };
    Q::new(format!(
        "CREATE TABLE test_restrict (user_id {uuid} NOT NULL REFERENCES meet_user (id) ON DELETE RESTRICT)"
    ))
    .execute(db)
    .await
    .unwrap();
    Q::new("INSERT INTO test_restrict (user_id) VALUES ($1)").bind(stale.id).execute(db).await.unwrap();

    let (report, out, err) = run(&app, Options::default()).await;
    assert_eq!(report.failed, ["locked@example.com"], "{out}{err}");
    assert!(err.starts_with("[ERROR] Failed to merge 'locked@example.com': "), "{err}");
    assert_eq!(
        merge::failure_message(&report).as_deref(),
        Some("Failed to merge 1 email group(s): locked@example.com")
    );
    assert!(exists(&app, &stale).await && exists(&app, &kept).await, "NM-MRG-7: nothing of the group changed");
    assert_eq!(role(&app, &stale, room.id).await.as_deref(), Some("owner"));
    assert_eq!(role(&app, &kept, room.id).await, None, "the moved access was rolled back");
    assert!(!exists(&app, &fine_old).await && exists(&app, &fine_new).await, "the other group went on");
}

#[tokio::test]
async fn nm_mrg_8_nm_mrg_9_filter_and_empty_emails() {
    let app = TestApp::spawn().await;
    let a1 = user(&app, Some("a@example.com"), Some("a1")).await;
    user(&app, Some("A@example.com"), Some("a2")).await;
    let o1 = user(&app, Some("o@other.org"), Some("o1")).await;
    user(&app, Some("o@other.org"), Some("o2")).await;
    let n1 = user(&app, None, Some("n1")).await;
    user(&app, None, Some("n2")).await;
    let e1 = user(&app, Some(""), Some("e1")).await;
    user(&app, Some(""), Some("e2")).await;

    let (report, out, _) = run(&app, Options { dry_run: false, email_filter: Some("@EXAMPLE.com".into()) }).await;
    assert!(out.starts_with("[INFO] Filtering emails containing '@EXAMPLE.com'."), "{out}");
    assert_eq!((report.groups, report.deleted), (1, 1));
    assert!(!exists(&app, &a1).await && exists(&app, &o1).await, "NM-MRG-8");

    run(&app, Options::default()).await;
    assert!(!exists(&app, &o1).await);
    assert!(exists(&app, &n1).await && exists(&app, &e1).await, "NM-MRG-9: NULL and empty e-mails stay");
    let (report, out, _) = run(&app, Options::default()).await;
    assert_eq!(report, Report::default());
    assert!(out.contains("[INFO] No duplicate users found. Nothing to do."), "{out}");
}

#[tokio::test]
async fn merge_pair_folds_an_explicit_pair() {
    let app = TestApp::spawn().await;
    let keep = user(&app, Some("keep@example.com"), Some("keep")).await;
    let drop = user(&app, Some("other@example.com"), Some("drop")).await;
    let room = create_room(&app, "pair room", "restricted").await;
    add_access(&app, room.id, drop.id, "owner").await;
    merge::merge_pair(&app.state.db, keep.id, &[drop.id], false).await.unwrap();
    assert!(!exists(&app, &drop).await);
    assert_eq!(role(&app, &keep, room.id).await.as_deref(), Some("owner"));
    assert!(merge::merge_pair(&app.state.db, keep.id, &[keep.id], false).await.is_err(), "not into itself");
    let ghost = Uuid::new_v4();
    assert!(merge::merge_pair(&app.state.db, keep.id, &[ghost], false).await.is_err(), "unknown user");
}

async fn file_of(app: &TestApp, creator: &User, title: &str) -> Uuid {
    let new = meet::store::files::NewFile {
        id: Uuid::new_v4(),
        file_type: "background_image".into(),
        title: title.into(),
        filename: format!("{title}.png"),
        description: None,
        creator_id: creator.id,
    };
    match meet::store::files::insert(&app.state.db, new, None).await {
        Ok(f) => f.id,
        Err(e) => panic!("file not inserted: {e:?}"),
    }
}

#[tokio::test]
async fn nm_mrg_5_files_of_stale_users_are_reassigned() {
    let app = TestApp::spawn().await;
    let stale = user(&app, Some("files@example.com"), Some("files-old")).await;
    let kept = user(&app, Some("FILES@example.com"), Some("files-new")).await;
    let moved = file_of(&app, &stale, "stale-background").await;
    let own = file_of(&app, &kept, "own-background").await;
    let (_, out, _) = run(&app, Options { dry_run: true, email_filter: None }).await;
    assert!(out.contains("Would migrate: 0 ResourceAccess, 0 RecordingAccess, 1 File(s)."), "{out}");
    let (report, out, err) = run(&app, Options::default()).await;
    assert_eq!(report.changed.len(), 2, "the kept and the deleted user are announced");
    assert_eq!(report, Report { groups: 1, deleted: 1, failed: vec![], changed: report.changed.clone() }, "{out}{err}");
    let db = &app.state.db;
    assert_eq!(meet::store::files::get(db, moved).await.unwrap().unwrap().creator_id, Some(kept.id));
    assert_eq!(meet::store::files::get(db, own).await.unwrap().unwrap().creator_id, Some(kept.id), "untouched");
    assert!(!exists(&app, &stale).await);
}
