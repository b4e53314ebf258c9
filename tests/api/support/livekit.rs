//! A LiveKit server double: Twirp over HTTP (protobuf or JSON bodies, like the real server),
//! checking the `Authorization: Bearer` JWT (HS256 with the API secret, `iss` = API key) and the
//! grants each RPC needs, as LiveKit does. Tests script the rooms that are "running" and the
//! failures, and read back every call that was made.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use livekit_api::access_token::{Claims, TokenVerifier};
use livekit_protocol as proto;
use prost::Message;
use serde_json::{json, Value};

pub const KEY: &str = "test-key";
pub const SECRET: &str = "test-secret-of-at-least-32-characters!!";

/// How the double misbehaves, when told to.
#[derive(Clone, Debug)]
pub enum Failure {
    /// A Twirp error answer (`{"code", "msg"}`) with this HTTP status.
    Twirp(u16, &'static str),
    /// A proxy's HTML error page.
    Html502,
    /// Never answers (until the client gives up).
    Hang,
    /// Answers normally after this many milliseconds.
    Delay(u64),
}

/// One RPC received (after authentication succeeded).
#[derive(Clone, Debug)]
pub struct Call {
    pub service: String,
    pub method: String,
    /// The request message in protobuf-JSON form.
    pub request: Value,
    pub claims_room: String,
}

#[derive(Default)]
struct Inner {
    rooms: Vec<String>,
    /// Connected participants: (LiveKit room, identity) → participant state.
    participants: std::collections::HashMap<(String, String), proto::participant_info::State>,
    /// Metadata of the running rooms (UpdateRoomMetadata writes it, ListRooms shows it).
    metadata: std::collections::HashMap<String, String>,
    /// Failures of one RoomService method only.
    method_failures: std::collections::HashMap<String, Failure>,
    calls: Vec<Call>,
    failure: Option<Failure>,
    egress: EgressState,
    /// SIP dispatch rules (ListSIPDispatchRule / CreateSIPDispatchRule).
    sip_rules: Vec<proto::SipDispatchRuleInfo>,
}

/// The Egress service's scripted state (see `egress.rs`).
#[derive(Default)]
pub struct EgressState {
    /// Egresses by id, in creation order.
    pub egresses: Vec<proto::EgressInfo>,
    /// Failures of one Egress method (`StartRoomCompositeEgress`, `StopEgress`, `ListEgress`).
    pub failures: std::collections::HashMap<String, Failure>,
    /// Status StopEgress answers with (default `EGRESS_ENDING`).
    pub stop_status: Option<i32>,
    /// StartRoomCompositeEgress answers an empty egress id.
    pub empty_start_id: bool,
    pub counter: u64,
}

#[derive(Clone)]
pub struct LiveKitDouble {
    pub addr: SocketAddr,
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl LiveKitDouble {
    pub async fn start() -> LiveKitDouble {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().route("/twirp/{rpc}/{method}", post(handle)).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        LiveKitDouble { addr, url: format!("http://{addr}"), inner }
    }

    /// An app pointed at this double, with `extra` settings (which win).
    pub async fn spawn_app(&self, extra: &[(&str, &str)]) -> super::TestApp {
        let mut vars: Vec<(String, String)> = self.vars().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        super::TestApp::spawn_with(&pairs).await
    }

    /// The settings that point the app at this double.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LIVEKIT_API_URL", self.url.clone()),
            ("LIVEKIT_API_KEY", KEY.into()),
            ("LIVEKIT_API_SECRET", SECRET.into()),
        ]
    }

    /// Marks a LiveKit room as running (ListRooms lists it).
    pub fn add_room(&self, name: &str) {
        self.inner.lock().unwrap().rooms.push(name.to_string());
    }

    /// Puts `identity` in the LiveKit room `room` (GetParticipant finds it) in `state`.
    pub fn add_participant(&self, room: &str, identity: &str, state: proto::participant_info::State) {
        self.inner.lock().unwrap().participants.insert((room.to_string(), identity.to_string()), state);
    }

    /// Marks a LiveKit room as running with this metadata.
    pub fn add_room_with_metadata(&self, name: &str, metadata: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner.rooms.push(name.to_string());
        inner.metadata.insert(name.to_string(), metadata.to_string());
    }

    /// The metadata of a running room.
    pub fn room_metadata(&self, name: &str) -> Option<String> {
        self.inner.lock().unwrap().metadata.get(name).cloned()
    }

    /// Makes one RoomService method fail (`None`: behave again).
    pub fn fail_method(&self, method: &str, failure: Option<Failure>) {
        let mut inner = self.inner.lock().unwrap();
        match failure {
            Some(f) => inner.method_failures.insert(method.to_string(), f),
            None => inner.method_failures.remove(method),
        };
    }

    /// Adds a SIP dispatch rule named `name` (as if created earlier).
    pub fn add_sip_rule(&self, name: &str) {
        let mut inner = self.inner.lock().unwrap();
        let id = format!("SDR_{}", inner.sip_rules.len() + 1);
        inner.sip_rules.push(proto::SipDispatchRuleInfo {
            sip_dispatch_rule_id: id,
            name: name.to_string(),
            ..Default::default()
        });
    }

    /// The SIP dispatch rules the double holds.
    pub fn sip_rules(&self) -> Vec<proto::SipDispatchRuleInfo> {
        self.inner.lock().unwrap().sip_rules.clone()
    }

    pub fn fail_with(&self, failure: Option<Failure>) {
        self.inner.lock().unwrap().failure = failure;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.method == method).collect()
    }

    /// Waits (bounded) until `n` calls of `method` were received.
    pub async fn wait_for(&self, method: &str, n: usize) -> Vec<Call> {
        for _ in 0..100 {
            let calls = self.calls_of(method);
            if calls.len() >= n {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        self.calls_of(method)
    }
}

fn inner_egress(inner: &Arc<Mutex<Inner>>) -> EgressHandle {
    EgressHandle(inner.clone())
}

/// Access to the Egress part of the double's state.
#[derive(Clone)]
pub struct EgressHandle(Arc<Mutex<Inner>>);

impl EgressHandle {
    pub fn with<R>(&self, f: impl FnOnce(&mut EgressState) -> R) -> R {
        f(&mut self.0.lock().unwrap().egress)
    }
}

impl LiveKitDouble {
    /// The Egress service's state, to script or inspect.
    pub fn egress(&self) -> EgressHandle {
        EgressHandle(self.inner.clone())
    }
}

pub(crate) fn twirp_error(status: StatusCode, code: &str, msg: &str) -> Response {
    (status, [("content-type", "application/json")], json!({"code": code, "msg": msg}).to_string()).into_response()
}

#[allow(clippy::result_large_err)]
fn authorize(headers: &HeaderMap) -> Result<Claims, Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| twirp_error(StatusCode::UNAUTHORIZED, "unauthenticated", "missing authorization"))?;
    TokenVerifier::with_api_key(KEY, SECRET)
        .verify(token)
        .map_err(|e| twirp_error(StatusCode::UNAUTHORIZED, "unauthenticated", &e.to_string()))
}

#[allow(clippy::result_large_err)]
pub(crate) fn decode<M: Message + Default + serde::de::DeserializeOwned>(
    json_body: bool,
    body: &[u8],
) -> Result<M, Response> {
    if json_body {
        serde_json::from_slice(body).map_err(|e| twirp_error(StatusCode::BAD_REQUEST, "malformed", &e.to_string()))
    } else {
        M::decode(body).map_err(|e| twirp_error(StatusCode::BAD_REQUEST, "malformed", &e.to_string()))
    }
}

pub(crate) fn encode<M: Message + serde::Serialize>(json_body: bool, m: &M) -> Response {
    if json_body {
        (StatusCode::OK, [("content-type", "application/json")], serde_json::to_vec(m).unwrap()).into_response()
    } else {
        (StatusCode::OK, [("content-type", "application/protobuf")], m.encode_to_vec()).into_response()
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((rpc, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let claims = match authorize(&headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let failure = inner.lock().unwrap().failure.clone();
    match failure {
        Some(Failure::Twirp(status, code)) => {
            return twirp_error(StatusCode::from_u16(status).unwrap(), code, "scripted failure");
        }
        Some(Failure::Html502) => {
            return (StatusCode::BAD_GATEWAY, [("content-type", "text/html")], "<html>502 Bad Gateway</html>")
                .into_response()
        }
        Some(Failure::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Some(Failure::Delay(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        None => {}
    }
    let scripted = inner.lock().unwrap().method_failures.get(method.as_str()).cloned();
    if let Some(failure) = scripted {
        // Recorded with a null request, so that tests can wait for the failed attempt.
        let call = Call {
            service: rpc.clone(),
            method: method.clone(),
            request: Value::Null,
            claims_room: claims.video.room.clone(),
        };
        inner.lock().unwrap().calls.push(call);
        if let Some(r) = super::egress::fail(failure).await {
            return r;
        }
    }
    let json_body = headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
    let grants = &claims.video;
    let record = |request: Value| {
        inner.lock().unwrap().calls.push(Call {
            service: rpc.clone(),
            method: method.clone(),
            request,
            claims_room: grants.room.clone(),
        });
    };
    match (rpc.as_str(), method.as_str()) {
        ("livekit.RoomService", "ListRooms") => {
            if !grants.room_list {
                return twirp_error(StatusCode::FORBIDDEN, "permission_denied", "roomList grant needed");
            }
            let req: proto::ListRoomsRequest = match decode(json_body, &body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            record(serde_json::to_value(&req).unwrap());
            let (running, metadata) = {
                let inner = inner.lock().unwrap();
                (inner.rooms.clone(), inner.metadata.clone())
            };
            let rooms = running
                .into_iter()
                .filter(|r| req.names.is_empty() || req.names.contains(r))
                .map(|name| proto::Room {
                    metadata: metadata.get(&name).cloned().unwrap_or_default(),
                    name,
                    ..Default::default()
                })
                .collect();
            encode(json_body, &proto::ListRoomsResponse { rooms })
        }
        ("livekit.RoomService", "SendData") => {
            let req: proto::SendDataRequest = match decode(json_body, &body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            if !grants.room_admin || grants.room != req.room {
                return twirp_error(StatusCode::FORBIDDEN, "permission_denied", "roomAdmin grant on the room needed");
            }
            record(serde_json::to_value(&req).unwrap());
            encode(json_body, &proto::SendDataResponse {})
        }
        (
            "livekit.RoomService",
            m @ ("GetParticipant" | "MutePublishedTrack" | "UpdateParticipant" | "RemoveParticipant"),
        ) => participant_call(&inner, m, json_body, &body, grants, &record),
        ("livekit.RoomService", "UpdateRoomMetadata") => {
            let req: proto::UpdateRoomMetadataRequest = match decode(json_body, &body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            if !grants.room_admin || grants.room != req.room {
                return twirp_error(StatusCode::FORBIDDEN, "permission_denied", "roomAdmin grant on the room needed");
            }
            record(serde_json::to_value(&req).unwrap());
            let mut state = inner.lock().unwrap();
            if !state.rooms.contains(&req.room) {
                return twirp_error(StatusCode::NOT_FOUND, "not_found", "requested room does not exist");
            }
            state.metadata.insert(req.room.clone(), req.metadata.clone());
            let room = proto::Room { name: req.room, metadata: req.metadata, ..Default::default() };
            drop(state);
            encode(json_body, &room)
        }
        ("livekit.AgentDispatchService", "CreateDispatch") => {
            let req: proto::CreateAgentDispatchRequest = match decode(json_body, &body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            if !grants.room_admin || grants.room != req.room {
                return twirp_error(StatusCode::FORBIDDEN, "permission_denied", "roomAdmin grant on the room needed");
            }
            record(serde_json::to_value(&req).unwrap());
            let dispatch = proto::AgentDispatch {
                id: format!("AD_{}", uuid::Uuid::new_v4().simple()),
                agent_name: req.agent_name,
                room: req.room,
                ..Default::default()
            };
            encode(json_body, &dispatch)
        }
        ("livekit.AgentDispatchService", "DeleteDispatch") => {
            let req: proto::DeleteAgentDispatchRequest = match decode(json_body, &body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            if !grants.room_admin || grants.room != req.room {
                return twirp_error(StatusCode::FORBIDDEN, "permission_denied", "roomAdmin grant on the room needed");
            }
            record(serde_json::to_value(&req).unwrap());
            let dispatch = proto::AgentDispatch { id: req.dispatch_id, room: req.room, ..Default::default() };
            encode(json_body, &dispatch)
        }
        ("livekit.RoomService", "DeleteRoom") => {
            if !grants.room_create {
                return twirp_error(StatusCode::FORBIDDEN, "permission_denied", "roomCreate grant needed");
            }
            let req: proto::DeleteRoomRequest = match decode(json_body, &body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            record(serde_json::to_value(&req).unwrap());
            inner.lock().unwrap().rooms.retain(|r| r != &req.room);
            encode(json_body, &proto::DeleteRoomResponse {})
        }
        ("livekit.SIP", m @ ("ListSIPDispatchRule" | "CreateSIPDispatchRule" | "DeleteSIPDispatchRule")) => {
            if !claims.sip.admin {
                return twirp_error(StatusCode::FORBIDDEN, "permission_denied", "SIP admin grant needed");
            }
            if m == "DeleteSIPDispatchRule" {
                let req: proto::DeleteSipDispatchRuleRequest = match decode(json_body, &body) {
                    Ok(r) => r,
                    Err(e) => return e,
                };
                record(serde_json::to_value(&req).unwrap());
                let mut state = inner.lock().unwrap();
                let Some(at) = state.sip_rules.iter().position(|r| r.sip_dispatch_rule_id == req.sip_dispatch_rule_id)
                else {
                    return twirp_error(StatusCode::NOT_FOUND, "not_found", "dispatch rule not found");
                };
                let info = state.sip_rules.remove(at);
                drop(state);
                return encode(json_body, &info);
            }
            if m == "ListSIPDispatchRule" {
                let req: proto::ListSipDispatchRuleRequest = match decode(json_body, &body) {
                    Ok(r) => r,
                    Err(e) => return e,
                };
                record(serde_json::to_value(&req).unwrap());
                let items = inner.lock().unwrap().sip_rules.clone();
                return encode(json_body, &proto::ListSipDispatchRuleResponse { items });
            }
            let req: proto::CreateSipDispatchRuleRequest = match decode(json_body, &body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            record(serde_json::to_value(&req).unwrap());
            #[allow(deprecated)]
            let info = proto::SipDispatchRuleInfo {
                sip_dispatch_rule_id: format!("SDR_{}", uuid::Uuid::new_v4().simple()),
                name: req.name.clone(),
                rule: req.rule.clone(),
                ..Default::default()
            };
            inner.lock().unwrap().sip_rules.push(info.clone());
            encode(json_body, &info)
        }
        ("livekit.Egress", _) => {
            if !grants.room_record {
                return twirp_error(StatusCode::FORBIDDEN, "permission_denied", "roomRecord grant needed");
            }
            let scripted = inner.lock().unwrap().egress.failures.get(method.as_str()).cloned();
            if let Some(f) = scripted {
                if let Some(r) = super::egress::fail(f).await {
                    return r;
                }
            }
            super::egress::handle(&inner_egress(&inner), &method, json_body, &body, &record)
        }
        _ => twirp_error(StatusCode::NOT_FOUND, "bad_route", "no such method in this double"),
    }
}

/// The participant RPCs: each needs `roomAdmin` on the request's room, as LiveKit checks.
fn participant_call(
    inner: &Arc<Mutex<Inner>>,
    method: &str,
    json_body: bool,
    body: &[u8],
    grants: &livekit_api::access_token::VideoGrants,
    record: &dyn Fn(Value),
) -> Response {
    fn admin_of(grants: &livekit_api::access_token::VideoGrants, room: &str) -> Option<Response> {
        (!grants.room_admin || grants.room != room)
            .then(|| twirp_error(StatusCode::FORBIDDEN, "permission_denied", "roomAdmin grant on the room needed"))
    }
    let not_found = || twirp_error(StatusCode::NOT_FOUND, "not_found", "participant not found");
    macro_rules! request {
        ($t:ty) => {{
            let req: $t = match decode(json_body, body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            if let Some(denied) = admin_of(grants, &req.room) {
                return denied;
            }
            record(serde_json::to_value(&req).unwrap());
            let state = inner.lock().unwrap().participants.get(&(req.room.clone(), req.identity.clone())).copied();
            (req, state)
        }};
    }
    match method {
        "GetParticipant" | "RemoveParticipant" => {
            let (req, state) = request!(proto::RoomParticipantIdentity);
            let Some(state) = state else { return not_found() };
            if method == "RemoveParticipant" {
                inner.lock().unwrap().participants.remove(&(req.room.clone(), req.identity.clone()));
                return encode(json_body, &proto::RemoveParticipantResponse {});
            }
            let info = proto::ParticipantInfo { identity: req.identity, state: state as i32, ..Default::default() };
            encode(json_body, &info)
        }
        "MutePublishedTrack" => {
            let (req, state) = request!(proto::MuteRoomTrackRequest);
            if state.is_none() {
                return not_found();
            }
            let track = proto::TrackInfo { sid: req.track_sid, muted: req.muted, ..Default::default() };
            encode(json_body, &proto::MuteRoomTrackResponse { track: Some(track) })
        }
        _ => {
            let (req, state) = request!(proto::UpdateParticipantRequest);
            if state.is_none() {
                return not_found();
            }
            encode(json_body, &proto::ParticipantInfo { identity: req.identity, name: req.name, ..Default::default() })
        }
    }
}

/// Signs a webhook body as LiveKit does: `Authorization: <jwt>` (no `Bearer`), HS256 with the
/// secret, `iss` = key, `sha256` = base64 of the body's SHA-256.
pub fn sign_webhook(body: &str, key: &str, secret: &str, valid_for: Duration) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body.as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(digest);
    let mut token = livekit_api::access_token::AccessToken::with_api_key(key, secret).with_ttl(valid_for);
    token = token.with_sha256(&hash);
    token.to_jwt().unwrap()
}
