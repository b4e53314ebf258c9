//! `meet admin users …`.

use anyhow::{anyhow, bail};
use clap::Subcommand;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{audit, Out};
use crate::state::AppState;
use crate::store::admin::{self as store, UserFlag};
use crate::store::users::{self, NewUser, User};

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// List users, newest first (optionally those whose e-mail contains TEXT).
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Show one user (by id or e-mail) with its room accesses.
    Show { user: String },
    /// Create a user (it is matched to its identity-provider account by e-mail at first login).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// The identity provider's subject, when known.
        #[arg(long)]
        sub: Option<String>,
        #[arg(long)]
        staff: bool,
        #[arg(long)]
        superuser: bool,
    },
    /// Deactivate a user (cannot log in any more; data kept).
    Deactivate { user: String },
    /// Reactivate a user.
    Reactivate { user: String },
    /// Set or clear the staff flag.
    SetStaff { user: String, value: Flag },
    /// Set or clear the superuser flag.
    SetSuperuser { user: String, value: Flag },
    /// Merge duplicates of one person into KEPT: their room and recording accesses (the higher
    /// role wins), files and sessions move to KEPT, then they are deleted; one transaction.
    Merge {
        /// The user that stays (id or e-mail).
        kept: String,
        /// The duplicates (ids or e-mails).
        #[arg(required = true)]
        duplicates: Vec<String>,
    },
}

/// `true` or `false` on the command line.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Flag {
    True,
    False,
}

/// The JSON of a user (no password hash, no configuration blob).
pub fn user_json(u: &User) -> Value {
    json!({
        "id": u.id, "email": u.email, "full_name": u.full_name, "sub": u.sub,
        "is_active": u.is_active, "is_staff": u.is_staff, "is_superuser": u.is_superuser,
        "language": u.language, "timezone": u.timezone,
        "last_login": u.last_login.map(|t| t.to_rfc3339()), "created_at": u.created_at.to_rfc3339(),
    })
}

const COLUMNS: &[&str] = &["id", "email", "full_name", "is_active", "is_staff", "is_superuser", "last_login"];

/// The user named by `key`: an id, or an e-mail (case-insensitive) that only one user has.
pub async fn find(state: &AppState, key: &str) -> anyhow::Result<User> {
    if let Ok(id) = Uuid::parse_str(key) {
        return users::get(&state.db, id).await?.ok_or_else(|| anyhow!("no user has the id {id}"));
    }
    let mut found = users::find_by_email_ci(&state.db, key, 2).await?;
    match found.len() {
        0 => bail!("no user has the e-mail {key}"),
        1 => Ok(found.remove(0)),
        _ => bail!("several users have the e-mail {key}: name one by its id (see `meet admin users list --search`)"),
    }
}

async fn set(state: &AppState, out: &Out, key: &str, flag: UserFlag, value: bool, action: &str) -> anyhow::Result<()> {
    let before = find(state, key).await?;
    let announcement = state.sessions.user_changing(before.id);
    let after = store::set_user_flag(&state.db, before.id, flag, value).await?;
    // Running servers sharing this Redis forget the user at once; on an embedded database they
    // see the change within MEET_SESSION_CACHE_TTL.
    announcement.send().await;
    audit(action, &format!("user {}", after.id), &user_json(&before), &user_json(&after));
    out.one(&user_json(&after));
    Ok(())
}

pub async fn run(state: &AppState, out: &Out, command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::List { search, limit } => {
            let (_, rows) = users::list(&state.db, search.as_deref(), 0, limit).await?;
            out.rows(COLUMNS, &rows.iter().map(user_json).collect::<Vec<_>>());
        }
        UsersCommand::Show { user } => {
            let u = find(state, &user).await?;
            let mut v = user_json(&u);
            let mut accesses = Vec::new();
            for room in crate::store::rooms::page_for_user(&state.db, u.id, 0, 1000).await? {
                let role = crate::store::accesses::role_of(&state.db, u.id, room.id).await?;
                accesses.push(json!({"room": room.id, "slug": room.slug, "role": role}));
            }
            v["rooms"] = Value::Array(accesses);
            out.one(&v);
        }
        UsersCommand::Create { email, name, sub, staff, superuser } => {
            let email = email.trim().to_string();
            if !email.contains('@') {
                bail!("'{email}' is not an e-mail address");
            }
            let new = NewUser { email: Some(email), full_name: name, sub, ..Default::default() };
            let mut u = users::create(&state.db, new, &state.config.language_code).await?;
            if staff {
                u = store::set_user_flag(&state.db, u.id, UserFlag::Staff, true).await?;
            }
            if superuser {
                u = store::set_user_flag(&state.db, u.id, UserFlag::Superuser, true).await?;
            }
            audit("users.create", &format!("user {}", u.id), &Value::Null, &user_json(&u));
            out.one(&user_json(&u));
        }
        UsersCommand::Deactivate { user } => {
            set(state, out, &user, UserFlag::Active, false, "users.deactivate").await?;
        }
        UsersCommand::Reactivate { user } => set(state, out, &user, UserFlag::Active, true, "users.reactivate").await?,
        UsersCommand::SetStaff { user, value } => {
            set(state, out, &user, UserFlag::Staff, matches!(value, Flag::True), "users.set_staff").await?;
        }
        UsersCommand::Merge { kept, duplicates } => {
            let kept = find(state, &kept).await?;
            let mut stale = Vec::new();
            for key in &duplicates {
                stale.push(find(state, key).await?);
            }
            let ids: Vec<Uuid> = stale.iter().map(|u| u.id).collect();
            crate::service::merge::merge_pair(&state.db, kept.id, &ids, false).await?;
            for id in ids.iter().chain([&kept.id]) {
                state.sessions.user_changed(*id).await;
            }
            let after = users::get(&state.db, kept.id).await?.ok_or_else(|| anyhow!("the kept user is gone"))?;
            let before = json!({"kept": user_json(&kept), "merged": stale.iter().map(user_json).collect::<Vec<_>>()});
            audit("users.merge", &format!("user {}", kept.id), &before, &user_json(&after));
            out.one(&user_json(&after));
        }
        UsersCommand::SetSuperuser { user, value } => {
            let v = matches!(value, Flag::True);
            set(state, out, &user, UserFlag::Superuser, v, "users.set_superuser").await?;
        }
    }
    Ok(())
}
