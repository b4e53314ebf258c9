//! `meet admin recordings …`.

use anyhow::{anyhow, bail};
use clap::Subcommand;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{audit, Out};
use crate::domain::recording::Status;
use crate::state::AppState;
use crate::store::admin as store;
use crate::store::recordings::{self, Change, Recording};

#[derive(Subcommand, Debug)]
pub enum RecordingsCommand {
    /// List recordings, newest first, optionally by status, room (id or slug) and owner.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        room: Option<String>,
        /// Only the recordings this user (id or e-mail) owns.
        #[arg(long)]
        owner: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Show one recording with its owners and notifications.
    Show { id: Uuid },
    /// Move a recording to STATUS, when the status machine allows it from its current status.
    SetStatus { id: Uuid, status: String },
    /// Send a saved recording's notifications again, through the outbox.
    ResendNotification { id: Uuid },
    /// Delete a recording (its row, accesses and notifications; not the file in the bucket).
    Delete { id: Uuid },
}

fn rec_json(r: &Recording) -> Value {
    json!({
        "id": r.id, "status": r.status, "mode": r.mode, "room": r.room_id, "worker_id": r.worker_id,
        "egress_error": r.egress_error, "created_at": r.created_at.to_rfc3339(), "updated_at": r.updated_at.to_rfc3339(),
    })
}

async fn get(state: &AppState, id: Uuid) -> anyhow::Result<Recording> {
    recordings::get(&state.db, id).await?.ok_or_else(|| anyhow!("no recording has the id {id}"))
}

fn statuses() -> String {
    Status::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

async fn set_status(state: &AppState, before: &Recording, to: Status) -> anyhow::Result<Recording> {
    let from = before.status();
    if !to.allowed_from().contains(&from) {
        let allowed: Vec<&str> = to.allowed_from().iter().map(|s| s.as_str()).collect();
        let allowed = if allowed.is_empty() { "nowhere".to_string() } else { allowed.join(", ") };
        bail!("a recording cannot go from {} to {} (allowed from: {allowed})", from.as_str(), to.as_str());
    }
    let after = if to == Status::Saved {
        // Saving queues the notifications in the same transaction, as the storage event does.
        crate::service::recordings::save_file(state, before).await.map_err(|e| anyhow!("{e}"))?
    } else {
        let change = Change { worker_id: None, egress_error: Some(format!("set by {}", super::operator())) };
        recordings::transition(&state.db, before.id, to, change).await?
    };
    after.ok_or_else(|| anyhow!("the recording changed meanwhile; look at it again"))
}

pub async fn run(state: &AppState, out: &Out, command: RecordingsCommand) -> anyhow::Result<()> {
    match command {
        RecordingsCommand::List { status, room, owner, limit } => {
            if let Some(s) = status.as_deref().filter(|s| Status::parse(s).is_none()) {
                bail!("'{s}' is not a recording status ({})", statuses());
            }
            let room = match room {
                Some(r) => Some(super::rooms::find(state, &r).await?.id),
                None => None,
            };
            let owner = match owner {
                Some(o) => Some(super::users::find(state, &o).await?.id),
                None => None,
            };
            let list = store::recordings(&state.db, status.as_deref(), room, owner, limit).await?;
            let columns = ["id", "status", "mode", "room", "created_at"];
            out.rows(&columns, &list.iter().map(rec_json).collect::<Vec<_>>());
        }
        RecordingsCommand::Show { id } => {
            let r = get(state, id).await?;
            let mut v = rec_json(&r);
            v["owners"] = json!(store::recording_owners(&state.db, id).await?);
            let notifications = recordings::notifications_of(&state.db, id).await?;
            v["notifications"] = notifications
                .iter()
                .map(|n| {
                    json!({"kind": n.kind, "recipient": n.recipient_id, "attempts": n.attempts,
                        "delivered_at": n.delivered_at.map(|t| t.to_rfc3339()),
                        "abandoned_at": n.abandoned_at.map(|t| t.to_rfc3339()), "last_error": n.last_error})
                })
                .collect();
            out.one(&v);
        }
        RecordingsCommand::SetStatus { id, status } => {
            let Some(to) = Status::parse(&status) else {
                bail!("'{status}' is not a recording status ({})", statuses())
            };
            let before = get(state, id).await?;
            let after = set_status(state, &before, to).await?;
            audit("recordings.set_status", &format!("recording {id}"), &rec_json(&before), &rec_json(&after));
            out.one(&rec_json(&after));
        }
        RecordingsCommand::ResendNotification { id } => {
            let r = get(state, id).await?;
            if !r.status().is_saved() {
                bail!("only a saved recording is notified (this one is {})", r.status);
            }
            let queued = store::requeue_notifications(&state.db, id).await?;
            if queued == 0 {
                bail!("this recording has no notification to send again (nothing was configured when it was saved)");
            }
            audit(
                "recordings.resend_notification",
                &format!("recording {id}"),
                &rec_json(&r),
                &json!({"queued": queued}),
            );
            out.one(&json!({"recording": id, "queued": queued}));
        }
        RecordingsCommand::Delete { id } => {
            let r = get(state, id).await?;
            recordings::delete(&state.db, id).await?;
            audit("recordings.delete", &format!("recording {id}"), &rec_json(&r), &Value::Null);
            out.one(&json!({"deleted": id}));
        }
    }
    Ok(())
}
