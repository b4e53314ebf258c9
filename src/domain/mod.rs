//! Pure rules: no I/O, no async. Each submodule owns one concept of the spec.

pub mod application;
pub mod colour;
pub mod csrf;
pub mod fields;
pub mod files;
pub mod invitation;
pub mod lobby;
pub mod participant;
pub mod permissions;
pub mod recording;
pub mod recording_head;
pub mod room_config;
pub mod slug;
pub mod user_prefs;

use rand::Rng;

/// Letters and digits, the alphabet of Django's random strings (session keys, CSRF secrets).
pub const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A random string of `len` letters and digits from the operating system's CSPRNG.
pub fn random_token(len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len).map(|_| ALNUM[rng.gen_range(0..ALNUM.len())] as char).collect()
}

/// A random lowercase session key (Django's session key alphabet).
pub fn random_session_key() -> String {
    const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..32).map(|_| LOWER[rng.gen_range(0..LOWER.len())] as char).collect()
}

/// Constant-time equality of two secrets (lengths are not secret).
pub fn secret_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
