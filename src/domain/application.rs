//! Rules of the external API's applications (now-external-api §4, §8.1): client credentials,
//! Django's `pbkdf2_sha256` secret hashes (so that rows written by either stack verify in both),
//! allowed e-mail domains and scope matching.

use std::num::NonZeroU32;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Every scope an application can be granted (§4.1).
pub const SCOPES: [&str; 5] = ["rooms:create", "rooms:list", "rooms:retrieve", "rooms:update", "rooms:delete"];

/// Django's current PBKDF2-SHA256 iteration count (used for new hashes).
pub const PBKDF2_ITERATIONS: u32 = 1_000_000;

/// Hashes `secret` as Django's `make_password` does: `pbkdf2_sha256$<iterations>$<salt>$<b64>`.
pub fn hash_secret(secret: &str) -> String {
    hash_with(secret, &crate::domain::random_token(22), PBKDF2_ITERATIONS)
}

/// [`hash_secret`] with a given salt and iteration count (existing Django hashes use others).
pub fn hash_with(secret: &str, salt: &str, iterations: u32) -> String {
    let mut out = [0u8; 32];
    let n = NonZeroU32::new(iterations.max(1)).unwrap_or(NonZeroU32::MIN);
    ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, n, salt.as_bytes(), secret.as_bytes(), &mut out);
    format!("pbkdf2_sha256${iterations}${salt}${}", STANDARD.encode(out))
}

/// Whether `secret` matches the stored Django hash (constant-time comparison). Only the
/// `pbkdf2_sha256` format is understood; anything else never matches.
pub fn verify_secret(secret: &str, stored: &str) -> bool {
    let mut parts = stored.splitn(4, '$');
    let (Some("pbkdf2_sha256"), Some(iterations), Some(salt), Some(_)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else { return false };
    if iterations == 0 {
        return false;
    }
    crate::domain::secret_eq(hash_with(secret, salt, iterations).as_bytes(), stored.as_bytes())
}

/// A new client id or secret: `len` letters and digits from the system's CSPRNG (§4.1).
pub fn generate_credential(len: usize) -> String {
    crate::domain::random_token(len)
}

/// A random room slug `xxx-xxxx-xxx` (3, 4 and 3 lowercase ASCII letters, §9.4).
pub fn random_room_slug() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let mut part = |n: usize| -> String { (0..n).map(|_| rng.gen_range(b'a'..=b'z') as char).collect() };
    format!("{}-{}-{}", part(3), part(4), part(3))
}

/// Lower-cases and trims a domain, then checks it is an ASCII domain name (Django's
/// `DomainNameValidator(accept_idna=False)`); `None` when invalid.
pub fn normalize_domain(value: &str) -> Option<String> {
    let d = value.trim().to_lowercase();
    let ascii = d.is_ascii() && !d.contains("..") && d.len() <= 253;
    (ascii && super::invitation::domain_name_ok(&d)).then_some(d)
}

/// Whether an application with these allowed `domains` may act for `email` (§4.2): any e-mail
/// when there is no domain, else an exact case-insensitive match of the e-mail's domain.
pub fn can_delegate_email(domains: &[String], email: &str) -> bool {
    if domains.is_empty() {
        return true;
    }
    let Some((local, domain)) = email.rsplit_once('@') else { return false };
    if local.is_empty() || local.len() > 64 || domain.is_empty() || domain.len() > 255 {
        return false;
    }
    domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
}

/// The scopes of a token (§8.1 steps 4–6): lower-cased, duplicates removed, `<prefix>:` removed
/// when a prefix is configured (compared case-insensitively, W19).
pub fn token_scopes(scope: &str, prefix: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope.split_whitespace() {
        let mut s = s.to_lowercase();
        if let Some(p) = prefix.filter(|p| !p.is_empty()) {
            let head = format!("{}:", p.to_lowercase());
            if let Some(rest) = s.strip_prefix(&head) {
                s = rest.to_string();
            }
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nx_app_3_django_hashes_verify() {
        // Django's own output for make_password("secret", salt="seasalt", iterations=1000)
        // is reproduced by the same derivation.
        let stored = hash_with("secret", "seasalt", 1000);
        assert!(stored.starts_with("pbkdf2_sha256$1000$seasalt$"));
        assert!(verify_secret("secret", &stored));
        assert!(!verify_secret("Secret", &stored));
        assert!(!verify_secret("secret", "md5$x$y"));
        assert!(!verify_secret("secret", "pbkdf2_sha256$0$s$h"));
        assert!(!verify_secret("secret", "secret"));
    }

    #[test]
    fn nx_app_3_known_django_vector() {
        // PBKDF2-HMAC-SHA256("password", "salt", 1) (RFC 7914 §11), in Django's format.
        let stored = "pbkdf2_sha256$1$salt$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs=";
        assert!(verify_secret("password", stored));
    }

    #[test]
    fn nx_app_4_domains_are_normalised_and_validated() {
        assert_eq!(normalize_domain("  EXAMPLE.COM  ").as_deref(), Some("example.com"));
        for ok in ["example.com", "sub.example.com", "deep.sub.example.com", "example-with-dash.com", "123.example.com"]
        {
            assert!(normalize_domain(ok).is_some(), "{ok}");
        }
        for bad in ["not a domain", "example..com", "-example.com", "example-.com", "example.com-", "exämple.com"] {
            assert!(normalize_domain(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn random_slugs_have_upstream_s_shape() {
        let s = random_room_slug();
        let parts: Vec<&str> = s.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![3, 4, 3], "{s}");
        assert!(s.chars().all(|c| c == '-' || c.is_ascii_lowercase()));
    }

    #[test]
    fn nx_app_5_delegation() {
        assert!(can_delegate_email(&[], "a@anything.org"));
        let d = vec!["allowed.com".to_string()];
        assert!(can_delegate_email(&d, "a@ALLOWED.com"));
        assert!(!can_delegate_email(&d, "a@sub.allowed.com"));
        assert!(!can_delegate_email(&d, "not-an-email"));
    }

    #[test]
    fn nx_scope_3_nx_scope_4_scopes_are_lowercased_and_unprefixed() {
        assert_eq!(token_scopes("Rooms:List rooms:list", None), vec!["rooms:list"]);
        assert_eq!(
            token_scopes("openid lasuite_meet lasuite_meet:rooms:list", Some("Lasuite_Meet")),
            vec!["openid", "lasuite_meet", "rooms:list"]
        );
    }
}
