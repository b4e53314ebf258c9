//! File upload settings (now-recordings-files §26.2): where uploads go in the bucket, how long a
//! presigned `PUT` lives, the per-type limits read from `FILE_UPLOAD_RESTRICTIONS` (its raw dict
//! is kept by the rooms settings for `/config/`), and the periods of the cleanup tasks the server
//! runs by itself (`MEET_`-prefixed additions; 0 turns a task off).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::Reader;

/// The limits of one file type (`FILE_UPLOAD_RESTRICTIONS[<type>]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeRules {
    /// `max_size`: largest object in bytes.
    pub max_size: u64,
    /// `max_count_by_user`: files of this type a user may keep (soft-deleted ones excluded).
    pub max_count_by_user: u64,
    /// `allowed_extensions`, lower-cased, each with its leading dot.
    pub allowed_extensions: Vec<String>,
    /// `allowed_mimetypes`.
    pub allowed_mimetypes: Vec<String>,
}

/// File upload and cleanup settings.
#[derive(Clone, Debug)]
pub struct FilesConfig {
    /// `FILE_UPLOAD_APPLY_RESTRICTIONS`: extension check, per-user limit, size and type checks.
    /// Default true.
    pub apply_restrictions: bool,
    /// `FILE_UPLOAD_RESTRICTIONS["background_image"]`, parsed.
    pub background_image: TypeRules,
    /// `FILE_UPLOAD_PATH`: prefix of the final keys. Default `files`.
    pub upload_path: String,
    /// `FILE_UPLOAD_TMP_PATH`: prefix of the keys the browser writes. Default `tmp/files`; must
    /// differ from `FILE_UPLOAD_PATH`.
    pub tmp_path: String,
    /// `FILE_PURGE_GRACE_DAYS`: days a soft-deleted file is kept before `purge_deleted_files`
    /// removes it. Default 7.
    pub purge_grace_days: u64,
    /// `MEDIA_BASE_URL`: prefix of a ready file's `url`. Default empty (relative URLs).
    pub media_base_url: String,
    /// `AWS_S3_UPLOAD_POLICY_EXPIRATION`: lifetime of the presigned `PUT` in seconds (a positive
    /// integer, R-F10). Default 60.
    pub policy_expiration: Duration,
    /// `AWS_S3_DOMAIN_REPLACE`: public origin of the object store used in presigned `PUT` URLs,
    /// when browsers reach it under another name than the backend. Default none.
    pub domain_replace: Option<String>,
    /// `AWS_S3_SIGNATURE_VERSION`: only `s3v4` is supported. Default `s3v4`.
    pub signature_version: String,
    /// `MEET_CLEAN_PENDING_FILES_HOURS`: age after which the scheduled task removes files whose
    /// upload never ended. Default 24.
    pub clean_pending_hours: u64,
}

impl FilesConfig {
    /// The rules of `file_type`, when it is a known type.
    pub fn rules(&self, file_type: &str) -> Option<&TypeRules> {
        (file_type == "background_image").then_some(&self.background_image)
    }
}

fn default_rules() -> TypeRules {
    TypeRules {
        max_size: 2_097_152,
        max_count_by_user: 10,
        allowed_extensions: vec![".jpeg".into(), ".jpg".into(), ".png".into()],
        allowed_mimetypes: vec!["image/jpeg".into(), "image/png".into()],
    }
}

/// Reads one type's rules from the restrictions dict; every problem names the variable.
fn parse_rules(entry: Option<&Value>, errors: &mut Vec<String>) -> TypeRules {
    let Some(Value::Object(m)) = entry else { return default_rules() };
    let mut rules = default_rules();
    let int = |m: &Map<String, Value>, k: &str, errors: &mut Vec<String>| match m.get(k) {
        Some(v) => v.as_u64().or_else(|| {
            errors.push(format!("FILE_UPLOAD_RESTRICTIONS: background_image.{k} must be a non-negative integer"));
            None
        }),
        None => {
            errors.push(format!("FILE_UPLOAD_RESTRICTIONS: background_image.{k} is missing"));
            None
        }
    };
    let strings = |m: &Map<String, Value>, k: &str, errors: &mut Vec<String>| match m.get(k) {
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            Some(items.iter().filter_map(Value::as_str).map(str::to_string).collect::<Vec<_>>())
        }
        _ => {
            errors.push(format!("FILE_UPLOAD_RESTRICTIONS: background_image.{k} must be a list of strings"));
            None
        }
    };
    if let Some(n) = int(m, "max_size", errors) {
        rules.max_size = n;
    }
    if let Some(n) = int(m, "max_count_by_user", errors) {
        rules.max_count_by_user = n;
    }
    if let Some(v) = strings(m, "allowed_extensions", errors) {
        rules.allowed_extensions = v.into_iter().map(|e| e.to_lowercase()).collect();
    }
    if let Some(v) = strings(m, "allowed_mimetypes", errors) {
        rules.allowed_mimetypes = v;
    }
    rules
}

fn prefix(r: &mut Reader<'_>, name: &str, default: &str) -> String {
    let v = r.string(name, default);
    let v = v.trim_matches('/').to_string();
    if v.is_empty() {
        r.errors.push(format!("{name}: must not be empty"));
        return default.to_string();
    }
    v
}

pub(super) fn read(r: &mut Reader<'_>, restrictions: &Map<String, Value>, warnings: &mut Vec<String>) -> FilesConfig {
    let mut errors = Vec::new();
    let background_image = parse_rules(restrictions.get("background_image"), &mut errors);
    r.errors.extend(errors);
    let upload_path = prefix(r, "FILE_UPLOAD_PATH", "files");
    let tmp_path = prefix(r, "FILE_UPLOAD_TMP_PATH", "tmp/files");
    if upload_path == tmp_path {
        r.errors.push("FILE_UPLOAD_TMP_PATH cannot be the same as FILE_UPLOAD_PATH".into());
    }
    let policy_expiration = r.uint("AWS_S3_UPLOAD_POLICY_EXPIRATION", 60u64);
    if policy_expiration == 0 || policy_expiration > 604_800 {
        r.errors.push("AWS_S3_UPLOAD_POLICY_EXPIRATION: must be between 1 and 604800 seconds".into());
    }
    let domain_replace = r.opt_string("AWS_S3_DOMAIN_REPLACE").map(|d| d.trim_end_matches('/').to_string());
    if let Some(d) = &domain_replace {
        if !url::Url::parse(d).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()) {
            r.errors.push(format!("AWS_S3_DOMAIN_REPLACE: '{d}' is not an http(s) origin"));
        }
    }
    let signature_version = r.string("AWS_S3_SIGNATURE_VERSION", "s3v4");
    if signature_version != "s3v4" {
        warnings.push(format!("AWS_S3_SIGNATURE_VERSION: '{signature_version}' ignored, URLs are signed with s3v4"));
    }
    FilesConfig {
        apply_restrictions: r.bool("FILE_UPLOAD_APPLY_RESTRICTIONS", true),
        background_image,
        upload_path,
        tmp_path,
        purge_grace_days: r.uint("FILE_PURGE_GRACE_DAYS", 7u64),
        media_base_url: r.string("MEDIA_BASE_URL", ""),
        policy_expiration: Duration::from_secs(policy_expiration.clamp(1, 604_800)),
        domain_replace,
        signature_version,
        clean_pending_hours: r.uint("MEET_CLEAN_PENDING_FILES_HOURS", 24u64),
    }
}

pub(super) fn describe(c: &FilesConfig, m: &mut BTreeMap<&'static str, String>) {
    m.insert("FILE_UPLOAD_APPLY_RESTRICTIONS", c.apply_restrictions.to_string());
    m.insert("FILE_UPLOAD_PATH", c.upload_path.clone());
    m.insert("FILE_UPLOAD_TMP_PATH", c.tmp_path.clone());
    m.insert("FILE_PURGE_GRACE_DAYS", c.purge_grace_days.to_string());
    m.insert("MEDIA_BASE_URL", c.media_base_url.clone());
    m.insert("AWS_S3_UPLOAD_POLICY_EXPIRATION", c.policy_expiration.as_secs().to_string());
    m.insert("AWS_S3_DOMAIN_REPLACE", c.domain_replace.clone().unwrap_or_default());
    m.insert("AWS_S3_SIGNATURE_VERSION", c.signature_version.clone());
    m.insert("MEET_CLEAN_PENDING_FILES_HOURS", c.clean_pending_hours.to_string());
}

#[cfg(test)]
mod tests {
    use crate::config::from_pairs;

    #[test]
    fn defaults_and_start_up_checks() {
        let c = from_pairs(&[]).unwrap();
        let f = &c.files;
        assert!(f.apply_restrictions);
        assert_eq!((f.upload_path.as_str(), f.tmp_path.as_str()), ("files", "tmp/files"));
        assert_eq!(f.background_image.max_size, 2_097_152);
        assert_eq!(f.policy_expiration.as_secs(), 60);
        let shown = c.describe();
        assert_eq!(shown["FILE_UPLOAD_TMP_PATH"], "tmp/files");
        assert_eq!(shown["MEET_PURGE_EXPIRED_RECORDINGS_PERIOD"], "0");
        let same = from_pairs(&[("FILE_UPLOAD_TMP_PATH", "files/")]).unwrap_err().to_string();
        assert!(same.contains("FILE_UPLOAD_TMP_PATH cannot be the same as FILE_UPLOAD_PATH"), "{same}");
        let bad = from_pairs(&[("AWS_S3_UPLOAD_POLICY_EXPIRATION", "0")]).unwrap_err().to_string();
        assert!(bad.contains("AWS_S3_UPLOAD_POLICY_EXPIRATION"), "{bad}");
        let rules = from_pairs(&[("FILE_UPLOAD_RESTRICTIONS", "{'background_image': {'max_size': 'big'}}")])
            .unwrap_err()
            .to_string();
        assert!(rules.contains("background_image.max_size"), "{rules}");
    }
}
