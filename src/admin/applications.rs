//! `meet admin applications …`: list, show, create, deactivate/reactivate, rotate a secret.

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::{json, Value};

use super::{audit, Out};
use crate::state::AppState;
use crate::store::admin as store;
use crate::store::applications::{self, Application};

#[derive(Subcommand, Debug)]
pub enum ApplicationsCommand {
    /// List the applications.
    List,
    /// Show one application (by id or client id) with its domains.
    Show { application: String },
    /// Register an application; its secret is printed this once.
    Create {
        #[arg(long)]
        name: String,
        /// A granted scope (repeat): rooms:list, rooms:retrieve, rooms:create, rooms:update, rooms:delete.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// An e-mail domain the application may act for (repeat; none: any domain).
        #[arg(long = "domain")]
        domains: Vec<String>,
    },
    /// Refuse the application's tokens from now on (its rows are kept).
    Deactivate { application: String },
    /// Accept the application's credentials again.
    Reactivate { application: String },
    /// Give the application a new secret, printed this once; the old one stops working.
    RotateSecret { application: String },
}

/// The JSON of an application: never its secret hash.
fn app_json(a: &Application) -> Value {
    json!({"id": a.id, "name": a.name, "client_id": a.client_id, "is_active": a.is_active,
        "scopes": a.scopes.0, "created_at": a.created_at.to_rfc3339()})
}

pub async fn run(state: &AppState, out: &Out, command: ApplicationsCommand) -> anyhow::Result<()> {
    match command {
        ApplicationsCommand::List => {
            let list = store::applications(&state.db).await?;
            out.rows(
                &["id", "name", "client_id", "is_active", "scopes"],
                &list.iter().map(app_json).collect::<Vec<_>>(),
            );
        }
        ApplicationsCommand::Show { application } => {
            let a = find(state, &application).await?;
            let mut v = app_json(&a);
            v["domains"] = json!(applications::domains(&state.db, a.id).await?);
            out.one(&v);
        }
        ApplicationsCommand::Create { name, scopes, domains } => {
            let cfg = &state.config.external_api;
            let r = crate::service::external::register_application(&state.db, cfg, &name, &scopes, &domains).await?;
            let after = app_json(&r.application);
            audit("applications.create", &format!("application {}", r.application.id), &Value::Null, &after);
            let mut v = after;
            v["client_secret"] = json!(r.client_secret);
            out.one(&v);
        }
        ApplicationsCommand::Deactivate { application } => set_active(state, out, &application, false).await?,
        ApplicationsCommand::Reactivate { application } => set_active(state, out, &application, true).await?,
        ApplicationsCommand::RotateSecret { application } => {
            let a = find(state, &application).await?;
            let secret = crate::service::external::rotate_secret(&state.db, &state.config.external_api, a.id).await?;
            let v = app_json(&a);
            audit("applications.rotate_secret", &format!("application {}", a.id), &v, &v);
            let mut shown = v;
            shown["client_secret"] = json!(secret);
            out.one(&shown);
        }
    }
    Ok(())
}

async fn find(state: &AppState, key: &str) -> anyhow::Result<Application> {
    store::application(&state.db, key).await?.ok_or_else(|| anyhow!("no application has the id or client id {key}"))
}

async fn set_active(state: &AppState, out: &Out, key: &str, active: bool) -> anyhow::Result<()> {
    let before = find(state, key).await?;
    applications::set_active(&state.db, before.id, active).await?;
    let after = find(state, key).await?;
    let action = if active { "applications.reactivate" } else { "applications.deactivate" };
    audit(action, &format!("application {}", after.id), &app_json(&before), &app_json(&after));
    out.one(&app_json(&after));
    Ok(())
}
