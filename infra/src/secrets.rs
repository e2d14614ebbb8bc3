//! Secrets: random secrets from the operating system; Argon2id PHC strings for secrets
//! people choose, `$sha256$<hex>` digests for generated ones; constant-time verification.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use async_trait::async_trait;
use berth_domain::directory::Secrets;
use berth_domain::store::StoreError;
use std::sync::LazyLock;
use tokio::sync::Semaphore;

/// Argon2id with the crate's default (OWASP-recommended) parameters for chosen secrets,
/// SHA-256 for generated ones. Argon2 runs on the blocking pool, at most one hash per core
/// at a time across the process: a burst of sign-ins (or guesses) queues for a permit
/// instead of starving the async workers that answer every other request, and its memory
/// (19 MiB a hash) stays bounded.
#[derive(Debug, Default, Clone)]
pub struct Argon2Secrets;

/// Permits for concurrent Argon2 runs, shared by every `Argon2Secrets` of the process.
static ARGON2_PERMITS: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
});

/// Runs `work` on the blocking pool once a permit is free.
async fn bounded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    let _permit = ARGON2_PERMITS
        .acquire()
        .await
        .map_err(|e| StoreError(format!("hashing is shut down: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError(format!("hashing failed: {e}")))
}

fn argon2_hash(secret: &str) -> Result<String, StoreError> {
    let mut salt = [0_u8; 16];
    getrandom::fill(&mut salt).map_err(|e| StoreError(format!("random source failed: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError(e.to_string()))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError(format!("hashing failed: {e}")))
}

fn argon2_verify(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok()
    })
}

#[async_trait]
impl Secrets for Argon2Secrets {
    fn generate(&self) -> String {
        let mut bytes = [0_u8; 32];
        // The OS random source does not fail on supported systems; a failure must not yield
        // a predictable secret, so it aborts the request instead.
        if let Err(e) = getrandom::fill(&mut bytes) {
            panic!("the operating system's random source failed: {e}");
        }
        hex::encode(bytes)
    }

    async fn hash(&self, secret: &str) -> Result<String, StoreError> {
        let secret = secret.to_owned();
        bounded(move || argon2_hash(&secret)).await?
    }

    fn digest_generated(&self, secret: &str) -> String {
        format!("{DIGEST_PREFIX}{}", sha256_hex(secret))
    }

    async fn verify(&self, secret: &str, hash: &str) -> bool {
        // A digest is cheap: checked inline.
        if let Some(digest) = hash.strip_prefix(DIGEST_PREFIX) {
            return aws_lc_rs::constant_time::verify_slices_are_equal(
                sha256_hex(secret).as_bytes(),
                digest.as_bytes(),
            )
            .is_ok();
        }
        let (secret, hash) = (secret.to_owned(), hash.to_owned());
        bounded(move || argon2_verify(&secret, &hash))
            .await
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn secrets_are_random_and_verify_only_against_their_hash() -> Result<(), StoreError> {
        let s = Argon2Secrets;
        let (a, b) = (s.generate(), s.generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        let hash = s.hash(&a).await?;
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains(&a));
        assert!(s.verify(&a, &hash).await);
        assert!(!s.verify(&b, &hash).await);
        assert!(!s.verify(&a, "not a hash").await);
        assert_ne!(s.hash(&a).await?, hash, "salted");
        Ok(())
    }

    #[tokio::test]
    async fn generated_secrets_verify_only_against_their_digest() {
        let s = Argon2Secrets;
        let (a, b) = (s.generate(), s.generate());
        let digest = s.digest_generated(&a);
        assert!(digest.starts_with("$sha256$"));
        assert_eq!(digest.len(), "$sha256$".len() + 64);
        assert!(!digest.contains(&a));
        assert!(s.verify(&a, &digest).await);
        assert!(!s.verify(&b, &digest).await);
        assert!(!s.verify(&a, "$sha256$").await);
        assert!(!s.verify(&a, &digest.to_uppercase()).await);
        // A digest is never read as a PHC string, nor a PHC string as a digest.
        let hash = s.hash(&a).await.unwrap_or_default();
        assert!(s.verify(&a, &hash).await);
        assert!(!s.verify(&a, &format!("$sha256${hash}")).await);
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
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        secret.as_bytes(),
    ))
}
