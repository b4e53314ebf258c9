//! Compact JWS (signed JWT) parsing and signature verification for ID tokens and signed userinfo
//! answers (users-auth-rooms §4.4 step 2, §4.5 step 1), on `ring` (already the process's TLS
//! crypto): RS256/384/512 and ES256/384 with keys from the provider's JWKS, HS256 with the client
//! secret. Claim checks (iss, aud, exp, nonce) live in `oidc::validate`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Why a token was refused (no secret in the text).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("the token is not a compact JWS")]
    Malformed,
    #[error("the token is signed with {0}, not the configured algorithm")]
    WrongAlgorithm(String),
    #[error("Could not find a valid JWKS.")]
    NoKey,
    #[error("the signature does not verify")]
    BadSignature,
}

/// The protected header fields we use.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
}

/// A parsed but not yet verified token.
#[derive(Debug, Clone)]
pub struct Jws {
    pub header: Header,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

/// Parses `header.payload.signature`; the payload must be a JSON object.
pub fn parse(token: &str) -> Result<Jws, JwsError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwsError::Malformed);
    };
    let decode = |x: &str| URL_SAFE_NO_PAD.decode(x.trim_end_matches('=')).map_err(|_| JwsError::Malformed);
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| JwsError::Malformed)?;
    let claims: Map<String, Value> = serde_json::from_slice(&decode(p)?).map_err(|_| JwsError::Malformed)?;
    let signature = decode(s)?;
    Ok(Jws { header, claims, signing_input: format!("{h}.{p}"), signature })
}

/// One key of a JWKS document (only the members we need).
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

/// A JWKS document.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jwks {
    #[serde(default)]
    pub keys: Vec<Jwk>,
}

fn kty_for(alg: &str) -> &'static str {
    if alg.starts_with("ES") {
        "EC"
    } else {
        "RSA"
    }
}

impl Jwks {
    /// The key for `header`: the last one whose `kid` equals the token's and whose `alg`, when
    /// present, equals the token's (mozilla-django-oidc's choice). A token without `kid` may use
    /// the only signing key of the right type.
    pub fn find(&self, header: &Header) -> Option<&Jwk> {
        let usable = |k: &&Jwk| {
            k.kty == kty_for(&header.alg)
                && k.alg.as_deref().is_none_or(|a| a == header.alg)
                && k.use_.as_deref().is_none_or(|u| u == "sig")
        };
        if let Some(found) = self.keys.iter().rev().filter(usable).find(|k| k.kid == header.kid) {
            return Some(found);
        }
        if header.kid.is_none() {
            let mut candidates = self.keys.iter().filter(usable);
            if let (Some(only), None) = (candidates.next(), candidates.next()) {
                return Some(only);
            }
        }
        None
    }
}

fn b64(v: &Option<String>) -> Result<Vec<u8>, JwsError> {
    v.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()).ok_or(JwsError::NoKey)
}

impl Jws {
    /// Checks that the token uses `expected_alg` and that its signature verifies with `key`.
    pub fn verify_with_jwk(&self, expected_alg: &str, key: &Jwk) -> Result<(), JwsError> {
        self.check_alg(expected_alg)?;
        let msg = self.signing_input.as_bytes();
        let ok = match self.header.alg.as_str() {
            "RS256" | "RS384" | "RS512" => {
                let params = match self.header.alg.as_str() {
                    "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                    "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                    _ => &signature::RSA_PKCS1_2048_8192_SHA512,
                };
                let components = RsaPublicKeyComponents { n: b64(&key.n)?, e: b64(&key.e)? };
                components.verify(params, msg, &self.signature).is_ok()
            }
            "ES256" | "ES384" => {
                let params = if self.header.alg == "ES256" {
                    &signature::ECDSA_P256_SHA256_FIXED
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED
                };
                let mut point = vec![0x04];
                point.extend(b64(&key.x)?);
                point.extend(b64(&key.y)?);
                UnparsedPublicKey::new(params, point).verify(msg, &self.signature).is_ok()
            }
            other => return Err(JwsError::WrongAlgorithm(other.to_string())),
        };
        if ok {
            Ok(())
        } else {
            Err(JwsError::BadSignature)
        }
    }

    /// Checks an HS256 token against the shared secret (the client secret).
    pub fn verify_with_secret(&self, expected_alg: &str, secret: &[u8]) -> Result<(), JwsError> {
        self.check_alg(expected_alg)?;
        if self.header.alg != "HS256" {
            return Err(JwsError::WrongAlgorithm(self.header.alg.clone()));
        }
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        ring::hmac::verify(&key, self.signing_input.as_bytes(), &self.signature).map_err(|_| JwsError::BadSignature)
    }

    fn check_alg(&self, expected_alg: &str) -> Result<(), JwsError> {
        if self.header.alg != expected_alg {
            return Err(JwsError::WrongAlgorithm(self.header.alg.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, payload: &str, sig: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }

    #[test]
    fn hs256_tokens_verify_with_the_secret_only() {
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#), URL_SAFE_NO_PAD.encode(r#"{"sub":"a"}"#));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"secret");
        let sig = ring::hmac::sign(&key, signing_input.as_bytes());
        let t = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()));
        let jws = parse(&t).unwrap();
        assert_eq!(jws.claims["sub"], "a");
        assert_eq!(jws.verify_with_secret("HS256", b"secret"), Ok(()));
        assert_eq!(jws.verify_with_secret("HS256", b"other"), Err(JwsError::BadSignature));
        assert!(matches!(jws.verify_with_secret("RS256", b"secret"), Err(JwsError::WrongAlgorithm(_))));
    }

    #[test]
    fn es256_tokens_verify_with_the_jwk() {
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let public = key.public_key().as_ref();
        let jwk = Jwk {
            kty: "EC".into(),
            kid: Some("ec".into()),
            alg: None,
            use_: None,
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some(URL_SAFE_NO_PAD.encode(&public[1..33])),
            y: Some(URL_SAFE_NO_PAD.encode(&public[33..])),
        };
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"ec"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"a"}"#)
        );
        let sig = key.sign(&rng, input.as_bytes()).unwrap();
        let good = parse(&format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))).unwrap();
        assert_eq!(good.verify_with_jwk("ES256", &jwk), Ok(()));
        let bad = parse(&format!("{input}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]))).unwrap();
        assert_eq!(bad.verify_with_jwk("ES256", &jwk), Err(JwsError::BadSignature));
        assert!(matches!(good.verify_with_jwk("RS256", &jwk), Err(JwsError::WrongAlgorithm(_))));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert_eq!(parse("a.b").unwrap_err(), JwsError::Malformed);
        assert_eq!(parse(&token("{}", "{}", b"x")).unwrap_err(), JwsError::Malformed);
        assert_eq!(parse(&token(r#"{"alg":"RS256"}"#, "[1]", b"x")).unwrap_err(), JwsError::Malformed);
    }

    #[test]
    fn keys_are_chosen_by_kid_and_alg() {
        let jwks: Jwks = serde_json::from_str(
            r#"{"keys":[{"kty":"RSA","kid":"a","n":"AQ","e":"AQAB"},{"kty":"RSA","kid":"b","alg":"RS512","n":"AQ","e":"AQAB"}]}"#,
        )
        .unwrap();
        let h = |alg: &str, kid: Option<&str>| Header { alg: alg.into(), kid: kid.map(String::from) };
        assert_eq!(jwks.find(&h("RS256", Some("a"))).unwrap().kid.as_deref(), Some("a"));
        assert!(jwks.find(&h("RS256", Some("b"))).is_none());
        assert!(jwks.find(&h("RS256", Some("c"))).is_none());
        assert_eq!(jwks.find(&h("RS256", None)).unwrap().kid.as_deref(), Some("a"));
    }
}
