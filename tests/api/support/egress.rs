//! The Egress service of the LiveKit double (Twirp `livekit.Egress`): StartRoomCompositeEgress
//! creates an `EGRESS_ACTIVE` egress, StopEgress answers the scripted status (default
//! `EGRESS_ENDING`) or `failed_precondition` once the egress has ended, ListEgress filters by
//! room or id. Tests script failures per method and move egresses (`finish`, `forget`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use livekit_protocol as proto;
use serde_json::Value;

use super::livekit::{decode, encode, twirp_error, EgressHandle, Failure};

/// The protocol's egress statuses (the double speaks LiveKit's values, not the app's).
pub const STARTING: i32 = proto::EgressStatus::EgressStarting as i32;
pub const ACTIVE: i32 = proto::EgressStatus::EgressActive as i32;
pub const ENDING: i32 = proto::EgressStatus::EgressEnding as i32;
pub const COMPLETE: i32 = proto::EgressStatus::EgressComplete as i32;
pub const FAILED: i32 = proto::EgressStatus::EgressFailed as i32;
pub const ABORTED: i32 = proto::EgressStatus::EgressAborted as i32;
pub const LIMIT_REACHED: i32 = proto::EgressStatus::EgressLimitReached as i32;

/// The scripted failure's answer (`None`: go on after a hang).
pub async fn fail(f: Failure) -> Option<Response> {
    match f {
        Failure::Twirp(status, code) => {
            Some(twirp_error(StatusCode::from_u16(status).unwrap(), code, "scripted egress failure"))
        }
        Failure::Html502 => Some(
            (StatusCode::BAD_GATEWAY, [("content-type", "text/html")], "<html>502 Bad Gateway</html>").into_response(),
        ),
        Failure::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            None
        }
        Failure::Delay(ms) => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            None
        }
    }
}

fn running(status: i32) -> bool {
    matches!(status, STARTING | ACTIVE | ENDING)
}

pub fn handle(h: &EgressHandle, method: &str, json_body: bool, body: &[u8], record: &dyn Fn(Value)) -> Response {
    match method {
        "StartRoomCompositeEgress" => {
            let req: proto::RoomCompositeEgressRequest = match decode(json_body, body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            record(serde_json::to_value(&req).unwrap());
            let info = h.with(|s| {
                if s.empty_start_id {
                    return proto::EgressInfo::default();
                }
                s.counter += 1;
                let info = proto::EgressInfo {
                    egress_id: format!("EG_{}", s.counter),
                    room_name: req.room_name.clone(),
                    status: ACTIVE,
                    request: Some(proto::egress_info::Request::RoomComposite(req.clone())),
                    ..Default::default()
                };
                s.egresses.push(info.clone());
                info
            });
            encode(json_body, &info)
        }
        "StopEgress" => {
            let req: proto::StopEgressRequest = match decode(json_body, body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            record(serde_json::to_value(&req).unwrap());
            let result = h.with(|s| {
                let stop_status = s.stop_status.unwrap_or(ENDING);
                let e = s.egresses.iter_mut().find(|e| e.egress_id == req.egress_id)?;
                if !running(e.status) {
                    return Some(Err(()));
                }
                e.status = stop_status;
                Some(Ok(e.clone()))
            });
            match result {
                None => twirp_error(StatusCode::NOT_FOUND, "not_found", "egress not found"),
                Some(Err(())) => {
                    twirp_error(StatusCode::PRECONDITION_FAILED, "failed_precondition", "egress already ended")
                }
                Some(Ok(info)) => encode(json_body, &info),
            }
        }
        "ListEgress" => {
            let req: proto::ListEgressRequest = match decode(json_body, body) {
                Ok(r) => r,
                Err(e) => return e,
            };
            record(serde_json::to_value(&req).unwrap());
            let items = h.with(|s| {
                s.egresses
                    .iter()
                    .filter(|e| req.room_name.is_empty() || e.room_name == req.room_name)
                    .filter(|e| req.egress_id.is_empty() || e.egress_id == req.egress_id)
                    .filter(|e| !req.active || running(e.status))
                    .cloned()
                    .collect()
            });
            encode(json_body, &proto::ListEgressResponse { items, next_page_token: None })
        }
        _ => twirp_error(StatusCode::NOT_FOUND, "bad_route", "no such Egress method in this double"),
    }
}

impl EgressHandle {
    /// Makes `method` fail (or succeed again with `None`).
    pub fn fail(&self, method: &str, failure: Option<Failure>) {
        self.with(|s| match failure {
            Some(f) => {
                s.failures.insert(method.to_string(), f);
            }
            None => {
                s.failures.remove(method);
            }
        });
    }

    pub fn set_stop_status(&self, status: i32) {
        self.with(|s| s.stop_status = Some(status));
    }

    pub fn set_empty_start_id(&self, on: bool) {
        self.with(|s| s.empty_start_id = on);
    }

    /// The egress `id` as LiveKit reports it now.
    pub fn get(&self, id: &str) -> Option<proto::EgressInfo> {
        self.with(|s| s.egresses.iter().find(|e| e.egress_id == id).cloned())
    }

    pub fn all(&self) -> Vec<proto::EgressInfo> {
        self.with(|s| s.egresses.clone())
    }

    /// Sets the times of the egress's file result (nanoseconds since the epoch).
    pub fn set_file_times(&self, id: &str, started_at: i64, ended_at: i64) {
        self.with(|s| {
            if let Some(e) = s.egresses.iter_mut().find(|e| e.egress_id == id) {
                for f in &mut e.file_results {
                    f.started_at = started_at;
                    f.ended_at = ended_at;
                }
            }
        });
    }

    /// Ends the egress `id` with `status`, with a file result at its filepath when `file`.
    pub fn finish(&self, id: &str, status: i32, file: bool) -> Option<proto::EgressInfo> {
        self.with(|s| {
            let e = s.egresses.iter_mut().find(|e| e.egress_id == id)?;
            e.status = status;
            if status == FAILED {
                e.error = "scripted egress failure".into();
            }
            if file {
                let filename = match &e.request {
                    Some(proto::egress_info::Request::RoomComposite(r)) => {
                        r.file_outputs.first().map(|f| f.filepath.clone()).unwrap_or_default()
                    }
                    _ => String::new(),
                };
                e.file_results = vec![proto::FileInfo { filename, size: 1024, ..Default::default() }];
            }
            Some(e.clone())
        })
    }

    /// LiveKit forgets the egress (a restart): ListEgress no longer lists it.
    pub fn forget(&self, id: &str) {
        self.with(|s| s.egresses.retain(|e| e.egress_id != id));
    }
}
