//! Recordings as pure rules (recordings §3, §6, §8.1, §11): the status machine with its
//! compare-and-set sources (§11.3.1), modes and object keys, abilities, the mapping of LiveKit
//! egress statuses (B3), the exact recording key of a storage event (§6.2, S2), and the anchored
//! media URL pattern (§8.1, S3). Upstream HEAD's event parsers are in `recording_head`.

use std::fmt;

use uuid::Uuid;

use super::permissions::{is_administrator, Role};

/// A recording's status (§3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Initiated,
    Active,
    Stopped,
    Saved,
    Aborted,
    FailedToStart,
    FailedToStop,
    NotificationSucceeded,
    /// The summary service reported its job done (now-recordings §13).
    ExternalProcessSuccessful,
    /// The summary service reported its job failed.
    ExternalProcessFailed,
}

impl Status {
    pub const ALL: [Status; 10] = [
        Status::Initiated,
        Status::Active,
        Status::Stopped,
        Status::Saved,
        Status::Aborted,
        Status::FailedToStart,
        Status::FailedToStop,
        Status::NotificationSucceeded,
        Status::ExternalProcessSuccessful,
        Status::ExternalProcessFailed,
    ];

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Initiated => "initiated",
            Status::Active => "active",
            Status::Stopped => "stopped",
            Status::Saved => "saved",
            Status::Aborted => "aborted",
            Status::FailedToStart => "failed_to_start",
            Status::FailedToStop => "failed_to_stop",
            Status::NotificationSucceeded => "notification_succeeded",
            Status::ExternalProcessSuccessful => "external_process_successful",
            Status::ExternalProcessFailed => "external_process_failed",
        }
    }

    /// Final statuses (B5: `notification_succeeded` is final too).
    pub fn is_final(self) -> bool {
        !matches!(self, Status::Initiated | Status::Active)
    }

    /// Statuses from which a file may be saved (§11.3.1: `failed_to_stop` too, B3).
    pub fn is_savable(self) -> bool {
        Status::Saved.allowed_from().contains(&self)
    }

    /// The file is known to exist (B4, NRC-MOD-2: `saved`, `notification_succeeded` and both
    /// external-process outcomes).
    pub fn is_saved(self) -> bool {
        matches!(
            self,
            Status::Saved
                | Status::NotificationSucceeded
                | Status::ExternalProcessSuccessful
                | Status::ExternalProcessFailed
        )
    }

    /// The statuses a compare-and-set transition to `self` may start from (§11.3.1).
    pub fn allowed_from(self) -> &'static [Status] {
        match self {
            Status::Initiated => &[],
            Status::Active => &[Status::Initiated],
            Status::FailedToStart => &[Status::Initiated],
            Status::Stopped => &[Status::Active],
            Status::Aborted => &[Status::Active, Status::Stopped],
            Status::FailedToStop => &[Status::Active],
            Status::Saved => &[Status::Active, Status::Stopped, Status::FailedToStop],
            Status::NotificationSucceeded => &[Status::Saved],
            // R-8: only a saved recording's job can end, and its outcome may be corrected.
            Status::ExternalProcessSuccessful | Status::ExternalProcessFailed => &[
                Status::Saved,
                Status::NotificationSucceeded,
                Status::ExternalProcessSuccessful,
                Status::ExternalProcessFailed,
            ],
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is recorded (§3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    ScreenRecording,
    Transcript,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::ScreenRecording, Mode::Transcript];

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "screen_recording" => Some(Mode::ScreenRecording),
            "transcript" => Some(Mode::Transcript),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ScreenRecording => "screen_recording",
            Mode::Transcript => "transcript",
        }
    }

    /// `mp4` or `ogg`.
    pub fn extension(self) -> &'static str {
        match self {
            Mode::ScreenRecording => "mp4",
            Mode::Transcript => "ogg",
        }
    }
}

/// Longest egress id kept in `worker_id` (RM-7: `varchar(255)`).
pub const WORKER_ID_MAX: usize = 255;

/// The object key of a recording (§3.3): `<folder>/<id>.<ext>`, the folder used verbatim.
pub fn key(folder: &str, id: Uuid, mode: Mode) -> String {
    format!("{folder}/{id}.{}", mode.extension())
}

/// The abilities of one user on one recording (§3.5, B5 applied). Not serialized by any
/// endpoint; used as the permission checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Abilities {
    pub destroy: bool,
    pub partial_update: bool,
    pub retrieve: bool,
    pub stop: bool,
    pub update: bool,
}

/// Abilities from the caller's best role on the recording.
pub fn abilities(role: Option<Role>, status: Status) -> Abilities {
    let admin = is_administrator(role);
    Abilities {
        destroy: admin && status.is_final(),
        partial_update: false,
        retrieve: admin,
        stop: admin && !status.is_final(),
        update: false,
    }
}

/// LiveKit's `EgressStatus` values (§5.3), as the protocol crate defines them.
pub mod egress_status {
    use livekit_protocol::EgressStatus as S;
    pub const STARTING: i32 = S::EgressStarting as i32;
    pub const ACTIVE: i32 = S::EgressActive as i32;
    pub const ENDING: i32 = S::EgressEnding as i32;
    pub const COMPLETE: i32 = S::EgressComplete as i32;
    pub const FAILED: i32 = S::EgressFailed as i32;
    pub const ABORTED: i32 = S::EgressAborted as i32;
    pub const LIMIT_REACHED: i32 = S::EgressLimitReached as i32;
}

/// The recording status after a StopEgress reply (B3): an accepted or already finished stop
/// is `stopped` (its file is or will be in the bucket), an aborted egress `aborted`, a failed
/// one `failed_to_stop`.
pub fn status_after_stop(egress_status: i32) -> Status {
    use egress_status::*;
    match egress_status {
        ABORTED => Status::Aborted,
        FAILED => Status::FailedToStop,
        STARTING | ACTIVE | ENDING | COMPLETE | LIMIT_REACHED => Status::Stopped,
        _ => Status::FailedToStop,
    }
}

/// What an egress's reported state means for its recording (webhooks §11.3.2 and the
/// reconciler §11.3.4). `None`: still running, nothing to do.
pub fn status_after_egress(egress_status: i32, has_file: bool) -> Option<Status> {
    use egress_status::*;
    match egress_status {
        STARTING | ACTIVE | ENDING => None,
        COMPLETE | LIMIT_REACHED if has_file => Some(Status::Saved),
        COMPLETE | LIMIT_REACHED => Some(Status::Stopped),
        ABORTED => Some(Status::Aborted),
        _ => Some(Status::FailedToStop),
    }
}

/// True while an egress may still produce its file.
pub fn egress_running(egress_status: i32) -> bool {
    status_after_egress(egress_status, false).is_none()
}

/// The content types a recording file may have (§6.2).
pub const ALLOWED_CONTENT_TYPES: [&str; 2] = ["audio/ogg", "video/mp4"];

/// S3 event keys are URL-encoded, with `+` for spaces (§12.2).
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// The id of `<folder>/<uuid>.<mp4|ogg>` (the exact shape of [`key`]), else `None`.
pub fn recording_id_in_key(key: &str, folder: &str) -> Option<Uuid> {
    let rest = key.strip_prefix(folder)?.strip_prefix('/')?;
    let (id, ext) = rest.split_once('.')?;
    if id.len() != 36 || !matches!(ext, "mp4" | "ogg") {
        return None;
    }
    Uuid::try_parse(id).ok()
}

/// Why media-auth refuses an original URL (§4.9 steps 3–5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaUrlError {
    /// No header, unparsable URL, or a path other than exactly `/media/<folder>/<uuid>.<ext>`.
    Forbidden,
    /// An extension other than `mp4` or `ogg` (case-sensitive): 400 `Unsupported extension.`
    UnsupportedExtension,
}

/// The recording id and extension of a media URL, matched on the whole path (S3):
/// `^/media/<folder, escaped>/<uuid>\.<1 to 10 letters or digits>$`.
pub fn parse_media_url(original: Option<&str>, folder: &str) -> Result<(Uuid, &'static str), MediaUrlError> {
    let original = original.filter(|s| !s.is_empty()).ok_or(MediaUrlError::Forbidden)?;
    let path = match url::Url::parse(original) {
        Ok(u) => u.path().to_string(),
        Err(_) if original.starts_with('/') => original.split(['?', '#']).next().unwrap_or("").to_string(),
        Err(_) => return Err(MediaUrlError::Forbidden),
    };
    let pattern = format!(
        r"^/media/{}/([a-fA-F0-9]{{8}}-[a-fA-F0-9]{{4}}-[a-fA-F0-9]{{4}}-[a-fA-F0-9]{{4}}-[a-fA-F0-9]{{12}})\.([a-zA-Z0-9]{{1,10}})$",
        regex::escape(folder)
    );
    let re = regex::Regex::new(&pattern).map_err(|_| MediaUrlError::Forbidden)?;
    let caps = re.captures(&path).ok_or(MediaUrlError::Forbidden)?;
    let ext = match &caps[2] {
        "mp4" => "mp4",
        "ogg" => "ogg",
        _ => return Err(MediaUrlError::UnsupportedExtension),
    };
    let id = Uuid::try_parse(&caps[1]).map_err(|_| MediaUrlError::Forbidden)?;
    Ok((id, ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5e14295d-c63e-4a08-b5cf-3a42e84fd76e";

    #[test]
    fn rm_8_keys_use_the_folder_verbatim() {
        let id = Uuid::parse_str(ID).unwrap();
        assert_eq!(key("/custom/path", id, Mode::Transcript), format!("/custom/path/{ID}.ogg"));
        assert_eq!(key("/custom/path", id, Mode::ScreenRecording), format!("/custom/path/{ID}.mp4"));
    }

    #[test]
    fn rm_6_unknown_statuses_and_modes_are_refused() {
        assert_eq!(Status::parse("INVALID_STATUS"), None);
        assert_eq!(Mode::parse("unknown"), None);
        assert!(Status::ALL.iter().all(|s| Status::parse(s.as_str()) == Some(*s)));
    }

    #[test]
    fn rw_14_rw_15_transition_sources() {
        assert_eq!(Status::Active.allowed_from(), [Status::Initiated]);
        assert_eq!(Status::FailedToStart.allowed_from(), [Status::Initiated]);
        assert_eq!(Status::Stopped.allowed_from(), [Status::Active]);
        assert_eq!(Status::Aborted.allowed_from(), [Status::Active, Status::Stopped]);
        assert_eq!(Status::FailedToStop.allowed_from(), [Status::Active]);
        assert_eq!(Status::NotificationSucceeded.allowed_from(), [Status::Saved]);
        assert!(Status::Initiated.allowed_from().is_empty());
    }

    #[test]
    fn rm_9_rm_10_savable_and_saved_statuses() {
        let savable: Vec<_> = Status::ALL.into_iter().filter(|s| s.is_savable()).collect();
        assert_eq!(savable, [Status::Active, Status::Stopped, Status::FailedToStop]);
        let saved: Vec<_> = Status::ALL.into_iter().filter(|s| s.is_saved()).collect();
        assert_eq!(
            saved,
            [
                Status::Saved,
                Status::NotificationSucceeded,
                Status::ExternalProcessSuccessful,
                Status::ExternalProcessFailed
            ]
        );
    }

    #[test]
    fn rm_11_rm_12_abilities() {
        for role in [Role::Owner, Role::Administrator] {
            let a = abilities(Some(role), Status::Active);
            assert_eq!(
                a,
                Abilities { destroy: false, partial_update: false, retrieve: true, stop: true, update: false }
            );
            let s = abilities(Some(role), Status::Saved);
            assert!(s.destroy && s.retrieve && !s.stop);
            let n = abilities(Some(role), Status::NotificationSucceeded);
            assert!(n.destroy && !n.stop, "B5");
        }
        let none = Abilities { destroy: false, partial_update: false, retrieve: false, stop: false, update: false };
        assert_eq!(abilities(Some(Role::Member), Status::Active), none);
        assert_eq!(abilities(Some(Role::Member), Status::Saved), none);
        assert_eq!(abilities(None, Status::Saved), none);
    }

    #[test]
    fn rw_10_stop_mapping_b3() {
        use egress_status::*;
        for s in [STARTING, ACTIVE, ENDING, COMPLETE, LIMIT_REACHED] {
            assert_eq!(status_after_stop(s), Status::Stopped, "{s}");
        }
        assert_eq!(status_after_stop(ABORTED), Status::Aborted);
        assert_eq!(status_after_stop(FAILED), Status::FailedToStop);
    }

    #[test]
    fn rma_10_media_urls_are_matched_on_the_whole_path() {
        let id = Uuid::parse_str(ID).unwrap();
        let f = "recordings";
        let p = |u: &str| parse_media_url(Some(u), f);
        assert_eq!(p(&format!("http://h/media/recordings/{ID}.mp4")), Ok((id, "mp4")));
        assert_eq!(p(&format!("http://h/media/recordings/{ID}.mp4?x=1")), Ok((id, "mp4")));
        assert_eq!(p(&format!("http://h/media/recordings/{}.mp4", ID.to_uppercase())), Ok((id, "mp4")));
        assert_eq!(p(&format!("/media/recordings/{ID}.MP4")), Err(MediaUrlError::UnsupportedExtension));
        assert_eq!(p(&format!("http://h/media/recordings/{ID}.mp4junk")), Err(MediaUrlError::UnsupportedExtension));
        assert_eq!(p(&format!("http://h/media/recordings/{ID}.jpg")), Err(MediaUrlError::UnsupportedExtension));
        for bad in [
            format!("http://h/prefix/media/recordings/{ID}.mp4/extra?x=1"),
            format!("http://h/media/recordings/{ID}Xmp4"),
            format!("http://h/media/wrong-path/{ID}.mp4"),
            format!("http://h/media/recordings/%7B{ID}%7D.mp4"),
            String::new(),
        ] {
            assert_eq!(p(&bad), Err(MediaUrlError::Forbidden), "{bad}");
        }
        assert_eq!(parse_media_url(None, f), Err(MediaUrlError::Forbidden));
        assert_eq!(parse_media_url(Some(&format!("http://h/media/a.b/{ID}.ogg")), "a.b"), Ok((id, "ogg")));
        assert_eq!(
            parse_media_url(Some(&format!("http://h/media/aXb/{ID}.ogg")), "a.b"),
            Err(MediaUrlError::Forbidden)
        );
    }
}
