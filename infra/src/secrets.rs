//! Secrets: random secrets from the operating system; Argon2id PHC strings for secrets
//! people choose, `$sha256$<hex>` digests for generated ones; constant-time verification.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use berth_domain::directory::Secrets;
use berth_domain::store::StoreError;
use berth_domain::trust::tuf::encoding;

/// Argon2id with the crate's default (OWASP-recommended) parameters for chosen secrets,
/// SHA-256 for generated ones.
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
        encoding::hex_encode(&bytes)
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

    fn digest_generated(&self, secret: &str) -> String {
        format!("{DIGEST_PREFIX}{}", sha256_hex(secret))
    }

    fn verify(&self, secret: &str, hash: &str) -> bool {
        if let Some(digest) = hash.strip_prefix(DIGEST_PREFIX) {
            return aws_lc_rs::constant_time::verify_slices_are_equal(
                sha256_hex(secret).as_bytes(),
                digest.as_bytes(),
            )
            .is_ok();
        }
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

    #[test]
    fn generated_secrets_verify_only_against_their_digest() {
        let s = Argon2Secrets;
        let (a, b) = (s.generate(), s.generate());
        let digest = s.digest_generated(&a);
        assert!(digest.starts_with("$sha256$"));
        assert_eq!(digest.len(), "$sha256$".len() + 64);
        assert!(!digest.contains(&a));
        assert!(s.verify(&a, &digest));
        assert!(!s.verify(&b, &digest));
        assert!(!s.verify(&a, "$sha256$"));
        assert!(!s.verify(&a, &digest.to_uppercase()));
        // A digest is never read as a PHC string, nor a PHC string as a digest.
        let hash = s.hash(&a).unwrap_or_default();
        assert!(s.verify(&a, &hash));
        assert!(!s.verify(&a, &format!("$sha256${hash}")));
    }
}

/// SHA-256 for secrets that are random and 256 bits long (repository tokens' passwords):
/// with no guessable input, a fast hash is as safe as a slow one, and keeps the token path
/// fast.
#[derive(Debug, Default, Clone)]
pub struct Sha256Hash;

impl berth_domain::registry::FastHash for Sha256Hash {
    fn hash(&self, secret: &str) -> String {
        sha256_hex(secret)
    }
}

/// How a generated secret's digest starts (no PHC algorithm is called `sha256`).
const DIGEST_PREFIX: &str = "$sha256$";

/// SHA-256 of `secret`, lowercase hex.
fn sha256_hex(secret: &str) -> String {
    encoding::sha256_hex(secret.as_bytes())
}
