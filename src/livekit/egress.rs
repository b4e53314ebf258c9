//! LiveKit Egress over Twirp (recordings §5, §12.1): StartRoomCompositeEgress, StopEgress and
//! ListEgress, with `livekit-protocol` messages and a `livekit-api` access token carrying the
//! `roomRecord` grant.
//!
//! The requests are posted by this small client rather than `livekit_api`'s `EgressClient`
//! because that client always adds "advanced" encoding options to a room-composite start, while
//! the reference sends none (B14: the files must come out with LiveKit's defaults), and because
//! `RECORDING_VERIFY_SSL` must apply to every egress call (RW-11). Every call is bounded by
//! `MEET_RECORDING_EGRESS_TIMEOUT` and every failure is returned, never panicked.

use livekit_api::access_token::VideoGrants;
use livekit_protocol as proto;
use prost::Message;

use crate::config::recording::{Encoding, S3Config};
use crate::config::Config;
use crate::domain::recording::Mode;

/// Why an egress call failed.
pub type EgressError = super::twirp::CallError;

impl EgressError {
    /// True for the Twirp codes of an egress that no longer runs (B3).
    pub fn is_gone(&self) -> bool {
        matches!(self, EgressError::Twirp { code, .. } if code == "failed_precondition" || code == "not_found")
    }
}

/// The Egress service client.
#[derive(Clone)]
pub struct Egress {
    client: super::twirp::Client,
}

impl Egress {
    pub fn new(config: &Config) -> Egress {
        let client = super::twirp::Client::new(
            config.livekit_api_url.as_deref(),
            &config.livekit_api_key,
            &config.livekit_api_secret,
            config.recording.egress_timeout,
            config.recording.verify_ssl,
        );
        Egress { client }
    }

    async fn call<Req: Message, Resp: Message + Default>(&self, method: &str, req: Req) -> Result<Resp, EgressError> {
        let grants = VideoGrants { room_record: true, ..Default::default() };
        self.client.call("Egress", method, grants, req).await
    }

    /// `StartRoomCompositeEgress` with the request as built by [`room_composite_request`].
    pub async fn start(&self, request: proto::RoomCompositeEgressRequest) -> Result<proto::EgressInfo, EgressError> {
        self.call("StartRoomCompositeEgress", request).await
    }

    /// `StopEgress`.
    pub async fn stop(&self, egress_id: &str) -> Result<proto::EgressInfo, EgressError> {
        self.call("StopEgress", proto::StopEgressRequest { egress_id: egress_id.to_string() }).await
    }

    /// `ListEgress` for one egress id (empty when LiveKit no longer knows it).
    pub async fn list_by_id(&self, egress_id: &str) -> Result<Vec<proto::EgressInfo>, EgressError> {
        let req = proto::ListEgressRequest { egress_id: egress_id.to_string(), ..Default::default() };
        let resp: proto::ListEgressResponse = self.call("ListEgress", req).await?;
        Ok(resp.items)
    }

    /// `ListEgress` for one LiveKit room.
    pub async fn list_by_room(&self, room_name: &str) -> Result<Vec<proto::EgressInfo>, EgressError> {
        let req = proto::ListEgressRequest { room_name: room_name.to_string(), ..Default::default() };
        let resp: proto::ListEgressResponse = self.call("ListEgress", req).await?;
        Ok(resp.items)
    }
}

/// The room-composite request of upstream HEAD (now-recordings §6.4): one file output uploaded
/// to S3 at `filepath`; `audio_only` and OGG for transcripts; MP4 with the `speaker-light`
/// layout for screen recordings, with `advanced` encoding options only when
/// `RECORDING_ENCODING_ENABLED` (else LiveKit's default encoding, B14); nothing else.
pub fn room_composite_request(
    room_name: &str,
    mode: Mode,
    filepath: &str,
    s3: &S3Config,
    encoding: Option<&Encoding>,
) -> proto::RoomCompositeEgressRequest {
    let upload = proto::S3Upload {
        access_key: s3.access_key_id.clone().unwrap_or_default(),
        secret: s3.secret_access_key.clone().unwrap_or_default(),
        region: s3.region.clone().unwrap_or_default(),
        endpoint: s3.endpoint_url.clone().unwrap_or_default(),
        bucket: s3.bucket.clone(),
        force_path_style: true,
        ..Default::default()
    };
    let file_type = match mode {
        Mode::ScreenRecording => proto::EncodedFileType::Mp4,
        Mode::Transcript => proto::EncodedFileType::Ogg,
    };
    let video = mode == Mode::ScreenRecording;
    let options = encoding.filter(|_| video).map(|e| {
        proto::room_composite_egress_request::Options::Advanced(proto::EncodingOptions {
            width: e.width as i32,
            height: e.height as i32,
            framerate: e.framerate as i32,
            video_bitrate: e.video_bitrate_kbps as i32,
            audio_bitrate: e.audio_bitrate_kbps as i32,
            key_frame_interval: e.key_frame_interval_s,
            video_codec: proto::VideoCodec::H264Main as i32,
            audio_codec: proto::AudioCodec::Aac as i32,
            audio_frequency: 48_000,
            ..Default::default()
        })
    });
    proto::RoomCompositeEgressRequest {
        room_name: room_name.to_string(),
        layout: if video { "speaker-light".to_string() } else { String::new() },
        options,
        audio_only: mode == Mode::Transcript,
        file_outputs: vec![proto::EncodedFileOutput {
            file_type: file_type as i32,
            filepath: filepath.to_string(),
            output: Some(proto::encoded_file_output::Output::S3(upload)),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The file path an egress was asked to write, if it is a room-composite file egress.
pub fn requested_filepath(info: &proto::EgressInfo) -> Option<&str> {
    match &info.request {
        Some(proto::egress_info::Request::RoomComposite(r)) => r.file_outputs.first().map(|f| f.filepath.as_str()),
        _ => None,
    }
}

/// True when the egress reports a written file.
#[allow(deprecated)]
pub fn has_file(info: &proto::EgressInfo) -> bool {
    !info.file_results.is_empty() || matches!(info.result, Some(proto::egress_info::Result::File(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3() -> S3Config {
        S3Config {
            endpoint_url: Some("http://minio:9000".into()),
            access_key_id: Some("meet".into()),
            secret_access_key: Some("password".into()),
            region: None,
            signing_region: "us-east-1".into(),
            bucket: "meet-media-storage".into(),
            timeout: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn rw_3_rw_6_rw_7_b14_requests_carry_only_the_reference_fields() {
        let r = room_composite_request("room", Mode::Transcript, "recordings/x.ogg", &s3(), Some(&enc()));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["roomName"], "room");
        assert_eq!(json["audioOnly"], true);
        assert!(r.options.is_none() && r.layout.is_empty() && r.output.is_none() && !r.video_only);
        let f = &r.file_outputs[0];
        assert_eq!(f.file_type, proto::EncodedFileType::Ogg as i32);
        assert_eq!(f.filepath, "recordings/x.ogg");
        let Some(proto::encoded_file_output::Output::S3(u)) = &f.output else { panic!("s3 output") };
        assert!(u.force_path_style);
        assert_eq!((u.access_key.as_str(), u.secret.as_str(), u.region.as_str()), ("meet", "password", ""));
        assert_eq!((u.endpoint.as_str(), u.bucket.as_str()), ("http://minio:9000", "meet-media-storage"));
        let v = room_composite_request("room", Mode::ScreenRecording, "recordings/x.mp4", &s3(), None);
        assert!(!v.audio_only && v.options.is_none());
        assert_eq!(v.layout, "speaker-light");
        assert_eq!(v.file_outputs[0].file_type, proto::EncodedFileType::Mp4 as i32);
    }

    fn enc() -> Encoding {
        Encoding {
            width: 1280,
            height: 720,
            framerate: 15,
            video_bitrate_kbps: 600,
            audio_bitrate_kbps: 64,
            key_frame_interval_s: 10.0,
        }
    }

    #[test]
    fn nrc_start_11_encoding_options_when_enabled() {
        let v = room_composite_request("room", Mode::ScreenRecording, "recordings/x.mp4", &s3(), Some(&enc()));
        let Some(proto::room_composite_egress_request::Options::Advanced(a)) = v.options else { panic!("advanced") };
        let want = proto::EncodingOptions {
            width: 1280,
            height: 720,
            framerate: 15,
            video_bitrate: 600,
            audio_bitrate: 64,
            key_frame_interval: 10.0,
            video_codec: proto::VideoCodec::H264Main as i32,
            audio_codec: proto::AudioCodec::Aac as i32,
            audio_frequency: 48_000,
            ..Default::default()
        };
        assert_eq!(a, want);
    }
}
