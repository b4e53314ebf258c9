//! The Brevo marketing service against the Brevo double: users-auth-rooms §6.1 (K-3..K-6). The
//! sign-up at login (K-1, K-8/S10) is tested in `auth.rs`.

use std::time::{Duration, Instant};

use meet::config::Config;
use meet::marketing::{Marketing, MarketingError};
use serde_json::{json, Map, Value};

use crate::support::brevo::Brevo;

fn service(vars: &[(&str, &str)]) -> Marketing {
    meet::install_crypto_provider();
    let map: std::collections::HashMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let config = Config::from_lookup(move |k| map.get(k).cloned()).expect("valid settings");
    Marketing::new(&config.marketing)
}

fn attrs(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

#[tokio::test]
async fn k_3_the_service_refuses_without_api_key_or_list_ids() {
    let e = service(&[]).create_contact(Some("a@b.fr"), Map::new(), &[]).await.unwrap_err();
    assert_eq!(e.to_string(), "Brevo API key is required");
    let e = service(&[("BREVO_API_KEY", "k")]).create_contact(Some("a@b.fr"), Map::new(), &[]).await.unwrap_err();
    assert_eq!(e.to_string(), "Default Brevo List IDs must be configured in settings.");
}

#[tokio::test]
async fn k_4_attributes_are_merged_and_list_ids_combined() {
    let brevo = Brevo::start().await;
    let url = format!("{}/v3", brevo.base);
    let m = service(&[
        ("BREVO_API_KEY", crate::support::brevo::API_KEY),
        ("BREVO_API_CONTACT_LIST_IDS", "1,2,3,4"),
        ("DJANGO_BREVO_API_CONTACT_ATTRIBUTES", "{'VISIO_USER': True, 'SOURCE': 'default'}"),
        ("MEET_BREVO_API_URL", &url),
    ]);
    m.create_contact(Some("a@b.fr"), attrs(json!({"SOURCE": "call", "EXTRA": 1})), &[1, 2]).await.unwrap();
    assert_eq!(
        brevo.contacts(),
        [json!({"email": "a@b.fr", "attributes": {"VISIO_USER": true, "SOURCE": "call", "EXTRA": 1},
                "listIds": [1, 2, 3, 4], "updateEnabled": true})]
    );
}

#[tokio::test]
async fn k_5_k_6_brevo_errors_and_timeouts() {
    let brevo = Brevo::start().await;
    let url = format!("{}/v3", brevo.base);
    let m = service(&[
        ("BREVO_API_KEY", crate::support::brevo::API_KEY),
        ("BREVO_API_CONTACT_LIST_IDS", "7"),
        ("BREVO_API_TIMEOUT", "1"),
        ("MEET_BREVO_API_URL", &url),
    ]);
    brevo.with(|s| s.status = Some(400));
    let e = m.create_contact(None, Map::new(), &[]).await.unwrap_err();
    assert_eq!(e.to_string(), "Failed to create contact in Brevo");
    brevo.with(|s| s.delay = Duration::from_secs(4));
    let t = Instant::now();
    let e = m.create_contact(None, Map::new(), &[]).await.unwrap_err();
    assert!(matches!(e, MarketingError::Network("timeout")), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}
