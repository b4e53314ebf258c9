//! Invariants under parallel requests (issue 5, item 5): a room never loses its last owner, and
//! a slug is created once. Each test fires its requests at the same moment, several rounds, on
//! whichever backend the run uses (SQLite + memory or PostgreSQL + Redis).

use serde_json::json;
use uuid::Uuid;

use crate::support::rooms::{add_access, create_room, spawn};
use crate::support::{Resp, TestClient};

async fn owners(app: &crate::support::TestApp, room: Uuid) -> usize {
    let all = meet::store::rooms::accesses_of(&app.state.db, &[room]).await.unwrap();
    all.iter().filter(|a| a.role == "owner").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ra_25_ra_30_two_owners_stepping_down_at_once_leave_one_owner() {
    let app = spawn(&[]).await;
    for round in 0..6 {
        let room = create_room(&app, &format!("race {round}"), "public").await;
        let (a, ca) = app.logged_in(&format!("a{round}@example.com")).await;
        let (b, cb) = app.logged_in(&format!("b{round}@example.com")).await;
        let access_a = add_access(&app, room.id, a.id, "owner").await;
        let access_b = add_access(&app, room.id, b.id, "owner").await;
        let pa = format!("/api/v1.0/resource-accesses/{}/", access_a.id);
        let pb = format!("/api/v1.0/resource-accesses/{}/", access_b.id);
        // Half the rounds demote, half delete; one side of each pair does the other action.
        let (demote_a, demote_b) = (json!({"role": "member"}), json!({"role": "administrator"}));
        let (ra, rb): (Resp, Resp) = if round % 2 == 0 {
            tokio::join!(ca.patch(&pa, &demote_a), cb.delete(&pb))
        } else {
            tokio::join!(ca.delete(&pa), cb.patch(&pb, &demote_b))
        };
        let statuses = [ra.status.as_u16(), rb.status.as_u16()];
        let ok = statuses.iter().filter(|s| matches!(s, 200 | 204)).count();
        assert_eq!(ok, 1, "round {round}: exactly one step-down wins, got {statuses:?}");
        let refused = if matches!(statuses[0], 200 | 204) { rb } else { ra };
        assert_eq!(refused.status, 403);
        assert_eq!(refused.json(), json!({"detail": "A resource should keep at least one owner."}));
        assert_eq!(owners(&app, room.id).await, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_owners_leaving_at_once_keep_exactly_one() {
    let app = spawn(&[]).await;
    let room = create_room(&app, "crowd", "public").await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (u, c) = app.logged_in(&format!("o{i}@example.com")).await;
        let access = add_access(&app, room.id, u.id, "owner").await;
        let path = format!("/api/v1.0/resource-accesses/{}/", access.id);
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                c.delete(&path).await.status.as_u16()
            } else {
                c.patch(&path, &json!({"role": "member"})).await.status.as_u16()
            }
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 403).count(), 1, "{statuses:?}");
    assert_eq!(owners(&app, room.id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_8_parallel_creations_of_one_slug_give_one_201() {
    let app = spawn(&[]).await;
    for round in 0..4 {
        let mut clients: Vec<TestClient> = Vec::new();
        for i in 0..6 {
            clients.push(app.logged_in(&format!("c{round}-{i}@example.com")).await.1);
        }
        let name = format!("Daily stand-up {round}");
        let mut tasks = Vec::new();
        for (i, c) in clients.into_iter().enumerate() {
            // Different spellings of one slug.
            let n = if i % 2 == 0 { name.clone() } else { format!("{}!", name.to_uppercase()) };
            tasks.push(tokio::spawn(async move { c.post("/api/v1.0/rooms/", &json!({ "name": n })).await }));
        }
        let mut created = 0;
        for t in tasks {
            let r = t.await.unwrap();
            match r.status.as_u16() {
                201 => created += 1,
                400 => assert_eq!(r.json(), json!({"slug": ["Room with this Slug already exists."]})),
                other => panic!("round {round}: unexpected {other}: {}", r.text),
            }
        }
        assert_eq!(created, 1, "round {round}");
        let slug = meet::domain::slug::slugify(&name);
        let room = meet::store::rooms::get_by_slug(&app.state.db, &slug).await.unwrap().expect("room");
        assert_eq!(owners(&app, room.id).await, 1, "B15: the winner's owner access exists");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ra_15_parallel_grants_of_one_user_give_one_201() {
    let app = spawn(&[]).await;
    let room = create_room(&app, "grants", "public").await;
    let (owner, c) = app.logged_in("owner@example.com").await;
    add_access(&app, room.id, owner.id, "owner").await;
    let guest = app.create_user("guest@example.com").await;
    let mut tasks = Vec::new();
    for role in ["member", "administrator", "owner", "member"] {
        let c = c.clone();
        let body = json!({"user": guest.id, "resource": room.id, "role": role});
        tasks.push(tokio::spawn(async move { c.post("/api/v1.0/resource-accesses/", &body).await }));
    }
    let mut created = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status.as_u16() {
            201 => created += 1,
            400 => {
                assert_eq!(r.json(), json!({"non_field_errors": ["The fields user, resource must make a unique set."]}))
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!(created, 1);
}
