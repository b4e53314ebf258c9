//! `POST rooms/{id}/invite/` (now-rooms §8): one e-mail, every recipient in `Bcc`, inviting them
//! to join the call now. Hardened as §19 recommends: a recipient cap and a per-user throttle
//! (B-SEC-4), a translated subject (B-INV-1), no `None` in the message and a JSON 502 when the
//! SMTP server refuses (B-INV-2), filled title and footer (B-INV-3). The endpoint answers 404
//! while e-mail is not configured (`DJANGO_EMAIL_HOST` and `DJANGO_EMAIL_APP_BASE_URL`).

use axum::http::StatusCode;
use serde_json::{json, Map, Value};
use tracing::instrument;

use super::participants::Reply;
use crate::domain::invitation::parse_emails;
use crate::domain::permissions::{is_administrator, Role};
use crate::domain::slug::RoomRef;
use crate::error::ApiError;
use crate::i18n::{self, msg, Msg};
use crate::mail::{invitation, MailError};
use crate::state::AppState;
use crate::store::accesses;
use crate::store::users::User;

/// Sends the invitation. `body` is read only once the caller is known to be a room administrator
/// (a member gets the 403 whatever the body).
#[instrument(skip_all, fields(room = ?reference))]
pub async fn invite(
    state: &AppState,
    user: &User,
    reference: &RoomRef,
    body: Result<Map<String, Value>, ApiError>,
) -> Result<Reply, ApiError> {
    let cfg = &state.config.incall;
    super::throttle::check(state, "invitation", &user.id.to_string(), cfg.invitation_throttle_rate).await?;
    let Some(base_url) = cfg.email_app_base_url.as_deref().filter(|_| state.mailer.is_configured()) else {
        return Err(ApiError::NotFound);
    };
    let room = super::rooms::find(state, reference).await?;
    let role = accesses::role_of(&state.db, user.id, room.id).await?;
    if !is_administrator(role.as_deref().and_then(Role::parse)) {
        return Err(ApiError::ForbiddenMessage(msg::PRIVILEGES_ON_ROOM.into()));
    }
    let body = body?;
    let recipients = parse_emails(body.get("emails"), cfg.invitation_max_recipients).map_err(ApiError::Validation)?;

    let slug = room.slug.clone().unwrap_or_else(|| room.id.to_string());
    let room_url = format!("{}/{slug}", base_url.trim_end_matches('/'));
    let room_link = match cfg.email_domain.as_deref() {
        Some(domain) => format!("{}/{slug}", domain.trim_end_matches('/')),
        None => room_url.split_once("://").map(|(_, rest)| rest.to_string()).unwrap_or_else(|| room_url.clone()),
    };
    let sender = user.email.clone().filter(|e| !e.is_empty()).or_else(|| user.full_name.clone());
    let email_cfg = &state.config.recording.email;
    let message = invitation::render(&invitation::Vars {
        lang: i18n::current(),
        sender: sender.as_deref(),
        brand_name: email_cfg.brand_name.as_deref(),
        logo_img: email_cfg.logo_img.as_deref(),
        room_url: &room_url,
        room_link: &room_link,
    });
    match state.mailer.send_bcc(&recipients, &message).await {
        Ok(()) => {
            tracing::info!(recipients = recipients.len(), "invitation sent");
            Ok(Reply(StatusCode::OK, json!({"status": "success", "message": Msg::from(msg::INVITATIONS_SENT).text()})))
        }
        Err(e) => {
            // Never the addresses (nor the SMTP server's text, which may quote them).
            let kind = match e {
                MailError::NotConfigured => "not configured",
                MailError::Address(_) => "invalid address",
                MailError::Build(_) => "message not built",
                MailError::Smtp(_) => "SMTP delivery failed",
            };
            tracing::warn!(recipients = recipients.len(), reason = kind, "invitation not sent");
            Ok(Reply(StatusCode::BAD_GATEWAY, json!({"error": Msg::from(msg::INVITATIONS_NOT_SENT).text()})))
        }
    }
}
