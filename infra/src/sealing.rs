//! Authenticated encryption of secrets that must be read back (the registries' admin
//! passwords): AES-256-GCM with a random nonce per secret, under a key from configuration
//! (`BERTH_SECRETS_KEY`), or one made once and kept in the data directory (mode 0600).

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use berth_domain::registry::SecretBox;
use berth_domain::store::StoreError;
use std::path::Path;

const PREFIX: &str = "v1:";

/// AES-256-GCM sealing.
pub struct AesGcmBox {
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for AesGcmBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesGcmBox")
    }
}

impl AesGcmBox {
    /// A box with a 32-byte key.
    ///
    /// # Errors
    /// When the key is not 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self, String> {
        RandomizedNonceKey::new(&AES_256_GCM, key)
            .map(|key| Self { key })
            .map_err(|_| "the secrets key must be 32 bytes".to_owned())
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
}

impl SecretBox for AesGcmBox {
    fn seal(&self, plain: &str) -> Result<String, StoreError> {
        let mut data = plain.as_bytes().to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::empty(), &mut data)
            .map_err(|_| StoreError("cannot seal a secret".to_owned()))?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    fn open(&self, sealed: &str) -> Result<String, StoreError> {
        let unreadable = || StoreError("a sealed secret cannot be opened with this key".to_owned());
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(unreadable)?;
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unreadable())?;
        let mut data = data.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut data)
            .map_err(|_| unreadable())?;
        String::from_utf8(plain.to_vec()).map_err(|_| unreadable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_unaltered() -> Result<(), String> {
        let a = AesGcmBox::new(&[1; 32])?;
        let b = AesGcmBox::new(&[2; 32])?;
        let sealed = a.seal("hunter2").map_err(|e| e.0)?;
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            a.seal("hunter2").map_err(|e| e.0)?,
            "a fresh nonce each time"
        );
        assert_eq!(a.open(&sealed).map_err(|e| e.0)?, "hunter2");
        assert!(b.open(&sealed).is_err());
        let mut altered = sealed.clone();
        altered.replace_range(10..11, if &sealed[10..11] == "A" { "B" } else { "A" });
        assert!(a.open(&altered).is_err());
        assert!(AesGcmBox::new(&[0; 16]).is_err());
        Ok(())
    }
}
