//! `meet admin applications …` (rotating a secret and deactivating come with the external API's
//! own commands).

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
            let a = store::application(&state.db, &application)
                .await?
                .ok_or_else(|| anyhow!("no application has the id or client id {application}"))?;
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
    }
    Ok(())
}
