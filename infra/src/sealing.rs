//! Authenticated encryption of secrets that must be read back (the registries' admin
//! passwords, the trust server's TUF keys, the issuer's and the token server's signing
//! keys): AES-256-GCM with a random nonce per secret, under a key from configuration
//! (`BERTH_SECRETS_KEY`), or one made once and kept in the data directory (mode 0600).
//!
//! Every value is sealed with the identity of the row that keeps it as associated data
//! (`signing_keys:<kid>`, ...: the `*_aad` functions here and in the domain), so a sealed
//! value copied into another row does not open there: whoever can write the database but
//! not read the key cannot make one row's key (or password) serve as another's.
//!
//! Values are prefixed with their format: `v2:` (with associated data), or `v1:` (before
//! associated data, no longer opened: [`crate::persistence::seal_secrets_at_rest`] re-seals
//! them at start with [`AesGcmBox::open_legacy`]).

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_domain::registry::SecretBox;
use berth_domain::store::StoreError;
use std::path::Path;

/// Sealed with the row's identity as associated data.
const PREFIX: &str = "v2:";
/// Sealed without associated data (before 2026-12); opened only to be re-sealed.
const LEGACY_PREFIX: &str = "v1:";

/// The associated data of a built-in issuer's signing key (`signing_keys` row).
#[must_use]
pub fn signing_key_aad(kid: &str) -> String {
    format!("signing_keys:{kid}")
}

/// The associated data of a registry token server key (`token_server_keys` row): its
/// purpose too, so an access key is never read as a refresh secret.
#[must_use]
pub fn token_server_key_aad(purpose: &str, kid: &str) -> String {
    format!("token_server_keys:{purpose}:{kid}")
}

/// The associated data of a trust server key (`tuf_server_keys` row, keyed by collection,
/// role and generation).
#[must_use]
pub fn tuf_key_aad(gun: &str, role: &str, generation: i64) -> String {
    format!("tuf_key:{gun}:{role}:{generation}")
}

/// How a stored value is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealState {
    /// Sealed with its row's identity: as it should be.
    Sealed,
    /// Sealed without associated data: to be re-sealed.
    Legacy,
    /// Not sealed at all (signing keys written before they were sealed).
    Plain,
}

/// How `value` is kept. A value that is neither `v1:` nor `v2:` is plaintext (a PEM starts
/// with `-----`, base64 has no `:`).
#[must_use]
pub fn seal_state(value: &str) -> SealState {
    if value.starts_with(PREFIX) {
        SealState::Sealed
    } else if value.starts_with(LEGACY_PREFIX) {
        SealState::Legacy
    } else {
        SealState::Plain
    }
}

/// AES-256-GCM sealing.
pub struct AesGcmBox {
    key: RandomizedNonceKey,
    /// The activity log's chain key, derived from the same secret (HMAC-SHA256 of a label),
    /// so that whoever can write the database but not read the key cannot re-chain records.
    chain: crate::persistence::ActivityChainKey,
}

impl std::fmt::Debug for AesGcmBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesGcmBox")
    }
}

fn unreadable() -> StoreError {
    StoreError("a sealed secret cannot be opened with this key in this row".to_owned())
}

impl AesGcmBox {
    /// A box with a 32-byte key.
    ///
    /// # Errors
    /// When the key is not 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self, String> {
        let chain = crate::persistence::ActivityChainKey::derive(key);
        RandomizedNonceKey::new(&AES_256_GCM, key)
            .map(|key| Self { key, chain })
            .map_err(|_| "the secrets key must be 32 bytes".to_owned())
    }

    /// The key that chains the activity log's records.
    #[must_use]
    pub fn activity_chain_key(&self) -> crate::persistence::ActivityChainKey {
        self.chain.clone()
    }

    /// The configured key (base64 of 32 bytes), or the one in `<data_dir>/secrets.key`,
    /// made the first time.
    ///
    /// # Errors
    /// When the key is malformed or the file cannot be read or written.
    pub fn from_config(configured: Option<&str>, data_dir: &Path) -> Result<Self, String> {
        if let Some(text) = configured {
            let key = STANDARD
                .decode(text.trim())
                .map_err(|e| format!("BERTH_SECRETS_KEY is not base64: {e}"))?;
            return Self::new(&key);
        }
        let path = data_dir.join("secrets.key");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let key = STANDARD
                .decode(text.trim())
                .map_err(|e| format!("{} is not base64: {e}", path.display()))?;
            return Self::new(&key);
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| format!("no randomness for a key: {e}"))?;
        crate::files::write_private(&path, STANDARD.encode(key).as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Self::new(&key)
    }

    /// Opens a value sealed without associated data (`v1:`), to re-seal it with its row's
    /// identity. Nothing else may call this: it would accept a value moved between rows.
    ///
    /// # Errors
    /// [`StoreError`] when it is not a `v1:` value of this key, or was altered.
    pub fn open_legacy(&self, sealed: &str) -> Result<String, StoreError> {
        self.open_with(sealed, LEGACY_PREFIX, Aad::empty())
    }

    /// Seals as versions before associated data did (`v1:`): for tests of the re-sealing.
    #[cfg(test)]
    pub(crate) fn seal_legacy(&self, plain: &str) -> String {
        let mut data = plain.as_bytes().to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::empty(), &mut data)
            .unwrap_or_else(|_| panic!("cannot seal"));
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&data);
        format!("{LEGACY_PREFIX}{}", STANDARD.encode(out))
    }

    fn open_with<A: AsRef<[u8]>>(
        &self,
        sealed: &str,
        prefix: &str,
        aad: Aad<A>,
    ) -> Result<String, StoreError> {
        let bytes = sealed
            .strip_prefix(prefix)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(unreadable)?;
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unreadable())?;
        let mut data = data.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, aad, &mut data)
            .map_err(|_| unreadable())?;
        String::from_utf8(plain.to_vec()).map_err(|_| unreadable())
    }
}

impl SecretBox for AesGcmBox {
    fn seal(&self, plain: &str, aad: &str) -> Result<String, StoreError> {
        let mut data = plain.as_bytes().to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(aad.as_bytes()), &mut data)
            .map_err(|_| StoreError("cannot seal a secret".to_owned()))?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    fn open(&self, sealed: &str, aad: &str) -> Result<String, StoreError> {
        match seal_state(sealed) {
            SealState::Sealed => self.open_with(sealed, PREFIX, Aad::from(aad.as_bytes())),
            SealState::Legacy => Err(StoreError(
                "a secret is sealed without its row's identity: berthd re-seals such values \
                 when it starts"
                    .to_owned(),
            )),
            SealState::Plain => Err(StoreError("a secret is not sealed".to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_unaltered() -> Result<(), String> {
        let a = AesGcmBox::new(&[1; 32])?;
        let b = AesGcmBox::new(&[2; 32])?;
        let sealed = a.seal("hunter2", "row").map_err(|e| e.0)?;
        assert!(!sealed.contains("hunter2"));
        assert_eq!(seal_state(&sealed), SealState::Sealed);
        assert_ne!(
            sealed,
            a.seal("hunter2", "row").map_err(|e| e.0)?,
            "a fresh nonce each time"
        );
        assert_eq!(a.open(&sealed, "row").map_err(|e| e.0)?, "hunter2");
        assert!(b.open(&sealed, "row").is_err());
        let mut altered = sealed.clone();
        altered.replace_range(10..11, if &sealed[10..11] == "A" { "B" } else { "A" });
        assert!(a.open(&altered, "row").is_err());
        assert!(AesGcmBox::new(&[0; 16]).is_err());
        Ok(())
    }

    #[test]
    fn a_sealed_value_moved_to_another_row_does_not_open() -> Result<(), String> {
        let a = AesGcmBox::new(&[1; 32])?;
        let sealed = a.seal("key of A", &signing_key_aad("a")).map_err(|e| e.0)?;
        let moved = a.open(&sealed, &signing_key_aad("b"));
        assert!(
            moved
                .as_ref()
                .is_err_and(|e| e.0.contains("cannot be opened")),
            "{moved:?}"
        );
        assert!(
            a.open(&sealed, &token_server_key_aad("refresh-hs256", "a"))
                .is_err(),
            "nor in another table"
        );
        Ok(())
    }

    #[test]
    fn legacy_values_open_only_to_be_resealed() -> Result<(), String> {
        let a = AesGcmBox::new(&[1; 32])?;
        let old = a.seal_legacy("hunter2");
        assert_eq!(seal_state(&old), SealState::Legacy);
        assert!(a.open(&old, "").is_err(), "the port refuses legacy values");
        assert_eq!(a.open_legacy(&old).map_err(|e| e.0)?, "hunter2");
        let fresh = a.seal("hunter2", "row").map_err(|e| e.0)?;
        assert!(a.open_legacy(&fresh).is_err());
        assert_eq!(seal_state("-----BEGIN PRIVATE KEY-----"), SealState::Plain);
        assert!(a.open("-----BEGIN PRIVATE KEY-----", "row").is_err());
        Ok(())
    }
}
