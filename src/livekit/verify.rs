//! Authentication by LiveKit token (now-rooms §3.1): the in-call endpoints (`toggle-hand`,
//! `rename`, `mute-participant`, …) accept the participant's own LiveKit join token as
//! `Authorization: Bearer <jwt>`. It is verified as LiveKit does (HS256 with the API secret,
//! issuer = API key, 60 s leeway) and refusals carry the messages the original answers.
//!
//! Beyond the original (B-SEC-2), `exp` is required: a join token always has one, and a token
//! without it would never expire.

use base64::Engine;
use serde_json::Value;

/// Leeway on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY: i64 = 60;

/// What a verified participant token says.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantClaims {
    /// The participant identity (`sub`): a user's `sub` or an anonymous participant id.
    pub identity: String,
    /// The display name (`name`), when present.
    pub name: Option<String>,
    /// The LiveKit room the token joins (`video.room`, `""` when absent).
    pub room: String,
}

/// Why a token was refused: the text after `Invalid LiveKit token: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

fn refuse(msg: &str) -> Refused {
    Refused(msg.to_string())
}

fn segment(s: &str, what: &str) -> Result<Value, Refused> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| Refused(format!("Invalid {what} padding")))?;
    serde_json::from_slice(&bytes).map_err(|e| Refused(format!("Invalid {what} string: {e}")))
}

fn numeric(payload: &Value, claim: &str) -> Result<Option<i64>, Refused> {
    match payload.get(claim) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| Refused(format!("{} must be an integer.", claim_title(claim)))),
    }
}

fn claim_title(claim: &str) -> &'static str {
    match claim {
        "exp" => "Expiration Time claim (exp)",
        "nbf" => "Not Before claim (nbf)",
        _ => "Issued At claim (iat)",
    }
}

/// Checks the structure, the algorithm (HS256 only) and the signature of a compact JWS signed
/// with `secret`, and returns its payload (any JSON value): the common part of every HS256 token
/// this service verifies (LiveKit join tokens here, the external API's tokens in
/// [`crate::service::external`]).
pub fn decode_hs256(token: &str, secret: &str) -> Result<Value, Refused> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(refuse("Not enough segments"));
    }
    let header = segment(parts[0], "header")?;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[2].trim_end_matches('='))
        .map_err(|_| refuse("Invalid crypto padding"))?;
    let payload = segment(parts[1], "payload")?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(refuse("The specified alg value is not allowed"));
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    ring::hmac::verify(&key, signing_input.as_bytes(), &signature)
        .map_err(|_| refuse("Signature verification failed"))?;
    Ok(payload)
}

/// Verifies `token` against the API key and secret at Unix time `now`.
pub fn verify(token: &str, api_key: &str, api_secret: &str, now: i64) -> Result<ParticipantClaims, Refused> {
    let payload = decode_hs256(token, api_secret)?;
    if !payload.is_object() {
        return Err(refuse("Invalid payload string: must be a json object"));
    }
    let exp = numeric(&payload, "exp")?.ok_or_else(|| refuse("Token is missing the \"exp\" claim"))?;
    if let Some(iat) = numeric(&payload, "iat")? {
        if iat > now + LEEWAY {
            return Err(refuse("The token is not yet valid (iat)"));
        }
    }
    if let Some(nbf) = numeric(&payload, "nbf")? {
        if nbf > now + LEEWAY {
            return Err(refuse("The token is not yet valid (nbf)"));
        }
    }
    if exp <= now - LEEWAY {
        return Err(refuse("Signature has expired"));
    }
    match payload.get("iss") {
        None => return Err(refuse("Token is missing the \"iss\" claim")),
        Some(Value::String(iss)) if iss == api_key => {}
        Some(_) => return Err(refuse("Invalid issuer")),
    }
    let identity = match payload.get("sub") {
        None | Some(Value::Null) => return Err(refuse("Token missing user identity")),
        Some(Value::String(s)) if s.is_empty() => return Err(refuse("Token missing user identity")),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(refuse("Subject must be a string")),
    };
    let room = payload.pointer("/video/room").and_then(Value::as_str).unwrap_or_default().to_string();
    let name = payload.get("name").and_then(Value::as_str).map(str::to_string);
    Ok(ParticipantClaims { identity, name, room })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "key";
    const SECRET: &str = "secret-of-the-test";
    const NOW: i64 = 1_800_000_000;

    fn sign(header: &Value, payload: &Value, secret: &str) -> String {
        let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", e(header), e(payload));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let sig = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn token(payload: Value) -> String {
        sign(&json!({"alg": "HS256", "typ": "JWT"}), &payload, SECRET)
    }

    fn good() -> Value {
        json!({"iss": KEY, "sub": "user-sub", "name": "Jane", "exp": NOW + 100, "nbf": NOW - 10,
               "video": {"room": "r1", "roomJoin": true}})
    }

    fn with(key: &str, v: Value) -> Value {
        let mut p = good();
        p[key] = v;
        p
    }

    #[test]
    fn nr_lt_accepts_a_join_token() {
        let c = verify(&token(good()), KEY, SECRET, NOW).unwrap();
        assert_eq!(c, ParticipantClaims { identity: "user-sub".into(), name: Some("Jane".into()), room: "r1".into() });
    }

    #[test]
    fn nr_lt_2_nr_lt_3_nr_lt_4_refusals_carry_the_original_messages() {
        let cases: Vec<(&str, String, &str)> = vec![
            ("not a JWT", "this-is-not-a-valid-jwt".into(), "Not enough segments"),
            ("other secret", sign(&json!({"alg": "HS256"}), &good(), "another"), "Signature verification failed"),
            ("other alg", sign(&json!({"alg": "HS512"}), &good(), SECRET), "The specified alg value is not allowed"),
            ("expired 61 s ago", token(with("exp", json!(NOW - 61))), "Signature has expired"),
            ("nbf in the future", token(with("nbf", json!(NOW + 120))), "The token is not yet valid (nbf)"),
            ("iat in the future", token(with("iat", json!(NOW + 120))), "The token is not yet valid (iat)"),
            ("other issuer", token(with("iss", json!("other"))), "Invalid issuer"),
            ("no sub", token(with("sub", Value::Null)), "Token missing user identity"),
            ("empty sub", token(with("sub", json!(""))), "Token missing user identity"),
            ("numeric sub", token(with("sub", json!(5))), "Subject must be a string"),
        ];
        for (what, t, msg) in cases {
            assert_eq!(verify(&t, KEY, SECRET, NOW), Err(Refused(msg.into())), "{what}");
        }
        let mut no_iss = good();
        no_iss.as_object_mut().unwrap().remove("iss");
        assert_eq!(verify(&token(no_iss), KEY, SECRET, NOW), Err(Refused("Token is missing the \"iss\" claim".into())));
    }

    #[test]
    fn nr_lt_4_leeway_is_sixty_seconds_and_exp_is_required() {
        assert!(verify(&token(with("exp", json!(NOW - 30))), KEY, SECRET, NOW).is_ok());
        let mut no_exp = good();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(verify(&token(no_exp), KEY, SECRET, NOW), Err(Refused("Token is missing the \"exp\" claim".into())));
    }

    #[test]
    fn missing_video_claim_means_no_room() {
        let mut p = good();
        p.as_object_mut().unwrap().remove("video");
        assert_eq!(verify(&token(p), KEY, SECRET, NOW).unwrap().room, "");
    }
}
