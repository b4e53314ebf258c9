//! File uploads (now-recordings-files §18–§23): creation with a presigned `PUT`, the list and its
//! filters, edits, soft delete, upload-ended (claim, then size and type checks on the stored
//! object), media-auth, and the deletion of a file's objects and row (§22.1).

use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::domain::fields::{char_field, choice_field};
use crate::domain::files::{self as rules, Abilities, READY, TYPES, UPLOAD_STATES};
use crate::error::{ApiError, FieldErrors};
use crate::i18n::{self, msg, Msg};
use crate::s3::{self, Replace, S3Error, SignedHeaders};
use crate::service::recordings::iso;
use crate::state::AppState;
use crate::store::files::{self as store, File, Filter, InsertError, NewFile};
use crate::store::users::User;

/// `creator` of a file representation.
#[derive(Serialize, Debug, Clone, schemars::JsonSchema)]
#[schemars(rename = "FileCreator")]
pub struct CreatorOut {
    pub id: Uuid,
    pub full_name: Option<String>,
    pub short_name: Option<String>,
}

/// A file as represented (§21.7), keys in upstream's order.
#[derive(Serialize, Debug, Clone, schemars::JsonSchema)]
#[schemars(rename = "File")]
pub struct FileOut {
    pub id: Uuid,
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    #[schemars(extend("format" = "date-time"))]
    pub updated_at: String,
    pub title: String,
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["background_image"]))]
    pub file_type: String,
    pub creator: Option<CreatorOut>,
    #[schemars(extend("format" = "date-time"))]
    pub deleted_at: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub hard_deleted_at: Option<String>,
    pub filename: String,
    #[schemars(extend("enum" = ["pending", "analyzing", "ready"]))]
    pub upload_state: String,
    pub mimetype: Option<String>,
    pub size: Option<i64>,
    pub description: Option<String>,
    /// `MEDIA_BASE_URL` + `/media/` + the final key, once the file is ready.
    pub url: Option<String>,
    pub abilities: Abilities,
}

/// The answer of `POST /files/`: a file plus `policy`, the presigned `PUT` URL of its
/// temporary key (§19.3).
#[derive(Serialize, Debug, Clone, schemars::JsonSchema)]
#[schemars(rename = "CreatedFile")]
pub struct CreatedOut {
    #[serde(flatten)]
    pub file: FileOut,
    pub policy: Option<String>,
}

fn final_key(state: &AppState, f: &File) -> String {
    rules::key(&state.config.files.upload_path, f.id, &f.filename)
}

fn tmp_key(state: &AppState, f: &File) -> String {
    rules::key(&state.config.files.tmp_path, f.id, &f.filename)
}

/// The representation of `f` for `user`.
pub fn represent(state: &AppState, f: &File, user: &User) -> FileOut {
    let is_creator = f.creator_id == Some(user.id);
    let url = (f.upload_state == READY)
        .then(|| format!("{}/media/{}", state.config.files.media_base_url, s3::encode_key(&final_key(state, f))));
    FileOut {
        id: f.id,
        created_at: iso(f.created_at),
        updated_at: iso(f.updated_at),
        title: f.title.clone(),
        file_type: f.file_type.clone(),
        creator: f.creator_id.map(|id| CreatorOut {
            id,
            full_name: f.creator_full_name.clone(),
            short_name: f.creator_short_name.clone(),
        }),
        deleted_at: f.deleted_at.map(iso),
        hard_deleted_at: f.hard_deleted_at.map(iso),
        filename: f.filename.clone(),
        upload_state: f.upload_state.clone(),
        mimetype: f.mimetype.clone(),
        size: f.size,
        description: f.description.clone(),
        url,
        abilities: rules::abilities(is_creator, f.deleted_at.is_some()),
    }
}

/// `FILE_UPLOAD_ENABLED` (§20.2 step 2): `404 Not found.` when off, before the login check.
pub fn require_enabled(state: &AppState) -> Result<(), ApiError> {
    if state.config.rooms.file_upload_enabled {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

fn store_error(e: S3Error) -> ApiError {
    tracing::warn!(error = %e, "object store request failed");
    ApiError::Unavailable("object store")
}

/// `description`: a nullable string, blank allowed.
fn description_field(v: Option<&Value>) -> Result<Option<String>, Msg> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(msg::NOT_A_STRING.into()),
    }
}

/// `id` of a creation: a UUID string that no file uses.
async fn id_field(state: &AppState, v: Option<&Value>) -> Result<Option<Uuid>, Msg> {
    let id = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => Uuid::try_parse(s.trim()).map_err(|_| Msg::from(msg::INVALID_UUID_FIELD))?,
        Some(_) => return Err(msg::INVALID_UUID_FIELD.into()),
    };
    match store::get(&state.db, id).await {
        Ok(Some(_)) => Err(msg::FILE_ID_TAKEN.into()),
        Ok(None) => Ok(Some(id)),
        Err(e) => {
            tracing::warn!(error = %e, "file id check failed");
            Ok(Some(id))
        }
    }
}

/// `POST /files/` (§21.2): validates, checks the extension and the per-user limit, inserts a
/// `pending` file and presigns the upload of its temporary key.
pub async fn create(state: &AppState, user: &User, body: &Value) -> Result<CreatedOut, ApiError> {
    let get = |k: &str| body.get(k);
    let mut errors = FieldErrors::new();
    let id = id_field(state, get("id")).await.map_err(|m| errors.add("id", m)).ok().flatten();
    let title = match get("title") {
        Some(v) => char_field(Some(v), true, 255).map_err(|m| errors.add("title", m)).ok().flatten(),
        None => None,
    };
    let file_type = choice_field(get("type"), TYPES)
        .and_then(|t| t.ok_or_else(|| msg::REQUIRED.into()))
        .map_err(|m| errors.add("type", m))
        .ok();
    let filename = char_field(get("filename"), true, 255).map_err(|m| errors.add("filename", m)).ok().flatten();
    let description = description_field(get("description")).map_err(|m| errors.add("description", m)).ok().flatten();
    errors.into_result()?;
    let (Some(file_type), Some(filename)) = (file_type, filename) else {
        return Err(ApiError::internal(anyhow::anyhow!("validated fields missing")));
    };
    let cfg = &state.config.files;
    let type_rules = cfg.rules(file_type).ok_or_else(|| ApiError::internal(anyhow::anyhow!("no rules")))?;
    if cfg.apply_restrictions {
        let ext = rules::extension(&filename).to_lowercase();
        if !type_rules.allowed_extensions.contains(&ext) {
            return Err(FieldErrors::one("filename", msg::FILE_EXTENSION_NOT_ALLOWED));
        }
    }
    let id = id.unwrap_or_else(Uuid::new_v4);
    let title = title.unwrap_or_else(|| rules::title_of(&filename).to_string());
    let tmp = rules::key(&cfg.tmp_path, id, &filename);
    let policy = s3::presign_put(
        &state.config.recording.s3,
        cfg.domain_replace.as_deref(),
        &tmp,
        "private",
        cfg.policy_expiration,
        SystemTime::now(),
    )
    .map_err(store_error)?;
    let new = NewFile { id, file_type: file_type.to_string(), title, filename, description, creator_id: user.id };
    let limit = cfg.apply_restrictions.then_some(type_rules.max_count_by_user);
    let file = match store::insert(&state.db, new, limit).await {
        Ok(f) => f,
        Err(InsertError::IdTaken) => return Err(FieldErrors::one("id", msg::FILE_ID_TAKEN)),
        Err(InsertError::LimitReached) => {
            tracing::info!(file.type = file_type, "create_item: user reached max files per user for type");
            return Err(ApiError::ForbiddenMessage(msg::FILE_MAX_COUNT.into()));
        }
        Err(InsertError::Store(e)) => return Err(e.into()),
    };
    Ok(CreatedOut { file: represent(state, &file, user), policy: Some(policy) })
}

/// The list query (§21.1): filters, ordering; a bad choice is a 400 naming the parameter.
pub fn parse_query(query: &str) -> Result<(Filter, String), ApiError> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let last = |k: &str| params.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let boolean = |k: &str| match last(k).as_deref() {
        Some("true" | "True" | "2") => Some(true),
        Some("false" | "False" | "3") => Some(false),
        _ => None,
    };
    let mut errors = FieldErrors::new();
    let mut choice = |k: &str, choices: &[&str]| {
        let v = last(k).filter(|v| !v.is_empty())?;
        if choices.contains(&v.as_str()) {
            Some(v)
        } else {
            errors.add(k, msg::SELECT_VALID_CHOICE.arg("value", &v));
            None
        }
    };
    let filter = Filter {
        file_type: choice("type", TYPES),
        upload_state: choice("upload_state", UPLOAD_STATES),
        is_deleted: boolean("is_deleted"),
        others_only: boolean("is_creator_me") == Some(false),
    };
    errors.into_result()?;
    let mut order: Vec<String> = Vec::new();
    for field in last("ordering").unwrap_or_default().split(',').map(str::trim) {
        let (desc, name) = match field.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, field),
        };
        if ["created_at", "updated_at", "title"].contains(&name) {
            order.push(format!("f.{name}{}", if desc { " DESC" } else { "" }));
        }
    }
    if order.is_empty() {
        order.push("f.updated_at DESC".into());
    }
    Ok((filter, order.join(", ")))
}

/// The file `raw_id` of the caller for a detail route (§20.2 steps 4–5).
pub async fn find_own(state: &AppState, user: &User, raw_id: &str) -> Result<File, ApiError> {
    let id = Uuid::try_parse(raw_id).map_err(|_| ApiError::NotFound)?;
    let file = store::get(&state.db, id)
        .await?
        .filter(|f| f.creator_id == Some(user.id) && f.hard_deleted_at.is_none())
        .ok_or(ApiError::NoMatch("File"))?;
    if file.deleted_at.is_some() {
        return Err(ApiError::NotFound);
    }
    Ok(file)
}

/// `PUT` / `PATCH /files/{id}/` (§21.4): `title`, `type`, `description`.
pub async fn update(
    state: &AppState,
    user: &User,
    file: File,
    body: &Value,
    partial: bool,
) -> Result<FileOut, ApiError> {
    let get = |k: &str| body.get(k);
    let mut errors = FieldErrors::new();
    let title = char_field(get("title"), !partial, 255).map_err(|m| errors.add("title", m)).ok().flatten();
    let file_type = match choice_field(get("type"), TYPES) {
        Ok(None) if !partial => {
            errors.add("type", msg::REQUIRED);
            None
        }
        Ok(t) => t,
        Err(m) => {
            errors.add("type", m);
            None
        }
    };
    let description = description_field(get("description")).map_err(|m| errors.add("description", m)).ok().flatten();
    errors.into_result()?;
    let description = if get("description").is_some() { description } else { file.description.clone() };
    store::update(
        &state.db,
        file.id,
        title.as_deref().unwrap_or(&file.title),
        file_type.unwrap_or(&file.file_type),
        description.as_deref(),
    )
    .await?;
    let fresh = store::get(&state.db, file.id).await?.ok_or(ApiError::NoMatch("File"))?;
    Ok(represent(state, &fresh, user))
}

/// `DELETE /files/{id}/` (§21.5): soft delete.
pub async fn destroy(state: &AppState, file: &File) -> Result<(), ApiError> {
    if store::soft_delete(&state.db, file.id).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// What upload-ended concluded.
pub enum UploadEnded {
    /// The file is ready.
    Ready(Box<FileOut>),
    /// A check failed: the file and its objects are gone; the bare-list 400 (§21.3 step 7).
    Refused(Msg),
}

fn pending_only() -> ApiError {
    let mut e = FieldErrors::new();
    e.raw("file", Value::String(Msg::from(msg::FILE_NOT_PENDING).render(i18n::current())));
    ApiError::Validation(e)
}

fn not_uploaded() -> ApiError {
    let mut e = FieldErrors::new();
    e.raw("file", Value::String(Msg::from(msg::FILE_NOT_UPLOADED).render(i18n::current())));
    ApiError::Validation(e)
}

/// `POST /files/{id}/upload-ended/` (§21.3): claims the pending file, checks the size of the
/// uploaded object (before copying it, R-F2), copies it to its final key, checks the size and
/// the type of the copy from its first bytes, then marks it ready and removes the temporary
/// object (R-F1). Any failure other than a refused check gives the file back (`pending`).
pub async fn upload_ended(state: &AppState, user: &User, file: File) -> Result<UploadEnded, ApiError> {
    if !store::claim(&state.db, file.id).await? {
        return Err(pending_only());
    }
    match checked_upload(state, &file).await {
        Ok(Checked::Passed { mimetype, size }) => {
            if !store::mark_ready(&state.db, file.id, &mimetype, size as i64).await? {
                // Removed by a cleanup meanwhile: leave no object behind it.
                for key in [final_key(state, &file), tmp_key(state, &file)] {
                    state.s3.delete(&key).await.map_err(store_error)?;
                }
                return Err(ApiError::NoMatch("File"));
            }
            if let Err(e) = state.s3.delete(&tmp_key(state, &file)).await {
                tracing::warn!(error = %e, "upload_ended: temporary object not deleted");
            }
            let fresh = store::get(&state.db, file.id).await?.ok_or(ApiError::NoMatch("File"))?;
            Ok(UploadEnded::Ready(Box::new(represent(state, &fresh, user))))
        }
        Ok(Checked::Refused(message)) => {
            store::hard_delete(&state.db, file.id).await?;
            if let Some(hard_deleted) = store::get(&state.db, file.id).await? {
                delete_file(state, &hard_deleted).await?;
            }
            Ok(UploadEnded::Refused(message))
        }
        Err(e) => {
            store::unclaim(&state.db, file.id).await?;
            Err(e)
        }
    }
}

enum Checked {
    Passed { mimetype: String, size: u64 },
    Refused(Msg),
}

fn too_large(file: &File, key: &str, size: u64) -> Checked {
    tracing::info!(file.id = %file.id, size, key, "upload_ended: file size higher than the allowed max size");
    Checked::Refused(msg::FILE_SIZE_EXCEEDED.into())
}

async fn checked_upload(state: &AppState, file: &File) -> Result<Checked, ApiError> {
    let cfg = &state.config.files;
    let limits = cfg.apply_restrictions.then(|| cfg.rules(&file.file_type)).flatten();
    let (tmp, key) = (tmp_key(state, file), final_key(state, file));
    let uploaded = state.s3.head(&tmp).await.map_err(store_error)?.ok_or_else(not_uploaded)?;
    if let Some(rules) = limits {
        if uploaded.size > rules.max_size {
            return Ok(too_large(file, &key, uploaded.size));
        }
    }
    if !state.s3.copy(&tmp, &key, None).await.map_err(store_error)? {
        return Err(not_uploaded());
    }
    let head = state.s3.head(&key).await.map_err(store_error)?.ok_or_else(not_uploaded)?;
    let bytes = state
        .s3
        .get_head_bytes(&key, head.size, rules::SNIFF_BYTES)
        .await
        .map_err(store_error)?
        .ok_or_else(not_uploaded)?;
    let mimetype = rules::detect(&bytes, &file.filename);
    if let Some(rules) = limits {
        if head.size > rules.max_size {
            return Ok(too_large(file, &key, head.size));
        }
        if !rules::type_allowed(&bytes, &mimetype, &rules.allowed_mimetypes) {
            tracing::warn!(file.id = %file.id, mimetype, key, "upload_ended: mimetype not allowed");
            return Ok(Checked::Refused(msg::FILE_TYPE_NOT_ALLOWED.into()));
        }
    }
    if head.content_type.as_deref() != Some(mimetype.as_str()) {
        tracing::info!(
            from = head.content_type.as_deref().unwrap_or(""),
            to = mimetype,
            "upload_ended: content type mismatch between object storage and file, updating"
        );
        let replace = Replace { content_type: &mimetype, metadata: &head.metadata };
        state.s3.copy(&key, &key, Some(replace)).await.map_err(store_error)?;
    }
    Ok(Checked::Passed { mimetype, size: head.size })
}

/// The deletion task (§22.1): a hard-deleted file loses its final object, its temporary object
/// (R-F1) and then its row. True when this call removed the row. A store failure leaves the row
/// hard-deleted, so the next purge tries again.
pub async fn delete_file(state: &AppState, file: &File) -> Result<bool, ApiError> {
    if file.hard_deleted_at.is_none() {
        tracing::error!(file.id = %file.id, "file deletion asked for a file that is not hard deleted");
        return Ok(false);
    }
    state.s3.delete(&final_key(state, file)).await.map_err(store_error)?;
    state.s3.delete(&tmp_key(state, file)).await.map_err(store_error)?;
    Ok(store::remove(&state.db, file.id).await?)
}

/// `GET /files/media-auth/` (§21.6): the file the original URL names must be the caller's,
/// live and ready, and the URL must name its own key (R-F6); the answer signs that key.
pub async fn media_auth(state: &AppState, user: &User, original: Option<&str>) -> Result<SignedHeaders, ApiError> {
    let original = original.filter(|o| !o.is_empty()).ok_or(ApiError::Forbidden)?;
    let (key, id) = rules::media_key(original, &state.config.files.upload_path).ok_or(ApiError::Forbidden)?;
    let file = store::get(&state.db, id).await?.ok_or(ApiError::Forbidden)?;
    let allowed = rules::abilities(file.creator_id == Some(user.id), file.deleted_at.is_some()).media_auth
        && file.upload_state == READY
        && file.hard_deleted_at.is_none()
        && key == final_key(state, &file);
    if !allowed {
        return Err(ApiError::Forbidden);
    }
    s3::sign_get(&state.config.recording.s3, &key).map_err(store_error)
}
