//! LiveKit: join tokens (`token`), the RoomService Twirp client used by the lobby, and webhook
//! verification, all through the official `livekit-api` crate. Every server call is bounded by
//! `MEET_LIVEKIT_TIMEOUT` and its failures are returned, never panicked.

pub mod egress;
pub mod token;
pub mod twirp;
pub mod verify;

use std::time::Duration;

use base64::Engine;
use livekit_api::access_token::TokenVerifier;
use livekit_api::services::room::{RoomClient, SendDataOptions};
use livekit_protocol as proto;
use sha2::Digest;

use crate::config::Config;
use livekit_api::access_token::VideoGrants;
pub use twirp::CallError;

/// The grant LiveKit requires for participant management in `room`.
fn admin_of(room: &str) -> VideoGrants {
    VideoGrants { room_admin: true, room: room.to_string(), ..Default::default() }
}

/// Server-side access to LiveKit.
#[derive(Clone)]
pub struct LiveKit {
    /// The Egress service (recordings §5).
    pub egress: egress::Egress,
    rooms: Option<std::sync::Arc<RoomClient>>,
    /// RoomService calls on participants (now-rooms §4–§5).
    room_service: twirp::Client,
    verifier: TokenVerifier,
    timeout: Duration,
}

/// Why a webhook was refused (lobby-livekit §5, W-1..W-3).
#[derive(Debug, PartialEq, Eq)]
pub enum WebhookRejection {
    /// No `Authorization` header: 401.
    MissingAuthorization,
    /// Bad signature, issuer, expiry, body hash or body: 400.
    InvalidPayload(String),
}

impl LiveKit {
    pub fn new(config: &Config) -> LiveKit {
        let rooms = config.livekit_api_url.as_deref().map(|url| {
            std::sync::Arc::new(RoomClient::with_api_key(url, &config.livekit_api_key, &config.livekit_api_secret))
        });
        LiveKit {
            egress: egress::Egress::new(config),
            rooms,
            room_service: twirp::Client::new(
                config.livekit_api_url.as_deref(),
                &config.livekit_api_key,
                &config.livekit_api_secret,
                config.livekit_timeout,
                config.recording.verify_ssl,
            ),
            verifier: TokenVerifier::with_api_key(&config.livekit_api_key, &config.livekit_api_secret),
            timeout: config.livekit_timeout,
        }
    }

    /// Tells everyone in the LiveKit room `room` that someone waits in the lobby (lobby-livekit
    /// §4.7): `ListRooms` first, and `SendData` only when the room is running.
    pub async fn notify_waiting(&self, room: &str, notification_type: &str) -> Result<bool, String> {
        let client = self.rooms.as_ref().ok_or("LIVEKIT_API_URL is not set")?;
        let running = tokio::time::timeout(self.timeout, client.list_rooms(vec![room.to_string()]))
            .await
            .map_err(|_| "ListRooms timed out".to_string())?
            .map_err(|e| format!("ListRooms failed: {e}"))?;
        if running.is_empty() {
            return Ok(false);
        }
        let payload = serde_json::json!({ "type": notification_type });
        // The reference sends Python's default JSON separators: `{"type": "participantWaiting"}`.
        let data = serde_json::to_string(&payload).unwrap_or_default().replace("\":\"", "\": \"").into_bytes();
        let options = SendDataOptions { kind: proto::data_packet::Kind::Reliable, ..Default::default() };
        tokio::time::timeout(self.timeout, client.send_data(room, data, options))
            .await
            .map_err(|_| "SendData timed out".to_string())?
            .map_err(|e| format!("SendData failed: {e}"))?;
        Ok(true)
    }

    /// `RoomService.GetParticipant`: the participant `identity` of the LiveKit room `room`.
    pub async fn get_participant(&self, room: &str, identity: &str) -> Result<proto::ParticipantInfo, CallError> {
        let req = proto::RoomParticipantIdentity { room: room.into(), identity: identity.into(), ..Default::default() };
        self.room_service.call("RoomService", "GetParticipant", admin_of(room), req).await
    }

    /// `RoomService.MutePublishedTrack` with `muted: true`.
    pub async fn mute_track(&self, room: &str, identity: &str, track_sid: &str) -> Result<(), CallError> {
        let req = proto::MuteRoomTrackRequest {
            room: room.into(),
            identity: identity.into(),
            track_sid: track_sid.into(),
            muted: true,
        };
        let _: proto::MuteRoomTrackResponse =
            self.room_service.call("RoomService", "MutePublishedTrack", admin_of(room), req).await?;
        Ok(())
    }

    /// `RoomService.UpdateParticipant` (name, metadata, attributes, permission).
    pub async fn update_participant(&self, req: proto::UpdateParticipantRequest) -> Result<(), CallError> {
        let grants = admin_of(&req.room);
        let _: proto::ParticipantInfo = self.room_service.call("RoomService", "UpdateParticipant", grants, req).await?;
        Ok(())
    }

    /// `RoomService.RemoveParticipant`.
    pub async fn remove_participant(&self, room: &str, identity: &str) -> Result<(), CallError> {
        let req = proto::RoomParticipantIdentity { room: room.into(), identity: identity.into(), ..Default::default() };
        let _: proto::RemoveParticipantResponse =
            self.room_service.call("RoomService", "RemoveParticipant", admin_of(room), req).await?;
        Ok(())
    }

    /// Merges `update` into the metadata of the running LiveKit room `room` (now-rooms §6.4):
    /// `ListRooms` first (false when the room is not running), the existing metadata read as an
    /// object (unparsable or non-object metadata counts as `{}`, B-CFG-3), then
    /// `UpdateRoomMetadata` with the merged object in Python's JSON style.
    pub async fn merge_room_metadata(
        &self,
        room: &str,
        update: serde_json::Map<String, serde_json::Value>,
    ) -> Result<bool, String> {
        self.edit_room_metadata(room, update, &[]).await
    }

    /// Like [`LiveKit::merge_room_metadata`], also removing the keys `remove` (now-recordings
    /// §15: the recording keys leave the metadata when the egress ends). Other keys are kept.
    pub async fn edit_room_metadata(
        &self,
        room: &str,
        update: serde_json::Map<String, serde_json::Value>,
        remove: &[&str],
    ) -> Result<bool, String> {
        let client = self.rooms.as_ref().ok_or("LIVEKIT_API_URL is not set")?;
        let running = tokio::time::timeout(self.timeout, client.list_rooms(vec![room.to_string()]))
            .await
            .map_err(|_| "ListRooms timed out".to_string())?
            .map_err(|e| format!("ListRooms failed: {e}"))?;
        let Some(current) = running.into_iter().find(|r| r.name == room) else { return Ok(false) };
        let mut metadata = match serde_json::from_str::<serde_json::Value>(&current.metadata) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        metadata.extend(update);
        for key in remove {
            metadata.remove(*key);
        }
        let text = python_json(&serde_json::Value::Object(metadata));
        tokio::time::timeout(self.timeout, client.update_room_metadata(room, &text))
            .await
            .map_err(|_| "UpdateRoomMetadata timed out".to_string())?
            .map_err(|e| format!("UpdateRoomMetadata failed: {e}"))?;
        Ok(true)
    }

    /// `AgentDispatchService.CreateDispatch` of `agent_name` into the LiveKit room `room`
    /// (now-rooms §9; the grant LiveKit requires is `roomAdmin` on the room).
    pub async fn create_agent_dispatch(&self, room: &str, agent_name: &str) -> Result<(), CallError> {
        let req = proto::CreateAgentDispatchRequest {
            agent_name: agent_name.into(),
            room: room.into(),
            ..Default::default()
        };
        let _: proto::AgentDispatch =
            self.room_service.call("AgentDispatchService", "CreateDispatch", admin_of(room), req).await?;
        Ok(())
    }

    /// `AgentDispatchService.CreateDispatch` with `metadata` (now-recordings §14): the id of
    /// the dispatch LiveKit created.
    pub async fn dispatch_agent(&self, room: &str, agent_name: &str, metadata: &str) -> Result<String, CallError> {
        let req = proto::CreateAgentDispatchRequest {
            agent_name: agent_name.into(),
            room: room.into(),
            metadata: metadata.into(),
            ..Default::default()
        };
        let dispatch: proto::AgentDispatch =
            self.room_service.call("AgentDispatchService", "CreateDispatch", admin_of(room), req).await?;
        Ok(dispatch.id)
    }

    /// `AgentDispatchService.DeleteDispatch` of `dispatch_id` in the LiveKit room `room`.
    pub async fn delete_agent_dispatch(&self, room: &str, dispatch_id: &str) -> Result<(), CallError> {
        let req = proto::DeleteAgentDispatchRequest { dispatch_id: dispatch_id.into(), room: room.into() };
        let _: proto::AgentDispatch =
            self.room_service.call("AgentDispatchService", "DeleteDispatch", admin_of(room), req).await?;
        Ok(())
    }

    /// `RoomService.DeleteRoom` (grant `roomCreate`, now-rooms §12).
    pub async fn delete_room(&self, room: &str) -> Result<(), CallError> {
        let grants = VideoGrants { room_create: true, ..Default::default() };
        let req = proto::DeleteRoomRequest { room: room.into() };
        let _: proto::DeleteRoomResponse = self.room_service.call("RoomService", "DeleteRoom", grants, req).await?;
        Ok(())
    }

    /// `SIP.ListSIPDispatchRule` with no filter: every dispatch rule of the deployment.
    pub async fn list_sip_dispatch_rules(&self) -> Result<Vec<proto::SipDispatchRuleInfo>, CallError> {
        let resp: proto::ListSipDispatchRuleResponse =
            self.room_service.call_sip("ListSIPDispatchRule", proto::ListSipDispatchRuleRequest::default()).await?;
        Ok(resp.items)
    }

    /// `SIP.DeleteSIPDispatchRule`.
    pub async fn delete_sip_dispatch_rule(&self, id: &str) -> Result<(), CallError> {
        let req = proto::DeleteSipDispatchRuleRequest { sip_dispatch_rule_id: id.into() };
        let _: proto::SipDispatchRuleInfo = self.room_service.call_sip("DeleteSIPDispatchRule", req).await?;
        Ok(())
    }

    /// `SIP.CreateSIPDispatchRule`: a direct rule named `name` sending callers who dial `pin` to
    /// the LiveKit room `room` (now-rooms §10.2).
    #[allow(deprecated)] // the request's top-level `name` and `rule`, as the reference sends them
    pub async fn create_sip_dispatch_rule(&self, name: &str, room: &str, pin: &str) -> Result<(), CallError> {
        let rule = proto::SipDispatchRule {
            rule: Some(proto::sip_dispatch_rule::Rule::DispatchRuleDirect(proto::SipDispatchRuleDirect {
                room_name: room.into(),
                pin: pin.into(),
            })),
        };
        let req = proto::CreateSipDispatchRuleRequest { name: name.into(), rule: Some(rule), ..Default::default() };
        let _: proto::SipDispatchRuleInfo = self.room_service.call_sip("CreateSIPDispatchRule", req).await?;
        Ok(())
    }

    /// Verifies a webhook as LiveKit signs it: `Authorization` holds a JWT (no `Bearer`) signed
    /// with the API secret, issued by the API key, whose `sha256` claim is the base64 SHA-256 of
    /// the exact body (compared in constant time); then parses the event.
    pub fn verify_webhook(
        &self,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<proto::WebhookEvent, WebhookRejection> {
        let token =
            authorization.map(str::trim).filter(|t| !t.is_empty()).ok_or(WebhookRejection::MissingAuthorization)?;
        let invalid = |why: String| WebhookRejection::InvalidPayload(why);
        let body = std::str::from_utf8(body).map_err(|_| invalid("body is not UTF-8".into()))?;
        let claims = self.verifier.verify(token).map_err(|e| invalid(format!("token: {e}")))?;
        let claimed = base64::engine::general_purpose::STANDARD
            .decode(claims.sha256.as_bytes())
            .map_err(|_| invalid("sha256 claim is not base64".into()))?;
        if claims.sha256.is_empty() {
            return Err(invalid("sha256 claim missing".into()));
        }
        let actual = sha2::Sha256::digest(body.as_bytes());
        if !crate::domain::secret_eq(&claimed, &actual) {
            return Err(invalid("body hash does not match".into()));
        }
        serde_json::from_str(body).map_err(|e| invalid(format!("event: {e}")))
    }
}

/// `value` as Python's `json.dumps` writes it by default: `", "` and `": "` separators, non-ASCII
/// characters escaped as `\uXXXX`.
pub fn python_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Array(items) => format!("[{}]", items.iter().map(python_json).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", python_json(&Value::String(k.clone())), python_json(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::String(s) => {
            let mut out = String::with_capacity(s.len() + 2);
            for c in serde_json::to_string(s).unwrap_or_default().chars() {
                if c.is_ascii() {
                    out.push(c);
                } else {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
            out
        }
        leaf => leaf.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn python_json_style() {
        let v = serde_json::json!({"configuration": {"can_publish_sources": ["camera"]}, "name": "é", "n": null});
        assert_eq!(
            super::python_json(&v),
            r#"{"configuration": {"can_publish_sources": ["camera"]}, "name": "\u00e9", "n": null}"#
        );
    }
}
