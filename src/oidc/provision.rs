//! Resolving and provisioning the user from userinfo claims (users-auth-rooms §4.5), shared by the
//! login callback and bearer authentication: lookup by `sub`, optional e-mail fallback (B7), creation
//! when `OIDC_CREATE_USER` (with the marketing sign-up, §6.1), inactive users refused, and the claim
//! sync by primary key (S11 fixed). Invalid claims are a refusal, never a 500 (B5).

use serde_json::{Map, Value};

use crate::config::OidcConfig;
use crate::error::FieldErrors;
use crate::state::AppState;
use crate::store::users::{self, ClaimsUpdate, NewUser, User};
use crate::store::StoreError;

/// Longest `full_name` / `short_name` stored (the column size): longer claims are truncated (B5).
const NAME_MAX: usize = 100;

/// Why a login is refused (the messages are the reference's).
#[derive(Debug)]
pub enum Refusal {
    /// `User info contained no recognizable user identification`
    NoSub,
    /// `Multiple user accounts share a common email.`
    MultipleEmails,
    /// No user and `OIDC_CREATE_USER` is off.
    NoUser,
    /// `User account is disabled`
    Inactive,
    /// The claims fail the model's validation (B5): DRF-shaped field errors.
    Invalid(FieldErrors),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoSub => f.write_str("User info contained no recognizable user identification"),
            Refusal::MultipleEmails => f.write_str("Multiple user accounts share a common email."),
            Refusal::NoUser => f.write_str("No user found and OIDC_CREATE_USER is off"),
            Refusal::Inactive => f.write_str("User account is disabled"),
            Refusal::Invalid(e) => write!(f, "invalid claims: {}", Value::Object(e.to_json(crate::i18n::Lang::En))),
        }
    }
}

/// A provisioning failure: a refusal, or the database.
#[derive(Debug)]
pub enum ProvisionError {
    Refused(Refusal),
    Store(StoreError),
}

impl From<StoreError> for ProvisionError {
    fn from(e: StoreError) -> Self {
        ProvisionError::Store(e)
    }
}

fn claim_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

fn truncate(s: &str) -> String {
    s.chars().take(NAME_MAX).collect()
}

/// `full_name`: the configured claims, in order, skipping missing or empty ones, joined by a space.
pub fn full_name(cfg: &OidcConfig, claims: &Map<String, Value>) -> Option<String> {
    let parts: Vec<&str> =
        cfg.fullname_fields.iter().filter_map(|f| claim_str(claims, f)).filter(|s| !s.is_empty()).collect();
    (!parts.is_empty()).then(|| truncate(&parts.join(" ")))
}

/// `short_name`: the configured claim as it is (errata O-16: `""` stays `""`), or `None`.
pub fn short_name(cfg: &OidcConfig, claims: &Map<String, Value>) -> Option<String> {
    claim_str(claims, &cfg.shortname_field).map(truncate)
}

/// Django's `^[\w.@+-]+\Z` (Unicode word characters), at most 255 characters.
pub(crate) fn sub_is_valid(sub: &str) -> bool {
    !sub.is_empty()
        && sub.chars().count() <= 255
        && sub.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '+' | '-'))
}

/// A deliberately simple e-mail check (one `@`, a dotted or local domain, no spaces, ≤ 254).
pub(crate) fn email_is_valid(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else { return false };
    email.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@')
        && domain.split('.').all(|label| !label.is_empty())
}

/// Model validation of a new user (B5: refused, never a 500).
fn validate_new(sub: &str, email: Option<&str>) -> Result<(), Refusal> {
    let mut errors = FieldErrors::new();
    if !sub_is_valid(sub) {
        errors.add("sub", crate::i18n::msg::INVALID_SUB);
    }
    if email.is_some_and(|e| !email_is_valid(e)) {
        errors.add("email", crate::i18n::msg::INVALID_EMAIL);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Invalid(errors))
    }
}

/// The claim changes to write: truthy values that differ from the stored ones (§4.5 step 8).
fn changes(user: &User, email: Option<&str>, full: Option<&str>, short: Option<&str>) -> ClaimsUpdate {
    let changed = |new: Option<&str>, old: &Option<String>| {
        new.filter(|v| !v.is_empty() && old.as_deref() != Some(*v)).map(str::to_string)
    };
    ClaimsUpdate {
        // An e-mail the column cannot hold is not synced (B5: no 500 on a later login).
        email: changed(email.filter(|e| e.len() <= 254), &user.email),
        full_name: changed(full, &user.full_name),
        short_name: changed(short, &user.short_name),
    }
}

/// Finds or creates the user for `claims`; syncs their claims. `on_created` runs once for a new user.
pub async fn resolve(state: &AppState, claims: &Map<String, Value>) -> Result<User, ProvisionError> {
    let cfg = &state.config.oidc;
    let db = &state.db;
    let sub = claim_str(claims, "sub").filter(|s| !s.is_empty()).ok_or(ProvisionError::Refused(Refusal::NoSub))?;
    let email = claim_str(claims, "email").filter(|e| !e.is_empty());
    let full = full_name(cfg, claims);
    let short = short_name(cfg, claims);

    let mut user = users::get_by_sub(db, sub).await?;
    if user.is_none() && cfg.fallback_to_email {
        if let Some(email) = email {
            let mut found = users::find_by_email_ci(db, email, 2).await?;
            if found.len() > 1 {
                return Err(ProvisionError::Refused(Refusal::MultipleEmails));
            }
            if let Some(u) = found.pop() {
                // A provisional user (now-external-api §10.3) gets its `sub`; an existing one is
                // never overwritten (W27).
                if u.sub.as_deref().is_none_or(str::is_empty) {
                    let announcement = state.sessions.user_changing(u.id);
                    users::set_sub_if_null(db, u.id, sub).await?;
                    announcement.send().await;
                }
                user = Some(u);
            }
        }
    }
    let user = match user {
        Some(u) => u,
        None if !cfg.create_user => return Err(ProvisionError::Refused(Refusal::NoUser)),
        None => {
            validate_new(sub, email).map_err(ProvisionError::Refused)?;
            let new = NewUser {
                sub: Some(sub.to_string()),
                email: email.map(str::to_string),
                full_name: full.clone(),
                short_name: short.clone(),
                ..Default::default()
            };
            match users::create(db, new, &state.config.language_code).await {
                Ok(u) => {
                    state.marketing.signup_in_background(u.email.clone());
                    return Ok(u);
                }
                // Two first logins of the same person at once: the other one created the row.
                Err(e) if e.is_conflict("meet_user_sub_key") => {
                    users::get_by_sub(db, sub).await?.ok_or(ProvisionError::Store(e))?
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    if !user.is_active {
        return Err(ProvisionError::Refused(Refusal::Inactive));
    }
    let update = changes(&user, email, full.as_deref(), short.as_deref());
    if !update.is_empty() {
        let announcement = state.sessions.user_changing(user.id);
        users::update_claims(db, user.id, update).await?;
        announcement.send().await;
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(fields: &[&str]) -> OidcConfig {
        let mut c = crate::config::Config::from_lookup(|_| None).unwrap().oidc;
        c.fullname_fields = fields.iter().map(|s| s.to_string()).collect();
        c
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn o_16_full_name_from_the_configured_fields() {
        let c = cfg(&["given_name", "middle_name", "family_name"]);
        let cases = [
            (json!({"given_name": "John", "family_name": "Doe"}), Some("John Doe")),
            (json!({"given_name": "John", "middle_name": "M", "family_name": "Doe"}), Some("John M Doe")),
            (json!({"family_name": "Doe"}), Some("Doe")),
            (json!({"given_name": "", "family_name": ""}), None),
            (json!({}), None),
        ];
        for (input, want) in cases {
            assert_eq!(full_name(&c, &claims(input.clone())).as_deref(), want, "{input}");
        }
        assert_eq!(full_name(&cfg(&[]), &claims(json!({"given_name": "John"}))), None);
    }

    #[test]
    fn o_16_short_name_keeps_an_empty_claim() {
        let c = cfg(&[]);
        assert_eq!(short_name(&c, &claims(json!({"given_name": ""}))).as_deref(), Some(""));
        assert_eq!(short_name(&c, &claims(json!({}))), None);
    }

    #[test]
    fn b5_names_are_truncated_and_bad_subs_refused() {
        let c = cfg(&["given_name"]);
        let long = "x".repeat(150);
        assert_eq!(full_name(&c, &claims(json!({"given_name": long}))).unwrap().len(), 100);
        assert!(sub_is_valid("user.name+tag@x-y_z"));
        assert!(!sub_is_valid("auth0|123"));
        assert!(!sub_is_valid(""));
        assert!(email_is_valid("a@b.fr"));
        assert!(!email_is_valid("not-an-email"));
        assert!(!email_is_valid("a b@c.d"));
    }
}
