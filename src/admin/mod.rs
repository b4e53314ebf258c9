//! `meet admin`: what operators did in Django's admin, on the same store (SQLite or PostgreSQL):
//! users, rooms, accesses, recordings and applications. Output is a table, or JSON with
//! `--json`. Every change writes one audit line to the log (target `audit`): who (the OS user),
//! what, and the object before and after.

mod applications;
pub mod jobs;
mod output;
mod recordings;
mod rooms;
mod users;

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::state::AppState;
pub use output::Out;

/// `meet admin [--json] <resource> <action>`.
#[derive(Args, Debug)]
pub struct AdminArgs {
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Users: list, show, create, deactivate, reactivate, set-staff, set-superuser.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Rooms: list, show (with accesses), set-access-level, delete.
    #[command(subcommand)]
    Rooms(rooms::RoomsCommand),
    /// Room accesses: grant, revoke.
    #[command(subcommand)]
    Accesses(rooms::AccessesCommand),
    /// Recordings: list, show, set-status, resend-notification, delete.
    #[command(subcommand)]
    Recordings(recordings::RecordingsCommand),
    /// Applications of the external API: list, show, create.
    #[command(subcommand)]
    Applications(applications::ApplicationsCommand),
}

/// Runs one admin command.
pub async fn run(state: &AppState, args: AdminArgs) -> anyhow::Result<()> {
    let out = Out { json: args.json };
    match args.command {
        AdminCommand::Users(c) => users::run(state, &out, c).await,
        AdminCommand::Rooms(c) => rooms::run(state, &out, c).await,
        AdminCommand::Accesses(c) => rooms::run_accesses(state, &out, c).await,
        AdminCommand::Recordings(c) => recordings::run(state, &out, c).await,
        AdminCommand::Applications(c) => applications::run(state, &out, c).await,
    }
}

/// Who runs the command: the OS user (`SUDO_USER` behind `sudo`).
pub fn operator() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    match std::env::var("SUDO_USER") {
        Ok(s) if !s.is_empty() => format!("{s} (sudo as {user})"),
        _ => user,
    }
}

/// Writes the audit line of one change.
pub fn audit(action: &str, object: &str, before: &Value, after: &Value) {
    let who = operator();
    tracing::info!(target: "audit", who, action, object, before = %before, after = %after, "admin change");
}
