//! Secrets with Argon2id: random secrets from the operating system, salted slow hashes in
//! PHC strings, and constant-time verification.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use berth_domain::directory::Secrets;
use berth_domain::store::StoreError;
use std::fmt::Write;

/// Argon2id with the crate's default (OWASP-recommended) parameters.
#[derive(Debug, Default, Clone)]
pub struct Argon2Secrets;

impl Secrets for Argon2Secrets {
    fn generate(&self) -> String {
        let mut bytes = [0_u8; 32];
        // The OS random source does not fail on supported systems; a failure must not yield
        // a predictable secret, so it aborts the request instead.
        if let Err(e) = getrandom::fill(&mut bytes) {
            panic!("the operating system's random source failed: {e}");
        }
        bytes.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    fn hash(&self, secret: &str) -> Result<String, StoreError> {
        let mut salt = [0_u8; 16];
        getrandom::fill(&mut salt).map_err(|e| StoreError(format!("random source failed: {e}")))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError(e.to_string()))?;
        Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError(format!("hashing failed: {e}")))
    }

    fn verify(&self, secret: &str, hash: &str) -> bool {
        PasswordHash::new(hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_verify_only_against_their_hash() -> Result<(), StoreError> {
        let s = Argon2Secrets;
        let (a, b) = (s.generate(), s.generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        let hash = s.hash(&a)?;
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains(&a));
        assert!(s.verify(&a, &hash));
        assert!(!s.verify(&b, &hash));
        assert!(!s.verify(&a, "not a hash"));
        assert_ne!(s.hash(&a)?, hash, "salted");
        Ok(())
    }
}

/// SHA-256 for secrets that are random and 256 bits long (repository tokens' passwords):
/// with no guessable input, a fast hash is as safe as a slow one, and keeps the token path
/// fast.
#[derive(Debug, Default, Clone)]
pub struct Sha256Hash;

impl berth_domain::registry::FastHash for Sha256Hash {
    fn hash(&self, secret: &str) -> String {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes())
            .as_ref()
            .iter()
            .fold(String::with_capacity(64), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }
}
