//! Marketing sign-up (users-auth-rooms §6.1): a Brevo contact for each NEW user when
//! `SIGNUP_NEW_USER_TO_MARKETING_EMAIL` is on. It runs in the background with the
//! `BREVO_API_TIMEOUT` total timeout; every failure is logged and swallowed, so a Brevo outage never
//! breaks a login (S10 fixed).

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::MarketingConfig;

/// Why a contact was not created (the reference's messages; never the e-mail or the key).
#[derive(Debug, thiserror::Error)]
pub enum MarketingError {
    #[error("Brevo API key is required")]
    NoApiKey,
    #[error("Default Brevo List IDs must be configured in settings.")]
    NoListIds,
    #[error("Failed to create contact in Brevo")]
    Failed { status: u16 },
    #[error("Brevo unreachable: {0}")]
    Network(&'static str),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContactRequest<'a> {
    email: Option<&'a str>,
    attributes: Map<String, Value>,
    list_ids: Vec<i64>,
    update_enabled: bool,
}

/// The marketing service: one per process, cheap to clone.
#[derive(Clone)]
pub struct Marketing {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: MarketingConfig,
    http: reqwest::Client,
}

impl Marketing {
    pub fn new(cfg: &MarketingConfig) -> Marketing {
        let http = reqwest::Client::builder().timeout(cfg.brevo_timeout).build().unwrap_or_default();
        Marketing { inner: Arc::new(Inner { cfg: cfg.clone(), http }) }
    }

    /// Signs a newly created user up, in the background, when enabled (K-1). Never fails.
    pub fn signup_in_background(&self, email: Option<String>) {
        if !self.inner.cfg.signup_new_users {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let mut attributes = Map::new();
            attributes.insert("VISIO_SOURCE".into(), Value::Array(vec![Value::String("SIGNIN".into())]));
            match this.create_contact(email.as_deref(), attributes, &[]).await {
                Ok(()) => tracing::info!("marketing sign-up: contact created"),
                Err(e) => tracing::warn!(error = %e, "marketing sign-up failed (ignored)"),
            }
        });
    }

    /// Creates (or updates) a Brevo contact: default attributes overlaid by `attributes`, list ids
    /// `list_ids` followed by the default ones (K-3, K-4, K-6).
    pub async fn create_contact(
        &self,
        email: Option<&str>,
        attributes: Map<String, Value>,
        list_ids: &[i64],
    ) -> Result<(), MarketingError> {
        let cfg = &self.inner.cfg;
        let key = cfg.brevo_api_key.as_deref().ok_or(MarketingError::NoApiKey)?;
        if cfg.brevo_list_ids.is_empty() {
            return Err(MarketingError::NoListIds);
        }
        let mut merged = cfg.brevo_attributes.clone();
        merged.extend(attributes);
        let mut ids: Vec<i64> = Vec::new();
        for id in list_ids.iter().chain(&cfg.brevo_list_ids) {
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
        let body = ContactRequest { email, attributes: merged, list_ids: ids, update_enabled: true };
        let resp = self
            .inner
            .http
            .post(format!("{}/contacts", cfg.brevo_api_url))
            .header("api-key", key)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| MarketingError::Network(if e.is_timeout() { "timeout" } else { "connection failed" }))?;
        if !resp.status().is_success() {
            return Err(MarketingError::Failed { status: resp.status().as_u16() });
        }
        Ok(())
    }
}
