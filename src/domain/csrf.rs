//! Django's CSRF token scheme (users-auth-rooms §4.10): a 32-character secret kept in the
//! `csrftoken` cookie, sent back either raw or masked (64 characters: a random mask followed by
//! the secret shifted by the mask in the alphanumeric alphabet).

use super::{random_token, secret_eq, ALNUM};

pub const SECRET_LENGTH: usize = 32;
pub const TOKEN_LENGTH: usize = 64;

/// A new secret for the `csrftoken` cookie.
pub fn new_secret() -> String {
    random_token(SECRET_LENGTH)
}

fn index(c: u8) -> Option<usize> {
    ALNUM.iter().position(|&a| a == c)
}

/// Masks `secret` with a fresh random mask (what a page would embed).
pub fn mask(secret: &str) -> String {
    let mask = random_token(SECRET_LENGTH);
    let cipher: String = secret
        .bytes()
        .zip(mask.bytes())
        .map(|(s, m)| {
            let (s, m) = (index(s).unwrap_or(0), index(m).unwrap_or(0));
            ALNUM[(s + m) % ALNUM.len()] as char
        })
        .collect();
    format!("{mask}{cipher}")
}

fn unmask(token: &str) -> String {
    let (mask, cipher) = token.as_bytes().split_at(SECRET_LENGTH);
    cipher
        .iter()
        .zip(mask)
        .map(|(&c, &m)| {
            let (c, m) = (index(c).unwrap_or(0), index(m).unwrap_or(0));
            ALNUM[(c + ALNUM.len() - m) % ALNUM.len()] as char
        })
        .collect()
}

/// Why a token or cookie is malformed, in Django's words.
#[derive(Debug, PartialEq, Eq)]
pub enum Malformed {
    Length,
    Characters,
}

/// Checks the shape of a cookie value or a submitted token: 32 or 64 alphanumeric characters.
pub fn check_format(token: &str) -> Result<(), Malformed> {
    if token.len() != SECRET_LENGTH && token.len() != TOKEN_LENGTH {
        return Err(Malformed::Length);
    }
    if !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Malformed::Characters);
    }
    Ok(())
}

/// The secret behind a well-formed token or cookie value.
pub fn secret_of(token: &str) -> String {
    if token.len() == TOKEN_LENGTH {
        unmask(token)
    } else {
        token.to_string()
    }
}

/// True when the submitted token carries the cookie's secret (compared in constant time).
pub fn matches(token: &str, cookie: &str) -> bool {
    secret_eq(secret_of(token).as_bytes(), secret_of(cookie).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_tokens_unmask_to_their_secret() {
        let secret = new_secret();
        let token = mask(&secret);
        assert_eq!(token.len(), TOKEN_LENGTH);
        assert!(matches(&token, &secret));
        assert!(matches(&secret, &secret));
        assert!(matches(&token, &mask(&secret)));
        assert!(!matches(&token, &new_secret()));
    }

    #[test]
    fn malformed_tokens_are_named() {
        assert_eq!(check_format("short"), Err(Malformed::Length));
        assert_eq!(check_format(&"!".repeat(32)), Err(Malformed::Characters));
        assert_eq!(check_format(&new_secret()), Ok(()));
    }
}
