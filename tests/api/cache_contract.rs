//! The cache contract, run on whichever cache this run uses (in-process, or Redis with
//! `TEST_REDIS_URL`): same operations, same answers, atomic under concurrency.

use std::time::Duration;

use crate::support::TestApp;

#[tokio::test]
async fn get_set_delete_and_expiry() {
    let app = TestApp::spawn().await;
    let c = &app.state.cache;
    assert_eq!(c.get("k").await.unwrap(), None);
    c.set("k", "v", None).await.unwrap();
    assert_eq!(c.get("k").await.unwrap().as_deref(), Some("v"));
    assert!(c.delete("k").await.unwrap());
    assert!(!c.delete("k").await.unwrap());
    c.set("short", "v", Some(Duration::from_millis(150))).await.unwrap();
    assert!(c.get("short").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.get("short").await.unwrap(), None);
}

#[tokio::test]
async fn set_nx_get_del_and_compare_and_set() {
    let app = TestApp::spawn().await;
    let c = &app.state.cache;
    assert!(c.set_nx("n", "1", None).await.unwrap());
    assert!(!c.set_nx("n", "2", None).await.unwrap());
    assert_eq!(c.get_del("n").await.unwrap().as_deref(), Some("1"));
    assert_eq!(c.get_del("n").await.unwrap(), None);
    c.set("s", "waiting", Some(Duration::from_secs(60))).await.unwrap();
    assert!(!c.compare_and_set("s", "accepted", Some("denied"), None).await.unwrap());
    assert!(c.compare_and_set("s", "waiting", Some("accepted"), None).await.unwrap());
    assert_eq!(c.get("s").await.unwrap().as_deref(), Some("accepted"));
    assert!(c.compare_and_set("s", "accepted", None, None).await.unwrap());
    assert_eq!(c.get("s").await.unwrap(), None);
    assert!(!c.compare_and_set("missing", "x", Some("y"), None).await.unwrap());
}

#[tokio::test]
async fn scan_prefix_lists_only_live_matching_keys() {
    let app = TestApp::spawn().await;
    let c = &app.state.cache;
    c.set("room_1_a", "A", None).await.unwrap();
    c.set("room_1_b", "B", None).await.unwrap();
    c.set("room_2_a", "X", None).await.unwrap();
    c.set("room_1_gone", "G", Some(Duration::from_millis(50))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let got = c.scan_prefix("room_1_").await.unwrap();
    assert_eq!(got, vec![("room_1_a".to_string(), "A".to_string()), ("room_1_b".to_string(), "B".to_string())]);
}

#[tokio::test]
async fn concurrent_set_nx_has_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let c = app.state.cache.clone();
            tokio::spawn(async move { c.set_nx("race", &i.to_string(), None).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += t.await.unwrap() as usize;
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn concurrent_compare_and_set_has_exactly_one_winner() {
    let app = TestApp::spawn().await;
    app.state.cache.set("decision", "waiting", None).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let c = app.state.cache.clone();
            tokio::spawn(async move {
                c.compare_and_set("decision", "waiting", Some(&format!("by-{i}")), None).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += t.await.unwrap() as usize;
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn t_1_throttle_counts_a_sliding_window_and_reports_the_wait() {
    let app = TestApp::spawn().await;
    let c = &app.state.cache;
    let window = Duration::from_secs(60);
    assert_eq!(c.throttle("throttle_x_1", 2, window).await.unwrap(), None);
    assert_eq!(c.throttle("throttle_x_1", 2, window).await.unwrap(), None);
    assert_eq!(c.throttle("throttle_x_1", 2, window).await.unwrap(), Some(60));
    // Another identity has its own window.
    assert_eq!(c.throttle("throttle_x_2", 2, window).await.unwrap(), None);
    // A short window frees its slot.
    assert_eq!(c.throttle("throttle_y", 1, Duration::from_millis(200)).await.unwrap(), None);
    assert_eq!(c.throttle("throttle_y", 1, Duration::from_millis(200)).await.unwrap(), Some(1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.throttle("throttle_y", 1, Duration::from_millis(200)).await.unwrap(), None);
}

#[tokio::test]
async fn namespaces_keep_two_apps_apart() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn().await;
    a.state.cache.set("same", "a", None).await.unwrap();
    assert_eq!(b.state.cache.get("same").await.unwrap(), None);
}

#[tokio::test]
async fn p1_scored_index_lists_by_score_and_prunes() {
    let app = TestApp::spawn().await;
    let c = &app.state.cache;
    for (m, score) in [("c", 30), ("a", 10), ("b", 20)] {
        c.index_add("idx", m, score, Some(Duration::from_secs(60))).await.unwrap();
    }
    // Re-adding keeps the first score (arrival order).
    c.index_add("idx", "a", 99, Some(Duration::from_secs(60))).await.unwrap();
    assert_eq!(c.index_members("idx").await.unwrap(), ["a", "b", "c"]);
    assert_eq!(c.index_oldest("idx", 2).await.unwrap(), ["a", "b"]);
    c.index_remove("idx", &["b".to_string()]).await.unwrap();
    assert_eq!(c.index_members("idx").await.unwrap(), ["a", "c"]);
    c.set("k1", "v1", None).await.unwrap();
    assert_eq!(c.get_many(&["k1".to_string(), "nope".to_string()]).await.unwrap(), [Some("v1".to_string()), None]);
}
