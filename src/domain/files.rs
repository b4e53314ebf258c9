//! Pure rules of uploaded files (now-recordings-files §18–§21): storage keys, the abilities of a
//! caller on a file, the media-auth URL pattern, and the MIME type detection of upload-ended
//! (§21.3.1) from the object's first bytes and its name.

use uuid::Uuid;

/// The only file type.
pub const BACKGROUND_IMAGE: &str = "background_image";
/// The file types `type` accepts.
pub const TYPES: &[&str] = &[BACKGROUND_IMAGE];
/// The upload states.
pub const PENDING: &str = "pending";
pub const ANALYZING: &str = "analyzing";
pub const READY: &str = "ready";
pub const UPLOAD_STATES: &[&str] = &[PENDING, ANALYZING, READY];
/// Bytes read from the object to detect its type (what libmagic recommends).
pub const SNIFF_BYTES: u64 = 2048;

/// Python's `os.path.splitext(name)[1]`: the last extension with its dot, original case, `""`
/// when none (a leading dot alone, as in `.file`, is no extension).
pub fn extension(filename: &str) -> &str {
    let base = filename.rsplit('/').next().unwrap_or(filename);
    let stem_start = base.len() - base.trim_start_matches('.').len();
    match base[stem_start..].rfind('.') {
        Some(i) => &base[stem_start + i..],
        None => "",
    }
}

/// The filename without its last extension (the default `title`).
pub fn title_of(filename: &str) -> &str {
    &filename[..filename.len() - extension(filename).len()]
}

/// `<prefix>/<id><extension>`: the temporary (`FILE_UPLOAD_TMP_PATH`) or final
/// (`FILE_UPLOAD_PATH`) key of a file.
pub fn key(prefix: &str, id: Uuid, filename: &str) -> String {
    format!("{prefix}/{id}{}", extension(filename))
}

/// The abilities of a caller on a file, in upstream's key order (§20.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "FileAbilities")]
pub struct Abilities {
    pub destroy: bool,
    pub hard_delete: bool,
    pub retrieve: bool,
    pub media_auth: bool,
    pub partial_update: bool,
    pub update: bool,
    pub upload_ended: bool,
}

/// §20.1 for an authenticated caller who is (or is not) the creator of a file (deleted or not).
pub fn abilities(is_creator: bool, is_deleted: bool) -> Abilities {
    let live = is_creator && !is_deleted;
    Abilities {
        destroy: live,
        hard_delete: is_creator,
        retrieve: is_creator,
        media_auth: live,
        partial_update: live,
        update: live,
        upload_ended: live,
    }
}

/// The key a media-auth original URL names (§21.6 step 4): the percent-decoded path must end
/// with `/media/<upload_path>/<uuid>.<1–10 alphanumerics>`. Returns the key and the id.
pub fn media_key(original_url: &str, upload_path: &str) -> Option<(String, Uuid)> {
    let path = match url::Url::parse(original_url) {
        Ok(u) => u.path().to_string(),
        Err(_) => original_url.split(['?', '#']).next().unwrap_or("").to_string(),
    };
    let decoded = percent_encoding::percent_decode_str(&path).decode_utf8().ok()?;
    let marker = format!("/media/{upload_path}/");
    let start = decoded.rfind(&marker)?;
    let key = &decoded[start + "/media/".len()..];
    let name = &key[upload_path.len() + 1..];
    let (id, ext) = name.split_once('.')?;
    let id_ok = id.len() == 36
        && id.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
    let ext_ok = (1..=10).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric());
    if !id_ok || !ext_ok {
        return None;
    }
    Some((key.to_string(), Uuid::parse_str(id).ok()?))
}

/// Content types that say nothing of the content (§21.3.1 step 3).
const GENERIC: &[&str] = &["application/octet-stream", "application/x-ole-storage", "application/zip", "text/plain"];

/// The type of `bytes` from their magic numbers, as libmagic names it; `None` when unknown.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
        (b"\x1f\x8b", "application/gzip"),
        (b"BM", "image/bmp"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
        (b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
        (b"OggS", "audio/ogg"),
        (b"\x7fELF", "application/x-executable"),
        (b"MZ", "application/x-dosexec"),
    ];
    if bytes.is_empty() {
        return Some("application/x-empty");
    }
    if let Some((_, t)) = MAGIC.iter().find(|(m, _)| bytes.starts_with(m)) {
        return Some(t);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        return Some(match brand {
            b"avif" | b"avis" => "image/avif",
            b"heic" | b"heix" | b"mif1" => "image/heic",
            _ => "video/mp4",
        });
    }
    let text = String::from_utf8_lossy(bytes);
    let head = text.trim_start().to_ascii_lowercase();
    if head.starts_with("<svg") || (head.starts_with("<?xml") && head.contains("<svg")) {
        return Some("image/svg+xml");
    }
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return Some("text/html");
    }
    // A prefix cut in the middle of a UTF-8 sequence still counts as text.
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > bytes.len(),
    };
    let printable = bytes.iter().all(|b| *b >= 0x20 || matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b | 0x08));
    (valid && printable).then_some("text/plain")
}

/// The type Python's `mimetypes` guesses from a filename's extension (non-strict table, the
/// usual entries); `None` when unknown.
pub fn guess_from_name(filename: &str) -> Option<&'static str> {
    let ext = extension(filename).to_ascii_lowercase();
    Some(match ext.as_str() {
        ".png" => "image/png",
        ".jpg" | ".jpeg" | ".jpe" => "image/jpeg",
        ".gif" => "image/gif",
        ".webp" => "image/webp",
        ".bmp" => "image/bmp",
        ".svg" => "image/svg+xml",
        ".tif" | ".tiff" => "image/tiff",
        ".ico" => "image/vnd.microsoft.icon",
        ".avif" => "image/avif",
        ".heic" => "image/heic",
        ".pdf" => "application/pdf",
        ".json" => "application/json",
        ".zip" => "application/zip",
        ".gz" => "application/gzip",
        ".txt" | ".text" => "text/plain",
        ".csv" => "text/csv",
        ".html" | ".htm" => "text/html",
        ".xml" => "text/xml",
        ".js" => "text/javascript",
        ".css" => "text/css",
        ".md" => "text/markdown",
        ".mp4" => "video/mp4",
        ".ogg" => "audio/ogg",
        ".mp3" => "audio/mpeg",
        ".doc" => "application/msword",
        ".docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".odt" => "application/vnd.oasis.opendocument.text",
        _ => return None,
    })
}

/// §21.3.1: the magic-byte type, unless it is generic (or unknown) and the name's extension
/// gives a specific one.
pub fn detect(bytes: &[u8], filename: &str) -> String {
    let content = sniff(bytes);
    let by_name = guess_from_name(filename);
    match (content, by_name) {
        (Some(c), Some(n)) if GENERIC.contains(&c) && !GENERIC.contains(&n) => n.to_string(),
        (None, Some(n)) => n.to_string(),
        (Some(c), _) => c.to_string(),
        (None, None) => "application/octet-stream".to_string(),
    }
}

/// Whether `detected` passes `allowed` (R-F3): when every allowed type is an image type, the
/// magic-byte result itself must be allowed (a text file named `x.png` is refused); otherwise
/// upstream's rule on the detected type.
pub fn type_allowed(bytes: &[u8], detected: &str, allowed: &[String]) -> bool {
    let images_only = !allowed.is_empty() && allowed.iter().all(|t| t.starts_with("image/"));
    if images_only {
        return sniff(bytes).is_some_and(|t| allowed.iter().any(|a| a == t));
    }
    allowed.iter().any(|a| a == detected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_follow_python_splitext() {
        for (name, ext) in [
            ("file.JPG", ".JPG"),
            ("a.b.png", ".png"),
            ("file", ""),
            (".file", ""),
            ("..file", ""),
            ("file.", "."),
            ("my_file.notallowed", ".notallowed"),
        ] {
            assert_eq!(extension(name), ext, "{name}");
        }
        assert_eq!(title_of("file.JPG"), "file");
        assert_eq!(title_of("a.b.png"), "a.b");
        let id = Uuid::nil();
        assert_eq!(key("tmp/files", id, "x.PNG"), format!("tmp/files/{id}.PNG"));
    }

    #[test]
    fn nf_mime_1_detection_examples() {
        let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
        let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF";
        let pdf = b"%PDF-1.4\n%";
        assert_eq!(detect(png, "anything.txt"), "image/png");
        assert_eq!(detect(jpeg, "photo"), "image/jpeg");
        assert_eq!(detect(pdf, "document.txt"), "application/pdf");
        assert_eq!(detect(b"{\"a\": 1}", "data.json"), "application/json");
        assert_eq!(detect(b"plain text", "x.png"), "image/png");
        assert_eq!(detect(b"", "empty.png"), "application/x-empty");
        assert_eq!(detect(b"my prose", "my_file.txt"), "text/plain");
        assert_eq!(detect(b"\x00\x01\x02binary", "blob"), "application/octet-stream");
        let refresh = b"<meta http-equiv=\"refresh\" content=\"0; url=https://example.org\">";
        assert_eq!(detect(refresh, "my_file.pdf"), "application/pdf");
    }

    #[test]
    fn r_f3_images_only_configurations_trust_the_bytes() {
        let images = vec!["image/jpeg".to_string(), "image/png".to_string()];
        assert!(!type_allowed(b"plain text", &detect(b"plain text", "x.png"), &images));
        let png = b"\x89PNG\r\n\x1a\n";
        assert!(type_allowed(png, &detect(png, "x.png"), &images));
        let mixed = vec!["text/html".to_string(), "application/pdf".to_string()];
        assert!(type_allowed(b"<meta>", "application/pdf", &mixed));
    }

    #[test]
    fn media_keys_are_anchored_at_the_end() {
        let id = "3f0b0a52-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
        let (k, u) = media_key(&format!("http://localhost/media/files/{id}.png"), "files").unwrap();
        assert_eq!((k.as_str(), u.to_string().as_str()), (format!("files/{id}.png").as_str(), id));
        let encoded = format!("http://localhost/media/files/{id}%2Epng");
        assert!(media_key(&encoded, "files").is_some());
        for bad in [
            format!("http://localhost/media/files/{id}.png/x"),
            format!("http://localhost/media/files/{id}"),
            format!("http://localhost/media/files/{id}.abcdefghijk"),
            format!("http://localhost/media/recordings/{id}.png"),
            "http://localhost/media/files/not-a-uuid.png".to_string(),
        ] {
            assert!(media_key(&bad, "files").is_none(), "{bad}");
        }
        assert!(abilities(true, false).destroy);
        assert_eq!(
            abilities(true, true),
            Abilities {
                destroy: false,
                hard_delete: true,
                retrieve: true,
                media_auth: false,
                partial_update: false,
                update: false,
                upload_ended: false
            }
        );
    }
}
