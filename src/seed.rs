//! `meet seed-bench`: the data the load kit (`shared/bench`) expects, written through the store:
//! an owner of 52 rooms (among them the public `perf-public` and the restricted
//! `perf-restricted`), a second user who creates rooms during the run, a logged-in session for
//! each, and a CSRF secret. Prints them as shell variables for `run_bench.sh`.

use serde_json::json;

use crate::cache::Cache;
use crate::config::Config;
use crate::sessions::Sessions;
use crate::store::users::NewUser;
use crate::store::{self, Db};

/// What the load kit needs to authenticate.
pub struct BenchSeed {
    pub owner_session: String,
    pub creator_session: String,
    pub csrf_token: String,
}

async fn user(db: &Db, name: &str) -> anyhow::Result<store::users::User> {
    let sub = format!("bench-{name}-{}", uuid::Uuid::new_v4().simple());
    Ok(store::users::create(
        db,
        NewUser {
            sub: Some(sub),
            email: Some(format!("{name}@bench.example")),
            full_name: Some(format!("Bench {name}")),
            short_name: Some(name.to_string()),
            ..Default::default()
        },
        "en-us",
    )
    .await?)
}

/// Seeds a database (rooms named `perf-*` must not exist yet: use a fresh data folder).
pub async fn bench(db: &Db, cache: &Cache, _config: &Config) -> anyhow::Result<BenchSeed> {
    let owner = user(db, "owner").await?;
    let creator = user(db, "creator").await?;
    let mut rooms: Vec<(String, &str)> =
        vec![("perf-public".into(), "public"), ("perf-restricted".into(), "restricted")];
    rooms.extend((1..=50).map(|i| (format!("perf-room-{i:02}"), "public")));
    let mut tx = db.begin().await?;
    for (slug, level) in &rooms {
        let room = store::rooms::insert(&mut tx, slug, slug, level, json!({})).await?;
        store::accesses::insert(&mut tx, room.id, owner.id, "owner").await?;
    }
    tx.commit().await?;
    let sessions = Sessions::new(db.clone(), cache.clone(), std::time::Duration::ZERO);
    let owner_session =
        sessions.create_for_user(owner.id, Default::default()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let creator_session =
        sessions.create_for_user(creator.id, Default::default()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(BenchSeed { owner_session, creator_session, csrf_token: crate::domain::csrf::new_secret() })
}
