//! Password hashing for API and console logins (argon2id, PHC strings).
//!
//! argon2 is slow on purpose, so both operations run on tokio's blocking
//! pool instead of stalling the SIP and HTTP tasks.

use super::StoreError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::OnceLock;

/// Hashes `password` into a PHC string with a fresh random salt.
pub(super) async fn hash(password: &str) -> Result<String, StoreError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| StoreError::Hash(e.to_string()))?
}

fn hash_blocking(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}

/// Checks `password` against a stored PHC string. With `stored = None`
/// (unknown login) it verifies against a dummy hash, so an unknown login
/// takes as long to reject as a wrong password and logins cannot be probed
/// by timing.
pub(super) async fn verify(stored: Option<String>, password: &str) -> Result<bool, StoreError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let stored = match stored {
            Some(s) => s,
            None => {
                // Hashing the dummy once is the same cost as verifying it.
                let dummy = dummy_hash()?;
                let _ = verify_blocking(dummy, &password);
                return Ok(false);
            }
        };
        Ok(verify_blocking(&stored, &password))
    })
    .await
    .map_err(|e| StoreError::Hash(e.to_string()))?
}

fn verify_blocking(stored: &str, password: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        // An unparsable stored hash never matches; it is not the caller's fault.
        Err(_) => false,
    }
}

fn dummy_hash() -> Result<&'static str, StoreError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(d) = DUMMY.get() {
        return Ok(d);
    }
    let h = hash_blocking("hotline-timing-equaliser")?;
    Ok(DUMMY.get_or_init(|| h))
}
