//! `meet admin rooms …` and `meet admin accesses …`.

use anyhow::{anyhow, bail};
use clap::Subcommand;
use serde_json::{json, Value};
use uuid::Uuid;

use super::users::find as find_user;
use super::{audit, Out};
use crate::domain::permissions::{AccessLevel, Role};
use crate::state::AppState;
use crate::store::rooms::{self, Room};
use crate::store::{accesses, admin as store};

#[derive(Subcommand, Debug)]
pub enum RoomsCommand {
    /// List rooms by name (optionally those whose slug or name contains TEXT, or owned by USER).
    List {
        #[arg(long)]
        search: Option<String>,
        /// Only the rooms this user (id or e-mail) owns.
        #[arg(long)]
        owner: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Show one room (by id or slug) with its accesses.
    Show { room: String },
    /// Change a room's access level: public, trusted or restricted.
    SetAccessLevel { room: String, level: String },
    /// Delete a room and its accesses.
    Delete { room: String },
}

#[derive(Subcommand, Debug)]
pub enum AccessesCommand {
    /// Give USER a ROLE (member, administrator, owner) on ROOM (changes the role if USER has one).
    Grant {
        room: String,
        user: String,
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Remove USER's access to ROOM (the last owner only with --force).
    Revoke {
        room: String,
        user: String,
        #[arg(long)]
        force: bool,
    },
}

fn room_json(r: &Room) -> Value {
    json!({"id": r.id, "name": r.name, "slug": r.slug, "access_level": r.access_level, "pin_code": r.pin_code})
}

/// The room named by `key`: an id or a slug.
pub async fn find(state: &AppState, key: &str) -> anyhow::Result<Room> {
    let found = match Uuid::parse_str(key) {
        Ok(id) => rooms::get(&state.db, id).await?,
        Err(_) => rooms::get_by_slug(&state.db, &crate::domain::slug::slugify(key)).await?,
    };
    found.ok_or_else(|| anyhow!("no room has the id or slug {key}"))
}

async fn with_accesses(state: &AppState, room: &Room) -> anyhow::Result<Value> {
    let mut v = room_json(room);
    let list = rooms::accesses_of(&state.db, &[room.id]).await?;
    v["accesses"] =
        list.iter().map(|a| json!({"id": a.id, "user": a.user_id, "email": a.email, "role": a.role})).collect();
    Ok(v)
}

pub async fn run(state: &AppState, out: &Out, command: RoomsCommand) -> anyhow::Result<()> {
    match command {
        RoomsCommand::List { search, owner, limit } => {
            let owner = match owner {
                Some(o) => Some(find_user(state, &o).await?.id),
                None => None,
            };
            let list = store::rooms(&state.db, search.as_deref(), owner, limit).await?;
            out.rows(&["id", "slug", "name", "access_level"], &list.iter().map(room_json).collect::<Vec<_>>());
        }
        RoomsCommand::Show { room } => {
            let r = find(state, &room).await?;
            out.one(&with_accesses(state, &r).await?);
        }
        RoomsCommand::SetAccessLevel { room, level } => {
            let Some(level) = AccessLevel::parse(&level) else {
                bail!("'{level}' is not an access level (public, trusted or restricted)");
            };
            let before = find(state, &room).await?;
            let mut tx = state.db.begin().await?;
            let changed = Room { access_level: level.as_str().to_string(), ..before.clone() };
            let after = rooms::update(&mut tx, &changed).await?;
            tx.commit().await?;
            audit("rooms.set_access_level", &format!("room {}", after.id), &room_json(&before), &room_json(&after));
            out.one(&room_json(&after));
        }
        RoomsCommand::Delete { room } => {
            let r = find(state, &room).await?;
            let before = with_accesses(state, &r).await?;
            let mut tx = state.db.begin().await?;
            rooms::delete(&mut tx, r.id).await?;
            tx.commit().await?;
            audit("rooms.delete", &format!("room {}", r.id), &before, &Value::Null);
            out.one(&json!({"deleted": r.id}));
        }
    }
    Ok(())
}

fn access_json(a: &accesses::Access) -> Value {
    json!({"id": a.id, "room": a.resource_id, "user": a.user_id, "role": a.role})
}

pub async fn run_accesses(state: &AppState, out: &Out, command: AccessesCommand) -> anyhow::Result<()> {
    match command {
        AccessesCommand::Grant { room, user, role } => {
            let Some(role) = Role::parse(&role) else { bail!("'{role}' is not a role (member, administrator, owner)") };
            let (r, u) = (find(state, &room).await?, find_user(state, &user).await?);
            let mut tx = state.db.begin().await?;
            let existing = accesses::find_for_user_in(&mut tx, u.id, r.id).await?;
            let after = match &existing {
                Some(a) => accesses::set_role(&mut tx, a.id, role.as_str()).await?,
                None => accesses::insert(&mut tx, r.id, u.id, role.as_str()).await?,
            };
            tx.commit().await?;
            let before = existing.as_ref().map(access_json).unwrap_or(Value::Null);
            audit("accesses.grant", &format!("access {}", after.id), &before, &access_json(&after));
            out.one(&access_json(&after));
        }
        AccessesCommand::Revoke { room, user, force } => {
            let (r, u) = (find(state, &room).await?, find_user(state, &user).await?);
            let mut tx = state.db.begin().await?;
            let Some(a) = accesses::find_for_user_in(&mut tx, u.id, r.id).await? else {
                bail!("{} has no access to the room {}", u.display(), r.id);
            };
            if a.role == Role::Owner.as_str() && !force && accesses::count_owners(&mut tx, r.id).await? <= 1 {
                bail!("this is the room's last owner: give the room another owner first, or use --force");
            }
            accesses::delete(&mut tx, a.id).await?;
            tx.commit().await?;
            audit("accesses.revoke", &format!("access {}", a.id), &access_json(&a), &Value::Null);
            out.one(&json!({"deleted": a.id}));
        }
    }
    Ok(())
}
